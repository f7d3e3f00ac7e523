/* cpu_eval.c — the CPU backend: runs the jet program on tiles of points.
 * The per-tile work (dense-layer GEMM, Faa di Bruno / Leibniz loops, tanh)
 * is the ISA variant's (kernels/cpu/cpu_kernels.h, chosen once per
 * process); this file is baseline code: OpenMP spreads tiles over the
 * cores, each thread with its own workspace, kept between calls so a small
 * batch does not pay for allocation every time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "host/runtime/backend.h"
#include "kernels/cpu/cpu_kernels.h"

typedef struct cpu_state {
    ddx_precision prec;
    int tile, threads;
    const ddx_cpu_kernels *k;
    unsigned char *fuse; /* n_instr flags: fused DENSE -> UNARY pairs */
    int n_fused;
    size_t ws_len, scratch_len; /* reals per thread */
    /* per-thread workspaces cached between calls; busy while a run uses them
     * (a concurrent run on the same program allocates its own) */
    void **ws;
    int n_ws, busy;
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

static void cpu_release(void *state) {
    cpu_state *s = state;
    if (!s) return;
    for (int i = 0; i < s->n_ws; i++) free(s->ws[i]);
    free(s->ws);
    free(s->fuse);
    free(s);
}

static ddx_status cpu_prepare(const jet_program *p, const ddx_compile_options *opt, void **state, char *err,
                              size_t cap) {
    const ddx_cpu_kernels *k = ddx_cpu_active(err, cap);
    if (!k) return DDX_ERR_NO_DEVICE; /* DDX_CPU_ISA asks for what this CPU lacks */
    cpu_state *s = calloc(1, sizeof *s);
    if (!s || !(s->fuse = calloc((size_t)p->n_instr + 1, 1))) {
        free(s);
        snprintf(err, cap, "out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    s->k = k;
    s->prec = opt->precision;
    /* Tile size: the widest value of a tile should take ~512 KB, so a dense
     * layer's input and output jets stay in L2 (2 MB per core here): 256
     * points for a 64-wide 6-channel layer, 32 for a 256-wide 12..21-channel
     * Laplacian (measured: 1.5x faster than 256 there). Multiples of 32
     * keep every variant's GEMM strips whole. */
    int64_t widest = 1;
    for (int v = 0; v < p->n_values; v++) {
        int64_t b = (int64_t)p->values[v].width * p->values[v].nch;
        if (b > widest) widest = b;
    }
    int64_t tile = (512 * 1024) / (widest * (opt->precision == DDX_F32 ? 4 : 8));
    tile = tile / 32 * 32;
    s->tile = opt->tile_points > 0 ? opt->tile_points : (int)(tile < 32 ? 32 : tile > 256 ? 256 : tile);
    s->threads = opt->num_threads > 0 ? opt->num_threads : default_threads();
    s->n_fused = ddx_cpu_fuse_plan(p, s->fuse, k->fuse);
    s->ws_len = (size_t)p->workspace * (size_t)s->tile;
    s->scratch_len = ddx_cpu_scratch_len(p, s->fuse);
    *state = s;
    return DDX_OK;
}

/* Thread t's workspace (ws_len + scratch_len reals), from the cache when
 * it is ours; else a fresh one that the caller frees. */
static void *thread_ws(cpu_state *s, int mine, int t, size_t bytes, int *owned) {
    *owned = 0;
    if (mine && t < s->n_ws) {
        if (!s->ws[t]) s->ws[t] = calloc(1, bytes);
        return s->ws[t];
    }
    *owned = 1;
    return calloc(1, bytes);
}

static ddx_status cpu_run(void *state, const jet_program *p, const void *points, int64_t n, void *out,
                          char *err, size_t cap) {
    cpu_state *s = state;
    const int P = s->tile, f32 = s->prec == DDX_F32;
    const int64_t ntiles = (n + P - 1) / P;
    /* never more threads than tiles: a small batch starts no idle threads */
    const int threads = (int)(ntiles < s->threads ? (ntiles > 0 ? ntiles : 1) : s->threads);
    const size_t es = f32 ? sizeof(float) : sizeof(double), bytes = (s->ws_len + s->scratch_len) * es;
    int mine = !__atomic_exchange_n(&s->busy, 1, __ATOMIC_ACQUIRE);
    if (mine && s->n_ws < threads) {
        void **w = realloc(s->ws, sizeof(void *) * (size_t)threads);
        if (w) {
            for (int i = s->n_ws; i < threads; i++) w[i] = NULL;
            s->ws = w;
            s->n_ws = threads;
        }
    }
    int failed = 0;
    const unsigned char *fuse = s->n_fused ? s->fuse : NULL;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int t = 0, owned;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        char *ws = thread_ws(s, mine, t, bytes, &owned);
        if (!ws) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < ntiles; i++) {
            if (!ws) continue;
            const int64_t p0 = i * P;
            const int np = (int)(n - p0 < P ? n - p0 : P);
            if (f32)
                s->k->tile_f32(p, fuse, (float *)ws, (float *)ws + s->ws_len, P, np, (const float *)points + p0 * p->d,
                               (float *)out + p0 * p->n_outputs);
            else
                s->k->tile_f64(p, fuse, (double *)ws, (double *)ws + s->ws_len, P, np,
                               (const double *)points + p0 * p->d, (double *)out + p0 * p->n_outputs);
        }
        if (owned) free(ws);
    }
    if (mine) __atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
    if (failed) {
        snprintf(err, cap, "out of memory: tile workspace of %zu bytes", bytes);
        return DDX_ERR_OUT_OF_MEMORY;
    }
    return DDX_OK;
}

static size_t cpu_describe(void *state, char *buf, size_t cap) {
    cpu_state *s = state;
    int w = snprintf(buf, cap,
                     "device cpu: %s kernels (%d x %d register tile), tiles of %d points, %d threads, one GEMM per "
                     "dense layer over all channels, %d dense+activation pair(s) fused\n",
                     s->k->name, s->k->mr, s->prec == DDX_F32 ? s->k->nb_f32 : s->k->nb_f64, s->tile, s->threads,
                     s->n_fused);
    return w < 0 ? 0 : (size_t)w;
}

const ddx_backend_i ddx_backend_cpu = {"cpu", NEEDS_CONST_JET | NEEDS_SPARSITY, cpu_available, cpu_prepare, cpu_run, cpu_release, cpu_describe, NULL, NULL};
