/* test_gemm.c — the dense-layer GEMM kernel of every ISA variant this CPU
 * can run (not only the dispatched one) against a plain triple loop in
 * double: every shape class (row tails MR/4/1, column tails, K past one
 * 256-row panel, strided leading dimensions). */
#include <math.h>
#include <stdlib.h>
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_kernel.h"
#include "test_util.h"

static void check_shape(const ddx_cpu_kernels *kv, int M, int N, int K, int pad) {
    int lda = K + pad, ldb = N + pad, ldc = N + pad;
    uint64_t s = (uint64_t)(M * 131 + N * 7 + K);
    float *A = malloc(sizeof(float) * (size_t)M * lda), *B = malloc(sizeof(float) * (size_t)K * ldb);
    float *C = malloc(sizeof(float) * (size_t)M * ldc);
    double *Ad = malloc(sizeof(double) * (size_t)M * lda), *Bd = malloc(sizeof(double) * (size_t)K * ldb);
    double *Cd = malloc(sizeof(double) * (size_t)M * ldc);
    for (int i = 0; i < M * lda; i++) Ad[i] = A[i] = (float)test_uniform(&s, -1, 1);
    for (int i = 0; i < K * ldb; i++) Bd[i] = B[i] = (float)test_uniform(&s, -1, 1);
    if (kv) {
        kv->gemm_f32(M, N, K, A, lda, B, ldb, C, ldc);
        kv->gemm_f64(M, N, K, Ad, lda, Bd, ldb, Cd, ldc);
    } else { /* the dispatching entry points */
        ddx_gemm_f32(M, N, K, A, lda, B, ldb, C, ldc);
        ddx_gemm_f64(M, N, K, Ad, lda, Bd, ldb, Cd, ldc);
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ref = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                ref += Ad[i * lda + k] * Bd[k * ldb + j];
                mag += fabs(Ad[i * lda + k] * Bd[k * ldb + j]);
            }
            if (fabs(Cd[i * ldc + j] - ref) > 1e-13 * (mag + 1))
                fail_msg("%s f64 %dx%dx%d C[%d][%d] = %g, want %g", kv ? kv->name : "dispatch", M, N, K, i, j, Cd[i * ldc + j], ref);
            if (fabs(C[i * ldc + j] - ref) > 1e-6 * (mag + 1))
                fail_msg("%s f32 %dx%dx%d C[%d][%d] = %g, want %g", kv ? kv->name : "dispatch", M, N, K, i, j, C[i * ldc + j], ref);
        }
    free(A), free(B), free(C), free(Ad), free(Bd), free(Cd);
}

static void test_gemm_shapes(void **state) {
    (void)state;
    /* rows: below, at and past every variant's MR (4, 6, 8) and its tails */
    const int Ms[] = {1, 3, 5, 7, 13, 64, 4, 6, 8, 11, 14}, Ns[] = {1, 17, 33, 48, 100, 8, 32, 64},
              Ks[] = {1, 2, 64, 256, 300, 255, 513};
    /* DDX_TEST_QUICK (sanitizers, qemu): one shape per tail class */
    const int quick = getenv("DDX_TEST_QUICK") != NULL;
    const size_t nM = quick ? 6 : sizeof Ms / sizeof *Ms, nN = quick ? 5 : sizeof Ns / sizeof *Ns,
                 nK = quick ? 5 : sizeof Ks / sizeof *Ks;
    const ddx_cpu_kernels *const *v = ddx_cpu_variants();
    for (int vi = -1; vi < 0 || v[vi]; vi++) {
        const ddx_cpu_kernels *kv = vi < 0 ? NULL : v[vi];
        if (kv && (kv->needs & ddx_cpu_features()) != kv->needs) continue;
        for (size_t a = 0; a < nM; a++)
            for (size_t b = 0; b < nN; b++)
                for (size_t c = 0; c < nK; c++)
                    check_shape(kv, Ms[a], Ns[b], Ks[c], (int)(a + b) % 3);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gemm_shapes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
