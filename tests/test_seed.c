/* test_seed.c — the question that started ddx: d^k/dx^k log(x+2) at x = 1
 * for k = 0..4 is log 3, 1/3, -1/9, 2/27, -2/27 (closed form). The Keras
 * answer in the seed got -0.1110223 for k = 2 by finite differences. */
#include <math.h>
#include "test_util.h"

static void check_seed(ddx_precision prec, double tol) {
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    ddx_node u = ddx_log(g, ddx_add(g, x, ddx_const(g, 2.0)));
    ddx_node outs[5];
    outs[0] = u;
    for (int k = 1; k < 5; k++) outs[k] = ddx_grad(g, outs[k - 1], x);
    double pt = 1.0, got[5];
    eval_graph(g, outs, 5, prec, &pt, 1, got);
    const double want[5] = {log(3.0), 1.0 / 3, -1.0 / 9, 2.0 / 27, -2.0 / 27};
    for (int k = 0; k < 5; k++) {
        double e = rel_err(got[k], want[k], 0);
        if (e > tol) fail_msg("order %d: got %.17g want %.17g (rel %.3g > %.3g)", k, got[k], want[k], e, tol);
    }
    ddx_graph_free(g);
}

static void test_seed_f32(void **state) {
    (void)state;
    check_seed(DDX_F32, 1e-6);
}
static void test_seed_f64(void **state) {
    (void)state;
    check_seed(DDX_F64, 1e-13);
}

/* The same through a 6th derivative: d^6 log(x+2) = -120/(x+2)^6. */
static void test_log_order6(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x");
    ddx_node u = ddx_log(g, ddx_add(g, x, ddx_const(g, 2.0)));
    int alpha[1] = {6};
    ddx_node d6 = ddx_partial(g, u, alpha);
    double pts[3] = {1.0, -0.5, 3.0}, got[3];
    eval_graph(g, &d6, 1, DDX_F64, pts, 3, got);
    for (int i = 0; i < 3; i++) {
        double want = -120.0 / pow(pts[i] + 2, 6);
        assert_true(rel_err(got[i], want, 0) < 1e-13);
    }
    ddx_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_f32),
        cmocka_unit_test(test_seed_f64),
        cmocka_unit_test(test_log_order6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
