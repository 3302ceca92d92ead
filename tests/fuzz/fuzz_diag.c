/* libFuzzer target for what twkit stat reads from the kernel: sock_diag
 * replies and /proc/net/netstat|snmp counters (src/diag/diag.c), the
 * sysctl and /proc/net/sockstat text (src/stat/stat.c), and the tracefs
 * format file and raw records of sock:inet_sock_set_state that --who
 * decodes (src/stat/who.c). Seeds: tests/fuzz/make_diag_corpus.py.
 *
 * The first byte picks the parser (its low 2 bits) and options (the rest);
 * what follows is the parser's input, in a buffer of exactly its size so
 * that ASan sees any read past it:
 *   0  one recv of NETLINK_SOCK_DIAG replies (tw__diag_parse). Bit 0x10:
 *      expect the seq and portid of the first message; bits 0xe0: the
 *      callback stops the dump (-ECANCELED) at that socket (1 to 7).
 *      Every socket delivered must be one of the buffer's SOCK_DIAG_BY_FAMILY
 *      messages that fit it, in order, decoded as the zero-extended
 *      struct inet_diag_msg it starts with: addresses of the family the
 *      message claims (AF_INET or AF_INET6), a state from 1 to 12. The
 *      result is 1 (more to come), 0 (done) or an errno: the callback's
 *      error when it stopped the dump (and nothing delivered after that),
 *      and for a reply of whole messages as the kernel sends them, what its
 *      first NLMSG_DONE or NLMSG_ERROR says (1 without one).
 *   1  "SECTION NAME\n" (else TcpExt TW is asked) and the text of
 *      /proc/net/netstat (tw__proc_counter_parse, for that name, every
 *      counter twkit stat reads and Tcp CurrEstab): the result must be the
 *      plain reading (plain_counter below).
 *   2  ip_local_port_range, NUL, ip_local_reserved_ports, NUL, sockstat:
 *      a range within 0 to 65535, no more reserved ports than the range
 *      holds, no negative socket counts.
 *   3  a tracefs format file, NUL, then records (a 2-byte length, then its
 *      bytes): the fields --who needs (and sched_process_exit's comm) lie
 *      inside a record, and each active close has an address of its
 *      family.
 * Any failed check calls abort().
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "diag/internal.h"
#include "stat/internal.h"
#include "stat/stat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, long a)
{
    fprintf(stderr, "fuzz_diag: %s (%ld)\n", what, a);
    abort();
}

static void *copy(const uint8_t *data, size_t n)
{
    void *b = malloc(n ? n : 1);
    if (!b)
        abort();
    memcpy(b, data, n);
    return b;
}

/* ---- sock_diag ---------------------------------------------------------- */

#define MAX_SOCKS 4096

struct want {
    struct inet_diag_msg m; /* zero-extended */
};

struct got {
    struct want *w;         /* the candidates, in buffer order */
    size_t nw, next;        /* next: the first candidate not yet matched */
    unsigned n, stop_at;    /* delivered; stop the dump at socket stop_at */
    bool stopped;
};

static bool same_addr(const tw_addr *a, int family, const __be32 *ip, __be16 port)
{
    if (family == AF_INET)
        return a->len == sizeof(a->u.in) && a->u.in.sin_family == AF_INET &&
               a->u.in.sin_port == port && !memcmp(&a->u.in.sin_addr, ip, 4);
    return a->len == sizeof(a->u.in6) && a->u.in6.sin6_family == AF_INET6 &&
           a->u.in6.sin6_port == port && !memcmp(&a->u.in6.sin6_addr, ip, 16) &&
           a->u.in6.sin6_flowinfo == 0 && a->u.in6.sin6_scope_id == 0;
}

static bool deliverable(const struct inet_diag_msg *m);

/* A message the parser must not deliver is no socket's, even when its
 * bytes compare equal under the other family's rules. */
static bool is_of(const struct tw_diag_sock *s, const struct inet_diag_msg *m)
{
    return deliverable(m) && s->state == m->idiag_state && s->timer == m->idiag_timer &&
           s->expires_ms == m->idiag_expires && s->uid == m->idiag_uid &&
           s->inode == m->idiag_inode &&
           same_addr(&s->local, m->idiag_family, m->id.idiag_src, m->id.idiag_sport) &&
           same_addr(&s->remote, m->idiag_family, m->id.idiag_dst, m->id.idiag_dport);
}

/* Of a family and in a state that the parser delivers. */
static bool deliverable(const struct inet_diag_msg *m)
{
    return (m->idiag_family == AF_INET || m->idiag_family == AF_INET6) && m->idiag_state >= 1 &&
           m->idiag_state < TW_TCP_NSTATES;
}

static int on_sock(const struct tw_diag_sock *s, void *arg)
{
    struct got *g = arg;
    int fam = s->local.u.sa.sa_family;

    if (g->stopped)
        fail("a socket after the callback stopped the dump", g->n);
    if (fam != AF_INET && fam != AF_INET6)
        fail("a socket of neither AF_INET nor AF_INET6", fam);
    if (s->remote.u.sa.sa_family != fam)
        fail("local and remote addresses of two families", s->remote.u.sa.sa_family);
    if (s->state < 1 || s->state >= TW_TCP_NSTATES)
        fail("a state out of range", s->state);
    /* the next candidate it is: the parser may skip those it must not
     * deliver, never reorder */
    while (g->next < g->nw && !is_of(s, &g->w[g->next].m)) {
        if (deliverable(&g->w[g->next].m))
            fail("a socket left out", (long)g->next);
        g->next++;
    }
    if (g->next == g->nw)
        fail("a socket that is none of the messages (or of another family than it "
             "claims)", g->n);
    if (g->w[g->next].m.idiag_family != fam)
        fail("an address of another family than the message claims", fam);
    g->next++;
    if (++g->n == g->stop_at) {
        g->stopped = true;
        return -ECANCELED;
    }
    return 0;
}

/* An errno from the kernel's int: -4095 to -1 (or, as some netlink
 * families send it, 1 to 4095); anything else is not one. */
static int kernel_errno(int32_t e)
{
    if (e >= -4095 && e <= 4095)
        return e > 0 ? -e : e;
    return -EPROTO;
}

/* What a reader can find: from the start, while nlmsg_len is at least a
 * header and fits what is left. The SOCK_DIAG_BY_FAMILY messages go to w;
 * the result is what the first NLMSG_DONE or NLMSG_ERROR says (0 or
 * -errno), or 1 without one. *clean: every message is whole, aligned and
 * as the kernel sends them (no seq or portid other than expected, no
 * interrupted dump), so the parser has no reason to refuse any of it. */
static int walk(const uint8_t *buf, size_t len, uint32_t seq, uint32_t portid, struct want *w,
                size_t *nw, bool *clean)
{
    size_t at = 0, n = 0;
    int end = 1;

    *clean = true;
    while (len - at >= NLMSG_HDRLEN && n < MAX_SOCKS) {
        struct nlmsghdr h;
        size_t plen;
        int32_t e = 0;

        memcpy(&h, buf + at, sizeof(h));
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - at)
            break;
        plen = h.nlmsg_len - NLMSG_HDRLEN;
        if ((seq && h.nlmsg_seq && h.nlmsg_seq != seq) ||
            (portid && h.nlmsg_pid && h.nlmsg_pid != portid) ||
            (h.nlmsg_flags & NLM_F_DUMP_INTR))
            *clean = false;
        if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
            memset(&w[n].m, 0, sizeof(w[n].m));
            memcpy(&w[n].m, buf + at + NLMSG_HDRLEN, plen < sizeof(w[n].m) ? plen : sizeof(w[n].m));
            n++;
        } else if (h.nlmsg_type == NLMSG_DONE || h.nlmsg_type == NLMSG_ERROR) {
            if (plen >= sizeof(e))
                memcpy(&e, buf + at + NLMSG_HDRLEN, sizeof(e));
            else if (h.nlmsg_type == NLMSG_ERROR)
                *clean = false;
            end = e ? kernel_errno(e) : 0;
            break;
        }
        if (NLMSG_ALIGN(h.nlmsg_len) >= len - at) {
            at = len;
            break;
        }
        at += NLMSG_ALIGN(h.nlmsg_len);
    }
    if (end == 1 && at != len)
        *clean = false; /* something that is not a whole message */
    *nw = n;
    return end;
}

static void sock_diag(uint8_t opt, const uint8_t *data, size_t size)
{
    static struct want w[MAX_SOCKS];
    uint8_t *buf = copy(data, size);
    struct got g = {.w = w, .stop_at = opt >> 5};
    uint32_t seq = 0, portid = 0;
    bool clean;
    int r, end;

    if ((opt & 0x10) && size >= NLMSG_HDRLEN) {
        struct nlmsghdr h;
        memcpy(&h, buf, sizeof(h));
        seq = h.nlmsg_seq;
        portid = h.nlmsg_pid;
    }
    end = walk(buf, size, seq, portid, w, &g.nw, &clean);
    r = tw__diag_parse(buf, size, seq, portid, on_sock, &g);
    if (r != 0 && r != 1 && (r >= 0 || r < -4095))
        fail("a result neither 0, 1 nor an errno", r);
    if (g.stopped && r != -ECANCELED)
        fail("the callback stopped the dump, and the result is not its error", r);
    if (!g.stopped && clean && r != end) {
        fprintf(stderr, "fuzz_diag: a whole reply that ends with %d parsed as %d\n", end, r);
        abort();
    }
    if (!g.stopped && clean) {
        size_t all = 0;
        for (size_t i = 0; i < g.nw; i++)
            all += deliverable(&w[i].m);
        if (all != g.n)
            fail("a whole reply with sockets left out", (long)(all - g.n));
    }
    free(buf);
}

/* ---- /proc/net/netstat -------------------------------------------------- */

/* The plain reading: lines split at \n, fields at spaces; the first header
 * line "SECTION: a b c" followed by a value line "SECTION: 1 2 3" that
 * has name, and the value at its place, a decimal number (a leading '-'
 * wraps, as strtoull does). */
static const char *next_field(const char *p, const char *end, size_t *n)
{
    while (p < end && *p == ' ')
        p++;
    *n = 0;
    while (p + *n < end && p[*n] != ' ')
        (*n)++;
    return *n ? p : NULL;
}

static int plain_counter(const char *text, size_t len, const char *section, const char *name,
                         uint64_t *val)
{
    const char *end = text + len, *line = text;
    size_t slen = strlen(section), nlen = strlen(name);

    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *vline, *veol;
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) <= slen || memcmp(line, section, slen) || line[slen] != ':' ||
            eol == end) {
            line = eol + 1;
            continue;
        }
        vline = eol + 1;
        veol = memchr(vline, '\n', (size_t)(end - vline));
        if (!veol)
            veol = end;
        if ((size_t)(veol - vline) <= slen || memcmp(vline, section, slen) ||
            vline[slen] != ':') {
            line = vline;
            continue;
        }
        const char *h = line + slen + 1, *v = vline + slen + 1, *hf, *vf;
        size_t hn, vn;
        while ((hf = next_field(h, eol, &hn)) && (vf = next_field(v, veol, &vn))) {
            if (hn == nlen && !memcmp(hf, name, nlen)) {
                bool neg = *vf == '-';
                uint64_t x = 0;
                size_t i = neg;
                if (i == vn)
                    return -EPROTO;
                for (; i < vn; i++) {
                    if (vf[i] < '0' || vf[i] > '9')
                        return -EPROTO;
                    if (x > (UINT64_MAX - (uint64_t)(vf[i] - '0')) / 10)
                        return -ERANGE;
                    x = x * 10 + (uint64_t)(vf[i] - '0');
                }
                *val = neg ? (uint64_t)0 - x : x;
                return 0;
            }
            h = hf + hn;
            v = vf + vn;
        }
        line = veol + (veol < end);
    }
    return -ENOENT;
}

static void one_counter(const char *text, size_t len, const char *section, const char *name)
{
    uint64_t a = 0xa5a5, b = 0xa5a5;
    int ra = tw__proc_counter_parse(text, len, section, name, &a);
    int rb = plain_counter(text, len, section, name, &b);

    if (ra != rb || (ra == 0 && a != b)) {
        fprintf(stderr, "fuzz_diag: %s %s: parser %d (%llu), plain reading %d (%llu)\n",
                section, name, ra, (unsigned long long)a, rb, (unsigned long long)b);
        abort();
    }
}

static void counters(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size), *sp = NULL;
    char section[64] = "TcpExt", name[64] = "TW";
    size_t off = 0;

    /* the first line is the query when it is "SECTION NAME" */
    if (nl)
        sp = memchr(data, ' ', (size_t)(nl - data));
    if (sp && sp > data && nl > sp + 1 && sp - data < 64 && nl - sp - 1 < 64 &&
        !memchr(data, '\0', (size_t)(nl - data)) && !memchr(sp + 1, ' ', (size_t)(nl - sp - 1))) {
        memcpy(section, data, (size_t)(sp - data));
        section[sp - data] = '\0';
        memcpy(name, sp + 1, (size_t)(nl - sp - 1));
        name[nl - sp - 1] = '\0';
        off = (size_t)(nl - data) + 1;
    }
    char *text = copy(data + off, size - off);
    one_counter(text, size - off, section, name);
    for (int i = 0; i < TW_SC_NCOUNTERS; i++)
        one_counter(text, size - off, "TcpExt", tw_stat_counter_names[i]);
    one_counter(text, size - off, "Tcp", "CurrEstab");
    free(text);
}

/* ---- sysctls and sockstat ----------------------------------------------- */

/* The next NUL-terminated piece of data (the rest if there is no NUL). */
static char *piece(const uint8_t **data, size_t *size)
{
    const uint8_t *z = memchr(*data, '\0', *size);
    size_t n = z ? (size_t)(z - *data) : *size;
    char *s = malloc(n + 1);

    if (!s)
        abort();
    memcpy(s, *data, n);
    s[n] = '\0';
    *data += n + (z != NULL);
    *size -= n + (z != NULL);
    return s;
}

static void stat_text(const uint8_t *data, size_t size)
{
    char *range = piece(&data, &size), *reserved = piece(&data, &size);
    char *sockstat = piece(&data, &size);
    int64_t lo = -1, hi = -1, inuse = -1, tw = -1;

    if (tw__stat_port_range(range, &lo, &hi) == 0) {
        if (lo < 0 || hi > 65535 || lo > hi)
            fail("a port range out of 0 to 65535, or upside down", (long)lo);
        uint32_t n = tw__stat_reserved(reserved, lo, hi);
        if (n > (uint64_t)(hi - lo + 1))
            fail("more reserved ports than the range holds", (long)n);
    }
    if (tw__stat_sockstat(sockstat, &inuse, &tw) == 0 && (inuse < 0 || tw < 0))
        fail("a negative socket count", (long)(inuse < 0 ? inuse : tw));
    free(range);
    free(reserved);
    free(sockstat);
}

/* ---- tracepoint --------------------------------------------------------- */

static void fields_inside(const struct tw__field *f, int nf)
{
    for (int i = 0; i < nf; i++)
        if (f[i].off < 0 || f[i].size <= 0 || f[i].off > 65535 - f[i].size)
            fail("a field outside any record", f[i].off);
}

static void tracepoint(const uint8_t *data, size_t size)
{
    char *fmt = piece(&data, &size);
    struct tw__field f[TW__WHO_NFIELDS] = {
        {"oldstate", -1, 0}, {"newstate", -1, 0}, {"dport", -1, 0},
        {"family", -1, 0},   {"daddr", -1, 0},    {"daddr_v6", -1, 0}};
    struct tw__field comm = {"comm", -1, 0};

    if (tw__who_parse_format(fmt, &comm, 1) == 0)
        fields_inside(&comm, 1);
    if (tw__who_parse_format(fmt, f, TW__WHO_NFIELDS) == 0) {
        while (size >= 2) {
            size_t n = (size_t)data[0] | (size_t)data[1] << 8;
            if (n > size - 2)
                n = size - 2;
            uint8_t *raw = copy(data + 2, n);
            tw_addr dst;
            int r = tw__who_close_dst(f, raw, (uint32_t)n, &dst);
            if (r == 1 && !((dst.u.sa.sa_family == AF_INET && dst.len == sizeof(dst.u.in)) ||
                            (dst.u.sa.sa_family == AF_INET6 && dst.len == sizeof(dst.u.in6))))
                fail("an active close without an address", dst.u.sa.sa_family);
            if (r != 0 && r != 1)
                fail("a result neither 0 nor 1", r);
            free(raw);
            data += 2 + n;
            size -= 2 + n;
        }
        fields_inside(f, TW__WHO_NFIELDS);
    }
    free(fmt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        sock_diag(data[0], data + 1, size - 1);
        break;
    case 1:
        counters(data + 1, size - 1);
        break;
    case 2:
        stat_text(data + 1, size - 1);
        break;
    default:
        tracepoint(data + 1, size - 1);
        break;
    }
    return 0;
}
