/* The timer wheel against a brute-force model, across the 64-bit wrap. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "event/wheel.h"
#include "twkit/time.h"

#define N 4000

static struct tw__wheel wheel;
static tw_timer timers[N];
static uint64_t want[N];     /* expected expiry */
static bool armed[N];
static int fired_count[N];
static uint64_t cur_until, prev_until, last_fire_expire;
static bool first_fire_in_advance;

static void on_fire(tw_timer *t)
{
    size_t i = (size_t)(t - timers);

    fired_count[i]++;
    cr_assert(armed[i], "timer %zu fired but was not armed", i);
    /* Never early, never later than the advance call in which it became due. */
    cr_assert_leq(tw_ms_diff(want[i], cur_until), 0, "timer %zu early", i);
    cr_assert_gt(tw_ms_diff(want[i], prev_until), 0, "timer %zu late", i);
    /* Within one advance, in expiry order. */
    if (!first_fire_in_advance)
        cr_assert_geq(tw_ms_diff(t->expire, last_fire_expire), 0, "out of order");
    first_fire_in_advance = false;
    last_fire_expire = t->expire;
    armed[i] = false;
}

static void run_model(uint64_t start, unsigned seed)
{
    srand(seed);
    tw__wheel_init(&wheel, start);
    prev_until = start - 1;
    for (size_t i = 0; i < N; i++) {
        tw_timer_init(&timers[i], on_fire, NULL);
        armed[i] = false;
        fired_count[i] = 0;
    }
    uint64_t now = start;
    for (int round = 0; round < 3000; round++) {
        /* add or re-arm some timers, with delays across every level */
        for (int k = 0; k < 8; k++) {
            size_t i = (size_t)rand() % N;
            static const uint64_t spans[] = {1, 64, 4096, 262144, 16777216};
            uint64_t d = (uint64_t)rand() % spans[rand() % 5];
            if (armed[i])
                tw__wheel_del(&wheel, &timers[i]);
            /* the wheel's notion of the present is its next tick */
            want[i] = wheel.now + d;
            tw__wheel_add(&wheel, &timers[i], want[i]);
            armed[i] = true;
        }
        /* cancel a few */
        for (int k = 0; k < 3; k++) {
            size_t i = (size_t)rand() % N;
            if (armed[i]) {
                tw__wheel_del(&wheel, &timers[i]);
                armed[i] = false;
            }
        }
        /* advance by a step of varying size */
        static const uint64_t steps[] = {1, 7, 63, 64, 65, 1000, 5000, 300000};
        now += steps[rand() % 8];
        cur_until = now;
        first_fire_in_advance = true;
        tw__wheel_advance(&wheel, now);
        prev_until = now;
    }
    /* drain: everything still armed fires by its expiry */
    cur_until = now + TW__WHEEL_MAX_DELAY;
    first_fire_in_advance = true;
    tw__wheel_advance(&wheel, cur_until);
    for (size_t i = 0; i < N; i++) {
        cr_assert(!armed[i], "timer %zu never fired", i);
        cr_assert_leq(fired_count[i], 3000);
    }
    cr_assert_eq(wheel.count, 0);
}

Test(wheel, matches_model)
{
    run_model(1000, 1);
}

Test(wheel, matches_model_across_64bit_wrap)
{
    run_model(UINT64_MAX - 20000000, 2); /* wraps during the run */
}

Test(wheel, clamps_huge_delays_and_past_expiry)
{
    tw_timer t;

    tw__wheel_init(&wheel, 100);
    tw_timer_init(&t, on_fire, NULL);
    tw__wheel_add(&wheel, &t, 100 + (UINT64_C(1) << 40));
    cr_assert_eq(t.expire, 100 + TW__WHEEL_MAX_DELAY);
    tw__wheel_del(&wheel, &t);
    tw__wheel_add(&wheel, &t, 5); /* in the past: due at the next tick */
    cr_assert_eq(t.expire, 100);
    cr_assert_eq(tw__wheel_next(&wheel), 100);
    tw__wheel_del(&wheel, &t);
    cr_assert_eq(wheel.count, 0);
}

/* Callbacks that stop other due timers and re-arm themselves. */
static tw_timer a, b;
static int a_runs, b_runs;

static void a_cb(tw_timer *t)
{
    a_runs++;
    tw__wheel_del(&wheel, &b); /* b is due in the same tick: must not run */
    if (a_runs < 5)
        tw__wheel_add(&wheel, t, wheel.now); /* "now" again: next tick, no loop */
}

static void b_cb(tw_timer *t)
{
    b_runs++;
}

Test(wheel, callbacks_stop_and_rearm)
{
    tw__wheel_init(&wheel, 0);
    tw_timer_init(&a, a_cb, NULL);
    tw_timer_init(&b, b_cb, NULL);
    tw__wheel_add(&wheel, &a, 10);
    tw__wheel_add(&wheel, &b, 10);
    cr_assert_eq(tw__wheel_advance(&wheel, 10), 1);
    cr_assert_eq(a_runs, 1);
    cr_assert_eq(b_runs, 0);
    cr_assert_eq(tw__wheel_advance(&wheel, 100), 4);
    cr_assert_eq(a_runs, 5);
    cr_assert_eq(wheel.count, 0);
}
