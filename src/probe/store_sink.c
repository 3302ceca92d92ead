/* twkit probe: the history store fed by the after thread (after.h, store.h).
 *
 * Every RESULT and STATE event goes to tp_store_result / tp_store_state
 * (memory only); every FLUSH_MS the thread flushes what is finished in one
 * transaction, at once again while a flush says more is waiting. A write
 * that fails raises TwkitProbeStoreFailing (logged, and sent to the
 * health channels); the next good one resolves it. A history that could
 * not be opened (locked by another prober, corrupt, a directory not yet
 * mounted...) is tried again every REOPEN_MS, the alert firing meanwhile
 * and the results of that time lost. The store is closed (the open
 * minutes written) when the thread ends.
 *
 * A target is recorded by its probe's name and its target as shown (a
 * URL's password as xxxxx: the history and its report never hold a
 * secret), its kind, its probe's interval and its labels (a targets
 * file's line's over its probe's, merged by after.c).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/after.h"
#include "probe/store.h"
#include "twkit/error.h"

#define FLUSH_MS 250
#define REOPEN_MS 30000

struct sink {
    struct tp_after *a;
    struct tp_after_sink self;    /* for tp_after_alert's from */
    _Atomic(struct tp_store *) st; /* NULL: not open (yet); /metrics reads it */
    char *path, *zone;
    struct tp_store_opts o;
    struct tp_store_key *keys;    /* per target of the current generation */
    size_t nkeys;
    uint64_t next_ms;             /* the next flush */
    struct tp_alert failing;
};

static double unix_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_config(void *data, const struct tp_after_gen *gen)
{
    struct sink *s = data;
    struct tp_store_key *k = calloc(gen->nids ? gen->nids : 1, sizeof(*k));

    free(s->keys);
    s->keys = k;
    s->nkeys = k ? gen->nids : 0; /* no memory: this generation is not kept */
    for (size_t i = 0; i < s->nkeys; i++) {
        const struct tp_after_id *id = &gen->ids[i];
        k[i] = (struct tp_store_key){.probe = id->name, .target = id->target, .kind = id->kind,
                                     .interval_ms = id->interval_ms, .labels = id->labels,
                                     .nlabels = id->nlabels};
    }
}

static void on_event(void *data, const struct tp_after_gen *gen, const struct tp_after_ev *ev)
{
    struct sink *s = data;
    struct tp_store *st = atomic_load_explicit(&s->st, memory_order_relaxed);
    double t = (double)ev->time_ns / 1e9;

    (void)gen;
    if (!st || ev->index >= s->nkeys)
        return;
    if (ev->type == TP_AEV_RESULT)
        tp_store_result(st, &s->keys[ev->index], t, (enum tp_outcome)ev->outcome,
                        (enum tp_state)ev->state, ev->duration);
    else if (ev->type == TP_AEV_STATE)
        tp_store_state(st, &s->keys[ev->index], t, (enum tp_state)ev->previous,
                       (enum tp_state)ev->state, ev->reason, ev->detail);
}

static void alert(struct sink *s, bool firing, const char *detail)
{
    struct timespec ts;

    if (s->failing.firing == firing)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->failing.firing = firing;
    s->failing.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (firing)
        s->failing.since_ns = s->failing.time_ns;
    /* the alert's detail has room for 200 bytes: the error's start says most */
    memcpy(s->failing.detail, detail, strnlen(detail, sizeof(s->failing.detail) - 1));
    s->failing.detail[strnlen(detail, sizeof(s->failing.detail) - 1)] = 0;
    tp_after_alert(s->a, &s->failing, &s->self);
}

static void on_tick(void *data, uint64_t now_ms)
{
    struct sink *s = data;
    struct tp_store *st = atomic_load_explicit(&s->st, memory_order_relaxed);
    char err[512];
    int rc;

    if (now_ms < s->next_ms)
        return;
    if (!st) {
        s->next_ms = now_ms + REOPEN_MS;
        s->o.now = 0;
        if (tp_store_open(s->path, &s->o, &st, err, sizeof(err)) < 0) {
            alert(s, true, err);
            return;
        }
        atomic_store_explicit(&s->st, st, memory_order_release);
    }
    rc = tp_store_flush(st, unix_now());
    s->next_ms = now_ms + (rc == 1 ? 0 : FLUSH_MS); /* more waiting: the next wakeup */
    if (rc < 0 && rc != -EAGAIN)
        alert(s, true, tp_store_error(s->st));
    else if (rc >= 0)
        alert(s, false, "the history is written again");
}

static void on_metrics(void *data, FILE *f)
{
    struct sink *s = data;
    struct tp_store *st = atomic_load_explicit(&s->st, memory_order_acquire);

    if (st)
        tp_store_metrics(st, f);
    else
        fputs("# HELP twkit_probe_store_healthy 1 unless the history store's last write "
              "failed\n# TYPE twkit_probe_store_healthy gauge\n"
              "twkit_probe_store_healthy 0\n", f);
}

static void on_fini(void *data)
{
    struct sink *s = data;
    struct tp_store *st = atomic_load(&s->st);
    char err[512];

    if (st && tp_store_close(st, unix_now(), err, sizeof(err)) < 0)
        fprintf(stderr, "twkit probe: history: %s\n", err);
    free(s->keys);
    free(s->path);
    free(s->zone);
    free(s);
}

int tp_store_sink(struct tp_after *a, const char *path, const struct tp_store_opts *o,
                  struct tp_store *st, struct tp_after_sink *out)
{
    struct sink *s = calloc(1, sizeof(*s));

    if (!s || !(s->path = strdup(path)) ||
        (o->timezone && !(s->zone = strdup(o->timezone)))) {
        if (s)
            free(s->path);
        free(s);
        return -ENOMEM;
    }
    s->a = a;
    s->st = st;
    s->o = *o;
    s->o.timezone = s->zone; /* st NULL: the first tick tries to open it */
    s->failing.name = "TwkitProbeStoreFailing";
    s->failing.about = "";
    s->self = (struct tp_after_sink){
        .name = "store", .data = s, .config = on_config, .event = on_event, .tick = on_tick,
        .metrics = on_metrics, .fini = on_fini,
    };
    *out = s->self;
    return 0;
}
