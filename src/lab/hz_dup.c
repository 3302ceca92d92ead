/* A delayed duplicate: a data segment of connection 1, captured on the
 * veth, arrives again after connection 2 has started on the same 4-tuple
 * (TIME_WAIT skipped, tcp_max_tw_buckets=0, so the 4-tuple is reused at
 * once). Two of them are sent from the client's namespace with AF_PACKET:
 *
 *  - the captured segment as it was: Linux's ISN clock (a hash of the
 *    4-tuple plus 64 ns ticks, RFC 6528) has moved on by then, so its
 *    sequence number is usually far behind connection 2's window;
 *  - the same segment with its sequence number moved to connection 2's
 *    rcv_nxt (and the ACK to its snd_nxt), as a duplicate from a fast
 *    connection whose sequence space wrapped would arrive. Its timestamp
 *    option stays connection 1's, old.
 *
 * Without timestamps the crafted one is taken as connection 2's next
 * bytes, and the client's real bytes that follow are dropped as
 * duplicates: the server application reads connection 1's data in
 * connection 2, and nobody notices. With timestamps PAWS (RFC 7323)
 * rejects both.
 *
 * The middle run is tcp_tw_reuse's way: TIME_WAIT kept on the client, but
 * tcp_tw_reuse=1 with timestamps on both sides lets connect() take the
 * 4-tuple out of it early (TWRecycled). The same two segments are sent;
 * PAWS must reject them, which is why tcp_tw_reuse is safe only with
 * timestamps. The reconnect goes through connect()'s own port choice (a
 * one-port range), the path where tcp_tw_reuse decides.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lab/hz_lib.h"
#include "twkit/error.h"

#define PLEN 100
/* tcp_tw_reuse_delay in the middle run's lab (Linux 6.13+, 1000 ms by
 * default): long enough that a connect() at once meets it, short enough
 * to keep the run quick */
#define REUSE_DELAY_MS 200
/* before 6.13 the rule was a second after the TIME_WAIT's last timestamp,
 * counted in whole seconds: up to 2 s */
#define OLD_REUSE_WAIT_MS 2100

struct seg {
    uint8_t frame[HZ_SNAPLEN];
    size_t len;
    struct hz_tcp t;
};

/* What the capture says of the two connections so far. */
struct dup {
    uint32_t isn1, isn2;
    uint64_t syn1_ns, syn2_ns;
    struct seg old;          /* connection 1's data segment */
    struct hz_tcp last2;     /* connection 2's last data segment from the client */
    uint16_t win2;           /* the server's last window in connection 2, unscaled */
    int wscale2;             /* the server's window scale (its SYN-ACK) */
    bool have_old, have_last2;
};

static void scan(struct hz *h, struct dup *d)
{
    uint32_t client = h->lab.addr4[TW_LAB_CLIENT].u.in.sin_addr.s_addr;
    const uint8_t *f;
    struct hz_tcp t;
    size_t i = 0;
    int conn = 0;

    while (hz_next_tcp(h, &i, &t, &f)) {
        bool fc = t.saddr == client;
        if (fc && t.flags == TH_SYN) {
            conn++;
            *(conn == 1 ? &d->isn1 : &d->isn2) = t.seq;
            *(conn == 1 ? &d->syn1_ns : &d->syn2_ns) = h->cap.p[i - 1].ts_ns;
        } else if (fc && t.datalen == PLEN && conn == 1 && !d->have_old) {
            d->old.len = h->cap.p[i - 1].caplen;
            memcpy(d->old.frame, f, d->old.len);
            d->old.t = t;
            d->have_old = true;
        } else if (fc && t.datalen == PLEN && conn == 2) {
            d->last2 = t;
            d->have_last2 = true;
        } else if (!fc && conn == 2) {
            if (t.flags & TH_SYN)
                d->wscale2 = t.wscale < 0 ? 0 : t.wscale;
            else
                d->win2 = t.win;
        }
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* Send conn 1's segment again, with seq and ack replaced when asked. */
static int replay(struct hz *h, const struct seg *old, const uint32_t *seq, const uint32_t *ack)
{
    uint8_t f[HZ_SNAPLEN];

    memcpy(f, old->frame, old->len);
    if (seq)
        put32(f + old->t.tcp_off + 4, *seq);
    if (ack)
        put32(f + old->t.tcp_off + 8, *ack);
    hz_tcp_fix_csum(f, old->len);
    return hz_pkt_send(&h->lab, TW_LAB_CLIENT, f, old->len);
}

static int queued(int fd)
{
    int n = 0;
    ioctl(fd, FIONREAD, &n);
    return n;
}

/* Connection 1: the client sends PLEN bytes of 'A', the server reads
 * them; then the client closes first (no TIME_WAIT: the sysctl). */
static int conn1(struct hz *h, int lfd)
{
    char a[PLEN], b[PLEN];
    int c = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 2000, NULL), s, err = 0;

    memset(a, 'A', sizeof(a));
    if (c < 0 || (s = hz_accept(lfd, 2000)) < 0) {
        if (c >= 0)
            close(c);
        return c < 0 ? c : -ETIMEDOUT;
    }
    if (write(c, a, PLEN) != PLEN || hz_read(s, b, PLEN, 2000, &err) != PLEN)
        err = err ? err : -EIO;
    close(c);
    hz_read(s, b, 1, 2000, &err);
    close(s);
    hz_sleep_ms(30); /* the timestamp clock (ms) moves on: PAWS needs it older */
    return err;
}

struct outcome {
    int natural_in, crafted_in;   /* bytes queued at the server after each */
    size_t got;                   /* what the server read after part 1 */
    bool corrupted;               /* it was connection 1's bytes */
    int32_t natural_dist;         /* rcv_nxt - the old seq */
};

/* Connection 2 (on fd c if already connected, else connected now), the
 * two duplicates, and what the server reads. */
static int conn2(struct hz *h, int lfd, int c, struct dup *d, struct outcome *out)
{
    char b1[PLEN], b2[PLEN], got[2 * PLEN];
    int s = -1, err = 0;
    uint32_t rcv_nxt, snd_nxt;

    if (c < 0)
        c = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 2000, NULL);
    memset(b1, 'B', sizeof(b1));
    memset(b2, 'C', sizeof(b2));
    if (c < 0 || (s = hz_accept(lfd, 2000)) < 0)
        err = c < 0 ? c : s;
    else if (write(c, b1, PLEN) != PLEN || hz_read(s, got, PLEN, 2000, &err) != PLEN)
        err = err ? err : -EIO;
    hz_sleep_ms(10);
    if (!err)
        scan(h, d);
    if (!err && (!d->have_old || !d->have_last2))
        err = -ENODATA;
    if (!err) {
        rcv_nxt = d->last2.seq + PLEN;
        snd_nxt = d->last2.ack;
        out->natural_dist = (int32_t)(rcv_nxt - d->old.t.seq);
        if ((err = replay(h, &d->old, NULL, NULL)) == 0) {
            hz_sleep_ms(20);
            out->natural_in = queued(s);
            err = replay(h, &d->old, &rcv_nxt, &snd_nxt);
        }
        hz_sleep_ms(20);
        out->crafted_in = queued(s) - out->natural_in;
        if (!err && write(c, b2, PLEN) != PLEN)
            err = -EIO;
        out->got = hz_read(s, got, PLEN, 300, &err);
        out->corrupted = out->got == PLEN && got[0] == 'A';
    }
    if (c >= 0)
        close(c);
    if (s >= 0)
        close(s);
    return err;
}

/* The middle run: how connect() got connection 2's 4-tuple. */
struct reuse {
    bool on;          /* this is the middle run */
    bool have_delay;  /* tcp_tw_reuse_delay exists (Linux 6.13+) */
    char dflt[16];    /* its value before the lab's */
    unsigned wait_ms; /* the wait past the delay, then how long after the early
                       * connect() the real one went, measured */
    int early_err;    /* connect() at once, within the delay: -errno or 0 */
    int early_fd;     /* the early connect() if it connected all the same */
    int tw_before;    /* the client's TIME_WAIT sockets before connection 2 */
    uint64_t recycled;
};

/* The lab's tcp_tw_reuse_delay, short; on an older kernel, the old rule. */
static void reuse_setup(struct hz *h, struct reuse *u)
{
    char v[16];

    u->on = true;
    u->early_fd = -1;
    u->have_delay = tw_lab_sysctl_get(&h->lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse_delay",
                                      u->dflt, sizeof(u->dflt)) == 0;
    snprintf(v, sizeof(v), "%d", REUSE_DELAY_MS);
    if (u->have_delay && tw_lab_sysctl_set(&h->lab, TW_LAB_CLIENT,
                                           "net.ipv4.tcp_tw_reuse_delay", v) < 0)
        u->have_delay = false;
    u->wait_ms = u->have_delay ? REUSE_DELAY_MS + 50 : OLD_REUSE_WAIT_MS;
}

/* tcp_tw_reuse takes a TIME_WAIT's 4-tuple only once it is old enough:
 * connect() at once, which that should refuse, then again past the delay
 * (conn2 does it). */
static void reuse_wait(struct hz *h, struct reuse *u)
{
    uint64_t t0 = hz_now_us();
    int c = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 500, NULL);

    u->early_err = c < 0 ? c : 0;
    u->early_fd = c; /* it connected: that is connection 2 then */
    u->tw_before = hz_count_state(h, TW_LAB_CLIENT, TW_TCP_TIME_WAIT);
    if (c < 0)
        hz_sleep_ms(u->wait_ms);
    u->wait_ms = (unsigned)((hz_now_us() - t0) / 1000);
}

/* Where connection 2's ISN came from: the ISN clock, or tcp_tw_reuse,
 * which starts the new connection past the TIME_WAIT's snd_nxt + 65537
 * (one unscaled window beyond what the old one could have had in flight). */
static void say_isn(struct hz *h, const struct dup *d, const struct reuse *u, double ticks)
{
    uint32_t snd_nxt1 = d->isn1 + PLEN + 2; /* SYN, data, FIN */

    if (!u->on) {
        hz_say(h, "ISN conn 1 %u, conn 2 %u, %.1f ms later: the ISN clock ran %.1f M/s. ",
               d->isn1, d->isn2, (double)(d->syn2_ns - d->syn1_ns) / 1e6, ticks / 1e6);
        hz_put(h, "isn_clock_per_s", ticks);
        return;
    }
    hz_say(h, "Client TIME_WAIT in place (%d). connect() at once: %s; %u ms later (past %s): "
              "conn 2 %s (client TWRecycled +%llu). ISN conn 1 %u, conn 2 %u = conn 1's "
              "snd_nxt + %u (tcp_tw_reuse's choice, not the ISN clock). ",
           u->tw_before, u->early_err ? tw_errname(u->early_err) : "connected", u->wait_ms,
           u->have_delay ? "tcp_tw_reuse_delay" : "the pre-6.13 rule, 1 s",
           u->recycled ? "took the TIME_WAIT's 4-tuple" : "connected without reusing it",
           (unsigned long long)u->recycled, d->isn1, d->isn2, d->isn2 - snd_nxt1);
    if (u->have_delay)
        hz_say(h, "(tcp_tw_reuse_delay %d ms in the lab, %s by default.) ", REUSE_DELAY_MS,
               u->dflt);
    hz_put(h, "isn_after_snd_nxt", d->isn2 - snd_nxt1);
    hz_put(h, "time_wait_before", u->tw_before);
    hz_put(h, "early_connect_error", -u->early_err);
    hz_put(h, "tw_recycled", (double)u->recycled);
    hz_put(h, "tw_reuse_delay_ms", u->have_delay ? REUSE_DELAY_MS : 0);
}

static void say(struct hz *h, const struct dup *d, const struct outcome *o, bool ts,
                const struct reuse *u)
{
    double ticks = d->syn2_ns > d->syn1_ns ? (double)(uint32_t)(d->isn2 - d->isn1) /
                                                 ((double)(d->syn2_ns - d->syn1_ns) / 1e9)
                                           : 0;
    uint32_t rcv_nxt = d->last2.seq + PLEN, wnd = (uint32_t)d->win2 << d->wscale2;

    say_isn(h, d, u, ticks);
    hz_say(h, "Conn 2's rcv_nxt %u, window %u. Conn 1's segment (seq %u", rcv_nxt, wnd,
           d->old.t.seq);
    if (ts)
        hz_say(h, ", TSval %u vs conn 2's %u", d->old.t.tsval, d->last2.tsval);
    hz_say(h, ") replayed as it was: %d bytes behind rcv_nxt, %s. The same segment moved to seq "
              "%u: %s. The server then read %zu bytes where the client's %d of part 2 ('C'...) "
              "belong: %s.",
           o->natural_dist, o->natural_in ? "ACCEPTED" : ts ? "dropped" : "outside the window, dropped",
           rcv_nxt, o->crafted_in ? "accepted as conn 2's data" : "rejected", o->got, PLEN,
           o->corrupted ? "conn 1's 'A' bytes, the client's own were dropped as duplicates: "
                          "silent corruption"
                        : "the client's own bytes");
    hz_put(h, "isn1", d->isn1);
    hz_put(h, "isn2", d->isn2);
    hz_put(h, "old_seq", d->old.t.seq);
    hz_put(h, "rcv_nxt", rcv_nxt);
    hz_put(h, "rcv_wnd", wnd);
    hz_put(h, "natural_distance", o->natural_dist);
    hz_put(h, "natural_accepted", o->natural_in);
    hz_put(h, "crafted_accepted", o->crafted_in);
    hz_put(h, "corrupted", o->corrupted);
    hz_put(h, "server_read", (double)o->got);
    hz_put(h, "client_sent", PLEN);
    hz_put(h, "paws_estab", (double)hz_delta(h, TW_LAB_SERVER, "PAWSEstab"));
}

/* What this kernel should have done, for the run's setting. */
static void expect(struct hz *h, const struct dup *d, const struct outcome *o, bool ts,
                   const struct reuse *u, uint64_t paws)
{
    bool outside = o->natural_dist < 0 ||
                   (uint32_t)o->natural_dist >= ((uint32_t)d->win2 << d->wscale2);

    /* with timestamps PAWS judges before the window does */
    hz_expect(h, !o->natural_in == (ts || outside),
              ts ? "with timestamps PAWS should drop the natural replay"
                 : "the natural replay should be taken exactly when it falls inside the window");
    if (ts)
        hz_expect(h, !o->crafted_in && !o->corrupted && o->got == PLEN && paws >= 1 &&
                         d->old.t.has_ts,
                  "with timestamps PAWS should reject the old segment (PAWSEstab +%llu)",
                  (unsigned long long)paws);
    else
        hz_expect(h, o->crafted_in == PLEN && o->corrupted && !d->old.t.has_ts,
                  "without timestamps the in-window old segment should be accepted and read in "
                  "place of the client's bytes");
    if (u->on)
        hz_expect(h, u->tw_before == 1 && u->early_err == -EADDRNOTAVAIL && u->recycled == 1,
                  "tcp_tw_reuse=1 should refuse the 4-tuple within the delay (EADDRNOTAVAIL) and "
                  "then take it out of TIME_WAIT once (TWRecycled +1)");
}

static void brief(struct hz *h, const struct outcome *o, const struct reuse *u, uint64_t paws)
{
    const char *what = o->corrupted ? "old segment accepted: 100 bytes corrupted"
                       : paws       ? "rejected by PAWS"
                                    : "rejected";

    if (u->on)
        hz_brief(h, "TIME_WAIT reused (TWRecycled +%llu); %s", (unsigned long long)u->recycled,
                 what);
    else
        hz_brief(h, "%s", what);
}

static void duplicate(struct hz *h, bool ts, bool reuse)
{
    int lfd = hz_listen(h, HZ_SERVER_PORT, 0), err;
    struct reuse u = {.early_fd = -1};
    struct outcome out = {0};
    struct dup d = {0};
    uint64_t paws;

    if (lfd >= 0 && reuse)
        reuse_setup(h, &u);
    err = lfd < 0 ? lfd : conn1(h, lfd);
    if (!err && reuse)
        reuse_wait(h, &u);
    if (!err)
        err = conn2(h, lfd, u.early_fd, &d, &out);
    if (err < 0) {
        hz_fail(h, "%s%s", err == -ENODATA ? "segments missing from the capture: " : "",
                tw_errname(err));
        goto out;
    }
    paws = hz_delta(h, TW_LAB_SERVER, "PAWSEstab");
    u.recycled = hz_delta(h, TW_LAB_CLIENT, "TWRecycled");
    say(h, &d, &out, ts, &u);
    hz_mark(h);
    brief(h, &out, &u, paws);
    expect(h, &d, &out, ts, &u, paws);
out:
    if (lfd >= 0)
        close(lfd);
}

/* Kept and removed skip TIME_WAIT (tcp_max_tw_buckets=0) so the 4-tuple is
 * reused at once; the middle keeps it and lets tcp_tw_reuse take it. */
void hz_run_duplicate(struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    static const struct hz_sysctl kept[] = {{'b', "net.ipv4.tcp_timestamps", "1"},
                                            {'c', "net.ipv4.tcp_max_tw_buckets", "0"}, {0}};
    static const struct hz_sysctl middle[] = {{'b', "net.ipv4.tcp_timestamps", "1"},
                                              {'c', "net.ipv4.tcp_tw_reuse", "1"}, {0}};
    static const struct hz_sysctl removed[] = {{'b', "net.ipv4.tcp_timestamps", "0"},
                                               {'c', "net.ipv4.tcp_max_tw_buckets", "0"}, {0}};
    static const struct {
        int which;
        const char *label;
        const struct hz_sysctl *sysctls;
        bool ts, reuse;
    } runs[] = {
        {TW_HZ_KEPT, "tcp_timestamps=1", kept, true, false},
        {TW_HZ_MIDDLE, "tcp_tw_reuse=1, tcp_timestamps=1", middle, true, true},
        {TW_HZ_REMOVED, "tcp_timestamps=0", removed, false, false},
    };
    struct hz h;

    for (size_t w = 0; w < sizeof(runs) / sizeof(runs[0]) && !r->err[0]; w++) {
        if (hz_begin(&h, r, runs[w].which, "duplicate", runs[w].label, runs[w].sysctls, o) < 0)
            return;
        duplicate(&h, runs[w].ts, runs[w].reuse);
        hz_end(&h);
    }
}
