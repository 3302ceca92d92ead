/* The twp client connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/internal.h"
#include "core/buf.h"
#include "twkit/client.h"
#include "twkit/twp.h"

#define SCRATCH (64 * 1024)

/* Reads land here and are parsed in place; only an incomplete frame is
 * copied into the client's own buffer. One per thread, not per client:
 * a read handler never runs inside another. */
static __thread uint8_t scratch[SCRATCH];

enum cstate { CS_CONNECTING, CS_HELLO_WAIT, CS_READY, CS_BYE_SENT, CS_DONE_RECEIVED,
              CS_CLOSING };

struct tw_client {
    tw_loop *loop;
    struct tw_client_opts o;
    tw_connect conn;
    tw_io io;
    tw_timer ping;
    tw_closer closer;
    enum cstate state;
    bool in_cb;          /* inside a read handler: free after it */
    bool ended;
    bool greeted;        /* the server's HELLO arrived */
    bool connected;      /* the TCP connection is up (output can flow) */
    struct tw__buf in, out;
};

const char *tw_client_end_name(enum tw_client_end e)
{
    static const char *const n[] = {"goodbye", "done", "closed", "aborted", "server-fin",
                                    "error"};
    return (unsigned)e < sizeof(n) / sizeof(n[0]) ? n[e] : "?";
}

static void client_free(tw_client *c)
{
    tw__buf_free(&c->in);
    tw__buf_free(&c->out);
    free(c);
}

/* Report the end once; the fd must already be closed or handed over. */
static void end(tw_client *c, enum tw_client_end how, int err)
{
    bool in_cb = c->in_cb; /* read_input frees it after its callbacks */

    if (c->ended)
        return;
    c->ended = true;
    tw_timer_stop(&c->ping);
    tw_io_forget(&c->io); /* closed or handed over already */
    c->io.fd = -1;
    if (c->o.on_close)
        c->o.on_close(c, how, err);
    if (!in_cb)
        client_free(c);
}

static void end_abort(tw_client *c, enum tw_client_end how, int err)
{
    if (c->io.fd >= 0)
        tw_sock_abort(c->io.fd);
    end(c, how, err);
}

/* Returns -errno when epoll cannot watch the socket (the caller ends). */
static int update_events(tw_client *c)
{
    unsigned want = TW_IO_READ | (c->out.len ? TW_IO_WRITE : 0);
    return want != c->io.events ? tw_io_start(c->loop, &c->io, want) : 0;
}

static int flush(tw_client *c)
{
    int err;

    if (!c->connected || c->io.fd < 0)
        return 0;
    if ((err = tw__buf_write(&c->out, c->io.fd)) < 0 || (err = update_events(c)) < 0) {
        end_abort(c, TW_CLIENT_END_ERROR, err);
        return -1;
    }
    return 0;
}

static int queue(tw_client *c, uint8_t type, const void *p, uint32_t len)
{
    uint8_t hdr[TW_TWP_HDR];

    tw_twp_put_header(hdr, type, len);
    if (tw__buf_append(&c->out, hdr, sizeof(hdr), p, len) < 0)
        return -ENOMEM;
    if (!c->in_cb)
        flush(c);
    return 0;
}

int tw_client_send(tw_client *c, const void *p, uint32_t len)
{
    if (!c || (len && !p))
        return -EINVAL;
    if (c->state > CS_READY)
        return -EPIPE;
    return queue(c, TW_TWP_DATA, p, len);
}

int tw_client_bye(tw_client *c)
{
    if (!c)
        return -EINVAL;
    if (c->state > CS_READY)
        return -EPIPE;
    c->state = CS_BYE_SENT;
    return queue(c, TW_TWP_BYE, NULL, 0);
}

static void on_closed(tw_closer *cl, int result)
{
    tw_client *c = cl->data;
    enum tw_client_end how = c->state == CS_DONE_RECEIVED ? TW_CLIENT_END_DONE
                                                           : TW_CLIENT_END_CLOSED;
    end(c, result == 0 ? how : TW_CLIENT_END_ERROR, result);
}

/* Active close: our FIN first; this side holds the TIME_WAIT. */
static void close_active(tw_client *c, enum cstate st)
{
    int fd = c->io.fd;

    c->state = st;
    tw_timer_stop(&c->ping);
    tw_io_hand_over(&c->io); /* to the closer's watcher */
    c->io.fd = -1;
    if (tw_close_active(c->loop, &c->closer, fd, 2000, on_closed, c) < 0) {
        tw_sock_abort(fd);
        end(c, TW_CLIENT_END_ERROR, -EBADF);
    }
}

/* Close or abort asked by the user: true if there is nothing left to do,
 * because the client is ending already or its connect was still pending
 * (then cancelled and reported as `how`). */
static bool ended_before_connected(tw_client *c, enum tw_client_end how)
{
    if (!c || c->ended || c->state >= CS_CLOSING)
        return true;
    if (c->connected)
        return false;
    tw_connect_cancel(&c->conn);
    end(c, how, 0);
    return true;
}

void tw_client_close(tw_client *c)
{
    if (!ended_before_connected(c, TW_CLIENT_END_CLOSED))
        close_active(c, CS_CLOSING);
}

void tw_client_abort(tw_client *c)
{
    if (!ended_before_connected(c, TW_CLIENT_END_ABORTED))
        end_abort(c, TW_CLIENT_END_ABORTED, 0);
}

/* Returns -1 if the connection ended. */
static int handle_frame(tw_client *c, const struct tw_twp_frame *f)
{
    if (c->ended || c->state >= CS_DONE_RECEIVED)
        return -1; /* closing: nothing after this is for us */
    if (!c->greeted) {
        if (f->type != TW_TWP_HELLO || memcmp(f->payload, tw_twp_hello, 4) != 0) {
            end_abort(c, TW_CLIENT_END_ERROR, -EPROTO);
            return -1;
        }
        c->greeted = true;
        if (c->state == CS_HELLO_WAIT)
            c->state = CS_READY;
        if (c->o.on_ready)
            c->o.on_ready(c);
        return c->ended ? -1 : 0;
    }
    switch (f->type) {
    case TW_TWP_DATA:
        if (c->o.on_data)
            c->o.on_data(c, f->payload, f->len);
        return c->ended ? -1 : 0;
    case TW_TWP_PING: /* after our BYE we send nothing more, PONG included */
        if (c->state == CS_BYE_SENT)
            return 0;
        return queue(c, TW_TWP_PONG, f->payload, f->len) < 0 ? -1 : 0;
    case TW_TWP_PONG:
        return 0;
    case TW_TWP_GOODBYE:
        /* Every reply has been read: abort loses nothing, leaves no TIME_WAIT. */
        end_abort(c, TW_CLIENT_END_GOODBYE, 0);
        return -1;
    case TW_TWP_DONE:
        /* DONE crossed our BYE: the server answers the BYE with GOODBYE
         * all the same, so wait for it and end without TIME_WAIT. */
        if (c->state == CS_BYE_SENT)
            return 0;
        if (c->o.on_done)
            c->o.on_done(c);
        if (!c->ended)
            close_active(c, CS_DONE_RECEIVED);
        return -1;
    case TW_TWP_ERROR:
    default:
        end_abort(c, TW_CLIENT_END_ERROR, -EPROTO);
        return -1;
    }
}

static int parse(tw_client *c, uint8_t *data, uint32_t n)
{
    uint8_t *p;
    uint32_t len, max = c->o.max_frame ? c->o.max_frame : TW_TWP_MAX_FRAME_DEFAULT;
    bool buffered;

    if (tw__buf_input(&c->in, data, n, &p, &len, &buffered) < 0)
        goto fail;
    while (len) {
        struct tw_twp_frame f;
        int r = tw_twp_parse(p, len, max, &f);
        if (r == 0)
            break;
        if (r < 0) {
            end_abort(c, TW_CLIENT_END_ERROR, r);
            return -1;
        }
        if (handle_frame(c, &f) < 0)
            return -1;
        p += r;
        len -= (uint32_t)r;
    }
    if (tw__buf_input_rest(&c->in, buffered, p, len) < 0)
        goto fail;
    return 0;
fail:
    end_abort(c, TW_CLIENT_END_ERROR, -ENOMEM);
    return -1;
}

/* Read and parse what has arrived. Returns false if the client ended and
 * was freed.
 *
 * in_cb is set for the whole loop, so end() only reports and this frees
 * once, at the end. GCC 12 at -O3 cannot see that in_cb survives the
 * callbacks (they get c) and warns of a use after free that cannot happen:
 * silenced here only. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"
#endif
static bool read_input(tw_client *c)
{
    c->in_cb = true;
    for (int i = 0; i < 8 && !c->ended; i++) {
        ssize_t n = read(c->io.fd, scratch, SCRATCH);
        if (n > 0) {
            if (parse(c, scratch, (uint32_t)n) < 0 || n < SCRATCH)
                break;
        } else if (n == 0) {
            /* The server sent the first FIN: only a naive server does. */
            if (tw_sock_close_passive(c->io.fd) < 0)
                tw_sock_abort(c->io.fd);
            end(c, TW_CLIENT_END_SERVER_FIN, 0);
        } else if (errno == EAGAIN || errno == EINTR) {
            break;
        } else {
            end_abort(c, TW_CLIENT_END_ERROR, -errno);
        }
    }
    if (!c->ended && c->state == CS_READY && c->o.on_drained)
        c->o.on_drained(c);
    c->in_cb = false;
    if (c->ended) {
        client_free(c);
        return false;
    }
    return true;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

static void on_io(tw_io *io, unsigned events)
{
    tw_client *c = io->data;

    if ((events & TW_IO_READ) && !read_input(c))
        return;
    if (c->io.fd >= 0)
        flush(c);
}

bool tw__client_usable(tw_client *c)
{
    uint8_t b;

    if (c->state != CS_READY || c->in_cb)
        return c->state == CS_READY;
    if (recv(c->io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN)
        return true;
    /* Input, a FIN or an error is pending: take it in before deciding. */
    if (!read_input(c) || flush(c) < 0)
        return false;
    return c->state == CS_READY;
}

static void on_ping(tw_timer *t)
{
    tw_client *c = t->data;

    if (c->state == CS_READY && queue(c, TW_TWP_PING, NULL, 0) == 0)
        tw_timer_start(c->loop, &c->ping, c->o.ping_interval_ms);
}

static void on_connected(tw_connect *req, int fd)
{
    tw_client *c = req->data;

    if (fd < 0) {
        end(c, TW_CLIENT_END_ERROR, fd);
        return;
    }
    tw_io_init(&c->io, fd, on_io, c);
    c->connected = true;
    if (c->state == CS_CONNECTING)
        c->state = CS_HELLO_WAIT;
    if (c->o.ping_interval_ms)
        tw_timer_start(c->loop, &c->ping, c->o.ping_interval_ms);
    flush(c); /* HELLO and whatever was queued behind it */
}

int tw_client_connect(tw_loop *loop, const struct tw_client_opts *o, tw_client **out)
{
    uint8_t hdr[TW_TWP_HDR];
    struct tw_connect_opts co = {0};
    tw_client *c;
    int err;

    if (!loop || !o || !out)
        return -EINVAL;
    if (o->connect)
        co = *o->connect;
    co.nodelay = true;
    co.speaks_first = true; /* HELLO goes out with the handshake's last ACK */
    if (!(c = calloc(1, sizeof(*c))))
        return -ENOMEM;
    c->loop = loop;
    c->o = *o;
    c->state = CS_CONNECTING;
    tw_io_init(&c->io, -1, on_io, c);
    tw_timer_init(&c->ping, on_ping, c);
    tw_twp_put_header(hdr, TW_TWP_HELLO, 4);
    if ((err = tw__buf_append(&c->out, hdr, TW_TWP_HDR, tw_twp_hello, 4)) < 0 ||
        (err = tw_connect_start(loop, &c->conn, &o->dst, &co,
                                o->connect_timeout_ms ? o->connect_timeout_ms : 5000,
                                on_connected, c)) < 0) {
        client_free(c);
        return err;
    }
    *out = c;
    return 0;
}

void *tw_client_data(const tw_client *c) { return c->o.data; }
uint64_t tw_client_connect_ns(const tw_client *c) { return c->conn.connect_ns; }
