/* Descriptor limits for the tools (util/rlimit.h). */
#include <stdio.h>
#include <sys/resource.h>

#include "util/rlimit.h"

unsigned long long tu_raise_nofile(unsigned long long need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (rl.rlim_cur >= need)
        return rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    return rl.rlim_cur;
}

int tu_nofile_check(const char *cmd, unsigned conns)
{
    unsigned long long need = (unsigned long long)conns * 2 + 256, have;

    if ((have = tu_raise_nofile(need)) < need) {
        fprintf(stderr, "%s: RLIMIT_NOFILE is %llu but %u connections need about %llu "
                        "descriptors; raise it (ulimit -n %llu) or lower --concurrency\n",
                cmd, have, conns, need, need);
        return -1;
    }
    return 0;
}
