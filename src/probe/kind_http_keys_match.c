/* The http kind's keys that say what the answer must look like beyond
 * its status (the table is in kind_http_keys.c): body regexes, header
 * regexes with blackbox's {header, regexp, allow_missing} items, and
 * twkit's JSON body checks ({path, equals | regexp}).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/kind_http.h"

static struct tp_http_opts *opts(struct tp_def *def) { return def->opts; }

/* ---- regexes ---- */

bool tp_http_set_expect_body(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    opts(def)->expect_body = a->rx;
    def->has_regex = true;
    return true;
}

void tp_http_free_expect_body(struct tp_def *def) { tp_regex_free(&opts(def)->expect_body); }

static bool push_regex(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a,
                       const char *key, struct tp_regex **list, size_t *n)
{
    struct tp_regex re, *grown;

    if (!tp_cfg_regex(c, key, a->v, &re))
        return false;
    if (!(grown = realloc(*list, (*n + 1) * sizeof(*grown)))) {
        tp_regex_free(&re);
        tp_cfg_oom(c);
        return false;
    }
    *list = grown;
    grown[(*n)++] = re;
    def->has_regex = true;
    return true;
}

static void free_regexes(struct tp_regex **list, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        tp_regex_free(&(*list)[i]);
    free(*list);
    *list = NULL;
    *n = 0;
}

bool tp_http_add_body_bad(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);

    return push_regex(c, def, a, "fail_if_body_matches_regexp", &o->body_bad, &o->nbody_bad);
}

bool tp_http_add_body_good(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);

    return push_regex(c, def, a, "fail_if_body_not_matches_regexp", &o->body_good,
                      &o->nbody_good);
}

void tp_http_free_body_bad(struct tp_def *def)
{
    free_regexes(&opts(def)->body_bad, &opts(def)->nbody_bad);
}

void tp_http_free_body_good(struct tp_def *def)
{
    free_regexes(&opts(def)->body_good, &opts(def)->nbody_good);
}

/* ---- header matches: a list of {header, regexp, allow_missing} ---- */

static const char *const hm_keys[] = {"header", "regexp", "allow_missing"};

struct hm_ctx {
    const char *key;
    struct tp_header_match m;
    bool has_header, has_re;
};

static bool hm_item(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                    const struct tp_val *v, void *arg)
{
    struct hm_ctx *h = arg;
    struct tp_quoted q;
    char key[80];
    const char *s;

    snprintf(key, sizeof(key), "%s %s", h->key, hm_keys[k]);
    switch (k) {
    case 0:
        if (!(s = tp_val_str(c, key, v, "a header name")))
            return false;
        if (!tp_is_token(s)) {
            tp_cfg_err(c, &v->at, "bad %s %s: expected an HTTP token", key, tp_qs(&q, s));
            return false;
        }
        h->has_header = true;
        return (h->m.header = tp_cfg_dup(c, s)) != NULL;
    case 1:
        h->has_re = tp_cfg_regex(c, key, v, &h->m.re);
        return h->has_re;
    default:
        return tp_cfg_bool(c, key, v, &h->m.allow_missing);
    }
}

static bool push_header_matches(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a,
                                const char *key, struct tp_header_match **list, size_t *n)
{
    size_t items = tp_val_nitems(c, a->v);
    bool ok = true;

    if (a->v->shape != TP_V_LIST || !items) {
        tp_cfg_err(c, &a->v->at, "%s must be a list of {header, regexp, allow_missing}%s", key,
                   a->v->shape == TP_V_LIST ? ", not empty" : "");
        return false;
    }
    for (size_t i = 0; i < items; i++) {
        struct tp_val item;
        struct hm_ctx h = {.key = key};
        char where[64];
        struct tp_header_match *grown;
        bool good;

        snprintf(where, sizeof(where), "%s item", key);
        tp_val_item(c, a->v, i, NULL, &item);
        good = tp_cfg_inner_map(c, where, &item, hm_keys, 3, hm_item, &h);
        /* blackbox_exporter: "header name must be set", "regexp must be set" */
        if (good && (!h.has_header || !h.has_re)) {
            tp_cfg_err(c, &item.at, "%s item has no %s", key, h.has_header ? "regexp" : "header");
            good = false;
        }
        if (good && !(grown = realloc(*list, (*n + 1) * sizeof(*grown)))) {
            tp_cfg_oom(c);
            good = false;
        }
        if (!good) {
            free(h.m.header);
            tp_regex_free(&h.m.re);
            ok = false;
            continue;
        }
        *list = grown;
        grown[(*n)++] = h.m;
    }
    def->has_regex = true;
    return ok;
}

static void free_header_matches(struct tp_header_match **list, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*list)[i].header);
        tp_regex_free(&(*list)[i].re);
    }
    free(*list);
    *list = NULL;
    *n = 0;
}

bool tp_http_set_hdr_bad(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return push_header_matches(c, def, a, "fail_if_header_matches", &opts(def)->hdr_bad,
                               &opts(def)->nhdr_bad);
}

bool tp_http_set_hdr_good(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return push_header_matches(c, def, a, "fail_if_header_not_matches", &opts(def)->hdr_good,
                               &opts(def)->nhdr_good);
}

void tp_http_free_hdr_bad(struct tp_def *def)
{
    free_header_matches(&opts(def)->hdr_bad, &opts(def)->nhdr_bad);
}

void tp_http_free_hdr_good(struct tp_def *def)
{
    free_header_matches(&opts(def)->hdr_good, &opts(def)->nhdr_good);
}

/* ---- JSON body checks: a list of {path, equals | regexp} ---- */

static const char *const json_keys[] = {"path", "equals", "regexp"};

static bool split_path(struct tp_cfgctx *c, const struct tp_val *v, const char *s,
                       struct tp_json_check *j)
{
    struct tp_quoted q;
    size_t n = 1;

    for (const char *p = s; *p; p++)
        n += *p == '.';
    if (!*s || s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..")) {
        tp_cfg_err(c, &v->at, "bad fail_if_body_json_not_matches path %s: expected keys and "
                              "indexes joined by dots, like checks.db or items.0.name",
                   tp_qs(&q, s));
        return false;
    }
    if (!(j->path = tp_cfg_dup(c, s)) || !(j->seg = calloc(n, sizeof(*j->seg)))) {
        tp_cfg_oom(c);
        return false;
    }
    for (const char *p = s;; p++) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);

        if (!(j->seg[j->nseg++] = tp_cfg_dupn(c, p, len)))
            return false;
        if (!dot)
            break;
        p = dot;
    }
    return true;
}

static bool json_item(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                      const struct tp_val *v, void *arg)
{
    struct tp_json_check *j = arg;
    const char *s;

    switch (k) {
    case 0:
        return (s = tp_val_str(c, "fail_if_body_json_not_matches path", v, "a path")) &&
               split_path(c, v, s, j);
    case 1:
        if (!(s = tp_val_str(c, "fail_if_body_json_not_matches equals", v, "a value")))
            return false;
        return (j->equals = tp_cfg_dup(c, s)) != NULL;
    default:
        return tp_cfg_regex(c, "fail_if_body_json_not_matches regexp", v, &j->re);
    }
}

static void free_json_check(struct tp_json_check *j)
{
    free(j->path);
    for (size_t i = 0; i < j->nseg; i++)
        free(j->seg[i]);
    free(j->seg);
    free(j->equals);
    tp_regex_free(&j->re);
}

bool tp_http_set_json(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    struct tp_http_opts *o = opts(def);
    size_t items = tp_val_nitems(c, a->v);
    bool ok = true;

    if (a->v->shape != TP_V_LIST || !items) {
        tp_cfg_err(c, &a->v->at, "fail_if_body_json_not_matches must be a list of {path, "
                                 "equals} or {path, regexp}%s",
                   a->v->shape == TP_V_LIST ? ", not empty" : "");
        return false;
    }
    for (size_t i = 0; i < items; i++) {
        struct tp_json_check j, *grown;
        struct tp_val item;
        bool good;

        memset(&j, 0, sizeof(j));
        tp_val_item(c, a->v, i, NULL, &item);
        good = tp_cfg_inner_map(c, "fail_if_body_json_not_matches item", &item, json_keys, 3,
                                json_item, &j);
        if (good && (!j.path || !j.equals == !j.re.code)) {
            tp_cfg_err(c, &item.at, "fail_if_body_json_not_matches item needs %s",
                       !j.path ? "a path" : "one of equals and regexp");
            good = false;
        }
        if (good && !(grown = realloc(o->json, (o->njson + 1) * sizeof(*grown)))) {
            tp_cfg_oom(c);
            good = false;
        }
        if (!good) {
            free_json_check(&j);
            ok = false;
            continue;
        }
        o->json = grown;
        grown[o->njson++] = j;
    }
    return ok;
}

void tp_http_free_json(struct tp_def *def)
{
    struct tp_http_opts *o = opts(def);

    for (size_t i = 0; i < o->njson; i++)
        free_json_check(&o->json[i]);
    free(o->json);
    o->json = NULL;
    o->njson = 0;
}
