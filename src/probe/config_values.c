/* twkit probe: what key tables are made of (config.h): values converted
 * to a key's type, the messages for values of the wrong type, and small
 * helpers for the kinds' own keys.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "probe/config.h"
#include "twkit/time.h"

/* ---- small helpers ---- */

char *tp_cfg_dupn(struct tp_cfgctx *c, const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (!p) {
        tp_cfg_oom(c);
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *tp_cfg_dup(struct tp_cfgctx *c, const char *s) { return tp_cfg_dupn(c, s, strlen(s)); }

bool tp_parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    unsigned long v = 0;

    if (!*s)
        return false;
    for (; *s; s++) {
        if (!tp_is_digit(*s) || v > hi)
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

char *tp_fmt_ms(char *buf, size_t n, uint64_t ms)
{
    if (ms && ms % 1000 == 0)
        snprintf(buf, n, "%" PRIu64 "s", ms / 1000);
    else
        snprintf(buf, n, "%" PRIu64 "ms", ms);
    return buf;
}

bool tp_is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!tp_is_alnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

bool tp_set_kv(struct tp_cfgctx *c, struct tp_kv **kv, size_t *n, const char *k, const char *v)
{
    char *nv;

    for (size_t i = 0; i < *n; i++) {
        if (!strcmp((*kv)[i].key, k)) {
            if (!(nv = tp_cfg_dup(c, v)))
                return false;
            free((*kv)[i].value);
            (*kv)[i].value = nv;
            return true;
        }
    }
    struct tp_kv *grown = realloc(*kv, (*n + 1) * sizeof(**kv));
    if (!grown) {
        tp_cfg_oom(c);
        return false;
    }
    *kv = grown;
    grown[*n].key = tp_cfg_dup(c, k);
    grown[*n].value = tp_cfg_dup(c, v);
    if (!grown[*n].key || !grown[*n].value) {
        free(grown[*n].key);
        free(grown[*n].value);
        return false;
    }
    (*n)++;
    return true;
}

void tp_free_kv(struct tp_kv **kv, size_t *n)
{
    for (size_t i = 0; i < *n; i++) {
        free((*kv)[i].key);
        free((*kv)[i].value);
    }
    free(*kv);
    *kv = NULL;
    *n = 0;
}

/* ---- values of each type ---- */

const char *tp_val_kind(const struct tp_val *v)
{
    switch (v->shape) {
    case TP_V_MAP:
        return "a mapping";
    case TP_V_LIST:
        return "a sequence";
    default:
        return "a single value";
    }
}

/* YAML's "\0" escape could put a NUL in a string, and C strings would cut
 * it there. */
const char *tp_val_str(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                       const char *what)
{
    if (v->shape == TP_V_MAP || v->shape == TP_V_LIST) {
        tp_cfg_err(c, &v->at, "%s must be %s, not %s", key, what, tp_val_kind(v));
        return NULL;
    }
    if (v->shape == TP_V_NULL) {
        tp_cfg_err(c, &v->at, "%s has no value (expected %s)", key, what);
        return NULL;
    }
    if (strlen(v->s) != v->len) {
        tp_cfg_err(c, &v->at, "%s contains a NUL byte", key);
        return NULL;
    }
    return v->s;
}

static bool get_duration(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                         uint64_t min_ms, uint64_t *out)
{
    struct tp_quoted q;
    char b[32];
    uint64_t ms;
    const char *s = tp_val_str(c, key, v, "a duration like 5s or 500ms");
    int rc;

    if (!s)
        return false;
    rc = tw_parse_duration(s, &ms);
    if (rc == -ERANGE) {
        tp_cfg_err(c, &v->at, "bad %s %s: too long", key, tp_qs(&q, s));
        return false;
    }
    if (rc < 0) {
        tp_cfg_err(c, &v->at, "bad %s %s: expected a duration like 5s or 500ms", key,
                   tp_qs(&q, s));
        return false;
    }
    if (ms < min_ms) {
        if (min_ms == 1)
            tp_cfg_err(c, &v->at, "bad %s %s: must be more than 0", key, tp_qs(&q, s));
        else
            tp_cfg_err(c, &v->at, "bad %s %s: must be at least %s", key, tp_qs(&q, s),
                       tp_fmt_ms(b, sizeof(b), min_ms));
        return false;
    }
    *out = ms;
    return true;
}

static bool get_uint(struct tp_cfgctx *c, const char *key, const struct tp_val *v, unsigned lo,
                     unsigned hi, unsigned *out)
{
    struct tp_quoted q;
    unsigned long n;
    const char *s = tp_val_str(c, key, v, "an integer");

    if (!s)
        return false;
    if (!tp_parse_uint(s, lo, hi, &n)) {
        tp_cfg_err(c, &v->at, "bad %s %s: expected an integer from %u to %u", key,
                   tp_qs(&q, s), lo, hi);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static bool get_bool(struct tp_cfgctx *c, const char *key, const struct tp_val *v, bool *out)
{
    struct tp_quoted q;
    const char *s = tp_val_str(c, key, v, "true or false");

    if (!s)
        return false;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(s, "false") || !strcasecmp(s, "no")) {
        *out = false;
        return true;
    }
    tp_cfg_err(c, &v->at, "bad %s %s: expected true or false", key, tp_qs(&q, s));
    return false;
}

char *tp_cfg_path(struct tp_cfgctx *c, const char *rel)
{
    char *p;

    if (rel[0] == '/' || !c->dir[0])
        return tp_cfg_dup(c, rel);
    if (asprintf(&p, "%s%s", c->dir, rel) < 0) {
        tp_cfg_oom(c);
        return NULL;
    }
    return p;
}

static bool get_path(struct tp_cfgctx *c, const char *key, const struct tp_val *v, char **out)
{
    struct tp_quoted q;
    struct stat st;
    const char *s = tp_val_str(c, key, v, "a file name");
    char *p;
    FILE *f;

    if (!s)
        return false;
    if (!*s) {
        tp_cfg_err(c, &v->at, "%s is empty", key);
        return false;
    }
    if (!(p = tp_cfg_path(c, s)))
        return false;
    /* Opening it is the only honest readability test (access() answers for
     * the real uid, and a directory "opens" but cannot be read as PEM). */
    f = fopen(p, "r");
    if (!f || (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))) {
        int e = f ? EISDIR : errno;
        if (c->unreadable) { /* blackbox.yml: the module waits, the rest run */
            snprintf(c->unreadable, TP_UNREADABLE_LEN, "cannot read %s %s: %s", key,
                     tp_qs(&q, s), strerror(e));
            c->unreadable_at = v->at;
        } else {
            tp_cfg_err(c, &v->at, "cannot read %s %s: %s", key, tp_qs(&q, s), strerror(e));
        }
        if (f)
            fclose(f);
        free(p);
        return false;
    }
    fclose(f);
    *out = p;
    return true;
}

static bool get_regex(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                      struct tp_regex *re)
{
    struct tp_quoted q;
    char eb[200];
    const char *s = tp_val_str(c, key, v, "a regular expression");
    int rc;

    if (!s)
        return false;
    if (!*s) {
        tp_cfg_err(c, &v->at, "%s is empty", key);
        return false;
    }
    rc = tp_regex_compile(re, s, strlen(s), eb, sizeof(eb));
    if (rc == -ENOMEM) {
        tp_cfg_oom(c);
        return false;
    }
    if (rc < 0) {
        tp_cfg_err(c, &v->at, "bad %s regex %s: %s", key, tp_qs(&q, s), eb);
        return false;
    }
    return true;
}

bool tp_cfg_bool(struct tp_cfgctx *c, const char *key, const struct tp_val *v, bool *out)
{
    return get_bool(c, key, v, out);
}

bool tp_cfg_file(struct tp_cfgctx *c, const char *key, const struct tp_val *v, char **out)
{
    return get_path(c, key, v, out);
}

bool tp_cfg_regex(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                  struct tp_regex *re)
{
    return get_regex(c, key, v, re);
}

bool tp_key_convert(struct tp_cfgctx *c, const struct tp_key *k, const struct tp_val *v,
                    struct tp_arg *a)
{
    memset(a, 0, sizeof(*a));
    a->v = v;
    switch (k->type) {
    case TP_T_LOADER:
    case TP_T_VALUE:
    case TP_T_MAP:
    case TP_T_LIST:
        return true;
    case TP_T_STR:
        return (a->s = tp_val_str(c, k->name, v, k->what)) != NULL;
    case TP_T_DURATION:
        return get_duration(c, k->name, v, k->lo, &a->ms);
    case TP_T_UINT:
        return get_uint(c, k->name, v, (unsigned)k->lo, (unsigned)k->hi, &a->u);
    case TP_T_BOOL:
        return get_bool(c, k->name, v, &a->b);
    case TP_T_PATH:
        return get_path(c, k->name, v, &a->path);
    case TP_T_REGEX:
        return get_regex(c, k->name, v, &a->rx);
    }
    return false;
}

bool tp_key_validate(struct tp_cfgctx *c, const struct tp_key *k, struct tp_arg *a)
{
    if (k->validate && !k->validate(c, a)) {
        if (k->type == TP_T_PATH)
            free(a->path);
        if (k->type == TP_T_REGEX)
            tp_regex_free(&a->rx);
        return false;
    }
    return true;
}

bool tp_key_apply(struct tp_cfgctx *c, const struct tp_key *k, struct tp_def *def,
                  struct tp_arg *a)
{
    return tp_key_validate(c, k, a) && (!k->apply || k->apply(c, def, a));
}
