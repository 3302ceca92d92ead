/* twkit probe: what the history store's files share (store.h is the API).
 *
 *   store_sql.c   the schema, opening, SQLite's errors as words
 *   store_buf.c   results and state changes into memory: targets, the open
 *                 minute of each, the queue of finished rows
 *   store_write.c the transaction of a flush: rows, state changes, targets,
 *                 roll-ups, retention
 *   store.c       open, flush, close, the counters
 *   store_hist.c  the latency histogram
 */
#ifndef TW_PROBE_STORE_INT_H
#define TW_PROBE_STORE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "probe/store.h"
#include "probe/store_hist.h"

#define TP_SCHEMA_VERSION 1
#define TP_APP_ID 0x74774b50 /* "twKP": PRAGMA application_id */

/* What a result's covered time counts as (time attribution, store.h). */
enum { TS_UP, TS_DOWN, TS_UNKNOWN, TS_LOCAL };

/* One row's numbers: a minute as it fills, or a finished row. */
struct ts_acc {
    uint32_t ok, fail, local;
    double up_s, down_s, local_s;     /* covered time */
    uint64_t lat_sum_us, lat_min_us, lat_max_us; /* successes; min/max
                                                    valid when ok > 0 */
};

struct ts_tgt {
    struct ts_tgt *next;              /* hash chain */
    uint64_t hash;                    /* of probe and target */
    uint64_t meta_hash;               /* of kind, labels, interval */
    char *probe, *target, *kind, *labels; /* labels: a JSON object */
    uint64_t interval_ms;
    int64_t id;                       /* in targets; 0: not written yet */
    int64_t new_id;                   /* given by the transaction under way */
    bool is_new, meta_dirty;          /* on st->news / its row is stale */
    double first_t;                   /* its first result or change here
                                         (NAN: none yet) */
    uint32_t queued;                  /* its rows and changes in the queues */
    double synced;                    /* sync_s: when its open minute last went */
    /* the last result: covers [last_t, the next one), at most cap_s */
    bool have_last;
    uint8_t last_cls;                 /* TS_* */
    double last_t, cov_to, cap_s;
    /* the open minute */
    bool open;
    int64_t bstart;
    struct ts_acc acc;
    uint16_t hist[TP_LH_N];
};

/* A finished row, waiting for its transaction. */
struct ts_row {
    struct ts_tgt *t;
    int64_t start;
    struct ts_acc acc;
    uint8_t *blob;                    /* the histogram; NULL: empty */
    uint16_t bloblen;
};

struct ts_event {
    struct ts_tgt *t;
    double time;
    uint8_t from, to;                 /* enum tp_state */
    char *reason, *detail;
};

/* A roll-up under way: rows of the finer table for [mark, end) into one
 * row of the coarser, a chunk of target ids per transaction. */
struct ts_roll {
    int64_t mark;                     /* every period before it is rolled;
                                         0: not known yet */
    int64_t cursor;                   /* the next target id of the period
                                         at mark */
};

struct tp_store {
    sqlite3 *db;
    char *path;
    struct tp_store_opts o;           /* defaults filled in */
    char *zone;                       /* o.timezone's copy, NULL: UTC */
    int64_t run_id;
    sqlite3_stmt *s_row, *s_state, *s_tgt_ins, *s_run, *s_meta, *s_meta_text, *s_roll[2];
    /* targets */
    struct ts_tgt **tab;              /* hash table, tabcap chains */
    size_t tabcap;
    struct ts_tgt **all;              /* every target, to walk at a flush */
    size_t nall, capall;
    struct ts_tgt **news;             /* without a row, or with a stale one */
    size_t nnews, capnews;
    int64_t max_id;
    /* finished rows: a ring */
    struct ts_row *q;
    size_t qhead, qlen, qcap;
    struct ts_event *ev;              /* a ring too */
    size_t evhead, evlen, evcap;
    double settled;                   /* minutes ending by here are closed */
    /* roll-ups: [0] minutes into hours, [1] hours into days */
    struct ts_roll roll[2], roll_new[2];
    bool marks_loaded;
    double next_retention;            /* when to look for old rows again */
    double last_beat;                 /* the run's last_seen, as written */
    /* failures */
    double retry_at;
    unsigned fails;
    char err[320];
    /* counters, read by other threads (tp_store_stats) */
    _Atomic uint64_t c_txn, c_rows[5], c_errors, c_dropped, c_buffered, c_results, c_bytes,
        c_targets;
    _Atomic uint64_t c_errcode[32];   /* by SQLite's primary result code */
    _Atomic double c_write_s, c_last_err_t, c_last_ok_t;
    _Atomic int c_last_err;
};

/* ---- store_sql.c ---- */

/* The file's problem as a line: "PATH: WHAT: explanation (SQLITE_X: ...)"
 * into buf; returns the -errno for rc. */
int ts_explain(sqlite3 *db, const char *path, const char *what, int rc, unsigned busy_ms,
               char *buf, size_t len);
/* SQLite's name of a primary result code ("SQLITE_FULL"). */
const char *ts_code_name(int rc);
/* Open path read-write (create: allowed to make it), WAL, the schema at
 * TP_SCHEMA_VERSION. 0 or -errno with err. */
int ts_open_db(const char *path, bool create, unsigned busy_ms, sqlite3 **out, char *err,
               size_t errlen);
/* Open path read-only for a report. 0 or -errno with err. */
int ts_open_ro(const char *path, sqlite3 **out, char *err, size_t errlen);
/* The tables of the roll-ups, finer first: "minute", "hour", "day". */
extern const char *const ts_tables[3];

/* ---- store_buf.c ---- */

/* The target k is, made if new (NULL: no memory). */
struct ts_tgt *ts_target(struct tp_store *st, const struct tp_store_key *k);
/* Attribute time up to min(until, the last result's cap) and close the
 * minute when it ended by until (every target). */
void ts_settle(struct tp_store *st, double until);
/* Add a finished row to the queue (dropping the oldest when full). */
void ts_queue_row(struct tp_store *st, struct ts_tgt *t);
void ts_queue_event(struct tp_store *st, struct ts_tgt *t, double time, enum tp_state from,
                    enum tp_state to, const char *reason, const char *detail);
/* Forget the first n queued rows / events (written). */
void ts_pop_rows(struct tp_store *st, size_t n);
void ts_pop_events(struct tp_store *st, size_t n);
static inline struct ts_row *ts_row_at(struct tp_store *st, size_t i)
{
    return &st->q[(st->qhead + i) % st->qcap];
}
static inline struct ts_event *ts_event_at(struct tp_store *st, size_t i)
{
    return &st->ev[(st->evhead + i) % st->evcap];
}
/* Free every target and what is queued. */
void ts_buf_free(struct tp_store *st);
/* A target idle this long (nothing open or queued) is forgotten. */
#define TS_IDLE_S 3600.0

/* ---- store_write.c ---- */

/* One transaction as of now (store.h, tp_store_flush): 0 nothing left,
 * 1 more left, -errno (st->err said). */
int ts_write(struct tp_store *st, double now);

static inline int64_t ts_floor(int64_t t, int64_t unit)
{
    int64_t r = t % unit;
    return t - (r < 0 ? r + unit : r);
}

#endif
