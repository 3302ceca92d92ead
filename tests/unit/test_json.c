/* The JSON helpers (util/json.c) behind facts, stat, bench and probe. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "util/json.h"

static char *out;
static size_t len;

static FILE *open_out(void)
{
    FILE *f = open_memstream(&out, &len);

    cr_assert_not_null(f);
    return f;
}

Test(json, strings_escape_quote_backslash_and_control_characters)
{
    FILE *f = open_out();

    tu_json_str(f, "a\"b\\c\nd\te\x01 \xc3\xa9");
    cr_assert_eq(fclose(f), 0);
    cr_assert_str_eq(out, "\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001 \xc3\xa9\"");
    free(out);
}

/* A process name or a peer's answer need not be UTF-8: the output stays
 * valid JSON (jansson, strict about UTF-8, must parse it back). */
Test(json, bytes_that_are_not_utf8_become_u_fffd_and_valid_utf8_passes)
{
    static const struct { const char *in, *want; } cases[] = {
        {"caf\xe9", "\"caf\\ufffd\""},                       /* Latin-1 */
        {"\xff\xfe", "\"\\ufffd\\ufffd\""},                 /* one each */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                 /* overlong '/' */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},     /* a surrogate */
        {"\xe2\x82", "\"\\ufffd\\ufffd\""},                 /* cut short */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* past U+10FFFF */
        {"\xe2\x82\xac \xf0\x9f\x98\x80", "\"\xe2\x82\xac \xf0\x9f\x98\x80\""}, /* kept */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FILE *f = open_out();
        json_error_t e;
        json_t *j;
        tu_json_str(f, cases[i].in);
        cr_assert_eq(fclose(f), 0);
        cr_expect_str_eq(out, cases[i].want, "case %zu", i);
        j = json_loads(out, JSON_DECODE_ANY, &e);
        cr_expect_not_null(j, "case %zu: %s", i, e.text);
        json_decref(j);
        free(out);
    }
}

Test(json, a_number_or_null)
{
    FILE *f = open_out();

    tu_json_num_or_null(f, 1.25, 3, true);
    fputc(',', f);
    tu_json_num_or_null(f, 7.0, 1, true);
    fputc(',', f);
    tu_json_num_or_null(f, -1, 3, false);
    cr_assert_eq(fclose(f), 0);
    cr_assert_str_eq(out, "1.250,7.0,null");
    free(out);
}
