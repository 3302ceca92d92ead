/* twkit probe: --shard I/N (shard.c, docs/PROBE.md "Sharding"). */
#ifndef TW_PROBE_SHARD_H
#define TW_PROBE_SHARD_H

#include <stdint.h>

#include "probe/probe.h"

struct tp_shard {
    unsigned index, count; /* 1 <= index <= count; count 0: no sharding */
};

/* "I/N" with 1 <= I <= N <= 65536. Returns 0 or -EINVAL. */
int tp_shard_parse(const char *s, struct tp_shard *out);
/* FNV-1a 64 of name, a NUL byte and target. */
uint64_t tp_shard_hash(const char *name, const char *target);
/* The shard (1..count) that target of probe name belongs to. */
unsigned tp_shard_of(const char *name, const char *target, unsigned count);
/* The lane (0..lanes-1, --threads) of target of probe name: from the low
 * 32 bits of the same hash, mixed (FNV-1a's lowest bits are little more
 * than the parity of the bytes), so that it is independent of the shard,
 * which the high bits pick: a shard still spreads over every thread. */
unsigned tp_lane_of(const char *name, const char *target, unsigned lanes);
/* Drop from cfg every target that is not in shard s (count 0: none). */
void tp_config_shard(struct tp_config *cfg, const struct tp_shard *s);

#endif
