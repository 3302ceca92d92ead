/* twkit probe: the config's `history:` section (docs/PROBE.md, "History"),
 * and the periods it is written in.
 *
 *   history:
 *     path: /var/lib/twkit/probe.db   # relative: to the config's directory
 *     retention: 90d                  # day rows and state changes
 *     minutes: 3d                     # minute rows (default 3d)
 *     hours: 30d                      # hour rows (default 30d)
 *     timezone: Europe/Paris          # days of roll-ups and reports (UTC)
 *     sync: 10s                       # open minutes written this often too
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probe/config.h"
#include "probe/store.h"
#include "probe/tz.h"

#define DAY 86400ull
#define PERIOD_MAX (100 * 366 * DAY)

int tp_parse_period(const char *s, uint64_t *secs)
{
    /* Longer units first where one is a prefix of another ("ms", "m"). */
    static const struct { const char *unit; double s; } units[] = {
        {"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3}, {"s", 1},
        {"m", 60},    {"h", 3600},  {"d", 86400},      {"w", 7 * 86400.0},
    };
    const char *p = s;
    double total = 0;

    if (!s || !secs || !*s)
        return -EINVAL;
    while (*p) {
        char *end;
        double v;
        size_t i, n = sizeof(units) / sizeof(units[0]);

        if (!((*p >= '0' && *p <= '9') || *p == '.')) /* no sign, space, inf */
            return -EINVAL;
        errno = 0;
        v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || v < 0)
            return -EINVAL;
        for (i = 0; i < n; i++)
            if (strncmp(end, units[i].unit, strlen(units[i].unit)) == 0)
                break;
        if (i == n) /* a bare number too: 90 what? */
            return -EINVAL;
        total += v * units[i].s;
        if (total > (double)PERIOD_MAX)
            return -ERANGE;
        p = end + strlen(units[i].unit);
    }
    *secs = (uint64_t)ceil(total);
    return 0;
}

static const char *const history_keys[] = {"path",  "retention", "minutes",
                                           "hours", "timezone",  "sync"};
enum { HK_PATH, HK_RETENTION, HK_MINUTES, HK_HOURS, HK_TIMEZONE, HK_SYNC, HK_N };

struct hload {
    struct tp_history *h;
    struct tp_pos at[HK_N]; /* where each was written; line 0: not */
};

static bool period(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                   uint64_t min, uint64_t *out)
{
    const char *s = tp_val_str(c, key, v, "a period like 90d or 36h");
    struct tp_quoted q;
    int rc;

    if (!s)
        return false;
    if ((rc = tp_parse_period(s, out)) == -ERANGE) {
        tp_cfg_err(c, &v->at, "bad history %s %s: more than 100 years", key, tp_qs(&q, s));
        return false;
    }
    if (rc < 0) {
        tp_cfg_err(c, &v->at, "bad history %s %s: expected a period like 90d, 36h or 1w2d", key,
                   tp_qs(&q, s));
        return false;
    }
    if (*out < min) {
        tp_cfg_err(c, &v->at, "bad history %s %s: must be at least %s", key, tp_qs(&q, s),
                   min == DAY ? "1d" : min == 3600 ? "1h" : "1s");
        return false;
    }
    return true;
}

/* secs as the largest units that say it exactly: "90d", "36h", "1d12h". */
static char *fmt(char b[32], uint64_t secs)
{
    static const struct { char u; uint64_t s; } units[] = {
        {'d', DAY}, {'h', 3600}, {'m', 60}, {'s', 1}};
    size_t n = 0;

    b[0] = 0;
    for (size_t i = 0; i < 4 && n < 24; i++)
        if (secs >= units[i].s) {
            n += (size_t)snprintf(b + n, 32 - n, "%llu%c", (unsigned long long)(secs / units[i].s),
                                  units[i].u);
            secs %= units[i].s;
        }
    if (!b[0])
        snprintf(b, 32, "0s");
    return b;
}

static bool each(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                 const struct tp_val *val, void *arg)
{
    struct hload *l = arg;
    struct tp_history *h = l->h;
    struct tp_quoted q;
    const char *s;

    l->at[k] = val->at;
    switch (k) {
    case HK_PATH:
        if (!(s = tp_val_str(c, "history path", val, "a file name")))
            return false;
        if (!*s) {
            tp_cfg_err(c, &val->at, "history path is empty");
            return false;
        }
        return (h->path = tp_cfg_path(c, s)) != NULL;
    case HK_RETENTION: return period(c, "retention", val, DAY, &h->retention_s);
    case HK_MINUTES: return period(c, "minutes", val, 3600, &h->minutes_s);
    case HK_HOURS: return period(c, "hours", val, DAY, &h->hours_s);
    case HK_SYNC:
        if (!period(c, "sync", val, 1, &h->sync_s))
            return false;
        if (h->sync_s >= 60) {
            tp_cfg_err(c, &val->at, "bad history sync %s: must be less than a minute (a "
                       "minute is written when it is over anyway)", tp_qs(&q, val->s));
            return false;
        }
        return true;
    default:
        if (!(s = tp_val_str(c, "history timezone", val, "a zone name like Europe/Paris")))
            return false;
        if (!tp_tz_known(s)) {
            tp_cfg_err(c, &val->at,
                       "unknown history timezone %s (a name under /usr/share/zoneinfo, like "
                       "Europe/Paris, or UTC)",
                       tp_qs(&q, s));
            return false;
        }
        return (h->timezone = tp_cfg_dup(c, s)) != NULL;
    }
}

void tp_history_load(struct tp_cfgctx *c, const struct tp_val *v, struct tp_history *h)
{
    struct hload l = {.h = h};
    char a[32], b[32];
    bool ok;

    memset(h, 0, sizeof(*h));
    ok = tp_cfg_inner_map(c, "history", v, history_keys, HK_N, each, &l);
    if (ok && !h->path)
        tp_cfg_err(c, &v->at, "history has no path (where the database is kept)");
    /* Unwritten periods are the defaults, shortened to fit retention. */
    if (!h->retention_s)
        h->retention_s = 90 * DAY;
    if (!h->hours_s)
        h->hours_s = h->retention_s < 30 * DAY ? h->retention_s : 30 * DAY;
    if (!h->minutes_s)
        h->minutes_s = h->hours_s < 3 * DAY ? h->hours_s : 3 * DAY;
    if (l.at[HK_HOURS].line && h->hours_s > h->retention_s)
        tp_cfg_err(c, &l.at[HK_HOURS], "history hours %s is longer than retention %s",
                   fmt(a, h->hours_s), fmt(b, h->retention_s));
    else if (l.at[HK_MINUTES].line && h->minutes_s > h->hours_s)
        tp_cfg_err(c, &l.at[HK_MINUTES], "history minutes %s is longer than hours %s",
                   fmt(a, h->minutes_s), fmt(b, h->hours_s));
}

void tp_history_free(struct tp_history *h)
{
    free(h->path);
    free(h->timezone);
    memset(h, 0, sizeof(*h));
}
