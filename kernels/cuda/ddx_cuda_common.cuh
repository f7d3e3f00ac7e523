/* ddx_cuda_common.cuh — what every generated ddx kernel includes.
 *
 * The generated source defines `real` (float or double) and then includes
 * ddx_fused.cuh or ddx_wide.cuh, which include this file. The derivative
 * tables come from ddx_jet_rules.h, the very code the CPU evaluator runs,
 * instantiated here for the device; the tanh table repeats the CPU's hot
 * path (cpu_eval_impl.h) operation for operation.
 *
 * The header is also compiled by a host C++ compiler in the emulation test
 * (tests/cuda_emulate_shim.hpp defines DDX_EMULATE and the CUDA keywords),
 * so it keeps to plain C-style CUDA: no CUDA headers, no intrinsics that
 * the shim does not provide. */
#ifndef DDX_CUDA_COMMON_CUH
#define DDX_CUDA_COMMON_CUH

#include "ddx_jet_rules.h"

DDX_DEFINE_JET_RULES(float, f32, expf, logf, log1pf, sinf, cosf, tanhf, powf, sqrtf, fabsf)
DDX_DEFINE_JET_RULES(double, f64, exp, log, log1p, sin, cos, tanh, pow, sqrt, fabs)

/* Overloads, so templates and generated code need not name the suffix. */
__device__ __forceinline__ float ddx_tanh_r(float x) { return tanhf(x); }
__device__ __forceinline__ double ddx_tanh_r(double x) { return tanh(x); }
__device__ __forceinline__ float ddx_dtanh_r(float x) { return ddx_dtanh_f32(x); }
__device__ __forceinline__ double ddx_dtanh_r(double x) { return ddx_dtanh_f64(x); }
__device__ __forceinline__ float ddx_horner_r(const float *c, int deg, float x) { return ddx_horner_f32(c, deg, x); }
__device__ __forceinline__ double ddx_horner_r(const double *c, int deg, double x) { return ddx_horner_f64(c, deg, x); }
__device__ __forceinline__ void ddx_unary_derivs_r(int op, float z, int K, float param, const float *poly, float *D) {
    ddx_unary_derivs_f32(op, z, K, param, poly, D);
}
__device__ __forceinline__ void ddx_unary_derivs_r(int op, double z, int K, double param, const double *poly,
                                                    double *D) {
    ddx_unary_derivs_f64(op, z, K, param, poly, D);
}

/* D[k] = tanh^(k)(z), k = 0..K: t = tanh z, s = tanh' from exp(-2|z|)
 * (accurate in saturation), tanh'' = -2 t s, and s R_k(t) beyond (row k of
 * poly, degree k - 1). Same operations in the same order as the CPU's tanh
 * loop. */
template <int K, typename T>
__device__ __forceinline__ void ddx_tanh_derivs(T z, const T *poly, T *D) {
    const T t = ddx_tanh_r(z);
    D[0] = t;
    const T s = ddx_dtanh_r(z);
    if (K >= 1) D[1] = s;
    if (K >= 2) D[2] = (T)-2 * t * s;
#pragma unroll
    for (int k = 3; k <= K; k++) D[k] = s * ddx_horner_r(poly + k * DDX_POLY_STRIDE, k - 1, t);
}

/* Any other elementwise op: the shared jet rule with a constant op and K,
 * which the compiler folds into straight-line code after inlining. */
template <int K, typename T>
__device__ __forceinline__ void ddx_unary_derivs(int op, T z, T param, const T *poly, T *D) {
    ddx_unary_derivs_r(op, z, K, param, poly, D);
}

#endif
