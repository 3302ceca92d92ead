/* The server's insides, shared by its protocol halves (internal):
 * server.c has the connection life cycle, accept, shutdown and twp;
 * http.c has HTTP/1.1 on the same life cycle. */
#ifndef TW_SERVER_INTERNAL_H
#define TW_SERVER_INTERNAL_H

#include "core/buf.h"
#include "core/list.h"
#include "twkit/http.h"
#include "twkit/server.h"

#define SCRATCH (64 * 1024)

/* Named after the protocols' words; the HTTP connection uses OPEN,
 * DONE_SENT (a response said Connection: close), PEER_FIN and ACK_WAIT. */
enum sc_state { SC_HELLO, SC_OPEN, SC_DONE_SENT, SC_GOODBYE_SENT, SC_PEER_FIN,
                SC_ERROR_SENT, SC_ACK_WAIT };

struct tw_sconn {
    tw_io io;
    tw_timer timer;
    struct tw_list link;
    tw_server *srv;
    uint64_t *end_counter;  /* what to count when the pending end happens */
    uint64_t hard_deadline; /* loop ms */
    uint32_t requests;
    uint8_t state;
    bool in_read;           /* inside the read handler: flush at its end */
    bool reading;           /* want READ events (off under backpressure) */
    bool owed_at_fin;       /* the client's FIN was in when a request was
                               read, or while output was unsent (see
                               close_passive) */
    /* HTTP */
    bool closing;           /* the server wants to end: next response closes */
    bool deadline_on;       /* the request timer runs (a request is partial) */
    bool in_request;        /* a handler may respond now */
    bool resp_close;        /* this response says Connection: close */
    bool resp_head;         /* HEAD: no body */
    bool resp_chunked;      /* a chunked response is open */
    bool continue_sent;     /* 100 Continue for this request */
    uint8_t minor;          /* the request's HTTP/1.minor */
    bool keep_alive_10;     /* HTTP/1.0 keep-alive: say so in the response */
    struct tw_http_parser hp;
    struct tw__buf in, out;
};

struct tw_server {
    tw_loop *loop;
    struct tw_server_opts o;
    tw_io lio;
    tw_timer accept_timer;
    bool shutting_down, paused_full;
    struct tw_list conns;
    unsigned nconns;
    struct tw_server_stats st;
    char date[30];          /* HTTP Date, refreshed once a second */
    uint64_t date_ms;
    struct tw_http_req req; /* the request being handled (one at a time) */
    uint8_t scratch[SCRATCH];
};

/* server.c: the only ways a connection ends, and output */
void tw__sconn_abort(tw_sconn *c, uint64_t *counter);
void tw__sconn_naive_close(tw_sconn *c);
int tw__sconn_flush(tw_sconn *c); /* -1: the connection was freed */
void tw__sconn_arm_grace(tw_sconn *c, uint64_t *counter);
void tw__sconn_abort_when_acked(tw_sconn *c); /* counts c->end_counter */

/* http.c */
int tw__http_input(tw_sconn *c, uint8_t *data, uint32_t n); /* -1: freed */
void tw__http_finish(tw_sconn *c);
void tw__http_timeout(tw_sconn *c); /* the timer fired in OPEN */

#endif
