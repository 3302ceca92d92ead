/* The icmp kind's sockets (icmp_sock.h): shared by every probe, one per
 * address family, source address and don't-fragment setting in use, each
 * request found again by its sequence number.
 *
 * Which socket. A ping socket (SOCK_DGRAM with IPPROTO_ICMP or
 * IPPROTO_ICMPV6) when net.ipv4.ping_group_range takes one of the
 * process's groups (that one sysctl governs IPv6 ping sockets too): the
 * kernel then picks the echo identifier and hands this socket only the
 * replies that carry it. When the sysctl refuses (EACCES), a raw socket,
 * which needs CAP_NET_RAW and sees every ICMP message of the namespace: an
 * ICMP filter lets only echo replies and the errors through, and a reply
 * with another identifier than ours (random per socket) is someone else's.
 * Neither: a local error naming the sysctl, its value and the capability.
 *
 * Matching. The sequence number indexes a table of 65,536 slots per socket
 * (sequence numbers go round, skipping slots in flight); a reply must come
 * from the address probed and carry exactly the probe's payload, whose
 * last 8 bytes are a random cookie of the probe's own. So a reply that
 * comes after its probe gave up (its slot is free, or after 65,536 more
 * requests another probe's) or one meant for another program never
 * matches. An ICMP error is matched by the sequence number and the
 * destination of the request it quotes (routers may quote only 8 bytes of
 * it, so not the cookie).
 *
 * Traps of the kernel interface:
 * - A ping socket with IP_RECVERR / IPV6_RECVERR queues the errors about
 *   its requests (MSG_ERRQUEUE: the request's ICMP header, so its sequence
 *   number, its destination and the offender) and also sets sk_err, which
 *   the next sendmsg() returns instead of sending (sock_alloc_send_skb).
 *   A send that fails while errors are queued is retried once they are
 *   read; they reach their probes after this batch, not from inside the
 *   send (that would run other probes' code in the middle of this one).
 * - Raw sockets get the error messages themselves, quoting the request's
 *   IP header and its first 8 bytes, so no IP_RECVERR (which would add a
 *   second copy). IPv4 raw reads start with the IP header (the TTL is
 *   there); IPv6 ones start at the ICMPv6 header (the hop limit comes as
 *   IPV6_HOPLIMIT), and the kernel fills in ICMPv6 checksums.
 * - The TTL / hop limit of each request is a cmsg (IP_TTL, IPV6_HOPLIMIT),
 *   so probes with different ttl share a socket.
 */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/errqueue.h>

#include "probe/icmp_sock.h"
#include "twkit/error.h"
#include "twkit/time.h"

#define NSEQ 65536
#define BATCH 16          /* datagrams per recvmmsg */
#define ROUNDS 8          /* recvmmsg calls per wakeup at most */
#define RETRY_MS 1000     /* a socket that could not be made, tried again */
#define PEND_MAX 64       /* errors read while sending, to hand out */
#define RCVBUF (4 << 20)  /* replies wait here while the loop is busy */

#ifndef ICMP_FILTER
#define ICMP_FILTER 1     /* linux/icmp.h, which clashes with glibc's */
#endif

/* ICMP and ICMPv6 types */
enum {
    V4_ECHO_REPLY = 0, V4_UNREACH = 3, V4_ECHO = 8, V4_TIME_EXCEEDED = 11, V4_PARAM = 12,
    V6_UNREACH = 1, V6_TOO_BIG = 2, V6_TIME_EXCEEDED = 3, V6_PARAM = 4, V6_ECHO = 128,
    V6_ECHO_REPLY = 129,
};

struct pend {
    struct tp_icmp_echo *e;
    struct tp_icmp_answer a;
};

struct tp_icmp_sock {
    struct tp_icmp_set *set;
    tw_io io;                 /* fd -1: not made (err and why; tried
                                 again from retry_ms on) */
    int family;
    tw_addr source;
    bool df, raw;
    uint16_t ident;           /* raw: our echo identifier */
    uint16_t next;            /* the next sequence number to try */
    uint32_t inflight;
    struct tp_icmp_echo **slot; /* NSEQ, by sequence number */
    int err;
    char why[TP_ICMP_WHY];
    bool said;                /* why was said on stderr */
    uint64_t retry_ms;
    struct pend pend[PEND_MAX];
    unsigned npend;
    tw_defer pend_defer;
};

struct tp_icmp_set {
    tw_loop *loop;
    struct tp_icmp_sock **socks;
    size_t n, cap;
    uint64_t rng;
    unsigned char *sbuf;      /* the request being sent */
    size_t scap;
    unsigned char *rbuf;      /* BATCH datagrams of rlen bytes */
    size_t rlen, want_rlen;
};

/* ---- small things ---- */

static uint64_t rand64(struct tp_icmp_set *s) /* splitmix64 */
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* The Internet checksum (IPv4 raw requests: the kernel does the others). */
static uint16_t inet_csum(const unsigned char *p, size_t n)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < n; i += 2)
        sum += get16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static size_t cookie_bytes(uint32_t len) { return len < 8 ? len : 8; }

/* blackbox's payload: its text and zeros up to len; the last 8 bytes (all
 * of them when shorter) are the cookie's, least significant first. */
static void payload_fill(unsigned char *p, uint32_t len, uint64_t cookie)
{
    size_t c = cookie_bytes(len);

    memset(p, 0, len);
    memcpy(p, TP_ICMP_TEXT, TP_ICMP_TEXT_LEN < len ? TP_ICMP_TEXT_LEN : len);
    for (size_t i = 0; i < c; i++)
        p[len - c + i] = (unsigned char)(cookie >> (8 * i));
}

static bool payload_is(const unsigned char *p, size_t n, const struct tp_icmp_echo *e)
{
    size_t c = cookie_bytes(e->len), tail = e->len - c, text;

    if (n != e->len)
        return false;
    for (size_t i = 0; i < c; i++) /* the cookie first: it rejects fastest */
        if (p[tail + i] != (unsigned char)(e->cookie >> (8 * i)))
            return false;
    text = TP_ICMP_TEXT_LEN < tail ? TP_ICMP_TEXT_LEN : tail;
    if (memcmp(p, TP_ICMP_TEXT, text))
        return false;
    for (size_t i = text; i < tail; i++)
        if (p[i])
            return false;
    return true;
}

/* a's address against the len bytes at raw (4 or 16, network order). */
static bool host_is(const tw_addr *a, const void *raw, size_t len)
{
    if (a->u.sa.sa_family == AF_INET)
        return len == 4 && !memcmp(&a->u.in.sin_addr, raw, 4);
    return len == 16 && !memcmp(&a->u.in6.sin6_addr, raw, 16);
}

static bool host_is_sa(const tw_addr *a, const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return host_is(a, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    if (ss->ss_family == AF_INET6)
        return host_is(a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    return false;
}

static void addr_from_sa(tw_addr *a, const struct sockaddr *sa)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET) {
        memcpy(&a->u.in, sa, sizeof(a->u.in));
        a->len = sizeof(a->u.in);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(&a->u.in6, sa, sizeof(a->u.in6));
        a->len = sizeof(a->u.in6);
    }
}

/* An IPv4-mapped IPv6 address as the IPv4 address it is (port 0). */
static void canonical(const tw_addr *in, tw_addr *out)
{
    *out = *in;
    if (in->u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in->u.in6.sin6_addr)) {
        memset(out, 0, sizeof(*out));
        out->u.in.sin_family = AF_INET;
        memcpy(&out->u.in.sin_addr, (const unsigned char *)&in->u.in6.sin6_addr + 12, 4);
        out->len = sizeof(out->u.in);
    }
    tw_addr_set_port(out, 0);
}

/* The errors that end a probe: the request will never be answered.
 * (Redirects and source quench say nothing of the kind.) */
static bool ends_probe(int family, uint8_t type)
{
    if (family == AF_INET)
        return type == V4_UNREACH || type == V4_TIME_EXCEEDED || type == V4_PARAM;
    return type == V6_UNREACH || type == V6_TOO_BIG || type == V6_TIME_EXCEEDED ||
           type == V6_PARAM;
}

/* The errno an ICMP error means, as the kernel maps it (icmp_err_convert,
 * icmpv6_err_convert), for raw and ping sockets alike; IPv6's
 * administratively prohibited is EHOSTUNREACH here, as IPv4's is (the
 * kernel says EACCES, which twkit classes as this host's refusal). */
static int error_errno(int family, uint8_t type, uint8_t code)
{
    static const int unreach4[16] = {
        ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED, EMSGSIZE, EOPNOTSUPP,
        ENETUNREACH, EHOSTDOWN, ENONET, ENETUNREACH, EHOSTUNREACH, ENETUNREACH,
        EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH,
    };
    static const int unreach6[7] = {
        ENETUNREACH, EHOSTUNREACH, EHOSTUNREACH, EHOSTUNREACH, ECONNREFUSED, EHOSTUNREACH,
        EHOSTUNREACH,
    };

    if (family == AF_INET) {
        if (type == V4_UNREACH)
            return code < 16 ? unreach4[code] : EHOSTUNREACH;
        return type == V4_PARAM ? EPROTO : EHOSTUNREACH;
    }
    if (type == V6_UNREACH)
        return code < 7 ? unreach6[code] : EHOSTUNREACH;
    if (type == V6_TOO_BIG)
        return EMSGSIZE;
    return type == V6_PARAM ? EPROTO : EHOSTUNREACH;
}

/* ---- the table ---- */

static void release(struct tp_icmp_sock *k, struct tp_icmp_echo *e)
{
    k->slot[e->seq] = NULL;
    k->inflight--;
    e->sock = NULL;
    /* an error read while sending may still wait to be handed to e */
    for (unsigned i = 0; i < k->npend;)
        if (k->pend[i].e == e)
            k->pend[i] = k->pend[--k->npend];
        else
            i++;
}

static void answer(struct tp_icmp_sock *k, struct tp_icmp_echo *e, const struct tp_icmp_answer *a)
{
    release(k, e);
    e->cb(e, a); /* which may free e */
}

void tp_icmp_forget(struct tp_icmp_echo *e)
{
    if (e->sock)
        release(e->sock, e);
}

static void hand_out_pending(tw_defer *d)
{
    struct tp_icmp_sock *k = d->data;

    /* one at a time from the end: each answer may send (and queue) more */
    while (k->npend) {
        struct pend p = k->pend[k->npend - 1];
        answer(k, p.e, &p.a);
    }
}

/* An error about the request with sequence number seq to dst: to its
 * probe now, or after this batch (later). */
static void error_in(struct tp_icmp_sock *k, uint16_t seq, const void *dst, size_t dlen,
                     uint8_t type, uint8_t code, const struct sockaddr *from, bool later)
{
    struct tp_icmp_echo *e = k->slot[seq];
    struct tp_icmp_answer a = {.type = type, .code = code, .hop_limit = -1};

    if (!e || !host_is(&e->dst, dst, dlen) || !ends_probe(k->family, type))
        return;
    a.err = error_errno(k->family, type, code);
    a.at_ns = tw_now_ns();
    if (from)
        addr_from_sa(&a.from, from);
    if (!later) {
        answer(k, e, &a);
        return;
    }
    for (unsigned i = 0; i < k->npend; i++)
        if (k->pend[i].e == e)
            return; /* the first one says it */
    if (k->npend == PEND_MAX)
        return; /* its probe times out instead */
    k->pend[k->npend++] = (struct pend){e, a};
    tw_defer_post(k->set->loop, &k->pend_defer);
}

/* ---- reading ---- */

static int cmsg_hop_limit(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        int v;
        if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_TTL) ||
              (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) ||
            c->cmsg_len < CMSG_LEN(sizeof(v)))
            continue;
        memcpy(&v, CMSG_DATA(c), sizeof(v));
        return v;
    }
    return -1;
}

/* An echo reply: icmp points at its ICMP header, n bytes. */
static void reply_in(struct tp_icmp_sock *k, const unsigned char *icmp, size_t n,
                     const struct sockaddr_storage *from, int hop, uint64_t now)
{
    struct tp_icmp_echo *e;

    if (n < 8 || (k->raw && get16(icmp + 4) != k->ident))
        return; /* another program's */
    e = k->slot[get16(icmp + 6)];
    if (!e || !host_is_sa(&e->dst, from) || !payload_is(icmp + 8, n - 8, e))
        return; /* late (its probe gave up), or not ours */
    answer(k, e, &(struct tp_icmp_answer){.reply = true, .hop_limit = hop, .at_ns = now});
}

/* What a raw socket read: an IPv4 datagram or an ICMPv6 message. */
static void raw_in(struct tp_icmp_sock *k, const unsigned char *b, size_t n,
                   const struct sockaddr_storage *from, int hop, uint64_t now)
{
    const unsigned char *in, *ie;
    size_t m, ihl;

    if (k->family == AF_INET) {
        if (n < 20 || (ihl = (size_t)(b[0] & 15) * 4) < 20 || n < ihl + 8)
            return;
        hop = b[8];
        b += ihl;
        n -= ihl;
    } else if (n < 8) {
        return;
    }
    if (b[0] == (k->family == AF_INET ? V4_ECHO_REPLY : V6_ECHO_REPLY)) {
        reply_in(k, b, n, from, hop, now);
        return;
    }
    /* an error: the request it quotes follows its 8-byte header */
    in = b + 8;
    m = n - 8;
    if (k->family == AF_INET) {
        if (m < 20 || (ihl = (size_t)(in[0] & 15) * 4) < 20 || m < ihl + 8 ||
            in[9] != IPPROTO_ICMP)
            return;
        ie = in + ihl;
        if (ie[0] != V4_ECHO || get16(ie + 4) != k->ident)
            return;
        error_in(k, get16(ie + 6), in + 16, 4, b[0], b[1], (const struct sockaddr *)from, false);
        return;
    }
    if (m < 48 || in[6] != IPPROTO_ICMPV6) /* extension headers: not ours */
        return;
    ie = in + 40;
    if (ie[0] != V6_ECHO || get16(ie + 4) != k->ident)
        return;
    error_in(k, get16(ie + 6), in + 24, 16, b[0], b[1], (const struct sockaddr *)from, false);
}

/* The error queue of a ping socket; later: hand the errors out after this
 * batch. Returns how many ICMP errors were read. */
static unsigned drain_errors(struct tp_icmp_sock *k, bool later)
{
    unsigned found = 0;

    for (int i = 0; i < 256; i++) {
        unsigned char data[16];
        union {
            char b[512];
            struct cmsghdr align;
        } ctl;
        struct sockaddr_storage dst;
        struct iovec iov = {data, sizeof(data)};
        struct msghdr mh = {.msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov,
                            .msg_iovlen = 1, .msg_control = ctl.b,
                            .msg_controllen = sizeof(ctl.b)};
        const struct sock_extended_err *ee = NULL;
        ssize_t n = recvmsg(k->io.fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR))
                ee = (const struct sock_extended_err *)CMSG_DATA(c);
        /* local errors (EMSGSIZE of a too big request) were returned by
         * sendmsg already, and quote nothing */
        if (!ee || (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) ||
            n < 8)
            continue;
        found++;
        const struct sockaddr *off = SO_EE_OFFENDER(ee);
        if (dst.ss_family == AF_INET)
            error_in(k, get16(data + 6), &((struct sockaddr_in *)&dst)->sin_addr, 4,
                     ee->ee_type, ee->ee_code, off, later);
        else if (dst.ss_family == AF_INET6)
            error_in(k, get16(data + 6), &((struct sockaddr_in6 *)&dst)->sin6_addr, 16,
                     ee->ee_type, ee->ee_code, off, later);
    }
    return found;
}

static void read_batch(struct tp_icmp_sock *k)
{
    struct tp_icmp_set *s = k->set;
    struct mmsghdr mm[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage from[BATCH];
    union {
        char b[64];
        struct cmsghdr align;
    } ctl[BATCH];

    for (int round = 0; round < ROUNDS; round++) {
        int n;
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){s->rbuf + (size_t)i * s->rlen, s->rlen};
            mm[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof(from[i]),
                                            .msg_iov = &iov[i], .msg_iovlen = 1,
                                            .msg_control = ctl[i].b,
                                            .msg_controllen = sizeof(ctl[i].b)};
        }
        n = recvmmsg(k->io.fd, mm, BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN)
                return;
            continue; /* EINTR, or the sk_err of an ICMP error (its copy is
                         in the error queue) */
        }
        uint64_t now = tw_now_ns();
        for (int i = 0; i < n; i++) {
            const unsigned char *b = s->rbuf + (size_t)i * s->rlen;
            int hop = cmsg_hop_limit(&mm[i].msg_hdr);
            if (k->raw)
                raw_in(k, b, mm[i].msg_len, &from[i], hop, now);
            else if (mm[i].msg_len >= 8 &&
                     b[0] == (k->family == AF_INET ? V4_ECHO_REPLY : V6_ECHO_REPLY))
                reply_in(k, b, mm[i].msg_len, &from[i], hop, now);
        }
        if (n < BATCH)
            return;
    }
}

static void on_io(tw_io *io, unsigned events)
{
    struct tp_icmp_sock *k = io->data;
    struct tp_icmp_set *s = k->set;

    if (s->want_rlen > s->rlen) { /* a bigger payload was sent since */
        unsigned char *nb = realloc(s->rbuf, BATCH * s->want_rlen);
        if (nb) {
            s->rbuf = nb;
            s->rlen = s->want_rlen;
        }
    }
    if (events & TW_IO_ERROR) {
        if (!k->raw) {
            drain_errors(k, false);
        } else {
            int e;
            socklen_t l = sizeof(e);
            (void)getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &e, &l); /* clears it */
        }
    }
    if (events & TW_IO_READ)
        read_batch(k);
}

/* ---- making a socket ---- */

/* Whether the ping_group_range text "lo hi" takes one of our groups. */
static bool range_takes_us(const char *range)
{
    unsigned long lo, hi;
    gid_t g[64];
    int n;

    if (sscanf(range, "%lu %lu", &lo, &hi) != 2)
        return false;
    if (getegid() >= lo && getegid() <= hi)
        return true;
    n = getgroups(64, g);
    for (int i = 0; i < n; i++)
        if (g[i] >= lo && g[i] <= hi)
            return true;
    return false;
}

/* Neither socket: why, into k->why. */
static int refused(struct tp_icmp_sock *k, int ping_err, int raw_err)
{
    const char *fam = k->family == AF_INET ? "IPv4" : "IPv6";
    char range[32] = "?"; /* "2147483647 2147483647" at most */
    FILE *f;

    if ((ping_err == EACCES || ping_err == EPERM) && (raw_err == EPERM || raw_err == EACCES)) {
        if ((f = fopen("/proc/sys/net/ipv4/ping_group_range", "r"))) {
            size_t n = fread(range, 1, sizeof(range) - 1, f), w = 0;
            fclose(f);
            range[n] = '\0';
            for (size_t r = 0; r < n; r++) /* "1\t0\n" as "1 0" */
                if (range[r] == '\t' || range[r] == ' ' || range[r] == '\n') {
                    if (w && range[w - 1] != ' ')
                        range[w++] = ' ';
                } else {
                    range[w++] = range[r];
                }
            while (w && range[w - 1] == ' ')
                w--;
            range[w] = '\0';
        }
        if (range_takes_us(range))
            snprintf(k->why, sizeof(k->why),
                     "icmp: no %s ping socket (%.15s, though net.ipv4.ping_group_range is "
                     "\"%.21s\") "
                     "and no raw socket (needs CAP_NET_RAW)",
                     fam, tw_errname(ping_err), range);
        else
            snprintf(k->why, sizeof(k->why),
                     "icmp: no %s ping socket (net.ipv4.ping_group_range is \"%.21s\", which "
                     "leaves out gid %u) and no raw socket (needs CAP_NET_RAW)",
                     fam, range, (unsigned)getegid());
        return k->err = -EPERM;
    }
    snprintf(k->why, sizeof(k->why), "icmp: no %s ICMP socket: %.15s: %.80s", fam,
             tw_errname(raw_err ? raw_err : ping_err), tw_strerror(raw_err ? raw_err : ping_err));
    return k->err = -(raw_err ? raw_err : ping_err);
}

static int setopt(int fd, int level, int name, const void *v, socklen_t len)
{
    return setsockopt(fd, level, name, v, len) < 0 ? -errno : 0;
}

static int configure(struct tp_icmp_sock *k, int fd)
{
    int one = 1, err = 0, big = RCVBUF;

    if (k->source.len && bind(fd, &k->source.u.sa, k->source.len) < 0)
        return -errno;
    /* as root, past net.core.rmem_max; else as far as it allows */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    if (k->family == AF_INET) {
        uint32_t pass = (1u << V4_ECHO_REPLY) | (1u << V4_UNREACH) | (1u << V4_TIME_EXCEEDED) |
                        (1u << V4_PARAM), filter = ~pass; /* the bits it drops */
        int pmtu = IP_PMTUDISC_DO;
        if (!err)
            err = setopt(fd, SOL_IP, IP_RECVTTL, &one, sizeof(one));
        if (!err && !k->raw)
            err = setopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
        if (!err && k->raw)
            err = setopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof(filter));
        if (!err && k->df)
            err = setopt(fd, SOL_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
        return err;
    }
    struct icmp6_filter f6;
    ICMP6_FILTER_SETBLOCKALL(&f6);
    ICMP6_FILTER_SETPASS(V6_ECHO_REPLY, &f6);
    ICMP6_FILTER_SETPASS(V6_UNREACH, &f6);
    ICMP6_FILTER_SETPASS(V6_TOO_BIG, &f6);
    ICMP6_FILTER_SETPASS(V6_TIME_EXCEEDED, &f6);
    ICMP6_FILTER_SETPASS(V6_PARAM, &f6);
    err = setopt(fd, SOL_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one));
    if (!err && !k->raw)
        err = setopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
    if (!err && k->raw)
        err = setopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f6, sizeof(f6));
    return err;
}

static bool short_of_something(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

static int sock_open(struct tp_icmp_sock *k)
{
    int proto = k->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, ping_err = 0, err;
    int fd = socket(k->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);

    k->raw = false;
    if (fd < 0) {
        ping_err = errno;
        if (short_of_something(ping_err))
            return refused(k, 0, ping_err);
        /* EACCES: the sysctl leaves us out; EPROTONOSUPPORT: a kernel
         * without ping sockets */
        fd = socket(k->family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        if (fd < 0)
            return refused(k, ping_err, errno);
        k->raw = true;
    }
    if ((err = configure(k, fd)) < 0 ||
        (!k->slot && !(k->slot = calloc(NSEQ, sizeof(*k->slot))) && (err = -ENOMEM))) {
        close(fd);
        snprintf(k->why, sizeof(k->why), "icmp: setting up the %s socket: %.15s: %.80s",
                 k->family == AF_INET ? "IPv4" : "IPv6", tw_errname(err), tw_strerror(err));
        return k->err = err;
    }
    tw_io_init(&k->io, fd, on_io, k);
    if ((err = tw_io_start(k->set->loop, &k->io, TW_IO_READ)) < 0) {
        tw_io_close(&k->io);
        snprintf(k->why, sizeof(k->why), "icmp: watching the socket: %.15s", tw_errname(err));
        return k->err = err;
    }
    k->ident = (uint16_t)rand64(k->set);
    k->next = (uint16_t)rand64(k->set); /* as blackbox: not in step with a
                                            prober restarted next to it */
    k->why[0] = '\0';
    return 0;
}

static bool same_key(const struct tp_icmp_sock *k, int family, const tw_addr *source, bool df)
{
    if (k->family != family || k->df != df || k->source.len != (source ? source->len : 0))
        return false;
    return !k->source.len || tw_addr_equal(&k->source, source);
}

int tp_icmp_sock_get(struct tp_icmp_set *s, int family, const tw_addr *source, bool df,
                     struct tp_icmp_sock **out, char *why)
{
    struct tp_icmp_sock *k = NULL;
    uint64_t now = tw_loop_now(s->loop);
    int err;

    if (source && !source->len)
        source = NULL;
    if (family == AF_INET6)
        df = false; /* IPv4's DF bit: blackbox ignores it for IPv6 */
    for (size_t i = 0; i < s->n && !k; i++)
        if (same_key(s->socks[i], family, source, df))
            k = s->socks[i];
    if (!k) {
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 4;
            struct tp_icmp_sock **ns = realloc(s->socks, ncap * sizeof(*ns));
            if (!ns)
                return -ENOMEM;
            s->socks = ns;
            s->cap = ncap;
        }
        if (!(k = calloc(1, sizeof(*k))))
            return -ENOMEM;
        k->set = s;
        k->family = family;
        k->df = df;
        if (source) {
            k->source = *source;
            tw_addr_set_port(&k->source, 0);
        }
        k->io.fd = -1;
        tw_defer_init(&k->pend_defer, hand_out_pending, k);
        s->socks[s->n++] = k;
    }
    if (k->io.fd >= 0) {
        *out = k;
        return 0;
    }
    if (k->retry_ms && tw_ms_diff(now, k->retry_ms) < 0) {
        snprintf(why, TP_ICMP_WHY, "%s", k->why);
        return k->err;
    }
    if ((err = sock_open(k)) < 0) {
        k->retry_ms = now + RETRY_MS;
        snprintf(why, TP_ICMP_WHY, "%s", k->why);
        if (!k->said && k->why[0]) /* once, not once per probe */
            fprintf(stderr, "twkit probe: %s\n", k->why);
        k->said = true;
        return err;
    }
    *out = k;
    return 0;
}

bool tp_icmp_sock_raw(const struct tp_icmp_sock *k) { return k->raw; }

/* ---- sending ---- */

static bool stale_error(int err)
{
    /* what an ICMP error leaves in sk_err (error_errno's values) */
    return err == EHOSTUNREACH || err == ENETUNREACH || err == EMSGSIZE || err == ECONNREFUSED ||
           err == EPROTO || err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET ||
           err == EOPNOTSUPP || err == EACCES || err == EREMOTEIO;
}

int tp_icmp_send(struct tp_icmp_sock *k, struct tp_icmp_echo *e, const tw_addr *dst,
                 uint32_t len, unsigned ttl, char *why)
{
    struct tp_icmp_set *s = k->set;
    size_t total = 8 + (size_t)len;
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov;
    struct msghdr mh = {0};
    uint16_t seq = k->next;
    int hop = (int)ttl;
    ssize_t n;

    if (k->inflight >= NSEQ) {
        snprintf(why, TP_ICMP_WHY, "icmp: %u echo requests in flight on one socket: no "
                 "sequence number is free", (unsigned)NSEQ);
        return -ENOBUFS;
    }
    while (k->slot[seq]) /* one in flight at most per number */
        seq++;
    if (total > s->scap) {
        unsigned char *nb = realloc(s->sbuf, total);
        if (!nb)
            return -ENOMEM;
        s->sbuf = nb;
        s->scap = total;
    }
    canonical(dst, &e->dst);
    e->len = len;
    e->cookie = rand64(s);
    memset(s->sbuf, 0, 8);
    s->sbuf[0] = k->family == AF_INET ? V4_ECHO : V6_ECHO;
    put16(s->sbuf + 4, k->raw ? k->ident : 0); /* a ping socket's: the kernel's */
    put16(s->sbuf + 6, seq);
    payload_fill(s->sbuf + 8, len, e->cookie);
    if (k->raw && k->family == AF_INET)
        put16(s->sbuf + 2, inet_csum(s->sbuf, total));
    iov = (struct iovec){s->sbuf, total};
    mh.msg_name = &e->dst.u.sa;
    mh.msg_namelen = e->dst.len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (ttl) {
        struct cmsghdr *c;
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof(ctl.b);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = k->family == AF_INET ? SOL_IP : SOL_IPV6;
        c->cmsg_type = k->family == AF_INET ? IP_TTL : IPV6_HOPLIMIT;
        c->cmsg_len = CMSG_LEN(sizeof(hop));
        memcpy(CMSG_DATA(c), &hop, sizeof(hop));
    }
    for (int tries = 0;; tries++) {
        n = sendmsg(k->io.fd, &mh, MSG_DONTWAIT);
        if (n >= 0)
            break;
        int err = errno;
        /* another request's ICMP error, left in sk_err, came back instead:
         * read the queue (it clears sk_err) and send again */
        if (err == EINTR || (!k->raw && tries < 3 && stale_error(err) && drain_errors(k, true)))
            continue;
        return -err;
    }
    e->seq = seq;
    e->sock = k;
    k->slot[seq] = e;
    k->inflight++;
    k->next = (uint16_t)(seq + 1);
    if (total + 128 > s->want_rlen) /* its reply must fit (raw IPv4: with
                                       the IP header) */
        s->want_rlen = (total + 128 + 63) & ~(size_t)63;
    return 0;
}

/* ---- the set ---- */

int tp_icmp_set_new(tw_loop *loop, struct tp_icmp_set **out)
{
    struct tp_icmp_set *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    s->loop = loop;
    if (getrandom(&s->rng, sizeof(s->rng), GRND_NONBLOCK) != sizeof(s->rng))
        s->rng = tw_now_ns() ^ ((uint64_t)getpid() << 32);
    s->rlen = s->want_rlen = 512;
    if (!(s->rbuf = malloc(BATCH * s->rlen))) {
        free(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void tp_icmp_set_free(struct tp_icmp_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        struct tp_icmp_sock *k = s->socks[i];
        tw_defer_cancel(&k->pend_defer);
        if (k->io.fd >= 0)
            tw_io_close(&k->io);
        free(k->slot);
        free(k);
    }
    free(s->socks);
    free(s->sbuf);
    free(s->rbuf);
    free(s);
}
