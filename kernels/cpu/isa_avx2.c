/* isa_avx2.c — the AVX2 + FMA kernels: 32-byte vectors, 16 ymm registers,
 * so a 6 x 2-vector tile (12 accumulators, BLIS haswell's 6x16 in f32).
 * Built with -mavx2 -mfma (cmake/cpu_variants.cmake). */
#if defined(__x86_64__)
#define DDX_ISA avx2
#define DDX_ISA_STR "avx2"
#define DDX_ISA_NEEDS DDX_CPUF_AVX2
#define DDX_VBYTES 32
#ifndef DDX_MR
#define DDX_MR 6
#endif
#include "kernels/cpu/cpu_variant.h"
#endif
