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
 *  - A receiver (tw_recv) and a watcher of the same descriptor share its one
 *    registration: the mask is both of theirs, the generation the first's
 *    (loop.c), and an event goes to the receiver (its bits, EPOLLIN and
 *    EPOLLRDHUP, and errors: recv() returns them) and then to the watcher
 *    (its bits and errors). A receiver stopping or pausing costs no
 *    syscall: its bits are taken out of the mask at the first event that
 *    nobody wants (level-triggered, it comes at the next wait).
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

#define RCV_MASK (EPOLLIN | EPOLLRDHUP)

/* The mask fd's registration should have now. */
static uint32_t want_of(const struct fdslot *s)
{
    return (s->io ? to_epoll(s->io->events) : 0) | (tw__rcv_on(s) ? RCV_MASK : 0);
}

/* Register, or change, fd's one registration. */
static int ctl(struct ep *ep, int op, int fd, uint32_t gen, uint32_t mask, bool fresh)
{
    struct epoll_event ev;

    ev.events = mask;
    ev.data.u64 = (uint64_t)gen << 32 | (uint32_t)fd;
    if (epoll_ctl(ep->epfd, op, fd, &ev) < 0) {
        /* EEXIST: the previous owner of this number closed it without
         * stopping its watcher, and a dup kept the old registration.
         * ENOENT: a handed-over fd was closed and the number reused. */
        if (errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else if (errno == ENOENT && fresh)
            op = EPOLL_CTL_ADD;
        else
            return -errno;
        if (epoll_ctl(ep->epfd, op, fd, &ev) < 0)
            return -errno;
    }
    return 0;
}

static int ep_start(tw_loop *loop, tw_io *io, struct fdslot *slot, bool fresh, unsigned events)
{
    bool rcv = tw__rcv_on(slot);
    /* A registration handed over by the previous watcher, or a started
     * receiver's, is taken with MOD. */
    int op = !fresh || slot->kept || rcv ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    slot->kept = slot->rleft = false; /* rleft: ADD, and MOD if it is there */
    return ctl(loop->be, op, io->fd, io->gen, to_epoll(events) | (rcv ? RCV_MASK : 0), fresh);
}

static int ep_rstart(tw_loop *loop, tw_recv *r, struct fdslot *slot, bool fresh)
{
    int op = slot->io || slot->kept ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    (void)fresh;
    slot->kept = slot->rleft = false;
    return ctl(loop->be, op, r->fd, slot->gen,
               RCV_MASK | (slot->io ? to_epoll(slot->io->events) : 0), true);
}

/* No syscall: the mask is corrected at the first event nobody wants (or
 * close() removes it). A registration no watcher owns is removed at its
 * first event; a paused receiver's is kept for the resume to take with
 * MOD; a stopped or ended one's fd is most likely closed (a server closes
 * it at the EOF), so the next start on the number tries ADD first. */
static void ep_rstop(tw_loop *loop, tw_recv *r, struct fdslot *slot, enum tw__drop_how how)
{
    (void)loop, (void)r;
    if (slot->io)
        return;
    if (how == TW__DROP_KEEP)
        slot->kept = true;
    else
        slot->rleft = true;
}

static void ep_drop(tw_loop *loop, tw_io *io, struct fdslot *slot, enum tw__drop_how how)
{
    struct ep *ep = loop->be;

    if (slot && tw__rcv_on(slot)) {
        /* the receiver's registration goes on, without this watcher's bits
         * (forgotten: the fd is closing, the receiver is stopped next) */
        if (how == TW__DROP_DEL)
            ctl(ep, EPOLL_CTL_MOD, io->fd, slot->gen, RCV_MASK, false);
        return;
    }
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
        uint32_t e = ep->events[i].events, m, unwanted = 0;
        tw_io *io;

        /* bits nobody asks for any more (a receiver stopped or paused, a
         * watcher forgotten beside a receiver): out of the mask below */
        if (s && s->gen == gen)
            unwanted = e & (EPOLLIN | EPOLLOUT | EPOLLRDHUP) & ~want_of(s);
        if (s && s->gen == gen && tw__rcv_on(s)) {
            /* the receiver first: its data comes before an error */
            if (e & (RCV_MASK | EPOLLERR | EPOLLHUP))
                ran += tw__recv_ready(loop, s->rcv, e & (EPOLLRDHUP | EPOLLHUP));
            s = &loop->fds[fd]; /* the callback may have grown the table */
            if (s->gen != gen)
                continue; /* stopped, closed (maybe reused) */
        }
        if (!s || s->gen != gen || (!s->io && !tw__rcv_on(s))) {
            /* stale: stopped (and maybe reused) since epoll_wait; or handed
             * over and not taken: remove that registration now */
            if (s && (s->kept || s->rleft) && !s->io) {
                epoll_ctl(ep->epfd, EPOLL_CTL_DEL, (int)fd, NULL);
                s->kept = s->rleft = false;
            }
            continue;
        }
        if ((io = s->io)) {
            m = e & (to_epoll(io->events) | EPOLLERR | EPOLLHUP); /* not the receiver's */
            if (m) {
                io->cb(io, tw__loop_events(io, m));
                ran++;
                s = &loop->fds[fd];
                if (s->gen != gen)
                    continue;
            }
        }
        if (unwanted & ~want_of(s))
            ctl(ep, EPOLL_CTL_MOD, (int)fd, gen, want_of(s), false);
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
    .rstart = ep_rstart,
    .rstop = ep_rstop,
};
