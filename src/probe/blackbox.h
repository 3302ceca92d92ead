/* twkit probe: blackbox_exporter's blackbox.yml (blackbox.c). */
#ifndef TW_PROBE_BLACKBOX_H
#define TW_PROBE_BLACKBOX_H

#include <stdio.h>

#include "probe/probe.h"

/* A module blackbox has and twkit cannot run, and why ("the icmp prober is
 * not supported by twkit yet (blackbox.yml:30:13)"). */
struct tp_bb_rejected {
    char *name, *why;
};

struct tp_bb_config {
    struct tp_config cfg;         /* a definition per module, no targets;
                                     timeout_ms 0: the scrape's timeout */
    struct tp_bb_rejected *rejected;
    size_t nrejected;
};

/* Load blackbox.yml at path (or len bytes at buf, as if read from path).
 * Problems are printed to errs as FILE:LINE:COL: message, rejected modules
 * among them (those are not errors). Returns 0, the number of errors (> 0,
 * nothing kept), or -errno when the file cannot be read. */
int tp_bb_load(const char *path, struct tp_bb_config *out, FILE *errs);
int tp_bb_load_mem(const char *path, const char *buf, size_t len, struct tp_bb_config *out,
                   FILE *errs);
/* The module called name; NULL with *why set when it was rejected, NULL
 * with *why NULL when there is none. */
const struct tp_def *tp_bb_module(const struct tp_bb_config *bb, const char *name,
                                  const char **why);
void tp_bb_free(struct tp_bb_config *bb);

#endif
