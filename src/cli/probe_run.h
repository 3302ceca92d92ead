/* twkit probe's limits and summary (probe_run.c), apart from the command's
 * options and servers (cmd_probe.c). */
#ifndef TW_CLI_PROBE_RUN_H
#define TW_CLI_PROBE_RUN_H

#include <stddef.h>

#include "probe/probe.h"

/* Raise RLIMIT_NOFILE for what cfg's probes may hold at once, and warn
 * when the hard limit is lower. */
void probe_raise_nofile(const struct tp_config *cfg, const struct tp_engine_opts *eo,
                        unsigned threads, size_t adhoc);
/* --summary's JSON line on stdout. */
void probe_print_summary(const struct tp_summary *s, double wall, const char *loop);

#endif
