/* lower.c — from graph + needs to the jet program: one value per needed
 * node, one instruction per node (concat: one copy per operand), tables for
 * the elementwise rules, and a tile workspace laid out with reuse of dead
 * values (liveness), so a deep network needs only a few layer buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/compiler/liveness.h"
#include "kernels/ddx_jet_rules.h"
#include "host/compiler/jet_program.h"
#include "host/compiler/jet_tables.h"
#include "host/compiler/needs.h"

typedef struct lower_ctx {
    const ddx_graph *g;
    jet_program *p;
    mi_set *sets; /* per graph node */
    int const_jet, uncollapsed;
    char *err;
    size_t errcap;
    int cap_instr; /* allocated entries of p->instr */
} lower_ctx;

static ddx_status oom(lower_ctx *c) {
    snprintf(c->err, c->errcap, "out of memory while compiling");
    return DDX_ERR_OUT_OF_MEMORY;
}

static jet_instr *new_instr(lower_ctx *c, jet_opcode op, int node) {
    jet_program *p = c->p;
    if (p->n_instr == c->cap_instr) { /* geometric growth: linear in the instructions */
        int cap = c->cap_instr ? 2 * c->cap_instr : 64;
        jet_instr *in = realloc(p->instr, sizeof(jet_instr) * (size_t)cap);
        if (!in) return NULL;
        p->instr = in;
        c->cap_instr = cap;
    }
    jet_instr *x = &p->instr[p->n_instr++];
    memset(x, 0, sizeof *x);
    x->op = op;
    x->dst = p->node_value[node];
    x->a = x->b = -1;
    x->input_ch = -1;
    return x;
}

/* map[c] = index in `from` of dst channel c shifted by e_shift (-1: none). */
static int *channel_map(const mi_set *dst, const mi_set *from, int shift) {
    int *m = malloc(sizeof(int) * (size_t)dst->n);
    if (!m) return NULL;
    for (int c = 0; c < dst->n; c++) {
        ddx_mi a = dst->v[c];
        m[c] = (shift >= 0 && mi_shift(&a, shift)) ? -1 : mi_set_find(from, &a);
    }
    return m;
}

/* Channels e_v of random directions v in an input's set start at value
 * v_i (the input moves along v: x + t v); 0 or -1 when out of memory. */
static int seed_directions(lower_ctx *c, jet_instr *in, const mi_set *S, int input) {
    for (int ch = 0; ch < S->n; ch++) {
        const ddx_mi *m = &S->v[ch];
        if (m->op || m->n != 1 || m->lab[0] < DDX_DIR_BASE) continue;
        int k = m->lab[0] - DDX_DIR_BASE;
        const ddx_dirset *ds = NULL;
        for (int j = 0; j < c->g->n_dirsets; j++)
            if (k >= c->g->dirsets[j].first && k < c->g->dirsets[j].first + c->g->dirsets[j].S) ds = &c->g->dirsets[j];
        if (!ds) continue; /* cannot happen: directions come from a dirset */
        int *ic = realloc(in->seed_ch, sizeof(int) * (size_t)(in->n_seed + 1));
        if (!ic) return -1;
        in->seed_ch = ic;
        double *iv = realloc(in->seed_val, sizeof(double) * (size_t)(in->n_seed + 1));
        if (!iv) return -1;
        in->seed_val = iv;
        in->seed_ch[in->n_seed] = ch;
        in->seed_val[in->n_seed++] = ddx_dirset_component(ds, k - ds->first, input);
    }
    return 0;
}

static int r_opcode(const ddx_gnode *x) {
    if (x->op == OP_POWI) return DDX_R_POWI;
    if (x->op == OP_POW) return DDX_R_POW;
    return (int)x->uop; /* DDX_R_* equal ddx_unary_op for the unary ops: */
}
#define SAME_CODE(a, ID, name, onnx, P) _Static_assert((int)DDX_R_##ID == (int)DDX_##ID, "DDX_R_" #ID);
DDX_UNARY_OPS(SAME_CODE, _)
#undef SAME_CODE
_Static_assert((int)DDX_R_POWI == (int)DDX_NUM_UNARY_OPS, "the powers follow the last unary op");

/* Component of input `input`'s jet in channel m: 1 on e_input, v_input on
 * a random direction v, 0 elsewhere (the input moves along x + t v). */
static double input_jet(const ddx_graph *g, const ddx_mi *m, int input) {
    if (m->op || m->n != 1) return 0;
    int k = m->lab[0];
    if (k < DDX_DIR_BASE) return k == input ? 1.0 : 0.0;
    k -= DDX_DIR_BASE;
    for (int j = 0; j < g->n_dirsets; j++) {
        const ddx_dirset *ds = &g->dirsets[j];
        if (k >= ds->first && k < ds->first + ds->S) return ddx_dirset_component(ds, k - ds->first, input);
    }
    return 0;
}

/* z = W x + b over the inputs x: channel 0 is a GEMM over the values; every
 * other channel is W times a constant (e_i or v), so W's columns, computed
 * here once: d x (1 + 2d) work per point becomes d x 1 (folx's trick for
 * the first layer, and what makes d in the thousands affordable). */
static ddx_status lower_const_jet_dense(lower_ctx *c, int n) {
    const ddx_gnode *x = &c->g->nodes[n];
    const mi_set *S = &c->sets[n];
    jet_program *p = c->p;
    jet_instr *in = new_instr(c, JI_DENSE, n);
    if (!in) return oom(c);
    in->a = p->node_value[x->a];
    in->dense = x->dense;
    const ddx_dense_weights *w = &c->g->dense[x->dense];
    in->amap = malloc(sizeof(int) * (size_t)S->n);
    in->cjet = calloc((size_t)w->out * (size_t)S->n, sizeof(double));
    in->cjetf = calloc((size_t)w->out * (size_t)S->n, sizeof(float));
    if (!in->amap || !in->cjet || !in->cjetf) return oom(c);
    const ddx_gnode *a = &c->g->nodes[x->a];
    for (int ch = 0; ch < S->n; ch++) {
        in->amap[ch] = ch == 0 ? 0 : -1;
        if (ch == 0 || S->v[ch].op || S->v[ch].n != 1) continue; /* order >= 2: the inputs' jet is 0 there */
        for (int j = 0; j < w->in; j++) {
            int input = a->op == OP_INPUT ? a->ival : c->g->nodes[a->args[j]].ival;
            double e = input_jet(c->g, &S->v[ch], input);
            if (e == 0) continue;
            for (int o = 0; o < w->out; o++) in->cjet[(size_t)o * S->n + ch] += w->W[(size_t)o * w->in + j] * e;
        }
    }
    for (size_t k = 0; k < (size_t)w->out * (size_t)S->n; k++) in->cjetf[k] = (float)in->cjet[k];
    p->flops += 2.0 * w->in * w->out;
    if (S->n > p->network_channels) p->network_channels = S->n;
    return DDX_OK;
}

static ddx_status lower_node(lower_ctx *c, int n) {
    const ddx_gnode *x = &c->g->nodes[n];
    const mi_set *S = &c->sets[n];
    jet_program *p = c->p;
    jet_instr *in;
    switch (x->op) {
    case OP_INPUT: {
        if (!(in = new_instr(c, JI_INPUT, n))) return oom(c);
        in->input = x->ival;
        ddx_mi e = mi_unit(x->ival);
        in->input_ch = mi_set_find(S, &e);
        return seed_directions(c, in, S, x->ival) ? oom(c) : DDX_OK;
    }
    case OP_CONST:
        if (!(in = new_instr(c, JI_CONST, n))) return oom(c);
        in->cval = x->dval;
        return DDX_OK;
    case OP_ADD:
    case OP_SUB:
        if (!(in = new_instr(c, x->op == OP_ADD ? JI_ADD : JI_SUB, n))) return oom(c);
        in->a = p->node_value[x->a];
        in->b = p->node_value[x->b];
        in->amap = channel_map(S, &c->sets[x->a], -1);
        in->bmap = channel_map(S, &c->sets[x->b], -1);
        if (!in->amap || !in->bmap) return oom(c);
        p->flops += (double)x->width * S->n;
        return DDX_OK;
    case OP_MUL:
        if (!(in = new_instr(c, JI_MUL, n))) return oom(c);
        in->a = p->node_value[x->a];
        in->b = p->node_value[x->b];
        if (leibniz_table_build(S, &c->sets[x->a], &c->sets[x->b], c->g->cops, &in->term_start,
                                &in->leib))
            return oom(c);
        p->flops += 3.0 * x->width * in->term_start[S->n];
        return DDX_OK;
    case OP_UNARY:
    case OP_POWI:
    case OP_POW: {
        if (!(in = new_instr(c, JI_UNARY, n))) return oom(c);
        in->a = p->node_value[x->a];
        in->uop = r_opcode(x);
        in->uparam = x->op == OP_POWI ? (double)x->ival : x->dval;
        /* orders whose derivative is identically zero: drop their terms */
        int kzero = -1;
        if (in->uop == DDX_R_NEG) kzero = 1;
        if (in->uop == DDX_R_POWI && x->ival >= 0) kzero = x->ival;
        in->kmax = mi_set_max_order(S);
        if (kzero >= 0 && in->kmax > kzero) in->kmax = kzero;
        if (in->kmax > p->max_k) p->max_k = in->kmax;
        if (fdb_table_build(S, &c->sets[x->a], c->g->cops, kzero, &in->term_start, &in->fdb))
            return oom(c);
        double f = 0;
        for (int t = 0; t < in->term_start[S->n]; t++) f += in->fdb[t].nf + 2;
        p->flops += (double)x->width * f;
        return DDX_OK;
    }
    case OP_DENSE: {
        if (c->const_jet && needs_is_input_vector(c->g, x->a)) return lower_const_jet_dense(c, n);
        if (!(in = new_instr(c, JI_DENSE, n))) return oom(c);
        in->a = p->node_value[x->a];
        in->dense = x->dense;
        in->amap = channel_map(S, &c->sets[x->a], -1);
        if (!in->amap) return oom(c);
        in->amap_identity = S->n == c->sets[x->a].n;
        const ddx_dense_weights *w = &c->g->dense[x->dense];
        p->flops += 2.0 * w->in * w->out * S->n;
        if (S->n > p->network_channels) p->network_channels = S->n;
        return DDX_OK;
    }
    case OP_COMPONENT:
        if (!(in = new_instr(c, JI_COPY, n))) return oom(c);
        in->a = p->node_value[x->a];
        in->an = x->ival;
        in->amap = channel_map(S, &c->sets[x->a], -1);
        return in->amap ? DDX_OK : oom(c);
    case OP_GRAD:
        /* d/dx_i y: channel alpha of the result is channel alpha + e_i of y */
        if (!(in = new_instr(c, JI_COPY, n))) return oom(c);
        in->a = p->node_value[x->a];
        in->amap = channel_map(S, &c->sets[x->a], x->ival);
        return in->amap ? DDX_OK : oom(c);
    case OP_LAPLACE: {
        /* collapsed: channel beta is channel Delta beta of the operand; else a
         * copy of the grad-spelled sum (the same test as the needs analysis) */
        if (!(in = new_instr(c, JI_COPY, n))) return oom(c);
        if (c->uncollapsed || !needs_laplace_collapses(S, x->ival)) {
            in->a = p->node_value[x->b];
            in->amap = channel_map(S, &c->sets[x->b], -1);
            return in->amap ? DDX_OK : oom(c);
        }
        in->a = p->node_value[x->a];
        if (!(in->amap = malloc(sizeof(int) * (size_t)S->n))) return oom(c);
        for (int ch = 0; ch < S->n; ch++) {
            ddx_mi m = S->v[ch];
            mi_add_pair(&m, x->ival + 1);
            in->amap[ch] = mi_set_find(&c->sets[x->a], &m);
        }
        return DDX_OK;
    }
    case OP_CONCAT:
        for (int i = 0; i < x->n_args; i++) {
            if (!(in = new_instr(c, JI_COPY, n))) return oom(c);
            in->a = p->node_value[x->args[i]];
            in->dn = i;
            in->amap = channel_map(S, &c->sets[x->args[i]], -1);
            if (!in->amap) return oom(c);
        }
        return DDX_OK;
    }
    snprintf(c->err, c->errcap, "node %d: unknown op", n);
    return DDX_ERR_INTERNAL;
}

/* Workspace layout: values get blocks of width*nch tile rows; a block is
 * reused once its value's last reader has run (liveness.h, best fit). */
static ddx_status layout_workspace(lower_ctx *c) {
    jet_program *p = c->p;
    int *last = malloc(sizeof(int) * (size_t)(p->n_values + 1));
    int *placed = calloc((size_t)p->n_values + 1, sizeof(int));
    live_alloc la;
    if (!last || !placed || live_init(&la, p->n_values)) {
        free(last);
        free(placed);
        return oom(c);
    }
    for (int v = 0; v < p->n_values; v++) last[v] = -1;
    for (int i = 0; i < p->n_instr; i++) {
        if (p->instr[i].a >= 0) last[p->instr[i].a] = i;
        if (p->instr[i].b >= 0) last[p->instr[i].b] = i;
    }
    for (int o = 0; o < p->n_outputs; o++) last[p->outputs[o].value] = p->n_instr; /* live to the end */
    for (int i = 0; i < p->n_instr; i++) {
        int v = p->instr[i].dst;
        if (!placed[v]) {
            p->values[v].offset = live_place(&la, v, (int64_t)p->values[v].width * p->values[v].nch, -1, NULL);
            placed[v] = 1;
        }
        live_release(&la, last, i, v); /* values read for the last time here */
    }
    p->workspace = la.total;
    live_free(&la);
    free(last);
    free(placed);
    return DDX_OK;
}

ddx_status jet_program_build(const ddx_graph *g, const ddx_node *outputs, int n_outputs,
                             jet_program **out, char *err, size_t errcap) {
    return jet_program_build_ex(g, outputs, n_outputs, 0, out, err, errcap);
}

ddx_status jet_program_build_ex(const ddx_graph *g, const ddx_node *outputs, int n_outputs, int flags,
                                jet_program **out, char *err, size_t errcap) {
    *out = NULL;
    jet_program *p = calloc(1, sizeof *p);
    mi_set *sets = calloc((size_t)g->n_nodes + 1, sizeof(mi_set));
    lower_ctx c = {g, p, sets, !!(flags & NEEDS_CONST_JET), !!(flags & NEEDS_UNCOLLAPSED), err, errcap, 0};
    ddx_status st = DDX_OK;
    if (!p || !sets) {
        free(p);
        free(sets);
        return oom(&c);
    }
    p->d = g->n_inputs;
    p->input_names = calloc((size_t)g->n_inputs + 1, sizeof(char *));
    p->cops = calloc((size_t)g->n_cops + 1, sizeof(ddx_cop));
    int names_ok = p->input_names && p->cops;
    for (int i = 0; names_ok && i < g->n_inputs; i++) names_ok = (p->input_names[i] = strdup(g->input_names[i])) != NULL;
    for (int k = 0; names_ok && k < g->n_cops; k++) {
        p->cops[k].in = malloc(sizeof(int) * (size_t)g->cops[k].n_in);
        if (!(names_ok = p->cops[k].in != NULL)) break;
        p->n_cops++;
        p->cops[k].n_in = g->cops[k].n_in;
        memcpy(p->cops[k].in, g->cops[k].in, sizeof(int) * (size_t)g->cops[k].n_in);
        if (g->cops[k].A) {
            size_t na = (size_t)g->cops[k].n_in * (size_t)g->cops[k].n_in;
            if (!(names_ok = (p->cops[k].A = malloc(sizeof(double) * na)) != NULL)) break;
            memcpy(p->cops[k].A, g->cops[k].A, sizeof(double) * na);
        }
    }
    if (names_ok && g->n_dirsets) {
        names_ok = (p->dirsets = malloc(sizeof(ddx_dirset) * (size_t)g->n_dirsets)) != NULL;
        for (int k = 0; names_ok && k < g->n_dirsets; k++) {
            p->dirsets[k] = g->dirsets[k];
            p->dirsets[k].L = NULL;
        }
        if (names_ok) p->n_dirsets = g->n_dirsets;
    }
    if (!names_ok) {
        free(sets);
        jet_program_free(p);
        return oom(&c);
    }
    st = needs_analyze_ex(g, outputs, n_outputs, sets, flags, err, errcap);
    if (st) goto fail;

    p->n_nodes = g->n_nodes;
    p->node_value = malloc(sizeof(int) * (size_t)(g->n_nodes + 1));
    p->values = malloc(sizeof(jet_value) * (size_t)(g->n_nodes + 1));
    p->sets = calloc((size_t)g->n_nodes + 1, sizeof(mi_set));
    p->dense = calloc((size_t)g->n_dense + 1, sizeof(jet_dense));
    p->outputs = malloc(sizeof(jet_output) * 1);
    if (!p->node_value || !p->values || !p->sets || !p->dense || !p->outputs) {
        st = oom(&c);
        goto fail;
    }
    for (int n = 0; n < g->n_nodes; n++) {
        p->node_value[n] = -1;
        if (sets[n].n == 0) continue;
        int v = p->n_values++;
        p->node_value[n] = v;
        p->values[v] = (jet_value){n, ddx_opcode_name(&g->nodes[n]), g->nodes[n].width, sets[n].n, 0};
        p->sets[v] = sets[n];
        sets[n] = (mi_set){0};
    }
    /* sets now owned by the program, indexed by value; keep a node view */
    for (int n = 0; n < g->n_nodes; n++)
        if (p->node_value[n] >= 0) sets[n] = p->sets[p->node_value[n]];

    /* dense weights, in both precisions */
    p->n_dense = g->n_dense;
    for (int i = 0; i < g->n_dense; i++) {
        const ddx_dense_weights *w = &g->dense[i];
        jet_dense *jd = &p->dense[i];
        size_t nw = (size_t)w->out * (size_t)w->in;
        jd->out = w->out;
        jd->in = w->in;
        jd->W = malloc(sizeof(double) * nw);
        jd->b = malloc(sizeof(double) * (size_t)w->out);
        jd->Wf = malloc(sizeof(float) * nw);
        jd->bf = malloc(sizeof(float) * (size_t)w->out);
        if (!jd->W || !jd->b || !jd->Wf || !jd->bf) {
            st = oom(&c);
            goto fail_nodeview;
        }
        for (size_t k = 0; k < nw; k++) jd->Wf[k] = (float)(jd->W[k] = w->W[k]);
        for (int k = 0; k < w->out; k++) jd->bf[k] = (float)(jd->b[k] = w->b[k]);
    }
    for (int n = 0; n < g->n_nodes; n++) {
        if (p->node_value[n] < 0) continue;
        st = lower_node(&c, n);
        if (st) goto fail_nodeview;
    }
    /* outputs: every neuron of each output node is a column */
    int ncols = 0;
    for (int i = 0; i < n_outputs; i++) ncols += g->nodes[outputs[i]].width;
    free(p->outputs);
    p->outputs = malloc(sizeof(jet_output) * (size_t)(ncols ? ncols : 1));
    if (!p->outputs) {
        st = oom(&c);
        goto fail_nodeview;
    }
    for (int i = 0; i < n_outputs; i++)
        for (int j = 0; j < g->nodes[outputs[i]].width; j++)
            p->outputs[p->n_outputs++] = (jet_output){p->node_value[outputs[i]], j};
    derivative_polys(0, p->max_k, p->poly[0]);
    derivative_polys(1, p->max_k, p->poly[1]);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < (DDX_MAX_ORDER + 2) * 12; k++) p->polyf[r][k] = (float)p->poly[r][k];
    if ((flags & NEEDS_CONST_JET) && (flags & NEEDS_SPARSITY) && jet_program_sparsity(p)) {
        st = oom(&c);
        goto fail_nodeview;
    }
    st = layout_workspace(&c);
    if (st) goto fail_nodeview;
    free(sets);
    *out = p;
    return DDX_OK;
fail_nodeview:
    free(sets); /* entries alias p->sets */
    jet_program_free(p);
    return st;
fail:
    for (int n = 0; n < g->n_nodes; n++) mi_set_free(&sets[n]);
    free(sets);
    jet_program_free(p);
    return st;
}

void jet_program_free(jet_program *p) {
    if (!p) return;
    for (int i = 0; i < p->n_instr; i++) {
        jet_instr *x = &p->instr[i];
        free(x->amap);
        free(x->bmap);
        free(x->term_start);
        free(x->fdb);
        free(x->leib);
        free(x->seed_ch);
        free(x->cjet);
        free(x->cjetf);
        free(x->sp_nstart);
        free(x->sp_ch);
        free(x->sp_tstart);
        free(x->sp_term);
        free(x->sp_group);
        free(x->sp_run);
        free(x->seed_val);
    }
    if (p->sets)
        for (int v = 0; v < p->n_values; v++) mi_set_free(&p->sets[v]);
    for (int i = 0; p->dense && i < p->n_dense; i++) {
        free(p->dense[i].W);
        free(p->dense[i].b);
        free(p->dense[i].Wf);
        free(p->dense[i].bf);
    }
    for (int i = 0; p->input_names && i < p->d; i++) free(p->input_names[i]);
    free(p->input_names);
    for (int i = 0; i < p->n_cops; i++) free(p->cops[i].in), free(p->cops[i].A);
    free(p->cops);
    free(p->dirsets);
    free(p->instr);
    free(p->sets);
    free(p->values);
    free(p->node_value);
    free(p->dense);
    free(p->outputs);
    free(p);
}
