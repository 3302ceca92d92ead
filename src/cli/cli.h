/* twkit subcommands: each a thin program over libtwkit. */
#ifndef TW_CLI_H
#define TW_CLI_H

#include <stdbool.h>
#include <stdint.h>

int cmd_facts(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_hazards(int argc, char **argv);
int cmd_serve(int argc, char **argv);

int cmd_stat(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_probe_report(int argc, char **argv); /* twkit probe report */

/* Option values; on bad input print "<cmd>: <opt>: ..." and return -1. */
int cli_parse_uint(const char *cmd, const char *opt, const char *s, unsigned long max,
                   unsigned long *v);
int cli_parse_dur(const char *cmd, const char *opt, const char *s, uint64_t *ms);

/* True if argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
