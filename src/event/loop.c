/* The epoll loop.
 *
 * epoll's traps, and what this file does about them:
 *  - epoll reports events for the registration, not the descriptor: a fd
 *    closed in one callback of a batch may be reopened (same number) by the
 *    next callback before the old event for it is dispatched. Each
 *    registration gets a 32-bit generation, stored in epoll_data beside the
 *    fd and in the loop's fd table; an event whose generation does not match
 *    the table is stale and dropped.
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
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/list.h"
#include "event/wheel.h"
#include "twkit/loop.h"
#include "twkit/time.h"

#define MAX_EVENTS 256

struct fdslot {
    tw_io *io;
    uint32_t gen;
    bool kept; /* registered in epoll, owned by no watcher (tw_io_hand_over) */
};

struct tw_loop {
    int epfd;
    bool stop;
    uint64_t now;
    uint32_t next_gen;
    unsigned nio, ndefer;
    struct fdslot *fds;
    unsigned nfds;
    struct tw_list defers;
    struct tw__wheel wheel;
    struct epoll_event events[MAX_EVENTS];
};

int tw_loop_new(tw_loop **out)
{
    tw_loop *loop;

    if (!out)
        return -EINVAL;
    loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        int err = -errno;
        free(loop);
        return err;
    }
    loop->now = tw_now_ms();
    tw__wheel_init(&loop->wheel, loop->now);
    tw__list_init(&loop->defers);
    *out = loop;
    return 0;
}

void tw_loop_free(tw_loop *loop)
{
    if (!loop)
        return;
    close(loop->epfd);
    free(loop->fds);
    free(loop);
}

uint64_t tw_loop_now(const tw_loop *loop) { return loop->now; }
void tw_loop_update_time(tw_loop *loop) { loop->now = tw_now_ms(); }
void tw_loop_stop(tw_loop *loop) { loop->stop = true; }

unsigned tw_loop_active(const tw_loop *loop)
{
    return loop->nio + loop->ndefer + loop->wheel.count;
}

/* ---- I/O watchers ---- */

void tw_io_init(tw_io *io, int fd, tw_io_cb cb, void *data)
{
    io->fd = fd;
    io->events = 0;
    io->gen = 0;
    io->loop = NULL;
    io->cb = cb;
    io->data = data;
}

static int grow_fds(tw_loop *loop, int fd)
{
    unsigned n = loop->nfds ? loop->nfds : 64;
    struct fdslot *p;

    while (n <= (unsigned)fd)
        n *= 2;
    p = realloc(loop->fds, n * sizeof(*p));
    if (!p)
        return -ENOMEM;
    memset(p + loop->nfds, 0, (n - loop->nfds) * sizeof(*p));
    loop->fds = p;
    loop->nfds = n;
    return 0;
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

int tw_io_start(tw_loop *loop, tw_io *io, unsigned events)
{
    struct epoll_event ev;
    struct fdslot *slot;
    int op, err;

    if (!loop || !io || io->fd < 0 || !io->cb ||
        !(events & (TW_IO_READ | TW_IO_WRITE | TW_IO_RDHUP | TW_IO_ERROR)))
        return -EINVAL;
    if (io->events && io->loop != loop)
        return -EINVAL;
    if ((unsigned)io->fd >= loop->nfds && (err = grow_fds(loop, io->fd)) < 0)
        return err;
    slot = &loop->fds[io->fd];

    bool fresh = !io->events;
    if (fresh) {
        if (++loop->next_gen == 0)
            loop->next_gen = 1;
        io->gen = loop->next_gen;
    }
    /* A registration handed over by the previous watcher is taken with MOD. */
    op = !fresh || slot->kept ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    slot->kept = false;
    ev.events = to_epoll(events);
    ev.data.u64 = (uint64_t)io->gen << 32 | (uint32_t)io->fd;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0) {
        /* EEXIST: the previous owner of this number closed it without
         * stopping its watcher, and a dup kept the old registration.
         * ENOENT: a handed-over fd was closed and the number reused. */
        if (errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else if (errno == ENOENT && fresh)
            op = EPOLL_CTL_ADD;
        else
            return -errno;
        if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
            return -errno;
    }
    if (fresh) {
        if (slot->io && slot->io != io)
            loop->nio--; /* the stale owner is forgotten */
        slot->io = io;
        slot->gen = io->gen;
        io->loop = loop;
        loop->nio++;
    }
    io->events = events;
    return 0;
}

enum drop_how { DROP_DEL, DROP_FORGET, DROP_KEEP };

static void drop(tw_io *io, enum drop_how how)
{
    tw_loop *loop;

    if (!io || !io->events)
        return;
    loop = io->loop;
    if (how == DROP_DEL)
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    if ((unsigned)io->fd < loop->nfds && loop->fds[io->fd].io == io) {
        loop->fds[io->fd].io = NULL;
        loop->fds[io->fd].gen = 0;
        loop->fds[io->fd].kept = how == DROP_KEEP;
        loop->nio--;
    }
    io->events = 0;
    io->loop = NULL;
}

void tw_io_stop(tw_io *io) { drop(io, DROP_DEL); }
void tw_io_forget(tw_io *io) { drop(io, DROP_FORGET); }
void tw_io_hand_over(tw_io *io) { drop(io, DROP_KEEP); }

void tw_io_close(tw_io *io)
{
    if (!io)
        return;
    tw_io_forget(io);
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
}

/* ---- timers ---- */

void tw_timer_init(tw_timer *t, tw_timer_cb cb, void *data)
{
    memset(t, 0, sizeof(*t));
    t->cb = cb;
    t->data = data;
}

int tw_timer_start(tw_loop *loop, tw_timer *t, uint64_t after_ms)
{
    if (!loop || !t || !t->cb)
        return -EINVAL;
    if (t->active)
        tw__wheel_del(t->wheel, t);
    tw__wheel_add(&loop->wheel, t, loop->now + after_ms);
    return 0;
}

void tw_timer_stop(tw_timer *t)
{
    if (t && t->active)
        tw__wheel_del(t->wheel, t);
}

/* ---- deferred callbacks ---- */

void tw_defer_init(tw_defer *d, tw_defer_cb cb, void *data)
{
    memset(d, 0, sizeof(*d));
    tw__list_init(&d->link);
    d->cb = cb;
    d->data = data;
}

void tw_defer_post(tw_loop *loop, tw_defer *d)
{
    if (!loop || !d || !d->cb || d->queued)
        return;
    tw__list_add_tail(&loop->defers, &d->link);
    d->queued = true;
    d->loop = loop;
    loop->ndefer++;
}

void tw_defer_cancel(tw_defer *d)
{
    if (!d || !d->queued)
        return;
    tw__list_del(&d->link);
    d->queued = false;
    d->loop->ndefer--;
}

static int run_defers(tw_loop *loop)
{
    struct tw_list batch;
    int n = 0;

    tw__list_move_all(&batch, &loop->defers);
    while (!tw__list_empty(&batch)) {
        tw_defer *d = tw__container_of(batch.next, tw_defer, link);
        tw__list_del(&d->link);
        d->queued = false;
        loop->ndefer--;
        d->cb(d);
        n++;
    }
    return n;
}

/* ---- running ---- */

static int next_timeout(tw_loop *loop, int timeout_ms)
{
    int64_t t;

    if (loop->ndefer)
        return 0;
    if (!loop->wheel.count)
        return timeout_ms;
    t = tw_ms_diff(tw__wheel_next(&loop->wheel), loop->now);
    if (t < 0)
        t = 0;
    if (t > 0x7fffffff)
        t = 0x7fffffff;
    return timeout_ms < 0 || t < timeout_ms ? (int)t : timeout_ms;
}

int tw_loop_run_once(tw_loop *loop, int timeout_ms)
{
    int n, ran = 0;

    if (!loop)
        return -EINVAL;
    n = epoll_wait(loop->epfd, loop->events, MAX_EVENTS, next_timeout(loop, timeout_ms));
    if (n < 0) {
        if (errno != EINTR)
            return -errno;
        n = 0;
    }
    loop->now = tw_now_ms();

    for (int i = 0; i < n; i++) {
        uint64_t u = loop->events[i].data.u64;
        uint32_t e = loop->events[i].events, gen = (uint32_t)(u >> 32);
        unsigned fd = (uint32_t)u, ev = 0;
        tw_io *io;

        if (fd >= loop->nfds || !(io = loop->fds[fd].io) || loop->fds[fd].gen != gen) {
            /* stale: stopped (and maybe reused) since epoll_wait; or handed
             * over and not taken: remove that registration now */
            if (fd < loop->nfds && loop->fds[fd].kept && !loop->fds[fd].io) {
                epoll_ctl(loop->epfd, EPOLL_CTL_DEL, (int)fd, NULL);
                loop->fds[fd].kept = false;
            }
            continue;
        }
        if (e & EPOLLIN)
            ev |= TW_IO_READ;
        if (e & EPOLLOUT)
            ev |= TW_IO_WRITE;
        if (e & EPOLLRDHUP)
            ev |= TW_IO_RDHUP | (io->events & TW_IO_READ);
        if (e & (EPOLLERR | EPOLLHUP))
            ev |= TW_IO_ERROR | (io->events & (TW_IO_READ | TW_IO_WRITE));
        io->cb(io, ev);
        ran++;
    }
    /* Timers that fell due while the I/O callbacks ran fire now, not one
     * epoll_wait later: a busy loop (a prober starting 20 probes a
     * millisecond) would otherwise start them an iteration late. */
    if (n > 0)
        loop->now = tw_now_ms();
    ran += (int)tw__wheel_advance(&loop->wheel, loop->now);
    ran += run_defers(loop);
    return ran;
}

int tw_loop_run(tw_loop *loop)
{
    if (!loop)
        return -EINVAL;
    loop->stop = false;
    while (!loop->stop && tw_loop_active(loop)) {
        int r = tw_loop_run_once(loop, -1);
        if (r < 0)
            return r;
    }
    return 0;
}
