/* jet_tables.c — Faa di Bruno and Leibniz tables built once at compile
 * time, so evaluation is straight-line multiply-adds with integer weights. */
#include "host/compiler/jet_tables.h"

#include <stdlib.h>
#include <string.h>
#include "kernels/ddx_jet_rules.h"

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

static void sort_ints(int *v, int n) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

int fdb_table_build(const mi_set *dst, const mi_set *src, int d, int kzero, int **term_start,
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
        if (alpha->lap) { /* (f o z)_L = f'(z) z_L + f''(z) sum_i z_i^2 */
            ddx_mi e = {{0}, 0};
            fdb_term t = {1.0, 1, 1, {mi_set_find(src, alpha)}};
            if ((kzero < 0 || kzero >= 1) && add_fdb_term(&terms, &n, &cap, start[c], &t)) goto oom;
            for (int i = 0; i < d && (kzero < 0 || kzero >= 2); i++) {
                if (!((alpha->lap >> i) & 1)) continue;
                e.a[i] = 1;
                int ei = mi_set_find(src, &e);
                e.a[i] = 0;
                fdb_term q = {1.0, 2, 2, {ei, ei}};
                if (add_fdb_term(&terms, &n, &cap, start[c], &q)) goto oom;
            }
            continue;
        }
        /* labels: alpha written as a list of coordinates, e.g. (2,1) -> 0 0 1 */
        int label[DDX_MAX_ORDER], L = 0;
        for (int i = 0; i < d; i++)
            for (int k = 0; k < alpha->a[i]; k++) label[L++] = i;
        /* set partitions of the L labels as restricted growth strings */
        int rgs[DDX_MAX_ORDER] = {0}, mx[DDX_MAX_ORDER] = {0};
        for (;;) {
            int nblocks = mx[L - 1] + 1;
            if (kzero < 0 || nblocks <= kzero) {
                ddx_mi blk[DDX_MAX_ORDER];
                memset(blk, 0, sizeof blk);
                for (int j = 0; j < L; j++) blk[rgs[j]].a[label[j]]++;
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

int leibniz_table_build(const mi_set *dst, const mi_set *xs, const mi_set *ys, int d,
                        int **term_start, leib_term **terms_out) {
    int *start = malloc(sizeof(int) * (size_t)(dst->n + 1));
    leib_term *terms = NULL;
    int n = 0, cap = 0;
    if (!start) return -1;
    for (int c = 0; c < dst->n; c++) {
        start[c] = n;
        const ddx_mi *alpha = &dst->v[c];
        if (alpha->lap) { /* (xy)_L = x y_L + x_L y + 2 sum_i x_i y_i */
            ddx_mi zero = {{0}, 0}, e = {{0}, 0};
            if (push_leib(&terms, &n, &cap, (leib_term){1.0, mi_set_find(xs, &zero), mi_set_find(ys, alpha)}) ||
                push_leib(&terms, &n, &cap, (leib_term){1.0, mi_set_find(xs, alpha), mi_set_find(ys, &zero)}))
                goto oom;
            for (int i = 0; i < d; i++) {
                if (!((alpha->lap >> i) & 1)) continue;
                e.a[i] = 1;
                if (push_leib(&terms, &n, &cap, (leib_term){2.0, mi_set_find(xs, &e), mi_set_find(ys, &e)})) goto oom;
                e.a[i] = 0;
            }
            continue;
        }
        /* every beta <= alpha is in dst (closed), hence in xs and ys */
        for (int bi = 0; bi <= c; bi++) {
            const ddx_mi *beta = &dst->v[bi];
            if (!mi_leq(beta, alpha)) continue;
            ddx_mi rest = *alpha;
            double coef = 1;
            for (int i = 0; i < d; i++) {
                rest.a[i] = (uint8_t)(alpha->a[i] - beta->a[i]);
                coef *= binom(alpha->a[i], beta->a[i]);
            }
            if (push_leib(&terms, &n, &cap, (leib_term){coef, mi_set_find(xs, beta), mi_set_find(ys, &rest)}))
                goto oom;
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
