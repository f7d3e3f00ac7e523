/* cuda_emit.h — from a jet program to CUDA C source (internal).
 *
 * Two strategies (docs/CUDA.md):
 *  fused   one kernel per program; a block owns a tile of P points, the
 *          jets live in shared memory, each dense layer is a register-tiled
 *          GEMM over all channels whose epilogue is the following
 *          elementwise jet rule;
 *  wide    (cuBLAS) jets in device memory, one S/DGEMM per dense layer over
 *          all channels, one generated "segment" kernel for the elementwise
 *          instructions between two GEMMs.
 * Plans are plain data, shared by the backend, the offline report and the
 * emulation test, so all three run the same launch geometry. */
#ifndef DDX_CUDA_EMIT_H
#define DDX_CUDA_EMIT_H

#include <stddef.h>
#include "host/compiler/jet_program.h"

/* AUTO takes the fused path when no dense layer is wider than this. */
#define CUDA_FUSED_MAX_WIDTH 128
/* Segment kernels of the wide path: threads per block (one point each). */
#define CUDA_WIDE_THREADS 256

/* ---- parameters (weights and biases) on the device --------------------- */
typedef struct cuda_params {
    ddx_precision prec;
    int fused;      /* layout: fused = W^T [in][outp] zero padded; wide = W [out][in] */
    int n_dense;
    size_t *w_off;  /* per dense, in reals */
    size_t *b_off;
    int *ldw;       /* fused: outp (row length of W^T); wide: in */
    int n_instr;
    size_t *cj_off; /* per instruction: its constant input jet (cjet, out x nch), or (size_t)-1 */
    size_t n_reals;
    void *data;     /* n_reals floats or doubles */
} cuda_params;

ddx_status cuda_params_pack(const jet_program *p, ddx_precision prec, int fused, cuda_params *out, char *err,
                            size_t cap);
void cuda_params_free(cuda_params *prm);
/* Row length of W^T in the fused layout: out rounded up to 8. */
int cuda_fused_outp(int out);

/* ---- fused plan ------------------------------------------------------------ */
typedef struct cuda_dense_tile {
    int tm, tn;   /* register tile: neurons x points, all channels */
    int kc;       /* rows of W^T staged in shared memory at a time */
    int outp;     /* padded width */
    int tasks;    /* ceil(out / tm) * (P / tn) */
    int inplace;  /* output overwrites the input's block */
} cuda_dense_tile;

typedef struct cuda_fused_plan {
    ddx_precision prec;
    int P;              /* points per block */
    int NT;             /* threads per block */
    int64_t ws_rows;    /* jet rows in shared memory (P reals each) */
    int wsh_reals, bsh_reals;
    size_t smem_bytes;  /* dynamic shared memory per block */
    size_t wsh_byte_off, bsh_byte_off;
    int n_instr;
    int *fused;         /* per instruction: dense that takes the next unary as epilogue */
    cuda_dense_tile *tile; /* per instruction (dense only) */
    int n_values;
    int64_t *off;       /* per value: row offset, -1 when never stored */
    int n_layers, n_fused, n_inplace;
    int max_width;      /* widest dense layer (in or out) */
} cuda_fused_plan;

/* Widest dense layer (in or out) of a program; 0 without dense layers. */
int cuda_max_width(const jet_program *p);
/* Largest dynamic shared memory per block for "sm_XY" / "compute_XY"
 * (the device's own limit is used when running). */
size_t cuda_arch_smem_limit(const char *arch);
/* Plans the fused kernel within smem_limit bytes per block. max_threads
 * (0 = 256) caps the threads per block; tile_points (0 = automatic) forces
 * the points per block (ddx_compile_options' cuda_ knobs). Returns
 * DDX_ERR_UNSUPPORTED with a reason when the tile does not fit. */
ddx_status cuda_fused_plan_build(const jet_program *p, ddx_precision prec, size_t smem_limit, int max_threads,
                                 int tile_points, cuda_fused_plan *plan, char *why, size_t cap);
void cuda_fused_plan_free(cuda_fused_plan *plan);
/* The kernel `ddx_fused(const real *pts, real *out, long long n, const
 * real *prm)`; grid ceil(n / P) blocks of NT threads, smem_bytes of
 * dynamic shared memory. Returns malloc'd source, or NULL (out of memory). */
char *cuda_emit_fused(const jet_program *p, const cuda_fused_plan *plan, const cuda_params *prm);

/* ---- wide plan ---------------------------------------------------------------- */
enum { CUDA_STEP_SEGMENT = 0, CUDA_STEP_GEMM = 1 };

typedef struct cuda_wide_step {
    int kind;
    int seg;    /* CUDA_STEP_SEGMENT: kernel ddx_seg<seg> */
    int instr;  /* CUDA_STEP_GEMM: the dense instruction */
} cuda_wide_step;

typedef struct cuda_wide_plan {
    ddx_precision prec;
    int n_steps, n_segs, n_gemms;
    cuda_wide_step *steps;
    int *seg_first, *seg_end;  /* instruction range of each segment */
    int *seg_bias_first, *seg_bias_end; /* dense instructions whose bias the segment adds */
    int64_t ws_rows;           /* jet rows per point (the CPU layout) */
    int max_width;
} cuda_wide_plan;

ddx_status cuda_wide_plan_build(const jet_program *p, ddx_precision prec, cuda_wide_plan *plan, char *why,
                                size_t cap);
void cuda_wide_plan_free(cuda_wide_plan *plan);
/* Segment kernels `ddx_seg<i>(const real *pts, real *out, long long np,
 * real *ws, long long ld, const real *prm)`, one thread per point,
 * CUDA_WIDE_THREADS per block; pts and out point at the chunk's first row. */
char *cuda_emit_wide(const jet_program *p, const cuda_wide_plan *plan, const cuda_params *prm);

/* One column-major GEMM C = A * W (cuBLAS N,N): the row-major jet product
 * Z[out x cols] = W[out x in] * A[in x cols] seen from the other side.
 * Offsets in reals: a_off, c_off in the chunk workspace, w_off in params. */
typedef struct cuda_gemm {
    int m, n, k;
    int64_t a_off, c_off;
    int lda, ldc;
    size_t w_off;
    int ldw;
} cuda_gemm;

/* The GEMMs of dense instruction `instr` for a chunk of ld points of which
 * np are real; returns how many (<= cap; one, or one per channel). */
int cuda_wide_gemms(const jet_program *p, const cuda_params *prm, int instr, int64_t ld, int64_t np, cuda_gemm *out,
                    int cap);

#endif
