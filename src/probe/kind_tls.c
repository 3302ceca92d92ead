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

/* A trusted full TLS 1.3 handshake leaves its session once the ticket that
 * follows it is read: wait for that, with r kept (ticket_done reports it). */
static void ticket_wait(struct tls_run *run, struct tp_result *r)
{
    int err;

    run->done = *r;
    memset(r, 0, sizeof(*r));
    run->ticket_wait = true;
    tw_timer_start(tp_engine_loop(run->e), &run->ticket_timer, tp_resume_ticket_wait_ms(run->t));
    if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, TW_IO_READ)) < 0) {
        ticket_done(run); /* run is freed */
        return;
    }
    run->want = TW_IO_READ;
}

static void step(struct tls_run *run)
{
    struct tp_result r = {.verify = -1};
    unsigned want = 0;
    int rc, err;

    if (run->ticket_wait) {
        if (tp_resume_ticket_read(run->t, run->ssl))
            ticket_done(run);
        return;
    }
    rc = tp_tls_handshake(run->ssl, &want, &r);
    if (rc != 0) {
        r.phase[TP_PH_CONNECT] = secs(run->connect_ns);
        r.phase[TP_PH_TLS] = secs(tw_now_ns() - run->tls_start_ns);
        /* an expired certificate's expiry is reported (keep_rejected) */
        if (rc > 0 && tp_resume_verdict(run->t, run->ssl, run->offered, true, &r,
                                        tw_loop_now(tp_engine_loop(run->e))))
            r.outcome = TP_SUCCESS;
        if (rc > 0 && !tp_resume_take(run->t, run->ssl)) {
            ticket_wait(run, &r);
            return;
        }
        if (rc < 0)
            tp_resume_failed(run->t, run->offered, &r);
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
    run->offered = tp_resume_offer(run->t, run->ssl, tw_loop_now(tp_engine_loop(run->e)));
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
    .forget = tp_resume_forget,
    .metrics = tls_metrics,
    .nmetrics = sizeof(tls_metrics) / sizeof(tls_metrics[0]),
};
