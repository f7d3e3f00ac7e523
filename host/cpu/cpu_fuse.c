/* cpu_fuse.c — which DENSE -> UNARY pairs of a program the CPU variants run
 * as one fused GEMM + Faa di Bruno epilogue (cpu_eval_impl.h), decided once
 * per program in cpu_prepare, and the per-thread scratch those need. */
#include <stddef.h>

#include "kernels/cpu/cpu_kernels.h"

/* Fusion plan: DENSE i (all channels in one GEMM) then UNARY i + 1 on its
 * output, which nothing later reads and which is no program output. The
 * unary's rows may be the dense input's (the workspace reuses dead rows):
 * the fused kernel packs a strip's whole input before it writes that
 * strip's columns, and writes no other columns. A first layer with a
 * constant input jet (cjet, lower.c) is not a whole-jet GEMM: never fused.
 * A dense layer over structural zeros (sparsity.c: GEMMs per run of units)
 * has its own fused kernel, used on every ISA. */
static int reads_value(const jet_instr *in, int v) {
    return (in->op != JI_INPUT && in->op != JI_CONST && in->a == v) || in->b == v;
}

int ddx_cpu_fuse_plan(const jet_program *p, unsigned char *fuse, int dense_pairs) {
    int n = 0;
    for (int i = 0; i < p->n_instr; i++) fuse[i] = 0;
#ifdef DDX_CPU_NO_FUSE /* a build to measure the unfused path against */
    return 0;
#endif
    for (int i = 0; i + 1 < p->n_instr; i++) {
        const jet_instr *d = &p->instr[i], *u = &p->instr[i + 1];
        /* a dense over structural zeros: always (its output would be a whole
         * jet written and re-read for little arithmetic) */
        int sparse = d->op == JI_DENSE && d->sp_group;
        if (!sparse && (!dense_pairs || d->op != JI_DENSE || !d->amap_identity || d->cjet)) continue;
        if (u->op != JI_UNARY || u->a != d->dst) continue;
        int ok = 1;
        for (int j = i + 2; j < p->n_instr && ok; j++) ok = !reads_value(&p->instr[j], d->dst);
        for (int k = 0; k < p->n_outputs && ok; k++) ok = p->outputs[k].value != d->dst;
        if (ok) fuse[i] = 1, n++;
    }
    return n;
}

size_t ddx_cpu_scratch_len(const jet_program *p, const unsigned char *fuse) {
    size_t len = 0;
    for (int i = 0; i < p->n_instr; i++) {
        if (!fuse[i]) continue;
        const jet_dense *w = &p->dense[p->instr[i].dense];
        const int nch = p->values[p->instr[i].dst].nch;
        /* packed B for every channel (nch x K x NB) + the MR x nch x NB block */
        size_t need = (size_t)nch * DDX_CPU_NB_MAX * ((size_t)w->in + DDX_CPU_MR_MAX);
        if (need > len) len = need;
    }
    return len;
}
