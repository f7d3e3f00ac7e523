/* fuzz_array_io.c — libFuzzer harness for ddx_array_read. Each input is
 * tried as an .npy and as a .csv file. Beyond "no crash, no leak" it checks
 * the contract: a failure leaves out zeroed with a one-line message, and
 * whatever reads successfully writes back and reads back unchanged.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -I. \
 *     tools/array_io.c tools/atomic_file.c tests/fuzz/fuzz_array_io.c -o /tmp/fuzz_array_io
 *   /tmp/fuzz_array_io -max_total_time=60 tests/fuzz/corpus_array_io */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/array_io.h"

static void check(int ok, const char *what, const char *err) {
    if (!ok) {
        fprintf(stderr, "contract broken: %s (%s)\n", what, err);
        abort();
    }
}

static int write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = size == 0 || fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* Same shape and values; NaNs match any NaN because CSV drops sign and payload. */
static int same_array(const ddx_array *a, const ddx_array *b, int nan_exact) {
    if (a->rows != b->rows || a->cols != b->cols || a->prec != b->prec) return 0;
    size_t n = (size_t)a->rows * (size_t)a->cols, sz = a->prec == DDX_F32 ? 4 : 8;
    const unsigned char *x = a->data, *y = b->data;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(x + i * sz, y + i * sz, sz) == 0) continue;
        if (nan_exact) return 0;
        double u, v;
        if (sz == 4) {
            float fu, fv;
            memcpy(&fu, x + i * sz, 4), memcpy(&fv, y + i * sz, 4);
            u = fu, v = fv;
        } else {
            memcpy(&u, x + i * sz, 8), memcpy(&v, y + i * sz, 8);
        }
        if (!(u != u && v != v)) return 0;
    }
    if ((a->colnames == NULL) != (b->colnames == NULL)) return 0;
    if (a->colnames)
        for (int j = 0; j < a->cols; j++)
            if (strcmp(a->colnames[j], b->colnames[j]) != 0) return 0;
    return 1;
}

static void try_read(const char *in, const char *out, int is_npy) {
    ddx_array a, b;
    char err[256];
    ddx_status st = ddx_array_read(in, &a, err, sizeof err);
    if (st != DDX_OK) {
        check(err[0] != '\0' && strchr(err, '\n') == NULL, "message is one non-empty line", err);
        check(a.rows == 0 && a.cols == 0 && a.data == NULL && a.colnames == NULL, "out zeroed", err);
        return;
    }
    check(a.rows >= 0 && a.cols >= 1 && a.data != NULL, "sane array", "");
    /* Large arrays only slow the fuzzer down; the round trip is about values. */
    if ((size_t)a.rows * (size_t)a.cols <= 4096) {
        st = ddx_array_write(out, &a, err, sizeof err);
        check(st == DDX_OK, "write back", err);
        st = ddx_array_read(out, &b, err, sizeof err);
        check(st == DDX_OK, "read back", err);
        check(same_array(&a, &b, is_npy), "round trip", out);
        ddx_array_free(&b);
        ddx_precision other = a.prec == DDX_F32 ? DDX_F64 : DDX_F32;
        check(ddx_array_convert(&a, other) == DDX_OK && a.prec == other, "convert", "");
    }
    ddx_array_free(&a);
}

static char npy[64], csv[64], npy_out[64], csv_out[64];

static void remove_temp_files(void) {
    remove(npy), remove(csv), remove(npy_out), remove(csv_out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!npy[0]) {
        long pid = (long)getpid();
        snprintf(npy, sizeof npy, "/tmp/fuzz_array_io_%ld.npy", pid);
        snprintf(csv, sizeof csv, "/tmp/fuzz_array_io_%ld.csv", pid);
        snprintf(npy_out, sizeof npy_out, "/tmp/fuzz_array_io_%ld_out.npy", pid);
        snprintf(csv_out, sizeof csv_out, "/tmp/fuzz_array_io_%ld_out.csv", pid);
        atexit(remove_temp_files); /* libFuzzer ends with exit() */
    }
    if (write_file(npy, data, size)) try_read(npy, npy_out, 1);
    if (write_file(csv, data, size)) try_read(csv, csv_out, 0);
    return 0;
}
