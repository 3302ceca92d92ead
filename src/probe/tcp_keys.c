/* The tcp kind's config keys (kinds.h, struct tp_tcp_opts): twkit's short
 * form, send and expect on raw bytes, and blackbox_exporter's tcp prober
 * keys, query_response and tls, with blackbox's meaning.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probe/config.h"
#include "probe/kinds.h"
#include "probe/probe.h"

/* ---- send and expect: twkit's short form ---- */

/* "X and Y cannot both be set": the short form and query_response say the
 * same thing two ways, and neither can win over the other sensibly. */
static bool both_set(struct tp_cfgctx *c, const struct tp_val *v, const char *key,
                     const struct tp_tcp_opts *o)
{
    const char *other = NULL;
    unsigned long line = 0;

    if (strcmp(key, "query_response")) {
        if (o->query_response) {
            other = "query_response";
            line = o->qr_line;
        }
    } else if (o->send_line) {
        other = "send";
        line = o->send_line;
    } else if (o->expect_line) {
        other = "expect";
        line = o->expect_line;
    }
    if (!other)
        return false;
    tp_cfg_err(c, &v->at, "%s and %s cannot both be set (line %lu has %s; send and expect are "
                          "a short form of query_response)", key, other, line, other);
    return true;
}

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

    o->send_line = v->at.line;
    if (both_set(c, v, "send", o))
        return false;
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
    struct tp_arg rx = *a; /* ours to free */

    o->expect_line = a->v->at.line;
    if (both_set(c, a->v, "expect", o)) {
        tp_regex_free(&rx.rx);
        return false;
    }
    o->expect = rx.rx;
    def->has_regex = true;
    return true;
}

static void free_expect(struct tp_def *def)
{
    struct tp_tcp_opts *o = def->opts;

    tp_regex_free(&o->expect);
}

/* ---- query_response ---- */

/* A step's expect or send: a scalar, as written (NUL bytes and all: Go's
 * strings hold them too). */
static bool step_scalar(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                        const char *what)
{
    if (v->shape == TP_V_MAP || v->shape == TP_V_LIST) {
        tp_cfg_err(c, &v->at, "%s must be %s, not %s", key, what, tp_val_kind(v));
        return false;
    }
    if (v->shape == TP_V_NULL) {
        tp_cfg_err(c, &v->at, "%s has no value (expected %s)", key, what);
        return false;
    }
    return true;
}

static bool set_step(struct tp_cfgctx *c, void *obj, const struct tp_key *k, struct tp_arg *a)
{
    struct tp_tcp_step *st = obj;
    struct tp_quoted q;
    char eb[200];
    int rc;

    switch (k->name[1]) {
    case 'x': /* expect: blackbox compiles any string, "" too (it matches any line) */
        if (!step_scalar(c, "expect", a->v, "a regular expression"))
            return false;
        rc = tp_regex_compile(&st->expect, a->v->s, a->v->len, eb, sizeof(eb));
        if (rc == -ENOMEM)
            tp_cfg_oom(c);
        else if (rc < 0)
            tp_cfg_err(c, &a->v->at, "bad expect regex %s: %s",
                       tp_quote(&q, a->v->s, a->v->len), eb);
        return rc == 0;
    case 'e': /* send */
        if (!step_scalar(c, "send", a->v, "a string"))
            return false;
        if (!(st->send = tp_cfg_dupn(c, a->v->s, a->v->len)))
            return false;
        st->send_len = a->v->len;
        return true;
    default: /* starttls */
        st->starttls = a->b;
        st->starttls_line = a->v->at.line;
        st->starttls_col = a->v->at.col;
        return true;
    }
}

static const struct tp_key step_keys[] = {
    {.name = "expect", .type = TP_T_VALUE},
    {.name = "send", .type = TP_T_VALUE},
    {.name = "starttls", .type = TP_T_BOOL},
};

static void free_steps(struct tp_tcp_step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tp_regex_free(&steps[i].expect);
        free(steps[i].send);
    }
    free(steps);
}

/* A second TLS layer is nothing anyone probes: refused rather than run.
 * tls_at: where tls: true was written, when it is being set now (the
 * steps came first); NULL when the steps are being set. */
static bool check_starttls(struct tp_cfgctx *c, const struct tp_tcp_opts *o,
                           const struct tp_tcp_step *steps, size_t n, const struct tp_pos *tls_at)
{
    const struct tp_tcp_step *first = NULL;

    for (size_t i = 0; i < n; i++) {
        struct tp_pos at = {steps[i].starttls_line, steps[i].starttls_col};
        if (!steps[i].starttls)
            continue;
        if (tls_at) {
            tp_cfg_err(c, tls_at, "tls: true, but query_response has starttls (line %lu): the "
                                  "connection would be TLS already", at.line);
            return false;
        }
        if (o->tls) {
            tp_cfg_err(c, &at, "starttls with tls: true: the connection is TLS already");
            return false;
        }
        if (first) {
            tp_cfg_err(c, &at, "a second starttls (the first is at line %lu): the connection is "
                               "TLS already", first->starttls_line);
            return false;
        }
        first = &steps[i];
    }
    return true;
}

static bool set_query_response(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_tcp_opts *o = def->opts;
    const struct tp_val *v = a->v;
    struct tp_tcp_step *steps;
    bool ok = true;

    o->query_response = true;
    o->qr_line = v->at.line;
    if (both_set(c, v, "query_response", o))
        return false;
    if (v->shape != TP_V_LIST) {
        tp_cfg_err(c, &v->at, "query_response must be a list of steps (mappings of expect, send "
                              "and starttls), not %s",
                   v->shape == TP_V_NULL ? "empty" : tp_val_kind(v));
        return false;
    }
    if (!c->front) { /* a front end that cannot hand over items: never silently empty */
        tp_cfg_err(c, &v->at, "query_response: nested values cannot be read here");
        return false;
    }
    size_t n = tp_val_nitems(c, v);
    if (!(steps = calloc(n ? n : 1, sizeof(*steps)))) {
        tp_cfg_oom(c);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct tp_val item;
        tp_val_item(c, v, i, NULL, &item);
        if (item.shape != TP_V_MAP) {
            tp_cfg_err(c, &item.at, "a query_response step must be a mapping of expect, send "
                                    "and starttls, not %s",
                       item.shape == TP_V_NULL ? "empty" : tp_val_kind(&item));
            ok = false;
            continue;
        }
        if (!tp_cfg_inner(c, &item, "query_response step", step_keys,
                          sizeof(step_keys) / sizeof(step_keys[0]), set_step, &steps[i]))
            ok = false;
    }
    if (ok)
        ok = check_starttls(c, o, steps, n, NULL);
    if (!ok) {
        free_steps(steps, n);
        return false;
    }
    o->steps = steps;
    o->nsteps = n;
    for (size_t i = 0; i < n; i++)
        if (steps[i].expect.code)
            def->has_regex = true;
    return true;
}

static void free_query_response(struct tp_def *def)
{
    struct tp_tcp_opts *o = def->opts;

    free_steps(o->steps, o->nsteps);
    o->steps = NULL;
    o->nsteps = 0;
}

static bool set_tls(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_tcp_opts *o = def->opts;

    o->tls = a->b;
    return !o->tls || check_starttls(c, o, o->steps, o->nsteps, &a->v->at);
}

const struct tp_key tp_tcp_keys[TP_TCP_NKEYS] = {
    {.name = "send", .type = TP_T_VALUE, .apply = set_send, .free = free_send},
    {.name = "expect", .type = TP_T_REGEX, .apply = set_expect, .free = free_expect},
    {.name = "query_response", .type = TP_T_VALUE, .blackbox = true,
     .apply = set_query_response, .free = free_query_response},
    {.name = "tls", .type = TP_T_BOOL, .blackbox = true, .apply = set_tls},
};
