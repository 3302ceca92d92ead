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
 * DONE_SENT (a response said Connection: close), FIN_SENT (the protocol
 * required us to close and our FIN went first) and PEER_FIN. The order
 * matters: up to OPEN requests are processed. */
enum sc_state { SC_HELLO, SC_OPEN, SC_DONE_SENT, SC_GOODBYE_SENT, SC_FIN_SENT, SC_PEER_FIN,
                SC_ERROR_SENT };

struct tw_sconn {
    tw_io io;
    tw_timer timer;
    struct tw_list link;    /* in srv->conns, least recently active first */
    tw_server *srv;
    uint64_t *end_counter;  /* what to count when the pending end happens */
    /* timers (loop ms): the one timer fires at timer_at, and on_timer
     * works out from these what is due; activity only moves them, so a busy
     * connection does not restart its timer on every request */
    uint64_t timer_at;
    uint64_t active_ms;     /* the last time a byte moved */
    uint64_t since_ms;      /* HELLO/HTTP head: when its wait began */
    uint64_t acked_ms;      /* ending states: when all we sent was first
                               seen acknowledged (0: not yet) */
    uint64_t win_end;       /* the stall window: ends then (0: none), */
    uint64_t win_mark;      /* with this many bytes moved at its start */
    uint64_t moved;         /* bytes moved at the last look */
    uint32_t poll_ms;       /* ending states: the next look for the ACK */
    uint32_t skip;          /* twp, after DONE: payload bytes to discard */
    uint8_t hdr[5], hdr_len; /* twp, after DONE: a header split by a read */
    uint32_t requests;
    uint8_t state;
    bool in_read;           /* inside the read handler: flush at its end */
    bool reading;           /* want READ events (off under backpressure) */
    bool owed_at_fin;       /* the client's FIN was in when a request was
                               read, or while output was unsent (see
                               close_passive) */
    bool closing;           /* the server wants to end: twp DONE after
                               HELLO; HTTP the next response closes */
    bool fin_now;           /* HTTP/1.0 close: our FIN once it is written */
    bool naive;             /* naive_close mode: close first once written */
    /* HTTP */
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
    tw_timer shutdown_timer;
    bool shutting_down, paused_full;
    struct tw_list conns;
    unsigned nconns;
    struct tw_server_stats st;
    char date[30];          /* HTTP Date, refreshed once a second */
    uint64_t date_ms;
    struct tw_http_req req; /* the request being handled (one at a time) */
    uint8_t scratch[SCRATCH];
};

/* server.c: the only ways a connection ends, output, timers */
void tw__sconn_abort(tw_sconn *c, uint64_t *counter);
void tw__sconn_naive_close_after(tw_sconn *c); /* once the reply is written */
int tw__sconn_flush(tw_sconn *c); /* -1: the connection was freed */
void tw__sconn_arm(tw_sconn *c, uint64_t at); /* make the timer fire by then */
void tw__sconn_end_wait(tw_sconn *c, enum sc_state st, uint64_t *counter);

/* http.c */
int tw__http_input(tw_sconn *c, uint8_t *data, uint32_t n); /* -1: freed */
void tw__http_finish(tw_sconn *c);
bool tw__http_head_due(const tw_sconn *c); /* a head is awaited */

#endif
