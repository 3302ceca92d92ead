/* UTF-8 as RFC 3629 has it, for the writers that must emit valid text
 * (JSON, HTML) from bytes that may not be (process names, targets,
 * answers of peers). */
#ifndef TW_UTIL_UTF8_H
#define TW_UTIL_UTF8_H

#include <stddef.h>

/* The length of the UTF-8 sequence at s (NUL-terminated), 0 when it is
 * not one: a stray continuation byte, an overlong form, a surrogate, past
 * U+10FFFF, or cut short. */
static inline size_t tu_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

#endif
