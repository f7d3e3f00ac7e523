/* test_reliability.c — issue 13's C-API cases: user-given orders that would
 * overflow, buffers of the wrong precision, parser nesting, ambiguous names,
 * size limits, atomic file replacement and message sanitising. Each failed
 * on the code before the fix (a crash, a spin, a heap overflow or a wrong
 * column). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/array_io.h"
#include "tools/atomic_file.h"
#include "tools/expr_parse.h"
#include "tools/text_safe.h"
#include "test_util.h"

#include <dirent.h>
#define DDX_FUZZ_NO_MAIN /* the libFuzzer harness, called on each kept input */
#include "fuzz/fuzz_expr.c"

static void test_partial_order_overflow(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x"), y = ddx_input(g, "y");
    ddx_node u = ddx_mul(g, ddx_sin(g, x), y);
    const int alpha[2] = {INT_MAX, 2}; /* INT_MAX + 2 wrapped to negative */
    assert_int_equal(ddx_partial(g, u, alpha), DDX_NO_NODE);
    assert_int_equal(ddx_graph_status(g), DDX_ERR_LIMIT);
    assert_non_null(strstr(ddx_graph_error(g), "total order above"));
    ddx_graph_free(g);
}

static void test_typed_eval_checks_precision(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    ddx_node u = ddx_exp(g, x);
    ddx_program *p = compile_cpu(g, &u, 1, DDX_F64);
    float pf[4] = {0, 1, 2, 3}, of[4];
    double pd[4] = {0, 1, 2, 3}, od[4];
    /* f32 buffers to an f64 program: refused, nothing read or written */
    assert_int_equal(ddx_program_eval_f32(p, pf, 4, of), DDX_ERR_INVALID_ARG);
    assert_non_null(strstr(ddx_program_error(p), "compiled for f64"));
    assert_int_equal(ddx_program_eval_f64(p, pd, 4, od), DDX_OK);
    for (int i = 0; i < 4; i++) assert_true(fabs(od[i] - exp(pd[i])) < 1e-14 * exp(pd[i]));
    ddx_program_free(p);
    p = compile_cpu(g, &u, 1, DDX_F32);
    assert_int_equal(ddx_program_eval_f64(p, pd, 4, od), DDX_ERR_INVALID_ARG);
    assert_int_equal(ddx_program_eval_f32(p, pf, 4, of), DDX_OK);
    assert_true(fabsf(of[3] - expf(3)) < 1e-5f * expf(3));
    ddx_program_free(p);
    ddx_graph_free(g);
}

static char *repeat3(const char *a, int n, const char *mid, const char *b) {
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = malloc(la * n + lb * n + lm + 1), *q = s;
    for (int i = 0; i < n; i++) memcpy(q, a, la), q += la;
    memcpy(q, mid, lm), q += lm;
    for (int i = 0; i < n; i++) memcpy(q, b, lb), q += lb;
    *q = 0;
    return s;
}

static void test_parser_nesting_limit(void **state) {
    (void)state;
    const char *shapes[][3] = {{"(", "x", ")"}, {"exp(", "x", ")"}, {"-", "x", ""}, {"x^", "x", ""}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        ddx_graph *g = ddx_graph_create();
        ddx_input(g, "x");
        char *text = repeat3(shapes[k][0], 100000, shapes[k][1], shapes[k][2]);
        ddx_node n;
        char err[512];
        assert_int_equal(ddx_parse_expr(g, NULL, text, &n, err, sizeof err), DDX_ERR_PARSE);
        assert_non_null(strstr(err, "nested deeper than 256"));
        assert_true(strlen(err) < 300); /* the text is quoted shortened */
        free(text);
        ddx_graph_free(g);
    }
    /* the list parser: D(D(D(u,x),x)...) and grad(((...))) */
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    ddx_symtab syms = {0};
    ddx_symtab_add(&syms, "u", ddx_sin(g, x));
    char *text = repeat3("(", 50000, "u", ")");
    ddx_column_list l;
    char err[512];
    assert_int_not_equal(ddx_parse_list(g, &syms, text, &l, err, sizeof err), DDX_OK);
    assert_non_null(strstr(err, "nested deeper"));
    free(text);
    /* 200 levels parse */
    ddx_graph_clear_error(g);
    text = repeat3("sin(", 200, "x", ")");
    ddx_node n;
    assert_int_equal(ddx_parse_expr(g, &syms, text, &n, err, sizeof err), DDX_OK);
    free(text);
    ddx_symtab_free(&syms);
    ddx_graph_free(g);
}

static void test_ambiguous_partial_name(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node a = ddx_input(g, "a"), b = ddx_input(g, "b");
    ddx_input(g, "ab");
    ddx_symtab syms = {0};
    ddx_symtab_add(&syms, "u", ddx_mul(g, a, b));
    ddx_node n;
    char err[512];
    assert_int_equal(ddx_parse_expr(g, &syms, "u_ab", &n, err, sizeof err), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "D(u, ab) or D(u, a, b)"));
    ddx_graph_clear_error(g);
    assert_int_equal(ddx_parse_expr(g, &syms, "D(u,a,b)", &n, err, sizeof err), DDX_OK);
    /* an input spelled like a partial of an output: u_a is both */
    ddx_graph *h = ddx_graph_create();
    ddx_node ha = ddx_input(h, "a");
    ddx_input(h, "u_a");
    ddx_symtab s2 = {0};
    ddx_symtab_add(&s2, "u", ddx_sin(h, ha));
    assert_int_equal(ddx_parse_expr(h, &s2, "u_a", &n, err, sizeof err), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "ambiguous"));
    ddx_symtab_free(&s2);
    ddx_graph_free(h);
    ddx_symtab_free(&syms);
    ddx_graph_free(g);
}

static void test_unknown_function(void **state) {
    (void)state;
    char name[64];
    assert_int_equal(ddx_expr_unknown_function("sin(x) + foo (x)", name, sizeof name), 1);
    assert_string_equal(name, "foo");
    assert_int_equal(ddx_expr_unknown_function("D(u,x) + exp(x)*pow(x,2)", name, sizeof name), 0);
}

/* 1,500 random 8th-order partials in 16 inputs: refused at compile time
 * with the limit's name, not 3 GB and ten minutes. */
static void test_channel_limit(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node in[16];
    char nm[8];
    for (int i = 0; i < 16; i++) snprintf(nm, sizeof nm, "x%d", i + 1), in[i] = ddx_input(g, nm);
    ddx_node u = ddx_tanh(g, ddx_add(g, in[0], in[15]));
    for (int i = 1; i < 15; i++) u = ddx_mul(g, u, ddx_sin(g, in[i]));
    ddx_node *outs = malloc(sizeof(ddx_node) * 1500);
    uint64_t s = 7;
    for (int k = 0; k < 1500; k++) {
        int alpha[16] = {0};
        for (int j = 0; j < 8; j++) alpha[(int)test_uniform(&s, 0, 16)]++;
        outs[k] = ddx_partial(g, u, alpha);
    }
    assert_graph_ok(g);
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    ddx_program *p = NULL;
    assert_int_equal(ddx_compile(g, outs, 1500, &o, &p), DDX_ERR_LIMIT);
    assert_null(p);
    assert_non_null(strstr(ddx_graph_error(g), "DDX_MAX_"));
    free(outs);
    ddx_graph_free(g);
}

static void test_text_shown(void **state) {
    (void)state;
    char buf[64];
    assert_string_equal(ddx_text_shown("a\033[31mb\n", 100, buf, sizeof buf), "a\\x1b[31mb\\x0a");
    /* never cut inside a character: 'é' is 2 bytes */
    ddx_text_shown("ééééé", 7, buf, sizeof buf);
    assert_string_equal(buf, "éé..."); /* 7 bytes with the dots */
    ddx_text_shown("abc", 3, buf, sizeof buf);
    assert_string_equal(buf, "abc");
    /* a stray continuation byte is escaped, not passed on */
    assert_string_equal(ddx_text_shown("a\x80z", 100, buf, sizeof buf), "a\\x80z");
    ddx_text_shown("\xe2\x82", 100, buf, sizeof buf); /* truncated sequence */
    assert_string_equal(buf, "\\xe2\\x82");
}

/* The previous file survives an aborted write; commit replaces it whole. */
static void test_atomic_replace(void **state) {
    (void)state;
    char dir[] = "/tmp/ddx_atomic_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/out.csv", dir);
    FILE *f = fopen(path, "w");
    fputs("old\n", f);
    fclose(f);
    ddx_atomic a;
    assert_int_equal(ddx_atomic_open(&a, path, err, sizeof err), 0);
    fputs("new, half written", a.f);
    ddx_atomic_abort(&a);
    char got[64] = "";
    f = fopen(path, "r");
    assert_non_null(fgets(got, sizeof got, f));
    fclose(f);
    assert_string_equal(got, "old\n");
    ddx_array arr = {2, 1, DDX_F64, NULL, NULL};
    double v[2] = {1.5, 2.5};
    arr.data = v;
    assert_int_equal(ddx_array_write(path, &arr, err, sizeof err), DDX_OK);
    ddx_array back;
    assert_int_equal(ddx_array_read(path, &back, err, sizeof err), DDX_OK);
    assert_int_equal(back.rows, 2);
    assert_true(((double *)back.data)[1] == 2.5);
    ddx_array_free(&back);
    /* a missing directory: an error, nothing created */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/nope/x.csv", dir);
    assert_int_equal(ddx_array_write(bad, &arr, err, sizeof err), DDX_ERR_IO);
    assert_int_not_equal(ddx_check_writable(bad, err, sizeof err), 0);
    assert_int_equal(ddx_check_writable(path, err, sizeof err), 0);
    assert_int_equal(ddx_same_file(path, path), 1);
    unlink(path);
    rmdir(dir);
}

/* Every kept input of the expression fuzzer (tests/fuzz/corpus_expr) runs
 * through the harness again: no crash, and its contract checks hold. */
static void test_fuzz_replay_expr(void **state) {
    (void)state;
    const char *src = getenv("DDX_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus_expr", src ? src : ".");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        uint8_t buf[4096];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        ddx_fuzz_expr_one(buf, n);
        files++;
    }
    closedir(d);
    printf("# expr fuzz replay: %d files\n", files);
    assert_true(files >= 50);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_order_overflow), cmocka_unit_test(test_typed_eval_checks_precision),
        cmocka_unit_test(test_parser_nesting_limit),   cmocka_unit_test(test_ambiguous_partial_name),
        cmocka_unit_test(test_unknown_function),       cmocka_unit_test(test_channel_limit),
        cmocka_unit_test(test_text_shown),             cmocka_unit_test(test_atomic_replace),
        cmocka_unit_test(test_fuzz_replay_expr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
