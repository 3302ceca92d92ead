/* twkit probe: targets, parsed from their strings (docs/PROBE.md,
 * "Targets"): host names and addresses, ports, host:port and URLs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "probe/config.h"
#include "probe/probe.h"

/* RFC 1123 names, plus '_' (SRV-style and internal names use it). A last
 * label of digits only is refused: such a string is a mistyped IPv4 address
 * ("10.0.0", "300.1.1.1") that a resolver might otherwise take. */
bool tp_hostname_valid(const char *h, size_t n)
{
    size_t label = 0;
    bool digits = true;

    if (n && h[n - 1] == '.') /* the root of a fully qualified name */
        n--;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || h[i] == '.') {
            if (label == 0 || label > 63 || h[i - 1] == '-')
                return false;
            if (i == n)
                break;
            label = 0;
            digits = true;
            continue;
        }
        if (!tp_is_alnum(h[i]) && h[i] != '-' && h[i] != '_')
            return false;
        if (label == 0 && h[i] == '-')
            return false;
        if (!tp_is_digit(h[i]))
            digits = false;
        label++;
    }
    return !digits;
}

static int bad_target(struct tp_endpoint *ep, const char **why, const char *text)
{
    memset(ep, 0, sizeof(*ep));
    *why = text;
    return -EINVAL;
}

/* Copy n bytes of host into ep->host and check it: an IPv6 literal when it
 * came in brackets, otherwise an IPv4 literal or a host name. */
static int set_host(struct tp_endpoint *ep, const char *h, size_t n, bool bracketed,
                    const char **why)
{
    tw_addr a;

    if (n == 0)
        return bad_target(ep, why, "missing host");
    if (n >= sizeof(ep->host))
        return bad_target(ep, why, "host name too long");
    memcpy(ep->host, h, n);
    ep->host[n] = '\0';
    if (bracketed) {
        if (tw_addr_parse(&a, ep->host, 0) < 0 || tw_addr_family(&a) != AF_INET6)
            return bad_target(ep, why, "bad IPv6 address in brackets");
        return 0;
    }
    if (memchr(h, ':', n))
        return bad_target(ep, why, "an IPv6 address must be in brackets, e.g. [::1]:443");
    if (tw_addr_parse(&a, ep->host, 0) == 0)
        return 0;
    if (!tp_hostname_valid(h, n))
        return bad_target(ep, why, "bad host name");
    return 0;
}

/* Decimal only: "0x50" or "+80" in a config is a typo, not a port. */
static bool parse_port(const char *s, size_t n, uint16_t *port)
{
    unsigned long v = 0;

    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!tp_is_digit(s[i]))
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* "host:port", "[v6]:port"; the port may be left out when default_port is
 * not 0. */
static int parse_hostport(const char *s, struct tp_endpoint *ep, uint16_t default_port,
                          const char **why)
{
    const char *host = s, *rest;
    size_t hlen;
    bool bracketed = false;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return bad_target(ep, why, "missing ] after the IPv6 address");
        host = s + 1;
        hlen = (size_t)(close - host);
        rest = close + 1;
        bracketed = true;
        if (*rest && *rest != ':')
            return bad_target(ep, why, "unexpected text after ]");
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            return bad_target(ep, why, "an IPv6 address must be in brackets, e.g. [::1]:443");
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        rest = s + hlen;
    }
    if (set_host(ep, host, hlen, bracketed, why) < 0)
        return -EINVAL;
    if (*rest == ':') {
        if (!rest[1])
            return bad_target(ep, why, "missing port after ':'");
        if (!parse_port(rest + 1, strlen(rest + 1), &ep->port))
            return bad_target(ep, why, "bad port (expected 1 to 65535)");
    } else if (default_port) {
        ep->port = default_port;
    } else {
        return bad_target(ep, why, "missing port (expected host:port)");
    }
    return 0;
}

static int parse_url(const char *s, struct tp_endpoint *ep, const char **why)
{
    CURLU *u;
    CURLUcode rc;
    char *scheme = NULL, *host = NULL, *port = NULL, *zone = NULL;
    size_t skip;
    int ret = 0;

    /* Checked here rather than left to curl: without a default scheme curl
     * would still accept ftp:// and friends, and it reads "http:///x" as
     * host x, which is never what was meant. */
    if (!strncasecmp(s, "http://", 7))
        skip = 7;
    else if (!strncasecmp(s, "https://", 8))
        skip = 8;
    else
        return bad_target(ep, why, "not an http:// or https:// URL");
    if (s[skip] == '/' || s[skip] == '\0')
        return bad_target(ep, why, "missing host");

    u = curl_url();
    if (!u) {
        memset(ep, 0, sizeof(*ep));
        *why = "out of memory";
        return -ENOMEM;
    }
    rc = curl_url_set(u, CURLUPART_URL, s, 0);
    if (rc == CURLUE_OUT_OF_MEMORY) {
        *why = "out of memory";
        ret = -ENOMEM;
        goto out;
    }
    if (rc == CURLUE_BAD_PORT_NUMBER) {
        ret = bad_target(ep, why, "bad port (expected 1 to 65535)");
        goto out;
    }
    if (rc != CURLUE_OK) {
        ret = bad_target(ep, why, curl_url_strerror(rc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        ret = bad_target(ep, why, "incomplete URL");
        goto out;
    }
    (void)curl_url_get(u, CURLUPART_ZONEID, &zone, 0); /* absent: stays NULL */

    size_t hlen = strlen(host);
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        /* tw_addr_parse and the engine want "fe80::1%eth0", as in the
         * URL before its %25 was decoded. */
        char lit[sizeof(ep->host)];
        int n = snprintf(lit, sizeof(lit), "%.*s%s%s", (int)(hlen - 2), host + 1,
                         zone ? "%" : "", zone ? zone : "");
        if (n < 0 || (size_t)n >= sizeof(lit)) {
            ret = bad_target(ep, why, "bad IPv6 address in brackets");
            goto out;
        }
        ret = set_host(ep, lit, (size_t)n, true, why);
    } else {
        ret = set_host(ep, host, hlen, false, why);
    }
    if (ret < 0)
        goto out;
    if (!parse_port(port, strlen(port), &ep->port)) {
        ret = bad_target(ep, why, "bad port (expected 1 to 65535)");
        goto out;
    }
    ep->https = !strcmp(scheme, "https");
out:
    if (ret < 0)
        memset(ep, 0, sizeof(*ep));
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(zone);
    curl_url_cleanup(u);
    return ret;
}

int tp_target_parse(enum tp_kind kind, const char *target, struct tp_endpoint *ep,
                    const char **why)
{
    const char *unused;

    if (!why)
        why = &unused;
    *why = NULL;
    if (!ep) {
        *why = "no endpoint";
        return -EINVAL;
    }
    if (!target || !*target)
        return bad_target(ep, why, "empty target");
    for (const char *p = target; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return bad_target(ep, why, "contains spaces or control characters");
    memset(ep, 0, sizeof(*ep));
    switch (kind) {
    case TP_TCP:
        return parse_hostport(target, ep, 0, why);
    case TP_TLS:
        return parse_hostport(target, ep, 443, why);
    case TP_HTTP:
        return parse_url(target, ep, why);
    default:
        return bad_target(ep, why, "unknown kind");
    }
}
