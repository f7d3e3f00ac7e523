/* cpu_eval.c — the CPU backend: runs the jet program on tiles of points.
 * Dense layers are one register-blocked GEMM per layer over all channels
 * (gemm_kernel.c);
 * the elementwise jet rules are loops over the tile that the compiler
 * vectorizes; OpenMP spreads tiles over the cores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/ddx_jet_rules.h"
#include "host/runtime/backend.h"
#include "kernels/cpu/cpu_math.h"
#include "kernels/cpu/gemm_kernel.h"

DDX_DEFINE_JET_RULES(float, f32, expf, logf, log1pf, sinf, cosf, tanhf, powf, sqrtf, fabsf)
DDX_DEFINE_JET_RULES(double, f64, exp, log, log1p, sin, cos, tanh, pow, sqrt, fabs)

static inline float tanh_d1_f32(float x, float *d1) { return ddx_fast_tanh_d1f(x, d1); }
static inline double tanh_d1_f64(double x, double *d1) { return ddx_fast_tanh_d1(x, d1); }

#define REAL float
#define SFX f32
#define GEMM ddx_gemm_f32
#define WFIELD Wf
#define BFIELD bf
#define POLY polyf
#include "kernels/cpu/cpu_eval_impl.h"
#undef REAL
#undef SFX
#undef GEMM
#undef WFIELD
#undef BFIELD
#undef POLY

#define REAL double
#define SFX f64
#define GEMM ddx_gemm_f64
#define WFIELD W
#define BFIELD b
#define POLY poly
#include "kernels/cpu/cpu_eval_impl.h"

typedef struct cpu_state {
    ddx_precision prec;
    int tile, threads;
} cpu_state;

static int cpu_available(char *why, size_t cap) {
    (void)why;
    (void)cap;
    return 1;
}

static int default_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static ddx_status cpu_prepare(const jet_program *p, const ddx_compile_options *opt, void **state, char *err,
                              size_t cap) {
    cpu_state *s = malloc(sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    s->prec = opt->precision;
    /* Tile size: the widest value of a tile should take ~512 KB, so a dense
     * layer's input and output jets stay in L2 (2 MB per core here): 256
     * points for a 64-wide 6-channel layer, 32 for a 256-wide 12..21-channel
     * Laplacian (measured: 1.5x faster than 256 there). Multiples of 32
     * keep the GEMM's 32-column strips whole. */
    int64_t widest = 1;
    for (int v = 0; v < p->n_values; v++) {
        int64_t b = (int64_t)p->values[v].width * p->values[v].nch;
        if (b > widest) widest = b;
    }
    int64_t tile = (512 * 1024) / (widest * (opt->precision == DDX_F32 ? 4 : 8));
    tile = tile / 32 * 32;
    s->tile = opt->tile_points > 0 ? opt->tile_points : (int)(tile < 32 ? 32 : tile > 256 ? 256 : tile);
    s->threads = opt->num_threads > 0 ? opt->num_threads : default_threads();
    *state = s;
    return DDX_OK;
}

static ddx_status cpu_run(void *state, const jet_program *p, const void *points, int64_t n, void *out,
                          char *err, size_t cap) {
    cpu_state *s = state;
    if (s->prec == DDX_F32) return cpu_eval_f32(p, s->tile, s->threads, points, n, out, err, cap);
    return cpu_eval_f64(p, s->tile, s->threads, points, n, out, err, cap);
}

static void cpu_release(void *state) { free(state); }

static size_t cpu_describe(void *state, char *buf, size_t cap) {
    cpu_state *s = state;
    int w = snprintf(buf, cap, "device cpu: tiles of %d points, %d threads, one GEMM per dense layer over all channels\n",
                     s->tile, s->threads);
    return w < 0 ? 0 : (size_t)w;
}

const ddx_backend_i ddx_backend_cpu = {"cpu", cpu_available, cpu_prepare, cpu_run, cpu_release, cpu_describe, NULL, NULL};
