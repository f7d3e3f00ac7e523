/* expr_parse.c — recursive-descent parser for expressions and derivative
 * lists. Grammar:
 *   list    := item (',' item)*
 *   expr    := term (('+'|'-') term)*
 *   term    := unary (('*'|'/') unary)*
 *   unary   := '-' unary | power
 *   power   := primary ('^' unary)?
 *   primary := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
 * A name is an input, a symbol (output), `pi`, or a partial written with
 * suffix letters: u_tx = d/dx d/dt u (single-letter input names), u_x1 for
 * one derivative by a longer name, or D(u, x1, x1) for any names. */
#include "tools/expr_parse.h"
#include "tools/array_io.h"
#include "tools/text_safe.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    ddx_graph *g;
    const ddx_symtab *syms;
    const char *text, *s;
    char *err;
    size_t cap;
    int failed;
    int depth; /* nesting of parse_unary: bounds the C stack on hostile input */
} parser;

/* Deepest nesting of parentheses, function calls, unary signs and powers.
 * Real PDE residuals nest < 20; each level costs a few hundred bytes of
 * stack, so this stays far below any thread's stack. */
#define DDX_EXPR_MAX_DEPTH 256

int ddx_symtab_add(ddx_symtab *s, const char *name, ddx_node node) {
    if (s->n >= DDX_MAX_SYMBOLS) return -1;
    char *c = strdup(name);
    if (!c) return -1;
    s->names[s->n] = c;
    s->nodes[s->n++] = node;
    return 0;
}

void ddx_symtab_free(ddx_symtab *s) {
    for (int i = 0; i < s->n; i++) free(s->names[i]);
    s->n = 0;
}

static ddx_node perr(parser *p, const char *fmt, const char *tok) {
    if (!p->failed) {
        char msg[1024];
        snprintf(msg, sizeof msg, fmt, tok ? tok : "");
        char shown[100];
        snprintf(p->err, p->cap, "%s at column %d of '%s'", msg, (int)(p->s - p->text) + 1,
                 ddx_text_shown(p->text, 80, shown, sizeof shown));
        p->failed = 1;
    }
    return DDX_NO_NODE;
}

/* After a graph builder failed, report the graph's own message. */
static ddx_node gcheck(parser *p, ddx_node n) {
    if (n == DDX_NO_NODE && !p->failed) {
        char shown[100];
        snprintf(p->err, p->cap, "%s (in '%s')", ddx_graph_error(p->g), ddx_text_shown(p->text, 80, shown, sizeof shown));
        p->failed = 1;
    }
    return n;
}

static void skip_ws(parser *p) {
    while (isspace((unsigned char)*p->s)) p->s++;
}

static int is_name_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static int is_name_char(char c) { return isalnum((unsigned char)c) || c == '_' || c == '.'; }

static int read_name(parser *p, char *buf, size_t cap) {
    size_t n = 0;
    while (is_name_char(*p->s)) {
        if (n + 1 < cap) buf[n++] = *p->s;
        p->s++;
    }
    buf[n] = 0;
    return n + 1 < cap;
}

static ddx_node lookup_plain(parser *p, const char *name) {
    for (int i = 0; p->syms && i < p->syms->n; i++)
        if (strcmp(p->syms->names[i], name) == 0) return p->syms->nodes[i];
    return ddx_graph_find_input(p->g, name);
}

/* name, or base_suffix where suffix letters are single-letter inputs, or
 * base_input for one derivative by a longer input name. */
/* Whether name also reads as base_suffix (a partial of an input or output
 * by single-letter inputs or by one whole input); sets *whole when the
 * suffix is one input of a longer name, *letters when each suffix letter is
 * an input. Nothing is built. */
static int partial_readings(parser *p, const char *name, int *whole, int *letters, char *base, size_t cap) {
    *whole = *letters = 0;
    size_t len = strlen(name);
    for (size_t k = len; k-- > 1;) {
        if (name[k] != '_' || k >= cap) continue;
        memcpy(base, name, k);
        base[k] = 0;
        if (lookup_plain(p, base) == DDX_NO_NODE) continue;
        const char *suf = name + k + 1;
        if (!*suf) return 0;
        *whole = strlen(suf) > 1 && ddx_graph_find_input(p->g, suf) != DDX_NO_NODE;
        *letters = 1;
        for (const char *c = suf; *c; c++) {
            char one[2] = {*c, 0};
            if (ddx_graph_find_input(p->g, one) == DDX_NO_NODE) *letters = 0;
        }
        return *whole || *letters;
    }
    return 0;
}

static ddx_node resolve_name(parser *p, const char *name) {
    ddx_node n = lookup_plain(p, name);
    int whole, letters;
    char pbase[128];
    int readings = partial_readings(p, name, &whole, &letters, pbase, sizeof pbase);
    /* Two meanings of one name would silently pick one: refuse and show
     * the spellings that are not ambiguous. */
    if (n != DDX_NO_NODE && readings) {
        char msg[512];
        snprintf(msg, sizeof msg, "'%s' is ambiguous: an input or output of that name, or a partial of '%s' "
                 "(write D(%s, ...) for the partial, or rename the input)", name, pbase, pbase);
        return perr(p, "%s", msg);
    }
    if (n != DDX_NO_NODE) return n;
    if (readings && whole && letters) {
        const char *suf = name + strlen(pbase) + 1;
        char msg[512], spelled[300] = "";
        size_t l = 0;
        for (const char *c = suf; *c && l < sizeof spelled; c++)
            l += (size_t)snprintf(spelled + l, sizeof spelled - l, ", %c", *c);
        snprintf(msg, sizeof msg, "'%s' is ambiguous: write D(%s, %s) or D(%s%s)", name, pbase, suf, pbase, spelled);
        return perr(p, "%s", msg);
    }
    if (strcmp(name, "pi") == 0) return ddx_const(p->g, 3.14159265358979323846);
    size_t len = strlen(name);
    for (size_t k = len; k-- > 1;) {
        if (name[k] != '_') continue;
        char base[128];
        if (k >= sizeof base) continue;
        memcpy(base, name, k);
        base[k] = 0;
        ddx_node b = lookup_plain(p, base);
        if (b == DDX_NO_NODE) continue;
        const char *suf = name + k + 1;
        ddx_node whole = ddx_graph_find_input(p->g, suf);
        if (whole != DDX_NO_NODE && strlen(suf) > 1) return gcheck(p, ddx_grad(p->g, b, whole));
        ddx_node r = b;
        for (const char *c = suf; *c; c++) {
            char one[2] = {*c, 0};
            ddx_node x = ddx_graph_find_input(p->g, one);
            if (x == DDX_NO_NODE) {
                char msg[200];
                snprintf(msg, sizeof msg, "'%s': '%c' is not an input (use D(%s, name, ...) for long names)", name,
                         *c, base);
                return perr(p, "%s", msg);
            }
            r = gcheck(p, ddx_grad(p->g, r, x));
            if (r == DDX_NO_NODE) return r;
        }
        if (!*suf) break;
        return r;
    }
    char known[512] = "";
    size_t kl = 0;
    for (int i = 0; i < ddx_graph_num_inputs(p->g); i++)
        kl += (size_t)snprintf(known + kl, kl < sizeof known ? sizeof known - kl : 0, "%s%s", kl ? "," : "",
                               ddx_graph_input_name(p->g, i));
    for (int i = 0; p->syms && i < p->syms->n && kl < sizeof known; i++)
        kl += (size_t)snprintf(known + kl, sizeof known - kl, ",%s", p->syms->names[i]);
    char msg[768];
    snprintf(msg, sizeof msg, "unknown name '%s' (known: %s)", name, known);
    return perr(p, "%s", msg);
}

static ddx_node parse_expr(parser *p);

static int is_const_node(parser *p, ddx_node n, double *v);

/* Keyword arguments of laplacian(u, samples=S, seed=K, dist=gaussian) and
 * op2(u, A=@FILE): A is the d x d matrix read from FILE (malloc'd). */
typedef struct fn_kwargs {
    int samples, gaussian, any, dist_given, stoch; /* stoch: samples=, seed= or dist= given */
    uint64_t seed;
    double *A;
} fn_kwargs;

/* A=@FILE of op2: a d x d matrix from a .npy (2-D, f32/f64) or a .csv (a
 * header row, then d rows of d numbers), every entry finite. The value runs
 * to the next ',' or ')' (no such characters in the path). */
static int read_matrix_kwarg(parser *p, const char *s, fn_kwargs *kw) {
    if (*s != '@') return perr(p, "A= takes @FILE (a d x d matrix as .npy or .csv), e.g. A=@a.npy", NULL), -1;
    s++;
    const char *e = s;
    while (*e && *e != ',' && *e != ')') e++;
    const char *end = e;
    while (end > s && isspace((unsigned char)end[-1])) end--;
    char path[512];
    if (end == s || (size_t)(end - s) >= sizeof path) return perr(p, "A=@FILE: missing or too long file name", NULL), -1;
    memcpy(path, s, (size_t)(end - s));
    path[end - s] = 0;
    char msg[1000];
    ddx_array a;
    char err[400];
    if (ddx_array_read(path, &a, err, sizeof err) != DDX_OK) {
        snprintf(msg, sizeof msg, "op2(u, A=@%s): %s", path, err);
        return perr(p, "%s", msg), -1;
    }
    const int d = ddx_graph_num_inputs(p->g);
    const int csv = a.colnames != NULL;
    if (a.rows != d || a.cols != d) {
        snprintf(msg, sizeof msg, "op2(u, A=@%s): A is %lld x %d; it must be d x d = %d x %d (the model's inputs)%s",
                 path, (long long)a.rows, a.cols, d, d, csv && a.rows + 1 == d ? " (a .csv starts with a header row)" : "");
        ddx_array_free(&a);
        return perr(p, "%s", msg), -1;
    }
    if (ddx_array_convert(&a, DDX_F64) != DDX_OK || !(kw->A = malloc(sizeof(double) * (size_t)d * (size_t)d))) {
        ddx_array_free(&a);
        return perr(p, "out of memory reading A=", NULL), -1;
    }
    memcpy(kw->A, a.data, sizeof(double) * (size_t)d * (size_t)d);
    ddx_array_free(&a);
    for (int i = 0; i < d * d; i++)
        if (!isfinite(kw->A[i])) {
            snprintf(msg, sizeof msg, "op2(u, A=@%s): A[%d][%d] is %g; every entry must be finite", path, i / d + 1,
                     i % d + 1, kw->A[i]);
            return perr(p, "%s", msg), -1;
        }
    p->s = e;
    return 0;
}

/* Reads `name=value` at p->s if there is one: 1 read, 0 not a keyword, -1 error. */
static int read_kwarg(parser *p, fn_kwargs *kw) {
    const char *s = p->s;
    char key[16];
    int n = 0;
    while (is_name_char(*s) && n < 15) key[n++] = *s++;
    key[n] = 0;
    while (isspace((unsigned char)*s)) s++;
    if (!n || *s != '=' || s[1] == '=') return 0;
    s++;
    while (isspace((unsigned char)*s)) s++;
    char *end;
    if (strcmp(key, "dist") == 0) {
        int gauss = strncmp(s, "gaussian", 8) == 0, rad = strncmp(s, "rademacher", 10) == 0;
        if (!gauss && !rad) return perr(p, "dist= takes rademacher or gaussian", NULL), -1;
        kw->gaussian = gauss;
        kw->dist_given = 1;
        p->s = s + (gauss ? 8 : 10);
    } else if (strcmp(key, "samples") == 0 || strcmp(key, "seed") == 0) {
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || *s == '-') return perr(p, "%s= takes a non-negative integer", key), -1;
        if (key[1] == 'a') {
            if (v < 1 || v > 65536) return perr(p, "samples= must be 1..65536", NULL), -1;
            kw->samples = (int)v;
        } else
            kw->seed = v;
        p->s = end;
    } else if (strcmp(key, "A") == 0) {
        kw->any = 1;
        if (kw->A) return perr(p, "A= given twice", NULL), -1;
        if (read_matrix_kwarg(p, s, kw)) return -1;
    } else
        return perr(p, "unknown keyword '%s=' (laplacian/biharmonic/op2 take samples=, seed=, dist=; op2 A=@FILE)", key),
               -1;
    if (strcmp(key, "A") != 0) kw->stoch = 1;
    kw->any = 1;
    return 1;
}

static ddx_node apply_function(parser *p, const char *fn, ddx_node *args, int nargs, const fn_kwargs *kw) {
    if (kw->any && strcmp(fn, "laplacian") != 0 && strcmp(fn, "biharmonic") != 0 && strcmp(fn, "op2") != 0)
        return perr(p, "%s() takes no keyword arguments", fn);
    if (kw->A && strcmp(fn, "op2") != 0) return perr(p, "%s(): A= is op2's keyword", fn);
    if (strcmp(fn, "biharmonic") == 0) {
        if (nargs != 1) return perr(p, "biharmonic(u[, samples=S, seed=K]) takes one function", NULL);
        if (!kw->any) return gcheck(p, ddx_laplacian(p->g, ddx_laplacian(p->g, args[0])));
        if (!kw->samples) return perr(p, "biharmonic(u, seed=...): needs samples=S", NULL);
        if (kw->dist_given && !kw->gaussian) return perr(p, "biharmonic(u, samples=...): dist=gaussian only", NULL);
        return gcheck(p, ddx_biharmonic_stochastic(p->g, args[0], kw->samples, kw->seed));
    }
    /* the unary ops by their ddx_ops.def name, and swish for silu */
    int uop = strcmp(fn, "swish") == 0 ? (int)DDX_SILU : ddx_unary_op_from_name(fn);
    if (uop >= 0) {
        if (nargs != 1) return perr(p, "%s() takes one argument", fn);
        return gcheck(p, ddx_unary(p->g, (ddx_unary_op)uop, args[0]));
    }
    if (strcmp(fn, "pow") == 0) {
        double e;
        if (nargs != 2) return perr(p, "pow() takes two arguments", NULL);
        if (!is_const_node(p, args[1], &e)) return perr(p, "pow(): the exponent must be a number", NULL);
        return gcheck(p, ddx_pow(p->g, args[0], e));
    }
    if (strcmp(fn, "D") == 0) {
        if (nargs < 1) return perr(p, "D() needs a function", NULL);
        ddx_node r = args[0];
        for (int i = 1; i < nargs; i++) {
            if (r == DDX_NO_NODE) return r;
            r = gcheck(p, ddx_grad(p->g, r, args[i]));
        }
        return r;
    }
    if (strcmp(fn, "laplacian") == 0) {
        if (nargs < 1) return perr(p, "laplacian() needs a function", NULL);
        if (kw->any) { /* the stochastic (STDE) estimate */
            if (nargs != 1) return perr(p, "laplacian(u, samples=...): over all inputs only", NULL);
            if (!kw->samples) return perr(p, "laplacian(u, seed=...): needs samples=S", NULL);
            return gcheck(p, ddx_laplacian_stochastic(p->g, args[0], kw->samples, kw->seed, kw->gaussian));
        }
        /* laplacian(u): all inputs; laplacian(u, x, y): over x and y */
        return gcheck(p, ddx_laplacian_over(p->g, args[0], args + 1, nargs - 1));
    }
    if (strcmp(fn, "op2") == 0) {
        /* op2(u, a11, a12, ..., add) or op2(u, A=@FILE): sum_ij a_ij u_ij over
         * all d inputs, A row-major */
        int d = ddx_graph_num_inputs(p->g);
        double Abuf[64];
        const double *A = kw->A;
        if (A) {
            if (nargs != 1) return perr(p, "op2(u, A=@FILE): no coefficients beside A=", NULL);
        } else {
            if (d > 8 || nargs != 1 + d * d) {
                char msg[128];
                snprintf(msg, sizeof msg, "op2(u, a11, ..., a_dd) takes u and d*d = %d numbers (d <= 8; else A=@FILE)",
                         d * d);
                return perr(p, "%s", msg);
            }
            for (int i = 0; i < d * d; i++)
                if (!is_const_node(p, args[1 + i], &Abuf[i]))
                    return perr(p, "op2(): the coefficients must be numbers", NULL);
            A = Abuf;
        }
        if (kw->stoch) {
            if (!kw->samples) return perr(p, "op2(u, ..., seed=...): needs samples=S", NULL);
            return gcheck(p, ddx_operator2_stochastic(p->g, args[0], A, kw->samples, kw->seed, kw->gaussian));
        }
        return gcheck(p, ddx_operator2(p->g, args[0], A, NULL, 0));
    }
    if (strcmp(fn, "grad") == 0 || strcmp(fn, "hessian") == 0 || strcmp(fn, "hessdiag") == 0)
        return perr(p, "%s() gives several columns: use it as a whole list item", fn);
    return perr(p, "unknown function '%s'", fn);
}

static int is_const_node(parser *p, ddx_node n, double *v) {
    /* constants folded by the parser are graph consts */
    ddx_node_info info;
    if (ddx_node_get_info(p->g, n, &info) != DDX_OK || info.kind != DDX_NODE_CONST) return 0;
    *v = info.dval;
    return 1;
}

/* The arguments of name( ... ) and the call; kw->A is the caller's to free. */
static ddx_node parse_call(parser *p, const char *name, fn_kwargs *kw) {
    ddx_node args[66]; /* D(u, 8 names); op2(u, 64 coefficients) */
    int nargs = 0;
    skip_ws(p);
    if (*p->s != ')') {
        for (;;) {
            if (nargs >= 66) return perr(p, "too many arguments to %s()", name);
            skip_ws(p);
            int k = nargs ? read_kwarg(p, kw) : 0;
            if (k < 0) return DDX_NO_NODE;
            /* D(u, x, x): input names are plain inputs there */
            if (k == 0) {
                if (kw->any) return perr(p, "%s(): a positional argument after a keyword", name);
                args[nargs] = parse_expr(p);
                if (args[nargs++] == DDX_NO_NODE) return DDX_NO_NODE;
            }
            skip_ws(p);
            if (*p->s == ',') {
                p->s++;
                continue;
            }
            break;
        }
    }
    skip_ws(p);
    if (*p->s != ')') return perr(p, "expected ')' after arguments of %s()", name);
    p->s++;
    return apply_function(p, name, args, nargs, kw);
}

static ddx_node parse_primary(parser *p) {
    skip_ws(p);
    const char *start = p->s;
    if (isdigit((unsigned char)*p->s) || (*p->s == '.' && isdigit((unsigned char)p->s[1]))) {
        char *end;
        double v = strtod(p->s, &end);
        p->s = end;
        if (!isfinite(v)) return perr(p, "number out of range", NULL);
        return gcheck(p, ddx_const(p->g, v));
    }
    if (*p->s == '(') {
        p->s++;
        ddx_node n = parse_expr(p);
        skip_ws(p);
        if (*p->s != ')') return perr(p, "expected ')'", NULL);
        p->s++;
        return n;
    }
    if (is_name_start(*p->s)) {
        char name[128];
        if (!read_name(p, name, sizeof name)) return perr(p, "name too long", NULL);
        skip_ws(p);
        if (*p->s == '(') {
            p->s++;
            fn_kwargs kw = {0};
            ddx_node r = parse_call(p, name, &kw);
            free(kw.A); /* op2's A=@FILE, copied into the graph */
            return r;
        }
        return resolve_name(p, name);
    }
    p->s = start;
    if (!*p->s) return perr(p, "unexpected end of expression", NULL);
    char tok[2] = {*p->s, 0};
    return perr(p, "unexpected '%s'", tok);
}

static ddx_node parse_unary(parser *p);

static ddx_node parse_power(parser *p) {
    ddx_node b = parse_primary(p);
    if (b == DDX_NO_NODE) return b;
    skip_ws(p);
    if (*p->s != '^' && !(p->s[0] == '*' && p->s[1] == '*')) return b;
    p->s += *p->s == '^' ? 1 : 2;
    ddx_node e = parse_unary(p);
    if (e == DDX_NO_NODE) return e;
    double ev;
    if (is_const_node(p, e, &ev)) return gcheck(p, ddx_pow(p->g, b, ev));
    /* a^b with a non-constant exponent: exp(b log a) */
    return gcheck(p, ddx_exp(p->g, ddx_mul(p->g, e, ddx_log(p->g, b))));
}

static ddx_node parse_unary_inner(parser *p);

static ddx_node parse_unary(parser *p) {
    if (p->depth >= DDX_EXPR_MAX_DEPTH) {
        char lim[32];
        snprintf(lim, sizeof lim, "%d", DDX_EXPR_MAX_DEPTH);
        return perr(p, "expression nested deeper than %s levels", lim);
    }
    p->depth++;
    ddx_node n = parse_unary_inner(p);
    p->depth--;
    return n;
}

static ddx_node parse_unary_inner(parser *p) {
    skip_ws(p);
    if (*p->s == '-') {
        p->s++;
        ddx_node a = parse_unary(p);
        if (a == DDX_NO_NODE) return a;
        double v;
        if (is_const_node(p, a, &v)) return gcheck(p, ddx_const(p->g, -v));
        return gcheck(p, ddx_neg(p->g, a));
    }
    if (*p->s == '+') {
        p->s++;
        return parse_unary(p);
    }
    return parse_power(p);
}

static ddx_node parse_term(parser *p) {
    ddx_node a = parse_unary(p);
    for (;;) {
        if (a == DDX_NO_NODE) return a;
        skip_ws(p);
        char op = *p->s;
        if ((op != '*' && op != '/') || p->s[1] == '*') return a;
        p->s++;
        ddx_node b = parse_unary(p);
        if (b == DDX_NO_NODE) return b;
        a = gcheck(p, op == '*' ? ddx_mul(p->g, a, b) : ddx_div(p->g, a, b));
    }
}

static ddx_node parse_expr(parser *p) {
    ddx_node a = parse_term(p);
    for (;;) {
        if (a == DDX_NO_NODE) return a;
        skip_ws(p);
        char op = *p->s;
        if (op != '+' && op != '-') return a;
        p->s++;
        ddx_node b = parse_term(p);
        if (b == DDX_NO_NODE) return b;
        a = gcheck(p, op == '+' ? ddx_add(p->g, a, b) : ddx_sub(p->g, a, b));
    }
}

ddx_status ddx_parse_expr(ddx_graph *g, const ddx_symtab *syms, const char *text, ddx_node *out, char *err,
                          size_t cap) {
    char scratch[8];
    if (!err || !cap) err = scratch, cap = sizeof scratch; /* callers may pass no message buffer */
    if (!g || !text || !out) {
        snprintf(err, cap, "parse: %s is NULL", !g ? "graph" : !text ? "expression text" : "output pointer");
        return DDX_ERR_INVALID_ARG;
    }
    parser p = {g, syms, text, text, err, cap, 0, 0};
    ddx_node n = parse_expr(&p);
    skip_ws(&p);
    if (n != DDX_NO_NODE && *p.s) n = perr(&p, "unexpected '%s'", p.s);
    if (n == DDX_NO_NODE) {
        if (!p.failed) snprintf(err, cap, "cannot parse '%s'", text);
        return ddx_graph_status(g) != DDX_OK ? ddx_graph_status(g) : DDX_ERR_PARSE;
    }
    *out = n;
    return DDX_OK;
}

/* ---- lists ---- */

static int push_col(ddx_column_list *l, ddx_node n, const char *name) {
    ddx_node *c = realloc(l->cols, sizeof(ddx_node) * (size_t)(l->n + 1));
    if (!c) return -1;
    l->cols = c;
    char **nm = realloc(l->names, sizeof(char *) * (size_t)(l->n + 1));
    if (!nm) return -1;
    l->names = nm;
    if (!(l->names[l->n] = strdup(name))) return -1;
    l->cols[l->n++] = n;
    return 0;
}

void ddx_list_free(ddx_column_list *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    free(l->cols);
    memset(l, 0, sizeof *l);
}

/* Column name of a partial: u_tx with single-letter inputs, else D(u,x1,x2). */
static void partial_name(const ddx_graph *g, const char *base, const int *idx, int k, char *buf, size_t cap) {
    int single = 1;
    for (int i = 0; i < k; i++)
        if (strlen(ddx_graph_input_name(g, idx[i])) != 1) single = 0;
    size_t len = (size_t)snprintf(buf, cap, single ? "%s_" : "D(%s", base);
    for (int i = 0; i < k && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, single ? "%s" : ",%s", ddx_graph_input_name(g, idx[i]));
    if (!single && len < cap) snprintf(buf + len, cap - len, ")");
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

ddx_status ddx_parse_list(ddx_graph *g, const ddx_symtab *syms, const char *text, ddx_column_list *out, char *err,
                          size_t cap) {
    char scratch[8];
    if (!err || !cap) err = scratch, cap = sizeof scratch; /* callers may pass no message buffer */
    if (!g || !text || !out) {
        snprintf(err, cap, "parse list: %s is NULL", !g ? "graph" : !text ? "list text" : "output list");
        return DDX_ERR_INVALID_ARG;
    }
    memset(out, 0, sizeof *out);
    char *copy = strdup(text);
    if (!copy) return DDX_ERR_OUT_OF_MEMORY;
    ddx_status st = DDX_OK;
    char *item = copy;
    int depth = 0;
    for (char *c = copy;; c++) {
        if (*c == '(') depth++;
        if (*c == ')') depth--;
        if ((*c == ',' && depth == 0) || *c == 0) {
            int last = *c == 0;
            *c = 0;
            char *it = trim(item);
            if (!*it) {
                snprintf(err, cap, "empty item in derivative list '%s'", text);
                st = DDX_ERR_PARSE;
                break;
            }
            /* grad(u) / hessian(u): several columns */
            int is_grad = strncmp(it, "grad(", 5) == 0, is_hess = strncmp(it, "hessian(", 8) == 0;
            int is_diag = strncmp(it, "hessdiag(", 9) == 0;
            size_t il = strlen(it);
            if ((is_grad || is_hess || is_diag) && it[il - 1] == ')') {
                char inner[256];
                size_t off = is_grad ? 5 : is_hess ? 8 : 9;
                if (il - off - 1 >= sizeof inner) {
                    snprintf(err, cap, "item too long: '%s'", it);
                    st = DDX_ERR_PARSE;
                    break;
                }
                memcpy(inner, it + off, il - off - 1);
                inner[il - off - 1] = 0;
                ddx_node y;
                st = ddx_parse_expr(g, syms, inner, &y, err, cap);
                if (st) break;
                int d = ddx_graph_num_inputs(g);
                size_t ncol = is_hess ? (size_t)d * (size_t)d : (size_t)d;
                ddx_node *nodes = malloc(sizeof(ddx_node) * (ncol ? ncol : 1));
                if (!nodes) {
                    st = DDX_ERR_OUT_OF_MEMORY;
                    break;
                }
                st = is_grad ? ddx_gradient(g, y, nodes) : is_diag ? ddx_hessdiag(g, y, nodes) : ddx_hessian(g, y, nodes);
                if (st) {
                    snprintf(err, cap, "%s (in '%s')", ddx_graph_error(g), it);
                    free(nodes);
                    break;
                }
                char *base = trim(inner);
                for (size_t i = 0; i < ncol && !st; i++) {
                    int idx[2] = {is_hess ? (int)(i / (size_t)d) : (int)i, is_hess ? (int)(i % (size_t)d) : (int)i};
                    char nm[300];
                    partial_name(g, base, idx, is_grad ? 1 : 2, nm, sizeof nm);
                    if (push_col(out, nodes[i], nm)) st = DDX_ERR_OUT_OF_MEMORY;
                }
                free(nodes);
            } else {
                ddx_node n;
                st = ddx_parse_expr(g, syms, it, &n, err, cap);
                if (st) break;
                if (ddx_node_width(g, n) != 1) {
                    snprintf(err, cap, "'%s' is not a scalar (width %d)", it, ddx_node_width(g, n));
                    st = DDX_ERR_NOT_SCALAR;
                    break;
                }
                /* a stochastic estimate names its estimator in the column */
                char named[600];
                if (strstr(it, "samples=") && !strstr(it, "dist=") && strlen(it) < 500 && it[strlen(it) - 1] == ')')
                    snprintf(named, sizeof named, "%.*s, dist=%s)", (int)strlen(it) - 1, it,
                             strncmp(it, "biharmonic", 10) == 0 ? "gaussian" : "rademacher");
                else
                    snprintf(named, sizeof named, "%s", it);
                if (push_col(out, n, named)) st = DDX_ERR_OUT_OF_MEMORY;
            }
            if (st) break;
            if (last) break;
            item = c + 1;
        }
    }
    if (st == DDX_OK && depth != 0) {
        snprintf(err, cap, "unbalanced parentheses in '%s'", text);
        st = DDX_ERR_PARSE;
    }
    if (st == DDX_ERR_OUT_OF_MEMORY) snprintf(err, cap, "out of memory");
    free(copy);
    if (st) ddx_list_free(out);
    return st;
}

/* Function names besides the unary ops of ddx_ops.def. */
static const char *const known_fns[] = {"swish", "pow", "D", "grad", "hessian", "laplacian", "hessdiag", "op2",
                                        "biharmonic"};
/* Words of the language that are not functions: a constant, keyword
 * arguments and their values. */
static const char *const known_words[] = {"pi", "samples", "seed", "dist", "gaussian", "rademacher"};

static int in_list(const char *const *list, size_t n, const char *b, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == len && strncmp(list[i], b, len) == 0) return 1;
    return 0;
}

static int is_function_name(const char *b, size_t len) {
    char fn[64];
    if (len < sizeof fn) {
        memcpy(fn, b, len);
        fn[len] = 0;
        if (ddx_unary_op_from_name(fn) >= 0) return 1;
    }
    return in_list(known_fns, sizeof known_fns / sizeof known_fns[0], b, len);
}

/* The next identifier at or after *s (numbers, exponents included, are
 * skipped): its start and length, *s moved past it; 0 at the end. */
static int next_identifier(const char **s, const char **b, size_t *len) {
    while (**s) {
        if (isdigit((unsigned char)**s) || **s == '.') {
            while (isalnum((unsigned char)**s) || **s == '.') (*s)++;
            continue;
        }
        if (!is_name_start(**s)) {
            (*s)++;
            continue;
        }
        *b = *s;
        while (is_name_char(**s)) (*s)++;
        *len = (size_t)(*s - *b);
        return 1;
    }
    return 0;
}

int ddx_expr_unknown_function(const char *text, char *name, size_t cap) {
    const char *s = text, *b;
    size_t len;
    while (next_identifier(&s, &b, &len)) {
        const char *t = s;
        while (isspace((unsigned char)*t)) t++;
        if (*t != '(' || is_function_name(b, len)) continue;
        if (cap) snprintf(name, cap, "%.*s", (int)(len < 64 ? len : 64), b);
        return 1;
    }
    return 0;
}

int ddx_expr_identifiers(const char *text, char ***names) {
    int n = 0;
    *names = NULL;
    const char *s = text, *b;
    size_t len;
    while (next_identifier(&s, &b, &len)) {
        int skip = is_function_name(b, len) || in_list(known_words, sizeof known_words / sizeof known_words[0], b, len);
        for (int i = 0; i < n && !skip; i++)
            if (strlen((*names)[i]) == len && strncmp((*names)[i], b, len) == 0) skip = 1;
        if (skip) continue;
        char **nn = realloc(*names, sizeof(char *) * (size_t)(n + 1));
        if (!nn) break;
        *names = nn;
        (*names)[n] = strndup(b, len);
        if (!(*names)[n]) break;
        n++;
    }
    return n;
}
