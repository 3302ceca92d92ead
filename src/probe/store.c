/* The history store's life: open, flush, close, and its counters
 * (store.h; the memory is store_buf.c, the transaction store_write.c).
 *
 * Failure is never fatal. A write that fails (a full disk, another writer
 * holding the lock, a corrupt page) is rolled back, counted by SQLite's
 * code, said in tp_store_error, and tried again after a back-off (0.25 s
 * doubling to 8 s, so a locked file does not stall the thread at every
 * flush); meanwhile results are still aggregated, and the queue is bounded
 * (max_buffered): past it the oldest rows go, counted as dropped. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe/store_int.h"
#include "probe/tz.h"
#include "util/prom.h"

#define DAY 86400ull

static double wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void defaults(struct tp_store_opts *o)
{
    if (!o->retention_s)
        o->retention_s = 90 * DAY;
    if (!o->hours_s)
        o->hours_s = o->retention_s < 30 * DAY ? o->retention_s : 30 * DAY;
    if (!o->minutes_s)
        o->minutes_s = o->hours_s < 3 * DAY ? o->hours_s : 3 * DAY;
    if (!o->busy_ms)
        o->busy_ms = 100;
    if (!o->open_busy_ms)
        o->open_busy_ms = 2000;
    if (!(o->lag_s > 0))
        o->lag_s = 2;
    if (!o->max_txn_rows)
        o->max_txn_rows = 5000;
    if (!o->max_buffered)
        o->max_buffered = 500000;
    if (!(o->now > 0))
        o->now = wall();
}

/* Another process (or this one) writing to the file now: a run not
 * stopped, of a process alive on this host, seen lately. */
static int in_use(struct tp_store *st, char *err, size_t errlen)
{
    char host[256] = "";
    sqlite3_stmt *s;
    int rc, neg = 0;

    gethostname(host, sizeof(host) - 1);
    rc = sqlite3_prepare_v2(st->db,
                            "SELECT pid, last_seen FROM runs WHERE stopped IS NULL AND host = ?1",
                            -1, &s, NULL);
    if (rc != SQLITE_OK)
        return ts_explain(st->db, st->path, "opening", rc, 0, err, errlen);
    sqlite3_bind_text(s, 1, host, -1, SQLITE_STATIC);
    while (!neg && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        pid_t pid = (pid_t)sqlite3_column_int64(s, 0);
        double seen = sqlite3_column_double(s, 1);
        if (pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) && wall() - seen < 60) {
            snprintf(err, errlen, "%s: in use: process %d (twkit probe?) writes to it", st->path,
                     (int)pid);
            neg = -EBUSY;
        }
    }
    sqlite3_finalize(s);
    if (!neg && rc != SQLITE_DONE)
        neg = ts_explain(st->db, st->path, "opening", rc, 0, err, errlen);
    return neg;
}

static int start_run(struct tp_store *st, char *err, size_t errlen)
{
    char host[256] = "";
    sqlite3_stmt *s;
    int rc;

    gethostname(host, sizeof(host) - 1);
    rc = sqlite3_prepare_v2(st->db,
                            "INSERT INTO runs (started, last_seen, pid, host, version)"
                            " VALUES (?1, ?1, ?2, ?3, ?4)",
                            -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_double(s, 1, st->o.now);
        sqlite3_bind_int64(s, 2, getpid());
        sqlite3_bind_text(s, 3, host, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, TW_VERSION, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc == SQLITE_DONE) {
            st->run_id = sqlite3_last_insert_rowid(st->db);
            return 0;
        }
    }
    return ts_explain(st->db, st->path, "opening", rc, st->o.open_busy_ms, err, errlen);
}

/* The largest target id: the roll-ups go through the ids up to it. */
static int max_id(struct tp_store *st)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, "SELECT max(id) FROM targets", -1, &s, NULL);

    if (rc != SQLITE_OK)
        return rc;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        st->max_id = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    return rc;
}

static void free_store(struct tp_store *st)
{
    sqlite3_stmt *stmts[] = {st->s_row,       st->s_state,   st->s_tgt_ins, st->s_run,
                             st->s_meta,      st->s_meta_text, st->s_roll[0], st->s_roll[1]};

    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
        sqlite3_finalize(stmts[i]);
    sqlite3_close(st->db);
    ts_buf_free(st);
    free(st->zone);
    free(st->path);
    free(st);
}

int tp_store_open(const char *path, const struct tp_store_opts *o, struct tp_store **out,
                  char *err, size_t errlen)
{
    struct tp_store *st;
    int neg, rc;

    *out = NULL;
    if (!path || !*path) {
        snprintf(err, errlen, "history: no path");
        return -EINVAL;
    }
    if (!(st = calloc(1, sizeof(*st))) || !(st->path = strdup(path))) {
        free(st);
        snprintf(err, errlen, "%s: out of memory", path);
        return -ENOMEM;
    }
    if (o)
        st->o = *o;
    defaults(&st->o);
    if (st->o.timezone && strcmp(st->o.timezone, "UTC") && *st->o.timezone) {
        if (!tp_tz_known(st->o.timezone)) {
            snprintf(err, errlen, "%s: unknown timezone \"%s\"", path, st->o.timezone);
            free_store(st);
            return -EINVAL;
        }
        if (!(st->zone = strdup(st->o.timezone))) {
            free_store(st);
            snprintf(err, errlen, "%s: out of memory", path);
            return -ENOMEM;
        }
    }
    st->o.timezone = st->zone;
    if ((neg = ts_open_db(path, true, st->o.open_busy_ms, &st->db, err, errlen)) < 0 ||
        (neg = in_use(st, err, errlen)) < 0 || (neg = start_run(st, err, errlen)) < 0) {
        free_store(st);
        return neg;
    }
    if ((rc = max_id(st)) != SQLITE_OK) {
        neg = ts_explain(st->db, path, "reading the targets", rc, 0, err, errlen);
        free_store(st);
        return neg;
    }
    sqlite3_busy_timeout(st->db, (int)st->o.busy_ms);
    st->last_beat = st->o.now;
    st->next_retention = st->o.now;
    *out = st;
    return 0;
}

int tp_store_flush(struct tp_store *st, double now)
{
    int rc;

    ts_settle(st, now - st->o.lag_s);
    if (st->fails && now < st->retry_at)
        return -EAGAIN; /* backing off: tp_store_error still says why */
    if ((rc = ts_write(st, now)) < 0) {
        double delay = 0.25 * (double)(1u << (st->fails < 5 ? st->fails : 5));
        st->fails++;
        st->retry_at = now + delay;
    } else
        st->fails = 0;
    return rc;
}

const char *tp_store_error(const struct tp_store *st)
{
    return st->err;
}

int tp_store_close(struct tp_store *st, double now, char *err, size_t errlen)
{
    int rc = 0, tries = 0;
    sqlite3_stmt *s;

    if (!st)
        return 0;
    /* The prober stops now: the last results' time up to now is known. */
    ts_settle(st, now);
    for (size_t i = 0; i < st->nall; i++)
        if (st->all[i]->open)
            ts_queue_row(st, st->all[i]);
    /* Everything, a transaction at a time; a few tries for a lock. */
    while ((st->qlen || st->evlen || st->nnews) && tries < 3) {
        if ((rc = ts_write(st, now)) < 0)
            tries++;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s (%zu rows and %zu state changes lost)", st->err, st->qlen,
                 st->evlen);
    } else if (sqlite3_prepare_v2(st->db, "UPDATE runs SET stopped = ?1, last_seen = ?1"
                                         " WHERE id = ?2",
                                  -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_double(s, 1, now);
        sqlite3_bind_int64(s, 2, st->run_id);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = ts_explain(st->db, st->path, "closing", sqlite3_errcode(st->db), st->o.busy_ms,
                            err, errlen);
        sqlite3_finalize(s);
    }
    free_store(st);
    return rc < 0 ? rc : 0;
}

void tp_store_stats(const struct tp_store *st, struct tp_store_stats *s)
{
    struct tp_store *w = (struct tp_store *)st; /* atomics: loads only */

#define LD(x) atomic_load_explicit(&w->x, memory_order_relaxed)
    memset(s, 0, sizeof(*s));
    s->transactions = LD(c_txn);
    for (int i = 0; i < 5; i++)
        s->rows[i] = LD(c_rows[i]);
    s->errors = LD(c_errors);
    s->dropped = LD(c_dropped);
    s->buffered = LD(c_buffered);
    s->results = LD(c_results);
    s->targets = LD(c_targets);
    s->bytes = LD(c_bytes);
    s->write_seconds = LD(c_write_s);
    s->last_error_time = LD(c_last_err_t);
    s->last_success_time = LD(c_last_ok_t);
    s->last_error = LD(c_last_err);
#undef LD
}

void tp_store_metrics(const struct tp_store *st, FILE *out)
{
    static const char *const tables[5] = {"minute", "hour", "day", "state_changes", "targets"};
    struct tp_store *w = (struct tp_store *)st;
    struct tp_store_stats s;
    struct tu_prom p;

    tp_store_stats(st, &s);
    tu_prom_init(&p, out);
    tu_prom_family(&p, "twkit_probe_store_transactions_total", TU_PROM_COUNTER,
                   "Transactions the history store committed");
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)s.transactions);
    tu_prom_family(&p, "twkit_probe_store_rows_written_total", TU_PROM_COUNTER,
                   "Rows the history store wrote, by table (roll-ups included)");
    for (int i = 0; i < 5; i++)
        tu_prom_sample_label(&p, "table", tables[i], "%llu", (unsigned long long)s.rows[i]);
    tu_prom_family(&p, "twkit_probe_store_errors_total", TU_PROM_COUNTER,
                   "Failed writes of the history store, by SQLite's result code");
    tu_prom_sample_label(&p, "error", "all", "%llu", (unsigned long long)s.errors);
    for (int i = 1; i < 32; i++) {
        uint64_t n = atomic_load_explicit(&w->c_errcode[i], memory_order_relaxed);
        if (n)
            tu_prom_sample_label(&p, "error", ts_code_name(i), "%llu", (unsigned long long)n);
    }
    tu_prom_family(&p, "twkit_probe_store_last_error_timestamp_seconds", TU_PROM_GAUGE,
                   "When a write of the history store last failed, unix seconds (0: never)");
    tu_prom_sample(&p, NULL, "%.3f", s.last_error_time);
    tu_prom_family(&p, "twkit_probe_store_last_success_timestamp_seconds", TU_PROM_GAUGE,
                   "When the history store last committed, unix seconds (0: not yet)");
    tu_prom_sample(&p, NULL, "%.3f", s.last_success_time);
    tu_prom_family(&p, "twkit_probe_store_healthy", TU_PROM_GAUGE,
                   "1 unless the history store's last write failed");
    tu_prom_sample(&p, NULL, "%d", s.last_error == 0);
    tu_prom_family(&p, "twkit_probe_store_bytes", TU_PROM_GAUGE,
                   "Size of the history database and its WAL on disk");
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)s.bytes);
    tu_prom_family(&p, "twkit_probe_store_buffered_rows", TU_PROM_GAUGE,
                   "Rows and state changes waiting to be written");
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)s.buffered);
    tu_prom_family(&p, "twkit_probe_store_targets", TU_PROM_GAUGE,
                   "Targets the history store holds in memory (probed in the last hour)");
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)s.targets);
    tu_prom_family(&p, "twkit_probe_store_dropped_rows_total", TU_PROM_COUNTER,
                   "Rows and state changes lost because the buffer was full");
    tu_prom_sample(&p, NULL, "%llu", (unsigned long long)s.dropped);
    tu_prom_family(&p, "twkit_probe_store_write_seconds_total", TU_PROM_COUNTER,
                   "Time spent in the history store's transactions");
    tu_prom_sample(&p, NULL, "%.6f", s.write_seconds);
}
