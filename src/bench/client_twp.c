/* twp clients (internal.h): a tw_client per session, which ends as its
 * strategy says (close, abort, or the server's DONE, GOODBYE or FIN), or a
 * tw_pool whose connections carry request after request. With --rate a
 * 1 ms tick starts what is due. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/internal.h"
#include "twkit/client.h"
#include "twkit/error.h"
#include "twkit/time.h"

struct sess {
    struct cthread *t;
    tw_client *c;
    uint64_t t0_ns;       /* latency origin: start, or intended start (--rate) */
    bool replied;
    tw_timer retry;
};

/* ---- sessions: a tw_client each ------------------------------------------ */

static void start_session(struct sess *s, uint64_t t0_ns);

static void on_data(tw_client *c, const uint8_t *p, uint32_t len)
{
    struct sess *s = tw_client_data(c);
    struct cthread *t = s->t;

    if (s->replied)
        return;
    s->replied = true;
    tb__inc(&t->n.requests);
    tu_hist_add(&t->request_us, (tw_now_ns() - s->t0_ns) / 1000);
    tu_hist_add(&t->connect_us, tw_client_connect_ns(c) / 1000);
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
        tb__inc(&t->n.sessions);
    else
        tb__count_error(t, err < 0 ? -err : s->replied ? EPROTO : ECONNRESET);
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
        tb__count_error(t, -r);
        if (t->rate <= 0)
            tw_timer_start(t->loop, &s->retry, RETRY_MS);
        return;
    }
    t->inflight++;
    tb__inc(&t->n.conns);
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
        tb__inc(&t->n.requests);
        tb__inc(&t->n.sessions);
        tu_hist_add(&t->request_us, (tw_now_ns() - q->t0_ns) / 1000);
    } else {
        tb__count_error(t, -err);
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
        tb__count_error(t, ENOMEM);
        return;
    }
    q->t = t;
    q->t0_ns = t0_ns;
    if ((r = tw_pool_request(t->pool, t->run->payload, t->run->o->request_size, on_reply, q)) < 0) {
        tb__count_error(t, -r);
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

    tb__enter_ns(run->client_ns);
    pthread_barrier_wait(&run->ready);
    t->start_ns = tw_now_ns();
    tw_timer_init(&t->tick, on_tick, t);
    if (tb_strategy_pooled(run->how)) {
        struct tw_pool_opts po = {.dst = run->dst, .connect = &run->copts, .max_conns = t->nslots,
                                  .connect_timeout_ms = 2000, .wait_timeout_ms = 2000};
        if (!(t->pool = tw_pool_new(t->loop, &po)))
            tb__count_error(t, ENOMEM);
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

/* The thread's loop and its session slots (pooled: the slots stay empty). */
static int prepare(struct cthread *t, char *err, size_t errlen)
{
    if (!(t->slots = tb__thread_loop(t, sizeof(*t->slots), err, errlen)))
        return -ENOMEM;
    for (unsigned k = 0; k < t->nslots; k++) {
        t->slots[k].t = t;
        tw_timer_init(&t->slots[k].retry, on_retry, &t->slots[k]);
    }
    return 0;
}

const struct tb__client tb__client_twp = {.prepare = prepare, .main = client_main};
