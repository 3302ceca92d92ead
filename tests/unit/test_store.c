/* The history store (src/probe/store*.c) on real SQLite files in a fresh
 * directory: the schema, batching (many results, one transaction, no SQL
 * before the flush), time attribution, roll-ups and retention on a fake
 * clock, the latency histogram, reopening, days in a zone, the counters
 * and the config's history: section. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe/probe.h"
#include "probe/statuspage.h"
#include "probe/store.h"
#include "probe/store_hist.h"
#include "probe/tz.h"
#include "store_util.h"
#include "tmpcwd.h"

static void setup(void) { ut_cwd_enter("tp_store"); }
static void teardown(void) { ut_cwd_leave(); }

TestSuite(store, .init = setup, .fini = teardown, .timeout = 120);

Test(store, a_new_file_gets_the_schema_in_wal_mode)
{
    struct tp_store *st = su_open("h.db", NULL);
    static const char *const tables[] = {"meta", "targets", "minute", "hour", "day",
                                         "state_changes", "runs"};
    char sql[128];

    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM sqlite_schema WHERE name = '%s'",
                 tables[i]);
        cr_assert_eq(su_q("h.db", sql), 1, "table %s", tables[i]);
    }
    cr_assert_eq(su_q("h.db", "PRAGMA user_version"), 1);
    cr_assert_eq(su_q("h.db", "PRAGMA application_id"), 0x74774b50);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM runs WHERE stopped IS NULL"), 1);
    {
        sqlite3 *db;
        sqlite3_stmt *s;
        cr_assert_eq(sqlite3_open("h.db", &db), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
        cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
    su_close(st, T0);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM runs WHERE stopped IS NULL"), 0);
}

Test(store, many_results_are_one_transaction_and_no_sql_before_the_flush)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_stats s;
    char name[32];

    /* 50 targets, 20 results each within the minute [T0, T0 + 60) */
    for (int i = 0; i < 20; i++)
        for (int t = 0; t < 50; t++) {
            struct tp_store_key k = su_key("db", name, 1000);
            snprintf(name, sizeof(name), "10.0.0.%d:5432", t);
            tp_store_result(st, &k, T0 + i * 3 + t * 0.01, TP_SUCCESS, TP_UP, 0.002);
        }
    tp_store_stats(st, &s);
    cr_assert_eq(s.results, 1000);
    cr_assert_eq(s.transactions, 0);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM targets"), 0, "SQL before the flush");
    /* before the minute is over (+ lag): targets and nothing else */
    cr_assert_geq(tp_store_flush(st, T0 + 30), 0);
    tp_store_stats(st, &s);
    cr_assert_eq(s.transactions, 1);
    cr_assert_eq(s.rows[TP_STORE_T_TARGET], 50);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute"), 0);
    /* nothing new: no transaction at all */
    cr_assert_eq(tp_store_flush(st, T0 + 31), 0);
    tp_store_stats(st, &s);
    cr_assert_eq(s.transactions, 1);
    /* the minute is over: one transaction, its 50 rows */
    cr_assert_geq(tp_store_flush(st, T0 + 62.5), 0);
    tp_store_stats(st, &s);
    cr_assert_eq(s.transactions, 2);
    cr_assert_eq(s.rows[TP_STORE_T_MINUTE], 50);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute"), 50);
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM minute"), 1000);
    cr_assert_eq(su_q("h.db", "SELECT min(lat_min_us) FROM minute"), 2000);
    cr_assert_eq(su_q("h.db", "SELECT sum(lat_sum_us) FROM minute"), 2000000);
    /* a result covers the time to the next, at most 2 x the interval:
     * results 3 s apart at a 1 s interval cover 2 s each */
    cr_assert_eq(su_q("h.db", "SELECT up_ms FROM minute WHERE target_id ="
                              " (SELECT id FROM targets WHERE target = '10.0.0.0:5432')"),
                 40000);
    su_close(st, T0 + 63);
}

Test(store, the_uptime_of_a_scripted_30_percent_down_is_exactly_70_percent)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("web", "http://a/", 100);

    /* 2,000 results at 100 ms over 200 s, 600 failures in one block */
    su_feed(st, &k, T0, 2000, 0.1, 700, 1300, 0.010);
    su_close(st, T0 + 200);
    cr_assert_eq(su_q("h.db", "SELECT sum(up_ms) FROM minute"), 140000);
    cr_assert_eq(su_q("h.db", "SELECT sum(down_ms) FROM minute"), 60000);
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM minute"), 1400);
    cr_assert_eq(su_q("h.db", "SELECT sum(failure) FROM minute"), 600);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute"), 4);
    cr_assert_eq(su_q("h.db", "SELECT down_ms FROM minute WHERE start = 1700000100"), 50000);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM state_changes"), 3);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM state_changes WHERE to_state = 'down'"
                              " AND reason = 'refused' AND detail = 'connect: ECONNREFUSED'"),
                 1);
}

Test(store, local_errors_and_gaps_are_neither_up_nor_down)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("p", "t", 1000);

    /* 10 s up, 10 local errors (state stays up), then nothing for 100 s,
     * then 10 s up */
    for (int i = 0; i < 10; i++)
        tp_store_result(st, &k, T0 + i, TP_SUCCESS, TP_UP, 0.001);
    for (int i = 10; i < 20; i++)
        tp_store_result(st, &k, T0 + i, TP_LOCAL, TP_UP, 0.001);
    for (int i = 120; i < 130; i++)
        tp_store_result(st, &k, T0 + i, TP_SUCCESS, TP_UP, 0.001);
    su_close(st, T0 + 130);
    cr_assert_eq(su_q("h.db", "SELECT sum(up_ms) FROM minute"), 20000);
    cr_assert_eq(su_q("h.db", "SELECT sum(down_ms) FROM minute"), 0);
    /* the last local error covers 2 s (2 x the interval), then nothing */
    cr_assert_eq(su_q("h.db", "SELECT sum(local_ms) FROM minute"), 11000);
    cr_assert_eq(su_q("h.db", "SELECT sum(local_error) FROM minute"), 10);
}

/* A result every iv seconds for targets t0..t(n-1) from t0 to t1, the
 * state up throughout (so all of the time is up), flushing at each. */
static void steady(struct tp_store *st, int n, double t0, double t1, double iv)
{
    char name[32];

    for (double t = t0; t < t1; t += iv) {
        for (int i = 0; i < n; i++) {
            struct tp_store_key k = su_key("p", name, (uint64_t)(iv * 1000));
            snprintf(name, sizeof(name), "t%d", i);
            tp_store_result(st, &k, t, (int)(t - t0) % 7 == 0 ? TP_FAILURE : TP_SUCCESS,
                            TP_UP, 0.001 * (1 + i));
        }
        if ((long)(t - t0) % 5 == 0) {
            int rc, tries = 0;
            do
                rc = tp_store_flush(st, t);
            while (rc == 1 && ++tries < 100);
            cr_assert_geq(rc, 0, "%s", tp_store_error(st));
        }
    }
}

Test(store, with_sync_the_open_minute_is_written_as_it_fills_and_adds_up)
{
    struct tp_store_opts o = {.now = T0, .sync_s = 10};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("p", "a", 1000);
    struct tp_store_stats s;

    /* 45 s of results: by the flush at T0 + 45 (settled to T0 + 43) at
     * most the last 10 s of them are not written */
    su_feed(st, &k, T0, 46, 1, 30, 35, 0.002);
    cr_assert_geq(su_q("h.db", "SELECT sum(success + failure) FROM minute"), 33);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute"), 1);
    su_feed(st, &k, T0 + 46, 30, 1, 1000, 1000, 0.002);
    tp_store_stats(st, &s);
    cr_assert_gt(s.rows[TP_STORE_T_MINUTE], 2, "the open minute went in parts");
    su_close(st, T0 + 76);
    /* one row per minute, whatever went in between */
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute"), 2);
    cr_assert_eq(su_q("h.db", "SELECT success FROM minute WHERE start = 1700000040"), 55);
    cr_assert_eq(su_q("h.db", "SELECT failure FROM minute WHERE start = 1700000040"), 5);
    cr_assert_eq(su_q("h.db", "SELECT up_ms + down_ms FROM minute WHERE start = 1700000040"),
                 60000);
    cr_assert_eq(su_q("h.db", "SELECT down_ms FROM minute WHERE start = 1700000040"), 5000);
    cr_assert_eq(su_q("h.db", "SELECT lat_sum_us FROM minute WHERE start = 1700000040"),
                 55 * 2000);
    cr_assert_eq(su_q("h.db", "SELECT lat_min_us FROM minute WHERE start = 1700000040"), 2000);
}

Test(store, finished_hours_and_days_are_rolled_up_and_keep_every_count)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    /* 1700006400 is 2023-11-15T00:00:00Z: a day boundary */
    double day = 1700006400.0;

    steady(st, 3, day - 3 * 3600, day + 2 * 3600, 10);
    su_close(st, day + 2 * 3600);
    /* every hour that ended before the last settle is rolled up */
    cr_assert_eq(su_q("h.db", "SELECT count(DISTINCT start) FROM hour"), 4);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM hour"), 12);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM hour WHERE span != 3600"), 0);
    /* an hour row holds its minutes' sums, histogram included */
    cr_assert_eq(su_q("h.db", "SELECT sum(success + failure) FROM hour WHERE start = 1699999200"),
                 3 * 360);
    cr_assert_eq(su_q("h.db", "SELECT h.success FROM hour h WHERE h.start = 1699999200"
                              " AND h.target_id = 1"),
                 su_q("h.db", "SELECT sum(success) FROM minute WHERE start >= 1699999200"
                              " AND start < 1700002800 AND target_id = 1"));
    cr_assert_eq(su_q("h.db", "SELECT sum(up_ms) FROM hour WHERE start = 1699999200"),
                 3 * 3600 * 1000);
    cr_assert_eq(su_q("h.db", "SELECT min(lat_min_us) FROM hour WHERE target_id = 2"), 2000);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM hour WHERE hist IS NULL"), 0);
    /* the day before the boundary: 3 hours of it, rolled once its hours
     * were; the day after is not over */
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM day"), 3);
    cr_assert_eq(su_q("h.db", "SELECT min(start) FROM day"), 1699920000);
    cr_assert_eq(su_q("h.db", "SELECT span FROM day LIMIT 1"), 86400);
    cr_assert_eq(su_q("h.db", "SELECT sum(success + failure) FROM day"), 3 * 3 * 360);
    cr_assert_eq(su_q("h.db", "SELECT value FROM meta WHERE key = 'hour_mark'"),
                 (int64_t)day + 3600);
    cr_assert_eq(su_q("h.db", "SELECT value FROM meta WHERE key = 'day_mark'"), (int64_t)day);
    /* the minutes stay for their period */
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute"), 3 * 5 * 60);
}

Test(store, hours_buffered_before_the_first_flush_are_rolled_up_too)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("p", "a", 10000);
    double t;

    /* two hours and a half of results, and no flush until then */
    for (t = 1700002800.0; t < 1700002800.0 + 9000; t += 10)
        tp_store_result(st, &k, t, TP_SUCCESS, TP_UP, 0.001);
    for (int i = 0; i < 100 && tp_store_flush(st, t) == 1; i++)
        ;
    su_close(st, t);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM hour"), 2);
    cr_assert_eq(su_q("h.db", "SELECT min(start) FROM hour"), 1700002800);
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM hour"), 720);
}

Test(store, rows_past_their_period_are_deleted_once_rolled_up)
{
    struct tp_store_opts o = {.now = T0, .minutes_s = 3600, .hours_s = 86400,
                              .retention_s = 2 * 86400};
    struct tp_store *st = su_open("h.db", &o);
    double day = 1700006400.0;
    struct tp_store_key k = su_key("p", "t0", 60000);

    tp_store_state(st, &k, day - 86400 + 10, TP_UNKNOWN, TP_UP, NULL, NULL);
    steady(st, 2, day - 86400, day + 3 * 86400 + 7200, 60);
    su_close(st, day + 3 * 86400 + 7200);
    /* minutes: the last hour (plus what is not rolled up yet) */
    cr_assert_leq(su_q("h.db", "SELECT count(DISTINCT start) FROM minute"), 62);
    cr_assert_geq(su_q("h.db", "SELECT min(start) FROM minute"), (int64_t)day + 3 * 86400 + 3540);
    /* hours: the last day */
    cr_assert_geq(su_q("h.db", "SELECT min(start) FROM hour"), (int64_t)day + 2 * 86400);
    /* days: two of them; the oldest were deleted, whole */
    cr_assert_eq(su_q("h.db", "SELECT count(DISTINCT start) FROM day"), 2);
    cr_assert_eq(su_q("h.db", "SELECT min(start) FROM day"), (int64_t)day + 86400);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM day WHERE span != 86400"), 0);
    /* the state change was older than retention */
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM state_changes"), 0);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM targets"), 2);
}

Test(store, days_start_at_the_zones_midnight)
{
    struct tp_store_opts o = {.now = T0, .timezone = "Europe/Paris"};
    struct tp_store *st = su_open("h.db", &o);
    /* Paris is UTC+1 in November: its midnight of the 15th is 23:00Z */
    double paris_midnight = 1700002800.0;

    cr_assert(tp_tz_known("Europe/Paris"));
    cr_assert_eq(tp_tz_floor("Europe/Paris", TP_TZ_DAY, 1700006400), 1700002800);
    steady(st, 1, paris_midnight - 2 * 3600, paris_midnight + 2 * 3600, 30);
    su_close(st, paris_midnight + 2 * 3600);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM day"), 1);
    cr_assert_eq(su_q("h.db", "SELECT start + span FROM day"), (int64_t)paris_midnight);
}

Test(store, days_in_a_zone_follow_its_dst_and_fractional_offsets)
{
    /* 2024-03-31 in Paris has 23 hours, 2024-10-27 has 25 */
    int64_t d = tp_tz_floor("Europe/Paris", TP_TZ_DAY, 1711886400); /* 2024-03-31T12:00Z */
    cr_assert_eq(d, 1711839600);
    cr_assert_eq(tp_tz_next("Europe/Paris", TP_TZ_DAY, d) - d, 23 * 3600);
    d = tp_tz_floor("Europe/Paris", TP_TZ_DAY, 1730030400); /* 2024-10-27T12:00Z */
    cr_assert_eq(tp_tz_next("Europe/Paris", TP_TZ_DAY, d) - d, 25 * 3600);
    /* Kolkata is +05:30: its midnight is 18:30Z, the day starts at 18:00Z */
    d = tp_tz_floor("Asia/Kolkata", TP_TZ_DAY, 1700000000); /* 22:13Z */
    cr_assert_eq(d, 1699984800);
    cr_assert_eq(tp_tz_next("Asia/Kolkata", TP_TZ_DAY, d) - d, 86400);
    cr_assert_eq(tp_tz_floor("Asia/Kolkata", TP_TZ_DAY, 1699986000), d); /* 18:20Z */
    /* weeks start on Monday, months on the 1st */
    cr_assert_eq(tp_tz_floor(NULL, TP_TZ_WEEK, 1700000000), 1699833600); /* Mon 13 Nov */
    cr_assert_eq(tp_tz_floor(NULL, TP_TZ_MONTH, 1700000000), 1698796800); /* 1 Nov */
    cr_assert_eq(tp_tz_next(NULL, TP_TZ_MONTH, 1698796800), 1701388800);  /* 1 Dec */
    cr_assert(!tp_tz_known("Europe/Pariss"));
    cr_assert(!tp_tz_known("../../etc/passwd"));
    cr_assert(tp_tz_known("UTC"));
}

Test(store, a_reopened_history_keeps_its_rows_and_target_ids)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key a = su_key("p", "a", 1000), b = su_key("p", "b", 1000);
    int64_t ida;

    su_feed(st, &a, T0, 90, 1, 1000, 1000, 0.001);
    su_close(st, T0 + 90);
    ida = su_q("h.db", "SELECT id FROM targets WHERE target = 'a'");
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM minute"), 90);

    o.now = T0 + 100;
    st = su_open("h.db", &o);
    su_feed(st, &b, T0 + 100, 10, 1, 1000, 1000, 0.001);
    su_feed(st, &a, T0 + 100, 10, 1, 1000, 1000, 0.001);
    su_close(st, T0 + 110);
    cr_assert_eq(su_q("h.db", "SELECT id FROM targets WHERE target = 'a'"), ida);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM targets"), 2);
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM minute"), 110);
    /* the minute [T0 + 60, T0 + 120) was written at both closes: added up */
    cr_assert_eq(su_q("h.db", "SELECT success FROM minute WHERE start = 1700000100 AND "
                              "target_id = (SELECT id FROM targets WHERE target = 'a')"),
                 40);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM runs WHERE stopped IS NOT NULL"), 2);
}

Test(store, a_target_idle_for_an_hour_is_forgotten_and_comes_back_with_its_id)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key a = su_key("p", "a", 1000), b = su_key("p", "b", 1000);
    struct tp_store_stats s;
    double t = su_feed(st, &a, T0, 10, 1, 1000, 1000, 0.001);

    t = su_feed(st, &b, t, 3700, 1, 1000, 1000, 0.001); /* a says nothing for 3,700 s */
    tp_store_stats(st, &s);
    cr_assert_eq(s.targets, 1);
    su_feed(st, &a, t, 70, 1, 1000, 1000, 0.001);
    tp_store_stats(st, &s);
    cr_assert_eq(s.targets, 2);
    su_close(st, t + 70);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM targets"), 2);
    cr_assert_eq(su_q("h.db", "SELECT id FROM targets WHERE target = 'a'"), 1);
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM minute WHERE target_id = 1"), 80);
}

Test(store, a_changed_interval_or_label_updates_the_target_row)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_kv labels[] = {{"env", "prod"}}, tl[] = {{"env", "dev"}, {"dc", "par1"}};
    struct tp_store_key k = su_key("p", "a", 1000);

    k.labels = labels;
    k.nlabels = 1;
    tp_store_result(st, &k, T0, TP_SUCCESS, TP_UP, 0.001);
    cr_assert_geq(tp_store_flush(st, T0 + 1), 0);
    k.interval_ms = 5000;
    k.tlabels = tl;
    k.ntlabels = 2;
    tp_store_result(st, &k, T0 + 2, TP_SUCCESS, TP_UP, 0.001);
    cr_assert_geq(tp_store_flush(st, T0 + 3), 0);
    cr_assert_eq(su_q("h.db", "SELECT interval_ms FROM targets"), 5000);
    cr_assert_eq(su_q("h.db", "SELECT labels = '{\"env\":\"dev\",\"dc\":\"par1\"}' FROM targets"),
                 1);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM targets"), 1);
    su_close(st, T0 + 4);
}

Test(store, the_histogram_gives_percentiles_within_its_bucket_error)
{
    uint32_t h[TP_LH_N] = {0}, back[TP_LH_N] = {0};
    uint8_t blob[TP_LH_MAXBLOB];
    size_t n;

    for (uint64_t us = 1000; us <= 1000000; us += 1000) /* 1 ms .. 1 s, uniform */
        h[tp_lh_index(us)]++;
    n = tp_lh_encode(h, blob);
    cr_assert_gt(n, 1);
    cr_assert_lt(n, 200);
    cr_assert_eq(tp_lh_add_blob(back, blob, n), 0);
    cr_assert_arr_eq(h, back, sizeof(h));
    cr_assert_lt(fabs(tp_lh_quantile(h, 0.5, 1000, 1000000) - 500000) / 500000, 0.0625);
    cr_assert_lt(fabs(tp_lh_quantile(h, 0.9, 1000, 1000000) - 900000) / 900000, 0.0625);
    cr_assert_lt(fabs(tp_lh_quantile(h, 0.99, 1000, 1000000) - 990000) / 990000, 0.0625);
    cr_assert_eq(tp_lh_quantile(h, 1.0, 1000, 1000000), 1000000);
    /* small values are exact, huge ones land in the last bucket */
    cr_assert_eq(tp_lh_index(5), 5);
    cr_assert_eq(tp_lh_index(UINT64_MAX), TP_LH_N - 1);
    for (unsigned i = 0; i < TP_LH_N; i++) {
        uint64_t lo, hi;
        tp_lh_bounds(i, &lo, &hi);
        cr_assert_eq(tp_lh_index(lo), i);
        cr_assert(i == TP_LH_N - 1 || tp_lh_index(hi) == i + 1, "bucket %u", i);
        cr_assert_leq((double)(hi - lo), (double)lo / 8 + 1);
    }
    /* a blob that is not one is refused, and adds nothing */
    cr_assert_eq(tp_lh_add_blob(back, (const uint8_t *)"\x02\x81", 2), -EINVAL); /* version */
    cr_assert_eq(tp_lh_add_blob(back, (const uint8_t *)"\x01\x00\xff", 3), -EINVAL); /* cut */
    cr_assert_eq(tp_lh_add_blob(back, (const uint8_t *)"\x01\x00\x7f\x01\x00\x7f\x01", 7),
                 -EINVAL); /* past the last bucket */
    cr_assert_eq(tp_lh_add_blob(back, (const uint8_t *)"\x01\x05", 2), -EINVAL); /* no form */
    cr_assert_eq(tp_lh_add_blob(back, (const uint8_t *)"\x01\x80", 2), -EINVAL); /* count 0 */
    cr_assert_arr_eq(h, back, sizeof(h));
    /* both forms: a small bucket in a byte, a big one or after a long gap
     * in varints */
    memset(back, 0, sizeof(back));
    memset(h, 0, sizeof(h));
    h[3] = 2;
    h[4] = 70000;
    h[200] = 1;
    n = tp_lh_encode(h, blob);
    cr_assert_eq(n, 1 + 1 + 5 + 4);
    cr_assert_eq(blob[1], 0x80 | 3 << 4 | 2);
    cr_assert_eq(tp_lh_add_blob(back, blob, n), 0);
    cr_assert_arr_eq(h, back, sizeof(h));
}

Test(store, the_counters_are_prometheus_text)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("p", "a", 1000);
    char *buf = NULL;
    size_t len;
    FILE *f;

    su_feed(st, &k, T0, 70, 1, 1000, 1000, 0.001);
    cr_assert_geq(tp_store_flush(st, T0 + 70), 0);
    f = open_memstream(&buf, &len);
    tp_store_metrics(st, f);
    fclose(f);
    cr_assert_not_null(strstr(buf, "# TYPE twkit_probe_store_transactions_total counter\n"), "%s",
                       buf);
    cr_assert_not_null(strstr(buf, "twkit_probe_store_rows_written_total{table=\"minute\"} 1\n"),
                       "%s", buf);
    cr_assert_not_null(strstr(buf, "twkit_probe_store_errors_total{error=\"all\"} 0\n"));
    cr_assert_not_null(strstr(buf, "twkit_probe_store_healthy 1\n"));
    cr_assert_not_null(strstr(buf, "twkit_probe_store_buffered_rows 0\n"));
    cr_assert_null(strstr(buf, "twkit_probe_store_bytes 0\n"), "the file has a size");
    free(buf);
    su_close(st, T0 + 71);
}

/* ---- the config's history: ---- */

static int load_text(const char *text, struct tp_config *cfg, char **errs)
{
    FILE *f = fopen("x.yaml", "w"), *e;
    size_t len;
    int rc;

    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    e = open_memstream(errs, &len);
    rc = tp_config_load("x.yaml", cfg, e);
    fclose(e);
    return rc;
}

Test(store, the_history_section_of_the_config)
{
    struct tp_config c;
    char *errs, want[512];

    cr_assert_eq(load_text("history:\n  path: hist/probe.db\n  retention: 90d\n"
                           "probes:\n  - {name: a, kind: tcp, target: 'h:1'}\n",
                           &c, &errs),
                 0, "%s", errs);
    snprintf(want, sizeof(want), "hist/probe.db");
    cr_assert_str_eq(c.history.path, want);
    cr_assert_eq(c.history.retention_s, 90 * 86400);
    cr_assert_eq(c.history.hours_s, 30 * 86400);
    cr_assert_eq(c.history.minutes_s, 3 * 86400);
    cr_assert_null(c.history.timezone);
    tp_config_free(&c);
    free(errs);

    cr_assert_eq(load_text("history:\n  path: /var/lib/twkit/probe.db\n  retention: 7d\n"
                           "  minutes: 36h\n  timezone: Europe/Paris\n  sync: 10s\n"
                           "probes:\n  - {name: a, kind: tcp, target: 'h:1'}\n",
                           &c, &errs),
                 0, "%s", errs);
    cr_assert_str_eq(c.history.path, "/var/lib/twkit/probe.db");
    cr_assert_eq(c.history.hours_s, 7 * 86400); /* 30d, shortened to retention */
    cr_assert_eq(c.history.minutes_s, 36 * 3600);
    cr_assert_str_eq(c.history.timezone, "Europe/Paris");
    cr_assert_eq(c.history.sync_s, 10);
    tp_config_free(&c);
    free(errs);

    cr_assert_neq(load_text("history:\n  retention: 90x\n  minutes: 10m\n  hours: 40d\n"
                            "  timezone: Mars/Olympus\n  pth: x\n"
                            "probes:\n  - {name: a, kind: tcp, target: 'h:1'}\n",
                            &c, &errs),
                  0);
    cr_assert_str_eq(errs,
                     "x.yaml:2:14: bad history retention \"90x\": expected a period like 90d, "
                     "36h or 1w2d\n"
                     "x.yaml:3:12: bad history minutes \"10m\": must be at least 1h\n"
                     "x.yaml:5:13: unknown history timezone \"Mars/Olympus\" (a name under "
                     "/usr/share/zoneinfo, like Europe/Paris, or UTC)\n"
                     "x.yaml:6:3: unknown key \"pth\" in history (did you mean path?)\n");
    free(errs);

    cr_assert_neq(load_text("history:\n  path: a.db\n  retention: 10d\n  hours: 20d\n"
                            "probes:\n  - {name: a, kind: tcp, target: 'h:1'}\n",
                            &c, &errs),
                  0);
    cr_assert_str_eq(errs, "x.yaml:4:10: history hours 20d is longer than retention 10d\n");
    free(errs);
    cr_assert_neq(load_text("history:\n  path: a.db\n  sync: 2m\n"
                            "probes:\n  - {name: a, kind: tcp, target: 'h:1'}\n",
                            &c, &errs),
                  0);
    cr_assert_str_eq(errs, "x.yaml:3:9: bad history sync \"2m\": must be less than a minute (a "
                           "minute is written when it is over anyway)\n");
    free(errs);
    cr_assert_neq(load_text("history:\n  retention: 10d\n"
                            "probes:\n  - {name: a, kind: tcp, target: 'h:1'}\n",
                            &c, &errs),
                  0);
    cr_assert_str_eq(errs, "x.yaml:2:3: history has no path (where the database is kept)\n");
    free(errs);
}

Test(store, periods_take_days_and_weeks)
{
    uint64_t s;

    cr_assert_eq(tp_parse_period("90d", &s), 0);
    cr_assert_eq(s, 90 * 86400);
    cr_assert_eq(tp_parse_period("1w2d3h", &s), 0);
    cr_assert_eq(s, 9 * 86400 + 3 * 3600);
    cr_assert_eq(tp_parse_period("1.5h", &s), 0);
    cr_assert_eq(s, 5400);
    cr_assert_eq(tp_parse_period("500ms", &s), 0);
    cr_assert_eq(s, 1);
    cr_assert_eq(tp_parse_period("90", &s), -EINVAL);
    cr_assert_eq(tp_parse_period("-1d", &s), -EINVAL);
    cr_assert_eq(tp_parse_period("1d ", &s), -EINVAL);
    cr_assert_eq(tp_parse_period("", &s), -EINVAL);
    cr_assert_eq(tp_parse_period("99999w", &s), -ERANGE);
}

/* The status page's reader (store_read.c): days rolled up, then today from
 * the hour and minute rows, per UTC day; a target it does not know. */
Test(store, the_status_pages_reader_gives_each_days_uptime_from_the_rows)
{
    double now = (double)time(NULL), today = floor(now / 86400) * 86400;
    double t0 = today - 86400, t;
    struct tp_store_opts o = {.now = t0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("db", "10.0.0.1:5432", 60000);
    struct tp_store_reader *r = NULL;
    struct tp_status_history h;
    float d[TP_STATUS_DAYS];
    char err[512];
    int n = (int)((now - 90 - t0) / 60);

    /* a result a minute since yesterday's 00:00 UTC, down for its first
     * 6 hours: yesterday 75 %, today 100 % */
    t = su_feed(st, &k, t0, n, 60, 0, 360, 0.002);
    su_close(st, t);
    cr_assert_eq(tp_store_reader_open("h.db", NULL, &r, err, sizeof(err)), 0, "%s", err);
    tp_store_reader_history(r, &h);
    cr_assert_null(h.latency_series);
    cr_assert_eq(h.daily_uptime(h.arg, "db", "10.0.0.1:5432", (time_t)today - 89 * 86400,
                                TP_STATUS_DAYS, d), 0);
    for (int i = 0; i < TP_STATUS_DAYS - 2; i++)
        cr_expect_eq(d[i], -1, "day %d: nothing known, got %f", i, d[i]);
    cr_expect(fabs(d[TP_STATUS_DAYS - 2] - 0.75) < 0.001, "yesterday %f", d[TP_STATUS_DAYS - 2]);
    if (n > 360 + 1440) /* past 00:06 UTC: today has rows */
        cr_expect(fabs(d[TP_STATUS_DAYS - 1] - 1) < 1e-6, "today %f", d[TP_STATUS_DAYS - 1]);
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM day"), 1, "yesterday was rolled up");
    cr_assert_eq(h.daily_uptime(h.arg, "db", "10.0.0.2:5432", (time_t)today - 89 * 86400,
                                TP_STATUS_DAYS, d), 0);
    for (int i = 0; i < TP_STATUS_DAYS; i++)
        cr_expect_eq(d[i], -1);
    tp_store_reader_close(r);
    cr_assert_eq(tp_store_reader_open("missing.db", NULL, &r, err, sizeof(err)), -ENOENT);
}
