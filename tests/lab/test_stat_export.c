/* twkit stat --listen in the lab: its /metrics through promtool, a real
 * Prometheus with the shipped rules (contrib/prometheus) firing the rate
 * alert before the client's first EADDRNOTAVAIL, every dashboard panel's
 * expression answered, and --all-netns / --top.
 *
 * The exporter and Prometheus run in the server namespace (their own
 * loopback); the exporter reads the client namespace with --netns. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe_lab.h"
#include "stat_churn.h"
#include "twkit/error.h"
#include "twkit/time.h"

TestSuite(stat_export, .init = pl_setup, .fini = pl_teardown, .timeout = 150);

#define EXPORTER "127.0.0.1:9467"

static int listen_in(enum tw_lab_side side, uint16_t port) { return sc_listen(&lab, side, port); }

static int listen_server(uint16_t port) { return listen_in(TW_LAB_SERVER, port); }

/* A listener in the client namespace with one connection accepted: the
 * server side of the namespace the exporter reads (fds[0..2], to close). */
static void client_side_listener(uint16_t port, int fds[3])
{
    tw_addr a = lab.addr4[TW_LAB_CLIENT];

    tw_addr_set_port(&a, port);
    fds[0] = listen_in(TW_LAB_CLIENT, port);
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tw_lab_leave(&lab);
    cr_assert_eq(connect(fds[1], &a.u.sa, a.len), 0, "connect: %s", strerror(errno));
    cr_assert_geq(fds[2] = accept4(fds[0], NULL, NULL, SOCK_CLOEXEC), 0);
}

/* The shipped rules with every `for:` cut to a fifteenth (1 s at least):
 * the lab's scrapes are 1 s apart, not 15 s. Nothing else is changed. */
static void scaled_rules(const char *out)
{
    char src[512], line[1024], p[256];
    FILE *in, *o;

    snprintf(src, sizeof(src), "%s/twkit-stat.rules.yml", CONTRIB_PROMETHEUS);
    cr_assert_not_null(in = fopen(src, "r"), "%s: %s", src, strerror(errno));
    cr_assert_not_null(o = fopen(tpath(p, sizeof(p), out), "w"));
    while (fgets(line, sizeof(line), in)) {
        char unit = 0;
        int ind = 0, n = 0, end = 0;
        if (sscanf(line, "%*[ ]%nfor: %d%c%n", &ind, &n, &unit, &end) == 2 && ind > 0 &&
            strchr("smh", unit) && (line[end] == '\n' || line[end] == 0)) {
            long s = n * (unit == 'h' ? 3600L : unit == 'm' ? 60L : 1L) / 15;
            fprintf(o, "%.*sfor: %lds\n", ind, line, s < 1 ? 1 : s);
        } else {
            fputs(line, o);
        }
    }
    fclose(in);
    cr_assert_eq(fclose(o), 0);
}

static void start_prometheus(void)
{
    char cfg[256], rules[256];

    scaled_rules("rules.yml");
    write_file("prometheus.yml",
               "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
               "rule_files: ['%s']\n"
               "scrape_configs:\n"
               "  - job_name: twkit-stat\n"
               "    static_configs: [{targets: ['" EXPORTER "']}]\n",
               tpath(rules, sizeof(rules), "rules.yml"));
    cr_assert_eq(run(TW_LAB_SERVER, 10000, "promtool check config %s >%s/check.out 2>&1",
                     tpath(cfg, sizeof(cfg), "prometheus.yml"), tmpdir),
                 0, "promtool check config:\n%s", slurp("check.out"));
    spawn(TW_LAB_SERVER,
          "prometheus --config.file=%s --storage.tsdb.path=%s/tsdb "
          "--web.listen-address=127.0.0.1:9090 >%s/prometheus.log 2>&1",
          cfg, tmpdir, tmpdir);
}

/* GET a Prometheus API path (query string already encoded) into name;
 * NULL while it is not answering yet. */
static char *prom_get(const char *path, const char *name)
{
    char p[256];

    if (run(TW_LAB_SERVER, 5000, "curl -sf -o %s 'http://127.0.0.1:9090%s'",
            tpath(p, sizeof(p), name), path) != 0)
        return NULL;
    return slurp(name);
}

/* The state of the first alert named `name` in /api/v1/alerts ("" when
 * there is none): an alert's labels come before its state. */
static void alert_state(const char *alerts, const char *name, char *state, size_t len)
{
    char key[128];
    const char *a, *s;

    snprintf(key, sizeof(key), "\"alertname\":\"%s\"", name);
    state[0] = 0;
    if (!alerts || !(a = strstr(alerts, key)) || !(s = strstr(a, "\"state\":\"")))
        return;
    s += 9;
    snprintf(state, len, "%.*s", (int)strcspn(s, "\""), s);
}

/* Every expression of the dashboard, run at once against Prometheus:
 * each must answer with data. Returns how many were asked. */
static int dashboard_answers(void)
{
    char exprs[256], q[256];
    char *text, **lines;
    size_t n;
    int asked = 0;

    cr_assert_eq(run(PL_HERE, 10000, "%s/dashboard-exprs --interval 10s %s/twkit-stat-dashboard.json "
                                     ">%s 2>%s/exprs.err",
                     CONTRIB_PROMETHEUS, CONTRIB_PROMETHEUS, tpath(exprs, sizeof(exprs), "exprs.txt"),
                     tmpdir),
                 0, "dashboard-exprs: %s", slurp("exprs.err"));
    text = slurp("exprs.txt");
    lines = split_lines(text, &n);
    for (size_t i = 0; i < n; i++) {
        const char *r;
        if (!lines[i][0])
            continue;
        write_file("q.txt", "%s", lines[i]);
        cr_assert_eq(run(TW_LAB_SERVER, 5000,
                         "curl -sf -G --data-urlencode query@%s -o %s/answer.json "
                         "http://127.0.0.1:9090/api/v1/query",
                         tpath(q, sizeof(q), "q.txt"), tmpdir),
                     0, "Prometheus refused the dashboard's `%s`", lines[i]);
        r = slurp("answer.json");
        cr_expect(strstr(r, "\"status\":\"success\"") && !strstr(r, "\"result\":[]"),
                  "the dashboard's `%s` returned no data: %s", lines[i], r);
        asked++;
    }
    return asked;
}

/* 1,000 ports at 100 new connections/s (6 x the 16.7/s they sustain) run
 * out at about 10 s; Prometheus scraping every second must fire the rate
 * alert before. */
Test(stat_export, prometheus_fires_the_rate_alert_before_the_first_eaddrnotavail)
{
    struct sc_acceptor acc;
    char st[32] = "", m[256], p[256];
    const char *metrics, *alerts = NULL;
    uint64_t t0, t_fail, t_fire = 0, end;
    int rfd, status, panels, own[3];
    pid_t churn, exporter;

    NEED_ROOT();
    client_side_listener(6043, own);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range",
                                   "40000 40999"), 0);
    exporter = spawn(TW_LAB_SERVER, "%s stat --listen " EXPORTER " --netns %s --top 5 --who "
                                    "2>%s/exporter.err",
                     TWKIT_BIN, lab.ns[TW_LAB_CLIENT], tmpdir);
    wait_listening(TW_LAB_SERVER, 9467, "twkit stat --listen");
    start_prometheus();
    /* Prometheus has scraped once: the clock starts fair */
    end = tw_now_ms() + 30000;
    while (tw_now_ms() < end) {
        const char *q = prom_get("/api/v1/query?query=twkit_stat_up", "up.json");
        if (q && strstr(q, "\"value\":[") && strstr(q, "\"1\"]"))
            break;
        usleep(250000);
    }
    cr_assert_lt(tw_now_ms(), end, "Prometheus never scraped twkit_stat_up 1:\n%s",
                 slurp("prometheus.log"));

    cr_assert_eq(sc_acceptor_start(&acc, listen_server(6040)), 0);
    cr_assert_gt(churn = sc_churn_start(&lab, 6040, 100, 1e9, 100, &rfd), 0);
    cr_assert_eq(read(rfd, &t0, sizeof(t0)), (ssize_t)sizeof(t0));
    while (tw_now_ms() < t0 + 40000) {
        struct pollfd pf = {.fd = rfd, .events = POLLIN};
        if (poll(&pf, 1, 0) > 0)
            break; /* connect() failed first */
        alerts = prom_get("/api/v1/alerts", "alerts.json");
        alert_state(alerts, "TwkitStatConnectionRateNearLimit", st, sizeof(st));
        if (!strcmp(st, "firing")) {
            t_fire = tw_now_ms();
            break;
        }
        usleep(250000);
    }
    /* the numbers the alert saw, mid-churn */
    metrics = fetch_from(TW_LAB_SERVER, "http://" EXPORTER "/metrics", "", "metrics.txt");
    cr_assert_eq(run(TW_LAB_SERVER, 10000, "promtool check metrics <%s >%s 2>&1",
                     tpath(m, sizeof(m), "metrics.txt"), tpath(p, sizeof(p), "promtool.out")),
                 0, "promtool check metrics:\n%s", slurp("promtool.out"));
#define DST "{netns=\"%s\",src=\"10.201.0.1\",dst=\"10.201.0.2:6040\"}"
    char series[256];
    snprintf(series, sizeof(series), "twkit_stat_destination_usable_ports" DST,
             lab.ns[TW_LAB_CLIENT]);
    expect_sample(metrics, series, 1000, 1000);
    snprintf(series, sizeof(series), "twkit_stat_destination_sustainable_per_second" DST,
             lab.ns[TW_LAB_CLIENT]);
    expect_sample(metrics, series, 16.6, 16.7);
    snprintf(series, sizeof(series), "twkit_stat_destination_new_connections_per_second" DST,
             lab.ns[TW_LAB_CLIENT]);
    expect_sample(metrics, series, 50, 150); /* 100/s asked; a loaded or ASan host lags */
    snprintf(series, sizeof(series), "twkit_stat_destination_seconds_until_exhaustion" DST,
             lab.ns[TW_LAB_CLIENT]);
    expect_sample(metrics, series, 0, 60); /* within 60 s or never: it is the churn's */
#undef DST

    cr_assert_eq(read(rfd, &t_fail, sizeof(t_fail)), (ssize_t)sizeof(t_fail),
                 "the client never got EADDRNOTAVAIL");
    waitpid(churn, &status, 0);
    close(rfd);
    cr_log_info("rate alert firing at %.1f s, first EADDRNOTAVAIL at %.1f s",
                t_fire ? (double)(t_fire - t0) / 1e3 : -1.0, (double)(t_fail - t0) / 1e3);
    cr_assert(t_fire && t_fire < t_fail,
              "TwkitStatConnectionRateNearLimit was \"%s\" when connect() failed at %.1f s:\n%s",
              st, (double)(t_fail - t0) / 1e3, alerts ? alerts : "(no answer)");

    /* --who: the churn's ~1,000 active closes, by the forked test's name */
    metrics = fetch_from(TW_LAB_SERVER, "http://" EXPORTER "/metrics", "", "metrics2.txt");
    {
        const char *w = strstr(metrics, "twkit_stat_who_active_closes_total{comm=\"test_lab\"");
        cr_assert_not_null(w, "no active closes of test_lab in:\n%s", metrics);
        w = strchr(w, '}');
        cr_expect(w && atof(w + 1) >= 900, "test_lab's active closes: %s", w ? w + 1 : "?");
    }

    /* the TIME_WAIT is still there: the dashboard has data for each panel */
    usleep(1500000);
    panels = dashboard_answers();
    cr_expect_geq(panels, 8, "the dashboard asked only %d expressions", panels);
    sc_acceptor_stop(&acc);
    stop(exporter, SIGTERM, 5000);
    for (int i = 0; i < 3; i++)
        close(own[i]);
}

/* --all-netns: each lab namespace once, labelled; the exporter's own
 * without a label; past --top, one "other" series. */
Test(stat_export, all_netns_labels_each_namespace_and_folds_the_rest_into_other)
{
    char series[256];
    const char *m;
    int l1 = listen_server(6041), l2 = listen_server(6042), status;
    pid_t exporter;

    NEED_ROOT();
    /* two destinations from the client: TIME_WAIT on its side */
    /* never answered (28: timed out); curl's sockets hold a port each */
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "curl -s -m 0.3 -o /dev/null http://10.201.0.2:6041/ "
                                         "http://10.201.0.2:6042/"), 28);
    exporter = spawn(PL_HERE, "%s stat --listen 127.0.0.1:19467 --all-netns --top 1 "
                              "2>%s/exporter.err", TWKIT_BIN, tmpdir);
    for (int i = 0; i < 100 && run(PL_HERE, 2000, "curl -sf -o /dev/null "
                                                  "http://127.0.0.1:19467/health") != 0; i++)
        usleep(50000);
    m = fetch_from(PL_HERE, "http://127.0.0.1:19467/metrics", "", "all.txt");
    for (int side = 0; side < 2; side++) {
        char key[128];
        snprintf(series, sizeof(series), "twkit_stat_up{netns=\"%s\"}", lab.ns[side]);
        expect_sample(m, series, 1, 1);
        snprintf(key, sizeof(key), "twkit_stat_up{netns=\"%s\"}", lab.ns[side]);
        cr_expect_eq(count_of(m, key), 1, "namespace %s listed more than once", lab.ns[side]);
    }
    expect_sample(m, "twkit_stat_up", 1, 1); /* the exporter's own, unlabelled */
    snprintf(series, sizeof(series),
             "twkit_stat_destinations{netns=\"%s\"}", lab.ns[TW_LAB_CLIENT]);
    expect_sample(m, series, 2, 2);
    snprintf(series, sizeof(series),
             "twkit_stat_destination_ports_in_use{netns=\"%s\",src=\"other\",dst=\"other\"}",
             lab.ns[TW_LAB_CLIENT]);
    expect_sample(m, series, 1, 100);
    snprintf(series, sizeof(series),
             "twkit_stat_destination_usable_ports{netns=\"%s\",src=\"other\"", lab.ns[TW_LAB_CLIENT]);
    cr_expect_null(strstr(m, series), "\"other\" has no usable ports of its own");
    status = stop(exporter, SIGTERM, 5000);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exporter on SIGTERM: %d", status);
    close(l1);
    close(l2);
}

Test(stat_export, bad_combinations_are_usage_errors)
{
    NEED_ROOT();
    cr_expect_eq(run(PL_HERE, 5000, "%s stat --all-netns 2>/dev/null", TWKIT_BIN), 2);
    cr_expect_eq(run(PL_HERE, 5000, "%s stat --listen 127.0.0.1:19467 --json 2>/dev/null",
                     TWKIT_BIN), 2);
    cr_expect_eq(run(PL_HERE, 5000, "%s stat --listen 127.0.0.1:19467 --netns x --all-netns "
                                    "2>/dev/null", TWKIT_BIN), 2);
    cr_expect_eq(run(PL_HERE, 5000, "%s stat --listen 127.0.0.1:19467 --netns no-such-ns-here "
                                    "2>/dev/null", TWKIT_BIN), 2);
    cr_expect_eq(run(PL_HERE, 5000, "%s stat --listen nonsense:: 2>/dev/null", TWKIT_BIN), 2);
}
