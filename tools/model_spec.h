/* model_spec.h — models named on the command line: `expr:EXPRESSION` and
 * `mlp:2-64-64-1:tanh[:seed=N][:blocks=B]` built-in networks (ONNX comes
 * separately); blocks=B makes the first layer block-diagonal: B input
 * blocks, each read by its own contiguous block of units. */
#ifndef DDX_MODEL_SPEC_H
#define DDX_MODEL_SPEC_H
#include <stddef.h>
#include "ddx.h"
#include "tools/expr_parse.h"

#define DDX_MLP_MAX_LAYERS 64

typedef struct ddx_model {
    ddx_graph *g;
    ddx_symtab outputs;   /* output names (u or u1..um) -> nodes */
    int is_mlp;
    int n_layers;         /* dense layers */
    int widths[DDX_MLP_MAX_LAYERS + 1];
    char activation[16];
    double *W[DDX_MLP_MAX_LAYERS], *b[DDX_MLP_MAX_LAYERS];
} ddx_model;

/* inputs: comma-separated names or NULL for the defaults (x; t,x; x1..xd). */
/* Fills m (already zeroed, m->g created and empty) from an .onnx file:
 * inputs (from `inputs` or the model), output symbols (m->outputs): each
 * output column under its model name (u, or u1..um for a width-m output)
 * and under its position (out0, out1, ...). */
ddx_status ddx_model_load_onnx(const char *path, const char *inputs, ddx_model *m, char *err, size_t cap);
/* Same from a serialized model in memory (e.g. torch.onnx.export to a buffer). */
ddx_status ddx_model_load_onnx_data(const void *data, size_t size, const char *inputs, ddx_model *m, char *err,
                                    size_t cap);
ddx_status ddx_model_load(const char *spec, const char *inputs, ddx_model *m, char *err, size_t cap);
void ddx_model_free(ddx_model *m);
/* Writes W<i>.npy, b<i>.npy (float64) and manifest.json into dir. */
ddx_status ddx_model_export(const ddx_model *m, const char *dir, char *err, size_t cap);

#endif
