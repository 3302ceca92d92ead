/* twkit probe: the config keys every kind shares (config.h), finding a
 * key, sets of strings, and definitions; what a value of each type is lives
 * in config_values.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include "probe/config.h"
#include "probe/ipproto.h"
#include "probe/notify.h"
#include "twkit/time.h"

/* ---- the common keys ---- */

static bool set_interval(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->interval_ms = a->ms;
    return true;
}

static bool set_timeout(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->timeout_ms = a->ms;
    return true;
}

static bool set_success(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->success_threshold = a->u;
    return true;
}

static bool set_failure(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->failure_threshold = a->u;
    return true;
}

static const char *const reserved_labels[] = {"name", "kind", "target", "phase", "errno"};

const char *tp_label_name_problem(const char *name, size_t len)
{
    bool ok = len > 0 && (tp_is_alpha(name[0]) || name[0] == '_');

    for (size_t i = 0; ok && i < len; i++)
        ok = tp_is_alnum(name[i]) || name[i] == '_';
    if (!ok)
        return "expected letters, digits and _, not starting with a digit";
    if (len >= 2 && !strncmp(name, "__", 2))
        return "names starting with __ are reserved";
    for (size_t i = 0; i < sizeof(reserved_labels) / sizeof(reserved_labels[0]); i++)
        if (strlen(reserved_labels[i]) == len && !memcmp(name, reserved_labels[i], len))
            return "reserved (twkit sets name, kind, target, phase and errno itself)";
    return NULL;
}

static bool check_label(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;
    const char *name = a->name->s;
    const char *why = tp_label_name_problem(name, a->name->len);
    char what[120];

    if (why) {
        tp_cfg_err(c, &a->name->at, "bad label name %s: %s", tp_quote(&q, name, a->name->len),
                   why);
        return false;
    }
    if (a->v->shape == TP_V_NULL) {
        tp_cfg_err(c, &a->v->at, "label %s has no value", tp_qs(&q, name));
        return false;
    }
    snprintf(what, sizeof(what), "label %s", tp_qs(&q, name));
    return tp_val_str(c, what, a->v, "a string") != NULL;
}

static bool add_label(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return tp_set_kv(c, &def->labels, &def->nlabels, a->name->s, a->v->s);
}

static bool check_close(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    if (strcmp(a->s, "reset") && strcmp(a->s, "graceful")) {
        tp_cfg_err(c, &a->v->at, "bad close %s: expected reset or graceful", tp_qs(&q, a->s));
        return false;
    }
    return true;
}

static bool set_close(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->graceful = !strcmp(a->s, "graceful");
    return true;
}

static void free_close(struct tp_def *def) { def->graceful = false; }

/* twkit's spelling and blackbox's (tls_config:) of one setting, both
 * written in one probe (or both in defaults): which is meant is anyone's
 * guess, so neither is taken. */
static bool tls_twice(struct tp_cfgctx *c, struct tp_def *def, const struct tp_val *at,
                      unsigned mine, unsigned other, const char *a, const char *b)
{
    def->tls_written |= mine;
    if (!(def->tls_written & other))
        return true;
    tp_cfg_err(c, &at->at, "%s and %s set the same thing: write one of them", a, b);
    return false;
}

static bool set_tls_verify(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->tls_verify = a->b;
    return tls_twice(c, def, a->v, TP_TLSW_VERIFY, TP_TLSW_CFG_VERIFY, "tls_verify",
                     "tls_config.insecure_skip_verify");
}

/* Replaces a value from defaults. */
static bool set_ca_file(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    free(def->ca_file);
    def->ca_file = a->path;
    return tls_twice(c, def, a->v, TP_TLSW_CA, TP_TLSW_CFG_CA, "ca_file", "tls_config.ca_file");
}

/* tls_config: blackbox_exporter's TLS settings (Prometheus' common
 * tls_config), into the same fields as twkit's own keys. */
static const char *const tls_config_keys[] = {"insecure_skip_verify", "ca_file", "cert_file",
                                              "key_file", "server_name", "min_version"};
enum { TC_INSECURE, TC_CA, TC_CERT, TC_KEY, TC_NAME, TC_MIN };

static const struct {
    const char *name;
    int version; /* OpenSSL's TLS1_x_VERSION */
} tls_versions[] = {{"TLS10", 0x0301}, {"TLS11", 0x0302}, {"TLS12", 0x0303}, {"TLS13", 0x0304}};

/* A DNS name's characters (the URL parser and curl judge the rest), or
 * an address. */
static bool name_or_address(const char *s)
{
    unsigned char buf[16];
    size_t n = strlen(s);
    bool ok = n > 0 && n <= 253 && s[0] != '.' && s[0] != '-';

    for (const char *p = s; ok && *p; p++)
        ok = tp_is_alnum(*p) || *p == '-' || *p == '.' || *p == '_';
    return ok || inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void replace_str(char **slot, char *s)
{
    free(*slot);
    *slot = s;
}

static bool tls_config_item(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                            const struct tp_val *v, void *arg)
{
    struct tp_def *def = arg;
    struct tp_quoted q;
    char key[64];
    const char *s;
    char *path;
    bool b;

    snprintf(key, sizeof(key), "tls_config.%s", tls_config_keys[k]);
    switch (k) {
    case TC_INSECURE:
        if (!tp_cfg_bool(c, key, v, &b))
            return false;
        def->tls_verify = !b;
        return tls_twice(c, def, name, TP_TLSW_CFG_VERIFY, TP_TLSW_VERIFY, "tls_verify", key);
    case TC_CA:
    case TC_CERT:
    case TC_KEY:
        if (!tp_cfg_file(c, key, v, &path))
            return false;
        replace_str(k == TC_CA ? &def->ca_file : k == TC_CERT ? &def->cert_file : &def->key_file,
                    path);
        return k != TC_CA ||
               tls_twice(c, def, name, TP_TLSW_CFG_CA, TP_TLSW_CA, "ca_file", key);
    case TC_NAME:
        if (!(s = tp_val_str(c, key, v, "a DNS name or an address")))
            return false;
        if (!name_or_address(s)) {
            tp_cfg_err(c, &v->at, "bad %s %s: expected a DNS name or an address", key,
                       tp_qs(&q, s));
            return false;
        }
        if (!(path = tp_cfg_dup(c, s)))
            return false;
        replace_str(&def->tls_server_name, path);
        return tls_twice(c, def, name, TP_TLSW_CFG_NAME, TP_TLSW_NAME, "server_name", key);
    case TC_MIN:
        if (!(s = tp_val_str(c, key, v, "TLS10, TLS11, TLS12 or TLS13")))
            return false;
        for (size_t i = 0; i < sizeof(tls_versions) / sizeof(tls_versions[0]); i++)
            if (!strcmp(s, tls_versions[i].name)) {
                def->tls_min_version = tls_versions[i].version;
                return true;
            }
        tp_cfg_err(c, &v->at, "bad %s %s: expected TLS10, TLS11, TLS12 or TLS13", key,
                   tp_qs(&q, s));
        return false;
    }
    return false;
}

static bool set_tls_config(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    size_t n = sizeof(tls_config_keys) / sizeof(tls_config_keys[0]);

    if (!tp_cfg_inner_map(c, "tls_config", a->v, tls_config_keys, n, tls_config_item, def))
        return false;
    /* a certificate without its key (or the reverse) cannot be used */
    if (!def->cert_file != !def->key_file) {
        tp_cfg_err(c, &a->v->at, "tls_config has %s without %s",
                   def->cert_file ? "cert_file" : "key_file",
                   def->cert_file ? "key_file" : "cert_file");
        return false;
    }
    return true;
}

static void free_tls_config(struct tp_def *def)
{
    replace_str(&def->cert_file, NULL);
    replace_str(&def->key_file, NULL);
    replace_str(&def->tls_server_name, NULL);
    def->tls_min_version = 0;
}

static bool set_resumption(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->tls_resumption = a->b;
    return true;
}

static bool set_full_every(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->tls_full_every_ms = a->ms;
    return true;
}

static void free_ca_file(struct tp_def *def)
{
    free(def->ca_file);
    def->ca_file = NULL;
}

const struct tp_key tp_common_keys[TP_NCOMMON] = {
    [TP_K_NAME] = {"name", TP_T_LOADER},
    [TP_K_KIND] = {"kind", TP_T_LOADER},
    [TP_K_TARGET] = {"target", TP_T_LOADER},
    [TP_K_TARGETS_FILE] = {"targets_file", TP_T_LOADER},
    [TP_K_INTERVAL] = {"interval", TP_T_DURATION, .lo = 10, .in_defaults = true,
                       .apply = set_interval},
    [TP_K_TIMEOUT] = {"timeout", TP_T_DURATION, .lo = 1, .in_defaults = true,
                      .apply = set_timeout},
    [TP_K_SUCCESS] = {"success_threshold", TP_T_UINT, .lo = 1, .hi = 1000, .in_defaults = true,
                      .apply = set_success},
    [TP_K_FAILURE] = {"failure_threshold", TP_T_UINT, .lo = 1, .hi = 1000, .in_defaults = true,
                      .apply = set_failure},
    [TP_K_LABELS] = {"labels", TP_T_MAP, "label", .in_defaults = true,
                     .validate = check_label, .apply = add_label},
    [TP_K_CLOSE] = {"close", TP_T_STR, "reset or graceful", .in_defaults = true,
                    .group = TP_KEYS_CONN, .validate = check_close, .apply = set_close,
                    .free = free_close},
    [TP_K_TLS_VERIFY] = {"tls_verify", TP_T_BOOL, .in_defaults = true, .group = TP_KEYS_TLS,
                         .apply = set_tls_verify},
    [TP_K_CA_FILE] = {"ca_file", TP_T_PATH, .in_defaults = true, .group = TP_KEYS_TLS,
                      .apply = set_ca_file, .free = free_ca_file},
    /* the address family and source (ipproto.c) */
    [TP_K_IP_PROTOCOL] = {"preferred_ip_protocol", TP_T_STR, "ip4 or ip6", .in_defaults = true,
                          .blackbox = true, .validate = tp_key_check_ip_protocol,
                          .apply = tp_key_set_ip_protocol},
    [TP_K_IP_FALLBACK] = {"ip_protocol_fallback", TP_T_BOOL, .in_defaults = true,
                          .blackbox = true, .apply = tp_key_set_ip_fallback},
    [TP_K_SOURCE_IP] = {"source_ip_address", TP_T_STR, "an IPv4 or IPv6 address",
                        .in_defaults = true, .blackbox = true,
                        .validate = tp_key_check_source_ip, .apply = tp_key_set_source_ip},
    [TP_K_TLS_CONFIG] = {"tls_config", TP_T_VALUE, .in_defaults = true, .group = TP_KEYS_TLS,
                         .blackbox = true, .apply = set_tls_config, .free = free_tls_config},
    /* the channels of notify: its state changes go to (notify_cfg.c) */
    [TP_K_NOTIFY] = {"notify", TP_T_VALUE, .in_defaults = true, .apply = tp_notify_key_apply,
                     .free = tp_notify_sel_free},
    /* resuming TLS sessions (kind_tls.c, kind_http_resume.c) */
    [TP_K_TLS_RESUMPTION] = {"tls_resumption", TP_T_BOOL, .in_defaults = true,
                             .group = TP_KEYS_RESUME, .apply = set_resumption},
    [TP_K_TLS_FULL_EVERY] = {"tls_full_handshake_every", TP_T_DURATION, .lo = 1,
                             .in_defaults = true, .group = TP_KEYS_RESUME,
                             .apply = set_full_every},
};

bool tp_kind_takes(const struct tp_kind *kind, const struct tp_key *key)
{
    for (size_t i = 0; i < TP_NCOMMON; i++)
        if (key == &tp_common_keys[i])
            return !key->group || (kind->common & key->group);
    for (size_t i = 0; i < kind->nkeys; i++)
        if (key == &kind->keys[i])
            return true;
    return false;
}

/* ---- finding keys ---- */

static bool key_named(const struct tp_key *k, const char *s) { return !strcmp(k->name, s); }

const struct tp_key *tp_key_find(const char *s, const struct tp_kind *kind,
                                 const struct tp_kind **owner)
{
    *owner = NULL;
    for (size_t i = 0; i < TP_NCOMMON; i++)
        if (key_named(&tp_common_keys[i], s))
            return &tp_common_keys[i];
    for (size_t i = 0; kind && i < kind->nkeys; i++)
        if (key_named(&kind->keys[i], s)) {
            *owner = kind;
            return &kind->keys[i];
        }
    for (size_t j = 0; j < tp_nkinds; j++)
        for (size_t i = 0; i < tp_kinds[j]->nkeys; i++)
            if (key_named(&tp_kinds[j]->keys[i], s)) {
                *owner = tp_kinds[j];
                return &tp_kinds[j]->keys[i];
            }
    return NULL;
}

bool tp_kind_takes_named(const struct tp_kind *kind, const void *name)
{
    const struct tp_kind *owner;
    const struct tp_key *k = tp_key_find(name, kind, &owner);

    return k && tp_kind_takes(kind, k);
}

size_t tp_key_names(bool only_defaults, const char **cands, char *buf, size_t len)
{
    size_t n = 0, used = 0;

    for (size_t j = 0; j <= tp_nkinds; j++) {
        const struct tp_key *keys = j ? tp_kinds[j - 1]->keys : tp_common_keys;
        size_t nkeys = j ? tp_kinds[j - 1]->nkeys : TP_NCOMMON;

        for (size_t i = 0; i < nkeys; i++) {
            if (only_defaults && !keys[i].in_defaults)
                continue;
            if (cands)
                cands[n] = keys[i].name;
            else if (used < len)
                used += (size_t)snprintf(buf + used, len - used, "%s%s", n ? ", " : "",
                                         keys[i].name);
            n++;
        }
    }
    return n;
}

/* ---- sets of strings ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int tp_strset_add(struct tp_strset *ss, const char *s, unsigned long line, unsigned long *first)
{
    if ((ss->n + 1) * 2 > ss->cap) {
        size_t ncap = ss->cap ? ss->cap * 2 : 64;
        struct tp_strent *nt = calloc(ncap, sizeof(*nt));
        if (!nt)
            return -ENOMEM;
        for (size_t i = 0; i < ss->cap; i++) {
            if (!ss->t[i].s)
                continue;
            size_t j = hash_str(ss->t[i].s) & (ncap - 1);
            while (nt[j].s)
                j = (j + 1) & (ncap - 1);
            nt[j] = ss->t[i];
        }
        free(ss->t);
        ss->t = nt;
        ss->cap = ncap;
    }
    size_t j = hash_str(s) & (ss->cap - 1);
    for (; ss->t[j].s; j = (j + 1) & (ss->cap - 1)) {
        if (!strcmp(ss->t[j].s, s)) {
            *first = ss->t[j].line;
            return 0;
        }
    }
    ss->t[j].s = s;
    ss->t[j].line = line;
    ss->n++;
    return 1;
}

void tp_strset_free(struct tp_strset *ss)
{
    free(ss->t);
    memset(ss, 0, sizeof(*ss));
}

/* ---- definitions ---- */

bool tp_def_inherit(struct tp_cfgctx *c, struct tp_def *def, const struct tp_def *d)
{
    def->interval_ms = d->interval_ms;
    def->timeout_ms = d->timeout_ms;
    def->success_threshold = d->success_threshold;
    def->failure_threshold = d->failure_threshold;
    def->graceful = d->graceful;
    def->tls_verify = d->tls_verify;
    def->ip_prefer = d->ip_prefer;
    def->ip_no_fallback = d->ip_no_fallback;
    def->source = d->source;
    for (size_t i = 0; i < d->nlabels; i++)
        if (!tp_set_kv(c, &def->labels, &def->nlabels, d->labels[i].key, d->labels[i].value))
            return false;
    def->tls_min_version = d->tls_min_version;
    def->tls_resumption = d->tls_resumption;
    def->tls_full_every_ms = d->tls_full_every_ms;
    if (d->ca_file && !(def->ca_file = tp_cfg_dup(c, d->ca_file)))
        return false;
    if (d->cert_file && !(def->cert_file = tp_cfg_dup(c, d->cert_file)))
        return false;
    if (d->key_file && !(def->key_file = tp_cfg_dup(c, d->key_file)))
        return false;
    if (d->tls_server_name && !(def->tls_server_name = tp_cfg_dup(c, d->tls_server_name)))
        return false;
    return tp_notify_sel_inherit(c, def, d);
}

void tp_def_free(struct tp_def *def)
{
    free(def->name);
    for (size_t i = 0; i < def->ntargets; i++) {
        free(def->targets[i]);
        if (def->tlabels)
            tp_free_kv(&def->tlabels[i].kv, &def->tlabels[i].n);
    }
    free(def->targets);
    free(def->tlabels);
    free(def->targets_path);
    tp_free_kv(&def->labels, &def->nlabels);
    free(def->ca_file);
    free_tls_config(def);
    tp_notify_sel_free(def);
    if (def->opts) {
        for (size_t i = 0; i < def->kind->nkeys; i++)
            if (def->kind->keys[i].free)
                def->kind->keys[i].free(def);
        free(def->opts);
    }
    memset(def, 0, sizeof(*def));
}

void tp_config_free(struct tp_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ndefs; i++)
        tp_def_free(&cfg->defs[i]);
    free(cfg->defs);
    free(cfg->path);
    tp_notify_cfg_unref(cfg->notify);
    tp_history_free(&cfg->history);
    memset(cfg, 0, sizeof(*cfg));
}
