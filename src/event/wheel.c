#include "event/wheel.h"

#include "core/list.h"
#include "twkit/time.h"

#define SLOT_FIRING 0xfffe

static inline uint64_t rotr64(uint64_t v, unsigned r)
{
    r &= 63;
    return r ? (v >> r) | (v << (64 - r)) : v;
}

void tw__wheel_init(struct tw__wheel *w, uint64_t now)
{
    w->now = now;
    w->count = 0;
    for (unsigned l = 0; l < TW__WHEEL_LEVELS; l++) {
        w->occupied[l] = 0;
        for (unsigned s = 0; s < TW__WHEEL_SLOTS; s++)
            tw__list_init(&w->slots[l][s]);
    }
}

/* Place t by its expiry relative to w->now. */
static void place(struct tw__wheel *w, tw_timer *t)
{
    uint64_t delta = t->expire - w->now;
    unsigned level = 0, slot;

    if (delta)
        level = (63u - (unsigned)__builtin_clzll(delta)) / TW__WHEEL_BITS;
    slot = (unsigned)(t->expire >> (level * TW__WHEEL_BITS)) & (TW__WHEEL_SLOTS - 1);
    tw__list_add_tail(&w->slots[level][slot], &t->link);
    w->occupied[level] |= UINT64_C(1) << slot;
    t->slot = (uint16_t)(level * TW__WHEEL_SLOTS + slot);
}

void tw__wheel_add(struct tw__wheel *w, tw_timer *t, uint64_t expire)
{
    if (tw_ms_diff(expire, w->now) < 0)
        expire = w->now;
    else if (expire - w->now > TW__WHEEL_MAX_DELAY)
        expire = w->now + TW__WHEEL_MAX_DELAY;
    t->expire = expire;
    t->wheel = w;
    t->active = true;
    w->count++;
    place(w, t);
}

void tw__wheel_del(struct tw__wheel *w, tw_timer *t)
{
    if (!t->active)
        return;
    tw__list_del(&t->link);
    if (t->slot != SLOT_FIRING) {
        unsigned level = t->slot / TW__WHEEL_SLOTS, slot = t->slot % TW__WHEEL_SLOTS;
        if (tw__list_empty(&w->slots[level][slot]))
            w->occupied[level] &= ~(UINT64_C(1) << slot);
    }
    t->active = false;
    t->wheel = NULL;
    w->count--;
}

uint64_t tw__wheel_next(const struct tw__wheel *w)
{
    uint64_t n = w->now, best = n + TW__WHEEL_MAX_DELAY + 1;

    /* Level 0 holds timers due in [now, now + 63]: its slot is exact. */
    if (w->occupied[0])
        best = n + (uint64_t)__builtin_ctzll(rotr64(w->occupied[0], (unsigned)n));
    /* Level L is cascaded at multiples of 64^L; the first such tick not
     * yet processed is `first` blocks of 64^L, and occupied slot s is
     * reached (s - first) mod 64 blocks later. */
    for (unsigned l = 1; l < TW__WHEEL_LEVELS; l++) {
        unsigned shift = l * TW__WHEEL_BITS;
        uint64_t first, t;

        if (!w->occupied[l])
            continue;
        first = (n >> shift) + ((n & ((UINT64_C(1) << shift) - 1)) != 0);
        t = (first + (uint64_t)__builtin_ctzll(rotr64(w->occupied[l], (unsigned)first)))
            << shift;
        if (tw_ms_diff(t, best) < 0)
            best = t;
    }
    return best;
}

static void cascade(struct tw__wheel *w, unsigned level, unsigned slot)
{
    struct tw_list *head = &w->slots[level][slot];

    w->occupied[level] &= ~(UINT64_C(1) << slot);
    while (!tw__list_empty(head)) {
        tw_timer *t = tw__container_of(head->next, tw_timer, link);
        tw__list_del(&t->link);
        place(w, t);
    }
}

unsigned tw__wheel_advance(struct tw__wheel *w, uint64_t until)
{
    unsigned fired = 0;

    for (;;) {
        uint64_t tick;
        struct tw_list due;

        if (w->count == 0 || tw_ms_diff(tick = tw__wheel_next(w), until) > 0) {
            if (tw_ms_diff(until, w->now) >= 0)
                w->now = until + 1;
            return fired;
        }
        w->now = tick;
        /* Cascade every level whose lower clock bits rolled over to zero. */
        for (unsigned l = 1; l < TW__WHEEL_LEVELS; l++) {
            unsigned shift = l * TW__WHEEL_BITS;
            if (tick & ((UINT64_C(1) << shift) - 1))
                break;
            cascade(w, l, (unsigned)(tick >> shift) & (TW__WHEEL_SLOTS - 1));
        }
        /* Detach the due slot first: timers started by the callbacks land
         * on later ticks, never in the list being fired. */
        unsigned s = (unsigned)tick & (TW__WHEEL_SLOTS - 1);
        tw__list_move_all(&due, &w->slots[0][s]);
        w->occupied[0] &= ~(UINT64_C(1) << s);
        w->now = tick + 1;
        for (struct tw_list *p = due.next; p != &due; p = p->next)
            tw__container_of(p, tw_timer, link)->slot = SLOT_FIRING;
        while (!tw__list_empty(&due)) {
            tw_timer *t = tw__container_of(due.next, tw_timer, link);
            tw__wheel_del(w, t);
            fired++;
            t->cb(t);
        }
    }
}
