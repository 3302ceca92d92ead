/* The tcp probe's conversations in the lab: query_response, tls: true and
 * starttls against real servers (a Python script of small line servers,
 * TLS by Python's ssl), and what the prober reports of them: its JSON
 * lines, its /metrics, and blackbox_exporter's own answer for the same
 * targets where the Debian package is installed.
 *
 * Servers and prober share the loopback of the lab's server namespace
 * (127.0.0.1), so no port of the host is used and TIME_WAIT is counted
 * for both ends at once. Every process is registered, killed and reaped
 * in the fixture's fini, under a parent-death signal.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <criterion/criterion.h>

#include "probe_lab.h"

#define SIDE TW_LAB_SERVER /* where everything of these tests runs */

TestSuite(probe_tcp, .init = pl_setup, .fini = pl_teardown, .timeout = 60);

/* ---- the servers ---- */

/* Start the line servers of tests/lab/probe_servers.py: specs say which
 * on which port ("smtp:2525 irc:6667:tok"), cert and key are for their
 * TLS. Waits until every port listens. What they receive, and how each
 * connection ended ("end RST"), goes to servers.log. */
static void start_servers(const char *cert, const char *key, const char *specs)
{
    char lg[256], c[256], k[256], copy[512], *save = NULL;

    spawn(SIDE, "/usr/bin/python3 %s %s %s %s %s >%s/servers.err 2>&1", PROBE_SERVERS_PY,
          tpath(lg, sizeof(lg), "servers.log"),
          tpath(c, sizeof(c), cert), tpath(k, sizeof(k), key), specs, tmpdir);
    snprintf(copy, sizeof(copy), "%s", specs);
    for (char *s = strtok_r(copy, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
        char *port = strchr(s, ':');
        cr_assert_not_null(port);
        wait_listening(SIDE, (uint16_t)atoi(port + 1), s);
    }
}

/* How often the servers wrote what about port. */
static int server_said(unsigned port, const char *what)
{
    char pat[512], *text = read_all("servers.log");
    int n;

    snprintf(pat, sizeof(pat), "%u %s\n", port, what);
    n = count_of(text, pat);
    free(text);
    return n;
}

/* Wait (3 s at most) for a server's note: the end of a conversation comes
 * after the prober has reported. */
static void wait_server(unsigned port, const char *what)
{
    for (int i = 0; i < 300 && !server_said(port, what); i++)
        usleep(10000);
    cr_assert(server_said(port, what), "server %u never said \"%s\"; its log:\n%s\n%s", port,
              what, slurp("servers.log"), slurp("servers.err"));
}

/* ---- certificates ---- */

/* notAfter of a PEM certificate, unix seconds. */
static double cert_not_after(const char *cert)
{
    char p[256];
    FILE *f = fopen(tpath(p, sizeof(p), cert), "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    struct tm tm;

    cr_assert_not_null(x, "cannot read %s", cert);
    fclose(f);
    cr_assert(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm));
    X509_free(x);
    return (double)timegm(&tm);
}

/* ---- the prober's JSON lines ---- */

/* The lines of `twkit probe --once` over the config in tmpdir/name. */
static char **probe_once(const char *name, size_t *n)
{
    char cfg[256], out[256], err[256];

    run(SIDE, 15000, "%s probe --once %s >%s 2>%s", TWKIT_BIN, tpath(cfg, sizeof(cfg), name),
        tpath(out, sizeof(out), "once.out"), tpath(err, sizeof(err), "once.err"));
    return split_lines(slurp("once.out"), n);
}

/* ---- Prometheus text ---- */

/* The labels after prefix in the first sample of family that starts so
 * ("probe_ssl_last_chain_info{" + the target's labels), up to its '}'. */
static const char *labels_after(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix), *end;

    cr_assert_not_null(p, "no sample starting %s in:\n%s", prefix, text);
    p += strlen(prefix);
    end = strstr(p, "} ");
    cr_assert_not_null(end);
    return keep(strndup(p, (size_t)(end - p)));
}

/* ---- 1. conversations ---- */

Test(probe_tcp, smtp_starttls_conversation_and_one_without_starttls)
{
    char **lines;
    const char *l;
    size_t n;

    NEED_ROOT();
    make_cert_named("mx.pem", "mx.key", -3600, 30 * 86400L, "mx.lab", "Lab", "IP:127.0.0.1");
    start_servers("mx.pem", "mx.key", "smtp:2525 smtp_plain:2526");
    write_file("smtp.yaml",
               "defaults: {timeout: 3s}\n"
               "probes:\n"
               "  - name: starttls\n"
               "    kind: tcp\n"
               "    target: 127.0.0.1:2525\n"
               "    ca_file: mx.pem\n"
               "    query_response: &smtp\n"
               "      - expect: '^220 '\n"
               "      - send: EHLO prober.lab\n"
               "      - expect: '^250-STARTTLS'\n"
               "      - expect: '^250 '\n"
               "      - send: STARTTLS\n"
               "      - expect: '^220'\n"
               "      - starttls: true\n"
               "      - send: EHLO again\n"
               "      - expect: '^250 hello over TLS$'\n"
               "  - name: no_starttls\n"
               "    kind: tcp\n"
               "    target: 127.0.0.1:2526\n"
               "    ca_file: mx.pem\n"
               "    query_response: *smtp\n");
    lines = probe_once("smtp.yaml", &n);
    cr_assert_eq(n, 2, "expected 2 result lines:\n%s\n%s", slurp("once.out"),
                 slurp("once.err"));

    l = line_of(lines, n, "starttls");
    expect_str(l, "result", "success");
    cr_assert_gt(jphase(l, "connect"), 0, "%s", l);
    cr_assert_gt(jphase(l, "tls"), 0, "no tls phase after starttls: %s", l);
    cr_assert_eq(expect_num(l, "verify"), 0, "%s", l);
    cr_assert_eq(expect_num(l, "cert_expiry"), cert_not_after("mx.pem"), "%s", l);
    cr_assert_null(strstr(l, "regex_failed"), "%s", l);
    /* each send is the text and "\n", as blackbox writes it */
    wait_server(2525, "got b'EHLO prober.lab\\n'");
    wait_server(2525, "got b'STARTTLS\\n'");
    wait_server(2525, "tls got b'EHLO again\\n'");
    /* and the end is an RST, over TLS as well: no close_notify, no FIN */
    wait_server(2525, "end RST");

    /* The server closes after "250 OK": no line matched ^250-STARTTLS. */
    l = line_of(lines, n, "no_starttls");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "expect");
    cr_assert_not_null(strstr(l, "\"regex_failed\":true"), "%s", l);
    cr_assert_null(strstr(l, "cert_expiry"), "no handshake, no TLS fields: %s", l);
    cr_assert_eq(server_said(2526, "got b'EHLO prober.lab\\n'"), 1);
    cr_assert_eq(time_wait(SIDE), 0, "a probe left TIME_WAIT behind");
}

/* ${1} in a send is the group of the step's own expect; the server checks
 * it got exactly "PONG <token>". One probe sends a group that does not
 * exist, which expands to nothing, and the server says BAD. */
Test(probe_tcp, irc_ping_pong_sends_the_captured_token)
{
    char **lines;
    const char *l;
    size_t n;

    NEED_ROOT();
    make_cert_named("c.pem", "c.key", -3600, 30 * 86400L, "x", "Lab", "IP:127.0.0.1");
    start_servers("c.pem", "c.key", "irc:6667:tok-8f3a irc:6668:tok-8f3a echo:6669");
    write_file("irc.yaml",
               "probes:\n"
               "  - name: pong\n"
               "    kind: tcp\n"
               "    target: 127.0.0.1:6667\n"
               "    query_response:\n"
               "      - expect: '^PING :([^ ]+)'\n"
               "        send: 'PONG ${1}'\n"
               "      - expect: '^OK'\n"
               "  - name: wrong_group\n"
               "    kind: tcp\n"
               "    target: 127.0.0.1:6668\n"
               "    query_response:\n"
               "      - expect: '^PING :([^ ]+)'\n"
               "        send: 'PONG ${2}'\n"
               "      - expect: '^OK'\n"
               /* Go's Expand, case by case: $1x is the group named "1x"
                * (none), $$ a dollar, a lone $ and an unclosed ${ stay */
               "  - name: expand\n"
               "    kind: tcp\n"
               "    target: 127.0.0.1:6669\n"
               "    query_response:\n"
               "      - expect: '^HELLO (?P<first>\\w+) (\\w+)'\n"
               "        send: 'a=$1 b=${2}c n=$first m=${first}! x=$1x d=$$1 l=$ u=${2 z=$9'\n"
               "      - expect: '^GOT \\[a=abc b=defc n=abc m=abc! x= d=\\$1 l=\\$ u=\\$\\{2 "
               "z=\\]$'\n");
    lines = probe_once("irc.yaml", &n);
    cr_assert_eq(n, 3, "expected 3 result lines:\n%s\n%s", slurp("once.out"),
                 slurp("once.err"));
    l = line_of(lines, n, "pong");
    expect_str(l, "result", "success");
    wait_server(6667, "got b'PONG tok-8f3a\\n'");

    l = line_of(lines, n, "wrong_group");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "expect");
    wait_server(6668, "got b'PONG \\n'");

    l = line_of(lines, n, "expand");
    expect_str(l, "result", "success");
    wait_server(6669, "got b'a=abc b=defc n=abc m=abc! x= d=$1 l=$ u=${2 z=\\n'");
}

/* Lines are limited as Go's bufio.Scanner limits them: 64 KiB with the
 * "\n". At the limit the line is read (and the next one matches); one byte
 * more fails the probe, and not as a regex that did not match
 * (blackbox: "token too long", probe_failed_due_to_regex 0). */
Test(probe_tcp, a_line_past_64_kib_fails_the_probe)
{
    char **lines;
    const char *l;
    size_t n;

    NEED_ROOT();
    make_cert_named("c.pem", "c.key", -3600, 30 * 86400L, "x", "Lab", "IP:127.0.0.1");
    start_servers("c.pem", "c.key", "long:7001:65535 long:7002:65536");
    write_file("long.yaml", "probes:\n"
                            "  - {name: fits, kind: tcp, target: '127.0.0.1:7001',\n"
                            "     query_response: [{expect: '^END$'}]}\n"
                            "  - {name: too_long, kind: tcp, target: '127.0.0.1:7002',\n"
                            "     query_response: [{expect: '^END$'}]}\n");
    lines = probe_once("long.yaml", &n);
    cr_assert_eq(n, 2, "expected 2 result lines:\n%s", slurp("once.out"));
    l = line_of(lines, n, "fits");
    expect_str(l, "result", "success");
    l = line_of(lines, n, "too_long");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "long_line");
    cr_assert_null(strstr(l, "regex_failed"), "%s", l);
}

/* A target that closes at once: no line (regex failed, as blackbox at the
 * end of the data), no handshake (tls). One that never speaks: a timeout,
 * which blackbox does not count as a regex failure; twkit's short form
 * does, as it always has. */
Test(probe_tcp, a_target_that_closes_early_or_never_speaks)
{
    char **lines;
    const char *l;
    size_t n;

    NEED_ROOT();
    make_cert_named("c.pem", "c.key", -3600, 30 * 86400L, "x", "Lab", "IP:127.0.0.1");
    start_servers("c.pem", "c.key", "close:7101 silent:7102");
    write_file("early.yaml",
               "defaults: {timeout: 400ms}\n"
               "probes:\n"
               "  - {name: closed, kind: tcp, target: '127.0.0.1:7101',\n"
               "     query_response: [{expect: '^220'}]}\n"
               "  - {name: closed_tls, kind: tcp, target: '127.0.0.1:7101', tls: true,\n"
               "     ca_file: c.pem}\n"
               "  - {name: silent, kind: tcp, target: '127.0.0.1:7102',\n"
               "     query_response: [{expect: '^220'}]}\n"
               "  - {name: silent_short, kind: tcp, target: '127.0.0.1:7102', expect: '^220'}\n"
               "  - {name: send_only, kind: tcp, target: '127.0.0.1:7102',\n"
               "     query_response: [{send: hi}]}\n");
    lines = probe_once("early.yaml", &n);
    cr_assert_eq(n, 5, "expected 5 result lines:\n%s", slurp("once.out"));
    l = line_of(lines, n, "closed");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "expect");
    cr_assert_not_null(strstr(l, "\"regex_failed\":true"), "%s", l);
    l = line_of(lines, n, "closed_tls");
    expect_str(l, "result", "failure");
    cr_assert(strstr(l, "\"reason\":\"tls\"") || strstr(l, "\"reason\":\"reset\""), "%s", l);
    cr_assert_null(strstr(l, "regex_failed"), "%s", l);
    l = line_of(lines, n, "silent");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "timeout");
    cr_assert_null(strstr(l, "regex_failed"), "%s", l);
    l = line_of(lines, n, "silent_short");
    expect_str(l, "reason", "timeout");
    cr_assert_not_null(strstr(l, "\"regex_failed\":true"), "%s", l);
    l = line_of(lines, n, "send_only");
    expect_str(l, "result", "success");
}

/* ---- 2. tls: true ---- */

Test(probe_tcp, tls_true_verifies_then_talks_over_tls)
{
    char **lines;
    const char *l;
    size_t n;

    NEED_ROOT();
    make_cert_named("imap.pem", "imap.key", -3600, 20 * 86400L, "imap.lab", "Lab", "IP:127.0.0.1");
    make_cert_named("other.pem", "other.key", -3600, 20 * 86400L, "other", "Lab", "IP:127.0.0.1");
    start_servers("imap.pem", "imap.key", "tlsbanner:9931 tlsbanner:9932 tlsbanner:9933");
    write_file("tls.yaml",
               "probes:\n"
               "  - name: imaps\n"
               "    kind: tcp\n"
               "    target: 127.0.0.1:9931\n"
               "    tls: true\n"
               "    ca_file: imap.pem\n"
               "    query_response:\n"
               "      - expect: '^\\* OK'\n"
               "        send: a1 LOGOUT\n"
               "      - expect: '^\\* BYE'\n"
               "  - {name: untrusted, kind: tcp, target: '127.0.0.1:9932', tls: true,\n"
               "     ca_file: other.pem, query_response: [{expect: '^\\* OK'}]}\n"
               "  - {name: insecure, kind: tcp, target: '127.0.0.1:9933', tls: true,\n"
               "     tls_verify: false}\n");
    lines = probe_once("tls.yaml", &n);
    cr_assert_eq(n, 3, "expected 3 result lines:\n%s\n%s", slurp("once.out"),
                 slurp("once.err"));
    l = line_of(lines, n, "imaps");
    expect_str(l, "result", "success");
    cr_assert_gt(jphase(l, "tls"), 0, "%s", l);
    cr_assert_eq(expect_num(l, "verify"), 0, "%s", l);
    wait_server(9931, "tls got b'a1 LOGOUT\\n'");
    wait_server(9931, "end RST");

    /* blackbox fails the dial: no TLS series, no regex failure */
    l = line_of(lines, n, "untrusted");
    expect_str(l, "result", "failure");
    expect_str(l, "reason", "verify");
    cr_assert_null(strstr(l, "cert_expiry"), "%s", l);
    cr_assert_null(strstr(l, "regex_failed"), "%s", l);

    l = line_of(lines, n, "insecure");
    expect_str(l, "result", "success");
    cr_assert_eq(expect_num(l, "cert_expiry"), cert_not_after("imap.pem"), "%s", l);
    cr_assert_eq(time_wait(SIDE), 0, "a probe left TIME_WAIT behind");
}

/* /metrics has blackbox's TLS series for a tcp probe with TLS, and none
 * for one whose certificate did not verify; promtool takes the text. */
Test(probe_tcp, metrics_have_blackbox_tls_series)
{
    char cfg[256], log[256], p[256];
    const char *m, *info;
    int rc;

    NEED_ROOT();
    make_cert_named("s.pem", "s.key", -3600, 40 * 86400L, "a, b+c", " Acme #1",
                    "IP:127.0.0.1,DNS:mx.lab,DNS:b.lab");
    make_cert_named("other.pem", "other.key", -3600, 40 * 86400L, "other", "Lab", "IP:127.0.0.1");
    start_servers("s.pem", "s.key", "tlsbanner:9941 smtp:9942 tlsbanner:9943 close:9944");
    write_file("m.yaml",
               "defaults: {interval: 300ms, timeout: 250ms}\n"
               "probes:\n"
               "  - {name: tls, kind: tcp, target: '127.0.0.1:9941', tls: true, ca_file: s.pem}\n"
               "  - name: smtp\n"
               "    kind: tcp\n"
               "    target: 127.0.0.1:9942\n"
               "    tls_verify: false\n"
               "    query_response:\n"
               "      - {expect: '^220 ', send: EHLO x}\n"
               "      - {expect: '^250 ', send: STARTTLS}\n"
               "      - {expect: '^220', starttls: true}\n"
               "  - {name: bad, kind: tcp, target: '127.0.0.1:9943', tls: true,\n"
               "     ca_file: other.pem}\n"
               "  - {name: plain, kind: tcp, target: '127.0.0.1:9944',\n"
               "     query_response: [{expect: '^nothing like this'}]}\n");
    spawn(SIDE, "%s probe --listen 127.0.0.1:9464 --log-results --log %s %s 2>%s/probe.err",
          TWKIT_BIN, tpath(log, sizeof(log), "m.log"), tpath(cfg, sizeof(cfg), "m.yaml"), tmpdir);
    wait_listening(SIDE, 9464, "twkit probe --listen");
    for (int i = 0; i < 300; i++) {
        char *text = read_all("m.log");
        int results = count_of(text, "\"event\":\"result\"");
        free(text);
        if (results >= 4)
            break;
        usleep(10000);
    }
    m = fetch_from(SIDE, "http://127.0.0.1:9464/metrics", "", "metrics.txt");
    rc = run(SIDE, 10000, "promtool check metrics <%s >%s 2>&1", tpath(cfg, sizeof(cfg),
             "metrics.txt"),
             tpath(p, sizeof(p), "promtool.out"));
    cr_assert_eq(rc, 0, "promtool check metrics: exit %d:\n%s\n%s", rc, slurp("promtool.out"), m);

#define TLS "name=\"tls\",kind=\"tcp\",target=\"127.0.0.1:9941\""
#define SMTP "name=\"smtp\",kind=\"tcp\",target=\"127.0.0.1:9942\""
#define BAD "name=\"bad\",kind=\"tcp\",target=\"127.0.0.1:9943\""
#define PLAIN "name=\"plain\",kind=\"tcp\",target=\"127.0.0.1:9944\""
    cr_assert_eq(count_of(m, "# HELP probe_ssl_earliest_cert_expiry Returns last SSL chain "
                             "expiry in unixtime\n"), 1, "%s", m);
    cr_assert_eq(count_of(m, "# HELP probe_ssl_last_chain_expiry_timestamp_seconds Returns "
                             "last SSL chain expiry in timestamp\n"), 1, "%s", m);
    cr_assert_eq(count_of(m, "# HELP probe_tls_version_info Returns the TLS version used or "
                             "NaN when unknown\n"), 1, "%s", m);
    cr_assert_eq(count_of(m, "# HELP probe_ssl_last_chain_info Contains SSL leaf certificate "
                             "information\n"), 1, "%s", m);
    cr_assert_eq(sample(m, "probe_success{" TLS "}"), 1);
    cr_assert_eq(sample(m, "probe_ssl_earliest_cert_expiry{" TLS "}"), cert_not_after("s.pem"));
    cr_assert_eq(sample(m, "probe_ssl_last_chain_expiry_timestamp_seconds{" TLS "}"),
                 cert_not_after("s.pem"));
    cr_assert_eq(sample(m, "probe_tls_version_info{" TLS ",version=\"TLS 1.3\"}"), 1);
    info = labels_after(m, "probe_ssl_last_chain_info{" TLS ",");
    /* Go's pkix.Name.String(): CN, O, C from last to first, escaped as RFC
     * 2253 says, the email address as an OID with its DER in hex */
    cr_assert(!strncmp(info, "fingerprint_sha256=\"", 20) && strlen(info) > 20 + 64,
              "%s", info);
    cr_assert_not_null(strstr(info, "\",issuer=\"CN=a\\\\, b\\\\+c,O=\\\\ Acme #1,C=DE,"
                                    "1.2.840.113549.1.9.1=#0c0f6f7073406578616d706c652e6f7267\","
                                    "subject=\"CN=a\\\\, b\\\\+c,O=\\\\ Acme #1,C=DE,"
                                    "1.2.840.113549.1.9.1=#0c0f6f7073406578616d706c652e6f7267\","
                                    "subjectalternative=\"mx.lab,b.lab\""), "%s", info);

    /* unverified (tls_verify: false): the chain expiry is Go's zero time */
    cr_assert_eq(sample(m, "probe_success{" SMTP "}"), 1, "%s", slurp("m.log"));
    cr_assert_eq(sample(m, "probe_ssl_last_chain_expiry_timestamp_seconds{" SMTP "}"),
                 -62135596800.0);
    cr_assert_eq(sample(m, "probe_ssl_earliest_cert_expiry{" SMTP "}"), cert_not_after("s.pem"));
    cr_assert_eq(sample(m, "probe_failed_due_to_regex{" SMTP "}"), 0);

    cr_assert_eq(sample(m, "probe_success{" BAD "}"), 0);
    cr_assert_null(strstr(m, "probe_ssl_earliest_cert_expiry{" BAD "}"), "%s", m);
    cr_assert_null(strstr(m, "probe_ssl_last_chain_info{" BAD), "%s", m);
    cr_assert_null(strstr(m, "probe_tls_version_info{" BAD), "%s", m);

    cr_assert_eq(sample(m, "probe_success{" PLAIN "}"), 0);
    cr_assert_eq(sample(m, "probe_failed_due_to_regex{" PLAIN "}"), 1);
    cr_assert_null(strstr(m, "probe_ssl_earliest_cert_expiry{" PLAIN "}"), "%s", m);
#undef TLS
#undef SMTP
#undef BAD
#undef PLAIN
}

/* The same tcp module in blackbox_exporter and in twkit, against the same
 * TLS server: the TLS series agree, value for value and label for label. */
Test(probe_tcp, tls_series_agree_with_blackbox_exporter)
{
    static const char *const families[] = {
        "probe_ssl_earliest_cert_expiry", "probe_ssl_last_chain_expiry_timestamp_seconds",
        "probe_tls_version_info", "probe_ssl_last_chain_info",
    };
    char cfg[256], log[256], p[256];
    const char *bb, *tw;

    NEED_ROOT();
    if (access("/usr/bin/prometheus-blackbox-exporter", X_OK) != 0)
        cr_skip_test("prometheus-blackbox-exporter is not installed");
    make_cert_named("s.pem", "s.key", -3600, 40 * 86400L, "Zoë; \"x\"", "Org<A>",
                    "IP:127.0.0.1,DNS:s.lab");
    start_servers("s.pem", "s.key", "smtp:9951");
    write_file("bb.yml",
               "modules:\n"
               "  smtp:\n"
               "    prober: tcp\n"
               "    timeout: 3s\n"
               "    tcp:\n"
               "      tls_config: {ca_file: %s/s.pem}\n"
               "      query_response:\n"
               "        - {expect: '^220 ', send: EHLO x}\n"
               "        - {expect: '^250 ', send: STARTTLS}\n"
               "        - {expect: '^220', starttls: true}\n",
               tmpdir);
    write_file("tw.yaml", "probes:\n"
                          "  - name: smtp\n"
                          "    kind: tcp\n"
                          "    target: 127.0.0.1:9951\n"
                          "    ca_file: s.pem\n"
                          "    query_response:\n"
                          "      - {expect: '^220 ', send: EHLO x}\n"
                          "      - {expect: '^250 ', send: STARTTLS}\n"
                          "      - {expect: '^220', starttls: true}\n");
    spawn(SIDE, "/usr/bin/prometheus-blackbox-exporter --config.file=%s "
          "--web.listen-address=127.0.0.1:9115 >%s/bb.log 2>&1",
          tpath(cfg, sizeof(cfg), "bb.yml"), tmpdir);
    spawn(SIDE, "%s probe --listen 127.0.0.1:9464 --log-results --log %s %s 2>/dev/null", TWKIT_BIN,
          tpath(log, sizeof(log), "tw.log"), tpath(p, sizeof(p), "tw.yaml"));
    wait_listening(SIDE, 9115, "blackbox_exporter");
    wait_listening(SIDE, 9464, "twkit probe");
    bb = fetch_from(SIDE, "http://127.0.0.1:9115/probe?target=127.0.0.1:9951&module=smtp", "",
                    "bb.txt");
    for (int i = 0; i < 300; i++) {
        char *text = read_all("tw.log");
        int results = count_of(text, "\"event\":\"result\"");
        free(text);
        if (results)
            break;
        usleep(10000);
    }
    tw = fetch_from(SIDE, "http://127.0.0.1:9464/metrics", "", "tw.txt");
    cr_assert_eq(sample(bb, "probe_success"), 1, "blackbox:\n%s\n%s", bb, slurp("bb.log"));
    cr_assert_eq(sample(tw, "probe_success{name=\"smtp\",kind=\"tcp\",target=\"127.0.0.1:9951\"}"),
                 1, "%s", tw);
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        char bbp[128], twp[256];
        const char *b, *t;
        snprintf(bbp, sizeof(bbp), "\n%s", families[i]);
        snprintf(twp, sizeof(twp), "\n%s{name=\"smtp\",kind=\"tcp\",target=\"127.0.0.1:9951\"",
                 families[i]);
        cr_assert_not_null(b = strstr(bb, bbp), "blackbox has no %s:\n%s", families[i], bb);
        cr_assert_not_null(t = strstr(tw, twp), "twkit has no %s:\n%s", families[i], tw);
        b += strlen(bbp);
        t += strlen(twp);
        /* blackbox: "{labels} value" or " value"; twkit: ",labels} value" or "} value" */
        const char *bl = *b == '{' ? b + 1 : "", *tl = *t == ',' ? t + 1 : "";
        size_t bn = *b == '{' ? strcspn(bl, "}") : 0, tn = *t == ',' ? strcspn(tl, "}") : 0;
        cr_assert(bn == tn && !strncmp(bl, tl, bn), "%s: labels differ:\nblackbox %.*s\ntwkit    %.*s",
                  families[i], (int)bn, bl, (int)tn, tl);
        double bv = strtod(strchr(b, ' ') + 1, NULL), tv = strtod(strchr(t, ' ') + 1, NULL);
        cr_assert_eq(bv, tv, "%s: blackbox %g, twkit %g", families[i], bv, tv);
    }
}
