/* calibrate.h — a measured CPU GEMM rate for `ddx bench` (a tool, not part
 * of the library's API). */
#ifndef DDX_TOOLS_CALIBRATE_H
#define DDX_TOOLS_CALIBRATE_H
#include "ddx.h"

/* GFLOP/s of ddx's own dense-layer GEMM kernel on a cache-resident problem,
 * all threads at once. */
double ddx_cpu_gemm_gflops(ddx_precision precision);

#endif
