/* twkit probe: uptime history in SQLite, and the SLA report built from it
 * (docs/PROBE.md, "History" and "Report").
 *
 * The store is called from one thread (the prober's "after" thread, which
 * sees every result and state change): tp_store_result and tp_store_state
 * only touch memory; tp_store_flush, called a few times a second, writes
 * what is finished in one transaction. Nothing here blocks the probe loop,
 * and no error of the database is fatal: it is counted, said, and the
 * write is tried again later, with the memory it may hold bounded.
 *
 * What is kept, per target (probe name + target string, an integer id in
 * the targets table):
 *   - a row per minute it had results in: counts of success, failure and
 *     local error; the time each state covered (up, down, and local errors,
 *     which are neither: see "time attribution" below); the latency of its
 *     successes (sum, min, max and a log-linear histogram for percentiles);
 *   - those rolled up into a row per hour once the hour is over, and the
 *     hours into a row per day once the day is over (the zone's midnight);
 *     minute rows are kept `minutes` (3 days), hour rows `hours` (30 days),
 *     day rows and state changes `retention` (90 days);
 *   - every state change (up, down, unknown) with its reason and detail.
 *
 * Time attribution: a result at time t covers [t, the next result's time),
 * at most 2 x the probe's interval (60 s when it has none); what no result
 * covers is unknown (the prober was not running, or the target was not
 * probed). The time a result covers counts as the state the target is in
 * after it (state: the engine's, with its success and failure thresholds)
 * - up or down - except that a local error's time (this host could not
 * probe) is neither: it is unknown, and counted apart. Covered time that
 * crosses a minute's end is split between the minutes. Uptime is
 * up / (up + down). A result reaching the store more than lag (2 s) after
 * its time counts at the time the store has already settled.
 */
#ifndef TW_PROBE_STORE_H
#define TW_PROBE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "probe/probe.h"

struct tp_store;

/* Who a result is about. probe and target identify it (the row in the
 * targets table, stable across restarts and reloads); the rest is
 * recorded with it and updated when it changes. */
struct tp_store_key {
    const char *probe;          /* the probe's name */
    const char *target;         /* the target as configured */
    const char *kind;           /* "tcp", "http"...; NULL: "" */
    uint64_t interval_ms;       /* a result covers at most 2 x this; 0: 30 s */
    const struct tp_kv *labels; /* the probe's labels */
    size_t nlabels;
    const struct tp_kv *tlabels; /* the target's own (a targets file's
                                    line), over labels */
    size_t ntlabels;
};

/* Zero is the default of each. */
struct tp_store_opts {
    uint64_t minutes_s;   /* minute rows kept: 3 days */
    uint64_t hours_s;     /* hour rows kept: 30 days */
    uint64_t retention_s; /* day rows and state changes kept: 90 days */
    const char *timezone; /* days start at this zone's midnight; NULL: UTC */
    unsigned busy_ms;     /* a flush waits this long for another writer's
                             lock, then gives up until later: 100 */
    unsigned open_busy_ms; /* the same for tp_store_open: 2000 */
    double lag_s;         /* results may reach the store this late: 2 */
    size_t max_txn_rows;  /* rows and state changes per transaction: 5000 */
    size_t max_buffered;  /* rows (and as many state changes) held while
                             the database cannot be written; past it the
                             oldest are dropped and counted: 500000 */
    double sync_s;        /* also write what the open minutes hold this
                             often (a crash then loses at most this much
                             of them, for about 60 / sync_s times the
                             rows); 0: a minute is written once, when it
                             is over */
    double now;           /* the run's start, unix seconds; 0: the clock */
};

/* Open (or create) the history at path: WAL, synchronous=NORMAL, the
 * schema created or brought to this version. Returns 0 and *out, or
 * -errno with a line naming the file in err: a missing directory
 * (-ENOENT), a read-only file or directory (-EACCES, -EROFS), a corrupt
 * file or not a database (-EBADMSG), another writer holding it past
 * open_busy_ms (-EBUSY), another twkit probe writing to it (-EBUSY), a
 * newer schema (-EPROTO), a full disk (-ENOSPC). */
int tp_store_open(const char *path, const struct tp_store_opts *o, struct tp_store **out,
                  char *err, size_t errlen);

/* A result of target k at unix time t: outcome, the target's state after
 * it (the engine's), and how long the probe took (seconds; only
 * successes' latency is kept). Memory only: no SQL. */
void tp_store_result(struct tp_store *st, const struct tp_store_key *k, double t,
                     enum tp_outcome outcome, enum tp_state state, double duration_s);

/* A state change of target k at unix time t (reason and detail: the
 * result's, may be NULL). Memory only until the next flush. */
void tp_store_state(struct tp_store *st, const struct tp_store_key *k, double t,
                    enum tp_state from, enum tp_state to, const char *reason,
                    const char *detail);

/* Write what is finished as of now (unix seconds; the minutes that ended
 * more than lag ago, the state changes, new targets), roll finished hours
 * and days up, delete what is past its period - in one transaction, at
 * most max_txn_rows rows, and only when there is something to do. Returns
 * 0 when nothing is left to write, 1 when more is (call again soon), or
 * -errno when the write failed (tp_store_error says why; everything stays
 * buffered and is tried again at a later flush, after a back-off of 0.25 s
 * doubling to 8 s, during which flushes return -EAGAIN). Results keep
 * being aggregated whatever it returns. */
int tp_store_flush(struct tp_store *st, double now);

/* The last failed write's text ("" after a good one). The store's thread. */
const char *tp_store_error(const struct tp_store *st);

/* Write everything (the open minutes too: the time up to now counts),
 * mark the run stopped and close. Returns 0, or -errno with err set when
 * something could not be written (it is lost). st is freed either way. */
int tp_store_close(struct tp_store *st, double now, char *err, size_t errlen);

/* Counters, safe to read from any thread while the store works. */
struct tp_store_stats {
    uint64_t transactions;   /* committed */
    uint64_t rows[5];        /* written, by table: TP_STORE_T_* */
    uint64_t errors;         /* failed writes (and opens) */
    uint64_t dropped;        /* rows and state changes lost: buffer full */
    uint64_t buffered;       /* rows and state changes waiting */
    uint64_t results;        /* tp_store_result calls */
    uint64_t targets;        /* held in memory (probed in the last hour) */
    uint64_t bytes;          /* the database and its WAL on disk */
    double write_seconds;    /* spent in transactions (wall) */
    double last_error_time;  /* unix seconds; 0: none */
    double last_success_time;
    int last_error;          /* SQLite's primary code of the last error, or 0
                                once a write succeeded again */
};
enum { TP_STORE_T_MINUTE, TP_STORE_T_HOUR, TP_STORE_T_DAY, TP_STORE_T_STATE,
       TP_STORE_T_TARGET };
void tp_store_stats(const struct tp_store *st, struct tp_store_stats *s);

/* The store's counters as Prometheus text (twkit_probe_store_*), for
 * /metrics; any thread. */
void tp_store_metrics(const struct tp_store *st, FILE *out);

/* The store as a sink of the after thread (store_sink.c): it takes every
 * result and state change, flushes every 250 ms, raises
 * TwkitProbeStoreFailing while writes fail, and closes st at the thread's
 * end (st is the sink's from then on). st NULL (the open at path with o
 * failed): it is tried again at once and every 30 s, the alert firing
 * until it opens. 0 or -ENOMEM. */
struct tp_after;
struct tp_after_sink;
int tp_store_sink(struct tp_after *a, const char *path, const struct tp_store_opts *o,
                  struct tp_store *st, struct tp_after_sink *out);

/* The history read back for the status page's 90-day bars (store_read.c):
 * its own read-only connection; tp_store_reader_history fills h with
 * daily_uptime (uptime as the report counts it, up / (up + down), per UTC
 * day) and no latency_series (the sparklines show the engine's samples).
 * Open: 0, or -errno with err (no history yet: -ENOENT). */
struct tp_store_reader;
struct tp_status_history;
int tp_store_reader_open(const char *path, const char *zone, struct tp_store_reader **out,
                         char *err, size_t errlen);
void tp_store_reader_history(struct tp_store_reader *r, struct tp_status_history *h);
void tp_store_reader_close(struct tp_store_reader *r);

/* ---- the report (report.c, report_out.c) ---- */

enum tp_report_format { TP_REPORT_TEXT, TP_REPORT_JSON, TP_REPORT_HTML };

struct tp_report_opts {
    const char *path;       /* the history */
    double since, until;    /* unix seconds; until 0: now */
    const char *timezone;   /* days, weeks and months; NULL: UTC */
    const char *probe;      /* only this probe; NULL: every one */
    enum tp_report_format format;
    double now;             /* 0: the clock */
    char buf[256];          /* tp_report_query's copy of probe */
};

/* The SLA report of the history at o->path, in o->format, to out: per
 * probe and per target, uptime per day, ISO week and month, up, down and
 * unknown time, incidents, longest outage, MTTR, latency percentiles.
 * Opens its own read-only connection, so it may run in any thread while
 * the store writes. Returns 0, or -errno with a line in err (no history
 * at path: -ENOENT). */
int tp_report_write(const struct tp_report_opts *o, FILE *out, char *err, size_t errlen);

/* A --since / --until value: a duration back from now ("30d", "36h",
 * "1w2d"), a date ("2026-12-01": its midnight in tz), a time
 * ("2026-12-01T10:00", "...:30", with Z or +01:00: that offset; without:
 * tz's local time), or "@UNIX". Returns 0 and *out, or -EINVAL with *why. */
int tp_report_parse_time(const char *s, double now, const char *tz, double *out,
                         const char **why);

/* The query of GET /report (len bytes, without '?'): since, until, probe,
 * format (json, html, text; default json) into o (path and timezone left
 * as they are; since defaults to 30 days back, until to now). Returns 0,
 * or -EINVAL with a line in err (for a 400). */
int tp_report_query(const char *query, size_t len, double now, struct tp_report_opts *o,
                    char *err, size_t errlen);

/* A history period (retention, minutes, hours): Go durations plus d
 * (24 h) and w (7 d): "90d", "36h", "1w". Seconds, rounded up; 0 or
 * -EINVAL, -ERANGE past 100 years (config_history.c). */
int tp_parse_period(const char *s, uint64_t *secs);

#endif
