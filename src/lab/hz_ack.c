/* A lost final ACK: the client closes first, the server's FIN is
 * answered, but that last ACK is dropped (nft, in the server's namespace,
 * so the client's capture still shows it leaving). The server sits in
 * LAST_ACK retransmitting its FIN; the client at once connects again on
 * the same 4-tuple. With TIME_WAIT the kernel refuses that 4-tuple and
 * the TIME_WAIT answers the FIN retransmission; without it the new SYN
 * lands on the old LAST_ACK socket. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lab/hz_lib.h"
#include "twkit/error.h"

#define TCP_LAST_ACK_STATE 9

/* Only the ACK of the server's FIN (its ack number is the FIN's seq + 1):
 * the new connection's ACKs must pass. */
#define DROP_LAST_ACK                                                                        \
    "add table inet hz; add chain inet hz in { type filter hook input priority 0; }; "       \
    "add rule inet hz in ip saddr 10.201.0.1 tcp sport 40001 tcp flags == ack tcp ackseq %u " \
    "counter drop"

/* What the capture shows of the second connect. */
struct second {
    unsigned syns, challenge_acks, client_rsts, synacks, server_fins;
    double challenge_ms, rst_ms, retrans_ms; /* after the second connect's first SYN */
    double fin_again_ms;                     /* the server's FIN again, after the first */
};

static void read_capture(struct hz *h, uint32_t isn1, struct second *s)
{
    uint32_t client = h->lab.addr4[TW_LAB_CLIENT].u.in.sin_addr.s_addr;
    uint64_t t_syn = 0, t_fin = 0;
    struct hz_tcp t;
    size_t i = 0;

    memset(s, 0, sizeof(*s));
    s->challenge_ms = s->rst_ms = s->retrans_ms = s->fin_again_ms = -1;
    while (hz_next_tcp(h, &i, &t, NULL)) {
        double ms = t_syn ? (double)(h->cap.p[i - 1].ts_ns - t_syn) / 1e6 : 0;
        bool from_client = t.saddr == client;
        if (from_client && t.flags == TH_SYN && t.seq != isn1) {
            if (s->syns++ == 0)
                t_syn = h->cap.p[i - 1].ts_ns;
            else if (s->retrans_ms < 0)
                s->retrans_ms = ms;
        } else if (!from_client && (t.flags & TH_FIN) && !s->syns) {
            if (s->server_fins++ == 0)
                t_fin = h->cap.p[i - 1].ts_ns;
            else if (s->fin_again_ms < 0)
                s->fin_again_ms = (double)(h->cap.p[i - 1].ts_ns - t_fin) / 1e6;
        } else if (s->syns && !from_client && t.flags == TH_ACK && !s->synacks) {
            if (s->challenge_acks++ == 0)
                s->challenge_ms = ms;
        } else if (s->syns && from_client && (t.flags & TH_RST) && !s->synacks) {
            if (s->client_rsts++ == 0)
                s->rst_ms = ms;
        } else if (s->syns && !from_client && t.flags == (TH_SYN | TH_ACK)) {
            s->synacks++;
        }
    }
}

/* The first connection, up to the server's FIN whose ACK is lost. Returns
 * the client's ISN. */
static int first_connection(struct hz *h, int lfd, uint32_t *isn1)
{
    int c = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 2000, NULL), s, err;
    struct hz_tcp t;
    size_t i = 0;
    uint32_t fin_seq = 0;
    char b[8], rule[300];

    if (c < 0)
        return c;
    if ((s = hz_accept(lfd, 2000)) < 0) {
        close(c);
        return s;
    }
    if (write(c, "hello", 5) != 5 || hz_read(s, b, 5, 2000, &err) != 5) {
        close(c);
        close(s);
        return -EIO;
    }
    close(c);                       /* the first FIN: the client's */
    hz_read(s, b, 1, 2000, &err);   /* its EOF */
    hz_sleep_ms(5);
    while (hz_next_tcp(h, &i, &t, NULL)) {
        if (t.flags == TH_SYN)
            *isn1 = t.seq;
        if (t.sport == HZ_SERVER_PORT)
            fin_seq = t.seq + (uint32_t)t.datalen + ((t.flags & (TH_SYN | TH_FIN)) != 0);
    }
    snprintf(rule, sizeof(rule), DROP_LAST_ACK, fin_seq + 1);
    if ((err = hz_nft(h, TW_LAB_SERVER, rule)) < 0) {
        close(s);
        return err;
    }
    close(s);                       /* FIN; the ACK that answers it is lost */
    hz_sleep_ms(2);
    return 0;
}

/* Sockets in a state now, unsettled: this cannot wait. */
static int count_now(struct hz *h, enum tw_lab_side side, int state)
{
    struct tw_tcp_states st;
    return tw_lab_count(&h->lab, side, &st) < 0 ? -1 : (int)st.n[state];
}

/* How long the server's LAST_ACK lasts from now (polled), in ms. */
static int last_ack_gone_ms(struct hz *h, int max_ms)
{
    uint64_t t0 = hz_now_us();
    struct tw_tcp_states st;

    while ((hz_now_us() - t0) / 1000 < (uint64_t)max_ms) {
        if (tw_lab_count(&h->lab, TW_LAB_SERVER, &st) == 0 && !st.n[TCP_LAST_ACK_STATE])
            return (int)((hz_now_us() - t0) / 1000);
        hz_sleep_ms(10);
    }
    return -1;
}

static void say_second(struct hz *h, const struct second *s)
{
    hz_say(h, " The capture: %u SYN%s", s->syns, s->syns == 1 ? "" : "s");
    if (s->challenge_acks)
        hz_say(h, ", the old LAST_ACK answered with a challenge ACK at +%.1f ms", s->challenge_ms);
    if (s->client_rsts)
        hz_say(h, ", the client reset it (RST at +%.1f ms)", s->rst_ms);
    if (s->retrans_ms >= 0)
        hz_say(h, ", SYN retransmitted at +%.0f ms", s->retrans_ms);
    hz_say(h, "%s.", s->synacks ? ", then SYN-ACK" : "");
}

static void lost_ack(struct hz *h, bool tw_kept)
{
    int lfd = hz_listen(h, HZ_SERVER_PORT, 0), err, last_ack, tw, fd = -1, gone;
    uint32_t isn1 = 0;
    uint64_t ms = 0;
    struct second s;

    if (lfd < 0 || (err = first_connection(h, lfd, &isn1)) < 0) {
        hz_fail(h, "first connection%s: %s", lfd >= 0 && err == -ENOENT ? " (nft)" : "",
                tw_errname(lfd < 0 ? lfd : err));
        goto out;
    }
    /* at once, before the server's FIN comes again (RTO, at least 200 ms) */
    last_ack = count_now(h, TW_LAB_SERVER, TCP_LAST_ACK_STATE);
    tw = count_now(h, TW_LAB_CLIENT, TW_TCP_TIME_WAIT);
    fd = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 3000, &ms);
    hz_nft(h, TW_LAB_SERVER, "delete table inet hz"); /* the next final ACK may pass */
    gone = last_ack_gone_ms(h, 2000);
    hz_sleep_ms(20);
    read_capture(h, isn1, &s);
    hz_put(h, "server_last_ack", last_ack);
    hz_put(h, "client_time_wait", tw);
    hz_put(h, "connect_ms", (double)ms);
    hz_put(h, "connect_error", fd < 0 ? -fd : 0);
    hz_put(h, "server_fins", s.server_fins);
    hz_put(h, "challenge_acks", s.challenge_acks);
    hz_put(h, "syn_retransmit_ms", s.retrans_ms);
    hz_say(h, "Final ACK dropped: server in LAST_ACK %d, client TIME_WAIT %d. connect() again "
              "from port %d: %s after %llu ms.",
           last_ack, tw, HZ_CLIENT_PORT, fd < 0 ? tw_errname(fd) : "connected",
           (unsigned long long)ms);
    if (s.syns)
        say_second(h, &s);
    hz_say(h, " The server sent its FIN %u time%s", s.server_fins, s.server_fins == 1 ? "" : "s");
    if (s.fin_again_ms >= 0)
        hz_say(h, " (again at +%.0f ms)", s.fin_again_ms);
    if (gone < 0)
        hz_say(h, "; its LAST_ACK was still there 2 s later.");
    else if (gone <= 10)
        hz_say(h, "; its LAST_ACK was gone already.");
    else
        hz_say(h, "; its LAST_ACK was gone %d ms after the connect() returned.", gone);
    hz_mark(h);
    if (tw_kept) {
        hz_brief(h, "%s; TIME_WAIT answers the FIN", fd < 0 ? tw_errname(fd) : "connected");
        hz_expect(h, last_ack == 1 && tw == 1 && fd == -EADDRNOTAVAIL && s.server_fins >= 2 &&
                     gone >= 0 && !s.challenge_acks,
                  "with TIME_WAIT the new connect() should get EADDRNOTAVAIL at once and the "
                  "retransmitted FIN should be answered, ending LAST_ACK");
    } else {
        /* the 1990s texts expect a failure or a 1 s SYN timeout; Linux
         * re-sends a SYN that met a bad ACK after TCP_TIMEOUT_MIN */
        hz_brief(h, "connect() %llu ms late: challenge ACK, RST",
                 (unsigned long long)ms);
        hz_expect(h, last_ack == 1 && tw == 0 && fd >= 0 && s.challenge_acks >= 1 &&
                     s.client_rsts >= 1 && s.syns >= 2 && s.retrans_ms >= 0 && s.retrans_ms < 500,
                  "without TIME_WAIT the new SYN should meet LAST_ACK: a challenge ACK "
                  "(RFC 5961), the client's RST, and the SYN sent again within a few ms "
                  "(Linux re-sends a SYN after a bad ACK at TCP_TIMEOUT_MIN)");
    }
out:
    if (fd >= 0)
        close(fd);
    if (lfd >= 0)
        close(lfd);
}

void hz_run_lost_ack(struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    static const struct hz_sysctl kept[] = {{'c', "net.ipv4.tcp_tw_reuse", "0"}, {0}};
    static const struct hz_sysctl removed[] = {{'c', "net.ipv4.tcp_tw_reuse", "0"},
                                               {'c', "net.ipv4.tcp_max_tw_buckets", "0"}, {0}};
    struct hz h;

    for (int w = 0; w < 2 && !r->err[0]; w++) {
        if (hz_begin(&h, r, w, "lost-ack", w ? "tcp_max_tw_buckets=0" : "TIME_WAIT",
                     w ? removed : kept, o) < 0)
            return;
        lost_ack(&h, w == TW_HZ_KEPT);
        hz_end(&h);
    }
}
