/* The loop's inside, shared by the backend-independent part (loop.c: fd
 * table, generations, timers, defers, running) and the backends behind a
 * small ops table: loop_epoll.c and loop_uring.c. */
#ifndef TW_EVENT_LOOP_INT_H
#define TW_EVENT_LOOP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "event/wheel.h"
#include "twkit/loop.h"

struct fdslot {
    tw_io *io;
    uint32_t gen;
    bool kept;     /* epoll: registered, owned by no watcher (tw_io_hand_over) */
    bool multi;    /* io_uring: the armed poll is multishot */
    uint32_t arm;  /* io_uring: tag of the armed poll request, 0 if none */
    tw_accept *acc; /* the acceptor of this listener, also while paused */
    /* Receivers. slot->gen is the registration's generation: shared by the
     * watcher and the receiver of one descriptor (epoll has one
     * registration for both). */
    tw_recv *rcv;   /* the receiver of this fd, also while paused (late data) */
    uint32_t rgen;  /* rcv->gen when rcv was started here */
    uint32_t rarm;  /* io_uring: the tag of the live recv request (armed, or
                       cancelled and not ended yet), 0 if none */
    uint32_t rfin;  /* io_uring: the batch that holds rarm's EOF */
    bool rcancel;   /* io_uring: rarm's request has been cancelled */
    bool rleft;     /* epoll: registered by a receiver that stopped or ended
                       with no watcher beside it: the fd is most likely
                       closed (which removed it), else its first event
                       removes it */
};

/* The fd's receiver is started (not paused, not ended). */
static inline bool tw__rcv_on(const struct fdslot *s) { return s->rcv && s->rcv->on; }

/* io->events of an acceptor's watcher (never a caller's bit): the backend
 * accepts rather than polls (io_uring), or polls for accept_ready (epoll) */
#define TW__IO_ACCEPT (1u << 15)

enum tw__drop_how { TW__DROP_DEL, TW__DROP_FORGET, TW__DROP_KEEP };

struct tw__loop_ops {
    const char *name;
    int (*init)(tw_loop *loop);
    void (*fini)(tw_loop *loop);
    /* Register (fresh) or change a watcher; slot is loop->fds[io->fd], still
     * holding the previous owner; io->events holds the old events. */
    int (*start)(tw_loop *loop, tw_io *io, struct fdslot *slot, bool fresh, unsigned events);
    /* Before the slot is cleared; slot is NULL when io no longer owns it. */
    void (*drop)(tw_loop *loop, tw_io *io, struct fdslot *slot, enum tw__drop_how how);
    /* Wait at most timeout_ms (-1: forever), update loop->now, run the I/O
     * callbacks; returns how many ran, or -errno. */
    int (*poll)(tw_loop *loop, int timeout_ms);
    /* At the end of an iteration (NULL: nothing to do). */
    void (*end)(tw_loop *loop);
    /* Receivers: start (slot->rcv == r, r->on already set; fresh: a new
     * receiver on the slot, else a resume), and stop asking (r->on already
     * clear): TW__DROP_KEEP for a pause (late data still wanted),
     * TW__DROP_FORGET for a stop (slot->rcv is cleared after). */
    int (*rstart)(tw_loop *loop, tw_recv *r, struct fdslot *slot, bool fresh);
    void (*rstop)(tw_loop *loop, tw_recv *r, struct fdslot *slot, enum tw__drop_how how);
};

struct tw_loop {
    const struct tw__loop_ops *ops;
    void *be; /* the backend's state */
    bool stop;
    bool running; /* inside tw_loop_run_once: the next wait comes soon */
    uint64_t now;
    uint32_t next_gen;
    unsigned nio, ndefer;
    struct fdslot *fds;
    unsigned nfds;
    struct tw_list defers;
    struct tw__wheel wheel;
    unsigned char *rbuf; /* readiness receiving's buffer (lazily made) */
};

extern const struct tw__loop_ops tw__loop_epoll;
extern const struct tw__loop_ops tw__loop_uring; /* its init fails without io_uring */

/* Test hook: when set, the io_uring backend's init fails with this -errno
 * as io_uring_queue_init would (ENOSYS, EPERM), so the fallback is tested. */
extern int tw__loop_uring_fail;
/* Test hooks of the io_uring receivers: no buffer ring (readiness
 * receiving, as on a kernel without one); the ring's buffer count (a power
 * of 2) and size for loops made after (0: the defaults); how many times a
 * recv request ran the ring dry (-ENOBUFS) and was re-armed. */
extern int tw__loop_uring_norecv;
extern unsigned tw__loop_uring_rbufs, tw__loop_uring_rbuf_size;
extern unsigned long tw__loop_uring_enobufs;

/* accept4's errors that are the client's (gone before its accept, a
 * network error of its own): skipped, as accept(2) says to. */
bool tw__accept_transient(int err);
/* A connection accepted for no acceptor: reset, not closed with a FIN. */
void tw__accept_reject(int fd);

/* Readiness receiving (epoll, and io_uring without provided buffers): up to
 * RECVS_PER_WAKEUP recv() into the loop's buffer, handed to r's callback;
 * on past a short read when fin (the peer's FIN is in: reach the EOF now).
 * Returns 1 if a callback ran. */
int tw__recv_ready(tw_loop *loop, tw_recv *r, bool fin);
/* The receiver delivered its EOF or error: it is stopped. */
void tw__recv_end(tw_loop *loop, tw_recv *r);

/* TW_IO_* bits for a watcher from an epoll/poll mask (the values agree). */
unsigned tw__loop_events(const tw_io *io, uint32_t mask);

#endif
