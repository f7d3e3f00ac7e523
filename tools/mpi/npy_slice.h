/* npy_slice.h — a row slice of an .npy file, for ddx-mpi: each rank reads
 * the header, then only its own rows (pread at their offset), and the
 * output header is written byte for byte as tools/array_io.c writes it, so
 * a sharded run's file equals a single-process `ddx eval`'s. Untrusted
 * files: every length is checked against the file's size before use. */
#ifndef DDX_NPY_SLICE_H
#define DDX_NPY_SLICE_H

#include <stddef.h>
#include <stdint.h>

#include "ddx.h"

typedef struct npy_info {
    int64_t rows;
    int cols;
    ddx_precision prec; /* element type in the file */
    int big_endian;     /* '>f4' / '>f8' */
    int64_t data_off;   /* bytes before the first element */
} npy_info;

/* Reads and checks the header of the open file fd (named path in messages).
 * 0, or -1 with one line in err ("path: not an .npy file (bad magic)"). */
int npy_open_info(int fd, const char *path, npy_info *info, char *err, size_t cap);

/* Reads rows [row0, row0 + n) into dst converted to prec (host order). */
int npy_read_rows(int fd, const char *path, const npy_info *info, int64_t row0, int64_t n, ddx_precision prec,
                  void *dst, char *err, size_t cap);

/* The header tools/array_io.c writes for a rows x cols array of prec, into
 * buf (cap >= 256); returns its length (a multiple of 64), 0 if it cannot. */
size_t npy_header_bytes(ddx_precision prec, int64_t rows, int cols, unsigned char *buf, size_t cap);

#endif
