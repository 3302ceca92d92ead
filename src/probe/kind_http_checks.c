/* The http kind's judgement of an answer, as blackbox_exporter's http
 * prober makes it: the status, then the header regexes, then the body
 * (decoded as `compression` says, at most body_size_limit of it) against
 * the body regexes and twkit's JSON checks, then the HTTP version and
 * whether TLS was used. Each failing check has its own reason word
 * (docs/PROBE.md), the first failure in that order is the one reported.
 * And what a transfer that ended without an answer means (curl's code and
 * errno in blackbox's words).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <brotli/decode.h>
#include <jansson.h>
#include <zlib.h>

#include "probe/kind_http.h"
#include "twkit/error.h"

/* ---- the response: headers ---- */

static int grow(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 1024;
    char *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (!(p = realloc(*buf, n)))
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

static void dec_free(struct tp_http_resp *h)
{
    if (!h->dec)
        return;
    if (h->dec_kind == TP_COMP_BR) {
        BrotliDecoderDestroyInstance(h->dec);
    } else {
        inflateEnd(h->dec);
        free(h->dec);
    }
    h->dec = NULL;
}

void tp_http_resp_reset(struct tp_http_resp *h, const struct tp_http_opts *o)
{
    dec_free(h);
    h->status = 0;
    h->hdrs_len = 0;
    h->discard = false;
    h->body_len = 0;
    h->decoded = 0;
    h->too_large = h->bad_encoding = h->unread = h->dec_done = false;
    h->why[0] = '\0';
    h->dec_kind = o->compression;
    /* only what a check will read is kept */
    h->keep = 0;
    if (o->expect_body.code || o->nbody_bad || o->nbody_good || o->njson) {
        h->keep = TP_HTTP_KEEP;
        if (o->body_size_limit > h->keep)
            h->keep = o->body_size_limit < TP_HTTP_KEEP_MAX ? (size_t)o->body_size_limit
                                                            : TP_HTTP_KEEP_MAX;
    }
}

void tp_http_resp_free(struct tp_http_resp *h)
{
    dec_free(h);
    free(h->hdrs);
    free(h->body);
    memset(h, 0, sizeof(*h));
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int tp_http_resp_header(struct tp_http_resp *h, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len), *v, *end = line + len;
    size_t nlen;

    /* the status line, the blank line, an obsolete folded line: no header */
    if (!colon || colon == line || is_space(line[0]))
        return 0;
    nlen = (size_t)(colon - line);
    for (v = colon + 1; v < end && is_space(*v); v++)
        ;
    while (end > v && is_space(end[-1]))
        end--;
    if (grow(&h->hdrs, &h->hdrs_cap, h->hdrs_len + nlen + (size_t)(end - v) + 2) < 0)
        return -ENOMEM;
    memcpy(h->hdrs + h->hdrs_len, line, nlen);
    h->hdrs[h->hdrs_len + nlen] = '\0';
    h->hdrs_len += nlen + 1;
    memcpy(h->hdrs + h->hdrs_len, v, (size_t)(end - v));
    h->hdrs[h->hdrs_len + (size_t)(end - v)] = '\0';
    h->hdrs_len += (size_t)(end - v) + 1;
    return 0;
}

const char *tp_http_resp_value(const struct tp_http_resp *h, const char *name, size_t *from)
{
    for (size_t i = *from; i < h->hdrs_len;) {
        const char *n = h->hdrs + i, *v = n + strlen(n) + 1;

        i = (size_t)(v - h->hdrs) + strlen(v) + 1;
        if (!strcasecmp(n, name)) {
            *from = i;
            return v;
        }
    }
    *from = h->hdrs_len;
    return NULL;
}

/* ---- the response: body ---- */

/* n decoded bytes: counted up to the limit, kept for the checks. */
static int take(struct tp_http_resp *h, const struct tp_http_opts *o, const char *p, size_t n)
{
    size_t room;

    if (o->body_size_limit && h->decoded + n > o->body_size_limit) {
        n = (size_t)(o->body_size_limit - h->decoded);
        h->too_large = true;
    }
    h->decoded += n;
    room = h->keep > h->body_len ? h->keep - h->body_len : 0;
    if (n > room)
        n = room;
    if (n) {
        if (grow(&h->body, &h->body_cap, h->body_len + n + 1) < 0)
            return -ENOMEM;
        memcpy(h->body + h->body_len, p, n);
        h->body_len += n;
    }
    return h->too_large ? 1 : 0;
}

static int bad(struct tp_http_resp *h, const char *why)
{
    h->bad_encoding = true;
    snprintf(h->why, sizeof(h->why), "%s", why);
    return 1;
}

static int dec_start(struct tp_http_resp *h)
{
    if (h->dec_kind == TP_COMP_BR) {
        if (!(h->dec = BrotliDecoderCreateInstance(NULL, NULL, NULL)))
            return -ENOMEM;
        return 0;
    }
    z_stream *z = calloc(1, sizeof(*z));
    /* gzip alone (16 + window), and raw DEFLATE for "deflate", as Go's
     * compress/flate reads it for blackbox_exporter */
    int wbits = h->dec_kind == TP_COMP_GZIP ? 16 + MAX_WBITS : -MAX_WBITS;

    if (!z)
        return -ENOMEM;
    if (inflateInit2(z, wbits) != Z_OK) {
        free(z);
        return -ENOMEM;
    }
    h->dec = z;
    return 0;
}

static int inflate_some(struct tp_http_resp *h, const struct tp_http_opts *o, const char *p,
                        size_t len)
{
    z_stream *z = h->dec;
    char out[16384];
    int rc, err;

    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)len;
    while (z->avail_in > 0) {
        if (h->dec_done) {
            /* after a gzip member another may follow (Go reads them all);
             * after raw DEFLATE's last block nothing more is read */
            if (h->dec_kind != TP_COMP_GZIP)
                return 0;
            inflateReset(z);
            h->dec_done = false;
        }
        z->next_out = (Bytef *)out;
        z->avail_out = sizeof(out);
        rc = inflate(z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            return bad(h, z->msg ? z->msg : "not a valid stream");
        if ((err = take(h, o, out, sizeof(out) - z->avail_out)) != 0)
            return err;
        if (rc == Z_STREAM_END)
            h->dec_done = true;
        else if (rc == Z_BUF_ERROR && z->avail_out != 0)
            break;
    }
    return 0;
}

static int brotli_some(struct tp_http_resp *h, const struct tp_http_opts *o, const char *p,
                       size_t len)
{
    const uint8_t *in = (const uint8_t *)p;
    size_t avail_in = len;
    int err;

    while (!h->dec_done) {
        uint8_t out[16384], *next = out;
        size_t avail_out = sizeof(out);
        BrotliDecoderResult rc =
            BrotliDecoderDecompressStream(h->dec, &avail_in, &in, &avail_out, &next, NULL);

        if (rc == BROTLI_DECODER_RESULT_ERROR)
            return bad(h, BrotliDecoderErrorString(BrotliDecoderGetErrorCode(h->dec)));
        if ((err = take(h, o, (const char *)out, sizeof(out) - avail_out)) != 0)
            return err;
        if (rc == BROTLI_DECODER_RESULT_SUCCESS)
            h->dec_done = true;
        else if (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT)
            break;
    }
    return 0;
}

int tp_http_resp_body(struct tp_http_resp *h, const struct tp_http_opts *o, const char *p,
                      size_t len)
{
    int err;

    if (h->discard)
        return 0;
    if (h->too_large || h->bad_encoding)
        return 1;
    switch (h->dec_kind) {
    case TP_COMP_GZIP:
    case TP_COMP_DEFLATE:
    case TP_COMP_BR:
        if (!h->dec && (err = dec_start(h)) < 0)
            return err;
        return h->dec_kind == TP_COMP_BR ? brotli_some(h, o, p, len) : inflate_some(h, o, p, len);
    default:
        return take(h, o, p, len);
    }
}

void tp_http_resp_end(struct tp_http_resp *h)
{
    if (h->discard || h->too_large || h->bad_encoding)
        return;
    /* an empty body is no stream either (Go's readers say EOF) */
    if ((h->dec_kind == TP_COMP_GZIP || h->dec_kind == TP_COMP_DEFLATE ||
         h->dec_kind == TP_COMP_BR) && !h->dec_done)
        bad(h, h->dec ? "the compressed stream is cut short" : "the body is empty");
}

/* ---- the checks ---- */

static void fail(struct tp_result *r, const char *reason, const char *fmt, const char *a,
                 const char *b)
{
    r->outcome = TP_FAILURE;
    r->reason = reason;
    snprintf(r->detail, sizeof(r->detail), fmt, a, b);
}

static bool status_ok(const struct tp_http_opts *o, long status)
{
    if (!o->nstatus)
        return status >= 200 && status <= 299;
    for (size_t i = 0; i < o->nstatus; i++)
        if (status >= o->status[i].lo && status <= o->status[i].hi)
            return true;
    return false;
}

static void status_detail(const struct tp_http_opts *o, long status, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "status %ld not in ", status);

    if (!o->nstatus && n < len)
        snprintf(buf + n, len - n, "200-299");
    for (size_t i = 0; i < o->nstatus && n < len; i++) {
        const struct tp_range *s = &o->status[i];

        if (s->lo == s->hi)
            n += (size_t)snprintf(buf + n, len - n, "%s%u", i ? "," : "", s->lo);
        else
            n += (size_t)snprintf(buf + n, len - n, "%s%u-%u", i ? "," : "", s->lo, s->hi);
    }
}

/* Each value of a header is one header line (Go's Header map keeps them
 * apart); fail_if_header_matches fails if any value matches,
 * fail_if_header_not_matches if none does; a missing header fails either
 * unless allow_missing. */
static bool headers_ok(const struct tp_http_opts *o, const struct tp_http_resp *h,
                       struct tp_result *r)
{
    for (int pass = 0; pass < 2; pass++) {
        const struct tp_header_match *m = pass ? o->hdr_good : o->hdr_bad;
        size_t n = pass ? o->nhdr_good : o->nhdr_bad;

        for (size_t i = 0; i < n; i++) {
            size_t from = 0;
            const char *v = tp_http_resp_value(h, m[i].header, &from);
            bool any = false;

            if (!v) {
                if (m[i].allow_missing)
                    continue;
                fail(r, "header_missing", "no %s header in the response%s", m[i].header, "");
                return false;
            }
            for (; v && !any; v = tp_http_resp_value(h, m[i].header, &from))
                any = tp_regex_match(&m[i].re, v, strlen(v));
            if (!pass && any) {
                fail(r, "header_matches", "header %s matches %s", m[i].header, m[i].re.text);
                return false;
            }
            if (pass && !any) {
                fail(r, "header_not_matches", "header %s does not match %s", m[i].header,
                     m[i].re.text);
                return false;
            }
        }
    }
    return true;
}

/* Why the body cannot be judged, or NULL. */
static bool body_unreadable(const struct tp_http_resp *h, struct tp_result *r)
{
    char n[32];

    if (h->unread) {
        fail(r, "redirects", "the body of a redirect not followed cannot be checked%s%s", "",
             "");
    } else if (h->too_large) {
        snprintf(n, sizeof(n), "%llu", (unsigned long long)h->decoded);
        fail(r, "body_too_large", "the body is larger than body_size_limit (%s bytes)%s", n, "");
    } else if (h->bad_encoding) {
        fail(r, "compression", "the body does not decode: %s%s", h->why, "");
    } else {
        return false;
    }
    return true;
}

static bool body_regexes_ok(const struct tp_http_opts *o, const struct tp_http_resp *h,
                            struct tp_result *r)
{
    const char *b = h->body ? h->body : "";

    for (size_t i = 0; i < o->nbody_bad; i++)
        if (tp_regex_match(&o->body_bad[i], b, h->body_len)) {
            fail(r, "body_matches", "body matches %s%s", o->body_bad[i].text, "");
            return false;
        }
    for (size_t i = 0; i < o->nbody_good; i++)
        if (!tp_regex_match(&o->body_good[i], b, h->body_len)) {
            fail(r, "body_not_matches", "body does not match %s%s", o->body_good[i].text, "");
            return false;
        }
    if (o->expect_body.code && !tp_regex_match(&o->expect_body, b, h->body_len)) {
        fail(r, "body", "body does not match %s%s", o->expect_body.text, "");
        return false;
    }
    return true;
}

/* JSON text of a scalar, for equals and regexp: a string as itself. */
static char *json_text(const json_t *v)
{
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static bool json_equals(const json_t *v, const char *want)
{
    char *end;

    if (json_is_string(v))
        return !strcmp(json_string_value(v), want);
    if (json_is_true(v) || json_is_false(v) || json_is_null(v)) {
        const char *w = json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null";
        return !strcmp(want, w);
    }
    if (json_is_number(v)) {
        double d = strtod(want, &end);
        return end != want && !*end && d == json_number_value(v);
    }
    return false; /* an object or an array equals no scalar */
}

static bool json_ok(const struct tp_http_opts *o, const struct tp_http_resp *h,
                    struct tp_result *r)
{
    json_error_t je;
    json_t *doc;
    bool ok = true;

    if (!o->njson)
        return true;
    if (!(doc = json_loadb(h->body ? h->body : "", h->body_len, JSON_DECODE_ANY, &je))) {
        fail(r, "json", "the body is not JSON: %.120s%s", je.text, "");
        return false;
    }
    for (size_t i = 0; i < o->njson && ok; i++) {
        const struct tp_json_check *jc = &o->json[i];
        const json_t *v = doc;
        char *text;

        for (size_t s = 0; s < jc->nseg && v; s++) {
            const char *seg = jc->seg[s];
            char *end;
            unsigned long idx;

            if (json_is_object(v)) {
                v = json_object_get(v, seg);
            } else if (json_is_array(v)) {
                idx = strtoul(seg, &end, 10);
                v = *seg && !*end ? json_array_get(v, idx) : NULL;
            } else {
                v = NULL;
            }
        }
        if (!v) {
            fail(r, "json", "no JSON value at %s%s", jc->path, "");
            ok = false;
        } else if (jc->equals) {
            if (!json_equals(v, jc->equals)) {
                text = json_text(v);
                snprintf(r->detail, sizeof(r->detail), "JSON value at %s is %s, not %s",
                         jc->path, text ? text : "?", jc->equals);
                free(text);
                r->outcome = TP_FAILURE;
                r->reason = "json";
                ok = false;
            }
        } else {
            text = json_text(v);
            if (!text || !tp_regex_match(&jc->re, text, strlen(text))) {
                fail(r, "json", "JSON value at %s does not match %s", jc->path, jc->re.text);
                ok = false;
            }
            free(text);
        }
    }
    json_decref(doc);
    return ok;
}

static unsigned version_bit(int version)
{
    switch (version) {
    case 10:
        return TP_HTTP_V10;
    case 11:
        return TP_HTTP_V11;
    case 20:
        return TP_HTTP_V20;
    case 30:
        return TP_HTTP_V30;
    default:
        return 0;
    }
}

void tp_http_judge(const struct tp_http_opts *o, struct tp_http_resp *h, int version, bool tls,
                   struct tp_result *r)
{
    bool ok = true;
    char v[32];

    r->outcome = TP_SUCCESS;
    r->reason = NULL;
    r->detail[0] = '\0';
    r->regex_failed = false;
    if (!status_ok(o, h->status)) {
        r->outcome = TP_FAILURE;
        r->reason = "status";
        status_detail(o, h->status, r->detail, sizeof(r->detail));
        ok = false;
    }
    if (ok && (o->nhdr_bad || o->nhdr_good)) {
        ok = headers_ok(o, h, r);
        r->regex_failed = !ok;
    }
    if (ok && (o->nbody_bad || o->nbody_good || o->expect_body.code || o->njson)) {
        bool regexes = o->nbody_bad || o->nbody_good || o->expect_body.code;

        /* blackbox reads the body for its regexes: a body it cannot read
         * fails them (probe_failed_due_to_regex 1) */
        if (body_unreadable(h, r)) {
            ok = false;
            r->regex_failed = regexes;
        } else {
            ok = body_regexes_ok(o, h, r);
            r->regex_failed = regexes && !ok;
            ok = ok && json_ok(o, h, r);
        }
    }
    if (ok && !h->unread && body_unreadable(h, r))
        ok = false;
    if (ok && o->versions && !(o->versions & version_bit(version))) {
        snprintf(v, sizeof(v), "HTTP/%d.%d", version / 10, version % 10);
        fail(r, "http_version", "the response is %s, not one of valid_http_versions%s", v, "");
        ok = false;
    }
    if (ok && tls && o->fail_if_ssl)
        fail(r, "ssl", "the last response came over TLS (fail_if_ssl)%s%s", "", "");
    else if (ok && !tls && o->fail_if_not_ssl)
        fail(r, "not_ssl", "the last response did not come over TLS (fail_if_not_ssl)%s%s", "",
             "");
}

/* ---- a transfer without an answer ---- */

bool tp_http_verify_code(CURLcode c)
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

bool tp_http_tls_code(CURLcode c)
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

/* curl's messages run up to 255 bytes; the detail keeps what fits */
static void put_detail(struct tp_result *r, const char *text, const char *errname)
{
    int n = errname ? snprintf(r->detail, sizeof(r->detail), "%s (%s)", text, errname)
                    : snprintf(r->detail, sizeof(r->detail), "%s", text);

    if (n < 0)
        r->detail[0] = '\0';
}

static void failed(struct tp_result *r, const char *reason, const char *detail)
{
    r->outcome = TP_FAILURE;
    r->reason = reason;
    put_detail(r, detail, NULL);
}

/* Through tp_result_errno, which owns the errno -> outcome mapping; into a
 * scratch result so it cannot disturb what was measured. */
void tp_http_from_errno(const char *errbuf, struct tp_result *r, int err)
{
    struct tp_result x;

    memset(&x, 0, sizeof(x));
    tp_result_errno(&x, err);
    r->outcome = x.outcome;
    r->err = x.err;
    r->reason = x.reason;
    if (errbuf[0])
        put_detail(r, errbuf, tw_errname(err));
    else
        memcpy(r->detail, x.detail, sizeof(r->detail));
}

void tp_http_judge_failed(CURL *easy, CURLcode code, const char *errbuf, bool tls,
                          struct tp_result *r)
{
    const char *text = errbuf[0] ? errbuf : curl_easy_strerror(code);
    long oserr = 0, connect_code = 0;

    /* the proxy refused the CONNECT (407 for want of proxy_connect_header) */
    curl_easy_getinfo(easy, CURLINFO_HTTP_CONNECTCODE, &connect_code);
    if (code != CURLE_OPERATION_TIMEDOUT && connect_code && connect_code / 100 != 2) {
        failed(r, "proxy", text);
        return;
    }
    switch (code) {
    case CURLE_OUT_OF_MEMORY:
        tp_http_from_errno(errbuf, r, ENOMEM);
        return;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
        /* the errno says refused, unreachable, reset, or out of local
         * ports (EADDRNOTAVAIL: local) better than curl's code */
        curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr > 0) {
            tp_http_from_errno(errbuf, r, (int)oserr);
            return;
        }
        break;
    default:
        break;
    }
    if (code == CURLE_OPERATION_TIMEDOUT)
        failed(r, "timeout", text);
    else if (tp_http_verify_code(code))
        failed(r, "verify", text);
    else if (tp_http_tls_code(code))
        failed(r, "tls", text);
    else if (code == CURLE_GOT_NOTHING)
        failed(r, "eof", text);
    else if ((code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR) && tls &&
             strstr(text, "SSL routines"))
        failed(r, "tls", text); /* a TLS alert (TLS 1.3 sends some after the handshake) */
    else if (code == CURLE_RECV_ERROR || code == CURLE_SEND_ERROR)
        failed(r, "reset", text);
    else if (code == CURLE_COULDNT_RESOLVE_HOST)
        failed(r, "dns", text); /* a redirect to a name curl resolved */
    else if (code == CURLE_COULDNT_RESOLVE_PROXY)
        failed(r, "proxy", text);
#if LIBCURL_VERSION_NUM >= 0x074900
    else if (code == CURLE_PROXY)
        failed(r, "proxy", text);
#endif
    else
        failed(r, "http", text);
}
