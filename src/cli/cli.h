/* twkit subcommands: each a thin program over libtwkit. */
#ifndef TW_CLI_H
#define TW_CLI_H

#include <stdbool.h>
#include <stdint.h>

int cmd_facts(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_serve(int argc, char **argv);

int cmd_stat(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_probe(int argc, char **argv);

/* Raise RLIMIT_NOFILE for conns connections (both ends in this process);
 * -1 with a message saying how when the hard limit is too low. */
int cli_bench_fd_check(const char *cmd, unsigned conns);
/* Raise the RLIMIT_NOFILE soft limit towards need (at most the hard
 * limit); returns the soft limit now in force (0 if unknown). */
unsigned long long cli_raise_nofile(unsigned long long need);

/* Option values; on bad input print "<cmd>: <opt>: ..." and return -1. */
int cli_parse_uint(const char *cmd, const char *opt, const char *s, unsigned long max,
                   unsigned long *v);
int cli_parse_dur(const char *cmd, const char *opt, const char *s, uint64_t *ms);

/* True if argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
