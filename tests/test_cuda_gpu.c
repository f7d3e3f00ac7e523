/* test_cuda_gpu.c — the CUDA backend on a real GPU against the CPU
 * evaluator in f64: every test program, f32 and f64, both strategies,
 * ragged batches (1, 31, 1000003 points), NaN rows, streaming in chunks,
 * the out-of-memory fallback and the device-pointer entry. Without a GPU it
 * prints "skipped: no CUDA device" and passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_util.h"
#include "host/runtime/test_hooks.h"
#include "cuda_test_programs.h"
#include "host/runtime/backend.h"
#include "host/cuda/cuda_driver.h"

/* f32: orders 0-1 1e-5, 2 1e-4, 3-4 1e-3 of the column's largest
 * magnitude; f64: 1e-10. */
static double tol_for(ddx_precision prec, int order) {
    if (prec == DDX_F64) return 1e-10;
    return order <= 1 ? 1e-5 : order == 2 ? 1e-4 : 1e-3;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Points for a case: deterministic, rounded to the program precision (the
 * f64 reference then sees the very inputs the GPU sees), NaN in a few rows. */
static double *make_points(const cuda_case *c, int which, int64_t n, ddx_precision prec, int64_t *nan_rows, int *nnan) {
    double *pts = malloc(sizeof(double) * (size_t)(n * c->d));
    assert_non_null(pts);
    cuda_case_points(c, which, n, pts, 1234 + (uint64_t)which);
    if (prec == DDX_F32)
        for (int64_t i = 0; i < n * c->d; i++) pts[i] = (double)(float)pts[i];
    *nnan = 0;
    const int64_t cand[3] = {n / 2, n - 1, 7};
    for (int k = 0; k < 3 && n >= 31; k++) {
        pts[cand[k] * c->d + (k % c->d)] = NAN;
        nan_rows[(*nnan)++] = cand[k];
    }
    return pts;
}

/* Compares got (n x K, doubles) with the reference; NaN exactly where the
 * reference has NaN. Fails the test with the worst entry. */
static void compare(const char *what, const cuda_case *c, ddx_precision prec, int64_t n, const double *got,
                    const double *want) {
    const int K = c->ncols;
    for (int k = 0; k < K; k++) {
        double mag = 0;
        for (int64_t i = 0; i < n; i++)
            if (isfinite(want[i * K + k]) && fabs(want[i * K + k]) > mag) mag = fabs(want[i * K + k]);
        if (mag < 1e-300) mag = 1e-300;
        double worst = 0, tol = tol_for(prec, c->order[k]);
        int64_t wi = -1;
        for (int64_t i = 0; i < n; i++) {
            double w = want[i * K + k], g = got[i * K + k];
            if (isnan(w) || isnan(g)) {
                if (isnan(w) != isnan(g))
                    fail_msg("%s: row %lld column %d: got %g, want %g (a NaN must stay in its own row)", what,
                             (long long)i, k, g, w);
                continue;
            }
            double e = fabs(g - w) / mag;
            if (e > worst) {
                worst = e;
                wi = i;
            }
        }
        if (worst > tol)
            fail_msg("%s: column %d (order %d): row %lld got %.17g want %.17g, error %.3g of the column's largest "
                     "magnitude > %.3g",
                     what, k, c->order[k], (long long)wi, got[wi * K + k], want[wi * K + k], worst, tol);
    }
}

/* ddx_compile_options.cuda_chunk_points of the next compile_cuda (0: default) */
static int g_chunk;

static ddx_program *compile_cuda(cuda_case *c, ddx_precision prec, ddx_strategy strat) {
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.cuda_chunk_points = g_chunk;
    o.device = DDX_DEVICE_CUDA;
    o.precision = prec;
    o.strategy = strat;
    ddx_program *p = NULL;
    ddx_status st = ddx_compile(c->g, c->outs, c->nouts, &o, &p);
    if (st != DDX_OK) fail_msg("compile for cuda: %s: %s", ddx_status_string(st), ddx_graph_error(c->g));
    assert_int_equal(ddx_program_device(p), DDX_DEVICE_CUDA);
    return p;
}

/* One program, precision and strategy over the given batch sizes. */
static void check_case(int which, ddx_precision prec, ddx_strategy strat, const int64_t *sizes, int nsizes) {
    cuda_case c;
    cuda_case_build(which, &c);
    assert_graph_ok(c.g);
    ddx_program *p = compile_cuda(&c, prec, strat);
    char desc[8192];
    ddx_program_describe(p, desc, sizeof desc);
    assert_non_null(strstr(desc, "registers"));
    for (int s = 0; s < nsizes; s++) {
        int64_t n = sizes[s], nan_rows[3];
        int nnan;
        double *pts = make_points(&c, which, n, prec, nan_rows, &nnan);
        double *want = malloc(sizeof(double) * (size_t)(n * c.ncols)), *got = malloc(sizeof(double) * (size_t)(n * c.ncols));
        assert_non_null(want);
        assert_non_null(got);
        double t0 = now_s();
        eval_graph(c.g, c.outs, c.nouts, DDX_F64, pts, n, want);
        double t1 = now_s();
        ddx_status st = eval_program(p, prec, pts, n, got);
        double t2 = now_s();
        if (st != DDX_OK) fail_msg("%s: eval: %s", cuda_case_names[which], ddx_program_error(p));
        char what[160];
        snprintf(what, sizeof what, "%s %s %s n=%lld", cuda_case_names[which], prec ? "f64" : "f32",
                 strat == DDX_STRATEGY_CUBLAS ? "cublas" : strat == DDX_STRATEGY_FUSED ? "fused" : "auto", (long long)n);
        compare(what, &c, prec, n, got, want);
        for (int k = 0; k < nnan; k++) assert_true(isnan(got[nan_rows[k] * c.ncols]));
        printf("  ok %-32s cpu f64 %.3f s, cuda %.3f s\n", what, t1 - t0, t2 - t1);
        free(pts);
        free(want);
        free(got);
    }
    ddx_program_free(p);
    ddx_graph_free(c.g);
}

static const int64_t small_sizes[] = {1, 31, 4099};
static const int64_t all_sizes[] = {1, 31, 1000003};

static void test_seed(void **state) {
    (void)state;
    for (int prec = 0; prec < 2; prec++) check_case(CASE_SEED, (ddx_precision)prec, DDX_STRATEGY_AUTO, all_sizes, 3);
    /* the closed form at x = 1: log 3, 1/3, -1/9, 2/27, -2/27 */
    cuda_case c;
    cuda_case_build(CASE_SEED, &c);
    ddx_program *p = compile_cuda(&c, DDX_F64, DDX_STRATEGY_AUTO);
    double x = 1, got[5];
    assert_int_equal(ddx_program_eval(p, &x, 1, got), DDX_OK);
    const double want[5] = {log(3.0), 1.0 / 3, -1.0 / 9, 2.0 / 27, -2.0 / 27};
    for (int k = 0; k < 5; k++) assert_true(rel_err(got[k], want[k], 0) < 1e-14);
    ddx_program_free(p);
    ddx_graph_free(c.g);
}

static void test_w1(void **state) {
    (void)state;
    for (int prec = 0; prec < 2; prec++) {
        check_case(CASE_W1, (ddx_precision)prec, DDX_STRATEGY_AUTO, all_sizes, 3);
        check_case(CASE_W1, (ddx_precision)prec, DDX_STRATEGY_CUBLAS, small_sizes, 3);
    }
}

static void test_w2(void **state) {
    (void)state;
    for (int prec = 0; prec < 2; prec++) {
        check_case(CASE_W2, (ddx_precision)prec, DDX_STRATEGY_AUTO, all_sizes, 3);
        check_case(CASE_W2, (ddx_precision)prec, DDX_STRATEGY_CUBLAS, small_sizes, 3);
    }
}

static void test_acts(void **state) {
    (void)state;
    for (int prec = 0; prec < 2; prec++) {
        check_case(CASE_ACTS, (ddx_precision)prec, DDX_STRATEGY_AUTO, all_sizes, 3);
        check_case(CASE_ACTS, (ddx_precision)prec, DDX_STRATEGY_CUBLAS, small_sizes, 3);
    }
}

static void test_w3(void **state) {
    (void)state;
    static const int64_t sizes[] = {1, 31, 20011};
    for (int prec = 0; prec < 2; prec++) check_case(CASE_W3, (ddx_precision)prec, DDX_STRATEGY_AUTO, sizes, 3);
    /* fused can hold W3 in f32 with 4-point tiles: slow but must be right */
    static const int64_t one[] = {1031};
    check_case(CASE_W3, DDX_F32, DDX_STRATEGY_FUSED, one, 1);
}

static void test_extra_programs(void **state) {
    (void)state;
    static const int extra[] = {CASE_MIXED, CASE_RESNET, CASE_SHARED, CASE_W1_SMALL, CASE_MISC, CASE_DEEP};
    static const int64_t sizes[] = {31, 5003};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        for (int prec = 0; prec < 2; prec++) {
            check_case(extra[i], (ddx_precision)prec, DDX_STRATEGY_FUSED, sizes, 2);
            check_case(extra[i], (ddx_precision)prec, DDX_STRATEGY_CUBLAS, sizes, 2);
        }
}

/* d = 100 (issue 16): the first layer's constant jet on both strategies;
 * exact Laplacian, Hessian diagonal (100 columns), STDE estimates. */
static void test_d100(void **state) {
    (void)state;
    static const int cases[] = {CASE_D100_LAP, CASE_D100_HESSDIAG, CASE_D100_STDE};
    static const int64_t sizes[] = {31, 5003};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int prec = 0; prec < 2; prec++) {
            check_case(cases[i], (ddx_precision)prec, DDX_STRATEGY_AUTO, sizes, 2); /* fused */
            if (prec == (int)(i % 2)) check_case(cases[i], (ddx_precision)prec, DDX_STRATEGY_CUBLAS, sizes, 2);
        }
}

/* Chunks smaller than the batch: two streams, pinned buffers, the last
 * chunk partial (and for cuBLAS, per-channel GEMMs on it). */
static void test_streaming(void **state) {
    (void)state;
    g_chunk = 65536;
    static const int64_t big[] = {1000003};
    check_case(CASE_W1, DDX_F32, DDX_STRATEGY_AUTO, big, 1);
    g_chunk = 1024;
    static const int64_t mid[] = {5003};
    check_case(CASE_W3, DDX_F32, DDX_STRATEGY_AUTO, mid, 1);
    check_case(CASE_W2, DDX_F64, DDX_STRATEGY_CUBLAS, mid, 1);
    g_chunk = 0;
}

/* Device allocations over a limit fail as out of memory: the chunk halves
 * until it fits; below the floor the call fails and names the call. */
static void test_out_of_memory(void **state) {
    (void)state;
    cuda_case c;
    cuda_case_build(CASE_W1, &c);
    ddx_program *p = compile_cuda(&c, DDX_F32, DDX_STRATEGY_AUTO);
    const int64_t n = 1 << 21;
    double *pts = malloc(sizeof(double) * (size_t)(n * 2)), *got = malloc(sizeof(double) * (size_t)(n * c.ncols));
    double *want = malloc(sizeof(double) * (size_t)(n * c.ncols));
    cuda_case_points(&c, CASE_W1, n, pts, 5);
    for (int64_t i = 0; i < n * 2; i++) pts[i] = (double)(float)pts[i];
    eval_graph(c.g, c.outs, c.nouts, DDX_F64, pts, n, want);
    ddx_test_hooks.cuda_oom_above = 20000000; /* 2^20 x 7 outputs x 4 bytes = 29 MB: too big */
    assert_int_equal(eval_program(p, DDX_F32, pts, n, got), DDX_OK);
    compare("W1 f32 after halving", &c, DDX_F32, n, got, want);
    ddx_test_hooks.cuda_oom_above = 0;
    ddx_program *q = compile_cuda(&c, DDX_F32, DDX_STRATEGY_AUTO); /* a fresh program: no buffers yet */
    ddx_test_hooks.cuda_oom_above = 100;
    ddx_status st = eval_program(q, DDX_F32, pts, 1000, got);
    ddx_test_hooks.cuda_oom_above = 0;
    assert_int_equal(st, DDX_ERR_OUT_OF_MEMORY);
    printf("  out of memory reads: %s\n", ddx_program_error(q));
    assert_non_null(strstr(ddx_program_error(q), "cuMemAlloc"));
    assert_non_null(strstr(ddx_program_error(q), "chunk"));
    ddx_program_free(q);
    ddx_program_free(p);
    free(pts);
    free(got);
    free(want);
    ddx_graph_free(c.g);
}

/* Points and outputs already on the device (allocated with the driver API
 * through ddx's own loader). */
static void check_device_entry(int which, ddx_precision prec, ddx_strategy strat, int64_t n) {
    char why[256];
    const ddx_cu_api *cu = ddx_cu(why, sizeof why);
    assert_non_null(cu);
    cuda_case c;
    cuda_case_build(which, &c);
    ddx_program *p = compile_cuda(&c, prec, strat);
    int64_t nan_rows[3];
    int nnan;
    double *pts = make_points(&c, which, n, prec, nan_rows, &nnan);
    double *want = malloc(sizeof(double) * (size_t)(n * c.ncols)), *got = malloc(sizeof(double) * (size_t)(n * c.ncols));
    eval_graph(c.g, c.outs, c.nouts, DDX_F64, pts, n, want);
    size_t rsz = prec == DDX_F64 ? 8 : 4;
    void *hp = malloc(rsz * (size_t)(n * c.d)), *ho = malloc(rsz * (size_t)(n * c.ncols));
    for (int64_t i = 0; i < n * c.d; i++) {
        if (prec == DDX_F64)
            ((double *)hp)[i] = pts[i];
        else
            ((float *)hp)[i] = (float)pts[i];
    }
    assert_int_equal(cu->CtxPushCurrent(cu->ctx), CUDA_SUCCESS);
    CUdeviceptr dp = 0, dout = 0;
    assert_int_equal(cu->MemAlloc(&dp, rsz * (size_t)(n * c.d)), CUDA_SUCCESS);
    assert_int_equal(cu->MemAlloc(&dout, rsz * (size_t)(n * c.ncols)), CUDA_SUCCESS);
    assert_int_equal(cu->MemcpyHtoD(dp, hp, rsz * (size_t)(n * c.d)), CUDA_SUCCESS);
    ddx_status st = ddx_program_eval_device(p, (const void *)(uintptr_t)dp, n, (void *)(uintptr_t)dout);
    if (st != DDX_OK) fail_msg("eval_device: %s", ddx_program_error(p));
    assert_int_equal(cu->MemcpyDtoH(ho, dout, rsz * (size_t)(n * c.ncols)), CUDA_SUCCESS);
    /* a host pointer is refused, not dereferenced */
    assert_int_equal(ddx_program_eval_device(p, pts, n, got), DDX_ERR_INVALID_ARG);
    cu->MemFree(dp);
    cu->MemFree(dout);
    CUcontext ctx;
    cu->CtxPopCurrent(&ctx);
    for (int64_t i = 0; i < n * c.ncols; i++) got[i] = prec == DDX_F64 ? ((double *)ho)[i] : ((float *)ho)[i];
    char what[128];
    snprintf(what, sizeof what, "device entry %s %s n=%lld", cuda_case_names[which], prec ? "f64" : "f32", (long long)n);
    compare(what, &c, prec, n, got, want);
    printf("  ok %s\n", what);
    free(hp);
    free(ho);
    free(pts);
    free(want);
    free(got);
    ddx_program_free(p);
    ddx_graph_free(c.g);
}

static void test_device_entry(void **state) {
    (void)state;
    check_device_entry(CASE_W1, DDX_F32, DDX_STRATEGY_AUTO, 100003);
    check_device_entry(CASE_W2, DDX_F64, DDX_STRATEGY_AUTO, 31);
    check_device_entry(CASE_W3, DDX_F32, DDX_STRATEGY_AUTO, 3001);
    check_device_entry(CASE_W1, DDX_F64, DDX_STRATEGY_CUBLAS, 1);
}

/* describe() says how the program runs. */
static void test_describe(void **state) {
    (void)state;
    cuda_case c;
    cuda_case_build(CASE_W1, &c);
    ddx_program *p = compile_cuda(&c, DDX_F32, DDX_STRATEGY_AUTO);
    char buf[8192];
    ddx_program_describe(p, buf, sizeof buf);
    printf("%s", buf);
    assert_non_null(strstr(buf, "strategy: fused"));
    assert_non_null(strstr(buf, "threads per block"));
    assert_non_null(strstr(buf, "points per block"));
    assert_non_null(strstr(buf, "bytes of shared memory"));
    assert_non_null(strstr(buf, "spill stores 0 bytes"));
    ddx_program_free(p);
    ddx_graph_free(c.g);
}

int main(void) {
    char why[256] = "";
    const ddx_backend_i *be = ddx_backend_cuda();
    if (!be || !be->available(why, sizeof why)) {
        printf("skipped: no CUDA device\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_describe),  cmocka_unit_test(test_seed),         cmocka_unit_test(test_w1),
        cmocka_unit_test(test_w2),        cmocka_unit_test(test_acts),         cmocka_unit_test(test_w3),
        cmocka_unit_test(test_streaming), cmocka_unit_test(test_out_of_memory), cmocka_unit_test(test_device_entry),
        cmocka_unit_test(test_extra_programs), cmocka_unit_test(test_d100),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
