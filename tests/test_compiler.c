/* test_compiler.c — what the compiler decides: coefficient sets from the
 * needs analysis (DESIGN §3), shared subexpressions, FLOP counts. */
#include <stdio.h>
#include <string.h>
#include "test_util.h"

static ddx_node mlp(ddx_graph *g, int d, int width, int layers) {
    ddx_node xs[64];
    for (int i = 0; i < d; i++) xs[i] = ddx_graph_input(g, i);
    ddx_node a = ddx_concat(g, xs, d);
    int in = d;
    static double W[256 * 256], b[256];
    for (int i = 0; i < 256 * 256; i++) W[i] = 0.01 * ((i * 7919) % 201 - 100);
    for (int i = 0; i < 256; i++) b[i] = 0.001 * i;
    for (int l = 0; l < layers; l++) {
        a = ddx_tanh(g, ddx_dense(g, a, width, in, W, b, DDX_F64));
        in = width;
    }
    return ddx_dense(g, a, 1, in, W, b, DDX_F64);
}

static ddx_program *compile(ddx_graph *g, const ddx_node *outs, int n) { return compile_cpu(g, outs, n, DDX_F32); }

/* Heat equation u_t, u_xx: the network carries {0, t, x, xx}: 4 channels,
 * not the 6 of a full second-order jet. */
static void test_heat_equation_channels(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node t = ddx_input(g, "t"), x = ddx_input(g, "x");
    ddx_node u = mlp(g, 2, 64, 4);
    ddx_node outs[2] = {ddx_grad(g, u, t), ddx_grad(g, ddx_grad(g, u, x), x)};
    ddx_program *p = compile(g, outs, 2);
    assert_int_equal(ddx_program_network_channels(p), 4);
    int coeffs[4 * 2];
    assert_int_equal(ddx_program_node_coeffs(p, u, coeffs, 4), 4);
    /* graded order: 0, t, x, xx */
    const int want[8] = {0, 0, 1, 0, 0, 1, 0, 2};
    assert_memory_equal(coeffs, want, sizeof want);
    /* FLOPs: 2*in*out*channels per dense layer dominate */
    double dense = 2.0 * 4 * (2 * 64 + 3 * 64 * 64 + 64);
    assert_true(ddx_program_flops_per_point(p) > dense);
    assert_true(ddx_program_flops_per_point(p) < 1.5 * dense);
    ddx_program_free(p);
    ddx_graph_free(g);
}

/* u, grad, hessian of u(t,x): all 6 coefficients of order <= 2. */
static void test_full_hessian_channels(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_input(g, "t");
    ddx_input(g, "x");
    ddx_node u = mlp(g, 2, 16, 2);
    ddx_node outs[7];
    outs[0] = u;
    assert_int_equal(ddx_gradient(g, u, outs + 1), DDX_OK);
    assert_int_equal(ddx_hessian(g, u, outs + 3), DDX_OK);
    ddx_program *p = compile(g, outs, 7);
    assert_int_equal(ddx_program_network_channels(p), 6);
    assert_int_equal(ddx_program_num_outputs(p), 7);
    ddx_program_free(p);
    ddx_graph_free(g);
}

/* Laplacian in d = 10: the collapsed channel gives {0, e_i, L} = 12 channels;
 * the same sum spelled as partials needs {0, e_i, 2 e_i} = 21, still not the
 * 66 of a full second-order jet; a differentiated Laplacian falls back to
 * partials (third order: more). */
static void test_laplacian_channels(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    char name[8];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "x%d", i + 1);
        ddx_input(g, name);
    }
    ddx_node u = mlp(g, 10, 32, 2);
    ddx_node lap = ddx_laplacian(g, u);
    ddx_program *p = compile(g, &lap, 1);
    assert_int_equal(ddx_program_network_channels(p), 12);
    ddx_program_free(p);
    ddx_node sum = DDX_NO_NODE;
    for (int i = 0; i < 10; i++) {
        int alpha[10] = {0};
        alpha[i] = 2;
        ddx_node t = ddx_partial(g, u, alpha);
        sum = i ? ddx_add(g, sum, t) : t;
    }
    p = compile(g, &sum, 1);
    assert_int_equal(ddx_program_network_channels(p), 21);
    ddx_program_free(p);
    /* over 9 of the 10 inputs (x2..x10): {0, e_2..e_10, lap} = 11 (x1 unused) */
    ddx_node sub9[9];
    for (int i = 0; i < 9; i++) sub9[i] = ddx_graph_input(g, i + 1);
    ddx_node lap9 = ddx_laplacian_over(g, u, sub9, 9);
    p = compile(g, &lap9, 1);
    assert_int_equal(ddx_program_network_channels(p), 11);
    ddx_program_free(p);
    ddx_node dlap = ddx_grad(g, lap, ddx_graph_input(g, 0));
    p = compile(g, &dlap, 1);
    assert_true(ddx_program_network_channels(p) > 21);
    ddx_program_free(p);
    ddx_graph_free(g);
}

/* hessian(u) together with u_xx computes u_xx once: the grad nodes are
 * shared (hash-consing), so the program is no bigger than hessian alone. */
static void test_cse_hessian_and_uxx(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_input(g, "t");
    ddx_node x = ddx_input(g, "x");
    ddx_node u = mlp(g, 2, 16, 2);
    ddx_node h[4];
    assert_int_equal(ddx_hessian(g, u, h), DDX_OK);
    ddx_node uxx = ddx_grad(g, ddx_grad(g, u, x), x);
    assert_int_equal(uxx, h[3]);
    ddx_program *ph = compile(g, h, 4);
    ddx_node both[5] = {h[0], h[1], h[2], h[3], uxx};
    ddx_program *pb = compile(g, both, 5);
    assert_int_equal(ddx_program_num_instructions(pb), ddx_program_num_instructions(ph));
    assert_true(ddx_program_flops_per_point(pb) == ddx_program_flops_per_point(ph));
    /* and the same expression built twice is one node */
    ddx_node a1 = ddx_mul(g, u, ddx_sin(g, x)), a2 = ddx_mul(g, ddx_sin(g, x), u);
    assert_int_equal(a1, a2);
    ddx_program_free(ph);
    ddx_program_free(pb);
    ddx_graph_free(g);
}

/* Only what an output needs is evaluated: u_x alone never carries t. */
static void test_needs_prunes(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_input(g, "t");
    ddx_node x = ddx_input(g, "x");
    ddx_node u = mlp(g, 2, 8, 1);
    ddx_node ux = ddx_grad(g, u, x);
    ddx_program *p = compile(g, &ux, 1);
    int c[2 * 2];
    assert_int_equal(ddx_program_node_coeffs(p, u, c, 2), 2);
    assert_int_equal(c[2], 0); /* second channel is x, not t */
    assert_int_equal(c[3], 1);
    ddx_program_free(p);
    ddx_graph_free(g);
}

/* Faa di Bruno counts: d^k/dx^k exp(x) at 0 = 1 for all k up to 8 uses
 * every set partition (Bell numbers 1, 2, 5, 15, 52, 203, 877, 4140 merged
 * into one term each in one dimension); the values check the merge. */
static void test_univariate_high_order(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    /* f = exp(sin(x)); derivatives at 0 are the Bell-like numbers of
     * exp(sin): 1, 1, 1, 0, -3, -8, -3, 56, 217 */
    ddx_node f = ddx_exp(g, ddx_sin(g, x));
    ddx_node outs[9];
    outs[0] = f;
    for (int k = 1; k < 9; k++) outs[k] = ddx_grad(g, outs[k - 1], x);
    double pt = 0, got[9];
    eval_graph(g, outs, 9, DDX_F64, &pt, 1, got);
    const double want[9] = {1, 1, 1, 0, -3, -8, -3, 56, 217};
    for (int k = 0; k < 9; k++)
        if (rel_err(got[k], want[k], 1) > 1e-12) fail_msg("order %d: got %.17g want %g", k, got[k], want[k]);
    ddx_graph_free(g);
}

static void test_describe(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node t = ddx_input(g, "t");
    ddx_input(g, "x");
    ddx_node u = mlp(g, 2, 8, 1);
    ddx_node ut = ddx_grad(g, u, t);
    ddx_program *p = compile(g, &ut, 1);
    char buf[4096];
    size_t n = ddx_program_describe(p, buf, sizeof buf);
    assert_true(n > 0 && n < sizeof buf);
    assert_non_null(strstr(buf, "{0,t}"));
    assert_non_null(strstr(buf, "useful FLOPs per point"));
    /* a small buffer is truncated, never overrun, and the full length is returned */
    char small[16];
    assert_int_equal(ddx_program_describe(p, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    ddx_program_free(p);
    ddx_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heat_equation_channels), cmocka_unit_test(test_full_hessian_channels),
        cmocka_unit_test(test_laplacian_channels),     cmocka_unit_test(test_cse_hessian_and_uxx),
        cmocka_unit_test(test_needs_prunes),           cmocka_unit_test(test_univariate_high_order),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
