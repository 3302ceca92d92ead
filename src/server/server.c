/* The server: connection state machine, accept loop, shutdown, and twp
 * (HTTP/1.1 on the same state machine is in http.c). docs/PROTOCOL.md has
 * the whole table of states and inputs; this is its code.
 *
 * States, named after the protocol's words:
 *   HELLO        accepted, waiting for the client's HELLO
 *   OPEN         serving requests
 *   DONE_SENT    we asked the client to close; requests are not processed
 *   GOODBYE_SENT the client said BYE and got GOODBYE; waiting for its RST
 *   FIN_SENT     HTTP: the protocol required us to close; our FIN went first
 *   PEER_FIN     the client closed first; flushing our replies, then close
 *   ERROR_SENT   bad input; ERROR queued; abort once it is acknowledged
 *
 * Closing happens in exactly these functions: close_passive() (after the
 * client's FIN, checked by tw_sock_close_passive), send_required_fin() (the
 * one place a first FIN is sent, HTTP only, asserted), tw__sconn_abort()
 * (RST), and close_gone() once the client's RST or our FIN's full exchange
 * has ended the connection. naive_close mode adds naive_close(), wrong on
 * purpose.
 *
 * One timer per connection. Events never restart it: they record when
 * bytes moved (active_ms) and, when something becomes due sooner, pull the
 * timer earlier (tw__sconn_arm). When it fires, on_timer looks at the
 * kernel's counters (bytes acknowledged and received, bytes unacknowledged)
 * and the state, and acts or sets it for the next thing due.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server/internal.h"
#include "twkit/time.h"
#include "twkit/twp.h"

#define ACCEPT_PAUSE_MS 100
#define POLL_FIRST_MS 5   /* ending states look for the last ACK this soon, */
#define POLL_MAX_MS 250   /* then less and less often, up to this */
#define FLUSH_ROUNDS 16   /* parse-write rounds per flush under backpressure */
#define REAP_SCAN 64      /* connections looked at for an idle one to reap */

static inline uint64_t now_ms(const tw_sconn *c) { return tw_loop_now(c->srv->loop); }
static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* ---- ending a connection: the only places that close ---- */

/* Accept again; if epoll cannot take the listener now, try later. */
static void listen_resume(tw_server *s)
{
    if (tw_accept_start(s->loop, &s->acc) < 0)
        tw_timer_start(s->loop, &s->accept_timer, ACCEPT_PAUSE_MS);
}

static void conn_free(tw_sconn *c)
{
    tw_server *s = c->srv;

    tw_timer_stop(&c->timer);
    tw_recv_stop(&c->rcv); /* the fd is closed already */
    tw_io_forget(&c->io);
    tw__list_del(&c->link);
    tw__buf_free(&c->in);
    tw__buf_free(&c->out);
    if (s->o.on_close)
        s->o.on_close(c, s->o.data);
    free(c);
    s->nconns--;
    tw__stat_add(&s->st.active, -1);
    if (s->shutting_down && !s->nconns)
        tw_timer_stop(&s->shutdown_timer); /* the last one ended in time */
    if (s->paused_full && !s->shutting_down && s->nconns < s->o.max_conns) {
        s->paused_full = false;
        listen_resume(s);
    }
}

void tw__sconn_abort(tw_sconn *c, uint64_t *counter)
{
    tw_sock_abort(c->io.fd);
    tw__stat_inc(counter);
    conn_free(c);
}

/* The connection is over on the wire: the client's RST arrived, or, after
 * our required FIN, its FIN did (we hold the TIME_WAIT, as counted). close()
 * has nothing left to send, so SO_LINGER would be a wasted syscall. */
static void close_gone(tw_sconn *c, uint64_t *counter)
{
    close(c->io.fd);
    tw__stat_inc(counter);
    conn_free(c);
}

/* What the client's RST ends: after GOODBYE, the protocol's own ending;
 * after our required FIN or an ERROR, the ending already under way; else
 * a reset outside the protocol. */
static uint64_t *reset_counter(tw_sconn *c)
{
    switch (c->state) {
    case SC_GOODBYE_SENT: return &c->srv->st.bye_goodbye;
    case SC_FIN_SENT:
    case SC_ERROR_SENT: return c->end_counter;
    default: return &c->srv->st.peer_reset;
    }
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
        tw__stat_inc(&c->srv->st.reset_after_fin);
    } else {
#ifdef NDEBUG
        /* read() returned 0: the FIN is in, and since nothing follows a
         * FIN, nothing is unread. The state says so; no need to ask the
         * kernel on every connection (two system calls). */
        close(c->io.fd);
#else
        /* Debug builds ask the kernel all the same: a state machine that
         * got here without the client's FIN would send the first FIN. */
        if (tw_sock_close_passive(c->io.fd) < 0) {
            tw__stat_inc(&c->srv->st.first_fin_refused);
            assert(!"server about to send the first FIN");
            tw_sock_abort(c->io.fd);
        }
#endif
    }
    tw__stat_inc(counter);
    conn_free(c);
}

/* The one place the server sends the first FIN: only for a protocol that
 * can require it (HTTP, after a response that said Connection: close: RFC
 * 9112 9.6), at once to a client that waits for it (fin_now), else after
 * the client had its chance to close first (done_over). The reply is all
 * written (shutdown queues the FIN behind it); input goes on being read
 * and discarded until the client's FIN, so close() never resets unread
 * data. */
static sc_live update_events(tw_sconn *c);

sc_live tw__sconn_close_first(tw_sconn *c)
{
    tw_server *s = c->srv;

    assert(s->proto->close_first_ok && c->state == SC_DONE_SENT && !c->out.len);
    if (!s->proto->close_first_ok || c->state != SC_DONE_SENT || c->out.len) {
        tw__stat_inc(&s->st.first_fin_refused);
        tw__sconn_abort(c, &s->st.aborted_grace);
        return SC_FREED;
    }
    shutdown(c->io.fd, SHUT_WR);
    tw__sconn_end_wait(c, SC_FIN_SENT, &s->st.closed_first_required);
    return update_events(c);
}

/* naive_close mode only: we send the first FIN and hold the TIME_WAIT.
 * Wrong on purpose, but it loses nothing: the close comes once the reply is
 * all written (tw__sconn_flush), and nothing after it is processed. */
static void naive_close(tw_sconn *c)
{
    close(c->io.fd);
    tw__stat_inc(&c->srv->st.naive_closed);
    conn_free(c);
}

void tw__sconn_naive_close_after(tw_sconn *c)
{
    tw__sconn_end_wait(c, SC_DONE_SENT, &c->srv->st.aborted_stalled);
    c->reading = false;
    c->naive = true;
}

/* ---- timers ---- */

void tw__sconn_arm(tw_sconn *c, uint64_t at)
{
    uint64_t now = now_ms(c);

    if (tw_timer_active(&c->timer) && tw_ms_diff(at, c->timer_at) >= 0)
        return; /* due sooner already */
    c->timer_at = at;
    tw_timer_start(c->srv->loop, &c->timer, tw_ms_diff(at, now) > 0 ? at - now : 0);
}

/* Enter an ending state that waits for the client: everything we sent
 * must be acknowledged first (looked for soon, then less often), then the
 * state's own wait starts. */
void tw__sconn_end_wait(tw_sconn *c, enum sc_state st, uint64_t *counter)
{
    c->state = st;
    c->end_counter = counter;
    c->acked_ms = 0;
    c->poll_ms = POLL_FIRST_MS;
    c->reading = st != SC_ERROR_SENT; /* read (and discard) to see the FIN */
    tw__sconn_arm(c, now_ms(c) + POLL_FIRST_MS);
}

/* How long an ending state waits once all we sent is acknowledged. */
static uint64_t end_wait_ms(const tw_sconn *c)
{
    const struct tw_server_opts *o = &c->srv->o;

    switch (c->state) {
    case SC_DONE_SENT: return c->srv->proto->done_wait(c);
    case SC_GOODBYE_SENT:
    case SC_FIN_SENT: return o->grace_ms;
    default: return 0; /* ERROR_SENT: abort as soon as it is acknowledged */
    }
}

/* An ending state's wait is over, with everything acknowledged. */
static void end_wait_over(tw_sconn *c)
{
    tw_server *s = c->srv;

    switch (c->state) {
    case SC_DONE_SENT:
        s->proto->done_over(c); /* HTTP: our FIN; twp: abort */
        return;
    case SC_GOODBYE_SENT:
        tw__sconn_abort(c, &s->st.aborted_grace);
        return;
    case SC_FIN_SENT: {
        /* Our FIN is acknowledged, the client read its EOF and has not
         * closed. Leave the rest to the kernel (FIN_WAIT2, then gone): no
         * RST for a client that may still read. */
        int unread = 0;
        if (ioctl(c->io.fd, FIONREAD, &unread) == 0 && !unread)
            close_gone(c, c->end_counter);
        else
            tw__sconn_abort(c, c->end_counter);
        return;
    }
    default:
        tw__sconn_abort(c, c->end_counter);
        return;
    }
}

/* twp's HELLO, or an HTTP request head, is awaited: it must be whole
 * within request_timeout of its first byte (the first: of the accept). A
 * connection that sent nothing at all is idle too, so the idle timeout and
 * (shutting down) the grace period apply if they are shorter. Returns
 * whether the connection was aborted; else lowers *next to when it is due. */
static bool hello_or_head_late(tw_sconn *c, uint64_t now, uint64_t *next)
{
    const struct tw_server_opts *o = &c->srv->o;
    uint64_t due = c->since_ms + o->request_timeout_ms, *counter = &c->srv->st.aborted_slow;

    if (!c->in.len) {
        uint64_t idle = c->active_ms + (c->closing ? o->grace_ms : o->idle_timeout_ms);
        if (tw_ms_diff(idle, due) < 0) {
            due = idle;
            counter = &c->srv->st.aborted_idle;
        }
    }
    if (tw_ms_diff(now, due) >= 0) {
        tw__sconn_abort(c, counter);
        return true;
    }
    *next = min_u64(*next, due);
    return false;
}

static void on_timer(tw_timer *t)
{
    tw_sconn *c = t->data;
    tw_server *s = c->srv;
    uint64_t now = now_ms(c), moved = c->moved, next = UINT64_MAX;
    uint32_t quiet = 0;
    int gone = tw_sock_progress(c->io.fd, &moved, &quiet), unacked;
    bool sending, partial;

    /* The client's RST, on a connection that is not reading (past ERROR,
     * or under backpressure) and would not learn of it otherwise: SIOCOUTQ
     * keeps counting what was unacknowledged when it came. */
    if (gone == -ECONNRESET) {
        close_gone(c, reset_counter(c));
        return;
    }
    if (gone < 0 || (unacked = tw_sock_unacked(c->io.fd)) < 0) {
        tw__sconn_abort(c, &s->st.peer_reset);
        return;
    }
    if (moved != c->moved) {
        /* dated when the peer's last byte or ACK came, not at this look
         * (else a quiet connection lives up to two idle periods) */
        uint64_t at = quiet < now ? now - quiet : 0;
        c->moved = moved;
        if (tw_ms_diff(at, c->active_ms) > 0)
            c->active_ms = at;
    }
    sending = c->out.len || unacked > 0;
    if (c->held && !sending)
        return; /* the client waits for us: nothing is due from it */
    partial = c->reading && !c->held && (c->in.len || c->skip);

    /* The stall rule: with work in flight, at least min_progress bytes must
     * move in every stall window. */
    if (sending || partial) {
        if (!c->win_end || moved - c->win_mark >= s->o.min_progress) {
            if (!c->win_end || tw_ms_diff(now, c->win_end) >= 0) {
                c->win_end = now + s->o.stall_timeout_ms;
                c->win_mark = moved;
            }
        } else if (tw_ms_diff(now, c->win_end) >= 0) {
            tw__sconn_abort(c, &s->st.aborted_stalled);
            return;
        }
        next = c->win_end;
    } else {
        c->win_end = 0;
    }

    switch (c->state) {
    case SC_HELLO: /* twp: the HELLO, from the accept */
        if (hello_or_head_late(c, now, &next))
            return;
        break;
    case SC_OPEN:
        if (s->proto->head_due(c)) {
            if (hello_or_head_late(c, now, &next))
                return;
        } else if (sending || partial) {
            /* look again within an idle period: once the transfer is over,
             * the idle timeout counts from its last byte */
            next = min_u64(next, now + s->o.idle_timeout_ms);
        } else {
            /* Idle: no byte either way. Shutting down, one grace period for
             * a last request. */
            uint64_t due = c->active_ms + (c->closing ? s->o.grace_ms : s->o.idle_timeout_ms);
            if (tw_ms_diff(now, due) >= 0) {
                tw__sconn_abort(c, &s->st.aborted_idle);
                return;
            }
            next = min_u64(next, due);
        }
        break;
    case SC_DONE_SENT:
    case SC_GOODBYE_SENT:
    case SC_FIN_SENT:
    case SC_ERROR_SENT:
        if (sending) {
            next = min_u64(next, now + c->poll_ms);
            c->poll_ms = c->poll_ms * 2 < POLL_MAX_MS ? c->poll_ms * 2 : POLL_MAX_MS;
            break;
        }
        if (!c->acked_ms)
            c->acked_ms = now;
        if (tw_ms_diff(now, c->acked_ms + end_wait_ms(c)) >= 0) {
            end_wait_over(c);
            return;
        }
        next = min_u64(next, c->acked_ms + end_wait_ms(c));
        break;
    case SC_PEER_FIN: /* only the stall rule: it closes once all is written */
        break;
    }
    if (next != UINT64_MAX) {
        c->timer_at = next;
        tw_timer_start(s->loop, &c->timer, tw_ms_diff(next, now) > 0 ? next - now : 0);
    }
}

/* ---- output ---- */

static sc_live on_peer_fin(tw_sconn *c);

/* Ask the loop for what the connection needs now: the receiver while
 * reading, the watcher for TW_IO_WRITE while output waits. Neither reading
 * nor writing (a held response, a client past its last request): errors
 * only, so the client's RST still ends it at once (reading, the receiver
 * hears it). A failure (the kernel out of memory) would leave it deaf: it
 * is aborted instead. */
static sc_live update_events(tw_sconn *c)
{
    tw_loop *loop = c->srv->loop;
    bool reading = c->reading && !c->fin_in;
    unsigned want = c->out.len || c->parse_later ? TW_IO_WRITE : reading ? 0 : TW_IO_ERROR;

    if (c->reading && c->fin_pending) { /* the FIN that came paused: now its turn */
        c->fin_pending = false;
        return on_peer_fin(c);
    }
    if (reading != tw_recv_active(&c->rcv)) {
        if (!reading)
            tw_recv_pause(&c->rcv); /* what comes after waits in c->in */
        else if (tw_recv_start(loop, &c->rcv) < 0)
            goto fail;
    }
    if (want == c->io.events)
        return SC_ALIVE;
    if (!want)
        tw_io_stop(&c->io);
    else if (tw_io_start(loop, &c->io, want) < 0)
        goto fail;
    return SC_ALIVE;
fail:
    tw__sconn_abort(c, &c->srv->st.aborted_nomem);
    return SC_FREED;
}

/* Write what is queued; under backpressure, parse the requests that wait
 * in the input buffer as the output drains. */
sc_live tw__sconn_flush(tw_sconn *c)
{
    tw_server *s = c->srv;

    c->parse_later = false;
    for (int round = 0;; round++) {
        uint64_t held = (uint64_t)c->in.cap + c->out.cap;
        uint32_t before = c->out.len;
        bool resume = false;

        if (held > s->st.conn_buf_peak)
            __atomic_store_n(&s->st.conn_buf_peak, held, __ATOMIC_RELAXED);
        if (tw__buf_write(&c->out, c->io.fd) < 0) {
            /* EPIPE, ECONNRESET: after GOODBYE that is the expected ending */
            tw__sconn_abort(c, c->state == SC_GOODBYE_SENT ? &s->st.bye_goodbye
                                                           : &s->st.peer_reset);
            return SC_FREED;
        }
        if (c->out.len != before)
            c->active_ms = now_ms(c);
        if (c->out.len) /* the client is not taking it all: watch progress */
            tw__sconn_arm(c, now_ms(c) + s->o.stall_timeout_ms);
        /* Backpressure while requests are processed: a client that does not
         * read stops being read (and parsed), until half has drained. A
         * held response stops the parse by itself, until it is given
         * (deferred_done): draining does not resume that one. */
        if (c->state <= SC_OPEN) {
            if (c->reading && c->out.len > s->o.max_outbuf)
                c->reading = false;
            else if (!c->reading && !c->held && c->out.len <= s->o.max_outbuf / 2)
                c->reading = resume = true;
        }
        if (!c->out.len) {
            if (c->naive) {
                naive_close(c);
                return SC_FREED;
            }
            if (c->state == SC_PEER_FIN && !c->held) {
                close_passive(c, c->end_counter);
                return SC_FREED;
            }
            if (c->state == SC_DONE_SENT && c->fin_now)
                return tw__sconn_close_first(c);
        }
        if (!resume || !c->in.len)
            break;
        if (round == FLUSH_ROUNDS) {
            /* Enough for one wakeup. Parse the rest when the loop comes
             * back (writable at once), and read nothing meanwhile: the
             * requests waiting in c->in must not grow, and must not wait
             * for a byte the client, waiting for their answers, never
             * sends. */
            c->reading = false;
            c->parse_later = true;
            break;
        }
        c->in_read = true;
        if (s->proto->input(c, NULL, 0) == SC_FREED)
            return SC_FREED;
        c->in_read = false;
    }
    return update_events(c);
}

void tw_sconn_finish(tw_sconn *c)
{
    if (c && (c->state == SC_OPEN || c->state == SC_HELLO))
        c->srv->proto->finish(c);
}

static sc_live on_peer_fin(tw_sconn *c)
{
    tw_server *s = c->srv;

    if (c->state == SC_FIN_SENT) { /* our required FIN went first */
        close_gone(c, c->end_counter);
        return SC_FREED;
    }
    /* Past OPEN, end_counter was set when we asked the client to end. */
    if (c->state <= SC_OPEN)
        c->end_counter = &s->st.closed_by_peer;
    c->state = SC_PEER_FIN;
    c->reading = false;
    return tw__sconn_flush(c); /* closes passively once everything is written */
}

/* The watcher: writable (flush), or an error. */
static void on_io(tw_io *io, unsigned events)
{
    tw_sconn *c = io->data;
    tw_server *s = c->srv;

    /* After GOODBYE an error event is the client's RST, the ending the
     * protocol asks for: no read needed to learn it. */
    if (c->state == SC_GOODBYE_SENT && (events & TW_IO_ERROR)) {
        close_gone(c, &s->st.bye_goodbye);
        return;
    }
    /* Watched for this alone: the client went. Or beside the receiver
     * (output waits), whose own completion of the same error may come
     * after this one on io_uring: the same ending either way. */
    if (io->events == TW_IO_ERROR || ((events & TW_IO_ERROR) && tw_recv_active(&c->rcv))) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == ECONNRESET || err == 0) /* 0: a hangup, both sides shut */
            close_gone(c, reset_counter(c));
        else
            tw__sconn_abort(c, reset_counter(c));
        return;
    }
    tw__sconn_flush(c);
}

/* Data that came after the receiver was paused (io_uring: the kernel had
 * received it before the pause reached the request; at most the loop's
 * provided buffers' worth, 2 MiB): it waits in c->in, unparsed, like the rest of a backpressured
 * input, until reading resumes. Past OPEN nothing is processed. */
static void late_input(tw_sconn *c, const void *buf, uint32_t n, bool fin)
{
    if (c->state > SC_OPEN)
        return;
    if (tw__buf_append(&c->in, buf, n, NULL, 0) < 0) {
        tw__sconn_abort(c, &c->srv->st.aborted_nomem);
        return;
    }
    if (fin) /* requests the FIN came behind, not answered yet */
        c->owed_at_fin = true;
}

/* The receiver: the client's bytes (each piece parsed where it lies, in
 * the loop's buffer), its FIN, or an error. */
static void on_data(tw_recv *r, void *buf, ssize_t n)
{
    tw_sconn *c = r->data;
    tw_server *s = c->srv;

    if (n > 0) {
        uint32_t requests_before = c->requests;
        c->active_ms = tw_loop_now(s->loop);
        tw__list_del(&c->link); /* least recently active first: the reaping order */
        tw__list_add_tail(&s->conns, &c->link);
        if (!c->reading) {
            late_input(c, buf, (uint32_t)n, r->fin);
            return;
        }
        c->in_read = true;
        if (c->state <= SC_GOODBYE_SENT &&
            s->proto->input(c, buf, (uint32_t)n) == SC_FREED)
            return; /* FIN_SENT, PEER_FIN: discarded; ERROR_SENT: not read */
        /* The FIN is in behind this data (a long upload may have kept the
         * EOF for a later wakeup): was a request read, or output owed? */
        if (r->fin)
            c->owed_at_fin |= c->out.len || c->requests != requests_before;
        c->in_read = false;
        if (c->state <= SC_OPEN) /* the timer only moves earlier: no churn */
            tw__sconn_arm(c, c->active_ms + (c->closing ? s->o.grace_ms : s->o.idle_timeout_ms));
        tw__sconn_flush(c);
        return;
    }
    if (n == 0) {
        c->fin_in = true;
        c->owed_at_fin |= c->out.len || c->held;
        if (!c->reading && c->state <= SC_OPEN) {
            /* paused (backpressure): the requests waiting in c->in are
             * answered first, the FIN is handled when reading resumes */
            c->owed_at_fin |= c->in.len != 0;
            c->fin_pending = true;
            return;
        }
        on_peer_fin(c);
        return;
    }
    if (n == -ECONNRESET)
        close_gone(c, reset_counter(c));
    else
        tw__sconn_abort(c, reset_counter(c));
}

/* ---- accepting ---- */

/* The table is full: the connection that has been idle longest (no
 * request partly in, nothing owed or unacknowledged) makes room for a new
 * client, rather than the new client waiting behind one that went quiet.
 * NULL when none is idle. */
static tw_sconn *idle_victim(tw_server *s)
{
    int n = 0;

    for (struct tw_list *p = s->conns.next; p != &s->conns && n < REAP_SCAN; p = p->next, n++) {
        tw_sconn *c = tw__container_of(p, tw_sconn, link);
        if (c->state == SC_OPEN && !c->in.len && !c->out.len && c->requests &&
            tw_sock_unacked(c->io.fd) == 0)
            return c;
    }
    return NULL;
}

static void resume_accept(tw_timer *t)
{
    tw_server *s = t->data;
    if (!s->shutting_down)
        listen_resume(s);
}

/* A new connection, or accept's error. The table's limit is checked after
 * each connection is taken, so that while it is full (and no idle one can
 * make room) the next clients wait in the listen queue, not reset; only on
 * io_uring, whose kernel accepts ahead, may the few it took before the pause
 * go past max_conns. */
static void on_accept(tw_accept *a, int fd)
{
    tw_server *s = a->data;
    tw_sconn *c;

    if (fd < 0) {
        /* Out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM...): the
         * pending connection stays queued and would be reported again at
         * once. Pause instead of spin. */
        tw__stat_inc(&s->st.accept_paused);
        tw_accept_pause(&s->acc);
        tw_timer_start(s->loop, &s->accept_timer, ACCEPT_PAUSE_MS);
        return;
    }
    if (s->nconns >= s->o.max_conns) {
        tw_sconn *victim = idle_victim(s);
        if (victim)
            tw__sconn_abort(victim, &s->st.reaped_idle);
    }
    if (!(c = calloc(1, sizeof(*c)))) {
        tw_sock_abort(fd);
        return;
    }
    c->srv = s;
    c->state = s->proto->first;
    c->reading = true; /* TCP_NODELAY: inherited from the listener */
    c->since_ms = c->active_ms = tw_loop_now(s->loop);
    tw_io_init(&c->io, fd, on_io, c);
    tw_recv_init(&c->rcv, fd, on_data, c);
    tw_timer_init(&c->timer, on_timer, c);
    if (tw_recv_start(s->loop, &c->rcv) < 0) {
        tw_sock_abort(fd);
        free(c);
        return;
    }
    /* HELLO, or the first request's head, within request_timeout */
    tw__sconn_arm(c, c->since_ms + s->o.request_timeout_ms);
    tw__list_add_tail(&s->conns, &c->link);
    s->nconns++;
    tw__stat_inc(&s->st.accepted);
    tw__stat_inc(&s->st.active);
    if (s->o.on_open)
        s->o.on_open(c, s->o.data);
    /* full, and none idle to make room for the next: wait for a close */
    if (s->nconns >= s->o.max_conns && tw_accept_active(&s->acc) && !idle_victim(s)) {
        s->paused_full = true;
        tw__stat_inc(&s->st.accept_paused);
        tw_accept_pause(&s->acc);
    }
}

/* The shutdown timeout: what is still open is aborted. */
static void shutdown_over(tw_timer *t)
{
    tw_server *s = t->data;

    while (!tw__list_empty(&s->conns))
        tw__sconn_abort(tw__container_of(s->conns.next, tw_sconn, link), &s->st.aborted_shutdown);
}

int tw_server_start(tw_loop *loop, const struct tw_server_opts *opts, tw_server **out)
{
    struct tw_listen_opts lo;
    tw_server *s;
    int fd, err;

    const struct tw__proto *proto;

    if (!loop || !opts || !out)
        return -EINVAL;
    switch (opts->proto) {
    case TW_PROTO_TWP: proto = &tw__proto_twp; break;
    case TW_PROTO_HTTP: proto = &tw__proto_http; break;
    default: return -EINVAL;
    }
    if (opts->after_fin > TW_AFTER_FIN_RST ||
        (opts->after_fin == TW_AFTER_FIN_RST && !proto->rst_after_fin_ok))
        return -EINVAL; /* twp clients that want no TIME_WAIT say BYE */
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->loop = loop;
    s->proto = proto;
    s->o = *opts;
#define DEFAULT(f, v) if (!s->o.f) s->o.f = (v)
    DEFAULT(max_conns, 10000);
    DEFAULT(idle_timeout_ms, 60000);
    DEFAULT(grace_ms, 2000);
    DEFAULT(stall_timeout_ms, 10000);
    DEFAULT(min_progress, 1024);
    DEFAULT(close_wait_ms, 1000);
    DEFAULT(shutdown_timeout_ms, 30000);
    DEFAULT(max_frame, TW_TWP_MAX_FRAME_DEFAULT);
    DEFAULT(max_outbuf, 1u << 20);
    DEFAULT(request_timeout_ms, 10000);
#undef DEFAULT
    if (s->o.max_outbuf > TW_BUF_MAX / 2)
        s->o.max_outbuf = TW_BUF_MAX / 2;
    if (s->o.after_fin == TW_AFTER_FIN_AUTO)
        s->o.after_fin = TW_AFTER_FIN_FIN;
    tw__list_init(&s->conns);
    lo = (struct tw_listen_opts){.backlog = opts->backlog, .reuseport = opts->reuseport};
    if ((fd = tw_sock_listen(&opts->listen, &lo)) < 0) {
        free(s);
        return fd;
    }
    tw_sock_set_nodelay(fd, true); /* Linux: accepted sockets inherit it */
    tw_accept_init(&s->acc, fd, on_accept, s);
    tw_timer_init(&s->accept_timer, resume_accept, s);
    tw_timer_init(&s->shutdown_timer, shutdown_over, s);
    if ((err = tw_accept_start(loop, &s->acc)) < 0) {
        close(fd);
        free(s);
        return err;
    }
    *out = s;
    return 0;
}

int tw_server_local(const tw_server *s, tw_addr *out)
{
    return s->acc.io.fd >= 0 ? tw_sock_local(s->acc.io.fd, out) : -EBADF;
}

void tw_server_shutdown(tw_server *s)
{
    if (!s || s->shutting_down)
        return;
    s->shutting_down = true;
    tw_timer_stop(&s->accept_timer);
    tw_accept_close(&s->acc);
    if (!tw__list_empty(&s->conns))
        tw_timer_start(s->loop, &s->shutdown_timer, s->o.shutdown_timeout_ms);
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
    tw_timer_stop(&s->shutdown_timer);
    if (s->acc.io.fd >= 0)
        tw_accept_close(&s->acc);
    while (!tw__list_empty(&s->conns))
        tw__sconn_abort(tw__container_of(s->conns.next, tw_sconn, link), &s->st.aborted_shutdown);
    free(s);
}

const struct tw_server_stats *tw_server_stats(const tw_server *s) { return &s->st; }

void tw_server_stats_load_sized(const tw_server *s, struct tw_server_stats *out, size_t size)
{
    struct tw_server_stats all;

#define LOAD(name, kind, prom, help) all.name = __atomic_load_n(&s->st.name, __ATOMIC_RELAXED);
    TW_SERVER_STATS(LOAD)
#undef LOAD
    memcpy(out, &all, size < sizeof(all) ? size : sizeof(all));
}
unsigned tw_server_conns(const tw_server *s) { return s->nconns; }
bool tw_server_shutting_down(const tw_server *s) { return s->shutting_down; }
tw_server *tw_sconn_server(const tw_sconn *c) { return c->srv; }
void tw_sconn_set_data(tw_sconn *c, void *data) { c->data = data; }
void *tw_sconn_data(const tw_sconn *c) { return c->data; }
