/* test_cpu_math.c — the CPU evaluator's vectorizable tanh and tanh'
 * (kernels/cpu/cpu_math.h) against libm in long double, and saturated activations
 * end to end: derivatives of tanh(12x), sigmoid(20x), softplus(20x) and
 * silu(20x) to 4th order in f32 and f64 against closed forms evaluated in
 * long double. Where 1 - tanh^2 would cancel (|z| > ~5 in f32) or round to
 * 0 (|z| > 9), ddx must keep full relative accuracy (f32: 1e-5 at order 1,
 * up to 1e-4 at order 4 — rounding of the inner product and of the
 * polynomial; f64: 1e-13). */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "kernels/cpu/cpu_math.h"
#include "test_util.h"

/* ulp of a float / double at v */
static double ulp_f(float v) { return nextafterf(fabsf(v), INFINITY) - fabsf(v); }
static double ulp_d(double v) { return nextafter(fabs(v), INFINITY) - fabs(v); }

static void test_fast_tanh_accuracy(void **state) {
    (void)state;
    double worst_t32 = 0, worst_t64 = 0, worst_d32 = 0, worst_d64 = 0;
    for (int i = -400000; i <= 400000; i++) {
        double x = i * 1.25e-4; /* [-50, 50] */
        long double e = expl(-2.0L * fabsl((long double)x));
        long double t_ref = tanhl((long double)x), d_ref = 4.0L * e / ((1.0L + e) * (1.0L + e));
        float d32;
        double d64;
        float t32 = ddx_fast_tanh_d1f((float)x, &d32);
        double t64 = ddx_fast_tanh_d1(x, &d64);
        /* t: in ulps of the result; x rounded to float first for f32 */
        long double t_ref32 = tanhl((long double)(float)x);
        double u32 = (double)fabsl((long double)t32 - t_ref32) / ulp_f((float)t_ref32);
        double u64 = (double)fabsl((long double)t64 - t_ref) / ulp_d((double)t_ref);
        if (u32 > worst_t32) worst_t32 = u32;
        if (u64 > worst_t64) worst_t64 = u64;
        long double e32 = expl(-2.0L * fabsl((long double)(float)x));
        long double d_ref32 = 4.0L * e32 / ((1.0L + e32) * (1.0L + e32));
        if (d_ref32 > 1e-36L) {
            double r = (double)(fabsl((long double)d32 - d_ref32) / d_ref32);
            if (r > worst_d32) worst_d32 = r;
        }
        if (d_ref > 1e-300L) {
            double r = (double)(fabsl((long double)d64 - d_ref) / d_ref);
            if (r > worst_d64) worst_d64 = r;
        }
    }
    printf("fast tanh on [-50, 50]: f32 %.2f ulp, f64 %.2f ulp; tanh' relative: f32 %.2e, f64 %.2e\n", worst_t32,
           worst_t64, worst_d32, worst_d64);
    assert_true(worst_t32 <= 4.0);
    assert_true(worst_t64 <= 4.0);
    assert_true(worst_d32 <= 8 * FLT_EPSILON);
    assert_true(worst_d64 <= 8 * DBL_EPSILON);
    /* NaN and infinities */
    float d;
    double dd;
    assert_true(isnan(ddx_fast_tanh_d1f(NAN, &d)) && isnan(d));
    assert_true(ddx_fast_tanh_d1f(INFINITY, &d) == 1.0f && d == 0.0f);
    assert_true(ddx_fast_tanh_d1(-INFINITY, &dd) == -1.0 && dd == 0.0);
}

/* k-th derivative of tanh(a x), sigmoid(a x), softplus(a x), silu(a x) at
 * x, by the polynomial recurrences in long double from sigmoid's exact
 * value: sigma^(k) = polynomial in s times s(1 - s) computed from exp. */
static long double sig_l(long double z, long double *d1) {
    long double e = expl(-fabsl(z)), r = 1.0L / (1.0L + e);
    *d1 = e * r * r;
    return z >= 0 ? r : e * r;
}

/* sigma^(k)(z) for k = 0..4 in closed form with s and s' = s(1-s) exact */
static void sig_derivs(long double z, long double *D) {
    long double d1, s = sig_l(z, &d1);
    D[0] = s;
    D[1] = d1;
    D[2] = d1 * (1 - 2 * s);
    D[3] = d1 * (1 - 6 * s + 6 * s * s);
    D[4] = d1 * (1 - 14 * s + 36 * s * s - 24 * s * s * s);
}

static void expected(int which, long double a, long double x, long double *D) {
    long double z = a * x, S[6];
    if (which == 0) { /* tanh z = 2 sigma(2z) - 1: tanh^(k)(z) = 2^(k+1) sigma^(k)(2z) */
        sig_derivs(2 * z, S);
        D[0] = 2 * S[0] - 1;
        for (int k = 1; k <= 4; k++) D[k] = ldexpl(S[k], k + 1);
    } else if (which == 1) {
        sig_derivs(z, S);
        for (int k = 0; k <= 4; k++) D[k] = S[k];
    } else if (which == 2) { /* softplus' = sigma */
        sig_derivs(z, S);
        D[0] = (z > 0 ? z : 0) + log1pl(expl(-fabsl(z)));
        for (int k = 1; k <= 4; k++) D[k] = S[k - 1];
    } else { /* silu = z sigma(z): (z s)^(k) = z s^(k) + k s^(k-1); sigma^(5) not needed for k <= 4 */
        sig_derivs(z, S);
        D[0] = z * S[0];
        for (int k = 1; k <= 4; k++) D[k] = z * S[k] + k * S[k - 1];
    }
    for (int k = 1; k <= 4; k++) D[k] *= powl(a, k); /* chain rule for a x */
}

static void test_saturated_activations(void **state) {
    (void)state;
    static const char *names[4] = {"tanh", "sigmoid", "softplus", "silu"};
    const double a[4] = {12, 20, 20, 20};
    const double xs[5] = {1.0, -1.5, 0.6, -0.9, 0.01}; /* z from -30 to 24 */
    double worst[2][5] = {{0}};
    for (int w = 0; w < 4; w++) {
        ddx_graph *g = ddx_graph_create();
        ddx_node x = ddx_input(g, "x");
        ddx_node z = ddx_mul(g, ddx_const(g, a[w]), x);
        ddx_node u = w == 0 ? ddx_tanh(g, z) : w == 1 ? ddx_sigmoid(g, z) : w == 2 ? ddx_softplus(g, z) : ddx_silu(g, z);
        ddx_node d[5] = {u};
        for (int k = 1; k < 5; k++) d[k] = ddx_grad(g, d[k - 1], x);
        for (int prec = 0; prec < 2; prec++) {
            double out[5 * 5];
            eval_graph(g, d, 5, (ddx_precision)prec, xs, 5, out);
            for (int p = 0; p < 5; p++) {
                long double D[5];
                expected(w, a[w], prec == DDX_F32 ? (long double)(float)xs[p] : (long double)xs[p], D);
                for (int k = 0; k < 5; k++) {
                    /* relative to the value, floored at 1e-30 of the largest derivative of this order
                     * over the points (a derivative that crosses zero) */
                    double ref = (double)D[k], got = out[p * 5 + k];
                    double den = fmax(fabs(ref), 1e-300);
                    if (w == 3 && k == 0 && fabs(ref) < 1e-6) den = fmax(den, 1e-6);
                    double r = fabs(got - ref) / den;
                    /* f32: |z| = 24..30 keeps sigma' ~ 1e-11..1e-13: still far above FLT_MIN */
                    double tol = prec == DDX_F32 ? (k <= 1 ? 1e-5 : 1e-4) : 1e-13;
                    if (r > worst[prec][k]) worst[prec][k] = r;
                    if (!(r <= tol))
                        fail_msg("%s(%g x) %s order %d at x = %g: got %.9g want %.9g (rel %.2e > %.0e)", names[w],
                                 a[w], prec ? "f64" : "f32", k, xs[p], got, ref, r, tol);
                }
            }
        }
        ddx_graph_free(g);
    }
    for (int prec = 0; prec < 2; prec++)
        printf("saturated activations, %s, worst relative error by order: %.1e %.1e %.1e %.1e %.1e\n",
               prec ? "f64" : "f32", worst[prec][0], worst[prec][1], worst[prec][2], worst[prec][3], worst[prec][4]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_tanh_accuracy),
        cmocka_unit_test(test_saturated_activations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
