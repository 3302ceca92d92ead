/* The TCP facts twkit is built on, each measured in a fresh lab (two
 * namespaces and a veth) so no run sees another's TIME_WAIT sockets. One
 * table for `twkit facts` and for the tests. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lab/facts.h"
#include "twkit/error.h"
#include "lab/lab.h"

#define PORTS 1000

#define result tw_fact_result

static void put(struct result *r, const char *key, double v)
{
    if (r->nvals < TW_FACT_NVALS)
        r->vals[r->nvals++] = (typeof(r->vals[0])){key, v};
}

static void say(struct result *r, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(r->text);

    va_start(ap, fmt);
    vsnprintf(r->text + n, sizeof(r->text) - n, fmt, ap);
    va_end(ap);
}

static uint32_t tw_on(struct tw_lab *lab, enum tw_lab_side side)
{
    struct tw_tcp_states st;
    if (tw_lab_count_settled(lab, side, &st) < 0)
        return 0;
    return st.n[TW_TCP_TIME_WAIT];
}

static int lab_up(struct tw_lab *lab, struct result *r, const char *range, const char *reuse,
                  const char *ts)
{
    int err = tw_lab_create(lab);

    if (err < 0) {
        snprintf(r->err, sizeof(r->err), "%s", lab->err);
        return err;
    }
    if ((range && (err = tw_lab_sysctl_set(lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", range)) < 0) ||
        (reuse && (err = tw_lab_sysctl_set(lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", reuse)) < 0) ||
        (ts && (err = tw_lab_sysctl_set(lab, TW_LAB_CLIENT, "net.ipv4.tcp_timestamps", ts)) < 0)) {
        snprintf(r->err, sizeof(r->err), "cannot set a sysctl in the lab: %s", tw_errname(err));
        tw_lab_destroy(lab);
    }
    return err;
}

static int churn(struct tw_lab *lab, struct result *r, struct tw_lab_churn *c)
{
    int err = tw_lab_churn(lab, c);
    if (err < 0)
        snprintf(r->err, sizeof(r->err), "churn failed: %s", tw_errname(err));
    return err;
}

/* a: only the side that sends the first FIN holds TIME_WAIT. */
static void fact_a(struct result *r)
{
    struct tw_lab lab;
    struct tw_lab_churn c1 = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 200};
    struct tw_lab_churn c2 = {.how = TW_LAB_SERVER_FIRST, .max_conns = 200, .port = 6001};
    uint32_t c_tw, s_tw, c_tw2, s_tw2;

    if (lab_up(&lab, r, NULL, NULL, NULL) < 0)
        return;
    if (churn(&lab, r, &c1) == 0) {
        c_tw = tw_on(&lab, TW_LAB_CLIENT);
        s_tw = tw_on(&lab, TW_LAB_SERVER);
        if (churn(&lab, r, &c2) == 0) {
            c_tw2 = tw_on(&lab, TW_LAB_CLIENT) - c_tw;
            s_tw2 = tw_on(&lab, TW_LAB_SERVER) - s_tw;
            put(r, "client_first_client_tw", c_tw);
            put(r, "client_first_server_tw", s_tw);
            put(r, "server_first_client_tw", c_tw2);
            put(r, "server_first_server_tw", s_tw2);
            say(r, "client closes 200: TW client %u server %u; server closes 200: client %u server %u",
                c_tw, s_tw, c_tw2, s_tw2);
            r->pass = c1.ok == 200 && c2.ok == 200 && c_tw == 200 && s_tw == 0 &&
                      c_tw2 == 0 && s_tw2 == 200;
        }
    }
    tw_lab_destroy(&lab);
}

/* b: an abort (SO_LINGER 0) leaves no TIME_WAIT and resets the peer. */
static void fact_b(struct result *r)
{
    struct tw_lab lab;
    struct tw_lab_churn c = {.how = TW_LAB_CLIENT_ABORT, .max_conns = 200};

    if (lab_up(&lab, r, NULL, NULL, NULL) < 0)
        return;
    if (churn(&lab, r, &c) == 0) {
        uint32_t ctw = tw_on(&lab, TW_LAB_CLIENT), stw = tw_on(&lab, TW_LAB_SERVER);
        uint64_t data = 0, unread = 0;
        /* the kernel's own count of these aborts (TcpExt, per namespace) */
        int cerr = tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TCPAbortOnData", &data) |
                   tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TCPAbortOnClose", &unread);
        put(r, "client_tw", ctw);
        put(r, "server_tw", stw);
        put(r, "peer_econnreset", (double)c.peer_resets);
        put(r, "tcp_abort_on_data", (double)data);
        put(r, "tcp_abort_on_close", (double)unread);
        say(r, "200 aborts: TW client %u server %u; peer read ECONNRESET %llu times; "
               "TCPAbortOnData %llu", ctw, stw, (unsigned long long)c.peer_resets,
            (unsigned long long)data);
        r->pass = c.ok == 200 && ctw == 0 && stw == 0 && c.peer_resets == 200 && cerr == 0;
    }
    tw_lab_destroy(&lab);
}

/* c: closing only after the peer's FIN leaves no TIME_WAIT on this side. */
static void fact_c(struct result *r)
{
    struct tw_lab lab;
    struct tw_lab_churn c = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 500, .ipv6 = true};

    if (lab_up(&lab, r, NULL, NULL, NULL) < 0)
        return;
    if (churn(&lab, r, &c) == 0) {
        uint32_t stw = tw_on(&lab, TW_LAB_SERVER), ctw = tw_on(&lab, TW_LAB_CLIENT);
        put(r, "passive_side_tw", stw);
        put(r, "active_side_tw", ctw);
        put(r, "passive_close_refused", (double)c.passive_refused);
        say(r, "500 passive closes (IPv6): TW on the passive side %u, on the closer %u", stw, ctw);
        r->pass = c.ok == 500 && stw == 0 && ctw == 500 && c.passive_refused == 0;
    }
    tw_lab_destroy(&lab);
}

/* d: closing first towards one destination exhausts the port range. */
static void fact_d(struct result *r)
{
    struct tw_lab lab;
    struct tw_lab_churn cf = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 3 * PORTS,
                              .stop_on_error = true};
    /* Fresh destinations: the first run leaves every port in TIME_WAIT
     * towards its own. */
    struct tw_lab_churn ab = {.how = TW_LAB_CLIENT_ABORT, .max_conns = 10 * PORTS, .port = 6001};
    struct tw_lab_churn sf = {.how = TW_LAB_SERVER_FIRST, .max_conns = 10 * PORTS, .port = 7001};

    if (lab_up(&lab, r, "40000 40999", "0", NULL) < 0)
        return;
    if (churn(&lab, r, &cf) == 0 && churn(&lab, r, &ab) == 0 && churn(&lab, r, &sf) == 0) {
        put(r, "ports", PORTS);
        put(r, "client_close_ok_before_error", (double)cf.ok_before_err);
        put(r, "client_close_eaddrnotavail", (double)cf.eaddrnotavail);
        put(r, "abort_ok", (double)ab.ok);
        put(r, "abort_errors", (double)(ab.eaddrnotavail + ab.other_errors));
        put(r, "server_close_ok", (double)sf.ok);
        put(r, "server_close_errors", (double)(sf.eaddrnotavail + sf.other_errors));
        say(r, "%d ports: client-close %s after %llu; abort %llu ok, server-close %llu ok",
            PORTS, cf.first_err ? tw_errname(cf.first_err) : "no error",
            (unsigned long long)cf.ok_before_err, (unsigned long long)ab.ok,
            (unsigned long long)sf.ok);
        /* server-first's TIME_WAIT is on the server, one per 4-tuple; the
         * client's ports are free again at once, and connect() keeps to the
         * ports of one parity: about half the range */
        uint32_t stw = tw_on(&lab, TW_LAB_SERVER);
        put(r, "server_close_server_tw", stw);
        r->pass = cf.first_err == -EADDRNOTAVAIL && cf.ok_before_err >= PORTS * 9 / 10 &&
                  cf.ok_before_err <= PORTS && ab.ok == 10 * PORTS && sf.ok == 10 * PORTS &&
                  ab.eaddrnotavail + ab.other_errors == 0 &&
                  sf.eaddrnotavail + sf.other_errors == 0 && stw >= PORTS / 2 * 9 / 10 &&
                  stw <= PORTS;
    }
    tw_lab_destroy(&lab);
}

/* e: tcp_tw_reuse=1 reuses TIME_WAIT ports after tcp_tw_reuse_delay, but
 * only with timestamps. */
static void fact_e(struct result *r)
{
    struct tw_lab lab;
    struct tw_lab_churn on = {.how = TW_LAB_CLIENT_FIRST, .max_ms = 3000};
    struct tw_lab_churn off = {.how = TW_LAB_CLIENT_FIRST, .max_ms = 1500};
    uint64_t rec_on = 0, rec_off = 0;
    char delay[32] = "1000";
    double rate;

    if (lab_up(&lab, r, "40000 40999", "1", "1") < 0)
        return;
    tw_lab_sysctl_get(&lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse_delay", delay, sizeof(delay));
    if (churn(&lab, r, &on) == 0)
        tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TWRecycled", &rec_on);
    tw_lab_destroy(&lab);
    if (r->err[0] || lab_up(&lab, r, "40000 40999", "1", "0") < 0)
        return;
    if (churn(&lab, r, &off) == 0)
        tw_lab_counter(&lab, TW_LAB_CLIENT, "TcpExt", "TWRecycled", &rec_off);
    tw_lab_destroy(&lab);
    if (r->err[0])
        return;
    rate = on.elapsed_ms > on.ms_before_err
               ? (double)(on.ok - on.ok_before_err) * 1000.0 / (double)(on.elapsed_ms - on.ms_before_err)
               : 0;
    put(r, "reuse_delay_ms", atof(delay));
    put(r, "reuse_ok", (double)on.ok);
    put(r, "reuse_twrecycled", (double)rec_on);
    put(r, "reuse_rate_after_exhaustion", rate);
    put(r, "no_timestamps_ok", (double)off.ok);
    put(r, "no_timestamps_twrecycled", (double)rec_off);
    say(r, "reuse: %llu ok in 3 s, TWRecycled %llu, %.0f/s after exhaustion (delay %s ms); "
           "timestamps off: %llu ok, TWRecycled %llu",
        (unsigned long long)on.ok, (unsigned long long)rec_on, rate, delay,
        (unsigned long long)off.ok, (unsigned long long)rec_off);
    /* about ports per reuse delay (the attempt loop costs some of it), far
     * above ports per 60 s; without timestamps the entries cannot be
     * proven old enough: never */
    r->pass = on.ok >= 2 * PORTS && rec_on > PORTS / 2 &&
              rate > 0.4 * PORTS * 1000.0 / atof(delay) &&
              rate < 1.5 * PORTS * 1000.0 / atof(delay) && off.ok <= PORTS && rec_off == 0 &&
              off.eaddrnotavail > 0;
}

/* f: TIME_WAIT blocks a 4-tuple, not a port. */
static void fact_f(struct result *r)
{
    struct tw_lab lab;
    struct tw_lab_churn c = {.how = TW_LAB_CLIENT_FIRST, .max_conns = 8 * PORTS, .ndest = 4,
                             .stop_on_error = true};

    if (lab_up(&lab, r, "40000 40999", "0", NULL) < 0)
        return;
    if (churn(&lab, r, &c) == 0) {
        uint32_t ctw = tw_on(&lab, TW_LAB_CLIENT);
        put(r, "ports", PORTS);
        put(r, "destinations", 4);
        put(r, "client_tw", ctw);
        say(r, "%d ports, 4 destinations: %u TIME_WAIT on the client (%.1f per port)", PORTS, ctw,
            (double)ctw / PORTS);
        r->pass = ctw > 3 * PORTS && ctw <= 4 * PORTS && c.first_err == -EADDRNOTAVAIL;
    }
    tw_lab_destroy(&lab);
}

const struct tw_fact tw_facts[] = {
    {"a", "the side that closes first holds the TIME_WAIT", fact_a},
    {"b", "abort (SO_LINGER 0): no TIME_WAIT, peer gets ECONNRESET", fact_b},
    {"c", "passive close (after the peer's FIN): no TIME_WAIT here", fact_c},
    {"d", "client closing first to one destination runs out of ports", fact_d},
    {"e", "tcp_tw_reuse=1 reuses TIME_WAIT ports, only with timestamps", fact_e},
    {"f", "TIME_WAIT blocks a 4-tuple, not a port", fact_f},
};
const size_t tw_nfacts = sizeof(tw_facts) / sizeof(tw_facts[0]);
