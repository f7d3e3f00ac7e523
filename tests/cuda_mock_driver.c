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
 * reports it. Async copies must come from or go to pinned memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda.h>

typedef struct alloc {
    uintptr_t p;
    size_t n;
    int pinned;
} alloc;

static alloc g_allocs[4096];
static int g_nallocs;
static long g_violations;
static size_t g_device_bytes;

static int env_int(const char *name, int def) {
    const char *s = getenv(name);
    return s && *s ? atoi(s) : def;
}

static void add_alloc(void *p, size_t n, int pinned) {
    if (g_nallocs < 4096) g_allocs[g_nallocs++] = (alloc){(uintptr_t)p, n, pinned};
}

static int del_alloc(uintptr_t p) {
    for (int i = 0; i < g_nallocs; i++)
        if (g_allocs[i].p == p) {
            g_allocs[i] = g_allocs[--g_nallocs];
            return 0;
        }
    return -1;
}

/* 1 when [p, p+n) lies inside one allocation (pinned: a pinned one). */
static int inside(uintptr_t p, size_t n, int want_pinned) {
    for (int i = 0; i < g_nallocs; i++)
        if (p >= g_allocs[i].p && p + n <= g_allocs[i].p + g_allocs[i].n && (!want_pinned || g_allocs[i].pinned))
            return 1;
    return 0;
}

static CUresult violation(const char *what, uintptr_t p, size_t n) {
    g_violations++;
    fprintf(stderr, "mock: %s: [%#lx, +%zu) is outside every allocation\n", what, (unsigned long)p, n);
    return CUDA_ERROR_ILLEGAL_ADDRESS;
}

long ddx_mock_violations(void) { return g_violations; }
/* after a test that provokes one on purpose (a bad cached image) */
void ddx_mock_reset_violations(void) { g_violations = 0; }

CUresult cuGetErrorName(CUresult r, const char **s) {
    *s = r == CUDA_SUCCESS ? "CUDA_SUCCESS" : r == CUDA_ERROR_OUT_OF_MEMORY ? "CUDA_ERROR_OUT_OF_MEMORY"
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
CUresult cuDeviceGetCount(int *n) {
    *n = 1;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGet(CUdevice *d, int i) {
    *d = i;
    return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *s, int n, CUdevice d) {
    (void)d;
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
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) {
    (void)d;
    *c = (CUcontext)(uintptr_t)0x1234;
    return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease(CUdevice d) {
    (void)d;
    return CUDA_SUCCESS;
}
static int g_ctx_depth;
CUresult cuCtxPushCurrent(CUcontext c) {
    (void)c;
    g_ctx_depth++;
    return CUDA_SUCCESS;
}
CUresult cuCtxPopCurrent(CUcontext *c) {
    if (c) *c = (CUcontext)(uintptr_t)0x1234;
    if (--g_ctx_depth < 0) {
        fprintf(stderr, "mock: cuCtxPopCurrent without a push\n");
        g_violations++;
    }
    return CUDA_SUCCESS;
}
int ddx_mock_ctx_depth(void) { return g_ctx_depth; }
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
    (void)s;
    if (!inside((uintptr_t)h, n, 1)) return violation("cuMemcpyHtoDAsync from unpinned memory", (uintptr_t)h, n);
    return cuMemcpyHtoD(d, h, n);
}
CUresult cuMemcpyDtoHAsync(void *h, CUdeviceptr d, size_t n, CUstream s) {
    (void)s;
    if (!inside((uintptr_t)h, n, 1)) return violation("cuMemcpyDtoHAsync to unpinned memory", (uintptr_t)h, n);
    return cuMemcpyDtoH(h, d, n);
}
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
    (void)s;
    if (!inside((uintptr_t)d, n, 0)) return violation("cuMemsetD8Async", (uintptr_t)d, n);
    memset((void *)(uintptr_t)d, v, n);
    return CUDA_SUCCESS;
}
CUresult cuStreamCreate(CUstream *s, unsigned f) {
    (void)f;
    static uintptr_t next = 0x100;
    *s = (CUstream)(next++);
    return CUDA_SUCCESS;
}
CUresult cuStreamDestroy(CUstream s) {
    (void)s;
    return CUDA_SUCCESS;
}
CUresult cuStreamSynchronize(CUstream s) {
    (void)s;
    return CUDA_SUCCESS;
}
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
        g_violations++;
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

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, CUstream s, void **args, void **extra) {
    (void)gy, (void)gz, (void)by, (void)bz, (void)s, (void)extra;
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
    write_pattern(pts, out, n, D, K, rsz);
    return CUDA_SUCCESS;
}

CUresult cuPointerGetAttribute(void *data, CUpointer_attribute a, CUdeviceptr p) {
    (void)a;
    for (int i = 0; i < g_nallocs; i++)
        if ((uintptr_t)p >= g_allocs[i].p && (uintptr_t)p < g_allocs[i].p + g_allocs[i].n) {
            *(unsigned *)data = g_allocs[i].pinned ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
            return CUDA_SUCCESS;
        }
    return CUDA_ERROR_INVALID_VALUE;
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
        g_violations++;
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
