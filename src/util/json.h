/* JSON output for the tools (facts, stat, bench, probe): written straight
 * to a stdio stream, one value at a time, by the caller's own printf for
 * the structure and by these for what needs care. */
#ifndef TW_UTIL_JSON_H
#define TW_UTIL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* s as a JSON string: quoted, with '"', '\' and the control characters
 * escaped, and each byte that is not part of valid UTF-8 (a process name,
 * a peer's answer) as \ufffd, so the output is always valid JSON. Valid
 * UTF-8 passes as it is. */
void tu_json_str(FILE *f, const char *s);

/* ns (unix nanoseconds) as RFC 3339 UTC with milliseconds
 * ("2026-11-21T18:43:29.651Z") into buf; buf. */
char *tu_rfc3339(char *buf, size_t len, int64_t ns);
/* Now (CLOCK_REALTIME), in unix nanoseconds. */
int64_t tu_wall_ns(void);

/* v with `decimals` digits after the point, or null when it is not known. */
void tu_json_num_or_null(FILE *f, double v, int decimals, bool known);

#endif
