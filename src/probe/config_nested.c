/* twkit probe: nested values in a config (config.h): the items of a
 * mapping or a list that a key judges itself (tls_config, basic_auth,
 * query_response steps, fail_if_header_matches items), read through the
 * front end that loaded the file, whichever it is. */
#include <stdlib.h>
#include <string.h>

#include "probe/config.h"

size_t tp_val_nitems(struct tp_cfgctx *c, const struct tp_val *v)
{
    return c->front && c->front->nitems ? c->front->nitems(c, v) : 0;
}

void tp_val_item(struct tp_cfgctx *c, const struct tp_val *v, size_t i, struct tp_val *name,
                 struct tp_val *item)
{
    c->front->item(c, v, i, name, item);
}

void tp_cfg_unknown_inner(struct tp_cfgctx *c, const struct tp_val *name, const char *where,
                          const char *const *cands, size_t ncands)
{
    struct tp_quoted q;
    const char *best = tp_cfg_suggest(name->s, cands, ncands);
    char list[512];
    size_t used = 0;

    list[0] = '\0';
    for (size_t i = 0; i < ncands; i++) {
        if (used < sizeof(list))
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
                                     i ? (i + 1 == ncands ? " or " : ", ") : "", cands[i]);
    }
    if (best)
        tp_cfg_err(c, &name->at, "unknown key %s in %s (did you mean %s?)",
                   tp_quote(&q, name->s, name->len), where, best);
    else
        tp_cfg_err(c, &name->at, "unknown key %s in %s (expected %s)",
                   tp_quote(&q, name->s, name->len), where, list);
}

bool tp_cfg_inner_map(struct tp_cfgctx *c, const char *where, const struct tp_val *v,
                      const char *const *cands, size_t ncands,
                      bool (*each)(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                                   const struct tp_val *val, void *arg),
                      void *arg)
{
    size_t n = tp_val_nitems(c, v);
    bool ok = true;

    if (!c->front) { /* never taken as empty: the front end cannot say */
        tp_cfg_err(c, &v->at, "%s: nested values cannot be read here", where);
        return false;
    }
    if (v->shape != TP_V_MAP) {
        tp_cfg_err(c, &v->at, "%s must be a mapping, not %s", where,
                   v->shape == TP_V_NULL ? "empty" : tp_val_kind(v));
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        struct tp_val name, val, prev, scratch;
        struct tp_quoted q;
        size_t k;
        bool dup = false;

        tp_val_item(c, v, i, &name, &val);
        if (name.shape != TP_V_SCALAR || strlen(name.s) != name.len) {
            tp_cfg_err(c, &name.at, "a key of %s must be a name, not %s", where,
                       name.shape == TP_V_NULL ? "empty" : tp_val_kind(&name));
            ok = false;
            continue;
        }
        for (size_t j = 0; j < i && !dup; j++) {
            tp_val_item(c, v, j, &prev, &scratch);
            if (prev.shape == TP_V_SCALAR && !strcmp(prev.s, name.s)) {
                tp_cfg_err(c, &name.at, "duplicate key %s in %s (first at line %lu)",
                           tp_qs(&q, name.s), where, prev.at.line);
                dup = true;
            }
        }
        if (dup) {
            ok = false;
            continue;
        }
        for (k = 0; k < ncands && strcmp(cands[k], name.s); k++)
            ;
        if (k == ncands) {
            tp_cfg_unknown_inner(c, &name, where, cands, ncands);
            ok = false;
            continue;
        }
        if (!each(c, k, &name, &val, arg))
            ok = false;
    }
    return ok;
}

/* Inner keys judged by rows of their own (a query_response step): each
 * pair's value converted to its row's type and validated, then set. */
struct inner_rows {
    const struct tp_key *keys;
    bool (*set)(struct tp_cfgctx *c, void *obj, const struct tp_key *k, struct tp_arg *a);
    void *obj;
};

static bool inner_row(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                      const struct tp_val *val, void *arg)
{
    const struct inner_rows *r = arg;
    const struct tp_key *key = &r->keys[k];
    struct tp_arg a;

    if (!tp_key_convert(c, key, val, &a))
        return false;
    a.name = name;
    return tp_key_validate(c, key, &a) && r->set(c, r->obj, key, &a);
}

bool tp_cfg_inner(struct tp_cfgctx *c, const struct tp_val *v, const char *where,
                  const struct tp_key *keys, size_t nkeys,
                  bool (*set)(struct tp_cfgctx *c, void *obj, const struct tp_key *k,
                              struct tp_arg *a),
                  void *obj)
{
    const char *names[32];
    struct inner_rows r = {keys, set, obj};

    if (nkeys > sizeof(names) / sizeof(names[0]))
        return false; /* a table this size is a programming error */
    for (size_t j = 0; j < nkeys; j++)
        names[j] = keys[j].name;
    return tp_cfg_inner_map(c, where, v, names, nkeys, inner_row, &r);
}
