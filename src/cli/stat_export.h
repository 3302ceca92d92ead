/* twkit stat --listen: the Prometheus exporter (stat_export.c). */
#ifndef TW_CLI_STAT_EXPORT_H
#define TW_CLI_STAT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>

#define STAT_EXPORT_PORT 9467

struct stat_export_opts {
    const char *listen;   /* ADDR[:PORT] */
    const char *netns;    /* read this namespace (/run/netns/NAME or a path), or NULL */
    bool all_netns;       /* the own namespace and every one in /run/netns */
    size_t top;           /* destinations and listeners with series of their own; 0: all */
    bool who;             /* keep the tracepoint open: active closes per process */
    const char *tracefs;  /* TWKIT_TRACEFS, or NULL */
};

/* Serve until SIGTERM or SIGINT. Returns the exit status (0; 2 bad
 * usage or cannot listen; 3 --who cannot record). */
int stat_export_run(const struct stat_export_opts *o);

#endif
