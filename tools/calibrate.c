/* calibrate.c — GEMM rates for `ddx bench`, measured in the same run:
 * 1. the reference, a large SGEMM/DGEMM through OpenBLAS or BLIS loaded at
 *    run time (not linked: ddx needs neither), all cores: useful GFLOP/s
 *    over it says how much of the machine a jet program uses, judged by a
 *    library that is not ddx;
 * 2. ddx's own dense-layer GEMM kernel on a cache-resident 256 x 16384 x
 *    256 problem, one per thread: how close the program gets to its own
 *    kernel (a 30x-slow kernel reads 100 % there, hence 1.). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "tools/calibrate.h"
#include "kernels/cpu/gemm_kernel.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ddx_cpu_gemm_gflops(ddx_precision prec) {
    const int M = 256, K = 256, N = 16384 / (prec == DDX_F32 ? 1 : 2);
    const size_t es = prec == DDX_F32 ? sizeof(float) : sizeof(double);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    double best = 0;
    for (int rep = 0; rep < 4; rep++) { /* the first run warms threads and caches */
        double t0 = 0, t1 = 0;
        int ok = 1;
#pragma omp parallel num_threads(threads) reduction(& : ok)
        {
            void *a = calloc((size_t)M * K, es), *b = calloc((size_t)K * N, es), *c = malloc((size_t)M * N * es);
            ok = a && b && c;
#pragma omp barrier
#pragma omp master
            t0 = now();
#pragma omp barrier
            if (ok) {
                if (prec == DDX_F32) ddx_gemm_f32(M, N, K, a, K, b, N, c, N);
                else ddx_gemm_f64(M, N, K, a, K, b, N, c, N);
            }
#pragma omp barrier
#pragma omp master
            t1 = now();
            free(a);
            free(b);
            free(c);
        }
        if (!ok) return 0;
        double g = 2.0 * M * N * K * threads / (t1 - t0) / 1e9;
        if (rep > 0 && g > best) best = g;
    }
    return best;
}

/* CBLAS row-major / no-transpose enums (ABI constants of every CBLAS) */
enum { ROW_MAJOR = 101, NO_TRANS = 111 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int, double,
                         double *, int);

double ddx_blas_gemm_gflops(ddx_precision prec, int threads, const char *isa, char *lib, size_t cap) {
    static const char *const libs[] = {"libopenblas.so.0", "libblis.so.4"};
    const char *core = NULL; /* set here, not by the user */
    if (isa && !getenv("OPENBLAS_CORETYPE")) {
        if (!strcmp(isa, "avx512")) core = "SkylakeX";
        else if (!strcmp(isa, "avx2")) core = "Haswell";
        if (core) setenv("OPENBLAS_CORETYPE", core, 0); /* read by OpenBLAS's constructor at dlopen */
    }
    void *h = NULL;
    const char *name = NULL;
    for (size_t i = 0; i < sizeof libs / sizeof *libs && !h; i++)
        if ((h = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL))) name = libs[i];
    if (!h) {
        snprintf(lib, cap, "no OpenBLAS (libopenblas.so.0) or BLIS (libblis.so.4) installed");
        return 0;
    }
    sgemm_fn sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    dgemm_fn dgemm = (dgemm_fn)dlsym(h, "cblas_dgemm");
    void (*set_threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    if (!set_threads) set_threads = (void (*)(int))dlsym(h, "bli_thread_set_num_threads");
    char *(*corename)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
    if (!sgemm || !dgemm) {
        snprintf(lib, cap, "%s has no cblas_sgemm/cblas_dgemm", name);
        return 0;
    }
    if (set_threads && threads > 0) set_threads(threads);
    /* large enough to reach the library's peak, small enough for ~0.1 s */
    const int n = prec == DDX_F32 ? 2048 : 1536;
    const size_t es = prec == DDX_F32 ? sizeof(float) : sizeof(double);
    char *a = calloc((size_t)n * n, es), *b = calloc((size_t)n * n, es), *c = calloc((size_t)n * n, es);
    double best = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)n * n; i++) {
            if (prec == DDX_F32) ((float *)a)[i] = ((float *)b)[i] = (float)(i % 7) * 0.1f;
            else ((double *)a)[i] = ((double *)b)[i] = (double)(i % 7) * 0.1;
        }
        for (int rep = 0; rep < 4; rep++) { /* the first warms threads */
            double t0 = now();
            if (prec == DDX_F32)
                sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1.f, (float *)a, n, (float *)b, n, 0.f, (float *)c, n);
            else
                dgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, n, n, n, 1.0, (double *)a, n, (double *)b, n, 0.0, (double *)c,
                      n);
            double g = 2.0 * n * n * (double)n / (now() - t0) / 1e9;
            if (rep > 0 && g > best) best = g;
        }
    }
    if (corename)
        snprintf(lib, cap, "OpenBLAS %s, core %s%s", prec == DDX_F32 ? "SGEMM" : "DGEMM", corename(),
                 core ? " (OPENBLAS_CORETYPE set by ddx to match its kernels)" : "");
    else snprintf(lib, cap, "%s %s", name, prec == DDX_F32 ? "SGEMM" : "DGEMM");
    free(a);
    free(b);
    free(c);
    /* the library stays loaded: its threads may still be parked */
    return best;
}
