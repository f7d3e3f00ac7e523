/* check_tolerance.c — see check_tolerance.h. */
#include "tools/check_tolerance.h"

/* Values near a zero crossing are judged against the column's scale, which
 * is what rounding is relative to. */
double ddx_check_rel_floor(ddx_precision p) { return p == DDX_F32 ? 1e-2 : 1e-3; }

/* The finite-difference reference itself is good to ~1e-9 at order 1 and
 * ~1e-6 at order 4 in f64. */
double ddx_check_tolerance(ddx_precision p, int order) {
    static const double f64[] = {1e-12, 1e-8, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e-1};
    /* f32 order 0: an output summed over a deep network carries a few ulp of
     * the column's scale (measured 2.3e-7 of max|u| for W1): 1e-5 of a 1e-3
     * floor failed by rounding alone near zero crossings. */
    static const double f32[] = {1e-4, 1e-4, 1e-3, 1e-2, 5e-2, 1e-1, 1e-1, 1e-1, 1e-1};
    if (order < 0) order = 0;
    if (order > 8) order = 8;
    return p == DDX_F64 ? f64[order] : f32[order];
}

int check_node_order(const ddx_graph *g, ddx_node n) {
    ddx_node_info info;
    return ddx_node_get_info(g, n, &info) == DDX_OK ? info.order : 0;
}
