/* jet_tables.h — compile-time tables of the jet rules: Faa di Bruno terms
 * from set partitions, Leibniz terms from binomials, and the derivative
 * polynomials of tanh and sigmoid. */
#ifndef DDX_JET_TABLES_H
#define DDX_JET_TABLES_H
#include "host/compiler/jet_program.h"

/* For each channel of dst (a downward-closed set), the merged Faa di Bruno
 * terms reading channels of src (a superset); cops: the graph's collapsed
 * operators. Terms whose f^(k) is known to
 * vanish (k > kzero) are dropped; kzero < 0 means none vanish.
 * Returns 0, or -1 when out of memory. */
int fdb_table_build(const mi_set *dst, const mi_set *src, const ddx_cop *cops, int kzero,
                    int **term_start, fdb_term **terms);
/* Leibniz terms d^a(xy) = sum C(a,b) x_b y_(a-b) for each dst channel. */
int leibniz_table_build(const mi_set *dst, const mi_set *xs, const mi_set *ys, const ddx_cop *cops,
                        int **term_start, leib_term **terms);
/* Row k (k = 0..kmax) of the tanh (which = 0) or sigmoid (which = 1)
 * derivative tables, DDX_POLY_STRIDE coefficients each: row 0 is P_0 (the
 * identity), row k >= 1 the quotient R_k = P_k / f' (see ddx_jet_rules.h). */
void derivative_polys(int which, int kmax, double *rows);
#endif
