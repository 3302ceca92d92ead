/* twkit probe: what the two YAML front ends share (yaml.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "probe/config.h"
#include "probe/yaml.h"

/* ---- messages ---- */

void tp_y_err(struct tp_yctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tp_cfg_verr(&c->pub, c->pub.path, n->start_mark.line + 1, n->start_mark.column + 1, fmt,
                ap);
    va_end(ap);
}

void tp_y_err_at(struct tp_yctx *c, unsigned long line, unsigned long col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    tp_cfg_verr(&c->pub, c->pub.path, line, col, fmt, ap);
    va_end(ap);
}

/* ---- nodes ---- */

const char *tp_y_kind(const yaml_node_t *n)
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

bool tp_y_is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (!strcmp(tp_y_s(n), nulls[i]))
            return true;
    return false;
}

yaml_node_t *tp_y_node(struct tp_yctx *c, int id) { return yaml_document_get_node(c->doc, id); }

void tp_y_to_val(const yaml_node_t *n, struct tp_val *v)
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
        v->shape = tp_y_is_null(n) ? TP_V_NULL : TP_V_SCALAR;
        v->s = tp_y_s(n);
        v->len = tp_y_len(n);
    }
}

bool tp_y_is_merge_key(const yaml_node_t *k)
{
    return k->type == YAML_SCALAR_NODE && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           tp_y_len(k) == 2 && !memcmp(tp_y_s(k), "<<", 2);
}

/* The items of a mapping or a sequence, for keys that judge nested values
 * (config.h, struct tp_front); the context is a tp_yctx (pub first). */
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
    struct tp_yctx *c = (struct tp_yctx *)pc;
    const yaml_node_t *n = v->node;
    bool map = n->type == YAML_MAPPING_NODE;

    if (name && map)
        tp_y_to_val(tp_y_node(c, n->data.mapping.pairs.start[i].key), name);
    else if (name)
        memset(name, 0, sizeof(*name));
    tp_y_to_val(tp_y_node(c, map ? n->data.mapping.pairs.start[i].value
                                 : n->data.sequence.items.start[i]),
                item);
}

static const struct tp_front yaml_front = {yaml_nitems, yaml_item};

/* ---- keys ---- */

void tp_y_unknown_key(struct tp_yctx *c, const yaml_node_t *k, const char *where,
                        const char *const *cands, size_t ncands)
{
    struct tp_quoted q;
    const char *best = tp_cfg_suggest(tp_y_s(k), cands, ncands);
    char hint[128];
    size_t n = 0;

    if (best)
        snprintf(hint, sizeof(hint), " (did you mean %s?)", best);
    else if (where || !ncands)
        hint[0] = '\0';
    else { /* " (expected a, b or c)" */
        n = (size_t)snprintf(hint, sizeof(hint), " (expected %s", cands[0]);
        for (size_t i = 1; i < ncands && n < sizeof(hint); i++)
            n += (size_t)snprintf(hint + n, sizeof(hint) - n, "%s%s",
                                  i + 1 == ncands ? " or " : ", ", cands[i]);
        if (n < sizeof(hint))
            snprintf(hint + n, sizeof(hint) - n, ")");
    }
    if (where)
        tp_y_err(c, k, "unknown key %s in %s%s", tp_quote(&q, tp_y_s(k), tp_y_len(k)), where, hint);
    else
        tp_y_err(c, k, "unknown top-level key %s%s", tp_quote(&q, tp_y_s(k), tp_y_len(k)), hint);
}

/* A mapping value: its pairs, each name a string, each given to the key
 * on its own. Duplicate names are found here (libyaml keeps both), with
 * the key's fold deciding whether "Host" and "host" are the same. */
static bool walk_map(struct tp_yctx *c, struct tp_def *def, const struct tp_key *key,
                     const yaml_node_t *map)
{
    bool ok = true;

    if (map->type != YAML_MAPPING_NODE || tp_y_is_null(map)) {
        tp_y_err(c, map, "%s must be a mapping of names to values, not %s", key->name,
                 tp_y_is_null(map) ? "empty" : tp_y_kind(map));
        return false;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = tp_y_node(c, p->key), *v = tp_y_node(c, p->value);
        struct tp_val kv, vv;
        struct tp_arg a;
        struct tp_quoted q;
        bool dup = false;

        if (k->type != YAML_SCALAR_NODE || tp_y_is_null(k)) {
            tp_y_err(c, k, "a %s name must be a string, not %s", key->what,
                     tp_y_is_null(k) ? "empty" : tp_y_kind(k));
            ok = false;
            continue;
        }
        for (yaml_node_pair_t *e = map->data.mapping.pairs.start; e < p && !dup; e++) {
            yaml_node_t *ek = tp_y_node(c, e->key);
            if (ek->type == YAML_SCALAR_NODE &&
                !(key->fold ? strcasecmp(tp_y_s(ek), tp_y_s(k)) : strcmp(tp_y_s(ek), tp_y_s(k)))) {
                tp_y_err(c, k, "duplicate %s name %s (first at line %lu)", key->what,
                         tp_quote(&q, tp_y_s(k), tp_y_len(k)), (unsigned long)ek->start_mark.line + 1);
                dup = true;
            }
        }
        if (dup) {
            ok = false;
            continue;
        }
        tp_y_to_val(k, &kv);
        tp_y_to_val(v, &vv);
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
static bool walk_list(struct tp_yctx *c, struct tp_def *def, const struct tp_key *key,
                      const yaml_node_t *v)
{
    yaml_node_item_t one, *it = &one, *end = &one + 1;
    bool ok = true;

    if (v->type == YAML_SEQUENCE_NODE) {
        it = v->data.sequence.items.start;
        end = v->data.sequence.items.top;
    } else if (v->type != YAML_SCALAR_NODE) {
        tp_y_err(c, v, "%s must be %s, not %s", key->name, key->list_what, tp_y_kind(v));
        return false;
    }
    if (it == end && key->blackbox)
        return true; /* blackbox's lists: empty is the default (valid_status_codes: []) */
    if (it == end) {
        tp_y_err(c, v, "%s is empty", key->name);
        return false;
    }
    for (; it < end; it++) {
        const yaml_node_t *item = it == &one ? v : tp_y_node(c, *it);
        struct tp_val iv;
        struct tp_arg a;

        tp_y_to_val(item, &iv);
        memset(&a, 0, sizeof(a));
        a.v = &iv;
        if (!(a.s = tp_val_str(&c->pub, key->name, &iv, key->what)) ||
            !tp_key_apply(&c->pub, key, def, &a))
            ok = false;
    }
    return ok;
}

bool tp_y_apply(struct tp_yctx *c, struct tp_def *def, const struct tp_key *key,
                const yaml_node_t *val)
{
    struct tp_val v;
    struct tp_arg a;

    switch (key->type) {
    case TP_T_LOADER:
        return true; /* judged by load_probe, which needs them first */
    case TP_T_MAP:
        return walk_map(c, def, key, val);
    case TP_T_LIST:
        return walk_list(c, def, key, val);
    default:
        tp_y_to_val(val, &v);
        return tp_key_convert(&c->pub, key, &v, &a) && tp_key_apply(&c->pub, key, def, &a);
    }
}
/* ---- YAML ---- */

static void yaml_problem(struct tp_yctx *c, const yaml_parser_t *p, const char *buf, size_t len)
{
    unsigned long line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
    const char *problem = p->problem ? p->problem : "unknown YAML error";

    if (p->error == YAML_MEMORY_ERROR) {
        tp_cfg_oom(&c->pub);
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
            tp_y_err_at(c, line, col, "%s (byte 0x%02x)", problem, p->problem_value);
        else
            tp_y_err_at(c, line, col, "%s", problem);
        return;
    }
    if (p->context)
        tp_y_err_at(c, line, col, "%s (%s at line %lu, column %lu)", problem, p->context,
               (unsigned long)p->context_mark.line + 1, (unsigned long)p->context_mark.column + 1);
    else
        tp_y_err_at(c, line, col, "%s", problem);
}

/* The whole file, so a reader error's byte offset can be turned into a
 * line and column. */
int tp_y_slurp(const char *path, char **out, size_t *outlen)
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


int tp_y_load(const char *path, const char *buf, size_t len, FILE *errs,
              void (*root)(struct tp_yctx *y, yaml_node_t *root, void *arg), void *arg)
{
    struct tp_yctx c = {.pub = {.path = path, .errs = errs}};
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    char *slash;

    if (!(c.dir = strdup(path))) {
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
    if (!yaml_parser_initialize(&parser)) {
        tp_cfg_oom(&c.pub);
        goto done;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_problem(&c, &parser, buf, len);
        yaml_parser_delete(&parser);
        goto done;
    }
    c.doc = &doc;
    root(&c, yaml_document_get_root_node(&doc), arg);
    /* libyaml stops after one document; a second one would be silently
     * ignored, which is worse than refusing it. */
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_problem(&c, &parser, buf, len);
    } else {
        yaml_node_t *r = yaml_document_get_root_node(&extra);
        if (r && !tp_y_is_null(r)) /* a stray "---" at the end is harmless */
            tp_y_err_at(&c, r->start_mark.line + 1, r->start_mark.column + 1,
                        "a second YAML document: a config is one document");
        yaml_document_delete(&extra);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
done:
    tp_cfg_flush(&c.pub);
    free(c.dir);
    return c.pub.nerr;
}
