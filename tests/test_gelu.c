/* test_gelu.c — GELU (exact erf form) through every path the op table
 * (include/ddx_ops.def) derives: the C builder, the expression name, the
 * CPU jet rule in f64 and f32, the float64 finite-difference reference, the
 * ONNX Gelu op (both forms), and
 * (when ddx has CUDA) an NVRTC compile of a gelu program.
 *
 * Independent reference: gelu(x) = x Phi(x) with Phi' = phi, so
 *   gelu'    = Phi + x phi          gelu''   = (2 - x^2) phi
 *   gelu'''  = (x^3 - 4x) phi       gelu'''' = (-x^4 + 7x^2 - 4) phi
 * (differentiated by hand, not from the Hermite recurrence the rule uses). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tools/expr_parse.h"
#include "tools/fd_reference.h"

#define A 0.7 /* gelu(A x + B): the chain rule multiplies order k by A^k */
#define B 0.3

static double closed_ab(int k, double x, double a, double b) {
    double z = a * x + b, phi = exp(-0.5 * z * z) / 2.5066282746310002 /* sqrt(2 pi) */, Phi = 0.5 * erfc(-z / sqrt(2.0));
    double v = k == 0 ? z * Phi
             : k == 1 ? Phi + z * phi
             : k == 2 ? (2 - z * z) * phi
             : k == 3 ? (z * z * z - 4 * z) * phi
                      : (-z * z * z * z + 7 * z * z - 4) * phi;
    return v * pow(a, k);
}
static double closed(int k, double x) { return closed_ab(k, x, A, B); }

/* u = gelu(A x + B) and its x-derivatives of order 0..4 */
static void build(ddx_graph *g, ddx_node *outs, ddx_node *u) {
    ddx_node x = ddx_input(g, "x");
    *u = ddx_gelu(g, ddx_add(g, ddx_mul(g, ddx_const(g, A), x), ddx_const(g, B)));
    for (int k = 0; k <= 4; k++) {
        int alpha[1] = {k};
        outs[k] = ddx_partial(g, *u, alpha);
    }
    assert_graph_ok(g);
}

#define NP 41
static void points(double *x) {
    for (int i = 0; i < NP; i++) x[i] = -9.0 + 18.0 * i / (NP - 1); /* both tails and the middle */
}

static void check_precision(ddx_precision prec, double tol) {
    ddx_graph *g = ddx_graph_create();
    ddx_node outs[5], u;
    build(g, outs, &u);
    double x[NP], out[NP * 5];
    points(x);
    eval_graph(g, outs, 5, prec, x, NP, out);
    double worst[5] = {0};
    for (int i = 0; i < NP; i++)
        for (int k = 0; k <= 4; k++) {
            double e = rel_err(out[i * 5 + k], closed(k, x[i]), 1e-3);
            if (e > worst[k]) worst[k] = e;
            if (e > tol)
                fail_msg("%s order %d at x=%g: got %.17g want %.17g (rel %.3g)", prec == DDX_F64 ? "f64" : "f32", k,
                         x[i], out[i * 5 + k], closed(k, x[i]), e);
        }
    printf("gelu %s worst rel err by order 0..4: %.2g %.2g %.2g %.2g %.2g\n", prec == DDX_F64 ? "f64" : "f32",
           worst[0], worst[1], worst[2], worst[3], worst[4]);
    ddx_graph_free(g);
}

static void test_f64_closed_form(void **state) {
    (void)state;
    check_precision(DDX_F64, 1e-13);
}

static void test_f32_closed_form(void **state) {
    (void)state;
    check_precision(DDX_F32, 1e-4); /* the f32 rounding of A x + B, times the derivative's condition */
}

/* The FD reference evaluates gelu with its own libm formula (erf) and
 * differentiates by Richardson-extrapolated central differences. */
static void test_fd_reference(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node outs[5], u;
    build(g, outs, &u);
    /* the FD noise floor grows with the order (steps of h^-k) */
    const double tol[5] = {1e-14, 1e-8, 1e-6, 1e-4, 1e-2};
    double worst[5] = {0};
    for (int i = 0; i < NP; i += 4) {
        double x = -9.0 + 18.0 * i / (NP - 1);
        for (int k = 0; k <= 4; k++) {
            int alpha[1] = {k};
            double fd = k == 0 ? fd_eval(g, u, &x) : fd_partial(g, u, alpha, &x, 4);
            double e = rel_err(fd, closed(k, x), 1e-3);
            if (e > worst[k]) worst[k] = e;
            if (e > tol[k]) fail_msg("FD order %d at x=%g: %.17g vs %.17g (rel %.3g)", k, x, fd, closed(k, x), e);
        }
    }
    printf("gelu FD reference worst rel err by order 0..4: %.2g %.2g %.2g %.2g %.2g\n", worst[0], worst[1], worst[2],
           worst[3], worst[4]);
    ddx_graph_free(g);
}

/* erf (the table's second new row): closed forms to order 4 in f64 */
static void test_erf_closed_form(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x"), u = ddx_erf(g, x), outs[5];
    for (int k = 0; k <= 4; k++) {
        int alpha[1] = {k};
        outs[k] = ddx_partial(g, u, alpha);
    }
    assert_graph_ok(g);
    double xs[NP], out[NP * 5];
    points(xs);
    eval_graph(g, outs, 5, DDX_F64, xs, NP, out);
    for (int i = 0; i < NP; i++) {
        double z = xs[i], c = 1.1283791670955126 * exp(-z * z); /* 2/sqrt(pi) e^-z^2 */
        double want[5] = {erf(z), c, -2 * z * c, (4 * z * z - 2) * c, (-8 * z * z * z + 12 * z) * c};
        for (int k = 0; k <= 4; k++)
            if (rel_err(out[i * 5 + k], want[k], 1e-3) > 1e-13)
                fail_msg("erf order %d at x=%g: %.17g vs %.17g", k, z, out[i * 5 + k], want[k]);
    }
    ddx_graph_free(g);
}

/* `gelu` is an expression function (its ddx_ops.def name) and builds the
 * same node as the C builder. */
static void test_expression_name(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node x = ddx_input(g, "x"), e;
    char err[256];
    assert_int_equal(ddx_parse_expr(g, NULL, "gelu(0.7*x + 0.3)", &e, err, sizeof err), DDX_OK);
    ddx_node c = ddx_gelu(g, ddx_add(g, ddx_mul(g, ddx_const(g, A), x), ddx_const(g, B)));
    assert_int_equal(e, c); /* hash-consed: one node */
    assert_string_equal(ddx_unary_op_name(DDX_GELU), "gelu");
    assert_int_equal(ddx_unary_op_from_name("gelu"), DDX_GELU);
    assert_int_equal(ddx_unary_op_from_name("relu"), -1);
    assert_int_equal(ddx_unary(g, DDX_NUM_UNARY_OPS, x), DDX_NO_NODE); /* one past the table */
    ddx_graph_free(g);
}

/* d^k/dx^k of z/2 (1 + erf(z/s)), z = a x + b: Leibniz on z erf(z/s), with
 * erf's derivatives written out by hand (the float32 s of the fixture) */
static double erf_gelu_ref(int k, double x, double a, double b, double s) {
    double z = a * x + b, y = z / s, c = 1.1283791670955126 * exp(-y * y);
    double E[5] = {erf(y), c / s, -2 * y * c / (s * s), (4 * y * y - 2) * c / (s * s * s),
                   (-8 * y * y * y + 12 * y) * c / (s * s * s * s)};
    double v = 0.5 * (z * E[k] + (k ? k * E[k - 1] : 0.0)) + (k == 0 ? 0.5 * z : k == 1 ? 0.5 : 0.0);
    return v * pow(a, k);
}

static double gelu_tanh_ref(double x) {
    double z = (double)0.7f * x + (double)0.3f;
    return 0.5 * z * (1.0 + tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)));
}

/* ONNX Gelu (opset 20, tests/fixtures/onnx/make_gelu_fixture.py): the
 * exact form imports as the gelu op (closed form to order 4), the tanh form
 * as its composition (value vs the formula, derivatives vs FD); opset 19
 * has no Gelu and is refused. */
static void test_onnx_gelu(void **state) {
    (void)state;
    const char *dir = getenv("DDX_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/gelu_opset20.onnx", dir ? dir : ".");
    ddx_graph *g = ddx_graph_create();
    ddx_node io[3];
    int n = 0;
    assert_int_equal(ddx_graph_from_onnx_file(g, path, NULL, io, 3, &n, NULL), DDX_OK);
    assert_int_equal(n, 3);
    ddx_node outs[15];
    for (int k = 0; k <= 4; k++) {
        int alpha[1] = {k};
        outs[k] = ddx_partial(g, io[0], alpha);
        outs[5 + k] = ddx_partial(g, io[1], alpha);
        outs[10 + k] = ddx_partial(g, io[2], alpha);
    }
    assert_graph_ok(g);
    double x[NP], out[NP * 15];
    points(x);
    eval_graph(g, outs, 15, DDX_F64, x, NP, out);
    const double fd_tol[5] = {1e-12, 1e-8, 1e-6, 1e-4, 1e-2};
    for (int i = 0; i < NP; i++) {
        for (int k = 0; k <= 4; k++) {
            /* the file's weights are float32: 0.7f, 0.3f */
            double want = closed_ab(k, x[i], (double)0.7f, (double)0.3f);
            if (rel_err(out[i * 15 + k], want, 1e-3) > 1e-13)
                fail_msg("onnx gelu order %d at x=%g: %.17g vs %.17g", k, x[i], out[i * 15 + k], want);
        }
        if (rel_err(out[i * 15 + 5], gelu_tanh_ref(x[i]), 1e-3) > 1e-11) /* 1 + tanh cancels in the tail */
            fail_msg("onnx gelu(tanh) at x=%g: %.17g vs %.17g", x[i], out[i * 15 + 5], gelu_tanh_ref(x[i]));
        /* the Erf decomposition (PyTorch's export): the erf op and the chain rule (1 + erf
         * cancels in the left tail; the file's sqrt 2 is a float32) */
        for (int k = 0; k <= 4; k++) {
            double want = erf_gelu_ref(k, x[i], (double)0.7f, (double)0.3f, (double)1.4142135623730951f);
            if (rel_err(out[i * 15 + 10 + k], want, 1e-3) > 1e-12)
                fail_msg("onnx erf-gelu order %d at x=%g: %.17g vs %.17g", k, x[i], out[i * 15 + 10 + k], want);
        }
        if (i % 4) continue;
        for (int k = 1; k <= 4; k++) {
            int alpha[1] = {k};
            double fd = fd_partial(g, io[1], alpha, &x[i], 4);
            if (rel_err(out[i * 15 + 5 + k], fd, 1e-3) > fd_tol[k])
                fail_msg("onnx gelu(tanh) order %d at x=%g: %.17g vs FD %.17g", k, x[i], out[i * 15 + 5 + k], fd);
            fd = fd_partial(g, io[2], alpha, &x[i], 4);
            if (rel_err(out[i * 15 + 10 + k], fd, 1e-3) > fd_tol[k])
                fail_msg("onnx erf-gelu order %d at x=%g: %.17g vs FD %.17g", k, x[i], out[i * 15 + 10 + k], fd);
        }
    }
    ddx_graph_free(g);

    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/gelu_opset19.onnx", dir ? dir : ".");
    g = ddx_graph_create();
    assert_int_equal(ddx_graph_from_onnx_file(g, path, NULL, io, 2, &n, NULL), DDX_ERR_UNSUPPORTED);
    printf("opset 19: %s\n", ddx_graph_error(g));
    assert_non_null(strstr(ddx_graph_error(g), "opset-20"));
    ddx_graph_free(g);
}

/* NVRTC compiles the generated kernel of a gelu program (no GPU needed). */
static void test_nvrtc_compile(void **state) {
    (void)state;
    ddx_graph *g = ddx_graph_create();
    ddx_node outs[5], u;
    build(g, outs, &u);
    for (int prec = 0; prec < 2; prec++) {
        ddx_compile_options o;
        ddx_compile_options_default(&o);
        o.precision = (ddx_precision)prec;
        char buf[4096];
        ddx_status st = ddx_cuda_compile_report(g, outs, 5, &o, "sm_80", buf, sizeof buf);
        if (st == DDX_ERR_UNSUPPORTED) {
            printf("built without CUDA: NVRTC compile skipped\n");
            break;
        }
        if (st != DDX_OK) fail_msg("NVRTC: %s: %s", ddx_status_string(st), ddx_graph_error(g));
        printf("%s", buf);
    }
    ddx_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f64_closed_form), cmocka_unit_test(test_f32_closed_form),
        cmocka_unit_test(test_fd_reference),    cmocka_unit_test(test_expression_name),
        cmocka_unit_test(test_erf_closed_form), cmocka_unit_test(test_onnx_gelu),
        cmocka_unit_test(test_nvrtc_compile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
