/* The http kind's parts (kind_http.c runs the transfers, kind_http_keys.c
 * reads the config, kind_http_checks.c judges the answer,
 * kind_http_resume.c keeps tls_resumption's sessions): what they share.
 */
#ifndef TW_PROBE_KIND_HTTP_H
#define TW_PROBE_KIND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "probe/config.h"
#include "probe/kinds.h"
#include "probe/probe.h"

extern const struct tp_kind tp_kind_http;

#define TP_HTTP_NKEYS 29
extern const struct tp_key tp_http_keys[TP_HTTP_NKEYS];

#define TP_HTTP_NMETRICS 13
extern const struct tp_metric tp_http_metrics[TP_HTTP_NMETRICS]; /* kind_http_metrics.c */
/* A result's http fields for the JSON log. */
void tp_http_json(FILE *f, const struct tp_result *r);

/* An http:// or https:// URL (the kind's parse_target). */
int tp_http_parse_target(const char *target, struct tp_endpoint *ep, const char **why);

/* The answer keys' apply and free (kind_http_keys_match.c), for the table
 * in kind_http_keys.c. */
bool tp_http_set_expect_body(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
void tp_http_free_expect_body(struct tp_def *def);
bool tp_http_add_body_bad(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
bool tp_http_add_body_good(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
void tp_http_free_body_bad(struct tp_def *def);
void tp_http_free_body_good(struct tp_def *def);
bool tp_http_set_hdr_bad(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
bool tp_http_set_hdr_good(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
void tp_http_free_hdr_bad(struct tp_def *def);
void tp_http_free_hdr_good(struct tp_def *def);
bool tp_http_set_json(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
void tp_http_free_json(struct tp_def *def);

/* The proxy keys (kind_http_proxy.c), for the table in kind_http_keys.c;
 * tp_http_no_proxy_url is proxy_url's absent hook (what needs it). */
bool tp_http_set_proxy(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
void tp_http_free_proxy(struct tp_def *def);
bool tp_http_no_proxy_url(struct tp_cfgctx *c, struct tp_def *def);
bool tp_http_set_no_proxy(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
void tp_http_free_no_proxy(struct tp_def *def);
bool tp_http_set_proxy_env(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
bool tp_http_add_proxy_hdr(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
void tp_http_free_proxy_hdrs(struct tp_def *def);
bool tp_http_set_skip_resolve(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);

/* Whether a request to host (no brackets) on port (decimal) takes its
 * proxy under no_proxy (a comma-separated list; NULL: none), by Go's
 * rules: never for localhost or a loopback address; "*" exempts all, a
 * CIDR the addresses in it, an address (with a port, perhaps) itself,
 * "example.com" it and its subdomains, ".example.com" and
 * "*.example.com" the subdomains only, each with ":PORT" for that port
 * alone. */
bool tp_http_use_proxy(const char *no_proxy, const char *host, const char *port);

/* A probe's proxy settings over its hops (kind_http_proxy.c). */
struct tp_http_proxy_run {
    struct curl_slist *headers;    /* proxy_connect_header's lines */
    struct curl_slist *connect_to; /* where the first URL's host is to be
                                      reached (the engine's address), so
                                      that a CONNECT names it */
};
/* Its headers, from t's options: 0 or -ENOMEM. */
int tp_http_proxy_start(struct tp_http_proxy_run *px, const struct tp_target *t);
/* https requests to name:port go to to:port (an address or a name). */
int tp_http_proxy_pin(struct tp_http_proxy_run *px, const char *name, uint16_t port,
                      const char *to);
/* The proxy options of the hop to url on c (first: the hop goes to the
 * first URL's host and port, which the engine resolved). */
CURLcode tp_http_proxy_hop(struct tp_http_proxy_run *px, CURL *c, const struct tp_target *t,
                           const char *url, bool first);
void tp_http_proxy_free(struct tp_http_proxy_run *px);

/* tls_resumption (kind_http_resume.c): the sessions and certificates a
 * target keeps between probes, in t->keep. */
/* Before a probe: *offered, whether sessions of a trusted probe are there
 * to offer; the cache is emptied first when a full handshake is due. */
int tp_http_keep_start(struct tp_target *t, bool *offered);
/* The session cache for the probe's handle, NULL without tls_resumption. */
CURLSH *tp_http_keep_share(const struct tp_target *t);
/* A hop's handshake is done: its certificates into r, read from the
 * connection or, when it resumed a session of host's trusted full
 * handshake, that handshake's; r->handshake says which it was. */
void tp_http_hop_certs(struct tp_target *t, struct ssl_st *ssl, const char *host, bool offered,
                       struct tp_result *r);
/* The probe is over, r its result, host its last hop's: a full handshake
 * that completed leaves its sessions and certificates; a failed handshake
 * or verification empties the cache. */
void tp_http_keep_end(struct tp_target *t, const char *host, const struct tp_result *r);
/* Empty the cache: the next probe is full. */
void tp_http_keep_reset(struct tp_target *t);
/* The kind's forget: what tls_resumption keeps, freed. */
void tp_http_forget(struct tp_target *t);

/* Redirects followed when nothing says otherwise, as blackbox_exporter
 * (Go's client) follows them. */
#define TP_HTTP_MAX_REDIRECTS_DEFAULT 10

/* The http kind's slots of a result's kind_val. */
enum {
    HTTP_STATUS,       /* of the last response; 0: none */
    HTTP_REDIRECTS,    /* as blackbox counts them (a redirect not followed
                          counts too) */
    HTTP_CLEN,         /* Content-Length of the last response, -1 unknown */
    HTTP_BODY_LEN,     /* its body's bytes after decoding */
    HTTP_VERSION,      /* 10, 11, 20, 30; 0: no response */
    HTTP_SSL,          /* 1: the last response came over TLS */
    HTTP_LAST_MOD,     /* Last-Modified, unix seconds */
    HTTP_HAS_LAST_MOD, /* 1: HTTP_LAST_MOD is set */
};

/* Body checks see at most this much of the decoded body, or up to
 * body_size_limit when that is larger (up to TP_HTTP_KEEP_MAX). */
#define TP_HTTP_KEEP (1024u * 1024)
#define TP_HTTP_KEEP_MAX (64u * 1024 * 1024)

/* The last response of a probe as the checks see it (kind_http_checks.c):
 * its header lines, its body decoded as `compression` says, and why the
 * body could not be read to its end. Reset at every status line, so a
 * 100 Continue or a redirect leaves nothing behind. */
struct tp_http_resp {
    long status;
    char *hdrs;           /* "name\0value\0" pairs, values trimmed */
    size_t hdrs_len, hdrs_cap;
    bool discard;         /* a redirect to follow: its body is nobody's */
    char *body;           /* the decoded body's first `keep` bytes */
    size_t body_len, body_cap, keep;
    uint64_t decoded;     /* decoded bytes, counted up to body_size_limit */
    bool too_large;       /* more than body_size_limit: stopped there */
    bool bad_encoding;    /* the body does not decode as `compression` */
    char why[96];         /* the decoder's complaint */
    bool unread;          /* a redirect not followed: its body was never
                             read (blackbox's client closes it) */
    void *dec;            /* the decoder's state */
    bool dec_done;        /* the compressed stream ended */
    int dec_kind;         /* enum tp_compression of dec */
};

void tp_http_resp_reset(struct tp_http_resp *h, const struct tp_http_opts *o);
void tp_http_resp_free(struct tp_http_resp *h);
/* One header line as curl hands it ("Name: value\r\n"): 0, or -ENOMEM. */
int tp_http_resp_header(struct tp_http_resp *h, const char *line, size_t len);
/* The first value of header name (case-insensitive), or NULL; *from:
 * where to go on for the next (start with 0). */
const char *tp_http_resp_value(const struct tp_http_resp *h, const char *name, size_t *from);
/* len body bytes as received: decoded, counted, kept. Returns 0 to go on,
 * 1 when the body need not or must not be read further (limit reached,
 * undecodable), -ENOMEM. */
int tp_http_resp_body(struct tp_http_resp *h, const struct tp_http_opts *o, const char *p,
                      size_t len);
/* The transfer ended normally: a compressed stream cut short is bad. */
void tp_http_resp_end(struct tp_http_resp *h);

/* A transfer that ended with code, without an answer to judge
 * (kind_http_checks.c): r's outcome, reason and detail in blackbox's words
 * (errbuf: curl's message or ""; tls: the hop speaks https).
 * tp_http_from_errno: the same for an errno (tp_result_errno's mapping,
 * curl's message kept). The predicates: curl's codes for a chain that did
 * not verify, and for a handshake that failed. */
void tp_http_judge_failed(CURL *easy, CURLcode code, const char *errbuf, bool tls,
                          struct tp_result *r);
void tp_http_from_errno(const char *errbuf, struct tp_result *r, int err);
bool tp_http_verify_code(CURLcode c);
bool tp_http_tls_code(CURLcode c);

/* Judge a response that arrived (status, headers, body, version, TLS) as
 * blackbox_exporter does, in its order; r->outcome, reason, detail and
 * regex_failed are set. version: HTTP_VERSION's number; tls: the last
 * response came over TLS. */
void tp_http_judge(const struct tp_http_opts *o, struct tp_http_resp *h, int version, bool tls,
                   struct tp_result *r);

#endif
