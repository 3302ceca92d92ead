/* twkit probe: targets (docs/PROBE.md, "Targets"): what every target has
 * in common (no spaces, not empty), the pieces the kinds parse their own
 * forms with (host names and addresses, ports, host:port, URLs), and
 * targets files, a target per line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
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

int tp_bad_target(struct tp_endpoint *ep, const char **why, const char *text)
{
    memset(ep, 0, sizeof(*ep));
    *why = text;
    return -EINVAL;
}

/* Copy n bytes of host into ep->host and check it: an IPv6 literal when it
 * came in brackets, otherwise an IPv4 literal or a host name. */
int tp_host_set(struct tp_endpoint *ep, const char *h, size_t n, bool bracketed,
                    const char **why)
{
    tw_addr a;

    if (n == 0)
        return tp_bad_target(ep, why, "missing host");
    if (n >= sizeof(ep->host))
        return tp_bad_target(ep, why, "host name too long");
    memcpy(ep->host, h, n);
    ep->host[n] = '\0';
    if (bracketed) {
        if (tw_addr_parse(&a, ep->host, 0) < 0 || tw_addr_family(&a) != AF_INET6)
            return tp_bad_target(ep, why, "bad IPv6 address in brackets");
        return 0;
    }
    if (memchr(h, ':', n))
        return tp_bad_target(ep, why, "an IPv6 address must be in brackets, e.g. [::1]:443");
    if (tw_addr_parse(&a, ep->host, 0) == 0)
        return 0;
    if (!tp_hostname_valid(h, n))
        return tp_bad_target(ep, why, "bad host name");
    return 0;
}

/* Decimal only: "0x50" or "+80" in a config is a typo, not a port. */
bool tp_port_parse(const char *s, size_t n, uint16_t *port)
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
int tp_hostport_parse(const char *s, struct tp_endpoint *ep, uint16_t default_port,
                          const char **why)
{
    const char *host = s, *rest;
    size_t hlen;
    bool bracketed = false;

    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return tp_bad_target(ep, why, "missing ] after the IPv6 address");
        host = s + 1;
        hlen = (size_t)(close - host);
        rest = close + 1;
        bracketed = true;
        if (*rest && *rest != ':')
            return tp_bad_target(ep, why, "unexpected text after ]");
    } else {
        const char *colon = strchr(s, ':');
        if (colon && strchr(colon + 1, ':'))
            return tp_bad_target(ep, why, "an IPv6 address must be in brackets, e.g. [::1]:443");
        hlen = colon ? (size_t)(colon - s) : strlen(s);
        rest = s + hlen;
    }
    if (tp_host_set(ep, host, hlen, bracketed, why) < 0)
        return -EINVAL;
    if (*rest == ':') {
        if (!rest[1])
            return tp_bad_target(ep, why, "missing port after ':'");
        if (!tp_port_parse(rest + 1, strlen(rest + 1), &ep->port))
            return tp_bad_target(ep, why, "bad port (expected 1 to 65535)");
    } else if (default_port) {
        ep->port = default_port;
        ep->port_default = true;
    } else {
        return tp_bad_target(ep, why, "missing port (expected host:port)");
    }
    return 0;
}

int tp_url_parse(const char *s, struct tp_endpoint *ep, const char **why)
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
        return tp_bad_target(ep, why, "not an http:// or https:// URL");
    if (s[skip] == '/' || s[skip] == '\0')
        return tp_bad_target(ep, why, "missing host");

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
        ret = tp_bad_target(ep, why, "bad port (expected 1 to 65535)");
        goto out;
    }
    if (rc != CURLUE_OK) {
        ret = tp_bad_target(ep, why, curl_url_strerror(rc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        ret = tp_bad_target(ep, why, "incomplete URL");
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
            ret = tp_bad_target(ep, why, "bad IPv6 address in brackets");
            goto out;
        }
        ret = tp_host_set(ep, lit, (size_t)n, true, why);
    } else {
        ret = tp_host_set(ep, host, hlen, false, why);
    }
    if (ret < 0)
        goto out;
    if (!tp_port_parse(port, strlen(port), &ep->port)) {
        ret = tp_bad_target(ep, why, "bad port (expected 1 to 65535)");
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

int tp_target_parse(const struct tp_kind *kind, const char *target, struct tp_endpoint *ep,
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
        return tp_bad_target(ep, why, "empty target");
    for (const char *p = target; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return tp_bad_target(ep, why, "contains spaces or control characters");
    memset(ep, 0, sizeof(*ep));
    if (!kind)
        return tp_bad_target(ep, why, "unknown kind");
    return kind->parse_target(target, ep, why);
}

/* ---- targets files ---- */

/* t and its labels (taken over) as the next target. */
static bool push_target(struct tp_cfgctx *c, struct tp_def *def, size_t *cap, char *t,
                        struct tp_tlabels *tl)
{
    if (def->ntargets == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **grown = realloc(def->targets, ncap * sizeof(*grown));
        struct tp_tlabels *gl = grown ? realloc(def->tlabels, ncap * sizeof(*gl)) : NULL;
        if (gl) {
            memset(gl + *cap, 0, (ncap - *cap) * sizeof(*gl));
            def->tlabels = gl;
        }
        if (grown)
            def->targets = grown;
        if (!grown || !gl) {
            free(t);
            tp_free_kv(&tl->kv, &tl->n);
            tp_cfg_oom(c);
            return false;
        }
        *cap = ncap;
    }
    def->tlabels[def->ntargets] = *tl;
    def->targets[def->ntargets++] = t;
    return true;
}

/* name=value pairs after a target on its line (s, NUL-terminated):
 * reported at their column of line lineno of path. */
static bool line_labels(struct tp_cfgctx *c, const char *path, unsigned long lineno,
                        const char *line, char *s, struct tp_tlabels *tl)
{
    struct tp_quoted q;

    while (*s) {
        char *tok = s, *eq, *end;
        const char *why;
        while (*s && !isspace((unsigned char)*s))
            s++;
        end = s;
        while (*s && isspace((unsigned char)*s))
            *s++ = '\0';
        *end = '\0';
        if (!(eq = strchr(tok, '=')) || eq == tok) {
            tp_cfg_err_in(c, path, lineno, (unsigned long)(tok - line + 1),
                          "%s after the target is not a label (expected name=value)",
                          tp_qs(&q, tok));
            return false;
        }
        if ((why = tp_label_name_problem(tok, (size_t)(eq - tok)))) {
            tp_cfg_err_in(c, path, lineno, (unsigned long)(tok - line + 1),
                          "bad label name %s: %s", tp_quote(&q, tok, (size_t)(eq - tok)), why);
            return false;
        }
        *eq = '\0';
        for (size_t i = 0; i < tl->n; i++)
            if (!strcmp(tl->kv[i].key, tok)) {
                tp_cfg_err_in(c, path, lineno, (unsigned long)(tok - line + 1),
                              "label %s given twice on one line", tp_qs(&q, tok));
                return false;
            }
        if (!tp_set_kv(c, &tl->kv, &tl->n, tok, eq + 1))
            return false;
    }
    return true;
}

/* kind NULL: the kind is unknown (and reported); the lines are still read
 * so that an unreadable file or a duplicate shows up in the same run. */
bool tp_targets_file(struct tp_cfgctx *c, struct tp_def *def, const struct tp_kind *kind,
                     const struct tp_val *v)
{
    struct tp_quoted q;
    struct tp_strset seen = {0};
    const char *rel;
    char *path, *line = NULL;
    size_t cap = 0, tcap = 0;
    ssize_t len;
    unsigned long lineno = 0, first;
    int before = c->nerr, e;
    FILE *f;

    if (!(rel = tp_val_str(c, "targets_file", v, "a file name")))
        return false;
    if (!*rel) {
        tp_cfg_err(c, &v->at, "targets_file is empty");
        return false;
    }
    if (!(path = tp_cfg_path(c, rel)))
        return false;
    c->anchor = v->at;
    if (!(f = fopen(path, "r"))) {
        tp_cfg_err(c, &v->at, "cannot read targets file %s: %s", tp_qs(&q, rel), strerror(errno));
        free(path);
        return false;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *s = line, *end = line + len;
        struct tp_endpoint ep;
        const char *why;
        char *t;

        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            tp_cfg_err_in(c, path, lineno, 1, "line contains a NUL byte");
            continue;
        }
        while (s < end && isspace((unsigned char)*s))
            s++;
        if (s == end || *s == '#')
            continue;
        /* a comment after the target: '#' after a blank (a URL's own '#'
         * has none before it) */
        for (char *h = s + 1; h < end; h++)
            if (*h == '#' && isspace((unsigned char)h[-1])) {
                end = h;
                break;
            }
        while (end > s && isspace((unsigned char)end[-1]))
            end--;
        *end = '\0';
        /* the target, then its labels */
        struct tp_tlabels tl = {0};
        char *rest = s;
        while (*rest && !isspace((unsigned char)*rest))
            rest++;
        if (*rest) {
            *rest++ = '\0';
            while (isspace((unsigned char)*rest))
                rest++;
            if (!line_labels(c, path, lineno, line, rest, &tl)) {
                tp_free_kv(&tl.kv, &tl.n);
                continue;
            }
        }
        end = s + strlen(s);
        if (kind && tp_target_parse(kind, s, &ep, &why) < 0) {
            tp_cfg_err_in(c, path, lineno, (unsigned long)(s - line + 1), "bad %s target %s: %s",
                   kind->name, tp_qs(&q, s), why);
            tp_free_kv(&tl.kv, &tl.n);
            continue;
        }
        if (!(t = tp_cfg_dupn(c, s, (size_t)(end - s)))) {
            tp_free_kv(&tl.kv, &tl.n);
            break;
        }
        int r = tp_strset_add(&seen, t, lineno, &first);
        if (r <= 0) {
            if (r < 0)
                tp_cfg_oom(c);
            else
                tp_cfg_err_in(c, path, lineno, (unsigned long)(s - line + 1),
                              "duplicate target %s (first at line %lu)", tp_qs(&q, s), first);
            free(t);
            tp_free_kv(&tl.kv, &tl.n);
            if (r < 0)
                break;
            continue;
        }
        if (!push_target(c, def, &tcap, t, &tl))
            break;
    }
    /* getline returns -1 at the end and on errors alike (a directory opens
     * and then fails here with EISDIR). */
    e = ferror(f) ? errno : 0;
    fclose(f);
    free(line);
    tp_strset_free(&seen);
    free(def->targets_path);
    def->targets_path = path;
    if (e) {
        tp_cfg_err(c, &v->at, "cannot read targets file %s: %s", tp_qs(&q, rel), strerror(e));
        return false;
    }
    /* An empty file is zero targets, not an error: a service-discovery
     * file emptied on purpose must reload to nothing, not keep the old
     * list. */
    return c->nerr == before;
}

char *tp_target_redact(const char *target, bool *had)
{
    const char *auth = strstr(target, "://"), *end, *at, *colon;
    char *out;
    size_t n;

    *had = false;
    if (!auth)
        return NULL;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    /* the last '@' of the authority ends the user information */
    for (at = NULL, colon = auth; colon < end; colon++)
        if (*colon == '@')
            at = colon;
    if (!at || !(colon = memchr(auth, ':', (size_t)(at - auth))))
        return NULL;
    *had = true;
    n = (size_t)(colon + 1 - target);
    if (!(out = malloc(n + 5 + strlen(at) + 1)))
        return NULL;
    memcpy(out, target, n);
    memcpy(out + n, "xxxxx", 5);
    strcpy(out + n + 5, at);
    return out;
}
