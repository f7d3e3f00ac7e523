/* cli_eval.c — `ddx eval`: points file in, derivative columns out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tools/array_io.h"
#include "tools/cli/cli.h"

static const char *HELP =
    "usage: ddx eval --model SPEC --derivs LIST --points IN --out OUT [--inputs t,x]\n"
    "                [--device auto|cpu|cuda] [--precision f32|f64] [--threads N]\n"
    "  IN:  .npy (f32/f64, N x d, C order) or .csv (header row of names)\n"
    "  OUT: .npy or .csv, N x K, in --precision (default f32); CSV columns are named\n"
    "       after the LIST items (grad/hessian expand to one column per partial)\n"
    "  CSV input columns are matched to the inputs by header name (reordered when\n"
    "  they are a permutation); --header-names ignore takes them by position.\n"
    "  OUT is replaced atomically (temporary + rename); OUT may not be IN.\n"
    "  --device cuda:all or cuda:0,2 splits the batch over several GPUs\n";

int cli_wants_help(int argc, char **argv, const char *help) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 1;
        }
    return 0;
}

extern int cli_header_names_ignore; /* cli_common.c */

/* CSV columns are matched to the model's inputs by name: a permutation is
 * reordered, other names are refused (a swapped x,t silently gave u at the
 * wrong point). c0,c1,... (ddx's own unnamed header) is positional. */
static int match_header(const char *cmd, const char *path, const ddx_graph *g, ddx_array *pts, const char *names) {
    int d = pts->cols, pos = 1, same = 1;
    if (!pts->colnames || cli_header_names_ignore) return 0;
    for (int j = 0; j < d; j++) {
        char c[16];
        snprintf(c, sizeof c, "c%d", j);
        if (strcmp(pts->colnames[j], c)) pos = 0;
    }
    if (pos) return 0;
    int *perm = malloc(sizeof(int) * (size_t)d);
    double *row = malloc(sizeof(double) * (size_t)d);
    if (!perm || !row) {
        free(perm), free(row);
        return cli_fail(cmd, "%s: out of memory", path);
    }
    for (int i = 0; i < d; i++) {
        perm[i] = -1;
        for (int j = 0; j < d; j++)
            if (!strcmp(pts->colnames[j], ddx_graph_input_name(g, i))) perm[i] = j;
        if (perm[i] < 0) {
            char hdr[256] = "";
            size_t l = 0;
            for (int j = 0; j < d && l < sizeof hdr; j++)
                l += (size_t)snprintf(hdr + l, sizeof hdr - l, "%s%s", j ? "," : "", pts->colnames[j]);
            free(perm), free(row);
            return cli_fail(cmd, "%s: header names %s do not match the model's inputs %s (rename the columns, "
                            "or pass --header-names ignore to take them by position)", path, hdr, names);
        }
        same &= perm[i] == i;
    }
    double *v = pts->data; /* CSV data is f64 */
    for (int64_t r = 0; r < pts->rows && !same; r++) {
        for (int i = 0; i < d; i++) row[i] = v[r * d + perm[i]];
        memcpy(v + r * d, row, sizeof(double) * (size_t)d);
    }
    free(perm), free(row);
    if (same) return 0;
    fprintf(stderr, "ddx %s: note: %s: columns reordered by header name to %s\n", cmd, path, names);
    return 0;
}

/* Reads a points file and checks it against the model's inputs. */
int cli_read_points(const char *cmd, const char *path, const ddx_graph *g, ddx_array *pts) {
    char err[512];
    if (ddx_array_read(path, pts, err, sizeof err)) return cli_fail(cmd, "%s", err);
    int d = ddx_graph_num_inputs(g);
    char names[256] = "";
    size_t l = 0;
    for (int i = 0; i < d && l < sizeof names; i++)
        l += (size_t)snprintf(names + l, sizeof names - l, "%s%s", i ? "," : "", ddx_graph_input_name(g, i));
    if (pts->cols != d) {
        int cols = pts->cols;
        ddx_array_free(pts);
        return cli_fail(cmd, "%s: has %d columns, the model takes %d inputs (%s)", path, cols, d, names);
    }
    if (pts->rows == 0) {
        ddx_array_free(pts);
        return cli_fail(cmd, "%s: no points (0 rows)", path);
    }
    if (match_header(cmd, path, g, pts, names)) {
        ddx_array_free(pts);
        return 1;
    }
    return 0;
}

/* Says once that f64 points are narrowed to f32, counting the values that
 * overflow to inf or underflow to 0 on the way (1e39, 1e-46). */
void cli_note_narrowing(const char *cmd, const char *path, const ddx_array *pts, ddx_precision to) {
    if (pts->prec != DDX_F64 || to != DDX_F32) return;
    const double *v = pts->data;
    int64_t over = 0, under = 0, n = pts->rows * pts->cols;
    for (int64_t i = 0; i < n; i++) {
        float f = (float)v[i];
        if (isfinite(v[i]) && isinf(f)) over++;
        else if (v[i] != 0 && f == 0) under++;
    }
    int is_csv = pts->colnames != NULL;
    if (is_csv && !over && !under) return; /* text has no precision of its own */
    fprintf(stderr, "ddx %s: note: %s: float64 points narrowed to float32 (--precision f32); %lld overflow to inf, "
            "%lld underflow to 0\n", cmd, path, (long long)over, (long long)under);
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "eval", "model derivs points out inputs device precision strategy threads tile header-names collapse", &o))
        return 2;
    if (!o.points) return cli_fail("eval", "--points is required");
    if (!o.out) return cli_fail("eval", "--out is required");
    /* checked before any work: a bad --out must not cost the whole run */
    if (cli_check_output("eval", "--out", o.out, o.points)) return 1;
    const char *ext = strrchr(o.out, '.');
    if (!ext || (strcasecmp(ext, ".npy") && strcasecmp(ext, ".csv")))
        return cli_fail("eval", "--out '%s': unknown file extension (expected .npy or .csv)", o.out);
    cli_job job;
    if (cli_build(&o, &job, "eval")) return 1;
    ddx_array pts = {0}, out = {0};
    int rc = 1;
    char err[512];
    if (cli_read_points("eval", o.points, job.model.g, &pts)) goto done;
    if (cli_compile(&o, &job, "eval")) goto done;
    if (cli_check_memory("eval", pts.rows, pts.cols, job.cols.n, o.precision == DDX_F32 ? 4 : 8, "eval"))
        goto done;
    cli_note_narrowing("eval", o.points, &pts, o.precision);
    if (ddx_array_convert(&pts, o.precision)) {
        cli_fail("eval", "out of memory");
        goto done;
    }
    out.rows = pts.rows;
    out.cols = job.cols.n;
    out.prec = o.precision;
    out.data = malloc((size_t)out.rows * (size_t)out.cols * (o.precision == DDX_F32 ? 4 : 8));
    out.colnames = calloc((size_t)out.cols, sizeof(char *));
    if (!out.data || !out.colnames) {
        cli_fail("eval", "out of memory for %lld x %d outputs", (long long)out.rows, out.cols);
        goto done;
    }
    for (int k = 0; k < out.cols; k++) out.colnames[k] = strdup(job.cols.names[k]);
    if (ddx_program_eval(job.prog, pts.data, pts.rows, out.data) != DDX_OK) {
        cli_fail("eval", "%s", ddx_program_error(job.prog));
        goto done;
    }
    if (ddx_array_write(o.out, &out, err, sizeof err)) {
        cli_fail("eval", "%s", err);
        goto done;
    }
    rc = 0;
done:
    ddx_array_free(&pts);
    ddx_array_free(&out);
    cli_job_free(&job);
    return rc;
}
