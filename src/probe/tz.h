/* twkit probe: calendar arithmetic in a time zone, for the history's days
 * and the report's days, weeks and months (tz.c).
 *
 * The C library knows other zones only through TZ, so a zone other than
 * UTC is reached by setting TZ (and tzset) under one lock; nothing else in
 * twkit uses local time (its logs and HTTP dates are UTC), and TZ is set
 * again only when another zone is asked for. Call tp_tz_use once before
 * other threads start (glibc's setenv of a variable already in the
 * environment only swaps a pointer; adding one may move the array under
 * a concurrent getenv). zone NULL, "" or "UTC": UTC, no TZ at all.
 *
 * Days start at the zone's midnight, floored to the hour (so that hours,
 * which are UTC hours, never straddle two days; in a zone whose offset is
 * not whole hours, +05:30, a day starts at the hour its midnight falls in).
 */
#ifndef TW_PROBE_TZ_H
#define TW_PROBE_TZ_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Whether zone names a zone the C library has (a file under
 * /usr/share/zoneinfo or $TZDIR); NULL and "UTC" are. */
bool tp_tz_known(const char *zone);
/* Make zone the process's TZ now (see above). */
void tp_tz_use(const char *zone);
/* t as the zone's local time; and back (tm_isdst -1: the zone decides). */
void tp_tz_local(const char *zone, int64_t t, struct tm *tm);
int64_t tp_tz_mktime(const char *zone, struct tm *tm);
/* The start of the day, ISO week (Monday) or month that holds t, and the
 * start of the next one after the one starting at start. */
enum tp_tz_unit { TP_TZ_DAY, TP_TZ_WEEK, TP_TZ_MONTH };
int64_t tp_tz_floor(const char *zone, enum tp_tz_unit u, int64_t t);
int64_t tp_tz_next(const char *zone, enum tp_tz_unit u, int64_t start);
/* The zone's offset from UTC at t, seconds east. */
long tp_tz_offset(const char *zone, int64_t t);

#endif
