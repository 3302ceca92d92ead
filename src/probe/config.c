/* twkit probe: the YAML configuration (docs/PROBE.md, "Configuration").
 *
 * This is the YAML front end of the key tables (config.h): it walks the
 * document, finds each key in the common table or in a kind's, and hands
 * the value to the key. The loader uses libyaml's document API because
 * every node keeps its start mark, so any message can point at the exact
 * line and column. It never stops at the first problem: each key is judged
 * on its own and a bad one only stops what depends on it (a bad kind leaves
 * the targets unjudged, a bad interval leaves the timeout comparison out),
 * so one run lists all the mistakes of a file. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "probe/config.h"
#include "probe/probe.h"

/* ---- the loader's bookkeeping ---- */

/* One key of a mapping: the key's row and, for a kind's own key, whose. */
struct slot {
    const struct tp_key *k;
    const struct tp_kind *owner; /* NULL: a common key */
    yaml_node_t *key, *val;
    bool bad;                    /* its value was refused */
};

/* The keys of one mapping in the order they were written (so messages
 * come out in file order), each once. */
struct slots {
    struct slot *s;
    unsigned n;
};

struct ctx {
    struct tp_cfgctx pub; /* the messages, the config's path and directory */
    char *dir;
    yaml_document_t *doc;
    size_t nkeys;         /* the common keys and every kind's */
    struct tp_strset names;
};

/* `defaults:` as parsed, with where each value came from. */
struct dflt {
    struct tp_def def;
    struct slots sl;
};

/* ---- messages ---- */

__attribute__((format(printf, 3, 4))) static void
err_node(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tp_cfg_verr(&c->pub, c->pub.path, n->start_mark.line + 1, n->start_mark.column + 1, fmt,
                ap);
    va_end(ap);
}

/* At a line and column of the config itself. */
__attribute__((format(printf, 4, 5))) static void
err_at(struct ctx *c, unsigned long line, unsigned long col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tp_cfg_verr(&c->pub, c->pub.path, line, col, fmt, ap);
    va_end(ap);
}

static void oom(struct ctx *c) { tp_cfg_oom(&c->pub); }

/* ---- YAML nodes ---- */

static const char *sval(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }
static size_t slen(const yaml_node_t *n) { return n->data.scalar.length; }

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a sequence";
    default:
        return "a single value";
    }
}

/* YAML's null in plain style; in quotes the same text is a string. */
static bool is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (!strcmp(sval(n), nulls[i]))
            return true;
    return false;
}

/* where NULL: the top level. */
static void unknown_key(struct ctx *c, const yaml_node_t *k, const char *where,
                        const char *const *cands, size_t ncands)
{
    struct tp_quoted q;
    const char *best = NULL;
    unsigned bestd = 3; /* further than 2 edits is not a typo */
    char hint[64];

    for (size_t i = 0; i < ncands; i++) {
        unsigned d = tp_edit_distance(sval(k), cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    if (best)
        snprintf(hint, sizeof(hint), " (did you mean %s?)", best);
    else
        snprintf(hint, sizeof(hint), "%s", where ? "" : " (expected defaults or probes)");
    if (where)
        err_node(c, k, "unknown key %s in %s%s", tp_quote(&q, sval(k), slen(k)), where, hint);
    else
        err_node(c, k, "unknown top-level key %s%s", tp_quote(&q, sval(k), slen(k)), hint);
}
static yaml_node_t *node(struct ctx *c, int id) { return yaml_document_get_node(c->doc, id); }

/* A node as the key tables see it. */
static void to_val(const yaml_node_t *n, struct tp_val *v)
{
    memset(v, 0, sizeof(*v));
    v->at.line = n->start_mark.line + 1;
    v->at.col = n->start_mark.column + 1;
    v->node = n;
    if (n->type == YAML_MAPPING_NODE) {
        v->shape = TP_V_MAP;
    } else if (n->type == YAML_SEQUENCE_NODE) {
        v->shape = TP_V_LIST;
    } else {
        v->shape = is_null(n) ? TP_V_NULL : TP_V_SCALAR;
        v->s = sval(n);
        v->len = slen(n);
    }
}

/* The items of a mapping or a sequence, for keys that judge nested values
 * (config.h, struct tp_front); pc is the ctx's first member. */
static size_t yaml_nitems(struct tp_cfgctx *pc, const struct tp_val *v)
{
    const yaml_node_t *n = v->node;

    if (n && v->shape == TP_V_MAP)
        return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (n && v->shape == TP_V_LIST)
        return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    return 0;
}

static void yaml_item(struct tp_cfgctx *pc, const struct tp_val *v, size_t i,
                      struct tp_val *name, struct tp_val *item)
{
    const yaml_node_t *n = v->node;
    bool map = n->type == YAML_MAPPING_NODE;

    if (name && map)
        to_val(node((struct ctx *)pc, n->data.mapping.pairs.start[i].key), name);
    else if (name)
        memset(name, 0, sizeof(*name));
    to_val(node((struct ctx *)pc, map ? n->data.mapping.pairs.start[i].value
                                      : n->data.sequence.items.start[i]), item);
}

static const struct tp_front yaml_front = {yaml_nitems, yaml_item};

/* ---- keys ---- */

static const struct slot *slot_of(const struct slots *sl, const struct tp_key *k)
{
    for (unsigned i = 0; i < sl->n; i++)
        if (sl->s[i].k == k)
            return &sl->s[i];
    return NULL;
}

static const struct slot *common_slot(const struct slots *sl, int k)
{
    return slot_of(sl, &tp_common_keys[k]);
}

struct collecting {
    bool defaults;
    const char **cands;
    size_t ncands;
    char only[512];
};

static bool is_merge_key(const yaml_node_t *k)
{
    return k->type == YAML_SCALAR_NODE && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           slen(k) == 2 && !memcmp(sval(k), "<<", 2);
}

/* The pairs of map into out; merged (the mapping came through a `<<`
 * merge key): a key already there wins silently, as YAML's merge says.
 * Merge keys are taken after the mapping's own keys, recursively (depth:
 * an alias may point back at its own mapping). */
static void collect_map(struct ctx *c, const yaml_node_t *map, struct collecting *w,
                        struct slots *out, bool merged, int depth)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        const struct tp_kind *owner;
        const struct tp_key *key;
        const struct slot *seen;
        struct tp_quoted q;

        if (is_merge_key(k))
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            err_node(c, k, "a key must be a name, not %s", node_kind(k));
            continue;
        }
        if (!(key = tp_key_find(sval(k), NULL, &owner))) {
            unknown_key(c, k, w->defaults ? "defaults" : "probe", w->cands, w->ncands);
            continue;
        }
        if ((seen = slot_of(out, key))) {
            if (!merged)
                err_node(c, k, "duplicate key %s (first at line %lu)", tp_qs(&q, sval(k)),
                         (unsigned long)seen->key->start_mark.line + 1);
            continue;
        }
        if (w->defaults && !key->in_defaults) {
            err_node(c, k, "%s cannot be set in defaults (only %s)", sval(k), w->only);
            continue;
        }
        out->s[out->n++] = (struct slot){key, owner, k, v, false};
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        yaml_node_item_t one = p->value, *it = &one, *end = &one + 1;

        if (!is_merge_key(k))
            continue;
        if (depth >= 8) {
            err_node(c, k, "merges (<<) nested too deep");
            continue;
        }
        if (v->type == YAML_SEQUENCE_NODE) { /* earlier mappings win */
            it = v->data.sequence.items.start;
            end = v->data.sequence.items.top;
        }
        for (; it < end; it++) {
            yaml_node_t *m = node(c, *it);
            if (m->type != YAML_MAPPING_NODE) {
                err_node(c, m, "<< (a merge) takes a mapping or a list of mappings, not %s",
                         node_kind(m));
                continue;
            }
            collect_map(c, m, w, out, true, depth + 1);
        }
    }
}

/* The keys of a probe or of defaults, reporting unknown, misplaced and
 * repeated ones; YAML merge keys (<<: *anchor) bring in a mapping's keys. */
static void collect(struct ctx *c, const yaml_node_t *map, bool defaults, struct slots *out)
{
    struct collecting w = {.defaults = defaults, .cands = calloc(c->nkeys, sizeof(*w.cands))};

    memset(out, 0, sizeof(*out));
    if (!w.cands || !(out->s = calloc(c->nkeys, sizeof(*out->s)))) {
        free(w.cands);
        oom(c);
        return;
    }
    w.ncands = tp_key_names(defaults, w.cands, NULL, 0);
    tp_key_names(true, NULL, w.only, sizeof(w.only));
    collect_map(c, map, &w, out, false, 0);
    free(w.cands);
}

/* A mapping value: its pairs, each name a string, each given to the key
 * on its own. Duplicate names are found here (libyaml keeps both), with
 * the key's fold deciding whether "Host" and "host" are the same. */
static bool walk_map(struct ctx *c, struct tp_def *def, const struct tp_key *key,
                     const yaml_node_t *map)
{
    bool ok = true;

    if (map->type != YAML_MAPPING_NODE || is_null(map)) {
        err_node(c, map, "%s must be a mapping of names to values, not %s", key->name,
                 is_null(map) ? "empty" : node_kind(map));
        return false;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        struct tp_val kv, vv;
        struct tp_arg a;
        struct tp_quoted q;
        bool dup = false;

        if (k->type != YAML_SCALAR_NODE || is_null(k)) {
            err_node(c, k, "a %s name must be a string, not %s", key->what,
                     is_null(k) ? "empty" : node_kind(k));
            ok = false;
            continue;
        }
        for (yaml_node_pair_t *e = map->data.mapping.pairs.start; e < p && !dup; e++) {
            yaml_node_t *ek = node(c, e->key);
            if (ek->type == YAML_SCALAR_NODE &&
                !(key->fold ? strcasecmp(sval(ek), sval(k)) : strcmp(sval(ek), sval(k)))) {
                err_node(c, k, "duplicate %s name %s (first at line %lu)", key->what,
                         tp_quote(&q, sval(k), slen(k)), (unsigned long)ek->start_mark.line + 1);
                dup = true;
            }
        }
        if (dup) {
            ok = false;
            continue;
        }
        to_val(k, &kv);
        to_val(v, &vv);
        memset(&a, 0, sizeof(a));
        a.name = &kv;
        a.v = &vv;
        if (!tp_key_apply(&c->pub, key, def, &a))
            ok = false;
    }
    return ok;
}

/* A list value, or a single item written without brackets (there is
 * nothing else it could mean): each item a string given to the key. */
static bool walk_list(struct ctx *c, struct tp_def *def, const struct tp_key *key,
                      const yaml_node_t *v)
{
    yaml_node_item_t one, *it = &one, *end = &one + 1;
    bool ok = true;

    if (v->type == YAML_SEQUENCE_NODE) {
        it = v->data.sequence.items.start;
        end = v->data.sequence.items.top;
    } else if (v->type != YAML_SCALAR_NODE) {
        err_node(c, v, "%s must be %s, not %s", key->name, key->list_what, node_kind(v));
        return false;
    }
    if (it == end) {
        err_node(c, v, "%s is empty", key->name);
        return false;
    }
    for (; it < end; it++) {
        const yaml_node_t *item = it == &one ? v : node(c, *it);
        struct tp_val iv;
        struct tp_arg a;

        to_val(item, &iv);
        memset(&a, 0, sizeof(a));
        a.v = &iv;
        if (!(a.s = tp_val_str(&c->pub, key->name, &iv, key->what)) ||
            !tp_key_apply(&c->pub, key, def, &a))
            ok = false;
    }
    return ok;
}

/* Parse the value of one key into def; false when it was bad (reported). */
static bool apply(struct ctx *c, struct tp_def *def, const struct slot *st)
{
    struct tp_val v;
    struct tp_arg a;

    switch (st->k->type) {
    case TP_T_LOADER:
        return true; /* judged by load_probe, which needs them first */
    case TP_T_MAP:
        return walk_map(c, def, st->k, st->val);
    case TP_T_LIST:
        return walk_list(c, def, st->k, st->val);
    default:
        to_val(st->val, &v);
        return tp_key_convert(&c->pub, st->k, &v, &a) && tp_key_apply(&c->pub, st->k, def, &a);
    }
}

/* ---- defaults and probes ---- */

static void load_defaults(struct ctx *c, const yaml_node_t *v, struct dflt *d)
{
    const struct slot *iv, *to;
    char a[32], b[32];

    if (v->type != YAML_MAPPING_NODE) {
        err_node(c, v, "defaults must be a mapping, not %s",
                 is_null(v) ? "empty" : node_kind(v));
        return;
    }
    collect(c, v, true, &d->sl);
    for (unsigned i = 0; i < d->sl.n; i++)
        d->sl.s[i].bad = !apply(c, &d->def, &d->sl.s[i]);
    /* Both in defaults: said once here rather than once per probe. */
    iv = common_slot(&d->sl, TP_K_INTERVAL);
    to = common_slot(&d->sl, TP_K_TIMEOUT);
    if (iv && to && !iv->bad && !to->bad && d->def.timeout_ms > d->def.interval_ms)
        err_node(c, to->val, "timeout %s exceeds interval %s",
                 tp_fmt_ms(a, sizeof(a), d->def.timeout_ms),
                 tp_fmt_ms(b, sizeof(b), d->def.interval_ms));
}

static const char *origin(const struct slots *own, const struct dflt *d, int k)
{
    if (common_slot(own, k))
        return "";
    return common_slot(&d->sl, k) ? " (from defaults)" : " (the default)";
}

static void check_timeout(struct ctx *c, const yaml_node_t *m, const struct slots *sl,
                          const struct dflt *d, const struct tp_def *def)
{
    const struct slot *to = common_slot(sl, TP_K_TIMEOUT), *iv = common_slot(sl, TP_K_INTERVAL);
    const yaml_node_t *at;
    char a[32], b[32];

    if (def->timeout_ms <= def->interval_ms)
        return;
    if (to)
        at = to->val;
    else if (iv)
        at = iv->val;
    else if (common_slot(&d->sl, TP_K_TIMEOUT) && common_slot(&d->sl, TP_K_INTERVAL))
        return; /* reported at defaults */
    else
        at = m;
    err_node(c, at, "timeout %s%s exceeds interval %s%s",
             tp_fmt_ms(a, sizeof(a), def->timeout_ms), origin(sl, d, TP_K_TIMEOUT),
             tp_fmt_ms(b, sizeof(b), def->interval_ms), origin(sl, d, TP_K_INTERVAL));
}

/* With the kind unknown, a kind's own key is still judged, into a
 * definition of that kind that is thrown away after the probe. */
static struct tp_def *scratch_def(struct ctx *c, struct tp_def **scratch,
                                  const struct tp_kind *owner)
{
    size_t i = tp_kind_index(owner);

    if (!*scratch && !(*scratch = calloc(tp_nkinds, sizeof(**scratch)))) {
        oom(c);
        return NULL;
    }
    if (!(*scratch)[i].kind) {
        if (owner->opts_size && !((*scratch)[i].opts = calloc(1, owner->opts_size))) {
            oom(c);
            return NULL;
        }
        (*scratch)[i].kind = owner;
    }
    return &(*scratch)[i];
}

static void scratch_free(struct tp_def *scratch)
{
    for (size_t i = 0; scratch && i < tp_nkinds; i++)
        tp_def_free(&scratch[i]);
    free(scratch);
}

/* The rest of a probe once its keys are read: values that mean nothing
 * for its kind are not kept, so the kinds can trust what they find, and
 * the kind's own keys that were left out get their defaults. */
static void settle(struct ctx *c, struct tp_def *def, const struct slots *sl)
{
    const struct tp_kind *kind = def->kind;

    for (size_t i = 0; i < TP_NCOMMON; i++) {
        const struct tp_key *k = &tp_common_keys[i];
        if (k->group && k->free && !(kind && (kind->common & k->group)))
            k->free(def);
    }
    for (size_t i = 0; kind && i < kind->nkeys; i++)
        if (kind->keys[i].absent && !slot_of(sl, &kind->keys[i]) &&
            !kind->keys[i].absent(&c->pub, def))
            return;
}

static void load_probe(struct ctx *c, const yaml_node_t *m, const struct dflt *d,
                       struct tp_def *def)
{
    struct slots sl;
    struct tp_quoted q;
    const struct slot *ks, *ts, *tfs, *dv;
    struct tp_def *scratch = NULL;
    const struct tp_kind *kind = NULL;
    const char *s;
    char who[120], kinds[120];
    bool bad_iv, bad_to;
    bool both_targets;

    dv = common_slot(&d->sl, TP_K_INTERVAL);
    bad_iv = dv && dv->bad;
    dv = common_slot(&d->sl, TP_K_TIMEOUT);
    bad_to = dv && dv->bad;
    def->line = m->start_mark.line + 1;
    def->col = m->start_mark.column + 1;
    collect(c, m, false, &sl);
    tp_kinds_words(kinds, sizeof(kinds), NULL, NULL, "or");

    /* The kind first, whatever its place in the mapping: every other key
     * is judged against it. */
    ks = common_slot(&sl, TP_K_KIND);
    if (ks && ks->val->type == YAML_SCALAR_NODE)
        kind = tp_kind_find(sval(ks->val));
    def->kind = kind;
    if (kind && kind->opts_size && !(def->opts = calloc(1, kind->opts_size))) {
        oom(c);
        goto out;
    }
    if (!tp_def_inherit(&c->pub, def, &d->def))
        goto out;

    ts = common_slot(&sl, TP_K_TARGET);
    tfs = common_slot(&sl, TP_K_TARGETS_FILE);
    both_targets = ts && tfs;
    for (unsigned i = 0; i < sl.n; i++) {
        struct slot *st = &sl.s[i];
        struct tp_def *into = def;
        bool ok;

        if (st->k == &tp_common_keys[TP_K_NAME]) {
            unsigned long first;
            struct tp_val v;
            to_val(st->val, &v);
            if (!(s = tp_val_str(&c->pub, "name", &v, "a string")))
                continue;
            bool good = *s != '\0';
            for (const char *p = s; *p && good; p++)
                good = tp_is_alnum(*p) || strchr("_.:-", *p);
            if (!good) {
                err_node(c, st->val, "bad probe name %s: use letters, digits and _ . : -",
                         tp_qs(&q, s));
                continue;
            }
            if (!(def->name = tp_cfg_dup(&c->pub, s)))
                continue;
            int r = tp_strset_add(&c->names, def->name, st->val->start_mark.line + 1, &first);
            if (r < 0)
                oom(c);
            else if (r == 0)
                err_node(c, st->val, "duplicate probe name %s (first defined at line %lu)",
                         tp_qs(&q, s), first);
            continue;
        }
        if (st->k == &tp_common_keys[TP_K_KIND]) {
            struct tp_val v;
            to_val(st->val, &v);
            if (!kind && (s = tp_val_str(&c->pub, "kind", &v, kinds)))
                err_node(c, st->val, "unknown kind %s (expected %s)", tp_qs(&q, s), kinds);
            continue;
        }
        /* a name two kinds use means the probe's own kind's key */
        if (kind && st->owner && st->owner != kind)
            st->k = tp_key_find(st->k->name, kind, &st->owner);
        if (kind && !tp_kind_takes(kind, st->k)) {
            char only[120];
            err_node(c, st->key, "%s applies to %s probes only", st->k->name,
                     tp_kinds_words(only, sizeof(only), tp_kind_takes_named, st->k->name, "and"));
            continue;
        }
        if (st->k == &tp_common_keys[TP_K_TARGETS_FILE]) {
            struct tp_val v;
            if (both_targets) {
                err_node(c, st->key, "target and targets_file cannot both be set (line %lu "
                                     "has target)", (unsigned long)ts->key->start_mark.line + 1);
                continue;
            }
            to_val(st->val, &v);
            tp_targets_file(&c->pub, def, kind, &v);
            continue;
        }
        if (st->k == &tp_common_keys[TP_K_TARGET]) {
            struct tp_endpoint ep;
            struct tp_val v;
            const char *why;
            char *t;
            to_val(st->val, &v);
            if (!(s = tp_val_str(&c->pub, "target", &v, "a string")))
                continue;
            if (kind && tp_target_parse(kind, s, &ep, &why) < 0) {
                err_node(c, st->val, "bad %s target %s: %s", kind->name, tp_qs(&q, s), why);
                continue;
            }
            if (!(t = tp_cfg_dup(&c->pub, s)))
                continue;
            if (!(def->targets = malloc(sizeof(*def->targets)))) {
                free(t);
                oom(c);
                continue;
            }
            def->targets[0] = t;
            def->ntargets = 1;
            continue;
        }
        if (!kind && st->owner && !(into = scratch_def(c, &scratch, st->owner)))
            continue;
        ok = apply(c, into, st);
        if (st->k == &tp_common_keys[TP_K_INTERVAL])
            bad_iv = !ok;
        if (st->k == &tp_common_keys[TP_K_TIMEOUT])
            bad_to = !ok;
    }

    if (!common_slot(&sl, TP_K_NAME))
        err_node(c, m, "probe has no name");
    if (def->name)
        snprintf(who, sizeof(who), "probe %s", tp_qs(&q, def->name));
    else
        snprintf(who, sizeof(who), "probe");
    if (!ks)
        err_node(c, m, "%s has no kind (expected %s)", who, kinds);
    if (!ts && !tfs)
        err_node(c, m, "%s has no target or targets_file", who);
    /* Given nowhere, the timeout is 2 s or the interval if shorter. */
    if (!common_slot(&sl, TP_K_TIMEOUT) && !common_slot(&d->sl, TP_K_TIMEOUT) &&
        def->timeout_ms > def->interval_ms)
        def->timeout_ms = def->interval_ms;
    if (!bad_iv && !bad_to)
        check_timeout(c, m, &sl, d, def);
    settle(c, def, &sl);
out:
    scratch_free(scratch);
    free(sl.s);
}

static void load_probes(struct ctx *c, const yaml_node_t *v, const struct dflt *d,
                        struct tp_config *cfg)
{
    size_t n;

    if (v->type != YAML_SEQUENCE_NODE) {
        err_node(c, v, "probes must be a list of probes, not %s",
                 is_null(v) ? "empty" : node_kind(v));
        return;
    }
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0) {
        err_node(c, v, "probes is empty: define at least one probe");
        return;
    }
    if (!(cfg->defs = calloc(n, sizeof(*cfg->defs)))) {
        oom(c);
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *m = node(c, *it);
        if (m->type != YAML_MAPPING_NODE) {
            err_node(c, m, "a probe must be a mapping of keys, not %s",
                     is_null(m) ? "empty" : node_kind(m));
            continue;
        }
        struct tp_def *def = &cfg->defs[cfg->ndefs++];
        load_probe(c, m, d, def);
        cfg->ntargets += def->ntargets;
    }
}

static void load_root(struct ctx *c, const yaml_node_t *root, struct tp_config *cfg)
{
    static const char *const top[] = {"defaults", "probes"};
    const yaml_node_t *dv = NULL, *pk = NULL, *pv = NULL, *dk = NULL;
    struct dflt d;

    if (!root) {
        err_at(c, 1, 1, "the config is empty: expected a mapping with a probes key");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        err_node(c, root, "the top level must be a mapping with a probes key, not %s",
                 node_kind(root));
        return;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        const yaml_node_t **kslot, **vslot;
        struct tp_quoted q;

        if (k->type != YAML_SCALAR_NODE) {
            err_node(c, k, "a key must be a name, not %s", node_kind(k));
            continue;
        }
        if (!strcmp(sval(k), "defaults")) {
            kslot = &dk;
            vslot = &dv;
        } else if (!strcmp(sval(k), "probes")) {
            kslot = &pk;
            vslot = &pv;
        } else {
            unknown_key(c, k, NULL, top, 2);
            continue;
        }
        if (*kslot) {
            err_node(c, k, "duplicate key %s (first at line %lu)", tp_qs(&q, sval(k)),
                     (unsigned long)(*kslot)->start_mark.line + 1);
            continue;
        }
        *kslot = k;
        *vslot = v;
    }

    memset(&d, 0, sizeof(d));
    d.def.interval_ms = 5000;
    d.def.timeout_ms = 2000;
    d.def.success_threshold = d.def.failure_threshold = 1;
    d.def.tls_verify = true;
    if (dv)
        load_defaults(c, dv, &d);
    if (!pk)
        err_node(c, root, "missing key \"probes\": there is nothing to probe");
    else
        load_probes(c, pv, &d, cfg);
    tp_def_free(&d.def);
    free(d.sl.s);
}

/* ---- YAML ---- */

static void yaml_problem(struct ctx *c, const yaml_parser_t *p, const char *buf, size_t len)
{
    unsigned long line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
    const char *problem = p->problem ? p->problem : "unknown YAML error";

    if (p->error == YAML_MEMORY_ERROR) {
        oom(c);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        /* The reader reports a byte offset, not a mark: count lines and
         * characters up to it as libyaml does (columns in characters). */
        line = col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (buf[i] == '\n') {
                line++;
                col = 1;
            } else if (((unsigned char)buf[i] & 0xc0) != 0x80) {
                col++;
            }
        }
        if (p->problem_value >= 0)
            err_at(c, line, col, "%s (byte 0x%02x)", problem, p->problem_value);
        else
            err_at(c, line, col, "%s", problem);
        return;
    }
    if (p->context)
        err_at(c, line, col, "%s (%s at line %lu, column %lu)", problem, p->context,
               (unsigned long)p->context_mark.line + 1, (unsigned long)p->context_mark.column + 1);
    else
        err_at(c, line, col, "%s", problem);
}

/* The whole file, so a reader error's byte offset can be turned into a
 * line and column. */
static int slurp(const char *path, char **out, size_t *outlen)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int e = 0;

    if (!f)
        return -errno;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                e = -ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                e = errno ? -errno : -EIO;
            break;
        }
    }
    fclose(f);
    if (e) {
        free(buf);
        return e;
    }
    *out = buf;
    *outlen = len;
    return 0;
}

int tp_config_load(const char *path, struct tp_config *cfg, FILE *errs)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (!cfg)
        return -EINVAL;
    memset(cfg, 0, sizeof(*cfg));
    if (!path)
        return -EINVAL;
    if ((rc = slurp(path, &buf, &len)) < 0) {
        if (errs)
            fprintf(errs, "%s: %s\n", path, strerror(-rc));
        return rc;
    }
    rc = tp_config_load_mem(path, buf, len, cfg, errs);
    free(buf);
    return rc;
}

int tp_config_load_mem(const char *path, const char *buf, size_t len, struct tp_config *cfg,
                       FILE *errs)
{
    struct ctx c = {.pub = {.path = path, .errs = errs}};
    struct tp_config out = {0};
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    char *slash;

    if (!cfg)
        return -EINVAL;
    memset(cfg, 0, sizeof(*cfg));
    if (!path || (!buf && len))
        return -EINVAL;
    if (!(c.dir = strdup(path)) || !(out.path = strdup(path))) {
        free(c.dir);
        if (errs)
            fprintf(errs, "%s: %s\n", path, strerror(ENOMEM));
        return 1;
    }
    slash = strrchr(c.dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        c.dir[0] = '\0';
    c.pub.dir = c.dir;
    c.pub.front = &yaml_front;
    c.nkeys = TP_NCOMMON;
    for (size_t i = 0; i < tp_nkinds; i++)
        c.nkeys += tp_kinds[i]->nkeys;

    if (!yaml_parser_initialize(&parser)) {
        oom(&c);
        goto done;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_problem(&c, &parser, buf, len);
        yaml_parser_delete(&parser);
        goto done;
    }
    c.doc = &doc;
    load_root(&c, yaml_document_get_root_node(&doc), &out);
    /* libyaml stops after one document; a second one would be silently
     * ignored, which is worse than refusing it. */
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_problem(&c, &parser, buf, len);
    } else {
        yaml_node_t *r = yaml_document_get_root_node(&extra);
        if (r && !is_null(r)) /* a stray "---" at the end is harmless */
            err_at(&c, r->start_mark.line + 1, r->start_mark.column + 1,
                   "a second YAML document: a config is one document");
        yaml_document_delete(&extra);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
done:
    tp_cfg_flush(&c.pub);
    tp_strset_free(&c.names);
    free(c.dir);
    if (c.pub.nerr) {
        tp_config_free(&out);
        return c.pub.nerr;
    }
    *cfg = out;
    return 0;
}
