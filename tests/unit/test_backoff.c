#include <criterion/criterion.h>

#include "twkit/pool.h"

Test(backoff, doubles_up_to_the_cap_with_jitter_in_the_upper_half)
{
    struct tw_backoff b = {.min_ms = 100, .max_ms = 1000, .rng = 42};
    const uint64_t d[] = {100, 200, 400, 800, 1000, 1000, 1000};

    for (unsigned i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
        uint64_t w = tw_backoff_next(&b);
        cr_assert(w >= d[i] / 2 && w <= d[i], "attempt %u: %lu not in [%lu, %lu]", i, w,
                  d[i] / 2, d[i]);
    }
    tw_backoff_reset(&b);
    cr_assert_leq(tw_backoff_next(&b), 100);
}

Test(backoff, jitter_spreads_clients_apart)
{
    struct tw_backoff b = {.min_ms = 100, .max_ms = 100};
    uint64_t lo = 100, hi = 0;

    for (int i = 0; i < 1000; i++) {
        uint64_t w = tw_backoff_next(&b);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    cr_assert_lt(lo, 60);
    cr_assert_gt(hi, 90);
}

Test(backoff, defaults_are_100ms_to_10s)
{
    struct tw_backoff b = {0};
    uint64_t w = 0;

    cr_assert_leq(tw_backoff_next(&b), 100);
    for (int i = 0; i < 20; i++)
        w = tw_backoff_next(&b);
    cr_assert(w >= 5000 && w <= 10000);
}
