/* expr_parse.h — expressions over inputs, outputs and their partials, as
 * used by `expr:` models and by derivative lists (`u_t + u*u_x - 0.01*u_xx`). */
#ifndef DDX_EXPR_PARSE_H
#define DDX_EXPR_PARSE_H
#include <stddef.h>
#include "ddx.h"

#define DDX_MAX_SYMBOLS 64

/* Named scalar nodes an expression may use besides the graph's inputs
 * (e.g. the network outputs u, v, p). */
typedef struct ddx_symtab {
    int n;
    char *names[DDX_MAX_SYMBOLS];
    ddx_node nodes[DDX_MAX_SYMBOLS];
} ddx_symtab;

int ddx_symtab_add(ddx_symtab *s, const char *name, ddx_node node);
void ddx_symtab_free(ddx_symtab *s);

/* Parses one scalar expression into a node. */
ddx_status ddx_parse_expr(ddx_graph *g, const ddx_symtab *syms, const char *text, ddx_node *out, char *err,
                          size_t cap);

/* A comma-separated list of items; grad(u) and hessian(u) give several
 * columns. *cols and *names (one malloc'd string per column) are malloc'd;
 * free with ddx_list_free. */
typedef struct ddx_column_list {
    int n;
    ddx_node *cols;
    char **names;
} ddx_column_list;
ddx_status ddx_parse_list(ddx_graph *g, const ddx_symtab *syms, const char *text, ddx_column_list *out, char *err,
                          size_t cap);
void ddx_list_free(ddx_column_list *l);

/* Identifiers used in text that are not function names (for guessing the
 * inputs of an expr: model); returns the count, names are malloc'd. */
int ddx_expr_identifiers(const char *text, char ***names);

/* Finds a call of a function the parser does not know (foo(x)); returns 1
 * and its name in name, else 0. */
int ddx_expr_unknown_function(const char *text, char *name, size_t cap);

#endif
