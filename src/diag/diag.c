/* sock_diag with libmnl, and /proc/net counters.
 *
 * Traps:
 *  - A kernel may send a shorter struct inet_diag_msg than this header
 *    declares (or a longer one): copy what arrived into a zeroed struct,
 *    never read past the payload.
 *  - Replies are walked here, not with mnl_cb_run: libmnl compares
 *    nlmsg_len as an int, so a length of 2^31 or more passes its check and
 *    the walk reads far past the buffer. Every length is checked as
 *    unsigned against what is left.
 *  - A failed dump ends with NLMSG_DONE carrying the error (-ENOENT when
 *    the kernel has no diag module for the protocol), not with
 *    NLMSG_ERROR: the DONE's int is the dump's result.
 *  - TIME_WAIT sockets are minisocks: uid and inode are 0, so they cannot be
 *    tied to a process after the fact; idiag_expires is milliseconds left.
 *  - A dump is per address family: IPv4 and IPv6 are two requests.
 *  - /proc/net resolves through the thread group leader; a thread that
 *    entered another namespace with setns() must read /proc/thread-self/net.
 */
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag/internal.h"
#include "twkit/diag.h"

const char *tw_tcp_state_name(int st)
{
    static const char *const names[TW_TCP_NSTATES] = {
        "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
        "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
        "NEW_SYN_RECV",
    };
    return st > 0 && st < TW_TCP_NSTATES ? names[st] : "?";
}

static void fill_addr(tw_addr *a, int family, const __be32 *ip, __be16 port)
{
    memset(a, 0, sizeof(*a));
    if (family == AF_INET) {
        a->u.in.sin_family = AF_INET;
        a->u.in.sin_port = port;
        memcpy(&a->u.in.sin_addr, ip, 4);
        a->len = sizeof(a->u.in);
    } else {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = port;
        memcpy(&a->u.in6.sin6_addr, ip, 16);
        a->len = sizeof(a->u.in6);
    }
}

/* One SOCK_DIAG_BY_FAMILY message's payload: the socket to cb, unless it
 * is of a family or in a state this header does not know. */
static int on_sock(const uint8_t *p, size_t len, tw_diag_cb cb, void *arg)
{
    struct inet_diag_msg m;
    struct tw_diag_sock s;

    memset(&m, 0, sizeof(m));
    memcpy(&m, p, len < sizeof(m) ? len : sizeof(m));
    if ((m.idiag_family != AF_INET && m.idiag_family != AF_INET6) || m.idiag_state == 0 ||
        m.idiag_state >= TW_TCP_NSTATES)
        return 0;
    s.state = m.idiag_state;
    s.timer = m.idiag_timer;
    s.expires_ms = m.idiag_expires;
    s.uid = m.idiag_uid;
    s.inode = m.idiag_inode;
    fill_addr(&s.local, m.idiag_family, m.id.idiag_src, m.id.idiag_sport);
    fill_addr(&s.remote, m.idiag_family, m.id.idiag_dst, m.id.idiag_dport);
    return cb(&s, arg);
}

/* The int a NLMSG_ERROR or NLMSG_DONE carries, as -errno: the kernel
 * sends -4095..-1 (some netlink families 1..4095); anything else is no
 * errno at all. */
static int kernel_errno(const uint8_t *p)
{
    int32_t e;

    memcpy(&e, p, sizeof(e));
    if (e >= -4095 && e <= 4095)
        return e > 0 ? -e : e;
    return -EPROTO;
}

int tw__diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, tw_diag_cb cb,
                   void *arg)
{
    const uint8_t *p = buf;

    while (len > 0) {
        struct nlmsghdr h;
        size_t plen, step;
        int r;

        if (len < NLMSG_HDRLEN)
            return -EBADMSG; /* part of a header */
        memcpy(&h, p, sizeof(h));
        if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len)
            return -EBADMSG; /* a length that lies, or a truncated reply */
        if (portid && h.nlmsg_pid && h.nlmsg_pid != portid)
            return -ESRCH;
        if (seq && h.nlmsg_seq && h.nlmsg_seq != seq)
            return -EPROTO;
        if (h.nlmsg_flags & NLM_F_DUMP_INTR)
            return -EINTR;
        plen = h.nlmsg_len - NLMSG_HDRLEN;
        switch (h.nlmsg_type) {
        case NLMSG_DONE: /* the dump's status: 0, or why it failed */
            return plen >= sizeof(int32_t) ? kernel_errno(p + NLMSG_HDRLEN) : 0;
        case NLMSG_ERROR: /* 0: an ack */
            return plen >= sizeof(int32_t) ? kernel_errno(p + NLMSG_HDRLEN) : -EBADMSG;
        case SOCK_DIAG_BY_FAMILY:
            if ((r = on_sock(p + NLMSG_HDRLEN, plen, cb, arg)) < 0)
                return r;
            break;
        default: /* NLMSG_NOOP, NLMSG_OVERRUN, nothing a dump answers */
            break;
        }
        step = NLMSG_ALIGN(h.nlmsg_len);
        if (step >= len)
            break; /* the last one, its padding left out */
        p += step;
        len -= step;
    }
    return 1;
}

static int dump_family(struct mnl_socket *nl, int family, uint32_t mask, tw_diag_cb cb,
                       void *arg, char *buf, size_t buflen)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    struct inet_diag_req_v2 *req;
    unsigned seq = (unsigned)time(NULL), portid = mnl_socket_get_portid(nl);
    ssize_t n;
    int r;

    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
    req->sdiag_family = (uint8_t)family;
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = mask;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    do {
        n = mnl_socket_recvfrom(nl, buf, buflen);
        if (n < 0)
            return -errno;
        r = tw__diag_parse(buf, (size_t)n, seq, portid, cb, arg);
    } while (r > 0);
    return r;
}

int tw_diag_dump(uint32_t state_mask, tw_diag_cb cb, void *arg)
{
    static const int families[] = {AF_INET, AF_INET6};
    const size_t buflen = 1u << 16; /* large reads: fewer syscalls per dump */
    struct mnl_socket *nl;
    char *buf;
    int err = 0;

    if (!cb)
        return -EINVAL;
    if (!(buf = malloc(buflen)))
        return -ENOMEM;
    if (!(nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC))) {
        err = -errno;
        goto out;
    }
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        err = -errno;
        goto out;
    }
    for (size_t i = 0; i < 2 && err == 0; i++)
        err = dump_family(nl, families[i], state_mask, cb, arg, buf, buflen);
out:
    if (nl)
        mnl_socket_close(nl);
    free(buf);
    return err;
}

static int count_one(const struct tw_diag_sock *s, void *arg)
{
    struct tw_tcp_states *st = arg;

    if (s->state < TW_TCP_NSTATES)
        st->n[s->state]++;
    st->total++;
    return 0;
}

int tw_diag_count(struct tw_tcp_states *out)
{
    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    return tw_diag_dump(~0u, count_one, out);
}

/* The next field of p..end (split at spaces) in *f, *n; false at the end. */
static bool next_field(const char **p, const char *end, const char **f, size_t *n)
{
    while (*p < end && **p == ' ')
        (*p)++;
    *f = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    *n = (size_t)(*p - *f);
    return *n > 0;
}

/* A counter's value: decimal, and a '-' wraps as strtoull's does (snmp's
 * MaxConn is -1). */
static int counter_value(const char *s, size_t n, uint64_t *val)
{
    bool neg = n && *s == '-';
    uint64_t v = 0;

    if (n == (size_t)neg)
        return -EPROTO;
    for (size_t i = neg; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9)
            return -EPROTO;
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *val = neg ? 0 - v : v;
    return 0;
}

/* Whether the line p..eol is one of section's: "SECTION: ...". */
static bool in_section(const char *p, const char *eol, const char *section, size_t slen)
{
    return (size_t)(eol - p) > slen && !memcmp(p, section, slen) && p[slen] == ':';
}

/* Find `name` in a header line of `section` and return the value at the
 * same place in the line after it, which must be of the section too. */
int tw__proc_counter_parse(const char *text, size_t len, const char *section, const char *name,
                           uint64_t *val)
{
    const char *end = text + len, *line = text;
    size_t slen = strlen(section), nlen = strlen(name);

    while (line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line)), *vline, *veol;
        if (!eol)
            break; /* a header with no line after it */
        vline = eol + 1;
        if (!in_section(line, eol, section, slen)) {
            line = vline;
            continue;
        }
        if (!(veol = memchr(vline, '\n', (size_t)(end - vline))))
            veol = end;
        if (!in_section(vline, veol, section, slen)) {
            line = vline; /* not its values: maybe the next header */
            continue;
        }
        const char *h = line + slen + 1, *v = vline + slen + 1, *hf, *vf;
        size_t hn, vn;
        while (next_field(&h, eol, &hf, &hn) && next_field(&v, veol, &vf, &vn))
            if (hn == nlen && !memcmp(hf, name, nlen))
                return counter_value(vf, vn, val);
        line = veol + (veol < end);
    }
    return -ENOENT;
}

/* The whole file: /proc files say they are empty, so read to the end. */
static int read_all(const char *path, char **out, size_t *outlen)
{
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;

    if (fd < 0)
        return -errno;
    for (;;) {
        if (len == cap) {
            char *nb = cap < (1u << 20) ? realloc(buf, cap ? cap * 2 : 8192) : NULL;
            if (!nb) {
                e = -ENOMEM;
                break;
            }
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            e = n < 0 ? -errno : 0;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (e) {
        free(buf);
        return e;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

static int counter_in_file(const char *path, const char *section, const char *name,
                           uint64_t *val)
{
    char *buf = NULL;
    size_t len = 0;
    int r = read_all(path, &buf, &len);

    if (r < 0)
        return r;
    r = tw__proc_counter_parse(buf, len, section, name, val);
    free(buf);
    return r;
}

int tw_proc_counter(const char *section, const char *name, uint64_t *val)
{
    int r;

    if (!section || !name || !val)
        return -EINVAL;
    r = counter_in_file("/proc/thread-self/net/netstat", section, name, val);
    if (r == -ENOENT)
        r = counter_in_file("/proc/thread-self/net/snmp", section, name, val);
    return r;
}
