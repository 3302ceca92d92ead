/* twkit probe: what the config loader, the engine and the probe kinds share
 * (docs/PROBE.md).
 *
 * The engine owns one tw_loop and every target. It starts each probe on the
 * timer wheel, resolves the target's host (c-ares, cached) when it is not a
 * literal address, and hands the address to the probe kind (struct tp_kind,
 * one kind_*.c each, listed in kinds.c).
 * The kind runs the probe on the loop and reports exactly once, with
 * tp_probe_done(); a probe that outlives its timeout is cancelled by the
 * engine instead (the kind's cancel, then no report from the kind).
 */
#ifndef TW_PROBE_H
#define TW_PROBE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twkit/loop.h"
#include "twkit/sock.h"

/* ---- configuration (config.c) ---- */

struct tp_kind;
struct tp_key;

struct tp_kv {
    char *key, *value;
};

/* Where a target points, parsed from its string by its kind (tcp:
 * "host:port"; tls: "host[:port]", 443; http: an http:// or https:// URL).
 * host is a name or a literal address (IPv6 without brackets). */
struct tp_endpoint {
    char host[256];
    uint16_t port;
    bool https;       /* http kind, https:// URL */
    bool port_default; /* the target named no port: the kind's default is
                          in port (the dns kind's depends on the probe) */
};

/* Parse target for kind (target.c). Returns 0, or -EINVAL with *why set to a short
 * static explanation ("missing port", "not an http:// or https:// URL"...),
 * or -ENOMEM. */
/* target with the password of a URL's user information replaced by
 * "xxxxx" (as Go's url.Redacted does, so blackbox users recognise it):
 * malloc'd, or NULL when there is none to hide (or no memory: the caller
 * must then not show target either). *had says which. */
char *tp_target_redact(const char *target, bool *had);
int tp_target_parse(const struct tp_kind *kind, const char *target, struct tp_endpoint *ep,
                    const char **why);

/* One entry of `probes:`, with `defaults:` applied: what every kind has,
 * and the kind's own options behind opts (kinds.h). */
struct tp_def {
    char *name;
    const struct tp_kind *kind;
    char **targets;           /* from target: or targets_file: */
    size_t ntargets;
    uint64_t interval_ms;     /* default 5 s */
    uint64_t timeout_ms;      /* default 2 s; never more than interval */
    unsigned success_threshold, failure_threshold; /* default 1 and 1 */
    struct tp_kv *labels;     /* extra Prometheus labels */
    size_t nlabels;
    struct tp_tlabels {       /* per target of a targets file: its line's
                                 labels, over labels; NULL for target: */
        struct tp_kv *kv;
        size_t n;
    } *tlabels;
    char *targets_path;       /* targets_file, resolved; NULL: none */
    bool graceful;            /* close: graceful (FIN after draining; this
                                 side then holds TIME_WAIT); default RST */
    /* for the kinds that speak TLS (their tp_kind.keys has TP_KEYS_TLS) */
    bool tls_verify;          /* default true (tls_config:
                                 insecure_skip_verify is its negation) */
    char *ca_file;            /* resolved against the config's directory;
                                 NULL: the system's CA store */
    char *cert_file, *key_file; /* client certificate and key; NULL: none */
    char *tls_server_name;    /* SNI and the name verified; NULL: the
                                 target's host */
    int tls_min_version;      /* TLS1_x_VERSION (OpenSSL); 0: OpenSSL's */
    /* tls_resumption, for the kinds with TP_KEYS_RESUME */
    bool tls_resumption;      /* resume the sessions of the last trusted
                                 full handshake */
    uint64_t tls_full_every_ms; /* tls_full_handshake_every: a full
                                 handshake (chain verified) at least this
                                 often; default 60 s */
    unsigned tls_written;     /* TP_TLSW_*: which spelling set what in this
                                 probe (or in defaults), so that two
                                 spellings of one setting are refused */
    bool has_regex;           /* the kind's options hold a regex the answer
                                 must match (probe_failed_due_to_regex) */
    /* the address family (ipproto.c; zero is blackbox_exporter's default) */
    int ip_prefer;            /* preferred_ip_protocol: AF_INET or
                                 AF_INET6; 0: AF_INET6 */
    bool ip_no_fallback;      /* ip_protocol_fallback: false: only the
                                 preferred family will do */
    tw_addr source;           /* source_ip_address (port 0); len 0: any */
    bool no_resolve;          /* the engine does not resolve the target (the
                                 http kind's skip_resolve_phase_with_proxy
                                 with a proxy, which gets the name): results
                                 have no address and no DNS time, and
                                 blackbox's series of those are left out */
    void *opts;               /* the kind's options (its tp_kind.opts_size
                                 bytes, filled by its keys) */
    /* notify: the channels its state changes go to (notify_cfg.c) */
    struct tp_notify_sel {
        char *name;
        unsigned long line, col;  /* where it was written */
        bool inherited;           /* from defaults (reported there) */
        unsigned idx;             /* in tp_config.notify->chans, once resolved */
    } *notify;
    size_t nnotify;
    /* where in the config it was defined (for messages) */
    unsigned line, col;
};

struct tp_notify_cfg;
/* `history:` (config_history.c; the store, store.h). */
struct tp_history {
    char *path;               /* resolved against the config's directory;
                                 NULL: no history kept */
    uint64_t retention_s;     /* day rows and state changes: 90 d */
    uint64_t minutes_s;       /* minute rows: 3 d (at most retention) */
    uint64_t hours_s;         /* hour rows: 30 d (at most retention) */
    char *timezone;           /* days of the roll-ups and reports; NULL: UTC */
    uint64_t sync_s;          /* sync: the open minutes written this often
                                 too; 0 (default): once they are over */
};

struct tp_config {
    char *path;
    struct tp_def *defs;
    size_t ndefs;
    size_t ntargets;          /* over every definition */
    const struct tp_notify_cfg *notify; /* notify: and health: (notify.h), a
                                 reference; NULL when neither is written */
    struct tp_history history;
};

/* Load and check a config. Every problem is printed to errs as
 * "FILE:LINE:COL: message" (targets files name their own file and line).
 * Returns 0 with *cfg filled; the number of errors (> 0) with *cfg empty;
 * or -errno when path cannot be read (printed as well). */
int tp_config_load(const char *path, struct tp_config *cfg, FILE *errs);
/* The same from len bytes at buf (not NUL-terminated), as if read from
 * path: messages name path and relative paths in the config start at its
 * directory, but path itself is never read. */
int tp_config_load_mem(const char *path, const char *buf, size_t len, struct tp_config *cfg,
                       FILE *errs);
void tp_config_free(struct tp_config *cfg);

/* ---- results ---- */

enum tp_outcome {
    TP_SUCCESS,
    TP_FAILURE,     /* the target is down or wrong */
    TP_LOCAL,       /* this host could not probe (EADDRNOTAVAIL, EMFILE,
                       ENOBUFS, ENOMEM...): says nothing about the target */
};
extern const char *const tp_outcome_names[3]; /* success failure local_error */

/* HTTP phases as blackbox_exporter names them; tcp and tls fill connect
 * (and tls). */
enum { TP_PH_RESOLVE, TP_PH_CONNECT, TP_PH_TLS, TP_PH_PROCESSING, TP_PH_TRANSFER,
       TP_NPHASE };
extern const char *const tp_phase_names[TP_NPHASE];

#define TP_KIND_VALS 8

/* With tls_resumption, which handshake a probe did (tp_handshake_names). */
enum tp_handshake {
    TP_HS_NONE,     /* no resumption asked for, or no handshake */
    TP_HS_FULL,     /* the chain sent, verified and read */
    TP_HS_RESUMED,  /* a session resumed: no certificate exchanged */
    TP_HS_REFUSED,  /* a session offered, the server made a full handshake */
    TP_NHS
};
extern const char *const tp_handshake_names[TP_NHS]; /* "full", "resumed",
                                    "full_after_refused_resumption" */

struct tp_result {
    enum tp_outcome outcome;
    int err;              /* errno (> 0) behind a failure or local error */
    const char *reason;   /* static word for failures: "refused", "timeout",
                             "reset", "unreachable", "dns", "expect",
                             "status", "body", "tls", "verify", "http",
                             "eof"...; NULL on success */
    char detail[160];     /* human text ("status 503 not in 200-299") */
    double duration;      /* seconds, the whole probe, set by the engine */
    double dns;           /* seconds resolving (0: literal or cached) */
    double phase[TP_NPHASE]; /* seconds; 0 where not reached */
    bool regex_failed;    /* the kind's regex (expect, expect_body) did not
                             match */
    bool tls;             /* a TLS handshake completed: fields below valid */
    double cert_expiry;   /* unix seconds, earliest notAfter in the chain */
    double leaf_expiry;   /* unix seconds, the leaf's notAfter */
    long verify;          /* X509_V_OK (0) or the X509 verify error */
    double last_chain_expiry; /* unix seconds: of the verified chain, its
                                 earliest notAfter (blackbox's
                                 probe_ssl_last_chain_expiry_timestamp_seconds) */
    const char *tls_version; /* "TLS 1.3" as blackbox names it; NULL */
    enum tp_handshake handshake; /* tls_resumption: the handshake the last
                             TLS connection did; TP_HS_NONE without it */
    char *leaf_info;      /* the leaf certificate as blackbox's
                             probe_ssl_last_chain_info labels it
                             (tp_leaf_info), malloc'd, or NULL. A result
                             owns it: whoever drops a result calls
                             tp_result_release (the engine, when it
                             replaces or discards one) */
    /* What the kind measures besides, in slots it names (http: the status
     * of the last response and the redirects followed); 0: none. */
    long kind_val[TP_KIND_VALS];
    /* The address probed, set by the engine (ipproto.c) once it chose one:
     * addr with its port; ip_protocol 4 or 6 and ip_hash blackbox's
     * probe_ip_addr_hash (FNV-1a over the address's 4 or 16 bytes). All 0
     * when no address was chosen (the name did not resolve). */
    tw_addr addr;
    int ip_protocol;
    uint32_t ip_hash;
};

/* Failure or local error from an errno, with reason and detail filled
 * (class from tw_errclass: local errors become TP_LOCAL). */
void tp_result_errno(struct tp_result *r, int err);
/* Free what r owns (leaf_info) and forget it (engine.c). */
void tp_result_release(struct tp_result *r);

/* ---- engine (engine.c) ---- */

struct tp_engine;
struct tp_resolve_req;
struct tp_after;
struct tp_after_gen;

enum tp_state { TP_UNKNOWN, TP_UP, TP_DOWN };

/* What the status page (statuspage.c) shows of a target's latest results,
 * kept by the engine: a ring of durations (seconds; -1 a failure), when
 * tp_engine_opts.recent asks for one, and today's counts (UTC), always.
 * Local errors count in neither. */
struct tp_recent {
    float *lat;               /* cap of them, in the engine's one block */
    uint16_t cap, n, head;    /* head: where the next goes */
    int32_t day;              /* unix days of the counts below */
    uint32_t day_ok, day_fail;
};

struct tp_target {
    const struct tp_def *def;
    uint32_t index;           /* in the whole config (every lane's), in order */
    uint32_t def_index;       /* in def->targets */
    const char *target;       /* the string from the config */
    const char *shown;        /* it for labels, logs and /status: a URL's
                                 password replaced by xxxxx */
    struct tp_endpoint ep;
    uint64_t timeout_ms;      /* its probes' deadline: its def's, or for an
                                 ad-hoc probe the scrape's */
    tw_addr addr;             /* resolved (or literal) address with port */
    bool literal;             /* ep.host is an address: no DNS */
    bool addr_chosen;         /* addr is this probe's (results report it) */
    /* schedule */
    tw_timer sched;
    tw_timer deadline;
    uint64_t due_ms;          /* loop ms of the next start */
    uint64_t started_ns;
    double dns_s;             /* resolving time of the probe under way */
    bool running;
    struct tp_resolve_req *resolving; /* while resolving */
    void *run;                /* the kind's state while running */
    struct tp_engine *engine;
    /* results */
    struct tp_result last;    /* the last success or failure */
    bool have_last;
    bool last_local;          /* the last attempt was a local error */
    int last_local_err;
    enum tp_state state;
    double since;             /* unix seconds: when state last changed (or the
                                 engine was made: unknown since then) */
    struct tp_recent recent;
    unsigned consec_ok, consec_fail;
    uint64_t seq;             /* results so far (local errors included) */
    struct tp_adhoc *adhoc;   /* an ad-hoc probe's (/probe), not the
                                 schedule's: its result goes to its caller */
    void *keep;               /* tls_resumption (tls_resume.c for the tls,
                                 tcp and dns kinds; kind_http_resume.c):
                                 the sessions to resume and what their full
                                 handshake found; NULL: none (freed by the
                                 kind's forget) */
};

/* ---- probe kinds: one kind_*.c each, listed in kinds.c ---- */

/* Groups of common keys (config_keys.c) a kind may take besides those
 * every kind takes. */
#define TP_KEYS_TLS 1u      /* tls_verify, ca_file, tls_config (the TLS
                               settings of struct tp_def) */
#define TP_KEYS_CONN 2u     /* close: the kinds that make a connection
                               (icmp sends datagrams: nothing to close) */
#define TP_KEYS_RESUME 4u   /* tls_resumption, tls_full_handshake_every:
                               the kinds that resume TLS sessions */
/* bits of tp_def.tls_written */
#define TP_TLSW_VERIFY 1u     /* tls_verify */
#define TP_TLSW_CA 2u         /* ca_file */
#define TP_TLSW_CFG_VERIFY 4u /* tls_config: insecure_skip_verify */
#define TP_TLSW_CFG_CA 8u     /* tls_config: ca_file */
#define TP_TLSW_CFG_NAME 16u  /* tls_config: server_name */
#define TP_TLSW_NAME 32u      /* the tls kind's server_name */

struct tu_prom;

/* A gauge family of a kind's own: sample writes the sample(s) of target t,
 * one of the kind's, with its rendered labels, or nothing (no result yet). */
struct tp_metric {
    const char *name, *help;
    void (*sample)(const struct tp_target *t, struct tu_prom *p, const char *labels);
};

/* Everything the loader, the engine and the outputs know of a kind.
 *
 * Configuration (config.h): keys are its own keys; common the groups of
 * common keys it takes; the loader gives each definition opts_size zeroed
 * bytes in def->opts for the keys to fill. parse_target reads one target
 * (the loader has refused empty ones and those with spaces already).
 *
 * Running: start runs a probe of t towards t->addr; it returns 0 and
 * reports later with tp_probe_done (never from inside start), or returns
 * -errno at once with nothing left running (the engine reports it).
 * cancel: the deadline passed: stop at once (RST, free t->run), fill r with
 * what was measured so far; no report follows. forget: t is freed. init/fini: once per engine,
 * for the kind's shared state (tp_engine_kind_data; NULL if none).
 *
 * Output: metrics are the families only its targets have (after the
 * common probe_* ones, before probe_failed_due_to_regex); json writes its
 * fields of a result (",\"status\":200"), after the phases. */
struct tp_kind {
    const char *name;       /* in the config, the labels and the log */
    const struct tp_key *keys;
    size_t nkeys;
    unsigned common;        /* TP_KEYS_* */
    size_t opts_size;
    int (*parse_target)(const char *target, struct tp_endpoint *ep, const char **why);
    int (*init)(struct tp_engine *e);
    void (*fini)(struct tp_engine *e);
    int (*start)(struct tp_engine *e, struct tp_target *t);
    void (*cancel)(struct tp_engine *e, struct tp_target *t, struct tp_result *r);
    void (*forget)(struct tp_target *t); /* free what the kind keeps in t
                                            between probes; NULL: nothing */
    const struct tp_metric *metrics;
    size_t nmetrics;
    bool regex_gauge;       /* /probe writes probe_failed_due_to_regex for
                               every probe, as blackbox's http and tcp
                               probers do (its dns and icmp ones have none) */
    void (*json)(FILE *f, const struct tp_result *r);
};

/* The kinds, in the order the docs and messages name them (kinds.c). */
extern const struct tp_kind *const tp_kinds[];
extern const size_t tp_nkinds;
/* The kind called name, or NULL. */
const struct tp_kind *tp_kind_find(const char *name);
/* k's place in tp_kinds. */
size_t tp_kind_index(const struct tp_kind *k);
/* The names of the kinds pick accepts (NULL: all), for a message:
 * "tcp, http or tls" with conj "or". Returns buf. */
const char *tp_kinds_words(char *buf, size_t len, bool (*pick)(const struct tp_kind *k,
                                                               const void *arg),
                           const void *arg, const char *conj);

struct tp_engine_opts {
    bool once;              /* every target once, as fast as max_inflight
                               allows, then the loop stops */
    unsigned max_inflight;  /* once: probes at a time (0: 1000) */
    bool log_results;       /* log every result, not only state changes */
    FILE *log;              /* JSON lines; NULL: none */
    unsigned recent;        /* durations kept per target for the status page
                               (struct tp_recent; at most 65535); 0: none */
    struct tp_after *after; /* results and state changes go there (after.h):
                               notifications, the store; NULL: nowhere */
    /* --threads (fleet.h): this engine runs the targets of lane `lane` of
     * `lanes` (tp_lane_of), on its own thread; lanes 0 or 1: every target */
    unsigned lane, lanes;
    struct tp_after_gen *after_gen; /* the whole config's identity table
                               (tp_after_gen_new), pushed into after ring
                               `lane` when the engine starts */
    uint64_t after_gen_no;
};

/* Targets from cfg (which must outlive the engine). Returns 0 or -errno. */
int tp_engine_new(tw_loop *loop, const struct tp_config *cfg,
                  const struct tp_engine_opts *opts, struct tp_engine **out);
/* Schedule every target: starts spread evenly over the interval. */
int tp_engine_start(struct tp_engine *e);
/* Cancel what is in flight (RST) and stop scheduling. */
void tp_engine_stop(struct tp_engine *e);
void tp_engine_free(struct tp_engine *e);
/* Carry states, last results and counters over from an engine of the
 * previous config (same probe name, kind and target). */
void tp_engine_adopt(struct tp_engine *e, const struct tp_engine *old);

/* An ad-hoc probe (/probe): def (which must outlive it) against target,
 * once, with timeout_ms instead of def's. done is called exactly once with
 * the target (its def, shown and last filled, have_last set) and the
 * result, perhaps before tp_adhoc_start returns (*out is set first); the
 * probe is freed after it returns. Returns 0 (and *out, for tp_adhoc_cancel until done runs),
 * or -EINVAL with *why set when target is not one of def's kind, or
 * -ENOMEM. The kind's shared state and the resolver are made on first use. */
struct tp_adhoc;
typedef void (*tp_adhoc_done)(void *arg, const struct tp_target *t, const struct tp_result *r);
int tp_adhoc_start(struct tp_engine *e, const struct tp_def *def, const char *target,
                   uint64_t timeout_ms, tp_adhoc_done done, void *arg, struct tp_adhoc **out,
                   const char **why);
/* Abort it (RST); done is not called. */
void tp_adhoc_cancel(struct tp_adhoc *a);

/* Every target of a config across the engines that run them (one per
 * lane of --threads, fleet.h), in the config's order: what /metrics,
 * /status, the status page and the summary read. Read only while no
 * engine runs (tp_fleet_pause, or the engines' own thread). */
struct tp_view {
    const struct tp_config *cfg;
    struct tp_target **t;     /* cfg->ntargets of them, by index */
    char **labels;            /* their label sets, rendered */
    size_t n;
    struct tp_engine *const *e;
    size_t ne;
};
/* A view of engines e[0..ne) of one config. Returns 0 or -ENOMEM. */
int tp_view_make(struct tp_engine *const *e, size_t ne, struct tp_view *v);
void tp_view_free(struct tp_view *v);

/* Prometheus text exposition of every target and of the prober itself
 * (metrics.c). */
void tp_view_metrics(const struct tp_view *v, FILE *out);
/* Every target's state and last result, as one JSON object (log.c). */
void tp_view_status(const struct tp_view *v, FILE *out);
/* A JSON line for an ad-hoc probe's result (event "probe"; f NULL: none). */
void tp_log_probe(FILE *f, const char *module, const struct tp_target *t,
                  const struct tp_result *r);
/* Open a JSON log line: {"time":...,"event":EVENT (the caller goes on
 * with ",..." and ends it with "}\n"). */
void tp_log_begin(FILE *f, const char *event);

struct tp_summary {
    uint64_t targets, results[3], skipped, late_n;
    uint64_t late_p50_us, late_p99_us, late_max_us;
    int time_wait;          /* TIME_WAIT sockets of the prober's own (its
                               graceful closes, timewait.c); -1: unknown */
    int netns_time_wait;    /* TIME_WAIT sockets in its netns, anyone's; -1 */
    unsigned threads;       /* engines (--threads), and each one's targets */
    uint32_t thread_targets[256];
};
void tp_view_summary(const struct tp_view *v, struct tp_summary *s); /* metrics.c */
/* The Prometheus text of one result, label-free, families sorted by name,
 * as blackbox_exporter's /probe answers (metrics.c). */
void tp_metrics_one(const struct tp_target *t, FILE *out);

/* The probe of t ended with result r (the engine sets duration and dns). */
void tp_probe_done(struct tp_engine *e, struct tp_target *t, struct tp_result *r);

tw_loop *tp_engine_loop(struct tp_engine *e);
/* Per-kind shared state slot, for init/fini. */
void **tp_engine_kind_data(struct tp_engine *e, const struct tp_kind *kind);
const struct tp_config *tp_engine_config(struct tp_engine *e);

/* Close a probe's socket the way its definition says: RST (SO_LINGER 0),
 * or with close: graceful, our FIN after draining what the target sends
 * (the engine finishes that in the background; this side holds TIME_WAIT). */
void tp_close(struct tp_engine *e, const struct tp_def *def, int fd);

/* ---- certificates (cert.c), for the kinds that speak TLS ---- */

struct ssl_st;
/* Earliest notAfter over the peer's chain and the leaf's, unix seconds
 * (0 if none); sets r->tls, cert_expiry, leaf_expiry. */
void tp_tls_expiry(struct ssl_st *ssl, struct tp_result *r);
/* Everything blackbox_exporter reports of a finished handshake, into r:
 * tp_tls_expiry, tls_version, leaf_info, and last_chain_expiry (from the
 * chain OpenSSL verified when verified, else Go's zero time,
 * TP_GO_ZERO_TIME, as blackbox reports an unverified connection). */
void tp_tls_certs(struct ssl_st *ssl, bool verified, struct tp_result *r);
/* Forget the TLS fields of r (tls false, leaf_info freed). */
void tp_tls_forget(struct tp_result *r);
#define TP_GO_ZERO_TIME (-62135596800.0) /* time.Time{}.Unix() */
/* Field i of r->leaf_info: 0 fingerprint_sha256, 1 subject, 2 issuer,
 * 3 subjectalternative; "" when there is none. */
const char *tp_leaf_info(const struct tp_result *r, unsigned i);
/* A copy of a leaf_info (NULL: none, or no memory). */
char *tp_leaf_dup(const char *info);
/* to's TLS fields (tls, expiries, verify, version, leaf_info) become a
 * copy of from's: what a resumed handshake reports of its session's full
 * one (a resumed handshake carries no certificate). */
void tp_tls_report_copy(struct tp_result *to, const struct tp_result *from);

/* The metric rows of a TLS handshake, with blackbox_exporter's names and
 * HELP (0.23): each writes its sample when t->last.tls. A kind puts the
 * ones it has in its tp_metric table; the samplers are in cert.c. */
void tp_m_ssl_earliest(const struct tp_target *t, struct tu_prom *p, const char *labels);
void tp_m_ssl_last_chain_expiry(const struct tp_target *t, struct tu_prom *p,
                                const char *labels);
void tp_m_ssl_last_chain_info(const struct tp_target *t, struct tu_prom *p, const char *labels);
void tp_m_tls_version(const struct tp_target *t, struct tu_prom *p, const char *labels);
#define TP_METRIC_SSL_EARLIEST                                                                 \
    {"probe_ssl_earliest_cert_expiry", "Returns last SSL chain expiry in unixtime",            \
     tp_m_ssl_earliest}
#define TP_METRIC_SSL_LAST_CHAIN_EXPIRY                                                        \
    {"probe_ssl_last_chain_expiry_timestamp_seconds",                                          \
     "Returns last SSL chain expiry in timestamp", tp_m_ssl_last_chain_expiry}
#define TP_METRIC_SSL_LAST_CHAIN_INFO                                                          \
    {"probe_ssl_last_chain_info", "Contains SSL leaf certificate information",                 \
     tp_m_ssl_last_chain_info}
#define TP_METRIC_TLS_VERSION                                                                  \
    {"probe_tls_version_info", "Returns the TLS version used or NaN when unknown",             \
     tp_m_tls_version}
/* twkit's own: which handshake the last probe did, with tls_resumption. */
void tp_m_tls_handshake(const struct tp_target *t, struct tu_prom *p, const char *labels);
#define TP_METRIC_TLS_HANDSHAKE                                                                \
    {"twkit_probe_tls_handshake_info",                                                         \
     "tls_resumption: the last probe's handshake (full, resumed, "                             \
     "full_after_refused_resumption), always 1",                                               \
     tp_m_tls_handshake}

#endif
