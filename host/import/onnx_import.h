/* onnx_import.h — ONNX models as ddx graphs (owned by the ONNX importer).
 * The public entry points (ddx_graph_from_onnx, ddx_graph_from_onnx_file)
 * are declared in ddx.h; docs/ONNX.md describes what is supported. */
#ifndef DDX_ONNX_IMPORT_H
#define DDX_ONNX_IMPORT_H
#include <stddef.h>
#include "ddx.h"

/* Longest name of an input or output symbol, with its NUL. */
#define DDX_ONNX_NAME_MAX 64
/* Most output columns one model may have (the expression parser names at
 * most as many symbols: tools/expr_parse.h DDX_MAX_SYMBOLS). */
#define DDX_ONNX_MAX_OUTPUTS 64
/* Input columns of an imported model: a derivative of a model with more
 * inputs than this needs more channels than a program may have
 * (needs.c: DDX_MAX_CHANNELS = 16384; a gradient alone is d + 1). */
#define DDX_ONNX_MAX_COLUMNS 16384

/* Turns a model or tensor name into a name the expression parser reads:
 * characters other than letters, digits and '_' become '_', runs of '_'
 * collapse, leading and trailing '_' go, a leading digit gets a 'v' in
 * front, names of functions (exp, sin, D, pi, ...) get a '1' appended;
 * empty results become `fallback`. out has DDX_ONNX_NAME_MAX bytes. */
void ddx_onnx_sanitize_name(const char *name, const char *fallback, char *out);

#endif
