/* libFuzzer target: a whole server session, twp or HTTP (built twice:
 * fuzz_session_twp, and fuzz_session_http with -DFUZZ_HTTP), through the
 * server's real input path.
 *
 * Each input starts a tw_server on loopback with options taken from its
 * first bytes (small output caps, frame and header limits, max_conns 1 to 4,
 * max_requests, after_fin) and drives up to four real TCP clients with the
 * rest, read as operations: send the next bytes (split where the fuzzer
 * chooses), flood (the last chunk again, many times: pipelining), read or
 * stop reading, half-close, reset, open another connection, switch
 * connection, answer the responses the handler held. The loop runs after
 * every operation. The handler answers at once, chunked, after
 * tw_sconn_finish, or later (deferred, HTTP; a DATA frame sent from
 * outside the callback, twp), as the request asks.
 *
 * After every step (abort() when one fails):
 *   - the end counters add up: their sum is accepted - active;
 *   - first_fin_refused is 0 (a debug build also asserts it where it would
 *     happen), and a client never sees the server's FIN before sending its
 *     own, unless the protocol is HTTP and the server counted the FIN it
 *     was required to send;
 *   - no connection held more buffer than its caps allow
 *     (conn_buf_peak);
 * and at the end, with every client reset, no connection is left once its
 * timers (grace 1 ms here) have run.
 *
 * The harness runs in a network namespace of its own when it can (root),
 * with tcp_max_tw_buckets 0 there, so millions of connections leave no
 * TIME_WAIT and touch nothing outside.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "twkit/error.h"
#include "twkit/server.h"
#include "twkit/twp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAXC 4
#define MAXHELD 8

static tw_loop *loop;
static tw_server *srv;
static struct tw_server_opts opts;
static tw_sconn *held[MAXHELD];
static uint64_t reply_max; /* the largest reply the handler makes */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_session: %s\n", what);
    abort();
}

static void hold(tw_sconn *c)
{
    for (int i = 0; i < MAXHELD; i++)
        if (!held[i]) {
            held[i] = c;
            return;
        }
}

static void on_close(tw_sconn *c, void *data)
{
    for (int i = 0; i < MAXHELD; i++)
        if (held[i] == c)
            held[i] = NULL;
}

static char big[65536];

#ifdef FUZZ_HTTP
/* The path says how to answer: /d defer, /c chunked, /f finish first,
 * /bN a body of N bytes (at most 65536), anything else "ok". */
static void on_http(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    const char *p = req->path_len > 1 ? req->path + 1 : "";
    size_t n = 0;

    switch (req->path_len > 1 ? p[0] : 0) {
    case 'd':
        if (tw_sconn_defer(c) == 0)
            hold(c);
        return;
    case 'c':
        if (tw_sconn_respond_start(c, 200, "text/plain", NULL) == 0) {
            tw_sconn_respond_chunk(c, big, 100);
            tw_sconn_respond_chunk(c, big, 1000);
            tw_sconn_respond_end(c);
        }
        return;
    case 'f':
        tw_sconn_finish(c);
        break;
    case 'b':
        for (size_t i = 1; i < req->path_len - 1 && p[i] >= '0' && p[i] <= '9' && n < 65536; i++)
            n = n * 10 + (size_t)(p[i] - '0');
        if (n > sizeof(big))
            n = sizeof(big);
        tw_sconn_respond(c, 200, "text/plain", NULL, big, n);
        return;
    }
    tw_sconn_respond(c, 200, "text/plain", NULL, "ok", 2);
}

static void answer(tw_sconn *c) { tw_sconn_respond(c, 200, "text/plain", NULL, "later", 5); }
#else
/* The payload's first byte says how to answer: F finish after the echo,
 * M three frames, L one frame later (from outside the callback), else
 * the echo. */
static int on_data(tw_sconn *c, const uint8_t *p, uint32_t len, void *data)
{
    switch (len ? p[0] : 0) {
    case 'L': hold(c); return 0;
    case 'M':
        for (int i = 0; i < 3; i++)
            tw_sconn_send(c, p, len);
        return 0;
    case 'F':
        tw_sconn_send(c, p, len);
        tw_sconn_finish(c);
        return 0;
    case 'X': return -1; /* the application aborts */
    }
    return tw_sconn_send(c, p, len) == -ENOMEM ? -1 : 0;
}

static void answer(tw_sconn *c) { tw_sconn_send(c, "later", 5); }
#endif

/* The library must never raise SIGPIPE (it sends with MSG_NOSIGNAL): here
 * one is a crash, with the input saved. */
static void on_sigpipe(int sig) { fail("SIGPIPE"); }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, on_sigpipe);
    /* A namespace of our own, no TIME_WAIT in it; without root, the host's
     * loopback (and its TIME_WAIT, which tcp_tw_reuse lets connect reuse). */
    if (unshare(CLONE_NEWNET) == 0) {
        int fd;
        if (system("ip link set lo up") != 0)
            fail("ip link set lo up");
        static const char *const knobs[][2] = {
            {"/proc/sys/net/ipv4/tcp_max_tw_buckets", "0"},
            {"/proc/sys/net/ipv4/ip_local_port_range", "1024 65535"},
            {"/proc/sys/net/ipv4/tcp_fin_timeout", "1"},
        };
        for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
            if ((fd = open(knobs[i][0], O_WRONLY)) >= 0) {
                if (write(fd, knobs[i][1], strlen(knobs[i][1])) < 0)
                    fail(knobs[i][0]);
                close(fd);
            }
    }
    memset(big, 'x', sizeof(big));
    if (tw_loop_new(&loop) < 0)
        fail("loop");
    return 0;
}

struct cli {
    int fd;
    bool fin_sent, eof, eof_first, reading, reset;
};

static struct cli cl[MAXC];
static int ncl;
static tw_addr at;

static void connect_one(void)
{
    struct cli *k;
    int fd;

    if (ncl == MAXC)
        return;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket");
    if (connect(fd, &at.u.sa, at.len) < 0) {
        /* the harness's own sockets, not the server: say so, go on with
         * fewer clients */
        fprintf(stderr, "fuzz_session: connect: %s (input goes on without it)\n",
                strerror(errno));
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    k = &cl[ncl++];
    *k = (struct cli){.fd = fd, .reading = true};
}

static void reset_one(struct cli *k)
{
    struct linger l = {1, 0};

    if (k->fd < 0)
        return;
    setsockopt(k->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(k->fd);
    k->fd = -1;
}

/* A send's result: an RST it reports is not reported again, and a later
 * recv() returns 0 after the data, which is not the server's FIN. */
static ssize_t sent(struct cli *k, ssize_t r)
{
    if (r < 0 && (errno == ECONNRESET || errno == EPIPE))
        k->reset = true;
    return r;
}

/* Read what has arrived; a FIN is noted. */
static void drain(struct cli *k)
{
    static char buf[65536];

    for (int i = 0; i < 64 && k->fd >= 0 && !k->eof; i++) {
        ssize_t n = recv(k->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0)
            k->eof = true, k->eof_first = !k->fin_sent && !k->reset;
        else if (errno == ECONNRESET || errno == EPIPE)
            k->reset = true;
        break;
    }
}

static void step(void)
{
    const struct tw_server_stats *st = tw_server_stats(srv);
    uint64_t ended = 0, cap;

    for (int i = 0; i < 3; i++)
        tw_loop_run_once(loop, 0);
    for (int i = 0; i < ncl; i++)
        if (cl[i].reading)
            drain(&cl[i]);
#define END(name, kind, prom, help) ended += TW__IS_##kind * st->name;
#define TW__IS_END 1
#define TW__IS_EVENT 0
#define TW__IS_GAUGE 0
#define TW__IS_RESP 0
    TW_SERVER_STATS(END)
    if (ended != st->accepted - st->active)
        fail("the end counters do not add up to accepted - active");
    if (st->active != tw_server_conns(srv))
        fail("active is not the number of connections");
    if (st->first_fin_refused)
        fail("the server was about to send a first FIN");
#ifndef FUZZ_HTTP
    for (int i = 0; i < ncl; i++)
        if (cl[i].eof_first)
            fail("twp: the server's FIN came first");
#endif
    /* Output: max_outbuf of queued replies plus the one that passed it;
     * input: one frame, or one request head and body, or one read; each
     * buffer at most doubles past what it holds. */
    cap = 2 * ((uint64_t)opts.max_outbuf + reply_max + 65536) +
          2 * ((uint64_t)opts.max_frame + TW_TWP_HDR + 65536 + 16384);
    if (st->conn_buf_peak > cap)
        fail("a connection held more buffer than its caps allow");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size, *p = data, *last = NULL;
    size_t last_len = 0;
    struct cli *k;
    int r;

    if (size < 4)
        return 0;
    opts = (struct tw_server_opts){0};
    tw_addr_parse(&opts.listen, "127.0.0.1:0", 0);
    opts.max_outbuf = 1024u << (p[0] & 7);      /* 1 KiB .. 128 KiB */
    opts.max_frame = 1u + ((uint32_t)p[1] << 6); /* 1 .. 16 KiB */
    opts.max_conns = 1 + (p[2] & 3);
    opts.max_requests = (p[2] >> 2) & 3;
    opts.on_close = on_close;
    /* Ending states wait for the client this long once all is
     * acknowledged: short, so the end of an input need not wait seconds
     * (a connection past ERROR or DONE reads no more, and learns of its
     * client's reset only from its timer). */
    opts.grace_ms = opts.close_wait_ms = 1;
#ifdef FUZZ_HTTP
    opts.proto = TW_PROTO_HTTP;
    opts.on_http = on_http;
    opts.after_fin = (p[3] & 1) ? TW_AFTER_FIN_RST : TW_AFTER_FIN_FIN;
    if (p[3] & 2)
        opts.http_limits = (struct tw_http_limits){
            .max_line = 64, .max_head = 256, .max_headers = 8, .max_body = 64};
    reply_max = sizeof(big) + 512;
#else
    opts.proto = TW_PROTO_TWP;
    opts.on_data = on_data;
    reply_max = 3 * ((uint64_t)opts.max_frame + TW_TWP_HDR);
#endif
    p += 4;
    if ((r = tw_server_start(loop, &opts, &srv)) < 0 || tw_server_local(srv, &at) < 0) {
        fprintf(stderr, "fuzz_session: server: %s\n", tw_strerror(r));
        abort();
    }
    ncl = 0;
    connect_one();
    if (!ncl) {
        tw_server_free(srv);
        srv = NULL;
        return 0;
    }
    k = &cl[0];
    step();
    while (p < end) {
        uint8_t op = *p++;
        size_t n;

        switch (op % 10) {
        case 0: case 1: case 2: /* send the next n bytes */
            n = p < end ? 1 + *p++ : 0;
            if (n > (size_t)(end - p))
                n = (size_t)(end - p);
            if (k->fd >= 0 && !k->fin_sent && n)
                sent(k, send(k->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL));
            last = p, last_len = n;
            p += n;
            break;
        case 3: /* flood: the last chunk again, up to 64 x 64 times */
            n = p < end ? 1 + (*p++ & 63) * 64 : 1;
            for (size_t i = 0; i < n && last_len && k->fd >= 0 && !k->fin_sent; i++)
                if (sent(k, send(k->fd, last, last_len, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0)
                    break;
            break;
        case 4: /* read what is there; reading on or off from now */
            drain(k);
            k->reading = !k->reading;
            break;
        case 5: /* half-close */
            if (k->fd >= 0 && !k->fin_sent) {
                shutdown(k->fd, SHUT_WR);
                k->fin_sent = true;
            }
            break;
        case 6: /* reset */
            reset_one(k);
            break;
        case 7:
            connect_one();
            k = &cl[ncl - 1];
            break;
        case 8:
            k = &cl[(p < end ? *p++ : 0) % ncl];
            break;
        case 9: /* the held answers */
            for (int i = 0; i < MAXHELD; i++)
                if (held[i]) {
                    tw_sconn *c = held[i];
                    held[i] = NULL;
                    answer(c);
                }
            break;
        }
        step();
    }
    for (int i = 0; i < MAXHELD; i++)
        if (held[i]) {
            tw_sconn *c = held[i];
            held[i] = NULL;
            answer(c);
        }
    for (int i = 0; i < ncl; i++)
        reset_one(&cl[i]);
    for (int i = 0; i < 200 && tw_server_conns(srv); i++) {
        tw_loop_run_once(loop, 2);
        step();
    }
    if (tw_server_conns(srv))
        fail("a connection outlived its client's reset by 400 ms");
    /* Every FIN a client saw before sending its own was one HTTP required
     * (counted when that connection ended). */
    unsigned first = 0;
    for (int i = 0; i < ncl; i++)
        first += cl[i].eof_first;
    if (first > tw_server_stats(srv)->closed_first_required)
        fail("the server's FIN came first, and was not one the protocol required");
    tw_server_free(srv);
    srv = NULL;
    return 0;
}
