/* The tls probe kind: connect, complete a TLS handshake, report the
 * certificate chain's expiry and the verification result, close.
 *
 * Verification runs in OpenSSL with SSL_VERIFY_NONE: the handshake always
 * completes so the expiry can be reported even for a certificate that does
 * not verify, and the verdict (tls_verify) is taken here from
 * SSL_get_verify_result.
 *
 * The SSL_CTXs live in this kind's slot of the engine (tp_engine_kind_data),
 * indexed like tp_engine_config(e)->defs, rather than in def->kind_data: the
 * definitions reach us const, and the table keeps them so. Definitions with
 * the same ca_file share one SSL_CTX, since a loaded CA store (the system's
 * is a few hundred certificates) is most of a context's memory.
 *
 * Writes go through a small BIO of our own that sends with MSG_NOSIGNAL: the
 * stock socket BIO uses write(), and a target that resets in the middle of
 * the handshake would otherwise kill the prober with SIGPIPE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "probe/config.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/sock.h"
#include "twkit/time.h"
#include "util/prom.h"

extern const struct tp_kind tp_kind_tls;

struct tls_kind {
    BIO_METHOD *wmeth;
    size_t ndefs;
    SSL_CTX **ctx; /* per definition, NULL for other kinds */
};

struct tls_run {
    struct tp_engine *e;
    struct tp_target *t;
    tw_connect conn;
    tw_io io;
    unsigned want;      /* events io is started with, 0 before the first */
    int fd;             /* ours once connected; -1 while connecting */
    SSL *ssl;
    uint64_t connect_ns, tls_start_ns;
};

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

/* ---- init / fini ---- */

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

static bool same_ca(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
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

static SSL_CTX *make_ctx(const struct tp_config *cfg, const struct tp_def *def)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    char buf[256];
    int ok;

    if (!ctx) {
        fprintf(stderr, "%s:%u:%u: probe \"%s\": cannot create a TLS context: %s\n",
                cfg->path, def->line, def->col, def->name, ssl_errstr(buf, sizeof(buf)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    /* Read whole flights, not a record header and then its body: half the
     * read() calls. Nothing is read past the handshake. */
    SSL_CTX_set_read_ahead(ctx, 1);
    if (def->ca_file)
        ok = SSL_CTX_load_verify_locations(ctx, def->ca_file, NULL);
    else
        ok = load_system_store(ctx);
    if (!ok) {
        if (def->ca_file)
            fprintf(stderr, "%s:%u:%u: probe \"%s\": cannot load ca_file \"%s\": %s\n",
                    cfg->path, def->line, def->col, def->name, def->ca_file,
                    ssl_errstr(buf, sizeof(buf)));
        else
            fprintf(stderr, "%s:%u:%u: probe \"%s\": cannot load the system CA store: %s\n",
                    cfg->path, def->line, def->col, def->name, ssl_errstr(buf, sizeof(buf)));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void tls_fini(struct tp_engine *e)
{
    void **slot = tp_engine_kind_data(e, &tp_kind_tls);
    struct tls_kind *k = *slot;

    if (!k)
        return;
    for (size_t i = 0; i < k->ndefs; i++)
        SSL_CTX_free(k->ctx[i]); /* shared ones are reference counted */
    BIO_meth_free(k->wmeth);
    free(k->ctx);
    free(k);
    *slot = NULL;
}

static int tls_init(struct tp_engine *e)
{
    const struct tp_config *cfg = tp_engine_config(e);
    struct tls_kind *k = calloc(1, sizeof(*k));

    if (!k || !(k->ctx = calloc(cfg->ndefs ? cfg->ndefs : 1, sizeof(*k->ctx)))) {
        free(k);
        return -ENOMEM;
    }
    *tp_engine_kind_data(e, &tp_kind_tls) = k;
    k->ndefs = cfg->ndefs;
    if (!(k->wmeth = wbio_method())) {
        tls_fini(e);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->ndefs; i++) {
        const struct tp_def *def = &cfg->defs[i];
        size_t j;

        if (def->kind != &tp_kind_tls)
            continue;
        for (j = 0; j < i; j++)
            if (k->ctx[j] && same_ca(cfg->defs[j].ca_file, def->ca_file))
                break;
        if (j < i) {
            SSL_CTX_up_ref(k->ctx[j]);
            k->ctx[i] = k->ctx[j];
        } else if (!(k->ctx[i] = make_ctx(cfg, def))) {
            ERR_clear_error();
            tls_fini(e);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- one probe ---- */

static double secs(uint64_t ns) { return (double)ns / 1e9; }

static void run_free(struct tls_run *run)
{
    struct tp_target *t = run->t;

    if (run->ssl)
        SSL_free(run->ssl); /* the BIOs do not own fd */
    free(run);
    t->run = NULL;
}

/* Give fd to the engine's close policy and report. */
static void run_end(struct tls_run *run, struct tp_result *r, bool handshook)
{
    struct tp_engine *e = run->e;
    struct tp_target *t = run->t;
    const struct tp_def *def = t->def;
    int fd = run->fd;

    if (handshook && def->graceful)
        SSL_shutdown(run->ssl); /* one close_notify, no waiting for the peer's */
    ERR_clear_error();
    if (fd >= 0) {
        /* A graceful close watches fd next: hand the registration over and
         * save it a DEL + ADD; an abort closes fd, which unregisters it. */
        if (def->graceful)
            tw_io_hand_over(&run->io);
        else
            tw_io_forget(&run->io);
    }
    run_free(run);
    tp_close(e, def, fd);
    tp_probe_done(e, t, r);
}

static void fail_errno(struct tls_run *run, int err)
{
    struct tp_result r = {.verify = -1};

    r.phase[TP_PH_CONNECT] = secs(run->connect_ns);
    tp_result_errno(&r, err);
    run_end(run, &r, false);
}

/* Why the handshake failed, into r. ret and sys_errno are from SSL_connect. */
static void handshake_failed(struct tls_run *run, struct tp_result *r, int ret, int sys_errno)
{
    int serr = SSL_get_error(run->ssl, ret);
    unsigned long e = ERR_peek_last_error();

    if (serr == SSL_ERROR_SYSCALL && !sys_errno && e && ERR_GET_LIB(e) == ERR_LIB_SYS)
        sys_errno = ERR_GET_REASON(e);
    if (serr == SSL_ERROR_SYSCALL && sys_errno) {
        /* reset, unreachable... are the connection's fate, not TLS's */
        tp_result_errno(r, sys_errno);
        snprintf(r->detail, sizeof(r->detail), "%s during the TLS handshake: %s",
                 tw_errname(sys_errno), tw_strerror(sys_errno));
        return;
    }
    r->outcome = TP_FAILURE;
    r->reason = "tls";
    if (serr == SSL_ERROR_SYSCALL || !e) {
        snprintf(r->detail, sizeof(r->detail), "connection closed during the TLS handshake");
    } else {
        const char *why = ERR_reason_error_string(e);
        char buf[128];
        if (!why) {
            ERR_error_string_n(e, buf, sizeof(buf));
            why = buf;
        }
        snprintf(r->detail, sizeof(r->detail), "TLS handshake: %s", why);
    }
}

static void handshake_done(struct tls_run *run)
{
    const struct tp_def *def = run->t->def;
    struct tp_result r = {.verify = -1};

    r.phase[TP_PH_CONNECT] = secs(run->connect_ns);
    r.phase[TP_PH_TLS] = secs(tw_now_ns() - run->tls_start_ns);
    tp_tls_expiry(run->ssl, &r);
    r.verify = SSL_get_verify_result(run->ssl);
    if (def->tls_verify && r.verify != X509_V_OK) {
        r.outcome = TP_FAILURE;
        r.reason = "verify";
        snprintf(r.detail, sizeof(r.detail), "%s", X509_verify_cert_error_string(r.verify));
    } else {
        r.outcome = TP_SUCCESS;
    }
    run_end(run, &r, true);
}

static void step(struct tls_run *run)
{
    struct tp_result r = {.verify = -1};
    unsigned want;
    int ret, sys_errno, err;

    ERR_clear_error(); /* the queue is per thread: start from our own errors */
    errno = 0;
    ret = SSL_connect(run->ssl);
    sys_errno = errno;
    if (ret == 1) {
        handshake_done(run);
        return;
    }
    switch (SSL_get_error(run->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        want = TW_IO_READ;
        break;
    case SSL_ERROR_WANT_WRITE:
        want = TW_IO_WRITE;
        break;
    default:
        r.phase[TP_PH_CONNECT] = secs(run->connect_ns);
        r.phase[TP_PH_TLS] = secs(tw_now_ns() - run->tls_start_ns);
        handshake_failed(run, &r, ret, sys_errno);
        run_end(run, &r, false);
        return;
    }
    if (want != run->want) {
        if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, want)) < 0) {
            fail_errno(run, err);
            return;
        }
        run->want = want;
    }
}

static void on_io(tw_io *io, unsigned events)
{
    step(io->data);
}

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
static int set_peer_name(SSL *ssl, const struct tp_target *t)
{
    const struct tp_tls_opts *o = t->def->opts;
    const char *name = o->server_name       ? o->server_name
                     : t->def->tls_server_name ? t->def->tls_server_name
                                               : t->ep.host;
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

static int ssl_setup(struct tls_run *run, struct tls_kind *k)
{
    const struct tp_def *def = run->t->def;
    size_t i = (size_t)(run->t->def - tp_engine_config(run->e)->defs);
    SSL_CTX *ctx = i < k->ndefs ? k->ctx[i] : NULL;
    BIO *rbio = NULL, *wbio = NULL;

    if (!ctx)
        return -EINVAL; /* a definition init did not see */
    if (!(run->ssl = SSL_new(ctx)) || !(rbio = BIO_new_socket(run->fd, BIO_NOCLOSE)) ||
        !(wbio = BIO_new(k->wmeth))) {
        BIO_free(rbio);
        return -ENOMEM;
    }
    BIO_set_data(wbio, (void *)(intptr_t)run->fd);
    BIO_set_init(wbio, 1);
    SSL_set_bio(run->ssl, rbio, wbio);
    /* tls_config's min_version and client certificate, per connection:
     * the SSL_CTX is shared by every definition with the same CA file. The
     * files are read at every probe, so a renewed certificate is used at
     * once (as blackbox_exporter does). */
    if (def->tls_min_version && !SSL_set_min_proto_version(run->ssl, def->tls_min_version))
        return -EINVAL;
    if (def->cert_file && (SSL_use_certificate_chain_file(run->ssl, def->cert_file) != 1 ||
                           SSL_use_PrivateKey_file(run->ssl, def->key_file,
                                                   SSL_FILETYPE_PEM) != 1)) {
        ERR_clear_error();
        return -ENOENT; /* unreadable now, or not a certificate and its key */
    }
    /* Fails for memory, or for a name no certificate can carry. */
    return set_peer_name(run->ssl, run->t) < 0 ? -EINVAL : 0;
}

static void on_connect(tw_connect *req, int fd_or_err)
{
    struct tls_run *run = req->data;
    struct tls_kind *k = *tp_engine_kind_data(run->e, &tp_kind_tls);
    int err;

    run->connect_ns = req->connect_ns;
    if (fd_or_err < 0) {
        fail_errno(run, -fd_or_err); /* classed by errno: refused is a failure */
        return;
    }
    run->fd = fd_or_err;
    tw_io_init(&run->io, run->fd, on_io, run);
    run->tls_start_ns = tw_now_ns();
    if ((err = ssl_setup(run, k)) < 0) {
        ERR_clear_error();
        fail_errno(run, err);
        return;
    }
    /* Claim the registration tw_connect handed over now (one MOD), even if
     * the handshake might finish without waiting: left unclaimed it would
     * cost the next socket with this number a failed MOD. The answer to the
     * ClientHello is what comes next anyway. */
    if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, TW_IO_READ)) < 0) {
        fail_errno(run, err);
        return;
    }
    run->want = TW_IO_READ;
    step(run); /* the ClientHello goes out now: the socket is writable */
}

static int tls_start(struct tp_engine *e, struct tp_target *t)
{
    struct tls_run *run = calloc(1, sizeof(*run));
    int err;

    if (!run)
        return -ENOMEM;
    run->e = e;
    run->t = t;
    run->fd = -1;
    /* No timeout here: the engine's deadline cancels us. */
    err = tw_connect_start(tp_engine_loop(e), &run->conn, &t->addr, NULL, 0, on_connect, run);
    if (err < 0) {
        free(run);
        return err;
    }
    t->run = run;
    return 0;
}

static void tls_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct tls_run *run = t->run;
    uint64_t now = tw_now_ns();

    if (!run)
        return;
    /* The phase that was running counts up to now: it tells where the
     * target stalled. */
    if (run->fd < 0) {
        r->phase[TP_PH_CONNECT] = secs(now - run->conn.started_ns);
        tw_connect_cancel(&run->conn);
    } else {
        r->phase[TP_PH_CONNECT] = secs(run->connect_ns);
        r->phase[TP_PH_TLS] = secs(now - run->tls_start_ns);
        tw_io_forget(&run->io);
        tw_sock_abort(run->fd);
    }
    ERR_clear_error();
    run_free(run);
}

/* ---- config ---- */

static bool check_server_name(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (!tp_hostname_valid(a->s, strlen(a->s))) {
        tp_cfg_err(c, &a->v->at, "bad server_name %s: expected a DNS name", tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool set_server_name(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_tls_opts *o = def->opts;

    if (!(o->server_name = tp_cfg_dup(c, a->s)))
        return false;
    def->tls_written |= TP_TLSW_NAME;
    if (def->tls_written & TP_TLSW_CFG_NAME) {
        tp_cfg_err(c, &a->v->at,
                   "server_name and tls_config.server_name set the same thing: write one of them");
        return false;
    }
    return true;
}

static void free_server_name(struct tp_def *def)
{
    struct tp_tls_opts *o = def->opts;

    free(o->server_name);
    o->server_name = NULL;
}

static const struct tp_key tls_keys[] = {
    {.name = "server_name", .type = TP_T_STR, .what = "a DNS name",
     .validate = check_server_name, .apply = set_server_name, .free = free_server_name},
};

/* "host" or "host:port", port 443 by default. */
static int tls_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    return tp_hostport_parse(target, ep, 443, why);
}

/* blackbox_exporter's name and help for it (its tcp prober's, with TLS) */
static void m_cert_expiry(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->last.tls)
        tu_prom_sample(p, l, "%.0f", t->last.cert_expiry);
}

static const struct tp_metric tls_metrics[] = {
    {"probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime",
     m_cert_expiry},
};

const struct tp_kind tp_kind_tls = {
    .name = "tls",
    .keys = tls_keys,
    .nkeys = sizeof(tls_keys) / sizeof(tls_keys[0]),
    .common = TP_KEYS_TLS,
    .opts_size = sizeof(struct tp_tls_opts),
    .parse_target = tls_parse_target,
    .init = tls_init,
    .fini = tls_fini,
    .start = tls_start,
    .cancel = tls_cancel,
    .metrics = tls_metrics,
    .nmetrics = sizeof(tls_metrics) / sizeof(tls_metrics[0]),
};
