/* isa_generic.c — the kernels for any CPU of the baseline (x86-64-v2's SSE
 * on x86, plain armv8-a on aarch64): 16-byte vectors, 16 registers, a
 * 4 x 2-vector tile. Built with the baseline flags only. */
#define DDX_ISA generic
#define DDX_ISA_STR "generic"
#define DDX_ISA_NEEDS 0u
#define DDX_VBYTES 16
#ifndef DDX_MR
#define DDX_MR 4
#endif
#include "kernels/cpu/cpu_variant.h"
