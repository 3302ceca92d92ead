/* sock_diag with libmnl, and /proc/net counters.
 *
 * Traps:
 *  - A kernel may send a shorter struct inet_diag_msg than this header
 *    declares (or a longer one): copy what arrived into a zeroed struct,
 *    never read past the payload.
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

struct dump_ctx {
    int family;
    tw_diag_cb cb;
    void *arg;
    int err;
};

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

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
    struct dump_ctx *ctx = data;
    struct inet_diag_msg m;
    struct tw_diag_sock s;
    size_t len = mnl_nlmsg_get_payload_len(nlh);

    memset(&m, 0, sizeof(m));
    memcpy(&m, mnl_nlmsg_get_payload(nlh), len < sizeof(m) ? len : sizeof(m));
    s.state = m.idiag_state;
    s.timer = m.idiag_timer;
    s.expires_ms = m.idiag_expires;
    s.uid = m.idiag_uid;
    s.inode = m.idiag_inode;
    fill_addr(&s.local, ctx->family, m.id.idiag_src, m.id.idiag_sport);
    fill_addr(&s.remote, ctx->family, m.id.idiag_dst, m.id.idiag_dport);
    if ((ctx->err = ctx->cb(&s, ctx->arg)) < 0)
        return MNL_CB_ERROR;
    return MNL_CB_OK;
}

int tw__diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, int family,
                   tw_diag_cb cb, void *arg)
{
    struct dump_ctx ctx = {.family = family, .cb = cb, .arg = arg};
    int r = mnl_cb_run(buf, len, seq, portid, on_msg, &ctx);

    if (r < 0)
        return ctx.err < 0 ? ctx.err : -errno;
    return r > 0;
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
        r = tw__diag_parse(buf, (size_t)n, seq, portid, family, cb, arg);
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

/* Find `name` in the header line of `section` and return the value at the
 * same position in the next line of that section. */
int tw__proc_counter_parse(const char *text, size_t len, const char *section, const char *name,
                           uint64_t *val)
{
    char *copy = malloc(len + 1), *hdr, *line, *rest;
    size_t slen = strlen(section);
    int found = -ENOENT;

    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    rest = copy;
    while (found == -ENOENT && (hdr = strsep(&rest, "\n"))) {
        char *hs, *vs, *h, *v;
        if (strncmp(hdr, section, slen) != 0 || hdr[slen] != ':')
            continue;
        if (!(line = strsep(&rest, "\n")))
            break;
        h = strtok_r(hdr + slen + 1, " \n", &hs);
        v = strtok_r(line + slen + 1, " \n", &vs);
        for (; h && v; h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs)) {
            if (strcmp(h, name) == 0) {
                *val = strtoull(v, NULL, 10);
                found = 0;
                break;
            }
        }
    }
    free(copy);
    return found;
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
