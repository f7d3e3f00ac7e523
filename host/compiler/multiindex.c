/* multiindex.c — multi-index sets for the needs analysis. Sets hold up to a
 * few thousand entries (1 + 2d for a Hessian diagonal), so sorted arrays
 * with binary search; a multi-index is its sorted label list. */
#include "host/compiler/multiindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mi_shift(ddx_mi *m, int i) {
    if (mi_order(m) >= DDX_MAX_ORDER) return -1;
    int k = m->n;
    while (k > 0 && m->lab[k - 1] > i) {
        m->lab[k] = m->lab[k - 1];
        k--;
    }
    m->lab[k] = i;
    m->n++;
    return 0;
}

int mi_count(const ddx_mi *m, int i) {
    int c = 0;
    for (int k = 0; k < m->n; k++) c += m->lab[k] == i;
    return c;
}

int mi_add_pair(ddx_mi *m, int op) {
    if ((m->op && m->op != op) || mi_order(m) + 2 > DDX_MAX_ORDER) return -1;
    m->op = (uint16_t)op;
    m->p++;
    return 0;
}

int mi_order(const ddx_mi *m) { return m->n + 2 * m->p; }

int mi_compare(const ddx_mi *x, const ddx_mi *y) {
    int ox = mi_order(x), oy = mi_order(y);
    if (ox != oy) return ox < oy ? -1 : 1;
    if (x->op != y->op) return x->op < y->op ? -1 : 1;
    if (x->p != y->p) return x->p > y->p ? -1 : 1; /* more pairs first: Delta^2 before Delta x1 x1 */
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    /* lexicographic on the sorted labels = more of an earlier input first */
    for (int k = 0; k < x->n; k++)
        if (x->lab[k] != y->lab[k]) return x->lab[k] < y->lab[k] ? -1 : 1;
    return 0;
}

static int lower_bound(const mi_set *s, const ddx_mi *m) {
    int lo = 0, hi = s->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (mi_compare(&s->v[mid], m) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int mi_set_find(const mi_set *s, const ddx_mi *m) {
    int i = lower_bound(s, m);
    return (i < s->n && mi_compare(&s->v[i], m) == 0) ? i : -1;
}

int mi_set_add(mi_set *s, const ddx_mi *m) {
    /* members usually arrive in order: try the end first */
    int i = (s->n == 0 || mi_compare(&s->v[s->n - 1], m) < 0) ? s->n : lower_bound(s, m);
    if (i < s->n && mi_compare(&s->v[i], m) == 0) return 0;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 8;
        ddx_mi *p = realloc(s->v, sizeof(ddx_mi) * (size_t)cap);
        if (!p) return -1;
        s->v = p;
        s->cap = cap;
    }
    memmove(&s->v[i + 1], &s->v[i], sizeof(ddx_mi) * (size_t)(s->n - i));
    s->v[i] = *m;
    s->n++;
    return 0;
}

int mi_set_union(mi_set *dst, const mi_set *src) {
    for (int i = 0; i < src->n; i++)
        if (mi_set_add(dst, &src->v[i])) return -1;
    return 0;
}

/* m with its k-th label removed */
static ddx_mi drop_label(const ddx_mi *m, int k) {
    ddx_mi r = *m;
    for (int j = k; j + 1 < r.n; j++) r.lab[j] = r.lab[j + 1];
    r.lab[--r.n] = 0;
    return r;
}

int mi_set_close(mi_set *s, const ddx_cop *cops) {
    /* Members are visited from the highest order down; removing one label
     * (each distinct one) of a member gives a lower order, which is visited
     * later, so one sweep suffices. Cost: O(n * order) finds, not O(n * d). */
    ddx_mi zero = mi_zero();
    if (s->n && mi_set_add(s, &zero)) return -1;
    for (int ord = mi_set_max_order(s); ord >= 1; ord--) {
        int n = s->n;
        ddx_mi *snap = malloc(sizeof(ddx_mi) * (size_t)(n ? n : 1));
        if (!snap) return -1;
        memcpy(snap, s->v, sizeof(ddx_mi) * (size_t)n);
        for (int i = 0; i < n; i++) {
            const ddx_mi *m = &snap[i];
            if (mi_order(m) != ord) continue;
            if (m->op) { /* a pair halved: one label i over the operator's inputs */
                const ddx_cop *op = &cops[m->op - 1];
                for (int j = 0; j < op->n_in; j++) {
                    ddx_mi e = *m;
                    if (--e.p == 0) e.op = 0;
                    mi_shift(&e, op->in[j]);
                    if (mi_set_add(s, &e)) goto oom;
                }
            }
            for (int k = 0; k < m->n; k++) {
                if (k > 0 && m->lab[k] == m->lab[k - 1]) continue;
                ddx_mi r = drop_label(m, k);
                if (mi_set_add(s, &r)) goto oom;
            }
            continue;
        oom:
            free(snap);
            return -1;
        }
        free(snap);
    }
    return 0;
}

int mi_set_max_order(const mi_set *s) {
    int mx = 0; /* collapsed channels sort by order, so the last member has the largest */
    if (s->n) mx = mi_order(&s->v[s->n - 1]);
    return mx;
}

void mi_set_free(mi_set *s) {
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static void coord_name(int i, int d, const char *const *names, char *nm, size_t cap) {
    if (i >= DDX_DIR_BASE) snprintf(nm, cap, "v%d", i - DDX_DIR_BASE);
    else if (i < d && names && names[i]) snprintf(nm, cap, "%s", names[i]);
    else snprintf(nm, cap, "d%d", i);
}

void mi_format(const ddx_mi *m, int d, const char *const *names, const ddx_cop *cops, char *buf, int cap) {
    int single = 1;
    for (int k = 0; k < m->n; k++) {
        int i = m->lab[k];
        if (i >= DDX_DIR_BASE || i >= d || !names || !names[i] || strlen(names[i]) != 1) single = 0;
    }
    buf[0] = 0;
    if (mi_order(m) == 0) {
        snprintf(buf, (size_t)cap, "0");
        return;
    }
    char nm[80];
    int len = 0;
    if (m->op) { /* "lap", "lap(x y)", "op2", then "^p" and the labels */
        const ddx_cop *op = cops ? &cops[m->op - 1] : NULL;
        const char *kind = op && op->A ? "op2" : "lap";
        len = snprintf(buf, (size_t)cap, "%s", kind);
        if (op && op->n_in != d) {
            len += snprintf(buf + len, (size_t)(cap - len), "(");
            for (int j = 0; j < op->n_in && len < cap; j++) {
                coord_name(op->in[j], d, names, nm, sizeof nm);
                len += snprintf(buf + len, (size_t)(cap - len), "%s%s", j ? " " : "", nm);
            }
            if (len < cap) len += snprintf(buf + len, (size_t)(cap - len), ")");
        }
        if (m->p > 1 && len < cap) len += snprintf(buf + len, (size_t)(cap - len), "^%d", m->p);
        if (len >= cap) return;
        single = 0; /* labels after a space */
    }
    for (int k = 0; k < m->n; k++) {
        coord_name(m->lab[k], d, names, nm, sizeof nm);
        int w = snprintf(buf + len, (size_t)(cap - len), "%s%s", (single || len == 0) ? "" : " ", nm);
        if (w < 0 || len + w >= cap) return;
        len += w;
    }
}
