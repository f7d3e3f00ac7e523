/* test_identities.c — derivative identities and closed forms, in f64.
 *
 * Each check compares two things computed differently: ddx against a
 * closed form evaluated in C, two graphs that must agree by an identity
 * (symmetry of mixed partials, Laplacian = trace, product rule), or one
 * column against its ingredients combined in C. Tolerances are relative to
 * the natural scale of each quantity (the sum of the magnitudes of the terms
 * that make it up), so cancellation does not make them flaky. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/fd_reference.h"
#include "test_util.h"

#define NPTS 64

/* A small deterministic MLP over the given inputs: widths 24 and 16,
 * tanh then silu, Xavier-uniform weights, scalar output. */
static ddx_node mlp(ddx_graph *g, const ddx_node *xs, int d, uint64_t seed) {
    uint64_t rng = seed;
    ddx_node h = ddx_concat(g, xs, d);
    const int widths[3] = {24, 16, 1};
    int in = d;
    for (int l = 0; l < 3; l++) {
        int out = widths[l];
        double W[24 * 24], b[24];
        double lim = sqrt(6.0 / (in + out));
        for (int k = 0; k < out * in; k++) W[k] = test_uniform(&rng, -lim, lim);
        for (int k = 0; k < out; k++) b[k] = test_uniform(&rng, -0.5, 0.5);
        h = ddx_dense(g, h, out, in, W, b, DDX_F64);
        if (l == 0) h = ddx_tanh(g, h);
        if (l == 1) h = ddx_silu(g, h);
        in = out;
    }
    return ddx_component(g, h, 0);
}

static void random_points(double *pts, int n, int d, double lo, double hi, uint64_t seed) {
    uint64_t rng = seed;
    for (int k = 0; k < n * d; k++) pts[k] = test_uniform(&rng, lo, hi);
}

/* |got - want| <= tol * scale, with a message naming what and where. */
static double worst_ratio; /* largest |diff| / (tol * scale) seen: the margin left */
static char worst_what[80];

static void expect_close(const char *what, int point, double got, double want, double scale, double tol) {
    double err = fabs(got - want);
    if (err / (tol * scale) > worst_ratio) {
        worst_ratio = err / (tol * scale);
        snprintf(worst_what, sizeof worst_what, "%s", what);
    }
    if (!(err <= tol * scale))
        fail_msg("%s at point %d: got %.17g want %.17g (|diff| %.3g > %.3g * scale %.3g)", what, point, got, want, err,
                 tol, scale);
}

/* ---- Hessian symmetry ---------------------------------------------------- */

static void test_hessian_symmetry(void **state) {
    (void)state;
    const int d = 3;
    ddx_graph *g = ddx_graph_create();
    ddx_node xs[3] = {ddx_input(g, "a"), ddx_input(g, "b"), ddx_input(g, "c")};
    ddx_node u = mlp(g, xs, d, 11);
    ddx_node H[9];
    assert_int_equal(ddx_hessian(g, u, H), DDX_OK);
    /* the mixed partials built by hand in both orders as well */
    ddx_node M[9];
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) M[i * d + j] = ddx_grad(g, ddx_grad(g, u, xs[j]), xs[i]);
    ddx_node outs[18];
    memcpy(outs, H, sizeof H);
    memcpy(outs + 9, M, sizeof M);
    double pts[NPTS * 3], v[NPTS * 18];
    random_points(pts, NPTS, d, -1.5, 1.5, 101);
    eval_graph(g, outs, 18, DDX_F64, pts, NPTS, v);
    double worst = 0;
    for (int p = 0; p < NPTS; p++) {
        const double *h = v + p * 18, *m = h + 9;
        double scale = 0;
        for (int k = 0; k < 9; k++) scale = fmax(scale, fabs(h[k]));
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                char what[64];
                snprintf(what, sizeof what, "H[%d][%d] vs H[%d][%d]", i, j, j, i);
                expect_close(what, p, h[i * d + j], h[j * d + i], fmax(fabs(h[j * d + i]), 1e-300), 1e-14);
                snprintf(what, sizeof what, "d%d d%d u vs H[%d][%d]", i, j, i, j);
                expect_close(what, p, m[i * d + j], h[i * d + j], scale, 1e-14);
                worst = fmax(worst, fabs(h[i * d + j] - h[j * d + i]) / fmax(scale, 1e-300));
            }
    }
    /* and the Hessian is the right one: against the FD reference */
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                int alpha[3] = {0, 0, 0};
                alpha[i]++;
                alpha[j]++;
                double ref = fd_partial(g, u, alpha, pts + p * d, 3), got = v[p * 18 + i * d + j];
                expect_close("H vs FD", p, got, ref, fmax(fabs(ref), 1e-3), 1e-6);
            }
    printf("hessian symmetry: worst |H_ij - H_ji| / max|H| = %.3g\n", worst);
    ddx_graph_free(g);
}

/* ---- Laplacian = trace of the Hessian ---------------------------------- */

static void test_laplacian_is_trace(void **state) {
    (void)state;
    const int d = 3;
    ddx_graph *g = ddx_graph_create();
    ddx_node xs[3] = {ddx_input(g, "x"), ddx_input(g, "y"), ddx_input(g, "z")};
    ddx_node u = mlp(g, xs, d, 23);
    ddx_node outs[10];
    outs[0] = ddx_laplacian(g, u);
    assert_int_equal(ddx_hessian(g, u, outs + 1), DDX_OK);
    double pts[NPTS * 3], v[NPTS * 10];
    random_points(pts, NPTS, d, -1, 1, 202);
    eval_graph(g, outs, 10, DDX_F64, pts, NPTS, v);
    for (int p = 0; p < NPTS; p++) {
        const double *h = v + p * 10 + 1;
        double tr = h[0] + h[4] + h[8], scale = fabs(h[0]) + fabs(h[4]) + fabs(h[8]);
        expect_close("laplacian vs trace", p, v[p * 10], tr, fmax(scale, 1e-300), 1e-13);
    }
    /* independent value: the sum of three FD second derivatives */
    for (int p = 0; p < 3; p++) {
        double ref = 0, scale = 0;
        for (int i = 0; i < d; i++) {
            int alpha[3] = {0, 0, 0};
            alpha[i] = 2;
            double r = fd_partial(g, u, alpha, pts + p * d, 3);
            ref += r;
            scale += fabs(r);
        }
        expect_close("laplacian vs FD", p, v[p * 10], ref, fmax(scale, 1e-3), 1e-6);
    }
    ddx_graph_free(g);
}

/* ---- collapsed Laplacian channel ------------------------------------------
 * laplacian() of a grad-free expression is carried as one channel L through
 * the network (Faa di Bruno f' z_L + f'' sum z_i^2, Leibniz x y_L + x_L y +
 * 2 sum x_i y_i). Compiled alone (so no explicit second partials exist to
 * hide a wrong L), it must equal the trace of a separately compiled Hessian;
 * the expression goes through products, powi/neg (orders that vanish) and
 * the network. grad(laplacian(u)) falls back to grad-spelled partials and
 * must equal the sum of the third partials. f64: 1e-13 of the terms' scale;
 * f32 against f64: 1e-5 of the scale. */
static void test_laplacian_collapsed(void **state) {
    (void)state;
    const int d = 3;
    ddx_graph *g = ddx_graph_create();
    ddx_node xs[3] = {ddx_input(g, "x"), ddx_input(g, "y"), ddx_input(g, "z")};
    ddx_node u = mlp(g, xs, d, 29);
    ddx_node f = ddx_add(g, ddx_mul(g, ddx_mul(g, ddx_sin(g, xs[0]), u), xs[1]),
                         ddx_sub(g, ddx_exp(g, u), ddx_neg(g, ddx_powi(g, u, 3))));
    ddx_node lap = ddx_laplacian(g, f);
    ddx_node h[9];
    assert_int_equal(ddx_hessian(g, f, h), DDX_OK);
    ddx_node diag[3] = {h[0], h[4], h[8]};
    ddx_node dlap = ddx_grad(g, lap, xs[0]); /* differentiated: the fallback */
    ddx_node third[3];
    for (int i = 0; i < 3; i++) third[i] = ddx_grad(g, h[4 * i], xs[0]);
    assert_graph_ok(g);

    /* the collapsed program carries 1 + d + 1 channels */
    ddx_program *p = compile_cpu(g, &lap, 1, DDX_F64);
    int co[5 * 3];
    assert_int_equal(ddx_program_node_coeffs(p, u, co, 5), d + 2);
    for (int i = 0; i < d; i++) assert_int_equal(co[4 * d + i], -1); /* L, last in graded order */
    ddx_program_free(p);

    double pts[NPTS * 3], vl[NPTS], vl32[NPTS], vh[NPTS * 3], vd[NPTS], vt[NPTS * 3];
    random_points(pts, NPTS, d, -1, 1, 303);
    eval_graph(g, &lap, 1, DDX_F64, pts, NPTS, vl);
    eval_graph(g, &lap, 1, DDX_F32, pts, NPTS, vl32);
    eval_graph(g, diag, 3, DDX_F64, pts, NPTS, vh);
    eval_graph(g, &dlap, 1, DDX_F64, pts, NPTS, vd);
    eval_graph(g, third, 3, DDX_F64, pts, NPTS, vt);
    for (int q = 0; q < NPTS; q++) {
        const double *e = vh + 3 * q, *t = vt + 3 * q;
        double scale = fabs(e[0]) + fabs(e[1]) + fabs(e[2]);
        expect_close("collapsed laplacian vs trace", q, vl[q], e[0] + e[1] + e[2], fmax(scale, 1e-300), 1e-13);
        expect_close("collapsed laplacian f32 vs f64", q, vl32[q], vl[q], fmax(scale, 1e-3), 1e-5);
        double s3 = fabs(t[0]) + fabs(t[1]) + fabs(t[2]);
        expect_close("grad(laplacian) vs third partials", q, vd[q], t[0] + t[1] + t[2], fmax(s3, 1e-300), 1e-13);
    }
    /* over a subset of the inputs (y, z): its own collapsed channel, equal to
     * H_yy + H_zz; the program carries {0, y, z, lap(y z)} (x's first
     * partial is not needed) */
    ddx_node yz[2] = {xs[1], xs[2]};
    ddx_node lap_yz = ddx_laplacian_over(g, f, yz, 2);
    assert_graph_ok(g);
    p = compile_cpu(g, &lap_yz, 1, DDX_F64);
    assert_int_equal(ddx_program_node_coeffs(p, u, co, 5), 4);
    assert_int_equal(co[3 * d + 0], 0);
    assert_int_equal(co[3 * d + 1], -1);
    assert_int_equal(co[3 * d + 2], -1);
    ddx_program_free(p);
    double vyz[NPTS];
    eval_graph(g, &lap_yz, 1, DDX_F64, pts, NPTS, vyz);
    for (int q = 0; q < NPTS; q++) {
        const double *e = vh + 3 * q;
        expect_close("collapsed laplacian(y,z) vs H_yy + H_zz", q, vyz[q], e[1] + e[2],
                     fmax(fabs(e[1]) + fabs(e[2]), 1e-300), 1e-13);
    }
    /* independent: FD of the graph's own laplace node (the reference reads
     * its grad-spelled form) at a few points */
    for (int q = 0; q < 3; q++) {
        double ref = fd_eval(g, lap, pts + q * d);
        expect_close("collapsed laplacian vs FD", q, vl[q], ref, fmax(fabs(ref), 1e-3), 1e-6);
    }
    ddx_graph_free(g);
}

/* ---- product rule through grad ------------------------------------------ */

static void test_product_rule(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node t = ddx_input(g, "t"), x = ddx_input(g, "x");
    ddx_node tx[2] = {t, x};
    ddx_node u = mlp(g, tx, 2, 37);
    ddx_node ux = ddx_grad(g, u, x), ut = ddx_grad(g, u, t);
    ddx_node uxx = ddx_grad(g, ux, x), uxt = ddx_grad(g, ux, t);
    ddx_node uux = ddx_mul(g, u, ux);
    /* lhs: grad of a product; rhs: the product rule written out */
    ddx_node lhs_x = ddx_grad(g, uux, x), rhs_x = ddx_add(g, ddx_mul(g, ux, ux), ddx_mul(g, u, uxx));
    ddx_node lhs_t = ddx_grad(g, uux, t), rhs_t = ddx_add(g, ddx_mul(g, ut, ux), ddx_mul(g, u, uxt));
    /* third order: d/dx of (u u_x)_x = 3 u_x u_xx + u u_xxx */
    ddx_node uxxx = ddx_grad(g, uxx, x);
    ddx_node lhs_xx = ddx_grad(g, lhs_x, x);
    ddx_node rhs_xx =
        ddx_add(g, ddx_mul(g, ddx_const(g, 3.0), ddx_mul(g, ux, uxx)), ddx_mul(g, u, uxxx));
    ddx_node outs[12] = {lhs_x, rhs_x, lhs_t, rhs_t, lhs_xx, rhs_xx, u, ux, uxx, ut, uxt, uxxx};
    double pts[NPTS * 2], v[NPTS * 12];
    random_points(pts, NPTS, 2, -1, 1, 303);
    eval_graph(g, outs, 12, DDX_F64, pts, NPTS, v);
    for (int p = 0; p < NPTS; p++) {
        const double *r = v + p * 12;
        double U = r[6], Ux = r[7], Uxx = r[8], Ut = r[9], Uxt = r[10], Uxxx = r[11];
        double sx = Ux * Ux + fabs(U * Uxx), st = fabs(Ut * Ux) + fabs(U * Uxt),
               sxx = fabs(3 * Ux * Uxx) + fabs(U * Uxxx);
        expect_close("grad(u*u_x, x) vs u_x^2 + u*u_xx", p, r[0], r[1], sx, 1e-13);
        expect_close("grad(u*u_x, x) vs columns combined in C", p, r[0], Ux * Ux + U * Uxx, sx, 1e-13);
        expect_close("grad(u*u_x, t) vs u_t*u_x + u*u_xt", p, r[2], r[3], st, 1e-13);
        expect_close("grad(u*u_x, t) vs columns combined in C", p, r[2], Ut * Ux + U * Uxt, st, 1e-13);
        expect_close("d2/dx2 (u*u_x) vs 3 u_x u_xx + u u_xxx", p, r[4], r[5], sxx, 1e-13);
        expect_close("d2/dx2 (u*u_x) vs columns combined in C", p, r[4], 3 * Ux * Uxx + U * Uxxx, sxx, 1e-13);
    }
    ddx_graph_free(g);
}

/* ---- Burgers residual as one column vs its ingredients ----------------- */

static void test_burgers_residual(void **state) {
    (void)state;
    const double nu = 0.01 / 3.14159265358979323846;
    ddx_graph *g = ddx_graph_create();
    ddx_node t = ddx_input(g, "t"), x = ddx_input(g, "x");
    ddx_node tx[2] = {t, x};
    ddx_node u = mlp(g, tx, 2, 41);
    ddx_node ut = ddx_grad(g, u, t), ux = ddx_grad(g, u, x), uxx = ddx_grad(g, ux, x);
    ddx_node R = ddx_sub(g, ddx_add(g, ut, ddx_mul(g, u, ux)), ddx_mul(g, ddx_const(g, nu), uxx));
    assert_graph_ok(g);
    double pts[NPTS * 2], r[NPTS], parts[NPTS * 4];
    random_points(pts, NPTS, 2, -1, 1, 404);
    /* two separate programs: the residual alone, and its ingredients */
    eval_graph(g, &R, 1, DDX_F64, pts, NPTS, r);
    ddx_node ing[4] = {u, ut, ux, uxx};
    eval_graph(g, ing, 4, DDX_F64, pts, NPTS, parts);
    for (int p = 0; p < NPTS; p++) {
        const double *q = parts + 4 * p;
        double want = q[1] + q[0] * q[2] - nu * q[3];
        double scale = fabs(q[1]) + fabs(q[0] * q[2]) + fabs(nu * q[3]);
        expect_close("burgers residual", p, r[p], want, scale, 1e-13);
    }
    /* and the ingredients themselves are right (FD, a few points) */
    for (int p = 0; p < 3; p++) {
        const int a_t[2] = {1, 0}, a_x[2] = {0, 1}, a_xx[2] = {0, 2};
        expect_close("u_t vs FD", p, parts[4 * p + 1], fd_partial(g, u, a_t, pts + 2 * p, 3), 1, 1e-8);
        expect_close("u_x vs FD", p, parts[4 * p + 2], fd_partial(g, u, a_x, pts + 2 * p, 3), 1, 1e-8);
        expect_close("u_xx vs FD", p, parts[4 * p + 3], fd_partial(g, u, a_xx, pts + 2 * p, 3), 1, 1e-6);
    }
    ddx_graph_free(g);
}

/* ---- closed forms to order 6 ------------------------------------------- */

/* Evaluates d^k y / dx^k, k = 0..6, of a one-input graph at n points. */
static void derivs_1d(ddx_graph *g, ddx_node x, ddx_node y, const double *pts, int n, double *out /* n x 7 */) {
    ddx_node cols[7];
    cols[0] = y;
    for (int k = 1; k <= 6; k++) cols[k] = ddx_grad(g, cols[k - 1], x);
    eval_graph(g, cols, 7, DDX_F64, pts, n, out);
}

static void test_exp_sin_order6(void **state) {
    (void)state;
    /* d^k/dx^k e^{2x} sin 3x = Im((2+3i)^k e^{(2+3i)x}) */
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    ddx_node y = ddx_mul(g, ddx_exp(g, ddx_mul(g, ddx_const(g, 2.0), x)), ddx_sin(g, ddx_mul(g, ddx_const(g, 3.0), x)));
    double pts[NPTS], v[NPTS * 7];
    random_points(pts, NPTS, 1, -1, 1, 505);
    derivs_1d(g, x, y, pts, NPTS, v);
    for (int p = 0; p < NPTS; p++)
        for (int k = 0; k <= 6; k++) {
            double complex w = cpow(2.0 + 3.0 * I, k) * cexp((2.0 + 3.0 * I) * pts[p]);
            char what[48];
            snprintf(what, sizeof what, "d^%d e^2x sin 3x", k);
            expect_close(what, p, v[p * 7 + k], cimag(w), cabs(w), 1e-13);
        }
    ddx_graph_free(g);
}

static void test_reciprocal_order6(void **state) {
    (void)state;
    /* d^k 1/(1+x) = (-1)^k k! / (1+x)^(k+1), three ways to write 1/(1+x) */
    for (int way = 0; way < 3; way++) {
        ddx_graph *g = ddx_graph_create();
        ddx_node x = ddx_input(g, "x");
        ddx_node s = ddx_add(g, ddx_const(g, 1.0), x);
        ddx_node y = way == 0 ? ddx_div(g, ddx_const(g, 1.0), s) : way == 1 ? ddx_powi(g, s, -1) : ddx_pow(g, s, -1.0);
        double pts[NPTS], v[NPTS * 7];
        random_points(pts, NPTS, 1, -0.6, 2.0, 606);
        derivs_1d(g, x, y, pts, NPTS, v);
        for (int p = 0; p < NPTS; p++) {
            double f = 1;
            for (int k = 0; k <= 6; k++) {
                if (k) f *= k;
                double want = ((k & 1) ? -f : f) / pow(1 + pts[p], k + 1);
                char what[48];
                snprintf(what, sizeof what, "way %d: d^%d 1/(1+x)", way, k);
                expect_close(what, p, v[p * 7 + k], want, fabs(want), 1e-13);
            }
        }
        ddx_graph_free(g);
    }
}

static void test_mixed_order6_exp_tx(void **state) {
    (void)state;
    /* d^3/dt^3 d^3/dx^3 e^{tx} = e^{tx} (t^3 x^3 + 9 t^2 x^2 + 18 t x + 6) */
    ddx_graph *g = ddx_graph_create();
    ddx_node t = ddx_input(g, "t"), x = ddx_input(g, "x");
    ddx_node y = ddx_exp(g, ddx_mul(g, t, x));
    const int a33[2] = {3, 3}, a24[2] = {2, 4};
    ddx_node cols[3] = {ddx_partial(g, y, a33), ddx_partial(g, y, a24), DDX_NO_NODE};
    /* the same partial with the grads nested the other way round */
    cols[2] = ddx_grad(g, ddx_grad(g, ddx_grad(g, ddx_grad(g, ddx_grad(g, ddx_grad(g, y, x), x), x), t), t), t);
    double pts[NPTS * 2], v[NPTS * 3];
    random_points(pts, NPTS, 2, -1.5, 1.5, 707);
    eval_graph(g, cols, 3, DDX_F64, pts, NPTS, v);
    for (int p = 0; p < NPTS; p++) {
        double T = pts[2 * p], X = pts[2 * p + 1], s = T * X, e = exp(s);
        double want = e * (s * s * s + 9 * s * s + 18 * s + 6);
        double scale = e * (fabs(s * s * s) + 9 * s * s + 18 * fabs(s) + 6);
        expect_close("d_t^3 d_x^3 e^{tx}", p, v[3 * p], want, scale, 1e-13);
        expect_close("d_x^3 d_t^3 e^{tx} (other nesting)", p, v[3 * p + 2], want, scale, 1e-13);
        /* d_t^2 d_x^4 e^{tx} = d_t^2 [t^4 e^{tx}] = e^{tx} (t^4 x^2 + 8 t^3 x + 12 t^2) */
        double want24 = e * (T * T * T * T * X * X + 8 * T * T * T * X + 12 * T * T);
        double scale24 = e * (fabs(T * T * T * T * X * X) + fabs(8 * T * T * T * X) + 12 * T * T);
        expect_close("d_t^2 d_x^4 e^{tx}", p, v[3 * p + 1], want24, fmax(scale24, 1e-300), 1e-13);
    }
    ddx_graph_free(g);
}

/* falling factorial p (p-1) ... (p-k+1) */
static double falling(double p, int k) {
    double r = 1;
    for (int j = 0; j < k; j++) r *= p - j;
    return r;
}

static void check_power(double p, int use_powi, double lo, double hi, uint64_t seed) {
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    ddx_node y = use_powi ? ddx_powi(g, x, (int)p) : ddx_pow(g, x, p);
    double pts[NPTS], v[NPTS * 7];
    random_points(pts, NPTS, 1, lo, hi, seed);
    derivs_1d(g, x, y, pts, NPTS, v);
    for (int q = 0; q < NPTS; q++)
        for (int k = 0; k <= 6; k++) {
            double c = falling(p, k);
            double want = c == 0 ? 0 : c * pow(pts[q], p - k);
            /* scale: the size the k-th derivative would have without the
             * zero factor (exact zeros must come out tiny, not huge) */
            double scale = fmax(fabs(want), fabs(pow(pts[q], p - k)));
            char what[64];
            snprintf(what, sizeof what, "d^%d x^%g (%s)", k, p, use_powi ? "powi" : "pow");
            expect_close(what, q, v[q * 7 + k], want, scale, 1e-13);
        }
    ddx_graph_free(g);
}

static void test_powers(void **state) {
    (void)state;
    /* real exponents, x > 0 */
    const double real_p[] = {2.5, -0.5, 1.0 / 3.0, -1.7, 0.5, 7.25};
    for (size_t i = 0; i < sizeof real_p / sizeof real_p[0]; i++) check_power(real_p[i], 0, 0.2, 2.5, 800 + i);
    /* integers, both signs of x; ddx_pow with an integer value too */
    const int int_p[] = {0, 1, 2, 3, 5, 6, 7, -1, -2, -3, -6};
    for (size_t i = 0; i < sizeof int_p / sizeof int_p[0]; i++) {
        check_power(int_p[i], 1, 0.2, 2.5, 900 + i);
        check_power(int_p[i], 1, -2.5, -0.2, 950 + i);
        check_power(int_p[i], 0, -2.5, -0.2, 980 + i);
    }
}

/* Scale of the rounding error of d^n g(h(x)) by Faa di Bruno: the sum of
 * the magnitudes of its terms, n! [t^n] |g|(|h|(t)) with the Taylor
 * coefficients replaced by their absolute values (gk[k] = |g^(k)(h(x))|,
 * hk[j] = |h^(j)(x)|). For sqrt(e^x) at n = 6 this is ~1e4 times the
 * result, for log(x^3.5) ~500 times: the terms nearly cancel, and a
 * tolerance relative to the result alone would ask for more than f64 has. */
static double fdb_abs_scale(const double *gk, const double *hk, int n) {
    double Hs[7] = {0}, P[7] = {1, 0, 0, 0, 0, 0, 0}, R[7] = {0}, fact = 1;
    for (int j = 1; j <= n; j++) {
        fact *= j;
        Hs[j] = fabs(hk[j]) / fact;
    }
    double kf = 1;
    for (int k = 0; k <= n; k++) {
        if (k) kf *= k;
        for (int m = 0; m <= n; m++) R[m] += fabs(gk[k]) / kf * P[m];
        double Q[7] = {0}; /* P *= Hs */
        for (int i = 0; i <= n; i++)
            for (int j = 1; i + j <= n; j++) Q[i + j] += P[i] * Hs[j];
        memcpy(P, Q, sizeof P);
    }
    return R[n] * fact;
}

/* sqrt, log and pow composed, with closed forms */
static void test_sqrt_log_pow_chains(void **state) {
    (void)state;
    double pts[NPTS], v[NPTS * 7];
    random_points(pts, NPTS, 1, 0.3, 2.0, 1001);
    for (int which = 0; which < 5; which++) {
        ddx_graph *g = ddx_graph_create();
        ddx_node x = ddx_input(g, "x"), y = DDX_NO_NODE;
        switch (which) {
        case 0: y = ddx_log(g, ddx_sqrt(g, ddx_add(g, ddx_mul(g, x, x), ddx_const(g, 1.0)))); break; /* log sqrt(1+x^2) */
        case 1: y = ddx_pow(g, ddx_exp(g, x), 2.5); break;                                        /* e^{2.5x} */
        case 2: y = ddx_sqrt(g, ddx_exp(g, x)); break;                                            /* e^{x/2} */
        case 3: y = ddx_log(g, ddx_pow(g, x, 3.5)); break;                                        /* 3.5 log x */
        case 4: y = ddx_powi(g, ddx_sqrt(g, x), 4); break;                                        /* x^2 */
        }
        derivs_1d(g, x, y, pts, NPTS, v);
        for (int p = 0; p < NPTS; p++) {
            double X = pts[p];
            for (int k = 0; k <= 6; k++) {
                double want = 0, scale = 0;
                switch (which) {
                case 0: {
                    /* log sqrt(1+x^2) = Re log(1 + ix); d^k = Re[(-1)^(k-1) (k-1)! i^k (1+ix)^-k] */
                    if (k == 0) {
                        want = 0.5 * log1p(X * X);
                        scale = fabs(want);
                    } else {
                        double complex w = ((k & 1) ? 1 : -1) * tgamma(k) * cpow(I, k) * cpow(1.0 + I * X, -k);
                        want = creal(w);
                        scale = cabs(w);
                    }
                    break;
                }
                case 1:
                case 2: {
                    /* (e^x)^p = e^{px}; g = z^p at z = e^x, h = e^x */
                    double pp = which == 1 ? 2.5 : 0.5, gk[7], hk[7];
                    for (int j = 0; j <= 6; j++) {
                        gk[j] = falling(pp, j) * exp((pp - j) * X);
                        hk[j] = exp(X);
                    }
                    want = pow(pp, k) * exp(pp * X);
                    scale = k == 0 ? want : fdb_abs_scale(gk, hk, k);
                    break;
                }
                case 3: {
                    /* log(x^3.5) = 3.5 log x; g = log at z = x^3.5, h = x^3.5 */
                    double gk[7], hk[7], z = pow(X, 3.5);
                    for (int j = 0; j <= 6; j++) {
                        gk[j] = j == 0 ? log(z) : tgamma(j) * pow(z, -j);
                        hk[j] = falling(3.5, j) * pow(X, 3.5 - j);
                    }
                    want = k == 0 ? 3.5 * log(X) : 3.5 * ((k & 1) ? 1 : -1) * tgamma(k) * pow(X, -k);
                    scale = k == 0 ? fmax(fabs(want), 1.0) : fdb_abs_scale(gk, hk, k);
                    break;
                }
                case 4: {
                    /* (sqrt x)^4 = x^2: orders 3..6 cancel to exactly 0 in exact arithmetic */
                    double gk[7], hk[7], r = sqrt(X);
                    for (int j = 0; j <= 6; j++) {
                        gk[j] = falling(4, j) * pow(r, 4 - j);
                        hk[j] = falling(0.5, j) * pow(X, 0.5 - j);
                    }
                    want = k == 0 ? X * X : k == 1 ? 2 * X : k == 2 ? 2 : 0;
                    scale = k == 0 ? X * X : fdb_abs_scale(gk, hk, k);
                    break;
                }
                }
                char what[64];
                snprintf(what, sizeof what, "chain %d, d^%d", which, k);
                expect_close(what, p, v[p * 7 + k], want, fmax(scale, 1e-300), 1e-13);
            }
        }
        ddx_graph_free(g);
    }
}

/* Faa di Bruno term scale for d^(a,b) g(xy), a, b <= 3: with z = xy,
 * z(x+s, y+t) - xy = y s + x t + s t exactly, so the sum of the term
 * magnitudes is a! b! [s^a t^b] sum_k |g^(k)| / k! (|y| s + |x| t + s t)^k. */
static double fdb_abs_scale_xy(const double *gk, double X, double Y, int a, int b) {
    double P[4][4] = {{1}}, R[4][4] = {{0}}, kf = 1;
    for (int k = 0; k <= a + b; k++) {
        if (k) kf *= k;
        for (int i = 0; i <= 3; i++)
            for (int j = 0; j <= 3; j++) R[i][j] += fabs(gk[k]) / kf * P[i][j];
        double Q[4][4] = {{0}};
        for (int i = 0; i <= 3; i++)
            for (int j = 0; j <= 3; j++) {
                if (i + 1 <= 3) Q[i + 1][j] += P[i][j] * fabs(Y);
                if (j + 1 <= 3) Q[i][j + 1] += P[i][j] * fabs(X);
                if (i + 1 <= 3 && j + 1 <= 3) Q[i + 1][j + 1] += P[i][j];
            }
        memcpy(P, Q, sizeof P);
    }
    return R[a][b] * tgamma(a + 1) * tgamma(b + 1);
}

/* two inputs: sqrt(x*y) and log(x*y), every partial up to (3,3) */
static void test_two_input_closed_forms(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x"), y = ddx_input(g, "y");
    ddx_node xy = ddx_mul(g, x, y);
    ddx_node f[2] = {ddx_sqrt(g, xy), ddx_log(g, xy)};
    ddx_node cols[2 * 16];
    for (int w = 0; w < 2; w++)
        for (int a = 0; a <= 3; a++)
            for (int b = 0; b <= 3; b++) {
                int alpha[2] = {a, b};
                cols[w * 16 + a * 4 + b] = ddx_partial(g, f[w], alpha);
            }
    double pts[NPTS * 2], v[NPTS * 32];
    random_points(pts, NPTS, 2, 0.3, 2.0, 1101);
    eval_graph(g, cols, 32, DDX_F64, pts, NPTS, v);
    for (int p = 0; p < NPTS; p++) {
        double X = pts[2 * p], Y = pts[2 * p + 1];
        for (int a = 0; a <= 3; a++)
            for (int b = 0; b <= 3; b++) {
                char what[64];
                /* sqrt(xy) = x^(1/2) y^(1/2) */
                double want = falling(0.5, a) * falling(0.5, b) * pow(X, 0.5 - a) * pow(Y, 0.5 - b);
                double gs[7], gl[7];
                for (int k = 0; k <= 6; k++) {
                    gs[k] = falling(0.5, k) * pow(X * Y, 0.5 - k);
                    gl[k] = k == 0 ? log(X * Y) : tgamma(k) * pow(X * Y, -k);
                }
                snprintf(what, sizeof what, "d^(%d,%d) sqrt(xy)", a, b);
                expect_close(what, p, v[p * 32 + a * 4 + b], want, fmax(fabs(want), fdb_abs_scale_xy(gs, X, Y, a, b)),
                             1e-13);
                /* log(xy) = log x + log y: mixed partials vanish */
                double wl, sl;
                if (a == 0 && b == 0) {
                    wl = log(X * Y);
                    sl = fabs(log(X)) + fabs(log(Y));
                } else if (a > 0 && b > 0) {
                    wl = 0; /* the terms cancel exactly */
                    sl = fdb_abs_scale_xy(gl, X, Y, a, b);
                } else {
                    int k = a + b;
                    double z = a ? X : Y;
                    wl = ((k & 1) ? 1 : -1) * tgamma(k) * pow(z, -k);
                    sl = fabs(wl);
                }
                snprintf(what, sizeof what, "d^(%d,%d) log(xy)", a, b);
                expect_close(what, p, v[p * 32 + 16 + a * 4 + b], wl, sl, 1e-13);
            }
    }
    ddx_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hessian_symmetry),      cmocka_unit_test(test_laplacian_is_trace),
        cmocka_unit_test(test_laplacian_collapsed),
        cmocka_unit_test(test_product_rule),          cmocka_unit_test(test_burgers_residual),
        cmocka_unit_test(test_exp_sin_order6),        cmocka_unit_test(test_reciprocal_order6),
        cmocka_unit_test(test_mixed_order6_exp_tx),   cmocka_unit_test(test_powers),
        cmocka_unit_test(test_sqrt_log_pow_chains),   cmocka_unit_test(test_two_input_closed_forms),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    printf("test_identities: worst |diff| / (tol * scale) = %.3f (%s)\n", worst_ratio, worst_what);
    return failed;
}
