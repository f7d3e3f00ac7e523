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

typedef struct cuda_state {
    const ddx_cu_api *cu;
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
    pthread_mutex_t lock;
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
        st = cuda_fused_plan_build(p, opt->precision, smem_limit, fp, reason, sizeof reason);
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

static void free_buffers(cuda_state *s) {
    const ddx_cu_api *cu = s->cu;
    for (int i = 0; i < MAX_STREAMS; i++) {
        stream_buf *b = &s->sb[i];
        if (b->pts) cu->MemFree(b->pts);
        if (b->out) cu->MemFree(b->out);
        if (b->ws) cu->MemFree(b->ws);
        if (b->hpts) cu->MemFreeHost(b->hpts);
        if (b->hout) cu->MemFreeHost(b->hout);
        b->pts = b->out = b->ws = 0;
        b->hpts = b->hout = NULL;
        b->cap = 0;
        b->has_work = 0;
    }
}

/* Test hook: DDX_CUDA_OOM_ABOVE=bytes makes larger device allocations
 * fail as out of memory, to exercise the chunk halving without a full GPU. */
static CUresult dev_alloc(const ddx_cu_api *cu, CUdeviceptr *p, size_t bytes) {
    const char *lim = getenv("DDX_CUDA_OOM_ABOVE");
    if (lim && *lim && bytes > (size_t)strtoull(lim, NULL, 10)) return CUDA_ERROR_OUT_OF_MEMORY;
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
    /* grow: drop the old buffers of this stream */
    if (b->pts) cu->MemFree(b->pts);
    if (b->out) cu->MemFree(b->out);
    if (b->ws) cu->MemFree(b->ws);
    if (b->hpts) cu->MemFreeHost(b->hpts);
    if (b->hout) cu->MemFreeHost(b->hout);
    b->pts = b->out = b->ws = 0;
    b->hpts = b->hout = NULL;
    b->cap = 0;
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
    if (b->pts) cu->MemFree(b->pts);
    if (b->out) cu->MemFree(b->out);
    if (b->ws) cu->MemFree(b->ws);
    if (b->hpts) cu->MemFreeHost(b->hpts);
    if (b->hout) cu->MemFreeHost(b->hout);
    b->pts = b->out = b->ws = 0;
    b->hpts = b->hout = NULL;
    b->cap = 0;
    return st;
}

/* Points per chunk: the caller's cap (DDX_CUDA_CHUNK), the OOM-lowered
 * limit, and for the wide path what a share of free memory holds. */
static int64_t chunk_points(cuda_state *s, int64_t n, int nstreams) {
    int64_t c = DEFAULT_CHUNK;
    const char *env = getenv("DDX_CUDA_CHUNK");
    if (env && *env && atoll(env) > 0) c = atoll(env);
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
    CUresult r = s->cu->CtxPushCurrent(s->cu->ctx);
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
        int pushed = s->cu->CtxPushCurrent(s->cu->ctx) == CUDA_SUCCESS;
        for (int i = 0; i < s->nstreams; i++)
            if (s->sb[i].stream) s->cu->StreamSynchronize(s->sb[i].stream);
        free_buffers(s);
        for (int i = 0; i < s->nstreams; i++)
            if (s->sb[i].stream) s->cu->StreamDestroy(s->sb[i].stream);
        if (s->blas_h) s->blas->Destroy(s->blas_h);
        if (s->d_prm) s->cu->MemFree(s->d_prm);
        if (s->mod) s->cu->ModuleUnload(s->mod);
        if (pushed) pop_ctx(s);
    }
    cuda_params_free(&s->prm);
    cuda_fused_plan_free(&s->fp);
    cuda_wide_plan_free(&s->wp);
    ddx_kernel_binary_free(&s->bin);
    free(s->seg_fn);
    free(s->gemms);
    pthread_mutex_destroy(&s->lock);
    free(s);
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
    cuda_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    pthread_mutex_init(&s->lock, NULL);
    s->cu = cu;
    s->prec = opt->precision;
    s->rsz = opt->precision == DDX_F64 ? sizeof(double) : sizeof(float);
    s->d = p->d;
    s->K = p->n_outputs;
    s->max_nch = max_channels(p);
    ddx_status st = push_ctx(s, err, cap);
    if (st) {
        s->cu = NULL;
        cuda_release(s);
        return st;
    }
    char *src = NULL;
    ddx_nvrtc_arch_for(cu->cc_major, cu->cc_minor, s->arch, sizeof s->arch);
    st = choose_strategy(p, opt, (size_t)cu->smem_optin, &s->fp, &s->wp, &s->strategy, s->why, sizeof s->why, err,
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

static ddx_status run_host(cuda_state *s, const jet_program *p, const void *points, int64_t n, void *out, char *err,
                           size_t cap) {
    const ddx_cu_api *cu = s->cu;
    ddx_status st = DDX_OK;
    const int wide = s->strategy == DDX_STRATEGY_CUBLAS;
    int64_t chunk;
    int nbuf;
    /* allocate, halving the chunk while the device is out of memory */
    for (;;) {
        nbuf = n > chunk_points(s, n, 1) ? 2 : 1;
        chunk = chunk_points(s, n, nbuf);
        st = DDX_OK;
        for (int i = 0; i < nbuf && st == DDX_OK; i++) st = ensure_buffer(s, i, chunk, 1, wide, err, cap);
        if (st != DDX_ERR_OUT_OF_MEMORY) break;
        const int64_t floor = wide ? 128 : s->fp.P;
        if (chunk <= floor) {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", err);
            snprintf(err, cap, "device out of memory even at a chunk of %lld points: %s", (long long)chunk, tmp);
            return st;
        }
        free_buffers(s);
        s->chunk_limit = chunk / 2;
        if (s->chunk_limit < floor) s->chunk_limit = floor;
    }
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

static ddx_status cuda_run(void *state, const jet_program *p, const void *points, int64_t n, void *out, char *err,
                           size_t cap) {
    cuda_state *s = state;
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
        for (;;) { /* a workspace only, halving on out of memory */
            chunk = chunk_points(s, n, 1);
            st = ensure_buffer(s, 0, chunk, 0, 1, err, cap);
            if (st != DDX_ERR_OUT_OF_MEMORY) break;
            if (chunk <= 128) {
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s", err);
                snprintf(err, cap, "device out of memory even at a chunk of %lld points: %s", (long long)chunk, tmp);
                goto done;
            }
            free_buffers(s);
            s->chunk_limit = chunk / 2 < 128 ? 128 : chunk / 2;
        }
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

static size_t put(char *buf, size_t cap, size_t len, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (w < 0) return len;
    if (len < cap) snprintf(buf + len, cap - len, "%s", tmp);
    return len + (size_t)w;
}

/* The lines describe() and the offline report share. */
static size_t describe_plan(char *buf, size_t cap, size_t len, int strategy, const char *why,
                            const cuda_fused_plan *fp, const cuda_wide_plan *wp, const ddx_kernel_binary *bin) {
    len = put(buf, cap, len, "strategy: %s\n", why);
    if (strategy == DDX_STRATEGY_FUSED) {
        len = put(buf, cap, len,
                  "fused kernel: %d threads per block, %d points per block, %zu bytes of shared memory per block "
                  "(%lld jet rows), %d dense layers (%d with the activation as GEMM epilogue, %d in place)\n",
                  fp->NT, fp->P, fp->smem_bytes, (long long)fp->ws_rows, fp->n_layers, fp->n_fused, fp->n_inplace);
    } else {
        len = put(buf, cap, len,
                  "wide path: %d cuBLAS GEMM layers, %d segment kernels of %d threads per block (one point each), "
                  "%lld jet rows per point in device memory\n",
                  wp->n_gemms, wp->n_segs, CUDA_WIDE_THREADS, (long long)wp->ws_rows);
    }
    len = put(buf, cap, len, "registers %d, spill stores %d bytes, spill loads %d bytes, stack %d bytes (%d kernel%s)\n",
              bin->regs, bin->spill_stores, bin->spill_loads, bin->stack_bytes, bin->n_kernels,
              bin->n_kernels == 1 ? "" : "s");
    return len;
}

static const char *cache_word(int c) { return c == 0 ? "compiled" : c == 1 ? "memory cache" : "disk cache"; }

static size_t cuda_describe(void *state, char *buf, size_t cap) {
    cuda_state *s = state;
    size_t len = 0;
    if (buf && cap) buf[0] = 0;
    len = put(buf, cap, len, "device cuda: %s (compute capability %d.%d, %d SMs), kernel built for %s\n", s->cu->name,
              s->cu->cc_major, s->cu->cc_minor, s->cu->sm_count, s->arch);
    len = describe_plan(buf, cap, len, s->strategy, s->why, &s->fp, &s->wp, &s->bin);
    char ver[32];
    ddx_nvrtc_version_string(ver, sizeof ver);
    len = put(buf, cap, len, "NVRTC %s: %s (%.0f ms), generated source %zu bytes\n", ver, cache_word(s->bin.cache),
              s->bin.compile_ms, s->src_bytes);
    return len;
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
        size_t len = 0;
        ddx_nvrtc_version_string(ver, sizeof ver);
        buf[0] = 0;
        len = put(buf, cap, len, "cuda offline report for %s (NVRTC %s), precision %s\n", arch, ver,
                  opt->precision == DDX_F64 ? "f64" : "f32");
        len = describe_plan(buf, cap, len, strategy, why, &fp, &wp, &bin);
        len = put(buf, cap, len, "generated source %zu bytes, %s %zu bytes, NVRTC %s (%.0f ms)\n", strlen(src),
                  bin.is_ptx ? "PTX" : "CUBIN", bin.size, cache_word(bin.cache), bin.compile_ms);
    }
    free(src);
    ddx_kernel_binary_free(&bin);
    cuda_params_free(&prm);
    cuda_fused_plan_free(&fp);
    cuda_wide_plan_free(&wp);
    return st;
}

static const ddx_backend_i g_cuda_backend = {"cuda",       cuda_available, cuda_prepare,    cuda_run,
                                             cuda_release, cuda_describe,  cuda_run_device, cuda_offline_report};

const ddx_backend_i *ddx_backend_cuda(void) { return &g_cuda_backend; }
