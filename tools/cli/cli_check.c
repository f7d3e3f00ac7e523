/* cli_check.c — `ddx check`: every column against float64 Richardson
 * finite differences on the first --rows points; prints the worst relative
 * error per column and fails when one is above its order's tolerance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/array_io.h"
#include "tools/cli/cli.h"
#include "tools/fd_reference.h"

int cli_wants_help(int argc, char **argv, const char *help);
int cli_read_points(const char *cmd, const char *path, const ddx_graph *g, ddx_array *pts);

static const char *HELP =
    "usage: ddx check --model SPEC --derivs LIST --points IN [--precision f32|f64] [--rows N]\n"
    "                 [--inputs t,x] [--device auto|cpu|cuda]\n"
    "  Compares ddx with float64 Richardson-extrapolated central differences on the\n"
    "  first N rows (default 16). Error: |ddx - ref| / max(|ref|, F * max(max|ref|, 1))\n"
    "  over the column, F = 1e-3 in f64 and 1e-2 in f32 (absolute where ref is ~0).\n"
    "  Exit 1 when a column exceeds the tolerance of its derivative order.\n";

/* Tolerances per derivative order: the finite-difference reference itself
 * is good to ~1e-9 at order 1 and ~1e-6 at order 4 in f64. */
/* Floor of the relative error's denominator, as a fraction of the column's
 * largest |ref|: values near a zero crossing are judged against the column's
 * scale, which is what rounding is relative to. */
double cli_rel_floor(ddx_precision p) { return p == DDX_F32 ? 1e-2 : 1e-3; }

/* The one error rule of check, demo and bench --check-rows: worst over the
 * column of |got - ref| / max(|ref|, F * max(scale, 1)), scale = max |ref|.
 * The floor makes it an absolute error where the reference is near zero:
 * the finite-difference reference's own error scales with the function, not
 * with a derivative that vanishes (d/dx tanh(x) at x = 20 is 1.7e-17, its
 * FD reference exactly 0). A non-finite reference must be matched (NaN by
 * anything, inf by a non-finite value); a NaN result fails. */
double cli_column_error(const double *ref, const double *got, int64_t n, int64_t stride, ddx_precision p) {
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i * stride]) && fabs(ref[i * stride]) > scale) scale = fabs(ref[i * stride]);
    const double floor = cli_rel_floor(p) * fmax(scale, 1.0);
    for (int64_t i = 0; i < n; i++) {
        double r = ref[i * stride], v = got[i * stride];
        if (!isfinite(r)) {
            if (isfinite(v) && !isnan(r)) worst = INFINITY;
            continue;
        }
        double e = fabs(v - r) / fmax(fabs(r), floor);
        if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

double cli_check_tolerance(ddx_precision p, int order) {
    static const double f64[] = {1e-12, 1e-8, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e-1};
    /* f32 order 0: an output summed over a deep network carries a few ulp of
     * the column's scale (measured 2.3e-7 of max|u| for W1): 1e-5 of a 1e-3
     * floor failed by rounding alone near zero crossings. */
    static const double f32[] = {1e-4, 1e-4, 1e-3, 1e-2, 5e-2, 1e-1, 1e-1, 1e-1, 1e-1};
    if (order > 8) order = 8;
    return p == DDX_F64 ? f64[order] : f32[order];
}

int cmd_check(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "check", "model derivs points inputs device precision rows threads header-names", &o)) return 2;
    if (!o.points) return cli_fail("check", "--points is required");
    cli_job job;
    if (cli_build(&o, &job, "check")) return 1;
    ddx_array pts = {0};
    int rc = 1;
    double *outd = NULL, *ref = NULL;
    if (cli_read_points("check", o.points, job.model.g, &pts)) goto done;
    cli_note_narrowing("check", o.points, &pts, o.precision);
    if (cli_compile(&o, &job, "check")) goto done;
    int64_t n = pts.rows < o.rows ? pts.rows : o.rows;
    int d = pts.cols, K = job.cols.n;
    if (ddx_array_convert(&pts, DDX_F64)) goto done;
    outd = malloc(sizeof(double) * (size_t)(n * K));
    ref = malloc(sizeof(double) * (size_t)(n * K));
    if (!outd || !ref) goto done;
    /* ddx, in the requested precision */
    if (o.precision == DDX_F64) {
        if (ddx_program_eval(job.prog, pts.data, n, outd)) {
            cli_fail("check", "%s", ddx_program_error(job.prog));
            goto done;
        }
    } else {
        float *pf = malloc(sizeof(float) * (size_t)(n * d)), *of = malloc(sizeof(float) * (size_t)(n * K));
        if (!pf || !of) {
            free(pf);
            free(of);
            goto done;
        }
        for (int64_t i = 0; i < n * d; i++) pf[i] = (float)((double *)pts.data)[i];
        ddx_status st = ddx_program_eval(job.prog, pf, n, of);
        for (int64_t i = 0; i < n * K; i++) outd[i] = of[i];
        free(pf);
        free(of);
        if (st) {
            cli_fail("check", "%s", ddx_program_error(job.prog));
            goto done;
        }
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            /* the reference sees the point as ddx saw it */
            double x[DDX_MAX_INPUTS];
            for (int j = 0; j < d; j++) {
                double v = ((double *)pts.data)[i * d + j];
                x[j] = o.precision == DDX_F32 ? (double)(float)v : v;
            }
            ref[i * K + k] = fd_eval(job.model.g, job.cols.cols[k], x);
        }
    printf("ddx check: %lld points, %s, device %s, reference float64 finite differences\n", (long long)n,
           o.precision == DDX_F32 ? "f32" : "f64", ddx_program_device(job.prog) == DDX_DEVICE_CUDA ? "cuda" : "cpu");
    printf("%-32s %5s %12s %10s  %s\n", "column", "order", "max_rel_err", "tolerance", "status");
    int bad = 0;
    for (int k = 0; k < K; k++) {
        double worst = cli_column_error(ref + k, outd + k, n, K, o.precision);
        int order = cli_node_order(job.model.g, job.cols.cols[k]);
        double tol = cli_check_tolerance(o.precision, order);
        int ok = worst <= tol;
        bad += !ok;
        printf("%-32s %5d %12.3e %10.1e  %s\n", job.cols.names[k], order, worst, tol, ok ? "ok" : "FAIL");
    }
    if (bad) {
        cli_fail("check", "%d column(s) above tolerance", bad);
        goto done;
    }
    rc = 0;
done:
    free(outd);
    free(ref);
    ddx_array_free(&pts);
    cli_job_free(&job);
    return rc;
}
