/* isa_avx512.c — the AVX-512 (F/BW/DQ/VL) kernels: 64-byte vectors, 32 zmm
 * registers, so an 8 x 2-vector tile (16 accumulators; BLIS skx uses 12 x 2: measured
 * no faster here, and 8 divides the common 64-wide layers). Built
 * with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma
 * (cmake/cpu_variants.cmake); run only when the CPU has them. */
#if defined(__x86_64__)
#define DDX_ISA avx512
#define DDX_ISA_STR "avx512"
#define DDX_ISA_NEEDS (DDX_CPUF_AVX2 | DDX_CPUF_AVX512)
#define DDX_VBYTES 64
#ifndef DDX_MR
#define DDX_MR 8
#endif
/* W1, 1 thread, interleaved rounds on a quieter hour: unfused 6.1e5 vs
 * fused 5.6e5 / 3.9e5 points/s (bench/RESULTS.md): the plain GEMM + epilogue
 * passes win here, so this variant does not fuse */
#define DDX_FUSE 0
#include "kernels/cpu/cpu_variant.h"
#endif
