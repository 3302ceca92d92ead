/* twkit probe in the lab: the address family a probe takes (names through
 * a DNS server of the test's, literals, redirects), the source address it
 * binds, the TIME_WAIT it counts as its own among other clients', and
 * /metrics gzip-compressed for curl and a real Prometheus.
 *
 * The servers (DNS on 10.201.0.2:53, TCP on 7001-7003) and the relay and
 * TIME_WAIT-making client are tests/lab/probe_ip_lab.py, next to this
 * file; the prober is the twkit binary (TWKIT_BIN) in the client
 * namespace, resolving through the test's server where a test needs names
 * (resolv.conf bound over /etc/resolv.conf in a mount namespace of its
 * own). Every process is registered and killed in the fixture's fini and
 * runs with a parent-death signal.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "probe_lab.h"
#include "twkit/time.h"

static char script[512]; /* probe_ip_lab.py */

static void setup(void)
{
    const char *slash = strrchr(__FILE__, '/');

    snprintf(script, sizeof(script), "%.*sprobe_ip_lab.py",
             slash ? (int)(slash - __FILE__ + 1) : 0, __FILE__);
    pl_setup();
}

TestSuite(probe_ip, .init = setup, .fini = pl_teardown, .timeout = 60);

/* ---- the servers and the prober ---- */

/* The test's DNS and TCP servers in the server namespace, logging to
 * tmpdir/servers.log; IPv6 between the sides working (for a moment after
 * the link comes up, neighbour discovery loses the first packets). */
static void start_servers(void)
{
    char log[256];
    int rc = 1;

    for (int i = 0; i < 30 && rc != 0; i++)
        rc = run(TW_LAB_CLIENT, 3000, "ping -6 -c1 -W1 -q fd00:201::2 >/dev/null 2>&1");
    cr_assert_eq(rc, 0, "no IPv6 between the lab's sides");

    spawn(TW_LAB_SERVER, "/usr/bin/python3 %s servers %s 2>%s.err", script,
          tpath(log, sizeof(log), "servers.log"), log);
    cr_assert_eq(wait_for("servers.log", "ready\n", 1, 5000), 1, "servers: %s",
                 slurp("servers.log.err"));
    wait_listening(TW_LAB_SERVER, 7003, "probe_ip_lab.py servers");
}

/* twkit probe ARGS CONFIG in the client namespace, resolving through the
 * test's DNS server, with an /etc/hosts that gives localhost 127.0.0.1
 * alone; stdout and stderr to tmpdir/probe.out. */
static pid_t spawn_probe(const char *args, const char *cfg)
{
    char rc[256], hosts[256], c[256], out[256];

    write_file("resolv.conf", "nameserver 10.201.0.2\noptions timeout:1 attempts:1\n");
    write_file("hosts", "127.0.0.1 localhost\n");
    return spawn(TW_LAB_CLIENT,
                 "unshare -m sh -c 'mount --bind %s /etc/resolv.conf && "
                 "mount --bind %s /etc/hosts && exec %s probe %s %s' >%s 2>&1",
                 tpath(rc, sizeof(rc), "resolv.conf"), tpath(hosts, sizeof(hosts), "hosts"),
                 TWKIT_BIN, args, tpath(c, sizeof(c), cfg),
                 tpath(out, sizeof(out), "probe.out"));
}

/* twkit probe --once CONFIG to its end: the JSON log. */
static char *probe_once(const char *cfg)
{
    char args[512], log[256];
    pid_t pid;
    int status;

    snprintf(args, sizeof(args), "--once --listen off --summary --log %s",
             tpath(log, sizeof(log), "once.log"));
    pid = spawn_probe(args, cfg);
    cr_assert(wait_exit(pid, 15000, &status), "twkit probe --once did not finish");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) <= 1, "twkit probe: status %d:\n%s",
              status, slurp("probe.out"));
    return slurp("once.log");
}

/* ---- JSON lines and Prometheus text ---- */

/* The first line of text with "name":"NAME", kept. */
static const char *first_line_of(const char *text, const char *name)
{
    char pat[128];
    const char *p;

    snprintf(pat, sizeof(pat), "\"name\":\"%s\"", name);
    cr_assert_not_null(p = strstr(text, pat), "no result for %s in:\n%s", name, text);
    while (p > text && p[-1] != '\n')
        p--;
    return keep(strndup(p, strcspn(p, "\n")));
}

static void expect_field(const char *line, const char *key, const char *want)
{
    char pat[256];

    snprintf(pat, sizeof(pat), "\"%s\":\"%s\"", key, want);
    cr_assert_not_null(strstr(line, pat), "expected %s in %s", pat, line);
}

static void expect_no_field(const char *line, const char *key)
{
    char pat[64];

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    cr_assert_null(strstr(line, pat), "expected no %s in %s", key, line);
}

static double summary_num(const char *out, const char *key)
{
    const char *s = strstr(out, "{\"event\":\"summary\"");
    char pat[64];
    const char *v;

    cr_assert_not_null(s, "no summary line in:\n%s", out);
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    cr_assert_not_null(v = strstr(s, pat), "no %s in %s", key, s);
    return strtod(v + strlen(pat), NULL);
}

/* blackbox_exporter 0.23's probe_ip_addr_hash of the server's addresses */
#define HASH_SERVER4 204318978.0   /* 10.201.0.2 */
#define HASH_SERVER6 2029891943.0  /* fd00:201::2 */

/* ---- 1. the family of a name ---- */

Test(probe_ip, names_take_the_preferred_family_and_fall_back_as_blackbox_does)
{
    char args[512], log[256];
    static const char *const names[] = {"dual6",    "dual4",    "dual6only", "v4fallback",
                                        "v4strict", "v6fallback", "v6strict", "nxdomain",
                                        "web6",     "web4"};
    const char *l, *m, *dns;
    pid_t prober;

    NEED_ROOT();
    start_servers();
    write_file("names.yaml",
               "defaults: {interval: 1s, timeout: 900ms}\n"
               "probes:\n"
               "  - {name: dual6, kind: tcp, target: 'dual.test:7001'}\n"
               "  - {name: dual4, kind: tcp, target: 'dual.test:7001', preferred_ip_protocol: ip4}\n"
               "  - {name: dual6only, kind: tcp, target: 'dual.test:7001',\n"
               "     ip_protocol_fallback: false}\n"
               "  - {name: v4fallback, kind: tcp, target: 'v4.test:7001'}\n"
               "  - {name: v4strict, kind: tcp, target: 'v4.test:7001', ip_protocol_fallback: no}\n"
               "  - {name: v6fallback, kind: tcp, target: 'v6.test:7001',\n"
               "     preferred_ip_protocol: ip4}\n"
               "  - {name: v6strict, kind: tcp, target: 'v6.test:7001', preferred_ip_protocol: ip4,\n"
               "     ip_protocol_fallback: false}\n"
               "  - {name: nxdomain, kind: tcp, target: 'nope.test:7001'}\n"
               /* the body says whom the server saw: the family curl really used */
               "  - {name: web6, kind: http, target: 'http://dual.test:7002/',\n"
               "     expect_body: 'from fd00:201::1'}\n"
               "  - {name: web4, kind: http, target: 'http://dual.test:7002/',\n"
               "     preferred_ip_protocol: ip4, expect_body: 'from 10\\.201\\.0\\.1\\n'}\n");
    snprintf(args, sizeof(args), "--listen 127.0.0.1:9464 --log-results --log %s",
             tpath(log, sizeof(log), "names.log"));
    prober = spawn_probe(args, "names.yaml");
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char pat[64];
        snprintf(pat, sizeof(pat), "\"name\":\"%s\"", names[i]);
        cr_assert_geq(wait_for("names.log", pat, 1, 5000), 1, "no result for %s:\n%s", names[i],
                     slurp("names.log"));
    }
    m = fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/metrics", "", "metrics.txt");
    stop(prober, SIGTERM, 5000);
    l = slurp("names.log");

    /* ip6 is preferred; with the fallback an IPv4-only name still works */
    expect_field(first_line_of(l, "dual6"), "address", "[fd00:201::2]:7001");
    expect_field(first_line_of(l, "dual6"), "result", "success");
    expect_field(first_line_of(l, "dual4"), "address", "10.201.0.2:7001");
    expect_field(first_line_of(l, "dual6only"), "address", "[fd00:201::2]:7001");
    expect_field(first_line_of(l, "v4fallback"), "address", "10.201.0.2:7001");
    expect_field(first_line_of(l, "v4fallback"), "result", "success");
    expect_field(first_line_of(l, "v6fallback"), "address", "[fd00:201::2]:7001");
    expect_field(first_line_of(l, "v6fallback"), "result", "success");
    /* without it the name must have the preferred family */
    expect_field(first_line_of(l, "v4strict"), "reason", "dns");
    expect_field(first_line_of(l, "v4strict"), "detail", "v4.test: no IPv6 address");
    expect_no_field(first_line_of(l, "v4strict"), "address");
    expect_field(first_line_of(l, "v6strict"), "detail", "v6.test: no IPv4 address");
    expect_field(first_line_of(l, "nxdomain"), "reason", "dns");
    expect_field(first_line_of(l, "web6"), "result", "success");
    expect_field(first_line_of(l, "web6"), "address", "[fd00:201::2]:7002");
    expect_field(first_line_of(l, "web4"), "result", "success");
    expect_field(first_line_of(l, "web4"), "address", "10.201.0.2:7002");

#define T(name, target) "{name=\"" name "\",kind=\"tcp\",target=\"" target "\"}"
    expect_sample(m, "probe_ip_protocol" T("dual6", "dual.test:7001"), 6, 6);
    expect_sample(m, "probe_ip_addr_hash" T("dual6", "dual.test:7001"), HASH_SERVER6, HASH_SERVER6);
    expect_sample(m, "probe_ip_protocol" T("dual4", "dual.test:7001"), 4, 4);
    expect_sample(m, "probe_ip_addr_hash" T("dual4", "dual.test:7001"), HASH_SERVER4, HASH_SERVER4);
    expect_sample(m, "probe_ip_protocol" T("v4fallback", "v4.test:7001"), 4, 4);
    /* blackbox_exporter writes both as 0 when the name did not resolve */
    expect_sample(m, "probe_ip_protocol" T("v4strict", "v4.test:7001"), 0, 0);
    expect_sample(m, "probe_ip_addr_hash" T("v4strict", "v4.test:7001"), 0, 0);
    expect_sample(m, "probe_ip_protocol" T("nxdomain", "nope.test:7001"), 0, 0);
    expect_sample(m, "probe_ip_addr_hash" T("nxdomain", "nope.test:7001"), 0, 0);
    expect_sample(m, "probe_success" T("nxdomain", "nope.test:7001"), 0, 0);
#undef T
    expect_sample(m, "probe_ip_protocol{name=\"web6\",kind=\"http\",target=\"http://dual.test:7002/\"}",
                  6, 6);
    cr_assert_not_null(strstr(m, "# HELP probe_ip_addr_hash Specifies the hash of IP address. "
                                 "It's useful to detect if the IP address changes.\n"));
    cr_assert_not_null(
        strstr(m, "# HELP probe_ip_protocol Specifies whether probe ip protocol is IP4 or IP6\n"));

    /* cached per name and family asked: the probes that may fall back share
     * one A + AAAA lookup of dual.test, dual6only asks its AAAA alone, and
     * the second round of probes asks nothing (TTL 300 s). Each thread
     * (--threads, 2 on this machine) keeps a cache of its own: at most one
     * lookup per thread (without the cache, two rounds ask twice as many) */
    dns = slurp("servers.log");
    int a = count_of(dns, "dns dual.test A\n"), aaaa = count_of(dns, "dns dual.test AAAA\n");
    cr_assert(a >= 1 && a <= 2, "%d A lookups:\n%s", a, dns);
    cr_assert(aaaa >= 2 && aaaa <= 4, "%d AAAA lookups:\n%s", aaaa, dns);
}

/* ---- 2. literals ---- */

Test(probe_ip, a_literal_keeps_its_family_and_fails_only_without_the_fallback)
{
    const char *l;

    NEED_ROOT();
    start_servers();
    write_file("lit.yaml",
               "defaults: {timeout: 1s}\n"
               "probes:\n"
               "  - {name: lit4, kind: tcp, target: '10.201.0.2:7001'}\n"
               "  - {name: lit4strict, kind: tcp, target: '10.201.0.2:7001',\n"
               "     ip_protocol_fallback: false}\n"
               "  - {name: lit4strict4, kind: tcp, target: '10.201.0.2:7001',\n"
               "     preferred_ip_protocol: ip4, ip_protocol_fallback: false}\n"
               "  - {name: lit6, kind: tcp, target: '[fd00:201::2]:7001', preferred_ip_protocol: ip4}\n"
               "  - {name: lit6strict4, kind: tcp, target: '[fd00:201::2]:7001',\n"
               "     preferred_ip_protocol: ip4, ip_protocol_fallback: false}\n"
               "  - {name: web6strict4, kind: http, target: 'http://[fd00:201::2]:7002/',\n"
               "     preferred_ip_protocol: ip4, ip_protocol_fallback: false}\n"
               /* a name, but the same rule: no AAAA for localhost made up */
               "  - {name: lh, kind: tcp, target: 'localhost:9'}\n"
               "  - {name: lhstrict, kind: tcp, target: 'localhost:9', ip_protocol_fallback: false}\n");
    l = probe_once("lit.yaml");
    expect_field(first_line_of(l, "lit4"), "result", "success");
    expect_field(first_line_of(l, "lit4"), "address", "10.201.0.2:7001");
    expect_field(first_line_of(l, "lit4strict"), "result", "failure");
    expect_field(first_line_of(l, "lit4strict"), "reason", "dns");
    expect_field(first_line_of(l, "lit4strict"), "detail",
                 "10.201.0.2 is not an IPv6 address, and ip_protocol_fallback is false");
    expect_field(first_line_of(l, "lit4strict4"), "result", "success");
    expect_field(first_line_of(l, "lit6"), "result", "success");
    expect_field(first_line_of(l, "lit6"), "address", "[fd00:201::2]:7001");
    expect_field(first_line_of(l, "lit6strict4"), "reason", "dns");
    expect_field(first_line_of(l, "web6strict4"), "reason", "dns");
    expect_field(first_line_of(l, "lh"), "address", "127.0.0.1:9");
    expect_field(first_line_of(l, "lhstrict"), "detail", "localhost: no IPv6 address");
    cr_assert_eq(count_of(slurp("servers.log"), "7002 "), 0, "no http request was made");
}

/* ---- 3. source addresses ---- */

Test(probe_ip, source_ip_address_binds_tcp_tls_and_http_probes)
{
    const char *l, *seen;

    NEED_ROOT();
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "ip addr add 10.201.0.11/24 dev tw0"), 0);
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "ip addr add fd00:201::11/64 dev tw0 nodad"), 0);
    start_servers();
    /* the servers say whom they saw: the expectations pass only from .11 */
    write_file("src.yaml",
               "defaults: {timeout: 500ms}\n"
               "probes:\n"
               "  - {name: tcp_src, kind: tcp, target: '10.201.0.2:7001',\n"
               "     source_ip_address: 10.201.0.11, expect: 'from 10\\.201\\.0\\.11\\n'}\n"
               "  - {name: tcp_any, kind: tcp, target: '10.201.0.2:7001',\n"
               "     expect: 'from 10\\.201\\.0\\.11\\n'}\n"
               "  - {name: tcp_src6, kind: tcp, target: '[fd00:201::2]:7001',\n"
               "     source_ip_address: 'fd00:201::11', expect: 'from fd00:201::11\\n'}\n"
               "  - {name: tcp_other_family, kind: tcp, target: '10.201.0.2:7001',\n"
               "     source_ip_address: 'fd00:201::11'}\n"
               "  - {name: tcp_not_ours, kind: tcp, target: '10.201.0.2:7001',\n"
               "     source_ip_address: 10.201.0.99}\n"
               "  - {name: http_src, kind: http, target: 'http://10.201.0.2:7002/',\n"
               "     source_ip_address: 10.201.0.11, expect_body: 'from 10\\.201\\.0\\.11\\n'}\n"
               "  - {name: http_any, kind: http, target: 'http://10.201.0.2:7002/',\n"
               "     expect_body: 'from 10\\.201\\.0\\.11\\n'}\n"
               /* 7003 accepts and closes: the handshake fails, the server
                * saw the source */
               "  - {name: tls_src, kind: tls, target: '10.201.0.2:7003',\n"
               "     source_ip_address: 10.201.0.11}\n");
    l = probe_once("src.yaml");
    expect_field(first_line_of(l, "tcp_src"), "result", "success");
    cr_assert_not_null(strstr(first_line_of(l, "tcp_any"), "\"regex_failed\":true"), "%s",
                       first_line_of(l, "tcp_any"));
    expect_field(first_line_of(l, "tcp_src6"), "result", "success");
    expect_field(first_line_of(l, "tcp_other_family"), "error", "EAFNOSUPPORT");
    expect_field(first_line_of(l, "tcp_other_family"), "detail",
                 "source_ip_address fd00:201::11 is IPv6, the target's address 10.201.0.2 is not");
    /* an address this host does not have: this host cannot probe */
    expect_field(first_line_of(l, "tcp_not_ours"), "result", "local_error");
    expect_field(first_line_of(l, "tcp_not_ours"), "error", "EADDRNOTAVAIL");
    expect_field(first_line_of(l, "http_src"), "result", "success");
    expect_field(first_line_of(l, "http_any"), "reason", "body");
    expect_field(first_line_of(l, "tls_src"), "result", "failure");
    seen = slurp("servers.log");
    cr_assert_not_null(strstr(seen, "7003 10.201.0.11\n"), "the tls probe came from %s", seen);
    cr_assert_null(strstr(seen, "7003 10.201.0.1\n"), "%s", seen);
}

/* ---- 4. redirects ---- */

Test(probe_ip, a_redirect_keeps_the_family_only_without_the_fallback)
{
    const char *l;

    NEED_ROOT();
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "ip addr add 10.201.0.11/24 dev tw0"), 0);
    start_servers();
    /* /redir6 sends the probe to v6.test, a name curl resolves itself */
    write_file("redir.yaml",
               "defaults: {timeout: 2s, interval: 2s}\n"
               "probes:\n"
               "  - {name: falls_back, kind: http, target: 'http://10.201.0.2:7002/redir6',\n"
               "     max_redirects: 1, preferred_ip_protocol: ip4}\n"
               "  - {name: strict, kind: http, target: 'http://10.201.0.2:7002/redir6',\n"
               "     max_redirects: 1, preferred_ip_protocol: ip4, ip_protocol_fallback: false}\n"
               "  - {name: bound, kind: http, target: 'http://10.201.0.2:7002/redir4',\n"
               "     max_redirects: 1, source_ip_address: 10.201.0.11,\n"
               "     expect_body: 'from 10\\.201\\.0\\.11\\n'}\n");
    l = probe_once("redir.yaml");
    expect_field(first_line_of(l, "falls_back"), "result", "success");
    expect_field(first_line_of(l, "strict"), "result", "failure");
    expect_field(first_line_of(l, "strict"), "reason", "dns");
    /* the hop after the redirect binds the source address too */
    expect_field(first_line_of(l, "bound"), "result", "success");
    cr_assert_not_null(strstr(slurp("servers.log"), "7002 fd00:201::1 /\n"),
                       "falls_back did not reach v6.test over IPv6: %s", slurp("servers.log"));
}

/* ---- 5. TIME_WAIT of the prober's own ---- */

static const char *tw_config(const char *name, const char *close)
{
    write_file(name,
               "defaults: {interval: 500ms, timeout: 400ms, close: %s}\n"
               "probes:\n"
               "  - {name: t, kind: tcp, target: '10.201.0.2:7001'}\n"
               "  - {name: web, kind: http, target: 'http://10.201.0.2:7002/'}\n",
               close);
    return name;
}

/* /metrics until the prober's TIME_WAIT gauge equals its successes (a
 * close can be in flight while /metrics is written: asked again). */
static const char *metrics_settled(double *own, double *ok)
{
    const char *m = "";

    for (int i = 0; i < 10; i++) {
        m = fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/metrics", "", "metrics.txt");
        *own = sample(m, "twkit_probe_time_wait_sockets");
        *ok = sample(m, "twkit_probes_total{name=\"t\",kind=\"tcp\",result=\"success\"}") +
              sample(m, "twkit_probes_total{name=\"web\",kind=\"http\",result=\"success\"}");
        if (*own == *ok)
            break;
        usleep(50000);
    }
    return m;
}

Test(probe_ip, the_time_wait_gauge_counts_the_probers_own_not_the_namespaces)
{
    char args[512], log[256];
    const char *m;
    double own, ok, all;
    pid_t prober;
    int status;

    NEED_ROOT();
    start_servers();
    /* another client of this namespace leaves 5 TIME_WAIT sockets here */
    cr_assert_eq(run(TW_LAB_CLIENT, 10000, "/usr/bin/python3 %s churn 10.201.0.2 7002 5", script),
                 0);

    /* RST endings: none of the namespace's TIME_WAIT is the prober's */
    snprintf(args, sizeof(args), "--listen 127.0.0.1:9464 --summary --log-results --log %s",
             tpath(log, sizeof(log), "rst.log"));
    prober = spawn_probe(args, tw_config("rst.yaml", "reset"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    cr_assert_geq(wait_for("rst.log", "\"event\":\"result\"", 4, 5000), 4);
    m = fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/metrics", "", "metrics.txt");
    expect_sample(m, "twkit_probe_time_wait_sockets", 0, 0);
    all = sample(m, "twkit_probe_netns_time_wait_sockets");
    cr_assert_geq(all, 5, "the namespace holds the other client's 5: %.0f", all);
    status = stop(prober, SIGTERM, 5000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
    cr_assert_eq(summary_num(slurp("probe.out"), "time_wait"), 0, "%s", slurp("probe.out"));

    /* graceful endings: one TIME_WAIT per probe, every one counted, and
     * still after a reload */
    snprintf(args, sizeof(args), "--listen 127.0.0.1:9464 --log-results --log %s",
             tpath(log, sizeof(log), "graceful.log"));
    prober = spawn_probe(args, tw_config("graceful.yaml", "graceful"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    cr_assert_geq(wait_for("graceful.log", "\"event\":\"result\"", 4, 5000), 4);
    m = metrics_settled(&own, &ok);
    cr_assert_eq(own, ok, "TIME_WAIT of the prober's own: %.0f for %.0f graceful probes", own, ok);
    all = sample(m, "twkit_probe_netns_time_wait_sockets");
    cr_assert_geq(all, own + 5, "the namespace: %.0f, the prober's %.0f + 5 others", all, own);
    kill(prober, SIGHUP);
    cr_assert_eq(wait_for("graceful.log", "\"event\":\"reload\"", 1, 3000), 1);
    metrics_settled(&own, &ok);
    /* the old config's probes are stopped at the reload: a close under way
     * then ends with an RST, its probe counted but no TIME_WAIT left */
    cr_assert(own <= ok && own >= ok - 1, "after a reload: %.0f for %.0f graceful probes", own,
              ok);
    cr_assert_geq(own, 4);
    stop(prober, SIGTERM, 5000);
}

Test(probe_ip, the_summary_counts_n_time_wait_for_n_graceful_probes)
{
    NEED_ROOT();
    start_servers();
    cr_assert_eq(run(TW_LAB_CLIENT, 10000, "/usr/bin/python3 %s churn 10.201.0.2 7002 5", script),
                 0);
    /* three graceful probes; the fourth, whose packets are dropped, runs
     * out its timeout, so every close is over when --once ends */
    cr_assert_eq(run(TW_LAB_SERVER, 5000, "nft add table inet twt"), 0);
    cr_assert_eq(run(TW_LAB_SERVER, 5000,
                     "nft add chain inet twt in '{ type filter hook input priority 0; }'"), 0);
    cr_assert_eq(run(TW_LAB_SERVER, 5000, "nft add rule inet twt in tcp dport 7999 drop"), 0);
    write_file("n.yaml", "defaults: {timeout: 1s}\n"
                         "probes:\n"
                         "  - {name: g1, kind: tcp, target: '10.201.0.2:7001', close: graceful}\n"
                         "  - {name: g2, kind: tcp, target: '10.201.0.2:7001', close: graceful}\n"
                         "  - {name: g3, kind: http, target: 'http://10.201.0.2:7002/',\n"
                         "     close: graceful}\n"
                         "  - {name: slow, kind: tcp, target: '10.201.0.2:7999'}\n");
    probe_once("n.yaml");
    cr_assert_eq(summary_num(slurp("probe.out"), "success"), 3, "%s", slurp("probe.out"));
    cr_assert_eq(summary_num(slurp("probe.out"), "time_wait"), 3, "%s", slurp("probe.out"));
}

/* ---- 6. gzip ---- */

Test(probe_ip, metrics_go_gzip_compressed_to_curl_and_a_real_prometheus)
{
    char args[512], log[256], p[256], cfg[256];
    const char *h;
    char *q = NULL;
    pid_t prober;
    uint64_t end;

    NEED_ROOT();
    start_servers();
    write_file("gz.yaml", "probes:\n"
                          "  - {name: up, kind: tcp, target: '10.201.0.2:7001', interval: 200ms,\n"
                          "     timeout: 150ms}\n");
    snprintf(args, sizeof(args), "--listen 127.0.0.1:9464 --log %s",
             tpath(log, sizeof(log), "gz.log"));
    prober = spawn_probe(args, "gz.yaml");
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    wait_for("gz.log", "\"event\":\"state\"", 1, 3000);

    /* curl --compressed asks for gzip and inflates it */
    snprintf(args, sizeof(args), "--compressed -D %s", tpath(p, sizeof(p), "head.txt"));
    fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/metrics", args, "c.txt");
    cr_assert_not_null(strstr(slurp("c.txt"), "\nprobe_success{name=\"up\""), "%s", slurp("c.txt"));
    h = slurp("head.txt");
    cr_assert_not_null(strstr(h, "Content-Encoding: gzip\r\n"), "%s", h);
    cr_assert_not_null(strstr(h, "Vary: Accept-Encoding\r\n"), "%s", h);
    /* the raw body is gzip: what gzip -d makes of it is the exposition */
    fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/metrics", "-H 'Accept-Encoding: gzip'",
               "raw.gz");
    cr_assert_eq(run(TW_LAB_CLIENT, 5000, "gzip -dc %s >%s", tpath(p, sizeof(p), "raw.gz"),
                     tpath(cfg, sizeof(cfg), "raw.txt")), 0);
    cr_assert_not_null(strstr(slurp("raw.txt"), "# TYPE probe_success gauge\n"));
    /* not asked, or refused with q=0: as it is */
    snprintf(args, sizeof(args), "-D %s", tpath(p, sizeof(p), "head2.txt"));
    fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/metrics", args, "plain.txt");
    cr_assert_null(strstr(slurp("head2.txt"), "Content-Encoding"), "%s", slurp("head2.txt"));
    cr_assert_not_null(strstr(slurp("head2.txt"), "Vary: Accept-Encoding\r\n"));
    cr_assert_not_null(strstr(slurp("plain.txt"), "# TYPE probe_success gauge\n"));
    snprintf(args, sizeof(args), "-H 'Accept-Encoding: gzip;q=0, br' -D %s",
             tpath(p, sizeof(p), "head3.txt"));
    fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/metrics", args, "plain.txt");
    cr_assert_null(strstr(slurp("head3.txt"), "Content-Encoding"), "%s", slurp("head3.txt"));

    /* Prometheus, through a relay that notes what each side said */
    spawn(TW_LAB_CLIENT, "/usr/bin/python3 %s relay 9465 9464 %s", script,
          tpath(p, sizeof(p), "relay.log"));
    cr_assert_eq(wait_for("relay.log", "ready\n", 1, 5000), 1);
    write_file("prometheus.yml", "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                                 "scrape_configs:\n"
                                 "  - job_name: twkit\n"
                                 "    static_configs: [{targets: ['127.0.0.1:9465']}]\n");
    spawn(TW_LAB_CLIENT,
          "prometheus --config.file=%s --storage.tsdb.path=%s/tsdb "
          "--web.listen-address=127.0.0.1:9090 >%s/prometheus.log 2>&1",
          tpath(cfg, sizeof(cfg), "prometheus.yml"), tmpdir, tmpdir);
    end = tw_now_ms() + 20000;
    while (tw_now_ms() < end && !(q && strstr(q, "\"value\":["))) {
        usleep(500000);
        if (run(TW_LAB_CLIENT, 5000,
                "curl -s -o %s 'http://127.0.0.1:9090/api/v1/query?query=probe_success'",
                tpath(p, sizeof(p), "query.json")) != 0)
            continue; /* not listening yet */
        free(q);
        q = read_all("query.json");
    }
    keep(q ? q : strdup(""));
    cr_assert_not_null(strstr(q, "\"value\":["), "Prometheus has no probe_success: %s", q);
    cr_assert_not_null(strstr(q, "\"1\"]"), "probe_success in Prometheus: %s", q);
    h = slurp("relay.log");
    cr_assert_not_null(strstr(h, "ae gzip"), "Prometheus did not ask for gzip: %s", h);
    cr_assert_not_null(strstr(h, "ce gzip\n"), "the prober did not answer gzip: %s", h);
    cr_assert_null(strstr(h, "ce -\n"), "an answer went uncompressed: %s", h);
    stop(prober, SIGTERM, 5000);
}
