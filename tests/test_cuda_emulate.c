/* test_cuda_emulate.c — checks the arithmetic of the generated CUDA kernels
 * without a GPU: the exact source NVRTC receives is compiled by the host
 * C++ compiler under tests/cuda_emulate_shim.hpp (threads as coroutines,
 * barriers as scheduling points), run on ragged batches with a NaN row, and
 * compared with the CPU evaluator in f64 — for both strategies (the fused
 * kernel; the wide path's segment kernels with its GEMM calls done on the
 * host in cuBLAS's convention), both precisions and every test program.
 *
 * Needs a host C++ compiler: $DDX_EMULATE_CXX (set by cmake), else g++.
 * Work files go to $DDX_EMULATE_WORKDIR (else a folder under /tmp). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "cuda_test_programs.h"
#include "host/cuda/cuda_emit.h"
#include "host/compiler/jet_program.h"
#include "host/compiler/needs.h"

typedef struct variant {
    int which;
    ddx_precision prec;
    int wide;
    int64_t n, chunk;        /* points, and the wide path's chunk (ld) */
    char dir[400];
    int ready;               /* source written; 0: skipped (plan does not fit) */
    int K, d;
    int order[128];
    double *ref;             /* CPU f64 result, n x K */
    char note[256];
    const char *max_threads; /* ddx_compile_options.cuda_max_threads for the plan, or NULL */
    const char *tile_points; /* ddx_compile_options.cuda_tile_points for the plan, or NULL */
} variant;

static const char *src_dir(void) {
    const char *s = getenv("DDX_SOURCE_DIR");
    return s && *s ? s : DDX_TEST_SOURCE_DIR;
}

static const char *cxx(void) {
    const char *s = getenv("DDX_EMULATE_CXX");
    return s && *s ? s : "g++";
}

static void mkdir_p(const char *path) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    mkdir(tmp, 0755);
}

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s: %s", path, strerror(errno));
    if (fwrite(data, 1, n, f) != n) fail_msg("short write to %s", path);
    fclose(f);
}

static void *read_file(const char *dir, const char *name, size_t *n) {
    char path[640];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    rewind(f);
    void *b = malloc((size_t)sz + 1);
    if (fread(b, 1, (size_t)sz, f) != (size_t)sz) sz = 0;
    ((char *)b)[sz] = 0;
    fclose(f);
    *n = (size_t)sz;
    return b;
}

static double tol_for(ddx_precision prec, int order) {
    if (prec == DDX_F64) return 1e-10;
    return order <= 1 ? 1e-5 : order == 2 ? 1e-4 : 1e-3;
}

/* The C++ main() of one emulated run: both thread orders, output guards. */
static char *harness(const variant *v, const jet_program *jp, const cuda_fused_plan *fp, const cuda_wide_plan *wp,
                     const cuda_params *prm) {
    size_t cap = 1 << 20, len = 0;
    char *s = malloc(cap);
#define P(...) len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__)
    P("#include \"cuda_emulate_shim.hpp\"\n#include \"kernel.cu\"\n\n");
    P("int main(int argc, char **argv) {\n");
    P("    const char *dir = argc > 1 ? argv[1] : \".\";\n");
    P("    const long long N = %lld;\n    const int D = %d, K = %d;\n", (long long)v->n, v->d, v->K);
    P("    std::vector<real> prm = ddx_emu_read<real>(dir, \"params.bin\");\n");
    P("    std::vector<real> pts = ddx_emu_read<real>(dir, \"points.bin\");\n");
    P("    if ((long long)pts.size() != N * D) return 2;\n");
    P("    std::vector<real> outs[2];\n");
    P("    for (int rev = 0; rev < 2; rev++) {\n");
    P("        std::vector<real> out((size_t)(N * K + 64), (real)12345);\n");
    if (!v->wide) {
        P("        unsigned grid = (unsigned)((N + %d - 1) / %d);\n", fp->P, fp->P);
        P("        if (ddx_emu_launch(grid, %d, %zu, rev, [&] { ddx_fused(pts.data(), out.data(), N, prm.data()); }))"
          " return 4;\n",
          fp->NT, fp->smem_bytes);
    } else {
        const int64_t ld = v->chunk;
        P("        std::vector<real> ws((size_t)%lld * %lld, (real)0);\n", (long long)(wp->ws_rows ? wp->ws_rows : 1),
          (long long)ld);
        int maxg = 1; /* one GEMM per channel at most (a partial chunk) */
        for (int vv = 0; vv < jp->n_values; vv++)
            if (jp->values[vv].nch > maxg) maxg = jp->values[vv].nch;
        cuda_gemm *g = malloc(sizeof(cuda_gemm) * (size_t)maxg);
        for (int64_t row0 = 0; row0 < v->n; row0 += ld) {
            int64_t np = v->n - row0 < ld ? v->n - row0 : ld;
            P("        { /* chunk at row %lld: %lld points */\n", (long long)row0, (long long)np);
            P("            const real *cp = pts.data() + %lld * D;\n            real *co = out.data() + %lld * K;\n",
              (long long)row0, (long long)row0);
            P("            const long long np = %lld, ld = %lld;\n", (long long)np, (long long)ld);
            for (int k = 0; k < wp->n_steps; k++) {
                const cuda_wide_step *st = &wp->steps[k];
                if (st->kind == CUDA_STEP_SEGMENT) {
                    P("            if (ddx_emu_launch((unsigned)((np + %d - 1) / %d), %d, 0, rev, [&] { "
                      "ddx_seg%d(cp, co, np, ws.data(), ld, prm.data()); })) return 4;\n",
                      CUDA_WIDE_THREADS, CUDA_WIDE_THREADS, CUDA_WIDE_THREADS, st->seg);
                } else {
                    int ng = cuda_wide_gemms(jp, prm, st->instr, ld, np, g, maxg);
                    for (int q = 0; q < ng; q++)
                        P("            ddx_emu_gemm<real>(%d, %d, %d, ws.data() + %lld, %d, prm.data() + %zu, %d, "
                          "ws.data() + %lld, %d);\n",
                          g[q].m, g[q].n, g[q].k, (long long)g[q].a_off, g[q].lda, g[q].w_off, g[q].ldw,
                          (long long)g[q].c_off, g[q].ldc);
                }
            }
            P("        }\n");
        }
        free(g);
    }
    P("        for (size_t i = (size_t)(N * K); i < out.size(); i++)\n");
    P("            if (out[i] != (real)12345) { fprintf(stderr, \"emulate: write past the outputs\\n\"); return 5; }\n");
    P("        out.resize((size_t)(N * K));\n        outs[rev] = out;\n    }\n");
    P("    ddx_emu_write(dir, \"out.bin\", outs[0].data(), outs[0].size());\n");
    P("    if (memcmp(outs[0].data(), outs[1].data(), outs[0].size() * sizeof(real))) {\n");
    P("        fprintf(stderr, \"emulate: results depend on the thread order (a missing barrier?)\\n\");\n");
    P("        return 3;\n    }\n    return 0;\n}\n");
#undef P
    return s;
}

/* Plans, emits and writes one variant's folder; computes the reference. */
static void prepare(variant *v, const char *root) {
    char root_cut[200];
    snprintf(root_cut, sizeof root_cut, "%s", root);
    root = root_cut;
    cuda_case c;
    cuda_case_build(v->which, &c);
    assert_graph_ok(c.g);
    v->d = c.d;
    v->K = c.ncols;
    memcpy(v->order, c.order, sizeof v->order);
    snprintf(v->dir, sizeof v->dir, "%s/%s_%s_%s%s%s%s%s", root, cuda_case_names[v->which],
             v->prec == DDX_F64 ? "f64" : "f32", v->wide ? "wide" : "fused", v->max_threads ? "_nt" : "",
             v->max_threads ? v->max_threads : "", v->tile_points ? "_p" : "", v->tile_points ? v->tile_points : "");
    double *pts = malloc(sizeof(double) * (size_t)(v->n * c.d));
    cuda_case_points(&c, v->which, v->n, pts, 99 + (uint64_t)v->which);
    if (v->n > 5) pts[5 * c.d] = NAN; /* must stay in row 5 */
    v->ref = malloc(sizeof(double) * (size_t)(v->n * c.ncols));
    eval_graph(c.g, c.outs, c.nouts, DDX_F64, pts, v->n, v->ref);

    jet_program *jp = NULL;
    char err[512];
    /* lowered as ddx_compile lowers for CUDA: constant-jet first layers */
    if (jet_program_build_ex(c.g, c.outs, c.nouts, NEEDS_CONST_JET, &jp, err, sizeof err) != DDX_OK) fail_msg("lower: %s", err);
    cuda_fused_plan fp = {0};
    cuda_wide_plan wp = {0};
    cuda_params prm = {0};
    ddx_status st;
    if (!v->wide) {
        st = cuda_fused_plan_build(jp, v->prec, cuda_arch_smem_limit("sm_90"), v->max_threads ? atoi(v->max_threads) : 0,
                                   v->tile_points ? atoi(v->tile_points) : 0, &fp, err, sizeof err);
        if (st == DDX_ERR_UNSUPPORTED) {
            snprintf(v->note, sizeof v->note, "fused plan does not fit: %.200s", err);
            jet_program_free(jp);
            free(pts);
            ddx_graph_free(c.g);
            return;
        }
        if (st) fail_msg("%s: fused plan: %s", v->dir, err);
    } else {
        st = cuda_wide_plan_build(jp, v->prec, &wp, err, sizeof err);
        if (st) fail_msg("%s: wide plan: %s", v->dir, err);
    }
    if (cuda_params_pack(jp, v->prec, !v->wide, &prm, err, sizeof err)) fail_msg("params: %s", err);
    char *src = v->wide ? cuda_emit_wide(jp, &wp, &prm) : cuda_emit_fused(jp, &fp, &prm);
    assert_non_null(src);
    char *main_src = harness(v, jp, &fp, &wp, &prm);
    mkdir_p(v->dir);
    write_file(v->dir, "kernel.cu", src, strlen(src));
    write_file(v->dir, "main.cpp", main_src, strlen(main_src));
    size_t rsz = v->prec == DDX_F64 ? sizeof(double) : sizeof(float);
    write_file(v->dir, "params.bin", prm.data, prm.n_reals * rsz);
    if (v->prec == DDX_F64) {
        write_file(v->dir, "points.bin", pts, sizeof(double) * (size_t)(v->n * c.d));
    } else {
        float *pf = malloc(sizeof(float) * (size_t)(v->n * c.d));
        for (int64_t i = 0; i < v->n * c.d; i++) pf[i] = (float)pts[i];
        write_file(v->dir, "points.bin", pf, sizeof(float) * (size_t)(v->n * c.d));
        free(pf);
    }
    if (!v->wide) {
        int passes = 1;
        for (int i = 0; i < jp->n_instr; i++)
            if (jp->instr[i].op == JI_DENSE && (fp.tile[i].tasks + fp.NT - 1) / fp.NT > passes)
                passes = (fp.tile[i].tasks + fp.NT - 1) / fp.NT;
        snprintf(v->note, sizeof v->note, "fused: %d points x %d threads, %zu B shared, %d in place, %d pass%s", fp.P,
                 fp.NT, fp.smem_bytes, fp.n_inplace, passes, passes > 1 ? "es" : "");
    }
    else
        snprintf(v->note, sizeof v->note, "wide: %d segments, %d GEMM layers, chunk %lld", wp.n_segs, wp.n_gemms,
                 (long long)v->chunk);
    v->ready = 1;
    free(src);
    free(main_src);
    cuda_params_free(&prm);
    cuda_fused_plan_free(&fp);
    cuda_wide_plan_free(&wp);
    jet_program_free(jp);
    free(pts);
    ddx_graph_free(c.g);
}

/* Compiles every ready variant, a few at a time. Returns failures. */
static int compile_all(variant *v, int nv) {
    long jobs = sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1) jobs = 1;
    if (jobs > 8) jobs = 8;
    pid_t *pid = calloc((size_t)nv, sizeof(pid_t));
    int running = 0, failures = 0;
    for (int i = 0; i <= nv; i++) {
        while (running >= jobs || (i == nv && running > 0)) {
            int status;
            pid_t w = wait(&status);
            if (w <= 0) break;
            running--;
            for (int k = 0; k < nv; k++)
                if (pid[k] == w) {
                    pid[k] = 0;
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "emulate: %s: host compile failed (see %s/compile.log)\n", v[k].dir, v[k].dir);
                        v[k].ready = 0;
                        snprintf(v[k].note, sizeof v[k].note, "COMPILE FAILED");
                        failures++;
                    }
                }
        }
        if (i == nv) break;
        if (!v[i].ready) continue;
        char cmd[4096];
        /* -O1: the kernels' unrolled templates compile quickly and run fast
         * enough; UBSan checks the index arithmetic */
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && '%s' -std=c++17 -O1 -g0 -fsanitize=undefined -fno-sanitize-recover=undefined -w "
                 "-I'%s/tests' -I'%s/kernels' -I'%s/kernels/cuda' -I'%s/include' -o emu main.cpp > compile.log 2>&1",
                 v[i].dir, cxx(), src_dir(), src_dir(), src_dir(), src_dir());
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        pid[i] = p;
        running++;
    }
    free(pid);
    return failures;
}

/* Runs one compiled variant and compares with the CPU. Returns 0 if good. */
static int check(variant *v) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && ./emu . > run.log 2>&1", v->dir);
    int rc = system(cmd);
    if (rc != 0) {
        size_t n = 0;
        char *log = read_file(v->dir, "run.log", &n);
        fprintf(stderr, "emulate: %s: run failed (status %d): %s\n", v->dir, rc, log ? log : "");
        free(log);
        return 1;
    }
    size_t bytes = 0;
    void *raw = read_file(v->dir, "out.bin", &bytes);
    size_t rsz = v->prec == DDX_F64 ? sizeof(double) : sizeof(float);
    if (!raw || bytes != (size_t)(v->n * v->K) * rsz) {
        fprintf(stderr, "emulate: %s: output has %zu bytes\n", v->dir, bytes);
        free(raw);
        return 1;
    }
    int bad = 0;
    for (int k = 0; k < v->K; k++) {
        double mag = 0;
        for (int64_t i = 0; i < v->n; i++)
            if (isfinite(v->ref[i * v->K + k]) && fabs(v->ref[i * v->K + k]) > mag) mag = fabs(v->ref[i * v->K + k]);
        if (mag < 1e-30) mag = 1e-30;
        double worst = 0, tol = tol_for(v->prec, v->order[k]);
        for (int64_t i = 0; i < v->n; i++) {
            double want = v->ref[i * v->K + k];
            double got = v->prec == DDX_F64 ? ((double *)raw)[i * v->K + k] : ((float *)raw)[i * v->K + k];
            if (isnan(want) != isnan(got)) {
                if (bad++ < 5)
                    fprintf(stderr, "emulate: %s: row %lld column %d: got %g want %g (NaN must stay in its row)\n",
                            v->dir, (long long)i, k, got, want);
                continue;
            }
            if (isnan(want)) continue;
            double e = fabs(got - want) / mag;
            if (e > worst) worst = e;
            if (e > tol && bad++ < 5)
                fprintf(stderr, "emulate: %s: row %lld column %d (order %d): got %.17g want %.17g (err %.3g > %.3g)\n",
                        v->dir, (long long)i, k, v->order[k], got, want, e, tol);
        }
        (void)worst;
    }
    free(raw);
    return bad != 0;
}

static const char *work_root(void) {
    static char root[400];
    const char *w = getenv("DDX_EMULATE_WORKDIR");
    if (w && *w)
        snprintf(root, sizeof root, "%s", w);
    else
        snprintf(root, sizeof root, "/tmp/ddx-emulate-%ld", (long)getpid());
    return root;
}

static int have_cxx(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' --version > /dev/null 2>&1", cxx());
    return system(cmd) == 0;
}

/* Every program x precision x strategy. */
static void test_emulate_all(void **state) {
    (void)state;
    if (!have_cxx()) {
        printf("skipped: no host C++ compiler (%s) for the emulation check\n", cxx());
        skip();
    }
    variant v[CASE_COUNT * 4 + 16];
    int nv = 0;
    /* DDX_TEST_QUICK (the sanitizer pass of tests/run-all.sh): one variant
     * of each program, alternating precision and strategy */
    const int quick = getenv("DDX_TEST_QUICK") && *getenv("DDX_TEST_QUICK");
    for (int w = 0; w < CASE_COUNT; w++)
        for (int prec = 0; prec < 2; prec++)
            for (int wide = 0; wide < 2; wide++) {
                if (quick && (prec != w % 2 || wide != (w / 2) % 2)) continue;
                variant *x = &v[nv++];
                memset(x, 0, sizeof *x);
                x->which = w;
                x->prec = (ddx_precision)prec;
                x->wide = wide;
                /* ragged: not a multiple of any tile; W3 kept small (host GEMMs) */
                x->n = w == CASE_W3 ? 45 : 77;
                x->chunk = w == CASE_W3 ? 32 : 64; /* two chunks, the last partial */
            }
    /* planner overrides: layers in several passes (not in place), other tiles */
    static const struct {
        int which, prec;
        const char *nt, *tp;
    } extra[] = {{CASE_W1, DDX_F32, "64", NULL}, {CASE_DEEP, DDX_F64, "128", NULL},
                 {CASE_W2, DDX_F64, NULL, "32"}, {CASE_RESNET, DDX_F32, "32", "8"}};
    for (size_t e = 0; e < sizeof extra / sizeof extra[0]; e++) {
        if (quick && e > 0) break;
        variant *x = &v[nv++];
        memset(x, 0, sizeof *x);
        x->which = extra[e].which;
        x->prec = (ddx_precision)extra[e].prec;
        x->n = 77;
        x->chunk = 64;
        x->max_threads = extra[e].nt;
        x->tile_points = extra[e].tp;
    }
    /* d = 100 (issue 16): the first layer's constant jet (cjet) on both
     * paths, an exact Laplacian, the Hessian diagonal and an STDE estimate;
     * each once per strategy, precisions alternating (CI time) */
    static const struct {
        int which, prec, wide;
    } d100[] = {{CASE_D100_LAP, DDX_F64, 0},      {CASE_D100_LAP, DDX_F32, 1}, {CASE_D100_HESSDIAG, DDX_F32, 0},
                {CASE_D100_HESSDIAG, DDX_F64, 1}, {CASE_D100_STDE, DDX_F32, 0}, {CASE_D100_STDE, DDX_F64, 1}};
    for (size_t e = 0; e < sizeof d100 / sizeof d100[0]; e++) {
        if (quick && e > 0) break;
        variant *x = &v[nv++];
        memset(x, 0, sizeof *x);
        x->which = d100[e].which;
        x->prec = (ddx_precision)d100[e].prec;
        x->wide = d100[e].wide;
        x->n = 37; /* ragged, and a partial second chunk */
        x->chunk = 32;
    }
    /* DDX_EMULATE_ONLY=name: only the programs whose name contains it (development) */
    const char *only = getenv("DDX_EMULATE_ONLY");
    for (int i = 0; i < nv; i++) {
        if (only && *only && !strstr(cuda_case_names[v[i].which], only)) {
            snprintf(v[i].note, sizeof v[i].note, "not selected (DDX_EMULATE_ONLY)");
            continue;
        }
        prepare(&v[i], work_root());
    }
    int failures = compile_all(v, nv);
    for (int i = 0; i < nv; i++) {
        if (!v[i].ready) {
            printf("  %-28s %s\n", v[i].dir + strlen(work_root()) + 1, v[i].note);
            continue;
        }
        int bad = check(&v[i]);
        failures += bad;
        printf("  %-28s %s  %s\n", v[i].dir + strlen(work_root()) + 1, bad ? "FAIL" : "ok", v[i].note);
    }
    for (int i = 0; i < nv; i++) free(v[i].ref);
    if (failures) fail_msg("%d emulated variants failed", failures);
}

/* The checker must catch a missing barrier: drop the one the fused W1
 * kernel has before reading the last layer's output. */
static void test_emulate_catches_missing_barrier(void **state) {
    (void)state;
    if (!have_cxx()) skip();
    variant v;
    memset(&v, 0, sizeof v);
    v.which = CASE_W1;
    v.prec = DDX_F32;
    v.n = 77;
    char root[480];
    snprintf(root, sizeof root, "%s/negative", work_root());
    prepare(&v, root);
    assert_true(v.ready);
    size_t n = 0;
    char *src = read_file(v.dir, "kernel.cu", &n);
    assert_non_null(src);
    char *bar = strstr(src, "    __syncthreads();\n");
    assert_non_null(bar);
    memmove(bar, bar + strlen("    __syncthreads();\n"), strlen(bar + strlen("    __syncthreads();\n")) + 1);
    write_file(v.dir, "kernel.cu", src, strlen(src));
    free(src);
    assert_int_equal(compile_all(&v, 1), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && ./emu . > run.log 2>&1", v.dir);
    int rc = system(cmd);
    int bad = rc != 0 || check(&v) != 0;
    free(v.ref);
    assert_true(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emulate_all),
        cmocka_unit_test(test_emulate_catches_missing_barrier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
