/* _ddx.c — the CPython extension under the `ddx` package: a model spec (or
 * ONNX bytes) plus a derivative list compiled into a program, evaluated on
 * buffers the caller owns. Deliberately small: array dispatch (numpy, torch,
 * JAX), conversions and documentation live in python/ddx/ (Python); this file
 * only checks buffers strictly (so no Python-side mistake can make the
 * library read or write out of bounds) and releases the GIL around every
 * call into the library. The model and list parsing is ddx_tools' (the same
 * code path as the `ddx` command). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <string.h>
#include <time.h>

#include "ddx.h"
#include "tools/calibrate.h"
#include "tools/check_tolerance.h"
#include "tools/expr_parse.h"
#include "tools/fd_reference.h"
#include "tools/model_spec.h"

/* Exception classes by ddx_status, installed by ddx/_errors.py at import
 * (the classes, their docstrings and hierarchy are Python's business). */
#define N_STATUS (DDX_ERR_INTERNAL + 1)
static PyObject *error_classes[N_STATUS];

static PyObject *raise_status(ddx_status st, const char *msg) {
    if (!msg || !*msg) msg = ddx_status_string(st);
    PyObject *cls = (st > 0 && st < N_STATUS && error_classes[st]) ? error_classes[st] : PyExc_RuntimeError;
    PyErr_SetString(cls, msg);
    return NULL;
}

static PyObject *set_error_classes(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) != N_STATUS) {
        PyErr_Format(PyExc_TypeError, "expected a tuple of %d classes", N_STATUS);
        return NULL;
    }
    for (int i = 0; i < N_STATUS; i++) {
        PyObject *c = PyTuple_GET_ITEM(arg, i);
        Py_INCREF(c);
        Py_XSETREF(error_classes[i], c);
    }
    Py_RETURN_NONE;
}

/* ---- Program ---------------------------------------------------------- */
typedef struct {
    PyObject_HEAD
    ddx_model model;
    ddx_column_list cols;
    ddx_program *prog;
    int d, K;
    ddx_precision prec;
    PyObject *columns, *inputs, *orders;
} ProgramObject;

static void program_dealloc(ProgramObject *self) {
    ddx_program_free(self->prog);
    ddx_list_free(&self->cols);
    ddx_model_free(&self->model);
    Py_XDECREF(self->columns);
    Py_XDECREF(self->inputs);
    Py_XDECREF(self->orders);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A buffer of precision prec, C-contiguous, rows x width (or 1-D of rows
 * when width is 1). Returns rows, or -1 with an exception set. */
static Py_ssize_t check_buffer_as(ddx_precision prec, Py_buffer *b, int width, const char *what) {
    const char want = prec == DDX_F32 ? 'f' : 'd';
    const size_t es = prec == DDX_F32 ? sizeof(float) : sizeof(double);
    const char *f = b->format ? b->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (f[0] != want || f[1] != 0 || (size_t)b->itemsize != es) {
        PyErr_Format(PyExc_ValueError, "%s: expected %s elements, got format '%s'", what,
                     prec == DDX_F32 ? "float32" : "float64", b->format ? b->format : "B");
        return -1;
    }
    if (!PyBuffer_IsContiguous(b, 'C')) {
        PyErr_Format(PyExc_ValueError, "%s: not C-contiguous", what);
        return -1;
    }
    Py_ssize_t rows;
    if (b->ndim == 2 && b->shape[1] == width) rows = b->shape[0];
    else if (b->ndim == 1 && width == 1) rows = b->shape[0];
    else {
        PyErr_Format(error_classes[DDX_ERR_SHAPE] ? error_classes[DDX_ERR_SHAPE] : PyExc_ValueError,
                     "%s: expected shape (N, %d), got %d-D with last dimension %zd", what, width, b->ndim,
                     b->ndim ? b->shape[b->ndim - 1] : (Py_ssize_t)0);
        return -1;
    }
    return rows;
}

/* The same in the program's own precision. */
static Py_ssize_t check_buffer(ProgramObject *self, Py_buffer *b, int width, const char *what) {
    return check_buffer_as(self->prec, b, width, what);
}

/* eval(points, out): points (N x d) and out (N x K), both C-contiguous in
 * the program's dtype, through the buffer protocol. */
static PyObject *program_eval(ProgramObject *self, PyObject *args) {
    PyObject *po, *oo;
    if (!PyArg_ParseTuple(args, "OO:eval", &po, &oo)) return NULL;
    Py_buffer pb, ob;
    if (PyObject_GetBuffer(po, &pb, PyBUF_RECORDS_RO) < 0) return NULL;
    if (PyObject_GetBuffer(oo, &ob, PyBUF_RECORDS) < 0) {
        PyBuffer_Release(&pb);
        return NULL;
    }
    PyObject *ret = NULL;
    Py_ssize_t n = check_buffer(self, &pb, self->d, "points"), m;
    if (n < 0) goto done;
    if ((m = check_buffer(self, &ob, self->K, "out")) < 0) goto done;
    if (m != n) {
        PyErr_Format(error_classes[DDX_ERR_SHAPE] ? error_classes[DDX_ERR_SHAPE] : PyExc_ValueError,
                     "out: has %zd rows, points have %zd", m, n);
        goto done;
    }
    if ((const char *)ob.buf < (const char *)pb.buf + pb.len && (const char *)pb.buf < (const char *)ob.buf + ob.len) {
        PyErr_SetString(PyExc_ValueError, "out overlaps points");
        goto done;
    }
    if (n > 0) {
        ddx_status st;
        Py_BEGIN_ALLOW_THREADS
        st = ddx_program_eval(self->prog, pb.buf, (int64_t)n, ob.buf);
        Py_END_ALLOW_THREADS
        if (st != DDX_OK) {
            raise_status(st, ddx_program_error(self->prog));
            goto done;
        }
    }
    ret = Py_None;
    Py_INCREF(ret);
done:
    PyBuffer_Release(&pb);
    PyBuffer_Release(&ob);
    return ret;
}

/* eval_device(points_ptr, out_ptr, n): device pointers (CUDA programs only;
 * the library checks that the pointers are device memory it knows). */
static PyObject *program_eval_device(ProgramObject *self, PyObject *args) {
    unsigned long long pp, op;
    long long n;
    if (!PyArg_ParseTuple(args, "KKL:eval_device", &pp, &op, &n)) return NULL;
    if (n < 0) return raise_status(DDX_ERR_INVALID_ARG, "eval_device: negative row count");
    if (n == 0) Py_RETURN_NONE;
    ddx_status st;
    Py_BEGIN_ALLOW_THREADS
    st = ddx_program_eval_device(self->prog, (const void *)(uintptr_t)pp, (int64_t)n, (void *)(uintptr_t)op);
    Py_END_ALLOW_THREADS
    if (st != DDX_OK) return raise_status(st, ddx_program_error(self->prog));
    Py_RETURN_NONE;
}

/* time_eval(points, out, iters): seconds for `iters` back-to-back
 * ddx_program_eval calls from C on the same buffers — the C API's own
 * per-call cost, for bench/python_overhead.py to subtract. */
static PyObject *program_time_eval(ProgramObject *self, PyObject *args) {
    PyObject *po, *oo;
    long iters;
    if (!PyArg_ParseTuple(args, "OOl:time_eval", &po, &oo, &iters)) return NULL;
    if (iters < 1) return raise_status(DDX_ERR_INVALID_ARG, "time_eval: iters < 1");
    Py_buffer pb, ob;
    if (PyObject_GetBuffer(po, &pb, PyBUF_RECORDS_RO) < 0) return NULL;
    if (PyObject_GetBuffer(oo, &ob, PyBUF_RECORDS) < 0) {
        PyBuffer_Release(&pb);
        return NULL;
    }
    PyObject *ret = NULL;
    Py_ssize_t n = check_buffer(self, &pb, self->d, "points"), m = n < 0 ? -1 : check_buffer(self, &ob, self->K, "out");
    if (n <= 0 || m != n) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "time_eval: bad buffers");
        goto done;
    }
    ddx_status st = DDX_OK;
    struct timespec t0, t1;
    Py_BEGIN_ALLOW_THREADS
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iters && st == DDX_OK; i++) st = ddx_program_eval(self->prog, pb.buf, (int64_t)n, ob.buf);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    Py_END_ALLOW_THREADS
    if (st != DDX_OK) raise_status(st, ddx_program_error(self->prog));
    else ret = PyFloat_FromDouble((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
done:
    PyBuffer_Release(&pb);
    PyBuffer_Release(&ob);
    return ret;
}

/* reference(points, out): float64 N x d -> float64 N x K by the plain
 * interpreter plus Richardson finite differences (tools/fd_reference.h);
 * slow by design, for ddx.check on a few rows. */
static PyObject *program_reference(ProgramObject *self, PyObject *args) {
    PyObject *po, *oo;
    if (!PyArg_ParseTuple(args, "OO:reference", &po, &oo)) return NULL;
    Py_buffer pb, ob;
    if (PyObject_GetBuffer(po, &pb, PyBUF_RECORDS_RO) < 0) return NULL;
    if (PyObject_GetBuffer(oo, &ob, PyBUF_RECORDS) < 0) {
        PyBuffer_Release(&pb);
        return NULL;
    }
    PyObject *ret = NULL;
    Py_ssize_t n = check_buffer_as(DDX_F64, &pb, self->d, "points");
    Py_ssize_t m = n < 0 ? -1 : check_buffer_as(DDX_F64, &ob, self->K, "out");
    if (n < 0 || m < 0) goto done;
    if (m != n) {
        PyErr_SetString(PyExc_ValueError, "out: row count differs from points");
        goto done;
    }
    const double *x = pb.buf;
    double *r = ob.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        for (int k = 0; k < self->K; k++) r[i * self->K + k] = fd_eval(self->model.g, self->cols.cols[k], x + i * self->d);
    Py_END_ALLOW_THREADS
    ret = Py_None;
    Py_INCREF(ret);
done:
    PyBuffer_Release(&pb);
    PyBuffer_Release(&ob);
    return ret;
}

static PyObject *program_describe(ProgramObject *self, PyObject *unused) {
    (void)unused;
    size_t len = ddx_program_describe(self->prog, NULL, 0);
    char *buf = PyMem_Malloc(len + 1);
    if (!buf) return PyErr_NoMemory();
    ddx_program_describe(self->prog, buf, len + 1);
    PyObject *s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)strlen(buf), "replace");
    PyMem_Free(buf);
    return s;
}

/* Channels (Taylor coefficients) each column's node carries. */
static PyObject *program_column_channels(ProgramObject *self, PyObject *unused) {
    (void)unused;
    PyObject *t = PyTuple_New(self->K);
    if (!t) return NULL;
    for (int k = 0; k < self->K; k++)
        PyTuple_SET_ITEM(t, k, PyLong_FromLong(ddx_program_node_coeffs(self->prog, self->cols.cols[k], NULL, 0)));
    return t;
}

static PyObject *get_int(ProgramObject *self, void *which) {
    switch ((intptr_t)which) {
    case 0: return PyLong_FromLong(self->d);
    case 1: return PyLong_FromLong(self->K);
    case 2: return PyLong_FromLong(ddx_program_network_channels(self->prog));
    case 3: return PyLong_FromLong(ddx_program_num_instructions(self->prog));
    case 4: return PyLong_FromLong(ddx_program_device(self->prog) == DDX_DEVICE_CUDA ? 1 : 0);
    case 5: return PyLong_FromLong(self->prec == DDX_F64 ? 1 : 0);
    default: return PyFloat_FromDouble(ddx_program_flops_per_point(self->prog));
    }
}

static PyObject *get_obj(ProgramObject *self, void *which) {
    PyObject *o = (intptr_t)which == 0 ? self->columns : (intptr_t)which == 1 ? self->inputs : self->orders;
    Py_INCREF(o);
    return o;
}

static PyGetSetDef program_getset[] = {
    {"num_inputs", (getter)get_int, NULL, "d, columns of points", (void *)0},
    {"num_outputs", (getter)get_int, NULL, "K, columns of the output", (void *)1},
    {"network_channels", (getter)get_int, NULL, "largest channel count over the dense layers", (void *)2},
    {"num_instructions", (getter)get_int, NULL, "lowered instructions", (void *)3},
    {"is_cuda", (getter)get_int, NULL, "1 on the CUDA backend", (void *)4},
    {"is_f64", (getter)get_int, NULL, "1 in float64", (void *)5},
    {"flops_per_point", (getter)get_int, NULL, "useful FLOPs per point", (void *)6},
    {"columns", (getter)get_obj, NULL, "output column names", (void *)0},
    {"inputs", (getter)get_obj, NULL, "input names, in column order", (void *)1},
    {"orders", (getter)get_obj, NULL, "derivative order of each column", (void *)2},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef program_methods[] = {
    {"eval", (PyCFunction)program_eval, METH_VARARGS, "eval(points, out): host buffers, GIL released"},
    {"eval_device", (PyCFunction)program_eval_device, METH_VARARGS, "eval_device(points_ptr, out_ptr, n)"},
    {"time_eval", (PyCFunction)program_time_eval, METH_VARARGS, "seconds for iters C-side eval calls"},
    {"reference", (PyCFunction)program_reference, METH_VARARGS, "float64 finite-difference reference"},
    {"describe", (PyCFunction)program_describe, METH_NOARGS, "the library's description of the program"},
    {"column_channels", (PyCFunction)program_column_channels, METH_NOARGS, "channels per column"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ProgramType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ddx._ddx.CProgram",
    .tp_basicsize = sizeof(ProgramObject),
    .tp_dealloc = (destructor)program_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled ddx program (use ddx.compile).",
    .tp_methods = program_methods,
    .tp_getset = program_getset,
};

static PyObject *str_tuple(int n, const char *(*at)(void *, int), void *ctx) {
    PyObject *t = PyTuple_New(n);
    if (!t) return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(at(ctx, i));
        if (!s) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}
static const char *input_at(void *g, int i) { return ddx_graph_input_name(g, i); }
static const char *column_at(void *l, int i) { return ((ddx_column_list *)l)->names[i]; }

/* compile(model, derivs, inputs, f64, device, threads, tile): model is a
 * spec string (expr:, mlp:, a .onnx path) or the bytes of an ONNX model. */
static PyObject *mod_compile(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *model_obj;
    const char *derivs, *inputs;
    int f64, device, threads, tile;
    if (!PyArg_ParseTuple(args, "Oszpiii:compile", &model_obj, &derivs, &inputs, &f64, &device, &threads, &tile))
        return NULL;
    if (device < DDX_DEVICE_AUTO || device > DDX_DEVICE_CUDA) return raise_status(DDX_ERR_INVALID_ARG, "bad device");
    const char *spec = NULL;
    Py_buffer mb = {0};
    int have_bytes = 0;
    if (PyUnicode_Check(model_obj)) {
        if (!(spec = PyUnicode_AsUTF8(model_obj))) return NULL;
    } else {
        if (PyObject_GetBuffer(model_obj, &mb, PyBUF_SIMPLE) < 0) return NULL;
        have_bytes = 1;
    }
    ProgramObject *p = PyObject_New(ProgramObject, &ProgramType);
    if (!p) {
        if (have_bytes) PyBuffer_Release(&mb);
        return NULL;
    }
    memset((char *)p + sizeof(PyObject), 0, sizeof *p - sizeof(PyObject));
    char err[1024] = "";
    ddx_status st = DDX_OK;
    const char *msg = err;
    Py_BEGIN_ALLOW_THREADS
    if (have_bytes) {
        memset(&p->model, 0, sizeof p->model);
        p->model.g = ddx_graph_create();
        st = p->model.g ? ddx_model_load_onnx_data(mb.buf, (size_t)mb.len, inputs, &p->model, err, sizeof err)
                        : DDX_ERR_OUT_OF_MEMORY;
    } else {
        st = ddx_model_load(spec, inputs, &p->model, err, sizeof err);
    }
    if (st == DDX_OK) {
        st = ddx_parse_list(p->model.g, &p->model.outputs, derivs, &p->cols, err, sizeof err);
        if (st == DDX_OK && p->cols.n <= 0) {
            st = DDX_ERR_PARSE;
            snprintf(err, sizeof err, "derivs: no columns in '%s'", derivs);
        }
    }
    if (st == DDX_OK) {
        ddx_compile_options co;
        ddx_compile_options_default(&co);
        co.device = (ddx_device)device;
        co.precision = f64 ? DDX_F64 : DDX_F32;
        co.num_threads = threads;
        co.tile_points = tile;
        st = ddx_compile(p->model.g, p->cols.cols, p->cols.n, &co, &p->prog);
        if (st != DDX_OK) msg = ddx_graph_error(p->model.g);
    }
    Py_END_ALLOW_THREADS
    if (have_bytes) PyBuffer_Release(&mb);
    if (st != DDX_OK) {
        raise_status(st, msg);
        Py_DECREF(p);
        return NULL;
    }
    p->d = ddx_program_num_inputs(p->prog);
    p->K = ddx_program_num_outputs(p->prog);
    p->prec = ddx_program_precision(p->prog);
    p->inputs = str_tuple(ddx_graph_num_inputs(p->model.g), input_at, p->model.g);
    p->columns = str_tuple(p->cols.n, column_at, &p->cols);
    p->orders = PyTuple_New(p->cols.n);
    if (!p->inputs || !p->columns || !p->orders) {
        Py_DECREF(p);
        return NULL;
    }
    for (int k = 0; k < p->cols.n; k++)
        PyTuple_SET_ITEM(p->orders, k, PyLong_FromLong(check_node_order(p->model.g, p->cols.cols[k])));
    if (p->K != p->cols.n) { /* the list gives one scalar node per column */
        Py_DECREF(p);
        return raise_status(DDX_ERR_INTERNAL, "column count differs from the derivative list");
    }
    return (PyObject *)p;
}

static PyObject *mod_tolerance(PyObject *self, PyObject *args) {
    (void)self;
    int f64, order;
    if (!PyArg_ParseTuple(args, "pi:tolerance", &f64, &order)) return NULL;
    ddx_precision p = f64 ? DDX_F64 : DDX_F32;
    return Py_BuildValue("dd", ddx_check_tolerance(p, order), ddx_check_rel_floor(p));
}

/* column_error(ref, got, f64): the CLI's error rule (ddx_check_column_error)
 * over two C-contiguous float64 buffers of the same length. */
static PyObject *mod_column_error(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer rb, gb;
    int f64;
    if (!PyArg_ParseTuple(args, "y*y*p:column_error", &rb, &gb, &f64)) return NULL;
    PyObject *ret = NULL;
    if (rb.len != gb.len || rb.len % (Py_ssize_t)sizeof(double))
        PyErr_SetString(PyExc_ValueError, "column_error: ref and got must be float64 buffers of one length");
    else
        ret = PyFloat_FromDouble(ddx_check_column_error((const double *)rb.buf, (const double *)gb.buf,
                                                        (int64_t)(rb.len / (Py_ssize_t)sizeof(double)), 1,
                                                        f64 ? DDX_F64 : DDX_F32));
    PyBuffer_Release(&rb);
    PyBuffer_Release(&gb);
    return ret;
}

static PyObject *mod_gemm_gflops(PyObject *self, PyObject *args) {
    (void)self;
    int f64;
    if (!PyArg_ParseTuple(args, "p:gemm_gflops", &f64)) return NULL;
    double g;
    Py_BEGIN_ALLOW_THREADS
    g = ddx_cpu_gemm_gflops(f64 ? DDX_F64 : DDX_F32);
    Py_END_ALLOW_THREADS
    return PyFloat_FromDouble(g);
}

static PyMethodDef module_methods[] = {
    {"compile", mod_compile, METH_VARARGS, "compile(model, derivs, inputs, f64, device, threads, tile)"},
    {"set_error_classes", set_error_classes, METH_O, "install the exception class per ddx_status"},
    {"tolerance", mod_tolerance, METH_VARARGS, "(tolerance, rel_floor) of ddx check for (f64, order)"},
    {"column_error", mod_column_error, METH_VARARGS, "worst error of a column by ddx check's rule"},
    {"gemm_gflops", mod_gemm_gflops, METH_VARARGS, "calibration GEMM rate of this CPU"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_ddx", "ddx C extension (use the ddx package)", -1,
                                        module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__ddx(void) {
    if (PyType_Ready(&ProgramType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    Py_INCREF(&ProgramType);
    if (PyModule_AddObject(m, "CProgram", (PyObject *)&ProgramType) < 0 ||
        PyModule_AddStringConstant(m, "version", ddx_version()) < 0 ||
        PyModule_AddIntConstant(m, "n_status", N_STATUS) < 0 || PyModule_AddIntConstant(m, "max_order", DDX_MAX_ORDER) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    PyObject *names = PyTuple_New(N_STATUS);
    if (!names) {
        Py_DECREF(m);
        return NULL;
    }
    for (int i = 0; i < N_STATUS; i++) PyTuple_SET_ITEM(names, i, PyUnicode_FromString(ddx_status_string((ddx_status)i)));
    PyModule_AddObject(m, "status_strings", names);
    return m;
}
