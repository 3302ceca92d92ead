/* A server (twp or HTTP/1.1) that never closes first.
 *
 * Every connection ends in one of these ways, and only these:
 *   - passive close after the client's FIN (the client holds TIME_WAIT);
 *   - abort (RST): after GOODBYE when the client resets as the protocol
 *     asks, on idle timeout, on invalid input, or when the client does not
 *     close within the grace period after DONE/GOODBYE (HTTP: after a
 *     response that said Connection: close) — and then only once the client
 *     has acknowledged every byte sent, or at a hard deadline.
 * There is no code path that sends the first FIN (except the deliberately
 * wrong naive_close mode, counted apart). The server checks this: a passive
 * close the kernel state does not allow is counted in first_fin_refused (and
 * asserted in debug builds), and the connection is aborted instead.
 *
 * Per-connection memory is bounded: input is parsed from a per-server
 * scratch buffer, and only an incomplete frame is kept (at most the maximum
 * frame size); output that the client does not read stops the reading of
 * its requests once it passes max_outbuf. An idle connection owns no buffer.
 */
#ifndef TWKIT_SERVER_H
#define TWKIT_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "twkit/http.h"
#include "twkit/loop.h"
#include "twkit/sock.h"

typedef struct tw_server tw_server;
typedef struct tw_sconn tw_sconn;

/* A DATA frame arrived. Reply with tw_sconn_send (any number of frames);
 * return 0, or < 0 to abort the connection. NULL handler: echo. */
typedef int (*tw_server_data_cb)(tw_sconn *c, const uint8_t *payload, uint32_t len, void *data);

/* An HTTP request arrived (req and what it points to live until the
 * handler returns). Answer it before returning, with tw_sconn_respond or a
 * chunked response; a handler that does not gets a 500 sent for it. */
typedef void (*tw_server_http_cb)(tw_sconn *c, const struct tw_http_req *req, void *data);

enum tw_server_proto { TW_PROTO_TWP, TW_PROTO_HTTP };

/* The client closed first (its FIN came in). The server never sends the
 * first FIN; this says what it sends second.
 *   FIN   our FIN: a classic passive close; the client holds TIME_WAIT.
 *   RST   HTTP only: an RST, if the client's FIN came after it had
 *         everything we owed it (it was not in yet when we read its last
 *         request, nothing was unsent) and its TCP has acknowledged every
 *         byte: the client's socket is gone at once and nobody holds
 *         TIME_WAIT. Otherwise (a client that half-closed with its request
 *         and reads on to EOF) our FIN.
 *   AUTO  RST for HTTP, whose clients cannot end with BYE; FIN for twp,
 *         whose DONE handshake leaves the TIME_WAIT on the client by design
 *         (twp clients that want none say BYE; tw_server_start refuses
 *         RST with twp: -EINVAL). */
enum tw_after_fin { TW_AFTER_FIN_AUTO, TW_AFTER_FIN_FIN, TW_AFTER_FIN_RST };

struct tw_server_opts {
    tw_addr listen;
    enum tw_server_proto proto; /* twp unless said */
    int backlog;                /* 0: 4096 */
    bool reuseport;             /* one listener per thread */
    unsigned max_conns;         /* 0: 10000; accept pauses at the limit */
    uint64_t idle_timeout_ms;   /* 0: 60 s; no frame for this long: abort */
    uint64_t grace_ms;          /* 0: 2 s; wait for the client's FIN/RST */
    uint64_t hard_deadline_ms;  /* 0: grace + 5 s; abort even with unacked data */
    uint32_t max_frame;         /* 0: 1 MiB */
    uint32_t max_outbuf;        /* 0: 1 MiB; stop reading past this */
    uint32_t max_requests;      /* per connection, then DONE (HTTP: the
                                   response says Connection: close); 0: none */
    enum tw_after_fin after_fin; /* how to answer the client's FIN */
    bool naive_close;           /* WRONG ON PURPOSE: close first after each
                                   reply, for benchmarks and the demo */
    tw_server_data_cb on_data;
    /* HTTP */
    tw_server_http_cb on_http;  /* NULL: 404 for everything */
    struct tw_http_limits http_limits; /* 0s: the parser's defaults */
    uint64_t request_timeout_ms; /* 0: 10 s; a request's head and body must
                                   arrive within this of its first byte
                                   (slowloris), else abort */
    void *data;
};

/* How connections ended, and other events. */
struct tw_server_stats {
    uint64_t accepted;
    uint64_t active;
    uint64_t closed_after_done;  /* client closed after our DONE (HTTP:
                                    after Connection: close) */
    uint64_t closed_by_peer;     /* client closed on its own */
    uint64_t bye_goodbye;        /* BYE, GOODBYE, client reset (or FIN) */
    uint64_t aborted_idle;
    uint64_t aborted_grace;      /* no FIN/RST within the grace period */
    uint64_t aborted_invalid;    /* bad frame: ERROR then RST */
    uint64_t aborted_slow;       /* HTTP: request not whole by its deadline */
    uint64_t peer_reset;         /* client reset outside BYE/GOODBYE */
    uint64_t naive_closed;       /* naive_close mode: we sent the first FIN */
    uint64_t reset_after_fin;    /* passive closes done by RST (after_fin) */
    uint64_t first_fin_refused;  /* invariant checks that fired: must be 0 */
    uint64_t accept_paused;      /* EMFILE/ENFILE/max_conns pauses */
    uint64_t frames_in, frames_out;
    uint64_t requests;           /* HTTP requests answered */
    uint64_t bad_requests;       /* HTTP: malformed, answered 4xx/5xx, closed */
    uint64_t responses[6];       /* HTTP responses by class: [2] = 2xx ... */
    uint64_t conn_buf_peak;      /* most buffer bytes one connection held */
};

/* Listen and serve on loop. Returns 0 or -errno (bind failures...). */
int tw_server_start(tw_loop *loop, const struct tw_server_opts *opts, tw_server **out);

/* Graceful shutdown: stop accepting, send DONE on every open connection,
 * and let each end as the protocol says; the loop ends when the last has. */
void tw_server_shutdown(tw_server *s);

/* Abort every connection and free the server (after shutdown, or at once). */
void tw_server_free(tw_server *s);

const struct tw_server_stats *tw_server_stats(const tw_server *s);
bool tw_server_shutting_down(const tw_server *s);
tw_server *tw_sconn_server(const tw_sconn *c);
unsigned tw_server_conns(const tw_server *s);

/* Queue a frame on a connection (from the data callback or later).
 * Returns 0 or -errno (-EPIPE when the connection is ending). */
int tw_sconn_send(tw_sconn *c, uint8_t type, const void *payload, uint32_t len);

/* Ask the client to end: DONE after what is queued. HTTP: the next
 * response says Connection: close (call it before responding); with no
 * request under way, the client has the grace period to send one more,
 * then the idle connection is aborted. */
void tw_sconn_finish(tw_sconn *c);

/* HTTP: answer the request being handled. extra_headers: whole lines
 * ("Cache-Control: no-store\r\n"), or NULL. For HEAD the body is left out.
 * Returns 0, -EALREADY (answered already) or -ENOMEM. */
int tw_sconn_respond(tw_sconn *c, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len);

/* HTTP: a chunked response: start, any number of chunks, end (all before
 * the handler returns). */
int tw_sconn_respond_start(tw_sconn *c, int status, const char *content_type,
                           const char *extra_headers);
int tw_sconn_respond_chunk(tw_sconn *c, const void *data, size_t len);
int tw_sconn_respond_end(tw_sconn *c);

#endif
