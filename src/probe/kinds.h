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

/* fail_if_header_matches / fail_if_header_not_matches: one item */
struct tp_header_match {
    char *header;
    struct tp_regex re;
    bool allow_missing;
};

/* A JSON body check (fail_if_body_json_not_matches): the value at path
 * (dot-separated object keys and array indexes) must exist and equal
 * equals (as JSON text: "ok", 3, true, null) or match re. */
struct tp_json_check {
    char *path;           /* as written, for messages */
    char **seg;           /* path split at the dots */
    size_t nseg;
    char *equals;         /* the YAML scalar as written; NULL: re */
    struct tp_regex re;
};

enum tp_compression { TP_COMP_NONE, TP_COMP_IDENTITY, TP_COMP_GZIP, TP_COMP_DEFLATE, TP_COMP_BR };

/* bits of tp_http_opts.versions (valid_http_versions) */
#define TP_HTTP_V10 1u
#define TP_HTTP_V11 2u
#define TP_HTTP_V20 4u
#define TP_HTTP_V30 8u

struct tp_http_opts {
    char *method;             /* default "GET" */
    struct tp_range *status;  /* expect_status or valid_status_codes;
                                 default 200-299 */
    size_t nstatus;
    struct tp_kv *headers;    /* request headers */
    size_t nheaders;
    char *body;               /* request body; NULL: none */
    struct tp_regex expect_body; /* the response body must match it */
    unsigned max_redirects;   /* followed at most (default 10) */
    bool follow;              /* follow redirects at all (default true) */
    bool fail_if_ssl, fail_if_not_ssl;
    struct tp_regex *body_bad, *body_good; /* fail_if_body_matches_regexp,
                                              fail_if_body_not_matches_regexp */
    size_t nbody_bad, nbody_good;
    struct tp_header_match *hdr_bad, *hdr_good; /* fail_if_header_matches,
                                                   fail_if_header_not_matches */
    size_t nhdr_bad, nhdr_good;
    struct tp_json_check *json;
    size_t njson;
    unsigned versions;        /* TP_HTTP_V*; 0: any */
    enum tp_compression compression;
    uint64_t body_size_limit; /* bytes after decoding; 0: none */
    char *proxy_url;          /* NULL: none (the environment's only with
                                 proxy_env) */
    char *no_proxy;           /* hosts, domains, CIDRs not to proxy_url, as
                                 written (Go's rules: kind_http_proxy.c) */
    bool proxy_env;           /* proxy_from_environment */
    char **proxy_hdrs;        /* proxy_connect_header: "Name: value" lines
                                 for a CONNECT */
    size_t nproxy_hdrs;
    bool proxy_hdrs_written;  /* the map had a pair (blackbox then wants a
                                 proxy, even for no values) */
    bool skip_resolve;        /* skip_resolve_phase_with_proxy (with
                                 proxy_url: def->no_resolve) */
    struct tp_pos no_proxy_at, proxy_hdrs_at; /* for "needs proxy_url" */
    char *user, *password, *password_file; /* basic_auth */
    bool basic_auth;
    char *bearer, *bearer_file;
    bool http2;               /* enable_http2 (default true) */
    unsigned written;         /* HTTPW_*: which spellings were written */
};
struct tp_tls_opts {
    char *server_name;        /* SNI and name to verify; NULL: the host */
};

/* The icmp kind's: blackbox_exporter's icmp options. */
struct tp_icmp_opts {
    unsigned payload_size;    /* 0: blackbox's text alone (28 bytes) */
    unsigned ttl;             /* TTL / hop limit; default 64, 0: the
                                 system's */
    bool df;                  /* dont_fragment (IPv4 only, as blackbox) */
};

#endif
