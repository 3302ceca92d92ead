/* The server's insides, shared by its protocol halves (internal):
 * server.c has the connection life cycle, accept, shutdown and twp;
 * http.c has HTTP/1.1 on the same life cycle. */
#ifndef TW_SERVER_INTERNAL_H
#define TW_SERVER_INTERNAL_H

#include "core/buf.h"
#include "core/list.h"
#include "twkit/http.h"
#include "twkit/server.h"

#define SCRATCH (64 * 1024) /* a held request stops reading past this much input */

/* Named after the protocols' words; the HTTP connection uses OPEN,
 * DONE_SENT (a response said Connection: close), FIN_SENT (the protocol
 * required us to close and our FIN went first) and PEER_FIN. The order
 * matters: up to OPEN requests are processed. */
enum sc_state { SC_HELLO, SC_OPEN, SC_DONE_SENT, SC_GOODBYE_SENT, SC_FIN_SENT, SC_PEER_FIN,
                SC_ERROR_SENT };

struct tw_sconn {
    tw_io io;               /* TW_IO_WRITE while output waits; not reading
                               and not writing, errors only; else stopped */
    tw_recv rcv;            /* the read path, on while reading */
    tw_timer timer;
    struct tw_list link;    /* in srv->conns, least recently active first */
    tw_server *srv;
    void *data;             /* the application's (tw_sconn_set_data) */
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
    bool reading;           /* the receiver is on (off under backpressure);
                               data that comes after it is paused (io_uring
                               had it) waits in c->in */
    bool fin_in;            /* the receiver delivered the client's FIN */
    bool fin_pending;       /* ... while not reading, behind input that waits:
                               handled when reading resumes */
    bool parse_later;       /* input waits to be parsed: come back when
                               writable (tw__sconn_flush's round limit) */
    bool owed_at_fin;       /* the client's FIN was in when a request was
                               read, or while output was unsent (see
                               close_passive) */
    bool closing;           /* the server wants to end: twp DONE after
                               HELLO; HTTP the next response closes */
    bool fin_now;           /* HTTP/1.0 close: our FIN once it is written */
    bool naive;             /* naive_close mode: close first once written */
    bool held;              /* the application holds a request (HTTP
                               tw_sconn_defer): the client waits for us, so
                               no idle, stall or head timer runs for it */
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
    const struct tw__proto *proto;
    struct tw_server_opts o;
    tw_accept acc;
    tw_timer accept_timer;
    tw_timer shutdown_timer;
    bool shutting_down, paused_full;
    struct tw_list conns;
    unsigned nconns;
    struct tw_server_stats st;
    char date[30];          /* HTTP Date, refreshed once a second */
    uint64_t date_ms;
    uint64_t date_gen;      /* how many times date was refreshed */
    /* The last response head without extra headers, as tw_http_write_head
     * wrote it: the next one with the same status, content type, length,
     * Connection and Date is a copy of it (http.c, put_response). */
    struct {
        uint64_t date_gen; /* 0: empty */
        int64_t body_len;
        int status;
        enum tw_http_conn conn;
        uint32_t len;
        char ctype[64];
        char head[192];
    } head_cache;
    struct tw_http_req req; /* the request being handled (one at a time) */
};

/* Whether the connection is still there after a call that may end it. */
typedef enum { SC_FREED = 0, SC_ALIVE = 1 } sc_live;

/* A protocol on the life cycle. server.c calls a protocol only through
 * this; the protocols call server.c's functions below. */
struct tw__proto {
    enum sc_state first;      /* the state after accept */
    /* bytes that arrived in HELLO..GOODBYE_SENT (NULL, 0: parse what waits
     * in c->in, after backpressure) */
    sc_live (*input)(tw_sconn *c, uint8_t *data, uint32_t n);
    void (*finish)(tw_sconn *c);               /* the server wants to end */
    bool (*head_due)(const tw_sconn *c);       /* OPEN: a request head is awaited */
    uint64_t (*done_wait)(const tw_sconn *c);  /* DONE_SENT, all acked: wait this */
    void (*done_over)(tw_sconn *c);            /* ... then this */
    bool close_first_ok;      /* the protocol may require our FIN first */
    bool rst_after_fin_ok;    /* after_fin RST is allowed */
};
extern const struct tw__proto tw__proto_twp, tw__proto_http;

/* Counters are written by the loop's thread alone and read by others
 * (twkit serve's /metrics): relaxed atomic stores, no read-modify-write. */
static inline void tw__stat_add(uint64_t *p, int64_t d)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + (uint64_t)d, __ATOMIC_RELAXED);
}
static inline void tw__stat_inc(uint64_t *p) { tw__stat_add(p, 1); }

/* server.c: the only ways a connection ends, output, timers */
void tw__sconn_abort(tw_sconn *c, uint64_t *counter);
sc_live tw__sconn_close_first(tw_sconn *c); /* the protocol requires it */
void tw__sconn_naive_close_after(tw_sconn *c); /* once the reply is written */
sc_live tw__sconn_flush(tw_sconn *c);
void tw__sconn_arm(tw_sconn *c, uint64_t at); /* make the timer fire by then */
void tw__sconn_end_wait(tw_sconn *c, enum sc_state st, uint64_t *counter);

#endif
