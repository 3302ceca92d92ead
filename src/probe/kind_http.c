/* The http probe kind: one fresh easy handle per probe, run on the engine's
 * loop by curl_loop.c; here what is asked (method, headers, body, TLS
 * verification, redirects) and how the answer is judged (status, body
 * regex), with curl's codes and errnos turned into reasons.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/list.h"
#include "probe/config.h"
#include "probe/curl_loop.h"
#include "probe/ipproto.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "util/prom.h"

/* Enough for any sane expect_body; bounds memory per probe. */
#define BODY_KEEP (64u * 1024)

#ifdef TW_VERSION
#define USER_AGENT "twkit-probe/" TW_VERSION
#else
#define USER_AGENT "twkit-probe"
#endif

extern const struct tp_kind tp_kind_http;

static const struct tp_http_opts *http_opts(const struct tp_def *def) { return def->opts; }

/* The http kind's slots of a result's kind_val. */
enum { HTTP_STATUS, HTTP_REDIRECTS };

struct hrun {
    struct tp_curl_run cr;    /* first: curl_loop.c hands it back */
    struct tp_target *t;
    struct curl_slist *headers, *resolve;
    char *body;
    size_t body_len;
    bool body_cut;            /* more than BODY_KEEP arrived */
    uint64_t body_total;      /* for a body size metric: no result field yet */
    bool maybe_tls;
    const void *ssl_seen;     /* the SSL* of this connection already read */
    unsigned ssl_conn;        /* the connection (cr.conns) it belongs to */
    struct tp_result r;       /* TLS fields filled while the connection lives */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- per-transfer callbacks ---- */

static size_t on_body(char *p, size_t size, size_t n, void *clientp)
{
    struct hrun *run = clientp;
    size_t len = size * n, room;

    run->body_total += len;
    if (!http_opts(run->t->def)->expect_body.code)
        return len;
    if (!run->body) {
        run->body = malloc(BODY_KEEP + 1);
        if (!run->body) {
            run->cr.err = ENOMEM; /* local: curl's write error would blame the target */
            return 0;
        }
    }
    room = BODY_KEEP - run->body_len;
    if (len > room)
        run->body_cut = true;
    memcpy(run->body + run->body_len, p, len < room ? len : room);
    run->body_len += len < room ? len : room;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *clientp)
{
    struct hrun *run = clientp;
    size_t len = size * n;
    struct curl_tlssessioninfo *ti = NULL;

    /* a status line starts a new response (1xx, a redirect hop, the final
     * one): only the last one's body is judged */
    if (len < 5 || memcmp(p, "HTTP/", 5) != 0)
        return len;
    run->body_len = 0;
    run->body_cut = false;
    if (!run->maybe_tls)
        return len;
    /* the certificates are only reachable while the connection lives */
    if (run->ssl_conn != run->cr.conns) {
        run->ssl_seen = NULL; /* a new connection: its SSL* may reuse the address */
        run->ssl_conn = run->cr.conns;
    }
    if (curl_easy_getinfo(run->cr.easy, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
        ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals &&
        ti->internals != run->ssl_seen) {
        run->ssl_seen = ti->internals;
        tp_tls_expiry(ti->internals, &run->r);
    }
    return len;
}

/* ---- results ---- */

static double secs(curl_off_t us) { return us > 0 ? (double)us / 1e6 : 0; }
static double span(curl_off_t from, curl_off_t to) { return to > from ? secs(to - from) : 0; }

static bool verify_code(CURLcode c)
{
    switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return true;
    default:
        return false;
    }
}

static bool tls_code(CURLcode c)
{
    switch (c) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

/* Phases so far, status, redirects and the verify result: valid before the
 * handle leaves the multi, for a finished transfer and a cancelled one. */
static void measure(struct hrun *run, CURLcode code, struct tp_result *r)
{
    CURL *c = run->cr.easy;
    curl_off_t nl = 0, co = 0, ap = 0, pre = 0, st = 0, tot = 0, from;
    long status = 0, redirects = 0, verify = -1;

    curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME_T, &nl);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &co);
    curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &ap);
    curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &tot);
    /* a phase not reached stays 0 rather than absorbing the ones before */
    r->phase[TP_PH_RESOLVE] = secs(nl);
    r->phase[TP_PH_CONNECT] = co ? span(nl, co) : 0;
    r->phase[TP_PH_TLS] = ap ? span(co, ap) : 0;
    from = co > ap ? co : ap;
    if (pre > from)
        from = pre;
    r->phase[TP_PH_PROCESSING] = st ? span(from, st) : 0;
    r->phase[TP_PH_TRANSFER] = st ? span(st, tot) : 0;
    if (!co && run->cr.up_ns) {
        r->phase[TP_PH_CONNECT] = (double)(run->cr.up_ns - run->cr.open_ns) / 1e9;
        /* a handshake that failed did end; one still running did not */
        if (tls_code(code) || verify_code(code))
            r->phase[TP_PH_TLS] = (double)(tw_now_ns() - run->cr.up_ns) / 1e9;
    }

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
    r->kind_val[HTTP_STATUS] = status;
    r->kind_val[HTTP_REDIRECTS] = redirects;
    /* curl records the chain's verdict also when not enforcing it */
    if (r->tls || verify_code(code))
        curl_easy_getinfo(c, CURLINFO_SSL_VERIFYRESULT, &verify);
    r->verify = verify;
}

/* curl's messages run up to 255 bytes; the detail keeps what fits */
static void put_detail(struct tp_result *r, const char *text, const char *errname)
{
    int n = errname ? snprintf(r->detail, sizeof(r->detail), "%s (%s)", text, errname)
                    : snprintf(r->detail, sizeof(r->detail), "%s", text);

    if (n < 0)
        r->detail[0] = '\0';
}

static void fail(struct tp_result *r, const char *reason, const char *detail)
{
    r->outcome = TP_FAILURE;
    r->reason = reason;
    put_detail(r, detail, NULL);
}

/* Through tp_result_errno, which owns the errno -> outcome mapping; into a
 * scratch result so it cannot disturb what was measured. */
static void from_errno(struct hrun *run, struct tp_result *r, int err)
{
    struct tp_result x;

    memset(&x, 0, sizeof(x));
    tp_result_errno(&x, err);
    r->outcome = x.outcome;
    r->err = x.err;
    r->reason = x.reason;
    if (run->errbuf[0])
        put_detail(r, run->errbuf, tw_errname(err));
    else
        memcpy(r->detail, x.detail, sizeof(r->detail));
}

static void judge_curl(struct hrun *run, CURLcode code, struct tp_result *r)
{
    const char *text = run->errbuf[0] ? run->errbuf : curl_easy_strerror(code);
    long oserr = 0;

    switch (code) {
    case CURLE_OUT_OF_MEMORY:
        from_errno(run, r, ENOMEM);
        return;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
        /* the errno says refused, unreachable, reset, or out of local
         * ports (EADDRNOTAVAIL: local) better than curl's code */
        curl_easy_getinfo(run->cr.easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr > 0) {
            from_errno(run, r, (int)oserr);
            return;
        }
        break;
    default:
        break;
    }
    if (code == CURLE_OPERATION_TIMEDOUT)
        fail(r, "timeout", text);
    else if (verify_code(code))
        fail(r, "verify", text);
    else if (tls_code(code))
        fail(r, "tls", text);
    else if (code == CURLE_GOT_NOTHING)
        fail(r, "eof", text);
    else if (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR)
        fail(r, "reset", text);
    else if (code == CURLE_COULDNT_RESOLVE_HOST)
        fail(r, "dns", text); /* a redirect to a name curl resolved */
    else
        fail(r, "http", text);
}

static bool status_ok(const struct tp_http_opts *d, int status)
{
    if (!d->nstatus)
        return status >= 200 && status <= 299;
    for (size_t i = 0; i < d->nstatus; i++)
        if (status >= d->status[i].lo && status <= d->status[i].hi)
            return true;
    return false;
}

static void status_detail(const struct tp_http_opts *d, int status, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "status %d not in ", status);

    if (!d->nstatus && n < len)
        snprintf(buf + n, len - n, "200-299");
    for (size_t i = 0; i < d->nstatus && n < len; i++) {
        const struct tp_range *s = &d->status[i];

        if (s->lo == s->hi)
            n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : "", s->lo);
        else
            n += (size_t)snprintf(buf + n, len - n, "%s%u-%u", i ? "," : "", s->lo, s->hi);
    }
}

static void judge(struct hrun *run, CURLcode code, struct tp_result *r)
{
    const struct tp_http_opts *d = http_opts(run->t->def);

    if (run->cr.err) {
        /* socket() failed or we could not watch the socket: curl's code
         * (could not connect) would blame the target */
        from_errno(run, r, run->cr.err);
        return;
    }
    if (code != CURLE_OK) {
        judge_curl(run, code, r);
        return;
    }
    if (!status_ok(d, (int)r->kind_val[HTTP_STATUS])) {
        r->outcome = TP_FAILURE;
        r->reason = "status";
        status_detail(d, (int)r->kind_val[HTTP_STATUS], r->detail, sizeof(r->detail));
        return;
    }
    if (d->expect_body.code) {
        if (!tp_regex_match(&d->expect_body, run->body ? run->body : "", run->body_len)) {
            r->outcome = TP_FAILURE;
            r->reason = "body";
            r->regex_failed = true;
            snprintf(r->detail, sizeof(r->detail), "%sbody does not match %s",
                     run->body_cut ? "the first 64 KiB of the " : "", d->expect_body.text);
            return;
        }
    }
    r->outcome = TP_SUCCESS;
}

/* ---- runs ---- */

/* abort: the transfer is unfinished (cancel, fini, a local failure) */
static void release(struct hrun *run, bool abort)
{
    tp_curl_remove(&run->cr, abort);
    curl_easy_cleanup(run->cr.easy);
    curl_slist_free_all(run->headers);
    curl_slist_free_all(run->resolve);
    free(run->body);
    free(run);
}

static void finish(struct tp_curl_run *cr, CURLcode code)
{
    struct hrun *run = tw__container_of(cr, struct hrun, cr);
    struct tp_engine *e = run->t->engine;
    struct tp_target *t = run->t;
    struct tp_result r;

    measure(run, code, &run->r);
    judge(run, code, &run->r);
    r = run->r;
    release(run, run->cr.doomed);
    t->run = NULL;
    tp_probe_done(e, t, &r);
}

static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);

    if (!l)
        return -ENOMEM;
    *list = l;
    return 0;
}

static int build_lists(struct hrun *run)
{
    const struct tp_http_opts *d = http_opts(run->t->def);
    const struct tp_target *t = run->t;
    char line[512];
    int err;

    for (size_t i = 0; i < d->nheaders; i++) {
        const struct tp_kv *h = &d->headers[i];
        char *big = NULL;
        const char *s = line;
        int n;

        /* "Key:" would make curl drop the header; "Key;" sends it empty */
        if (h->value && h->value[0])
            n = snprintf(line, sizeof(line), "%s: %s", h->key, h->value);
        else
            n = snprintf(line, sizeof(line), "%s;", h->key);
        if (n < 0)
            return -EINVAL;
        if ((size_t)n >= sizeof(line)) {
            if (h->value && h->value[0] ? asprintf(&big, "%s: %s", h->key, h->value) < 0
                                        : asprintf(&big, "%s;", h->key) < 0)
                return -ENOMEM;
            s = big;
        }
        err = add_header(&run->headers, s);
        free(big);
        if (err < 0)
            return err;
    }
    /* The engine resolved the name already (and timed it); a literal needs
     * no entry, and an IPv6 literal would not parse as one. */
    if (!t->literal && !strchr(t->ep.host, ':')) {
        char host[TW_ADDRSTRLEN], entry[sizeof(t->ep.host) + TW_ADDRSTRLEN + 16];

        tw_addr_host(&t->addr, host, sizeof(host));
        snprintf(entry, sizeof(entry),
                 tw_addr_family(&t->addr) == AF_INET6 ? "%s:%u:[%s]" : "%s:%u:%s",
                 t->ep.host, t->ep.port, host);
        if ((err = add_header(&run->resolve, entry)) < 0)
            return err;
    }
    return 0;
}

#define SET(opt, val)                                              \
    do {                                                           \
        if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)      \
            return rc;                                             \
    } while (0)

static CURLcode setup(struct hrun *run)
{
    const struct tp_def *d = run->t->def;
    const struct tp_http_opts *o = http_opts(d);
    CURL *c = run->cr.easy;
    const char *method = o->method ? o->method : "GET";
    CURLcode rc;

    SET(CURLOPT_URL, run->t->target);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_ERRORBUFFER, run->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* every probe measures a whole connection and leaves nothing behind */
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
    SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
    /* a proxy from the environment would make the timings and the address
     * someone else's */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_TIMEOUT_MS, (long)d->timeout_ms);
    /* The engine resolves and caches names itself. curl's own cache keeps
     * even literal addresses for 60 s and walks every entry on each
     * transfer: with thousands of targets that walk was the largest user
     * CPU cost of a probe. */
    SET(CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    /* One request written at once: Nagle has nothing to hold back, and the
     * setsockopt is one system call per probe saved. */
    SET(CURLOPT_TCP_NODELAY, 0L);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    if (run->resolve)
        SET(CURLOPT_RESOLVE, run->resolve);
    if (d->ip_no_fallback) /* every hop in the one family, a redirect's too */
        SET(CURLOPT_IPRESOLVE, tp_def_ip_prefer(d) == AF_INET ? CURL_IPRESOLVE_V4
                                                              : CURL_IPRESOLVE_V6);
    if (run->headers)
        SET(CURLOPT_HTTPHEADER, run->headers);

    if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        /* POST alone, not as a custom method, so that a 303 turns it into
         * GET as browsers do */
        bool post = strcmp(method, "POST") == 0;

        if (o->body || post) {
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(o->body ? strlen(o->body) : 0));
            SET(CURLOPT_POSTFIELDS, o->body ? o->body : "");
        }
        if (!post && (strcmp(method, "GET") != 0 || o->body))
            SET(CURLOPT_CUSTOMREQUEST, method);
    }
    if (o->max_redirects > 0) {
        SET(CURLOPT_FOLLOWLOCATION, 1L);
        SET(CURLOPT_MAXREDIRS, (long)o->max_redirects);
    }
    SET(CURLOPT_SSL_VERIFYPEER, d->tls_verify ? 1L : 0L);
    SET(CURLOPT_SSL_VERIFYHOST, d->tls_verify ? 2L : 0L);
    if (d->tls_verify) {
        /* Trust one file: ca_file, or the system bundle curl was built with.
         * A CA directory (Debian's build sets one by default) would make
         * ca_file add to the system roots instead of replacing them, and it
         * keeps curl from caching the parsed store in the multi handle:
         * every probe would parse the whole bundle again (~25 ms of CPU).
         * Without a bundle the directory is the system store: kept. */
        if (d->ca_file || tp_curl_has_bundle())
            SET(CURLOPT_CAPATH, NULL);
        if (d->ca_file)
            SET(CURLOPT_CAINFO, d->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075700
        /* a replaced CA file is seen within minutes, not curl's 24 h */
        SET(CURLOPT_CA_CACHE_TIMEOUT, 600L);
#endif
    }

    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, run);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, run);
    return CURLE_OK;
}

#undef SET

/* ---- the kind ---- */

static int http_init(struct tp_engine *e)
{
    struct tp_curl *cm;
    int err = tp_curl_new(e, &cm);

    if (err == 0)
        *tp_engine_kind_data(e, &tp_kind_http) = cm;
    return err;
}

static void http_fini(struct tp_engine *e)
{
    void **slot = tp_engine_kind_data(e, &tp_kind_http);
    struct tp_curl *cm = *slot;
    struct tp_curl_run *cr;

    if (!cm)
        return;
    while ((cr = tp_curl_first(cm))) {
        struct hrun *run = tw__container_of(cr, struct hrun, cr);
        struct tp_target *t = run->t;

        release(run, true);
        t->run = NULL;
    }
    tp_curl_free(cm);
    *slot = NULL;
}

static int http_start(struct tp_engine *e, struct tp_target *t)
{
    struct tp_curl *cm = *tp_engine_kind_data(e, &tp_kind_http);
    struct hrun *run;
    CURLcode rc;
    int err;

    if (!cm || !t || !t->def || t->run)
        return -EINVAL;
    run = calloc(1, sizeof(*run));
    if (!run)
        return -ENOMEM;
    run->t = t;
    run->r.verify = -1;
    run->maybe_tls = t->ep.https || http_opts(t->def)->max_redirects > 0;
    run->cr.def = t->def;
    run->cr.done = finish;
    run->cr.easy = curl_easy_init();
    if (!run->cr.easy) {
        free(run);
        return -ENOMEM;
    }
    err = build_lists(run);
    if (err < 0)
        goto fail;
    rc = setup(run);
    if (rc != CURLE_OK) {
        err = rc == CURLE_OUT_OF_MEMORY ? -ENOMEM
            : rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN ? -ENOTSUP
            : -EINVAL;
        goto fail;
    }
    if ((err = tp_curl_add(cm, &run->cr)) < 0)
        goto fail;
    t->run = run;
    return 0;

fail:
    curl_easy_cleanup(run->cr.easy);
    curl_slist_free_all(run->headers);
    curl_slist_free_all(run->resolve);
    free(run);
    return err;
}

static void http_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct hrun *run = t->run;

    if (!run)
        return;
    /* what the engine reports is its own timeout; add what was measured */
    measure(run, CURLE_OK, &run->r);
    memcpy(r->phase, run->r.phase, sizeof(r->phase));
    memcpy(r->kind_val, run->r.kind_val, sizeof(r->kind_val));
    r->tls = run->r.tls;
    r->cert_expiry = run->r.cert_expiry;
    r->leaf_expiry = run->r.leaf_expiry;
    r->verify = run->r.verify;
    release(run, true);
    t->run = NULL;
}

/* ---- config ---- */

/* An http:// or https:// URL; the port defaults to 80 or 443. */
static int http_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    return tp_url_parse(target, ep, why);
}

static bool check_method(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (!tp_is_token(a->s)) {
        tp_cfg_err(c, &a->v->at, "bad method %s: expected an HTTP token like GET or HEAD",
                   tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool set_method(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = def->opts;

    return (o->method = tp_cfg_dup(c, a->s)) != NULL;
}

static bool default_method(struct tp_cfgctx *c, struct tp_def *def)
{
    struct tp_http_opts *o = def->opts;

    return (o->method = tp_cfg_dup(c, "GET")) != NULL;
}

static void free_method(struct tp_def *def)
{
    struct tp_http_opts *o = def->opts;

    free(o->method);
    o->method = NULL;
}

/* "200" or "200-299": 0, or why not (1: not that form, 2: not 100 to 599,
 * 3: backwards). */
static int parse_status(const char *s, unsigned long *lo, unsigned long *hi)
{
    const char *dash = strchr(s, '-');
    char a[8];

    if (dash) {
        size_t n = (size_t)(dash - s);
        if (n >= sizeof(a))
            n = sizeof(a) - 1;
        memcpy(a, s, n);
        a[n] = '\0';
    }
    if (!(dash ? tp_parse_uint(a, 0, 9999, lo) && tp_parse_uint(dash + 1, 0, 9999, hi)
               : tp_parse_uint(s, 0, 9999, lo) && (*hi = *lo, true)))
        return 1;
    if (*lo < 100 || *lo > 599 || *hi < 100 || *hi > 599)
        return 2;
    return *lo > *hi ? 3 : 0;
}

static bool check_status(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;
    unsigned long lo, hi;

    switch (parse_status(a->s, &lo, &hi)) {
    case 1:
        tp_cfg_err(c, &a->v->at, "bad expect_status %s: expected a status like 200 or a range "
                                 "like 200-299", tp_qs(&q, a->s));
        return false;
    case 2:
        tp_cfg_err(c, &a->v->at, "bad expect_status %s: status codes are 100 to 599",
                   tp_qs(&q, a->s));
        return false;
    case 3:
        tp_cfg_err(c, &a->v->at, "bad expect_status %s: the range is backwards",
                   tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool add_status(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = def->opts;
    struct tp_range *grown = realloc(o->status, (o->nstatus + 1) * sizeof(*grown));
    unsigned long lo, hi;

    if (!grown) {
        tp_cfg_oom(c);
        return false;
    }
    o->status = grown;
    parse_status(a->s, &lo, &hi);
    o->status[o->nstatus++] = (struct tp_range){(uint16_t)lo, (uint16_t)hi};
    return true;
}

static bool default_status(struct tp_cfgctx *c, struct tp_def *def)
{
    struct tp_http_opts *o = def->opts;

    if (!(o->status = calloc(1, sizeof(*o->status)))) {
        tp_cfg_oom(c);
        return false;
    }
    o->status[0] = (struct tp_range){200, 299};
    o->nstatus = 1;
    return true;
}

static void free_status(struct tp_def *def)
{
    struct tp_http_opts *o = def->opts;

    free(o->status);
    o->status = NULL;
    o->nstatus = 0;
}

static bool check_header(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;
    const char *name = a->name->s, *val;
    char what[120];

    if (a->name->len != strlen(name) || !tp_is_token(name)) {
        tp_cfg_err(c, &a->name->at, "bad header name %s: expected an HTTP token (letters, "
                                    "digits, !#$%%&'*+-.^_`|~)", tp_quote(&q, name, a->name->len));
        return false;
    }
    if (a->v->shape == TP_V_NULL) {
        tp_cfg_err(c, &a->v->at, "header %s has no value (write \"\" for an empty one)",
                   tp_qs(&q, name));
        return false;
    }
    snprintf(what, sizeof(what), "header %s", tp_qs(&q, name));
    if (!(val = tp_val_str(c, what, a->v, "a string")))
        return false;
    if (strpbrk(val, "\r\n")) {
        tp_cfg_err(c, &a->v->at, "header %s value contains a line break", tp_qs(&q, name));
        return false;
    }
    return true;
}

static bool add_header_key(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = def->opts;

    return tp_set_kv(c, &o->headers, &o->nheaders, a->name->s, a->v->s);
}

static void free_headers(struct tp_def *def)
{
    struct tp_http_opts *o = def->opts;

    tp_free_kv(&o->headers, &o->nheaders);
}

/* Nothing written after "body:" is refused with a hint: "" is how an empty
 * body is asked for. */
static bool check_body(struct tp_cfgctx *c, const struct tp_arg *a)
{
    if (a->v->shape == TP_V_NULL && a->v->len == 0) {
        tp_cfg_err(c, &a->v->at, "body has no value (write \"\" for an empty one)");
        return false;
    }
    return tp_val_str(c, "body", a->v, "a string") != NULL;
}

static bool set_body(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = def->opts;

    return (o->body = tp_cfg_dup(c, a->v->s)) != NULL;
}

static void free_body(struct tp_def *def)
{
    struct tp_http_opts *o = def->opts;

    free(o->body);
    o->body = NULL;
}

static bool set_expect_body(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = def->opts;

    o->expect_body = a->rx;
    def->has_regex = true;
    return true;
}

static void free_expect_body(struct tp_def *def)
{
    struct tp_http_opts *o = def->opts;

    tp_regex_free(&o->expect_body);
}

static bool set_redirects(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = def->opts;

    o->max_redirects = a->u;
    return true;
}

static const struct tp_key http_keys[] = {
    {.name = "method", .type = TP_T_STR, .what = "an HTTP method like GET",
     .validate = check_method, .apply = set_method, .absent = default_method,
     .free = free_method},
    {.name = "expect_status", .type = TP_T_LIST,
     .what = "a status like 200 or a range like 200-299",
     .list_what = "a list of statuses and ranges", .validate = check_status,
     .apply = add_status, .absent = default_status, .free = free_status},
    {.name = "headers", .type = TP_T_MAP, .what = "header", .fold = true,
     .validate = check_header, .apply = add_header_key, .free = free_headers},
    {.name = "body", .type = TP_T_VALUE, .validate = check_body, .apply = set_body,
     .free = free_body},
    {.name = "expect_body", .type = TP_T_REGEX, .apply = set_expect_body,
     .free = free_expect_body},
    {.name = "max_redirects", .type = TP_T_UINT, .lo = 0, .hi = 20, .apply = set_redirects},
};

/* ---- output ---- */

static void m_status(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%ld", t->last.kind_val[HTTP_STATUS]);
}

static void m_phases(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (!t->have_last)
        return;
    for (int i = 0; i < TP_NPHASE; i++) {
        tu_prom_begin(p, NULL);
        tu_prom_labels(p, l);
        tu_prom_label(p, "phase", tp_phase_names[i]);
        tu_prom_value(p, "%.6f", t->last.phase[i]);
    }
}

static void m_redirects(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%ld", t->last.kind_val[HTTP_REDIRECTS]);
}

static const struct tp_metric http_metrics[] = {
    {"probe_http_status_code", "HTTP status of the last response", m_status},
    {"probe_http_duration_seconds", "Duration of each phase of the last HTTP probe", m_phases},
    {"probe_http_redirects", "Redirects followed by the last probe", m_redirects},
    TP_METRIC_SSL_EARLIEST, /* https */
};

static void http_json(FILE *f, const struct tp_result *r)
{
    if (r->kind_val[HTTP_STATUS])
        fprintf(f, ",\"status\":%ld", r->kind_val[HTTP_STATUS]);
}

const struct tp_kind tp_kind_http = {
    .name = "http",
    .keys = http_keys,
    .nkeys = sizeof(http_keys) / sizeof(http_keys[0]),
    .common = TP_KEYS_TLS,
    .opts_size = sizeof(struct tp_http_opts),
    .parse_target = http_parse_target,
    .init = http_init,
    .fini = http_fini,
    .start = http_start,
    .cancel = http_cancel,
    .metrics = http_metrics,
    .nmetrics = sizeof(http_metrics) / sizeof(http_metrics[0]),
    .json = http_json,
};
