/* Two hazards of TIME_WAIT itself: an RST that ends it early (TIME_WAIT
 * assassination, RFC 1337) and tcp_max_tw_buckets, past which the kernel
 * skips it. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/hz_lib.h"
#include "twkit/error.h"

/* One connection, client closes first, server after the client's FIN:
 * the client holds the TIME_WAIT of port HZ_CLIENT_PORT. */
static int client_first(struct hz *h, int lfd)
{
    int err, c = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 2000, NULL), s;
    char b;

    if (c < 0)
        return c;
    if ((s = hz_accept(lfd, 2000)) < 0) {
        close(c);
        return s;
    }
    close(c);
    hz_read(s, &b, 1, 2000, &err); /* the FIN */
    close(s);
    return err;
}

/* The client's final ACK in the capture: its ack field is what the
 * TIME_WAIT socket expects next (rcv_nxt), so an RST with that seq is
 * exactly in window. */
static bool final_ack(struct hz *h, struct hz_tcp *last, const uint8_t **frame)
{
    uint32_t client = h->lab.addr4[TW_LAB_CLIENT].u.in.sin_addr.s_addr;
    struct hz_tcp t;
    const uint8_t *f;
    size_t i = 0;
    bool found = false;

    while (hz_next_tcp(h, &i, &t, &f))
        if (t.saddr == client && t.flags == TH_ACK && t.sport == HZ_CLIENT_PORT) {
            *last = t;
            *frame = f;
            found = true;
        }
    return found;
}

static void assassinate(struct hz *h, bool rfc1337)
{
    uint8_t rst[HZ_SNAPLEN];
    const uint8_t *frame;
    struct hz_tcp ack;
    int lfd = hz_listen(h, HZ_SERVER_PORT, 0), err, tw0, tw1, fd;
    uint64_t ms;

    if (lfd < 0 || (err = client_first(h, lfd)) < 0) {
        hz_fail(h, "connection: %s", tw_errname(lfd < 0 ? lfd : err));
        goto out;
    }
    tw0 = hz_count_state(h, TW_LAB_CLIENT, TW_TCP_TIME_WAIT);
    if (!final_ack(h, &ack, &frame)) {
        hz_fail(h, "the client's final ACK is not in the capture");
        goto out;
    }
    /* from the server's side, as if the server (or anyone on the path)
     * sent it: seq = rcv_nxt, no options, no timestamp for PAWS to judge */
    size_t n = hz_tcp_reply(frame, &ack, ack.ack, 0, TH_RST, rst);
    if ((err = hz_pkt_send(&h->lab, TW_LAB_SERVER, rst, n)) < 0) {
        hz_fail(h, "sending the RST (AF_PACKET): %s", tw_errname(err));
        goto out;
    }
    hz_sleep_ms(20);
    tw1 = hz_count_state(h, TW_LAB_CLIENT, TW_TCP_TIME_WAIT);
    fd = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 2000, &ms);
    hz_put(h, "time_wait_before_rst", tw0);
    hz_put(h, "time_wait_after_rst", tw1);
    hz_put(h, "rst_seq", ack.ack);
    hz_put(h, "reconnect_error", fd < 0 ? -fd : 0);
    hz_say(h, "TIME_WAIT of port %d: %d; in-window RST (seq %u = rcv_nxt) sent from the server's "
              "side; TIME_WAIT after it: %d; connect() from port %d again: %s.",
           HZ_CLIENT_PORT, tw0, ack.ack, tw1, HZ_CLIENT_PORT,
           fd < 0 ? tw_errname(fd) : "connected");
    hz_brief(h, "%s; port %s", tw1 ? "TIME_WAIT survives" : "TIME_WAIT killed",
             fd < 0 ? tw_errname(fd) : "free at once");
    hz_expect(h, tw0 == 1, "the client held %d TIME_WAIT before the RST, not 1", tw0);
    if (rfc1337)
        hz_expect(h, tw1 == 1 && fd == -EADDRNOTAVAIL,
                  "with tcp_rfc1337=1 the TIME_WAIT should ignore the RST and keep the 4-tuple "
                  "(EADDRNOTAVAIL); it held %d and connect() said %s",
                  tw1, fd < 0 ? tw_errname(fd) : "connected");
    else
        hz_expect(h, tw1 == 0 && fd >= 0,
                  "with tcp_rfc1337=0 the RST should kill the TIME_WAIT and free the 4-tuple; "
                  "%d left and connect() said %s", tw1, fd < 0 ? tw_errname(fd) : "connected");
    hz_mark(h);
    if (fd >= 0)
        close(fd);
out:
    if (lfd >= 0)
        close(lfd);
}

void hz_run_assassination(struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    static const struct hz_sysctl kept[] = {{'c', "net.ipv4.tcp_rfc1337", "1"},
                                            {'c', "net.ipv4.tcp_tw_reuse", "0"}, {0}};
    static const struct hz_sysctl removed[] = {{'c', "net.ipv4.tcp_rfc1337", "0"},
                                               {'c', "net.ipv4.tcp_tw_reuse", "0"}, {0}};
    struct hz h;

    for (int w = 0; w < 2 && !r->err[0]; w++) {
        if (hz_begin(&h, r, w, "assassination", w ? "tcp_rfc1337=0" : "tcp_rfc1337=1",
                     w ? removed : kept, o) < 0)
            return;
        assassinate(&h, w == TW_HZ_KEPT);
        hz_end(&h);
    }
}

#define OVERFLOW_CONNS 50

static void overflow(struct hz *h, const char *limit)
{
    struct tw_lab_churn c = {.how = TW_LAB_CLIENT_FIRST, .max_conns = OVERFLOW_CONNS,
                             .port = HZ_SERVER_PORT};
    int err = tw_lab_churn(&h->lab, &c), tw;
    uint64_t ovf;

    if (err < 0) {
        hz_fail(h, "churn: %s", tw_errname(err));
        return;
    }
    tw = hz_count_state(h, TW_LAB_CLIENT, TW_TCP_TIME_WAIT);
    ovf = hz_delta(h, TW_LAB_CLIENT, "TCPTimeWaitOverflow");
    hz_put(h, "connections", (double)c.ok);
    hz_put(h, "client_time_wait", tw);
    hz_put(h, "tcp_time_wait_overflow", (double)ovf);
    hz_say(h, "tcp_max_tw_buckets=%s, %llu connections closed first by the client: %d in "
              "TIME_WAIT, TCPTimeWaitOverflow +%llu.",
           limit, (unsigned long long)c.ok, tw, (unsigned long long)ovf);
    hz_brief(h, "%d TIME_WAIT, overflow +%llu", tw, (unsigned long long)ovf);
    hz_expect(h, c.ok == OVERFLOW_CONNS, "only %llu of %d connections completed",
              (unsigned long long)c.ok, OVERFLOW_CONNS);
    if (atol(limit) >= OVERFLOW_CONNS)
        hz_expect(h, tw == OVERFLOW_CONNS && ovf == 0,
                  "below the limit every connection should leave one TIME_WAIT");
    else
        hz_expect(h, tw == 0 && ovf == OVERFLOW_CONNS,
                  "with tcp_max_tw_buckets=0 no TIME_WAIT should be kept, each counted as an "
                  "overflow");
}

void hz_run_overflow(struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    static const struct hz_sysctl removed[] = {{'c', "net.ipv4.tcp_max_tw_buckets", "0"}, {0}};
    static char label[64];
    char limit[32] = "?";
    struct hz h;

    if (hz_begin(&h, r, TW_HZ_KEPT, "overflow", NULL, NULL, o) < 0)
        return;
    tw_lab_sysctl_get(&h.lab, TW_LAB_CLIENT, "net.ipv4.tcp_max_tw_buckets", limit, sizeof(limit));
    snprintf(label, sizeof(label), "tcp_max_tw_buckets=%s", limit);
    h.run->label = label;
    overflow(&h, limit);
    hz_end(&h);
    if (r->err[0] || hz_begin(&h, r, TW_HZ_REMOVED, "overflow", "tcp_max_tw_buckets=0",
                              removed, o) < 0)
        return;
    overflow(&h, "0");
    hz_end(&h);
}
