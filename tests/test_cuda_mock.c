/* test_cuda_mock.c — the CUDA backend's host logic without a GPU: the
 * driver and cuBLAS are replaced by tests/cuda_mock_driver.c (loaded
 * through DDX_CUDA_DRIVER / DDX_CUBLAS), which checks that every copy,
 * launch and GEMM stays inside its allocations, that async copies use
 * pinned memory, and writes a pattern the test checks per row. Covered:
 * strategy and prepare, the chunked two-stream pipeline with ragged tails,
 * per-channel GEMMs on partial chunks, the out-of-memory halving and its
 * final error, the device-pointer entry, context push/pop balance; and the
 * split over several devices (each its own context, memory and streams; a
 * slow device held back while the others take the batch; a device failing
 * mid-batch). Kernel
 * arithmetic is test_cuda_emulate's job; real timing and concurrency need
 * the GPU (test_cuda_gpu). */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "host/runtime/test_hooks.h"
#include "cuda_test_programs.h"
#include "host/runtime/backend.h"
#include "host/cuda/cuda_driver.h"
#include "host/cuda/cuda_emit.h"
#include "host/compiler/jet_program.h"
#include "host/compiler/needs.h"

static void *g_mock;

static long mock_violations(void) {
    long (*f)(void) = (long (*)(void))dlsym(g_mock, "ddx_mock_violations");
    return f ? f() : -1;
}

static int mock_ctx_depth(void) {
    int (*f)(void) = (int (*)(void))dlsym(g_mock, "ddx_mock_ctx_depth");
    return f ? f() : -1;
}

static long long mock_points(int dev) {
    long long (*f)(int) = (long long (*)(int))dlsym(g_mock, "ddx_mock_device_points");
    return f ? f(dev) : -1;
}

static void mock_reset(void) {
    void (*f)(void) = (void (*)(void))dlsym(g_mock, "ddx_mock_reset_counters");
    if (f) f();
}

static int mock_retained(int dev) {
    int (*f)(int) = (int (*)(int))dlsym(g_mock, "ddx_mock_retained");
    return f ? f(dev) : -1;
}

static void set_int(const char *name, long long v) {
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    setenv(name, b, 1);
}

/* Tells the mock the geometry of the program it is about to run. */
static void mock_geometry(cuda_case *c, ddx_precision prec) {
    jet_program *jp = NULL;
    char err[256];
    assert_int_equal(jet_program_build_ex(c->g, c->outs, c->nouts, NEEDS_CONST_JET, &jp, err, sizeof err), DDX_OK); /* as ddx_compile */
    cuda_wide_plan wp;
    assert_int_equal(cuda_wide_plan_build(jp, prec, &wp, err, sizeof err), DDX_OK);
    set_int("DDX_MOCK_D", c->d);
    set_int("DDX_MOCK_K", c->ncols);
    set_int("DDX_MOCK_RSZ", prec == DDX_F64 ? 8 : 4);
    set_int("DDX_MOCK_WSROWS", jp->workspace);
    set_int("DDX_MOCK_LASTSEG", wp.n_segs - 1);
    cuda_wide_plan_free(&wp);
    jet_program_free(jp);
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
    if (ddx_compile(c->g, c->outs, c->nouts, &o, &p) != DDX_OK) fail_msg("compile: %s", ddx_graph_error(c->g));
    return p;
}

/* Evaluates n points and checks out[i][k] = pts[i][0] + k for every row. */
static ddx_status run_and_check(ddx_program *p, const cuda_case *c, ddx_precision prec, int64_t n, int expect_ok) {
    size_t rsz = prec == DDX_F64 ? 8 : 4;
    char *pts = malloc(rsz * (size_t)(n * c->d)), *out = malloc(rsz * (size_t)(n * c->ncols));
    for (int64_t i = 0; i < n * c->d; i++) {
        double v = i % c->d == 0 ? (double)(i / c->d % 100000) : -1.0;
        if (i / c->d == n / 2 && i % c->d == 0) v = NAN;
        if (prec == DDX_F64)
            ((double *)pts)[i] = v;
        else
            ((float *)pts)[i] = (float)v;
    }
    memset(out, 0, rsz * (size_t)(n * c->ncols));
    ddx_status st = ddx_program_eval(p, pts, n, out);
    if (expect_ok && st != DDX_OK) fail_msg("eval n=%lld: %s", (long long)n, ddx_program_error(p));
    if (st == DDX_OK)
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < c->ncols; k++) {
                double x = prec == DDX_F64 ? ((double *)pts)[i * c->d] : ((float *)pts)[i * c->d];
                double got = prec == DDX_F64 ? ((double *)out)[i * c->ncols + k] : ((float *)out)[i * c->ncols + k];
                if (isnan(x) ? !isnan(got) : got != x + k)
                    fail_msg("n=%lld: row %lld column %d: got %g want %g", (long long)n, (long long)i, k, got, x + k);
            }
    free(pts);
    free(out);
    assert_int_equal(mock_violations(), 0);
    assert_int_equal(mock_ctx_depth(), 0);
    return st;
}

static void check_program(int which, ddx_precision prec, ddx_strategy strat, const char *chunk) {
    cuda_case c;
    cuda_case_build(which, &c);
    mock_geometry(&c, prec);
    if (chunk)
        g_chunk = atoi(chunk);
    else
        g_chunk = 0;
    ddx_program *p = compile_cuda(&c, prec, strat);
    static const int64_t sizes[] = {1, 31, 1000, 100003};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) run_and_check(p, &c, prec, sizes[s], 1);
    /* the same program again: buffers are reused */
    run_and_check(p, &c, prec, 4097, 1);
    ddx_program_free(p);
    ddx_graph_free(c.g);
    g_chunk = 0;
}

static void test_available(void **state) {
    (void)state;
    char why[256] = "";
    assert_true(ddx_backend_cuda()->available(why, sizeof why));
    cuda_case c;
    cuda_case_build(CASE_W1, &c);
    mock_geometry(&c, DDX_F32);
    ddx_program *p = compile_cuda(&c, DDX_F32, DDX_STRATEGY_AUTO);
    char buf[8192];
    ddx_program_describe(p, buf, sizeof buf);
    printf("%s", buf);
    assert_non_null(strstr(buf, "device cuda: ddx mock device"));
    assert_non_null(strstr(buf, "strategy: fused (widest layer 64 <= 128"));
    assert_non_null(strstr(buf, "128 threads per block, 32 points per block"));
    /* registers: 128 threads x <= 168 keeps 3 blocks per SM, which shared memory allows anyway */
    const char *r = strstr(buf, "registers ");
    assert_non_null(r);
    int regs = atoi(r + 10);
    assert_true(regs > 0 && regs <= 168);
    assert_non_null(strstr(buf, "spill stores 0 bytes, spill loads 0 bytes"));
    ddx_program_free(p);
    ddx_graph_free(c.g);
}

static void test_fused_pipeline(void **state) {
    (void)state;
    for (int prec = 0; prec < 2; prec++) {
        check_program(CASE_W1, (ddx_precision)prec, DDX_STRATEGY_AUTO, NULL);
        check_program(CASE_W1, (ddx_precision)prec, DDX_STRATEGY_AUTO, "4096"); /* many chunks, two streams */
        check_program(CASE_SEED, (ddx_precision)prec, DDX_STRATEGY_AUTO, "1000");
    }
}

static void test_wide_pipeline(void **state) {
    (void)state;
    for (int prec = 0; prec < 2; prec++) {
        check_program(CASE_W3, (ddx_precision)prec, DDX_STRATEGY_AUTO, NULL);
        check_program(CASE_W3, (ddx_precision)prec, DDX_STRATEGY_AUTO, "1000"); /* partial chunks: per-channel GEMMs */
        check_program(CASE_MIXED, (ddx_precision)prec, DDX_STRATEGY_CUBLAS, "512");
        check_program(CASE_W2, (ddx_precision)prec, DDX_STRATEGY_CUBLAS, NULL);
    }
    /* little free memory: the chunk follows it */
    setenv("DDX_MOCK_FREE_MB", "64", 1);
    check_program(CASE_W3, DDX_F32, DDX_STRATEGY_AUTO, NULL);
    unsetenv("DDX_MOCK_FREE_MB");
}

static void test_out_of_memory(void **state) {
    (void)state;
    cuda_case c;
    cuda_case_build(CASE_W1, &c);
    mock_geometry(&c, DDX_F32);
    ddx_program *p = compile_cuda(&c, DDX_F32, DDX_STRATEGY_AUTO);
    /* 2^20 points x 7 outputs x 4 bytes = 29 MB per output buffer: halves to fit */
    ddx_test_hooks.cuda_oom_above = 20000000;
    run_and_check(p, &c, DDX_F32, (1 << 20) + 77, 1);
    ddx_program *q = compile_cuda(&c, DDX_F32, DDX_STRATEGY_AUTO);
    ddx_test_hooks.cuda_oom_above = 100;
    ddx_status st = run_and_check(q, &c, DDX_F32, 1000, 0);
    ddx_test_hooks.cuda_oom_above = 0;
    assert_int_equal(st, DDX_ERR_OUT_OF_MEMORY);
    printf("out of memory: %s\n", ddx_program_error(q));
    assert_non_null(strstr(ddx_program_error(q), "device out of memory even at a chunk of 32 points"));
    assert_non_null(strstr(ddx_program_error(q), "cuMemAlloc("));
    /* and the program still works once memory is back */
    run_and_check(q, &c, DDX_F32, 1000, 1);
    ddx_program_free(q);
    ddx_program_free(p);
    ddx_graph_free(c.g);
}

static void test_device_entry(void **state) {
    (void)state;
    char why[256];
    const ddx_cu_api *cu = ddx_cu(why, sizeof why);
    assert_non_null(cu);
    static const int cases[] = {CASE_W1, CASE_W3};
    for (int w = 0; w < 2; w++) {
        cuda_case c;
        cuda_case_build(cases[w], &c);
        mock_geometry(&c, DDX_F32);
        g_chunk = 1000;
        ddx_program *p = compile_cuda(&c, DDX_F32, DDX_STRATEGY_AUTO);
        const int64_t n = 4321;
        CUdeviceptr dp, dout;
        assert_int_equal(cu->MemAlloc(&dp, sizeof(float) * (size_t)(n * c.d)), CUDA_SUCCESS);
        assert_int_equal(cu->MemAlloc(&dout, sizeof(float) * (size_t)(n * c.ncols)), CUDA_SUCCESS);
        float *pts = (float *)(uintptr_t)dp, *out = (float *)(uintptr_t)dout; /* mock memory is host memory */
        for (int64_t i = 0; i < n * c.d; i++) pts[i] = (float)(i % 977);
        assert_int_equal(ddx_program_eval_device(p, pts, n, out), DDX_OK);
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < c.ncols; k++) assert_true(out[i * c.ncols + k] == pts[i * c.d] + (float)k);
        float host[4];
        assert_int_equal(ddx_program_eval_device(p, host, 1, out), DDX_ERR_INVALID_ARG);
        assert_non_null(strstr(ddx_program_error(p), "d_points"));
        cu->MemFree(dp);
        cu->MemFree(dout);
        assert_int_equal(mock_violations(), 0);
        assert_int_equal(mock_ctx_depth(), 0);
        ddx_program_free(p);
        ddx_graph_free(c.g);
        g_chunk = 0;
    }
}

/* ---- several devices ---- */

static ddx_status compile_multi(cuda_case *c, ddx_precision prec, ddx_strategy strat, int n, const int *list,
                                ddx_program **p) {
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CUDA;
    o.precision = prec;
    o.strategy = strat;
    o.cuda_chunk_points = g_chunk;
    o.n_cuda_devices = n;
    for (int i = 0; i < n; i++) o.cuda_devices[i] = list[i];
    *p = NULL;
    return ddx_compile(c->g, c->outs, c->nouts, &o, p);
}

/* Runs n points and checks every row, and that the devices together
 * launched each point exactly once. */
static void multi_run_check(ddx_program *p, const cuda_case *c, ddx_precision prec, int64_t n) {
    mock_reset();
    run_and_check(p, c, prec, n, 1);
    long long sum = 0;
    for (int d = 0; d < 16; d++) sum += mock_points(d);
    if (sum != n) fail_msg("n=%lld: the devices launched %lld points", (long long)n, sum);
}

static void test_multi_device(void **state) {
    (void)state;
    setenv("DDX_MOCK_DEVICES", "3", 1);
    setenv("DDX_MOCK_DEVICE_US", "0,300,50", 1); /* three speeds */
    static const int64_t sizes[] = {1, 31, 1000, 4097, 100003};
    for (int prec = 0; prec < 2; prec++) {
        cuda_case c;
        cuda_case_build(CASE_W1, &c);
        mock_geometry(&c, (ddx_precision)prec);
        g_chunk = 512;
        ddx_program *p;
        assert_int_equal(compile_multi(&c, (ddx_precision)prec, DDX_STRATEGY_AUTO, DDX_CUDA_ALL_DEVICES, NULL, &p),
                         DDX_OK);
        char buf[8192];
        ddx_program_describe(p, buf, sizeof buf);
        if (prec == 0) printf("%s", buf);
        assert_non_null(strstr(buf, "batches split over 3 devices (cuda:0,1,2)"));
        assert_non_null(strstr(buf, "device cuda:2: ddx mock device 2"));
        /* one NVRTC build: the other devices load the cached binary */
        assert_non_null(strstr(buf, "kernel fused for sm_90: memory cache"));
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) multi_run_check(p, &c, (ddx_precision)prec, sizes[k]);
        /* (which device took how much is timing: test_multi_dynamic makes it deterministic) */
        ddx_program_free(p);
        assert_int_equal(mock_retained(1), 0);
        assert_int_equal(mock_retained(2), 0);
        ddx_graph_free(c.g);
    }
    /* wide path, a list in another order, partial chunks */
    {
        cuda_case c;
        cuda_case_build(CASE_W3, &c);
        mock_geometry(&c, DDX_F32);
        g_chunk = 1000;
        static const int list[] = {2, 0};
        ddx_program *p;
        assert_int_equal(compile_multi(&c, DDX_F32, DDX_STRATEGY_AUTO, 2, list, &p), DDX_OK);
        multi_run_check(p, &c, DDX_F32, 100003);
        assert_int_equal(mock_points(1), 0); /* not listed */
        ddx_program_free(p);
        ddx_graph_free(c.g);
    }
    /* one device other than 0 */
    {
        cuda_case c;
        cuda_case_build(CASE_W1, &c);
        mock_geometry(&c, DDX_F32);
        static const int one[] = {1};
        ddx_program *p;
        assert_int_equal(compile_multi(&c, DDX_F32, DDX_STRATEGY_AUTO, 1, one, &p), DDX_OK);
        char buf[4096];
        ddx_program_describe(p, buf, sizeof buf);
        assert_non_null(strstr(buf, "device cuda:1: ddx mock device 1"));
        multi_run_check(p, &c, DDX_F32, 5000);
        assert_int_equal(mock_points(1), 5000);
        ddx_program_free(p);
        assert_int_equal(mock_retained(1), 0);
        /* bad lists */
        static const int missing[] = {0, 5}, twice[] = {1, 1};
        assert_int_equal(compile_multi(&c, DDX_F32, DDX_STRATEGY_AUTO, 2, missing, &p), DDX_ERR_INVALID_ARG);
        printf("missing device: %s\n", ddx_graph_error(c.g));
        assert_non_null(strstr(ddx_graph_error(c.g), "device cuda:5 does not exist (this machine has 3 CUDA devices"));
        ddx_graph_clear_error(c.g);
        assert_int_equal(compile_multi(&c, DDX_F32, DDX_STRATEGY_AUTO, 2, twice, &p), DDX_ERR_INVALID_ARG);
        assert_non_null(strstr(ddx_graph_error(c.g), "device cuda:1 is listed twice"));
        ddx_graph_free(c.g);
    }
    assert_int_equal(mock_violations(), 0);
    g_chunk = 0;
    unsetenv("DDX_MOCK_DEVICE_US");
    unsetenv("DDX_MOCK_DEVICES");
}

/* Device 1 stalls on its first launch until the others have launched 80000
 * of 100003 points: a static split (66669 for the other two) never gets
 * there and the mock reports it; the dynamic hand-out does. */
static void test_multi_dynamic(void **state) {
    (void)state;
    setenv("DDX_MOCK_DEVICES", "3", 1);
    setenv("DDX_MOCK_HOLD", "1:80000", 1);
    g_chunk = 512;
    cuda_case c;
    cuda_case_build(CASE_W1, &c);
    mock_geometry(&c, DDX_F32);
    ddx_program *p;
    assert_int_equal(compile_multi(&c, DDX_F32, DDX_STRATEGY_AUTO, DDX_CUDA_ALL_DEVICES, NULL, &p), DDX_OK);
    multi_run_check(p, &c, DDX_F32, 100003);
    printf("points per device with device 1 held: %lld %lld %lld\n", mock_points(0), mock_points(1), mock_points(2));
    assert_true(mock_points(0) + mock_points(2) >= 80000);
    assert_true(mock_points(1) > 0);
    ddx_program_free(p);
    ddx_graph_free(c.g);
    unsetenv("DDX_MOCK_HOLD");
    g_chunk = 0;
    unsetenv("DDX_MOCK_DEVICES");
}

/* Device 1 fails mid-batch: the call fails naming the device and the
 * driver call, no thread is left running, the output is all NaN, and the
 * program works again afterwards. */
static void test_multi_failure(void **state) {
    (void)state;
    setenv("DDX_MOCK_DEVICES", "3", 1);
    g_chunk = 512;
    for (int prec = 0; prec < 2; prec++) {
        cuda_case c;
        cuda_case_build(prec ? CASE_W3 : CASE_W1, &c);
        mock_geometry(&c, (ddx_precision)prec);
        ddx_program *p;
        assert_int_equal(compile_multi(&c, (ddx_precision)prec, DDX_STRATEGY_AUTO, DDX_CUDA_ALL_DEVICES, NULL, &p),
                         DDX_OK);
        const int64_t n = 100003;
        const size_t rsz = prec ? 8 : 4;
        char *pts = calloc((size_t)n * (size_t)c.d, rsz), *out = calloc((size_t)n * (size_t)c.ncols, rsz);
        mock_reset();
        /* device 1 surely has a grain and fails once the others are 20000 points in */
        setenv("DDX_MOCK_HOLD", "1:20000", 1);
        setenv("DDX_MOCK_FAIL", "1:1", 1);
        assert_int_equal(ddx_program_eval(p, pts, n, out), DDX_ERR_DEVICE);
        printf("failure: %s\n", ddx_program_error(p));
        assert_non_null(strstr(ddx_program_error(p), "device cuda:1 (ddx mock device 1): cuLaunchKernel("));
        assert_non_null(strstr(ddx_program_error(p), "CUDA_ERROR_LAUNCH_FAILED"));
        assert_int_equal(mock_ctx_depth(), 0);
        for (int64_t i = 0; i < n * c.ncols; i++) {
            double v = prec ? ((double *)out)[i] : ((float *)out)[i];
            if (!isnan(v)) fail_msg("element %lld is %g after a failed run, not NaN", (long long)i, v);
        }
        unsetenv("DDX_MOCK_FAIL");
        unsetenv("DDX_MOCK_HOLD");
        multi_run_check(p, &c, (ddx_precision)prec, n);
        free(pts);
        free(out);
        ddx_program_free(p);
        ddx_graph_free(c.g);
    }
    assert_int_equal(mock_violations(), 0);
    g_chunk = 0;
    unsetenv("DDX_MOCK_DEVICES");
}

/* A cached image that passes its checksum but that the driver refuses
 * (here: not ELF; for real, a driver update) is evicted and compiled once
 * more instead of failing the program (issue 13). */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void test_cache_evict_on_load_failure(void **state) {
    (void)state;
    char dir[] = "/tmp/ddx-mock-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char saved[1024] = "";
    const char *old = getenv("DDX_CACHE_DIR");
    int had = old != NULL;
    if (had) snprintf(saved, sizeof saved, "%s", old);
    setenv("DDX_CACHE_DIR", dir, 1);
    cuda_case c;
    cuda_case_build(CASE_SEED, &c);
    mock_geometry(&c, DDX_F64);
    ddx_nvrtc_cache_clear_memory();
    ddx_program *p = compile_cuda(&c, DDX_F64, DDX_STRATEGY_AUTO);
    ddx_program_free(p);
    /* rewrite the entry: same header fields, image bytes replaced, checksum fixed */
    char cmd[1200], path[1100] = "";
    snprintf(cmd, sizeof cmd, "ls %s/*.cubin", dir);
    FILE *ls = popen(cmd, "r");
    assert_non_null(fgets(path, sizeof path, ls));
    pclose(ls);
    path[strcspn(path, "\n")] = 0;
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unsigned char *nl = memchr(buf, '\n', n), *nl2 = memchr(nl + 1, '\n', n - (size_t)(nl + 1 - buf));
    unsigned long long ka, kb, sum;
    int ptx;
    size_t is, lsz;
    assert_int_equal(sscanf((char *)nl + 1, "%llx %llx %d %zu %zu %llx", &ka, &kb, &ptx, &is, &lsz, &sum), 6);
    unsigned char *log = nl2 + 1, *img = log + lsz;
    memset(img, 'J', is);
    uint64_t s2 = fnv(fnv(0xcbf29ce484222325ull, log, lsz), img, is);
    f = fopen(path, "wb");
    fprintf(f, "DDXK 2\n%016llx %016llx %d %zu %zu %016llx\n", ka, kb, ptx, is, lsz, (unsigned long long)s2);
    fwrite(log, 1, lsz + is, f);
    fclose(f);
    ddx_nvrtc_cache_clear_memory();
    p = compile_cuda(&c, DDX_F64, DDX_STRATEGY_AUTO); /* fails the test if the bad image is not replaced */
    void (*reset)(void) = (void (*)(void))dlsym(g_mock, "ddx_mock_reset_violations");
    assert_true(mock_violations() >= 1); /* the mock did see the bad image */
    reset();
    run_and_check(p, &c, DDX_F64, 1000, 1);
    ddx_program_free(p);
    /* the entry on disk is a real image again */
    f = fopen(path, "rb");
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    nl = memchr(buf, '\n', n);
    nl2 = memchr(nl + 1, '\n', n - (size_t)(nl + 1 - buf));
    assert_int_equal(sscanf((char *)nl + 1, "%llx %llx %d %zu %zu %llx", &ka, &kb, &ptx, &is, &lsz, &sum), 6);
    assert_memory_equal(nl2 + 1 + lsz, "\177ELF", 4);
    ddx_graph_free(c.g);
    if (had) setenv("DDX_CACHE_DIR", saved, 1);
    else unsetenv("DDX_CACHE_DIR");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const char *lib = getenv("DDX_MOCK_LIB");
    if (!lib || !*lib) {
        printf("skipped: DDX_MOCK_LIB (the mock driver library) is not set\n");
        return 0;
    }
    /* before anything loads the real driver */
    setenv("DDX_CUDA_DRIVER", lib, 1);
    setenv("DDX_CUBLAS", lib, 1);
    g_mock = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!g_mock) {
        printf("cannot load %s: %s\n", lib, dlerror());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_available),     cmocka_unit_test(test_fused_pipeline),
        cmocka_unit_test(test_wide_pipeline), cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_device_entry),  cmocka_unit_test(test_multi_device),
        cmocka_unit_test(test_multi_dynamic), cmocka_unit_test(test_multi_failure),
        cmocka_unit_test(test_cache_evict_on_load_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
