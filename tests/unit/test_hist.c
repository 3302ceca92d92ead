/* The log-linear histogram (util/hist.c, bench's latencies and probe's
 * late starts) against exact quantiles. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "util/hist.h"

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(hist, quantiles_are_within_the_bucket_error_of_the_exact_ones)
{
    static uint64_t v[100000];
    static struct tu_hist h;
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    unsigned seed = 42;

    for (size_t i = 0; i < 100000; i++) {
        /* log-uniform from 1 us to about 1 s */
        v[i] = (uint64_t)1 << (rand_r(&seed) % 20);
        v[i] += (uint64_t)rand_r(&seed) % v[i];
        tu_hist_add(&h, v[i]);
    }
    qsort(v, 100000, sizeof(v[0]), cmp);
    cr_assert_eq(h.n, 100000);
    cr_assert_eq(h.max, v[99999]);
    cr_assert_eq(tu_hist_quantile(&h, 1.0), v[99999]);
    for (size_t i = 0; i < 4; i++) {
        double exact = (double)v[(size_t)(qs[i] * 100000) - 1];
        double got = (double)tu_hist_quantile(&h, qs[i]);
        cr_assert(got >= exact && got <= exact * 1.07, "q%.3f: %.0f vs exact %.0f", qs[i], got,
                  exact);
    }
}

Test(hist, small_values_are_exact_and_an_empty_histogram_says_zero)
{
    struct tu_hist h = {0}, m = {0};

    cr_assert_eq(tu_hist_quantile(&h, 0.99), 0);
    for (uint64_t i = 0; i < 32; i++)
        tu_hist_add(&h, i);
    cr_assert_eq(tu_hist_quantile(&h, 0.5), 15);
    tu_hist_add(&m, 1ull << 40); /* beyond the last bucket: clamped, max kept */
    tu_hist_merge(&h, &m);
    cr_assert_eq(h.n, 33);
    cr_assert_eq(h.max, 1ull << 40);
    cr_assert_eq(tu_hist_quantile(&h, 1.0), 1ull << 40);
}
