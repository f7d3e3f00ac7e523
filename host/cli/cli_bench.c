/* cli_bench.c — `ddx bench`: warm-up, R timed runs, median and spread;
 * points/s, useful GFLOP/s (the compiler's FLOP count) and its fraction of
 * a calibration GEMM measured on the same machine in the same run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_io.h"
#include "cli.h"

int cli_wants_help(int argc, char **argv, const char *help);
int cli_read_points(const char *cmd, const char *path, const ddx_graph *g, ddx_array *pts);

static const char *HELP =
    "usage: ddx bench --model SPEC --derivs LIST [--n N] [--points IN] [--device auto|cpu|cuda]\n"
    "                 [--precision f32|f64] [--repeat R] [--json FILE] [--threads T]\n"
    "  N defaults to 2^20 uniform points in [0,1]^d (or the rows of --points, cycled).\n"
    "  One warm-up run, then R (default 5) timed runs: prints the median, min and max,\n"
    "  points/s, useful GFLOP/s, and the fraction of a calibration GEMM's rate.\n";

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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int cmd_bench(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "bench", "model derivs n points inputs device precision strategy repeat json threads tile",
                  &o))
        return 2;
    cli_job job;
    if (cli_build(&o, &job, "bench")) return 1;
    int rc = 1;
    ddx_array src = {0};
    void *pts = NULL, *out = NULL;
    double *times = NULL;
    const int d = ddx_graph_num_inputs(job.model.g), K = job.cols.n;
    const size_t es = o.precision == DDX_F32 ? 4 : 8;
    if (o.points && cli_read_points("bench", o.points, job.model.g, &src)) goto done;
    if (o.points && ddx_array_convert(&src, DDX_F64)) goto done;
    if (!o.n) o.n = o.points ? src.rows : (int64_t)1 << 20;
    pts = malloc(es * (size_t)o.n * d);
    out = malloc(es * (size_t)o.n * K);
    times = malloc(sizeof(double) * (size_t)o.repeat);
    if (!pts || !out || !times) {
        cli_fail("bench", "out of memory for %lld points", (long long)o.n);
        goto done;
    }
    {
        double *tmp = o.points ? NULL : malloc(sizeof(double) * (size_t)o.n * d);
        if (!o.points && !tmp) goto done;
        if (tmp) cli_uniform_points(tmp, o.n, d, 7);
        for (int64_t i = 0; i < o.n * d; i++) {
            double v = tmp ? tmp[i] : ((double *)src.data)[(i / d) % src.rows * d + i % d];
            if (o.precision == DDX_F32) ((float *)pts)[i] = (float)v;
            else ((double *)pts)[i] = v;
        }
        free(tmp);
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
    double gflops = (double)o.n * fpp / med / 1e9;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("ddx bench: %s  %s\n", o.model, o.derivs);
    printf("  device %s (%s), %s, N = %lld, repeat %d\n", cuda ? "cuda" : "cpu", cuda ? "GPU" : cpu,
           o.precision == DDX_F32 ? "f32" : "f64", (long long)o.n, o.repeat);
    printf("  compile %.4f s\n", job.compile_s);
    printf("  run median %.4f s (min %.4f, max %.4f)\n", med, times[0], times[o.repeat - 1]);
    printf("  %.4g points/s, %.0f useful FLOP/point, %.2f GFLOP/s", (double)o.n / med, fpp, gflops);
    if (peak > 0) printf(" = %.1f%% of calibration GEMM (%.1f GFLOP/s)\n", 100 * gflops / peak, peak);
    else printf("\n");
    if (o.json) {
        FILE *f = fopen(o.json, "w");
        if (!f) {
            cli_fail("bench", "cannot write '%s'", o.json);
            goto done;
        }
        fprintf(f,
                "{\"system\": \"ddx\", \"model\": \"%s\", \"derivs\": \"%s\", \"device\": \"%s\", \"cpu\": \"%s\",\n"
                " \"precision\": \"%s\", \"n\": %lld, \"repeat\": %d, \"compile_s\": %.6g,\n"
                " \"median_s\": %.6g, \"min_s\": %.6g, \"max_s\": %.6g, \"points_per_s\": %.6g,\n"
                " \"flops_per_point\": %.6g, \"gflops\": %.6g, \"peak_gflops\": %.6g, \"peak_fraction\": %.4g}\n",
                o.model, o.derivs, cuda ? "cuda" : "cpu", cpu, o.precision == DDX_F32 ? "f32" : "f64",
                (long long)o.n, o.repeat, job.compile_s, med, times[0], times[o.repeat - 1], (double)o.n / med, fpp,
                gflops, peak, peak > 0 ? gflops / peak : 0.0);
        fclose(f);
    }
    rc = 0;
done:
    free(pts);
    free(out);
    free(times);
    ddx_array_free(&src);
    cli_job_free(&job);
    return rc;
}
