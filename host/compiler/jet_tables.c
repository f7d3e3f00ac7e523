/* jet_tables.c — Faa di Bruno and Leibniz tables built once at compile
 * time, so evaluation is straight-line multiply-adds with integer weights. */
#include "host/compiler/jet_tables.h"

#include <stdlib.h>
#include <string.h>
#include "kernels/ddx_jet_rules.h"

static int push_fdb(fdb_term **terms, int *n, int *cap, const fdb_term *t) {
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 64;
        fdb_term *p = realloc(*terms, sizeof(fdb_term) * (size_t)c);
        if (!p) return -1;
        *terms = p;
        *cap = c;
    }
    (*terms)[(*n)++] = *t;
    return 0;
}

/* Appends a term or adds its coefficient to an equal term already in the
 * channel's list [first, *n): equal = same k and same factor multiset. */
static int add_fdb_term(fdb_term **terms, int *n, int *cap, int first, const fdb_term *t) {
    for (int i = first; i < *n; i++) {
        fdb_term *u = &(*terms)[i];
        if (u->k == t->k && u->nf == t->nf && memcmp(u->f, t->f, sizeof(int) * (size_t)t->nf) == 0) {
            u->coef += t->coef;
            return 0;
        }
    }
    return push_fdb(terms, n, cap, t);
}

/* Steps rgs (a restricted growth string of length m: a set partition of m
 * slots, rgs[i] = the block of slot i; mx[i] = max(rgs[0..i])) to the next
 * partition; 0 after the last. Starts from all zeros (one block). */
static int next_partition(int *rgs, int *mx, int m) {
    int j = m - 1;
    while (j > 0 && rgs[j] > mx[j - 1]) j--;
    if (j == 0) return 0;
    rgs[j]++;
    mx[j] = rgs[j] > mx[j - 1] ? rgs[j] : mx[j - 1];
    for (int i = j + 1; i < m; i++) {
        rgs[i] = 0;
        mx[i] = mx[j];
    }
    return 1;
}

static void sort_ints(int *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* Per-channel merge of equal terms in O(1): an open-addressing table of
 * term indices [first, n) of the channel being built (a biharmonic channel
 * enumerates ~10 d^2 products, d(d+1)/2 of them distinct). */
typedef struct term_hash {
    int *slot, cap, used;
} term_hash;

static uint64_t mix_key(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001B3ull; }

static uint64_t fdb_key(const fdb_term *t) {
    uint64_t h = mix_key(0xcbf29ce484222325ull, (uint64_t)(t->k * 64 + t->nf));
    for (int j = 0; j < t->nf; j++) h = mix_key(h, (uint32_t)t->f[j]);
    return h ^ (h >> 29);
}
static uint64_t leib_key(const leib_term *t) {
    uint64_t h = mix_key(mix_key(0xcbf29ce484222325ull, (uint32_t)t->ca), (uint32_t)t->cb);
    return h ^ (h >> 29);
}
static int fdb_same(const fdb_term *u, const fdb_term *t) {
    return u->k == t->k && u->nf == t->nf && memcmp(u->f, t->f, sizeof(int) * (size_t)t->nf) == 0;
}

static void hash_reset(term_hash *H) {
    if (H->used)
        for (int i = 0; i < H->cap; i++) H->slot[i] = -1;
    H->used = 0;
}

/* Makes room for one more entry; keys(i) rehashes term i. 0 or -1 (oom). */
static int hash_grow(term_hash *H, int first, int n, const void *terms, int fdb) {
    if (2 * (H->used + 1) <= H->cap) return 0;
    int cap = H->cap ? 2 * H->cap : 64;
    int *sl = malloc(sizeof(int) * (size_t)cap);
    if (!sl) return -1;
    for (int i = 0; i < cap; i++) sl[i] = -1;
    for (int t = first; t < n; t++) {
        uint64_t h = fdb ? fdb_key(&((const fdb_term *)terms)[t]) : leib_key(&((const leib_term *)terms)[t]);
        int i = (int)(h & (uint64_t)(cap - 1));
        while (sl[i] >= 0) i = (i + 1) & (cap - 1);
        sl[i] = t;
    }
    free(H->slot);
    H->slot = sl;
    H->cap = cap;
    return 0;
}

static int fdb_hash_add(fdb_term **terms, int *n, int *cap, int first, term_hash *H, const fdb_term *t) {
    if (hash_grow(H, first, *n, *terms, 1)) return -1;
    int i = (int)(fdb_key(t) & (uint64_t)(H->cap - 1));
    for (; H->slot[i] >= 0; i = (i + 1) & (H->cap - 1))
        if (fdb_same(&(*terms)[H->slot[i]], t)) {
            (*terms)[H->slot[i]].coef += t->coef;
            return 0;
        }
    if (push_fdb(terms, n, cap, t)) return -1;
    H->slot[i] = *n - 1;
    H->used++;
    return 0;
}

/* The contraction of one pair split over two blocks: sum_r w_r d_{j_r} (x)
 * d_{l_r}: (i, i, 1) over a Laplacian's inputs, (j, l, a_jl) over A's
 * non-zero entries (positions in op->in). */
typedef struct pair_split {
    int j, l;
    double w;
} pair_split;

static pair_split *split_list(const ddx_cop *op, int *nr) {
    int n = op->n_in, r = 0;
    pair_split *v = malloc(sizeof(pair_split) * (size_t)(op->A ? n * n : n) + 1);
    if (!v) return NULL;
    for (int j = 0; j < n; j++)
        for (int l = op->A ? 0 : j; l < (op->A ? n : j + 1); l++) {
            double w = op->A ? op->A[(size_t)j * n + l] : 1.0;
            if (w != 0) v[r++] = (pair_split){op->in[j], op->in[l], w};
        }
    *nr = r;
    return v;
}

/* Faa di Bruno for a collapsed channel Delta^p d^lab (p pairs + n labels):
 * set partitions of the 2p + n formal slots (pair k = slots 2k, 2k+1). A
 * pair inside one block is a Delta of that block's channel; a pair split
 * over two blocks is the contraction sum_r w_r (block + j_r)(block' + l_r),
 * enumerated over the split pairs (d^s products for s split pairs: the
 * f'' sum_ij z_ij^2 of the biharmonic). Equal products are merged. */
static int fdb_collapsed(const ddx_mi *alpha, const mi_set *src, const ddx_cop *op, int kzero, fdb_term **terms,
                         int *n, int *cap, int first, term_hash *H) {
    const int P = alpha->p, m = 2 * alpha->p + alpha->n;
    int nr;
    pair_split *R = split_list(op, &nr);
    if (!R) return -1;
    int rgs[DDX_MAX_ORDER] = {0}, mx[DDX_MAX_ORDER] = {0};
    for (;;) {
        int nb = mx[m - 1] + 1;
        if (kzero < 0 || nb <= kzero) {
            ddx_mi base[DDX_MAX_ORDER];
            int q[DDX_MAX_ORDER] = {0}, sa[DDX_MAX_ORDER], sb[DDX_MAX_ORDER], ns = 0;
            for (int b = 0; b < nb; b++) base[b] = mi_zero();
            for (int e = 0; e < alpha->n; e++) mi_shift(&base[rgs[2 * P + e]], alpha->lab[e]);
            for (int k = 0; k < P; k++) {
                if (rgs[2 * k] == rgs[2 * k + 1]) q[rgs[2 * k]]++;
                else sa[ns] = rgs[2 * k], sb[ns] = rgs[2 * k + 1], ns++;
            }
            for (int b = 0; b < nb; b++) {
                base[b].p = (uint8_t)q[b];
                base[b].op = q[b] ? alpha->op : 0;
            }
            int idx[DDX_MAX_ORDER] = {0};
            for (int more = ns == 0 || nr > 0; more;) {
                ddx_mi blk[DDX_MAX_ORDER];
                double w = 1;
                memcpy(blk, base, sizeof(ddx_mi) * (size_t)nb);
                for (int s = 0; s < ns; s++) {
                    const pair_split *r = &R[idx[s]];
                    mi_shift(&blk[sa[s]], r->j);
                    mi_shift(&blk[sb[s]], r->l);
                    w *= r->w;
                }
                fdb_term t = {w, nb, nb, {0}};
                for (int b = 0; b < nb; b++) t.f[b] = mi_set_find(src, &blk[b]);
                sort_ints(t.f, nb);
                if (fdb_hash_add(terms, n, cap, first, H, &t)) {
                    free(R);
                    return -1;
                }
                int s = 0; /* next assignment of the split pairs (an odometer) */
                while (s < ns && ++idx[s] == nr) idx[s++] = 0;
                more = s < ns;
            }
        }
        if (!next_partition(rgs, mx, m)) break;
    }
    free(R);
    return 0;
}

int fdb_table_build(const mi_set *dst, const mi_set *src, const ddx_cop *cops, int kzero, int **term_start,
                    fdb_term **terms_out) {
    int *start = malloc(sizeof(int) * (size_t)(dst->n + 1));
    fdb_term *terms = NULL;
    term_hash H = {NULL, 0, 0};
    int n = 0, cap = 0;
    if (!start) return -1;
    for (int c = 0; c < dst->n; c++) {
        start[c] = n;
        const ddx_mi *alpha = &dst->v[c];
        int order = mi_order(alpha);
        if (order == 0) {
            fdb_term t = {1.0, 0, 0, {0}};
            if (add_fdb_term(&terms, &n, &cap, start[c], &t)) goto oom;
            continue;
        }
        if (alpha->op && (alpha->p > 1 || alpha->n > 0)) { /* Delta^p d^lab: pairs and labels */
            hash_reset(&H);
            if (fdb_collapsed(alpha, src, &cops[alpha->op - 1], kzero, &terms, &n, &cap, start[c], &H)) goto oom;
            continue;
        }
        if (alpha->op) { /* (f o z)_L = f'(z) z_L + f''(z) sum_i z_i^2 */
            const ddx_cop *op = &cops[alpha->op - 1];
            fdb_term t = {1.0, 1, 1, {mi_set_find(src, alpha)}};
            if ((kzero < 0 || kzero >= 1) && add_fdb_term(&terms, &n, &cap, start[c], &t)) goto oom;
            /* distinct factors: appended without the O(terms) merge scan (d of them);
             * a general A: f''(z) sum_jk a_jk z_j z_k, the pairs j < k merged */
            for (int j = 0; j < op->n_in && (kzero < 0 || kzero >= 2); j++) {
                ddx_mi e = mi_unit(op->in[j]);
                int ej = mi_set_find(src, &e);
                for (int k = op->A ? j : j; k < (op->A ? op->n_in : j + 1); k++) {
                    double a = op->A ? op->A[(size_t)j * op->n_in + k] * (k == j ? 1 : 2) : 1.0;
                    if (a == 0) continue;
                    ddx_mi f = mi_unit(op->in[k]);
                    fdb_term q = {a, 2, 2, {ej, mi_set_find(src, &f)}};
                    if (push_fdb(&terms, &n, &cap, &q)) goto oom;
                }
            }
            continue;
        }
        /* labels: alpha written as a list of coordinates, e.g. (2,1) -> 0 0 1 */
        int label[DDX_MAX_ORDER], L = alpha->n;
        for (int k = 0; k < L; k++) label[k] = alpha->lab[k];
        /* set partitions of the L labels as restricted growth strings */
        int rgs[DDX_MAX_ORDER] = {0}, mx[DDX_MAX_ORDER] = {0};
        for (;;) {
            int nblocks = mx[L - 1] + 1;
            if (kzero < 0 || nblocks <= kzero) {
                ddx_mi blk[DDX_MAX_ORDER];
                for (int b = 0; b < nblocks; b++) blk[b] = mi_zero();
                for (int j = 0; j < L; j++) mi_shift(&blk[rgs[j]], label[j]);
                fdb_term t = {1.0, nblocks, nblocks, {0}};
                for (int b = 0; b < nblocks; b++) t.f[b] = mi_set_find(src, &blk[b]);
                sort_ints(t.f, nblocks);
                if (add_fdb_term(&terms, &n, &cap, start[c], &t)) goto oom;
            }
            if (!next_partition(rgs, mx, L)) break;
        }
    }
    start[dst->n] = n;
    *term_start = start;
    *terms_out = terms;
    free(H.slot);
    return 0;
oom:
    free(start);
    free(terms);
    free(H.slot);
    return -1;
}

static double binom(int n, int k) {
    double r = 1;
    for (int i = 1; i <= k; i++) r = r * (n - k + i) / i;
    return r;
}

/* Appends a Leibniz term, growing the array; 0, or -1 when out of memory. */
static int push_leib(leib_term **terms, int *n, int *cap, leib_term t) {
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 64;
        leib_term *p = realloc(*terms, sizeof(leib_term) * (size_t)c);
        if (!p) return -1;
        *terms = p;
        *cap = c;
    }
    (*terms)[(*n)++] = t;
    return 0;
}

/* beta <= alpha as the sub-multisets of alpha's labels: counts per distinct
 * label, enumerated like an odometer; terms sorted by beta's channel. */
typedef struct sub_term {
    int bi;
    leib_term t;
} sub_term;
static int cmp_sub(const void *x, const void *y) {
    return ((const sub_term *)x)->bi - ((const sub_term *)y)->bi;
}

static int leib_hash_add(leib_term **terms, int *n, int *cap, int first, term_hash *H, leib_term t) {
    if (hash_grow(H, first, *n, *terms, 0)) return -1;
    int i = (int)(leib_key(&t) & (uint64_t)(H->cap - 1));
    for (; H->slot[i] >= 0; i = (i + 1) & (H->cap - 1)) {
        leib_term *u = &(*terms)[H->slot[i]];
        if (u->ca == t.ca && u->cb == t.cb) {
            u->coef += t.coef;
            return 0;
        }
    }
    if (push_leib(terms, n, cap, t)) return -1;
    H->slot[i] = *n - 1;
    H->used++;
    return 0;
}

static double factorial(int k) {
    double r = 1;
    for (int i = 2; i <= k; i++) r *= i;
    return r;
}

/* Leibniz for a collapsed channel Delta^p d^lab: each pair goes wholly to
 * x (qx of them), wholly to y (qy), or is split, one half each way (s =
 * p - qx - qy; both orientations: 2 sum_r w_r x_{+j_r} y_{+l_r}), with the
 * multinomial p! / (qx! qy! s!); the labels as sub-multisets (binomials). */
static int leib_collapsed(const ddx_mi *alpha, const mi_set *xs, const mi_set *ys, const ddx_cop *op,
                          leib_term **terms, int *n, int *cap, int first, term_hash *H) {
    const int P = alpha->p;
    int nr;
    pair_split *R = split_list(op, &nr);
    if (!R) return -1;
    int lab[DDX_MAX_ORDER], mult[DDX_MAX_ORDER], nd = 0;
    for (int k = 0; k < alpha->n; k++) {
        if (nd && lab[nd - 1] == alpha->lab[k]) mult[nd - 1]++;
        else lab[nd] = alpha->lab[k], mult[nd] = 1, nd++;
    }
    for (int qx = 0; qx <= P; qx++)
        for (int qy = 0; qx + qy <= P; qy++) {
            const int ns = P - qx - qy;
            const double pc = factorial(P) / (factorial(qx) * factorial(qy) * factorial(ns)) * (double)(1 << ns);
            int cnt[DDX_MAX_ORDER] = {0};
            for (;;) { /* sub-multisets of the labels */
                ddx_mi bx = mi_zero(), by = mi_zero();
                double coef = pc;
                for (int j = 0; j < nd; j++) {
                    for (int k = 0; k < cnt[j]; k++) mi_shift(&bx, lab[j]);
                    for (int k = cnt[j]; k < mult[j]; k++) mi_shift(&by, lab[j]);
                    coef *= binom(mult[j], cnt[j]);
                }
                bx.p = (uint8_t)qx, bx.op = qx ? alpha->op : 0;
                by.p = (uint8_t)qy, by.op = qy ? alpha->op : 0;
                int idx[DDX_MAX_ORDER] = {0};
                for (int more = ns == 0 || nr > 0; more;) {
                    ddx_mi x = bx, y = by;
                    double w = coef;
                    for (int s = 0; s < ns; s++) {
                        mi_shift(&x, R[idx[s]].j);
                        mi_shift(&y, R[idx[s]].l);
                        w *= R[idx[s]].w;
                    }
                    if (leib_hash_add(terms, n, cap, first, H,
                                      (leib_term){w, mi_set_find(xs, &x), mi_set_find(ys, &y)})) {
                        free(R);
                        return -1;
                    }
                    int s = 0;
                    while (s < ns && ++idx[s] == nr) idx[s++] = 0;
                    more = s < ns;
                }
                int j = 0;
                while (j < nd && ++cnt[j] > mult[j]) cnt[j++] = 0;
                if (j == nd) break;
            }
        }
    free(R);
    return 0;
}

int leibniz_table_build(const mi_set *dst, const mi_set *xs, const mi_set *ys, const ddx_cop *cops,
                        int **term_start, leib_term **terms_out) {
    int *start = malloc(sizeof(int) * (size_t)(dst->n + 1));
    leib_term *terms = NULL;
    term_hash H = {NULL, 0, 0};
    int n = 0, cap = 0;
    if (!start) return -1;
    for (int c = 0; c < dst->n; c++) {
        start[c] = n;
        const ddx_mi *alpha = &dst->v[c];
        if (alpha->op && (alpha->p > 1 || alpha->n > 0)) { /* Delta^p d^lab: pairs and labels */
            hash_reset(&H);
            if (leib_collapsed(alpha, xs, ys, &cops[alpha->op - 1], &terms, &n, &cap, start[c], &H)) goto oom;
            continue;
        }
        if (alpha->op) { /* (xy)_L = x y_L + x_L y + 2 sum_i x_i y_i */
            const ddx_cop *op = &cops[alpha->op - 1];
            ddx_mi zero = mi_zero();
            if (push_leib(&terms, &n, &cap, (leib_term){1.0, mi_set_find(xs, &zero), mi_set_find(ys, alpha)}) ||
                push_leib(&terms, &n, &cap, (leib_term){1.0, mi_set_find(xs, alpha), mi_set_find(ys, &zero)}))
                goto oom;
            /* a general A: sum_jk a_jk (x_j y_k + x_k y_j) = sum_jk 2 a_jk x_j y_k */
            for (int j = 0; j < op->n_in; j++) {
                ddx_mi e = mi_unit(op->in[j]);
                for (int k = op->A ? 0 : j; k < (op->A ? op->n_in : j + 1); k++) {
                    double a = op->A ? 2 * op->A[(size_t)j * op->n_in + k] : 2.0;
                    if (a == 0) continue;
                    ddx_mi f = mi_unit(op->in[k]);
                    if (push_leib(&terms, &n, &cap, (leib_term){a, mi_set_find(xs, &e), mi_set_find(ys, &f)})) goto oom;
                }
            }
            continue;
        }
        /* every beta <= alpha is in dst (closed), hence in xs and ys:
         * enumerate the sub-multisets of alpha's labels (at most 2^order) */
        int lab[DDX_MAX_ORDER], mult[DDX_MAX_ORDER], cnt[DDX_MAX_ORDER], nd = 0;
        for (int k = 0; k < alpha->n; k++) {
            if (nd && lab[nd - 1] == alpha->lab[k]) mult[nd - 1]++;
            else lab[nd] = alpha->lab[k], mult[nd] = 1, cnt[nd] = 0, nd++;
        }
        sub_term sub[1 << DDX_MAX_ORDER];
        int ns = 0;
        for (;;) {
            ddx_mi beta = mi_zero(), rest = mi_zero();
            double coef = 1;
            for (int j = 0; j < nd; j++) {
                for (int k = 0; k < cnt[j]; k++) mi_shift(&beta, lab[j]);
                for (int k = cnt[j]; k < mult[j]; k++) mi_shift(&rest, lab[j]);
                coef *= binom(mult[j], cnt[j]);
            }
            sub[ns++] = (sub_term){mi_set_find(dst, &beta), {coef, mi_set_find(xs, &beta), mi_set_find(ys, &rest)}};
            int j = 0;
            while (j < nd && ++cnt[j] > mult[j]) cnt[j++] = 0;
            if (j == nd) break;
        }
        qsort(sub, (size_t)ns, sizeof sub[0], cmp_sub);
        for (int k = 0; k < ns; k++)
            if (push_leib(&terms, &n, &cap, sub[k].t)) goto oom;
    }
    start[dst->n] = n;
    *term_start = start;
    *terms_out = terms;
    free(H.slot);
    return 0;
oom:
    free(start);
    free(terms);
    free(H.slot);
    return -1;
}

void derivative_polys(int which, int kmax, double *rows) {
    /* P_0(t) = t; P_{k+1} = (1 - t^2) P_k'   (tanh)
     * Q_0(s) = s; Q_{k+1} = (s - s^2) Q_k'   (sigmoid)
     * Every P_k, Q_k with k >= 1 carries the factor f' = 1 - t^2 (s - s^2):
     * row k >= 1 holds the quotient R_k = P_k / f' (degree k - 1), and the
     * evaluators multiply by f' computed from exp(-2|z|) (exp(-|z|)), which
     * stays accurate where 1 - t^2 cancels (saturated units). Row 0 is P_0. */
    double P[(DDX_MAX_ORDER + 2) * DDX_POLY_STRIDE];
    memset(P, 0, sizeof P);
    memset(rows, 0, sizeof(double) * (size_t)(kmax + 1) * DDX_POLY_STRIDE);
    P[1] = 1.0;
    for (int k = 0; k < kmax; k++) {
        const double *p = P + k * DDX_POLY_STRIDE;
        double *q = P + (k + 1) * DDX_POLY_STRIDE;
        double dp[DDX_POLY_STRIDE] = {0};
        for (int j = 1; j < DDX_POLY_STRIDE; j++) dp[j - 1] = j * p[j];
        for (int j = 0; j + 2 < DDX_POLY_STRIDE; j++) {
            if (which == 0) {
                q[j] += dp[j];
                q[j + 2] -= dp[j];
            } else {
                q[j + 1] += dp[j];
                q[j + 2] -= dp[j];
            }
        }
    }
    rows[1] = 1.0;
    for (int k = 1; k <= kmax; k++) {
        const double *p = P + k * DDX_POLY_STRIDE;
        double *r = rows + k * DDX_POLY_STRIDE;
        /* tanh: p_j = r_j - r_{j-2}; sigmoid: p_j = r_{j-1} - r_{j-2} (p_0 = 0) */
        for (int j = 0; j + 2 < DDX_POLY_STRIDE; j++) {
            double below = j >= 2 ? r[j - 2] : 0.0;
            if (which == 0) r[j] = p[j] + below;
            else r[j] = p[j + 1] + (j >= 1 ? r[j - 1] : 0.0);
        }
    }
}
