/* graph.c — building the graph: nodes, shape checks, common subexpressions.
 * Every builder validates its operands and records the first failure in the
 * graph (sticky), so a chain of builder calls can be checked once at the end. */
#include "host/graph/graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ddx_node ddx_graph_fail(ddx_graph *g, ddx_status s, const char *fmt, ...) {
    if (g && g->status == DDX_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g->error, sizeof g->error, fmt, ap);
        va_end(ap);
        g->status = s;
    }
    return DDX_NO_NODE;
}

ddx_graph *ddx_graph_create(void) { return calloc(1, sizeof(ddx_graph)); }

void ddx_graph_free(ddx_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) free(g->nodes[i].args);
    for (int i = 0; i < g->n_dense; i++) {
        free(g->dense[i].W);
        free(g->dense[i].b);
    }
    for (int i = 0; i < g->n_inputs; i++) free(g->input_names[i]);
    for (int i = 0; i < g->n_cops; i++) free(g->cops[i].in), free(g->cops[i].A);
    free(g->inputs);
    free(g->input_names);
    free(g->cops);
    for (int i = 0; i < g->n_dirsets; i++) free(g->dirsets[i].L);
    free(g->dirsets);
    free(g->nodes);
    free(g->cse);
    free(g->dense);
    free(g);
}

ddx_status ddx_graph_status(const ddx_graph *g) { return g ? g->status : DDX_ERR_INVALID_ARG; }
const char *ddx_graph_error(const ddx_graph *g) {
    if (!g) return "null graph";
    return g->status == DDX_OK ? "" : g->error;
}
void ddx_graph_clear_error(ddx_graph *g) {
    if (!g) return;
    g->status = DDX_OK;
    g->error[0] = 0;
}
void ddx_graph_set_error(ddx_graph *g, ddx_status s, const char *msg) {
    if (!g || s == DDX_OK) return;
    g->status = s;
    snprintf(g->error, sizeof g->error, "%s", msg ? msg : "");
}

static int valid(const ddx_graph *g, ddx_node n) { return n >= 0 && n < g->n_nodes; }

int ddx_node_width(const ddx_graph *g, ddx_node n) {
    return (g && valid(g, n)) ? g->nodes[n].width : -1;
}

/* Checks operands before building: a bad id is either a propagated earlier
 * failure (keep its message) or a caller error. */
static int check_operand(ddx_graph *g, ddx_node n, const char *what) {
    if (valid(g, n)) return 1;
    if (g->status == DDX_OK)
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "%s: operand %d is not a node of this graph", what, (int)n);
    return 0;
}

static int same_node(const ddx_gnode *x, const ddx_gnode *y) {
    if (x->op != y->op || x->width != y->width || x->a != y->a || x->b != y->b) return 0;
    switch (x->op) {
    case OP_INPUT: case OP_DENSE: return 0; /* always distinct */
    case OP_CONST: case OP_POW: return memcmp(&x->dval, &y->dval, sizeof(double)) == 0;
    case OP_UNARY: return x->uop == y->uop;
    case OP_POWI: case OP_COMPONENT: case OP_GRAD: case OP_LAPLACE: return x->ival == y->ival;
    case OP_CONCAT:
        return x->n_args == y->n_args && memcmp(x->args, y->args, sizeof(ddx_node) * (size_t)x->n_args) == 0;
    default: return 1;
    }
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
    return h * 0xFF51AFD7ED558CCDull;
}

/* Hash of what same_node compares. */
static uint64_t node_hash(const ddx_gnode *x) {
    uint64_t h = mix(mix(mix((uint64_t)x->op, (uint64_t)x->width), (uint64_t)(uint32_t)x->a), (uint64_t)(uint32_t)x->b);
    uint64_t bits;
    switch (x->op) {
    case OP_CONST: case OP_POW: memcpy(&bits, &x->dval, sizeof bits); return mix(h, bits);
    case OP_UNARY: return mix(h, (uint64_t)x->uop);
    case OP_POWI: case OP_COMPONENT: case OP_GRAD: case OP_LAPLACE: return mix(h, (uint64_t)(uint32_t)x->ival);
    case OP_CONCAT:
        for (int i = 0; i < x->n_args; i++) h = mix(h, (uint64_t)(uint32_t)x->args[i]);
        return h;
    default: return h;
    }
}

/* Slot of nd in the table: the id of an identical node, or an empty slot (-1). */
static int *cse_slot(const ddx_graph *g, const ddx_gnode *nd) {
    size_t mask = (size_t)g->cap_cse - 1, i = (size_t)node_hash(nd) & mask;
    while (g->cse[i] >= 0 && !same_node(&g->nodes[g->cse[i]], nd)) i = (i + 1) & mask;
    return &g->cse[i];
}

/* Keeps the table at most half full (doubling: linear total work). */
static int cse_reserve(ddx_graph *g) {
    if (g->cap_cse && 2 * (size_t)(g->n_nodes + 1) <= (size_t)g->cap_cse) return 0;
    int cap = g->cap_cse ? 2 * g->cap_cse : 256;
    int *t = malloc(sizeof(int) * (size_t)cap), *old = g->cse;
    if (!t) return -1;
    memset(t, 0xff, sizeof(int) * (size_t)cap);
    g->cse = t;
    g->cap_cse = cap;
    for (int n = 0; n < g->n_nodes; n++)
        if (g->nodes[n].op != OP_INPUT && g->nodes[n].op != OP_DENSE) *cse_slot(g, &g->nodes[n]) = n;
    free(old);
    return 0;
}

/* Adds a node, or returns the existing identical one (CSE by hash-consing:
 * hessian(u) and u_xx then share their grad nodes). Takes ownership of args. */
static ddx_node add_node(ddx_graph *g, ddx_gnode nd) {
    if (cse_reserve(g)) {
        free(nd.args);
        return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory building graph");
    }
    int distinct = nd.op == OP_INPUT || nd.op == OP_DENSE; /* never merged */
    int *slot = distinct ? NULL : cse_slot(g, &nd);
    if (slot && *slot >= 0) {
        free(nd.args);
        return *slot;
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
        ddx_gnode *p = realloc(g->nodes, sizeof(ddx_gnode) * (size_t)cap);
        if (!p) {
            free(nd.args);
            return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory building graph");
        }
        g->nodes = p;
        g->cap_nodes = cap;
    }
    if (slot) *slot = g->n_nodes;
    /* nesting depth of grad below this node, to refuse orders past the limit early */
    nd.order = nd.op == OP_GRAD;
    int sub = 0;
    if (nd.a >= 0) sub = g->nodes[nd.a].order;
    if (nd.b >= 0 && g->nodes[nd.b].order > sub) sub = g->nodes[nd.b].order;
    for (int i = 0; i < nd.n_args; i++)
        if (g->nodes[nd.args[i]].order > sub) sub = g->nodes[nd.args[i]].order;
    nd.order += sub;
    if (nd.op == OP_LAPLACE) nd.order = g->nodes[nd.b].order; /* b is the same sum, spelled with grads */
    g->nodes[g->n_nodes] = nd;
    return g->n_nodes++;
}

static ddx_gnode blank(ddx_opcode op, int width) {
    ddx_gnode n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.width = width;
    n.a = n.b = DDX_NO_NODE;
    return n;
}

ddx_node ddx_input(ddx_graph *g, const char *name) {
    if (!g) return DDX_NO_NODE;
    if (!name || !*name) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "input: empty name");
    if (g->n_inputs >= DDX_DIR_BASE) /* coordinates above are random directions */
        return ddx_graph_fail(g, DDX_ERR_LIMIT, "input '%s': at most %d inputs (DDX_DIR_BASE)", name, DDX_DIR_BASE);
    if (ddx_graph_find_input(g, name) != DDX_NO_NODE)
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "input '%s' defined twice", name);
    if (g->n_inputs == g->cap_inputs) {
        int cap = g->cap_inputs ? 2 * g->cap_inputs : 16;
        ddx_node *in = realloc(g->inputs, sizeof(ddx_node) * (size_t)cap);
        if (in) g->inputs = in;
        char **nm = in ? realloc(g->input_names, sizeof(char *) * (size_t)cap) : NULL;
        if (!nm) return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        g->input_names = nm;
        g->cap_inputs = cap;
    }
    char *copy = strdup(name);
    if (!copy) return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    ddx_gnode n = blank(OP_INPUT, 1);
    n.ival = g->n_inputs;
    ddx_node id = add_node(g, n);
    if (id == DDX_NO_NODE) {
        free(copy);
        return id;
    }
    g->inputs[g->n_inputs] = id;
    g->input_names[g->n_inputs++] = copy;
    return id;
}

int ddx_graph_num_inputs(const ddx_graph *g) { return g ? g->n_inputs : 0; }
ddx_node ddx_graph_input(const ddx_graph *g, int i) {
    return (g && i >= 0 && i < g->n_inputs) ? g->inputs[i] : DDX_NO_NODE;
}
const char *ddx_graph_input_name(const ddx_graph *g, int i) {
    return (g && i >= 0 && i < g->n_inputs) ? g->input_names[i] : NULL;
}
ddx_node ddx_graph_find_input(const ddx_graph *g, const char *name) {
    if (!g || !name) return DDX_NO_NODE;
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->input_names[i], name) == 0) return g->inputs[i];
    return DDX_NO_NODE;
}

ddx_node ddx_const(ddx_graph *g, double value) {
    if (!g) return DDX_NO_NODE;
    ddx_gnode n = blank(OP_CONST, 1);
    n.dval = value;
    return add_node(g, n);
}

static ddx_node binary(ddx_graph *g, ddx_opcode op, ddx_node a, ddx_node b, const char *what) {
    if (!g) return DDX_NO_NODE;
    if (!check_operand(g, a, what) || !check_operand(g, b, what)) return DDX_NO_NODE;
    int wa = g->nodes[a].width, wb = g->nodes[b].width;
    if (wa != wb && wa != 1 && wb != 1)
        return ddx_graph_fail(g, DDX_ERR_SHAPE, "%s: widths %d and %d do not match", what, wa, wb);
    ddx_gnode n = blank(op, wa > wb ? wa : wb);
    /* add and mul commute: order operands so CSE sees a+b and b+a as one */
    if ((op == OP_ADD || op == OP_MUL) && a > b) {
        ddx_node t = a;
        a = b;
        b = t;
    }
    n.a = a;
    n.b = b;
    return add_node(g, n);
}

ddx_node ddx_add(ddx_graph *g, ddx_node a, ddx_node b) { return binary(g, OP_ADD, a, b, "add"); }
ddx_node ddx_sub(ddx_graph *g, ddx_node a, ddx_node b) { return binary(g, OP_SUB, a, b, "sub"); }
ddx_node ddx_mul(ddx_graph *g, ddx_node a, ddx_node b) { return binary(g, OP_MUL, a, b, "mul"); }
ddx_node ddx_div(ddx_graph *g, ddx_node a, ddx_node b) {
    /* a / b = a * b^-1: one jet rule (power) instead of a quotient rule */
    return ddx_mul(g, a, ddx_powi(g, b, -1));
}

ddx_node ddx_unary(ddx_graph *g, ddx_unary_op op, ddx_node a) {
    if (!g) return DDX_NO_NODE;
    if ((int)op < 0 || (int)op >= DDX_NUM_UNARY_OPS)
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "unary: unknown op %d", (int)op);
    if (!check_operand(g, a, "unary")) return DDX_NO_NODE;
    ddx_gnode n = blank(OP_UNARY, g->nodes[a].width);
    n.uop = op;
    n.a = a;
    return add_node(g, n);
}
/* ddx_neg, ddx_exp, ..., one per row of ddx_ops.def */
#define UNARY_BUILDER(x, ID, name, onnx, poly) \
    ddx_node ddx_##name(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_##ID, a); }
DDX_UNARY_OPS(UNARY_BUILDER, _)
#undef UNARY_BUILDER

#define UNARY_NAME(x, ID, name, onnx, poly) #name,
static const char *const UNARY_NAMES[] = {DDX_UNARY_OPS(UNARY_NAME, _)};
#undef UNARY_NAME
_Static_assert(sizeof UNARY_NAMES / sizeof UNARY_NAMES[0] == DDX_NUM_UNARY_OPS, "one name per unary op");

const char *ddx_unary_op_name(ddx_unary_op op) {
    return (int)op >= 0 && (int)op < DDX_NUM_UNARY_OPS ? UNARY_NAMES[op] : NULL;
}
int ddx_unary_op_from_name(const char *name) {
    for (int i = 0; name && i < DDX_NUM_UNARY_OPS; i++)
        if (strcmp(UNARY_NAMES[i], name) == 0) return i;
    return -1;
}

ddx_node ddx_powi(ddx_graph *g, ddx_node a, int k) {
    if (!g) return DDX_NO_NODE;
    if (!check_operand(g, a, "powi")) return DDX_NO_NODE;
    if (k == 1) return a;
    if (k == 0) return ddx_const(g, 1.0);
    ddx_gnode n = blank(OP_POWI, g->nodes[a].width);
    n.a = a;
    n.ival = k;
    return add_node(g, n);
}

ddx_node ddx_pow(ddx_graph *g, ddx_node a, double p) {
    if (!g) return DDX_NO_NODE;
    if (!isfinite(p)) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "pow: exponent is not finite");
    if (p == floor(p) && fabs(p) <= 64) return ddx_powi(g, a, (int)p);
    if (!check_operand(g, a, "pow")) return DDX_NO_NODE;
    ddx_gnode n = blank(OP_POW, g->nodes[a].width);
    n.a = a;
    n.dval = p;
    return add_node(g, n);
}

ddx_node ddx_dense(ddx_graph *g, ddx_node a, int out, int in, const void *W, const void *b,
                   ddx_precision wprec) {
    if (!g) return DDX_NO_NODE;
    if (!check_operand(g, a, "dense")) return DDX_NO_NODE;
    if (!W) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "dense: W is NULL");
    if (out <= 0 || in <= 0 || out > 65536 || in > 65536)
        return ddx_graph_fail(g, DDX_ERR_SHAPE, "dense: bad shape %d x %d", out, in);
    if (g->nodes[a].width != in)
        return ddx_graph_fail(g, DDX_ERR_SHAPE, "dense: input has width %d, W has %d columns",
                              g->nodes[a].width, in);
    if (wprec != DDX_F32 && wprec != DDX_F64)
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "dense: bad weight precision");
    if (g->n_dense == g->cap_dense) {
        int cap = g->cap_dense ? 2 * g->cap_dense : 8;
        ddx_dense_weights *p = realloc(g->dense, sizeof *p * (size_t)cap);
        if (!p) return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        g->dense = p;
        g->cap_dense = cap;
    }
    ddx_dense_weights dw = {out, in, malloc(sizeof(double) * (size_t)out * (size_t)in),
                            calloc((size_t)out, sizeof(double))};
    if (!dw.W || !dw.b) {
        free(dw.W);
        free(dw.b);
        return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    }
    size_t nw = (size_t)out * (size_t)in;
    for (size_t i = 0; i < nw; i++) {
        dw.W[i] = wprec == DDX_F32 ? ((const float *)W)[i] : ((const double *)W)[i];
        if (!isfinite(dw.W[i])) {
            free(dw.W);
            free(dw.b);
            return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "dense: W[%zu] is not finite", i);
        }
    }
    for (int i = 0; b && i < out; i++) {
        dw.b[i] = wprec == DDX_F32 ? ((const float *)b)[i] : ((const double *)b)[i];
        if (!isfinite(dw.b[i])) {
            free(dw.W);
            free(dw.b);
            return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "dense: b[%d] is not finite", i);
        }
    }
    g->dense[g->n_dense] = dw;
    ddx_gnode n = blank(OP_DENSE, out);
    n.a = a;
    n.dense = g->n_dense++;
    return add_node(g, n);
}

ddx_node ddx_component(ddx_graph *g, ddx_node v, int i) {
    if (!g) return DDX_NO_NODE;
    if (!check_operand(g, v, "component")) return DDX_NO_NODE;
    if (i < 0 || i >= g->nodes[v].width)
        return ddx_graph_fail(g, DDX_ERR_SHAPE, "component %d of a width-%d node", i, g->nodes[v].width);
    if (g->nodes[v].width == 1) return v;
    ddx_gnode n = blank(OP_COMPONENT, 1);
    n.a = v;
    n.ival = i;
    return add_node(g, n);
}

ddx_node ddx_concat(ddx_graph *g, const ddx_node *xs, int count) {
    if (!g) return DDX_NO_NODE;
    if (!xs || count <= 0) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "concat: no operands");
    for (int i = 0; i < count; i++) {
        if (!check_operand(g, xs[i], "concat")) return DDX_NO_NODE;
        if (g->nodes[xs[i]].width != 1)
            return ddx_graph_fail(g, DDX_ERR_NOT_SCALAR, "concat: operand %d has width %d (scalars only)",
                                  i, g->nodes[xs[i]].width);
    }
    if (count == 1) return xs[0];
    ddx_gnode n = blank(OP_CONCAT, count);
    n.args = malloc(sizeof(ddx_node) * (size_t)count);
    if (!n.args) return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(n.args, xs, sizeof(ddx_node) * (size_t)count);
    n.n_args = count;
    return add_node(g, n);
}

/* ---- derivatives ---- */

ddx_node ddx_grad(ddx_graph *g, ddx_node y, ddx_node input) {
    if (!g) return DDX_NO_NODE;
    if (!check_operand(g, y, "grad") || !check_operand(g, input, "grad")) return DDX_NO_NODE;
    if (g->nodes[input].op != OP_INPUT)
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "grad: node %d is not an input", (int)input);
    if (g->nodes[y].width != 1)
        return ddx_graph_fail(g, DDX_ERR_NOT_SCALAR, "grad: node %d has width %d; grad needs a scalar",
                              (int)y, g->nodes[y].width);
    if (g->nodes[y].order + 1 > DDX_MAX_ORDER)
        return ddx_graph_fail(g, DDX_ERR_LIMIT, "grad: derivative order above %d", DDX_MAX_ORDER);
    ddx_gnode n = blank(OP_GRAD, 1);
    n.a = y;
    n.ival = g->nodes[input].ival;
    return add_node(g, n);
}

ddx_node ddx_partial(ddx_graph *g, ddx_node y, const int *alpha) {
    if (!g) return DDX_NO_NODE;
    if (!alpha) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "partial: alpha is NULL");
    int order = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        if (alpha[i] < 0) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "partial: negative order");
        /* checked before adding: a sum of user orders must not overflow */
        if (alpha[i] > DDX_MAX_ORDER - order)
            return ddx_graph_fail(g, DDX_ERR_LIMIT, "partial: total order above %d (alpha[%d] = %d)", DDX_MAX_ORDER,
                                  i, alpha[i]);
        order += alpha[i];
    }
    if (order > DDX_MAX_ORDER)
        return ddx_graph_fail(g, DDX_ERR_LIMIT, "partial: order %d above %d", order, DDX_MAX_ORDER);
    /* alpha = 0 returns y itself, so y must be validated here, not only by grad. */
    if (!check_operand(g, y, "partial")) return DDX_NO_NODE;
    if (g->nodes[y].width != 1)
        return ddx_graph_fail(g, DDX_ERR_NOT_SCALAR, "partial: node %d has width %d; a partial needs a scalar",
                              (int)y, g->nodes[y].width);
    ddx_node r = y;
    for (int i = 0; i < g->n_inputs; i++)
        for (int k = 0; k < alpha[i]; k++) r = ddx_grad(g, r, g->inputs[i]);
    return r;
}

ddx_status ddx_gradient(ddx_graph *g, ddx_node y, ddx_node *out) {
    if (!g) return DDX_ERR_INVALID_ARG;
    if (!out) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "gradient: out is NULL");
        return DDX_ERR_INVALID_ARG;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        out[i] = ddx_grad(g, y, g->inputs[i]);
        if (out[i] == DDX_NO_NODE) return g->status;
    }
    return DDX_OK;
}

ddx_status ddx_hessian(ddx_graph *g, ddx_node y, ddx_node *out) {
    if (!g) return DDX_ERR_INVALID_ARG;
    if (!out) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "hessian: out is NULL");
        return DDX_ERR_INVALID_ARG;
    }
    int d = g->n_inputs;
    for (int i = 0; i < d; i++) {
        ddx_node gi = ddx_grad(g, y, g->inputs[i]);
        for (int j = 0; j < d; j++) {
            /* d_j d_i y; the compiler maps both orders onto one coefficient */
            out[i * d + j] = ddx_grad(g, gi, g->inputs[j]);
            if (out[i * d + j] == DDX_NO_NODE) return g->status;
        }
    }
    return DDX_OK;
}

/* Checks a list of distinct input nodes and writes their indices, ascending,
 * into idx (all inputs when n_inputs == 0); returns the count, or -1. */
static int input_list(ddx_graph *g, const char *what, const ddx_node *inputs, int n_inputs, int **idx) {
    *idx = NULL;
    if (n_inputs < 0 || (n_inputs > 0 && !inputs)) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "%s: inputs is NULL", what);
        return -1;
    }
    int n = n_inputs ? n_inputs : g->n_inputs;
    if (n == 0) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "%s: graph has no inputs", what);
        return -1;
    }
    char *seen = calloc((size_t)g->n_inputs + 1, 1);
    int *v = malloc(sizeof(int) * (size_t)n);
    if (!seen || !v) {
        free(seen);
        free(v);
        ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    for (int k = 0; k < n_inputs; k++) {
        if (!check_operand(g, inputs[k], what) || g->nodes[inputs[k]].op != OP_INPUT) {
            if (valid(g, inputs[k]))
                ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "%s: node %d is not an input", what, (int)inputs[k]);
            free(seen);
            free(v);
            return -1;
        }
        int i = g->nodes[inputs[k]].ival;
        if (seen[i]) {
            ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "%s: input '%s' named twice", what, g->input_names[i]);
            free(seen);
            free(v);
            return -1;
        }
        seen[i] = 1;
    }
    int m = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (!n_inputs || seen[i]) v[m++] = i;
    free(seen);
    *idx = v;
    return m;
}

/* Index of the collapsed operator over in[0..n) (ascending) with matrix A
 * (NULL: identity), added if new; takes ownership of in and A. -1 on failure. */
static int find_cop_A(ddx_graph *g, int *in, int n, double *A) {
    for (int k = 0; k < g->n_cops; k++)
        if (g->cops[k].n_in == n && memcmp(g->cops[k].in, in, sizeof(int) * (size_t)n) == 0 &&
            (!A == !g->cops[k].A) && (!A || memcmp(g->cops[k].A, A, sizeof(double) * (size_t)n * (size_t)n) == 0)) {
            free(in);
            free(A);
            return k;
        }
    if (g->n_cops >= 65535) { /* ddx_mi.op is 16 bits */
        free(in);
        free(A);
        ddx_graph_fail(g, DDX_ERR_LIMIT, "laplacian: more than 65535 distinct input sets");
        return -1;
    }
    ddx_cop *c = realloc(g->cops, sizeof(ddx_cop) * (size_t)(g->n_cops + 1));
    if (!c) {
        free(in);
        free(A);
        ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        return -1;
    }
    g->cops = c;
    g->cops[g->n_cops] = (ddx_cop){n, in, A};
    return g->n_cops++;
}

static int find_cop(ddx_graph *g, int *in, int n) { return find_cop_A(g, in, n, NULL); }

ddx_node ddx_operator2(ddx_graph *g, ddx_node y, const double *A, const ddx_node *inputs, int n_inputs) {
    if (!g) return DDX_NO_NODE;
    if (!A) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "operator2: A is NULL");
    int *idx;
    int n = input_list(g, "operator2", inputs, n_inputs, &idx);
    if (n < 0) return DDX_NO_NODE;
    /* idx is sorted; A is given in the caller's input order: find each position */
    int *pos = malloc(sizeof(int) * (size_t)n);
    double *S = malloc(sizeof(double) * (size_t)n * (size_t)n);
    if (!pos || !S) {
        free(idx), free(pos), free(S);
        return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int k = 0; k < n; k++) {
        int i = n_inputs ? g->nodes[inputs[k]].ival : k;
        int j = 0;
        while (idx[j] != i) j++;
        pos[k] = j;
    }
    /* only the symmetric part acts on u_ij = u_ji */
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double v = 0.5 * (A[(size_t)a * n + b] + A[(size_t)b * n + a]);
            if (!isfinite(v)) {
                free(idx), free(pos), free(S);
                return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "operator2: A[%d][%d] is not finite", a, b);
            }
            S[(size_t)pos[a] * n + pos[b]] = v;
        }
    free(pos);
    ddx_node acc = DDX_NO_NODE;
    for (int a = 0; a < n && (a == 0 || acc != DDX_NO_NODE); a++)
        for (int b = 0; b < n; b++) {
            double v = S[(size_t)a * n + b];
            if (v == 0) continue;
            ddx_node t = ddx_grad(g, ddx_grad(g, y, g->inputs[idx[a]]), g->inputs[idx[b]]);
            if (v != 1) t = ddx_mul(g, ddx_const(g, v), t);
            acc = acc == DDX_NO_NODE ? t : ddx_add(g, acc, t);
            if (acc == DDX_NO_NODE && g->status) break;
        }
    if (acc == DDX_NO_NODE && g->status == DDX_OK) acc = ddx_mul(g, ddx_const(g, 0.0), y); /* A = 0 */
    if (acc == DDX_NO_NODE) {
        free(idx), free(S);
        return acc;
    }
    int op = find_cop_A(g, idx, n, S);
    if (op < 0) return DDX_NO_NODE;
    ddx_gnode nd = blank(OP_LAPLACE, 1);
    nd.a = y;
    nd.b = acc;
    nd.ival = op;
    return add_node(g, nd);
}

ddx_node ddx_laplacian_over(ddx_graph *g, ddx_node y, const ddx_node *inputs, int n_inputs) {
    if (!g) return DDX_NO_NODE;
    int *idx;
    int n = input_list(g, "laplacian", inputs, n_inputs, &idx);
    if (n < 0) return DDX_NO_NODE;
    ddx_node acc = DDX_NO_NODE;
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        ddx_node t = ddx_grad(g, ddx_grad(g, y, g->inputs[i]), g->inputs[i]);
        acc = acc == DDX_NO_NODE ? t : ddx_add(g, acc, t);
        if (acc == DDX_NO_NODE) break;
    }
    /* The compiler carries the Laplacian as collapsed channels of y (1 + d + 1
     * channels instead of 1 + d + d for the diagonal partials; laplacian of
     * laplacian: Delta^2, Dangel et al. 2025); acc, the sum spelled with
     * grads, is the fallback where y's channels carry another operator
     * (multiindex.h) or collapsing is switched off. */
    if (acc == DDX_NO_NODE) {
        free(idx);
        return acc;
    }
    int op = find_cop(g, idx, n);
    if (op < 0) return DDX_NO_NODE;
    ddx_gnode nd = blank(OP_LAPLACE, 1);
    nd.a = y;
    nd.b = acc;
    nd.ival = op;
    return add_node(g, nd);
}

ddx_status ddx_hessdiag(ddx_graph *g, ddx_node y, ddx_node *out) {
    if (!g) return DDX_ERR_INVALID_ARG;
    if (!out) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "hessdiag: out is NULL");
        return DDX_ERR_INVALID_ARG;
    }
    /* d^2 y / dx_i^2 for each i: the needs analysis then carries {0, e_i, 2e_i}
     * (1 + 2d channels) and no mixed partial */
    for (int i = 0; i < g->n_inputs; i++) {
        out[i] = ddx_grad(g, ddx_grad(g, y, g->inputs[i]), g->inputs[i]);
        if (out[i] == DDX_NO_NODE) return g->status;
    }
    return DDX_OK;
}

/* splitmix64: a counter-based generator, so v_s[i] depends on (seed, s, i) only */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double ddx_dir_component(uint64_t seed, int s, int i, ddx_dist dist) {
    uint64_t h = mix64(mix64(seed) ^ mix64(((uint64_t)(uint32_t)s << 32) | (uint32_t)i));
    if (dist == DDX_DIST_RADEMACHER) return (h >> 63) ? 1.0 : -1.0;
    /* Box-Muller from two 53-bit uniforms in (0, 1] */
    double u1 = ((double)(h >> 11) + 1.0) / 9007199254740992.0;
    double u2 = (double)(mix64(h) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double ddx_dirset_component(const ddx_dirset *ds, int s, int i) {
    if (!ds->L) return ddx_dir_component(ds->seed, s, i, ds->dist);
    if (i >= ds->nL) return 0; /* an input added after the estimator: not moved */
    double v = 0;
    for (int j = 0; j <= i; j++) v += ds->L[(size_t)i * ds->nL + j] * ddx_dir_component(ds->seed, s, j, ds->dist);
    return v;
}

/* grad of y along random direction k (a coordinate above the inputs) */
static ddx_node grad_dir(ddx_graph *g, ddx_node y, int k) {
    if (y == DDX_NO_NODE) return y;
    if (g->nodes[y].order + 1 > DDX_MAX_ORDER)
        return ddx_graph_fail(g, DDX_ERR_LIMIT, "laplacian: derivative order above %d", DDX_MAX_ORDER);
    ddx_gnode n = blank(OP_GRAD, 1);
    n.a = y;
    n.ival = DDX_DIR_BASE + k;
    return add_node(g, n);
}

/* mean over S directions of the k-th directional derivative of y, times
 * scale; L (may be NULL; taken over) shapes the directions v = L z */
static ddx_node stochastic_mean(ddx_graph *g, ddx_node y, int samples, uint64_t seed, int gaussian, int k,
                                double scale, double *L);

ddx_node ddx_operator2_stochastic(ddx_graph *g, ddx_node y, const double *A, int samples, uint64_t seed,
                                  int gaussian) {
    if (!g) return DDX_NO_NODE;
    if (!A) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "operator2: A is NULL");
    int d = g->n_inputs;
    if (d == 0) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "operator2: graph has no inputs");
    /* Cholesky of A's symmetric part, semi-definite allowed (a zero pivot
     * leaves its column 0): E[(Lz)^T H (Lz)] = tr(H L L^T) = sum a_ij h_ij */
    double *L = calloc((size_t)d * (size_t)d, sizeof(double));
    if (!L) return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    double scale = 0;
    for (int i = 0; i < d; i++) scale = fmax(scale, fabs(A[(size_t)i * d + i]));
    double tiny = 1e-12 * (scale > 0 ? scale : 1);
    for (int j = 0; j < d; j++) {
        double s = A[(size_t)j * d + j];
        for (int k = 0; k < j; k++) s -= L[(size_t)j * d + k] * L[(size_t)j * d + k];
        int bad = !isfinite(s) || s < -tiny;
        double ljj = s > tiny ? sqrt(s) : 0;
        L[(size_t)j * d + j] = ljj;
        for (int i = j + 1; i < d && !bad; i++) {
            double t = 0.5 * (A[(size_t)i * d + j] + A[(size_t)j * d + i]);
            for (int k = 0; k < j; k++) t -= L[(size_t)i * d + k] * L[(size_t)j * d + k];
            if (ljj > 0) L[(size_t)i * d + j] = t / ljj;
            else if (fabs(t) > 1e3 * tiny) bad = 1;
        }
        if (bad) {
            free(L);
            return ddx_graph_fail(g, DDX_ERR_INVALID_ARG,
                                  "operator2 (samples=): A is not positive semi-definite (at pivot %d); "
                                  "the estimator needs A = L L^T", j);
        }
    }
    return stochastic_mean(g, y, samples, seed, gaussian, 2, 1.0, L);
}

ddx_node ddx_laplacian_stochastic(ddx_graph *g, ddx_node y, int samples, uint64_t seed, int gaussian) {
    /* mean over s of v_s^T H v_s = d^2/dt^2 y(x + t v_s): unbiased for tr H
     * since E[v v^T] = I for both distributions */
    return stochastic_mean(g, y, samples, seed, gaussian, 2, 1.0, NULL);
}

ddx_node ddx_biharmonic_stochastic(ddx_graph *g, ddx_node y, int samples, uint64_t seed) {
    /* v ~ N(0, I): E[v_i v_j v_k v_l] = d_ij d_kl + d_ik d_jl + d_il d_jk, so
     * E[d^4/dt^4 y(x + t v)] = 3 sum_ij y_iijj = 3 (laplacian^2 y) */
    return stochastic_mean(g, y, samples, seed, 1, 4, 1.0 / 3.0, NULL);
}

static ddx_node stochastic_mean_body(ddx_graph *g, ddx_node y, int samples, uint64_t seed, int gaussian, int k,
                                     double scale, double **Lp);

static ddx_node stochastic_mean(ddx_graph *g, ddx_node y, int samples, uint64_t seed, int gaussian, int k,
                                double scale, double *L) {
    if (!g) {
        free(L);
        return DDX_NO_NODE;
    }
    ddx_node r = stochastic_mean_body(g, y, samples, seed, gaussian, k, scale, &L);
    free(L); /* NULL when a new dirset took it */
    return r;
}

static ddx_node stochastic_mean_body(ddx_graph *g, ddx_node y, int samples, uint64_t seed, int gaussian, int k,
                                     double scale, double **Lp) {
    if (!check_operand(g, y, "laplacian")) return DDX_NO_NODE;
    if (g->nodes[y].width != 1)
        return ddx_graph_fail(g, DDX_ERR_NOT_SCALAR, "laplacian: node %d has width %d; it needs a scalar", (int)y,
                              g->nodes[y].width);
    if (samples < 1 || samples > 65536)
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "laplacian: samples=%d (1..65536)", samples);
    if (g->n_inputs == 0) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "laplacian: graph has no inputs");
    if ((int64_t)g->n_dirs + samples > (int64_t)DDX_DIR_BASE)
        return ddx_graph_fail(g, DDX_ERR_LIMIT, "laplacian: more than %d random directions", DDX_DIR_BASE);
    ddx_dirset *ds = realloc(g->dirsets, sizeof(ddx_dirset) * (size_t)(g->n_dirsets + 1));
    if (!ds) return ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
    g->dirsets = ds;
    /* the same (samples, seed, dist) twice shares its directions (and so its nodes) */
    int first = -1;
    ddx_dist dist = gaussian ? DDX_DIST_GAUSSIAN : DDX_DIST_RADEMACHER;
    double *L = *Lp;
    int nL = L ? g->n_inputs : 0;
    for (int j = 0; j < g->n_dirsets; j++)
        if (ds[j].S == samples && ds[j].seed == seed && ds[j].dist == dist && ds[j].nL == nL &&
            (!L == !ds[j].L) && (!L || memcmp(L, ds[j].L, sizeof(double) * (size_t)nL * (size_t)nL) == 0))
            first = ds[j].first;
    if (first < 0) {
        first = g->n_dirs;
        ds[g->n_dirsets++] = (ddx_dirset){first, samples, seed, dist, nL, L};
        *Lp = NULL;
        g->n_dirs += samples;
    }
    ddx_node acc = DDX_NO_NODE;
    for (int s = 0; s < samples; s++) {
        ddx_node t = y;
        for (int j = 0; j < k; j++) t = grad_dir(g, t, first + s);
        acc = acc == DDX_NO_NODE ? t : ddx_add(g, acc, t);
        if (acc == DDX_NO_NODE) return DDX_NO_NODE;
    }
    double f = scale / samples;
    return f == 1.0 ? acc : ddx_mul(g, acc, ddx_const(g, f));
}

ddx_node ddx_laplacian(ddx_graph *g, ddx_node y) { return ddx_laplacian_over(g, y, NULL, 0); }

const char *ddx_opcode_name(const ddx_gnode *n) {
    switch (n->op) {
    case OP_INPUT: return "input";
    case OP_CONST: return "const";
    case OP_ADD: return "add";
    case OP_SUB: return "sub";
    case OP_MUL: return "mul";
    case OP_UNARY: return UNARY_NAMES[n->uop];
    case OP_POWI: return "powi";
    case OP_POW: return "pow";
    case OP_DENSE: return "dense";
    case OP_COMPONENT: return "component";
    case OP_CONCAT: return "concat";
    case OP_GRAD: return "grad";
    case OP_LAPLACE: return "laplace";
    }
    return "?";
}

/* ---- inspection (public: importers and tools read the graph through it) ---- */

int ddx_graph_num_nodes(const ddx_graph *g) { return g ? g->n_nodes : 0; }

static ddx_node_kind node_kind(ddx_opcode op) {
    switch (op) {
    case OP_INPUT: return DDX_NODE_INPUT;
    case OP_CONST: return DDX_NODE_CONST;
    case OP_ADD: return DDX_NODE_ADD;
    case OP_SUB: return DDX_NODE_SUB;
    case OP_MUL: return DDX_NODE_MUL;
    case OP_UNARY: return DDX_NODE_UNARY;
    case OP_POWI: return DDX_NODE_POWI;
    case OP_POW: return DDX_NODE_POW;
    case OP_DENSE: return DDX_NODE_DENSE;
    case OP_COMPONENT: return DDX_NODE_COMPONENT;
    case OP_CONCAT: return DDX_NODE_CONCAT;
    case OP_GRAD: return DDX_NODE_GRAD;
    case OP_LAPLACE: return DDX_NODE_LAPLACE;
    default: return DDX_NODE_OTHER;
    }
}

ddx_status ddx_node_get_info(const ddx_graph *g, ddx_node n, ddx_node_info *info) {
    if (!g || !info || !valid(g, n)) return DDX_ERR_INVALID_ARG;
    const ddx_gnode *x = &g->nodes[n];
    memset(info, 0, sizeof *info);
    info->kind = node_kind(x->op);
    info->width = x->width;
    info->a = x->a;
    info->b = x->b;
    info->uop = x->uop;
    info->ival = x->ival;
    info->dval = x->dval;
    info->args = x->args;
    info->n_args = x->n_args;
    info->order = x->order;
    if (x->op == OP_DENSE) {
        const ddx_dense_weights *w = &g->dense[x->dense];
        info->dense_out = w->out;
        info->dense_in = w->in;
        info->W = w->W;
        info->bias = w->b;
    }
    return DDX_OK;
}
