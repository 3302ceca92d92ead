/* The byte buffer's size arithmetic: a capacity of 2 GiB doubled in 32 bits
 * wrapped to 0 and tw__buf_reserve looped forever (a client pipelining
 * requests for big bodies hung the server). */
#include <criterion/criterion.h>

#include "core/buf.h"

Test(buf, a_reservation_past_the_cap_fails_at_once)
{
    struct tw__buf b = {0};

    cr_assert_null(tw__buf_reserve(&b, (uint64_t)TW_BUF_MAX + 1));
    cr_assert_null(tw__buf_reserve(&b, (uint64_t)3 << 30));
    cr_assert_null(tw__buf_reserve(&b, UINT64_MAX));
    cr_assert_eq(b.cap, 0, "nothing allocated for a refused reservation");
    cr_assert_eq(tw__buf_append(&b, "x", 1, NULL, UINT32_MAX), -ENOMEM);
}

/* A buffer that already holds 2 GiB (its memory is never touched: the
 * check comes before any copy): one more byte must fail, not loop. */
Test(buf, a_full_two_gib_buffer_refuses_more_without_looping, .timeout = 5)
{
    struct tw__buf b = {.p = NULL, .off = 0, .len = 1u << 31, .cap = 1u << 31};

    cr_assert_null(tw__buf_reserve(&b, 1));
    cr_assert_eq(b.cap, 1u << 31);
}

Test(buf, growth_doubles_and_keeps_the_data)
{
    struct tw__buf b = {0};
    uint8_t *w;

    for (int i = 0; i < 5000; i++)
        cr_assert_eq(tw__buf_append(&b, "abcd", 4, NULL, 0), 0);
    cr_assert_eq(b.len, 20000);
    cr_assert_eq(b.cap, 32768);
    cr_assert_eq(memcmp(b.p + 19996, "abcd", 4), 0);
    tw__buf_consume(&b, 19990);
    w = tw__buf_reserve(&b, 30000); /* moves the 10 bytes to the front first */
    cr_assert_not_null(w);
    cr_assert_eq(memcmp(b.p, "cdabcdabcd", 10), 0);
    tw__buf_free(&b);
}
