/* twkit probe: the `notify:` and `health:` sections of the config, and the
 * probes' `notify: [...]` (notify.h; docs/PROBE.md, "Notifications").
 *
 * Every channel is a mapping judged by the rows of chan_keys through the
 * front end's nested values (tp_cfg_inner), so the messages point at the
 * line and column as everywhere else. Keys that belong to other kinds of
 * channel are refused once the whole mapping is read (kind may come last).
 * Secrets (url, token, password) come from the config, a file (*_file) or
 * the environment (*_env), one of the three; no message ever quotes one.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "probe/config.h"
#include "probe/notify.h"

/* ---- sharing ---- */

const struct tp_notify_cfg *tp_notify_cfg_ref(const struct tp_notify_cfg *n)
{
    atomic_fetch_add(&((struct tp_notify_cfg *)n)->refs, 1);
    return n;
}

static void chan_free(struct tp_chan *ch)
{
    free(ch->name);
    free(ch->url);
    free(ch->token);
    free(ch->chat_id);
    free(ch->api_url);
    free(ch->from);
    for (size_t i = 0; i < ch->nto; i++)
        free(ch->to[i]);
    free(ch->to);
    free(ch->username);
    free(ch->password);
    tp_free_kv(&ch->headers, &ch->nheaders);
    tp_free_kv(&ch->labels, &ch->nlabels);
    free(ch->ca_file);
    free(ch->proxy_url);
}

void tp_notify_cfg_unref(const struct tp_notify_cfg *cn)
{
    struct tp_notify_cfg *n = (struct tp_notify_cfg *)cn;

    if (!n || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    for (size_t i = 0; i < n->nchans; i++)
        chan_free(&n->chans[i]);
    free(n->chans);
    free(n->health.chans);
    free(n);
}

const struct tp_chan *tp_notify_chan(const struct tp_notify_cfg *n, const char *name)
{
    for (size_t i = 0; n && i < n->nchans; i++)
        if (n->chans[i].name && !strcmp(n->chans[i].name, name))
            return &n->chans[i];
    return NULL;
}

/* ---- a channel's keys ---- */

enum {
    K_NAME, K_KIND, K_URL, K_URL_FILE, K_URL_ENV, K_TOKEN, K_TOKEN_FILE, K_TOKEN_ENV,
    K_CHAT_ID, K_API_URL, K_FROM, K_TO, K_USERNAME, K_PASSWORD, K_PASSWORD_FILE,
    K_PASSWORD_ENV, K_STARTTLS, K_HEADERS, K_LABELS, K_RESOLVE_TIMEOUT, K_MIN_INTERVAL,
    K_RETRIES, K_BACKOFF, K_BACKOFF_MAX, K_JITTER, K_TIMEOUT, K_TLS_VERIFY, K_CA_FILE,
    K_PROXY_URL, NKEYS
};

/* group: the TP_CK_* bit of the kinds that take it (0: every kind). */
static const struct tp_key chan_keys[NKEYS] = {
    [K_NAME] = {"name", TP_T_STR, "a string"},
    [K_KIND] = {"kind", TP_T_STR, "a channel kind"},
    [K_URL] = {"url", TP_T_STR, "a URL", .group = TP_CK_URL},
    [K_URL_FILE] = {"url_file", TP_T_PATH, .group = TP_CK_URL},
    [K_URL_ENV] = {"url_env", TP_T_STR, "an environment variable's name", .group = TP_CK_URL},
    [K_TOKEN] = {"token", TP_T_STR, "a string", .group = TP_CK_TG},
    [K_TOKEN_FILE] = {"token_file", TP_T_PATH, .group = TP_CK_TG},
    [K_TOKEN_ENV] = {"token_env", TP_T_STR, "an environment variable's name",
                     .group = TP_CK_TG},
    [K_CHAT_ID] = {"chat_id", TP_T_STR, "a chat id", .group = TP_CK_TG},
    [K_API_URL] = {"api_url", TP_T_STR, "a URL", .group = TP_CK_TG},
    [K_FROM] = {"from", TP_T_STR, "an email address", .group = TP_CK_MAIL},
    [K_TO] = {"to", TP_T_VALUE, .group = TP_CK_MAIL},
    [K_USERNAME] = {"username", TP_T_STR, "a string", .group = TP_CK_MAIL},
    [K_PASSWORD] = {"password", TP_T_STR, "a string", .group = TP_CK_MAIL},
    [K_PASSWORD_FILE] = {"password_file", TP_T_PATH, .group = TP_CK_MAIL},
    [K_PASSWORD_ENV] = {"password_env", TP_T_STR, "an environment variable's name",
                        .group = TP_CK_MAIL},
    [K_STARTTLS] = {"starttls", TP_T_STR, "always or try", .group = TP_CK_MAIL},
    [K_HEADERS] = {"headers", TP_T_VALUE, .group = TP_CK_HEADERS},
    [K_LABELS] = {"labels", TP_T_VALUE, .group = TP_CK_AM},
    [K_RESOLVE_TIMEOUT] = {"resolve_timeout", TP_T_DURATION, .lo = 2000, .group = TP_CK_AM},
    [K_MIN_INTERVAL] = {"min_interval", TP_T_DURATION, .lo = 0},
    [K_RETRIES] = {"retries", TP_T_UINT, .lo = 0, .hi = 100},
    [K_BACKOFF] = {"backoff", TP_T_DURATION, .lo = 10},
    [K_BACKOFF_MAX] = {"backoff_max", TP_T_DURATION, .lo = 10},
    [K_JITTER] = {"jitter", TP_T_STR, "a fraction from 0 to 1 (0.2) or a percentage (20%)"},
    [K_TIMEOUT] = {"timeout", TP_T_DURATION, .lo = 100},
    [K_TLS_VERIFY] = {"tls_verify", TP_T_BOOL},
    [K_CA_FILE] = {"ca_file", TP_T_PATH},
    [K_PROXY_URL] = {"proxy_url", TP_T_STR, "a URL"},
};

/* One channel as it is read. */
struct chan_load {
    struct tp_chan *ch;
    struct tp_pos at[NKEYS];   /* where each key's name was written */
    struct tp_pos name_at;     /* name's value */
    bool written[NKEYS], bad;
    char *secret_file[3];      /* url_file, token_file, password_file: paths */
    const char *secret_env[3];
};

static char *dup_or_oom(struct tp_cfgctx *c, const char *s) { return tp_cfg_dup(c, s); }

static bool name_ok(const char *s)
{
    bool good = *s != '\0';

    for (const char *p = s; *p && good; p++)
        good = tp_is_alnum(*p) || strchr("_.:-", *p);
    return good;
}

/* Prometheus' and Alertmanager's rule for label names. */
static const char *label_problem(const char *s)
{
    bool ok = tp_is_alpha(s[0]) || s[0] == '_';

    for (const char *p = s; ok && *p; p++)
        ok = tp_is_alnum(*p) || *p == '_';
    if (!ok)
        return "expected letters, digits and _, not starting with a digit";
    return !strncmp(s, "__", 2) ? "names starting with __ are reserved" : NULL;
}

/* A list of strings, or one string alone, each given to each. */
static bool str_items(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                      const char *what, bool (*each)(struct tp_cfgctx *c, const char *s,
                                                     const struct tp_val *item, void *arg),
                      void *arg)
{
    size_t n;
    bool ok = true;

    if (v->shape == TP_V_SCALAR || v->shape == TP_V_NULL) {
        const char *s = tp_val_str(c, key, v, what);
        return s && each(c, s, v, arg);
    }
    if (v->shape != TP_V_LIST) {
        tp_cfg_err(c, &v->at, "%s must be a list of %ss, not %s", key, what, tp_val_kind(v));
        return false;
    }
    n = tp_val_nitems(c, v);
    for (size_t i = 0; i < n; i++) {
        struct tp_val item;
        const char *s;
        tp_val_item(c, v, i, NULL, &item);
        if (!(s = tp_val_str(c, key, &item, what)) || !each(c, s, &item, arg))
            ok = false;
    }
    return ok;
}

static bool add_to(struct tp_cfgctx *c, const char *s, const struct tp_val *item, void *arg)
{
    struct tp_chan *ch = arg;
    struct tp_quoted q;
    char **grown;

    if (!strchr(s, '@') || strpbrk(s, " \t\r\n<>,")) {
        tp_cfg_err(c, &item->at, "bad to address %s: expected name@domain", tp_qs(&q, s));
        return false;
    }
    if (!(grown = realloc(ch->to, (ch->nto + 1) * sizeof(*grown)))) {
        tp_cfg_oom(c);
        return false;
    }
    ch->to = grown;
    return (ch->to[ch->nto] = dup_or_oom(c, s)) && ++ch->nto;
}

/* headers: / labels: as name: value pairs. */
static bool pairs(struct tp_cfgctx *c, const char *key, const struct tp_val *v, bool header,
                  struct tp_kv **kv, size_t *n)
{
    static const char *const ours[] = {"alertname", "probe", "kind", "target", "about"};
    size_t items = tp_val_nitems(c, v);
    bool ok = true;

    if (v->shape != TP_V_MAP) {
        tp_cfg_err(c, &v->at, "%s must be a mapping of names to values, not %s", key,
                   v->shape == TP_V_NULL ? "empty" : tp_val_kind(v));
        return false;
    }
    for (size_t i = 0; i < items; i++) {
        struct tp_val name, val;
        struct tp_quoted q;
        const char *s, *why = NULL;
        char what[80];

        tp_val_item(c, v, i, &name, &val);
        if (!(s = tp_val_str(c, key, &name, "a name"))) {
            ok = false;
            continue;
        }
        if (header ? !tp_is_token(s) : (why = label_problem(s)) != NULL) {
            tp_cfg_err(c, &name.at, "bad %s name %s%s%s", header ? "header" : "label",
                       tp_qs(&q, s), why ? ": " : "", why ? why : "");
            ok = false;
            continue;
        }
        for (size_t j = 0; !header && j < sizeof(ours) / sizeof(ours[0]); j++)
            if (!strcmp(s, ours[j])) {
                tp_cfg_err(c, &name.at, "label %s is set by twkit (alertname, probe, kind, "
                                        "target and about are)", tp_qs(&q, s));
                ok = false;
                s = NULL;
                break;
            }
        if (!s)
            continue;
        snprintf(what, sizeof(what), "%s %s", header ? "header" : "label", tp_qs(&q, s));
        const char *value = tp_val_str(c, what, &val, "a string");
        if (!value || (header && strpbrk(value, "\r\n"))) {
            if (value)
                tp_cfg_err(c, &val.at, "%s has a line break", what);
            ok = false;
            continue;
        }
        for (size_t j = 0; j < *n; j++)
            if (header ? !strcasecmp((*kv)[j].key, s) : !strcmp((*kv)[j].key, s)) {
                tp_cfg_err(c, &name.at, "duplicate %s", what);
                ok = false;
                value = NULL;
                break;
            }
        if (value && !tp_set_kv(c, kv, n, s, value))
            ok = false;
    }
    return ok;
}

static bool parse_jitter(const char *s, unsigned *pct)
{
    unsigned long whole = 0, frac = 0, scale = 1;
    const char *p = s;

    if (!tp_is_digit(*p))
        return false;
    for (; tp_is_digit(*p) && whole < 1000; p++)
        whole = whole * 10 + (unsigned long)(*p - '0');
    if (*p == '%' && !p[1]) {
        if (whole > 100)
            return false;
        *pct = (unsigned)whole;
        return true;
    }
    if (*p == '.')
        for (p++; tp_is_digit(*p) && scale < 1000000; p++, scale *= 10)
            frac = frac * 10 + (unsigned long)(*p - '0');
    if (*p || whole > 1 || (whole == 1 && frac))
        return false;
    *pct = (unsigned)((whole * scale + frac) * 100 / scale);
    return true;
}

static bool set_key(struct tp_cfgctx *c, void *obj, const struct tp_key *k, struct tp_arg *a)
{
    struct chan_load *l = obj;
    struct tp_chan *ch = l->ch;
    size_t i = (size_t)(k - chan_keys);
    struct tp_quoted q;

    l->written[i] = true;
    l->at[i] = a->name->at;
    switch (i) {
    case K_NAME:
        l->name_at = a->v->at;
        if (!name_ok(a->s)) {
            tp_cfg_err(c, &a->v->at, "bad channel name %s: use letters, digits and _ . : -",
                       tp_qs(&q, a->s));
            return false;
        }
        return (ch->name = dup_or_oom(c, a->s)) != NULL;
    case K_KIND:
        if (!(ch->kind = tp_chan_kind_find(a->s))) {
            char list[200];
            size_t used = 0;
            for (size_t j = 0; j < tp_nchan_kinds && used < sizeof(list); j++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                         j ? (j + 1 == tp_nchan_kinds ? " or " : ", ") : "",
                                         tp_chan_kinds[j]->name);
            tp_cfg_err(c, &a->v->at, "unknown channel kind %s (expected %s)", tp_qs(&q, a->s),
                       list);
            return false;
        }
        return true;
    case K_URL:
        return (ch->url = dup_or_oom(c, a->s)) != NULL;
    case K_TOKEN:
        return (ch->token = dup_or_oom(c, a->s)) != NULL;
    case K_PASSWORD:
        return (ch->password = dup_or_oom(c, a->s)) != NULL;
    case K_URL_FILE:
    case K_TOKEN_FILE:
    case K_PASSWORD_FILE:
        l->secret_file[i == K_URL_FILE ? 0 : i == K_TOKEN_FILE ? 1 : 2] = a->path;
        return true;
    case K_URL_ENV:
    case K_TOKEN_ENV:
    case K_PASSWORD_ENV:
        l->secret_env[i == K_URL_ENV ? 0 : i == K_TOKEN_ENV ? 1 : 2] = a->s;
        return true;
    case K_CHAT_ID:
        return (ch->chat_id = dup_or_oom(c, a->s)) != NULL;
    case K_API_URL:
        free(ch->api_url);
        return (ch->api_url = dup_or_oom(c, a->s)) != NULL;
    case K_FROM:
        if (!strchr(a->s, '@') || strpbrk(a->s, " \t\r\n<>,")) {
            tp_cfg_err(c, &a->v->at, "bad from address %s: expected name@domain",
                       tp_qs(&q, a->s));
            return false;
        }
        return (ch->from = dup_or_oom(c, a->s)) != NULL;
    case K_TO:
        return str_items(c, "to", a->v, "an email address", add_to, ch);
    case K_USERNAME:
        return (ch->username = dup_or_oom(c, a->s)) != NULL;
    case K_STARTTLS:
        if (strcmp(a->s, "always") && strcmp(a->s, "try")) {
            tp_cfg_err(c, &a->v->at, "bad starttls %s: expected always or try", tp_qs(&q, a->s));
            return false;
        }
        ch->starttls = !strcmp(a->s, "try") ? TP_STARTTLS_TRY : TP_STARTTLS_ALWAYS;
        return true;
    case K_HEADERS:
        return pairs(c, "headers", a->v, true, &ch->headers, &ch->nheaders);
    case K_LABELS:
        return pairs(c, "labels", a->v, false, &ch->labels, &ch->nlabels);
    case K_RESOLVE_TIMEOUT:
        ch->repeat_ms = a->ms / 2 < 300000 ? a->ms / 2 : 300000;
        return true;
    case K_MIN_INTERVAL:
        ch->min_interval_ms = a->ms;
        return true;
    case K_RETRIES:
        ch->retries = a->u;
        return true;
    case K_BACKOFF:
        ch->backoff_ms = a->ms;
        return true;
    case K_BACKOFF_MAX:
        ch->backoff_max_ms = a->ms;
        return true;
    case K_JITTER:
        if (!parse_jitter(a->s, &ch->jitter_pct)) {
            tp_cfg_err(c, &a->v->at, "bad jitter %s: expected a fraction from 0 to 1 (0.2) or "
                                     "a percentage (20%%)", tp_qs(&q, a->s));
            return false;
        }
        return true;
    case K_TIMEOUT:
        ch->timeout_ms = a->ms;
        return true;
    case K_TLS_VERIFY:
        ch->tls_verify = a->b;
        return true;
    case K_CA_FILE:
        free(ch->ca_file);
        ch->ca_file = a->path;
        return true;
    case K_PROXY_URL:
        return (ch->proxy_url = dup_or_oom(c, a->s)) != NULL;
    }
    return false;
}

static bool set_key_tracked(struct tp_cfgctx *c, void *obj, const struct tp_key *k,
                            struct tp_arg *a)
{
    struct chan_load *l = obj;
    bool ok = set_key(c, obj, k, a);

    l->bad |= !ok;
    return ok;
}

/* ---- secrets ---- */

/* A file's contents, the trailing line break and blanks left off. */
static char *read_secret(struct tp_cfgctx *c, const char *path, const char *key,
                         const struct tp_pos *at)
{
    FILE *f = fopen(path, "re");
    char buf[65536];
    size_t n;

    if (!f) {
        tp_cfg_err(c, at, "cannot read %s: %s", key, strerror(errno));
        return NULL;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && strchr(" \t\r\n", buf[n - 1]))
        buf[--n] = '\0';
    if (!n || strlen(buf) != n) {
        tp_cfg_err(c, at, "%s: the file is %s", key, n ? "not text (a NUL byte)" : "empty");
        return NULL;
    }
    return dup_or_oom(c, buf);
}

/* A secret from one of its three keys (name, name_file, name_env) into
 * *slot, or reported; true when none is written (needs decides that). */
static bool secret(struct tp_cfgctx *c, struct chan_load *l, int which, int k_plain,
                   char **slot)
{
    const char *name = chan_keys[k_plain].name;
    int n = l->written[k_plain] + l->written[k_plain + 1] + l->written[k_plain + 2];

    if (n > 1) {
        tp_cfg_err(c, &l->at[l->written[k_plain + 2] ? k_plain + 2 : k_plain + 1],
                   "%s, %s_file and %s_env set the same thing: write one of them", name, name,
                   name);
        return false;
    }
    if (l->secret_file[which]) {
        char key[40];
        snprintf(key, sizeof(key), "%s_file", name);
        return (*slot = read_secret(c, l->secret_file[which], key, &l->at[k_plain + 1])) != NULL;
    }
    if (l->secret_env[which]) {
        const char *v = getenv(l->secret_env[which]);
        struct tp_quoted q;
        if (!v || !*v) {
            tp_cfg_err(c, &l->at[k_plain + 2], "%s_env: the environment variable %s is %s",
                       name, tp_qs(&q, l->secret_env[which]), v ? "empty" : "not set");
            return false;
        }
        return (*slot = dup_or_oom(c, v)) != NULL;
    }
    if (*slot && !**slot) {
        tp_cfg_err(c, &l->at[k_plain], "%s is empty", name);
        return false;
    }
    return true;
}

/* Whether s is a URL curl can parse, with one of the schemes (never
 * quoted in the message: a webhook's URL is its password). */
static bool url_ok(struct tp_cfgctx *c, const struct tp_pos *at, const char *what,
                   const char *s, const char *s1, const char *s2)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL;
    bool ok = false;

    if (!u) {
        tp_cfg_oom(c);
        return false;
    }
    if (curl_url_set(u, CURLUPART_URL, s, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host)
        ok = !strcasecmp(scheme, s1) || !strcasecmp(scheme, s2);
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    if (!ok)
        tp_cfg_err(c, at, "%s is not a %s:// or %s:// URL (not shown: it may hold a secret)",
                   what, s1, s2);
    return ok;
}

/* What the whole mapping must say, once it is read. */
static void chan_settle(struct tp_cfgctx *c, struct chan_load *l, const struct tp_val *m,
                        const struct tp_notify_cfg *n)
{
    struct tp_chan *ch = l->ch;
    const struct tp_chan_kind *kind = ch->kind;
    struct tp_quoted q;
    char who[100];
    bool mail;

    snprintf(who, sizeof(who), "channel %s", ch->name ? tp_qs(&q, ch->name) : "");
    if (!l->written[K_NAME])
        tp_cfg_err(c, &m->at, "a notify channel has no name");
    for (size_t i = 0; ch->name && i < (size_t)(ch - n->chans); i++)
        if (n->chans[i].name && !strcmp(n->chans[i].name, ch->name))
            tp_cfg_err(c, &l->name_at, "duplicate channel name %s (first at line %lu)",
                       tp_qs(&q, ch->name), n->chans[i].line);
    if (!l->written[K_KIND])
        tp_cfg_err(c, &m->at, "%s has no kind", who);
    if (!kind) {
        l->bad = true;
        return;
    }
    for (size_t i = 0; i < NKEYS; i++)
        if (l->written[i] && chan_keys[i].group && !(kind->keys & chan_keys[i].group)) {
            char only[160];
            size_t used = 0;
            for (size_t j = 0, nk = 0; j < tp_nchan_kinds; j++)
                if (tp_chan_kinds[j]->keys & chan_keys[i].group)
                    used += (size_t)snprintf(only + used, sizeof(only) - used, "%s%s",
                                             nk++ ? " and " : "", tp_chan_kinds[j]->name);
            tp_cfg_err(c, &l->at[i], "%s applies to %s channels only", chan_keys[i].name, only);
            l->bad = true;
        }
    if (l->bad)
        return;
    mail = kind->keys & TP_CK_MAIL;
    if (!secret(c, l, 0, K_URL, &ch->url) || !secret(c, l, 1, K_TOKEN, &ch->token) ||
        !secret(c, l, 2, K_PASSWORD, &ch->password)) {
        l->bad = true;
        return;
    }
    if ((kind->keys & TP_CK_URL) && !ch->url)
        tp_cfg_err(c, &m->at, "%s has no url (or url_file, url_env)", who);
    else if (ch->url)
        url_ok(c, &l->at[l->written[K_URL] ? K_URL : l->written[K_URL_FILE] ? K_URL_FILE
                                                                             : K_URL_ENV],
               l->written[K_URL] ? "url" : l->written[K_URL_FILE] ? "url (from url_file)"
                                                                  : "url (from url_env)",
               ch->url, mail ? "smtp" : "http", mail ? "smtps" : "https");
    if (kind->keys & TP_CK_TG) {
        if (!ch->token)
            tp_cfg_err(c, &m->at, "%s has no token (or token_file, token_env)", who);
        else if (strpbrk(ch->token, "/?# \t"))
            tp_cfg_err(c, &l->at[l->written[K_TOKEN] ? K_TOKEN : l->written[K_TOKEN_FILE]
                                                               ? K_TOKEN_FILE
                                                               : K_TOKEN_ENV],
                       "token has characters a bot token never has (not shown)");
        if (!ch->chat_id)
            tp_cfg_err(c, &m->at, "%s has no chat_id", who);
        if (ch->api_url)
            url_ok(c, &l->at[K_API_URL], "api_url", ch->api_url, "http", "https");
        else if (!(ch->api_url = dup_or_oom(c, "https://api.telegram.org")))
            return;
    }
    if (mail && !ch->from)
        tp_cfg_err(c, &m->at, "%s has no from", who);
    if (mail && !ch->nto)
        tp_cfg_err(c, &m->at, "%s has no to", who);
    if (mail && ch->password && !ch->username)
        tp_cfg_err(c, &l->at[l->written[K_PASSWORD] ? K_PASSWORD : l->written[K_PASSWORD_FILE]
                                                                   ? K_PASSWORD_FILE
                                                                   : K_PASSWORD_ENV],
                   "password without username");
    if (ch->backoff_max_ms < ch->backoff_ms)
        tp_cfg_err(c, &l->at[l->written[K_BACKOFF_MAX] ? K_BACKOFF_MAX : K_BACKOFF],
                   "backoff_max is less than backoff");
}

static void load_chan(struct tp_cfgctx *c, const struct tp_val *m, struct tp_notify_cfg *n)
{
    struct tp_chan *ch = &n->chans[n->nchans++];
    struct chan_load l = {.ch = ch};

    /* defaults: docs/PROBE.md, "Notifications" */
    ch->line = m->at.line;
    ch->col = m->at.col;
    ch->timeout_ms = 10000;
    ch->retries = 8;
    ch->backoff_ms = 1000;
    ch->backoff_max_ms = 60000;
    ch->jitter_pct = 20;
    ch->repeat_ms = 150000; /* Alertmanager's resolve_timeout is 5 m */
    ch->tls_verify = true;
    ch->starttls = TP_STARTTLS_ALWAYS;
    if (!tp_cfg_inner(c, m, "notify channel", chan_keys, NKEYS, set_key_tracked, &l))
        l.bad = true;
    chan_settle(c, &l, m, n);
    for (int i = 0; i < 3; i++)
        free(l.secret_file[i]);
}

/* ---- health: ---- */

static const struct tp_key health_keys[] = {
    {"local_errors", TP_T_UINT, .lo = 0, .hi = 10000000},
    {"window", TP_T_DURATION, .lo = 1000},
    {"notify", TP_T_VALUE, .what = NULL},
};

struct health_load {
    struct tp_health_cfg *h;
    struct tp_def names; /* notify:, as a probe's */
};

static bool set_health(struct tp_cfgctx *c, void *obj, const struct tp_key *k, struct tp_arg *a)
{
    struct health_load *l = obj;
    char b[32];

    switch (k - health_keys) {
    case 0:
        l->h->local_errors = a->u;
        return true;
    case 1:
        if (a->ms > 3600000) {
            tp_cfg_err(c, &a->v->at, "bad window %s: at most 1h", tp_fmt_ms(b, sizeof(b), a->ms));
            return false;
        }
        l->h->window_ms = a->ms;
        return true;
    default:
        return tp_notify_key_apply(c, &l->names, a);
    }
}

void tp_notify_load(struct tp_cfgctx *c, const struct tp_val *v, const struct tp_val *h,
                    struct tp_notify_cfg **out)
{
    struct tp_notify_cfg *n;
    size_t items = 0;

    *out = NULL;
    if (!v && !h)
        return;
    if (!(n = calloc(1, sizeof(*n)))) {
        tp_cfg_oom(c);
        return;
    }
    atomic_init(&n->refs, 1);
    n->health.local_errors = 100;
    n->health.window_ms = 60000;
    *out = n;
    if (v && v->shape != TP_V_LIST) {
        tp_cfg_err(c, &v->at, "notify must be a list of channels, not %s",
                   v->shape == TP_V_NULL ? "empty" : tp_val_kind(v));
    } else if (v && (items = tp_val_nitems(c, v)) > TP_NOTIFY_MAX_CHANNELS) {
        tp_cfg_err(c, &v->at, "notify has %zu channels: at most %d", items,
                   TP_NOTIFY_MAX_CHANNELS);
    } else if (v && items && !(n->chans = calloc(items, sizeof(*n->chans)))) {
        tp_cfg_oom(c);
    } else {
        for (size_t i = 0; v && i < items; i++) {
            struct tp_val m;
            tp_val_item(c, v, i, NULL, &m);
            if (m.shape != TP_V_MAP) {
                tp_cfg_err(c, &m.at, "a notify channel must be a mapping of keys, not %s",
                           m.shape == TP_V_NULL ? "empty" : tp_val_kind(&m));
                continue;
            }
            load_chan(c, &m, n);
        }
    }
    if (h) {
        struct health_load l = {.h = &n->health};
        if (tp_cfg_inner(c, h, "health", health_keys, 3, set_health, &l) && l.names.nnotify) {
            /* resolved in tp_notify_resolve, through a definition of its own */
            n->health.chans = calloc(l.names.nnotify, sizeof(*n->health.chans));
            if (!n->health.chans)
                tp_cfg_oom(c);
            struct tp_def *d = &l.names;
            for (size_t i = 0; n->health.chans && i < d->nnotify; i++) {
                const struct tp_chan *ch = tp_notify_chan(n, d->notify[i].name);
                struct tp_quoted q;
                if (!ch)
                    tp_cfg_err_in(c, c->path, d->notify[i].line, d->notify[i].col,
                                  "unknown notify channel %s", tp_qs(&q, d->notify[i].name));
                else
                    n->health.chans[n->health.nchans++] = (unsigned)(ch - n->chans);
            }
        }
        tp_notify_sel_free(&l.names);
    }
}

/* ---- the probes' notify: ---- */

void tp_notify_sel_free(struct tp_def *def)
{
    for (size_t i = 0; i < def->nnotify; i++)
        free(def->notify[i].name);
    free(def->notify);
    def->notify = NULL;
    def->nnotify = 0;
}

static bool add_sel(struct tp_cfgctx *c, const char *s, const struct tp_val *item, void *arg)
{
    struct tp_def *def = arg;
    struct tp_notify_sel *grown;
    struct tp_quoted q;

    for (size_t i = 0; i < def->nnotify; i++)
        if (!strcmp(def->notify[i].name, s)) {
            tp_cfg_err(c, &item->at, "channel %s is in notify twice", tp_qs(&q, s));
            return false;
        }
    if (!(grown = realloc(def->notify, (def->nnotify + 1) * sizeof(*grown)))) {
        tp_cfg_oom(c);
        return false;
    }
    def->notify = grown;
    grown[def->nnotify] = (struct tp_notify_sel){.line = item->at.line, .col = item->at.col,
                                                 .idx = UINT_MAX};
    return (grown[def->nnotify].name = dup_or_oom(c, s)) && ++def->nnotify;
}

bool tp_notify_key_apply(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    tp_notify_sel_free(def); /* a probe's own list replaces the one from defaults */
    if (a->v->shape == TP_V_LIST && tp_val_nitems(c, a->v) == 0)
        return true;         /* notify: []: none */
    return str_items(c, "notify", a->v, "a channel name", add_sel, def);
}

bool tp_notify_sel_inherit(struct tp_cfgctx *c, struct tp_def *def, const struct tp_def *d)
{
    if (!d->nnotify)
        return true;
    if (!(def->notify = calloc(d->nnotify, sizeof(*def->notify)))) {
        tp_cfg_oom(c);
        return false;
    }
    for (size_t i = 0; i < d->nnotify; i++) {
        def->notify[i] = d->notify[i];
        def->notify[i].inherited = true;
        if (!(def->notify[i].name = dup_or_oom(c, d->notify[i].name)))
            return false;
        def->nnotify++;
    }
    return true;
}

static void resolve_one(struct tp_cfgctx *c, const struct tp_notify_cfg *n, struct tp_def *def)
{
    const char *cands[TP_NOTIFY_MAX_CHANNELS];
    size_t nc = n ? n->nchans : 0;

    for (size_t i = 0; i < nc; i++)
        cands[i] = n->chans[i].name ? n->chans[i].name : "";
    for (size_t i = 0; i < def->nnotify; i++) {
        struct tp_notify_sel *s = &def->notify[i];
        const struct tp_chan *ch = tp_notify_chan(n, s->name);
        struct tp_quoted q;
        const char *best;

        if (ch) {
            s->idx = (unsigned)(ch - n->chans);
            continue;
        }
        if (s->inherited)
            continue; /* said at defaults */
        best = tp_cfg_suggest(s->name, cands, nc);
        if (best)
            tp_cfg_err_in(c, c->path, s->line, s->col,
                          "unknown notify channel %s (did you mean %s?)", tp_qs(&q, s->name),
                          best);
        else if (!nc)
            tp_cfg_err_in(c, c->path, s->line, s->col,
                          "unknown notify channel %s (no channels: see the notify section)",
                          tp_qs(&q, s->name));
        else
            tp_cfg_err_in(c, c->path, s->line, s->col, "unknown notify channel %s",
                          tp_qs(&q, s->name));
    }
}

void tp_notify_resolve(struct tp_cfgctx *c, const struct tp_notify_cfg *n,
                       struct tp_def *defaults, struct tp_def *defs, size_t ndefs)
{
    resolve_one(c, n, defaults);
    for (size_t d = 0; d < ndefs; d++)
        resolve_one(c, n, &defs[d]);
}
