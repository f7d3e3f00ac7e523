/* gemm_compare.c — ddx's dense-layer GEMM kernel against OpenBLAS on the
 * shapes the evaluator runs (W x jet tile), one thread, same run.
 * Usage: ddx_gemm_compare [seconds-per-measurement]
 * Run it twice, the second time with OPENBLAS_CORETYPE=SkylakeX, to see what
 * OpenBLAS's CPU detection costs on a machine it does not recognise. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
#include "kernels/cpu/gemm_kernel.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double rate(int which, int M, int N, int K, const float *A, const float *B, float *C, double secs) {
    double best = 0;
    for (int r = 0; r < 5; r++) {
        int reps = 0;
        double t0 = now(), t;
        do {
            if (which) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, A, K, B, N, 0.f, C, N);
            else ddx_gemm_f32(M, N, K, A, K, B, N, C, N);
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
    printf("OpenBLAS core: %s (set OPENBLAS_CORETYPE to override)\n", openblas_get_corename());
    const int shapes[][3] = {{64, 6 * 256, 64}, {64, 4 * 256, 64}, {256, 21 * 256, 256}, {128, 6 * 256, 128}};
    printf("%-22s %14s %14s\n", "M x N x K (1 thread)", "ddx GFLOP/s", "OpenBLAS");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N),
              *C = malloc(sizeof(float) * (size_t)M * N);
        for (int i = 0; i < M * K; i++) A[i] = (float)(i % 13) * 0.01f;
        for (int i = 0; i < K * N; i++) B[i] = (float)(i % 7) * 0.02f;
        char name[64];
        snprintf(name, sizeof name, "%d x %d x %d", M, N, K);
        printf("%-22s %14.1f %14.1f\n", name, rate(0, M, N, K, A, B, C, secs), rate(1, M, N, K, A, B, C, secs));
        free(A), free(B), free(C);
    }
    return 0;
}
