/* A server (twp or HTTP/1.1) that never closes first where the protocol
 * lets it, and never cuts off a client that keeps reading.
 *
 * The invariant: the server never sends the first FIN, unless the protocol
 * requires the server to close, and then only after giving the client the
 * chance to close first. Only HTTP requires it (RFC 9112 9.6): a response
 * that says Connection: close obliges the server to close. To an HTTP/1.0
 * client without keep-alive, which waits for that close, the FIN goes at
 * once after the response; any other client first has close_wait after it
 * acknowledged the whole response to close on its own. Those FINs are
 * counted (closed_first_required), the TIME_WAIT they leave is the
 * server's, and a debug build asserts that no other path sends one. twp
 * never requires it: its clients close after DONE, or end with BYE.
 *
 * Every other ending is one of:
 *   - passive close after the client's FIN (our FIN second: the client
 *     holds TIME_WAIT; after_fin RST, HTTP only, is the opt-in exception);
 *   - abort (RST): after GOODBYE when the client resets as twp asks; at the
 *     idle timeout (no byte moved either way); on invalid input once the
 *     error is acknowledged; when the client does not close within the grace
 *     period after it acknowledged everything; at the shutdown timeout.
 *
 * Timers measure progress, not age. While output is unsent or
 * unacknowledged, or a request or frame is partly in, the connection must
 * move at least min_progress bytes (acknowledged or received) in every
 * stall_timeout, else it is aborted (aborted_stalled): a client reading
 * slowly gets everything, a stalled one holds no memory. Idle means no byte
 * in either direction. The head of an HTTP request must be whole within
 * request_timeout of its first byte (the first request: of the accept).
 *
 * Work and memory per connection are bounded: requests are parsed one at a
 * time and parsing stops while more than max_outbuf of replies are queued
 * (it resumes below half), so a client that pipelines and never reads holds
 * at most max_outbuf plus one reply plus one read; buffer sizes are computed
 * in 64 bits and capped. When the connection table is full, the idle
 * connection that has been quiet longest is aborted so a new client is
 * served (reaped_idle).
 */
#ifndef TWKIT_SERVER_H
#define TWKIT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twkit/http.h"
#include "twkit/loop.h"
#include "twkit/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_server tw_server;
typedef struct tw_sconn tw_sconn;

/* A DATA frame arrived. Reply with tw_sconn_send (any number of frames);
 * return 0, or < 0 to abort the connection. NULL handler: echo. */
typedef int (*tw_server_data_cb)(tw_sconn *c, const uint8_t *payload, uint32_t len, void *data);

/* An HTTP request arrived (req and what it points to live until the
 * handler returns). Answer it before returning, with tw_sconn_respond or a
 * chunked response, or call tw_sconn_defer to answer later; a handler that
 * does neither gets a 500 sent for it. */
typedef void (*tw_server_http_cb)(tw_sconn *c, const struct tw_http_req *req, void *data);

enum tw_server_proto { TW_PROTO_TWP, TW_PROTO_HTTP };

/* The client closed first (its FIN came in); this says what the server
 * sends second.
 *   FIN   our FIN: a classic passive close; the client holds TIME_WAIT (the
 *         protocol's design). The default.
 *   RST   HTTP only, opt-in: an RST, if the client's FIN came after it had
 *         everything we owed it (its FIN was not in yet when we read its
 *         last request, nothing was unsent) and its TCP acknowledged every
 *         byte: nobody holds TIME_WAIT and the client's TCP has every byte.
 *         Limit: a client that half-closes (shutdown SHUT_WR) after its
 *         request arrived and reads on to EOF reads the whole response,
 *         then ECONNRESET instead of EOF. Otherwise our FIN.
 *   AUTO  FIN (tw_server_start refuses RST with twp: -EINVAL; twp clients
 *         that want no TIME_WAIT say BYE). */
enum tw_after_fin { TW_AFTER_FIN_AUTO, TW_AFTER_FIN_FIN, TW_AFTER_FIN_RST };

struct tw_server_opts {
    tw_addr listen;
    enum tw_server_proto proto; /* twp unless said */
    int backlog;                /* 0: 4096 */
    bool reuseport;             /* one listener per thread */
    unsigned max_conns;         /* 0: 10000; accept pauses at the limit */
    uint64_t idle_timeout_ms;   /* 0: 60 s; no byte either way this long: abort */
    uint64_t grace_ms;          /* 0: 2 s; after DONE/GOODBYE (and after our
                                   required FIN) the client has this long,
                                   from acknowledging everything, to close */
    uint64_t stall_timeout_ms;  /* 0: 10 s; with work in flight, less than */
    uint32_t min_progress;      /* 0: 1024 bytes moved in stall_timeout: abort */
    uint64_t close_wait_ms;     /* HTTP, 0: 1 s: after a Connection: close
                                   response is acknowledged, wait this long
                                   for the client's FIN, then send ours */
    uint64_t shutdown_timeout_ms; /* 0: 30 s: after tw_server_shutdown, abort
                                   what is still open */
    uint32_t max_frame;         /* 0: 1 MiB */
    uint32_t max_outbuf;        /* 0: 1 MiB; stop reading past this */
    uint32_t max_requests;      /* per connection, then DONE (HTTP: the
                                   response says Connection: close); 0: none */
    enum tw_after_fin after_fin; /* how to answer the client's FIN */
    bool naive_close;           /* WRONG ON PURPOSE: close first after each
                                   reply, for benchmarks and the demo */
    tw_server_data_cb on_data;
    /* A connection was accepted / is about to be freed (whatever the
     * ending). After on_close the tw_sconn is gone: whoever holds it (a
     * deferred HTTP response, a later tw_sconn_send) must forget it there.
     * Neither may end or send on the connection. Both optional. */
    void (*on_open)(tw_sconn *c, void *data);
    void (*on_close)(tw_sconn *c, void *data);
    /* HTTP */
    tw_server_http_cb on_http;  /* NULL: 404 for everything */
    struct tw_http_limits http_limits; /* 0s: the parser's defaults */
    uint64_t request_timeout_ms; /* 0: 10 s; a request's head must be whole
                                   within this of its first byte, the first
                                   one within this of the accept (slowloris,
                                   silent connections), else abort */
    void *data;
    uint64_t reserved_[8]; /* room to grow (docs/DESIGN.md, "ABI"): leave zero */
};

/* Every server counter, once: the struct below, twkit serve's exit
 * counters (text and JSON) and /metrics are all made from this list.
 *   X(name, kind, Prometheus name after twkit_server_, help)
 * kind END: how a connection ended; each connection counts exactly one, so
 * they add up to accepted - active (in /metrics: connections_ended_total
 * {how="name"}). EVENT: a count of something else. GAUGE: a level. RESP:
 * HTTP responses of one status class (responses_total{code="2xx"}). */
#define TW_SERVER_STATS(X)                                                               \
    X(accepted, EVENT, "connections_accepted_total", "Connections accepted.")            \
    X(active, GAUGE, "connections_active", "Connections open now.")                      \
    X(closed_after_done, END, "", "The client closed after our DONE (HTTP: Connection: close).") \
    X(closed_by_peer, END, "", "The client closed on its own.")                          \
    X(closed_first_required, END, "", "HTTP required the server to close: our FIN went " \
      "first and the TIME_WAIT is the server's.")                                        \
    X(bye_goodbye, END, "", "BYE, GOODBYE, then the client's reset (or FIN).")           \
    X(aborted_idle, END, "", "No byte either way for the idle timeout.")                 \
    X(aborted_grace, END, "", "Everything acknowledged, no FIN or RST in the grace period.") \
    X(aborted_invalid, END, "", "Bad input: ERROR (HTTP: 4xx) then RST.")                 \
    X(aborted_slow, END, "", "An HTTP head or twp HELLO not whole in time.")             \
    X(aborted_stalled, END, "", "Less than min_progress bytes moved in a stall timeout.") \
    X(aborted_shutdown, END, "", "Still open at the shutdown timeout.")                  \
    X(aborted_nomem, END, "", "Out of memory for its input or replies.")                 \
    X(reaped_idle, END, "", "Idle, aborted to make room for a new client (table full).") \
    X(peer_reset, END, "", "The client reset outside BYE/GOODBYE.")                      \
    X(naive_closed, END, "", "naive_close mode: the server sent the first FIN.")         \
    X(reset_after_fin, EVENT, "reset_after_fin_total",                                   \
      "Connections closed by RST after the client's FIN (--after-fin rst).")             \
    X(first_fin_refused, EVENT, "first_fin_refused_total",                               \
      "Times the server was about to send a first FIN the protocol did not require, "    \
      "and did not (always 0).")                                                         \
    X(accept_paused, EVENT, "accept_paused_total",                                       \
      "Accept pauses for EMFILE, ENFILE or the connection limit.")                       \
    X(frames_in, EVENT, "frames_in_total", "twp frames received.")                       \
    X(frames_out, EVENT, "frames_out_total", "twp frames sent.")                         \
    X(requests, EVENT, "requests_total", "HTTP requests answered.")                      \
    X(bad_requests, EVENT, "bad_requests_total",                                         \
      "Malformed HTTP requests (answered 4xx/5xx, connection ended).")                   \
    X(responses_1xx, RESP, "", "")                                                       \
    X(responses_2xx, RESP, "", "")                                                       \
    X(responses_3xx, RESP, "", "")                                                       \
    X(responses_4xx, RESP, "", "")                                                       \
    X(responses_5xx, RESP, "", "")                                                       \
    X(conn_buf_peak, GAUGE, "connection_buffer_peak_bytes",                              \
      "The most buffer bytes one connection held.")

/* Library-owned, read through tw_server_stats(): counters are only ever
 * appended to the list above, so a program built against an older list
 * reads the ones it knows. */
struct tw_server_stats {
#define TW__STAT_FIELD(name, kind, prom, help) uint64_t name;
    TW_SERVER_STATS(TW__STAT_FIELD)
#undef TW__STAT_FIELD
};

/* Listen and serve on loop. Returns 0 or -errno (bind failures...). */
int tw_server_start(tw_loop *loop, const struct tw_server_opts *opts, tw_server **out);

/* Graceful shutdown: stop accepting, send DONE on every open connection
 * (HTTP: the next response says Connection: close; an idle one gets one
 * grace period for a last request), and let each end as the protocol says;
 * what is still open at shutdown_timeout is aborted. The loop ends when the
 * last connection has. */
void tw_server_shutdown(tw_server *s);

/* Abort every connection and free the server (after shutdown, or at once). */
void tw_server_free(tw_server *s);

/* The counters, for the loop's own thread (a handler, after the loop ended). */
const struct tw_server_stats *tw_server_stats(const tw_server *s);
/* A copy of them that any thread may take while the server runs (each
 * field a relaxed atomic load: every one is exact, the set not a snapshot).
 * The macro passes the caller's sizeof, so a program built against fewer
 * counters gets those it knows (new counters are only ever appended). */
void tw_server_stats_load_sized(const tw_server *s, struct tw_server_stats *out, size_t size);
#define tw_server_stats_load(s, out) tw_server_stats_load_sized((s), (out), sizeof(*(out)))
bool tw_server_shutting_down(const tw_server *s);
tw_server *tw_sconn_server(const tw_sconn *c);
unsigned tw_server_conns(const tw_server *s);
/* The address the server listens on (its port, when opts.listen's was 0).
 * 0, or -errno (-EBADF after tw_server_shutdown closed the listener). */
int tw_server_local(const tw_server *s, tw_addr *out);

/* twp: queue a DATA frame on a connection (from the data callback, or later
 * from the loop's thread until on_close). Returns 0 or -errno (-EPIPE when
 * the connection is ending, -ENOMEM). */
int tw_sconn_send(tw_sconn *c, const void *payload, uint32_t len);

/* The application's pointer for a connection (NULL until set). */
void tw_sconn_set_data(tw_sconn *c, void *data);
void *tw_sconn_data(const tw_sconn *c);

/* Ask the client to end: DONE after what is queued (before the client's
 * HELLO arrived: right after our HELLO). HTTP: the next response says
 * Connection: close (call it before responding); with no request under
 * way, the client has the grace period to send one more, then the idle
 * connection is aborted. */
void tw_sconn_finish(tw_sconn *c);

/* HTTP: answer the request being handled. extra_headers: whole lines
 * ("Cache-Control: no-store\r\n"), or NULL. For HEAD the body is left out.
 * Returns 0, -EALREADY (answered already) or -ENOMEM. */
int tw_sconn_respond(tw_sconn *c, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t len);

/* HTTP: answer the request later. Call it from the handler instead of
 * answering; then answer with tw_sconn_respond (or a chunked response)
 * from the loop's thread whenever the answer is ready. Until then the
 * connection processes no further request (pipelined ones wait, and are
 * answered in order after it) and no idle timer runs. The request (req and
 * what it points to) still lives only until the handler returns: copy what
 * the answer needs. If the client goes first (RST, shutdown timeout),
 * on_close says so and the tw_sconn is gone. A client's FIN does not end
 * it: a client may half-close and wait for the answer. Returns 0, -EALREADY
 * (not in the handler, or answered already) or -EINVAL. */
int tw_sconn_defer(tw_sconn *c);

/* HTTP: a chunked response: start, any number of chunks, end (before the
 * handler returns, or later for a deferred one). */
int tw_sconn_respond_start(tw_sconn *c, int status, const char *content_type,
                           const char *extra_headers);
int tw_sconn_respond_chunk(tw_sconn *c, const void *data, size_t len);
int tw_sconn_respond_end(tw_sconn *c);

/* ---- a group of servers on one address, a loop and a thread each ----
 *
 * SO_REUSEPORT listeners when there are several. The listeners belong to
 * the network namespace the caller is in when it calls
 * tw_server_group_new (so do the sockets they accept).
 * Life: new (listening, no thread yet), start, shutdown (each server's
 * tw_server_shutdown, on its own thread), join, free; or new, run (on the
 * caller's thread, until a shutdown from a signal handler or another
 * thread), free. shutdown may be called from any thread or a signal
 * handler; only the first call counts. */
#define TW_SERVER_GROUP_MAX 64

typedef struct tw_server_group tw_server_group;

struct tw_server_group_opts {
    unsigned threads;               /* 1 to TW_SERVER_GROUP_MAX */
    struct tw_server_opts server;   /* each one's; reuseport is set when
                                       there are several threads */
    /* optional: called first on each thread, before its loop runs */
    void (*on_start)(void *arg);
    void *arg;
    uint64_t reserved_[4]; /* room to grow (docs/DESIGN.md, "ABI"): leave zero */
};

/* Make the loops and servers. 0, or -errno (and nothing is left). */
int tw_server_group_new(const struct tw_server_group_opts *o, tw_server_group **out);
/* Start the threads. 0, or -errno when a thread could not start (those
 * that did run until shutdown). */
int tw_server_group_start(tw_server_group *g);
/* Tell every server to shut down, through an eventfd its loop reads.
 * 0, or -errno when one could not be told. Async-signal-safe; a second
 * call does nothing. */
int tw_server_group_shutdown(tw_server_group *g);
/* Wait for the threads: each ends when its server has no connection left. */
void tw_server_group_join(tw_server_group *g);
/* Instead of start and join: the first server's loop runs on the calling
 * thread (its on_start too), the others on threads of their own, and this
 * returns once all have ended. A group of one then makes no thread: a
 * process that has no other runs single-threaded, and libc's system call
 * wrappers skip the cancellation bookkeeping they do in a threaded one.
 * Shut it down from a signal handler or another thread. 0, or -errno when
 * a thread could not start (those that did run until shutdown). */
int tw_server_group_run(tw_server_group *g);
/* The threads' CPU time in seconds (getrusage RUSAGE_THREAD at their end),
 * after join (or run). */
void tw_server_group_cpu(const tw_server_group *g, double *user, double *sys);
/* The servers, for their counters (tw_server_stats_load from other
 * threads while they run). */
unsigned tw_server_group_size(const tw_server_group *g);
tw_server *tw_server_group_server(const tw_server_group *g, unsigned i);
/* Free the servers and loops (after join or run, or when never started). */
void tw_server_group_free(tw_server_group *g);

#ifdef __cplusplus
}
#endif

#endif
