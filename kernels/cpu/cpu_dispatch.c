/* cpu_dispatch.c — picks the CPU kernel variant once per process (baseline
 * code: it must run on every CPU, so it holds no variant's instructions).
 * The choice is a function of a feature mask, so a test can ask what an
 * AVX2-only or a plain CPU would get; DDX_CPU_ISA overrides it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/gemm_kernel.h"

extern const ddx_cpu_kernels ddx_cpu_kernels_avx512, ddx_cpu_kernels_avx2, ddx_cpu_kernels_neon,
    ddx_cpu_kernels_generic;

static const ddx_cpu_kernels *const variants[] = {
#if defined(__x86_64__)
    &ddx_cpu_kernels_avx512, &ddx_cpu_kernels_avx2,
#elif defined(__aarch64__)
    &ddx_cpu_kernels_neon,
#endif
    &ddx_cpu_kernels_generic, NULL};

static const char *const known[] = {"avx512", "avx2", "neon", "generic"};

unsigned ddx_cpu_features(void) {
    unsigned m = 0;
#if defined(__x86_64__)
    /* libgcc's checks include the OS's XSAVE state (XGETBV), not only cpuid */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) m |= DDX_CPUF_AVX2;
    if ((m & DDX_CPUF_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        m |= DDX_CPUF_AVX512;
#elif defined(__aarch64__)
#if defined(__linux__) && defined(HWCAP_ASIMD)
    if (getauxval(AT_HWCAP) & HWCAP_ASIMD) m |= DDX_CPUF_NEON;
#else
    m |= DDX_CPUF_NEON; /* AdvSIMD is part of armv8-a */
#endif
#endif
    return m;
}

const ddx_cpu_kernels *const *ddx_cpu_variants(void) { return variants; }

const ddx_cpu_kernels *ddx_cpu_choose(unsigned mask, const char *request, char *err, size_t cap) {
    const int automatic = !request || !*request || !strcmp(request, "auto");
    for (int i = 0; variants[i]; i++) {
        const ddx_cpu_kernels *k = variants[i];
        if (!automatic && strcmp(request, k->name)) continue;
        if ((k->needs & mask) == k->needs) return k;
        if (automatic) continue; /* the next best */
        snprintf(err, cap, "DDX_CPU_ISA=%s: this CPU lacks the %s instructions (best here: %s)", request, k->name,
                 ddx_cpu_choose(mask, NULL, err, cap)->name);
        return NULL;
    }
    if (automatic) return &ddx_cpu_kernels_generic; /* not reached: generic needs nothing */
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(request, known[i])) {
            snprintf(err, cap, "DDX_CPU_ISA=%s: not built for this architecture", request);
            return NULL;
        }
    snprintf(err, cap, "DDX_CPU_ISA=%s: unknown (avx512, avx2, neon, generic or auto)", request);
    return NULL;
}

/* Chosen once; the environment is read once (a process-wide setting).
 * pthread_once rather than a named OpenMP critical section, which would
 * export a .gomp_critical_user_* symbol from libddx.so. */
static const ddx_cpu_kernels *active;
static char active_err[160];
static pthread_once_t active_once = PTHREAD_ONCE_INIT;

static void choose_active(void) {
    __atomic_store_n(&active, ddx_cpu_choose(ddx_cpu_features(), getenv("DDX_CPU_ISA"), active_err, sizeof active_err),
                     __ATOMIC_RELEASE);
}

const ddx_cpu_kernels *ddx_cpu_active(char *err, size_t cap) {
    pthread_once(&active_once, choose_active);
    const ddx_cpu_kernels *k = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (!k && err) snprintf(err, cap, "%s", active_err);
    return k;
}

void ddx_cpu_use(const ddx_cpu_kernels *k) {
    ddx_cpu_active(NULL, 0); /* the once-only choice is made, so it cannot undo this */
    __atomic_store_n(&active, k, __ATOMIC_RELEASE);
}

/* Without a usable variant (bad DDX_CPU_ISA) these fall back to generic:
 * they have no error channel; compile and eval report the error. */
static const ddx_cpu_kernels *gemm_variant(void) {
    const ddx_cpu_kernels *k = ddx_cpu_active(NULL, 0);
    return k ? k : &ddx_cpu_kernels_generic;
}

void ddx_gemm_f32(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc) {
    gemm_variant()->gemm_f32(M, N, K, A, lda, B, ldb, C, ldc);
}

void ddx_gemm_f64(int M, int N, int K, const double *A, int lda, const double *B, int ldb, double *C, int ldc) {
    gemm_variant()->gemm_f64(M, N, K, A, lda, B, ldb, C, ldc);
}
