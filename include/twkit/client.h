/* A twp client connection (docs/PROTOCOL.md).
 *
 * How it ends, and where TIME_WAIT lands:
 *   tw_client_bye      BYE, wait for GOODBYE (every reply read), then abort:
 *                      no TIME_WAIT on either side, nothing lost;
 *   server's DONE      read up to DONE, then close: this client holds the
 *                      TIME_WAIT (the design: the server never does);
 *   tw_client_close    close first (active close): this client holds it;
 *   tw_client_abort    RST now; unread replies are lost.
 * The client object is freed by the library right after on_close returns.
 */
#ifndef TWKIT_CLIENT_H
#define TWKIT_CLIENT_H

#include <stdint.h>

#include "twkit/loop.h"
#include "twkit/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_client tw_client;

enum tw_client_end {
    TW_CLIENT_END_GOODBYE,  /* BYE/GOODBYE then abort: no TIME_WAIT */
    TW_CLIENT_END_DONE,     /* server sent DONE, we closed: TIME_WAIT here */
    TW_CLIENT_END_CLOSED,   /* tw_client_close: TIME_WAIT here */
    TW_CLIENT_END_ABORTED,  /* tw_client_abort */
    TW_CLIENT_END_SERVER_FIN, /* the server closed first (a naive server) */
    TW_CLIENT_END_ERROR,    /* connect failure, reset, protocol error: err */
};

const char *tw_client_end_name(enum tw_client_end e);

struct tw_client_opts {
    tw_addr dst;
    const struct tw_connect_opts *connect; /* source, port range...; NULL */
    uint64_t connect_timeout_ms;           /* 0: 5 s */
    uint64_t ping_interval_ms;             /* 0: no PING keepalive */
    uint32_t max_frame;                    /* 0: 1 MiB */
    /* all optional */
    void (*on_ready)(tw_client *c);        /* the server's HELLO arrived */
    void (*on_data)(tw_client *c, const uint8_t *p, uint32_t len);
    void (*on_done)(tw_client *c);         /* DONE arrived; closing follows */
    void (*on_close)(tw_client *c, enum tw_client_end how, int err);
    /* A read ended: everything that arrived was parsed and the client is
     * still open and can send. Frames sent from here go out in one write. */
    void (*on_drained)(tw_client *c);
    void *data;
    uint64_t reserved_[6]; /* room to grow (docs/DESIGN.md, "ABI"): leave zero */
};

/* Start connecting; HELLO is sent as soon as the connection is up, and
 * frames sent before that are queued behind it. Every outcome, including an
 * immediate connect failure, arrives through on_close. Returns 0 or -EINVAL
 * / -ENOMEM (then no callback). */
int tw_client_connect(tw_loop *loop, const struct tw_client_opts *o, tw_client **out);

/* Queue a DATA frame. -EPIPE once BYE was sent or DONE received. */
int tw_client_send(tw_client *c, const void *p, uint32_t len);

/* Queue BYE: the connection ends with GOODBYE and an abort. */
int tw_client_bye(tw_client *c);

void tw_client_close(tw_client *c);
void tw_client_abort(tw_client *c);

void *tw_client_data(const tw_client *c);
/* Time the TCP connect took, in ns (0 until connected). */
uint64_t tw_client_connect_ns(const tw_client *c);

#ifdef __cplusplus
}
#endif

#endif
