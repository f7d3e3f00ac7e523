/* gemm_compare.c — each of ddx's dense-layer GEMM variants that this CPU
 * can run (kernels/cpu/isa_*.c) against OpenBLAS on the shapes the
 * evaluator runs (W x jet tile), one thread, same run.
 * Usage: ddx_gemm_compare [seconds-per-measurement]
 * OpenBLAS picks its kernel from the CPU (printed); Debian's 0.3.21
 * misdetects some CPUs, so run it again with OPENBLAS_CORETYPE=SkylakeX (or
 * Haswell, the AVX2 stand-in) to see what that detection costs. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
#include "kernels/cpu/cpu_kernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* best of 5 GFLOP/s; k == NULL: OpenBLAS */
static double rate(const ddx_cpu_kernels *k, int M, int N, int K, const float *A, const float *B, float *C,
                   double secs) {
    double best = 0;
    for (int r = 0; r < 5; r++) {
        int reps = 0;
        double t0 = now(), t;
        do {
            if (!k) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, A, K, B, N, 0.f, C, N);
            else k->gemm_f32(M, N, K, A, K, B, N, C, N);
            reps++;
        } while ((t = now() - t0) < secs / 5);
        double g = 2.0 * M * N * K * reps / t / 1e9;
        if (g > best) best = g;
    }
    return best;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    openblas_set_num_threads(1);
    const ddx_cpu_kernels *const *v = ddx_cpu_variants();
    const unsigned cpu = ddx_cpu_features();
    printf("OpenBLAS core: %s (set OPENBLAS_CORETYPE to override)\n", openblas_get_corename());
    printf("f32 GFLOP/s, 1 thread; ddx variants this CPU runs (MR x NB register tile):\n");
    printf("%-22s", "M x N x K");
    for (int i = 0; v[i]; i++)
        if ((v[i]->needs & cpu) == v[i]->needs) {
            char h[32];
            snprintf(h, sizeof h, "%s %dx%d", v[i]->name, v[i]->mr, v[i]->nb_f32);
            printf(" %16s", h);
        }
    printf(" %16s\n", "OpenBLAS");
    const int shapes[][3] = {{64, 6 * 256, 64}, {64, 4 * 256, 64}, {256, 21 * 256, 256}, {128, 6 * 256, 128}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N),
              *C = malloc(sizeof(float) * (size_t)M * N);
        for (int i = 0; i < M * K; i++) A[i] = (float)(i % 13) * 0.01f;
        for (int i = 0; i < K * N; i++) B[i] = (float)(i % 7) * 0.02f;
        char name[64];
        snprintf(name, sizeof name, "%d x %d x %d", M, N, K);
        printf("%-22s", name);
        for (int i = 0; v[i]; i++)
            if ((v[i]->needs & cpu) == v[i]->needs) printf(" %16.1f", rate(v[i], M, N, K, A, B, C, secs));
        printf(" %16.1f\n", rate(NULL, M, N, K, A, B, C, secs));
        fflush(stdout);
        free(A), free(B), free(C);
    }
    return 0;
}
