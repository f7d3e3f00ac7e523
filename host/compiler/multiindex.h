/* multiindex.h — multi-indices alpha in N^d and sorted sets of them.
 * A set is kept in graded order (total order first, then earlier inputs
 * first), so channel 0 is always the value and, for (t,x), the order reads
 * 0, t, x, tt, tx, xx. */
#ifndef DDX_MULTIINDEX_H
#define DDX_MULTIINDEX_H

#include <stdint.h>
#include "ddx.h"

/* lap != 0 marks a collapsed Laplacian channel sum_{i in lap} d^2/dx_i^2
 * (lap: bit mask of the inputs; a all zero): one channel instead of the
 * diagonal second partials, for a laplacian() whose operand has no grad
 * below it (DESIGN §3, "forward Laplacian"). It counts as order 2, sorts
 * after the order-2 multi-indices (by mask), and its downward closure is
 * {0} and e_i for i in the mask. */
typedef struct ddx_mi {
    uint8_t a[DDX_MAX_INPUTS];
    uint16_t lap;
} ddx_mi;

typedef struct mi_set {
    ddx_mi *v;
    int n, cap;
} mi_set;

int mi_order(const ddx_mi *m);
int mi_compare(const ddx_mi *x, const ddx_mi *y);
int mi_leq(const ddx_mi *x, const ddx_mi *y); /* componentwise x <= y; L's lower set is {0, e_i, L} */

/* Index of m in s, or -1. */
int mi_set_find(const mi_set *s, const ddx_mi *m);
/* Inserts m (keeps order); returns 0, or -1 when out of memory. */
int mi_set_add(mi_set *s, const ddx_mi *m);
int mi_set_union(mi_set *dst, const mi_set *src);
/* Adds every beta <= alpha for alpha in s (downward closure). */
int mi_set_close(mi_set *s, int d);
int mi_set_max_order(const mi_set *s);
void mi_set_free(mi_set *s);
/* Writes e.g. "tx" or "x1 x1 x2" or "0" for the value. */
void mi_format(const ddx_mi *m, int d, const char *const *names, char *buf, int cap);

#endif
