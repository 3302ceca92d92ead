/* twkit probe: blackbox_exporter's blackbox.yml as it is written
 * (docs/PROBE.md, "Migrating from blackbox_exporter").
 *
 * The second YAML front end of the key tables (config.h): each module
 * becomes a definition (struct tp_def) with no targets, for /probe to run
 * against the target a scrape names. A module's prober picks the kind; the
 * keys of its prober's section (http:, tcp:) are looked up in the same
 * tables twkit's own YAML uses, and only rows marked .blackbox are taken,
 * so a key means the same in both files.
 *
 * Two kinds of "no". A mistake (bad YAML, a key blackbox does not know
 * either, a bad regex or duration) is an error: the file is refused, as
 * blackbox_exporter refuses it. A module that uses something blackbox has
 * and twkit does not (a prober, an option) is rejected alone, with the
 * reason at its line and column: the other modules run, and a /probe of
 * the rejected one answers 400 with that reason. Nothing is ever ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "probe/blackbox.h"
#include "probe/config.h"
#include "probe/probe.h"
#include "probe/yaml.h"

/* Blackbox 0.23's options (CONFIGURATION.md) by section. One that no key
 * row takes rejects its module: it is real, and twkit lacks it. */
static const char *const bb_http_opts[] = {
    "valid_status_codes", "valid_http_versions", "method", "headers", "body_size_limit",
    "compression", "follow_redirects", "no_follow_redirects", "fail_if_ssl", "fail_if_not_ssl",
    "fail_if_body_matches_regexp", "fail_if_body_not_matches_regexp", "fail_if_header_matches",
    "fail_if_header_not_matches", "tls_config", "basic_auth", "bearer_token",
    "bearer_token_file", "proxy_url", "skip_resolve_phase_with_proxy", "oauth2",
    "enable_http2", "preferred_ip_protocol", "ip_protocol_fallback", "body", "authorization",
    "no_proxy", "proxy_from_environment", "proxy_connect_header", "source_ip_address",
};
static const char *const bb_tcp_opts[] = {
    "preferred_ip_protocol", "ip_protocol_fallback", "source_ip_address", "query_response",
    "tls", "tls_config",
};
static const char *const bb_icmp_opts[] = {
    "preferred_ip_protocol", "ip_protocol_fallback", "source_ip_address", "payload_size",
    "dont_fragment", "ttl",
};

static const char *const bb_dns_opts[] = {
    "preferred_ip_protocol", "ip_protocol_fallback", "dns_over_tls", "tls_config",
    "source_ip_address", "transport_protocol", "query_class", "query_name", "query_type",
    "recursion_desired", "valid_rcodes", "validate_answer_rrs", "validate_authority_rrs",
    "validate_additional_rrs",
};

/* Sections and probers blackbox has: the kinds they map to (NULL: none
 * yet, with why). */
static const struct bb_prober {
    const char *name, *kind, *why;
    const char *const *opts;
    size_t nopts;
} bb_probers[] = {
    {"http", "http", NULL, bb_http_opts, sizeof(bb_http_opts) / sizeof(bb_http_opts[0])},
    {"tcp", "tcp", NULL, bb_tcp_opts, sizeof(bb_tcp_opts) / sizeof(bb_tcp_opts[0])},
    {"dns", "dns", NULL, bb_dns_opts, sizeof(bb_dns_opts) / sizeof(bb_dns_opts[0])},
    {"icmp", "icmp", NULL, bb_icmp_opts, sizeof(bb_icmp_opts) / sizeof(bb_icmp_opts[0])},
    {"grpc", NULL, "the grpc prober is not supported by twkit", NULL, 0},
};
#define BB_NPROBERS (sizeof(bb_probers) / sizeof(bb_probers[0]))

struct bb {
    struct tp_yctx *y;
    struct tp_bb_config *out;
    size_t cap, rcap;
};

static const struct bb_prober *prober_find(const char *s)
{
    for (size_t i = 0; i < BB_NPROBERS; i++)
        if (!strcmp(bb_probers[i].name, s))
            return &bb_probers[i];
    return NULL;
}

static bool known_opt(const struct bb_prober *p, const char *s)
{
    for (size_t i = 0; i < p->nopts; i++)
        if (!strcmp(p->opts[i], s))
            return true;
    return false;
}

/* A module not loaded, and why: its /probe answers that. */
static void vreject(struct bb *b, const char *name, const struct tp_pos *at, const char *fmt,
                    va_list ap)
{
    struct tp_bb_config *o = b->out;
    struct tp_quoted q;
    char why[400];

    vsnprintf(why, sizeof(why), fmt, ap);
    tp_cfg_note(&b->y->pub, at, "module %s not loaded: %s", tp_qs(&q, name), why);
    if (o->nrejected == b->rcap) {
        size_t ncap = b->rcap ? b->rcap * 2 : 8;
        struct tp_bb_rejected *nr = realloc(o->rejected, ncap * sizeof(*nr));
        if (!nr) {
            tp_cfg_oom(&b->y->pub);
            return;
        }
        o->rejected = nr;
        b->rcap = ncap;
    }
    struct tp_bb_rejected *r = &o->rejected[o->nrejected];
    if (!(r->name = strdup(name)) ||
        asprintf(&r->why, "%s (%s:%lu:%lu)", why, b->y->pub.path, at->line, at->col) < 0) {
        free(r->name);
        tp_cfg_oom(&b->y->pub);
        return;
    }
    o->nrejected++;
}

__attribute__((format(printf, 4, 5))) static void
reject_at(struct bb *b, const char *name, const struct tp_pos *at, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreject(b, name, at, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 4, 5))) static void
reject(struct bb *b, const char *name, const yaml_node_t *n, const char *fmt, ...)
{
    struct tp_pos at = {n->start_mark.line + 1, n->start_mark.column + 1};
    va_list ap;

    va_start(ap, fmt);
    vreject(b, name, &at, fmt, ap);
    va_end(ap);
}

/* The keys of the prober's section into def. Returns false when the
 * module is to be rejected (said), true otherwise (errors are counted in
 * the context). */
static bool load_section(struct bb *b, const char *mod, const struct bb_prober *p,
                         const yaml_node_t *sec, struct tp_def *def)
{
    const struct tp_kind *kind = def->kind;
    const char **cands;
    size_t nc = 0;
    bool keep = true;

    if (!sec || tp_y_is_null(sec))
        return true;
    if (sec->type != YAML_MAPPING_NODE) {
        tp_y_err(b->y, sec, "%s must be a mapping, not %s", p->name, tp_y_kind(sec));
        return true;
    }
    if (!(cands = calloc(p->nopts + 1, sizeof(*cands)))) {
        tp_cfg_oom(&b->y->pub);
        return true;
    }
    for (size_t i = 0; i < p->nopts; i++)
        cands[nc++] = p->opts[i];
    for (yaml_node_pair_t *pr = sec->data.mapping.pairs.start; pr < sec->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = tp_y_node(b->y, pr->key), *v = tp_y_node(b->y, pr->value);
        const struct tp_kind *owner;
        const struct tp_key *key;
        char where[80];

        if (k->type != YAML_SCALAR_NODE) {
            tp_y_err(b->y, k, "a key must be a name, not %s", tp_y_kind(k));
            continue;
        }
        for (yaml_node_pair_t *e = sec->data.mapping.pairs.start; e < pr; e++) {
            yaml_node_t *ek = tp_y_node(b->y, e->key);
            if (ek->type == YAML_SCALAR_NODE && !strcmp(tp_y_s(ek), tp_y_s(k))) {
                struct tp_quoted q;
                tp_y_err(b->y, k, "duplicate key %s (first at line %lu)",
                         tp_quote(&q, tp_y_s(k), tp_y_len(k)),
                         (unsigned long)ek->start_mark.line + 1);
                goto next;
            }
        }
        key = tp_key_find(tp_y_s(k), kind, &owner);
        if (key && key->blackbox && (!owner || owner == kind) && tp_kind_takes(kind, key)) {
            tp_y_apply(b->y, def, key, v);
            continue;
        }
        if (known_opt(p, tp_y_s(k))) {
            if (keep)
                reject(b, mod, k, "%s option %s is not supported by twkit", p->name,
                       tp_y_s(k));
            keep = false;
            continue;
        }
        snprintf(where, sizeof(where), "the %s section of a blackbox module", p->name);
        tp_y_unknown_key(b->y, k, where, cands, nc);
    next:;
    }
    free(cands);
    return keep;
}

/* What a module's kind leaves out gets the kind's default, as in twkit's
 * YAML. */
static void settle(struct bb *b, struct tp_def *def, const yaml_node_t *sec)
{
    const struct tp_kind *kind = def->kind;

    for (size_t i = 0; i < TP_NCOMMON; i++) {
        const struct tp_key *k = &tp_common_keys[i];
        if (k->group && k->free && !(kind->common & k->group))
            k->free(def);
    }
    for (size_t i = 0; i < kind->nkeys; i++) {
        const struct tp_key *k = &kind->keys[i];
        bool given = false;
        if (!k->absent)
            continue;
        for (yaml_node_pair_t *pr = sec && sec->type == YAML_MAPPING_NODE
                                        ? sec->data.mapping.pairs.start
                                        : NULL;
             pr && pr < sec->data.mapping.pairs.top && !given; pr++) {
            yaml_node_t *kn = tp_y_node(b->y, pr->key);
            given = kn->type == YAML_SCALAR_NODE && !strcmp(tp_y_s(kn), k->name);
        }
        if (!given && !k->absent(&b->y->pub, def))
            return;
    }
}

static void load_module(struct bb *b, const yaml_node_t *kn, const yaml_node_t *m)
{
    const char *name = tp_y_s(kn);
    struct tp_quoted qn, qp;
    const char *qname = tp_quote(&qn, name, tp_y_len(kn));
    const yaml_node_t *prober = NULL, *timeout = NULL, *secs[BB_NPROBERS] = {0};
    const struct bb_prober *p = NULL;
    struct tp_def def = {0};
    int before = b->y->pub.nerr;

    if (m->type != YAML_MAPPING_NODE) {
        tp_y_err(b->y, m, "module %s must be a mapping, not %s", qname,
                 tp_y_is_null(m) ? "empty" : tp_y_kind(m));
        return;
    }
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = tp_y_node(b->y, pr->key), *v = tp_y_node(b->y, pr->value);
        const struct bb_prober *sp;
        static const char *const cands[] = {"prober", "timeout", "http", "tcp",
                                            "dns",    "icmp",    "grpc"};

        if (k->type != YAML_SCALAR_NODE) {
            tp_y_err(b->y, k, "a key must be a name, not %s", tp_y_kind(k));
        } else if (!strcmp(tp_y_s(k), "prober")) {
            prober = v;
        } else if (!strcmp(tp_y_s(k), "timeout")) {
            timeout = v;
        } else if ((sp = prober_find(tp_y_s(k)))) {
            secs[sp - bb_probers] = v;
        } else {
            tp_y_unknown_key(b->y, k, "a blackbox module", cands, 7);
        }
    }
    if (!prober) {
        tp_y_err(b->y, m, "module %s has no prober (expected http, tcp, dns, icmp or grpc)",
                 qname);
        return;
    }
    if (prober->type != YAML_SCALAR_NODE || !(p = prober_find(tp_y_s(prober)))) {
        tp_y_err(b->y, prober, "unknown prober %s (expected http, tcp, dns, icmp or grpc)",
                 prober->type == YAML_SCALAR_NODE
                     ? tp_quote(&qp, tp_y_s(prober), tp_y_len(prober))
                     : tp_y_kind(prober));
        return;
    }
    for (size_t i = 0; i < BB_NPROBERS; i++)
        if (secs[i] && &bb_probers[i] != p)
            tp_y_err(b->y, secs[i], "module %s has a %s: section, but its prober is %s",
                     qname, bb_probers[i].name, p->name);
    if (!p->kind) {
        reject(b, name, prober, "%s", p->why);
        return;
    }
    def.kind = tp_kind_find(p->kind);
    def.success_threshold = def.failure_threshold = 1;
    def.tls_verify = true;
    def.line = m->start_mark.line + 1;
    def.col = m->start_mark.column + 1;
    if (!(def.name = strdup(name)) ||
        (def.kind->opts_size && !(def.opts = calloc(1, def.kind->opts_size)))) {
        tp_cfg_oom(&b->y->pub);
        tp_def_free(&def);
        return;
    }
    if (timeout && !tp_y_apply(b->y, &def, &tp_common_keys[TP_K_TIMEOUT], timeout))
        def.timeout_ms = 0;
    def.interval_ms = def.timeout_ms;
    char unreadable[TP_UNREADABLE_LEN] = "";
    b->y->pub.unreadable = unreadable;
    bool keep = load_section(b, name, p, secs[p - bb_probers], &def);
    b->y->pub.unreadable = NULL;
    if (keep && unreadable[0]) {
        struct tp_pos at = b->y->pub.unreadable_at;
        reject_at(b, name, &at, "%s", unreadable);
        keep = false;
    }
    if (!keep || b->y->pub.nerr != before) {
        tp_def_free(&def);
        return;
    }
    settle(b, &def, secs[p - bb_probers]);
    if (b->out->cfg.ndefs == b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 8;
        struct tp_def *nd = realloc(b->out->cfg.defs, ncap * sizeof(*nd));
        if (!nd) {
            tp_cfg_oom(&b->y->pub);
            tp_def_free(&def);
            return;
        }
        b->out->cfg.defs = nd;
        b->cap = ncap;
    }
    b->out->cfg.defs[b->out->cfg.ndefs++] = def;
}

static void on_root(struct tp_yctx *y, yaml_node_t *root, void *arg)
{
    struct bb *b = arg;
    const yaml_node_t *mods = NULL;
    static const char *const top[] = {"modules"};

    b->y = y;
    if (!root || tp_y_is_null(root)) {
        tp_y_err_at(y, 1, 1, "the file is empty: expected a mapping with a modules key");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        tp_y_err(y, root, "the top level must be a mapping with a modules key, not %s",
                 tp_y_kind(root));
        return;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = tp_y_node(y, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp(tp_y_s(k), "modules"))
            mods = tp_y_node(y, p->value);
        else if (k->type == YAML_SCALAR_NODE)
            tp_y_unknown_key(y, k, NULL, top, 1);
        else
            tp_y_err(y, k, "a key must be a name, not %s", tp_y_kind(k));
    }
    if (!mods) {
        tp_y_err(y, root, "missing key \"modules\"");
        return;
    }
    if (mods->type != YAML_MAPPING_NODE) {
        tp_y_err(y, mods, "modules must be a mapping of module names to modules, not %s",
                 tp_y_is_null(mods) ? "empty" : tp_y_kind(mods));
        return;
    }
    for (yaml_node_pair_t *p = mods->data.mapping.pairs.start; p < mods->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = tp_y_node(y, p->key);
        if (k->type != YAML_SCALAR_NODE || tp_y_is_null(k)) {
            tp_y_err(y, k, "a module name must be a string, not %s",
                     tp_y_is_null(k) ? "empty" : tp_y_kind(k));
            continue;
        }
        for (yaml_node_pair_t *e = mods->data.mapping.pairs.start; e < p; e++) {
            yaml_node_t *ek = tp_y_node(y, e->key);
            if (ek->type == YAML_SCALAR_NODE && !strcmp(tp_y_s(ek), tp_y_s(k))) {
                struct tp_quoted q;
                tp_y_err(y, k, "duplicate module %s (first at line %lu)",
                         tp_quote(&q, tp_y_s(k), tp_y_len(k)),
                         (unsigned long)ek->start_mark.line + 1);
                goto next;
            }
        }
        load_module(b, k, tp_y_node(y, p->value));
    next:;
    }
}

int tp_bb_load_mem(const char *path, const char *buf, size_t len, struct tp_bb_config *out,
                   FILE *errs)
{
    struct tp_bb_config o = {0};
    struct bb b = {.out = &o};
    int nerr;

    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if (!path || (!buf && len))
        return -EINVAL;
    if (!(o.cfg.path = strdup(path)))
        return -ENOMEM;
    nerr = tp_y_load(path, buf, len, errs, on_root, &b);
    if (nerr) {
        tp_bb_free(&o);
        return nerr;
    }
    *out = o;
    return 0;
}

int tp_bb_load(const char *path, struct tp_bb_config *out, FILE *errs)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (!out)
        return -EINVAL;
    memset(out, 0, sizeof(*out));
    if ((rc = tp_y_slurp(path, &buf, &len)) < 0) {
        if (errs)
            fprintf(errs, "%s: %s\n", path, strerror(-rc));
        return rc;
    }
    rc = tp_bb_load_mem(path, buf, len, out, errs);
    free(buf);
    return rc;
}

const struct tp_def *tp_bb_module(const struct tp_bb_config *bb, const char *name,
                                  const char **why)
{
    *why = NULL;
    for (size_t i = 0; i < bb->cfg.ndefs; i++)
        if (!strcmp(bb->cfg.defs[i].name, name))
            return &bb->cfg.defs[i];
    for (size_t i = 0; i < bb->nrejected; i++)
        if (!strcmp(bb->rejected[i].name, name)) {
            *why = bb->rejected[i].why;
            return NULL;
        }
    return NULL;
}

void tp_bb_free(struct tp_bb_config *bb)
{
    if (!bb)
        return;
    tp_config_free(&bb->cfg);
    for (size_t i = 0; i < bb->nrejected; i++) {
        free(bb->rejected[i].name);
        free(bb->rejected[i].why);
    }
    free(bb->rejected);
    memset(bb, 0, sizeof(*bb));
}
