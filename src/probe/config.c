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
#include "probe/notify.h"
#include "probe/probe.h"
#include "probe/yaml.h"

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
    struct tp_yctx *y;    /* the file, its messages, its directory */
    size_t nkeys;         /* the common keys and every kind's */
    struct tp_strset names;
    struct tp_config *out;
};

/* `defaults:` as parsed, with where each value came from. */
struct dflt {
    struct tp_def def;
    struct slots sl;
};

static void oom(struct ctx *c) { tp_cfg_oom(&c->y->pub); }


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


/* The pairs of map into out; merged (the mapping came through a `<<`
 * merge key): a key already there wins silently, as YAML's merge says.
 * Merge keys are taken after the mapping's own keys, recursively (depth:
 * an alias may point back at its own mapping). */
static void collect_map(struct ctx *c, const yaml_node_t *map, struct collecting *w,
                        struct slots *out, bool merged, int depth)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = tp_y_node(c->y, p->key), *v = tp_y_node(c->y, p->value);
        const struct tp_kind *owner;
        const struct tp_key *key;
        const struct slot *seen;
        struct tp_quoted q;

        if (tp_y_is_merge_key(k))
            continue;
        if (k->type != YAML_SCALAR_NODE) {
            tp_y_err(c->y, k, "a key must be a name, not %s", tp_y_kind(k));
            continue;
        }
        if (!(key = tp_key_find(tp_y_s(k), NULL, &owner))) {
            tp_y_unknown_key(c->y, k, w->defaults ? "defaults" : "probe", w->cands, w->ncands);
            continue;
        }
        if ((seen = slot_of(out, key))) {
            if (!merged)
                tp_y_err(c->y, k, "duplicate key %s (first at line %lu)", tp_qs(&q, tp_y_s(k)),
                         (unsigned long)seen->key->start_mark.line + 1);
            continue;
        }
        if (w->defaults && !key->in_defaults) {
            tp_y_err(c->y, k, "%s cannot be set in defaults (only %s)", tp_y_s(k), w->only);
            continue;
        }
        out->s[out->n++] = (struct slot){key, owner, k, v, false};
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = tp_y_node(c->y, p->key), *v = tp_y_node(c->y, p->value);
        yaml_node_item_t one = p->value, *it = &one, *end = &one + 1;

        if (!tp_y_is_merge_key(k))
            continue;
        if (depth >= 8) {
            tp_y_err(c->y, k, "merges (<<) nested too deep");
            continue;
        }
        if (v->type == YAML_SEQUENCE_NODE) { /* earlier mappings win */
            it = v->data.sequence.items.start;
            end = v->data.sequence.items.top;
        }
        for (; it < end; it++) {
            yaml_node_t *m = tp_y_node(c->y, *it);
            if (m->type != YAML_MAPPING_NODE) {
                tp_y_err(c->y, m, "<< (a merge) takes a mapping or a list of mappings, not %s",
                         tp_y_kind(m));
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



static void load_defaults(struct ctx *c, const yaml_node_t *v, struct dflt *d)
{
    const struct slot *iv, *to;
    char a[32], b[32];

    if (v->type != YAML_MAPPING_NODE) {
        tp_y_err(c->y, v, "defaults must be a mapping, not %s",
                 tp_y_is_null(v) ? "empty" : tp_y_kind(v));
        return;
    }
    collect(c, v, true, &d->sl);
    for (unsigned i = 0; i < d->sl.n; i++)
        d->sl.s[i].bad = !tp_y_apply(c->y, &d->def, d->sl.s[i].k, d->sl.s[i].val);
    /* Both in defaults: said once here rather than once per probe. */
    iv = common_slot(&d->sl, TP_K_INTERVAL);
    to = common_slot(&d->sl, TP_K_TIMEOUT);
    if (iv && to && !iv->bad && !to->bad && d->def.timeout_ms > d->def.interval_ms)
        tp_y_err(c->y, to->val, "timeout %s exceeds interval %s",
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
    tp_y_err(c->y, at, "timeout %s%s exceeds interval %s%s",
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
            !kind->keys[i].absent(&c->y->pub, def))
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
        kind = tp_kind_find(tp_y_s(ks->val));
    def->kind = kind;
    if (kind && kind->opts_size && !(def->opts = calloc(1, kind->opts_size))) {
        oom(c);
        goto out;
    }
    if (!tp_def_inherit(&c->y->pub, def, &d->def))
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
            tp_y_to_val(st->val, &v);
            if (!(s = tp_val_str(&c->y->pub, "name", &v, "a string")))
                continue;
            bool good = *s != '\0';
            for (const char *p = s; *p && good; p++)
                good = tp_is_alnum(*p) || strchr("_.:-", *p);
            if (!good) {
                tp_y_err(c->y, st->val, "bad probe name %s: use letters, digits and _ . : -",
                         tp_qs(&q, s));
                continue;
            }
            if (!(def->name = tp_cfg_dup(&c->y->pub, s)))
                continue;
            int r = tp_strset_add(&c->names, def->name, st->val->start_mark.line + 1, &first);
            if (r < 0)
                oom(c);
            else if (r == 0)
                tp_y_err(c->y, st->val, "duplicate probe name %s (first defined at line %lu)",
                         tp_qs(&q, s), first);
            continue;
        }
        if (st->k == &tp_common_keys[TP_K_KIND]) {
            struct tp_val v;
            tp_y_to_val(st->val, &v);
            if (!kind && (s = tp_val_str(&c->y->pub, "kind", &v, kinds)))
                tp_y_err(c->y, st->val, "unknown kind %s (expected %s)", tp_qs(&q, s), kinds);
            continue;
        }
        /* a name two kinds use means the probe's own kind's key */
        if (kind && st->owner && st->owner != kind)
            st->k = tp_key_find(st->k->name, kind, &st->owner);
        if (kind && !tp_kind_takes(kind, st->k)) {
            char only[120];
            tp_y_err(c->y, st->key, "%s applies to %s probes only", st->k->name,
                     tp_kinds_words(only, sizeof(only), tp_kind_takes_named, st->k->name, "and"));
            continue;
        }
        if (st->k == &tp_common_keys[TP_K_TARGETS_FILE]) {
            struct tp_val v;
            if (both_targets) {
                tp_y_err(c->y, st->key, "target and targets_file cannot both be set (line %lu "
                                     "has target)", (unsigned long)ts->key->start_mark.line + 1);
                continue;
            }
            tp_y_to_val(st->val, &v);
            tp_targets_file(&c->y->pub, def, kind, &v);
            continue;
        }
        if (st->k == &tp_common_keys[TP_K_TARGET]) {
            struct tp_endpoint ep;
            struct tp_val v;
            const char *why;
            char *t;
            tp_y_to_val(st->val, &v);
            if (!(s = tp_val_str(&c->y->pub, "target", &v, "a string")))
                continue;
            if (kind && tp_target_parse(kind, s, &ep, &why) < 0) {
                tp_y_err(c->y, st->val, "bad %s target %s: %s", kind->name, tp_qs(&q, s), why);
                continue;
            }
            if (!(t = tp_cfg_dup(&c->y->pub, s)))
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
        ok = tp_y_apply(c->y, into, st->k, st->val);
        if (st->k == &tp_common_keys[TP_K_INTERVAL])
            bad_iv = !ok;
        if (st->k == &tp_common_keys[TP_K_TIMEOUT])
            bad_to = !ok;
    }

    if (!common_slot(&sl, TP_K_NAME))
        tp_y_err(c->y, m, "probe has no name");
    if (def->name)
        snprintf(who, sizeof(who), "probe %s", tp_qs(&q, def->name));
    else
        snprintf(who, sizeof(who), "probe");
    if (!ks)
        tp_y_err(c->y, m, "%s has no kind (expected %s)", who, kinds);
    if (!ts && !tfs)
        tp_y_err(c->y, m, "%s has no target or targets_file", who);
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
        tp_y_err(c->y, v, "probes must be a list of probes, not %s",
                 tp_y_is_null(v) ? "empty" : tp_y_kind(v));
        return;
    }
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0) {
        tp_y_err(c->y, v, "probes is empty: define at least one probe");
        return;
    }
    if (!(cfg->defs = calloc(n, sizeof(*cfg->defs)))) {
        oom(c);
        return;
    }
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++) {
        yaml_node_t *m = tp_y_node(c->y, *it);
        if (m->type != YAML_MAPPING_NODE) {
            tp_y_err(c->y, m, "a probe must be a mapping of keys, not %s",
                     tp_y_is_null(m) ? "empty" : tp_y_kind(m));
            continue;
        }
        struct tp_def *def = &cfg->defs[cfg->ndefs++];
        load_probe(c, m, d, def);
        cfg->ntargets += def->ntargets;
    }
}

static void load_root(struct ctx *c, const yaml_node_t *root, struct tp_config *cfg)
{
    static const char *const top[] = {"defaults", "probes", "notify", "health", "history"};
    const yaml_node_t *dv = NULL, *pk = NULL, *pv = NULL, *dk = NULL;
    const yaml_node_t *nk = NULL, *nv = NULL, *hk = NULL, *hv = NULL; /* notify.h */
    const yaml_node_t *yk = NULL, *yv = NULL;                         /* history */
    struct dflt d;

    if (!root) {
        tp_y_err_at(c->y, 1, 1, "the config is empty: expected a mapping with a probes key");
        return;
    }
    if (root->type != YAML_MAPPING_NODE) {
        tp_y_err(c->y, root, "the top level must be a mapping with a probes key, not %s",
                 tp_y_kind(root));
        return;
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = tp_y_node(c->y, p->key), *v = tp_y_node(c->y, p->value);
        const yaml_node_t **kslot, **vslot;
        struct tp_quoted q;

        if (k->type != YAML_SCALAR_NODE) {
            tp_y_err(c->y, k, "a key must be a name, not %s", tp_y_kind(k));
            continue;
        }
        if (!strcmp(tp_y_s(k), "defaults")) {
            kslot = &dk;
            vslot = &dv;
        } else if (!strcmp(tp_y_s(k), "probes")) {
            kslot = &pk;
            vslot = &pv;
        } else if (!strcmp(tp_y_s(k), "notify") || !strcmp(tp_y_s(k), "health")) {
            kslot = tp_y_s(k)[0] == 'n' ? &nk : &hk;
            vslot = tp_y_s(k)[0] == 'n' ? &nv : &hv;
        } else if (!strcmp(tp_y_s(k), "history")) {
            kslot = &yk;
            vslot = &yv;
        } else {
            tp_y_unknown_key(c->y, k, NULL, top, 5);
            continue;
        }
        if (*kslot) {
            tp_y_err(c->y, k, "duplicate key %s (first at line %lu)", tp_qs(&q, tp_y_s(k)),
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
    d.def.tls_full_every_ms = 60000;
    if (dv)
        load_defaults(c, dv, &d);
    if (!pk)
        tp_y_err(c->y, root, "missing key \"probes\": there is nothing to probe");
    else
        load_probes(c, pv, &d, cfg);
    if (nv || hv) { /* channels may be written after the probes naming them */
        struct tp_val n, h;
        struct tp_notify_cfg *nc;
        if (nv)
            tp_y_to_val(nv, &n);
        if (hv)
            tp_y_to_val(hv, &h);
        tp_notify_load(&c->y->pub, nv ? &n : NULL, hv ? &h : NULL, &nc);
        cfg->notify = nc;
    }
    tp_notify_resolve(&c->y->pub, cfg->notify, &d.def, cfg->defs, cfg->ndefs);
    tp_def_free(&d.def);
    free(d.sl.s);
    if (yv) {
        struct tp_val v;
        tp_y_to_val(yv, &v);
        tp_history_load(&c->y->pub, &v, &cfg->history);
    }
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
    if ((rc = tp_y_slurp(path, &buf, &len)) < 0) {
        if (errs)
            fprintf(errs, "%s: %s\n", path, strerror(-rc));
        return rc;
    }
    rc = tp_config_load_mem(path, buf, len, cfg, errs);
    free(buf);
    return rc;
}

static void on_root(struct tp_yctx *y, yaml_node_t *root, void *arg)
{
    struct ctx *c = arg;

    c->y = y;
    load_root(c, root, c->out);
}

int tp_config_load_mem(const char *path, const char *buf, size_t len, struct tp_config *cfg,
                       FILE *errs)
{
    struct tp_config out = {0};
    struct ctx c = {.nkeys = TP_NCOMMON, .out = &out};
    int nerr;

    if (!cfg)
        return -EINVAL;
    memset(cfg, 0, sizeof(*cfg));
    if (!path || (!buf && len))
        return -EINVAL;
    if (!(out.path = strdup(path))) {
        if (errs)
            fprintf(errs, "%s: %s\n", path, strerror(ENOMEM));
        return 1;
    }
    for (size_t i = 0; i < tp_nkinds; i++)
        c.nkeys += tp_kinds[i]->nkeys;
    nerr = tp_y_load(path, buf, len, errs, on_root, &c);
    tp_strset_free(&c.names);
    if (nerr) {
        tp_config_free(&out);
        return nerr;
    }
    *cfg = out;
    return 0;
}
