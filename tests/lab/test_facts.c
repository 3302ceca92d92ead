/* The TCP facts of ../shared/FACTS.md, measured across the lab's veth.
 * Each test makes its own lab and asserts the numbers it measures. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "twkit/error.h"
#include "twkit/lab.h"
#include "need_root.h"

#define PORTS 1000
#define RANGE "40000 40999"

static struct tw_lab lab;

static void lab_setup(void)
{
    if (geteuid() != 0)
        return; /* the test skips itself */
    cr_assert_eq(tw_lab_create(&lab), 0, "lab: %s", lab.err);
}

static void lab_teardown(void)
{
    if (geteuid() == 0)
        tw_lab_destroy(&lab);
}

TestSuite(facts, .init = lab_setup, .fini = lab_teardown, .timeout = 60);

static void sysctl(enum tw_lab_side side, const char *name, const char *v)
{
    int r = tw_lab_sysctl_set(&lab, side, name, v);
    cr_assert_eq(r, 0, "sysctl %s=%s: %s", name, v, tw_errname(r));
}

/* TIME_WAIT count on a side once the last packets have landed. */
static uint32_t time_wait(enum tw_lab_side side)
{
    struct tw_tcp_states st;

    cr_assert_eq(tw_lab_count_settled(&lab, side, &st), 0);
    return st.n[TW_TCP_TIME_WAIT];
}

static void churn(struct tw_lab_churn *c)
{
    int r = tw_lab_churn(&lab, c);
    cr_assert_eq(r, 0, "churn: %s", tw_errname(r));
}

/* a. The side that closes first holds the TIME_WAIT; the other holds none. */
Test(facts, a_the_side_that_closes_first_holds_time_wait)
{
    struct tw_lab_churn cf = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 300};
    struct tw_lab_churn sf = {.how = TW_LAB_SERVER_FIRST, .max_conns = 300, .port = 6001};

    NEED_ROOT();
    churn(&cf);
    cr_assert_eq(cf.ok, 300);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 300);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    churn(&sf);
    cr_assert_eq(sf.ok, 300);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 300);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 300, "server-first added TIME_WAIT on the client");
}

/* b. Abort leaves no TIME_WAIT anywhere; the peer's read fails ECONNRESET. */
Test(facts, b_abort_leaves_no_time_wait_and_resets_the_peer)
{
    struct tw_lab_churn c = {.how = TW_LAB_CLIENT_ABORT, .max_conns = 300};
    uint64_t data = 0;

    NEED_ROOT();
    churn(&c);
    cr_assert_eq(c.ok, 300);
    cr_assert_eq(c.peer_resets, 300);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 0);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_eq(tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TCPAbortOnData", &data) +
                     tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TCPAbortOnClose", &data),
                 0);
}

/* c. Passive close (after the peer's FIN): no TIME_WAIT on the passive side,
 * over IPv6 as well. */
Test(facts, c_passive_close_leaves_no_time_wait_on_the_passive_side)
{
    struct tw_lab_churn c4 = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 300};
    struct tw_lab_churn c6 = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 300, .ipv6 = true};

    NEED_ROOT();
    churn(&c4);
    churn(&c6);
    cr_assert_eq(c4.ok + c6.ok, 600);
    cr_assert_eq(c4.passive_refused + c6.passive_refused, 0);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 600);
}

/* d. 1,000 ports, reuse off: closing first to one destination fails with
 * EADDRNOTAVAIL after about 1,000 connections; abort and server-first close
 * run to ten times that without a single error. */
Test(facts, d_client_close_exhausts_ports_abort_and_server_close_do_not)
{
    struct tw_lab_churn cf = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 3 * PORTS,
                              .stop_on_error = true};
    struct tw_lab_churn ab = {.how = TW_LAB_CLIENT_ABORT, .max_conns = 10 * PORTS, .port = 6001};
    struct tw_lab_churn sf = {.how = TW_LAB_SERVER_FIRST, .max_conns = 10 * PORTS, .port = 7001};

    NEED_ROOT();
    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", RANGE);
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", "0");
    churn(&cf);
    cr_assert_eq(cf.first_err, -EADDRNOTAVAIL, "first error %s", tw_errname(cf.first_err));
    cr_assert_geq(cf.ok_before_err, PORTS * 9 / 10);
    cr_assert_leq(cf.ok_before_err, PORTS);
    cr_assert_geq(time_wait(TW_LAB_CLIENT), PORTS * 9 / 10);

    churn(&ab);
    cr_assert_eq(ab.ok, 10 * PORTS);
    cr_assert_eq(ab.eaddrnotavail + ab.other_errors, 0);
    churn(&sf);
    cr_assert_eq(sf.ok, 10 * PORTS);
    cr_assert_eq(sf.eaddrnotavail + sf.other_errors, 0);
    /* The server-first run's TIME_WAIT is on the server, one per 4-tuple:
     * the client's ports are free again at once, and connect() keeps
     * choosing among the ports of one parity, so about half the range. */
    uint32_t stw = time_wait(TW_LAB_SERVER);
    cr_assert_geq(stw, PORTS / 2 * 9 / 10, "server TIME_WAIT %u", stw);
    cr_assert_leq(stw, PORTS, "server TIME_WAIT %u", stw);
}

/* e. tcp_tw_reuse=1 with timestamps: TIME_WAIT ports are reused once older
 * than tcp_tw_reuse_delay, TWRecycled grows, and the sustained rate is about
 * ports per delay instead of ports per 60 s. With tcp_timestamps=0, never. */
Test(facts, e_tw_reuse_needs_timestamps)
{
    struct tw_lab_churn on = {.how = TW_LAB_CLIENT_FIRST, .max_ms = 3000};
    struct tw_lab_churn off = {.how = TW_LAB_CLIENT_FIRST, .max_ms = 1500, .port = 6001};
    uint64_t rec0 = 0, rec1 = 0, rec2 = 0;
    char delay[32] = "1000";
    double rate, per_delay;

    NEED_ROOT();
    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", RANGE);
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", "1");
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_timestamps", "1");
    tw_lab_sysctl_get(&lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse_delay", delay, sizeof(delay));
    cr_assert_eq(tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TWRecycled", &rec0), 0);
    churn(&on);
    tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TWRecycled", &rec1);
    per_delay = PORTS * 1000.0 / atof(delay);
    rate = (double)(on.ok - on.ok_before_err) * 1000.0 /
           (double)(on.elapsed_ms - on.ms_before_err);
    cr_assert_geq(on.ok, 2 * PORTS, "only %llu connections in 3 s with reuse",
                  (unsigned long long)on.ok);
    cr_assert_gt(rec1 - rec0, PORTS / 2, "TWRecycled grew by %llu",
                 (unsigned long long)(rec1 - rec0));
    /* about ports per reuse delay (the attempt loop costs some of it),
     * and far above ports per 60 s */
    cr_assert_gt(rate, 0.4 * per_delay, "rate %.0f/s, expected about %.0f/s", rate, per_delay);
    cr_assert_lt(rate, 1.5 * per_delay, "rate %.0f/s, expected about %.0f/s", rate, per_delay);

    /* Without timestamps the TIME_WAIT entries cannot be proven old enough:
     * the same client stops at the port count. (fresh destination port) */
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_timestamps", "0");
    churn(&off);
    tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TWRecycled", &rec2);
    cr_assert_leq(off.ok, PORTS);
    cr_assert_gt(off.eaddrnotavail, 0);
    cr_assert_eq(rec2, rec1, "reuse happened without timestamps");
}

/* f. Uniqueness is per 4-tuple: 1,000 ports hold far more than 1,000
 * TIME_WAIT sockets when they go to several destinations. */
Test(facts, f_time_wait_blocks_a_4_tuple_not_a_port)
{
    struct tw_lab_churn c = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 8 * PORTS, .ndest = 4,
                             .stop_on_error = true};
    uint32_t tw;

    NEED_ROOT();
    sysctl(TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", RANGE);
    sysctl(TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", "0");
    churn(&c);
    tw = time_wait(TW_LAB_CLIENT);
    cr_assert_gt(tw, 3 * PORTS, "only %u TIME_WAIT with %d ports and 4 destinations", tw, PORTS);
    cr_assert_leq(tw, 4 * PORTS);
    cr_assert_eq(c.first_err, -EADDRNOTAVAIL);
}
