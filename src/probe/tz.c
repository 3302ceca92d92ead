/* Calendar arithmetic in a time zone (tz.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "probe/tz.h"

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char tz_cur[256]; /* the zone TZ holds; "": not set by us */

static bool is_utc(const char *zone)
{
    return !zone || !*zone || !strcmp(zone, "UTC");
}

bool tp_tz_known(const char *zone)
{
    const char *dir = getenv("TZDIR");
    char path[512], magic[4];
    struct stat st;
    FILE *f;
    bool ok;

    if (is_utc(zone))
        return true;
    /* A name, not a path out of the zone directory, nor a POSIX rule
     * (glibc would take "XYZ3" and quietly mean something else). */
    if (zone[0] == '/' || zone[0] == ':' || strstr(zone, "..") || strlen(zone) > 200)
        return false;
    for (const char *p = zone; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_' || *p == '-' || *p == '+'))
            return false;
    snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", zone);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(path, "re")))
        return false;
    ok = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "TZif", 4);
    fclose(f);
    return ok;
}

/* With tz_lock held. */
static void use_locked(const char *zone)
{
    if (strcmp(tz_cur, zone) != 0) {
        snprintf(tz_cur, sizeof(tz_cur), "%s", zone);
        setenv("TZ", zone, 1);
        tzset();
    }
}

void tp_tz_use(const char *zone)
{
    if (is_utc(zone))
        return;
    pthread_mutex_lock(&tz_lock);
    use_locked(zone);
    pthread_mutex_unlock(&tz_lock);
}

void tp_tz_local(const char *zone, int64_t t, struct tm *tm)
{
    time_t tt = (time_t)t;

    if (is_utc(zone)) {
        gmtime_r(&tt, tm);
        return;
    }
    pthread_mutex_lock(&tz_lock);
    use_locked(zone);
    localtime_r(&tt, tm);
    pthread_mutex_unlock(&tz_lock);
}

int64_t tp_tz_mktime(const char *zone, struct tm *tm)
{
    time_t t;

    if (is_utc(zone))
        return (int64_t)timegm(tm);
    pthread_mutex_lock(&tz_lock);
    use_locked(zone);
    t = mktime(tm);
    pthread_mutex_unlock(&tz_lock);
    return (int64_t)t;
}

long tp_tz_offset(const char *zone, int64_t t)
{
    struct tm tm;

    if (is_utc(zone))
        return 0;
    tp_tz_local(zone, t, &tm);
    return tm.tm_gmtoff;
}

static int64_t floor_hour(int64_t t)
{
    int64_t r = t % 3600;

    return t - (r < 0 ? r + 3600 : r);
}

/* The local midnight tm's fields (hour and below cleared) name, floored
 * to the hour. */
static int64_t midnight(const char *zone, struct tm *tm)
{
    tm->tm_hour = tm->tm_min = tm->tm_sec = 0;
    tm->tm_isdst = -1; /* the zone knows whether DST is on then */
    return floor_hour(tp_tz_mktime(zone, tm));
}

int64_t tp_tz_next(const char *zone, enum tp_tz_unit u, int64_t start)
{
    struct tm tm;

    /* start is a midnight floored to the hour: the midnight itself is in
     * the hour after it, so that hour's last second has its date. */
    tp_tz_local(zone, start + 3599, &tm);
    if (u == TP_TZ_DAY)
        tm.tm_mday += 1;
    else if (u == TP_TZ_WEEK)
        tm.tm_mday += 7;
    else {
        tm.tm_mday = 1;
        tm.tm_mon += 1;
    }
    return midnight(zone, &tm);
}

int64_t tp_tz_floor(const char *zone, enum tp_tz_unit u, int64_t t)
{
    struct tm tm;
    int64_t s, n;

    tp_tz_local(zone, t, &tm);
    if (u == TP_TZ_WEEK)
        tm.tm_mday -= (tm.tm_wday + 6) % 7; /* back to Monday */
    else if (u == TP_TZ_MONTH)
        tm.tm_mday = 1;
    s = midnight(zone, &tm);
    /* Floored to the hour, the next period may start before t already
     * (t in the last part-hour of a local day of a +05:30 zone). */
    for (int i = 0; i < 2 && t >= (n = tp_tz_next(zone, u, s)); i++)
        s = n;
    return s;
}
