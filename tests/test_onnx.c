/* test_onnx.c — the ONNX importer: the committed fixtures (PyTorch, JAX and
 * hand-built models; references from torch.autograd / jax.hessian in
 * float64, made by tests/fixtures/onnx/make_fixtures.py) within per-order
 * f32/f64 tolerances; a Navier-Stokes system compiled as one program; and
 * refusals: unsupported ops, opsets, dtypes and shapes, and hostile bytes
 * (truncations, wrong wire types, absurd lengths, cycles, size mismatches,
 * NaN weights) that must give one clear message and no crash or leak.
 *
 * Models for the hostile cases are written here with a tiny protobuf
 * writer, so every byte is under the test's control. With
 * DDX_ONNX_WRITE_CORPUS=DIR set, the test also writes them into DIR (that
 * is how tests/fuzz/corpus_onnx/ got its hand-made seeds). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/array_io.h"
#include "tools/expr_parse.h"
#include "host/import/onnx_import.h"
#include "tools/model_spec.h"
#include "test_util.h"

/* ---- a protobuf writer (test only) ---- */

typedef struct pbuf {
    unsigned char *p;
    size_t n, cap;
} pbuf;

static void put(pbuf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void varint(pbuf *b, uint64_t v) {
    unsigned char c[10];
    int n = 0;
    do {
        c[n] = v & 0x7f;
        v >>= 7;
        if (v) c[n] |= 0x80;
        n++;
    } while (v);
    put(b, c, (size_t)n);
}
static void tag(pbuf *b, int f, int wt) { varint(b, ((uint64_t)f << 3) | (uint64_t)wt); }
static void f_varint(pbuf *b, int f, uint64_t v) { tag(b, f, 0), varint(b, v); }
static void f_bytes(pbuf *b, int f, const void *d, size_t n) { tag(b, f, 2), varint(b, n), put(b, d, n); }
static void f_str(pbuf *b, int f, const char *s) { f_bytes(b, f, s, strlen(s)); }
static void f_float(pbuf *b, int f, float x) {
    tag(b, f, 5);
    put(b, &x, 4); /* little-endian hosts */
}
/* Appends sub-message m as field f and frees it. */
static void f_msg(pbuf *b, int f, pbuf *m) {
    f_bytes(b, f, m->p, m->n);
    free(m->p);
    memset(m, 0, sizeof *m);
}

enum { T_FLOAT = 1, T_INT64 = 7, T_DOUBLE = 11 };

static pbuf tensor_f32(const char *name, const int64_t *dims, int nd, const float *v, size_t n) {
    pbuf t = {0};
    for (int k = 0; k < nd; k++) f_varint(&t, 1, (uint64_t)dims[k]);
    f_varint(&t, 2, T_FLOAT);
    f_str(&t, 8, name);
    f_bytes(&t, 9, v, 4 * n);
    return t;
}
static pbuf tensor_i64(const char *name, const int64_t *dims, int nd, const int64_t *v, size_t n) {
    pbuf t = {0};
    for (int k = 0; k < nd; k++) f_varint(&t, 1, (uint64_t)dims[k]);
    f_varint(&t, 2, T_INT64);
    f_str(&t, 8, name);
    f_bytes(&t, 9, v, 8 * n);
    return t;
}
/* dims: -1 = the symbolic "N" */
static pbuf value_info(const char *name, int elem, const int64_t *dims, int nd) {
    pbuf shape = {0}, tt = {0}, tp = {0}, vi = {0};
    for (int k = 0; k < nd; k++) {
        pbuf d = {0};
        if (dims[k] < 0) f_str(&d, 2, "N");
        else f_varint(&d, 1, (uint64_t)dims[k]);
        f_msg(&shape, 1, &d);
    }
    f_varint(&tt, 1, (uint64_t)elem);
    f_msg(&tt, 2, &shape);
    f_msg(&tp, 1, &tt);
    f_str(&vi, 1, name);
    f_msg(&vi, 2, &tp);
    return vi;
}
/* ins/outs: NULL-terminated lists; attrs appended by the caller */
static pbuf node(const char *op, const char *name, const char **ins, const char **outs) {
    pbuf n = {0};
    for (; ins && *ins; ins++) f_str(&n, 1, *ins);
    for (; outs && *outs; outs++) f_str(&n, 2, *outs);
    f_str(&n, 3, name);
    f_str(&n, 4, op);
    return n;
}
static void attr_int(pbuf *n, const char *name, int64_t v) {
    pbuf a = {0};
    f_str(&a, 1, name);
    f_varint(&a, 3, (uint64_t)v);
    f_varint(&a, 20, 2);
    f_msg(n, 5, &a);
}
static void attr_float(pbuf *n, const char *name, float v) {
    pbuf a = {0};
    f_str(&a, 1, name);
    f_float(&a, 2, v);
    f_varint(&a, 20, 1);
    f_msg(n, 5, &a);
}
static void attr_tensor(pbuf *n, const char *name, pbuf *t) {
    pbuf a = {0};
    f_str(&a, 1, name);
    f_msg(&a, 5, t);
    f_varint(&a, 20, 4);
    f_msg(n, 5, &a);
}
static pbuf model(int opset, pbuf *graph) {
    pbuf m = {0}, os = {0};
    f_varint(&m, 1, 8);
    f_str(&m, 2, "ddx-test");
    f_msg(&m, 7, graph);
    f_str(&os, 1, "");
    f_varint(&os, 2, (uint64_t)opset);
    f_msg(&m, 8, &os);
    return m;
}

/* u = w2 . tanh(W1 tx + b1), tx [N,2], widths 2-3-1, float32 weights.
 * nan_weight puts a NaN into W1; extra lets a case append nodes. */
static const float W1v[6] = {0.5f, -0.3f, 0.8f, 0.1f, -0.6f, 0.4f}; /* [2,3] as stored by MatMul */
static const float b1v[3] = {0.1f, -0.2f, 0.05f};
static const float w2v[3] = {0.7f, -0.5f, 0.9f};

static pbuf mlp_model(int opset, int nan_weight, const char *act) {
    pbuf g = {0}, t;
    const char *i1[] = {"tx", "W1", NULL}, *o1[] = {"h", NULL};
    const char *i2[] = {"h", "b1", NULL}, *o2[] = {"hb", NULL};
    const char *i3[] = {"hb", NULL}, *o3[] = {"a", NULL};
    const char *i4[] = {"a", "w2", NULL}, *o4[] = {"u", NULL};
    t = node("MatMul", "mm1", i1, o1), f_msg(&g, 1, &t);
    t = node("Add", "bias1", i2, o2), f_msg(&g, 1, &t);
    t = node(act, "act1", i3, o3), f_msg(&g, 1, &t);
    t = node("MatMul", "mm2", i4, o4), f_msg(&g, 1, &t);
    f_str(&g, 2, "mlp");
    float W[6];
    memcpy(W, W1v, sizeof W);
    if (nan_weight) W[4] = NAN;
    int64_t d23[2] = {2, 3}, d3[1] = {3}, d31[2] = {3, 1};
    t = tensor_f32("W1", d23, 2, W, 6), f_msg(&g, 5, &t);
    t = tensor_f32("b1", d3, 1, b1v, 3), f_msg(&g, 5, &t);
    t = tensor_f32("w2", d31, 2, w2v, 3), f_msg(&g, 5, &t);
    int64_t din[2] = {-1, 2}, dout[2] = {-1, 1};
    t = value_info("tx", T_FLOAT, din, 2), f_msg(&g, 11, &t);
    t = value_info("u", T_FLOAT, dout, 2), f_msg(&g, 12, &t);
    return model(opset, &g);
}

static double mlp_ref(double t, double x) {
    double u = 0;
    for (int j = 0; j < 3; j++) u += (double)w2v[j] * tanh((double)W1v[j] * t + (double)W1v[3 + j] * x + (double)b1v[j]);
    return u;
}

static void maybe_write_corpus(const char *name, const pbuf *b) {
    const char *dir = getenv("DDX_ONNX_WRITE_CORPUS");
    if (!dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.onnx", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b->p, 1, b->n, f);
    fclose(f);
}

/* Imports bytes; returns status, error copied to err. */
static ddx_status import(const void *d, size_t n, const char *inputs, char *err, size_t cap, int *nout) {
    ddx_graph *g = ddx_graph_create();
    ddx_node outs[64];
    char names[64][64];
    int k = 0;
    ddx_status st = ddx_graph_from_onnx(g, d, n, inputs, outs, 64, &k, names);
    snprintf(err, cap, "%s", ddx_graph_error(g));
    if (st == DDX_OK) assert_graph_ok(g);
    else assert_true(err[0] != 0 && strchr(err, '\n') == NULL);
    if (nout) *nout = k;
    ddx_graph_free(g);
    return st;
}

static void expect_refusal(const pbuf *m, const char *want) {
    char err[512];
    ddx_status st = import(m->p, m->n, NULL, err, sizeof err, NULL);
    if (st == DDX_OK) fail_msg("expected a refusal containing '%s'", want);
    if (!strstr(err, want)) fail_msg("error '%s' lacks '%s'", err, want);
}

/* ---- fixtures ---- */

static const char *src_dir(void) {
    const char *s = getenv("DDX_SOURCE_DIR");
    return s ? s : ".";
}

typedef struct fixture {
    const char *name;
    const char *list;  /* the LIST of make_fixtures.py COLUMNS, joined */
    int orders[16];
    int ncols;
} fixture;

static const fixture FIXTURES[] = {
    {"burgers_torch", "u,u_t,u_x,u_tt,u_tx,u_xx,u_xxx,u_txx,u_t + u*u_x - 0.003183098861837907*u_xx",
     {0, 1, 1, 2, 2, 2, 3, 3, 2}, 9},
    {"ns_torch",
     "u,v,p,u_x + v_y,u_t + u*u_x + v*u_y + p_x - 0.01*(u_xx + u_yy),"
     "v_t + u*v_x + v*v_y + p_y - 0.01*(v_xx + v_yy),u_xx,v_yy,p_x",
     {0, 0, 0, 1, 2, 2, 2, 2, 1}, 9},
    {"heat_jax", "u,u_t,u_x,u_tx,u_xx,u_xxx,u_t - 0.1*u_xx", {0, 1, 1, 2, 2, 3, 2}, 7},
    {"ops_onnx", "y,y_t,y_x,y_tt,y_tx,y_xx,y_xxx,z,z_x,z_tx", {0, 1, 1, 2, 2, 2, 3, 0, 1, 2}, 10},
    {"wave_keras", "u,u_t,u_x,u_tt,u_xx,u_txx,u_tt - 4*u_xx,laplacian(u)", {0, 1, 1, 2, 2, 3, 2, 2}, 8},
};

/* Tolerances, relative to the column's largest reference value. f64: the
 * references are exact float64 autodiff of the same weights, so only
 * rounding separates them. f32: ddx computes in float32 throughout. */
static const double TOL_F64[4] = {2e-13, 2e-13, 2e-13, 2e-13};
static const double TOL_F32[4] = {3e-6, 5e-6, 1e-5, 2e-5};

static double g_worst[2][4]; /* achieved, per precision and order, printed at the end */

static void run_fixture(const fixture *fx) {
    char path[1024], err[1024];
    ddx_model m;
    memset(&m, 0, sizeof m);
    m.g = ddx_graph_create();
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/%s.onnx", src_dir(), fx->name);
    if (ddx_model_load_onnx(path, NULL, &m, err, sizeof err)) fail_msg("%s", err);
    ddx_column_list cols;
    if (ddx_parse_list(m.g, &m.outputs, fx->list, &cols, err, sizeof err)) fail_msg("%s: %s", fx->name, err);
    assert_int_equal(cols.n, fx->ncols);
    ddx_array pts, ref;
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/%s_points.npy", src_dir(), fx->name);
    if (ddx_array_read(path, &pts, err, sizeof err)) fail_msg("%s", err);
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/%s_ref.npy", src_dir(), fx->name);
    if (ddx_array_read(path, &ref, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(pts.prec, DDX_F64);
    assert_int_equal(ref.cols, fx->ncols);
    assert_int_equal(pts.cols, ddx_graph_num_inputs(m.g));
    const double *R = ref.data;
    double *out = malloc(sizeof(double) * (size_t)(pts.rows * cols.n));
    assert_non_null(out);
    for (int prec = 0; prec < 2; prec++) {
        eval_graph(m.g, cols.cols, cols.n, prec ? DDX_F64 : DDX_F32, pts.data, pts.rows, out);
        for (int k = 0; k < cols.n; k++) {
            double scale = 1e-3, worst = 0;
            for (int64_t i = 0; i < pts.rows; i++) scale = fmax(scale, fabs(R[i * cols.n + k]));
            for (int64_t i = 0; i < pts.rows; i++)
                worst = fmax(worst, fabs(out[i * cols.n + k] - R[i * cols.n + k]) / scale);
            int o = fx->orders[k];
            double tol = prec ? TOL_F64[o] : TOL_F32[o];
            if (worst > g_worst[prec][o]) g_worst[prec][o] = worst;
            if (!(worst <= tol))
                fail_msg("%s %s column '%s' (order %d): relative error %.3g > %.3g", fx->name, prec ? "f64" : "f32",
                         cols.names[k], o, worst, tol);
        }
    }
    free(out);
    ddx_array_free(&pts);
    ddx_array_free(&ref);
    ddx_list_free(&cols);
    ddx_model_free(&m);
}

static void test_fixture_burgers_torch(void **s) { (void)s, run_fixture(&FIXTURES[0]); }
static void test_fixture_ns_torch(void **s) { (void)s, run_fixture(&FIXTURES[1]); }
static void test_fixture_heat_jax(void **s) { (void)s, run_fixture(&FIXTURES[2]); }
static void test_fixture_ops_onnx(void **s) { (void)s, run_fixture(&FIXTURES[3]); }
static void test_fixture_wave_keras(void **s) { (void)s, run_fixture(&FIXTURES[4]); }

/* Names come from the model: inputs t, x, y and outputs u, v, p, with the
 * positional aliases out0.. */
static void test_names_from_model(void **s) {
    (void)s;
    char path[1024], err[512];
    ddx_model m;
    memset(&m, 0, sizeof m);
    m.g = ddx_graph_create();
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/ns_torch.onnx", src_dir());
    if (ddx_model_load_onnx(path, NULL, &m, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ddx_graph_num_inputs(m.g), 3);
    assert_string_equal(ddx_graph_input_name(m.g, 0), "t");
    assert_string_equal(ddx_graph_input_name(m.g, 2), "y");
    const char *want[] = {"u", "v", "p", "out0", "out1", "out2"};
    assert_int_equal(m.outputs.n, 6);
    for (int k = 0; k < 6; k++) assert_string_equal(m.outputs.names[k], want[k]);
    assert_int_equal(m.outputs.nodes[0], m.outputs.nodes[3]);
    ddx_model_free(&m);
    /* one [N,2] tensor: defaults t,x, or --inputs */
    memset(&m, 0, sizeof m);
    m.g = ddx_graph_create();
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/burgers_torch.onnx", src_dir());
    if (ddx_model_load_onnx(path, "s, r", &m, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(ddx_graph_input_name(m.g, 0), "s");
    assert_string_equal(ddx_graph_input_name(m.g, 1), "r");
    ddx_model_free(&m);
    memset(&m, 0, sizeof m);
    m.g = ddx_graph_create();
    assert_int_equal(ddx_model_load_onnx(path, "a,b,c", &m, err, sizeof err), DDX_ERR_SHAPE);
    assert_non_null(strstr(err, "takes 2"));
    ddx_model_free(&m);
}

static void test_sanitize(void **s) {
    (void)s;
    char out[64];
    ddx_onnx_sanitize_name("onnx::Gemm_0", "u", out);
    assert_string_equal(out, "onnx_Gemm_0");
    ddx_onnx_sanitize_name("/net/out.1", "u", out);
    assert_string_equal(out, "net_out_1");
    ddx_onnx_sanitize_name("3d", "u", out);
    assert_string_equal(out, "v3d");
    ddx_onnx_sanitize_name("exp", "u", out);
    assert_string_equal(out, "exp1");
    ddx_onnx_sanitize_name("::", "u", out);
    assert_string_equal(out, "u");
    ddx_onnx_sanitize_name("\xc3\xa9t\xc3\xa9", "u", out);
    assert_string_equal(out, "t");
}

/* Navier-Stokes: three residuals over (u, v, p) in one program; the
 * network runs once, carrying the union of what the residuals need. */
static void test_ns_system_one_program(void **s) {
    (void)s;
    char path[1024], err[512];
    ddx_model m;
    memset(&m, 0, sizeof m);
    m.g = ddx_graph_create();
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/ns_torch.onnx", src_dir());
    if (ddx_model_load_onnx(path, NULL, &m, err, sizeof err)) fail_msg("%s", err);
    const char *res[3] = {"u_x + v_y", "u_t + u*u_x + v*u_y + p_x - 0.01*(u_xx + u_yy)",
                          "v_t + u*v_x + v*v_y + p_y - 0.01*(v_xx + v_yy)"};
    ddx_node outs[3];
    for (int k = 0; k < 3; k++)
        if (ddx_parse_expr(m.g, &m.outputs, res[k], &outs[k], err, sizeof err)) fail_msg("%s", err);
    ddx_program *all = compile_cpu(m.g, outs, 3, DDX_F64), *one;
    /* {0, t, x, y, xx, yy}: 6 channels through every dense layer */
    assert_int_equal(ddx_program_network_channels(all), 6);
    double sum = 0;
    for (int k = 0; k < 3; k++) {
        one = compile_cpu(m.g, &outs[k], 1, DDX_F64);
        sum += ddx_program_flops_per_point(one);
        ddx_program_free(one);
    }
    double f_all = ddx_program_flops_per_point(all);
    /* the network (3 dense layers: 3x24 + 24x24 + 24x3, 6 channels) is paid once */
    double net = 2.0 * 6 * (3 * 24 + 24 * 24 + 24 * 3);
    assert_true(f_all < 1.6 * net);
    assert_true(f_all < 0.6 * sum);
    ddx_program_free(all);
    ddx_model_free(&m);
}

/* ---- the hand-built model and its variants ---- */

static void test_mlp_values(void **s) {
    (void)s;
    pbuf m = mlp_model(17, 0, "Tanh");
    maybe_write_corpus("mlp_tanh", &m);
    ddx_graph *g = ddx_graph_create();
    ddx_node outs[4];
    char names[4][64];
    int n = 0;
    assert_int_equal(ddx_graph_from_onnx(g, m.p, m.n, NULL, outs, 4, &n, names), DDX_OK);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "u");
    assert_string_equal(ddx_graph_input_name(g, 0), "t");
    ddx_node cols[2] = {outs[0], ddx_grad(g, outs[0], ddx_graph_input(g, 1))};
    double pts[4] = {0.3, -0.7, 1.1, 0.4}, out[4];
    eval_graph(g, cols, 2, DDX_F64, pts, 2, out);
    for (int i = 0; i < 2; i++) {
        double t = pts[2 * i], x = pts[2 * i + 1], h = 1e-5;
        assert_true(rel_err(out[2 * i], mlp_ref(t, x), 1e-12) < 1e-14);
        double fd = (mlp_ref(t, x + h) - mlp_ref(t, x - h)) / (2 * h);
        assert_true(rel_err(out[2 * i + 1], fd, 1e-6) < 1e-8);
    }
    /* too little room for the outputs: LIMIT, and the count needed */
    ddx_graph_free(g);
    g = ddx_graph_create();
    assert_int_equal(ddx_graph_from_onnx(g, m.p, m.n, NULL, outs, 0, &n, NULL), DDX_ERR_LIMIT);
    assert_int_equal(n, 1);
    ddx_graph_free(g);
    /* a graph that already has inputs is refused */
    g = ddx_graph_create();
    ddx_input(g, "q");
    assert_int_equal(ddx_graph_from_onnx(g, m.p, m.n, NULL, outs, 4, &n, NULL), DDX_ERR_INVALID_ARG);
    ddx_graph_free(g);
    free(m.p);
}

/* Ops the fixtures do not reach: rank-1 and separate inputs, Unsqueeze,
 * Concat(axis=-1), Pow with a constant base, ConstantOfShape, Split by
 * num_outputs (opset 18), Dropout, Gemm with a per-point C, Squeeze.
 * y = 0.75 a - 1.5 b + 2 * (0.5 * 2^b) = 0.75 a - 1.5 b + 2^b. */
static void test_more_ops(void **s) {
    (void)s;
    pbuf g = {0}, t, v;
    const char *i1[] = {"a", "ax1", NULL}, *o1[] = {"a2", NULL};
    t = node("Unsqueeze", "unsq", i1, o1), f_msg(&g, 1, &t);
    const char *i2[] = {"a2", "b", NULL}, *o2[] = {"ab", NULL};
    t = node("Concat", "cat", i2, o2), attr_int(&t, "axis", -1), f_msg(&g, 1, &t);
    const char *i3[] = {"two", "ab", NULL}, *o3[] = {"p", NULL};
    t = node("Pow", "pow_base", i3, o3), f_msg(&g, 1, &t);
    const char *i4[] = {"shape1", NULL}, *o4[] = {"half", NULL};
    t = node("ConstantOfShape", "cos_half", i4, o4);
    int64_t d1[1] = {1};
    float hv = 0.5f;
    v = tensor_f32("hv", d1, 1, &hv, 1);
    attr_tensor(&t, "value", &v);
    f_msg(&g, 1, &t);
    const char *i5[] = {"p", "half", NULL}, *o5[] = {"ph", NULL};
    t = node("Mul", "mul_half", i5, o5), f_msg(&g, 1, &t);
    const char *i6[] = {"ph", NULL}, *o6[] = {"s1", "s2", NULL};
    t = node("Split", "split2", i6, o6), attr_int(&t, "axis", 1), attr_int(&t, "num_outputs", 2), f_msg(&g, 1, &t);
    const char *i7[] = {"ab", "Wg", "s2", NULL}, *o7[] = {"gm", NULL};
    t = node("Gemm", "gemm_c", i7, o7), attr_float(&t, "beta", 2.0f), f_msg(&g, 1, &t);
    const char *i8[] = {"gm", NULL}, *o8[] = {"gd", NULL};
    t = node("Dropout", "drop", i8, o8), f_msg(&g, 1, &t);
    const char *i9[] = {"gd", "ax1", NULL}, *o9[] = {"y", NULL};
    t = node("Squeeze", "sq", i9, o9), f_msg(&g, 1, &t);
    int64_t one = 1, d21[2] = {2, 1}, d0[1] = {0};
    float two = 2.0f, wg[2] = {0.75f, -1.5f};
    t = tensor_i64("ax1", d1, 1, &one, 1), f_msg(&g, 5, &t);
    t = tensor_i64("shape1", d1, 1, &one, 1), f_msg(&g, 5, &t);
    t = tensor_f32("two", d0, 0, &two, 1), f_msg(&g, 5, &t);
    t = tensor_f32("Wg", d21, 2, wg, 2), f_msg(&g, 5, &t);
    int64_t dn[1] = {-1}, dn1[2] = {-1, 1};
    t = value_info("a", T_FLOAT, dn, 1), f_msg(&g, 11, &t);
    t = value_info("b", T_FLOAT, dn1, 2), f_msg(&g, 11, &t);
    t = value_info("y", T_FLOAT, dn, 1), f_msg(&g, 12, &t);
    pbuf m = model(18, &g);
    maybe_write_corpus("more_ops", &m);
    ddx_graph *gr = ddx_graph_create();
    ddx_node outs[4];
    char names[4][64];
    int n = 0;
    if (ddx_graph_from_onnx(gr, m.p, m.n, NULL, outs, 4, &n, names)) fail_msg("%s", ddx_graph_error(gr));
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "y");
    assert_string_equal(ddx_graph_input_name(gr, 0), "a");
    assert_string_equal(ddx_graph_input_name(gr, 1), "b");
    ddx_node b = ddx_graph_input(gr, 1), a = ddx_graph_input(gr, 0);
    ddx_node cols[4] = {outs[0], ddx_grad(gr, outs[0], a), ddx_grad(gr, outs[0], b),
                        ddx_grad(gr, ddx_grad(gr, outs[0], b), b)};
    double pts[4] = {0.3, -0.7, -1.2, 0.9}, out[8];
    eval_graph(gr, cols, 4, DDX_F64, pts, 2, out);
    for (int i = 0; i < 2; i++) {
        double av = pts[2 * i], bv = pts[2 * i + 1], l2 = log(2.0);
        assert_true(rel_err(out[4 * i], 0.75 * av - 1.5 * bv + pow(2, bv), 1) < 1e-14);
        assert_true(rel_err(out[4 * i + 1], 0.75, 1) < 1e-14);
        assert_true(rel_err(out[4 * i + 2], -1.5 + l2 * pow(2, bv), 1) < 1e-14);
        assert_true(rel_err(out[4 * i + 3], l2 * l2 * pow(2, bv), 1) < 1e-14);
    }
    ddx_graph_free(gr);
    free(m.p);
}

static void test_refusals_ops_and_opsets(void **s) {
    (void)s;
    pbuf m = mlp_model(17, 0, "Relu");
    expect_refusal(&m, "node 'act1' (Relu): op not supported");
    expect_refusal(&m, "supported: Gemm, MatMul");
    free(m.p);
    m = mlp_model(17, 0, "LayerNormalization");
    expect_refusal(&m, "node 'act1' (LayerNormalization)");
    free(m.p);
    m = mlp_model(17, 0, "Gelu"); /* Gelu (and Erf) import since the op table has them, Gelu from opset 20 */
    expect_refusal(&m, "node 'act1' (Gelu): Gelu is an opset-20 op; the model declares opset 17");
    free(m.p);
    m = mlp_model(12, 0, "Tanh");
    expect_refusal(&m, "opset 12 is not supported (supported: 13 to 21");
    free(m.p);
    m = mlp_model(22, 0, "Tanh");
    expect_refusal(&m, "opset 22");
    free(m.p);
    m = mlp_model(17, 1, "Tanh");
    expect_refusal(&m, "not finite");
    expect_refusal(&m, "node 'mm1' (MatMul)");
    free(m.p);
}

/* The committed refusal fixtures, as the CLI sees them. */
static void test_refusal_fixtures(void **s) {
    (void)s;
    static const struct {
        const char *file, *want;
    } cases[] = {
        {"refuse_relu", "(Relu): op not supported"},
        {"refuse_opset12", "opset 12 is not supported"},
        {"refuse_dyndim", "dimension 1 of input 'tx' is dynamic ('d')"},
        {"refuse_int_input", "input 'tx' has dtype int64"},
        {"refuse_cycle", "cycle"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char path[1024], err[1024];
        ddx_model m;
        memset(&m, 0, sizeof m);
        m.g = ddx_graph_create();
        snprintf(path, sizeof path, "%s/tests/fixtures/onnx/%s.onnx", src_dir(), cases[k].file);
        ddx_status st = ddx_model_load_onnx(path, NULL, &m, err, sizeof err);
        ddx_model_free(&m);
        if (st == DDX_OK) fail_msg("%s loaded", cases[k].file);
        if (!strstr(err, cases[k].want)) fail_msg("%s: '%s' lacks '%s'", cases[k].file, err, cases[k].want);
    }
}

/* Shape ops that would touch the point axis are refused by name. */
static void test_refusals_point_axis(void **s) {
    (void)s;
    struct {
        const char *op, *want;
        int64_t v[2];
        int nv;
    } cases[] = {
        {"Gather0", "gathering along the point axis", {0, 0}, 1},
        {"Slice0", "slicing the point axis", {1, 0}, 1},
        {"Reshape", "point axis", {-1, 0}, 1},
        {"Unsqueeze0", "unsqueezing axis 0", {0, 0}, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pbuf g = {0}, t;
        int64_t dk[1] = {cases[k].nv};
        if (!strcmp(cases[k].op, "Gather0")) {
            const char *in[] = {"tx", "c", NULL}, *out[] = {"u", NULL};
            t = node("Gather", "bad", in, out);
            attr_int(&t, "axis", 0);
        } else if (!strcmp(cases[k].op, "Slice0")) {
            const char *in[] = {"tx", "c", "c2", "c3", NULL}, *out[] = {"u", NULL};
            t = node("Slice", "bad", in, out);
        } else if (!strcmp(cases[k].op, "Reshape")) {
            const char *in[] = {"tx", "c", NULL}, *out[] = {"u", NULL};
            t = node("Reshape", "bad", in, out);
        } else {
            const char *in[] = {"tx", "c", NULL}, *out[] = {"u", NULL};
            t = node("Unsqueeze", "bad", in, out);
        }
        f_msg(&g, 1, &t);
        t = tensor_i64("c", dk, 1, cases[k].v, 1), f_msg(&g, 5, &t);
        int64_t two = 2, zero = 0;
        t = tensor_i64("c2", dk, 1, &two, 1), f_msg(&g, 5, &t);
        t = tensor_i64("c3", dk, 1, &zero, 1), f_msg(&g, 5, &t);
        int64_t din[2] = {-1, 2}, dout[2] = {-1, 1};
        t = value_info("tx", T_FLOAT, din, 2), f_msg(&g, 11, &t);
        t = value_info("u", T_FLOAT, dout, 2), f_msg(&g, 12, &t);
        pbuf m = model(17, &g);
        expect_refusal(&m, "node 'bad'");
        expect_refusal(&m, cases[k].want);
        free(m.p);
    }
}

/* Every prefix of a valid model is refused with a message, never a crash;
 * so is every single corrupted byte (under ASan in the sanitizer build). */
static void test_truncations_and_corruptions(void **s) {
    (void)s;
    pbuf m = mlp_model(17, 0, "Tanh");
    char err[512];
    for (size_t n = 0; n < m.n; n++) assert_int_not_equal(import(m.p, n, NULL, err, sizeof err, NULL), DDX_OK);
    unsigned char *c = malloc(m.n);
    assert_non_null(c);
    int ok = 0;
    for (size_t i = 0; i < m.n; i++)
        for (int pat = 0; pat < 3; pat++) {
            memcpy(c, m.p, m.n);
            c[i] ^= pat == 0 ? 0xff : pat == 1 ? 0x80 : 0x01;
            ok += import(c, m.n, NULL, err, sizeof err, NULL) == DDX_OK;
        }
    free(c);
    /* some flips (inside float weights) still give valid models */
    assert_true(ok > 0);
    free(m.p);
    /* the same for a real exported model */
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/onnx/ns_torch.onnx", src_dir());
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 1000 && n < sizeof buf);
    for (size_t k = 0; k < n; k += 7) assert_int_not_equal(import(buf, k, NULL, err, sizeof err, NULL), DDX_OK);
    for (size_t i = 0; i < n; i += 3) {
        unsigned char save = buf[i];
        buf[i] ^= 0xff;
        (void)import(buf, n, NULL, err, sizeof err, NULL);
        buf[i] = save;
    }
}

static void test_hostile_wire(void **s) {
    (void)s;
    char err[512];
    /* empty, and NULL */
    assert_int_equal(import("", 0, NULL, err, sizeof err, NULL), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "empty"));
    /* graph field with an absurd length */
    pbuf b = {0};
    tag(&b, 7, 2);
    varint(&b, (uint64_t)1 << 62);
    assert_int_equal(import(b.p, b.n, NULL, err, sizeof err, NULL), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "exceeds"));
    free(b.p), memset(&b, 0, sizeof b);
    /* graph given as a varint: wrong wire type */
    f_varint(&b, 7, 5);
    assert_int_equal(import(b.p, b.n, NULL, err, sizeof err, NULL), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "ModelProto.graph has wire type varint, expected length-delimited"));
    free(b.p), memset(&b, 0, sizeof b);
    /* an 11-byte varint */
    tag(&b, 1, 0);
    unsigned char ff[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    put(&b, ff, 11);
    assert_int_equal(import(b.p, b.n, NULL, err, sizeof err, NULL), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "varint"));
    free(b.p), memset(&b, 0, sizeof b);
    /* a group (wire type 3), field number 0 */
    tag(&b, 7, 3);
    assert_int_equal(import(b.p, b.n, NULL, err, sizeof err, NULL), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "groups"));
    free(b.p), memset(&b, 0, sizeof b);
    unsigned char zero_field[2] = {0x02, 0x00};
    assert_int_equal(import(zero_field, 2, NULL, err, sizeof err, NULL), DDX_ERR_PARSE);
    /* no graph at all */
    f_varint(&b, 1, 8);
    assert_int_equal(import(b.p, b.n, NULL, err, sizeof err, NULL), DDX_ERR_PARSE);
    assert_non_null(strstr(err, "no graph"));
    free(b.p);
}

/* Tensors whose bytes do not match their shape, huge dims, external data. */
static void test_hostile_tensors(void **s) {
    (void)s;
    struct {
        const char *what, *want;
    } cases[] = {
        {"short_raw", "holds 12 raw bytes"},
        {"huge_dim", "more than"},
        {"negative_dim", "dimension 0 is -3"},
        {"external", "external data"},
        {"both", "both raw_data and typed data"},
        {"typed_count", "holds 2 values"},
        {"dup_init", "defined twice"},
        {"undefined", "defined by no node"},
        {"sparse", "sparse initializers"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pbuf g = {0}, t = {0};
        const char *in[] = {"tx", "W", NULL}, *out[] = {"u", NULL};
        if (!strcmp(cases[k].what, "undefined")) in[1] = "nothing";
        pbuf nd = node("MatMul", "mm", in, out);
        f_msg(&g, 1, &nd);
        const char *w = cases[k].what;
        float v[4] = {1, 2, 3, 4};
        if (!strcmp(w, "short_raw")) {
            int64_t d[2] = {2, 2};
            t = tensor_f32("W", d, 2, v, 3);
        } else if (!strcmp(w, "huge_dim")) {
            int64_t d[2] = {(int64_t)1 << 40, 1};
            t = tensor_f32("W", d, 2, v, 1);
        } else if (!strcmp(w, "negative_dim")) {
            int64_t d[2] = {-3, 1};
            t = tensor_f32("W", d, 2, v, 1);
        } else if (!strcmp(w, "external")) {
            int64_t d[2] = {2, 1};
            t = tensor_f32("W", d, 2, v, 2);
            f_varint(&t, 14, 1);
        } else if (!strcmp(w, "both")) {
            int64_t d[2] = {2, 1};
            t = tensor_f32("W", d, 2, v, 2);
            f_float(&t, 4, 1.0f);
        } else if (!strcmp(w, "typed_count")) {
            f_varint(&t, 1, 3), f_varint(&t, 1, 1), f_varint(&t, 2, T_FLOAT), f_str(&t, 8, "W");
            f_float(&t, 4, 1.0f), f_float(&t, 4, 2.0f);
        } else {
            int64_t d[2] = {2, 1};
            t = tensor_f32("W", d, 2, v, 2);
        }
        if (!strcmp(w, "dup_init")) {
            f_msg(&g, 5, &t);
            int64_t d[2] = {2, 1};
            pbuf again = tensor_f32("W", d, 2, v, 2);
            f_msg(&g, 5, &again);
        } else if (!strcmp(w, "sparse")) {
            f_msg(&g, 15, &t);
        } else
            f_msg(&g, 5, &t);
        int64_t din[2] = {-1, 2}, dout[2] = {-1, 1};
        pbuf vi = value_info("tx", T_FLOAT, din, 2);
        f_msg(&g, 11, &vi);
        vi = value_info("u", T_FLOAT, dout, 2);
        f_msg(&g, 12, &vi);
        pbuf m = model(17, &g);
        char name[64];
        snprintf(name, sizeof name, "hostile_%s", w);
        maybe_write_corpus(name, &m);
        expect_refusal(&m, cases[k].want);
        free(m.p);
    }
}

/* A file that does not exist, and a directory. */
static void test_file_errors(void **s) {
    (void)s;
    ddx_graph *g = ddx_graph_create();
    ddx_node outs[4];
    int n;
    assert_int_equal(ddx_graph_from_onnx_file(g, "/nonexistent/model.onnx", NULL, outs, 4, &n, NULL), DDX_ERR_IO);
    assert_non_null(strstr(ddx_graph_error(g), "/nonexistent/model.onnx"));
    ddx_graph_free(g);
    g = ddx_graph_create();
    assert_int_not_equal(ddx_graph_from_onnx_file(g, "/tmp", NULL, outs, 4, &n, NULL), DDX_OK);
    ddx_graph_free(g);
}

/* Every kept fuzz input (corpus and crashers) is imported again: refused
 * with one line, or imported into a graph that compiles and evaluates. */
static void test_fuzz_corpus_replay(void **s) {
    (void)s;
    const char *dirs[2] = {"tests/fuzz/corpus_onnx", "tests/fuzz/crashers_onnx"};
    int files = 0, imported = 0;
    for (int d = 0; d < 2; d++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", src_dir(), dirs[d]);
        DIR *dp = opendir(dir);
        if (!dp) fail_msg("cannot open %s", dir);
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            ddx_graph *g = ddx_graph_create();
            ddx_node outs[64];
            int n = 0;
            ddx_status st = ddx_graph_from_onnx_file(g, path, NULL, outs, 64, &n, NULL);
            files++;
            if (st != DDX_OK) {
                const char *err = ddx_graph_error(g);
                if (!err[0] || strchr(err, '\n')) fail_msg("%s: bad message '%s'", path, err);
            } else {
                imported++;
                ddx_compile_options o;
                ddx_compile_options_default(&o);
                o.device = DDX_DEVICE_CPU;
                o.precision = DDX_F64;
                o.num_threads = 1;
                ddx_program *p = NULL;
                if (ddx_compile(g, outs, n, &o, &p) != DDX_OK) fail_msg("%s: compile: %s", path, ddx_graph_error(g));
                double *pts = calloc(2 * (size_t)ddx_graph_num_inputs(g), sizeof(double)), out[2 * 64];
                assert_non_null(pts);
                assert_int_equal(ddx_program_eval(p, pts, 2, out), DDX_OK);
                free(pts);
                ddx_program_free(p);
            }
            ddx_graph_free(g);
        }
        closedir(dp);
    }
    assert_true(files > 20);
    assert_true(imported > 0);
    printf("# fuzz replay: %d files, %d import, the rest are refused\n", files, imported);
}

static int print_tolerances(void **s) {
    (void)s;
    printf("# achieved max relative error vs framework references (order 0..3):\n");
    for (int p = 0; p < 2; p++)
        printf("#   %s: %.1e %.1e %.1e %.1e\n", p ? "f64" : "f32", g_worst[p][0], g_worst[p][1], g_worst[p][2],
               g_worst[p][3]);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_burgers_torch),
        cmocka_unit_test(test_fixture_ns_torch),
        cmocka_unit_test(test_fixture_heat_jax),
        cmocka_unit_test(test_fixture_wave_keras),
        cmocka_unit_test(test_fixture_ops_onnx),
        cmocka_unit_test(test_names_from_model),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_ns_system_one_program),
        cmocka_unit_test(test_mlp_values),
        cmocka_unit_test(test_more_ops),
        cmocka_unit_test(test_refusals_ops_and_opsets),
        cmocka_unit_test(test_refusal_fixtures),
        cmocka_unit_test(test_refusals_point_axis),
        cmocka_unit_test(test_truncations_and_corruptions),
        cmocka_unit_test(test_hostile_wire),
        cmocka_unit_test(test_hostile_tensors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_fuzz_corpus_replay),
    };
    return cmocka_run_group_tests(tests, NULL, print_tolerances);
}
