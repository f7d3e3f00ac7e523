/* cuda_driver.h — everything ddx asks of NVIDIA's libraries (internal).
 *
 * The driver API (libcuda.so.1) and cuBLAS are loaded at run time with
 * dlopen, so one ddx binary runs where there is no GPU and no driver; only
 * NVRTC is linked (it compiles without a GPU, and the offline report and the
 * CI tests need nothing else). <cuda.h> is included for its types alone.
 *
 * NVRTC builds go through one cache: in memory always, on disk under
 * $DDX_CACHE_DIR, else $XDG_CACHE_HOME/ddx, else ~/.cache/ddx, keyed by a
 * hash of the source, the embedded kernels/ headers, the options, the NVRTC
 * version, the target architecture and the ddx version. HOME unset: the
 * account's home from the password database, else no disk cache (never a
 * shared /tmp). The folder must be this user's, not a symlink, writable by
 * nobody else (created 0700); entries carry a checksum of their payload and
 * are checked against the file size before anything is allocated; writes
 * are fsync'd and renamed; temporaries of dead writers are removed. */
#ifndef DDX_CUDA_DRIVER_H
#define DDX_CUDA_DRIVER_H

#include <stddef.h>
#include <cuda.h>

#include "ddx.h"

/* ---- driver API, loaded with dlopen ------------------------------------ */
/* Member names carry no "cu" prefix: cuda.h #defines many cuX names to
 * their versioned symbols (cuMemAlloc -> cuMemAlloc_v2). */
typedef struct ddx_cu_api {
    CUresult (*Init)(unsigned);
    CUresult (*DriverGetVersion)(int *);
    CUresult (*DeviceGetCount)(int *);
    CUresult (*DeviceGet)(CUdevice *, int);
    CUresult (*DeviceGetName)(char *, int, CUdevice);
    CUresult (*DeviceGetAttribute)(int *, CUdevice_attribute, CUdevice);
    CUresult (*DeviceTotalMem)(size_t *, CUdevice);
    CUresult (*DevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*DevicePrimaryCtxRelease)(CUdevice);
    CUresult (*CtxPushCurrent)(CUcontext);
    CUresult (*CtxPopCurrent)(CUcontext *);
    CUresult (*CtxSynchronize)(void);
    CUresult (*MemGetInfo)(size_t *, size_t *);
    CUresult (*MemAlloc)(CUdeviceptr *, size_t);
    CUresult (*MemFree)(CUdeviceptr);
    CUresult (*MemAllocHost)(void **, size_t);
    CUresult (*MemFreeHost)(void *);
    CUresult (*MemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*MemcpyDtoH)(void *, CUdeviceptr, size_t);
    CUresult (*MemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
    CUresult (*MemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
    CUresult (*MemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
    CUresult (*StreamCreate)(CUstream *, unsigned);
    CUresult (*StreamDestroy)(CUstream);
    CUresult (*StreamSynchronize)(CUstream);
    CUresult (*StreamWaitEvent)(CUstream, CUevent, unsigned);
    CUresult (*EventCreate)(CUevent *, unsigned);
    CUresult (*EventDestroy)(CUevent);
    CUresult (*EventRecord)(CUevent, CUstream);
    CUresult (*EventSynchronize)(CUevent);
    CUresult (*EventElapsedTime)(float *, CUevent, CUevent);
    CUresult (*ModuleLoadData)(CUmodule *, const void *);
    CUresult (*ModuleUnload)(CUmodule);
    CUresult (*ModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*FuncSetAttribute)(CUfunction, CUfunction_attribute, int);
    CUresult (*FuncGetAttribute)(int *, CUfunction_attribute, CUfunction);
    CUresult (*LaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void **, void **);
    CUresult (*PointerGetAttribute)(void *, CUpointer_attribute, CUdeviceptr);
    CUresult (*GetErrorName)(CUresult, const char **);
    CUresult (*GetErrorString)(CUresult, const char **);

    /* device 0 (CUDA_VISIBLE_DEVICES picks which one that is) */
    CUdevice dev;
    CUcontext ctx; /* its primary context, retained for the process */
    int cc_major, cc_minor, sm_count, driver_version;
    int smem_optin;     /* largest dynamic shared memory a block may ask for */
    int smem_per_sm;
    size_t total_mem;
    char name[128];
} ddx_cu_api;

/* The loaded driver with device 0's primary context, or NULL with a
 * one-line reason ("no CUDA driver (libcuda.so.1 not found)", "no CUDA
 * device"). Loads once per process; thread-safe. $DDX_CUDA_DRIVER names
 * another library file to load instead of libcuda.so.1. */
const ddx_cu_api *ddx_cu(char *why, size_t cap);

/* Formats "call: CUDA_ERROR_NAME (text)" into err; returns
 * DDX_ERR_OUT_OF_MEMORY for CUDA_ERROR_OUT_OF_MEMORY, else DDX_ERR_DEVICE. */
ddx_status ddx_cu_error(const ddx_cu_api *cu, CUresult r, const char *call, char *err, size_t cap);

/* Checks one driver call; on failure fills err (naming the call) and
 * jumps to the caller's `fail` label with `st` set. */
#define DDX_CU_TRY(cu, call, what)                                                                             \
    do {                                                                                                       \
        CUresult ddx_r_ = (call);                                                                              \
        if (ddx_r_ != CUDA_SUCCESS) {                                                                          \
            st = ddx_cu_error((cu), ddx_r_, (what), err, cap);                                                 \
            goto fail;                                                                                         \
        }                                                                                                      \
    } while (0)

/* ---- cuBLAS, loaded with dlopen (wide path only) ------------------------- */
typedef struct ddx_cublas_api {
    int (*Create)(void **handle);
    int (*Destroy)(void *handle);
    int (*SetStream)(void *handle, CUstream s);
    int (*SetMathMode)(void *handle, int mode);
    int (*Sgemm)(void *h, int ta, int tb, int m, int n, int k, const float *alpha, const float *A, int lda,
                 const float *B, int ldb, const float *beta, float *C, int ldc);
    int (*Dgemm)(void *h, int ta, int tb, int m, int n, int k, const double *alpha, const double *A, int lda,
                 const double *B, int ldb, const double *beta, double *C, int ldc);
    char path[256];
} ddx_cublas_api;

/* libcublas.so.13 (or .12, or the toolkit's copy), or NULL with a reason. */
const ddx_cublas_api *ddx_cublas(char *why, size_t cap);

/* ---- NVRTC with the kernel cache ------------------------------------------ */
typedef struct ddx_kernel_binary {
    void *image;        /* CUBIN, or PTX text when is_ptx */
    size_t size;
    int is_ptx;         /* arch was compute_XX: the driver finishes the build */
    int n_kernels;      /* entry functions ptxas reported */
    int regs;           /* most registers of any entry function */
    int spill_stores;   /* bytes, summed over entry functions */
    int spill_loads;
    int stack_bytes;    /* largest stack frame */
    int cache;          /* 0 compiled now, 1 memory cache, 2 disk cache */
    double compile_ms;  /* NVRTC time when compiled now */
    char *log;          /* ptxas log (the -v report), NUL-terminated */
} ddx_kernel_binary;

/* Compiles src for arch ("sm_90" gives CUBIN, "compute_90" PTX) through the
 * cache. On failure returns DDX_ERR_COMPILE with the start of the NVRTC
 * log in err (the whole log and the numbered source go to stderr); with
 * DDX_DUMP_SOURCE=1 the numbered source is printed to stderr every time. */
ddx_status ddx_nvrtc_build(const char *src, const char *arch, ddx_kernel_binary *out, char *err, size_t cap);
void ddx_kernel_binary_free(ddx_kernel_binary *b);
/* Same, bypassing and replacing both caches' entry: for an image that the
 * driver refused to load (evict + recompile once). */
ddx_status ddx_nvrtc_rebuild(const char *src, const char *arch, ddx_kernel_binary *out, char *err, size_t cap);
/* Empties the in-memory cache (tests use it to reach the disk cache). */
void ddx_nvrtc_cache_clear_memory(void);
/* The disk cache folder now in effect (for messages and tests). */
void ddx_nvrtc_cache_dir(char *buf, size_t cap);
/* Parses ptxas -v output: fills n_kernels, regs, spills, stack. */
void ddx_parse_ptxas_log(const char *log, ddx_kernel_binary *b);
/* The architecture NVRTC should target for compute capability major.minor:
 * "sm_XY" when NVRTC supports it, else PTX for the newest one it does. */
void ddx_nvrtc_arch_for(int major, int minor, char *buf, size_t cap);
/* NVRTC's version, e.g. "13.0". */
void ddx_nvrtc_version_string(char *buf, size_t cap);

/* The kernels/ headers embedded at build time (cmake/cuda.cmake). */
extern const int ddx_cuda_header_count;
extern const char *const ddx_cuda_header_names[];
extern const char *const ddx_cuda_header_sources[];

#endif
