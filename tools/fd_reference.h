/* fd_reference.h — an independent float64 reference: the graph evaluated
 * pointwise by a plain interpreter (no jets), and every derivative by
 * Richardson-extrapolated central differences. Used by `ddx check` and by
 * the tests; slow by design, for a handful of points. */
#ifndef DDX_FD_REFERENCE_H
#define DDX_FD_REFERENCE_H
#include "ddx.h"

/* Value of scalar node n at point x (d doubles); grad nodes inside by
 * finite differences. Returns NaN where the value is undefined. */
double fd_eval(const ddx_graph *g, ddx_node n, const double *x);
/* d^alpha of scalar node y at x by a tensor-product central-difference
 * stencil, Richardson-extrapolated over `levels` halvings of the step. */
double fd_partial(const ddx_graph *g, ddx_node y, const int *alpha, const double *x, int levels);

#endif
