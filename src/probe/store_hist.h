/* twkit probe: the history's latency histogram (store_hist.c).
 *
 * Log-linear over microseconds: exact below 8 us, then 8 buckets per
 * power of two up to 2^31 us (36 min; above: the last bucket), so a
 * bucket is at most 1/8 of its lower bound wide and a percentile taken at
 * its middle is within 6 % of the truth. 232 buckets. In the database a
 * histogram is a BLOB: a version byte (1), then each bucket that is not
 * empty, in order, with gap (how many empty buckets came before it since
 * the last one written) and its count: one byte 1GGGCCCC when gap < 8 and
 * count < 16 (a minute's buckets, mostly), else a 0 byte and two LEB128
 * varints, gap and count. A minute of one target's results is a few tens
 * of bytes at most. SQL gets tp_hmerge(a, b) (the sum of two) and the
 * aggregate tp_hsum(x), for the roll-ups.
 */
#ifndef TW_PROBE_STORE_HIST_H
#define TW_PROBE_STORE_HIST_H

#include <stddef.h>
#include <stdint.h>

#define TP_LH_N 232
#define TP_LH_MAXBLOB (1 + TP_LH_N * 11)

struct sqlite3;

unsigned tp_lh_index(uint64_t us);
/* Bucket i holds [*lo, *hi) microseconds. */
void tp_lh_bounds(unsigned i, uint64_t *lo, uint64_t *hi);
/* The blob of h (TP_LH_N counts) into out (TP_LH_MAXBLOB bytes): its
 * length, 0 when h is empty (the row's histogram is then NULL). */
size_t tp_lh_encode(const uint32_t *h, uint8_t *out);
/* Add the counts of the blob b (n bytes) to h. 0, or -EINVAL for a blob
 * that is not one (nothing added then). */
int tp_lh_add_blob(uint32_t *h, const uint8_t *b, size_t n);
/* The value at quantile q (0..1) of h, in microseconds: the middle of its
 * bucket, kept within [min_us, max_us] (the exact extremes, when known;
 * max_us 0: unknown). 0 when h is empty. */
double tp_lh_quantile(const uint32_t *h, double q, uint64_t min_us, uint64_t max_us);
/* tp_hmerge and tp_hsum on db. SQLite's code. */
int tp_lh_sql_register(struct sqlite3 *db);

#endif
