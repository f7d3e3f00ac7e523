/* model_spec.c — builds a graph from a model SPEC. Built-in MLPs have
 * deterministic weights (splitmix64, Xavier-uniform scale), so the same
 * SPEC means the same network everywhere: in tests, benchmarks and in the
 * PyTorch/JAX anchors through `ddx export`. */
#include "tools/model_spec.h"
#include "tools/atomic_file.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/array_io.h"

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(uint64_t *s, double lo, double hi) {
    return lo + (hi - lo) * (double)(splitmix(s) >> 11) / 9007199254740992.0;
}

/* Splits "a,b,c" into names; returns count or -1 (message in err). */
static int split_names(const char *list, char names[][64], int max, char *err, size_t cap) {
    int n = 0;
    const char *s = list;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        while (len && isspace((unsigned char)*s)) s++, len--;
        while (len && isspace((unsigned char)s[len - 1])) len--;
        if (len == 0 || len >= 64) {
            snprintf(err, cap, "--inputs '%s': empty or too long name", list);
            return -1;
        }
        if (n >= max) {
            snprintf(err, cap, "--inputs '%s': at most %d inputs", list, max);
            return -1;
        }
        memcpy(names[n], s, len);
        names[n][len] = 0;
        if (!isalpha((unsigned char)names[n][0])) {
            snprintf(err, cap, "--inputs: '%s' is not a name", names[n]);
            return -1;
        }
        n++;
        if (!e) break;
        s = e + 1;
    }
    return n;
}

static void default_inputs(int d, char names[][64]) {
    if (d == 1) strcpy(names[0], "x");
    else if (d == 2) {
        strcpy(names[0], "t");
        strcpy(names[1], "x");
    } else
        for (int i = 0; i < d; i++) snprintf(names[i], 64, "x%d", i + 1);
}

static ddx_status add_inputs(ddx_model *m, int d, char names[][64], char *err, size_t cap) {
    for (int i = 0; i < d; i++)
        if (ddx_input(m->g, names[i]) == DDX_NO_NODE) {
            snprintf(err, cap, "%s", ddx_graph_error(m->g));
            return ddx_graph_status(m->g);
        }
    return DDX_OK;
}

/* Room for the names of a comma-separated list (or for at least `at_least`). */
static char (*name_buf(const char *list, int at_least))[64] {
    int n = at_least > 2 ? at_least : 2;
    for (const char *c = list; c && *c; c++) n += *c == ',';
    return malloc(sizeof(char[64]) * (size_t)(n + 1));
}

static ddx_status load_expr_names(const char *text, const char *inputs, ddx_model *m, char (*names)[64], char *err,
                                  size_t cap);

static ddx_status load_expr(const char *text, const char *inputs, ddx_model *m, char *err, size_t cap) {
    /* x1..xk guesses need k names: at most one per character of the text */
    char(*names)[64] = name_buf(inputs, inputs ? 0 : (int)strlen(text));
    if (!names) {
        snprintf(err, cap, "out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    ddx_status st = load_expr_names(text, inputs, m, names, err, cap);
    free(names);
    return st;
}

static ddx_status load_expr_names(const char *text, const char *inputs, ddx_model *m, char (*names)[64], char *err,
                                  size_t cap) {
    int d;
    char fn[80];
    if (ddx_expr_unknown_function(text, fn, sizeof fn)) {
        snprintf(err, cap, "expr: unknown function '%s' (known: exp log sqrt sin cos tanh sigmoid softplus silu "
                 "pow D laplacian)", fn);
        return DDX_ERR_PARSE;
    }
    if (inputs) {
        if ((d = split_names(inputs, names, 1 << 30, err, cap)) < 0) return DDX_ERR_INVALID_ARG;
    } else {
        /* guess: only x -> x; within {t,x} -> t,x; x1..xk -> x1..xk */
        char **ids;
        int n = ddx_expr_identifiers(text, &ids), only_tx = 1, all_xk = 1, maxk = 0, has_t = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(ids[i], "t") == 0) has_t = 1;
            else if (strcmp(ids[i], "x") != 0) only_tx = 0;
            int k;
            char tail;
            if (sscanf(ids[i], "x%d%c", &k, &tail) == 1 && k >= 1) maxk = k > maxk ? k : maxk;
            else all_xk = 0;
        }
        for (int i = 0; i < n; i++) free(ids[i]);
        free(ids);
        if (only_tx) d = has_t ? 2 : 1, default_inputs(d, names);
        else if (all_xk && maxk <= (int)strlen(text)) {
            d = maxk;
            for (int i = 0; i < d; i++) snprintf(names[i], 64, "x%d", i + 1);
        } else {
            snprintf(err, cap, "expr: cannot tell the inputs of '%s'; name them with --inputs", text);
            return DDX_ERR_INVALID_ARG;
        }
    }
    ddx_status st = add_inputs(m, d, names, err, cap);
    if (st) return st;
    ddx_node u;
    st = ddx_parse_expr(m->g, NULL, text, &u, err, cap);
    if (st) return st;
    if (ddx_symtab_add(&m->outputs, "u", u)) return DDX_ERR_OUT_OF_MEMORY;
    return DDX_OK;
}

static ddx_unary_op activation_op(const char *a, int *ok) {
    /* any unary op of ddx_ops.def by name, and swish for silu */
    int op = strcmp(a, "swish") == 0 ? (int)DDX_SILU : ddx_unary_op_from_name(a);
    *ok = op >= 0;
    return op >= 0 ? (ddx_unary_op)op : DDX_TANH;
}

static ddx_status load_mlp(const char *text, const char *inputs, ddx_model *m, char *err, size_t cap) {
    /* 2-64-64-1:tanh[:seed=N] */
    char buf[512];
    if (strlen(text) >= sizeof buf) {
        snprintf(err, cap, "mlp spec too long");
        return DDX_ERR_PARSE;
    }
    strcpy(buf, text);
    char *act = strchr(buf, ':');
    uint64_t seed = 0;
    long blocks = 0;
    strcpy(m->activation, "tanh");
    if (act) {
        *act++ = 0;
        char *opt = strchr(act, ':');
        if (opt) *opt++ = 0;
        /* options, ':'-separated: seed=N, blocks=B */
        while (opt) {
            char *next = strchr(opt, ':'), *end;
            if (next) *next++ = 0;
            if (strncmp(opt, "seed=", 5) == 0 && isdigit((unsigned char)opt[5]) &&
                (errno = 0, seed = strtoull(opt + 5, &end, 10), !*end) && !errno) {
            } else if (strncmp(opt, "blocks=", 7) == 0 && isdigit((unsigned char)opt[7]) &&
                       (errno = 0, blocks = strtol(opt + 7, &end, 10), !*end) && !errno && blocks >= 1) {
            } else {
                snprintf(err, cap, "mlp:%s: unknown option '%s' (expected seed=N or blocks=B)", text, opt);
                return DDX_ERR_PARSE;
            }
            opt = next;
        }
        if (strlen(act) >= sizeof m->activation) {
            snprintf(err, cap, "mlp:%s: unknown activation '%s'", text, act);
            return DDX_ERR_PARSE;
        }
        strcpy(m->activation, act);
    }
    int ok;
    ddx_unary_op op = activation_op(m->activation, &ok);
    if (!ok) {
        snprintf(err, cap, "mlp:%s: unknown activation '%s' (tanh, sigmoid, softplus, silu, gelu, sin, ...)", text,
                 m->activation);
        return DDX_ERR_PARSE;
    }
    int nw = 0;
    for (char *s = buf; *s;) {
        char *end;
        errno = 0;
        long w = strtol(s, &end, 10);
        if (end == s || errno || w < 1 || w > 4096 || (*end && *end != '-')) {
            snprintf(err, cap, "mlp:%s: widths must be integers 1..4096 joined by '-'", text);
            return DDX_ERR_PARSE;
        }
        if (nw > DDX_MLP_MAX_LAYERS) {
            snprintf(err, cap, "mlp:%s: at most %d layers", text, DDX_MLP_MAX_LAYERS);
            return DDX_ERR_LIMIT;
        }
        m->widths[nw++] = (int)w;
        s = *end ? end + 1 : end;
    }
    if (nw < 2) {
        snprintf(err, cap, "mlp:%s: need at least an input and an output width", text);
        return DDX_ERR_PARSE;
    }
    if (blocks && (m->widths[0] % blocks || m->widths[1] < blocks)) {
        snprintf(err, cap, "mlp:%s: blocks=%ld must divide the %d inputs and be at most the first width %d", text,
                 blocks, m->widths[0], m->widths[1]);
        return DDX_ERR_PARSE;
    }
    int d = m->widths[0];
    char(*names)[64] = name_buf(inputs, d);
    ddx_node *xs = malloc(sizeof(ddx_node) * (size_t)d);
    if (!names || !xs) {
        free(names);
        free(xs);
        snprintf(err, cap, "out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    ddx_status st = DDX_OK;
    if (inputs) {
        int k = split_names(inputs, names, 1 << 30, err, cap);
        if (k < 0) st = DDX_ERR_INVALID_ARG;
        else if (k != d) {
            snprintf(err, cap, "--inputs names %d inputs but the network takes %d", k, d);
            st = DDX_ERR_SHAPE;
        }
    } else
        default_inputs(d, names);
    if (!st) st = add_inputs(m, d, names, err, cap);
    free(names);
    if (st) {
        free(xs);
        return st;
    }
    for (int i = 0; i < d; i++) xs[i] = ddx_graph_input(m->g, i);
    ddx_node a = ddx_concat(m->g, xs, d);
    free(xs);
    m->is_mlp = 1;
    m->n_layers = nw - 1;
    uint64_t rng = seed * 0x2545F4914F6CDD1Dull + 12345;
    for (int l = 0; l < m->n_layers; l++) {
        int in = m->widths[l], out = m->widths[l + 1];
        m->W[l] = malloc(sizeof(double) * (size_t)in * (size_t)out);
        m->b[l] = malloc(sizeof(double) * (size_t)out);
        if (!m->W[l] || !m->b[l]) {
            snprintf(err, cap, "out of memory");
            return DDX_ERR_OUT_OF_MEMORY;
        }
        /* blocks=B: inputs in B equal blocks, units in B contiguous near-equal
         * blocks (unit j: block j*B/out), unit j reads only its block's inputs
         * (per-electron features); Xavier over the block's fan-in */
        const int bl = l == 0 ? (int)blocks : 0, fan = bl ? in / bl : in;
        double lim = sqrt(6.0 / (fan + out));
        for (int i = 0; i < in * out; i++) {
            double wv = uniform(&rng, -lim, lim);
            int j = i / in, k = i % in;
            m->W[l][i] = bl && (int)((long)j * bl / out) != k / fan ? 0.0 : wv;
        }
        for (int i = 0; i < out; i++) m->b[l][i] = uniform(&rng, -0.1, 0.1);
        a = ddx_dense(m->g, a, out, in, m->W[l], m->b[l], DDX_F64);
        if (l + 1 < m->n_layers) a = ddx_unary(m->g, op, a);
    }
    if (ddx_graph_status(m->g)) {
        snprintf(err, cap, "%s", ddx_graph_error(m->g));
        return ddx_graph_status(m->g);
    }
    int mo = m->widths[nw - 1];
    for (int j = 0; j < mo; j++) {
        char nm[16];
        if (mo == 1) strcpy(nm, "u");
        else snprintf(nm, sizeof nm, "u%d", j + 1);
        if (ddx_symtab_add(&m->outputs, nm, ddx_component(m->g, a, j))) return DDX_ERR_OUT_OF_MEMORY;
    }
    return DDX_OK;
}

ddx_status ddx_model_load(const char *spec, const char *inputs, ddx_model *m, char *err, size_t cap) {
    memset(m, 0, sizeof *m);
    if (!spec || !*spec) {
        snprintf(err, cap, "no model given (--model expr:... or mlp:...)");
        return DDX_ERR_INVALID_ARG;
    }
    m->g = ddx_graph_create();
    if (!m->g) return DDX_ERR_OUT_OF_MEMORY;
    ddx_status st;
    if (strncmp(spec, "expr:", 5) == 0) st = load_expr(spec + 5, inputs, m, err, cap);
    else if (strncmp(spec, "mlp:", 4) == 0) st = load_mlp(spec + 4, inputs, m, err, cap);
    else {
        size_t n = strlen(spec);
        if (n > 5 && strcmp(spec + n - 5, ".onnx") == 0) {
            st = ddx_model_load_onnx(spec, inputs, m, err, cap);
        } else {
            snprintf(err, cap, "model '%s': expected expr:EXPRESSION or mlp:WIDTHS:ACTIVATION", spec);
            st = DDX_ERR_PARSE;
        }
    }
    /* An input named like an output would be shadowed by it in every
     * derivative list: refuse rather than pick one. */
    for (int i = 0; st == DDX_OK && i < m->outputs.n; i++)
        if (ddx_graph_find_input(m->g, m->outputs.names[i]) != DDX_NO_NODE) {
            snprintf(err, cap, "input '%s' has the name of an output of the model; rename it with --inputs",
                     m->outputs.names[i]);
            st = DDX_ERR_INVALID_ARG;
        }
    if (st) ddx_model_free(m);
    return st;
}

void ddx_model_free(ddx_model *m) {
    if (!m) return;
    ddx_graph_free(m->g);
    ddx_symtab_free(&m->outputs);
    for (int l = 0; l < m->n_layers; l++) {
        free(m->W[l]);
        free(m->b[l]);
    }
    memset(m, 0, sizeof *m);
}

ddx_status ddx_model_export(const ddx_model *m, const char *dir, char *err, size_t cap) {
    if (!m->is_mlp) {
        snprintf(err, cap, "export: only mlp: models have weights to export");
        return DDX_ERR_UNSUPPORTED;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        snprintf(err, cap, "export: cannot create directory '%s': %s", dir, strerror(errno));
        return DDX_ERR_IO;
    }
    /* Every file is staged (written, fsync'd) before any is renamed into
     * place, the manifest last: a failure leaves the directory as it was. */
    enum { MAXF = 2 * DDX_MLP_MAX_LAYERS + 1 };
    ddx_atomic *staged = calloc(MAXF, sizeof *staged);
    if (!staged) {
        snprintf(err, cap, "export: out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    int ns = 0;
    ddx_status st = DDX_OK;
    char path[4096], aerr[512];
    for (int l = 0; l < m->n_layers && !st; l++) {
        ddx_array W = {m->widths[l + 1], m->widths[l], DDX_F64, m->W[l], NULL};
        ddx_array b = {m->widths[l + 1], 1, DDX_F64, m->b[l], NULL};
        snprintf(path, sizeof path, "%s/W%d.npy", dir, l);
        st = ddx_array_write_staged(path, &W, &staged[ns], err, cap);
        if (st) break;
        ns++;
        snprintf(path, sizeof path, "%s/b%d.npy", dir, l);
        /* b as a 1-D array (out,): write it 2-D then note the shape in the manifest */
        st = ddx_array_write_staged(path, &b, &staged[ns], err, cap);
        if (!st) ns++;
    }
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    ddx_atomic *mf = &staged[ns];
    if (!st && ddx_atomic_open(mf, path, aerr, sizeof aerr)) {
        snprintf(err, cap, "export: %s: %s", path, aerr);
        st = DDX_ERR_IO;
    }
    if (!st) {
        FILE *f = mf->f;
        ns++;
        fprintf(f, "{\"format\": \"ddx-mlp-1\", \"inputs\": [");
        for (int i = 0; i < ddx_graph_num_inputs(m->g); i++)
            fprintf(f, "%s\"%s\"", i ? ", " : "", ddx_graph_input_name(m->g, i));
        fprintf(f, "], \"outputs\": [");
        for (int i = 0; i < m->outputs.n; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", m->outputs.names[i]);
        fprintf(f, "],\n \"layers\": [\n");
        for (int l = 0; l < m->n_layers; l++)
            fprintf(f, "  {\"W\": \"W%d.npy\", \"b\": \"b%d.npy\", \"in\": %d, \"out\": %d, \"activation\": \"%s\"}%s\n",
                    l, l, m->widths[l], m->widths[l + 1], l + 1 < m->n_layers ? m->activation : "none",
                    l + 1 < m->n_layers ? "," : "");
        fprintf(f, " ]}\n");
        if (ddx_atomic_close(mf, aerr, sizeof aerr)) {
            snprintf(err, cap, "export: %s: %s", path, aerr);
            st = DDX_ERR_IO;
        }
    }
    for (int i = 0; i < ns; i++) {
        if (!st && ddx_atomic_commit(&staged[i], aerr, sizeof aerr)) {
            snprintf(err, cap, "export: %s: %s", staged[i].target, aerr);
            st = DDX_ERR_IO;
        }
        if (st) ddx_atomic_abort(&staged[i]);
    }
    free(staged);
    return st;
}

/* The output symbols of an imported ONNX model: each column under its
 * model name and, where there is room and no clash, under out0, out1, ... */
static ddx_status onnx_symbols(ddx_model *m, const ddx_node *outs, char (*names)[64], int n, const char *what,
                               char *err, size_t cap) {
    for (int k = 0; k < n; k++)
        if (ddx_symtab_add(&m->outputs, names[k], outs[k])) goto oom;
    for (int k = 0; k < n && m->outputs.n < DDX_MAX_SYMBOLS; k++) {
        char a[32];
        snprintf(a, sizeof a, "out%d", k);
        int clash = ddx_graph_find_input(m->g, a) != DDX_NO_NODE;
        for (int j = 0; j < m->outputs.n; j++) clash |= !strcmp(m->outputs.names[j], a);
        if (!clash && ddx_symtab_add(&m->outputs, a, outs[k])) goto oom;
    }
    return DDX_OK;
oom:
    snprintf(err, cap, "%s: out of memory", what);
    return DDX_ERR_OUT_OF_MEMORY;
}

/* An .onnx model through the public importer, its output columns named
 * as above. */
ddx_status ddx_model_load_onnx(const char *path, const char *inputs, ddx_model *m, char *err, size_t cap) {
    ddx_node outs[DDX_MAX_SYMBOLS];
    char names[DDX_MAX_SYMBOLS][64];
    int n = 0;
    ddx_status st = ddx_graph_from_onnx_file(m->g, path, inputs, outs, DDX_MAX_SYMBOLS, &n, names);
    if (st) {
        snprintf(err, cap, "%s", ddx_graph_error(m->g));
        return st;
    }
    return onnx_symbols(m, outs, names, n, path, err, cap);
}

ddx_status ddx_model_load_onnx_data(const void *data, size_t size, const char *inputs, ddx_model *m, char *err,
                                    size_t cap) {
    ddx_node outs[DDX_MAX_SYMBOLS];
    char names[DDX_MAX_SYMBOLS][64];
    int n = 0;
    ddx_status st = ddx_graph_from_onnx(m->g, data, size, inputs, outs, DDX_MAX_SYMBOLS, &n, names);
    if (st) {
        snprintf(err, cap, "%s", ddx_graph_error(m->g));
        return st;
    }
    return onnx_symbols(m, outs, names, n, "onnx model", err, cap);
}
