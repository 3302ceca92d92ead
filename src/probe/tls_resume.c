/* tls_resumption for the kinds that run OpenSSL on their own socket (tls,
 * tcp's `tls: true` and starttls, DNS over TLS): what a target keeps
 * between probes (t->keep) is the session of its last trusted full
 * handshake and the certificate fields that handshake found, which a
 * resumed probe reports (a resumed handshake carries no certificate: there
 * is nothing new to check). The http kind's sessions are curl's
 * (kind_http_resume.c).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe/tls_client.h"
#include "twkit/time.h"

struct tp_tls_keep {
    SSL_SESSION *sess;      /* NULL: the next handshake is a full one */
    bool want_ticket;       /* a trusted full TLS 1.3 handshake whose
                               ticket is still to be read */
    uint64_t full_due_ms;   /* loop ms: a full handshake from then on */
    struct tp_result certs; /* tls, expiries, verify, version, leaf_info */
};

/* A TLS 1.3 server sends its tickets after the handshake: wait this long */
#define TICKET_WAIT_MS 250

static void drop(struct tp_tls_keep *k)
{
    SSL_SESSION_free(k->sess);
    k->sess = NULL;
    k->want_ticket = false;
}

void tp_resume_forget(struct tp_target *t)
{
    struct tp_tls_keep *k = t->keep;

    if (!k)
        return;
    drop(k);
    tp_result_release(&k->certs);
    free(k);
    t->keep = NULL;
}

/* Resuming a session below TLS 1.3: offer no newer version. A ClientHello
 * that offers TLS 1.3 carries a key share, one key generated per probe
 * (an eighth of a resumed TLS 1.2 probe's CPU) for a server that answered
 * TLS 1.2 last time. The full handshake due at its period offers every
 * version again (a refused resumption's stays at TLS 1.2), so a server
 * that moved to TLS 1.3 is seen then. */
static void offer_no_newer(SSL *ssl, const SSL_SESSION *sess)
{
    int v = SSL_SESSION_get_protocol_version(sess);

    if (v > 0 && v < TLS1_3_VERSION)
        SSL_set_max_proto_version(ssl, v);
}

bool tp_resume_offer(struct tp_target *t, SSL *ssl, uint64_t now_ms)
{
    struct tp_tls_keep *k = t->keep;

    if (!t->def->tls_resumption)
        return false;
    if (!k && (k = t->keep = calloc(1, sizeof(*k))))
        k->certs.verify = -1;
    if (!k || !k->sess)
        return false;
    if (tw_ms_diff(now_ms, k->full_due_ms) >= 0) {
        drop(k); /* a full handshake (the chain verified) is due */
        return false;
    }
    if (SSL_set_session(ssl, k->sess) != 1)
        return false;
    offer_no_newer(ssl, k->sess);
    return true;
}

/* A completed handshake that resumed t's session: r's TLS fields (and
 * outcome) become its full handshake's, its phases kept. */
static bool resumed(struct tp_target *t, SSL *ssl, struct tp_result *r)
{
    struct tp_tls_keep *k = t->keep;
    double phase[TP_NPHASE];

    if (!t->def->tls_resumption || !k || !k->sess || !SSL_session_reused(ssl))
        return false;
    memcpy(phase, r->phase, sizeof(phase));
    tp_result_release(r);
    *r = k->certs;
    r->leaf_info = tp_leaf_dup(k->certs.leaf_info);
    memcpy(r->phase, phase, sizeof(phase));
    r->handshake = TP_HS_RESUMED;
    return true;
}

/* Keep ssl's session if it can be resumed. */
static bool take(struct tp_tls_keep *k, SSL *ssl)
{
    SSL_SESSION *sess = SSL_get1_session(ssl);

    if (!sess || !SSL_SESSION_is_resumable(sess)) {
        SSL_SESSION_free(sess);
        return false;
    }
    SSL_SESSION_free(k->sess);
    k->sess = sess;
    k->want_ticket = false;
    return true;
}

/* A full handshake, judged: r says so, and a trusted one's fields and
 * session are kept (a TLS 1.3 one's session once its ticket is read). */
static void full(struct tp_target *t, SSL *ssl, bool offered, bool trusted, struct tp_result *r,
                 uint64_t now_ms)
{
    struct tp_tls_keep *k = t->keep;

    if (!t->def->tls_resumption || !k)
        return;
    r->handshake = offered ? TP_HS_REFUSED : TP_HS_FULL;
    drop(k);
    if (!trusted)
        return; /* nothing trusted to resume */
    tp_result_release(&k->certs);
    k->certs = *r;
    k->certs.leaf_info = tp_leaf_dup(r->leaf_info);
    memset(k->certs.phase, 0, sizeof(k->certs.phase));
    k->full_due_ms = now_ms + t->def->tls_full_every_ms;
    if (!take(k, ssl) && SSL_version(ssl) >= TLS1_3_VERSION)
        k->want_ticket = true;
}

bool tp_resume_verdict(struct tp_target *t, SSL *ssl, bool offered, bool keep_rejected,
                       struct tp_result *r, uint64_t now_ms)
{
    bool trusted;

    /* A resumed handshake carries no certificate: reading the chain again
     * (expiries, names, fingerprint) would be waste. */
    if (offered && resumed(t, ssl, r))
        return true;
    trusted = tp_tls_judge(ssl, t->def, r, keep_rejected);
    full(t, ssl, offered, trusted, r, now_ms);
    return trusted;
}

bool tp_resume_take(struct tp_target *t, SSL *ssl)
{
    struct tp_tls_keep *k = t->keep;

    return !k || !k->want_ticket || (ssl && take(k, ssl));
}

bool tp_resume_ticket_read(struct tp_target *t, SSL *ssl)
{
    char buf[256];
    int n, err;

    ERR_clear_error(); /* SSL_get_error reads the thread's queue */
    n = SSL_read(ssl, buf, sizeof(buf));
    err = n > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, n);
    /* the ticket, or data instead of it, or an error: the wait is over */
    if (tp_resume_take(t, ssl) || (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)) {
        ERR_clear_error();
        return true;
    }
    return false;
}

void tp_resume_failed(struct tp_target *t, bool offered, struct tp_result *r)
{
    if (!offered || !t->keep)
        return;
    drop(t->keep); /* a failed handshake that offered a session: the next is full */
    r->handshake = TP_HS_REFUSED;
}

uint64_t tp_resume_ticket_wait_ms(const struct tp_target *t)
{
    /* never so long that the probe's own deadline takes its success */
    uint64_t spent = (tw_now_ns() - t->started_ns) / 1000000, wait = TICKET_WAIT_MS;

    if (spent + 2 * wait > t->timeout_ms)
        wait = t->timeout_ms > spent ? (t->timeout_ms - spent) / 2 : 0;
    return wait;
}
