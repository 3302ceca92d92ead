/* twkit probe: GET /report on --listen, the SLA report of the history the
 * prober writes (report_http.c; docs/PROBE.md, "Report").
 *
 * A report reads the history, which may take a while for many targets and
 * months: it is built on a thread of its own (a read-only connection; the
 * writer is never blocked) and answered from the loop once done, so the
 * loop that runs the probes never waits for it. At most TP_REPORT_JOBS
 * are built at a time; another request gets 503 with Retry-After.
 */
#ifndef TW_PROBE_REPORT_HTTP_H
#define TW_PROBE_REPORT_HTTP_H

#include "twkit/http.h"
#include "twkit/loop.h"
#include "twkit/server.h"

#define TP_REPORT_JOBS 2

struct tp_report_srv;

/* Reports of the history at path, days in zone (NULL: UTC). 0 or -errno. */
int tp_report_srv_new(tw_loop *loop, const char *path, const char *zone,
                      struct tp_report_srv **out);
/* GET /report?since=&until=&probe=&format=json|html|text: answered later
 * (tw_sconn_defer), or now for a bad query (400) or too many (503). */
void tp_report_srv_handle(struct tp_report_srv *rs, tw_sconn *c, const struct tw_http_req *req);
/* c is gone (the server's on_close): its report is dropped when done. */
void tp_report_srv_conn_closed(struct tp_report_srv *rs, tw_sconn *c);
/* Wait for the reports being built, and free. NULL: nothing. */
void tp_report_srv_free(struct tp_report_srv *rs);

#endif
