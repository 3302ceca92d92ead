/* The probe engine's own state, for its parts: engine.c (targets, the
 * schedule, probes, reload), log.c (the JSON log and /status) and
 * metrics.c (/metrics and the summary).
 */
#ifndef TW_PROBE_ENGINE_H
#define TW_PROBE_ENGINE_H

#include <stdint.h>
#include <stdio.h>

#include "core/list.h"
#include "probe/probe.h"
#include "util/errcount.h"
#include "util/hist.h"

/* Late-start buckets for the Prometheus histogram, in microseconds. */
#define TP_NLATE 10
extern const uint64_t tp_late_bounds_us[TP_NLATE];

struct tp_defstat {
    uint64_t results[3], skipped;
};

struct tp_engine {
    tw_loop *loop;
    const struct tp_config *cfg;
    struct tp_engine_opts opts;
    struct tp_target *targets;
    char **labels;             /* per target: the label set, pre-rendered */
    float *recent_lat;         /* opts.recent per target (struct tp_recent) */
    size_t ntargets;
    struct tp_defstat *defstat; /* per definition */
    void **kind_data;          /* per kind, as tp_kinds */
    bool *kind_ready;
    struct tp_resolver *resolver;
    unsigned inflight;
    size_t once_next, once_left;
    tw_defer once_none;        /* --once with no targets: stop the loop */
    struct tw_list graceful;
    struct tw_list adhoc;      /* ad-hoc probes running, and done ones
                                  waiting for reap */
    tw_defer reap;
    struct tp_twset *tw;       /* tuples of our graceful closes (timewait.c) */
    /* the prober's own health */
    struct tu_hist late;
    uint64_t late_buckets[TP_NLATE + 1];
    uint64_t late_sum_us;
    uint64_t local_errs[TU_NERRNO];
    /* the JSON log's lines, written whole with one write(2) per batch of
     * the loop (log.c): no lock shared with the other engines */
    FILE *logbuf;              /* a memory stream over logmem */
    char *logmem;
    size_t loglen;
    tw_defer logflush;
};

/* log.c: a JSON line for the result r of t, whose state was from before;
 * the buffer's setup, flush (once the loop's batch is done) and end. */
int tp_log_open(struct tp_engine *e);
void tp_log_flush(struct tp_engine *e);
void tp_log_close(struct tp_engine *e);
void tp_log_line(struct tp_engine *e, const struct tp_target *t, const struct tp_result *r,
                 enum tp_state from);

/* metrics.c: a probe started us microseconds late (the histogram); the
 * label set of a target, rendered once (malloc'd; NULL: no memory). */
void tp_metrics_late(struct tp_engine *e, uint64_t us);
char *tp_metrics_labels(const struct tp_def *def, const char *target,
                        const struct tp_tlabels *tl);

#endif
