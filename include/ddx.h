/* ddx.h — the one public header of ddx.
 *
 * ddx evaluates a network (or closed-form expression) and its input
 * derivatives over large batches of points. Build a graph, mark outputs
 * (which may be nested ddx_grad nodes or residual expressions of them),
 * compile it into a program for a device and precision, evaluate it.
 *
 * Conventions: opaque handles; every _create has a _free; functions return
 * a ddx_status or a node id (DDX_NO_NODE on failure); the reason for a
 * failure is kept per object (ddx_graph_error, ddx_program_error), never
 * in a global. Buffers passed in stay owned by the caller.
 */
#ifndef DDX_H
#define DDX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DDX_VERSION_STRING "0.1.0"
#define DDX_MAX_INPUTS 16 /* inputs of one graph (point dimension d) */
#define DDX_MAX_ORDER 8   /* highest total derivative order */

typedef enum ddx_status {
    DDX_OK = 0,
    DDX_ERR_INVALID_ARG,   /* null pointer, bad count, bad option */
    DDX_ERR_SHAPE,         /* widths or dimensions do not match */
    DDX_ERR_NOT_SCALAR,    /* grad/output wants a scalar node */
    DDX_ERR_UNKNOWN_NAME,  /* no input or output of that name */
    DDX_ERR_PARSE,         /* expression, spec or file syntax */
    DDX_ERR_UNSUPPORTED,   /* valid request ddx does not do */
    DDX_ERR_LIMIT,         /* order, inputs or size beyond a limit */
    DDX_ERR_NO_DEVICE,     /* device asked for is not present */
    DDX_ERR_OUT_OF_MEMORY,
    DDX_ERR_IO,
    DDX_ERR_COMPILE,       /* NVRTC or code generation failed */
    DDX_ERR_DEVICE,        /* a device API call failed */
    DDX_ERR_INTERNAL
} ddx_status;

typedef enum ddx_precision { DDX_F32 = 0, DDX_F64 = 1 } ddx_precision;
typedef enum ddx_device { DDX_DEVICE_AUTO = 0, DDX_DEVICE_CPU = 1, DDX_DEVICE_CUDA = 2 } ddx_device;
typedef enum ddx_strategy { DDX_STRATEGY_AUTO = 0, DDX_STRATEGY_FUSED = 1, DDX_STRATEGY_CUBLAS = 2 } ddx_strategy;

typedef enum ddx_unary_op {
    DDX_NEG, DDX_EXP, DDX_LOG, DDX_SQRT, DDX_SIN, DDX_COS, DDX_TANH,
    DDX_SIGMOID, DDX_SOFTPLUS, DDX_SILU
} ddx_unary_op;

typedef int32_t ddx_node;
#define DDX_NO_NODE ((ddx_node)-1)

typedef struct ddx_graph ddx_graph;
typedef struct ddx_program ddx_program;

const char *ddx_status_string(ddx_status s);
const char *ddx_version(void);

/* ---- graph building -------------------------------------------------- */
ddx_graph *ddx_graph_create(void);
void ddx_graph_free(ddx_graph *g);
/* First error met while building (sticky until ddx_graph_clear_error). */
ddx_status ddx_graph_status(const ddx_graph *g);
const char *ddx_graph_error(const ddx_graph *g);
void ddx_graph_clear_error(ddx_graph *g);

/* Inputs are scalars; their creation order is the column order of points. */
ddx_node ddx_input(ddx_graph *g, const char *name);
int ddx_graph_num_inputs(const ddx_graph *g);
ddx_node ddx_graph_input(const ddx_graph *g, int i);
const char *ddx_graph_input_name(const ddx_graph *g, int i);
ddx_node ddx_graph_find_input(const ddx_graph *g, const char *name);
/* Width of a node's value (1 for scalars, layer width for dense), or -1. */
int ddx_node_width(const ddx_graph *g, ddx_node n);

ddx_node ddx_const(ddx_graph *g, double value);
/* Binary ops: equal widths, or one side scalar (broadcast). */
ddx_node ddx_add(ddx_graph *g, ddx_node a, ddx_node b);
ddx_node ddx_sub(ddx_graph *g, ddx_node a, ddx_node b);
ddx_node ddx_mul(ddx_graph *g, ddx_node a, ddx_node b);
ddx_node ddx_div(ddx_graph *g, ddx_node a, ddx_node b);
ddx_node ddx_unary(ddx_graph *g, ddx_unary_op op, ddx_node a);
ddx_node ddx_neg(ddx_graph *g, ddx_node a);
ddx_node ddx_exp(ddx_graph *g, ddx_node a);
ddx_node ddx_log(ddx_graph *g, ddx_node a);
ddx_node ddx_sqrt(ddx_graph *g, ddx_node a);
ddx_node ddx_sin(ddx_graph *g, ddx_node a);
ddx_node ddx_cos(ddx_graph *g, ddx_node a);
ddx_node ddx_tanh(ddx_graph *g, ddx_node a);
ddx_node ddx_sigmoid(ddx_graph *g, ddx_node a);
ddx_node ddx_softplus(ddx_graph *g, ddx_node a);
ddx_node ddx_silu(ddx_graph *g, ddx_node a);
ddx_node ddx_powi(ddx_graph *g, ddx_node a, int n);     /* a^n, n any integer */
ddx_node ddx_pow(ddx_graph *g, ddx_node a, double p);   /* a^p, real p */

/* z = W a + b. W is out x in, row-major; b has out entries (may be NULL).
 * The arrays are copied. wprec says whether they are float or double. */
ddx_node ddx_dense(ddx_graph *g, ddx_node a, int out, int in, const void *W,
                   const void *b, ddx_precision wprec);
ddx_node ddx_component(ddx_graph *g, ddx_node v, int i);
ddx_node ddx_concat(ddx_graph *g, const ddx_node *scalars, int n);

/* ---- derivatives ----------------------------------------------------- */
/* d y / d input for a scalar node y; nests any way (grad of grad, grad of
 * a product of grads, grad of a residual). */
ddx_node ddx_grad(ddx_graph *g, ddx_node y, ddx_node input);
/* The partial d^alpha y, alpha[i] = order in input i (num_inputs entries). */
ddx_node ddx_partial(ddx_graph *g, ddx_node y, const int *alpha);
/* Writes num_inputs nodes (gradient) or num_inputs^2 nodes, row-major. */
ddx_status ddx_gradient(ddx_graph *g, ddx_node y, ddx_node *out);
ddx_status ddx_hessian(ddx_graph *g, ddx_node y, ddx_node *out);
/* sum_i d^2 y / dx_i^2 over all inputs. When y has no grad below it, the
 * compiler carries it as one collapsed Taylor channel (1 + d + 1 channels
 * instead of 1 + 2d); ddx_program_node_coeffs reports that channel with -1
 * at each input it sums over (0 elsewhere). */
ddx_node ddx_laplacian(ddx_graph *g, ddx_node y);
/* The same over the given inputs only (n_inputs of them, each once): the
 * spatial Laplacian of u(t, x, y) is ddx_laplacian_over(g, u, {x, y}, 2).
 * n_inputs = 0 means all inputs. */
ddx_node ddx_laplacian_over(ddx_graph *g, ddx_node y, const ddx_node *inputs, int n_inputs);

/* ---- ONNX import (host/onnx_*.c) ------------------------------------ */
/* (section owned by the ONNX importer; see docs/ONNX.md) */
/* Builds the network of an ONNX model (a serialized ModelProto: data,
 * size bytes) into g, which must have no inputs yet. Model inputs become
 * graph inputs, in the model's order: several N x 1 tensors keep their
 * (sanitised) names; one N x d tensor takes the names in `inputs` (comma-
 * separated), else x (d = 1), t,x (d = 2) or x1..xd. `inputs` (may be NULL)
 * renames the columns in any case. Writes one scalar node per output
 * column into outputs (a width-m output named u gives u1..um) and its name
 * into output_names (may be NULL); *n_outputs receives the column count,
 * also when it exceeds max_outputs (then DDX_ERR_LIMIT). On failure
 * ddx_graph_error(g) names the node, its op and what is supported; the
 * graph is then left in an error state and is best freed. Nothing is read
 * outside [data, data + size), whatever the bytes. */
ddx_status ddx_graph_from_onnx(ddx_graph *g, const void *data, size_t size, const char *inputs,
                               ddx_node *outputs, int max_outputs, int *n_outputs, char (*output_names)[64]);
/* Same, reading the model from a file. */
ddx_status ddx_graph_from_onnx_file(ddx_graph *g, const char *path, const char *inputs, ddx_node *outputs,
                                    int max_outputs, int *n_outputs, char (*output_names)[64]);

/* ---- compile and evaluate ---------------------------------------------- */
typedef struct ddx_compile_options {
    ddx_device device;       /* AUTO: CUDA if present, else CPU */
    ddx_precision precision; /* of points, outputs and arithmetic */
    ddx_strategy strategy;   /* CUDA only */
    int tile_points;         /* CPU tile size; 0 = default */
    int num_threads;         /* CPU threads; 0 = all cores */
} ddx_compile_options;

void ddx_compile_options_default(ddx_compile_options *o);

/* Compiles outputs (scalar or vector nodes; a vector gives `width` columns)
 * into a program. On failure *out is NULL and ddx_graph_error says why.
 * The graph may be freed after compiling. */
ddx_status ddx_compile(ddx_graph *g, const ddx_node *outputs, int n_outputs,
                       const ddx_compile_options *opt, ddx_program **out);
void ddx_program_free(ddx_program *p);
const char *ddx_program_error(const ddx_program *p);

/* points: n x d row-major, out: n x K row-major, both in the program's
 * precision (float or double). A NaN/Inf in a point stays in its own row. */
ddx_status ddx_program_eval(ddx_program *p, const void *points, int64_t n, void *out);
/* Typed forms: DDX_ERR_INVALID_ARG (and a message) when the program was
 * compiled for the other precision, instead of reading past a buffer. */
ddx_status ddx_program_eval_f32(ddx_program *p, const float *points, int64_t n, float *out);
ddx_status ddx_program_eval_f64(ddx_program *p, const double *points, int64_t n, double *out);
/* 1: a failed CUDA build prints the full NVRTC log and the generated
 * source on stderr (default 0: its error lines go into the message only). */
void ddx_set_verbose(int level);

/* Same, with points and out already in device memory (CUDA programs only;
 * DDX_ERR_UNSUPPORTED on the CPU). */
ddx_status ddx_program_eval_device(ddx_program *p, const void *d_points, int64_t n, void *d_out);

/* Lowers outputs and compiles the CUDA kernel for `arch` (e.g. "sm_90")
 * with NVRTC — no GPU needed — and writes a report: strategy, registers,
 * spill bytes. DDX_ERR_UNSUPPORTED when ddx was built without CUDA. */
ddx_status ddx_cuda_compile_report(ddx_graph *g, const ddx_node *outputs, int n_outputs,
                                   const ddx_compile_options *opt, const char *arch, char *buf, size_t cap);

int ddx_program_num_inputs(const ddx_program *p);   /* d */
int ddx_program_num_outputs(const ddx_program *p);  /* K columns */
ddx_device ddx_program_device(const ddx_program *p);
ddx_precision ddx_program_precision(const ddx_program *p);
/* Useful FLOPs per point (dense layers + elementwise jet rules). */
double ddx_program_flops_per_point(const ddx_program *p);
/* Channels (Taylor coefficients) a graph node carries in this program;
 * 0 if the node is not needed. coeffs (may be NULL) receives count*d ints,
 * the multi-indices, when count <= capacity. */
int ddx_program_node_coeffs(const ddx_program *p, ddx_node n, int *coeffs, int capacity);
/* Largest channel count over the dense layers (what the network carries). */
int ddx_program_network_channels(const ddx_program *p);
/* Number of lowered instructions (CSE shows as fewer). */
int ddx_program_num_instructions(const ddx_program *p);
/* Human-readable description: coefficient set per node, FLOPs, strategy.
 * Writes at most cap bytes (NUL-terminated); returns the full length. */
size_t ddx_program_describe(const ddx_program *p, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* DDX_H */
