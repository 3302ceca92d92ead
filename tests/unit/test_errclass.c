/* tw_errclass is the one classifier (bench, probe and the library ask it):
 * every errno twkit treats specially, with the class it must have. The
 * reasons are in src/core/error.c. */
#include <criterion/criterion.h>
#include <errno.h>

#include "twkit/error.h"
#include "util/errcount.h"

static const struct {
    int err;
    enum tw_errclass cls;
} truth[] = {
    /* this host could not: never the peer's fault */
    {EADDRNOTAVAIL, TW_ECLASS_LOCAL},
    {EADDRINUSE, TW_ECLASS_LOCAL},
    {EAGAIN, TW_ECLASS_LOCAL}, /* connect(): no free local port (older kernels) */
    {EMFILE, TW_ECLASS_LOCAL},
    {ENFILE, TW_ECLASS_LOCAL},
    {ENOBUFS, TW_ECLASS_LOCAL},
    {ENOMEM, TW_ECLASS_LOCAL},
    {EPERM, TW_ECLASS_LOCAL},  /* our own firewall (netfilter OUTPUT drop) */
    {EACCES, TW_ECLASS_LOCAL}, /* security module, broadcast, privilege */
    {ENOSPC, TW_ECLASS_LOCAL},
    {EDQUOT, TW_ECLASS_LOCAL},
    /* what the peer or the path did */
    {ECONNREFUSED, TW_ECLASS_REFUSED},
    {ECONNRESET, TW_ECLASS_RESET},
    {ECONNABORTED, TW_ECLASS_RESET},
    {ENETRESET, TW_ECLASS_RESET},
    {EPIPE, TW_ECLASS_RESET},
    {ETIMEDOUT, TW_ECLASS_TIMEOUT},
    {ETIME, TW_ECLASS_TIMEOUT},
    {ENETDOWN, TW_ECLASS_UNREACH},
    {ENETUNREACH, TW_ECLASS_UNREACH},
    {EHOSTDOWN, TW_ECLASS_UNREACH},
    {EHOSTUNREACH, TW_ECLASS_UNREACH},
    /* neither: counted against the peer by tools, but not named */
    {EPROTO, TW_ECLASS_OTHER},
    {EINVAL, TW_ECLASS_OTHER},
    {EBADF, TW_ECLASS_OTHER},
    {ENOENT, TW_ECLASS_OTHER},
    {EINTR, TW_ECLASS_OTHER},
    {EINPROGRESS, TW_ECLASS_OTHER},
    {EMSGSIZE, TW_ECLASS_OTHER},
    {ECANCELED, TW_ECLASS_OTHER},
    {4000, TW_ECLASS_OTHER}, /* not an errno at all */
    {0, TW_ECLASS_NONE},
};
#define NTRUTH (sizeof(truth) / sizeof(truth[0]))

Test(errclass, every_errno_in_the_table_has_its_class_either_sign)
{
    for (size_t i = 0; i < NTRUTH; i++) {
        cr_expect_eq(tw_errclass(truth[i].err), truth[i].cls, "%s: %s, want %s",
                     tw_errname(truth[i].err), tw_errclass_name(tw_errclass(truth[i].err)),
                     tw_errclass_name(truth[i].cls));
        cr_expect_eq(tw_errclass(-truth[i].err), truth[i].cls, "-%s", tw_errname(truth[i].err));
    }
}

/* No errno becomes local without a line above (and a reason in error.c). */
Test(errclass, no_errno_is_local_without_a_row_here)
{
    for (int e = 1; e < 4096; e++) {
        bool listed = false;

        for (size_t i = 0; i < NTRUTH; i++)
            if (truth[i].err == e && truth[i].cls == TW_ECLASS_LOCAL)
                listed = true;
        cr_expect_eq(tw_errclass(e) == TW_ECLASS_LOCAL, listed, "%s", tw_errname(e));
    }
}

/* bench and probe count errors in a table of TU_NERRNO: every local errno
 * has its own row there, and what has none is counted, as EPROTO. */
Test(errclass, every_local_errno_has_a_counter_and_none_is_lost)
{
    uint64_t c[TU_NERRNO] = {0};

    for (size_t i = 0; i < NTRUTH; i++)
        if (truth[i].cls == TW_ECLASS_LOCAL) {
            cr_expect_lt(truth[i].err, TU_NERRNO, "%s", tw_errname(truth[i].err));
            cr_expect_eq(tu_errcount_add(c, -truth[i].err), truth[i].err);
        }
    cr_expect_eq(c[EADDRNOTAVAIL], 1);
    cr_expect_eq(tu_errcount_add(c, 0), EPROTO);
    cr_expect_eq(tu_errcount_add(c, 4000), EPROTO);
    cr_expect_eq(tu_errcount_add(c, -4000), EPROTO);
    cr_expect_eq(c[EPROTO], 3);
}
