/* twkit probe: the SLA report, read from the history (store.h,
 * tp_report_write; docs/PROBE.md, "Report").
 *
 * Which rows. Minute, hour and day rows overlap (an hour is rolled up
 * while its minutes are still kept), so each stretch of the range is read
 * from one table: day rows for whole days before the day roll-up's mark,
 * hour rows for whole hours before the hour mark, minute rows for the
 * rest. When since falls where the finer rows are gone (past `minutes`, or
 * `hours`), it is moved back to the start of its hour, or day, and the
 * report says so. A row counts in the day, week and month its start falls
 * in (the report's zone).
 *
 * Outages come from the state changes: a change to down opens one; the
 * next change of the target closes it (recovered if to up), or the end of
 * the prober's run it happened in (stopped or killed: the run's last
 * heartbeat), or it is still going on. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/report_int.h"
#include "probe/store_int.h"
#include "probe/tz.h"

struct run {
    int64_t id;
    double end;               /* stopped, or the last heartbeat */
    bool stopped;
};

struct build {
    struct rp r;
    sqlite3 *db;
    const char *path;
    int64_t *idx;             /* target id -> item index + 1 (0: none) */
    int64_t maxid;
    struct run *runs;
    size_t nruns;
    char **strs;              /* what items point into */
    size_t nstrs, capstrs;
};

static char *keep(struct build *b, const unsigned char *s)
{
    char *d;

    if (b->nstrs == b->capstrs) {
        size_t nc = b->capstrs ? b->capstrs * 2 : 256;
        char **n = realloc(b->strs, nc * sizeof(*n));
        if (!n)
            return NULL;
        b->strs = n;
        b->capstrs = nc;
    }
    if (!(d = strdup(s ? (const char *)s : "")))
        return NULL;
    return b->strs[b->nstrs++] = d;
}

static int q_int(sqlite3 *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    *v = INT64_MIN;
    if (rc != SQLITE_OK)
        return rc;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) != SQLITE_NULL)
            *v = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(s);
    return rc;
}

static int load_targets(struct build *b)
{
    sqlite3_stmt *s;
    size_t cap = 0;
    int rc = sqlite3_prepare_v2(b->db,
                                "SELECT id, probe, target, kind, labels, first_seen FROM targets"
                                " WHERE ?1 IS NULL OR probe = ?1 ORDER BY probe, target",
                                -1, &s, NULL);

    if (rc != SQLITE_OK)
        return rc;
    if (b->r.o->probe)
        sqlite3_bind_text(s, 1, b->r.o->probe, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct rp_item *it;
        if (b->r.nitems == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct rp_item *n = realloc(b->r.items, nc * sizeof(*n));
            if (!n) {
                rc = SQLITE_NOMEM;
                break;
            }
            b->r.items = n;
            cap = nc;
        }
        it = &b->r.items[b->r.nitems];
        memset(it, 0, sizeof(*it));
        it->id = sqlite3_column_int64(s, 0);
        it->first_seen = sqlite3_column_double(s, 5);
        if (!(it->probe = keep(b, sqlite3_column_text(s, 1))) ||
            !(it->target = keep(b, sqlite3_column_text(s, 2))) ||
            !(it->kind = keep(b, sqlite3_column_text(s, 3))) ||
            !(it->labels = keep(b, sqlite3_column_text(s, 4)))) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (it->id > b->maxid)
            b->maxid = it->id;
        b->r.nitems++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return rc;
    if (!(b->idx = calloc((size_t)b->maxid + 1, sizeof(*b->idx))))
        return SQLITE_NOMEM;
    for (size_t i = 0; i < b->r.nitems; i++)
        b->idx[b->r.items[i].id] = (int64_t)i + 1;
    return SQLITE_OK;
}

static int load_runs(struct build *b)
{
    sqlite3_stmt *s;
    size_t cap = 0;
    int rc = sqlite3_prepare_v2(b->db, "SELECT id, coalesce(stopped, last_seen), stopped IS NOT "
                                       "NULL FROM runs ORDER BY id", -1, &s, NULL);

    if (rc != SQLITE_OK)
        return rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (b->nruns == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct run *n = realloc(b->runs, nc * sizeof(*n));
            if (!n) {
                rc = SQLITE_NOMEM;
                break;
            }
            b->runs = n;
            cap = nc;
        }
        b->runs[b->nruns++] = (struct run){sqlite3_column_int64(s, 0),
                                           sqlite3_column_double(s, 1),
                                           sqlite3_column_int(s, 2) != 0};
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- periods ---- */

static int make_periods(struct build *b)
{
    static const enum tp_tz_unit units[RP_NUNITS] = {TP_TZ_DAY, TP_TZ_WEEK, TP_TZ_MONTH};
    struct rp *r = &b->r;

    for (int u = 0; u < RP_NUNITS; u++) {
        size_t cap = 0;
        int64_t s = tp_tz_floor(r->zone, units[u], (int64_t)floor(r->since));
        while ((double)s < r->until) {
            int64_t e = tp_tz_next(r->zone, units[u], s);
            if (r->nper[u] == cap) {
                size_t nc = cap ? cap * 2 : 32;
                struct rp_period *n = realloc(r->per[u], nc * sizeof(*n));
                if (!n)
                    return SQLITE_NOMEM;
                r->per[u] = n;
                cap = nc;
            }
            r->per[u][r->nper[u]++] = (struct rp_period){s, e};
            if (e <= s) /* cannot be; never loop */
                break;
            s = e;
        }
    }
    for (size_t i = 0; i < r->nitems; i++)
        for (int u = 0; u < RP_NUNITS; u++)
            if (!(r->items[i].per[u] = calloc(r->nper[u] ? r->nper[u] : 1,
                                              sizeof(struct rp_acc))))
                return SQLITE_NOMEM;
    return SQLITE_OK;
}

/* The period of unit u holding t, or -1. */
static long period_of(const struct rp *r, int u, int64_t t)
{
    size_t lo = 0, hi = r->nper[u];

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->per[u][mid].end <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->nper[u] && r->per[u][lo].start <= t ? (long)lo : -1;
}

/* ---- rows ---- */

static void add_row(struct build *b, sqlite3_stmt *s)
{
    int64_t id = sqlite3_column_int64(s, 0), start = sqlite3_column_int64(s, 1);
    struct rp_item *it;
    double up, down, local;

    if (id < 1 || id > b->maxid || !b->idx[id])
        return; /* another probe's (--probe) */
    it = &b->r.items[b->idx[id] - 1];
    up = (double)sqlite3_column_int64(s, 6) / 1000;
    down = (double)sqlite3_column_int64(s, 7) / 1000;
    local = (double)sqlite3_column_int64(s, 8) / 1000;
    it->all.up += up;
    it->all.down += down;
    it->all.local += local;
    for (int u = 0; u < RP_NUNITS; u++) {
        long p = period_of(&b->r, u, start);
        if (p >= 0) {
            it->per[u][p].up += up;
            it->per[u][p].down += down;
            it->per[u][p].local += local;
        }
    }
    it->ok += (uint64_t)sqlite3_column_int64(s, 3);
    it->fail += (uint64_t)sqlite3_column_int64(s, 4);
    it->local += (uint64_t)sqlite3_column_int64(s, 5);
    if (sqlite3_column_int64(s, 3) > 0 && sqlite3_column_type(s, 10) != SQLITE_NULL) {
        uint64_t mn = (uint64_t)sqlite3_column_int64(s, 10), mx = (uint64_t)sqlite3_column_int64(s, 11);
        bool first = it->ok == (uint64_t)sqlite3_column_int64(s, 3);
        it->lat_sum_us += (uint64_t)sqlite3_column_int64(s, 9);
        if (first || mn < it->lat_min_us)
            it->lat_min_us = mn;
        if (first || mx > it->lat_max_us)
            it->lat_max_us = mx;
        /* a bad blob adds nothing; the counts above still stand */
        tp_lh_add_blob(it->hist, sqlite3_column_blob(s, 12), (size_t)sqlite3_column_bytes(s, 12));
    }
    if ((double)(start + sqlite3_column_int64(s, 2)) > it->last_data)
        it->last_data = (double)(start + sqlite3_column_int64(s, 2));
}

/* Rows of table l with start in [lo, hi) (day rows: only whole ones). */
static int read_rows(struct build *b, int l, int64_t lo, int64_t hi)
{
    char sql[320];
    sqlite3_stmt *s;
    int rc;

    if (lo >= hi)
        return SQLITE_OK;
    snprintf(sql, sizeof(sql),
             "SELECT target_id, start, span, success, failure, local_error, up_ms, down_ms,"
             " local_ms, lat_sum_us, lat_min_us, lat_max_us, hist FROM %s"
             " WHERE start >= ?1 AND start < ?2%s",
             ts_tables[l], l == 2 ? " AND start + span <= ?2" : "");
    if ((rc = sqlite3_prepare_v2(b->db, sql, -1, &s, NULL)) != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(s, 1, lo);
    sqlite3_bind_int64(s, 2, hi);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        add_row(b, s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The zone the day rows were rolled up in ("" for UTC): the report's own
 * may differ; the rows' days are theirs. A zone the C library does not
 * know here is taken as UTC (and said). */
static int history_zone(struct build *b, char *buf, size_t len)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(b->db, "SELECT value FROM meta WHERE key = 'timezone'", -1, &s,
                                NULL);

    buf[0] = 0;
    if (rc != SQLITE_OK)
        return rc;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    if (buf[0] && !tp_tz_known(buf)) {
        snprintf(b->r.note, sizeof(b->r.note), "the history's days are in %s, unknown here: "
                 "taken as UTC", buf);
        buf[0] = 0;
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static bool same_zone(const char *a, const char *b)
{
    return (!a || !*a || !strcmp(a, "UTC")) ? (!b || !*b || !strcmp(b, "UTC"))
                                            : b && !strcmp(a, b);
}

static int64_t ceil_to(int64_t t, int64_t unit)
{
    int64_t f = ts_floor(t, unit);
    return f == t ? t : f + unit;
}

/* since moved back to where rows are, and every stretch read from its
 * table (see the top). */
static int read_all(struct build *b)
{
    struct rp *r = &b->r;
    int64_t hmark, dmark, min_lo, hour_lo, since, until = (int64_t)ceil(r->until);
    int64_t h0, h1, d0, d1, m0;
    const char *moved = NULL, *hz;
    char zbuf[256];
    int rc;

    if ((rc = history_zone(b, zbuf, sizeof(zbuf))))
        return rc;
    hz = zbuf[0] ? zbuf : NULL;
    if ((rc = q_int(b->db, "SELECT value FROM meta WHERE key = 'hour_mark'", &hmark)) ||
        (rc = q_int(b->db, "SELECT value FROM meta WHERE key = 'day_mark'", &dmark)) ||
        (rc = q_int(b->db, "SELECT min(start) FROM minute", &min_lo)) ||
        (rc = q_int(b->db, "SELECT min(start) FROM hour", &hour_lo)))
        return rc;
    since = ts_floor((int64_t)floor(r->since_asked), 60);
    if (hmark != INT64_MIN && since < hmark && (min_lo == INT64_MIN || min_lo > since) &&
        hour_lo != INT64_MIN && hour_lo <= since && since % 3600) {
        since = ts_floor(since, 3600);
        moved = "hour";
    }
    if (dmark != INT64_MIN && since < dmark && (hour_lo == INT64_MIN || hour_lo > since) &&
        tp_tz_floor(hz, TP_TZ_DAY, since) != since) {
        since = tp_tz_floor(hz, TP_TZ_DAY, since);
        moved = "day";
    }
    if (moved)
        snprintf(r->note, sizeof(r->note),
                 "since moved back to the start of its %s: the finer rows of that time are "
                 "past their period", moved);
    r->since = (double)since;
    if ((rc = make_periods(b)) != SQLITE_OK)
        return rc;
    h0 = ceil_to(since, 3600);
    h1 = hmark == INT64_MIN ? h0 : ts_floor(until, 3600) < hmark ? ts_floor(until, 3600) : hmark;
    /* days of the history's zone: the roll-up's */
    d0 = dmark == INT64_MIN ? h0 : tp_tz_floor(hz, TP_TZ_DAY, since);
    if (d0 < since)
        d0 = tp_tz_next(hz, TP_TZ_DAY, d0);
    d1 = dmark == INT64_MIN ? d0 : tp_tz_floor(hz, TP_TZ_DAY, until);
    if (dmark != INT64_MIN && d1 > dmark)
        d1 = dmark;
    /* The history's days are not the report's: its day rows would count
     * in the report's day their start falls in. Hour rows fit any zone of
     * whole hours; day rows only where the hours are gone. */
    if (!same_zone(hz, r->zone) && hour_lo != INT64_MIN) {
        int64_t d = tp_tz_floor(hz, TP_TZ_DAY, hour_lo);
        if (d < hour_lo)
            d = tp_tz_next(hz, TP_TZ_DAY, d);
        if (d1 > d)
            d1 = d;
    }
    m0 = since;
    if (d0 < d1) {
        if ((rc = read_rows(b, 2, d0, d1)) || (rc = read_rows(b, 1, h0, d0)) ||
            (rc = read_rows(b, 1, d1, h1)))
            return rc;
    } else if ((rc = read_rows(b, 1, h0, h1)))
        return rc;
    if (h0 < h1)
        rc = read_rows(b, 0, m0, h0) ? : read_rows(b, 0, h1, until);
    else
        rc = read_rows(b, 0, m0, until);
    return rc;
}

/* ---- outages ---- */

static const struct run *run_of(const struct build *b, int64_t id)
{
    for (size_t i = 0; i < b->nruns; i++)
        if (b->runs[i].id == id)
            return &b->runs[i];
    return NULL;
}

static int add_incident(struct build *b, struct rp_item *it, size_t *cap,
                        const struct rp_incident *in)
{
    if (in->end <= b->r.since || in->start >= b->r.until)
        return SQLITE_OK;
    if (it->ninc == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        struct rp_incident *n = realloc(it->inc, nc * sizeof(*n));
        if (!n)
            return SQLITE_NOMEM;
        it->inc = n;
        *cap = nc;
    }
    it->inc[it->ninc++] = *in;
    it->incidents++;
    if (in->end - in->start > it->longest)
        it->longest = in->end - in->start;
    if (in->recovered) {
        it->recovered++;
        it->recovered_sum += in->end - in->start;
    }
    return SQLITE_OK;
}

/* The end of an outage no change closed: its run's (stopped, or killed:
 * its last heartbeat), or until if that run is the prober running now
 * (the newest, not stopped, seen in the last minute). */
static void end_by_run(const struct build *b, int64_t run_id, struct rp_incident *in)
{
    const struct run *ru = run_of(b, run_id);

    if (ru && ru == &b->runs[b->nruns - 1] && !ru->stopped && b->r.now - ru->end < 60) {
        in->end = b->r.until;
        in->ongoing = true;
        return;
    }
    in->by_run = true;
    /* a run past retention: nothing says when it ended */
    in->end = !ru ? in->start : ru->end < in->start ? in->start : ru->end;
    if (in->end > b->r.until) { /* still down at until */
        in->end = b->r.until;
        in->ongoing = true;
        in->by_run = false;
    }
}

static int read_outages(struct build *b)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(
        b->db,
        "SELECT time, to_state, reason, detail, run_id FROM state_changes"
        " WHERE target_id = ?1 AND time >= coalesce((SELECT max(time) FROM state_changes"
        " WHERE target_id = ?1 AND time < ?2), ?2) ORDER BY time, id",
        -1, &s, NULL);

    if (rc != SQLITE_OK)
        return rc;
    for (size_t i = 0; i < b->r.nitems && rc == SQLITE_OK; i++) {
        struct rp_item *it = &b->r.items[i];
        struct rp_incident cur = {0};
        int64_t cur_run = 0;
        bool open = false;
        size_t cap = 0;

        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, it->id);
        /* from the change before since (the state it was in then), and
         * past until: an outage that began before it may end later */
        sqlite3_bind_double(s, 2, b->r.since);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            double t = sqlite3_column_double(s, 0);
            const char *to = (const char *)sqlite3_column_text(s, 1);
            int64_t run = sqlite3_column_int64(s, 4);
            if (open) {
                if (run != cur_run) /* the run it began in ended first */
                    end_by_run(b, cur_run, &cur);
                else {
                    cur.end = t;
                    cur.recovered = to && !strcmp(to, "up");
                }
                if ((rc = add_incident(b, it, &cap, &cur)) != SQLITE_OK)
                    break;
                open = false;
            }
            if (t >= b->r.until)
                break;
            if (to && !strcmp(to, "down")) {
                cur = (struct rp_incident){.start = t};
                if (!(cur.reason = keep(b, sqlite3_column_text(s, 2))) ||
                    !(cur.detail = keep(b, sqlite3_column_text(s, 3)))) {
                    rc = SQLITE_NOMEM;
                    break;
                }
                cur_run = run;
                open = true;
            }
        }
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
        if (rc == SQLITE_OK && open) {
            end_by_run(b, cur_run, &cur);
            rc = add_incident(b, it, &cap, &cur);
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- totals ---- */

static void clip_span(struct rp_acc *a, double from, double until, double ps, double pe)
{
    double lo = ps > from ? ps : from, hi = pe < until ? pe : until;

    a->span = hi > lo ? hi - lo : 0;
}

static void add_acc(struct rp_acc *into, const struct rp_acc *a)
{
    into->up += a->up;
    into->down += a->down;
    into->local += a->local;
    into->span += a->span;
}

static void sum_into(struct rp_item *s, const struct rp_item *it, const struct rp *r)
{
    add_acc(&s->all, &it->all);
    for (int u = 0; u < RP_NUNITS; u++)
        for (size_t p = 0; p < r->nper[u]; p++)
            add_acc(&s->per[u][p], &it->per[u][p]);
    if (it->ok && (!s->ok || it->lat_min_us < s->lat_min_us))
        s->lat_min_us = it->lat_min_us;
    if (it->ok && it->lat_max_us > s->lat_max_us)
        s->lat_max_us = it->lat_max_us;
    s->ok += it->ok;
    s->fail += it->fail;
    s->local += it->local;
    s->lat_sum_us += it->lat_sum_us;
    for (unsigned i = 0; i < TP_LH_N; i++)
        s->hist[i] = it->hist[i] > UINT32_MAX - s->hist[i] ? UINT32_MAX : s->hist[i] + it->hist[i];
    s->incidents += it->incidents;
    s->recovered += it->recovered;
    s->recovered_sum += it->recovered_sum;
    if (it->longest > s->longest)
        s->longest = it->longest;
    if (it->last_data > s->last_data)
        s->last_data = it->last_data;
    s->ntargets++;
}

/* Targets with neither a row nor an outage in the range (removed from
 * the config before it, or never probed in it) are left out. */
static void drop_empty(struct build *b)
{
    struct rp *r = &b->r;
    size_t n = 0;

    for (size_t i = 0; i < r->nitems; i++) {
        struct rp_item *it = &r->items[i];
        if (it->last_data > 0 || it->ninc > 0) {
            r->items[n++] = *it;
            continue;
        }
        for (int u = 0; u < RP_NUNITS; u++)
            free(it->per[u]);
        free(it->inc);
    }
    r->nitems = n;
}

static int totals(struct build *b)
{
    struct rp *r = &b->r;
    size_t cap = 0;

    drop_empty(b);
    for (size_t i = 0; i < r->nitems; i++) {
        struct rp_item *it = &r->items[i];
        double fs = it->first_seen > 0 ? it->first_seen : 0;
        it->from = fs > r->since ? fs : r->since;
        clip_span(&it->all, it->from, r->until, r->since, r->until);
        for (int u = 0; u < RP_NUNITS; u++)
            for (size_t p = 0; p < r->nper[u]; p++)
                clip_span(&it->per[u][p], it->from, r->until, (double)r->per[u][p].start,
                          (double)r->per[u][p].end);
        if (!r->nprobes || strcmp(r->probes[r->nprobes - 1].sum.probe, it->probe)) {
            struct rp_probe *pr;
            if (r->nprobes == cap) {
                size_t nc = cap ? cap * 2 : 16;
                struct rp_probe *n = realloc(r->probes, nc * sizeof(*n));
                if (!n)
                    return SQLITE_NOMEM;
                r->probes = n;
                cap = nc;
            }
            pr = &r->probes[r->nprobes++];
            memset(pr, 0, sizeof(*pr));
            pr->first = i;
            pr->sum.probe = it->probe;
            pr->sum.kind = it->kind;
            for (int u = 0; u < RP_NUNITS; u++)
                if (!(pr->sum.per[u] = calloc(r->nper[u] ? r->nper[u] : 1,
                                              sizeof(struct rp_acc))))
                    return SQLITE_NOMEM;
        }
        r->probes[r->nprobes - 1].n++;
        sum_into(&r->probes[r->nprobes - 1].sum, it, r);
    }
    return SQLITE_OK;
}

static void build_free(struct build *b)
{
    for (size_t i = 0; i < b->r.nitems; i++) {
        for (int u = 0; u < RP_NUNITS; u++)
            free(b->r.items[i].per[u]);
        free(b->r.items[i].inc);
    }
    for (size_t i = 0; i < b->r.nprobes; i++)
        for (int u = 0; u < RP_NUNITS; u++)
            free(b->r.probes[i].sum.per[u]);
    for (int u = 0; u < RP_NUNITS; u++)
        free(b->r.per[u]);
    for (size_t i = 0; i < b->nstrs; i++)
        free(b->strs[i]);
    free(b->strs);
    free(b->r.items);
    free(b->r.probes);
    free(b->idx);
    free(b->runs);
    if (b->db) {
        sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(b->db);
    }
}

int tp_report_write(const struct tp_report_opts *o, FILE *out, char *err, size_t errlen)
{
    struct build b = {.path = o->path};
    struct timespec ts;
    int rc, neg;

    b.r.o = o;
    b.r.zone = o->timezone && *o->timezone && strcmp(o->timezone, "UTC") ? o->timezone : NULL;
    if (b.r.zone && !tp_tz_known(b.r.zone)) {
        snprintf(err, errlen, "unknown timezone \"%s\"", b.r.zone);
        return -EINVAL;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    b.r.now = o->now > 0 ? o->now : (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    b.r.until = o->until > 0 ? o->until : b.r.now;
    b.r.since_asked = o->since;
    if (!(b.r.since_asked < b.r.until)) {
        snprintf(err, errlen, "the report's range is empty (since is not before until)");
        return -EINVAL;
    }
    if ((neg = ts_open_ro(o->path, &b.db, err, errlen)) < 0)
        return neg;
    /* One read transaction: a snapshot, whatever the prober writes meanwhile. */
    rc = sqlite3_exec(b.db, "BEGIN", NULL, NULL, NULL);
    if (rc == SQLITE_OK && (rc = load_targets(&b)) == SQLITE_OK &&
        (rc = load_runs(&b)) == SQLITE_OK && (rc = read_all(&b)) == SQLITE_OK &&
        (rc = read_outages(&b)) == SQLITE_OK)
        rc = totals(&b);
    if (rc != SQLITE_OK) {
        neg = ts_explain(b.db, o->path, "reading", rc, 5000, err, errlen);
        build_free(&b);
        return neg;
    }
    if (o->format == TP_REPORT_JSON)
        rp_write_json(&b.r, out);
    else if (o->format == TP_REPORT_HTML)
        rp_write_html(&b.r, out);
    else
        rp_write_text(&b.r, out);
    build_free(&b);
    if (ferror(out)) {
        snprintf(err, errlen, "writing the report: %s", strerror(errno));
        return -EIO;
    }
    return 0;
}
