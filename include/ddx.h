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

#include "ddx_ops.def"

/* DDX_API marks what libddx exports; the library is built with
 * -fvisibility=hidden, so nothing else is visible outside it. */
#if defined(_WIN32)
#define DDX_API
#elif defined(__GNUC__)
#define DDX_API __attribute__((visibility("default")))
#else
#define DDX_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define DDX_VERSION_STRING "0.1.0"
/* The number of inputs d is a run-time size (DDX_ERR_LIMIT past 2^24). */
#define DDX_MAX_ORDER 8   /* highest total derivative order */
#define DDX_MAX_CUDA_DEVICES 16 /* devices one program splits a batch over */
#define DDX_CUDA_ALL_DEVICES (-1) /* n_cuda_devices: every device there is */

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
/* How the CUDA backend runs a program (the CPU ignores it): one fused
 * kernel, or cuBLAS per layer plus generated elementwise kernels. */
typedef enum ddx_cuda_strategy {
    DDX_CUDA_STRATEGY_AUTO = 0,
    DDX_CUDA_STRATEGY_FUSED = 1,
    DDX_CUDA_STRATEGY_CUBLAS = 2
} ddx_cuda_strategy;
/* the names before 0.1 (same values) */
typedef ddx_cuda_strategy ddx_strategy;
#define DDX_STRATEGY_AUTO DDX_CUDA_STRATEGY_AUTO
#define DDX_STRATEGY_FUSED DDX_CUDA_STRATEGY_FUSED
#define DDX_STRATEGY_CUBLAS DDX_CUDA_STRATEGY_CUBLAS

/* DDX_NEG, DDX_EXP, DDX_LOG, DDX_SQRT, DDX_SIN, DDX_COS, DDX_TANH,
 * DDX_SIGMOID, DDX_SOFTPLUS, DDX_SILU, DDX_GELU (x Phi(x), exact erf form),
 * DDX_ERF:
 * the rows of ddx_ops.def, in order. */
#define DDX_UNARY_ENUM_(a, ID, name, onnx, poly) DDX_##ID,
typedef enum ddx_unary_op { DDX_UNARY_OPS(DDX_UNARY_ENUM_, _) DDX_NUM_UNARY_OPS } ddx_unary_op;
#undef DDX_UNARY_ENUM_

typedef int32_t ddx_node;
#define DDX_NO_NODE ((ddx_node)-1)

typedef struct ddx_graph ddx_graph;
typedef struct ddx_program ddx_program;

DDX_API const char *ddx_status_string(ddx_status s);
DDX_API const char *ddx_version(void);

/* ---- graph building -------------------------------------------------- */
DDX_API ddx_graph *ddx_graph_create(void);
DDX_API void ddx_graph_free(ddx_graph *g);
/* First error met while building (sticky until ddx_graph_clear_error). */
DDX_API ddx_status ddx_graph_status(const ddx_graph *g);
DDX_API const char *ddx_graph_error(const ddx_graph *g);
DDX_API void ddx_graph_clear_error(ddx_graph *g);
/* Replaces the graph's error with status s (not DDX_OK) and msg: for
 * importers built on this API that add context to a builder's message. */
DDX_API void ddx_graph_set_error(ddx_graph *g, ddx_status s, const char *msg);

/* Inputs are scalars; their creation order is the column order of points. */
DDX_API ddx_node ddx_input(ddx_graph *g, const char *name);
DDX_API int ddx_graph_num_inputs(const ddx_graph *g);
DDX_API ddx_node ddx_graph_input(const ddx_graph *g, int i);
DDX_API const char *ddx_graph_input_name(const ddx_graph *g, int i);
DDX_API ddx_node ddx_graph_find_input(const ddx_graph *g, const char *name);
/* Width of a node's value (1 for scalars, layer width for dense), or -1. */
DDX_API int ddx_node_width(const ddx_graph *g, ddx_node n);

DDX_API ddx_node ddx_const(ddx_graph *g, double value);
/* Binary ops: equal widths, or one side scalar (broadcast). */
DDX_API ddx_node ddx_add(ddx_graph *g, ddx_node a, ddx_node b);
DDX_API ddx_node ddx_sub(ddx_graph *g, ddx_node a, ddx_node b);
DDX_API ddx_node ddx_mul(ddx_graph *g, ddx_node a, ddx_node b);
DDX_API ddx_node ddx_div(ddx_graph *g, ddx_node a, ddx_node b);
DDX_API ddx_node ddx_unary(ddx_graph *g, ddx_unary_op op, ddx_node a);
/* One builder per op of ddx_ops.def: ddx_neg, ddx_exp, ddx_log, ddx_sqrt,
 * ddx_sin, ddx_cos, ddx_tanh, ddx_sigmoid, ddx_softplus, ddx_silu, ddx_gelu, ddx_erf,
 * each ddx_node ddx_<name>(ddx_graph *g, ddx_node a). */
#define DDX_UNARY_BUILDER_(a, ID, name, onnx, poly) DDX_API ddx_node ddx_##name(ddx_graph *g, ddx_node a);
DDX_UNARY_OPS(DDX_UNARY_BUILDER_, _)
#undef DDX_UNARY_BUILDER_
/* The op's name in ddx_ops.def ("tanh"), NULL if op is out of range; and
 * back (the op, or -1 for an unknown name). */
DDX_API const char *ddx_unary_op_name(ddx_unary_op op);
DDX_API int ddx_unary_op_from_name(const char *name);
DDX_API ddx_node ddx_powi(ddx_graph *g, ddx_node a, int n);     /* a^n, n any integer */
DDX_API ddx_node ddx_pow(ddx_graph *g, ddx_node a, double p);   /* a^p, real p */

/* z = W a + b. W is out x in, row-major; b has out entries (may be NULL).
 * The arrays are copied. wprec says whether they are float or double. */
DDX_API ddx_node ddx_dense(ddx_graph *g, ddx_node a, int out, int in, const void *W,
                   const void *b, ddx_precision wprec);
DDX_API ddx_node ddx_component(ddx_graph *g, ddx_node v, int i);
DDX_API ddx_node ddx_concat(ddx_graph *g, const ddx_node *scalars, int n);

/* ---- derivatives ----------------------------------------------------- */
/* d y / d input for a scalar node y; nests any way (grad of grad, grad of
 * a product of grads, grad of a residual). */
DDX_API ddx_node ddx_grad(ddx_graph *g, ddx_node y, ddx_node input);
/* The partial d^alpha y, alpha[i] = order in input i (num_inputs entries). */
DDX_API ddx_node ddx_partial(ddx_graph *g, ddx_node y, const int *alpha);
/* Writes num_inputs nodes (gradient) or num_inputs^2 nodes, row-major. */
DDX_API ddx_status ddx_gradient(ddx_graph *g, ddx_node y, ddx_node *out);
DDX_API ddx_status ddx_hessian(ddx_graph *g, ddx_node y, ddx_node *out);
/* sum_i d^2 y / dx_i^2 over all inputs. The compiler carries it as one
 * collapsed Taylor channel (1 + d + 1 channels instead of 1 + 2d); of a
 * laplacian (the biharmonic) as Delta^2 (Dangel et al. 2025, collapsed
 * Taylor mode); ddx_program_node_coeffs reports such a channel with -1 per
 * pair at each input it sums over (0 elsewhere). */
DDX_API ddx_node ddx_laplacian(ddx_graph *g, ddx_node y);
/* The same over the given inputs only (n_inputs of them, each once): the
 * spatial Laplacian of u(t, x, y) is ddx_laplacian_over(g, u, {x, y}, 2).
 * n_inputs = 0 means all inputs. */
DDX_API ddx_node ddx_laplacian_over(ddx_graph *g, ddx_node y, const ddx_node *inputs, int n_inputs);

/* sum_jk A[j][k] d^2 y / dx_j dx_k over the given inputs (n_inputs of them,
 * A n_inputs x n_inputs row-major in their order; n_inputs = 0: all inputs,
 * A d x d), e.g. div(A grad y) for a constant A. Only A's symmetric part
 * matters. With no grad below y it is one collapsed channel (1 + d + 1
 * channels, as the Laplacian, which is A = I); ddx_program_node_coeffs
 * reports it with -1 at its inputs. */
DDX_API ddx_node ddx_operator2(ddx_graph *g, ddx_node y, const double *A, const ddx_node *inputs, int n_inputs);
/* Stochastic estimate of sum_ij a_ij y_ij over all inputs (A d x d, its
 * symmetric part positive semi-definite, else DDX_ERR_INVALID_ARG): the mean
 * of v^T H v over `samples` directions v = L z, A = L L^T (Cholesky), z
 * Rademacher (gaussian = 0) or standard normal. Unbiased; 1 + 2*samples channels. */
DDX_API ddx_node ddx_operator2_stochastic(ddx_graph *g, ddx_node y, const double *A, int samples, uint64_t seed,
                                  int gaussian);
/* The Hessian diagonal d^2 y / dx_i^2, un-summed: writes num_inputs nodes.
 * The compiler carries the channels {0, e_i, 2e_i} only (1 + 2d), no mixed
 * partial. */
DDX_API ddx_status ddx_hessdiag(ddx_graph *g, ddx_node y, ddx_node *out);
/* Stochastic (STDE) estimate of the Laplacian of y over all inputs: the mean
 * over `samples` random directions v of v^T H v = d^2/dt^2 y(x + t v),
 * each pushed through as a second-order directional jet (1 + 2*samples
 * channels, whatever d). v is Rademacher (gaussian = 0) or standard normal
 * (gaussian = 1), a function of `seed` alone: the same estimate on every
 * device, thread count and run. Unbiased; its variance is
 * 2 sum_{i != j} H_ij^2 / samples (Rademacher). */
DDX_API ddx_node ddx_laplacian_stochastic(ddx_graph *g, ddx_node y, int samples, uint64_t seed, int gaussian);
/* Stochastic estimate of the biharmonic laplacian(laplacian(y)) = sum_ij
 * y_iijj: the mean over `samples` standard-normal directions v of
 * d^4/dt^4 y(x + t v) / 3 (1 + 4*samples channels). Unbiased. (The exact
 * biharmonic is ddx_laplacian of ddx_laplacian: collapsed channels Delta^2,
 * d_k Delta, Delta and the Hessian, 3 + 2d + d(d+1)/2 of them.) */
DDX_API ddx_node ddx_biharmonic_stochastic(ddx_graph *g, ddx_node y, int samples, uint64_t seed);

/* ---- graph inspection (importers, tools) ------------------------------- */
typedef enum ddx_node_kind {
    DDX_NODE_INPUT, DDX_NODE_CONST, DDX_NODE_ADD, DDX_NODE_SUB, DDX_NODE_MUL, DDX_NODE_UNARY,
    DDX_NODE_POWI, DDX_NODE_POW, DDX_NODE_DENSE, DDX_NODE_COMPONENT, DDX_NODE_CONCAT, DDX_NODE_GRAD,
    DDX_NODE_LAPLACE, /* sum_i d^2 a / dx_i^2 (b: the same sum spelled with grad nodes) */
    DDX_NODE_OTHER    /* a kind newer than this list */
} ddx_node_kind;
typedef struct ddx_node_info {
    ddx_node_kind kind;
    int width;
    ddx_node a, b;          /* operands (DDX_NO_NODE when unused); operands have smaller ids */
    ddx_unary_op uop;       /* UNARY */
    int ival;               /* POWI exponent, COMPONENT index, GRAD/INPUT input index */
    double dval;            /* CONST value, POW exponent */
    const ddx_node *args;   /* CONCAT: n_args operands */
    int n_args;
    int order;              /* grad nesting depth at and below the node */
    int dense_out, dense_in;
    const double *W, *bias; /* DENSE: the weights (out x in, row-major) and bias, as stored */
} ddx_node_info;
/* Nodes so far: ids 0 .. n-1, in topological order. */
DDX_API int ddx_graph_num_nodes(const ddx_graph *g);
/* What node n is; the pointers stay valid while the graph lives. */
DDX_API ddx_status ddx_node_get_info(const ddx_graph *g, ddx_node n, ddx_node_info *info);
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
DDX_API ddx_status ddx_graph_from_onnx(ddx_graph *g, const void *data, size_t size, const char *inputs,
                               ddx_node *outputs, int max_outputs, int *n_outputs, char (*output_names)[64]);
/* Same, reading the model from a file. */
DDX_API ddx_status ddx_graph_from_onnx_file(ddx_graph *g, const char *path, const char *inputs, ddx_node *outputs,
                                    int max_outputs, int *n_outputs, char (*output_names)[64]);

/* ---- compile and evaluate ---------------------------------------------- */
typedef struct ddx_compile_options {
    ddx_device device;       /* AUTO: CUDA if present, else CPU */
    ddx_precision precision; /* of points, outputs and arithmetic */
    ddx_cuda_strategy strategy; /* CUDA only */
    int tile_points;         /* CPU tile size; 0 = default */
    int num_threads;         /* CPU threads; 0 = all cores */
    /* CUDA tuning knobs, 0 = automatic (tuning experiments and tests): */
    int cuda_chunk_points;   /* most points per streamed chunk of host data */
    int cuda_max_threads;    /* cap on the fused kernel's threads per block, 32..256 */
    int cuda_tile_points;    /* the fused kernel's points per block: a power of two, 4..128 */
    /* CUDA devices a host-memory batch is split over (driver ordinals, after
     * CUDA_VISIBLE_DEVICES): 0 entries = device 0 alone; DDX_CUDA_ALL_DEVICES
     * = every device; else the first n_cuda_devices of cuda_devices. Chunks
     * are handed out dynamically; ddx_program_eval_device uses the first. */
    int n_cuda_devices;
    int cuda_devices[DDX_MAX_CUDA_DEVICES];
    /* 1: no collapsed channels: laplacian, op2 and biharmonic are carried as
     * the partials they sum (default 0; for comparisons and tests) */
    int uncollapsed;
} ddx_compile_options;

/* CUDA devices the driver reports (0 without a driver, a device, or CUDA). */
DDX_API int ddx_cuda_device_count(void);

DDX_API void ddx_compile_options_default(ddx_compile_options *o);

/* Compiles outputs (scalar or vector nodes; a vector gives `width` columns)
 * into a program. On failure *out is NULL and ddx_graph_error says why.
 * The graph may be freed after compiling. */
DDX_API ddx_status ddx_compile(ddx_graph *g, const ddx_node *outputs, int n_outputs,
                       const ddx_compile_options *opt, ddx_program **out);
DDX_API void ddx_program_free(ddx_program *p);
/* The message of this thread's last eval call on p ("" when it succeeded):
 * several threads may evaluate one program at once, each sees its own. */
DDX_API const char *ddx_program_error(const ddx_program *p);

/* points: n x d row-major, out: n x K row-major, both in the program's
 * precision (float or double). A NaN/Inf in a point stays in its own row. */
DDX_API ddx_status ddx_program_eval(ddx_program *p, const void *points, int64_t n, void *out);
/* Typed forms: DDX_ERR_INVALID_ARG (and a message) when the program was
 * compiled for the other precision, instead of reading past a buffer. */
DDX_API ddx_status ddx_program_eval_f32(ddx_program *p, const float *points, int64_t n, float *out);
DDX_API ddx_status ddx_program_eval_f64(ddx_program *p, const double *points, int64_t n, double *out);
/* 1: a failed CUDA build prints the full NVRTC log and the generated
 * source on stderr (default 0: its error lines go into the message only). */
DDX_API void ddx_set_verbose(int level);

/* Same, with points and out already in device memory (CUDA programs only;
 * DDX_ERR_UNSUPPORTED on the CPU). */
DDX_API ddx_status ddx_program_eval_device(ddx_program *p, const void *d_points, int64_t n, void *d_out);

/* Whether a device can run programs now: 1, or 0 and a one-line reason in
 * why (may be NULL). DDX_DEVICE_AUTO compiles for the first available of
 * CUDA, CPU: the one AUTO policy (the `ddx` command asks this to say why
 * AUTO did not take the GPU). */
DDX_API int ddx_device_available(ddx_device device, char *why, size_t cap);

/* Lowers outputs and compiles the CUDA kernel for `arch` (e.g. "sm_90")
 * with NVRTC — no GPU needed — and writes a report: strategy, registers,
 * spill bytes. DDX_ERR_UNSUPPORTED when ddx was built without CUDA. */
DDX_API ddx_status ddx_cuda_compile_report(ddx_graph *g, const ddx_node *outputs, int n_outputs,
                                   const ddx_compile_options *opt, const char *arch, char *buf, size_t cap);

DDX_API int ddx_program_num_inputs(const ddx_program *p);   /* d */
DDX_API int ddx_program_num_outputs(const ddx_program *p);  /* K columns */
DDX_API ddx_device ddx_program_device(const ddx_program *p);
DDX_API ddx_precision ddx_program_precision(const ddx_program *p);
/* Useful FLOPs per point (dense layers + elementwise jet rules). */
DDX_API double ddx_program_flops_per_point(const ddx_program *p);
/* Channels (Taylor coefficients) a graph node carries in this program;
 * 0 if the node is not needed. coeffs (may be NULL) receives count*d ints,
 * the multi-indices, when count <= capacity (a collapsed channel Delta^p
 * d^alpha: -p at each input it sums over, plus alpha; a random direction of a stochastic estimator has
 * no input column: its entries are 0). */
DDX_API int ddx_program_node_coeffs(const ddx_program *p, ddx_node n, int *coeffs, int capacity);
/* Largest channel count over the dense layers (what the network carries). */
DDX_API int ddx_program_network_channels(const ddx_program *p);
/* Number of lowered instructions (CSE shows as fewer). */
DDX_API int ddx_program_num_instructions(const ddx_program *p);
/* Human-readable description: coefficient set per node, FLOPs, strategy.
 * Writes at most cap bytes (NUL-terminated); returns the full length. */
DDX_API size_t ddx_program_describe(const ddx_program *p, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* DDX_H */
