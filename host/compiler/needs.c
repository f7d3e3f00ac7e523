/* needs.c — which Taylor coefficients each node must carry (DESIGN §3).
 * Walks the graph backwards from the outputs: grad(y, x_i) asks y for every
 * index it needs shifted by e_i; every other op passes its set to its
 * operands; each set is closed downward before it is passed on, because the
 * Faa di Bruno and Leibniz rules read all sub-indices. laplace(y) asks y
 * for Delta beta for each channel beta it carries (collapsed channels). */
#include "host/compiler/needs.h"

#include <stdio.h>

/* Size limits that name themselves. Past them the jet rules' cost (about
 * quadratic in the channels) and the tile workspace (gigabytes) make a
 * program that would run for minutes or be killed for memory: refuse it at
 * compile time instead. 16384 channels hold a Hessian diagonal in 8191
 * inputs, a Laplacian or gradient in 16382, an STDE estimate with 8191
 * samples; 1,500 random 8th-order partials in 16 inputs close to ~50,000.
 * Real PDE systems carry < 100. */
#define DDX_MAX_CHANNELS 16384
#define DDX_MAX_PROGRAM_ROWS ((int64_t)1 << 25) /* sum of width x channels over nodes */

static ddx_status too_many(int n, int64_t channels, int64_t rows, char *err, size_t errcap) {
    if (channels > DDX_MAX_CHANNELS)
        snprintf(err, errcap, "node %d needs %lld Taylor coefficients (channels), above the limit of %d "
                 "(DDX_MAX_CHANNELS): ask for fewer or lower-order partials", n, (long long)channels,
                 DDX_MAX_CHANNELS);
    else
        snprintf(err, errcap, "the program needs more than %lld rows of coefficients per point "
                 "(DDX_MAX_PROGRAM_ROWS, at node %d): ask for fewer or lower-order partials",
                 (long long)DDX_MAX_PROGRAM_ROWS, n);
    (void)rows;
    return DDX_ERR_LIMIT;
}

int needs_is_input_vector(const ddx_graph *g, ddx_node a) {
    const ddx_gnode *x = &g->nodes[a];
    if (x->op == OP_INPUT) return 1;
    if (x->op != OP_CONCAT) return 0;
    for (int i = 0; i < x->n_args; i++)
        if (g->nodes[x->args[i]].op != OP_INPUT) return 0;
    return 1;
}

ddx_status needs_analyze(const ddx_graph *g, const ddx_node *outs, int n_outs, mi_set *sets,
                         char *err, size_t errcap) {
    return needs_analyze_ex(g, outs, n_outs, sets, 0, err, errcap);
}

int needs_laplace_collapses(const mi_set *s, int cop) {
    for (int c = 0; c < s->n; c++) {
        ddx_mi m = s->v[c];
        if (mi_add_pair(&m, cop + 1)) return 0;
    }
    return 1;
}

ddx_status needs_analyze_ex(const ddx_graph *g, const ddx_node *outs, int n_outs, mi_set *sets, int flags,
                            char *err, size_t errcap) {
    const int const_jet = flags & NEEDS_CONST_JET;
    ddx_mi zero = mi_zero();
    int64_t rows = 0;
    for (int i = 0; i < n_outs; i++)
        if (mi_set_add(&sets[outs[i]], &zero)) goto oom;
    for (int n = g->n_nodes - 1; n >= 0; n--) {
        mi_set *s = &sets[n];
        if (s->n == 0) continue; /* not needed by any output */
        if (s->n > DDX_MAX_CHANNELS) return too_many(n, s->n, rows, err, errcap);
        if (mi_set_close(s, g->cops)) goto oom;
        const ddx_gnode *x = &g->nodes[n];
        rows += (int64_t)s->n * (x->width > 0 ? x->width : 1);
        if (s->n > DDX_MAX_CHANNELS || rows > DDX_MAX_PROGRAM_ROWS) return too_many(n, s->n, rows, err, errcap);
        switch (x->op) {
        case OP_INPUT:
        case OP_CONST:
            break;
        case OP_GRAD:
            for (int c = 0; c < s->n; c++) {
                ddx_mi m = s->v[c]; /* a collapsed channel too: d_i Delta^p d^alpha */
                if (mi_shift(&m, x->ival)) {
                    snprintf(err, errcap, "node %d: derivative order above %d", n, DDX_MAX_ORDER);
                    return DDX_ERR_LIMIT;
                }
                if (mi_set_add(&sets[x->a], &m)) goto oom;
            }
            break;
        case OP_LAPLACE:
            if (!(flags & NEEDS_UNCOLLAPSED) && needs_laplace_collapses(s, x->ival)) {
                /* channel beta of Delta y is channel Delta beta of y: one more pair
                 * (Delta Delta y is Delta^2 of y, d_k Delta y is "Delta k") */
                for (int c = 0; c < s->n; c++) {
                    ddx_mi m = s->v[c];
                    mi_add_pair(&m, x->ival + 1);
                    if (mi_set_add(&sets[x->a], &m)) goto oom;
                }
            } else { /* another operator's channel, or past the order: the sum spelled with grads */
                if (mi_set_union(&sets[x->b], s)) goto oom;
            }
            break;
        case OP_DENSE:
            if (const_jet && needs_is_input_vector(g, x->a)) { /* W x: only x's value is read */
                ddx_mi zero = mi_zero();
                if (mi_set_add(&sets[x->a], &zero)) goto oom;
            } else if (mi_set_union(&sets[x->a], s))
                goto oom;
            break;
        case OP_CONCAT:
            for (int i = 0; i < x->n_args; i++)
                if (mi_set_union(&sets[x->args[i]], s)) goto oom;
            break;
        default:
            if (x->a >= 0 && mi_set_union(&sets[x->a], s)) goto oom;
            if (x->b >= 0 && mi_set_union(&sets[x->b], s)) goto oom;
        }
    }
    return DDX_OK;
oom:
    snprintf(err, errcap, "out of memory in needs analysis");
    return DDX_ERR_OUT_OF_MEMORY;
}
