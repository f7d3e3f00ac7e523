/* cpu_variant.h — the body of one CPU kernel variant: the dense-layer GEMM
 * (gemm_tile.h), the tile loop with its Faa di Bruno / Leibniz loops and
 * vector tanh (cpu_eval_impl.h, cpu_math.h), and the fused dense + unary
 * path. kernels/cpu/isa_<name>.c includes it once per ISA, compiled with
 * that ISA's -m flags; everything here is static except the table
 * ddx_cpu_kernels_<DDX_ISA>, so variants never share an inlined copy.
 * Expects DDX_ISA (name), DDX_ISA_NEEDS (DDX_CPUF_* mask), DDX_VBYTES,
 * DDX_MR; DDX_FUSE (default 1) says whether programs use the fused
 * dense + activation path on this variant. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/ddx_jet_rules.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/cpu_math.h"
#include "kernels/cpu/gemm_tile.h"

#ifndef DDX_FUSE
#define DDX_FUSE 1
#endif
#if DDX_MR > DDX_CPU_MR_MAX
#error "DDX_MR above DDX_CPU_MR_MAX"
#endif

DDX_DEFINE_JET_RULES(float, f32, expf, logf, log1pf, sinf, cosf, tanhf, powf, sqrtf, fabsf)
DDX_DEFINE_JET_RULES(double, f64, exp, log, log1p, sin, cos, tanh, pow, sqrt, fabs)

static inline float tanh_d1_f32(float x, float *d1) { return ddx_fast_tanh_d1f(x, d1); }
static inline double tanh_d1_f64(double x, double *d1) { return ddx_fast_tanh_d1(x, d1); }

#define REAL float
#define SFX f32
#define WFIELD Wf
#define BFIELD bf
#define POLY polyf
#include "kernels/cpu/cpu_eval_impl.h"
#undef REAL
#undef SFX
#undef WFIELD
#undef BFIELD
#undef POLY

#define REAL double
#define SFX f64
#define WFIELD W
#define BFIELD b
#define POLY poly
#include "kernels/cpu/cpu_eval_impl.h"
#undef REAL
#undef SFX
#undef WFIELD
#undef BFIELD
#undef POLY

#define VCAT2(a, b) a##b
#define VCAT(a, b) VCAT2(a, b)
const ddx_cpu_kernels VCAT(ddx_cpu_kernels_, DDX_ISA) = {
    DDX_ISA_STR, DDX_ISA_NEEDS, DDX_MR, NB_f32, NB_f64, DDX_FUSE, gemm_f32, gemm_f64, run_tile_f32, run_tile_f64};
