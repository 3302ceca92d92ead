/* The dns probe in the lab: a real DNS server from Debian (dnsmasq) on
 * the server namespace's addresses answering fixed records (A, AAAA,
 * CNAME, MX, TXT, NXDOMAIN, and 40 A records that do not fit a 512-byte
 * UDP answer), plus the odd server (tests/lab/dns_odd.py: SERVFAIL, an
 * answer with another ID, garbage, silence, DNS over TLS). Each check must
 * pass and fail where it should, in twkit's YAML (--once and scheduled)
 * and through /probe side by side with blackbox_exporter's dns prober.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "probe_lab.h"
#include "twkit/time.h"

TestSuite(probe_dns, .init = pl_setup, .fini = pl_teardown, .timeout = 120);

#define SRV "10.201.0.2"
#define ODD_PORT 5300 /* the odd server; DNS over TLS on 5301 */
#define BB_PORT 9115
#define TW_PORT 9116

static void start_dns(void)
{
    char c[256], k[256];
    char big[2048] = "";
    size_t used = 0;

    for (int i = 1; i <= 40; i++)
        used += (size_t)snprintf(big + used, sizeof(big) - used, " --host-record=big.lab,10.9.0.%d",
                                 i);
    /* TTL 300 for what dnsmasq serves itself; lab. is its own, and it is
     * authoritative for it over IPv4 (a SOA, authority records): a name
     * it does not know is NXDOMAIN */
    spawn(TW_LAB_SERVER,
          "dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces "
          "--listen-address=" SRV " --listen-address=fd00:201::2 --port=53 --local=/lab/ "
          "--local-ttl=300 --host-record=web.lab," SRV ",fd00:201::2 --cname=alias.lab,web.lab "
          "--auth-server=ns.lab," SRV " --auth-zone=lab --auth-soa=2026120201,hostmaster.lab --auth-ttl=300 "
          "--mx-host=lab,mail.lab,10 --txt-record=txt.lab,\"v=spf1 -all\",\"second string\"%s "
          "--pid-file= --log-facility=- 2>/dev/null",
          big);
    make_cert_named("dot.pem", "dot.key", -3600, 30 * 86400L, "dns.lab", "Lab", "IP:" SRV);
    spawn(TW_LAB_SERVER, "/usr/bin/python3 %s " SRV " %d %s %s", DNS_ODD_PY, ODD_PORT,
          tpath(c, sizeof(c), "dot.pem"), tpath(k, sizeof(k), "dot.key"));
    wait_listening(TW_LAB_SERVER, 53, "dnsmasq");
    /* The first IPv6 packet over the lab's fresh veth is lost (a ping's as
     * well as a query's): pass it before the tests' own. */
    for (int i = 0; i < 20 && run(TW_LAB_CLIENT, 2000, "ping -6 -c1 -W0.2 fd00:201::2 "
                                                      ">/dev/null 2>&1") != 0; i++)
        ;
    wait_listening(TW_LAB_SERVER, ODD_PORT + 1, "dns_odd.py (DNS over TLS)");
}

/* The lines of `twkit probe --once` over the config in tmpdir/name, run
 * in the client namespace. */
static char **probe_once(const char *name, size_t *n)
{
    char cfg[256], out[256], err[256];

    run(TW_LAB_CLIENT, 30000, "%s probe --once %s >%s 2>%s", TWKIT_BIN,
        tpath(cfg, sizeof(cfg), name), tpath(out, sizeof(out), "once.out"),
        tpath(err, sizeof(err), "once.err"));
    return split_lines(slurp("once.out"), n);
}

static const struct {
    const char *name, *result, *reason;
    int answers;     /* -1: not checked */
    bool tcp;
} want[] = {
    {"a", "success", NULL, 1, false},
    {"a_wrong", "failure", "records", 1, false},
    {"aaaa_v6", "success", NULL, 1, false},
    {"cname", "success", NULL, 2, false},
    {"cname_all", "failure", "records", 2, false},
    {"mx", "success", NULL, 1, false},
    {"txt", "success", NULL, 1, false},
    {"txt_bad", "failure", "records", 1, false},
    {"nxdomain", "failure", "rcode", 0, false},
    {"nxdomain_ok", "success", NULL, 0, false},
    {"none_rrs", "failure", "records", 0, false},
    {"authority", "success", NULL, 0, false},
    {"soa", "success", NULL, 1, false},
    {"servfail", "failure", "rcode", 0, false},
    {"servfail_ok", "success", NULL, 0, false},
    {"truncated", "success", NULL, 40, true},
    {"truncated_kept", "success", NULL, -1, false},
    {"tcp", "success", NULL, 1, true},
    {"edns", "success", NULL, 1, false},
    {"wrong_id", "success", NULL, 1, false},
    {"garbage", "failure", "malformed", -1, false},
    {"tsig", "failure", "tsig", -1, false},
    {"silent", "failure", "timeout", -1, false},
    {"refused", "failure", "refused", -1, false},
    {"dot", "success", NULL, 1, true},
    {"dot_unverified", "failure", "verify", -1, true},
};
#define NWANT (sizeof(want) / sizeof(want[0]))

Test(probe_dns, each_check_passes_and_fails_where_it_should)
{
    char **lines;
    size_t n;

    NEED_ROOT();
    start_dns();
    write_file("dns.yaml",
               "defaults: {timeout: 1s}\n"
               "probes:\n"
               "  - {name: a, kind: dns, target: " SRV ", query_name: web.lab, query_type: A,\n"
               "     validate_answer_rrs: {fail_if_not_matches_regexp: "
               "['^web\\.lab\\.\\t300\\tIN\\tA\\t10\\.201\\.0\\.2$']}}\n"
               "  - {name: a_wrong, kind: dns, target: " SRV ", query_name: web.lab, query_type: A,\n"
               "     validate_answer_rrs: {fail_if_matches_regexp: ['10\\.201\\.0\\.2']}}\n"
               "  - {name: aaaa_v6, kind: dns, target: '[fd00:201::2]:53', query_name: web.lab,\n"
               "     query_type: AAAA, validate_answer_rrs: {fail_if_not_matches_regexp: "
               "['\\tAAAA\\tfd00:201::2$']}}\n"
               "  - {name: cname, kind: dns, target: " SRV ", query_name: alias.lab, query_type: A,\n"
               "     validate_answer_rrs: {fail_if_none_matches_regexp: "
               "['^alias\\.lab\\.\\t300\\tIN\\tCNAME\\tweb\\.lab\\.$']}}\n"
               "  - {name: cname_all, kind: dns, target: " SRV ", query_name: alias.lab,\n"
               "     query_type: A, validate_answer_rrs: {fail_if_all_match_regexp: ['CNAME']}}\n"
               "  - {name: mx, kind: dns, target: " SRV ", query_name: lab, query_type: MX,\n"
               "     validate_answer_rrs: {fail_if_not_matches_regexp: ['\\tMX\\t10 mail\\.lab\\.$']}}\n"
               "  - {name: txt, kind: dns, target: " SRV ", query_name: txt.lab, query_type: TXT,\n"
               "     validate_answer_rrs: {fail_if_not_matches_regexp: "
               "['\\tTXT\\t\"v=spf1 -all\" \"second string\"$']}}\n"
               "  - {name: txt_bad, kind: dns, target: " SRV ", query_name: txt.lab,\n"
               "     query_type: TXT, validate_answer_rrs: {fail_if_not_matches_regexp: [spf2]}}\n"
               "  - {name: nxdomain, kind: dns, target: " SRV ", query_name: nothere.lab,\n"
               "     query_type: A}\n"
               "  - {name: nxdomain_ok, kind: dns, target: " SRV ", query_name: nothere.lab,\n"
               "     query_type: A, valid_rcodes: [NXDOMAIN]}\n"
               "  - {name: none_rrs, kind: dns, target: " SRV ", query_name: nothere.lab,\n"
               "     query_type: A, valid_rcodes: [NXDOMAIN],\n"
               "     validate_answer_rrs: {fail_if_none_matches_regexp: ['.']}}\n"
               "  - {name: authority, kind: dns, target: " SRV ", query_name: nothere.lab,\n"
               "     query_type: A, valid_rcodes: [NXDOMAIN], validate_authority_rrs:\n"
               "     {fail_if_not_matches_regexp: ['^lab\\.\\t300\\tIN\\tSOA\\tns\\.lab\\. "
               "hostmaster\\.lab\\. 2026120201 ']}}\n"
               "  - {name: soa, kind: dns, target: " SRV ", query_name: lab, query_type: SOA}\n"
               "  - {name: servfail, kind: dns, target: '" SRV ":5300', query_name: servfail.odd}\n"
               "  - {name: servfail_ok, kind: dns, target: '" SRV ":5300', query_name: servfail.odd,\n"
               "     valid_rcodes: [SERVFAIL, NOERROR]}\n"
               "  - {name: truncated, kind: dns, target: " SRV ", query_name: big.lab, query_type: A}\n"
               "  - {name: truncated_kept, kind: dns, target: " SRV ", query_name: big.lab,\n"
               "     query_type: A, tcp_fallback: false}\n"
               "  - {name: tcp, kind: dns, target: '" SRV ":53', query_name: web.lab, query_type: A,\n"
               "     transport_protocol: tcp}\n"
               "  - {name: edns, kind: dns, target: " SRV ", query_name: web.lab, query_type: A,\n"
               "     edns0_buffer_size: 1232, validate_additional_rrs: "
               "{fail_if_none_matches_regexp: ['OPT']}}\n"
               "  - {name: wrong_id, kind: dns, target: '" SRV ":5300', query_name: wrongid.odd,\n"
               "     query_type: A}\n"
               "  - {name: garbage, kind: dns, target: '" SRV ":5300', query_name: garbage.odd}\n"
               "  - {name: tsig, kind: dns, target: '" SRV ":5300', query_name: tsig.odd}\n"
               "  - {name: silent, kind: dns, target: '" SRV ":5300', query_name: silent.odd,\n"
               "     timeout: 300ms}\n"
               "  - {name: refused, kind: dns, target: '" SRV ":5399', query_name: web.lab}\n"
               "  - {name: dot, kind: dns, target: '" SRV ":5301', query_name: web.odd,\n"
               "     query_type: A, transport_protocol: tcp, dns_over_tls: true,\n"
               "     tls_config: {ca_file: dot.pem}}\n"
               "  - {name: dot_unverified, kind: dns, target: '" SRV ":5301', query_name: web.odd,\n"
               "     transport_protocol: tcp, dns_over_tls: true}\n");
    lines = probe_once("dns.yaml", &n);
    cr_assert_eq(n, NWANT, "expected %zu result lines, got %zu:\n%s\n%s", NWANT, n,
                 slurp("once.out"), slurp("once.err"));
    for (size_t i = 0; i < NWANT; i++) {
        const char *l = line_of(lines, n, want[i].name);
        char reason[64] = "";
        double v;

        cr_assert_not_null(l, "no line for %s:\n%s", want[i].name, slurp("once.out"));
        expect_str(l, "result", want[i].result);
        if (want[i].reason) {
            cr_assert(jstr(l, "reason", reason, sizeof(reason)), "%s: no reason: %s",
                      want[i].name, l);
            cr_assert_str_eq(reason, want[i].reason, "%s: %s", want[i].name, l);
        }
        if (want[i].answers >= 0) {
            cr_assert(jnum(l, "answer_rrs", &v), "%s: no answer_rrs: %s", want[i].name, l);
            cr_assert_eq((int)v, want[i].answers, "%s: %s", want[i].name, l);
        }
        cr_assert_eq(strstr(l, "\"tcp\":true") != NULL, want[i].tcp, "%s: tcp?: %s",
                     want[i].name, l);
    }
    /* the truncated answer kept: what fitted in 512 bytes, fewer than 40 */
    {
        double v = 0;
        cr_assert(jnum(line_of(lines, n, "truncated_kept"), "answer_rrs", &v));
        cr_assert(v > 0 && v < 40, "truncated_kept: %g answers", v);
    }
    /* TCP queries end with RST: no TIME_WAIT on either side */
    cr_assert_eq(time_wait_off_loopback(TW_LAB_CLIENT), 0, "TIME_WAIT in the prober's namespace");
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0, "TIME_WAIT in the servers' namespace");
}

/* Scheduled: every 100 ms for 2 s over UDP and TCP, IPv4 and IPv6; the
 * /metrics series say what blackbox's do. */
Test(probe_dns, scheduled_probes_fill_metrics_and_leave_no_time_wait)
{
    char cfg[256], lg[256], p[256];
    const char *m;
    pid_t pr;

    NEED_ROOT();
    start_dns();
    write_file("sched.yaml",
               "defaults: {interval: 100ms, timeout: 90ms}\n"
               "probes:\n"
               "  - {name: udp, kind: dns, target: " SRV ", query_name: web.lab, query_type: A}\n"
               "  - {name: udp6, kind: dns, target: '[fd00:201::2]', query_name: web.lab,\n"
               "     query_type: A}\n"
               "  - {name: tcp, kind: dns, target: " SRV ", query_name: alias.lab, query_type: A,\n"
               "     transport_protocol: tcp}\n"
               "  - {name: tcp6, kind: dns, target: 'fd00:201::2', query_name: alias.lab,\n"
               "     query_type: A, transport_protocol: tcp}\n");
    pr = spawn(TW_LAB_CLIENT, "%s probe %s --listen 127.0.0.1:%u >%s 2>&1", TWKIT_BIN,
               tpath(cfg, sizeof(cfg), "sched.yaml"), TW_PORT, tpath(lg, sizeof(lg), "s.log"));
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
    usleep(2000000);
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "curl -s -o %s http://127.0.0.1:%u/metrics",
                     tpath(p, sizeof(p), "m.txt"), TW_PORT), 0);
    m = slurp("m.txt");
    expect_sample(m, "probe_success{name=\"udp\",kind=\"dns\",target=\"" SRV "\"}", 1, 1);
    expect_sample(m, "probe_success{name=\"udp6\",kind=\"dns\",target=\"[fd00:201::2]\"}", 1, 1);
    expect_sample(m, "probe_success{name=\"tcp\",kind=\"dns\",target=\"" SRV "\"}", 1, 1);
    expect_sample(m, "probe_dns_answer_rrs{name=\"tcp6\",kind=\"dns\",target=\"fd00:201::2\"}",
                  2, 2);
    expect_sample(m, "probe_dns_query_succeeded{name=\"udp\",kind=\"dns\",target=\"" SRV "\"}",
                  1, 1);
    expect_sample(m, "probe_ip_protocol{name=\"udp6\",kind=\"dns\",target=\"[fd00:201::2]\"}",
                  6, 6);
    expect_sample(m, "probe_dns_duration_seconds{name=\"tcp\",kind=\"dns\",target=\"" SRV
                     "\",phase=\"request\"}", 1e-6, 0.09);
    cr_assert(!strstr(m, "probe_failed_due_to_regex{name=\"udp\""), "%s", m);
    cr_assert(!strstr(m, "probe_dns_serial{"), "serial without SOA:\n%s", m);
    expect_sample(m, "twkit_probes_total{name=\"tcp\",kind=\"dns\",result=\"failure\"}",
                  0, 0);
    stop(pr, SIGTERM, 5000);
    cr_assert_eq(time_wait_off_loopback(TW_LAB_CLIENT), 0, "TIME_WAIT in the prober's namespace");
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0, "TIME_WAIT in the server's namespace");
}

/* DNS over TLS with tls_resumption: the TLS 1.3 ticket the server (Python's
 * ssl, OpenSSL underneath) sends after the handshake is read before the
 * answer and kept, so most queries resume; a full handshake, its chain
 * verified, still comes every tls_full_handshake_every (1 s here); and
 * /metrics says which handshake the last probe did. */
Test(probe_dns, dns_over_tls_resumes_its_sessions_and_still_verifies_at_its_period)
{
    char cfg[256], lg[256], p[256], hs[64];
    int full = 0, resumed = 0, other = 0, plain = 0;
    char **lines;
    size_t n;
    pid_t pr;

    NEED_ROOT();
    start_dns();
    write_file("dot.yaml",
               "defaults: {interval: 100ms, timeout: 90ms, tls_config: {ca_file: dot.pem}}\n"
               "probes:\n"
               "  - {name: dot_resume, kind: dns, target: '" SRV ":5301', query_name: web.odd,\n"
               "     transport_protocol: tcp, dns_over_tls: true, tls_resumption: true,\n"
               "     tls_full_handshake_every: 1s}\n"
               "  - {name: dot_full, kind: dns, target: '" SRV ":5301', query_name: web.odd,\n"
               "     transport_protocol: tcp, dns_over_tls: true}\n");
    pr = spawn(TW_LAB_CLIENT, "%s probe %s --listen 127.0.0.1:%u --log-results --log %s "
                              "--duration 3s 2>/dev/null", TWKIT_BIN,
               tpath(cfg, sizeof(cfg), "dot.yaml"), TW_PORT, tpath(lg, sizeof(lg), "dot.log"));
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
    usleep(2000000);
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "curl -s -o %s http://127.0.0.1:%u/metrics",
                     tpath(p, sizeof(p), "m.txt"), TW_PORT), 0);
    cr_assert_eq(stop(pr, 0, 8000), 0, "twkit probe did not end");
    cr_assert(strstr(slurp("m.txt"), "twkit_probe_tls_handshake_info{name=\"dot_resume\","
                                     "kind=\"dns\",target=\"" SRV ":5301\",handshake=\""),
              "no handshake info for dot_resume:\n%s", slurp("m.txt"));
    cr_assert(!strstr(slurp("m.txt"), "twkit_probe_tls_handshake_info{name=\"dot_full\""),
              "handshake info without tls_resumption:\n%s", slurp("m.txt"));
    lines = split_lines(slurp("dot.log"), &n);
    for (size_t i = 0; i < n; i++) {
        if (!strstr(lines[i], "\"event\":\"result\""))
            continue;
        expect_str(lines[i], "result", "success");
        hs[0] = 0;
        jstr(lines[i], "handshake", hs, sizeof(hs));
        if (strstr(lines[i], "\"dot_full\"")) {
            plain++;
            cr_assert_str_eq(hs, "", "a handshake field without tls_resumption: %s", lines[i]);
            continue;
        }
        full += !strcmp(hs, "full");
        resumed += !strcmp(hs, "resumed");
        other += strcmp(hs, "full") && strcmp(hs, "resumed");
    }
    cr_log_info("dot_resume: %d full, %d resumed, %d other; dot_full: %d", full, resumed, other,
                plain);
    cr_assert_geq(plain, 10, "dot_full: %d probes", plain);
    cr_assert_geq(resumed, 10, "dot_resume: only %d resumed (%d full)", resumed, full);
    cr_assert(full >= 2 && full <= 5, "dot_resume: %d full handshakes in 3 s at 1 s", full);
    cr_assert_eq(other, 0, "dot_resume: %d probes neither full nor resumed", other);
    cr_assert_eq(time_wait_off_loopback(TW_LAB_CLIENT), 0, "TIME_WAIT in the prober's namespace");
}

/* ---- side by side with blackbox_exporter ---- */

/* blackbox_exporter and twkit probe on tmpdir/blackbox.yml, in the
 * client namespace. */
static void run_exporters(void)
{
    char bb[256], log[256];

    tpath(bb, sizeof(bb), "blackbox.yml");
    spawn(TW_LAB_CLIENT,
          "prometheus-blackbox-exporter --config.file=%s --web.listen-address=127.0.0.1:%u "
          ">%s 2>&1", bb, BB_PORT, tpath(log, sizeof(log), "bb.log"));
    spawn(TW_LAB_CLIENT, "%s probe --blackbox-config %s --listen 127.0.0.1:%u >%s 2>&1",
          TWKIT_BIN, bb, TW_PORT, tpath(log, sizeof(log), "tw.log"));
    wait_listening(TW_LAB_CLIENT, BB_PORT, "blackbox_exporter");
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
}

static void start_exporters(void)
{
    write_file("blackbox.yml",
               "modules:\n"
               "  a:\n"
               "    prober: dns\n"
               "    dns:\n"
               "      query_name: web.lab\n"
               "      query_type: A\n"
               "      validate_answer_rrs:\n"
               "        fail_if_not_matches_regexp: ['^web\\.lab\\.\\t300\\tIN\\tA\\t10\\.201\\.0\\.2$']\n"
               "  a_bad:\n"
               "    prober: dns\n"
               "    dns:\n"
               "      query_name: web.lab\n"
               "      query_type: A\n"
               "      validate_answer_rrs:\n"
               "        fail_if_matches_regexp: ['10\\.201']\n"
               "  aaaa:\n"
               "    prober: dns\n"
               "    dns: {query_name: web.lab, query_type: AAAA, preferred_ip_protocol: ip4}\n"
               "  cname:\n"
               "    prober: dns\n"
               "    dns:\n"
               "      query_name: alias.lab\n"
               "      query_type: A\n"
               "      validate_answer_rrs:\n"
               "        fail_if_none_matches_regexp: ['\\tCNAME\\tweb\\.lab\\.$']\n"
               "        fail_if_all_match_regexp: ['\\tIN\\t']\n"
               "  mx:\n"
               "    prober: dns\n"
               "    dns:\n"
               "      query_name: lab\n"
               "      query_type: MX\n"
               "      validate_answer_rrs: {fail_if_not_matches_regexp: ['\\t10 mail\\.lab\\.$']}\n"
               "  txt:\n"
               "    prober: dns\n"
               "    dns:\n"
               "      query_name: txt.lab\n"
               "      query_type: TXT\n"
               "      validate_answer_rrs:\n"
               "        fail_if_not_matches_regexp: ['\"v=spf1 -all\" \"second string\"$']\n"
               "  nx:\n"
               "    prober: dns\n"
               "    dns: {query_name: nothere.lab, query_type: A}\n"
               "  nx_ok:\n"
               "    prober: dns\n"
               "    dns: {query_name: nothere.lab, query_type: A, valid_rcodes: [NXDOMAIN]}\n"
               "  servfail:\n"
               "    prober: dns\n"
               "    dns: {query_name: servfail.odd, query_type: A}\n"
               "  tcp:\n"
               "    prober: dns\n"
               "    dns: {query_name: web.lab, query_type: A, transport_protocol: tcp}\n"
               "  soa:\n"
               "    prober: dns\n"
               "    dns: {query_name: lab, query_type: SOA}\n"
               "  nx_authority:\n"
               "    prober: dns\n"
               "    dns:\n"
               "      query_name: nothere.lab\n"
               "      valid_rcodes: [NXDOMAIN]\n"
               "      validate_authority_rrs: {fail_if_none_matches_regexp: ['\\tSOA\\t']}\n"
               "      validate_additional_rrs: {fail_if_matches_regexp: ['.']}\n"
               "  dot:\n"
               "    prober: dns\n"
               "    dns:\n"
               "      query_name: web.odd\n"
               "      query_type: A\n"
               "      transport_protocol: tcp\n"
               "      dns_over_tls: true\n"
               "      tls_config: {ca_file: %s/dot.pem}\n"
               "  tsig:\n"
               "    prober: dns\n"
               "    dns: {query_name: tsig.odd, query_type: A}\n"
               "  norec:\n"
               "    prober: dns\n"
               "    dns: {query_name: web.lab, query_type: A, recursion_desired: false}\n",
               tmpdir);
    run_exporters();
}

static const struct {
    const char *module, *target;
    int success;
} cases[] = {
    {"a", SRV, 1},
    {"a", SRV ":53", 1},
    {"a", "[fd00:201::2]:53", 1},
    {"a_bad", SRV, 0},
    {"aaaa", SRV, 1},
    {"cname", SRV, 1},
    {"mx", SRV, 1},
    {"txt", SRV, 1},
    {"nx", SRV, 0},
    {"nx_ok", SRV, 1},
    {"servfail", SRV ":5300", 0},
    {"tcp", SRV, 1},
    {"norec", SRV, 1},
    {"soa", SRV, 1},
    {"nx_authority", SRV, 1},
    {"dot", SRV ":5301", 1},
    {"dot", SRV ":5300", 0},    /* no TLS there */
    {"tsig", SRV ":5300", 0},   /* signed, and no key */
    {"a", SRV ":5399", 0},      /* nothing listens: ICMP port unreachable */
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

Test(probe_dns, every_module_answers_as_blackbox_exporters_dns_prober_does)
{
    NEED_ROOT();
    start_dns();
    start_exporters();
    for (size_t i = 0; i < NCASES; i++)
        cr_assert_eq(pl_compare(BB_PORT, TW_PORT, cases[i].module, cases[i].target, true),
                     cases[i].success, "%s %s: probe_success", cases[i].module, cases[i].target);
}

/* A truncated UDP answer: blackbox reports what fitted; twkit asks again
 * over TCP (RFC 7766) and reports all 40. */
Test(probe_dns, a_truncated_answer_is_asked_again_over_tcp)
{
    struct pl_answer *bb = keep(calloc(1, sizeof(*bb))), *tw = keep(calloc(1, sizeof(*tw)));
    const struct pl_series *b, *t;

    NEED_ROOT();
    start_dns();
    write_file("blackbox.yml", "modules:\n  big:\n    prober: dns\n"
                               "    dns: {query_name: big.lab, query_type: A}\n");
    run_exporters();
    pl_parse(pl_probe(BB_PORT, "big", SRV, "bb.txt"), bb);
    pl_parse(pl_probe(TW_PORT, "big", SRV, "tw.txt"), tw);
    cr_assert_not_null(b = pl_find(bb, "probe_dns_answer_rrs"), "%s", slurp("bb.txt"));
    cr_assert_not_null(t = pl_find(tw, "probe_dns_answer_rrs"), "%s", slurp("tw.txt"));
    cr_assert_eq(t->v, 40, "twkit: %s", slurp("tw.txt"));
    cr_assert(b->v < 40, "blackbox: %s", slurp("bb.txt"));
    cr_assert_eq(pl_find(tw, "probe_success")->v, 1);
    cr_assert_eq(time_wait_off_loopback(TW_LAB_CLIENT), 0, "TIME_WAIT in the prober's namespace");
}
