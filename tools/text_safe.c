/* text_safe.c — see text_safe.h. A terminal must never receive raw control
 * bytes from an expression or a file, and a cut must not split a UTF-8
 * sequence (the half character shows as garbage or breaks a JSON log). */
#include "tools/text_safe.h"

#include <stdio.h>
#include <string.h>

/* Length of the UTF-8 sequence that starts with byte c, or 0 when c cannot
 * start one (a continuation byte or an invalid lead). */
static size_t utf8_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

char *ddx_text_shown(const char *s, size_t max, char *buf, size_t cap) {
    if (!cap) return buf;
    size_t room = cap - 1 < max ? cap - 1 : max, o = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    int cut = 0;
    while (*p) {
        size_t n = utf8_len(*p);
        int ctrl = *p < 0x20 || *p == 0x7f;
        int valid = n > 0;
        for (size_t k = 1; valid && k < n; k++)
            if ((p[k] & 0xC0) != 0x80) valid = 0;
        size_t need = ctrl || !valid ? 4 : n;
        if (o + need > room) {
            cut = 1;
            break;
        }
        if (ctrl || !valid) {
            snprintf(buf + o, 5, "\\x%02x", *p);
            p++;
        } else {
            memcpy(buf + o, p, n);
            p += n;
        }
        o += need;
    }
    buf[o] = 0;
    if (cut) {
        /* make room for "..." without splitting a character */
        while (o > 0 && o + 3 > room) {
            o--;
            while (o > 0 && ((unsigned char)buf[o] & 0xC0) == 0x80) o--;
        }
        if (o + 3 <= cap - 1) memcpy(buf + o, "...", 4);
        else buf[o] = 0;
    }
    return buf;
}
