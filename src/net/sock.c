/* Sockets: listen, accept, connect, options.
 *
 * Traps of the kernel interface, and what this file does about them:
 *  - connect() on a nonblocking socket reports some failures at once
 *    (EADDRNOTAVAIL when no port gives a unique 4-tuple, ENETUNREACH,
 *    EAGAIN for a full unix backlog) and the rest later through SO_ERROR;
 *    tw_sock_connect returns both kinds as -errno and never leaves a fd open
 *    on failure (tw_connect_start turns the first kind into a deferred
 *    callback).
 *  - IP_BIND_ADDRESS_NO_PORT must be set before bind(): otherwise bind()
 *    reserves a port exclusively and the 4-tuple sharing of connect() is lost.
 *  - IP_LOCAL_PORT_RANGE exists since 6.3; older kernels answer ENOPROTOOPT,
 *    which is not an error for us.
 *  - A connecting socket sends the handshake's last ACK at once unless
 *    TCP_DEFER_ACCEPT (or a blocked writer) tells it data will follow; with
 *    it set, the ACK waits for the first write (up to 200 ms) and one packet
 *    per connection is saved (tcp_rcv_synsent_state_process).
 */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "twkit/sock.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif
#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51
#endif

static int setint(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

static bool valid_addr(const tw_addr *a)
{
    return a && ((a->u.sa.sa_family == AF_INET && a->len >= sizeof(struct sockaddr_in)) ||
                 (a->u.sa.sa_family == AF_INET6 && a->len >= sizeof(struct sockaddr_in6)));
}

static int tcp_socket(int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    return fd < 0 ? -errno : fd;
}

int tw_sock_listen(const tw_addr *addr, const struct tw_listen_opts *opts)
{
    int fd, err;
    int backlog = opts && opts->backlog > 0 ? opts->backlog : 4096;

    if (!valid_addr(addr))
        return -EINVAL;
    if ((fd = tcp_socket(addr->u.sa.sa_family)) < 0)
        return fd;
    if ((err = setint(fd, SOL_SOCKET, SO_REUSEADDR, 1)) < 0 ||
        (opts && opts->reuseport && (err = setint(fd, SOL_SOCKET, SO_REUSEPORT, 1)) < 0) ||
        (addr->u.sa.sa_family == AF_INET6 &&
         (err = setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, opts && opts->v6only)) < 0))
        goto fail;
    if (bind(fd, &addr->u.sa, addr->len) < 0 || listen(fd, backlog) < 0) {
        err = -errno;
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return err;
}

int tw_sock_accept(int lfd, tw_addr *peer)
{
    int fd;
    socklen_t len = sizeof(peer ? peer->u.ss : (struct sockaddr_storage){0});

    if (lfd < 0)
        return -EBADF;
    fd = accept4(lfd, peer ? &peer->u.sa : NULL, peer ? &len : NULL,
                 SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (peer)
        peer->len = len;
    return fd;
}

int tw_sock_set_port_range(int fd, uint16_t lo, uint16_t hi)
{
    uint32_t v = (uint32_t)hi << 16 | lo;

    if (fd < 0)
        return -EBADF;
    if (lo > hi)
        return -EINVAL;
    if (setsockopt(fd, SOL_IP, IP_LOCAL_PORT_RANGE, &v, sizeof(v)) < 0)
        return errno == ENOPROTOOPT ? 0 : -errno;
    return 1;
}

int tw_sock_connect(const tw_addr *dst, const struct tw_connect_opts *opts, int *out)
{
    int fd, err = 0;

    if (!valid_addr(dst) || !out || (opts && opts->source && !valid_addr(opts->source)))
        return -EINVAL;
    if (opts && opts->source && opts->source->u.sa.sa_family != dst->u.sa.sa_family)
        return -EAFNOSUPPORT;
    if ((fd = tcp_socket(dst->u.sa.sa_family)) < 0)
        return fd;
    if (opts && opts->source) {
        /* A fixed source port needs SO_REUSEADDR to rebind past its own
         * TIME_WAIT; port 0 defers the choice to connect(). */
        if (tw_addr_port(opts->source))
            err = setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
        else
            err = setint(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
        if (err < 0)
            goto fail;
        if (bind(fd, &opts->source->u.sa, opts->source->len) < 0) {
            err = -errno;
            goto fail;
        }
    }
    if (opts) {
        if ((opts->port_lo || opts->port_hi) &&
            (err = tw_sock_set_port_range(fd, opts->port_lo, opts->port_hi)) < 0)
            goto fail;
        if ((opts->nodelay && (err = tw_sock_set_nodelay(fd, true)) < 0) ||
            (opts->speaks_first && (err = setint(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1)) < 0) ||
            (opts->keepalive && (err = tw_sock_set_keepalive(fd, NULL)) < 0) ||
            (opts->user_timeout_ms &&
             (err = tw_sock_set_user_timeout(fd, opts->user_timeout_ms)) < 0))
            goto fail;
    }
    if (connect(fd, &dst->u.sa, dst->len) == 0) {
        *out = fd;
        return 0;
    }
    if (errno == EINPROGRESS) {
        *out = fd;
        return -EINPROGRESS;
    }
    err = errno == EAGAIN ? -EADDRNOTAVAIL : -errno; /* EAGAIN: no port (old kernels) */
fail:
    close(fd);
    return err;
}

int tw_sock_connect_result(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &v, &len) < 0)
        return -errno;
    return -v;
}

int tw_sock_set_keepalive(int fd, const struct tw_keepalive *ka)
{
    unsigned idle = ka && ka->idle_s ? ka->idle_s : 60;
    unsigned intvl = ka && ka->intvl_s ? ka->intvl_s : 10;
    unsigned cnt = ka && ka->count ? ka->count : 6;
    int err;

    if (fd < 0)
        return -EBADF;
    if ((err = setint(fd, SOL_SOCKET, SO_KEEPALIVE, 1)) < 0 ||
        (err = setint(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)idle)) < 0 ||
        (err = setint(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)intvl)) < 0 ||
        (err = setint(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)cnt)) < 0)
        return err;
    return 0;
}

int tw_sock_set_user_timeout(int fd, unsigned ms)
{
    return fd < 0 ? -EBADF : setint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms);
}

int tw_sock_set_nodelay(int fd, bool on)
{
    return fd < 0 ? -EBADF : setint(fd, IPPROTO_TCP, TCP_NODELAY, on);
}

int tw_sock_unacked(int fd)
{
    int n = 0;

    if (fd < 0)
        return -EBADF;
    if (ioctl(fd, SIOCOUTQ, &n) < 0)
        return -errno;
    return n;
}

int tw_sock_tcp_state(int fd)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (fd < 0)
        return -EBADF;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
        return -errno;
    return ti.tcpi_state;
}
