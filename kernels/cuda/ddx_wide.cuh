/* ddx_wide.cuh — device code of the wide path (layers too wide for a fused
 * tile, e.g. 256 neurons): jets live in device memory as
 * [value rows][point], row (off_v + n * nch_v + c), one chunk of LD points
 * per row, so each dense layer is one cuBLAS GEMM over all channels
 * (host/cuda_backend.c) and everything between two GEMMs is one generated
 * "segment" kernel: one thread per point walks the segment's elementwise
 * instructions (bias, Faa di Bruno, Leibniz, copies) over every neuron.
 * Consecutive threads touch consecutive points of a row: coalesced. */
#ifndef DDX_WIDE_CUH
#define DDX_WIDE_CUH

#include "ddx_cuda_common.cuh"

/* Row r of the chunk workspace, at this thread's point. */
#define DDX_ROW(ws, r, ld, p) ((ws) + (long long)(r) * (ld) + (p))

#endif
