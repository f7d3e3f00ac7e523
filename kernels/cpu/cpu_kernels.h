/* cpu_kernels.h — the CPU hot kernels, compiled once per ISA variant
 * (kernels/cpu/isa_*.c include cpu_variant.h with their own -m flags and
 * register tile) and chosen once at start-up (cpu_dispatch.c): one build
 * runs the AVX-512 kernels on an AVX-512 CPU, AVX2 on an AVX2 one, and
 * never an instruction the CPU lacks. DDX_CPU_ISA forces a variant. */
#ifndef DDX_CPU_KERNELS_H
#define DDX_CPU_KERNELS_H
#include <stddef.h>
#include "host/compiler/jet_program.h"

/* One tile of np <= P points through the whole program. fuse[i] != 0 marks
 * a DENSE instruction i whose output only the UNARY i + 1 reads (see
 * ddx_cpu_fuse_plan): both run as one GEMM + Faa di Bruno epilogue.
 * scratch holds ddx_cpu_scratch_len(p, fuse) reals. */
typedef void (*ddx_tile_f32_fn)(const jet_program *p, const unsigned char *fuse, float *ws, float *scratch, int P,
                                int np, const float *pts, float *out);
typedef void (*ddx_tile_f64_fn)(const jet_program *p, const unsigned char *fuse, double *ws, double *scratch, int P,
                                int np, const double *pts, double *out);
typedef void (*ddx_gemm_f32_fn)(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                                int ldc);
typedef void (*ddx_gemm_f64_fn)(int M, int N, int K, const double *A, int lda, const double *B, int ldb, double *C,
                                int ldc);

typedef struct ddx_cpu_kernels {
    const char *name;    /* "avx512", "avx2", "generic", "neon" */
    unsigned needs;      /* DDX_CPUF_* bits the CPU must have */
    int mr, nb_f32, nb_f64; /* register tile: MR rows x NB columns */
    int fuse;            /* run dense + activation fused (measured faster on this ISA) */
    ddx_gemm_f32_fn gemm_f32;
    ddx_gemm_f64_fn gemm_f64;
    ddx_tile_f32_fn tile_f32;
    ddx_tile_f64_fn tile_f64;
} ddx_cpu_kernels;

/* CPU feature bits (a mask, so dispatch is testable without the CPU). */
enum {
    DDX_CPUF_AVX2 = 1u,   /* AVX2 + FMA */
    DDX_CPUF_AVX512 = 2u, /* AVX-512 F, BW, DQ, VL */
    DDX_CPUF_NEON = 4u    /* AdvSIMD (every armv8-a) */
};

/* What this CPU (and OS) supports. */
unsigned ddx_cpu_features(void);
/* The variants this build contains, best first; NULL-terminated. */
const ddx_cpu_kernels *const *ddx_cpu_variants(void);
/* The variant for a feature mask: `request` (a name; NULL, "" or "auto"
 * means the best the mask allows). NULL plus a one-line reason in err when
 * the request is unknown, not built here, or needs what the mask lacks. */
const ddx_cpu_kernels *ddx_cpu_choose(unsigned mask, const char *request, char *err, size_t cap);
/* The variant this process uses: chosen once from ddx_cpu_features() and
 * the DDX_CPU_ISA environment variable; NULL + err as above. */
const ddx_cpu_kernels *ddx_cpu_active(char *err, size_t cap);

/* Makes k the active variant for programs compiled from now on (tests
 * run every variant in one process; k must suit this CPU). */
void ddx_cpu_use(const ddx_cpu_kernels *k);

/* host/cpu/cpu_fuse.c: marks the fusable DENSE -> UNARY pairs of p (fuse has n_instr bytes):
 * whole-jet ones when dense_pairs (the variant's `fuse`), block-sparse ones always;
 * returns how many. */
int ddx_cpu_fuse_plan(const jet_program *p, unsigned char *fuse, int dense_pairs);
/* Reals of per-thread scratch the fused pairs need (0 if none). */
size_t ddx_cpu_scratch_len(const jet_program *p, const unsigned char *fuse);

/* The bound of the fused path's scratch: strips of <= 64 points, MR <= 16. */
#define DDX_CPU_NB_MAX 64
#define DDX_CPU_MR_MAX 16

#endif
