/* needs.h — needs analysis: per node, the multi-indices it must carry. */
#ifndef DDX_NEEDS_H
#define DDX_NEEDS_H
#include <stddef.h>
#include "host/graph/graph.h"
#include "host/compiler/multiindex.h"

/* sets: g->n_nodes empty sets, filled in; outs must be valid node ids. */
ddx_status needs_analyze(const ddx_graph *g, const ddx_node *outs, int n_outs, mi_set *sets,
                         char *err, size_t errcap);
/* flags: NEEDS_CONST_JET: a dense layer over the inputs themselves asks
 * them for their value only; its other channels are constants (columns of
 * W, lower.c). NEEDS_UNCOLLAPSED: no collapsed channels; every Laplacian
 * and op2 is carried as the partials it sums (comparisons and tests).
 * NEEDS_SPARSITY (with NEEDS_CONST_JET): mark the block-sparse layers
 * (sparsity.c); only the CPU evaluator runs them, CUDA reads the dense form. */
enum { NEEDS_CONST_JET = 1, NEEDS_UNCOLLAPSED = 2, NEEDS_SPARSITY = 4 };
ddx_status needs_analyze_ex(const ddx_graph *g, const ddx_node *outs, int n_outs, mi_set *sets, int flags,
                            char *err, size_t errcap);
/* 1 when a Laplace node (collapsed operator cop) carrying channel set s
 * can take it from its operand as one more pair on each channel: none
 * carries another operator, none passes DDX_MAX_ORDER. needs and lower
 * both ask it, so they agree. */
int needs_laplace_collapses(const mi_set *s, int cop);
/* 1 when node a is an input or a concat of inputs (its jet is constant
 * beyond the value: the identity's columns). */
int needs_is_input_vector(const ddx_graph *g, ddx_node a);
#endif
