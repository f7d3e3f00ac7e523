/* onnx_pb.c — the protobuf wire format and the ONNX messages ddx reads.
 *
 * Wire format: a message is a sequence of (tag, value); tag = varint
 * (field << 3 | wire type); wire types 0 varint, 1 fixed64, 2 length-
 * delimited (bytes, strings, sub-messages, packed repeated scalars),
 * 5 fixed32. Groups (3, 4) are obsolete and refused. A repeated scalar
 * may come packed (one type-2 field) or one entry per field; both are read.
 *
 * Every reader works on a window [p, end) of the input that its enclosing
 * length says it owns, so a lying length can never reach past the buffer:
 * it is compared with the bytes left before the window is opened. */
#include "host/import/onnx_pb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ONNX_MAX_NAME 4096            /* bytes in one name or string */
#define ONNX_MAX_ELEMS ((int64_t)1 << 28) /* elements in one tensor */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct rd {
    const uint8_t *p, *end;
} rd;

typedef struct pctx {
    const uint8_t *base;
    char *err;
    size_t cap;
    ddx_status st;
} pctx;

static int fail(pctx *c, const uint8_t *at, ddx_status st, const char *fmt, ...) {
    if (c->st == DDX_OK) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (at) snprintf(c->err, c->cap, "onnx: byte %zu: %s", (size_t)(at - c->base), msg);
        else snprintf(c->err, c->cap, "onnx: %s", msg);
        /* names come from the file: keep the message one printable line */
        for (char *p = c->err; *p; p++)
            if ((unsigned char)*p < 32 || *p == 127) *p = '?';
        c->st = st;
    }
    return -1;
}
static int oom(pctx *c) { return fail(c, NULL, DDX_ERR_OUT_OF_MEMORY, "out of memory reading the model"); }

static int rd_varint(pctx *c, rd *r, uint64_t *v, const char *what) {
    uint64_t x = 0;
    const uint8_t *start = r->p;
    *v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end) return fail(c, start, DDX_ERR_PARSE, "truncated varint in %s", what);
        uint8_t b = *r->p++;
        if (i == 9 && b > 1) return fail(c, start, DDX_ERR_PARSE, "varint longer than 64 bits in %s", what);
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return fail(c, start, DDX_ERR_PARSE, "varint longer than 10 bytes in %s", what);
}

static int rd_fixed(pctx *c, rd *r, int bytes, uint64_t *v, const char *what) {
    *v = 0;
    if (r->end - r->p < bytes) return fail(c, r->p, DDX_ERR_PARSE, "truncated fixed%d in %s", 8 * bytes, what);
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++) x |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    *v = x;
    return 0;
}

/* Next tag; returns 1 with field/wire type, 0 at the end of the window. */
static int rd_tag(pctx *c, rd *r, uint32_t *field, int *wt, const char *msg) {
    *field = 0;
    *wt = 0;
    if (r->p >= r->end) return 0;
    const uint8_t *at = r->p;
    uint64_t t;
    if (rd_varint(c, r, &t, msg)) return -1;
    *wt = (int)(t & 7);
    uint64_t f = t >> 3;
    if (f == 0 || f > 536870911u) return fail(c, at, DDX_ERR_PARSE, "%s: field number %llu is invalid", msg,
                                             (unsigned long long)f);
    *field = (uint32_t)f;
    if (*wt == 3 || *wt == 4) return fail(c, at, DDX_ERR_PARSE, "%s: protobuf groups are not supported", msg);
    if (*wt != WT_VARINT && *wt != WT_I64 && *wt != WT_LEN && *wt != WT_I32)
        return fail(c, at, DDX_ERR_PARSE, "%s: invalid wire type %d", msg, *wt);
    return 1;
}

/* Opens the window of a length-delimited field. */
static int rd_len(pctx *c, rd *r, rd *sub, const char *what) {
    const uint8_t *at = r->p;
    uint64_t n;
    sub->p = sub->end = r->p;
    if (rd_varint(c, r, &n, what)) return -1;
    if (n > (uint64_t)(r->end - r->p))
        return fail(c, at, DDX_ERR_PARSE, "%s: length %llu exceeds the %zu bytes left", what, (unsigned long long)n,
                    (size_t)(r->end - r->p));
    sub->p = r->p;
    sub->end = r->p + n;
    r->p += n;
    return 0;
}

static int rd_skip(pctx *c, rd *r, int wt, const char *what) {
    uint64_t v;
    rd sub;
    switch (wt) {
    case WT_VARINT: return rd_varint(c, r, &v, what);
    case WT_I64: return rd_fixed(c, r, 8, &v, what);
    case WT_I32: return rd_fixed(c, r, 4, &v, what);
    default: return rd_len(c, r, &sub, what);
    }
}

static int want_wt(pctx *c, const rd *r, int wt, int expect, const char *msg, const char *field) {
    static const char *names[] = {"varint", "fixed64", "length-delimited", "group", "group", "fixed32"};
    if (wt == expect) return 0;
    return fail(c, r->p, DDX_ERR_PARSE, "%s.%s has wire type %s, expected %s", msg, field, names[wt],
                names[expect]);
}

/* Copies a string field, NUL-terminated; refuses NUL bytes and huge names. */
static int rd_string(pctx *c, rd *r, char **out, const char *what) {
    rd s;
    const uint8_t *at = r->p;
    if (rd_len(c, r, &s, what)) return -1;
    size_t n = (size_t)(s.end - s.p);
    if (n > ONNX_MAX_NAME) return fail(c, at, DDX_ERR_LIMIT, "%s: string of %zu bytes (at most %d)", what, n,
                                       ONNX_MAX_NAME);
    if (memchr(s.p, 0, n)) return fail(c, at, DDX_ERR_PARSE, "%s: string contains a NUL byte", what);
    char *x = malloc(n + 1);
    if (!x) return oom(c);
    memcpy(x, s.p, n);
    x[n] = 0;
    free(*out); /* a repeated singular field: the last one wins, as in protobuf */
    *out = x;
    return 0;
}

/* ---- growable arrays ---- */
static int grow(pctx *c, void **v, int *cap, int n, size_t elsz) {
    if (n < *cap) return 0;
    if (n >= (1 << 24)) return fail(c, NULL, DDX_ERR_LIMIT, "more than %d entries in one list", 1 << 24);
    int nc = *cap ? 2 * *cap : 4;
    void *p = realloc(*v, elsz * (size_t)nc);
    if (!p) return oom(c);
    memset((char *)p + elsz * (size_t)*cap, 0, elsz * (size_t)(nc - *cap));
    *v = p;
    *cap = nc;
    return 0;
}

typedef struct i64vec {
    int64_t *v;
    int n, cap;
} i64vec;
typedef struct f64vec {
    double *v;
    int n, cap;
} f64vec;

static int push_i64(pctx *c, i64vec *a, int64_t x) {
    if (grow(c, (void **)&a->v, &a->cap, a->n, sizeof(int64_t))) return -1;
    a->v[a->n++] = x;
    return 0;
}
static int push_f64(pctx *c, f64vec *a, double x) {
    if (grow(c, (void **)&a->v, &a->cap, a->n, sizeof(double))) return -1;
    a->v[a->n++] = x;
    return 0;
}

static double f32_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}
static double f64_bits(uint64_t u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A repeated varint field (int64, int32, uint64), packed or not. */
static int rd_rep_varint(pctx *c, rd *r, int wt, i64vec *a, const char *what) {
    uint64_t v;
    if (wt == WT_VARINT) {
        if (rd_varint(c, r, &v, what)) return -1;
        return push_i64(c, a, (int64_t)v);
    }
    if (wt != WT_LEN) return fail(c, r->p, DDX_ERR_PARSE, "%s has wire type %d, expected varint", what, wt);
    rd s;
    if (rd_len(c, r, &s, what)) return -1;
    while (s.p < s.end) {
        if (rd_varint(c, &s, &v, what) || push_i64(c, a, (int64_t)v)) return -1;
    }
    return 0;
}

/* A repeated float (bytes = 4) or double (8) field, packed or not. */
static int rd_rep_fixed(pctx *c, rd *r, int wt, int bytes, f64vec *a, const char *what) {
    uint64_t v;
    int one = bytes == 4 ? WT_I32 : WT_I64;
    if (wt == one) {
        if (rd_fixed(c, r, bytes, &v, what)) return -1;
        return push_f64(c, a, bytes == 4 ? f32_bits((uint32_t)v) : f64_bits(v));
    }
    if (wt != WT_LEN) return fail(c, r->p, DDX_ERR_PARSE, "%s has wire type %d, expected fixed%d", what, wt, 8 * bytes);
    rd s;
    const uint8_t *at = r->p;
    if (rd_len(c, r, &s, what)) return -1;
    if ((s.end - s.p) % bytes)
        return fail(c, at, DDX_ERR_PARSE, "%s: packed length %zu is not a multiple of %d", what,
                    (size_t)(s.end - s.p), bytes);
    while (s.p < s.end) {
        if (rd_fixed(c, &s, bytes, &v, what)) return -1;
        if (push_f64(c, a, bytes == 4 ? f32_bits((uint32_t)v) : f64_bits(v))) return -1;
    }
    return 0;
}

const char *onnx_dtype_name(int t) {
    static const char *names[] = {"undefined", "float32", "uint8",  "int8",   "uint16",    "int16",
                                  "int32",     "int64",   "string", "bool",   "float16",   "float64",
                                  "uint32",    "uint64",  "complex64", "complex128", "bfloat16"};
    if (t >= 0 && t < (int)(sizeof names / sizeof names[0])) return names[t];
    return "unknown";
}

static void tensor_free(onnx_tensor *t) {
    if (!t) return;
    free(t->name);
    free(t->f);
    free(t->i);
    memset(t, 0, sizeof *t);
}

/* Element size of a dtype in raw_data, or 0 when ddx does not decode it. */
static int raw_size(int dt) {
    switch (dt) {
    case ONNX_FLOAT: case ONNX_INT32: case ONNX_UINT32: return 4;
    case ONNX_DOUBLE: case ONNX_INT64: case ONNX_UINT64: return 8;
    case ONNX_INT16: case ONNX_UINT16: return 2;
    case ONNX_INT8: case ONNX_UINT8: case ONNX_BOOL: return 1;
    default: return 0;
    }
}

static int64_t raw_int(const uint8_t *p, int dt) {
    uint64_t u = 0;
    int n = raw_size(dt);
    for (int k = 0; k < n; k++) u |= (uint64_t)p[k] << (8 * k);
    switch (dt) {
    case ONNX_INT8: return (int8_t)u;
    case ONNX_INT16: return (int16_t)u;
    case ONNX_INT32: return (int32_t)u;
    case ONNX_BOOL: return u != 0;
    default: return (int64_t)u; /* uint8/16/32, int64; uint64 above 2^63 wraps (never a shape) */
    }
}

static int parse_tensor(pctx *c, rd r, onnx_tensor *t) {
    const char *M = "TensorProto";
    const uint8_t *start = r.p;
    i64vec dims = {0}, ints = {0};
    f64vec flts = {0};
    int have_float = 0, have_double = 0, have_int32 = 0, have_int64 = 0, have_uint64 = 0, external = 0;
    rd raw = {0};
    int have_raw = 0;
    uint32_t f;
    int wt, k;
    uint64_t v;
    t->dtype = ONNX_UNDEFINED;
    while ((k = rd_tag(c, &r, &f, &wt, M)) > 0) {
        switch (f) {
        case 1: if (rd_rep_varint(c, &r, wt, &dims, "TensorProto.dims")) goto bad; break;
        case 2:
            if (want_wt(c, &r, wt, WT_VARINT, M, "data_type") || rd_varint(c, &r, &v, M)) goto bad;
            t->dtype = v > 64 ? -1 : (int)v;
            break;
        case 3: fail(c, r.p, DDX_ERR_UNSUPPORTED, "tensor segments are not supported"); goto bad;
        case 4:
            if (have_double || have_int32 || have_int64 || have_uint64) goto mixed;
            have_float = 1;
            if (rd_rep_fixed(c, &r, wt, 4, &flts, "TensorProto.float_data")) goto bad;
            break;
        case 5:
            if (have_float || have_double || have_int64 || have_uint64) goto mixed;
            have_int32 = 1;
            if (rd_rep_varint(c, &r, wt, &ints, "TensorProto.int32_data")) goto bad;
            break;
        case 7:
            if (have_float || have_double || have_int32 || have_uint64) goto mixed;
            have_int64 = 1;
            if (rd_rep_varint(c, &r, wt, &ints, "TensorProto.int64_data")) goto bad;
            break;
        case 8: if (want_wt(c, &r, wt, WT_LEN, M, "name") || rd_string(c, &r, &t->name, "TensorProto.name")) goto bad; break;
        case 9:
            if (want_wt(c, &r, wt, WT_LEN, M, "raw_data") || rd_len(c, &r, &raw, "TensorProto.raw_data")) goto bad;
            have_raw = 1;
            break;
        case 10:
            if (have_float || have_int32 || have_int64 || have_uint64) goto mixed;
            have_double = 1;
            if (rd_rep_fixed(c, &r, wt, 8, &flts, "TensorProto.double_data")) goto bad;
            break;
        case 11:
            if (have_float || have_double || have_int32 || have_int64) goto mixed;
            have_uint64 = 1;
            if (rd_rep_varint(c, &r, wt, &ints, "TensorProto.uint64_data")) goto bad;
            break;
        case 13: external = 1; if (rd_skip(c, &r, wt, M)) goto bad; break;
        case 14:
            if (want_wt(c, &r, wt, WT_VARINT, M, "data_location") || rd_varint(c, &r, &v, M)) goto bad;
            if (v == 1) external = 1;
            break;
        default: if (rd_skip(c, &r, wt, M)) goto bad;
        }
    }
    if (k < 0) goto bad;
    const char *nm = t->name ? t->name : "(unnamed)";
    if (external) {
        fail(c, start, DDX_ERR_UNSUPPORTED, "tensor '%s': external data files are not supported (save the model with its weights inside)", nm);
        goto bad;
    }
    if (dims.n > ONNX_MAX_RANK) {
        fail(c, start, DDX_ERR_LIMIT, "tensor '%s' has rank %d (at most %d)", nm, dims.n, ONNX_MAX_RANK);
        goto bad;
    }
    t->rank = dims.n;
    t->n = 1;
    for (int d = 0; d < dims.n; d++) {
        if (dims.v[d] < 0) {
            fail(c, start, DDX_ERR_PARSE, "tensor '%s': dimension %d is %lld", nm, d, (long long)dims.v[d]);
            goto bad;
        }
        if (dims.v[d] > ONNX_MAX_ELEMS) {
            fail(c, start, DDX_ERR_LIMIT, "tensor '%s': dimension %d is %lld, more than the %lld elements allowed", nm,
                 d, (long long)dims.v[d], (long long)ONNX_MAX_ELEMS);
            goto bad;
        }
        t->dims[d] = dims.v[d];
        t->n *= dims.v[d];
        if (t->n > ONNX_MAX_ELEMS) {
            fail(c, start, DDX_ERR_LIMIT, "tensor '%s' has more than %lld elements", nm, (long long)ONNX_MAX_ELEMS);
            goto bad;
        }
    }
    int dt = t->dtype, is_float = dt == ONNX_FLOAT || dt == ONNX_DOUBLE, rs = raw_size(dt);
    if (rs == 0) {
        /* kept with no data: the importer names the dtype if the tensor is used */
        if (have_raw || have_float || have_double || have_int32 || have_int64 || have_uint64 || t->n == 0) {}
        goto done;
    }
    int typed = have_float || have_double || have_int32 || have_int64 || have_uint64;
    if (have_raw && typed) {
        fail(c, start, DDX_ERR_PARSE, "tensor '%s' has both raw_data and typed data", nm);
        goto bad;
    }
    /* the typed field must be the one the dtype says */
    if (typed) {
        int ok = (dt == ONNX_FLOAT && have_float) || (dt == ONNX_DOUBLE && have_double) ||
                 (dt == ONNX_INT64 && have_int64) || ((dt == ONNX_UINT32 || dt == ONNX_UINT64) && have_uint64) ||
                 ((dt == ONNX_INT32 || dt == ONNX_INT16 || dt == ONNX_INT8 || dt == ONNX_UINT16 ||
                   dt == ONNX_UINT8 || dt == ONNX_BOOL) && have_int32);
        if (!ok) {
            fail(c, start, DDX_ERR_PARSE, "tensor '%s' (%s) stores its values in the wrong typed field", nm,
                 onnx_dtype_name(dt));
            goto bad;
        }
    }
    int64_t have = have_raw ? (int64_t)(raw.end - raw.p) : (is_float ? flts.n : ints.n);
    int64_t want = have_raw ? t->n * rs : t->n;
    if (have != want) {
        fail(c, start, DDX_ERR_SHAPE, "tensor '%s' (%s, %lld elements by its shape) holds %lld %s", nm,
             onnx_dtype_name(dt), (long long)t->n, (long long)have, have_raw ? "raw bytes" : "values");
        goto bad;
    }
    size_t n = (size_t)t->n;
    if (is_float) {
        t->f = malloc(sizeof(double) * (n ? n : 1));
        if (!t->f) { oom(c); goto bad; }
        for (size_t q = 0; q < n; q++) {
            if (!have_raw) t->f[q] = flts.v[q];
            else if (dt == ONNX_FLOAT) {
                uint32_t u = 0;
                for (int b = 0; b < 4; b++) u |= (uint32_t)raw.p[4 * q + b] << (8 * b);
                t->f[q] = f32_bits(u);
            } else {
                uint64_t u = 0;
                for (int b = 0; b < 8; b++) u |= (uint64_t)raw.p[8 * q + b] << (8 * b);
                t->f[q] = f64_bits(u);
            }
        }
    } else {
        t->i = malloc(sizeof(int64_t) * (n ? n : 1));
        if (!t->i) { oom(c); goto bad; }
        for (size_t q = 0; q < n; q++) {
            if (have_raw) t->i[q] = raw_int(raw.p + (size_t)rs * q, dt);
            else if (dt == ONNX_INT32 || dt == ONNX_INT16 || dt == ONNX_INT8)
                t->i[q] = (int32_t)ints.v[q]; /* int32_data holds sign-extended varints */
            else if (dt == ONNX_BOOL) t->i[q] = ints.v[q] != 0;
            else t->i[q] = ints.v[q];
        }
    }
done:
    free(dims.v), free(ints.v), free(flts.v);
    return 0;
mixed:
    fail(c, r.p, DDX_ERR_PARSE, "tensor '%s' mixes typed data fields", t->name ? t->name : "(unnamed)");
bad:
    free(dims.v), free(ints.v), free(flts.v);
    return -1;
}

static void attr_free(onnx_attr *a) {
    free(a->name);
    free(a->s);
    if (a->t) {
        tensor_free(a->t);
        free(a->t);
    }
    free(a->floats);
    free(a->ints);
    memset(a, 0, sizeof *a);
}

static int parse_attr(pctx *c, rd r, onnx_attr *a) {
    const char *M = "AttributeProto";
    uint32_t f;
    int wt, k, seen = 0;
    uint64_t v;
    rd s;
    i64vec ints = {0};
    f64vec flts = {0};
    while ((k = rd_tag(c, &r, &f, &wt, M)) > 0) {
        switch (f) {
        case 1: if (want_wt(c, &r, wt, WT_LEN, M, "name") || rd_string(c, &r, &a->name, "AttributeProto.name")) goto bad; break;
        case 2:
            if (want_wt(c, &r, wt, WT_I32, M, "f") || rd_fixed(c, &r, 4, &v, M)) goto bad;
            a->f = f32_bits((uint32_t)v);
            seen = seen ? seen : ONNX_ATTR_FLOAT;
            break;
        case 3:
            if (want_wt(c, &r, wt, WT_VARINT, M, "i") || rd_varint(c, &r, &v, M)) goto bad;
            a->i = (int64_t)v;
            seen = seen ? seen : ONNX_ATTR_INT;
            break;
        case 4: {
            if (want_wt(c, &r, wt, WT_LEN, M, "s") || rd_len(c, &r, &s, "AttributeProto.s")) goto bad;
            size_t n = (size_t)(s.end - s.p);
            if (n > ONNX_MAX_NAME) n = ONNX_MAX_NAME;
            char *x = malloc(n + 1);
            if (!x) { oom(c); goto bad; }
            memcpy(x, s.p, n);
            x[n] = 0; /* binary strings compare up to their first NUL; ddx only compares them */
            free(a->s);
            a->s = x;
            seen = seen ? seen : ONNX_ATTR_STRING;
            break;
        }
        case 5:
            if (want_wt(c, &r, wt, WT_LEN, M, "t") || rd_len(c, &r, &s, "AttributeProto.t")) goto bad;
            if (a->t) {
                tensor_free(a->t);
            } else if (!(a->t = calloc(1, sizeof *a->t))) {
                oom(c);
                goto bad;
            }
            if (parse_tensor(c, s, a->t)) goto bad;
            seen = seen ? seen : ONNX_ATTR_TENSOR;
            break;
        case 6: case 11: /* subgraphs (If, Loop, Scan): not entered */
            a->has_subgraph = 1;
            if (rd_skip(c, &r, wt, M)) goto bad;
            break;
        case 7: if (rd_rep_fixed(c, &r, wt, 4, &flts, "AttributeProto.floats")) goto bad; seen = seen ? seen : ONNX_ATTR_FLOATS; break;
        case 8: if (rd_rep_varint(c, &r, wt, &ints, "AttributeProto.ints")) goto bad; seen = seen ? seen : ONNX_ATTR_INTS; break;
        case 20:
            if (want_wt(c, &r, wt, WT_VARINT, M, "type") || rd_varint(c, &r, &v, M)) goto bad;
            a->type = v > 64 ? -1 : (int)v;
            break;
        default: if (rd_skip(c, &r, wt, M)) goto bad;
        }
    }
    if (k < 0) goto bad;
    if (a->type == ONNX_ATTR_UNDEFINED) a->type = seen; /* IR < 0.0.2 files may omit type */
    a->floats = flts.v, a->n_floats = flts.n;
    a->ints = ints.v, a->n_ints = ints.n;
    if (!a->name) return fail(c, r.p, DDX_ERR_PARSE, "attribute without a name");
    return 0;
bad:
    free(ints.v), free(flts.v);
    return -1;
}

static void node_free(onnx_node *n) {
    free(n->name), free(n->op), free(n->domain);
    for (int i = 0; i < n->n_in; i++) free(n->in[i]);
    for (int i = 0; i < n->n_out; i++) free(n->out[i]);
    for (int i = 0; i < n->n_attrs; i++) attr_free(&n->attrs[i]);
    free(n->in), free(n->out), free(n->attrs);
    memset(n, 0, sizeof *n);
}

static int push_string(pctx *c, rd *r, char ***v, int *n, int *cap, const char *what) {
    if (grow(c, (void **)v, cap, *n, sizeof(char *))) return -1;
    (*v)[*n] = NULL;
    if (rd_string(c, r, &(*v)[*n], what)) return -1;
    (*n)++;
    return 0;
}

static int parse_node(pctx *c, rd r, onnx_node *n) {
    const char *M = "NodeProto";
    uint32_t f;
    int wt, k, cap_in = 0, cap_out = 0, cap_at = 0;
    rd s;
    while ((k = rd_tag(c, &r, &f, &wt, M)) > 0) {
        switch (f) {
        case 1: if (want_wt(c, &r, wt, WT_LEN, M, "input") || push_string(c, &r, &n->in, &n->n_in, &cap_in, "NodeProto.input")) return -1; break;
        case 2: if (want_wt(c, &r, wt, WT_LEN, M, "output") || push_string(c, &r, &n->out, &n->n_out, &cap_out, "NodeProto.output")) return -1; break;
        case 3: if (want_wt(c, &r, wt, WT_LEN, M, "name") || rd_string(c, &r, &n->name, "NodeProto.name")) return -1; break;
        case 4: if (want_wt(c, &r, wt, WT_LEN, M, "op_type") || rd_string(c, &r, &n->op, "NodeProto.op_type")) return -1; break;
        case 7: if (want_wt(c, &r, wt, WT_LEN, M, "domain") || rd_string(c, &r, &n->domain, "NodeProto.domain")) return -1; break;
        case 5:
            if (want_wt(c, &r, wt, WT_LEN, M, "attribute") || rd_len(c, &r, &s, "NodeProto.attribute")) return -1;
            if (grow(c, (void **)&n->attrs, &cap_at, n->n_attrs, sizeof(onnx_attr))) return -1;
            n->n_attrs++; /* counted first so a half-parsed attribute is freed with the node */
            if (parse_attr(c, s, &n->attrs[n->n_attrs - 1])) return -1;
            break;
        default: if (rd_skip(c, &r, wt, M)) return -1;
        }
    }
    if (k < 0) return -1;
    if (!n->op) return fail(c, r.p, DDX_ERR_PARSE, "node '%s' has no op_type", n->name ? n->name : "");
    return 0;
}

static int parse_dim(pctx *c, rd r, onnx_value_info *vi, int d) {
    const char *M = "TensorShapeProto.Dimension";
    uint32_t f;
    int wt, k;
    uint64_t v;
    rd s;
    vi->dims[d] = -1;
    while ((k = rd_tag(c, &r, &f, &wt, M)) > 0) {
        if (f == 1) {
            if (want_wt(c, &r, wt, WT_VARINT, M, "dim_value") || rd_varint(c, &r, &v, M)) return -1;
            vi->dims[d] = (int64_t)v < 0 ? -1 : (int64_t)v;
        } else if (f == 2) {
            if (want_wt(c, &r, wt, WT_LEN, M, "dim_param") || rd_len(c, &r, &s, "Dimension.dim_param")) return -1;
            size_t n = (size_t)(s.end - s.p);
            if (n >= sizeof vi->dim_param[d]) n = sizeof vi->dim_param[d] - 1;
            memcpy(vi->dim_param[d], s.p, n);
            vi->dim_param[d][n] = 0;
            for (size_t q = 0; q < n; q++)
                if (vi->dim_param[d][q] < 32 || vi->dim_param[d][q] > 126) vi->dim_param[d][q] = '?';
        } else if (rd_skip(c, &r, wt, M))
            return -1;
    }
    return k;
}

static int parse_type(pctx *c, rd r, onnx_value_info *vi) {
    uint32_t f;
    int wt, k;
    uint64_t v;
    rd tt, sh, dm;
    while ((k = rd_tag(c, &r, &f, &wt, "TypeProto")) > 0) {
        if (f != 1) {
            if (rd_skip(c, &r, wt, "TypeProto")) return -1;
            continue;
        }
        if (want_wt(c, &r, wt, WT_LEN, "TypeProto", "tensor_type") || rd_len(c, &r, &tt, "TypeProto.tensor_type"))
            return -1;
        vi->has_tensor_type = 1;
        while ((k = rd_tag(c, &tt, &f, &wt, "TypeProto.Tensor")) > 0) {
            if (f == 1) {
                if (want_wt(c, &tt, wt, WT_VARINT, "TypeProto.Tensor", "elem_type") || rd_varint(c, &tt, &v, "TypeProto.Tensor"))
                    return -1;
                vi->elem_type = v > 64 ? -1 : (int)v;
            } else if (f == 2) {
                if (want_wt(c, &tt, wt, WT_LEN, "TypeProto.Tensor", "shape") || rd_len(c, &tt, &sh, "TypeProto.Tensor.shape"))
                    return -1;
                vi->has_shape = 1;
                vi->rank = 0;
                while ((k = rd_tag(c, &sh, &f, &wt, "TensorShapeProto")) > 0) {
                    if (f != 1) {
                        if (rd_skip(c, &sh, wt, "TensorShapeProto")) return -1;
                        continue;
                    }
                    if (want_wt(c, &sh, wt, WT_LEN, "TensorShapeProto", "dim") || rd_len(c, &sh, &dm, "TensorShapeProto.dim"))
                        return -1;
                    if (vi->rank >= ONNX_MAX_RANK)
                        return fail(c, dm.p, DDX_ERR_LIMIT, "value '%s' has rank above %d", vi->name ? vi->name : "",
                                    ONNX_MAX_RANK);
                    if (parse_dim(c, dm, vi, vi->rank) < 0) return -1;
                    vi->rank++;
                }
                if (k < 0) return -1;
            } else if (rd_skip(c, &tt, wt, "TypeProto.Tensor"))
                return -1;
        }
        if (k < 0) return -1;
    }
    return k;
}

static int parse_value_info(pctx *c, rd r, onnx_value_info *vi) {
    uint32_t f;
    int wt, k;
    rd s;
    while ((k = rd_tag(c, &r, &f, &wt, "ValueInfoProto")) > 0) {
        if (f == 1) {
            if (want_wt(c, &r, wt, WT_LEN, "ValueInfoProto", "name") || rd_string(c, &r, &vi->name, "ValueInfoProto.name"))
                return -1;
        } else if (f == 2) {
            if (want_wt(c, &r, wt, WT_LEN, "ValueInfoProto", "type") || rd_len(c, &r, &s, "ValueInfoProto.type"))
                return -1;
            if (parse_type(c, s, vi) < 0) return -1;
        } else if (rd_skip(c, &r, wt, "ValueInfoProto"))
            return -1;
    }
    if (k < 0) return -1;
    if (!vi->name || !vi->name[0]) return fail(c, r.p, DDX_ERR_PARSE, "graph input or output without a name");
    return 0;
}

static int parse_graph(pctx *c, rd r, onnx_model *m) {
    const char *M = "GraphProto";
    uint32_t f;
    int wt, k, cap_n = 0, cap_i = 0, cap_in = 0, cap_out = 0;
    rd s;
    while ((k = rd_tag(c, &r, &f, &wt, M)) > 0) {
        switch (f) {
        case 1:
            if (want_wt(c, &r, wt, WT_LEN, M, "node") || rd_len(c, &r, &s, "GraphProto.node")) return -1;
            if (grow(c, (void **)&m->nodes, &cap_n, m->n_nodes, sizeof(onnx_node))) return -1;
            m->n_nodes++;
            if (parse_node(c, s, &m->nodes[m->n_nodes - 1])) return -1;
            break;
        case 2: if (want_wt(c, &r, wt, WT_LEN, M, "name") || rd_string(c, &r, &m->graph_name, "GraphProto.name")) return -1; break;
        case 5:
            if (want_wt(c, &r, wt, WT_LEN, M, "initializer") || rd_len(c, &r, &s, "GraphProto.initializer")) return -1;
            if (grow(c, (void **)&m->inits, &cap_i, m->n_inits, sizeof(onnx_tensor))) return -1;
            m->n_inits++;
            if (parse_tensor(c, s, &m->inits[m->n_inits - 1])) return -1;
            if (!m->inits[m->n_inits - 1].name || !m->inits[m->n_inits - 1].name[0])
                return fail(c, s.p, DDX_ERR_PARSE, "initializer without a name");
            break;
        case 11: case 12:
            if (want_wt(c, &r, wt, WT_LEN, M, f == 11 ? "input" : "output") || rd_len(c, &r, &s, "GraphProto.input/output"))
                return -1;
            if (f == 11) {
                if (grow(c, (void **)&m->inputs, &cap_in, m->n_inputs, sizeof(onnx_value_info))) return -1;
                if (parse_value_info(c, s, &m->inputs[m->n_inputs++])) return -1;
            } else {
                if (grow(c, (void **)&m->outputs, &cap_out, m->n_outputs, sizeof(onnx_value_info))) return -1;
                if (parse_value_info(c, s, &m->outputs[m->n_outputs++])) return -1;
            }
            break;
        case 15:
            return fail(c, r.p, DDX_ERR_UNSUPPORTED, "sparse initializers are not supported");
        default: if (rd_skip(c, &r, wt, M)) return -1;
        }
    }
    return k < 0 ? -1 : 0;
}

static int parse_opset(pctx *c, rd r, onnx_opset *o) {
    uint32_t f;
    int wt, k;
    uint64_t v;
    while ((k = rd_tag(c, &r, &f, &wt, "OperatorSetIdProto")) > 0) {
        if (f == 1) {
            if (want_wt(c, &r, wt, WT_LEN, "OperatorSetIdProto", "domain") || rd_string(c, &r, &o->domain, "OperatorSetIdProto.domain"))
                return -1;
        } else if (f == 2) {
            if (want_wt(c, &r, wt, WT_VARINT, "OperatorSetIdProto", "version") || rd_varint(c, &r, &v, "OperatorSetIdProto"))
                return -1;
            o->version = (int64_t)v;
        } else if (rd_skip(c, &r, wt, "OperatorSetIdProto"))
            return -1;
    }
    return k;
}

void onnx_model_free(onnx_model *m) {
    if (!m) return;
    free(m->producer);
    free(m->graph_name);
    for (int i = 0; i < m->n_opsets; i++) free(m->opsets[i].domain);
    free(m->opsets);
    for (int i = 0; i < m->n_nodes; i++) node_free(&m->nodes[i]);
    free(m->nodes);
    for (int i = 0; i < m->n_inits; i++) tensor_free(&m->inits[i]);
    free(m->inits);
    for (int i = 0; i < m->n_inputs; i++) free(m->inputs[i].name);
    free(m->inputs);
    for (int i = 0; i < m->n_outputs; i++) free(m->outputs[i].name);
    free(m->outputs);
    memset(m, 0, sizeof *m);
}

ddx_status onnx_parse_model(const void *data, size_t size, onnx_model *m, char *err, size_t cap) {
    memset(m, 0, sizeof *m);
    pctx c = {data, err, cap, DDX_OK};
    if (cap) err[0] = 0;
    if (!data || size == 0) {
        fail(&c, NULL, DDX_ERR_PARSE, "empty file (not an ONNX model)");
        return c.st;
    }
    rd r = {data, (const uint8_t *)data + size};
    uint32_t f;
    int wt, k, cap_o = 0;
    uint64_t v;
    rd s;
    while ((k = rd_tag(&c, &r, &f, &wt, "ModelProto")) > 0) {
        switch (f) {
        case 1:
            if (want_wt(&c, &r, wt, WT_VARINT, "ModelProto", "ir_version") || rd_varint(&c, &r, &v, "ModelProto")) goto bad;
            m->ir_version = (int64_t)v;
            break;
        case 2: if (want_wt(&c, &r, wt, WT_LEN, "ModelProto", "producer_name") || rd_string(&c, &r, &m->producer, "ModelProto.producer_name")) goto bad; break;
        case 7:
            if (want_wt(&c, &r, wt, WT_LEN, "ModelProto", "graph") || rd_len(&c, &r, &s, "ModelProto.graph")) goto bad;
            if (m->has_graph) {
                fail(&c, s.p, DDX_ERR_PARSE, "ModelProto has two graphs");
                goto bad;
            }
            m->has_graph = 1;
            if (parse_graph(&c, s, m)) goto bad;
            break;
        case 8:
            if (want_wt(&c, &r, wt, WT_LEN, "ModelProto", "opset_import") || rd_len(&c, &r, &s, "ModelProto.opset_import")) goto bad;
            if (grow(&c, (void **)&m->opsets, &cap_o, m->n_opsets, sizeof(onnx_opset))) goto bad;
            if (parse_opset(&c, s, &m->opsets[m->n_opsets++]) < 0) goto bad;
            break;
        default: if (rd_skip(&c, &r, wt, "ModelProto")) goto bad;
        }
    }
    if (k < 0) goto bad;
    if (!m->has_graph) {
        fail(&c, NULL, DDX_ERR_PARSE, "no graph in the file (not an ONNX model, or truncated)");
        goto bad;
    }
    return DDX_OK;
bad:
    onnx_model_free(m);
    if (c.st == DDX_OK) fail(&c, NULL, DDX_ERR_INTERNAL, "parse failed");
    return c.st;
}

const onnx_attr *onnx_node_attr(const onnx_node *n, const char *name) {
    for (int i = n->n_attrs - 1; i >= 0; i--)
        if (n->attrs[i].name && strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}
