/* text_safe.h — user text quoted in one-line messages: control characters
 * escaped (\xNN), cut short at a UTF-8 character boundary with "...". */
#ifndef DDX_TEXT_SAFE_H
#define DDX_TEXT_SAFE_H
#include <stddef.h>

/* Writes at most max bytes of s (escapes count as their 4 bytes) into buf
 * (capacity cap, always terminated); returns buf. */
char *ddx_text_shown(const char *s, size_t max, char *buf, size_t cap);

#endif
