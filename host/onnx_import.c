/* onnx_import.c — placeholder until the ONNX reader lands. */
#include <stdio.h>
#include "onnx_import.h"

ddx_status ddx_model_load_onnx(const char *path, const char *inputs, ddx_model *m, char *err, size_t cap) {
    (void)inputs;
    (void)m;
    snprintf(err, cap, "model '%s': ONNX import is not available in this build yet", path);
    return DDX_ERR_UNSUPPORTED;
}
