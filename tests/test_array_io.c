/* test_array_io.c — .npy/.csv reading and writing: exact round trips
 * (NaN and infinities included), the layouts numpy and spreadsheets produce,
 * and a clear one-line message for each kind of bad file. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, opendir */
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/array_io.h"

static char g_dir[64];

static int make_temp_dir(void **state) {
    (void)state;
    strcpy(g_dir, "/tmp/ddx_array_io_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int remove_temp_dir(void **state) {
    (void)state;
    DIR *d = opendir(g_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            remove(p);
        }
        closedir(d);
    }
    return rmdir(g_dir);
}

static const char *path_in(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text) { write_bytes(path, text, strlen(text)); }

/* An .npy file with the given header text; hlen < 0 means the true length. */
static void write_npy_raw(const char *path, int major, const char *header, long hlen, const void *data,
                          size_t nbytes) {
    size_t hl = strlen(header);
    unsigned long h = hlen < 0 ? (unsigned long)hl : (unsigned long)hlen;
    unsigned char pre[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', (unsigned char)major, 0};
    size_t np = major == 1 ? 10 : 12;
    for (size_t i = 8; i < np; i++) pre[i] = (unsigned char)(h >> (8 * (i - 8)));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(pre, 1, np, f), np);
    assert_int_equal(fwrite(header, 1, hl, f), hl);
    if (nbytes) assert_int_equal(fwrite(data, 1, nbytes, f), nbytes);
    assert_int_equal(fclose(f), 0);
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Reads path expecting failure with status want: the message must be one
 * non-empty line naming the file and holding each of the given pieces. */
static void expect_read_error(const char *path, ddx_status want, const char *piece1, const char *piece2) {
    ddx_array a;
    char err[256];
    memset(&a, 0x5a, sizeof a); /* garbage in: must come back zeroed */
    ddx_status st = ddx_array_read(path, &a, err, sizeof err);
    if (st != want) fail_msg("%s: status %d, want %d (%s)", path, (int)st, (int)want, err);
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    assert_non_null(strstr(err, path));
    if (piece1 && !strstr(err, piece1)) fail_msg("message '%s' lacks '%s'", err, piece1);
    if (piece2 && !strstr(err, piece2)) fail_msg("message '%s' lacks '%s'", err, piece2);
    assert_int_equal(a.rows, 0);
    assert_int_equal(a.cols, 0);
    assert_null(a.data);
    assert_null(a.colnames);
}

static void read_ok(const char *path, ddx_array *a) {
    char err[256];
    ddx_status st = ddx_array_read(path, a, err, sizeof err);
    if (st != DDX_OK) fail_msg("%s: %s", path, err);
}

static void write_ok(const char *path, const ddx_array *a) {
    char err[256];
    ddx_status st = ddx_array_write(path, a, err, sizeof err);
    if (st != DDX_OK) fail_msg("%s: %s", path, err);
}

static double nan_with_payload(void) {
    uint64_t bits = 0xfff8000000012345ull; /* negative quiet NaN with a payload */
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ---- round trips ----------------------------------------------------------- */

static void test_npy_f32_round_trip(void **state) {
    (void)state;
    float v[8] = {1.5f, -0.0f, NAN, -INFINITY, INFINITY, 1e-40f /* subnormal */, FLT_MAX, 0.1f};
    ddx_array a = {.rows = 4, .cols = 2, .prec = DDX_F32, .data = v};
    char p[512];
    path_in(p, sizeof p, "f32.npy");
    write_ok(p, &a);
    assert_int_equal((file_size(p) - (long)sizeof v) % 64, 0); /* numpy's alignment */
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 4);
    assert_int_equal(b.cols, 2);
    assert_int_equal(b.prec, DDX_F32);
    assert_null(b.colnames);
    assert_memory_equal(b.data, v, sizeof v); /* bit-exact, NaN and -0 included */
    ddx_array_free(&b);
    assert_null(b.data);
}

static void test_npy_f64_round_trip(void **state) {
    (void)state;
    double v[6] = {0.1, nan_with_payload(), -INFINITY, DBL_MIN / 4, -DBL_MAX, 1.0 / 3};
    ddx_array a = {.rows = 2, .cols = 3, .prec = DDX_F64, .data = v};
    char p[512];
    path_in(p, sizeof p, "F64.NPY"); /* the extension is case-insensitive */
    write_ok(p, &a);
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 2);
    assert_int_equal(b.cols, 3);
    assert_int_equal(b.prec, DDX_F64);
    assert_memory_equal(b.data, v, sizeof v);
    ddx_array_free(&b);
}

static void test_npy_zero_rows(void **state) {
    (void)state;
    ddx_array a = {.rows = 0, .cols = 3, .prec = DDX_F64, .data = NULL};
    char p[512];
    path_in(p, sizeof p, "empty.npy");
    write_ok(p, &a);
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 0);
    assert_int_equal(b.cols, 3);
    assert_non_null(b.data);
    ddx_array_free(&b);
}

/* Values equal bit for bit, except that any NaN matches any NaN (CSV keeps
 * no NaN sign or payload). */
static void assert_same_values(const double *got, const double *want, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i])) {
            if (!isnan(got[i])) fail_msg("value %zu: got %.17g, want nan", i, got[i]);
        } else if (memcmp(&got[i], &want[i], sizeof(double)) != 0) {
            fail_msg("value %zu: got %.17g, want %.17g", i, got[i], want[i]);
        }
    }
}

static void test_csv_round_trip_f64(void **state) {
    (void)state;
    double v[8] = {0.1, NAN, -INFINITY, INFINITY, -0.0, 5e-324, DBL_MAX, 1.0 / 3};
    char x[] = "x", t[] = "time";
    char *names[2] = {x, t};
    ddx_array a = {.rows = 4, .cols = 2, .prec = DDX_F64, .data = v, .colnames = names};
    char p[512];
    path_in(p, sizeof p, "pts.csv");
    write_ok(p, &a);
    char text[64] = {0};
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_memory_equal(text, "x,time\n0.10000000000000001,nan\n", 31);
    assert_non_null(strstr(text, ",nan\n")); /* not "-nan" or "NaN" */

    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 4);
    assert_int_equal(b.cols, 2);
    assert_int_equal(b.prec, DDX_F64);
    assert_non_null(b.colnames);
    assert_string_equal(b.colnames[0], "x");
    assert_string_equal(b.colnames[1], "time");
    assert_same_values(b.data, v, 8);
    ddx_array_free(&b);
}

static void test_csv_round_trip_f32(void **state) {
    (void)state;
    float v[6] = {0.1f, -INFINITY, 16777217.0f, 1e-45f, FLT_MAX, -1.17549435e-38f};
    ddx_array a = {.rows = 2, .cols = 3, .prec = DDX_F32, .data = v};
    char p[512];
    path_in(p, sizeof p, "f32.csv");
    write_ok(p, &a);
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 2);
    assert_int_equal(b.cols, 3);
    assert_string_equal(b.colnames[0], "c0"); /* default names */
    assert_string_equal(b.colnames[2], "c2");
    assert_int_equal(b.prec, DDX_F64); /* CSV always reads as double */
    assert_int_equal(ddx_array_convert(&b, DDX_F32), DDX_OK);
    assert_int_equal(b.prec, DDX_F32);
    assert_memory_equal(b.data, v, sizeof v); /* %.9g is enough for float */
    ddx_array_free(&b);
}

/* Derivative column names hold commas (D(u,x1,x1)) and may hold quotes:
 * they are written quoted (RFC 4180) and read back unchanged. */
static void test_csv_quoted_names(void **state) {
    (void)state;
    double v[3] = {1, 2, 3};
    char n0[] = "D(u,x1,x1)", n1[] = "say \"hi\"", n2[] = " pad ";
    char *names[3] = {n0, n1, n2};
    ddx_array a = {.rows = 1, .cols = 3, .prec = DDX_F64, .data = v, .colnames = names};
    char p[512];
    path_in(p, sizeof p, "quoted.csv");
    write_ok(p, &a);
    char text[128] = {0};
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_true(fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert_string_equal(text, "\"D(u,x1,x1)\",\"say \"\"hi\"\"\",\" pad \"\n1,2,3\n");
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.cols, 3);
    assert_string_equal(b.colnames[0], "D(u,x1,x1)");
    assert_string_equal(b.colnames[1], "say \"hi\"");
    assert_string_equal(b.colnames[2], " pad ");
    assert_same_values(b.data, v, 3);
    ddx_array_free(&b);

    /* A quote left open, or text after a closing quote, is an error. */
    char e[256];
    path_in(p, sizeof p, "badquote.csv");
    write_text(p, "\"x,y\n1,2\n");
    assert_int_not_equal(ddx_array_read(p, &b, e, sizeof e), DDX_OK);
    assert_non_null(strstr(e, "unclosed quote"));
    write_text(p, "\"x\"z,y\n1,2\n");
    assert_int_not_equal(ddx_array_read(p, &b, e, sizeof e), DDX_OK);
    assert_non_null(strstr(e, "after its closing quote"));
}

/* What people's CSV files look like: BOM, CRLF, spaces, spelling of nan and
 * inf, hex floats, blank lines at the end. */
static void test_csv_tolerant_layout(void **state) {
    (void)state;
    char p[512];
    path_in(p, sizeof p, "messy.csv");
    write_text(p, "\xEF\xBB\xBF x , y\t\r\n1, 2\r\n  NaN ,-Infinity\r\n0x1p-2,\t1e3 \r\n-INF,nan\r\n\r\n\n   \n");
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 4);
    assert_int_equal(b.cols, 2);
    assert_string_equal(b.colnames[0], "x");
    assert_string_equal(b.colnames[1], "y");
    const double *d = b.data;
    assert_true(d[0] == 1 && d[1] == 2);
    assert_true(isnan(d[2]) && isinf(d[3]) && d[3] < 0);
    assert_true(d[4] == 0.25 && d[5] == 1000);
    assert_true(isinf(d[6]) && d[6] < 0 && isnan(d[7]));
    ddx_array_free(&b);

    /* A BOM on a line of its own; and a first name that itself starts with
     * U+FEFF must survive a write and read (found by the fuzzer). */
    path_in(p, sizeof p, "bom.csv");
    write_text(p, "\xEF\xBB\xBF\n \xEF\xBB\xBFx,y\n1,2\n");
    read_ok(p, &b);
    assert_int_equal(b.rows, 1);
    assert_string_equal(b.colnames[0], "\xEF\xBB\xBFx");
    path_in(p, sizeof p, "bom_back.csv");
    write_ok(p, &b);
    ddx_array_free(&b);
    read_ok(p, &b);
    assert_string_equal(b.colnames[0], "\xEF\xBB\xBFx");
    ddx_array_free(&b);

    /* A header and no rows is a valid empty set of points. */
    path_in(p, sizeof p, "header_only.csv");
    write_text(p, "a,b,c");
    read_ok(p, &b);
    assert_int_equal(b.rows, 0);
    assert_int_equal(b.cols, 3);
    assert_non_null(b.data);
    ddx_array_free(&b);
}

/* Lines far longer than any read chunk must join up correctly. */
static void test_csv_long_lines(void **state) {
    (void)state;
    enum { COLS = 30000 };
    size_t cap = (size_t)COLS * 24 + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = 0;
    for (int j = 0; j < COLS; j++) n += (size_t)snprintf(text + n, cap - n, "%scol%d", j ? "," : "", j);
    text[n++] = '\n';
    for (int j = 0; j < COLS; j++) n += (size_t)snprintf(text + n, cap - n, "%s%d.5", j ? "," : "", j);
    text[n] = '\0';
    char p[512];
    path_in(p, sizeof p, "wide.csv");
    write_text(p, text);
    free(text);
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 1);
    assert_int_equal(b.cols, COLS);
    assert_string_equal(b.colnames[COLS - 1], "col29999");
    const double *d = b.data;
    for (int j = 0; j < COLS; j++)
        if (d[j] != j + 0.5) fail_msg("column %d: %g", j, d[j]);
    ddx_array_free(&b);
}

/* ---- numpy layouts the writer never produces ------------------------------------ */

static void test_npy_rank1(void **state) {
    (void)state;
    double v[4] = {1, 2, 3, 4};
    char p[512];
    path_in(p, sizeof p, "rank1.npy");
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }         \n", -1, v,
                  sizeof v);
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 4);
    assert_int_equal(b.cols, 1);
    assert_memory_equal(b.data, v, sizeof v);
    ddx_array_free(&b);
}

/* Keys in any order, odd spacing, double quotes, and a v2.0 (u32) length. */
static void test_npy_header_variants(void **state) {
    (void)state;
    float v[6] = {1, 2, 3, 4, 5, 6};
    char p[512];
    path_in(p, sizeof p, "v2.npy");
    write_npy_raw(p, 2, "{ \"shape\" : ( 2 ,\t3 ) ,'fortran_order':False,\n 'descr':'<f4'}  \n", -1, v, sizeof v);
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.rows, 2);
    assert_int_equal(b.cols, 3);
    assert_int_equal(b.prec, DDX_F32);
    assert_memory_equal(b.data, v, sizeof v);
    ddx_array_free(&b);

    path_in(p, sizeof p, "v3.npy");
    write_npy_raw(p, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2)}\n", -1, v, sizeof v);
    read_ok(p, &b);
    assert_int_equal(b.rows, 3);
    assert_int_equal(b.cols, 2);
    ddx_array_free(&b);
}

static void reverse_each(void *p, size_t count, size_t size) {
    unsigned char *b = p;
    for (size_t i = 0; i < count; i++, b += size)
        for (size_t j = 0; j < size / 2; j++) {
            unsigned char t = b[j];
            b[j] = b[size - 1 - j];
            b[size - 1 - j] = t;
        }
}

static void test_npy_big_endian(void **state) {
    (void)state;
    double v[4] = {1.25, -NAN, -INFINITY, 1e300};
    double be[4];
    memcpy(be, v, sizeof v);
    reverse_each(be, 4, sizeof(double));
    char p[512];
    path_in(p, sizeof p, "be8.npy");
    write_npy_raw(p, 1, "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }\n", -1, be, sizeof be);
    ddx_array b;
    read_ok(p, &b);
    assert_int_equal(b.prec, DDX_F64);
    assert_memory_equal(b.data, v, sizeof v);
    ddx_array_free(&b);

    float w[3] = {0.5f, -3.0f, 1e-40f};
    float wbe[3];
    memcpy(wbe, w, sizeof w);
    reverse_each(wbe, 3, sizeof(float));
    path_in(p, sizeof p, "be4.npy");
    write_npy_raw(p, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }\n", -1, wbe, sizeof wbe);
    read_ok(p, &b);
    assert_int_equal(b.prec, DDX_F32);
    assert_int_equal(b.rows, 3);
    assert_int_equal(b.cols, 1);
    assert_memory_equal(b.data, w, sizeof w);
    ddx_array_free(&b);
}

/* ---- bad files ---------------------------------------------------------------- */

static const char *k_hdr32 = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }\n";

static void test_read_errors_npy(void **state) {
    (void)state;
    char p[512];
    double v[8] = {0};

    expect_read_error(path_in(p, sizeof p, "missing.npy"), DDX_ERR_IO, "cannot open", NULL);

    path_in(p, sizeof p, "empty.npy");
    write_bytes(p, "", 0);
    expect_read_error(p, DDX_ERR_PARSE, "empty", NULL);

    path_in(p, sizeof p, "magic.npy");
    write_text(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }\n");
    expect_read_error(p, DDX_ERR_PARSE, "magic", NULL);

    path_in(p, sizeof p, "short.npy");
    write_npy_raw(p, 1, k_hdr32, -1, v, 40);
    expect_read_error(p, DDX_ERR_PARSE, "48", "40"); /* expected vs actual */

    path_in(p, sizeof p, "long.npy");
    write_npy_raw(p, 1, k_hdr32, -1, v, 56);
    expect_read_error(p, DDX_ERR_PARSE, "48", "56");

    path_in(p, sizeof p, "hlen.npy");
    write_npy_raw(p, 1, k_hdr32, 60000, v, 8);
    expect_read_error(p, DDX_ERR_PARSE, "60000", "past the end");

    path_in(p, sizeof p, "hlen2.npy");
    write_npy_raw(p, 2, k_hdr32, 0xfffffff0L, v, 8);
    expect_read_error(p, DDX_ERR_PARSE, "past the end", NULL);

    path_in(p, sizeof p, "i4.npy");
    write_npy_raw(p, 1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }\n", -1, v, 24);
    expect_read_error(p, DDX_ERR_UNSUPPORTED, "'<i4'", NULL);

    path_in(p, sizeof p, "fortran.npy");
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }\n", -1, v, 48);
    expect_read_error(p, DDX_ERR_UNSUPPORTED, "fortran_order", NULL);

    path_in(p, sizeof p, "rank3.npy");
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 3, 2), }\n", -1, v, 48);
    expect_read_error(p, DDX_ERR_UNSUPPORTED, "rank 3", NULL);

    path_in(p, sizeof p, "negative.npy");
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-3, 2), }\n", -1, v, 48);
    expect_read_error(p, DDX_ERR_PARSE, "negative", NULL);

    path_in(p, sizeof p, "huge.npy");
    write_npy_raw(p, 1,
                  "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }\n",
                  -1, v, 48);
    expect_read_error(p, DDX_ERR_PARSE, "too large", NULL);

    path_in(p, sizeof p, "bigrows.npy"); /* fits size_t, but the file holds 48 bytes */
    write_npy_raw(p, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 2), }\n", -1, v, 48);
    expect_read_error(p, DDX_ERR_PARSE, "1600000000000", "48");

    path_in(p, sizeof p, "nokey.npy");
    write_npy_raw(p, 1, "{'descr': '<f8', 'shape': (3, 2), }\n", -1, v, 48);
    expect_read_error(p, DDX_ERR_PARSE, "fortran_order", NULL);

    path_in(p, sizeof p, "points.txt");
    write_text(p, "a\n1\n");
    expect_read_error(p, DDX_ERR_UNSUPPORTED, "extension", NULL);
}

static void test_read_errors_csv(void **state) {
    (void)state;
    char p[512];

    expect_read_error(path_in(p, sizeof p, "missing.csv"), DDX_ERR_IO, NULL, NULL);

    path_in(p, sizeof p, "empty.csv");
    write_bytes(p, "", 0);
    expect_read_error(p, DDX_ERR_PARSE, "empty", NULL);

    path_in(p, sizeof p, "blank.csv");
    write_text(p, "\n \r\n");
    expect_read_error(p, DDX_ERR_PARSE, "empty", NULL);

    path_in(p, sizeof p, "count.csv");
    write_text(p, "a,b\n1,2\n3,4,5\n");
    expect_read_error(p, DDX_ERR_PARSE, "count.csv:3:", "expected 2 columns, found 3");

    path_in(p, sizeof p, "few.csv");
    write_text(p, "a,b\r\n1,2\r\n\r\n7\r\n");
    expect_read_error(p, DDX_ERR_PARSE, ":4:", "found 1");

    path_in(p, sizeof p, "token.csv");
    write_text(p, "a,b\n1,2\n3,abc\n");
    expect_read_error(p, DDX_ERR_PARSE, ":3:", "'abc'");

    path_in(p, sizeof p, "partial.csv");
    write_text(p, "a,b\n1.5x,2\n");
    expect_read_error(p, DDX_ERR_PARSE, ":2:", "'1.5x'");

    path_in(p, sizeof p, "field.csv");
    write_text(p, "a,b\n1, \n");
    expect_read_error(p, DDX_ERR_PARSE, ":2:", "empty");

    path_in(p, sizeof p, "name.csv");
    write_text(p, "a,,c\n1,2,3\n");
    expect_read_error(p, DDX_ERR_PARSE, ":1:", "empty name");

    path_in(p, sizeof p, "cr.csv"); /* old Mac line endings: one long header line */
    write_text(p, "a,b\r1,2\r");
    expect_read_error(p, DDX_ERR_PARSE, ":1:", "control character");

    path_in(p, sizeof p, "nul.csv");
    write_bytes(p, "a,b\n1,\0002\n", 9);
    expect_read_error(p, DDX_ERR_PARSE, ":2:", "NUL");
}

/* ---- writer arguments, convert, free ----------------------------------------- */

static void test_write_rejects_bad_input(void **state) {
    (void)state;
    double v[2] = {1, 2};
    char a0[] = "a\nb", a1[] = "c"; /* a line break cannot be written even quoted */
    char *names[2] = {a0, a1};
    ddx_array a = {.rows = 1, .cols = 2, .prec = DDX_F64, .data = v, .colnames = names};
    char p[512], err[256];
    path_in(p, sizeof p, "badname.csv");
    assert_int_equal(ddx_array_write(p, &a, err, sizeof err), DDX_ERR_INVALID_ARG);
    assert_true(err[0] != '\0');
    assert_int_equal(access(p, F_OK), -1); /* nothing left behind */

    a.colnames = NULL;
    a.data = NULL;
    assert_int_equal(ddx_array_write(path_in(p, sizeof p, "nodata.npy"), &a, err, sizeof err), DDX_ERR_INVALID_ARG);
    a.data = v;
    a.cols = 0;
    assert_int_equal(ddx_array_write(path_in(p, sizeof p, "nocols.npy"), &a, err, sizeof err), DDX_ERR_INVALID_ARG);
    a.cols = 2;
    assert_int_equal(ddx_array_write(path_in(p, sizeof p, "x.bin"), &a, err, sizeof err), DDX_ERR_UNSUPPORTED);
    assert_int_equal(ddx_array_write(path_in(p, sizeof p, "no_such_dir/x.npy"), &a, err, sizeof err), DDX_ERR_IO);
    assert_non_null(strstr(err, "no_such_dir"));
}

/* Every kept fuzz input is read again as .npy and as .csv: it reads, or it
 * fails with one non-empty line and a zeroed array (tests/fuzz/). */
static void test_fuzz_corpus_replay(void **state) {
    (void)state;
    const char *src = getenv("DDX_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus_array_io", src ? src : ".");
    DIR *dp = opendir(dir);
    if (!dp) fail_msg("cannot open %s", dir);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char from[2048];
        snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
        FILE *f = fopen(from, "rb");
        assert_non_null(f);
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        for (int as_npy = 0; as_npy < 2; as_npy++) {
            char p[512], err[256];
            path_in(p, sizeof p, as_npy ? "replay.npy" : "replay.csv");
            write_bytes(p, buf, n);
            ddx_array a;
            if (ddx_array_read(p, &a, err, sizeof err) == DDX_OK) {
                assert_true(a.cols >= 1 && a.rows >= 0 && a.data);
                ddx_array_free(&a);
            } else {
                if (!err[0] || strchr(err, '\n')) fail_msg("%s: bad message '%s'", from, err);
                assert_true(a.rows == 0 && a.cols == 0 && !a.data && !a.colnames);
            }
        }
        files++;
    }
    closedir(dp);
    assert_true(files >= 5);
    printf("# fuzz replay: %d files, each read as .npy and as .csv\n", files);
}

static void test_convert_and_free(void **state) {
    (void)state;
    ddx_array a = {.rows = 3, .cols = 1, .prec = DDX_F64};
    double v[3] = {0.5, -INFINITY, 1e300};
    a.data = malloc(sizeof v);
    assert_non_null(a.data);
    memcpy(a.data, v, sizeof v);
    assert_int_equal(ddx_array_convert(&a, DDX_F32), DDX_OK);
    const float *f = a.data;
    assert_true(f[0] == 0.5f && isinf(f[1]) && f[1] < 0 && isinf(f[2])); /* 1e300 overflows to inf */
    assert_int_equal(ddx_array_convert(&a, DDX_F64), DDX_OK);
    const double *d = a.data;
    assert_true(d[0] == 0.5 && isinf(d[1]) && d[1] < 0 && isinf(d[2]) && d[2] > 0);
    assert_int_equal(ddx_array_convert(&a, DDX_F64), DDX_OK); /* no-op */
    assert_int_equal(ddx_array_convert(&a, (ddx_precision)7), DDX_ERR_INVALID_ARG);
    ddx_array_free(&a);
    assert_null(a.data);
    assert_int_equal(a.rows, 0);
    ddx_array_free(&a); /* twice is fine: the struct was zeroed */
    ddx_array_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_f32_round_trip),
        cmocka_unit_test(test_npy_f64_round_trip),
        cmocka_unit_test(test_npy_zero_rows),
        cmocka_unit_test(test_csv_round_trip_f64),
        cmocka_unit_test(test_csv_round_trip_f32),
        cmocka_unit_test(test_csv_quoted_names),
        cmocka_unit_test(test_csv_tolerant_layout),
        cmocka_unit_test(test_csv_long_lines),
        cmocka_unit_test(test_npy_rank1),
        cmocka_unit_test(test_npy_header_variants),
        cmocka_unit_test(test_npy_big_endian),
        cmocka_unit_test(test_read_errors_npy),
        cmocka_unit_test(test_read_errors_csv),
        cmocka_unit_test(test_write_rejects_bad_input),
        cmocka_unit_test(test_convert_and_free),
        cmocka_unit_test(test_fuzz_corpus_replay),
    };
    return cmocka_run_group_tests(tests, make_temp_dir, remove_temp_dir);
}
