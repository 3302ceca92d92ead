/* twkit probe: the history read back for the status page's 90-day bars
 * (store.h: tp_store_reader; statuspage.h: struct tp_status_history).
 *
 * The page asks per target, for the rows it draws in full (300 at most),
 * on the loop's thread: every answer is point lookups on primary keys,
 * never a scan. A target's days come from its day rows (one lookup per
 * day of the zone); the days not rolled up yet (from the day mark on:
 * today, mostly) from its hour rows, and the hour not rolled up yet from
 * its minute rows - about 180 lookups a target, a few tens of
 * microseconds each. A reader has its own read-only connection: WAL
 * readers never wait for the writer, nor the writer for them.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "probe/statuspage.h"
#include "probe/store.h"
#include "probe/store_int.h"
#include "probe/tz.h"

#define MARKS_S 5          /* the roll-up marks are read again this often */
#define MAX_MINUTES 180    /* minute lookups a target at most (a late roll-up) */

struct tp_store_reader {
    sqlite3 *db;
    char *zone;
    sqlite3_stmt *s_id, *s_row[3];
    double marks_at;       /* when hour_mark and day_mark were read */
    int64_t hour_mark, day_mark;
};

static const char *const row_sql[3] = {
    "SELECT up_ms, down_ms, span FROM minute WHERE start = ?1 AND target_id = ?2",
    "SELECT up_ms, down_ms, span FROM hour WHERE start = ?1 AND target_id = ?2",
    "SELECT up_ms, down_ms, span FROM day WHERE start = ?1 AND target_id = ?2",
};

void tp_store_reader_close(struct tp_store_reader *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->s_id);
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(r->s_row[i]);
    sqlite3_close(r->db);
    free(r->zone);
    free(r);
}

int tp_store_reader_open(const char *path, const char *zone, struct tp_store_reader **out,
                         char *err, size_t errlen)
{
    struct tp_store_reader *r = calloc(1, sizeof(*r));
    int rc;

    if (!r || (zone && !(r->zone = strdup(zone)))) {
        free(r);
        return -ENOMEM;
    }
    if ((rc = ts_open_ro(path, &r->db, err, errlen)) < 0) {
        tp_store_reader_close(r);
        return rc;
    }
    sqlite3_busy_timeout(r->db, 50); /* the loop's thread: never long */
    rc = sqlite3_prepare_v3(r->db, "SELECT id FROM targets WHERE probe = ?1 AND target = ?2", -1,
                            SQLITE_PREPARE_PERSISTENT, &r->s_id, NULL);
    for (int i = 0; i < 3 && rc == SQLITE_OK; i++)
        rc = sqlite3_prepare_v3(r->db, row_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->s_row[i],
                                NULL);
    if (rc != SQLITE_OK) {
        rc = ts_explain(r->db, path, "reading", rc, 0, err, errlen);
        tp_store_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int mark(struct tp_store_reader *r, const char *key, int64_t *v)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(r->db, "SELECT value FROM meta WHERE key = ?1", -1, &s, NULL);

    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    *v = INT64_MIN;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *v = sqlite3_column_int64(s, 0);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The row of target id at start in table l (0 minute, 1 hour, 2 day):
 * 1 and its up and down ms and span, 0 when there is none, or -EIO. */
static int row(struct tp_store_reader *r, int l, int64_t start, int64_t id, double *up,
               double *down, int64_t *span)
{
    sqlite3_stmt *s = r->s_row[l];
    int rc;

    sqlite3_bind_int64(s, 1, start);
    sqlite3_bind_int64(s, 2, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *up = (double)sqlite3_column_int64(s, 0);
        *down = (double)sqlite3_column_int64(s, 1);
        *span = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -EIO;
}

/* Up and down time of target id per UTC day from day0, into up/down. */
static int days(struct tp_store_reader *r, int64_t id, time_t day0, int ndays, int64_t now,
                double *up, double *down)
{
    int64_t end = (int64_t)day0 + (int64_t)ndays * 86400, t, span;
    double u, d;
    int rc, minutes = 0;

#define ADD(start, len)                                                                     \
    do {                                                                                    \
        int64_t i_ = ((start) + (len) / 2 - (int64_t)day0) / 86400;                       \
        if ((start) + (len) / 2 >= (int64_t)day0 && i_ < ndays) {                          \
            up[i_] += u;                                                                    \
            down[i_] += d;                                                                  \
        }                                                                                   \
    } while (0)
    /* days rolled up (a zone's day is put in the UTC day holding its middle) */
    for (t = tp_tz_floor(r->zone, TP_TZ_DAY, (int64_t)day0 - 43200); t < end && t < r->day_mark;
         t = tp_tz_next(r->zone, TP_TZ_DAY, t))
        if ((rc = row(r, 2, t, id, &u, &d, &span)) < 0)
            return rc;
        else if (rc)
            ADD(t, span);
    /* then hours, then minutes */
    for (t = r->day_mark > (int64_t)day0 ? r->day_mark : (int64_t)day0;
         t < end && t < r->hour_mark && t <= now; t += 3600)
        if ((rc = row(r, 1, t, id, &u, &d, &span)) < 0)
            return rc;
        else if (rc)
            ADD(t, span);
    t = r->hour_mark > (int64_t)day0 ? r->hour_mark : (int64_t)day0;
    if (now - t > MAX_MINUTES * 60)
        t = now - MAX_MINUTES * 60;
    for (t -= t % 60; t < end && t <= now && minutes < MAX_MINUTES; t += 60, minutes++)
        if ((rc = row(r, 0, t, id, &u, &d, &span)) < 0)
            return rc;
        else if (rc)
            ADD(t, span);
#undef ADD
    return 0;
}

static int daily_uptime(void *arg, const char *probe, const char *target, time_t day0,
                        int ndays, float *out)
{
    struct tp_store_reader *r = arg;
    double up[TP_STATUS_DAYS] = {0}, down[TP_STATUS_DAYS] = {0};
    struct timespec ts;
    int64_t id;
    int rc;

    for (int i = 0; i < ndays; i++)
        out[i] = -1;
    if (ndays > TP_STATUS_DAYS)
        return -EINVAL;
    clock_gettime(CLOCK_REALTIME, &ts);
    if ((double)ts.tv_sec - r->marks_at >= MARKS_S) {
        if (mark(r, "hour_mark", &r->hour_mark) != SQLITE_OK ||
            mark(r, "day_mark", &r->day_mark) != SQLITE_OK)
            return -EIO;
        r->marks_at = (double)ts.tv_sec;
    }
    sqlite3_bind_text(r->s_id, 1, probe, -1, SQLITE_STATIC);
    sqlite3_bind_text(r->s_id, 2, target, -1, SQLITE_STATIC);
    rc = sqlite3_step(r->s_id);
    id = rc == SQLITE_ROW ? sqlite3_column_int64(r->s_id, 0) : 0;
    sqlite3_reset(r->s_id);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? 0 : -EIO; /* not in the history (yet): nothing known */
    if ((rc = days(r, id, day0, ndays, (int64_t)ts.tv_sec, up, down)) < 0)
        return rc;
    for (int i = 0; i < ndays; i++)
        if (up[i] + down[i] > 0)
            out[i] = (float)(up[i] / (up[i] + down[i]));
    return 0;
}

void tp_store_reader_history(struct tp_store_reader *r, struct tp_status_history *h)
{
    *h = (struct tp_status_history){.arg = r, .daily_uptime = daily_uptime};
}
