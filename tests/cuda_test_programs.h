/* cuda_test_programs.h — the programs the CUDA tests compile, emulate and
 * run (test_cuda_nvrtc.c, test_cuda_emulate.c, test_cuda_gpu.c), built
 * through the public graph API with deterministic weights. */
#ifndef DDX_CUDA_TEST_PROGRAMS_H
#define DDX_CUDA_TEST_PROGRAMS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddx.h"

enum {
    CASE_SEED,      /* log(x+2), derivatives 0..4 */
    CASE_W1,        /* 2-64-64-64-64-1 tanh: u, grad, hessian */
    CASE_W2,        /* the same network: Burgers residual u_t + u u_x - nu u_xx */
    CASE_ACTS,      /* sigmoid / silu / softplus / sin layers, third order */
    CASE_W3,        /* 10-256-256-256-1 tanh: Laplacian, collapsed: 12 channels (wide path) */
    CASE_MIXED,     /* a dense layer reading a subset of its input's channels */
    CASE_RESNET,    /* residual blocks: wide elementwise add */
    CASE_SHARED,    /* a layer output read twice: unfused tanh * sigmoid */
    CASE_W1_SMALL,  /* 2-16-16-1 tanh, u and all partials to order 4, plus collapsed Laplacians and a biharmonic */
    CASE_MISC,      /* vector output, linear layers, exp/log/sqrt/cos/powi/pow/neg/div */
    CASE_DEEP,      /* 3-128-128-1 tanh, all partials to order 3: 20 channels */
    CASE_COUNT,
    /* outside the loops over all cases (too big for them): */
    CASE_W3_PARTIALS, /* W3's Laplacian spelled as sum of D(u,xi,xi): 21 channels */
    /* d = 100, 100-16-16-1 tanh: the first layer over the inputs has a constant jet */
    CASE_D100_LAP,      /* u, u_x100, laplacian(u): 102 channels */
    CASE_D100_HESSDIAG, /* hessdiag(u): 100 columns, 201 channels */
    CASE_D100_STDE      /* laplacian(u, samples=6), Rademacher and Gaussian: 25 channels */
};
#define CC_MAX_INPUTS 100

static const char *const cuda_case_names[CASE_D100_STDE + 1] = {
    "seed", "W1", "W2", "acts", "W3", "mixed", "resnet", "shared", "w1small", "misc", "deep",
    "", "w3partials", "d100lap", "d100hessdiag", "d100stde"};

typedef struct cuda_case {
    ddx_graph *g;
    ddx_node outs[128];
    int nouts;     /* output nodes */
    int ncols;     /* output columns (a vector node gives one per neuron) */
    int d;
    int max_order; /* highest derivative order among the outputs */
    int order[128]; /* derivative order of each output column (tolerances) */
} cuda_case;

static double cc_uniform(uint64_t *s, double lo, double hi) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) / 9007199254740992.0;
}

/* Dense layer with Glorot-uniform weights and small biases. */
static ddx_node cc_dense(ddx_graph *g, ddx_node a, int out, int in, uint64_t *seed) {
    double *W = malloc(sizeof(double) * (size_t)out * (size_t)in), *b = malloc(sizeof(double) * (size_t)out);
    double r = sqrt(6.0 / (in + out));
    for (int i = 0; i < out * in; i++) W[i] = cc_uniform(seed, -r, r);
    for (int i = 0; i < out; i++) b[i] = cc_uniform(seed, -0.2, 0.2);
    ddx_node z = ddx_dense(g, a, out, in, W, b, DDX_F64);
    free(W);
    free(b);
    return z;
}

/* MLP d -> widths[0] -> ... -> 1 with acts[l] after hidden layer l; returns
 * the scalar output. */
static ddx_node cc_mlp(ddx_graph *g, const ddx_node *x, int d, const int *widths, int nh, const ddx_unary_op *acts,
                       uint64_t seed) {
    ddx_node h = ddx_concat(g, x, d);
    int in = d;
    for (int l = 0; l < nh; l++) {
        h = ddx_unary(g, acts[l], cc_dense(g, h, widths[l], in, &seed));
        in = widths[l];
    }
    return ddx_component(g, cc_dense(g, h, 1, in, &seed), 0);
}

static void cc_inputs(ddx_graph *g, int d, ddx_node *x) {
    static const char *tx[] = {"t", "x"};
    for (int i = 0; i < d; i++) {
        char name[16];
        if (d == 2)
            snprintf(name, sizeof name, "%s", tx[i]);
        else
            snprintf(name, sizeof name, "x%d", i + 1);
        x[i] = ddx_input(g, name);
    }
}

static void cc_out(cuda_case *c, ddx_node n, int order) {
    int w = ddx_node_width(c->g, n);
    for (int j = 0; j < (w > 0 ? w : 1); j++) c->order[c->ncols++] = order;
    c->outs[c->nouts++] = n;
    if (order > c->max_order) c->max_order = order;
}

/* u, grad(u), hessian(u) (row-major, both mixed entries) */
static void cc_u_grad_hess(cuda_case *c, ddx_node u, const ddx_node *x) {
    cc_out(c, u, 0);
    for (int i = 0; i < c->d; i++) cc_out(c, ddx_grad(c->g, u, x[i]), 1);
    for (int i = 0; i < c->d; i++)
        for (int j = 0; j < c->d; j++) cc_out(c, ddx_grad(c->g, ddx_grad(c->g, u, x[i]), x[j]), 2);
}

static void cuda_case_build(int which, cuda_case *c) {
    memset(c, 0, sizeof *c);
    ddx_graph *g = c->g = ddx_graph_create();
    ddx_node x[CC_MAX_INPUTS];
    switch (which) {
    case CASE_SEED: {
        c->d = 1;
        cc_inputs(g, 1, x);
        ddx_node u = ddx_log(g, ddx_add(g, x[0], ddx_const(g, 2.0)));
        for (int k = 0; k <= 4; k++) {
            cc_out(c, u, k);
            u = ddx_grad(g, u, x[0]);
        }
        break;
    }
    case CASE_W1:
    case CASE_W2: {
        c->d = 2;
        cc_inputs(g, 2, x);
        const int w[4] = {64, 64, 64, 64};
        const ddx_unary_op a[4] = {DDX_TANH, DDX_TANH, DDX_TANH, DDX_TANH};
        ddx_node u = cc_mlp(g, x, 2, w, 4, a, 1);
        if (which == CASE_W1) {
            cc_u_grad_hess(c, u, x);
        } else {
            ddx_node ut = ddx_grad(g, u, x[0]), ux = ddx_grad(g, u, x[1]);
            ddx_node uxx = ddx_grad(g, ux, x[1]);
            ddx_node r = ddx_sub(g, ddx_add(g, ut, ddx_mul(g, u, ux)), ddx_mul(g, ddx_const(g, 0.0031831), uxx));
            cc_out(c, r, 2);
        }
        break;
    }
    case CASE_ACTS: {
        c->d = 2;
        cc_inputs(g, 2, x);
        const int w[4] = {32, 32, 32, 32};
        /* sigmoid is in the shared case below; gelu takes its place here */
        const ddx_unary_op a[4] = {DDX_GELU, DDX_SILU, DDX_SOFTPLUS, DDX_SIN};
        ddx_node u = cc_mlp(g, x, 2, w, 4, a, 7);
        ddx_node ux = ddx_grad(g, u, x[1]), uxx = ddx_grad(g, ux, x[1]);
        cc_out(c, u, 0);
        cc_out(c, ux, 1);
        cc_out(c, uxx, 2);
        cc_out(c, ddx_grad(g, uxx, x[1]), 3);
        cc_out(c, ddx_grad(g, uxx, x[0]), 3);
        break;
    }
    case CASE_W3: {
        c->d = 10;
        cc_inputs(g, 10, x);
        const int w[3] = {256, 256, 256};
        const ddx_unary_op a[3] = {DDX_TANH, DDX_TANH, DDX_TANH};
        ddx_node u = cc_mlp(g, x, 10, w, 3, a, 3);
        cc_out(c, ddx_laplacian(g, u), 2);
        break;
    }
    case CASE_W3_PARTIALS: {
        c->d = 10;
        cc_inputs(g, 10, x);
        const int w[3] = {256, 256, 256};
        const ddx_unary_op a[3] = {DDX_TANH, DDX_TANH, DDX_TANH};
        ddx_node u = cc_mlp(g, x, 10, w, 3, a, 3), sum = DDX_NO_NODE;
        for (int i = 0; i < 10; i++) {
            ddx_node t = ddx_grad(g, ddx_grad(g, u, x[i]), x[i]);
            sum = i ? ddx_add(g, sum, t) : t;
        }
        cc_out(c, sum, 2);
        break;
    }
    case CASE_D100_LAP:
    case CASE_D100_HESSDIAG:
    case CASE_D100_STDE: {
        c->d = 100;
        cc_inputs(g, 100, x);
        const int w[2] = {16, 16};
        const ddx_unary_op a[2] = {DDX_TANH, DDX_TANH};
        ddx_node u = cc_mlp(g, x, 100, w, 2, a, 13);
        if (which == CASE_D100_LAP) {
            cc_out(c, u, 0);
            cc_out(c, ddx_grad(g, u, x[99]), 1);
            cc_out(c, ddx_laplacian(g, u), 2);
        } else if (which == CASE_D100_HESSDIAG) {
            ddx_node hd[100];
            ddx_hessdiag(g, u, hd);
            for (int i = 0; i < 100; i++) cc_out(c, hd[i], 2);
        } else {
            cc_out(c, ddx_laplacian_stochastic(g, u, 6, 5, 0), 2);
            cc_out(c, ddx_laplacian_stochastic(g, u, 6, 5, 1), 2);
        }
        break;
    }
    case CASE_MIXED: {
        /* the network needs only values; the inputs' concat also feeds a
         * second-order term, so the first layer reads 1 of its 3 channels */
        c->d = 2;
        cc_inputs(g, 2, x);
        const int w[2] = {24, 24};
        const ddx_unary_op a[2] = {DDX_TANH, DDX_TANH};
        ddx_node cat = ddx_concat(g, x, 2);
        uint64_t seed = 11;
        ddx_node h = ddx_tanh(g, cc_dense(g, cat, w[0], 2, &seed));
        h = ddx_tanh(g, cc_dense(g, h, w[1], w[0], &seed));
        ddx_node u = ddx_component(g, cc_dense(g, h, 1, w[1], &seed), 0);
        ddx_node s = ddx_sin(g, ddx_mul(g, ddx_component(g, cat, 0), ddx_component(g, cat, 1)));
        cc_out(c, u, 0);
        cc_out(c, ddx_grad(g, ddx_grad(g, s, x[1]), x[1]), 2);
        cc_out(c, ddx_add(g, u, s), 0);
        (void)a;
        break;
    }
    case CASE_RESNET: {
        c->d = 2;
        cc_inputs(g, 2, x);
        uint64_t seed = 21;
        ddx_node h = ddx_tanh(g, cc_dense(g, ddx_concat(g, x, 2), 48, 2, &seed));
        for (int blk = 0; blk < 2; blk++) h = ddx_add(g, h, ddx_tanh(g, cc_dense(g, h, 48, 48, &seed)));
        ddx_node u = ddx_component(g, cc_dense(g, h, 1, 48, &seed), 0);
        cc_u_grad_hess(c, u, x);
        break;
    }
    case CASE_SHARED: {
        c->d = 2;
        cc_inputs(g, 2, x);
        uint64_t seed = 31;
        ddx_node z = cc_dense(g, ddx_concat(g, x, 2), 40, 2, &seed);
        ddx_node h = ddx_mul(g, ddx_tanh(g, z), ddx_sigmoid(g, z));
        h = ddx_tanh(g, cc_dense(g, h, 40, 40, &seed));
        ddx_node u = ddx_component(g, cc_dense(g, h, 1, 40, &seed), 0);
        cc_u_grad_hess(c, u, x);
        break;
    }
    case CASE_W1_SMALL: {
        c->d = 2;
        cc_inputs(g, 2, x);
        const int w[2] = {16, 16};
        const ddx_unary_op a[2] = {DDX_TANH, DDX_TANH};
        ddx_node u = cc_mlp(g, x, 2, w, 2, a, 5);
        for (int o = 0; o <= 4; o++)
            for (int i = 0; i <= o; i++) {
                int alpha[2] = {i, o - i};
                cc_out(c, o ? ddx_partial(g, u, alpha) : u, o);
            }
        /* collapsed Laplacian channels beside the explicit partials: over x
         * alone (lap(x), next to xx) and over both inputs, of u * u */
        cc_out(c, ddx_laplacian_over(g, u, &x[1], 1), 2);
        cc_out(c, ddx_laplacian(g, ddx_mul(g, u, u)), 2);
        /* the collapsed biharmonic (Delta^2, lap x, lap y channels) of u * u */
        cc_out(c, ddx_laplacian(g, ddx_laplacian(g, ddx_mul(g, u, u))), 4);
        break;
    }
    case CASE_MISC: {
        c->d = 2;
        cc_inputs(g, 2, x);
        uint64_t seed = 41;
        ddx_node h = cc_dense(g, ddx_concat(g, x, 2), 16, 2, &seed); /* linear */
        h = ddx_cos(g, cc_dense(g, h, 16, 16, &seed));                /* linear -> cos */
        ddx_node v = cc_dense(g, h, 3, 16, &seed);                    /* a 3-vector output */
        ddx_node xx = ddx_mul(g, x[0], x[0]), yy = ddx_mul(g, x[1], x[1]);
        ddx_node q = ddx_div(g, ddx_sqrt(g, ddx_add(g, xx, ddx_const(g, 1.0))), ddx_exp(g, ddx_component(g, v, 1)));
        ddx_node r = ddx_sub(g, ddx_add(g, ddx_powi(g, ddx_component(g, v, 2), 3), ddx_pow(g, ddx_add(g, yy, ddx_const(g, 2.0)), 1.5)),
                             ddx_neg(g, ddx_log(g, ddx_add(g, ddx_mul(g, x[0], x[1]), ddx_const(g, 3.0)))));
        cc_out(c, v, 0);
        cc_out(c, ddx_grad(g, q, x[0]), 1);
        cc_out(c, ddx_grad(g, ddx_grad(g, r, x[1]), x[0]), 2);
        cc_out(c, ddx_laplacian(g, q), 2);
        cc_out(c, ddx_mul(g, v, ddx_component(g, v, 0)), 0); /* vector times broadcast scalar */
        break;
    }
    case CASE_DEEP: {
        /* f64 fused: 2 neurons x 1 point x 20 channels per thread, 512 tasks
         * > 256 threads: the layer runs in passes (not in place) */
        c->d = 3;
        cc_inputs(g, 3, x);
        const int w[2] = {128, 128};
        const ddx_unary_op a[2] = {DDX_TANH, DDX_TANH};
        ddx_node u = cc_mlp(g, x, 3, w, 2, a, 9);
        for (int o = 0; o <= 3; o++)
            for (int i = 0; i <= o; i++)
                for (int j = 0; j <= o - i; j++) {
                    int alpha[3] = {i, j, o - i - j};
                    cc_out(c, o ? ddx_partial(g, u, alpha) : u, o);
                }
        break;
    }
    }
}

/* Deterministic points in [-1, 1]^d (the seed: x in [-1, 2]). */
static void cuda_case_points(const cuda_case *c, int which, int64_t n, double *pts, uint64_t seed) {
    for (int64_t i = 0; i < n * c->d; i++)
        pts[i] = which == CASE_SEED ? cc_uniform(&seed, -1.0, 2.0) : cc_uniform(&seed, -1.0, 1.0);
}

#endif
