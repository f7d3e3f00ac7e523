/* multiindex.h — multi-indices alpha in N^d and sorted sets of them.
 * A multi-index is stored sparsely, as the sorted list of its coordinate
 * labels (alpha = (2,1) is "0 0 1"), so its size depends on the order
 * (at most DDX_MAX_ORDER), never on the number of inputs d: a graph of
 * thousands of inputs costs nothing extra per channel. A set is kept in
 * graded order (total order first, then earlier inputs first), so channel 0
 * is always the value and, for (t,x), the order reads 0, t, x, tt, tx, xx. */
#ifndef DDX_MULTIINDEX_H
#define DDX_MULTIINDEX_H

#include <stdint.h>
#include "ddx.h"
#include "host/graph/graph.h"



/* op != 0 marks a collapsed channel of the graph's collapsed operator
 * op - 1 (graph.h: Delta = sum_{i in its inputs} d^2/dx_i^2, a Laplacian, or
 * sum_jk a_jk d_j d_k): the channel is Delta^p d^lab, p >= 1 pairs of the
 * operator times the explicit labels, one channel instead of the partials
 * it sums (DESIGN §3, "forward Laplacian"; Dangel et al. 2025, "collapsing
 * Taylor mode": the biharmonic is Delta^2, d_k of Delta is "Delta k").
 * op == 0 exactly when p == 0. Its order is 2p + n; it sorts after the plain
 * multi-indices of its order. Its downward closure: each label dropped, and
 * each pair halved into one label i over the operator's inputs. */
typedef struct ddx_mi {
    uint8_t n;                  /* number of explicit labels */
    uint8_t p;                  /* pairs of the collapsed operator op (0: none) */
    uint16_t op;
    int32_t lab[DDX_MAX_ORDER]; /* ascending; entries past n are 0 */
} ddx_mi;

typedef struct mi_set {
    ddx_mi *v;
    int n, cap;
} mi_set;

static inline ddx_mi mi_zero(void) {
    ddx_mi m = {0, 0, 0, {0}};
    return m;
}
static inline ddx_mi mi_unit(int i) {
    ddx_mi m = {1, 0, 0, {i}};
    return m;
}
/* alpha + e_i (also of a collapsed channel: d_i Delta^p d^alpha); returns
 * -1 (m unchanged) when the order would pass DDX_MAX_ORDER. */
int mi_shift(ddx_mi *m, int i);
/* One more pair of collapsed operator op (1-based, as ddx_mi.op): Delta m.
 * -1 (m unchanged) when m carries another operator or the order would pass
 * DDX_MAX_ORDER. */
int mi_add_pair(ddx_mi *m, int op);
/* alpha_i, the multiplicity of coordinate i. */
int mi_count(const ddx_mi *m, int i);

int mi_order(const ddx_mi *m);
int mi_compare(const ddx_mi *x, const ddx_mi *y);

/* Index of m in s, or -1. */
int mi_set_find(const mi_set *s, const ddx_mi *m);
/* Inserts m (keeps order); returns 0, or -1 when out of memory. */
int mi_set_add(mi_set *s, const ddx_mi *m);
int mi_set_union(mi_set *dst, const mi_set *src);
/* Adds every beta <= alpha for alpha in s (downward closure); cops is the
 * table of collapsed operators (their inputs lie below them). */
int mi_set_close(mi_set *s, const ddx_cop *cops);
int mi_set_max_order(const mi_set *s);
void mi_set_free(mi_set *s);
/* Writes e.g. "tx" or "x1 x1 x2" or "0" for the value, "lap" / "lap(x y)"
 * for a collapsed channel, "lap^2" / "lap x1" with more pairs or labels,
 * "v3" for random direction 3. */
void mi_format(const ddx_mi *m, int d, const char *const *names, const ddx_cop *cops, char *buf, int cap);

#endif
