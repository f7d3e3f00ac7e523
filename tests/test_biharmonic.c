/* test_biharmonic.c — the collapsed biharmonic laplacian(laplacian(u))
 * (channels Delta^2, d_k Delta, Delta, the Hessian, e_i, 0: Dangel et al.
 * 2025, "collapsing Taylor mode") and the other collapsed channels with
 * pairs or labels (grad of a Laplacian, Laplacian of a grad, op2 of op2):
 * against closed forms, the uncollapsed program (ddx_compile_options.
 * uncollapsed: every 4th partial u_iijj carried), and float64 finite
 * differences of the sum spelled with grads; channel counts pinned.
 * Tolerances: f64 vs uncollapsed 1e-11 relative, f64 vs closed form 1e-11,
 * f64 vs FD 1e-5 (4th-order stencils), f32 vs the f64 value 2e-3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "tools/fd_reference.h"


static ddx_program *compile_opt(ddx_graph *g, const ddx_node *outs, int n, ddx_precision prec, int uncollapsed) {
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    o.precision = prec;
    o.num_threads = 1;
    o.uncollapsed = uncollapsed;
    ddx_program *p = NULL;
    if (ddx_compile(g, outs, n, &o, &p) != DDX_OK) fail_msg("compile: %s", ddx_graph_error(g));
    return p;
}

static void eval_opt(ddx_graph *g, const ddx_node *outs, int n, ddx_precision prec, int uncollapsed,
                     const double *pts, int np, double *out) {
    ddx_program *p = compile_opt(g, outs, n, prec, uncollapsed);
    if (eval_program(p, prec, pts, np, out) != DDX_OK) fail_msg("eval: %s", ddx_program_error(p));
    ddx_program_free(p);
}

static int channels(ddx_graph *g, ddx_node y, int uncollapsed) {
    ddx_program *p = compile_opt(g, &y, 1, DDX_F64, uncollapsed);
    int c = ddx_program_network_channels(p);
    ddx_program_free(p);
    return c;
}

/* sum_ij d^4 y / dx_i^2 dx_j^2 spelled with grad nodes only: the FD
 * reference differences one 4th-order stencil per term (not FD of FD) */
static ddx_node biharmonic_by_grads(ddx_graph *g, ddx_node y, int d) {
    ddx_node acc = DDX_NO_NODE;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            ddx_node xi = ddx_graph_input(g, i), xj = ddx_graph_input(g, j);
            ddx_node t = ddx_grad(g, ddx_grad(g, ddx_grad(g, ddx_grad(g, y, xi), xi), xj), xj);
            acc = acc == DDX_NO_NODE ? t : ddx_add(g, acc, t);
        }
    return acc;
}

static double *points(int n, int d, uint64_t seed, double lo, double hi) {
    double *p = malloc(sizeof(double) * (size_t)n * (size_t)d);
    assert_non_null(p);
    for (size_t k = 0; k < (size_t)n * (size_t)d; k++) p[k] = test_uniform(&seed, lo, hi);
    return p;
}

static void expect_close(double got, double want, double tol, const char *what, int d, int q) {
    if (!(rel_err(got, want, 1e-2) <= tol)) fail_msg("%s (d=%d, point %d): %.15g vs %.15g", what, d, q, got, want);
}

/* Closed forms, no network: (a) a radial u = sin(r^2), r^2 = sum x_i^2:
 * with s = r^2, Delta f(s) = 4 s f'' + 2d f', so Delta^2 f = 16 s^2 f'''' +
 * (32 + 16 d) s f''' + (8 d + 4 d^2) f'' — every Faa di Bruno term of Delta^2
 * (f'' sum z_ij^2 = 4d f'', f'' (Delta z)^2 = 4d^2 f'', f''' z_i d_i Delta z = 0,
 * ...). (b) a product u = prod_i sin(a_i x_i): Delta^2 u = (sum a_i^2)^2 u,
 * through a chain of Leibniz rules (separable: the split pairs vanish).
 * (c) a product g h with g = exp(c . x), h = r^2, where they do not:
 * Delta^2 (g h) = g |c|^2 (|c|^2 r^2 + 8 c.x + 4d + 8) (the 8 is the split
 * pair term 4 sum_ij g_ij h_ij, the 8 c.x is 4 sum_i (Delta g)_i h_i). */
static void test_closed_forms(void **state) {
    (void)state;
    const int dims[3] = {2, 3, 5}, np = 4;
    for (int di = 0; di < 3; di++) {
        const int d = dims[di];
        ddx_graph *g = ddx_graph_create();
        ddx_node *xs = test_numbered_inputs(g, d);
        ddx_node r2 = DDX_NO_NODE, prod = DDX_NO_NODE;
        double a[5], sa = 0;
        for (int i = 0; i < d; i++) {
            ddx_node sq = ddx_mul(g, xs[i], xs[i]);
            r2 = r2 == DDX_NO_NODE ? sq : ddx_add(g, r2, sq);
            a[i] = 0.7 + 0.3 * i;
            sa += a[i] * a[i];
            ddx_node f = ddx_sin(g, ddx_mul(g, ddx_const(g, a[i]), xs[i]));
            prod = prod == DDX_NO_NODE ? f : ddx_mul(g, prod, f);
        }
        double c[5], cc = 0;
        ddx_node cx = DDX_NO_NODE;
        for (int i = 0; i < d; i++) {
            c[i] = 0.5 - 0.2 * i;
            cc += c[i] * c[i];
            ddx_node t = ddx_mul(g, ddx_const(g, c[i]), xs[i]);
            cx = cx == DDX_NO_NODE ? t : ddx_add(g, cx, t);
        }
        ddx_node rad = ddx_sin(g, r2), gh = ddx_mul(g, ddx_exp(g, cx), r2);
        ddx_node outs[3] = {ddx_laplacian(g, ddx_laplacian(g, rad)), ddx_laplacian(g, ddx_laplacian(g, prod)),
                            ddx_laplacian(g, ddx_laplacian(g, gh))};
        assert_graph_ok(g);
        double *pts = points(np, d, 100u + (uint64_t)d, -0.9, 0.9), out[3 * 4], o32[3 * 4];
        eval_opt(g, outs, 3, DDX_F64, 0, pts, np, out);
        eval_opt(g, outs, 3, DDX_F32, 0, pts, np, o32);
        for (int q = 0; q < np; q++) {
            const double *x = pts + (size_t)q * d;
            double s = 0, pu = 1, cdx = 0;
            for (int i = 0; i < d; i++) s += x[i] * x[i], pu *= sin(a[i] * x[i]), cdx += c[i] * x[i];
            double want[3] = {16 * s * s * sin(s) - (32 + 16.0 * d) * s * cos(s) - (8.0 * d + 4.0 * d * d) * sin(s),
                              sa * sa * pu, exp(cdx) * cc * (cc * s + 8 * cdx + 4.0 * d + 8)};
            static const char *const what[3][2] = {
                {"sin(r^2) collapsed f64 vs closed form", "sin(r^2) collapsed f32 vs closed form"},
                {"prod sin collapsed f64 vs closed form", "prod sin collapsed f32 vs closed form"},
                {"exp(c.x) r^2 collapsed f64 vs closed form", "exp(c.x) r^2 collapsed f32 vs closed form"}};
            for (int k = 0; k < 3; k++) {
                expect_close(out[q * 3 + k], want[k], 1e-11, what[k][0], d, q);
                expect_close(o32[q * 3 + k], want[k], 2e-3, what[k][1], d, q);
            }
        }
        free(pts);
        free(xs);
        ddx_graph_free(g);
    }
}

/* A tanh network at d = 2, 3, 5: the collapsed biharmonic (and the same
 * built as laplacian(laplacian)) vs the uncollapsed program, both
 * precisions, and vs float64 FD of the grad spelling. */
static void test_mlp_vs_uncollapsed_and_fd(void **state) {
    (void)state;
    const int dims[3] = {2, 3, 5}, np = 3;
    for (int di = 0; di < 3; di++) {
        const int d = dims[di];
        ddx_graph *g = ddx_graph_create();
        ddx_node u = test_small_mlp(g, d, 16, 7u + (uint64_t)d);
        ddx_node bih = ddx_laplacian(g, ddx_laplacian(g, u)), by_grads = biharmonic_by_grads(g, u, d);
        assert_graph_ok(g);
        double *pts = points(np, d, 9u + (uint64_t)d, -1, 1), c64[3], u64[3], c32[3], u32[3];
        eval_opt(g, &bih, 1, DDX_F64, 0, pts, np, c64);
        eval_opt(g, &bih, 1, DDX_F64, 1, pts, np, u64);
        eval_opt(g, &bih, 1, DDX_F32, 0, pts, np, c32);
        eval_opt(g, &bih, 1, DDX_F32, 1, pts, np, u32);
        for (int q = 0; q < np; q++) {
            double fd = fd_eval(g, by_grads, pts + (size_t)q * d);
            expect_close(c64[q], u64[q], 1e-11, "collapsed vs uncollapsed f64", d, q);
            expect_close(c64[q], fd, 1e-5, "collapsed f64 vs FD", d, q);
            expect_close(c32[q], c64[q], 2e-3, "collapsed f32 vs f64", d, q);
            expect_close(u32[q], c64[q], 2e-3, "uncollapsed f32 vs f64", d, q);
        }
        free(pts);
        ddx_graph_free(g);
    }
}

/* Channels with labels and other operators, each vs the uncollapsed
 * program: d_x1 Delta u ("lap x1"), Delta u_x2 (a Laplacian of a grad),
 * the Hessian entry d_x1 d_x3 Delta u, op2(op2(u)) (pairs of a general A),
 * Delta^3 (p = 3),
 * and the fallbacks: laplacian(op2(u)) and a Laplacian over {x1, x2} of the
 * full Laplacian (two operators: the outer one spelled with grads). */
static void test_labels_and_operators(void **state) {
    (void)state;
    const int d = 3, np = 3;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 77);
    ddx_node x1 = ddx_graph_input(g, 0), x2 = ddx_graph_input(g, 1), x3 = ddx_graph_input(g, 2);
    ddx_node y = ddx_mul(g, u, ddx_exp(g, ddx_mul(g, x1, x2))); /* a product: collapsed Leibniz with labels */
    double A[9] = {2, 0.5, 0, 0.5, 1, -0.3, 0, -0.3, 1.5};
    ddx_node sub[2] = {x1, x2};
    ddx_node lap = ddx_laplacian(g, y), op = ddx_operator2(g, y, A, NULL, 0);
    ddx_node outs[8] = {ddx_grad(g, lap, x1),
                        ddx_laplacian(g, ddx_grad(g, y, x2)),
                        ddx_grad(g, ddx_grad(g, lap, x1), x3),
                        ddx_operator2(g, op, A, NULL, 0),
                        ddx_laplacian(g, op),
                        ddx_laplacian_over(g, lap, sub, 2),
                        ddx_laplacian(g, lap),
                        ddx_laplacian(g, ddx_laplacian(g, lap))}; /* Delta^3: p = 3 multinomials */
    assert_graph_ok(g);
    double *pts = points(np, d, 5, -1, 1), c[8 * 3], r[8 * 3], f[8 * 3];
    eval_opt(g, outs, 8, DDX_F64, 0, pts, np, c);
    eval_opt(g, outs, 8, DDX_F64, 1, pts, np, r);
    eval_opt(g, outs, 8, DDX_F32, 0, pts, np, f);
    for (int q = 0; q < np; q++)
        for (int k = 0; k < 8; k++) {
            char what[64];
            snprintf(what, sizeof what, "output %d collapsed vs uncollapsed f64", k);
            expect_close(c[q * 8 + k], r[q * 8 + k], 1e-11, what, d, q);
            snprintf(what, sizeof what, "output %d collapsed f32 vs f64", k);
            expect_close(f[q * 8 + k], r[q * 8 + k], 2e-3, what, d, q);
        }
    /* one FD check of a labelled channel: d_x1 Delta y */
    ddx_node l1 = ddx_add(g, ddx_add(g, ddx_grad(g, ddx_grad(g, ddx_grad(g, y, x1), x1), x1),
                                     ddx_grad(g, ddx_grad(g, ddx_grad(g, y, x2), x2), x1)),
                          ddx_grad(g, ddx_grad(g, ddx_grad(g, y, x3), x3), x1));
    expect_close(c[0], fd_eval(g, l1, pts), 1e-6, "d_x1 laplacian vs FD", d, 0);
    free(pts);
    ddx_graph_free(g);
}

/* Channel counts of the biharmonic: collapsed 1 + d + d(d+1)/2 (the
 * Hessian) + 1 (Delta) + d (d_k Delta) + 1 (Delta^2); uncollapsed 1 + d +
 * d(d+1)/2 + d^2 (u_iij, u_iii) + d(d+1)/2 (u_iijj). */
static void test_channel_counts(void **state) {
    (void)state;
    const int dims[2] = {5, 50};
    for (int di = 0; di < 2; di++) {
        const int d = dims[di];
        ddx_graph *g = ddx_graph_create();
        ddx_node u = test_small_mlp(g, d, 8, 3);
        ddx_node bih = ddx_laplacian(g, ddx_laplacian(g, u));
        assert_graph_ok(g);
        int hess = d * (d + 1) / 2;
        int want_c = 1 + d + hess + 1 + d + 1, want_u = 1 + d + hess + d * d + hess;
        assert_int_equal(want_c, d == 5 ? 28 : 1378);
        assert_int_equal(want_u, d == 5 ? 61 : 5101);
        assert_int_equal(channels(g, bih, 0), want_c);
        assert_int_equal(channels(g, bih, 1), want_u);
        /* u carries the Delta^2 channel: -2 at every input, once */
        ddx_node outs[2] = {bih, u};
        ddx_program *p = compile_opt(g, outs, 2, DDX_F64, 0);
        int n = ddx_program_node_coeffs(p, u, NULL, 0);
        assert_int_equal(n, want_c);
        int *co = malloc(sizeof(int) * (size_t)n * (size_t)d);
        assert_non_null(co);
        assert_int_equal(ddx_program_node_coeffs(p, u, co, n), n);
        int found = 0;
        for (int c = 0; c < n; c++) {
            int all = 1;
            for (int i = 0; i < d; i++) all &= co[(size_t)c * d + i] == -2;
            found += all;
        }
        assert_int_equal(found, 1);
        free(co);
        ddx_program_free(p);
        ddx_graph_free(g);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_forms),
        cmocka_unit_test(test_mlp_vs_uncollapsed_and_fd),
        cmocka_unit_test(test_labels_and_operators),
        cmocka_unit_test(test_channel_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
