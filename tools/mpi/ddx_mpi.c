/* ddx_mpi.c — `ddx-mpi`: the `ddx eval` contract over MPI ranks, and a
 * scaling benchmark. Sharding sits above the backends: a rank is an
 * ordinary ddx program on its own rows, its node-local device (the node's
 * GPUs dealt round-robin over its ranks, else its share of the CPU cores).
 *
 *   mpirun -n R ddx-mpi eval --model M --derivs L --points big.npy --out out.npy
 *
 * Each rank reads only its rows of the .npy (pread at their offset),
 * evaluates them, and writes them into one output .npy with collective
 * MPI-IO; rank 0 writes the header (the same bytes `ddx eval` writes) to a
 * temporary name in the output's folder and renames it once every rank has
 * reported success. Every step ends in a collective status check: a
 * failing rank's one-line message is printed (by rank 0), every rank exits
 * 1, and no file at the output's name claims to be complete. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <math.h>
#include <mpi.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli/cli.h"
#include "tools/mpi/npy_slice.h"

typedef struct mpi_ctx {
    int rank, size;         /* in MPI_COMM_WORLD */
    int local, local_size;  /* on this node (MPI_COMM_TYPE_SHARED) */
    int nodes;
    const char *cmd;        /* "eval" or "bench" */
} mpi_ctx;

static const char *HELP =
    "usage: mpirun -n R ddx-mpi eval --model SPEC --derivs LIST --points IN.npy --out OUT.npy\n"
    "                   [--inputs t,x] [--device auto|cpu|cuda|cuda:all|cuda:0,2] [--precision f32|f64]\n"
    "                   [--threads T] [--strategy auto|fused|cublas] [--block-rows B]\n"
    "       mpirun -n R ddx-mpi bench --model SPEC --derivs LIST [--n N | --n-per-rank M] [--repeat K]\n"
    "                   [--device ...] [--precision f32|f64] [--threads T]\n"
    "  eval: each rank reads only its rows of IN (.npy only: a CSV has no row offsets), evaluates\n"
    "        them on its node-local device and writes them into OUT with MPI-IO; OUT equals what\n"
    "        `ddx eval` writes. A rank's GPUs: the node's devices (or the --device list) dealt\n"
    "        round-robin over the node's ranks; on the CPU, threads = cores / ranks on the node\n"
    "        (or the cores mpirun bound the rank to), unless --threads. A rank streams its rows in\n"
    "        blocks of B (default 2^22): block k is written while block k+1 is read and evaluated.\n"
    "  bench: N uniform points (default 2^20; --n-per-rank M: M per rank, weak scaling) split over\n"
    "        the ranks; prints aggregate points/s and every rank's rows, time and rate.\n";

/* ---- collective status -------------------------------------------------------------------- */

/* Every rank calls this at the same step. Returns 1 when every rank is ok;
 * else 0 on all ranks, after rank 0 printed the lowest failing rank's
 * message (with its rank when not every rank failed). */
static int all_ok(const mpi_ctx *m, int ok, const char *msg) {
    int first = ok ? m->size : m->rank, nfail = !ok, lowest, total;
    MPI_Allreduce(&first, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (lowest == m->size) return 1;
    MPI_Allreduce(&nfail, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    char line[768];
    snprintf(line, sizeof line, "%s", ok ? "" : msg);
    MPI_Bcast(line, (int)sizeof line, MPI_CHAR, lowest, MPI_COMM_WORLD);
    if (m->rank == 0) {
        if (total == m->size)
            fprintf(stderr, "ddx-mpi %s: %s\n", m->cmd, line);
        else if (total == 1)
            fprintf(stderr, "ddx-mpi %s: rank %d of %d: %s\n", m->cmd, lowest, m->size, line);
        else
            fprintf(stderr, "ddx-mpi %s: rank %d of %d: %s (%d ranks failed)\n", m->cmd, lowest, m->size, line,
                    total);
        fflush(stderr);
    }
    return 0;
}

static void setf(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- options ------------------------------------------------------------------------------ */

/* cli_parse prints its own one-line errors; the other ranks parse the same
 * arguments quietly so a bad option is reported once. */
static int parse_quiet(const mpi_ctx *m, int argc, char **argv, const char *allowed, cli_opts *o) {
    int saved = -1;
    if (m->rank != 0) {
        fflush(stderr);
        saved = dup(2);
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0) dup2(nul, 2), close(nul);
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "mpi %s", m->cmd);
    int rc = cli_parse(argc, argv, cmd, allowed, o);
    if (saved >= 0) {
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
    }
    return rc;
}

static int ends_with(const char *s, const char *ext) {
    size_t n = strlen(s), e = strlen(ext);
    return n >= e && strcasecmp(s + n - e, ext) == 0;
}

/* .npy only; CSV is refused with the reason. */
static int check_format(const char *path, const char *what, char *err, size_t cap) {
    if (ends_with(path, ".csv"))
        return setf(err, cap,
                    "%s %s: CSV is not supported by ddx-mpi (a CSV has no row offsets, so a rank cannot find its "
                    "rows without reading the whole file); use .npy",
                    what, path),
               -1;
    if (!ends_with(path, ".npy")) return setf(err, cap, "%s %s: expected a .npy file", what, path), -1;
    return 0;
}

/* Loads the model and the derivative list (messages into err, not stderr). */
static int build_job(const cli_opts *o, cli_job *job, char *err, size_t cap) {
    memset(job, 0, sizeof *job);
    char e[1024];
    if (!o->model) return setf(err, cap, "--model is required (e.g. --model mlp:2-64-64-1:tanh)"), -1;
    if (!o->derivs) return setf(err, cap, "--derivs is required (e.g. --derivs u,u_x,u_xx)"), -1;
    if (ddx_model_load(o->model, o->inputs, &job->model, e, sizeof e)) return setf(err, cap, "%s", e), -1;
    if (ddx_parse_list(job->model.g, &job->model.outputs, o->derivs, &job->cols, e, sizeof e)) {
        setf(err, cap, "--derivs: %s", e);
        return -1;
    }
    return 0;
}

/* ---- the rank's device -------------------------------------------------------------------- */

static int cores_available(void) {
    cpu_set_t set;
    int online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int bound = CPU_COUNT(&set);
        if (bound > 0 && bound < online) return -bound; /* mpirun bound us: ours alone */
    }
    return online;
}

/* Compiles the job for this rank's node-local device; describes it in `dev`. */
static int compile_rank(const mpi_ctx *m, const cli_opts *o, cli_job *job, char *dev, size_t devcap, char *err,
                        size_t cap) {
    ddx_compile_options co;
    ddx_compile_options_default(&co);
    co.precision = o->precision;
    co.strategy = o->strategy;
    co.tile_points = o->tile;
    const int ngpu = o->device == DDX_DEVICE_CPU ? 0 : ddx_cuda_device_count();
    if (ngpu > 0) {
        /* the node's devices (or the listed ones) dealt round-robin over its ranks */
        int pool[DDX_MAX_CUDA_DEVICES], np = 0;
        if (o->n_cuda_devices > 0)
            for (int i = 0; i < o->n_cuda_devices; i++) pool[np++] = o->cuda_devices[i];
        else
            for (int i = 0; i < ngpu && i < DDX_MAX_CUDA_DEVICES; i++) pool[np++] = i;
        co.device = DDX_DEVICE_CUDA;
        if (np >= m->local_size) {
            for (int i = m->local; i < np; i += m->local_size) co.cuda_devices[co.n_cuda_devices++] = pool[i];
        } else {
            co.cuda_devices[co.n_cuda_devices++] = pool[m->local % np];
        }
        size_t l = (size_t)snprintf(dev, devcap, "cuda:");
        for (int i = 0; i < co.n_cuda_devices && l < devcap; i++)
            l += (size_t)snprintf(dev + l, devcap - l, "%s%d", i ? "," : "", co.cuda_devices[i]);
    } else {
        if (o->device == DDX_DEVICE_CUDA) return setf(err, cap, "--device cuda: no CUDA device on this node"), -1;
        int c = cores_available();
        co.device = DDX_DEVICE_CPU;
        co.num_threads = o->threads ? o->threads : c < 0 ? -c : (c / m->local_size > 0 ? c / m->local_size : 1);
        snprintf(dev, devcap, "cpu (%d thread%s)", co.num_threads, co.num_threads == 1 ? "" : "s");
    }
    if (ddx_compile(job->model.g, job->cols.cols, job->cols.n, &co, &job->prog) != DDX_OK)
        return setf(err, cap, "%s", ddx_graph_error(job->model.g)), -1;
    return 0;
}

/* rows [lo, hi) of n for rank r of R: the first n % R ranks get one more */
static void slice(int64_t n, int r, int R, int64_t *lo, int64_t *hi) {
    const int64_t q = n / R, rem = n % R;
    *lo = q * r + (r < rem ? r : rem);
    *hi = *lo + q + (r < rem);
}

/* ---- eval --------------------------------------------------------------------------------- */

/* The rank's rows in blocks: block k is read (pread), evaluated, and then
 * written with a non-blocking collective write that proceeds while block
 * k+1 is read and evaluated (two output buffers). Every rank takes part in
 * every round (a rank with fewer blocks writes 0 rows), and a failure on
 * any rank stops all of them at the same round, so the collectives always
 * match. Memory: one block of points and two of outputs, not the slice.
 * 0 on success, else the first problem in err. */
static int stream_blocks(const char *tmp, int fd, const char *path, const npy_info *info, ddx_program *prog,
                         const char *dev, ddx_precision prec, int64_t lo, int64_t mine, int64_t block, int64_t hdr,
                         char *err, size_t cap) {
    const int d = info->cols, K = ddx_program_num_outputs(prog);
    const size_t rsz = prec == DDX_F32 ? 4 : 8, row_b = (size_t)K * rsz;
    const int64_t max_rows = ((int64_t)1 << 30) / (int64_t)row_b; /* MPI counts are int; 1 GiB per call */
    if (block > max_rows) block = max_rows > 0 ? max_rows : 1;
    int64_t nb = (mine + block - 1) / block, rounds;
    MPI_Allreduce(&nb, &rounds, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    char es[MPI_MAX_ERROR_STRING];
    int el, ok = 1, all;
    MPI_File fh;
    int rc = MPI_File_open(MPI_COMM_WORLD, tmp, MPI_MODE_WRONLY, MPI_INFO_NULL, &fh);
    if (rc != MPI_SUCCESS) {
        MPI_Error_string(rc, es, &el);
        setf(err, cap, "MPI_File_open(%s): %s", tmp, es);
        ok = 0;
    }
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all) return ok ? (setf(err, cap, "MPI_File_open failed on another rank"), -1) : -1;
    const int64_t brows = mine < block ? (mine ? mine : 1) : block;
    void *pts = malloc((size_t)brows * (size_t)d * rsz), *out[2] = {malloc((size_t)brows * row_b), NULL};
    out[1] = rounds > 1 ? malloc((size_t)brows * row_b) : NULL;
    if (!pts || !out[0] || (rounds > 1 && !out[1]))
        ok = 0, setf(err, cap, "out of memory for a block of %" PRId64 " rows", brows);
    MPI_Datatype row;
    MPI_Type_contiguous((int)row_b, MPI_BYTE, &row);
    MPI_Type_commit(&row);
    MPI_Request req = MPI_REQUEST_NULL;
    for (int64_t k = 0; k < rounds; k++) {
        const int64_t r0 = k * block;
        int64_t cnt = r0 < mine ? (mine - r0 < block ? mine - r0 : block) : 0;
        void *ob = out[k % 2];
        if (ok && cnt) {
            ok = npy_read_rows(fd, path, info, lo + r0, cnt, prec, pts, err, cap) == 0;
            if (ok && ddx_program_eval(prog, pts, cnt, ob) != DDX_OK)
                ok = 0, setf(err, cap, "%s: %s", dev, ddx_program_error(prog));
        }
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        if (!all) break; /* every rank leaves at this round */
        rc = MPI_Wait(&req, MPI_STATUS_IGNORE); /* block k-1 is on its way to the file */
        if (rc == MPI_SUCCESS)
            rc = MPI_File_iwrite_at_all(fh, (MPI_Offset)(hdr + (lo + r0) * (int64_t)row_b), ob, (int)cnt, row, &req);
        if (rc != MPI_SUCCESS && ok) {
            MPI_Error_string(rc, es, &el);
            setf(err, cap, "MPI_File_iwrite_at_all(%s): %s", tmp, es);
            ok = 0;
        }
    }
    rc = MPI_Wait(&req, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS && ok) {
        MPI_Error_string(rc, es, &el);
        setf(err, cap, "writing %s: %s", tmp, es);
        ok = 0;
    }
    rc = MPI_File_sync(fh);
    if (rc != MPI_SUCCESS && ok) {
        MPI_Error_string(rc, es, &el);
        setf(err, cap, "MPI_File_sync(%s): %s", tmp, es);
        ok = 0;
    }
    rc = MPI_File_close(&fh);
    if (rc != MPI_SUCCESS && ok) {
        MPI_Error_string(rc, es, &el);
        setf(err, cap, "MPI_File_close(%s): %s", tmp, es);
        ok = 0;
    }
    MPI_Type_free(&row);
    free(pts);
    free(out[0]);
    free(out[1]);
    return ok ? 0 : -1;
}

/* Takes `--name N` (a positive count) out of argv for ddx-mpi's own options;
 * returns def when absent, -1 when malformed. */
static int64_t take_count(int *argc, char **argv, const char *name, int64_t def) {
    int64_t v = def;
    for (int i = 0; i < *argc; i++)
        if (!strcmp(argv[i], name)) {
            char *end = NULL;
            v = i + 1 < *argc ? strtoll(argv[i + 1], &end, 10) : -1;
            if (v < 1 || !end || *end) v = -1;
            int drop = i + 1 < *argc ? 2 : 1;
            memmove(argv + i, argv + i + drop, sizeof(char *) * (size_t)(*argc - i - drop));
            *argc -= drop;
            break;
        }
    return v;
}

static int mpi_eval(const mpi_ctx *m, int argc, char **argv) {
    cli_opts o;
    const int64_t block_rows = take_count(&argc, argv, "--block-rows", (int64_t)1 << 22);
    char err[768] = "";
    cli_job job = {0};
    char tmp[4096] = "";
    int fd = -1, rc = 1, made_tmp = 0;
    int ok = parse_quiet(m, argc, argv, "model derivs points out inputs device precision strategy threads tile", &o) == 0;
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all) {
        if (ok && m->rank == 0) fprintf(stderr, "ddx-mpi eval: some ranks were given options that do not parse\n");
        return 2;
    }
    if (!all_ok(m, block_rows > 0, "--block-rows: expected a positive count")) return 2;
    ok = 1;
    if (!o.points) ok = 0, setf(err, sizeof err, "--points is required");
    else if (!o.out) ok = 0, setf(err, sizeof err, "--out is required");
    else if (check_format(o.points, "--points", err, sizeof err) || check_format(o.out, "--out", err, sizeof err))
        ok = 0;
    if (!all_ok(m, ok, err)) return 1;
    ok = build_job(&o, &job, err, sizeof err) == 0;
    if (!all_ok(m, ok, err)) goto done;

    /* the header: every rank reads it (a rank may have been given another file) */
    npy_info info = {0};
    fd = open(o.points, O_RDONLY);
    if (fd < 0) ok = 0, setf(err, sizeof err, "%s: %s", o.points, strerror(errno));
    else ok = npy_open_info(fd, o.points, &info, err, sizeof err) == 0;
    const int d = ddx_graph_num_inputs(job.model.g), K = job.cols.n;
    if (ok && info.cols != d)
        ok = 0, setf(err, sizeof err, "%s: has %d columns, the model takes %d inputs", o.points, info.cols, d);
    if (!all_ok(m, ok, err)) goto done;
    /* a rank given another file (mpirun's a : b syntax) must see the same rows */
    int64_t rows0 = info.rows;
    MPI_Bcast(&rows0, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    ok = info.rows == rows0;
    if (!ok) setf(err, sizeof err, "%s has %" PRId64 " rows, rank 0's points file has %" PRId64, o.points, info.rows, rows0);
    if (!all_ok(m, ok, err)) goto done;
    const int64_t n = info.rows;
    if (!all_ok(m, n > 0, "no points (0 rows)")) goto done; /* as `ddx eval` */
    int64_t lo, hi;
    slice(n, m->rank, m->size, &lo, &hi);
    const int64_t mine = hi - lo;

    /* rank 0: the header under a temporary name in the output's folder,
     * first, so that an unwritable folder fails before the work */
    unsigned char hdr[256];
    const size_t hlen = npy_header_bytes(o.precision, n, K, hdr, sizeof hdr);
    long pid = (long)getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    snprintf(tmp, sizeof tmp, "%s.ddx-mpi-%ld.tmp", o.out, pid);
    ok = 1;
    if (m->rank == 0) {
        int t = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666); /* as fopen: the umask decides */
        if (t < 0) {
            ok = 0;
            setf(err, sizeof err, "--out %s: cannot create %s: %s", o.out, tmp, strerror(errno));
        } else {
            made_tmp = 1;
            if (!hlen || write(t, hdr, hlen) != (ssize_t)hlen) ok = 0, setf(err, sizeof err, "write error on %s", tmp);
            if (close(t) != 0 && ok) ok = 0, setf(err, sizeof err, "write error on %s: %s", tmp, strerror(errno));
        }
    }
    if (!all_ok(m, ok, err)) goto done;
    char dev[128];
    ok = compile_rank(m, &o, &job, dev, sizeof dev, err, sizeof err) == 0;
    if (!all_ok(m, ok, err)) goto done;
    ok = stream_blocks(tmp, fd, o.points, &info, job.prog, dev, o.precision, lo, mine, block_rows, (int64_t)hlen,
                       err, sizeof err) == 0;
    if (!all_ok(m, ok, err)) goto done;
    ok = 1;
    if (m->rank == 0 && rename(tmp, o.out) != 0)
        ok = 0, setf(err, sizeof err, "cannot rename %s to %s: %s", tmp, o.out, strerror(errno));
    else if (m->rank == 0)
        made_tmp = 0;
    if (!all_ok(m, ok, err)) goto done;
    rc = 0;
done:
    if (made_tmp) unlink(tmp); /* a failed job leaves no file claiming to be complete */
    if (fd >= 0) close(fd);
    cli_job_free(&job);
    return rc;
}

/* ---- bench -------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int mpi_bench(const mpi_ctx *m, int argc, char **argv) {
    /* --n-per-rank is ddx-mpi's own; the rest are ddx bench's */
    const int64_t per_rank = take_count(&argc, argv, "--n-per-rank", 0);
    cli_opts o;
    char err[768] = "";
    cli_job job = {0};
    void *pts = NULL, *out = NULL;
    double *times = NULL;
    int rc = 1;
    int ok = parse_quiet(m, argc, argv, "model derivs n device precision strategy repeat threads tile", &o) == 0, all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all) return 2;
    if (!all_ok(m, per_rank >= 0, "--n-per-rank: expected a positive count")) return 2;
    ok = build_job(&o, &job, err, sizeof err) == 0;
    if (!all_ok(m, ok, err)) goto done;
    const int64_t n = per_rank ? per_rank * m->size : o.n ? o.n : (int64_t)1 << 20;
    const int d = ddx_graph_num_inputs(job.model.g), K = job.cols.n;
    const size_t rsz = o.precision == DDX_F32 ? 4 : 8;
    int64_t lo, hi;
    slice(n, m->rank, m->size, &lo, &hi);
    const int64_t mine = hi - lo;
    char dev[128];
    ok = compile_rank(m, &o, &job, dev, sizeof dev, err, sizeof err) == 0;
    if (!all_ok(m, ok, err)) goto done;
    pts = malloc(rsz * (size_t)(mine ? mine : 1) * (size_t)d);
    out = malloc(rsz * (size_t)(mine ? mine : 1) * (size_t)K);
    times = calloc((size_t)o.repeat, sizeof(double));
    ok = pts && out && times;
    if (!ok) setf(err, sizeof err, "out of memory for %" PRId64 " rows", mine);
    /* the same points `ddx bench` makes for the whole batch: element i of row-major order */
    for (int64_t i = 0; ok && i < mine * d; i++) {
        double v = cli_uniform_at(7, lo * d + i);
        if (o.precision == DDX_F32) ((float *)pts)[i] = (float)v;
        else ((double *)pts)[i] = v;
    }
    if (!all_ok(m, ok, err)) goto done;
    double *job_t = calloc((size_t)o.repeat, sizeof(double));
    for (int r = -1; r < o.repeat && ok; r++) { /* r = -1: warm-up */
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (mine && ddx_program_eval(job.prog, pts, mine, out) != DDX_OK)
            ok = 0, setf(err, sizeof err, "%s: %s", dev, ddx_program_error(job.prog));
        double t = MPI_Wtime() - t0, tmax;
        MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0) times[r] = t, job_t[r] = tmax;
        int all_good;
        MPI_Allreduce(&ok, &all_good, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        if (!all_good) break;
    }
    if (!all_ok(m, ok, err)) {
        free(job_t);
        goto done;
    }
    qsort(times, (size_t)o.repeat, sizeof(double), cmp_double);
    qsort(job_t, (size_t)o.repeat, sizeof(double), cmp_double);
    const double my_med = times[o.repeat / 2], job_med = job_t[o.repeat / 2];
    free(job_t);
    /* rank 0 gathers rows, median time and device of every rank */
    double mine_d[2] = {(double)mine, my_med}, *all_d = NULL;
    char *devs = NULL;
    int node_id = 0, *nodes = NULL;
    {
        /* node number: rank of this node's first rank among the node leaders */
        MPI_Comm leaders;
        MPI_Comm_split(MPI_COMM_WORLD, m->local == 0 ? 0 : MPI_UNDEFINED, m->rank, &leaders);
        int lid = 0;
        if (leaders != MPI_COMM_NULL) MPI_Comm_rank(leaders, &lid), MPI_Comm_free(&leaders);
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
        MPI_Bcast(&lid, 1, MPI_INT, 0, node);
        MPI_Comm_free(&node);
        node_id = lid;
    }
    if (m->rank == 0) {
        all_d = malloc(sizeof(double) * 2 * (size_t)m->size);
        devs = malloc(128 * (size_t)m->size);
        nodes = malloc(sizeof(int) * (size_t)m->size);
    }
    MPI_Gather(mine_d, 2, MPI_DOUBLE, all_d, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Gather(dev, 128, MPI_CHAR, devs, 128, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Gather(&node_id, 1, MPI_INT, nodes, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (m->rank == 0) {
        double tmax = 0, tsum = 0, tmin = INFINITY;
        for (int r = 0; r < m->size; r++) {
            double t = all_d[2 * r + 1];
            tsum += t;
            if (t > tmax) tmax = t;
            if (t < tmin) tmin = t;
        }
        printf("ddx-mpi bench: %s  %s\n", o.model, o.derivs);
        printf("  %d rank%s on %d node%s, %s, N = %" PRId64 " (%s), repeat %d\n", m->size, m->size == 1 ? "" : "s",
               m->nodes, m->nodes == 1 ? "" : "s", o.precision == DDX_F32 ? "f32" : "f64", n,
               per_rank ? "weak: --n-per-rank" : "strong: split over the ranks", o.repeat);
        printf("  %5s %5s  %-20s %12s %12s %12s\n", "rank", "node", "device", "rows", "median s", "points/s");
        for (int r = 0; r < m->size; r++) {
            double rows = all_d[2 * r], t = all_d[2 * r + 1];
            printf("  %5d %5d  %-20s %12.0f %12.4f %12.4g\n", r, nodes[r], devs + 128 * r, rows, t,
                   t > 0 ? rows / t : 0.0);
        }
        printf("  aggregate %.4g points/s (N / the slowest rank's time, median over runs: %.4f s)\n",
               (double)n / job_med, job_med);
        printf("  balance: mean/max rank time %.3f, min/max %.3f\n", tmax > 0 ? tsum / m->size / tmax : 1.0,
               tmax > 0 ? tmin / tmax : 1.0);
    }
    free(all_d);
    free(devs);
    free(nodes);
    rc = 0;
done:
    free(pts);
    free(out);
    free(times);
    cli_job_free(&job);
    return rc;
}

/* ---- main --------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    mpi_ctx m = {0};
    MPI_Comm_rank(MPI_COMM_WORLD, &m.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m.size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &m.local);
    MPI_Comm_size(node, &m.local_size);
    MPI_Comm_free(&node);
    int leader = m.local == 0;
    MPI_Allreduce(&leader, &m.nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    int rc;
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help") ||
        ((!strcmp(sub, "eval") || !strcmp(sub, "bench")) && argc > 2 &&
         (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))) {
        if (m.rank == 0) fputs(HELP, stdout);
        rc = 0;
    } else if (!strcmp(sub, "eval")) {
        m.cmd = "eval";
        rc = mpi_eval(&m, argc - 2, argv + 2);
    } else if (!strcmp(sub, "bench")) {
        m.cmd = "bench";
        rc = mpi_bench(&m, argc - 2, argv + 2);
    } else {
        if (m.rank == 0) fprintf(stderr, "ddx-mpi: expected a command: eval or bench (ddx-mpi --help)\n");
        rc = 2;
    }
    MPI_Finalize();
    return rc;
}
