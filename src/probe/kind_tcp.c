/* The tcp probe: connect (timed), optionally send and wait for a reply that
 * matches a regex, then close with RST so neither side keeps TIME_WAIT (or,
 * with close: graceful, with our FIN: then this side keeps it).
 *
 * This is the probe a prober runs tens of thousands of times a second, so it
 * costs what the kernel asks and no more: socket + connect, one epoll
 * registration, one wakeup, SO_LINGER + close; the watcher is forgotten,
 * not deregistered, because close() removes it from epoll anyway.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/config.h"
#include "probe/ipproto.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "twkit/time.h"

#define EXPECT_MAX 4096 /* bytes of the reply matched against expect */

enum tcp_phase { CONNECTING, SENDING, READING };

static const struct tp_tcp_opts *tcp_opts(const struct tp_def *def) { return def->opts; }

struct tcp_run {
    tw_io io;
    struct tp_engine *e;
    struct tp_target *t;
    enum tcp_phase phase;
    uint64_t t0_ns;
    size_t sent, got;
    double connect_s;
    char buf[]; /* EXPECT_MAX + 1 when the definition has expect */
};

static void tcp_end(struct tcp_run *run, struct tp_result *r)
{
    struct tp_engine *e = run->e;
    struct tp_target *t = run->t;
    int fd = run->io.fd;

    r->phase[TP_PH_CONNECT] = run->connect_s;
    tw_io_forget(&run->io);
    tp_close(e, t->def, fd);
    free(run);
    t->run = NULL;
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

static void tcp_expect_failed(struct tcp_run *run, const char *why)
{
    struct tp_result r = {.outcome = TP_FAILURE, .reason = "expect", .regex_failed = true,
                          .verify = -1};

    snprintf(r.detail, sizeof(r.detail), "%s (%zu bytes read) do not match /%s/", why,
             run->got, tcp_opts(run->t->def)->expect.text);
    tcp_end(run, &r);
}

/* Returns true when the probe has ended. */
static bool tcp_read(struct tcp_run *run)
{
    const struct tp_tcp_opts *o = tcp_opts(run->t->def);

    for (;;) {
        ssize_t n = read(run->io.fd, run->buf + run->got, EXPECT_MAX - run->got);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return false;
            tcp_fail_errno(run, errno);
            return true;
        }
        if (n == 0) {
            tcp_expect_failed(run, "the target closed and the bytes it sent");
            return true;
        }
        run->got += (size_t)n;
        if (tp_regex_match(&o->expect, run->buf, run->got)) {
            tcp_succeed(run);
            return true;
        }
        if (run->got == EXPECT_MAX) {
            tcp_expect_failed(run, "the first bytes");
            return true;
        }
    }
}

/* Returns true when the probe has ended. */
static bool tcp_send(struct tcp_run *run)
{
    const struct tp_tcp_opts *o = tcp_opts(run->t->def);

    while (run->sent < o->send_len) {
        ssize_t n = send(run->io.fd, o->send + run->sent, o->send_len - run->sent,
                         MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return false;
            tcp_fail_errno(run, errno);
            return true;
        }
        run->sent += (size_t)n;
    }
    return false;
}

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
        if (!o->send && !o->expect.code) {
            tcp_succeed(run);
            return;
        }
        run->phase = SENDING; /* and the socket is writable now: */
        __attribute__((fallthrough));
    case SENDING:
        if (tcp_send(run))
            return;
        if (run->sent < o->send_len)
            return; /* wait for room */
        if (!o->expect.code) {
            tcp_succeed(run);
            return;
        }
        run->phase = READING;
        if ((err = tw_io_start(tp_engine_loop(run->e), io, TW_IO_READ)) < 0)
            tcp_fail_errno(run, err);
        return;
    case READING:
        tcp_read(run);
        return;
    }
}

static int tcp_start(struct tp_engine *e, struct tp_target *t)
{
    struct tcp_run *run;
    struct tw_connect_opts co;
    int fd = -1, err;

    run = calloc(1, sizeof(*run) + (tcp_opts(t->def)->expect.code ? EXPECT_MAX + 1 : 0));
    if (!run)
        return -ENOMEM;
    run->e = e;
    run->t = t;
    run->t0_ns = tw_now_ns();
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
    t->run = run;
    return 0;
}

static void tcp_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct tcp_run *run = t->run;

    if (!run)
        return;
    r->phase[TP_PH_CONNECT] = run->connect_s;
    if (run->phase == READING) {
        /* The target keeps the connection open without the expected
         * reply: a timeout, and a regex that did not match. */
        r->regex_failed = true;
        snprintf(r->detail, sizeof(r->detail), "%zu bytes read in %llu ms do not match /%s/",
                 run->got, (unsigned long long)t->def->timeout_ms, tcp_opts(t->def)->expect.text);
    }
    tw_io_forget(&run->io);
    tw_sock_abort(run->io.fd);
    free(run);
    t->run = NULL;
}

/* ---- config ---- */

static int hexval(char ch)
{
    if (tp_is_digit(ch))
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}
static bool set_send(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_tcp_opts *o = def->opts;
    const struct tp_val *v = a->v;
    const char *s;
    size_t n, j = 0;
    char *b;

    if (v->shape == TP_V_MAP || v->shape == TP_V_LIST) {
        tp_cfg_err(c, &v->at, "send must be a string, not %s", tp_val_kind(v));
        return false;
    }
    if (v->shape == TP_V_NULL) {
        tp_cfg_err(c, &v->at, "send has no value");
        return false;
    }
    s = v->s;
    n = v->len;
    if (n == 0) {
        tp_cfg_err(c, &v->at, "send is empty");
        return false;
    }
    if (!(b = malloc(n + 1))) {
        tp_cfg_oom(c);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            b[j++] = s[i];
            continue;
        }
        if (++i == n) {
            tp_cfg_err(c, &v->at, "send ends with a lone backslash");
            free(b);
            return false;
        }
        switch (s[i]) {
        case 'r': b[j++] = '\r'; break;
        case 'n': b[j++] = '\n'; break;
        case 't': b[j++] = '\t'; break;
        case '\\': b[j++] = '\\'; break;
        case '0': b[j++] = '\0'; break;
        case 'x':
            if (i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                b[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                i += 2;
                break;
            }
            tp_cfg_err(c, &v->at, "bad escape in send: \\x needs two hex digits");
            free(b);
            return false;
        default:
            if ((unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f)
                tp_cfg_err(c, &v->at, "bad escape \"\\%c\" in send (use \\r \\n \\t \\\\ \\0 or "
                               "\\xHH)", s[i]);
            else
                tp_cfg_err(c, &v->at, "bad escape in send (use \\r \\n \\t \\\\ \\0 or \\xHH)");
            free(b);
            return false;
        }
    }
    b[j] = '\0';
    o->send = b;
    o->send_len = j;
    return true;
}

static void free_send(struct tp_def *def)
{
    struct tp_tcp_opts *o = def->opts;

    free(o->send);
    o->send = NULL;
    o->send_len = 0;
}

static bool set_expect(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_tcp_opts *o = def->opts;

    o->expect = a->rx;
    def->has_regex = true;
    return true;
}

static void free_expect(struct tp_def *def)
{
    struct tp_tcp_opts *o = def->opts;

    tp_regex_free(&o->expect);
}

static const struct tp_key tcp_keys[] = {
    {.name = "send", .type = TP_T_VALUE, .apply = set_send, .free = free_send},
    {.name = "expect", .type = TP_T_REGEX, .apply = set_expect, .free = free_expect},
};

/* "host:port", the port required. */
static int tcp_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    return tp_hostport_parse(target, ep, 0, why);
}

const struct tp_kind tp_kind_tcp = {
    .name = "tcp",
    .keys = tcp_keys,
    .nkeys = sizeof(tcp_keys) / sizeof(tcp_keys[0]),
    .opts_size = sizeof(struct tp_tcp_opts),
    .parse_target = tcp_parse_target,
    .start = tcp_start,
    .cancel = tcp_cancel,
};
