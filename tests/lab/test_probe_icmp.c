/* The icmp probe kind in the lab: echo requests from the prober (the twkit
 * binary) in the client namespace to addresses of the server namespace
 * and, for a two-hop path, of a third namespace the server namespace
 * routes to; nftables drops or rejects some, a route sends some nowhere,
 * a responder of our own (icmp_responder.py) answers late, twice or with a
 * wrong payload. Each namespace's net.ipv4.ping_group_range decides
 * between ping and raw sockets, and the prober runs as root or as nobody
 * without capabilities.
 *
 *   client  tw0 10.201.0.1, fd00:201::1
 *   server  tw0 10.201.0.2 (.3 dropped, .4 rejected), fd00:201::2 (::3, ::4);
 *           routes to far: twf0 10.204.0.1, fd00:204::1
 *   far     twf1 10.204.0.2, fd00:204::2
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "probe_lab.h"
#include "twkit/time.h"

static char far_ns[64]; /* the third namespace, when a test made it */

static void icmp_teardown(void)
{
    char cmd[128];

    if (far_ns[0]) {
        snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", far_ns);
        if (system(cmd) != 0)
            fprintf(stderr, "test_probe_icmp: could not remove namespace %s\n", far_ns);
        far_ns[0] = '\0';
    }
    pl_teardown();
}

TestSuite(probe_icmp, .init = pl_setup, .fini = icmp_teardown, .timeout = 90);

/* Run a command line in a side's namespace; it must succeed. */
__attribute__((format(printf, 2, 3))) static void sh(enum tw_lab_side side, const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    cr_assert_eq(run(side, 10000, "%s", cmd), 0, "`%s` failed", cmd);
}

/* The client's ping_group_range: "0 2147483647" lets everyone have ping
 * sockets; "1 0" (a new namespace's) nobody, so root falls back to raw. */
static void ping_range(const char *range)
{
    char got[64];

    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.ping_group_range", range), 0);
    cr_assert_eq(tw_lab_sysctl_get(&lab, TW_LAB_CLIENT, "net.ipv4.ping_group_range", got,
                                   sizeof(got)),
                 0);
}

/* Addresses of the server namespace whose packets nftables drops (.3,
 * ::3) or rejects with admin-prohibited (.4, ::4). */
static void drop_and_reject(void)
{
    sh(TW_LAB_SERVER, "ip addr add 10.201.0.3/24 dev tw0");
    sh(TW_LAB_SERVER, "ip addr add 10.201.0.4/24 dev tw0");
    sh(TW_LAB_SERVER, "ip addr add fd00:201::3/64 dev tw0 nodad");
    sh(TW_LAB_SERVER, "ip addr add fd00:201::4/64 dev tw0 nodad");
    sh(TW_LAB_SERVER, "nft add table inet twicmp");
    sh(TW_LAB_SERVER, "nft add chain inet twicmp in '{ type filter hook input priority 0; }'");
    sh(TW_LAB_SERVER, "nft add rule inet twicmp in ip daddr 10.201.0.3 drop");
    sh(TW_LAB_SERVER, "nft add rule inet twicmp in ip6 daddr fd00:201::3 drop");
    sh(TW_LAB_SERVER, "nft add rule inet twicmp in ip daddr 10.201.0.4 "
                      "reject with icmp type admin-prohibited");
    sh(TW_LAB_SERVER, "nft add rule inet twicmp in ip6 daddr fd00:201::4 "
                      "reject with icmpv6 type admin-prohibited");
}

/* A third namespace behind the server's, which routes: 10.204.0.2 and
 * fd00:204::2 are two hops from the client. Named like the lab's own, so
 * the lab's reaper removes it too if this process dies first. */
static void far_side(void)
{
    const char *s = lab.ns[TW_LAB_SERVER];

    snprintf(far_ns, sizeof(far_ns), "twlab-%d-icmpfar", (int)getpid());
    sh(PL_HERE, "ip netns add %s", far_ns);
    /* no duplicate address detection on the new link's link-local
     * addresses either: neighbour discovery works at once */
    sh(PL_HERE, "ip netns exec %s sysctl -q -w net.ipv6.conf.default.accept_dad=0", far_ns);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_SERVER, "net.ipv6.conf.default.accept_dad", "0"),
                 0);
    sh(PL_HERE, "ip link add twf0 netns %s type veth peer name twf1 netns %s", s, far_ns);
    sh(PL_HERE, "ip -n %s link set lo up", far_ns);
    sh(PL_HERE, "ip -n %s addr add 10.204.0.2/24 dev twf1", far_ns);
    sh(PL_HERE, "ip -n %s addr add fd00:204::2/64 dev twf1 nodad", far_ns);
    sh(PL_HERE, "ip -n %s link set twf1 up", far_ns);
    sh(PL_HERE, "ip -n %s route add default via 10.204.0.1", far_ns);
    sh(PL_HERE, "ip -n %s -6 route add default via fd00:204::1", far_ns);
    sh(PL_HERE, "ip -n %s addr add 10.204.0.1/24 dev twf0", s);
    sh(PL_HERE, "ip -n %s addr add fd00:204::1/64 dev twf0 nodad", s);
    sh(PL_HERE, "ip -n %s link set twf0 up", s);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_SERVER, "net.ipv4.ip_forward", "1"), 0);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_SERVER, "net.ipv6.conf.all.forwarding", "1"), 0);
    sh(TW_LAB_CLIENT, "ip route add 10.204.0.0/24 via 10.201.0.2");
    sh(TW_LAB_CLIENT, "ip -6 route add fd00:204::/64 via fd00:201::2");
    /* the path works (neighbours resolved) before the tests time it */
    for (int v = 0; v < 2; v++) {
        int rc = 1;
        for (int i = 0; i < 5 && rc; i++)
            rc = run(TW_LAB_CLIENT, 5000, "ping -c1 -W1 %s >/dev/null 2>&1",
                     v ? "fd00:204::2" : "10.204.0.2");
        cr_assert_eq(rc, 0, "no path to the far namespace (%s)", v ? "IPv6" : "IPv4");
    }
}

/* twkit probe --once on config in the client namespace, as whom (a
 * setpriv prefix, "" for root); the result lines, one per probe. */
static char **once(const char *config, const char *whom, int want_rc, size_t *n)
{
    char cfg[256], out[256], err[256];
    int rc = run(TW_LAB_CLIENT, 20000, "%s %s probe --once %s >%s 2>%s", whom, TWKIT_BIN,
                 tpath(cfg, sizeof(cfg), config), tpath(out, sizeof(out), "once.out"),
                 tpath(err, sizeof(err), "once.err"));

    cr_assert_eq(rc, want_rc, "--once: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", rc,
                 want_rc, slurp("once.out"), slurp("once.err"));
    return split_lines(slurp("once.out"), n);
}

static void expect_fast_failure(const char *l, const char *reason, const char *detail)
{
    char d[256];

    expect_str(l, "result", "failure");
    expect_str(l, "reason", reason);
    jstr(l, "detail", d, sizeof(d));
    cr_assert(strstr(d, detail), "expected a detail with \"%s\": %s", detail, l);
    cr_assert_lt(expect_num(l, "duration_s"), 0.3, "an ICMP error should end it at once: %s", l);
}

/* ---- 1. what a probe reports ---- */

Test(probe_icmp, echo_drop_reject_no_route_ttl_and_df_over_raw_and_ping_sockets_v4_and_v6)
{
    static const char *const ranges[2] = {"1 0", "0 2147483647"};
    static const char *const kinds[2] = {"raw", "ping"};

    NEED_ROOT();
    drop_and_reject();
    far_side();
    sh(TW_LAB_CLIENT, "ip route add unreachable 10.203.0.0/24");
    sh(TW_LAB_CLIENT, "ip -6 route add unreachable fd00:203::/64");
    write_file("once.yaml",
               "defaults: {timeout: 400ms}\n"
               "probes:\n"
               "  - {name: ok4, kind: icmp, target: 10.201.0.2}\n"
               "  - {name: ok6, kind: icmp, target: 'fd00:201::2'}\n"
               "  - {name: far4, kind: icmp, target: 10.204.0.2}\n"
               "  - {name: far6, kind: icmp, target: 'fd00:204::2'}\n"
               "  - {name: ttl4, kind: icmp, target: 10.204.0.2, ttl: 1}\n"
               "  - {name: ttl6, kind: icmp, target: 'fd00:204::2', ttl: 1}\n"
               "  - {name: ttl2, kind: icmp, target: 10.204.0.2, ttl: 2}\n"
               "  - {name: drop4, kind: icmp, target: 10.201.0.3}\n"
               "  - {name: drop6, kind: icmp, target: 'fd00:201::3'}\n"
               "  - {name: reject4, kind: icmp, target: 10.201.0.4}\n"
               "  - {name: after4, kind: icmp, target: 10.201.0.2}\n"
               "  - {name: reject6, kind: icmp, target: 'fd00:201::4'}\n"
               "  - {name: after6, kind: icmp, target: 'fd00:201::2'}\n"
               "  - {name: noroute4, kind: icmp, target: 10.203.0.1}\n"
               "  - {name: noroute6, kind: icmp, target: 'fd00:203::1'}\n"
               "  - {name: df_fits, kind: icmp, target: 10.201.0.2, dont_fragment: true,\n"
               "     payload_size: 1472}\n"
               "  - {name: df_big, kind: icmp, target: 10.201.0.2, dont_fragment: true,\n"
               "     payload_size: 1473}\n"
               "  - {name: frag_big, kind: icmp, target: 10.201.0.2, payload_size: 3000}\n"
               "  - {name: tiny, kind: icmp, target: 10.201.0.2, payload_size: 3}\n"
               "  - {name: src4, kind: icmp, target: 10.201.0.2, source_ip_address: 10.201.0.1}\n"
               "  - {name: src6, kind: icmp, target: 'fd00:201::2',\n"
               "     source_ip_address: 'fd00:201::1'}\n"
               "  - {name: src_bad, kind: icmp, target: 10.201.0.2,\n"
               "     source_ip_address: 10.201.0.99}\n");
    for (int mode = 0; mode < 2; mode++) {
        size_t n;
        char **lines, want[64];
        const char *l;
        double rtt, d;

        ping_range(ranges[mode]);
        lines = once("once.yaml", "", 1, &n);
        cr_assert_eq(n, 22, "%s: expected 22 result lines, got %zu:\n%s", kinds[mode], n,
                     slurp("once.out"));
        for (size_t i = 0; i < n; i++)
            expect_str(lines[i], "kind", "icmp");
        static const char *const ok[] = {"ok4", "ok6", "far4", "far6", "ttl2", "df_fits",
                                         "frag_big", "tiny", "src4", "src6", "after4",
                                         "after6"};
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
            l = line_of(lines, n, ok[i]);
            expect_str(l, "result", "success");
            rtt = expect_num(l, "rtt_s");
            cr_assert(rtt > 0 && rtt < 0.2, "%s %s: rtt %g", kinds[mode], ok[i], rtt);
            cr_assert_leq(rtt, expect_num(l, "duration_s"), "%s", l);
            cr_assert_geq(expect_num(l, "setup_s"), 0, "%s", l);
        }
        /* the reply's TTL: 64, less the hops back */
        cr_assert_eq(expect_num(line_of(lines, n, "ok4"), "hop_limit"), 64);
        cr_assert_eq(expect_num(line_of(lines, n, "ok6"), "hop_limit"), 64);
        cr_assert_eq(expect_num(line_of(lines, n, "far4"), "hop_limit"), 63);
        cr_assert_eq(expect_num(line_of(lines, n, "far6"), "hop_limit"), 63);
        expect_str(line_of(lines, n, "ok4"), "address", "10.201.0.2");
        expect_str(line_of(lines, n, "ok6"), "address", "fd00:201::2");

        /* ttl 1 dies at the router, which says so */
        l = line_of(lines, n, "ttl4");
        expect_fast_failure(l, "time_exceeded",
                            "ICMP time exceeded (TTL exceeded in transit) from 10.201.0.2");
        expect_str(l, "error", "EHOSTUNREACH");
        /* (the router answers from an address of its choosing) */
        expect_fast_failure(line_of(lines, n, "ttl6"), "time_exceeded",
                            "ICMPv6 time exceeded (hop limit exceeded in transit) from "
                            "fd00:201::");
        /* dropped: the whole timeout */
        for (int v = 0; v < 2; v++) {
            l = line_of(lines, n, v ? "drop6" : "drop4");
            expect_str(l, "result", "failure");
            expect_str(l, "reason", "timeout");
            expect_str(l, "error", "ETIMEDOUT");
            d = expect_num(l, "duration_s");
            cr_assert(d >= 0.39 && d < 0.7, "%s: expected the 400 ms timeout, took %.3f s", l, d);
            snprintf(want, sizeof(want), "no echo reply within 400 ms (%s socket)", kinds[mode]);
            expect_str(l, "detail", want);
        }
        /* rejected: the target answers admin-prohibited, at once (inside
         * the sendmsg on veth): on a ping socket that error is left in
         * sk_err too, which the next send, after4's and after6's, must not
         * take for its own (they are in the list for that) */
        expect_fast_failure(line_of(lines, n, "reject4"), "unreachable",
                            "ICMP destination unreachable (communication administratively "
                            "prohibited) from 10.201.0.4");
        expect_fast_failure(line_of(lines, n, "reject6"), "unreachable",
                            "ICMPv6 destination unreachable (administratively prohibited) from "
                            "fd00:201::4");
        expect_str(line_of(lines, n, "reject6"), "error", "EHOSTUNREACH");
        /* a route to nowhere: the send itself fails */
        expect_fast_failure(line_of(lines, n, "noroute4"), "unreachable", "EHOSTUNREACH");
        expect_fast_failure(line_of(lines, n, "noroute6"), "unreachable", "UNREACH");
        /* DF: 1472 + 8 + 20 is the veth's 1500; one byte more does not go */
        l = line_of(lines, n, "df_big");
        expect_str(l, "result", "failure");
        expect_str(l, "error", "EMSGSIZE");
        expect_str(l, "detail", "EMSGSIZE: 1473 bytes of payload with dont_fragment exceed the "
                                "MTU towards 10.201.0.2");
        /* a source address this host does not have: this host's trouble */
        l = line_of(lines, n, "src_bad");
        expect_str(l, "result", "local_error");
        expect_str(l, "error", "EADDRNOTAVAIL");
    }
}

/* ---- 2. who may have which socket ---- */

#define NOBODY "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " \
               "--bounding-set=-all"

Test(probe_icmp, ping_sockets_need_no_privilege_where_the_sysctl_allows_else_a_clear_error)
{
    char **lines, *err;
    const char *l;
    size_t n;

    NEED_ROOT();
    drop_and_reject();
    cr_assert_eq(chmod(tmpdir, 0755), 0); /* nobody reads the config */
    write_file("user.yaml", "defaults: {timeout: 300ms}\n"
                            "probes:\n"
                            "  - {name: ok4, kind: icmp, target: 10.201.0.2}\n"
                            "  - {name: ok6, kind: icmp, target: 'fd00:201::2'}\n"
                            "  - {name: more4, kind: icmp, target: 10.201.0.1}\n"
                            "  - {name: more6, kind: icmp, target: '::1'}\n"
                            "  - {name: drop4, kind: icmp, target: 10.201.0.3}\n");

    /* allowed: one range for IPv4 and IPv6 ping sockets alike */
    ping_range("0 2147483647");
    lines = once("user.yaml", NOBODY, 1, &n);
    cr_assert_eq(n, 5, "%s", slurp("once.out"));
    for (int i = 0; i < 4; i++) {
        static const char *const ok[] = {"ok4", "ok6", "more4", "more6"};
        expect_str(line_of(lines, n, ok[i]), "result", "success");
    }
    expect_str(line_of(lines, n, "drop4"), "detail", "no echo reply within 300 ms (ping socket)");
    cr_assert_str_eq(slurp("once.err"), "", "nothing to say on stderr");

    /* a range that leaves nobody out, and no CAP_NET_RAW: neither socket */
    ping_range("1 0");
    lines = once("user.yaml", NOBODY, 1, &n);
    cr_assert_eq(n, 5, "%s", slurp("once.out"));
    for (size_t i = 0; i < n; i++) {
        char d[256];
        expect_str(lines[i], "result", "local_error");
        expect_str(lines[i], "error", "EPERM");
        jstr(lines[i], "detail", d, sizeof(d));
        cr_assert(strstr(d, "ping socket (net.ipv4.ping_group_range is \\\"1 0\\\", which leaves "
                            "out gid 65534) and no raw socket (needs CAP_NET_RAW)"),
                  "%s", lines[i]);
    }
    cr_assert(strstr(jfind(line_of(lines, n, "ok6"), "detail"), "no IPv6 ping socket"));
    /* said once per family on stderr, not once per probe */
    err = slurp("once.err");
    cr_assert_eq(count_of(err, "net.ipv4.ping_group_range"), 2, "stderr:\n%s", err);
    cr_assert(strstr(err, "twkit probe: icmp: no IPv4 ping socket (net.ipv4.ping_group_range is "
                          "\"1 0\", which leaves out gid 65534) and no raw socket (needs "
                          "CAP_NET_RAW)\n"),
              "stderr:\n%s", err);

    /* root, the same range: a raw socket */
    lines = once("user.yaml", "", 1, &n);
    expect_str(line_of(lines, n, "ok4"), "result", "success");
    expect_str(line_of(lines, n, "ok6"), "result", "success");
    expect_str(line_of(lines, n, "drop4"), "detail", "no echo reply within 300 ms (raw socket)");
    l = line_of(lines, n, "more6");
    expect_str(l, "result", "success");
}

/* ---- 3. matching: late, twice, or with another payload ---- */

/* The responder answers 10.201.0.21 late (after the probe's timeout, while
 * the next probe of that target waits), 10.201.0.22 first with a changed
 * payload and then rightly, 10.201.0.23 twice. Nothing but the right reply
 * to the waiting probe may count. */
Test(probe_icmp, late_duplicate_and_foreign_replies_never_match_a_probe)
{
    static const char *const ranges[2] = {"1 0", "0 2147483647"};
    char cfg[256], log[256], resp[256], p[256];

    NEED_ROOT();
    for (int a = 21; a <= 23; a++)
        sh(TW_LAB_SERVER, "ip addr add 10.201.0.%d/24 dev tw0", a);
    cr_assert_eq(tw_lab_sysctl_set(&lab, TW_LAB_SERVER, "net.ipv4.icmp_echo_ignore_all", "1"), 0);
    snprintf(resp, sizeof(resp), "%s", ICMP_RESPONDER_PY);
    spawn(TW_LAB_SERVER, "/usr/bin/python3 %s 10.201.0.21=late:300 10.201.0.22=corrupt:80 "
                         "10.201.0.23=dup >%s 2>&1",
          resp, tpath(p, sizeof(p), "responder.out"));
    cr_assert_geq(wait_for("responder.out", "ready", 1, 5000), 1, "the responder: %s",
                  slurp("responder.out"));
    write_file("match.yaml",
               "probes:\n"
               "  - {name: late, kind: icmp, target: 10.201.0.21, interval: 250ms,\n"
               "     timeout: 200ms}\n"
               "  - {name: corrupt, kind: icmp, target: 10.201.0.22, interval: 500ms,\n"
               "     timeout: 400ms}\n"
               "  - {name: dup, kind: icmp, target: 10.201.0.23, interval: 200ms,\n"
               "     timeout: 150ms}\n");
    for (int mode = 0; mode < 2; mode++) {
        char name[32];
        int counts[3][2] = {{0}}; /* late, corrupt, dup: success, failure */
        size_t n;
        char **lines;
        int rc;

        ping_range(ranges[mode]);
        snprintf(name, sizeof(name), "match%d.log", mode);
        rc = run(TW_LAB_CLIENT, 15000,
                 "%s probe --listen off --duration 3s --log-results --log %s %s >/dev/null 2>&1",
                 TWKIT_BIN, tpath(log, sizeof(log), name), tpath(cfg, sizeof(cfg), "match.yaml"));
        cr_assert_eq(rc, 0, "twkit probe: exit %d", rc);
        lines = split_lines(slurp(name), &n);
        for (size_t i = 0; i < n; i++) {
            char who[32], res[32];
            if (!jstr(lines[i], "event", res, sizeof(res)) || strcmp(res, "result"))
                continue;
            jstr(lines[i], "name", who, sizeof(who));
            jstr(lines[i], "result", res, sizeof(res));
            int k = !strcmp(who, "late") ? 0 : !strcmp(who, "corrupt") ? 1 : 2;
            counts[k][strcmp(res, "success") != 0]++;
            if (k == 0)
                expect_str(lines[i], "reason", "timeout");
            if (k == 1 && !strcmp(res, "success"))
                cr_assert_geq(expect_num(lines[i], "rtt_s"), 0.075,
                              "the changed payload came first and matched: %s", lines[i]);
        }
        cr_assert_eq(counts[0][0], 0, "%s: a late reply matched a later probe", ranges[mode]);
        cr_assert_geq(counts[0][1], 9, "%s: late: %d timeouts", ranges[mode], counts[0][1]);
        cr_assert_eq(counts[1][1], 0, "%s: corrupt: %d failures", ranges[mode], counts[1][1]);
        cr_assert_geq(counts[1][0], 5, "%s: corrupt: %d successes", ranges[mode], counts[1][0]);
        cr_assert_eq(counts[2][1], 0, "%s: dup: %d failures", ranges[mode], counts[2][1]);
        cr_assert_geq(counts[2][0], 12, "%s: dup: %d successes", ranges[mode], counts[2][0]);
    }
}

/* ---- 4. side by side with blackbox_exporter's icmp prober ---- */

#define BB_PORT 9115
#define TW_PORT 9116

Test(probe_icmp, probe_answers_as_blackbox_exporters_icmp_prober_does)
{
    static const struct {
        const char *module, *target;
        int success;
    } cases[] = {
        {"icmp", "10.201.0.2", 1},
        {"icmp", "fd00:201::2", 1},
        {"icmp", "10.204.0.2", 1},          /* two hops: hop limit 63 */
        {"icmp", "fd00:204::2", 1},
        {"icmp", "localhost", 1},           /* resolved: /etc/hosts */
        {"icmp4", "localhost", 1},
        {"icmp", "10.201.0.3", 0},          /* dropped */
        {"icmp", "fd00:201::3", 0},
        {"icmp", "10.201.0.4", 0},          /* rejected: twkit at once, blackbox at its timeout */
        {"icmp_ttl1", "10.204.0.2", 0},     /* time exceeded */
        {"icmp6_only", "10.201.0.2", 0},    /* no IPv6 address */
        {"icmp_big", "10.201.0.2", 1},
        {"icmp_df", "10.201.0.2", 1},
        {"icmp_df_big", "10.201.0.2", 0},
    };
    char cfg[256], log[256];

    NEED_ROOT();
    drop_and_reject();
    far_side();
    ping_range("0 2147483647");
    write_file("blackbox.yml",
               "modules:\n"
               "  icmp: {prober: icmp, timeout: 1s}\n"
               "  icmp4: {prober: icmp, timeout: 1s, icmp: {preferred_ip_protocol: ip4}}\n"
               "  icmp6_only:\n"
               "    prober: icmp\n"
               "    timeout: 1s\n"
               "    icmp: {preferred_ip_protocol: ip6, ip_protocol_fallback: false}\n"
               "  icmp_ttl1: {prober: icmp, timeout: 1s, icmp: {ttl: 1}}\n"
               "  icmp_big: {prober: icmp, timeout: 1s, icmp: {payload_size: 3000}}\n"
               "  icmp_df:\n"
               "    prober: icmp\n"
               "    timeout: 1s\n"
               "    icmp: {dont_fragment: true, payload_size: 1472}\n"
               "  icmp_df_big:\n"
               "    prober: icmp\n"
               "    timeout: 1s\n"
               "    icmp: {dont_fragment: true, payload_size: 1473}\n");
    spawn(TW_LAB_CLIENT,
          "prometheus-blackbox-exporter --config.file=%s --web.listen-address=127.0.0.1:%u "
          ">%s 2>&1",
          tpath(cfg, sizeof(cfg), "blackbox.yml"), BB_PORT, tpath(log, sizeof(log), "bb.log"));
    spawn(TW_LAB_CLIENT, "%s probe --blackbox-config %s --listen 127.0.0.1:%u >%s 2>&1",
          TWKIT_BIN, cfg, TW_PORT, tpath(log, sizeof(log), "tw.log"));
    wait_listening(TW_LAB_CLIENT, BB_PORT, "blackbox_exporter");
    wait_listening(TW_LAB_CLIENT, TW_PORT, "twkit probe");
    /* the same series, the same values; durations only for a success (an
     * ICMP error ends twkit's probe at once, blackbox waits for its
     * timeout) */
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
        cr_assert_eq(pl_compare(BB_PORT, TW_PORT, cases[c].module, cases[c].target,
                                cases[c].success),
                     cases[c].success, "%s %s: probe_success", cases[c].module, cases[c].target);
}

/* ---- 5. scale: one socket, thousands of targets ---- */

static const char *summary_line(const char *out)
{
    const char *s = strstr(out, "{\"event\":\"summary\"");

    cr_assert_not_null(s, "no summary line in:\n%.2000s", out);
    return s;
}

static int count_fds(pid_t pid)
{
    char p[64];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
    cr_assert_not_null(d = opendir(p), "%s: %s", p, strerror(errno));
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static long rss_kib(pid_t pid)
{
    char p[64], line[128];
    long v = -1;
    FILE *f;

    snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
    cr_assert_not_null(f = fopen(p, "r"));
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* Resident memory that does not grow between two looks. A sanitizer build
 * (make SAN=1) keeps what is freed in quarantine for a while, so there
 * its leak check at exit (the prober's exit status) says it instead. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_STAYS(a, b) ((void)(a), (void)(b))
#define RSS_MAX_KIB (512 * 1024)
#else
#define RSS_STAYS(a, b)                                                                        \
    cr_assert_leq((b) - (a), 2048, "resident memory grew from %ld to %ld KiB", (a), (b))
#define RSS_MAX_KIB (64 * 1024)
#endif

/* n targets from 10.X.0.1 on, 250 per /24 */
static void icmp_targets(const char *name, int x, int n)
{
    char p[256];
    FILE *f = fopen(tpath(p, sizeof(p), name), "w");

    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    for (int i = 0; i < n; i++)
        fprintf(f, "10.%d.%d.%d\n", x, i / 250, i % 250 + 1);
    cr_assert_eq(fclose(f), 0);
}

/* twkit probe over tmpdir/NAME.yaml for secs seconds in the client
 * namespace, its descriptors and resident memory looked at after first_us
 * and again after then_us more; it must exit 0. Returns its summary. */
struct looks {
    int fds0, fds1;
    long rss0, rss1;
};

static const char *run_looking(const char *name, int secs, useconds_t first_us,
                               useconds_t then_us, struct looks *lk)
{
    char cfg[256], out[256], log[256], f[64];
    const char *s;
    int status;
    pid_t pid;

    snprintf(f, sizeof(f), "%s.yaml", name);
    tpath(cfg, sizeof(cfg), f);
    snprintf(f, sizeof(f), "%s.log", name);
    tpath(log, sizeof(log), f);
    snprintf(f, sizeof(f), "%s.out", name);
    pid = spawn(TW_LAB_CLIENT, "%s probe --listen off --duration %ds --summary --log %s %s >%s 2>&1",
                TWKIT_BIN, secs, log, cfg, tpath(out, sizeof(out), f));
    usleep(first_us);
    lk->fds0 = count_fds(pid);
    lk->rss0 = rss_kib(pid);
    usleep(then_us);
    lk->fds1 = count_fds(pid);
    lk->rss1 = rss_kib(pid);
    cr_assert(wait_exit(pid, 15000, &status), "twkit probe did not stop after --duration");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "twkit probe: status %d:\n%s",
              status, slurp(f));
    s = summary_line(slurp(f));
    cr_log_info("%s (descriptors %d, %d; VmRSS %ld, %ld KiB)", s, lk->fds0, lk->fds1, lk->rss0,
                lk->rss1);
    return s;
}

Test(probe_icmp, five_thousand_targets_at_one_second_have_every_reply_matched)
{
    struct looks lk;
    const char *s;

    NEED_ROOT();
    /* 10.205.0.0/19 is all local in the server namespace (AnyIP) */
    sh(TW_LAB_SERVER, "ip route add local 10.205.0.0/19 dev lo");
    sh(TW_LAB_CLIENT, "ip route add 10.205.0.0/19 via 10.201.0.2");
    ping_range("1 0"); /* root: one raw socket, which sees every reply */
    icmp_targets("t5000.txt", 205, 5000);
    write_file("scale.yaml", "probes:\n"
                             "  - {name: many, kind: icmp, targets_file: t5000.txt,\n"
                             "     interval: 1s, timeout: 1s}\n");
    s = run_looking("scale", 10, 3000000, 5000000, &lk);
    cr_assert_eq(expect_num(s, "targets"), 5000, "%s", s);
    cr_assert_geq(expect_num(s, "success"), 49500,
                  "5,000 targets at 1 s for 10 s: expected ~50,000 successes: %s", s);
    cr_assert_eq(expect_num(s, "failure"), 0, "failures: %s", s);
    cr_assert_eq(expect_num(s, "local_error"), 0, "local errors: %s", s);
    /* one socket, however many targets; memory that does not grow */
    cr_assert_leq(lk.fds1, 16, "%d descriptors open", lk.fds1);
    cr_assert_eq(lk.fds0, lk.fds1, "descriptors: %d at 3 s, %d at 8 s", lk.fds0, lk.fds1);
    RSS_STAYS(lk.rss0, lk.rss1);
    cr_assert_leq(expect_num(s, "max_rss_kib"), RSS_MAX_KIB, "%s", s);
}

/* Probes that all time out (nftables drops them) free what they held: the
 * descriptors and memory stay as they were (and a sanitizer build, make
 * SAN=1, finds no leak at exit). */
Test(probe_icmp, timeouts_by_the_thousand_leave_nothing_behind)
{
    struct looks lk;
    const char *s;

    NEED_ROOT();
    sh(TW_LAB_SERVER, "ip route add local 10.206.0.0/21 dev lo");
    sh(TW_LAB_CLIENT, "ip route add 10.206.0.0/21 via 10.201.0.2");
    sh(TW_LAB_SERVER, "nft add table inet twicmp");
    sh(TW_LAB_SERVER, "nft add chain inet twicmp in '{ type filter hook input priority 0; }'");
    sh(TW_LAB_SERVER, "nft add rule inet twicmp in ip daddr 10.206.0.0/22 drop");
    ping_range("0 2147483647");
    icmp_targets("t2000.txt", 206, 2000); /* 10.206.0-3.x dropped, 4-7 answered */
    write_file("timeouts.yaml", "probes:\n"
                                "  - {name: many, kind: icmp, targets_file: t2000.txt,\n"
                                "     interval: 500ms, timeout: 250ms}\n");
    s = run_looking("timeouts", 5, 1500000, 2500000, &lk);
    /* 1,000 targets (10.206.0.1 to 10.206.3.250) dropped, the rest not */
    cr_assert_geq(expect_num(s, "failure"), 9000, "%s", s);
    cr_assert_geq(expect_num(s, "success"), 9000, "%s", s);
    cr_assert_eq(expect_num(s, "local_error"), 0, "%s", s);
    cr_assert_eq(lk.fds0, lk.fds1, "descriptors: %d at 1.5 s, %d at 4 s", lk.fds0, lk.fds1);
    RSS_STAYS(lk.rss0, lk.rss1);
}

/* More requests in flight on one socket than there are sequence numbers:
 * 65,600 targets whose requests are all dropped, a timeout as long as the
 * interval, so the last ones start while the first still wait. They are
 * local errors, and every other probe times out as it should. */
Test(probe_icmp, more_requests_in_flight_than_sequence_numbers_are_local_errors)
{
    char cfg[256], out[256], log[256];
    const char *s;
    double local, failed;
    int rc;

    NEED_ROOT();
    sh(TW_LAB_CLIENT, "ip route add 10.208.0.0/15 via 10.201.0.2");
    sh(TW_LAB_SERVER, "nft add table inet twicmp");
    sh(TW_LAB_SERVER, "nft add chain inet twicmp pre '{ type filter hook prerouting priority 0; }'");
    sh(TW_LAB_SERVER, "nft add rule inet twicmp pre ip daddr 10.208.0.0/15 drop");
    ping_range("0 2147483647");
    {
        char p[256];
        FILE *f = fopen(tpath(p, sizeof(p), "t65600.txt"), "w");
        cr_assert_not_null(f);
        for (int i = 0; i < 65600; i++) /* 10.208.0.0 on, every address */
            fprintf(f, "10.%d.%d.%d\n", 208 + i / 65536, i / 256 % 256, i % 256);
        cr_assert_eq(fclose(f), 0);
    }
    write_file("full.yaml", "probes:\n"
                            "  - {name: many, kind: icmp, targets_file: t65600.txt,\n"
                            "     interval: 4s, timeout: 4s}\n");
    rc = run(TW_LAB_CLIENT, 30000,
             /* one thread: one ICMP socket, whose 65,536 sequence numbers
              * 65,600 targets overflow (each thread has a socket of its own) */
             "%s probe --threads 1 --listen off --duration 5500ms --summary --log-results "
             "--log %s %s >%s 2>&1",
             TWKIT_BIN, tpath(log, sizeof(log), "full.log"), tpath(cfg, sizeof(cfg), "full.yaml"),
             tpath(out, sizeof(out), "full.out"));
    cr_assert_eq(rc, 0, "twkit probe: exit %d:\n%s", rc, slurp("full.out"));
    s = summary_line(slurp("full.out"));
    cr_log_info("%s", s);
    local = expect_num(s, "local_error");
    failed = expect_num(s, "failure");
    cr_assert_eq(expect_num(s, "success"), 0, "%s", s);
    cr_assert(local >= 1 && local <= 64, "expected a few of the last 64 to find no number: %s", s);
    cr_assert_geq(failed, 1000, "the others time out: %s", s);
    cr_assert_geq(wait_for("full.log", "\"error\":\"ENOBUFS\",\"detail\":\"icmp: 65536 echo "
                                       "requests in flight on one socket: no sequence number is "
                                       "free\"", 1, 100), 1, "no ENOBUFS line in the log");
}
