/* A group of servers (twp or HTTP) on one address: one tw_loop and one
 * thread each, SO_REUSEPORT when there are several, started and stopped
 * together.
 *
 * It uses libtwkit's public API only, so that it can move into the
 * library as tw_server_group; twkit serve (src/cli/cmd_serve.c) writes the
 * same pattern out by hand. The listeners belong to the network namespace
 * the caller is in when it calls tb_server_group_new (so do the sockets
 * they accept): the threads need not enter it.
 *
 * Life: new (listening, no thread yet), start, shutdown (every server stops
 * accepting and ends its connections, see tw_server_shutdown), join, free.
 * shutdown may be called from any thread, once. */
#ifndef TB_SERVER_GROUP_H
#define TB_SERVER_GROUP_H

#include "twkit/server.h"

#define TB_SERVER_GROUP_MAX 64

typedef struct tb_server_group tb_server_group;

struct tb_server_group_opts {
    unsigned threads;               /* 1 to TB_SERVER_GROUP_MAX */
    struct tw_server_opts server;   /* each one's; reuseport is set when
                                       there are several threads */
    /* optional: called first on each thread, before its loop runs (the
     * bench waits there at its start line) */
    void (*on_start)(void *arg);
    void *arg;
};

/* Make the loops and servers. 0, or -errno (and nothing is left). */
int tb_server_group_new(const struct tb_server_group_opts *o, tb_server_group **out);
/* Start the threads. 0, or -errno when a thread could not start (those
 * that did run until shutdown). */
int tb_server_group_start(tb_server_group *g);
/* Tell every server to shut down, through an eventfd its loop reads.
 * 0, or -errno when one could not be told. */
int tb_server_group_shutdown(tb_server_group *g);
/* Wait for the threads: each ends when its server has no connection left. */
void tb_server_group_join(tb_server_group *g);
/* The threads' CPU time in seconds (getrusage RUSAGE_THREAD at their end),
 * after join. */
void tb_server_group_cpu(const tb_server_group *g, double *user, double *sys);
/* Free the servers and loops (after join, or when never started). */
void tb_server_group_free(tb_server_group *g);

#endif
