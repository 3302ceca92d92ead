#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "event/loop_int.h"
#include "twkit/loop.h"
#include "twkit/time.h"

/* Every case runs twice: suite loop on epoll, suite loop_uring on io_uring
 * (skipped, saying so, where the kernel refuses io_uring). */
static tw_loop *loop;

static void setup(void)
{
    cr_assert_eq(tw_loop_new_backend(&loop, TW_LOOP_EPOLL), 0);
    cr_assert_str_eq(tw_loop_backend(loop), "epoll");
}
static void setup_uring(void)
{
    cr_assert_eq(tw_loop_new_backend(&loop, TW_LOOP_IO_URING), 0);
    if (strcmp(tw_loop_backend(loop), "io_uring"))
        cr_skip_test("io_uring is not available here: the loop fell back to %s",
                     tw_loop_backend(loop));
}
static void teardown(void) { tw_loop_free(loop); }

TestSuite(loop, .init = setup, .fini = teardown, .timeout = 20);
TestSuite(loop_uring, .init = setup_uring, .fini = teardown, .timeout = 20);

#define LOOP_TEST(name)                                                                        \
    static void name##_body(void);                                                             \
    Test(loop, name) { name##_body(); }                                                        \
    Test(loop_uring, name) { name##_body(); }                                                  \
    static void name##_body(void)

static bool on_uring(void) { return !strcmp(tw_loop_backend(loop), "io_uring"); }

/* ---- stale events: fd closed and reused within one epoll batch ---- */

static tw_io io_a, io_b, io_new;
static int calls_a, calls_b, calls_new, reused_fd = -1;

static void on_new(tw_io *io, unsigned ev) { calls_new++; }

/* Whichever of a/b runs first closes the other's fd and reopens the number
 * with a readable eventfd owned by a new watcher. */
static void close_other(tw_io *self, tw_io *other)
{
    int old = other->fd, efd;

    tw_io_close(other);
    efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert_eq(efd, old, "the eventfd should reuse the closed number");
    reused_fd = efd;
    tw_io_init(&io_new, efd, on_new, NULL);
    cr_assert_eq(tw_io_start(loop, &io_new, TW_IO_READ), 0);
}

static void on_a(tw_io *io, unsigned ev)
{
    calls_a++;
    if (!calls_b && reused_fd < 0)
        close_other(io, &io_b);
}

static void on_b(tw_io *io, unsigned ev)
{
    calls_b++;
    if (!calls_a && reused_fd < 0)
        close_other(io, &io_a);
}

LOOP_TEST(stale_event_never_reaches_new_owner_of_fd)
{
    int pa[2], pb[2];

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pa), 0);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pb), 0);
    cr_assert_eq(write(pa[1], "x", 1), 1);
    cr_assert_eq(write(pb[1], "x", 1), 1);
    tw_io_init(&io_a, pa[0], on_a, NULL);
    tw_io_init(&io_b, pb[0], on_b, NULL);
    cr_assert_eq(tw_io_start(loop, &io_a, TW_IO_READ), 0);
    cr_assert_eq(tw_io_start(loop, &io_b, TW_IO_READ), 0);

    cr_assert_eq(tw_loop_run_once(loop, 1000), 1); /* one of the two ran */
    cr_assert_eq(calls_a + calls_b, 1);
    cr_assert_eq(calls_new, 0, "an event of the closed fd reached its new owner");
    /* the new owner's own readiness arrives in the next batch */
    tw_loop_run_once(loop, 1000);
    cr_assert_eq(calls_new, 1);
    cr_assert_eq(calls_a + calls_b, 2);
    tw_io_close(&io_new);
    tw_io_close(calls_a == 2 ? &io_a : &io_b);
    close(pa[1]);
    close(pb[1]);
    cr_assert_eq(tw_loop_active(loop), 0);
}

/* ---- closing and freeing from inside the callback ---- */

struct conn {
    tw_io io;
    tw_timer timer;
    int *closed;
};

static void conn_timer(tw_timer *t) { cr_assert_fail("timer of a freed conn fired"); }

static void conn_read(tw_io *io, unsigned ev)
{
    struct conn *c = io->data;
    (*c->closed)++;
    tw_timer_stop(&c->timer);
    tw_io_close(&c->io);
    free(c);
}

LOOP_TEST(close_and_free_inside_own_callback)
{
    int closed = 0, peers[8];

    for (int i = 0; i < 8; i++) {
        int sv[2];
        struct conn *c = calloc(1, sizeof(*c));
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        c->closed = &closed;
        tw_io_init(&c->io, sv[0], conn_read, c);
        tw_timer_init(&c->timer, conn_timer, c);
        cr_assert_eq(tw_io_start(loop, &c->io, TW_IO_READ | TW_IO_WRITE), 0);
        tw_timer_start(loop, &c->timer, 50);
        peers[i] = sv[1];
    }
    cr_assert_eq(tw_loop_run(loop), 0); /* returns when nothing is left */
    cr_assert_eq(closed, 8);
    cr_assert_eq(tw_loop_active(loop), 0);
    for (int i = 0; i < 8; i++)
        close(peers[i]);
}

/* ---- timers on the loop ---- */

static uint64_t fired_at[3];
static int nfired;

static void on_timer(tw_timer *t)
{
    fired_at[(intptr_t)t->data] = tw_loop_now(loop);
    nfired++;
}

LOOP_TEST(timers_fire_in_order_not_early)
{
    tw_timer t[3];
    static const uint64_t after[3] = {30, 10, 20};
    uint64_t start;

    tw_loop_update_time(loop);
    start = tw_loop_now(loop);
    for (intptr_t i = 0; i < 3; i++) {
        tw_timer_init(&t[i], on_timer, (void *)i);
        cr_assert_eq(tw_timer_start(loop, &t[i], after[i]), 0);
    }
    cr_assert_eq(tw_loop_run(loop), 0);
    cr_assert_eq(nfired, 3);
    for (int i = 0; i < 3; i++)
        cr_assert_geq(fired_at[i] - start, after[i], "timer %d early", i);
    cr_assert_lt(fired_at[1], fired_at[2]);
    cr_assert_lt(fired_at[2], fired_at[0]);
}

LOOP_TEST(timer_restart_and_stop)
{
    tw_timer t;

    tw_timer_init(&t, on_timer, (void *)0);
    tw_timer_start(loop, &t, 1000);
    tw_timer_start(loop, &t, 5); /* re-arm replaces */
    cr_assert_eq(tw_loop_active(loop), 1);
    tw_loop_run(loop);
    cr_assert_eq(nfired, 1);
    tw_timer_start(loop, &t, 5);
    tw_timer_stop(&t);
    cr_assert(!tw_timer_active(&t));
    cr_assert_eq(tw_loop_active(loop), 0);
    cr_assert_eq(tw_timer_start(NULL, &t, 1), -EINVAL);
}

/* ---- deferred callbacks ---- */

static tw_defer d1, d2;
static int order[4], norder;

static void on_d2(tw_defer *d) { order[norder++] = 2; }
static void on_d1(tw_defer *d)
{
    order[norder++] = 1;
    tw_defer_post(loop, &d2); /* runs in the next iteration */
}

LOOP_TEST(defers_run_once_after_the_batch)
{
    tw_defer_init(&d1, on_d1, NULL);
    tw_defer_init(&d2, on_d2, NULL);
    tw_defer_post(loop, &d1);
    tw_defer_post(loop, &d1); /* no-op */
    cr_assert_eq(tw_loop_run_once(loop, 1000), 1);
    cr_assert_eq(norder, 1);
    cr_assert_eq(tw_loop_run_once(loop, 1000), 1);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[1], 2);
    tw_defer_post(loop, &d2);
    tw_defer_cancel(&d2);
    cr_assert_eq(tw_loop_active(loop), 0);
}

static unsigned err_seen;
static void on_bad(tw_io *io, unsigned ev)
{
    calls_new++;
    err_seen = ev;
}

LOOP_TEST(bad_arguments)
{
    tw_io io;

    tw_io_init(&io, -1, on_new, NULL);
    cr_assert_eq(tw_io_start(loop, &io, TW_IO_READ), -EINVAL);
    tw_io_init(&io, 12345, on_new, NULL);
    if (!on_uring()) {
        cr_assert_eq(tw_io_start(loop, &io, TW_IO_READ), -EBADF);
    } else { /* io_uring: the failed poll reaches the callback once */
        calls_new = 0;
        err_seen = 0;
        io.cb = on_bad;
        cr_assert_eq(tw_io_start(loop, &io, TW_IO_READ), 0);
        tw_loop_run_once(loop, 100);
        cr_assert_eq(calls_new, 1);
        cr_assert_eq(err_seen, TW_IO_ERROR | TW_IO_READ);
        tw_loop_run_once(loop, 20); /* and not again */
        cr_assert_eq(calls_new, 1);
        tw_io_stop(&io);
    }
    tw_io_init(&io, 0, on_new, NULL);
    cr_assert_eq(tw_io_start(loop, &io, 0), -EINVAL);
    cr_assert_eq(tw_loop_new(NULL), -EINVAL);
    cr_assert_eq(tw_loop_run(NULL), -EINVAL);
    tw_io_stop(&io); /* stopping a stopped watcher is fine */
}

/* ---- handing a registration over, forgetting one ---- */

static int calls_old;
static void on_old(tw_io *io, unsigned ev) { calls_old++; }

LOOP_TEST(a_handed_over_fd_is_taken_by_the_next_watcher)
{
    int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    tw_io a, b;

    calls_old = calls_new = 0;
    tw_io_init(&a, efd, on_old, NULL);
    cr_assert_eq(tw_io_start(loop, &a, TW_IO_WRITE), 0);
    tw_io_hand_over(&a);
    tw_io_init(&b, efd, on_new, NULL);
    cr_assert_eq(tw_io_start(loop, &b, TW_IO_READ), 0);
    tw_loop_run_once(loop, 100);
    cr_assert_eq(calls_old, 0);
    cr_assert_eq(calls_new, 1);
    tw_io_close(&b);
}

LOOP_TEST(an_unclaimed_handed_over_fd_is_removed_at_its_first_event)
{
    int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC); /* always readable */
    tw_io a;
    uint64_t t0;

    calls_old = 0;
    tw_io_init(&a, efd, on_old, NULL);
    cr_assert_eq(tw_io_start(loop, &a, TW_IO_READ), 0);
    tw_io_hand_over(&a);
    tw_loop_run_once(loop, 100); /* the stale event: the registration goes */
    t0 = tw_now_ms();
    tw_loop_run_once(loop, 100); /* nothing left to report: it waits */
    cr_assert_geq(tw_now_ms() - t0, 50, "a readable fd nobody watches still wakes the loop");
    cr_assert_eq(calls_old, 0);
    close(efd);
}

LOOP_TEST(a_forgotten_and_closed_number_can_be_watched_again)
{
    int efd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC), again;
    tw_io a, b;

    calls_new = 0;
    tw_io_init(&a, efd, on_old, NULL);
    cr_assert_eq(tw_io_start(loop, &a, TW_IO_READ), 0);
    tw_io_hand_over(&a); /* kept, then closed: the number comes back */
    close(efd);
    again = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert_eq(again, efd);
    tw_io_init(&b, again, on_new, NULL);
    cr_assert_eq(tw_io_start(loop, &b, TW_IO_READ), 0); /* MOD fails, ADD works */
    tw_loop_run_once(loop, 100);
    cr_assert_eq(calls_new, 1);
    tw_io_close(&b);
}

/* TW_IO_ERROR alone: a watcher not reading hears its peer's RST, and
 * nothing else (data and a FIN do not wake it). */
static unsigned err_events;
static int err_calls;
static void on_err(tw_io *io, unsigned ev)
{
    err_calls++;
    err_events |= ev;
}

LOOP_TEST(an_error_only_watcher_hears_a_reset_and_nothing_else)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    struct linger lg = {1, 0};
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), s;
    tw_io io;

    cr_assert(l >= 0 && c >= 0);
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(l, 1), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_geq(s = accept(l, NULL, NULL), 0);
    tw_io_init(&io, s, on_err, NULL);
    cr_assert_eq(tw_io_start(loop, &io, TW_IO_ERROR), 0);
    cr_assert_eq(write(c, "x", 1), 1);
    shutdown(c, SHUT_WR);
    for (int i = 0; i < 5; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_eq(err_calls, 0, "woken by data or a FIN: events %#x", err_events);
    setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(c);
    for (int i = 0; i < 50 && !err_calls; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_geq(err_calls, 1, "the RST was not heard");
    cr_assert(err_events & TW_IO_ERROR, "events %#x", err_events);
    tw_io_close(&io);
    close(l);
}

/* ---- level and edge ---- */

static int lvl_calls;
static void on_lvl(tw_io *io, unsigned ev) { lvl_calls++; }

/* Data left unread is reported again in every iteration (level), once
 * until more arrives with TW_IO_EDGE. */
LOOP_TEST(level_reports_again_edge_once)
{
    int sv[2];
    tw_io lv, ed;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(write(sv[1], "ab", 2), 2);
    lvl_calls = 0;
    tw_io_init(&lv, sv[0], on_lvl, NULL);
    cr_assert_eq(tw_io_start(loop, &lv, TW_IO_READ), 0);
    for (int i = 0; i < 3; i++)
        tw_loop_run_once(loop, 100);
    cr_assert_eq(lvl_calls, 3);
    tw_io_stop(&lv);

    lvl_calls = 0;
    tw_io_init(&ed, sv[0], on_lvl, NULL);
    cr_assert_eq(tw_io_start(loop, &ed, TW_IO_READ | TW_IO_EDGE), 0);
    for (int i = 0; i < 3; i++)
        tw_loop_run_once(loop, 20);
    cr_assert_eq(lvl_calls, 1);
    cr_assert_eq(write(sv[1], "c", 1), 1);
    tw_loop_run_once(loop, 100);
    cr_assert_eq(lvl_calls, 2);
    /* a change of events takes effect: now writable, level */
    cr_assert_eq(tw_io_start(loop, &ed, TW_IO_WRITE), 0);
    lvl_calls = 0;
    tw_loop_run_once(loop, 100);
    tw_loop_run_once(loop, 100);
    cr_assert_eq(lvl_calls, 2);
    tw_io_close(&ed);
    close(sv[1]);
    cr_assert_eq(tw_loop_active(loop), 0);
}

/* A forgotten watcher's descriptor, closed, is really closed: the peer
 * sees EOF (io_uring's poll request holds the file until it is removed). */
LOOP_TEST(a_forgotten_closed_socket_reaches_its_peer)
{
    int sv[2];
    char c;
    tw_io io;

    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    tw_io_init(&io, sv[0], on_lvl, NULL);
    cr_assert_eq(tw_io_start(loop, &io, TW_IO_READ), 0);
    tw_loop_run_once(loop, 0);
    tw_io_close(&io); /* outside an iteration: no loop runs after it */
    cr_assert_eq(read(sv[1], &c, 1), 0, "the peer did not see the close");
    close(sv[1]);
}

/* ---- acceptors ---- */

struct acc_log {
    int fds[16];
    int n, errs, last_err;
    int pause_at; /* pause from the callback at this count (0: never) */
};

static void on_acc(tw_accept *a, int fd)
{
    struct acc_log *l = a->data;

    if (fd < 0) {
        l->errs++;
        l->last_err = fd;
        tw_accept_pause(a);
        return;
    }
    cr_assert_lt(l->n, 16);
    l->fds[l->n++] = fd;
    if (l->pause_at && l->n == l->pause_at)
        tw_accept_pause(a);
}

static int acc_listener(struct sockaddr_in *sin)
{
    socklen_t len = sizeof(*sin);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    cr_assert_geq(lfd, 0);
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)sin, sizeof(*sin)), 0);
    cr_assert_eq(listen(lfd, 64), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)sin, &len), 0);
    return lfd;
}

/* a connected client (loopback: the handshake is done when connect returns) */
static int acc_client(const struct sockaddr_in *sin)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(connect(fd, (const struct sockaddr *)sin, sizeof(*sin)), 0);
    return fd;
}

static void acc_run_until(const struct acc_log *l, int n, int errs)
{
    uint64_t end = tw_now_ms() + 3000;

    while ((l->n < n || l->errs < errs) && tw_now_ms() < end)
        tw_loop_run_once(loop, 50);
}

/* Every connection reaches the callback as a non-blocking, close-on-exec
 * descriptor; a pause leaves later clients in the listen queue (none is
 * accepted, none reset) and a start takes them; a close closes the
 * listener, and its port can be bound again at once (io_uring's request
 * released the file). */
LOOP_TEST(an_acceptor_hands_over_connections_pauses_and_closes)
{
    struct acc_log l = {.pause_at = 3};
    struct sockaddr_in sin;
    tw_accept a;
    int lfd = acc_listener(&sin), cl[6], flags;

    tw_accept_init(&a, lfd, on_acc, &l);
    cr_assert_eq(tw_accept_start(loop, &a), 0);
    cr_assert(tw_accept_active(&a));
    for (int i = 0; i < 3; i++)
        cl[i] = acc_client(&sin);
    acc_run_until(&l, 3, 0);
    cr_assert_eq(l.n, 3, "%d of 3 connections accepted", l.n);
    cr_assert_not(tw_accept_active(&a), "the callback paused it");
    for (int i = 0; i < 3; i++) {
        cr_assert_geq(l.fds[i], 0);
        flags = fcntl(l.fds[i], F_GETFL);
        cr_assert(flags & O_NONBLOCK, "an accepted descriptor is blocking");
        cr_assert(fcntl(l.fds[i], F_GETFD) & FD_CLOEXEC, "an accepted descriptor lacks FD_CLOEXEC");
    }
    /* paused: the next clients wait in the queue */
    for (int i = 3; i < 6; i++)
        cl[i] = acc_client(&sin);
    for (int i = 0; i < 5; i++)
        tw_loop_run_once(loop, 20);
    cr_assert_eq(l.n, 3, "a paused acceptor took %d connections", l.n - 3);
    cr_assert_eq(tw_loop_active(loop), 0, "a paused acceptor keeps the loop running");
    l.pause_at = 0;
    cr_assert_eq(tw_accept_start(loop, &a), 0);
    acc_run_until(&l, 6, 0);
    cr_assert_eq(l.n, 6, "resumed, %d of the 3 waiting were accepted", l.n - 3);
    /* every accepted one is the other end of a client: data goes through */
    for (int i = 0; i < 6; i++) {
        char c = 0;
        cr_assert_eq(write(cl[i], "k", 1), 1);
        for (int t = 0; t < 100 && read(l.fds[i], &c, 1) != 1; t++)
            usleep(1000);
        cr_assert_eq(c, 'k');
    }
    tw_accept_close(&a);
    cr_assert_eq(a.io.fd, -1);
    cr_assert_eq(tw_loop_active(loop), 0);
    for (int i = 0; i < 6; i++) {
        close(cl[i]);
        close(l.fds[i]);
    }
    /* no loop ran since the close: the listener is released all the same
     * (its connections' TIME_WAIT is what SO_REUSEADDR lets a bind share) */
    {
        int again = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        setsockopt(again, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        cr_assert_eq(bind(again, (struct sockaddr *)&sin, sizeof(sin)), 0, "bind: %s",
                     strerror(errno));
        cr_assert_eq(listen(again, 1), 0, "the closed listener's port is still held: %s",
                     strerror(errno));
        close(again);
    }
}

/* Out of descriptors: the callback hears -EMFILE (and pauses), the client
 * stays queued, and is accepted once descriptors are free again. */
LOOP_TEST(an_acceptor_reports_emfile_and_the_client_waits)
{
    struct acc_log l = {0};
    struct sockaddr_in sin;
    struct rlimit old, low;
    tw_accept a;
    int lfd = acc_listener(&sin), cl, next;

    tw_accept_init(&a, lfd, on_acc, &l);
    cl = acc_client(&sin);
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
    next = dup(0); /* the lowest free number: none below it */
    cr_assert_geq(next, 0);
    close(next);
    low = old;
    low.rlim_cur = (rlim_t)next;
    cr_assert_eq(tw_accept_start(loop, &a), 0); /* io_uring: arms before the limit */
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    acc_run_until(&l, 0, 1);
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
    cr_assert_eq(l.errs, 1, "%d errors", l.errs);
    cr_assert_eq(l.last_err, -EMFILE, "got %d", l.last_err);
    cr_assert_eq(l.n, 0);
    cr_assert_not(tw_accept_active(&a));
    cr_assert_eq(tw_accept_start(loop, &a), 0);
    acc_run_until(&l, 1, 1);
    cr_assert_eq(l.n, 1, "the client that waited was not accepted");
    tw_accept_close(&a);
    close(l.fds[0]);
    close(cl);
}

/* ---- receivers ---- */

/* Receivers run three times: epoll, io_uring with provided buffers, and
 * io_uring by readiness (as on a kernel without buffer rings). */
static void setup_uring_poll(void)
{
    tw__loop_uring_norecv = 1;
    setup_uring();
}
static void teardown_uring_poll(void)
{
    tw__loop_uring_norecv = 0;
    teardown();
}
TestSuite(recv, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(recv_uring, .init = setup_uring, .fini = teardown, .timeout = 30);
TestSuite(recv_uring_poll, .init = setup_uring_poll, .fini = teardown_uring_poll, .timeout = 30);

#define RECV_TEST(name)                                                                        \
    static void name##_body(void);                                                             \
    Test(recv, name) { name##_body(); }                                                        \
    Test(recv_uring, name) { name##_body(); }                                                  \
    Test(recv_uring_poll, name) { name##_body(); }                                             \
    static void name##_body(void)

struct rlog {
    unsigned char *buf;
    size_t len, cap;
    int calls, eofs, errs, last_err, late, fins;
    size_t late_bytes;
    size_t pause_at; /* pause from the callback once this much is in (0: never) */
};

static void on_rcv(tw_recv *r, void *buf, ssize_t n)
{
    struct rlog *l = r->data;

    l->calls++;
    if (n <= 0) {
        cr_assert_not(tw_recv_active(r), "a receiver is still on after its end (%zd)", n);
        if (n == 0)
            l->eofs++;
        else
            l->errs++, l->last_err = (int)n;
        return;
    }
    cr_assert_not_null(buf);
    if (!tw_recv_active(r)) { /* after a pause: the kernel had it */
        l->late++;
        l->late_bytes += (size_t)n;
    }
    if (r->fin)
        l->fins++;
    if (l->len + (size_t)n > l->cap) {
        l->cap = (l->len + (size_t)n) * 2;
        l->buf = realloc(l->buf, l->cap);
        cr_assert_not_null(l->buf);
    }
    memcpy(l->buf + l->len, buf, (size_t)n);
    l->len += (size_t)n;
    if (l->pause_at && l->len >= l->pause_at) {
        l->pause_at = 0;
        tw_recv_pause(r);
    }
}

/* A connected pair on loopback: *srv the accepted end (non-blocking). */
static int rcv_pair(int *srv)
{
    struct sockaddr_in sin;
    int lfd = acc_listener(&sin), cl = acc_client(&sin);

    *srv = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    cr_assert_geq(*srv, 0);
    close(lfd);
    return cl;
}

static unsigned char pattern(size_t i) { return (unsigned char)(i * 7 + i / 4093); }

static void rcv_run_until(const struct rlog *l, size_t len, int ends)
{
    uint64_t end = tw_now_ms() + 5000;

    while ((l->len < len || l->eofs + l->errs < ends) && tw_now_ms() < end)
        tw_loop_run_once(loop, 50);
}

/* Bytes reach the callback, then the peer's FIN as 0, after which the
 * receiver is stopped and the loop has nothing left. */
RECV_TEST(a_receiver_delivers_data_then_eof)
{
    struct rlog l = {0};
    tw_recv r;
    int srv, cl = rcv_pair(&srv);

    tw_recv_init(&r, srv, on_rcv, &l);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    cr_assert(tw_recv_active(&r));
    cr_assert_eq(tw_loop_active(loop), 1);
    cr_assert_eq(write(cl, "hello", 5), 5);
    rcv_run_until(&l, 5, 0);
    cr_assert_eq(l.len, 5);
    cr_assert_eq(memcmp(l.buf, "hello", 5), 0);
    cr_assert_eq(l.eofs, 0);
    /* nothing more: no callback, no spin */
    for (int i = 0; i < 3; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_eq(l.calls, 1, "%d callbacks for one write", l.calls);
    cr_assert_eq(write(cl, " world", 6), 6);
    cr_assert_eq(shutdown(cl, SHUT_WR), 0);
    rcv_run_until(&l, 11, 1);
    cr_assert_eq(l.len, 11);
    cr_assert_eq(memcmp(l.buf, "hello world", 11), 0);
    cr_assert_eq(l.eofs, 1);
    cr_assert_eq(l.errs, 0);
    cr_assert_not(tw_recv_active(&r));
    cr_assert_eq(tw_loop_active(loop), 0);
    for (int i = 0; i < 3; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_eq(l.eofs, 1, "the EOF came %d times", l.eofs);
    tw_recv_close(&r); /* a no-op stop after the end, and the close */
    cr_assert_eq(r.fd, -1);
    close(cl);
    free(l.buf);
}

/* After the EOF the socket stays open, readable for ever (level) with no
 * receiver and no watcher: the loop waits, it does not spin on it; a new
 * receiver on it hears the EOF again. */
RECV_TEST(an_ended_receiver_on_an_open_socket_does_not_spin)
{
    struct rlog l = {0};
    tw_recv r;
    int srv, cl = rcv_pair(&srv);
    uint64_t t0;

    tw_recv_init(&r, srv, on_rcv, &l);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    cr_assert_eq(shutdown(cl, SHUT_WR), 0);
    rcv_run_until(&l, 0, 1);
    cr_assert_eq(l.eofs, 1);
    tw_loop_run_once(loop, 0); /* epoll: its one event removes the registration */
    t0 = tw_now_ms();
    for (int i = 0; i < 5; i++)
        tw_loop_run_once(loop, 20);
    cr_assert_geq(tw_now_ms() - t0, 90, "5 waits of 20 ms took %llu ms: a spin",
                  (unsigned long long)(tw_now_ms() - t0));
    cr_assert_eq(l.eofs, 1);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    rcv_run_until(&l, 0, 2);
    cr_assert_eq(l.eofs, 2);
    tw_recv_close(&r);
    close(cl);
}

/* The peer's RST: -ECONNRESET, once. */
RECV_TEST(a_receiver_reports_a_reset)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    struct rlog l = {0};
    tw_recv r;
    int srv, cl = rcv_pair(&srv);

    tw_recv_init(&r, srv, on_rcv, &l);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    tw_loop_run_once(loop, 0);
    cr_assert_eq(setsockopt(cl, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(cl);
    rcv_run_until(&l, 0, 1);
    cr_assert_eq(l.errs, 1);
    cr_assert_eq(l.last_err, -ECONNRESET, "got %d", l.last_err);
    cr_assert_eq(l.eofs, 0);
    cr_assert_eq(tw_loop_active(loop), 0);
    tw_recv_close(&r);
    free(l.buf);
}

/* A stream far bigger than the provided buffers (the ring wraps many
 * times), paused and resumed again and again while data is in flight:
 * every byte comes once, in order; what comes after a pause is late data
 * the kernel had, and on epoll there is none. */
static void stream(size_t total, int pause_every_ms)
{
    struct rlog l = {0};
    size_t sent = 0;
    unsigned char chunk[65536];
    uint64_t end = tw_now_ms() + 20000, next_toggle = tw_now_ms();
    tw_recv r;
    int srv, cl = rcv_pair(&srv), toggles = 0;

    cr_assert_eq(fcntl(cl, F_SETFL, O_NONBLOCK), 0);
    tw_recv_init(&r, srv, on_rcv, &l);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    while (l.len < total && tw_now_ms() < end) {
        while (sent < total) {
            size_t n = total - sent < sizeof(chunk) ? total - sent : sizeof(chunk);
            for (size_t i = 0; i < n; i++)
                chunk[i] = pattern(sent + i);
            ssize_t w = write(cl, chunk, n);
            if (w <= 0)
                break;
            sent += (size_t)w;
        }
        if (pause_every_ms && tw_now_ms() >= next_toggle) {
            if (tw_recv_active(&r))
                tw_recv_pause(&r);
            else
                cr_assert_eq(tw_recv_start(loop, &r), 0);
            toggles++;
            next_toggle = tw_now_ms() + (uint64_t)pause_every_ms;
        }
        tw_loop_run_once(loop, 5);
        if (!tw_recv_active(&r) && sent == total && l.len < total && !pause_every_ms)
            break;
    }
    if (!tw_recv_active(&r)) /* the last toggle paused it: resume for the rest */
        cr_assert_eq(tw_recv_start(loop, &r), 0);
    rcv_run_until(&l, total, 0);
    cr_assert_eq(l.len, total, "%zu of %zu bytes came", l.len, total);
    for (size_t i = 0; i < total; i++)
        if (l.buf[i] != pattern(i))
            cr_assert_fail("byte %zu is %u, not %u: lost, doubled or out of order", i, l.buf[i],
                           pattern(i));
    cr_assert_eq(l.errs + l.eofs, 0);
    if (pause_every_ms)
        cr_assert_geq(toggles, 4, "only %d pauses and resumes", toggles);
    if (!on_uring() || tw__loop_uring_norecv)
        cr_assert_eq(l.late, 0, "readiness receiving delivered %d times after a pause", l.late);
    shutdown(cl, SHUT_WR);
    rcv_run_until(&l, total, 1);
    cr_assert_eq(l.eofs, 1);
    tw_recv_close(&r);
    close(cl);
    free(l.buf);
}

RECV_TEST(a_large_transfer_wraps_the_buffer_ring) { stream(32u << 20, 0); }

RECV_TEST(pauses_with_data_in_flight_lose_nothing) { stream(16u << 20, 3); }

/* The callback pauses as soon as data is in: whatever the kernel received
 * before the pause reached it still comes (late: on io_uring up to about
 * the provided buffers' worth), nothing is lost, nothing comes once the
 * pause is through, and a resume brings the rest. */
static void write_some(int cl, const unsigned char *data, size_t total, size_t *sent)
{
    while (*sent < total) {
        ssize_t w = write(cl, data + *sent, total - *sent);
        if (w <= 0)
            return;
        *sent += (size_t)w;
    }
}

RECV_TEST(a_pause_from_the_callback_loses_nothing)
{
    struct rlog l = {.pause_at = 1};
    size_t total = 16u << 20, sent = 0, paused_len;
    unsigned char *data = malloc(total);
    tw_recv r;
    int srv, cl = rcv_pair(&srv);

    for (size_t i = 0; i < total; i++)
        data[i] = pattern(i);
    cr_assert_eq(fcntl(cl, F_SETFL, O_NONBLOCK), 0);
    tw_recv_init(&r, srv, on_rcv, &l);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    for (int i = 0; i < 200 && tw_recv_active(&r); i++) {
        write_some(cl, data, total, &sent);
        tw_loop_run_once(loop, 5);
    }
    cr_assert_not(tw_recv_active(&r));
    for (int i = 0; i < 10; i++) { /* the late data, if any, comes now */
        write_some(cl, data, total, &sent);
        tw_loop_run_once(loop, 5);
    }
    cr_assert_eq(tw_loop_active(loop), 0, "a paused receiver keeps the loop running");
    paused_len = l.len;
    cr_assert_lt(paused_len, sent, "the pause held nothing back (%zu of %zu)", paused_len, sent);
    for (int i = 0; i < 5; i++) {
        write_some(cl, data, total, &sent);
        tw_loop_run_once(loop, 5);
    }
    cr_assert_eq(l.len, paused_len, "data came long after the pause");
    if (!on_uring() || tw__loop_uring_norecv)
        cr_assert_eq(l.late, 0);
    /* the pause is submitted at once: no more than the ring's 2 MiB */
    cr_assert_leq(l.late_bytes, 2u << 20, "%zu bytes came after the pause", l.late_bytes);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    for (uint64_t end = tw_now_ms() + 10000; l.len < total && tw_now_ms() < end;) {
        write_some(cl, data, total, &sent);
        tw_loop_run_once(loop, 5);
    }
    cr_assert_eq(l.len, total, "%zu of %zu bytes", l.len, total);
    cr_assert_eq(memcmp(l.buf, data, total), 0, "bytes lost, doubled or out of order");
    tw_recv_close(&r);
    close(cl);
    free(l.buf);
    free(data);
}

/* Closing releases the socket at once (io_uring's request holds the file
 * until it is cancelled), also when no loop runs after: the peer sees the
 * FIN, or with SO_LINGER 0 the RST. */
RECV_TEST(a_close_releases_the_socket)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    struct rlog l = {0};
    tw_recv r, r2;
    int srv, cl = rcv_pair(&srv), srv2, cl2 = rcv_pair(&srv2);
    char c;

    tw_recv_init(&r, srv, on_rcv, &l);
    tw_recv_init(&r2, srv2, on_rcv, &l);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    cr_assert_eq(tw_recv_start(loop, &r2), 0);
    tw_loop_run_once(loop, 0); /* the requests are armed */
    tw_loop_run_once(loop, 0);
    tw_recv_close(&r);
    cr_assert_eq(setsockopt(srv2, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    tw_recv_close(&r2);
    cr_assert_eq(tw_loop_active(loop), 0);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(cl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(cl2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(read(cl, &c, 1), 0, "no FIN from the closed receiver's socket: %s",
                 strerror(errno));
    errno = 0;
    cr_assert_eq(read(cl2, &c, 1), -1);
    cr_assert_eq(errno, ECONNRESET, "no RST: %s", strerror(errno));
    close(cl);
    close(cl2);
    cr_assert_eq(l.calls, 0);
}

/* Closing from the callback (stop, close, then the fd number reused by a
 * new receiver at once): nothing more reaches the old one. */
static tw_recv *reuse_new;
static int reuse_cl;
static struct rlog reuse_log2;
static void on_rcv_close(tw_recv *r, void *buf, ssize_t n)
{
    struct rlog *l = r->data;
    int fd = r->fd, srv2;

    (void)buf;
    l->calls++;
    cr_assert_gt(n, 0);
    tw_recv_close(r);
    reuse_cl = rcv_pair(&srv2);
    if (reuse_cl == fd) /* the client took the number: it moves */
        reuse_cl = dup(fd);
    if (srv2 != fd) { /* take fd's number for the new one */
        cr_assert_eq(dup2(srv2, fd), fd);
        close(srv2);
    }
    tw_recv_init(reuse_new, fd, on_rcv, &reuse_log2);
    cr_assert_eq(tw_recv_start(loop, reuse_new), 0);
}

RECV_TEST(a_receiver_closed_in_its_callback_hears_nothing_more)
{
    struct rlog l = {0};
    unsigned char big[200000];
    tw_recv r, r2;
    int srv, cl = rcv_pair(&srv);

    memset(big, 'x', sizeof(big));
    reuse_new = &r2;
    memset(&reuse_log2, 0, sizeof(reuse_log2));
    tw_recv_init(&r, srv, on_rcv_close, &l);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    cr_assert_eq(write(cl, big, sizeof(big)), (ssize_t)sizeof(big)); /* many buffers */
    rcv_run_until(&l, 0, 0);
    for (int i = 0; i < 20 && !l.calls; i++)
        tw_loop_run_once(loop, 20);
    cr_assert_eq(l.calls, 1);
    for (int i = 0; i < 5; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_eq(l.calls, 1, "the closed receiver was called again");
    cr_assert_eq(reuse_log2.len, 0, "the old socket's data reached the new receiver");
    cr_assert(tw_recv_active(&r2), "fd %d", r2.fd);
    cr_assert_eq(write(reuse_cl, "new", 3), 3);
    rcv_run_until(&reuse_log2, 3, 0);
    cr_assert_eq(reuse_log2.len, 3);
    cr_assert_eq(memcmp(reuse_log2.buf, "new", 3), 0);
    tw_recv_close(&r2);
    close(cl);
    close(reuse_cl);
    free(reuse_log2.buf);
}

/* A receiver and a watcher of the same socket: data goes to the receiver,
 * writability to the watcher; either stops without silencing the other. */
static int rw_writes;
static void on_rw(tw_io *io, unsigned ev)
{
    if (ev & TW_IO_ERROR)
        return; /* the peer's RST, at the end: the watcher hears it too */
    cr_assert(ev & TW_IO_WRITE, "the watcher got %#x", ev);
    cr_assert_not(ev & TW_IO_READ, "the receiver's readiness reached the watcher");
    rw_writes++;
    tw_io_start(io->loop, io, TW_IO_ERROR); /* errors only from now on */
}

RECV_TEST(a_receiver_and_a_watcher_share_a_socket)
{
    struct rlog l = {0};
    tw_recv r;
    tw_io io;
    int srv, cl = rcv_pair(&srv);

    tw_recv_init(&r, srv, on_rcv, &l);
    tw_io_init(&io, srv, on_rw, NULL);
    rw_writes = 0;
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    cr_assert_eq(tw_io_start(loop, &io, TW_IO_WRITE), 0);
    cr_assert_eq(tw_io_start(loop, &io, TW_IO_WRITE | TW_IO_EDGE), -EINVAL);
    cr_assert_eq(write(cl, "ab", 2), 2);
    rcv_run_until(&l, 2, 0);
    for (int i = 0; i < 3; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_eq(rw_writes, 1);
    cr_assert_eq(l.len, 2);
    /* the watcher stops: the receiver goes on */
    tw_io_stop(&io);
    cr_assert_eq(write(cl, "cd", 2), 2);
    rcv_run_until(&l, 4, 0);
    cr_assert_eq(memcmp(l.buf, "abcd", 4), 0);
    /* the receiver pauses: the watcher goes on, and data waits */
    tw_recv_pause(&r);
    for (int i = 0; i < 3; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_eq(tw_io_start(loop, &io, TW_IO_WRITE), 0);
    cr_assert_eq(write(cl, "ef", 2), 2);
    for (int i = 0; i < 5; i++)
        tw_loop_run_once(loop, 10);
    cr_assert_eq(rw_writes, 2);
    cr_assert_eq(l.len, 4, "a paused receiver got data sent after the pause");
    cr_assert_eq(l.calls, 2, "%d callbacks", l.calls);
    cr_assert_eq(tw_recv_start(loop, &r), 0);
    rcv_run_until(&l, 6, 0);
    cr_assert_eq(memcmp(l.buf, "abcdef", 6), 0);
    /* the peer's RST: the receiver hears it */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(cl, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(cl);
    rcv_run_until(&l, 6, 1);
    cr_assert_eq(l.last_err, -ECONNRESET);
    tw_io_stop(&io);
    tw_recv_close(&r);
    cr_assert_eq(tw_loop_active(loop), 0);
    free(l.buf);
}

/* The ring runs dry (two 1 KiB buffers against a fast sender): the recv
 * ends with -ENOBUFS, is re-armed once the buffers are back, and every
 * byte comes, without a spin. */
Test(recv_uring, an_exhausted_buffer_ring_recovers)
{
    struct rlog l = {0};
    size_t total = 4u << 20;
    unsigned char *data = malloc(total);
    unsigned long enobufs = tw__loop_uring_enobufs;
    tw_loop *small;
    tw_recv r;
    int srv, cl = rcv_pair(&srv), runs = 0;

    tw__loop_uring_rbufs = 2;
    tw__loop_uring_rbuf_size = 1024;
    cr_assert_eq(tw_loop_new_backend(&small, TW_LOOP_IO_URING), 0);
    for (size_t i = 0; i < total; i++)
        data[i] = pattern(i);
    tw_recv_init(&r, srv, on_rcv, &l);
    cr_assert_eq(tw_recv_start(small, &r), 0);
    tw__loop_uring_rbufs = tw__loop_uring_rbuf_size = 0;
    cr_assert_eq(fcntl(cl, F_SETFL, O_NONBLOCK), 0);
    size_t sent = 0;
    uint64_t end = tw_now_ms() + 20000;
    while (l.len < total && tw_now_ms() < end) {
        ssize_t w = sent < total ? write(cl, data + sent, total - sent) : 0;
        if (w > 0)
            sent += (size_t)w;
        tw_loop_run_once(small, 5);
        runs++;
    }
    cr_assert_eq(l.len, total, "%zu of %zu bytes", l.len, total);
    cr_assert_eq(memcmp(l.buf, data, total), 0, "bytes lost, doubled or out of order");
    cr_assert_gt(tw__loop_uring_enobufs, enobufs, "the ring never ran dry");
    /* every run delivered or waited: 4 MiB in 1 KiB buffers is 4096 callbacks */
    cr_assert_leq(runs, l.calls + 4000, "%d runs for %d callbacks: a spin", runs, l.calls);
    tw_recv_close(&r);
    close(cl);
    tw_loop_free(small);
    free(l.buf);
    free(data);
}

/* ---- choosing the backend ---- */

Test(loop_backend, an_unknown_kind_is_refused)
{
    tw_loop *l = NULL;

    cr_assert_eq(tw_loop_new_backend(&l, (tw_loop_kind)7), -EINVAL);
    cr_assert_eq(tw_loop_new_backend(NULL, TW_LOOP_EPOLL), -EINVAL);
    cr_assert_null(tw_loop_backend(NULL));
}

Test(loop_backend, twkit_loop_picks_the_default)
{
    const char *old = getenv("TWKIT_LOOP");
    char *saved = old ? strdup(old) : NULL;
    tw_loop *l;

    setenv("TWKIT_LOOP", "epoll", 1);
    cr_assert_eq(tw_loop_new(&l), 0);
    cr_assert_str_eq(tw_loop_backend(l), "epoll");
    tw_loop_free(l);
    setenv("TWKIT_LOOP", "io_uring", 1);
    cr_assert_eq(tw_loop_new(&l), 0);
    cr_assert(!strcmp(tw_loop_backend(l), "io_uring") || !strcmp(tw_loop_backend(l), "epoll"));
    tw_loop_free(l);
    unsetenv("TWKIT_LOOP");
    cr_assert_eq(tw_loop_new(&l), 0);
    cr_assert_str_eq(tw_loop_backend(l), "epoll", "the default is epoll");
    tw_loop_free(l);
    if (saved)
        setenv("TWKIT_LOOP", saved, 1);
    free(saved);
}

/* io_uring_queue_init failing (the hook stands for ENOSYS and EPERM):
 * the loop is epoll, and works. */
Test(loop_backend, a_refused_io_uring_falls_back_to_epoll)
{
    static const int errs[] = {-ENOSYS, -EPERM, -ENOMEM};
    tw_loop *l;

    for (unsigned i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        tw__loop_uring_fail = errs[i];
        cr_assert_eq(tw_loop_new_backend(&l, TW_LOOP_IO_URING), 0);
        tw__loop_uring_fail = 0;
        cr_assert_str_eq(tw_loop_backend(l), "epoll");
        tw_loop_free(l);
    }
}

/* The real refusal, as root: kernel.io_uring_disabled=2 for a moment. */
Test(loop_backend, io_uring_disabled_by_sysctl_falls_back_to_epoll)
{
    const char *path = "/proc/sys/kernel/io_uring_disabled";
    char old[16] = "";
    tw_loop *l;
    FILE *f;
    int fd;

    if (geteuid() != 0 || (fd = open(path, O_RDWR)) < 0)
        cr_skip_test("needs root and %s", path);
    cr_assert_gt(read(fd, old, sizeof(old) - 1), 0);
    if (pwrite(fd, "2", 1, 0) != 1) { /* at 0: sysctls ignore later offsets */
        close(fd);
        cr_skip_test("%s cannot be written here", path);
    }
    close(fd);
    int r = tw_loop_new_backend(&l, TW_LOOP_IO_URING);
    f = fopen(path, "w"); /* restore before any assertion can fail */
    cr_assert_not_null(f);
    fputs(old, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(r, 0);
    cr_assert_str_eq(tw_loop_backend(l), "epoll");
    tw_loop_free(l);
}
