/* twkit probe: the YAML configuration (docs/PROBE.md, "Configuration").
 *
 * The loader uses libyaml's document API because every node keeps its start
 * mark, so any message can point at the exact line and column. It never
 * stops at the first problem: each key is judged on its own and a bad one
 * only stops what depends on it (a bad kind leaves the targets unjudged, a
 * bad interval leaves the timeout comparison out), so one run lists all the
 * mistakes of a file. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "probe/config.h"
#include "probe/probe.h"
#include "twkit/time.h"

const char *const tp_kind_names[TP_NKIND] = {"tcp", "http", "tls"};

/* ---- the loader's bookkeeping ---- */

enum key {
    K_NAME, K_KIND, K_TARGET, K_TARGETS_FILE, K_INTERVAL, K_TIMEOUT, K_SUCCESS,
    K_FAILURE, K_LABELS, K_CLOSE, K_SEND, K_EXPECT, K_METHOD, K_STATUS, K_HEADERS,
    K_BODY, K_EXPECT_BODY, K_REDIRECTS, K_TLS_VERIFY, K_CA_FILE, K_SERVER_NAME, K_N
};

#define KTCP (1u << TP_TCP)
#define KHTTP (1u << TP_HTTP)
#define KTLS (1u << TP_TLS)
#define KALL (KTCP | KHTTP | KTLS)

static const struct {
    const char *name;
    unsigned kinds;
    bool in_defaults;
    const char *only; /* the end of "X applies to ..." */
} keys[K_N] = {
    [K_NAME] = {"name", KALL, false, NULL},
    [K_KIND] = {"kind", KALL, false, NULL},
    [K_TARGET] = {"target", KALL, false, NULL},
    [K_TARGETS_FILE] = {"targets_file", KALL, false, NULL},
    [K_INTERVAL] = {"interval", KALL, true, NULL},
    [K_TIMEOUT] = {"timeout", KALL, true, NULL},
    [K_SUCCESS] = {"success_threshold", KALL, true, NULL},
    [K_FAILURE] = {"failure_threshold", KALL, true, NULL},
    [K_LABELS] = {"labels", KALL, true, NULL},
    [K_CLOSE] = {"close", KALL, true, NULL},
    [K_SEND] = {"send", KTCP, false, "tcp probes only"},
    [K_EXPECT] = {"expect", KTCP, false, "tcp probes only"},
    [K_METHOD] = {"method", KHTTP, false, "http probes only"},
    [K_STATUS] = {"expect_status", KHTTP, false, "http probes only"},
    [K_HEADERS] = {"headers", KHTTP, false, "http probes only"},
    [K_BODY] = {"body", KHTTP, false, "http probes only"},
    [K_EXPECT_BODY] = {"expect_body", KHTTP, false, "http probes only"},
    [K_REDIRECTS] = {"max_redirects", KHTTP, false, "http probes only"},
    [K_TLS_VERIFY] = {"tls_verify", KHTTP | KTLS, true, "http and tls probes only"},
    [K_CA_FILE] = {"ca_file", KHTTP | KTLS, true, "http and tls probes only"},
    [K_SERVER_NAME] = {"server_name", KTLS, false, "tls probes only"},
};

#define DEFAULTS_KEYS \
    "interval, timeout, success_threshold, failure_threshold, labels, close, tls_verify, ca_file"

static const char *const reserved_labels[] = {"name", "kind", "target", "phase", "errno"};

struct slot {
    yaml_node_t *key, *val;
};

/* The keys of one mapping, by key, and in the order they were written (so
 * messages come out in file order). */
struct slots {
    struct slot s[K_N];
    enum key order[K_N];
    unsigned n;
};

/* A set of strings with the line each was first seen on, for duplicate
 * names and targets. Open addressing, so 20,000 targets stay linear. */
struct strset {
    struct sent {
        const char *s;
        unsigned long line;
    } *t;
    size_t cap, n;
};

/* Messages are kept and printed sorted by where they point in the config,
 * because the loader judges some things out of file order (defaults before
 * probes wherever they are written, a probe's missing keys after its
 * keys). A targets file's messages sort at its targets_file key. */
struct msg {
    unsigned long line, col, seq;
    char *text;
};

struct ctx {
    const char *path;
    char *dir;     /* prefix for relative paths: "conf/", "/", or "" */
    FILE *errs;
    yaml_document_t *doc;
    int nerr;
    bool oom_said;
    struct strset names;
    struct msg *msgs;
    size_t nmsgs, capmsgs;
    unsigned long anchor_line, anchor_col; /* while reading a targets file */
};

/* `defaults:` as parsed, with where each value came from. */
struct dflt {
    struct tp_def def;
    struct slots sl;
    bool bad[K_N];
};

/* ---- messages ---- */

static void verr_at(struct ctx *c, const char *file, unsigned long line, unsigned long col,
                    const char *fmt, va_list ap)
{
    char *body = NULL, *text = NULL;
    bool other = file != c->path;
    va_list again;
    int n;

    c->nerr++;
    if (!c->errs)
        return;
    if (c->nmsgs == c->capmsgs) {
        size_t ncap = c->capmsgs ? c->capmsgs * 2 : 16;
        struct msg *nm = realloc(c->msgs, ncap * sizeof(*nm));
        if (nm) {
            c->msgs = nm;
            c->capmsgs = ncap;
        }
    }
    va_copy(again, ap);
    n = c->nmsgs < c->capmsgs ? vasprintf(&body, fmt, again) : -1;
    va_end(again);
    if (n >= 0 && asprintf(&text, "%s:%lu:%lu: %s", file, line, col, body) >= 0) {
        struct msg *m = &c->msgs[c->nmsgs];
        m->line = other ? c->anchor_line : line;
        m->col = other ? c->anchor_col : col;
        m->seq = c->nmsgs++;
        m->text = text;
        free(body);
        return;
    }
    /* Short of memory: out of order is better than not at all. */
    if (n >= 0)
        free(body);
    fprintf(c->errs, "%s:%lu:%lu: ", file, line, col);
    vfprintf(c->errs, fmt, ap);
    fputc('\n', c->errs);
}

static int msg_cmp(const void *a, const void *b)
{
    const struct msg *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void flush_msgs(struct ctx *c)
{
    if (c->nmsgs)
        qsort(c->msgs, c->nmsgs, sizeof(*c->msgs), msg_cmp);
    for (size_t i = 0; i < c->nmsgs; i++) {
        fprintf(c->errs, "%s\n", c->msgs[i].text);
        free(c->msgs[i].text);
    }
    free(c->msgs);
    c->msgs = NULL;
    c->nmsgs = c->capmsgs = 0;
}

__attribute__((format(printf, 5, 6))) static void
err_at(struct ctx *c, const char *file, unsigned long line, unsigned long col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verr_at(c, file, line, col, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void
err_node(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verr_at(c, c->path, n->start_mark.line + 1, n->start_mark.column + 1, fmt, ap);
    va_end(ap);
}

/* Once per load: after the first failed allocation the rest would only
 * repeat it. */
static void oom(struct ctx *c)
{
    c->nerr++;
    if (c->errs && !c->oom_said)
        fprintf(c->errs, "%s: %s\n", c->path, strerror(ENOMEM));
    c->oom_said = true;
}

/* A value for a message: in double quotes, escaped, and cut short, so a
 * stray control character or a 10 kB line cannot wreck the output. */
struct quoted {
    char b[100];
};

static const char *quote(struct quoted *q, const char *s, size_t n)
{
    size_t j = 0;

    q->b[j++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (j > sizeof(q->b) - 10) {
            memcpy(q->b + j, "...", 3);
            j += 3;
            break;
        }
        if (ch == '"' || ch == '\\') {
            q->b[j++] = '\\';
            q->b[j++] = (char)ch;
        } else if (ch == '\n') {
            q->b[j++] = '\\';
            q->b[j++] = 'n';
        } else if (ch < 0x20 || ch == 0x7f) {
            j += (size_t)snprintf(q->b + j, 5, "\\x%02x", ch);
        } else {
            q->b[j++] = (char)ch;
        }
    }
    q->b[j++] = '"';
    q->b[j] = '\0';
    return q->b;
}

static const char *qs(struct quoted *q, const char *s) { return quote(q, s, strlen(s)); }

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

/* Levenshtein distance, capped: only to suggest a key for a typo. */
static unsigned edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[33];

    if (la > 32 || lb > 32)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* where NULL: the top level. */
static void unknown_key(struct ctx *c, const yaml_node_t *k, const char *where,
                        const char *const *cands, size_t ncands)
{
    struct quoted q;
    const char *best = NULL;
    unsigned bestd = 3; /* further than 2 edits is not a typo */
    char hint[64];

    for (size_t i = 0; i < ncands; i++) {
        unsigned d = edit_distance(sval(k), cands[i]);
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
        err_node(c, k, "unknown key %s in %s%s", quote(&q, sval(k), slen(k)), where, hint);
    else
        err_node(c, k, "unknown top-level key %s%s", quote(&q, sval(k), slen(k)), hint);
}

/* ---- small helpers ---- */

static char *dup_n(struct ctx *c, const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (!p) {
        oom(c);
        return NULL;
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static char *dup_s(struct ctx *c, const char *s) { return dup_n(c, s, strlen(s)); }

/* Relative paths in a config are relative to the config itself, so it can
 * be run from any directory. */
static char *resolve(struct ctx *c, const char *rel)
{
    char *p;

    if (rel[0] == '/' || !c->dir[0])
        return dup_s(c, rel);
    if (asprintf(&p, "%s%s", c->dir, rel) < 0) {
        oom(c);
        return NULL;
    }
    return p;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Add s (not copied: it must outlive the set). Returns 1 if added, 0 if it
 * was there already (*first: the line it was added with), -ENOMEM. */
static int strset_add(struct strset *ss, const char *s, unsigned long line, unsigned long *first)
{
    if ((ss->n + 1) * 2 > ss->cap) {
        size_t ncap = ss->cap ? ss->cap * 2 : 64;
        struct sent *nt = calloc(ncap, sizeof(*nt));
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

static void strset_free(struct strset *ss)
{
    free(ss->t);
    memset(ss, 0, sizeof(*ss));
}

static bool parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
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

static char *fmt_ms(char *buf, size_t n, uint64_t ms)
{
    if (ms && ms % 1000 == 0)
        snprintf(buf, n, "%" PRIu64 "s", ms / 1000);
    else
        snprintf(buf, n, "%" PRIu64 "ms", ms);
    return buf;
}

/* RFC 9110 tchar: method and header names. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!tp_is_alnum(*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

/* The value of key k as a string: a scalar, not null, with no NUL byte
 * (YAML's "\0" escape could put one there and C strings would cut it). */
static const char *want_str(struct ctx *c, const char *key, const yaml_node_t *v,
                            const char *what)
{
    if (v->type != YAML_SCALAR_NODE) {
        err_node(c, v, "%s must be %s, not %s", key, what, node_kind(v));
        return NULL;
    }
    if (is_null(v)) {
        err_node(c, v, "%s has no value (expected %s)", key, what);
        return NULL;
    }
    if (strlen(sval(v)) != slen(v)) {
        err_node(c, v, "%s contains a NUL byte", key);
        return NULL;
    }
    return sval(v);
}

static yaml_node_t *node(struct ctx *c, int id) { return yaml_document_get_node(c->doc, id); }

/* ---- values ---- */

static bool get_duration(struct ctx *c, const char *key, const yaml_node_t *v, uint64_t min_ms,
                         uint64_t *out)
{
    struct quoted q;
    char b[32];
    uint64_t ms;
    const char *s = want_str(c, key, v, "a duration like 5s or 500ms");
    int rc;

    if (!s)
        return false;
    rc = tw_parse_duration(s, &ms);
    if (rc == -ERANGE) {
        err_node(c, v, "bad %s %s: too long", key, qs(&q, s));
        return false;
    }
    if (rc < 0) {
        err_node(c, v, "bad %s %s: expected a duration like 5s or 500ms", key, qs(&q, s));
        return false;
    }
    if (ms < min_ms) {
        if (min_ms == 1)
            err_node(c, v, "bad %s %s: must be more than 0", key, qs(&q, s));
        else
            err_node(c, v, "bad %s %s: must be at least %s", key, qs(&q, s),
                     fmt_ms(b, sizeof(b), min_ms));
        return false;
    }
    *out = ms;
    return true;
}

static bool get_uint(struct ctx *c, const char *key, const yaml_node_t *v, unsigned lo,
                     unsigned hi, unsigned *out)
{
    struct quoted q;
    unsigned long n;
    const char *s = want_str(c, key, v, "an integer");

    if (!s)
        return false;
    if (!parse_uint(s, lo, hi, &n)) {
        err_node(c, v, "bad %s %s: expected an integer from %u to %u", key, qs(&q, s), lo, hi);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static bool get_bool(struct ctx *c, const char *key, const yaml_node_t *v, bool *out)
{
    struct quoted q;
    const char *s = want_str(c, key, v, "true or false");

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
    err_node(c, v, "bad %s %s: expected true or false", key, qs(&q, s));
    return false;
}

/* Replaces *out only on success, so a value from defaults is freed here
 * rather than leaked. */
static bool get_path(struct ctx *c, const char *key, const yaml_node_t *v, char **out)
{
    struct quoted q;
    struct stat st;
    const char *s = want_str(c, key, v, "a file name");
    char *p;
    FILE *f;

    if (!s)
        return false;
    if (!*s) {
        err_node(c, v, "%s is empty", key);
        return false;
    }
    if (!(p = resolve(c, s)))
        return false;
    /* Opening it is the only honest readability test (access() answers for
     * the real uid, and a directory "opens" but cannot be read as PEM). */
    f = fopen(p, "r");
    if (!f || (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode))) {
        int e = f ? EISDIR : errno;
        err_node(c, v, "cannot read %s %s: %s", key, qs(&q, s), strerror(e));
        if (f)
            fclose(f);
        free(p);
        return false;
    }
    fclose(f);
    free(*out);
    *out = p;
    return true;
}

static bool get_regex(struct ctx *c, const char *key, const yaml_node_t *v, char **text,
                      regex_t *re)
{
    struct quoted q;
    char eb[160];
    const char *s = want_str(c, key, v, "a regular expression");
    int rc;

    if (!s)
        return false;
    if (!*s) {
        err_node(c, v, "%s is empty", key);
        return false;
    }
    rc = regcomp(re, s, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, re, eb, sizeof(eb));
        err_node(c, v, "bad %s regex %s: %s", key, qs(&q, s), eb);
        return false;
    }
    if (!(*text = dup_s(c, s))) {
        regfree(re);
        return false;
    }
    return true;
}

static int hexval(char ch)
{
    if (tp_is_digit(ch))
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Escapes are decoded here as well as by YAML, because in plain and single
 * quoted scalars YAML leaves "\r\n" alone, and that is how most people
 * write a protocol line. The scalar's length is used, not strlen: YAML's
 * own "\0" may already be in it. */
static bool get_send(struct ctx *c, struct tp_def *def, const yaml_node_t *v)
{
    const char *s;
    size_t n, j = 0;
    char *b;

    if (v->type != YAML_SCALAR_NODE) {
        err_node(c, v, "send must be a string, not %s", node_kind(v));
        return false;
    }
    if (is_null(v)) {
        err_node(c, v, "send has no value");
        return false;
    }
    s = sval(v);
    n = slen(v);
    if (n == 0) {
        err_node(c, v, "send is empty");
        return false;
    }
    if (!(b = malloc(n + 1))) {
        oom(c);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            b[j++] = s[i];
            continue;
        }
        if (++i == n) {
            err_node(c, v, "send ends with a lone backslash");
            free(b);
            return false;
        }
        switch (s[i]) {
        case 'r': b[j++] = '\r'; break;
        case 'n': b[j++] = '\n'; break;
        case 't': b[j++] = '\t'; break;
        case '\\': b[j++] = '\\'; break;
        case '0': b[j++] = '\0'; break;
        case 'x':
            if (i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
                b[j++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
                i += 2;
                break;
            }
            err_node(c, v, "bad escape in send: \\x needs two hex digits");
            free(b);
            return false;
        default:
            if ((unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f)
                err_node(c, v, "bad escape \"\\%c\" in send (use \\r \\n \\t \\\\ \\0 or "
                               "\\xHH)", s[i]);
            else
                err_node(c, v, "bad escape in send (use \\r \\n \\t \\\\ \\0 or \\xHH)");
            free(b);
            return false;
        }
    }
    b[j] = '\0';
    def->send = b;
    def->send_len = j;
    return true;
}

/* Add or replace (the later one wins: a probe's label over a default). */
static bool set_kv(struct ctx *c, struct tp_kv **kv, size_t *n, const char *k, const char *v)
{
    char *nv;

    for (size_t i = 0; i < *n; i++) {
        if (!strcmp((*kv)[i].key, k)) {
            if (!(nv = dup_s(c, v)))
                return false;
            free((*kv)[i].value);
            (*kv)[i].value = nv;
            return true;
        }
    }
    struct tp_kv *grown = realloc(*kv, (*n + 1) * sizeof(**kv));
    if (!grown) {
        oom(c);
        return false;
    }
    *kv = grown;
    grown[*n].key = dup_s(c, k);
    grown[*n].value = dup_s(c, v);
    if (!grown[*n].key || !grown[*n].value) {
        free(grown[*n].key);
        free(grown[*n].value);
        return false;
    }
    (*n)++;
    return true;
}

/* The pairs of a mapping value, each key a string; the callback judges
 * each pair. Duplicate keys are found here (libyaml keeps both), with
 * fold deciding whether "Host" and "host" are the same. */
typedef bool (*pair_fn)(struct ctx *c, struct tp_def *def, const yaml_node_t *k,
                        const yaml_node_t *v);

static bool each_pair(struct ctx *c, const char *key, const char *item, const yaml_node_t *map,
                      bool fold, struct tp_def *def, pair_fn fn)
{
    bool ok = true;

    if (map->type != YAML_MAPPING_NODE || is_null(map)) {
        err_node(c, map, "%s must be a mapping of names to values, not %s", key,
                 is_null(map) ? "empty" : node_kind(map));
        return false;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        struct quoted q;
        bool dup = false;

        if (k->type != YAML_SCALAR_NODE || is_null(k)) {
            err_node(c, k, "a %s name must be a string, not %s", item,
                     is_null(k) ? "empty" : node_kind(k));
            ok = false;
            continue;
        }
        for (yaml_node_pair_t *e = map->data.mapping.pairs.start; e < p && !dup; e++) {
            yaml_node_t *ek = node(c, e->key);
            if (ek->type == YAML_SCALAR_NODE &&
                !(fold ? strcasecmp(sval(ek), sval(k)) : strcmp(sval(ek), sval(k)))) {
                err_node(c, k, "duplicate %s name %s (first at line %lu)", item,
                         quote(&q, sval(k), slen(k)), (unsigned long)ek->start_mark.line + 1);
                dup = true;
            }
        }
        if (dup) {
            ok = false;
            continue;
        }
        if (!fn(c, def, k, v))
            ok = false;
    }
    return ok;
}

static bool label_pair(struct ctx *c, struct tp_def *def, const yaml_node_t *k,
                       const yaml_node_t *v)
{
    struct quoted q;
    const char *name = sval(k), *val;
    char what[120];
    bool ok = slen(k) == strlen(name) && (tp_is_alpha(name[0]) || name[0] == '_');

    for (const char *p = name; ok && *p; p++)
        ok = tp_is_alnum(*p) || *p == '_';
    if (!ok) {
        err_node(c, k, "bad label name %s: expected letters, digits and _, not starting "
                       "with a digit", quote(&q, name, slen(k)));
        return false;
    }
    if (!strncmp(name, "__", 2)) {
        err_node(c, k, "bad label name %s: names starting with __ are reserved", qs(&q, name));
        return false;
    }
    for (size_t i = 0; i < sizeof(reserved_labels) / sizeof(reserved_labels[0]); i++) {
        if (!strcmp(name, reserved_labels[i])) {
            err_node(c, k, "label name %s is reserved (twkit sets name, kind, target, "
                           "phase and errno itself)", qs(&q, name));
            return false;
        }
    }
    if (is_null(v)) {
        err_node(c, v, "label %s has no value", qs(&q, name));
        return false;
    }
    snprintf(what, sizeof(what), "label %s", qs(&q, name));
    if (!(val = want_str(c, what, v, "a string")))
        return false;
    return set_kv(c, &def->labels, &def->nlabels, name, val);
}

static bool header_pair(struct ctx *c, struct tp_def *def, const yaml_node_t *k,
                        const yaml_node_t *v)
{
    struct quoted q;
    const char *val;
    char what[120];

    if (slen(k) != strlen(sval(k)) || !is_token(sval(k))) {
        err_node(c, k, "bad header name %s: expected an HTTP token (letters, digits, "
                       "!#$%%&'*+-.^_`|~)", quote(&q, sval(k), slen(k)));
        return false;
    }
    if (is_null(v)) {
        err_node(c, v, "header %s has no value (write \"\" for an empty one)", qs(&q, sval(k)));
        return false;
    }
    snprintf(what, sizeof(what), "header %s", qs(&q, sval(k)));
    if (!(val = want_str(c, what, v, "a string")))
        return false;
    if (strpbrk(val, "\r\n")) {
        err_node(c, v, "header %s value contains a line break", qs(&q, sval(k)));
        return false;
    }
    return set_kv(c, &def->headers, &def->nheaders, sval(k), val);
}

/* "200" or "200-299". */
static bool status_item(struct ctx *c, struct tp_def *def, const yaml_node_t *v)
{
    struct quoted q;
    const char *s = want_str(c, "expect_status", v, "a status like 200 or a range like 200-299");
    const char *dash;
    unsigned long lo, hi;
    char a[8];

    if (!s)
        return false;
    dash = strchr(s, '-');
    if (dash) {
        size_t n = (size_t)(dash - s);
        if (n >= sizeof(a))
            n = sizeof(a) - 1;
        memcpy(a, s, n);
        a[n] = '\0';
    }
    if (!(dash ? parse_uint(a, 0, 9999, &lo) && parse_uint(dash + 1, 0, 9999, &hi)
               : parse_uint(s, 0, 9999, &lo) && (hi = lo, true))) {
        err_node(c, v, "bad expect_status %s: expected a status like 200 or a range like "
                       "200-299", qs(&q, s));
        return false;
    }
    if (lo < 100 || lo > 599 || hi < 100 || hi > 599) {
        err_node(c, v, "bad expect_status %s: status codes are 100 to 599", qs(&q, s));
        return false;
    }
    if (lo > hi) {
        err_node(c, v, "bad expect_status %s: the range is backwards", qs(&q, s));
        return false;
    }
    def->status[def->nstatus].lo = (uint16_t)lo;
    def->status[def->nstatus].hi = (uint16_t)hi;
    def->nstatus++;
    return true;
}

static bool get_status(struct ctx *c, struct tp_def *def, const yaml_node_t *v)
{
    size_t n = 1;
    bool ok = true;

    /* A single status written without brackets is accepted as a list of
     * one: there is nothing else it could mean. */
    if (v->type == YAML_SEQUENCE_NODE)
        n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    else if (v->type != YAML_SCALAR_NODE) {
        err_node(c, v, "expect_status must be a list of statuses and ranges, not %s",
                 node_kind(v));
        return false;
    }
    if (n == 0) {
        err_node(c, v, "expect_status is empty");
        return false;
    }
    if (!(def->status = calloc(n, sizeof(*def->status)))) {
        oom(c);
        return false;
    }
    if (v->type == YAML_SCALAR_NODE)
        return status_item(c, def, v);
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++)
        if (!status_item(c, def, node(c, *it)))
            ok = false;
    return ok;
}

/* ---- targets files ---- */

static bool push_target(struct ctx *c, struct tp_def *def, size_t *cap, char *t)
{
    if (def->ntargets == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **grown = realloc(def->targets, ncap * sizeof(*grown));
        if (!grown) {
            free(t);
            oom(c);
            return false;
        }
        def->targets = grown;
        *cap = ncap;
    }
    def->targets[def->ntargets++] = t;
    return true;
}

/* kind < 0: the kind is unknown (and reported); the lines are still read
 * so that an unreadable file or a duplicate shows up in the same run. */
static bool load_targets_file(struct ctx *c, struct tp_def *def, int kind, const yaml_node_t *v)
{
    struct quoted q;
    struct strset seen = {0};
    const char *rel = want_str(c, "targets_file", v, "a file name");
    char *path, *line = NULL;
    size_t cap = 0, tcap = 0;
    ssize_t len;
    unsigned long lineno = 0, first;
    int before = c->nerr, e;
    FILE *f;

    if (!rel)
        return false;
    if (!*rel) {
        err_node(c, v, "targets_file is empty");
        return false;
    }
    if (!(path = resolve(c, rel)))
        return false;
    c->anchor_line = v->start_mark.line + 1;
    c->anchor_col = v->start_mark.column + 1;
    if (!(f = fopen(path, "r"))) {
        err_node(c, v, "cannot read targets file %s: %s", qs(&q, rel), strerror(errno));
        free(path);
        return false;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *s = line, *end = line + len;
        struct tp_endpoint ep;
        const char *why;
        char *t;

        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            err_at(c, path, lineno, 1, "line contains a NUL byte");
            continue;
        }
        while (s < end && isspace((unsigned char)*s))
            s++;
        while (end > s && isspace((unsigned char)end[-1]))
            end--;
        if (s == end || *s == '#')
            continue;
        *end = '\0';
        if (kind >= 0 && tp_target_parse((enum tp_kind)kind, s, &ep, &why) < 0) {
            err_at(c, path, lineno, (unsigned long)(s - line + 1), "bad %s target %s: %s",
                   tp_kind_names[kind], qs(&q, s), why);
            continue;
        }
        if (!(t = dup_n(c, s, (size_t)(end - s))))
            break;
        int r = strset_add(&seen, t, lineno, &first);
        if (r < 0) {
            free(t);
            oom(c);
            break;
        }
        if (r == 0) {
            err_at(c, path, lineno, (unsigned long)(s - line + 1),
                   "duplicate target %s (first at line %lu)", qs(&q, s), first);
            free(t);
            continue;
        }
        if (!push_target(c, def, &tcap, t))
            break;
    }
    /* getline returns -1 at the end and on errors alike (a directory opens
     * and then fails here with EISDIR). */
    e = ferror(f) ? errno : 0;
    fclose(f);
    free(line);
    strset_free(&seen);
    free(path);
    if (e) {
        err_node(c, v, "cannot read targets file %s: %s", qs(&q, rel), strerror(e));
        return false;
    }
    if (c->nerr == before && def->ntargets == 0) {
        err_node(c, v, "targets file %s has no targets", qs(&q, rel));
        return false;
    }
    return c->nerr == before;
}

/* ---- keys ---- */

static int lookup_key(const char *s)
{
    for (int i = 0; i < K_N; i++)
        if (!strcmp(keys[i].name, s))
            return i;
    return -1;
}

static int lookup_kind(const char *s)
{
    for (int i = 0; i < TP_NKIND; i++)
        if (!strcmp(tp_kind_names[i], s))
            return i;
    return -1;
}

/* The keys of a probe or of defaults, reporting unknown, misplaced and
 * repeated ones. */
static void collect(struct ctx *c, const yaml_node_t *map, bool in_defaults, struct slots *out)
{
    const char *cands[K_N];
    size_t ncands = 0;

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < K_N; i++)
        if (!in_defaults || keys[i].in_defaults)
            cands[ncands++] = keys[i].name;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
        struct quoted q;
        int i;

        if (k->type != YAML_SCALAR_NODE) {
            err_node(c, k, "a key must be a name, not %s", node_kind(k));
            continue;
        }
        if ((i = lookup_key(sval(k))) < 0) {
            unknown_key(c, k, in_defaults ? "defaults" : "probe", cands, ncands);
            continue;
        }
        if (out->s[i].key) {
            err_node(c, k, "duplicate key %s (first at line %lu)", qs(&q, sval(k)),
                     (unsigned long)out->s[i].key->start_mark.line + 1);
            continue;
        }
        if (in_defaults && !keys[i].in_defaults) {
            err_node(c, k, "%s cannot be set in defaults (only " DEFAULTS_KEYS ")", sval(k));
            continue;
        }
        out->s[i] = (struct slot){k, v};
        out->order[out->n++] = (enum key)i;
    }
}

/* Parse the value of one key into def; false when it was bad (reported). */
static bool apply(struct ctx *c, struct tp_def *def, enum key k, const struct slot *sl, int kind)
{
    const yaml_node_t *v = sl->val;
    const char *name = keys[k].name, *s;
    struct quoted q;

    switch (k) {
    case K_NAME:
    case K_KIND:
    case K_TARGET:
    case K_N:
        return true; /* judged by load_probe, which needs them first */
    case K_TARGETS_FILE:
        return load_targets_file(c, def, kind, v);
    case K_INTERVAL:
        return get_duration(c, name, v, 10, &def->interval_ms);
    case K_TIMEOUT:
        return get_duration(c, name, v, 1, &def->timeout_ms);
    case K_SUCCESS:
        return get_uint(c, name, v, 1, 1000, &def->success_threshold);
    case K_FAILURE:
        return get_uint(c, name, v, 1, 1000, &def->failure_threshold);
    case K_REDIRECTS:
        return get_uint(c, name, v, 0, 20, &def->max_redirects);
    case K_LABELS:
        return each_pair(c, "labels", "label", v, false, def, label_pair);
    case K_HEADERS:
        return each_pair(c, "headers", "header", v, true, def, header_pair);
    case K_CLOSE:
        if (!(s = want_str(c, name, v, "reset or graceful")))
            return false;
        if (strcmp(s, "reset") && strcmp(s, "graceful")) {
            err_node(c, v, "bad close %s: expected reset or graceful", qs(&q, s));
            return false;
        }
        def->graceful = !strcmp(s, "graceful");
        return true;
    case K_TLS_VERIFY:
        return get_bool(c, name, v, &def->tls_verify);
    case K_CA_FILE:
        return get_path(c, name, v, &def->ca_file);
    case K_SEND:
        return get_send(c, def, v);
    case K_EXPECT:
        return get_regex(c, name, v, &def->expect, &def->expect_re);
    case K_EXPECT_BODY:
        return get_regex(c, name, v, &def->expect_body, &def->expect_body_re);
    case K_METHOD:
        if (!(s = want_str(c, name, v, "an HTTP method like GET")))
            return false;
        if (!is_token(s)) {
            err_node(c, v, "bad method %s: expected an HTTP token like GET or HEAD", qs(&q, s));
            return false;
        }
        return (def->method = dup_s(c, s)) != NULL;
    case K_STATUS:
        return get_status(c, def, v);
    case K_BODY:
        if (v->type == YAML_SCALAR_NODE && is_null(v) && slen(v) == 0) {
            err_node(c, v, "body has no value (write \"\" for an empty one)");
            return false;
        }
        if (!(s = want_str(c, name, v, "a string")))
            return false;
        return (def->body = dup_s(c, s)) != NULL;
    case K_SERVER_NAME:
        if (!(s = want_str(c, name, v, "a DNS name")))
            return false;
        if (!tp_hostname_valid(s, strlen(s))) {
            err_node(c, v, "bad server_name %s: expected a DNS name", qs(&q, s));
            return false;
        }
        return (def->server_name = dup_s(c, s)) != NULL;
    }
    return true;
}

/* ---- defaults and probes ---- */

static void load_defaults(struct ctx *c, const yaml_node_t *v, struct dflt *d)
{
    char a[32], b[32];

    if (v->type != YAML_MAPPING_NODE) {
        err_node(c, v, "defaults must be a mapping, not %s",
                 is_null(v) ? "empty" : node_kind(v));
        return;
    }
    collect(c, v, true, &d->sl);
    for (unsigned i = 0; i < d->sl.n; i++) {
        enum key k = d->sl.order[i];
        d->bad[k] = !apply(c, &d->def, k, &d->sl.s[k], -1);
    }
    /* Both in defaults: said once here rather than once per probe. */
    if (d->sl.s[K_INTERVAL].key && d->sl.s[K_TIMEOUT].key && !d->bad[K_INTERVAL] &&
        !d->bad[K_TIMEOUT] && d->def.timeout_ms > d->def.interval_ms)
        err_node(c, d->sl.s[K_TIMEOUT].val, "timeout %s exceeds interval %s",
                 fmt_ms(a, sizeof(a), d->def.timeout_ms), fmt_ms(b, sizeof(b), d->def.interval_ms));
}

static bool inherit(struct ctx *c, struct tp_def *def, const struct tp_def *d)
{
    def->interval_ms = d->interval_ms;
    def->timeout_ms = d->timeout_ms;
    def->success_threshold = d->success_threshold;
    def->failure_threshold = d->failure_threshold;
    def->graceful = d->graceful;
    def->tls_verify = d->tls_verify;
    for (size_t i = 0; i < d->nlabels; i++)
        if (!set_kv(c, &def->labels, &def->nlabels, d->labels[i].key, d->labels[i].value))
            return false;
    if (d->ca_file && !(def->ca_file = dup_s(c, d->ca_file)))
        return false;
    return true;
}

static const char *origin(const struct slots *own, const struct dflt *d, enum key k)
{
    if (own->s[k].key)
        return "";
    return d->sl.s[k].key ? " (from defaults)" : " (the default)";
}

static void check_timeout(struct ctx *c, const yaml_node_t *m, const struct slots *sl,
                          const struct dflt *d, const struct tp_def *def)
{
    const yaml_node_t *at;
    char a[32], b[32];

    if (def->timeout_ms <= def->interval_ms)
        return;
    if (sl->s[K_TIMEOUT].key)
        at = sl->s[K_TIMEOUT].val;
    else if (sl->s[K_INTERVAL].key)
        at = sl->s[K_INTERVAL].val;
    else if (d->sl.s[K_TIMEOUT].key && d->sl.s[K_INTERVAL].key)
        return; /* reported at defaults */
    else
        at = m;
    err_node(c, at, "timeout %s%s exceeds interval %s%s", fmt_ms(a, sizeof(a), def->timeout_ms),
             origin(sl, d, K_TIMEOUT), fmt_ms(b, sizeof(b), def->interval_ms),
             origin(sl, d, K_INTERVAL));
}

static void load_probe(struct ctx *c, const yaml_node_t *m, const struct dflt *d,
                       struct tp_def *def)
{
    struct slots sl;
    struct quoted q;
    const yaml_node_t *kv;
    const char *s;
    char who[120];
    int kind = -1;
    bool bad_iv = d->bad[K_INTERVAL], bad_to = d->bad[K_TIMEOUT];
    bool both_targets;

    def->line = m->start_mark.line + 1;
    def->col = m->start_mark.column + 1;
    collect(c, m, false, &sl);

    /* The kind first, whatever its place in the mapping: every other key
     * is judged against it. */
    kv = sl.s[K_KIND].val;
    if (kv && kv->type == YAML_SCALAR_NODE)
        kind = lookup_kind(sval(kv));
    def->kind = kind >= 0 ? (enum tp_kind)kind : TP_TCP;
    if (!inherit(c, def, &d->def))
        return;

    both_targets = sl.s[K_TARGET].key && sl.s[K_TARGETS_FILE].key;
    for (unsigned i = 0; i < sl.n; i++) {
        enum key k = sl.order[i];
        const struct slot *st = &sl.s[k];
        bool ok = true;

        if (k == K_NAME) {
            unsigned long first;
            if (!(s = want_str(c, "name", st->val, "a string")))
                continue;
            bool good = *s != '\0';
            for (const char *p = s; *p && good; p++)
                good = tp_is_alnum(*p) || strchr("_.:-", *p);
            if (!good) {
                err_node(c, st->val, "bad probe name %s: use letters, digits and _ . : -",
                         qs(&q, s));
                continue;
            }
            if (!(def->name = dup_s(c, s)))
                continue;
            int r = strset_add(&c->names, def->name, st->val->start_mark.line + 1, &first);
            if (r < 0)
                oom(c);
            else if (r == 0)
                err_node(c, st->val, "duplicate probe name %s (first defined at line %lu)",
                         qs(&q, s), first);
            continue;
        }
        if (k == K_KIND) {
            if (kind < 0 && (s = want_str(c, "kind", st->val, "tcp, http or tls")))
                err_node(c, st->val, "unknown kind %s (expected tcp, http or tls)", qs(&q, s));
            continue;
        }
        if (kind >= 0 && !(keys[k].kinds & (1u << kind))) {
            err_node(c, st->key, "%s applies to %s", keys[k].name, keys[k].only);
            continue;
        }
        if (k == K_TARGETS_FILE && both_targets) {
            err_node(c, st->key, "target and targets_file cannot both be set (line %lu has "
                                 "target)", (unsigned long)sl.s[K_TARGET].key->start_mark.line + 1);
            continue;
        }
        if (k == K_TARGET) {
            struct tp_endpoint ep;
            const char *why;
            char *t;
            if (!(s = want_str(c, "target", st->val, "a string")))
                continue;
            if (kind >= 0 && tp_target_parse((enum tp_kind)kind, s, &ep, &why) < 0) {
                err_node(c, st->val, "bad %s target %s: %s", tp_kind_names[kind], qs(&q, s), why);
                continue;
            }
            if (!(t = dup_s(c, s)))
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
        ok = apply(c, def, k, st, kind);
        if (k == K_INTERVAL)
            bad_iv = !ok;
        if (k == K_TIMEOUT)
            bad_to = !ok;
    }

    if (!sl.s[K_NAME].key)
        err_node(c, m, "probe has no name");
    if (def->name)
        snprintf(who, sizeof(who), "probe %s", qs(&q, def->name));
    else
        snprintf(who, sizeof(who), "probe");
    if (!sl.s[K_KIND].key)
        err_node(c, m, "%s has no kind (expected tcp, http or tls)", who);
    if (!sl.s[K_TARGET].key && !sl.s[K_TARGETS_FILE].key)
        err_node(c, m, "%s has no target or targets_file", who);
    /* Given nowhere, the timeout is 2 s or the interval if shorter. */
    if (!sl.s[K_TIMEOUT].key && !d->sl.s[K_TIMEOUT].key && def->timeout_ms > def->interval_ms)
        def->timeout_ms = def->interval_ms;
    if (!bad_iv && !bad_to)
        check_timeout(c, m, &sl, d, def);

    /* Values that mean nothing for this kind are not kept, so the kinds
     * can trust what they find. */
    if (def->kind == TP_TCP) {
        free(def->ca_file);
        def->ca_file = NULL;
    }
    if (kind == TP_HTTP) {
        if (!def->method && !sl.s[K_METHOD].key && !(def->method = dup_s(c, "GET")))
            return;
        if (!def->status && !sl.s[K_STATUS].key) {
            if (!(def->status = calloc(1, sizeof(*def->status)))) {
                oom(c);
                return;
            }
            def->status[0] = (struct tp_range){200, 299};
            def->nstatus = 1;
        }
    }
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

static void free_def(struct tp_def *def)
{
    free(def->name);
    for (size_t i = 0; i < def->ntargets; i++)
        free(def->targets[i]);
    free(def->targets);
    for (size_t i = 0; i < def->nlabels; i++) {
        free(def->labels[i].key);
        free(def->labels[i].value);
    }
    free(def->labels);
    free(def->send);
    if (def->expect)
        regfree(&def->expect_re);
    free(def->expect);
    free(def->method);
    free(def->status);
    for (size_t i = 0; i < def->nheaders; i++) {
        free(def->headers[i].key);
        free(def->headers[i].value);
    }
    free(def->headers);
    free(def->body);
    if (def->expect_body)
        regfree(&def->expect_body_re);
    free(def->expect_body);
    free(def->ca_file);
    free(def->server_name);
    memset(def, 0, sizeof(*def));
}

static void load_root(struct ctx *c, const yaml_node_t *root, struct tp_config *cfg)
{
    static const char *const top[] = {"defaults", "probes"};
    const yaml_node_t *dv = NULL, *pk = NULL, *pv = NULL, *dk = NULL;
    struct dflt d;

    if (!root) {
        err_at(c, c->path, 1, 1, "the config is empty: expected a mapping with a probes key");
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
        struct quoted q;

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
            err_node(c, k, "duplicate key %s (first at line %lu)", qs(&q, sval(k)),
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
    free_def(&d.def);
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
            err_at(c, c->path, line, col, "%s (byte 0x%02x)", problem, p->problem_value);
        else
            err_at(c, c->path, line, col, "%s", problem);
        return;
    }
    if (p->context)
        err_at(c, c->path, line, col, "%s (%s at line %lu, column %lu)", problem, p->context,
               (unsigned long)p->context_mark.line + 1, (unsigned long)p->context_mark.column + 1);
    else
        err_at(c, c->path, line, col, "%s", problem);
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
    struct ctx c = {.path = path, .errs = errs};
    struct tp_config out = {0};
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    char *buf = NULL, *slash;
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
    if (!(c.dir = strdup(path)) || !(out.path = strdup(path))) {
        free(c.dir);
        free(buf);
        if (errs)
            fprintf(errs, "%s: %s\n", path, strerror(ENOMEM));
        return 1;
    }
    slash = strrchr(c.dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        c.dir[0] = '\0';

    if (!yaml_parser_initialize(&parser)) {
        oom(&c);
        goto done;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
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
            err_at(&c, path, r->start_mark.line + 1, r->start_mark.column + 1,
                   "a second YAML document: a config is one document");
        yaml_document_delete(&extra);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
done:
    flush_msgs(&c);
    strset_free(&c.names);
    free(c.dir);
    free(buf);
    if (c.nerr) {
        tp_config_free(&out);
        return c.nerr;
    }
    *cfg = out;
    return 0;
}

void tp_config_free(struct tp_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ndefs; i++)
        free_def(&cfg->defs[i]);
    free(cfg->defs);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}
