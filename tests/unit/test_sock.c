/* The socket layer on loopback: addresses, connect outcomes through one
 * callback, options, and the close policies, with the kernel's view of the
 * resulting sockets read back through sock_diag. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "twkit/diag.h"
#include "twkit/error.h"
#include "twkit/sock.h"
#include "twkit/time.h"

static tw_loop *loop;

static void setup(void) { cr_assert_eq(tw_loop_new(&loop), 0); }
static void teardown(void) { tw_loop_free(loop); }

TestSuite(sock, .init = setup, .fini = teardown, .timeout = 30);

Test(sock, addr_parse_and_format)
{
    static const struct { const char *in, *out; } ok[] = {
        {"127.0.0.1:80", "127.0.0.1:80"}, {"10.1.2.3", "10.1.2.3:7"},
        {"[::1]:443", "[::1]:443"},       {"::1", "[::1]:7"},
        {"fd00::2", "[fd00::2]:7"},       {"[2001:db8::1]", "[2001:db8::1]:7"},
    };
    static const char *const bad[] = {"", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1",
                                      "[::1", "[::1]x", "host.example:80", "1.2.3:80",
                                      "[::1]:80:1", "1.2.3.4:8a"};
    tw_addr a;
    char buf[TW_ADDRSTRLEN];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(tw_addr_parse(&a, ok[i].in, 7), 0, "%s", ok[i].in);
        cr_assert_str_eq(tw_addr_format(&a, buf, sizeof(buf)), ok[i].out);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(tw_addr_parse(&a, bad[i], 7), -EINVAL, "'%s' accepted", bad[i]);
    memset(&a, 0, sizeof(a));
    cr_assert_str_eq(tw_addr_format(&a, buf, sizeof(buf)), "?");
}

/* A listener on an ephemeral loopback port. */
static int listener(const char *ip, tw_addr *bound, int backlog)
{
    tw_addr a;
    struct tw_listen_opts o = {.backlog = backlog};
    int fd;

    cr_assert_eq(tw_addr_parse(&a, ip, 0), 0);
    fd = tw_sock_listen(&a, &o);
    cr_assert_geq(fd, 0, "listen: %s", tw_errname(fd));
    cr_assert_eq(tw_sock_local(fd, bound), 0);
    return fd;
}

static int cb_result = 1, cb_calls;
static uint64_t cb_connect_ns;

static void on_connect(tw_connect *req, int fd_or_err)
{
    cb_calls++;
    cb_result = fd_or_err;
    cb_connect_ns = req->connect_ns;
}

static int connect_and_wait(const tw_addr *dst, const struct tw_connect_opts *o,
                            uint64_t timeout)
{
    tw_connect req;

    cb_calls = 0;
    cb_result = 1;
    cr_assert_eq(tw_connect_start(loop, &req, dst, o, timeout, on_connect, NULL), 0);
    cr_assert_eq(cb_calls, 0, "the callback ran inside tw_connect_start");
    tw_loop_run(loop);
    cr_assert_eq(cb_calls, 1);
    return cb_result;
}

static void connect_v(const char *ip)
{
    tw_addr dst, peer, local;
    int lfd = listener(ip, &dst, 0), fd, sfd;

    fd = connect_and_wait(&dst, &(struct tw_connect_opts){.nodelay = true, .keepalive = true}, 1000);
    cr_assert_geq(fd, 0, "connect %s: %s", ip, tw_errname(fd));
    cr_assert_gt(cb_connect_ns, 0);
    sfd = tw_sock_accept(lfd, &peer);
    cr_assert_geq(sfd, 0);
    cr_assert_eq(tw_sock_local(fd, &local), 0);
    cr_assert(tw_addr_equal(&local, &peer));
    cr_assert_eq(tw_sock_tcp_state(fd), TCP_ESTABLISHED);
    cr_assert_eq(tw_sock_accept(lfd, NULL), -EAGAIN);
    tw_sock_abort(fd);
    tw_sock_abort(sfd);
    close(lfd);
}

Test(sock, connect_ipv4_and_ipv6) { connect_v("127.0.0.1"); connect_v("::1"); }

Test(sock, refused_arrives_through_the_callback)
{
    tw_addr dst;
    int lfd = listener("127.0.0.1", &dst, 0);

    close(lfd); /* nobody listens there now */
    cr_assert_eq(connect_and_wait(&dst, NULL, 1000), -ECONNREFUSED);
}

Test(sock, immediate_eaddrnotavail_arrives_through_the_callback)
{
    tw_addr dst, local;
    int lfd = listener("127.0.0.1", &dst, 0), first, r;
    struct tw_connect_opts o = {0};

    /* Hold one connection, then ask for a range of exactly its port
     * towards the same destination: no unique 4-tuple is left. */
    first = connect_and_wait(&dst, NULL, 1000);
    cr_assert_geq(first, 0);
    tw_sock_local(first, &local);
    o.port_lo = o.port_hi = tw_addr_port(&local);
    r = connect_and_wait(&dst, &o, 1000);
    if (r >= 0) /* kernel without IP_LOCAL_PORT_RANGE: nothing to test */
        cr_skip_test("IP_LOCAL_PORT_RANGE not supported by this kernel");
    cr_assert_eq(r, -EADDRNOTAVAIL, "got %s", tw_errname(r));
    cr_assert_eq(tw_errclass(r), TW_ECLASS_LOCAL);
    tw_sock_abort(first);
    close(lfd);
}

Test(sock, connect_timeout_when_syn_is_dropped)
{
    tw_addr dst;
    int lfd = listener("127.0.0.1", &dst, 1), held[4], n = 0, r;

    /* Fill the accept queue (backlog 1 holds 2); further SYNs are dropped. */
    for (int i = 0; i < 4; i++) {
        r = connect_and_wait(&dst, NULL, 300);
        if (r == -ETIMEDOUT)
            break;
        cr_assert_geq(r, 0, "%s", tw_errname(r));
        held[n++] = r;
    }
    cr_assert_eq(r, -ETIMEDOUT);
    for (int i = 0; i < n; i++)
        tw_sock_abort(held[i]);
    close(lfd);
}

Test(sock, source_address_and_options)
{
    tw_addr dst, src, local;
    int lfd = listener("127.0.0.1", &dst, 0), fd, v;
    socklen_t len = sizeof(v);
    struct tw_connect_opts o = {.source = &src, .user_timeout_ms = 7000};

    cr_assert_eq(tw_addr_parse(&src, "127.0.0.2", 0), 0);
    fd = connect_and_wait(&dst, &o, 1000);
    cr_assert_geq(fd, 0, "%s", tw_errname(fd));
    tw_sock_local(fd, &local);
    cr_assert_eq(local.u.in.sin_addr.s_addr, src.u.in.sin_addr.s_addr);
    cr_assert_eq(getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &len), 0);
    cr_assert_eq(v, 7000);
    cr_assert_eq(tw_sock_set_keepalive(fd, NULL), 0);
    getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len);
    cr_assert_eq(v, 60);
    getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, &len);
    cr_assert_eq(v, 6);
    cr_assert_eq(tw_sock_set_port_range(fd, 10, 5), -EINVAL);
    cr_assert_eq(tw_sock_set_nodelay(-1, true), -EBADF);
    cr_assert_eq(tw_sock_connect(NULL, NULL, &v), -EINVAL);
    tw_sock_abort(fd);
    close(lfd);
}

/* speaks_first: the handshake's last ACK waits for the first data, so the
 * server has nothing to accept until the client writes, then the accepted
 * socket already holds the data. */
Test(sock, speaks_first_sends_the_last_ack_with_the_data)
{
    tw_addr dst;
    struct tw_connect_opts o = {.speaks_first = true};
    int lfd = listener("127.0.0.1", &dst, 0), fd, sfd;
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    char c;

    fd = connect_and_wait(&dst, &o, 1000);
    cr_assert_geq(fd, 0, "%s", tw_errname(fd));
    cr_assert_eq(poll(&p, 1, 50), 0, "the ACK went out before the data");
    cr_assert_eq(write(fd, "x", 1), 1);
    cr_assert_eq(poll(&p, 1, 1000), 1);
    cr_assert_geq(sfd = tw_sock_accept(lfd, NULL), 0);
    cr_assert_eq(read(sfd, &c, 1), 1, "the data came with the ACK");
    cr_assert_eq(c, 'x');
    tw_sock_abort(fd);
    close(sfd);
    close(lfd);
}

/* ---- close policies, checked against the kernel's socket table ---- */

struct find {
    uint16_t port, peer_port;
    int state;
};

static int find_cb(const struct tw_diag_sock *s, void *arg)
{
    struct find *f = arg;
    if (tw_addr_port(&s->local) == f->port && tw_addr_port(&s->remote) == f->peer_port)
        f->state = s->state;
    return 0;
}

/* The state of the socket from local `port` to remote `peer_port` (0 if
 * none): the whole 4-tuple on loopback, so other programs' TIME_WAIT on the
 * same local port towards elsewhere does not count. */
static int state_of(uint16_t port, uint16_t peer_port)
{
    struct find f = {port, peer_port, 0};
    cr_assert_eq(tw_diag_dump(~0u, find_cb, &f), 0);
    return f.state;
}

static void pair(tw_addr *dst, int *lfd, int *cfd, int *sfd)
{
    *lfd = listener("127.0.0.1", dst, 0);
    *cfd = connect_and_wait(dst, NULL, 1000);
    cr_assert_geq(*cfd, 0);
    *sfd = tw_sock_accept(*lfd, NULL);
    cr_assert_geq(*sfd, 0);
}

static int read_wait(int fd, char *buf, size_t n)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 2000);
    ssize_t r = read(fd, buf, n);
    return r < 0 ? -errno : (int)r;
}

Test(sock, abort_resets_peer_and_leaves_no_time_wait)
{
    tw_addr dst, local;
    int lfd, cfd, sfd;
    char c;

    pair(&dst, &lfd, &cfd, &sfd);
    tw_sock_local(cfd, &local);
    cr_assert_eq(tw_sock_abort(cfd), 0);
    cr_assert_eq(read_wait(sfd, &c, 1), -ECONNRESET);
    cr_assert_eq(state_of(tw_addr_port(&local), tw_addr_port(&dst)), 0,
                 "client socket still exists");
    close(sfd);
    close(lfd);
}

Test(sock, passive_close_is_refused_before_the_fin)
{
    tw_addr dst, local, peer;
    int lfd, cfd, sfd;
    char c;

    pair(&dst, &lfd, &cfd, &sfd);
    tw_sock_local(sfd, &local);
    tw_sock_local(cfd, &peer);
    /* Server side: no FIN from the client yet, so closing would be active. */
    cr_assert_eq(tw_sock_close_passive(sfd), -EAGAIN);
    cr_assert_eq(write(cfd, "x", 1), 1);
    shutdown(cfd, SHUT_WR);
    usleep(20000);
    /* FIN arrived but a byte before it is unread: close() would RST. */
    cr_assert_eq(tw_sock_close_passive(sfd), -EAGAIN);
    cr_assert_eq(read_wait(sfd, &c, 1), 1);
    cr_assert_eq(read_wait(sfd, &c, 1), 0);
    cr_assert_eq(tw_sock_close_passive(sfd), 0);
    cr_assert_eq(read_wait(cfd, &c, 1), 0);
    close(cfd); /* the client closed first: its socket is the TIME_WAIT */
    usleep(20000);
    cr_assert_neq(state_of(tw_addr_port(&local), tw_addr_port(&peer)), 6);
    cr_assert_eq(tw_sock_close_passive(-1), -EBADF);
    close(lfd);
}

static int close_result = 1;
static tw_closer *close_seen;
static void on_closed(tw_closer *c, int result) { close_result = result; close_seen = c; }

Test(sock, active_close_holds_time_wait_here)
{
    tw_addr dst, local, peer_local;
    int lfd, cfd, sfd;
    tw_closer cl;
    char c;

    pair(&dst, &lfd, &cfd, &sfd);
    tw_sock_local(cfd, &local);
    tw_sock_local(sfd, &peer_local);
    cr_assert_eq(write(sfd, "late data", 9), 9); /* drained, not RST */
    cr_assert_eq(tw_close_active(loop, &cl, cfd, 2000, on_closed, NULL), 0);
    cr_assert_eq(read_wait(sfd, &c, 1), 0); /* our FIN */
    cr_assert_eq(tw_sock_close_passive(sfd), 0);
    tw_loop_run(loop);
    cr_assert_eq(close_result, 0);
    cr_assert_eq(cl.drained, 9);
    usleep(20000);
    cr_assert_eq(state_of(tw_addr_port(&local), tw_addr_port(&dst)), 6,
                 "no TIME_WAIT on the active closer");
    close(lfd);
}

Test(sock, passive_closer_aborts_after_grace)
{
    tw_addr dst;
    int lfd, cfd, sfd;
    tw_closer cl;
    char c;
    uint64_t t0;

    pair(&dst, &lfd, &cfd, &sfd);
    t0 = tw_loop_now(loop); /* timers count from the loop's time */
    cr_assert_eq(tw_close_passive(loop, &cl, sfd, 100, on_closed, NULL), 0);
    tw_loop_run(loop); /* the client never closes */
    cr_assert_eq(close_result, -ETIMEDOUT);
    cr_assert_geq(tw_now_ms() - t0, 100);
    cr_assert_eq(read_wait(cfd, &c, 1), -ECONNRESET);
    close(cfd);
    close(lfd);
}

Test(sock, passive_closer_closes_on_fin)
{
    tw_addr dst, slocal;
    int lfd, cfd, sfd;
    tw_closer cl;

    pair(&dst, &lfd, &cfd, &sfd);
    tw_sock_local(sfd, &slocal);
    cr_assert_eq(tw_close_passive(loop, &cl, sfd, 2000, on_closed, NULL), 0);
    close(cfd);
    tw_loop_run(loop);
    cr_assert_eq(close_result, 0);
    cr_assert_eq(close_seen, &cl);
    close(lfd);
}

Test(sock, unacked_bytes)
{
    tw_addr dst;
    int lfd, cfd, sfd, n;
    static char chunk[65536];
    ssize_t w;

    pair(&dst, &lfd, &cfd, &sfd);
    cr_assert_eq(tw_sock_unacked(cfd), 0);
    /* The server does not read: its window closes and data queues here. */
    while ((w = write(cfd, chunk, sizeof(chunk))) > 0)
        ;
    n = tw_sock_unacked(cfd);
    cr_assert_gt(n, 0, "nothing unacknowledged after filling the window");
    /* The server reads everything: the count drops to 0. */
    for (int i = 0; i < 2000 && (n = tw_sock_unacked(cfd)) > 0; i++) {
        while (read(sfd, chunk, sizeof(chunk)) > 0)
            ;
        usleep(1000);
    }
    cr_assert_eq(n, 0);
    cr_assert_eq(tw_sock_unacked(-1), -EBADF);
    tw_sock_abort(cfd);
    tw_sock_abort(sfd);
    close(lfd);
}

/* The closers take ownership of fd: when the loop cannot watch it (epoll
 * refuses a character device), the fd is closed anyway, not leaked. */
Test(sock, a_closer_that_cannot_start_still_closes_its_fd)
{
    tw_closer cl;
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    cr_assert_geq(fd, 0);
    if (strcmp(tw_loop_backend(loop), "epoll")) {
        close(fd); /* io_uring polls a character device: nothing refuses */
        cr_skip_test("epoll's refusal; the loop is %s", tw_loop_backend(loop));
    }
    cr_assert_lt(tw_close_passive(loop, &cl, fd, 1000, NULL, NULL), 0);
    cr_assert_eq(fcntl(fd, F_GETFD), -1, "fd %d still open", fd);
    cr_assert_eq(errno, EBADF);
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    cr_assert_lt(tw_close_active(loop, &cl, fd, 1000, NULL, NULL), 0);
    cr_assert_eq(fcntl(fd, F_GETFD), -1, "fd %d still open", fd);
}
