/* The server: connection state machine, accept loop, shutdown, and twp
 * (HTTP/1.1 on the same state machine is in http.c).
 *
 * States, named after the protocol's words:
 *   HELLO        accepted, waiting for the client's HELLO
 *   OPEN         serving requests; idle timer armed
 *   DONE_SENT    we asked the client to close; input discarded; grace timer
 *   GOODBYE_SENT the client said BYE and got GOODBYE; waiting for its RST
 *   PEER_FIN     the client closed first; flushing our replies, then close
 *   ERROR_SENT   bad input; ERROR queued; abort once it is acknowledged
 *   ACK_WAIT     grace passed; abort once everything sent is acknowledged
 *
 * Closing happens in exactly two functions: close_passive() (after the
 * client's FIN, checked by tw_sock_close_passive) and tw__sconn_abort() (RST),
 * plus close_reset() once the client's RST has ended the connection.
 * naive_close mode adds a third, tw__sconn_naive_close(), that is wrong on
 * purpose.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/internal.h"
#include "twkit/time.h"
#include "twkit/twp.h"

#define READS_PER_WAKEUP 8
#define ACCEPTS_PER_WAKEUP 64
#define ACCEPT_PAUSE_MS 100
#define ACK_POLL_MS 5
#define ERROR_ACK_MS 1000
/* RDHUP: a wakeup says whether the client's FIN is already in, so the read
 * loop goes on to the EOF in the same wakeup (see owed_at_fin). */
#define CONN_READ (TW_IO_READ | TW_IO_RDHUP)

/* ---- ending a connection: the only places that close ---- */

static void conn_free(tw_sconn *c)
{
    tw_server *s = c->srv;

    tw_timer_stop(&c->timer);
    tw_io_forget(&c->io); /* the fd is closed already */
    tw__list_del(&c->link);
    tw__buf_free(&c->in);
    tw__buf_free(&c->out);
    free(c);
    s->nconns--;
    s->st.active--;
    if (s->paused_full && !s->shutting_down && s->nconns < s->o.max_conns) {
        s->paused_full = false;
        tw_io_start(s->loop, &s->lio, TW_IO_READ);
    }
}

void tw__sconn_abort(tw_sconn *c, uint64_t *counter)
{
    tw_sock_abort(c->io.fd);
    (*counter)++;
    conn_free(c);
}

/* The client's RST arrived: the connection is gone (CLOSE), and close()
 * has nothing left to send, so SO_LINGER would be a wasted syscall. */
static void close_reset(tw_sconn *c, uint64_t *counter)
{
    close(c->io.fd);
    (*counter)++;
    conn_free(c);
}

/* After the client's FIN (read() returned 0, so nothing is left unread):
 * our FIN goes second, the client holds TIME_WAIT. With after_fin RST, an
 * RST instead when the client closed after it had everything (owed_at_fin
 * false) and its TCP holds every byte we sent: it loses nothing (it is done
 * sending, and what it has not read yet stays readable) and is spared the
 * TIME_WAIT too. A client whose FIN was in when we read a request, or came
 * while we still owed it bytes, may have only half-closed and be reading
 * on: it gets our FIN and a clean EOF. */
static void close_passive(tw_sconn *c, uint64_t *counter)
{
    if (c->srv->o.after_fin == TW_AFTER_FIN_RST && !c->owed_at_fin &&
        tw_sock_unacked(c->io.fd) == 0) {
        tw_sock_abort(c->io.fd);
        c->srv->st.reset_after_fin++;
    } else if (tw_sock_close_passive(c->io.fd) < 0) {
        /* The kernel says the client's FIN is not here, or data is unread:
         * closing now would send the first FIN (or an RST over data). */
        c->srv->st.first_fin_refused++;
        assert(!"server about to send the first FIN");
        tw_sock_abort(c->io.fd);
    }
    (*counter)++;
    conn_free(c);
}

/* naive_close mode only: we send the first FIN and hold the TIME_WAIT. */
void tw__sconn_naive_close(tw_sconn *c)
{
    close(c->io.fd);
    c->srv->st.naive_closed++;
    conn_free(c);
}

/* ---- output ---- */

static void update_events(tw_sconn *c)
{
    unsigned want = (c->reading ? CONN_READ : 0) | (c->out.len ? TW_IO_WRITE : 0);

    if (want == c->io.events)
        return;
    if (want)
        tw_io_start(c->srv->loop, &c->io, want);
    else
        tw_io_stop(&c->io);
}

static int queue_frame(tw_sconn *c, uint8_t type, const void *payload, uint32_t len)
{
    uint8_t hdr[TW_TWP_HDR];

    tw_twp_put_header(hdr, type, len);
    if (tw__buf_append(&c->out, hdr, sizeof(hdr), payload, len) < 0)
        return -ENOMEM;
    c->srv->st.frames_out++;
    return 0;
}

/* Write what is queued. Returns -1 if the connection was freed. */
int tw__sconn_flush(tw_sconn *c)
{
    tw_server *s = c->srv;
    uint64_t held = (uint64_t)c->in.cap + c->out.cap;

    if (held > s->st.conn_buf_peak)
        s->st.conn_buf_peak = held;
    if (tw__buf_write(&c->out, c->io.fd) < 0) {
        /* EPIPE, ECONNRESET: after GOODBYE that is the expected ending */
        tw__sconn_abort(c, c->state == SC_GOODBYE_SENT ? &s->st.bye_goodbye : &s->st.peer_reset);
        return -1;
    }
    /* Backpressure: a client that does not read stops being read. */
    if (c->reading && c->out.len > s->o.max_outbuf)
        c->reading = false;
    else if (!c->reading && c->out.len <= s->o.max_outbuf / 2 &&
             (c->state == SC_OPEN || c->state == SC_HELLO))
        c->reading = true;
    if (c->state == SC_PEER_FIN && !c->out.len) {
        close_passive(c, c->end_counter);
        return -1;
    }
    update_events(c);
    return 0;
}

int tw_sconn_send(tw_sconn *c, uint8_t type, const void *payload, uint32_t len)
{
    int err;

    if (!c || (len && !payload) || c->srv->o.proto != TW_PROTO_TWP)
        return -EINVAL;
    if (c->state != SC_OPEN)
        return -EPIPE;
    if ((err = queue_frame(c, type, payload, len)) < 0)
        return err;
    if (!c->in_read)
        tw__sconn_flush(c);
    return 0;
}

/* Queue a reply from the input path. Returns -1 (connection freed) when
 * memory ran out. */
static int reply(tw_sconn *c, uint8_t type, const void *payload, uint32_t len)
{
    if (queue_frame(c, type, payload, len) == 0)
        return 0;
    tw__sconn_abort(c, &c->srv->st.aborted_invalid);
    return -1;
}

/* ---- the endings that wait ---- */

void tw__sconn_arm_grace(tw_sconn *c, uint64_t *counter)
{
    tw_server *s = c->srv;

    c->end_counter = counter;
    c->hard_deadline = tw_loop_now(s->loop) + s->o.hard_deadline_ms;
    tw_timer_start(s->loop, &c->timer, s->o.grace_ms);
}

void tw_sconn_finish(tw_sconn *c)
{
    if (!c || (c->state != SC_OPEN && c->state != SC_HELLO))
        return;
    if (c->srv->o.proto == TW_PROTO_HTTP) {
        tw__http_finish(c);
        return;
    }
    queue_frame(c, TW_TWP_DONE, NULL, 0);
    c->state = SC_DONE_SENT;
    c->reading = true; /* keep reading (and discarding) to see the FIN */
    tw__sconn_arm_grace(c, &c->srv->st.closed_after_done);
    if (!c->in_read)
        tw__sconn_flush(c);
}

/* Abort once the client has acknowledged everything we sent, or at the
 * hard deadline: a slow reader loses nothing. */
void tw__sconn_abort_when_acked(tw_sconn *c)
{
    tw_server *s = c->srv;
    int unacked = tw_sock_unacked(c->io.fd);

    if ((c->out.len == 0 && unacked == 0) || unacked < 0 ||
        tw_ms_diff(tw_loop_now(s->loop), c->hard_deadline) >= 0) {
        tw__sconn_abort(c, c->end_counter);
        return;
    }
    tw_timer_start(s->loop, &c->timer, ACK_POLL_MS);
}

static void protocol_error(tw_sconn *c, uint16_t code, const char *why)
{
    uint8_t p[2 + 64];
    uint32_t n = (uint32_t)strlen(why);

    if (n > 64)
        n = 64;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, why, n);
    queue_frame(c, TW_TWP_ERROR, p, 2 + n);
    c->state = SC_ERROR_SENT;
    c->reading = false;
    c->end_counter = &c->srv->st.aborted_invalid;
    c->hard_deadline = tw_loop_now(c->srv->loop) + ERROR_ACK_MS;
    tw_timer_start(c->srv->loop, &c->timer, ACK_POLL_MS);
}

static void on_timer(tw_timer *t)
{
    tw_sconn *c = t->data;
    tw_server *s = c->srv;

    switch (c->state) {
    case SC_HELLO:
    case SC_OPEN:
        if (s->o.proto == TW_PROTO_HTTP)
            tw__http_timeout(c);
        else
            tw__sconn_abort(c, &s->st.aborted_idle);
        return;
    case SC_DONE_SENT:
    case SC_GOODBYE_SENT:
        c->state = SC_ACK_WAIT; /* grace passed: no FIN, no RST */
        c->end_counter = &s->st.aborted_grace;
        tw__sconn_abort_when_acked(c);
        return;
    case SC_PEER_FIN: /* the client stopped reading our last replies */
    case SC_ERROR_SENT:
    case SC_ACK_WAIT:
        tw__sconn_abort_when_acked(c);
        return;
    }
}

/* ---- input ---- */

/* Returns -1 if the connection was freed. */
static int handle_frame(tw_sconn *c, const struct tw_twp_frame *f)
{
    tw_server *s = c->srv;
    int r;

    s->st.frames_in++;
    if (c->state == SC_HELLO) {
        if (f->type != TW_TWP_HELLO || memcmp(f->payload, tw_twp_hello, 4) != 0) {
            protocol_error(c, TW_TWP_E_VERSION, "expected HELLO twp version 1");
            return 0;
        }
        c->state = SC_OPEN;
        return reply(c, TW_TWP_HELLO, tw_twp_hello, 4);
    }
    switch (f->type) {
    case TW_TWP_DATA:
        c->requests++;
        r = s->o.on_data ? s->o.on_data(c, f->payload, f->len, s->o.data)
                         : reply(c, TW_TWP_DATA, f->payload, f->len);
        if (r < 0 && !s->o.on_data)
            return -1;
        if (r < 0) {
            tw__sconn_abort(c, &s->st.aborted_invalid);
            return -1;
        }
        if (s->o.naive_close) {
            if (tw__sconn_flush(c) == 0)
                tw__sconn_naive_close(c);
            return -1;
        }
        if (s->o.max_requests && c->requests >= s->o.max_requests)
            tw_sconn_finish(c);
        return 0;
    case TW_TWP_PING:
        return reply(c, TW_TWP_PONG, f->payload, f->len);
    case TW_TWP_PONG:
        return 0;
    case TW_TWP_BYE:
        if (reply(c, TW_TWP_GOODBYE, NULL, 0) < 0)
            return -1;
        c->state = SC_GOODBYE_SENT;
        tw__sconn_arm_grace(c, &s->st.bye_goodbye);
        return 0;
    case TW_TWP_ERROR:
        tw__sconn_abort(c, &s->st.aborted_invalid); /* the client gave up on us */
        return -1;
    default: /* HELLO again, DONE, GOODBYE: not from a client, not now */
        protocol_error(c, TW_TWP_E_STATE, "frame not allowed now");
        return 0;
    }
}

/* Parse every complete frame of data[0..n). Returns -1 if freed. */
static int parse_input(tw_sconn *c, const uint8_t *data, uint32_t n)
{
    const uint8_t *p = data;
    uint32_t len = n;
    bool buffered = c->in.len > 0;

    if (buffered) {
        if (tw__buf_append(&c->in, data, n, NULL, 0) < 0) {
            tw__sconn_abort(c, &c->srv->st.aborted_invalid);
            return -1;
        }
        p = c->in.p + c->in.off;
        len = c->in.len;
    }
    while (len && c->state <= SC_OPEN) {
        struct tw_twp_frame f;
        int r = tw_twp_parse(p, len, c->srv->o.max_frame, &f);
        if (r == 0)
            break;
        if (r < 0) {
            protocol_error(c, r == -EMSGSIZE ? TW_TWP_E_TOO_BIG : TW_TWP_E_BAD_FRAME,
                           r == -EMSGSIZE ? "frame too big" : "bad frame");
            break;
        }
        if (handle_frame(c, &f) < 0)
            return -1;
        p += r;
        len -= (uint32_t)r;
    }
    if (c->state > SC_OPEN)
        len = 0; /* past DONE/BYE/ERROR nothing more is processed */
    if (buffered)
        tw__buf_consume(&c->in, c->in.len - len);
    else if (len && tw__buf_append(&c->in, p, len, NULL, 0) < 0) {
        tw__sconn_abort(c, &c->srv->st.aborted_invalid);
        return -1;
    }
    return 0;
}

static void on_peer_fin(tw_sconn *c)
{
    tw_server *s = c->srv;

    /* Past OPEN, end_counter was set when we asked the client to end. */
    if (c->state <= SC_OPEN)
        c->end_counter = &s->st.closed_by_peer;
    c->state = SC_PEER_FIN;
    c->reading = false;
    if (c->hard_deadline == 0) { /* no ending under way: start its clock */
        c->hard_deadline = tw_loop_now(s->loop) + s->o.hard_deadline_ms;
        tw_timer_start(s->loop, &c->timer, s->o.hard_deadline_ms);
    }
    tw__sconn_flush(c); /* closes passively once everything is written */
}

static void on_io(tw_io *io, unsigned events)
{
    tw_sconn *c = io->data;
    tw_server *s = c->srv;

    /* After GOODBYE an error event is the client's RST, the ending the
     * protocol asks for: no read needed to learn it. */
    if (c->state == SC_GOODBYE_SENT && (events & TW_IO_ERROR)) {
        close_reset(c, &s->st.bye_goodbye);
        return;
    }
    if (events & TW_IO_WRITE && !(events & TW_IO_READ)) {
        tw__sconn_flush(c);
        return;
    }
    uint32_t requests_before = c->requests;
    c->in_read = true;
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        ssize_t n = read(io->fd, s->scratch, SCRATCH);
        if (n > 0) {
            if (c->state <= SC_OPEN) { /* later states discard input */
                int r;
                if (s->o.proto == TW_PROTO_HTTP) {
                    r = tw__http_input(c, s->scratch, (uint32_t)n); /* sets its timers */
                } else {
                    tw_timer_start(s->loop, &c->timer, s->o.idle_timeout_ms);
                    r = parse_input(c, s->scratch, (uint32_t)n);
                }
                if (r < 0)
                    return;
            }
            if (!c->reading) /* ERROR_SENT: no more input, abort once acked */
                break;
            if (n < SCRATCH && !(events & TW_IO_RDHUP))
                break;
            continue;
        }
        if (n == 0) {
            c->in_read = false;
            c->owed_at_fin |= c->out.len || c->requests != requests_before;
            on_peer_fin(c);
            return;
        }
        if (errno == EAGAIN || errno == EINTR)
            break;
        /* ECONNRESET: after GOODBYE that is the protocol's own ending. */
        uint64_t *counter = c->state == SC_GOODBYE_SENT ? &s->st.bye_goodbye : &s->st.peer_reset;
        if (errno == ECONNRESET)
            close_reset(c, counter);
        else
            tw__sconn_abort(c, counter);
        return;
    }
    /* The FIN is in but a long upload kept the EOF for a later wakeup. */
    if (events & TW_IO_RDHUP)
        c->owed_at_fin |= c->out.len || c->requests != requests_before;
    c->in_read = false;
    tw__sconn_flush(c);
}

/* ---- accepting ---- */

static void on_accept(tw_io *io, unsigned events);

static void resume_accept(tw_timer *t)
{
    tw_server *s = t->data;
    if (!s->shutting_down)
        tw_io_start(s->loop, &s->lio, TW_IO_READ);
}

static void on_accept(tw_io *io, unsigned events)
{
    tw_server *s = io->data;

    for (int i = 0; i < ACCEPTS_PER_WAKEUP; i++) {
        tw_sconn *c;
        int fd;

        if (s->nconns >= s->o.max_conns) {
            s->paused_full = true;
            s->st.accept_paused++;
            tw_io_stop(&s->lio);
            return;
        }
        fd = tw_sock_accept(io->fd, NULL);
        if (fd == -EAGAIN)
            return;
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            /* Out of descriptors: the pending connection stays queued and
             * epoll would report it again at once. Pause instead of spin. */
            s->st.accept_paused++;
            tw_io_stop(&s->lio);
            tw_timer_start(s->loop, &s->accept_timer, ACCEPT_PAUSE_MS);
            return;
        }
        if (fd < 0)
            continue; /* ECONNABORTED and friends: that client is gone */
        if (!(c = calloc(1, sizeof(*c)))) {
            tw_sock_abort(fd);
            continue;
        }
        c->srv = s;
        c->state = s->o.proto == TW_PROTO_HTTP ? SC_OPEN : SC_HELLO;
        c->reading = true; /* TCP_NODELAY: inherited from the listener */
        tw_io_init(&c->io, fd, on_io, c);
        tw_timer_init(&c->timer, on_timer, c);
        if (tw_io_start(s->loop, &c->io, CONN_READ) < 0) {
            tw_sock_abort(fd);
            free(c);
            continue;
        }
        tw_timer_start(s->loop, &c->timer, s->o.idle_timeout_ms);
        tw__list_add_tail(&s->conns, &c->link);
        s->nconns++;
        s->st.accepted++;
        s->st.active++;
    }
}

int tw_server_start(tw_loop *loop, const struct tw_server_opts *opts, tw_server **out)
{
    struct tw_listen_opts lo;
    tw_server *s;
    int fd, err;

    if (!loop || !opts || !out || (opts->proto != TW_PROTO_TWP && opts->proto != TW_PROTO_HTTP))
        return -EINVAL;
    if (opts->after_fin > TW_AFTER_FIN_RST ||
        (opts->proto == TW_PROTO_TWP && opts->after_fin == TW_AFTER_FIN_RST))
        return -EINVAL; /* twp clients that want no TIME_WAIT say BYE */
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->loop = loop;
    s->o = *opts;
    if (!s->o.max_conns)
        s->o.max_conns = 10000;
    if (!s->o.idle_timeout_ms)
        s->o.idle_timeout_ms = 60000;
    if (!s->o.grace_ms)
        s->o.grace_ms = 2000;
    if (!s->o.hard_deadline_ms)
        s->o.hard_deadline_ms = s->o.grace_ms + 5000;
    if (!s->o.max_frame)
        s->o.max_frame = TW_TWP_MAX_FRAME_DEFAULT;
    if (!s->o.max_outbuf)
        s->o.max_outbuf = 1u << 20;
    if (!s->o.request_timeout_ms)
        s->o.request_timeout_ms = 10000;
    if (s->o.after_fin == TW_AFTER_FIN_AUTO)
        s->o.after_fin = s->o.proto == TW_PROTO_HTTP ? TW_AFTER_FIN_RST : TW_AFTER_FIN_FIN;
    tw__list_init(&s->conns);
    lo = (struct tw_listen_opts){.backlog = opts->backlog, .reuseport = opts->reuseport};
    if ((fd = tw_sock_listen(&opts->listen, &lo)) < 0) {
        free(s);
        return fd;
    }
    tw_sock_set_nodelay(fd, true); /* Linux: accepted sockets inherit it */
    tw_io_init(&s->lio, fd, on_accept, s);
    tw_timer_init(&s->accept_timer, resume_accept, s);
    if ((err = tw_io_start(loop, &s->lio, TW_IO_READ)) < 0) {
        close(fd);
        free(s);
        return err;
    }
    *out = s;
    return 0;
}

void tw_server_shutdown(tw_server *s)
{
    if (!s || s->shutting_down)
        return;
    s->shutting_down = true;
    tw_timer_stop(&s->accept_timer);
    tw_io_close(&s->lio);
    for (struct tw_list *p = s->conns.next, *next; p != &s->conns; p = next) {
        tw_sconn *c = tw__container_of(p, tw_sconn, link);
        next = p->next; /* finishing may free c */
        tw_sconn_finish(c);
    }
}

void tw_server_free(tw_server *s)
{
    if (!s)
        return;
    tw_timer_stop(&s->accept_timer);
    if (s->lio.fd >= 0)
        tw_io_close(&s->lio);
    while (!tw__list_empty(&s->conns))
        tw__sconn_abort(tw__container_of(s->conns.next, tw_sconn, link), &s->st.aborted_grace);
    free(s);
}

const struct tw_server_stats *tw_server_stats(const tw_server *s) { return &s->st; }
unsigned tw_server_conns(const tw_server *s) { return s->nconns; }
bool tw_server_shutting_down(const tw_server *s) { return s->shutting_down; }
tw_server *tw_sconn_server(const tw_sconn *c) { return c->srv; }
