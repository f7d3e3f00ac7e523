/* fd_reference.c — finite-difference reference (see fd_reference.h).
 * The interpreter below shares nothing with the jet program: it walks the
 * graph node by node in double precision, so agreement with ddx is evidence,
 * not a tautology. */
#include "tools/fd_reference.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "host/graph/graph.h"

/* float64 references of the unary ops, one ddx_ref_<name> per row of
 * ddx_ops.def (a row without one does not compile): plain libm formulas,
 * independent of the jet rules. */
static double ddx_ref_neg(double z) { return -z; }
static double ddx_ref_exp(double z) { return exp(z); }
static double ddx_ref_log(double z) { return log(z); }
static double ddx_ref_sqrt(double z) { return sqrt(z); }
static double ddx_ref_sin(double z) { return sin(z); }
static double ddx_ref_cos(double z) { return cos(z); }
static double ddx_ref_tanh(double z) { return tanh(z); }
static double ddx_ref_sigmoid(double z) { return 1.0 / (1.0 + exp(-z)); }
static double ddx_ref_softplus(double z) { return z > 30 ? z + log1p(exp(-z)) : log1p(exp(z)); }
static double ddx_ref_silu(double z) { return z / (1.0 + exp(-z)); }
static double ddx_ref_erf(double z) { return erf(z); }
static double ddx_ref_gelu(double z) { return 0.5 * z * erfc(-z / sqrt(2.0)); } /* 1 + erf cancels for z << 0 */

#define REF_ROW(a, ID, name, onnx, P) ddx_ref_##name,
static double (*const REFS[])(double) = {DDX_UNARY_OPS(REF_ROW, _)};
#undef REF_ROW
_Static_assert(sizeof REFS / sizeof REFS[0] == DDX_NUM_UNARY_OPS, "one reference per unary op");

static double act(ddx_unary_op op, double z) {
    return (int)op >= 0 && (int)op < DDX_NUM_UNARY_OPS ? REFS[op](z) : NAN;
}

/* A derivative direction of a stencil: an input (coord < d) or a random
 * direction (coord >= DDX_DIR_BASE), taken mult times. */
typedef struct fd_dir {
    int coord, mult;
} fd_dir;

static double fd_dirs(const ddx_graph *g, ddx_node y, const fd_dir *dirs, int nd, const double *x, int levels);

/* Walks nodes 0..n; grad nodes collapse their chain to (base, directions)
 * and go to fd_dirs. vals holds width entries per node (offsets in off). */
static int collapse_grad_chain(const ddx_graph *g, ddx_node n, fd_dir *dirs, int *nd) {
    *nd = 0;
    while (g->nodes[n].op == OP_GRAD) {
        int c = g->nodes[n].ival, k = 0;
        while (k < *nd && dirs[k].coord != c) k++;
        if (k == *nd) dirs[(*nd)++] = (fd_dir){c, 0};
        dirs[k].mult++;
        n = g->nodes[n].a;
    }
    return n;
}

static void eval_all(const ddx_graph *g, ddx_node upto, const double *x, double **vals, const char *need) {
    for (int n = 0; n <= upto; n++) {
        if (!need[n]) continue;
        const ddx_gnode *nd = &g->nodes[n];
        double *v = vals[n];
        const double *a = nd->a >= 0 ? vals[nd->a] : NULL, *b = nd->b >= 0 ? vals[nd->b] : NULL;
        int wa = nd->a >= 0 ? g->nodes[nd->a].width : 0, wb = nd->b >= 0 ? g->nodes[nd->b].width : 0;
        switch (nd->op) {
        case OP_INPUT: v[0] = x[nd->ival]; break;
        case OP_CONST: v[0] = nd->dval; break;
        case OP_ADD:
        case OP_SUB:
        case OP_MUL:
            for (int i = 0; i < nd->width; i++) {
                double p = a[wa == 1 ? 0 : i], q = b[wb == 1 ? 0 : i];
                v[i] = nd->op == OP_ADD ? p + q : nd->op == OP_SUB ? p - q : p * q;
            }
            break;
        case OP_UNARY:
            for (int i = 0; i < nd->width; i++) v[i] = act(nd->uop, a[i]);
            break;
        case OP_POWI:
            for (int i = 0; i < nd->width; i++) v[i] = pow(a[i], nd->ival);
            break;
        case OP_POW:
            for (int i = 0; i < nd->width; i++) v[i] = pow(a[i], nd->dval);
            break;
        case OP_DENSE: {
            const ddx_dense_weights *w = &g->dense[nd->dense];
            for (int o = 0; o < w->out; o++) {
                double s = w->b[o];
                for (int i = 0; i < w->in; i++) s += w->W[(size_t)o * w->in + i] * a[i];
                v[o] = s;
            }
            break;
        }
        case OP_COMPONENT: v[0] = a[nd->ival]; break;
        case OP_CONCAT:
            for (int i = 0; i < nd->n_args; i++) v[i] = vals[nd->args[i]][0];
            break;
        case OP_LAPLACE: v[0] = b[0]; break; /* b: the sum of d^2/dx_i^2 spelled with grad nodes */
        case OP_GRAD: {
            fd_dir dirs[DDX_MAX_ORDER];
            int nd;
            ddx_node base = collapse_grad_chain(g, n, dirs, &nd);
            v[0] = fd_dirs(g, base, dirs, nd, x, 3);
            break;
        }
        }
    }
}

double fd_eval(const ddx_graph *g, ddx_node n, const double *x) {
    if (!g || n < 0 || n >= g->n_nodes) return NAN;
    double **vals = malloc(sizeof(double *) * (size_t)(n + 1));
    if (!vals) return NAN;
    size_t total = 0;
    for (int i = 0; i <= n; i++) total += (size_t)g->nodes[i].width;
    double *store = malloc(sizeof(double) * total);
    if (!store) {
        free(vals);
        return NAN;
    }
    size_t off = 0;
    for (int i = 0; i <= n; i++) {
        vals[i] = store + off;
        off += (size_t)g->nodes[i].width;
    }
    /* only the cone of n: a grad node's chain is differenced from its base,
     * so what lies below it is not needed here (thousands of inputs make
     * thousands of grad nodes; walking them all per stencil point is quadratic) */
    char *need = calloc((size_t)n + 1, 1);
    if (!need) {
        free(store);
        free(vals);
        return NAN;
    }
    need[n] = 1;
    for (int m = n; m >= 0; m--) {
        if (!need[m]) continue;
        const ddx_gnode *nd = &g->nodes[m];
        if (nd->op == OP_GRAD) continue;
        if (nd->op == OP_LAPLACE) {
            need[nd->b] = 1;
            continue;
        }
        if (nd->a >= 0) need[nd->a] = 1;
        if (nd->b >= 0) need[nd->b] = 1;
        for (int i = 0; i < nd->n_args; i++) need[nd->args[i]] = 1;
    }
    eval_all(g, n, x, vals, need);
    free(need);
    double r = vals[n][0];
    free(store);
    free(vals);
    return r;
}

/* Direction vector of coordinate c: e_c, or random direction c - DDX_DIR_BASE
 * (the components ddx_dir_component gives the jets). */
static void dir_vector(const ddx_graph *g, int c, double *w) {
    int d = g->n_inputs;
    for (int i = 0; i < d; i++) w[i] = 0;
    if (c < DDX_DIR_BASE) {
        w[c] = 1;
        return;
    }
    int k = c - DDX_DIR_BASE;
    for (int j = 0; j < g->n_dirsets; j++) {
        const ddx_dirset *ds = &g->dirsets[j];
        if (k >= ds->first && k < ds->first + ds->S)
            for (int i = 0; i < d; i++) w[i] = ddx_dirset_component(ds, k - ds->first, i);
    }
}

/* Tensor-product central difference with step h: for each direction j,
 * the mult_j-th central difference, offsets (mult_j/2 - c_j) h along w_j. */
static double stencil(const ddx_graph *g, ddx_node y, const fd_dir *dirs, int nd, const double *const *w,
                      const double *x, double h, double *xs) {
    int d = g->n_inputs, cnt[DDX_MAX_ORDER] = {0}, order = 0;
    double sum = 0;
    for (int j = 0; j < nd; j++) order += dirs[j].mult;
    for (;;) {
        double wt = 1;
        for (int i = 0; i < d; i++) xs[i] = x[i];
        for (int j = 0; j < nd; j++) {
            int k = dirs[j].mult, c = cnt[j];
            double b = 1; /* (-1)^c C(k, c) */
            for (int q = 1; q <= c; q++) b = b * (k - c + q) / q;
            wt *= (c & 1) ? -b : b;
            double off = (0.5 * k - c) * h;
            for (int i = 0; i < d; i++) xs[i] += off * w[j][i];
        }
        sum += wt * fd_eval(g, y, xs);
        int j = 0;
        while (j < nd && ++cnt[j] > dirs[j].mult) cnt[j++] = 0;
        if (j == nd) break;
    }
    return sum / pow(h, order);
}

static double fd_dirs(const ddx_graph *g, ddx_node y, const fd_dir *dirs, int nd, const double *x, int levels) {
    int d = g->n_inputs, order = 0;
    for (int j = 0; j < nd; j++) order += dirs[j].mult;
    if (order == 0) return fd_eval(g, y, x);
    if (levels < 1) levels = 1;
    if (levels > 6) levels = 6;
    double *buf = malloc(sizeof(double) * (size_t)d * (size_t)(nd + 1));
    if (!buf) return NAN;
    double *w[DDX_MAX_ORDER], *xs = buf + (size_t)nd * d;
    for (int j = 0; j < nd; j++) dir_vector(g, dirs[j].coord, w[j] = buf + (size_t)j * d);
    /* smallest step balances rounding (eps / h^order) against the
     * extrapolated truncation (h^(2*levels)) */
    double scale = 1;
    for (int i = 0; i < d; i++)
        if (fabs(x[i]) > scale) scale = fabs(x[i]);
    double hmin = pow(DBL_EPSILON, 1.0 / (order + 2.0 * levels)) * scale;
    double R[6][6];
    for (int i = 0; i < levels; i++) {
        double h = hmin * (double)(1 << (levels - 1 - i));
        R[i][0] = stencil(g, y, dirs, nd, (const double *const *)w, x, h, xs);
        double f = 1;
        for (int j = 1; j <= i; j++) {
            f *= 4;
            R[i][j] = R[i][j - 1] + (R[i][j - 1] - R[i - 1][j - 1]) / (f - 1);
        }
    }
    free(buf);
    return R[levels - 1][levels - 1];
}

double fd_partial(const ddx_graph *g, ddx_node y, const int *alpha, const double *x, int levels) {
    fd_dir dirs[DDX_MAX_ORDER];
    int nd = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (alpha[i] > 0) {
            if (nd == DDX_MAX_ORDER) return NAN; /* order above the limit */
            dirs[nd++] = (fd_dir){i, alpha[i]};
        }
    return fd_dirs(g, y, dirs, nd, x, levels);
}
