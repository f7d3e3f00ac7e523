/* test_highdim.c — many inputs and the second-order operators for them
 * (issue 16): no input cap (d = 1 .. 4096 vs float64 finite differences),
 * the Hessian diagonal and the collapsed Laplacian vs the diagonal / trace
 * of a separately compiled full Hessian, channel counts, and the stochastic
 * (STDE) Laplacian: reproducible, unbiased within its standard error, error
 * shrinking as 1/sqrt(S), variance as the closed form 2 sum_{i!=j} H_ij^2 / S. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "tools/fd_reference.h"

static double *points(int n, int d, uint64_t seed) {
    double *p = malloc(sizeof(double) * (size_t)n * (size_t)d);
    assert_non_null(p);
    for (size_t k = 0; k < (size_t)n * (size_t)d; k++) p[k] = test_uniform(&seed, -1, 1);
    return p;
}

static int network_channels(ddx_graph *g, const ddx_node *outs, int n) {
    ddx_program *p = compile_cpu(g, outs, n, DDX_F64);
    int c = ddx_program_network_channels(p);
    ddx_program_free(p);
    return c;
}

/* d = 1, 16, 17 (one past the old cap), 100, 1000, 4096: u, two gradient
 * entries, the Laplacian and two Hessian-diagonal entries vs FD,
 * f64 and f32; the network carries d + 2 channels for the Laplacian. */
static void check_dim(int d) {
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 8, 42u + (uint64_t)d);
    ddx_node lap = ddx_laplacian(g, u);
    ddx_node outs[6] = {u, ddx_grad(g, u, ddx_graph_input(g, 0)), ddx_grad(g, u, ddx_graph_input(g, d - 1)), lap};
    int K = 4;
    {
        ddx_node *hd = malloc(sizeof(ddx_node) * (size_t)d);
        assert_non_null(hd);
        assert_int_equal(ddx_hessdiag(g, u, hd), DDX_OK);
        outs[K++] = hd[0];
        outs[K++] = hd[d - 1];
        free(hd);
    }
    assert_graph_ok(g);
    assert_int_equal(network_channels(g, &lap, 1), d == 1 ? 3 : d + 2);
    const int n = 3;
    double *pts = points(n, d, 7), out[3 * 6], refs[3 * 6];
    for (int q = 0; q < n; q++)
        for (int k = 0; k < K; k++) refs[q * K + k] = fd_eval(g, outs[k], pts + (size_t)q * d);
    for (int prec = 0; prec < 2; prec++) {
        eval_graph(g, outs, K, prec ? DDX_F64 : DDX_F32, pts, n, out);
        for (int q = 0; q < n; q++)
            for (int k = 0; k < K; k++) {
                double ref = refs[q * K + k];
                double tol = prec ? 1e-6 : 2e-3;
                if (rel_err(out[q * K + k], ref, 1e-2) > tol)
                    fail_msg("d=%d %s point %d column %d: ddx %.10g, FD %.10g", d, prec ? "f64" : "f32", q, k,
                             out[q * K + k], ref);
            }
    }
    free(pts);
    ddx_graph_free(g);
}

static void test_dims(void **state) {
    (void)state;
    const int dims[] = {1, 16, 17, 100, 1000, 4096};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) check_dim(dims[i]);
}

/* hessdiag and the collapsed Laplacian against the diagonal and trace of a
 * full Hessian compiled on its own; channels 1 + 2d vs 1 + d + d(d+1)/2. */
static void test_hessdiag_vs_hessian(void **state) {
    (void)state;
    const int d = 5, n = 4;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 3);
    ddx_node H[25], D[5];
    assert_int_equal(ddx_hessian(g, u, H), DDX_OK);
    assert_int_equal(ddx_hessdiag(g, u, D), DDX_OK);
    ddx_node lap = ddx_laplacian(g, u);
    assert_int_equal(network_channels(g, D, d), 1 + 2 * d);
    assert_int_equal(network_channels(g, H, 25), 1 + d + d * (d + 1) / 2);
    assert_int_equal(network_channels(g, &lap, 1), d + 2);
    double *pts = points(n, d, 11), hv[4 * 25], dv[4 * 5], lv[4];
    for (int prec = 0; prec < 2; prec++) {
        ddx_precision pr = prec ? DDX_F64 : DDX_F32;
        eval_graph(g, H, 25, pr, pts, n, hv);
        eval_graph(g, D, d, pr, pts, n, dv);
        eval_graph(g, &lap, 1, pr, pts, n, lv);
        double tol = prec ? 1e-12 : 1e-5;
        for (int q = 0; q < n; q++) {
            double tr = 0;
            for (int i = 0; i < d; i++) {
                tr += hv[q * 25 + i * d + i];
                assert_true(rel_err(dv[q * d + i], hv[q * 25 + i * d + i], 1e-3) < tol);
            }
            assert_true(rel_err(lv[q], tr, 1e-3) < tol);
        }
    }
    free(pts);
    ddx_graph_free(g);
}

/* STDE at one seed: reproducible to the bit, f32 ~ f64, equal to the FD
 * reference of the same directions (tools/fd_reference.c differentiates
 * along them), 1 + 2S channels whatever d; seeds differ. */
static void test_stde_reproducible(void **state) {
    (void)state;
    const int d = 200, n = 3, S = 8;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 5);
    ddx_node e[3] = {ddx_laplacian_stochastic(g, u, S, 1, 0), ddx_laplacian_stochastic(g, u, S, 1, 0),
                     ddx_laplacian_stochastic(g, u, S, 2, 1)};
    assert_graph_ok(g);
    assert_int_equal(e[0], e[1]); /* the same estimator is one node */
    assert_int_equal(network_channels(g, e, 1), 1 + 2 * S);
    assert_int_equal(ddx_laplacian_stochastic(g, u, 0, 1, 0), DDX_NO_NODE);
    assert_int_equal(ddx_graph_status(g), DDX_ERR_INVALID_ARG);
    ddx_graph_clear_error(g);
    double *pts = points(n, d, 13), a[9], b[9], f[9];
    eval_graph(g, e, 3, DDX_F64, pts, n, a);
    eval_graph(g, e, 3, DDX_F64, pts, n, b);
    eval_graph(g, e, 3, DDX_F32, pts, n, f);
    assert_memory_equal(a, b, sizeof a);
    for (int q = 0; q < n; q++)
        for (int k = 0; k < 3; k += 2) {
            double ref = fd_eval(g, e[k], pts + (size_t)q * d);
            assert_true(rel_err(a[q * 3 + k], ref, 1e-2) < 1e-6);
            assert_true(rel_err(f[q * 3 + k], a[q * 3 + k], 1e-2) < 2e-3);
        }
    assert_true(a[0] != a[2]); /* another seed and distribution: another estimate */
    free(pts);
    ddx_graph_free(g);
}

/* Over many seeds: the mean is within 4 standard errors of the exact
 * Laplacian; the variance matches 2 sum_{i!=j} H_ij^2 / S (Rademacher) within
 * the spread of a 200-seed variance estimate; RMS error shrinks ~1/sqrt(S). */
static void test_stde_statistics(void **state) {
    (void)state;
    const int d = 6, seeds = 200;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 9);
    ddx_node H[36];
    assert_int_equal(ddx_hessian(g, u, H), DDX_OK);
    double x[6] = {0.3, -0.2, 0.5, 0.1, -0.7, 0.4}, h[36];
    eval_graph(g, H, 36, DDX_F64, x, 1, h);
    double tr = 0, off = 0;
    for (int i = 0; i < d; i++) {
        tr += h[i * d + i];
        for (int j = 0; j < d; j++)
            if (i != j) off += h[i * d + j] * h[i * d + j];
    }
    const int Ss[2] = {4, 36};
    double rms[2];
    ddx_node *est = malloc(sizeof(ddx_node) * seeds);
    double *v = malloc(sizeof(double) * seeds);
    assert_non_null(est);
    assert_non_null(v);
    for (int si = 0; si < 2; si++) {
        for (int k = 0; k < seeds; k++) est[k] = ddx_laplacian_stochastic(g, u, Ss[si], 1000u + (uint64_t)k, 0);
        assert_graph_ok(g);
        eval_graph(g, est, seeds, DDX_F64, x, 1, v);
        double mean = 0, var = 0, mse = 0;
        for (int k = 0; k < seeds; k++) mean += v[k] / seeds;
        for (int k = 0; k < seeds; k++) {
            var += (v[k] - mean) * (v[k] - mean) / (seeds - 1);
            mse += (v[k] - tr) * (v[k] - tr) / seeds;
        }
        double want_var = 2 * off / Ss[si];
        if (fabs(mean - tr) > 4 * sqrt(var / seeds))
            fail_msg("S=%d: mean %.6g vs exact %.6g, standard error %.3g", Ss[si], mean, tr, sqrt(var / seeds));
        if (var < 0.6 * want_var || var > 1.6 * want_var)
            fail_msg("S=%d: variance %.4g vs closed form %.4g", Ss[si], var, want_var);
        rms[si] = sqrt(mse);
    }
    double ratio = rms[0] / rms[1]; /* sqrt(36 / 4) = 3 */
    if (ratio < 2.1 || ratio > 4.3) fail_msg("RMS error ratio S=4 / S=36: %.3g, expected ~3", ratio);
    free(est);
    free(v);
    ddx_graph_free(g);
}

/* Biharmonic: the STDE estimate (Gaussian directions, D_v^4 u / 3) over 200
 * seeds has its mean within 4 standard errors of the exact laplacian of the
 * laplacian (4th partials through grad nodes), 1 + 4S channels, and one
 * seed agrees with FD along its own directions. */
static void test_biharmonic_stochastic(void **state) {
    (void)state;
    const int d = 3, seeds = 200, S = 4;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 41);
    ddx_node exact = ddx_laplacian(g, ddx_laplacian(g, u));
    ddx_node *est = malloc(sizeof(ddx_node) * seeds);
    double *v = malloc(sizeof(double) * seeds), x[3] = {0.2, -0.4, 0.6}, ex;
    assert_non_null(est);
    assert_non_null(v);
    for (int k = 0; k < seeds; k++) est[k] = ddx_biharmonic_stochastic(g, u, S, 500u + (uint64_t)k);
    assert_graph_ok(g);
    assert_int_equal(network_channels(g, est, 1), 1 + 4 * S);
    eval_graph(g, &exact, 1, DDX_F64, x, 1, &ex);
    assert_true(rel_err(ex, fd_eval(g, exact, x), 1e-2) < 1e-3);
    eval_graph(g, est, seeds, DDX_F64, x, 1, v);
    double mean = 0, var = 0;
    for (int k = 0; k < seeds; k++) mean += v[k] / seeds;
    for (int k = 0; k < seeds; k++) var += (v[k] - mean) * (v[k] - mean) / (seeds - 1);
    if (fabs(mean - ex) > 4 * sqrt(var / seeds))
        fail_msg("biharmonic STDE: mean %.6g vs exact %.6g, standard error %.3g", mean, ex, sqrt(var / seeds));
    assert_true(rel_err(v[0], fd_eval(g, est[0], x), 1e-2) < 1e-3);
    free(est);
    free(v);
    ddx_graph_free(g);
}

/* STDE for sum_ij a_ij u_ij with A = B B^T (directions L z, Cholesky): mean
 * over 200 seeds within 4 standard errors of the exact collapsed operator;
 * one seed vs FD along its own directions; an indefinite A is refused. */
static void test_operator2_stochastic(void **state) {
    (void)state;
    const int d = 4, seeds = 200, S = 4;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 51);
    double B[16], A[16], x[4] = {0.1, 0.5, -0.3, 0.8}, ex;
    uint64_t sd = 5;
    for (int k = 0; k < 16; k++) B[k] = test_uniform(&sd, -1, 1);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            A[i * d + j] = 0;
            for (int k = 0; k < d; k++) A[i * d + j] += B[i * d + k] * B[j * d + k];
        }
    ddx_node exact = ddx_operator2(g, u, A, NULL, 0);
    ddx_node *est = malloc(sizeof(ddx_node) * seeds);
    double *v = malloc(sizeof(double) * seeds);
    assert_non_null(est);
    assert_non_null(v);
    for (int k = 0; k < seeds; k++) est[k] = ddx_operator2_stochastic(g, u, A, S, 700u + (uint64_t)k, k & 1);
    assert_graph_ok(g);
    eval_graph(g, &exact, 1, DDX_F64, x, 1, &ex);
    eval_graph(g, est, seeds, DDX_F64, x, 1, v);
    double mean = 0, var = 0;
    for (int k = 0; k < seeds; k++) mean += v[k] / seeds;
    for (int k = 0; k < seeds; k++) var += (v[k] - mean) * (v[k] - mean) / (seeds - 1);
    if (fabs(mean - ex) > 4 * sqrt(var / seeds))
        fail_msg("op2 STDE: mean %.6g vs exact %.6g, standard error %.3g", mean, ex, sqrt(var / seeds));
    assert_true(rel_err(v[1], fd_eval(g, est[1], x), 1e-2) < 1e-6);
    double Ibad[16] = {1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    assert_int_equal(ddx_operator2_stochastic(g, u, Ibad, S, 1, 0), DDX_NO_NODE);
    assert_int_equal(ddx_graph_status(g), DDX_ERR_INVALID_ARG);
    free(est);
    free(v);
    ddx_graph_free(g);
}

/* sum_ij a_ij u_ij for a constant, non-symmetric A: one collapsed channel
 * (d + 2), equal to the contraction with a separately compiled Hessian, on
 * a network and on a product (Leibniz rule with A), vs FD too. */
static void test_operator2(void **state) {
    (void)state;
    const int d = 4, n = 3;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 21);
    ddx_node y = ddx_mul(g, u, ddx_sin(g, ddx_graph_input(g, 1))); /* a product: Leibniz terms with A */
    double A[16];
    uint64_t s = 99;
    for (int k = 0; k < 16; k++) A[k] = test_uniform(&s, -1, 1);
    ddx_node H[2][16], op[2];
    for (int w = 0; w < 2; w++) {
        ddx_node f = w ? y : u;
        assert_int_equal(ddx_hessian(g, f, H[w]), DDX_OK);
        op[w] = ddx_operator2(g, f, A, NULL, 0);
    }
    /* over a subset, A in the caller's order: inputs 3 and 1 with [[2,0],[0,5]] */
    ddx_node sub_in[2] = {ddx_graph_input(g, 3), ddx_graph_input(g, 1)};
    double A2[4] = {2, 0, 0, 5};
    ddx_node sub = ddx_operator2(g, u, A2, sub_in, 2);
    assert_graph_ok(g);
    assert_int_equal(network_channels(g, &op[0], 1), d + 2);
    double *pts = points(n, d, 17), ov[3 * 3], hv[3 * 16];
    ddx_node outs[3] = {op[0], op[1], sub};
    for (int prec = 0; prec < 2; prec++) {
        ddx_precision pr = prec ? DDX_F64 : DDX_F32;
        eval_graph(g, outs, 3, pr, pts, n, ov);
        for (int w = 0; w < 2; w++) {
            eval_graph(g, H[w], 16, pr, pts, n, hv);
            for (int q = 0; q < n; q++) {
                double want = 0;
                for (int k = 0; k < 16; k++) want += A[k] * hv[q * 16 + k];
                assert_true(rel_err(ov[q * 3 + w], want, 1e-2) < (prec ? 1e-12 : 1e-4));
                if (w == 0) {
                    double ws = 2 * hv[q * 16 + 3 * 4 + 3] + 5 * hv[q * 16 + 1 * 4 + 1];
                    assert_true(rel_err(ov[q * 3 + 2], ws, 1e-2) < (prec ? 1e-12 : 1e-4));
                }
                if (prec) assert_true(rel_err(ov[q * 3 + w], fd_eval(g, outs[w], pts + q * d), 1e-2) < 1e-6);
            }
        }
    }
    free(pts);
    ddx_graph_free(g);
}

/* The CUDA emitter at d = 100 (no input cap there either): u_x100 and an
 * STDE estimate (random-direction seeds in the input instructions) compile
 * with NVRTC for sm_90, no GPU needed. Skips when ddx was built without
 * CUDA. (The exact Laplacian, Hessian diagonal and STDE at d = 100, with the
 * constant-jet first layer: test_cuda_nvrtc and test_cuda_emulate.) */
static void test_cuda_d100_compiles(void **state) {
    (void)state;
    const int d = 100;
    ddx_graph *g = ddx_graph_create();
    ddx_node u = test_small_mlp(g, d, 16, 31);
    ddx_node outs[3] = {ddx_grad(g, u, ddx_graph_input(g, d - 1)), ddx_laplacian_stochastic(g, u, 4, 7, 0), u};
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CUDA;
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    ddx_status st = ddx_cuda_compile_report(g, outs, 3, &o, "sm_90", buf, 1 << 16);
    if (st == DDX_ERR_UNSUPPORTED) printf("  (skipped: ddx built without CUDA)\n");
    else if (st != DDX_OK) fail_msg("NVRTC at d = 100: %s", ddx_graph_error(g));
    free(buf);
    ddx_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dims),
        cmocka_unit_test(test_hessdiag_vs_hessian),
        cmocka_unit_test(test_stde_reproducible),
        cmocka_unit_test(test_stde_statistics),
        cmocka_unit_test(test_operator2),
        cmocka_unit_test(test_biharmonic_stochastic),
        cmocka_unit_test(test_operator2_stochastic),
        cmocka_unit_test(test_cuda_d100_compiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
