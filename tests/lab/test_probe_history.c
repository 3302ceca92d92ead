/* The history in a running prober (docs/PROBE.md, "History", "Report"):
 * a target scripted down for 30 % of a fixed 200 s window at a 100 ms
 * interval, the prober killed with SIGKILL in the middle of the outage and
 * started again, then the SLA report of the window - from the command and
 * from GET /report - says 70 % (+-1 %), with the outage before the kill
 * kept; the status page's bar shows today from the history. Its own ctest
 * entry (test_history): it takes 200 s. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "probe_lab.h"

/* the parsed reports: json_decref'd in teardown (free() of keep() would
 * leave their members behind) */
static json_t *loaded[4];
static size_t nloaded;

static void teardown(void)
{
    while (nloaded)
        json_decref(loaded[--nloaded]);
    pl_teardown();
}

TestSuite(history, .init = pl_setup, .fini = teardown, .timeout = 330);

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until unix time t. */
static void until(double t)
{
    double d = t - now_s();

    if (d > 0)
        usleep((useconds_t)(d * 1e6));
}

static json_t *jload(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);

    if (j && nloaded < sizeof(loaded) / sizeof(loaded[0]))
        loaded[nloaded++] = j;

    cr_assert_not_null(j, "not JSON (%s): %.2000s", e.text, text);
    return j;
}

/* The summary of the report's one probe. */
static json_t *summary(json_t *rep)
{
    json_t *p = json_array_get(json_object_get(rep, "probes"), 0);

    cr_assert_not_null(p, "no probe in the report");
    cr_assert_eq(json_array_size(json_object_get(rep, "probes")), 1);
    return json_object_get(p, "summary");
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

Test(history, a_30_percent_outage_over_200_s_with_a_kill_9_in_it_reports_70_percent)
{
    char cfg[256], log[256], out[256], db[256];
    pid_t server, prober;
    double ts, up, down, unknown;
    json_t *rep, *s, *rep2;
    char *page, url[160];
    int rc;

    NEED_ROOT();
    server = start_twp_server(7070);
    write_file("h.yaml",
               "defaults:\n"
               "  interval: 100ms\n"
               "  timeout: 100ms\n"
               "history:\n"
               "  path: %s\n"
               "  sync: 1s\n"
               "probes:\n"
               "  - name: db\n"
               "    kind: tcp\n"
               "    target: 10.201.0.2:7070\n",
               tpath(db, sizeof(db), "h.db"));
    tpath(cfg, sizeof(cfg), "h.yaml");
    tpath(log, sizeof(log), "h.log");
    ts = now_s();
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 --log %s %s 2>>%s.err",
                   TWKIT_BIN, log, cfg, log);
    cr_assert_eq(wait_for("h.log", "\"state\":\"up\"", 1, 5000), 1, "%s", slurp("h.log"));

    until(ts + 70); /* down for 60 s of the 200 */
    stop(server, SIGKILL, 2000);
    until(ts + 100); /* the prober dies in the middle of it, and comes back */
    rc = stop(prober, SIGKILL, 2000);
    cr_assert(WIFSIGNALED(rc) && WTERMSIG(rc) == SIGKILL, "status %d", rc);
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 --log %s %s 2>>%s.err",
                   TWKIT_BIN, log, cfg, log);
    until(ts + 130);
    server = start_twp_server(7070);
    until(ts + 201.5); /* past the window, and its last second synced */

    snprintf(url, sizeof(url), "http://127.0.0.1:9464/report?since=@%.3f&until=@%.3f", ts,
             ts + 200);
    rep2 = jload(fetch(url, "report.json"));
    page = fetch("http://127.0.0.1:9464/", "page.html");
    cr_assert_eq(stop(prober, SIGTERM, 5000), 0, "%s", slurp("h.log.err"));
    stop(server, SIGTERM, 2000);

    rc = run(TW_LAB_CLIENT, 20000, "%s probe report --json --since @%.3f --until @%.3f %s > %s",
             TWKIT_BIN, ts, ts + 200, cfg, tpath(out, sizeof(out), "report-cli.json"));
    cr_assert_eq(rc, 0, "twkit probe report: exit %d: %s", rc, slurp("report-cli.json"));
    rep = jload(slurp("report-cli.json"));
    s = summary(rep);
    up = num(s, "up_s");
    down = num(s, "downtime_s");
    unknown = num(s, "unknown_s");
    cr_expect(fabs(num(s, "uptime_pct") - 70) <= 1, "uptime %.3f %% (up %.1f s, down %.1f s, "
              "unknown %.1f s), not 70 +- 1", num(s, "uptime_pct"), up, down, unknown);
    cr_expect(down >= 57 && down <= 61, "down %.1f s of the 60", down);
    /* what the kill lost (at most the last second synced) and the restart */
    cr_expect(unknown < 3, "unknown %.1f s", unknown);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(s, "results"), "local_error")),
                 0);
    /* the outage before the kill was kept: it started at 70 s and lasted
     * until the kill, or across it */
    cr_expect(num(s, "longest_outage_s") >= 29, "longest outage %.1f s",
              num(s, "longest_outage_s"));
    cr_expect(json_integer_value(json_object_get(s, "incidents")) >= 1);
    cr_expect(json_integer_value(json_object_get(s, "incidents")) <= 2,
              "one outage (two if the restart cut it): %s", slurp("report-cli.json"));

    /* GET /report of the same window, from the prober that was running */
    s = summary(rep2);
    cr_expect(fabs(num(s, "uptime_pct") - 70) <= 1, "GET /report: uptime %.3f %%",
              num(s, "uptime_pct"));

    /* the status page's bar has today from the history */
    cr_expect_null(strstr(page, "id=\"no-history\""), "the page says there is no history");
    {
        time_t now = time(NULL);
        struct tm tm;
        char want[64], *p;
        int pct = -1;
        gmtime_r(&now, &tm);
        strftime(want, sizeof(want), "<title>%Y-%m-%d: ", &tm);
        p = strstr(page, want);
        cr_assert_not_null(p, "no bar for today in the page: %.3000s", page);
        pct = atoi(p + strlen(want));
        cr_expect(strncmp(strchr(p + strlen(want), '%') + 1, "</title>", 8) == 0,
                  "today's bar is the engine's, not the history's: %.80s", p);
        /* 70 % of the window, then 1.5 s more up */
        cr_expect(pct >= 69 && pct <= 72, "today's bar says %d %%", pct);
    }
}

/* A history that cannot be written: said at start, the probes go on, and
 * the prober's own alert fires (log, /metrics); GET /report says why. */
Test(history, a_history_that_cannot_be_opened_is_said_and_alerted_and_probing_goes_on)
{
    char cfg[256], log[256], *m;
    pid_t server, prober;

    NEED_ROOT();
    server = start_twp_server(7070);
    write_file("h.yaml",
               "defaults:\n"
               "  interval: 100ms\n"
               "history:\n"
               "  path: /nonexistent-twkit-dir/h.db\n"
               "probes:\n"
               "  - {name: db, kind: tcp, target: 10.201.0.2:7070}\n");
    tpath(cfg, sizeof(cfg), "h.yaml");
    tpath(log, sizeof(log), "h.log");
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 --log %s %s 2>%s.err",
                   TWKIT_BIN, log, cfg, log);
    cr_assert_eq(wait_for("h.log", "\"state\":\"up\"", 1, 5000), 1, "%s", slurp("h.log.err"));
    cr_assert_eq(wait_for("h.log", "\"alert\":\"TwkitProbeStoreFailing\"", 1, 3000), 1, "%s",
                 slurp("h.log"));
    cr_expect_not_null(strstr(slurp("h.log.err"), "/nonexistent-twkit-dir/h.db: cannot create "
                                                  "it: directory /nonexistent-twkit-dir does "
                                                  "not exist"),
                       "%s", slurp("h.log.err"));
    m = fetch("http://127.0.0.1:9464/metrics", "metrics.txt");
    expect_sample(m, "twkit_probe_store_healthy", 0, 0);
    expect_sample(m, "twkit_probe_health_alert{alert=\"TwkitProbeStoreFailing\"}", 1, 1);
    cr_assert_eq(stop(prober, SIGTERM, 5000), 0, "%s", slurp("h.log.err"));
    stop(server, SIGTERM, 2000);
}
