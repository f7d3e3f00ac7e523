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

static void sort_ints(int *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

int fdb_table_build(const mi_set *dst, const mi_set *src, const ddx_cop *cops, int kzero, int **term_start,
                    fdb_term **terms_out) {
    int *start = malloc(sizeof(int) * (size_t)(dst->n + 1));
    fdb_term *terms = NULL;
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
            /* next restricted growth string */
            int j = L - 1;
            while (j > 0 && rgs[j] > mx[j - 1]) j--;
            if (j == 0) break;
            rgs[j]++;
            mx[j] = rgs[j] > mx[j - 1] ? rgs[j] : mx[j - 1];
            for (int i = j + 1; i < L; i++) {
                rgs[i] = 0;
                mx[i] = mx[j];
            }
        }
    }
    start[dst->n] = n;
    *term_start = start;
    *terms_out = terms;
    return 0;
oom:
    free(start);
    free(terms);
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

int leibniz_table_build(const mi_set *dst, const mi_set *xs, const mi_set *ys, const ddx_cop *cops,
                        int **term_start, leib_term **terms_out) {
    int *start = malloc(sizeof(int) * (size_t)(dst->n + 1));
    leib_term *terms = NULL;
    int n = 0, cap = 0;
    if (!start) return -1;
    for (int c = 0; c < dst->n; c++) {
        start[c] = n;
        const ddx_mi *alpha = &dst->v[c];
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
    return 0;
oom:
    free(start);
    free(terms);
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
