/* cuda_backend.c — the CUDA backend: strategy choice, NVRTC build, device
 * state, and the streamed evaluation of batches of any size.
 *
 * Strategy (docs/CUDA.md): AUTO takes the fused kernel when no dense layer
 * is wider than CUDA_FUSED_MAX_WIDTH and the tile fits in shared memory,
 * else cuBLAS GEMMs + generated segment kernels; opt->strategy forces one.
 *
 * Streaming: points go through pinned host buffers in chunks on two
 * streams, so the copies of chunk i+1 overlap the kernels of chunk i; when
 * a device allocation fails the chunk halves, down to a floor, and then the
 * call fails with the allocation named. Every driver call is checked and a
 * failure names the call. */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/runtime/backend.h"
#include "host/cuda/cuda_driver.h"
#include "host/cuda/cuda_emit.h"
#include "host/runtime/strbuf.h"
#include "host/runtime/test_hooks.h"

#define MAX_STREAMS 2
#define DEFAULT_CHUNK ((int64_t)1 << 20) /* points per chunk when streaming host data */

typedef struct stream_buf {
    CUstream stream;
    CUdeviceptr pts, out, ws;
    void *hpts, *hout;
    int64_t cap;    /* points the buffers hold */
    int has_work;   /* a chunk is in flight whose result is still in hout */
    int64_t row0, np;
} stream_buf;

/* One device a program runs on: its primary context and what the plan
 * depends on (device 0's comes from ddx_cu, others are retained here). */
typedef struct cuda_dev {
    int ordinal;
    CUdevice dev;
    CUcontext ctx;
    int retained; /* this state retained ctx and releases it */
    int cc_major, cc_minor, sm_count, smem_optin;
    char name[128];
} cuda_dev;

typedef struct cuda_state {
    const ddx_cu_api *cu;
    cuda_dev dv;
    ddx_precision prec;
    size_t rsz;
    int d, K;
    int strategy; /* DDX_STRATEGY_FUSED or DDX_STRATEGY_CUBLAS */
    char why[320];
    char arch[32];
    cuda_params prm;
    cuda_fused_plan fp;
    cuda_wide_plan wp;
    int max_nch;
    ddx_kernel_binary bin;
    size_t src_bytes;
    CUmodule mod;
    CUfunction fused_fn;
    CUfunction *seg_fn;
    CUdeviceptr d_prm;
    const ddx_cublas_api *blas;
    void *blas_h;
    cuda_gemm *gemms; /* max_nch entries: per-channel GEMMs of a layer */
    stream_buf sb[MAX_STREAMS];
    int nstreams;         /* streams created */
    int64_t chunk_limit;  /* lowered after an out-of-memory */
    int64_t chunk_cap;    /* ddx_compile_options.cuda_chunk_points (0: default) */
    pthread_mutex_t lock;
    /* several devices (opt->cuda_devices): this state is the first one's,
     * peers[] the others' (see "several devices" below) */
    struct cuda_state **peers;
    int n_peers;
} cuda_state;

/* ---- strategy ------------------------------------------------------------------ */

/* Picks and plans the strategy; shared by prepare and the offline report. */
static ddx_status choose_strategy(const jet_program *p, const ddx_compile_options *opt, size_t smem_limit,
                                  cuda_fused_plan *fp, cuda_wide_plan *wp, int *strategy, char *why, size_t whycap,
                                  char *err, size_t cap) {
    const int maxw = cuda_max_width(p);
    char reason[256] = "";
    ddx_status st;
    if (opt->strategy == DDX_STRATEGY_FUSED ||
        (opt->strategy == DDX_STRATEGY_AUTO && maxw <= CUDA_FUSED_MAX_WIDTH)) {
        st = cuda_fused_plan_build(p, opt->precision, smem_limit, opt->cuda_max_threads, opt->cuda_tile_points, fp,
                                   reason, sizeof reason);
        if (st == DDX_OK) {
            *strategy = DDX_STRATEGY_FUSED;
            if (opt->strategy == DDX_STRATEGY_FUSED)
                snprintf(why, whycap, "fused (asked for)");
            else
                snprintf(why, whycap,
                         "fused (widest layer %d <= %d: the jets of a %d-point tile and the weights fit in shared "
                         "memory)",
                         maxw, CUDA_FUSED_MAX_WIDTH, fp->P);
            return DDX_OK;
        }
        if (st != DDX_ERR_UNSUPPORTED || opt->strategy == DDX_STRATEGY_FUSED) {
            snprintf(err, cap, "fused strategy: %s", reason);
            return st;
        }
    }
    st = cuda_wide_plan_build(p, opt->precision, wp, err, cap);
    if (st) return st;
    *strategy = DDX_STRATEGY_CUBLAS;
    if (opt->strategy == DDX_STRATEGY_CUBLAS)
        snprintf(why, whycap, "cublas (asked for)");
    else if (maxw > CUDA_FUSED_MAX_WIDTH)
        snprintf(why, whycap, "cublas (widest layer %d > %d: %s GEMMs per layer over all channels)", maxw,
                 CUDA_FUSED_MAX_WIDTH, opt->precision == DDX_F64 ? "DGEMM" : "SGEMM");
    else
        snprintf(why, whycap, "cublas (fused tile does not fit: %s)", reason);
    return DDX_OK;
}

static int max_channels(const jet_program *p) {
    int m = 1;
    for (int v = 0; v < p->n_values; v++)
        if (p->values[v].nch > m) m = p->values[v].nch;
    return m;
}

/* Writes the emitted source for the chosen strategy. */
static char *emit_source(const jet_program *p, int strategy, const cuda_fused_plan *fp, const cuda_wide_plan *wp,
                         const cuda_params *prm) {
    return strategy == DDX_STRATEGY_FUSED ? cuda_emit_fused(p, fp, prm) : cuda_emit_wide(p, wp, prm);
}

/* ---- availability -------------------------------------------------------------------- */

static int cuda_available(char *why, size_t cap) { return ddx_cu(why, cap) != NULL; }

/* ---- buffers -------------------------------------------------------------------------- */

/* Frees one stream's buffer set (device points, outputs, workspace, pinned
 * host copies); the one place that knows the set. */
static void stream_buf_free(const ddx_cu_api *cu, stream_buf *b) {
    if (b->pts) cu->MemFree(b->pts);
    if (b->out) cu->MemFree(b->out);
    if (b->ws) cu->MemFree(b->ws);
    if (b->hpts) cu->MemFreeHost(b->hpts);
    if (b->hout) cu->MemFreeHost(b->hout);
    b->pts = b->out = b->ws = 0;
    b->hpts = b->hout = NULL;
    b->cap = 0;
}

static void free_buffers(cuda_state *s) {
    for (int i = 0; i < MAX_STREAMS; i++) {
        stream_buf_free(s->cu, &s->sb[i]);
        s->sb[i].has_work = 0;
    }
}

/* Test hook (runtime/test_hooks.h): larger device allocations fail as out
 * of memory, to exercise the chunk halving without a full GPU. */
static CUresult dev_alloc(const ddx_cu_api *cu, CUdeviceptr *p, size_t bytes) {
    size_t lim = ddx_test_hooks.cuda_oom_above;
    if (lim && bytes > lim) return CUDA_ERROR_OUT_OF_MEMORY;
    return cu->MemAlloc(p, bytes ? bytes : 16);
}

/* Makes stream buffer i hold `points` points (host: with_host pinned
 * copies; wide: with_ws a chunk workspace). */
static ddx_status ensure_buffer(cuda_state *s, int i, int64_t points, int with_host, int with_ws, char *err,
                                size_t cap) {
    const ddx_cu_api *cu = s->cu;
    stream_buf *b = &s->sb[i];
    ddx_status st = DDX_OK;
    if (b->cap >= points && (!with_host || b->hpts) && (!with_ws || b->ws)) return DDX_OK;
    stream_buf_free(cu, b); /* grow: drop the old buffers of this stream */
    const size_t in_b = (size_t)points * s->d * s->rsz, out_b = (size_t)points * s->K * s->rsz;
    char what[96];
    if (with_host || !with_ws) {
        snprintf(what, sizeof what, "cuMemAlloc(%zu bytes of points)", in_b);
        DDX_CU_TRY(cu, dev_alloc(cu, &b->pts, in_b), what);
        snprintf(what, sizeof what, "cuMemAlloc(%zu bytes of outputs)", out_b);
        DDX_CU_TRY(cu, dev_alloc(cu, &b->out, out_b), what);
    }
    if (with_host) {
        snprintf(what, sizeof what, "cuMemAllocHost(%zu bytes)", in_b);
        DDX_CU_TRY(cu, cu->MemAllocHost(&b->hpts, in_b ? in_b : 16), what);
        snprintf(what, sizeof what, "cuMemAllocHost(%zu bytes)", out_b);
        DDX_CU_TRY(cu, cu->MemAllocHost(&b->hout, out_b ? out_b : 16), what);
    }
    if (with_ws) {
        size_t ws_b = (size_t)s->wp.ws_rows * (size_t)points * s->rsz;
        snprintf(what, sizeof what, "cuMemAlloc(%zu bytes of jet workspace)", ws_b);
        DDX_CU_TRY(cu, dev_alloc(cu, &b->ws, ws_b), what);
        /* GEMMs run over whole rows, padding points too: keep those finite */
        DDX_CU_TRY(cu, cu->MemsetD8Async(b->ws, 0, ws_b, b->stream), "cuMemsetD8Async(workspace)");
    }
    b->cap = points;
    return DDX_OK;
fail:
    stream_buf_free(cu, b);
    return st;
}

/* Points per chunk: the caller's cap (cuda_chunk_points), the OOM-lowered
 * limit, and for the wide path what a share of free memory holds. */
static int64_t chunk_points(cuda_state *s, int64_t n, int nstreams) {
    int64_t c = s->chunk_cap > 0 ? s->chunk_cap : DEFAULT_CHUNK;
    if (s->chunk_limit > 0 && c > s->chunk_limit) c = s->chunk_limit;
    if (s->strategy == DDX_STRATEGY_CUBLAS) {
        size_t fr = 0, tot = 0;
        if (s->cu->MemGetInfo(&fr, &tot) == CUDA_SUCCESS && fr > 0) {
            size_t per_point = ((size_t)s->wp.ws_rows + (size_t)s->d + (size_t)s->K) * s->rsz;
            int64_t m = (int64_t)(fr * 2 / 5 / (size_t)nstreams / per_point);
            if (m < c) c = m;
        }
        /* cuBLAS takes int dimensions: channels x points must fit */
        int64_t lim = ((int64_t)1 << 31) / (int64_t)s->max_nch - 1024;
        if (c > lim) c = lim;
        c = c / 128 * 128;
        if (c < 128) c = 128;
    }
    if (c > n) c = n;
    if (c < 1) c = 1;
    return c;
}

/* ---- launches ---------------------------------------------------------------------------- */

static ddx_status gemm(cuda_state *s, const cuda_gemm *g, CUdeviceptr ws, char *err, size_t cap) {
    const size_t r = s->rsz;
    const CUdeviceptr A = ws + (CUdeviceptr)(g->a_off * (int64_t)r), C = ws + (CUdeviceptr)(g->c_off * (int64_t)r);
    const CUdeviceptr W = s->d_prm + (CUdeviceptr)(g->w_off * r);
    int rc;
    if (s->prec == DDX_F64) {
        const double one = 1, zero = 0;
        rc = s->blas->Dgemm(s->blas_h, 0, 0, g->m, g->n, g->k, &one, (const double *)(uintptr_t)A, g->lda,
                            (const double *)(uintptr_t)W, g->ldw, &zero, (double *)(uintptr_t)C, g->ldc);
    } else {
        const float one = 1, zero = 0;
        rc = s->blas->Sgemm(s->blas_h, 0, 0, g->m, g->n, g->k, &one, (const float *)(uintptr_t)A, g->lda,
                            (const float *)(uintptr_t)W, g->ldw, &zero, (float *)(uintptr_t)C, g->ldc);
    }
    if (rc != 0) {
        snprintf(err, cap, "cublas%cgemm(m=%d, n=%d, k=%d): status %d", s->prec == DDX_F64 ? 'D' : 'S', g->m, g->n,
                 g->k, rc);
        return DDX_ERR_DEVICE;
    }
    return DDX_OK;
}

/* Runs the program on np points whose inputs are at d_pts and whose outputs
 * go to d_out, on `stream`; the wide path uses ws (rows of ld points). */
static ddx_status launch_chunk(cuda_state *s, const jet_program *p, CUstream stream, CUdeviceptr d_pts,
                               CUdeviceptr d_out, int64_t np, CUdeviceptr ws, int64_t ld, char *err, size_t cap) {
    const ddx_cu_api *cu = s->cu;
    ddx_status st = DDX_OK;
    char what[160];
    if (s->strategy == DDX_STRATEGY_FUSED) {
        const int64_t P = s->fp.P, max_pts = (int64_t)0x7fffffff * s->fp.P;
        for (int64_t off = 0; off < np; off += max_pts) {
            long long n = (long long)(np - off < max_pts ? np - off : max_pts);
            CUdeviceptr pp = d_pts + (CUdeviceptr)((size_t)off * (size_t)s->d * s->rsz);
            CUdeviceptr op = d_out + (CUdeviceptr)((size_t)off * (size_t)s->K * s->rsz);
            void *args[] = {&pp, &op, &n, &s->d_prm};
            unsigned grid = (unsigned)((n + P - 1) / P);
            snprintf(what, sizeof what, "cuLaunchKernel(ddx_fused, %u blocks x %d threads, %zu bytes shared)", grid,
                     s->fp.NT, s->fp.smem_bytes);
            DDX_CU_TRY(cu, cu->LaunchKernel(s->fused_fn, grid, 1, 1, (unsigned)s->fp.NT, 1, 1,
                                            (unsigned)s->fp.smem_bytes, stream, args, NULL),
                       what);
        }
        return DDX_OK;
    }
    long long nll = (long long)np, ldl = (long long)ld;
    if (s->wp.n_gemms) {
        int r = s->blas->SetStream(s->blas_h, stream);
        if (r != 0) {
            snprintf(err, cap, "cublasSetStream: status %d", r);
            return DDX_ERR_DEVICE;
        }
    }
    for (int k = 0; k < s->wp.n_steps; k++) {
        const cuda_wide_step *stp = &s->wp.steps[k];
        if (stp->kind == CUDA_STEP_SEGMENT) {
            void *args[] = {&d_pts, &d_out, &nll, &ws, &ldl, &s->d_prm};
            unsigned grid = (unsigned)((np + CUDA_WIDE_THREADS - 1) / CUDA_WIDE_THREADS);
            snprintf(what, sizeof what, "cuLaunchKernel(ddx_seg%d, %u blocks x %d threads)", stp->seg, grid,
                     CUDA_WIDE_THREADS);
            DDX_CU_TRY(cu, cu->LaunchKernel(s->seg_fn[stp->seg], grid, 1, 1, CUDA_WIDE_THREADS, 1, 1, 0, stream,
                                            args, NULL),
                       what);
        } else {
            int ng = cuda_wide_gemms(p, &s->prm, stp->instr, ld, np, s->gemms, s->max_nch);
            for (int g = 0; g < ng; g++)
                if ((st = gemm(s, &s->gemms[g], ws, err, cap)) != DDX_OK) return st;
        }
    }
    return DDX_OK;
fail:
    return st;
}

static ddx_status push_ctx(cuda_state *s, char *err, size_t cap) {
    CUresult r = s->cu->CtxPushCurrent(s->dv.ctx);
    return r == CUDA_SUCCESS ? DDX_OK : ddx_cu_error(s->cu, r, "cuCtxPushCurrent", err, cap);
}

static void pop_ctx(cuda_state *s) {
    CUcontext c;
    s->cu->CtxPopCurrent(&c);
}

/* ---- prepare / release -------------------------------------------------------------------- */

static void cuda_release(void *state) {
    cuda_state *s = state;
    if (!s) return;
    if (s->cu) {
        int pushed = s->dv.ctx && s->cu->CtxPushCurrent(s->dv.ctx) == CUDA_SUCCESS;
        for (int i = 0; i < s->nstreams; i++)
            if (s->sb[i].stream) s->cu->StreamSynchronize(s->sb[i].stream);
        free_buffers(s);
        for (int i = 0; i < s->nstreams; i++)
            if (s->sb[i].stream) s->cu->StreamDestroy(s->sb[i].stream);
        if (s->blas_h) s->blas->Destroy(s->blas_h);
        if (s->d_prm) s->cu->MemFree(s->d_prm);
        if (s->mod) s->cu->ModuleUnload(s->mod);
        if (pushed) pop_ctx(s);
        if (s->dv.retained) s->cu->DevicePrimaryCtxRelease(s->dv.dev);
    }
    for (int i = 0; i < s->n_peers; i++) cuda_release(s->peers[i]);
    free(s->peers);
    cuda_params_free(&s->prm);
    cuda_fused_plan_free(&s->fp);
    cuda_wide_plan_free(&s->wp);
    ddx_kernel_binary_free(&s->bin);
    free(s->seg_fn);
    free(s->gemms);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static ddx_status open_device(const ddx_cu_api *cu, int ordinal, cuda_dev *dv, char *err, size_t cap);

/* Prepares the program on one device (ordinal as the driver numbers them). */
static ddx_status prepare_one(const jet_program *p, const ddx_compile_options *opt, int ordinal, void **state,
                              char *err, size_t cap) {
    char why[256];
    const ddx_cu_api *cu = ddx_cu(why, sizeof why);
    *state = NULL;
    if (!cu) {
        snprintf(err, cap, "device cuda: %s", why);
        return DDX_ERR_NO_DEVICE;
    }
    cuda_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->cu = cu;
    s->prec = opt->precision;
    s->chunk_cap = opt->cuda_chunk_points;
    s->rsz = opt->precision == DDX_F64 ? sizeof(double) : sizeof(float);
    s->d = p->d;
    s->K = p->n_outputs;
    s->max_nch = max_channels(p);
    ddx_status st = open_device(cu, ordinal, &s->dv, err, cap);
    if (st == DDX_OK) st = push_ctx(s, err, cap);
    if (st) {
        if (s->dv.retained) cu->DevicePrimaryCtxRelease(s->dv.dev);
        s->cu = NULL;
        cuda_release(s);
        return st;
    }
    char *src = NULL;
    ddx_nvrtc_arch_for(s->dv.cc_major, s->dv.cc_minor, s->arch, sizeof s->arch);
    st = choose_strategy(p, opt, (size_t)s->dv.smem_optin, &s->fp, &s->wp, &s->strategy, s->why, sizeof s->why, err,
                         cap);
    if (st) goto fail;
    st = cuda_params_pack(p, opt->precision, s->strategy == DDX_STRATEGY_FUSED, &s->prm, err, cap);
    if (st) goto fail;
    src = emit_source(p, s->strategy, &s->fp, &s->wp, &s->prm);
    if (!src) {
        st = DDX_ERR_OUT_OF_MEMORY;
        snprintf(err, cap, "out of memory emitting the kernel source");
        goto fail;
    }
    s->src_bytes = strlen(src);
    st = ddx_nvrtc_build(src, s->arch, &s->bin, err, cap);
    if (st) goto fail;
    if (s->bin.cache && cu->ModuleLoadData(&s->mod, s->bin.image) != CUDA_SUCCESS) {
        /* a cached image the driver refuses (driver update, damage): evict it, compile once more */
        ddx_kernel_binary_free(&s->bin);
        st = ddx_nvrtc_rebuild(src, s->arch, &s->bin, err, cap);
        if (st) goto fail;
        s->mod = NULL;
    }
    free(src);
    src = NULL;
    if (!s->mod) DDX_CU_TRY(cu, cu->ModuleLoadData(&s->mod, s->bin.image), "cuModuleLoadData");
    if (s->strategy == DDX_STRATEGY_FUSED) {
        DDX_CU_TRY(cu, cu->ModuleGetFunction(&s->fused_fn, s->mod, "ddx_fused"), "cuModuleGetFunction(ddx_fused)");
        if (s->fp.smem_bytes > 48 * 1024)
            DDX_CU_TRY(cu,
                       cu->FuncSetAttribute(s->fused_fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                            (int)s->fp.smem_bytes),
                       "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
    } else {
        s->seg_fn = calloc((size_t)s->wp.n_segs + 1, sizeof(CUfunction));
        s->gemms = calloc((size_t)s->max_nch + 1, sizeof(cuda_gemm));
        if (!s->seg_fn || !s->gemms) {
            st = DDX_ERR_OUT_OF_MEMORY;
            snprintf(err, cap, "out of memory");
            goto fail;
        }
        for (int i = 0; i < s->wp.n_segs; i++) {
            char name[32], what[64];
            snprintf(name, sizeof name, "ddx_seg%d", i);
            snprintf(what, sizeof what, "cuModuleGetFunction(%s)", name);
            DDX_CU_TRY(cu, cu->ModuleGetFunction(&s->seg_fn[i], s->mod, name), what);
        }
        if (s->wp.n_gemms) {
            char bwhy[512];
            s->blas = ddx_cublas(bwhy, sizeof bwhy);
            if (!s->blas) {
                snprintf(err, cap, "cublas strategy: %s", bwhy);
                st = DDX_ERR_NO_DEVICE;
                goto fail;
            }
            int r = s->blas->Create(&s->blas_h);
            if (r != 0) {
                snprintf(err, cap, "cublasCreate: status %d", r);
                st = DDX_ERR_DEVICE;
                goto fail;
            }
            /* plain FP32/FP64 arithmetic (no TF32), as the CPU reference does */
            s->blas->SetMathMode(s->blas_h, 0 /* CUBLAS_DEFAULT_MATH */);
        }
    }
    {
        size_t bytes = s->prm.n_reals * s->rsz;
        DDX_CU_TRY(cu, dev_alloc(cu, &s->d_prm, bytes), "cuMemAlloc(weights)");
        DDX_CU_TRY(cu, cu->MemcpyHtoD(s->d_prm, s->prm.data, bytes), "cuMemcpyHtoD(weights)");
    }
    for (int i = 0; i < MAX_STREAMS; i++) {
        DDX_CU_TRY(cu, cu->StreamCreate(&s->sb[i].stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        s->nstreams = i + 1;
    }
    pop_ctx(s);
    *state = s;
    return DDX_OK;
fail:
    free(src);
    pop_ctx(s);
    cuda_release(s);
    return st;
}

/* ---- run --------------------------------------------------------------------------------------- */

/* Copies finished chunk results of stream buffer b to the caller. */
static ddx_status drain(cuda_state *s, stream_buf *b, void *out, char *err, size_t cap) {
    ddx_status st = DDX_OK;
    if (!b->has_work) return DDX_OK;
    DDX_CU_TRY(s->cu, s->cu->StreamSynchronize(b->stream), "cuStreamSynchronize (kernels of a chunk)");
    memcpy((char *)out + (size_t)b->row0 * (size_t)s->K * s->rsz, b->hout, (size_t)b->np * (size_t)s->K * s->rsz);
    b->has_work = 0;
    return DDX_OK;
fail:
    b->has_work = 0;
    return st;
}

/* Allocates the stream buffers for chunks of at most n points (two
 * buffers when max_bufs > 1 and the batch takes several chunks), halving
 * the chunk while the device is out of memory, down to floor points; the
 * lowered chunk is kept for the program's later calls. */
static ddx_status alloc_chunks(cuda_state *s, int64_t n, int max_bufs, int with_host, int with_ws, int64_t floor,
                               int64_t *chunk, int *nbuf, char *err, size_t cap) {
    for (;;) {
        *nbuf = max_bufs > 1 && n > chunk_points(s, n, 1) ? 2 : 1;
        *chunk = chunk_points(s, n, *nbuf);
        ddx_status st = DDX_OK;
        for (int i = 0; i < *nbuf && st == DDX_OK; i++) st = ensure_buffer(s, i, *chunk, with_host, with_ws, err, cap);
        if (st != DDX_ERR_OUT_OF_MEMORY) return st;
        if (*chunk <= floor) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", err);
            snprintf(err, cap, "device out of memory even at a chunk of %lld points: %s", (long long)*chunk, tmp);
            return st;
        }
        free_buffers(s);
        s->chunk_limit = *chunk / 2 < floor ? floor : *chunk / 2;
    }
}

static ddx_status run_host(cuda_state *s, const jet_program *p, const void *points, int64_t n, void *out, char *err,
                           size_t cap) {
    const ddx_cu_api *cu = s->cu;
    const int wide = s->strategy == DDX_STRATEGY_CUBLAS;
    int64_t chunk;
    int nbuf;
    ddx_status st = alloc_chunks(s, n, MAX_STREAMS, 1, wide, wide ? 128 : s->fp.P, &chunk, &nbuf, err, cap);
    if (st) return st;
    const size_t in_row = (size_t)s->d * s->rsz, out_row = (size_t)s->K * s->rsz;
    int64_t i = 0;
    for (int64_t row0 = 0; row0 < n; row0 += chunk, i++) {
        stream_buf *b = &s->sb[i % nbuf];
        const int64_t np = n - row0 < chunk ? n - row0 : chunk;
        /* the buffer's previous chunk must be done before its reuse */
        if ((st = drain(s, b, out, err, cap)) != DDX_OK) goto fail;
        memcpy(b->hpts, (const char *)points + (size_t)row0 * in_row, (size_t)np * in_row);
        DDX_CU_TRY(cu, cu->MemcpyHtoDAsync(b->pts, b->hpts, (size_t)np * in_row, b->stream), "cuMemcpyHtoDAsync(points)");
        if ((st = launch_chunk(s, p, b->stream, b->pts, b->out, np, b->ws, b->cap, err, cap)) != DDX_OK) goto fail;
        DDX_CU_TRY(cu, cu->MemcpyDtoHAsync(b->hout, b->out, (size_t)np * out_row, b->stream),
                   "cuMemcpyDtoHAsync(outputs)");
        b->has_work = 1;
        b->row0 = row0;
        b->np = np;
    }
    for (int k = 0; k < nbuf; k++)
        if ((st = drain(s, &s->sb[(i + k) % nbuf], out, err, cap)) != DDX_OK) goto fail;
    return DDX_OK;
fail:
    for (int k = 0; k < nbuf; k++) {
        cu->StreamSynchronize(s->sb[k].stream);
        s->sb[k].has_work = 0;
    }
    return st;
}

static ddx_status cuda_run_multi(cuda_state *s, const jet_program *p, const void *points, int64_t n, void *out,
                                 char *err, size_t cap);

static ddx_status cuda_run(void *state, const jet_program *p, const void *points, int64_t n, void *out, char *err,
                           size_t cap) {
    cuda_state *s = state;
    if (s->n_peers) return cuda_run_multi(s, p, points, n, out, err, cap);
    pthread_mutex_lock(&s->lock);
    ddx_status st = push_ctx(s, err, cap);
    if (st == DDX_OK) {
        st = run_host(s, p, points, n, out, err, cap);
        pop_ctx(s);
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

static ddx_status check_device_ptr(cuda_state *s, const void *ptr, const char *name, char *err, size_t cap) {
    unsigned int mt = 0;
    CUresult r = s->cu->PointerGetAttribute(&mt, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)ptr);
    if (r != CUDA_SUCCESS) {
        snprintf(err, cap, "%s is not memory CUDA knows (cuPointerGetAttribute: %d)", name, (int)r);
        return DDX_ERR_INVALID_ARG;
    }
    return DDX_OK;
}

static ddx_status cuda_run_device(void *state, const jet_program *p, const void *d_points, int64_t n, void *d_out,
                                  char *err, size_t cap) {
    cuda_state *s = state;
    const ddx_cu_api *cu = s->cu;
    pthread_mutex_lock(&s->lock);
    ddx_status st = push_ctx(s, err, cap);
    if (st) {
        pthread_mutex_unlock(&s->lock);
        return st;
    }
    if ((st = check_device_ptr(s, d_points, "d_points", err, cap)) != DDX_OK ||
        (st = check_device_ptr(s, d_out, "d_out", err, cap)) != DDX_OK)
        goto done;
    stream_buf *b = &s->sb[0];
    const CUdeviceptr pts = (CUdeviceptr)(uintptr_t)d_points, outp = (CUdeviceptr)(uintptr_t)d_out;
    if (s->strategy == DDX_STRATEGY_FUSED) {
        st = launch_chunk(s, p, b->stream, pts, outp, n, 0, 0, err, cap);
    } else {
        int64_t chunk;
        int nbuf;
        st = alloc_chunks(s, n, 1, 0, 1, 128, &chunk, &nbuf, err, cap); /* a workspace only */
        if (st) goto done;
        for (int64_t row0 = 0; row0 < n && st == DDX_OK; row0 += chunk) {
            const int64_t np = n - row0 < chunk ? n - row0 : chunk;
            st = launch_chunk(s, p, b->stream, pts + (CUdeviceptr)((size_t)row0 * (size_t)s->d * s->rsz),
                              outp + (CUdeviceptr)((size_t)row0 * (size_t)s->K * s->rsz), np, b->ws, b->cap, err,
                              cap);
        }
    }
    {
        CUresult r = cu->StreamSynchronize(b->stream);
        if (st == DDX_OK && r != CUDA_SUCCESS) st = ddx_cu_error(cu, r, "cuStreamSynchronize (device-pointer run)", err, cap);
    }
done:
    pop_ctx(s);
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* ---- describe / offline report ------------------------------------------------------------------ */

/* The lines describe() and the offline report share. */
static void describe_plan(ddx_sb *sb, int strategy, const char *why, const cuda_fused_plan *fp,
                          const cuda_wide_plan *wp, const ddx_kernel_binary *bin) {
    ddx_sbf(sb, "strategy: %s\n", why);
    if (strategy == DDX_STRATEGY_FUSED) {
        ddx_sbf(sb,
                  "fused kernel: %d threads per block, %d points per block, %zu bytes of shared memory per block "
                  "(%lld jet rows), %d dense layers (%d with the activation as GEMM epilogue, %d in place)\n",
                  fp->NT, fp->P, fp->smem_bytes, (long long)fp->ws_rows, fp->n_layers, fp->n_fused, fp->n_inplace);
    } else {
        ddx_sbf(sb,
                  "wide path: %d cuBLAS GEMM layers, %d segment kernels of %d threads per block (one point each), "
                  "%lld jet rows per point in device memory\n",
                  wp->n_gemms, wp->n_segs, CUDA_WIDE_THREADS, (long long)wp->ws_rows);
    }
    ddx_sbf(sb, "registers %d, spill stores %d bytes, spill loads %d bytes, stack %d bytes (%d kernel%s)\n",
              bin->regs, bin->spill_stores, bin->spill_loads, bin->stack_bytes, bin->n_kernels,
              bin->n_kernels == 1 ? "" : "s");
}

static const char *cache_word(int c) { return c == 0 ? "compiled" : c == 1 ? "memory cache" : "disk cache"; }

static void describe_multi(cuda_state *s, ddx_sb *sb);

static size_t cuda_describe(void *state, char *buf, size_t cap) {
    cuda_state *s = state;
    ddx_sb b = ddx_sb_fixed(buf, cap), *sb = &b;
    if (s->dv.ordinal)
        ddx_sbf(sb, "device cuda:%d: %s (compute capability %d.%d, %d SMs), kernel built for %s\n", s->dv.ordinal,
                s->dv.name, s->dv.cc_major, s->dv.cc_minor, s->dv.sm_count, s->arch);
    else
        ddx_sbf(sb, "device cuda: %s (compute capability %d.%d, %d SMs), kernel built for %s\n", s->dv.name,
                s->dv.cc_major, s->dv.cc_minor, s->dv.sm_count, s->arch);
    describe_plan(sb, s->strategy, s->why, &s->fp, &s->wp, &s->bin);
    char ver[32];
    ddx_nvrtc_version_string(ver, sizeof ver);
    ddx_sbf(sb, "NVRTC %s: %s (%.0f ms), generated source %zu bytes\n", ver, cache_word(s->bin.cache),
              s->bin.compile_ms, s->src_bytes);
    if (s->n_peers) describe_multi(s, sb);
    return b.n;
}

static ddx_status cuda_offline_report(const jet_program *p, const ddx_compile_options *opt, const char *arch,
                                      char *buf, size_t cap, char *err, size_t errcap) {
    cuda_fused_plan fp = {0};
    cuda_wide_plan wp = {0};
    cuda_params prm = {0};
    ddx_kernel_binary bin = {0};
    char why[320] = "";
    int strategy = 0;
    char *src = NULL;
    ddx_status st = choose_strategy(p, opt, cuda_arch_smem_limit(arch), &fp, &wp, &strategy, why, sizeof why, err,
                                    errcap);
    if (st == DDX_OK) st = cuda_params_pack(p, opt->precision, strategy == DDX_STRATEGY_FUSED, &prm, err, errcap);
    if (st == DDX_OK) {
        src = emit_source(p, strategy, &fp, &wp, &prm);
        if (!src) {
            st = DDX_ERR_OUT_OF_MEMORY;
            snprintf(err, errcap, "out of memory emitting the kernel source");
        }
    }
    if (st == DDX_OK) st = ddx_nvrtc_build(src, arch, &bin, err, errcap);
    if (st == DDX_OK) {
        char ver[32];
        ddx_sb b = ddx_sb_fixed(buf, cap), *sb = &b;
        ddx_nvrtc_version_string(ver, sizeof ver);
        ddx_sbf(sb, "cuda offline report for %s (NVRTC %s), precision %s\n", arch, ver,
                  opt->precision == DDX_F64 ? "f64" : "f32");
        describe_plan(sb, strategy, why, &fp, &wp, &bin);
        ddx_sbf(sb, "generated source %zu bytes, %s %zu bytes, NVRTC %s (%.0f ms)\n", strlen(src),
                  bin.is_ptx ? "PTX" : "CUBIN", bin.size, cache_word(bin.cache), bin.compile_ms);
    }
    free(src);
    ddx_kernel_binary_free(&bin);
    cuda_params_free(&prm);
    cuda_fused_plan_free(&fp);
    cuda_wide_plan_free(&wp);
    return st;
}

/* ---- several devices ------------------------------------------------------------------------------ */
/* A batch in host memory is split over the listed devices: each has its own
 * state (context, streams, buffers, the module loaded from the one NVRTC
 * build: the peers' builds hit the in-memory kernel cache), and one host
 * thread per device takes grains of rows from a shared atomic counter and
 * runs them through that device's streamed chunk runner (run_host), which
 * writes the results straight into their rows of out. A slower card simply
 * takes fewer grains. The first failure stops the hand-out; every thread is
 * joined before the call returns, and then the whole output is set to NaN so
 * that no partial result can pass for a complete one. */

#define MIN_GRAIN 4096 /* rows: below this a launch's fixed cost dominates */

static ddx_status open_device(const ddx_cu_api *cu, int ordinal, cuda_dev *dv, char *err, size_t cap) {
    ddx_status st = DDX_OK;
    memset(dv, 0, sizeof *dv);
    dv->ordinal = ordinal;
    if (ordinal == 0) { /* the process-wide primary context ddx_cu retained */
        dv->dev = cu->dev;
        dv->ctx = cu->ctx;
        dv->cc_major = cu->cc_major;
        dv->cc_minor = cu->cc_minor;
        dv->sm_count = cu->sm_count;
        dv->smem_optin = cu->smem_optin;
        snprintf(dv->name, sizeof dv->name, "%s", cu->name);
        return DDX_OK;
    }
    char what[64];
    snprintf(what, sizeof what, "cuDeviceGet(%d)", ordinal);
    DDX_CU_TRY(cu, cu->DeviceGet(&dv->dev, ordinal), what);
    snprintf(what, sizeof what, "cuDevicePrimaryCtxRetain(device %d)", ordinal);
    DDX_CU_TRY(cu, cu->DevicePrimaryCtxRetain(&dv->ctx, dv->dev), what);
    dv->retained = 1;
    cu->DeviceGetName(dv->name, (int)sizeof dv->name, dv->dev);
    cu->DeviceGetAttribute(&dv->cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dv->dev);
    cu->DeviceGetAttribute(&dv->cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dv->dev);
    cu->DeviceGetAttribute(&dv->sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dv->dev);
    cu->DeviceGetAttribute(&dv->smem_optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, dv->dev);
    if (dv->smem_optin <= 0) dv->smem_optin = 48 * 1024;
    return DDX_OK;
fail:
    return st;
}

int ddx_cuda_device_count(void) {
    const ddx_cu_api *cu = ddx_cu(NULL, 0);
    int n = 0;
    if (!cu || cu->DeviceGetCount(&n) != CUDA_SUCCESS || n < 0) return 0;
    return n;
}

/* The ordinals opt asks for: none -> {0}; DDX_CUDA_ALL_DEVICES -> all. */
static ddx_status device_list(const ddx_cu_api *cu, const ddx_compile_options *opt, int *list, int *n, char *err,
                              size_t cap) {
    int count = 0;
    if (cu->DeviceGetCount(&count) != CUDA_SUCCESS || count < 1) count = 1;
    if (opt->n_cuda_devices == 0) {
        list[0] = 0;
        *n = 1;
        return DDX_OK;
    }
    if (opt->n_cuda_devices == DDX_CUDA_ALL_DEVICES) {
        *n = count < DDX_MAX_CUDA_DEVICES ? count : DDX_MAX_CUDA_DEVICES;
        for (int i = 0; i < *n; i++) list[i] = i;
        return DDX_OK;
    }
    if (opt->n_cuda_devices < 0 || opt->n_cuda_devices > DDX_MAX_CUDA_DEVICES) {
        snprintf(err, cap, "device list: %d entries (1..%d, or DDX_CUDA_ALL_DEVICES)", opt->n_cuda_devices,
                 DDX_MAX_CUDA_DEVICES);
        return DDX_ERR_INVALID_ARG;
    }
    for (int i = 0; i < opt->n_cuda_devices; i++) {
        int d = opt->cuda_devices[i];
        if (d < 0 || d >= count) {
            snprintf(err, cap, "device cuda:%d does not exist (this machine has %d CUDA device%s: 0..%d)", d, count,
                     count == 1 ? "" : "s", count - 1);
            return DDX_ERR_INVALID_ARG; /* a wrong request, not a machine without CUDA */
        }
        for (int j = 0; j < i; j++)
            if (list[j] == d) {
                snprintf(err, cap, "device cuda:%d is listed twice", d);
                return DDX_ERR_INVALID_ARG;
            }
        list[i] = d;
    }
    *n = opt->n_cuda_devices;
    return DDX_OK;
}

static ddx_status cuda_prepare(const jet_program *p, const ddx_compile_options *opt, void **state, char *err,
                               size_t cap) {
    char why[256];
    const ddx_cu_api *cu = ddx_cu(why, sizeof why);
    *state = NULL;
    if (!cu) {
        snprintf(err, cap, "device cuda: %s", why);
        return DDX_ERR_NO_DEVICE;
    }
    int list[DDX_MAX_CUDA_DEVICES], n = 0;
    ddx_status st = device_list(cu, opt, list, &n, err, cap);
    if (st) return st;
    st = prepare_one(p, opt, list[0], state, err, cap);
    if (st || n == 1) return st;
    cuda_state *s = *state;
    s->peers = calloc((size_t)n - 1, sizeof *s->peers);
    if (!s->peers) {
        snprintf(err, cap, "out of memory");
        st = DDX_ERR_OUT_OF_MEMORY;
    }
    for (int i = 1; i < n && st == DDX_OK; i++) {
        void *ps = NULL;
        char e[400];
        st = prepare_one(p, opt, list[i], &ps, e, sizeof e);
        if (st) {
            snprintf(err, cap, "device cuda:%d: %s", list[i], e);
            break;
        }
        s->peers[s->n_peers++] = ps;
    }
    if (st) {
        cuda_release(s);
        *state = NULL;
    }
    return st;
}

typedef struct multi_job {
    cuda_state *s;
    const jet_program *p;
    const char *pts;
    char *out;
    int64_t n, grain;
    int64_t *next;    /* shared: the next grain to hand out */
    int *failures;    /* shared: devices failed so far (stops the hand-out) */
    int fail_order;   /* 1 for the first device to fail, ... */
    ddx_status st;
    char err[400];
} multi_job;

static void *multi_worker(void *arg) {
    multi_job *j = arg;
    cuda_state *s = j->s;
    const size_t in_row = (size_t)s->d * s->rsz, out_row = (size_t)s->K * s->rsz;
    pthread_mutex_lock(&s->lock);
    ddx_status st = push_ctx(s, j->err, sizeof j->err);
    if (st == DDX_OK) {
        while (!__atomic_load_n(j->failures, __ATOMIC_ACQUIRE)) {
            const int64_t row0 = __atomic_fetch_add(j->next, 1, __ATOMIC_ACQ_REL) * j->grain;
            if (row0 >= j->n) break;
            const int64_t np = j->n - row0 < j->grain ? j->n - row0 : j->grain;
            st = run_host(s, j->p, j->pts + (size_t)row0 * in_row, np, j->out + (size_t)row0 * out_row, j->err,
                          sizeof j->err);
            if (st) break;
        }
        pop_ctx(s);
    }
    if (st) j->fail_order = __atomic_add_fetch(j->failures, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&s->lock);
    j->st = st;
    return NULL;
}

static ddx_status cuda_run_multi(cuda_state *s, const jet_program *p, const void *points, int64_t n, void *out,
                                 char *err, size_t cap) {
    const int ndev = 1 + s->n_peers;
    multi_job jobs[DDX_MAX_CUDA_DEVICES];
    pthread_t th[DDX_MAX_CUDA_DEVICES];
    int started[DDX_MAX_CUDA_DEVICES] = {0};
    int64_t next = 0;
    int failures = 0;
    /* grains: about 8 per device for balance, at most 4 chunks (the
     * two-stream pipeline is in its steady state by then), at least MIN_GRAIN */
    int64_t chunk = DEFAULT_CHUNK;
    pthread_mutex_lock(&s->lock);
    if (push_ctx(s, err, cap) == DDX_OK) {
        chunk = chunk_points(s, (int64_t)1 << 40, 2);
        pop_ctx(s);
    }
    pthread_mutex_unlock(&s->lock);
    int64_t grain = (n + 8 * ndev - 1) / (8 * ndev);
    if (grain < MIN_GRAIN) grain = MIN_GRAIN;
    if (grain > 4 * chunk) grain = 4 * chunk;
    grain = (grain + 127) / 128 * 128;
    for (int i = 0; i < ndev; i++) {
        jobs[i] = (multi_job){.s = i ? s->peers[i - 1] : s, .p = p, .pts = points, .out = out, .n = n,
                              .grain = grain, .next = &next, .failures = &failures};
    }
    for (int i = 1; i < ndev; i++) started[i] = pthread_create(&th[i], NULL, multi_worker, &jobs[i]) == 0;
    multi_worker(&jobs[0]);
    for (int i = 1; i < ndev; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            multi_worker(&jobs[i]); /* no thread: takes what is left, here */
    }
    int first = -1;
    for (int i = 0; i < ndev; i++)
        if (jobs[i].st && (first < 0 || jobs[i].fail_order < jobs[first].fail_order)) first = i;
    if (first < 0) return DDX_OK;
    const multi_job *f = &jobs[first];
    if (failures > 1)
        snprintf(err, cap, "device cuda:%d (%s): %s (%d other device%s failed too)", f->s->dv.ordinal, f->s->dv.name,
                 f->err, failures - 1, failures > 2 ? "s" : "");
    else
        snprintf(err, cap, "device cuda:%d (%s): %s", f->s->dv.ordinal, f->s->dv.name, f->err);
    memset(out, 0xff, (size_t)n * (size_t)s->K * s->rsz); /* all NaN: nothing half-written looks complete */
    return f->st;
}

static void describe_multi(cuda_state *s, ddx_sb *sb) {
    ddx_sbf(sb, "batches split over %d devices (cuda:%d", 1 + s->n_peers, s->dv.ordinal);
    for (int i = 0; i < s->n_peers; i++) ddx_sbf(sb, ",%d", s->peers[i]->dv.ordinal);
    ddx_sbf(sb, "), one host thread each taking grains of rows from a shared counter\n");
    for (int i = 0; i < s->n_peers; i++) {
        const cuda_state *q = s->peers[i];
        ddx_sbf(sb, "device cuda:%d: %s (compute capability %d.%d, %d SMs), kernel %s for %s: %s\n", q->dv.ordinal,
                q->dv.name, q->dv.cc_major, q->dv.cc_minor, q->dv.sm_count,
                q->strategy == DDX_STRATEGY_FUSED ? "fused" : "cublas", q->arch, cache_word(q->bin.cache));
    }
}

static const ddx_backend_i g_cuda_backend = {"cuda",         NEEDS_CONST_JET, cuda_available,  cuda_prepare,
                                             cuda_run,       cuda_release,    cuda_describe,   cuda_run_device,
                                             cuda_offline_report};

const ddx_backend_i *ddx_backend_cuda(void) { return &g_cuda_backend; }
