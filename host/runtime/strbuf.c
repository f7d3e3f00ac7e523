/* strbuf.c — see strbuf.h. */
#include "host/runtime/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

ddx_sb ddx_sb_fixed(char *buf, size_t cap) {
    ddx_sb b = {buf, 0, buf ? cap : 0, 0, 1};
    if (buf && cap) buf[0] = 0;
    return b;
}

void ddx_sbf(ddx_sb *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    if (b->fixed) {
        size_t room = b->n < b->cap ? b->cap - b->n : 0;
        va_start(ap, fmt);
        int w = vsnprintf(room ? b->s + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (w > 0) b->n += (size_t)w;
        return;
    }
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && (size_t)w < room) {
            b->n += (size_t)w;
            return;
        }
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + (size_t)w + 1) nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

char *ddx_sb_finish(ddx_sb *b) {
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s) ddx_sbf(b, "%s", "");
    return b->s;
}
