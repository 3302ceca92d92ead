/* The tls probe kind: connect, complete a TLS handshake, report the
 * certificate chain's expiry and the verification result, close.
 *
 * The handshake, the contexts and the verification are the TLS client the
 * kinds share (tls_client.c); this kind keeps its contexts in its slot of
 * the engine (tp_engine_kind_data).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe/config.h"
#include "probe/ipproto.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "probe/tls_client.h"
#include "twkit/sock.h"
#include "twkit/time.h"
#include "util/prom.h"

extern const struct tp_kind tp_kind_tls;

struct tls_run {
    struct tp_engine *e;
    struct tp_target *t;
    tw_connect conn;
    tw_io io;
    unsigned want;      /* events io is started with, 0 before the first */
    int fd;             /* ours once connected; -1 while connecting */
    SSL *ssl;
    uint64_t connect_ns, tls_start_ns;
    bool offered;       /* a session was offered for resumption */
    bool ticket_wait;   /* TLS 1.3: done, waiting for the session ticket */
    tw_timer ticket_timer;
    struct tp_result done; /* the result, while waiting for the ticket */
};

/* tls_resumption: what a target keeps between probes. The session comes
 * from a full handshake that was verified and trusted, and so do the
 * certificate fields a resumed probe reports (a resumed handshake sends no
 * certificate: there is nothing new to check). */
struct tp_tls_keep {
    SSL_SESSION *sess;     /* NULL: the next handshake is a full one */
    uint64_t full_due_ms;  /* loop ms: a full handshake from then on */
    struct tp_result certs; /* tls, expiries, verify, version, leaf_info */
};

/* a TLS 1.3 server sends its tickets after the handshake: wait this long */
#define TICKET_WAIT_MS 250

static void tls_forget(struct tp_target *t)
{
    struct tp_tls_keep *k = t->keep;

    if (!k)
        return;
    SSL_SESSION_free(k->sess);
    tp_result_release(&k->certs);
    free(k);
    t->keep = NULL;
}

/* Forget the session: the next probe does a full handshake. */
static void keep_drop(struct tp_tls_keep *k)
{
    SSL_SESSION_free(k->sess);
    k->sess = NULL;
}

/* ---- init / fini ---- */

static bool is_tls(const struct tp_def *def) { return def->kind == &tp_kind_tls; }

static void tls_fini(struct tp_engine *e)
{
    void **slot = tp_engine_kind_data(e, &tp_kind_tls);
    struct tp_tlsctx *tc = *slot;

    if (!tc)
        return;
    tp_tlsctx_fini(tc);
    free(tc);
    *slot = NULL;
}

static int tls_init(struct tp_engine *e)
{
    struct tp_tlsctx *tc = calloc(1, sizeof(*tc));
    int err;

    if (!tc)
        return -ENOMEM;
    if ((err = tp_tlsctx_init(tc, tp_engine_config(e), is_tls)) < 0) {
        free(tc);
        return err;
    }
    *tp_engine_kind_data(e, &tp_kind_tls) = tc;
    return 0;
}

/* ---- one probe ---- */

static double secs(uint64_t ns) { return (double)ns / 1e9; }

static void run_free(struct tls_run *run, bool handshook)
{
    struct tp_target *t = run->t;

    tw_timer_stop(&run->ticket_timer);
    tp_result_release(&run->done);
    tp_tls_end(run->ssl, t->def, handshook);
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

    if (fd >= 0) {
        /* A graceful close watches fd next: hand the registration over and
         * save it a DEL + ADD; an abort closes fd, which unregisters it. */
        if (def->graceful)
            tw_io_hand_over(&run->io);
        else
            tw_io_forget(&run->io);
    }
    run_free(run, handshook);
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

/* Keep the session of a trusted full handshake, if it can be resumed. */
static bool keep_session(struct tls_run *run)
{
    struct tp_tls_keep *k = run->t->keep;
    SSL_SESSION *sess = SSL_get1_session(run->ssl);

    if (!sess || !SSL_SESSION_is_resumable(sess)) {
        SSL_SESSION_free(sess);
        return false;
    }
    keep_drop(k);
    k->sess = sess;
    return true;
}

static void ticket_done(struct tls_run *run)
{
    struct tp_result r = run->done;

    memset(&run->done, 0, sizeof(run->done)); /* r owns leaf_info now */
    run_end(run, &r, true);
}

static void on_ticket_timeout(tw_timer *tm)
{
    ticket_done(tm->data); /* no ticket: the next probe is full again */
}

/* The handshake is done, and r judged: with tls_resumption, what a resumed
 * one reports is what its session's full one found; a full one that was
 * trusted leaves its session (TLS 1.2: now; TLS 1.3: once the ticket that
 * follows the handshake is read, for at most TICKET_WAIT_MS). Returns
 * true when the probe is over, false when it waits for the ticket. */
static bool resumption_done(struct tls_run *run, struct tp_result *r)
{
    const struct tp_def *def = run->t->def;
    struct tp_tls_keep *k = run->t->keep;
    uint64_t now = tw_loop_now(tp_engine_loop(run->e));

    if (!def->tls_resumption || !k)
        return true;
    if (SSL_session_reused(run->ssl)) {
        double tls = r->phase[TP_PH_TLS], conn = r->phase[TP_PH_CONNECT];
        tp_result_release(r);
        *r = k->certs;
        r->leaf_info = tp_leaf_dup(k->certs.leaf_info);
        r->phase[TP_PH_CONNECT] = conn;
        r->phase[TP_PH_TLS] = tls;
        r->handshake = TP_HS_RESUMED;
        return true;
    }
    r->handshake = run->offered ? TP_HS_REFUSED : TP_HS_FULL;
    keep_drop(k);
    if (r->outcome != TP_SUCCESS)
        return true; /* nothing trusted to resume */
    tp_result_release(&k->certs);
    k->certs = *r;
    k->certs.leaf_info = tp_leaf_dup(r->leaf_info);
    memset(k->certs.phase, 0, sizeof(k->certs.phase));
    k->full_due_ms = now + def->tls_full_every_ms;
    if (keep_session(run) || SSL_version(run->ssl) < TLS1_3_VERSION)
        return true;
    run->done = *r;
    memset(r, 0, sizeof(*r));
    run->ticket_wait = true;
    /* never so long that the probe's own deadline takes its success */
    uint64_t spent = (tw_now_ns() - run->t->started_ns) / 1000000, wait = TICKET_WAIT_MS;
    if (spent + 2 * wait > run->t->timeout_ms)
        wait = run->t->timeout_ms > spent ? (run->t->timeout_ms - spent) / 2 : 0;
    tw_timer_start(tp_engine_loop(run->e), &run->ticket_timer, wait);
    return false;
}

/* TLS 1.3, after the handshake: read what follows (the tickets). */
static void ticket_step(struct tls_run *run)
{
    char buf[256];
    int n = SSL_read(run->ssl, buf, sizeof(buf));

    if (keep_session(run) || n > 0 ||
        (SSL_get_error(run->ssl, n) != SSL_ERROR_WANT_READ &&
         SSL_get_error(run->ssl, n) != SSL_ERROR_WANT_WRITE)) {
        ERR_clear_error();
        ticket_done(run);
    }
}

static void step(struct tls_run *run)
{
    struct tp_result r = {.verify = -1};
    unsigned want = 0;
    int rc, err;

    if (run->ticket_wait) {
        ticket_step(run);
        return;
    }
    rc = tp_tls_handshake(run->ssl, &want, &r);
    if (rc != 0) {
        r.phase[TP_PH_CONNECT] = secs(run->connect_ns);
        r.phase[TP_PH_TLS] = secs(tw_now_ns() - run->tls_start_ns);
        /* A resumed handshake carries no certificate: what it reports is
         * its session's full handshake's (resumption_done), so reading the
         * chain again (expiries, names, fingerprint) would be waste. */
        if (rc > 0 && ((run->offered && SSL_session_reused(run->ssl)) ||
                       tp_tls_judge(run->ssl, run->t->def, &r, true)))
            r.outcome = TP_SUCCESS;
        if (rc > 0 && !resumption_done(run, &r)) {
            if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, TW_IO_READ)) < 0)
                ticket_done(run);
            run->want = TW_IO_READ;
            return;
        }
        if (rc < 0 && run->offered && run->t->keep) {
            /* a failed handshake that offered a session: the next is full */
            keep_drop(run->t->keep);
            r.handshake = TP_HS_REFUSED;
        }
        run_end(run, &r, rc > 0);
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

/* SNI and the name verified: server_name, tls_config's server_name, or
 * the target's host. */
static const char *peer_name(const struct tp_target *t)
{
    const struct tp_tls_opts *o = t->def->opts;

    if (o->server_name)
        return o->server_name;
    return t->def->tls_server_name ? t->def->tls_server_name : t->ep.host;
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

static void on_connect(tw_connect *req, int fd_or_err)
{
    struct tls_run *run = req->data;
    struct tp_tlsctx *tc = *tp_engine_kind_data(run->e, &tp_kind_tls);
    size_t idx = (size_t)(run->t->def - tp_engine_config(run->e)->defs);
    int err;

    run->connect_ns = req->connect_ns;
    if (fd_or_err < 0) {
        fail_errno(run, -fd_or_err); /* classed by errno: refused is a failure */
        return;
    }
    run->fd = fd_or_err;
    tw_io_init(&run->io, run->fd, on_io, run);
    run->tls_start_ns = tw_now_ns();
    if ((err = tp_tls_new(tc, idx, run->fd, peer_name(run->t), &run->ssl)) < 0) {
        fail_errno(run, err);
        return;
    }
    if (run->t->def->tls_resumption) {
        struct tp_tls_keep *k = run->t->keep;
        if (!k && (k = run->t->keep = calloc(1, sizeof(*k))))
            k->certs.verify = -1;
        /* a full handshake (chain verified) when one is due */
        if (k && k->sess && tw_ms_diff(tw_loop_now(tp_engine_loop(run->e)), k->full_due_ms) >= 0)
            keep_drop(k);
        if (k && k->sess && (run->offered = SSL_set_session(run->ssl, k->sess) == 1))
            offer_no_newer(run->ssl, k->sess);
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
    struct tw_connect_opts co;
    int err;

    if (!run)
        return -ENOMEM;
    run->e = e;
    run->t = t;
    run->fd = -1;
    tw_timer_init(&run->ticket_timer, on_ticket_timeout, run);
    /* No timeout here: the engine's deadline cancels us. */
    err = tw_connect_start(tp_engine_loop(e), &run->conn, &t->addr, tp_source_opts(t->def, &co),
                           0, on_connect, run);
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
    run_free(run, false);
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

/* blackbox_exporter's rows for a handshake; a certificate that does not
 * verify still has them here (this kind reports expiries whatever the
 * verdict), where blackbox's tcp prober would report none. */
static const struct tp_metric tls_metrics[] = {
    TP_METRIC_SSL_EARLIEST,
    TP_METRIC_SSL_LAST_CHAIN_EXPIRY,
    TP_METRIC_SSL_LAST_CHAIN_INFO,
    TP_METRIC_TLS_VERSION,
    TP_METRIC_TLS_HANDSHAKE,
};

/* "host" or "host:port", port 443 by default. */
static int tls_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    return tp_hostport_parse(target, ep, 443, why);
}

const struct tp_kind tp_kind_tls = {
    .name = "tls",
    .keys = tls_keys,
    .nkeys = sizeof(tls_keys) / sizeof(tls_keys[0]),
    .common = TP_KEYS_TLS | TP_KEYS_CONN | TP_KEYS_RESUME,
    .opts_size = sizeof(struct tp_tls_opts),
    .parse_target = tls_parse_target,
    .init = tls_init,
    .fini = tls_fini,
    .start = tls_start,
    .cancel = tls_cancel,
    .forget = tls_forget,
    .metrics = tls_metrics,
    .nmetrics = sizeof(tls_metrics) / sizeof(tls_metrics[0]),
};
