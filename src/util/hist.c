/* The log-linear histogram (util/hist.h). */
#include "util/hist.h"

/* Values below 32 have a bucket each; above, a power of two [2^k, 2^k+1)
 * is cut into 16 equal buckets. */
static unsigned bucket_of(uint64_t v)
{
    if (v < 32)
        return (unsigned)v;
    unsigned msb = 63 - (unsigned)__builtin_clzll(v), shift = msb - 4;
    unsigned i = 32 + (shift - 1) * 16 + (unsigned)((v >> shift) - 16);
    return i < TU_HBUCKETS ? i : TU_HBUCKETS - 1;
}

static uint64_t bucket_top(unsigned i)
{
    if (i < 32)
        return i;
    unsigned shift = (i - 32) / 16 + 1, sub = (i - 32) % 16 + 16;
    return (((uint64_t)sub + 1) << shift) - 1;
}

void tu_hist_add(struct tu_hist *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

void tu_hist_merge(struct tu_hist *into, const struct tu_hist *h)
{
    for (unsigned i = 0; i < TU_HBUCKETS; i++)
        into->b[i] += h->b[i];
    into->n += h->n;
    if (h->max > into->max)
        into->max = h->max;
}

uint64_t tu_hist_quantile(const struct tu_hist *h, double q)
{
    uint64_t want, seen = 0;

    if (!h->n)
        return 0;
    want = (uint64_t)(q * (double)h->n + 0.5);
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < TU_HBUCKETS; i++)
        if ((seen += h->b[i]) >= want) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    return h->max;
}
