/* test_mlp_fd.c — random MLPs against the independent float64 finite-
 * difference reference (host/fd_reference.c: a plain node-by-node
 * interpreter plus Richardson-extrapolated central differences; it shares
 * no code with the jet program).
 *
 * For each of ~42 deterministic random networks (1-5 hidden layers, widths
 * 1..96, every activation, d = 1..6 inputs, 1-3 outputs):
 *   - every partial of order <= 3 of every output, ddx f64 vs fd_partial
 *     (3 Richardson levels) at 3 points;
 *   - 5 sampled partials of order 4 per network, same comparison;
 *   - the same columns in f32 vs ddx f64 at 32 points.
 * The worst errors per order are printed at the end (the numbers the
 * closing note quotes). DDX_TEST_QUICK=1 runs a reduced set of networks
 * (for the sanitizer build).
 *
 * Error measure, f64 vs FD: |ddx - fd| / max(|fd|, 1e-3 * colmax, 1e-8),
 * colmax = max |fd| of that column (output, alpha) over the FD points.
 * f32 vs f64: |f32 - f64| / max(colmax64, 1e-8), colmax64 over all points.
 *
 * Tolerances: f64 vs FD order 0..4: 1e-13, 1e-9, 1e-7, 1e-5, 1e-3;
 * f32 vs f64: 1e-5, 1e-4, 1e-3, 1e-2, 5e-2. The worst errors measured on
 * this set (see the printed summary) are well inside these. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd_reference.h"
#include "test_util.h"

#define N_NETS 42
#define N_FD_PTS 3
#define N_PTS 32
#define N_ORDER4 5
#define MAX_ORDER_T 4
#define MAX_COLS 512

static const double tol64[MAX_ORDER_T + 1] = {1e-13, 1e-9, 1e-7, 1e-5, 1e-3};
static const double tol32[MAX_ORDER_T + 1] = {1e-5, 1e-4, 1e-3, 1e-2, 5e-2};

/* worst errors per order over the whole run, with where they were seen */
static double worst64[MAX_ORDER_T + 1], worst32[MAX_ORDER_T + 1];
static char where64[MAX_ORDER_T + 1][96], where32[MAX_ORDER_T + 1][96];
static long count64[MAX_ORDER_T + 1], count32[MAX_ORDER_T + 1];

typedef enum { A_TANH, A_SIGMOID, A_SOFTPLUS, A_SILU, A_SIN, A_EXP, A_COS, N_ACTS } act_kind;
static const char *act_names[N_ACTS] = {"tanh", "sigmoid", "softplus", "silu", "sin", "exp", "cos"};

static ddx_node apply_act(ddx_graph *g, act_kind a, ddx_node z) {
    switch (a) {
    case A_TANH: return ddx_tanh(g, z);
    case A_SIGMOID: return ddx_sigmoid(g, z);
    case A_SOFTPLUS: return ddx_softplus(g, z);
    case A_SILU: return ddx_silu(g, z);
    case A_SIN: return ddx_sin(g, z);
    case A_EXP: return ddx_unary(g, DDX_EXP, z);
    case A_COS: return ddx_unary(g, DDX_COS, z);
    default: return DDX_NO_NODE;
    }
}

typedef struct net_spec {
    int d, depth, nout;
    int width[5];
    act_kind act[5];
} net_spec;

/* Deterministic network shapes: d and depth cycle so that every (d, depth)
 * pair class appears; activations alternate between "all layers the same"
 * and "rotating per layer"; widths are random in 1..96 with width 1 and 96
 * forced in some networks. */
static void make_spec(int i, uint64_t *rng, net_spec *s) {
    s->d = 1 + i % 6;
    s->depth = 1 + i % 5;
    s->nout = 1 + (int)test_uniform(rng, 0, 3);
    for (int l = 0; l < s->depth; l++) {
        s->width[l] = 1 + (int)test_uniform(rng, 0, 96);
        int pure = (i / 7) % 2 == 0;
        s->act[l] = (act_kind)(pure ? i % N_ACTS : (i + l) % N_ACTS);
        /* a pure exp stack grows like exp(exp(...)): keep it to 2 layers of exp */
        if (pure && s->act[l] == A_EXP && l >= 2) s->act[l] = (act_kind)((l + i) % 5);
    }
    if (i == 0 || i % 11 == 3)
        for (int l = 0; l < s->depth; l++) s->width[l] = 1; /* width-1 chain */
    if (i % 6 == 2) s->width[s->depth / 2] = 1;            /* bottleneck */
    if (i == 1 || i % 9 == 4) s->width[0] = 96;
    if (i % 13 == 7) s->width[s->depth - 1] = 96;
}

/* Builds the network; returns its outputs (scalars) in outs. */
static void build_net(ddx_graph *g, const net_spec *s, uint64_t *rng, ddx_node *outs) {
    ddx_node xs[6];
    for (int k = 0; k < s->d; k++) {
        char name[8];
        snprintf(name, sizeof name, "x%d", k + 1);
        xs[k] = ddx_input(g, name);
    }
    ddx_node h = ddx_concat(g, xs, s->d);
    int in = s->d;
    for (int l = 0; l <= s->depth; l++) {
        int out = l < s->depth ? s->width[l] : s->nout;
        double *W = malloc(sizeof(double) * (size_t)(out * in)), *b = malloc(sizeof(double) * (size_t)out);
        assert_non_null(W);
        assert_non_null(b);
        double lim = sqrt(6.0 / (in + out));
        for (int k = 0; k < out * in; k++) W[k] = test_uniform(rng, -lim, lim);
        for (int k = 0; k < out; k++) b[k] = test_uniform(rng, -0.5, 0.5);
        h = ddx_dense(g, h, out, in, W, b, DDX_F64);
        free(W);
        free(b);
        if (l < s->depth) h = apply_act(g, s->act[l], h);
        in = out;
    }
    for (int k = 0; k < s->nout; k++) outs[k] = ddx_component(g, h, k);
    assert_graph_ok(g);
}

/* All alpha in N^d with |alpha| <= maxo, in lexicographic order. */
static int enum_alphas(int d, int maxo, int (*alphas)[6], int cap) {
    int n = 0, a[6] = {0};
    for (;;) {
        int ord = 0;
        for (int i = 0; i < d; i++) ord += a[i];
        if (ord <= maxo) {
            assert_true(n < cap);
            memcpy(alphas[n++], a, sizeof a);
        }
        int i = 0;
        while (i < d && ++a[i] > maxo) a[i++] = 0;
        if (i == d) break;
    }
    return n;
}

static int order_of(const int *a, int d) {
    int o = 0;
    for (int i = 0; i < d; i++) o += a[i];
    return o;
}

static void fmt_alpha(const int *a, int d, char *buf, size_t cap) {
    size_t l = 0;
    buf[0] = 0;
    for (int i = 0; i < d && l < cap; i++) l += (size_t)snprintf(buf + l, cap - l, "%s%d", i ? "," : "(", a[i]);
    if (l < cap) snprintf(buf + l, cap - l, ")");
}

typedef struct col_info {
    int out, order;
    int alpha[6];
} col_info;

static int n_failures;
static char first_failure[512];

static void record_failure(const char *fmt, ...) {
    if (n_failures++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(first_failure, sizeof first_failure, fmt, ap);
        va_end(ap);
    }
}

static void check_net(int i, uint64_t *rng) {
    net_spec s;
    make_spec(i, rng, &s);
    ddx_graph *g = ddx_graph_create();
    assert_non_null(g);
    ddx_node y[3];
    build_net(g, &s, rng, y);
    const int d = s.d;

    static int alphas[MAX_COLS][6];
    int na = enum_alphas(d, 3, alphas, MAX_COLS);
    /* sampled order-4 multi-indices */
    for (int k = 0; k < N_ORDER4; k++) {
        int a[6] = {0};
        for (int q = 0; q < 4; q++) a[(int)test_uniform(rng, 0, d)]++;
        memcpy(alphas[na++], a, sizeof a);
    }

    static ddx_node cols[MAX_COLS];
    static col_info info[MAX_COLS];
    int K = 0;
    for (int o = 0; o < s.nout; o++)
        for (int k = 0; k < na; k++) {
            assert_true(K < MAX_COLS);
            cols[K] = ddx_partial(g, y[o], alphas[k]);
            info[K].out = o;
            info[K].order = order_of(alphas[k], d);
            memcpy(info[K].alpha, alphas[k], sizeof info[K].alpha);
            K++;
        }
    assert_graph_ok(g);

    double *pts = malloc(sizeof(double) * N_PTS * (size_t)d);
    double *v64 = malloc(sizeof(double) * N_PTS * (size_t)K), *v32 = malloc(sizeof(double) * N_PTS * (size_t)K);
    double *fd = malloc(sizeof(double) * N_FD_PTS * (size_t)K);
    assert_non_null(pts);
    assert_non_null(v64);
    assert_non_null(v32);
    assert_non_null(fd);
    for (int k = 0; k < N_PTS * d; k++) pts[k] = test_uniform(rng, -1, 1);
    eval_graph(g, cols, K, DDX_F64, pts, N_PTS, v64);
    eval_graph(g, cols, K, DDX_F32, pts, N_PTS, v32);

    /* reference: partial of the output node (not of the grad node: the FD
     * interpreter differentiates the scalar output itself) */
    for (int p = 0; p < N_FD_PTS; p++)
        for (int c = 0; c < K; c++) fd[p * K + c] = fd_partial(g, y[info[c].out], info[c].alpha, pts + p * d, FD_LEVELS);

    char desc[96];
    snprintf(desc, sizeof desc, "net %d (d=%d depth=%d w0=%d act0=%s nout=%d)", i, d, s.depth, s.width[0],
             act_names[s.act[0]], s.nout);
    for (int c = 0; c < K; c++) {
        const int ord = info[c].order;
        char am[48];
        double colfd = 0, col64 = 0;
        for (int p = 0; p < N_FD_PTS; p++) colfd = fmax(colfd, fabs(fd[p * K + c]));
        for (int p = 0; p < N_PTS; p++) col64 = fmax(col64, fabs(v64[p * K + c]));
        for (int p = 0; p < N_FD_PTS; p++) {
            double ref = fd[p * K + c], got = v64[p * K + c];
            double den = fmax(fmax(fabs(ref), 1e-3 * colfd), 1e-8);
            double e = fabs(got - ref) / den;
            if (!isfinite(got) || !isfinite(ref)) e = INFINITY;
            count64[ord]++;
            if (!(e <= worst64[ord])) {
                worst64[ord] = e;
                fmt_alpha(info[c].alpha, d, am, sizeof am);
                snprintf(where64[ord], sizeof where64[ord], "net %d out %d alpha %s", i, info[c].out, am);
            }
            if (!(e <= tol64[ord])) {
                fmt_alpha(info[c].alpha, d, am, sizeof am);
                record_failure("%s: f64 vs FD, output %d alpha %s point %d: ddx %.17g fd %.17g rel %.3g > %.3g",
                               desc, info[c].out, am, p, got, ref, e, tol64[ord]);
            }
        }
        for (int p = 0; p < N_PTS; p++) {
            double ref = v64[p * K + c], got = v32[p * K + c];
            double e = fabs(got - ref) / fmax(col64, 1e-8);
            if (!isfinite(got) || !isfinite(ref)) e = INFINITY;
            count32[ord]++;
            if (!(e <= worst32[ord])) {
                worst32[ord] = e;
                fmt_alpha(info[c].alpha, d, am, sizeof am);
                snprintf(where32[ord], sizeof where32[ord], "net %d out %d alpha %s", i, info[c].out, am);
            }
            if (!(e <= tol32[ord])) {
                fmt_alpha(info[c].alpha, d, am, sizeof am);
                record_failure("%s: f32 vs f64, output %d alpha %s point %d: f32 %.9g f64 %.17g rel %.3g > %.3g",
                               desc, info[c].out, am, p, got, ref, e, tol32[ord]);
            }
        }
    }
    if (getenv("DDX_TEST_VERBOSE")) printf("  %s: %d columns\n", desc, K);
    free(pts);
    free(v64);
    free(v32);
    free(fd);
    ddx_graph_free(g);
}

static int quick_mode(void) {
    const char *q = getenv("DDX_TEST_QUICK");
    return q && *q && strcmp(q, "0") != 0;
}

static void test_random_mlps(void **state) {
    (void)state;
    uint64_t rng = 0x5EEDF00DCAFEull;
    const int quick = quick_mode();
    int ran = 0;
    for (int i = 0; i < N_NETS; i++) {
        uint64_t net_rng = rng + 0x1000193ull * (uint64_t)(i + 1); /* each net independent of the others */
        /* quick mode: a spread subset still covering every activation,
         * every d, width 1 and width 96 */
        if (quick && !(i < 8 || i % 5 == 0)) continue;
        check_net(i, &net_rng);
        ran++;
    }
    printf("test_mlp_fd: %d networks%s\n", ran, quick ? " (DDX_TEST_QUICK)" : "");
    for (int o = 0; o <= MAX_ORDER_T; o++)
        printf("  order %d: worst rel err f64 vs FD %.3e (tol %.0e, %ld values; %s) | f32 vs f64 %.3e (tol %.0e, "
               "%ld values; %s)\n",
               o, worst64[o], tol64[o], count64[o], where64[o], worst32[o], tol32[o], count32[o], where32[o]);
    fflush(stdout);
    if (n_failures) fail_msg("%d comparisons out of tolerance; first: %s", n_failures, first_failure);
}

/* The coverage the brief asks for is really there: every activation,
 * every d in 1..6, widths 1 and 96, depths 1..5, 1-3 outputs. */
static void test_coverage(void **state) {
    (void)state;
    uint64_t rng = 0x5EEDF00DCAFEull;
    int seen_act[N_ACTS] = {0}, seen_d[7] = {0}, seen_depth[6] = {0}, seen_out[4] = {0}, w1 = 0, w96 = 0;
    for (int quick = 0; quick < 2; quick++) {
        memset(seen_act, 0, sizeof seen_act);
        memset(seen_d, 0, sizeof seen_d);
        memset(seen_depth, 0, sizeof seen_depth);
        memset(seen_out, 0, sizeof seen_out);
        w1 = w96 = 0;
        for (int i = 0; i < N_NETS; i++) {
            if (quick && !(i < 8 || i % 5 == 0)) continue;
            uint64_t net_rng = rng + 0x1000193ull * (uint64_t)(i + 1);
            net_spec s;
            make_spec(i, &net_rng, &s);
            seen_d[s.d] = seen_depth[s.depth] = seen_out[s.nout] = 1;
            for (int l = 0; l < s.depth; l++) {
                seen_act[s.act[l]] = 1;
                w1 |= s.width[l] == 1;
                w96 |= s.width[l] == 96;
            }
        }
        for (int a = 0; a < N_ACTS; a++)
            if (!seen_act[a]) fail_msg("activation %s not covered (quick=%d)", act_names[a], quick);
        for (int k = 1; k <= 6; k++) assert_true(seen_d[k]);
        for (int k = 1; k <= 5; k++) assert_true(seen_depth[k]);
        for (int k = 1; k <= 3; k++) assert_true(seen_out[k]);
        assert_true(w1);
        assert_true(w96);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_random_mlps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
