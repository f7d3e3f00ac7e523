/* ddx_fused.cuh — device code of the fused path: one thread block owns a
 * tile of P points and runs the whole jet program on it in shared memory.
 *
 * Layout (the CPU evaluator's, per tile): value v, neuron n, channel c,
 * point p lives at ws[(off_v + n * nch_v + c) * P + p]. A dense layer is
 * then one GEMM  Z[out x (nch*P)] = W[out x in] * A[in x (nch*P)]  over all
 * Taylor channels at once (W is shared by every channel).
 *
 * Register tiling: each thread owns TM neurons x TN points x ALL channels
 * of its accumulators, so the elementwise jet rule that follows the layer
 * (Faa di Bruno for tanh etc.) runs as the GEMM's epilogue on registers:
 * the pre-activation jet never touches shared memory. Per k step a thread
 * reads TM weights (one or two 16-byte loads, shared by the warp) and
 * TN*NCH activations (consecutive points across the warp: no bank
 * conflicts) for TM*TN*NCH FMAs: 96 FMAs for 20 loaded values at the
 * 2-64-64-64-64-1 / 6-channel reference workload in f32.
 *
 * The generated kernel (host/cuda_emit.c) instantiates ddx_dense_layer once
 * per layer with the shapes as template constants, and emits the epilogue
 * functors and the small elementwise instructions as straight-line code. */
#ifndef DDX_FUSED_CUH
#define DDX_FUSED_CUH

#include "ddx_cuda_common.cuh"

/* The dynamic shared-memory block of a fused kernel (the emulation test
 * supplies its own, with guards). */
#ifdef DDX_EMULATE
#define DDX_SMEM(name) unsigned char *name = ddx_emu_smem()
#else
#define DDX_SMEM(name) extern __shared__ __align__(16) unsigned char name[]
#endif

/* GEMM input channel c reads channel ch(c) of the layer's input value.
 * Identity unless the input carries more channels than the layer needs;
 * then the generated code defines its own map. */
struct ddx_idmap {
    static __device__ __forceinline__ int ch(int c) { return c; }
};

/* Epilogue of a dense layer with no fused activation: the jet as is. */
template <int NCH>
struct ddx_ep_copy {
    template <typename T>
    static __device__ __forceinline__ void apply(const T *z, T *y) {
#pragma unroll
        for (int c = 0; c < NCH; c++) y[c] = z[c];
    }
};

/* TM consecutive weights from shared memory; 16-byte loads when aligned
 * (W^T rows are padded to a multiple of 8 and the block to 16 bytes). */
template <int TM>
__device__ __forceinline__ void ddx_load_w(float (&w)[TM], const float *src) {
    if constexpr (TM % 4 == 0) {
#pragma unroll
        for (int i = 0; i < TM; i += 4) {
            const float4 v = *reinterpret_cast<const float4 *>(src + i);
            w[i] = v.x;
            w[i + 1] = v.y;
            w[i + 2] = v.z;
            w[i + 3] = v.w;
        }
    } else {
#pragma unroll
        for (int i = 0; i < TM; i++) w[i] = src[i];
    }
}

template <int TM>
__device__ __forceinline__ void ddx_load_w(double (&w)[TM], const double *src) {
    if constexpr (TM % 2 == 0) {
#pragma unroll
        for (int i = 0; i < TM; i += 2) {
            const double2 v = *reinterpret_cast<const double2 *>(src + i);
            w[i] = v.x;
            w[i + 1] = v.y;
        }
    } else {
#pragma unroll
        for (int i = 0; i < TM; i++) w[i] = src[i];
    }
}

/* Copies n reals (a multiple of 8, both ends 32-byte aligned: W^T rows are
 * padded to 8 and the parameter blocks start on 8-real boundaries) from
 * global to shared memory with 16-byte loads, all threads of the block. */
__device__ __forceinline__ void ddx_stage(float *dst, const float *__restrict__ src, int n, int tid, int nt) {
    const float4 *s = reinterpret_cast<const float4 *>(src);
    float4 *d = reinterpret_cast<float4 *>(dst);
    for (int i = tid; i < n / 4; i += nt) d[i] = s[i];
}
__device__ __forceinline__ void ddx_stage(double *dst, const double *__restrict__ src, int n, int tid, int nt) {
    const double2 *s = reinterpret_cast<const double2 *>(src);
    double2 *d = reinterpret_cast<double2 *>(dst);
    for (int i = tid; i < n / 2; i += nt) d[i] = s[i];
}

/* y = EP(W a + b) for one dense layer over a tile of P points.
 *
 *   a    input value's block in shared memory (IN neurons x NCHA channels)
 *   y    output block (OUT x NCHY); may be the same memory as a ("in place"):
 *        every read of a finishes before the barrier that precedes the
 *        first write, which the planner allows only when one pass of
 *        TASKS <= NT covers the layer
 *   gWt  W transposed, IN rows of OUTP (OUT padded with zeros), global
 *   gb   bias, OUT entries, global
 *   wsh  shared staging for KC rows of W^T; bsh for the bias
 *   gcj  CJ = 1 (a layer over the inputs themselves): the GEMM runs on the
 *        value channel only; channels 1.. are constants, W times the inputs'
 *        constant jet, OUT x NCHZ in global memory (folx's first-layer
 *        trick: d + 2 channels of a Laplacian cost one). NULL when CJ = 0.
 *
 * Thread task (tm, tn): neurons tm*TM .. tm*TM+TM-1, points tn + j*NTN. */
template <typename T, int IN, int OUT, int OUTP, int NCHA, int NCHZ, int NCHY, int TM, int TN, int P, int NT, int KC,
          int CJ, class MAP, class EP>
__device__ __forceinline__ void ddx_dense_layer(const T *a, T *y, const T *__restrict__ gWt, const T *__restrict__ gb,
                                                const T *__restrict__ gcj, T *wsh, T *bsh, int tid) {
    constexpr int NG = CJ ? 1 : NCHZ; /* channels the GEMM computes */
    constexpr int NTM = (OUT + TM - 1) / TM;
    constexpr int NTN = P / TN;
    constexpr int TASKS = NTM * NTN;
    static_assert(P % TN == 0, "points per thread must divide the tile");
    static_assert(NTM * TM <= OUTP, "padded width too small");
    static_assert(OUTP % 8 == 0, "W^T rows are padded to 8 reals");

    /* nobody reads bsh after the previous layer's post-GEMM barrier */
    for (int i = tid; i < OUT; i += NT) bsh[i] = gb[i];

    for (int t0 = 0; t0 < TASKS; t0 += NT) {
        const int task = t0 + tid;
        const bool active = task < TASKS;
        const int tm = active ? task / NTN : 0;
        const int tn = active ? task - tm * NTN : 0;

        T acc[TM][TN][NCHZ];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
            for (int j = 0; j < TN; j++)
#pragma unroll
                for (int c = 0; c < NCHZ; c++) acc[i][j][c] = (T)0;

        for (int k0 = 0; k0 < IN; k0 += KC) {
            const int kn = IN - k0 < KC ? IN - k0 : KC;
            __syncthreads(); /* writers of a, and readers of the previous W chunk, are done */
            ddx_stage(wsh, gWt + k0 * OUTP, kn * OUTP, tid, NT);
            __syncthreads();
            if (active) {
                const T *ap = a + (k0 * NCHA) * P + tn;
                const T *wp = wsh + tm * TM;
#pragma unroll 2
                for (int kk = 0; kk < kn; kk++) {
                    T w[TM];
                    ddx_load_w<TM>(w, wp + kk * OUTP);
                    T x[TN][NG];
#pragma unroll
                    for (int j = 0; j < TN; j++)
#pragma unroll
                        for (int c = 0; c < NG; c++) x[j][c] = ap[(kk * NCHA + MAP::ch(c)) * P + j * NTN];
#pragma unroll
                    for (int i = 0; i < TM; i++)
#pragma unroll
                        for (int j = 0; j < TN; j++)
#pragma unroll
                            for (int c = 0; c < NG; c++) acc[i][j][c] += w[i] * x[j][c];
                }
            }
        }
        if (active) {
#pragma unroll
            for (int i = 0; i < TM; i++) {
                const int m = tm * TM + i;
                if (m < OUT) {
                    const T b = bsh[m];
#pragma unroll
                    for (int j = 0; j < TN; j++) acc[i][j][0] += b;
                    if constexpr (CJ) {
#pragma unroll
                        for (int c = 1; c < NCHZ; c++) {
                            const T v = gcj[m * NCHZ + c];
#pragma unroll
                            for (int j = 0; j < TN; j++) acc[i][j][c] = v;
                        }
                    }
                }
            }
        }
        __syncthreads(); /* all reads of a (and wsh, bsh) are done: y may overwrite a */
        if (active) {
#pragma unroll
            for (int i = 0; i < TM; i++) {
                const int m = tm * TM + i;
                if (m < OUT) {
#pragma unroll
                    for (int j = 0; j < TN; j++) {
                        T yv[NCHY];
                        EP::apply(acc[i][j], yv);
                        T *yp = y + (m * NCHY) * P + tn + j * NTN;
#pragma unroll
                        for (int c = 0; c < NCHY; c++) yp[c * P] = yv[c];
                    }
                }
            }
        }
    }
}

#endif
