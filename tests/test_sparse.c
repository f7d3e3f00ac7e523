/* test_sparse.c — first-layer block sparsity (issue 16 point 3,
 * host/compiler/sparsity.c): a block-structured first layer (unit j reads
 * only the 3 inputs of its "electron") evaluated with the sparsity against
 * the forced dense path (DDX_SPARSE=0, equal to the bit: the skipped terms
 * are exact zeros) and against float64 finite differences, f32 and f64, for
 * the Laplacian, the Hessian diagonal and the gradient at d = 30 and 300;
 * ragged layers (a unit reading two blocks, units not contiguous, a layer
 * with no zeros) and a hidden layer read by something else than the next
 * dense layer (its zero entries must then be written) must stay exact. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "test_util.h"
#include "tools/fd_reference.h"

enum { BLK = 3 };
/* STACKED: BLOCKS, and the second layer block-diagonal too (unit j of
 * layer 2 reads the layer-1 units of its own block): a per-electron stack */
typedef enum { LAYOUT_BLOCKS, LAYOUT_RAGGED, LAYOUT_INTERLEAVED, LAYOUT_DENSE, LAYOUT_STACKED } layout;

/* Does unit j of h read input i of d (blocks of BLK inputs, units in d/BLK
 * contiguous near-equal blocks)? RAGGED: the first unit of every block also
 * reads the first input of the next block; INTERLEAVED: unit j belongs to
 * block j mod (d/BLK) (the same sets, not contiguous). */
static int reads(layout L, int j, int i, int h, int d) {
    const int B = d / BLK;
    if (L == LAYOUT_STACKED) L = LAYOUT_BLOCKS;
    int b = L == LAYOUT_INTERLEAVED ? j % B : (int)((long)j * B / h);
    if (L == LAYOUT_DENSE || i / BLK == b) return 1;
    int first = (int)(((long)b * h + B - 1) / B) == j; /* first unit of block b */
    return L == LAYOUT_RAGGED && first && i == BLK * ((b + 1) % B);
}

/* u = w3 . tanh(W2 tanh(W1 x + b1) + b2) + b3, W1 zero outside the layout;
 * *h1 = unit 1 of the first hidden layer tanh(W1 x + b1), made before the
 * next layer so its reader runs early and the layer's rows are reused by
 * later values (its zero entries then hold stale data unless written). */
static ddx_node block_mlp(ddx_graph *g, int d, int h, layout L, uint64_t seed, ddx_node *h1) {
    ddx_node *xs = test_numbered_inputs(g, d);
    ddx_node a = ddx_concat(g, xs, d);
    free(xs);
    int in = d;
    for (int l = 0; l < 3; l++) {
        int out = l == 2 ? 1 : h;
        double *W = malloc(sizeof(double) * (size_t)in * (size_t)out), *b = malloc(sizeof(double) * (size_t)out);
        assert_non_null(W);
        assert_non_null(b);
        double lim = sqrt(6.0 / ((l == 0 ? BLK : in) + out));
        for (int j = 0; j < out; j++)
            for (int i = 0; i < in; i++) {
                double w = test_uniform(&seed, -lim, lim);
                int zero = l == 0 && !reads(L, j, i, h, d);
                if (l == 1 && L == LAYOUT_STACKED) zero = (long)j * (d / BLK) / h != (long)i * (d / BLK) / h;
                W[(size_t)j * in + i] = zero ? 0.0 : w;
            }
        for (int k = 0; k < out; k++) b[k] = test_uniform(&seed, -0.1, 0.1);
        a = ddx_dense(g, a, out, in, W, b, DDX_F64);
        free(W);
        free(b);
        if (l < 2) a = ddx_tanh(g, a);
        if (l == 0) *h1 = ddx_component(g, a, 1);
        in = out;
    }
    ddx_node u = ddx_component(g, a, 0);
    assert_graph_ok(g);
    return u;
}

static double *points(int n, int d, uint64_t seed) {
    double *p = malloc(sizeof(double) * (size_t)n * (size_t)d);
    assert_non_null(p);
    for (size_t k = 0; k < (size_t)n * (size_t)d; k++) p[k] = test_uniform(&seed, -1, 1);
    return p;
}

static int g_tile; /* tile_points for compile (0: automatic) */

/* Compiles (sparse unless dense) and evaluates; *info gets describe's text. */
static void run(ddx_graph *g, const ddx_node *outs, int K, ddx_precision pr, int dense, const double *pts, int n,
                double *out, char *info, size_t cap) {
    if (dense) setenv("DDX_SPARSE", "0", 1);
    else unsetenv("DDX_SPARSE");
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    o.precision = pr;
    o.tile_points = g_tile;
    ddx_program *p = NULL;
    if (ddx_compile(g, outs, K, &o, &p) != DDX_OK) fail_msg("compile: %s", ddx_graph_error(g));
    unsetenv("DDX_SPARSE");
    assert_int_equal(eval_program(p, pr, pts, n, out), DDX_OK);
    if (info) ddx_program_describe(p, info, cap);
    ddx_program_free(p);
}

/* The columns: u, the Laplacian, every Hessian-diagonal entry and every
 * gradient entry (and, when h1_too, d/dx_d and the Laplacian of hidden unit 1). */
static int columns(ddx_graph *g, ddx_node u, ddx_node h1, int d, int h1_too, ddx_node *outs) {
    int K = 0;
    outs[K++] = u;
    outs[K++] = ddx_laplacian(g, u);
    assert_int_equal(ddx_hessdiag(g, u, outs + K), DDX_OK);
    K += d;
    for (int i = 0; i < d; i++) outs[K++] = ddx_grad(g, u, ddx_graph_input(g, i));
    if (h1_too) { /* a zero channel of unit 1 (block 0): d/dx_d */
        outs[K++] = ddx_grad(g, h1, ddx_graph_input(g, d - 1));
        outs[K++] = ddx_laplacian(g, h1);
    }
    assert_graph_ok(g);
    return K;
}

/* Sparse == dense to the bit, both precisions; f64 vs FD on a few columns;
 * returns describe's text of the sparse f64 program in info. */
static void check(int d, int h, layout L, int h1_too, char *info, size_t cap) {
    ddx_graph *g = ddx_graph_create();
    ddx_node h1, u = block_mlp(g, d, h, L, 100u + (uint64_t)d + (uint64_t)L, &h1);
    ddx_node *outs = malloc(sizeof(ddx_node) * (size_t)(2 * d + 4));
    assert_non_null(outs);
    const int K = columns(g, u, h1, d, h1_too, outs), n = 229; /* tiles, the last ragged */
    double *pts = points(n, d, 9), *sp = malloc(sizeof(double) * (size_t)n * K),
           *dn = malloc(sizeof(double) * (size_t)n * K);
    assert_non_null(sp);
    assert_non_null(dn);
    for (int prec = 0; prec < 2; prec++) {
        ddx_precision pr = prec ? DDX_F64 : DDX_F32;
        run(g, outs, K, pr, 1, pts, n, dn, NULL, 0);
        run(g, outs, K, pr, 0, pts, n, sp, prec ? info : NULL, cap);
        /* bitwise; with odd tiles (g_tile) the per-channel-group GEMMs have
         * column tails where the whole-jet GEMM has full strips: rounding */
        const double tol = g_tile ? (prec ? 1e-13 : 2e-6) : 0;
        for (int k = 0; k < n * K; k++)
            if (g_tile ? rel_err(sp[k], dn[k], 1.0) > tol : !(sp[k] == dn[k]))
                fail_msg("d=%d layout %d %s point %d column %d: sparse %.17g, dense %.17g", d, (int)L,
                         prec ? "f64" : "f32", k / K, k % K, sp[k], dn[k]);
        /* vs float64 FD: u, the Laplacian, hessdiag / grad of the first and
         * last input, the hidden unit's Laplacian */
        const int cols[] = {0, 1, 2, 1 + d, 2 + d, 1 + 2 * d, h1_too ? K - 2 : 1, h1_too ? K - 1 : 1};
        for (int q = 0; q < 2; q++)
            for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
                double ref = fd_eval(g, outs[cols[c]], pts + (size_t)q * d), got = sp[q * K + cols[c]];
                if (rel_err(got, ref, 1e-2) > (prec ? 1e-6 : 2e-3))
                    fail_msg("d=%d layout %d %s point %d column %d: ddx %.10g, FD %.10g", d, (int)L,
                             prec ? "f64" : "f32", q, cols[c], got, ref);
            }
    }
    free(pts);
    free(sp);
    free(dn);
    free(outs);
    ddx_graph_free(g);
}

static int contains(const char *s, const char *what) { return strstr(s, what) != NULL; }
/* DDX_TEST_QUICK (sanitizers, qemu-user): d = 30 only */
static int quick(void) { return getenv("DDX_TEST_QUICK") && *getenv("DDX_TEST_QUICK"); }

static void test_blocks_d30(void **state) {
    (void)state;
    char info[8192];
    check(30, 20, LAYOUT_BLOCKS, 0, info, sizeof info);
    if (!contains(info, "first-layer block sparsity: 10 blocks, 3 inputs each")) fail_msg("info: %s", info);
}

static void test_blocks_d300(void **state) {
    (void)state;
    char info[8192];
    if (quick()) return;
    check(300, 128, LAYOUT_BLOCKS, 0, info, sizeof info);
    if (!contains(info, "first-layer block sparsity: 100 blocks, 3 inputs each")) fail_msg("info: %s", info);
}

/* a unit reading two blocks: its channels of both blocks are non-zero (the
 * runs of the next layer overlap); the rest stays sparse */
static void test_ragged(void **state) {
    (void)state;
    char info[8192];
    check(30, 20, LAYOUT_RAGGED, 0, info, sizeof info);
    if (!contains(info, "3..4 inputs each")) fail_msg("info: %s", info);
    if (!quick()) check(300, 128, LAYOUT_RAGGED, 0, info, sizeof info);
}

/* units of a block not contiguous: one GEMM per unit run (here 2 per
 * block); no zeros at all: nothing is sparse */
static void test_fallbacks(void **state) {
    (void)state;
    char info[8192];
    check(30, 20, LAYOUT_INTERLEAVED, 0, info, sizeof info);
    if (!contains(info, "first-layer block sparsity: 20 blocks")) fail_msg("info: %s", info);
    check(30, 20, LAYOUT_DENSE, 0, info, sizeof info);
    if (contains(info, "first-layer block sparsity")) fail_msg("info: %s", info);
}

/* two block layers: the second activation and the output layer are sparse too */
static void test_stacked(void **state) {
    (void)state;
    char info[8192];
    check(30, 20, LAYOUT_STACKED, 1, info, sizeof info);
    if (!contains(info, "10 blocks, 3 inputs each") || !contains(info, "2 sparse activation layers"))
        fail_msg("info: %s", info);
    if (quick()) return;
    check(300, 128, LAYOUT_STACKED, 0, info, sizeof info);
    if (!contains(info, "2 sparse activation layers")) fail_msg("info: %s", info);
}

/* tiles of 40 points are no whole GEMM strips: the dense + activation pairs
 * run unfused (run_dense_sparse_, then the sparse activation on its own);
 * equal to the dense path within rounding (GEMM column tails differ) */
static void test_unfused(void **state) {
    (void)state;
    char info[8192];
    g_tile = 40;
    check(30, 20, LAYOUT_BLOCKS, 1, info, sizeof info);
    check(30, 20, LAYOUT_STACKED, 1, info, sizeof info);
    check(30, 20, LAYOUT_RAGGED, 0, info, sizeof info);
    g_tile = 0;
    if (!contains(info, "tiles of 40 points")) fail_msg("info: %s", info);
}

/* the hidden layer also feeds a Laplacian of its own: its zero channels
 * are read, so they are written (sp_zero_fill) */
static void test_hidden_read(void **state) {
    (void)state;
    char info[8192];
    check(30, 20, LAYOUT_BLOCKS, 1, info, sizeof info);
    if (!contains(info, "first-layer block sparsity: 10 blocks")) fail_msg("info: %s", info);
}

/* DDX_SPARSE=0 says so in describe */
static void test_switch(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node h1, u = block_mlp(g, 30, 20, LAYOUT_BLOCKS, 5, &h1);
    ddx_node lap = ddx_laplacian(g, u);
    double *pts = points(4, 30, 3), out[4];
    char info[8192];
    run(g, &lap, 1, DDX_F64, 1, pts, 4, out, info, sizeof info);
    if (!contains(info, "first-layer block sparsity: off (DDX_SPARSE=0)")) fail_msg("info: %s", info);
    free(pts);
    ddx_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_d30),  cmocka_unit_test(test_blocks_d300), cmocka_unit_test(test_ragged),
        cmocka_unit_test(test_fallbacks),   cmocka_unit_test(test_hidden_read), cmocka_unit_test(test_switch),
        cmocka_unit_test(test_stacked),     cmocka_unit_test(test_unfused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
