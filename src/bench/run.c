/* The bench engine (bench.h): client threads, the in-process server, the
 * raw baseline, and the 100 ms TIME_WAIT sampler. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/server_group.h"
#include "twkit/client.h"
#include "twkit/diag.h"
#include "twkit/error.h"
#include "twkit/http.h"
#include "twkit/pool.h"
#include "twkit/server.h"
#include "twkit/time.h"

#define MAX_THREADS 64
#define SAMPLE_MS 100
#define RETRY_MS 10       /* a failed session's slot waits this long */
#define STOP_POLL_MS 10
#define LAB_PORT 7070
#define MAX_REQUEST (64 * 1024)

struct run;

struct sess {
    struct cthread *t;
    tw_client *c;
    uint64_t t0_ns;       /* latency origin: start, or intended start (--rate) */
    bool replied;
    tw_timer retry;
};

/* Counters a client thread writes and the sampler reads (relaxed atomics). */
struct counts {
    uint64_t sessions, requests, errors, conns;
};

struct cthread {
    struct run *run;
    pthread_t tid;
    tw_loop *loop;
    struct sess *slots;
    struct hconn *hslots; /* --proto http */
    unsigned nslots, inflight;
    tw_pool *pool;
    tw_timer tick;
    bool stopping;
    double rate;          /* per thread, /s; 0: closed loop */
    uint64_t start_ns, started, behind;
    struct counts n;
    uint64_t err[TB_NERRNO];
    struct tb_hist connect_us, request_us;
    struct rusage ru;
};

/* A raw server thread (the others are a tb_server_group). */
struct raw_server {
    struct run *run;
    pthread_t tid;
    int lfd;
    struct rusage ru;
};

struct run {
    const struct tb_opts *o;
    const struct tb_strategy *how; /* o->strategy */
    struct tb_result *r;
    tw_addr dst;
    struct tw_lab lab;
    bool have_lab;
    bool server_local;         /* its TIME_WAIT can be counted here */
    int client_ns, server_ns;  /* -1: stay */
    volatile int stop;
    uint64_t t0_ms;
    int64_t exhausted_ms;      /* first EADDRNOTAVAIL, -1 */
    uint64_t sessions_at_exhaustion;
    /* --port-range on each client socket too (IP_LOCAL_PORT_RANGE): with
     * only the sysctl, connect() keeps to the ports of one parity while one
     * of them is free and a server-close run would reuse half the range */
    struct tw_connect_opts copts;
    uint8_t payload[MAX_REQUEST];
    char http_req[2][256];     /* http: keep-alive, Connection: close */
    uint32_t http_req_len[2];
    struct cthread ct[MAX_THREADS];
    tb_server_group *group;    /* the built-in server, */
    struct raw_server rs[MAX_THREADS]; /* or the raw one */
    unsigned nct, nst;
    pthread_barrier_t ready;
};

static uint64_t ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static void inc(uint64_t *p) { __atomic_store_n(p, *p + 1, __ATOMIC_RELAXED); }

static void enter_ns(int fd)
{
    if (fd >= 0)
        (void)setns(fd, CLONE_NEWNET);
}

static void count_error(struct cthread *t, int err)
{
    struct run *run = t->run;

    if (err <= 0 || err >= TB_NERRNO)
        err = EPROTO;
    t->err[err]++;
    inc(&t->n.errors);
    if (err == EADDRNOTAVAIL && __atomic_load_n(&run->exhausted_ms, __ATOMIC_RELAXED) < 0) {
        int64_t expect = -1, now = (int64_t)(tw_now_ms() - run->t0_ms);
        uint64_t done = 0;
        for (unsigned i = 0; i < run->nct; i++)
            done += ld(&run->ct[i].n.sessions);
        if (__atomic_compare_exchange_n(&run->exhausted_ms, &expect, now, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            __atomic_store_n(&run->sessions_at_exhaustion, done, __ATOMIC_RELAXED);
    }
}

/* ---- per-connection strategies on tw_client ---------------------------- */

static void start_session(struct sess *s, uint64_t t0_ns);

static void on_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    struct sess *s = tw_client_data(c);
    struct cthread *t = s->t;

    if (s->replied)
        return;
    s->replied = true;
    inc(&t->n.requests);
    tb_hist_add(&t->request_us, (tw_now_ns() - s->t0_ns) / 1000);
    tb_hist_add(&t->connect_us, tw_client_connect_ns(c) / 1000);
    switch (t->run->how->after) {
    case TB_AFTER_CLOSE: tw_client_close(c); break;
    case TB_AFTER_ABORT: tw_client_abort(c); break;
    default: break; /* WAIT: the server ends it; AGAIN is the pool's */
    }
}

static void on_retry(tw_timer *tm)
{
    struct sess *s = tm->data;
    start_session(s, tw_now_ns());
}

static void on_close(tw_client *c, enum tw_client_end end, int err)
{
    struct sess *s = tw_client_data(c);
    struct cthread *t = s->t;
    bool ok = s->replied && end == t->run->how->end;

    s->c = NULL;
    t->inflight--;
    if (t->stopping)
        return;
    if (ok)
        inc(&t->n.sessions);
    else
        count_error(t, err < 0 ? -err : s->replied ? EPROTO : ECONNRESET);
    if (t->rate > 0)
        return; /* the tick hands out the next start */
    if (ok)
        start_session(s, tw_now_ns());
    else
        tw_timer_start(t->loop, &s->retry, RETRY_MS);
}

static void start_session(struct sess *s, uint64_t t0_ns)
{
    struct cthread *t = s->t;
    const struct tb_opts *o = t->run->o;
    struct tw_client_opts co = {
        .dst = t->run->dst, .on_data = on_data, .on_close = on_close, .data = s,
        .connect = &t->run->copts, .connect_timeout_ms = 2000,
    };
    int r;

    s->replied = false;
    s->t0_ns = t0_ns;
    if ((r = tw_client_connect(t->loop, &co, &s->c)) < 0) {
        count_error(t, -r);
        if (t->rate <= 0)
            tw_timer_start(t->loop, &s->retry, RETRY_MS);
        return;
    }
    t->inflight++;
    inc(&t->n.conns);
    tw_client_send(s->c, t->run->payload, o->request_size);
    if (t->run->how->bye_first)
        tw_client_bye(s->c);
}

/* ---- pool ---------------------------------------------------------------- */

struct preq { struct cthread *t; uint64_t t0_ns; };

static void pool_request(struct cthread *t, struct preq *q, uint64_t t0_ns);

static void on_reply(void *arg, int err, const uint8_t *reply, uint32_t len)
{
    struct preq *q = arg;
    struct cthread *t = q->t;

    t->inflight--;
    if (t->stopping) {
        free(q);
        return;
    }
    if (err == 0) {
        inc(&t->n.requests);
        inc(&t->n.sessions);
        tb_hist_add(&t->request_us, (tw_now_ns() - q->t0_ns) / 1000);
    } else {
        count_error(t, -err);
    }
    if (t->rate > 0) {
        free(q);
        return;
    }
    pool_request(t, q, tw_now_ns());
}

static void pool_request(struct cthread *t, struct preq *q, uint64_t t0_ns)
{
    int r;

    if (!q && !(q = malloc(sizeof(*q)))) {
        count_error(t, ENOMEM);
        return;
    }
    q->t = t;
    q->t0_ns = t0_ns;
    if ((r = tw_pool_request(t->pool, t->run->payload, t->run->o->request_size, on_reply, q)) < 0) {
        count_error(t, -r);
        free(q);
        return;
    }
    t->inflight++;
}

/* ---- client threads ------------------------------------------------------ */

static void stop_clients(struct cthread *t)
{
    t->stopping = true;
    tw_timer_stop(&t->tick);
    for (unsigned i = 0; i < t->nslots; i++) {
        tw_timer_stop(&t->slots[i].retry);
        if (t->slots[i].c)
            tw_client_abort(t->slots[i].c);
    }
    if (t->pool) {
        t->n.conns = tw_pool_stats(t->pool)->connects;
        tw_pool_free(t->pool); /* in-flight requests: -ECANCELED, ignored */
        t->pool = NULL;
    }
    tw_loop_stop(t->loop);
}

/* Every STOP_POLL_MS (closed loop) or 1 ms (--rate): the stop flag, and
 * the starts that are due. */
static void on_tick(tw_timer *tm)
{
    struct cthread *t = tm->data;

    if (t->run->stop) {
        stop_clients(t);
        return;
    }
    if (t->rate > 0) {
        /* start k (from 0) is intended at start_ns + k / rate */
        uint64_t now = tw_now_ns(), due = (uint64_t)((double)(now - t->start_ns) / 1e9 * t->rate) + 1;
        while (t->started < due) {
            uint64_t intended = t->start_ns + (uint64_t)((double)t->started * 1e9 / t->rate);
            if (t->pool) {
                if (t->inflight >= t->nslots)
                    break;
                pool_request(t, NULL, intended);
            } else {
                struct sess *s = NULL;
                for (unsigned i = 0; i < t->nslots && !s; i++)
                    if (!t->slots[i].c)
                        s = &t->slots[i];
                if (!s)
                    break;
                start_session(s, intended);
            }
            if (now - intended > 10 * 1000000ull)
                t->behind++;
            t->started++;
        }
    }
    tw_timer_start(t->loop, &t->tick, t->rate > 0 ? 1 : STOP_POLL_MS);
}

static void *client_main(void *arg)
{
    struct cthread *t = arg;
    struct run *run = t->run;

    enter_ns(run->client_ns);
    pthread_barrier_wait(&run->ready);
    t->start_ns = tw_now_ns();
    tw_timer_init(&t->tick, on_tick, t);
    if (tb_strategy_pooled(run->how)) {
        struct tw_pool_opts po = {.dst = run->dst, .connect = &run->copts, .max_conns = t->nslots,
                                  .connect_timeout_ms = 2000, .wait_timeout_ms = 2000};
        if (!(t->pool = tw_pool_new(t->loop, &po)))
            count_error(t, ENOMEM);
        else if (t->rate <= 0)
            for (unsigned i = 0; i < t->nslots; i++)
                pool_request(t, NULL, t->start_ns);
    } else if (t->rate <= 0) {
        for (unsigned i = 0; i < t->nslots; i++)
            start_session(&t->slots[i], t->start_ns);
    }
    tw_timer_start(t->loop, &t->tick, t->rate > 0 ? 1 : STOP_POLL_MS);
    tw_loop_run(t->loop);
    /* the aborted sessions' and pool's last callbacks */
    while (tw_loop_active(t->loop) && tw_loop_run_once(t->loop, 10) > 0)
        ;
    getrusage(RUSAGE_THREAD, &t->ru);
    return NULL;
}

/* ---- HTTP clients (--proto http) ------------------------------------------ */

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
    count_error(h->t, err);
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

    inc(&t->n.requests);
    tb_hist_add(&t->request_us, (tw_now_ns() - h->t0_ns) / 1000);
    if (after == TB_AFTER_WAIT) {
        h->state = HC_SERVER_FIN; /* the server's FIN is the end of it */
        return;
    }
    inc(&t->n.sessions);
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
        tb_hist_add(&h->t->connect_us, (tw_now_ns() - h->c0_ns) / 1000);
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
            inc(&h->t->n.sessions);
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
        count_error(t, errno);
        tw_timer_start(t->loop, &h->retry, RETRY_MS);
        return;
    }
    inc(&t->n.conns);
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

    enter_ns(run->client_ns);
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

/* The built-in server's answer: request_size bytes of body. */
static void http_handler(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    struct run *run = data;
    tw_sconn_respond(c, 200, "text/plain", NULL, run->payload, run->o->request_size);
}

/* ---- raw baselines: plain epoll, no library code ------------------------ */

/* What a raw client has open, by descriptor: when its connect started (0:
 * nothing open), and for raw-request how far the request and reply are. */
struct rawconn { uint64_t at; uint32_t sent, got; bool connected; };
struct fdset { struct rawconn *c; int cap; };

static struct rawconn *fdset_put(struct fdset *f, int fd, uint64_t at)
{
    if (fd >= f->cap) {
        int cap = fd + 1024;
        struct rawconn *c = realloc(f->c, (size_t)cap * sizeof(*c));
        if (!c)
            return NULL;
        memset(c + f->cap, 0, (size_t)(cap - f->cap) * sizeof(*c));
        f->c = c;
        f->cap = cap;
    }
    f->c[fd] = (struct rawconn){.at = at};
    return &f->c[fd];
}

/* Close (RST) whatever is still open, at the end of a run. */
static void fdset_abort_all(struct fdset *f)
{
    struct linger l = {1, 0};
    for (int fd = 0; fd < f->cap; fd++)
        if (f->c[fd].at) {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            close(fd);
        }
    free(f->c);
}

static int raw_connect(struct run *run, int ep, struct fdset *open)
{
    int fd = socket(run->dst.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct epoll_event ev = {.events = EPOLLOUT};

    if (fd < 0)
        return -errno;
    if (run->copts.port_hi)
        tw_sock_set_port_range(fd, run->copts.port_lo, run->copts.port_hi);
    if (connect(fd, &run->dst.u.sa, run->dst.len) < 0 && errno != EINPROGRESS) {
        int r = -errno;
        close(fd);
        return r;
    }
    if (!fdset_put(open, fd, tw_now_ns())) {
        close(fd);
        return -ENOMEM;
    }
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* One event of a raw client's connection. 0: keep it open; > 0: it is
 * done; < 0: -errno, it failed. raw ends at the connect; raw-request then
 * writes the payload and ends when as many bytes have come back. */
static int raw_step(struct cthread *t, int ep, int fd, struct rawconn *rc, unsigned events)
{
    uint32_t size = t->run->o->request_size;
    char buf[4096];
    ssize_t n;

    if (events & EPOLLOUT) {
        if (!rc->connected) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr)
                return -soerr;
            tb_hist_add(&t->connect_us, (tw_now_ns() - rc->at) / 1000);
            if (!t->run->how->server.echo)
                return 1; /* raw: the connect is the session */
            rc->connected = true;
        }
        if ((n = write(fd, t->run->payload + rc->sent, size - rc->sent)) < 0)
            return errno == EAGAIN ? 0 : -errno;
        if ((rc->sent += (uint32_t)n) == size) {
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
        return 0;
    }
    if ((n = read(fd, buf, sizeof(buf))) < 0)
        return errno == EAGAIN ? 0 : -errno;
    if (n == 0)
        return -ECONNRESET; /* the raw server never closes first */
    if ((rc->got += (uint32_t)n) < size)
        return 0;
    tb_hist_add(&t->request_us, (tw_now_ns() - rc->at) / 1000);
    return 1;
}

static void *raw_client_main(void *arg)
{
    struct cthread *t = arg;
    struct run *run = t->run;
    struct epoll_event evs[256];
    struct fdset open = {0};
    struct linger l = {1, 0};
    int ep = epoll_create1(EPOLL_CLOEXEC), want = (int)t->nslots, n_open = 0;

    enter_ns(run->client_ns);
    pthread_barrier_wait(&run->ready);
    while (!run->stop) {
        for (int r; n_open < want; n_open++)
            if ((r = raw_connect(run, ep, &open)) < 0) {
                count_error(t, -r);
                usleep(RETRY_MS * 1000);
                break;
            }
        int n = epoll_wait(ep, evs, 256, STOP_POLL_MS);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct rawconn *rc = &open.c[fd]; /* raw_connect put it there */
            int r = raw_step(t, ep, fd, rc, evs[i].events);

            if (r == 0)
                continue;
            if (r > 0) {
                inc(&t->n.sessions);
                inc(&t->n.requests);
            } else {
                count_error(t, -r);
            }
            inc(&t->n.conns);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            close(fd); /* RST; also leaves the epoll set */
            rc->at = 0;
            n_open--;
        }
    }
    close(ep);
    fdset_abort_all(&open);
    getrusage(RUSAGE_THREAD, &t->ru);
    return NULL;
}

/* Accepts; raw-request: echoes what it reads (a request of at most 4096
 * bytes: one read, one write); closes on the client's RST. */
static void *raw_server_main(void *arg)
{
    struct raw_server *s = arg;
    struct run *run = s->run;
    struct epoll_event ev = {.events = EPOLLIN}, evs[256];
    struct fdset open = {0};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    bool echo = run->how->server.echo;
    char buf[4096];

    ev.data.fd = s->lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &ev);
    pthread_barrier_wait(&run->ready);
    while (!run->stop) {
        int n = epoll_wait(ep, evs, 256, STOP_POLL_MS);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            ssize_t got;
            if (fd == s->lfd) {
                int c;
                while ((c = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    fdset_put(&open, c, 1);
                }
            } else if ((got = read(fd, buf, sizeof(buf))) > 0) {
                if (echo && write(fd, buf, (size_t)got) < 0)
                    continue; /* the RST that follows closes it */
            } else if (got == 0 || errno != EAGAIN) {
                close(fd); /* the client's RST (or FIN) */
                if (fd < open.cap)
                    open.c[fd].at = 0;
            }
        }
    }
    close(ep);
    fdset_abort_all(&open);
    getrusage(RUSAGE_THREAD, &s->ru);
    return NULL;
}

/* ---- the built-in servers ------------------------------------------------- */

static void at_start_line(void *ready) { pthread_barrier_wait(ready); }

/* Make the servers (in the server namespace), not yet running. */
static int start_servers(struct run *run, char *err, size_t errlen)
{
    const struct tb_opts *o = run->o;
    int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC), r = 0;
    char a[TW_ADDRSTRLEN];

    enter_ns(run->server_ns);
    if (run->how->raw) {
        struct tw_listen_opts lo = {.backlog = 4096, .reuseport = run->nst > 1};
        for (unsigned i = 0; i < run->nst && r == 0; i++) {
            run->rs[i].run = run;
            if ((run->rs[i].lfd = tw_sock_listen(&run->dst, &lo)) < 0)
                r = run->rs[i].lfd;
        }
    } else {
        struct tb_server_group_opts go = {
            .threads = run->nst, .on_start = at_start_line, .arg = &run->ready,
            .server = {
                .listen = run->dst, .max_conns = 100000,
                .naive_close = run->how->server.naive_close,
                .max_requests = run->how->server.max_requests,
                .after_fin = run->how->server.after_fin,
                .proto = o->http ? TW_PROTO_HTTP : TW_PROTO_TWP,
                .on_http = http_handler, .data = run,
            },
        };
        r = tb_server_group_new(&go, &run->group);
    }
    if (saved >= 0) {
        setns(saved, CLONE_NEWNET);
        close(saved);
    }
    if (r < 0)
        snprintf(err, errlen, "cannot listen on %s: %s", tw_addr_format(&run->dst, a, sizeof(a)),
                 tw_strerror(r));
    return r;
}

/* ---- TIME_WAIT sampling ---------------------------------------------------- */

struct twcount { uint16_t port; int32_t client, server; };

static int tw_split(const struct tw_diag_sock *s, void *arg)
{
    struct twcount *c = arg;
    if (tw_addr_port(&s->local) == c->port)
        c->server++;
    else if (tw_addr_port(&s->remote) == c->port)
        c->client++;
    return 0;
}

/* TIME_WAIT towards and on the server, in each namespace involved. */
static void sample_tw(struct run *run, int32_t *client, int32_t *server)
{
    struct twcount c = {.port = tw_addr_port(&run->dst)};
    struct tw_tcp_states st;

    if (run->have_lab) {
        *client = tw_lab_count(&run->lab, TW_LAB_CLIENT, &st) == 0 ? (int32_t)st.n[TW_TCP_TIME_WAIT] : -1;
        *server = tw_lab_count(&run->lab, TW_LAB_SERVER, &st) == 0 ? (int32_t)st.n[TW_TCP_TIME_WAIT] : -1;
        return;
    }
    if (tw_diag_dump(1u << TW_TCP_TIME_WAIT, tw_split, &c) < 0) {
        *client = *server = -1;
        return;
    }
    *client = c.client;
    *server = run->server_local ? c.server : -1;
}

static void take_sample(struct run *run, struct tb_sample *s)
{
    memset(s, 0, sizeof(*s));
    s->t_ms = (uint32_t)(tw_now_ms() - run->t0_ms);
    for (unsigned i = 0; i < run->nct; i++) {
        s->sessions += ld(&run->ct[i].n.sessions);
        s->requests += ld(&run->ct[i].n.requests);
        s->errors += ld(&run->ct[i].n.errors);
    }
    sample_tw(run, &s->tw_client, &s->tw_server);
}

/* ---- setup --------------------------------------------------------------- */

static bool addr_is_local(const tw_addr *a)
{
    tw_addr b = *a;
    int fd = socket(a->u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool local;

    tw_addr_set_port(&b, 0);
    local = fd >= 0 && bind(fd, &b.u.sa, b.len) == 0;
    if (fd >= 0)
        close(fd);
    return local;
}

static uint32_t usable_ports(struct run *run)
{
    char buf[64];
    long lo, hi;

    if (run->have_lab) {
        if (tw_lab_sysctl_get(&run->lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", buf,
                              sizeof(buf)) < 0)
            return 0;
    } else {
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
        if (!f)
            return 0;
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = 0;
        fclose(f);
    }
    return sscanf(buf, "%ld %ld", &lo, &hi) == 2 && hi >= lo ? (uint32_t)(hi - lo + 1) : 0;
}

static int setup(struct run *run, char *err, size_t errlen)
{
    const struct tb_opts *o = run->o;
    char v[16];
    int r;

    run->client_ns = run->server_ns = -1;
    if (o->lab) {
        if ((r = tw_lab_create(&run->lab)) < 0) {
            snprintf(err, errlen, "lab: %s", run->lab.err);
            return r;
        }
        run->have_lab = true;
        if (o->port_range &&
            (r = tw_lab_sysctl_set(&run->lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range",
                                   o->port_range)) < 0) {
            snprintf(err, errlen, "--port-range %s: the kernel refused it: %s", o->port_range,
                     tw_strerror(r));
            return r;
        }
        unsigned lo, hi;
        if (o->port_range && sscanf(o->port_range, "%u %u", &lo, &hi) == 2) {
            run->copts.port_lo = (uint16_t)lo;
            run->copts.port_hi = (uint16_t)hi;
        }
        snprintf(v, sizeof(v), "%d", o->tw_reuse);
        if (o->tw_reuse >= 0 &&
            (r = tw_lab_sysctl_set(&run->lab, TW_LAB_CLIENT, "net.ipv4.tcp_tw_reuse", v)) < 0) {
            snprintf(err, errlen, "--tw-reuse %d: the kernel refused it: %s", o->tw_reuse,
                     tw_strerror(r));
            return r;
        }
        run->dst = o->ipv6 ? run->lab.addr6[TW_LAB_SERVER] : run->lab.addr4[TW_LAB_SERVER];
        tw_addr_set_port(&run->dst, LAB_PORT);
        run->client_ns = run->lab.nsfd[TW_LAB_CLIENT];
        run->server_ns = run->lab.nsfd[TW_LAB_SERVER];
        run->nst = o->threads;
        snprintf(run->r->where, sizeof(run->r->where), "lab");
    } else if (o->local_server) {
        /* a free port on loopback, for the in-process server */
        int fd = socket(o->ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        tw_addr_parse(&run->dst, o->ipv6 ? "[::1]:0" : "127.0.0.1:0", 0);
        if (fd < 0 || bind(fd, &run->dst.u.sa, run->dst.len) < 0 ||
            tw_sock_local(fd, &run->dst) < 0) {
            r = -errno;
            if (fd >= 0)
                close(fd);
            snprintf(err, errlen, "no free port on loopback: %s", tw_strerror(r));
            return r;
        }
        close(fd);
        run->nst = o->threads;
        snprintf(run->r->where, sizeof(run->r->where), "loopback");
    } else {
        run->dst = o->target;
        snprintf(run->r->where, sizeof(run->r->where), "target");
    }
    tw_addr_format(&run->dst, run->r->server, sizeof(run->r->server));
    for (int k = 0; k < 2; k++)
        run->http_req_len[k] = (uint32_t)snprintf(run->http_req[k], sizeof(run->http_req[k]),
                                                  "GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                                                  run->r->server, k ? "Connection: close\r\n" : "");
    run->r->usable_ports = usable_ports(run);
    run->server_local = run->nst || addr_is_local(&run->dst);
    if (run->nst && (r = start_servers(run, err, errlen)) < 0)
        return r;
    return 0;
}

static void teardown(struct run *run)
{
    tb_server_group_free(run->group);
    for (unsigned i = 0; i < run->nst; i++)
        if (run->rs[i].run && run->rs[i].lfd >= 0)
            close(run->rs[i].lfd);
    for (unsigned i = 0; i < run->nct; i++) {
        free(run->ct[i].slots);
        free(run->ct[i].hslots);
        if (run->ct[i].loop)
            tw_loop_free(run->ct[i].loop);
    }
    if (run->have_lab)
        tw_lab_destroy(&run->lab);
}

static double secs(const struct timeval *tv) { return (double)tv->tv_sec + (double)tv->tv_usec / 1e6; }

static void collect(struct run *run)
{
    struct tb_result *r = run->r;

    r->cpu_server_user = r->cpu_server_sys = run->nst ? 0 : -1;
    for (unsigned i = 0; i < run->nct; i++) {
        struct cthread *t = &run->ct[i];
        r->new_conns += t->n.conns;
        for (int e = 0; e < TB_NERRNO; e++) {
            r->err[e] += t->err[e];
            if (t->err[e]) {
                if (tb_err_class(e) == TB_ERR_LOCAL)
                    r->errors_local += t->err[e];
                else
                    r->errors_server += t->err[e];
            }
        }
        tb_hist_merge(&r->connect_us, &t->connect_us);
        tb_hist_merge(&r->request_us, &t->request_us);
        r->cpu_client_user += secs(&t->ru.ru_utime);
        r->cpu_client_sys += secs(&t->ru.ru_stime);
        r->behind += t->behind;
    }
    if (run->group) {
        double user, sys;
        tb_server_group_cpu(run->group, &user, &sys);
        r->cpu_server_user += user;
        r->cpu_server_sys += sys;
    }
    for (unsigned i = 0; i < run->nst && !run->group; i++) {
        r->cpu_server_user += secs(&run->rs[i].ru.ru_utime);
        r->cpu_server_sys += secs(&run->rs[i].ru.ru_stime);
    }
    r->errors = r->errors_local + r->errors_server;
    r->exhausted_ms = run->exhausted_ms;
    if (run->exhausted_ms >= 0 && r->elapsed_ms > (uint64_t)run->exhausted_ms)
        r->rate_after_exhaustion = (double)(r->sessions - run->sessions_at_exhaustion) * 1000.0 /
                                   (double)(r->elapsed_ms - (uint64_t)run->exhausted_ms);
}

int tb_run(const struct tb_opts *o, struct tb_result *r, char *err, size_t errlen)
{
    struct run *run = calloc(1, sizeof(*run));
    size_t cap = o->duration_ms / SAMPLE_MS + 8;
    uint64_t next_progress;
    int res;

    memset(r, 0, sizeof(*r));
    r->strategy = o->strategy;
    r->http = o->http;
    r->rate_asked = o->rate;
    r->exhausted_ms = -1;
    r->tw_client_max = r->tw_server_max = -1;
    if (!run || !(r->series = calloc(cap, sizeof(*r->series)))) {
        free(run);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    run->o = o;
    run->how = o->strategy;
    run->r = r;
    run->exhausted_ms = -1;
    for (uint32_t i = 0; i < o->request_size && i < MAX_REQUEST; i++)
        run->payload[i] = (uint8_t)('a' + i % 26);
    run->nct = o->threads;
    if ((res = setup(run, err, errlen)) < 0)
        goto out;
    for (unsigned i = 0; i < run->nct; i++) {
        struct cthread *t = &run->ct[i];
        t->run = run;
        t->nslots = o->concurrency / o->threads + (i < o->concurrency % o->threads);
        if (!t->nslots)
            t->nslots = 1;
        t->rate = o->rate / o->threads;
        if (!o->strategy->raw && (res = tw_loop_new(&t->loop)) < 0) {
            snprintf(err, errlen, "cannot make a loop: %s", tw_strerror(res));
            goto out;
        }
        if (o->http && !(t->hslots = calloc(t->nslots, sizeof(*t->hslots)))) {
            res = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        if (!(t->slots = calloc(t->nslots, sizeof(*t->slots)))) {
            res = -ENOMEM;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        for (unsigned k = 0; k < t->nslots; k++) {
            t->slots[k].t = t;
            tw_timer_init(&t->slots[k].retry, on_retry, &t->slots[k]);
        }
    }

    pthread_barrier_init(&run->ready, NULL, run->nct + run->nst + 1);
    if (run->group)
        tb_server_group_start(run->group);
    else
        for (unsigned i = 0; i < run->nst; i++)
            pthread_create(&run->rs[i].tid, NULL, raw_server_main, &run->rs[i]);
    for (unsigned i = 0; i < run->nct; i++)
        pthread_create(&run->ct[i].tid, NULL,
                       o->strategy->raw ? raw_client_main : o->http ? http_client_main : client_main,
                       &run->ct[i]);
    run->t0_ms = tw_now_ms();
    pthread_barrier_wait(&run->ready);
    next_progress = run->t0_ms + 1000;

    /* sample every 100 ms until the duration is over */
    for (uint64_t now = tw_now_ms(); now - run->t0_ms < o->duration_ms; now = tw_now_ms()) {
        uint64_t next = run->t0_ms + (r->nseries + 1) * SAMPLE_MS, end = run->t0_ms + o->duration_ms;
        if (next > end)
            next = end;
        if (next > now)
            usleep((useconds_t)(next - now) * 1000);
        if (r->nseries < cap) {
            struct tb_sample *s = &r->series[r->nseries++];
            take_sample(run, s);
            if (s->tw_client > r->tw_client_max)
                r->tw_client_max = s->tw_client;
            if (s->tw_server > r->tw_server_max)
                r->tw_server_max = s->tw_server;
            if (o->progress && tw_now_ms() >= next_progress) {
                o->progress(s, o->progress_arg);
                next_progress += 1000;
            }
        }
    }
    r->elapsed_ms = tw_now_ms() - run->t0_ms;
    run->stop = 1;
    for (unsigned i = 0; i < run->nct; i++)
        pthread_join(run->ct[i].tid, NULL);
    for (unsigned i = 0; i < run->nct; i++) {
        r->sessions += run->ct[i].n.sessions;
        r->requests += run->ct[i].n.requests;
    }
    if (r->nseries) {
        r->tw_client_end = r->series[r->nseries - 1].tw_client;
        r->tw_server_end = r->series[r->nseries - 1].tw_server;
    }
    if (run->group) {
        if (tb_server_group_shutdown(run->group) < 0)
            perror("twkit bench: eventfd");
        tb_server_group_join(run->group);
    } else {
        for (unsigned i = 0; i < run->nst; i++)
            pthread_join(run->rs[i].tid, NULL);
    }
    pthread_barrier_destroy(&run->ready);
    collect(run);
    res = 0;
out:
    teardown(run);
    free(run);
    return res;
}

void tb_result_free(struct tb_result *r)
{
    free(r->series);
    r->series = NULL;
}
