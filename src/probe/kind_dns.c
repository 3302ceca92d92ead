/* The dns probe: one query to the target server, over UDP, TCP, or TCP
 * with TLS (DNS over TLS, RFC 7858), and the answer judged as
 * blackbox_exporter 0.23's dns prober judges it: the rcode against
 * valid_rcodes, then each section's records, in their text form
 * (dnsmsg.h), against its validate_*_rrs regexes.
 *
 * On the loop like every kind: the UDP socket is connected, so the kernel
 * hands us only the server's datagrams and an ICMP port unreachable comes
 * back as ECONNREFUSED; a reply whose ID is not ours is dropped, as Go's
 * miekg/dns drops it, and waiting goes on. A truncated UDP answer (TC) is
 * asked again over TCP (RFC 7766), unless tcp_fallback: false; blackbox
 * reports the truncated answer instead. Over TCP the connection ends with
 * RST, like every probe (close: graceful for a FIN).
 *
 * Phases, as blackbox measures them: connect (opening the socket; for TCP
 * the handshake, and for DNS over TLS the TLS handshake too) and request
 * (from sending the query to reading the whole answer).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "probe/dnsmsg.h"
#include "probe/ipproto.h"
#include "probe/kind_dns.h"
#include "probe/tls_client.h"
#include "twkit/time.h"
#include "util/prom.h"

/* kind_val slots of a result */
enum { DNS_ANSWER, DNS_AUTHORITY, DNS_ADDITIONAL, DNS_SUCCEEDED, DNS_SERIAL, DNS_RCODE,
       DNS_REQUEST_NS, DNS_TCP };

#define QUERY_MAX (TP_DNS_HDR + 300)   /* a name of 255 bytes, question, OPT */
/* A record's text: RDATA of 65535 bytes shown as \DDD, its name, header */
#define TEXT_MAX (4 * 65536 + 2 * TP_DNS_MAX_NAME + 64)

/* What the kind's probes share, in its slot of the engine. The buffers are
 * used only inside one callback, so one of each serves every probe. */
struct dns_shared {
    uint8_t rx[TP_DNS_MAX_UDP + 1]; /* a datagram (one byte more: too long) */
    char text[TEXT_MAX];            /* a record's text, for the regexes */
    uint32_t rng;                   /* query IDs (xorshift32) */
    struct tp_tlsctx tls;           /* DNS over TLS definitions' contexts */
    bool tls_ready;
};

enum dns_phase { D_UDP, D_CONNECTING, D_HANDSHAKE, D_TCP };

struct dns_run {
    tw_io io;
    tw_connect conn;
    struct tp_engine *e;
    struct tp_target *t;
    enum dns_phase phase;
    unsigned want;          /* events io is started with; 0: none */
    int fd;                 /* -1 while a TCP connect is under way */
    SSL *ssl;
    bool handshook, tcp;
    bool offered;           /* tls_resumption: a session was offered */
    enum tp_handshake handshake; /* which one it was, for the result */
    uint16_t id;
    uint64_t mark_ns;       /* when the phase under way began */
    double connect_s, request_s;
    /* the query with TCP's two-byte length in front: q[2, 2 + qlen) */
    uint8_t q[2 + QUERY_MAX];
    size_t qlen, sent;
    /* a TCP answer: its length (2 bytes), then the message */
    uint8_t len2[2];
    uint8_t *in;
    size_t got, need;
};

static const struct tp_dns_opts *dopts(const struct tp_def *def) { return def->opts; }

static struct dns_shared *shared(struct tp_engine *e)
{
    return *tp_engine_kind_data(e, &tp_kind_dns);
}

static double secs(uint64_t ns) { return (double)ns / 1e9; }

/* ---- init / fini ---- */

static bool is_dot(const struct tp_def *def)
{
    return def->kind == &tp_kind_dns && dopts(def)->dot;
}

static int dns_init(struct tp_engine *e)
{
    struct dns_shared *s = calloc(1, sizeof(*s));
    const struct tp_config *cfg = tp_engine_config(e);
    int err;

    if (!s)
        return -ENOMEM;
    if (getrandom(&s->rng, sizeof(s->rng), 0) != sizeof(s->rng) || !s->rng)
        s->rng = (uint32_t)tw_now_ns() | 1;
    for (size_t i = 0; i < cfg->ndefs && !s->tls_ready; i++) {
        if (!is_dot(&cfg->defs[i]))
            continue;
        if ((err = tp_tlsctx_init(&s->tls, cfg, is_dot)) < 0) {
            free(s);
            return err;
        }
        s->tls_ready = true;
    }
    *tp_engine_kind_data(e, &tp_kind_dns) = s;
    return 0;
}

static void dns_fini(struct tp_engine *e)
{
    void **slot = tp_engine_kind_data(e, &tp_kind_dns);
    struct dns_shared *s = *slot;

    if (!s)
        return;
    if (s->tls_ready)
        tp_tlsctx_fini(&s->tls);
    free(s);
    *slot = NULL;
}

static uint16_t next_id(struct dns_shared *s)
{
    uint32_t x = s->rng;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->rng = x;
    return (uint16_t)(x >> 8);
}

/* ---- ending ---- */

static void run_free(struct dns_run *run)
{
    tp_tls_end(run->ssl, run->t->def, run->handshook);
    free(run->in);
    run->t->run = NULL;
    free(run);
}

/* The socket goes: UDP ones simply closed, TCP ones by the close policy. */
static void drop_fd(struct dns_run *run)
{
    int fd = run->fd;

    if (fd < 0)
        return;
    run->fd = -1;
    if (!run->tcp) {
        tw_io_forget(&run->io);
        close(fd);
        return;
    }
    if (run->t->def->graceful)
        tw_io_hand_over(&run->io);
    else
        tw_io_forget(&run->io);
    if (run->handshook)
        tp_resume_take(run->t, run->ssl); /* the ticket, read before the answer */
    tp_tls_end(run->ssl, run->t->def, run->handshook);
    run->ssl = NULL;
    tp_close(run->e, run->t->def, fd);
}

static void fill(const struct dns_run *run, struct tp_result *r)
{
    r->phase[TP_PH_CONNECT] = run->connect_s;
    r->kind_val[DNS_REQUEST_NS] = (long)(run->request_s * 1e9);
    r->kind_val[DNS_TCP] = run->tcp;
    if (run->handshake)
        r->handshake = run->handshake;
}

static void run_end(struct dns_run *run, struct tp_result *r)
{
    struct tp_engine *e = run->e;
    struct tp_target *t = run->t;

    fill(run, r);
    drop_fd(run);
    run_free(run);
    tp_probe_done(e, t, r);
}

static void fail_errno(struct dns_run *run, int err)
{
    struct tp_result r = {.verify = -1};

    tp_result_errno(&r, err);
    run_end(run, &r);
}

__attribute__((format(printf, 4, 5))) static void fail(struct dns_run *run, struct tp_result *r,
                                                      const char *reason, const char *fmt, ...)
{
    va_list ap;

    r->outcome = TP_FAILURE;
    r->reason = reason;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    run_end(run, r);
}

static bool wait_for(struct dns_run *run, unsigned want)
{
    int err;

    if (want == run->want)
        return true;
    if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, want)) < 0) {
        fail_errno(run, err);
        return false;
    }
    run->want = want;
    return true;
}

/* ---- judging the answer ---- */

/* blackbox's validRRs for section s of m against ck; false with r a
 * failure saying which record and regex. */
static bool check_section(struct dns_shared *sh, const struct tp_dns_msg *m,
                          enum tp_dns_section s, const struct tp_dns_rrcheck *ck,
                          struct tp_result *r)
{
    static const char *const sect[] = {"question", "answer", "authority", "additional"};
    struct tp_dns_iter it;
    struct tp_dns_rr rr;
    bool all = true, any = false;
    struct tp_quoted qr, qx;
    int len;

    if (!m->count[s] && (ck->n[TP_RR_NOT_MATCHES] || ck->n[TP_RR_NONE_MATCHES])) {
        snprintf(r->detail, sizeof(r->detail), "no %s records, but %s is set", sect[s],
                 tp_dns_check_names[ck->n[TP_RR_NOT_MATCHES] ? TP_RR_NOT_MATCHES
                                                             : TP_RR_NONE_MATCHES]);
        return false;
    }
    tp_dns_iter_init(&it, m, s);
    while (tp_dns_next(&it, &rr)) {
        if ((len = tp_dns_rr_text(m, &rr, sh->text, sizeof(sh->text))) < 0) {
            snprintf(r->detail, sizeof(r->detail), "a %s record too long to show", sect[s]);
            return false;
        }
        for (int k = 0; k < TP_RR_NCHECK; k++) {
            for (size_t i = 0; i < ck->n[k]; i++) {
                bool match = tp_regex_match(&ck->re[k][i], sh->text, (size_t)len);
                if (k == TP_RR_ALL_MATCH)
                    all = all && match;
                else if (k == TP_RR_NONE_MATCHES)
                    any = any || match;
                else if (match == (k == TP_RR_MATCHES)) {
                    snprintf(r->detail, sizeof(r->detail), "%s record %s %s %s", sect[s],
                             tp_quote(&qr, sh->text, (size_t)len),
                             k == TP_RR_MATCHES ? "matches" : "does not match",
                             tp_qs(&qx, ck->re[k][i].text));
                    return false;
                }
            }
        }
    }
    if (ck->n[TP_RR_ALL_MATCH] && !all) {
        snprintf(r->detail, sizeof(r->detail), "not every %s record matches %s", sect[s],
                 tp_dns_check_names[TP_RR_ALL_MATCH]);
        return false;
    }
    if (ck->n[TP_RR_NONE_MATCHES] && !any) {
        snprintf(r->detail, sizeof(r->detail), "no %s record matches %s", sect[s],
                 tp_dns_check_names[TP_RR_NONE_MATCHES]);
        return false;
    }
    return true;
}

static void judge(struct dns_run *run, const struct tp_dns_msg *m)
{
    const struct tp_dns_opts *o = dopts(run->t->def);
    struct tp_result r = {.verify = -1};
    char b1[16];
    bool ok = false;

    {   /* blackbox's DNS library verifies a TSIG signature, and with no key
         * fails the exchange, as if no answer came: so does this probe */
        struct tp_dns_iter it;
        struct tp_dns_rr rr;
        tp_dns_iter_init(&it, m, TP_DNS_AR);
        while (tp_dns_next(&it, &rr)) {
            if (rr.type == 250) {
                fail(run, &r, "tsig", "the answer is signed (TSIG) and the probe has no key "
                                      "to verify it");
                return;
            }
        }
    }
    r.kind_val[DNS_ANSWER] = m->count[TP_DNS_AN];
    r.kind_val[DNS_AUTHORITY] = m->count[TP_DNS_NS];
    r.kind_val[DNS_ADDITIONAL] = m->count[TP_DNS_AR];
    r.kind_val[DNS_SUCCEEDED] = 1;
    r.kind_val[DNS_RCODE] = m->rcode;
    if (o->qtype == 6) { /* SOA: blackbox's probe_dns_serial, the last one's */
        struct tp_dns_iter it;
        struct tp_dns_rr rr;
        tp_dns_iter_init(&it, m, TP_DNS_AN);
        while (tp_dns_next(&it, &rr))
            if (rr.type == 6 && rr.rdlen >= 20) /* checked by tp_dns_parse */
                r.kind_val[DNS_SERIAL] = (long)((uint32_t)m->buf[rr.rdata + rr.rdlen - 20] << 24 |
                                                (uint32_t)m->buf[rr.rdata + rr.rdlen - 19] << 16 |
                                                (uint32_t)m->buf[rr.rdata + rr.rdlen - 18] << 8 |
                                                m->buf[rr.rdata + rr.rdlen - 17]);
    }
    for (size_t i = 0; i < o->nrcodes && !ok; i++)
        ok = o->rcodes[i] == m->rcode;
    if (!ok) {
        fail(run, &r, "rcode", "rcode %s is not one of valid_rcodes",
             tp_dns_rcode_name(m->rcode, b1));
        return;
    }
    for (int s = 0; s < 3; s++) {
        if (!check_section(shared(run->e), m, (enum tp_dns_section)(TP_DNS_AN + s),
                           &o->check[s], &r)) {
            r.regex_failed = true;
            r.outcome = TP_FAILURE;
            r.reason = "records";
            run_end(run, &r);
            return;
        }
    }
    r.outcome = TP_SUCCESS;
    run_end(run, &r);
}

/* A whole message of len bytes at buf has arrived. */
static void answer(struct dns_run *run, const uint8_t *buf, size_t len)
{
    struct tp_dns_msg m;
    struct tp_result r = {.verify = -1};

    run->request_s += secs(tw_now_ns() - run->mark_ns);
    if (tp_dns_parse(&m, buf, len) < 0) {
        fail(run, &r, "malformed", "the answer (%zu bytes) is not a well-formed DNS message",
             len);
        return;
    }
    judge(run, &m);
}

/* ---- TCP (and TLS) ---- */

static int start_tcp(struct dns_run *run);

/* One send (out) or read of n bytes at buf on the TCP or TLS connection:
 * bytes (> 0; 0 when reading: the server closed), -EAGAIN when waiting for
 * the socket is set up, or -1 when the probe has ended (reported). */
static ssize_t tcp_io(struct dns_run *run, bool out, uint8_t *buf, size_t n)
{
    struct tp_result r = {.verify = -1};
    unsigned want = out ? TW_IO_WRITE : TW_IO_READ;
    ssize_t k;

    if (run->ssl) {
        k = out ? tp_tls_write(run->ssl, buf, n, &want, &r)
                : tp_tls_read(run->ssl, buf, n, &want, &r);
        if (k == -1) {
            run_end(run, &r);
            return -1;
        }
    } else {
        k = out ? send(run->fd, buf, n, MSG_NOSIGNAL) : read(run->fd, buf, n);
        if (k < 0 && errno != EAGAIN && errno != EINTR) {
            fail_errno(run, errno);
            return -1;
        }
        if (k < 0)
            k = -EAGAIN;
    }
    if (k == -EAGAIN)
        return wait_for(run, want) ? -EAGAIN : -1;
    return k;
}

/* Send the query and read the answer over TCP, as far as the socket
 * allows now. */
static void tcp_talk(struct dns_run *run)
{
    struct tp_result r = {.verify = -1};
    ssize_t n;

    while (run->sent < run->qlen + 2) {
        if ((n = tcp_io(run, true, run->q + run->sent, run->qlen + 2 - run->sent)) < 0)
            return;
        run->sent += (size_t)n;
    }
    for (;;) {
        uint8_t *to = run->got < 2 ? run->len2 + run->got : run->in + (run->got - 2);
        size_t room = run->got < 2 ? 2 - run->got : run->need - (run->got - 2);

        if ((n = tcp_io(run, false, to, room)) < 0)
            return;
        if (n == 0) {
            fail(run, &r, "eof", "the server closed the connection after %zu bytes of the "
                                 "answer", run->got);
            return;
        }
        run->got += (size_t)n;
        if (run->got == 2) {
            run->need = (size_t)run->len2[0] << 8 | run->len2[1];
            if (run->need < TP_DNS_HDR) {
                fail(run, &r, "malformed", "the answer's length is %zu bytes", run->need);
                return;
            }
            if (!(run->in = malloc(run->need))) {
                fail_errno(run, ENOMEM);
                return;
            }
        }
        if (run->got >= 2 && run->got - 2 == run->need) {
            if ((((uint16_t)run->in[0] << 8) | run->in[1]) != run->id) {
                fail(run, &r, "malformed", "the answer's ID is not the query's");
                return;
            }
            answer(run, run->in, run->need);
            return;
        }
    }
}

static void tcp_connected(struct dns_run *run)
{
    run->connect_s += secs(tw_now_ns() - run->mark_ns);
    run->phase = D_TCP;
    run->mark_ns = tw_now_ns();
    tcp_talk(run);
}

static void handshake(struct dns_run *run)
{
    struct tp_result r = {.verify = -1};
    unsigned want = 0;
    int rc = tp_tls_handshake(run->ssl, &want, &r);

    if (rc < 0) {
        tp_resume_failed(run->t, run->offered, &r);
        run->connect_s += secs(tw_now_ns() - run->mark_ns);
        run_end(run, &r);
        return;
    }
    if (rc == 0) {
        wait_for(run, want);
        return;
    }
    run->handshook = true;
    /* blackbox's dns prober reports no certificate fields: only the verdict
     * counts, and a resumed session was verified by its full handshake */
    if (!tp_resume_verdict(run->t, run->ssl, run->offered, false, &r,
                           tw_loop_now(tp_engine_loop(run->e)))) {
        run->connect_s += secs(tw_now_ns() - run->mark_ns);
        run_end(run, &r);
        return;
    }
    run->handshake = r.handshake;
    tp_result_release(&r);
    tcp_connected(run);
}

static void on_io(tw_io *io, unsigned events)
{
    struct dns_run *run = io->data;

    if (run->phase == D_HANDSHAKE)
        handshake(run);
    else if (run->phase == D_TCP)
        tcp_talk(run);
    else { /* D_UDP */
        struct dns_shared *sh = shared(run->e);
        struct tp_result r = {.verify = -1};
        int err;

        for (;;) {
            ssize_t n = recv(run->fd, sh->rx, sizeof(sh->rx), 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n < 0) {
                run->request_s += secs(tw_now_ns() - run->mark_ns);
                fail_errno(run, errno); /* ECONNREFUSED: nothing listens there */
                return;
            }
            if (n < 2 || (((uint16_t)sh->rx[0] << 8) | sh->rx[1]) != run->id)
                continue; /* not the answer to this query: wait on */
            if ((size_t)n > TP_DNS_MAX_UDP) {
                fail(run, &r, "malformed", "a datagram over 65535 bytes");
                return;
            }
            if (n >= 4 && (sh->rx[2] << 8 & TP_DNS_F_TC) && dopts(run->t->def)->tcp_fallback) {
                run->request_s += secs(tw_now_ns() - run->mark_ns);
                drop_fd(run);
                if ((err = start_tcp(run)) < 0)
                    fail_errno(run, -err);
                return;
            }
            answer(run, sh->rx, (size_t)n);
            return;
        }
    }
}

/* DNS over TLS: the name the certificate must carry, blackbox's
 * tls_config.server_name or the target's host. */
static const char *peer_name(const struct tp_target *t)
{
    return t->def->tls_server_name ? t->def->tls_server_name : t->ep.host;
}

static void on_connect(tw_connect *req, int fd_or_err)
{
    struct dns_run *run = req->data;
    struct dns_shared *sh = shared(run->e);
    size_t idx = (size_t)(run->t->def - tp_engine_config(run->e)->defs);
    int err;

    if (fd_or_err < 0) {
        run->connect_s += secs(req->connect_ns);
        fail_errno(run, -fd_or_err);
        return;
    }
    run->fd = fd_or_err;
    tw_io_init(&run->io, run->fd, on_io, run);
    /* claim the registration tw_connect handed over (kind_tls.c says why) */
    if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, TW_IO_READ)) < 0) {
        fail_errno(run, -err);
        return;
    }
    run->want = TW_IO_READ;
    if (!dopts(run->t->def)->dot) {
        tcp_connected(run);
        return;
    }
    if (!sh->tls_ready || (err = tp_tls_new(&sh->tls, idx, run->fd, peer_name(run->t),
                                            &run->ssl)) < 0) {
        fail_errno(run, sh->tls_ready ? -err : EINVAL);
        return;
    }
    run->offered = tp_resume_offer(run->t, run->ssl, tw_loop_now(tp_engine_loop(run->e)));
    run->phase = D_HANDSHAKE;
    handshake(run);
}

/* Connect over TCP: the start of a tcp or DNS over TLS probe, or the
 * second query of a truncated UDP answer. Returns 0 or -errno (nothing
 * started). */
static int start_tcp(struct dns_run *run)
{
    struct tw_connect_opts co;

    run->tcp = true;
    run->phase = D_CONNECTING;
    run->mark_ns = tw_now_ns();
    run->sent = run->got = 0;
    run->want = 0;
    /* No timeout here: the engine's deadline cancels us. */
    return tw_connect_start(tp_engine_loop(run->e), &run->conn, &run->t->addr,
                            tp_source_opts(run->t->def, &co), 0, on_connect, run);
}

/* ---- start / cancel ---- */

/* Open, connect (the kernel then filters for us) and send. Returns 0 or
 * -errno (nothing left open). */
static int start_udp(struct dns_run *run)
{
    const tw_addr *a = &run->t->addr;
    int fd, err;

    fd = socket(tw_addr_family(a), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if ((err = tp_bind_source(run->t->def, fd, tw_addr_family(a))) < 0)
        goto out;
    if (connect(fd, &a->u.sa, a->len) < 0) {
        err = -errno;
        goto out;
    }
    run->connect_s = secs(tw_now_ns() - run->mark_ns);
    run->mark_ns = tw_now_ns();
    if (send(fd, run->q + 2, run->qlen, MSG_NOSIGNAL) < 0) {
        err = -errno;
        goto out;
    }
    run->fd = fd;
    tw_io_init(&run->io, fd, on_io, run);
    if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, TW_IO_READ)) < 0) {
        run->fd = -1;
        goto out;
    }
    run->want = TW_IO_READ;
    return 0;
out:
    close(fd);
    return err;
}

static int dns_start(struct tp_engine *e, struct tp_target *t)
{
    const struct tp_dns_opts *o = dopts(t->def);
    struct dns_run *run = calloc(1, sizeof(*run));
    int n, err;

    if (!run)
        return -ENOMEM;
    run->e = e;
    run->t = t;
    run->fd = -1;
    run->mark_ns = tw_now_ns();
    if ((n = tp_dns_build_query(o, run->q + 2, sizeof(run->q) - 2)) < 0) {
        free(run); /* the loader built it once already */
        return n;
    }
    run->qlen = (size_t)n;
    run->id = next_id(shared(e));
    run->q[2] = (uint8_t)(run->id >> 8);
    run->q[3] = (uint8_t)run->id;
    run->q[0] = (uint8_t)(run->qlen >> 8);
    run->q[1] = (uint8_t)run->qlen;
    if (o->dot && t->ep.port_default)
        tw_addr_set_port(&t->addr, 853);
    t->run = run;
    if ((err = o->tcp ? start_tcp(run) : start_udp(run)) < 0) {
        t->run = NULL;
        free(run);
    }
    return err;
}

static void dns_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct dns_run *run = t->run;
    double ran;

    if (!run)
        return;
    ran = secs(tw_now_ns() - run->mark_ns);
    if (run->phase == D_UDP || run->phase == D_TCP)
        run->request_s += ran;
    else
        run->connect_s += ran;
    fill(run, r);
    if (run->phase == D_CONNECTING) {
        tw_connect_cancel(&run->conn);
    } else if (run->fd >= 0) {
        tw_io_forget(&run->io);
        if (run->tcp)
            tw_sock_abort(run->fd);
        else
            close(run->fd);
        run->fd = -1;
    }
    run->handshook = false; /* aborted: no close_notify */
    run_free(run);
}

/* ---- output: blackbox_exporter 0.23's dns families, its names and help ---- */

static void gauge(const struct tp_target *t, struct tu_prom *p, const char *l, int slot)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%ld", t->last.kind_val[slot]);
}

static void m_answer(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, DNS_ANSWER);
}

static void m_authority(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, DNS_AUTHORITY);
}

static void m_additional(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, DNS_ADDITIONAL);
}

static void m_succeeded(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, DNS_SUCCEEDED);
}

/* Only for SOA queries, as blackbox registers it only then. */
static void m_serial(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (dopts(t->def)->qtype == 6)
        gauge(t, p, l, DNS_SERIAL);
}

/* Every phase, always (blackbox sets them up before it starts), in the
 * order its registry writes them. A name that did not resolve has no
 * resolve time: blackbox adds it after resolving. */
static void m_phases(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    static const char *const names[] = {"connect", "request", "resolve"};
    double v[3];

    if (!t->have_last)
        return;
    v[0] = t->last.phase[TP_PH_CONNECT];
    v[1] = (double)t->last.kind_val[DNS_REQUEST_NS] / 1e9;
    v[2] = t->last.ip_protocol ? t->last.dns : 0;
    for (int i = 0; i < 3; i++) {
        tu_prom_begin(p, NULL);
        tu_prom_labels(p, l);
        tu_prom_label(p, "phase", names[i]);
        tu_prom_value(p, "%.6f", v[i]);
    }
}

static const struct tp_metric dns_metrics[] = {
    {"probe_dns_duration_seconds", "Duration of DNS request by phase", m_phases},
    {"probe_dns_answer_rrs", "Returns number of entries in the answer resource record list",
     m_answer},
    {"probe_dns_authority_rrs",
     "Returns number of entries in the authority resource record list", m_authority},
    {"probe_dns_additional_rrs",
     "Returns number of entries in the additional resource record list", m_additional},
    {"probe_dns_query_succeeded", "Displays whether or not the query was executed successfully",
     m_succeeded},
    {"probe_dns_serial", "Returns the serial number of the zone", m_serial},
    TP_METRIC_TLS_HANDSHAKE,
};

static void dns_json(FILE *f, const struct tp_result *r)
{
    char b[16];

    fprintf(f, ",\"request_s\":%.6f", (double)r->kind_val[DNS_REQUEST_NS] / 1e9);
    if (r->kind_val[DNS_TCP])
        fputs(",\"tcp\":true", f);
    if (!r->kind_val[DNS_SUCCEEDED])
        return;
    fprintf(f, ",\"rcode\":\"%s\",\"answer_rrs\":%ld,\"authority_rrs\":%ld,"
               "\"additional_rrs\":%ld",
            tp_dns_rcode_name((int)r->kind_val[DNS_RCODE], b), r->kind_val[DNS_ANSWER],
            r->kind_val[DNS_AUTHORITY], r->kind_val[DNS_ADDITIONAL]);
}

/* "host" or "host:port"; port 53 (853 with dns_over_tls) when none. A
 * bare IPv6 address is the host alone, as blackbox takes it (Go's
 * SplitHostPort fails on it, and the whole target is the host). */
static int dns_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    const char *colon = strchr(target, ':');

    if (*target != '[' && colon && strchr(colon + 1, ':')) {
        if (tp_host_set(ep, target, strlen(target), true, why) < 0)
            return tp_bad_target(ep, why, "bad IPv6 address");
        ep->port = 53;
        ep->port_default = true;
        return 0;
    }
    return tp_hostport_parse(target, ep, 53, why);
}

const struct tp_kind tp_kind_dns = {
    .name = "dns",
    .keys = tp_dns_keys,
    .nkeys = TP_DNS_NKEYS,
    .common = TP_KEYS_TLS | TP_KEYS_CONN | TP_KEYS_RESUME,
    .opts_size = sizeof(struct tp_dns_opts),
    .parse_target = dns_parse_target,
    .init = dns_init,
    .fini = dns_fini,
    .start = dns_start,
    .cancel = dns_cancel,
    .forget = tp_resume_forget,
    .metrics = dns_metrics,
    .nmetrics = sizeof(dns_metrics) / sizeof(dns_metrics[0]),
    .json = dns_json,
};
