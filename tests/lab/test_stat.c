/* twkit stat in the lab: known TIME_WAIT per destination and side, and
 * every advice rule made to fire. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "need_root.h"
#include "stat_churn.h"
#include "twkit/error.h"
#include "lab/lab.h"
#include "stat/stat.h"
#include "twkit/time.h"
#include "stat/who.h"

static struct tw_lab lab;

static void setup(void)
{
    if (geteuid() == 0)
        cr_assert_eq(tw_lab_create(&lab), 0, "lab: %s", lab.err);
}
static void teardown(void)
{
    if (geteuid() == 0)
        tw_lab_destroy(&lab);
}

TestSuite(stat, .init = setup, .fini = teardown, .timeout = 120);

static int listen_on(enum tw_lab_side side, uint16_t port) { return sc_listen(&lab, side, port); }

/* n connections from `from` to the listener lfd on `to`:port; the side
 * named by `first` closes first and so keeps the TIME_WAIT. */
static void churn(enum tw_lab_side from, enum tw_lab_side to, int lfd, uint16_t port, int n,
                  enum tw_lab_side first)
{
    tw_addr dst = lab.addr4[to];
    char c;

    tw_addr_set_port(&dst, port);
    for (int i = 0; i < n; i++) {
        int cfd, sfd = -1, fd_first, fd_second;
        cr_assert_eq(tw_lab_enter(&lab, from), 0);
        cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        tw_lab_leave(&lab);
        cr_assert_eq(connect(cfd, &dst.u.sa, dst.len), 0, "connect: %s", strerror(errno));
        for (int k = 0; k < 200 && sfd < 0; k++)
            if ((sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
                usleep(1000);
        cr_assert_geq(sfd, 0);
        fd_first = first == from ? cfd : sfd;
        fd_second = first == from ? sfd : cfd;
        close(fd_first);
        cr_assert_eq(read(fd_second, &c, 1), 0); /* its FIN */
        close(fd_second);
    }
}

static void collect(enum tw_lab_side side, struct tw_stat *st)
{
    struct tw_tcp_states settled;

    cr_assert_eq(tw_lab_count_settled(&lab, side, &settled), 0);
    cr_assert_eq(tw_lab_enter(&lab, side), 0);
    int r = tw_stat_collect(st, NULL, NULL);
    tw_lab_leave(&lab);
    cr_assert_eq(r, 0, "collect: %s (%s)", tw_errname(r), st->problems);
}

static const struct tw_stat_group *group_to(const struct tw_stat *st, bool server,
                                            uint16_t port)
{
    for (size_t i = 0; i < st->ngroups; i++) {
        const struct tw_stat_group *g = &st->groups[i];
        if (g->server == server && tw_addr_port(server ? &g->local : &g->remote) == port)
            return g;
    }
    return NULL;
}

static const struct tw_advice *advice(const struct tw_stat *st, const char *id)
{
    for (size_t i = 0; i < st->nadvice; i++)
        if (!strcmp(st->advice[i].id, id))
            return &st->advice[i];
    return NULL;
}

static void sysctl(enum tw_lab_side side, const char *name, const char *value)
{
    cr_assert_eq(tw_lab_sysctl_set(&lab, side, name, value), 0, "%s=%s", name, value);
}

/* Run a command, return its stdout (static) and exit status. */
static const char *run(const char *cmd, int *status)
{
    static char out[1 << 16];
    FILE *p = popen(cmd, "r");
    size_t n;

    cr_assert_not_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = 0;
    *status = pclose(p);
    return out;
}

/* The "time_wait" of the JSON object that holds `"remote":"ADDR"`. */
static long json_tw_of(const char *json, const char *remote)
{
    char k[128];
    const char *p;

    snprintf(k, sizeof(k), "\"remote\":\"%s\"", remote);
    if (!(p = strstr(json, k)) || !(p = strstr(p, "\"time_wait\":")))
        return -1;
    return strtol(p + 12, NULL, 10);
}

Test(stat, three_destinations_counted_exactly_and_as_ss_counts_them)
{
    int l[3], status;
    struct tw_stat st;
    char cmd[512], remote[TW_ADDRSTRLEN];
    const char *out;

    NEED_ROOT();
    for (int i = 0; i < 3; i++) {
        l[i] = listen_on(TW_LAB_SERVER, (uint16_t)(6001 + i));
        churn(TW_LAB_CLIENT, TW_LAB_SERVER, l[i], (uint16_t)(6001 + i), 5 * (i + 1),
              TW_LAB_CLIENT);
    }
    collect(TW_LAB_CLIENT, &st);
    for (int i = 0; i < 3; i++) {
        const struct tw_stat_group *g = group_to(&st, false, (uint16_t)(6001 + i));
        cr_assert_not_null(g, "no group for port %d", 6001 + i);
        cr_assert_eq(g->n[TW_TCP_TIME_WAIT], 5u * (i + 1));
        cr_assert(g->exp_min > 50000 && g->exp_max <= 60000, "%u..%u", g->exp_min, g->exp_max);
        cr_assert_eq(g->tw_recent, 5u * (i + 1));
    }
    cr_assert_eq(st.tw_client, 30);
    cr_assert_eq(st.tw_server, 0);
    tw_stat_free(&st);

    /* the command, from outside, and ss in the same namespace */
    snprintf(cmd, sizeof(cmd), "%s stat --json --netns %s", TWKIT_BIN, lab.ns[TW_LAB_CLIENT]);
    out = run(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\"time_wait\":{\"client\":30,\"server\":0"), "%s", out);
    for (int i = 0; i < 3; i++) {
        tw_addr d = lab.addr4[TW_LAB_SERVER];
        tw_addr_set_port(&d, (uint16_t)(6001 + i));
        tw_addr_format(&d, remote, sizeof(remote));
        cr_assert_eq(json_tw_of(out, remote), 5 * (i + 1), "%s in %s", remote, out);
    }
    snprintf(cmd, sizeof(cmd), "ip netns exec %s ss -tan state time-wait | tail -n +2 | wc -l",
             lab.ns[TW_LAB_CLIENT]);
    cr_assert_eq(atoi(run(cmd, &status)), 30);
    for (int i = 0; i < 3; i++)
        close(l[i]);
}

Test(stat, server_side_time_wait_is_on_the_server_side_and_breaks_the_golden_rule)
{
    int l = listen_on(TW_LAB_SERVER, 6001), back = listen_on(TW_LAB_CLIENT, 7001), out, in;
    struct tw_stat st;
    tw_addr client = lab.addr4[TW_LAB_CLIENT];

    NEED_ROOT();
    churn(TW_LAB_CLIENT, TW_LAB_SERVER, l, 6001, 10, TW_LAB_SERVER);
    /* the server host also connects out */
    tw_addr_set_port(&client, 7001);
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_SERVER), 0);
    out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tw_lab_leave(&lab);
    cr_assert_eq(connect(out, &client.u.sa, client.len), 0);
    in = accept4(back, NULL, NULL, SOCK_CLOEXEC);
    sysctl(TW_LAB_SERVER, "net.ipv4.tcp_tw_reuse", "1");

    collect(TW_LAB_SERVER, &st);
    cr_assert_eq(st.tw_server, 10);
    cr_assert_eq(st.tw_client, 0);
    const struct tw_stat_group *g = group_to(&st, true, 6001);
    cr_assert_not_null(g);
    cr_assert_eq(g->n[TW_TCP_TIME_WAIT], 10);
    const struct tw_advice *a = advice(&st, "server-side-time-wait");
    cr_assert_not_null(a);
    cr_assert_not_null(strstr(a->evidence, "10 TIME_WAIT on the server side"), "%s", a->evidence);
    /* 10 server-side sockets against 1 outbound: reuse does nothing here */
    cr_assert_not_null(advice(&st, "reuse-on-inbound-host"));
    tw_stat_free(&st);

    collect(TW_LAB_CLIENT, &st);
    cr_assert_eq(st.tw_server, 0);
    cr_assert_eq(st.tw_client, 0);
    cr_assert_null(advice(&st, "server-side-time-wait"));
    tw_stat_free(&st);
    close(out);
    close(in);
    close(back);
    close(l);
}

Test(stat, a_crowded_destination_a_small_range_and_reuse_without_timestamps)
{
    int l = listen_on(TW_LAB_SERVER, 6001);
    struct tw_stat st;
    const struct tw_advice *a;

    NEED_ROOT();
    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "40000 40039");
    churn(TW_LAB_CLIENT, TW_LAB_SERVER, l, 6001, 25, TW_LAB_CLIENT);
    collect(TW_LAB_CLIENT, &st);
    const struct tw_stat_group *g = group_to(&st, false, 6001);
    cr_assert_not_null(g);
    cr_assert_eq(g->usable, 40);
    cr_assert_eq(g->total, 25);
    /* 25 in the last second: at that rate the 15 left go within a second */
    cr_assert_not_null(a = advice(&st, "destination-pressure"));
    cr_assert_eq(a->severity, TW_SEV_CRITICAL, "%s", a->evidence);
    cr_assert_not_null(strstr(a->evidence, "out of ports in 1 s at this rate"), "%s",
                       a->evidence);
    tw_stat_free(&st);
    /* once they are older than the rate's 3 s: no new ones, 62 % held */
    sleep(4);
    collect(TW_LAB_CLIENT, &st);
    cr_assert_not_null(a = advice(&st, "destination-pressure"));
    cr_assert_eq(a->severity, TW_SEV_WARNING, "%s", a->evidence);
    cr_assert_not_null(strstr(a->evidence, "25 of 40 usable ports in use (62%)"), "%s",
                       a->evidence);
    cr_assert_null(strstr(a->evidence, "out of ports"), "%s", a->evidence);
    cr_assert_not_null(advice(&st, "port-range-small"));
    cr_assert_null(advice(&st, "port-range-parity"), "40000-40039: different parity");
    cr_assert_null(advice(&st, "reuse-without-timestamps"));
    tw_stat_free(&st);

    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "40000 40026");
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_timestamps", "0");
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", "1");
    collect(TW_LAB_CLIENT, &st);
    cr_assert_not_null(a = advice(&st, "destination-pressure"));
    cr_assert_eq(a->severity, TW_SEV_CRITICAL, "25 of 27 ports is over 90%%");
    cr_assert_not_null(advice(&st, "port-range-parity"));
    cr_assert_not_null(a = advice(&st, "reuse-without-timestamps"));
    cr_assert_not_null(strstr(a->reason, "can never act"));
    cr_assert_eq(tw_stat_worst(&st), TW_SEV_CRITICAL);
    tw_stat_free(&st);
    close(l);
}

Test(stat, a_lowered_bucket_limit_overflows_and_is_critical)
{
    int l = listen_on(TW_LAB_SERVER, 6001), status;
    struct tw_stat st;
    char cmd[512];

    NEED_ROOT();
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_max_tw_buckets", "10");
    churn(TW_LAB_CLIENT, TW_LAB_SERVER, l, 6001, 20, TW_LAB_CLIENT);
    collect(TW_LAB_CLIENT, &st);
    cr_assert_eq(st.tw_client, 10, "the kernel keeps at most 10");
    cr_assert_geq(st.counter[TW_SC_OVERFLOW], 10);
    cr_assert_not_null(advice(&st, "tw-overflow"));
    cr_assert_not_null(advice(&st, "max-tw-buckets-lowered"));
    cr_assert_not_null(advice(&st, "tw-near-limit"));
    tw_stat_free(&st);
    /* critical advice: exit status 1 */
    snprintf(cmd, sizeof(cmd), "%s stat --netns %s", TWKIT_BIN, lab.ns[TW_LAB_CLIENT]);
    run(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 1);
    close(l);
}

Test(stat, an_unknown_namespace_is_a_clear_error)
{
    int status;
    char cmd[256];
    const char *out;

    snprintf(cmd, sizeof(cmd), "%s stat --netns twkit-no-such-ns 2>&1", TWKIT_BIN);
    out = run(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 2);
    cr_assert_not_null(strstr(out, "--netns twkit-no-such-ns: no such network namespace"), "%s",
                       out);
}

/* This process's cgroup v2 path, as /proc/self/cgroup's "0::" line says. */
static void my_cgroup(char *out, size_t cap)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/cgroup", "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    const char *p;

    if (f)
        fclose(f);
    buf[n] = 0;
    p = !strncmp(buf, "0::", 3) ? buf : strstr(buf, "\n0::");
    p = p ? p + (*p == '\n') + 3 : "-";
    snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
}

/* Where cgroup2 is mounted (/sys/fs/cgroup, or .../unified on a hybrid
 * host): false if it is not. */
static bool cgroup2_mount(char *dir, size_t cap)
{
    char line[1024], mnt[512], fs[64];
    FILE *f = fopen("/proc/self/mountinfo", "r");
    bool found = false;

    while (f && !found && fgets(line, sizeof(line), f)) {
        const char *dash = strstr(line, " - ");
        found = dash && sscanf(dash, " - %63s", fs) == 1 && !strcmp(fs, "cgroup2") &&
                sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1;
    }
    if (f)
        fclose(f);
    if (found)
        snprintf(dir, cap, "%s", mnt);
    return found;
}

/* The active closes of a process named "twkit-whotest": 40 towards the lab
 * server, and nothing else. It moves into a cgroup of its own if it can,
 * and says which it is in on cgfd. */
/* In a child: n connections from the lab client to the listener l, each
 * closed first by the client (an active close, a TIME_WAIT) and then by
 * the server (passive: not counted). _exit on failure. */
static void active_closes(int l, const tw_addr *dst, int n)
{
    char c;

    if (tw_lab_enter(&lab, TW_LAB_CLIENT) < 0)
        _exit(1);
    for (int i = 0; i < n; i++) {
        int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), sfd = -1;
        if (connect(cfd, &dst->u.sa, dst->len) < 0)
            _exit(2);
        for (int k = 0; k < 200 && sfd < 0; k++)
            if ((sfd = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
                usleep(1000);
        if (sfd < 0)
            _exit(3);
        close(cfd);                         /* the active close */
        if (read(sfd, &c, 1) != 0)
            _exit(4);
        close(sfd);                         /* passive */
    }
    tw_lab_leave(&lab);
}

static void whotest_closes(int l, const tw_addr *dst, const char *dir, int cgfd)
{
    char cg[256], procs[640];

    prctl(PR_SET_NAME, "twkit-whotest");
    if (dir[0] && mkdir(dir, 0755) == 0) {
        FILE *f;
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        if ((f = fopen(procs, "w"))) {
            fprintf(f, "0\n");
            fclose(f);
        }
    }
    my_cgroup(cg, sizeof(cg));
    if (write(cgfd, cg, strlen(cg) + 1) < 0)
        _exit(5);
    usleep(800 * 1000); /* let the recording start */
    active_closes(l, dst, 40);
    /* /proc still there when the ring is next read (every 100 ms): the
     * cgroup is known only from there */
    usleep(500 * 1000);
}

/* --who names the process, pid and cgroup that closed first, and its
 * totals. The process is a grandchild that exits (and is reaped by init)
 * half a second after its closes, before the recording ends. */
Test(stat, who_attributes_active_closes_to_the_process_that_made_them)
{
    int l = listen_on(TW_LAB_SERVER, 6001), status, pfd[2], cgp[2];
    tw_addr dst = lab.addr4[TW_LAB_SERVER];
    char cmd[256], want[600], cg[256] = "", mnt[512], dir[600] = "", name[64];
    const char *out;
    pid_t child, gchild = 0;

    NEED_ROOT();
    tw_addr_set_port(&dst, 6001);
    cr_assert_eq(pipe(pfd), 0);
    cr_assert_eq(pipe(cgp), 0);
    /* a cgroup of its own, when cgroup2 is mounted: not the "/" every
     * process may share */
    snprintf(name, sizeof(name), "/twkit-whotest-%d", (int)getpid());
    if (cgroup2_mount(mnt, sizeof(mnt)))
        snprintf(dir, sizeof(dir), "%s%s", mnt, name);
    if ((child = fork()) == 0) {
        pid_t g = fork();
        if (g == 0) {
            whotest_closes(l, &dst, dir, cgp[1]);
            _exit(0);
        }
        _exit(write(pfd[1], &g, sizeof(g)) == sizeof(g) ? 0 : 1);
    }
    cr_assert_eq(read(pfd[0], &gchild, sizeof(gchild)), (ssize_t)sizeof(gchild));
    cr_assert_eq(waitpid(child, &status, 0), child);
    close(pfd[0]);
    close(pfd[1]);
    snprintf(cmd, sizeof(cmd), "%s stat --who 3 --json 2>/dev/null", TWKIT_BIN);
    out = run(cmd, &status);
    /* gone, and reaped by init (which may take a moment on a loaded host) */
    for (int i = 0; i < 150 && kill(gchild, 0) == 0; i++)
        usleep(20000);
    cr_assert_eq(kill(gchild, 0), -1, "the grandchild is gone");
    cr_assert_gt(read(cgp[0], cg, sizeof(cg) - 1), 1, "the grandchild's cgroup");
    close(cgp[0]);
    close(cgp[1]);
    cr_assert_eq(cg[0], '/', "%s", cg);
    if (dir[0]) {
        cr_expect_str_eq(cg, name, "in a cgroup of its own");
        for (int i = 0; i < 50 && rmdir(dir) < 0 && errno == EBUSY; i++)
            usleep(20000); /* empty once init has reaped it */
    }
    snprintf(want, sizeof(want),
             "{\"pid\":%d,\"comm\":\"twkit-whotest\",\"cgroup\":\"%s\","
             "\"remote\":\"10.201.0.2:6001\",\"active_closes\":40}", (int)gchild, cg);
    cr_assert_not_null(strstr(out, want), "want %s in %s", want, out);
    /* its totals: 40 closes, one destination */
    snprintf(want, sizeof(want),
             "{\"pid\":%d,\"comm\":\"twkit-whotest\",\"cgroup\":\"%s\","
             "\"active_closes\":40,\"destinations\":1}", (int)gchild, cg);
    cr_assert_not_null(strstr(strstr(out, "\"processes\":["), want), "want %s in %s", want,
                       out);
    cr_assert_null(strstr(out, "\"error\""), "%s", out);
    close(l);
}

/* No tracefs, a sysctl missing from /proc: said plainly, the rest printed. */
Test(stat, no_tracefs_and_a_missing_sysctl_still_give_a_report)
{
    char dir[] = "/tmp/twkit-stat-XXXXXX", cmd[1024];
    const char *out;
    int status;

    NEED_ROOT();
    cr_assert_not_null(mkdtemp(dir));
    snprintf(cmd, sizeof(cmd), "TWKIT_TRACEFS=%s %s stat --who 200ms 2>&1", dir, TWKIT_BIN);
    out = run(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 3, "--who could not record: exit 3: %s", out);
    cr_assert_not_null(strstr(out, "who closed first: not recorded: no tracepoint "
                                   "sock:inet_sock_set_state under /tmp/twkit-stat-"), "%s", out);
    cr_assert_not_null(strstr(out, "\nadvice\n"), "the report is still printed: %s", out);

    /* /proc/sys/net/ipv4 with only two files, in a private mount namespace */
    snprintf(cmd, sizeof(cmd),
             "echo '32768 60999' > %s/ip_local_port_range && echo 1 > %s/tcp_timestamps && "
             "unshare -m sh -c 'mount --bind %s /proc/sys/net/ipv4 && exec %s stat --json' 2>&1",
             dir, dir, dir, TWKIT_BIN);
    out = run(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    cr_assert_not_null(strstr(out, "sysctl tcp_fin_timeout not readable"), "%s", out);
    cr_assert_not_null(strstr(out, "\"tcp_fin_timeout\":-1"), "%s", out);
    cr_assert_not_null(strstr(out, "\"ip_local_port_range\":[32768,60999]"), "%s", out);
    cr_assert_not_null(strstr(out, "\"advice\":["), "%s", out);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* --json --watch into a pipe: each report arrives as it is made, not when
 * stdio's buffer fills; the text report starts with the findings. */
Test(stat, json_watch_into_a_pipe_gives_each_report_at_once)
{
    char cmd[512], line[65536];
    FILE *p;
    uint64_t t0;

    snprintf(cmd, sizeof(cmd), "timeout 20 %s stat --json --watch 10 --count 2", TWKIT_BIN);
    cr_assert_not_null(p = popen(cmd, "r"));
    t0 = tw_now_ms();
    cr_assert_not_null(fgets(line, sizeof(line), p), "no report");
    cr_expect_lt(tw_now_ms() - t0, 5000, "the first report took %llu ms: held in a buffer?",
                 (unsigned long long)(tw_now_ms() - t0));
    cr_expect_eq(strncmp(line, "{", 1), 0, "%s", line);
    pclose(p);

    snprintf(cmd, sizeof(cmd), "%s stat", TWKIT_BIN);
    cr_assert_not_null(p = popen(cmd, "r"));
    {
        size_t n = fread(line, 1, sizeof(line) - 1, p);
        const char *adv, *client;
        line[n] = 0;
        adv = strstr(line, "\nadvice\n");
        client = strstr(line, "\nclient side, by destination\n");
        cr_expect(adv && client && adv < client, "findings first: %s", line);
    }
    pclose(p);
}

/* --who without the rights: said as a permission problem, exit 3;
 * --fail-on warning makes a warning exit 1. */
Test(stat, exit_codes_for_a_denied_who_and_for_fail_on)
{
    char cmd[1024];
    const char *out;
    int status;

    NEED_ROOT();
    snprintf(cmd, sizeof(cmd), "setpriv --reuid=65534 --regid=65534 --clear-groups "
                               "--inh-caps=-all %s stat --who 200ms 2>&1", TWKIT_BIN);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 3, "%s", out);
    cr_expect(strstr(out, "Permission denied") || strstr(out, "Operation not permitted"),
              "a permission problem, said so: %s", out);
    cr_expect_null(strstr(out, "is it tracefs?"), "%s", out);

    snprintf(cmd, sizeof(cmd), "unshare -n sh -c 'sysctl -qw net.ipv4.ip_local_port_range=\"40000 "
                               "40999\" && %s stat --fail-on warning' 2>&1", TWKIT_BIN);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 1, "a warning (port-range-small) at --fail-on warning: %s",
                 out);
    cr_expect_not_null(strstr(out, "[warning] port-range-small"), "%s", out);
    snprintf(cmd, sizeof(cmd), "unshare -n sh -c 'sysctl -qw net.ipv4.ip_local_port_range=\"40000 "
                               "40999\" && %s stat' >/dev/null 2>&1", TWKIT_BIN);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 0, "the default threshold is critical");
    snprintf(cmd, sizeof(cmd), "%s stat --fail-on sometimes 2>&1", TWKIT_BIN);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 2, "%s", out);
}

/* IPv4 connections of a dual-stack socket (::ffff:a.b.c.d) take their
 * ports from the same pool as plain IPv4 ones: one group. */
Test(stat, ipv4_mapped_ipv6_sockets_are_grouped_with_ipv4_ones)
{
    int l, n = 0;
    struct tw_stat st;
    struct sockaddr_in6 d6 = {.sin6_family = AF_INET6, .sin6_port = htons(6010)};
    const struct tw_stat_group *g;
    char c;

    NEED_ROOT();
    l = listen_on(TW_LAB_SERVER, 6010);
    churn(TW_LAB_CLIENT, TW_LAB_SERVER, l, 6010, 3, TW_LAB_CLIENT);
    d6.sin6_addr.s6_addr[10] = d6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&d6.sin6_addr.s6_addr[12], &lab.addr4[TW_LAB_SERVER].u.in.sin_addr, 4);
    for (int i = 0; i < 4; i++) {
        int cfd, sfd = -1;
        cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
        cfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        tw_lab_leave(&lab);
        cr_assert_eq(connect(cfd, (struct sockaddr *)&d6, sizeof(d6)), 0, "connect: %s",
                     strerror(errno));
        for (int k = 0; k < 200 && sfd < 0; k++)
            if ((sfd = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0)
                usleep(1000);
        cr_assert_geq(sfd, 0);
        close(cfd); /* the client closes first: its TIME_WAIT */
        cr_assert_eq(read(sfd, &c, 1), 0);
        close(sfd);
    }
    collect(TW_LAB_CLIENT, &st);
    for (size_t i = 0; i < st.ngroups; i++)
        if (!st.groups[i].server && tw_addr_port(&st.groups[i].remote) == 6010)
            n++;
    cr_expect_eq(n, 1, "one group towards 10.201.0.2:6010, not one per family");
    g = group_to(&st, false, 6010);
    cr_assert_not_null(g);
    cr_expect_eq(g->n[TW_TCP_TIME_WAIT], 7);
    cr_expect_eq(g->remote.u.sa.sa_family, AF_INET);
    tw_stat_free(&st);
    close(l);
}

/* ---- the forecast against the real first EADDRNOTAVAIL ---- */

/* The predicted time of exhaustion (ms, tw_now_ms) at each sample time,
 * and the real one. */
static void forecast_run(uint16_t port, double rate1, double step_s, double rate2,
                         const double *at_s, int n, double *pred_s, double *real_s)
{
    struct sc_acceptor a;
    int rfd, status;
    uint64_t t0, t1;
    pid_t pid;

    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "40000 40999");
    cr_assert_eq(sc_acceptor_start(&a, listen_on(TW_LAB_SERVER, port)), 0);
    cr_assert_gt(pid = sc_churn_start(&lab, port, rate1, step_s, rate2, &rfd), 0);
    cr_assert_eq(read(rfd, &t0, sizeof(t0)), (ssize_t)sizeof(t0));
    for (int i = 0; i < n; i++) {
        struct tw_stat st;
        const struct tw_stat_group *g;
        while (tw_now_ms() < t0 + (uint64_t)(at_s[i] * 1000))
            usleep(2000);
        cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
        int r = tw_stat_collect(&st, NULL, NULL);
        uint64_t now = tw_now_ms();
        tw_lab_leave(&lab);
        cr_assert_eq(r, 0);
        g = group_to(&st, false, port);
        cr_assert_not_null(g, "no group at %.0f s", at_s[i]);
        cr_assert_eq(g->usable, 1000);
        pred_s[i] = g->secs_left < 0 ? 1e9 : (double)(now - t0) / 1000.0 + g->secs_left;
        tw_stat_free(&st);
    }
    cr_assert_eq(read(rfd, &t1, sizeof(t1)), (ssize_t)sizeof(t1), "no EADDRNOTAVAIL");
    *real_s = (double)(t1 - t0) / 1000.0;
    waitpid(pid, &status, 0);
    close(rfd);
    sc_acceptor_stop(&a);
}

static void expect_close(const double *at_s, const double *pred, int n, double real)
{
    for (int i = 0; i < n; i++) {
        double left = real - at_s[i], err = pred[i] - real;
        double tol = 0.2 * left > 1 ? 0.2 * left : 1;
        cr_log_info("at %.0f s: predicted %.2f s, real %.2f s: off by %+.2f s (%+.0f %% of %.1f s "
                    "left)", at_s[i], pred[i], real, err, 100 * err / left, left);
        cr_expect(err >= -tol && err <= tol,
                  "at %.0f s: predicted exhaustion at %.2f s, it came at %.2f s (off by %.2f s, "
                  "%.0f %% of the %.1f s left; allowed %.2f s)",
                  at_s[i], pred[i], real, err, 100 * err / left, left, tol);
    }
}

/* 1,000 ports at a steady 50/s run out at 20 s: from the fifth second on,
 * the forecast is within 20 % (or 1 s) of the time left. */
Test(stat, the_forecast_of_a_steady_churn_is_within_20_percent_of_the_real_exhaustion)
{
    static const double at[] = {5, 8, 11, 14, 17};
    double pred[5], real;

    NEED_ROOT();
    forecast_run(6020, 50, 1e9, 50, at, 5, pred, &real);
    cr_expect(real > 18 && real < 22, "1,000 ports at 50/s lasted %.2f s", real);
    expect_close(at, pred, 5, real);
}

/* 25/s for 10 s, then 75/s: 250 held, 750 left, out at 20 s; the forecast
 * follows the step within its 3 s window. */
Test(stat, the_forecast_follows_a_step_in_the_rate)
{
    static const double at[] = {5, 13, 15, 17};
    double pred[4], real;

    NEED_ROOT();
    forecast_run(6021, 25, 10, 75, at, 4, pred, &real);
    cr_expect(real > 18 && real < 22, "lasted %.2f s", real);
    cr_expect(pred[0] > 40 - 8 && pred[0] < 40 + 8,
              "at 5 s, 25/s for 1,000 ports says 40 s: %.2f", pred[0]);
    expect_close(at + 1, pred + 1, 3, real);
}

/* A listener inside the range takes a port from every destination; the
 * TIME_WAIT of a listener closed since stays on the server side. */
Test(stat, a_listener_in_the_range_is_not_usable_and_a_closed_ones_time_wait_is_server_side)
{
    int l = listen_on(TW_LAB_SERVER, 6031), inside, l2;
    struct tw_stat st;
    const struct tw_stat_group *g;

    NEED_ROOT();
    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "40000 40039");
    inside = listen_on(TW_LAB_CLIENT, 40005);
    churn(TW_LAB_CLIENT, TW_LAB_SERVER, l, 6031, 3, TW_LAB_CLIENT);
    collect(TW_LAB_CLIENT, &st);
    cr_expect_eq(st.listening_in_range, 1);
    cr_assert_not_null(g = group_to(&st, false, 6031));
    cr_expect_eq(g->usable, 39, "40 ports less the one listening");
    tw_stat_free(&st);
    close(inside);
    close(l);

    /* the server closes first, then its listener goes.  A wide client range
     * again: in 40 ports the client would soon pick a port again whose 4-tuple
     * the server still holds in TIME_WAIT, and that SYN reopens it (one
     * TIME_WAIT fewer) */
    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "40000 59999");
    l2 = listen_on(TW_LAB_SERVER, 6032);
    churn(TW_LAB_CLIENT, TW_LAB_SERVER, l2, 6032, 5, TW_LAB_SERVER);
    close(l2);
    collect(TW_LAB_SERVER, &st);
    cr_expect_eq(st.tw_server, 5, "server-side TIME_WAIT of a closed listener");
    cr_expect_eq(st.tw_client, 0);
    cr_assert_not_null(g = group_to(&st, true, 6032));
    cr_expect_eq(g->n[TW_TCP_TIME_WAIT], 5);
    tw_stat_free(&st);
}

/* --brief: one line for scripts, the worst severity first, each finding's
 * few words, TIME_WAIT per side; exit codes as without it. */
Test(stat, brief_is_one_line_with_the_worst_finding_and_the_exit_code_unchanged)
{
    int l = listen_on(TW_LAB_SERVER, 6001), status;
    char cmd[512], want[256];
    const char *out;

    NEED_ROOT();
    snprintf(cmd, sizeof(cmd), "unshare -n %s stat --brief", TWKIT_BIN);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 0, "%s", out);
    cr_expect_str_eq(out, "twkit stat: ok: no findings | TIME_WAIT client 0 server 0\n");

    snprintf(cmd, sizeof(cmd), "unshare -n sh -c 'sysctl -qw net.ipv4.ip_local_port_range=\"40000 "
                               "40999\" && %s stat --brief --fail-on warning'", TWKIT_BIN);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 1, "%s", out);
    cr_expect_str_eq(out, "twkit stat: warning: 1 finding (port-range-small) | TIME_WAIT "
                          "client 0 server 0\n");

    /* 25 of 40 ports in the last second: out of ports within a second */
    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "40000 40039");
    churn(TW_LAB_CLIENT, TW_LAB_SERVER, l, 6001, 25, TW_LAB_CLIENT);
    snprintf(cmd, sizeof(cmd), "%s stat --brief --netns %s", TWKIT_BIN, lab.ns[TW_LAB_CLIENT]);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 1, "critical: exit 1: %s", out);
    cr_expect_eq(strncmp(out, "twkit stat: critical: ", 22), 0, "%s", out);
    cr_expect_not_null(strstr(out, "(destination-pressure 10.201.0.2:6001: out of ports in "),
                       "%s", out);
    cr_expect_not_null(strstr(out, "; port-range-small"), "%s", out);
    snprintf(want, sizeof(want), " | TIME_WAIT client 25 server 0\n");
    cr_expect_not_null(strstr(out, want), "%s", out);
    cr_expect_eq(strchr(out, '\n') - out + 1, (long)strlen(out), "one line: %s", out);

    /* with --watch: a line per report, each as it is made */
    snprintf(cmd, sizeof(cmd), "%s stat --brief --watch 200ms --count 3 --netns %s", TWKIT_BIN,
             lab.ns[TW_LAB_CLIENT]);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 1, "%s", out);
    int lines = 0;
    for (const char *p = out; (p = strstr(p, "twkit stat: ")); p++)
        lines++;
    cr_expect_eq(lines, 3, "%s", out);
    {
        char line[4096];
        uint64_t t0 = tw_now_ms();
        FILE *p;
        snprintf(cmd, sizeof(cmd), "timeout 20 %s stat --brief --watch 4 --count 2", TWKIT_BIN);
        cr_assert_not_null(p = popen(cmd, "r"));
        cr_expect_not_null(fgets(line, sizeof(line), p));
        cr_expect_lt(tw_now_ms() - t0, 3000, "the first line held in a buffer?");
        pclose(p);
    }

    snprintf(cmd, sizeof(cmd), "%s stat --brief --json 2>&1", TWKIT_BIN);
    out = run(cmd, &status);
    cr_expect_eq(WEXITSTATUS(status), 2, "%s", out);
    cr_expect_not_null(strstr(out, "--json and --brief cannot be combined"), "%s", out);
    close(l);
}

/* tracefs mounts this process sees. */
static int tracefs_mounts(void)
{
    char line[1024];
    FILE *f = fopen("/proc/self/mountinfo", "r");
    int n = 0;

    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, " - tracefs ") != NULL;
    if (f)
        fclose(f);
    return n;
}

/* The live recorder an exporter keeps open: a child's active closes are
 * counted under its (comm, cgroup) at the next drain. In a mount namespace
 * of this test's own without tracefs, start mounts it and nothing is left
 * mounted after stop, twice. */
Test(stat, who_live_counts_a_childs_closes_by_comm_and_cgroup_and_leaves_no_mount)
{
    int l = listen_on(TW_LAB_SERVER, 6002), up[2], down[2], status;
    tw_addr dst = lab.addr4[TW_LAB_SERVER];
    struct tw_who_live *live;
    char err[400], cg[256] = "", c = 0;
    const struct tw_who_proc *procs;
    uint64_t found = 0;
    size_t n;
    pid_t pid;

    NEED_ROOT();
    tw_addr_set_port(&dst, 6002);
    /* criterion runs each test in a process of its own: the namespace
     * goes with it */
    cr_assert_eq(unshare(CLONE_NEWNS), 0, "%s", strerror(errno));
    cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    umount2("/sys/kernel/tracing", MNT_DETACH);
    umount2("/sys/kernel/debug", MNT_DETACH);
    cr_assert_eq(tracefs_mounts(), 0);

    cr_assert_eq(tw_who_live_start(&live, NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    if ((pid = fork()) == 0) {
        prctl(PR_SET_NAME, "twkit-livetest");
        my_cgroup(cg, sizeof(cg));
        active_closes(l, &dst, 30);
        /* closed: say so with the cgroup, then stay until told (a live
         * process: its /proc is there when the ring is read) */
        if (write(up[1], cg, sizeof(cg)) != (ssize_t)sizeof(cg) || read(down[0], &c, 1) != 1)
            _exit(6);
        _exit(0);
    }
    cr_assert_eq(read(up[0], cg, sizeof(cg)), (ssize_t)sizeof(cg));
    for (int i = 0; i < 20 && found < 30; i++) {
        cr_assert_eq(tw_who_live_drain(live), 0);
        procs = tw_who_live_procs(live, &n);
        for (size_t k = 0; k < n; k++)
            if (!strcmp(procs[k].comm, "twkit-livetest") && !strcmp(procs[k].cgroup, cg))
                found = procs[k].active_closes;
        if (found < 30)
            usleep(50 * 1000);
    }
    cr_expect_geq(found, 30, "twkit-livetest in %s: %llu closes", cg, (unsigned long long)found);
    cr_expect_geq(tw_who_live_events(live), 30);
    cr_expect_eq(tw_who_live_lost(live), 0);
    cr_expect_leq(n, TW_WHO_LIVE_MAX);
    cr_assert_eq(write(down[1], "x", 1), 1);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_expect_eq(WEXITSTATUS(status), 0, "the child failed at step %d", WEXITSTATUS(status));
    tw_who_live_stop(live);
    cr_expect_eq(tracefs_mounts(), 0, "tracefs left mounted after the first stop");

    /* again: it mounts afresh, and leaves nothing */
    cr_assert_eq(tw_who_live_start(&live, NULL, err, sizeof(err)), 0, "%s", err);
    cr_expect_eq(tw_who_live_drain(live), 0);
    tw_who_live_stop(live);
    cr_expect_eq(tracefs_mounts(), 0, "tracefs left mounted after the second stop");
    close(l);
}
