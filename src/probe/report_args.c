/* The report's range and options as people write them: --since and
 * --until values, and the query of GET /report (store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/store.h"
#include "probe/tz.h"

#define DEFAULT_SINCE_S (30 * 86400.0)

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "YYYY-MM-DD[(T| )HH:MM[:SS][Z|+HH:MM|-HH:MM]]" */
static int parse_date(const char *s, const char *tz, double *out, const char **why)
{
    struct tm tm = {0};
    size_t n = strlen(s), at = 10;
    long off = 0;
    bool has_off = false;
    int64_t t;

    if (n < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2)) {
        *why = "expected a date like 2026-12-01";
        return -EINVAL;
    }
    tm.tm_year = atoi(s) - 1900;
    tm.tm_mon = atoi(s + 5) - 1;
    tm.tm_mday = atoi(s + 8);
    if (n > 10) {
        if ((s[10] != 'T' && s[10] != ' ') || n < 16 || !digits(s + 11, 2) || s[13] != ':' ||
            !digits(s + 14, 2)) {
            *why = "expected a time like 2026-12-01T10:00 after the date";
            return -EINVAL;
        }
        tm.tm_hour = atoi(s + 11);
        tm.tm_min = atoi(s + 14);
        at = 16;
        if (s[at] == ':') {
            if (!digits(s + at + 1, 2)) {
                *why = "expected seconds after the minutes' colon";
                return -EINVAL;
            }
            tm.tm_sec = atoi(s + at + 1);
            at += 3;
        }
        if (s[at] == 'Z' && !s[at + 1]) {
            has_off = true;
            at++;
        } else if ((s[at] == '+' || s[at] == '-') && n - at == 6 && digits(s + at + 1, 2) &&
                   s[at + 3] == ':' && digits(s + at + 4, 2)) {
            has_off = true;
            off = (atol(s + at + 1) * 3600 + atol(s + at + 4) * 60) * (s[at] == '-' ? -1 : 1);
            at += 6;
        }
    }
    if (s[at] || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60) {
        *why = "not a date and time (2026-12-01, 2026-12-01T10:00, 2026-12-01T10:00:00Z, "
               "2026-12-01T10:00+01:00)";
        return -EINVAL;
    }
    if (has_off)
        t = (int64_t)timegm(&tm) - off;
    else {
        tm.tm_isdst = -1;
        t = tp_tz_mktime(tz, &tm);
    }
    *out = (double)t;
    return 0;
}

int tp_report_parse_time(const char *s, double now, const char *tz, double *out,
                         const char **why)
{
    uint64_t secs;
    char *end;
    double v;

    if (!s || !*s) {
        *why = "empty";
        return -EINVAL;
    }
    if (s[0] == '@') {
        v = strtod(s + 1, &end);
        if (end == s + 1 || *end || !(v >= 0)) {
            *why = "expected unix seconds after @";
            return -EINVAL;
        }
        *out = v;
        return 0;
    }
    if (strlen(s) >= 5 && digits(s, 4) && s[4] == '-')
        return parse_date(s, tz, out, why);
    if (tp_parse_period(s, &secs) < 0) {
        *why = "expected a period back from now (30d, 36h, 1w), a date (2026-12-01), a time "
               "(2026-12-01T10:00[:00][Z|+01:00]) or @UNIX";
        return -EINVAL;
    }
    *out = now - (double)secs;
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* n bytes of s, percent- and plus-decoded, into out (len bytes with the
 * NUL); false when it does not fit or holds a NUL. */
static bool decode(const char *s, size_t n, char *out, size_t len)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+')
            c = ' ';
        else if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (!c || o + 1 >= len)
            return false;
        out[o++] = c;
    }
    out[o] = 0;
    return true;
}

int tp_report_query(const char *query, size_t len, double now, struct tp_report_opts *o,
                    char *err, size_t errlen)
{
    const char *p = query, *end = query + len, *why;
    char key[16], val[256];

    o->since = now - DEFAULT_SINCE_S;
    o->until = 0;
    o->probe = NULL;
    o->format = TP_REPORT_JSON;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop == p) {
            p = stop + 1;
            continue;
        }
        if (!eq || !decode(p, (size_t)(eq - p), key, sizeof(key)) ||
            !decode(eq + 1, (size_t)(stop - eq - 1), val, sizeof(val))) {
            snprintf(err, errlen, "bad query parameter \"%.*s\"", (int)(stop - p > 60 ? 60 : stop - p),
                     p);
            return -EINVAL;
        }
        if (!strcmp(key, "since") || !strcmp(key, "until")) {
            double *t = key[0] == 's' ? &o->since : &o->until;
            if (tp_report_parse_time(val, now, o->timezone, t, &why) < 0) {
                snprintf(err, errlen, "bad %s \"%s\": %s", key, val, why);
                return -EINVAL;
            }
        } else if (!strcmp(key, "probe")) {
            memcpy(o->buf, val, sizeof(o->buf));
            o->probe = o->buf;
        } else if (!strcmp(key, "format")) {
            if (!strcmp(val, "json"))
                o->format = TP_REPORT_JSON;
            else if (!strcmp(val, "html"))
                o->format = TP_REPORT_HTML;
            else if (!strcmp(val, "text"))
                o->format = TP_REPORT_TEXT;
            else {
                snprintf(err, errlen, "bad format \"%s\" (json, html or text)", val);
                return -EINVAL;
            }
        } else {
            snprintf(err, errlen, "unknown parameter \"%s\" (since, until, probe, format)", key);
            return -EINVAL;
        }
        p = stop + 1;
    }
    return 0;
}
