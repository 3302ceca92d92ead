/* HTTP/1.1 clients (internal.h, --proto http): GET / on plain sockets,
 * Content-Length framing, ended as the strategy says. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/internal.h"
#include "twkit/error.h"
#include "twkit/http.h"
#include "twkit/time.h"

/* One connection slot: connect, GET, read the response (Content-Length
 * framing), then end as the strategy says or, for pool, ask again. */
enum { HC_IDLE, HC_CONNECTING, HC_WAITING, HC_SERVER_FIN };

struct hconn {
    struct cthread *t;
    tw_io io;
    tw_timer retry;
    uint8_t state;
    uint64_t t0_ns, c0_ns;
    int64_t body_left;   /* -1: the head is not whole yet */
    bool keep;           /* the response allows another request */
    uint32_t hlen;
    char head[4096];
};

static __thread char body_sink[64 * 1024];

static void http_start(struct hconn *h);

static void http_drop(struct hconn *h, bool abort_it)
{
    if (h->io.fd >= 0) {
        if (abort_it)
            tw_sock_abort(h->io.fd);
        else
            close(h->io.fd); /* FIN: this client closes first */
        tw_io_forget(&h->io);
        h->io.fd = -1;
    }
    h->state = HC_IDLE;
}

static void http_fail(struct hconn *h, int err)
{
    http_drop(h, true);
    tb__count_error(h->t, err);
    tw_timer_start(h->t->loop, &h->retry, RETRY_MS);
}

static void http_retry(tw_timer *tm) { http_start(tm->data); }

static void http_send(struct hconn *h)
{
    struct run *run = h->t->run;
    int k = run->how->http_close;

    h->hlen = 0;
    h->body_left = -1;
    errno = 0;
    if (write(h->io.fd, run->http_req[k], run->http_req_len[k]) != (ssize_t)run->http_req_len[k]) {
        http_fail(h, errno ? errno : EPROTO);
        return;
    }
    h->state = HC_WAITING;
    tw_io_start(h->t->loop, &h->io, TW_IO_READ);
}

static void http_response_done(struct hconn *h)
{
    struct cthread *t = h->t;
    enum tb_after after = t->run->how->after;

    tb__inc(&t->n.requests);
    tu_hist_add(&t->request_us, (tw_now_ns() - h->t0_ns) / 1000);
    if (after == TB_AFTER_WAIT) {
        h->state = HC_SERVER_FIN; /* the server's FIN is the end of it */
        return;
    }
    tb__inc(&t->n.sessions);
    if (after == TB_AFTER_AGAIN && h->keep) {
        h->t0_ns = tw_now_ns();
        http_send(h);
        return;
    }
    http_drop(h, after == TB_AFTER_ABORT);
    http_start(h);
}

/* Take n response bytes from p. Returns 0, or an errno. */
static int http_take(struct hconn *h, const char *p, size_t n)
{
    if (h->body_left < 0) {
        struct tw_http_resp r;
        ssize_t hl;
        memcpy(h->head + h->hlen, p, n);
        h->hlen += (uint32_t)n;
        if ((hl = tw_http_parse_response(h->head, h->hlen, sizeof(h->head), &r)) == -EAGAIN)
            return 0;
        if (hl < 0 || r.content_length < 0)
            return EPROTO; /* malformed, or not Content-Length framing */
        h->keep = r.keep_alive;
        h->body_left = r.content_length - (int64_t)(h->hlen - (uint32_t)hl);
    } else {
        h->body_left -= (int64_t)n;
    }
    return h->body_left < 0 ? EPROTO : 0; /* < 0: more than was announced */
}

static void on_http_io(tw_io *io, unsigned events)
{
    struct hconn *h = io->data;
    int err = 0;

    if (h->state == HC_CONNECTING) {
        socklen_t sl = sizeof(err);
        getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
        if (err) {
            http_fail(h, err);
            return;
        }
        tu_hist_add(&h->t->connect_us, (tw_now_ns() - h->c0_ns) / 1000);
        http_send(h);
        return;
    }
    for (;;) {
        bool head = h->body_left < 0;
        ssize_t n;
        if (head && h->hlen == sizeof(h->head)) {
            http_fail(h, EMSGSIZE); /* a response head past 4 KiB */
            return;
        }
        n = read(io->fd, body_sink, head ? sizeof(h->head) - h->hlen : sizeof(body_sink));
        if (n > 0 && h->state == HC_WAITING) {
            if ((err = http_take(h, body_sink, (size_t)n))) {
                http_fail(h, err);
                return;
            }
            if (h->body_left == 0) {
                http_response_done(h);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return;
        if (n == 0 && h->state == HC_SERVER_FIN) {
            tb__inc(&h->t->n.sessions);
            http_drop(h, false); /* after the server's FIN: ours goes second */
            http_start(h);
            return;
        }
        /* EOF before the response, data after it, or a read error */
        http_fail(h, n == 0 ? ECONNRESET : n > 0 ? EPROTO : errno);
        return;
    }
}

static void http_start(struct hconn *h)
{
    struct cthread *t = h->t;
    struct run *run = t->run;
    int fd;

    if (t->stopping)
        return;
    h->c0_ns = h->t0_ns = tw_now_ns();
    fd = socket(run->dst.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tb__count_error(t, errno);
        tw_timer_start(t->loop, &h->retry, RETRY_MS);
        return;
    }
    tb__inc(&t->n.conns);
    tw_io_init(&h->io, fd, on_http_io, h);
    if (run->copts.port_hi)
        tw_sock_set_port_range(fd, run->copts.port_lo, run->copts.port_hi);
    if (connect(fd, &run->dst.u.sa, run->dst.len) < 0 && errno != EINPROGRESS) {
        http_fail(h, errno);
        return;
    }
    h->state = HC_CONNECTING;
    tw_io_start(t->loop, &h->io, TW_IO_WRITE);
}

static void on_http_tick(tw_timer *tm)
{
    struct cthread *t = tm->data;

    if (!t->run->stop) {
        tw_timer_start(t->loop, &t->tick, STOP_POLL_MS);
        return;
    }
    t->stopping = true;
    for (unsigned i = 0; i < t->nslots; i++) {
        tw_timer_stop(&t->hslots[i].retry);
        http_drop(&t->hslots[i], true);
    }
    tw_loop_stop(t->loop);
}

static void *http_client_main(void *arg)
{
    struct cthread *t = arg;
    struct run *run = t->run;

    tb__enter_ns(run->client_ns);
    pthread_barrier_wait(&run->ready);
    t->start_ns = tw_now_ns();
    tw_timer_init(&t->tick, on_http_tick, t);
    for (unsigned i = 0; i < t->nslots; i++) {
        struct hconn *h = &t->hslots[i];
        h->t = t;
        h->io.fd = -1;
        tw_timer_init(&h->retry, http_retry, h);
        http_start(h);
    }
    tw_timer_start(t->loop, &t->tick, STOP_POLL_MS);
    tw_loop_run(t->loop);
    getrusage(RUSAGE_THREAD, &t->ru);
    return NULL;
}

/* The thread's loop and its connection slots. */
static int prepare(struct cthread *t, char *err, size_t errlen)
{
    t->hslots = tb__thread_loop(t, sizeof(*t->hslots), err, errlen);
    return t->hslots ? 0 : -ENOMEM;
}

const struct tb__client tb__client_http = {.prepare = prepare, .main = http_client_main};
