/* The bench's small pieces: the log-linear histogram, the class of an
 * error. (The strategies' names are in strategy.c.) */
#include <errno.h>

#include "bench/bench.h"

/* Values below 32 have a bucket each; above, a power of two [2^k, 2^k+1)
 * is cut into 16 equal buckets. */
static unsigned bucket_of(uint64_t v)
{
    if (v < 32)
        return (unsigned)v;
    unsigned msb = 63 - (unsigned)__builtin_clzll(v), shift = msb - 4;
    unsigned i = 32 + (shift - 1) * 16 + (unsigned)((v >> shift) - 16);
    return i < TB_HBUCKETS ? i : TB_HBUCKETS - 1;
}

static uint64_t bucket_top(unsigned i)
{
    if (i < 32)
        return i;
    unsigned shift = (i - 32) / 16 + 1, sub = (i - 32) % 16 + 16;
    return (((uint64_t)sub + 1) << shift) - 1;
}

void tb_hist_add(struct tb_hist *h, uint64_t us)
{
    h->b[bucket_of(us)]++;
    h->n++;
    if (us > h->max)
        h->max = us;
}

void tb_hist_merge(struct tb_hist *into, const struct tb_hist *h)
{
    for (unsigned i = 0; i < TB_HBUCKETS; i++)
        into->b[i] += h->b[i];
    into->n += h->n;
    if (h->max > into->max)
        into->max = h->max;
}

uint64_t tb_hist_quantile(const struct tb_hist *h, double q)
{
    uint64_t want, seen = 0;

    if (!h->n)
        return 0;
    want = (uint64_t)(q * (double)h->n + 0.5);
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < TB_HBUCKETS; i++)
        if ((seen += h->b[i]) >= want) {
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    return h->max;
}

/* This host's resources (ports, descriptors, memory) versus the server's
 * behaviour: a full port range is never the server's fault. */
enum tb_err_class tb_err_class(int err)
{
    switch (err) {
    case EADDRNOTAVAIL: case EADDRINUSE: case EMFILE: case ENFILE: case ENOBUFS:
    case ENOMEM: case EAGAIN: case EPERM: case EACCES:
        return TB_ERR_LOCAL;
    default:
        return TB_ERR_SERVER;
    }
}
