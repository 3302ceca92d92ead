#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "twkit/error.h"

Test(error, names_accept_both_signs)
{
    cr_assert_str_eq(tw_errname(-EADDRNOTAVAIL), "EADDRNOTAVAIL");
    cr_assert_str_eq(tw_errname(EADDRNOTAVAIL), "EADDRNOTAVAIL");
    cr_assert_str_eq(tw_errname(-ECONNRESET), "ECONNRESET");
    cr_assert_str_eq(tw_errname(0), "OK");
    cr_assert_str_eq(tw_errname(-4095), "E4095");
}

Test(error, classes)
{
    static const int local[] = {EADDRNOTAVAIL, EADDRINUSE, EMFILE, ENFILE, ENOBUFS, ENOMEM};
    for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
        cr_assert_eq(tw_errclass(-local[i]), TW_ECLASS_LOCAL, "%s", tw_errname(local[i]));
    cr_assert_eq(tw_errclass(-ECONNREFUSED), TW_ECLASS_REFUSED);
    cr_assert_eq(tw_errclass(-ECONNRESET), TW_ECLASS_RESET);
    cr_assert_eq(tw_errclass(-EPIPE), TW_ECLASS_RESET);
    cr_assert_eq(tw_errclass(-ETIMEDOUT), TW_ECLASS_TIMEOUT);
    cr_assert_eq(tw_errclass(-EHOSTUNREACH), TW_ECLASS_UNREACH);
    cr_assert_eq(tw_errclass(-ENETUNREACH), TW_ECLASS_UNREACH);
    cr_assert_eq(tw_errclass(-EINVAL), TW_ECLASS_OTHER);
    cr_assert_eq(tw_errclass(-4000), TW_ECLASS_OTHER);
    cr_assert_eq(tw_errclass(0), TW_ECLASS_NONE);
    cr_assert_str_eq(tw_errclass_name(TW_ECLASS_LOCAL), "local");
    cr_assert_str_eq(tw_errclass_name((enum tw_errclass)99), "other");
}

Test(error, strerror)
{
    cr_assert_str_eq(tw_strerror(-EADDRNOTAVAIL), strerror(EADDRNOTAVAIL));
}
