/* Errors counted by errno (util/errcount.h). */
#include <errno.h>

#include "util/errcount.h"

int tu_errcount_add(uint64_t *c, int err)
{
    if (err < 0)
        err = err > -TU_NERRNO ? -err : 0;
    if (err == 0 || err >= TU_NERRNO)
        err = EPROTO;
    c[err]++;
    return err;
}
