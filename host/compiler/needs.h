/* needs.h — needs analysis: per node, the multi-indices it must carry. */
#ifndef DDX_NEEDS_H
#define DDX_NEEDS_H
#include <stddef.h>
#include "host/graph/graph.h"
#include "host/compiler/multiindex.h"

/* sets: g->n_nodes empty sets, filled in; outs must be valid node ids. */
ddx_status needs_analyze(const ddx_graph *g, const ddx_node *outs, int n_outs, mi_set *sets,
                         char *err, size_t errcap);
/* const_jet: a dense layer over the inputs themselves asks them for their
 * value only; its other channels are constants (columns of W, lower.c). */
ddx_status needs_analyze_ex(const ddx_graph *g, const ddx_node *outs, int n_outs, mi_set *sets, int const_jet,
                            char *err, size_t errcap);
/* 1 when node a is an input or a concat of inputs (its jet is constant
 * beyond the value: the identity's columns). */
int needs_is_input_vector(const ddx_graph *g, ddx_node a);
#endif
