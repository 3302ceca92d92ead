/* Failures a test cannot provoke from outside, injected: this binary is
 * linked with epoll_ctl, calloc and realloc wrapped (-Wl,--wrap, see
 * tests/CMakeLists.txt), so the library's calls to them go through the
 * switches below. Off, each passes straight to libc.
 *
 * What must hold when epoll refuses a socket (ENOSPC: max_user_watches) or
 * memory runs out: the connection concerned is aborted (its peer sees an
 * RST, never a silent hang), it is counted where the counters say, no
 * descriptor leaks, and the server goes on serving the next client. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "twkit/client.h"
#include "twkit/error.h"
#include "twkit/server.h"
#include "twkit/time.h"
#include "twkit/twp.h"

/* ---- the switches ---- */
static int fail_epoll_op; /* EPOLL_CTL_ADD or _MOD: refuse every such call */
static int fail_epoll_except = -1; /* ... except for this fd */
static bool fail_calloc, fail_realloc;
static unsigned failed; /* calls refused so far */

int __real_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev);
void *__real_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_realloc(void *p, size_t size);

int __wrap_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
    if (fail_epoll_op && op == fail_epoll_op && fd != fail_epoll_except) {
        failed++;
        errno = ENOSPC;
        return -1;
    }
    return __real_epoll_ctl(ep, op, fd, ev);
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (fail_calloc) {
        failed++;
        errno = ENOMEM;
        return NULL;
    }
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    if (fail_realloc) {
        failed++;
        errno = ENOMEM;
        return NULL;
    }
    return __real_realloc(p, size);
}

/* ---- a server on this thread's loop, raw clients ---- */
static tw_loop *loop;
static tw_server *srv;
static tw_addr at;
static size_t body_len = 3; /* what the HTTP handler answers */
static char *body;

static void on_http(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    cr_assert_eq(tw_sconn_respond(c, 200, "text/plain", NULL, body, body_len), 0);
}

static void start(enum tw_server_proto proto)
{
    struct tw_server_opts o = {.proto = proto, .on_http = on_http};

    cr_assert_eq(tw_addr_parse(&o.listen, "127.0.0.1:0", 0), 0);
    cr_assert_eq(tw_server_start(loop, &o, &srv), 0);
    cr_assert_eq(tw_server_local(srv, &at), 0);
}

static void setup(void)
{
    /* epoll whatever TWKIT_LOOP says (make test LOOP=io_uring): the faults
     * are injected at epoll_ctl; io_uring has no such call to refuse */
    cr_assert_eq(tw_loop_new_backend(&loop, TW_LOOP_EPOLL), 0);
    cr_assert(body = malloc(8u << 20));
    memset(body, 'x', 8u << 20);
}

static void teardown(void)
{
    fail_epoll_op = fail_calloc = fail_realloc = 0;
    fail_epoll_except = -1;
    tw_server_free(srv);
    srv = NULL;
    tw_loop_free(loop);
    free(body);
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 30);

static unsigned open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    cr_assert(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A blocking client socket, connected (the kernel completes the handshake
 * into the listener's backlog before the loop accepts). */
static int client(int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert_geq(fd, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    cr_assert_eq(connect(fd, &at.u.sa, at.len), 0, "connect: %s", strerror(errno));
    return fd;
}

static void put(int fd, const char *s)
{
    cr_assert_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Run the loop and read fd until it ends: returns 0 for EOF, -errno for an
 * error (-ECONNRESET for an RST), -ETIMEDOUT after 5 s. *got: bytes read. */
static int pump_to_end(int fd, size_t *got)
{
    static char buf[65536];
    uint64_t end = tw_now_ms() + 5000;

    *got = 0;
    while (tw_now_ms() < end) {
        tw_loop_run_once(loop, 5);
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            *got += (size_t)n;
        else if (n == 0)
            return 0;
        else if (errno != EAGAIN)
            return -errno;
    }
    return -ETIMEDOUT;
}

/* The next client is served whole: the failure left nothing behind. */
static void served_after(void)
{
    size_t got;
    int fd = client(0);

    body_len = 3;
    put(fd, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    cr_assert_eq(pump_to_end(fd, &got), 0, "the next client got no response and EOF");
    cr_assert_gt(got, 3);
    close(fd);
}

Test(faults, a_connection_epoll_refuses_at_accept_is_reset_and_not_leaked)
{
    unsigned fds;
    size_t got;
    int fd;

    start(TW_PROTO_HTTP);
    fds = open_fds();
    fail_epoll_op = EPOLL_CTL_ADD;
    fd = client(0);
    put(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(pump_to_end(fd, &got), -ECONNRESET, "the client was not reset");
    cr_assert_eq(got, 0);
    cr_assert_geq(failed, 1);
    fail_epoll_op = 0;
    close(fd);
    cr_assert_eq(open_fds(), fds, "a descriptor leaked");
    cr_assert_eq(tw_server_conns(srv), 0);
    cr_assert_eq(tw_server_stats(srv)->accepted, 0, "counted as accepted");
    served_after();
}

Test(faults, a_connection_without_memory_at_accept_is_reset)
{
    size_t got;
    int fd;

    start(TW_PROTO_HTTP);
    fail_calloc = true;
    fd = client(0);
    cr_assert_eq(pump_to_end(fd, &got), -ECONNRESET, "the client was not reset");
    fail_calloc = false;
    close(fd);
    cr_assert_eq(tw_server_conns(srv), 0);
    served_after();
}

/* The response is larger than the socket takes at once: the server must
 * ask epoll for writability. When it cannot, the connection is aborted and
 * counted (aborted_nomem), not left deaf with 8 MiB queued. */
Test(faults, a_connection_epoll_cannot_watch_for_writing_is_aborted_and_counted)
{
    size_t got;
    int fd;

    start(TW_PROTO_HTTP);
    fd = client(4096);
    body_len = 8u << 20;
    fail_epoll_op = EPOLL_CTL_MOD;
    put(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(pump_to_end(fd, &got), -ECONNRESET, "the client was not reset");
    cr_assert_lt(got, 8u << 20);
    fail_epoll_op = 0;
    close(fd);
    cr_assert_geq(failed, 1);
    cr_assert_eq(tw_server_stats(srv)->aborted_nomem, 1);
    cr_assert_eq(tw_server_conns(srv), 0);
    served_after();
}

/* A request head in two parts: the first must be kept, and there is no
 * memory to keep it. */
Test(faults, out_of_memory_for_input_aborts_and_counts_aborted_nomem)
{
    size_t got;
    int fd;

    start(TW_PROTO_HTTP);
    fd = client(0);
    fail_realloc = true;
    put(fd, "GET / HTTP/1.1\r\nHost: x\r\n");
    cr_assert_eq(pump_to_end(fd, &got), -ECONNRESET, "the client was not reset");
    fail_realloc = false;
    close(fd);
    cr_assert_geq(failed, 1);
    cr_assert_eq(tw_server_stats(srv)->aborted_nomem, 1);
    cr_assert_eq(tw_server_stats(srv)->aborted_invalid, 0, "counted as bad input");
    served_after();
}

/* twp: out of memory for a reply frame (the echo of a DATA frame). */
Test(faults, twp_out_of_memory_for_a_reply_aborts_and_counts_aborted_nomem)
{
    static const uint8_t hello[] = {0, 0, 0, 4, 1, 't', 'w', 'p', TW_TWP_VERSION},
                         data[] = {0, 0, 0, 3, 2, 'a', 'b', 'c'};
    size_t got;
    int fd;

    start(TW_PROTO_TWP);
    fd = client(0);
    cr_assert_eq(send(fd, hello, sizeof(hello), 0), (ssize_t)sizeof(hello));
    for (int i = 0; i < 20; i++)
        tw_loop_run_once(loop, 5); /* HELLO both ways: the server's is written */
    fail_realloc = true;
    cr_assert_eq(send(fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
    cr_assert_eq(pump_to_end(fd, &got), -ECONNRESET, "the client was not reset");
    fail_realloc = false;
    close(fd);
    cr_assert_geq(failed, 1);
    cr_assert_eq(tw_server_stats(srv)->aborted_nomem, 1);
}

/* The client: once connected it asks epoll to watch for reading only; a
 * refusal ends it through on_close with the error, never a client that
 * waits for a reply it cannot see. */
static enum tw_client_end end_how;
static int end_err;
static bool ended;
static void on_client_close(tw_client *c, enum tw_client_end how, int err)
{
    end_how = how;
    end_err = err;
    ended = true;
}

Test(faults, a_client_epoll_cannot_watch_ends_with_the_error)
{
    struct tw_client_opts o = {.on_close = on_client_close};
    tw_client *c;

    start(TW_PROTO_TWP);
    o.dst = at;
    fail_epoll_op = EPOLL_CTL_MOD;
    cr_assert_eq(tw_client_connect(loop, &o, &c), 0);
    for (uint64_t end = tw_now_ms() + 5000; !ended && tw_now_ms() < end;)
        tw_loop_run_once(loop, 5);
    fail_epoll_op = 0;
    cr_assert(ended, "the client never ended");
    cr_assert_eq(end_how, TW_CLIENT_END_ERROR, "%s", tw_client_end_name(end_how));
    cr_assert_eq(end_err, -ENOSPC, "%s", tw_errname(end_err));
}
