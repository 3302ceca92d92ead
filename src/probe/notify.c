/* twkit probe: the notifier (notify.h), a sink of the after thread
 * (after.h). Everything here runs on the after thread except
 * notifier_metrics, which the main thread calls and which reads atomics.
 *
 * Per channel, a slot that lives as long as the notifier (so /metrics
 * can read it while a reload changes the config): its counters, its queue
 * of messages and whether it is up. A message is rendered once, when the
 * state change happens, with its idempotency key; every attempt sends the
 * same bytes, so a receiver that got a retry can drop the duplicate. It
 * holds a reference on the config it was made under, so a reload never
 * pulls its channel's settings from under it.
 *
 * Per target that had a state change and has channels, and per channel
 * of it: what the channel was last told (down or up), when, and a state
 * change held back by flap suppression (min_interval): at most one, the
 * latest; when the interval is over it goes out if it says something else
 * than what was told last, else nothing does. An "up" goes only to a
 * channel that was told "down" (a start that finds a target up is not
 * news).
 *
 * A channel sends up to MAX_INFLIGHT messages at once, in queue order,
 * but never two of one target at once nor one overtaking an earlier one of
 * the same target, so a target's "up" never arrives before its "down".
 * A failed attempt is tried again after backoff * 2^(attempt-1), capped at
 * backoff_max, +- jitter, up to retries times; DEAD_AFTER failed attempts
 * in a row mark the channel down (twkit_probe_notify_channel_up 0, a log
 * line, and the TwkitNotifyChannelDown alert to the other channels) until
 * one succeeds; meanwhile it gets one attempt at a time. Never fatal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/list.h"
#include "probe/after.h"
#include "probe/notify.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "util/json.h"
#include "util/prom.h"

#define MAX_INFLIGHT 8        /* per channel */
#define QUEUE_MAX 20000       /* messages waiting, per channel */
#define DEAD_AFTER 3          /* failed attempts in a row */
#define SCAN_MAX 512          /* queued messages looked at per wakeup */
#define MAX_AM_HEALTH 8       /* health alerts firing, per Alertmanager */
#define NO_SLOT ((unsigned)-1)

static const char *const state_names[] = {"unknown", "up", "down"};

struct notifier;

struct msg {
    struct tw_list link;       /* in its slot's queue */
    struct notifier *nf;
    struct slot *slot;
    const struct tp_notify_cfg *cfg; /* a reference: cc lives in it */
    const struct tp_chan *cc;
    struct tp_msgspec spec;
    char key[96], what[96];    /* what: for the log ("db down") */
    uint64_t order;            /* the target's hash (0: none): its messages
                                  go one at a time, in order */
    unsigned attempts;
    uint64_t due_ms;
    bool running;
    bool barrier;              /* alertmanager's firing set: sent alone,
                                  after everything before it, before
                                  anything after it (a resolve it overtook
                                  would be undone) */
    struct tp_send send;
    struct tp_after_xfer x;
};

struct am_health {
    char name[48], about[64];
    char *json;                /* the firing alert */
};

struct slot {
    char name[64];
    const char *kind;          /* static: the kinds' table */
    atomic_uint_fast64_t sent, failed, retries, dropped, suppressed, queued;
    atomic_int up;
    atomic_bool live;          /* in the current config */
    const struct tp_chan *cc;  /* the current config's; NULL: retired */
    struct tw_list queue;
    unsigned inflight, fails_in_row;
    uint64_t knock_ms;         /* while down: no attempt before this */
    uint64_t next_repeat_ms;   /* alertmanager: firing alerts again */
    bool repeat_queued;        /* one such message at a time */
    struct am_health health[MAX_AM_HEALTH];
};

struct sub {
    unsigned slot;
    uint8_t told;              /* TP_UNKNOWN, TP_UP, TP_DOWN */
    uint64_t told_ms;          /* when (monotonic ms; 0: never) */
    struct tp_note *held;      /* flap suppression: the latest change held */
    char *am_alert;            /* alertmanager: its firing alert */
};

struct ptarget {
    uint64_t hash;
    char *name, *kind, *target;
    int64_t down_ns;           /* when the outage began (0: none) */
    size_t nsubs;
    struct sub subs[];
};

struct notifier {
    struct tp_after *a;
    const struct tp_after_gen *gen;
    struct ptarget **by_index; /* per target of gen; NULL: nothing to keep */
    size_t nby;
    struct slot *slots[TP_NOTIFY_MAX_CHANNELS];
    atomic_size_t nslots;
    unsigned slot_of[TP_NOTIFY_MAX_CHANNELS]; /* gen->notify->chans[i]'s slot */
    size_t nheld;
    uint64_t rng, now_ms, next_scan_ms;
    bool stopping;
};

/* ---- notes ---- */

/* A copy of n in one block (strings and labels after it). */
static struct tp_note *note_dup(const struct tp_note *n)
{
    const char *strs[] = {n->probe, n->kind, n->target, n->reason, n->error, n->detail,
                          n->alert, n->about};
    size_t len = sizeof(*n) + n->nlabels * sizeof(struct tp_kv);
    struct tp_note *c;
    char *p;

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        len += strs[i] ? strlen(strs[i]) + 1 : 0;
    for (size_t i = 0; i < n->nlabels; i++)
        len += strlen(n->labels[i].key) + strlen(n->labels[i].value) + 2;
    if (!(c = malloc(len)))
        return NULL;
    *c = *n;
    struct tp_kv *kv = (struct tp_kv *)(c + 1);
    p = (char *)(kv + n->nlabels);
#define COPY(dst, src) ((src) ? ((dst) = strcpy(p, src), p += strlen(src) + 1, 0) : ((dst) = NULL, 0))
    COPY(c->probe, n->probe);
    COPY(c->kind, n->kind);
    COPY(c->target, n->target);
    COPY(c->reason, n->reason);
    COPY(c->error, n->error);
    COPY(c->detail, n->detail);
    COPY(c->alert, n->alert);
    COPY(c->about, n->about);
    for (size_t i = 0; i < n->nlabels; i++) {
        COPY(kv[i].key, n->labels[i].key);
        COPY(kv[i].value, n->labels[i].value);
    }
#undef COPY
    c->labels = kv;
    return c;
}

/* ---- the log ---- */

static void log_line(struct notifier *nf, const char *event, const struct slot *s,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void log_line(struct notifier *nf, const char *event, const struct slot *s,
                     const char *fmt, ...)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m;
    va_list ap;

    if (!tp_after_log_file(nf->a) || !(m = open_memstream(&buf, &len)))
        return;
    tp_log_begin(m, event);
    fputs(",\"channel\":", m);
    tu_json_str(m, s->name);
    fprintf(m, ",\"kind\":\"%s\"", s->kind);
    va_start(ap, fmt);
    vfprintf(m, fmt, ap);
    va_end(ap);
    fputs("}\n", m);
    if (fclose(m) == 0)
        tp_after_log(nf->a, buf, len);
    free(buf);
}

static char *jstr(char *buf, size_t len, const char *s)
{
    FILE *m = fmemopen(buf, len, "w");

    buf[0] = '\0';
    if (m) {
        tu_json_str(m, s);
        if (fclose(m) != 0)
            snprintf(buf, len, "\"\"");
    }
    return buf;
}

/* ---- queueing ---- */

static void msg_free(struct msg *m)
{
    if (m->barrier)
        m->slot->repeat_queued = false;
    tw__list_del(&m->link);
    tp_msgspec_free(&m->spec);
    tp_notify_cfg_unref(m->cfg);
    free(m);
}

/* A message of spec for slot s under cc (of the current config): spec is
 * taken over. */
static void enqueue(struct notifier *nf, struct slot *s, struct tp_msgspec *spec,
                    const char *key, uint64_t order, const char *what)
{
    struct msg *m;

    if (atomic_load(&s->queued) >= QUEUE_MAX || !s->cc || !(m = calloc(1, sizeof(*m)))) {
        atomic_fetch_add(&s->dropped, 1);
        tp_msgspec_free(spec);
        return;
    }
    m->nf = nf;
    m->slot = s;
    m->cfg = tp_notify_cfg_ref(nf->gen->notify);
    m->cc = s->cc;
    m->spec = *spec;
    snprintf(m->key, sizeof(m->key), "%s", key);
    snprintf(m->what, sizeof(m->what), "%s", what);
    m->order = order;
    m->due_ms = nf->now_ms;
    tw__list_add_tail(&s->queue, &m->link);
    atomic_fetch_add(&s->queued, 1);
}

static void send_note(struct notifier *nf, struct slot *s, const struct tp_note *n,
                      uint64_t order)
{
    struct tp_msgspec spec = {0};
    char what[96];

    if (s->cc->kind->build(s->cc, n, &spec) < 0) {
        tp_msgspec_free(&spec);
        atomic_fetch_add(&s->dropped, 1);
        return;
    }
    if (n->type == TP_NOTE_STATE)
        snprintf(what, sizeof(what), "%s %s %s", n->probe, n->target, n->state);
    else
        snprintf(what, sizeof(what), "%s %s", n->alert, n->state);
    enqueue(nf, s, &spec, n->key, order, what);
}

/* ---- per target ---- */

static void ptarget_free(struct notifier *nf, struct ptarget *pt)
{
    for (size_t i = 0; i < pt->nsubs; i++) {
        nf->nheld -= pt->subs[i].held != NULL;
        free(pt->subs[i].held);
        free(pt->subs[i].am_alert);
    }
    free(pt->name);
    free(pt->kind);
    free(pt->target);
    free(pt);
}

/* pt (or a new one) with a sub per channel of id, keeping the subs of
 * channels it had. */
static struct ptarget *ptarget_fit(struct notifier *nf, struct ptarget *old,
                                   const struct tp_after_id *id)
{
    struct ptarget *pt = calloc(1, sizeof(*pt) + id->nchans * sizeof(struct sub));

    if (!pt)
        return old; /* keeps what it had: no memory */
    pt->hash = id->hash;
    for (size_t j = 0; j < id->nchans; j++) {
        struct sub *sb = &pt->subs[pt->nsubs];
        if ((sb->slot = nf->slot_of[id->chans[j]]) == NO_SLOT)
            continue;
        pt->nsubs++;
        for (size_t k = 0; old && k < old->nsubs; k++)
            if (old->subs[k].slot == sb->slot) {
                *sb = old->subs[k];
                old->subs[k].held = NULL;
                old->subs[k].am_alert = NULL;
            }
    }
    if (old) {
        pt->down_ns = old->down_ns;
        pt->name = old->name;
        pt->kind = old->kind;
        pt->target = old->target;
        old->name = old->kind = old->target = NULL;
        ptarget_free(nf, old);
    } else if (!(pt->name = strdup(id->name)) || !(pt->kind = strdup(id->kind)) ||
               !(pt->target = strdup(id->target))) {
        ptarget_free(nf, pt);
        return NULL;
    }
    return pt;
}

/* Tell s what n says, now or (flap suppression) later. */
static void offer(struct notifier *nf, struct ptarget *pt, struct sub *sb,
                  const struct tp_note *n, uint8_t state)
{
    struct slot *s = nf->slots[sb->slot];
    const struct tp_chan *cc = s->cc;

    if (!cc)
        return;
    if (sb->held || (cc->min_interval_ms && sb->told_ms && !nf->stopping &&
                     nf->now_ms < sb->told_ms + cc->min_interval_ms)) {
        struct tp_note *c = note_dup(n); /* the latest wins */
        if (c) {
            nf->nheld += sb->held == NULL;
            free(sb->held);
            sb->held = c;
        }
        atomic_fetch_add(&s->suppressed, 1);
        return;
    }
    if (state == sb->told || (state == TP_UP && sb->told != TP_DOWN))
        return; /* nothing the channel does not know, or an up it never heard was down */
    sb->told = state;
    sb->told_ms = nf->now_ms;
    if (cc->kind->alertmanager) { /* the firing set, re-posted while down */
        free(sb->am_alert);
        sb->am_alert = state == TP_DOWN ? tp_am_alert(cc, n) : NULL;
    }
    send_note(nf, s, n, pt->hash);
}

/* Flap suppression's held changes whose interval is over. */
static void release_held(struct notifier *nf)
{
    for (size_t i = 0; nf->nheld && i < nf->nby; i++) {
        struct ptarget *pt = nf->by_index[i];
        for (size_t j = 0; pt && j < pt->nsubs; j++) {
            struct sub *sb = &pt->subs[j];
            const struct tp_chan *cc = nf->slots[sb->slot]->cc;
            struct tp_note *h = sb->held;
            if (!h || (cc && !nf->stopping && nf->now_ms < sb->told_ms + cc->min_interval_ms))
                continue;
            sb->held = NULL;
            nf->nheld--;
            if (cc) /* the channel may be gone */
                offer(nf, pt, sb, h, !strcmp(h->state, "down") ? TP_DOWN : TP_UP);
            free(h);
        }
    }
}

/* ---- the sink ---- */

static void on_config(void *data, const struct tp_after_gen *gen)
{
    struct notifier *nf = data;
    const struct tp_notify_cfg *n = gen->notify;
    size_t ns = atomic_load(&nf->nslots);
    struct ptarget **by = calloc(gen->nids ? gen->nids : 1, sizeof(*by));
    bool keep[TP_NOTIFY_MAX_CHANNELS] = {false};

    nf->gen = gen;
    for (size_t i = 0; n && i < n->nchans; i++) {
        size_t k;
        for (k = 0; k < ns && strcmp(nf->slots[k]->name, n->chans[i].name); k++)
            ;
        if (k == ns) { /* a new channel: a new slot (there is always room:
                          a config has at most TP_NOTIFY_MAX_CHANNELS) */
            struct slot *s = k < TP_NOTIFY_MAX_CHANNELS ? calloc(1, sizeof(*s)) : NULL;
            if (!s) { /* no memory: this channel is not told anything */
                nf->slot_of[i] = NO_SLOT;
                continue;
            }
            snprintf(s->name, sizeof(s->name), "%s", n->chans[i].name);
            tw__list_init(&s->queue);
            atomic_init(&s->up, 1);
            nf->slots[k] = s;
            atomic_store_explicit(&nf->nslots, ++ns, memory_order_release);
        }
        struct slot *s = nf->slots[k];
        s->cc = &n->chans[i];
        s->kind = s->cc->kind->name;
        if (!atomic_load(&s->live))
            s->next_repeat_ms = nf->now_ms + s->cc->repeat_ms;
        atomic_store(&s->live, true);
        nf->slot_of[i] = (unsigned)k;
        keep[k] = true;
    }
    for (size_t k = 0; k < ns; k++) {
        struct slot *s = nf->slots[k];
        if (keep[k])
            continue;
        /* gone from the config: what waits is dropped, what runs ends */
        atomic_store(&s->live, false);
        s->cc = NULL;
        for (struct tw_list *l = s->queue.next, *nx; l != &s->queue; l = nx) {
            struct msg *m = tw__container_of(l, struct msg, link);
            nx = l->next;
            if (!m->running) {
                atomic_fetch_add(&s->dropped, 1);
                atomic_fetch_sub(&s->queued, 1);
                msg_free(m);
            }
        }
        for (int h = 0; h < MAX_AM_HEALTH; h++) {
            free(s->health[h].json);
            s->health[h].json = NULL;
        }
    }
    /* per-target state follows its target to the new table */
    for (size_t i = 0; i < nf->nby; i++) {
        struct ptarget *pt = nf->by_index[i];
        long k;
        if (!pt)
            continue;
        k = by ? tp_after_gen_find(gen, pt->name, pt->kind, pt->target) : -1;
        if (k < 0 || !gen->ids[k].nchans)
            ptarget_free(nf, pt);
        else
            by[k] = ptarget_fit(nf, pt, &gen->ids[k]);
    }
    free(nf->by_index);
    nf->by_index = by;
    nf->nby = by ? gen->nids : 0;
}

static void on_event(void *data, const struct tp_after_gen *gen, const struct tp_after_ev *ev)
{
    struct notifier *nf = data;
    const struct tp_after_id *id = &gen->ids[ev->index];
    struct ptarget *pt;
    struct tp_note n = {.type = TP_NOTE_STATE};

    if (ev->type != TP_AEV_STATE || !id->nchans || ev->index >= nf->nby ||
        (ev->state != TP_UP && ev->state != TP_DOWN))
        return;
    nf->now_ms = tw_now_ms();
    if (!(pt = nf->by_index[ev->index]) && !(pt = nf->by_index[ev->index] =
                                                 ptarget_fit(nf, NULL, id)))
        return;
    n.probe = id->name;
    n.kind = id->kind;
    n.target = id->target;
    n.labels = id->labels;
    n.nlabels = id->nlabels;
    n.state = state_names[ev->state];
    n.previous = state_names[ev->previous];
    n.reason = ev->state == TP_DOWN ? ev->reason : NULL;
    n.error = ev->state == TP_DOWN && ev->err ? tw_errname(ev->err) : NULL;
    n.detail = ev->state == TP_DOWN ? ev->detail : NULL;
    n.time_ns = ev->time_ns;
    n.seq = ev->seq;
    n.consecutive = ev->consecutive;
    if (ev->state == TP_DOWN) {
        pt->down_ns = ev->time_ns;
    } else {
        n.since_ns = pt->down_ns;
        pt->down_ns = 0;
    }
    tp_note_key(&n, id->hash);
    for (size_t j = 0; j < pt->nsubs; j++)
        offer(nf, pt, &pt->subs[j], &n, ev->state);
}

/* A health alert: to the channels health: names (all by default), but
 * never to a channel about itself. */
static void on_alert(void *data, const struct tp_alert *al)
{
    struct notifier *nf = data;
    const struct tp_notify_cfg *n = nf->gen ? nf->gen->notify : NULL;
    struct tp_note note = {.type = TP_NOTE_ALERT, .alert = al->name, .about = al->about,
                           .state = al->firing ? "firing" : "resolved", .detail = al->detail,
                           .time_ns = al->time_ns, .since_ns = al->firing ? 0 : al->since_ns};

    if (!n)
        return;
    nf->now_ms = tw_now_ms();
    tp_note_key(&note, tp_after_id_hash(al->name, "alert", al->about));
    for (size_t i = 0; i < n->nchans; i++) {
        struct slot *s;
        bool chosen = !n->health.chans;
        for (size_t j = 0; !chosen && j < n->health.nchans; j++)
            chosen = n->health.chans[j] == i;
        if (!chosen || nf->slot_of[i] == NO_SLOT)
            continue;
        s = nf->slots[nf->slot_of[i]];
        if (!s->cc || !strcmp(s->name, al->about))
            continue;
        if (s->cc->kind->alertmanager) {
            int free_h = -1, h;
            for (h = 0; h < MAX_AM_HEALTH; h++) {
                if (!s->health[h].json && free_h < 0)
                    free_h = h;
                if (s->health[h].json && !strcmp(s->health[h].name, al->name) &&
                    !strcmp(s->health[h].about, al->about))
                    break;
            }
            if (h == MAX_AM_HEALTH)
                h = free_h;
            if (h >= 0) {
                free(s->health[h].json);
                s->health[h].json = al->firing ? tp_am_alert(s->cc, &note) : NULL;
                snprintf(s->health[h].name, sizeof(s->health[h].name), "%s", al->name);
                snprintf(s->health[h].about, sizeof(s->health[h].about), "%s", al->about);
            }
        }
        send_note(nf, s, &note, 0);
    }
}

/* ---- sending ---- */

static uint64_t rnd(struct notifier *nf)
{
    nf->rng ^= nf->rng << 13; /* xorshift64 */
    nf->rng ^= nf->rng >> 7;
    nf->rng ^= nf->rng << 17;
    return nf->rng;
}

static uint64_t backoff(struct notifier *nf, const struct tp_chan *cc, unsigned attempt)
{
    uint64_t ms = cc->backoff_ms;
    int64_t j;

    for (unsigned i = 1; i < attempt && ms < cc->backoff_max_ms; i++)
        ms *= 2;
    if (ms > cc->backoff_max_ms)
        ms = cc->backoff_max_ms;
    if (cc->jitter_pct) { /* receivers that came back are not all hit at once */
        uint64_t span = ms * cc->jitter_pct / 100;
        j = (int64_t)(rnd(nf) % (2 * span + 1)) - (int64_t)span;
        ms = (uint64_t)((int64_t)ms + j);
    }
    if (nf->stopping && ms > 200) /* the grace is short */
        ms = 200;
    return ms;
}

static void channel_up(struct notifier *nf, struct slot *s, bool up, const char *why)
{
    struct tp_alert al = {.name = "TwkitNotifyChannelDown", .about = s->name, .firing = !up};
    struct timespec ts;
    char j[700];

    atomic_store(&s->up, up ? 1 : 0);
    log_line(nf, "notify_channel", s, ",\"up\":%s,\"detail\":%s", up ? "true" : "false",
             jstr(j, sizeof(j), why));
    clock_gettime(CLOCK_REALTIME, &ts);
    al.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    snprintf(al.detail, sizeof(al.detail), "notify channel %s (%s) %s: %s", s->name, s->kind,
             up ? "delivers again" : "cannot deliver", why);
    tp_after_alert(nf->a, &al, NULL);
}

static void on_done(struct tp_after_xfer *x, int code)
{
    struct msg *m = tw__container_of(x, struct msg, x);
    struct slot *s = m->slot;
    struct notifier *nf = m->nf;
    char why[300], jw[200], jy[700];
    int err, v;

    v = tp_send_verdict(&m->send, m->cc, code, why, sizeof(why), &err);
    tp_send_release(&m->send);
    m->running = false;
    s->inflight--;
    nf->now_ms = tw_now_ms();
    if (code == CURLE_ABORTED_BY_CALLBACK) /* the grace is over: on_fini counts it */
        return;
    if (v == 0) {
        atomic_fetch_add(&s->sent, 1);
        if (!atomic_load(&s->up))
            channel_up(nf, s, true, why);
        s->fails_in_row = 0;
        atomic_fetch_sub(&s->queued, 1);
        msg_free(m);
        return;
    }
    if (v == 1 && ++s->fails_in_row == DEAD_AFTER)
        channel_up(nf, s, false, why);
    if (v == 1 && s->fails_in_row >= DEAD_AFTER) /* the channel's own backoff */
        s->knock_ms = nf->now_ms + backoff(nf, m->cc, s->fails_in_row - DEAD_AFTER + 1);
    if (v == 1 && m->attempts <= m->cc->retries && atomic_load(&s->live)) {
        atomic_fetch_add(&s->retries, 1);
        m->due_ms = nf->now_ms + backoff(nf, m->cc, m->attempts);
        return;
    }
    atomic_fetch_add(&s->failed, 1);
    log_line(nf, "notify", s, ",\"ok\":false,\"what\":%s,\"key\":\"%s\",\"attempts\":%u,"
             "\"error\":\"%s\",\"detail\":%s",
             jstr(jw, sizeof(jw), m->what), m->key, m->attempts, err ? tw_errname(err) : "",
             jstr(jy, sizeof(jy), why));
    atomic_fetch_sub(&s->queued, 1);
    msg_free(m);
}

static bool start(struct notifier *nf, struct msg *m)
{
    if (tp_send_prepare(&m->send, m->cc, &m->spec) < 0) {
        tp_send_release(&m->send);
        m->due_ms = nf->now_ms + 1000; /* no memory now: later */
        return false;
    }
    m->x.easy = m->send.easy;
    m->x.done = on_done;
    if (tp_after_xfer_start(nf->a, &m->x) < 0) {
        tp_send_release(&m->send);
        m->due_ms = nf->now_ms + 1000;
        return false;
    }
    m->running = true;
    m->attempts++;
    m->slot->inflight++;
    return true;
}

/* Start what is due on s, in order, at most MAX_INFLIGHT at once, a
 * target's messages one at a time. A channel that is down gets one
 * attempt at a time, after a backoff of its own: the first message due
 * finds out whether it is back, and the rest wait for it rather than each
 * knocking on a dead door. */
static void pump(struct notifier *nf, struct slot *s)
{
    uint64_t seen[SCAN_MAX];
    size_t nseen = 0, scanned = 0;
    bool up = atomic_load(&s->up);
    unsigned limit = up ? MAX_INFLIGHT : 1;

    if (!up && !nf->stopping && tw_ms_diff(s->knock_ms, nf->now_ms) > 0)
        return;
    for (struct tw_list *l = s->queue.next; l != &s->queue && s->inflight < limit &&
                                            scanned < SCAN_MAX;
         l = l->next, scanned++) {
        struct msg *m = tw__container_of(l, struct msg, link);
        bool blocked = false;
        if (m->barrier) {
            if (!scanned && !m->running && tw_ms_diff(m->due_ms, nf->now_ms) <= 0)
                start(nf, m);
            break;
        }
        if (l->prev != &s->queue &&
            tw__container_of(s->queue.next, struct msg, link)->barrier &&
            tw__container_of(s->queue.next, struct msg, link)->running)
            break;
        for (size_t i = 0; m->order && i < nseen && !blocked; i++)
            blocked = seen[i] == m->order;
        if (m->order && !blocked)
            seen[nseen++] = m->order;
        if (!blocked && !m->running && tw_ms_diff(m->due_ms, nf->now_ms) <= 0)
            start(nf, m);
    }
}

/* Alertmanager: every firing alert of s again, in one request, before its
 * resolve_timeout would end them. */
static void repeat_firing(struct notifier *nf, struct slot *s)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct tp_msgspec spec = {0};
    char key[64];

    s->next_repeat_ms = nf->now_ms + s->cc->repeat_ms;
    if (s->repeat_queued) /* the last one is still on its way: a backlog */
        return;
    for (size_t i = 0; i < nf->nby; i++)
        for (size_t j = 0; nf->by_index[i] && j < nf->by_index[i]->nsubs; j++) {
            struct sub *sb = &nf->by_index[i]->subs[j];
            if (sb->am_alert && nf->slots[sb->slot] == s) {
                if (n == cap) {
                    char **g = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
                    if (!g)
                        goto out;
                    v = g;
                }
                v[n++] = sb->am_alert;
            }
        }
    for (int h = 0; h < MAX_AM_HEALTH; h++)
        if (s->health[h].json) {
            char **g = n == cap ? realloc(v, (cap += 8) * sizeof(*v)) : v;
            if (!g)
                goto out;
            v = g;
            v[n++] = s->health[h].json;
        }
    snprintf(key, sizeof(key), "twkit-repeat-%llu", (unsigned long long)nf->now_ms);
    if (n && tp_am_body(s->cc, v, n, &spec) == 0) {
        enqueue(nf, s, &spec, key, 0, "firing alerts again");
        spec = (struct tp_msgspec){0};
        if (s->queue.prev != &s->queue) {
            struct msg *m = tw__container_of(s->queue.prev, struct msg, link);
            m->barrier = s->repeat_queued = !strcmp(m->key, key);
        }
    }
out:
    tp_msgspec_free(&spec);
    free(v);
}

static void on_tick(void *data, uint64_t now_ms)
{
    struct notifier *nf = data;
    size_t ns = atomic_load(&nf->nslots);

    nf->now_ms = now_ms;
    if (nf->nheld && (nf->stopping || now_ms >= nf->next_scan_ms)) {
        nf->next_scan_ms = now_ms + 100;
        release_held(nf);
    }
    for (size_t k = 0; k < ns; k++) {
        struct slot *s = nf->slots[k];
        if (s->cc && s->cc->kind->alertmanager && !nf->stopping &&
            tw_ms_diff(s->next_repeat_ms, now_ms) <= 0)
            repeat_firing(nf, s);
        pump(nf, s);
    }
}

static void on_stop(void *data)
{
    struct notifier *nf = data;
    size_t ns = atomic_load(&nf->nslots);

    nf->stopping = true;
    nf->now_ms = tw_now_ms();
    release_held(nf); /* what suppression held goes now, if it says something */
    for (size_t k = 0; k < ns; k++) /* retries wait no more */
        for (struct tw_list *l = nf->slots[k]->queue.next; l != &nf->slots[k]->queue;
             l = l->next)
            tw__container_of(l, struct msg, link)->due_ms = nf->now_ms;
}

static bool on_idle(void *data)
{
    struct notifier *nf = data;
    size_t ns = atomic_load(&nf->nslots);

    for (size_t k = 0; k < ns; k++)
        if (!tw__list_empty(&nf->slots[k]->queue))
            return false;
    return true;
}

static void on_metrics(void *data, FILE *f)
{
    static const struct {
        const char *name, *help;
        enum tu_prom_type type;
        size_t off;
    } fams[] = {
#define F(n, t, field, h) {"twkit_probe_notify_" n, h, t, offsetof(struct slot, field)}
        F("sent_total", TU_PROM_COUNTER, sent, "Notifications delivered, by channel"),
        F("failed_total", TU_PROM_COUNTER, failed,
          "Notifications given up on (retries spent, or refused for good)"),
        F("retries_total", TU_PROM_COUNTER, retries, "Attempts that were tried again"),
        F("dropped_total", TU_PROM_COUNTER, dropped,
          "Notifications never sent: the queue was full, the channel left the config, or the "
          "shutdown's grace ran out"),
        F("suppressed_total", TU_PROM_COUNTER, suppressed,
          "State changes held back by flap suppression (min_interval)"),
        F("queued", TU_PROM_GAUGE, queued, "Notifications waiting or being sent"),
#undef F
    };
    struct notifier *nf = data;
    size_t ns = atomic_load_explicit(&nf->nslots, memory_order_acquire);
    struct tu_prom p;

    tu_prom_init(&p, f);
    for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
        tu_prom_family(&p, fams[i].name, fams[i].type, fams[i].help);
        for (size_t k = 0; k < ns; k++) {
            struct slot *s = nf->slots[k];
            if (!atomic_load(&s->live))
                continue;
            tu_prom_begin(&p, NULL);
            tu_prom_label(&p, "channel", s->name);
            tu_prom_value(&p, "%llu", (unsigned long long)atomic_load(
                                          (atomic_uint_fast64_t *)((char *)s + fams[i].off)));
        }
    }
    tu_prom_family(&p, "twkit_probe_notify_channel_up", TU_PROM_GAUGE,
                   "0 while a channel's last attempts failed (it is retried), else 1");
    for (size_t k = 0; k < ns; k++)
        if (atomic_load(&nf->slots[k]->live)) {
            tu_prom_begin(&p, NULL);
            tu_prom_label(&p, "channel", nf->slots[k]->name);
            tu_prom_value(&p, "%d", atomic_load(&nf->slots[k]->up));
        }
}

static void on_fini(void *data)
{
    struct notifier *nf = data;
    size_t ns = atomic_load(&nf->nslots);

    for (size_t i = 0; i < nf->nby; i++)
        if (nf->by_index[i])
            ptarget_free(nf, nf->by_index[i]);
    free(nf->by_index);
    for (size_t k = 0; k < ns; k++) {
        struct slot *s = nf->slots[k];
        uint64_t left = 0;
        while (!tw__list_empty(&s->queue)) {
            msg_free(tw__container_of(s->queue.next, struct msg, link));
            left++;
        }
        if (left) {
            atomic_fetch_add(&s->dropped, left);
            log_line(nf, "notify", s, ",\"ok\":false,\"dropped\":%llu,\"detail\":\"not sent "
                     "within the shutdown's grace\"", (unsigned long long)left);
        }
        for (int h = 0; h < MAX_AM_HEALTH; h++)
            free(s->health[h].json);
        free(s);
    }
    free(nf);
}

int tp_notify_sink(struct tp_after *a, struct tp_after_sink *out)
{
    struct notifier *nf = calloc(1, sizeof(*nf));
    struct timespec ts;

    if (!nf)
        return -ENOMEM;
    nf->a = a;
    clock_gettime(CLOCK_REALTIME, &ts);
    nf->rng = (((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)getpid()) | 1;
    *out = (struct tp_after_sink){
        .name = "notify", .data = nf, .config = on_config, .event = on_event,
        .alert = on_alert, .tick = on_tick, .stop = on_stop, .idle = on_idle,
        .metrics = on_metrics, .fini = on_fini,
    };
    return 0;
}
