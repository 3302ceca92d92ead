/* twkit probe: /metrics gzip-compressed for the clients that ask for it
 * (gzip.c), as Prometheus does on every scrape.
 */
#ifndef TW_PROBE_GZIP_H
#define TW_PROBE_GZIP_H

#include <stdbool.h>
#include <stddef.h>

#include "twkit/http.h"
#include "twkit/server.h"

/* Whether the request's Accept-Encoding headers (all of them, RFC 9110
 * 12.5.3) take gzip: "gzip" or "x-gzip", or "*" when gzip is not named,
 * with a weight above 0 (q=0 refuses it). No header: no. */
bool tp_accepts_gzip(const struct tw_http_req *req);

/* Answer req with body, gzip-compressed (Content-Encoding: gzip) when the
 * request accepts it, as it is otherwise (or should compressing fail);
 * either way with Vary: Accept-Encoding, so a cache keeps the two apart.
 * Returns what tw_sconn_respond returns. */
int tp_respond_maybe_gzip(tw_sconn *c, const struct tw_http_req *req, int status,
                          const char *ctype, const void *body, size_t len);
/* The same for a deferred answer, whose request is gone: gzip is what
 * tp_accepts_gzip said of it. */
int tp_respond_gzip_if(tw_sconn *c, bool gzip, int status, const char *ctype, const void *body,
                       size_t len);

#endif
