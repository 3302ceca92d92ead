/* Hierarchical timer wheel (internal to the loop, exposed for tests).
 *
 * Six levels of 64 slots: level L holds timers due between 64^L and 64^(L+1)
 * ms ahead, placed by the bits of their absolute expiry, and is cascaded one
 * level down each time the lower bits of the clock roll over. Start and stop
 * are O(1) (a list insert or unlink plus a bit in a per-level occupancy
 * mask); finding the next event is O(levels) with the masks. All arithmetic
 * is modulo 2^64 and every comparison is a signed difference, so the wheel
 * keeps working when the millisecond counter wraps. Delays longer than
 * 2^36 ms (about 795 days) are clamped.
 */
#ifndef TW_EVENT_WHEEL_H
#define TW_EVENT_WHEEL_H

#include <stdint.h>

#include "twkit/loop.h"

#define TW__WHEEL_BITS 6
#define TW__WHEEL_SLOTS (1u << TW__WHEEL_BITS)
#define TW__WHEEL_LEVELS 6
#define TW__WHEEL_MAX_DELAY ((UINT64_C(1) << (TW__WHEEL_BITS * TW__WHEEL_LEVELS)) - 1)

struct tw__wheel {
    uint64_t now;   /* the next tick to process */
    unsigned count; /* timers in the wheel */
    uint64_t occupied[TW__WHEEL_LEVELS];
    struct tw_list slots[TW__WHEEL_LEVELS][TW__WHEEL_SLOTS];
};

void tw__wheel_init(struct tw__wheel *w, uint64_t now);

/* Insert t to expire at the absolute tick `expire` (a tick already passed
 * means the next tick). t must not be in a wheel. */
void tw__wheel_add(struct tw__wheel *w, tw_timer *t, uint64_t expire);

/* Remove t if it is in the wheel. */
void tw__wheel_del(struct tw__wheel *w, tw_timer *t);

/* The earliest tick at which the wheel has work (a timer to fire or a
 * level to cascade); meaningful only when w->count > 0. */
uint64_t tw__wheel_next(const struct tw__wheel *w);

/* Fire, in expiry order, every timer due at or before `until`. Callbacks may
 * start and stop any timer, including the one firing. Returns the count. */
unsigned tw__wheel_advance(struct tw__wheel *w, uint64_t until);

#endif
