/* Errors counted by errno: a table of TU_NERRNO counters indexed by the
 * positive errno, for the tools that report "EADDRNOTAVAIL 12200" (bench
 * per run, probe per prober). Whose fault each errno is stays with
 * tw_errclass (twkit/error.h), the one classifier. */
#ifndef TW_UTIL_ERRCOUNT_H
#define TW_UTIL_ERRCOUNT_H

#include <stdint.h>

/* Room for every errno Linux defines (1..133, EHWPOISON the last). */
#define TU_NERRNO 134

/* Count err (or -err) in c, a table of TU_NERRNO. A value outside the
 * table (0, or none Linux defines) is counted as EPROTO, so no failure
 * goes uncounted. Returns the errno counted. */
int tu_errcount_add(uint64_t *c, int err);

#endif
