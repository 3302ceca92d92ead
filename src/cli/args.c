/* Option values shared by the subcommands. Not in main.c: main calls the
 * commands, the commands call these, and nothing calls back up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "twkit/loop.h"
#include "twkit/time.h"

int cli_parse_uint(const char *cmd, const char *opt, const char *s, unsigned long max,
                   unsigned long *v)
{
    char *end;

    errno = 0;
    *v = strtoul(s, &end, 10);
    if (!*s || *end || errno || *v > max || *s == '-') {
        fprintf(stderr, "%s: %s: '%s' is not a number from 0 to %lu\n", cmd, opt, s, max);
        return -1;
    }
    return 0;
}

int cli_parse_dur(const char *cmd, const char *opt, const char *s, uint64_t *ms)
{
    if (tw_parse_duration(s, ms) < 0) {
        fprintf(stderr, "%s: %s: '%s' is not a duration (2, 2s, 500ms, 1m)\n", cmd, opt, s);
        return -1;
    }
    return 0;
}

int cli_set_loop(const char *cmd, const char *s)
{
    if (strcmp(s, "epoll") != 0 && strcmp(s, "io_uring") != 0) {
        fprintf(stderr, "%s: --loop %s: not epoll or io_uring\n", cmd, s);
        return -1;
    }
    return setenv("TWKIT_LOOP", s, 1) == 0 ? 0 : -1;
}

const char *cli_loop_backend(const char *cmd, const tw_loop *loop)
{
    const char *e = getenv("TWKIT_LOOP"), *name;
    bool uring = e && (!strcmp(e, "io_uring") || !strcmp(e, "uring"));
    tw_loop *own = NULL;

    if (e && *e && !uring && strcmp(e, "epoll") != 0)
        fprintf(stderr, "%s: warning: TWKIT_LOOP=%s is not epoll or io_uring: the loop is epoll\n",
                cmd, e);
    if (!loop && tw_loop_new(&own) < 0)
        return NULL;
    name = tw_loop_backend(loop ? loop : own); /* the library's string, not the loop's */
    tw_loop_free(own);
    if (uring && strcmp(name, "io_uring") != 0)
        fprintf(stderr, "%s: warning: io_uring cannot be had here (kernel.io_uring_disabled, "
                        "seccomp or a kernel before 6.1): the loop is epoll\n", cmd);
    return name;
}

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}
