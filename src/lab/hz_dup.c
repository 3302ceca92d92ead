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

/* Connection 2, the two duplicates, and what the server reads. */
static int conn2(struct hz *h, int lfd, struct dup *d, struct outcome *out)
{
    char b1[PLEN], b2[PLEN], got[2 * PLEN];
    int c = hz_connect(h, HZ_CLIENT_PORT, HZ_SERVER_PORT, 2000, NULL), s = -1, err = 0;
    uint32_t rcv_nxt, snd_nxt;

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

static void say(struct hz *h, const struct dup *d, const struct outcome *o, bool ts)
{
    double ticks = d->syn2_ns > d->syn1_ns ? (double)(uint32_t)(d->isn2 - d->isn1) /
                                                 ((double)(d->syn2_ns - d->syn1_ns) / 1e9)
                                           : 0;
    uint32_t rcv_nxt = d->last2.seq + PLEN, wnd = (uint32_t)d->win2 << d->wscale2;

    hz_say(h, "ISN conn 1 %u, conn 2 %u, %.1f ms later: the ISN clock ran %.1f M/s. Conn 2's "
              "rcv_nxt %u, window %u. Conn 1's segment (seq %u",
           d->isn1, d->isn2, (double)(d->syn2_ns - d->syn1_ns) / 1e6, ticks / 1e6, rcv_nxt, wnd,
           d->old.t.seq);
    if (ts)
        hz_say(h, ", TSval %u vs conn 2's %u", d->old.t.tsval, d->last2.tsval);
    hz_say(h, ") replayed as it was: %d bytes behind rcv_nxt, %s. The same segment moved to seq "
              "%u: %s. The server then read %zu bytes where the client's part 2 ('C'...) "
              "belongs: %s.",
           o->natural_dist, o->natural_in ? "ACCEPTED" : "outside the window, dropped", rcv_nxt,
           o->crafted_in ? "accepted as conn 2's data" : "rejected", o->got,
           o->corrupted ? "conn 1's 'A' bytes, the client's own were dropped as duplicates: "
                          "silent corruption"
                        : "the client's own bytes");
    hz_put(h, "isn1", d->isn1);
    hz_put(h, "isn2", d->isn2);
    hz_put(h, "isn_clock_per_s", ticks);
    hz_put(h, "old_seq", d->old.t.seq);
    hz_put(h, "rcv_nxt", rcv_nxt);
    hz_put(h, "rcv_wnd", wnd);
    hz_put(h, "natural_distance", o->natural_dist);
    hz_put(h, "natural_accepted", o->natural_in);
    hz_put(h, "crafted_accepted", o->crafted_in);
    hz_put(h, "corrupted", o->corrupted);
    hz_put(h, "paws_estab", (double)hz_delta(h, TW_LAB_SERVER, "PAWSEstab"));
}

static void duplicate(struct hz *h, bool ts)
{
    int lfd = hz_listen(h, HZ_SERVER_PORT, 0), err;
    struct outcome out = {0};
    struct dup d = {0};
    uint64_t paws;

    if (lfd < 0 || (err = conn1(h, lfd)) < 0 || (err = conn2(h, lfd, &d, &out)) < 0) {
        hz_fail(h, "%s%s", lfd >= 0 && err == -ENODATA ? "segments missing from the capture: " : "",
                tw_errname(lfd < 0 ? lfd : err));
        goto out;
    }
    paws = hz_delta(h, TW_LAB_SERVER, "PAWSEstab");
    say(h, &d, &out, ts);
    hz_mark(h);
    hz_brief(h, "%s", out.corrupted ? "old segment accepted: 100 bytes corrupted"
                                    : paws ? "rejected by PAWS" : "rejected");
    hz_expect(h, !out.natural_in == (out.natural_dist < 0 || (uint32_t)out.natural_dist >=
                                                                 ((uint32_t)d.win2 << d.wscale2)),
              "the natural replay should be taken exactly when it falls inside the window");
    if (ts)
        hz_expect(h, !out.crafted_in && !out.corrupted && paws >= 1 && d.old.t.has_ts,
                  "with timestamps PAWS should reject the old segment (PAWSEstab +%llu)",
                  (unsigned long long)paws);
    else
        hz_expect(h, out.crafted_in == PLEN && out.corrupted && !d.old.t.has_ts,
                  "without timestamps the in-window old segment should be accepted and read in "
                  "place of the client's bytes");
out:
    if (lfd >= 0)
        close(lfd);
}

void hz_run_duplicate(struct tw_hazard_result *r, const struct tw_hazard_opts *o)
{
    static const struct hz_sysctl kept[] = {{'b', "net.ipv4.tcp_timestamps", "1"},
                                            {'c', "net.ipv4.tcp_max_tw_buckets", "0"}, {0}};
    static const struct hz_sysctl removed[] = {{'b', "net.ipv4.tcp_timestamps", "0"},
                                               {'c', "net.ipv4.tcp_max_tw_buckets", "0"}, {0}};
    struct hz h;

    for (int w = 0; w < 2 && !r->err[0]; w++) {
        if (hz_begin(&h, r, w, "duplicate", w ? "tcp_timestamps=0" : "tcp_timestamps=1",
                     w ? removed : kept, o) < 0)
            return;
        duplicate(&h, w == TW_HZ_KEPT);
        hz_end(&h);
    }
}
