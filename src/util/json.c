/* JSON output helpers (util/json.h). */
#include <time.h>

#include "util/json.h"
#include "util/utf8.h"

/* The seconds' part is the same for every line of one second: kept per
 * thread, so gmtime_r (whose glibc takes a process-wide lock, contended
 * between the prober's threads) runs once a second, not once a line. */
char *tu_rfc3339(char *buf, size_t len, int64_t ns)
{
    static __thread time_t last = -1;
    static __thread char secs[32];
    time_t s = (time_t)(ns / 1000000000);

    if (s != last) {
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm);
        last = s;
    }
    snprintf(buf, len, "%s.%03dZ", secs, (int)(ns % 1000000000 / 1000000));
    return buf;
}

int64_t tu_wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void tu_json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    fputc('"', f);
    while (*p) {
        size_t n;
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p++);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p++);
        else if (!(n = tu_utf8_len(p))) {
            fputs("\\ufffd", f); /* not UTF-8: U+FFFD, one per bad byte */
            p++;
        } else {
            fwrite(p, 1, n, f);
            p += n;
        }
    }
    fputc('"', f);
}

void tu_json_num_or_null(FILE *f, double v, int decimals, bool known)
{
    if (known)
        fprintf(f, "%.*f", decimals, v);
    else
        fputs("null", f);
}
