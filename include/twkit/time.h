/* Monotonic time and durations. */
#ifndef TWKIT_TIME_H
#define TWKIT_TIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CLOCK_MONOTONIC in milliseconds / nanoseconds. */
uint64_t tw_now_ms(void);
uint64_t tw_now_ns(void);

/* Wrap-safe comparison of two millisecond ticks: <0, 0, >0 as a is before,
 * equal to, or after b, valid while they are less than 2^63 apart. */
static inline int64_t tw_ms_diff(uint64_t a, uint64_t b)
{
    return (int64_t)(a - b);
}

/* Parse a duration: plain seconds ("2", "1.5"), or numbers with units as
 * Go writes durations ("500ms", "2s", "1m30s", "1h", "250us", "1.5h",
 * units ns us µs ms s m h). Stores milliseconds in *ms
 * (rounded up from sub-millisecond units, so "1us" is 1 ms, never 0).
 * Returns 0, or -EINVAL for anything else (empty, negative, unknown unit,
 * trailing junk), or -ERANGE past about 49 days. */
int tw_parse_duration(const char *s, uint64_t *ms);

#ifdef __cplusplus
}
#endif

#endif
