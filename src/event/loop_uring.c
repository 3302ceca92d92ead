/* The io_uring backend: readiness by IORING_OP_POLL_ADD, every request of
 * an iteration submitted together by the io_uring_enter that waits.
 *
 * What it does, and why:
 *  - Level-triggered watchers (the default) use single-shot polls, re-armed
 *    after their callback: io_uring's multishot poll is edge-triggered (it
 *    posts on wakeups, not while the descriptor stays ready, and refuses
 *    IORING_POLL_ADD_LEVEL), and twkit's callbacks read and accept with
 *    budgets, counting on being called again while data is left. A
 *    single-shot poll checks readiness when it is armed, so a descriptor
 *    still ready completes again in the next batch: level triggering at the
 *    price of one SQE per event, never one syscall.
 *  - TW_IO_EDGE watchers use one multishot poll (IORING_POLL_ADD_MULTI),
 *    re-armed when a completion comes without IORING_CQE_F_MORE or with
 *    -ECANCELED (the kernel ends multishot requests when it must).
 *  - Every poll request carries a tag, (arm << 32 | fd), arm a fresh 32-bit
 *    number per request; the fd table holds the tag of the request armed
 *    for its watcher. A completion whose tag is not there is stale (stopped,
 *    changed, reused number) and dropped. A change of events is a
 *    POLL_REMOVE of the old tag and a POLL_ADD with a new one (POLL_UPDATE
 *    would keep the tag, and its completion racing the old request's would
 *    be ambiguous).
 *  - A poll request holds a reference to the file: close() does not end it
 *    and the socket is not released (no FIN, no RST) while it is armed. So
 *    tw_io_forget, tw_io_hand_over and tw_io_stop all queue a POLL_REMOVE;
 *    they are submitted when the iteration ends (one io_uring_enter for all
 *    the closes of a batch: the caller may not run the loop again), or at
 *    once outside an iteration (a server freed after its loop returned).
 *  - The kernel always reports POLLERR, POLLHUP and POLLRDHUP. A
 *    level-triggered watcher that did not ask for RDHUP (an error-only or a
 *    write-only watcher of a half-closed socket) would have its single-shot
 *    poll complete again and again with nothing to report: such a poll is
 *    re-armed multishot ("parked", woken only by changes) and goes back to
 *    single-shot once it reports something.
 *  - An acceptor (tw_accept) is one multishot IORING_OP_ACCEPT (5.19):
 *    each completion is a new connection, with no accept4 and no poll.
 *    Its tags have the top bit set, so a completion that is late (the
 *    acceptor paused, resumed with a new request, closed) is still known
 *    for an accept: its connection goes to the slot's acceptor if the
 *    listener still has one, else it is reset. A kernel that refuses
 *    multishot accepts (EINVAL) gets single-shot ones, re-armed after
 *    each. Stopping one is an ASYNC_CANCEL of its tag.
 *  - A receiver (tw_recv) is one multishot IORING_OP_RECV (6.0) with
 *    IOSQE_BUFFER_SELECT from the loop's ring of provided buffers
 *    (registered when the first receiver starts): each completion is a
 *    buffer of data, handed to the callback and given back to the ring as
 *    it returns; no recv() and no poll. Its tags have the second top bit
 *    (ARM_RECV), and one fd has one recv request at most: the fd table
 *    holds its tag (rarm) until its last completion (no IORING_CQE_F_MORE),
 *    and re-arms it then while the receiver is on: after -ENOBUFS (the
 *    ring ran dry: by then this batch's buffers are back, and one re-arm a
 *    fd an iteration is the bound), after -ECANCELED if it was resumed,
 *    after the kernel ended it. A pause is an ASYNC_CANCEL of the tag,
 *    submitted at once, and keeps the tag: what the kernel received before
 *    the cancel reached it still goes to the receiver (nothing is lost; at
 *    most the ring's worth, the buffers not given back yet), and a resume
 *    before the cancelled request's end waits for that end to arm the
 *    next, so data never comes from two requests out of order. A stop
 *    cancels the same
 *    way (the request holds the file, as a poll does; submitted with the
 *    iteration's removals) and clears the slot's receiver: late data for
 *    it is dropped, and a new receiver on a reused number has a request,
 *    a tag, of its own. EOF (0) and errors end the receiver after the
 *    callback hears them; an EOF already in the batch marks the data
 *    before it (r->fin). A kernel that refuses buffer rings, or multishot
 *    receives (EINVAL), gets readiness receiving: a single-shot poll
 *    (ARM_RPOLL, both top bits) and recv() with budgets, as on epoll.
 *    The receiver's requests are apart from the fd's watcher's poll, so a
 *    descriptor can have both.
 *  - Errors of tw_io_start that epoll returns at once (EBADF, EPERM for a
 *    regular file...) arrive as a failed completion: the callback gets
 *    TW_IO_ERROR with the bits it asked for once, and the poll is not
 *    re-armed until the next tw_io_start.
 */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "event/loop_int.h"
#include "twkit/time.h"

#define SQ_ENTRIES 256
#define CQ_ENTRIES 4096
#define BATCH 256
#define ARM_ACCEPT 0x80000000u /* the tag's bit of an accept request */
#define ARM_RECV 0x40000000u   /* ... of a receiver's multishot recv */
#define ARM_RPOLL 0xc0000000u  /* ... of a receiver's readiness poll */
#define ARM_KIND 0xc0000000u
#define RBUFS 128              /* the provided buffers: a power of 2, */
#define RBUF_SIZE (16 * 1024)  /* each this big (2 MiB a loop that receives) */
#define RBUF_GROUP 0

int tw__loop_uring_fail;
int tw__loop_uring_norecv;
unsigned tw__loop_uring_rbufs, tw__loop_uring_rbuf_size;
unsigned long tw__loop_uring_enobufs;

struct ur {
    struct io_uring ring;
    uint32_t next_arm;
    unsigned removes; /* POLL_REMOVEs queued since the last submission */
    bool single_accept; /* the kernel refused a multishot accept */
    bool recv_poll;     /* receivers by readiness: no buffer ring, or the
                           kernel refused a multishot recv */
    bool rbufs_tried;   /* the buffer ring was set up (or refused) */
    uint32_t batch;     /* iterations, for slot->rfin */
    struct io_uring_buf_ring *br;
    size_t br_len;
    unsigned char *bufs;
    unsigned nbufs, bufsz;
    struct io_uring_cqe cqes[BATCH];
};

static int ur_init(tw_loop *loop)
{
    struct io_uring_params p;
    struct ur *ur;
    int err;

    if (tw__loop_uring_fail)
        return tw__loop_uring_fail;
    if (!(ur = calloc(1, sizeof(*ur))))
        return -ENOMEM;
    /* SUBMIT_ALL: one bad request does not stall the rest of the batch;
     * COOP_TASKRUN: completions wait for our next entry, no IPI. Both are
     * 5.18/5.19; older kernels get the ring without them. */
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
    p.cq_entries = CQ_ENTRIES;
    err = io_uring_queue_init_params(SQ_ENTRIES, &ur->ring, &p);
    if (err == -EINVAL) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        err = io_uring_queue_init_params(SQ_ENTRIES, &ur->ring, &p);
    }
    if (err < 0) {
        free(ur);
        return err;
    }
    /* waits with a timeout in one io_uring_enter (5.11), completions never
     * dropped (5.5), multishot poll (5.13, which has both) */
    if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
        io_uring_queue_exit(&ur->ring);
        free(ur);
        return -ENOSYS;
    }
    loop->be = ur;
    return 0;
}

static void ur_fini(tw_loop *loop)
{
    struct ur *ur = loop->be;

    io_uring_queue_exit(&ur->ring); /* ends every request still armed */
    if (ur->br)
        munmap(ur->br, ur->br_len);
    free(ur->bufs);
    free(ur);
}

static struct io_uring_sqe *get_sqe(struct ur *ur)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ur->ring);

    if (!sqe) { /* the ring is full: submit what is queued, then go on */
        io_uring_submit(&ur->ring);
        sqe = io_uring_get_sqe(&ur->ring);
    }
    return sqe;
}

static unsigned to_poll(unsigned ev)
{
    unsigned m = 0;

    if (ev & TW_IO_READ)
        m |= POLLIN;
    if (ev & TW_IO_WRITE)
        m |= POLLOUT;
    if (ev & TW_IO_RDHUP)
        m |= POLLRDHUP;
    return m;
}

static void disarm(struct ur *ur, struct fdslot *s, int fd)
{
    struct io_uring_sqe *sqe;

    if (!s->arm)
        return;
    if ((sqe = get_sqe(ur))) {
        uint64_t tag = (uint64_t)s->arm << 32 | (uint32_t)fd;
        if (s->arm & ARM_ACCEPT)
            io_uring_prep_cancel64(sqe, tag, 0);
        else
            io_uring_prep_poll_remove(sqe, tag);
        io_uring_sqe_set_data64(sqe, 0);
        ur->removes++;
    }
    s->arm = 0;
}

static uint32_t new_arm(struct ur *ur)
{
    uint32_t a = ++ur->next_arm & ~ARM_KIND;

    if (a == 0)
        a = ur->next_arm = 1;
    return a;
}

static int arm_accept(struct ur *ur, struct fdslot *s, int fd)
{
    struct io_uring_sqe *sqe = get_sqe(ur);
    uint32_t a;

    if (!sqe)
        return -ENOMEM;
    a = new_arm(ur) | ARM_ACCEPT;
    if (ur->single_accept)
        io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, (uint64_t)a << 32 | (uint32_t)fd);
    s->arm = a;
    s->multi = !ur->single_accept;
    return 0;
}

static int arm(struct ur *ur, struct fdslot *s, int fd, unsigned events, bool multi)
{
    struct io_uring_sqe *sqe = get_sqe(ur);
    uint32_t a;

    if (!sqe)
        return -ENOMEM;
    a = new_arm(ur);
    if (multi)
        io_uring_prep_poll_multishot(sqe, fd, to_poll(events));
    else
        io_uring_prep_poll_add(sqe, fd, to_poll(events));
    io_uring_sqe_set_data64(sqe, (uint64_t)a << 32 | (uint32_t)fd);
    s->arm = a;
    s->multi = multi;
    return 0;
}

static int ur_start(tw_loop *loop, tw_io *io, struct fdslot *slot, bool fresh, unsigned events)
{
    struct ur *ur = loop->be;

    if (!fresh && events == io->events && slot->arm)
        return 0; /* armed already for just that */
    /* the old request: this watcher's, or a stale owner's that closed the
     * number without stopping (its request holds the old file) */
    disarm(ur, slot, io->fd);
    if (events & TW__IO_ACCEPT)
        return arm_accept(ur, slot, io->fd);
    return arm(ur, slot, io->fd, events, events & TW_IO_EDGE);
}

static void ur_drop(tw_loop *loop, tw_io *io, struct fdslot *slot, enum tw__drop_how how)
{
    struct ur *ur = loop->be;

    (void)how; /* all three: the request must go, or it holds the file */
    if (!slot || !slot->arm)
        return;
    disarm(ur, slot, io->fd);
    /* Outside the loop's iteration no wait may come soon: submit now, so
     * that a close() after this releases the socket at once (a listener's
     * port can be bound again, the peer sees the FIN). Inside, the wait
     * that ends the iteration submits it with the rest. */
    if (!loop->running) {
        io_uring_submit(&ur->ring);
        ur->removes = 0;
    }
}

/* ---- receivers ---- */

/* The ring of provided buffers, made and registered when the first
 * receiver starts; every buffer is the kernel's to fill. */
static int setup_rbufs(struct ur *ur)
{
    unsigned n = tw__loop_uring_rbufs ? tw__loop_uring_rbufs : RBUFS;
    unsigned sz = tw__loop_uring_rbuf_size ? tw__loop_uring_rbuf_size : RBUF_SIZE;
    struct io_uring_buf_reg reg;
    size_t len = (size_t)n * sizeof(struct io_uring_buf);
    void *mem;
    int err;

    ur->rbufs_tried = true;
    if (tw__loop_uring_norecv)
        return -EINVAL;
    if (n & (n - 1) || n > 32768)
        return -EINVAL;
    mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED)
        return -ENOMEM;
    if (!(ur->bufs = malloc((size_t)n * sz))) {
        munmap(mem, len);
        return -ENOMEM;
    }
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uintptr_t)mem;
    reg.ring_entries = n;
    reg.bgid = RBUF_GROUP;
    if ((err = io_uring_register_buf_ring(&ur->ring, &reg, 0)) < 0) { /* before 5.19 */
        munmap(mem, len);
        free(ur->bufs);
        ur->bufs = NULL;
        return err;
    }
    ur->br = mem;
    ur->br_len = len;
    ur->nbufs = n;
    ur->bufsz = sz;
    io_uring_buf_ring_init(ur->br);
    for (unsigned i = 0; i < n; i++)
        io_uring_buf_ring_add(ur->br, ur->bufs + (size_t)i * sz, sz, (unsigned short)i,
                              io_uring_buf_ring_mask(n), (int)i);
    io_uring_buf_ring_advance(ur->br, (int)n);
    return 0;
}

static void give_back(struct ur *ur, unsigned bid)
{
    io_uring_buf_ring_add(ur->br, ur->bufs + (size_t)bid * ur->bufsz, ur->bufsz,
                          (unsigned short)bid, io_uring_buf_ring_mask(ur->nbufs), 0);
    io_uring_buf_ring_advance(ur->br, 1);
}

static int arm_recv(struct ur *ur, struct fdslot *s, int fd)
{
    struct io_uring_sqe *sqe = get_sqe(ur);
    uint32_t a;

    if (!sqe)
        return -ENOMEM;
    a = new_arm(ur);
    if (ur->recv_poll) {
        io_uring_prep_poll_add(sqe, fd, POLLIN | POLLRDHUP);
        a |= ARM_RPOLL;
    } else {
        io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = RBUF_GROUP;
        a |= ARM_RECV;
    }
    io_uring_sqe_set_data64(sqe, (uint64_t)a << 32 | (uint32_t)fd);
    s->rarm = a;
    s->rcancel = false;
    s->rfin = ur->batch - 1;
    return 0;
}

/* Ask the kernel to end fd's recv request; its tag stays until its last
 * completion, so what it posts before that is still known. */
static void cancel_recv(struct ur *ur, struct fdslot *s, int fd)
{
    struct io_uring_sqe *sqe;

    if (!s->rarm || s->rcancel)
        return;
    if ((sqe = get_sqe(ur))) {
        io_uring_prep_cancel64(sqe, (uint64_t)s->rarm << 32 | (uint32_t)fd, 0);
        io_uring_sqe_set_data64(sqe, 0);
        ur->removes++;
    }
    s->rcancel = true;
}

static int ur_rstart(tw_loop *loop, tw_recv *r, struct fdslot *slot, bool fresh)
{
    struct ur *ur = loop->be;

    if (!ur->rbufs_tried && setup_rbufs(ur) < 0)
        ur->recv_poll = true;
    if (!fresh && slot->rarm)
        return 0; /* resumed before the paused request ended: its end re-arms */
    /* fresh: a request still there is an old receiver's (cancelled, or
     * never stopped: cancel it); its late data is dropped, the tag moves on */
    cancel_recv(ur, slot, r->fd);
    return arm_recv(ur, slot, r->fd);
}

static void ur_rstop(tw_loop *loop, tw_recv *r, struct fdslot *slot, enum tw__drop_how how)
{
    struct ur *ur = loop->be;

    if (!slot->rarm || slot->rcancel)
        return;
    cancel_recv(ur, slot, r->fd);
    /* A stop goes with the iteration's removals (or at once outside one,
     * as ur_drop: close() after it releases the socket). A pause goes at
     * once: the late data is then what was posted before it, at most the
     * ring's worth (the buffers not given back yet); waiting for the next
     * wait would let the kernel refill them at every syscall's return
     * (task work) till then. Pauses are rare (backpressure). */
    if (!loop->running || how == TW__DROP_KEEP) {
        io_uring_submit(&ur->ring);
        ur->removes = 0;
    }
}

/* A receiver's completion: data for the fd's receiver (also paused; none
 * if it was stopped), its EOF or error, or its request's end. Returns 1 if
 * a callback ran. */
static int recv_done(tw_loop *loop, struct ur *ur, const struct io_uring_cqe *c)
{
    uint32_t a = (uint32_t)(c->user_data >> 32);
    unsigned fd = (uint32_t)c->user_data;
    struct fdslot *s = fd < loop->nfds ? &loop->fds[fd] : NULL;
    bool current = s && s->rarm == a;
    tw_recv *r = current ? s->rcv : NULL;
    int res = c->res, ran = 0;

    if (current && !(c->flags & IORING_CQE_F_MORE)) {
        s->rarm = 0; /* the request is over */
        s->rcancel = false;
    }
    if ((a & ARM_KIND) == ARM_RPOLL) {
        /* readiness: recv() what is there; paused, it waits in the socket */
        if (r && r->on && res != -ECANCELED)
            ran = tw__recv_ready(loop, r, res > 0 && (res & (POLLRDHUP | POLLHUP)));
    } else if (res > 0) {
        /* (always a buffer with IOSQE_BUFFER_SELECT: never n > 0 at NULL) */
        unsigned bid = c->flags >> IORING_CQE_BUFFER_SHIFT;
        if (r && (c->flags & IORING_CQE_F_BUFFER)) {
            r->fin = s->rfin == ur->batch;
            r->cb(r, ur->bufs + (size_t)bid * ur->bufsz, res);
            ran = 1;
        }
        if (c->flags & IORING_CQE_F_BUFFER)
            give_back(ur, bid); /* late data of a stopped receiver: dropped */
    } else if (res == -ENOBUFS) {
        tw__loop_uring_enobufs++; /* re-armed below, with this batch's buffers back */
    } else if (res == -EINVAL && current && !ur->recv_poll) {
        ur->recv_poll = true; /* no multishot recv (before 6.0): readiness */
    } else if (res != -ECANCELED && r) {
        /* the EOF or an error: the last this receiver says */
        tw__recv_end(loop, r);
        r->fin = false;
        r->cb(r, NULL, res);
        ran = 1;
    }
    /* the receiver is on and its request is over: ask again (the callback
     * may have paused, stopped or freed it, and grown the table) */
    s = fd < loop->nfds ? &loop->fds[fd] : NULL;
    if (s && tw__rcv_on(s) && !s->rarm)
        arm_recv(ur, s, (int)fd);
    return ran;
}

/* Wait for at least one completion at most timeout_ms, submitting what the
 * last iteration queued in the same io_uring_enter. */
static int wait_cqes(struct ur *ur, int timeout_ms)
{
    struct io_uring_cqe *cqe;
    int r;

    if (timeout_ms < 0) {
        r = io_uring_submit_and_wait(&ur->ring, 1);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ms / 1000,
                                       .tv_nsec = (long long)(timeout_ms % 1000) * 1000000};
        r = io_uring_submit_and_wait_timeout(&ur->ring, &cqe, 1, &ts, NULL);
    }
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
        return r;
    return 0;
}

/* An accept's completion: a connection for the listener's acceptor (or
 * reset, if it has none now), or the request's end. Returns 1 if a
 * callback ran. */
static int accept_done(tw_loop *loop, struct ur *ur, const struct io_uring_cqe *c)
{
    uint32_t a = (uint32_t)(c->user_data >> 32);
    unsigned fd = (uint32_t)c->user_data;
    struct fdslot *s = fd < loop->nfds ? &loop->fds[fd] : NULL;
    tw_accept *acc = s ? s->acc : NULL;
    bool current = s && s->arm == a;
    int res = c->res, ran = 0;

    if (current && !(c->flags & IORING_CQE_F_MORE))
        s->arm = 0; /* the request is over */
    if (res >= 0) {
        if (acc) {
            acc->cb(acc, res);
            ran = 1;
        } else {
            tw__accept_reject(res);
        }
    } else if (!current) {
        return 0; /* an old request's end */
    } else if (res == -EINVAL && !ur->single_accept) {
        ur->single_accept = true; /* before 5.19: one accept a request */
    } else if (res != -ECANCELED && !tw__accept_transient(-res) && acc) {
        acc->cb(acc, res); /* EMFILE...: the callback pauses */
        ran = 1;
    }
    /* the listener's acceptor still accepts and has no request: ask again
     * (the callback may have paused, closed or freed it, and grown the
     * table) */
    s = fd < loop->nfds ? &loop->fds[fd] : NULL;
    if (s && s->acc && s->io == &s->acc->io && s->acc->io.events && !s->arm)
        arm_accept(ur, s, (int)fd);
    return ran;
}

static int ur_poll(tw_loop *loop, int timeout_ms)
{
    struct ur *ur = loop->be;
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    int ran = 0, r;

    ur->removes = 0; /* the wait submits them */
    if ((r = wait_cqes(ur, timeout_ms)) < 0)
        return r;
    loop->now = tw_now_ms();
    ur->batch++;
    /* copy the batch out: the callbacks may make the kernel post more */
    io_uring_for_each_cqe(&ur->ring, head, cqe) {
        uint32_t a = (uint32_t)(cqe->user_data >> 32);
        unsigned fd = (uint32_t)cqe->user_data;
        ur->cqes[n++] = *cqe;
        /* a receiver's EOF in the batch: the data before it has r->fin */
        if ((a & ARM_KIND) == ARM_RECV && cqe->res == 0 && fd < loop->nfds &&
            loop->fds[fd].rarm == a)
            loop->fds[fd].rfin = ur->batch;
        if (n == BATCH)
            break;
    }
    io_uring_cq_advance(&ur->ring, n);

    for (unsigned i = 0; i < n; i++) {
        const struct io_uring_cqe *c = &ur->cqes[i];
        uint32_t a = (uint32_t)(c->user_data >> 32), gen;
        unsigned fd = (uint32_t)c->user_data, ev = 0;
        struct fdslot *s;
        bool multi, failed = false;
        tw_io *io;

        if (!a)
            continue; /* a POLL_REMOVE's or a cancel's own completion */
        if ((a & ARM_KIND) == ARM_ACCEPT) {
            ran += accept_done(loop, ur, c);
            continue;
        }
        if (a & ARM_KIND) {
            ran += recv_done(loop, ur, c);
            continue;
        }
        if (fd >= loop->nfds)
            continue; /* stale */
        s = &loop->fds[fd];
        if (!(io = s->io) || s->arm != a)
            continue; /* stale: stopped, changed or reused since */
        multi = s->multi;
        if (!(c->flags & IORING_CQE_F_MORE))
            s->arm = 0; /* the request is over */
        if (c->res >= 0) {
            uint32_t m = (uint32_t)c->res;
            if (!(io->events & TW_IO_RDHUP))
                m &= ~(uint32_t)POLLRDHUP; /* reported unasked */
            m &= to_poll(io->events) | POLLERR | POLLHUP;
            ev = tw__loop_events(io, m);
        } else if (c->res != -ECANCELED) {
            ev = TW_IO_ERROR | (io->events & (TW_IO_READ | TW_IO_WRITE));
            failed = true;
        }
        gen = s->gen;
        if (ev) {
            io->cb(io, ev);
            ran++;
            s = &loop->fds[fd]; /* the callback may have grown the table */
            if (s->io != io || s->gen != gen)
                continue; /* stopped (maybe freed) or replaced */
        }
        if (failed || !io->events)
            continue;
        if (io->events & TW_IO_EDGE) {
            if (!s->arm)
                arm(ur, s, (int)fd, io->events, true);
        } else if (multi && ev && s->arm) {
            /* parked and reporting again: back to single-shot */
            disarm(ur, s, (int)fd);
            arm(ur, s, (int)fd, io->events, false);
        } else if (!s->arm) {
            /* level: ask again; park when it had nothing to report */
            arm(ur, s, (int)fd, io->events, !ev && c->res >= 0);
        }
    }
    return ran;
}

/* An iteration that dropped watchers (closed sockets) submits the removals
 * before it returns: the caller may not run the loop again (tw_loop_run
 * returns when nothing is left), and the sockets must be released now.
 * Re-arms wait for the next wait. */
static void ur_end(tw_loop *loop)
{
    struct ur *ur = loop->be;

    if (ur->removes) {
        io_uring_submit(&ur->ring);
        ur->removes = 0;
    }
}

const struct tw__loop_ops tw__loop_uring = {
    .name = "io_uring",
    .init = ur_init,
    .fini = ur_fini,
    .start = ur_start,
    .drop = ur_drop,
    .poll = ur_poll,
    .end = ur_end,
    .rstart = ur_rstart,
    .rstop = ur_rstop,
};
