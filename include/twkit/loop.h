/* The twkit event loop: one loop per thread, on epoll or io_uring.
 *
 * Three kinds of handle, all embedded in the caller's own structs (the loop
 * allocates nothing per handle):
 *   tw_io     a file descriptor watcher;
 *   tw_timer  a one-shot timer on a hierarchical timer wheel (O(1) start and
 *             stop, millisecond resolution, CLOCK_MONOTONIC, wrap-safe);
 *   tw_defer  a callback run once after the current batch of events.
 *
 * Closing from inside a callback is safe: stop the watcher (tw_io_stop or
 * tw_io_close) and free the object; the loop never touches a handle after its
 * callback returns, and an event that epoll reported in the same batch for a
 * descriptor that has been stopped since is dropped, also when the descriptor
 * number has been reused by a new watcher in the meantime (every start gets
 * a new generation, and what the kernel reports carries its tag).
 *
 * Two more, tw_accept and tw_recv, take a listener's connections and a
 * socket's bytes with one multishot request each on io_uring.
 *
 * Backends: epoll (the default), or io_uring (poll requests, multishot
 * accepts and receives, every change of an iteration submitted with the wait in one
 * io_uring_enter), chosen
 * when the loop is made: tw_loop_new_backend(), or for tw_loop_new() the
 * environment variable TWKIT_LOOP=epoll|io_uring. Where io_uring cannot be
 * had (an old kernel, seccomp, kernel.io_uring_disabled) the loop is epoll,
 * as tw_loop_backend() says. The semantics are the same but for one thing:
 * on io_uring, tw_io_start cannot see a bad descriptor (EBADF) or one the
 * kernel cannot poll: the callback gets TW_IO_ERROR for it once instead.
 *
 * A loop is not thread-safe: use it from the thread that runs it.
 */
#ifndef TWKIT_LOOP_H
#define TWKIT_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "twkit/list.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_loop tw_loop;
typedef struct tw_io tw_io;
typedef struct tw_timer tw_timer;
typedef struct tw_defer tw_defer;

/* Event bits for tw_io. */
enum {
    TW_IO_READ = 1u << 0,
    TW_IO_WRITE = 1u << 1,
    TW_IO_ERROR = 1u << 2, /* EPOLLERR or EPOLLHUP: always reported */
    TW_IO_RDHUP = 1u << 3, /* the peer shut down its writing side */
    TW_IO_EDGE = 1u << 4,  /* edge-triggered (only as a request flag) */
};

typedef void (*tw_io_cb)(tw_io *io, unsigned events);
typedef void (*tw_timer_cb)(tw_timer *t);
typedef void (*tw_defer_cb)(tw_defer *d);

struct tw_io {
    int fd;
    unsigned events;   /* requested TW_IO_* bits; 0 when stopped */
    uint32_t gen;      /* generation of the current registration */
    tw_loop *loop;     /* set while started */
    tw_io_cb cb;
    void *data;
};

struct tw_timer {
    struct tw_list link;
    uint64_t expire;   /* absolute, in the loop's milliseconds */
    uint16_t slot;     /* where it sits in the wheel (internal) */
    bool active;
    void *wheel;       /* internal */
    tw_timer_cb cb;
    void *data;
};

struct tw_defer {
    struct tw_list link;
    bool queued;
    tw_loop *loop;
    tw_defer_cb cb;
    void *data;
};

typedef enum tw_loop_kind {
    TW_LOOP_DEFAULT = 0,  /* TWKIT_LOOP, else epoll */
    TW_LOOP_EPOLL = 1,
    TW_LOOP_IO_URING = 2, /* epoll where io_uring cannot be had */
} tw_loop_kind;

/* Create and free a loop. tw_loop_new is tw_loop_new_backend(out,
 * TW_LOOP_DEFAULT); both return 0 or -errno (-EINVAL for an unknown kind).
 * Freeing a loop with started handles leaves the handles' descriptors open
 * (they are the caller's). */
int tw_loop_new(tw_loop **out);
int tw_loop_new_backend(tw_loop **out, tw_loop_kind kind);
void tw_loop_free(tw_loop *loop);

/* "epoll" or "io_uring": the backend the loop runs on. */
const char *tw_loop_backend(const tw_loop *loop);

/* Run until tw_loop_stop() or until nothing is started (no io, timer or
 * defer). Returns 0, or -errno if the wait fails. */
int tw_loop_run(tw_loop *loop);

/* One iteration: wait at most timeout_ms (-1: as long as the next timer
 * allows; 0: do not wait), dispatch I/O, timers and deferred callbacks.
 * Returns the number of callbacks run, or -errno. */
int tw_loop_run_once(tw_loop *loop, int timeout_ms);

/* Make tw_loop_run return after the current iteration. */
void tw_loop_stop(tw_loop *loop);

/* The loop's cached time (CLOCK_MONOTONIC ms), updated after each wait,
 * again before the timers run when there was I/O, and by
 * tw_loop_update_time(). */
uint64_t tw_loop_now(const tw_loop *loop);
void tw_loop_update_time(tw_loop *loop);

/* Number of started handles (io + timers + defers). */
unsigned tw_loop_active(const tw_loop *loop);

/* I/O watchers. tw_io_init sets fields and does not touch the loop.
 * tw_io_start registers or changes the requested events (TW_IO_READ |
 * TW_IO_WRITE, optionally | TW_IO_EDGE; or TW_IO_ERROR alone: only errors
 * and hangups, for a descriptor that must not be read now but whose peer's
 * RST must still be heard); returns 0 or -errno (-EBADF, -EINVAL,
 * -ENOMEM, ...). tw_io_stop deregisters (no-op if stopped). tw_io_forget
 * stops without a syscall, for a descriptor the caller closes (or has just
 * closed) and never dup'ed: close() removes it from epoll (io_uring: its
 * poll request is removed with the next wait). tw_io_close
 * forgets and closes the descriptor, leaving io->fd = -1. tw_io_hand_over
 * stops without deregistering, for a descriptor that another watcher will
 * start next: that start takes the registration with one EPOLL_CTL_MOD
 * instead of DEL + ADD (unclaimed, it is removed at its first event; on
 * io_uring both are requests in the next submission anyway). */
void tw_io_init(tw_io *io, int fd, tw_io_cb cb, void *data);
int tw_io_start(tw_loop *loop, tw_io *io, unsigned events);
void tw_io_stop(tw_io *io);
void tw_io_forget(tw_io *io);
void tw_io_hand_over(tw_io *io);
void tw_io_close(tw_io *io);
static inline bool tw_io_active(const tw_io *io) { return io->events != 0; }

/* Acceptors: a listening socket's new connections, each handed to the
 * callback as a non-blocking, close-on-exec descriptor it then owns.
 * On epoll: readiness, then accept4() (at most 64 a wakeup); on io_uring:
 * one multishot IORING_OP_ACCEPT (Linux 5.19; single-shot accepts before),
 * the kernel accepting as connections come, with no system call each.
 *
 * cb(a, fd): fd >= 0, a new connection; fd < 0, an -errno that is not the
 * client's (a client gone before its accept is skipped): -EMFILE, -ENFILE,
 * -ENOBUFS, -ENOMEM..., after which the callback should pause, else it is
 * called again at the next wakeup.
 * tw_accept_start starts or resumes (0 or -errno); tw_accept_pause asks for
 * no more. On io_uring the kernel may have accepted a few connections
 * before the pause reached it: they still come to the callback, so the
 * acceptor must stay valid until tw_accept_close. tw_accept_close stops
 * for good and closes the listening descriptor; a connection the kernel
 * accepted after it is reset by the loop (SO_LINGER 0, as the kernel resets
 * what waits in a closed listener's queue), and the acceptor may be freed
 * at once. Since TWKIT_0.3. */
typedef struct tw_accept tw_accept;
typedef void (*tw_accept_cb)(tw_accept *a, int fd);
struct tw_accept {
    tw_io io;       /* the listener's watcher (internal) */
    tw_loop *loop;  /* set by tw_accept_start */
    tw_accept_cb cb;
    void *data;
};
void tw_accept_init(tw_accept *a, int lfd, tw_accept_cb cb, void *data);
int tw_accept_start(tw_loop *loop, tw_accept *a);
void tw_accept_pause(tw_accept *a);
void tw_accept_close(tw_accept *a);
static inline bool tw_accept_active(const tw_accept *a) { return a->io.events != 0; }

/* Receivers: a connected socket's incoming bytes, handed to the callback
 * in a buffer the loop owns. On epoll: readiness, then recv() into the
 * loop's 64 KiB buffer, at most 8 a wakeup (level-triggered: data left
 * comes at the next wakeup); on io_uring: one multishot IORING_OP_RECV
 * from a ring of provided buffers (Linux 6.0), the kernel receiving as
 * data comes, with no system call each (readiness and recv() where the
 * kernel refuses buffer rings or multishot receives).
 *
 * cb(r, buf, n): n > 0, n bytes at buf, the callback's to read (and
 * change) until it returns, when the buffer goes back to the loop; n == 0,
 * the peer's FIN (every byte before it was delivered); n < 0, an -errno
 * (-ECONNRESET...). After n <= 0 the receiver is stopped: it delivers
 * nothing more. r->fin is true in a callback with data when the peer's FIN
 * is known to follow it (the EOF comes next, in the same batch).
 * tw_recv_start starts or resumes (0 or -errno: -EINVAL, -ENOMEM...;
 * -EINVAL too for a descriptor with a TW_IO_EDGE watcher: the receiver
 * shares epoll's registration, and is level-triggered). tw_recv_pause
 * asks for no more; on io_uring the kernel may have received data before
 * the pause reached it: it still comes to the callback (nothing is lost;
 * at most the provided buffers' worth), so the receiver must stay valid
 * and the caller must take data after pausing. tw_recv_stop stops for
 * good, for a descriptor the caller closes (or has just closed): what the
 * kernel received after it is dropped, and the receiver may be freed at
 * once; like tw_io_forget it costs no syscall on epoll, and on io_uring
 * the request (which holds the file, like a poll) is cancelled with the
 * next wait, or at once outside the loop's iteration, so close() then
 * releases the socket. tw_recv_close stops and closes the descriptor,
 * leaving r->fd = -1. A descriptor may have a receiver and a tw_io watcher
 * (TW_IO_WRITE, TW_IO_ERROR) at once; stop both before closing it.
 * Since TWKIT_0.4. */
typedef struct tw_recv tw_recv;
typedef void (*tw_recv_cb)(tw_recv *r, void *buf, ssize_t n);
struct tw_recv {
    int fd;
    bool on;        /* started and not paused */
    bool fin;       /* in the callback: the peer's FIN follows this data */
    uint32_t gen;   /* internal */
    tw_loop *loop;  /* set by tw_recv_start */
    tw_recv_cb cb;
    void *data;
};
void tw_recv_init(tw_recv *r, int fd, tw_recv_cb cb, void *data);
int tw_recv_start(tw_loop *loop, tw_recv *r);
void tw_recv_pause(tw_recv *r);
void tw_recv_stop(tw_recv *r);
void tw_recv_close(tw_recv *r);
static inline bool tw_recv_active(const tw_recv *r) { return r->on; }

/* Timers: one-shot; start on an active timer re-arms it. after_ms is
 * relative to tw_loop_now(). Returns 0 or -EINVAL. */
void tw_timer_init(tw_timer *t, tw_timer_cb cb, void *data);
int tw_timer_start(tw_loop *loop, tw_timer *t, uint64_t after_ms);
void tw_timer_stop(tw_timer *t);
static inline bool tw_timer_active(const tw_timer *t) { return t->active; }

/* Deferred callbacks: run once, after the current batch of I/O events and
 * timers; a defer posted from a deferred callback runs in the next iteration.
 * Posting a queued defer is a no-op. */
void tw_defer_init(tw_defer *d, tw_defer_cb cb, void *data);
void tw_defer_post(tw_loop *loop, tw_defer *d);
void tw_defer_cancel(tw_defer *d);

#ifdef __cplusplus
}
#endif

#endif
