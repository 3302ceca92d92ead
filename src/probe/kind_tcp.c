/* The tcp probe: connect (timed), then, if the probe has any, a
 * conversation, and close with RST so neither side keeps TIME_WAIT (or,
 * with close: graceful, with our FIN: then this side keeps it).
 *
 * The conversation is blackbox_exporter 0.23's tcp prober exactly: with
 * tls: true a TLS handshake first; then each query_response step in turn,
 * expect (read lines, as Go's bufio.Scanner splits them, until one
 * matches), send (the text and "\n", ${1}.. expanded from that match as
 * Go's Regexp.Expand does), starttls (a TLS handshake on the connection).
 * The probe fails when the target closes before a line matches
 * (probe_failed_due_to_regex 1), when a line exceeds 64 KiB (Go's
 * bufio.MaxScanTokenSize: what blackbox refuses), or at the timeout. twkit's
 * short form, send and then expect, runs as two steps on raw bytes: the send
 * as decoded, no "\n"; the expect against the first bytes read, up to 4 KiB.
 *
 * A probe with nothing to say costs what the kernel asks and no more
 * (socket + connect, one epoll registration, one wakeup, SO_LINGER +
 * close): the watcher is forgotten, not deregistered, because close()
 * removes it from epoll anyway; tens of thousands of these run a second.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "probe/config.h"
#include "probe/ipproto.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "probe/tls_client.h"
#include "twkit/time.h"

extern const struct tp_kind tp_kind_tcp;

#define EXPECT_MAX 4096          /* short form: bytes matched against expect */
#define LINE_MAX_BYTES 65536     /* Go's bufio.MaxScanTokenSize: a line and
                                    its "\n" must fit */
#define LINE_FIRST 4096          /* the buffer starts this big, as Go's */
#define SEND_MAX (1u << 20)      /* a send after expansion */

enum tcp_phase { CONNECTING, HANDSHAKE, TALKING, TICKET };
enum step_part { P_EXPECT, P_SEND, P_STARTTLS };

/* A step as run: a query_response item, or a half of the short form. */
struct step {
    const struct tp_regex *expect;
    const char *send;
    size_t send_len;
    bool starttls;
    bool raw;  /* the short form: bytes as decoded, no "\n", no ${1} */
};

struct tcp_run {
    tw_io io;
    struct tp_engine *e;
    struct tp_target *t;
    enum tcp_phase phase;
    unsigned want;            /* events io is started with */
    uint64_t t0_ns, tls_start_ns;
    double connect_s, tls_s;
    SSL *ssl;                 /* once a handshake started */
    bool handshook;
    bool offered;             /* tls_resumption: a session was offered */
    tw_timer ticket_timer;    /* TICKET: the wait for a TLS 1.3 ticket */
    size_t step;              /* the step under way */
    enum step_part part;
    /* what was read and not consumed: buf[start, end) */
    char *buf;
    size_t cap, start, end;
    size_t scanned;           /* bytes from start known to hold no '\n' */
    bool eof;
    unsigned lines;           /* lines read by this step's expect */
    /* what is being sent: out[sent, out_len) */
    char *out;                /* owned unless it is the definition's */
    bool out_owned;
    size_t out_len, sent;
    /* the TLS fields of the last handshake, for the result */
    struct tp_result tlsr;
};

static const struct tp_tcp_opts *tcp_opts(const struct tp_def *def) { return def->opts; }

/* Step i of def, or false past the last. */
static bool step_at(const struct tp_tcp_opts *o, size_t i, struct step *s)
{
    memset(s, 0, sizeof(*s));
    if (o->query_response) {
        if (i >= o->nsteps)
            return false;
        s->expect = o->steps[i].expect.code ? &o->steps[i].expect : NULL;
        s->send = o->steps[i].send;
        s->send_len = o->steps[i].send_len;
        s->starttls = o->steps[i].starttls;
        return true;
    }
    s->raw = true;
    if (i == 0 && o->send) {
        s->send = o->send;
        s->send_len = o->send_len;
        return true;
    }
    if (i == (o->send ? 1u : 0u) && o->expect.code) {
        s->expect = &o->expect;
        return true;
    }
    return false;
}

static bool talks(const struct tp_tcp_opts *o)
{
    struct step s;

    return o->tls || step_at(o, 0, &s);
}

/* ---- ending ---- */

static void run_free(struct tcp_run *run)
{
    tw_timer_stop(&run->ticket_timer);
    if (run->handshook)
        tp_resume_take(run->t, run->ssl); /* a ticket read on the way */
    tp_tls_end(run->ssl, run->t->def, run->handshook);
    tp_result_release(&run->tlsr);
    if (run->out_owned)
        free(run->out);
    free(run->buf);
    run->t->run = NULL;
    free(run);
}

/* What every result of the run has: the phases, and the TLS fields of the
 * last handshake (blackbox reports them once a handshake succeeded, however
 * the probe ends after it). r takes over the leaf info. */
static void fill(struct tcp_run *run, struct tp_result *r)
{
    r->phase[TP_PH_CONNECT] = run->connect_s;
    r->phase[TP_PH_TLS] = run->tls_s;
    if (run->tlsr.handshake)
        r->handshake = run->tlsr.handshake;
    if (run->tlsr.tls) {
        r->tls = true;
        r->cert_expiry = run->tlsr.cert_expiry;
        r->leaf_expiry = run->tlsr.leaf_expiry;
        r->last_chain_expiry = run->tlsr.last_chain_expiry;
        r->tls_version = run->tlsr.tls_version;
        r->verify = run->tlsr.verify;
        tp_result_release(r);
        r->leaf_info = run->tlsr.leaf_info;
        run->tlsr.leaf_info = NULL;
    }
}

static void tcp_end(struct tcp_run *run, struct tp_result *r)
{
    struct tp_engine *e = run->e;
    struct tp_target *t = run->t;
    int fd = run->io.fd;

    fill(run, r);
    tw_io_forget(&run->io);
    run_free(run);
    tp_close(e, t->def, fd);
    tp_probe_done(e, t, r);
}

static void tcp_fail_errno(struct tcp_run *run, int err)
{
    struct tp_result r = {.verify = -1};

    tp_result_errno(&r, err);
    tcp_end(run, &r);
}

static void tcp_succeed(struct tcp_run *run)
{
    struct tp_result r = {.outcome = TP_SUCCESS, .verify = -1};

    tcp_end(run, &r);
}

static bool wait_for(struct tcp_run *run, unsigned want);

static void on_ticket_timeout(tw_timer *tm)
{
    tcp_succeed(tm->data); /* no ticket: the next probe is full again */
}

/* The conversation is over. With tls_resumption after a full TLS 1.3
 * handshake whose ticket has not been read (the server sends it after the
 * handshake: a probe that reads nothing after it has not seen it), read on
 * for it a while first. */
static void tcp_done(struct tcp_run *run)
{
    if (!run->handshook || tp_resume_take(run->t, run->ssl)) {
        tcp_succeed(run);
        return;
    }
    if (!wait_for(run, TW_IO_READ))
        return; /* ended */
    run->phase = TICKET;
    tw_timer_start(tp_engine_loop(run->e), &run->ticket_timer,
                   tp_resume_ticket_wait_ms(run->t));
}

__attribute__((format(printf, 4, 5))) static void tcp_fail(struct tcp_run *run,
                                                          const char *reason, bool regex,
                                                          const char *fmt, ...)
{
    struct tp_result r = {.outcome = TP_FAILURE, .reason = reason, .regex_failed = regex,
                          .verify = -1};
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r.detail, sizeof(r.detail), fmt, ap);
    va_end(ap);
    tcp_end(run, &r);
}

/* A failure the TLS layer described in r. */
static void tcp_fail_with(struct tcp_run *run, struct tp_result *r)
{
    tcp_end(run, r);
}

/* ---- io ---- */

/* Watch for want; false when the probe has ended. */
static bool wait_for(struct tcp_run *run, unsigned want)
{
    int err;

    if (want == run->want)
        return true;
    if ((err = tw_io_start(tp_engine_loop(run->e), &run->io, want)) < 0) {
        tcp_fail_errno(run, err);
        return false;
    }
    run->want = want;
    return true;
}

/* Read into buf[end, cap): > 0 bytes, 0 end of data, -EAGAIN (waiting
 * set up), or -1: the probe has ended. */
static ssize_t io_read(struct tcp_run *run)
{
    struct tp_result r = {.verify = -1};
    unsigned want = TW_IO_READ;
    ssize_t n;

    if (run->ssl) {
        n = tp_tls_read(run->ssl, run->buf + run->end, run->cap - run->end, &want, &r);
        if (n == -1) {
            tcp_fail_with(run, &r);
            return -1;
        }
    } else {
        n = read(run->io.fd, run->buf + run->end, run->cap - run->end);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            tcp_fail_errno(run, errno);
            return -1;
        }
        if (n < 0)
            n = -EAGAIN;
    }
    if (n == -EAGAIN && !wait_for(run, want))
        return -1;
    return n;
}

/* Write out[sent, out_len): true when all is out; false when waiting or
 * ended (ended: run->t->run is NULL... the caller returns either way). */
static bool io_write(struct tcp_run *run, bool *ended)
{
    while (run->sent < run->out_len) {
        struct tp_result r = {.verify = -1};
        unsigned want = TW_IO_WRITE;
        size_t left = run->out_len - run->sent;
        ssize_t n;

        if (run->ssl) {
            n = tp_tls_write(run->ssl, run->out + run->sent, left, &want, &r);
            if (n == -1) {
                *ended = true;
                tcp_fail_with(run, &r);
                return false;
            }
        } else {
            n = send(run->io.fd, run->out + run->sent, left, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                *ended = true;
                tcp_fail_errno(run, errno);
                return false;
            }
            if (n < 0)
                n = -EAGAIN;
        }
        if (n == -EAGAIN) {
            *ended = !wait_for(run, want);
            return false;
        }
        run->sent += (size_t)n;
    }
    return true;
}

/* Room to read into: the unconsumed bytes moved to the front when that
 * frees space, the buffer grown (to limit) when it is full. False: no
 * memory (the probe has ended). */
static bool make_room(struct tcp_run *run, size_t limit)
{
    if (run->start > 0 && (run->end == run->cap || run->start > run->cap / 2)) {
        memmove(run->buf, run->buf + run->start, run->end - run->start);
        run->end -= run->start;
        run->start = 0;
    }
    if (run->end == run->cap && run->cap < limit) {
        size_t ncap = run->cap ? run->cap * 2 : LINE_FIRST;
        char *nb;
        if (ncap > limit)
            ncap = limit;
        if (!(nb = realloc(run->buf, ncap))) {
            tcp_fail_errno(run, ENOMEM);
            return false;
        }
        run->buf = nb;
        run->cap = ncap;
    }
    return true;
}

/* ---- steps ---- */

static bool name_char(char ch) { return tp_is_alnum(ch) || ch == '_'; }

/* Append n bytes to out; false past SEND_MAX. */
static bool out_add(struct tcp_run *run, size_t *cap, const char *s, size_t n)
{
    if (n > SEND_MAX - run->out_len)
        return false;
    if (run->out_len + n > *cap) {
        size_t ncap = *cap ? *cap : 64;
        char *nb;
        while (ncap < run->out_len + n)
            ncap *= 2;
        if (!(nb = realloc(run->out, ncap)))
            return false;
        run->out = nb;
        *cap = ncap;
    }
    memcpy(run->out + run->out_len, s, n);
    run->out_len += n;
    return true;
}

/* Go's Regexp.Expand of tpl with the match g (ng groups) of re in line:
 * $1 or ${1} a group by number, $name or ${name} by name (the longest run
 * of letters, digits and _: "$1x" is the group named "1x", so empty), $$ a
 * dollar, a $ that starts no reference as it is; groups that did not take
 * part, or do not exist, expand to nothing. Names are ASCII here (Go also
 * takes other Unicode letters in a name). */
static bool expand(struct tcp_run *run, size_t *cap, const struct tp_regex *re, const char *tpl,
                   size_t n, const char *line, const struct tp_span *g, unsigned ng)
{
    size_t i = 0;

    while (i < n) {
        const char *d = memchr(tpl + i, '$', n - i);
        size_t j, ns, len;
        long num = 0;
        bool brace = false;
        int gi;

        if (!d)
            return out_add(run, cap, tpl + i, n - i);
        if (!out_add(run, cap, tpl + i, (size_t)(d - (tpl + i))))
            return false;
        i = (size_t)(d - tpl) + 1;
        if (i < n && tpl[i] == '$') {
            if (!out_add(run, cap, "$", 1))
                return false;
            i++;
            continue;
        }
        j = i;
        if (j < n && tpl[j] == '{') {
            brace = true;
            j++;
        }
        for (ns = j; j < n && name_char(tpl[j]); j++)
            ;
        len = j - ns;
        if (len == 0 || (brace && (j >= n || tpl[j] != '}'))) {
            if (!out_add(run, cap, "$", 1)) /* malformed: the $ as text */
                return false;
            continue;
        }
        j += brace;
        for (size_t k = 0; k < len && num >= 0; k++)
            num = tp_is_digit(tpl[ns + k]) && num < 100000000 ? num * 10 + (tpl[ns + k] - '0')
                                                               : -1;
        if (len > 1 && tpl[ns] == '0')
            num = -1; /* no leading zeros: a name */
        gi = num >= 0 ? (num < (long)ng ? (int)num : -1) : tp_regex_group_named(re, tpl + ns, len);
        if (gi >= 0 && (unsigned)gi < ng && g[gi].off >= 0 &&
            !out_add(run, cap, line + g[gi].off, (size_t)g[gi].len))
            return false;
        i = j;
    }
    return true;
}

/* What the step sends, into out: after a line mode expect its expansion
 * (line and its len), and "\n" unless that leaves nothing. False: the probe
 * has ended. */
static bool prepare_send(struct tcp_run *run, const struct step *s, const char *line,
                         size_t len)
{
    struct tp_span gs[16], *g = gs;
    size_t cap = 0;
    unsigned ng = 0;
    bool ok;

    if (run->out_owned)
        free(run->out);
    run->out = NULL;
    run->out_owned = false;
    run->out_len = run->sent = 0;
    if (!s->send)
        return true;
    if (s->raw) {
        run->out = (char *)s->send;
        run->out_len = s->send_len;
        return true;
    }
    run->out_owned = true;
    if (s->expect && line) {
        ng = tp_regex_ngroups(s->expect) + 1;
        if (ng > sizeof(gs) / sizeof(gs[0]) && !(g = malloc(ng * sizeof(*g)))) {
            tcp_fail_errno(run, ENOMEM);
            return false;
        }
        tp_regex_groups(s->expect, line, len, g, ng);
        ok = expand(run, &cap, s->expect, s->send, s->send_len, line, g, ng);
        if (g != gs)
            free(g);
    } else {
        ok = out_add(run, &cap, s->send, s->send_len);
    }
    if (ok && run->out_len)
        ok = out_add(run, &cap, "\n", 1);
    if (!ok) {
        tcp_fail(run, "send", false, "step %zu: send longer than %u bytes (or no memory)",
                 run->step + 1, SEND_MAX);
        return false;
    }
    return true;
}

/* The short form's expect: the bytes read so far, up to EXPECT_MAX, must
 * match. 1 matched; 0 waiting; -1 ended. */
static int expect_raw(struct tcp_run *run, const struct step *s)
{
    for (;;) {
        size_t got = run->end - run->start;
        ssize_t n;

        if (got && tp_regex_match(s->expect, run->buf + run->start, got)) {
            run->start = run->end = 0;
            return 1;
        }
        if (run->eof) {
            tcp_fail(run, "expect", true, "the target closed and the bytes it sent (%zu bytes "
                                          "read) do not match /%s/", got, s->expect->text);
            return -1;
        }
        if (got >= EXPECT_MAX) {
            tcp_fail(run, "expect", true, "the first bytes (%zu bytes read) do not match /%s/",
                     got, s->expect->text);
            return -1;
        }
        if (!make_room(run, EXPECT_MAX))
            return -1;
        if ((n = io_read(run)) == -1)
            return -1;
        if (n == -EAGAIN)
            return 0;
        if (n == 0)
            run->eof = true;
        run->end += (size_t)(n > 0 ? n : 0);
    }
}

/* A line mode expect: lines as bufio.ScanLines splits them (at "\n", one
 * "\r" before it dropped, an unterminated last line at the end of data),
 * until one matches; then the step's send is prepared from it. 1 matched;
 * 0 waiting; -1 ended. */
static int expect_lines(struct tcp_run *run, const struct step *s)
{
    for (;;) {
        char *p = run->buf + run->start, *nl;
        size_t have = run->end - run->start, len;
        ssize_t n;

        nl = have > run->scanned ? memchr(p + run->scanned, '\n', have - run->scanned) : NULL;
        if (nl || (run->eof && have)) {
            len = nl ? (size_t)(nl - p) : have;
            run->start += nl ? len + 1 : len;
            run->scanned = 0;
            if (len && p[len - 1] == '\r')
                len--;
            run->lines++;
            if (tp_regex_match(s->expect, p, len)) {
                /* p stays valid: nothing is read before the send is made */
                return prepare_send(run, s, p, len) ? 1 : -1;
            }
            continue;
        }
        run->scanned = have;
        if (run->eof) {
            tcp_fail(run, "expect", true, "the target closed before a line matched /%s/ "
                                          "(lines read: %u)", s->expect->text, run->lines);
            return -1;
        }
        if (have >= LINE_MAX_BYTES) {
            tcp_fail(run, "long_line", false, "a line longer than %u bytes, expecting /%s/",
                     LINE_MAX_BYTES - 1, s->expect->text);
            return -1;
        }
        if (!make_room(run, LINE_MAX_BYTES))
            return -1;
        if ((n = io_read(run)) == -1)
            return -1;
        if (n == -EAGAIN)
            return 0;
        if (n == 0)
            run->eof = true;
        run->end += (size_t)(n > 0 ? n : 0);
    }
}

static void handshake(struct tcp_run *run);

/* Run the steps from where the run is, as far as the target lets us. */
static void talk(struct tcp_run *run)
{
    const struct tp_tcp_opts *o = tcp_opts(run->t->def);
    struct step s;
    bool ended = false;
    int rc;

    while (step_at(o, run->step, &s)) {
        switch (run->part) {
        case P_EXPECT:
            if (s.expect) {
                rc = s.raw ? expect_raw(run, &s) : expect_lines(run, &s);
                if (rc <= 0)
                    return;
                if (s.raw && !prepare_send(run, &s, NULL, 0))
                    return;
            } else if (!prepare_send(run, &s, NULL, 0)) {
                return;
            }
            run->part = P_SEND;
            __attribute__((fallthrough));
        case P_SEND:
            if (!io_write(run, &ended))
                return;
            run->part = P_STARTTLS;
            __attribute__((fallthrough));
        case P_STARTTLS:
            if (s.starttls) {
                handshake(run);
                return;
            }
            run->step++;
            run->part = P_EXPECT;
            run->lines = 0;
        }
    }
    tcp_done(run);
}

/* ---- TLS ---- */

static void handshake_turn(struct tcp_run *run)
{
    struct tp_result r = {.verify = -1};
    unsigned want = 0;
    int rc = tp_tls_handshake(run->ssl, &want, &r);

    if (rc == 0) {
        wait_for(run, want);
        return;
    }
    run->tls_s += (double)(tw_now_ns() - run->tls_start_ns) / 1e9;
    if (rc < 0) {
        tp_resume_failed(run->t, run->offered, &r);
        tcp_fail_with(run, &r);
        return;
    }
    run->handshook = true;
    /* A resumed handshake reports its session's full one (tls_resume.c). A
     * certificate that does not verify fails the probe with no TLS fields,
     * as blackbox's failed dial or handshake has no TLS series. */
    if (!tp_resume_verdict(run->t, run->ssl, run->offered, false, &r,
                           tw_loop_now(tp_engine_loop(run->e)))) {
        tcp_fail_with(run, &r);
        return;
    }
    tp_result_release(&run->tlsr);
    run->tlsr = r;
    /* Go starts a new scanner on the TLS connection: what was buffered of
     * the plain text is gone. */
    run->start = run->end = run->scanned = 0;
    run->phase = TALKING;
    if (run->part == P_STARTTLS) {
        run->step++;
        run->part = P_EXPECT;
        run->lines = 0;
    }
    talk(run);
}

/* Start a handshake on the connection: tls: true, or a starttls step. */
static void handshake(struct tcp_run *run)
{
    const struct tp_def *def = run->t->def;
    struct tp_tlsctx *tc = *tp_engine_kind_data(run->e, &tp_kind_tcp);
    size_t idx = (size_t)(def - tp_engine_config(run->e)->defs);
    const char *name = def->tls_server_name ? def->tls_server_name : run->t->ep.host;
    int err;

    run->phase = HANDSHAKE;
    run->tls_start_ns = tw_now_ns();
    if (!tc || (err = tp_tls_new(tc, idx, run->io.fd, name, &run->ssl)) < 0) {
        tcp_fail_errno(run, tc ? err : EINVAL);
        return;
    }
    run->offered = tp_resume_offer(run->t, run->ssl, tw_loop_now(tp_engine_loop(run->e)));
    handshake_turn(run);
}

/* ---- the loop's events ---- */

static void tcp_io(tw_io *io, unsigned events)
{
    struct tcp_run *run = io->data;
    const struct tp_tcp_opts *o = tcp_opts(run->t->def);
    int err;

    switch (run->phase) {
    case CONNECTING:
        if (events & TW_IO_ERROR) {
            err = tw_sock_connect_result(io->fd);
            tcp_fail_errno(run, err < 0 ? err : -ECONNRESET);
            return;
        }
        run->connect_s = (double)(tw_now_ns() - run->t0_ns) / 1e9;
        if (!talks(o)) {
            tcp_succeed(run);
            return;
        }
        run->phase = TALKING;
        if (o->tls) {
            handshake(run);
            return;
        }
        talk(run); /* the socket is writable now: a send goes out at once */
        return;
    case HANDSHAKE:
        handshake_turn(run);
        return;
    case TALKING:
        talk(run);
        return;
    case TICKET:
        if (tp_resume_ticket_read(run->t, run->ssl))
            tcp_succeed(run);
        return;
    }
}

static int tcp_start(struct tp_engine *e, struct tp_target *t)
{
    struct tcp_run *run;
    struct tw_connect_opts co;
    int fd = -1, err;

    run = calloc(1, sizeof(*run));
    if (!run)
        return -ENOMEM;
    run->e = e;
    run->t = t;
    run->t0_ns = tw_now_ns();
    run->tlsr.verify = -1;
    tw_timer_init(&run->ticket_timer, on_ticket_timeout, run);
    err = tw_sock_connect(&t->addr, tp_source_opts(t->def, &co), &fd);
    if (err < 0 && err != -EINPROGRESS) {
        free(run);
        return err;
    }
    /* Connected at once or not, the result is reported from the loop. */
    tw_io_init(&run->io, fd, tcp_io, run);
    if ((err = tw_io_start(tp_engine_loop(e), &run->io, TW_IO_WRITE)) < 0) {
        tw_sock_abort(fd);
        free(run);
        return err;
    }
    run->want = TW_IO_WRITE;
    t->run = run;
    return 0;
}

static void tcp_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct tcp_run *run = t->run;
    struct step s;

    if (!run)
        return;
    if (run->phase == HANDSHAKE)
        run->tls_s += (double)(tw_now_ns() - run->tls_start_ns) / 1e9;
    fill(run, r);
    if (run->phase == TALKING && run->part == P_EXPECT &&
        step_at(tcp_opts(t->def), run->step, &s) && s.expect) {
        /* The target keeps the connection open without the expected
         * reply. The short form calls that a regex that did not match;
         * blackbox (a read timeout, not a mismatch) does not. */
        r->regex_failed = s.raw;
        if (s.raw)
            snprintf(r->detail, sizeof(r->detail), "%zu bytes read in %llu ms do not match /%s/",
                     run->end - run->start, (unsigned long long)t->timeout_ms,
                     s.expect->text);
        else
            snprintf(r->detail, sizeof(r->detail), "no line matched /%s/ within %llu ms "
                                                   "(lines read: %u)", s.expect->text,
                     (unsigned long long)t->timeout_ms, run->lines);
    }
    tw_io_forget(&run->io);
    tw_sock_abort(run->io.fd);
    /* the socket is gone: no close_notify into its number (another lane's
     * socket by now), and a probe that timed out keeps no session */
    run->handshook = false;
    run_free(run);
}

/* ---- TLS contexts, for the definitions that use TLS ---- */

static bool needs_tls(const struct tp_def *def)
{
    const struct tp_tcp_opts *o = def->opts;

    if (def->kind != &tp_kind_tcp)
        return false;
    for (size_t i = 0; i < o->nsteps; i++)
        if (o->steps[i].starttls)
            return true;
    return o->tls;
}

static void tcp_fini(struct tp_engine *e)
{
    void **slot = tp_engine_kind_data(e, &tp_kind_tcp);
    struct tp_tlsctx *tc = *slot;

    if (!tc)
        return;
    tp_tlsctx_fini(tc);
    free(tc);
    *slot = NULL;
}

/* Only a config with TLS in a tcp probe pays for contexts. */
static int tcp_init(struct tp_engine *e)
{
    const struct tp_config *cfg = tp_engine_config(e);
    struct tp_tlsctx *tc;
    bool any = false;
    int err;

    for (size_t i = 0; i < cfg->ndefs && !any; i++)
        any = needs_tls(&cfg->defs[i]);
    if (!any)
        return 0;
    if (!(tc = calloc(1, sizeof(*tc))))
        return -ENOMEM;
    if ((err = tp_tlsctx_init(tc, cfg, needs_tls)) < 0) {
        free(tc);
        return err;
    }
    *tp_engine_kind_data(e, &tp_kind_tcp) = tc;
    return 0;
}

/* ---- the kind ---- */

/* "host:port", the port required. */
static int tcp_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    return tp_hostport_parse(target, ep, 0, why);
}

/* blackbox's tcp prober writes these once a handshake succeeded. */
static const struct tp_metric tcp_metrics[] = {
    TP_METRIC_SSL_EARLIEST,
    TP_METRIC_SSL_LAST_CHAIN_EXPIRY,
    TP_METRIC_SSL_LAST_CHAIN_INFO,
    TP_METRIC_TLS_VERSION,
    TP_METRIC_TLS_HANDSHAKE,
};

const struct tp_kind tp_kind_tcp = {
    .name = "tcp",
    .keys = tp_tcp_keys,
    .nkeys = TP_TCP_NKEYS,
    .common = TP_KEYS_TLS | TP_KEYS_CONN | TP_KEYS_RESUME,
    .opts_size = sizeof(struct tp_tcp_opts),
    .parse_target = tcp_parse_target,
    .init = tcp_init,
    .fini = tcp_fini,
    .start = tcp_start,
    .cancel = tcp_cancel,
    .forget = tp_resume_forget,
    .metrics = tcp_metrics,
    .nmetrics = sizeof(tcp_metrics) / sizeof(tcp_metrics[0]),
    .regex_gauge = true,
};
