/* twkit probe: the TLS client the kinds share (tls_client.h).
 *
 * Writes go through a small BIO of our own that sends with MSG_NOSIGNAL: the
 * stock socket BIO uses write(), and a target that resets in the middle of
 * the handshake would otherwise kill the prober with SIGPIPE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "probe/tls_client.h"
#include "twkit/error.h"
#include "twkit/loop.h"

/* ---- a write-only socket BIO that cannot raise SIGPIPE ---- */

static int wbio_write(BIO *b, const char *buf, int len)
{
    int fd = (int)(intptr_t)BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* nothing buffered here */
    case BIO_C_GET_FD:
        if (ptr)
            *(int *)ptr = (int)(intptr_t)BIO_get_data(b);
        return (long)(intptr_t)BIO_get_data(b);
    default:
        return 0;
    }
}

static int wbio_create(BIO *b)
{
    BIO_set_data(b, (void *)(intptr_t)-1);
    return 1;
}

static BIO_METHOD *wbio_method(void)
{
    int type = BIO_get_new_index();
    BIO_METHOD *m;

    if (type < 0 || !(m = BIO_meth_new(type | BIO_TYPE_SOURCE_SINK, "twkit nosigpipe")))
        return NULL;
    if (!BIO_meth_set_write(m, wbio_write) || !BIO_meth_set_ctrl(m, wbio_ctrl) ||
        !BIO_meth_set_create(m, wbio_create)) {
        BIO_meth_free(m);
        return NULL;
    }
    return m;
}

/* ---- contexts ---- */

/* The first error queued is the cause ("No such file or directory"); the
 * later ones only wrap it ("system lib"). */
static const char *ssl_errstr(char *buf, size_t len)
{
    unsigned long err = ERR_peek_error();
    const char *reason = err ? ERR_reason_error_string(err) : NULL;

    if (err && ERR_SYSTEM_ERROR(err))
        return tw_strerror(ERR_GET_REASON(err));
    if (reason)
        return reason;
    if (!err)
        return "unknown OpenSSL error";
    ERR_error_string_n(err, buf, len);
    return buf;
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Whether a context made for a serves b as well. */
static bool same_tls(const struct tp_def *a, const struct tp_def *b)
{
    return same_str(a->ca_file, b->ca_file) && same_str(a->cert_file, b->cert_file) &&
           same_str(a->key_file, b->key_file) && a->tls_min_version == b->tls_min_version;
}

/* The system's CA store, loaded whole from its bundle file when there is
 * one. SSL_CTX_set_default_verify_paths adds the hashed directory and the
 * OpenSSL 3 "store" on top, and those are searched on disk (a stat, and a
 * scan of /etc/ssl/certs) at every verification that meets an issuer not in
 * memory: a self-signed target, a server that omits its intermediate. That
 * would be file system work on the loop at every probe, for certificates
 * the bundle holds anyway where both exist (Debian's update-ca-certificates
 * writes both). */
static int load_system_store(SSL_CTX *ctx)
{
    const char *file = secure_getenv(X509_get_default_cert_file_env());

    /* SSL_CERT_DIR alone: a directory was asked for, so search it */
    if (!file && secure_getenv(X509_get_default_cert_dir_env()))
        return SSL_CTX_set_default_verify_paths(ctx);
    if (!file || !*file)
        file = X509_get_default_cert_file();
    if (SSL_CTX_load_verify_file(ctx, file))
        return 1;
    ERR_clear_error();
    return SSL_CTX_set_default_verify_paths(ctx);
}

__attribute__((format(printf, 3, 4))) static void ctx_err(const struct tp_config *cfg,
                                                         const struct tp_def *def,
                                                         const char *fmt, ...)
{
    char buf[256];
    va_list ap;

    fprintf(stderr, "%s:%u:%u: probe \"%s\": ", cfg->path, def->line, def->col, def->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", ssl_errstr(buf, sizeof(buf)));
}

static SSL_CTX *make_ctx(const struct tp_config *cfg, const struct tp_def *def)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (!ctx) {
        ctx_err(cfg, def, "cannot create a TLS context");
        return NULL;
    }
    /* Go's default for clients, as blackbox_exporter's tls_config has it. */
    SSL_CTX_set_min_proto_version(ctx, def->tls_min_version ? def->tls_min_version
                                                            : TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* Read whole flights, not a record header and then its body: half the
     * read() calls. What is read past the handshake stays in the SSL for
     * the next SSL_read, which the tcp kind calls before it waits. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (def->ca_file ? !SSL_CTX_load_verify_locations(ctx, def->ca_file, NULL)
                     : !load_system_store(ctx)) {
        if (def->ca_file)
            ctx_err(cfg, def, "cannot load ca_file \"%s\"", def->ca_file);
        else
            ctx_err(cfg, def, "cannot load the system CA store");
        goto fail;
    }
    if (def->cert_file && !SSL_CTX_use_certificate_chain_file(ctx, def->cert_file)) {
        ctx_err(cfg, def, "cannot load cert_file \"%s\"", def->cert_file);
        goto fail;
    }
    if (def->key_file && (!SSL_CTX_use_PrivateKey_file(ctx, def->key_file, SSL_FILETYPE_PEM) ||
                          !SSL_CTX_check_private_key(ctx))) {
        ctx_err(cfg, def, "cannot use key_file \"%s\"", def->key_file);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void tp_tlsctx_fini(struct tp_tlsctx *tc)
{
    for (size_t i = 0; tc->ctx && i < tc->ndefs; i++)
        SSL_CTX_free(tc->ctx[i]); /* shared ones are reference counted */
    if (tc->wmeth)
        BIO_meth_free(tc->wmeth);
    free(tc->ctx);
    memset(tc, 0, sizeof(*tc));
}

int tp_tlsctx_init(struct tp_tlsctx *tc, const struct tp_config *cfg,
                   bool (*need)(const struct tp_def *def))
{
    memset(tc, 0, sizeof(*tc));
    if (!(tc->ctx = calloc(cfg->ndefs ? cfg->ndefs : 1, sizeof(*tc->ctx))))
        return -ENOMEM;
    tc->ndefs = cfg->ndefs;
    if (!(tc->wmeth = wbio_method())) {
        tp_tlsctx_fini(tc);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->ndefs; i++) {
        const struct tp_def *def = &cfg->defs[i];
        size_t j;

        if (!need(def))
            continue;
        for (j = 0; j < i; j++)
            if (tc->ctx[j] && same_tls(&cfg->defs[j], def))
                break;
        if (j < i) {
            SSL_CTX_up_ref(tc->ctx[j]);
            tc->ctx[i] = tc->ctx[j];
        } else if (!(tc->ctx[i] = make_ctx(cfg, def))) {
            ERR_clear_error();
            tp_tlsctx_fini(tc);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- one connection ---- */

/* Whether name is an address literal; if so, the address without an IPv6
 * zone ("fe80::1%eth0": the zone is no part of what a certificate names)
 * goes to buf. */
static bool ip_literal(const char *name, char *buf, size_t len)
{
    unsigned char a[sizeof(struct in6_addr)];
    size_t n = strcspn(name, "%");

    if (n >= len)
        return false;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, a) == 1 || inet_pton(AF_INET6, buf, a) == 1;
}

/* SNI and the name or address the certificate must match. */
static int set_peer_name(SSL *ssl, const char *name)
{
    char buf[256];
    size_t len = strlen(name);

    /* RFC 6066 allows no address in SNI; an address is matched against the
     * certificate's iPAddress entries instead. */
    if (ip_literal(name, buf, sizeof(buf)))
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), buf) ? 0 : -1;
    /* "example.com." is absolute; certificates and SNI name it without
     * the dot. */
    if (len > 1 && len < sizeof(buf) && name[len - 1] == '.') {
        memcpy(buf, name, len - 1);
        buf[len - 1] = '\0';
        name = buf;
    }
    if (!SSL_set_tlsext_host_name(ssl, name) || !SSL_set1_host(ssl, name))
        return -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return 0;
}

int tp_tls_new(const struct tp_tlsctx *tc, size_t idx, int fd, const char *name, SSL **out)
{
    SSL_CTX *ctx = idx < tc->ndefs ? tc->ctx[idx] : NULL;
    BIO *rbio = NULL, *wbio = NULL;
    SSL *ssl;

    *out = NULL;
    if (!ctx)
        return -EINVAL; /* a definition init did not see */
    if (!(ssl = SSL_new(ctx)) || !(rbio = BIO_new_socket(fd, BIO_NOCLOSE)) ||
        !(wbio = BIO_new(tc->wmeth))) {
        BIO_free(rbio);
        SSL_free(ssl);
        ERR_clear_error();
        return -ENOMEM;
    }
    BIO_set_data(wbio, (void *)(intptr_t)fd);
    BIO_set_init(wbio, 1);
    SSL_set_bio(ssl, rbio, wbio);
    /* Fails for memory, or for a name no certificate can carry. */
    if (set_peer_name(ssl, name) < 0) {
        SSL_free(ssl);
        ERR_clear_error();
        return -EINVAL;
    }
    *out = ssl;
    return 0;
}

/* Why an SSL call failed, into r. ret and sys_errno are the call's; what
 * names the call ("TLS handshake"), during the time of it ("during the TLS
 * handshake"). */
static void ssl_failed(SSL *ssl, int ret, int sys_errno, const char *what, const char *during,
                       struct tp_result *r)
{
    int serr = SSL_get_error(ssl, ret);
    unsigned long e = ERR_peek_last_error();

    if (serr == SSL_ERROR_SYSCALL && !sys_errno && e && ERR_GET_LIB(e) == ERR_LIB_SYS)
        sys_errno = ERR_GET_REASON(e);
    if (serr == SSL_ERROR_SYSCALL && sys_errno) {
        /* reset, unreachable... are the connection's fate, not TLS's */
        tp_result_errno(r, sys_errno);
        snprintf(r->detail, sizeof(r->detail), "%s %s: %s", tw_errname(sys_errno), during,
                 tw_strerror(sys_errno));
    } else if (serr == SSL_ERROR_SYSCALL || !e) {
        r->outcome = TP_FAILURE;
        r->reason = "tls";
        snprintf(r->detail, sizeof(r->detail), "connection closed %s", during);
    } else {
        const char *why = ERR_reason_error_string(e);
        char buf[128];
        if (!why) {
            ERR_error_string_n(e, buf, sizeof(buf));
            why = buf;
        }
        r->outcome = TP_FAILURE;
        r->reason = "tls";
        snprintf(r->detail, sizeof(r->detail), "%s: %s", what, why);
    }
    ERR_clear_error();
}

static bool ssl_want(SSL *ssl, int ret, unsigned *want)
{
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        *want = TW_IO_READ;
        return true;
    case SSL_ERROR_WANT_WRITE:
        *want = TW_IO_WRITE;
        return true;
    default:
        return false;
    }
}

int tp_tls_handshake(SSL *ssl, unsigned *want, struct tp_result *r)
{
    int ret, sys_errno;

    ERR_clear_error(); /* the queue is per thread: start from our own errors */
    errno = 0;
    ret = SSL_connect(ssl);
    sys_errno = errno;
    if (ret == 1) {
        /* From here a close without close_notify is an end of the data
         * (Go's crypto/tls takes it so at a record boundary), not an
         * error. */
        SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
        return 1;
    }
    if (ssl_want(ssl, ret, want))
        return 0;
    ssl_failed(ssl, ret, sys_errno, "TLS handshake", "during the TLS handshake", r);
    return -1;
}

bool tp_tls_judge(SSL *ssl, const struct tp_def *def, struct tp_result *r, bool keep_rejected)
{
    long v = SSL_get_verify_result(ssl);
    bool ok = !def->tls_verify || v == X509_V_OK;

    tp_tls_certs(ssl, def->tls_verify && v == X509_V_OK, r);
    r->verify = v;
    if (ok)
        return true;
    r->outcome = TP_FAILURE;
    r->reason = "verify";
    snprintf(r->detail, sizeof(r->detail), "%s", X509_verify_cert_error_string(v));
    if (!keep_rejected)
        tp_tls_forget(r);
    return false;
}

ssize_t tp_tls_read(SSL *ssl, void *buf, size_t n, unsigned *want, struct tp_result *r)
{
    size_t got = 0;
    int ret, sys_errno;

    ERR_clear_error();
    errno = 0;
    ret = SSL_read_ex(ssl, buf, n, &got);
    sys_errno = errno;
    if (ret == 1)
        return (ssize_t)got;
    if (SSL_get_error(ssl, ret) == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        return 0;
    }
    if (ssl_want(ssl, ret, want))
        return -EAGAIN;
    ssl_failed(ssl, ret, sys_errno, "reading over TLS", "while reading over TLS", r);
    return -1;
}

ssize_t tp_tls_write(SSL *ssl, const void *buf, size_t n, unsigned *want, struct tp_result *r)
{
    size_t put = 0;
    int ret, sys_errno;

    ERR_clear_error();
    errno = 0;
    ret = SSL_write_ex(ssl, buf, n, &put);
    sys_errno = errno;
    if (ret == 1)
        return (ssize_t)put;
    if (ssl_want(ssl, ret, want))
        return -EAGAIN;
    ssl_failed(ssl, ret, sys_errno, "writing over TLS", "while writing over TLS", r);
    return -1;
}

void tp_tls_end(SSL *ssl, const struct tp_def *def, bool handshook)
{
    if (!ssl)
        return;
    if (handshook && def->graceful)
        SSL_shutdown(ssl); /* one close_notify, no waiting for the peer's */
    else if (handshook)
        /* An RST ends it, not a close_notify: without this flag OpenSSL
         * takes the session for a broken one and marks it not resumable
         * (tls_resumption keeps it). */
        SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN);
    ERR_clear_error();
    SSL_free(ssl);
}
