/* strbuf.h — the one printf-appender of the library: into a growing heap
 * string (the CUDA emitter's source) or into a caller's fixed buffer that
 * truncates but counts the full length (describe and report calls, which
 * return the length they would need). */
#ifndef DDX_STRBUF_H
#define DDX_STRBUF_H

#include <stddef.h>

typedef struct ddx_sb {
    char *s;
    size_t n, cap; /* n: length written (fixed: the full length, maybe > cap) */
    int oom;       /* heap: an allocation failed; the text is lost */
    int fixed;     /* s is the caller's buffer of cap bytes */
} ddx_sb;

/* A builder over buf (cap bytes, NUL-terminated whatever is appended). */
ddx_sb ddx_sb_fixed(char *buf, size_t cap);
void ddx_sbf(ddx_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Heap builder: the string (caller frees), or NULL if out of memory. */
char *ddx_sb_finish(ddx_sb *b);

#endif
