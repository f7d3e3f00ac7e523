/* cli_check.c — `ddx check`: every column against float64 Richardson
 * finite differences on the first --rows points; prints the worst relative
 * error per column and fails when one is above its order's tolerance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/array_io.h"
#include "tools/check_tolerance.h"
#include "tools/cli/cli.h"
#include "tools/fd_reference.h"


static const char *HELP =
    "usage: ddx check --model SPEC --derivs LIST --points IN [--precision f32|f64] [--rows N]\n"
    "                 [--inputs t,x] [--device auto|cpu|cuda]\n"
    "  Compares ddx with float64 Richardson-extrapolated central differences on the\n"
    "  first N rows (default 16). Error: |ddx - ref| / max(|ref|, F * max(max|ref|, 1))\n"
    "  over the column, F = 1e-3 in f64 and 1e-2 in f32 (absolute where ref is ~0).\n"
    "  Exit 1 when a column exceeds the tolerance of its derivative order.\n";

/* The rules live in tools/check_tolerance.c (shared with the Python package):
 * one error rule for check, demo and bench --check-rows. */
double cli_rel_floor(ddx_precision p) { return ddx_check_rel_floor(p); }
double cli_check_tolerance(ddx_precision p, int order) { return ddx_check_tolerance(p, order); }
double cli_column_error(const double *ref, const double *got, int64_t n, int64_t stride, ddx_precision p) {
    return ddx_check_column_error(ref, got, n, stride, p);
}

/* A stochastic Laplacian column (laplacian(y, samples=S, ...)): its FD
 * check above is along its own random directions; here it is set against
 * the exact operator, with the estimator's closed-form variance
 * 2 sum_{i!=j} H_ij^2 / S (Rademacher) or 2 ||H||_F^2 / S (Gaussian), both
 * from a float64 ddx program of laplacian(y) and hessian(y). Small d only. */
static void report_stochastic(cli_job *job, int k, const double *pts, int64_t n, int d, const double *est, int K) {
    const char *nm = job->cols.names[k];
    const char *sp = strstr(nm, "samples=");
    if (strncmp(nm, "laplacian(", 10) != 0 || !sp) return;
    int S = atoi(sp + 8), gauss = strstr(nm, "dist=gaussian") != NULL;
    if (d > 64) {
        printf("  %s: estimator variance not reported for d = %d > 64\n", nm, d);
        return;
    }
    /* the operand: the first top-level argument */
    char inner[256];
    int depth = 0, len = 0;
    for (const char *c = nm + 10; *c && len < 255; c++) {
        if (*c == '(') depth++;
        if (*c == ')') depth--;
        if ((*c == ',' && depth == 0) || depth < 0) break;
        inner[len++] = *c;
    }
    inner[len] = 0;
    ddx_graph *g = job->model.g;
    ddx_node y, *outs = malloc(sizeof(ddx_node) * (size_t)(1 + d * d));
    double *v = malloc(sizeof(double) * (size_t)n * (size_t)(1 + d * d));
    char err[256];
    ddx_program *p = NULL;
    ddx_compile_options co;
    ddx_compile_options_default(&co);
    co.device = DDX_DEVICE_CPU;
    co.precision = DDX_F64;
    if (!outs || !v || ddx_parse_expr(g, &job->model.outputs, inner, &y, err, sizeof err) ||
        (outs[0] = ddx_laplacian(g, y)) == DDX_NO_NODE || ddx_hessian(g, y, outs + 1) ||
        ddx_compile(g, outs, 1 + d * d, &co, &p) || ddx_program_eval(p, pts, n, v)) {
        printf("  %s: exact operator not available (%s)\n", nm, ddx_graph_error(g));
        ddx_graph_clear_error(g);
    } else {
        double se = 0, var = 0, ex = 0;
        for (int64_t i = 0; i < n; i++) {
            const double *r = v + i * (1 + d * d), *H = r + 1;
            double h2 = 0;
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++)
                    if (gauss || a != b) h2 += H[a * d + b] * H[a * d + b];
            se += (est[i * K + k] - r[0]) * (est[i * K + k] - r[0]) / (double)n;
            var += 2 * h2 / S / (double)n;
            ex += fabs(r[0]) / (double)n;
        }
        printf("  %s: STDE (%s, S = %d) vs exact laplacian: RMS error %.4g, closed-form SD %.4g "
               "(mean |exact| %.4g) over %lld points\n",
               nm, gauss ? "gaussian" : "rademacher", S, sqrt(se), sqrt(var), ex, (long long)n);
    }
    ddx_program_free(p);
    free(outs);
    free(v);
}

int cmd_check(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "check", "model derivs points inputs device precision rows threads header-names collapse", &o)) return 2;
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
    double *x = malloc(sizeof(double) * (size_t)(d ? d : 1)); /* d is a run-time size */
    if (!x) goto done;
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            /* the reference sees the point as ddx saw it */
            for (int j = 0; j < d; j++) {
                double v = ((double *)pts.data)[i * d + j];
                x[j] = o.precision == DDX_F32 ? (double)(float)v : v;
            }
            ref[i * K + k] = fd_eval(job.model.g, job.cols.cols[k], x);
        }
    free(x);
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
    for (int k = 0; k < K; k++) report_stochastic(&job, k, pts.data, n, d, outd, K);
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
