/* npy_slice.c — see npy_slice.h. The header is a Python dict literal;
 * this reads the three keys numpy writes ('descr', 'fortran_order',
 * 'shape') in any order and refuses anything else it cannot vouch for. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/mpi/npy_slice.h"

#define HEADER_MAX 65536 /* numpy's own writers stay far below */

/* pread all n bytes (it may return fewer), 0 on success. */
static int pread_full(int fd, void *buf, size_t n, int64_t off) {
    char *p = buf;
    while (n) {
        size_t want = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t got = pread(fd, p, want, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            if (got == 0) errno = 0;
            return -1;
        }
        p += got, n -= (size_t)got, off += got;
    }
    return 0;
}

/* The value after 'key': in the dict text, or NULL. */
static const char *value_of(const char *text, const char *key) {
    char q1[40], q2[40];
    snprintf(q1, sizeof q1, "'%s'", key);
    snprintf(q2, sizeof q2, "\"%s\"", key);
    const char *k = strstr(text, q1);
    if (!k) k = strstr(text, q2);
    if (!k) return NULL;
    k += strlen(q1);
    while (*k == ' ') k++;
    if (*k != ':') return NULL;
    k++;
    while (*k == ' ') k++;
    return k;
}

static int parse_shape(const char *v, int64_t *dims, int *rank) {
    if (*v++ != '(') return -1;
    *rank = 0;
    for (;;) {
        while (*v == ' ') v++;
        if (*v == ')') return 0;
        if (*v < '0' || *v > '9' || *rank == 2) return -1;
        errno = 0;
        char *end;
        long long x = strtoll(v, &end, 10);
        if (errno || x < 0) return -1;
        dims[(*rank)++] = x;
        v = end;
        while (*v == ' ') v++;
        if (*v == ',') v++;
        else if (*v != ')') return -1;
    }
}

int npy_open_info(int fd, const char *path, npy_info *info, char *err, size_t cap) {
    unsigned char pre[12];
    struct stat stt;
    memset(info, 0, sizeof *info);
    if (fstat(fd, &stt) != 0) return snprintf(err, cap, "%s: %s", path, strerror(errno)), -1;
    const int64_t size = (int64_t)stt.st_size;
    if (size == 0) return snprintf(err, cap, "%s: empty file", path), -1;
    if (size < 10 || pread_full(fd, pre, 10, 0) || memcmp(pre, "\x93NUMPY", 6) != 0)
        return snprintf(err, cap, "%s: not an .npy file (bad magic)", path), -1;
    int64_t hlen, off;
    if (pre[6] == 1) {
        hlen = pre[8] | pre[9] << 8;
        off = 10;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (size < 12 || pread_full(fd, pre + 10, 2, 10))
            return snprintf(err, cap, "%s: npy prefix is truncated", path), -1;
        hlen = (int64_t)pre[8] | (int64_t)pre[9] << 8 | (int64_t)pre[10] << 16 | (int64_t)pre[11] << 24;
        off = 12;
    } else {
        return snprintf(err, cap, "%s: npy format version %d.%d is not supported", path, pre[6], pre[7]), -1;
    }
    if (hlen > HEADER_MAX || off + hlen > size)
        return snprintf(err, cap, "%s: npy header length %" PRId64 " does not fit the file", path, hlen), -1;
    char *text = malloc((size_t)hlen + 1);
    if (!text) return snprintf(err, cap, "%s: out of memory", path), -1;
    if (pread_full(fd, text, (size_t)hlen, off)) {
        free(text);
        return snprintf(err, cap, "%s: cannot read the npy header", path), -1;
    }
    text[hlen] = 0;
    if (strlen(text) != (size_t)hlen || text[0] != '{') {
        free(text);
        return snprintf(err, cap, "%s: npy header is not a dict", path), -1;
    }
    const char *d = value_of(text, "descr"), *f = value_of(text, "fortran_order"), *s = value_of(text, "shape");
    int rc = -1;
    int64_t dims[2] = {0, 0};
    int rank = 0;
    if (!d || !f || !s) {
        snprintf(err, cap, "%s: npy header lacks '%s'", path, !d ? "descr" : !f ? "fortran_order" : "shape");
    } else if ((d[0] != '\'' && d[0] != '"') || strlen(d) < 5 || (strncmp(d + 1, "<f4", 3) && strncmp(d + 1, "<f8", 3) && strncmp(d + 1, ">f4", 3) &&
               strncmp(d + 1, ">f8", 3)) || d[4] != d[0]) {
        snprintf(err, cap, "%s: unsupported dtype (need '<f4' or '<f8')", path);
    } else if (strncmp(f, "False", 5) != 0) {
        snprintf(err, cap, "%s: fortran_order True is not supported (save a C-ordered array)", path);
    } else if (parse_shape(s, dims, &rank) || (rank != 1 && rank != 2)) {
        snprintf(err, cap, "%s: 'shape' must be (N,) or (N, d)", path);
    } else {
        info->prec = d[3] == '4' ? DDX_F32 : DDX_F64;
        info->big_endian = d[1] == '>';
        info->rows = dims[0];
        int64_t cols = rank == 2 ? dims[1] : 1;
        const int64_t isz = info->prec == DDX_F32 ? 4 : 8;
        info->data_off = off + hlen;
        if (cols < 1 || cols > 1 << 20)
            snprintf(err, cap, "%s: %" PRId64 " columns is not supported", path, cols);
        else if (info->rows > (INT64_MAX / 16) / cols ||
                 info->rows * cols * isz > size - info->data_off) /* all of the payload is there */
            snprintf(err, cap, "%s: truncated: shape (%" PRId64 ", %" PRId64 ") needs %" PRId64
                     " bytes of data, the file has %" PRId64, path, info->rows, cols,
                     info->rows > (INT64_MAX / 16) / cols ? INT64_MAX : info->rows * cols * isz, size - info->data_off);
        else {
            info->cols = (int)cols;
            rc = 0;
        }
    }
    free(text);
    return rc;
}

static void swap(unsigned char *p, size_t count, size_t isz) {
    for (size_t i = 0; i < count; i++, p += isz)
        for (size_t a = 0, b = isz - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

int npy_read_rows(int fd, const char *path, const npy_info *info, int64_t row0, int64_t n, ddx_precision prec,
                  void *dst, char *err, size_t cap) {
    const size_t isz = info->prec == DDX_F32 ? 4 : 8, count = (size_t)n * (size_t)info->cols;
    if (n == 0) return 0;
    /* read into dst when the types match, else a scratch copy */
    void *raw = info->prec == prec ? dst : malloc(count * isz);
    if (!raw) return snprintf(err, cap, "%s: out of memory for %" PRId64 " rows", path, n), -1;
    if (pread_full(fd, raw, count * isz, info->data_off + row0 * info->cols * (int64_t)isz)) {
        snprintf(err, cap, "%s: read error: %s", path, errno ? strerror(errno) : "file shrank");
        if (raw != dst) free(raw);
        return -1;
    }
    const uint16_t one = 1;
    const int host_big = *(const unsigned char *)&one == 0;
    if (info->big_endian != host_big) swap(raw, count, isz);
    if (raw != dst) {
        for (size_t i = 0; i < count; i++) {
            if (prec == DDX_F32)
                ((float *)dst)[i] = (float)((const double *)raw)[i];
            else
                ((double *)dst)[i] = (double)((const float *)raw)[i];
        }
        free(raw);
    }
    return 0;
}

size_t npy_header_bytes(ddx_precision prec, int64_t rows, int cols, unsigned char *buf, size_t cap) {
    char dict[160];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%" PRId64 ", %d), }",
                     prec == DDX_F32 ? "<f4" : "<f8", rows, cols);
    if (n < 0 || (size_t)n >= sizeof dict) return 0;
    /* as array_io.c: data starts on a 64-byte boundary */
    size_t total = 10 + (size_t)n + 1, pad = (64 - total % 64) % 64, hlen = (size_t)n + pad + 1;
    if (10 + hlen > cap) return 0;
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                                   (unsigned char)(hlen >> 8)};
    memcpy(buf, pre, 10);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    return 10 + hlen;
}
