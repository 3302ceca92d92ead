/* twkit probe: the options of the kinds that have some, as their keys
 * leave them in def->opts. Each kind's file reads its own; the unit tests
 * read them all. (A kind whose options nobody else reads can keep its
 * struct in its own file.)
 */
#ifndef TW_PROBE_KINDS_H
#define TW_PROBE_KINDS_H

#include <stddef.h>
#include <stdint.h>

#include "probe/probe.h"
#include "probe/regex.h"

struct tp_tcp_opts {
    char *send;               /* bytes to send once connected, escapes
                                 (\r \n \t \\ \0 \xHH) decoded; NULL: none */
    size_t send_len;
    struct tp_regex expect;   /* the first bytes read must match it; no
                                 text: connecting is enough */
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
