/* sparsity.c — structural zeros in the input dimensions (folx's trick).
 * A dense layer over the inputs has a constant jet (lower.c: cjet, W's
 * columns). When W has zeros — a block-structured first layer, unit j
 * reading only the coordinates of "its" electron — channel e_i of unit j
 * is exactly zero unless j reads x_i, and that is known at compile time:
 *  - the activation after that layer runs Faa di Bruno only on the non-zero
 *    (neuron, channel) entries, each with only the terms whose factors are
 *    all non-zero (its Laplacian channel: |block| terms instead of d);
 *  - the dense layer after the activation multiplies channel c only over
 *    the units where it is non-zero: channels with the same units form a
 *    group, one GEMM per contiguous run of those units (K = the run);
 *  - that layer's output has a pattern again (W's zeros against the runs):
 *    when it is block-structured too (a per-electron stack), the next
 *    activation and dense layer are sparse the same way, and so on.
 * A skipped term or product is an exact zero (c + a * 0 = c) and the kept
 * ones run in the dense path's order, so results equal the dense path's.
 * Not done: zero tracking through other ops (add, mul, concat: a dense
 * layer mixing all units leaves nothing structurally zero anyway), skipping
 * a block W's zero rows in the GEMMs (they are multiplied, giving zeros),
 * and permuting units into blocks: units reading the same inputs must be
 * contiguous already, else the runs are many and short and the dense path
 * is kept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/compiler/jet_program.h"

typedef unsigned char u8;

/* Below this fraction of the dense work the sparse form is used. */
#define SPARSE_MAX_FRACTION 0.5

static int sparse_enabled(void) {
    const char *e = getenv("DDX_SPARSE");
    return !(e && strcmp(e, "0") == 0);
}

/* Term t of unary u is non-zero on neuron n: all its factors are (nza: the
 * operand's pattern, neuron-major). */
static int term_active(const fdb_term *t, const u8 *nza, int anch, int n) {
    for (int j = 0; j < t->nf; j++)
        if (t->f[j] < 0 || !nza[(size_t)n * anch + t->f[j]]) return 0;
    return 1;
}

/* The per-neuron tables of a unary whose operand has pattern nza; *nz_out:
 * the unary's own pattern (NULL when the sparse form does not pay). */
static int sparse_unary(jet_program *p, jet_instr *u, const u8 *nza, u8 **nz_out) {
    const jet_value *dv = &p->values[u->dst], *av = &p->values[u->a];
    const int W = dv->width, nch = dv->nch, anch = av->nch;
    *nz_out = NULL;
    size_t ne = 0, nt = 0;
    for (int n = 0; n < W; n++)
        for (int c = 0; c < nch; c++) {
            int k = 0;
            for (int t = u->term_start[c]; t < u->term_start[c + 1]; t++) k += term_active(&u->fdb[t], nza, anch, n);
            ne += k > 0;
            nt += (size_t)k;
        }
    if ((double)nt > SPARSE_MAX_FRACTION * (double)u->term_start[nch] * W) return 0;
    u8 *nz = calloc((size_t)W * nch, 1);
    u->sp_nstart = malloc(sizeof(int) * ((size_t)W + 1));
    u->sp_ch = malloc(sizeof(int) * (ne + 1));
    u->sp_tstart = malloc(sizeof(int) * (ne + 1));
    u->sp_term = malloc(sizeof(int) * (nt + 1));
    if (!nz || !u->sp_nstart || !u->sp_ch || !u->sp_tstart || !u->sp_term) {
        free(nz);
        return -1;
    }
    int e = 0, k = 0;
    for (int n = 0; n < W; n++) {
        u->sp_nstart[n] = e;
        for (int c = 0; c < nch; c++) {
            int k0 = k;
            for (int t = u->term_start[c]; t < u->term_start[c + 1]; t++)
                if (term_active(&u->fdb[t], nza, anch, n)) u->sp_term[k++] = t;
            if (k == k0) continue;
            u->sp_ch[e] = c;
            u->sp_tstart[e++] = k0;
            nz[(size_t)n * nch + c] = 1;
        }
    }
    u->sp_nstart[W] = e;
    u->sp_tstart[e] = k;
    /* FLOPs: only the terms that run */
    double full = 0, kept = 0;
    for (int t = 0; t < u->term_start[nch]; t++) full += u->fdb[t].nf + 2;
    for (int t = 0; t < k; t++) kept += u->fdb[u->sp_term[t]].nf + 2;
    p->flops += kept - full * W;
    *nz_out = nz;
    return 0;
}

/* Groups and runs of a dense layer over an operand with pattern nza;
 * *used = 0 when the sparse form does not pay (too much work or too many
 * GEMMs). */
static int sparse_dense(jet_program *p, jet_instr *in, const u8 *nza, int *used, u8 **nz_out) {
    const jet_value *dv = &p->values[in->dst], *av = &p->values[in->a];
    const int K = av->width, nch = dv->nch, anch = av->nch;
    *used = 0;
    int *run = malloc(sizeof(int) * 2 * ((size_t)nch * ((size_t)K / 2 + 1) + 1));
    int *grp = malloc(sizeof(int) * 4 * ((size_t)nch + 1));
    int *tmp = malloc(sizeof(int) * 2 * ((size_t)K / 2 + 1));
    if (!run || !grp || !tmp) {
        free(run), free(grp), free(tmp);
        return -1;
    }
    int ng = 0, nr = 0;
    double work = 0;
    for (int c = 0; c < nch; c++) {
        const int s = in->amap[c];
        int nt = 0;
        for (int n = 0; s >= 0 && n < K; n++) {
            if (!nza[(size_t)n * anch + s]) continue;
            if (nt && tmp[2 * nt - 1] == n) tmp[2 * nt - 1] = n + 1;
            else tmp[2 * nt] = n, tmp[2 * nt + 1] = n + 1, nt++;
        }
        /* same units as the open group and the next source channel: join it */
        int *last = ng ? grp + 4 * (ng - 1) : NULL;
        if (last && s >= 0 && last[1] >= 0 && s == last[1] + last[2] && nr - last[3] == nt &&
            memcmp(run + 2 * last[3], tmp, sizeof(int) * 2 * (size_t)nt) == 0) {
            last[2]++;
        } else {
            grp[4 * ng] = c, grp[4 * ng + 1] = s, grp[4 * ng + 2] = 1, grp[4 * ng + 3] = nr;
            ng++;
            memcpy(run + 2 * nr, tmp, sizeof(int) * 2 * (size_t)nt);
            nr += nt;
        }
        for (int r = 0; r < nt; r++) work += tmp[2 * r + 1] - tmp[2 * r];
    }
    free(tmp);
    grp[4 * ng + 3] = nr;
    if (work > SPARSE_MAX_FRACTION * (double)nch * K || nr > 4 * nch) {
        free(run), free(grp);
        return 0;
    }
    p->flops += 2.0 * dv->width * (work - (double)nch * K);
    in->sp_ngroups = ng;
    in->sp_group = grp;
    in->sp_run = run;
    *used = 1;
    /* its own pattern: channel c of neuron o is non-zero where W[o] meets
     * one of c's runs (a block-structured next layer stays sparse) */
    const jet_dense *w = &p->dense[in->dense];
    u8 *nz = calloc((size_t)dv->width * nch, 1);
    if (!nz) return -1;
    for (int q = 0; q < ng; q++)
        for (int o = 0; o < dv->width; o++) {
            int hit = 0;
            for (int r = grp[4 * q + 3]; r < grp[4 * q + 7] && !hit; r++)
                for (int n = run[2 * r]; n < run[2 * r + 1] && !hit; n++) hit = w->W[(size_t)o * w->in + n] != 0;
            for (int k = 0; k < grp[4 * q + 2]; k++) nz[(size_t)o * nch + grp[4 * q] + k] = hit || grp[4 * q] + k == 0;
        }
    *nz_out = nz;
    return 0;
}

/* Every reader of value v is an instruction for which ok(reader) holds and
 * v is no program output. */
static int readers_are(const jet_program *p, int v, int (*ok)(const jet_instr *, int)) {
    for (int i = 0; i < p->n_instr; i++) {
        const jet_instr *x = &p->instr[i];
        int reads = (x->op != JI_INPUT && x->op != JI_CONST && x->a == v) || x->b == v;
        if (reads && !ok(x, v)) return 0;
    }
    for (int k = 0; k < p->n_outputs; k++)
        if (p->outputs[k].value == v) return 0;
    return 1;
}
static int is_sparse_unary(const jet_instr *x, int v) {
    return x->op == JI_UNARY && x->sp_nstart && x->a == v && x->b != v;
}
static int is_sparse_dense(const jet_instr *x, int v) {
    return x->op == JI_DENSE && x->sp_group && x->a == v && x->b != v;
}

/* "first-layer block sparsity: ..." for describe. */
static void describe(jet_program *p, const jet_instr *dn, const jet_instr *un, const u8 *nza, const jet_instr *next,
                     int n_layers) {
    const jet_value *av = &p->values[dn->dst], *uv = &p->values[un->dst];
    const mi_set *S = &p->sets[dn->dst];
    int blocks = 0, lo = 1 << 30, hi = 0;
    for (int n = 0; n < av->width; n++) {
        const u8 *row = nza + (size_t)n * av->nch;
        if (n == 0 || memcmp(row, row - av->nch, (size_t)av->nch)) blocks++;
        int k = 0;
        for (int c = 0; c < av->nch; c++) k += row[c] && !S->v[c].op && S->v[c].n == 1 && S->v[c].lab[0] < p->d;
        lo = k < lo ? k : lo, hi = k > hi ? k : hi;
    }
    char inputs[48];
    if (lo == hi) snprintf(inputs, sizeof inputs, "%d input%s each", lo, lo == 1 ? "" : "s");
    else snprintf(inputs, sizeof inputs, "%d..%d inputs each", lo, hi);
    double per = (double)un->sp_nstart[uv->width] / uv->width;
    int w = snprintf(p->sparsity, sizeof p->sparsity,
                     "first-layer block sparsity: %d blocks, %s; node %d %s on %.1f of %d channels per unit", blocks,
                     inputs, uv->node, uv->label, per, uv->nch);
    if (next && w > 0 && (size_t)w < sizeof p->sparsity) {
        const jet_value *nv = &p->values[next->dst];
        double work = 0;
        for (int q = 0; q < next->sp_ngroups; q++)
            for (int r = next->sp_group[4 * q + 3]; r < next->sp_group[4 * (q + 1) + 3]; r++)
                work += (double)next->sp_group[4 * q + 2] * (next->sp_run[2 * r + 1] - next->sp_run[2 * r]);
        w += snprintf(p->sparsity + w, sizeof p->sparsity - (size_t)w,
                      ", node %d dense %.1f%% of the dense multiply-adds (%d GEMMs)", nv->node,
                      100.0 * work / ((double)nv->nch * uv->width), next->sp_group[4 * next->sp_ngroups + 3]);
    }
    if (n_layers > 1 && w > 0 && (size_t)w < sizeof p->sparsity)
        snprintf(p->sparsity + w, sizeof p->sparsity - (size_t)w, "; %d sparse activation layers", n_layers);
}

int jet_program_sparsity(jet_program *p) {
    int any_cjet = 0;
    for (int i = 0; i < p->n_instr; i++) any_cjet |= p->instr[i].cjet != NULL;
    if (!any_cjet) return 0;
    if (!sparse_enabled()) {
        snprintf(p->sparsity, sizeof p->sparsity, "first-layer block sparsity: off (DDX_SPARSE=0)");
        return 0;
    }
    u8 **nz = calloc((size_t)p->n_values + 1, sizeof(u8 *)); /* per value: pattern, or NULL = dense */
    if (!nz) return -1;
    int rc = 0;
    /* constant-jet dense layers: channel c of neuron n is non-zero where cjet is */
    for (int i = 0; i < p->n_instr && !rc; i++) {
        const jet_instr *x = &p->instr[i];
        if (x->op != JI_DENSE || !x->cjet) continue;
        const jet_value *v = &p->values[x->dst];
        if (!(nz[x->dst] = malloc((size_t)v->width * v->nch))) rc = -1;
        for (size_t k = 0; !rc && k < (size_t)v->width * v->nch; k++)
            nz[x->dst][k] = k % (size_t)v->nch == 0 || x->cjet[k] != 0;
    }
    /* in program order: a unary over a pattern, a dense over a sparse unary
     * (whose output has a pattern again: stacked block layers stay sparse) */
    int *from = malloc(sizeof(int) * ((size_t)p->n_values + 1)); /* sparse unary value -> its cjet dense, or -2 */
    if (!from) rc = -1;
    for (int v = 0; !rc && v < p->n_values; v++) from[v] = -1;
    const jet_instr *shown_un = NULL, *shown_next = NULL;
    int n_layers = 0;
    for (int i = 0; i < p->n_instr && !rc; i++) {
        jet_instr *x = &p->instr[i];
        if (x->op == JI_UNARY && nz[x->a] && !nz[x->dst]) {
            int src = -2;
            for (int j = 0; j < i; j++)
                if (p->instr[j].op == JI_DENSE && p->instr[j].cjet && p->instr[j].dst == x->a) src = j;
            rc = sparse_unary(p, x, nz[x->a], &nz[x->dst]);
            if (nz[x->dst]) from[x->dst] = src, n_layers++;
        } else if (x->op == JI_DENSE && !x->cjet && from[x->a] != -1 && !nz[x->dst]) {
            int used;
            rc = sparse_dense(p, x, nz[x->a], &used, &nz[x->dst]);
            if (used && !shown_next) shown_next = x;
        }
    }
    /* zero entries are written only where a reader needs them */
    for (int i = 0; i < p->n_instr && !rc; i++) {
        jet_instr *x = &p->instr[i];
        if (x->op == JI_UNARY && x->sp_nstart) {
            x->sp_zero_fill = !readers_are(p, x->dst, is_sparse_dense);
            if (!shown_un && from[x->dst] >= 0) shown_un = x;
        }
        if (x->op == JI_DENSE && x->cjet) x->cjet_nz_only = readers_are(p, x->dst, is_sparse_unary);
    }
    if (!rc && shown_un) {
        const jet_instr *dn = &p->instr[from[shown_un->dst]];
        describe(p, dn, shown_un, nz[dn->dst], shown_next && shown_next->a == shown_un->dst ? shown_next : NULL,
                 n_layers);
    }
    for (int v = 0; v < p->n_values; v++) free(nz[v]);
    free(nz);
    free(from);
    return rc;
}
