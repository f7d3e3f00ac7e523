/* cli_bench.c — `ddx bench`: warm-up, R timed runs, median and spread;
 * points/s, useful GFLOP/s (the compiler's FLOP count) and, on the CPU, its
 * fraction of a large OpenBLAS/BLIS GEMM on all cores (the reference) and
 * of ddx's own GEMM kernel, both measured on the same machine in the same
 * run (tools/calibrate.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/array_io.h"
#include "tools/calibrate.h"
#include "tools/cli/cli.h"
#include "kernels/cpu/cpu_kernels.h"


static const char *HELP =
    "usage: ddx bench --model SPEC --derivs LIST [--n N] [--points IN] [--device auto|cpu|cuda]\n"
    "                 [--precision f32|f64] [--repeat R] [--json FILE] [--threads T]\n"
    "                 [--strategy auto|fused|cublas] [--check-rows K]\n"
    "  N defaults to 2^20 uniform points in [0,1]^d (or the rows of --points, cycled).\n"
    "  One warm-up run, then R (default 5) timed runs: prints the median, min and max,\n"
    "  points/s, useful GFLOP/s, and on the CPU its fraction of a large SGEMM/DGEMM on\n"
    "  all cores through OpenBLAS or BLIS (loaded at run time; skipped when neither is\n"
    "  installed) and of ddx's own GEMM kernel. The CPU kernel variant is printed\n"
    "  (DDX_CPU_ISA=avx512|avx2|generic|neon forces one).\n"
    "  --check-rows K: afterwards, K rows spread over the whole batch are evaluated\n"
    "  again on the CPU in float64 and compared column by column (exit 1 when a\n"
    "  column is off by more than its order's tolerance: ddx check's for f32, 1e-9 for f64).\n";

static void cpu_model(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, cap, "%s", c);
            }
            break;
        }
    fclose(f);
}

/* Re-evaluates k rows spread over [0, n) on the CPU in float64 and compares
 * them with out (the benchmarked run): a streamed or chunked run must agree
 * with the plain one everywhere in the batch, not just at its start. */
static int check_rows(const cli_opts *o, const cli_job *job, const void *pts, const void *out, int64_t n, int k,
                      double *worst_out) {
    const int d = ddx_graph_num_inputs(job->model.g), K = job->cols.n;
    const int f32 = o->precision == DDX_F32;
    if (k > n) k = (int)n;
    double *x = malloc(sizeof(double) * (size_t)k * d), *ref = malloc(sizeof(double) * (size_t)k * K);
    double *got = malloc(sizeof(double) * (size_t)k * K), *colmax = calloc((size_t)K, sizeof(double));
    ddx_program *cpu = NULL;
    int rc = 1;
    if (!x || !ref || !got || !colmax) {
        cli_fail("bench", "out of memory for --check-rows");
        goto done;
    }
    for (int j = 0; j < k; j++) {
        int64_t r = k > 1 ? (int64_t)((double)j * (double)(n - 1) / (k - 1)) : 0;
        for (int i = 0; i < d; i++)
            x[j * d + i] = f32 ? ((const float *)pts)[r * d + i] : ((const double *)pts)[r * d + i];
        for (int c = 0; c < K; c++)
            got[j * K + c] = f32 ? ((const float *)out)[r * K + c] : ((const double *)out)[r * K + c];
    }
    ddx_compile_options co;
    ddx_compile_options_default(&co);
    co.device = DDX_DEVICE_CPU;
    co.precision = DDX_F64;
    if (ddx_compile(job->model.g, job->cols.cols, K, &co, &cpu) != DDX_OK) {
        cli_fail("bench", "check: CPU compile: %s", ddx_graph_error(job->model.g));
        goto done;
    }
    if (ddx_program_eval(cpu, x, k, ref) != DDX_OK) {
        cli_fail("bench", "check: CPU eval: %s", ddx_program_error(cpu));
        goto done;
    }
    for (int j = 0; j < k * K; j++)
        if (fabs(ref[j]) > colmax[j % K]) colmax[j % K] = fabs(ref[j]);
    int bad = 0;
    double worst = 0;
    const double floor_frac = cli_rel_floor(o->precision);
    printf("  check: %d rows spread over the batch vs CPU float64 (err: |d| / max(|ref|, %g max(max|ref|, 1)))\n", k,
           floor_frac);
    for (int c = 0; c < K; c++) {
        double w = cli_column_error(ref + c, got + c, k, K, o->precision); /* check's rule */
        int order = cli_node_order(job->model.g, job->cols.cols[c]);
        double tol = f32 ? cli_check_tolerance(DDX_F32, order) : 1e-9;
        int ok = w <= tol;
        bad += !ok;
        if (!(w <= worst)) worst = w;
        printf("    %-32s order %d  max rel err %.3e  (tol %.0e) %s\n", job->cols.names[c], order, w, tol,
               ok ? "ok" : "FAIL");
    }
    *worst_out = worst;
    if (bad) {
        cli_fail("bench", "check: %d column(s) differ from the CPU float64 result", bad);
        goto done;
    }
    rc = 0;
done:
    ddx_program_free(cpu);
    free(x);
    free(ref);
    free(got);
    free(colmax);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "bench", "model derivs n points inputs device precision strategy repeat json threads tile check-rows header-names collapse",
                  &o))
        return 2;
    /* a bad --json path must not cost the whole benchmark */
    if (o.json && cli_check_output("bench", "--json", o.json, o.points)) return 1;
    cli_job job;
    if (cli_build(&o, &job, "bench")) return 1;
    int rc = 1;
    ddx_array src = {0};
    void *pts = NULL, *out = NULL;
    double *times = NULL;
    const int d = ddx_graph_num_inputs(job.model.g), K = job.cols.n;
    const size_t es = o.precision == DDX_F32 ? 4 : 8;
    if (o.points && cli_read_points("bench", o.points, job.model.g, &src)) goto done;
    if (o.points) cli_note_narrowing("bench", o.points, &src, o.precision);
    if (o.points && ddx_array_convert(&src, DDX_F64)) goto done;
    if (!o.n) o.n = o.points ? src.rows : (int64_t)1 << 20;
    if (cli_check_memory("bench", o.n, d, K, es, "bench")) goto done;
    pts = malloc(es * (size_t)o.n * d);
    out = malloc(es * (size_t)o.n * K);
    times = malloc(sizeof(double) * (size_t)o.repeat);
    if (!pts || !out || !times) {
        cli_fail("bench", "out of memory for %lld points", (long long)o.n);
        goto done;
    }
    /* made in place (no double copy: batches may be most of the host's memory) */
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < o.n * d; i++) {
        double v = o.points ? ((double *)src.data)[(i / d) % src.rows * d + i % d] : cli_uniform_at(7, i);
        if (o.precision == DDX_F32) ((float *)pts)[i] = (float)v;
        else ((double *)pts)[i] = v;
    }
    if (cli_compile(&o, &job, "bench")) goto done;
    int tty = isatty(2);
    for (int r = -1; r < o.repeat; r++) { /* r = -1: warm-up */
        if (tty) fprintf(stderr, "\rddx bench: %s run %d/%d ", r < 0 ? "warm-up" : "timed", r + 1, o.repeat);
        double t0 = cli_now();
        if (ddx_program_eval(job.prog, pts, o.n, out) != DDX_OK) {
            if (tty) fputc('\n', stderr);
            cli_fail("bench", "%s", ddx_program_error(job.prog));
            goto done;
        }
        if (r >= 0) times[r] = cli_now() - t0;
    }
    if (tty) fprintf(stderr, "\r%40s\r", "");
    qsort(times, (size_t)o.repeat, sizeof(double), cmp_double);
    double med = times[o.repeat / 2], fpp = ddx_program_flops_per_point(job.prog);
    int cuda = ddx_program_device(job.prog) == DDX_DEVICE_CUDA;
    double peak = cuda ? 0 : ddx_cpu_gemm_gflops(o.precision);
    char ref_lib[160] = "";
    const ddx_cpu_kernels *isa = cuda ? NULL : ddx_cpu_active(NULL, 0);
    double ref = cuda ? 0 : ddx_blas_gemm_gflops(o.precision, o.threads, isa ? isa->name : NULL, ref_lib, sizeof ref_lib);
    double gflops = (double)o.n * fpp / med / 1e9;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("ddx bench: %s  %s\n", o.model, o.derivs);
    printf("  device %s (%s%s%s), %s, N = %lld, repeat %d\n", cuda ? "cuda" : "cpu", cuda ? "GPU" : cpu,
           isa ? ", kernels " : "", isa ? isa->name : "", o.precision == DDX_F32 ? "f32" : "f64", (long long)o.n,
           o.repeat);
    printf("  compile %.4f s\n", job.compile_s);
    printf("  run median %.4f s (min %.4f, max %.4f)\n", med, times[0], times[o.repeat - 1]);
    printf("  %.4g points/s, %.0f useful FLOP/point, %.2f GFLOP/s", (double)o.n / med, fpp, gflops);
    printf("\n");
    if (ref > 0) printf("  = %.1f%% of the reference %s, all cores: %.1f GFLOP/s\n", 100 * gflops / ref, ref_lib, ref);
    else if (!cuda) printf("  reference GEMM skipped: %s\n", ref_lib);
    if (ref > 0 && (ddx_cpu_features() & DDX_CPUF_AVX2) &&
        (strstr(ref_lib, "Prescott") || strstr(ref_lib, "Core2") || strstr(ref_lib, "Nehalem")))
        printf("  note: OpenBLAS took an SSE kernel on this AVX2 CPU (misdetection); for a fair reference set\n"
               "  OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2)\n");
    if (peak > 0) printf("  = %.1f%% of ddx's own GEMM kernel (%s): %.1f GFLOP/s\n", 100 * gflops / peak, isa ? isa->name : "?", peak);
    double check_worst = -1;
    int check_failed = o.check_rows && check_rows(&o, &job, pts, out, o.n, o.check_rows, &check_worst);
    if (o.json) {
        ddx_atomic at; /* replaced whole or not at all */
        char aerr[512];
        if (ddx_atomic_open(&at, o.json, aerr, sizeof aerr)) {
            cli_fail("bench", "cannot write '%s': %s", o.json, aerr);
            goto done;
        }
        FILE *f = at.f;
        fprintf(f,
                "{\"system\": \"ddx\", \"model\": \"%s\", \"derivs\": \"%s\", \"device\": \"%s\", \"cpu\": \"%s\",\n"
                " \"precision\": \"%s\", \"n\": %lld, \"repeat\": %d, \"compile_s\": %.6g,\n"
                " \"median_s\": %.6g, \"min_s\": %.6g, \"max_s\": %.6g, \"points_per_s\": %.6g,\n"
                " \"flops_per_point\": %.6g, \"gflops\": %.6g, \"peak_gflops\": %.6g, \"peak_fraction\": %.4g,\n"
                " \"cpu_isa\": \"%s\", \"ref_gemm\": \"%s\", \"ref_gflops\": %.6g, \"ref_fraction\": %.4g,\n"
                " \"check_rows\": %d, \"check_worst_rel_err\": %.6g, \"check_ok\": %s}\n",
                o.model, o.derivs, cuda ? "cuda" : "cpu", cpu, o.precision == DDX_F32 ? "f32" : "f64",
                (long long)o.n, o.repeat, job.compile_s, med, times[0], times[o.repeat - 1], (double)o.n / med, fpp,
                gflops, peak, peak > 0 ? gflops / peak : 0.0, isa ? isa->name : "", ref_lib, ref,
                ref > 0 ? gflops / ref : 0.0, o.check_rows, isfinite(check_worst) ? check_worst : 1e300,
                o.check_rows ? (check_failed ? "false" : "true") : "null");
        if (ddx_atomic_close(&at, aerr, sizeof aerr) || ddx_atomic_commit(&at, aerr, sizeof aerr)) {
            ddx_atomic_abort(&at);
            cli_fail("bench", "cannot write '%s': %s", o.json, aerr);
            goto done;
        }
    }
    rc = check_failed ? 1 : 0;
done:
    free(pts);
    free(out);
    free(times);
    ddx_array_free(&src);
    cli_job_free(&job);
    return rc;
}
