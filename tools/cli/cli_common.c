/* cli_common.c — option parsing and model/program setup shared by the
 * subcommands. Every failure is one line on stderr and a non-zero exit. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli/cli.h"
#include "tools/check_tolerance.h"
#include "tools/text_safe.h"

int cli_header_names_ignore; /* --header-names ignore: CSV columns by position */

int cli_fail(const char *cmd, const char *fmt, ...) {
    /* one line whatever the message quotes: control bytes escaped, long
     * quotes cut at a character boundary */
    char msg[2048], shown[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ddx %s: %s\n", cmd, ddx_text_shown(msg, 1000, shown, sizeof shown));
    return 1;
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int has_word(const char *list, const char *w) {
    size_t n = strlen(w);
    for (const char *s = list; (s = strstr(s, w)); s += n)
        if ((s == list || s[-1] == ' ') && (s[n] == ' ' || s[n] == 0)) return 1;
    return 0;
}

/* A count: digits, or B^E for convenience (--n 2^20). Signs, overflow and
 * anything past hi are refused (no wrap-around: 4294967297^2 is not
 * 8589934593, -2^2 is not 4). */
static int parse_int64(const char *s, int64_t lo, int64_t hi, int64_t *v) {
    char *end;
    if (!isdigit((unsigned char)s[0])) return -1; /* no sign, no blank */
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || end == s) return -1;
    if (*end == '^') {
        const char *e0 = end + 1;
        if (!isdigit((unsigned char)*e0)) return -1;
        long long e = strtoll(e0, &end, 10);
        if (errno || e > 62) return -1;
        long long b = x;
        x = 1;
        for (long long i = 0; i < e; i++) {
            if (b != 0 && x > hi / b) return -1; /* past the limit, before it can overflow */
            x *= b;
        }
    }
    if (*end || x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

int cli_parse_device(const char *v, const char *cmd, cli_opts *o) {
    o->n_cuda_devices = 0;
    if (!strcmp(v, "auto")) o->device = DDX_DEVICE_AUTO;
    else if (!strcmp(v, "cpu")) o->device = DDX_DEVICE_CPU;
    else if (!strcmp(v, "cuda") || !strcmp(v, "gpu")) o->device = DDX_DEVICE_CUDA;
    else if (!strncmp(v, "cuda:", 5)) {
        o->device = DDX_DEVICE_CUDA;
        if (!strcmp(v + 5, "all")) {
            o->n_cuda_devices = DDX_CUDA_ALL_DEVICES;
            return 0;
        }
        /* a list of ordinals: cuda:0,2 */
        for (const char *s = v + 5;;) {
            char *end;
            errno = 0;
            long d = strtol(s, &end, 10);
            if (end == s || errno || d < 0 || d > 1023 || (*end && *end != ','))
                return cli_fail(cmd, "--device '%s': expected cuda:all or cuda:N[,N...] with device numbers", v), -1;
            if (o->n_cuda_devices == DDX_MAX_CUDA_DEVICES)
                return cli_fail(cmd, "--device '%s': at most %d devices", v, DDX_MAX_CUDA_DEVICES), -1;
            o->cuda_devices[o->n_cuda_devices++] = (int)d;
            if (!*end) break;
            s = end + 1;
        }
    } else
        return cli_fail(cmd, "--device '%s': expected auto, cpu or cuda (cuda:all or cuda:0,2 for several devices)", v), -1;
    return 0;
}

int cli_parse(int argc, char **argv, const char *cmd, const char *allowed, cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->device = DDX_DEVICE_AUTO;
    o->precision = DDX_F32;
    o->repeat = 5;
    o->rows = 16;
    const char *seen[64];
    int nseen = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) return cli_fail(cmd, "unexpected argument '%s' (options start with --)", a), -1;
        const char *name = a + 2;
        if (!strcmp(name, "verbose")) { /* a flag, for every command */
            ddx_set_verbose(1);
            continue;
        }
        if (!has_word(allowed, name)) return cli_fail(cmd, "unknown option '%s' (ddx %s --help)", a, cmd), -1;
        if (i + 1 >= argc) return cli_fail(cmd, "option '%s' needs a value", a), -1;
        /* a repeated option would silently take its last value */
        for (int j = 0; j < nseen; j++)
            if (!strcmp(seen[j], a)) return cli_fail(cmd, "option '%s' given twice", a), -1;
        if (nseen < (int)(sizeof seen / sizeof seen[0])) seen[nseen++] = a;
        const char *v = argv[++i];
        int64_t x;
        if (!strcmp(name, "model")) o->model = v;
        else if (!strcmp(name, "derivs")) o->derivs = v;
        else if (!strcmp(name, "points")) o->points = v;
        else if (!strcmp(name, "out")) o->out = v;
        else if (!strcmp(name, "inputs")) o->inputs = v;
        else if (!strcmp(name, "json")) o->json = v;
        else if (!strcmp(name, "arch")) o->arch = v;
        else if (!strcmp(name, "header-names")) {
            extern int cli_header_names_ignore;
            if (!strcmp(v, "match")) cli_header_names_ignore = 0;
            else if (!strcmp(v, "ignore")) cli_header_names_ignore = 1;
            else return cli_fail(cmd, "--header-names '%s': expected match or ignore", v), -1;
        }
        else if (!strcmp(name, "device")) {
            if (cli_parse_device(v, cmd, o)) return -1;
        } else if (!strcmp(name, "precision")) {
            if (!strcmp(v, "f32")) o->precision = DDX_F32;
            else if (!strcmp(v, "f64")) o->precision = DDX_F64;
            else return cli_fail(cmd, "--precision '%s': expected f32 or f64", v), -1;
            o->precision_set = 1;
        } else if (!strcmp(name, "collapse")) { /* off: partials instead of collapsed channels */
            if (!strcmp(v, "on")) o->uncollapsed = 0;
            else if (!strcmp(v, "off")) o->uncollapsed = 1;
            else return cli_fail(cmd, "--collapse '%s': expected on or off", v), -1;
        } else if (!strcmp(name, "strategy")) {
            if (!strcmp(v, "auto")) o->strategy = DDX_CUDA_STRATEGY_AUTO;
            else if (!strcmp(v, "fused")) o->strategy = DDX_CUDA_STRATEGY_FUSED;
            else if (!strcmp(v, "cublas")) o->strategy = DDX_CUDA_STRATEGY_CUBLAS;
            else return cli_fail(cmd, "--strategy '%s': expected auto, fused or cublas", v), -1;
        } else if (!strcmp(name, "n")) {
            if (parse_int64(v, 1, (int64_t)1 << 36, &x))
                return cli_fail(cmd, "--n '%s': expected a whole number of points from 1 to 2^36 = 68719476736 "
                                "(digits or B^E)", v), -1;
            o->n = x;
        } else if (!strcmp(name, "repeat")) {
            if (parse_int64(v, 1, 10000, &x)) return cli_fail(cmd, "--repeat '%s': expected 1..10000", v), -1;
            o->repeat = (int)x;
        } else if (!strcmp(name, "check-rows")) {
            if (parse_int64(v, 1, 100000, &x)) return cli_fail(cmd, "--check-rows '%s': expected 1..100000", v), -1;
            o->check_rows = (int)x;
        } else if (!strcmp(name, "rows")) {
            if (parse_int64(v, 1, 100000, &x)) return cli_fail(cmd, "--rows '%s': expected 1..100000", v), -1;
            o->rows = (int)x;
        } else if (!strcmp(name, "threads")) {
            if (parse_int64(v, 1, 1024, &x)) return cli_fail(cmd, "--threads '%s': expected 1..1024", v), -1;
            o->threads = cli_cap_threads(cmd, (int)x);
        } else if (!strcmp(name, "tile")) {
            if (parse_int64(v, 1, 1 << 16, &x)) return cli_fail(cmd, "--tile '%s': expected 1..65536", v), -1;
            o->tile = (int)x;
        } else if (!strcmp(name, "seed")) {
            if (parse_int64(v, 0, 1 << 30, &x)) return cli_fail(cmd, "--seed '%s': expected a number", v), -1;
            o->seed = (int)x;
        }
    }
    return 0;
}

int cli_build(const cli_opts *o, cli_job *job, const char *cmd) {
    memset(job, 0, sizeof *job);
    char err[1024];
    if (!o->model) return cli_fail(cmd, "--model is required (e.g. --model mlp:2-64-64-1:tanh)");
    if (ddx_model_load(o->model, o->inputs, &job->model, err, sizeof err)) return cli_fail(cmd, "%s", err);
    if (!o->derivs) {
        cli_job_free(job);
        return cli_fail(cmd, "--derivs is required (e.g. --derivs u,u_x,u_xx)");
    }
    if (ddx_parse_list(job->model.g, &job->model.outputs, o->derivs, &job->cols, err, sizeof err)) {
        cli_job_free(job);
        return cli_fail(cmd, "--derivs: %s", err);
    }
    return 0;
}

int cli_compile(const cli_opts *o, cli_job *job, const char *cmd) {
    ddx_compile_options co;
    ddx_compile_options_default(&co);
    co.device = o->device;
    co.precision = o->precision;
    co.strategy = o->strategy;
    co.num_threads = o->threads;
    co.tile_points = o->tile;
    co.uncollapsed = o->uncollapsed;
    co.n_cuda_devices = o->n_cuda_devices;
    memcpy(co.cuda_devices, o->cuda_devices, sizeof co.cuda_devices);
    double t0 = cli_now();
    if (ddx_compile(job->model.g, job->cols.cols, job->cols.n, &co, &job->prog) != DDX_OK)
        return cli_fail(cmd, "%s", ddx_graph_error(job->model.g));
    job->compile_s = cli_now() - t0;
    /* AUTO is the library's policy (one compile); say once why it did not take the GPU */
    char why[320];
    if (o->device == DDX_DEVICE_AUTO && ddx_program_device(job->prog) != DDX_DEVICE_CUDA &&
        !ddx_device_available(DDX_DEVICE_CUDA, why, sizeof why))
        fprintf(stderr, "ddx %s: note: %s; running on the CPU\n", cmd, why);
    return 0;
}

void cli_job_free(cli_job *job) {
    ddx_program_free(job->prog);
    ddx_list_free(&job->cols);
    ddx_model_free(&job->model);
    memset(job, 0, sizeof *job);
}

int cli_node_order(const ddx_graph *g, ddx_node n) { return check_node_order(g, n); }

double cli_uniform_at(uint64_t seed, int64_t i) {
    /* splitmix64: the i-th state is a fixed step times i past the seed */
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + 7 + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

void cli_uniform_points(double *pts, int64_t n, int d, uint64_t seed) {
    for (int64_t i = 0; i < n * d; i++) pts[i] = cli_uniform_at(seed, i);
}
