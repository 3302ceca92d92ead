/* twkit probe: blackbox_exporter's /probe endpoint (bbhttp.c). */
#ifndef TW_PROBE_BBHTTP_H
#define TW_PROBE_BBHTTP_H

#include <stdbool.h>
#include <stdio.h>

#include "probe/blackbox.h"
#include "twkit/server.h"

struct tp_bbsrv_opts {
    unsigned max_inflight;  /* probes at a time (0: 1000); 4 times as many
                               requests may wait */
    double timeout_offset;  /* seconds taken off the scrape's timeout */
    FILE *log;              /* JSON lines: local errors (every result with
                               log_results) */
    bool log_results;
};

struct tp_bbsrv;

/* Serve the modules of bb (taken over: *bb is emptied). 0 or -errno. */
int tp_bbsrv_new(tw_loop *loop, struct tp_bb_config *bb, const struct tp_bbsrv_opts *o,
                 struct tp_bbsrv **out);
/* Replace the modules (taken over); probes under way finish on the old. */
int tp_bbsrv_reload(struct tp_bbsrv *s, struct tp_bb_config *bb);
/* GET /probe: answered now (400 for a bad request) or deferred until the
 * probe reports. */
void tp_bbsrv_handle(struct tp_bbsrv *s, tw_sconn *c, const struct tw_http_req *req);
/* The server's on_close for every connection: a request still waiting is
 * dropped and its probe aborted. */
void tp_bbsrv_conn_closed(struct tp_bbsrv *s, tw_sconn *c);
/* twkit_probe_adhoc_* families, for /metrics. */
void tp_bbsrv_metrics(struct tp_bbsrv *s, FILE *f);
const struct tp_bb_config *tp_bbsrv_config(const struct tp_bbsrv *s);
/* After the HTTP server is freed. */
void tp_bbsrv_free(struct tp_bbsrv *s);

#endif
