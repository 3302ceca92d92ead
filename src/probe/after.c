/* twkit probe: the after thread (after.h): the ring the engine pushes its
 * results into, the identity tables of config generations, the sinks, the
 * curl multi every sink sends through, and the local-error storm alert.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "probe/after.h"
#include "probe/notify.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "util/json.h"
#include "util/prom.h"

#define MAX_ALERTS 80        /* (alert, about) pairs /metrics tells of */
#define CONFIG_RESERVE 16    /* ring slots only CONFIG events may take */
#define AFTER_NICE 10        /* the after thread's, over the process's */

/* A health alert as /metrics shows it: written once by the after thread
 * (name and about before n is published), firing flipped at will. */
struct alert_slot {
    char name[48], about[64];
    atomic_bool firing;
};

/* One producer's ring (after.h): head written by the producer, tail by
 * the consumer, each on its own cache line so the two threads do not share
 * one. */
struct after_ring {
    _Alignas(64) atomic_uint_fast64_t head;
    _Alignas(64) atomic_uint_fast64_t tail;
    _Alignas(64) uint64_t tail_seen;  /* the producer's last look at tail */
    struct tp_after_gen *pending;     /* the producer's: a CONFIG the full
                                         ring did not take */
    struct tp_after_ev *ev;
    _Alignas(64) struct tp_after_gen *wait; /* the consumer's: the CONFIG it
                                         stopped at, waiting for the others */
};

struct tp_after {
    struct after_ring *rings;
    size_t nrings;
    atomic_uint_fast64_t dropped, stale, events;
    /* every generation made and not yet superseded (gen_new on the main
     * thread, freed by the after thread when it moves past them) */
    pthread_mutex_t gens_lock;
    struct tp_after_gen *gens;        /* newest first, by ->older */
    uint64_t gen_counter;             /* the main thread's */

    /* the after thread's */
    struct tp_after_opts opts;
    pthread_t tid;
    bool started;
    atomic_bool stop;
    CURLM *multi;
    struct tp_after_sink sinks[TP_AFTER_MAX_SINKS];
    size_t nsinks;
    struct tp_after_gen *gen;         /* the current generation */
    struct tp_after_xfer xfers;       /* running transfers (a ring list) */
    /* the local-error storm: local errors per second over the window */
    uint32_t *buckets;
    size_t nbuckets;
    uint64_t bucket_sec, storm_sum;
    int last_local_err;
    struct tp_alert storm;
    struct alert_slot alerts[MAX_ALERTS];
    atomic_size_t nalerts;
};

/* ---- identity tables ---- */

uint64_t tp_after_id_hash(const char *name, const char *kind, const char *target)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    const char *parts[3] = {name, kind, target};

    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ull;
        h = h * 1099511628211ull; /* the NUL between parts */
    }
    return h;
}

/* Everything a table points into, in a few large blocks freed at once. */
struct arena {
    struct arena *next;
    size_t used, cap;
    _Alignas(16) unsigned char mem[];
};

static void *arena_alloc(struct arena **ar, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!*ar || (*ar)->used + n > (*ar)->cap) {
        size_t cap = n > 65536 ? n : 65536;
        struct arena *b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = *ar;
        b->used = 0;
        b->cap = cap;
        *ar = b;
    }
    void *p = (*ar)->mem + (*ar)->used;
    (*ar)->used += n;
    return p;
}

static char *arena_str(struct arena **ar, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(ar, n);

    return p ? memcpy(p, s, n) : NULL;
}

static void gen_free(struct tp_after_gen *g)
{
    if (!g)
        return;
    for (struct arena *b = g->mem, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    tp_notify_cfg_unref(g->notify);
    free(g->slots);
    free(g->ids);
    free(g);
}

long tp_after_gen_find(const struct tp_after_gen *gen, const char *name, const char *kind,
                       const char *target)
{
    uint64_t h = tp_after_id_hash(name, kind, target);

    if (!gen->nslots)
        return -1;
    for (size_t j = h & (gen->nslots - 1); gen->slots[j]; j = (j + 1) & (gen->nslots - 1)) {
        const struct tp_after_id *id = &gen->ids[gen->slots[j] - 1];
        if (id->hash == h && !strcmp(id->name, name) && !strcmp(id->kind, kind) &&
            !strcmp(id->target, target))
            return (long)(gen->slots[j] - 1);
    }
    return -1;
}

/* The definition's labels (kept once per definition) or, for a target
 * with labels of its own, a merge in which the target's win. */
static struct tp_kv *merge_labels(struct arena **ar, const struct tp_def *def,
                                  const struct tp_tlabels *tl, size_t *n)
{
    struct tp_kv *kv = arena_alloc(ar, (def->nlabels + (tl ? tl->n : 0) + 1) * sizeof(*kv));
    size_t k = 0;

    if (!kv)
        return NULL;
    for (size_t i = 0; i < def->nlabels; i++) {
        bool over = false;
        for (size_t j = 0; tl && j < tl->n && !over; j++)
            over = !strcmp(tl->kv[j].key, def->labels[i].key);
        if (over)
            continue;
        if (!(kv[k].key = arena_str(ar, def->labels[i].key)) ||
            !(kv[k].value = arena_str(ar, def->labels[i].value)))
            return NULL;
        k++;
    }
    for (size_t j = 0; tl && j < tl->n; j++, k++)
        if (!(kv[k].key = arena_str(ar, tl->kv[j].key)) ||
            !(kv[k].value = arena_str(ar, tl->kv[j].value)))
            return NULL;
    *n = k;
    return kv;
}

static struct tp_after_gen *gen_build(const struct tp_config *cfg,
                                      const struct tp_target *const *targets, size_t n)
{
    struct tp_after_gen *g = calloc(1, sizeof(*g));
    struct arena *ar = NULL;
    const struct tp_def *def = NULL;
    struct tp_kv *dlabels = NULL;
    unsigned *dchans = NULL;
    size_t ndl = 0, ndc = 0, ti = 0;

    if (!g || !(g->ids = calloc(n ? n : 1, sizeof(*g->ids))))
        goto fail;
    g->nids = n;
    for (g->nslots = 16; g->nslots < 2 * n; g->nslots *= 2)
        ;
    if (!(g->slots = calloc(g->nslots, sizeof(*g->slots))))
        goto fail;
    for (size_t k = 0; k < n; k++) {
        const struct tp_target *t = targets[k];
        struct tp_after_id *id = &g->ids[k];

        if (t->def != def) { /* the engine lists targets definition by definition */
            def = t->def;
            ti = 0;
            if (!(dlabels = merge_labels(&ar, def, NULL, &ndl)) ||
                !(dchans = arena_alloc(&ar, (def->nnotify + 1) * sizeof(*dchans))))
                goto fail;
            ndc = 0;
            for (size_t j = 0; cfg->notify && j < def->nnotify; j++)
                if (def->notify[j].idx < cfg->notify->nchans)
                    dchans[ndc++] = def->notify[j].idx;
        }
        while (ti < def->ntargets && def->targets[ti] != t->target)
            ti++;
        if (!(id->name = arena_str(&ar, def->name)) || !(id->target = arena_str(&ar, t->shown)))
            goto fail;
        id->kind = def->kind->name; /* static: the kinds' table */
        id->interval_ms = def->interval_ms;
        id->labels = dlabels;
        id->nlabels = ndl;
        if (def->tlabels && ti < def->ntargets && def->tlabels[ti].n &&
            !(id->labels = merge_labels(&ar, def, &def->tlabels[ti], &id->nlabels)))
            goto fail;
        id->chans = dchans;
        id->nchans = ndc;
        id->hash = tp_after_id_hash(id->name, id->kind, id->target);
        size_t j = id->hash & (g->nslots - 1);
        while (g->slots[j])
            j = (j + 1) & (g->nslots - 1);
        g->slots[j] = (uint32_t)k + 1;
        ti++;
    }
    g->mem = ar;
    g->notify = cfg->notify ? tp_notify_cfg_ref(cfg->notify) : NULL;
    return g;
fail:
    if (g)
        g->mem = ar;
    gen_free(g);
    return NULL;
}

/* ---- the rings: producers ---- */

static bool ring_put(struct after_ring *r, const struct tp_after_ev *ev, size_t reserve)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);

    if (h - r->tail_seen >= TP_AFTER_RING - reserve) {
        /* acquire: the consumer is done with the slots it released */
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h - r->tail_seen >= TP_AFTER_RING - reserve)
            return false;
    }
    r->ev[h & (TP_AFTER_RING - 1)] = *ev;
    /* release: the event's bytes are visible before the new head */
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return true;
}

static bool put_pending(struct after_ring *r)
{
    struct tp_after_ev ev = {.type = TP_AEV_CONFIG};

    if (!r->pending)
        return true;
    ev.gen = r->pending->no;
    ev.config = r->pending;
    if (!ring_put(r, &ev, 0))
        return false;
    r->pending = NULL;
    return true;
}

/* Results of a generation wait behind its CONFIG: while that is pending,
 * they are dropped (counted) rather than sent ahead of it. */
static bool push(struct tp_after *a, struct after_ring *r, const struct tp_after_ev *ev)
{
    if (put_pending(r) && ring_put(r, ev, CONFIG_RESERVE))
        return true;
    atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
    return false;
}

size_t tp_after_rings(const struct tp_after *a) { return a->nrings; }

struct tp_after_gen *tp_after_gen_new(struct tp_after *a, const struct tp_config *cfg,
                                      const struct tp_target *const *targets, size_t n,
                                      uint64_t *gen_no)
{
    struct tp_after_gen *g = gen_build(cfg, targets, n);

    *gen_no = ++a->gen_counter;
    if (!g) { /* no memory: this generation's events are dropped as stale */
        atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
        return NULL;
    }
    g->no = *gen_no;
    pthread_mutex_lock(&a->gens_lock); /* a reload's, never a probe's */
    g->older = a->gens;
    a->gens = g;
    pthread_mutex_unlock(&a->gens_lock);
    return g;
}

void tp_after_push_config(struct tp_after *a, size_t ring, struct tp_after_gen *g)
{
    struct after_ring *r = &a->rings[ring];

    if (!g)
        return;
    /* A CONFIG still pending is superseded: the after thread never needs
     * it, and it is freed with the generations it moves past. */
    r->pending = g;
    put_pending(r); /* else the next push tries again */
}

void tp_after_config(struct tp_after *a, const struct tp_config *cfg,
                     const struct tp_target *targets, size_t n, uint64_t *gen_no)
{
    const struct tp_target **p = malloc((n ? n : 1) * sizeof(*p));

    for (size_t k = 0; p && k < n; k++)
        p[k] = &targets[k];
    if (!p) {
        *gen_no = ++a->gen_counter;
        atomic_fetch_add_explicit(&a->dropped, 1, memory_order_relaxed);
        return;
    }
    tp_after_push_config(a, 0, tp_after_gen_new(a, cfg, p, n, gen_no));
    free(p);
}

void tp_after_result(struct tp_after *a, size_t ring, uint64_t gen_no, uint32_t index,
                     const struct tp_target *t, const struct tp_result *r, enum tp_state from)
{
    struct after_ring *rg = &a->rings[ring];
    struct timespec ts;
    struct tp_after_ev ev = {
        .type = TP_AEV_RESULT, .outcome = (uint8_t)r->outcome, .state = (uint8_t)t->state,
        .previous = (uint8_t)from, .err = r->err, .index = index, .gen = gen_no,
        .seq = t->seq, .reason = r->reason, .duration = (float)r->duration,
        .consecutive = t->state == TP_UP ? t->consec_ok : t->consec_fail,
    };

    clock_gettime(CLOCK_REALTIME, &ts); /* the vDSO: no system call */
    ev.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    atomic_fetch_add_explicit(&a->events, 1, memory_order_relaxed);
    if (!push(a, rg, &ev) || t->state == from)
        return;
    ev.type = TP_AEV_STATE;
    ev.detail = r->detail[0] ? strdup(r->detail) : NULL; /* rare: a state change */
    if (!push(a, rg, &ev))
        free(ev.detail);
}

/* ---- health alerts ---- */

static struct alert_slot *alert_slot(struct tp_after *a, const char *name, const char *about)
{
    size_t n = atomic_load_explicit(&a->nalerts, memory_order_relaxed);

    for (size_t i = 0; i < n; i++)
        if (!strcmp(a->alerts[i].name, name) && !strcmp(a->alerts[i].about, about))
            return &a->alerts[i];
    if (n == MAX_ALERTS)
        return NULL;
    snprintf(a->alerts[n].name, sizeof(a->alerts[n].name), "%s", name);
    snprintf(a->alerts[n].about, sizeof(a->alerts[n].about), "%s", about);
    /* release: /metrics sees the names before the count that covers them */
    atomic_store_explicit(&a->nalerts, n + 1, memory_order_release);
    return &a->alerts[n];
}

FILE *tp_after_log_file(struct tp_after *a) { return a->opts.log; }

void tp_after_log(struct tp_after *a, const char *text, size_t len)
{
    FILE *f = a->opts.log;

    if (!f)
        return;
    /* The engine writes its lines under the same lock (log.c). */
    flockfile(f);
    fwrite(text, 1, len, f);
    fflush(f);
    funlockfile(f);
}

void tp_after_alert(struct tp_after *a, const struct tp_alert *al,
                    const struct tp_after_sink *from)
{
    struct alert_slot *s = alert_slot(a, al->name, al->about);
    char *buf = NULL;
    size_t len = 0;
    FILE *m;

    if (s)
        atomic_store_explicit(&s->firing, al->firing, memory_order_relaxed);
    if (a->opts.log && (m = open_memstream(&buf, &len))) {
        tp_log_begin(m, "alert");
        fputs(",\"alert\":", m);
        tu_json_str(m, al->name);
        if (al->about[0]) {
            fputs(",\"about\":", m);
            tu_json_str(m, al->about);
        }
        fprintf(m, ",\"state\":\"%s\",\"detail\":", al->firing ? "firing" : "resolved");
        tu_json_str(m, al->detail);
        fputs("}\n", m);
        if (fclose(m) == 0)
            tp_after_log(a, buf, len);
        free(buf);
    }
    for (size_t i = 0; i < a->nsinks; i++)
        if (a->sinks[i].alert && (!from || from->data != a->sinks[i].data))
            a->sinks[i].alert(a->sinks[i].data, al);
}

/* A storm of local errors (EMFILE, EADDRNOTAVAIL...): this host cannot
 * probe, which no target's state shows. Counted per second over the
 * window; raised at the threshold, resolved below half of it, so a rate
 * hovering at the threshold does not flap. */
static void storm_tick(struct tp_after *a, uint64_t now_ms)
{
    const struct tp_health_cfg *h = a->gen && a->gen->notify ? &a->gen->notify->health : NULL;
    uint64_t sec = now_ms / 1000;
    struct timespec ts;

    if (!h || !h->local_errors || !a->nbuckets)
        return;
    for (; a->bucket_sec < sec; a->bucket_sec++) {
        size_t b = (a->bucket_sec + 1) % a->nbuckets;
        a->storm_sum -= a->buckets[b];
        a->buckets[b] = 0;
    }
    if (a->storm.firing ? a->storm_sum * 2 >= h->local_errors
                        : a->storm_sum < h->local_errors)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    a->storm.name = "TwkitProbeLocalErrors";
    a->storm.about = "";
    a->storm.firing = !a->storm.firing;
    a->storm.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (a->storm.firing)
        a->storm.since_ns = a->storm.time_ns;
    snprintf(a->storm.detail, sizeof(a->storm.detail),
             "%llu local errors in the last %llu s (threshold %u; the last: %s): this host "
             "cannot probe",
             (unsigned long long)a->storm_sum, (unsigned long long)(h->window_ms + 999) / 1000,
             h->local_errors, a->last_local_err ? tw_errname(a->last_local_err) : "none");
    tp_after_alert(a, &a->storm, NULL);
}

static void storm_config(struct tp_after *a, const struct tp_after_gen *g)
{
    const struct tp_health_cfg *h = g->notify ? &g->notify->health : NULL;
    size_t n = h && h->local_errors ? (size_t)((h->window_ms + 999) / 1000) : 0;

    if (n == a->nbuckets)
        return;
    free(a->buckets);
    a->buckets = n ? calloc(n, sizeof(*a->buckets)) : NULL;
    a->nbuckets = a->buckets ? n : 0;
    a->storm_sum = 0;
    a->bucket_sec = tw_now_ms() / 1000;
}

/* ---- the ring: consumer ---- */

/* Move to generation g: the sinks get it, then every older generation is
 * freed (the one just left among them). */
static void gen_switch(struct tp_after *a, struct tp_after_gen *g)
{
    struct tp_after_gen **pp, *old = NULL;

    a->gen = g;
    storm_config(a, a->gen);
    for (size_t i = 0; i < a->nsinks; i++)
        if (a->sinks[i].config)
            a->sinks[i].config(a->sinks[i].data, a->gen);
    pthread_mutex_lock(&a->gens_lock);
    for (pp = &a->gens; *pp && *pp != g; pp = &(*pp)->older)
        ;
    if (*pp) { /* newest first: everything after g is older */
        old = g->older;
        g->older = NULL;
    }
    pthread_mutex_unlock(&a->gens_lock);
    while (old) {
        struct tp_after_gen *n = old->older;
        gen_free(old);
        old = n;
    }
}

static void event(struct tp_after *a, struct tp_after_ev *ev)
{
    if (!a->gen || ev->gen != a->gen->no || ev->index >= a->gen->nids) {
        atomic_fetch_add_explicit(&a->stale, 1, memory_order_relaxed);
    } else {
        if (ev->type == TP_AEV_RESULT && ev->outcome == TP_LOCAL && a->nbuckets) {
            a->buckets[a->bucket_sec % a->nbuckets]++;
            a->storm_sum++;
            a->last_local_err = ev->err;
        }
        for (size_t i = 0; i < a->nsinks; i++)
            if (a->sinks[i].event)
                a->sinks[i].event(a->sinks[i].data, a->gen, ev);
    }
    if (ev->type == TP_AEV_STATE)
        free(ev->detail);
}

/* One ring's events up to its next CONFIG of a generation newer than the
 * current one, where it stops (r->wait) until every ring got there. */
static void drain_ring(struct tp_after *a, struct after_ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);

    for (; t != h && !r->wait; t++) {
        struct tp_after_ev *ev = &r->ev[t & (TP_AFTER_RING - 1)];

        if (ev->type == TP_AEV_CONFIG) {
            if (!a->gen || ev->config->no > a->gen->no)
                r->wait = ev->config;
        } else {
            event(a, ev);
        }
        /* release: the slot is free for the producer once we are done */
        atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    }
}

/* Every ring in turn. A new generation begins when every ring has reached
 * its CONFIG: on each ring the old generation's events all came before it,
 * so none of them is taken for the new one's, whichever ring it came by.
 * The oldest waited for goes first (a ring whose producer superseded it
 * waits at a newer one, which counts as past it). */
static void drain(struct tp_after *a)
{
    for (;;) {
        struct tp_after_gen *next = NULL;
        bool all = true;

        for (size_t i = 0; i < a->nrings; i++) {
            drain_ring(a, &a->rings[i]);
            all &= a->rings[i].wait != NULL;
            if (a->rings[i].wait && (!next || a->rings[i].wait->no < next->no))
                next = a->rings[i].wait;
        }
        if (!all)
            return;
        gen_switch(a, next);
        for (size_t i = 0; i < a->nrings; i++)
            if (a->rings[i].wait == next)
                a->rings[i].wait = NULL;
    }
}

/* ---- transfers ---- */

int tp_after_xfer_start(struct tp_after *a, struct tp_after_xfer *x)
{
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(a->multi, x->easy) != CURLM_OK)
        return -ENOMEM;
    x->next = a->xfers.next;
    x->prev = &a->xfers;
    x->next->prev = x;
    a->xfers.next = x;
    return 0;
}

static void xfer_end(struct tp_after *a, struct tp_after_xfer *x, int code)
{
    curl_multi_remove_handle(a->multi, x->easy);
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->done(x, code);
}

/* How many transfers ended. */
static int reap(struct tp_after *a)
{
    CURLMsg *msg;
    int left, n = 0;

    while ((msg = curl_multi_info_read(a->multi, &left))) {
        struct tp_after_xfer *x = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x) {
            xfer_end(a, x, (int)msg->data.result);
            n++;
        }
    }
    return n;
}

/* ---- the thread ---- */

bool tp_after_stopping(struct tp_after *a) { return atomic_load(&a->stop); }

static bool all_idle(struct tp_after *a)
{
    if (a->xfers.next != &a->xfers)
        return false;
    for (size_t i = 0; i < a->nsinks; i++)
        if (a->sinks[i].idle && !a->sinks[i].idle(a->sinks[i].data))
            return false;
    return true;
}

static void *after_main(void *arg)
{
    struct tp_after *a = arg;
    uint64_t grace_end = 0;
    bool stopping = false;
    int running;

    /* When the CPU is short, the probes' thread goes first: Linux's nice
     * is per thread, and a notification a few ms late harms no one. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), AFTER_NICE);
    for (;;) {
        uint64_t now;
        int ended;

        drain(a);
        if (!stopping && atomic_load(&a->stop)) {
            /* the engine has stopped: what was pushed is in */
            drain(a);
            stopping = true;
            grace_end = tw_now_ms() + TP_AFTER_GRACE_MS;
            for (size_t i = 0; i < a->nsinks; i++)
                if (a->sinks[i].stop)
                    a->sinks[i].stop(a->sinks[i].data);
        }
        now = tw_now_ms();
        storm_tick(a, now);
        for (size_t i = 0; i < a->nsinks; i++)
            if (a->sinks[i].tick)
                a->sinks[i].tick(a->sinks[i].data, now);
        curl_multi_perform(a->multi, &running);
        ended = reap(a);
        if (stopping && (all_idle(a) || tw_now_ms() >= grace_end))
            break;
        /* a transfer that ended made room: the sinks start the next at
         * once rather than a wakeup later */
        curl_multi_poll(a->multi, NULL, 0, ended ? 0 : TP_AFTER_WAKE_MS, NULL);
    }
    while (a->xfers.next != &a->xfers) /* past the grace: abandoned */
        xfer_end(a, a->xfers.next, CURLE_ABORTED_BY_CALLBACK);
    for (size_t i = 0; i < a->nsinks; i++)
        if (a->sinks[i].fini)
            a->sinks[i].fini(a->sinks[i].data);
    a->nsinks = 0;
    return NULL;
}

/* ---- life cycle ---- */

int tp_after_new(const struct tp_after_opts *opts, struct tp_after **out)
{
    struct tp_after *a;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -EIO;
    if (!(a = aligned_alloc(64, (sizeof(*a) + 63) & ~(size_t)63)))
        return -ENOMEM;
    memset(a, 0, sizeof(*a));
    if (opts)
        a->opts = *opts;
    a->xfers.next = a->xfers.prev = &a->xfers;
    pthread_mutex_init(&a->gens_lock, NULL);
    a->nrings = a->opts.rings ? a->opts.rings : 1;
    if ((a->rings = aligned_alloc(64, a->nrings * sizeof(*a->rings))))
        memset(a->rings, 0, a->nrings * sizeof(*a->rings));
    for (size_t i = 0; a->rings && i < a->nrings; i++)
        if (!(a->rings[i].ev = calloc(TP_AFTER_RING, sizeof(*a->rings[i].ev)))) {
            tp_after_free(a);
            return -ENOMEM;
        }
    a->multi = curl_multi_init();
    if (!a->rings || !a->multi) {
        tp_after_free(a);
        return -ENOMEM;
    }
    *out = a;
    return 0;
}

int tp_after_add_sink(struct tp_after *a, const struct tp_after_sink *s)
{
    if (a->nsinks == TP_AFTER_MAX_SINKS || a->started)
        return -ENOSPC;
    a->sinks[a->nsinks++] = *s;
    return 0;
}

int tp_after_start(struct tp_after *a)
{
    int e = pthread_create(&a->tid, NULL, after_main, a);

    if (e)
        return -e;
    a->started = true;
    return 0;
}

void tp_after_shutdown(struct tp_after *a)
{
    if (!a || !a->started || atomic_exchange(&a->stop, true))
        return;
    curl_multi_wakeup(a->multi);
}

void tp_after_stop(struct tp_after *a)
{
    if (!a || !a->started)
        return;
    tp_after_shutdown(a);
    pthread_join(a->tid, NULL);
    a->started = false;
}

void tp_after_free(struct tp_after *a)
{
    if (!a)
        return;
    tp_after_stop(a);
    for (size_t i = 0; i < a->nsinks; i++) /* never started */
        if (a->sinks[i].fini)
            a->sinks[i].fini(a->sinks[i].data);
    for (size_t i = 0; a->rings && i < a->nrings; i++) { /* what the thread never took */
        struct after_ring *r = &a->rings[i];
        uint64_t h = atomic_load(&r->head);
        for (uint64_t t = atomic_load(&r->tail); r->ev && t != h; t++) {
            struct tp_after_ev *ev = &r->ev[t & (TP_AFTER_RING - 1)];
            if (ev->type == TP_AEV_STATE)
                free(ev->detail);
        }
        free(r->ev);
    }
    while (a->gens) { /* every generation, the current one too */
        struct tp_after_gen *n = a->gens->older;
        gen_free(a->gens);
        a->gens = n;
    }
    pthread_mutex_destroy(&a->gens_lock);
    if (a->multi)
        curl_multi_cleanup(a->multi);
    free(a->buckets);
    free(a->rings);
    free(a);
}

/* ---- /metrics (main thread: atomics only) ---- */

void tp_after_metrics(struct tp_after *a, FILE *f)
{
    struct tu_prom p;
    size_t n = atomic_load_explicit(&a->nalerts, memory_order_acquire);

    tu_prom_init(&p, f);
    tu_prom_family(&p, "twkit_probe_after_events_total", TU_PROM_COUNTER,
                   "Results handed to the after thread (notifications, store)");
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)atomic_load(&a->events));
    tu_prom_family(&p, "twkit_probe_after_ring_dropped_total", TU_PROM_COUNTER,
                   "Events dropped because the after thread's ring was full");
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)atomic_load(&a->dropped));
    tu_prom_family(&p, "twkit_probe_after_ring_pending", TU_PROM_GAUGE,
                   "Events in the ring, not yet taken by the after thread");
    uint64_t pending = 0;
    for (size_t i = 0; i < a->nrings; i++)
        pending += atomic_load(&a->rings[i].head) - atomic_load(&a->rings[i].tail);
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)pending);
    tu_prom_family(&p, "twkit_probe_health_alert", TU_PROM_GAUGE,
                   "1 while a health alert of the prober's own is firing");
    for (size_t i = 0; i < n; i++) {
        tu_prom_begin(&p, NULL);
        tu_prom_label(&p, "alert", a->alerts[i].name);
        if (a->alerts[i].about[0])
            tu_prom_label(&p, "about", a->alerts[i].about);
        tu_prom_value(&p, "%d", atomic_load(&a->alerts[i].firing) ? 1 : 0);
    }
    for (size_t i = 0; i < a->nsinks; i++)
        if (a->sinks[i].metrics)
            a->sinks[i].metrics(a->sinks[i].data, f);
}
