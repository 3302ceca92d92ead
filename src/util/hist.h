/* A log-linear histogram: 16 sub-buckets per power of two (at most 1/16 =
 * 6 % error), exact below 32. The tools keep microseconds in it (bench's
 * connect and request latency, probe's late starts); it is fixed-size, so
 * it can be embedded, copied and merged without allocating. */
#ifndef TW_UTIL_HIST_H
#define TW_UTIL_HIST_H

#include <stdint.h>

#define TU_HBUCKETS 640
struct tu_hist {
    uint64_t n, max;
    uint32_t b[TU_HBUCKETS];
};
void tu_hist_add(struct tu_hist *h, uint64_t v);
void tu_hist_merge(struct tu_hist *into, const struct tu_hist *h);
/* The value at quantile q (0..1), as the bucket's upper bound (never above
 * the largest value added); 0 if empty. */
uint64_t tu_hist_quantile(const struct tu_hist *h, double q);

#endif
