/* The epoll backend (the default).
 *
 * epoll's traps, and what this file does about them:
 *  - epoll reports events for the registration, not the descriptor: a fd
 *    closed in one callback of a batch may be reopened (same number) by the
 *    next callback before the old event for it is dispatched. The
 *    registration's generation (loop.c) rides in epoll_data beside the fd;
 *    an event whose generation does not match the fd table is stale and
 *    dropped.
 *  - close() removes a fd from the epoll set only when no dup of it remains;
 *    tw_io_stop does EPOLL_CTL_DEL. tw_io_forget skips that syscall for a
 *    descriptor that is closed (or about to be) and never dup'ed, which is
 *    every socket twkit makes (all CLOEXEC).
 *  - EPOLLERR and EPOLLHUP are reported whatever was asked for; they reach
 *    the callback as TW_IO_ERROR together with the read/write bits it asked
 *    for, so the next read or write returns the error.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "event/loop_int.h"
#include "twkit/time.h"

#define MAX_EVENTS 256

struct ep {
    int epfd;
    struct epoll_event events[MAX_EVENTS];
};

static int ep_init(tw_loop *loop)
{
    struct ep *ep = calloc(1, sizeof(*ep));

    if (!ep)
        return -ENOMEM;
    ep->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ep->epfd < 0) {
        int err = -errno;
        free(ep);
        return err;
    }
    loop->be = ep;
    return 0;
}

static void ep_fini(tw_loop *loop)
{
    struct ep *ep = loop->be;

    close(ep->epfd);
    free(ep);
}

static uint32_t to_epoll(unsigned ev)
{
    uint32_t e = 0;

    if (ev & TW_IO_READ)
        e |= EPOLLIN;
    if (ev & TW_IO_WRITE)
        e |= EPOLLOUT;
    if (ev & TW_IO_RDHUP)
        e |= EPOLLRDHUP;
    if (ev & TW_IO_EDGE)
        e |= EPOLLET;
    return e;
}

static int ep_start(tw_loop *loop, tw_io *io, struct fdslot *slot, bool fresh, unsigned events)
{
    struct ep *ep = loop->be;
    struct epoll_event ev;
    int op;

    /* A registration handed over by the previous watcher is taken with MOD. */
    op = !fresh || slot->kept ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    slot->kept = false;
    ev.events = to_epoll(events);
    ev.data.u64 = (uint64_t)io->gen << 32 | (uint32_t)io->fd;
    if (epoll_ctl(ep->epfd, op, io->fd, &ev) < 0) {
        /* EEXIST: the previous owner of this number closed it without
         * stopping its watcher, and a dup kept the old registration.
         * ENOENT: a handed-over fd was closed and the number reused. */
        if (errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else if (errno == ENOENT && fresh)
            op = EPOLL_CTL_ADD;
        else
            return -errno;
        if (epoll_ctl(ep->epfd, op, io->fd, &ev) < 0)
            return -errno;
    }
    return 0;
}

static void ep_drop(tw_loop *loop, tw_io *io, struct fdslot *slot, enum tw__drop_how how)
{
    struct ep *ep = loop->be;

    if (how == TW__DROP_DEL)
        epoll_ctl(ep->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    if (slot)
        slot->kept = how == TW__DROP_KEEP;
}

static int ep_poll(tw_loop *loop, int timeout_ms)
{
    struct ep *ep = loop->be;
    int n, ran = 0;

    n = epoll_wait(ep->epfd, ep->events, MAX_EVENTS, timeout_ms);
    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0;
    }
    loop->now = tw_now_ms();

    for (int i = 0; i < n; i++) {
        uint64_t u = ep->events[i].data.u64;
        uint32_t gen = (uint32_t)(u >> 32);
        unsigned fd = (uint32_t)u;
        struct fdslot *s = fd < loop->nfds ? &loop->fds[fd] : NULL;
        tw_io *io;

        if (!s || !(io = s->io) || s->gen != gen) {
            /* stale: stopped (and maybe reused) since epoll_wait; or handed
             * over and not taken: remove that registration now */
            if (s && s->kept && !s->io) {
                epoll_ctl(ep->epfd, EPOLL_CTL_DEL, (int)fd, NULL);
                s->kept = false;
            }
            continue;
        }
        io->cb(io, tw__loop_events(io, ep->events[i].events));
        ran++;
    }
    return ran;
}

const struct tw__loop_ops tw__loop_epoll = {
    .name = "epoll",
    .init = ep_init,
    .fini = ep_fini,
    .start = ep_start,
    .drop = ep_drop,
    .poll = ep_poll,
};
