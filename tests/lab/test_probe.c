/* twkit probe in the lab: real targets, real kernel state.
 *
 * Targets (`twkit serve`, `openssl s_server`) run in the server namespace,
 * the prober (the twkit binary, TWKIT_BIN) in the client namespace; its JSON
 * lines, summary and /metrics are read back and checked against what the
 * lab really did: which ports listen, which packets are dropped, which
 * sockets the kernel holds in TIME_WAIT afterwards.
 *
 * Every process a test starts is registered and killed and reaped in the
 * fixture's fini, and runs with a parent-death signal (setpriv --pdeathsig)
 * so not even a test the runner kills for its timeout leaves one behind.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/x509_vfy.h>

#include <criterion/criterion.h>

#include "probe_lab.h"
#include "twkit/diag.h"
#include "twkit/time.h"

TestSuite(probe, .init = pl_setup, .fini = pl_teardown, .timeout = 60);

/* ---- 1. what each kind of probe reports ---- */

Test(probe, once_reports_every_outcome_of_tcp_http_and_tls_as_it_happened)
{
    char cfg[256], out[256], err[256], v[256];
    const char *l;
    double now, d;
    char **lines;
    size_t n;
    int rc;

    NEED_ROOT();
    start_twp_server(7070);
    spawn(TW_LAB_SERVER, "%s serve --proto http --listen 0.0.0.0:8080 >/dev/null 2>&1",
          TWKIT_BIN);
    wait_listening(TW_LAB_SERVER, 8080, "twkit serve --proto http");
    now = (double)time(NULL);
    make_cert("valid.pem", "valid.key", -3600, 30L * 86400);
    make_cert("expired.pem", "expired.key", -30L * 86400, -86400);
    start_tls_server(8443, "valid.pem", "valid.key");
    start_tls_server(8444, "expired.pem", "expired.key");
    /* 7071 answers nothing: its SYNs are dropped; 7072 has no listener */
    drop_port(7071);

    write_file("once.yaml",
               "probes:\n"
               "  - {name: tcp_up, kind: tcp, target: '10.201.0.2:7070'}\n"
               "  - {name: tcp_refused, kind: tcp, target: '10.201.0.2:7072'}\n"
               "  - {name: tcp_dropped, kind: tcp, target: '10.201.0.2:7071', timeout: 600ms}\n"
               "  - name: tcp_expect_ok\n"
               "    kind: tcp\n"
               "    target: 10.201.0.2:8080\n"
               "    send: 'GET /health HTTP/1.0\\r\\n\\r\\n'\n"
               "    expect: '^HTTP/1\\.1 200 '\n"
               "  - name: tcp_expect_bad\n" /* a TLS server closes on plain text */
               "    kind: tcp\n"
               "    target: 10.201.0.2:8444\n"
               "    send: 'GET / HTTP/1.0\\r\\n\\r\\n'\n"
               "    expect: '^HTTP/'\n"
               "  - {name: http_ok, kind: http, target: 'http://10.201.0.2:8080/'}\n"
               "  - {name: http_404, kind: http, target: 'http://10.201.0.2:8080/nope'}\n"
               "  - {name: http_body, kind: http, target: 'http://10.201.0.2:8080/',\n"
               "     expect_body: '^y+$'}\n"
               "  - {name: tls_ok, kind: tls, target: '10.201.0.2:8443', ca_file: valid.pem}\n"
               "  - {name: tls_expired, kind: tls, target: '10.201.0.2:8444',\n"
               "     ca_file: expired.pem}\n"
               "  - {name: https_noverify, kind: http, target: 'https://10.201.0.2:8443/',\n"
               "     tls_verify: false}\n"
               "  - {name: https_verified, kind: http, target: 'https://10.201.0.2:8443/',\n"
               "     ca_file: valid.pem}\n");
    rc = run(TW_LAB_CLIENT, 10000, "%s probe --once %s >%s 2>%s", TWKIT_BIN,
             tpath(cfg, sizeof(cfg), "once.yaml"), tpath(out, sizeof(out), "once.out"),
             tpath(err, sizeof(err), "once.err"));
    lines = split_lines(slurp("once.out"), &n);
    cr_assert_eq(rc, 1, "--once with failed probes: expected exit 1, got %d (stderr: %s)", rc,
                 slurp("once.err"));
    cr_assert_eq(n, 12, "expected 12 result lines, got %zu:\n%s", n, slurp("once.out"));
    for (size_t i = 0; i < n; i++)
        expect_str(lines[i], "event", "result");

    l = line_of(lines, n, "tcp_up");
    expect_str(l, "result", "success");
    cr_assert_gt(jphase(l, "connect"), 0, "tcp_up: no connect phase: %s", l);

    l = line_of(lines, n, "tcp_refused");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "refused");
    expect_str(l, "error", "ECONNREFUSED");

    l = line_of(lines, n, "tcp_dropped");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "timeout");
    expect_str(l, "error", "ETIMEDOUT");
    d = expect_num(l, "duration_s");
    cr_assert(d >= 0.59 && d < 0.9, "tcp_dropped: expected about the 600 ms timeout, took %.3f s",
              d);

    l = line_of(lines, n, "tcp_expect_ok");
    expect_str(l, "result", "success");

    l = line_of(lines, n, "tcp_expect_bad");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "expect");
    cr_assert_not_null(strstr(l, "\"regex_failed\":true"), "tcp_expect_bad: %s", l);

    l = line_of(lines, n, "http_ok");
    expect_str(l, "result", "success");
    cr_assert_eq(expect_num(l, "status"), 200, "http_ok: %s", l);
    cr_assert_gt(jphase(l, "connect"), 0, "http_ok: no connect phase: %s", l);
    cr_assert_gt(jphase(l, "processing"), 0, "http_ok: no processing phase: %s", l);

    l = line_of(lines, n, "http_404");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "status");
    cr_assert_eq(expect_num(l, "status"), 404, "http_404: %s", l);

    l = line_of(lines, n, "http_body");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "body");
    cr_assert_eq(expect_num(l, "status"), 200, "http_body: %s", l);
    cr_assert_not_null(strstr(l, "\"regex_failed\":true"), "http_body: %s", l);

    l = line_of(lines, n, "tls_ok");
    expect_str(l, "result", "success");
    cr_assert_eq(expect_num(l, "verify"), 0, "tls_ok: %s", l);
    cr_assert_gt(jphase(l, "tls"), 0, "tls_ok: no tls phase: %s", l);
    d = expect_num(l, "cert_expiry") - (now + 30 * 86400.0);
    cr_assert(d > -60 && d < 60, "tls_ok: cert_expiry %.0f s off now + 30 days: %s", d, l);

    l = line_of(lines, n, "tls_expired");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "verify");
    jstr(l, "detail", v, sizeof(v));
    cr_assert_not_null(strstr(v, "expired"), "tls_expired: detail \"%s\" does not say expired",
                       v);
    cr_assert_eq(expect_num(l, "verify"), X509_V_ERR_CERT_HAS_EXPIRED, "tls_expired: %s", l);
    d = expect_num(l, "cert_expiry") - (now - 86400.0);
    cr_assert(d > -60 && d < 60, "tls_expired: cert_expiry %.0f s off yesterday: %s", d, l);

    l = line_of(lines, n, "https_noverify");
    expect_str(l, "result", "success");
    cr_assert_eq(expect_num(l, "status"), 200, "https_noverify: %s", l);
    d = expect_num(l, "cert_expiry") - (now + 30 * 86400.0);
    cr_assert(d > -60 && d < 60, "https_noverify: cert_expiry %.0f s off: %s", d, l);

    l = line_of(lines, n, "https_verified");
    expect_str(l, "result", "success");
    cr_assert_eq(expect_num(l, "status"), 200, "https_verified: %s", l);

    /* and when every probe succeeds, --once says so with exit 0 */
    write_file("once-ok.yaml",
               "probes:\n"
               "  - {name: tcp_up, kind: tcp, target: '10.201.0.2:7070'}\n"
               "  - {name: http_ok, kind: http, target: 'http://10.201.0.2:8080/'}\n"
               "  - {name: tls_ok, kind: tls, target: '10.201.0.2:8443', ca_file: valid.pem}\n");
    rc = run(TW_LAB_CLIENT, 10000, "%s probe --once %s >%s 2>%s", TWKIT_BIN,
             tpath(cfg, sizeof(cfg), "once-ok.yaml"), tpath(out, sizeof(out), "once-ok.out"),
             tpath(err, sizeof(err), "once.err"));
    cr_assert_eq(rc, 0, "--once, every probe successful: expected exit 0, got %d:\n%s", rc,
                 slurp("once-ok.out"));
    cr_assert_eq(count_of(slurp("once-ok.out"), "\"result\":\"success\""), 3,
                 "expected 3 successes:\n%s", slurp("once-ok.out"));
}

/* A probe's timeout counts from its start. With --once the probes start in
 * tp_engine_start(), and their deadlines were armed against the loop clock
 * as it was at tw_loop_new(), before the engine was set up: the time that
 * took (the tls kind loading the system CA store: tens of ms) came off
 * every timeout. A tls definition without ca_file is what makes the setup
 * slow, so one is here, with healthy targets at a tight but ample timeout
 * (an answer on the veth takes about a millisecond) and a dropped one whose
 * duration must reach its timeout. */
Test(probe, once_gives_every_probe_its_whole_timeout)
{
    char cfg[256], out[256], err[256];
    const char *l;
    double d;
    char **lines;
    size_t n;

    NEED_ROOT();
    start_twp_server(7070);
    spawn(TW_LAB_SERVER, "%s serve --proto http --listen 0.0.0.0:8080 >/dev/null 2>&1",
          TWKIT_BIN);
    wait_listening(TW_LAB_SERVER, 8080, "twkit serve --proto http");
    make_cert("valid.pem", "valid.key", -3600, 86400);
    start_tls_server(8443, "valid.pem", "valid.key");
    drop_port(7071);
    write_file("tight.yaml",
               "defaults: {timeout: 50ms}\n"
               "probes:\n"
               "  - {name: tls_sys, kind: tls, target: '10.201.0.2:8443', tls_verify: false}\n"
               "  - {name: http_up, kind: http, target: 'http://10.201.0.2:8080/'}\n"
               "  - {name: tcp_up, kind: tcp, target: '10.201.0.2:7070'}\n"
               "  - {name: tcp_dropped, kind: tcp, target: '10.201.0.2:7071', timeout: 200ms}\n");
    run(TW_LAB_CLIENT, 10000, "%s probe --once %s >%s 2>%s", TWKIT_BIN,
        tpath(cfg, sizeof(cfg), "tight.yaml"), tpath(out, sizeof(out), "tight.out"),
        tpath(err, sizeof(err), "tight.err"));
    lines = split_lines(slurp("tight.out"), &n);
    cr_assert_eq(n, 4, "expected 4 result lines, got %zu", n);
    l = line_of(lines, n, "tcp_dropped");
    d = expect_num(l, "duration_s");
    cr_assert_geq(d, 0.198, "tcp_dropped: timeout 200 ms, cancelled after %.3f s: %s", d, l);
    for (size_t i = 0; i < n; i++)
        if (lines[i] != l)
            cr_assert_not_null(strstr(lines[i], "\"result\":\"success\""),
                               "a healthy target within a 50 ms timeout failed: %s", lines[i]);
}

/* tls_resumption, of the tls kind, of the tcp kind's tls: true (with a
 * conversation, which reads the TLS 1.3 ticket on its way, and without,
 * which waits for it) and of https (the http kind, through curl's session
 * cache): most probes resume the session (TLS 1.3 tickets from openssl
 * s_server; TLS 1.2 with -no_tls1_3), a full handshake with
 * the chain verified comes every tls_full_handshake_every (1 s here) all
 * the same, and when the server is replaced (new ticket keys, an expired
 * certificate) the refused resumption falls back to a full handshake,
 * whose verification fails at once. */
Test(probe, tls_resumption_resumes_does_full_handshakes_at_its_period_and_falls_back)
{
    char cfg[256], log[256];
    char **lines;
    size_t n;
    pid_t srv13, prober;

    NEED_ROOT();
    make_cert("valid.pem", "valid.key", -3600, 30L * 86400);
    make_cert("expired.pem", "expired.key", -30L * 86400, -86400);
    srv13 = start_tls_server(8443, "valid.pem", "valid.key");
    spawn(TW_LAB_SERVER, "openssl s_server -quiet -www -no_tls1_3 -accept 8446 -cert %s -key %s "
                         ">/dev/null 2>&1", tpath(cfg, sizeof(cfg), "valid.pem"),
          tpath(log, sizeof(log), "valid.key"));
    wait_listening(TW_LAB_SERVER, 8446, "openssl s_server -no_tls1_3");
    write_file("resume.yaml",
               "defaults: {interval: 100ms, timeout: 90ms, ca_file: valid.pem}\n"
               "probes:\n"
               "  - {name: tls13, kind: tls, target: '10.201.0.2:8443',\n"
               "     tls_resumption: true, tls_full_handshake_every: 1s}\n"
               "  - {name: tls12, kind: tls, target: '10.201.0.2:8446',\n"
               "     tls_resumption: true, tls_full_handshake_every: 1s}\n"
               "  - {name: https13, kind: http, target: 'https://10.201.0.2:8443/',\n"
               "     tls_resumption: true, tls_full_handshake_every: 1s}\n"
               "  - {name: https12, kind: http, target: 'https://10.201.0.2:8446/',\n"
               "     tls_resumption: true, tls_full_handshake_every: 1s}\n"
               "  - {name: tcp13, kind: tcp, target: '10.201.0.2:8443', tls: true,\n"
               "     tls_resumption: true, tls_full_handshake_every: 1s}\n"
               "  - {name: tcp12, kind: tcp, target: '10.201.0.2:8446', tls: true,\n"
               "     tls_resumption: true, tls_full_handshake_every: 1s}\n"
               "  - {name: tcp13talk, kind: tcp, target: '10.201.0.2:8443', tls: true,\n"
               "     tls_resumption: true, tls_full_handshake_every: 1s,\n"
               "     query_response: [{send: \"GET / HTTP/1.0\\r\\n\\r\"},\n"
               "                      {expect: '^HTTP/1.0 200'}]}\n");
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen off --duration 4s --log-results --log %s %s",
                   TWKIT_BIN, tpath(log, sizeof(log), "resume.log"),
                   tpath(cfg, sizeof(cfg), "resume.yaml"));
    usleep(2500 * 1000);
    /* a new server: its tickets' keys are new, its certificate expired */
    stop(srv13, SIGKILL, 2000);
    start_tls_server(8443, "expired.pem", "expired.key");
    cr_assert_eq(stop(prober, 0, 8000), 0, "twkit probe did not end");
    lines = split_lines(slurp("resume.log"), &n);
    static const struct {
        const char *name;
        bool swapped; /* its server was replaced */
    } probes[] = {{"\"tls13\"", true},  {"\"tls12\"", false}, {"\"https13\"", true},
                  {"\"https12\"", false}, {"\"tcp13\"", true},  {"\"tcp12\"", false},
                  {"\"tcp13talk\"", true}};
    for (size_t v = 0; v < sizeof(probes) / sizeof(probes[0]); v++) {
        const char *name = probes[v].name;
        int full = 0, resumed = 0, refused = 0, after = 0, early_fail = 0;
        for (size_t i = 0; i < n; i++) {
            char hs[64] = "";
            double ts;
            if (!strstr(lines[i], name) || !strstr(lines[i], "\"event\":\"result\""))
                continue;
            jstr(lines[i], "handshake", hs, sizeof(hs));
            cr_assert(jnum(lines[i], "cert_expiry", &ts) || strstr(lines[i], "\"failure\""),
                      "a successful probe without its certificate's expiry: %s", lines[i]);
            if (refused || after) { /* after the swap: no resumption, every one fails */
                after++;
                cr_assert(strcmp(hs, "resumed") != 0, "resumed after the swap: %s", lines[i]);
                expect_str(lines[i], "result", "failure");
                continue;
            }
            if (!strcmp(hs, "full_after_refused_resumption")) {
                refused++;
                expect_str(lines[i], "reason", "verify");
                continue;
            }
            if (!strstr(lines[i], "\"success\"")) {
                early_fail++; /* the swap itself (connection refused), at most a few */
                cr_log_info("%s", lines[i]);
                continue;
            }
            full += !strcmp(hs, "full");
            resumed += !strcmp(hs, "resumed");
        }
        cr_log_info("%s: %d full, %d resumed, %d refused, %d after, %d during the swap", name,
                    full, resumed, refused, after, early_fail);
        cr_assert(resumed >= 10, "%s: only %d resumed handshakes (%d full)", name, resumed, full);
        /* 2.5 s before the swap at one full handshake a second */
        cr_assert(full >= 2 && full <= 5, "%s: %d full handshakes for %d resumed", name, full,
                  resumed);
        if (probes[v].swapped) {
            cr_assert_eq(refused, 1, "%s: the refused resumption fell back %d times", name,
                         refused);
            cr_assert_geq(after, 3, "%s: %d probes after the swap", name, after);
            cr_assert_leq(early_fail, 3, "%s: %d failures around the swap", name, early_fail);
        } else {
            cr_assert_eq(refused + after + early_fail, 0, "%s: its server never changed", name);
        }
    }
}

/* ---- 2. thresholds ---- */

Test(probe, state_changes_exactly_at_the_success_and_failure_thresholds)
{
    char cfg[256], log[256], v[64];
    pid_t server, prober;
    char **lines;
    size_t n;
    int status, states = 0, up_at = -1, down_at = -1, last_ok = -1;

    NEED_ROOT();
    server = start_twp_server(7070);
    write_file("th.yaml", "probes:\n"
                          "  - name: th\n"
                          "    kind: tcp\n"
                          "    target: 10.201.0.2:7070\n"
                          "    interval: 100ms\n"
                          "    timeout: 100ms\n"
                          "    success_threshold: 2\n"
                          "    failure_threshold: 3\n");
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen off --log-results --log %s %s 2>/dev/null",
                   TWKIT_BIN, tpath(log, sizeof(log), "th.log"),
                   tpath(cfg, sizeof(cfg), "th.yaml"));
    /* up after two successes; a few more, then the target goes away */
    wait_for("th.log", "\"state\":\"up\"", 1, 3000);
    usleep(300000);
    stop(server, SIGKILL, 0);
    wait_for("th.log", "\"state\":\"down\"", 1, 3000);
    status = stop(prober, SIGTERM, 5000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "twkit probe on SIGTERM: expected exit 0, status %d", status);

    /* --log-results: a result line for every result, state changes
     * included (then a state line follows it, with the same seq) */
    lines = split_lines(slurp("th.log"), &n);
    for (size_t i = 0, results = 0; i < n; i++) {
        const char *l = lines[i];
        double seq = expect_num(l, "seq");
        cr_assert_not_null(strstr(l, "{\"time\":\""), "line %zu has no time: %s", i + 1, l);
        jstr(l, "event", v, sizeof(v));
        if (strcmp(v, "result") == 0) {
            results++;
            cr_assert_eq(seq, (double)results, "result line %zu has seq %.0f: %s", results, seq,
                         l);
        } else {
            cr_assert_str_eq(v, "state", "line %zu: %s", i + 1, l);
            cr_assert_eq(seq, (double)results, "a state line without its result line: %s", l);
        }
        jstr(l, "result", v, sizeof(v));
        if (strcmp(v, "success") == 0)
            last_ok = (int)seq;
        else
            cr_assert_str_eq(v, "failure", "line %zu: %s", i + 1, l);
        jstr(l, "event", v, sizeof(v));
        if (strcmp(v, "state") != 0)
            continue;
        states++;
        jstr(l, "state", v, sizeof(v));
        if (strcmp(v, "up") == 0 && up_at < 0) {
            up_at = (int)seq;
            expect_str(l, "previous", "unknown");
            cr_assert_eq(expect_num(l, "consecutive"), 2, "up: expected consecutive 2: %s", l);
        } else if (strcmp(v, "down") == 0 && down_at < 0) {
            down_at = (int)seq;
            expect_str(l, "previous", "up");
            expect_str(l, "result", "failure");
            cr_assert_eq(expect_num(l, "consecutive"), 3, "down: expected consecutive 3: %s", l);
            cr_assert_eq(down_at - last_ok, 3,
                         "down at seq %d, 3 failures after the last success (seq %d) expected",
                         down_at, last_ok);
        } else {
            cr_assert_fail("unexpected state event: %s", l);
        }
    }
    cr_assert_eq(up_at, 2, "up expected at the 2nd success (seq 2), came at seq %d", up_at);
    cr_assert_gt(last_ok, 2, "the target was killed before a 3rd success");
    cr_assert_gt(down_at, 0, "no down event after the target was killed:\n%s", slurp("th.log"));
    cr_assert_eq(states, 2, "expected exactly 2 state events (up, down), got %d", states);
}

/* SIGHUP: a good config replaces the running one, a broken one leaves it
 * running, and an emptied targets file reloads to zero targets (a service
 * discovery file emptied on purpose). Every reload line has a time. */
Test(probe, reload_replaces_a_good_config_keeps_the_old_on_errors_and_empties)
{
    char cfg[256], log[256];
    const char *st;
    pid_t prober;
    int status;

    NEED_ROOT();
    start_twp_server(7070);
    write_file("rl.txt", "10.201.0.2:7070   # the server\n10.201.0.2:7071\n");
    write_file("rl.yaml", "probes:\n"
                          "  - name: rl\n"
                          "    kind: tcp\n"
                          "    targets_file: rl.txt\n"
                          "    interval: 100ms\n"
                          "    timeout: 100ms\n");
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 --log %s %s 2>/dev/null",
                   TWKIT_BIN, tpath(log, sizeof(log), "rl.log"),
                   tpath(cfg, sizeof(cfg), "rl.yaml"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    wait_for("rl.log", "\"state\":\"up\"", 1, 3000);
    st = fetch("http://127.0.0.1:9464/status", "rl1.json");
    cr_assert_eq(count_of(st, "\"name\":\"rl\""), 2, "two targets expected: %s", st);

    /* broken: kept as it was */
    write_file("rl.yaml", "probes:\n  - name: rl\n    kind: nosuch\n");
    kill(prober, SIGHUP);
    wait_for("rl.log", "\"event\":\"reload\"", 1, 3000);
    st = fetch("http://127.0.0.1:9464/status", "rl2.json");
    cr_assert_eq(count_of(st, "\"name\":\"rl\""), 2, "a broken reload lost the targets: %s",
                 st);

    /* good, with the targets file emptied: zero targets */
    write_file("rl.txt", "# none for now\n");
    write_file("rl.yaml", "probes:\n"
                          "  - name: rl\n"
                          "    kind: tcp\n"
                          "    targets_file: rl.txt\n");
    kill(prober, SIGHUP);
    wait_for("rl.log", "\"event\":\"reload\"", 2, 3000);
    st = fetch("http://127.0.0.1:9464/status", "rl3.json");
    cr_assert_eq(count_of(st, "\"name\":\"rl\""), 0, "the old targets stayed: %s", st);
    status = stop(prober, SIGTERM, 5000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);

    char **lines;
    size_t n, reloads = 0;
    lines = split_lines(slurp("rl.log"), &n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(strncmp(lines[i], "{\"time\":\"", 9), 0, "no time first: %s", lines[i]);
        if (!strstr(lines[i], "\"event\":\"reload\""))
            continue;
        const char *want = reloads++ ? "\"ok\":true,\"targets\":0" : "\"ok\":false,\"errors\":";
        cr_assert_not_null(strstr(lines[i], want), "reload %zu: %s", reloads, lines[i]);
    }
    cr_assert_eq(reloads, 2, "%s", slurp("rl.log"));
}

/* A password in a target URL never reaches the log, /status or a label. */
Test(probe, a_password_in_a_target_url_is_redacted_in_logs_status_and_metrics)
{
    char cfg[256], log[256];
    const char *l, *st, *m;
    pid_t prober;

    NEED_ROOT();
    write_file("pw.yaml", "probes:\n"
                          "  - name: pw\n"
                          "    kind: http\n"
                          "    target: http://alice:s3cr3t@127.0.0.1:1/\n"
                          "    interval: 100ms\n"
                          "    timeout: 100ms\n");
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 --log-results --log %s %s "
                   "2>/dev/null", TWKIT_BIN, tpath(log, sizeof(log), "pw.log"),
                   tpath(cfg, sizeof(cfg), "pw.yaml"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    wait_for("pw.log", "\"event\":\"result\"", 1, 3000);
    st = fetch("http://127.0.0.1:9464/status", "pw.json");
    m = fetch("http://127.0.0.1:9464/metrics", "pw.prom");
    stop(prober, SIGTERM, 5000);
    l = slurp("pw.log");
    cr_assert_null(strstr(l, "s3cr3t"), "the log shows the password: %s", l);
    cr_assert_null(strstr(st, "s3cr3t"), "/status shows the password: %s", st);
    cr_assert_null(strstr(m, "s3cr3t"), "/metrics shows the password");
    cr_assert_not_null(strstr(l, "http://alice:xxxxx@127.0.0.1:1/"), "%s", l);
    cr_assert_not_null(strstr(m, "target=\"http://alice:xxxxx@127.0.0.1:1/\""), "%s", m);
    /* the probe itself used the password: the failure is the refused port */
    cr_assert_not_null(strstr(l, "\"reason\":\"refused\""), "%s", l);
}

/* twkit probe ARGS CONFIG in the client namespace, resolving through
 * nameserver 10.201.0.2 with resolver options opts: tmpdir/resolv.conf is
 * bound over /etc/resolv.conf in a mount namespace of the prober's own. */
static pid_t spawn_probe_resolving_via_lab(const char *opts, const char *args, const char *cfg)
{
    char rc[256], c[256];

    write_file("resolv.conf", "nameserver 10.201.0.2\noptions %s\n", opts);
    return spawn(TW_LAB_CLIENT,
                 "unshare -m sh -c 'mount --bind %s /etc/resolv.conf && exec %s probe %s %s'",
                 tpath(rc, sizeof(rc), "resolv.conf"), TWKIT_BIN, args,
                 tpath(c, sizeof(c), cfg));
}

/* A probe that runs out of time while its name is being resolved reports
 * the time spent resolving, not 0 (the resolver asks a server whose
 * packets are dropped; resolv.conf bound over in a mount namespace of the
 * prober's own). */
Test(probe, a_timeout_while_resolving_reports_the_time_spent_resolving)
{
    char log[256], args[512];
    const char *l;
    pid_t prober;

    NEED_ROOT();
    drop_proto_port("udp", 53);
    write_file("dns.yaml", "probes:\n"
                           "  - name: slowdns\n"
                           "    kind: tcp\n"
                           "    target: db.example.test:5432\n"
                           "    timeout: 300ms\n");
    snprintf(args, sizeof(args), "--once --listen off --log %s", tpath(log, sizeof(log), "dns.log"));
    prober = spawn_probe_resolving_via_lab("timeout:5 attempts:1", args, "dns.yaml");
    wait_for("dns.log", "\"event\":\"result\"", 1, 5000);
    stop(prober, SIGTERM, 5000);
    l = slurp("dns.log");
    expect_str(l, "reason", "timeout");
    cr_assert_geq(expect_num(l, "dns_s"), 0.29, "dns_s should be the 300 ms spent: %s", l);
    cr_assert_leq(expect_num(l, "dns_s"), 1.0, "%s", l);
}

/* A SERVFAIL is an answer: cached for 5 s like "no such name", so ten
 * probes in a second ask the server once. The server is a few lines of
 * Python answering every query with SERVFAIL and counting them. */
Test(probe, a_servfail_answer_is_cached_like_a_negative_one)
{
    char log[256], args[512], cnt[256];
    pid_t prober;
    int queries;

    NEED_ROOT();
    spawn(TW_LAB_SERVER,
          "/usr/bin/python3 -c '\n"
          "import socket\n"
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
          "s.bind((\"10.201.0.2\", 53))\n"
          "n = 0\n"
          "while True:\n"
          "    q, a = s.recvfrom(512)\n"
          "    n += 1\n"
          "    open(\"%s\", \"w\").write(str(n))\n"
          "    s.sendto(q[:2] + bytes([0x81, 0x82]) + q[4:6] + bytes(6) + q[12:], a)\n"
          "'",
          tpath(cnt, sizeof(cnt), "queries"));
    for (int i = 0; i < 100 && run(TW_LAB_SERVER, 2000, "ss -Hlun 'sport = :53' | grep -q ."); i++)
        usleep(20000);
    write_file("sf.yaml", "probes:\n"
                          "  - name: sf\n"
                          "    kind: tcp\n"
                          "    target: broken.example.test:5432\n"
                          "    interval: 100ms\n"
                          "    timeout: 100ms\n");
    snprintf(args, sizeof(args), "--listen off --log-results --log %s",
             tpath(log, sizeof(log), "sf.log"));
    prober = spawn_probe_resolving_via_lab("timeout:1 attempts:1", args, "sf.yaml");
    wait_for("sf.log", "\"event\":\"result\"", 10, 5000);
    stop(prober, SIGTERM, 5000);
    cr_assert_not_null(strstr(slurp("sf.log"), "\"reason\":\"dns\""), "%s", slurp("sf.log"));
    queries = atoi(slurp("queries"));
    /* One lookup is up to 8 queries here (A and AAAA, each retried by
     * c-ares after a SERVFAIL); uncached, ten probes made 80. */
    cr_assert(queries >= 1 && queries <= 8, "%d queries for 10 probes in 1 s: not cached\n%s",
              queries, slurp("sf.log"));
}

/* ---- 3. /metrics: promtool, values, and a real Prometheus ---- */

/* probe_success of name in a Prometheus query answer; "" if absent. */

Test(probe, metrics_pass_promtool_and_a_real_prometheus_scrapes_them)
{
    char cfg[256], log[256], p[256], up[16] = "", refused[16] = "";
    const char *m, *q = "";
    pid_t prober, prom;
    uint64_t end;
    int rc, status;

    NEED_ROOT();
    start_twp_server(7070);
    spawn(TW_LAB_SERVER, "%s serve --proto http --listen 0.0.0.0:8080 >/dev/null 2>&1",
          TWKIT_BIN);
    wait_listening(TW_LAB_SERVER, 8080, "twkit serve --proto http");
    write_file("m.yaml", "defaults: {interval: 200ms, timeout: 150ms}\n"
                         "probes:\n"
                         "  - {name: up, kind: tcp, target: '10.201.0.2:7070'}\n"
                         "  - {name: refused, kind: tcp, target: '10.201.0.2:7072'}\n"
                         "  - {name: web, kind: http, target: 'http://10.201.0.2:8080/'}\n");
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 --log %s %s 2>/dev/null",
                   TWKIT_BIN, tpath(log, sizeof(log), "m.log"), tpath(cfg, sizeof(cfg), "m.yaml"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    /* Every target probed once (its first state event) before the first
     * fetch: curl closes first, so each fetch leaves a TIME_WAIT of its
     * own in this namespace, which the gauge would rightly count. */
    wait_for("m.log", "\"event\":\"state\"", 3, 3000);
    m = fetch("http://127.0.0.1:9464/metrics", "metrics.txt");

    rc = run(TW_LAB_CLIENT, 10000, "promtool check metrics <%s >%s 2>&1",
             tpath(cfg, sizeof(cfg), "metrics.txt"), tpath(p, sizeof(p), "promtool.out"));
    cr_assert_eq(rc, 0, "promtool check metrics: exit %d:\n%s", rc, slurp("promtool.out"));
#define UP "name=\"up\",kind=\"tcp\",target=\"10.201.0.2:7070\""
#define REFUSED "name=\"refused\",kind=\"tcp\",target=\"10.201.0.2:7072\""
#define WEB "name=\"web\",kind=\"http\",target=\"http://10.201.0.2:8080/\""
    expect_sample(m, "probe_success{" UP "}", 1, 1);
    expect_sample(m, "probe_success{" REFUSED "}", 0, 0);
    expect_sample(m, "probe_success{" WEB "}", 1, 1);
    expect_sample(m, "probe_http_status_code{" WEB "}", 200, 200);
    expect_sample(m, "probe_http_duration_seconds{" WEB ",phase=\"connect\"}", 1e-6, 0.15);
    expect_sample(m, "probe_http_duration_seconds{" WEB ",phase=\"processing\"}", 1e-6, 0.15);
    expect_sample(m, "twkit_probe_up{" UP "}", 1, 1);
    expect_sample(m, "twkit_probe_up{" REFUSED "}", 0, 0);
    expect_sample(m, "twkit_probe_failure_info{" REFUSED ",reason=\"refused\"}", 1, 1);
    cr_assert_null(strstr(m, "twkit_probe_failure_info{" UP), "a reason after a success:\n%s", m);
    expect_sample(m, "twkit_probes_total{name=\"up\",kind=\"tcp\",result=\"success\"}", 1, 100);
    expect_sample(m, "twkit_probes_total{name=\"up\",kind=\"tcp\",result=\"failure\"}", 0, 0);
    expect_sample(m, "twkit_probes_total{name=\"refused\",kind=\"tcp\",result=\"failure\"}", 1,
                  100);
    expect_sample(m, "twkit_probe_late_start_seconds_bucket{le=\"+Inf\"}", 3, 1000);
    expect_sample(m, "twkit_probe_late_start_seconds_count", 3, 1000);
    cr_assert_eq(sample(m, "twkit_probe_late_start_seconds_bucket{le=\"+Inf\"}"),
                 sample(m, "twkit_probe_late_start_seconds_count"),
                 "the +Inf bucket and _count of a histogram must agree");
    expect_sample(m, "twkit_probe_time_wait_sockets", 0, 0);
    expect_sample(m, "twkit_probe_targets", 3, 3);
#undef UP
#undef REFUSED
#undef WEB

    write_file("prometheus.yml", "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                 "scrape_configs:\n"
                                 "  - job_name: twkit\n"
                                 "    static_configs: [{targets: ['127.0.0.1:9464']}]\n");
    prom = spawn(TW_LAB_CLIENT,
                 "prometheus --config.file=%s --storage.tsdb.path=%s/tsdb "
                 "--web.listen-address=127.0.0.1:9090 >%s/prometheus.log 2>&1",
                 tpath(cfg, sizeof(cfg), "prometheus.yml"), tmpdir, tmpdir);
    end = tw_now_ms() + 20000;
    while (tw_now_ms() < end && (!up[0] || !refused[0])) {
        usleep(500000);
        if (run(TW_LAB_CLIENT, 5000, "curl -s -o %s "
                                     "'http://127.0.0.1:9090/api/v1/query?query=probe_success'",
                tpath(p, sizeof(p), "query.json")) != 0)
            continue; /* not listening yet */
        free(scratch);
        q = scratch = read_all("query.json");
        prom_value(q, "name", "up", up, sizeof(up));
        prom_value(q, "name", "refused", refused, sizeof(refused));
    }
    cr_assert_str_eq(up, "1", "Prometheus: probe_success of up: expected 1, got \"%s\" (%s)", up,
                     q);
    cr_assert_str_eq(refused, "0",
                     "Prometheus: probe_success of refused: expected 0, got \"%s\" (%s)", refused,
                     q);
    /* Prometheus first: its keep-alive connection would hold the prober's
     * drain for its whole grace period */
    stop(prom, SIGTERM, 5000);
    status = stop(prober, SIGTERM, 5000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "twkit probe on SIGTERM: expected exit 0, status %d", status);
}

/* ---- 4. TIME_WAIT at scale ---- */

static const char *summary_line(const char *out)
{
    const char *s = strstr(out, "{\"event\":\"summary\"");

    cr_assert_not_null(s, "no summary line in:\n%.2000s", out);
    return s;
}

/* n distinct tcp targets, 10.202.0.1:7070 on, 250 per /24. */
static void write_targets(const char *name, int n)
{
    char p[256];
    FILE *f = fopen(tpath(p, sizeof(p), name), "w");

    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    for (int i = 0; i < n; i++)
        fprintf(f, "10.202.%d.%d:7070\n", i / 250, i % 250 + 1);
    cr_assert_eq(fclose(f), 0);
}

Test(probe, five_thousand_targets_leave_no_time_wait_and_graceful_leaves_one_per_probe)
{
    char cfg[256], out[256], log[256];
    const char *s;
    double ok, failed, local;
    int rc;
    uint32_t tw;

    NEED_ROOT();
    /* 10.202.0.0/16 is all local in the server namespace (AnyIP), routed
     * there from the client: 5,000 distinct target addresses */
    cr_assert_eq(run(TW_LAB_SERVER, 5000, "ip route add local 10.202.0.0/16 dev lo"), 0);
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "ip route add 10.202.0.0/16 via 10.201.0.2"), 0);
    start_twp_server(7070);
    write_targets("t5000.txt", 5000);
    write_file("scale.yaml", "probes:\n"
                             "  - {name: many, kind: tcp, targets_file: t5000.txt,\n"
                             "     interval: 1s, timeout: 1s}\n");
    rc = run(TW_LAB_CLIENT, 30000,
             "%s probe --listen off --duration 10s --summary --log %s %s >%s 2>&1", TWKIT_BIN,
             tpath(log, sizeof(log), "scale.log"), tpath(cfg, sizeof(cfg), "scale.yaml"),
             tpath(out, sizeof(out), "scale.out"));
    cr_assert_eq(rc, 0, "twkit probe: exit %d:\n%s", rc, slurp("scale.out"));
    s = summary_line(slurp("scale.out"));
    ok = expect_num(s, "success");
    failed = expect_num(s, "failure");
    local = expect_num(s, "local_error");
    cr_assert_geq(ok, 45000, "5,000 targets at 1 s for 10 s: expected ~50,000 successes: %s", s);
    cr_assert_eq(failed, 0, "failures: %s", s);
    cr_assert_eq(local, 0, "local errors: %s", s);
    cr_assert_eq(expect_num(s, "time_wait"), 0, "the prober saw TIME_WAIT: %s", s);
    tw = time_wait(TW_LAB_CLIENT);
    cr_assert_eq(tw, 0, "the client namespace holds %u TIME_WAIT after %.0f RST probes", tw, ok);
    tw = time_wait(TW_LAB_SERVER);
    cr_assert_eq(tw, 0, "the server namespace holds %u TIME_WAIT", tw);

    /* close: graceful: our FIN first, so this side keeps one per probe */
    write_targets("t300.txt", 300);
    write_file("graceful.yaml", "probes:\n"
                                "  - {name: many, kind: tcp, targets_file: t300.txt,\n"
                                "     interval: 1s, timeout: 1s, close: graceful}\n");
    rc = run(TW_LAB_CLIENT, 15000,
             "%s probe --listen off --duration 2s --summary --log %s %s >%s 2>&1", TWKIT_BIN,
             tpath(log, sizeof(log), "graceful.log"), tpath(cfg, sizeof(cfg), "graceful.yaml"),
             tpath(out, sizeof(out), "graceful.out"));
    cr_assert_eq(rc, 0, "twkit probe: exit %d:\n%s", rc, slurp("graceful.out"));
    s = summary_line(slurp("graceful.out"));
    ok = expect_num(s, "success");
    cr_assert_eq(expect_num(s, "targets"), 300, "%s", s);
    cr_assert_geq(ok, 540, "300 targets at 1 s for 2 s: expected ~600 successes: %s", s);
    cr_assert_eq(expect_num(s, "failure") + expect_num(s, "local_error"), 0, "%s", s);
    tw = time_wait(TW_LAB_CLIENT);
    cr_assert(tw >= ok * 0.95 && tw <= ok,
              "graceful: expected about one client TIME_WAIT per probe (%.0f), found %u", ok, tw);
    tw = time_wait(TW_LAB_SERVER);
    cr_assert_eq(tw, 0, "graceful: the target's side holds %u TIME_WAIT", tw);
}

/* ---- 5. local errors ---- */

Test(probe, exhausted_ports_are_local_errors_and_never_take_the_target_down)
{
    char cfg[256], log[256], v[64];
    const char *m;
    pid_t prober;
    char **lines;
    size_t n;
    int status, ok_before = 0, local = 0;
    bool seen_local = false;

    NEED_ROOT();
    /* ten ports, none reused from TIME_WAIT: ten graceful probes use them up */
    cr_assert_eq(
        tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "40000 40009"), 0);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", "0"), 0);
    start_twp_server(7070);
    write_file("local.yaml", "probes:\n"
                             "  - name: one\n"
                             "    kind: tcp\n"
                             "    target: 10.201.0.2:7070\n"
                             "    interval: 50ms\n"
                             "    timeout: 50ms\n"
                             "    close: graceful\n");
    prober = spawn(TW_LAB_CLIENT,
                   "%s probe --listen 127.0.0.1:9464 --log-results --log %s %s 2>/dev/null",
                   TWKIT_BIN, tpath(log, sizeof(log), "local.log"),
                   tpath(cfg, sizeof(cfg), "local.yaml"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    wait_for("local.log", "\"result\":\"local_error\"", 10, 4000);
    m = fetch("http://127.0.0.1:9464/metrics", "metrics.txt");
    status = stop(prober, SIGTERM, 5000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "twkit probe on SIGTERM: expected exit 0, status %d", status);

    lines = split_lines(slurp("local.log"), &n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_null(strstr(lines[i], "\"state\":\"down\""), "the target went down: %s",
                       lines[i]);
        jstr(lines[i], "event", v, sizeof(v));
        if (strcmp(v, "state") == 0)
            continue; /* the result line before it counted */
        jstr(lines[i], "result", v, sizeof(v));
        if (strcmp(v, "local_error") == 0) {
            seen_local = true;
            local++;
            expect_str(lines[i], "error", "EADDRNOTAVAIL");
        } else if (!seen_local) {
            expect_str(lines[i], "result", "success");
            ok_before++;
        }
        cr_assert_null(strstr(lines[i], "\"state\":\"down\""), "the target went down: %s",
                       lines[i]);
    }
    cr_assert_geq(local, 10, "expected EADDRNOTAVAIL local errors once the ports ran out, got %d",
                  local);
    cr_assert(ok_before >= 1 && ok_before <= 10,
              "10 local ports: expected 1 to 10 successes before the first local error, got %d",
              ok_before);
#define ONE "name=\"one\",kind=\"tcp\",target=\"10.201.0.2:7070\""
    expect_sample(m, "twkit_probe_local_errors_total{errno=\"EADDRNOTAVAIL\"}", 1, 1e9);
    expect_sample(m, "probe_success{" ONE "}", 1, 1);
    expect_sample(m, "twkit_probe_up{" ONE "}", 1, 1);
    expect_sample(m, "twkit_probe_local_error{" ONE "}", 1, 1);
    expect_sample(m, "twkit_probes_total{name=\"one\",kind=\"tcp\",result=\"failure\"}", 0, 0);
#undef ONE
}

/* ---- 6. config errors through the CLI ---- */

Test(probe, check_reports_each_config_error_at_its_file_line_and_column)
{
    char cfg[256], out[256], err[256], want[1024];
    const char *e;
    int rc;

    NEED_ROOT();
    cr_assert_eq(mkdir(tpath(cfg, sizeof(cfg), "adir"), 0755), 0);
    write_file("bad-targets.txt", "# edge\n10.0.0.1:1\n  nohost\n");
    write_file("bad.yaml", "probes:\n"                    /* 1 */
                           "  - name: a\n"                /* 2 */
                           "    kind: udp\n"              /* 3 */
                           "    target: 10.0.0.1:1\n"     /* 4 */
                           "  - name: b\n"                /* 5 */
                           "    kind: tcp\n"              /* 6 */
                           "    target: 10.0.0.1:1\n"     /* 7 */
                           "    interval: 5x\n"           /* 8 */
                           "  - name: a\n"                /* 9 */
                           "    kind: tcp\n"              /* 10 */
                           "    target: 10.0.0.1:2\n"     /* 11 */
                           "  - name: c\n"                /* 12 */
                           "    kind: tcp\n"              /* 13 */
                           "    targets_file: nofile\n"   /* 14 */
                           "  - name: d\n"                /* 15 */
                           "    kind: tcp\n"              /* 16 */
                           "    targets_file: adir\n"     /* 17 */
                           "  - name: e\n"                /* 18 */
                           "    kind: tcp\n"              /* 19 */
                           "    targets_file: bad-targets.txt\n"); /* 20 */
    rc = run(TW_LAB_CLIENT, 5000, "%s probe --check %s >%s 2>%s", TWKIT_BIN,
             tpath(cfg, sizeof(cfg), "bad.yaml"), tpath(out, sizeof(out), "check.out"),
             tpath(err, sizeof(err), "check.err"));
    e = slurp("check.err");
    cr_assert_eq(rc, 1, "--check of a bad config: expected exit 1, got %d", rc);
    cr_assert_str_eq(slurp("check.out"), "", "nothing on stdout expected");
    snprintf(want, sizeof(want),
             "%s/bad.yaml:3:11: unknown kind \"udp\" (expected tcp, http, tls, dns or icmp)\n"
             "%s/bad.yaml:8:15: bad interval \"5x\": expected a duration like 5s or 500ms\n"
             "%s/bad.yaml:9:11: duplicate probe name \"a\" (first defined at line 2)\n"
             "%s/bad.yaml:14:19: cannot read targets file \"nofile\": No such file or directory\n"
             "%s/bad.yaml:17:19: cannot read targets file \"adir\": Is a directory\n",
             tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
    cr_assert_eq(strncmp(e, want, strlen(want)), 0, "expected first:\n%s\ngot:\n%s", want, e);
    /* the targets file's own problem at its own name, line and column */
    snprintf(want, sizeof(want), "\n%s/bad-targets.txt:3:3: bad tcp target \"nohost\"", tmpdir);
    cr_assert_not_null(strstr(e, want), "expected %s in:\n%s", want + 1, e);
    snprintf(want, sizeof(want), "twkit probe: %s/bad.yaml: 6 errors\n", tmpdir);
    cr_assert_not_null(strstr(e, want), "expected the count \"%s\" in:\n%s", want, e);
    cr_assert_eq(count_of(e, "\n"), 7, "expected 6 errors and the count line:\n%s", e);

    write_file("good-targets.txt", "# two\n10.0.0.1:1\n\n  [::1]:2  \n");
    write_file("good.yaml", "defaults: {interval: 1s, timeout: 500ms}\n"
                            "probes:\n"
                            "  - {name: a, kind: tcp, targets_file: good-targets.txt}\n"
                            "  - {name: b, kind: http, target: 'http://10.0.0.1/health'}\n");
    rc = run(TW_LAB_CLIENT, 5000, "%s probe --check %s >%s 2>%s", TWKIT_BIN,
             tpath(cfg, sizeof(cfg), "good.yaml"), tpath(out, sizeof(out), "check.out"),
             tpath(err, sizeof(err), "check.err"));
    cr_assert_eq(rc, 0, "--check of a good config: exit %d: %s", rc, slurp("check.err"));
    snprintf(want, sizeof(want), "%s/good.yaml: ok: 2 probes, 3 targets\n", tmpdir);
    cr_assert_str_eq(slurp("check.out"), want);
}

/* --shard: two instances of one 10,000-target config probe disjoint sets
 * whose union is the whole (every target refuses at once: a loopback port
 * nothing listens on), each on two threads whose lines never interleave. */
Test(probe, two_shards_of_one_config_probe_disjoint_halves_of_it)
{
    static char seen[10000]; /* 1 + the shard that probed target i */
    char cfg[256], out[256], p[256];
    FILE *f = NULL;
    size_t n[2];

    NEED_ROOT();
    cr_assert_not_null(f = fopen(tpath(p, sizeof(p), "t.txt"), "w"));
    for (int i = 0; i < 10000; i++)
        fprintf(f, "127.1.%d.%d:9\n", i / 250, i % 250 + 1);
    cr_assert_eq(fclose(f), 0);
    write_file("shard.yaml", "probes:\n"
                             "  - {name: many, kind: tcp, targets_file: t.txt, timeout: 2s}\n");
    memset(seen, 0, sizeof(seen));
    for (int k = 0; k < 2; k++) {
        char **lines;
        unsigned th[2];
        /* and each shard spreads over both threads: the thread's half of
         * the hash is not the shard's */
        run(TW_LAB_CLIENT, 60000, "%s probe --once --threads 2 --summary --shard %d/2 %s >%s 2>&1",
            TWKIT_BIN, k + 1, tpath(cfg, sizeof(cfg), "shard.yaml"),
            tpath(out, sizeof(out), "shard.out"));
        lines = split_lines(slurp("shard.out"), &n[k]);
        cr_assert_gt(n[k], 1);
        const char *sum = lines[--n[k]];
        const char *tt = strstr(sum, "\"thread_targets\":[");
        cr_assert(tt && sscanf(tt, "\"thread_targets\":[%u,%u]", &th[0], &th[1]) == 2, "%s", sum);
        cr_assert_eq(th[0] + th[1], n[k], "%s", sum);
        cr_assert(th[0] > n[k] * 4 / 10 && th[1] > n[k] * 4 / 10, "uneven threads: %s", sum);
        for (size_t i = 0; i < n[k]; i++) {
            char t[64];
            int a, b, idx;
            cr_assert(jstr(lines[i], "target", t, sizeof(t)), "%s", lines[i]);
            expect_str(lines[i], "reason", "refused");
            cr_assert_eq(sscanf(t, "127.1.%d.%d:9", &a, &b), 2, "%s", lines[i]);
            idx = a * 250 + b - 1;
            cr_assert(idx >= 0 && idx < 10000, "%s", t);
            cr_assert_eq(seen[idx], 0, "%s probed by shard %d and by shard %d", t, seen[idx],
                         k + 1);
            seen[idx] = (char)(k + 1);
        }
    }
    for (int i = 0; i < 10000; i++)
        cr_assert_neq(seen[i], 0, "127.1.%d.%d:9 probed by no shard", i / 250, i % 250 + 1);
    cr_assert(n[0] > 4700 && n[1] > 4700, "uneven: %zu and %zu", n[0], n[1]);
}

/* --loop picks the loops' backend, which --summary names; a name that is
 * none is refused before anything runs. */
Test(probe, loop_option_picks_the_backend_and_refuses_others)
{
    static const char *const backends[] = {"epoll", "io_uring"};
    char cfg[256], out[256], want[64];

    NEED_ROOT();
    write_file("loop.yaml", "probes:\n"
                            "  - {name: r, kind: tcp, target: '127.0.0.1:9', timeout: 1s}\n");
    tpath(cfg, sizeof(cfg), "loop.yaml");
    tpath(out, sizeof(out), "loop.out");
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(run(TW_LAB_CLIENT, 20000, "%s probe --once --summary --threads 2 --loop %s %s >%s 2>&1",
                         TWKIT_BIN, backends[i], cfg, out),
                     1, "one failure is exit 1: %s", slurp("loop.out"));
        snprintf(want, sizeof(want), "\"loop\":\"%s\"", backends[i]);
        cr_assert_eq(count_of(slurp("loop.out"), want), 1, "%s", slurp("loop.out"));
        cr_assert_eq(count_of(slurp("loop.out"), "\"reason\":\"refused\""), 1, "%s",
                     slurp("loop.out"));
    }
    cr_assert_eq(run(TW_LAB_CLIENT, 20000, "%s probe --once --loop kqueue %s >%s 2>&1", TWKIT_BIN,
                     cfg, out),
                 2);
    cr_assert_eq(count_of(slurp("loop.out"), "probe: --loop kqueue: not epoll or io_uring"), 1,
                 "%s", slurp("loop.out"));
    cr_assert_eq(run(TW_LAB_CLIENT, 20000, "env TWKIT_LOOP=kqueue %s probe --once --summary %s >%s 2>&1",
                     TWKIT_BIN, cfg, out),
                 1);
    cr_assert_eq(count_of(slurp("loop.out"), "TWKIT_LOOP=kqueue is not epoll or io_uring: the "
                                             "loop is epoll"),
                 1, "%s", slurp("loop.out"));
    cr_assert_eq(count_of(slurp("loop.out"), "\"loop\":\"epoll\""), 1, "%s", slurp("loop.out"));
}
