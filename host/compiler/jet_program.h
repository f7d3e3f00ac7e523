/* jet_program.h — the lowered program every backend runs (internal).
 *
 * A value is a graph node's truncated Taylor jet over a tile of P points,
 * stored [neuron][channel][point]: for a dense layer the whole jet is then
 * one row-major matrix (width x channels*P) and the layer is one GEMM over
 * all coefficients. Channel c of a value is the multi-index set[c] of its
 * node; channel 0 is the value itself. */
#ifndef DDX_JET_PROGRAM_H
#define DDX_JET_PROGRAM_H

#include "ddx.h"
#include "host/graph/graph.h"
#include "host/compiler/multiindex.h"

typedef enum jet_opcode {
    JI_INPUT,  /* dst <- input column `input`: ch0 = x, ch e_input = 1,
                * ch seed_ch[k] = seed_val[k] (random directions) */
    JI_CONST,  /* dst <- constant: ch0 = c */
    JI_DENSE,  /* dst[c] = W a[amap[c]] (+ b on ch 0) */
    JI_UNARY,  /* Faa di Bruno: dst[c] = sum coef * f^(k)(a0) * prod a[f_j] */
    JI_ADD,    /* dst[c] = a[amap[c]] + b[bmap[c]] (scalar side broadcast) */
    JI_SUB,
    JI_MUL,    /* Leibniz: dst[c] = sum coef * a[ca] * b[cb] */
    JI_COPY    /* dst neuron dn, ch c <- a neuron an, ch amap[c]: grad (a
                * shifted map), component and concat */
} jet_opcode;

/* One Faa di Bruno term: coef * f^(k)(z) * prod_{j<nf} z[f[j]]. */
typedef struct fdb_term {
    double coef;
    int k, nf;
    int f[DDX_MAX_ORDER];
} fdb_term;

/* One Leibniz term: coef * a[ca] * b[cb]. */
typedef struct leib_term {
    double coef;
    int ca, cb;
} leib_term;

typedef struct jet_instr {
    jet_opcode op;
    int dst, a, b;       /* value ids (-1 unused) */
    int *amap, *bmap;    /* per dst channel: channel index in a / b */
    int input;           /* JI_INPUT: column; */
    int input_ch;        /* JI_INPUT: channel of e_input in dst, or -1 */
    int n_seed;          /* JI_INPUT: channels e_v of random directions v: */
    int *seed_ch;        /*   their channel in dst */
    double *seed_val;    /*   and v's component along this input */
    double cval;         /* JI_CONST */
    int dense;           /* JI_DENSE: index into prog->dense */
    int amap_identity;   /* JI_DENSE: a's channel set equals dst's: one GEMM */
    double *cjet;        /* JI_DENSE over the inputs (or NULL): W times the constant
                          * input jet, out x nch; only channel 0 is a GEMM */
    float *cjetf;
    int cjet_nz_only;    /* JI_DENSE with cjet: only sparse unaries read it, so only its
                          * non-zero constant entries are written (sparsity.c) */
    /* JI_UNARY after a constant-jet dense (sparsity.c): per neuron n only its
     * structurally non-zero channels sp_ch[sp_nstart[n] .. sp_nstart[n+1]),
     * entry e with the terms sp_term[sp_tstart[e] .. sp_tstart[e+1]) whose
     * factors are all non-zero; NULL: the dense Faa di Bruno loop */
    int *sp_nstart, *sp_ch, *sp_tstart, *sp_term;
    int sp_zero_fill;    /* also write the zero channels (a reader needs them) */
    /* JI_DENSE over such a unary: groups of consecutive dst channels whose
     * non-zero source units are the same runs; group q = sp_group[4q..4q+3]:
     * dst channel, src channel, channels, first run (runs end at the next
     * group's first run; sp_group[4 sp_ngroups + 3] = total runs); run r =
     * units [sp_run[2r], sp_run[2r+1]): one GEMM per run with K = its units */
    int sp_ngroups;
    int *sp_group, *sp_run;
    int uop;             /* JI_UNARY: DDX_R_* from ddx_jet_rules.h */
    double uparam;       /* JI_UNARY: power exponent */
    int kmax;            /* JI_UNARY: highest derivative order needed */
    int *term_start;     /* JI_UNARY / JI_MUL: nch+1 offsets into terms */
    fdb_term *fdb;
    leib_term *leib;
    int dn, an;          /* JI_COPY neurons */
} jet_instr;

typedef struct jet_value {
    int node;        /* graph node it holds */
    const char *label; /* the node's op name (static string) */
    int width;       /* neurons */
    int nch;         /* channels */
    int64_t offset;  /* in the tile workspace, in units of P reals */
} jet_value;

typedef struct jet_dense {
    int out, in;
    double *W, *b; /* copies, out x in row-major */
    float *Wf, *bf;
} jet_dense;

typedef struct jet_output {
    int value, neuron; /* column = channel 0 of this neuron of this value */
} jet_output;

typedef struct jet_program {
    int d;                 /* inputs per point */
    char **input_names;    /* d owned copies */
    ddx_cop *cops;         /* copy of the graph's collapsed operators (for names) */
    int n_cops;
    ddx_dirset *dirsets;   /* copy of the random-direction sets (L not kept), for describe */
    int n_dirsets;
    int n_values;
    jet_value *values;
    int n_nodes;
    int *node_value;       /* graph node -> value id, or -1 if not needed */
    mi_set *sets;          /* per value: its channel set */
    int n_instr;
    jet_instr *instr;
    int n_dense;
    jet_dense *dense;
    int n_outputs;
    jet_output *outputs;
    int64_t workspace;     /* tile workspace size, in units of P reals */
    int max_k;             /* largest derivative table over unary ops */
    double poly[3][(DDX_MAX_ORDER + 2) * 12]; /* tanh P_k, sigmoid Q_k (see jet rules) */
    float polyf[3][(DDX_MAX_ORDER + 2) * 12];
    double flops;          /* useful FLOPs per point */
    int network_channels;  /* largest channel count of a dense layer */
    char sparsity[256];    /* what sparsity.c used, for describe ("" if nothing) */
} jet_program;

/* Analyses and lowers; on failure returns non-OK with a message in err. */
ddx_status jet_program_build(const ddx_graph *g, const ddx_node *outputs, int n_outputs,
                             jet_program **out, char *err, size_t errcap);
/* flags (needs.h): NEEDS_CONST_JET: dense layers over the inputs get cjet
 * (backends that run it: CPU, CUDA); NEEDS_UNCOLLAPSED: no collapsed channels */
ddx_status jet_program_build_ex(const ddx_graph *g, const ddx_node *outputs, int n_outputs, int flags,
                                jet_program **out, char *err, size_t errcap);
void jet_program_free(jet_program *p);
/* sparsity.c: structural zeros of the first layer(s) (a block-structured W
 * over the inputs): marks the unary after a constant-jet dense and the dense
 * after it to work on the non-zero (channel, neuron) entries only. Off when
 * the environment has DDX_SPARSE=0. Returns non-zero when out of memory. */
int jet_program_sparsity(jet_program *p);

#endif
