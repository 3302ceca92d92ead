/* Close policies: where TIME_WAIT lands is decided here, explicitly.
 *
 * The traps:
 *  - close() with unread data in the receive queue sends RST, not FIN
 *    (TcpExt TCPAbortOnClose): a "graceful" close must drain first.
 *  - SO_LINGER {1, 0} makes close() send RST and discard the send queue
 *    (TCPAbortOnData); nothing the peer's TCP already acknowledged is lost,
 *    so an abort after tw_sock_unacked() == 0 loses nothing.
 *  - The peer's FIN can be in the kernel (state CLOSE_WAIT) while data
 *    before it is still unread: tw_sock_close_passive refuses that case too.
 */
#include <errno.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "twkit/sock.h"

int tw_sock_abort(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    int err = 0;

    if (fd < 0)
        return -EBADF;
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
        err = -errno;
    close(fd);
    return err;
}

int tw_sock_close_passive(int fd)
{
    int st = tw_sock_tcp_state(fd), unread = 0;

    if (st < 0)
        return st;
    if (st != TCP_CLOSE_WAIT && st != TCP_CLOSE)
        return -EAGAIN; /* no FIN from the peer yet: we would close first */
    if (ioctl(fd, FIONREAD, &unread) == 0 && unread > 0)
        return -EAGAIN; /* close() would send RST over unread data */
    close(fd);
    return 0;
}

static void closer_finish(tw_closer *c, int result)
{
    int fd = c->io.fd;

    tw_timer_stop(&c->timer);
    tw_io_forget(&c->io); /* closed just below */
    c->io.fd = -1;
    if (result == 0 && c->active)
        close(fd); /* our FIN went first: we hold the TIME_WAIT */
    else if (result != 0 || tw_sock_close_passive(fd) < 0)
        tw_sock_abort(fd); /* never fall back to a first FIN */
    if (c->cb)
        c->cb(c, result);
}

static void closer_read(tw_io *io, unsigned events)
{
    tw_closer *c = io->data;
    char buf[16384];

    /* Bounded per wakeup so a peer that keeps sending cannot hog the loop;
     * the deadline ends it. */
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(io->fd, buf, sizeof(buf));
        if (n > 0) {
            c->drained += (uint64_t)n;
            continue;
        }
        if (n == 0)
            closer_finish(c, 0);
        else if (errno != EAGAIN && errno != EINTR)
            closer_finish(c, -errno);
        return;
    }
}

static void closer_timeout(tw_timer *t)
{
    closer_finish(t->data, -ETIMEDOUT);
}

static int closer_start(tw_loop *loop, tw_closer *c, int fd, uint64_t ms, bool active,
                        tw_close_cb cb, void *data)
{
    int err;

    if (!loop || !c || fd < 0)
        return -EINVAL;
    c->active = active;
    c->drained = 0;
    c->cb = cb;
    c->data = data;
    tw_io_init(&c->io, fd, closer_read, c);
    tw_timer_init(&c->timer, closer_timeout, c);
    if (active)
        shutdown(fd, SHUT_WR); /* ENOTCONN (reset already) shows up in read */
    if ((err = tw_io_start(loop, &c->io, TW_IO_READ)) < 0) {
        tw_sock_abort(fd); /* the closer owns fd, whatever the outcome */
        c->io.fd = -1;
        return err;
    }
    tw_timer_start(loop, &c->timer, ms);
    return 0;
}

int tw_close_active(tw_loop *loop, tw_closer *c, int fd, uint64_t deadline_ms,
                    tw_close_cb cb, void *data)
{
    return closer_start(loop, c, fd, deadline_ms, true, cb, data);
}

int tw_close_passive(tw_loop *loop, tw_closer *c, int fd, uint64_t grace_ms,
                     tw_close_cb cb, void *data)
{
    return closer_start(loop, c, fd, grace_ms, false, cb, data);
}
