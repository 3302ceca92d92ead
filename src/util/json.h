/* JSON output for the tools (facts, stat, bench, probe): written straight
 * to a stdio stream, one value at a time, by the caller's own printf for
 * the structure and by these for what needs care. */
#ifndef TW_UTIL_JSON_H
#define TW_UTIL_JSON_H

#include <stdbool.h>
#include <stdio.h>

/* s as a JSON string: quoted, with '"', '\' and the control characters
 * escaped. Other bytes pass as they are (UTF-8 stays UTF-8). */
void tu_json_str(FILE *f, const char *s);

/* v with `decimals` digits after the point, or null when it is not known. */
void tu_json_num_or_null(FILE *f, double v, int decimals, bool known);

#endif
