/* fuzz_expr.c — libFuzzer harness for the expression and derivative-list
 * parsers (tools/expr_parse.c), the text that --model expr:... and --derivs
 * take from the command line. The first byte picks the inputs and whether
 * a parsed list is also compiled and evaluated at one point; the rest is
 * the text. Contract: no crash, leak or UB on any text; a failure carries a
 * non-empty message; a success gives valid scalar columns that compile or
 * are refused with a status and a message.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fopenmp -Iinclude -I. \
 *     tests/fuzz/fuzz_expr.c tools/expr_parse.c tools/text_safe.c build-fuzz/libddx.a -lm -o /tmp/fuzz_expr
 *   /tmp/fuzz_expr -max_len=512 tests/fuzz/corpus_expr
 * (tests/ci/rel.sh builds it this way; the kept corpus is replayed by
 * test_fuzz_replay_expr in tests/test_reliability.c.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/expr_parse.h"

static void check(int ok, const char *what, const char *text) {
    if (!ok) {
        fprintf(stderr, "contract broken: %s (text '%s')\n", what, text);
        abort();
    }
}

/* One input: parse text under input set `sel`; compile when asked. */
int ddx_fuzz_expr_one(const uint8_t *data, size_t size);
int ddx_fuzz_expr_one(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static const char *const sets[][4] = {{"x"}, {"t", "x"}, {"a", "b", "ab"}, {"x1", "x2", "x3"}};
    static const int nset[] = {1, 2, 3, 3};
    int sel = data[0] & 3, do_compile = (data[0] & 0x80) != 0, as_list = (data[0] & 0x40) != 0;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0; /* an embedded NUL just ends the text early, as on a command line */
    ddx_graph *g = ddx_graph_create();
    ddx_node in[4];
    for (int i = 0; i < nset[sel]; i++) in[i] = ddx_input(g, sets[sel][i]);
    ddx_symtab syms = {0};
    ddx_node u = ddx_tanh(g, in[0]);
    for (int i = 1; i < nset[sel]; i++) u = ddx_mul(g, u, ddx_sin(g, in[i]));
    ddx_symtab_add(&syms, "u", u);
    ddx_symtab_add(&syms, "v", ddx_exp(g, in[nset[sel] - 1]));
    char err[1024] = "";
    if (!as_list) {
        ddx_node n;
        ddx_status st = ddx_parse_expr(g, &syms, text, &n, err, sizeof err);
        check(st == DDX_OK || err[0], "parse_expr failed without a message", text);
        if (st == DDX_OK) check(n >= 0, "parse_expr gave no node", text);
    } else {
        ddx_column_list l;
        ddx_status st = ddx_parse_list(g, &syms, text, &l, err, sizeof err);
        check(st == DDX_OK || err[0], "parse_list failed without a message", text);
        if (st == DDX_OK) {
            check(l.n >= 1, "empty list accepted", text);
            for (int k = 0; k < l.n; k++) check(ddx_node_width(g, l.cols[k]) == 1 && l.names[k][0], "bad column", text);
            if (do_compile && ddx_graph_status(g) == DDX_OK) {
                ddx_compile_options o;
                ddx_compile_options_default(&o);
                o.device = DDX_DEVICE_CPU;
                o.precision = DDX_F64;
                o.num_threads = 1;
                ddx_program *p = NULL;
                if (ddx_compile(g, l.cols, l.n, &o, &p) == DDX_OK) {
                    double pt[3] = {0.25, 0.5, 0.75}, *out = malloc(sizeof(double) * (size_t)l.n);
                    if (out) check(ddx_program_eval(p, pt, 1, out) == DDX_OK, "eval of a compiled list failed", text);
                    free(out);
                    ddx_program_free(p);
                } else {
                    check(ddx_graph_error(g)[0] != 0, "compile failed without a message", text);
                }
            }
            ddx_list_free(&l);
        }
    }
    char **ids;
    int nid = ddx_expr_identifiers(text, &ids);
    for (int i = 0; i < nid; i++) free(ids[i]);
    free(ids);
    char fn[80];
    ddx_expr_unknown_function(text, fn, sizeof fn);
    ddx_symtab_free(&syms);
    ddx_graph_free(g);
    free(text);
    return 0;
}

#ifndef DDX_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return ddx_fuzz_expr_one(data, size); }
#endif
