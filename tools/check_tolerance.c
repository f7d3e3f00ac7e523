/* check_tolerance.c — see check_tolerance.h. */
#include "tools/check_tolerance.h"

#include <math.h>

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

/* The floor makes it an absolute error where the reference is near zero:
 * the finite-difference reference's own error scales with the function, not
 * with a derivative that vanishes (d/dx tanh(x) at x = 20 is 1.7e-17, its
 * FD reference exactly 0). A non-finite reference must be matched (NaN by
 * anything, inf by a non-finite value); a NaN result fails. */
double ddx_check_column_error(const double *ref, const double *got, int64_t n, int64_t stride, ddx_precision p) {
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i * stride]) && fabs(ref[i * stride]) > scale) scale = fabs(ref[i * stride]);
    const double floor = ddx_check_rel_floor(p) * fmax(scale, 1.0);
    for (int64_t i = 0; i < n; i++) {
        double r = ref[i * stride], v = got[i * stride];
        if (!isfinite(r)) {
            if (isfinite(v) && !isnan(r)) worst = INFINITY;
            continue;
        }
        double e = fabs(v - r) / fmax(fabs(r), floor);
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}
