/* gemm_kernel.c — register-blocked GEMM for the dense layers.
 *
 * Why not only BLAS: the layers here are W (64 x 64) times a 64 x (6*256)
 * jet tile — small, and called thousands of times per batch. OpenBLAS
 * 0.3.21 (Debian 12) also fails to recognise the CPUs of our build/CI
 * machines (it reports "Prescott" and runs its SSE3 kernel at ~14 GFLOP/s
 * per core). This kernel is plain C with GCC vector extensions, so the
 * compiler emits AVX-512 (or AVX2, or SSE) for the build machine:
 * an MR x 2-vector block of C stays in registers while k runs; each step
 * loads two vectors of B and broadcasts MR weights (2*MR FMAs). The B strip
 * (K x 2 vectors) stays in L1 while all row blocks of A pass over it.
 * bench/gemm_compare (see bench/RESULTS.md) measures it against OpenBLAS. */
#include "kernels/cpu/gemm_kernel.h"

#include <string.h>

#define DEFINE_GEMM(T, SFX, VBYTES)                                                                 \
    typedef T v_##SFX __attribute__((vector_size(VBYTES)));                                         \
    enum { VL_##SFX = VBYTES / sizeof(T) };                                                         \
    static inline v_##SFX ld_##SFX(const T *p) {                                                    \
        v_##SFX v;                                                                                  \
        memcpy(&v, p, sizeof v);                                                                    \
        return v;                                                                                   \
    }                                                                                               \
    static inline void st_##SFX(T *p, v_##SFX v) { memcpy(p, &v, sizeof v); }                       \
    /* MR rows x 2 vectors of C */                                                                  \
    static inline __attribute__((always_inline)) void block_##SFX(                                  \
        const int MR, int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc, int add) {    \
        v_##SFX c0[8], c1[8];                                                                       \
        for (int r = 0; r < MR; r++) {                                                              \
            c0[r] = add ? ld_##SFX(C + (long)r * ldc) : (v_##SFX){0};                               \
            c1[r] = add ? ld_##SFX(C + (long)r * ldc + VL_##SFX) : (v_##SFX){0};                    \
        }                                                                                           \
        for (int k = 0; k < K; k++) {                                                               \
            const v_##SFX b0 = ld_##SFX(B + (long)k * ldb), b1 = ld_##SFX(B + (long)k * ldb + VL_##SFX); \
            for (int r = 0; r < MR; r++) {                                                          \
                const T a = A[(long)r * lda + k];                                                   \
                c0[r] += a * b0;                                                                    \
                c1[r] += a * b1;                                                                    \
            }                                                                                       \
        }                                                                                           \
        for (int r = 0; r < MR; r++) {                                                              \
            st_##SFX(C + (long)r * ldc, c0[r]);                                                     \
            st_##SFX(C + (long)r * ldc + VL_##SFX, c1[r]);                                          \
        }                                                                                           \
    }                                                                                               \
    static void block8_##SFX(int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc, int add) { \
        block_##SFX(8, K, A, lda, B, ldb, C, ldc, add);                                             \
    }                                                                                               \
    static void block4_##SFX(int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc, int add) { \
        block_##SFX(4, K, A, lda, B, ldb, C, ldc, add);                                             \
    }                                                                                               \
    static void block1_##SFX(int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc, int add) { \
        block_##SFX(1, K, A, lda, B, ldb, C, ldc, add);                                             \
    }                                                                                               \
    void ddx_gemm_##SFX(int M, int N, int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc) { \
        const int NB = 2 * VL_##SFX;                                                                \
        /* B strips are packed contiguous: the jet layout's row stride is   \
         * channels*tile (e.g. 6 KB), which maps a strip's rows onto a few   \
         * L1 sets and thrashes; packed, the strip is 8 KB of clean lines. */ \
        T pack[256 * 2 * VL_##SFX] __attribute__((aligned(64)));                                  \
        int j = 0;                                                                                  \
        for (; j + NB <= N; j += NB) {                                                              \
            for (int k0 = 0; k0 < K; k0 += 256) {                                                   \
                const int kc = K - k0 < 256 ? K - k0 : 256;                                         \
                for (int k = 0; k < kc; k++) memcpy(pack + k * NB, B + (long)(k0 + k) * ldb + j, sizeof(T) * NB); \
                const T *Ak = A + k0;                                                               \
                const int add = k0 > 0; /* K > 256: later panels accumulate */                      \
                int i = 0;                                                                          \
                for (; i + 8 <= M; i += 8)                                                          \
                    block8_##SFX(kc, Ak + (long)i * lda, lda, pack, NB, C + (long)i * ldc + j, ldc, add); \
                for (; i + 4 <= M; i += 4)                                                          \
                    block4_##SFX(kc, Ak + (long)i * lda, lda, pack, NB, C + (long)i * ldc + j, ldc, add); \
                for (; i < M; i++)                                                                  \
                    block1_##SFX(kc, Ak + (long)i * lda, lda, pack, NB, C + (long)i * ldc + j, ldc, add); \
            }                                                                                       \
        }                                                                                           \
        /* column tail: plain loops */                                                              \
        if (j < N)                                                                                  \
            for (int i = 0; i < M; i++)                                                             \
                for (int jj = j; jj < N; jj++) {                                                    \
                    T s = 0;                                                                        \
                    for (int k = 0; k < K; k++) s += A[(long)i * lda + k] * B[(long)k * ldb + jj];  \
                    C[(long)i * ldc + jj] = s;                                                      \
                }                                                                                   \
    }

DEFINE_GEMM(float, f32, 64)
DEFINE_GEMM(double, f64, 64)
