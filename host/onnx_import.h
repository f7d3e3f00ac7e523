/* onnx_import.h — ONNX models as ddx graphs (owned by the ONNX importer). */
#ifndef DDX_ONNX_IMPORT_H
#define DDX_ONNX_IMPORT_H
#include <stddef.h>
#include "model_spec.h"

/* Fills m (already zeroed, m->g created and empty) from an .onnx file:
 * inputs (from `inputs` or the model), output symbols (m->outputs). */
ddx_status ddx_model_load_onnx(const char *path, const char *inputs, ddx_model *m, char *err, size_t cap);

#endif
