/* graph.h — the graph as the compiler sees it (internal).
 * Nodes live in one array; a node's operands always have smaller ids, so
 * id order is a topological order (the needs analysis walks it backwards). */
#ifndef DDX_GRAPH_H
#define DDX_GRAPH_H

#include <stdint.h>
#include "ddx.h"

typedef enum ddx_opcode {
    OP_INPUT, OP_CONST, OP_ADD, OP_SUB, OP_MUL, OP_UNARY, OP_POWI, OP_POW,
    OP_DENSE, OP_COMPONENT, OP_CONCAT, OP_GRAD,
    OP_LAPLACE /* sum_i d^2 a/dx_i^2 as one collapsed channel of a (ival:
                * index of its ddx_cop); b is the same sum spelled with grad
                * nodes, used instead when the Laplacian is differentiated */
} ddx_opcode;

typedef struct ddx_dense_weights {
    int out, in;
    double *W; /* out x in, row-major */
    double *b; /* out */
} ddx_dense_weights;

/* A collapsed operator, i.e. a kind of collapsed channel (multiindex.h):
 * sum over in[] (ascending input indices) of d^2/dx_i^2 (A == NULL, a
 * Laplacian) or sum_jk A[j][k] d^2/dx_in[j] dx_in[k] (A: n_in x n_in,
 * symmetric). Operators over the same inputs and A share one, so the
 * network carries one channel for them. */
typedef struct ddx_cop {
    int n_in;
    int *in;
    double *A;
} ddx_cop;

/* Coordinates at and above DDX_DIR_BASE are not inputs but the random
 * directions of a stochastic estimator (ddx_dirset below): channel
 * e_(DDX_DIR_BASE+k) is the directional derivative along direction k.
 * DDX_DIR_BASE is therefore also the limit on the number of inputs. */
#define DDX_DIR_BASE (1 << 24)

/* S random directions v_s (s = 0..S-1) of a stochastic estimator: their
 * coordinates are DDX_DIR_BASE + first + s; component i of v_s is
 * ddx_dir_component(seed, s, i, dist) (graph.c), i.e. a function of the
 * seed alone, the same on every backend and thread. */
typedef enum ddx_dist { DDX_DIST_RADEMACHER = 0, DDX_DIST_GAUSSIAN = 1 } ddx_dist;
typedef struct ddx_dirset {
    int first, S;
    uint64_t seed;
    ddx_dist dist;
    int nL;    /* L != NULL: v_s = L z_s with z_s as above, L nL x nL (nL = d */
    double *L; /* when built) lower-triangular, so E[v v^T] = L L^T = A */
} ddx_dirset;
double ddx_dir_component(uint64_t seed, int s, int i, ddx_dist dist);
/* Component i of direction s of a dirset (through L when it has one). */
double ddx_dirset_component(const ddx_dirset *ds, int s, int i);

typedef struct ddx_gnode {
    ddx_opcode op;
    int width;
    ddx_node a, b;      /* operands (DDX_NO_NODE when unused) */
    ddx_unary_op uop;   /* OP_UNARY */
    int ival;           /* POWI exponent, COMPONENT index, GRAD/INPUT input index (GRAD:
                         * DDX_DIR_BASE + k is the derivative along direction k) */
    double dval;        /* CONST value, POW exponent */
    int dense;          /* OP_DENSE: index into graph->dense */
    ddx_node *args;     /* OP_CONCAT operands (n_args of them) */
    int n_args;
    int order;          /* grad nesting depth below and at this node */
} ddx_gnode;

struct ddx_graph {
    ddx_gnode *nodes;
    int n_nodes, cap_nodes;
    int *cse;    /* hash-consing: open-addressed table of node ids, -1 = empty */
    int cap_cse; /* a power of two, at least twice the nodes in it */
    ddx_dense_weights *dense;
    int n_dense, cap_dense;
    ddx_node *inputs;   /* n_inputs of them (a run-time size, grown geometrically) */
    char **input_names;
    int n_inputs, cap_inputs;
    ddx_cop *cops;      /* collapsed operators; OP_LAPLACE's ival indexes them */
    int n_cops;
    ddx_dirset *dirsets; /* random directions of stochastic estimators */
    int n_dirsets, n_dirs;
    ddx_status status;
    char error[1024];
};

/* Records the first error (printf-style) and returns DDX_NO_NODE. */
ddx_node ddx_graph_fail(ddx_graph *g, ddx_status s, const char *fmt, ...);
const char *ddx_opcode_name(const ddx_gnode *n);

#endif
