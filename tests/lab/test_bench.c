/* twkit demo and twkit bench as real processes: the expected result of each
 * close strategy in the lab (narrowed port range, tcp_tw_reuse=0), and bad
 * input that must be counted or refused, never fatal. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "need_root.h"
#include "twkit/sock.h"
#include "twkit/time.h"

TestSuite(bench, .timeout = 180);

static char out[1 << 20];

/* Run a command; its stdout, its exit status, how long it took. */
static const char *run(const char *cmd, int *status, uint64_t *ms)
{
    uint64_t t0 = tw_now_ms();
    FILE *p = popen(cmd, "r");
    size_t n;

    cr_assert_not_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    *status = pclose(p);
    if (ms)
        *ms = tw_now_ms() - t0;
    return out;
}

/* The JSON object of one strategy's run inside demo output (up to the
 * next run), copied so strstr stays inside it. */
static const char *run_of(const char *json, const char *strategy)
{
    static char one[1 << 18];
    char key[64];
    const char *p, *end;

    snprintf(key, sizeof(key), "\"strategy\":\"%s\"", strategy);
    cr_assert_not_null(p = strstr(json, key), "no run of %s in %s", strategy, json);
    end = strstr(p, "{\"schema\":\"twkit-bench/1\"");
    size_t n = end ? (size_t)(end - p) : strlen(p);
    cr_assert_lt(n, sizeof(one));
    memcpy(one, p, n);
    one[n] = 0;
    return one;
}

/* A number after "key": in obj (the first one), or -1 if absent/null. */
static double num(const char *obj, const char *key)
{
    char k[96];
    const char *p;

    snprintf(k, sizeof(k), "\"%s\":", key);
    if (!(p = strstr(obj, k)) || !strncmp(p + strlen(k), "null", 4))
        return -1;
    return strtod(p + strlen(k), NULL);
}

/* The same, inside the object that follows "anchor": */
static double num_in(const char *obj, const char *anchor, const char *key)
{
    char a[64];
    const char *p;

    snprintf(a, sizeof(a), "\"%s\":", anchor);
    return (p = strstr(obj, a)) ? num(p, key) : -1;
}

static double eaddrnotavail(const char *obj)
{
    double v = num(obj, "EADDRNOTAVAIL");
    return v < 0 ? 0 : v;
}

static int lab_namespaces(void)
{
    int status;
    const char *o = run("ip netns list | grep -c '^twkit-' || true", &status, NULL);
    return atoi(o);
}

Test(bench, the_demo_shows_each_strategy_as_the_strategy_table_says)
{
    char cmd[512], svg[] = "/tmp/twkit-demo-XXXXXX";
    const char *json, *r;
    int status, fd, before;
    uint64_t ms;

    NEED_ROOT();
    before = lab_namespaces();
    cr_assert_geq(fd = mkstemp(svg), 0);
    close(fd);
    snprintf(cmd, sizeof(cmd), "%s demo --json --seconds 2 --quiet --svg %s", TWKIT_BIN, svg);
    json = run(cmd, &status, &ms);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", json);
    cr_assert_not_null(strstr(json, "\"schema\":\"twkit-demo/1\""), "%s", json);
    cr_assert_lt(ms, 60000, "the demo takes under a minute (%llu ms)", (unsigned long long)ms);

    /* client-close: ports run out; then at most about ports/60 s */
    r = run_of(json, "client-close");
    cr_assert_gt(eaddrnotavail(r), 0, "%s", r);
    cr_assert_geq(num(r, "client_end"), 0.9 * 2000, "%s", r);
    cr_assert_eq(num(r, "server_end"), 0, "%s", r);
    cr_assert_leq(num(r, "rate_after_exhaustion"), 2000 / 60.0 * 1.5, "%s", r);

    /* server-close: the server holds TIME_WAIT, at most one per client port
     * (a new SYN from a port retires the server's TIME_WAIT of that port) */
    r = run_of(json, "server-close");
    cr_assert_eq(eaddrnotavail(r), 0, "%s", r);
    cr_assert_gt(num(r, "server_end"), 1000, "%s", r);
    cr_assert_leq(num(r, "server_end"), 2000, "%s", r);
    cr_assert_eq(num(r, "client_end"), 0, "%s", r);

    /* handshake: none on the server; the client pays, and runs out too */
    r = run_of(json, "handshake");
    cr_assert_eq(num(r, "server_end"), 0, "%s", r);
    cr_assert_gt(num(r, "client_end"), 0, "%s", r);
    cr_assert_gt(eaddrnotavail(r), 0, "%s", r);

    double best = 0;
    const char *const per_conn[] = {"client-close", "server-close", "handshake", "bye", "abort"};
    for (size_t i = 0; i < 5; i++) {
        r = run_of(json, per_conn[i]);
        if (num(r, "requests_per_s") > best)
            best = num(r, "requests_per_s");
        if (i < 3)
            continue;
        /* bye and abort: nothing anywhere, no errors */
        cr_assert_eq(num(r, "client_end"), 0, "%s", r);
        cr_assert_eq(num(r, "server_end"), 0, "%s", r);
        cr_assert_eq(num(r, "client_max"), 0, "%s", r);
        cr_assert_eq(num(r, "server_max"), 0, "%s", r);
        cr_assert_eq(num_in(r, "errors", "total"), 0, "errors: %s", r);
        cr_assert_gt(num(r, "sessions"), 1000, "%s", r);
    }

    /* pool: far more requests, no more connections than in flight */
    r = run_of(json, "pool");
    cr_assert_gt(num(r, "requests_per_s"), 2 * best, "pool vs best %.0f: %s", best, r);
    cr_assert_leq(num(r, "new_connections"), 50, "%s", r);
    cr_assert_eq(num(r, "client_max"), 0, "%s", r);

    /* the chart, and nothing left behind */
    snprintf(cmd, sizeof(cmd), "grep -c 'polyline' %s", svg);
    cr_assert_geq(atoi(run(cmd, &status, NULL)), 12, "two lines per strategy");
    unlink(svg);
    cr_assert_eq(lab_namespaces(), before, "the demo's namespaces are gone");
}

Test(bench, bad_input_is_refused_with_a_reason)
{
    static const struct { const char *args, *says; } cases[] = {
        {"--close sideways", "--close sideways: unknown strategy"},
        {"--duration 0", "must be more than 0"},
        {"--duration soon", "--duration: 'soon' is not a duration"},
        {"--target 127.0.0.1", "give a port"},
        {"--local --tw-reuse 1", "apply in the lab only"},
        {"--local --port-range 9-3", "not LO-HI"},
        {"--close raw --rate 100 --local", "--rate does not apply to raw"},
        {"--close raw-request --target 127.0.0.1:9", "needs its own echo server"},
        {"--close raw-request --local --size 5000", "at most 4096"},
    };
    char cmd[512];
    int status;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(cmd, sizeof(cmd), "%s bench %s 2>&1", TWKIT_BIN, cases[i].args);
        const char *o = run(cmd, &status, NULL);
        cr_assert_eq(WEXITSTATUS(status), 2, "%s: %s", cases[i].args, o);
        cr_assert_not_null(strstr(o, cases[i].says), "%s: %s", cases[i].args, o);
    }
}

/* A port on loopback where nothing listens. */
static uint16_t dead_port(void)
{
    tw_addr a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    tw_addr_parse(&a, "127.0.0.1:0", 0);
    cr_assert_eq(bind(fd, &a.u.sa, a.len), 0);
    cr_assert_eq(tw_sock_local(fd, &a), 0);
    close(fd);
    return tw_addr_port(&a);
}

Test(bench, a_refusing_target_and_a_resetting_target_are_counted_and_end_on_time)
{
    char cmd[512];
    const char *o;
    int status, lfd;
    uint64_t ms;
    tw_addr a;
    pid_t child;

    snprintf(cmd, sizeof(cmd), "%s bench --target 127.0.0.1:%u --close bye --duration 1 "
                               "--quiet --json", TWKIT_BIN, dead_port());
    o = run(cmd, &status, &ms);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", o);
    cr_assert_lt(ms, 4000, "ends on time: %llu ms", (unsigned long long)ms);
    cr_assert_gt(num(o, "ECONNREFUSED"), 0, "%s", o);
    cr_assert_eq(num_in(o, "errors", "local"), 0, "refusals are the server's: %s", o);
    cr_assert_eq(num(o, "sessions"), 0, "%s", o);

    /* a server that accepts and resets every connection at once */
    tw_addr_parse(&a, "127.0.0.1:0", 0);
    lfd = tw_sock_listen(&a, &(struct tw_listen_opts){.backlog = 128});
    cr_assert_geq(lfd, 0);
    cr_assert_eq(tw_sock_local(lfd, &a), 0);
    if ((child = fork()) == 0) {
        for (uint64_t end = tw_now_ms() + 5000; tw_now_ms() < end;) {
            int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0)
                tw_sock_abort(c);
            else
                usleep(1000);
        }
        _exit(0);
    }
    snprintf(cmd, sizeof(cmd), "%s bench --target 127.0.0.1:%u --close abort --duration 1 "
                               "--quiet --json", TWKIT_BIN, tw_addr_port(&a));
    o = run(cmd, &status, &ms);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(lfd);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", o);
    cr_assert_lt(ms, 4000, "ends on time: %llu ms", (unsigned long long)ms);
    cr_assert_gt(num_in(o, "errors", "server"), 0, "resets are counted as the server's: %s", o);
    cr_assert_eq(num(o, "sessions"), 0, "%s", o);
}

/* twkit bench ARGS, which must exit 0: its output */
static const char *bench_ok(const char *args)
{
    char cmd[512];
    const char *o;
    int status;

    snprintf(cmd, sizeof(cmd), "%s bench %s", TWKIT_BIN, args);
    o = run(cmd, &status, NULL);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s: %s", args, o);
    return o;
}

Test(bench, a_rate_out_of_reach_is_reported)
{
    const char *o = bench_ok("--local --close abort --rate 10000000 --duration 1 "
                             "--concurrency 4 --quiet 2>&1");
    cr_assert_not_null(strstr(o, "--rate 10000000/s was not reached"), "%s", o);
}

Test(bench, a_fixed_rate_is_kept_and_latency_counts_from_the_schedule)
{
    const char *o = bench_ok("--local --close bye --rate 2000 --duration 2 --concurrency 20 "
                             "--quiet --json");
    cr_assert_geq(num(o, "sessions_per_s"), 2000 * 0.9, "%s", o);
    cr_assert_leq(num(o, "sessions_per_s"), 2000 * 1.05, "%s", o);
    cr_assert_eq(num(o, "asked"), 2000, "%s", o);

    /* Start k is due at k / rate: at 20/s a reply on loopback takes well
     * under the 50 ms between starts, counted from when it was due. */
    o = bench_ok("--local --close abort --rate 20 --duration 1 --concurrency 4 --quiet --json");
    cr_assert_geq(num_in(o, "request_us", "n"), 15, "%s", o);
    cr_assert_lt(num_in(o, "request_us", "p50"), 25000, "%s", o);
}

Test(bench, raw_request_is_abort_without_the_library)
{
    const char *o = bench_ok("--local --close raw-request --duration 1 --quiet --json");
    cr_assert_gt(num(o, "sessions"), 1000, "%s", o);
    cr_assert_eq(num_in(o, "request_us", "n"), num(o, "sessions"), "a reply for each: %s", o);
    cr_assert_lt(num_in(o, "errors", "total"), num(o, "sessions") / 100, "%s", o);
    cr_assert_eq(num(o, "client_max"), 0, "%s", o);
    cr_assert_eq(num(o, "server_max"), 0, "%s", o);
}
