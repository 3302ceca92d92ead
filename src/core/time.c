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
    static const struct { const char *unit; double ms; } units[] = {
        {"", 1000.0}, {"s", 1000.0}, {"ms", 1.0}, {"us", 0.001},
        {"m", 60000.0}, {"h", 3600000.0},
    };
    char *end;
    double v;

    if (!s || !ms || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v < 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            double r = ceil(v * units[i].ms);
            if (r > 4294967295.0)
                return -ERANGE;
            *ms = (uint64_t)r;
            return 0;
        }
    }
    return -EINVAL;
}
