/* twkit probe: config keys, as the loader and the kinds share them.
 *
 * A key is a row of a table: the common keys in config_keys.c, a kind's
 * own in its kind_*.c. The row says what type of value the key takes; the
 * front end (config.c reads YAML) turns what was written into a struct
 * tp_val, converts it to that type and hands it to the row's validate and
 * apply. Nothing here knows YAML, so a second front end (blackbox_exporter's
 * blackbox.yml, say) can feed the same rows.
 *
 * Every problem is reported through the context with the position of the
 * value (or name) it is about; functions return false after reporting one.
 */
#ifndef TW_PROBE_CONFIG_H
#define TW_PROBE_CONFIG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "probe/probe.h"
#include "probe/regex.h"

/* ---- where, and who hears about problems ---- */

struct tp_pos {
    unsigned long line, col; /* from 1, in the config file */
};

/* One load's problems (config_report.c), and where its relative paths
 * start. Every message is "FILE:LINE:COL: text"; they are printed sorted
 * by where they point in the config (a message about another file, a
 * targets file, sorts at anchor) when the load is over. */
struct tp_cfgmsg;
struct tp_val;
#define TP_UNREADABLE_LEN 300
struct tp_cfgctx;
/* How a front end hands out the items of a mapping or a sequence, for keys
 * that judge nested values themselves (TP_T_VALUE: a list of maps, say). */
struct tp_front {
    size_t (*nitems)(struct tp_cfgctx *c, const struct tp_val *v);
    /* item i of v; for a mapping its name too (name may be NULL) */
    void (*item)(struct tp_cfgctx *c, const struct tp_val *v, size_t i, struct tp_val *name,
                 struct tp_val *item);
};
struct tp_cfgctx {
    const char *path;      /* the config, as messages name it */
    const char *dir;       /* its directory: "conf/", "/" or "" */
    FILE *errs;            /* NULL: count only */
    int nerr;
    bool oom_said;
    struct tp_pos anchor;
    struct tp_cfgmsg *msgs;
    size_t nmsgs, capmsgs;
    const struct tp_front *front; /* NULL: values have no items to read */
    /* Not NULL (blackbox.yml, whose exporter reads files at every probe): a
     * file a key names that cannot be read is said here (and where), not
     * reported as an error; the loader decides (blackbox.c: the module is
     * not loaded). TP_UNREADABLE_LEN bytes. */
    char *unreadable;
    struct tp_pos unreadable_at;
};

/* A problem at at in the config. */
__attribute__((format(printf, 3, 4))) void tp_cfg_err(struct tp_cfgctx *c,
                                                      const struct tp_pos *at,
                                                      const char *fmt, ...);
/* Something to say in order with the problems that is not one (a
 * blackbox.yml module not loaded). */
__attribute__((format(printf, 3, 4))) void tp_cfg_note(struct tp_cfgctx *c,
                                                       const struct tp_pos *at,
                                                       const char *fmt, ...);
/* A problem in file (the config when file == c->path). */
__attribute__((format(printf, 5, 6))) void tp_cfg_err_in(struct tp_cfgctx *c, const char *file,
                                                         unsigned long line, unsigned long col,
                                                         const char *fmt, ...);
void tp_cfg_verr(struct tp_cfgctx *c, const char *file, unsigned long line, unsigned long col,
                 const char *fmt, va_list ap);
/* Out of memory: said once per load, counted every time. */
void tp_cfg_oom(struct tp_cfgctx *c);
/* Print the messages in order and forget them. */
void tp_cfg_flush(struct tp_cfgctx *c);
/* Copies, reporting a failed allocation. */
char *tp_cfg_dupn(struct tp_cfgctx *c, const char *s, size_t n);
char *tp_cfg_dup(struct tp_cfgctx *c, const char *s);
/* rel, relative to the config's directory (malloc'd): relative paths in a
 * config are relative to the config itself, so it runs from anywhere. */
char *tp_cfg_path(struct tp_cfgctx *c, const char *rel);

/* ---- values as written ---- */

enum tp_shape {
    TP_V_SCALAR, /* a string (s, len) */
    TP_V_NULL,   /* written as nothing, ~ or null (s: how, "" for nothing) */
    TP_V_MAP,
    TP_V_LIST,
};

struct tp_val {
    enum tp_shape shape;
    const char *s; /* scalars and nulls: NUL-terminated, len bytes, which
                      may hold a NUL of their own */
    size_t len;
    struct tp_pos at;
    const void *node; /* the front end's own, for tp_val_items */
};

/* "a mapping", "a sequence", "a single value": for "must be X, not Y". */
const char *tp_val_kind(const struct tp_val *v);
/* v as a string: a scalar, not null, without a NUL byte; otherwise
 * reported ("KEY must be WHAT, not ...", "KEY has no value (expected
 * WHAT)"...) and NULL. key is how the message names the value. */
const char *tp_val_str(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                       const char *what);

/* The items of a mapping or a sequence v (0 for anything else, or when the
 * front end cannot tell), and item i of them (a mapping's: with its name
 * when name is not NULL). For keys of type TP_T_VALUE that take nested
 * values. */
size_t tp_val_nitems(struct tp_cfgctx *c, const struct tp_val *v);
void tp_val_item(struct tp_cfgctx *c, const struct tp_val *v, size_t i, struct tp_val *name,
                 struct tp_val *item);

/* Inner keys of a nested mapping (tls_config:, basic_auth:, an item of
 * fail_if_header_matches:...), each judged by the key that owns the map. */
/* An unknown inner key name of where ("tls_config"): reported at the name
 * with a "did you mean" among cands when one is close. */
void tp_cfg_unknown_inner(struct tp_cfgctx *c, const struct tp_val *name, const char *where,
                          const char *const *cands, size_t ncands);
/* Walk the mapping v (named where in messages): each pair whose name is
 * one of cands goes to each with its index k in cands; a value that is not
 * a mapping, a name that is not a string, repeated or unknown is reported.
 * Returns false if anything was refused (each's false included). */
bool tp_cfg_inner_map(struct tp_cfgctx *c, const char *where, const struct tp_val *v,
                      const char *const *cands, size_t ncands,
                      bool (*each)(struct tp_cfgctx *c, size_t k, const struct tp_val *name,
                                   const struct tp_val *val, void *arg),
                      void *arg);
/* A nested value of key (named as written, "tls_config.ca_file") as a
 * boolean, a readable file relative to the config (malloc'd), or a compiled
 * regex; reported and false when it is not one. */
bool tp_cfg_bool(struct tp_cfgctx *c, const char *key, const struct tp_val *v, bool *out);
bool tp_cfg_file(struct tp_cfgctx *c, const char *key, const struct tp_val *v, char **out);
bool tp_cfg_regex(struct tp_cfgctx *c, const char *key, const struct tp_val *v,
                  struct tp_regex *re);

/* A value for a message: in double quotes, escaped, and cut short, so a
 * stray control character or a 10 kB line cannot wreck the output. */
struct tp_quoted {
    char b[100];
};
const char *tp_quote(struct tp_quoted *q, const char *s, size_t n);
const char *tp_qs(struct tp_quoted *q, const char *s);

/* ---- keys ---- */

enum tp_type {
    TP_T_LOADER,   /* name, kind, target, targets_file: the loader's own */
    TP_T_VALUE,    /* the value as written: the key judges it */
    TP_T_STR,      /* a string (tp_val_str with what) */
    TP_T_DURATION, /* milliseconds, at least lo */
    TP_T_UINT,     /* lo to hi */
    TP_T_BOOL,     /* true/false/yes/no, any case */
    TP_T_PATH,     /* a readable file, relative to the config */
    TP_T_REGEX,    /* RE2 syntax, compiled by PCRE2 (regex.h) */
    TP_T_MAP,      /* name: value pairs, each applied on its own */
    TP_T_LIST,     /* a list (or one item alone), each item a string
                      (what) applied on its own */
};

/* A value converted to its key's type. */
struct tp_arg {
    const struct tp_val *v;    /* as written; a map's value, a list's item */
    const struct tp_val *name; /* TP_T_MAP: the pair's name */
    union {
        const char *s;         /* STR, LIST items */
        char *path;            /* PATH: resolved, malloc'd */
        uint64_t ms;           /* DURATION */
        unsigned u;            /* UINT */
        bool b;                /* BOOL */
        struct tp_regex rx;    /* REGEX (regex.h) */
    };
};

/* One key. validate judges the value (NULL: its type says enough); apply
 * keeps it in def: the common part, or def->opts for a kind's own key. An
 * apply that turns the value into something else may judge as it goes
 * (send's escapes); it takes over a PATH's string and a REGEX. Both report
 * what they refuse and return false. absent gives the kind's default when
 * the key is not written in a probe (NULL: zero is the default). free
 * releases what apply kept and leaves it empty. */
struct tp_key {
    const char *name;
    enum tp_type type;
    const char *what;     /* STR: what the value must be ("reset or
                             graceful"); LIST: what each item must be;
                             MAP: what a pair is called ("label") */
    const char *list_what; /* LIST: what the whole must be */
    uint64_t lo, hi;      /* DURATION: minimum ms; UINT: range */
    bool fold;            /* MAP: names compared without case */
    bool in_defaults;     /* common keys: may be set in defaults */
    unsigned group;       /* common keys: only for kinds with this TP_KEYS_*
                             (0: every kind) */
    bool blackbox;        /* blackbox.yml takes it too, under this name and
                             with this meaning, in the prober's section
                             (blackbox.c); twkit's YAML takes it either way */
    bool (*validate)(struct tp_cfgctx *c, const struct tp_arg *a);
    bool (*apply)(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
    bool (*absent)(struct tp_cfgctx *c, struct tp_def *def);
    void (*free)(struct tp_def *def);
};

/* The common keys (config_keys.c), in the order messages list them. */
enum {
    TP_K_NAME, TP_K_KIND, TP_K_TARGET, TP_K_TARGETS_FILE, TP_K_INTERVAL, TP_K_TIMEOUT,
    TP_K_SUCCESS, TP_K_FAILURE, TP_K_LABELS, TP_K_CLOSE, TP_K_TLS_VERIFY, TP_K_CA_FILE,
    TP_K_IP_PROTOCOL, TP_K_IP_FALLBACK, TP_K_SOURCE_IP, TP_K_TLS_CONFIG, TP_K_NOTIFY,
    TP_K_TLS_RESUMPTION, TP_K_TLS_FULL_EVERY, TP_NCOMMON
};
extern const struct tp_key tp_common_keys[TP_NCOMMON];

/* The pairs of the nested map v, judged against keys (nkeys rows): each
 * name must be one of them, once; an unknown name is reported at its
 * position with a suggestion when one is close ("unknown key \"exepct\" in
 * query_response step (did you mean expect?)"); where names the map in
 * messages. Each value is converted to its row's type (tp_key_convert:
 * TP_T_VALUE hands it over as written), validated, and given to set with
 * obj, which takes over what the conversion made (a PATH, a REGEX). v
 * must be a map ({} has no pairs; null, a list or a scalar is refused).
 * Returns false if anything was refused (each reported). */
bool tp_cfg_inner(struct tp_cfgctx *c, const struct tp_val *v, const char *where,
                  const struct tp_key *keys, size_t nkeys,
                  bool (*set)(struct tp_cfgctx *c, void *obj, const struct tp_key *k,
                              struct tp_arg *a),
                  void *obj);
/* The one of ncands names that name is a typo of (at most 2 edits away,
 * the nearest first), or NULL: for "did you mean" (config_report.c). */
const char *tp_cfg_suggest(const char *name, const char *const *cands, size_t ncands);

/* Whether kind takes key (a common key or one of its own). */
bool tp_kind_takes(const struct tp_kind *kind, const struct tp_key *key);

/* v converted to k's type into *a (not for LOADER, MAP and LIST, which
 * the front end walks). */
bool tp_key_convert(struct tp_cfgctx *c, const struct tp_key *k, const struct tp_val *v,
                    struct tp_arg *a);
/* k's validate (and what the conversion made freed when it refuses). */
bool tp_key_validate(struct tp_cfgctx *c, const struct tp_key *k, struct tp_arg *a);
/* validate, then apply. */
bool tp_key_apply(struct tp_cfgctx *c, const struct tp_key *k, struct tp_def *def,
                  struct tp_arg *a);

/* The key called s and, for a kind's own key, its kind (*owner; NULL for
 * a common key): the common keys first, then kind's own (kind may be
 * NULL), then every kind's in table order. NULL: no such key. */
const struct tp_key *tp_key_find(const char *s, const struct tp_kind *kind,
                                 const struct tp_kind **owner);
/* Whether kind takes a key called name (a const char *): for "X applies
 * to http and tls probes only" with tp_kinds_words. */
bool tp_kind_takes_named(const struct tp_kind *kind, const void *name);
/* The names of every key (only_defaults: of those defaults may set),
 * common ones first: into cands when not NULL, else joined with ", " into
 * buf. Returns how many. */
size_t tp_key_names(bool only_defaults, const char **cands, char *buf, size_t len);

/* Copy the common values of defaults d into def (labels merged). */
bool tp_def_inherit(struct tp_cfgctx *c, struct tp_def *def, const struct tp_def *d);
/* Free what def holds (its kind's options too) and zero it. */
void tp_def_free(struct tp_def *def);

/* ---- helpers for keys ---- */

/* Locale-free: a config must mean the same thing whatever LC_CTYPE says. */
static inline bool tp_is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static inline bool tp_is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}
static inline bool tp_is_alnum(char ch) { return tp_is_digit(ch) || tp_is_alpha(ch); }

/* Decimal digits only, lo to hi. */
bool tp_parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out);
/* "5s" or "250ms", for messages. */
char *tp_fmt_ms(char *buf, size_t n, uint64_t ms);
/* RFC 9110 tchar: method and header names. */
bool tp_is_token(const char *s);
/* Why the len bytes at name cannot be a label name of a probe, or NULL. */
const char *tp_label_name_problem(const char *name, size_t len);
/* Add or replace (the later one wins: a probe's label over a default). */
bool tp_set_kv(struct tp_cfgctx *c, struct tp_kv **kv, size_t *n, const char *k,
               const char *v);
void tp_free_kv(struct tp_kv **kv, size_t *n);

/* A set of strings with the line each was first seen on, for duplicate
 * names and targets. Open addressing, so 20,000 targets stay linear. */
struct tp_strset {
    struct tp_strent {
        const char *s;
        unsigned long line;
    } *t;
    size_t cap, n;
};
/* Add s (not copied: it must outlive the set). Returns 1 if added, 0 if it
 * was there already (*first: the line it was added with), -ENOMEM. */
int tp_strset_add(struct tp_strset *ss, const char *s, unsigned long line, unsigned long *first);
void tp_strset_free(struct tp_strset *ss);

/* ---- history: (config_history.c) ---- */

/* The mapping v of `history:` into h (zeroed first; the periods not
 * written get their defaults). Problems are reported. */
void tp_history_load(struct tp_cfgctx *c, const struct tp_val *v, struct tp_history *h);
void tp_history_free(struct tp_history *h);

/* ---- targets (target.c) ---- */

/* The targets of def from the file v names (relative to the config), one
 * per line, each judged as kind's (NULL: unknown, lines only read).
 * Problems in the file are reported with its name, line and column. */
bool tp_targets_file(struct tp_cfgctx *c, struct tp_def *def, const struct tp_kind *kind,
                     const struct tp_val *v);


/* RFC 1123 names, plus '_'; a last label of digits only is refused (n
 * bytes of h, a trailing root dot allowed). */
bool tp_hostname_valid(const char *h, size_t n);
/* "host:port", "[v6]:port"; the port may be left out when default_port is
 * not 0. */
int tp_hostport_parse(const char *s, struct tp_endpoint *ep, uint16_t default_port,
                      const char **why);
/* n bytes of h into ep->host, checked: an IPv6 literal when it came in
 * brackets, otherwise an IPv4 literal or a host name. */
int tp_host_set(struct tp_endpoint *ep, const char *h, size_t n, bool bracketed,
                const char **why);
/* Decimal only: "0x50" or "+80" in a config is a typo, not a port. */
bool tp_port_parse(const char *s, size_t n, uint16_t *port);
/* An http:// or https:// URL (libcurl's parser): host, port (80 or 443
 * by default) and https. */
int tp_url_parse(const char *s, struct tp_endpoint *ep, const char **why);
/* Clear ep, set *why to text, -EINVAL. */
int tp_bad_target(struct tp_endpoint *ep, const char **why, const char *text);

#endif
