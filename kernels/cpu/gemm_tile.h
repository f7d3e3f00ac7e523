/* gemm_tile.h — the register-blocked dense-layer GEMM, a template included
 * by each ISA variant (cpu_variant.h) with its own vector width and tile.
 *
 * Why not only BLAS: the layers here are W (64 x 64) times a 64 x (6*256)
 * jet tile — small, and called thousands of times per batch; Debian's
 * OpenBLAS also misdetects some CPUs (bench/RESULTS.md). An MR x 2-vector
 * block of C stays in registers while k runs; each step loads two vectors
 * of B and broadcasts MR weights (2*MR FMAs). MR is sized to the register
 * file (DDX_MR: 6 on AVX2's 16 ymm like BLIS haswell's 6x16, more on
 * AVX-512's 32 zmm like BLIS skx). The B strip (K x 2 vectors) is packed
 * and stays in L1 while all row blocks of A pass over it.
 *
 * Expects DDX_VBYTES (vector bytes) and DDX_MR; defines, static to the
 * variant, gemm_<SFX>(), block_<SFX>() (one MR x NB block into any C) and
 * NB_<SFX> (columns per block). */
#include <string.h>

#define DEFINE_GEMM(T, SFX)                                                                         \
    typedef T v_##SFX __attribute__((vector_size(DDX_VBYTES)));                                     \
    enum { VL_##SFX = DDX_VBYTES / sizeof(T), NB_##SFX = 2 * VL_##SFX };                            \
    static inline v_##SFX ld_##SFX(const T *p) {                                                    \
        v_##SFX v;                                                                                  \
        memcpy(&v, p, sizeof v);                                                                    \
        return v;                                                                                   \
    }                                                                                               \
    static inline void st_##SFX(T *p, v_##SFX v) { memcpy(p, &v, sizeof v); }                       \
    /* MR rows x 2 vectors of C; B packed (ldb = NB) */                                             \
    static inline __attribute__((always_inline)) void blk_##SFX(                                    \
        const int MR, int K, const T *A, int lda, const T *B, T *C, int ldc, int add) {             \
        v_##SFX c0[DDX_MR], c1[DDX_MR];                                                             \
        for (int r = 0; r < MR; r++) {                                                              \
            c0[r] = add ? ld_##SFX(C + (long)r * ldc) : (v_##SFX){0};                               \
            c1[r] = add ? ld_##SFX(C + (long)r * ldc + VL_##SFX) : (v_##SFX){0};                    \
        }                                                                                           \
        for (int k = 0; k < K; k++) {                                                               \
            const v_##SFX b0 = ld_##SFX(B + (long)k * NB_##SFX), b1 = ld_##SFX(B + (long)k * NB_##SFX + VL_##SFX); \
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
    static void blkmr_##SFX(int K, const T *A, int lda, const T *B, T *C, int ldc, int add) {       \
        blk_##SFX(DDX_MR, K, A, lda, B, C, ldc, add);                                               \
    }                                                                                               \
    static void blk4_##SFX(int K, const T *A, int lda, const T *B, T *C, int ldc, int add) {        \
        blk_##SFX(4, K, A, lda, B, C, ldc, add);                                                    \
    }                                                                                               \
    static void blk1_##SFX(int K, const T *A, int lda, const T *B, T *C, int ldc, int add) {        \
        blk_##SFX(1, K, A, lda, B, C, ldc, add);                                                    \
    }                                                                                               \
    /* rows [0, M) of one packed strip: MR-row blocks, then 4, then 1 */                            \
    static void rows_##SFX(int M, int K, const T *A, int lda, const T *B, T *C, int ldc, int add) { \
        int i = 0;                                                                                  \
        for (; i + DDX_MR <= M; i += DDX_MR) blkmr_##SFX(K, A + (long)i * lda, lda, B, C + (long)i * ldc, ldc, add); \
        for (; i + 4 <= M; i += 4) blk4_##SFX(K, A + (long)i * lda, lda, B, C + (long)i * ldc, ldc, add); \
        for (; i < M; i++) blk1_##SFX(K, A + (long)i * lda, lda, B, C + (long)i * ldc, ldc, add);   \
    }                                                                                               \
    static void pack_##SFX(T *pack, const T *B, int ldb, int kc) {                                  \
        for (int k = 0; k < kc; k++) memcpy(pack + k * NB_##SFX, B + (long)k * ldb, sizeof(T) * NB_##SFX); \
    }                                                                                               \
    static void gemm_##SFX(int M, int N, int K, const T *A, int lda, const T *B, int ldb, T *C, int ldc) { \
        /* B strips are packed contiguous: the jet layout's row stride is   \
         * channels*tile (e.g. 6 KB), which maps a strip's rows onto a few   \
         * L1 sets and thrashes; packed, the strip is clean lines. */        \
        T pack[256 * NB_##SFX] __attribute__((aligned(64)));                                        \
        int j = 0;                                                                                  \
        for (; j + NB_##SFX <= N; j += NB_##SFX)                                                    \
            for (int k0 = 0; k0 < K; k0 += 256) {                                                   \
                const int kc = K - k0 < 256 ? K - k0 : 256;                                         \
                pack_##SFX(pack, B + (long)k0 * ldb + j, ldb, kc);                                  \
                /* K > 256: later panels accumulate */                                              \
                rows_##SFX(M, kc, A + k0, lda, pack, C + j, ldc, k0 > 0);                           \
            }                                                                                       \
        /* column tail: plain loops */                                                              \
        if (j < N)                                                                                  \
            for (int i = 0; i < M; i++)                                                             \
                for (int jj = j; jj < N; jj++) {                                                    \
                    T s = 0;                                                                        \
                    for (int k = 0; k < K; k++) s += A[(long)i * lda + k] * B[(long)k * ldb + jj];  \
                    C[(long)i * ldc + jj] = s;                                                      \
                }                                                                                   \
    }

DEFINE_GEMM(float, f32)
DEFINE_GEMM(double, f64)
