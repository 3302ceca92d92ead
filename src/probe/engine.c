/* The probe engine: schedules every target on the timer wheel, resolves,
 * starts the probe kind, enforces the timeout, and keeps the results,
 * states and counters that /metrics (metrics.c) and the JSON log (log.c)
 * report; reload carries them over to the next config's engine.
 *
 * Scheduling is fixed-rate, start to start: a target's next start is its
 * previous due time plus its interval, whatever the probe took. First starts
 * are spread evenly over the interval across all targets, so 20,000 targets
 * at 1 s start 20 per millisecond instead of all at once. A target whose
 * probe still runs when the next is due skips that slot (counted); it is
 * never probed twice at once.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/list.h"
#include "probe/after.h"
#include "probe/engine.h"
#include "probe/ipproto.h"
#include "probe/probe.h"
#include "probe/resolve.h"
#include "probe/shard.h"
#include "probe/timewait.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "util/errcount.h"

const char *const tp_outcome_names[3] = {"success", "failure", "local_error"};
const char *const tp_phase_names[TP_NPHASE] = {"resolve", "connect", "tls", "processing",
                                               "transfer"};

/* An ad-hoc probe: a target of its own, of its module's definition. */
struct tp_adhoc {
    struct tp_target t;
    tp_adhoc_done done;
    void *arg;
    char *target;
    bool finished;
    struct tw_list link;
};

/* The socket of a `close: graceful` probe, finishing in the background. */
struct tp_graceful {
    tw_closer closer;
    struct tw_list link;
    struct tp_engine *e;
};

static void finish(struct tp_engine *e, struct tp_target *t, struct tp_result *r);

tw_loop *tp_engine_loop(struct tp_engine *e) { return e->loop; }
void **tp_engine_kind_data(struct tp_engine *e, const struct tp_kind *k)
{
    return &e->kind_data[tp_kind_index(k)];
}
const struct tp_config *tp_engine_config(struct tp_engine *e) { return e->cfg; }

/* ---- results ---- */

void tp_result_errno(struct tp_result *r, int err)
{
    static const char *const reasons[TW_ECLASS_COUNT] = {
        [TW_ECLASS_NONE] = "error",     [TW_ECLASS_LOCAL] = "local",
        [TW_ECLASS_REFUSED] = "refused", [TW_ECLASS_RESET] = "reset",
        [TW_ECLASS_TIMEOUT] = "timeout", [TW_ECLASS_UNREACH] = "unreachable",
        [TW_ECLASS_OTHER] = "error",
    };
    enum tw_errclass c;

    err = err < 0 ? -err : err;
    c = tw_errclass(err);
    r->outcome = c == TW_ECLASS_LOCAL ? TP_LOCAL : TP_FAILURE;
    r->err = err;
    r->reason = reasons[c];
    snprintf(r->detail, sizeof(r->detail), "%s: %s", tw_errname(err), tw_strerror(err));
}

void tp_result_release(struct tp_result *r)
{
    free(r->leaf_info);
    r->leaf_info = NULL;
}

/* ---- closing ---- */

static void graceful_done(tw_closer *c, int result)
{
    struct tp_graceful *g = c->data;

    tw__list_del(&g->link);
    free(g);
}

void tp_close(struct tp_engine *e, const struct tp_def *def, int fd)
{
    struct tp_graceful *g;

    if (fd < 0)
        return;
    if (!def->graceful || !(g = calloc(1, sizeof(*g)))) {
        tw_sock_abort(fd);
        return;
    }
    g->e = e;
    tw__list_add_tail(&e->graceful, &g->link);
    tp_tw_note(e->tw, fd, tw_loop_now(e->loop), def->timeout_ms); /* its TIME_WAIT is ours */
    /* Our FIN first, so this side holds the TIME_WAIT the target would
     * otherwise log an RST for; bounded by the probe's timeout. */
    if (tw_close_active(e->loop, &g->closer, fd, def->timeout_ms, graceful_done, g) < 0) {
        tw__list_del(&g->link);
        free(g);
        tw_sock_abort(fd);
    }
}

static void graceful_abort_all(struct tp_engine *e)
{
    while (!tw__list_empty(&e->graceful)) {
        struct tp_graceful *g = tw__container_of(e->graceful.next, struct tp_graceful, link);
        tw_timer_stop(&g->closer.timer);
        tw_io_forget(&g->closer.io);
        if (g->closer.io.fd >= 0)
            tw_sock_abort(g->closer.io.fd);
        tw__list_del(&g->link);
        free(g);
    }
}

/* ---- running one probe ---- */

static void launch(struct tp_engine *e, struct tp_target *t)
{
    struct tp_result r = {.verify = -1};
    int err;

    /* no_resolve: the kind connects to a proxy, which is given the name */
    t->addr_chosen = !t->def->no_resolve;
    if (t->addr_chosen && !tp_source_fits(t, &r)) {
        finish(e, t, &r);
        return;
    }
    if ((err = t->def->kind->start(e, t)) < 0) {
        tp_result_errno(&r, err);
        finish(e, t, &r);
    }
}

static void on_resolved(void *arg, int err, const tw_addr *addr, const char *why)
{
    struct tp_target *t = arg;
    struct tp_engine *e = t->engine;

    t->resolving = NULL;
    t->dns_s = (double)(tw_now_ns() - t->started_ns) / 1e9;
    if (err < 0) {
        struct tp_result r = {.verify = -1};
        if (err == -ENOMEM) {
            tp_result_errno(&r, err);
        } else {
            r.outcome = TP_FAILURE;
            r.reason = "dns";
            r.err = -err;
            snprintf(r.detail, sizeof(r.detail), "%.100s: %s", t->ep.host, why ? why : "failed");
        }
        finish(e, t, &r);
        return;
    }
    t->addr = *addr;
    tw_addr_set_port(&t->addr, t->ep.port);
    launch(e, t);
}

static void start_probe(struct tp_engine *e, struct tp_target *t)
{
    int r;

    t->running = true;
    t->started_ns = tw_now_ns();
    t->dns_s = 0;
    t->addr_chosen = false;
    if (!t->adhoc)
        e->inflight++;
    /* The deadline counts from the start just taken, not from the loop's
     * cached time: probes started in one pass would get less than their
     * timeout (a vDSO clock read each). */
    tw_loop_update_time(e->loop);
    tw_timer_start(e->loop, &t->deadline, t->timeout_ms);
    if (t->def->no_resolve) {
        launch(e, t);
        return;
    }
    if (t->literal) {
        struct tp_result res = {.verify = -1};
        if (tp_literal_fits(t, &res))
            launch(e, t);
        else
            finish(e, t, &res);
        return;
    }
    r = tp_resolve(e->resolver, t->ep.host, tp_def_ip_prefer(t->def), !t->def->ip_no_fallback,
                   &t->addr, on_resolved, t, &t->resolving);
    if (r == 1) {
        tw_addr_set_port(&t->addr, t->ep.port);
        launch(e, t);
    } else if (r < 0) {
        struct tp_result res = {.verify = -1};
        t->resolving = NULL;
        tp_result_errno(&res, r);
        finish(e, t, &res);
    }
}

static void on_deadline(tw_timer *tm)
{
    struct tp_target *t = tm->data;
    struct tp_engine *e = t->engine;
    struct tp_result r = {.verify = -1};

    if (t->resolving) {
        tp_resolve_cancel(t->resolving);
        t->resolving = NULL;
        t->dns_s = (double)(tw_now_ns() - t->started_ns) / 1e9; /* all of it */
        snprintf(r.detail, sizeof(r.detail), "resolving %.100s took longer than %llu ms",
                 t->ep.host, (unsigned long long)t->timeout_ms);
    } else {
        t->def->kind->cancel(e, t, &r);
        t->run = NULL;
        if (!r.detail[0]) /* the kind may say what it was waiting for */
            snprintf(r.detail, sizeof(r.detail), "no answer within %llu ms",
                     (unsigned long long)t->timeout_ms);
    }
    r.outcome = TP_FAILURE;
    r.reason = "timeout";
    r.err = ETIMEDOUT;
    finish(e, t, &r);
}

static void once_pump(struct tp_engine *e)
{
    unsigned max = e->opts.max_inflight ? e->opts.max_inflight : 1000;

    while (e->once_next < e->ntargets && e->inflight < max)
        start_probe(e, &e->targets[e->once_next++]);
}

void tp_probe_done(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    finish(e, t, r);
}

/* The kind may still be on its way out of the call that reported: the
 * probe is freed after the batch, not here. */
static void adhoc_finish(struct tp_engine *e, struct tp_adhoc *a, struct tp_result *r)
{
    a->finished = true;
    a->t.seq = 1;
    a->t.last = *r;
    a->t.have_last = true;
    a->t.last_local = r->outcome == TP_LOCAL;
    a->t.last_local_err = r->outcome == TP_LOCAL ? r->err : 0;
    tw_defer_post(e->loop, &e->reap);
    if (a->done)
        a->done(a->arg, &a->t, r);
}

static void adhoc_free(struct tp_adhoc *a)
{
    tw__list_del(&a->link);
    tp_result_release(&a->t.last);
    if (a->t.def->kind->forget)
        a->t.def->kind->forget(&a->t);
    if (a->t.shown != a->t.target)
        free((char *)a->t.shown);
    free(a->target);
    free(a);
}

static void reap(tw_defer *d)
{
    struct tp_engine *e = d->data;

    for (struct tw_list *l = e->adhoc.next, *n; l != &e->adhoc; l = n) {
        struct tp_adhoc *a = tw__container_of(l, struct tp_adhoc, link);
        n = l->next;
        if (a->finished)
            adhoc_free(a);
    }
}

static double unix_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The status page's memory of a result (struct tp_recent): today's counts
 * and, when kept, the duration (a failure's as -1: how long a probe took
 * to fail says nothing of the target's latency). */
static void recent_note(struct tp_recent *rc, const struct tp_result *r, double now)
{
    int32_t day = (int32_t)floor(now / 86400);

    if (day != rc->day) {
        rc->day = day;
        rc->day_ok = rc->day_fail = 0;
    }
    if (r->outcome == TP_SUCCESS)
        rc->day_ok++;
    else
        rc->day_fail++;
    if (!rc->cap)
        return;
    rc->lat[rc->head] = r->outcome == TP_SUCCESS ? (float)r->duration : -1.0f;
    rc->head = (uint16_t)((rc->head + 1) % rc->cap);
    if (rc->n < rc->cap)
        rc->n++;
}

static void finish(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    const struct tp_def *def = t->def;
    enum tp_state from = t->state;

    tw_timer_stop(&t->deadline);
    r->dns = t->dns_s;
    if (t->addr_chosen)
        tp_result_addr(r, &t->addr);
    r->duration = (double)(tw_now_ns() - t->started_ns) / 1e9;
    t->running = false;
    t->run = NULL;
    if (t->adhoc) {
        adhoc_finish(e, t->adhoc, r);
        return;
    }
    e->inflight--;
    t->seq++;
    e->defstat[def - e->cfg->defs].results[r->outcome]++;
    if (r->outcome == TP_LOCAL) {
        /* This host could not probe: the target's state and its run of
         * consecutive results stay as they were. */
        t->last_local = true;
        t->last_local_err = r->err;
        tu_errcount_add(e->local_errs, r->err);
    } else {
        tp_result_release(&t->last); /* t->last owns r's from here */
        t->last = *r;
        t->have_last = true;
        t->last_local = false;
        if (r->outcome == TP_SUCCESS) {
            t->consec_fail = 0;
            if (++t->consec_ok >= def->success_threshold)
                t->state = TP_UP;
        } else {
            t->consec_ok = 0;
            if (++t->consec_fail >= def->failure_threshold)
                t->state = TP_DOWN;
        }
        double now = unix_now();
        if (t->state != from)
            t->since = now;
        recent_note(&t->recent, r, now);
    }
    if (e->opts.log && (t->state != from || e->opts.log_results || e->opts.once))
        tp_log_line(e, t, r, from);
    /* to the after thread: notifications, the store (a copy, no wait) */
    if (e->opts.after)
        tp_after_result(e->opts.after, e->opts.lane, e->opts.after_gen_no, t->index, t, r, from);
    if (r->outcome == TP_LOCAL)
        tp_result_release(r); /* not kept */
    if (e->opts.once) {
        if (--e->once_left == 0) {
            tp_log_flush(e); /* before anyone prints a summary */
            tw_loop_stop(e->loop);
        }
        else
            once_pump(e);
    }
}

/* ---- scheduling ---- */

static void on_sched(tw_timer *tm)
{
    struct tp_target *t = tm->data;
    struct tp_engine *e = t->engine;
    uint64_t interval = t->def->interval_ms, now_us = tw_now_ns() / 1000, now_ms;

    uint64_t late_us = now_us > t->due_ms * 1000 ? now_us - t->due_ms * 1000 : 0;

    tp_metrics_late(e, late_us);
    /* A start this late means the prober is short of CPU: a probe begun
     * now would share it with the backlog and most likely time out, and
     * starting it anyway makes every probe late, so useful work collapses.
     * Skipping sheds the load until starts are on time again. */
    if (t->running || late_us > t->timeout_ms * 100)
        e->defstat[t->def - e->cfg->defs].skipped++;
    else
        start_probe(e, t);
    /* Fixed rate: the next slot follows the one just due, not now; slots
     * that passed while the loop was held up are skipped, not bunched. */
    now_ms = tw_loop_now(e->loop);
    t->due_ms += interval;
    if (tw_ms_diff(t->due_ms, now_ms) <= 0) {
        uint64_t missed = (now_ms - t->due_ms) / interval + 1;
        e->defstat[t->def - e->cfg->defs].skipped += missed;
        t->due_ms += missed * interval;
    }
    tw_timer_start(e->loop, &t->sched, t->due_ms - now_ms);
}

static void stop_loop(tw_defer *d)
{
    struct tp_engine *e = d->data;
    tw_loop_stop(e->loop);
}

int tp_engine_start(struct tp_engine *e)
{
    uint64_t now;

    /* Setting up may have taken a while (loading a CA store): deadlines
     * and first starts count from now, not from the loop's last look. */
    tw_loop_update_time(e->loop);
    now = tw_loop_now(e->loop);

    if (e->opts.once) {
        e->once_left = e->ntargets;
        if (!e->ntargets) { /* from inside the loop: tw_loop_run clears a stop */
            tw_defer_init(&e->once_none, stop_loop, e);
            tw_defer_post(e->loop, &e->once_none);
        }
        once_pump(e);
        return 0;
    }
    /* The config's identities before any of our results (after.h). */
    if (e->opts.after)
        tp_after_push_config(e->opts.after, e->opts.lane, e->opts.after_gen);
    /* Spread over all targets: target k of n starts k/n of its interval in. */
    for (size_t k = 0; k < e->ntargets; k++) {
        struct tp_target *t = &e->targets[k];
        uint64_t off = (uint64_t)((double)k * (double)t->def->interval_ms / (double)e->ntargets);
        t->due_ms = now + off;
        tw_timer_start(e->loop, &t->sched, off);
    }
    return 0;
}

void tp_engine_stop(struct tp_engine *e)
{
    for (size_t k = 0; k < e->ntargets; k++) {
        struct tp_target *t = &e->targets[k];
        tw_timer_stop(&t->sched);
        if (!t->running)
            continue;
        tw_timer_stop(&t->deadline);
        if (t->resolving)
            tp_resolve_cancel(t->resolving);
        else {
            struct tp_result r = {0};
            t->def->kind->cancel(e, t, &r);
            tp_result_release(&r);
        }
        t->resolving = NULL;
        t->run = NULL;
        t->running = false;
        e->inflight--;
    }
    /* Ad-hoc probes are answered, as aborted: their callers wait. */
    for (struct tw_list *l = e->adhoc.next; l != &e->adhoc; l = l->next) {
        struct tp_adhoc *a = tw__container_of(l, struct tp_adhoc, link);
        if (!a->finished) {
            struct tp_result r = {.verify = -1};
            tp_adhoc_done done = a->done;
            tp_adhoc_cancel(a);
            tp_result_errno(&r, ECANCELED);
            r.duration = (double)(tw_now_ns() - a->t.started_ns) / 1e9;
            a->t.last = r;
            a->t.have_last = true;
            if (done)
                done(a->arg, &a->t, &r);
        }
    }
    graceful_abort_all(e);
}

/* ---- ad-hoc probes ---- */

/* The kind's shared state and the resolver, on first use: an engine for
 * /probe starts with no targets and learns what it needs. */
static int adhoc_ready(struct tp_engine *e, const struct tp_kind *kind, bool literal)
{
    size_t k = tp_kind_index(kind);
    int err;

    if (!literal && !e->resolver && (err = tp_resolver_new(e->loop, &e->resolver)) < 0)
        return err;
    if (!e->kind_ready[k]) {
        if (kind->init && (err = kind->init(e)) < 0)
            return err;
        e->kind_ready[k] = true;
    }
    return 0;
}

int tp_adhoc_start(struct tp_engine *e, const struct tp_def *def, const char *target,
                   uint64_t timeout_ms, tp_adhoc_done done, void *arg, struct tp_adhoc **out,
                   const char **why)
{
    struct tp_adhoc *a = calloc(1, sizeof(*a));
    struct tp_target *t;
    bool secret;
    char *shown;
    int err;

    *why = NULL;
    if (!a || !(a->target = strdup(target))) {
        free(a);
        return -ENOMEM;
    }
    a->done = done;
    a->arg = arg;
    t = &a->t;
    t->def = def;
    t->timeout_ms = timeout_ms ? timeout_ms : 1;
    t->target = t->shown = a->target;
    t->engine = e;
    t->adhoc = a;
    t->last.verify = -1;
    tw__list_add_tail(&e->adhoc, &a->link);
    shown = tp_target_redact(target, &secret);
    if (secret && !shown) {
        adhoc_free(a);
        return -ENOMEM;
    }
    if (shown)
        t->shown = shown;
    if ((err = tp_target_parse(def->kind, target, &t->ep, why)) < 0) {
        adhoc_free(a);
        return err;
    }
    t->literal = tw_addr_parse(&t->addr, t->ep.host, t->ep.port) == 0;
    tw_timer_init(&t->sched, NULL, t);
    tw_timer_init(&t->deadline, on_deadline, t);
    if ((err = adhoc_ready(e, def->kind, t->literal || def->no_resolve)) < 0) {
        /* this host cannot probe: a result like any local error */
        struct tp_result r = {.verify = -1};
        tp_result_errno(&r, err);
        t->started_ns = tw_now_ns();
        *out = a;
        adhoc_finish(e, a, &r);
        return 0;
    }
    *out = a;
    start_probe(e, t);
    return 0;
}

void tp_adhoc_cancel(struct tp_adhoc *a)
{
    struct tp_target *t = &a->t;
    struct tp_engine *e = t->engine;

    a->done = NULL;
    if (!a->finished) {
        tw_timer_stop(&t->deadline);
        if (t->resolving)
            tp_resolve_cancel(t->resolving);
        else if (t->running) {
            struct tp_result r = {0};
            t->def->kind->cancel(e, t, &r);
            tp_result_release(&r); /* nobody asks for it */
        }
        t->resolving = NULL;
        t->run = NULL;
        t->running = false;
        a->finished = true;
    }
    tw_defer_post(e->loop, &e->reap);
}

/* ---- setup ---- */

/* Whether target i of def is this engine's (--threads: its lane's). */
static bool mine(const struct tp_engine *e, const struct tp_def *def, size_t i)
{
    return e->opts.lanes <= 1 || tp_lane_of(def->name, def->targets[i], e->opts.lanes) == e->opts.lane;
}

int tp_engine_new(tw_loop *loop, const struct tp_config *cfg, const struct tp_engine_opts *opts,
                  struct tp_engine **out)
{
    struct tp_engine *e = calloc(1, sizeof(*e));
    size_t k = 0;
    int err = -ENOMEM;
    bool need_dns = false;

    if (!e)
        return -ENOMEM;
    e->loop = loop;
    e->cfg = cfg;
    if (opts)
        e->opts = *opts;
    tw__list_init(&e->graceful);
    tw__list_init(&e->adhoc);
    tw_defer_init(&e->reap, reap, e);
    if (tp_log_open(e) < 0 || tp_tw_new(&e->tw) < 0)
        goto fail;
    for (size_t d = 0; d < cfg->ndefs; d++)
        for (size_t i = 0; i < cfg->defs[d].ntargets; i++)
            e->ntargets += mine(e, &cfg->defs[d], i);
    e->targets = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof(*e->targets));
    e->labels = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof(*e->labels));
    e->defstat = calloc(cfg->ndefs ? cfg->ndefs : 1, sizeof(*e->defstat));
    e->kind_data = calloc(tp_nkinds, sizeof(*e->kind_data));
    e->kind_ready = calloc(tp_nkinds, sizeof(*e->kind_ready));
    if (e->opts.recent > UINT16_MAX)
        e->opts.recent = UINT16_MAX;
    if (e->opts.recent &&
        !(e->recent_lat = calloc((cfg->ntargets ? cfg->ntargets : 1) * e->opts.recent,
                                 sizeof(*e->recent_lat))))
        goto fail;
    if (!e->targets || !e->labels || !e->defstat || !e->kind_data || !e->kind_ready)
        goto fail;
    double now = unix_now();
    uint32_t index = 0;
    for (size_t d = 0; d < cfg->ndefs; d++) {
        const struct tp_def *def = &cfg->defs[d];
        for (size_t i = 0; i < def->ntargets; i++, index++) {
            if (!mine(e, def, i))
                continue;
            struct tp_target *t = &e->targets[k++];
            const char *why;
            t->def = def;
            t->index = index;
            t->def_index = (uint32_t)i;
            t->timeout_ms = def->timeout_ms;
            t->target = t->shown = def->targets[i];
            t->engine = e;
            bool secret;
            char *shown = tp_target_redact(t->target, &secret);
            if (secret && !shown)
                goto fail;
            if (shown)
                t->shown = shown;
            t->last.verify = -1;
            t->since = now;
            if (e->recent_lat) {
                t->recent.lat = e->recent_lat + (k - 1) * e->opts.recent;
                t->recent.cap = (uint16_t)e->opts.recent;
            }
            if (tp_target_parse(def->kind, t->target, &t->ep, &why) < 0) {
                err = -EINVAL;
                goto fail;
            }
            t->literal = tw_addr_parse(&t->addr, t->ep.host, t->ep.port) == 0;
            need_dns |= !t->literal && !def->no_resolve;
            tw_timer_init(&t->sched, on_sched, t);
            tw_timer_init(&t->deadline, on_deadline, t);
            if (!(e->labels[k - 1] = tp_metrics_labels(def, t->shown, def->tlabels ? &def->tlabels[i] : NULL)))
                goto fail;
        }
    }
    if (need_dns && (err = tp_resolver_new(loop, &e->resolver)) < 0)
        goto fail;
    for (size_t kd = 0; kd < tp_nkinds; kd++) {
        bool used = false;
        for (size_t d = 0; d < cfg->ndefs && !used; d++)
            used = cfg->defs[d].kind == tp_kinds[kd] && cfg->defs[d].ntargets > 0;
        if (!used)
            continue;
        if (tp_kinds[kd]->init && (err = tp_kinds[kd]->init(e)) < 0)
            goto fail;
        e->kind_ready[kd] = true;
    }
    *out = e;
    return 0;
fail:
    tp_engine_free(e);
    return err;
}

void tp_engine_free(struct tp_engine *e)
{
    if (!e)
        return;
    tw_defer_cancel(&e->once_none);
    if (e->targets)
        tp_engine_stop(e);
    tw_defer_cancel(&e->reap);
    tp_log_close(e);
    while (!tw__list_empty(&e->adhoc))
        adhoc_free(tw__container_of(e->adhoc.next, struct tp_adhoc, link));
    for (size_t k = 0; e->kind_ready && k < tp_nkinds; k++)
        if (e->kind_ready[k] && tp_kinds[k]->fini)
            tp_kinds[k]->fini(e);
    if (e->resolver)
        tp_resolver_free(e->resolver);
    for (size_t k = 0; e->labels && k < e->ntargets; k++)
        free(e->labels[k]);
    for (size_t k = 0; e->targets && k < e->ntargets; k++) {
        if (e->targets[k].shown != e->targets[k].target)
            free((char *)e->targets[k].shown);
        tp_result_release(&e->targets[k].last);
        if (e->targets[k].def && e->targets[k].def->kind->forget)
            e->targets[k].def->kind->forget(&e->targets[k]);
    }
    free(e->labels);
    free(e->recent_lat);
    free(e->targets);
    free(e->defstat);
    free(e->kind_data);
    free(e->kind_ready);
    tp_tw_free(e->tw);
    free(e);
}

/* ---- views over several engines ---- */

int tp_view_make(struct tp_engine *const *e, size_t ne, struct tp_view *v)
{
    memset(v, 0, sizeof(*v));
    if (!ne)
        return 0;
    v->cfg = e[0]->cfg;
    v->e = e;
    v->ne = ne;
    v->n = v->cfg->ntargets;
    v->t = calloc(v->n ? v->n : 1, sizeof(*v->t));
    v->labels = calloc(v->n ? v->n : 1, sizeof(*v->labels));
    if (!v->t || !v->labels) {
        tp_view_free(v);
        return -ENOMEM;
    }
    for (size_t i = 0; i < ne; i++)
        for (size_t k = 0; k < e[i]->ntargets; k++) {
            struct tp_target *t = &e[i]->targets[k];
            v->t[t->index] = t;
            v->labels[t->index] = e[i]->labels[k];
        }
    return 0;
}

void tp_view_free(struct tp_view *v)
{
    free(v->t);
    free(v->labels);
    memset(v, 0, sizeof(*v));
}

/* ---- reload: carry state over ---- */

static int target_cmp(const struct tp_target *a, const struct tp_target *b)
{
    int c = strcmp(a->def->name, b->def->name);
    if (!c)
        c = (int)tp_kind_index(a->def->kind) - (int)tp_kind_index(b->def->kind);
    return c ? c : strcmp(a->target, b->target);
}

static int target_pcmp(const void *a, const void *b)
{
    return target_cmp(*(const struct tp_target *const *)a, *(const struct tp_target *const *)b);
}

/* The old ring's durations, oldest first, as many as the new one holds. */
static void recent_adopt(struct tp_recent *to, const struct tp_recent *from)
{
    unsigned n = from->n < to->cap ? from->n : to->cap;

    to->day = from->day;
    to->day_ok = from->day_ok;
    to->day_fail = from->day_fail;
    for (unsigned i = 0; i < n; i++)
        to->lat[i] = from->lat[(from->head + from->cap - n + i) % from->cap];
    to->n = (uint16_t)n;
    to->head = (uint16_t)(to->cap ? n % to->cap : 0);
}

void tp_engine_adopt(struct tp_engine *e, const struct tp_engine *old)
{
    const struct tp_target **idx = malloc((old->ntargets ? old->ntargets : 1) * sizeof(*idx));

    if (!idx)
        return; /* states start afresh: nothing is wrong, only forgotten */
    for (size_t k = 0; k < old->ntargets; k++)
        idx[k] = &old->targets[k];
    qsort(idx, old->ntargets, sizeof(*idx), target_pcmp);
    for (size_t k = 0; k < e->ntargets; k++) {
        struct tp_target *t = &e->targets[k];
        const struct tp_target *key = t, **hit;
        hit = bsearch(&key, idx, old->ntargets, sizeof(*idx), target_pcmp);
        if (!hit)
            continue;
        t->last = (*hit)->last;
        /* the old engine frees its own; no memory: the labels of one
         * series wait for the next probe */
        if (t->last.leaf_info)
            t->last.leaf_info = tp_leaf_dup((*hit)->last.leaf_info);
        t->have_last = (*hit)->have_last;
        t->last_local = (*hit)->last_local;
        t->last_local_err = (*hit)->last_local_err;
        t->state = (*hit)->state;
        t->since = (*hit)->since;
        recent_adopt(&t->recent, &(*hit)->recent);
        t->consec_ok = (*hit)->consec_ok;
        t->consec_fail = (*hit)->consec_fail;
        t->seq = (*hit)->seq;
    }
    free(idx);
    for (size_t d = 0; d < e->cfg->ndefs; d++)
        for (size_t o = 0; o < old->cfg->ndefs; o++)
            if (strcmp(e->cfg->defs[d].name, old->cfg->defs[o].name) == 0 &&
                e->cfg->defs[d].kind == old->cfg->defs[o].kind)
                e->defstat[d] = old->defstat[o];
    memcpy(e->late_buckets, old->late_buckets, sizeof(e->late_buckets));
    e->late = old->late;
    e->late_sum_us = old->late_sum_us;
    memcpy(e->local_errs, old->local_errs, sizeof(e->local_errs));
    tp_tw_adopt(e->tw, old->tw); /* the old config's TIME_WAITs are still ours */
}
