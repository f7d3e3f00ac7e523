/* gemm_kernel.h — the dense-layer GEMM of the CPU evaluator:
 * C (M x N) = A (M x K) * B (K x N), row-major, beta = 0.
 * Shaped for jets: A is a small weight matrix (tens to hundreds square),
 * N = channels x tile points is long. These run the active ISA variant
 * (cpu_kernels.h); each variant's own is ddx_cpu_variants()[i]->gemm_*.
 * See gemm_tile.h for why it is ours. */
#ifndef DDX_GEMM_KERNEL_H
#define DDX_GEMM_KERNEL_H

void ddx_gemm_f32(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);
void ddx_gemm_f64(int M, int N, int K, const double *A, int lda, const double *B, int ldb, double *C, int ldc);

#endif
