/* The transaction of a flush (store_int.h): new and changed targets, the
 * finished minute rows, the state changes, a chunk of a roll-up, old rows
 * deleted, the run's heartbeat - all or nothing. In memory nothing is
 * forgotten before COMMIT says so: a failed transaction leaves the queue,
 * the ids and the roll-up marks as they were, to be tried again.
 *
 * Roll-ups. An hour is rolled into hour rows once every minute of it is
 * written (the store has settled past its end and no row of it waits in
 * the queue); a day into day rows once every hour of it is rolled. A
 * roll-up is an INSERT ... SELECT over the finer rows of the period for a
 * chunk of target ids, a few tens of thousands of rows per transaction,
 * and its progress (meta: hour_mark/hour_cursor, day_mark/day_cursor) is
 * committed with it, so a crash between two chunks repeats nothing. Rows
 * are deleted only once rolled up and past their period. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "probe/store_int.h"
#include "probe/tz.h"

#define ROLL_ROWS 30000      /* finer rows read per roll-up chunk */
#define DELETE_ROWS 50000    /* rows deleted per table per transaction */
#define BEAT_S 10.0          /* the run's last_seen, at least this often */

static const char *const mark_keys[2][2] = {{"hour_mark", "hour_cursor"},
                                             {"day_mark", "day_cursor"}};

/* The columns' sums when a row meets one already there: a minute written
 * at a close and again after the restart, a roll-up's chunk. */
#define ADD_ON_CONFLICT                                                                        \
    " ON CONFLICT (start, target_id) DO UPDATE SET span = max(span, excluded.span),"           \
    " success = success + excluded.success, failure = failure + excluded.failure,"             \
    " local_error = local_error + excluded.local_error, up_ms = up_ms + excluded.up_ms,"       \
    " down_ms = down_ms + excluded.down_ms, local_ms = local_ms + excluded.local_ms,"          \
    " lat_sum_us = lat_sum_us + excluded.lat_sum_us,"                                          \
    " lat_min_us = min(coalesce(lat_min_us, excluded.lat_min_us),"                             \
    "                  coalesce(excluded.lat_min_us, lat_min_us)),"                            \
    " lat_max_us = max(coalesce(lat_max_us, excluded.lat_max_us),"                             \
    "                  coalesce(excluded.lat_max_us, lat_max_us)),"                            \
    " hist = tp_hmerge(hist, excluded.hist)"

static const char sql_row[] =
    "INSERT INTO minute (start, target_id, span, success, failure, local_error, up_ms, down_ms,"
    " local_ms, lat_sum_us, lat_min_us, lat_max_us, hist)"
    " VALUES (?1, ?2, 60, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)" ADD_ON_CONFLICT;

static const char sql_state[] =
    "INSERT INTO state_changes (target_id, time, from_state, to_state, reason, detail, run_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

static const char sql_target[] =
    "INSERT INTO targets (probe, target, kind, labels, interval_ms, first_seen)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (probe, target) DO UPDATE SET"
    " kind = excluded.kind, labels = excluded.labels, interval_ms = excluded.interval_ms"
    " RETURNING id";

/* ?1 period start, ?2 its end, ?3 the finer rows' span, ?4..?5 target ids.
 * CROSS JOIN keeps the generated starts outside, so each is one seek into
 * (start, target_id). */
#define ROLL_SQL(FINE, COARSE)                                                                 \
    "WITH RECURSIVE s(x) AS (SELECT ?1 UNION ALL SELECT x + ?3 FROM s WHERE x + ?3 < ?2)"      \
    " INSERT INTO " COARSE " (start, target_id, span, success, failure, local_error, up_ms,"   \
    " down_ms, local_ms, lat_sum_us, lat_min_us, lat_max_us, hist)"                            \
    " SELECT ?1, f.target_id, ?2 - ?1, sum(f.success), sum(f.failure), sum(f.local_error),"    \
    " sum(f.up_ms), sum(f.down_ms), sum(f.local_ms), sum(f.lat_sum_us), min(f.lat_min_us),"    \
    " max(f.lat_max_us), tp_hsum(f.hist)"                                                      \
    " FROM s CROSS JOIN " FINE " AS f ON f.start = s.x AND f.target_id BETWEEN ?4 AND ?5"      \
    " WHERE 1 GROUP BY f.target_id" ADD_ON_CONFLICT

static const char *const sql_roll[2] = {ROLL_SQL("minute", "hour"), ROLL_SQL("hour", "day")};

static const char *const state_words[] = {"unknown", "up", "down"};

static int prep(struct tp_store *st, sqlite3_stmt **s, const char *sql)
{
    if (*s) {
        sqlite3_reset(*s);
        sqlite3_clear_bindings(*s);
        return SQLITE_OK;
    }
    return sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, s, NULL);
}

/* One statement that returns nothing (or one value into *v). */
static int run1(struct tp_store *st, sqlite3_stmt *s, int64_t *v)
{
    int rc = sqlite3_step(s);

    if (rc == SQLITE_ROW) {
        if (v)
            *v = sqlite3_column_type(s, 0) == SQLITE_NULL ? INT64_MIN : sqlite3_column_int64(s, 0);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            ;
    } else if (v)
        *v = INT64_MIN;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A query of one integer, prepared for the moment ("SELECT min(start)..."). */
static int query1(struct tp_store *st, const char *sql, int64_t a, int64_t *v)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(s, 1, a);
    rc = run1(st, s, v);
    sqlite3_finalize(s);
    return rc;
}

static int meta_set(struct tp_store *st, const char *key, int64_t v)
{
    int rc = prep(st, &st->s_meta, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");

    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st->s_meta, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st->s_meta, 2, v);
    return run1(st, st->s_meta, NULL);
}

/* ---- targets, rows, state changes ---- */

static int write_targets(struct tp_store *st)
{
    int rc = SQLITE_OK;

    for (size_t i = 0; i < st->nnews && rc == SQLITE_OK; i++) {
        struct ts_tgt *t = st->news[i];
        sqlite3_stmt *s;
        if ((rc = prep(st, &st->s_tgt_ins, sql_target)) != SQLITE_OK)
            break;
        s = st->s_tgt_ins;
        sqlite3_bind_text(s, 1, t->probe, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, t->target, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, t->kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, t->labels, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, (int64_t)t->interval_ms);
        sqlite3_bind_double(s, 6, isnan(t->first_t) ? 0 : t->first_t);
        rc = run1(st, s, &t->new_id);
        if (rc == SQLITE_OK && t->new_id == INT64_MIN)
            rc = SQLITE_ERROR; /* RETURNING gave nothing: cannot be */
    }
    return rc;
}

static int64_t id_of(const struct ts_tgt *t)
{
    return t->id ? t->id : t->new_id;
}

static int write_rows(struct tp_store *st, size_t n)
{
    int rc = SQLITE_OK;

    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        const struct ts_row *r = ts_row_at(st, i);
        const struct ts_acc *a = &r->acc;
        sqlite3_stmt *s;
        if ((rc = prep(st, &st->s_row, sql_row)) != SQLITE_OK)
            break;
        s = st->s_row;
        sqlite3_bind_int64(s, 1, r->start);
        sqlite3_bind_int64(s, 2, id_of(r->t));
        sqlite3_bind_int64(s, 3, a->ok);
        sqlite3_bind_int64(s, 4, a->fail);
        sqlite3_bind_int64(s, 5, a->local);
        sqlite3_bind_int64(s, 6, llround(a->up_s * 1000));
        sqlite3_bind_int64(s, 7, llround(a->down_s * 1000));
        sqlite3_bind_int64(s, 8, llround(a->local_s * 1000));
        sqlite3_bind_int64(s, 9, (int64_t)a->lat_sum_us);
        if (a->ok) {
            sqlite3_bind_int64(s, 10, (int64_t)a->lat_min_us);
            sqlite3_bind_int64(s, 11, (int64_t)a->lat_max_us);
        }
        if (r->blob)
            sqlite3_bind_blob(s, 12, r->blob, r->bloblen, SQLITE_STATIC);
        rc = run1(st, s, NULL);
    }
    return rc;
}

static int write_events(struct tp_store *st, size_t n)
{
    int rc = SQLITE_OK;

    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        const struct ts_event *e = ts_event_at(st, i);
        sqlite3_stmt *s;
        if ((rc = prep(st, &st->s_state, sql_state)) != SQLITE_OK)
            break;
        s = st->s_state;
        sqlite3_bind_int64(s, 1, id_of(e->t));
        sqlite3_bind_double(s, 2, e->time);
        sqlite3_bind_text(s, 3, state_words[e->from % 3], -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, state_words[e->to % 3], -1, SQLITE_STATIC);
        if (e->reason)
            sqlite3_bind_text(s, 5, e->reason, -1, SQLITE_STATIC);
        if (e->detail)
            sqlite3_bind_text(s, 6, e->detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 7, st->run_id);
        rc = run1(st, s, NULL);
    }
    return rc;
}

/* ---- roll-ups ---- */

/* The end of the period starting at start, at level l (0: an hour). */
static int64_t period_end(const struct tp_store *st, int l, int64_t start)
{
    return l == 0 ? start + 3600 : tp_tz_next(st->zone, TP_TZ_DAY, start);
}

/* The start of the level-l period holding t. */
static int64_t period_floor(const struct tp_store *st, int l, int64_t t)
{
    return l == 0 ? ts_floor(t, 3600) : tp_tz_floor(st->zone, TP_TZ_DAY, t);
}

/* Before which time every finer row is written (level 0) or rolled
 * (level 1): a period ending by then may be rolled. */
static int64_t roll_limit(struct tp_store *st, int l)
{
    int64_t lim;

    if (l == 1)
        return st->roll_new[0].mark;
    lim = (int64_t)floor(st->settled);
    for (size_t i = 0; i < st->qlen; i++)
        if (ts_row_at(st, i)->start < lim)
            lim = ts_row_at(st, i)->start;
    return lim;
}

/* One chunk of the level-l roll-up if one is due: *did set when it did
 * something. */
static int roll_step(struct tp_store *st, int l, bool *did)
{
    struct ts_roll *r = &st->roll_new[l];
    int64_t lim = roll_limit(st, l), end, next, chunk;
    char sql[96];
    int rc;

    for (int i = 0; i < 4; i++) { /* past empty periods (the prober was off) */
        end = period_end(st, l, r->mark);
        if (end > lim)
            return SQLITE_OK;
        if (r->cursor > 0)
            break;
        snprintf(sql, sizeof(sql), "SELECT min(start) FROM %s WHERE start >= ?1", ts_tables[l]);
        if ((rc = query1(st, sql, r->mark, &next)) != SQLITE_OK)
            return rc;
        if (next != INT64_MIN && next < end) {
            r->cursor = 1;
            break;
        }
        /* Nothing in this period: on to the one of the next row, or as far
         * as is settled. */
        next = next == INT64_MIN ? lim : next < lim ? next : lim;
        r->mark = period_floor(st, l, next) > end ? period_floor(st, l, next) : end;
        *did = true;
        if (i == 3)
            return SQLITE_OK;
    }
    if ((rc = prep(st, &st->s_roll[l], sql_roll[l])) != SQLITE_OK)
        return rc;
    chunk = ROLL_ROWS / (l == 0 ? 60 : 24);
    sqlite3_bind_int64(st->s_roll[l], 1, r->mark);
    sqlite3_bind_int64(st->s_roll[l], 2, end);
    sqlite3_bind_int64(st->s_roll[l], 3, l == 0 ? 60 : 3600);
    sqlite3_bind_int64(st->s_roll[l], 4, r->cursor);
    sqlite3_bind_int64(st->s_roll[l], 5, r->cursor + chunk - 1);
    if ((rc = run1(st, st->s_roll[l], NULL)) != SQLITE_OK)
        return rc;
    atomic_fetch_add_explicit(&st->c_rows[TP_STORE_T_HOUR + l],
                              (uint64_t)sqlite3_changes(st->db), memory_order_relaxed);
    *did = true;
    r->cursor += chunk;
    if (r->cursor > st->max_id) {
        r->mark = end;
        r->cursor = 0;
    }
    return SQLITE_OK;
}

static bool roll_due(struct tp_store *st, int l)
{
    return period_end(st, l, st->roll[l].mark) <= roll_limit(st, l);
}

/* ---- retention ---- */

/* Rows of table before cutoff, oldest first, at most about DELETE_ROWS:
 * *more when some are left. */
static int delete_old(struct tp_store *st, int l, int64_t cutoff, bool *more)
{
    int64_t unit = l == 0 ? 60 : l == 1 ? 3600 : 86400, oldest, upto, slices;
    char sql[96];
    int rc;

    snprintf(sql, sizeof(sql), "SELECT min(start) FROM %s WHERE ?1 = ?1", ts_tables[l]);
    if ((rc = query1(st, sql, 0, &oldest)) != SQLITE_OK || oldest == INT64_MIN ||
        oldest >= cutoff)
        return rc;
    slices = DELETE_ROWS / (st->nall ? (int64_t)st->nall : 1);
    upto = oldest + (slices < 1 ? 1 : slices) * unit;
    if (upto < cutoff)
        *more = true;
    else
        upto = cutoff;
    /* a day row is deleted whole, once all of it is past retention */
    snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE start < ?1%s", ts_tables[l],
             l == 2 ? " AND start + span <= ?1" : "");
    return query1(st, sql, upto, NULL);
}

static int retention(struct tp_store *st, double now, bool *more)
{
    int64_t cut[3], keep = (int64_t)floor(now - (double)st->o.retention_s);
    int rc = SQLITE_OK;

    cut[0] = ts_floor((int64_t)floor(now - (double)st->o.minutes_s), 60);
    cut[1] = ts_floor((int64_t)floor(now - (double)st->o.hours_s), 3600);
    cut[2] = keep;
    /* never what is not rolled up yet */
    if (cut[0] > st->roll_new[0].mark)
        cut[0] = st->roll_new[0].mark;
    if (cut[1] > st->roll_new[1].mark)
        cut[1] = st->roll_new[1].mark;
    for (int l = 0; l < 3 && rc == SQLITE_OK; l++)
        rc = delete_old(st, l, cut[l], more);
    if (rc == SQLITE_OK)
        rc = query1(st, "DELETE FROM state_changes WHERE time < ?1", keep, NULL);
    if (rc == SQLITE_OK)
        rc = query1(st, "DELETE FROM runs WHERE stopped < ?1", keep, NULL);
    return rc;
}

/* ---- the transaction ---- */

static int init_marks(struct tp_store *st)
{
    int64_t v, first;
    int rc;

    for (int l = 0; l < 2; l++) {
        rc = query1(st, l == 0 ? "SELECT value FROM meta WHERE key = 'hour_mark'"
                               : "SELECT value FROM meta WHERE key = 'day_mark'",
                    0, &v);
        if (rc != SQLITE_OK)
            return rc;
        if (v == INT64_MIN) { /* a new history: from its first row on */
            if ((rc = query1(st, l == 0 ? "SELECT min(start) FROM minute WHERE ?1 = ?1"
                                        : "SELECT min(start) FROM hour WHERE ?1 = ?1",
                             0, &first)) != SQLITE_OK)
                return rc;
            if (l == 0) { /* nor before what waits to be written */
                int64_t lim = roll_limit(st, 0);
                if (first == INT64_MIN || lim < first)
                    first = lim;
            } else if (first == INT64_MIN || st->roll[0].mark < first)
                first = st->roll[0].mark;
            v = period_floor(st, l, first);
            st->roll[l].cursor = 0;
        } else {
            rc = query1(st, l == 0 ? "SELECT value FROM meta WHERE key = 'hour_cursor'"
                                   : "SELECT value FROM meta WHERE key = 'day_cursor'",
                        0, &st->roll[l].cursor);
            if (rc != SQLITE_OK)
                return rc;
            if (st->roll[l].cursor == INT64_MIN)
                st->roll[l].cursor = 0;
        }
        st->roll[l].mark = v;
    }
    return SQLITE_OK;
}

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_bytes(struct tp_store *st)
{
    char wal[4200];
    struct stat a, b;
    uint64_t n = 0;

    if (stat(st->path, &a) == 0)
        n += (uint64_t)a.st_size;
    snprintf(wal, sizeof(wal), "%s-wal", st->path);
    if (stat(wal, &b) == 0)
        n += (uint64_t)b.st_size;
    atomic_store_explicit(&st->c_bytes, n, memory_order_relaxed);
}

int ts_write(struct tp_store *st, double now)
{
    size_t nrows = st->qlen < st->o.max_txn_rows ? st->qlen : st->o.max_txn_rows, nev;
    bool more = false, rolled = false, ret = now >= st->next_retention;
    double t0;
    int rc;

    nev = st->evlen < st->o.max_txn_rows - nrows ? st->evlen : st->o.max_txn_rows - nrows;
    if (!nrows && !nev && !st->nnews && !ret && now - st->last_beat < BEAT_S &&
        st->marks_loaded && !roll_due(st, 0) && !roll_due(st, 1))
        return 0;
    t0 = mono();
    if ((rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;
    if (!st->marks_loaded && (rc = init_marks(st)) != SQLITE_OK)
        goto fail;
    memcpy(st->roll_new, st->roll, sizeof(st->roll));
    if ((rc = write_targets(st)) != SQLITE_OK || (rc = write_rows(st, nrows)) != SQLITE_OK ||
        (rc = write_events(st, nev)) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < st->nnews; i++)
        if (st->news[i]->new_id > st->max_id)
            st->max_id = st->news[i]->new_id; /* rolled over with the rest */
    /* The hours first: a day waits for its hours. */
    if ((rc = roll_step(st, 0, &rolled)) != SQLITE_OK ||
        (!rolled && (rc = roll_step(st, 1, &rolled)) != SQLITE_OK))
        goto fail;
    if (!st->marks_loaded && (rc = prep(st, &st->s_meta_text, "INSERT OR REPLACE INTO meta"
                                                             " (key, value) VALUES ('timezone', ?1)"))
                                 == SQLITE_OK) {
        /* the zone the days are rolled up in from now on, for the report */
        sqlite3_bind_text(st->s_meta_text, 1, st->zone ? st->zone : "", -1, SQLITE_STATIC);
        rc = run1(st, st->s_meta_text, NULL);
    }
    for (int l = 0; l < 2 && rc == SQLITE_OK; l++)
        if (memcmp(&st->roll_new[l], &st->roll[l], sizeof(st->roll[l])) || !st->marks_loaded) {
            rc = meta_set(st, mark_keys[l][0], st->roll_new[l].mark);
            if (rc == SQLITE_OK)
                rc = meta_set(st, mark_keys[l][1], st->roll_new[l].cursor);
        }
    if (rc != SQLITE_OK || (ret && (rc = retention(st, now, &more)) != SQLITE_OK))
        goto fail;
    if ((rc = prep(st, &st->s_run, "UPDATE runs SET last_seen = ?1 WHERE id = ?2")) != SQLITE_OK)
        goto fail;
    sqlite3_bind_double(st->s_run, 1, now);
    sqlite3_bind_int64(st->s_run, 2, st->run_id);
    if ((rc = run1(st, st->s_run, NULL)) != SQLITE_OK ||
        (rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
        goto fail;

    /* Committed: now memory may forget. */
    ts_pop_rows(st, nrows);
    ts_pop_events(st, nev);
    for (size_t i = 0; i < st->nnews; i++) {
        struct ts_tgt *t = st->news[i];
        t->id = t->new_id;
        t->new_id = 0;
        t->is_new = t->meta_dirty = false;
    }
    atomic_fetch_add_explicit(&st->c_rows[TP_STORE_T_TARGET], st->nnews, memory_order_relaxed);
    st->nnews = 0;
    memcpy(st->roll, st->roll_new, sizeof(st->roll));
    st->marks_loaded = true;
    st->last_beat = now;
    if (ret)
        st->next_retention = more ? now : now + 60;
    atomic_fetch_add_explicit(&st->c_txn, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->c_rows[TP_STORE_T_MINUTE], nrows, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->c_rows[TP_STORE_T_STATE], nev, memory_order_relaxed);
    atomic_store_explicit(&st->c_write_s,
                          atomic_load_explicit(&st->c_write_s, memory_order_relaxed) +
                              (mono() - t0),
                          memory_order_relaxed);
    atomic_store_explicit(&st->c_last_ok_t, now, memory_order_relaxed);
    atomic_store_explicit(&st->c_last_err, 0, memory_order_relaxed);
    count_bytes(st);
    st->err[0] = 0;
    return st->qlen || st->evlen || more || roll_due(st, 0) || roll_due(st, 1) ? 1 : 0;

fail:
    {
        int neg = ts_explain(st->db, st->path, "writing", rc, st->o.busy_ms, st->err,
                             sizeof(st->err));
        if (!sqlite3_get_autocommit(st->db))
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        for (size_t i = 0; i < st->nnews; i++)
            st->news[i]->new_id = 0;
        atomic_fetch_add_explicit(&st->c_errors, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st->c_errcode[(rc & 0xff) < 32 ? rc & 0xff : 0], 1,
                                  memory_order_relaxed);
        atomic_store_explicit(&st->c_last_err, rc & 0xff, memory_order_relaxed);
        atomic_store_explicit(&st->c_last_err_t, now, memory_order_relaxed);
        count_bytes(st);
        return neg;
    }
}
