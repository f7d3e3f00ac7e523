/* test_cuda_nvrtc.c — the CUDA backend without a GPU: every test program
 * is lowered, emitted and compiled by NVRTC for sm_80 and sm_90 in f32 and
 * f64 through the public ddx_cuda_compile_report; the reference workload
 * (W1, f32, sm_90) must not spill; the kernel cache, compile errors,
 * forced strategies and the no-driver path behave as documented. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "cuda_test_programs.h"
#include "host/runtime/backend.h"
#include "host/cuda/cuda_driver.h"
#include "host/cuda/cuda_emit.h"

static int report_int(const char *rep, const char *key) {
    const char *s = strstr(rep, key);
    if (!s) fail_msg("report has no \"%s\":\n%s", key, rep);
    return atoi(s + strlen(key));
}

static ddx_status report(int which, ddx_precision prec, ddx_strategy strat, const char *arch, char *buf, size_t cap,
                         char *err, size_t errcap) {
    cuda_case c;
    cuda_case_build(which, &c);
    assert_graph_ok(c.g);
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.precision = prec;
    o.strategy = strat;
    ddx_status st = ddx_cuda_compile_report(c.g, c.outs, c.nouts, &o, arch, buf, cap);
    snprintf(err, errcap, "%s", ddx_graph_error(c.g));
    ddx_graph_free(c.g);
    return st;
}

/* The programs of the issue, both precisions, sm_80 and sm_90. */
static void test_compile_all_programs(void **state) {
    (void)state;
    static const int cases[] = {CASE_SEED, CASE_W1, CASE_W2, CASE_ACTS, CASE_W3};
    static const char *archs[] = {"sm_80", "sm_90"};
    char buf[4096], err[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int prec = 0; prec < 2; prec++)
            for (int a = 0; a < 2; a++) {
                struct timespec t0, t1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                ddx_status st = report(cases[i], (ddx_precision)prec, DDX_STRATEGY_AUTO, archs[a], buf, sizeof buf,
                                       err, sizeof err);
                clock_gettime(CLOCK_MONOTONIC, &t1);
                if (st != DDX_OK)
                    fail_msg("%s %s %s: %s: %s", cuda_case_names[cases[i]], prec ? "f64" : "f32", archs[a],
                             ddx_status_string(st), err);
                double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
                /* one line per build: bench/device-check.sh collects the times */
                printf("nvrtc %-5s %s %s: %6.0f ms, registers %d, spill stores %d bytes, spill loads %d bytes, %s\n",
                       cuda_case_names[cases[i]], prec ? "f64" : "f32", archs[a], ms,
                       report_int(buf, "registers "), report_int(buf, "spill stores "),
                       report_int(buf, "spill loads "),
                       strstr(buf, "NVRTC compiled") ? "compiled" : "cached");
                if (cases[i] == CASE_W3) assert_non_null(strstr(buf, "strategy: cublas (widest layer 256 > 128"));
                else assert_non_null(strstr(buf, "strategy: fused"));
                assert_non_null(strstr(buf, "threads per block"));
            }
}

/* The reference workload must not spill at sm_90 (f32 and f64). */
static void test_w1_no_spills(void **state) {
    (void)state;
    char buf[4096], err[1024];
    for (int prec = 0; prec < 2; prec++) {
        ddx_status st = report(CASE_W1, (ddx_precision)prec, DDX_STRATEGY_AUTO, "sm_90", buf, sizeof buf, err,
                               sizeof err);
        if (st) fail_msg("W1: %s", err);
        printf("W1 %s sm_90:\n%s", prec ? "f64" : "f32", buf);
        assert_int_equal(report_int(buf, "spill stores "), 0);
        assert_int_equal(report_int(buf, "spill loads "), 0);
        assert_int_equal(report_int(buf, "stack "), 0);
        assert_true(report_int(buf, "registers ") > 0);
    }
}

/* Forced strategies: W1 through cuBLAS compiles; W3 with its Laplacian
 * spelled as partials (21 channels) cannot be fused in f64 and says why,
 * while the collapsed W3 (12 channels) can; the extra programs compile both
 * ways. */
static void test_forced_strategies(void **state) {
    (void)state;
    char buf[4096], err[1024];
    assert_int_equal(report(CASE_W1, DDX_F32, DDX_STRATEGY_CUBLAS, "sm_90", buf, sizeof buf, err, sizeof err), DDX_OK);
    assert_non_null(strstr(buf, "strategy: cublas (asked for)"));
    assert_int_equal(
        report(CASE_W3_PARTIALS, DDX_F64, DDX_STRATEGY_FUSED, "sm_90", buf, sizeof buf, err, sizeof err),
        DDX_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "shared memory"));
    assert_int_equal(report(CASE_W3, DDX_F64, DDX_STRATEGY_FUSED, "sm_90", buf, sizeof buf, err, sizeof err), DDX_OK);
    assert_non_null(strstr(buf, "strategy: fused (asked for)"));
    static const int extra[] = {CASE_MIXED, CASE_RESNET, CASE_SHARED, CASE_W1_SMALL, CASE_MISC, CASE_DEEP};
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        for (int s = 1; s <= 2; s++) {
            ddx_status st = report(extra[i], DDX_F32, (ddx_strategy)s, "sm_90", buf, sizeof buf, err, sizeof err);
            if (st) fail_msg("%s strategy %d: %s", cuda_case_names[extra[i]], s, err);
        }
}

/* Jet rows per point of a wide-path report. */
static int report_rows(const char *buf) {
    const char *rows = strstr(buf, " jet rows per point");
    assert_non_null(rows);
    while (rows > buf && rows[-1] >= '0' && rows[-1] <= '9') rows--;
    return atoi(rows);
}

/* mlp:D-W-W-1:tanh with the exact Laplacian, f32, sm_90, AUTO. */
static void report_mlp_laplacian(int d, int w, char *buf, size_t cap) {
    ddx_graph *g = ddx_graph_create();
    ddx_node *x = test_numbered_inputs(g, d);
    const int widths[2] = {w, w};
    const ddx_unary_op a[2] = {DDX_TANH, DDX_TANH};
    ddx_node lap = ddx_laplacian(g, cc_mlp(g, x, d, widths, 2, a, 17));
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    ddx_status st = ddx_cuda_compile_report(g, &lap, 1, &o, "sm_90", buf, cap);
    if (st) fail_msg("mlp:%d-%d-%d-1 Laplacian: %s", d, w, w, ddx_graph_error(g));
    printf("mlp:%d-%d-%d-1:tanh laplacian f32 sm_90:\n%s", d, w, w, buf);
    free(x);
    ddx_graph_free(g);
}

/* Issue 16 at d = 100 (and 1000): exact Laplacians compile for sm_90. The
 * first layer over the inputs runs with a constant jet (only its value
 * channel is a GEMM), so the inputs carry their value alone, and runs of
 * inputs, of their concat and of the epilogue's gradient channels and
 * squared terms are loops: the 100-16-16-1 program takes the fused path in
 * f32 and f64; mlp:100-128-128-1 (W5's d = 100 shape, too wide to fuse at 102
 * channels) and mlp:1000-64-64-1 the cuBLAS path with sources under 16 KB
 * (d = 100: 86 KB and 46512 jet rows per point when the inputs carried all
 * 102 channels; now about 5 KB and 26312 rows). */
static void test_d100_laplacian(void **state) {
    (void)state;
    char buf[4096], err[1024];
    for (int prec = 0; prec < 2; prec++) {
        ddx_status st = report(CASE_D100_LAP, (ddx_precision)prec, DDX_STRATEGY_AUTO, "sm_90", buf, sizeof buf, err,
                               sizeof err);
        if (st) fail_msg("d100 Laplacian %s: %s", prec ? "f64" : "f32", err);
        printf("d100lap %s sm_90:\n%s", prec ? "f64" : "f32", buf);
        assert_non_null(strstr(buf, "strategy: fused"));
    }
    report_mlp_laplacian(100, 128, buf, sizeof buf);
    assert_non_null(strstr(buf, "strategy: cublas"));
    assert_true(report_int(buf, "generated source ") < 16000);
    assert_true(report_rows(buf) < 30000); /* 2 x 128 x 102 + a few */
    report_mlp_laplacian(1000, 64, buf, sizeof buf);
    assert_true(report_int(buf, "generated source ") < 16000);
    assert_int_equal(report_int(buf, "spill stores "), 0);
}

/* Disk cache: a second build after emptying the memory cache reads the
 * file; an unusable cache folder warns and goes on. */
static void test_kernel_cache(void **state) {
    (void)state;
    char dir[] = "/tmp/ddx-cache-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char saved[1024] = "";
    const char *old = getenv("DDX_CACHE_DIR");
    int had = old != NULL;
    if (had) snprintf(saved, sizeof saved, "%s", old);
    char sub[700];
    snprintf(sub, sizeof sub, "%s/nested/ddx", dir);
    setenv("DDX_CACHE_DIR", sub, 1);
    const char *src = "typedef float real;\n#include \"ddx_fused.cuh\"\n"
                      "extern \"C\" __global__ void k(real *x) { x[threadIdx.x] = ddx_tanh_r(x[threadIdx.x]); }\n";
    ddx_kernel_binary a, b;
    char err[1024];
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &a, err, sizeof err), DDX_OK);
    assert_int_equal(a.cache, 0);
    assert_true(a.size > 0 && a.n_kernels == 1);
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 1); /* memory */
    ddx_kernel_binary_free(&b);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 2); /* disk */
    assert_int_equal((long)b.size, (long)a.size);
    assert_memory_equal(a.image, b.image, a.size);
    assert_int_equal(b.regs, a.regs);
    ddx_kernel_binary_free(&b);
    /* another arch is another key */
    assert_int_equal(ddx_nvrtc_build(src, "sm_90", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 0);
    ddx_kernel_binary_free(&b);
    ddx_kernel_binary_free(&a);

    /* a file where the folder should be: warn once, still compile */
    char file[640];
    snprintf(file, sizeof file, "%s/not-a-dir", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(sub, sizeof sub, "%s/cache", file);
    setenv("DDX_CACHE_DIR", sub, 1);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_86", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 0);
    ddx_kernel_binary_free(&b);
    if (had) /* the other tests keep the build's cache folder, never ~/.cache */
        setenv("DDX_CACHE_DIR", saved, 1);
    else
        unsetenv("DDX_CACHE_DIR");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Cache integrity (issue 13): a payload that does not match its checksum,
 * a header whose sizes do not add up, a folder that is a symlink or
 * writable by others, stale temporaries, no /tmp default. */
static void entry_path(const char *dir, char *path, size_t cap) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    path[0] = 0;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".cubin") && e->d_name[0] != '.') snprintf(path, cap, "%s/%s", dir, e->d_name);
    closedir(d);
    assert_true(path[0] != 0);
}

static void test_kernel_cache_integrity(void **state) {
    (void)state;
    char dir[] = "/tmp/ddx-cache-int-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char saved[1024] = "";
    const char *old = getenv("DDX_CACHE_DIR");
    int had = old != NULL;
    if (had) snprintf(saved, sizeof saved, "%s", old);
    char sub[700], path[1024], err[1024];
    snprintf(sub, sizeof sub, "%s/c", dir);
    setenv("DDX_CACHE_DIR", sub, 1);
    const char *src = "typedef float real;\nextern \"C\" __global__ void k(real *x) { x[threadIdx.x] *= 3; }\n";
    ddx_kernel_binary a, b;
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &a, err, sizeof err), DDX_OK);
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700); /* private */
    entry_path(sub, path, sizeof path);
    /* zero the payload, keep the header: a miss, recompiled and rewritten */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size - (long)a.size, SEEK_SET);
    char *zeros = calloc(1, a.size);
    fwrite(zeros, 1, a.size, f);
    free(zeros);
    fclose(f);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 0);
    assert_memory_equal(a.image, b.image, a.size);
    ddx_kernel_binary_free(&b);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 2); /* the rewritten entry is good again */
    ddx_kernel_binary_free(&b);
    /* a forged header claiming a 1 GiB image: refused before allocating
     * (the rewritten entry's log, with its timings, may differ in length) */
    assert_int_equal(stat(path, &st), 0);
    size = (long)st.st_size;
    f = fopen(path, "rb");
    char *all = malloc((size_t)size);
    assert_int_equal(fread(all, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    char *nl = memchr(all, '\n', (size_t)size), *nl2 = memchr(nl + 1, '\n', (size_t)(all + size - nl - 1));
    unsigned long long ka, kb, sum;
    int ptx;
    size_t is, ls;
    assert_int_equal(sscanf(nl + 1, "%llx %llx %d %zu %zu %llx", &ka, &kb, &ptx, &is, &ls, &sum), 6);
    f = fopen(path, "wb");
    fprintf(f, "DDXK 2\n%016llx %016llx %d %zu %zu %016llx\n", ka, kb, ptx, (size_t)1 << 30, ls, sum);
    fwrite(nl2 + 1, 1, (size_t)(all + size - nl2 - 1), f);
    fclose(f);
    free(all);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 0);
    ddx_kernel_binary_free(&b);
    /* a stale temporary of a dead writer is removed on the next store */
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s/.tmp-999999-0-dead", sub);
    f = fopen(tmp, "w");
    fclose(f);
    struct timespec ts[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    assert_int_equal(utimensat(AT_FDCWD, tmp, ts, 0), 0);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_86", &b, err, sizeof err), DDX_OK);
    ddx_kernel_binary_free(&b);
    assert_int_not_equal(access(tmp, F_OK), 0);
    /* a folder writable by others, or a symlink to one: no disk cache */
    assert_int_equal(chmod(sub, 0777), 0);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 0); /* the entry there is not trusted */
    ddx_kernel_binary_free(&b);
    assert_int_equal(chmod(sub, 0700), 0);
    char link[720];
    snprintf(link, sizeof link, "%s/link", dir);
    assert_int_equal(symlink(sub, link), 0);
    setenv("DDX_CACHE_DIR", link, 1);
    ddx_nvrtc_cache_clear_memory();
    assert_int_equal(ddx_nvrtc_build(src, "sm_80", &b, err, sizeof err), DDX_OK);
    assert_int_equal(b.cache, 0);
    ddx_kernel_binary_free(&b);
    /* HOME unset: never the shared /tmp/.cache/ddx */
    char home[1024] = "", xdg[1024] = "";
    if (getenv("HOME")) snprintf(home, sizeof home, "%s", getenv("HOME"));
    if (getenv("XDG_CACHE_HOME")) snprintf(xdg, sizeof xdg, "%s", getenv("XDG_CACHE_HOME"));
    unsetenv("DDX_CACHE_DIR");
    unsetenv("HOME");
    unsetenv("XDG_CACHE_HOME");
    char cdir[1024];
    ddx_nvrtc_cache_dir(cdir, sizeof cdir);
    assert_null(strstr(cdir, "/tmp/.cache"));
    if (home[0]) setenv("HOME", home, 1);
    if (xdg[0]) setenv("XDG_CACHE_HOME", xdg, 1);
    if (had) setenv("DDX_CACHE_DIR", saved, 1);
    else unsetenv("DDX_CACHE_DIR");
    ddx_kernel_binary_free(&a);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A source NVRTC rejects: DDX_ERR_COMPILE with the log in the message. */
static void test_compile_error(void **state) {
    (void)state;
    ddx_kernel_binary b;
    char err[1024] = "";
    const char *src = "typedef float real;\nextern \"C\" __global__ void k(real *x) { x[0] = undeclared_thing; }\n";
    fprintf(stderr, "(an NVRTC error and a numbered source follow: expected)\n");
    assert_int_equal(ddx_nvrtc_build(src, "sm_90", &b, err, sizeof err), DDX_ERR_COMPILE);
    assert_non_null(strstr(err, "undeclared_thing"));
}

/* The ptxas -v parser, on the format this toolkit writes. */
static void test_parse_ptxas(void **state) {
    (void)state;
    const char *log = "ptxas info    : 0 bytes gmem\n"
                      "ptxas info    : Compiling entry function 'a' for 'sm_90'\n"
                      "ptxas info    : Function properties for a\n"
                      "ptxas         .     16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
                      "ptxas info    : Used 40 registers, used 1 barriers, 16 bytes cumulative stack size\n"
                      "ptxas info    : Compiling entry function 'b' for 'sm_90'\n"
                      "ptxas info    : Function properties for b\n"
                      "ptxas         .     0 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n"
                      "ptxas info    : Used 128 registers, used 0 barriers\n";
    ddx_kernel_binary b = {0};
    ddx_parse_ptxas_log(log, &b);
    assert_int_equal(b.n_kernels, 2);
    assert_int_equal(b.regs, 128);
    assert_int_equal(b.spill_stores, 12);
    assert_int_equal(b.spill_loads, 16);
    assert_int_equal(b.stack_bytes, 16);
}

/* NVRTC supports the two architectures of the issue as real targets. */
static void test_arch_choice(void **state) {
    (void)state;
    char a[32];
    ddx_nvrtc_arch_for(8, 0, a, sizeof a);
    assert_string_equal(a, "sm_80");
    ddx_nvrtc_arch_for(9, 0, a, sizeof a);
    assert_string_equal(a, "sm_90");
    ddx_nvrtc_arch_for(99, 9, a, sizeof a); /* newer than this NVRTC: PTX */
    assert_int_equal(strncmp(a, "compute_", 8), 0);
    assert_int_equal((long)cuda_arch_smem_limit("sm_90"), 232448);
    assert_int_equal((long)cuda_arch_smem_limit("sm_80"), 166912);
}

/* Without a driver: available() says why, in one line; device cuda is an
 * error; AUTO falls back to the CPU. Run in a child, since the driver is
 * loaded once per process. */
static void test_no_driver(void **state) {
    (void)state;
    pid_t pid = fork();
    if (pid == 0) {
        setenv("DDX_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1);
        char why[256] = "";
        const ddx_backend_i *be = ddx_backend_cuda();
        if (!be || be->available(why, sizeof why)) _exit(1);
        if (strcmp(why, "no CUDA driver (/nonexistent/libcuda.so.1 not found)") != 0) _exit(2);
        cuda_case c;
        cuda_case_build(CASE_SEED, &c);
        ddx_compile_options o;
        ddx_compile_options_default(&o);
        o.device = DDX_DEVICE_CUDA;
        ddx_program *p = NULL;
        if (ddx_compile(c.g, c.outs, c.nouts, &o, &p) != DDX_ERR_NO_DEVICE) _exit(3);
        if (!strstr(ddx_graph_error(c.g), "no CUDA driver")) _exit(4);
        ddx_graph_clear_error(c.g);
        o.device = DDX_DEVICE_AUTO;
        if (ddx_compile(c.g, c.outs, c.nouts, &o, &p) != DDX_OK) _exit(5);
        if (ddx_program_device(p) != DDX_DEVICE_CPU) _exit(6);
        ddx_program_free(p);
        ddx_graph_free(c.g);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* and in this process, the real answer is one line either way */
    char why[256] = "";
    int ok = ddx_backend_cuda()->available(why, sizeof why);
    printf("cuda available: %d%s%s\n", ok, ok ? "" : " — ", ok ? "" : why);
    if (!ok) assert_null(strchr(why, '\n'));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ptxas),  cmocka_unit_test(test_arch_choice),
        cmocka_unit_test(test_no_driver),    cmocka_unit_test(test_compile_error),
        cmocka_unit_test(test_kernel_cache), cmocka_unit_test(test_kernel_cache_integrity), cmocka_unit_test(test_w1_no_spills),
        cmocka_unit_test(test_forced_strategies), cmocka_unit_test(test_compile_all_programs),
        cmocka_unit_test(test_d100_laplacian),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
