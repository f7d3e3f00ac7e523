/* test_bad_input.c — every misuse gives a status (not DDX_OK) and a
 * non-empty message, never a crash: NULL graphs and pointers, bad node ids,
 * shape and scalar errors, limits, missing devices, bad points, NaN/Inf in
 * points (which must stay in their own row), and the expression parser's
 * errors. Also the parser's good paths (columns, names, CSE). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/expr_parse.h"
#include "test_util.h"

/* The graph holds an error with this status and a non-empty message. */
static void expect_graph_error(const ddx_graph *g, ddx_status want) {
    ddx_status st = ddx_graph_status(g);
    const char *msg = ddx_graph_error(g);
    if (st != want)
        fail_msg("graph status %d (%s), want %d (%s); message '%s'", (int)st, ddx_status_string(st), (int)want,
                 ddx_status_string(want), msg ? msg : "(null)");
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
}

static ddx_graph *graph_tx(ddx_node *t, ddx_node *x) {
    ddx_graph *g = ddx_graph_create();
    assert_non_null(g);
    *t = ddx_input(g, "t");
    *x = ddx_input(g, "x");
    assert_graph_ok(g);
    return g;
}

/* A dense layer of the given width over (t, x) with fixed weights. */
static ddx_node layer(ddx_graph *g, ddx_node t, ddx_node x, int width) {
    double W[2 * 16], b[16];
    for (int i = 0; i < 2 * width; i++) W[i] = 0.3 * sin(1.7 * i + 0.4);
    for (int i = 0; i < width; i++) b[i] = 0.1 * cos(2.3 * i);
    ddx_node tx[2] = {t, x};
    return ddx_dense(g, ddx_concat(g, tx, 2), width, 2, W, b, DDX_F64);
}

/* ---- NULL graph --------------------------------------------------------- */

static void test_null_graph(void **state) {
    (void)state;
    const double W[1] = {1};
    const int alpha[1] = {1};
    ddx_node outs[4] = {0, 0, 0, 0};
    assert_int_equal(ddx_input(NULL, "x"), DDX_NO_NODE);
    assert_int_equal(ddx_const(NULL, 1.0), DDX_NO_NODE);
    assert_int_equal(ddx_add(NULL, 0, 0), DDX_NO_NODE);
    assert_int_equal(ddx_sub(NULL, 0, 0), DDX_NO_NODE);
    assert_int_equal(ddx_mul(NULL, 0, 0), DDX_NO_NODE);
    assert_int_equal(ddx_div(NULL, 0, 0), DDX_NO_NODE);
    assert_int_equal(ddx_unary(NULL, DDX_TANH, 0), DDX_NO_NODE);
    assert_int_equal(ddx_neg(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_exp(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_log(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_sqrt(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_sin(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_cos(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_tanh(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_sigmoid(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_softplus(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_silu(NULL, 0), DDX_NO_NODE);
    assert_int_equal(ddx_powi(NULL, 0, 3), DDX_NO_NODE);
    assert_int_equal(ddx_pow(NULL, 0, 2.5), DDX_NO_NODE);
    assert_int_equal(ddx_dense(NULL, 0, 1, 1, W, NULL, DDX_F64), DDX_NO_NODE);
    assert_int_equal(ddx_component(NULL, 0, 0), DDX_NO_NODE);
    assert_int_equal(ddx_concat(NULL, outs, 2), DDX_NO_NODE);
    assert_int_equal(ddx_grad(NULL, 0, 0), DDX_NO_NODE);
    assert_int_equal(ddx_partial(NULL, 0, alpha), DDX_NO_NODE);
    assert_int_equal(ddx_laplacian(NULL, 0), DDX_NO_NODE);
    assert_int_not_equal(ddx_gradient(NULL, 0, outs), DDX_OK);
    assert_int_not_equal(ddx_hessian(NULL, 0, outs), DDX_OK);
    /* queries on NULL: a status and a message, not a crash */
    assert_int_not_equal(ddx_graph_status(NULL), DDX_OK);
    assert_non_null(ddx_graph_error(NULL));
    assert_true(strlen(ddx_graph_error(NULL)) > 0);
    assert_int_equal(ddx_graph_num_inputs(NULL), 0);
    assert_int_equal(ddx_graph_input(NULL, 0), DDX_NO_NODE);
    assert_null(ddx_graph_input_name(NULL, 0));
    assert_int_equal(ddx_graph_find_input(NULL, "x"), DDX_NO_NODE);
    assert_int_equal(ddx_node_width(NULL, 0), -1);
    ddx_graph_clear_error(NULL);
    ddx_graph_free(NULL);
    /* compile and evaluate */
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    ddx_compile_options_default(NULL);
    ddx_program *p = (ddx_program *)&o; /* garbage that must be overwritten */
    assert_int_not_equal(ddx_compile(NULL, outs, 1, &o, &p), DDX_OK);
    assert_null(p);
    double pt[2] = {0, 0}, out[4];
    assert_int_not_equal(ddx_program_eval(NULL, pt, 1, out), DDX_OK);
    assert_int_not_equal(ddx_program_eval_device(NULL, pt, 1, out), DDX_OK);
    assert_non_null(ddx_program_error(NULL));
    assert_true(strlen(ddx_program_error(NULL)) > 0);
    ddx_program_free(NULL);
    assert_int_equal(ddx_program_num_inputs(NULL), 0);
    assert_int_equal(ddx_program_num_outputs(NULL), 0);
    assert_int_equal(ddx_program_node_coeffs(NULL, 0, NULL, 0), 0);
    char buf[64] = "x";
    assert_int_equal(ddx_program_describe(NULL, buf, sizeof buf), 0);
    assert_int_not_equal(ddx_cuda_compile_report(NULL, outs, 1, &o, "sm_90", buf, sizeof buf), DDX_OK);
    assert_non_null(ddx_status_string(DDX_ERR_SHAPE));
    assert_true(strlen(ddx_status_string((ddx_status)12345)) > 0);
}

/* ---- NULL pointers into a valid graph ----------------------------------- */

static void test_null_pointers(void **state) {
    (void)state;
    ddx_node t, x;
    ddx_graph *g;

    g = ddx_graph_create();
    assert_int_equal(ddx_input(g, NULL), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    g = ddx_graph_create();
    assert_int_equal(ddx_input(g, ""), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    g = graph_tx(&t, &x);
    assert_int_equal(ddx_dense(g, t, 2, 1, NULL, NULL, DDX_F64), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    g = graph_tx(&t, &x);
    assert_int_equal(ddx_concat(g, NULL, 2), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    g = graph_tx(&t, &x);
    ddx_node tx[2] = {t, x};
    assert_int_equal(ddx_concat(g, tx, 0), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    g = graph_tx(&t, &x);
    assert_int_equal(ddx_partial(g, ddx_mul(g, t, x), NULL), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    g = graph_tx(&t, &x);
    assert_int_equal(ddx_gradient(g, ddx_mul(g, t, x), NULL), DDX_ERR_INVALID_ARG);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    g = graph_tx(&t, &x);
    assert_int_equal(ddx_hessian(g, ddx_mul(g, t, x), NULL), DDX_ERR_INVALID_ARG);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    /* compile: NULL outputs, NULL out, no outputs */
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    for (int k = 0; k < 4; k++) {
        g = graph_tx(&t, &x);
        ddx_node y = ddx_mul(g, t, x);
        ddx_program *p = NULL;
        ddx_status st = k == 0   ? ddx_compile(g, NULL, 1, &o, &p)
                        : k == 1 ? ddx_compile(g, &y, 1, &o, NULL)
                        : k == 2 ? ddx_compile(g, &y, 0, &o, &p)
                                 : ddx_compile(g, &y, -3, &o, &p);
        assert_int_equal(st, DDX_ERR_INVALID_ARG);
        assert_null(p);
        expect_graph_error(g, DDX_ERR_INVALID_ARG);
        ddx_graph_free(g);
    }

    /* eval: NULL points, NULL out */
    g = graph_tx(&t, &x);
    ddx_node y = ddx_mul(g, t, x);
    ddx_program *p = NULL;
    assert_int_equal(ddx_compile(g, &y, 1, &o, &p), DDX_OK);
    ddx_graph_free(g); /* the program outlives its graph */
    float pts[2] = {1, 2}, out[1];
    assert_int_equal(ddx_program_eval(p, NULL, 1, out), DDX_ERR_INVALID_ARG);
    assert_true(strlen(ddx_program_error(p)) > 0);
    assert_int_equal(ddx_program_eval(p, pts, 1, NULL), DDX_ERR_INVALID_ARG);
    assert_true(strlen(ddx_program_error(p)) > 0);
    /* still usable afterwards */
    assert_int_equal(ddx_program_eval(p, pts, 1, out), DDX_OK);
    assert_true(out[0] == 2.0f);
    ddx_program_free(p);
}

/* ---- bad node ids; the first error is kept ------------------------------ */

static void test_bad_node_ids(void **state) {
    (void)state;
    ddx_node t, x;
    const int alpha[2] = {1, 0};
    const double W[2] = {1, 2};
    /* each builder with DDX_NO_NODE or an id past the end, in a fresh graph */
    for (int bad = 0; bad < 2; bad++) {
        const ddx_node b = bad ? 123456 : DDX_NO_NODE;
        for (int k = 0; k < 13; k++) {
            ddx_graph *g = graph_tx(&t, &x);
            ddx_node r = 0;
            ddx_node list[2] = {t, b};
            switch (k) {
            case 0: r = ddx_add(g, t, b); break;
            case 1: r = ddx_sub(g, b, x); break;
            case 2: r = ddx_mul(g, b, b); break;
            case 3: r = ddx_div(g, t, b); break;
            case 4: r = ddx_unary(g, DDX_TANH, b); break;
            case 5: r = ddx_powi(g, b, 3); break;
            case 6: r = ddx_pow(g, b, 0.5); break;
            case 7: r = ddx_dense(g, b, 1, 2, W, NULL, DDX_F64); break;
            case 8: r = ddx_component(g, b, 0); break;
            case 9: r = ddx_concat(g, list, 2); break;
            case 10: r = ddx_grad(g, b, x); break;
            case 11: r = ddx_grad(g, ddx_mul(g, t, x), b); break;
            case 12: r = ddx_partial(g, b, alpha); break;
            }
            if (r != DDX_NO_NODE) fail_msg("builder %d with operand %d gave node %d", k, (int)b, (int)r);
            expect_graph_error(g, DDX_ERR_INVALID_ARG);
            ddx_graph_free(g);
        }
    }
    /* a negative id other than DDX_NO_NODE, and laplacian/gradient of one */
    ddx_graph *g = graph_tx(&t, &x);
    assert_int_equal(ddx_laplacian(g, -42), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);
    g = graph_tx(&t, &x);
    ddx_node out2[2];
    assert_int_not_equal(ddx_gradient(g, 999, out2), DDX_OK);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);

    /* propagation: a shape error, then its DDX_NO_NODE used on and on */
    g = graph_tx(&t, &x);
    ddx_node a3 = layer(g, t, x, 3), a4 = layer(g, t, x, 4);
    assert_graph_ok(g);
    ddx_node bad = ddx_add(g, a3, a4);
    assert_int_equal(bad, DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_SHAPE);
    char first[512];
    snprintf(first, sizeof first, "%s", ddx_graph_error(g));
    ddx_node c = ddx_tanh(g, bad);
    c = ddx_mul(g, c, t);
    c = ddx_component(g, c, 0);
    c = ddx_grad(g, c, x);
    ddx_node more = ddx_add(g, t, 99999); /* a new, different misuse: must not overwrite */
    assert_int_equal(c, DDX_NO_NODE);
    assert_int_equal(more, DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_SHAPE);
    assert_string_equal(ddx_graph_error(g), first);
    /* compile refuses the graph with that status and message */
    ddx_node ok = ddx_mul(g, t, x);
    ddx_program *p = NULL;
    if (ok != DDX_NO_NODE) {
        assert_int_equal(ddx_compile(g, &ok, 1, NULL, &p), DDX_ERR_SHAPE);
        assert_null(p);
    }
    assert_int_equal(ddx_compile(g, &c, 1, NULL, &p), DDX_ERR_SHAPE);
    assert_null(p);
    assert_string_equal(ddx_graph_error(g), first);
    /* after clearing, the graph works again */
    ddx_graph_clear_error(g);
    assert_int_equal(ddx_graph_status(g), DDX_OK);
    assert_string_equal(ddx_graph_error(g), "");
    ddx_node y = ddx_mul(g, t, x);
    assert_int_not_equal(y, DDX_NO_NODE);
    double pt[2] = {3, 5}, v;
    eval_graph(g, &y, 1, DDX_F64, pt, 1, &v);
    assert_true(v == 15.0);
    /* an output id that is not a node */
    ddx_node badout[2] = {y, 777};
    assert_int_equal(ddx_compile(g, badout, 2, NULL, &p), DDX_ERR_INVALID_ARG);
    assert_null(p);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);
}

/* ddx_partial with alpha = 0 must validate y like every other builder: a
 * bad id is a failure (DDX_NO_NODE, a status, a message), not a node.
 * (Library bug found while writing this test: with an all-zero alpha
 * ddx_partial returns y unchecked, so 123456 comes back as a "node" and
 * the graph status stays DDX_OK.) */
static void test_partial_order0_bad_node(void **state) {
    (void)state;
    ddx_node t, x;
    const int zero[2] = {0, 0};
    const ddx_node bad[2] = {123456, DDX_NO_NODE};
    for (int k = 0; k < 2; k++) {
        ddx_graph *g = graph_tx(&t, &x);
        ddx_node r = ddx_partial(g, bad[k], zero);
        if (r != DDX_NO_NODE || ddx_graph_status(g) == DDX_OK)
            fail_msg("ddx_partial(g, %d, {0,0}) returned %d with graph status %s", (int)bad[k], (int)r,
                     ddx_status_string(ddx_graph_status(g)));
        expect_graph_error(g, DDX_ERR_INVALID_ARG);
        ddx_graph_free(g);
    }
    /* and a valid y with alpha = 0 is y itself */
    ddx_graph *g = graph_tx(&t, &x);
    ddx_node y = ddx_mul(g, t, x);
    assert_int_equal(ddx_partial(g, y, zero), y);
    assert_graph_ok(g);
    ddx_graph_free(g);
}

/* ---- scalar and input checks of grad ----------------------------------- */

static void test_grad_misuse(void **state) {
    (void)state;
    ddx_node t, x, out[4];
    ddx_graph *g;
    /* grad of a width-3 node */
    g = graph_tx(&t, &x);
    ddx_node v = layer(g, t, x, 3);
    assert_int_equal(ddx_node_width(g, v), 3);
    assert_int_equal(ddx_grad(g, v, x), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_NOT_SCALAR);
    ddx_graph_free(g);
    /* the same through partial, gradient, hessian, laplacian */
    for (int k = 0; k < 4; k++) {
        g = graph_tx(&t, &x);
        v = ddx_tanh(g, layer(g, t, x, 3));
        const int alpha[2] = {1, 1};
        ddx_status st = DDX_OK;
        if (k == 0) st = ddx_partial(g, v, alpha) == DDX_NO_NODE ? ddx_graph_status(g) : DDX_OK;
        if (k == 1) st = ddx_gradient(g, v, out);
        if (k == 2) st = ddx_hessian(g, v, out);
        if (k == 3) st = ddx_laplacian(g, v) == DDX_NO_NODE ? ddx_graph_status(g) : DDX_OK;
        assert_int_equal(st, DDX_ERR_NOT_SCALAR);
        expect_graph_error(g, DDX_ERR_NOT_SCALAR);
        ddx_graph_free(g);
    }
    /* grad with respect to something that is not an input */
    ddx_node (*wrt[3])(ddx_graph *, ddx_node) = {ddx_tanh, ddx_exp, ddx_neg};
    for (int k = 0; k < 4; k++) {
        g = graph_tx(&t, &x);
        ddx_node y = ddx_mul(g, t, x);
        ddx_node not_input = k < 3 ? wrt[k](g, x) : ddx_const(g, 2.0);
        assert_graph_ok(g);
        assert_int_equal(ddx_grad(g, y, not_input), DDX_NO_NODE);
        expect_graph_error(g, DDX_ERR_INVALID_ARG);
        ddx_graph_free(g);
    }
    /* grad with respect to y itself (a scalar, not an input) */
    g = graph_tx(&t, &x);
    ddx_node y = ddx_sin(g, t);
    assert_int_equal(ddx_grad(g, y, y), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);
    /* laplacian over a non-input, an input named twice, a NULL list */
    g = graph_tx(&t, &x);
    y = ddx_sin(g, t);
    ddx_node twice[2] = {x, x}, notin[1] = {y};
    assert_int_equal(ddx_laplacian_over(g, y, notin, 1), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);
    g = graph_tx(&t, &x);
    y = ddx_sin(g, t);
    assert_int_equal(ddx_laplacian_over(g, y, twice, 2), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    assert_non_null(strstr(ddx_graph_error(g), "named twice"));
    ddx_graph_free(g);
    g = graph_tx(&t, &x);
    y = ddx_sin(g, t);
    assert_int_equal(ddx_laplacian_over(g, y, NULL, 1), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);
    assert_int_equal(ddx_laplacian_over(NULL, 0, NULL, 0), DDX_NO_NODE);
    /* laplacian on a graph without inputs */
    g = ddx_graph_create();
    ddx_node c = ddx_const(g, 1.0);
    assert_int_equal(ddx_laplacian(g, c), DDX_NO_NODE);
    assert_int_not_equal(ddx_graph_status(g), DDX_OK);
    assert_true(strlen(ddx_graph_error(g)) > 0);
    ddx_graph_free(g);
}

/* ---- inputs: unknown, duplicate, too many, concat ---------------------- */

static void test_inputs(void **state) {
    (void)state;
    ddx_node t, x;
    ddx_graph *g = graph_tx(&t, &x);
    assert_int_equal(ddx_graph_find_input(g, "t"), t);
    assert_int_equal(ddx_graph_find_input(g, "x"), x);
    assert_int_equal(ddx_graph_find_input(g, "y"), DDX_NO_NODE);
    assert_int_equal(ddx_graph_find_input(g, "X"), DDX_NO_NODE);
    assert_int_equal(ddx_graph_find_input(g, "x "), DDX_NO_NODE);
    assert_int_equal(ddx_graph_find_input(g, ""), DDX_NO_NODE);
    assert_int_equal(ddx_graph_find_input(g, NULL), DDX_NO_NODE);
    assert_int_equal(ddx_graph_input(g, 2), DDX_NO_NODE);
    assert_int_equal(ddx_graph_input(g, -1), DDX_NO_NODE);
    assert_null(ddx_graph_input_name(g, 5));
    assert_int_equal(ddx_node_width(g, 5000), -1);
    assert_int_equal(ddx_node_width(g, DDX_NO_NODE), -1);
    assert_graph_ok(g); /* lookups are not errors */
    /* duplicate name */
    assert_int_equal(ddx_input(g, "x"), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    assert_int_equal(ddx_graph_num_inputs(g), 2);
    ddx_graph_free(g);

    /* no input cap: 17 inputs (one past the old compile-time cap of 16) work */
    g = ddx_graph_create();
    ddx_node in[17];
    for (int i = 0; i < 17; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        in[i] = ddx_input(g, name);
        assert_int_not_equal(in[i], DDX_NO_NODE);
    }
    assert_graph_ok(g);
    assert_int_equal(ddx_graph_num_inputs(g), 17);
    ddx_node s = in[0];
    for (int i = 1; i < 17; i++) s = ddx_add(g, s, in[i]);
    double pt[17], v;
    for (int i = 0; i < 17; i++) pt[i] = i;
    eval_graph(g, &s, 1, DDX_F64, pt, 1, &v);
    assert_true(v == 136.0);
    ddx_graph_free(g);

    /* concat of a non-scalar */
    g = graph_tx(&t, &x);
    ddx_node v3 = layer(g, t, x, 3);
    ddx_node parts[3] = {t, v3, x};
    assert_int_equal(ddx_concat(g, parts, 3), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_NOT_SCALAR);
    ddx_graph_free(g);
}

/* ---- shapes and weights --------------------------------------------------- */

static void test_shapes_and_weights(void **state) {
    (void)state;
    ddx_node t, x;
    ddx_graph *g;
    /* binary ops of widths 3 and 4 */
    for (int k = 0; k < 4; k++) {
        g = graph_tx(&t, &x);
        ddx_node a = layer(g, t, x, 3), b = layer(g, t, x, 4);
        assert_graph_ok(g);
        ddx_node r = k == 0 ? ddx_add(g, a, b) : k == 1 ? ddx_sub(g, b, a) : k == 2 ? ddx_mul(g, a, b) : ddx_div(g, a, b);
        assert_int_equal(r, DDX_NO_NODE);
        expect_graph_error(g, DDX_ERR_SHAPE);
        ddx_graph_free(g);
    }
    /* scalar broadcast is fine, equal widths are fine */
    g = graph_tx(&t, &x);
    ddx_node a = layer(g, t, x, 3);
    assert_int_equal(ddx_node_width(g, ddx_mul(g, a, t)), 3);
    assert_int_equal(ddx_node_width(g, ddx_add(g, a, a)), 3);
    assert_graph_ok(g);
    ddx_graph_free(g);

    /* dense: wrong input width, bad shapes */
    const double W6[6] = {1, 2, 3, 4, 5, 6};
    for (int k = 0; k < 5; k++) {
        g = graph_tx(&t, &x);
        ddx_node v3 = layer(g, t, x, 3);
        ddx_node r = k == 0   ? ddx_dense(g, v3, 3, 2, W6, NULL, DDX_F64)  /* input has 3, W has 2 columns */
                     : k == 1 ? ddx_dense(g, t, 2, 3, W6, NULL, DDX_F64)   /* scalar into a 3-column W */
                     : k == 2 ? ddx_dense(g, v3, 0, 3, W6, NULL, DDX_F64)  /* no rows */
                     : k == 3 ? ddx_dense(g, v3, 2, -3, W6, NULL, DDX_F64) /* negative columns */
                              : ddx_dense(g, v3, 1, 0, W6, NULL, DDX_F64);
        assert_int_equal(r, DDX_NO_NODE);
        expect_graph_error(g, DDX_ERR_SHAPE);
        ddx_graph_free(g);
    }
    /* component out of range */
    for (int k = 0; k < 2; k++) {
        g = graph_tx(&t, &x);
        ddx_node v3 = layer(g, t, x, 3);
        assert_int_equal(ddx_component(g, v3, k ? -1 : 3), DDX_NO_NODE);
        expect_graph_error(g, DDX_ERR_SHAPE);
        ddx_graph_free(g);
    }
    /* NaN / Inf weights and biases, both precisions */
    for (int k = 0; k < 6; k++) {
        g = graph_tx(&t, &x);
        ddx_node tx[2] = {t, x};
        ddx_node in = ddx_concat(g, tx, 2);
        double Wd[4] = {0.1, 0.2, 0.3, 0.4}, bd[2] = {0.5, 0.6};
        float Wf[4] = {0.1f, 0.2f, 0.3f, 0.4f}, bf[2] = {0.5f, 0.6f};
        ddx_node r;
        switch (k) {
        case 0: Wd[2] = NAN; r = ddx_dense(g, in, 2, 2, Wd, bd, DDX_F64); break;
        case 1: Wd[0] = INFINITY; r = ddx_dense(g, in, 2, 2, Wd, bd, DDX_F64); break;
        case 2: bd[1] = NAN; r = ddx_dense(g, in, 2, 2, Wd, bd, DDX_F64); break;
        case 3: Wf[3] = NAN; r = ddx_dense(g, in, 2, 2, Wf, bf, DDX_F32); break;
        case 4: bf[0] = -INFINITY; r = ddx_dense(g, in, 2, 2, Wf, bf, DDX_F32); break;
        default: r = ddx_dense(g, in, 2, 2, Wd, bd, (ddx_precision)7); break; /* bad weight precision */
        }
        assert_int_equal(r, DDX_NO_NODE);
        expect_graph_error(g, DDX_ERR_INVALID_ARG);
        ddx_graph_free(g);
    }
    /* unknown unary op, non-finite pow exponent */
    for (int k = 0; k < 4; k++) {
        g = graph_tx(&t, &x);
        ddx_node r = k == 0   ? ddx_unary(g, (ddx_unary_op)99, x)
                     : k == 1 ? ddx_unary(g, (ddx_unary_op)-1, x)
                     : k == 2 ? ddx_pow(g, x, NAN)
                              : ddx_pow(g, x, INFINITY);
        assert_int_equal(r, DDX_NO_NODE);
        expect_graph_error(g, DDX_ERR_INVALID_ARG);
        ddx_graph_free(g);
    }
}

/* ---- order limit -------------------------------------------------------- */

static void test_order_limit(void **state) {
    (void)state;
    ddx_node t, x;
    ddx_graph *g;
    /* partial of total order DDX_MAX_ORDER is accepted (and right), one more is not */
    g = graph_tx(&t, &x);
    ddx_node y = ddx_exp(g, ddx_add(g, t, x));
    int alpha[2] = {DDX_MAX_ORDER / 2, DDX_MAX_ORDER - DDX_MAX_ORDER / 2};
    ddx_node top = ddx_partial(g, y, alpha);
    assert_int_not_equal(top, DDX_NO_NODE);
    double pt[2] = {0.25, 0.5}, v;
    eval_graph(g, &top, 1, DDX_F64, pt, 1, &v);
    assert_true(fabs(v - exp(0.75)) <= 1e-13 * exp(0.75));
    alpha[0]++;
    assert_int_equal(ddx_partial(g, y, alpha), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_LIMIT);
    ddx_graph_free(g);
    /* grad nested past the limit */
    g = graph_tx(&t, &x);
    ddx_node r = ddx_sin(g, x);
    for (int k = 0; k < DDX_MAX_ORDER; k++) r = ddx_grad(g, r, k % 2 ? t : x);
    assert_int_not_equal(r, DDX_NO_NODE);
    assert_graph_ok(g);
    assert_int_equal(ddx_grad(g, r, x), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_LIMIT);
    ddx_graph_free(g);
    /* through a product of two order-8 derivatives */
    g = graph_tx(&t, &x);
    int a8[2] = {0, DDX_MAX_ORDER};
    ddx_node d8 = ddx_partial(g, ddx_sin(g, x), a8);
    ddx_node prod = ddx_mul(g, d8, ddx_partial(g, ddx_cos(g, t), (int[2]){DDX_MAX_ORDER, 0}));
    assert_graph_ok(g);
    assert_int_equal(ddx_grad(g, prod, t), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_LIMIT);
    ddx_graph_free(g);
    /* negative orders */
    g = graph_tx(&t, &x);
    int neg[2] = {1, -1};
    assert_int_equal(ddx_partial(g, ddx_mul(g, t, x), neg), DDX_NO_NODE);
    expect_graph_error(g, DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);
}

/* ---- compile options, devices, eval counts ------------------------------ */

static void test_compile_and_eval_errors(void **state) {
    (void)state;
    ddx_node t, x;
    ddx_graph *g;
    ddx_program *p;
    ddx_compile_options o;
    /* bad options */
    for (int k = 0; k < 5; k++) {
        g = graph_tx(&t, &x);
        ddx_node y = ddx_mul(g, t, x);
        ddx_compile_options_default(&o);
        if (k == 0) o.precision = (ddx_precision)7;
        if (k == 1) o.device = (ddx_device)9;
        if (k == 2) o.tile_points = -1;
        if (k == 3) o.num_threads = -2;
        if (k == 4) o.tile_points = (1 << 20) + 1;
        p = NULL;
        assert_int_equal(ddx_compile(g, &y, 1, &o, &p), DDX_ERR_INVALID_ARG);
        assert_null(p);
        expect_graph_error(g, DDX_ERR_INVALID_ARG);
        ddx_graph_free(g);
    }
    /* a graph without inputs */
    g = ddx_graph_create();
    ddx_node c = ddx_const(g, 2.0);
    p = NULL;
    assert_int_not_equal(ddx_compile(g, &c, 1, NULL, &p), DDX_OK);
    assert_null(p);
    assert_true(strlen(ddx_graph_error(g)) > 0);
    ddx_graph_free(g);

    /* CUDA asked for explicitly: no device -> DDX_ERR_NO_DEVICE, never a
     * silent CPU fallback */
    g = graph_tx(&t, &x);
    ddx_node y = ddx_mul(g, t, x);
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CUDA;
    p = NULL;
    ddx_status st = ddx_compile(g, &y, 1, &o, &p);
    if (st != DDX_OK) {
        assert_int_equal(st, DDX_ERR_NO_DEVICE);
        assert_null(p);
        expect_graph_error(g, DDX_ERR_NO_DEVICE);
    } else {
        /* a GPU is present: the program must say it runs there */
        assert_non_null(p);
        assert_int_equal(ddx_program_device(p), DDX_DEVICE_CUDA);
        ddx_program_free(p);
        printf("test_bad_input: a CUDA device is present; the no-device check was skipped\n");
    }
    ddx_graph_clear_error(g);
    /* the offline NVRTC report: without CUDA it must refuse with a message */
    char buf[4096];
    st = ddx_cuda_compile_report(g, &y, 1, &o, "sm_90", buf, sizeof buf);
    if (st != DDX_OK) expect_graph_error(g, st);
    ddx_graph_clear_error(g);

    /* zero and negative point counts, far too many points */
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    for (int prec = 0; prec < 2; prec++) {
        o.precision = prec ? DDX_F64 : DDX_F32;
        p = NULL;
        assert_int_equal(ddx_compile(g, &y, 1, &o, &p), DDX_OK);
        double pts[4] = {2, 3, 4, 5}, out[2] = {-1, -1};
        const int64_t counts[3] = {0, -1, INT64_MIN};
        for (int k = 0; k < 3; k++) {
            st = ddx_program_eval(p, pts, counts[k], out);
            assert_int_not_equal(st, DDX_OK);
            assert_true(strlen(ddx_program_error(p)) > 0);
        }
        assert_true(out[0] == -1 && out[1] == -1); /* nothing written */
        st = ddx_program_eval(p, pts, (int64_t)1 << 50, out);
        assert_int_not_equal(st, DDX_OK);
        assert_true(strlen(ddx_program_error(p)) > 0);
        /* device memory entry point on a CPU program */
        st = ddx_program_eval_device(p, pts, 1, out);
        assert_int_equal(st, DDX_ERR_UNSUPPORTED);
        assert_true(strlen(ddx_program_error(p)) > 0);
        /* still fine afterwards */
        if (prec) {
            assert_int_equal(ddx_program_eval(p, pts, 2, out), DDX_OK);
            assert_true(out[0] == 6 && out[1] == 20);
        } else {
            float pf[4] = {2, 3, 4, 5}, of[2];
            assert_int_equal(ddx_program_eval(p, pf, 2, of), DDX_OK);
            assert_true(of[0] == 6 && of[1] == 20);
        }
        ddx_program_free(p);
    }
    ddx_graph_free(g);
}

/* ---- NaN / Inf in points stay in their row ----------------------------- */

#define NROWS 1000

typedef struct nan_case {
    int coord;      /* which input gets the bad value */
    double bad3, bad500;
} nan_case;

/* u(t, x): sin layer then tanh, so a NaN or an infinity in either input
 * reaches every output that depends on it (sin(inf) is NaN); w(t) depends
 * on t only. Columns: u, u_t, u_x, u_xx, u_tx, w, w_t, and u*w. */
static void check_nan_rows(ddx_precision prec, const nan_case *nc, int tile) {
    ddx_node t, x;
    ddx_graph *g = graph_tx(&t, &x);
    ddx_node h = ddx_sin(g, layer(g, t, x, 12));
    double W2[12], b2 = 0.05;
    for (int i = 0; i < 12; i++) W2[i] = 0.4 * cos(0.9 * i + 0.3);
    ddx_node u = ddx_component(g, ddx_dense(g, ddx_tanh(g, h), 1, 12, W2, &b2, DDX_F64), 0);
    ddx_node w = ddx_mul(g, ddx_tanh(g, ddx_add(g, ddx_mul(g, ddx_const(g, 0.7), t), ddx_const(g, 0.2))), t);
    ddx_node ux = ddx_grad(g, u, x);
    ddx_node cols[8] = {u, ddx_grad(g, u, t), ux, ddx_grad(g, ux, x), ddx_grad(g, ux, t), w, ddx_grad(g, w, t),
                        ddx_mul(g, u, w)};
    const int depends_on_x[8] = {1, 1, 1, 1, 1, 0, 0, 1};
    const int K = 8;
    assert_graph_ok(g);
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    o.precision = prec;
    o.tile_points = tile;
    ddx_program *p = NULL;
    assert_int_equal(ddx_compile(g, cols, K, &o, &p), DDX_OK);

    uint64_t rng = 77;
    double *pts = malloc(sizeof(double) * NROWS * 2), *out = malloc(sizeof(double) * NROWS * K);
    float *pf = malloc(sizeof(float) * NROWS * 2), *of = malloc(sizeof(float) * NROWS * K);
    assert_non_null(pts);
    assert_non_null(out);
    assert_non_null(pf);
    assert_non_null(of);
    for (int i = 0; i < NROWS * 2; i++) pts[i] = test_uniform(&rng, -1, 1);
    pts[3 * 2 + nc->coord] = nc->bad3;
    pts[500 * 2 + nc->coord] = nc->bad500;
    for (int i = 0; i < NROWS * 2; i++) pf[i] = (float)pts[i];
    if (prec == DDX_F64)
        assert_int_equal(ddx_program_eval(p, pts, NROWS, out), DDX_OK);
    else {
        assert_int_equal(ddx_program_eval(p, pf, NROWS, of), DDX_OK);
        for (int i = 0; i < NROWS * K; i++) out[i] = of[i];
    }
    /* With the default tile the batch must match a lone row bitwise (or to
     * 1e-15). With tiles of 7 a row's column position in the GEMM differs
     * between the batch and the lone evaluation (vector body vs scalar tail,
     * which round differently: measured 1.1e-14 relative in f64), so there
     * only a leak-sized difference counts: 1e-12 (f64) / 1e-5 (f32) of the
     * column's scale. A leaked NaN fails either way. */
    double colscale[8] = {0};
    for (int r = 0; r < NROWS; r++)
        for (int k = 0; k < K; k++)
            if (isfinite(out[r * K + k])) colscale[k] = fmax(colscale[k], fabs(out[r * K + k]));
    const double tol = tile == 0 ? 1e-15 : prec == DDX_F64 ? 1e-12 : 1e-5;
    int n_bad_seen = 0;
    for (int r = 0; r < NROWS; r++) {
        double one[8];
        if (prec == DDX_F64)
            assert_int_equal(ddx_program_eval(p, pts + 2 * r, 1, one), DDX_OK);
        else {
            float o1[8];
            assert_int_equal(ddx_program_eval(p, pf + 2 * r, 1, o1), DDX_OK);
            for (int k = 0; k < K; k++) one[k] = o1[k];
        }
        const int bad_row = r == 3 || r == 500;
        for (int k = 0; k < K; k++) {
            double got = out[r * K + k];
            const int dep = nc->coord == 1 ? depends_on_x[k] : 1; /* every column depends on t */
            if (bad_row && dep) {
                if (isfinite(got))
                    fail_msg("%s: row %d (input %d = %g), column %d is finite (%.17g); want NaN/Inf",
                             prec == DDX_F64 ? "f64" : "f32", r, nc->coord, r == 3 ? nc->bad3 : nc->bad500, k, got);
                if (!isfinite(one[k])) n_bad_seen++;
                continue;
            }
            /* every other entry: as when that row is evaluated alone */
            double want = one[k];
            double scale = tile == 0 ? fabs(want) : fmax(fabs(want), colscale[k]);
            int same = memcmp(&got, &want, sizeof got) == 0 || fabs(got - want) <= tol * scale;
            if (!same)
                fail_msg("%s, tile %d: row %d column %d: %.17g in the batch, %.17g alone (bad rows 3 and 500, "
                         "input %d)",
                         prec == DDX_F64 ? "f64" : "f32", tile, r, k, got, want, nc->coord);
            if (!isfinite(got))
                fail_msg("%s: row %d column %d is not finite (%g): a NaN leaked", prec == DDX_F64 ? "f64" : "f32", r,
                         k, got);
        }
    }
    assert_true(n_bad_seen > 0); /* the bad rows alone are bad too */
    free(pts);
    free(out);
    free(pf);
    free(of);
    ddx_program_free(p);
    ddx_graph_free(g);
}

static void test_nan_inf_rows(void **state) {
    (void)state;
    const nan_case cases[4] = {
        {1, NAN, INFINITY},  /* x: NaN in row 3, +Inf in row 500 */
        {1, -INFINITY, NAN}, /* x: the other way round */
        {0, NAN, INFINITY},  /* t: every column is affected */
        {0, INFINITY, -NAN},
    };
    /* default tiles (256 points: rows 0-255 share a tile with row 3, rows
     * 256-511 with row 500), then tiles of 7 (not a multiple of any vector
     * width, so the GEMM's column tail runs too) */
    for (int c = 0; c < 4; c++) {
        check_nan_rows(DDX_F64, &cases[c], 0);
        check_nan_rows(DDX_F32, &cases[c], 0);
    }
    check_nan_rows(DDX_F64, &cases[0], 7);
    check_nan_rows(DDX_F32, &cases[0], 7);
    check_nan_rows(DDX_F64, &cases[2], 7);
    check_nan_rows(DDX_F32, &cases[2], 7);
}

/* ---- the expression parser ---------------------------------------------- */

typedef struct parse_fixture {
    ddx_graph *g;
    ddx_node t, x, u;
    ddx_symtab syms;
} parse_fixture;

static void make_fixture(parse_fixture *f) {
    f->g = graph_tx(&f->t, &f->x);
    double W2[5], b2 = 0.1;
    for (int i = 0; i < 5; i++) W2[i] = 0.5 * sin(1.3 * i + 0.2);
    f->u = ddx_component(f->g, ddx_dense(f->g, ddx_tanh(f->g, layer(f->g, f->t, f->x, 5)), 1, 5, W2, &b2, DDX_F64), 0);
    assert_graph_ok(f->g);
    memset(&f->syms, 0, sizeof f->syms);
    assert_int_equal(ddx_symtab_add(&f->syms, "u", f->u), 0);
}

static void free_fixture(parse_fixture *f) {
    ddx_symtab_free(&f->syms);
    ddx_graph_free(f->g);
}

static void test_parser_good(void **state) {
    (void)state;
    parse_fixture f;
    make_fixture(&f);
    char err[512] = "";
    ddx_column_list l;
    ddx_node ut = ddx_grad(f.g, f.u, f.t), ux = ddx_grad(f.g, f.u, f.x), uxx = ddx_grad(f.g, ux, f.x);

    /* a residual is one column, with the value of its ingredients combined */
    assert_int_equal(ddx_parse_list(f.g, &f.syms, "u_t + u*u_x - 0.01*u_xx", &l, err, sizeof err), DDX_OK);
    assert_int_equal(l.n, 1);
    ddx_node res = l.cols[0];
    ddx_list_free(&l);
    ddx_node cols[5] = {res, f.u, ut, ux, uxx};
    double pts[16 * 2], v[16 * 5];
    uint64_t rng = 5;
    for (int i = 0; i < 32; i++) pts[i] = test_uniform(&rng, -1, 1);
    eval_graph(f.g, cols, 5, DDX_F64, pts, 16, v);
    for (int p = 0; p < 16; p++) {
        const double *q = v + 5 * p;
        double want = q[2] + q[1] * q[3] - 0.01 * q[4];
        double scale = fabs(q[2]) + fabs(q[1] * q[3]) + fabs(0.01 * q[4]);
        if (!(fabs(q[0] - want) <= 1e-13 * scale)) fail_msg("parsed residual %.17g, combined %.17g", q[0], want);
    }

    /* grad(u): d columns named u_t, u_x, the same nodes as ddx_grad */
    assert_int_equal(ddx_parse_list(f.g, &f.syms, "grad(u)", &l, err, sizeof err), DDX_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "u_t");
    assert_string_equal(l.names[1], "u_x");
    assert_int_equal(l.cols[0], ut);
    assert_int_equal(l.cols[1], ux);
    ddx_list_free(&l);

    /* hessian(u): d*d columns, row-major */
    assert_int_equal(ddx_parse_list(f.g, &f.syms, "hessian(u)", &l, err, sizeof err), DDX_OK);
    assert_int_equal(l.n, 4);
    const char *hn[4] = {"u_tt", "u_tx", "u_xt", "u_xx"};
    for (int i = 0; i < 4; i++) assert_string_equal(l.names[i], hn[i]);
    ddx_node H[4];
    assert_int_equal(ddx_hessian(f.g, f.u, H), DDX_OK);
    double hv[16 * 4], hp[16 * 4];
    eval_graph(f.g, l.cols, 4, DDX_F64, pts, 16, hp);
    eval_graph(f.g, H, 4, DDX_F64, pts, 16, hv);
    for (int i = 0; i < 64; i++) assert_true(fabs(hp[i] - hv[i]) <= 1e-14 * fmax(fabs(hv[i]), 1e-300));
    ddx_list_free(&l);

    /* a list of several items, grad(u) among them */
    assert_int_equal(ddx_parse_list(f.g, &f.syms, "u, grad(u), u_xx, t*x", &l, err, sizeof err), DDX_OK);
    assert_int_equal(l.n, 5);
    assert_int_equal(l.cols[0], f.u);
    assert_int_equal(l.cols[3], uxx);
    ddx_list_free(&l);

    /* D(u,x,x) is u_xx: the same node (CSE) */
    ddx_node a = DDX_NO_NODE, b = DDX_NO_NODE;
    assert_int_equal(ddx_parse_expr(f.g, &f.syms, "D(u,x,x)", &a, err, sizeof err), DDX_OK);
    assert_int_equal(ddx_parse_expr(f.g, &f.syms, "u_xx", &b, err, sizeof err), DDX_OK);
    assert_int_equal(a, b);
    assert_int_equal(a, uxx);
    /* and u_tx is d/dx d/dt u */
    assert_int_equal(ddx_parse_expr(f.g, &f.syms, "u_tx", &a, err, sizeof err), DDX_OK);
    assert_int_equal(a, ddx_grad(f.g, ut, f.x));
    assert_graph_ok(f.g);
    free_fixture(&f);
}

/* A parse that must fail: status not OK, a message, a mention of `needle`. */
static void expect_parse_error(parse_fixture *f, const char *text, int as_list, const char *needle) {
    char err[512] = "";
    ddx_status st;
    if (as_list) {
        ddx_column_list l;
        st = ddx_parse_list(f->g, &f->syms, text, &l, err, sizeof err);
        if (st == DDX_OK) ddx_list_free(&l);
        else
            assert_int_equal(l.n, 0);
    } else {
        ddx_node n = DDX_NO_NODE;
        st = ddx_parse_expr(f->g, &f->syms, text, &n, err, sizeof err);
    }
    if (st == DDX_OK) fail_msg("'%s' parsed without error", text);
    if (!err[0]) fail_msg("'%s': status %s but no message", text, ddx_status_string(st));
    if (needle && !strstr(err, needle)) fail_msg("'%s': message '%s' does not mention %s", text, err, needle);
    ddx_graph_clear_error(f->g);
}

static void test_parser_errors(void **state) {
    (void)state;
    parse_fixture f;
    make_fixture(&f);
    char err[512];
    ddx_column_list l;
    /* unknown name: the status is a parse / name error, the message names it */
    ddx_status st = ddx_parse_list(f.g, &f.syms, "v_x", &l, err, sizeof err);
    assert_true(st == DDX_ERR_PARSE || st == DDX_ERR_UNKNOWN_NAME);
    assert_non_null(strstr(err, "v_x"));
    expect_parse_error(&f, "v_x", 0, "v_x");
    expect_parse_error(&f, "u + v", 1, "'v'");
    /* a suffix letter that is no input */
    expect_parse_error(&f, "u_q", 1, "'q'");
    expect_parse_error(&f, "u_xq", 0, "'q'");
    /* unbalanced parentheses */
    expect_parse_error(&f, "(u + u_x", 1, NULL);
    expect_parse_error(&f, "(u + u_x", 0, NULL);
    expect_parse_error(&f, "u + u_x)", 1, NULL);
    expect_parse_error(&f, "u + u_x)", 0, NULL);
    expect_parse_error(&f, "grad(u", 1, NULL);
    expect_parse_error(&f, "D(u, x, x", 1, NULL);
    expect_parse_error(&f, "sin(u))", 1, NULL);
    /* empty items */
    expect_parse_error(&f, "u,,u_x", 1, NULL);
    expect_parse_error(&f, ",u", 1, NULL);
    expect_parse_error(&f, "u,", 1, NULL);
    expect_parse_error(&f, "", 1, NULL);
    expect_parse_error(&f, "", 0, NULL);
    /* other syntax */
    expect_parse_error(&f, "u +", 0, NULL);
    expect_parse_error(&f, "u * * u", 0, NULL);
    expect_parse_error(&f, "u $ 2", 0, NULL);
    expect_parse_error(&f, "nosuch(u)", 0, "nosuch");
    expect_parse_error(&f, "sin(u, x)", 0, NULL);
    expect_parse_error(&f, "pow(u, x)", 0, NULL);
    expect_parse_error(&f, "u_x + grad(u)", 0, NULL);
    /* derivative order past the limit in the parser */
    expect_parse_error(&f, "D(u,x,x,x,x,x,x,x,x,x)", 0, NULL);
    /* NULL text */
    ddx_node n;
    assert_int_not_equal(ddx_parse_expr(f.g, &f.syms, NULL, &n, err, sizeof err), DDX_OK);
    assert_int_not_equal(ddx_parse_list(f.g, &f.syms, NULL, &l, err, sizeof err), DDX_OK);
    /* and after all that the parser still works on the same graph */
    ddx_graph_clear_error(f.g);
    assert_int_equal(ddx_parse_list(f.g, &f.syms, "u_t, u_x", &l, err, sizeof err), DDX_OK);
    assert_int_equal(l.n, 2);
    ddx_list_free(&l);
    free_fixture(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_graph),
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_bad_node_ids),
        cmocka_unit_test(test_partial_order0_bad_node),
        cmocka_unit_test(test_grad_misuse),
        cmocka_unit_test(test_inputs),
        cmocka_unit_test(test_shapes_and_weights),
        cmocka_unit_test(test_order_limit),
        cmocka_unit_test(test_compile_and_eval_errors),
        cmocka_unit_test(test_nan_inf_rows),
        cmocka_unit_test(test_parser_good),
        cmocka_unit_test(test_parser_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
