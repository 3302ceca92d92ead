/* twkit stat's advice rules (src/stat/advice.c) on made-up numbers: every
 * finding is kept however many there are, most severe first. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "twkit/stat.h"

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
    tw_stat_advise(&st, NULL);
    cr_expect_eq(count_id(&st, "destination-pressure"), 40);
    cr_expect_eq(count_id(&st, "tw-near-limit"), 1);
    cr_expect_eq(count_id(&st, "port-range-small"), 1);
    cr_expect_eq(st.nadvice, 42);
    cr_expect_eq(tw_stat_worst(&st), TW_SEV_CRITICAL);
    for (size_t i = 1; i < st.nadvice; i++)
        cr_expect_geq(st.advice[i - 1].severity, st.advice[i].severity, "finding %zu", i);
    cr_expect_str_eq(st.advice[st.nadvice - 1].id, "port-range-small");
    /* advised again: the same, not twice as many */
    tw_stat_advise(&st, NULL);
    cr_expect_eq(st.nadvice, 42);
    st.groups = NULL; /* ours, on the stack */
    st.ngroups = 0;
    tw_stat_free(&st);
    cr_expect_null(st.advice);
}

Test(stat_advice, nothing_wrong_is_no_finding)
{
    struct tw_stat st;

    base(&st);
    tw_stat_advise(&st, NULL);
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
