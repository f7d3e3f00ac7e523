/* cuda_mock_driver.c — a stand-in libcuda.so.1 + libcublas for
 * test_cuda_mock.c: "device" memory is host memory, streams run at once,
 * and every copy, launch and GEMM is checked against the allocations it
 * may touch. It runs no real kernel: ddx_fused and the wide path's last
 * segment write out[i*K + k] = pts[i*D] + k for their np points, so the
 * test sees whether each chunk went to the right place; other segments
 * and GEMMs only check their pointers. Geometry comes from the environment
 * (DDX_MOCK_D, DDX_MOCK_K, DDX_MOCK_RSZ, DDX_MOCK_WSROWS, DDX_MOCK_LASTSEG,
 * DDX_MOCK_FREE_MB).
 * A violation prints "mock: ..." and fails the call, so the backend
 * reports it. Async copies must come from or go to pinned memory.
 *
 * Several devices (the multi-device split): DDX_MOCK_DEVICES=n devices, each
 * with its own context; device memory and streams belong to the device
 * whose context was current when they were made, and a copy or launch that
 * touches another device's memory or stream is a violation. The calling
 * thread's current context is a per-thread stack, as in the real driver.
 * Knobs: DDX_MOCK_DEVICE_US="u0,u1,..." microseconds each launch of device
 * i takes (speeds); DDX_MOCK_FAIL="dev:k": device dev's k-th kernel launch
 * fails (CUDA_ERROR_LAUNCH_FAILED); DDX_MOCK_HOLD="dev:pts": device dev's
 * first launch waits until the other devices have launched pts points, and
 * theirs wait until it is in that launch (a static split never gets there:
 * after 20 s that is a violation). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda.h>

typedef struct alloc {
    uintptr_t p;
    size_t n;
    int pinned;
    int dev; /* device whose context was current (pinned memory: any) */
} alloc;

#define MAX_DEV 16
#define CTX_BASE 0x1234 /* device d's context is CTX_BASE + 0x100 d */
static alloc g_allocs[4096];
static int g_nallocs;
static long g_violations;
static size_t g_device_bytes;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER; /* the allocation and stream tables */
static long long g_dev_points[MAX_DEV], g_dev_launches[MAX_DEV];
static int g_hold_entered; /* DDX_MOCK_HOLD: the held device is in its first launch */

/* this thread's current contexts (device ordinals), innermost last */
static __thread int t_ctx[64];
static __thread int t_depth;
static int cur_dev(void) { return t_depth ? t_ctx[t_depth - 1] : 0; }
static CUresult check_stream(CUstream s, const char *what);
static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static int env_int(const char *name, int def) {
    const char *s = getenv(name);
    return s && *s ? atoi(s) : def;
}

static void add_alloc(void *p, size_t n, int pinned) {
    pthread_mutex_lock(&g_lock);
    if (g_nallocs < 4096) g_allocs[g_nallocs++] = (alloc){(uintptr_t)p, n, pinned, cur_dev()};
    pthread_mutex_unlock(&g_lock);
}

static int del_alloc(uintptr_t p) {
    int rc = -1;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nallocs; i++)
        if (g_allocs[i].p == p) {
            g_allocs[i] = g_allocs[--g_nallocs];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

/* 1 when [p, p+n) lies inside one allocation (pinned: a pinned one; device
 * memory: one of the current device). */
static int inside(uintptr_t p, size_t n, int want_pinned) {
    int ok = 0, dev = cur_dev();
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nallocs && !ok; i++)
        if (p >= g_allocs[i].p && p + n <= g_allocs[i].p + g_allocs[i].n && (!want_pinned || g_allocs[i].pinned) &&
            (g_allocs[i].pinned || g_allocs[i].dev == dev))
            ok = 1;
    pthread_mutex_unlock(&g_lock);
    return ok;
}

static CUresult violation(const char *what, uintptr_t p, size_t n) {
    __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "mock: %s: [%#lx, +%zu) is outside every allocation of device %d\n", what, (unsigned long)p, n,
            cur_dev());
    return CUDA_ERROR_ILLEGAL_ADDRESS;
}

long ddx_mock_violations(void) { return __atomic_load_n(&g_violations, __ATOMIC_RELAXED); }
long long ddx_mock_device_points(int dev) { return dev >= 0 && dev < MAX_DEV ? g_dev_points[dev] : -1; }
void ddx_mock_reset_counters(void) {
    memset(g_dev_points, 0, sizeof g_dev_points);
    memset(g_dev_launches, 0, sizeof g_dev_launches);
    g_hold_entered = 0;
}
/* after a test that provokes one on purpose (a bad cached image) */
void ddx_mock_reset_violations(void) { __atomic_store_n(&g_violations, 0, __ATOMIC_RELAXED); }

CUresult cuGetErrorName(CUresult r, const char **s) {
    *s = r == CUDA_SUCCESS                ? "CUDA_SUCCESS"
         : r == CUDA_ERROR_OUT_OF_MEMORY  ? "CUDA_ERROR_OUT_OF_MEMORY"
         : r == CUDA_ERROR_LAUNCH_FAILED  ? "CUDA_ERROR_LAUNCH_FAILED"
                                          : "CUDA_ERROR_MOCK";
    return CUDA_SUCCESS;
}
CUresult cuGetErrorString(CUresult r, const char **s) {
    *s = r == CUDA_ERROR_OUT_OF_MEMORY ? "out of memory" : "mock error";
    return CUDA_SUCCESS;
}
CUresult cuInit(unsigned f) {
    (void)f;
    return CUDA_SUCCESS;
}
CUresult cuDriverGetVersion(int *v) {
    *v = 13000;
    return CUDA_SUCCESS;
}
static int n_devices(void) {
    int n = env_int("DDX_MOCK_DEVICES", 1);
    return n < 1 ? 1 : n > MAX_DEV ? MAX_DEV : n;
}
CUresult cuDeviceGetCount(int *n) {
    *n = n_devices();
    return CUDA_SUCCESS;
}
CUresult cuDeviceGet(CUdevice *d, int i) {
    if (i < 0 || i >= n_devices()) return CUDA_ERROR_INVALID_DEVICE;
    *d = i;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *s, int n, CUdevice d) {
    if (d)
        snprintf(s, (size_t)n, "ddx mock device %d", (int)d);
    else
        snprintf(s, (size_t)n, "ddx mock device");
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
    (void)d;
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = 232448; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: *v = 233472; break;
    default: *v = 0;
    }
    return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem(size_t *b, CUdevice d) {
    (void)d;
    *b = (size_t)1 << 32;
    return CUDA_SUCCESS;
}
static int g_retained[MAX_DEV];
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
    if (d < 0 || d >= n_devices()) return CUDA_ERROR_INVALID_DEVICE;
    __atomic_add_fetch(&g_retained[d], 1, __ATOMIC_RELAXED);
    *c = (CUcontext)(uintptr_t)(CTX_BASE + 0x100 * d);
    return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease(CUdevice d) {
    if (d < 0 || d >= MAX_DEV || __atomic_sub_fetch(&g_retained[d], 1, __ATOMIC_RELAXED) < 0) {
        fprintf(stderr, "mock: cuDevicePrimaryCtxRelease of device %d without a retain\n", (int)d);
        __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
    }
    return CUDA_SUCCESS;
}
/* retains still held on device d (device 0: ddx keeps one for the process) */
int ddx_mock_retained(int d) { return d >= 0 && d < MAX_DEV ? g_retained[d] : -1; }
static int g_ctx_depth; /* over all threads: the test checks it is back at 0 */
CUresult cuCtxPushCurrent(CUcontext c) {
    uintptr_t v = (uintptr_t)c;
    int d = (int)((v - CTX_BASE) / 0x100);
    if (v < CTX_BASE || (v - CTX_BASE) % 0x100 || d >= n_devices() || t_depth >= 64) {
        fprintf(stderr, "mock: cuCtxPushCurrent of an unknown context %#lx\n", (unsigned long)v);
        __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    t_ctx[t_depth++] = d;
    __atomic_add_fetch(&g_ctx_depth, 1, __ATOMIC_RELAXED);
    return CUDA_SUCCESS;
}
CUresult cuCtxPopCurrent(CUcontext *c) {
    if (t_depth <= 0) {
        fprintf(stderr, "mock: cuCtxPopCurrent without a push\n");
        __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    if (c) *c = (CUcontext)(uintptr_t)(CTX_BASE + 0x100 * t_ctx[t_depth - 1]);
    t_depth--;
    __atomic_sub_fetch(&g_ctx_depth, 1, __ATOMIC_RELAXED);
    return CUDA_SUCCESS;
}
int ddx_mock_ctx_depth(void) { return __atomic_load_n(&g_ctx_depth, __ATOMIC_RELAXED); }
CUresult cuCtxSynchronize(void) { return CUDA_SUCCESS; }
CUresult cuMemGetInfo(size_t *fr, size_t *tot) {
    /* DDX_MOCK_FREE_MB: pretend this much is free (the wide path sizes chunks by it) */
    size_t f = (size_t)env_int("DDX_MOCK_FREE_MB", 4096) << 20;
    *fr = f;
    *tot = f * 2;
    return CUDA_SUCCESS;
}
CUresult cuMemAlloc(CUdeviceptr *p, size_t n) {
    void *m = malloc(n);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    memset(m, 0xFF, n); /* NaN: reading unwritten device memory shows */
    add_alloc(m, n, 0);
    g_device_bytes += n;
    *p = (CUdeviceptr)(uintptr_t)m;
    return CUDA_SUCCESS;
}
CUresult cuMemFree(CUdeviceptr p) {
    if (del_alloc((uintptr_t)p)) return violation("cuMemFree of an unknown pointer", (uintptr_t)p, 0);
    free((void *)(uintptr_t)p);
    return CUDA_SUCCESS;
}
CUresult cuMemAllocHost(void **p, size_t n) {
    *p = malloc(n);
    if (!*p) return CUDA_ERROR_OUT_OF_MEMORY;
    add_alloc(*p, n, 1);
    return CUDA_SUCCESS;
}
CUresult cuMemFreeHost(void *p) {
    if (del_alloc((uintptr_t)p)) return violation("cuMemFreeHost of an unknown pointer", (uintptr_t)p, 0);
    free(p);
    return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD(CUdeviceptr d, const void *h, size_t n) {
    if (!inside((uintptr_t)d, n, 0)) return violation("cuMemcpyHtoD destination", (uintptr_t)d, n);
    memcpy((void *)(uintptr_t)d, h, n);
    return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoH(void *h, CUdeviceptr d, size_t n) {
    if (!inside((uintptr_t)d, n, 0)) return violation("cuMemcpyDtoH source", (uintptr_t)d, n);
    memcpy(h, (void *)(uintptr_t)d, n);
    return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoDAsync(CUdeviceptr d, const void *h, size_t n, CUstream s) {
    if (check_stream(s, "cuMemcpyHtoDAsync")) return CUDA_ERROR_INVALID_HANDLE;
    if (!inside((uintptr_t)h, n, 1)) return violation("cuMemcpyHtoDAsync from unpinned memory", (uintptr_t)h, n);
    return cuMemcpyHtoD(d, h, n);
}
CUresult cuMemcpyDtoHAsync(void *h, CUdeviceptr d, size_t n, CUstream s) {
    if (check_stream(s, "cuMemcpyDtoHAsync")) return CUDA_ERROR_INVALID_HANDLE;
    if (!inside((uintptr_t)h, n, 1)) return violation("cuMemcpyDtoHAsync to unpinned memory", (uintptr_t)h, n);
    return cuMemcpyDtoH(h, d, n);
}
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
    if (check_stream(s, "cuMemsetD8Async")) return CUDA_ERROR_INVALID_HANDLE;
    if (!inside((uintptr_t)d, n, 0)) return violation("cuMemsetD8Async", (uintptr_t)d, n);
    memset((void *)(uintptr_t)d, v, n);
    return CUDA_SUCCESS;
}
/* stream handles are 0x100 + i; g_stream_dev[i] is the device it belongs to */
static int g_stream_dev[1 << 16];
static unsigned g_nstreams;
CUresult cuStreamCreate(CUstream *s, unsigned f) {
    (void)f;
    unsigned i = __atomic_fetch_add(&g_nstreams, 1u, __ATOMIC_RELAXED);
    if (i >= (1u << 16)) return CUDA_ERROR_OUT_OF_MEMORY;
    g_stream_dev[i] = cur_dev();
    *s = (CUstream)(uintptr_t)(0x100 + i);
    return CUDA_SUCCESS;
}
/* A stream used under another device's context is an error in the real driver. */
static CUresult check_stream(CUstream s, const char *what) {
    uintptr_t v = (uintptr_t)s;
    if (!s) return CUDA_SUCCESS; /* the legacy default stream */
    if (v < 0x100 || v - 0x100 >= g_nstreams || g_stream_dev[v - 0x100] != cur_dev()) {
        fprintf(stderr, "mock: %s on stream %#lx, not one of device %d\n", what, (unsigned long)v, cur_dev());
        __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    return CUDA_SUCCESS;
}
CUresult cuStreamDestroy(CUstream s) {
    (void)s;
    return CUDA_SUCCESS;
}
CUresult cuStreamSynchronize(CUstream s) { return check_stream(s, "cuStreamSynchronize"); }
CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned f) {
    (void)s, (void)e, (void)f;
    return CUDA_SUCCESS;
}
CUresult cuEventCreate(CUevent *e, unsigned f) {
    (void)f;
    *e = (CUevent)(uintptr_t)0x200;
    return CUDA_SUCCESS;
}
CUresult cuEventDestroy(CUevent e) {
    (void)e;
    return CUDA_SUCCESS;
}
CUresult cuEventRecord(CUevent e, CUstream s) {
    (void)e, (void)s;
    return CUDA_SUCCESS;
}
CUresult cuEventSynchronize(CUevent e) {
    (void)e;
    return CUDA_SUCCESS;
}
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) {
    (void)a, (void)b;
    *ms = 0;
    return CUDA_SUCCESS;
}
CUresult cuModuleLoadData(CUmodule *m, const void *img) {
    /* a real CUBIN: ELF magic */
    if (memcmp(img, "\177ELF", 4) != 0) {
        fprintf(stderr, "mock: cuModuleLoadData: not an ELF image\n");
        __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    *m = (CUmodule)(uintptr_t)0x300;
    return CUDA_SUCCESS;
}
CUresult cuModuleUnload(CUmodule m) {
    (void)m;
    return CUDA_SUCCESS;
}

/* Function handles: 1 = ddx_fused, 100 + i = ddx_seg<i>. */
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
    (void)m;
    if (!strcmp(name, "ddx_fused"))
        *f = (CUfunction)(uintptr_t)1;
    else if (!strncmp(name, "ddx_seg", 7))
        *f = (CUfunction)(uintptr_t)(100 + atoi(name + 7));
    else
        return CUDA_ERROR_NOT_FOUND;
    return CUDA_SUCCESS;
}
CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) {
    (void)f, (void)a;
    if (a == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES && v > 232448) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}
CUresult cuFuncGetAttribute(int *v, CUfunction_attribute a, CUfunction f) {
    (void)a, (void)f;
    *v = 0;
    return CUDA_SUCCESS;
}

/* out[i*K + k] = pts[i*D] + k, in the program's precision */
static void write_pattern(uintptr_t pts, uintptr_t out, long long n, int D, int K, int rsz) {
    for (long long i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            if (rsz == 8)
                ((double *)out)[i * K + k] = ((const double *)pts)[i * D] + k;
            else
                ((float *)out)[i * K + k] = ((const float *)pts)[i * D] + (float)k;
        }
}

/* "a:b" in an environment variable: 1 and the two numbers, else 0 */
static int env_pair(const char *name, long long *a, long long *b) {
    const char *s = getenv(name);
    return s && *s && sscanf(s, "%lld:%lld", a, b) == 2;
}

static long long others_points(int dev) {
    long long t = 0;
    for (int i = 0; i < MAX_DEV; i++)
        if (i != dev) t += __atomic_load_n(&g_dev_points[i], __ATOMIC_RELAXED);
    return t;
}

/* Per-device speed, a failure on the k-th launch and the hold (see the top). */
static CUresult device_behaviour(int dev, long long n) {
    long long a, b;
    long long k = __atomic_add_fetch(&g_dev_launches[dev], 1, __ATOMIC_RELAXED);
    if (env_pair("DDX_MOCK_HOLD", &a, &b) && k == 1) {
        /* the others start once the held device is in its first launch, so
         * it surely has a share; then it waits for them */
        int waited = 0;
        if (a == dev) {
            __atomic_store_n(&g_hold_entered, 1, __ATOMIC_RELEASE);
            while (others_points(dev) < b && ++waited < 20000) sleep_us(1000);
        } else {
            while (!__atomic_load_n(&g_hold_entered, __ATOMIC_ACQUIRE) && ++waited < 20000) sleep_us(1000);
        }
        if (waited >= 20000) {
            fprintf(stderr, "mock: device %d held for 20 s (the hand-out is not dynamic)\n", dev);
            __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
        }
    }
    if (env_pair("DDX_MOCK_FAIL", &a, &b) && a == dev && k == b) return CUDA_ERROR_LAUNCH_FAILED;
    const char *us = getenv("DDX_MOCK_DEVICE_US");
    if (us && *us) {
        const char *p = us;
        for (int i = 0; i < dev && p; i++) p = (p = strchr(p, ',')) ? p + 1 : NULL;
        if (p && atoi(p) > 0) sleep_us(atoi(p));
    }
    __atomic_add_fetch(&g_dev_points[dev], n, __ATOMIC_RELAXED);
    return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, CUstream s, void **args, void **extra) {
    (void)gy, (void)gz, (void)by, (void)bz, (void)extra;
    if (check_stream(s, "cuLaunchKernel")) return CUDA_ERROR_INVALID_HANDLE;
    const int D = env_int("DDX_MOCK_D", 1), K = env_int("DDX_MOCK_K", 1), rsz = env_int("DDX_MOCK_RSZ", 4);
    uintptr_t pts = (uintptr_t) * (CUdeviceptr *)args[0], out = (uintptr_t) * (CUdeviceptr *)args[1];
    long long n = *(long long *)args[2];
    int id = (int)(uintptr_t)f;
    if (n <= 0) return violation("launch with no points", 0, 0);
    if ((unsigned long long)gx * bx < (unsigned long long)(id == 1 ? 1 : n))
        return violation("grid too small", 0, (size_t)gx * bx);
    if (smem > 232448) return violation("too much shared memory", 0, smem);
    if (!inside(pts, (size_t)n * D * rsz, 0)) return violation("kernel points", pts, (size_t)n * D * rsz);
    if (!inside(out, (size_t)n * K * rsz, 0)) return violation("kernel outputs", out, (size_t)n * K * rsz);
    if (id >= 100) {
        uintptr_t ws = (uintptr_t) * (CUdeviceptr *)args[3];
        long long ld = *(long long *)args[4];
        size_t rows = (size_t)env_int("DDX_MOCK_WSROWS", 1);
        if (ld < n) return violation("segment: ld < np", 0, (size_t)ld);
        if (!inside(ws, rows * (size_t)ld * rsz, 0)) return violation("segment workspace", ws, rows * (size_t)ld * rsz);
        if (id - 100 != env_int("DDX_MOCK_LASTSEG", 0)) return CUDA_SUCCESS;
    }
    CUresult r = device_behaviour(cur_dev(), n);
    if (r != CUDA_SUCCESS) return r;
    write_pattern(pts, out, n, D, K, rsz);
    return CUDA_SUCCESS;
}

CUresult cuPointerGetAttribute(void *data, CUpointer_attribute a, CUdeviceptr p) {
    (void)a;
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < g_nallocs; i++)
        if ((uintptr_t)p >= g_allocs[i].p && (uintptr_t)p < g_allocs[i].p + g_allocs[i].n) {
            *(unsigned *)data = g_allocs[i].pinned ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
            r = CUDA_SUCCESS;
            break;
        }
    pthread_mutex_unlock(&g_lock);
    return r;
}

/* ---- cuBLAS ---- */
int cublasCreate_v2(void **h) {
    *h = (void *)(uintptr_t)0x400;
    return 0;
}
int cublasDestroy_v2(void *h) {
    (void)h;
    return 0;
}
int cublasSetStream_v2(void *h, CUstream s) {
    (void)h, (void)s;
    return 0;
}
int cublasSetMathMode(void *h, int m) {
    (void)h, (void)m;
    return 0;
}
static int gemm_check(int m, int n, int k, uintptr_t A, int lda, uintptr_t B, int ldb, uintptr_t C, int ldc, int rsz) {
    if (m <= 0 || n <= 0 || k <= 0 || lda < m || ldb < k || ldc < m) {
        fprintf(stderr, "mock: gemm shape m=%d n=%d k=%d lda=%d ldb=%d ldc=%d\n", m, n, k, lda, ldb, ldc);
        __atomic_add_fetch(&g_violations, 1, __ATOMIC_RELAXED);
        return 7;
    }
    size_t a_n = ((size_t)lda * (size_t)(k - 1) + (size_t)m) * rsz, b_n = ((size_t)ldb * (size_t)(n - 1) + (size_t)k) * rsz,
           c_n = ((size_t)ldc * (size_t)(n - 1) + (size_t)m) * rsz;
    if (!inside(A, a_n, 0)) return violation("gemm A", A, a_n), 14;
    if (!inside(B, b_n, 0)) return violation("gemm B (weights)", B, b_n), 14;
    if (!inside(C, c_n, 0)) return violation("gemm C", C, c_n), 14;
    return 0;
}
int cublasSgemm_v2(void *h, int ta, int tb, int m, int n, int k, const float *al, const float *A, int lda,
                   const float *B, int ldb, const float *be, float *C, int ldc) {
    (void)h, (void)al, (void)be;
    if (ta || tb) return 7;
    return gemm_check(m, n, k, (uintptr_t)A, lda, (uintptr_t)B, ldb, (uintptr_t)C, ldc, 4);
}
int cublasDgemm_v2(void *h, int ta, int tb, int m, int n, int k, const double *al, const double *A, int lda,
                   const double *B, int ldb, const double *be, double *C, int ldc) {
    (void)h, (void)al, (void)be;
    if (ta || tb) return 7;
    return gemm_check(m, n, k, (uintptr_t)A, lda, (uintptr_t)B, ldb, (uintptr_t)C, ldc, 8);
}
