/* cuda_driver.c — the run-time loaded CUDA driver and cuBLAS, and NVRTC
 * builds behind an in-memory + on-disk kernel cache. See cuda_driver.h. */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pwd.h>
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
    if (!d || !*d) { /* never a shared /tmp default: the account's own home, else no disk cache */
        struct passwd *pw = getpwuid(getuid());
        d = pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
    }
    if (d) snprintf(buf, cap, "%s/.cache/ddx", d);
    else if (cap) buf[0] = 0;
}

/* Parents as 0755 (like ~/.cache), the cache folder itself 0700. */
static int mkdir_p(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
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

/* Opens the cache folder for use: not a symlink, a directory owned by this
 * user, writable by nobody else. Anything else could be another user's
 * poisoned cache or a symlink trap on a shared host: refused. Returns a
 * directory fd (entries are then opened relative to it, O_NOFOLLOW) or -1
 * with why filled. */
static int open_cache_dir(const char *dir, int create, char *why, size_t cap) {
    if (!dir[0]) {
        snprintf(why, cap, "no home directory");
        return -1;
    }
    if (create && mkdir_p(dir) != 0) {
        snprintf(why, cap, "%s", strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "%s", errno == ELOOP || errno == ENOTDIR ? "not a directory (or a symlink)" : strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, cap, "not a directory");
    } else if (st.st_uid != geteuid()) {
        snprintf(why, cap, "owned by uid %ld, not by this user (%ld)", (long)st.st_uid, (long)geteuid());
    } else if (st.st_mode & 022) {
        snprintf(why, cap, "writable by other users (mode %03o)", (unsigned)(st.st_mode & 0777));
    } else {
        return fd;
    }
    close(fd);
    return -1;
}

#define CACHE_MAGIC "DDXK 2\n"
#define CACHE_MAX_IMAGE ((size_t)1 << 30)
#define CACHE_MAX_LOG ((size_t)1 << 24)
#define STALE_TMP_SECONDS 600

/* FNV-1a 64 of log then image: a zero-filled or truncated payload behind a
 * valid header is a miss, not a kernel. */
static uint64_t payload_sum(const void *log, size_t lsize, const void *img, size_t isize) {
    uint64_t h = 0xcbf29ce484222325ull;
    const unsigned char *p = log;
    for (size_t i = 0; i < lsize; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    p = img;
    for (size_t i = 0; i < isize; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, (const char *)buf + put, n - put);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        put += (size_t)w;
    }
    return 0;
}

/* 0: loaded; -1: no usable entry (a bad one is removed). */
static int disk_load(int dfd, const char *name, hash2 key, ddx_kernel_binary *out) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    char hdr[160];
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && st.st_size > 0;
    unsigned long long ka = 0, kb = 0, sum = 0;
    int is_ptx = 0, hlen = 0;
    size_t isize = 0, lsize = 0;
    if (ok) {
        ssize_t r = pread(fd, hdr, sizeof hdr - 1, 0);
        ok = r > 0;
        if (ok) {
            hdr[r] = 0;
            ok = strncmp(hdr, CACHE_MAGIC, strlen(CACHE_MAGIC)) == 0 &&
                 sscanf(hdr + strlen(CACHE_MAGIC), "%llx %llx %d %zu %zu %llx\n%n", &ka, &kb, &is_ptx, &isize, &lsize,
                        &sum, &hlen) == 6 &&
                 hlen > 0 && ka == key.a && kb == key.b && isize > 0 && isize <= CACHE_MAX_IMAGE &&
                 lsize <= CACHE_MAX_LOG;
            hlen += (int)strlen(CACHE_MAGIC);
        }
    }
    /* the sizes must add up to the file before anything is allocated:
     * a forged header cannot make us allocate more than the file holds */
    ok = ok && (uint64_t)st.st_size == (uint64_t)hlen + lsize + isize;
    if (ok) {
        out->log = malloc(lsize + 1);
        out->image = malloc(isize);
        ok = out->log && out->image && lseek(fd, hlen, SEEK_SET) == hlen && read_full(fd, out->log, lsize) == 0 &&
             read_full(fd, out->image, isize) == 0 && payload_sum(out->log, lsize, out->image, isize) == sum;
        if (ok) {
            out->log[lsize] = 0;
            out->size = isize;
            out->is_ptx = is_ptx;
            ddx_parse_ptxas_log(out->log, out);
        }
    }
    close(fd);
    if (!ok) {
        ddx_kernel_binary_free(out);
        unlinkat(dfd, name, 0); /* corrupt or forged: evict, it is rebuilt below */
    }
    return ok ? 0 : -1;
}

/* Temporaries of writers that died (crash, SIGKILL) are removed once old. */
static void remove_stale_temporaries(int dfd) {
    int d2 = dup(dfd);
    if (d2 < 0) return;
    DIR *dir = fdopendir(d2);
    if (!dir) {
        close(d2);
        return;
    }
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(dir)))
        if (strncmp(e->d_name, ".tmp-", 5) == 0) {
            struct stat st;
            if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && now - st.st_mtime > STALE_TMP_SECONDS)
                unlinkat(dfd, e->d_name, 0);
        }
    closedir(dir);
}

static void disk_store(int dfd, const char *dir, const char *name, hash2 key, const ddx_kernel_binary *b) {
    static unsigned counter;
    remove_stale_temporaries(dfd);
    char tmp[128];
    unsigned c = __atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED);
    snprintf(tmp, sizeof tmp, ".tmp-%ld-%u-%016llx", (long)getpid(), c, (unsigned long long)key.a);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        warn_disk_once(dir, strerror(errno));
        return;
    }
    size_t lsize = b->log ? strlen(b->log) : 0;
    char hdr[160];
    int hl = snprintf(hdr, sizeof hdr, CACHE_MAGIC "%016llx %016llx %d %zu %zu %016llx\n", (unsigned long long)key.a,
                      (unsigned long long)key.b, b->is_ptx, b->size, lsize,
                      (unsigned long long)payload_sum(b->log ? b->log : "", lsize, b->image, b->size));
    int ok = hl > 0 && write_full(fd, hdr, (size_t)hl) == 0 && write_full(fd, b->log ? b->log : "", lsize) == 0 &&
             write_full(fd, b->image, b->size) == 0;
    int e = errno;
    /* fsync before rename: a crash must not leave the name on an empty file */
    if (ok && fsync(fd) != 0) ok = 0, e = errno;
    if (close(fd) != 0 && ok) ok = 0, e = errno;
    /* rename is atomic: a reader sees the old file, the new one, or none */
    if (!ok || renameat(dfd, tmp, dfd, name) != 0) {
        warn_disk_once(dir, strerror(ok ? errno : (e ? e : EIO)));
        unlinkat(dfd, tmp, 0);
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

static ddx_status nvrtc_build(const char *src, const char *arch, int fresh, ddx_kernel_binary *out, char *err,
                              size_t cap) {
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

    /* memory (a fresh build first drops the entry: it did not load) */
    pthread_mutex_lock(&g_cache_lock);
    for (mem_entry **pe = &g_mem_cache; fresh && *pe;) {
        mem_entry *e = *pe;
        if (e->key.a == key.a && e->key.b == key.b) {
            *pe = e->next;
            ddx_kernel_binary_free(&e->bin);
            free(e);
        } else {
            pe = &e->next;
        }
    }
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
    char dir[1024], name[64], why[160];
    ddx_nvrtc_cache_dir(dir, sizeof dir);
    snprintf(name, sizeof name, "%016llx%016llx.%s", (unsigned long long)key.a, (unsigned long long)key.b,
             strncmp(arch, "compute_", 8) == 0 ? "ptx" : "cubin");
    ddx_status st = DDX_OK;
    int dfd = open_cache_dir(dir, 1, why, sizeof why);
    if (dfd < 0) warn_disk_once(dir[0] ? dir : "(none)", why);
    if (dfd >= 0 && !fresh && disk_load(dfd, name, key, out) == 0) {
        out->cache = 2;
    } else {
        st = nvrtc_compile(src, arch, opts, nopts, out, err, cap);
        if (st != DDX_OK) {
            if (dfd >= 0) close(dfd);
            return st;
        }
        out->cache = 0;
        if (dfd >= 0) disk_store(dfd, dir, name, key, out);
    }
    if (dfd >= 0) close(dfd);

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

ddx_status ddx_nvrtc_build(const char *src, const char *arch, ddx_kernel_binary *out, char *err, size_t cap) {
    return nvrtc_build(src, arch, 0, out, err, cap);
}

ddx_status ddx_nvrtc_rebuild(const char *src, const char *arch, ddx_kernel_binary *out, char *err, size_t cap) {
    return nvrtc_build(src, arch, 1, out, err, cap);
}
