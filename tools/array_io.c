/* array_io.c — .npy and .csv readers and writers.
 *
 * Files are untrusted (they are fuzzed): nothing read from a file is used as
 * a size until it has been checked against the bytes actually present, and
 * buffers grow only as data arrives, so a lying header cannot make us
 * allocate or read more than the file holds. Reading is plain C11 stdio;
 * writing goes through tools/atomic_file (temporary + fsync + rename). */
#include "tools/array_io.h"
#include "tools/atomic_file.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

enum {
    NPY_HEADER_MAX = 1 << 20, /* real headers are < 1 KiB; numpy itself caps at 10000 */
    READ_CHUNK = 1 << 16,
    TOKEN_SHOWN = 40          /* longest token quoted in a message */
};

#define UTF8_BOM "\xEF\xBB\xBF"

/* Where a message goes and which file it names. */
typedef struct io_ctx {
    const char *path;
    char *err;
    size_t errcap;
} io_ctx;

/* ---- messages ------------------------------------------------------------ */

/* The message must stay one line whatever the path or file contents hold. */
static void replace_control_chars(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

/* Writes "path: msg" or "path:line: msg" and returns st. */
static ddx_status fail(const io_ctx *c, ddx_status st, int64_t line, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
static ddx_status fail(const io_ctx *c, ddx_status st, int64_t line, const char *fmt, ...) {
    if (!c->err || c->errcap == 0) return st;
    int n = line > 0 ? snprintf(c->err, c->errcap, "%s:%" PRId64 ": ", c->path, line)
                     : snprintf(c->err, c->errcap, "%s: ", c->path);
    if (n >= 0 && (size_t)n < c->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errcap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    replace_control_chars(c->err);
    return st;
}

/* Copies a token for quoting in a message, shortened so the message stays
 * readable; NULs become '?' so the copy is a full C string. */
static const char *shown_token(const char *s, size_t n, char buf[TOKEN_SHOWN + 4]) {
    size_t k = n > TOKEN_SHOWN ? TOKEN_SHOWN : n;
    for (size_t i = 0; i < k; i++) buf[i] = s[i] ? s[i] : '?';
    if (n > TOKEN_SHOWN) memcpy(buf + k, "...", 4);
    else buf[k] = '\0';
    return buf;
}

static ddx_status fail_oom(const io_ctx *c) {
    return fail(c, DDX_ERR_OUT_OF_MEMORY, 0, "out of memory");
}

static ddx_status fail_read(const io_ctx *c) {
    return fail(c, DDX_ERR_IO, 0, "read error: %s", errno ? strerror(errno) : "unknown");
}

/* ---- small helpers ------------------------------------------------------- */

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap_bytes(unsigned char *p, size_t count, size_t itemsize) {
    for (size_t i = 0; i < count; i++, p += itemsize)
        for (size_t j = 0; j < itemsize / 2; j++) {
            unsigned char t = p[j];
            p[j] = p[itemsize - 1 - j];
            p[itemsize - 1 - j] = t;
        }
}

static size_t elem_size(ddx_precision p) { return p == DDX_F32 ? sizeof(float) : sizeof(double); }

/* rows*cols as a size_t that also fits a byte count of itemsize elements. */
static int element_count(int64_t rows, int64_t cols, size_t itemsize, size_t *n) {
    if (rows < 0 || cols < 0) return 0;
    if (rows != 0 && cols > INT64_MAX / rows) return 0;
    uint64_t e = (uint64_t)rows * (uint64_t)cols;
    if (e > SIZE_MAX / itemsize || e > (uint64_t)INT64_MAX / itemsize) return 0;
    *n = (size_t)e;
    return 1;
}

static char *copy_span(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

typedef enum file_format { FMT_UNKNOWN, FMT_NPY, FMT_CSV } file_format;

static int ascii_lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch; }

static file_format format_of(const char *path) {
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    const char *bslash = strrchr(path, '\\');
    if (!dot || (slash && slash > dot) || (bslash && bslash > dot)) return FMT_UNKNOWN;
    char ext[4];
    if (strlen(dot + 1) != 3) return FMT_UNKNOWN;
    for (int i = 0; i < 3; i++) ext[i] = (char)ascii_lower((unsigned char)dot[1 + i]);
    ext[3] = '\0';
    if (strcmp(ext, "npy") == 0) return FMT_NPY;
    if (strcmp(ext, "csv") == 0) return FMT_CSV;
    return FMT_UNKNOWN;
}

/* ---- .npy header (a Python dict literal) ----------------------------------- */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_space(cursor *k) {
    while (k->p < k->end && is_space(*k->p)) k->p++;
}

static int accept_char(cursor *k, char ch) {
    skip_space(k);
    if (k->p < k->end && *k->p == ch) {
        k->p++;
        return 1;
    }
    return 0;
}

/* A Python identifier-like word (True/False), not a prefix of a longer one. */
static int accept_word(cursor *k, const char *w) {
    skip_space(k);
    size_t n = strlen(w);
    if ((size_t)(k->end - k->p) < n || memcmp(k->p, w, n) != 0) return 0;
    if (k->p + n < k->end) {
        char nx = k->p[n];
        if (nx == '_' || is_digit(nx) || (nx >= 'a' && nx <= 'z') || (nx >= 'A' && nx <= 'Z'))
            return 0;
    }
    k->p += n;
    return 1;
}

/* A quoted string without escapes (numpy never writes any); points into the
 * header rather than copying. */
static int read_string(cursor *k, const char **s, size_t *n) {
    skip_space(k);
    if (k->p >= k->end || (*k->p != '\'' && *k->p != '"')) return 0;
    char q = *k->p++;
    const char *start = k->p;
    while (k->p < k->end && *k->p != q) {
        if (*k->p == '\\' || *k->p == '\n') return 0;
        k->p++;
    }
    if (k->p >= k->end) return 0;
    *s = start;
    *n = (size_t)(k->p - start);
    k->p++;
    return 1;
}

static int span_is(const char *s, size_t n, const char *lit) {
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

typedef struct npy_header {
    const char *descr; /* points into the header text */
    size_t descr_len;
    int fortran_order;
    int rank;
    int64_t dims[2]; /* first two dimensions; rank says how many are real */
    int seen_descr, seen_fortran, seen_shape;
} npy_header;

static ddx_status read_shape(cursor *k, const io_ctx *c, npy_header *h) {
    if (!accept_char(k, '(')) return fail(c, DDX_ERR_PARSE, 0, "npy header: 'shape' is not a tuple");
    h->rank = 0;
    if (accept_char(k, ')')) return DDX_OK;
    for (;;) {
        skip_space(k);
        int negative = 0;
        if (k->p < k->end && *k->p == '-') {
            negative = 1;
            k->p++;
        }
        if (k->p >= k->end || !is_digit(*k->p))
            return fail(c, DDX_ERR_PARSE, 0, "npy header: 'shape' holds a non-integer");
        int64_t v = 0;
        while (k->p < k->end && is_digit(*k->p)) {
            int digit = *k->p - '0';
            if (v > (INT64_MAX - digit) / 10)
                return fail(c, DDX_ERR_PARSE, 0, "npy header: dimension in 'shape' is too large");
            v = v * 10 + digit;
            k->p++;
        }
        if (k->p < k->end && *k->p == 'L') k->p++; /* Python 2 long, from old numpy */
        if (negative && v != 0)
            return fail(c, DDX_ERR_PARSE, 0, "npy header: negative dimension -%" PRId64 " in 'shape'", v);
        if (h->rank < 2) h->dims[h->rank] = v;
        h->rank++; /* bounded by the header length, so no overflow */
        if (accept_char(k, ',')) {
            if (accept_char(k, ')')) return DDX_OK;
            continue;
        }
        if (accept_char(k, ')')) return DDX_OK;
        return fail(c, DDX_ERR_PARSE, 0, "npy header: expected ',' or ')' in 'shape'");
    }
}

static ddx_status parse_npy_header(const char *text, size_t len, const io_ctx *c, npy_header *h) {
    cursor k = {text, text + len};
    memset(h, 0, sizeof *h);
    if (!accept_char(&k, '{')) return fail(c, DDX_ERR_PARSE, 0, "npy header is not a dict");
    for (;;) {
        if (accept_char(&k, '}')) break;
        const char *key;
        size_t key_len;
        char shown[TOKEN_SHOWN + 4];
        if (!read_string(&k, &key, &key_len))
            return fail(c, DDX_ERR_PARSE, 0, "npy header: expected a quoted key");
        if (!accept_char(&k, ':'))
            return fail(c, DDX_ERR_PARSE, 0, "npy header: expected ':' after '%s'",
                        shown_token(key, key_len, shown));
        if (span_is(key, key_len, "descr")) {
            if (h->seen_descr) return fail(c, DDX_ERR_PARSE, 0, "npy header: 'descr' given twice");
            h->seen_descr = 1;
            skip_space(&k);
            if (k.p < k.end && *k.p == '[')
                return fail(c, DDX_ERR_UNSUPPORTED, 0, "structured dtypes are not supported (need '<f4' or '<f8')");
            if (!read_string(&k, &h->descr, &h->descr_len))
                return fail(c, DDX_ERR_PARSE, 0, "npy header: 'descr' is not a string");
        } else if (span_is(key, key_len, "fortran_order")) {
            if (h->seen_fortran) return fail(c, DDX_ERR_PARSE, 0, "npy header: 'fortran_order' given twice");
            h->seen_fortran = 1;
            if (accept_word(&k, "True")) h->fortran_order = 1;
            else if (accept_word(&k, "False")) h->fortran_order = 0;
            else return fail(c, DDX_ERR_PARSE, 0, "npy header: 'fortran_order' is not True or False");
        } else if (span_is(key, key_len, "shape")) {
            if (h->seen_shape) return fail(c, DDX_ERR_PARSE, 0, "npy header: 'shape' given twice");
            h->seen_shape = 1;
            ddx_status st = read_shape(&k, c, h);
            if (st != DDX_OK) return st;
        } else {
            return fail(c, DDX_ERR_PARSE, 0, "npy header: unexpected key '%s'", shown_token(key, key_len, shown));
        }
        if (accept_char(&k, ',')) continue;
        if (accept_char(&k, '}')) break;
        return fail(c, DDX_ERR_PARSE, 0, "npy header: expected ',' or '}'");
    }
    skip_space(&k);
    if (k.p != k.end) return fail(c, DDX_ERR_PARSE, 0, "npy header: unexpected text after the dict");
    if (!h->seen_descr) return fail(c, DDX_ERR_PARSE, 0, "npy header lacks 'descr'");
    if (!h->seen_fortran) return fail(c, DDX_ERR_PARSE, 0, "npy header lacks 'fortran_order'");
    if (!h->seen_shape) return fail(c, DDX_ERR_PARSE, 0, "npy header lacks 'shape'");
    return DDX_OK;
}

/* ---- .npy reading ------------------------------------------------------- */

/* Reads exactly `expect` bytes of payload and checks nothing follows. The
 * buffer grows as bytes arrive, so a shape that lies costs nothing. */
static ddx_status read_npy_payload(FILE *f, const io_ctx *c, size_t expect, unsigned char **out) {
    size_t cap = expect < READ_CHUNK ? expect : READ_CHUNK;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) return fail_oom(c);
    size_t got = 0;
    for (;;) {
        got += fread(buf + got, 1, cap - got, f);
        if (got < cap || cap == expect) break;
        size_t next = cap > expect / 2 ? expect : cap * 2;
        unsigned char *nb = realloc(buf, next);
        if (!nb) {
            free(buf);
            return fail_oom(c);
        }
        buf = nb;
        cap = next;
    }
    if (ferror(f)) {
        free(buf);
        return fail_read(c);
    }
    if (got < expect) {
        free(buf);
        return fail(c, DDX_ERR_PARSE, 0, "data section is truncated: expected %zu bytes, found %zu", expect, got);
    }
    /* Count what is left over so the message can say how much. */
    unsigned char scratch[4096];
    uint64_t extra = 0;
    size_t m;
    while ((m = fread(scratch, 1, sizeof scratch, f)) > 0) extra += m;
    if (ferror(f)) {
        free(buf);
        return fail_read(c);
    }
    if (extra) {
        free(buf);
        return fail(c, DDX_ERR_PARSE, 0, "data section is too long: expected %zu bytes, found %" PRIu64,
                    expect, (uint64_t)expect + extra);
    }
    *out = buf;
    return DDX_OK;
}

static ddx_status read_npy(FILE *f, const io_ctx *c, ddx_array *out) {
    unsigned char pre[12];
    size_t got = fread(pre, 1, 10, f);
    if (ferror(f)) return fail_read(c);
    if (got == 0) return fail(c, DDX_ERR_PARSE, 0, "empty file");
    if (got < 6 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return fail(c, DDX_ERR_PARSE, 0, "not an .npy file (bad magic)");
    if (got < 10) return fail(c, DDX_ERR_PARSE, 0, "npy prefix is truncated");
    int major = pre[6], minor = pre[7];
    uint32_t hlen;
    if (major == 1) {
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        /* 2.0 widens the header length to u32; 3.0 only makes the header UTF-8. */
        if (fread(pre + 10, 1, 2, f) != 2) {
            if (ferror(f)) return fail_read(c);
            return fail(c, DDX_ERR_PARSE, 0, "npy prefix is truncated");
        }
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
    } else {
        return fail(c, DDX_ERR_UNSUPPORTED, 0, "npy format version %d.%d is not supported", major, minor);
    }

    size_t want = hlen < NPY_HEADER_MAX ? hlen : NPY_HEADER_MAX;
    char *text = malloc(want + 1);
    if (!text) return fail_oom(c);
    got = fread(text, 1, want, f);
    if (ferror(f)) {
        free(text);
        return fail_read(c);
    }
    if (got < want) {
        free(text);
        return fail(c, DDX_ERR_PARSE, 0, "npy header length %" PRIu32 " points past the end of the file (%zu bytes follow)",
                    hlen, got);
    }
    if (hlen > NPY_HEADER_MAX) {
        free(text);
        return fail(c, DDX_ERR_PARSE, 0, "npy header length %" PRIu32 " is implausibly large", hlen);
    }
    npy_header h;
    ddx_status st = parse_npy_header(text, want, c, &h);
    if (st != DDX_OK) {
        free(text);
        return st;
    }

    /* Only IEEE floats; '>' is accepted and swapped because it is cheap. */
    ddx_precision prec;
    int file_little = 1;
    if (span_is(h.descr, h.descr_len, "<f4")) prec = DDX_F32;
    else if (span_is(h.descr, h.descr_len, "<f8")) prec = DDX_F64;
    else if (span_is(h.descr, h.descr_len, ">f4")) prec = DDX_F32, file_little = 0;
    else if (span_is(h.descr, h.descr_len, ">f8")) prec = DDX_F64, file_little = 0;
    else {
        char shown[TOKEN_SHOWN + 4];
        st = fail(c, DDX_ERR_UNSUPPORTED, 0, "unsupported dtype '%s' (need '<f4' or '<f8')",
                  shown_token(h.descr, h.descr_len, shown));
        free(text);
        return st;
    }
    free(text); /* h.descr is no longer used past here */
    if (h.fortran_order)
        return fail(c, DDX_ERR_UNSUPPORTED, 0, "fortran_order True is not supported (save a C-ordered array)");
    if (h.rank != 1 && h.rank != 2)
        return fail(c, DDX_ERR_UNSUPPORTED, 0, "shape of rank %d is not supported (need rank 1 or 2)", h.rank);
    int64_t rows = h.dims[0], cols = h.rank == 2 ? h.dims[1] : 1;
    if (cols == 0) return fail(c, DDX_ERR_UNSUPPORTED, 0, "array has no columns");
    if (cols > INT_MAX) return fail(c, DDX_ERR_UNSUPPORTED, 0, "%" PRId64 " columns is too many", cols);
    size_t itemsize = elem_size(prec), count;
    if (!element_count(rows, cols, itemsize, &count))
        return fail(c, DDX_ERR_PARSE, 0, "shape (%" PRId64 ", %" PRId64 ") is too large", rows, cols);

    unsigned char *data;
    st = read_npy_payload(f, c, count * itemsize, &data);
    if (st != DDX_OK) return st;
    if (file_little != host_is_little_endian()) swap_bytes(data, count, itemsize);
    out->rows = rows;
    out->cols = (int)cols;
    out->prec = prec;
    out->data = data;
    return DDX_OK;
}

/* ---- .csv reading --------------------------------------------------------- */

/* Splits a stream into lines of any length; the line may hold NUL bytes,
 * which the caller rejects. */
typedef struct line_reader {
    FILE *f;
    unsigned char *chunk;
    size_t pos, len;
    int eof;
    char *line;
    size_t cap;
} line_reader;

enum { LINE_END = 0, LINE_OK = 1, LINE_IO_ERROR = -1, LINE_NO_MEMORY = -2 };

static int grow_line(line_reader *r, size_t need) {
    if (need <= r->cap) return 1;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return 0;
        cap *= 2;
    }
    char *nl = realloc(r->line, cap);
    if (!nl) return 0;
    r->line = nl;
    r->cap = cap;
    return 1;
}

static int next_line(line_reader *r, size_t *len) {
    size_t n = 0;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof) break;
            r->len = fread(r->chunk, 1, READ_CHUNK, r->f);
            r->pos = 0;
            if (r->len == 0) {
                if (ferror(r->f)) return LINE_IO_ERROR;
                r->eof = 1;
                break;
            }
        }
        const unsigned char *s = r->chunk + r->pos;
        size_t avail = r->len - r->pos;
        const unsigned char *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        if (n + take < n || !grow_line(r, n + take + 1)) return LINE_NO_MEMORY;
        memcpy(r->line + n, s, take);
        n += take;
        r->pos += take + (nl ? 1 : 0);
        if (nl) {
            r->line[n] = '\0';
            *len = n;
            return LINE_OK;
        }
    }
    if (n == 0) return LINE_END;
    r->line[n] = '\0'; /* last line without a newline */
    *len = n;
    return LINE_OK;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i])) return 0;
    return 1;
}

static size_t count_char(const char *s, size_t n, char ch) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == ch;
    return k;
}

/* Field [*start, *end) with surrounding whitespace removed. */
static void trim(const char **start, const char **end) {
    while (*start < *end && is_space(**start)) (*start)++;
    while (*end > *start && is_space((*end)[-1])) (*end)--;
}

/* One header field starting at p: a bare name, or an RFC 4180 quoted one
 * ("D(u,x,x)", with "" for a quote) so that names holding commas survive.
 * Returns the unquoted, trimmed name in *name (malloc'd) and where the next
 * field starts in *next (NULL at the end of the line). */
static ddx_status csv_header_field(const char *p, const char *end, int j, int64_t lineno, const io_ctx *c,
                                   char **name, const char **next) {
    const char *fs = p;
    while (fs < end && is_space(*fs)) fs++;
    if (fs < end && *fs == '"') {
        char *buf = malloc((size_t)(end - fs) + 1);
        if (!buf) return fail_oom(c);
        size_t len = 0;
        const char *q = fs + 1;
        for (;; q++) {
            if (q >= end) {
                free(buf);
                return fail(c, DDX_ERR_PARSE, lineno, "header: column %d has an unclosed quote", j + 1);
            }
            if (*q == '"') {
                if (q + 1 < end && q[1] == '"') {
                    buf[len++] = '"';
                    q++;
                    continue;
                }
                break;
            }
            buf[len++] = *q;
        }
        buf[len] = 0;
        q++;
        while (q < end && is_space(*q)) q++;
        if (q < end && *q != ',') {
            free(buf);
            return fail(c, DDX_ERR_PARSE, lineno, "header: column %d has text after its closing quote", j + 1);
        }
        *name = buf;
        *next = q < end ? q + 1 : NULL;
        return DDX_OK;
    }
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *fe = comma ? comma : end;
    trim(&fs, &fe);
    *name = copy_span(fs, (size_t)(fe - fs));
    if (!*name) return fail_oom(c);
    *next = comma ? comma + 1 : NULL;
    return DDX_OK;
}

static ddx_status parse_csv_header(char *line, size_t n, int64_t lineno, const io_ctx *c, ddx_array *a) {
    /* Upper bound on the field count (quoted commas overcount); a->cols is
     * set to the real count below. */
    size_t cap = count_char(line, n, ',') + 1;
    if (cap > INT_MAX) return fail(c, DDX_ERR_UNSUPPORTED, lineno, "%zu columns is too many", cap);
    a->colnames = calloc(cap, sizeof *a->colnames);
    if (!a->colnames) return fail_oom(c);
    a->cols = (int)cap; /* set now so ddx_array_free can clean up a partial list */
    const char *p = line, *end = line + n;
    int j = 0;
    for (; p; j++) {
        char *name;
        ddx_status st = csv_header_field(p, end, j, lineno, c, &name, &p);
        if (st) return st;
        a->colnames[j] = name;
        if (!*name) return fail(c, DDX_ERR_PARSE, lineno, "header: column %d has an empty name", j + 1);
        /* A name must survive being written back as a header line; a lone
         * CR here usually means old Mac line endings. */
        for (const char *q = name; *q; q++)
            if (((unsigned char)*q < 0x20 && *q != '\t') || *q == 0x7f)
                return fail(c, DDX_ERR_PARSE, lineno, "header: column %d name holds control character 0x%02x", j + 1,
                            (unsigned)(unsigned char)*q);
    }
    a->cols = j;
    return DDX_OK;
}

/* Parses one data row into dst (cols values). */
static ddx_status parse_csv_row(char *line, size_t n, int cols, int64_t lineno, const io_ctx *c, double *dst) {
    size_t fields = count_char(line, n, ',') + 1;
    if (fields != (size_t)cols)
        return fail(c, DDX_ERR_PARSE, lineno, "expected %d columns, found %zu", cols, fields);
    char *p = line, *end = line + n;
    for (int j = 0; j < cols; j++) {
        char *comma = memchr(p, ',', (size_t)(end - p));
        const char *fs = p, *fe = comma ? comma : end;
        trim(&fs, &fe);
        if (fs == fe) return fail(c, DDX_ERR_PARSE, lineno, "column %d is empty", j + 1);
        /* fe points into our own buffer: terminate the token for strtod. */
        char *tok_end = line + (fe - line);
        char saved = *tok_end;
        *tok_end = '\0';
        char *stop;
        double v = strtod(fs, &stop);
        *tok_end = saved;
        if (stop != tok_end) {
            char shown[TOKEN_SHOWN + 4];
            return fail(c, DDX_ERR_PARSE, lineno, "column %d: '%s' is not a number", j + 1,
                        shown_token(fs, (size_t)(fe - fs), shown));
        }
        dst[j] = v;
        p = comma ? comma + 1 : end;
    }
    return DDX_OK;
}

static ddx_status read_csv(FILE *f, const io_ctx *c, ddx_array *out) {
    line_reader r = {0};
    r.f = f;
    r.chunk = malloc(READ_CHUNK);
    if (!r.chunk) return fail_oom(c);
    double *vals = NULL;
    size_t cap = 0, used = 0;
    int64_t lineno = 0, rows = 0;
    int have_header = 0;
    ddx_status st = DDX_OK;
    out->prec = DDX_F64;
    for (;;) {
        size_t n;
        int got = next_line(&r, &n);
        if (got == LINE_END) break;
        if (got == LINE_IO_ERROR) {
            st = fail_read(c);
            break;
        }
        if (got == LINE_NO_MEMORY) {
            st = fail_oom(c);
            break;
        }
        lineno++;
        if (memchr(r.line, '\0', n)) {
            st = fail(c, DDX_ERR_PARSE, lineno, "line holds a NUL byte (binary file?)");
            break;
        }
        char *text = r.line;
        /* Spreadsheets like to start the file with a UTF-8 byte order mark. */
        if (lineno == 1 && n >= 3 && memcmp(text, UTF8_BOM, 3) == 0) text += 3, n -= 3;
        if (is_blank(text, n)) continue; /* blank lines carry no row */
        if (!have_header) {
            st = parse_csv_header(text, n, lineno, c, out);
            if (st != DDX_OK) break;
            have_header = 1;
            continue;
        }
        size_t cols = (size_t)out->cols;
        if (cap - used < cols) {
            size_t ncap = cap ? cap : 1024;
            while (ncap - used < cols) {
                if (ncap > SIZE_MAX / 2 / sizeof(double)) {
                    ncap = 0;
                    break;
                }
                ncap *= 2;
            }
            double *nv = ncap ? realloc(vals, ncap * sizeof(double)) : NULL;
            if (!nv) {
                st = fail_oom(c);
                break;
            }
            vals = nv;
            cap = ncap;
        }
        st = parse_csv_row(text, n, out->cols, lineno, c, vals + used);
        if (st != DDX_OK) break;
        used += cols;
        rows++;
    }
    free(r.chunk);
    free(r.line);
    if (st == DDX_OK && !have_header) st = fail(c, DDX_ERR_PARSE, 0, "empty file (no header line)");
    if (st != DDX_OK) {
        free(vals);
        return st;
    }
    if (used == 0) {
        free(vals);
        vals = malloc(sizeof(double)); /* non-NULL even when empty */
        if (!vals) return fail_oom(c);
    } else if (used < cap) {
        double *nv = realloc(vals, used * sizeof(double));
        if (nv) vals = nv; /* shrinking is only a nicety */
    }
    out->rows = rows;
    out->data = vals;
    return DDX_OK;
}

/* ---- public: read ------------------------------------------------------- */

ddx_status ddx_array_read(const char *path, ddx_array *out, char *err, size_t errcap) {
    if (err && errcap) err[0] = '\0';
    if (out) memset(out, 0, sizeof *out);
    io_ctx c = {path ? path : "(null)", err, errcap};
    if (!path || !out) return fail(&c, DDX_ERR_INVALID_ARG, 0, "null path or output array");
    file_format fmt = format_of(path);
    if (fmt == FMT_UNKNOWN)
        return fail(&c, DDX_ERR_UNSUPPORTED, 0, "unknown file extension (expected .npy or .csv)");
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return fail(&c, DDX_ERR_IO, 0, "cannot open: %s", errno ? strerror(errno) : "unknown error");
    ddx_array a = {0};
    errno = 0;
    ddx_status st = fmt == FMT_NPY ? read_npy(f, &c, &a) : read_csv(f, &c, &a);
    fclose(f);
    if (st != DDX_OK) {
        ddx_array_free(&a);
        return st;
    }
    *out = a;
    return DDX_OK;
}

/* ---- writing ---------------------------------------------------------------- */

static int write_npy(FILE *f, const ddx_array *a, size_t count) {
    size_t itemsize = elem_size(a->prec);
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%" PRId64 ", %d), }",
                     a->prec == DDX_F32 ? "<f4" : "<f8", a->rows, a->cols);
    if (n < 0 || (size_t)n >= sizeof dict) return 0;
    /* numpy pads so the data starts on a 64-byte boundary (aligned mmap). */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n) return 0;
    for (size_t i = 0; i < pad; i++)
        if (fputc(' ', f) == EOF) return 0;
    if (fputc('\n', f) == EOF) return 0;
    if (count == 0) return 1; /* data may be NULL then */
    if (host_is_little_endian()) return fwrite(a->data, itemsize, count, f) == count;
    /* Big-endian host: swap a chunk at a time into a scratch buffer. */
    unsigned char buf[4096];
    const unsigned char *src = a->data;
    size_t per = sizeof buf / itemsize;
    for (size_t i = 0; i < count; i += per) {
        size_t k = count - i < per ? count - i : per;
        memcpy(buf, src + i * itemsize, k * itemsize);
        swap_bytes(buf, k, itemsize);
        if (fwrite(buf, itemsize, k, f) != k) return 0;
    }
    return 1;
}

static int write_number(FILE *f, double v, int digits) {
    if (isnan(v)) return fputs("nan", f) != EOF; /* never "-nan": strtod reads both, others may not */
    if (isinf(v)) return fputs(v < 0 ? "-inf" : "inf", f) != EOF;
    return fprintf(f, "%.*g", digits, v) > 0;
}

/* A header name, quoted (RFC 4180) when it holds a comma or a quote, or
 * would lose edge whitespace or a leading quote to the reader's trimming. */
static int write_csv_name(FILE *f, const char *s) {
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"") || is_space(s[0]) || (n && is_space(s[n - 1]));
    if (!quote) return fputs(s, f) != EOF;
    if (fputc('"', f) == EOF) return 0;
    for (; *s; s++)
        if ((*s == '"' && fputc('"', f) == EOF) || fputc(*s, f) == EOF) return 0;
    return fputc('"', f) != EOF;
}

static int write_csv(FILE *f, const ddx_array *a, size_t count) {
    /* The reader drops one BOM at the start of the file, so a first name that
     * starts with one needs another in front to survive. */
    if (a->colnames && strncmp(a->colnames[0], UTF8_BOM, 3) == 0 && fputs(UTF8_BOM, f) == EOF) return 0;
    for (int j = 0; j < a->cols; j++) {
        if (j && fputc(',', f) == EOF) return 0;
        if (a->colnames ? !write_csv_name(f, a->colnames[j]) : fprintf(f, "c%d", j) < 0) return 0;
    }
    if (fputc('\n', f) == EOF) return 0;
    for (size_t i = 0; i < count; i++) {
        double v = a->prec == DDX_F32 ? (double)((const float *)a->data)[i] : ((const double *)a->data)[i];
        if (!write_number(f, v, a->prec == DDX_F32 ? 9 : 17)) return 0;
        if (fputc((i + 1) % (size_t)a->cols ? ',' : '\n', f) == EOF) return 0;
    }
    return 1;
}

/* Names that would not read back as the same column list. */
static const char *bad_colname(const char *s) {
    if (!s) return "is NULL";
    if (!*s) return "is empty";
    if (strpbrk(s, "\r\n")) return "holds a line break";
    return NULL;
}

static ddx_status array_write(const char *path, const ddx_array *a, ddx_atomic *staged, char *err, size_t errcap) {
    if (err && errcap) err[0] = '\0';
    io_ctx c = {path ? path : "(null)", err, errcap};
    if (!path || !a) return fail(&c, DDX_ERR_INVALID_ARG, 0, "null path or array");
    if (a->prec != DDX_F32 && a->prec != DDX_F64)
        return fail(&c, DDX_ERR_INVALID_ARG, 0, "unknown precision %d", (int)a->prec);
    size_t count;
    if (a->cols < 1 || !element_count(a->rows, a->cols, elem_size(a->prec), &count))
        return fail(&c, DDX_ERR_INVALID_ARG, 0, "bad shape (%" PRId64 ", %d)", a->rows, a->cols);
    if (count && !a->data) return fail(&c, DDX_ERR_INVALID_ARG, 0, "array has no data");
    file_format fmt = format_of(path);
    if (fmt == FMT_UNKNOWN)
        return fail(&c, DDX_ERR_UNSUPPORTED, 0, "unknown file extension (expected .npy or .csv)");
    if (fmt == FMT_CSV && a->colnames)
        for (int j = 0; j < a->cols; j++) {
            const char *why = bad_colname(a->colnames[j]);
            if (why) return fail(&c, DDX_ERR_INVALID_ARG, 0, "column %d name %s", j + 1, why);
        }
    ddx_atomic at;
    char aerr[512];
    if (ddx_atomic_open(&at, path, aerr, sizeof aerr))
        return fail(&c, DDX_ERR_IO, 0, "%s", aerr);
    int ok = fmt == FMT_NPY ? write_npy(at.f, a, count) : write_csv(at.f, a, count);
    int saved_errno = errno;
    if (!ok) {
        ddx_atomic_abort(&at); /* the previous file stays as it was */
        return fail(&c, DDX_ERR_IO, 0, "write error: %s", saved_errno ? strerror(saved_errno) : "unknown");
    }
    if (ddx_atomic_close(&at, aerr, sizeof aerr)) { /* fflush + fsync: a full disk shows here */
        saved_errno = errno;
        ddx_atomic_abort(&at);
        return fail(&c, DDX_ERR_IO, 0, "write error: %s", strerror(saved_errno));
    }
    if (!staged) {
        if (ddx_atomic_commit(&at, aerr, sizeof aerr)) return fail(&c, DDX_ERR_IO, 0, "%s", aerr);
    } else {
        *staged = at;
    }
    return DDX_OK;
}

ddx_status ddx_array_write(const char *path, const ddx_array *a, char *err, size_t errcap) {
    return array_write(path, a, NULL, err, errcap);
}

ddx_status ddx_array_write_staged(const char *path, const ddx_array *a, ddx_atomic *staged, char *err,
                                  size_t errcap) {
    return array_write(path, a, staged, err, errcap);
}

/* ---- convert / free ------------------------------------------------------ */

ddx_status ddx_array_convert(ddx_array *a, ddx_precision prec) {
    if (!a || (prec != DDX_F32 && prec != DDX_F64) || (a->prec != DDX_F32 && a->prec != DDX_F64))
        return DDX_ERR_INVALID_ARG;
    if (a->prec == prec) return DDX_OK;
    size_t n;
    if (!element_count(a->rows, a->cols, sizeof(double), &n)) return DDX_ERR_INVALID_ARG;
    if (n == 0) {
        a->prec = prec;
        return DDX_OK;
    }
    if (!a->data) return DDX_ERR_INVALID_ARG;
    /* memcpy per element: the same bytes change type, so no aliasing games. */
    unsigned char *b = a->data;
    if (prec == DDX_F32) {
        for (size_t i = 0; i < n; i++) { /* forward: writes never pass unread input */
            double v;
            memcpy(&v, b + i * sizeof(double), sizeof v);
            float x = (float)v;
            memcpy(b + i * sizeof(float), &x, sizeof x);
        }
        unsigned char *nb = realloc(b, n * sizeof(float));
        if (nb) a->data = nb; /* shrinking is only a nicety */
    } else {
        b = realloc(b, n * sizeof(double));
        if (!b) return DDX_ERR_OUT_OF_MEMORY; /* a is unchanged */
        a->data = b;
        for (size_t i = n; i-- > 0;) { /* backward, for the same reason */
            float x;
            memcpy(&x, b + i * sizeof(float), sizeof x);
            double v = x;
            memcpy(b + i * sizeof(double), &v, sizeof v);
        }
    }
    a->prec = prec;
    return DDX_OK;
}

void ddx_array_free(ddx_array *a) {
    if (!a) return;
    if (a->colnames)
        for (int j = 0; j < a->cols; j++) free(a->colnames[j]);
    free(a->colnames);
    free(a->data);
    memset(a, 0, sizeof *a);
}
