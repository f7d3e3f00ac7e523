/* graph.h — the graph as the compiler sees it (internal).
 * Nodes live in one array; a node's operands always have smaller ids, so
 * id order is a topological order (the needs analysis walks it backwards). */
#ifndef DDX_GRAPH_H
#define DDX_GRAPH_H

#include "ddx.h"

typedef enum ddx_opcode {
    OP_INPUT, OP_CONST, OP_ADD, OP_SUB, OP_MUL, OP_UNARY, OP_POWI, OP_POW,
    OP_DENSE, OP_COMPONENT, OP_CONCAT, OP_GRAD,
    OP_LAPLACE /* sum_i d^2 a/dx_i^2 as one collapsed channel of a; b is the
                * same sum spelled with grad nodes, used instead when the
                * Laplacian itself is differentiated */
} ddx_opcode;

typedef struct ddx_dense_weights {
    int out, in;
    double *W; /* out x in, row-major */
    double *b; /* out */
} ddx_dense_weights;

typedef struct ddx_gnode {
    ddx_opcode op;
    int width;
    ddx_node a, b;      /* operands (DDX_NO_NODE when unused) */
    ddx_unary_op uop;   /* OP_UNARY */
    int ival;           /* POWI exponent, COMPONENT index, GRAD/INPUT input index */
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
    ddx_node inputs[DDX_MAX_INPUTS];
    char *input_names[DDX_MAX_INPUTS];
    int n_inputs;
    ddx_status status;
    char error[1024];
};

/* Records the first error (printf-style) and returns DDX_NO_NODE. */
ddx_node ddx_graph_fail(ddx_graph *g, ddx_status s, const char *fmt, ...);
const char *ddx_opcode_name(const ddx_gnode *n);

#endif
