/* twkit probe --shard I/N: N instances of one config split its targets
 * with no coordination. A target belongs to shard 1 + (h >> 32) % N, where
 * h is the 64-bit FNV-1a hash of the probe's name, a NUL byte and the
 * target as written in the config (the same on every host and every run).
 * The high 32 bits are taken so that the split of the low bits among the
 * threads of one instance (tp_lane_of) stays independent of the shard's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probe/config.h"
#include "probe/probe.h"
#include "probe/shard.h"

uint64_t tp_shard_hash(const char *name, const char *target)
{
    uint64_t h = 14695981039346656037ull;

    for (const unsigned char *p = (const unsigned char *)name;; p++) {
        h = (h ^ *p) * 1099511628211ull;
        if (!*p)
            break;
    }
    for (const unsigned char *p = (const unsigned char *)target; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

unsigned tp_shard_of(const char *name, const char *target, unsigned count)
{
    return count ? 1 + (unsigned)((tp_shard_hash(name, target) >> 32) % count) : 1;
}

unsigned tp_lane_of(const char *name, const char *target, unsigned lanes)
{
    uint32_t x = (uint32_t)tp_shard_hash(name, target);

    if (lanes <= 1)
        return 0;
    /* a 32-bit finalizer (as MurmurHash3's): every input bit reaches
     * every output bit */
    x ^= x >> 16;
    x *= 0x85ebca6bu;
    x ^= x >> 13;
    x *= 0xc2b2ae35u;
    x ^= x >> 16;
    return x % lanes;
}

int tp_shard_parse(const char *s, struct tp_shard *out)
{
    char *end;
    unsigned long i, n;

    if (!*s || *s < '0' || *s > '9')
        return -EINVAL;
    i = strtoul(s, &end, 10);
    if (*end != '/' || end[1] < '0' || end[1] > '9')
        return -EINVAL;
    n = strtoul(end + 1, &end, 10);
    if (*end || n < 1 || n > 65536 || i < 1 || i > n)
        return -EINVAL;
    out->index = (unsigned)i;
    out->count = (unsigned)n;
    return 0;
}

void tp_config_shard(struct tp_config *cfg, const struct tp_shard *s)
{
    if (!s->count)
        return;
    cfg->ntargets = 0;
    for (size_t d = 0; d < cfg->ndefs; d++) {
        struct tp_def *def = &cfg->defs[d];
        size_t kept = 0;

        for (size_t i = 0; i < def->ntargets; i++) {
            if (tp_shard_of(def->name, def->targets[i], s->count) != s->index) {
                free(def->targets[i]);
                if (def->tlabels)
                    tp_free_kv(&def->tlabels[i].kv, &def->tlabels[i].n);
                continue;
            }
            def->targets[kept] = def->targets[i];
            if (def->tlabels)
                def->tlabels[kept] = def->tlabels[i];
            kept++;
        }
        def->ntargets = kept;
        cfg->ntargets += kept;
    }
}
