/* twkit probe: the after path — everything done with a result once the
 * engine is done with it (docs/PROBE.md, "Notifications": which thread owns
 * sending and the store, and how results reach it).
 *
 * One thread of its own, the after thread, owns every consumer of results
 * ("sinks"): the notifier (notify.c) and the history store (store_sink.c).
 * Nothing it does can delay a probe, because the engine never waits for it:
 *
 *  - Results reach it through a single-producer single-consumer ring of
 *    fixed-size events (C11 atomics: the producer publishes head with a
 *    release store, the consumer reads it with an acquire load, and the
 *    same the other way for tail). The engine's thread pushes one event per
 *    result and one more per state change from finish() in engine.c: no
 *    lock, no syscall (the wall clock is read through the vDSO), no
 *    allocation but a copy of the failure detail for a state change, which
 *    is rare. A full ring drops the event and counts it
 *    (twkit_probe_after_ring_dropped_total); it never blocks.
 *  - The after thread wakes on its own schedule, every TP_AFTER_WAKE_MS,
 *    to drain the ring (no eventfd write per event), and runs libcurl's
 *    multi interface for all sending: curl_multi_poll with that timeout;
 *    curl_multi_wakeup only from tp_after_stop.
 *  - When probes run on several threads (--threads, fleet.c), each engine
 *    thread has a ring of its own (one producer per ring keeps the push
 *    lock-free); the after thread drains them in turn. Events carry their
 *    generation, so a consumer can tell which identity table an event's
 *    target index refers to whichever ring it came by.
 *
 * Target identity across reloads: a reload makes new engines. The main
 * thread builds an immutable identity table for the config generation
 * (name, kind, shown target, labels, notify channels per target, over the
 * whole config: tp_after_gen_new) and every engine, when it starts, pushes
 * it as a CONFIG event into its ring before any result of its own; result
 * events carry (generation, target index in the whole config). The table
 * holds its own copies and a reference on the config's notify section, so
 * the config may be freed on the main thread at any time. The after thread
 * moves to the new table once every ring has reached its CONFIG (on each
 * ring the order is total: every event of the old generation came before),
 * hands it to every sink and frees the ones it supersedes. A
 * target's stable identity is (name, kind, target), hashed in id->hash;
 * sinks that keep per-target state across generations match on it
 * (tp_after_gen_find).
 *
 * A sink is a table of functions (struct tp_after_sink) called on the after
 * thread, except metrics, which the main thread calls for /metrics and
 * which may only read atomics. Shutdown (tp_after_stop, from SIGTERM):
 * what is in the ring is drained, sinks get stop() and TP_AFTER_GRACE_MS
 * to finish sending (idle() says when they have), then transfers still
 * running are aborted and fini() is called; it never hangs.
 */
#ifndef TW_PROBE_AFTER_H
#define TW_PROBE_AFTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "probe/probe.h"

#define TP_AFTER_RING 65536u   /* events; a power of two */
#define TP_AFTER_WAKE_MS 25    /* how often the after thread drains */
#define TP_AFTER_GRACE_MS 2000 /* what sends get at shutdown */
#define TP_AFTER_MAX_SINKS 4

struct tp_notify_cfg;

/* One target of one config generation. */
struct tp_after_id {
    const char *name, *kind, *target; /* target as shown (no password) */
    const struct tp_kv *labels;       /* the definition's, merged with the
                                         target line's (those win) */
    size_t nlabels;
    const unsigned *chans;            /* its notify channels: indexes into
                                         gen->notify->chans */
    size_t nchans;
    uint64_t interval_ms;             /* the probe's */
    uint64_t hash;                    /* of name, kind and target */
};

/* The identity table of a config generation: immutable once pushed. */
struct tp_after_gen {
    uint64_t no;                      /* 1, 2, ... in push order */
    struct tp_after_id *ids;
    size_t nids;
    const struct tp_notify_cfg *notify; /* a reference (NULL: none) */
    /* private: the index of tp_after_gen_find, what the ids point into,
     * the list of generations not yet freed */
    uint32_t *slots;
    size_t nslots;
    void *mem;
    struct tp_after_gen *older;
};

/* The index of the target (name, kind, target) in gen, or -1. */
long tp_after_gen_find(const struct tp_after_gen *gen, const char *name, const char *kind,
                       const char *target);
/* FNV-1a 64 of name, kind and target (NUL-separated): id->hash. */
uint64_t tp_after_id_hash(const char *name, const char *kind, const char *target);

enum tp_after_type {
    TP_AEV_CONFIG, /* gen: a new generation (the sinks' config call) */
    TP_AEV_RESULT, /* every result of a scheduled probe */
    TP_AEV_STATE,  /* its state changed: right after its RESULT */
};

/* One event, fixed size (64 bytes). */
struct tp_after_ev {
    uint8_t type;                 /* enum tp_after_type */
    uint8_t outcome;              /* enum tp_outcome */
    uint8_t state, previous;      /* enum tp_state: after and before */
    int32_t err;                  /* errno behind a failure, or 0 */
    uint32_t index;               /* the target, in generation gen */
    uint32_t consecutive;         /* the run of results that flipped it */
    uint64_t gen;
    uint64_t seq;                 /* the target's result number */
    int64_t time_ns;              /* CLOCK_REALTIME at the result */
    const char *reason;           /* static ("refused"), or NULL */
    union {
        char *detail;             /* STATE: malloc'd copy, or NULL;
                                     freed once every sink saw it */
        struct tp_after_gen *config; /* CONFIG */
    };
    float duration;               /* seconds */
};

/* A health alert of the prober's own (TwkitProbeLocalErrors,
 * TwkitNotifyChannelDown, TwkitProbeStoreFailing...). */
struct tp_alert {
    const char *name;             /* alertname */
    const char *about;            /* what it is about (a channel's name), or "" */
    bool firing;                  /* false: resolved */
    int64_t time_ns;              /* CLOCK_REALTIME */
    int64_t since_ns;             /* when it started firing */
    char detail[200];
};

struct tp_after;

/* A consumer of results, on the after thread. Every member may be NULL.
 * config: a new generation; the previous one is freed when this returns,
 * so keep copies of what must outlive it (gen itself lives until the next
 * config or fini). event: a RESULT or STATE event of the current
 * generation (its detail is freed after every sink saw it). alert: a
 * health alert raised by after.c or another sink. tick: at every wakeup,
 * with CLOCK_MONOTONIC milliseconds. stop: shutdown began (send what is
 * queued now); idle: nothing more to send. metrics: from the main thread,
 * atomics only. fini: the end; free everything. */
struct tp_after_sink {
    const char *name;
    void *data;
    void (*config)(void *data, const struct tp_after_gen *gen);
    void (*event)(void *data, const struct tp_after_gen *gen, const struct tp_after_ev *ev);
    void (*alert)(void *data, const struct tp_alert *al);
    void (*tick)(void *data, uint64_t now_ms);
    void (*stop)(void *data);
    bool (*idle)(void *data);
    void (*metrics)(void *data, FILE *f);
    void (*fini)(void *data);
};

struct tp_after_opts {
    FILE *log;                    /* JSON lines (shared with the engine:
                                     written whole under flockfile); NULL */
    unsigned rings;               /* producers, one ring each (0: 1) */
};

/* Set up (no thread yet). 0 or -errno. */
int tp_after_new(const struct tp_after_opts *opts, struct tp_after **out);
/* Add a sink (before tp_after_start). 0, or -ENOSPC. */
int tp_after_add_sink(struct tp_after *a, const struct tp_after_sink *s);
/* Start the after thread. 0 or -errno. */
int tp_after_start(struct tp_after *a);
/* Begin the shutdown, without waiting: the engine has stopped pushing;
 * what is in the ring is drained and the sinks' grace begins. NULL: none. */
void tp_after_shutdown(struct tp_after *a);
/* tp_after_shutdown, then wait for the thread to end (at most the grace
 * and an attempt's abort), from the thread that started it. Safe to call
 * twice, or without a start; NULL: nothing. */
void tp_after_stop(struct tp_after *a);
void tp_after_free(struct tp_after *a);

/* ---- the producers' side ---- */

/* The rings (tp_after_opts.rings). */
size_t tp_after_rings(const struct tp_after *a);
/* The main thread: build the identity table of cfg's targets (n of them,
 * in the config's order) and number it (*gen_no, for the events that
 * follow); NULL when there is no memory (its events are then dropped as
 * stale). The after thread owns and frees it. */
struct tp_after_gen *tp_after_gen_new(struct tp_after *a, const struct tp_config *cfg,
                                      const struct tp_target *const *targets, size_t n,
                                      uint64_t *gen_no);
/* Ring ring's producer: its next events are of generation g (NULL: none). */
void tp_after_push_config(struct tp_after *a, size_t ring, struct tp_after_gen *g);
/* Both, for one producer on ring 0 with an array of targets. */
void tp_after_config(struct tp_after *a, const struct tp_config *cfg,
                     const struct tp_target *targets, size_t n, uint64_t *gen_no);
/* Ring ring's producer: the result r of target index of generation gen_no,
 * its state having been from before (t->state is after). */
void tp_after_result(struct tp_after *a, size_t ring, uint64_t gen_no, uint32_t index,
                     const struct tp_target *t, const struct tp_result *r, enum tp_state from);

/* ---- for sinks (the after thread) ---- */

/* A transfer on the after thread's curl multi: fill easy (CURLOPT_PRIVATE
 * is taken), and done is called once with curl's result, after the handle
 * left the multi (the caller then owns and frees easy). */
struct tp_after_xfer {
    void *easy;                   /* CURL * */
    void (*done)(struct tp_after_xfer *x, int curl_code);
    struct tp_after_xfer *next, *prev; /* after.c's */
};
int tp_after_xfer_start(struct tp_after *a, struct tp_after_xfer *x);
/* Raise (or resolve) a health alert: logged, and given to every sink's
 * alert but from's (NULL: every sink). */
void tp_after_alert(struct tp_after *a, const struct tp_alert *al, const struct tp_after_sink *from);
/* Write a whole JSON log line (text, ending in "}\n") under the log's lock. */
void tp_after_log(struct tp_after *a, const char *text, size_t len);
FILE *tp_after_log_file(struct tp_after *a);
/* Whether shutdown began. */
bool tp_after_stopping(struct tp_after *a);

/* /metrics: the ring, the health alerts, then every sink's (main thread). */
void tp_after_metrics(struct tp_after *a, FILE *f);

#endif
