/* array_io.h — reading and writing point/result arrays as .npy or .csv.
 * The readers take untrusted files: every length in a file is checked
 * against the bytes actually present before it is used. */
#ifndef DDX_ARRAY_IO_H
#define DDX_ARRAY_IO_H

#include <stddef.h>
#include <stdint.h>
#include "ddx.h" /* for ddx_precision: DDX_F32=0, DDX_F64=1; ddx_status codes */

typedef struct ddx_array {
    int64_t rows;       /* N */
    int cols;           /* d or K */
    ddx_precision prec; /* element type of data: float or double */
    void *data;         /* rows*cols elements, row-major (C order), malloc'd */
    char **colnames;    /* cols strings (from a CSV header), or NULL */
} ddx_array;

/* Reads .npy or .csv chosen by the file extension (case-insensitive).
   .npy gives the file's precision ('<f4'/'>f4' -> DDX_F32, '<f8'/'>f8' ->
   DDX_F64, converted to host byte order); a rank-1 shape (N,) gives N x 1.
   .csv always gives DDX_F64 (use ddx_array_convert for float). data is
   non-NULL on success, even for zero rows.
   On failure returns non-DDX_OK (DDX_ERR_IO for open/read errors, DDX_ERR_PARSE for malformed
   content, DDX_ERR_UNSUPPORTED for valid but unsupported npy dtypes/orders, DDX_ERR_OUT_OF_MEMORY)
   and writes ONE line (no newline) into err (capacity errcap) naming the file and the problem,
   e.g. "points.csv:7: expected 2 columns, found 3". out is left zeroed on failure, nothing leaks. */
ddx_status ddx_array_read(const char *path, ddx_array *out, char *err, size_t errcap);

/* Writes .npy (v1.0 header, '<f4' or '<f8', fortran_order False, shape (rows, cols)) or .csv
   (header row of colnames, or c0,c1,... when colnames is NULL; values printed with %.9g for f32 and
   %.17g for f64 so they round-trip; nan/inf written as nan, inf, -inf).
   Needs cols >= 1; column names must be non-empty and free of ',', CR and LF.
   Atomic: written to a temporary in the same directory, fsync'd, renamed
   over path; on failure the previous file is untouched and no temporary is
   left (tools/atomic_file.h). */
ddx_status ddx_array_write(const char *path, const ddx_array *a, char *err, size_t errcap);
/* Same, but leaves the closed temporary in *staged for the caller to
   ddx_atomic_commit (or _abort): several files replaced together. */
struct ddx_atomic;
ddx_status ddx_array_write_staged(const char *path, const ddx_array *a, struct ddx_atomic *staged, char *err,
                                  size_t errcap);

/* Converts data in place to prec (float<->double). */
ddx_status ddx_array_convert(ddx_array *a, ddx_precision prec);

void ddx_array_free(ddx_array *a); /* frees data and colnames, zeroes the struct; NULL-safe */

#endif /* DDX_ARRAY_IO_H */
