/* cpu_eval_impl.h — the CPU evaluator's tile loop, written once and
 * included by cpu_eval.c for float (SFX f32) and double (SFX f64).
 * Expects REAL, SFX, GEMM (ddx_gemm_<SFX>), WFIELD/BFIELD (jet_dense members),
 * POLY (jet_program member) and the ddx_unary_derivs_<SFX> jet rule. */
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SFX)

/* Row pointer of (neuron, channel) of value v in the tile workspace. */
static inline REAL *FN(row_)(const jet_program *p, REAL *ws, int P, int v, int neuron, int ch) {
    const jet_value *x = &p->values[v];
    return ws + (x->offset + (int64_t)neuron * x->nch + ch) * P;
}

/* Faa di Bruno over a tile, in chunks of UCH points: the derivative table
 * and each output channel's accumulator live in L1 (stack arrays), so each
 * channel is written once instead of once per term. */
#define UCH 64
/* One chunk of m points of one neuron. Inlined twice: with m = UCH (a
 * compile-time constant: fully vectorized, accumulators in registers) and
 * with the ragged rest of a tile. */
static inline __attribute__((always_inline)) void FN(unary_chunk_)(const jet_program *p, const jet_instr *in,
                                                                   REAL *ws, int P, int n, int i0, const int m) {
    const jet_value *dv = &p->values[in->dst];
    const int K = in->kmax;
    const REAL *poly = in->uop == DDX_R_TANH ? p->POLY[0] : p->POLY[1];
    REAL D[DDX_MAX_ORDER + 1][UCH], acc[UCH];
    const REAL *z0 = FN(row_)(p, ws, P, in->a, n, 0) + i0;
    /* derivative table f^(k)(z0) */
    if (in->uop == DDX_R_TANH) {
        /* hot path of every tanh network: a loop the compiler vectorizes */
        for (int i = 0; i < m; i++) {
            REAL s, t = FN(tanh_d1_)(z0[i], &s); /* s = tanh', accurate in saturation */
            D[0][i] = t;
            D[1][i] = s;
            D[2][i] = (REAL)-2 * t * s;
        }
        /* tanh^(k) = tanh' R_k(tanh), R_k of degree k - 1 (row k of poly) */
        for (int k = 3; k <= K; k++)
            for (int i = 0; i < m; i++)
                D[k][i] = D[1][i] * FN(ddx_horner_)(poly + k * DDX_POLY_STRIDE, k - 1, D[0][i]);
    } else {
        REAL tmp[DDX_MAX_ORDER + 1];
        for (int i = 0; i < m; i++) {
            FN(ddx_unary_derivs_)(in->uop, z0[i], K, (REAL)in->uparam, poly, tmp);
            for (int k = 0; k <= K; k++) D[k][i] = tmp[k];
        }
    }
    for (int c = 0; c < dv->nch; c++) {
        for (int i = 0; i < m; i++) acc[i] = 0;
        for (int t = in->term_start[c]; t < in->term_start[c + 1]; t++) {
            const fdb_term *ft = &in->fdb[t];
            const REAL coef = (REAL)ft->coef;
            const REAL *Dk = D[ft->k];
            const REAL *f0 = ft->nf > 0 ? FN(row_)(p, ws, P, in->a, n, ft->f[0]) + i0 : NULL;
            const REAL *f1 = ft->nf > 1 ? FN(row_)(p, ws, P, in->a, n, ft->f[1]) + i0 : NULL;
            switch (ft->nf) {
            case 0:
                for (int i = 0; i < m; i++) acc[i] += coef * Dk[i];
                break;
            case 1:
                for (int i = 0; i < m; i++) acc[i] += coef * Dk[i] * f0[i];
                break;
            case 2:
                for (int i = 0; i < m; i++) acc[i] += coef * Dk[i] * f0[i] * f1[i];
                break;
            default: {
                const REAL *fr[DDX_MAX_ORDER];
                for (int j = 0; j < ft->nf; j++) fr[j] = FN(row_)(p, ws, P, in->a, n, ft->f[j]) + i0;
                for (int i = 0; i < m; i++) {
                    REAL r = coef * Dk[i];
                    for (int j = 0; j < ft->nf; j++) r *= fr[j][i];
                    acc[i] += r;
                }
            }
            }
        }
        REAL *y = FN(row_)(p, ws, P, in->dst, n, c) + i0;
        for (int i = 0; i < m; i++) y[i] = acc[i];
    }
}

/* Faa di Bruno over a tile, in chunks of UCH points: the derivative table
 * and each output channel's accumulator live in L1 (stack arrays), so each
 * channel is written once instead of once per term. */
static void FN(run_unary_)(const jet_program *p, const jet_instr *in, REAL *ws, int P, int np) {
    const jet_value *dv = &p->values[in->dst];
    for (int n = 0; n < dv->width; n++) {
        int i0 = 0;
        for (; i0 + UCH <= np; i0 += UCH) FN(unary_chunk_)(p, in, ws, P, n, i0, UCH);
        if (i0 < np) FN(unary_chunk_)(p, in, ws, P, n, i0, np - i0);
    }
}
#undef UCH

static void FN(run_dense_)(const jet_program *p, const jet_instr *in, REAL *ws, int P, int np) {
    const jet_dense *w = &p->dense[in->dense];
    const jet_value *dv = &p->values[in->dst], *av = &p->values[in->a];
    REAL *C = ws + dv->offset * P;
    const REAL *B = ws + av->offset * P;
    if (in->cjet) {
        /* over the inputs: a GEMM for the values; the other channels are W's
         * columns times the constant input jet (lower.c) */
        GEMM(w->out, P, w->in, w->WFIELD, w->in, B + (int64_t)in->amap[0] * P, av->nch * P, C, dv->nch * P);
        const REAL *cj = sizeof(REAL) == sizeof(float) ? (const REAL *)(const void *)in->cjetf
                                                       : (const REAL *)(const void *)in->cjet;
        for (int n = 0; n < w->out; n++)
            for (int c = 1; c < dv->nch; c++) {
                REAL *y = FN(row_)(p, ws, P, in->dst, n, c);
                const REAL v = cj[(size_t)n * dv->nch + c];
                for (int i = 0; i < P; i++) y[i] = v; /* padding columns too: the GEMMs read them */
            }
    } else if (in->amap_identity) {
        /* the whole jet at once: out x (channels*P) = W (out x in) * in x (channels*P) */
        GEMM(w->out, dv->nch * P, w->in, w->WFIELD, w->in, B, av->nch * P, C, dv->nch * P);
    } else {
        for (int c = 0; c < dv->nch; c++)
            GEMM(w->out, P, w->in, w->WFIELD, w->in, B + (int64_t)in->amap[c] * P, av->nch * P, C + (int64_t)c * P,
                 dv->nch * P);
    }
    for (int n = 0; n < w->out; n++) {
        REAL *y = FN(row_)(p, ws, P, in->dst, n, 0);
        const REAL bn = w->BFIELD[n];
        for (int i = 0; i < np; i++) y[i] += bn;
    }
}

static void FN(run_tile_)(const jet_program *p, REAL *ws, int P, int np, const REAL *pts, REAL *out) {
    for (int ii = 0; ii < p->n_instr; ii++) {
        const jet_instr *in = &p->instr[ii];
        const jet_value *dv = &p->values[in->dst];
        switch (in->op) {
        case JI_INPUT:
            for (int c = 0; c < dv->nch; c++) {
                REAL *y = FN(row_)(p, ws, P, in->dst, 0, c);
                if (c == 0)
                    for (int i = 0; i < np; i++) y[i] = pts[(int64_t)i * p->d + in->input];
                else
                    for (int i = 0; i < np; i++) y[i] = c == in->input_ch ? (REAL)1 : (REAL)0;
            }
            for (int k = 0; k < in->n_seed; k++) { /* random directions: d/dt (x + t v) = v_input */
                REAL *y = FN(row_)(p, ws, P, in->dst, 0, in->seed_ch[k]);
                for (int i = 0; i < np; i++) y[i] = (REAL)in->seed_val[k];
            }
            break;
        case JI_CONST:
            for (int c = 0; c < dv->nch; c++) {
                REAL *y = FN(row_)(p, ws, P, in->dst, 0, c);
                REAL v = c == 0 ? (REAL)in->cval : (REAL)0;
                for (int i = 0; i < np; i++) y[i] = v;
            }
            break;
        case JI_DENSE:
            FN(run_dense_)(p, in, ws, P, np);
            break;
        case JI_UNARY:
            FN(run_unary_)(p, in, ws, P, np);
            break;
        case JI_ADD:
        case JI_SUB: {
            const int wa = p->values[in->a].width, wb = p->values[in->b].width;
            for (int n = 0; n < dv->width; n++)
                for (int c = 0; c < dv->nch; c++) {
                    REAL *y = FN(row_)(p, ws, P, in->dst, n, c);
                    const REAL *a = FN(row_)(p, ws, P, in->a, wa == 1 ? 0 : n, in->amap[c]);
                    const REAL *b = FN(row_)(p, ws, P, in->b, wb == 1 ? 0 : n, in->bmap[c]);
                    if (in->op == JI_ADD)
                        for (int i = 0; i < np; i++) y[i] = a[i] + b[i];
                    else
                        for (int i = 0; i < np; i++) y[i] = a[i] - b[i];
                }
            break;
        }
        case JI_MUL: {
            const int wa = p->values[in->a].width, wb = p->values[in->b].width;
            for (int n = 0; n < dv->width; n++)
                for (int c = 0; c < dv->nch; c++) {
                    REAL *y = FN(row_)(p, ws, P, in->dst, n, c);
                    for (int i = 0; i < np; i++) y[i] = 0;
                    for (int t = in->term_start[c]; t < in->term_start[c + 1]; t++) {
                        const leib_term *lt = &in->leib[t];
                        const REAL *a = FN(row_)(p, ws, P, in->a, wa == 1 ? 0 : n, lt->ca);
                        const REAL *b = FN(row_)(p, ws, P, in->b, wb == 1 ? 0 : n, lt->cb);
                        const REAL coef = (REAL)lt->coef;
                        for (int i = 0; i < np; i++) y[i] += coef * a[i] * b[i];
                    }
                }
            break;
        }
        case JI_COPY:
            for (int c = 0; c < dv->nch; c++) {
                REAL *y = FN(row_)(p, ws, P, in->dst, in->dn, c);
                const REAL *a = FN(row_)(p, ws, P, in->a, in->an, in->amap[c]);
                for (int i = 0; i < np; i++) y[i] = a[i];
            }
            break;
        }
    }
    const int K = p->n_outputs;
    for (int k = 0; k < K; k++) {
        const REAL *y = FN(row_)(p, ws, P, p->outputs[k].value, p->outputs[k].neuron, 0);
        for (int i = 0; i < np; i++) out[(int64_t)i * K + k] = y[i];
    }
}

/* Evaluates n points: tiles of P points spread over the threads, each
 * thread with its own workspace; BLAS runs single-threaded inside. */
static ddx_status FN(cpu_eval_)(const jet_program *p, int P, int threads, const REAL *pts, int64_t n, REAL *out,
                                char *err, size_t cap) {
    const int64_t ntiles = (n + P - 1) / P;
    const size_t ws_len = (size_t)p->workspace * (size_t)P;
    int failed = 0;
#pragma omp parallel num_threads(threads) if (ntiles > 1)
    {
        REAL *ws = calloc(ws_len, sizeof(REAL));
        if (!ws) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < ntiles; t++) {
            if (!ws) continue;
            const int64_t p0 = t * P;
            const int np = (int)(n - p0 < P ? n - p0 : P);
            FN(run_tile_)(p, ws, P, np, pts + p0 * p->d,
                          out + p0 * p->n_outputs);
        }
        free(ws);
    }
    if (failed) {
        snprintf(err, cap, "out of memory: tile workspace of %zu bytes", ws_len * sizeof(REAL));
        return DDX_ERR_OUT_OF_MEMORY;
    }
    return DDX_OK;
}

#undef FN
#undef CAT
#undef CAT2
