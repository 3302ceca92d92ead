/* The SLA report (src/probe/report*.c) over histories written by the store
 * on a scripted clock: the 30 % down window (70 %, one incident of 60 s),
 * unknown time, outages ended by a prober's crash or still going on, days
 * with every resolution of rows read once, since moved back to the rows,
 * the three forms, and the range and query parsers. The JSON is read back
 * with jansson. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "probe/store.h"
#include "store_util.h"
#include "tmpcwd.h"

static void setup(void) { ut_cwd_enter("tp_report"); }
static void teardown(void) { ut_cwd_leave(); }

TestSuite(report, .init = setup, .fini = teardown, .timeout = 120);

/* The report of h.db over [since, until) in format fmt, as text. */
static char *report(double since, double until, double now, enum tp_report_format fmt,
                    const char *zone, const char *probe)
{
    struct tp_report_opts o = {.path = "h.db", .since = since, .until = until, .now = now,
                               .format = fmt, .timezone = zone, .probe = probe};
    char *buf = NULL, err[512] = "";
    size_t len;
    FILE *f = open_memstream(&buf, &len);
    int rc;

    cr_assert_not_null(f);
    rc = tp_report_write(&o, f, err, sizeof(err));
    fclose(f);
    cr_assert_eq(rc, 0, "report: %d %s", rc, err);
    return buf;
}

static json_t *report_json(double since, double until, double now, const char *zone)
{
    char *text = report(since, until, now, TP_REPORT_JSON, zone, NULL);
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    cr_assert_not_null(j, "not JSON: %s at %d: %.300s", e.text, e.position, text);
    free(text);
    return j;
}

/* The value at a path of object keys and array indexes ("probes.0.summary"). */
static json_t *at(json_t *j, const char *path)
{
    char buf[256], *save, *tok;

    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, strtoul(tok, NULL, 10)) : json_object_get(j, tok);
    cr_assert_not_null(j, "no %s", path);
    return j;
}

static double num(json_t *j, const char *path)
{
    json_t *v = at(j, path);

    cr_assert(json_is_number(v), "%s is not a number", path);
    return json_number_value(v);
}

Test(report, thirty_percent_down_over_200_s_is_70_percent_one_outage_of_60_s)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("web", "http://a.example/", 100);
    json_t *j, *t;

    /* 2,000 results at 100 ms, results 700..1299 failures: down from
     * 70 s to 130 s */
    su_feed(st, &k, T0, 2000, 0.1, 700, 1300, 0.010);
    su_close(st, T0 + 200);

    j = report_json(T0, T0 + 200, T0 + 300, NULL);
    t = at(j, "probes.0.targets.0");
    cr_assert_str_eq(json_string_value(at(t, "target")), "http://a.example/");
    cr_assert_lt(fabs(num(t, "summary.uptime_pct") - 70.0), 1.0);
    cr_assert_lt(fabs(num(t, "summary.uptime_pct") - 70.0), 1e-6, "the arithmetic is exact");
    cr_assert_eq(num(t, "summary.incidents"), 1);
    cr_assert_eq(num(t, "summary.recovered"), 1);
    cr_assert_lt(fabs(num(t, "summary.longest_outage_s") - 60), 1e-3);
    cr_assert_lt(fabs(num(t, "summary.mttr_s") - 60), 1e-3);
    cr_assert_lt(fabs(num(t, "summary.downtime_s") - 60), 1e-3);
    cr_assert_lt(fabs(num(t, "summary.up_s") - 140), 1e-3);
    cr_assert_lt(fabs(num(t, "summary.unknown_s")), 1e-3);
    cr_assert_eq(num(t, "summary.results.success"), 1400);
    cr_assert_eq(num(t, "summary.results.failure"), 600);
    cr_assert_lt(fabs(num(t, "summary.latency_s.p50") - 0.010) / 0.010, 0.0625);
    cr_assert_lt(fabs(num(t, "summary.latency_s.p99") - 0.010) / 0.010, 0.0625);
    cr_assert_lt(fabs(num(t, "summary.latency_s.mean") - 0.010), 1e-6);
    cr_assert_str_eq(json_string_value(at(t, "outages.0.start")), "2023-11-14T22:15:10Z");
    cr_assert_str_eq(json_string_value(at(t, "outages.0.end")), "2023-11-14T22:16:10Z");
    cr_assert_str_eq(json_string_value(at(t, "outages.0.reason")), "refused");
    cr_assert(json_is_true(at(t, "outages.0.recovered")));
    /* the probe's sum is its one target's */
    cr_assert_lt(fabs(num(j, "probes.0.summary.uptime_pct") - 70.0), 1e-6);
    cr_assert_eq(num(j, "probes.0.targets_count"), 1);
    cr_assert_eq(json_array_size(at(j, "probes.0.days")), 1);
    cr_assert_lt(fabs(num(j, "probes.0.days.0.uptime_pct") - 70.0), 1e-6);
    cr_assert_str_eq(json_string_value(at(j, "probes.0.days.0.period")), "2023-11-14");
    cr_assert_str_eq(json_string_value(at(j, "probes.0.weeks.0.period")), "2023-W46");
    cr_assert_str_eq(json_string_value(at(j, "probes.0.months.0.period")), "2023-11");
    cr_assert_str_eq(json_string_value(at(j, "report.since")), "2023-11-14T22:14:00Z");
    json_decref(j);
}

Test(report, local_errors_and_time_without_results_are_unknown)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("p", "t", 1000);
    json_t *j;

    for (int i = 0; i < 60; i++) /* 60 s up */
        tp_store_result(st, &k, T0 + i, TP_SUCCESS, TP_UP, 0.001);
    for (int i = 60; i < 90; i++) /* 30 s of local errors */
        tp_store_result(st, &k, T0 + i, TP_LOCAL, TP_UP, 0.001);
    for (int i = 200; i < 260; i++) /* after 110 s of nothing, 60 s down */
        tp_store_result(st, &k, T0 + i, TP_FAILURE, TP_DOWN, 0.001);
    su_close(st, T0 + 260);
    j = report_json(T0, T0 + 300, T0 + 300, NULL);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.up_s") - 60), 1e-3);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.downtime_s") - 60), 1e-3);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.uptime_pct") - 50), 1e-6);
    /* 300 s: 60 up, 60 down, 180 unknown of which 31 local errors (the
     * last one covers 2 s) */
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.unknown_s") - 180), 1e-3);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.local_error_s") - 31), 1e-3);
    cr_assert_eq(num(j, "probes.0.targets.0.summary.results.local_error"), 30);
    json_decref(j);
}

Test(report, an_outage_ends_with_the_run_it_began_in_or_is_still_going_on)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key a = su_key("p", "a", 1000), b = su_key("p", "b", 1000);
    json_t *j;

    /* a goes down at T0+10 and this run stops at T0+30 */
    su_feed(st, &a, T0, 30, 1, 10, 30, 0.001);
    su_close(st, T0 + 30);
    /* the next run: b goes down at T0+110 and stays down (the run lives) */
    o.now = T0 + 100;
    st = su_open("h.db", &o);
    su_feed(st, &b, T0 + 100, 30, 1, 10, 30, 0.001);
    cr_assert_geq(tp_store_flush(st, T0 + 130), 0);

    j = report_json(T0, T0 + 130, T0 + 130, NULL);
    cr_assert_eq(num(j, "probes.0.targets.0.summary.incidents"), 1);
    cr_assert(json_is_true(at(j, "probes.0.targets.0.outages.0.ended_with_run")));
    cr_assert(json_is_false(at(j, "probes.0.targets.0.outages.0.recovered")));
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.outages.0.duration_s") - 20), 1e-3);
    cr_assert(json_is_null(at(j, "probes.0.targets.0.summary.mttr_s")));
    cr_assert(json_is_true(at(j, "probes.0.targets.1.outages.0.ongoing")));
    cr_assert(json_is_null(at(j, "probes.0.targets.1.outages.0.end")));
    cr_assert_lt(fabs(num(j, "probes.0.targets.1.summary.longest_outage_s") - 20), 1e-3);
    cr_assert_eq(num(j, "probes.0.summary.incidents"), 2);
    cr_assert_lt(fabs(num(j, "probes.0.summary.longest_outage_s") - 20), 1e-3);
    json_decref(j);
    su_close(st, T0 + 131);
}

/* Results every 60 s for n targets over [t0, t1), up except failures
 * during [down0, down1), with the state changes, flushing each time. */
static void days_of(struct tp_store *st, int n, double t0, double t1, double down0, double down1)
{
    char name[16];

    for (double t = t0; t < t1; t += 60) {
        for (int i = 0; i < n; i++) {
            struct tp_store_key k = su_key("p", name, 60000);
            bool down = t >= down0 && t < down1, was = t - 60 >= down0 && t - 60 < down1;
            snprintf(name, sizeof(name), "t%d", i);
            if (t == t0 || down != was)
                tp_store_state(st, &k, t, t == t0 ? TP_UNKNOWN : was ? TP_DOWN : TP_UP,
                               down ? TP_DOWN : TP_UP, down ? "timeout" : NULL, NULL);
            tp_store_result(st, &k, t, down ? TP_FAILURE : TP_SUCCESS, down ? TP_DOWN : TP_UP,
                            0.002);
        }
        for (int tries = 0; tries < 100 && tp_store_flush(st, t) == 1; tries++)
            ;
    }
}

Test(report, rows_of_every_resolution_are_read_once)
{
    struct tp_store_opts o = {.now = T0, .minutes_s = 3 * 3600, .hours_s = 86400 * 2,
                              .retention_s = 86400 * 10};
    struct tp_store *st = su_open("h.db", &o);
    double day = 1700006400.0; /* 2023-11-15T00:00Z */
    json_t *j;

    /* four days, down for one hour on the second */
    days_of(st, 2, day, day + 4 * 86400 - 600, day + 86400 + 3600, day + 86400 + 7200);
    su_close(st, day + 4 * 86400 - 600);
    cr_assert_gt(su_q("h.db", "SELECT count(*) FROM day"), 0);
    cr_assert_gt(su_q("h.db", "SELECT count(*) FROM hour"), 0);
    cr_assert_gt(su_q("h.db", "SELECT count(*) FROM minute"), 0);
    j = report_json(day, day + 4 * 86400 - 600, day + 4 * 86400 - 590, NULL);
    /* every second of the range counted once: 4 days less 10 min, per target */
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.up_s") +
                      num(j, "probes.0.targets.0.summary.downtime_s") - (4 * 86400 - 600)),
                 1e-3);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.downtime_s") - 3600), 1e-3);
    cr_assert_eq(json_array_size(at(j, "probes.0.days")), 4);
    cr_assert_lt(fabs(num(j, "probes.0.days.0.uptime_pct") - 100), 1e-9);
    cr_assert_lt(fabs(num(j, "probes.0.days.1.uptime_pct") - 100.0 * 23 / 24), 1e-6);
    cr_assert_lt(fabs(num(j, "probes.0.days.1.downtime_s") - 7200), 1e-3, "2 targets");
    cr_assert_eq(num(j, "probes.0.summary.results.success") + num(j, "probes.0.summary.results.failure"),
                 2 * (4 * 1440 - 10));
    cr_assert_eq(num(j, "probes.0.summary.incidents"), 2);
    json_decref(j);

    /* since past the minutes' period, mid-hour: moved back to its hour */
    j = report_json(day + 2 * 86400 + 1800, day + 4 * 86400 - 600, day + 4 * 86400 - 590, NULL);
    cr_assert_str_eq(json_string_value(at(j, "report.since")), "2023-11-17T00:00:00Z");
    cr_assert(json_is_string(at(j, "report.note")));
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.up_s") - (2 * 86400 - 600)), 1e-3);
    json_decref(j);
}

Test(report, days_weeks_and_months_in_a_zone)
{
    struct tp_store_opts o = {.now = T0, .timezone = "Europe/Paris"};
    struct tp_store *st = su_open("h.db", &o);
    /* 2023-11-30T23:00Z: midnight of 1 December in Paris */
    double dec1 = 1701385200.0;
    json_t *j;

    days_of(st, 1, dec1 - 7200, dec1 + 7200, dec1 - 3600, dec1);
    su_close(st, dec1 + 7200);
    j = report_json(dec1 - 7200, dec1 + 7200, dec1 + 7200, "Europe/Paris");
    cr_assert_str_eq(json_string_value(at(j, "report.timezone")), "Europe/Paris");
    cr_assert_str_eq(json_string_value(at(j, "report.since")), "2023-11-30T22:00:00+01:00");
    cr_assert_eq(json_array_size(at(j, "probes.0.days")), 2);
    cr_assert_str_eq(json_string_value(at(j, "probes.0.days.1.period")), "2023-12-01");
    cr_assert_lt(fabs(num(j, "probes.0.days.0.uptime_pct") - 50), 1e-6);
    cr_assert_lt(fabs(num(j, "probes.0.days.1.uptime_pct") - 100), 1e-6);
    cr_assert_str_eq(json_string_value(at(j, "probes.0.months.0.period")), "2023-11");
    cr_assert_str_eq(json_string_value(at(j, "probes.0.months.1.period")), "2023-12");
    cr_assert_str_eq(json_string_value(at(j, "probes.0.weeks.0.period")), "2023-W48");
    json_decref(j);
}

Test(report, a_report_in_another_zone_than_the_historys_counts_every_second_once)
{
    struct tp_store_opts o = {.now = T0, .timezone = "Europe/Paris", .minutes_s = 7200};
    struct tp_store *st = su_open("h.db", &o);
    double day = 1700006400.0; /* UTC midnight; Paris' is an hour before */
    json_t *j;

    days_of(st, 1, day, day + 3 * 86400, 0, 0);
    su_close(st, day + 3 * 86400);
    cr_assert_gt(su_q("h.db", "SELECT count(*) FROM day"), 1);
    /* UTC days from hour rows: each exactly a day */
    j = report_json(day, day + 3 * 86400, day + 3 * 86400 + 10, NULL);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.up_s") - 3 * 86400), 1e-3);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.unknown_s")), 1e-3);
    cr_assert_eq(json_array_size(at(j, "probes.0.days")), 3);
    for (int d = 0; d < 3; d++) {
        char path[64];
        snprintf(path, sizeof(path), "probes.0.days.%d.up_s", d);
        cr_assert_lt(fabs(num(j, path) - 86400), 1e-3, "day %d", d);
    }
    json_decref(j);
    /* in the history's own zone, its day rows */
    j = report_json(day - 3600, day + 3 * 86400, day + 3 * 86400 + 10, "Europe/Paris");
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.up_s") - 3 * 86400), 1e-3);
    cr_assert_eq(json_array_size(at(j, "probes.0.days")), 4);
    cr_assert_lt(fabs(num(j, "probes.0.days.1.up_s") - 86400), 1e-3);
    json_decref(j);
}

Test(report, text_and_html_forms)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("web", "https://a.example/<x>", 100);
    char *txt, *html;

    su_feed(st, &k, T0, 2000, 0.1, 700, 1300, 0.010);
    su_close(st, T0 + 200);
    txt = report(T0, T0 + 200, T0 + 300, TP_REPORT_TEXT, NULL, NULL);
    cr_assert_not_null(strstr(txt, "web (tcp, 1 target)"), "%s", txt);
    cr_assert_not_null(strstr(txt, "70.000%"), "%s", txt);
    cr_assert_not_null(strstr(txt, "1m00s"), "%s", txt);
    free(txt);
    html = report(T0, T0 + 200, T0 + 300, TP_REPORT_HTML, NULL, NULL);
    cr_assert_eq(strncmp(html, "<!DOCTYPE html>", 15), 0);
    cr_assert_not_null(strstr(html, "</html>"));
    cr_assert_not_null(strstr(html, "70.000%"));
    cr_assert_not_null(strstr(html, "https://a.example/&lt;x&gt;"), "escaped");
    cr_assert_null(strstr(html, "<x>"));
    /* self-contained: nothing fetched from elsewhere */
    cr_assert_null(strstr(html, "<script"));
    cr_assert_null(strstr(html, "<link"));
    cr_assert_null(strstr(html, "src="));
    cr_assert_null(strstr(html, "url("));
    free(html);
    /* a range before the target's rows: it is left out */
    txt = report(T0 - 86400, T0 - 3600, T0 + 300, TP_REPORT_TEXT, NULL, NULL);
    cr_assert_not_null(strstr(txt, "no targets"), "%s", txt);
    free(txt);
    /* another probe's name: nothing */
    txt = report(T0, T0 + 200, T0 + 300, TP_REPORT_TEXT, NULL, "db");
    cr_assert_not_null(strstr(txt, "no targets"), "%s", txt);
    free(txt);
}

Test(report, no_history_is_a_clear_error)
{
    struct tp_report_opts o = {.path = "none.db", .since = T0, .until = T0 + 1};
    char err[256];
    FILE *f = fopen("/dev/null", "w");

    cr_assert_eq(tp_report_write(&o, f, err, sizeof(err)), -ENOENT);
    cr_assert_str_eq(err, "none.db: no history there (the prober has not written one)");
    o.until = T0 - 1;
    cr_assert_eq(tp_report_write(&o, f, err, sizeof(err)), -EINVAL);
    fclose(f);
}

Test(report, since_and_until_as_written)
{
    const char *why;
    double t;

    cr_assert_eq(tp_report_parse_time("30d", T0, NULL, &t, &why), 0);
    cr_assert_eq(t, T0 - 30 * 86400);
    cr_assert_eq(tp_report_parse_time("1w12h", T0, NULL, &t, &why), 0);
    cr_assert_eq(t, T0 - 7.5 * 86400);
    cr_assert_eq(tp_report_parse_time("2023-11-14", T0, NULL, &t, &why), 0);
    cr_assert_eq(t, 1699920000);
    cr_assert_eq(tp_report_parse_time("2023-11-14", T0, "Europe/Paris", &t, &why), 0);
    cr_assert_eq(t, 1699916400);
    cr_assert_eq(tp_report_parse_time("2023-11-14T22:14", T0, NULL, &t, &why), 0);
    cr_assert_eq(t, T0);
    cr_assert_eq(tp_report_parse_time("2023-11-14T22:14:30Z", T0, "Europe/Paris", &t, &why), 0);
    cr_assert_eq(t, T0 + 30);
    cr_assert_eq(tp_report_parse_time("2023-11-14 23:14:00+01:00", T0, NULL, &t, &why), 0);
    cr_assert_eq(t, T0);
    cr_assert_eq(tp_report_parse_time("@1700000000.5", T0, NULL, &t, &why), 0);
    cr_assert_eq(t, 1700000000.5);
    cr_assert_eq(tp_report_parse_time("yesterday", T0, NULL, &t, &why), -EINVAL);
    cr_assert_eq(tp_report_parse_time("2023-13-01", T0, NULL, &t, &why), -EINVAL);
    cr_assert_eq(tp_report_parse_time("2023-11-14T25:00", T0, NULL, &t, &why), -EINVAL);
    cr_assert_eq(tp_report_parse_time("2023-11-14T10:00+1", T0, NULL, &t, &why), -EINVAL);
    cr_assert_eq(tp_report_parse_time("@x", T0, NULL, &t, &why), -EINVAL);
}

Test(report, the_query_of_get_report)
{
    struct tp_report_opts o = {.path = "h.db"};
    const char *q = "since=2h&format=html&probe=web%20x&until=%401700000000";
    char err[256];

    cr_assert_eq(tp_report_query(q, strlen(q), T0, &o, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(o.since, T0 - 7200);
    cr_assert_eq(o.until, 1700000000);
    cr_assert_eq(o.format, TP_REPORT_HTML);
    cr_assert_str_eq(o.probe, "web x");
    cr_assert_eq(tp_report_query("", 0, T0, &o, err, sizeof(err)), 0);
    cr_assert_eq(o.since, T0 - 30 * 86400);
    cr_assert_eq(o.format, TP_REPORT_JSON);
    cr_assert_null(o.probe);
    cr_assert_eq(tp_report_query("format=xml", 10, T0, &o, err, sizeof(err)), -EINVAL);
    cr_assert_str_eq(err, "bad format \"xml\" (json, html or text)");
    cr_assert_eq(tp_report_query("sinse=1d", 8, T0, &o, err, sizeof(err)), -EINVAL);
    cr_assert_str_eq(err, "unknown parameter \"sinse\" (since, until, probe, format)");
    cr_assert_eq(tp_report_query("since=later", 11, T0, &o, err, sizeof(err)), -EINVAL);
    cr_assert_eq(tp_report_query("probe", 5, T0, &o, err, sizeof(err)), -EINVAL);
}

/* What `twkit probe report ARGS` prints, and its exit status. */
static char *run_twkit(const char *args, int *status)
{
    char cmd[1024], *out = NULL;
    size_t len = 0, n;
    char buf[4096];
    FILE *p, *m = open_memstream(&out, &len);

    snprintf(cmd, sizeof(cmd), "%s probe report %s 2>&1", TWKIT_BIN, args);
    cr_assert_not_null(p = popen(cmd, "r"));
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        fwrite(buf, 1, n, m);
    *status = pclose(p);
    fclose(m);
    return out;
}

Test(report, twkit_probe_report_reads_the_history_of_the_config)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st;
    struct tp_store_key k = su_key("web", "http://a.example/", 100);
    char *out, args[256];
    json_error_t e;
    json_t *j;
    int status;
    FILE *f;

    cr_assert_eq(mkdir("conf", 0755), 0);
    cr_assert_not_null(f = fopen("conf/probes.yaml", "w"));
    fputs("history:\n  path: probe.db\n  retention: 90d\n"
          "probes:\n  - {name: web, kind: http, target: 'http://a.example/', interval: 100ms,"
          " timeout: 100ms}\n",
          f);
    fclose(f);
    st = su_open("conf/probe.db", &o); /* relative to the config's directory */
    su_feed(st, &k, T0, 2000, 0.1, 700, 1300, 0.010);
    su_close(st, T0 + 200);

    snprintf(args, sizeof(args), "--json --since @%.0f --until @%.0f conf/probes.yaml", T0,
             T0 + 200);
    out = run_twkit(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_not_null(j = json_loads(out, 0, &e), "%s: %s", e.text, out);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.uptime_pct") - 70.0), 1.0);
    cr_assert_eq(num(j, "probes.0.targets.0.summary.incidents"), 1);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.longest_outage_s") - 60), 1e-3);
    cr_assert_lt(fabs(num(j, "probes.0.targets.0.summary.mttr_s") - 60), 1e-3);
    cr_assert_str_eq(json_string_value(at(j, "report.history")), "conf/probe.db");
    json_decref(j);
    free(out);

    snprintf(args, sizeof(args), "--html --since 2023-11-14 --until @%.0f conf/probes.yaml",
             T0 + 200);
    out = run_twkit(args, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_not_null(strstr(out, "70.000%"), "%s", out);
    free(out);

    out = run_twkit("--since yesterday conf/probes.yaml", &status);
    cr_assert_eq(WEXITSTATUS(status), 2, "%s", out);
    cr_assert_not_null(strstr(out, "twkit probe report: --since yesterday: expected a period"),
                       "%s", out);
    free(out);
    cr_assert_not_null(f = fopen("conf/none.yaml", "w"));
    fputs("probes:\n  - {name: web, kind: tcp, target: 'a:1'}\n", f);
    fclose(f);
    out = run_twkit("conf/none.yaml", &status);
    cr_assert_eq(WEXITSTATUS(status), 1, "%s", out);
    cr_assert_str_eq(out, "twkit probe report: conf/none.yaml has no history: section (no "
                          "history is kept, so there is nothing to report)\n");
    free(out);
    out = run_twkit("--history conf/nothing.db", &status);
    cr_assert_eq(WEXITSTATUS(status), 1, "%s", out);
    cr_assert_str_eq(out, "twkit probe report: conf/nothing.db: no history there (the prober "
                          "has not written one)\n");
    free(out);
}
