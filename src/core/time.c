#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twkit/time.h"

uint64_t tw_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t tw_now_ms(void)
{
    return tw_now_ns() / 1000000u;
}

int tw_parse_duration(const char *s, uint64_t *ms)
{
    /* Longer units first where one is a prefix of another ("ms", "m"). */
    static const struct { const char *unit; double ms; } units[] = {
        {"ns", 0.000001}, {"us", 0.001}, {"\xc2\xb5s", 0.001}, {"ms", 1.0},
        {"s", 1000.0},    {"m", 60000.0}, {"h", 3600000.0},
    };
    const char *p = s;
    double total = 0;

    if (!s || !ms || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    while (*p) {
        char *end;
        double v;
        size_t i, n = sizeof(units) / sizeof(units[0]);

        if (*p < '0' || *p > '9') /* no sign, space, "inf" or "nan" inside */
            if (*p != '.')
                return -EINVAL;
        errno = 0;
        v = strtod(p, &end);
        if (end == p || errno || !isfinite(v) || v < 0)
            return -EINVAL;
        if (!*end && p == s) { /* a bare number alone: seconds */
            total = v * 1000.0;
            break;
        }
        for (i = 0; i < n; i++)
            if (strncmp(end, units[i].unit, strlen(units[i].unit)) == 0)
                break;
        if (i == n)
            return -EINVAL;
        total += v * units[i].ms;
        p = end + strlen(units[i].unit);
    }
    total = ceil(total);
    if (total > 4294967295.0)
        return -ERANGE;
    *ms = (uint64_t)total;
    return 0;
}
