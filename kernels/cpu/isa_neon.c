/* isa_neon.c — the aarch64 AdvSIMD kernels: 16-byte vectors, 32 q
 * registers, so an 8 x 2-vector tile (16 accumulators). AdvSIMD is part of
 * armv8-a, so this is the baseline flags with a larger tile than generic. */
#if defined(__aarch64__)
#define DDX_ISA neon
#define DDX_ISA_STR "neon"
#define DDX_ISA_NEEDS DDX_CPUF_NEON
#define DDX_VBYTES 16
#ifndef DDX_MR
#define DDX_MR 8
#endif
#include "kernels/cpu/cpu_variant.h"
#endif
