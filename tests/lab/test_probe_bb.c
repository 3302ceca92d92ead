/* twkit probe as a drop-in for blackbox_exporter, side by side with the
 * real one (Debian's prometheus-blackbox-exporter 0.23) in the client
 * namespace: one blackbox.yml, the same targets in the server namespace
 * (twkit serve, an openssl TLS server with a generated certificate, a
 * banner server, a refused port, a port nftables drops, names that
 * dnsmasq resolves and names it does not), scraped through
 * /probe from both. The metric names must be the same, probe_success the
 * same, and the values mean the same: durations within a factor of 2 or
 * 5 ms, whichever is larger; everything else equal.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "probe_lab.h"
#include "twkit/diag.h"
#include "twkit/time.h"

TestSuite(probe_bb, .init = pl_setup, .fini = pl_teardown, .timeout = 120);

#define BB_PORT 9115
#define TW_PORT 9116

static void start_targets(void)
{
    spawn(TW_LAB_SERVER, "%s serve --proto http --listen 0.0.0.0:8080 >/dev/null 2>&1",
          TWKIT_BIN);
    make_cert("cert.pem", "key.pem", -3600, 30 * 86400);
    start_tls_server(8443, "cert.pem", "key.pem");
    /* https with a body that does not depend on the client (-www's status
     * page lists the client's ciphers): a file, served by -WWW */
    write_file("index.html", "<html>twkit lab</html>\n");
    spawn(TW_LAB_SERVER,
          "sh -c 'cd %s && exec openssl s_server -quiet -WWW -accept 8444 -cert cert.pem "
          "-key key.pem' >/dev/null 2>&1",
          tmpdir);
    wait_listening(TW_LAB_SERVER, 8444, "openssl s_server -WWW");
    /* a banner server: says SSH-2.0-, then reads what the prober sends */
    write_file("banner.py",
               "import socket\n"
               "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
               "s.bind(('0.0.0.0', 2222)); s.listen(64)\n"
               "while True:\n"
               "    c, _ = s.accept()\n"
               "    try:\n"
               "        c.sendall(b'SSH-2.0-OpenSSH_9.2 lab\\r\\n'); c.settimeout(2); c.recv(100)\n"
               "    except OSError:\n"
               "        pass\n"
               "    c.close()\n");
    {
        char p[256];
        spawn(TW_LAB_SERVER, "/usr/bin/python3 %s", tpath(p, sizeof(p), "banner.py"));
    }
    /* names: web.lab is the server, anything else under lab. is NXDOMAIN */
    spawn(TW_LAB_SERVER,
          "dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces "
          "--listen-address=10.201.0.2 --port=53 --local=/lab/ --host-record=web.lab,10.201.0.2 "
          "--pid-file= --log-facility=- 2>/dev/null");
    write_file("resolv.conf", "nameserver 10.201.0.2\n");
    wait_listening(TW_LAB_SERVER, 8080, "twkit serve");
    wait_listening(TW_LAB_SERVER, 2222, "the banner server");
    wait_listening(TW_LAB_SERVER, 53, "dnsmasq");
    drop_port(8082);
}

static void start_exporters(bool blackbox)
{
    char bb[256], log[256], rc[256];

    write_file("blackbox.yml",
               "modules:\n"
               "  http_2xx:\n"
               "    prober: http\n"
               "  http_post_2xx:\n"
               "    prober: http\n"
               "    http:\n"
               "      method: POST\n"
               "  https_ca:\n"
               "    prober: http\n"
               "    http:\n"
               "      tls_config:\n"
               "        ca_file: %s/cert.pem\n"
               "  tcp_connect:\n"
               "    prober: tcp\n"
               "  tls_connect:\n"
               "    prober: tcp\n"
               "    timeout: 5s\n"
               "    tcp:\n"
               "      tls: true\n"
               "      tls_config:\n"
               "        ca_file: %s/cert.pem\n"
               "  ssh_banner:\n"
               "    prober: tcp\n"
               "    tcp:\n"
               "      query_response:\n"
               "      - expect: \"^SSH-2.0-\"\n"
               "      - send: \"SSH-2.0-blackbox-ssh-check\"\n",
               tmpdir, tmpdir);
    tpath(bb, sizeof(bb), "blackbox.yml");
    /* both resolve through the lab's dnsmasq: /etc/resolv.conf in a mount
     * namespace of their own */
    tpath(rc, sizeof(rc), "resolv.conf");
    if (blackbox)
        spawn(TW_LAB_CLIENT,
              "unshare -m sh -c 'mount --bind %s /etc/resolv.conf && exec "
              "prometheus-blackbox-exporter --config.file=%s --web.listen-address=127.0.0.1:%u' "
              ">%s 2>&1",
              rc, bb, BB_PORT, tpath(log, sizeof(log), "bb.log"));
    spawn(TW_LAB_CLIENT,
          "unshare -m sh -c 'mount --bind %s /etc/resolv.conf && exec "
          "%s probe --blackbox-config %s --listen 127.0.0.1:%u' >%s 2>&1",
          rc, TWKIT_BIN, bb, TW_PORT, tpath(log, sizeof(log), "tw.log"));
    if (blackbox)
        wait_listening(TW_LAB_CLIENT, BB_PORT, "blackbox_exporter");
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
}

static const struct {
    const char *module, *target;
    int success;
} cases[] = {
        {"http_2xx", "http://10.201.0.2:8080/", 1},
        {"http_2xx", "10.201.0.2:8080", 1}, /* no scheme: http:// */
        {"http_2xx", "http://10.201.0.2:8081/", 0},
        {"http_2xx", "http://10.201.0.2:8082/", 0},
        {"http_2xx", "http://web.lab:8080/", 1},
        {"http_2xx", "http://nothere.lab:8080/", 0},
        {"http_post_2xx", "http://10.201.0.2:8080/", 0}, /* 405: twkit serve takes no POST */
        {"https_ca", "https://10.201.0.2:8444/index.html", 1},
        {"https_ca", "http://10.201.0.2:8444/index.html", 0},
        {"tcp_connect", "10.201.0.2:8080", 1},
        {"tcp_connect", "10.201.0.2:8081", 0},
        {"tcp_connect", "10.201.0.2:8082", 0},
        {"tcp_connect", "web.lab:8080", 1},
        {"tcp_connect", "nothere.lab:8080", 0},
        {"tls_connect", "10.201.0.2:8443", 1},
        {"tls_connect", "10.201.0.2:2222", 0},
        {"ssh_banner", "10.201.0.2:2222", 1},
        {"ssh_banner", "10.201.0.2:8443", 0},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

Test(probe_bb, every_module_and_target_answers_as_blackbox_exporter_does)
{
    NEED_ROOT();
    start_targets();
    start_exporters(true);
    for (size_t i = 0; i < NCASES; i++)
        cr_assert_eq(pl_compare(BB_PORT, TW_PORT, cases[i].module, cases[i].target, true),
                     cases[i].success, "%s %s: probe_success", cases[i].module, cases[i].target);
}

/* Ad-hoc probes end with RST like scheduled ones: after all of them, no
 * TIME_WAIT on either side (blackbox_exporter is not running here: its
 * probes end with FIN and leave one each). */
Test(probe_bb, probes_through_probe_leave_no_time_wait_on_either_side)
{
    NEED_ROOT();
    start_targets();
    start_exporters(false);
    for (size_t i = 0; i < NCASES; i++) {
        char *t = pl_probe(TW_PORT, cases[i].module, cases[i].target, "tw.txt");
        struct pl_answer *a = keep(calloc(1, sizeof(*a)));
        const struct pl_series *ok;
        pl_parse(t, a);
        cr_assert_not_null(ok = pl_find(a, "probe_success"), "%s %s:\n%s", cases[i].module,
                           cases[i].target, t);
        cr_assert_eq((int)ok->v, cases[i].success, "%s %s:\n%s", cases[i].module,
                     cases[i].target, t);
    }
    cr_assert_eq(time_wait_off_loopback(TW_LAB_CLIENT), 0, "TIME_WAIT in the prober's namespace");
    /* debug=true: blackbox's three parts */
    {
        char *d = pl_probe(TW_PORT, "tcp_connect", "10.201.0.2:8081&debug=true", "d.txt");
        cr_assert(strstr(d, "Logs for the probe:\n") && strstr(d, "msg=\"Probe failed\"") &&
                      strstr(d, "reason=refused") &&
                      strstr(d, "\n\n\n\nMetrics that would have been returned:\n") &&
                      strstr(d, "\nprobe_success 0\n") &&
                      strstr(d, "\n\n\n\nModule configuration:\nprober: tcp\n"),
                  "debug=true:\n%s", d);
    }
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0, "TIME_WAIT in the targets' namespace");
}

/* A real Prometheus with the standard blackbox relabelling (the target in
 * __param_target and instance, the exporter's address in __address__)
 * scrapes twkit's /probe: its query says what each target is. */
Test(probe_bb, prometheus_with_the_blackbox_relabelling_scrapes_probe)
{
    char cfg[256], p[256], up[16] = "", refused[16] = "";
    const char *q = "";
    pid_t prom;
    uint64_t end;

    NEED_ROOT();
    start_targets();
    start_exporters(false);
    write_file("prometheus.yml",
               "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
               "scrape_configs:\n"
               "  - job_name: blackbox\n"
               "    metrics_path: /probe\n"
               "    params: {module: [tcp_connect]}\n"
               "    static_configs: [{targets: ['10.201.0.2:8080', '10.201.0.2:8081']}]\n"
               "    relabel_configs:\n"
               "      - source_labels: [__address__]\n"
               "        target_label: __param_target\n"
               "      - source_labels: [__param_target]\n"
               "        target_label: instance\n"
               "      - target_label: __address__\n"
               "        replacement: 127.0.0.1:%u\n",
               TW_PORT);
    prom = spawn(TW_LAB_CLIENT,
                 "prometheus --config.file=%s --storage.tsdb.path=%s/tsdb "
                 "--web.listen-address=127.0.0.1:9090 >%s/prometheus.log 2>&1",
                 tpath(cfg, sizeof(cfg), "prometheus.yml"), tmpdir, tmpdir);
    end = tw_now_ms() + 20000;
    while (tw_now_ms() < end && (!up[0] || !refused[0])) {
        usleep(500000);
        if (run(TW_LAB_CLIENT, 5000,
                "curl -s -o %s 'http://127.0.0.1:9090/api/v1/query?query=probe_success'",
                tpath(p, sizeof(p), "query.json")) != 0)
            continue; /* not listening yet */
        free(scratch);
        q = scratch = read_all("query.json");
        prom_value(q, "instance", "10.201.0.2:8080", up, sizeof(up));
        prom_value(q, "instance", "10.201.0.2:8081", refused, sizeof(refused));
    }
    cr_assert_str_eq(up, "1", "Prometheus: probe_success of :8080: expected 1, got \"%s\" (%s)",
                     up, q);
    cr_assert_str_eq(refused, "0",
                     "Prometheus: probe_success of :8081: expected 0, got \"%s\" (%s)", refused,
                     q);
    stop(prom, SIGTERM, 5000);
}

static double metric_of(const char *url, const char *series)
{
    char p[256];

    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "curl -s -o %s '%s'", tpath(p, sizeof(p), "m.txt"), url),
                 0);
    return sample(slurp("m.txt"), series);
}

/* --watch reloads when a file changes: a module added to blackbox.yml
 * answers, a targets file rewritten changes the targets; a broken file is
 * refused (reload metrics 0, the old modules still answer) and
 * POST /-/reload says 500 until it is fixed. */
Test(probe_bb, watch_and_post_reload_pick_up_changed_files_and_keep_the_old_on_errors)
{
    char bb[256], cfg[256], log[256], p[256];
    const char *url = "http://127.0.0.1:9116/metrics";
    int code = 0;

    NEED_ROOT();
    spawn(TW_LAB_SERVER, "%s serve --proto http --listen 0.0.0.0:8080 >/dev/null 2>&1",
          TWKIT_BIN);
    wait_listening(TW_LAB_SERVER, 8080, "twkit serve");
    write_file("blackbox.yml", "modules:\n  tcp_connect: {prober: tcp}\n");
    write_file("t.txt", "10.201.0.2:8080\n");
    write_file("p.yaml", "probes:\n  - {name: t, kind: tcp, targets_file: t.txt}\n");
    spawn(TW_LAB_CLIENT, "%s probe --watch --blackbox-config %s --listen 127.0.0.1:9116 %s >%s 2>&1",
          TWKIT_BIN, tpath(bb, sizeof(bb), "blackbox.yml"), tpath(cfg, sizeof(cfg), "p.yaml"),
          tpath(log, sizeof(log), "tw.log"));
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
    cr_assert_eq(metric_of(url, "twkit_probe_targets"), 1);
    cr_assert(strstr(pl_probe(TW_PORT, "http_2xx", "10.201.0.2:8080", "a.txt"), "Unknown module"));

    /* a module added (by rename, as editors and ConfigMaps do), a target added */
    write_file("bb.new", "modules:\n  tcp_connect: {prober: tcp}\n  http_2xx: {prober: http}\n");
    write_file("t.txt", "10.201.0.2:8080\n10.201.0.2:8081\n");
    cr_assert_eq(rename(tpath(p, sizeof(p), "bb.new"), bb), 0);
    cr_assert_geq(wait_for("tw.log", "\"ok\":true,\"modules\":2", 1, 5000), 1, "%s",
                  slurp("tw.log"));
    cr_assert_geq(wait_for("tw.log", "\"ok\":true,\"targets\":2", 1, 5000), 1, "%s",
                  slurp("tw.log"));
    cr_assert(strstr(pl_probe(TW_PORT, "http_2xx", "10.201.0.2:8080", "b.txt"), "\nprobe_success 1"));
    cr_assert_eq(metric_of(url, "twkit_probe_targets"), 2);
    cr_assert_eq(metric_of(url, "blackbox_exporter_config_last_reload_successful"), 1);

    /* broken: refused, the running modules stay */
    write_file("blackbox.yml", "modules:\n  http_2xx: {prober: htp}\n");
    cr_assert_geq(wait_for("tw.log", "\"ok\":false", 1, 5000), 1, "%s", slurp("tw.log"));
    cr_assert_eq(metric_of(url, "blackbox_exporter_config_last_reload_successful"), 0);
    cr_assert(strstr(pl_probe(TW_PORT, "http_2xx", "10.201.0.2:8080", "c.txt"), "\nprobe_success 1"));
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "curl -s -o /dev/null -w '%%{http_code}' -X POST "
                                          "http://127.0.0.1:%u/-/reload >%s",
                     TW_PORT, tpath(p, sizeof(p), "code.txt")), 0);
    sscanf(slurp("code.txt"), "%d", &code);
    cr_assert_eq(code, 500, "POST /-/reload with a broken file: %d", code);
    write_file("blackbox.yml", "modules:\n  http_2xx: {prober: http}\n");
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "curl -s -o /dev/null -w '%%{http_code}' -X POST "
                                          "http://127.0.0.1:%u/-/reload >%s",
                     TW_PORT, tpath(p, sizeof(p), "code.txt")), 0);
    sscanf(slurp("code.txt"), "%d", &code);
    cr_assert_eq(code, 200, "POST /-/reload with a good file: %d", code);
    cr_assert_eq(metric_of(url, "blackbox_exporter_config_last_reload_successful"), 1);
}

/* A descriptor limit that leaves pid's process (as it is now, idle) one
 * free descriptor: descriptors are numbered lowest-free-first below the
 * limit, and some of those open may be inherited ones above it. */
static int limit_for_one_more(pid_t pid)
{
    bool used[1024] = {false};
    char p[64];
    int free_seen = 0;

    snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(p);
    cr_assert_not_null(d, "%s: %s", p, strerror(errno));
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd >= 0 && fd < 1024)
            used[fd] = true;
    }
    closedir(d);
    for (int fd = 0; fd < 1024; fd++)
        if (!used[fd] && ++free_seen == 2)
            return fd;
    cr_assert_fail("no two free descriptors below 1024");
    return -1;
}

/* What the series say when this host cannot probe. Scheduled: with 64
 * descriptors, 100 targets whose packets are dropped hold every one for
 * most of their interval, so the healthy target's probes fail with EMFILE:
 * it has twkit_probe_local_error 1, no probe_success (no real result yet:
 * 0 would say the target is down) and no twkit_probe_up, and the errno is
 * counted. Ad hoc: a /probe that cannot get a socket answers
 * probe_success 0 (Prometheus needs a value) and twkit_probe_local_error 1,
 * and logs it. */
Test(probe_bb, after_a_local_error_each_series_says_what_it_knows)
{
    char cfg[256], log[256], bb[256], t[256];
    const char *m;
    pid_t pid;
    int limit;

    NEED_ROOT();
    spawn(TW_LAB_SERVER, "%s serve --proto http --listen 0.0.0.0:8080 >/dev/null 2>&1",
          TWKIT_BIN);
    wait_listening(TW_LAB_SERVER, 8080, "twkit serve");
    drop_port(8082);
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(tpath(t, sizeof(t), k ? "dropped2.txt" : "dropped1.txt"), "w");
        cr_assert_not_null(f);
        for (int i = k * 80; i < (k ? 100 : 80); i++)
            fprintf(f, "10.201.0.2:%d\n", 20000 + i);
        fclose(f);
    }
    cr_assert_eq(run(TW_LAB_SERVER, 5000, "nft add rule inet twt in tcp dport 20000-20099 drop"),
                 0);
    /* starts are spread in file order: the healthy target's first comes
     * after 80 slow ones, none of which is over yet */
    write_file("fd.yaml", "defaults: {interval: 2s, timeout: 1900ms}\n"
                          "probes:\n"
                          "  - {name: slow1, kind: tcp, targets_file: dropped1.txt}\n"
                          "  - {name: healthy, kind: tcp, target: '10.201.0.2:8080'}\n"
                          "  - {name: slow2, kind: tcp, targets_file: dropped2.txt}\n");
    spawn(TW_LAB_CLIENT,
          "sh -c 'ulimit -n 64 && exec %s probe --listen 127.0.0.1:9464 --log-results --log %s %s'"
          " 2>/dev/null",
          TWKIT_BIN, tpath(log, sizeof(log), "fd.log"), tpath(cfg, sizeof(cfg), "fd.yaml"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe");
    cr_assert_geq(wait_for("fd.log", "\"name\":\"healthy\"", 2, 8000), 2);
    m = fetch("http://127.0.0.1:9464/metrics", "fd.txt");
#define H "name=\"healthy\",kind=\"tcp\",target=\"10.201.0.2:8080\""
    expect_sample(m, "twkit_probe_local_errors_total{errno=\"EMFILE\"}", 1, 1e9);
    cr_assert(strstr(slurp("fd.log"), "\"name\":\"healthy\",\"kind\":\"tcp\",\"target\":"
                                      "\"10.201.0.2:8080\",\"seq\":1,\"result\":\"local_error\","
                                      "\"reason\":\"local\",\"error\":\"EMFILE\""),
              "the healthy target's first probe: %s", slurp("fd.log"));
    if (!strstr(m, "probe_success{" H "}")) { /* no real result yet */
        expect_sample(m, "twkit_probe_local_error{" H "}", 1, 1);
        cr_assert_null(strstr(m, "twkit_probe_up{" H "}"), "a state without a result:\n%s", m);
    } else { /* a probe got through between the slow ones: it says so */
        expect_sample(m, "probe_success{" H "}", 1, 1);
    }
#undef H

    /* /probe: as many descriptors as the idle prober has, plus one for the
     * request's connection: the probe's socket() fails */
    write_file("bb.yml", "modules:\n  tcp_connect: {prober: tcp}\n");
    pid = spawn(TW_LAB_CLIENT, "%s probe --blackbox-config %s --listen 127.0.0.1:9116 --log %s",
                TWKIT_BIN, tpath(bb, sizeof(bb), "bb.yml"), tpath(log, sizeof(log), "bb.log"));
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
    limit = limit_for_one_more(pid);
    stop(pid, SIGTERM, 5000);
    spawn(TW_LAB_CLIENT,
          "sh -c 'ulimit -n %d && exec %s probe --blackbox-config %s --listen 127.0.0.1:9116 "
          "--log %s'",
          limit, TWKIT_BIN, bb, log);
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
    m = pl_probe(TW_PORT, "tcp_connect", "10.201.0.2:8080", "fd1.txt");
    expect_sample(m, "probe_success", 0, 0);
    expect_sample(m, "twkit_probe_local_error", 1, 1);
    cr_assert(strstr(slurp("bb.log"), "\"event\":\"probe\",\"module\":\"tcp_connect\""),
              "no log line: %s", slurp("bb.log"));
    cr_assert(strstr(slurp("bb.log"), "\"result\":\"local_error\",\"reason\":\"local\",\"error\":"
                                      "\"EMFILE\""),
              "%s", slurp("bb.log"));
}

/* --max-probes bounds what runs at once: with 2, and 4 × 2 waiting, 20
 * requests at once to a target whose packets are dropped get 10 answers
 * at once as local errors (the queue was full), and every one is answered
 * within its scrape timeout (1 s, less the 0.5 s offset, plus the wait). */
Test(probe_bb, max_probes_bounds_the_probes_in_flight_and_the_rest_answer_as_local_errors)
{
    char bb[256], out[256], m[256];
    const char *text;
    uint64_t t0;
    int busy = 0, answered = 0;

    NEED_ROOT();
    drop_port(8082);
    write_file("bb.yml", "modules:\n  tcp_connect: {prober: tcp}\n");
    spawn(TW_LAB_CLIENT,
          "%s probe --blackbox-config %s --listen 127.0.0.1:%u --max-probes 2 --log %s/log",
          TWKIT_BIN, tpath(bb, sizeof(bb), "bb.yml"), TW_PORT, tmpdir);
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
    t0 = tw_now_ms();
    cr_assert_eq(run(TW_LAB_CLIENT, 10000,
                     "sh -c 'for i in $(seq 20); do curl -s -o %s/c$i.txt "
                     "-H \"X-Prometheus-Scrape-Timeout-Seconds: 1\" "
                     "\"http://127.0.0.1:%u/probe?module=tcp_connect&target=10.201.0.2:8082\" & "
                     "done; wait'",
                     tmpdir, TW_PORT),
                 0);
    cr_assert_lt(tw_now_ms() - t0, 3000, "20 requests took %llu ms",
                 (unsigned long long)(tw_now_ms() - t0));
    for (int i = 1; i <= 20; i++) {
        snprintf(out, sizeof(out), "c%d.txt", i);
        text = slurp(out);
        if (!strstr(text, "\nprobe_success 0\n"))
            continue;
        answered++;
        busy += strstr(text, "\ntwkit_probe_local_error 1\n") != NULL;
    }
    cr_assert_eq(answered, 20, "every request gets probe_success 0");
    cr_assert_geq(busy, 10, "at least the 10 past the queue are local errors, got %d", busy);
    cr_assert_leq(busy, 18, "the 2 that ran timed out, local errors: %d", busy);
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "curl -s -o %s http://127.0.0.1:%u/metrics",
                     tpath(m, sizeof(m), "m.txt"), TW_PORT),
                 0);
    text = slurp("m.txt");
    cr_assert_eq(sample(text, "twkit_probe_adhoc_total{result=\"local_error\"}"), busy);
    cr_assert_eq(sample(text, "twkit_probe_adhoc_total{result=\"failure\"}"), 20 - busy);
    cr_assert_eq(sample(text, "twkit_probe_adhoc_in_flight"), 0);
    cr_assert_eq(sample(text, "twkit_probe_adhoc_queued"), 0);
}
