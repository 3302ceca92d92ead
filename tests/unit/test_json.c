/* The JSON helpers (util/json.c) behind facts, stat, bench and probe. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

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
