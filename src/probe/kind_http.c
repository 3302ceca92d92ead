/* The http probe kind: one fresh easy handle per probe, run on the engine's
 * loop by curl_loop.c. Here what is asked (method, headers, body,
 * credentials, TLS settings) and how the transfer runs: redirects are
 * followed here, one transfer per hop on the same handle (its cookies
 * kept), not by curl, so that each hop is timed on its own and summed as
 * blackbox_exporter sums them, and the redirect rules are Go's client's
 * (blackbox's): 301/302/303 turn a POST into a GET, 307/308 keep it, and
 * the redirect that would be one too many is judged as the answer. What
 * the answer must be (and what a transfer without one means) is
 * kind_http_checks.c's, which proxy a hop takes kind_http_proxy.c's; the
 * keys are kind_http_keys.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include <curl/curl.h>

#include "core/list.h"
#include "probe/config.h"
#include "probe/curl_loop.h"
#include "probe/ipproto.h"
#include "probe/kind_http.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/time.h"

#ifdef TW_VERSION
#define USER_AGENT "twkit-probe/" TW_VERSION
#else
#define USER_AGENT "twkit-probe"
#endif

static const struct tp_http_opts *http_opts(const struct tp_def *def) { return def->opts; }

struct hrun {
    struct tp_curl_run cr;    /* first: curl_loop.c hands it back */
    struct tp_target *t;
    struct curl_slist *headers, *resolve;
    struct tp_http_proxy_run px;
    char *url;                /* the first request's (SNI rewritten) */
    char *host0;              /* its host, for whether Host: still applies */
    char *password;           /* basic_auth's, from password_file */
    struct tp_http_resp resp; /* the response being received */
    long redirects;           /* as blackbox counts them */
    unsigned limit;           /* redirects followed at most */
    bool hop_tls;             /* this hop speaks https */
    bool as_get;              /* a 301/302/303 made the method GET */
    bool stopped;             /* on_body ended the transfer: it had enough */
    bool custom_host;         /* headers has a Host */
    const void *ssl_seen;     /* the SSL* of this hop's connection already read */
    char *hop_host;           /* a redirect's "host:port"; NULL: host0's */
    bool offered;             /* tls_resumption: sessions were there to offer */
    double acc[TP_NPHASE];    /* phases of the hops done */
    struct tp_result r;       /* TLS fields filled while the connection lives */
    char errbuf[CURL_ERROR_SIZE];
};

static bool is_redirect(long s) { return s == 301 || s == 302 || s == 303 || s == 307 || s == 308; }

/* The "host:port" of this hop's URL. */
static const char *hop_host(const struct hrun *run)
{
    return run->hop_host ? run->hop_host : run->host0;
}

/* ---- per-transfer callbacks ---- */

static size_t on_body(char *p, size_t size, size_t n, void *clientp)
{
    struct hrun *run = clientp;
    size_t len = size * n;
    int rc = tp_http_resp_body(&run->resp, http_opts(run->t->def), p, len);

    if (rc < 0) {
        run->cr.err = -rc; /* local: curl's write error would blame the target */
        return 0;
    }
    if (rc > 0) {
        run->stopped = true; /* the limit was reached, or it does not decode */
        return 0;
    }
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *clientp)
{
    struct hrun *run = clientp;
    size_t len = size * n, from = 0;
    struct curl_tlssessioninfo *ti = NULL;
    char *end;

    /* a status line starts a new response (1xx, the final one): only the
     * last one counts */
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', len);

        tp_http_resp_reset(&run->resp, http_opts(run->t->def));
        run->resp.status = sp ? strtol(sp + 1, &end, 10) : 0;
        run->r.tls = false;
        run->r.handshake = TP_HS_NONE;
        if (!run->hop_tls)
            return len;
        /* the certificates are only reachable while the connection lives */
        if (curl_easy_getinfo(run->cr.easy, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
            ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals) {
            if (ti->internals != run->ssl_seen)
                tp_http_hop_certs(run->t, ti->internals, hop_host(run), run->offered, &run->r);
            run->ssl_seen = ti->internals;
            run->r.tls = true;
        }
        return len;
    }
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        /* the headers are complete: a redirect that will be followed has a
         * body nobody reads */
        run->resp.discard = is_redirect(run->resp.status) &&
                            tp_http_resp_value(&run->resp, "Location", &from) &&
                            run->redirects < (long)run->limit;
        return len;
    }
    if (tp_http_resp_header(&run->resp, p, len) < 0) {
        run->cr.err = ENOMEM;
        return 0;
    }
    return len;
}

/* ---- results ---- */

static double secs(curl_off_t us) { return us > 0 ? (double)us / 1e6 : 0; }
static double span(curl_off_t from, curl_off_t to) { return to > from ? secs(to - from) : 0; }

/* This hop's phases so far and the verify result, as blackbox_exporter
 * splits a round trip: valid before the handle leaves the multi, for a
 * finished transfer and a cancelled one. */
static void measure(struct hrun *run, CURLcode code, double *ph, struct tp_result *r)
{
    CURL *c = run->cr.easy;
    curl_off_t nl = 0, co = 0, ap = 0, pre = 0, st = 0, tot = 0, from;
    long verify = -1;

    curl_easy_getinfo(c, CURLINFO_NAMELOOKUP_TIME_T, &nl);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &co);
    curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &ap);
    curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
    curl_easy_getinfo(c, CURLINFO_STARTTRANSFER_TIME_T, &st);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &tot);
    memset(ph, 0, TP_NPHASE * sizeof(*ph));
    /* a phase not reached stays 0 rather than absorbing the ones before */
    ph[TP_PH_RESOLVE] = secs(nl);
    ph[TP_PH_CONNECT] = co ? span(nl, co) : 0;
    ph[TP_PH_TLS] = ap ? span(co, ap) : 0;
    from = co > ap ? co : ap;
    if (pre > from)
        from = pre;
    ph[TP_PH_PROCESSING] = st ? span(from, st) : 0;
    /* blackbox times the transfer of the last response only: a redirect's
     * body is never read */
    ph[TP_PH_TRANSFER] = st && !run->resp.discard ? span(st, tot) : 0;
    if (!co && run->cr.up_ns) {
        ph[TP_PH_CONNECT] = (double)(run->cr.up_ns - run->cr.open_ns) / 1e9;
        /* a handshake that failed did end; one still running did not */
        if (tp_http_tls_code(code) || tp_http_verify_code(code))
            ph[TP_PH_TLS] = (double)(tw_now_ns() - run->cr.up_ns) / 1e9;
    }
    /* curl records the chain's verdict also when not enforcing it */
    if (r->tls || tp_http_verify_code(code))
        curl_easy_getinfo(c, CURLINFO_SSL_VERIFYRESULT, &verify);
    r->verify = verify;
}

/* The phases of the hops before, and of this one. */
static void sum_phases(struct hrun *run, const double *ph, struct tp_result *r)
{
    for (int i = 0; i < TP_NPHASE; i++)
        r->phase[i] = run->acc[i] + ph[i];
}

/* ---- runs ---- */

/* abort: the transfer is unfinished (cancel, fini, a local failure) */
static void release(struct hrun *run, bool abort)
{
    tp_curl_remove(&run->cr, abort);
    curl_easy_cleanup(run->cr.easy);
    curl_slist_free_all(run->headers);
    curl_slist_free_all(run->resolve);
    tp_http_proxy_free(&run->px);
    tp_http_resp_free(&run->resp);
    free(run->url);
    free(run->host0);
    free(run->hop_host);
    if (run->password) {
        explicit_bzero(run->password, strlen(run->password));
        free(run->password);
    }
    free(run);
}

static int add_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);

    if (!l)
        return -ENOMEM;
    *list = l;
    return 0;
}

/* "Name: value" into list ("Name;" for an empty value: "Name:" would make
 * curl drop the header). */
static int add_pair(struct curl_slist **list, const char *k, const char *v)
{
    char *line;
    int err;

    if (v && v[0] ? asprintf(&line, "%s: %s", k, v) < 0 : asprintf(&line, "%s;", k) < 0)
        return -ENOMEM;
    err = add_header(list, line);
    free(line);
    return err;
}

/* A secret file as Prometheus reads one: all of it, surrounding blanks
 * trimmed. Read at every probe, so a rotated secret is used at once. */
static int read_secret(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    size_t n, a = 0;

    if (!f)
        return -errno;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (a < n && strchr(" \t\r\n", buf[a]))
        a++;
    while (n > a && strchr(" \t\r\n", buf[n - 1]))
        buf[--n] = '\0';
    *out = strdup(buf + a);
    explicit_bzero(buf, sizeof(buf));
    return *out ? 0 : -ENOMEM;
}

/* The request headers of a hop: the configured ones (Host only while the
 * hop stays on the first request's host, as Go keeps it), the bearer
 * token unless an Authorization header was given (Prometheus' round
 * tripper does not override one), and the original Host when the URL was
 * rewritten for a server_name. */
static int build_headers(struct hrun *run, bool keep_host, const char *host_line)
{
    const struct tp_http_opts *o = http_opts(run->t->def);
    bool authz = false;
    char *secret = NULL;
    int err = 0;

    curl_slist_free_all(run->headers);
    run->headers = NULL;
    for (size_t i = 0; i < o->nheaders && !err; i++) {
        const struct tp_kv *h = &o->headers[i];

        authz |= !strcasecmp(h->key, "Authorization");
        if (!strcasecmp(h->key, "Host") && !keep_host)
            continue;
        err = add_pair(&run->headers, h->key, h->value);
    }
    if (!err && host_line && !run->custom_host && keep_host)
        err = add_header(&run->headers, host_line);
    if (!err && !authz && o->bearer)
        err = add_pair(&run->headers, "Authorization", o->bearer);
    if (!err && !authz && o->bearer_file && (err = read_secret(o->bearer_file, &secret)) == 0) {
        char *v;

        if (asprintf(&v, "Bearer %s", secret) < 0) {
            err = -ENOMEM;
        } else {
            err = add_pair(&run->headers, "Authorization", v);
            explicit_bzero(v, strlen(v));
            free(v);
        }
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
    if (!err && run->headers)
        err = curl_easy_setopt(run->cr.easy, CURLOPT_HTTPHEADER, run->headers) == CURLE_OK
                  ? 0
                  : -ENOMEM;
    return err;
}

/* host:port:address for curl's resolver: the engine resolved the name
 * already (and timed it). A CONNECT through a proxy names the address too,
 * as blackbox's does. */
static int add_resolve(struct hrun *run, const char *name)
{
    const struct tp_target *t = run->t;
    char host[TW_ADDRSTRLEN], entry[sizeof(t->ep.host) + TW_ADDRSTRLEN + 16];
    int err;

    tw_addr_host(&t->addr, host, sizeof(host));
    snprintf(entry, sizeof(entry), tw_addr_family(&t->addr) == AF_INET6 ? "%s:%u:[%s]" : "%s:%u:%s",
             name, t->ep.port, host);
    if ((err = add_header(&run->resolve, entry)) < 0)
        return err;
    return tp_http_proxy_pin(&run->px, name, t->ep.port, host);
}

static bool ip_literal(const char *s)
{
    unsigned char a[16];

    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* The name TLS is to send and verify: tls_config's server_name, or else
 * (blackbox's rule) a Host header's name; NULL: the URL's host. */
static char *tls_name(const struct hrun *run)
{
    const struct tp_def *d = run->t->def;
    const struct tp_http_opts *o = http_opts(d);

    if (d->tls_server_name)
        return strdup(d->tls_server_name);
    for (size_t i = 0; i < o->nheaders; i++)
        if (!strcasecmp(o->headers[i].key, "Host") && o->headers[i].value[0]) {
            const char *v = o->headers[i].value, *colon = strrchr(v, ':');
            if (v[0] == '[' && (colon = strchr(v, ']')))
                return strndup(v + 1, (size_t)(colon - v - 1));
            return colon && !strchr(colon + 1, ':') ? strndup(v, (size_t)(colon - v)) : strdup(v);
        }
    return NULL;
}

/* The first request's URL and what curl must know to reach it. curl takes
 * the name TLS sends and verifies from the URL, so a server_name other than
 * the target's host becomes the URL's host (resolved to the target's
 * address), and the original host goes in the Host header. */
static int first_url(struct hrun *run, char *host_line, size_t len)
{
    const struct tp_target *t = run->t;
    char *name = t->ep.https ? tls_name(run) : NULL, *out = NULL;
    CURLU *u = NULL;
    int err = 0;

    host_line[0] = '\0';
    /* no_resolve: the name is the proxy's to resolve (curl's, if the hop
     * goes without) */
    if (!t->literal && !t->def->no_resolve && !strchr(t->ep.host, ':') &&
        (err = add_resolve(run, t->ep.host)) < 0)
        goto out;
    if (!name || !strcasecmp(name, t->ep.host)) {
        run->url = strdup(t->target);
        err = run->url ? 0 : -ENOMEM;
        goto out;
    }
    if (!(u = curl_url())) {
        err = -ENOMEM;
        goto out;
    }
    if (strchr(name, ':')) { /* an IPv6 address */
        char *b;
        if (asprintf(&b, "[%s]", name) < 0) {
            err = -ENOMEM;
            goto out;
        }
        free(name);
        name = b;
    }
    if (curl_url_set(u, CURLUPART_URL, t->target, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &out, 0) != CURLUE_OK) {
        err = -EINVAL;
        goto out;
    }
    if (!(run->url = strdup(out))) {
        err = -ENOMEM;
        goto out;
    }
    if (t->def->no_resolve)
        err = tp_http_proxy_pin(&run->px, name, t->ep.port, t->ep.host);
    else if (!ip_literal(name) && name[0] != '[')
        err = add_resolve(run, name);
    if (err < 0)
        goto out;
    snprintf(host_line, len, strchr(t->ep.host, ':') ? "Host: [%s]:%u" : "Host: %s:%u",
             t->ep.host, t->ep.port);
    if (t->ep.port == (t->ep.https ? 443 : 80))
        *strrchr(host_line, ':') = '\0';
out:
    curl_free(out);
    curl_url_cleanup(u);
    free(name);
    return err;
}

static char *url_host(const char *url)
{
    CURLU *u = curl_url();
    char *h = NULL, *port = NULL, *out = NULL;

    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        asprintf(&out, "%s:%s", h, port) < 0)
        out = NULL;
    curl_free(h);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

static long remaining_ms(const struct hrun *run)
{
    uint64_t spent = (tw_now_ns() - run->t->started_ns) / 1000000;
    uint64_t to = run->t->timeout_ms;

    return spent + 1 < to ? (long)(to - spent) : 1;
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

    SET(CURLOPT_URL, run->url);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    SET(CURLOPT_ERRORBUFFER, run->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    /* every probe measures a whole connection and leaves nothing behind */
    SET(CURLOPT_FRESH_CONNECT, 1L);
    SET(CURLOPT_FORBID_REUSE, 1L);
    if (tp_http_keep_share(run->t)) {
        SET(CURLOPT_SHARE, tp_http_keep_share(run->t));
        SET(CURLOPT_SSL_SESSIONID_CACHE, 1L);
    } else {
        SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
    /* the proxy blackbox's client would take, or none: never one curl
     * finds in the environment by its own rules */
    if ((rc = tp_http_proxy_hop(&run->px, c, run->t, run->url, true)) != CURLE_OK)
        return rc;
    /* a CONNECT's answer is the proxy's, not the target's */
    SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    SET(CURLOPT_TIMEOUT_MS, remaining_ms(run));
    /* The engine resolves and caches names itself. curl's own cache keeps
     * even literal addresses for 60 s and walks every entry on each
     * transfer: with thousands of targets that walk was the largest user
     * CPU cost of a probe. */
    SET(CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    /* One request written at once: Nagle has nothing to hold back, and the
     * setsockopt is one system call per probe saved. */
    SET(CURLOPT_TCP_NODELAY, 0L);
    SET(CURLOPT_USERAGENT, USER_AGENT);
    /* the body as it came: `compression` decodes it, as blackbox does,
     * whatever Content-Encoding says */
    SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
    /* Go's client speaks HTTP/2 over TLS when the server offers it */
    SET(CURLOPT_HTTP_VERSION, o->http2 ? (long)CURL_HTTP_VERSION_2TLS
                                       : (long)CURL_HTTP_VERSION_1_1);
    /* blackbox's client keeps a cookie jar for the redirects of a probe */
    SET(CURLOPT_COOKIEFILE, "");
    if (run->resolve)
        SET(CURLOPT_RESOLVE, run->resolve);
    if (d->ip_no_fallback) /* every hop in the one family, a redirect's too */
        SET(CURLOPT_IPRESOLVE, tp_def_ip_prefer(d) == AF_INET ? CURL_IPRESOLVE_V4
                                                              : CURL_IPRESOLVE_V6);
    if (o->basic_auth) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, o->user ? o->user : "");
        SET(CURLOPT_PASSWORD, run->password ? run->password : o->password ? o->password : "");
    }
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
    if (d->cert_file) {
        SET(CURLOPT_SSLCERT, d->cert_file);
        SET(CURLOPT_SSLKEY, d->key_file);
    }
    if (d->tls_min_version) {
        long v = d->tls_min_version == 0x0304   ? CURL_SSLVERSION_TLSv1_3
                 : d->tls_min_version == 0x0303 ? CURL_SSLVERSION_TLSv1_2
                 : d->tls_min_version == 0x0302 ? CURL_SSLVERSION_TLSv1_1
                                                : CURL_SSLVERSION_TLSv1_0;
        SET(CURLOPT_SSLVERSION, v);
    }

    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, run);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, run);
    return CURLE_OK;
}

static int curl_err(CURLcode rc)
{
    return rc == CURLE_OUT_OF_MEMORY                                  ? -ENOMEM
           : rc == CURLE_UNKNOWN_OPTION || rc == CURLE_NOT_BUILT_IN ? -ENOTSUP
                                                                    : -EINVAL;
}

/* The next hop of a redirect to url, on the same handle (its cookies
 * kept). Returns 0 or -errno (nothing is running then). */
static int next_hop(struct hrun *run, const char *url, long status)
{
    const struct tp_http_opts *o = http_opts(run->t->def);
    CURL *c = run->cr.easy;
    CURLcode rc = CURLE_OK;
    char *host = url_host(url);
    int err;

    tp_curl_remove(&run->cr, false);
    run->hop_tls = !strncasecmp(url, "https:", 6);
    run->ssl_seen = NULL;
    run->stopped = false;
    run->r.tls = false;
    run->r.handshake = TP_HS_NONE;
    run->errbuf[0] = '\0';
    tp_http_resp_reset(&run->resp, o);
    /* Go's client: 301, 302 and 303 turn anything but GET and HEAD into a
     * GET without a body; 307 and 308 repeat the request */
    if (status <= 303 && !run->as_get && o->method && strcmp(o->method, "GET") &&
        strcmp(o->method, "HEAD")) {
        run->as_get = true;
        if ((rc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L)) == CURLE_OK)
            rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
    }
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_URL, url);
    if (rc == CURLE_OK)
        rc = tp_http_proxy_hop(&run->px, c, run->t, url,
                               host && run->host0 && !strcasecmp(host, run->host0));
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, remaining_ms(run));
    err = rc == CURLE_OK ? 0 : curl_err(rc);
    /* a Host header is kept while the redirects stay on its host */
    if (!err && run->custom_host && !(host && run->host0 && !strcasecmp(host, run->host0)))
        err = build_headers(run, false, NULL);
    free(run->hop_host);
    run->hop_host = host;
    return err ? err : tp_curl_add(run->cr.cm, &run->cr);
}

static void result_of_response(struct hrun *run, struct tp_result *r)
{
    CURL *c = run->cr.easy;
    curl_off_t clen = -1;
    long version = 0;
    size_t from = 0;
    const char *lm;

    r->kind_val[HTTP_STATUS] = run->resp.status;
    r->kind_val[HTTP_REDIRECTS] = run->redirects;
    if (!run->resp.status)
        return; /* no response: blackbox's zeroes */
    curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
    r->kind_val[HTTP_CLEN] = clen;
    r->kind_val[HTTP_BODY_LEN] = run->resp.unread ? 0 : (long)run->resp.decoded;
    r->kind_val[HTTP_VERSION] = version == CURL_HTTP_VERSION_1_0   ? 10
                                : version == CURL_HTTP_VERSION_1_1 ? 11
                                : version == CURL_HTTP_VERSION_2_0 ? 20
#if LIBCURL_VERSION_NUM >= 0x074200
                                : version == CURL_HTTP_VERSION_3 ? 30
#endif
                                                                 : 0;
    r->kind_val[HTTP_SSL] = r->tls;
    if ((lm = tp_http_resp_value(&run->resp, "Last-Modified", &from))) {
        time_t when = curl_getdate(lm, NULL);
        if (when != -1) {
            r->kind_val[HTTP_LAST_MOD] = (long)when;
            r->kind_val[HTTP_HAS_LAST_MOD] = 1;
        }
    }
}

static void report(struct hrun *run, struct tp_result *in)
{
    struct tp_engine *e = run->t->engine;
    struct tp_target *t = run->t;
    struct tp_result r = *in;
    /* the last hop's host, kept past the handle: curl lets go of the
     * session cache only once the handle is cleaned up */
    char *host = run->hop_host ? run->hop_host : run->host0;

    if (host == run->hop_host)
        run->hop_host = NULL;
    else
        run->host0 = NULL;
    release(run, run->cr.doomed);
    t->run = NULL;
    tp_http_keep_end(t, host, &r);
    free(host);
    tp_probe_done(e, t, &r);
}

static void finish(struct tp_curl_run *cr, CURLcode code)
{
    struct hrun *run = tw__container_of(cr, struct hrun, cr);
    const struct tp_http_opts *o = http_opts(run->t->def);
    struct tp_result *r = &run->r;
    double ph[TP_NPHASE];
    bool answered = code == CURLE_OK || (code == CURLE_WRITE_ERROR && run->stopped);
    char *url = NULL;
    int err;

    measure(run, code, ph, r);
    if (run->cr.err) {
        /* socket() failed or we could not watch the socket: curl's code
         * (could not connect) would blame the target */
        sum_phases(run, ph, r);
        tp_http_from_errno(run->errbuf, r, run->cr.err);
        report(run, r);
        return;
    }
    if (answered && is_redirect(run->resp.status) &&
        curl_easy_getinfo(cr->easy, CURLINFO_REDIRECT_URL, &url) == CURLE_OK && url) {
        if (++run->redirects <= (long)run->limit) {
            char *next = strdup(url);

            for (int i = 0; i < TP_NPHASE; i++)
                run->acc[i] += ph[i];
            err = next ? next_hop(run, next, run->resp.status) : -ENOMEM;
            free(next);
            if (err == 0)
                return;
            tp_http_from_errno(run->errbuf, r, -err);
            sum_phases(run, (double[TP_NPHASE]){0}, r);
            report(run, r);
            return;
        }
        run->resp.unread = true; /* blackbox's client closes it unread */
    }
    sum_phases(run, ph, r);
    result_of_response(run, r);
    if (answered) {
        if (!run->stopped)
            tp_http_resp_end(&run->resp);
        tp_http_judge(o, &run->resp, (int)r->kind_val[HTTP_VERSION], r->tls, r);
    } else {
        tp_http_judge_failed(run->cr.easy, code, run->errbuf, run->hop_tls, r);
        /* a handshake that failed after a session was offered was full */
        if (run->offered && run->hop_tls && !r->tls &&
            (tp_http_tls_code(code) || tp_http_verify_code(code)))
            r->handshake = TP_HS_REFUSED;
    }
    report(run, r);
}

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
    const struct tp_http_opts *o;
    struct hrun *run;
    char host_line[sizeof(t->ep.host) + 16];
    CURLcode rc;
    int err;

    if (!cm || !t || !t->def || t->run)
        return -EINVAL;
    o = http_opts(t->def);
    run = calloc(1, sizeof(*run));
    if (!run)
        return -ENOMEM;
    run->t = t;
    run->r.verify = -1;
    run->limit = o->follow ? o->max_redirects : 0;
    run->hop_tls = t->ep.https;
    run->acc[TP_PH_RESOLVE] = t->dns_s; /* the engine resolved the first hop's name */
    run->cr.def = t->def;
    run->cr.done = finish;
    tp_http_resp_reset(&run->resp, o);
    for (size_t i = 0; i < o->nheaders; i++)
        run->custom_host |= !strcasecmp(o->headers[i].key, "Host");
    run->cr.easy = curl_easy_init();
    if (!run->cr.easy) {
        free(run);
        return -ENOMEM;
    }
    /* A password file unreadable now is this host's trouble, not the
     * target's: a local error, with its errno. */
    if (o->password_file && (err = read_secret(o->password_file, &run->password)) < 0)
        goto fail;
    if ((err = tp_http_proxy_start(&run->px, t)) < 0 ||
        (err = tp_http_keep_start(t, &run->offered)) < 0)
        goto fail;
    if ((err = first_url(run, host_line, sizeof(host_line))) < 0 ||
        !(run->host0 = url_host(run->url)) ||
        (err = build_headers(run, true, host_line[0] ? host_line : NULL)) < 0) {
        err = err < 0 ? err : -ENOMEM;
        goto fail;
    }
    if ((rc = setup(run)) != CURLE_OK) {
        err = curl_err(rc);
        goto fail;
    }
    if ((err = tp_curl_add(cm, &run->cr)) < 0)
        goto fail;
    t->run = run;
    return 0;

fail:
    curl_easy_cleanup(run->cr.easy);
    run->cr.easy = NULL;
    curl_slist_free_all(run->headers);
    curl_slist_free_all(run->resolve);
    tp_http_proxy_free(&run->px);
    tp_http_resp_free(&run->resp);
    free(run->url);
    free(run->host0);
    free(run->password);
    free(run);
    return err;
}

static void http_cancel(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    struct hrun *run = t->run;
    double ph[TP_NPHASE];

    if (!run)
        return;
    /* what the engine reports is its own timeout; add what was measured */
    measure(run, CURLE_OK, ph, &run->r);
    sum_phases(run, ph, &run->r);
    result_of_response(run, &run->r);
    memcpy(r->phase, run->r.phase, sizeof(r->phase));
    memcpy(r->kind_val, run->r.kind_val, sizeof(r->kind_val));
    r->tls = run->r.tls;
    r->cert_expiry = run->r.cert_expiry;
    r->leaf_expiry = run->r.leaf_expiry;
    r->last_chain_expiry = run->r.last_chain_expiry;
    r->tls_version = run->r.tls_version;
    r->verify = run->r.verify;
    r->handshake = run->r.handshake;
    release(run, true);
    t->run = NULL;
    tp_http_keep_reset(t); /* a probe that timed out leaves nothing to resume */
}

const struct tp_kind tp_kind_http = {
    .name = "http",
    .keys = tp_http_keys,
    .nkeys = TP_HTTP_NKEYS,
    .common = TP_KEYS_TLS | TP_KEYS_CONN | TP_KEYS_RESUME,
    .opts_size = sizeof(struct tp_http_opts),
    .parse_target = tp_http_parse_target,
    .init = http_init,
    .fini = http_fini,
    .start = http_start,
    .cancel = http_cancel,
    .forget = tp_http_forget,
    .metrics = tp_http_metrics,
    .nmetrics = TP_HTTP_NMETRICS,
    .json = tp_http_json,
    .regex_gauge = true,
};
