/* How twp connections end (docs/PROTOCOL.md, "Ending a connection"), one
 * test per bug the server had before its timers measured progress: a slow
 * reader cut at the idle timeout, a FIN never read after DONE behind a full
 * output buffer, bytes after BYE ignored, DONE sent before HELLO, a client
 * answering PING after its own BYE or closing on a DONE that crossed it,
 * --max-frame refusing HELLO, a frame trickling in held forever. And the
 * endings counters adding up to what was accepted.
 *
 * Raw sockets play the clients (and, for the client's own tests, the
 * server), so every byte on the wire is the test's to check. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "twp_lab.h"

TestSuite(twp_endings, .init = twp_lab_setup, .fini = twp_lab_teardown, .timeout = 120);

/* ---- raw clients ---- */


/* A client socket whose receive buffer is small from the handshake on (so
 * is the window it advertises): the server's replies back up at once.
 * Blocking connect (the kernel completes the handshake without accept);
 * all I/O on it uses MSG_DONTWAIT. */
static int small_connect(int rcvbuf)
{
    int fd;

    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    tw_lab_leave(&lab);
    cr_assert_geq(fd, 0);
    cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    cr_assert_eq(connect(fd, &dst.u.sa, dst.len), 0, "connect: %s", strerror(errno));
    return fd;
}

/* Write it all, running the loop while the socket is full (10 s at most). */
static void raw_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t end = tw_now_ms() + 10000;

    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        cr_assert(w < 0 && (errno == EAGAIN || errno == EINTR), "send: %s", strerror(errno));
        cr_assert_lt(tw_now_ms(), end, "send stuck with %zu bytes left", n);
        tw_loop_run_once(loop, 5);
    }
}

static void raw_frame(int fd, uint8_t type, const void *p, uint32_t len)
{
    uint8_t *f = malloc(TW_TWP_HDR + (size_t)len);

    cr_assert_not_null(f);
    raw_write_all(fd, f, tw_twp_put(f, type, p, len));
    free(f);
}

static void raw_send(int fd, uint8_t type, const char *p)
{
    raw_frame(fd, type, p, p ? (uint32_t)strlen(p) : 0);
}

static uint64_t checksum(uint64_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sum = sum * 31 + p[i];
    return sum;
}

/* Pseudo-random payload bytes, reproducible from the seed. */
static void fill(uint8_t *p, size_t n, unsigned *seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rand_r(seed);
}

/* What one side of a raw connection has received, frame by frame, and what
 * it still has to send while it reads. */
#define RX_BUF (256 * 1024)
struct rx {
    char types[128];         /* frame types in order, as digits */
    size_t nt;
    uint32_t count[16];      /* frames per type */
    uint64_t bytes;          /* bytes read */
    uint64_t data_bytes, data_sum; /* DATA payloads */
    uint8_t data[16];        /* the start of the last DATA payload */
    uint32_t data_len;
    uint8_t pong[64];        /* the last PONG's payload */
    uint32_t pong_len;
    uint16_t err_code;       /* the last ERROR's code */
    int end;                 /* 0: open; 1: EOF; -errno: read failed */
    bool hold;               /* do not read (the client that does not read) */
    const uint8_t *tx;       /* bytes to send while reading */
    size_t tx_len, tx_off;
    size_t have;
    uint8_t buf[RX_BUF];
};

static struct rx ra, rb, rc;

static void rx_reset(struct rx *r)
{
    memset(r, 0, sizeof(*r));
}

static void rx_parse(struct rx *r)
{
    size_t off = 0;

    for (;;) {
        struct tw_twp_frame f;
        int n = tw_twp_parse(r->buf + off, r->have - off, RX_BUF - TW_TWP_HDR, &f);
        if (n == 0)
            break;
        cr_assert_gt(n, 0, "a bad frame on the wire: %s", tw_errname(n));
        if (r->nt + 1 < sizeof(r->types)) {
            r->types[r->nt++] = (char)('0' + f.type);
            r->types[r->nt] = '\0';
        }
        r->count[f.type & 15]++;
        if (f.type == TW_TWP_DATA) {
            r->data_bytes += f.len;
            r->data_sum = checksum(r->data_sum, f.payload, f.len);
            r->data_len = f.len;
            memcpy(r->data, f.payload, f.len < sizeof(r->data) ? f.len : sizeof(r->data));
        } else if (f.type == TW_TWP_PONG) {
            r->pong_len = f.len;
            memcpy(r->pong, f.payload, f.len);
        } else if (f.type == TW_TWP_ERROR) {
            r->err_code = (uint16_t)(f.payload[0] << 8 | f.payload[1]);
        }
        off += (size_t)n;
    }
    memmove(r->buf, r->buf + off, r->have - off);
    r->have -= off;
}

/* Send what r->tx still holds and read (unless r->hold), running the
 * loop, until a frame of type `stop` has arrived on r (stop 0: until the
 * connection ends) or ms pass. Returns whether that happened. */
static bool rx_until(int fd, struct rx *r, uint8_t stop, uint64_t ms)
{
    uint64_t end = tw_now_ms() + ms;

    for (;;) {
        bool moved = false;

        if (r->tx_off < r->tx_len) {
            ssize_t w = send(fd, r->tx + r->tx_off, r->tx_len - r->tx_off,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) {
                r->tx_off += (size_t)w;
                moved = true;
            } else if (errno != EAGAIN && errno != EINTR) {
                r->end = -errno;
            }
        }
        if (!r->hold && !r->end) {
            ssize_t n;
            cr_assert_lt(r->have, RX_BUF, "a frame larger than the test's buffer");
            n = recv(fd, r->buf + r->have, RX_BUF - r->have, MSG_DONTWAIT);
            if (n > 0) {
                r->have += (size_t)n;
                r->bytes += (uint64_t)n;
                rx_parse(r);
                moved = true;
            } else if (n == 0) {
                r->end = 1;
            } else if (errno != EAGAIN && errno != EINTR) {
                r->end = -errno;
            }
        }
        if (stop && r->count[stop & 15])
            return true;
        if (r->end)
            return !stop;
        if (tw_now_ms() >= end)
            return false;
        tw_loop_run_once(loop, moved ? 0 : 5);
    }
}

static const char *rx_end_name(const struct rx *r)
{
    return r->end == 0 ? "still open" : r->end == 1 ? "EOF" : tw_errname(r->end);
}

static bool one_conn(void) { return tw_server_conns(srv) == 1; }

/* Every connection ends exactly one way, so once none is active the
 * endings add up to what was accepted. */
static void assert_endings_add_up(const char *what)
{
    const struct tw_server_stats *st = tw_server_stats(srv);
    uint64_t sum = 0;

#define ADD_END(name, kind, prom, help) sum += strcmp(#kind, "END") == 0 ? st->name : 0;
    TW_SERVER_STATS(ADD_END)
#undef ADD_END

    cr_assert_eq(st->active, 0, "%s: %llu still active", what, (unsigned long long)st->active);
    cr_assert_eq(st->accepted, sum, "%s: %llu accepted, %llu endings counted", what,
                 (unsigned long long)st->accepted, (unsigned long long)sum);
    cr_assert_eq(st->first_fin_refused, 0, "%s", what);
}

/* ---- twkit's client ---- */

enum cl_mode { CL_PLAIN, CL_DONE, CL_BYE, CL_CLOSE, CL_ABORT };

static struct {
    enum cl_mode mode;
    int ready, replies, closed;
    uint64_t data_bytes;
    enum tw_client_end how;
    int err;
} cl;

static void cl_ready(tw_client *c)
{
    (void)c;
    cl.ready++;
}

static void cl_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    (void)p;
    cl.data_bytes += len;
    if (++cl.replies == 1 && cl.mode == CL_CLOSE)
        tw_client_close(c);
    else if (cl.replies == 1 && cl.mode == CL_ABORT)
        tw_client_abort(c);
}

static void cl_close(tw_client *c, enum tw_client_end how, int err)
{
    (void)c;
    cl.closed++;
    cl.how = how;
    cl.err = err;
}

static bool cl_ended(void) { return cl.closed > 0; }
static bool cl_is_ready(void) { return cl.ready > 0 || cl.closed > 0; }
static bool cl_over(void) { return cl.closed > 0 && tw_server_conns(srv) == 0; }

static tw_client *cl_connect(const tw_addr *to, enum cl_mode mode, uint32_t max_frame)
{
    struct tw_client_opts o = {.dst = *to, .max_frame = max_frame, .on_ready = cl_ready,
                               .on_data = cl_data, .on_close = cl_close};
    tw_client *c;
    int r;

    memset(&cl, 0, sizeof(cl));
    cl.mode = mode;
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_CLIENT), 0);
    r = tw_client_connect(loop, &o, &c);
    tw_lab_leave(&lab);
    cr_assert_eq(r, 0, "%s", tw_errname(r));
    return c;
}

/* One session of twkit's client against srv, ending as mode says. */
static void client_session(enum cl_mode mode, enum tw_client_end want)
{
    tw_client *c = cl_connect(&dst, mode, 0);

    for (int i = 0; i < (mode == CL_DONE ? 3 : 1); i++)
        cr_assert_eq(tw_client_send(c, "request", 7), 0);
    if (mode == CL_BYE)
        cr_assert_eq(tw_client_bye(c), 0);
    run_until(cl_over, 5000);
    cr_assert(cl_over(), "session (mode %d) did not end", mode);
    cr_assert_eq(cl.how, want, "ended %s (%s), not %s", tw_client_end_name(cl.how),
                 tw_errname(cl.err), tw_client_end_name(want));
}

/* ---- 7. a slow reader that never PINGs is not idle ---- */

#define SR_FRAMES 256
#define SR_FRAME 8192 /* 256 x 8 KiB: 2 MiB of DATA */
#define SR_READ 2048  /* read this much ... */
#define SR_PAUSE_US 4000 /* ... then sleep: about 500 KB/s, 4 s for it all */

static struct {
    int fd;
    uint8_t *tx;
    size_t tx_len;
    uint64_t sent_bytes, sent_sum;
    uint64_t got_bytes, got_sum, got_frames;
    char first_type;
    uint64_t t0, t_all, t_end;
    int end; /* how reading ended: 1 EOF, -errno, 0 the thread's own deadline */
    atomic_bool all_in, over;
} sr;

/* Writes everything as fast as the server takes it, reads the echoes
 * slowly, and goes on reading after the last one until the server ends
 * the connection. */
static void *slow_echo_reader(void *arg)
{
    static uint8_t in[64 * 1024];
    size_t have = 0, off = 0;
    uint64_t deadline = tw_now_ms() + 60000;

    (void)arg;
    sr.t0 = tw_now_ms();
    while (tw_now_ms() < deadline) {
        ssize_t n;

        while (off < sr.tx_len) {
            n = send(sr.fd, sr.tx + off, sr.tx_len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        n = recv(sr.fd, in + have, SR_READ, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            sr.end = n == 0 ? 1 : -errno;
            break;
        }
        if (n > 0) {
            have += (size_t)n;
            for (;;) {
                struct tw_twp_frame f;
                int r = tw_twp_parse(in, have, SR_FRAME, &f);
                if (r <= 0)
                    break;
                if (!sr.first_type)
                    sr.first_type = (char)f.type;
                if (f.type == TW_TWP_DATA) {
                    sr.got_frames++;
                    sr.got_bytes += f.len;
                    sr.got_sum = checksum(sr.got_sum, f.payload, f.len);
                }
                memmove(in, in + r, have - (size_t)r);
                have -= (size_t)r;
            }
        }
        if (!atomic_load(&sr.all_in) && off == sr.tx_len && sr.got_bytes == sr.sent_bytes) {
            sr.t_all = tw_now_ms();
            atomic_store(&sr.all_in, true);
            deadline = sr.t_all + 5000; /* now wait for the idle timeout */
        }
        usleep(SR_PAUSE_US);
    }
    sr.t_end = tw_now_ms();
    atomic_store(&sr.over, true);
    return NULL;
}

/* The old server restarted the idle timer on reads only: once the client
 * had sent everything (or the server stopped reading it, its replies
 * backed up), the idle timeout cut it off with replies still queued. Idle
 * means no byte either way; a reader taking 2 MiB at 500 KB/s is not. */
Test(twp_endings, slow_reader_without_ping_is_not_idle)
{
    pthread_t th;
    unsigned seed = 11;
    uint8_t *p;
    bool idle_while_moving = false;
    uint64_t end;

    NEED_ROOT();
    /* stall_timeout: the stall rule (1 KiB per 10 s by default) is not at
     * issue here, but while output is in flight the timer is next due at the
     * stall window's end, and only then learns that the last byte was
     * acknowledged: the idle abort after the transfer comes up to a window
     * late. A 1 s window keeps that wait short. */
    start_server(&(struct tw_server_opts){.idle_timeout_ms = 300, .stall_timeout_ms = 1000});
    memset(&sr, 0, sizeof(sr));
    sr.tx_len = 9 + (size_t)SR_FRAMES * (TW_TWP_HDR + SR_FRAME);
    cr_assert_not_null(sr.tx = p = malloc(sr.tx_len));
    p += tw_twp_put(p, TW_TWP_HELLO, tw_twp_hello, 4);
    for (int i = 0; i < SR_FRAMES; i++) {
        tw_twp_put_header(p, TW_TWP_DATA, SR_FRAME);
        fill(p + TW_TWP_HDR, SR_FRAME, &seed);
        sr.sent_sum = checksum(sr.sent_sum, p + TW_TWP_HDR, SR_FRAME);
        sr.sent_bytes += SR_FRAME;
        p += TW_TWP_HDR + SR_FRAME;
    }
    sr.fd = small_connect(4096);
    cr_assert_eq(pthread_create(&th, NULL, slow_echo_reader, NULL), 0);
    end = tw_now_ms() + 70000;
    while (!atomic_load(&sr.over) && tw_now_ms() < end) {
        tw_loop_run_once(loop, 10);
        /* aborted while echoes were still on their way: the bug */
        if (!atomic_load(&sr.all_in) && tw_server_stats(srv)->aborted_idle)
            idle_while_moving = true;
    }
    pthread_join(th, NULL);
    run_until(no_conns, 3000);
    close(sr.fd);
    free(sr.tx);

    const struct tw_server_stats *st = tw_server_stats(srv);
    cr_assert_eq(sr.first_type, TW_TWP_HELLO);
    cr_assert(!idle_while_moving, "aborted_idle while bytes were moving, after %llu of %llu bytes",
              (unsigned long long)sr.got_bytes, (unsigned long long)sr.sent_bytes);
    cr_assert(atomic_load(&sr.all_in), "reading ended (%s) after %llu of %llu bytes",
              sr.end == 1 ? "EOF" : tw_errname(sr.end), (unsigned long long)sr.got_bytes,
              (unsigned long long)sr.sent_bytes);
    cr_assert_eq(sr.got_frames, SR_FRAMES);
    cr_assert_eq(sr.got_bytes, sr.sent_bytes);
    cr_assert_eq(sr.got_sum, sr.sent_sum, "echoed bytes differ");
    cr_assert_gt(sr.t_all - sr.t0, 2000, "the transfer took %llu ms: not slow enough to test",
                 (unsigned long long)(sr.t_all - sr.t0));
    /* Then, with nothing moving, the idle timeout does apply. */
    cr_assert_eq(sr.end, -ECONNRESET, "after the transfer: %s",
                 sr.end == 1 ? "EOF" : tw_errname(sr.end));
    /* idle counts from the client TCP's last ACK, which may come a little
     * before the reader took the last byte; both clocks are in ms */
    cr_assert_geq(sr.t_end - sr.t_all, 280, "reset %llu ms after the last byte",
                  (unsigned long long)(sr.t_end - sr.t_all));
    cr_assert_leq(sr.t_end - sr.t_all, 1000 + 300 + 500, "reset %llu ms after the last byte",
                  (unsigned long long)(sr.t_end - sr.t_all));
    cr_assert_eq(st->aborted_idle, 1);
    cr_assert_eq(st->aborted_stalled, 0);
    cr_assert_eq(st->accepted, 1);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
}

/* ---- 8. after DONE, with more than max_outbuf queued, the FIN is read ---- */

#define BIG 65536

/* The old server stopped reading when its output passed max_outbuf and
 * resumed only in OPEN: a DONE queued behind a backlog left reading off for
 * good, the client's FIN was never seen, and a client that did everything
 * right was aborted at the grace period (no TIME_WAIT where the protocol
 * puts it: on the client). */
Test(twp_endings, fin_after_done_is_read_behind_a_full_output_buffer)
{
    uint8_t *tx, *p;
    uint64_t sum = 0;
    unsigned seed = 3;
    size_t len = 9 + 4 * (TW_TWP_HDR + (size_t)BIG);
    int fd;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.max_outbuf = BIG, .max_requests = 4, .grace_ms = 300});
    cr_assert_not_null(tx = p = malloc(len));
    p += tw_twp_put(p, TW_TWP_HELLO, tw_twp_hello, 4);
    for (int i = 0; i < 4; i++) {
        tw_twp_put_header(p, TW_TWP_DATA, BIG);
        fill(p + TW_TWP_HDR, BIG, &seed);
        sum = checksum(sum, p + TW_TWP_HDR, BIG);
        p += TW_TWP_HDR + BIG;
    }
    fd = small_connect(4096);
    rx_reset(&ra);
    ra.tx = tx;
    ra.tx_len = len;
    /* Send without reading (as far as the server takes it: it stops reading
     * once max_outbuf of replies wait), for longer than the grace period. */
    ra.hold = true;
    cr_assert(!rx_until(fd, &ra, 0, 300));
    cr_assert_eq(ra.end, 0, "%s", rx_end_name(&ra));
    /* Then read everything up to DONE (sending the rest), and close. */
    ra.hold = false;
    cr_assert(rx_until(fd, &ra, TW_TWP_DONE, 10000), "no DONE: %s, got %s", rx_end_name(&ra),
              ra.types);
    cr_assert_eq(ra.tx_off, len);
    cr_assert_str_eq(ra.types, "122226");
    cr_assert_eq(ra.data_bytes, 4ull * BIG);
    cr_assert_eq(ra.data_sum, sum, "echoed bytes differ");
    cr_assert_eq(ra.have, 0, "bytes after DONE");
    close(fd); /* our FIN */
    run_until(no_conns, 3000);
    free(tx);

    const struct tw_server_stats *st = tw_server_stats(srv);
    cr_assert_eq(st->aborted_grace, 0, "the server did not see the FIN and aborted at grace");
    cr_assert_eq(st->closed_after_done, 1);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 1);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
}

/* ---- 9. a frame after BYE is a STATE error ---- */

/* The old server discarded what followed BYE, sent no ERROR, and aborted
 * at the grace period, counting the client as one that ignored GOODBYE. */
Test(twp_endings, frame_after_bye_is_a_state_error)
{
    uint8_t buf[64], *p = buf;
    int fd;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){0});
    /* HELLO, BYE and DATA in one segment */
    p += tw_twp_put(p, TW_TWP_HELLO, tw_twp_hello, 4);
    p += tw_twp_put(p, TW_TWP_BYE, NULL, 0);
    p += tw_twp_put(p, TW_TWP_DATA, "late", 4);
    fd = raw_connect();
    raw_write_all(fd, buf, (size_t)(p - buf));
    rx_reset(&ra);
    cr_assert(rx_until(fd, &ra, 0, 5000), "no end: %s", ra.types);
    cr_assert_str_eq(ra.types, "185", "HELLO, GOODBYE, ERROR expected, got %s", ra.types);
    cr_assert_eq(ra.err_code, TW_TWP_E_STATE);
    cr_assert_eq(ra.end, -ECONNRESET, "%s", rx_end_name(&ra));
    close(fd);
    /* the DATA in a later segment, once GOODBYE is in */
    fd = raw_connect();
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    raw_send(fd, TW_TWP_BYE, NULL);
    rx_reset(&rb);
    cr_assert(rx_until(fd, &rb, TW_TWP_GOODBYE, 3000), "no GOODBYE: %s", rb.types);
    raw_send(fd, TW_TWP_DATA, "late");
    cr_assert(rx_until(fd, &rb, 0, 5000));
    cr_assert_str_eq(rb.types, "185", "HELLO, GOODBYE, ERROR expected, got %s", rb.types);
    cr_assert_eq(rb.err_code, TW_TWP_E_STATE);
    cr_assert_eq(rb.end, -ECONNRESET, "%s", rx_end_name(&rb));
    close(fd);
    run_until(no_conns, 3000);

    const struct tw_server_stats *st = tw_server_stats(srv);
    cr_assert_eq(st->aborted_invalid, 2);
    cr_assert_eq(st->bye_goodbye, 0);
    cr_assert_eq(st->aborted_grace, 0);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
}

/* ---- 10. shutdown before the client's HELLO ---- */

/* The old server answered a shutdown before HELLO with DONE as its first
 * frame, which every client must take for a protocol error (twkit's own
 * ended with -EPROTO). Now its HELLO goes first and DONE right behind it;
 * what the client sent with its HELLO arrived after DONE was decided and is
 * not processed (PROTOCOL.md: the server "processes nothing that arrives
 * after it"; the client may send it again elsewhere). */
Test(twp_endings, shutdown_before_hello_sends_hello_then_done)
{
    uint8_t buf[64], *p = buf;
    tw_client *c;
    int fd;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){0});
    fd = raw_connect();
    run_until(one_conn, 2000);
    cr_assert_eq(tw_server_conns(srv), 1, "not accepted");
    tw_server_shutdown(srv);
    rx_reset(&ra);
    cr_assert(!rx_until(fd, &ra, 0, 100));
    cr_assert_eq(ra.bytes, 0, "the server spoke before our HELLO: %s", ra.types);
    p += tw_twp_put(p, TW_TWP_HELLO, tw_twp_hello, 4);
    p += tw_twp_put(p, TW_TWP_DATA, "after shutdown", 14);
    raw_write_all(fd, buf, (size_t)(p - buf));
    cr_assert(rx_until(fd, &ra, TW_TWP_DONE, 3000), "no DONE: %s, %s", ra.types, rx_end_name(&ra));
    cr_assert_str_eq(ra.types, "16", "HELLO, DONE expected, got %s", ra.types);
    cr_assert_eq(ra.data_bytes, 0);
    close(fd); /* the client's part after DONE */
    run_until(no_conns, 3000);
    cr_assert_eq(tw_server_stats(srv)->frames_in, 1, "only the HELLO is processed");
    cr_assert_eq(tw_server_stats(srv)->closed_after_done, 1);
    cr_assert_eq(tw_server_stats(srv)->aborted_grace, 0);
    cr_assert_eq(tw_server_stats(srv)->aborted_shutdown, 0);

    /* twkit's client, its HELLO in the server's socket but not read yet */
    tw_server_free(srv);
    srv = NULL;
    start_server(&(struct tw_server_opts){0});
    c = cl_connect(&dst, CL_PLAIN, 0);
    run_until(one_conn, 2000);
    cr_assert_eq(tw_server_conns(srv), 1, "not accepted");
    cr_assert_eq(tw_server_stats(srv)->frames_in, 0, "the HELLO was read already: not this case");
    tw_server_shutdown(srv);
    run_until(cl_over, 5000);
    cr_assert(cl_over());
    cr_assert_eq(cl.how, TW_CLIENT_END_DONE, "ended %s (%s)", tw_client_end_name(cl.how),
                 tw_errname(cl.err));
    cr_assert_eq(cl.err, 0);
    cr_assert_eq(cl.ready, 1);
    cr_assert_eq(tw_server_stats(srv)->closed_after_done, 1);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 2);
    (void)c;
}

/* ---- 11. twkit's client after its own BYE ---- */

static int fake_listen(uint16_t port, tw_addr *at)
{
    int fd;

    *at = lab.addr4[TW_LAB_SERVER];
    tw_addr_set_port(at, port);
    cr_assert_eq(tw_lab_enter(&lab, TW_LAB_SERVER), 0);
    fd = tw_sock_listen(at, NULL);
    tw_lab_leave(&lab);
    cr_assert_geq(fd, 0, "listen: %s", tw_errname(fd));
    return fd;
}

static int fake_accept(int lfd)
{
    uint64_t end = tw_now_ms() + 3000;
    int fd;

    while ((fd = tw_sock_accept(lfd, NULL)) == -EAGAIN && tw_now_ms() < end)
        tw_loop_run_once(loop, 5);
    cr_assert_geq(fd, 0, "accept: %s", tw_errname(fd));
    return fd;
}

/* The fake server takes the client's HELLO, answers it, has the client say
 * BYE and reads it. */
static int fake_up_to_bye(int lfd, const tw_addr *at, struct rx *r, tw_client **cp)
{
    int fd;

    *cp = cl_connect(at, CL_PLAIN, 0);
    fd = fake_accept(lfd);
    rx_reset(r);
    cr_assert(rx_until(fd, r, TW_TWP_HELLO, 3000), "no HELLO from the client");
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    run_until(cl_is_ready, 3000);
    cr_assert_eq(cl.ready, 1, "the client did not take our HELLO (%s)", tw_errname(cl.err));
    cr_assert_eq(tw_client_bye(*cp), 0);
    cr_assert(rx_until(fd, r, TW_TWP_BYE, 3000), "no BYE: %s", r->types);
    cr_assert_str_eq(r->types, "17");
    return fd;
}

/* The old client answered a PING after its BYE (sending after it said it
 * would not), and closed on a DONE that crossed its BYE, taking a
 * TIME_WAIT (or an error) instead of the GOODBYE it asked for. */
Test(twp_endings, client_after_bye_sends_no_pong_and_waits_for_goodbye)
{
    tw_addr at;
    tw_client *c;
    uint64_t before;
    int lfd, fd;

    NEED_ROOT();
    lfd = fake_listen(7071, &at);

    /* PING after BYE: no PONG, nothing at all */
    fd = fake_up_to_bye(lfd, &at, &ra, &c);
    before = ra.bytes;
    raw_send(fd, TW_TWP_PING, "12345678");
    cr_assert(!rx_until(fd, &ra, 0, 100), "the client ended the connection: %s",
              rx_end_name(&ra));
    cr_assert_eq(ra.count[TW_TWP_PONG], 0, "a PONG after BYE");
    cr_assert_eq(ra.bytes, before, "the client sent %llu bytes after its BYE",
                 (unsigned long long)(ra.bytes - before));
    cr_assert_eq(cl.closed, 0);
    raw_send(fd, TW_TWP_GOODBYE, NULL);
    run_until(cl_ended, 3000);
    cr_assert_eq(cl.closed, 1);
    cr_assert_eq(cl.how, TW_CLIENT_END_GOODBYE, "ended %s (%s)", tw_client_end_name(cl.how),
                 tw_errname(cl.err));
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_eq(ra.end, -ECONNRESET, "%s", rx_end_name(&ra));
    cr_assert_eq(ra.count[TW_TWP_PONG], 0, "a PONG after BYE");
    cr_assert_str_eq(ra.types, "17");
    close(fd);

    /* DONE crossing BYE: wait for GOODBYE, do not close on DONE */
    fd = fake_up_to_bye(lfd, &at, &rb, &c);
    before = rb.bytes;
    raw_send(fd, TW_TWP_DONE, NULL);
    cr_assert(!rx_until(fd, &rb, 0, 100), "the client ended on DONE: %s", rx_end_name(&rb));
    cr_assert_eq(rb.bytes, before, "the client sent after its BYE");
    cr_assert_eq(cl.closed, 0, "the client ended on DONE: %s", tw_client_end_name(cl.how));
    raw_send(fd, TW_TWP_GOODBYE, NULL);
    run_until(cl_ended, 3000);
    cr_assert_eq(cl.closed, 1);
    cr_assert_eq(cl.how, TW_CLIENT_END_GOODBYE, "ended %s (%s)", tw_client_end_name(cl.how),
                 tw_errname(cl.err));
    cr_assert(rx_until(fd, &rb, 0, 3000));
    cr_assert_eq(rb.end, -ECONNRESET, "%s", rx_end_name(&rb));
    close(fd);
    close(lfd);
    cr_assert_eq(time_wait(TW_LAB_CLIENT), 0);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
}

/* ---- 12. --max-frame below 4 ---- */

/* The old parser checked every frame's length against the maximum before
 * its type: with a maximum under 4 HELLO itself was TOO_BIG, and so were
 * PINGs; and an unknown type with a huge length was called TOO_BIG, not
 * BAD_FRAME. The maximum applies to DATA; control frames have their own
 * fixed bounds (ERROR: a code and at most 256 bytes of reason). */
Test(twp_endings, max_frame_below_four_refuses_only_data)
{
    uint8_t f[TW_TWP_HDR + 300];
    struct tw_twp_frame fr;
    tw_client *c;
    int fd;

    /* the parser */
    tw_twp_put_header(f, 9, UINT32_MAX);
    cr_assert_eq(tw_twp_parse(f, 5, 1, &fr), -EPROTO, "unknown type, huge length");
    cr_assert_eq(tw_twp_parse(f, 5, UINT32_MAX, &fr), -EPROTO);
    tw_twp_put_header(f, 0, 1u << 30);
    cr_assert_eq(tw_twp_parse(f, 5, 1, &fr), -EPROTO);
    tw_twp_put_header(f, TW_TWP_DATA, 2);
    cr_assert_eq(tw_twp_parse(f, 5, 1, &fr), -EMSGSIZE, "DATA over the maximum");
    tw_twp_put_header(f, TW_TWP_DATA, 1);
    cr_assert_eq(tw_twp_parse(f, 5, 1, &fr), 0, "DATA at the maximum: needs its byte");
    f[5] = 'x';
    cr_assert_eq(tw_twp_parse(f, 6, 1, &fr), 6);
    cr_assert_eq(tw_twp_put(f, TW_TWP_HELLO, tw_twp_hello, 4), 9);
    cr_assert_eq(tw_twp_parse(f, 9, 1, &fr), 9, "HELLO under a maximum of 1");
    cr_assert_eq(fr.type, TW_TWP_HELLO);
    cr_assert_eq(tw_twp_parse(f, 9, 0, &fr), 9, "HELLO under a maximum of 0");
    tw_twp_put(f, TW_TWP_PING, "12345678", 8);
    cr_assert_eq(tw_twp_parse(f, 13, 1, &fr), 13, "PING under a maximum of 1");
    tw_twp_put_header(f, TW_TWP_PING, TW_TWP_MAX_PING + 1);
    cr_assert_eq(tw_twp_parse(f, 5, UINT32_MAX, &fr), -EPROTO, "PING over 64");
    memset(f + 5, 0, 259);
    tw_twp_put_header(f, TW_TWP_ERROR, 259);
    cr_assert_eq(tw_twp_parse(f, 5, UINT32_MAX, &fr), -EPROTO, "ERROR of 259 bytes");
    cr_assert_eq(tw_twp_parse(f, 5 + 259, UINT32_MAX, &fr), -EPROTO);
    tw_twp_put_header(f, TW_TWP_ERROR, 258);
    cr_assert_eq(tw_twp_parse(f, 5, 1, &fr), 0, "ERROR of 258 bytes: needs its payload");
    cr_assert_eq(tw_twp_parse(f, 5 + 258, 1, &fr), 5 + 258);
    tw_twp_put_header(f, TW_TWP_ERROR, 1);
    cr_assert_eq(tw_twp_parse(f, 5, UINT32_MAX, &fr), -EPROTO, "ERROR without its code");

    /* the server */
    NEED_ROOT();
    start_server(&(struct tw_server_opts){.max_frame = 1});
    fd = raw_connect();
    rx_reset(&ra);
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    cr_assert(rx_until(fd, &ra, TW_TWP_HELLO, 3000), "no HELLO: %s, %s", ra.types,
              rx_end_name(&ra));
    raw_send(fd, TW_TWP_PING, "pingpong");
    cr_assert(rx_until(fd, &ra, TW_TWP_PONG, 3000), "no PONG: %s, %s", ra.types,
              rx_end_name(&ra));
    cr_assert_eq(ra.pong_len, 8);
    cr_assert_arr_eq(ra.pong, "pingpong", 8);
    raw_send(fd, TW_TWP_DATA, "x");
    cr_assert(rx_until(fd, &ra, TW_TWP_DATA, 3000), "no echo: %s, %s", ra.types,
              rx_end_name(&ra));
    cr_assert_eq(ra.data_len, 1);
    cr_assert_eq(ra.data[0], 'x');
    raw_send(fd, TW_TWP_DATA, "xy");
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_str_eq(ra.types, "1425", "HELLO, PONG, DATA, ERROR expected, got %s", ra.types);
    cr_assert_eq(ra.err_code, TW_TWP_E_TOO_BIG);
    cr_assert_eq(ra.end, -ECONNRESET, "%s", rx_end_name(&ra));
    close(fd);
    run_until(no_conns, 3000);
    cr_assert_eq(tw_server_stats(srv)->aborted_invalid, 1);

    /* twkit's client with a maximum of 1 takes the server's HELLO too */
    c = cl_connect(&dst, CL_PLAIN, 1);
    cr_assert_eq(tw_client_send(c, "z", 1), 0);
    cr_assert_eq(tw_client_bye(c), 0);
    run_until(cl_over, 3000);
    cr_assert(cl_over());
    cr_assert_eq(cl.how, TW_CLIENT_END_GOODBYE, "ended %s (%s)", tw_client_end_name(cl.how),
                 tw_errname(cl.err));
    cr_assert_eq(cl.data_bytes, 1);
}

/* ---- 13. a frame that trickles in ---- */

#define STEADY 100000
#define STEADY_CHUNK 1000 /* every 50 ms: 20 KB/s, 6 KB per stall window */

/* The old server restarted its idle timer on every byte: a frame declared
 * 100 KB and sent a byte at a time held its buffer for ever (slowloris).
 * Now at least min_progress bytes must move per stall_timeout while a frame
 * is partly in; a slow but steady sender is not touched. */
Test(twp_endings, trickling_frame_is_aborted_steady_one_is_not)
{
    static uint8_t payload[STEADY];
    uint8_t hdr[TW_TWP_HDR];
    unsigned seed = 5;
    uint64_t t0, took;
    int fd;

    NEED_ROOT();
    /* Steady: 100 KB at 20 KB/s, well above 1 KiB per 300 ms. (The short
     * request_timeout only makes the connection's timer fire early, so the
     * stall rule surely watches this frame whenever it starts to.) */
    start_server(&(struct tw_server_opts){.stall_timeout_ms = 300, .min_progress = 1024,
                                          .request_timeout_ms = 300});
    fill(payload, sizeof(payload), &seed);
    fd = raw_connect();
    rx_reset(&ra);
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    cr_assert(rx_until(fd, &ra, TW_TWP_HELLO, 3000));
    tw_twp_put_header(hdr, TW_TWP_DATA, STEADY);
    raw_write_all(fd, hdr, sizeof(hdr));
    t0 = tw_now_ms();
    for (size_t off = 0; off < STEADY; off += STEADY_CHUNK) {
        raw_write_all(fd, payload + off, STEADY_CHUNK);
        cr_assert(!rx_until(fd, &ra, 0, 50), "ended (%s) after %zu of %u bytes",
                  rx_end_name(&ra), off + STEADY_CHUNK, STEADY);
    }
    cr_assert(rx_until(fd, &ra, TW_TWP_DATA, 5000), "no echo: %s, %s", ra.types,
              rx_end_name(&ra));
    cr_assert_geq(tw_now_ms() - t0, 4500, "not slow enough to span the stall windows");
    cr_assert_eq(ra.data_bytes, STEADY);
    cr_assert_eq(ra.data_sum, checksum(0, payload, STEADY), "echoed bytes differ");
    raw_send(fd, TW_TWP_BYE, NULL);
    cr_assert(rx_until(fd, &ra, TW_TWP_GOODBYE, 3000));
    tw_sock_abort(fd);
    run_until(no_conns, 3000);
    cr_assert_eq(tw_server_stats(srv)->aborted_stalled, 0);
    cr_assert_eq(tw_server_stats(srv)->bye_goodbye, 1);
    tw_server_free(srv);
    srv = NULL;

    /* Trickling: the header, then a byte every 50 ms, on a server with only
     * the stall rule set (idle and request timeouts at their defaults). */
    start_server(&(struct tw_server_opts){.stall_timeout_ms = 300, .min_progress = 1024});
    fd = raw_connect();
    rx_reset(&rb);
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    cr_assert(rx_until(fd, &rb, TW_TWP_HELLO, 3000));
    raw_write_all(fd, hdr, sizeof(hdr));
    t0 = tw_now_ms();
    /* up to 15 s, to say when the reset came if it is late */
    while (!rb.end && tw_now_ms() - t0 < 15000) {
        if (send(fd, "t", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
            rb.end = -errno;
            break;
        }
        rx_until(fd, &rb, 0, 50);
    }
    took = tw_now_ms() - t0;
    close(fd);
    run_until(no_conns, 1000);
    cr_assert(rb.end == -ECONNRESET || rb.end == -EPIPE, "%s after %llu ms", rx_end_name(&rb),
              (unsigned long long)took);
    cr_assert_leq(took, 1500, "reset only after %llu ms (stall_timeout 300 ms)",
                  (unsigned long long)took);
    cr_assert_eq(rb.data_bytes, 0);
    cr_assert_eq(tw_server_stats(srv)->aborted_stalled, 1);
    cr_assert_eq(time_wait(TW_LAB_SERVER), 0);
}

/* ---- the endings add up ---- */

/* Each ending once or twice, on one server; then naive_close and HTTP's
 * required FIN on servers of their own. */
Test(twp_endings, endings_add_up_to_accepted)
{
    const struct tw_server_stats *st;
    char buf[4096];
    uint8_t hdr[TW_TWP_HDR];
    int fd, a, b, c;

    NEED_ROOT();
    start_server(&(struct tw_server_opts){.max_requests = 3, .idle_timeout_ms = 500,
                                          .grace_ms = 200, .request_timeout_ms = 300,
                                          .stall_timeout_ms = 300, .shutdown_timeout_ms = 100,
                                          .max_conns = 2});
    st = tw_server_stats(srv);
    for (int i = 0; i < 2; i++) {
        client_session(CL_DONE, TW_CLIENT_END_DONE);
        client_session(CL_BYE, TW_CLIENT_END_GOODBYE);
        client_session(CL_CLOSE, TW_CLIENT_END_CLOSED);
        client_session(CL_ABORT, TW_CLIENT_END_ABORTED);
    }

    /* idle after HELLO */
    fd = raw_connect();
    rx_reset(&ra);
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_eq(ra.end, -ECONNRESET, "idle: %s", rx_end_name(&ra));
    close(fd);
    /* DONE ignored */
    fd = raw_connect();
    rx_reset(&ra);
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    for (int i = 0; i < 3; i++)
        raw_send(fd, TW_TWP_DATA, "x");
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_str_eq(ra.types, "12226");
    cr_assert_eq(ra.end, -ECONNRESET, "grace: %s", rx_end_name(&ra));
    close(fd);
    /* garbage */
    fd = raw_connect();
    rx_reset(&ra);
    raw_write_all(fd, "GET / HTTP/1.1\r\n\r\n", 18);
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_str_eq(ra.types, "5");
    close(fd);
    /* half a HELLO */
    fd = raw_connect();
    rx_reset(&ra);
    raw_write_all(fd, "\0\0", 2);
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_eq(ra.end, -ECONNRESET, "slow: %s", rx_end_name(&ra));
    close(fd);
    /* a frame's header and nothing more */
    fd = raw_connect();
    rx_reset(&ra);
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    tw_twp_put_header(hdr, TW_TWP_DATA, 100000);
    raw_write_all(fd, hdr, sizeof(hdr));
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_eq(ra.end, -ECONNRESET, "stalled: %s", rx_end_name(&ra));
    close(fd);
    run_until(no_conns, 3000);

    /* the table full (max_conns 2): the one idle longest is reaped */
    a = raw_connect();
    rx_reset(&ra);
    raw_send(a, TW_TWP_HELLO, "twp\x01");
    raw_send(a, TW_TWP_DATA, "a");
    cr_assert(rx_until(a, &ra, TW_TWP_DATA, 3000));
    b = raw_connect();
    rx_reset(&rb);
    raw_send(b, TW_TWP_HELLO, "twp\x01");
    raw_send(b, TW_TWP_DATA, "b");
    cr_assert(rx_until(b, &rb, TW_TWP_DATA, 3000));
    c = raw_connect();
    rx_reset(&rc);
    cr_assert(rx_until(a, &ra, 0, 3000));
    cr_assert_eq(ra.end, -ECONNRESET, "reaped: %s", rx_end_name(&ra));
    cr_assert_eq(st->reaped_idle, 1);
    close(a);
    close(b); /* these two: closed_by_peer */
    close(c);
    run_until(no_conns, 3000);

    /* open at the shutdown timeout (shorter than grace) */
    fd = raw_connect();
    rx_reset(&ra);
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    cr_assert(rx_until(fd, &ra, TW_TWP_HELLO, 3000));
    tw_server_shutdown(srv);
    cr_assert(rx_until(fd, &ra, 0, 3000));
    cr_assert_str_eq(ra.types, "16");
    cr_assert_eq(ra.end, -ECONNRESET, "shutdown: %s", rx_end_name(&ra));
    close(fd);
    run_until(no_conns, 3000);

    cr_assert_eq(st->closed_after_done, 2);
    cr_assert_eq(st->bye_goodbye, 2);
    cr_assert_eq(st->closed_by_peer, 4);
    cr_assert_eq(st->peer_reset, 2);
    cr_assert_eq(st->aborted_idle, 1);
    cr_assert_eq(st->aborted_grace, 1);
    cr_assert_eq(st->aborted_invalid, 1);
    cr_assert_eq(st->aborted_slow, 1);
    cr_assert_eq(st->aborted_stalled, 1);
    cr_assert_eq(st->reaped_idle, 1);
    cr_assert_eq(st->aborted_shutdown, 1);
    cr_assert_eq(st->closed_first_required, 0);
    cr_assert_eq(st->naive_closed, 0);
    cr_assert_eq(st->accepted, 17);
    assert_endings_add_up("twp");

    /* naive_close: the server's FIN first */
    tw_server_free(srv);
    srv = NULL;
    start_server(&(struct tw_server_opts){.naive_close = true});
    st = tw_server_stats(srv);
    client_session(CL_PLAIN, TW_CLIENT_END_SERVER_FIN);
    client_session(CL_PLAIN, TW_CLIENT_END_SERVER_FIN);
    cr_assert_eq(st->naive_closed, 2);
    assert_endings_add_up("naive_close");

    /* HTTP/1.0 without keep-alive: the FIN the protocol requires */
    tw_server_free(srv);
    srv = NULL;
    start_server(&(struct tw_server_opts){.proto = TW_PROTO_HTTP});
    st = tw_server_stats(srv);
    fd = raw_connect();
    raw_write_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
    {
        uint64_t end = tw_now_ms() + 3000;
        size_t have = 0;
        ssize_t n = -1;
        while (tw_now_ms() < end) {
            n = recv(fd, buf + have, sizeof(buf) - 1 - have, MSG_DONTWAIT);
            if (n > 0)
                have += (size_t)n;
            else if (n == 0 || errno != EAGAIN)
                break;
            tw_loop_run_once(loop, 5);
        }
        buf[have] = '\0';
        cr_assert_eq(n, 0, "no FIN from the server: %s", n < 0 ? strerror(errno) : "timeout");
        cr_assert_not_null(strstr(buf, " 404 "), "%s", buf);
    }
    close(fd);
    run_until(no_conns, 3000);
    cr_assert_eq(st->closed_first_required, 1);
    assert_endings_add_up("http");
}

/* A twp application can keep a connection and send DATA on it later, from
 * the loop, until on_close says it is gone. */
static struct {
    tw_sconn *c;
    int opened, closed;
} later;

static void later_open(tw_sconn *c, void *data)
{
    later.opened++;
    later.c = c;
    tw_sconn_set_data(c, &later);
}
static void later_close(tw_sconn *c, void *data)
{
    cr_assert_eq(tw_sconn_data(c), &later);
    later.closed++;
    later.c = NULL;
}

Test(twp_endings, send_later_until_on_close)
{
    int fd;

    NEED_ROOT();
    memset(&later, 0, sizeof(later));
    start_server(&(struct tw_server_opts){.on_open = later_open, .on_close = later_close});
    fd = raw_connect();
    raw_send(fd, TW_TWP_HELLO, "twp\x01");
    for (int i = 0; i < 20; i++)
        tw_loop_run_once(loop, 5);
    cr_assert_eq(later.opened, 1);
    cr_assert_not_null(later.c);
    cr_assert_eq(tw_sconn_send(later.c, "late", 4), 0);
    cr_assert_eq(tw_sconn_send(NULL, "x", 1), -EINVAL);
    raw_send(fd, TW_TWP_BYE, NULL);
    rx_reset(&ra);
    cr_assert(rx_until(fd, &ra, TW_TWP_GOODBYE, 2000), "no GOODBYE: %s", ra.types);
    cr_assert_str_eq(ra.types, "128", "HELLO, the late DATA, GOODBYE");
    cr_assert_eq(memcmp(ra.data, "late", 4), 0);
    tw_sock_abort(fd);
    run_until(no_conns, 2000);
    cr_assert_eq(later.closed, 1);
    cr_assert_null(later.c);
}
