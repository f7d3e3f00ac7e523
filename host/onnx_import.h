/* onnx_import.h — ONNX models as ddx graphs (owned by the ONNX importer).
 * The public entry points (ddx_graph_from_onnx, ddx_graph_from_onnx_file)
 * are declared in ddx.h; docs/ONNX.md describes what is supported. */
#ifndef DDX_ONNX_IMPORT_H
#define DDX_ONNX_IMPORT_H
#include <stddef.h>
#include "model_spec.h"

/* Longest name of an input or output symbol, with its NUL. */
#define DDX_ONNX_NAME_MAX 64

/* Fills m (already zeroed, m->g created and empty) from an .onnx file:
 * inputs (from `inputs` or the model), output symbols (m->outputs): each
 * output column under its model name (u, or u1..um for a width-m output)
 * and under its position (out0, out1, ...). */
ddx_status ddx_model_load_onnx(const char *path, const char *inputs, ddx_model *m, char *err, size_t cap);

/* Turns a model or tensor name into a name the expression parser reads:
 * characters other than letters, digits and '_' become '_', runs of '_'
 * collapse, leading and trailing '_' go, a leading digit gets a 'v' in
 * front, names of functions (exp, sin, D, pi, ...) get a '1' appended;
 * empty results become `fallback`. out has DDX_ONNX_NAME_MAX bytes. */
void ddx_onnx_sanitize_name(const char *name, const char *fallback, char *out);

#endif
