/* calibrate.h — measured CPU GEMM rates for `ddx bench` (a tool, not part
 * of the library's API). */
#ifndef DDX_TOOLS_CALIBRATE_H
#define DDX_TOOLS_CALIBRATE_H
#include <stddef.h>
#include "ddx.h"

/* GFLOP/s of ddx's own dense-layer GEMM kernel (the active ISA variant) on
 * a cache-resident problem, all threads at once. Not a reference: it only
 * says how close the jet program gets to ddx's own GEMM. */
double ddx_cpu_gemm_gflops(ddx_precision precision);

/* The reference: a large SGEMM/DGEMM (all cores) through a BLAS that is not
 * ddx's, found at run time (dlopen libopenblas.so.0, else libblis.so.4).
 * Returns GFLOP/s and writes the library and, for OpenBLAS, the kernel it
 * picked (openblas_get_corename) to lib; 0 with the reason in lib when
 * neither is installed. isa (the ddx variant being measured, or NULL):
 * when OPENBLAS_CORETYPE is unset, OpenBLAS is told the matching core
 * (avx512 -> SkylakeX, avx2 -> Haswell) before it loads, because Debian's
 * OpenBLAS 0.3.21 does not know newer Xeons and falls back to an SSE
 * kernel (Prescott) — a reference 3-5x too slow is no reference. */
double ddx_blas_gemm_gflops(ddx_precision precision, int threads, const char *isa, char *lib, size_t cap);

#endif
