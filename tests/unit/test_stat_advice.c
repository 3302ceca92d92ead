/* twkit stat's advice rules (src/stat/advice.c) on made-up numbers: every
 * finding is kept however many there are, most severe first. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "stat/internal.h"
#include "stat/stat.h"

static void base(struct tw_stat *st)
{
    memset(st, 0, sizeof(*st));
    for (int i = 0; i < TW_SY_NSYSCTLS; i++)
        st->sysctl[i] = -1;
    st->sysctl[TW_SY_PORT_LO] = 32768;
    st->sysctl[TW_SY_PORT_HI] = 60999;
    st->sysctl[TW_SY_TIMESTAMPS] = 1;
    st->sysctl[TW_SY_TW_REUSE] = 2;
    st->sockstat_tw = -1;
    st->sockstat_inuse = -1;
}

static size_t count_id(const struct tw_stat *st, const char *id)
{
    size_t n = 0;

    for (size_t i = 0; i < st->nadvice; i++)
        n += !strcmp(st->advice[i].id, id);
    return n;
}

Test(stat_advice, forty_destinations_under_pressure_keep_every_finding_most_severe_first)
{
    struct tw_stat st;
    struct tw_stat_group g[40];

    base(&st);
    memset(g, 0, sizeof(g));
    for (int i = 0; i < 40; i++) {
        char a[32];
        snprintf(a, sizeof(a), "10.0.%d.1:80", i);
        cr_assert_eq(tw_addr_parse(&g[i].remote, a, 0), 0);
        cr_assert_eq(tw_addr_parse(&g[i].local, "10.9.0.1:0", 0), 0);
        g[i].usable = 28232;
        g[i].total = 28000; /* 99 %: critical */
        g[i].n[TW_TCP_TIME_WAIT] = 27000;
        g[i].max_rate = 470;
        g[i].rate = 600;
    }
    st.groups = g;
    st.ngroups = 40;
    st.sysctl[TW_SY_PORT_LO] = 32768;
    st.sysctl[TW_SY_PORT_HI] = 32768 + 999; /* small, different parity: a warning */
    st.sysctl[TW_SY_MAX_TW_BUCKETS] = 262144;
    st.sockstat_tw = 250000; /* found last: it must not be crowded out */
    tw_stat_advise(&st, NULL, NULL);
    cr_expect_eq(count_id(&st, "destination-pressure"), 40);
    cr_expect_eq(count_id(&st, "tw-near-limit"), 1);
    cr_expect_eq(count_id(&st, "port-range-small"), 1);
    /* tcp_tw_reuse 2 and no loopback destination: one finding for all 40 */
    cr_expect_eq(count_id(&st, "tw-reuse-off-busy-client"), 1);
    cr_expect_eq(st.nadvice, 43);
    cr_expect_eq(tw_stat_worst(&st), TW_SEV_CRITICAL);
    for (size_t i = 1; i < st.nadvice; i++)
        cr_expect_geq(st.advice[i - 1].severity, st.advice[i].severity, "finding %zu", i);
    cr_expect_str_eq(st.advice[st.nadvice - 1].id, "tw-reuse-off-busy-client");
    /* advised again: the same, not twice as many */
    tw_stat_advise(&st, NULL, NULL);
    cr_expect_eq(st.nadvice, 43);
    st.groups = NULL; /* ours, on the stack */
    st.ngroups = 0;
    tw_stat_free(&st);
    cr_expect_null(st.advice);
}

Test(stat_advice, nothing_wrong_is_no_finding)
{
    struct tw_stat st;

    base(&st);
    tw_stat_advise(&st, NULL, NULL);
    cr_expect_eq(st.nadvice, 0);
    cr_expect_eq(tw_stat_worst(&st), -1);
    tw_stat_free(&st);
}

/* The forecast (tw_stat_forecast): ports run out within 60 s or never. */
Test(stat_advice, the_forecast_counts_what_expires_and_what_is_made)
{
    struct tw_stat_group g;

    /* 1,000 ports, 5 s of a 50/s churn held: 750 left, nothing ends for
     * 55 s: out in 15 s */
    memset(&g, 0, sizeof(g));
    g.usable = 1000;
    g.total = g.n[TW_TCP_TIME_WAIT] = 250;
    for (int b = 55; b < 60; b++)
        g.tw_by_sec[b] = 50;
    cr_expect_float_eq(tw_stat_forecast(&g, 50, 0), 15.0, 1e-6);
    cr_expect_eq(tw_stat_forecast(&g, 0, 0), -1, "no new connections: never");

    /* 20/s for 40 s: 800 held, the oldest end in 20 s; 200 left go in 10 s */
    memset(&g, 0, sizeof(g));
    g.usable = 1000;
    g.total = g.n[TW_TCP_TIME_WAIT] = 800;
    for (int b = 20; b < 60; b++)
        g.tw_by_sec[b] = 20;
    cr_expect_float_eq(tw_stat_forecast(&g, 20, 0), 10.0, 1e-6);

    /* 100/s into 28,232 ports: 6,000 held, as many end as are made: never */
    memset(&g, 0, sizeof(g));
    g.usable = 28232;
    g.total = g.n[TW_TCP_TIME_WAIT] = 6000;
    for (int b = 0; b < 60; b++)
        g.tw_by_sec[b] = 100;
    cr_expect_eq(tw_stat_forecast(&g, 100, 0), -1);
    /* 600/s: past 470/s sustainable; the first seconds give back 100/s */
    cr_expect_float_eq(tw_stat_forecast(&g, 600, 0), (28232.0 - 6000) / 500, 1e-6);

    /* with reuse after 1 s, 200/s never fills 1,000 ports */
    memset(&g, 0, sizeof(g));
    g.usable = 1000;
    g.total = g.n[TW_TCP_TIME_WAIT] = 900;
    for (int b = 15; b < 60; b++)
        g.tw_by_sec[b] = 20;
    cr_expect_eq(tw_stat_forecast(&g, 200, 1), -1);
    cr_expect_eq(tw_stat_forecast(&g, 2000, 1), (1000.0 - 20) / 2000);
    /* every port in use now: 0 */
    g.total = 1000;
    cr_expect_eq(tw_stat_forecast(&g, 1, 0), 0);
}

static const struct tw_advice *find(const struct tw_stat *st, const char *id)
{
    for (size_t i = 0; i < st->nadvice; i++)
        if (!strcmp(st->advice[i].id, id))
            return &st->advice[i];
    return NULL;
}

/* One client-side group towards remote, ports and rates as given. */
static void group(struct tw_stat_group *g, const char *remote, uint32_t usable, uint32_t total,
                  double rate, double max_rate)
{
    memset(g, 0, sizeof(*g));
    cr_assert_eq(tw_addr_parse(&g->remote, remote, 0), 0);
    cr_assert_eq(tw_addr_parse(&g->local, "10.9.0.1:0", 0), 0);
    g->usable = usable;
    g->total = g->n[TW_TCP_TIME_WAIT] = total;
    g->rate = rate;
    g->max_rate = max_rate;
    g->secs_left = -1;
}

static void done(struct tw_stat *st)
{
    st->groups = NULL;
    st->ngroups = 0;
    tw_stat_free(st);
}

/* A sysctl's fix: the command now and the line for boot. */
static void expect_sysctl_fix(const struct tw_advice *a, const char *cmd, const char *line)
{
    char want[160];

    cr_assert_not_null(a);
    cr_expect_not_null(strstr(a->fix, cmd), "%s: want %s in %s", a->id, cmd, a->fix);
    snprintf(want, sizeof(want), "in /etc/sysctl.d/90-twkit.conf: %s", line);
    cr_expect_not_null(strstr(a->fix, want), "%s: want %s in %s", a->id, want, a->fix);
}

Test(stat_advice, every_rule_says_what_to_do)
{
    struct tw_stat st, prev;
    struct tw_stat_group g[2];

    base(&st);
    group(&g[0], "10.0.0.2:80", 1000, 950, 100, 16); /* 95 %: critical */
    st.groups = g;
    st.ngroups = 1;
    st.sysctl[TW_SY_PORT_LO] = 40000;
    st.sysctl[TW_SY_PORT_HI] = 40998; /* both even, and small */
    st.sysctl[TW_SY_TIMESTAMPS] = 0;
    st.sysctl[TW_SY_TW_REUSE] = 1;
    st.sysctl[TW_SY_FIN_TIMEOUT] = 15;
    st.sysctl[TW_SY_MAX_TW_BUCKETS] = 1000;
    st.sysctl[TW_SY_EHASH_ENTRIES] = 65536;
    st.sockstat_tw = 990;
    st.have_counter[TW_SC_OVERFLOW] = true;
    st.counter[TW_SC_OVERFLOW] = 5;
    st.tw_server = 40;
    st.sock_server = 50;
    st.sock_client = 10;
    prev = st;
    prev.counter[TW_SC_OVERFLOW] = 1;
    tw_stat_advise(&st, &prev, NULL);
    static const char *const ids[] = {
        "tw-overflow", "reuse-without-timestamps", "port-range-parity", "port-range-small",
        "destination-pressure", "server-side-time-wait", "max-tw-buckets-lowered",
        "reuse-on-inbound-host", "tw-near-limit", "fin-timeout-lowered"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const struct tw_advice *a = find(&st, ids[i]);
        cr_expect_not_null(a, "%s did not fire", ids[i]);
        if (a)
            cr_expect_gt(strlen(a->fix), 20, "%s: fix \"%s\"", ids[i], a->fix);
    }
    expect_sysctl_fix(find(&st, "reuse-without-timestamps"), "sysctl -w net.ipv4.tcp_timestamps=1",
                      "net.ipv4.tcp_timestamps = 1");
    expect_sysctl_fix(find(&st, "port-range-parity"),
                      "sysctl -w net.ipv4.ip_local_port_range=\"40000 40999\"",
                      "net.ipv4.ip_local_port_range = 40000 40999");
    expect_sysctl_fix(find(&st, "port-range-small"),
                      "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"",
                      "net.ipv4.ip_local_port_range = 1024 65535");
    expect_sysctl_fix(find(&st, "max-tw-buckets-lowered"),
                      "sysctl -w net.ipv4.tcp_max_tw_buckets=32768",
                      "net.ipv4.tcp_max_tw_buckets = 32768");
    const struct tw_advice *a = find(&st, "destination-pressure");
    cr_expect_not_null(strstr(a->fix, "pool the connections to 10.0.0.2:80"), "%s", a->fix);
    cr_expect_not_null(strstr(a->fix, "IP_BIND_ADDRESS_NO_PORT"), "%s", a->fix);
    cr_expect_not_null(strstr(a->fix, "SO_LINGER {1, 0}"), "%s", a->fix);
    cr_expect_not_null(strstr(a->fix, "BYE/GOODBYE"), "%s", a->fix);
    cr_expect_not_null(strstr(find(&st, "tw-overflow")->fix, "twkit stat --who"));
    cr_expect_not_null(strstr(find(&st, "server-side-time-wait")->fix, "let the client close"));
    /* timestamps off: reuse cannot be the advice */
    cr_expect_null(find(&st, "tw-reuse-off-busy-client"));
    /* read in a named namespace (--netns): the commands run there, and no
     * sysctl.d line (the host's namespace's at boot, not this one's) */
    tw_stat_advise(&st, &prev, "blue");
    a = find(&st, "reuse-without-timestamps");
    cr_assert_not_null(a);
    cr_expect_not_null(strstr(a->fix, "ip netns exec blue sysctl -w net.ipv4.tcp_timestamps=1"),
                       "%s", a->fix);
    cr_expect_null(strstr(a->fix, "90-twkit.conf"), "%s", a->fix);
    cr_expect_not_null(strstr(a->fix, "what creates the namespace blue"), "%s", a->fix);
    done(&st);

    /* at 65535 the low end moves, the other way round */
    base(&st);
    st.sysctl[TW_SY_PORT_LO] = 1025;
    st.sysctl[TW_SY_PORT_HI] = 65535;
    tw_stat_advise(&st, NULL, NULL);
    expect_sysctl_fix(find(&st, "port-range-parity"),
                      "sysctl -w net.ipv4.ip_local_port_range=\"1026 65535\"",
                      "net.ipv4.ip_local_port_range = 1026 65535");
    done(&st);
}

Test(stat_advice, a_lowered_fin_timeout_is_not_a_shorter_time_wait)
{
    struct tw_stat st;
    const struct tw_advice *a;

    base(&st);
    st.sysctl[TW_SY_FIN_TIMEOUT] = 10;
    tw_stat_advise(&st, NULL, NULL);
    cr_assert_not_null(a = find(&st, "fin-timeout-lowered"));
    cr_expect_eq(a->severity, TW_SEV_INFO);
    cr_expect_str_eq(a->evidence, "tcp_fin_timeout=10 (default 60)");
    cr_expect_not_null(strstr(a->reason, "FIN_WAIT2"), "%s", a->reason);
    cr_expect_not_null(strstr(a->reason, "does not shorten TIME_WAIT"), "%s", a->reason);
    cr_expect_not_null(strstr(a->reason, "TCP_TIMEWAIT_LEN"), "%s", a->reason);
    expect_sysctl_fix(a, "sysctl -w net.ipv4.tcp_fin_timeout=60", "net.ipv4.tcp_fin_timeout = 60");
    cr_expect_not_null(strstr(a->fix, "who closes first"), "%s", a->fix);
    done(&st);

    st.sysctl[TW_SY_FIN_TIMEOUT] = 60; /* the default */
    tw_stat_advise(&st, NULL, NULL);
    cr_expect_null(find(&st, "fin-timeout-lowered"));
    st.sysctl[TW_SY_FIN_TIMEOUT] = -1; /* not readable */
    tw_stat_advise(&st, NULL, NULL);
    cr_expect_null(find(&st, "fin-timeout-lowered"));
    done(&st);
}

/* reuse 0/2, timestamps on, a destination past half its rate or ports */
static const struct tw_advice *reuse_case(struct tw_stat *st, struct tw_stat_group *g,
                                          int64_t reuse, int64_t ts, bool g_reuse)
{
    base(st);
    st->groups = g;
    st->ngroups = 1;
    st->sysctl[TW_SY_TW_REUSE] = reuse;
    st->sysctl[TW_SY_TIMESTAMPS] = ts;
    g->reuse = g_reuse;
    tw_stat_advise(st, NULL, NULL);
    return find(st, "tw-reuse-off-busy-client");
}

Test(stat_advice, a_busy_client_without_reuse_is_told_to_turn_it_on)
{
    struct tw_stat st;
    struct tw_stat_group g[3];
    const struct tw_advice *a;

    /* 300/s of 470/s sustainable, few ports held yet */
    group(&g[0], "10.0.0.2:80", 28232, 900, 300, 470);
    cr_assert_not_null(a = reuse_case(&st, g, 0, 1, false));
    cr_expect_eq(a->severity, TW_SEV_WARNING);
    cr_expect_str_eq(a->evidence, "tcp_tw_reuse=0, tcp_timestamps=1; 10.9.0.1 -> 10.0.0.2:80: "
                                  "300 new/s observed of 470/s sustainable, 900 of 28232 ports "
                                  "in use");
    cr_expect_str_eq(a->brief, "10.0.0.2:80");
    expect_sysctl_fix(a, "sysctl -w net.ipv4.tcp_tw_reuse=1", "net.ipv4.tcp_tw_reuse = 1");
    cr_expect_not_null(strstr(a->reason, "PAWS"), "%s", a->reason);
    cr_expect_not_null(strstr(a->reason, "only helps connect()"), "%s", a->reason);
    cr_expect_not_null(strstr(a->reason, "tcp_tw_recycle"), "%s", a->reason);
    cr_expect_not_null(strstr(a->reason, "4.12"), "%s", a->reason);
    done(&st);

    /* the default 2 towards a remote address: the same */
    cr_expect_not_null(reuse_case(&st, g, 2, 1, false));
    done(&st);
    /* 2 towards loopback: reuse acts (stat.c sets g->reuse): nothing to say */
    group(&g[0], "127.0.0.1:80", 28232, 900, 300, 28232);
    cr_expect_null(reuse_case(&st, g, 2, 1, true));
    done(&st);
    /* more than half the ports held, at a low rate */
    group(&g[0], "10.0.0.2:80", 1000, 600, 1, 16);
    cr_expect_not_null(reuse_case(&st, g, 0, 1, false));
    done(&st);
    /* timestamps off: reuse could not act; reuse 1: already on */
    group(&g[0], "10.0.0.2:80", 28232, 900, 300, 470);
    cr_expect_null(reuse_case(&st, g, 0, 0, false));
    done(&st);
    cr_expect_null(reuse_case(&st, g, 1, 1, true));
    done(&st);
    /* a quiet client: 100/s of 470/s, a few ports */
    group(&g[0], "10.0.0.2:80", 28232, 900, 100, 470);
    cr_expect_null(reuse_case(&st, g, 0, 1, false));
    done(&st);

    /* three busy destinations: one finding, naming the first */
    for (int i = 0; i < 3; i++) {
        char r[32];
        snprintf(r, sizeof(r), "10.0.%d.2:80", i);
        group(&g[i], r, 28232, 900, 300, 470);
    }
    base(&st);
    st.groups = g;
    st.ngroups = 3;
    st.sysctl[TW_SY_TW_REUSE] = 0;
    tw_stat_advise(&st, NULL, NULL);
    cr_expect_eq(count_id(&st, "tw-reuse-off-busy-client"), 1);
    cr_assert_not_null(a = find(&st, "tw-reuse-off-busy-client"));
    cr_expect_not_null(strstr(a->evidence, "10.0.0.2:80"), "%s", a->evidence);
    cr_expect_not_null(strstr(a->evidence, "; 2 more destinations"), "%s", a->evidence);
    done(&st);
}

/* destination-pressure: critical when the ports run out within 5 minutes
 * (or 90 % are held), a warning when later. */
Test(stat_advice, pressure_is_critical_by_the_time_left)
{
    struct tw_stat st;
    struct tw_stat_group g;
    const struct tw_advice *a;
    static const struct { double left; int sev; const char *brief; } cases[] = {
        {12, TW_SEV_CRITICAL, "10.0.0.2:80: out of ports in 12 s"},
        {299, TW_SEV_CRITICAL, "10.0.0.2:80: out of ports in 299 s"},
        {600, TW_SEV_WARNING, "10.0.0.2:80: out of ports in 600 s"},
        {-1, TW_SEV_WARNING, "10.0.0.2:80: 60% of ports in use"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        base(&st);
        group(&g, "10.0.0.2:80", 1000, 600, 50, 1000);
        g.reuse = true; /* with reuse the forecast can say more than 60 s */
        g.secs_left = cases[i].left;
        st.groups = &g;
        st.ngroups = 1;
        st.sysctl[TW_SY_TW_REUSE] = 1;
        tw_stat_advise(&st, NULL, NULL);
        cr_assert_not_null(a = find(&st, "destination-pressure"), "left %.0f", cases[i].left);
        cr_expect_eq(a->severity, cases[i].sev, "left %.0f s", cases[i].left);
        cr_expect_str_eq(a->brief, cases[i].brief);
        done(&st);
    }
    /* 95 % held: critical whatever the forecast */
    base(&st);
    group(&g, "10.0.0.2:80", 1000, 950, 0, 1000);
    st.groups = &g;
    st.ngroups = 1;
    tw_stat_advise(&st, NULL, NULL);
    cr_assert_not_null(a = find(&st, "destination-pressure"));
    cr_expect_eq(a->severity, TW_SEV_CRITICAL);
    done(&st);
}

/* --who's cgroup column: the v2 line of /proc/PID/cgroup. */
Test(stat_who, the_cgroup_is_the_v2_line_wherever_it_is)
{
    char cg[16];

    tw__who_cgroup_of("0::/system.slice/x.service\n", cg, sizeof(cg));
    cr_expect_str_eq(cg, "/system.slice/x", "cut to the buffer");
    tw__who_cgroup_of("4:memory:/a\n1:cpu:/\n0::/b\n", cg, sizeof(cg));
    cr_expect_str_eq(cg, "/b", "a hybrid host: after the v1 lines");
    tw__who_cgroup_of("12:pids:/\n1:name=systemd:/user\n", cg, sizeof(cg));
    cr_expect_str_eq(cg, "-", "v1 only");
    tw__who_cgroup_of("1:x:/0::/not\n0::/", cg, sizeof(cg));
    cr_expect_str_eq(cg, "/", "only at a line's start; the last line without a newline");
    tw__who_cgroup_of("", cg, sizeof(cg));
    cr_expect_str_eq(cg, "-");
}
