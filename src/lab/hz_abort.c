/* Two hazards of ending with an RST: an abort over data the peer has not
 * received yet, and an RST that is lost on the way (twkit's own RST
 * endings: --after-fin rst and BYE/GOODBYE, done here the way twkit's
 * server and client do them, with tw_sock_abort). */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab/hz_lib.h"
#include "twkit/error.h"

#define CHUNK 16384
#define MAX_QUEUED (8u << 20)
#define TCP_FIN_WAIT1_STATE 4
#define TCP_FIN_WAIT2_STATE 5

/* Fill the client's send queue behind the server's closed window: write
 * until the kernel takes no more, twice, with a pause for the window to
 * close. Returns the bytes written. */
static size_t fill(int fd)
{
    static char buf[CHUNK];
    size_t total = 0;

    memset(buf, 'x', sizeof(buf));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (int round = 0; round < 2; round++) {
        ssize_t n;
        while (total < MAX_QUEUED && (n = write(fd, buf, sizeof(buf))) > 0)
            total += (size_t)n;
        hz_sleep_ms(100);
    }
    return total;
}

/* Everything the server can read, until EOF or an error. */
static size_t read_all(int fd, int *err)
{
    static char buf[65536];
    size_t total = 0, n;

    while ((n = hz_read(fd, buf, sizeof(buf), 2000, err)) > 0 && !*err)
        total += n;
    return total + n;
}

static unsigned zero_windows(struct hz *h)
{
    uint32_t server = h->lab.addr4[TW_LAB_SERVER].u.in.sin_addr.s_addr;
    struct hz_tcp t;
    size_t i = 0;
    unsigned n = 0;

    while (hz_next_tcp(h, &i, &t, NULL))
        n += t.saddr == server && t.win == 0 && !(t.flags & (TH_SYN | TH_RST));
    return n;
}

static void abort_unsent(struct hz *h, bool graceful)
{
    int lfd = hz_listen(h, HZ_SERVER_PORT, 4096), c = -1, s = -1, err = 0;
    int outq = 0, nsd = 0, inq = 0;
    struct linger lg = {1, 0};
    size_t wrote, got;

    if (lfd < 0 || (c = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 2000, NULL)) < 0 ||
        (s = hz_accept(lfd, 2000)) < 0) {
        hz_fail(h, "connection: %s", tw_errname(lfd < 0 ? lfd : c < 0 ? c : s));
        goto out;
    }
    wrote = fill(c);
    ioctl(c, SIOCOUTQ, &outq);
    ioctl(c, SIOCOUTQNSD, &nsd);
    ioctl(s, FIONREAD, &inq);
    unsigned zw = zero_windows(h);
    if (!graceful)
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(c);
    c = -1;
    got = read_all(s, &err);
    hz_mark(h);
    hz_put(h, "bytes_written", (double)wrote);
    hz_put(h, "client_send_queue", outq);
    hz_put(h, "client_unsent", nsd);
    hz_put(h, "server_zero_windows", zw);
    hz_put(h, "server_read", (double)got);
    hz_put(h, "server_read_error", -err);
    hz_say(h, "The client wrote %zu bytes; the server read none, its window closed (%u zero-window "
              "segments), %d bytes waited in its receive queue and %d in the client's send queue "
              "(%d never sent). %s: the server then read %zu bytes and %s",
           wrote, zw, inq, outq, nsd, graceful ? "close()" : "SO_LINGER {1,0} and close()", got,
           err ? tw_errname(err) : "EOF");
    if (wrote > got)
        hz_say(h, ": %zu bytes lost, the peer never told which.", wrote - got);
    else
        hz_say(h, ": every byte.");
    hz_brief(h, "%zu of %zu bytes read, then %s", got, wrote, err ? tw_errname(err) : "EOF");
    if (graceful)
        hz_expect(h, got == wrote && !err, "a graceful close should deliver every byte, then EOF");
    else
        hz_expect(h, got < wrote && err == -ECONNRESET &&
                     hz_delta(h, TW_LAB_CLIENT, "TCPAbortOnData") == 1,
                  "an abort should discard the queued bytes and reset the peer (ECONNRESET, "
                  "TCPAbortOnData +1)");
out:
    if (c >= 0)
        close(c);
    if (s >= 0)
        close(s);
    if (lfd >= 0)
        close(lfd);
}

void hz_run_abort(struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    struct hz h;

    for (int w = 0; w < 2 && !r->err[0]; w++) {
        if (hz_begin(&h, r, w, "abort", w ? "SO_LINGER {1,0}" : "close()", NULL, o) < 0)
            return;
        abort_unsent(&h, w == TW_HZ_KEPT);
        hz_end(&h);
    }
}

/* ---- a lost RST ---- */

#define DROP_RST(side, table, src, sport)                                                     \
    "add table inet " table "; add chain inet " table " in { type filter hook input priority "  \
    "0; }; add rule inet " table " in ip saddr " src " tcp sport " sport                         \
    " tcp flags & rst == rst counter drop"

struct lingering {
    int state;            /* kernel state, 0: none */
    uint32_t expires_ms;  /* its timer */
};

static int find_port(const struct tw_diag_sock *s, void *arg)
{
    struct lingering *l = arg;

    if (tw_addr_port(&s->local) == HZ_CLIENT_PORT && s->state != TW_TCP_LISTEN) {
        l->state = s->state;
        l->expires_ms = s->expires_ms;
    }
    return 0;
}

/* What holds the client's port now. */
static void client_port(struct hz *h, struct lingering *l)
{
    memset(l, 0, sizeof(*l));
    if (tw_lab_enter(&h->lab, TW_LAB_CLIENT) == 0) {
        tw_diag_dump(~0u, find_port, l);
        tw_lab_leave(&h->lab);
    }
}

/* A request, its reply, and an end by RST; *c and *s are connected. */
static int exchange(struct hz *h, int lfd, uint16_t port, const char *req, const char *rep,
                    int *c, int *s)
{
    char b[16];
    int err;

    if ((*c = hz_connect(h, port, HZ_SERVER_PORT, 2000, NULL)) < 0)
        return *c;
    if ((*s = hz_accept(lfd, 2000)) < 0)
        return *s;
    if (write(*c, req, strlen(req)) < 0 || hz_read(*s, b, strlen(req), 2000, &err) != strlen(req) ||
        write(*s, rep, strlen(rep)) < 0 || hz_read(*c, b, strlen(rep), 2000, &err) != strlen(rep))
        return -EIO;
    return 0;
}

/* With the drop rule gone, how long until the client's port is free
 * (its next retransmission meets a fresh RST), polled; -1: not in 3 s. */
static int port_free_ms(struct hz *h)
{
    uint64_t t0 = hz_now_us();
    struct lingering l;

    hz_nft(h, TW_LAB_CLIENT, "delete table inet hza");
    do {
        client_port(h, &l);
        if (!l.state)
            return (int)((hz_now_us() - t0) / 1000);
        hz_sleep_ms(10);
    } while (hz_now_us() - t0 < 3000000);
    return -1;
}

/* --after-fin rst: the client closes, the server answers its FIN with an
 * RST (as twkit serve does once nothing is unacknowledged). *free_ms: see
 * port_free_ms, when the RST was lost. */
static int after_fin(struct hz *h, int lfd, bool delivered, struct lingering *l, int *again,
                     int *free_ms)
{
    int c = -1, s = -1, err = exchange(h, lfd, HZ_CLIENT_PORT, "GET", "OK", &c, &s);
    char b;

    if (!err && !delivered)
        err = hz_nft(h, TW_LAB_CLIENT, DROP_RST(c, "hza", "10.201.0.2", "5001"));
    if (!err) {
        close(c);
        c = -1;
        hz_read(s, &b, 1, 2000, &err);   /* the client's FIN */
        if (!err && tw_sock_unacked(s) == 0) {
            tw_sock_abort(s);
            s = -1;
        }
        hz_sleep_ms(50);
        client_port(h, l);
        *again = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 1000, NULL);
        if (*again >= 0) { /* out of the listener's queue too: BYE's accept is next */
            int a = hz_accept(lfd, 1000);
            close(*again);
            if (a >= 0)
                close(a);
        }
        if (!delivered)
            *free_ms = port_free_ms(h);
    }
    if (c >= 0)
        close(c);
    if (s >= 0)
        close(s);
    return err;
}

/* BYE/GOODBYE: the client aborts once GOODBYE is in. *before: the
 * server's read at once (-ECONNRESET, or -EAGAIN when the RST was lost);
 * *after: its read once it sent a byte more, *ms how long that took. */
static int after_goodbye(struct hz *h, int lfd, bool delivered, int *before, int *after,
                         uint64_t *us)
{
    int c = -1, s = -1, err = 0;
    char b;

    if (!delivered)
        err = hz_nft(h, TW_LAB_SERVER, DROP_RST(s, "hzb", "10.201.0.1", "40002"));
    if (!err)
        err = exchange(h, lfd, HZ_CLIENT_PORT + 1, "BYE", "GOODBYE", &c, &s);
    if (!err) {
        tw_sock_abort(c);
        c = -1;
        hz_sleep_ms(50);
        *before = recv(s, &b, 1, MSG_DONTWAIT) < 0 ? -errno : 0;
        if (!delivered)
            hz_nft(h, TW_LAB_SERVER, "delete table inet hzb");
        uint64_t t0 = hz_now_us();
        *after = send(s, "x", 1, MSG_NOSIGNAL) < 0 ? -errno : 0;
        if (!*after)
            hz_read(s, &b, 1, 1000, after);
        *us = hz_now_us() - t0;
    }
    if (c >= 0)
        close(c);
    if (s >= 0)
        close(s);
    return err;
}

static void lost_rst(struct hz *h, bool delivered)
{
    int lfd = hz_listen(h, HZ_SERVER_PORT, 0), again = 0, before = 0, after = 0, err;
    int free_ms = -1;
    char fin_timeout[16] = "?";
    struct lingering l;
    uint64_t us = 0;

    if (lfd < 0 || (err = after_fin(h, lfd, delivered, &l, &again, &free_ms)) < 0 ||
        (err = after_goodbye(h, lfd, delivered, &before, &after, &us)) < 0) {
        hz_fail(h, "%s", tw_errname(lfd < 0 ? lfd : err));
        goto out;
    }
    hz_mark(h);
    tw_lab_sysctl_get(&h->lab, TW_LAB_CLIENT, "net.ipv4.tcp_fin_timeout", fin_timeout,
                      sizeof(fin_timeout));
    hz_put(h, "client_port_state", l.state);
    hz_put(h, "client_port_expires_ms", l.expires_ms);
    hz_put(h, "reconnect_error", again < 0 ? -again : 0);
    hz_put(h, "goodbye_server_read_error", -before);
    hz_put(h, "goodbye_server_after_send_error", -after);
    hz_say(h, "--after-fin rst: the client's port %d is then %s", HZ_CLIENT_PORT,
           l.state ? tw_tcp_state_name(l.state) : "free");
    if (l.state == TCP_FIN_WAIT2_STATE)
        hz_say(h, " (%.1f s left, tcp_fin_timeout %s s)", l.expires_ms / 1000.0, fin_timeout);
    else if (l.state)
        hz_say(h, " (retransmission timer: %.1f s left)", l.expires_ms / 1000.0);
    hz_say(h, "; connect() from it again: %s.", again < 0 ? tw_errname(again) : "connected");
    if (l.state == TCP_FIN_WAIT1_STATE)
        hz_say(h, " The server's RST had gone before any ACK of the client's FIN, so the client "
                  "retransmits it: ");
    if (l.state && free_ms >= 0)
        hz_say(h, "once the drop rule is gone its next retransmission meets the server kernel's "
                  "fresh RST, and the port is free %d ms later.", free_ms);
    else if (l.state)
        hz_say(h, "the port was still held 3 s after the drop rule was gone.");
    hz_say(h, " BYE/GOODBYE, the client aborts: the server's read says %s; ",
           before ? tw_errname(before) : "nothing");
    if (before == -EAGAIN)
        hz_say(h, "its socket is still ESTABLISHED, and the byte it sends meets the client "
                  "kernel's fresh RST: %s after %.1f ms.",
               after ? tw_errname(after) : "no error", us / 1000.0);
    else
        hz_say(h, "the connection is over.");
    if (delivered) {
        hz_brief(h, "port free at once; GOODBYE peer reset");
        hz_expect(h, !l.state && again >= 0 && before == -ECONNRESET,
                  "with the RST delivered nothing should linger on either side");
    } else {
        hz_brief(h, "port held (%s) %d ms; server reset on send",
                 l.state ? tw_tcp_state_name(l.state) : "nothing", free_ms);
        hz_expect(h, (l.state == TCP_FIN_WAIT2_STATE || l.state == TCP_FIN_WAIT1_STATE) &&
                     again == -EADDRNOTAVAIL && before == -EAGAIN && after == -ECONNRESET &&
                     (l.state == TCP_FIN_WAIT2_STATE || free_ms >= 0),
                  "with the RST lost the client should linger in FIN_WAIT (its port refused) "
                  "until a retransmission meets a fresh RST, and the server's next segment "
                  "should meet a fresh RST");
    }
out:
    if (lfd >= 0)
        close(lfd);
}

void hz_run_lost_rst(struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    static const struct hz_sysctl sys[] = {{'c', "net.ipv4.tcp_tw_reuse", "0"}, {0}};
    struct hz h;

    for (int w = 0; w < 2 && !r->err[0]; w++) {
        if (hz_begin(&h, r, w, "lost-rst", w ? "RST dropped" : "RST delivered", sys, o) < 0)
            return;
        lost_rst(&h, w == TW_HZ_KEPT);
        hz_end(&h);
    }
}
