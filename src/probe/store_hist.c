/* The history's latency histogram (store_hist.h). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <sqlite3.h>

#include "probe/store_hist.h"

unsigned tp_lh_index(uint64_t us)
{
    unsigned e;

    if (us < 8)
        return (unsigned)us;
    e = 63u - (unsigned)__builtin_clzll(us); /* us in [2^e, 2^(e+1)), e >= 3 */
    if (e > 30)
        return TP_LH_N - 1;
    return 8 + (e - 3) * 8 + ((unsigned)(us >> (e - 3)) & 7);
}

void tp_lh_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
    unsigned e, sub;

    if (i < 8) {
        *lo = i;
        *hi = i + 1;
        return;
    }
    e = (i - 8) / 8 + 3;
    sub = (i - 8) % 8;
    *lo = (uint64_t)(8 + sub) << (e - 3);
    *hi = (uint64_t)(9 + sub) << (e - 3);
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    do {
        p[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            p[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

/* 0 when b ends before the varint does, or it is longer than 64 bits. */
static size_t get_varint(const uint8_t *b, size_t n, uint64_t *v)
{
    *v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        *v |= (uint64_t)(b[i] & 0x7f) << (7 * i);
        if (!(b[i] & 0x80))
            return i + 1;
    }
    return 0;
}

size_t tp_lh_encode(const uint32_t *h, uint8_t *out)
{
    size_t n = 1;
    unsigned gap = 0;

    out[0] = 1;
    for (unsigned i = 0; i < TP_LH_N; i++) {
        if (!h[i]) {
            gap++;
            continue;
        }
        if (gap < 8 && h[i] < 16) /* the usual minute: one byte a bucket */
            out[n++] = (uint8_t)(0x80 | gap << 4 | h[i]);
        else {
            out[n++] = 0;
            n += put_varint(out + n, gap);
            n += put_varint(out + n, h[i]);
        }
        gap = 0;
    }
    return n == 1 ? 0 : n;
}

int tp_lh_add_blob(uint32_t *h, const uint8_t *b, size_t n)
{
    uint32_t add[TP_LH_N] = {0};
    size_t at = 1, k;
    uint64_t i = 0, gap, cnt;
    bool first = true;

    if (!n)
        return 0;
    if (b[0] != 1)
        return -EINVAL;
    while (at < n) {
        if (b[at] & 0x80) {
            gap = (b[at] >> 4) & 7;
            cnt = b[at] & 15;
            at++;
        } else if (b[at] == 0) {
            at++;
            if (!(k = get_varint(b + at, n - at, &gap)))
                return -EINVAL;
            at += k;
            if (!(k = get_varint(b + at, n - at, &cnt)))
                return -EINVAL;
            at += k;
        } else
            return -EINVAL;
        if (gap >= TP_LH_N || !cnt || cnt > UINT32_MAX)
            return -EINVAL;
        i = first ? gap : i + 1 + gap;
        first = false;
        if (i >= TP_LH_N)
            return -EINVAL;
        add[i] = (uint32_t)cnt;
    }
    for (unsigned j = 0; j < TP_LH_N; j++) /* saturating: a count never wraps */
        h[j] = add[j] > UINT32_MAX - h[j] ? UINT32_MAX : h[j] + add[j];
    return 0;
}

double tp_lh_quantile(const uint32_t *h, double q, uint64_t min_us, uint64_t max_us)
{
    uint64_t total = 0, rank, seen = 0, lo, hi;
    double v;

    for (unsigned i = 0; i < TP_LH_N; i++)
        total += h[i];
    if (!total)
        return 0;
    rank = (uint64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    for (unsigned i = 0; i < TP_LH_N; i++) {
        seen += h[i];
        if (seen < rank)
            continue;
        tp_lh_bounds(i, &lo, &hi);
        v = i < 8 ? (double)lo : ((double)lo + (double)hi) / 2;
        if (v < (double)min_us)
            v = (double)min_us;
        if (max_us && v > (double)max_us)
            v = (double)max_us;
        return v;
    }
    return (double)max_us;
}

/* ---- SQL ---- */

static void result_hist(sqlite3_context *ctx, const uint32_t *h)
{
    uint8_t out[TP_LH_MAXBLOB];
    size_t n = tp_lh_encode(h, out);

    if (n)
        sqlite3_result_blob(ctx, out, (int)n, SQLITE_TRANSIENT);
    else
        sqlite3_result_null(ctx);
}

/* A NULL is an empty histogram; a blob that is not one is an error (the
 * transaction fails and says so rather than losing counts quietly). */
static int add_value(uint32_t *h, sqlite3_value *v)
{
    if (sqlite3_value_type(v) == SQLITE_NULL)
        return 0;
    if (sqlite3_value_type(v) != SQLITE_BLOB)
        return -EINVAL;
    return tp_lh_add_blob(h, sqlite3_value_blob(v), (size_t)sqlite3_value_bytes(v));
}

static void hmerge(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    uint32_t h[TP_LH_N] = {0};

    for (int i = 0; i < argc; i++)
        if (add_value(h, argv[i]) < 0) {
            sqlite3_result_error(ctx, "tp_hmerge: not a latency histogram", -1);
            return;
        }
    result_hist(ctx, h);
}

struct hsum {
    uint32_t h[TP_LH_N];
    int bad;
};

static void hsum_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct hsum *a = sqlite3_aggregate_context(ctx, sizeof(*a));

    if (!a) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (add_value(a->h, argv[0]) < 0)
        a->bad = 1;
}

static void hsum_final(sqlite3_context *ctx)
{
    struct hsum *a = sqlite3_aggregate_context(ctx, 0);

    if (!a) { /* no rows */
        sqlite3_result_null(ctx);
        return;
    }
    if (a->bad) {
        sqlite3_result_error(ctx, "tp_hsum: not a latency histogram", -1);
        return;
    }
    result_hist(ctx, a->h);
}

int tp_lh_sql_register(sqlite3 *db)
{
    int rc = sqlite3_create_function(db, "tp_hmerge", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                     NULL, hmerge, NULL, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "tp_hsum", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                     NULL, hsum_step, hsum_final);
    return rc;
}
