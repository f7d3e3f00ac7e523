/* cli.h — shared pieces of the `ddx` command: options, model + derivative
 * list to program, one-line errors. */
#ifndef DDX_CLI_H
#define DDX_CLI_H
#include <stdint.h>
#include <stdio.h>
#include "ddx.h"
#include "tools/expr_parse.h"
#include "tools/model_spec.h"
#include "tools/array_io.h"
#include "tools/atomic_file.h"

typedef struct cli_opts {
    const char *model, *derivs, *points, *out, *inputs, *json, *arch;
    ddx_device device;
    ddx_precision precision;
    int precision_set;
    ddx_cuda_strategy strategy;
    int64_t n;
    int repeat, rows, threads, tile, seed, check_rows;
    int uncollapsed;    /* --collapse off (ddx_compile_options.uncollapsed) */
    int n_cuda_devices; /* --device cuda:all / cuda:0,2 (ddx_compile_options) */
    int cuda_devices[DDX_MAX_CUDA_DEVICES];
} cli_opts;

/* A model with its derivative list, compiled. */
typedef struct cli_job {
    ddx_model model;
    ddx_column_list cols;
    ddx_program *prog;
    double compile_s;
} cli_job;

/* Parses --name value options (after the subcommand). Unknown options,
 * missing values and bad values print one line and return -1. allowed is a
 * space-separated list of option names this command takes. */
int cli_parse(int argc, char **argv, const char *cmd, const char *allowed, cli_opts *o);
/* Loads the model and parses the list (no compile). */
int cli_build(const cli_opts *o, cli_job *job, const char *cmd);
/* Compiles job->cols for o's device and precision. */
int cli_compile(const cli_opts *o, cli_job *job, const char *cmd);
void cli_job_free(cli_job *job);
int cli_fail(const char *cmd, const char *fmt, ...);
/* Parses a --device value (auto, cpu, cuda, gpu, cuda:all, cuda:0,2); 0 or -1
 * with a one-line message. */
int cli_parse_device(const char *v, const char *cmd, cli_opts *o);
double cli_now(void);
/* Derivative order (grad nesting) of a graph node. */
int cli_node_order(const ddx_graph *g, ddx_node n);
/* Uniform points in [0,1]^d, deterministic; element i (row-major) is
 * cli_uniform_at(seed, i), so any part can be made on its own. */
void cli_uniform_points(double *pts, int64_t n, int d, uint64_t seed);
double cli_uniform_at(uint64_t seed, int64_t i);
/* Tolerance of `ddx check` for a derivative order. */
double cli_check_tolerance(ddx_precision p, int order);
/* Floor of the relative error's denominator, a fraction of the column max. */
double cli_rel_floor(ddx_precision p);
/* The error rule shared by check, demo and bench --check-rows (cli_check.c):
 * worst |got - ref| / max(|ref|, F * max(max|ref|, 1)) over n values. */
double cli_column_error(const double *ref, const double *got, int64_t n, int64_t stride, ddx_precision p);

/* cli_limits.c: checks before a long run or a big allocation */
uint64_t cli_memory_available(void);
/* 1 (after one line on stderr) when n points of d inputs + k outputs of
 * elem bytes do not fit in the memory this process may use. */
int cli_check_memory(const char *cmd, int64_t n, int d, int k, size_t elem, const char *what);
int cli_cap_threads(const char *cmd, int threads);
int cli_check_output(const char *cmd, const char *opt, const char *out, const char *in);

/* cli_eval.c: says once on stderr that f64 points are narrowed to f32,
 * counting values that overflow to inf or underflow to 0. */
struct ddx_array;
void cli_note_narrowing(const char *cmd, const char *path, const struct ddx_array *pts, ddx_precision to);

int cmd_eval(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* --help or -h anywhere: prints help and returns 1 (cli_eval.c). */
int cli_wants_help(int argc, char **argv, const char *help);
/* Reads a points file and checks it against the model's inputs: column count,
 * CSV header names (cli_eval.c). */
int cli_read_points(const char *cmd, const char *path, const ddx_graph *g, ddx_array *pts);

#endif
