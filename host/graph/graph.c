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
    free(g->nodes);
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

/* Adds a node, or returns the existing identical one (CSE by hash-consing:
 * hessian(u) and u_xx then share their grad nodes). Takes ownership of args. */
static ddx_node add_node(ddx_graph *g, ddx_gnode nd) {
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        if (same_node(&g->nodes[i], &nd)) {
            free(nd.args);
            return i;
        }
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
    if (g->n_inputs >= DDX_MAX_INPUTS)
        return ddx_graph_fail(g, DDX_ERR_LIMIT, "input '%s': at most %d inputs", name, DDX_MAX_INPUTS);
    if (ddx_graph_find_input(g, name) != DDX_NO_NODE)
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "input '%s' defined twice", name);
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
    if ((int)op < DDX_NEG || (int)op > DDX_SILU)
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "unary: unknown op %d", (int)op);
    if (!check_operand(g, a, "unary")) return DDX_NO_NODE;
    ddx_gnode n = blank(OP_UNARY, g->nodes[a].width);
    n.uop = op;
    n.a = a;
    return add_node(g, n);
}
ddx_node ddx_neg(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_NEG, a); }
ddx_node ddx_exp(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_EXP, a); }
ddx_node ddx_log(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_LOG, a); }
ddx_node ddx_sqrt(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_SQRT, a); }
ddx_node ddx_sin(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_SIN, a); }
ddx_node ddx_cos(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_COS, a); }
ddx_node ddx_tanh(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_TANH, a); }
ddx_node ddx_sigmoid(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_SIGMOID, a); }
ddx_node ddx_softplus(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_SOFTPLUS, a); }
ddx_node ddx_silu(ddx_graph *g, ddx_node a) { return ddx_unary(g, DDX_SILU, a); }

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

ddx_node ddx_laplacian_over(ddx_graph *g, ddx_node y, const ddx_node *inputs, int n_inputs) {
    if (!g) return DDX_NO_NODE;
    if (n_inputs < 0 || (n_inputs > 0 && !inputs))
        return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "laplacian: inputs is NULL");
    int mask = 0;
    for (int k = 0; k < n_inputs; k++) {
        if (!check_operand(g, inputs[k], "laplacian")) return DDX_NO_NODE;
        if (g->nodes[inputs[k]].op != OP_INPUT)
            return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "laplacian: node %d is not an input", (int)inputs[k]);
        int bit = 1 << g->nodes[inputs[k]].ival;
        if (mask & bit)
            return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "laplacian: input '%s' named twice",
                                  g->input_names[g->nodes[inputs[k]].ival]);
        mask |= bit;
    }
    if (n_inputs == 0) mask = (1 << g->n_inputs) - 1; /* all inputs */
    ddx_node acc = DDX_NO_NODE;
    for (int i = 0; i < g->n_inputs; i++) {
        if (!((mask >> i) & 1)) continue;
        ddx_node t = ddx_grad(g, ddx_grad(g, y, g->inputs[i]), g->inputs[i]);
        acc = acc == DDX_NO_NODE ? t : ddx_add(g, acc, t);
        if (acc == DDX_NO_NODE) return DDX_NO_NODE;
    }
    if (acc == DDX_NO_NODE) return ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "laplacian: graph has no inputs");
    /* With no grad below y, the compiler can carry the Laplacian as one
     * collapsed channel (1 + d + 1 channels instead of 1 + d + d for the
     * diagonal partials); acc, the sum spelled with grads, stays as the
     * fallback for a Laplacian that is itself differentiated. */
    if (g->nodes[y].order > 0) return acc;
    ddx_gnode nd = blank(OP_LAPLACE, 1);
    nd.a = y;
    nd.b = acc;
    nd.ival = mask;
    return add_node(g, nd);
}

ddx_node ddx_laplacian(ddx_graph *g, ddx_node y) { return ddx_laplacian_over(g, y, NULL, 0); }

const char *ddx_opcode_name(const ddx_gnode *n) {
    static const char *unames[] = {"neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "silu"};
    switch (n->op) {
    case OP_INPUT: return "input";
    case OP_CONST: return "const";
    case OP_ADD: return "add";
    case OP_SUB: return "sub";
    case OP_MUL: return "mul";
    case OP_UNARY: return unames[n->uop];
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

/* For parsers: is n a constant, and which. */
int ddx_graph_const_value(const ddx_graph *g, ddx_node n, double *v) {
    if (!g || !valid(g, n) || g->nodes[n].op != OP_CONST) return 0;
    *v = g->nodes[n].dval;
    return 1;
}
