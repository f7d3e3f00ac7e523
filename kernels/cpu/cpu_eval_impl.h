/* cpu_eval_impl.h — the CPU evaluator's tile loop, written once and
 * included by cpu_variant.h for float (SFX f32) and double (SFX f64), in
 * every ISA variant. Expects REAL, SFX, WFIELD/BFIELD (jet_dense members),
 * POLY (jet_program member), gemm_<SFX>/rows_<SFX>/pack_<SFX>/NB_<SFX>
 * (gemm_tile.h) and the ddx_unary_derivs_<SFX> jet rule. */
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SFX)
#define NB_SFX_ CAT(NB_, SFX)

/* Row pointer of (neuron, channel) of value v in the tile workspace. */
static inline REAL *FN(row_)(const jet_program *p, REAL *ws, int P, int v, int neuron, int ch) {
    const jet_value *x = &p->values[v];
    return ws + (x->offset + (int64_t)neuron * x->nch + ch) * P;
}

/* Faa di Bruno over a tile, in chunks of UCH points: the derivative table
 * and each output channel's accumulator live in L1 (stack arrays), so each
 * channel is written once instead of once per term. */
#define UCH 64

/* The register-resident form of the Faa di Bruno terms (every term with at
 * most two factors: all of order <= 2, e.g. gradients, Hessians,
 * Laplacians). Each term is coef * D[k] * Z[a] * Z[b], a factor missing
 * reading a row of ones, so the term loop has no branch; per sub-block of
 * FLAT_SUB points a channel's accumulators are FLAT_SUB / VL vector
 * registers and the channel is stored once. The generic loop below kept its 64-point
 * accumulator array on the stack (a load + store per term and vector):
 * perf put it at 16 % of W1 on both avx512 and avx2. */
#define FLAT_MAXCH 64
#ifndef FLAT_SUB
#define FLAT_SUB 64 /* points per sub-block (vector registers per channel: FLAT_SUB / VL, <= 8) */
#endif
#define FLAT_MAXT 256
typedef struct FN(fterm_) {
    REAL coef;
    int k, a, b; /* derivative order; factor channels, nch = the row of ones */
} FN(fterm_);
typedef struct FN(flat_) {
    int ok, nch;
    int start[FLAT_MAXCH + 1];
    FN(fterm_) t[FLAT_MAXT];
} FN(flat_);
static const REAL FN(ones_)[UCH] __attribute__((aligned(64))) = {
#define O8 1, 1, 1, 1, 1, 1, 1, 1
    O8, O8, O8, O8, O8, O8, O8, O8
#undef O8
};

/* fl->ok = 0 when the unary has a term of 3+ factors or is too wide. */
static void FN(flat_build_)(const jet_program *p, const jet_instr *in, FN(flat_) *fl) {
    const int nch = p->values[in->dst].nch;
    fl->ok = 0;
    fl->nch = nch;
    if (nch > FLAT_MAXCH || in->term_start[nch] > FLAT_MAXT) return;
    for (int c = 0; c <= nch; c++) fl->start[c] = in->term_start[c];
    for (int t = 0; t < in->term_start[nch]; t++) {
        const fdb_term *ft = &in->fdb[t];
        if (ft->nf > 2) return;
        for (int j = 0; j < ft->nf; j++)
            if (ft->f[j] < 0 || ft->f[j] >= nch) return;
        fl->t[t].coef = (REAL)ft->coef;
        fl->t[t].k = ft->k;
        fl->t[t].a = ft->nf > 0 ? ft->f[0] : nch;
        fl->t[t].b = ft->nf > 1 ? ft->f[1] : nch;
    }
    fl->ok = 1;
}

/* Channels of points [i0, i1) of one neuron from the derivative table D,
 * U vectors at a time (a compile-time constant once inlined). */
static inline __attribute__((always_inline)) void FN(fdb_flat_u_)(const FN(flat_) *fl, const REAL (*D)[UCH],
                                                                  const REAL *const *zr, REAL *y, int64_t ys,
                                                                  int i0, int i1, const int U) {
    enum { VL = CAT(VL_, SFX) };
    typedef CAT(v_, SFX) vt;
    for (int i = i0; i + U * VL <= i1; i += U * VL)
        for (int c = 0; c < fl->nch; c++) {
            vt acc[8];
            for (int u = 0; u < U; u++) acc[u] = (vt){0};
            for (int t = fl->start[c]; t < fl->start[c + 1]; t++) {
                const FN(fterm_) *ft = &fl->t[t];
                const REAL *d = D[ft->k] + i, *pa = zr[ft->a] + i, *pb = zr[ft->b] + i;
                const vt cf = ft->coef - (vt){0};
                for (int u = 0; u < U; u++)
                    acc[u] += cf * CAT(ld_, SFX)(d + u * VL) * CAT(ld_, SFX)(pa + u * VL) * CAT(ld_, SFX)(pb + u * VL);
            }
            for (int u = 0; u < U; u++) CAT(st_, SFX)(y + c * ys + i + u * VL, acc[u]);
        }
}

/* All channels of m points (m a multiple of the vector length) of one neuron. */
static inline __attribute__((always_inline)) void FN(fdb_flat_)(const FN(flat_) *fl, const REAL (*D)[UCH],
                                                                const REAL *z, int64_t zs, REAL *y, int64_t ys,
                                                                const int m) {
    enum { VL = CAT(VL_, SFX), U = FLAT_SUB / VL < 1 ? 1 : FLAT_SUB / VL > 8 ? 8 : FLAT_SUB / VL };
    const REAL *zr[FLAT_MAXCH + 1];
    for (int c = 0; c < fl->nch; c++) zr[c] = z + c * zs;
    zr[fl->nch] = FN(ones_);
    const int mu = m / (U * VL) * (U * VL);
    FN(fdb_flat_u_)(fl, D, zr, y, ys, 0, mu, U);
    if (mu < m) FN(fdb_flat_u_)(fl, D, zr, y, ys, mu, m, 1);
}

/* The derivative table D[k][i] = f^(k)(z0[i]), k <= kmax, of m points. */
static inline __attribute__((always_inline)) void FN(deriv_table_)(const jet_program *p, const jet_instr *in,
                                                                   const REAL *z0, REAL D[][UCH], const int m) {
    const int K = in->kmax;
    const REAL *poly = in->uop == DDX_R_TANH ? p->POLY[0] : p->POLY[1];
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
}

/* acc += one Faa di Bruno term over m points. */
static inline __attribute__((always_inline)) void FN(fdb_acc_)(const fdb_term *ft, REAL D[][UCH], const REAL *z,
                                                               int64_t zs, REAL *acc, const int m) {
    const REAL coef = (REAL)ft->coef;
    const REAL *Dk = D[ft->k];
    const REAL *f0 = ft->nf > 0 ? z + ft->f[0] * zs : NULL;
    const REAL *f1 = ft->nf > 1 ? z + ft->f[1] * zs : NULL;
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
    case 3: { /* 3 and 4 factors: the collapsed biharmonic has thousands of such terms */
        const REAL *f2 = z + ft->f[2] * zs;
        for (int i = 0; i < m; i++) acc[i] += coef * Dk[i] * f0[i] * f1[i] * f2[i];
        break;
    }
    case 4: {
        const REAL *f2 = z + ft->f[2] * zs, *f3 = z + ft->f[3] * zs;
        for (int i = 0; i < m; i++) acc[i] += coef * Dk[i] * f0[i] * f1[i] * f2[i] * f3[i];
        break;
    }
    default: {
        const REAL *fr[DDX_MAX_ORDER];
        for (int j = 0; j < ft->nf; j++) fr[j] = z + ft->f[j] * zs;
        for (int i = 0; i < m; i++) {
            REAL r = coef * Dk[i];
            for (int j = 0; j < ft->nf; j++) r *= fr[j][i];
            acc[i] += r;
        }
    }
    }
}

/* One chunk of m points of one neuron. Inlined twice: with m = UCH (a
 * compile-time constant) and with the ragged rest of a tile. Channel c of
 * the input is z + c * zs, of the output y + c * ys. Terms of 3+ factors
 * (order >= 3) take the generic loop below. */
static inline __attribute__((always_inline)) void FN(unary_chunk_)(const jet_program *p, const jet_instr *in,
                                                                   const FN(flat_) *fl, const REAL *z, int64_t zs,
                                                                   REAL *y, int64_t ys, const int m) {
    const jet_value *dv = &p->values[in->dst];
    REAL D[DDX_MAX_ORDER + 1][UCH], acc[UCH];
    FN(deriv_table_)(p, in, z, D, m);
    if (fl->ok && m % CAT(VL_, SFX) == 0) {
        FN(fdb_flat_)(fl, (const REAL(*)[UCH])D, z, zs, y, ys, m);
        return;
    }
    for (int c = 0; c < dv->nch; c++) {
        for (int i = 0; i < m; i++) acc[i] = 0;
        for (int t = in->term_start[c]; t < in->term_start[c + 1]; t++) FN(fdb_acc_)(&in->fdb[t], D, z, zs, acc, m);
        REAL *yc = y + c * ys;
        for (int i = 0; i < m; i++) yc[i] = acc[i];
    }
}

/* The same for neuron n of a unary with structural zeros (sparsity.c): only
 * its non-zero channels, each with its non-zero terms (the dense order, so
 * the same sums); the zero channels are written only if sp_zero_fill. */
static inline __attribute__((always_inline)) void FN(unary_chunk_sparse_)(const jet_program *p, const jet_instr *in,
                                                                          int n, const REAL *z, int64_t zs, REAL *y,
                                                                          int64_t ys, const int m) {
    const jet_value *dv = &p->values[in->dst];
    REAL D[DDX_MAX_ORDER + 1][UCH], acc[UCH];
    FN(deriv_table_)(p, in, z, D, m);
    int c = 0;
    for (int e = in->sp_nstart[n]; e < in->sp_nstart[n + 1]; e++) {
        const int ce = in->sp_ch[e];
        for (; in->sp_zero_fill && c < ce; c++)
            for (int i = 0; i < m; i++) y[c * ys + i] = 0;
        for (int i = 0; i < m; i++) acc[i] = 0;
        for (int t = in->sp_tstart[e]; t < in->sp_tstart[e + 1]; t++)
            FN(fdb_acc_)(&in->fdb[in->sp_term[t]], D, z, zs, acc, m);
        REAL *yc = y + ce * ys;
        for (int i = 0; i < m; i++) yc[i] = acc[i];
        c = ce + 1;
    }
    for (; in->sp_zero_fill && c < dv->nch; c++)
        for (int i = 0; i < m; i++) y[c * ys + i] = 0;
}

/* Faa di Bruno over a tile, in chunks of UCH points: the derivative table
 * and each output channel's accumulator live in L1 (stack arrays), so each
 * channel is written once instead of once per term. */
static void FN(run_unary_)(const jet_program *p, const jet_instr *in, REAL *ws, int P, int np) {
    const jet_value *dv = &p->values[in->dst];
    FN(flat_) fl;
    FN(flat_build_)(p, in, &fl);
    for (int n = 0; n < dv->width; n++) {
        const REAL *z = FN(row_)(p, ws, P, in->a, n, 0);
        REAL *y = FN(row_)(p, ws, P, in->dst, n, 0);
        int i0 = 0;
        if (in->sp_nstart) {
            for (; i0 + UCH <= np; i0 += UCH) FN(unary_chunk_sparse_)(p, in, n, z + i0, P, y + i0, P, UCH);
            if (i0 < np) FN(unary_chunk_sparse_)(p, in, n, z + i0, P, y + i0, P, np - i0);
            continue;
        }
        for (; i0 + UCH <= np; i0 += UCH) FN(unary_chunk_)(p, in, &fl, z + i0, P, y + i0, P, UCH);
        if (i0 < np) FN(unary_chunk_)(p, in, &fl, z + i0, P, y + i0, P, np - i0);
    }
}

/* DENSE in + UNARY un fused (cpu_kernels.h): per strip of S points, B is
 * packed for every channel once (S / NB panels of K x NB each); per block
 * of MR neurons the GEMM's register tiles go to a small block zb
 * (MR x channels x S, L1) with the bias added, and the Faa di Bruno
 * epilogue turns it into the activated jet written straight to the unary's
 * rows: the pre-activation jet never reaches the tile workspace (no write +
 * re-read of a whole layer). S = 64 where the tile allows (the epilogue's
 * per-neuron overhead is then spread over as many points as unfused). */
static inline __attribute__((always_inline)) void FN(dense_unary_)(const jet_program *p, const jet_instr *in,
                                                                  const jet_instr *un, REAL *ws, REAL *scratch,
                                                                  int P, int np, const int S) {
    enum { NB = NB_SFX_, MR = DDX_MR };
    const jet_dense *w = &p->dense[in->dense];
    const jet_value *av = &p->values[in->a], *yv = &p->values[un->dst];
    const int nch = av->nch, K = w->in, M = w->out;
    const int64_t ldb = (int64_t)nch * P;
    REAL *pack = scratch, *zb = scratch + (size_t)nch * K * S;
    const REAL *B = ws + av->offset * P;
    FN(flat_) fl;
    FN(flat_build_)(p, un, &fl);
    for (int j = 0; j < np; j += S) {
        /* panel (c, q): channel c, columns j + q*NB .. + NB */
        for (int c = 0; c < nch; c++)
            for (int q = 0; q < S / NB; q++)
                FN(pack_)(pack + ((size_t)c * (S / NB) + q) * K * NB, B + (int64_t)c * P + j + q * NB, (int)ldb, K);
        for (int i = 0; i < M; i += MR) {
            const int mr = M - i < MR ? M - i : MR;
            /* zb[c][r][0..S): channel c of neuron i + r */
            for (int c = 0; c < nch; c++)
                for (int q = 0; q < S / NB; q++)
                    FN(rows_)(mr, K, w->WFIELD + (int64_t)i * K, K, pack + ((size_t)c * (S / NB) + q) * K * NB,
                              zb + (size_t)c * mr * S + q * NB, S, 0);
            for (int r = 0; r < mr; r++) {
                const REAL bn = w->BFIELD[i + r];
                for (int t = 0; t < S; t++) zb[(size_t)r * S + t] += bn;
            }
            for (int r = 0; r < mr; r++)
                FN(unary_chunk_)(p, un, &fl, zb + (size_t)r * S, (int64_t)mr * S,
                                 ws + (yv->offset + (int64_t)(i + r) * yv->nch) * P + j, P, S);
        }
    }
}

/* The same for a dense layer over structural zeros (sparsity.c) + its
 * activation: per strip of NB points only the non-zero rows are packed (per
 * channel its runs of units: a few rows instead of K), then per block of MR
 * neurons one small GEMM per (channel, run) into zb and the epilogue; the
 * sums are those of run_dense_sparse_ (same kernel, same order). */
static void FN(dense_sparse_unary_)(const jet_program *p, const jet_instr *in, const jet_instr *un, REAL *ws,
                                    REAL *scratch, int P, int np) {
    enum { NB = NB_SFX_, MR = DDX_MR };
    const jet_dense *w = &p->dense[in->dense];
    const jet_value *av = &p->values[in->a], *yv = &p->values[un->dst];
    const int K = w->in, M = w->out;
    const int64_t ldb = (int64_t)av->nch * P;
    const int *grp = in->sp_group, *run = in->sp_run, ng = in->sp_ngroups;
    size_t packlen = 0;
    for (int q = 0; q < ng; q++)
        for (int r = grp[4 * q + 3]; r < grp[4 * q + 7]; r++)
            packlen += (size_t)grp[4 * q + 2] * (run[2 * r + 1] - run[2 * r]);
    REAL *pack = scratch, *zb = scratch + packlen * NB;
    const REAL *B = ws + av->offset * P;
    FN(flat_) fl;
    FN(flat_build_)(p, un, &fl);
    for (int j = 0; j < np; j += NB) {
        size_t off = 0;
        for (int q = 0; q < ng; q++)
            for (int k = 0; k < grp[4 * q + 2]; k++)
                for (int r = grp[4 * q + 3]; r < grp[4 * q + 7]; r++) {
                    const int u0 = run[2 * r], kr = run[2 * r + 1] - u0;
                    FN(pack_)(pack + off, B + (int64_t)(grp[4 * q + 1] + k) * P + (int64_t)u0 * ldb + j, (int)ldb, kr);
                    off += (size_t)kr * NB;
                }
        for (int i = 0; i < M; i += MR) {
            const int mr = M - i < MR ? M - i : MR;
            off = 0;
            for (int q = 0; q < ng; q++)
                for (int k = 0; k < grp[4 * q + 2]; k++) {
                    REAL *zc = zb + (size_t)(grp[4 * q] + k) * mr * NB; /* zb[c][r][0..NB) */
                    if (grp[4 * q + 3] == grp[4 * q + 7]) memset(zc, 0, sizeof(REAL) * (size_t)mr * NB);
                    for (int r = grp[4 * q + 3]; r < grp[4 * q + 7]; r++) {
                        const int u0 = run[2 * r], kr = run[2 * r + 1] - u0;
                        FN(rows_)(mr, kr, w->WFIELD + (int64_t)i * K + u0, K, pack + off, zc, NB, r > grp[4 * q + 3]);
                        off += (size_t)kr * NB;
                    }
                }
            for (int r = 0; r < mr; r++) {
                const REAL bn = w->BFIELD[i + r];
                for (int t = 0; t < NB; t++) zb[(size_t)r * NB + t] += bn;
            }
            for (int r = 0; r < mr; r++) {
                REAL *y = ws + (yv->offset + (int64_t)(i + r) * yv->nch) * P + j;
                if (un->sp_nstart) /* a block-structured layer again: sparse activation */
                    FN(unary_chunk_sparse_)(p, un, i + r, zb + (size_t)r * NB, (int64_t)mr * NB, y, P, NB);
                else
                    FN(unary_chunk_)(p, un, &fl, zb + (size_t)r * NB, (int64_t)mr * NB, y, P, NB);
            }
        }
    }
}

static void FN(run_dense_unary_)(const jet_program *p, const jet_instr *in, const jet_instr *un, REAL *ws,
                                 REAL *scratch, int P, int np) {
    if (in->sp_group) FN(dense_sparse_unary_)(p, in, un, ws, scratch, P, np);
    else if (P % 64 == 0 && 64 % NB_SFX_ == 0) FN(dense_unary_)(p, in, un, ws, scratch, P, np, 64);
    else FN(dense_unary_)(p, in, un, ws, scratch, P, np, NB_SFX_);
}
#undef UCH

/* C += A B over K rows of B (ldb) and N columns, A with lda: B packed per
 * strip of NB columns and panels of <= 256 rows, as gemm_ (the same sums in
 * the same order); add = 0 overwrites C. */
static void FN(gemm_acc_)(int M, int N, int K, const REAL *A, int lda, const REAL *B, int ldb, REAL *C, int ldc,
                          int add) {
    REAL pack[256 * NB_SFX_] __attribute__((aligned(64)));
    int j = 0;
    for (; j + NB_SFX_ <= N; j += NB_SFX_)
        for (int k0 = 0; k0 < K; k0 += 256) {
            const int kc = K - k0 < 256 ? K - k0 : 256;
            FN(pack_)(pack, B + (long)k0 * ldb + j, ldb, kc);
            FN(rows_)(M, kc, A + k0, lda, pack, C + j, ldc, add || k0 > 0);
        }
    for (int i = 0; i < M; i++) /* column tail */
        for (int jj = j; jj < N; jj++) {
            REAL s = add ? C[(long)i * ldc + jj] : 0;
            for (int k = 0; k < K; k++) s += A[(long)i * lda + k] * B[(long)k * ldb + jj];
            C[(long)i * ldc + jj] = s;
        }
}

/* A dense layer over a unary with structural zeros (sparsity.c): per group
 * of channels (consecutive rows of a neuron: N = channels * P), one GEMM
 * per run of non-zero source units, K = the run's units, A = W's columns of
 * the run; a group with no run is zero. */
static void FN(run_dense_sparse_)(const jet_program *p, const jet_instr *in, REAL *ws, int P) {
    const jet_dense *w = &p->dense[in->dense];
    const jet_value *dv = &p->values[in->dst], *av = &p->values[in->a];
    REAL *C = ws + dv->offset * P;
    const REAL *B = ws + av->offset * P;
    const int ldc = dv->nch * P, ldb = av->nch * P;
    for (int q = 0; q < in->sp_ngroups; q++) {
        const int *g = in->sp_group + 4 * q, r0 = g[3], r1 = g[7];
        REAL *Cg = C + (int64_t)g[0] * P;
        const int N = g[2] * P;
        if (r0 == r1) {
            for (int n = 0; n < w->out; n++) memset(Cg + (int64_t)n * ldc, 0, sizeof(REAL) * (size_t)N);
            continue;
        }
        for (int r = r0; r < r1; r++) {
            const int u0 = in->sp_run[2 * r], u1 = in->sp_run[2 * r + 1];
            FN(gemm_acc_)(w->out, N, u1 - u0, w->WFIELD + u0, w->in, B + (int64_t)g[1] * P + (int64_t)u0 * ldb, ldb,
                          Cg, ldc, r > r0);
        }
    }
}

static void FN(run_dense_)(const jet_program *p, const jet_instr *in, REAL *ws, int P, int np) {
    const jet_dense *w = &p->dense[in->dense];
    const jet_value *dv = &p->values[in->dst], *av = &p->values[in->a];
    REAL *C = ws + dv->offset * P;
    const REAL *B = ws + av->offset * P;
    if (in->cjet) {
        /* over the inputs: a GEMM for the values; the other channels are W's
         * columns times the constant input jet (lower.c) */
        FN(gemm_)(w->out, P, w->in, w->WFIELD, w->in, B + (int64_t)in->amap[0] * P, av->nch * P, C, dv->nch * P);
        const REAL *cj = sizeof(REAL) == sizeof(float) ? (const REAL *)(const void *)in->cjetf
                                                       : (const REAL *)(const void *)in->cjet;
        for (int n = 0; n < w->out; n++)
            for (int c = 1; c < dv->nch; c++) {
                REAL *y = FN(row_)(p, ws, P, in->dst, n, c);
                const REAL v = cj[(size_t)n * dv->nch + c];
                /* no reader looks there (sparsity.c; its pattern is the double cjet's) */
                if (in->cjet_nz_only && in->cjet[(size_t)n * dv->nch + c] == 0) continue;
                for (int i = 0; i < P; i++) y[i] = v; /* padding columns too: the GEMMs read them */
            }
    } else if (in->sp_group) {
        FN(run_dense_sparse_)(p, in, ws, P);
    } else if (in->amap_identity) {
        /* the whole jet at once: out x (channels*P) = W (out x in) * in x (channels*P) */
        FN(gemm_)(w->out, dv->nch * P, w->in, w->WFIELD, w->in, B, av->nch * P, C, dv->nch * P);
    } else {
        for (int c = 0; c < dv->nch; c++)
            FN(gemm_)(w->out, P, w->in, w->WFIELD, w->in, B + (int64_t)in->amap[c] * P, av->nch * P, C + (int64_t)c * P,
                 dv->nch * P);
    }
    for (int n = 0; n < w->out; n++) {
        REAL *y = FN(row_)(p, ws, P, in->dst, n, 0);
        const REAL bn = w->BFIELD[n];
        for (int i = 0; i < np; i++) y[i] += bn;
    }
}

/* One tile (the variant's entry point, cpu_kernels.h). */
static void FN(run_tile_)(const jet_program *p, const unsigned char *fuse, REAL *ws, REAL *scratch, int P, int np,
                          const REAL *pts, REAL *out) {
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
            /* fused when planned and the tile is whole strips */
            if (fuse && fuse[ii] && P % NB_SFX_ == 0) {
                FN(run_dense_unary_)(p, in, &p->instr[ii + 1], ws, scratch, P, np);
                ii++;
            } else
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

#undef FN
#undef NB_SFX_
#undef CAT
#undef CAT2
