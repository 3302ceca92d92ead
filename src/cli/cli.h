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

/* --loop epoll|io_uring: the backend of every loop the command makes,
 * through TWKIT_LOOP (tw_loop_new's default); else print "<cmd>: --loop
 * ..." and return -1. */
int cli_set_loop(const char *cmd, const char *s);
/* The backend the command's loops get ("epoll" or "io_uring"): loop's, or
 * with NULL one made to see; warned on stderr first when TWKIT_LOOP names
 * no backend or asks for io_uring where it cannot be had (both mean
 * epoll). NULL: no loop could be made. */
struct tw_loop;
const char *cli_loop_backend(const char *cmd, const struct tw_loop *loop);

/* True if argv holds -h or --help. */
bool cli_wants_help(int argc, char **argv);

#endif
