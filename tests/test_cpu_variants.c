/* test_cpu_variants.c — every CPU kernel variant this machine can run, not
 * only the one dispatch picks: the dispatch choice for given feature masks
 * (no such CPU needed), and whole programs (fused dense + activation,
 * unfused layers, Leibniz products; f32 and f64; ragged tiles and row
 * blocks) against the generic variant in float64, which test_mlp_fd_generic
 * checks against the finite-difference reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/cpu_kernels.h"
#include "tools/expr_parse.h"
#include "tools/model_spec.h"
#include "test_util.h"

static const ddx_cpu_kernels *by_name(const char *name) {
    const ddx_cpu_kernels *const *v = ddx_cpu_variants();
    for (int i = 0; v[i]; i++)
        if (!strcmp(v[i]->name, name)) return v[i];
    return NULL;
}

static void expect_choice(unsigned mask, const char *req, const char *want) {
    char err[200] = "";
    const ddx_cpu_kernels *k = ddx_cpu_choose(mask, req, err, sizeof err);
    if (!k) fail_msg("mask %#x request %s: error '%s', want %s", mask, req ? req : "(auto)", err, want);
    if (strcmp(k->name, want)) fail_msg("mask %#x request %s: got %s, want %s", mask, req ? req : "(auto)", k->name, want);
}

static void expect_refusal(unsigned mask, const char *req, const char *why) {
    char err[200] = "";
    const ddx_cpu_kernels *k = ddx_cpu_choose(mask, req, err, sizeof err);
    if (k) fail_msg("mask %#x request %s: got %s, want a refusal", mask, req, k->name);
    if (!strstr(err, why)) fail_msg("mask %#x request %s: error '%s' lacks '%s'", mask, req, err, why);
}

static void test_dispatch_choice(void **state) {
    (void)state;
    expect_choice(0, NULL, "generic");
    expect_choice(0, "generic", "generic");
    expect_refusal(0, "bogus", "unknown");
#if defined(__x86_64__)
    expect_choice(DDX_CPUF_AVX2, NULL, "avx2");
    expect_choice(DDX_CPUF_AVX2, "", "avx2");
    expect_choice(DDX_CPUF_AVX2 | DDX_CPUF_AVX512, NULL, "avx512");
    expect_choice(DDX_CPUF_AVX2 | DDX_CPUF_AVX512, "auto", "avx512");
    expect_choice(DDX_CPUF_AVX2 | DDX_CPUF_AVX512, "avx2", "avx2");
    expect_choice(DDX_CPUF_AVX2 | DDX_CPUF_AVX512, "generic", "generic");
    expect_choice(DDX_CPUF_AVX512, NULL, "generic"); /* AVX-512 without AVX2+FMA: not a real CPU, never trusted */
    expect_refusal(DDX_CPUF_AVX2, "avx512", "lacks");
    expect_refusal(0, "avx2", "lacks");
    expect_refusal(DDX_CPUF_AVX2 | DDX_CPUF_AVX512, "neon", "not built");
#elif defined(__aarch64__)
    expect_choice(DDX_CPUF_NEON, NULL, "neon");
    expect_choice(DDX_CPUF_NEON, "generic", "generic");
    expect_refusal(0, "neon", "lacks");
    expect_refusal(DDX_CPUF_NEON, "avx2", "not built");
#endif
    /* the CPU's own choice is one it can run */
    const ddx_cpu_kernels *k = ddx_cpu_choose(ddx_cpu_features(), NULL, NULL, 0);
    assert_non_null(k);
    assert_true((k->needs & ddx_cpu_features()) == k->needs);
}

typedef struct workload {
    const char *spec, *derivs;
    int tile; /* 0 = default; 48 and 96 take the fused path's other strip widths or the unfused one */
} workload;

static void eval_with(const ddx_cpu_kernels *k, const workload *w, ddx_precision prec, const double *pts, int n,
                      double *out, int *K, char *desc, size_t dcap) {
    ddx_cpu_use(k);
    ddx_model m;
    memset(&m, 0, sizeof m);
    char err[256];
    if (ddx_model_load(w->spec, NULL, &m, err, sizeof err) != DDX_OK) fail_msg("%s: %s", w->spec, err);
    ddx_column_list cols;
    if (ddx_parse_list(m.g, &m.outputs, w->derivs, &cols, err, sizeof err) != DDX_OK)
        fail_msg("%s: %s", w->derivs, err);
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    o.device = DDX_DEVICE_CPU;
    o.precision = prec;
    o.tile_points = w->tile;
    ddx_program *p = NULL;
    if (ddx_compile(m.g, cols.cols, cols.n, &o, &p) != DDX_OK) fail_msg("compile: %s", ddx_graph_error(m.g));
    if (desc) ddx_program_describe(p, desc, dcap);
    if (eval_program(p, prec, pts, n, out) != DDX_OK) fail_msg("eval: %s", ddx_program_error(p));
    *K = cols.n;
    ddx_program_free(p);
    ddx_list_free(&cols);
    ddx_model_free(&m);
}

static void test_programs_every_variant(void **state) {
    (void)state;
    static const workload ws[] = {
        {"mlp:2-64-64-64-1:tanh", "u,grad(u),hessian(u)", 0},
        {"mlp:2-64-64-64-1:tanh", "u,grad(u),hessian(u)", 48},
        {"mlp:2-64-64-64-1:tanh", "u,grad(u),hessian(u)", 96},
        {"mlp:3-37-45-1:sigmoid", "u,laplacian(u)", 0},
        {"mlp:2-20-13-1:sin", "u,grad(u),hessian(u)", 64},
        {"expr:x*x*t + tanh(x*t) * exp(t)", "u,grad(u),hessian(u)", 0},
    };
    /* not a multiple of any tile: a ragged last tile (fewer under DDX_TEST_QUICK: qemu) */
    const int n = getenv("DDX_TEST_QUICK") ? 300 : 1000;
    double *pts = malloc(sizeof(double) * n * 3), *ref = malloc(sizeof(double) * n * 16),
           *got = malloc(sizeof(double) * n * 16);
    uint64_t s = 42;
    for (int i = 0; i < n * 3; i++) pts[i] = test_uniform(&s, -1.5, 1.5);
    const ddx_cpu_kernels *generic = by_name("generic");
    assert_non_null(generic);
    const ddx_cpu_kernels *const *v = ddx_cpu_variants();
    int fused_seen = 0;
    for (size_t wi = 0; wi < sizeof ws / sizeof *ws; wi++) {
        int K, K2;
        eval_with(generic, &ws[wi], DDX_F64, pts, n, ref, &K, NULL, 0);
        for (int vi = 0; v[vi]; vi++) {
            if ((v[vi]->needs & ddx_cpu_features()) != v[vi]->needs) continue;
            for (int f32 = 0; f32 < 2; f32++) {
                static char desc[1 << 16];
                desc[0] = 0;
                eval_with(v[vi], &ws[wi], f32 ? DDX_F32 : DDX_F64, pts, n, got, &K2, desc, sizeof desc);
                assert_int_equal(K, K2);
                if (!strstr(desc, v[vi]->name)) fail_msg("describe does not name variant %s: %s", v[vi]->name, desc);
                fused_seen += !strstr(desc, " 0 dense+activation");
                for (int c = 0; c < K; c++) {
                    double colmax = 0, worst = 0;
                    for (int i = 0; i < n; i++) colmax = fmax(colmax, fabs(ref[i * K + c]));
                    for (int i = 0; i < n; i++) {
                        double e = rel_err(got[i * K + c], ref[i * K + c], (f32 ? 1e-2 : 1e-9) * colmax + 1e-30);
                        if (!(e <= worst)) worst = e;
                    }
                    if (!(worst <= (f32 ? 2e-3 : 1e-10)))
                        fail_msg("%s %s %s on %s: column %d rel err %g", ws[wi].spec, ws[wi].derivs,
                                 f32 ? "f32" : "f64", v[vi]->name, c, worst);
                }
            }
        }
    }
    assert_true(fused_seen > 0); /* the fused path ran */
    ddx_cpu_use(ddx_cpu_choose(ddx_cpu_features(), NULL, NULL, 0));
    free(pts), free(ref), free(got);
}

/* Second-order jet of a tanh MLP in closed form (float64, the model's own
 * weights): an independent reference for the Faa di Bruno epilogue (the
 * register-resident form of order <= 2, fused and unfused) on every
 * variant. Per layer: z = W h + b, z_i = W h_i, z_ij = W h_ij (h_i = e_i at
 * the input); h = tanh z, h_i = s z_i, h_ij = s z_ij + t'' z_i z_j. */
#define CF_MAXW 64
static void closed_form_hessian(const ddx_model *m, const double *x, double out[7]) {
    double h[CF_MAXW], hi[2][CF_MAXW], hij[3][CF_MAXW]; /* ij = tt, tx, xx */
    int w = 2;
    h[0] = x[0], h[1] = x[1];
    hi[0][0] = 1, hi[0][1] = 0, hi[1][0] = 0, hi[1][1] = 1;
    for (int q = 0; q < 3; q++) hij[q][0] = hij[q][1] = 0;
    for (int l = 0; l < m->n_layers; l++) {
        const int out = m->widths[l + 1], last = l == m->n_layers - 1;
        double z[CF_MAXW], zi[2][CF_MAXW], zij[3][CF_MAXW];
        for (int o = 0; o < out; o++) {
            const double *W = m->W[l] + (size_t)o * w;
            z[o] = m->b[l][o];
            zi[0][o] = zi[1][o] = zij[0][o] = zij[1][o] = zij[2][o] = 0;
            for (int k = 0; k < w; k++) {
                z[o] += W[k] * h[k];
                for (int a = 0; a < 2; a++) zi[a][o] += W[k] * hi[a][k];
                for (int q = 0; q < 3; q++) zij[q][o] += W[k] * hij[q][k];
            }
        }
        for (int o = 0; o < out; o++) {
            if (last) {
                h[o] = z[o];
                for (int a = 0; a < 2; a++) hi[a][o] = zi[a][o];
                for (int q = 0; q < 3; q++) hij[q][o] = zij[q][o];
                continue;
            }
            const double t = tanh(z[o]), sd = 1 - t * t, d2 = -2 * t * sd;
            h[o] = t;
            for (int a = 0; a < 2; a++) hi[a][o] = sd * zi[a][o];
            hij[0][o] = sd * zij[0][o] + d2 * zi[0][o] * zi[0][o];
            hij[1][o] = sd * zij[1][o] + d2 * zi[0][o] * zi[1][o];
            hij[2][o] = sd * zij[2][o] + d2 * zi[1][o] * zi[1][o];
        }
        w = out;
    }
    /* columns u u_t u_x u_tt u_tx u_xt u_xx */
    out[0] = h[0], out[1] = hi[0][0], out[2] = hi[1][0];
    out[3] = hij[0][0], out[4] = hij[1][0], out[5] = hij[1][0], out[6] = hij[2][0];
}

static void test_epilogue_closed_form(void **state) {
    (void)state;
    /* tile 0 (256: 64-point chunks, fused strips where the variant fuses)
     * and 40 (40-point chunks: the one-vector tail of the register form on
     * avx2/generic, the generic term loop where 40 is no multiple of the
     * vector, avx512 f32) */
    static const int tiles[] = {0, 40};
    const char *spec = "mlp:2-64-48-64-1:tanh:seed=5";
    const int n = 300;
    ddx_model m;
    memset(&m, 0, sizeof m);
    char err[256];
    if (ddx_model_load(spec, NULL, &m, err, sizeof err) != DDX_OK) fail_msg("%s: %s", spec, err);
    double *pts = malloc(sizeof(double) * n * 2), *ref = malloc(sizeof(double) * n * 7),
           *got = malloc(sizeof(double) * n * 7);
    uint64_t s = 7;
    for (int i = 0; i < n * 2; i++) pts[i] = test_uniform(&s, -2, 2);
    for (int i = 0; i < n; i++) closed_form_hessian(&m, pts + 2 * i, ref + 7 * i);
    double colmax[7] = {0};
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 7; c++) colmax[c] = fmax(colmax[c], fabs(ref[7 * i + c]));
    const ddx_cpu_kernels *const *v = ddx_cpu_variants();
    for (int vi = 0; v[vi]; vi++) {
        if ((v[vi]->needs & ddx_cpu_features()) != v[vi]->needs) continue;
        for (int ti = 0; ti < 2; ti++)
            for (int f32 = 0; f32 < 2; f32++) {
                const workload w = {spec, "u,grad(u),hessian(u)", tiles[ti]};
                int K;
                eval_with(v[vi], &w, f32 ? DDX_F32 : DDX_F64, pts, n, got, &K, NULL, 0);
                assert_int_equal(K, 7);
                for (int c = 0; c < 7; c++)
                    for (int i = 0; i < n; i++) {
                        const double e = fabs(got[7 * i + c] - ref[7 * i + c]) / colmax[c];
                        if (!(e <= (f32 ? 1e-4 : 1e-12)))
                            fail_msg("%s on %s %s tile %d: point %d column %d got %.9g want %.9g", spec, v[vi]->name,
                                     f32 ? "f32" : "f64", tiles[ti], i, c, got[7 * i + c], ref[7 * i + c]);
                    }
            }
    }
    ddx_cpu_use(ddx_cpu_choose(ddx_cpu_features(), NULL, NULL, 0));
    ddx_model_free(&m);
    free(pts), free(ref), free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_dispatch_choice),
                                       cmocka_unit_test(test_programs_every_variant),
                                       cmocka_unit_test(test_epilogue_closed_form)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
