/* program.c — the public compile/evaluate API: picks a backend, owns the
 * jet program, validates every call's arguments before any work. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/runtime/backend.h"
#include "host/runtime/strbuf.h"
#include "host/graph/graph.h"
#include "host/compiler/jet_program.h"
#include "host/compiler/needs.h"

struct ddx_program {
    jet_program *jp;
    const ddx_backend_i *be;
    void *state;
    ddx_compile_options opt;
};

/* Several threads may evaluate one program at once, so an eval's message
 * is kept per thread: the last eval call of this thread, on program p.
 * Evaluation writes nothing shared (tests/test_concurrent_eval.c, TSan). */
static _Thread_local struct {
    const ddx_program *p;
    char msg[512];
} eval_error;

static void program_clear_error(const ddx_program *p) {
    eval_error.p = p;
    eval_error.msg[0] = 0;
}

static ddx_status program_fail(ddx_program *p, ddx_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(eval_error.msg, sizeof eval_error.msg, fmt, ap);
    va_end(ap);
    eval_error.p = p;
    return s;
}

const char *ddx_version(void) { return DDX_VERSION_STRING; }

const char *ddx_status_string(ddx_status s) {
    switch (s) {
    case DDX_OK: return "ok";
    case DDX_ERR_INVALID_ARG: return "invalid argument";
    case DDX_ERR_SHAPE: return "shape mismatch";
    case DDX_ERR_NOT_SCALAR: return "not a scalar";
    case DDX_ERR_UNKNOWN_NAME: return "unknown name";
    case DDX_ERR_PARSE: return "parse error";
    case DDX_ERR_UNSUPPORTED: return "unsupported";
    case DDX_ERR_LIMIT: return "limit exceeded";
    case DDX_ERR_NO_DEVICE: return "no device";
    case DDX_ERR_OUT_OF_MEMORY: return "out of memory";
    case DDX_ERR_IO: return "i/o error";
    case DDX_ERR_COMPILE: return "compile error";
    case DDX_ERR_DEVICE: return "device error";
    case DDX_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

void ddx_compile_options_default(ddx_compile_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->device = DDX_DEVICE_AUTO;
    o->precision = DDX_F32;
    o->strategy = DDX_STRATEGY_AUTO;
}

ddx_status ddx_compile(ddx_graph *g, const ddx_node *outputs, int n_outputs, const ddx_compile_options *opt,
                       ddx_program **out) {
    if (out) *out = NULL;
    if (!g) return DDX_ERR_INVALID_ARG;
    if (g->status != DDX_OK) return g->status; /* an earlier builder call failed; its message stands */
    if (!out || !outputs || n_outputs <= 0) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "compile: %s", !out ? "out is NULL" : "no outputs");
        return DDX_ERR_INVALID_ARG;
    }
    for (int i = 0; i < n_outputs; i++)
        if (outputs[i] < 0 || outputs[i] >= g->n_nodes) {
            ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "compile: output %d is not a node of this graph", i);
            return DDX_ERR_INVALID_ARG;
        }
    if (g->n_inputs == 0) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "compile: the graph has no inputs");
        return DDX_ERR_INVALID_ARG;
    }
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    if (opt) o = *opt;
    if (o.precision != DDX_F32 && o.precision != DDX_F64) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "compile: unknown precision %d", (int)o.precision);
        return DDX_ERR_INVALID_ARG;
    }
    if (o.device != DDX_DEVICE_AUTO && o.device != DDX_DEVICE_CPU && o.device != DDX_DEVICE_CUDA) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "compile: unknown device %d", (int)o.device);
        return DDX_ERR_INVALID_ARG;
    }
    if (o.tile_points < 0 || o.tile_points > (1 << 20) || o.num_threads < 0) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "compile: bad tile size or thread count");
        return DDX_ERR_INVALID_ARG;
    }
    if (o.cuda_chunk_points < 0 || (o.cuda_max_threads != 0 && (o.cuda_max_threads < 32 || o.cuda_max_threads > 256)) ||
        (o.cuda_tile_points != 0 &&
         (o.cuda_tile_points < 4 || o.cuda_tile_points > 128 || (o.cuda_tile_points & (o.cuda_tile_points - 1))))) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG,
                       "compile: bad CUDA tuning (chunk >= 0, max threads 32..256, tile points a power of two 4..128)");
        return DDX_ERR_INVALID_ARG;
    }
    ddx_device device;
    char why[320];
    const ddx_backend_i *be = ddx_backend_select(o.device, &device, why, sizeof why);
    if (!be) {
        ddx_graph_fail(g, DDX_ERR_NO_DEVICE, "%s", why);
        return DDX_ERR_NO_DEVICE;
    }
    ddx_status st;
    ddx_program *p = calloc(1, sizeof *p);
    if (!p) {
        ddx_graph_fail(g, DDX_ERR_OUT_OF_MEMORY, "out of memory");
        return DDX_ERR_OUT_OF_MEMORY;
    }
    char err[512] = "";
    int flags = be->lower_flags | (o.uncollapsed ? NEEDS_UNCOLLAPSED : 0); /* what this backend runs */
    st = jet_program_build_ex(g, outputs, n_outputs, flags, &p->jp, err, sizeof err);
    if (st == DDX_OK) st = be->prepare(p->jp, &o, &p->state, err, sizeof err);
    if (st != DDX_OK) {
        ddx_graph_fail(g, st, "compile: %s", err);
        jet_program_free(p->jp);
        free(p);
        return st;
    }
    p->be = be;
    p->opt = o;
    p->opt.device = device;
    *out = p;
    return DDX_OK;
}

void ddx_program_free(ddx_program *p) {
    if (!p) return;
    if (p->be && p->state) p->be->release(p->state);
    if (eval_error.p == p) program_clear_error(NULL);
    jet_program_free(p->jp);
    free(p);
}

const char *ddx_program_error(const ddx_program *p) {
    if (!p) return "null program";
    return eval_error.p == p ? eval_error.msg : "";
}

ddx_status ddx_program_eval(ddx_program *p, const void *points, int64_t n, void *out) {
    if (!p) return DDX_ERR_INVALID_ARG;
    program_clear_error(p);
    if (!points || !out) return program_fail(p, DDX_ERR_INVALID_ARG, "eval: %s is NULL", !points ? "points" : "out");
    if (n <= 0) return program_fail(p, DDX_ERR_INVALID_ARG, "eval: no points (n = %lld)", (long long)n);
    if (n > ((int64_t)1 << 40)) return program_fail(p, DDX_ERR_LIMIT, "eval: n = %lld is too large", (long long)n);
    char err[256] = "";
    ddx_status st = p->be->run(p->state, p->jp, points, n, out, err, sizeof err);
    if (st != DDX_OK) return program_fail(p, st, "eval: %s", err);
    return DDX_OK;
}

ddx_status ddx_program_eval_device(ddx_program *p, const void *d_points, int64_t n, void *d_out) {
    if (!p) return DDX_ERR_INVALID_ARG;
    program_clear_error(p);
    if (!p->be->run_device)
        return program_fail(p, DDX_ERR_UNSUPPORTED, "eval_device: the %s backend takes host memory only", p->be->name);
    if (!d_points || !d_out) return program_fail(p, DDX_ERR_INVALID_ARG, "eval_device: null pointer");
    if (n <= 0) return program_fail(p, DDX_ERR_INVALID_ARG, "eval_device: no points (n = %lld)", (long long)n);
    char err[256] = "";
    ddx_status st = p->be->run_device(p->state, p->jp, d_points, n, d_out, err, sizeof err);
    return st == DDX_OK ? DDX_OK : program_fail(p, st, "eval_device: %s", err);
}

ddx_status ddx_cuda_compile_report(ddx_graph *g, const ddx_node *outputs, int n_outputs,
                                   const ddx_compile_options *opt, const char *arch, char *buf, size_t cap) {
    if (!g) return DDX_ERR_INVALID_ARG;
    if (g->status != DDX_OK) return g->status;
    if (!outputs || n_outputs <= 0 || !arch || !buf || cap == 0) {
        ddx_graph_fail(g, DDX_ERR_INVALID_ARG, "cuda report: bad arguments");
        return DDX_ERR_INVALID_ARG;
    }
    const ddx_backend_i *cuda = ddx_backend_of(DDX_DEVICE_CUDA);
    if (!cuda || !cuda->offline_report) {
        ddx_graph_fail(g, DDX_ERR_UNSUPPORTED, "cuda report: ddx was built without CUDA");
        return DDX_ERR_UNSUPPORTED;
    }
    ddx_compile_options o;
    ddx_compile_options_default(&o);
    if (opt) o = *opt;
    jet_program *jp = NULL;
    char err[1024] = "";
    ddx_status st = jet_program_build_ex(g, outputs, n_outputs, cuda->lower_flags | (o.uncollapsed ? NEEDS_UNCOLLAPSED : 0),
                                         &jp, err, sizeof err); /* as ddx_compile for CUDA */
    if (st == DDX_OK) st = cuda->offline_report(jp, &o, arch, buf, cap, err, sizeof err);
    jet_program_free(jp);
    if (st != DDX_OK) ddx_graph_fail(g, st, "cuda report: %s", err);
    return st;
}


int ddx_program_num_inputs(const ddx_program *p) { return p ? p->jp->d : 0; }
int ddx_program_num_outputs(const ddx_program *p) { return p ? p->jp->n_outputs : 0; }
ddx_device ddx_program_device(const ddx_program *p) { return p ? p->opt.device : DDX_DEVICE_CPU; }
ddx_precision ddx_program_precision(const ddx_program *p) { return p ? p->opt.precision : DDX_F32; }
double ddx_program_flops_per_point(const ddx_program *p) { return p ? p->jp->flops : 0; }
int ddx_program_network_channels(const ddx_program *p) { return p ? p->jp->network_channels : 0; }
int ddx_program_num_instructions(const ddx_program *p) { return p ? p->jp->n_instr : 0; }

int ddx_program_node_coeffs(const ddx_program *p, ddx_node n, int *coeffs, int capacity) {
    if (!p || n < 0 || n >= p->jp->n_nodes) return 0;
    int v = p->jp->node_value[n];
    if (v < 0) return 0;
    const mi_set *s = &p->jp->sets[v];
    if (coeffs && s->n <= capacity)
        for (int c = 0; c < s->n; c++)
            for (int i = 0; i < p->jp->d; i++) coeffs[c * p->jp->d + i] = 0;
    if (coeffs && s->n <= capacity)
        for (int c = 0; c < s->n; c++) {
            const ddx_mi *m = &s->v[c];
            int *row = coeffs + (size_t)c * p->jp->d;
            if (m->op) { /* collapsed: -p at each input it sums over (p pairs), plus its labels */
                const ddx_cop *op = &p->jp->cops[m->op - 1];
                for (int j = 0; j < op->n_in; j++) row[op->in[j]] = -(int)m->p;
            }
            for (int k = 0; k < m->n; k++) /* random directions have no input column */
                if (m->lab[k] < p->jp->d) row[m->lab[k]]++;
        }
    return s->n;
}

size_t ddx_program_describe(const ddx_program *p, char *buf, size_t cap) {
    ddx_sb sb = ddx_sb_fixed(buf, cap);
    if (!p) return 0;
    const jet_program *jp = p->jp;
    const char *const *names = (const char *const *)jp->input_names;
    ddx_sbf(&sb, "inputs: %d (", jp->d);
    for (int i = 0; i < jp->d; i++) /* thousands of inputs: the first and last few */
        if (jp->d <= 16 || i < 8 || i >= jp->d - 2) ddx_sbf(&sb, "%s%s", i ? "," : "", names[i]);
        else if (i == 8) ddx_sbf(&sb, ",...");
    ddx_sbf(&sb, "), output columns: %d, precision: %s\n", jp->n_outputs,
        p->opt.precision == DDX_F32 ? "f32" : "f64");
    ddx_sbf(&sb, "network channels (Taylor coefficients per dense layer): %d\n", jp->network_channels);
    ddx_sbf(&sb, "useful FLOPs per point: %.0f\n", jp->flops);
    if (jp->sparsity[0]) ddx_sbf(&sb, "%s\n", jp->sparsity);
    for (int k = 0; k < jp->n_dirsets; k++) { /* stochastic estimators: which directions */
        const ddx_dirset *ds = &jp->dirsets[k];
        ddx_sbf(&sb, "random directions v%d..v%d: %d %s%s, seed %llu (STDE estimator)\n", ds->first,
            ds->first + ds->S - 1, ds->S, ds->dist == DDX_DIST_GAUSSIAN ? "gaussian" : "rademacher",
            ds->nL ? " shaped by L (A = L L^T)" : "", (unsigned long long)ds->seed);
    }
    ddx_sbf(&sb, "instructions: %d, tile workspace: %lld rows per point\n", jp->n_instr,
        (long long)jp->workspace);
    for (int i = 0; i < jp->n_instr; i++) {
        const jet_instr *in = &jp->instr[i];
        if (i > 0 && jp->instr[i - 1].dst == in->dst) continue; /* concat parts */
        const jet_value *v = &jp->values[in->dst];
        const mi_set *s = &jp->sets[in->dst];
        ddx_sbf(&sb, "  node %3d %-9s width %-4d channels %-3d {", v->node, v->label, v->width, v->nch);
        for (int c = 0; c < s->n; c++) {
            if (s->n > 24 && c >= 12 && c < s->n - 4) { /* long sets: the ends */
                if (c == 12) ddx_sbf(&sb, ",...");
                continue;
            }
            char m[64];
            mi_format(&s->v[c], jp->d, names, jp->cops, m, sizeof m);
            ddx_sbf(&sb, "%s%s", c ? "," : "", m);
        }
        ddx_sbf(&sb, "}\n");
    }
    if (p->be && p->be->describe) {
        char tmp[2048];
        p->be->describe(p->state, tmp, sizeof tmp);
        ddx_sbf(&sb, "%s", tmp);
    }
    return sb.n;
}

/* The void * form cannot tell a float buffer from a double one; these can. */
static ddx_status eval_typed(ddx_program *p, ddx_precision want, const void *points, int64_t n, void *out) {
    if (!p) return DDX_ERR_INVALID_ARG;
    if (p->opt.precision != want) {
        program_clear_error(p);
        return program_fail(p, DDX_ERR_INVALID_ARG, "eval_%s: the program was compiled for %s",
                            want == DDX_F32 ? "f32" : "f64", p->opt.precision == DDX_F32 ? "f32" : "f64");
    }
    return ddx_program_eval(p, points, n, out);
}

ddx_status ddx_program_eval_f32(ddx_program *p, const float *points, int64_t n, float *out) {
    return eval_typed(p, DDX_F32, points, n, out);
}

ddx_status ddx_program_eval_f64(ddx_program *p, const double *points, int64_t n, double *out) {
    return eval_typed(p, DDX_F64, points, n, out);
}

/* --verbose: full compiler logs and generated source on a failed build. */
static int g_verbose;
void ddx_set_verbose(int level) { g_verbose = level; }
int ddx_verbose(void);
int ddx_verbose(void) { return g_verbose; }
