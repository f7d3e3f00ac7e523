/* onnx_import.c — an ONNX graph (onnx_pb.c decodes it) rebuilt as a ddx
 * graph: per-point tensors become ddx nodes, constant tensors are folded
 * on the host.
 *
 * Every ONNX value is either a constant (initializer, Constant node, or
 * folded from constants: shapes, indices, weights) or a per-point tensor of
 * shape [N, f1, ..., fk]: axis 0 is the point axis (symbolic or not), the
 * feature axes are fixed, and the value is one ddx node of width f1*...*fk
 * holding the features in row-major order. Gemm and MatMul with constant
 * weights become ddx_dense (a following Add of a bias joins the dense
 * layer); elementwise ops map onto ddx's; Slice, Gather, Concat and Split of
 * features pick components; shape-only ops (Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity) relabel the feature axes and cost nothing. Anything
 * that would mix the point axis with features, or is not smooth, is
 * refused with the node's name, its op and what is supported, before the
 * caller evaluates anything. */
#include "host/import/onnx_import.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ddx_jet_rules.h"
#include "host/import/onnx_pb.h"

DDX_DEFINE_JET_RULES(double, f64, exp, log, log1p, sin, cos, tanh, pow, sqrt, fabs)

#define MIN_OPSET 13
#define MAX_OPSET 21
#define MAX_NODES 65536                  /* ONNX nodes in one model */
#define MAX_WIDTH 65536                  /* features of one per-point tensor */
#define FOLD_BUDGET ((int64_t)1 << 24)   /* constant elements made by folding */
#define EXPAND_BUDGET ((int64_t)1 << 15) /* ddx nodes made for single elements */
#define MAX_FILE ((size_t)1 << 31)       /* protobuf's own limit */
#define ONNX_MAX_ELEMS_I ((int64_t)1 << 30) /* above any axis length a tensor can have */
/* Stands for N, the number of points, in shape tensors (Shape of a
 * per-point value); only Reshape may read it. */
#define NPOINTS (INT64_MIN + 7)

static const char *SUPPORTED =
    "Gemm, MatMul, Add, Sub, Mul, Div, Neg, Pow, Sqrt, Exp, Log, Sin, Cos, Tanh, Sigmoid, Softplus, Gelu, Erf, "
    "Reciprocal, Concat, Slice, Gather, Split, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout, "
    "Cast, Shape, Constant, ConstantOfShape";

enum { V_NONE = 0, V_CONST, V_DYN };

typedef struct oval {
    const char *name;
    int kind;
    int rank;
    int64_t dims[ONNX_MAX_RANK]; /* V_DYN: dims[0] = -1 (the point axis) */
    int dtype;
    /* V_CONST: n elements in f (floating dtypes) or i (integer dtypes) */
    int64_t n;
    const double *f;
    const int64_t *i;
    /* V_DYN */
    ddx_node node;
    int dense_bias_ok; /* node is a ddx_dense built here that a bias Add may join */
    /* bookkeeping */
    int producer;      /* node index, or -1 */
    int uses;          /* reads by needed nodes and graph outputs */
    int is_input;
} oval;

typedef struct ictx {
    ddx_graph *g;
    onnx_model *m;
    oval *vals;
    int n_vals;
    int *slots; /* hash: name -> value index, -1 empty */
    int n_slots;
    void **arena; /* folded constant data, freed at the end */
    int n_arena, cap_arena;
    int64_t fold_left, expand_left;
    int64_t static_batch; /* the fixed size of the point axis of the inputs, or -1 */
    int opset;
    const onnx_node *cur;
    int cur_index;
    ddx_status st;
    char err[768];
} ictx;

/* ---- errors ---- */

static void node_label(const ictx *c, char *buf, size_t cap) {
    const onnx_node *n = c->cur;
    if (n->name && n->name[0]) snprintf(buf, cap, "node '%s' (%s)", n->name, n->op);
    else snprintf(buf, cap, "node #%d (%s)", c->cur_index, n->op);
}

static int ifail(ictx *c, ddx_status st, const char *fmt, ...) {
    if (c->st != DDX_OK) return -1;
    char msg[600], lab[300] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->cur) {
        node_label(c, lab, sizeof lab);
        snprintf(c->err, sizeof c->err, "%s: %s", lab, msg);
    } else
        snprintf(c->err, sizeof c->err, "%s", msg);
    /* names come from the file: keep the message one printable line */
    for (char *p = c->err; *p; p++)
        if ((unsigned char)*p < 32 || *p == 127) *p = '?';
    c->st = st;
    return -1;
}

/* After a ddx builder: a failed build carries the graph's own message. */
static int gok(ictx *c, ddx_node n) {
    if (n != DDX_NO_NODE) return 0;
    ddx_status st = ddx_graph_status(c->g);
    return ifail(c, st ? st : DDX_ERR_INTERNAL, "%s", st ? ddx_graph_error(c->g) : "graph builder failed");
}

/* ---- names ---- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int find_val(const ictx *c, const char *name) {
    uint64_t h = hash_str(name);
    for (int k = 0; k < c->n_slots; k++) {
        int s = c->slots[(h + (uint64_t)k) & (uint64_t)(c->n_slots - 1)];
        if (s < 0) return -1;
        if (strcmp(c->vals[s].name, name) == 0) return s;
    }
    return -1;
}

/* Adds a value; returns its index, or -1 when the name exists. */
static int add_val(ictx *c, const char *name) {
    if (find_val(c, name) >= 0) return -1;
    uint64_t h = hash_str(name);
    int idx = c->n_vals++;
    memset(&c->vals[idx], 0, sizeof c->vals[idx]);
    c->vals[idx].name = name;
    c->vals[idx].producer = -1;
    c->vals[idx].node = DDX_NO_NODE;
    for (int k = 0;; k++) {
        int *s = &c->slots[(h + (uint64_t)k) & (uint64_t)(c->n_slots - 1)];
        if (*s < 0) {
            *s = idx;
            return idx;
        }
    }
}

/* expression words a column name must not be (besides the unary op names) */
static const char *RESERVED[] = {"swish", "pow", "D", "laplacian", "grad", "hessian", "pi"};

void ddx_onnx_sanitize_name(const char *name, const char *fallback, char *out) {
    size_t n = 0;
    const size_t lim = 40; /* leaves room for a suffix (u12, x3) */
    for (const char *s = name ? name : ""; *s && n < lim; s++) {
        char ch = isalnum((unsigned char)*s) && !((unsigned char)*s & 0x80) ? *s : '_';
        if (ch == '_' && (n == 0 || out[n - 1] == '_')) continue;
        out[n++] = ch;
    }
    while (n && out[n - 1] == '_') n--;
    out[n] = 0;
    if (n == 0) {
        snprintf(out, DDX_ONNX_NAME_MAX, "%s", fallback);
        return;
    }
    if (isdigit((unsigned char)out[0])) {
        memmove(out + 1, out, n + 1);
        out[0] = 'v';
    }
    int reserved = ddx_unary_op_from_name(out) >= 0;
    for (size_t k = 0; k < sizeof RESERVED / sizeof RESERVED[0]; k++)
        if (strcmp(out, RESERVED[k]) == 0) reserved = 1;
    if (reserved) strcat(out, "1");
}

/* ---- arena and budgets ---- */

static void *arena_alloc(ictx *c, size_t bytes) {
    if (c->n_arena == c->cap_arena) {
        int cap = c->cap_arena ? 2 * c->cap_arena : 32;
        void **p = realloc(c->arena, sizeof(void *) * (size_t)cap);
        if (!p) return NULL;
        c->arena = p;
        c->cap_arena = cap;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (p) c->arena[c->n_arena++] = p;
    return p;
}

static int is_float_type(int dt) { return dt == ONNX_FLOAT || dt == ONNX_DOUBLE; }
static int is_int_type(int dt) {
    return dt == ONNX_INT64 || dt == ONNX_INT32 || dt == ONNX_INT16 || dt == ONNX_INT8 || dt == ONNX_UINT8 ||
           dt == ONNX_UINT16 || dt == ONNX_UINT32 || dt == ONNX_UINT64 || dt == ONNX_BOOL;
}

/* Makes out a constant of the given dtype and shape with fresh storage. */
static int new_const(ictx *c, oval *out, int dtype, int rank, const int64_t *dims) {
    int64_t n = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0) return ifail(c, DDX_ERR_INTERNAL, "negative dimension");
        n *= dims[k];
        if (n > FOLD_BUDGET) break;
    }
    if (n > c->fold_left)
        return ifail(c, DDX_ERR_LIMIT, "constant folding would make more than %lld elements",
                     (long long)FOLD_BUDGET);
    c->fold_left -= n;
    out->kind = V_CONST;
    out->dtype = dtype;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof(int64_t) * (size_t)rank);
    out->n = n;
    out->f = NULL;
    out->i = NULL;
    if (is_float_type(dtype)) {
        if (!(out->f = arena_alloc(c, sizeof(double) * (size_t)n))) return ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    } else {
        if (!(out->i = arena_alloc(c, sizeof(int64_t) * (size_t)n))) return ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return 0;
}

static int64_t prod(const int64_t *d, int r) {
    int64_t p = 1;
    for (int k = 0; k < r; k++) p *= d[k];
    return p;
}

/* Width of a per-point value: product of its feature axes. */
static int64_t dyn_width(const oval *v) { return prod(v->dims + 1, v->rank - 1); }

/* The component of a node, seeing through concat (inputs, picked columns). */
static ddx_node comp(ictx *c, ddx_node v, int64_t i) {
    ddx_node_info x;
    if (ddx_node_get_info(c->g, v, &x) == DDX_OK && x.kind == DDX_NODE_CONCAT && i >= 0 && i < x.n_args)
        return x.args[i];
    ddx_node r = ddx_component(c->g, v, (int)i);
    return gok(c, r) ? DDX_NO_NODE : r;
}

/* Node whose components are src[map[j]], j < count. */
static ddx_node gather_nodes(ictx *c, ddx_node src, const int64_t *map, int64_t count) {
    int w = ddx_node_width(c->g, src);
    if (count == w) {
        int64_t j = 0;
        while (j < count && map[j] == j) j++;
        if (j == count) return src;
    }
    if (count == 1) return comp(c, src, map[0]);
    if (count > c->expand_left) {
        ifail(c, DDX_ERR_LIMIT, "the model needs more than %lld single-element nodes (feature width too large)",
              (long long)EXPAND_BUDGET);
        return DDX_NO_NODE;
    }
    c->expand_left -= count;
    ddx_node *xs = malloc(sizeof(ddx_node) * (size_t)count);
    if (!xs) {
        ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        return DDX_NO_NODE;
    }
    for (int64_t j = 0; j < count; j++)
        if ((xs[j] = comp(c, src, map[j])) == DDX_NO_NODE) {
            free(xs);
            return DDX_NO_NODE;
        }
    ddx_node r = ddx_concat(c->g, xs, (int)count);
    free(xs);
    return gok(c, r) ? DDX_NO_NODE : r;
}

/* A vector of constants as a node: one scalar when all are equal (ddx
 * broadcasts it), else a concat of scalars. */
static ddx_node const_vector(ictx *c, const double *v, int64_t n) {
    for (int64_t j = 0; j < n; j++)
        if (!isfinite(v[j])) {
            ifail(c, DDX_ERR_INVALID_ARG, "constant operand holds NaN or Inf");
            return DDX_NO_NODE;
        }
    int64_t j = 1;
    while (j < n && v[j] == v[0]) j++;
    if (j >= n) {
        ddx_node r = ddx_const(c->g, v[0]);
        return gok(c, r) ? DDX_NO_NODE : r;
    }
    if (n > c->expand_left) {
        ifail(c, DDX_ERR_LIMIT, "the model needs more than %lld single-element nodes (constant vectors too wide)",
              (long long)EXPAND_BUDGET);
        return DDX_NO_NODE;
    }
    c->expand_left -= n;
    ddx_node *xs = malloc(sizeof(ddx_node) * (size_t)n);
    if (!xs) {
        ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        return DDX_NO_NODE;
    }
    for (int64_t k = 0; k < n; k++)
        if (gok(c, xs[k] = ddx_const(c->g, v[k]))) {
            free(xs);
            return DDX_NO_NODE;
        }
    ddx_node r = ddx_concat(c->g, xs, (int)n);
    free(xs);
    return gok(c, r) ? DDX_NO_NODE : r;
}

/* ---- index maps (shared by constants and per-point values) ---- */

/* Flat index into a tensor of shape idims (rank ir) that broadcasts to
 * odims (rank orank, right-aligned), for flat output index q. */
static int64_t bcast_index(const int64_t *odims, int orank, const int64_t *idims, int ir, int64_t q) {
    int64_t idx = 0, stride = 1;
    for (int k = orank - 1; k >= 0; k--) {
        int64_t ok = q % odims[k];
        q /= odims[k];
        int ik = k - (orank - ir);
        if (ik < 0) continue;
        int64_t id = idims[ik];
        idx += (id == 1 ? 0 : ok) * stride;
        stride *= id;
    }
    return idx;
}

/* Multidirectional broadcast of shapes; -1 on mismatch. */
static int bcast_shape(const int64_t *a, int ra, const int64_t *b, int rb, int64_t *o, int *ro) {
    int r = ra > rb ? ra : rb;
    for (int k = 0; k < r; k++) {
        int ka = k - (r - ra), kb = k - (r - rb);
        int64_t da = ka >= 0 ? a[ka] : 1, db = kb >= 0 ? b[kb] : 1;
        if (da == db || db == 1) o[k] = da;
        else if (da == 1) o[k] = db;
        else return -1;
    }
    *ro = r;
    return 0;
}

static void shape_str(const oval *v, char *buf, size_t cap) {
    size_t l = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < v->rank && l < cap; k++) {
        if (v->kind == V_DYN && k == 0) l += (size_t)snprintf(buf + l, cap - l, "N");
        else l += (size_t)snprintf(buf + l, cap - l, "%s%lld", k ? "," : "", (long long)v->dims[k]);
    }
    if (l < cap) snprintf(buf + l, cap - l, "]");
}

/* ---- value access ---- */

static oval *input_val(ictx *c, int k) {
    const onnx_node *n = c->cur;
    if (k >= n->n_in || !n->in[k][0]) return NULL;
    int i = find_val(c, n->in[k]);
    return i < 0 ? NULL : &c->vals[i];
}

static oval *need_input(ictx *c, int k, const char *what) {
    oval *v = input_val(c, k);
    if (!v) ifail(c, DDX_ERR_PARSE, "missing input %d (%s)", k, what);
    else if (v->kind == V_NONE) {
        ifail(c, DDX_ERR_INTERNAL, "input '%s' not computed", v->name);
        return NULL;
    } else if (v->kind == V_CONST && !v->f && !v->i) {
        ifail(c, DDX_ERR_UNSUPPORTED, "tensor '%s' has dtype %s (supported: float32, float64 and integer constants)",
              v->name, onnx_dtype_name(v->dtype));
        return NULL;
    }
    return v;
}

static oval *output_val(ictx *c, int k) {
    const onnx_node *n = c->cur;
    if (k >= n->n_out || !n->out[k][0]) return NULL;
    int i = find_val(c, n->out[k]);
    return i < 0 ? NULL : &c->vals[i];
}

static int has_npoints(const oval *v) {
    for (int64_t j = 0; v->i && j < v->n; j++)
        if (v->i[j] == NPOINTS) return 1;
    return 0;
}

/* Integer contents of a constant input (shapes, axes, indices). */
static int const_ints(ictx *c, const oval *v, const char *what, int allow_npoints) {
    if (v->kind != V_CONST)
        return ifail(c, DDX_ERR_UNSUPPORTED, "%s ('%s') must be a constant (dynamic shapes are not supported)", what,
                     v->name);
    if (!v->i) return ifail(c, DDX_ERR_UNSUPPORTED, "%s ('%s') must be an integer tensor, not %s", what, v->name,
                            onnx_dtype_name(v->dtype));
    if (!allow_npoints && has_npoints(v))
        return ifail(c, DDX_ERR_UNSUPPORTED, "%s ('%s') depends on the number of points", what, v->name);
    return 0;
}

static int64_t attr_int(const onnx_node *n, const char *name, int64_t dflt) {
    const onnx_attr *a = onnx_node_attr(n, name);
    return a && (a->type == ONNX_ATTR_INT || a->type == ONNX_ATTR_UNDEFINED) ? a->i : dflt;
}
static double attr_float(const onnx_node *n, const char *name, double dflt) {
    const onnx_attr *a = onnx_node_attr(n, name);
    return a && a->type == ONNX_ATTR_FLOAT ? a->f : dflt;
}

static int norm_axis(ictx *c, int64_t axis, int rank, int64_t *out) {
    *out = 0;
    if (axis < -rank || axis >= rank)
        return ifail(c, DDX_ERR_SHAPE, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = axis < 0 ? axis + rank : axis;
    return 0;
}

static int set_dyn(ictx *c, oval *out, ddx_node node, int rank, const int64_t *dims) {
    if (!out) return 0;
    if (rank < 1 || rank > ONNX_MAX_RANK) return ifail(c, DDX_ERR_LIMIT, "result rank %d (1..%d)", rank, ONNX_MAX_RANK);
    out->kind = V_DYN;
    out->node = node;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof(int64_t) * (size_t)rank);
    out->dims[0] = -1;
    out->dense_bias_ok = 0;
    int64_t w = dyn_width(out);
    if (w < 1) return ifail(c, DDX_ERR_UNSUPPORTED, "result has no features (shape with a zero dimension)");
    if (w != ddx_node_width(c->g, node))
        return ifail(c, DDX_ERR_INTERNAL, "width %lld of '%s' does not match its node (%d)", (long long)w, out->name,
                     ddx_node_width(c->g, node));
    return 0;
}

/* Same data, new shape (aliases the storage). */
static void alias_const(oval *out, const oval *in, int rank, const int64_t *dims) {
    out->kind = V_CONST;
    out->dtype = in->dtype;
    out->f = in->f;
    out->i = in->i;
    out->n = in->n;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof(int64_t) * (size_t)rank);
}

/* Constant gathered through a flat index map. */
static int const_take(ictx *c, oval *out, const oval *in, int rank, const int64_t *dims, const int64_t *map) {
    oval tmp = *out;
    if (new_const(c, &tmp, in->dtype, rank, dims)) return -1;
    for (int64_t q = 0; q < tmp.n; q++) {
        if (in->f) ((double *)tmp.f)[q] = in->f[map[q]];
        else ((int64_t *)tmp.i)[q] = in->i[map[q]];
    }
    *out = tmp;
    return 0;
}

/* Applies a flat index map to a value: constants over their whole shape,
 * per-point values over their feature axes (dims without axis 0). */
static int apply_map(ictx *c, oval *out, const oval *in, int rank, const int64_t *dims, const int64_t *map) {
    if (!out) return 0;
    if (in->kind == V_CONST) return const_take(c, out, in, rank, dims, map);
    ddx_node r = gather_nodes(c, in->node, map, prod(dims + 1, rank - 1));
    if (r == DDX_NO_NODE) return -1;
    return set_dyn(c, out, r, rank, dims);
}

/* ---- elementwise ---- */

typedef enum { EW_ADD, EW_SUB, EW_MUL, EW_DIV, EW_POW } ew_op;

/* The unary op an ONNX op type imports as (the ONNX column of ddx_ops.def), or -1. */
#define ONNX_NAME(a, ID, name, onnx, P) onnx,
static const char *const ONNX_UNARY[] = {DDX_UNARY_OPS(ONNX_NAME, _)};
#undef ONNX_NAME
_Static_assert(sizeof ONNX_UNARY / sizeof ONNX_UNARY[0] == DDX_NUM_UNARY_OPS, "one ONNX entry per unary op");
static int onnx_unary_op(const char *op) {
    for (int k = 0; k < DDX_NUM_UNARY_OPS; k++)
        if (ONNX_UNARY[k] && !strcmp(ONNX_UNARY[k], op)) return k;
    return -1;
}

/* Gelu's tanh form (approximate = "tanh"), for folding constants */
static double gelu_tanh(double x) { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

/* Folds a unary op of constants with its own jet rule's value (order 0). */
static double fold_unary(const char *op, double x, int gelu_tanh_form) {
    if (!strcmp(op, "Reciprocal")) return 1.0 / x;
    if (gelu_tanh_form) return gelu_tanh(x);
    int k = onnx_unary_op(op);
    double D[1];
    if (k < 0) return NAN;
    ddx_unary_derivs_f64(k, x, 0, 0.0, NULL, D);
    return D[0];
}

/* The values of constant v broadcast over the feature axes of out shape
 * (orank, odims; odims[0] is the point axis). Caller frees. */
static double *const_over_features(ictx *c, const oval *v, int orank, const int64_t *odims, int64_t *count) {
    if (!v->f) {
        if (has_npoints(v)) {
            ifail(c, DDX_ERR_UNSUPPORTED, "constant '%s' depends on the number of points", v->name);
            return NULL;
        }
    }
    int64_t w = prod(odims + 1, orank - 1);
    double *vals = malloc(sizeof(double) * (size_t)(w ? w : 1));
    if (!vals) {
        ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        return NULL;
    }
    /* a constant of full rank has 1 on the point axis: drop it */
    int vr = v->rank;
    const int64_t *vd = v->dims;
    if (vr == orank) vr--, vd++;
    for (int64_t q = 0; q < w; q++) {
        int64_t idx = bcast_index(odims + 1, orank - 1, vd, vr, q);
        vals[q] = v->f ? v->f[idx] : (double)v->i[idx];
    }
    *count = w;
    return vals;
}

/* Operand as a node for an output of shape (orank, odims). */
static ddx_node operand(ictx *c, const oval *v, int orank, const int64_t *odims, int recip) {
    int64_t w = prod(odims + 1, orank - 1);
    if (v->kind == V_DYN) {
        int64_t vw = dyn_width(v);
        if (vw == 1) return v->node; /* ddx broadcasts scalars */
        int same = v->rank == orank && memcmp(v->dims + 1, odims + 1, sizeof(int64_t) * (size_t)(orank - 1)) == 0;
        if (same) return v->node;
        int64_t *map = malloc(sizeof(int64_t) * (size_t)w);
        if (!map) {
            ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
            return DDX_NO_NODE;
        }
        for (int64_t q = 0; q < w; q++) map[q] = bcast_index(odims + 1, orank - 1, v->dims + 1, v->rank - 1, q);
        ddx_node r = gather_nodes(c, v->node, map, w);
        free(map);
        return r;
    }
    int64_t n;
    double *vals = const_over_features(c, v, orank, odims, &n);
    if (!vals) return DDX_NO_NODE;
    for (int64_t q = 0; recip && q < n; q++) {
        if (vals[q] == 0) {
            free(vals);
            ifail(c, DDX_ERR_INVALID_ARG, "division by the constant 0 ('%s')", v->name);
            return DDX_NO_NODE;
        }
        vals[q] = 1.0 / vals[q];
    }
    ddx_node r = const_vector(c, vals, n);
    free(vals);
    return r;
}

static int fold_binary(ictx *c, ew_op op, const oval *a, const oval *b, oval *out) {
    int64_t od[ONNX_MAX_RANK];
    int orank;
    if (bcast_shape(a->dims, a->rank, b->dims, b->rank, od, &orank))
        return ifail(c, DDX_ERR_SHAPE, "shapes of '%s' and '%s' do not broadcast", a->name, b->name);
    int isf = a->f != NULL || b->f != NULL;
    if ((a->i && has_npoints(a)) || (b->i && has_npoints(b)))
        return ifail(c, DDX_ERR_UNSUPPORTED, "arithmetic on the number of points is not supported");
    oval tmp = *out;
    if (new_const(c, &tmp, isf ? (a->f ? a->dtype : b->dtype) : a->dtype, orank, od)) return -1;
    for (int64_t q = 0; q < tmp.n; q++) {
        int64_t ia = bcast_index(od, orank, a->dims, a->rank, q), ib = bcast_index(od, orank, b->dims, b->rank, q);
        if (isf) {
            double x = a->f ? a->f[ia] : (double)a->i[ia], y = b->f ? b->f[ib] : (double)b->i[ib], r = 0;
            switch (op) {
            case EW_ADD: r = x + y; break;
            case EW_SUB: r = x - y; break;
            case EW_MUL: r = x * y; break;
            case EW_DIV: r = x / y; break;
            case EW_POW: r = pow(x, y); break;
            }
            ((double *)tmp.f)[q] = r;
        } else {
            int64_t x = a->i[ia], y = b->i[ib], r = 0;
            /* shape arithmetic: wrap like the hardware would, never trap */
            uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
            switch (op) {
            case EW_ADD: r = (int64_t)(ux + uy); break;
            case EW_SUB: r = (int64_t)(ux - uy); break;
            case EW_MUL: r = (int64_t)(ux * uy); break;
            case EW_DIV:
                if (y == 0) return ifail(c, DDX_ERR_INVALID_ARG, "integer division by zero");
                r = (x == INT64_MIN && y == -1) ? x : x / y;
                break;
            case EW_POW: {
                r = 1;
                if (y < 0) r = (x == 1) ? 1 : (x == -1 ? (y % 2 ? -1 : 1) : 0);
                for (int64_t e = 0; y >= 0 && e < y && e < 64; e++) r = (int64_t)((uint64_t)r * (uint64_t)x);
                break;
            }
            }
            ((int64_t *)tmp.i)[q] = r;
        }
    }
    *out = tmp;
    return 0;
}

/* Output shape of an elementwise op with a per-point operand: the point
 * axis must be axis 0 of the result. */
static int ew_shape(ictx *c, const oval *a, const oval *b, int64_t *od, int *orank) {
    int64_t ad[ONNX_MAX_RANK], bd[ONNX_MAX_RANK];
    memcpy(ad, a->dims, sizeof ad);
    memcpy(bd, b->dims, sizeof bd);
    if (a->kind == V_DYN) ad[0] = 1;
    if (b->kind == V_DYN) bd[0] = 1;
    int r = a->rank > b->rank ? a->rank : b->rank;
    const oval *s[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        if (s[k]->kind == V_DYN && s[k]->rank != r)
            return ifail(c, DDX_ERR_UNSUPPORTED,
                         "'%s' (rank %d) would be broadcast to rank %d, moving its point axis (only feature axes may broadcast)",
                         s[k]->name, s[k]->rank, r);
        if (s[k]->kind == V_CONST && s[k]->rank == r && s[k]->dims[0] != 1) {
            char sh[128];
            shape_str(s[k], sh, sizeof sh);
            return ifail(c, DDX_ERR_UNSUPPORTED, "constant '%s' of shape %s spans the point axis (it must have 1 there)",
                         s[k]->name, sh);
        }
    }
    if (bcast_shape(ad, a->rank, bd, b->rank, od, orank)) {
        char sa[128], sb[128];
        shape_str(a, sa, sizeof sa);
        shape_str(b, sb, sizeof sb);
        return ifail(c, DDX_ERR_SHAPE, "shapes %s ('%s') and %s ('%s') do not broadcast", sa, a->name, sb, b->name);
    }
    if (prod(od + 1, *orank - 1) > MAX_WIDTH)
        return ifail(c, DDX_ERR_LIMIT, "result has more than %d features", MAX_WIDTH);
    od[0] = -1;
    return 0;
}

static int is_sigmoid_of(ictx *c, ddx_node s, ddx_node x) {
    ddx_node_info n;
    return ddx_node_get_info(c->g, s, &n) == DDX_OK && n.kind == DDX_NODE_UNARY && n.uop == DDX_SIGMOID && n.a == x;
}

/* Add/Sub of a constant bias to a dense layer built here joins the layer
 * when nothing else reads the layer's output. */
static int try_join_bias(ictx *c, ew_op op, const oval *a, const oval *b, oval *out) {
    const oval *d = a->kind == V_DYN ? a : b, *k = a->kind == V_DYN ? b : a;
    if (!(op == EW_ADD || (op == EW_SUB && d == a))) return 0;
    if (d->kind != V_DYN || k->kind != V_CONST || !d->dense_bias_ok || d->uses != 1 || d->rank != 2 || !k->f)
        return 0;
    if (k->rank > 2 || (k->rank == 2 && k->dims[0] != 1)) return 0;
    ddx_node_info x;
    if (ddx_node_get_info(c->g, d->node, &x) != DDX_OK || x.kind != DDX_NODE_DENSE) return 0;
    int64_t od[2] = {-1, d->dims[1]};
    int64_t n;
    double *cv = const_over_features(c, k, 2, od, &n);
    if (!cv) return -1;
    int out_w = x.dense_out, in_w = x.dense_in;
    const double *W = x.W;
    double *bias = malloc(sizeof(double) * (size_t)out_w);
    if (!bias || n != out_w) {
        free(cv), free(bias);
        return n != out_w ? 0 : ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int q = 0; q < out_w; q++) bias[q] = x.bias[q] + (op == EW_ADD ? cv[q] : -cv[q]);
    free(cv);
    ddx_node r = ddx_dense(c->g, x.a, out_w, in_w, W, bias, DDX_F64);
    free(bias);
    if (gok(c, r)) return -1;
    if (set_dyn(c, out, r, 2, d->dims)) return -1;
    out->dense_bias_ok = 1;
    return 1;
}

static int op_binary(ictx *c, ew_op op) {
    oval *a = need_input(c, 0, "A"), *b = a ? need_input(c, 1, "B") : NULL, *out = output_val(c, 0);
    if (!b) return -1;
    if (a->kind == V_CONST && b->kind == V_CONST) return out ? fold_binary(c, op, a, b, out) : 0;
    int64_t od[ONNX_MAX_RANK];
    int orank;
    if (ew_shape(c, a, b, od, &orank)) return -1;
    if (op == EW_ADD || op == EW_SUB) {
        int j = try_join_bias(c, op, a, b, out);
        if (j) return j < 0 ? -1 : 0;
    }
    ddx_node r;
    if (op == EW_POW) {
        if (b->kind == V_CONST) {
            int64_t n;
            double *e = const_over_features(c, b, orank, od, &n);
            if (!e) return -1;
            int uniform = 1;
            for (int64_t q = 1; q < n; q++) uniform &= e[q] == e[0];
            double p = e[0];
            free(e);
            if (!uniform) return ifail(c, DDX_ERR_UNSUPPORTED, "exponent '%s' must be one number (it varies by feature)", b->name);
            if (!isfinite(p)) return ifail(c, DDX_ERR_INVALID_ARG, "exponent '%s' is not finite", b->name);
            ddx_node x = operand(c, a, orank, od, 0);
            if (x == DDX_NO_NODE) return -1;
            r = ddx_pow(c->g, x, p);
        } else if (a->kind == V_CONST) {
            /* c^y = exp(y log c), c > 0 */
            int64_t n;
            double *base = const_over_features(c, a, orank, od, &n);
            if (!base) return -1;
            for (int64_t q = 0; q < n; q++) {
                if (!(base[q] > 0) || !isfinite(base[q])) {
                    free(base);
                    return ifail(c, DDX_ERR_UNSUPPORTED, "a constant base of Pow must be positive and finite ('%s')", a->name);
                }
                base[q] = log(base[q]);
            }
            ddx_node lc = const_vector(c, base, n);
            free(base);
            ddx_node y = operand(c, b, orank, od, 0);
            if (lc == DDX_NO_NODE || y == DDX_NO_NODE) return -1;
            r = ddx_exp(c->g, ddx_mul(c->g, y, lc));
        } else
            return ifail(c, DDX_ERR_UNSUPPORTED, "Pow needs a constant exponent (or a constant positive base)");
    } else {
        ddx_node x = operand(c, a, orank, od, 0);
        ddx_node y = x == DDX_NO_NODE ? DDX_NO_NODE : operand(c, b, orank, od, op == EW_DIV && b->kind == V_CONST);
        if (y == DDX_NO_NODE) return -1;
        switch (op) {
        case EW_ADD: r = ddx_add(c->g, x, y); break;
        case EW_SUB: r = ddx_sub(c->g, x, y); break;
        case EW_MUL:
            /* x * sigmoid(x) is how exporters write SiLU/Swish */
            if (is_sigmoid_of(c, y, x)) r = ddx_silu(c->g, x);
            else if (is_sigmoid_of(c, x, y)) r = ddx_silu(c->g, y);
            else r = ddx_mul(c->g, x, y);
            break;
        default: r = b->kind == V_CONST ? ddx_mul(c->g, x, y) : ddx_div(c->g, x, y); break;
        }
    }
    if (gok(c, r)) return -1;
    return set_dyn(c, out, r, orank, od);
}

/* Gelu (opset 20): approximate = "none" is the exact x Phi(x) op (ddx_gelu),
 * "tanh" is 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) from graph ops. */
static int op_unary_form(ictx *c, int gelu_tanh_form);
static int op_gelu(ictx *c) {
    const onnx_attr *ap = onnx_node_attr(c->cur, "approximate");
    const char *mode = ap && ap->s ? ap->s : "none";
    if (c->opset < 20) return ifail(c, DDX_ERR_UNSUPPORTED, "Gelu is an opset-20 op; the model declares opset %d", c->opset);
    if (strcmp(mode, "none") && strcmp(mode, "tanh"))
        return ifail(c, DDX_ERR_UNSUPPORTED, "Gelu approximate='%s' is not supported (none, tanh)", mode);
    return op_unary_form(c, !strcmp(mode, "tanh"));
}

static int op_unary(ictx *c) { return op_unary_form(c, 0); }

static int op_unary_form(ictx *c, int gelu_tanh_form) {
    const char *name = c->cur->op;
    oval *a = need_input(c, 0, "X"), *out = output_val(c, 0);
    if (!a) return -1;
    if (a->kind == V_CONST) {
        if (!out) return 0;
        if (!a->f) return ifail(c, DDX_ERR_UNSUPPORTED, "input '%s' is %s; this op takes float tensors", a->name,
                                onnx_dtype_name(a->dtype));
        oval tmp = *out;
        if (new_const(c, &tmp, a->dtype, a->rank, a->dims)) return -1;
        for (int64_t q = 0; q < a->n; q++) ((double *)tmp.f)[q] = fold_unary(name, a->f[q], gelu_tanh_form);
        *out = tmp;
        return 0;
    }
    ddx_node r;
    if (!strcmp(name, "Reciprocal")) r = ddx_powi(c->g, a->node, -1);
    else if (gelu_tanh_form) {
        ddx_graph *g = c->g;
        ddx_node x = a->node, x3 = ddx_powi(g, x, 3);
        ddx_node in = ddx_mul(g, ddx_const(g, 0.7978845608028654), ddx_add(g, x, ddx_mul(g, ddx_const(g, 0.044715), x3)));
        r = ddx_mul(g, ddx_mul(g, ddx_const(g, 0.5), x), ddx_add(g, ddx_const(g, 1.0), ddx_tanh(g, in)));
    } else r = ddx_unary(c->g, (ddx_unary_op)onnx_unary_op(name), a->node);
    if (gok(c, r)) return -1;
    return set_dyn(c, out, r, a->rank, a->dims);
}

/* ---- dense layers ---- */

static int op_gemm_matmul(ictx *c, int gemm) {
    oval *a = need_input(c, 0, "A"), *b = a ? need_input(c, 1, "B") : NULL, *out = output_val(c, 0);
    if (!b) return -1;
    oval *cb = gemm ? input_val(c, 2) : NULL;
    double alpha = gemm ? attr_float(c->cur, "alpha", 1.0) : 1.0, beta = gemm ? attr_float(c->cur, "beta", 1.0) : 1.0;
    int64_t ta = gemm ? attr_int(c->cur, "transA", 0) : 0, tb = gemm ? attr_int(c->cur, "transB", 0) : 0;
    if (a->kind != V_DYN)
        return ifail(c, DDX_ERR_UNSUPPORTED, "the left operand ('%s') must depend on the inputs%s", a->name,
                     b->kind == V_DYN ? " and the right one ('%s') be constant weights" : "");
    if (b->kind != V_CONST)
        return ifail(c, DDX_ERR_UNSUPPORTED, "weights '%s' must be an initializer or constant", b->name);
    if (!b->f) return ifail(c, DDX_ERR_UNSUPPORTED, "weights '%s' are %s (float32 or float64 supported)", b->name,
                            onnx_dtype_name(b->dtype));
    if (ta) return ifail(c, DDX_ERR_UNSUPPORTED, "transA=1 would contract the point axis");
    if (a->rank != 2) {
        char sh[128];
        shape_str(a, sh, sizeof sh);
        return ifail(c, DDX_ERR_UNSUPPORTED, "input '%s' has shape %s; supported: [N, K]", a->name, sh);
    }
    int64_t K = a->dims[1], M;
    if (b->rank == 2) {
        int64_t bk = tb ? b->dims[1] : b->dims[0];
        M = tb ? b->dims[0] : b->dims[1];
        if (bk != K)
            return ifail(c, DDX_ERR_SHAPE, "weights '%s' are %lld x %lld%s; the input has %lld features", b->name,
                         (long long)b->dims[0], (long long)b->dims[1], tb ? " (transposed)" : "", (long long)K);
    } else if (b->rank == 1 && !gemm) {
        if (b->dims[0] != K)
            return ifail(c, DDX_ERR_SHAPE, "weights '%s' have %lld entries; the input has %lld features", b->name,
                         (long long)b->dims[0], (long long)K);
        M = 1;
    } else
        return ifail(c, DDX_ERR_UNSUPPORTED, "weights '%s' have rank %d (2 supported)", b->name, b->rank);
    if (M < 1 || M > MAX_WIDTH || K > MAX_WIDTH)
        return ifail(c, DDX_ERR_LIMIT, "layer of %lld x %lld (at most %d)", (long long)M, (long long)K, MAX_WIDTH);
    double *W = malloc(sizeof(double) * (size_t)(M * K)), *bias = NULL;
    if (!W) return ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++)
            W[m * K + k] = alpha * (b->rank == 1 ? b->f[k] : tb ? b->f[m * K + k] : b->f[k * M + m]);
    oval *dyn_c = NULL;
    if (cb && beta != 0) {
        if (cb->kind == V_DYN) dyn_c = cb;
        else {
            if (!cb->f) {
                free(W);
                return ifail(c, DDX_ERR_UNSUPPORTED, "bias '%s' is %s", cb->name, onnx_dtype_name(cb->dtype));
            }
            if (cb->rank > 2 || (cb->rank == 2 && cb->dims[0] != 1)) {
                free(W);
                char sh[128];
                shape_str(cb, sh, sizeof sh);
                return ifail(c, DDX_ERR_UNSUPPORTED, "bias '%s' of shape %s varies over the point axis", cb->name, sh);
            }
            int64_t od[2] = {-1, M}, n, okb[2] = {1, M};
            int ro;
            int64_t cd[2] = {cb->rank == 2 ? cb->dims[0] : 1, cb->rank >= 1 ? cb->dims[cb->rank - 1] : 1};
            if (bcast_shape(cd, 2, okb, 2, okb, &ro) || okb[1] != M) {
                free(W);
                return ifail(c, DDX_ERR_SHAPE, "bias '%s' does not broadcast to %lld outputs", cb->name, (long long)M);
            }
            bias = const_over_features(c, cb, 2, od, &n);
            if (!bias) {
                free(W);
                return -1;
            }
            for (int64_t q = 0; q < n; q++) bias[q] *= beta;
        }
    }
    ddx_node r = ddx_dense(c->g, a->node, (int)M, (int)K, W, bias, DDX_F64);
    free(W);
    free(bias);
    if (gok(c, r)) return -1;
    int64_t od[2] = {-1, M};
    int orank = b->rank == 1 ? 1 : 2;
    if (dyn_c) {
        oval tmp = {0};
        tmp.name = "Gemm product";
        if (set_dyn(c, &tmp, r, 2, od)) return -1;
        int64_t o2[ONNX_MAX_RANK];
        int r2;
        if (ew_shape(c, &tmp, dyn_c, o2, &r2)) return -1;
        ddx_node x = operand(c, &tmp, r2, o2, 0), y = operand(c, dyn_c, r2, o2, 0);
        if (x == DDX_NO_NODE || y == DDX_NO_NODE) return -1;
        if (beta != 1 && gok(c, y = ddx_mul(c->g, y, ddx_const(c->g, beta)))) return -1;
        if (gok(c, r = ddx_add(c->g, x, y))) return -1;
        return set_dyn(c, out, r, r2, o2);
    }
    if (set_dyn(c, out, r, orank, od)) return -1;
    if (out) out->dense_bias_ok = orank == 2;
    return 0;
}

/* ---- shape ops ---- */

static int op_identity(ictx *c) {
    oval *a = need_input(c, 0, "input"), *out = output_val(c, 0);
    if (!a) return -1;
    if (!strcmp(c->cur->op, "Dropout")) {
        oval *mask = output_val(c, 1);
        if (mask && mask->uses) return ifail(c, DDX_ERR_UNSUPPORTED, "the dropout mask output is not supported");
        oval *tm = input_val(c, 2);
        if (tm && !(tm->kind == V_CONST && tm->n == 1 && ((tm->i && tm->i[0] == 0) || (tm->f && tm->f[0] == 0))))
            return ifail(c, DDX_ERR_UNSUPPORTED, "training_mode must be a constant false");
    }
    if (!out) return 0;
    if (a->kind == V_CONST) {
        alias_const(out, a, a->rank, a->dims);
        return 0;
    }
    return set_dyn(c, out, a->node, a->rank, a->dims);
}

static int op_cast(ictx *c) {
    oval *a = need_input(c, 0, "input"), *out = output_val(c, 0);
    if (!a) return -1;
    int64_t to = attr_int(c->cur, "to", 0);
    if (a->kind == V_DYN) {
        if (to != ONNX_FLOAT && to != ONNX_DOUBLE)
            return ifail(c, DDX_ERR_UNSUPPORTED, "casting a per-point value to %s (float32/float64 supported)",
                         onnx_dtype_name((int)to));
        return set_dyn(c, out, a->node, a->rank, a->dims);
    }
    if (!out) return 0;
    if (!is_float_type((int)to) && !is_int_type((int)to))
        return ifail(c, DDX_ERR_UNSUPPORTED, "cast to %s is not supported", onnx_dtype_name((int)to));
    if ((a->f != NULL) == is_float_type((int)to)) {
        alias_const(out, a, a->rank, a->dims);
        out->dtype = (int)to;
        if (to == ONNX_FLOAT) { /* rounding to float32 is what the model computes */
            oval tmp = *out;
            if (new_const(c, &tmp, ONNX_FLOAT, a->rank, a->dims)) return -1;
            for (int64_t q = 0; q < a->n; q++) ((double *)tmp.f)[q] = (double)(float)a->f[q];
            *out = tmp;
        }
        return 0;
    }
    if (a->i && has_npoints(a)) return ifail(c, DDX_ERR_UNSUPPORTED, "casting the number of points is not supported");
    oval tmp = *out;
    if (new_const(c, &tmp, (int)to, a->rank, a->dims)) return -1;
    for (int64_t q = 0; q < a->n; q++) {
        if (a->f) {
            double x = a->f[q];
            if (!(x > -9.2e18 && x < 9.2e18)) return ifail(c, DDX_ERR_INVALID_ARG, "cast of %g to an integer", x);
            ((int64_t *)tmp.i)[q] = (int64_t)x;
        } else
            ((double *)tmp.f)[q] = (double)a->i[q];
    }
    *out = tmp;
    return 0;
}

static int op_shape(ictx *c) {
    oval *a = need_input(c, 0, "data"), *out = output_val(c, 0);
    if (!a || !out) return a ? 0 : -1;
    int64_t r = a->rank, start = attr_int(c->cur, "start", 0), end = attr_int(c->cur, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t len = end > start ? end - start : 0, d1[1] = {len};
    oval tmp = *out;
    if (new_const(c, &tmp, ONNX_INT64, 1, d1)) return -1;
    for (int64_t k = 0; k < len; k++)
        ((int64_t *)tmp.i)[k] = (a->kind == V_DYN && start + k == 0) ? NPOINTS : a->dims[start + k];
    *out = tmp;
    return 0;
}

static int op_constant(ictx *c) {
    oval *out = output_val(c, 0);
    const onnx_node *n = c->cur;
    if (n->n_attrs != 1) return ifail(c, DDX_ERR_PARSE, "Constant needs exactly one attribute, has %d", n->n_attrs);
    const onnx_attr *a = &n->attrs[0];
    if (!out) return 0;
    int64_t d1[1] = {0};
    oval tmp = *out;
    if (!strcmp(a->name, "value") && a->t) {
        const onnx_tensor *t = a->t;
        if (!t->f && !t->i)
            return ifail(c, DDX_ERR_UNSUPPORTED, "constant of dtype %s (float32, float64 and integers supported)",
                         onnx_dtype_name(t->dtype));
        tmp.kind = V_CONST;
        tmp.dtype = t->dtype;
        tmp.rank = t->rank;
        memcpy(tmp.dims, t->dims, sizeof tmp.dims);
        tmp.n = t->n;
        tmp.f = t->f;
        tmp.i = t->i;
    } else if (!strcmp(a->name, "value_float") && a->type == ONNX_ATTR_FLOAT) {
        if (new_const(c, &tmp, ONNX_FLOAT, 0, d1)) return -1;
        ((double *)tmp.f)[0] = a->f;
    } else if (!strcmp(a->name, "value_int") && a->type == ONNX_ATTR_INT) {
        if (new_const(c, &tmp, ONNX_INT64, 0, d1)) return -1;
        ((int64_t *)tmp.i)[0] = a->i;
    } else if (!strcmp(a->name, "value_floats") && a->type == ONNX_ATTR_FLOATS) {
        d1[0] = a->n_floats;
        if (new_const(c, &tmp, ONNX_FLOAT, 1, d1)) return -1;
        memcpy((double *)tmp.f, a->floats, sizeof(double) * (size_t)a->n_floats);
    } else if (!strcmp(a->name, "value_ints") && a->type == ONNX_ATTR_INTS) {
        d1[0] = a->n_ints;
        if (new_const(c, &tmp, ONNX_INT64, 1, d1)) return -1;
        memcpy((int64_t *)tmp.i, a->ints, sizeof(int64_t) * (size_t)a->n_ints);
    } else
        return ifail(c, DDX_ERR_UNSUPPORTED, "Constant attribute '%s' (value, value_float(s), value_int(s) supported)",
                     a->name);
    *out = tmp;
    return 0;
}

static int op_constant_of_shape(ictx *c) {
    oval *s = need_input(c, 0, "shape"), *out = output_val(c, 0);
    if (!s || const_ints(c, s, "shape", 0)) return -1;
    if (s->rank != 1 || s->n > ONNX_MAX_RANK) return ifail(c, DDX_ERR_UNSUPPORTED, "shape must be a short 1-D tensor");
    int64_t dims[ONNX_MAX_RANK];
    for (int64_t k = 0; k < s->n; k++) {
        if (s->i[k] < 0 || s->i[k] > FOLD_BUDGET) return ifail(c, DDX_ERR_LIMIT, "dimension %lld", (long long)s->i[k]);
        dims[k] = s->i[k];
    }
    const onnx_attr *v = onnx_node_attr(c->cur, "value");
    int dt = ONNX_FLOAT;
    double fv = 0;
    int64_t iv = 0;
    if (v && v->t) {
        if (v->t->n != 1 || (!v->t->f && !v->t->i)) return ifail(c, DDX_ERR_UNSUPPORTED, "value must be one number");
        dt = v->t->dtype;
        if (v->t->f) fv = v->t->f[0];
        else iv = v->t->i[0];
    }
    if (!out) return 0;
    oval tmp = *out;
    if (new_const(c, &tmp, dt, (int)s->n, dims)) return -1;
    for (int64_t q = 0; q < tmp.n; q++) {
        if (tmp.f) ((double *)tmp.f)[q] = fv;
        else ((int64_t *)tmp.i)[q] = iv;
    }
    *out = tmp;
    return 0;
}

/* Reads an axes list from input k or attribute "axes". */
static int get_axes(ictx *c, int k, int64_t *axes, int *n, int *present) {
    oval *v = input_val(c, k);
    *present = 0;
    *n = 0;
    if (v) {
        if (const_ints(c, v, "axes", 0)) return -1;
        if (v->n > ONNX_MAX_RANK) return ifail(c, DDX_ERR_LIMIT, "more than %d axes", ONNX_MAX_RANK);
        for (int64_t q = 0; q < v->n; q++) axes[q] = v->i[q];
        *n = (int)v->n;
        *present = 1;
        return 0;
    }
    const onnx_attr *a = onnx_node_attr(c->cur, "axes");
    if (a && a->type == ONNX_ATTR_INTS) {
        if (a->n_ints > ONNX_MAX_RANK) return ifail(c, DDX_ERR_LIMIT, "more than %d axes", ONNX_MAX_RANK);
        for (int q = 0; q < a->n_ints; q++) axes[q] = a->ints[q];
        *n = a->n_ints;
        *present = 1;
    }
    return 0;
}

static int reshape_to(ictx *c, oval *in, oval *out, int rank, const int64_t *dims) {
    if (!out) return 0;
    if (in->kind == V_CONST) {
        if (prod(dims, rank) != in->n) return ifail(c, DDX_ERR_SHAPE, "reshape of %lld elements", (long long)in->n);
        alias_const(out, in, rank, dims);
        return 0;
    }
    return set_dyn(c, out, in->node, rank, dims);
}

static int op_unsqueeze(ictx *c) {
    oval *a = need_input(c, 0, "data"), *out = output_val(c, 0);
    if (!a) return -1;
    int64_t axes[ONNX_MAX_RANK];
    int na, present;
    if (get_axes(c, 1, axes, &na, &present)) return -1;
    if (!present || na == 0) return ifail(c, DDX_ERR_PARSE, "Unsqueeze needs axes");
    int r = a->rank + na;
    if (r > ONNX_MAX_RANK) return ifail(c, DDX_ERR_LIMIT, "rank above %d", ONNX_MAX_RANK);
    int is_new[ONNX_MAX_RANK] = {0};
    for (int q = 0; q < na; q++) {
        int64_t ax;
        if (norm_axis(c, axes[q], r, &ax)) return -1;
        if (is_new[ax]) return ifail(c, DDX_ERR_PARSE, "axis %lld given twice", (long long)axes[q]);
        is_new[ax] = 1;
    }
    if (a->kind == V_DYN && is_new[0])
        return ifail(c, DDX_ERR_UNSUPPORTED, "unsqueezing axis 0 would move the point axis of '%s'", a->name);
    int64_t dims[ONNX_MAX_RANK];
    for (int k = 0, j = 0; k < r; k++) dims[k] = is_new[k] ? 1 : a->dims[j++];
    return reshape_to(c, a, out, r, dims);
}

static int op_squeeze(ictx *c) {
    oval *a = need_input(c, 0, "data"), *out = output_val(c, 0);
    if (!a) return -1;
    int64_t axes[ONNX_MAX_RANK];
    int na, present, drop[ONNX_MAX_RANK] = {0};
    if (get_axes(c, 1, axes, &na, &present)) return -1;
    if (present) {
        for (int q = 0; q < na; q++) {
            int64_t ax;
            if (norm_axis(c, axes[q], a->rank, &ax)) return -1;
            if (a->kind == V_DYN && ax == 0)
                return ifail(c, DDX_ERR_UNSUPPORTED, "squeezing axis 0 would drop the point axis of '%s'", a->name);
            if (a->dims[ax] != 1)
                return ifail(c, DDX_ERR_SHAPE, "axis %lld of '%s' has size %lld, not 1", (long long)axes[q], a->name,
                             (long long)a->dims[ax]);
            drop[ax] = 1;
        }
    } else
        for (int k = a->kind == V_DYN ? 1 : 0; k < a->rank; k++) drop[k] = a->dims[k] == 1;
    int64_t dims[ONNX_MAX_RANK];
    int r = 0;
    for (int k = 0; k < a->rank; k++)
        if (!drop[k]) dims[r++] = a->dims[k];
    return reshape_to(c, a, out, r, dims);
}

static int op_flatten(ictx *c) {
    oval *a = need_input(c, 0, "input"), *out = output_val(c, 0);
    if (!a) return -1;
    int64_t axis = attr_int(c->cur, "axis", 1);
    if (axis < -a->rank || axis > a->rank) return ifail(c, DDX_ERR_SHAPE, "axis %lld for rank %d", (long long)axis, a->rank);
    if (axis < 0) axis += a->rank;
    if (a->kind == V_DYN) {
        if (axis == 0 || prod(a->dims + 1, (int)axis - 1) != 1)
            return ifail(c, DDX_ERR_UNSUPPORTED, "Flatten(axis=%lld) would mix the point axis of '%s' with features",
                         (long long)axis, a->name);
        int64_t dims[2] = {-1, dyn_width(a)};
        return reshape_to(c, a, out, 2, dims);
    }
    int64_t dims[2] = {prod(a->dims, (int)axis), prod(a->dims + axis, a->rank - (int)axis)};
    return reshape_to(c, a, out, 2, dims);
}

static int op_reshape(ictx *c) {
    oval *a = need_input(c, 0, "data"), *s = a ? need_input(c, 1, "shape") : NULL, *out = output_val(c, 0);
    if (!s || const_ints(c, s, "shape", 1)) return -1;
    if (s->rank != 1 || s->n < 1 || s->n > ONNX_MAX_RANK)
        return ifail(c, DDX_ERR_UNSUPPORTED, "target shape must be 1-D with 1..%d entries", ONNX_MAX_RANK);
    int allowzero = (int)attr_int(c->cur, "allowzero", 0);
    int r = (int)s->n;
    int64_t dims[ONNX_MAX_RANK];
    int infer = -1;
    if (a->kind == V_DYN) {
        int64_t t0 = s->i[0];
        int point_first = t0 == NPOINTS || (t0 == 0 && !allowzero) || t0 == -1 ||
                          (c->static_batch > 0 && t0 == c->static_batch);
        if (!point_first)
            return ifail(c, DDX_ERR_UNSUPPORTED, "target shape starts with %lld; it must keep the point axis first", (long long)t0);
        int64_t known = 1;
        for (int k = 1; k < r; k++) {
            int64_t t = s->i[k];
            if (t == NPOINTS) return ifail(c, DDX_ERR_UNSUPPORTED, "the number of points may only be the first entry");
            if (t == 0 && !allowzero) {
                if (k >= a->rank) return ifail(c, DDX_ERR_SHAPE, "entry %d copies a dimension the input lacks", k);
                t = a->dims[k];
            }
            if (t == -1) {
                if (infer >= 0 || t0 == -1) return ifail(c, DDX_ERR_UNSUPPORTED, "more than one -1 in the target shape");
                infer = k;
                continue;
            }
            if (t <= 0 || t > MAX_WIDTH) return ifail(c, DDX_ERR_UNSUPPORTED, "target dimension %lld", (long long)t);
            dims[k] = t;
            known *= t;
            if (known > MAX_WIDTH) return ifail(c, DDX_ERR_SHAPE, "target shape too large");
        }
        int64_t w = dyn_width(a);
        if (infer >= 0) {
            if (w % known) return ifail(c, DDX_ERR_SHAPE, "%lld features do not reshape to the target", (long long)w);
            dims[infer] = w / known;
        } else if (known != w)
            return ifail(c, DDX_ERR_UNSUPPORTED, "target shape would move %lld features per point into the point axis (%lld per point asked)",
                         (long long)w, (long long)known);
        dims[0] = -1;
        return reshape_to(c, a, out, r, dims);
    }
    if (has_npoints(s)) return ifail(c, DDX_ERR_UNSUPPORTED, "reshaping a constant by the number of points");
    int64_t known = 1;
    for (int k = 0; k < r; k++) {
        int64_t t = s->i[k];
        if (t == 0 && !allowzero) {
            if (k >= a->rank) return ifail(c, DDX_ERR_SHAPE, "entry %d copies a dimension the input lacks", k);
            t = a->dims[k];
        }
        if (t == -1) {
            if (infer >= 0) return ifail(c, DDX_ERR_SHAPE, "more than one -1 in the target shape");
            infer = k;
            continue;
        }
        if (t < 0) return ifail(c, DDX_ERR_SHAPE, "target dimension %lld", (long long)t);
        dims[k] = t;
        if (t && known > FOLD_BUDGET / t) return ifail(c, DDX_ERR_SHAPE, "target shape too large");
        known *= t;
    }
    if (infer >= 0) {
        if (known == 0 || a->n % known) return ifail(c, DDX_ERR_SHAPE, "%lld elements do not reshape to the target", (long long)a->n);
        dims[infer] = a->n / known;
    }
    return reshape_to(c, a, out, r, dims);
}

/* ---- picking features ---- */

/* Shape of what a map addresses: a constant's whole shape, or a per-point
 * value's feature axes. */
static void map_space(const oval *v, int *rank, int64_t *dims) {
    if (v->kind == V_CONST) {
        *rank = v->rank;
        memcpy(dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    } else {
        *rank = v->rank - 1;
        memcpy(dims, v->dims + 1, sizeof(int64_t) * (size_t)(v->rank - 1));
    }
}

/* Output of a map on space (r, sd) into v's full shape (adds the point axis back). */
static int finish_map(ictx *c, oval *out, const oval *in, int r, const int64_t *sd, const int64_t *map) {
    int64_t dims[ONNX_MAX_RANK];
    int rank;
    if (in->kind == V_CONST) {
        rank = r;
        memcpy(dims, sd, sizeof(int64_t) * (size_t)r);
    } else {
        rank = r + 1;
        if (rank > ONNX_MAX_RANK) return ifail(c, DDX_ERR_LIMIT, "rank above %d", ONNX_MAX_RANK);
        dims[0] = -1;
        memcpy(dims + 1, sd, sizeof(int64_t) * (size_t)r);
    }
    return apply_map(c, out, in, rank, dims, map);
}

static int64_t *new_map(ictx *c, int64_t n, int is_dyn) {
    if (n > (is_dyn ? (int64_t)MAX_WIDTH : FOLD_BUDGET)) {
        ifail(c, DDX_ERR_LIMIT, "result of %lld elements is too large", (long long)n);
        return NULL;
    }
    int64_t *m = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!m) ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    return m;
}

/* Slice of one space axis by (start, count, step): the general engine of
 * Slice and Split. starts/steps per axis of the space. */
static int slice_map(ictx *c, oval *out, const oval *in, int r, const int64_t *sd, const int64_t *start,
                     const int64_t *count, const int64_t *step) {
    int64_t od[ONNX_MAX_RANK];
    for (int k = 0; k < r; k++) od[k] = count[k];
    int64_t n = prod(od, r);
    int64_t *map = new_map(c, n, in->kind == V_DYN);
    if (!map) return -1;
    for (int64_t q = 0; q < n; q++) {
        int64_t rem = q, idx = 0, stride = 1;
        for (int k = r - 1; k >= 0; k--) {
            int64_t ok = rem % od[k];
            rem /= od[k];
            idx += (start[k] + ok * step[k]) * stride;
            stride *= sd[k];
        }
        map[q] = idx;
    }
    int rc = finish_map(c, out, in, r, od, map);
    free(map);
    return rc;
}

static int op_slice(ictx *c) {
    oval *a = need_input(c, 0, "data"), *st = a ? need_input(c, 1, "starts") : NULL,
         *en = st ? need_input(c, 2, "ends") : NULL, *ax = input_val(c, 3), *sp = input_val(c, 4);
    if (!en) return -1;
    if (const_ints(c, st, "starts", 0) || const_ints(c, en, "ends", 0)) return -1;
    if ((ax && const_ints(c, ax, "axes", 0)) || (sp && const_ints(c, sp, "steps", 0))) return -1;
    int64_t n = st->n;
    if (en->n != n || (ax && ax->n != n) || (sp && sp->n != n) || n > ONNX_MAX_RANK)
        return ifail(c, DDX_ERR_SHAPE, "starts, ends, axes and steps differ in length");
    int r;
    int64_t sd[ONNX_MAX_RANK], start[ONNX_MAX_RANK], count[ONNX_MAX_RANK], step[ONNX_MAX_RANK];
    map_space(a, &r, sd);
    for (int k = 0; k < r; k++) start[k] = 0, count[k] = sd[k], step[k] = 1;
    int seen[ONNX_MAX_RANK + 1] = {0};
    for (int64_t q = 0; q < n; q++) {
        int64_t axis;
        if (norm_axis(c, ax ? ax->i[q] : q, a->rank, &axis)) return -1;
        if (seen[axis]++) return ifail(c, DDX_ERR_PARSE, "axis %lld sliced twice", (long long)axis);
        int64_t s = st->i[q], e = en->i[q], p = sp ? sp->i[q] : 1;
        if (p == 0) return ifail(c, DDX_ERR_PARSE, "step 0");
        /* steps past the axis pick one element either way; clamping keeps the arithmetic in range */
        if (p > ONNX_MAX_ELEMS_I) p = ONNX_MAX_ELEMS_I;
        if (p < -ONNX_MAX_ELEMS_I) p = -ONNX_MAX_ELEMS_I;
        if (a->kind == V_DYN && axis == 0) {
            /* the point axis may only be kept whole */
            int whole = p == 1 && (s == 0 || s <= INT32_MIN) && (e >= INT32_MAX || (c->static_batch > 0 && e >= c->static_batch));
            if (!whole) return ifail(c, DDX_ERR_UNSUPPORTED, "slicing the point axis of '%s' (only feature axes)", a->name);
            continue;
        }
        int k = a->kind == V_DYN ? (int)axis - 1 : (int)axis;
        int64_t dim = sd[k];
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (p > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            count[k] = e > s ? 1 + (e - s - 1) / p : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            count[k] = s > e ? 1 + (s - e - 1) / (-p) : 0;
        }
        start[k] = s;
        step[k] = p;
    }
    return slice_map(c, output_val(c, 0), a, r, sd, start, count, step);
}

static int op_split(ictx *c) {
    oval *a = need_input(c, 0, "input");
    if (!a) return -1;
    int64_t axis;
    if (norm_axis(c, attr_int(c->cur, "axis", 0), a->rank, &axis)) return -1;
    if (a->kind == V_DYN && axis == 0)
        return ifail(c, DDX_ERR_UNSUPPORTED, "splitting the point axis of '%s' (only feature axes)", a->name);
    int r;
    int64_t sd[ONNX_MAX_RANK];
    map_space(a, &r, sd);
    int k = a->kind == V_DYN ? (int)axis - 1 : (int)axis;
    int nout = c->cur->n_out;
    if (nout < 1 || nout > MAX_WIDTH) return ifail(c, DDX_ERR_PARSE, "Split with %d outputs", nout);
    int64_t *sizes = malloc(sizeof(int64_t) * (size_t)nout);
    if (!sizes) return ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    oval *sv = input_val(c, 1);
    const onnx_attr *sa = onnx_node_attr(c->cur, "split");
    int rc = -1;
    if (sv || (sa && sa->type == ONNX_ATTR_INTS)) {
        int64_t cnt = sv ? sv->n : sa->n_ints;
        if (sv && const_ints(c, sv, "split", 0)) goto done;
        if (cnt != nout) {
            ifail(c, DDX_ERR_SHAPE, "split has %lld sizes for %d outputs", (long long)cnt, nout);
            goto done;
        }
        int64_t total = 0;
        for (int q = 0; q < nout; q++) {
            sizes[q] = sv ? sv->i[q] : sa->ints[q];
            if (sizes[q] < 0 || sizes[q] > sd[k]) {
                ifail(c, DDX_ERR_SHAPE, "split size %lld", (long long)sizes[q]);
                goto done;
            }
            total += sizes[q];
        }
        if (total != sd[k]) {
            ifail(c, DDX_ERR_SHAPE, "split sizes add to %lld, the axis has %lld", (long long)total, (long long)sd[k]);
            goto done;
        }
    } else {
        /* equal parts, the last one smaller (opset 18 num_outputs) */
        int64_t part = (sd[k] + nout - 1) / nout;
        for (int q = 0; q < nout; q++) {
            int64_t left = sd[k] - part * q;
            sizes[q] = left < 0 ? 0 : left < part ? left : part;
        }
        if (sd[k] % nout && attr_int(c->cur, "num_outputs", 0) != nout) {
            ifail(c, DDX_ERR_SHAPE, "axis of %lld does not split evenly into %d", (long long)sd[k], nout);
            goto done;
        }
    }
    int64_t off = 0;
    for (int q = 0; q < nout; q++) {
        int64_t start[ONNX_MAX_RANK], count[ONNX_MAX_RANK], step[ONNX_MAX_RANK];
        for (int j = 0; j < r; j++) start[j] = 0, count[j] = sd[j], step[j] = 1;
        start[k] = off;
        count[k] = sizes[q];
        off += sizes[q];
        oval *o = output_val(c, q);
        if (o && o->uses && slice_map(c, o, a, r, sd, start, count, step)) goto done;
    }
    rc = 0;
done:
    free(sizes);
    return rc;
}

static int op_gather(ictx *c) {
    oval *a = need_input(c, 0, "data"), *ix = a ? need_input(c, 1, "indices") : NULL;
    if (!ix || const_ints(c, ix, "indices", 0)) return -1;
    int64_t axis;
    if (norm_axis(c, attr_int(c->cur, "axis", 0), a->rank, &axis)) return -1;
    if (a->kind == V_DYN && axis == 0)
        return ifail(c, DDX_ERR_UNSUPPORTED, "gathering along the point axis of '%s' (only feature axes)", a->name);
    int r;
    int64_t sd[ONNX_MAX_RANK], od[ONNX_MAX_RANK];
    map_space(a, &r, sd);
    int k = a->kind == V_DYN ? (int)axis - 1 : (int)axis;
    int orank = r - 1 + ix->rank;
    if (orank > ONNX_MAX_RANK - 1) return ifail(c, DDX_ERR_LIMIT, "rank above %d", ONNX_MAX_RANK);
    int o = 0;
    for (int j = 0; j < k; j++) od[o++] = sd[j];
    for (int j = 0; j < ix->rank; j++) od[o++] = ix->dims[j];
    for (int j = k + 1; j < r; j++) od[o++] = sd[j];
    int64_t n = prod(od, orank), inner = prod(sd + k + 1, r - k - 1), ni = ix->n;
    int64_t *map = new_map(c, n, a->kind == V_DYN);
    if (!map) return -1;
    for (int64_t q = 0; q < n; q++) {
        int64_t in_ = q % inner, t = q / inner, ii = t % (ni ? ni : 1), outer = t / (ni ? ni : 1);
        int64_t idx = ix->i[ii];
        if (idx < 0) idx += sd[k];
        if (idx < 0 || idx >= sd[k]) {
            free(map);
            return ifail(c, DDX_ERR_SHAPE, "index %lld out of range for an axis of %lld", (long long)ix->i[ii],
                         (long long)sd[k]);
        }
        map[q] = (outer * sd[k] + idx) * inner + in_;
    }
    int rc = finish_map(c, output_val(c, 0), a, orank, od, map);
    free(map);
    return rc;
}

static int op_concat(ictx *c) {
    const onnx_node *nd = c->cur;
    oval *out = output_val(c, 0);
    if (nd->n_in < 1) return ifail(c, DDX_ERR_PARSE, "Concat without inputs");
    oval *first = need_input(c, 0, "input 0");
    if (!first) return -1;
    int any_dyn = 0, rank = first->rank;
    for (int q = 0; q < nd->n_in; q++) {
        oval *v = need_input(c, q, "input");
        if (!v) return -1;
        any_dyn |= v->kind == V_DYN;
        if (v->rank != rank) return ifail(c, DDX_ERR_SHAPE, "inputs have ranks %d and %d", rank, v->rank);
    }
    int64_t axis;
    if (norm_axis(c, attr_int(nd, "axis", 0), rank, &axis)) return -1;
    if (any_dyn && axis == 0) return ifail(c, DDX_ERR_UNSUPPORTED, "concatenating along the point axis (only feature axes)");
    /* common space: constants' whole shape, or the feature axes */
    int r = any_dyn ? rank - 1 : rank, k = any_dyn ? (int)axis - 1 : (int)axis;
    int64_t od[ONNX_MAX_RANK];
    for (int j = 0; j < r; j++) od[j] = any_dyn ? first->dims[j + 1] : first->dims[j];
    od[k] = 0;
    for (int q = 0; q < nd->n_in; q++) {
        oval *v = input_val(c, q);
        if (any_dyn && v->kind == V_CONST) {
            if (v->n == 0) continue;
            return ifail(c, DDX_ERR_UNSUPPORTED, "constant '%s' concatenated with per-point values", v->name);
        }
        for (int j = 0; j < r; j++) {
            int64_t dj = any_dyn ? v->dims[j + 1] : v->dims[j];
            if (j != k && dj != od[j]) return ifail(c, DDX_ERR_SHAPE, "input '%s' differs in axis %d", v->name, j);
        }
        od[k] += any_dyn ? v->dims[k + 1] : v->dims[k];
        if (od[k] > FOLD_BUDGET) return ifail(c, DDX_ERR_LIMIT, "concatenation longer than %lld", (long long)FOLD_BUDGET);
    }
    int64_t n = prod(od, r), outer = prod(od, k), inner = prod(od + k + 1, r - k - 1);
    if (!any_dyn) {
        int isf = 0;
        for (int q = 0; q < nd->n_in; q++) isf |= input_val(c, q)->f != NULL;
        if (!out) return 0;
        oval tmp = *out;
        if (new_const(c, &tmp, isf ? ONNX_DOUBLE : first->dtype, r, od)) return -1;
        if (isf) tmp.dtype = first->f ? first->dtype : ONNX_DOUBLE;
        int64_t off = 0;
        for (int q = 0; q < nd->n_in; q++) {
            oval *v = input_val(c, q);
            int64_t ak = v->dims[k];
            for (int64_t o = 0; o < outer; o++)
                for (int64_t a = 0; a < ak * inner; a++) {
                    int64_t dst = (o * od[k] + off) * inner + a, src = o * ak * inner + a;
                    if (isf) ((double *)tmp.f)[dst] = v->f ? v->f[src] : (double)v->i[src];
                    else ((int64_t *)tmp.i)[dst] = v->i[src];
                }
            off += ak;
        }
        *out = tmp;
        return 0;
    }
    if (n > MAX_WIDTH) return ifail(c, DDX_ERR_LIMIT, "result has more than %d features", MAX_WIDTH);
    if (n > c->expand_left) return ifail(c, DDX_ERR_LIMIT, "the model needs too many single-element nodes");
    c->expand_left -= n;
    ddx_node *xs = malloc(sizeof(ddx_node) * (size_t)(n ? n : 1));
    if (!xs) return ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    int64_t off = 0;
    for (int q = 0; q < nd->n_in; q++) {
        oval *v = input_val(c, q);
        if (v->kind == V_CONST) continue;
        int64_t ak = v->dims[k + 1];
        for (int64_t o = 0; o < outer; o++)
            for (int64_t a = 0; a < ak * inner; a++) {
                ddx_node x = comp(c, v->node, o * ak * inner + a);
                if (x == DDX_NO_NODE) {
                    free(xs);
                    return -1;
                }
                xs[(o * od[k] + off) * inner + a] = x;
            }
        off += ak;
    }
    ddx_node res = ddx_concat(c->g, xs, (int)n);
    free(xs);
    if (gok(c, res)) return -1;
    int64_t dims[ONNX_MAX_RANK];
    dims[0] = -1;
    memcpy(dims + 1, od, sizeof(int64_t) * (size_t)r);
    return set_dyn(c, out, res, rank, dims);
}

/* ---- dispatch ---- */

static int run_node(ictx *c) {
    const char *op = c->cur->op;
    const char *dom = c->cur->domain;
    if (dom && dom[0] && strcmp(dom, "ai.onnx"))
        return ifail(c, DDX_ERR_UNSUPPORTED, "op from domain '%s' is not supported (standard ONNX ops only: %s)", dom,
                     SUPPORTED);
    for (int k = 0; k < c->cur->n_attrs; k++)
        if (c->cur->attrs[k].has_subgraph)
            return ifail(c, DDX_ERR_UNSUPPORTED, "control flow (subgraphs) is not supported");
    if (!strcmp(op, "Add")) return op_binary(c, EW_ADD);
    if (!strcmp(op, "Sub")) return op_binary(c, EW_SUB);
    if (!strcmp(op, "Mul")) return op_binary(c, EW_MUL);
    if (!strcmp(op, "Div")) return op_binary(c, EW_DIV);
    if (!strcmp(op, "Pow")) return op_binary(c, EW_POW);
    if (!strcmp(op, "Gelu")) return op_gelu(c);
    if (onnx_unary_op(op) >= 0 || !strcmp(op, "Reciprocal")) return op_unary(c);
    if (!strcmp(op, "Gemm")) return op_gemm_matmul(c, 1);
    if (!strcmp(op, "MatMul")) return op_gemm_matmul(c, 0);
    if (!strcmp(op, "Identity") || !strcmp(op, "Dropout")) return op_identity(c);
    if (!strcmp(op, "Cast")) return op_cast(c);
    if (!strcmp(op, "Shape")) return op_shape(c);
    if (!strcmp(op, "Constant")) return op_constant(c);
    if (!strcmp(op, "ConstantOfShape")) return op_constant_of_shape(c);
    if (!strcmp(op, "Unsqueeze")) return op_unsqueeze(c);
    if (!strcmp(op, "Squeeze")) return op_squeeze(c);
    if (!strcmp(op, "Flatten")) return op_flatten(c);
    if (!strcmp(op, "Reshape")) return op_reshape(c);
    if (!strcmp(op, "Slice")) return op_slice(c);
    if (!strcmp(op, "Split")) return op_split(c);
    if (!strcmp(op, "Gather")) return op_gather(c);
    if (!strcmp(op, "Concat")) return op_concat(c);
    const char *why = "";
    if (!strcmp(op, "Relu") || !strcmp(op, "LeakyRelu") || !strcmp(op, "Abs") || !strcmp(op, "Max") ||
        !strcmp(op, "Min") || !strcmp(op, "Clip") || !strcmp(op, "Elu") || !strcmp(op, "HardSigmoid"))
        why = " (not smooth: its derivatives are not defined everywhere)";
    return ifail(c, DDX_ERR_UNSUPPORTED, "op not supported%s; supported: %s", why, SUPPORTED);
}

/* ---- the model's inputs ---- */

static int split_names(ictx *c, const char *list, char names[][DDX_ONNX_NAME_MAX], int max) {
    int n = 0;
    const char *s = list;
    while (1) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && isspace((unsigned char)*s)) s++, len--;
        while (len && isspace((unsigned char)s[len - 1])) len--;
        if (len == 0 || len >= DDX_ONNX_NAME_MAX)
            return ifail(c, DDX_ERR_INVALID_ARG, "--inputs '%s': empty or too long name", list);
        if (n >= max) return ifail(c, DDX_ERR_LIMIT, "--inputs '%s': at most %d inputs", list, max);
        memcpy(names[n], s, len);
        names[n][len] = 0;
        if (!isalpha((unsigned char)names[n][0])) return ifail(c, DDX_ERR_INVALID_ARG, "--inputs: '%s' is not a name", names[n]);
        for (size_t k = 0; k < len; k++)
            if (!isalnum((unsigned char)names[n][k]) && names[n][k] != '_')
                return ifail(c, DDX_ERR_INVALID_ARG, "--inputs: '%s' is not a name", names[n]);
        n++;
        if (!e) break;
        s = e + 1;
    }
    return n;
}

static int name_taken(char names[][DDX_ONNX_NAME_MAX], int n, const char *x) {
    for (int k = 0; k < n; k++)
        if (!strcmp(names[k], x)) return 1;
    return 0;
}

/* Makes x unique among names[0..n) by appending 2, 3, ... */
static void unique_name(char names[][DDX_ONNX_NAME_MAX], int n, char *x) {
    if (!name_taken(names, n, x)) return;
    char base[DDX_ONNX_NAME_MAX];
    snprintf(base, sizeof base, "%s", x);
    for (int k = 2;; k++) {
        snprintf(x, DDX_ONNX_NAME_MAX, "%.40s%d", base, k);
        if (!name_taken(names, n, x)) return;
    }
}

static int setup_inputs_named(ictx *c, const char *inputs, int *real, int n_real, const int64_t *widths, int total,
                              int room, char (*names)[DDX_ONNX_NAME_MAX], ddx_node *xs);

/* The columns of one model input (the product of its non-point dims; past
 * DDX_ONNX_MAX_COLUMNS it stops at MAX + 1), or -1 with the reason set. */
static int64_t input_columns(ictx *c, const onnx_value_info *vi) {
    if (!vi->has_tensor_type) return ifail(c, DDX_ERR_UNSUPPORTED, "input '%s' is not a tensor", vi->name);
    if (!is_float_type(vi->elem_type))
        return ifail(c, DDX_ERR_UNSUPPORTED, "input '%s' has dtype %s; ddx reads float32 or float64 inputs",
                     vi->name, onnx_dtype_name(vi->elem_type));
    if (!vi->has_shape || vi->rank < 1)
        return ifail(c, DDX_ERR_UNSUPPORTED, "input '%s' has %s; expected [N] or [N, d]", vi->name,
                     vi->has_shape ? "rank 0" : "no shape");
    int64_t w = 1;
    for (int k = 1; k < vi->rank; k++) {
        if (vi->dims[k] < 0)
            return ifail(c, DDX_ERR_UNSUPPORTED,
                         "dimension %d of input '%s' is dynamic ('%s'); only the first (point) axis may be", k,
                         vi->name, vi->dim_param[k]);
        if (vi->dims[k] > DDX_ONNX_MAX_COLUMNS) return DDX_ONNX_MAX_COLUMNS + 1;
        w *= vi->dims[k];
        if (w > DDX_ONNX_MAX_COLUMNS) break;
    }
    if (w < 1) return ifail(c, DDX_ERR_UNSUPPORTED, "input '%s' has no features", vi->name);
    return w;
}

/* Counts the inputs' columns, then names them and makes the graph's inputs
 * (setup_inputs_named) in buffers sized by the count. */
static int setup_inputs(ictx *c, const char *inputs, int *real, int n_real) {
    int64_t *widths = malloc(sizeof(int64_t) * (size_t)(n_real + 1));
    char (*names)[DDX_ONNX_NAME_MAX] = NULL;
    ddx_node *xs = NULL;
    int rc = -1, total = 0;
    if (!widths) return ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    c->static_batch = -1;
    for (int q = 0; q < n_real; q++) {
        const onnx_value_info *vi = &c->m->inputs[real[q]];
        int64_t w = widths[q] = input_columns(c, vi);
        if (w < 0) goto out;
        if (w > DDX_ONNX_MAX_COLUMNS || total + w > DDX_ONNX_MAX_COLUMNS) {
            ifail(c, DDX_ERR_LIMIT, "the model takes more than %d input columns", DDX_ONNX_MAX_COLUMNS);
            goto out;
        }
        if (vi->dims[0] > 0) c->static_batch = vi->dims[0];
        total += (int)w;
    }
    if (total == 0) {
        ifail(c, DDX_ERR_UNSUPPORTED, "the model has no inputs");
        goto out;
    }
    int64_t wmax = 1;
    for (int q = 0; q < n_real; q++) wmax = widths[q] > wmax ? widths[q] : wmax;
    /* room for every name --inputs lists (a count that differs from total is refused later) */
    int listed = 0;
    if (inputs) {
        listed = 1;
        for (const char *q = inputs; *q && listed <= DDX_ONNX_MAX_COLUMNS; q++) listed += *q == ',';
    }
    int room = listed > total ? listed : total;
    names = malloc(sizeof *names * (size_t)room);
    xs = malloc(sizeof(ddx_node) * (size_t)wmax);
    rc = names && xs ? setup_inputs_named(c, inputs, real, n_real, widths, total, room, names, xs)
                     : ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
out:
    free(names), free(xs), free(widths);
    return rc;
}

static int setup_inputs_named(ictx *c, const char *inputs, int *real, int n_real, const int64_t *widths, int total,
                              int room, char (*names)[DDX_ONNX_NAME_MAX], ddx_node *xs) {
    onnx_model *m = c->m;
    if (inputs) {
        int k = split_names(c, inputs, names, room < DDX_ONNX_MAX_COLUMNS ? room : DDX_ONNX_MAX_COLUMNS);
        if (k < 0) return -1;
        if (k != total)
            return ifail(c, DDX_ERR_SHAPE, "--inputs names %d inputs but the model takes %d columns", k, total);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < a; b++)
                if (!strcmp(names[a], names[b])) return ifail(c, DDX_ERR_INVALID_ARG, "--inputs: '%s' given twice", names[a]);
    } else if (n_real == 1) {
        if (total == 1) strcpy(names[0], "x");
        else if (total == 2) strcpy(names[0], "t"), strcpy(names[1], "x");
        else
            for (int k = 0; k < total; k++) snprintf(names[k], DDX_ONNX_NAME_MAX, "x%d", k + 1);
    } else {
        int col = 0;
        for (int q = 0; q < n_real; q++) {
            char base[DDX_ONNX_NAME_MAX];
            ddx_onnx_sanitize_name(m->inputs[real[q]].name, "in", base);
            for (int64_t j = 0; j < widths[q]; j++) {
                if (widths[q] == 1) snprintf(names[col], DDX_ONNX_NAME_MAX, "%s", base);
                else snprintf(names[col], DDX_ONNX_NAME_MAX, "%.40s%d", base, (int)j + 1);
                unique_name(names, col, names[col]);
                col++;
            }
        }
    }
    int col = 0;
    for (int q = 0; q < n_real; q++) {
        const onnx_value_info *vi = &m->inputs[real[q]];
        for (int64_t j = 0; j < widths[q]; j++) {
            xs[j] = ddx_input(c->g, names[col++]);
            if (gok(c, xs[j])) return -1;
        }
        ddx_node v = xs[0];
        if (widths[q] > 1 && gok(c, v = ddx_concat(c->g, xs, (int)widths[q]))) return -1;
        oval *o = &c->vals[find_val(c, vi->name)];
        o->is_input = 1;
        o->dtype = vi->elem_type;
        if (set_dyn(c, o, v, vi->rank, vi->dims)) return -1;
    }
    return 0;
}

/* ---- the whole model ---- */

static int check_opset(ictx *c) {
    onnx_model *m = c->m;
    int found = 0;
    for (int k = 0; k < m->n_opsets; k++) {
        const char *d = m->opsets[k].domain ? m->opsets[k].domain : "";
        if (!d[0] || !strcmp(d, "ai.onnx")) {
            found = 1;
            c->opset = m->opsets[k].version > 1000 ? 1000 : (int)m->opsets[k].version;
        }
    }
    if (!found) return ifail(c, DDX_ERR_UNSUPPORTED, "the model names no ONNX opset (supported: %d to %d)", MIN_OPSET, MAX_OPSET);
    if (c->opset < MIN_OPSET || c->opset > MAX_OPSET)
        return ifail(c, DDX_ERR_UNSUPPORTED,
                     "opset %d is not supported (supported: %d to %d; re-export with opset_version in that range)",
                     c->opset, MIN_OPSET, MAX_OPSET);
    return 0;
}

static int build(ictx *c, const char *inputs, ddx_node *outputs, int max_outputs, int *n_outputs,
                 char (*output_names)[64]) {
    onnx_model *m = c->m;
    if (check_opset(c)) return -1;
    if (m->n_nodes > MAX_NODES) return ifail(c, DDX_ERR_LIMIT, "the model has %d nodes (at most %d)", m->n_nodes, MAX_NODES);
    if (m->n_outputs < 1) return ifail(c, DDX_ERR_PARSE, "the model has no outputs");
    int64_t nv = (int64_t)m->n_inits + m->n_inputs;
    for (int j = 0; j < m->n_nodes; j++) nv += m->nodes[j].n_out;
    if (nv > (1 << 24)) return ifail(c, DDX_ERR_LIMIT, "too many values");
    c->vals = calloc((size_t)(nv ? nv : 1), sizeof(oval));
    c->n_slots = 16;
    while (c->n_slots < 2 * nv) c->n_slots *= 2;
    c->slots = malloc(sizeof(int) * (size_t)c->n_slots);
    int *real = malloc(sizeof(int) * (size_t)(m->n_inputs + 1));
    int *needed = calloc((size_t)m->n_nodes + 1, sizeof(int)), *stack = malloc(sizeof(int) * ((size_t)m->n_nodes + 1));
    int *pending = calloc((size_t)m->n_nodes + 1, sizeof(int)), *queue = malloc(sizeof(int) * ((size_t)m->n_nodes + 1));
    int *ecount = calloc((size_t)m->n_nodes + 2, sizeof(int)), *edges = NULL;
    int rc = -1;
    char (*names)[DDX_ONNX_NAME_MAX] = NULL; /* output symbols, below */
    if (!c->vals || !c->slots || !real || !needed || !stack || !pending || !queue || !ecount) {
        ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    memset(c->slots, 0xff, sizeof(int) * (size_t)c->n_slots);
    /* constants */
    for (int k = 0; k < m->n_inits; k++) {
        onnx_tensor *t = &m->inits[k];
        int v = add_val(c, t->name);
        if (v < 0) {
            ifail(c, DDX_ERR_PARSE, "initializer '%s' is defined twice", t->name);
            goto done;
        }
        oval *o = &c->vals[v];
        o->kind = V_CONST;
        o->dtype = t->dtype;
        o->rank = t->rank;
        memcpy(o->dims, t->dims, sizeof o->dims);
        o->n = t->n;
        o->f = t->f;
        o->i = t->i;
    }
    /* inputs that are not initializers (IR < 4 lists both) */
    int n_real = 0;
    for (int k = 0; k < m->n_inputs; k++) {
        int v = find_val(c, m->inputs[k].name);
        if (v >= 0 && c->vals[v].kind == V_CONST) continue;
        if (v >= 0 || add_val(c, m->inputs[k].name) < 0) {
            ifail(c, DDX_ERR_PARSE, "input '%s' is listed twice", m->inputs[k].name);
            goto done;
        }
        real[n_real++] = k;
    }
    for (int j = 0; j < m->n_nodes; j++) {
        onnx_node *n = &m->nodes[j];
        for (int k = 0; k < n->n_out; k++) {
            if (!n->out[k][0]) continue;
            int v = add_val(c, n->out[k]);
            if (v < 0) {
                c->cur = n, c->cur_index = j;
                ifail(c, DDX_ERR_PARSE, "output '%s' is already defined elsewhere (ONNX values are assigned once)", n->out[k]);
                goto done;
            }
            c->vals[v].producer = j;
        }
    }
    /* what the outputs need, walking back from them */
    int sp = 0;
    for (int k = 0; k < m->n_outputs; k++) {
        int v = find_val(c, m->outputs[k].name);
        if (v < 0) {
            ifail(c, DDX_ERR_PARSE, "output '%s' is defined by no node, input or initializer", m->outputs[k].name);
            goto done;
        }
        c->vals[v].uses++;
        int p = c->vals[v].producer;
        if (p >= 0 && !needed[p]) needed[p] = 1, stack[sp++] = p;
    }
    while (sp > 0) {
        int j = stack[--sp];
        onnx_node *n = &m->nodes[j];
        for (int k = 0; k < n->n_in; k++) {
            if (!n->in[k][0]) continue;
            int v = find_val(c, n->in[k]);
            if (v < 0) {
                c->cur = n, c->cur_index = j;
                ifail(c, DDX_ERR_PARSE, "input '%s' is defined by no node, input or initializer", n->in[k]);
                goto done;
            }
            c->vals[v].uses++;
            int p = c->vals[v].producer;
            if (p >= 0) {
                pending[j]++;
                ecount[p + 1]++;
                if (!needed[p]) needed[p] = 1, stack[sp++] = p;
            }
        }
    }
    /* edges producer -> consumer (CSR), for a topological order (Kahn) */
    for (int j = 0; j < m->n_nodes; j++) ecount[j + 1] += ecount[j];
    edges = malloc(sizeof(int) * (size_t)(ecount[m->n_nodes] + 1));
    if (!edges) {
        ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    {
        int *fill = stack; /* reuse: per-producer write position */
        for (int j = 0; j < m->n_nodes; j++) fill[j] = ecount[j];
        for (int j = 0; j < m->n_nodes; j++) {
            if (!needed[j]) continue;
            onnx_node *n = &m->nodes[j];
            for (int k = 0; k < n->n_in; k++) {
                if (!n->in[k][0]) continue;
                int p = c->vals[find_val(c, n->in[k])].producer;
                if (p >= 0) edges[fill[p]++] = j;
            }
        }
    }
    c->fold_left = FOLD_BUDGET;
    c->expand_left = EXPAND_BUDGET;
    if (setup_inputs(c, inputs, real, n_real)) goto done;
    int qh = 0, qt = 0, n_needed = 0, done_n = 0;
    for (int j = 0; j < m->n_nodes; j++) {
        n_needed += needed[j];
        if (needed[j] && pending[j] == 0) queue[qt++] = j;
    }
    while (qh < qt) {
        int j = queue[qh++];
        c->cur = &m->nodes[j];
        c->cur_index = j;
        if (run_node(c)) goto done;
        for (int k = 0; k < c->cur->n_out; k++) {
            oval *o = output_val(c, k);
            if (o && o->uses && o->kind == V_NONE) {
                ifail(c, DDX_ERR_UNSUPPORTED, "output %d ('%s') is not supported", k, o->name);
                goto done;
            }
        }
        done_n++;
        for (int e = ecount[j]; e < ecount[j + 1]; e++)
            if (--pending[edges[e]] == 0) queue[qt++] = edges[e];
    }
    c->cur = NULL;
    if (done_n < n_needed) {
        for (int j = 0; j < m->n_nodes; j++)
            if (needed[j] && pending[j] > 0) {
                c->cur = &m->nodes[j];
                c->cur_index = j;
                break;
            }
        ifail(c, DDX_ERR_PARSE, "the graph has a cycle through this node (ONNX graphs must be acyclic)");
        goto done;
    }
    /* output symbols */
    /* the inputs' names and the outputs' (at most DDX_ONNX_MAX_OUTPUTS): unique together */
    names = malloc(sizeof *names * (size_t)(ddx_graph_num_inputs(c->g) + DDX_ONNX_MAX_OUTPUTS));
    if (!names) {
        ifail(c, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    int nn = 0;
    for (int k = 0; k < ddx_graph_num_inputs(c->g); k++) snprintf(names[nn++], DDX_ONNX_NAME_MAX, "%s", ddx_graph_input_name(c->g, k));
    int cols = 0;
    for (int k = 0; k < m->n_outputs; k++) {
        oval *o = &c->vals[find_val(c, m->outputs[k].name)];
        if (o->kind != V_DYN) {
            ifail(c, DDX_ERR_UNSUPPORTED, "output '%s' does not depend on the inputs", o->name);
            goto done;
        }
        int64_t w = dyn_width(o);
        char base[DDX_ONNX_NAME_MAX];
        /* an all-digit name is an exporter's tensor number (Keras: "30"), not
         * a name anyone chose: call it u like an unnamed output */
        int numeric = o->name[0] != 0;
        for (const char *q = o->name; *q; q++)
            if (!isdigit((unsigned char)*q)) numeric = 0;
        ddx_onnx_sanitize_name(numeric ? "" : o->name, "u", base);
        for (int64_t j = 0; j < w; j++, cols++) {
            if (cols >= DDX_ONNX_MAX_OUTPUTS) {
                ifail(c, DDX_ERR_LIMIT, "the model has more than %d output columns", DDX_ONNX_MAX_OUTPUTS);
                goto done;
            }
            char nm[DDX_ONNX_NAME_MAX];
            if (w == 1) snprintf(nm, sizeof nm, "%s", base);
            else snprintf(nm, sizeof nm, "%.40s%d", base, (int)j + 1);
            unique_name(names, nn, nm);
            snprintf(names[nn++], DDX_ONNX_NAME_MAX, "%s", nm);
            if (cols < max_outputs) {
                ddx_node x = comp(c, o->node, j);
                if (x == DDX_NO_NODE) goto done;
                if (outputs) outputs[cols] = x;
                if (output_names) snprintf(output_names[cols], 64, "%s", nm);
            }
        }
    }
    *n_outputs = cols;
    if (cols > max_outputs) {
        ifail(c, DDX_ERR_LIMIT, "the model has %d output columns, room for %d", cols, max_outputs);
        goto done;
    }
    rc = 0;
done:
    free(names);
    free(real), free(needed), free(stack), free(pending), free(queue), free(ecount), free(edges);
    return rc;
}

/* The graph's message: replaced (set) or only if none yet (fail), at most
 * 250 characters (err keeps the full one). */
static void graph_set(ddx_graph *g, ddx_status st, const char *msg) {
    char shortmsg[251];
    snprintf(shortmsg, sizeof shortmsg, "%.250s", msg);
    ddx_graph_set_error(g, st, shortmsg);
}
static void graph_fail(ddx_graph *g, ddx_status st, const char *msg) {
    if (ddx_graph_status(g) == DDX_OK) graph_set(g, st, msg);
}

/* The import with its full message in err (the graph keeps a shorter copy). */
static ddx_status import_buffer(ddx_graph *g, const void *data, size_t size, const char *inputs, ddx_node *outputs,
                                int max_outputs, int *n_outputs, char (*output_names)[64], char *err, size_t cap) {
    err[0] = 0;
    if (!g) {
        snprintf(err, cap, "onnx: null graph");
        return DDX_ERR_INVALID_ARG;
    }
    if (ddx_graph_status(g)) {
        snprintf(err, cap, "%s", ddx_graph_error(g));
        return ddx_graph_status(g);
    }
    ddx_status st = DDX_OK;
    if (!n_outputs || max_outputs < 0 || (max_outputs > 0 && !outputs)) {
        st = DDX_ERR_INVALID_ARG;
        snprintf(err, cap, "onnx: outputs/n_outputs missing");
    } else if (ddx_graph_num_inputs(g) != 0) {
        st = DDX_ERR_INVALID_ARG;
        snprintf(err, cap, "onnx: the graph already has inputs (import into a new graph)");
    }
    if (st) {
        graph_fail(g, st, err);
        return st;
    }
    *n_outputs = 0;
    onnx_model m;
    st = onnx_parse_model(data, size, &m, err, cap);
    if (st) {
        graph_fail(g, st, err);
        return st;
    }
    ictx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.m = &m;
    int rc = build(&c, inputs, outputs, max_outputs, n_outputs, output_names);
    for (int k = 0; k < c.n_arena; k++) free(c.arena[k]);
    free(c.arena);
    free(c.vals);
    free(c.slots);
    onnx_model_free(&m);
    if (rc == 0 && ddx_graph_status(g) == DDX_OK) return DDX_OK;
    /* one message with the node's context, replacing a builder's bare one */
    if (c.st == DDX_OK) c.st = ddx_graph_status(g) ? ddx_graph_status(g) : DDX_ERR_INTERNAL;
    snprintf(err, cap, "onnx: %s", c.err[0] ? c.err : "import failed");
    graph_set(g, c.st, err);
    return c.st;
}

ddx_status ddx_graph_from_onnx(ddx_graph *g, const void *data, size_t size, const char *inputs, ddx_node *outputs,
                               int max_outputs, int *n_outputs, char (*output_names)[64]) {
    char err[1024];
    return import_buffer(g, data, size, inputs, outputs, max_outputs, n_outputs, output_names, err, sizeof err);
}

/* Reads a whole file (at most MAX_FILE bytes). */
static ddx_status read_file(const char *path, unsigned char **out, size_t *size, char *err, size_t cap) {
    *out = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, cap, "%s: cannot open the ONNX model: %s", path, strerror(errno));
        return DDX_ERR_IO;
    }
    size_t bcap = 1 << 16, n = 0;
    unsigned char *buf = malloc(bcap);
    while (buf) {
        size_t got = fread(buf + n, 1, bcap - n, f);
        n += got;
        if (n < bcap) break;
        if (bcap >= MAX_FILE) {
            free(buf);
            fclose(f);
            snprintf(err, cap, "%s: larger than 2 GiB (the protobuf limit)", path);
            return DDX_ERR_LIMIT;
        }
        unsigned char *p = realloc(buf, bcap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = p;
        bcap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf) {
        snprintf(err, cap, "%s: out of memory reading the file", path);
        return DDX_ERR_OUT_OF_MEMORY;
    }
    if (bad) {
        free(buf);
        snprintf(err, cap, "%s: read error", path);
        return DDX_ERR_IO;
    }
    *out = buf;
    *size = n;
    return DDX_OK;
}

static ddx_status import_file(ddx_graph *g, const char *path, const char *inputs, ddx_node *outputs, int max_outputs,
                              int *n_outputs, char (*output_names)[64], char *err, size_t cap) {
    if (!g || !path) {
        snprintf(err, cap, "onnx: null graph or path");
        if (g) graph_fail(g, DDX_ERR_INVALID_ARG, err);
        return DDX_ERR_INVALID_ARG;
    }
    unsigned char *buf;
    size_t n;
    ddx_status st = read_file(path, &buf, &n, err, cap);
    if (st) {
        graph_fail(g, st, err);
        return st;
    }
    char msg[1024];
    st = import_buffer(g, buf, n, inputs, outputs, max_outputs, n_outputs, output_names, msg, sizeof msg);
    free(buf);
    if (st) {
        snprintf(err, cap, "%s: %.900s", path, msg);
        graph_set(g, st, err);
    }
    return st;
}

ddx_status ddx_graph_from_onnx_file(ddx_graph *g, const char *path, const char *inputs, ddx_node *outputs,
                                    int max_outputs, int *n_outputs, char (*output_names)[64]) {
    char err[1024];
    return import_file(g, path, inputs, outputs, max_outputs, n_outputs, output_names, err, sizeof err);
}
