/* Option values shared by the subcommands. Not in main.c: main calls the
 * commands, the commands call these, and nothing calls back up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
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

bool cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    return false;
}
