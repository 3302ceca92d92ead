/* The history's memory (store_int.h): the targets with results lately, the
 * open minute of each, and the rows and state changes waiting for a
 * transaction. Nothing here touches SQLite. A target's id is not looked up
 * here: a new target (new to this process) is written at the next flush
 * with an upsert that returns its id, the one it had or a new one. A
 * target with nothing open or queued and no result for an hour is
 * forgotten (a reload that dropped it, a targets file that changed), so
 * memory follows the targets probed, not every one the history knows.
 *
 * A result is counted in the minute it happened in, and the time it covers
 * (store.h, "time attribution") is added when the next result comes, or at
 * a flush up to what has settled (the flush's time less lag), split at the
 * minutes' ends. A minute closes when a later minute's result or covered
 * time needs its target's slot, or once it has ended more than lag ago;
 * then it waits in the queue. So a minute row is written once, when it is
 * over: one row per target per minute whatever the interval. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/store_int.h"
#include "util/json.h"

#define FNV0 0xcbf29ce484222325ull
#define FNVP 0x100000001b3ull

/* Strings hashed with a separator after each, so ("ab","c") is not
 * ("a","bc"). */
static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * FNVP;
    return (h ^ 0xff) * FNVP;
}

static uint64_t key_hash(const struct tp_store_key *k)
{
    return fnv(fnv(FNV0, k->probe), k->target);
}

static uint64_t meta_hash(const struct tp_store_key *k)
{
    uint64_t h = fnv(FNV0, k->kind);

    for (int i = 0; i < 8; i++) /* the interval's bytes: no formatting per result */
        h = (h ^ ((k->interval_ms >> (8 * i)) & 0xff)) * FNVP;
    for (size_t i = 0; i < k->nlabels; i++)
        h = fnv(fnv(h, k->labels[i].key), k->labels[i].value);
    h = fnv(h, "\x01");
    for (size_t i = 0; i < k->ntlabels; i++)
        h = fnv(fnv(h, k->tlabels[i].key), k->tlabels[i].value);
    return h | 1; /* 0: not known (a target read from the database) */
}

/* The labels as one JSON object, the target's own over the probe's. */
static char *labels_json(const struct tp_store_key *k)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bool first = true;

    if (!f)
        return NULL;
    fputc('{', f);
    for (size_t i = 0; i < k->nlabels + k->ntlabels; i++) {
        const struct tp_kv *kv = i < k->nlabels ? &k->labels[i] : &k->tlabels[i - k->nlabels];
        bool over = false;
        for (size_t j = 0; i < k->nlabels && j < k->ntlabels && !over; j++)
            over = !strcmp(k->tlabels[j].key, kv->key);
        if (over)
            continue;
        if (!first)
            fputc(',', f);
        first = false;
        tu_json_str(f, kv->key);
        fputc(':', f);
        tu_json_str(f, kv->value);
    }
    fputc('}', f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static bool push(void *arr, size_t *n, size_t *cap, void *item)
{
    void ***a = arr;

    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void **na = realloc(*a, nc * sizeof(**a));
        if (!na)
            return false;
        *a = na;
        *cap = nc;
    }
    (*a)[(*n)++] = item;
    return true;
}

static bool grow_table(struct tp_store *st)
{
    size_t nc = st->tabcap ? st->tabcap * 2 : 1024;
    struct ts_tgt **nt = calloc(nc, sizeof(*nt));

    if (!nt)
        return false;
    for (size_t i = 0; i < st->nall; i++) {
        struct ts_tgt *t = st->all[i];
        t->next = nt[t->hash & (nc - 1)];
        nt[t->hash & (nc - 1)] = t;
    }
    free(st->tab);
    st->tab = nt;
    st->tabcap = nc;
    return true;
}

static void tgt_free(struct ts_tgt *t)
{
    free(t->probe);
    free(t->target);
    free(t->kind);
    free(t->labels);
    free(t);
}

/* A new target in the table (its strings taken over). */
static struct ts_tgt *tgt_add(struct tp_store *st, struct ts_tgt *t)
{
    if ((st->nall + 1 > st->tabcap / 2 && !grow_table(st)) ||
        !push(&st->all, &st->nall, &st->capall, t)) {
        tgt_free(t);
        return NULL;
    }
    t->next = st->tab[t->hash & (st->tabcap - 1)];
    st->tab[t->hash & (st->tabcap - 1)] = t;
    atomic_store_explicit(&st->c_targets, st->nall, memory_order_relaxed);
    return t;
}

static char *dup0(const char *s)
{
    return strdup(s ? s : "");
}

/* k's kind, labels and interval into t; whether they differ from what it
 * had (a row to update). */
static bool set_meta(struct ts_tgt *t, const struct tp_store_key *k, uint64_t mh)
{
    char *kind = dup0(k->kind), *labels = labels_json(k);
    bool differ;

    if (!kind || !labels) {
        free(kind);
        free(labels);
        return false; /* try again at its next result */
    }
    differ = !t->kind || strcmp(t->kind, kind) || !t->labels || strcmp(t->labels, labels) ||
             t->interval_ms != k->interval_ms;
    free(t->kind);
    free(t->labels);
    t->kind = kind;
    t->labels = labels;
    t->interval_ms = k->interval_ms;
    t->cap_s = k->interval_ms ? 2.0 * (double)k->interval_ms / 1000.0 : 60.0;
    t->meta_hash = mh;
    return differ;
}

struct ts_tgt *ts_target(struct tp_store *st, const struct tp_store_key *k)
{
    uint64_t h = key_hash(k), mh;
    struct ts_tgt *t = NULL;

    if (!k->probe || !k->target)
        return NULL;
    if (st->tabcap)
        for (t = st->tab[h & (st->tabcap - 1)]; t; t = t->next)
            if (t->hash == h && !strcmp(t->probe, k->probe) && !strcmp(t->target, k->target))
                break;
    if (t) {
        /* Compared by a hash of what the key says, so a result costs no
         * allocation; rendered and compared for real only when it moved. */
        if ((mh = meta_hash(k)) != t->meta_hash && set_meta(t, k, mh) && !t->is_new) {
            t->meta_dirty = t->is_new = true;
            if (!push(&st->news, &st->nnews, &st->capnews, t))
                t->meta_dirty = t->is_new = false;
        }
        return t;
    }
    if (!(t = calloc(1, sizeof(*t))))
        return NULL;
    t->hash = h;
    if ((t->probe = strdup(k->probe)) && (t->target = strdup(k->target)))
        set_meta(t, k, meta_hash(k));
    if (!t->labels) { /* no memory somewhere on the way */
        tgt_free(t);
        return NULL;
    }
    t->first_t = NAN;
    t->is_new = true;
    if (!push(&st->news, &st->nnews, &st->capnews, t)) {
        tgt_free(t);
        return NULL;
    }
    if (!tgt_add(st, t)) {
        st->nnews--;
        return NULL;
    }
    return t;
}

/* ---- the open minute and its covered time ---- */

static void queue_acc(struct tp_store *st, struct ts_tgt *t);

static void count_buffered(struct tp_store *st)
{
    atomic_store_explicit(&st->c_buffered, st->qlen + st->evlen, memory_order_relaxed);
}

static struct ts_acc *minute_of(struct tp_store *st, struct ts_tgt *t, int64_t m)
{
    if (t->open && t->bstart >= m) /* later: never, results are clamped */
        return &t->acc;
    if (t->open)
        ts_queue_row(st, t);
    t->open = true;
    t->bstart = m;
    memset(&t->acc, 0, sizeof(t->acc));
    memset(t->hist, 0, sizeof(t->hist));
    return &t->acc;
}

/* The last result's time, from where it was counted to until (at most its
 * cap), into the minutes it falls in. */
static void cover(struct tp_store *st, struct ts_tgt *t, double until)
{
    double from = t->cov_to, to = until;

    if (!t->have_last)
        return;
    if (to > t->last_t + t->cap_s)
        to = t->last_t + t->cap_s;
    if (to <= from)
        return;
    t->cov_to = to;
    if (t->last_cls == TS_UNKNOWN) /* counts as nothing: no row for it */
        return;
    while (from < to) {
        int64_t m = ts_floor((int64_t)floor(from), 60);
        double end = (double)(m + 60) < to ? (double)(m + 60) : to;
        struct ts_acc *a = minute_of(st, t, m);

        if (t->last_cls == TS_UP)
            a->up_s += end - from;
        else if (t->last_cls == TS_DOWN)
            a->down_s += end - from;
        else
            a->local_s += end - from;
        from = end;
    }
}

void tp_store_result(struct tp_store *st, const struct tp_store_key *k, double time,
                     enum tp_outcome outcome, enum tp_state state, double duration_s)
{
    struct ts_tgt *t;
    struct ts_acc *a;
    uint64_t us;

    if (!st)
        return;
    atomic_fetch_add_explicit(&st->c_results, 1, memory_order_relaxed);
    if (!(t = ts_target(st, k)) || !isfinite(time)) {
        atomic_fetch_add_explicit(&st->c_dropped, 1, memory_order_relaxed);
        return;
    }
    /* What has settled is written or on its way: a result that comes
     * later than lag counts at the settled time; one that goes back in
     * time (a clock step) at the target's last. */
    if (time < st->settled)
        time = st->settled;
    if (time < t->cov_to)
        time = t->cov_to;
    if (isnan(t->first_t))
        t->first_t = time;
    cover(st, t, time);
    t->have_last = true;
    t->last_t = t->cov_to = time;
    t->last_cls = outcome == TP_LOCAL ? TS_LOCAL
                  : state == TP_UP    ? TS_UP
                  : state == TP_DOWN  ? TS_DOWN
                                      : TS_UNKNOWN;
    a = minute_of(st, t, ts_floor((int64_t)floor(time), 60));
    if (outcome == TP_SUCCESS) {
        us = duration_s > 0 && isfinite(duration_s) ? (uint64_t)llround(duration_s * 1e6) : 0;
        if (!a->ok || us < a->lat_min_us)
            a->lat_min_us = us;
        if (!a->ok || us > a->lat_max_us)
            a->lat_max_us = us;
        a->ok++;
        a->lat_sum_us += us;
        if (t->hist[tp_lh_index(us)] < UINT16_MAX)
            t->hist[tp_lh_index(us)]++;
    } else if (outcome == TP_FAILURE)
        a->fail++;
    else
        a->local++;
}

/* t out of the table and of st->all (at i: the last one takes its place). */
static void forget(struct tp_store *st, size_t i)
{
    struct ts_tgt *t = st->all[i], **p = &st->tab[t->hash & (st->tabcap - 1)];

    while (*p != t)
        p = &(*p)->next;
    *p = t->next;
    st->all[i] = st->all[--st->nall];
    atomic_store_explicit(&st->c_targets, st->nall, memory_order_relaxed);
    tgt_free(t);
}

void ts_settle(struct tp_store *st, double until)
{
    for (size_t i = 0; i < st->nall;) {
        struct ts_tgt *t = st->all[i];
        cover(st, t, until);
        if (t->open && (double)(t->bstart + 60) <= until)
            ts_queue_row(st, t);
        else if (t->open && st->o.sync_s > 0 && until - t->synced >= st->o.sync_s) {
            /* sync: what the open minute has so far goes now, and the
             * rest adds to it (the minute's upsert sums) */
            queue_acc(st, t);
            memset(&t->acc, 0, sizeof(t->acc));
            memset(t->hist, 0, sizeof(t->hist));
            t->synced = until;
        }
        if (!t->open && !t->queued && !t->is_new && t->id && until - t->cov_to > TS_IDLE_S) {
            forget(st, i);
            continue;
        }
        i++;
    }
    if (until > st->settled)
        st->settled = until;
}

/* ---- the queues ---- */

/* Room for one more in a ring of size elements: grown up to max, then the
 * oldest dropped (drop frees it). Returns the slot. */
static void *ring_slot(void **arr, size_t *head, size_t *len, size_t *cap, size_t size,
                       size_t max, void (*drop)(void *), _Atomic uint64_t *dropped)
{
    char *a = *arr;

    if (*len == *cap && *cap < max) {
        size_t nc = *cap ? *cap * 2 : 1024;
        char *na;
        if (nc > max)
            nc = max;
        if ((na = malloc(nc * size))) {
            for (size_t i = 0; i < *len; i++) /* unwrap */
                memcpy(na + i * size, a + ((*head + i) % *cap) * size, size);
            free(a);
            *arr = a = na;
            *cap = nc;
            *head = 0;
        }
    }
    if (*len == *cap) {
        if (!*cap)
            return NULL;
        drop(a + *head * size);
        *head = (*head + 1) % *cap;
        (*len)--;
        atomic_fetch_add_explicit(dropped, 1, memory_order_relaxed);
    }
    return a + ((*head + *len) % *cap) * size;
}

static void drop_row(void *p)
{
    struct ts_row *r = p;

    r->t->queued--;
    free(r->blob);
}

static void drop_event(void *p)
{
    struct ts_event *e = p;

    e->t->queued--;
    free(e->reason);
    free(e->detail);
}

/* The open minute's numbers so far as a row in the queue. */
static void queue_acc(struct tp_store *st, struct ts_tgt *t)
{
    const struct ts_acc *a = &t->acc;
    uint8_t blob[TP_LH_MAXBLOB];
    uint32_t h[TP_LH_N];
    struct ts_row *r;
    size_t n = 0;

    if (!a->ok && !a->fail && !a->local && a->up_s <= 0 && a->down_s <= 0 && a->local_s <= 0)
        return;
    if (a->ok) {
        for (unsigned i = 0; i < TP_LH_N; i++)
            h[i] = t->hist[i];
        n = tp_lh_encode(h, blob);
    }
    if (!(r = ring_slot((void **)&st->q, &st->qhead, &st->qlen, &st->qcap, sizeof(*r),
                        st->o.max_buffered, drop_row, &st->c_dropped))) {
        atomic_fetch_add_explicit(&st->c_dropped, 1, memory_order_relaxed);
        return;
    }
    r->t = t;
    r->start = t->bstart;
    r->acc = *a;
    r->bloblen = 0;
    r->blob = NULL;
    if (n && (r->blob = malloc(n))) {
        memcpy(r->blob, blob, n);
        r->bloblen = (uint16_t)n;
    }
    st->qlen++;
    t->queued++;
    count_buffered(st);
}

void ts_queue_row(struct tp_store *st, struct ts_tgt *t)
{
    t->open = false;
    queue_acc(st, t);
}

static char *dupn(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

void ts_queue_event(struct tp_store *st, struct ts_tgt *t, double time, enum tp_state from,
                    enum tp_state to, const char *reason, const char *detail)
{
    struct ts_event *e = ring_slot((void **)&st->ev, &st->evhead, &st->evlen, &st->evcap,
                                   sizeof(*e), st->o.max_buffered, drop_event, &st->c_dropped);

    if (!e) {
        atomic_fetch_add_explicit(&st->c_dropped, 1, memory_order_relaxed);
        return;
    }
    *e = (struct ts_event){t, time, (uint8_t)from, (uint8_t)to, dupn(reason), dupn(detail)};
    st->evlen++;
    t->queued++;
    count_buffered(st);
}

void tp_store_state(struct tp_store *st, const struct tp_store_key *k, double time,
                    enum tp_state from, enum tp_state to, const char *reason, const char *detail)
{
    struct ts_tgt *t = st ? ts_target(st, k) : NULL;

    if (!t || !isfinite(time)) {
        if (st)
            atomic_fetch_add_explicit(&st->c_dropped, 1, memory_order_relaxed);
        return;
    }
    if (isnan(t->first_t))
        t->first_t = time;
    ts_queue_event(st, t, time, from, to, reason, detail);
}

void ts_pop_rows(struct tp_store *st, size_t n)
{
    for (size_t i = 0; i < n && st->qlen; i++) {
        drop_row(ts_row_at(st, 0));
        st->qhead = (st->qhead + 1) % st->qcap;
        st->qlen--;
    }
    count_buffered(st);
}

void ts_pop_events(struct tp_store *st, size_t n)
{
    for (size_t i = 0; i < n && st->evlen; i++) {
        drop_event(ts_event_at(st, 0));
        st->evhead = (st->evhead + 1) % st->evcap;
        st->evlen--;
    }
    count_buffered(st);
}

void ts_buf_free(struct tp_store *st)
{
    ts_pop_rows(st, st->qlen);
    ts_pop_events(st, st->evlen);
    for (size_t i = 0; i < st->nall; i++)
        tgt_free(st->all[i]);
    free(st->all);
    free(st->tab);
    free(st->news);
    free(st->q);
    free(st->ev);
    st->all = st->news = NULL;
    st->tab = NULL;
    st->q = NULL;
    st->ev = NULL;
    st->nall = st->nnews = st->tabcap = st->qlen = st->evlen = 0;
}
