/* What the history store's tests share (test_store*.c, test_report.c):
 * a store opened in the test's scratch directory, looks at the database
 * through a connection of the test's own, and a scripted feed. */
#ifndef TW_TESTS_STORE_UTIL_H
#define TW_TESTS_STORE_UTIL_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "probe/store.h"

/* A minute boundary (1700000040 = 2023-11-14T22:14:00Z). */
#define T0 1700000040.0

static inline struct tp_store *su_open(const char *path, const struct tp_store_opts *o)
{
    struct tp_store *st = NULL;
    char err[512];
    int rc = tp_store_open(path, o, &st, err, sizeof(err));

    cr_assert_eq(rc, 0, "open %s: %d %s", path, rc, err);
    return st;
}

static inline void su_close(struct tp_store *st, double now)
{
    char err[512] = "";
    int rc = tp_store_close(st, now, err, sizeof(err));

    cr_assert_eq(rc, 0, "close: %d %s", rc, err);
}

/* One integer from sql on a connection of our own (INT64_MIN: NULL or no
 * row). */
static inline int64_t su_q(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t v = INT64_MIN;

    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static inline struct tp_store_key su_key(const char *probe, const char *target,
                                         uint64_t interval_ms)
{
    return (struct tp_store_key){.probe = probe, .target = target, .kind = "tcp",
                                 .interval_ms = interval_ms};
}

/* n results of k every iv seconds from t0, failing for i in [fail_from,
 * fail_to), state after each = its outcome (thresholds of 1), with the
 * state changes, flushing every 0.25 s of its time; returns the time after
 * the last. */
static inline double su_feed(struct tp_store *st, const struct tp_store_key *k, double t0,
                             int n, double iv, int fail_from, int fail_to, double latency)
{
    enum tp_state state = TP_UNKNOWN;
    double next_flush = t0;

    for (int i = 0; i < n; i++) {
        double t = t0 + i * iv;
        bool fail = i >= fail_from && i < fail_to;
        enum tp_state to = fail ? TP_DOWN : TP_UP;
        if (to != state) {
            tp_store_state(st, k, t, state, to, fail ? "refused" : NULL,
                           fail ? "connect: ECONNREFUSED" : NULL);
            state = to;
        }
        tp_store_result(st, k, t, fail ? TP_FAILURE : TP_SUCCESS, to, latency);
        if (t >= next_flush) {
            cr_assert_geq(tp_store_flush(st, t), 0, "%s", tp_store_error(st));
            next_flush = t + 0.25;
        }
    }
    return t0 + n * iv;
}

#endif
