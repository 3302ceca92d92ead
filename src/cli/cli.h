/* twkit subcommands: each a thin program over libtwkit. */
#ifndef TW_CLI_H
#define TW_CLI_H

#include <stdbool.h>

int cmd_facts(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* True if argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
