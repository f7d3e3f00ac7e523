/* cuda_emit.c — plans and CUDA C source for the fused and the wide path.
 *
 * The generated source is only the specialised part: shapes as template
 * constants, the Faa di Bruno / Leibniz terms of each instruction as
 * straight-line code with constant coefficients, and the layout offsets.
 * Everything reusable is real CUDA in kernels/ (ddx_fused.cuh,
 * ddx_wide.cuh, ddx_cuda_common.cuh, and the jet rules shared with the
 * CPU in ddx_jet_rules.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/compiler/liveness.h"
#include "host/runtime/strbuf.h"
#include "kernels/ddx_jet_rules.h"
#include "host/cuda/cuda_emit.h"

/* ---- string builder --------------------------------------------------------- */
/* the library's one string builder (host/runtime/strbuf.h), short names */
typedef ddx_sb sb;
#define sbf ddx_sbf
#define sb_finish ddx_sb_finish

/* A double as a C++ literal that round-trips exactly, cast to real. */
static void lit(char *buf, size_t cap, double v) {
    if (isnan(v)) {
        snprintf(buf, cap, "(real)__builtin_nan(\"\")");
    } else if (isinf(v)) {
        snprintf(buf, cap, "(real)(%s__builtin_huge_val())", v < 0 ? "-" : "");
    } else {
        char t[64];
        snprintf(t, sizeof t, "%.17g", v);
        if (!strpbrk(t, ".eE")) strcat(t, ".0");
        snprintf(buf, cap, "(real)%s", t);
    }
}

static size_t real_size(ddx_precision prec) { return prec == DDX_F64 ? sizeof(double) : sizeof(float); }
static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* ---- parameters --------------------------------------------------------------- */

int cuda_fused_outp(int out) { return (int)round_up((size_t)out, 8); }

ddx_status cuda_params_pack(const jet_program *p, ddx_precision prec, int fused, cuda_params *out, char *err,
                            size_t cap) {
    memset(out, 0, sizeof *out);
    out->prec = prec;
    out->fused = fused;
    out->n_dense = p->n_dense;
    int nd = p->n_dense ? p->n_dense : 1;
    out->w_off = calloc((size_t)nd, sizeof(size_t));
    out->b_off = calloc((size_t)nd, sizeof(size_t));
    out->ldw = calloc((size_t)nd, sizeof(int));
    out->n_instr = p->n_instr;
    out->cj_off = calloc((size_t)p->n_instr + 1, sizeof(size_t));
    if (!out->w_off || !out->b_off || !out->ldw || !out->cj_off) goto oom;
    size_t n = 0;
    for (int d = 0; d < p->n_dense; d++) {
        const jet_dense *w = &p->dense[d];
        int ld = fused ? cuda_fused_outp(w->out) : w->in;
        out->ldw[d] = ld;
        out->w_off[d] = n; /* every block starts 32-byte aligned */
        n += round_up((size_t)(fused ? w->in : w->out) * (size_t)ld, 8);
        out->b_off[d] = n;
        n += round_up((size_t)w->out, 8);
    }
    /* a dense layer over the inputs: its channels other than the value are
     * constants (W times the inputs' constant jet, lower.c), read by the kernel */
    for (int i = 0; i < p->n_instr; i++) {
        const jet_instr *in = &p->instr[i];
        out->cj_off[i] = (size_t)-1;
        if (in->op != JI_DENSE || !in->cjet) continue;
        out->cj_off[i] = n;
        n += round_up((size_t)p->dense[in->dense].out * (size_t)p->values[in->dst].nch, 8);
    }
    out->n_reals = n;
    out->data = calloc(n ? n : 1, real_size(prec));
    if (!out->data) goto oom;
    for (int d = 0; d < p->n_dense; d++) {
        const jet_dense *w = &p->dense[d];
        for (int o = 0; o < w->out; o++) {
            for (int i = 0; i < w->in; i++) {
                size_t at = out->w_off[d] + (fused ? (size_t)i * out->ldw[d] + o : (size_t)o * w->in + i);
                double v = w->W[(size_t)o * w->in + i];
                if (prec == DDX_F64)
                    ((double *)out->data)[at] = v;
                else
                    ((float *)out->data)[at] = w->Wf[(size_t)o * w->in + i];
            }
            if (prec == DDX_F64)
                ((double *)out->data)[out->b_off[d] + o] = w->b[o];
            else
                ((float *)out->data)[out->b_off[d] + o] = w->bf[o];
        }
    }
    for (int i = 0; i < p->n_instr; i++) {
        if (out->cj_off[i] == (size_t)-1) continue;
        const jet_instr *in = &p->instr[i];
        size_t k = (size_t)p->dense[in->dense].out * (size_t)p->values[in->dst].nch;
        if (prec == DDX_F64)
            memcpy((double *)out->data + out->cj_off[i], in->cjet, k * sizeof(double));
        else
            memcpy((float *)out->data + out->cj_off[i], in->cjetf, k * sizeof(float));
    }
    return DDX_OK;
oom:
    cuda_params_free(out);
    snprintf(err, cap, "out of memory packing the weights");
    return DDX_ERR_OUT_OF_MEMORY;
}

void cuda_params_free(cuda_params *prm) {
    if (!prm) return;
    free(prm->w_off);
    free(prm->b_off);
    free(prm->ldw);
    free(prm->cj_off);
    free(prm->data);
    memset(prm, 0, sizeof *prm);
}

/* ---- shared analysis ------------------------------------------------------------- */

int cuda_max_width(const jet_program *p) {
    int w = 0;
    for (int d = 0; d < p->n_dense; d++) {
        if (p->dense[d].out > w) w = p->dense[d].out;
        if (p->dense[d].in > w) w = p->dense[d].in;
    }
    return w;
}

size_t cuda_arch_smem_limit(const char *arch) {
    int cc = 0;
    const char *u = strchr(arch ? arch : "", '_');
    if (u) cc = atoi(u + 1);
    if (cc >= 100) return 232448;           /* Blackwell datacenter: 227 KB */
    if (cc >= 90) return 232448;            /* Hopper: 227 KB */
    if (cc == 80 || cc == 87) return 166912; /* A100 / Orin: 163 KB */
    if (cc >= 86) return 101376;            /* GA10x, Ada: 99 KB */
    if (cc >= 75) return 65536;             /* Turing: 64 KB */
    return 49152;
}

/* How many instructions (and output columns) read each value. */
static int *count_readers(const jet_program *p) {
    int *r = calloc((size_t)p->n_values + 1, sizeof(int));
    if (!r) return NULL;
    for (int i = 0; i < p->n_instr; i++) {
        if (p->instr[i].a >= 0) r[p->instr[i].a]++;
        if (p->instr[i].b >= 0) r[p->instr[i].b]++;
    }
    for (int o = 0; o < p->n_outputs; o++) r[p->outputs[o].value]++;
    return r;
}

/* Every channel map must resolve; the CPU would read a wrong row silently. */
static int check_maps(const jet_program *p, char *why, size_t cap) {
    for (int i = 0; i < p->n_instr; i++) {
        const jet_instr *in = &p->instr[i];
        int nch = in->cjet ? 1 : p->values[in->dst].nch; /* cjet: only the value is read */
        for (int c = 0; c < nch; c++)
            if ((in->amap && in->amap[c] < 0) || (in->bmap && in->bmap[c] < 0)) {
                snprintf(why, cap, "instruction %d: channel %d has no source channel", i, c);
                return -1;
            }
    }
    return 0;
}

/* ---- fused plan -------------------------------------------------------------------- */

void cuda_fused_plan_free(cuda_fused_plan *plan) {
    if (!plan) return;
    free(plan->fused);
    free(plan->tile);
    free(plan->off);
    memset(plan, 0, sizeof *plan);
}

/* Shared-memory layout for one tile size: values get blocks of rows,
 * reused after their last reader (liveness.h, best fit); a dense layer
 * whose input dies there may write its output over it (in place). */
static int fused_layout(const jet_program *p, cuda_fused_plan *pl) {
    const int n = p->n_instr, nv = p->n_values;
    int *step_of = malloc(sizeof(int) * (size_t)(n + 1));
    int *last = malloc(sizeof(int) * (size_t)(nv + 1));
    live_alloc la = {0};
    int rc = -1;
    if (!step_of || !last || live_init(&la, nv)) goto done;
    /* steps: a fused dense + unary pair is one step */
    int ns = 0;
    for (int i = 0; i < n; i++) {
        step_of[i] = ns;
        if (pl->fused[i]) step_of[++i] = ns;
        ns++;
    }
    for (int v = 0; v < nv; v++) {
        last[v] = -1;
        pl->off[v] = -1;
    }
    for (int i = 0; i < n; i++) {
        const jet_instr *in = &p->instr[i];
        if (i > 0 && pl->fused[i - 1]) continue; /* reads the fused pre-activation only */
        if (in->a >= 0) last[in->a] = step_of[i];
        if (in->b >= 0) last[in->b] = step_of[i];
    }
    for (int o = 0; o < p->n_outputs; o++) last[p->outputs[o].value] = ns; /* live to the end */
    pl->n_inplace = 0;
    for (int i = 0; i < n; i++) {
        const jet_instr *in = &p->instr[i];
        const int s = step_of[i];
        int v = pl->fused[i] ? p->instr[i + 1].dst : in->dst;
        if (pl->off[v] < 0) {
            int64_t need = (int64_t)p->values[v].width * p->values[v].nch;
            int over = in->op == JI_DENSE && pl->tile[i].tasks <= pl->NT && last[in->a] == s && in->a != v ? in->a : -1;
            int took = 0;
            pl->off[v] = live_place(&la, v, need, over, &took);
            if (took) {
                pl->tile[i].inplace = 1;
                pl->n_inplace++;
            }
        }
        live_release(&la, last, s, v); /* what this step read for the last time */
        if (pl->fused[i]) i++;
    }
    pl->ws_rows = la.total;
    rc = 0;
done:
    free(step_of);
    free(last);
    live_free(&la);
    return rc;
}

static void choose_tile(const jet_program *p, const jet_instr *in, ddx_precision prec, int P, cuda_dense_tile *t) {
    const jet_dense *w = &p->dense[in->dense];
    const int nch = p->values[in->dst].nch;
    /* accumulators per thread: 96 floats or 48 doubles (96 registers)
     * leave room for operands under 255 registers without spilling */
    const int acc = prec == DDX_F64 ? 48 : 96;
    int tm = 8;
    while (tm > 1 && tm / 2 >= w->out) tm /= 2;
    while (tm > 1 && tm * nch > acc) tm /= 2;
    int tn = (P % 2 == 0 && P / 2 >= 8 && tm * 2 * nch <= acc) ? 2 : 1;
    t->tm = tm;
    t->tn = tn;
    t->outp = cuda_fused_outp(w->out);
    t->tasks = ((w->out + tm - 1) / tm) * (P / tn);
    /* stage at most 32 KB of W^T at a time */
    int kc = (int)(32768 / ((size_t)t->outp * real_size(prec)));
    if (kc < 1) kc = 1;
    if (kc > w->in) kc = w->in;
    t->kc = kc;
    t->inplace = 0;
}

static ddx_status fused_plan_for_P(const jet_program *p, ddx_precision prec, int P, int max_threads,
                                   cuda_fused_plan *pl) {
    pl->prec = prec;
    pl->P = P;
    pl->n_instr = p->n_instr;
    pl->n_values = p->n_values;
    pl->fused = calloc((size_t)p->n_instr + 1, sizeof(int));
    pl->tile = calloc((size_t)p->n_instr + 1, sizeof(cuda_dense_tile));
    pl->off = calloc((size_t)p->n_values + 1, sizeof(int64_t));
    int *readers = count_readers(p);
    if (!pl->fused || !pl->tile || !pl->off || !readers) {
        free(readers);
        return DDX_ERR_OUT_OF_MEMORY;
    }
    int max_tasks = 0, wsh = 0, bsh = 0;
    pl->n_layers = pl->n_fused = 0;
    pl->max_width = cuda_max_width(p);
    for (int i = 0; i < p->n_instr; i++) {
        const jet_instr *in = &p->instr[i];
        if (in->op != JI_DENSE) continue;
        pl->n_layers++;
        choose_tile(p, in, prec, P, &pl->tile[i]);
        if (pl->tile[i].tasks > max_tasks) max_tasks = pl->tile[i].tasks;
        int ws = pl->tile[i].kc * pl->tile[i].outp;
        if (ws > wsh) wsh = ws;
        if (pl->tile[i].outp > bsh) bsh = pl->tile[i].outp;
        /* the next instruction, the only reader of the layer's output, an
         * elementwise rule: it becomes the GEMM epilogue */
        if (i + 1 < p->n_instr && p->instr[i + 1].op == JI_UNARY && p->instr[i + 1].a == in->dst &&
            readers[in->dst] == 1) {
            pl->fused[i] = 1;
            pl->n_fused++;
        }
    }
    free(readers);
    int nt = max_tasks > P ? max_tasks : P;
    nt = (int)round_up((size_t)nt, 32);
    /* wider layers take several passes; max_threads lowers the cap
     * (tuning experiments, and tests of the multi-pass path) */
    int cap = 256;
    if (max_threads >= 32 && max_threads < cap) cap = max_threads / 32 * 32;
    if (cap < P) cap = (int)round_up((size_t)P, 32);
    if (nt > cap) nt = cap;
    pl->NT = nt;
    pl->wsh_reals = wsh;
    pl->bsh_reals = bsh;
    if (fused_layout(p, pl)) return DDX_ERR_OUT_OF_MEMORY;
    size_t sz = real_size(prec);
    pl->wsh_byte_off = round_up((size_t)pl->ws_rows * (size_t)P * sz, 16);
    pl->bsh_byte_off = pl->wsh_byte_off + round_up((size_t)wsh * sz, 16);
    pl->smem_bytes = pl->bsh_byte_off + round_up((size_t)bsh * sz, 16);
    return DDX_OK;
}

ddx_status cuda_fused_plan_build(const jet_program *p, ddx_precision prec, size_t smem_limit, int max_threads,
                                 int tile_points, cuda_fused_plan *plan, char *why, size_t cap) {
    memset(plan, 0, sizeof *plan);
    if (check_maps(p, why, cap)) return DDX_ERR_INTERNAL;
    /* Prefer the largest tile that leaves room for two blocks per SM on the
     * big parts (about 100 KB); else the largest that fits at all. */
    const size_t target = smem_limit < 100 * 1024 ? smem_limit : 100 * 1024;
    static const int with_dense[] = {32, 16, 8, 4};
    static const int without_dense[] = {128, 64, 32, 16, 8, 4};
    const int *cand = p->n_dense ? with_dense : without_dense;
    int nc = p->n_dense ? 4 : 6;
    /* tile_points forces the tile (a power of two, 4..128) */
    int forced[1];
    if (tile_points >= 4 && tile_points <= 128 && (tile_points & (tile_points - 1)) == 0) {
        forced[0] = tile_points;
        cand = forced;
        nc = 1;
    }
    cuda_fused_plan best = {0};
    int have = 0;
    for (int i = 0; i < nc; i++) {
        cuda_fused_plan pl = {0};
        ddx_status st = fused_plan_for_P(p, prec, cand[i], max_threads, &pl);
        if (st) {
            cuda_fused_plan_free(&pl);
            cuda_fused_plan_free(&best);
            snprintf(why, cap, "out of memory planning the fused kernel");
            return st;
        }
        if (pl.smem_bytes <= target || (!have && pl.smem_bytes <= smem_limit)) {
            cuda_fused_plan_free(&best);
            best = pl;
            have = 1;
            if (pl.smem_bytes <= target) break;
        } else {
            if (i == nc - 1 && !have)
                snprintf(why, cap,
                         "a fused tile of %d points needs %zu bytes of shared memory (%lld jet rows), more than the "
                         "%zu bytes a block may use",
                         cand[i], pl.smem_bytes, (long long)pl.ws_rows, smem_limit);
            cuda_fused_plan_free(&pl);
        }
    }
    if (!have) return DDX_ERR_UNSUPPORTED;
    *plan = best;
    return DDX_OK;
}

/* ---- code emission helpers ------------------------------------------------------------ */

static const char *uop_name(int op) {
    if (op == DDX_R_POWI) return "powi";
    if (op == DDX_R_POW) return "pow";
    const char *n = ddx_unary_op_name((ddx_unary_op)op);
    return n ? n : "?";
}

/* the POLY column of ddx_ops.def: 2 = the sigmoid table */
#define POLY_OF(a, ID, name, onnx, P) P,
static const int OP_POLY[] = {DDX_UNARY_OPS(POLY_OF, _)};
#undef POLY_OF
_Static_assert(sizeof OP_POLY / sizeof OP_POLY[0] == DDX_NUM_UNARY_OPS, "one POLY entry per unary op");
static int uses_sig_poly(int op) { return op >= 0 && op < DDX_NUM_UNARY_OPS && OP_POLY[op] == 2; }

/* Derivative tables the program's unary ops read, as __constant__ arrays. */
static void emit_polys(sb *b, const jet_program *p, ddx_precision prec) {
    int need_tanh = 0, need_sig = 0;
    for (int i = 0; i < p->n_instr; i++) {
        const jet_instr *in = &p->instr[i];
        if (in->op != JI_UNARY) continue;
        if (in->uop == DDX_R_TANH && in->kmax >= 3) need_tanh = 1;
        if (uses_sig_poly(in->uop)) need_sig = 1;
    }
    for (int t = 0; t < 2; t++) {
        if (!(t == 0 ? need_tanh : need_sig)) continue;
        int rows = p->max_k + 2;
        if (rows > DDX_MAX_ORDER + 2) rows = DDX_MAX_ORDER + 2;
        sbf(b, "__constant__ real ddx_poly_%s[%d] = {", t == 0 ? "tanh" : "sig", rows * DDX_POLY_STRIDE);
        for (int k = 0; k < rows * DDX_POLY_STRIDE; k++) {
            char l[64];
            double v = prec == DDX_F64 ? p->poly[t][k] : (double)p->polyf[t][k];
            lit(l, sizeof l, v);
            sbf(b, "%s%s", k ? (k % 12 ? ", " : ",\n    ") : "\n    ", l);
        }
        sbf(b, "};\n");
    }
}

/* Shortest run emitted as a loop (roll_run, emit_epilogue). */
#define ROLL_MIN 8

/* One Faa di Bruno term as an expression: coef * D[k] * z[f0] * ... */
static void emit_fdb_term(sb *b, const fdb_term *ft) {
    if (ft->coef != 1.0) {
        char l[64];
        lit(l, sizeof l, ft->coef);
        sbf(b, "%s * ", l);
    }
    sbf(b, "D[%d]", ft->k);
    for (int j = 0; j < ft->nf; j++) sbf(b, " * z[%d]", ft->f[j]);
}

/* Channel c + 1's terms are channel c's with every z index one higher (the
 * gradient channels D[1] z[c], a Hessian diagonal's D[1] z[c] + D[2] z[i]^2,
 * ...): such runs of channels are one loop. */
static int shifted_channel(const jet_instr *in, int c) {
    const int t0 = in->term_start[c], n = in->term_start[c + 1] - t0, u0 = in->term_start[c + 1];
    if (n == 0 || in->term_start[c + 2] - u0 != n) return 0;
    for (int t = 0; t < n; t++) {
        const fdb_term *x = &in->fdb[t0 + t], *y = &in->fdb[u0 + t];
        if (x->coef != y->coef || x->k != y->k || x->nf != y->nf) return 0;
        for (int j = 0; j < x->nf; j++)
            if (y->f[j] != x->f[j] + 1) return 0;
    }
    return 1;
}

/* Terms t.. equal to coef * D[k] * z[j] * z[j] for consecutive j (a
 * collapsed operator's sum over the inputs): the run length. */
static int square_run(const jet_instr *in, int t, int t1) {
    const fdb_term *a = &in->fdb[t];
    if (a->nf != 2 || a->f[0] != a->f[1]) return 0;
    int n = 1;
    while (t + n < t1) {
        const fdb_term *x = &in->fdb[t + n];
        if (x->nf != 2 || x->k != a->k || x->coef != a->coef || x->f[0] != a->f[0] + n || x->f[1] != x->f[0]) break;
        n++;
    }
    return n;
}

/* Epilogue functor ep<i> of unary instruction i: y = Faa di Bruno(z).
 * roll (the wide path, many channels: z and y in local memory anyway):
 * runs of gradient-like channels and of squared terms become loops, in the
 * same summation order. */
static void emit_epilogue(sb *b, const jet_program *p, int i, int roll) {
    const jet_instr *in = &p->instr[i];
    const int K = in->kmax, nch = p->values[in->dst].nch;
    const char *poly = "(const real *)0";
    if (in->uop == DDX_R_TANH && K >= 3) poly = "ddx_poly_tanh";
    if (uses_sig_poly(in->uop)) poly = "ddx_poly_sig";
    sbf(b, "/* instruction %d: %s, %d channels, derivatives to order %d */\n", i, uop_name(in->uop), nch, K);
    sbf(b, "struct ep%d {\n    static __device__ __forceinline__ void apply(const real *z, real *y) {\n", i);
    sbf(b, "        real D[%d];\n", K + 1);
    if (in->uop == DDX_R_TANH) {
        sbf(b, "        ddx_tanh_derivs<%d>(z[0], %s, D);\n", K, poly);
    } else {
        char l[64];
        lit(l, sizeof l, in->uparam);
        sbf(b, "        ddx_unary_derivs<%d>(%d /* %s */, z[0], %s, %s, D);\n", K, in->uop, uop_name(in->uop), l, poly);
    }
    for (int c = 0; c < nch; c++) {
        int t0 = in->term_start[c], t1 = in->term_start[c + 1];
        int n = 1;
        while (roll && c + n < nch && shifted_channel(in, c + n - 1)) n++;
        if (n >= ROLL_MIN) {
            /* y[c] for c in [c, c + n): channel c's terms with z[f + (c - c0)] */
            sbf(b, "        for (int c = %d; c < %d; c++) y[c] = ", c, c + n);
            for (int t = t0; t < t1; t++) {
                const fdb_term *ft = &in->fdb[t];
                if (t > t0) sbf(b, " + ");
                if (ft->coef != 1.0) {
                    char l[64];
                    lit(l, sizeof l, ft->coef);
                    sbf(b, "%s * ", l);
                }
                sbf(b, "D[%d]", ft->k);
                for (int j = 0; j < ft->nf; j++) sbf(b, " * z[c %c %d]", ft->f[j] >= c ? '+' : '-', abs(ft->f[j] - c));
            }
            sbf(b, ";\n");
            c += n - 1;
            continue;
        }
        int runs = 0;
        for (int t = t0; roll && t < t1; t++) runs |= square_run(in, t, t1) >= ROLL_MIN;
        if (runs) {
            /* s accumulates the terms left to right, as the expression would */
            sbf(b, "        {\n            real s = (real)0;\n");
            for (int t = t0; t < t1; t++) {
                int r = square_run(in, t, t1);
                if (r >= ROLL_MIN) {
                    const fdb_term *ft = &in->fdb[t];
                    char l[64] = "";
                    if (ft->coef != 1.0) {
                        lit(l, sizeof l, ft->coef);
                        strcat(l, " * ");
                    }
                    sbf(b, "            for (int j = %d; j < %d; j++) s += %sD[%d] * z[j] * z[j];\n", ft->f[0],
                        ft->f[0] + r, l, ft->k);
                    t += r - 1;
                } else {
                    sbf(b, "            s += ");
                    emit_fdb_term(b, &in->fdb[t]);
                    sbf(b, ";\n");
                }
            }
            sbf(b, "            y[%d] = s;\n        }\n", c);
            continue;
        }
        sbf(b, "        y[%d] = ", c);
        if (t0 == t1) sbf(b, "(real)0");
        for (int t = t0; t < t1; t++) {
            if (t > t0) sbf(b, " + ");
            emit_fdb_term(b, &in->fdb[t]);
        }
        sbf(b, ";\n");
    }
    sbf(b, "    }\n};\n");
}

/* Channel map of a dense layer whose input carries more channels. */
static void emit_map(sb *b, const jet_program *p, int i) {
    const jet_instr *in = &p->instr[i];
    const int nch = p->values[in->dst].nch;
    sbf(b, "struct map%d {\n    static __device__ __forceinline__ int ch(int c) { return ", i);
    for (int c = 0; c < nch - 1; c++) sbf(b, "c == %d ? %d : ", c, in->amap[c]);
    sbf(b, "%d; }\n};\n", in->amap[nch - 1]);
}

/* An elementwise instruction's body for one neuron `n` (an expression) at
 * one point; R(v, nexpr, c) renders a row of value v. Used by both paths. */
typedef struct rowfmt {
    /* fused: ws[(off*P) + (n)*(nch*P) + c*P + p]; wide: w[(off + n*nch + c) * ld] */
    int wide;
    int P;
    const int64_t *off; /* per value */
} rowfmt;

static void row(char *buf, size_t cap, const rowfmt *f, const jet_program *p, int v, const char *n, int c) {
    const jet_value *x = &p->values[v];
    const int64_t off = f->off[v];
    if (f->wide) {
        if (!n || x->width == 1)
            snprintf(buf, cap, "w[%lldLL * ld]", (long long)(off + c));
        else
            snprintf(buf, cap, "w[(long long)(%lld + %s * %d) * ld]", (long long)(off + c), n, x->nch);
    } else {
        if (!n || x->width == 1)
            snprintf(buf, cap, "ws[%lld + p]", (long long)((off + c) * f->P));
        else
            snprintf(buf, cap, "ws[%lld + %s * %d + p]", (long long)((off + c) * f->P), n, x->nch * f->P);
    }
}

/* The straight-line body of one elementwise instruction (not dense),
 * neuron expression `n` ("n" inside a neuron loop, NULL for width 1). */
static void emit_elementwise(sb *b, const jet_program *p, int i, const rowfmt *f, const char *n, const char *ind) {
    const jet_instr *in = &p->instr[i];
    const jet_value *dv = &p->values[in->dst];
    char y[160], a[160], bb[160];
    switch (in->op) {
    case JI_INPUT: {
        if (f->wide && dv->nch > 4 && !in->n_seed) {
            /* a rolled loop: hundreds of hoisted 64-bit row addresses would spill */
            sbf(b, "%sconst real x = pts[p * %d + %d];\n", ind, p->d, in->input);
            sbf(b, "%s#pragma unroll 1\n%sfor (int c = 0; c < %d; c++)\n", ind, ind, dv->nch);
            sbf(b, "%s    w[(long long)(%lld + c) * ld] = c == 0 ? x : c == %d ? (real)1 : (real)0;\n", ind,
                (long long)f->off[in->dst], in->input_ch);
            break;
        }
        /* padding points of the last tile read 0, not past the end */
        if (f->wide)
            sbf(b, "%sconst real x = pts[p * %d + %d];\n", ind, p->d, in->input);
        else
            sbf(b, "%sconst real x = p < np ? pts[(p0 + p) * %d + %d] : (real)0;\n", ind, p->d, in->input);
        for (int c = 0; c < dv->nch; c++) {
            row(y, sizeof y, f, p, in->dst, NULL, c);
            int seed = -1; /* random directions: the channel starts at v's component */
            for (int k = 0; k < in->n_seed; k++)
                if (in->seed_ch[k] == c) seed = k;
            char l[64];
            if (seed >= 0) lit(l, sizeof l, in->seed_val[seed]);
            sbf(b, "%s%s = %s;\n", ind, y,
                c == 0 ? "x" : seed >= 0 ? l : c == in->input_ch ? "(real)1" : "(real)0");
        }
        break;
    }
    case JI_CONST: {
        char l[64];
        lit(l, sizeof l, in->cval);
        for (int c = 0; c < dv->nch; c++) {
            row(y, sizeof y, f, p, in->dst, NULL, c);
            sbf(b, "%s%s = %s;\n", ind, y, c == 0 ? l : "(real)0");
        }
        break;
    }
    case JI_ADD:
    case JI_SUB: {
        const char *na = p->values[in->a].width == 1 ? NULL : n, *nb = p->values[in->b].width == 1 ? NULL : n;
        for (int c = 0; c < dv->nch; c++) {
            row(y, sizeof y, f, p, in->dst, n, c);
            row(a, sizeof a, f, p, in->a, na, in->amap[c]);
            row(bb, sizeof bb, f, p, in->b, nb, in->bmap[c]);
            sbf(b, "%s%s = %s %c %s;\n", ind, y, a, in->op == JI_ADD ? '+' : '-', bb);
        }
        break;
    }
    case JI_MUL: {
        const char *na = p->values[in->a].width == 1 ? NULL : n, *nb = p->values[in->b].width == 1 ? NULL : n;
        for (int c = 0; c < dv->nch; c++) {
            row(y, sizeof y, f, p, in->dst, n, c);
            sbf(b, "%s%s = ", ind, y);
            int t0 = in->term_start[c], t1 = in->term_start[c + 1];
            if (t0 == t1) sbf(b, "(real)0");
            for (int t = t0; t < t1; t++) {
                const leib_term *lt = &in->leib[t];
                row(a, sizeof a, f, p, in->a, na, lt->ca);
                row(bb, sizeof bb, f, p, in->b, nb, lt->cb);
                if (t > t0) sbf(b, "\n%s    + ", ind);
                if (lt->coef != 1.0) {
                    char l[64];
                    lit(l, sizeof l, lt->coef);
                    sbf(b, "%s * ", l);
                }
                sbf(b, "%s * %s", a, bb);
            }
            sbf(b, ";\n");
        }
        break;
    }
    case JI_UNARY: {
        const jet_value *av = &p->values[in->a];
        if (f->wide && av->nch > 32) {
            /* many channels (d = 100: a Laplacian's 102, a Hessian diagonal's 201):
             * z and y live in local memory anyway, so rolled loads and stores
             * keep the source (and NVRTC's time) small */
            const char *na = av->width == 1 ? "0" : n, *nd = dv->width == 1 ? "0" : n;
            sbf(b, "%s{\n%s    real z[%d], y[%d];\n", ind, ind, av->nch, dv->nch);
            sbf(b, "%s    #pragma unroll 1\n%s    for (int c = 0; c < %d; c++) z[c] = w[(long long)(%lld + %s * %d + c) * ld];\n",
                ind, ind, av->nch, (long long)f->off[in->a], na, av->nch);
            sbf(b, "%s    ep%d::apply(z, y);\n", ind, i);
            sbf(b, "%s    #pragma unroll 1\n%s    for (int c = 0; c < %d; c++) w[(long long)(%lld + %s * %d + c) * ld] = y[c];\n",
                ind, ind, dv->nch, (long long)f->off[in->dst], nd, dv->nch);
            sbf(b, "%s}\n", ind);
            break;
        }
        sbf(b, "%s{\n%s    real z[%d], y[%d];\n", ind, ind, av->nch, dv->nch);
        for (int c = 0; c < av->nch; c++) {
            row(a, sizeof a, f, p, in->a, n, c);
            sbf(b, "%s    z[%d] = %s;\n", ind, c, a);
        }
        sbf(b, "%s    ep%d::apply(z, y);\n", ind, i);
        for (int c = 0; c < dv->nch; c++) {
            row(y, sizeof y, f, p, in->dst, n, c);
            sbf(b, "%s    %s = y[%d];\n", ind, y, c);
        }
        sbf(b, "%s}\n", ind);
        break;
    }
    case JI_COPY: {
        /* one neuron to one neuron: constant rows */
        int affine = 1;
        for (int c = 0; c < dv->nch; c++) affine &= in->amap[c] == in->amap[0] + c;
        if (f->wide && affine && dv->nch > 4) {
            const jet_value *av = &p->values[in->a];
            sbf(b, "%s#pragma unroll 1\n%sfor (int c = 0; c < %d; c++)\n", ind, ind, dv->nch);
            sbf(b, "%s    w[(long long)(%lld + c) * ld] = w[(long long)(%lld + c) * ld];\n", ind,
                (long long)(f->off[in->dst] + (int64_t)in->dn * dv->nch),
                (long long)(f->off[in->a] + (int64_t)in->an * av->nch + in->amap[0]));
            break;
        }
        for (int c = 0; c < dv->nch; c++) {
            char nd[32], ns[32];
            snprintf(nd, sizeof nd, "%d", in->dn);
            snprintf(ns, sizeof ns, "%d", in->an);
            row(y, sizeof y, f, p, in->dst, dv->width == 1 ? NULL : nd, c);
            row(a, sizeof a, f, p, in->a, p->values[in->a].width == 1 ? NULL : ns, in->amap[c]);
            sbf(b, "%s%s = %s;\n", ind, y, a);
        }
        break;
    }
    case JI_DENSE:
        break;
    }
}

/* Runs of one-channel instructions that differ only by a counter, rolled
 * into one loop: the inputs (value channel only, with the constant-jet first
 * layer) and the concat that gathers them, d of each. Straight-line, d = 1000
 * made NVRTC spend most of its time on them. Returns the run length at i
 * (< end), 0 when instruction i starts none. */
static int roll_run(const jet_program *p, const int64_t *off, int i, int end) {
    const jet_instr *a = &p->instr[i];
    if (p->values[a->dst].nch != 1 || off[a->dst] < 0 || (a->op == JI_COPY && (a->amap[0] != 0 || off[a->a] < 0)))
        return 0;
    int k = 1;
    if (a->op == JI_INPUT && !a->n_seed && p->values[a->dst].width == 1) {
        while (i + k < end) {
            const jet_instr *b = &p->instr[i + k];
            if (b->op != JI_INPUT || b->n_seed || p->values[b->dst].nch != 1 || p->values[b->dst].width != 1 ||
                b->input != a->input + k || off[b->dst] != off[a->dst] + k)
                break;
            k++;
        }
    } else if (a->op == JI_COPY && p->values[a->a].nch == 1 && p->values[a->a].width == 1 && a->an == 0) {
        while (i + k < end) {
            const jet_instr *b = &p->instr[i + k];
            if (b->op != JI_COPY || b->dst != a->dst || b->dn != a->dn + k || b->an != 0 || b->amap[0] != 0 ||
                p->values[b->a].nch != 1 || p->values[b->a].width != 1 || off[b->a] != off[a->a] + k)
                break;
            k++;
        }
    } else
        return 0;
    return k >= ROLL_MIN ? k : 0;
}

/* The loop of a run of k instructions from i (roll_run); fused rows are
 * scaled by P, wide rows by ld. */
static void emit_run(sb *b, const jet_program *p, const rowfmt *f, int i, int k, const char *ind) {
    const jet_instr *a = &p->instr[i];
    const int64_t r0 = f->off[a->dst] + (a->op == JI_COPY ? a->dn : 0);
    sbf(b, "%s/* %d..%d: %s, rolled */\n", ind, i, i + k - 1, a->op == JI_INPUT ? "inputs" : "copies");
    sbf(b, "%s#pragma unroll 1\n%sfor (int k = 0; k < %d; k++)\n", ind, ind, k);
    if (a->op == JI_INPUT) {
        if (f->wide)
            sbf(b, "%s    w[(long long)(%lld + k) * ld] = pts[p * %d + %d + k];\n", ind, (long long)r0, p->d, a->input);
        else
            sbf(b, "%s    ws[(%lld + k) * %d + p] = p < np ? pts[(p0 + p) * %d + %d + k] : (real)0;\n", ind,
                (long long)r0, f->P, p->d, a->input);
    } else {
        if (f->wide)
            sbf(b, "%s    w[(long long)(%lld + k) * ld] = w[(long long)(%lld + k) * ld];\n", ind, (long long)r0,
                (long long)f->off[a->a]);
        else
            sbf(b, "%s    ws[(%lld + k) * %d + p] = ws[(%lld + k) * %d + p];\n", ind, (long long)r0, f->P,
                (long long)f->off[a->a], f->P);
    }
}

static const char *op_name(const jet_instr *in) {
    static const char *names[] = {"input", "const", "dense", "unary", "add", "sub", "mul", "copy"};
    return in->op == JI_UNARY ? uop_name(in->uop) : names[in->op];
}

static void emit_header(sb *b, const jet_program *p, ddx_precision prec, const char *what) {
    sbf(b, "/* generated by ddx " DDX_VERSION_STRING ": %s, %d instructions, %d dense layers, %s */\n", what,
        p->n_instr, p->n_dense, prec == DDX_F64 ? "f64" : "f32");
    sbf(b, "typedef %s real;\n", prec == DDX_F64 ? "double" : "float");
}

/* ---- fused kernel ------------------------------------------------------------------------ */

char *cuda_emit_fused(const jet_program *p, const cuda_fused_plan *pl, const cuda_params *prm) {
    sb b = {0};
    const int P = pl->P, NT = pl->NT;
    emit_header(&b, p, pl->prec, "fused jet kernel");
    sbf(&b, "#include \"ddx_fused.cuh\"\n\n");
    emit_polys(&b, p, pl->prec);
    for (int i = 0; i < p->n_instr; i++) {
        const jet_instr *in = &p->instr[i];
        if (in->op == JI_UNARY) emit_epilogue(&b, p, i, 0);
        if (in->op == JI_DENSE && !in->amap_identity && !in->cjet) emit_map(&b, p, i);
    }
    sbf(&b, "\n/* %d points x %d threads per block, %zu bytes of shared memory:\n"
            " * %lld jet rows of %d points, W^T staging %d, bias %d reals */\n",
        P, NT, pl->smem_bytes, (long long)pl->ws_rows, P, pl->wsh_reals, pl->bsh_reals);
    sbf(&b, "extern \"C\" __global__ void __launch_bounds__(%d) ddx_fused(const real *__restrict__ pts, "
            "real *__restrict__ out, long long n, const real *__restrict__ prm) {\n", NT);
    sbf(&b, "    DDX_SMEM(smem);\n");
    sbf(&b, "    real *ws = (real *)smem;\n");
    sbf(&b, "    real *wsh = (real *)(smem + %zu);\n", pl->wsh_byte_off);
    sbf(&b, "    real *bsh = (real *)(smem + %zu);\n", pl->bsh_byte_off);
    sbf(&b, "    (void)wsh; (void)bsh; (void)prm;\n");
    sbf(&b, "    const int tid = threadIdx.x;\n");
    sbf(&b, "    const long long p0 = (long long)blockIdx.x * %d;\n", P);
    sbf(&b, "    const int np = n - p0 < %d ? (int)(n - p0) : %d;\n", P, P);
    sbf(&b, "    (void)np;\n");

    rowfmt f = {0, P, pl->off};
    int any = 0, mixed = 0; /* since the last barrier: any access; a cross-thread one */
    for (int i = 0; i < p->n_instr; i++) {
        const jet_instr *in = &p->instr[i];
        const jet_value *dv = &p->values[in->dst];
        sbf(&b, "\n    /* %d: %s -> value %d (node %d), width %d, %d channels */\n", i, op_name(in), in->dst,
            dv->node, dv->width, dv->nch);
        if (in->op == JI_DENSE) {
            const cuda_dense_tile *t = &pl->tile[i];
            const jet_dense *w = &p->dense[in->dense];
            const int fused = pl->fused[i];
            const int y = fused ? p->instr[i + 1].dst : in->dst;
            char ep[64], map[32];
            if (fused)
                snprintf(ep, sizeof ep, "ep%d", i + 1);
            else
                snprintf(ep, sizeof ep, "ddx_ep_copy<%d>", dv->nch);
            if (in->amap_identity || in->cjet) /* cjet: channel 0 only, the value */
                snprintf(map, sizeof map, "ddx_idmap");
            else
                snprintf(map, sizeof map, "map%d", i);
            if (fused)
                sbf(&b, "    /* + %d: %s as the GEMM epilogue -> value %d */\n", i + 1, op_name(&p->instr[i + 1]), y);
            sbf(&b, "    /* tile %d neurons x %d points x %d channels per thread, %d tasks%s */\n", t->tm, t->tn,
                dv->nch, t->tasks, t->inplace ? ", in place" : "");
            if (in->cjet) sbf(&b, "    /* over the inputs: value channel by GEMM, %d constant channels */\n", dv->nch - 1);
            sbf(&b, "    ddx_dense_layer<real, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s, %s>(\n", w->in, w->out,
                t->outp, p->values[in->a].nch, dv->nch, p->values[y].nch, t->tm, t->tn, P, NT, t->kc,
                in->cjet ? 1 : 0, map, ep);
            char cj[48] = "(const real *)0";
            if (in->cjet) snprintf(cj, sizeof cj, "prm + %zu", prm->cj_off[i]);
            sbf(&b, "        ws + %lld, ws + %lld, prm + %zu, prm + %zu, %s, wsh, bsh, tid);\n",
                (long long)(pl->off[in->a] * P), (long long)(pl->off[y] * P), prm->w_off[in->dense],
                prm->b_off[in->dense], cj);
            any = mixed = 1;
            if (fused) i++;
            continue;
        }
        const int pp = in->op == JI_COPY || dv->width == 1; /* point-private: thread p, its point only */
        if (pp ? mixed : any) {
            sbf(&b, "    __syncthreads();\n");
            any = mixed = 0;
        }
        const int run = pp ? roll_run(p, pl->off, i, p->n_instr) : 0;
        if (run) { /* point-private like its members */
            sbf(&b, "    if (tid < %d) {\n        const int p = tid;\n", P);
            emit_run(&b, p, &f, i, run, "        ");
            sbf(&b, "    }\n");
            any = 1;
            i += run - 1;
            continue;
        }
        if (pp) {
            sbf(&b, "    if (tid < %d) {\n        const int p = tid;\n", P);
            emit_elementwise(&b, p, i, &f, NULL, "        ");
            sbf(&b, "    }\n");
            any = 1;
        } else {
            sbf(&b, "    for (int idx = tid; idx < %d; idx += %d) {\n", dv->width * P, NT);
            sbf(&b, "        const int n = idx / %d, p = idx %% %d;\n", P, P);
            emit_elementwise(&b, p, i, &f, "n", "        ");
            sbf(&b, "    }\n");
            any = mixed = 1;
        }
    }
    sbf(&b, "\n    /* output columns */\n");
    if (mixed) sbf(&b, "    __syncthreads();\n");
    sbf(&b, "    if (tid < np) {\n        const int p = tid;\n");
    sbf(&b, "        real *o = out + (p0 + p) * %d;\n", p->n_outputs);
    for (int k = 0; k < p->n_outputs; k++) {
        char r[160], nn[32];
        snprintf(nn, sizeof nn, "%d", p->outputs[k].neuron);
        row(r, sizeof r, &f, p, p->outputs[k].value, nn, 0);
        sbf(&b, "        o[%d] = %s;\n", k, r);
    }
    sbf(&b, "    }\n}\n");
    return sb_finish(&b);
}

/* ---- wide plan and kernels ------------------------------------------------------------------ */

void cuda_wide_plan_free(cuda_wide_plan *plan) {
    if (!plan) return;
    free(plan->steps);
    free(plan->seg_first);
    free(plan->seg_end);
    free(plan->seg_bias_first);
    free(plan->seg_bias_end);
    memset(plan, 0, sizeof *plan);
}

ddx_status cuda_wide_plan_build(const jet_program *p, ddx_precision prec, cuda_wide_plan *pl, char *why,
                                size_t cap) {
    memset(pl, 0, sizeof *pl);
    if (check_maps(p, why, cap)) return DDX_ERR_INTERNAL;
    pl->prec = prec;
    pl->ws_rows = p->workspace;
    pl->max_width = cuda_max_width(p);
    size_t n = (size_t)p->n_instr + 2;
    pl->steps = calloc(2 * n, sizeof(cuda_wide_step));
    pl->seg_first = calloc(n, sizeof(int));
    pl->seg_end = calloc(n, sizeof(int));
    pl->seg_bias_first = calloc(n, sizeof(int));
    pl->seg_bias_end = calloc(n, sizeof(int));
    if (!pl->steps || !pl->seg_first || !pl->seg_end || !pl->seg_bias_first || !pl->seg_bias_end) {
        cuda_wide_plan_free(pl);
        snprintf(why, cap, "out of memory planning the wide path");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    /* A segment holds the bias additions of the dense instructions just
     * before it (bias_first..bias_end) and the elementwise instructions
     * first..end; the last segment also writes the output columns. */
    int first = 0, bias_first = -1, bias_end = -1;
    for (int i = 0; i <= p->n_instr; i++) {
        int is_dense = i < p->n_instr && p->instr[i].op == JI_DENSE;
        int at_end = i == p->n_instr;
        if (is_dense || at_end) {
            int has_instr = i > first, has_bias = bias_first >= 0;
            if (has_instr || has_bias || at_end) {
                int s = pl->n_segs++;
                pl->seg_first[s] = first;
                pl->seg_end[s] = i;
                pl->seg_bias_first[s] = has_bias ? bias_first : 0;
                pl->seg_bias_end[s] = has_bias ? bias_end : 0;
                pl->steps[pl->n_steps++] = (cuda_wide_step){CUDA_STEP_SEGMENT, s, -1};
            }
            bias_first = bias_end = -1;
            if (is_dense) {
                pl->steps[pl->n_steps++] = (cuda_wide_step){CUDA_STEP_GEMM, -1, i};
                pl->n_gemms++;
                bias_first = i;
                bias_end = i + 1;
            }
            first = i + 1;
        }
    }
    return DDX_OK;
}

char *cuda_emit_wide(const jet_program *p, const cuda_wide_plan *pl, const cuda_params *prm) {
    sb b = {0};
    emit_header(&b, p, pl->prec, "wide path segment kernels (dense layers run as cuBLAS GEMMs)");
    sbf(&b, "#include \"ddx_wide.cuh\"\n\n");
    emit_polys(&b, p, pl->prec);
    for (int i = 0; i < p->n_instr; i++)
        if (p->instr[i].op == JI_UNARY) emit_epilogue(&b, p, i, p->values[p->instr[i].a].nch > 32);
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(p->n_values + 1));
    if (!off) {
        free(b.s);
        return NULL;
    }
    for (int v = 0; v < p->n_values; v++) off[v] = p->values[v].offset;
    rowfmt f = {1, 0, off};
    for (int s = 0; s < pl->n_segs; s++) {
        sbf(&b, "\n/* segment %d: instructions %d..%d%s */\n", s, pl->seg_first[s], pl->seg_end[s] - 1,
            s == pl->n_segs - 1 ? ", then the output columns" : "");
        sbf(&b, "extern \"C\" __global__ void __launch_bounds__(%d) ddx_seg%d(const real *__restrict__ pts, "
                "real *__restrict__ out, long long np, real *__restrict__ ws, long long ld, "
                "const real *__restrict__ prm) {\n", CUDA_WIDE_THREADS, s);
        sbf(&b, "    const long long p = (long long)blockIdx.x * %d + threadIdx.x;\n", CUDA_WIDE_THREADS);
        sbf(&b, "    if (p >= np) return;\n");
        sbf(&b, "    real *w = ws + p;\n");
        sbf(&b, "    (void)pts; (void)out; (void)prm; (void)w;\n");
        for (int i = pl->seg_bias_first[s]; i < pl->seg_bias_end[s]; i++) {
            const jet_instr *in = &p->instr[i];
            const jet_value *dv = &p->values[in->dst];
            sbf(&b, "    /* bias of dense instruction %d */\n", i);
            sbf(&b, "    for (int n = 0; n < %d; n++) w[(long long)(%lld + n * %d) * ld] += prm[%zu + n];\n", dv->width,
                (long long)off[in->dst], dv->nch, prm->b_off[in->dense]);
            if (in->cjet) { /* the GEMM wrote the value channel only; the rest are constants */
                sbf(&b, "    /* its %d constant channels (W times the inputs' constant jet) */\n", dv->nch - 1);
                sbf(&b, "    #pragma unroll 1\n    for (int q = 0; q < %d; q++) {\n", dv->width * (dv->nch - 1));
                sbf(&b, "        const int n = q / %d, c = 1 + q %% %d;\n", dv->nch - 1, dv->nch - 1);
                sbf(&b, "        w[(long long)(%lld + n * %d + c) * ld] = prm[%zu + n * %d + c];\n    }\n",
                    (long long)off[in->dst], dv->nch, prm->cj_off[i], dv->nch);
            }
        }
        for (int i = pl->seg_first[s]; i < pl->seg_end[s]; i++) {
            const jet_instr *in = &p->instr[i];
            const jet_value *dv = &p->values[in->dst];
            const int run = roll_run(p, off, i, pl->seg_end[s]);
            if (run) {
                emit_run(&b, p, &f, i, run, "    ");
                i += run - 1;
                continue;
            }
            sbf(&b, "    /* %d: %s -> value %d (node %d), width %d, %d channels */\n", i, op_name(in), in->dst,
                dv->node, dv->width, dv->nch);
            if (in->op == JI_COPY || dv->width == 1) {
                sbf(&b, "    {\n");
                emit_elementwise(&b, p, i, &f, NULL, "        ");
                sbf(&b, "    }\n");
            } else {
                sbf(&b, "    for (int n = 0; n < %d; n++) {\n", dv->width);
                emit_elementwise(&b, p, i, &f, "n", "        ");
                sbf(&b, "    }\n");
            }
        }
        if (s == pl->n_segs - 1) {
            sbf(&b, "    /* output columns */\n");
            for (int k = 0; k < p->n_outputs; k++) {
                char r[160], nn[32];
                snprintf(nn, sizeof nn, "%d", p->outputs[k].neuron);
                row(r, sizeof r, &f, p, p->outputs[k].value, nn, 0);
                sbf(&b, "    out[p * %d + %d] = %s;\n", p->n_outputs, k, r);
            }
        }
        sbf(&b, "}\n");
    }
    free(off);
    return sb_finish(&b);
}

int cuda_wide_gemms(const jet_program *p, const cuda_params *prm, int instr, int64_t ld, int64_t np, cuda_gemm *out,
                    int cap) {
    const jet_instr *in = &p->instr[instr];
    const jet_value *dv = &p->values[in->dst], *av = &p->values[in->a];
    const jet_dense *w = &p->dense[in->dense];
    if (in->cjet) { /* over the inputs: the value channel only (the segment writes the constants) */
        if (cap < 1) return 0;
        out[0] = (cuda_gemm){(int)np, w->out, w->in, (av->offset + in->amap[0]) * ld, dv->offset * ld,
                             (int)(av->nch * ld), (int)(dv->nch * ld), prm->w_off[in->dense], prm->ldw[in->dense]};
        return 1;
    }
    if (in->amap_identity && np == ld) {
        if (cap < 1) return 0;
        /* the whole jet in one GEMM: columns = channels x points */
        out[0] = (cuda_gemm){(int)(dv->nch * ld), w->out, w->in, av->offset * ld, dv->offset * ld,
                             (int)(av->nch * ld), (int)(dv->nch * ld), prm->w_off[in->dense], prm->ldw[in->dense]};
        return 1;
    }
    int k = 0;
    for (int c = 0; c < dv->nch && k < cap; c++)
        out[k++] = (cuda_gemm){(int)np, w->out, w->in, (av->offset + in->amap[c]) * ld, (dv->offset + c) * ld,
                               (int)(av->nch * ld), (int)(dv->nch * ld), prm->w_off[in->dense], prm->ldw[in->dense]};
    return k;
}
