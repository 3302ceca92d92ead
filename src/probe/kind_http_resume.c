/* The http kind's tls_resumption: what a target keeps between probes
 * (t->keep) is curl's session cache, in a share of the target's own (only
 * its lane's thread uses it: no locks), and what the full handshake of the
 * last trusted probe found, which a resumed one reports (it receives no
 * certificate: there is nothing new to check). A handshake or a
 * verification that fails, a probe that times out, or a full handshake that
 * comes due, empties the cache: the next handshake is full, its chain
 * verified and read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "probe/kind_http.h"
#include "probe/kinds.h"
#include "probe/probe.h"

struct http_keep {
    CURLSH *share;          /* NULL: made at the next probe's start */
    bool trusted;           /* share holds sessions of a successful probe */
    uint64_t full_due_ms;   /* loop ms: a full handshake from then on */
    char *host;             /* "host:port" the certificates below are of */
    struct tp_result certs; /* tls, expiries, verify, version, leaf_info */
};

static bool resumption(const struct tp_target *t)
{
    return t->def->tls_resumption;
}

void tp_http_keep_reset(struct tp_target *t)
{
    struct http_keep *k = t->keep;

    if (!k)
        return;
    /* Called with no handle using it (after the probe's is cleaned up):
     * curl frees nothing of a share still in use. */
    curl_share_cleanup(k->share);
    k->share = NULL;
    k->trusted = false;
}

void tp_http_forget(struct tp_target *t)
{
    struct http_keep *k = t->keep;

    if (!k)
        return;
    tp_http_keep_reset(t);
    free(k->host);
    tp_result_release(&k->certs);
    free(k);
    t->keep = NULL;
}

int tp_http_keep_start(struct tp_target *t, bool *offered)
{
    struct http_keep *k = t->keep;

    *offered = false;
    if (!resumption(t))
        return 0;
    if (!k && !(k = t->keep = calloc(1, sizeof(*k))))
        return -ENOMEM;
    if (k->trusted && tw_loop_now(tp_engine_loop(t->engine)) >= k->full_due_ms)
        tp_http_keep_reset(t);
    if (!k->share) {
        if (!(k->share = curl_share_init()) ||
            curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
                CURLSHE_OK) {
            tp_http_keep_reset(t);
            return -ENOMEM;
        }
    }
    *offered = k->trusted;
    return 0;
}

CURLSH *tp_http_keep_share(const struct tp_target *t)
{
    const struct http_keep *k = t->keep;

    return k && resumption(t) ? k->share : NULL;
}

void tp_http_hop_certs(struct tp_target *t, struct ssl_st *ssl, const char *host, bool offered,
                       struct tp_result *r)
{
    const struct http_keep *k = t->keep;

    if (!resumption(t) || !k) {
        tp_tls_certs(ssl, t->def->tls_verify, r);
        return;
    }
    if (!SSL_session_reused(ssl)) {
        tp_tls_certs(ssl, t->def->tls_verify, r);
        r->handshake = offered ? TP_HS_REFUSED : TP_HS_FULL;
        return;
    }
    if (offered && k->host && host && !strcasecmp(host, k->host))
        tp_tls_report_copy(r, &k->certs);
    else /* a session of another hop's host: what the connection has */
        tp_tls_certs(ssl, t->def->tls_verify, r);
    r->handshake = TP_HS_RESUMED;
}

void tp_http_keep_end(struct tp_target *t, const char *host, const struct tp_result *r)
{
    struct http_keep *k = t->keep;

    if (!resumption(t) || !k)
        return;
    if (r->outcome != TP_SUCCESS && r->reason &&
        (!strcmp(r->reason, "tls") || !strcmp(r->reason, "verify"))) {
        tp_http_keep_reset(t);
        return;
    }
    /* A connection refused, a status or a body that fails, says nothing of
     * the sessions; a full handshake that completed (curl verified it) is
     * trusted whatever the answer after it. */
    if (!r->tls || (r->handshake != TP_HS_FULL && r->handshake != TP_HS_REFUSED))
        return;
    tp_tls_report_copy(&k->certs, r);
    free(k->host);
    k->host = host ? strdup(host) : NULL;
    k->trusted = k->host != NULL;
    k->full_due_ms = tw_loop_now(tp_engine_loop(t->engine)) + t->def->tls_full_every_ms;
}
