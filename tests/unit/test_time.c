#include <criterion/criterion.h>
#include <errno.h>

#include "twkit/time.h"

Test(time, durations)
{
    static const struct { const char *s; uint64_t ms; } ok[] = {
        {"2", 2000}, {"2s", 2000}, {"500ms", 500}, {"1m", 60000}, {"1h", 3600000},
        {"1.5", 1500}, {"0", 0}, {"0ms", 0}, {"250us", 1}, {"1us", 1}, {"0.25s", 250},
        {"1m30s", 90000}, {"1h2m3s", 3723000}, {"1.5h", 5400000}, {"1s500ms", 1500},
        {"2000000ns", 2}, {"300\xc2\xb5s", 1},
    };
    static const char *const bad[] = {"", "-1", "+1", "1x", "s", "1 s", "ms", "1e400",
                                      "nan", "inf", "5msx", " 5", "1m30", "1s-2s", "1s 2s", "1e3s5"};
    uint64_t ms;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert_eq(tw_parse_duration(ok[i].s, &ms), 0, "%s", ok[i].s);
        cr_assert_eq(ms, ok[i].ms, "%s -> %llu", ok[i].s, (unsigned long long)ms);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_lt(tw_parse_duration(bad[i], &ms), 0, "'%s' accepted", bad[i]);
    cr_assert_eq(tw_parse_duration("100000h", &ms), -ERANGE);
    cr_assert_eq(tw_parse_duration(NULL, &ms), -EINVAL);
}

Test(time, monotonic_and_wrap_safe_diff)
{
    uint64_t a = tw_now_ms(), b = tw_now_ms();
    cr_assert_geq(b, a);
    cr_assert_lt(tw_ms_diff(UINT64_MAX, 5), 0);   /* max is just before 5, wrapped */
    cr_assert_gt(tw_ms_diff(5, UINT64_MAX), 0);
    cr_assert_eq(tw_ms_diff(7, 7), 0);
}
