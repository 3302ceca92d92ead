/* twkit probe: the options of the kinds that have some, as their keys
 * leave them in def->opts. Each kind's file reads its own; the unit tests
 * read them all. (A kind whose options nobody else reads can keep its
 * struct in its own file.)
 */
#ifndef TW_PROBE_KINDS_H
#define TW_PROBE_KINDS_H

#include <stddef.h>
#include <stdint.h>

#include "probe/config.h"
#include "probe/probe.h"
#include "probe/regex.h"

/* One step of a tcp conversation, blackbox_exporter's query_response
 * item: first expect, then send, then starttls, each if set. */
struct tp_tcp_step {
    struct tp_regex expect;   /* read lines until one matches; no code:
                                 none (an empty regex is one: any line) */
    char *send;               /* sent as written and "\n", ${1}.. of this
                                 step's expect expanded (Go's Expand);
                                 NULL: none; "" sends nothing */
    size_t send_len;
    bool starttls;            /* then a TLS handshake on the connection */
    unsigned long starttls_line, starttls_col; /* where starttls was written */
};

/* The tcp kind's keys (tcp_keys.c). */
#define TP_TCP_NKEYS 4
extern const struct tp_key tp_tcp_keys[TP_TCP_NKEYS];

struct tp_tcp_opts {
    /* twkit's short form: send, then expect, on raw bytes */
    char *send;               /* bytes to send once connected, escapes
                                 (\r \n \t \\ \0 \xHH) decoded; NULL: none */
    size_t send_len;
    struct tp_regex expect;   /* the first bytes read must match it; no
                                 text: connecting is enough */
    /* blackbox_exporter's form (query_response: cannot be written with
     * send or expect) */
    struct tp_tcp_step *steps;
    size_t nsteps;
    bool query_response;      /* written (it may have no steps) */
    bool tls;                 /* a TLS handshake once connected */
    unsigned long send_line, expect_line, qr_line; /* where each was
                                 written, for "cannot both be set" */
};

struct tp_range {
    uint16_t lo, hi; /* HTTP status codes, inclusive */
};

struct tp_http_opts {
    char *method;             /* default "GET" */
    struct tp_range *status;  /* expect_status; default 200-299 */
    size_t nstatus;
    struct tp_kv *headers;    /* request headers */
    size_t nheaders;
    char *body;               /* request body; NULL: none */
    struct tp_regex expect_body; /* the response body must match it */
    unsigned max_redirects;   /* default 0: a 3xx is judged as it is */
};

struct tp_tls_opts {
    char *server_name;        /* SNI and name to verify; NULL: the host */
};

#endif
