/* check_tolerance.h — how `ddx check` (and ddx.check in Python) judges a
 * column against the float64 finite-difference reference: the tolerance of
 * a derivative order and the floor of the relative error's denominator. */
#ifndef DDX_CHECK_TOLERANCE_H
#define DDX_CHECK_TOLERANCE_H
#include "ddx.h"

/* Tolerance on the relative error of a column of derivative order `order`. */
double ddx_check_tolerance(ddx_precision p, int order);
/* Floor of the relative error's denominator, a fraction of the column max. */
double ddx_check_rel_floor(ddx_precision p);
/* The one error rule of check, demo, bench --check-rows (and Python's
 * check): worst over a column (n values, stride apart) of |got - ref| /
 * max(|ref|, F * max(max|ref|, 1)), F = ddx_check_rel_floor. */
double ddx_check_column_error(const double *ref, const double *got, int64_t n, int64_t stride, ddx_precision p);
/* Derivative order (grad nesting) of a graph node; 0 for a bad node. */
int check_node_order(const ddx_graph *g, ddx_node n);

#endif
