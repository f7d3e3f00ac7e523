/* multiindex.c — multi-index sets for the needs analysis. Sets are small
 * (tens to a few hundred entries), so sorted arrays with binary search. */
#include "host/compiler/multiindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mi_order(const ddx_mi *m) {
    int s = 0;
    for (int i = 0; i < DDX_MAX_INPUTS; i++) s += m->a[i];
    return s + (m->lap ? 2 : 0);
}

int mi_compare(const ddx_mi *x, const ddx_mi *y) {
    int ox = mi_order(x), oy = mi_order(y);
    if (ox != oy) return ox < oy ? -1 : 1;
    if (x->lap != y->lap) return x->lap < y->lap ? -1 : 1;
    for (int i = 0; i < DDX_MAX_INPUTS; i++)
        if (x->a[i] != y->a[i]) return x->a[i] > y->a[i] ? -1 : 1;
    return 0;
}

int mi_leq(const ddx_mi *x, const ddx_mi *y) {
    if (x->lap || y->lap) {
        if (x->lap) return x->lap == y->lap;
        if (!y->lap) return 0;
        for (int i = 0; i < DDX_MAX_INPUTS; i++) /* 0 and e_i, i in the mask, lie below L */
            if (x->a[i] > ((y->lap >> i) & 1)) return 0;
        return mi_order(x) <= 1;
    }
    for (int i = 0; i < DDX_MAX_INPUTS; i++)
        if (x->a[i] > y->a[i]) return 0;
    return 1;
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
    int i = lower_bound(s, m);
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

int mi_set_close(mi_set *s, int d) {
    /* Each pass removes one unit from one coordinate of every member; after
     * max-order passes nothing new appears. Walk a snapshot since inserting
     * shifts the array. */
    int changed = 1;
    while (changed) {
        changed = 0;
        int n = s->n;
        ddx_mi *snap = malloc(sizeof(ddx_mi) * (size_t)(n ? n : 1));
        if (!snap) return -1;
        memcpy(snap, s->v, sizeof(ddx_mi) * (size_t)n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) {
                ddx_mi m = snap[i];
                if (m.lap) { /* L reads the value and the first partials it sums over */
                    if (!((m.lap >> j) & 1)) continue;
                    m.lap = 0;
                    m.a[j] = 1;
                } else if (m.a[j] == 0) {
                    continue;
                } else {
                    m.a[j]--;
                }
                if (mi_set_find(s, &m) < 0) {
                    if (mi_set_add(s, &m)) {
                        free(snap);
                        return -1;
                    }
                    changed = 1;
                }
            }
        free(snap);
    }
    return 0;
}

int mi_set_max_order(const mi_set *s) { return s->n ? mi_order(&s->v[s->n - 1]) : 0; }

void mi_set_free(mi_set *s) {
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void mi_format(const ddx_mi *m, int d, const char *const *names, char *buf, int cap) {
    int single = 1;
    for (int i = 0; i < d; i++)
        if (!names || !names[i] || strlen(names[i]) != 1) single = 0;
    int len = 0;
    buf[0] = 0;
    if (mi_order(m) == 0) {
        snprintf(buf, (size_t)cap, "0");
        return;
    }
    if (m->lap) {
        if (m->lap == (1u << d) - 1) {
            snprintf(buf, (size_t)cap, "lap");
            return;
        }
        int w = snprintf(buf, (size_t)cap, "lap(");
        for (int i = 0; i < d && w > 0 && w < cap; i++)
            if ((m->lap >> i) & 1) {
                char nm[16];
                if (names && names[i]) snprintf(nm, sizeof nm, "%s", names[i]);
                else snprintf(nm, sizeof nm, "d%d", i);
                w += snprintf(buf + w, (size_t)(cap - w), "%s%s", buf[w - 1] == '(' ? "" : " ", nm);
            }
        if (w > 0 && w < cap) snprintf(buf + w, (size_t)(cap - w), ")");
        return;
    }
    for (int i = 0; i < d; i++)
        for (int k = 0; k < m->a[i]; k++) {
            char tmp[32];
            if (names && names[i]) snprintf(tmp, sizeof tmp, "%s%s", (single || len == 0) ? "" : " ", names[i]);
            else snprintf(tmp, sizeof tmp, "%s%d", len == 0 ? "d" : " d", i);
            int w = snprintf(buf + len, (size_t)(cap - len), "%s", tmp);
            if (w < 0 || len + w >= cap) return;
            len += w;
        }
}
