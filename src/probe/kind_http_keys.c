/* The http kind's config keys: twkit's own (expect_status, expect_body,
 * max_redirects) and blackbox_exporter's http prober options under their
 * blackbox names and meanings (docs/PROBE.md); the proxy keys are
 * kind_http_proxy.c's. Where the two spell one
 * setting, writing both in one probe is an error, whichever comes first:
 * each key's apply checks whether the other spelling was written (the
 * HTTPW_* bits), so the order in the file does not matter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "probe/kind_http.h"

static struct tp_http_opts *opts(struct tp_def *def) { return def->opts; }

/* bits of tp_http_opts.written */
enum {
    HTTPW_EXPECT_STATUS = 1u << 0,
    HTTPW_VALID_STATUS = 1u << 1,
    HTTPW_MAX_REDIRECTS = 1u << 2,
    HTTPW_FOLLOW = 1u << 3,
    HTTPW_NO_FOLLOW = 1u << 4,
    HTTPW_BASIC = 1u << 5,
    HTTPW_BEARER = 1u << 6,
    HTTPW_BEARER_FILE = 1u << 7,
    HTTPW_AUTHZ = 1u << 8,
    HTTPW_COMPRESSION = 1u << 9,
    HTTPW_VERSIONS = 1u << 10,
    HTTPW_HTTP2 = 1u << 11,
};

static const char *const written_names[] = {
    "expect_status", "valid_status_codes", "max_redirects", "follow_redirects",
    "no_follow_redirects", "basic_auth", "bearer_token", "bearer_token_file",
    "authorization", "compression", "valid_http_versions", "enable_http2"};

static const char *wname(unsigned bit)
{
    for (unsigned i = 0; i < sizeof(written_names) / sizeof(written_names[0]); i++)
        if (bit == 1u << i)
            return written_names[i];
    return "?";
}

/* Mark mine written; if one of others was written too, say so at at. */
static bool exclusive(struct tp_cfgctx *c, struct tp_def *def, const struct tp_val *at,
                      unsigned mine, unsigned others, const char *how)
{
    struct tp_http_opts *o = opts(def);
    unsigned both = o->written & others;

    o->written |= mine;
    if (!both)
        return true;
    for (unsigned b = 1; b; b <<= 1)
        if (both & b) {
            tp_cfg_err(c, &at->at, "%s and %s %s", wname(b), wname(mine), how);
            return false;
        }
    return false;
}

#define SAME "set the same thing: write one of them"

static bool replace(struct tp_cfgctx *c, char **slot, const char *s)
{
    char *n = tp_cfg_dup(c, s);

    if (!n)
        return false;
    free(*slot);
    *slot = n;
    return true;
}

static void drop(char **slot)
{
    free(*slot);
    *slot = NULL;
}

/* ---- method, headers, body ---- */

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
    return replace(c, &opts(def)->method, a->s);
}

/* Also where every probe's run-time defaults are settled: the keys'
 * absent hooks run once each, after all the written keys. */
static bool default_method(struct tp_cfgctx *c, struct tp_def *def)
{
    return replace(c, &opts(def)->method, "GET");
}

static void free_method(struct tp_def *def) { drop(&opts(def)->method); }

/* Content codings blackbox's compression understands: an Accept-Encoding
 * header given with compression must accept it (with a quality above 0,
 * or through *), as blackbox_exporter checks it. */
static bool accepts(const char *header, const char *coding)
{
    char copy[512], *save = NULL;
    double best = -1;

    snprintf(copy, sizeof(copy), "%s", header);
    if (!copy[0])
        return true;
    /* blackbox sorts the items by quality and the first that names coding
     * (or *) decides: the best quality among those */
    for (char *it = strtok_r(copy, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *semi = strrchr(it, ';'), *name = it, *e;
        double qv = 1;

        if (semi) {
            char *qs = semi + 1;
            *semi = '\0';
            while (*qs == ' ' || *qs == '\t')
                qs++;
            if (!strncmp(qs, "q=", 2))
                qs += 2;
            qv = strtod(qs, &e);
            if (e == qs)
                qv = 0;
        }
        while (*name == ' ' || *name == '\t')
            name++;
        for (e = name + strlen(name); e > name && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if ((!strcmp(name, coding) || !strcmp(name, "*")) && qv > best)
            best = qv;
    }
    return best > 0;
}

static const char *const compression_names[] = {"", "identity", "gzip", "deflate", "br"};

static bool check_accept(struct tp_cfgctx *c, const struct tp_val *at, const struct tp_def *def)
{
    const struct tp_http_opts *o = def->opts;
    const char *coding = compression_names[o->compression];

    if (o->compression == TP_COMP_NONE)
        return true;
    for (size_t i = 0; i < o->nheaders; i++)
        if (!strcasecmp(o->headers[i].key, "Accept-Encoding") &&
            !accepts(o->headers[i].value, coding)) {
            tp_cfg_err(c, &at->at,
                       "compression %s and the Accept-Encoding header \"%s\" disagree: the "
                       "header must accept %s",
                       coding, o->headers[i].value, coding);
            return false;
        }
    return true;
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
    struct tp_http_opts *o = opts(def);

    return tp_set_kv(c, &o->headers, &o->nheaders, a->name->s, a->v->s) &&
           (strcasecmp(a->name->s, "Accept-Encoding") || check_accept(c, a->v, def));
}

static void free_headers(struct tp_def *def)
{
    struct tp_http_opts *o = opts(def);

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
    return replace(c, &opts(def)->body, a->v->s);
}

static void free_body(struct tp_def *def) { drop(&opts(def)->body); }

/* ---- statuses ---- */

/* "200" or "200-299": 0, or why not (1: not that form, 2: not 100 to 599,
 * 3: backwards). */
static int parse_status(const char *s, bool ranges, unsigned long *lo, unsigned long *hi)
{
    const char *dash = ranges ? strchr(s, '-') : NULL;
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

static bool judge_status(struct tp_cfgctx *c, const struct tp_arg *a, bool ranges)
{
    const char *key = ranges ? "expect_status" : "valid_status_codes";
    struct tp_quoted q;
    unsigned long lo, hi;

    switch (parse_status(a->s, ranges, &lo, &hi)) {
    case 1:
        tp_cfg_err(c, &a->v->at, "bad %s %s: expected a status like 200%s", key,
                   tp_qs(&q, a->s), ranges ? " or a range like 200-299" : "");
        return false;
    case 2:
        tp_cfg_err(c, &a->v->at, "bad %s %s: status codes are 100 to 599", key,
                   tp_qs(&q, a->s));
        return false;
    case 3:
        tp_cfg_err(c, &a->v->at, "bad %s %s: the range is backwards", key, tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool check_status(struct tp_cfgctx *c, const struct tp_arg *a)
{
    return judge_status(c, a, true);
}

static bool check_code(struct tp_cfgctx *c, const struct tp_arg *a)
{
    return judge_status(c, a, false);
}

static bool push_status(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a,
                        unsigned mine, unsigned other)
{
    struct tp_http_opts *o = opts(def);
    struct tp_range *grown;
    unsigned long lo, hi;

    if (!exclusive(c, def, a->v, mine, other, SAME))
        return false;
    if (!(grown = realloc(o->status, (o->nstatus + 1) * sizeof(*grown)))) {
        tp_cfg_oom(c);
        return false;
    }
    o->status = grown;
    parse_status(a->s, true, &lo, &hi);
    o->status[o->nstatus++] = (struct tp_range){(uint16_t)lo, (uint16_t)hi};
    return true;
}

static bool add_status(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return push_status(c, def, a, HTTPW_EXPECT_STATUS, HTTPW_VALID_STATUS);
}

static bool add_code(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return push_status(c, def, a, HTTPW_VALID_STATUS, HTTPW_EXPECT_STATUS);
}

static bool default_status(struct tp_cfgctx *c, struct tp_def *def)
{
    struct tp_http_opts *o = opts(def);

    if (o->nstatus) /* valid_status_codes */
        return true;
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
    struct tp_http_opts *o = opts(def);

    free(o->status);
    o->status = NULL;
    o->nstatus = 0;
}

/* ---- redirects ---- */

#define NOT_FOLLOWED "disagree: redirects are not followed, yet max_redirects is above 0"

static bool set_redirects(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);
    unsigned said = o->written & (HTTPW_FOLLOW | HTTPW_NO_FOLLOW);

    o->max_redirects = a->u;
    o->written |= HTTPW_MAX_REDIRECTS;
    if (a->u && said && !o->follow) {
        tp_cfg_err(c, &a->v->at, "%s and max_redirects " NOT_FOLLOWED, wname(said));
        return false;
    }
    return true;
}

static bool default_redirects(struct tp_cfgctx *c, struct tp_def *def)
{
    opts(def)->max_redirects = TP_HTTP_MAX_REDIRECTS_DEFAULT;
    return true;
}

static bool set_following(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a,
                          bool follow, unsigned mine, unsigned other)
{
    struct tp_http_opts *o = opts(def);

    o->follow = follow;
    if (!exclusive(c, def, a->v, mine, other, SAME))
        return false;
    if (!follow && (o->written & HTTPW_MAX_REDIRECTS) && o->max_redirects) {
        tp_cfg_err(c, &a->v->at, "max_redirects and %s " NOT_FOLLOWED, wname(mine));
        return false;
    }
    return true;
}

static bool set_follow(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return set_following(c, def, a, a->b, HTTPW_FOLLOW, HTTPW_NO_FOLLOW);
}

static bool set_no_follow(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return set_following(c, def, a, !a->b, HTTPW_NO_FOLLOW, HTTPW_FOLLOW);
}

static bool default_follow(struct tp_cfgctx *c, struct tp_def *def)
{
    if (!(opts(def)->written & HTTPW_NO_FOLLOW))
        opts(def)->follow = true;
    return true;
}

/* ---- TLS and HTTP versions ---- */

static bool set_fail_if_ssl(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->fail_if_ssl = a->b;
    return true;
}

static bool set_fail_if_not_ssl(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->fail_if_not_ssl = a->b;
    return true;
}

static bool have_http2(void)
{
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);

    return vi && (vi->features & CURL_VERSION_HTTP2);
}

/* Only HTTP/2 accepted, but it cannot be spoken: no answer could pass. */
static bool check_h2(struct tp_cfgctx *c, const struct tp_val *at, const struct tp_def *def)
{
    const struct tp_http_opts *o = def->opts;

    if (!o->versions || (o->versions & ~(unsigned)TP_HTTP_V20))
        return true;
    if (!have_http2()) {
        tp_cfg_err(c, &at->at, "valid_http_versions accepts HTTP/2.0 only, but this libcurl "
                               "has no HTTP/2");
        return false;
    }
    if ((o->written & HTTPW_HTTP2) && !o->http2) {
        tp_cfg_err(c, &at->at, "valid_http_versions accepts HTTP/2.0 only, but enable_http2 "
                               "is false");
        return false;
    }
    return true;
}

static bool check_version(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (strcmp(a->s, "HTTP/1.0") && strcmp(a->s, "HTTP/1.1") && strcmp(a->s, "HTTP/2.0") &&
        strcmp(a->s, "HTTP/3.0")) {
        tp_cfg_err(c, &a->v->at, "bad valid_http_versions %s: expected HTTP/1.0, HTTP/1.1, "
                                 "HTTP/2.0 or HTTP/3.0", tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool add_version(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);

    o->versions |= !strcmp(a->s, "HTTP/1.0")   ? TP_HTTP_V10
                   : !strcmp(a->s, "HTTP/1.1") ? TP_HTTP_V11
                   : !strcmp(a->s, "HTTP/2.0") ? TP_HTTP_V20
                                               : TP_HTTP_V30;
    o->written |= HTTPW_VERSIONS;
    return check_h2(c, a->v, def);
}

static bool set_http2(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->http2 = a->b;
    opts(def)->written |= HTTPW_HTTP2;
    return check_h2(c, a->v, def);
}

static bool default_http2(struct tp_cfgctx *c, struct tp_def *def)
{
    opts(def)->http2 = true;
    return true;
}

/* ---- compression and body_size_limit ---- */

static bool set_compression(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_quoted q;

    for (size_t i = 0; i < sizeof(compression_names) / sizeof(compression_names[0]); i++)
        if (!strcasecmp(a->s, compression_names[i])) {
            opts(def)->compression = (enum tp_compression)i;
            opts(def)->written |= HTTPW_COMPRESSION;
            return check_accept(c, a->v, def);
        }
    tp_cfg_err(c, &a->v->at, "bad compression %s: expected gzip, br, deflate or identity",
               tp_qs(&q, a->s));
    return false;
}

/* Go's units.Base2Bytes as blackbox_exporter reads body_size_limit: one or
 * more number-unit pairs ("1MB", "1.5KiB", "1MB512KB"), KB and KiB both
 * 1024; "0" alone is no limit. 0 and the bytes, or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
    static const char *const units[] = {"B", "K", "M", "G", "T", "P", "E"};
    double total = 0;

    if (!strcmp(s, "0")) {
        *out = 0;
        return 0;
    }
    if (!*s)
        return -EINVAL;
    while (*s) {
        const char *start = s;
        double v = 0, scale = 1, mul = 0;
        bool digits = false;
        size_t ulen;

        for (; tp_is_digit(*s); s++, digits = true)
            v = v * 10 + (*s - '0');
        if (*s == '.')
            for (s++; tp_is_digit(*s); s++, digits = true)
                v += (*s - '0') / (scale *= 10);
        if (!digits || s == start)
            return -EINVAL;
        for (ulen = 0; s[ulen] && !tp_is_digit(s[ulen]) && s[ulen] != '.'; ulen++)
            ;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && !mul; i++) {
            double m = 1;
            for (size_t k = 0; k < i; k++)
                m *= 1024;
            if ((i == 0 && ulen == 1 && s[0] == 'B') ||
                (i > 0 && ((ulen == 2 && s[0] == units[i][0] && s[1] == 'B') ||
                           (ulen == 3 && s[0] == units[i][0] && s[1] == 'i' && s[2] == 'B'))))
                mul = m;
        }
        if (!mul)
            return -EINVAL;
        total += v * mul;
        s += ulen;
    }
    if (total >= 9.2e18)
        return -EINVAL;
    *out = (uint64_t)total;
    return 0;
}

static bool set_size_limit(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (parse_size(a->s, &opts(def)->body_size_limit) < 0) {
        tp_cfg_err(c, &a->v->at, "bad body_size_limit %s: expected a size like 512B, 64KB or "
                                 "10MiB (KB and KiB are both 1024 bytes), or 0 for none",
                   tp_qs(&q, a->s));
        return false;
    }
    return true;
}

/* ---- credentials ---- */

#define AUTH_ONE "cannot both be set: at most one of basic_auth, authorization, bearer_token " \
                 "and bearer_token_file"

static const char *const basic_keys[] = {"username", "password", "password_file"};

static bool basic_item(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                       const struct tp_val *v, void *arg)
{
    struct tp_http_opts *o = arg;
    const char *s;
    char *path;

    if (k == 2) {
        if (!tp_cfg_file(c, "basic_auth.password_file", v, &path))
            return false;
        free(o->password_file);
        o->password_file = path;
        return true;
    }
    /* a secret is never quoted back in a message */
    if (!(s = tp_val_str(c, k ? "basic_auth.password" : "basic_auth.username", v, "a string")))
        return false;
    return replace(c, k ? &o->password : &o->user, s);
}

static bool set_basic(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);

    if (!exclusive(c, def, a->v, HTTPW_BASIC, HTTPW_BEARER | HTTPW_BEARER_FILE | HTTPW_AUTHZ,
                   AUTH_ONE))
        return false;
    o->basic_auth = true;
    if (!tp_cfg_inner_map(c, "basic_auth", a->v, basic_keys, 3, basic_item, o))
        return false;
    if (o->password && o->password_file) {
        tp_cfg_err(c, &a->v->at, "basic_auth has both password and password_file: write one");
        return false;
    }
    return true;
}

static void free_basic(struct tp_def *def)
{
    struct tp_http_opts *o = opts(def);

    drop(&o->user);
    drop(&o->password);
    drop(&o->password_file);
    o->basic_auth = false;
}

/* bearer holds the whole header value ("Bearer TOKEN", or authorization's
 * "TYPE CREDENTIALS"); bearer_file a file whose trimmed content follows
 * "Bearer " at every probe. */
static bool set_bearer(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    char *v;

    if (!exclusive(c, def, a->v, HTTPW_BEARER, HTTPW_BASIC | HTTPW_BEARER_FILE | HTTPW_AUTHZ,
                   AUTH_ONE))
        return false;
    if (asprintf(&v, "Bearer %s", a->s) < 0) {
        tp_cfg_oom(c);
        return false;
    }
    drop(&opts(def)->bearer);
    opts(def)->bearer = v;
    return true;
}

static bool set_bearer_file(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    if (!exclusive(c, def, a->v, HTTPW_BEARER_FILE, HTTPW_BASIC | HTTPW_BEARER | HTTPW_AUTHZ,
                   AUTH_ONE)) {
        free(a->path);
        return false;
    }
    drop(&opts(def)->bearer_file);
    opts(def)->bearer_file = a->path;
    return true;
}

/* authorization: {type, credentials, credentials_file}, Prometheus'
 * general form of bearer_token: "Authorization: TYPE CREDENTIALS". */
static const char *const authz_keys[] = {"type", "credentials", "credentials_file"};

struct authz {
    struct tp_http_opts *o;
    char *type;
};

static bool authz_item(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                       const struct tp_val *v, void *arg)
{
    struct authz *z = arg;
    const char *s;
    char *path;

    if (k == 2) {
        if (!tp_cfg_file(c, "authorization.credentials_file", v, &path))
            return false;
        free(z->o->bearer_file);
        z->o->bearer_file = path;
        return true;
    }
    if (!(s = tp_val_str(c, k ? "authorization.credentials" : "authorization.type", v,
                         "a string")))
        return false;
    return replace(c, k ? &z->o->bearer : &z->type, s);
}

static bool set_authz(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct authz z = {opts(def), NULL};
    struct tp_http_opts *o = opts(def);
    const char *type;
    char *v;
    bool ok;

    if (!exclusive(c, def, a->v, HTTPW_AUTHZ, HTTPW_BASIC | HTTPW_BEARER | HTTPW_BEARER_FILE,
                   AUTH_ONE))
        return false;
    ok = tp_cfg_inner_map(c, "authorization", a->v, authz_keys, 3, authz_item, &z);
    type = z.type && z.type[0] ? z.type : "Bearer";
    if (ok && o->bearer && o->bearer_file) {
        tp_cfg_err(c, &a->v->at, "authorization has both credentials and credentials_file: "
                                 "write one");
        ok = false;
    } else if (ok && !strcasecmp(type, "basic")) {
        tp_cfg_err(c, &a->v->at, "authorization type cannot be basic: use basic_auth");
        ok = false;
    } else if (ok && !tp_is_token(type)) {
        tp_cfg_err(c, &a->v->at, "bad authorization type: expected a word like Bearer");
        ok = false;
    } else if (ok && o->bearer_file && strcmp(type, "Bearer")) {
        tp_cfg_err(c, &a->v->at, "authorization: twkit reads a credentials_file for type "
                                 "Bearer only");
        ok = false;
    } else if (ok && o->bearer) {
        if (asprintf(&v, "%s %s", type, o->bearer) < 0) {
            tp_cfg_oom(c);
            ok = false;
        } else {
            free(o->bearer);
            o->bearer = v;
        }
    }
    free(z.type);
    return ok;
}

static void free_bearer(struct tp_def *def)
{
    drop(&opts(def)->bearer);
    drop(&opts(def)->bearer_file);
}

/* ---- the table ---- */

#define BB .blackbox = true

const struct tp_key tp_http_keys[TP_HTTP_NKEYS] = {
    {.name = "method", .type = TP_T_STR, .what = "an HTTP method like GET", BB,
     .validate = check_method, .apply = set_method, .absent = default_method,
     .free = free_method},
    {.name = "expect_status", .type = TP_T_LIST,
     .what = "a status like 200 or a range like 200-299",
     .list_what = "a list of statuses and ranges", .validate = check_status,
     .apply = add_status, .absent = default_status, .free = free_status},
    {.name = "valid_status_codes", .type = TP_T_LIST, .what = "a status code like 200",
     .list_what = "a list of status codes", BB, .validate = check_code, .apply = add_code},
    {.name = "headers", .type = TP_T_MAP, .what = "header", .fold = true, BB,
     .validate = check_header, .apply = add_header_key, .free = free_headers},
    {.name = "body", .type = TP_T_VALUE, BB, .validate = check_body, .apply = set_body,
     .free = free_body},
    {.name = "expect_body", .type = TP_T_REGEX, .apply = tp_http_set_expect_body,
     .free = tp_http_free_expect_body},
    {.name = "max_redirects", .type = TP_T_UINT, .lo = 0, .hi = 20, .apply = set_redirects,
     .absent = default_redirects},
    {.name = "follow_redirects", .type = TP_T_BOOL, BB, .apply = set_follow,
     .absent = default_follow},
    {.name = "no_follow_redirects", .type = TP_T_BOOL, BB, .apply = set_no_follow},
    {.name = "fail_if_ssl", .type = TP_T_BOOL, BB, .apply = set_fail_if_ssl},
    {.name = "fail_if_not_ssl", .type = TP_T_BOOL, BB, .apply = set_fail_if_not_ssl},
    {.name = "fail_if_body_matches_regexp", .type = TP_T_LIST, .what = "a regular expression",
     .list_what = "a list of regular expressions", BB, .apply = tp_http_add_body_bad,
     .free = tp_http_free_body_bad},
    {.name = "fail_if_body_not_matches_regexp", .type = TP_T_LIST,
     .what = "a regular expression", .list_what = "a list of regular expressions", BB,
     .apply = tp_http_add_body_good, .free = tp_http_free_body_good},
    {.name = "fail_if_header_matches", .type = TP_T_VALUE, BB, .apply = tp_http_set_hdr_bad,
     .free = tp_http_free_hdr_bad},
    {.name = "fail_if_header_not_matches", .type = TP_T_VALUE, BB, .apply = tp_http_set_hdr_good,
     .free = tp_http_free_hdr_good},
    {.name = "fail_if_body_json_not_matches", .type = TP_T_VALUE, .apply = tp_http_set_json,
     .free = tp_http_free_json},
    {.name = "valid_http_versions", .type = TP_T_LIST, .what = "an HTTP version like HTTP/1.1",
     .list_what = "a list of HTTP versions", BB, .validate = check_version,
     .apply = add_version},
    {.name = "enable_http2", .type = TP_T_BOOL, BB, .apply = set_http2,
     .absent = default_http2},
    {.name = "compression", .type = TP_T_STR, .what = "gzip, br, deflate or identity", BB,
     .apply = set_compression},
    {.name = "body_size_limit", .type = TP_T_STR, .what = "a size like 10MB", BB,
     .apply = set_size_limit},
    {.name = "proxy_url", .type = TP_T_STR, .what = "a URL", BB, .apply = tp_http_set_proxy,
     .absent = tp_http_no_proxy_url, .free = tp_http_free_proxy},
    {.name = "no_proxy", .type = TP_T_STR, .what = "a string of hosts separated by commas", BB,
     .apply = tp_http_set_no_proxy, .free = tp_http_free_no_proxy},
    {.name = "proxy_from_environment", .type = TP_T_BOOL, BB, .apply = tp_http_set_proxy_env},
    {.name = "proxy_connect_header", .type = TP_T_MAP, .what = "header",
     .fold = true, BB, .apply = tp_http_add_proxy_hdr, .free = tp_http_free_proxy_hdrs},
    {.name = "skip_resolve_phase_with_proxy", .type = TP_T_BOOL, BB,
     .apply = tp_http_set_skip_resolve},
    {.name = "basic_auth", .type = TP_T_VALUE, BB, .apply = set_basic, .free = free_basic},
    {.name = "bearer_token", .type = TP_T_STR, .what = "a string", BB, .apply = set_bearer,
     .free = free_bearer},
    {.name = "bearer_token_file", .type = TP_T_PATH, BB, .apply = set_bearer_file},
    {.name = "authorization", .type = TP_T_VALUE, BB, .apply = set_authz},
};

/* An http:// or https:// URL; the port defaults to 80 or 443. */
int tp_http_parse_target(const char *target, struct tp_endpoint *ep, const char **why)
{
    return tp_url_parse(target, ep, why);
}
