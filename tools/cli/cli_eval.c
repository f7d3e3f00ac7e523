/* cli_eval.c — `ddx eval`: points file in, derivative columns out. */
#include <stdlib.h>
#include <string.h>

#include "tools/array_io.h"
#include "tools/cli/cli.h"

static const char *HELP =
    "usage: ddx eval --model SPEC --derivs LIST --points IN --out OUT [--inputs t,x]\n"
    "                [--device auto|cpu|cuda] [--precision f32|f64] [--threads N]\n"
    "  IN:  .npy (f32/f64, N x d, C order) or .csv (header row of names)\n"
    "  OUT: .npy or .csv, N x K, in --precision (default f32); CSV columns are named\n"
    "       after the LIST items (grad/hessian expand to one column per partial)\n"
    "  --device cuda:all or cuda:0,2 splits the batch over several GPUs\n";

int cli_wants_help(int argc, char **argv, const char *help) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(help, stdout);
            return 1;
        }
    return 0;
}

/* Reads a points file and checks it against the model's inputs. */
int cli_read_points(const char *cmd, const char *path, const ddx_graph *g, ddx_array *pts) {
    char err[512];
    if (ddx_array_read(path, pts, err, sizeof err)) return cli_fail(cmd, "%s", err);
    int d = ddx_graph_num_inputs(g);
    if (pts->cols != d) {
        char names[256] = "";
        size_t l = 0;
        for (int i = 0; i < d && l < sizeof names; i++)
            l += (size_t)snprintf(names + l, sizeof names - l, "%s%s", i ? "," : "", ddx_graph_input_name(g, i));
        int cols = pts->cols;
        ddx_array_free(pts);
        return cli_fail(cmd, "%s: has %d columns, the model takes %d inputs (%s)", path, cols, d, names);
    }
    if (pts->rows == 0) {
        ddx_array_free(pts);
        return cli_fail(cmd, "%s: no points (0 rows)", path);
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv, HELP)) return 0;
    cli_opts o;
    if (cli_parse(argc, argv, "eval", "model derivs points out inputs device precision strategy threads tile", &o))
        return 2;
    if (!o.points) return cli_fail("eval", "--points is required");
    if (!o.out) return cli_fail("eval", "--out is required");
    cli_job job;
    if (cli_build(&o, &job, "eval")) return 1;
    ddx_array pts = {0}, out = {0};
    int rc = 1;
    char err[512];
    if (cli_read_points("eval", o.points, job.model.g, &pts)) goto done;
    if (cli_compile(&o, &job, "eval")) goto done;
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
