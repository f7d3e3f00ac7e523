/* calibrate.c — a measured CPU peak for `ddx bench`: the dense-layer GEMM
 * kernel (gemm_kernel.c) on a cache-resident 256 x 16384 x 256 problem, one
 * per thread, all threads at once. It is the best GEMM rate this process
 * can reach (Debian's OpenBLAS misdetects these CPUs, see gemm_kernel.c),
 * so useful GFLOP/s divided by it says how much of the machine the jet
 * program's dense layers and elementwise rules together use. */
#include <stdlib.h>
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
