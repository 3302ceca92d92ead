/* twkit probe: the TLS client the kinds share (tls_client.c): the tls
 * kind's handshake, and the tcp kind's `tls: true` and `starttls` steps.
 * One nonblocking OpenSSL handshake for both, on the engine's loop.
 *
 * Verification runs in OpenSSL with SSL_VERIFY_NONE: the handshake always
 * completes so the certificates can be reported even when they do not
 * verify, and the verdict (tls_verify) is taken from SSL_get_verify_result
 * by tp_tls_judge.
 */
#ifndef TW_PROBE_TLS_CLIENT_H
#define TW_PROBE_TLS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "probe/probe.h"

struct ssl_st;
struct ssl_ctx_st;
struct bio_method_st;

/* The SSL_CTXs of one kind's definitions, indexed like
 * tp_engine_config(e)->defs (NULL where a definition needs none; the
 * definitions reach the kinds const, so the contexts cannot live in them).
 * Definitions with the same TLS settings (ca_file, cert_file, key_file,
 * tls_min_version) share one: a loaded CA store (the system's is a few
 * hundred certificates) is most of a context's memory. */
struct tp_tlsctx {
    struct bio_method_st *wmeth; /* writes with MSG_NOSIGNAL (tls_client.c) */
    size_t ndefs;
    struct ssl_ctx_st **ctx;
};

/* Contexts for the definitions of cfg that need(def) picks. Returns 0;
 * -EINVAL after printing why a context could not be made (a ca_file that
 * is no PEM: "FILE:LINE:COL: probe "x": cannot load ca_file ...") to
 * stderr; or -ENOMEM. On failure nothing is left to free. */
int tp_tlsctx_init(struct tp_tlsctx *tc, const struct tp_config *cfg,
                   bool (*need)(const struct tp_def *def));
void tp_tlsctx_fini(struct tp_tlsctx *tc);

/* A client SSL over the connected socket fd (not owned) for definition idx
 * of the config, with SNI and the name or address the certificate must
 * match set from name. Returns 0 with *out set, or -errno (-EINVAL: no
 * context for idx, or a name no certificate can carry). */
int tp_tls_new(const struct tp_tlsctx *tc, size_t idx, int fd, const char *name,
               struct ssl_st **out);

/* One turn of the handshake: 1 done; 0 not yet, wait for *want
 * (TW_IO_READ or TW_IO_WRITE); -1 it failed, with r a failure saying why
 * (reason "tls" and OpenSSL's reason, or the connection's errno: a reset
 * is a reset). */
int tp_tls_handshake(struct ssl_st *ssl, unsigned *want, struct tp_result *r);

/* After the handshake: the certificates into r (tp_tls_certs), the
 * verification result, judged by def->tls_verify. Returns true if the
 * connection is to be trusted; false with r a failure (reason "verify",
 * OpenSSL's text in detail), keeping the certificate fields only with
 * keep_rejected (the tls kind reports an expired certificate's expiry;
 * the tcp kind reports none, as blackbox_exporter). */
bool tp_tls_judge(struct ssl_st *ssl, const struct tp_def *def, struct tp_result *r,
                  bool keep_rejected);

/* SSL_read / SSL_write after the handshake: bytes (> 0); 0 (read) the peer
 * closed, with or without close_notify; -EAGAIN with *want set; or -1
 * with r a failure saying why (what: "reading", "writing"). */
ssize_t tp_tls_read(struct ssl_st *ssl, void *buf, size_t n, unsigned *want,
                    struct tp_result *r);
ssize_t tp_tls_write(struct ssl_st *ssl, const void *buf, size_t n, unsigned *want,
                     struct tp_result *r);

/* With close: graceful, one close_notify (no waiting for the peer's); then
 * free ssl (its BIOs do not own the socket). NULL is fine. */
void tp_tls_end(struct ssl_st *ssl, const struct tp_def *def, bool handshook);

/* ---- tls_resumption (tls_resume.c) ----
 * With def->tls_resumption, t->keep holds the session of the target's last
 * trusted full handshake and the certificate fields that handshake found
 * (a resumed handshake carries no certificate: what it reports is those).
 * A kind calls, around its handshake on ssl:
 *   tp_resume_offer before it: offers the session unless there is none or
 *     a full handshake is due at now_ms (tls_full_handshake_every after
 *     the last); a TLS 1.2 session offers no newer version. True: offered.
 *   tp_resume_verdict once it completed, in place of tp_tls_judge: a
 *     resumed one is trusted, r's TLS fields (and outcome) those of the
 *     session's full handshake and r->handshake TP_HS_RESUMED, r's phases
 *     kept; a full one is judged (tp_tls_judge, keep_rejected as there),
 *     r->handshake set (full, or full_after_refused_resumption), and a
 *     trusted one's fields and session kept. Returns whether it is trusted.
 *   tp_resume_take after reading on: true once t has what it needs; false
 *     while a TLS 1.3 session's ticket, sent after the handshake, is still
 *     to be read (a probe that reads nothing else waits for it at most
 *     tp_resume_ticket_wait_ms).
 *   tp_resume_failed when the handshake failed: if it offered a session,
 *     that is forgotten (the next handshake is full) and r says so.
 * tp_resume_forget is the kinds' forget. Without tls_resumption they do
 * nothing but judge (offer returns false, take true). */
bool tp_resume_offer(struct tp_target *t, struct ssl_st *ssl, uint64_t now_ms);
bool tp_resume_verdict(struct tp_target *t, struct ssl_st *ssl, bool offered, bool keep_rejected,
                       struct tp_result *r, uint64_t now_ms);
bool tp_resume_take(struct tp_target *t, struct ssl_st *ssl);
/* While waiting for the ticket, ssl readable: read what came. True when
 * the wait is over (the ticket kept, or data or an error instead). */
bool tp_resume_ticket_read(struct tp_target *t, struct ssl_st *ssl);
void tp_resume_failed(struct tp_target *t, bool offered, struct tp_result *r);
/* How long to wait for the ticket: 250 ms, never past half of what the
 * probe's deadline leaves. */
uint64_t tp_resume_ticket_wait_ms(const struct tp_target *t);
void tp_resume_forget(struct tp_target *t);

#endif
