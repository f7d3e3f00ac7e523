/* needs.h — needs analysis: per node, the multi-indices it must carry. */
#ifndef DDX_NEEDS_H
#define DDX_NEEDS_H
#include <stddef.h>
#include "host/graph/graph.h"
#include "host/compiler/multiindex.h"

/* sets: g->n_nodes empty sets, filled in; outs must be valid node ids. */
ddx_status needs_analyze(const ddx_graph *g, const ddx_node *outs, int n_outs, mi_set *sets,
                         char *err, size_t errcap);
#endif
