/* A pool of persistent twp connections to one destination (twkit/pool.h).
 *
 * A connection is CONNECTING until the server's HELLO, then IDLE (in the
 * idle list, most recently used first), BUSY (one request in flight),
 * RELEASING (its reply was delivered, but the rest of the read that carried
 * it is still being parsed: a DONE may follow in the same bytes), and
 * ENDING (DONE received, or BYE sent). Only IDLE and RELEASING connections
 * take a request, RELEASING ones when the read is over (on_drained).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/internal.h"
#include "core/list.h"
#include "twkit/client.h"
#include "twkit/pool.h"
#include "twkit/time.h"

struct preq {
    struct tw_list link; /* in pool->waiting */
    tw_timer timer;      /* wait deadline */
    tw_pool *pool;
    tw_pool_reply_cb cb;
    void *arg;
    uint32_t len;
    uint8_t payload[];
};

enum pc_state { PC_CONNECTING, PC_IDLE, PC_BUSY, PC_RELEASING, PC_ENDING };

struct pconn {
    struct tw_list link; /* in pool->idle when IDLE */
    struct tw_list all;  /* in pool->all */
    tw_pool *pool;
    tw_client *c;
    struct preq *req;    /* in flight when BUSY */
    uint64_t idle_since;
    enum pc_state state;
    bool used;           /* carried a request before */
    bool reaped;
};

struct tw_pool {
    tw_loop *loop;
    struct tw_pool_opts o;
    struct tw_list idle, waiting, all;
    unsigned nconns, nconnecting, nreleasing, nwaiting;
    tw_timer reap, retry;
    struct tw_backoff backoff;
    int last_err;        /* the last connect failure, while it stands */
    bool backing_off, shutting_down, freeing;
    struct tw_pool_stats st;
};

/* ---- backoff ------------------------------------------------------------ */

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : (tw_now_ns() | 1);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

uint64_t tw_backoff_next(struct tw_backoff *b)
{
    uint64_t lo = b->min_ms ? b->min_ms : 100, hi = b->max_ms ? b->max_ms : 10000;
    uint64_t d = lo;

    for (unsigned i = 0; i < b->attempt && d < hi; i++)
        d *= 2;
    if (d > hi)
        d = hi;
    b->attempt++;
    return d - next_rand(&b->rng) % (d / 2 + 1);
}

void tw_backoff_reset(struct tw_backoff *b) { b->attempt = 0; }

/* ---- requests ----------------------------------------------------------- */

static void finish(struct preq *r, int err, const uint8_t *reply, uint32_t len)
{
    tw_pool *p = r->pool;

    if (err)
        p->st.failed++;
    else
        p->st.replies++;
    r->cb(r->arg, err, reply, len);
    free(r);
}

static void unwait(tw_pool *p, struct preq *r)
{
    tw__list_del(&r->link);
    tw_timer_stop(&r->timer);
    p->nwaiting--;
}

static void on_wait_timeout(tw_timer *t)
{
    struct preq *r = t->data;
    tw_pool *p = r->pool;

    unwait(p, r);
    p->st.wait_timeouts++;
    finish(r, p->last_err ? p->last_err : -ETIMEDOUT, NULL, 0);
}

static void wait_for_conn(tw_pool *p, struct preq *r, bool first)
{
    if (first)
        tw__list_add_head(&p->waiting, &r->link);
    else
        tw__list_add_tail(&p->waiting, &r->link);
    p->nwaiting++;
    tw_timer_start(p->loop, &r->timer, p->o.wait_timeout_ms);
}

/* ---- connections -------------------------------------------------------- */

static void maybe_connect(tw_pool *p);

static void assign(struct pconn *pc, struct preq *r)
{
    tw_pool *p = pc->pool;
    int err;

    pc->state = PC_BUSY;
    pc->req = r;
    if (pc->used)
        p->st.hits++;
    else
        p->st.misses++;
    pc->used = true;
    if ((err = tw_client_send(pc->c, r->payload, r->len)) < 0) {
        pc->req = NULL;
        pc->state = PC_ENDING;
        tw_client_abort(pc->c); /* on_close counts it */
        finish(r, err, NULL, 0);
    }
}

static void bye(struct pconn *pc)
{
    pc->state = PC_ENDING;
    tw_client_bye(pc->c); /* ends in on_close with GOODBYE */
}

static void arm_reaper(tw_pool *p)
{
    struct pconn *oldest;

    if (tw__list_empty(&p->idle)) {
        tw_timer_stop(&p->reap);
        return;
    }
    oldest = tw__container_of(p->idle.prev, struct pconn, link);
    uint64_t due = oldest->idle_since + p->o.idle_timeout_ms, now = tw_loop_now(p->loop);
    tw_timer_start(p->loop, &p->reap, due > now ? due - now : 0);
}

/* A connection can take a request: the first waiting one, or wait itself. */
static void release(struct pconn *pc)
{
    tw_pool *p = pc->pool;

    if (!tw__list_empty(&p->waiting)) {
        struct preq *r = tw__container_of(p->waiting.next, struct preq, link);
        unwait(p, r);
        assign(pc, r);
    } else if (p->shutting_down) {
        bye(pc);
    } else {
        pc->state = PC_IDLE;
        pc->idle_since = tw_loop_now(p->loop);
        tw__list_add_head(&p->idle, &pc->link);
        if (!tw_timer_active(&p->reap))
            arm_reaper(p);
    }
}

static void on_reap(tw_timer *t)
{
    tw_pool *p = t->data;
    uint64_t now = tw_loop_now(p->loop);

    while (!tw__list_empty(&p->idle)) {
        struct pconn *pc = tw__container_of(p->idle.prev, struct pconn, link);
        if (pc->idle_since + p->o.idle_timeout_ms > now)
            break;
        tw__list_del(&pc->link);
        pc->reaped = true;
        bye(pc);
    }
    arm_reaper(p);
}

static void on_ready(tw_client *c)
{
    struct pconn *pc = tw_client_data(c);
    tw_pool *p = pc->pool;

    p->nconnecting--;
    p->backing_off = false;
    p->last_err = 0;
    tw_timer_stop(&p->retry);
    tw_backoff_reset(&p->backoff);
    release(pc);
}

static void on_data(tw_client *c, const uint8_t *d, uint32_t len)
{
    struct pconn *pc = tw_client_data(c);
    struct preq *r = pc->req;

    if (pc->state != PC_BUSY || !r) {
        pc->state = PC_ENDING; /* a reply nobody asked for: not a twp server */
        tw_client_abort(c);
        return;
    }
    pc->req = NULL;
    pc->state = PC_RELEASING;
    pc->pool->nreleasing++;
    finish(r, 0, d, len);
}

static void on_drained(tw_client *c)
{
    struct pconn *pc = tw_client_data(c);

    if (pc->state == PC_RELEASING) {
        pc->pool->nreleasing--;
        release(pc);
    }
}

/* The server asked us to close: what it did not answer, it did not process,
 * so the request in flight goes first in line for another connection. */
static void on_done(tw_client *c)
{
    struct pconn *pc = tw_client_data(c);
    tw_pool *p = pc->pool;

    if (pc->state == PC_IDLE)
        tw__list_del(&pc->link);
    if (pc->state == PC_RELEASING)
        p->nreleasing--;
    if (pc->req) {
        p->st.retried++;
        wait_for_conn(p, pc->req, true);
        pc->req = NULL;
    }
    pc->state = PC_ENDING;
    p->st.replaced++;
    maybe_connect(p);
}

static void on_close(tw_client *c, enum tw_client_end how, int err)
{
    struct pconn *pc = tw_client_data(c);
    tw_pool *p = pc->pool;

    tw__list_del(&pc->all);
    p->nconns--;
    if (p->freeing) {
        free(pc);
        return;
    }
    switch (pc->state) {
    case PC_CONNECTING:
        p->nconnecting--;
        p->st.connect_failed++;
        p->last_err = err ? err : -ECONNRESET;
        p->backing_off = true;
        tw_timer_start(p->loop, &p->retry, tw_backoff_next(&p->backoff));
        break;
    case PC_IDLE:
        tw__list_del(&pc->link);
        break;
    case PC_RELEASING:
        p->nreleasing--;
        break;
    default:
        break;
    }
    if (pc->reaped && how == TW_CLIENT_END_GOODBYE)
        p->st.reaped++;
    else if (pc->state != PC_CONNECTING && how != TW_CLIENT_END_DONE &&
             how != TW_CLIENT_END_GOODBYE)
        p->st.lost++;
    if (pc->req) /* broke with a request in flight: it may have been processed */
        finish(pc->req, err ? err : -ECONNRESET, NULL, 0);
    free(pc);
    maybe_connect(p);
}

static void open_conn(tw_pool *p)
{
    struct pconn *pc = calloc(1, sizeof(*pc));
    struct tw_client_opts o = {
        .dst = p->o.dst, .connect = p->o.connect,
        .connect_timeout_ms = p->o.connect_timeout_ms, .max_frame = p->o.max_frame,
        .on_ready = on_ready, .on_data = on_data, .on_done = on_done,
        .on_close = on_close, .on_drained = on_drained, .data = pc,
    };
    int err;

    p->st.connects++;
    if (!pc || (err = tw_client_connect(p->loop, &o, &pc->c)) < 0) {
        free(pc);
        p->st.connect_failed++;
        p->last_err = pc ? err : -ENOMEM;
        p->backing_off = true;
        tw_timer_start(p->loop, &p->retry, tw_backoff_next(&p->backoff));
        return;
    }
    pc->pool = p;
    pc->link.prev = pc->link.next = &pc->link;
    tw__list_add_tail(&p->all, &pc->all);
    p->nconns++;
    p->nconnecting++;
    if (p->nconns > p->st.conns_peak)
        p->st.conns_peak = p->nconns;
}

/* Open connections for the requests that no connection in sight will take. */
static void maybe_connect(tw_pool *p)
{
    while (!p->backing_off && p->nconns < p->o.max_conns &&
           p->nwaiting > p->nconnecting + p->nreleasing)
        open_conn(p);
}

static void on_retry(tw_timer *t)
{
    tw_pool *p = t->data;

    p->backing_off = false;
    maybe_connect(p);
}

/* ---- the pool ----------------------------------------------------------- */

tw_pool *tw_pool_new(tw_loop *loop, const struct tw_pool_opts *o)
{
    tw_pool *p;

    if (!loop || !o || !(p = calloc(1, sizeof(*p))))
        return NULL;
    p->loop = loop;
    p->o = *o;
    if (!p->o.max_conns)
        p->o.max_conns = 8;
    if (!p->o.idle_timeout_ms)
        p->o.idle_timeout_ms = 30000;
    if (!p->o.wait_timeout_ms)
        p->o.wait_timeout_ms = 5000;
    p->backoff.min_ms = o->backoff_min_ms;
    p->backoff.max_ms = o->backoff_max_ms;
    tw__list_init(&p->idle);
    tw__list_init(&p->waiting);
    tw__list_init(&p->all);
    tw_timer_init(&p->reap, on_reap, p);
    tw_timer_init(&p->retry, on_retry, p);
    return p;
}

int tw_pool_request(tw_pool *p, const void *payload, uint32_t len, tw_pool_reply_cb cb,
                    void *arg)
{
    struct preq *r;

    if (!p || !cb || (len && !payload))
        return -EINVAL;
    if (p->shutting_down)
        return -ESHUTDOWN;
    if (!(r = malloc(sizeof(*r) + len)))
        return -ENOMEM;
    r->pool = p;
    r->cb = cb;
    r->arg = arg;
    r->len = len;
    if (len)
        memcpy(r->payload, payload, len);
    tw_timer_init(&r->timer, on_wait_timeout, r);
    p->st.requests++;

    /* the clock, not the loop's time: the loop may not have run for long */
    uint64_t now = tw_now_ms();
    while (!tw__list_empty(&p->idle)) {
        struct pconn *pc = tw__container_of(p->idle.next, struct pconn, link);
        tw__list_del(&pc->link);
        /* Idle since an earlier millisecond: events we have not yet seen
         * (DONE, FIN, RST) may be waiting. Check before use. */
        if (pc->idle_since != now && !tw__client_usable(pc->c))
            continue; /* it is ending; on_done/on_close took care of it */
        assign(pc, r);
        return 0;
    }
    wait_for_conn(p, r, false);
    maybe_connect(p);
    return 0;
}

void tw_pool_shutdown(tw_pool *p)
{
    if (!p || p->shutting_down)
        return;
    p->shutting_down = true;
    while (!tw__list_empty(&p->idle)) {
        struct pconn *pc = tw__container_of(p->idle.next, struct pconn, link);
        tw__list_del(&pc->link);
        bye(pc);
    }
    tw_timer_stop(&p->reap);
}

void tw_pool_free(tw_pool *p)
{
    if (!p)
        return;
    p->freeing = p->shutting_down = true;
    tw_timer_stop(&p->reap);
    tw_timer_stop(&p->retry);
    while (!tw__list_empty(&p->waiting)) {
        struct preq *r = tw__container_of(p->waiting.next, struct preq, link);
        unwait(p, r);
        finish(r, -ECANCELED, NULL, 0);
    }
    while (!tw__list_empty(&p->all)) {
        struct pconn *pc = tw__container_of(p->all.next, struct pconn, all);
        struct preq *r = pc->req;
        pc->req = NULL;
        if (r)
            finish(r, -ECANCELED, NULL, 0);
        tw_client_abort(pc->c); /* on_close unlinks and frees pc */
    }
    free(p);
}

unsigned tw_pool_conns(const tw_pool *p) { return p->nconns; }
const struct tw_pool_stats *tw_pool_stats(const tw_pool *p) { return &p->st; }
