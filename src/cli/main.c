/* twkit: one binary, subcommands over libtwkit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "twkit/time.h"

static const char usage[] =
    "usage: twkit <command> [options]\n"
    "\n"
    "TCP client/server tooling that keeps TIME_WAIT where it belongs.\n"
    "\n"
    "commands:\n"
    "  facts     prove the TCP facts twkit is built on, on this kernel (root)\n"
    "  demo      every way to end a connection, side by side, in a minute (root)\n"
    "  hazards   what TIME_WAIT protects against, with and without it, measured (root)\n"
    "  bench     connection churn by close strategy: rate, latency, TIME_WAIT\n"
    "  serve     a twp or HTTP/1.1 server that closes first only where HTTP says so\n"
    "  probe     TCP/HTTP(S)/TLS health prober without TIME_WAIT, /metrics\n"
    "  stat      the TIME_WAIT doctor: who holds it, port pressure, advice\n"
    "  version   print the version\n"
    "  help      this text; `twkit <command> --help` for a command\n";

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"facts", cmd_facts},
        {"demo", cmd_demo},
        {"hazards", cmd_hazards},
        {"serve", cmd_serve},
        {"stat", cmd_stat},
        {"bench", cmd_bench},
        {"probe", cmd_probe},
    };
    const char *cmd = argc > 1 ? argv[1] : "help";

    if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        if (argc > 2) {
            char *hv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
                if (!strcmp(argv[2], cmds[i].name))
                    return cmds[i].fn(2, hv);
        }
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("twkit %s\n", TW_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "twkit: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}
