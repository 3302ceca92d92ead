/* Lab tests need root (network namespaces); without it they are reported
 * as skipped, never as passed. */
#ifndef TW_TESTS_NEED_ROOT_H
#define TW_TESTS_NEED_ROOT_H

#include <criterion/criterion.h>
#include <unistd.h>

#define NEED_ROOT()                                                          \
    do {                                                                     \
        if (geteuid() != 0)                                                  \
            cr_skip_test("the lab needs root (network namespaces)");         \
    } while (0)

#endif
