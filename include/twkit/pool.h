/* A pool of persistent twp connections to one destination.
 *
 * A request is one DATA frame answered by one DATA frame; each connection
 * carries one request at a time. The pool
 *   - hands a request to an idle connection (a hit), or opens a new one up
 *     to max_conns (a miss), or makes it wait, at most wait_timeout_ms;
 *   - never hands out a connection the server has closed or asked to close:
 *     a connection idle since an earlier millisecond is checked first (any
 *     pending input, DONE or FIN, is read before it is used);
 *   - sends a request again on another connection when the server's DONE
 *     says it was not processed (docs/PROTOCOL.md), so a server ending
 *     connections costs no request;
 *   - reconnects after a failed connect with exponential backoff and jitter
 *     (tw_backoff), and fails waiting requests with the connect error;
 *   - ends a connection idle for idle_timeout_ms with BYE/GOODBYE (no
 *     TIME_WAIT on either side) and counts it as reaped.
 * A connection the server ends with DONE is closed by us as the protocol
 * asks, so its TIME_WAIT lands here, on the client (counted in `replaced`).
 */
#ifndef TWKIT_POOL_H
#define TWKIT_POOL_H

#include <stdint.h>

#include "twkit/loop.h"
#include "twkit/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_pool tw_pool;

/* Exponential backoff with "equal jitter": attempt n waits a random time
 * in [d/2, d] where d = min(max_ms, min_ms * 2^n). */
struct tw_backoff {
    uint64_t min_ms, max_ms; /* 0: 100 ms, 10 s */
    unsigned attempt;
    uint64_t rng;            /* state; 0: seeded from the clock */
};
uint64_t tw_backoff_next(struct tw_backoff *b);
void tw_backoff_reset(struct tw_backoff *b);

struct tw_pool_opts {
    tw_addr dst;
    const struct tw_connect_opts *connect; /* NULL: defaults */
    unsigned max_conns;          /* 0: 8 */
    uint64_t idle_timeout_ms;    /* 0: 30 s */
    uint64_t wait_timeout_ms;    /* 0: 5 s; a request waiting longer fails */
    uint64_t connect_timeout_ms; /* 0: 5 s */
    uint64_t backoff_min_ms, backoff_max_ms; /* 0: 100 ms, 10 s */
    uint32_t max_frame;          /* 0: 1 MiB */
    uint64_t reserved_[4]; /* room to grow (docs/DESIGN.md, "ABI"): leave zero */
};

/* Library-owned, read through tw_pool_stats(): fields are only ever
 * appended. */
struct tw_pool_stats {
    uint64_t requests;       /* accepted by tw_pool_request */
    uint64_t replies;        /* answered */
    uint64_t hits;           /* sent on a connection used before */
    uint64_t misses;         /* sent on a newly opened connection */
    uint64_t retried;        /* sent again after DONE left it unprocessed */
    uint64_t failed;         /* reported with an error */
    uint64_t wait_timeouts;  /* of failed: waited longer than wait_timeout */
    uint64_t connects;       /* connections opened (attempts) */
    uint64_t connect_failed; /* of connects */
    uint64_t replaced;       /* ended by the server's DONE */
    uint64_t reaped;         /* idle too long: ended with BYE/GOODBYE */
    uint64_t lost;           /* ended otherwise (reset, error, server FIN) */
    uint64_t conns_peak;     /* most connections open at once */
};

/* The reply to a request: err 0 and the reply's payload, or err < 0:
 * -ETIMEDOUT (waited too long), a connect error (-ECONNREFUSED...),
 * -ECONNRESET/-EPROTO (the connection broke with the request in flight:
 * it may or may not have been processed), -ECANCELED (tw_pool_free). */
typedef void (*tw_pool_reply_cb)(void *arg, int err, const uint8_t *reply, uint32_t len);

tw_pool *tw_pool_new(tw_loop *loop, const struct tw_pool_opts *o);

/* Send a request. The payload is copied. cb is called exactly once, never
 * from inside this call. Returns 0, or -EINVAL, -ENOMEM, -ESHUTDOWN (then
 * no callback). */
int tw_pool_request(tw_pool *p, const void *payload, uint32_t len, tw_pool_reply_cb cb,
                    void *arg);

/* Take no new requests, let those queued finish, then end every connection
 * with BYE/GOODBYE. The pool is empty when tw_pool_conns() is 0. */
void tw_pool_shutdown(tw_pool *p);

/* Abort every connection, fail what is pending with -ECANCELED, free. */
void tw_pool_free(tw_pool *p);

unsigned tw_pool_conns(const tw_pool *p);
const struct tw_pool_stats *tw_pool_stats(const tw_pool *p);

#ifdef __cplusplus
}
#endif

#endif
