/* test_util.c — helpers shared by the cmocka tests. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

double rel_err(double got, double want, double floor) {
    if (isnan(want)) return isnan(got) ? 0 : INFINITY;
    double den = fabs(want) > floor ? fabs(want) : floor;
    return fabs(got - want) / den;
}

void assert_graph_ok(const ddx_graph *g) {
    if (ddx_graph_status(g) != DDX_OK) fail_msg("graph error: %s", ddx_graph_error(g));
}

ddx_status eval_program(ddx_program *p, ddx_precision prec, const double *pts, int64_t n, double *out) {
    if (prec == DDX_F64) return ddx_program_eval(p, pts, n, out);
    int d = ddx_program_num_inputs(p), K = ddx_program_num_outputs(p);
    float *pf = malloc(sizeof(float) * (size_t)(n * d)), *of = malloc(sizeof(float) * (size_t)(n * K));
    assert_non_null(pf);
    assert_non_null(of);
    for (int64_t i = 0; i < n * d; i++) pf[i] = (float)pts[i];
    ddx_status st = ddx_program_eval(p, pf, n, of);
    for (int64_t i = 0; i < n * K; i++) out[i] = of[i];
    free(pf);
    free(of);
    return st;
}

ddx_program *compile_cpu(ddx_graph *g, const ddx_node *outs, int nouts, ddx_precision prec) {
    assert_graph_ok(g);
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    o.precision = prec;
    ddx_program *p = NULL;
    if (ddx_compile(g, outs, nouts, &o, &p) != DDX_OK) fail_msg("compile: %s", ddx_graph_error(g));
    return p;
}

void eval_graph(ddx_graph *g, const ddx_node *outs, int nouts, ddx_precision prec, const double *pts,
                int64_t n, double *out) {
    ddx_program *p = compile_cpu(g, outs, nouts, prec);
    ddx_status st = eval_program(p, prec, pts, n, out);
    if (st != DDX_OK) fail_msg("eval: %s", ddx_program_error(p));
    ddx_program_free(p);
}

double test_uniform(uint64_t *s, double lo, double hi) {
    /* splitmix64: reproducible across platforms */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) / 9007199254740992.0;
}

ddx_node *test_numbered_inputs(ddx_graph *g, int d) {
    ddx_node *xs = malloc(sizeof(ddx_node) * (size_t)d);
    assert_non_null(xs);
    for (int i = 0; i < d; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "x%d", i + 1);
        xs[i] = ddx_input(g, nm);
    }
    return xs;
}

ddx_node test_small_mlp(ddx_graph *g, int d, int h, uint64_t seed) {
    ddx_node *xs = test_numbered_inputs(g, d);
    ddx_node a = ddx_concat(g, xs, d);
    free(xs);
    int in = d;
    for (int l = 0; l < 3; l++) {
        int out = l == 2 ? 1 : h;
        double *W = malloc(sizeof(double) * (size_t)in * (size_t)out), b[64];
        assert_non_null(W);
        double lim = sqrt(6.0 / (in + out));
        for (size_t k = 0; k < (size_t)in * (size_t)out; k++) W[k] = test_uniform(&seed, -lim, lim);
        for (int k = 0; k < out; k++) b[k] = test_uniform(&seed, -0.1, 0.1);
        a = ddx_dense(g, a, out, in, W, b, DDX_F64);
        free(W);
        if (l < 2) a = ddx_tanh(g, a);
        in = out;
    }
    ddx_node u = ddx_component(g, a, 0);
    assert_graph_ok(g);
    return u;
}
