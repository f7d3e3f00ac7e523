/* cuda_driver.c — the run-time loaded CUDA driver and cuBLAS, and NVRTC
 * builds behind an in-memory + on-disk kernel cache. See cuda_driver.h. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nvrtc.h>

#include "host/cuda/cuda_driver.h"

int ddx_verbose(void); /* host/runtime/program.c: ddx_set_verbose */

#ifndef DDX_CUDA_LIBDIR
#define DDX_CUDA_LIBDIR "/usr/local/cuda/lib64"
#endif

/* ---- driver ------------------------------------------------------------- */

static ddx_cu_api g_cu;
static const ddx_cu_api *g_cu_ok;
static char g_cu_why[256];
static pthread_once_t g_cu_once = PTHREAD_ONCE_INIT;

/* First symbol of a NULL-terminated list of names that the library has. */
static void *sym_any(void *lib, const char *const *names) {
    for (; *names; names++) {
        void *f = dlsym(lib, *names);
        if (f) return f;
    }
    return NULL;
}

#define SYM(field, ...)                                                                                     \
    do {                                                                                                    \
        static const char *const names_[] = {__VA_ARGS__, NULL};                                            \
        *(void **)&g_cu.field = sym_any(lib, names_);                                                       \
        if (!g_cu.field) {                                                                                  \
            snprintf(g_cu_why, sizeof g_cu_why, "CUDA driver too old (no %s in libcuda)", names_[0]);       \
            return;                                                                                         \
        }                                                                                                   \
    } while (0)

static const char *cu_name(CUresult r) {
    const char *s = NULL;
    if (g_cu.GetErrorName && g_cu.GetErrorName(r, &s) == CUDA_SUCCESS && s) return s;
    return "CUDA_ERROR_?";
}

static void cu_load_once(void) {
    const char *path = getenv("DDX_CUDA_DRIVER");
    if (!path || !*path) path = "libcuda.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(g_cu_why, sizeof g_cu_why, "no CUDA driver (%s not found)", path);
        return;
    }
    SYM(GetErrorName, "cuGetErrorName");
    SYM(GetErrorString, "cuGetErrorString");
    SYM(Init, "cuInit");
    SYM(DriverGetVersion, "cuDriverGetVersion");
    SYM(DeviceGetCount, "cuDeviceGetCount");
    SYM(DeviceGet, "cuDeviceGet");
    SYM(DeviceGetName, "cuDeviceGetName");
    SYM(DeviceGetAttribute, "cuDeviceGetAttribute");
    SYM(DeviceTotalMem, "cuDeviceTotalMem_v2", "cuDeviceTotalMem");
    SYM(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    SYM(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
    SYM(CtxPushCurrent, "cuCtxPushCurrent_v2", "cuCtxPushCurrent");
    SYM(CtxPopCurrent, "cuCtxPopCurrent_v2", "cuCtxPopCurrent");
    SYM(CtxSynchronize, "cuCtxSynchronize");
    SYM(MemGetInfo, "cuMemGetInfo_v2", "cuMemGetInfo");
    SYM(MemAlloc, "cuMemAlloc_v2", "cuMemAlloc");
    SYM(MemFree, "cuMemFree_v2", "cuMemFree");
    SYM(MemAllocHost, "cuMemAllocHost_v2", "cuMemAllocHost");
    SYM(MemFreeHost, "cuMemFreeHost");
    SYM(MemcpyHtoD, "cuMemcpyHtoD_v2", "cuMemcpyHtoD");
    SYM(MemcpyDtoH, "cuMemcpyDtoH_v2", "cuMemcpyDtoH");
    SYM(MemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", "cuMemcpyHtoDAsync");
    SYM(MemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoHAsync");
    SYM(MemsetD8Async, "cuMemsetD8Async");
    SYM(StreamCreate, "cuStreamCreate");
    SYM(StreamDestroy, "cuStreamDestroy_v2", "cuStreamDestroy");
    SYM(StreamSynchronize, "cuStreamSynchronize");
    SYM(StreamWaitEvent, "cuStreamWaitEvent");
    SYM(EventCreate, "cuEventCreate");
    SYM(EventDestroy, "cuEventDestroy_v2", "cuEventDestroy");
    SYM(EventRecord, "cuEventRecord");
    SYM(EventSynchronize, "cuEventSynchronize");
    SYM(EventElapsedTime, "cuEventElapsedTime_v2", "cuEventElapsedTime");
    SYM(ModuleLoadData, "cuModuleLoadData");
    SYM(ModuleUnload, "cuModuleUnload");
    SYM(ModuleGetFunction, "cuModuleGetFunction");
    SYM(FuncSetAttribute, "cuFuncSetAttribute");
    SYM(FuncGetAttribute, "cuFuncGetAttribute");
    SYM(LaunchKernel, "cuLaunchKernel");
    SYM(PointerGetAttribute, "cuPointerGetAttribute");

    CUresult r = g_cu.Init(0);
    if (r != CUDA_SUCCESS) {
        if (r == CUDA_ERROR_NO_DEVICE)
            snprintf(g_cu_why, sizeof g_cu_why, "no CUDA device");
        else
            snprintf(g_cu_why, sizeof g_cu_why, "no CUDA device (cuInit: %s)", cu_name(r));
        return;
    }
    int count = 0;
    if (g_cu.DeviceGetCount(&count) != CUDA_SUCCESS || count <= 0) {
        snprintf(g_cu_why, sizeof g_cu_why, "no CUDA device");
        return;
    }
    if ((r = g_cu.DeviceGet(&g_cu.dev, 0)) != CUDA_SUCCESS ||
        (r = g_cu.DevicePrimaryCtxRetain(&g_cu.ctx, g_cu.dev)) != CUDA_SUCCESS) {
        snprintf(g_cu_why, sizeof g_cu_why, "no CUDA device (device 0 unusable: %s)", cu_name(r));
        return;
    }
    g_cu.DriverGetVersion(&g_cu.driver_version);
    g_cu.DeviceGetName(g_cu.name, (int)sizeof g_cu.name, g_cu.dev);
    g_cu.DeviceGetAttribute(&g_cu.cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, g_cu.dev);
    g_cu.DeviceGetAttribute(&g_cu.cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, g_cu.dev);
    g_cu.DeviceGetAttribute(&g_cu.sm_count, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, g_cu.dev);
    g_cu.DeviceGetAttribute(&g_cu.smem_optin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, g_cu.dev);
    g_cu.DeviceGetAttribute(&g_cu.smem_per_sm, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, g_cu.dev);
    g_cu.DeviceTotalMem(&g_cu.total_mem, g_cu.dev);
    if (g_cu.smem_optin <= 0) g_cu.smem_optin = 48 * 1024;
    g_cu_ok = &g_cu;
}

const ddx_cu_api *ddx_cu(char *why, size_t cap) {
    pthread_once(&g_cu_once, cu_load_once);
    if (!g_cu_ok && why && cap) snprintf(why, cap, "%s", g_cu_why);
    return g_cu_ok;
}

ddx_status ddx_cu_error(const ddx_cu_api *cu, CUresult r, const char *call, char *err, size_t cap) {
    const char *name = "CUDA_ERROR_?", *text = "";
    if (cu && cu->GetErrorName) cu->GetErrorName(r, &name);
    if (cu && cu->GetErrorString) cu->GetErrorString(r, &text);
    if (err && cap) snprintf(err, cap, "%s: %s (%s)", call, name ? name : "?", text ? text : "");
    return r == CUDA_ERROR_OUT_OF_MEMORY ? DDX_ERR_OUT_OF_MEMORY : DDX_ERR_DEVICE;
}

/* ---- cuBLAS ---------------------------------------------------------------- */

static ddx_cublas_api g_blas;
static const ddx_cublas_api *g_blas_ok;
static char g_blas_why[512];
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;

static void blas_load_once(void) {
    const char *env = getenv("DDX_CUBLAS");
    const char *cand[] = {env && *env ? env : NULL, "libcublas.so.13", "libcublas.so.12",
                          DDX_CUDA_LIBDIR "/libcublas.so.13", DDX_CUDA_LIBDIR "/libcublas.so.12",
                          "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12"};
    void *lib = NULL;
    for (size_t i = 0; i < sizeof cand / sizeof cand[0] && !lib; i++) {
        if (!cand[i]) continue;
        lib = dlopen(cand[i], RTLD_NOW | RTLD_LOCAL);
        if (lib) snprintf(g_blas.path, sizeof g_blas.path, "%s", cand[i]);
    }
    if (!lib) {
        snprintf(g_blas_why, sizeof g_blas_why, "cuBLAS not found (libcublas.so.13 / .12; set DDX_CUBLAS)");
        return;
    }
    struct {
        void **slot;
        const char *name;
    } syms[] = {
        {(void **)&g_blas.Create, "cublasCreate_v2"},       {(void **)&g_blas.Destroy, "cublasDestroy_v2"},
        {(void **)&g_blas.SetStream, "cublasSetStream_v2"}, {(void **)&g_blas.SetMathMode, "cublasSetMathMode"},
        {(void **)&g_blas.Sgemm, "cublasSgemm_v2"},         {(void **)&g_blas.Dgemm, "cublasDgemm_v2"},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].slot = dlsym(lib, syms[i].name);
        if (!*syms[i].slot) {
            snprintf(g_blas_why, sizeof g_blas_why, "%s has no %s", g_blas.path, syms[i].name);
            return;
        }
    }
    g_blas_ok = &g_blas;
}

const ddx_cublas_api *ddx_cublas(char *why, size_t cap) {
    pthread_once(&g_blas_once, blas_load_once);
    if (!g_blas_ok && why && cap) snprintf(why, cap, "%s", g_blas_why);
    return g_blas_ok;
}

/* ---- NVRTC ------------------------------------------------------------------ */

void ddx_nvrtc_version_string(char *buf, size_t cap) {
    int maj = 0, min = 0;
    nvrtcVersion(&maj, &min);
    snprintf(buf, cap, "%d.%d", maj, min);
}

void ddx_nvrtc_arch_for(int major, int minor, char *buf, size_t cap) {
    int want = major * 10 + minor, n = 0, best = 0;
    if (nvrtcGetNumSupportedArchs(&n) == NVRTC_SUCCESS && n > 0 && n < 256) {
        int archs[256];
        if (nvrtcGetSupportedArchs(archs) == NVRTC_SUCCESS) {
            for (int i = 0; i < n; i++) {
                if (archs[i] == want) {
                    snprintf(buf, cap, "sm_%d", want);
                    return;
                }
                if (archs[i] < want && archs[i] > best) best = archs[i];
            }
            if (best) { /* a GPU newer than this NVRTC: PTX that the driver finishes */
                snprintf(buf, cap, "compute_%d", best);
                return;
            }
        }
    }
    snprintf(buf, cap, "sm_%d", want);
}

void ddx_parse_ptxas_log(const char *log, ddx_kernel_binary *b) {
    b->n_kernels = b->regs = b->spill_stores = b->spill_loads = b->stack_bytes = 0;
    if (!log) return;
    for (const char *l = log; *l;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        char line[512];
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, l, len);
        line[len] = 0;
        const char *s;
        int a, c, d;
        if (strstr(line, "Compiling entry function")) b->n_kernels++;
        if ((s = strstr(line, "bytes stack frame")) != NULL) {
            /* "    N bytes stack frame, M bytes spill stores, K bytes spill loads" */
            const char *q = line;
            while (*q && (*q < '0' || *q > '9')) q++;
            if (sscanf(q, "%d bytes stack frame, %d bytes spill stores, %d bytes spill loads", &a, &c, &d) == 3) {
                if (a > b->stack_bytes) b->stack_bytes = a;
                b->spill_stores += c;
                b->spill_loads += d;
            }
        }
        if ((s = strstr(line, "Used ")) != NULL && sscanf(s, "Used %d registers", &a) == 1 && a > b->regs)
            b->regs = a;
        l = e ? e + 1 : l + len;
    }
}

/* FNV-1a 64, in two flavours (different offset bases) for a 128-bit key. */
typedef struct hash2 {
    uint64_t a, b;
} hash2;

static void hash_bytes(hash2 *h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h->a = (h->a ^ p[i]) * 0x100000001b3ull;
        h->b = (h->b ^ (unsigned char)(p[i] ^ 0x5c)) * 0x100000001b3ull;
    }
}

static void hash_str(hash2 *h, const char *s) {
    hash_bytes(h, s, strlen(s) + 1); /* the NUL separates fields */
}

typedef struct mem_entry {
    hash2 key;
    ddx_kernel_binary bin;
    struct mem_entry *next;
} mem_entry;

#define MEM_CACHE_MAX 64
static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static mem_entry *g_mem_cache;
static int g_disk_warned;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int copy_binary(ddx_kernel_binary *dst, const ddx_kernel_binary *src) {
    *dst = *src;
    dst->image = malloc(src->size ? src->size : 1);
    dst->log = strdup(src->log ? src->log : "");
    if (!dst->image || !dst->log) {
        free(dst->image);
        free(dst->log);
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    memcpy(dst->image, src->image, src->size);
    return 0;
}

void ddx_kernel_binary_free(ddx_kernel_binary *b) {
    if (!b) return;
    free(b->image);
    free(b->log);
    memset(b, 0, sizeof *b);
}

void ddx_nvrtc_cache_clear_memory(void) {
    pthread_mutex_lock(&g_cache_lock);
    while (g_mem_cache) {
        mem_entry *e = g_mem_cache;
        g_mem_cache = e->next;
        ddx_kernel_binary_free(&e->bin);
        free(e);
    }
    pthread_mutex_unlock(&g_cache_lock);
}

void ddx_nvrtc_cache_dir(char *buf, size_t cap) {
    const char *d = getenv("DDX_CACHE_DIR");
    if (d && *d) {
        snprintf(buf, cap, "%s", d);
        return;
    }
    d = getenv("XDG_CACHE_HOME");
    if (d && *d) {
        snprintf(buf, cap, "%s/ddx", d);
        return;
    }
    d = getenv("HOME");
    snprintf(buf, cap, "%s/.cache/ddx", d && *d ? d : "/tmp");
}

static int mkdir_p(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

static void warn_disk_once(const char *dir, const char *what) {
    pthread_mutex_lock(&g_cache_lock);
    int first = !g_disk_warned;
    g_disk_warned = 1;
    pthread_mutex_unlock(&g_cache_lock);
    if (first)
        fprintf(stderr, "ddx: warning: kernel cache %s is not usable (%s); compiling without a disk cache\n", dir,
                what);
}

#define CACHE_MAGIC "DDXK 1\n"

static int disk_load(const char *path, hash2 key, ddx_kernel_binary *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char magic[16] = {0};
    unsigned long long ka = 0, kb = 0;
    int is_ptx = 0;
    size_t isize = 0, lsize = 0;
    int ok = fread(magic, 1, strlen(CACHE_MAGIC), f) == strlen(CACHE_MAGIC) && !strcmp(magic, CACHE_MAGIC) &&
             fscanf(f, "%llx %llx %d %zu %zu", &ka, &kb, &is_ptx, &isize, &lsize) == 5 && fgetc(f) == '\n' &&
             ka == key.a && kb == key.b && isize > 0 && isize < ((size_t)1 << 31) && lsize < ((size_t)1 << 24);
    if (ok) {
        out->log = malloc(lsize + 1);
        out->image = malloc(isize);
        ok = out->log && out->image && fread(out->log, 1, lsize, f) == lsize && fread(out->image, 1, isize, f) == isize;
        if (ok) {
            out->log[lsize] = 0;
            out->size = isize;
            out->is_ptx = is_ptx;
            ddx_parse_ptxas_log(out->log, out);
        }
    }
    fclose(f);
    if (!ok) ddx_kernel_binary_free(out);
    return ok ? 0 : -1;
}

static void disk_store(const char *dir, const char *path, hash2 key, const ddx_kernel_binary *b) {
    static unsigned counter;
    if (mkdir_p(dir) != 0) {
        warn_disk_once(dir, strerror(errno));
        return;
    }
    char tmp[1200];
    unsigned c = __atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED);
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%u-%016llx", dir, (long)getpid(), c, (unsigned long long)key.a);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        warn_disk_once(dir, strerror(errno));
        return;
    }
    size_t lsize = b->log ? strlen(b->log) : 0;
    int ok = fprintf(f, CACHE_MAGIC "%016llx %016llx %d %zu %zu\n", (unsigned long long)key.a,
                     (unsigned long long)key.b, b->is_ptx, b->size, lsize) > 0 &&
             fwrite(b->log ? b->log : "", 1, lsize, f) == lsize && fwrite(b->image, 1, b->size, f) == b->size;
    ok = (fclose(f) == 0) && ok;
    /* rename is atomic: a reader sees the old file, the new one, or none */
    if (!ok || rename(tmp, path) != 0) {
        warn_disk_once(dir, strerror(errno ? errno : EIO));
        unlink(tmp);
    }
}

static void print_numbered(const char *src) {
    int line = 1;
    fprintf(stderr, "%5d  ", line);
    for (const char *p = src; *p; p++) {
        fputc(*p, stderr);
        if (*p == '\n' && p[1]) fprintf(stderr, "%5d  ", ++line);
    }
    fputc('\n', stderr);
}

/* The lines of an NVRTC log that say "error", joined with "; " (at most
 * 4): a failed build is one readable line, not the whole log. */
static void nvrtc_error_lines(const char *log, char *buf, size_t cap) {
    size_t o = 0;
    int n = 0;
    buf[0] = 0;
    for (const char *l = log; *l && n < 4;) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        const char *hit = strstr(l, "error");
        if (hit && hit < l + len && o + 3 < cap) {
            o += (size_t)snprintf(buf + o, cap - o, "%s%.*s", n ? "; " : "", (int)len, l);
            if (o >= cap) o = cap - 1;
            n++;
        }
        l += len + (e ? 1 : 0);
    }
    if (!n) snprintf(buf, cap, "%.200s", *log ? log : "no log");
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
}

static ddx_status nvrtc_compile(const char *src, const char *arch, const char *const *opts, int nopts,
                                ddx_kernel_binary *out, char *err, size_t cap) {
    nvrtcProgram prog;
    nvrtcResult r = nvrtcCreateProgram(&prog, src, "ddx_kernel.cu", ddx_cuda_header_count,
                                       (const char *const *)ddx_cuda_header_sources,
                                       (const char *const *)ddx_cuda_header_names);
    if (r != NVRTC_SUCCESS) {
        snprintf(err, cap, "nvrtcCreateProgram: %s", nvrtcGetErrorString(r));
        return DDX_ERR_COMPILE;
    }
    double t0 = now_ms();
    nvrtcResult cr = nvrtcCompileProgram(prog, nopts, opts);
    out->compile_ms = now_ms() - t0;
    size_t lsz = 0;
    nvrtcGetProgramLogSize(prog, &lsz);
    char *log = malloc(lsz + 1);
    if (!log) {
        nvrtcDestroyProgram(&prog);
        snprintf(err, cap, "out of memory reading the NVRTC log");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    log[0] = 0;
    if (lsz) nvrtcGetProgramLog(prog, log);
    log[lsz] = 0;
    if (cr != NVRTC_SUCCESS) {
        if (ddx_verbose()) { /* the full log and the source only behind --verbose */
        fprintf(stderr, "ddx: NVRTC failed to compile the generated kernel for %s (%s):\n%s\n", arch,
                nvrtcGetErrorString(cr), log);
        if (!getenv("DDX_DUMP_SOURCE")) {
            fprintf(stderr, "ddx: the generated source, numbered:\n");
            print_numbered(src);
        }
        }
        char lines[600];
        nvrtc_error_lines(log, lines, sizeof lines);
        snprintf(err, cap, "NVRTC (%s, %s): %s%s", arch, nvrtcGetErrorString(cr), lines,
                 ddx_verbose() ? "" : " (--verbose: full log and source)");
        free(log);
        nvrtcDestroyProgram(&prog);
        return DDX_ERR_COMPILE;
    }
    int is_ptx = strncmp(arch, "compute_", 8) == 0;
    size_t isz = 0;
    r = is_ptx ? nvrtcGetPTXSize(prog, &isz) : nvrtcGetCUBINSize(prog, &isz);
    void *img = r == NVRTC_SUCCESS ? malloc(isz ? isz : 1) : NULL;
    if (img) r = is_ptx ? nvrtcGetPTX(prog, img) : nvrtcGetCUBIN(prog, img);
    nvrtcDestroyProgram(&prog);
    if (!img || r != NVRTC_SUCCESS) {
        free(img);
        free(log);
        snprintf(err, cap, "NVRTC: cannot read the %s (%s)", is_ptx ? "PTX" : "CUBIN",
                 r != NVRTC_SUCCESS ? nvrtcGetErrorString(r) : "out of memory");
        return DDX_ERR_COMPILE;
    }
    out->image = img;
    out->size = isz;
    out->is_ptx = is_ptx;
    out->log = log;
    if (getenv("DDX_DUMP_SOURCE") && strcmp(getenv("DDX_DUMP_SOURCE"), "0") != 0)
        fprintf(stderr, "ddx: NVRTC log for %s:\n%s\n", arch, log);
    ddx_parse_ptxas_log(log, out);
    return DDX_OK;
}

ddx_status ddx_nvrtc_build(const char *src, const char *arch, ddx_kernel_binary *out, char *err, size_t cap) {
    memset(out, 0, sizeof *out);
    if (getenv("DDX_DUMP_SOURCE") && strcmp(getenv("DDX_DUMP_SOURCE"), "0") != 0) {
        fprintf(stderr, "ddx: generated CUDA source for %s:\n", arch);
        print_numbered(src);
    }
    char archopt[64], ver[32];
    snprintf(archopt, sizeof archopt, "--gpu-architecture=%s", arch);
    ddx_nvrtc_version_string(ver, sizeof ver);
    /* -v: ptxas writes registers, stack and spill bytes to the program log */
    const char *opts[] = {archopt, "--std=c++17", "--ptxas-options=-v", "-DDDX_NVRTC=1"};
    int nopts = (int)(sizeof opts / sizeof opts[0]);

    hash2 key = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
    hash_str(&key, "ddx " DDX_VERSION_STRING);
    hash_str(&key, ver);
    hash_str(&key, arch);
    for (int i = 0; i < nopts; i++) hash_str(&key, opts[i]);
    for (int i = 0; i < ddx_cuda_header_count; i++) {
        hash_str(&key, ddx_cuda_header_names[i]);
        hash_str(&key, ddx_cuda_header_sources[i]);
    }
    hash_str(&key, src);

    /* memory */
    pthread_mutex_lock(&g_cache_lock);
    for (mem_entry *e = g_mem_cache; e; e = e->next)
        if (e->key.a == key.a && e->key.b == key.b) {
            int rc = copy_binary(out, &e->bin);
            pthread_mutex_unlock(&g_cache_lock);
            if (rc) {
                snprintf(err, cap, "out of memory copying a cached kernel");
                return DDX_ERR_OUT_OF_MEMORY;
            }
            out->cache = 1;
            out->compile_ms = 0;
            return DDX_OK;
        }
    pthread_mutex_unlock(&g_cache_lock);

    /* disk */
    char dir[1024], path[1200];
    ddx_nvrtc_cache_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%016llx%016llx.%s", dir, (unsigned long long)key.a, (unsigned long long)key.b,
             strncmp(arch, "compute_", 8) == 0 ? "ptx" : "cubin");
    ddx_status st = DDX_OK;
    if (disk_load(path, key, out) == 0) {
        out->cache = 2;
    } else {
        st = nvrtc_compile(src, arch, opts, nopts, out, err, cap);
        if (st != DDX_OK) return st;
        out->cache = 0;
        disk_store(dir, path, key, out);
    }

    mem_entry *e = calloc(1, sizeof *e);
    if (e && copy_binary(&e->bin, out) == 0) {
        e->key = key;
        pthread_mutex_lock(&g_cache_lock);
        e->next = g_mem_cache;
        g_mem_cache = e;
        /* keep the newest MEM_CACHE_MAX kernels (a few hundred KB each) */
        int k = 0;
        for (mem_entry *x = g_mem_cache; x; x = x->next)
            if (++k == MEM_CACHE_MAX) {
                while (x->next) {
                    mem_entry *old = x->next;
                    x->next = old->next;
                    ddx_kernel_binary_free(&old->bin);
                    free(old);
                }
                break;
            }
        pthread_mutex_unlock(&g_cache_lock);
    } else {
        free(e); /* no memory cache entry: only slower next time */
    }
    return DDX_OK;
}
