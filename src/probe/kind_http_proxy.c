/* The http kind's proxies: the keys (proxy_url, no_proxy,
 * proxy_from_environment, proxy_connect_header,
 * skip_resolve_phase_with_proxy) and which proxy each hop takes.
 *
 * blackbox_exporter inherits the first four from Prometheus' HTTP client
 * (prometheus/common's ProxyConfig); the proxy of a request is chosen as
 * Go's client chooses it, so here too rather than by libcurl's rules,
 * which differ: with no_proxy or proxy_from_environment a request to
 * localhost or a loopback address never takes a proxy, a no_proxy entry
 * may name a port, ".example.com" leaves example.com itself proxied, curl
 * would read ALL_PROXY and ignore HTTP_PROXY in capitals, and curl would
 * let NO_PROXY from the environment exempt hosts from proxy_url. So curl
 * is always told the proxy of the hop ("" for none) and that nothing is
 * exempt.
 *
 * The request blackbox hands its client names the address it resolved,
 * not the name (unless skip_resolve_phase_with_proxy), so that is what
 * no_proxy is matched against and what a CONNECT names; a plain http
 * request through the proxy names the Host, which is the name (Go writes
 * the request line from it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "probe/kind_http.h"

static struct tp_http_opts *opts(struct tp_def *def) { return def->opts; }

/* ---- keys ---- */

/* blackbox's own messages, prometheus/common's rules */
#define ENV_AND_URL "proxy_from_environment and proxy_url cannot both be set"
#define ENV_AND_NO "proxy_from_environment and no_proxy cannot both be set: no_proxy is " \
                   "for proxy_url (the environment's NO_PROXY goes with its proxies)"

bool tp_http_set_proxy(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    static const char *const schemes[] = {"http", "https", "socks5", "socks5h"};
    struct tp_http_opts *o = opts(def);
    CURLU *u = curl_url();
    char *scheme = NULL, *s;
    bool ok = false;

    if (!u) {
        tp_cfg_oom(c);
        return false;
    }
    /* socks5 is no scheme of curl's URLs: without the flag it is refused */
    if (curl_url_set(u, CURLUPART_URL, a->s, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK)
        for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
            ok |= !strcasecmp(scheme, schemes[i]);
    curl_free(scheme);
    curl_url_cleanup(u);
    if (!ok) {
        /* the value may carry a password: only its scheme is worth showing */
        tp_cfg_err(c, &a->v->at, "bad proxy_url: expected a URL like http://proxy:3128 "
                                 "(http, https, socks5 or socks5h)");
        return false;
    }
    if (o->proxy_env) {
        tp_cfg_err(c, &a->v->at, ENV_AND_URL);
        return false;
    }
    if (!(s = tp_cfg_dup(c, a->s)))
        return false;
    free(o->proxy_url);
    o->proxy_url = s;
    def->no_resolve = o->skip_resolve;
    return true;
}

void tp_http_free_proxy(struct tp_def *def)
{
    free(opts(def)->proxy_url);
    opts(def)->proxy_url = NULL;
}

/* proxy_url's absent hook: what needs a proxy_url said so once every key
 * of the probe is read, whatever their order. */
bool tp_http_no_proxy_url(struct tp_cfgctx *c, struct tp_def *def)
{
    const struct tp_http_opts *o = def->opts;

    if (o->no_proxy && o->no_proxy[0]) {
        tp_cfg_err(c, &o->no_proxy_at, "no_proxy needs proxy_url: it names the hosts that "
                                       "do not take proxy_url");
        return false;
    }
    if (o->proxy_hdrs_written && !o->proxy_env) {
        tp_cfg_err(c, &o->proxy_hdrs_at, "proxy_connect_header needs proxy_url or "
                                         "proxy_from_environment");
        return false;
    }
    return true;
}

bool tp_http_set_no_proxy(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);
    char *s;

    if (strpbrk(a->s, "\r\n")) {
        tp_cfg_err(c, &a->v->at, "bad no_proxy: expected hosts, domains and CIDRs separated "
                                 "by commas");
        return false;
    }
    if (a->s[0] && o->proxy_env) {
        tp_cfg_err(c, &a->v->at, ENV_AND_NO);
        return false;
    }
    if (!(s = tp_cfg_dup(c, a->s)))
        return false;
    free(o->no_proxy);
    o->no_proxy = s;
    o->no_proxy_at = a->v->at;
    return true;
}

void tp_http_free_no_proxy(struct tp_def *def)
{
    free(opts(def)->no_proxy);
    opts(def)->no_proxy = NULL;
}

bool tp_http_set_proxy_env(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);

    o->proxy_env = a->b;
    if (a->b && o->proxy_url) {
        tp_cfg_err(c, &a->v->at, ENV_AND_URL);
        return false;
    }
    if (a->b && o->no_proxy && o->no_proxy[0]) {
        tp_cfg_err(c, &a->v->at, ENV_AND_NO);
        return false;
    }
    return true;
}

/* Go writes these from the request itself, never from the headers given
 * (Request.Write), a CONNECT's too. */
static bool go_writes(const char *name)
{
    return !strcasecmp(name, "Host") || !strcasecmp(name, "Content-Length") ||
           !strcasecmp(name, "Transfer-Encoding") || !strcasecmp(name, "Trailer");
}

static bool push_line(struct tp_cfgctx *c, struct tp_http_opts *o, const char *name,
                      const char *value)
{
    char **grown, *line;

    if (go_writes(name))
        return true;
    /* "Name;" is how curl sends a header with an empty value */
    if ((value[0] ? asprintf(&line, "%s: %s", name, value) : asprintf(&line, "%s;", name)) < 0) {
        tp_cfg_oom(c);
        return false;
    }
    if (!(grown = realloc(o->proxy_hdrs, (o->nproxy_hdrs + 1) * sizeof(*grown)))) {
        free(line);
        tp_cfg_oom(c);
        return false;
    }
    o->proxy_hdrs = grown;
    o->proxy_hdrs[o->nproxy_hdrs++] = line;
    return true;
}

static bool header_value(struct tp_cfgctx *c, const char *name, const struct tp_val *v,
                         const char **out)
{
    struct tp_quoted q;
    char what[120];

    snprintf(what, sizeof(what), "proxy_connect_header %s value", tp_qs(&q, name));
    if (!(*out = tp_val_str(c, what, v, "a string")))
        return false;
    if (strpbrk(*out, "\r\n")) { /* a secret: never quoted back */
        tp_cfg_err(c, &v->at, "%s contains a line break", what);
        return false;
    }
    return true;
}

/* One pair of proxy_connect_header: a header name and its values, a list
 * (Prometheus' form) or one alone; null or [] sends none. */
bool tp_http_add_proxy_hdr(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);
    struct tp_quoted q;
    const char *name = a->name->s, *s;
    size_t n;

    if (!o->proxy_hdrs_written)
        o->proxy_hdrs_at = a->name->at;
    o->proxy_hdrs_written = true;
    if (a->name->len != strlen(name) || !tp_is_token(name)) {
        tp_cfg_err(c, &a->name->at, "bad proxy_connect_header name %s: expected an HTTP "
                                    "token (letters, digits, !#$%%&'*+-.^_`|~)",
                   tp_quote(&q, name, a->name->len));
        return false;
    }
    if (a->v->shape == TP_V_NULL)
        return true;
    if (a->v->shape != TP_V_LIST)
        return header_value(c, name, a->v, &s) && push_line(c, o, name, s);
    n = tp_val_nitems(c, a->v);
    for (size_t i = 0; i < n; i++) {
        struct tp_val item;
        tp_val_item(c, a->v, i, NULL, &item);
        if (!header_value(c, name, &item, &s) || !push_line(c, o, name, s))
            return false;
    }
    return true;
}

void tp_http_free_proxy_hdrs(struct tp_def *def)
{
    struct tp_http_opts *o = opts(def);

    for (size_t i = 0; i < o->nproxy_hdrs; i++) {
        explicit_bzero(o->proxy_hdrs[i], strlen(o->proxy_hdrs[i]));
        free(o->proxy_hdrs[i]);
    }
    free(o->proxy_hdrs);
    o->proxy_hdrs = NULL;
    o->nproxy_hdrs = 0;
    o->proxy_hdrs_written = false;
}

/* blackbox 0.23: with proxy_url set, the target is not resolved at all
 * (the engine is told through def->no_resolve); without one it does
 * nothing. */
bool tp_http_set_skip_resolve(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->skip_resolve = a->b;
    def->no_resolve = a->b && opts(def)->proxy_url;
    return true;
}

/* ---- Go's no_proxy rules (golang.org/x/net/http/httpproxy) ---- */

/* An address as 16 bytes, IPv4 as IPv4-mapped (Go's IP.Equal and To4
 * treat the two as one). */
static bool parse_ip(const char *s, unsigned char ip[16], bool *v4)
{
    unsigned char a4[4];

    if (inet_pton(AF_INET, s, a4) == 1) {
        memset(ip, 0, 10);
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, a4, 4);
        *v4 = true;
        return true;
    }
    *v4 = false;
    if (inet_pton(AF_INET6, s, ip) != 1)
        return false;
    *v4 = !memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
    return true;
}

static bool prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole))
        return false;
    return !rest || !((a[whole] ^ b[whole]) & (0xff00u >> rest));
}

/* "10.0.0.0/8", "fd00::/8": whether ip is in it (1), not (0), or it is no
 * CIDR (-1). As Go's IPNet.Contains, an IPv4 net holds IPv4 addresses
 * only and an IPv6 net IPv6 ones. */
static int in_cidr(const char *p, const unsigned char ip[16], bool ip_v4, bool is_ip)
{
    const char *slash = strchr(p, '/');
    unsigned char net[16];
    char addr[64];
    unsigned long bits;
    bool v4;

    if (!slash || (size_t)(slash - p) >= sizeof(addr))
        return -1;
    memcpy(addr, p, (size_t)(slash - p));
    addr[slash - p] = '\0';
    if (!parse_ip(addr, net, &v4) || !tp_parse_uint(slash + 1, 0, v4 ? 32 : 128, &bits))
        return -1;
    if (strchr(addr, ':') && v4) /* "::ffff:10.0.0.0/104": Go's net is IPv6 */
        v4 = false;
    if (!is_ip || v4 != ip_v4)
        return 0;
    return v4 ? prefix_eq(net + 12, ip + 12, (unsigned)bits) : prefix_eq(net, ip, (unsigned)bits);
}

/* Go's net.SplitHostPort, into host (hn bytes) and port (pn). */
static bool split_hostport(const char *s, char *host, size_t hn, char *port, size_t pn)
{
    const char *colon = strrchr(s, ':'), *h = s, *he;

    if (!colon)
        return false;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end + 1 != colon)
            return false;
        h = s + 1;
        he = end;
    } else {
        he = colon;
        if (memchr(s, ':', (size_t)(colon - s)))
            return false;
    }
    if (memchr(h, '[', (size_t)(he - h)) || strchr(colon, ']') || strchr(colon, '[') ||
        (size_t)(he - h) >= hn || strlen(colon + 1) >= pn)
        return false;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    strcpy(port, colon + 1);
    return true;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a >= b && !memcmp(s + a - b, suffix, b);
}

/* One entry of no_proxy, lowercased and trimmed: whether it exempts host
 * (lowercased) on port. */
static bool entry_matches(const char *p, const char *host, const char *port,
                          const unsigned char ip[16], bool ip_v4, bool is_ip)
{
    char ph[256], pp[64], dom[258];
    unsigned char eip[16];
    bool ev4, match_host;
    int cidr = in_cidr(p, ip, ip_v4, is_ip);

    if (cidr >= 0)
        return cidr == 1;
    if (split_hostport(p, ph, sizeof(ph), pp, sizeof(pp))) {
        if (!ph[0])
            return false; /* ":80": malformed, ignored */
    } else {
        if (strlen(p) >= sizeof(ph))
            return false;
        strcpy(ph, p);
        pp[0] = '\0';
    }
    if (parse_ip(ph, eip, &ev4))
        return is_ip && !memcmp(eip, ip, 16) && (!pp[0] || !strcmp(pp, port));
    /* "example.com" is it and its subdomains, ".example.com" and
     * "*.example.com" only the subdomains */
    match_host = ph[0] != '.' && strncmp(ph, "*.", 2) != 0;
    snprintf(dom, sizeof(dom), "%s%s", match_host ? "." : "", ph[0] == '*' ? ph + 1 : ph);
    if (!ends_with(host, dom) && !(match_host && !strcmp(host, dom + 1)))
        return false;
    return !pp[0] || !strcmp(pp, port);
}

bool tp_http_use_proxy(const char *no_proxy, const char *host, const char *port)
{
    unsigned char ip[16];
    char lower[256], item[300];
    bool v4, is_ip = parse_ip(host, ip, &v4);
    size_t n;

    if (!strcmp(host, "localhost"))
        return false;
    if (is_ip && ((v4 && ip[12] == 127) || !memcmp(ip, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16)))
        return false;
    for (n = 0; host[n] && n + 1 < sizeof(lower); n++)
        lower[n] = (char)((host[n] >= 'A' && host[n] <= 'Z') ? host[n] + 32 : host[n]);
    lower[n] = '\0';
    for (const char *p = no_proxy ? no_proxy : ""; *p;) {
        size_t len = strcspn(p, ","), a = 0, b = len;

        while (a < b && (p[a] == ' ' || p[a] == '\t'))
            a++;
        while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
            b--;
        if (b > a && b - a < sizeof(item)) {
            for (size_t i = 0; i < b - a; i++) {
                char ch = p[a + i];
                item[i] = (char)((ch >= 'A' && ch <= 'Z') ? ch + 32 : ch);
            }
            item[b - a] = '\0';
            if (!strcmp(item, "*") || entry_matches(item, lower, port, ip, v4, is_ip))
                return false;
        }
        p += len + (p[len] == ',');
    }
    return true;
}

/* ---- the proxy of a hop ---- */

static const char *env_any(const char *upper, const char *lower)
{
    const char *v = getenv(upper);

    if (v && v[0])
        return v;
    v = getenv(lower);
    return v && v[0] ? v : NULL;
}

static bool has_scheme(const char *s, const char *scheme)
{
    size_t n = strlen(scheme);

    return !strncasecmp(s, scheme, n) && !strncmp(s + n, "://", 3);
}

static bool is_socks(const char *proxy)
{
    return !strncasecmp(proxy, "socks", 5);
}

/* The proxy of a request to host:port (https or not), Go's way, as curl
 * is to be given it (malloc'd), or NULL: none. -ENOMEM. */
static int pick(const struct tp_http_opts *o, bool https, const char *host, const char *port,
                char **out)
{
    const char *p = NULL, *no = NULL;
    unsigned char ip[16];
    bool v4;

    *out = NULL;
    if (o->proxy_env) {
        p = https ? env_any("HTTPS_PROXY", "https_proxy") : env_any("HTTP_PROXY", "http_proxy");
        /* Go never takes HTTP_PROXY in a CGI environment (a request's
         * Proxy: header would set it); it fails the request, twkit goes
         * without */
        if (p && !https && getenv("REQUEST_METHOD") && getenv("REQUEST_METHOD")[0])
            p = NULL;
        no = env_any("NO_PROXY", "no_proxy");
    } else if (o->proxy_url) {
        p = o->proxy_url;
        no = o->no_proxy && o->no_proxy[0] ? o->no_proxy : NULL;
    }
    if (!p)
        return 0;
    /* http.ProxyURL alone proxies everything; with a no_proxy (or from the
     * environment) Go's rules apply, loopback exempt */
    if ((o->proxy_env || no) && !tp_http_use_proxy(no, host, port))
        return 0;
    /* Go takes "host:port" and unknown schemes as http:// */
    if (!has_scheme(p, "http") && !has_scheme(p, "https") && !has_scheme(p, "socks5") &&
        !has_scheme(p, "socks5h")) {
        if (asprintf(out, "http://%s", p) < 0)
            return -ENOMEM;
        return 0;
    }
    /* Go's socks5 dialer hands a name to the proxy, an address as it is:
     * curl's socks5h and socks5 */
    if (has_scheme(p, "socks5") && !parse_ip(host, ip, &v4)) {
        if (asprintf(out, "socks5h%s", p + 6) < 0)
            return -ENOMEM;
        return 0;
    }
    return (*out = strdup(p)) ? 0 : -ENOMEM;
}

int tp_http_proxy_start(struct tp_http_proxy_run *px, const struct tp_target *t)
{
    const struct tp_http_opts *o = t->def->opts;

    for (size_t i = 0; i < o->nproxy_hdrs; i++) {
        struct curl_slist *l = curl_slist_append(px->headers, o->proxy_hdrs[i]);
        if (!l)
            return -ENOMEM;
        px->headers = l;
    }
    return 0;
}

int tp_http_proxy_pin(struct tp_http_proxy_run *px, const char *name, uint16_t port,
                      const char *to)
{
    char entry[600];
    struct curl_slist *l;

    snprintf(entry, sizeof(entry), strchr(to, ':') ? "%s:%u:[%s]:%u" : "%s:%u:%s:%u", name,
             port, to, port);
    if (!(l = curl_slist_append(px->connect_to, entry)))
        return -ENOMEM;
    px->connect_to = l;
    return 0;
}

#define SET(opt, val)                                              \
    do {                                                           \
        if ((rc = curl_easy_setopt(c, opt, val)) != CURLE_OK)      \
            goto out;                                              \
    } while (0)

CURLcode tp_http_proxy_hop(struct tp_http_proxy_run *px, CURL *c, const struct tp_target *t,
                           const char *url, bool first)
{
    const struct tp_http_opts *o = t->def->opts;
    char *h = NULL, *pt = NULL, *scheme = NULL, *proxy = NULL, host[TW_ADDRSTRLEN + 256];
    char port[8];
    CURLU *u = NULL;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    bool https, tunnel;

    if (first) {
        /* the request as blackbox makes it names the address it resolved */
        https = t->ep.https;
        if (t->def->no_resolve || !t->addr.len)
            snprintf(host, sizeof(host), "%s", t->ep.host);
        else
            tw_addr_host(&t->addr, host, sizeof(host));
        snprintf(port, sizeof(port), "%u", t->ep.port);
    } else {
        if (!(u = curl_url()))
            goto out;
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT) != CURLUE_OK) {
            rc = CURLE_URL_MALFORMAT;
            goto out;
        }
        https = !strcasecmp(scheme, "https");
        /* curl keeps an IPv6 host in brackets */
        snprintf(host, sizeof(host), "%.*s", h[0] == '[' ? (int)strlen(h) - 2 : (int)strlen(h),
                 h[0] == '[' ? h + 1 : h);
        snprintf(port, sizeof(port), "%s", pt);
    }
    if (pick(o, https, host, port, &proxy) < 0)
        goto out;
    tunnel = https && proxy && !is_socks(proxy);
    SET(CURLOPT_PROXY, proxy ? proxy : "");
    /* the choice is made: NO_PROXY in curl's environment has no say */
    SET(CURLOPT_NOPROXY, "");
    /* proxy_connect_header goes with a CONNECT only (Go sends it nowhere
     * else), the request's headers never with it */
    SET(CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
    SET(CURLOPT_PROXYHEADER, tunnel ? px->headers : NULL);
    /* https: connect where the first URL's host was pinned (a CONNECT then
     * names the address); never for http, where curl would tunnel */
    SET(CURLOPT_CONNECT_TO, https ? px->connect_to : NULL);
    rc = CURLE_OK;
out:
    free(proxy);
    curl_free(h);
    curl_free(pt);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

void tp_http_proxy_free(struct tp_http_proxy_run *px)
{
    curl_slist_free_all(px->headers);
    curl_slist_free_all(px->connect_to);
    px->headers = px->connect_to = NULL;
}
