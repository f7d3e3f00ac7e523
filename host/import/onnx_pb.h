/* onnx_pb.h — a reader of the ONNX protobuf (ModelProto) written for ddx:
 * the wire format (varints, fixed32/64, length-delimited fields) and the
 * few ONNX messages an MLP-style network uses, decoded into plain structs.
 *
 * The input is untrusted. Every length is checked against the bytes left
 * in its enclosing message before it is used, element counts are checked
 * against the shape, nesting is bounded (subgraphs are never entered) and
 * every failure leaves one line naming the message, the field and the
 * byte offset. Field numbers follow onnx.proto (ir_version 3..10); unknown
 * fields are skipped as the protobuf rules say. */
#ifndef DDX_ONNX_PB_H
#define DDX_ONNX_PB_H

#include <stddef.h>
#include <stdint.h>

#include "ddx.h"

#define ONNX_MAX_RANK 8

/* TensorProto.DataType values ddx reads or names in messages. */
enum {
    ONNX_UNDEFINED = 0, ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_UINT16 = 4, ONNX_INT16 = 5,
    ONNX_INT32 = 6, ONNX_INT64 = 7, ONNX_STRING = 8, ONNX_BOOL = 9, ONNX_FLOAT16 = 10, ONNX_DOUBLE = 11,
    ONNX_UINT32 = 12, ONNX_UINT64 = 13, ONNX_COMPLEX64 = 14, ONNX_COMPLEX128 = 15, ONNX_BFLOAT16 = 16
};

/* AttributeProto.AttributeType */
enum {
    ONNX_ATTR_UNDEFINED = 0, ONNX_ATTR_FLOAT = 1, ONNX_ATTR_INT = 2, ONNX_ATTR_STRING = 3, ONNX_ATTR_TENSOR = 4,
    ONNX_ATTR_GRAPH = 5, ONNX_ATTR_FLOATS = 6, ONNX_ATTR_INTS = 7, ONNX_ATTR_STRINGS = 8
};

/* A decoded tensor. Floating types land in f (as double, exactly), integer
 * and bool types in i; the other one is NULL. */
typedef struct onnx_tensor {
    char *name;
    int dtype;
    int rank;
    int64_t dims[ONNX_MAX_RANK];
    int64_t n;      /* product of dims */
    double *f;
    int64_t *i;
} onnx_tensor;

typedef struct onnx_attr {
    char *name;
    int type;       /* ONNX_ATTR_*, or inferred from the field present */
    double f;
    int64_t i;
    char *s;        /* NUL-terminated copy (strings with NUL bytes are refused) */
    onnx_tensor *t;
    double *floats;
    int n_floats;
    int64_t *ints;
    int n_ints;
    int has_subgraph; /* a GRAPH attribute was present (If/Loop/Scan): never parsed */
} onnx_attr;

typedef struct onnx_node {
    char *name, *op, *domain;
    char **in;
    int n_in;
    char **out;
    int n_out;
    onnx_attr *attrs;
    int n_attrs;
} onnx_node;

/* ValueInfoProto reduced to what ddx checks: a tensor type and its shape.
 * dims[k] = -1 with dim_param[k] set (or empty) when the dimension is not
 * a number. */
typedef struct onnx_value_info {
    char *name;
    int has_tensor_type;
    int elem_type;
    int has_shape;
    int rank;
    int64_t dims[ONNX_MAX_RANK];
    char dim_param[ONNX_MAX_RANK][32];
} onnx_value_info;

typedef struct onnx_opset {
    char *domain;
    int64_t version;
} onnx_opset;

typedef struct onnx_model {
    int64_t ir_version;
    char *producer;
    onnx_opset *opsets;
    int n_opsets;
    char *graph_name;
    onnx_node *nodes;
    int n_nodes;
    onnx_tensor *inits;
    int n_inits;
    onnx_value_info *inputs;
    int n_inputs;
    onnx_value_info *outputs;
    int n_outputs;
    int has_graph;
} onnx_model;

/* Parses a serialized ModelProto. On failure returns non-DDX_OK, writes one
 * line into err and leaves *m empty (nothing to free). */
ddx_status onnx_parse_model(const void *data, size_t size, onnx_model *m, char *err, size_t cap);
void onnx_model_free(onnx_model *m);

const char *onnx_dtype_name(int dtype);
/* Attribute of a node by name, or NULL. */
const onnx_attr *onnx_node_attr(const onnx_node *n, const char *name);

#endif
