/* twkit probe: the options of the kinds that have some, as their keys
 * leave them in def->opts. Each kind's file reads its own; the unit tests
 * read them all. (A kind whose options nobody else reads can keep its
 * struct in its own file.)
 */
#ifndef TW_PROBE_KINDS_H
#define TW_PROBE_KINDS_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/probe.h"

struct tp_tcp_opts {
    char *send;               /* bytes to send once connected, escapes
                                 (\r \n \t \\ \0 \xHH) decoded; NULL: none */
    size_t send_len;
    char *expect;             /* regex (POSIX extended) the first bytes read
                                 must match; NULL: connecting is enough */
    regex_t expect_re;        /* compiled when expect != NULL */
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
    char *expect_body;        /* regex the response body must match */
    regex_t expect_body_re;   /* compiled when expect_body != NULL */
    unsigned max_redirects;   /* default 0: a 3xx is judged as it is */
};

struct tp_tls_opts {
    char *server_name;        /* SNI and name to verify; NULL: the host */
};

#endif
