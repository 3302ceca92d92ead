/* The loop's backend-independent part: the fd table and its generations,
 * timers, deferred callbacks, running; the kernel side is a backend behind
 * struct tw__loop_ops (loop_int.h): loop_epoll.c or loop_uring.c, chosen
 * when the loop is made (tw_loop_new_backend, TWKIT_LOOP).
 *
 * Every registration gets a 32-bit generation, kept in the fd table; a
 * backend tags what it asks the kernel with it (epoll: in epoll_data) or
 * with a tag of its own it keeps beside it (io_uring), and drops an event
 * whose tag is not the slot's: the descriptor was stopped, or closed and
 * its number reused by a new watcher, since the kernel reported it.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>

#include "core/list.h"
#include "event/loop_int.h"
#include "event/wheel.h"
#include "twkit/loop.h"
#include "twkit/time.h"

/* TWKIT_LOOP=epoll|io_uring picks the backend of TW_LOOP_DEFAULT; unset,
 * empty or anything else: epoll. */
static tw_loop_kind default_kind(void)
{
    const char *e = getenv("TWKIT_LOOP");

    if (e && (!strcmp(e, "io_uring") || !strcmp(e, "uring")))
        return TW_LOOP_IO_URING;
    return TW_LOOP_EPOLL;
}

int tw_loop_new_backend(tw_loop **out, tw_loop_kind kind)
{
    tw_loop *loop;
    int err;

    if (!out || (unsigned)kind > TW_LOOP_IO_URING)
        return -EINVAL;
    if (kind == TW_LOOP_DEFAULT)
        kind = default_kind();
    loop = calloc(1, sizeof(*loop));
    if (!loop)
        return -ENOMEM;
    /* io_uring refused (ENOSYS, EPERM under seccomp or io_uring_disabled,
     * too old a kernel, no memory for the rings): epoll, as
     * tw_loop_backend() then says. */
    err = -ENOSYS;
    if (kind == TW_LOOP_IO_URING) {
        loop->ops = &tw__loop_uring;
        err = loop->ops->init(loop);
    }
    if (err < 0) {
        loop->ops = &tw__loop_epoll;
        err = loop->ops->init(loop);
    }
    if (err < 0) {
        free(loop);
        return err;
    }
    loop->now = tw_now_ms();
    tw__wheel_init(&loop->wheel, loop->now);
    tw__list_init(&loop->defers);
    *out = loop;
    return 0;
}

int tw_loop_new(tw_loop **out) { return tw_loop_new_backend(out, TW_LOOP_DEFAULT); }

const char *tw_loop_backend(const tw_loop *loop) { return loop ? loop->ops->name : NULL; }

void tw_loop_free(tw_loop *loop)
{
    if (!loop)
        return;
    loop->ops->fini(loop);
    free(loop->rbuf);
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

static uint32_t new_gen(tw_loop *loop)
{
    uint32_t gen = loop->next_gen + 1;

    if (gen == 0)
        gen = 1;
    return loop->next_gen = gen;
}

int tw_io_start(tw_loop *loop, tw_io *io, unsigned events)
{
    struct fdslot *slot;
    bool fresh;
    int err;

    if (!loop || !io || io->fd < 0 || !io->cb ||
        !(events & (TW_IO_READ | TW_IO_WRITE | TW_IO_RDHUP | TW_IO_ERROR)))
        return -EINVAL;
    if (io->events && io->loop != loop)
        return -EINVAL;
    if ((unsigned)io->fd >= loop->nfds && (err = grow_fds(loop, io->fd)) < 0)
        return err;
    slot = &loop->fds[io->fd];
    /* a receiver shares epoll's registration, which is level-triggered */
    if ((events & TW_IO_EDGE) && tw__rcv_on(slot))
        return -EINVAL;
    fresh = !io->events;
    if (fresh) /* beside a started receiver: its registration's generation */
        io->gen = tw__rcv_on(slot) ? slot->gen : new_gen(loop);
    if ((err = loop->ops->start(loop, io, slot, fresh, events)) < 0)
        return err;
    if (fresh) {
        if (slot->io && slot->io != io)
            loop->nio--; /* the stale owner is forgotten */
        slot->io = io;
        slot->gen = io->gen;
        slot->acc = NULL; /* tw_accept_start sets its own */
        io->loop = loop;
        loop->nio++;
    }
    io->events = events;
    return 0;
}

static void drop(tw_io *io, enum tw__drop_how how)
{
    struct fdslot *slot = NULL;
    tw_loop *loop;

    if (!io || !io->events)
        return;
    loop = io->loop;
    if ((unsigned)io->fd < loop->nfds && loop->fds[io->fd].io == io)
        slot = &loop->fds[io->fd];
    loop->ops->drop(loop, io, slot, how);
    if (slot) {
        slot->io = NULL;
        if (!tw__rcv_on(slot))
            slot->gen = 0; /* else the receiver's registration goes on */
        loop->nio--;
    }
    io->events = 0;
    io->loop = NULL;
}

unsigned tw__loop_events(const tw_io *io, uint32_t e)
{
    unsigned ev = 0;

    if (e & 0x001) /* EPOLLIN, POLLIN */
        ev |= TW_IO_READ;
    if (e & 0x004) /* EPOLLOUT, POLLOUT */
        ev |= TW_IO_WRITE;
    if (e & 0x2000) /* EPOLLRDHUP, POLLRDHUP */
        ev |= TW_IO_RDHUP | (io->events & TW_IO_READ);
    if (e & (0x008 | 0x010)) /* EPOLLERR | EPOLLHUP */
        ev |= TW_IO_ERROR | (io->events & (TW_IO_READ | TW_IO_WRITE));
    return ev;
}

void tw_io_stop(tw_io *io) { drop(io, TW__DROP_DEL); }
void tw_io_forget(tw_io *io) { drop(io, TW__DROP_FORGET); }
void tw_io_hand_over(tw_io *io) { drop(io, TW__DROP_KEEP); }

void tw_io_close(tw_io *io)
{
    if (!io)
        return;
    tw_io_forget(io);
    if (io->fd >= 0)
        close(io->fd);
    io->fd = -1;
}

/* ---- acceptors ---- */

#define ACCEPTS_PER_WAKEUP 64

bool tw__accept_transient(int err)
{
    switch (err) {
    case ECONNABORTED: case EINTR: case EPROTO: case EPERM: case ENETDOWN:
    case ENOPROTOOPT: case EHOSTDOWN: case ENONET: case EHOSTUNREACH:
    case EOPNOTSUPP: case ENETUNREACH: case ETIMEDOUT:
        return true;
    default:
        return false;
    }
}

void tw__accept_reject(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

/* epoll (and io_uring without accepts of its own): the listener is
 * readable, accept what waits, within a budget. */
static void accept_ready(tw_io *io, unsigned events)
{
    tw_accept *a = io->data;
    tw_loop *loop = io->loop;
    int lfd = io->fd;
    uint32_t gen = io->gen;

    (void)events;
    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), err = errno;
        if (fd < 0 && (err == EAGAIN || err == EWOULDBLOCK))
            return;
        if (fd < 0 && tw__accept_transient(err))
            continue;
        a->cb(a, fd < 0 ? -err : fd);
        /* an error: the callback pauses or hears of it next wakeup; and it
         * may have paused, closed or freed the acceptor */
        if (fd < 0 || (unsigned)lfd >= loop->nfds || loop->fds[lfd].io != io ||
            loop->fds[lfd].gen != gen)
            return;
    }
}

void tw_accept_init(tw_accept *a, int lfd, tw_accept_cb cb, void *data)
{
    tw_io_init(&a->io, lfd, accept_ready, a);
    a->loop = NULL;
    a->cb = cb;
    a->data = data;
}

int tw_accept_start(tw_loop *loop, tw_accept *a)
{
    int err;

    if (!loop || !a || !a->cb || (a->loop && a->loop != loop))
        return -EINVAL;
    if (tw_accept_active(a))
        return 0;
    if ((err = tw_io_start(loop, &a->io, TW_IO_READ | TW__IO_ACCEPT)) < 0)
        return err;
    a->loop = loop;
    loop->fds[a->io.fd].acc = a;
    return 0;
}

void tw_accept_pause(tw_accept *a)
{
    if (a)
        tw_io_stop(&a->io); /* the slot keeps a: late accepts still reach it */
}

void tw_accept_close(tw_accept *a)
{
    if (!a)
        return;
    if (a->loop && a->io.fd >= 0 && (unsigned)a->io.fd < a->loop->nfds &&
        a->loop->fds[a->io.fd].acc == a)
        a->loop->fds[a->io.fd].acc = NULL;
    tw_io_close(&a->io);
}

/* ---- receivers ---- */

#define RECVS_PER_WAKEUP 8
#define RECV_BUF (64 * 1024)

void tw_recv_init(tw_recv *r, int fd, tw_recv_cb cb, void *data)
{
    memset(r, 0, sizeof(*r));
    r->fd = fd;
    r->cb = cb;
    r->data = data;
}

int tw_recv_start(tw_loop *loop, tw_recv *r)
{
    struct fdslot *slot;
    bool fresh;
    int err;

    if (!loop || !r || r->fd < 0 || !r->cb || (r->loop && r->loop != loop))
        return -EINVAL;
    if (r->on)
        return 0;
    if ((unsigned)r->fd >= loop->nfds && (err = grow_fds(loop, r->fd)) < 0)
        return err;
    if (!loop->rbuf && !(loop->rbuf = malloc(RECV_BUF)))
        return -ENOMEM; /* here, not at a wakeup that could not read */
    slot = &loop->fds[r->fd];
    if (slot->io && (slot->io->events & TW_IO_EDGE))
        return -EINVAL;
    /* a paused receiver keeps its slot (and generation): a resume */
    fresh = slot->rcv != r || slot->rgen != r->gen || !r->gen;
    if (fresh)
        r->gen = new_gen(loop);
    slot->rcv = r;
    slot->rgen = r->gen;
    if (!slot->io)
        slot->gen = r->gen; /* else the watcher's registration is shared */
    r->loop = loop;
    r->on = true;
    if ((err = loop->ops->rstart(loop, r, slot, fresh)) < 0) {
        r->on = false;
        if (fresh) {
            slot->rcv = NULL;
            slot->rgen = 0;
            r->loop = NULL;
        }
        if (!slot->io)
            slot->gen = 0;
        return err;
    }
    loop->nio++;
    return 0;
}

void tw_recv_pause(tw_recv *r)
{
    struct fdslot *slot;
    tw_loop *loop;

    if (!r || !r->on)
        return;
    loop = r->loop;
    slot = &loop->fds[r->fd]; /* a started receiver owns its slot */
    r->on = false;
    loop->nio--;
    loop->ops->rstop(loop, r, slot, TW__DROP_KEEP); /* slot->rcv stays: late data */
    if (!slot->io)
        slot->gen = 0;
}

/* Detach r from its slot for good (a stop, or its EOF or error). */
static void recv_detach(tw_loop *loop, tw_recv *r)
{
    struct fdslot *slot;

    if (r->fd >= 0 && (unsigned)r->fd < loop->nfds && (slot = &loop->fds[r->fd])->rcv == r &&
        slot->rgen == r->gen) {
        if (r->on) {
            r->on = false;
            loop->nio--;
        }
        loop->ops->rstop(loop, r, slot, TW__DROP_FORGET);
        slot->rcv = NULL;
        slot->rgen = 0;
        if (!slot->io)
            slot->gen = 0;
    }
    r->on = false;
    r->loop = NULL;
}

void tw_recv_stop(tw_recv *r)
{
    if (r && r->loop)
        recv_detach(r->loop, r);
}

void tw_recv_close(tw_recv *r)
{
    if (!r)
        return;
    tw_recv_stop(r);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

void tw__recv_end(tw_loop *loop, tw_recv *r) { recv_detach(loop, r); }

int tw__recv_ready(tw_loop *loop, tw_recv *r, bool fin)
{
    int fd = r->fd, ran = 0;
    uint32_t gen = r->gen;

    for (int i = 0; i < RECVS_PER_WAKEUP; i++) {
        /* recv, not read: the same on a socket, without the VFS layer
         * (fsnotify, file position) that read() goes through first */
        ssize_t n = recv(fd, loop->rbuf, RECV_BUF, 0);
        struct fdslot *s;

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* the EOF or an error: the last this receiver says */
            int res = n < 0 ? -errno : 0;
            tw__recv_end(loop, r);
            r->fin = false;
            r->cb(r, NULL, res);
            return 1;
        }
        r->fin = fin;
        r->cb(r, loop->rbuf, n);
        ran = 1;
        /* the callback may have paused, stopped or freed r, grown the table */
        s = &loop->fds[fd];
        if (s->rcv != r || s->rgen != gen || !r->on)
            break;
        if (n < RECV_BUF && !fin)
            break; /* drained; with the FIN in, go on to the EOF */
    }
    return ran;
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
    int n, ran;

    if (!loop)
        return -EINVAL;
    loop->running = true;
    n = loop->ops->poll(loop, next_timeout(loop, timeout_ms));
    if (n < 0) {
        loop->running = false;
        return n;
    }
    ran = n;
    /* Timers that fell due while the I/O callbacks ran fire now, not one
     * wait later: a busy loop (a prober starting 20 probes a millisecond)
     * would otherwise start them an iteration late. */
    if (n > 0)
        loop->now = tw_now_ms();
    ran += (int)tw__wheel_advance(&loop->wheel, loop->now);
    ran += run_defers(loop);
    loop->running = false;
    if (loop->ops->end)
        loop->ops->end(loop);
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
