/* cli_demo.c — `ddx demo`: the main job. Value, gradient and Hessian of a
 * built-in PINN network u(t,x) (2-64-64-64-64-1 tanh) at 2^20 points on the
 * GPU if there is one, else the CPU; prints throughput and checks a sample
 * of rows against float64 finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli/cli.h"
#include "tools/fd_reference.h"


static const char *HELP =
    "usage: ddx demo [--n N] [--device auto|cpu|cuda] [--precision f32|f64] [--repeat R]\n"
    "  u, grad(u), hessian(u) of mlp:2-64-64-64-64-1:tanh at N (default 2^20) points in\n"
    "  [0,1]^2; prints points/s and useful GFLOP/s, then checks 8 rows against float64\n"
    "  Richardson finite differences (exit 1 if a column is off its tolerance).\n";

int cmd_demo(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "demo", "n device precision repeat threads tile", &o)) return 2;
    if (!o.n) o.n = (int64_t)1 << 20;
    if (o.repeat == 5) o.repeat = 3;
    o.model = "mlp:2-64-64-64-64-1:tanh";
    o.derivs = "u,grad(u),hessian(u)";
    cli_job job;
    if (cli_build(&o, &job, "demo")) return 1;
    int rc = 1;
    const int d = 2, K = job.cols.n;
    const size_t es = o.precision == DDX_F32 ? 4 : 8;
    /* f64 staging copy of the points + points and outputs in --precision */
    if (cli_check_memory("demo", o.n, d + (int)((d * 8 + es - 1) / es), K, es, "demo")) {
        cli_job_free(&job);
        return 1;
    }
    double *ptsd = malloc(sizeof(double) * (size_t)o.n * d);
    void *pts = malloc(es * (size_t)o.n * d), *out = malloc(es * (size_t)o.n * K);
    if (!ptsd || !pts || !out) {
        cli_fail("demo", "out of memory for %lld points", (long long)o.n);
        goto done;
    }
    cli_uniform_points(ptsd, o.n, d, 2024);
    for (int64_t i = 0; i < o.n * d; i++) {
        if (o.precision == DDX_F32) ((float *)pts)[i] = (float)ptsd[i];
        else ((double *)pts)[i] = ptsd[i];
    }
    if (cli_compile(&o, &job, "demo")) goto done;
    const char *dev = ddx_program_device(job.prog) == DDX_DEVICE_CUDA ? "cuda" : "cpu";
    printf("ddx demo: %s, derivs %s (%d columns)\n", o.model, o.derivs, K);
    printf("  device %s, %s, N = %lld points in [0,1]^2, compile %.3f s\n", dev,
           o.precision == DDX_F32 ? "f32" : "f64", (long long)o.n, job.compile_s);
    printf("  network channels %d (value, 2 first, 3 second partials), %.0f useful FLOP/point\n",
           ddx_program_network_channels(job.prog), ddx_program_flops_per_point(job.prog));
    double best = INFINITY, times[64];
    int reps = o.repeat > 64 ? 64 : o.repeat;
    for (int r = 0; r < reps; r++) {
        double t0 = cli_now();
        if (ddx_program_eval(job.prog, pts, o.n, out) != DDX_OK) {
            cli_fail("demo", "%s", ddx_program_error(job.prog));
            goto done;
        }
        times[r] = cli_now() - t0;
        if (times[r] < best) best = times[r];
    }
    /* median of the runs */
    for (int i = 1; i < reps; i++)
        for (int j = i; j > 0 && times[j - 1] > times[j]; j--) {
            double t = times[j];
            times[j] = times[j - 1];
            times[j - 1] = t;
        }
    double med = times[reps / 2];
    printf("  eval %.3f s (median of %d, best %.3f s): %.3g points/s, %.1f useful GFLOP/s\n", med, reps, best,
           (double)o.n / med, (double)o.n * ddx_program_flops_per_point(job.prog) / med / 1e9);
    /* checked sample: 8 rows spread over the batch vs float64 FD */
    printf("  sample check against float64 Richardson finite differences (8 rows):\n");
    printf("  %-8s %14s %14s %10s %9s\n", "column", "ddx(row 0)", "reference", "worst rel", "tol");
    int bad = 0;
    for (int k = 0; k < K; k++) {
        double worst = 0, v0 = 0, r0 = 0, scale = 0, refs[8], vals[8];
        for (int s = 0; s < 8; s++) {
            int64_t i = (o.n - 1) * s / 7;
            double x[2];
            for (int j = 0; j < d; j++)
                x[j] = o.precision == DDX_F32 ? (double)((float *)pts)[i * d + j] : ((double *)pts)[i * d + j];
            refs[s] = fd_eval(job.model.g, job.cols.cols[k], x);
            vals[s] = o.precision == DDX_F32 ? (double)((float *)out)[i * K + k] : ((double *)out)[i * K + k];
            if (fabs(refs[s]) > scale) scale = fabs(refs[s]);
        }
        worst = cli_column_error(refs, vals, 8, 1, o.precision);
        v0 = vals[0];
        r0 = refs[0];
        int order = cli_node_order(job.model.g, job.cols.cols[k]);
        double tol = cli_check_tolerance(o.precision, order);
        bad += !(worst <= tol);
        printf("  %-8s %14.7g %14.7g %10.2e %9.0e %s\n", job.cols.names[k], v0, r0, worst, tol,
               worst <= tol ? "ok" : "FAIL");
    }
    if (bad) {
        cli_fail("demo", "%d column(s) disagree with the reference", bad);
        goto done;
    }
    printf("  sample check passed\n");
    rc = 0;
done:
    free(ptsd);
    free(pts);
    free(out);
    cli_job_free(&job);
    return rc;
}
