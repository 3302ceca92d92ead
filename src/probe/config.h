/* twkit probe: what the parts of the config loader share (config.c, the
 * YAML; target.c, the targets).
 */
#ifndef TW_PROBE_CONFIG_H
#define TW_PROBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* Locale-free: a config must mean the same thing whatever LC_CTYPE says. */
static inline bool tp_is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static inline bool tp_is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}
static inline bool tp_is_alnum(char ch) { return tp_is_digit(ch) || tp_is_alpha(ch); }

/* RFC 1123 names, plus '_'; a last label of digits only is refused (n
 * bytes of h, a trailing root dot allowed). */
bool tp_hostname_valid(const char *h, size_t n);

#endif
