/* twkit probe: notifications on state changes (docs/PROBE.md,
 * "Notifications").
 *
 *  notify_cfg.c   the `notify:` and `health:` sections and the probes'
 *                 `notify: [...]` key: channels, secrets, selections
 *  notify_fmt.c   the channel kinds, one row each: what a message looks
 *                 like on the wire (webhook JSON, Slack, Discord, Teams,
 *                 Telegram, email, Alertmanager)
 *  notify_send.c  one message: its curl handle (HTTP or SMTP), how its
 *                 answer is judged, --test-notify
 *  notify.c       the notifier, a sink of the after thread (after.h):
 *                 per target and channel state, flap suppression, queues,
 *                 retries with backoff and jitter, dead channels, metrics
 *
 * Only the after thread sends; the engine never waits for a channel.
 */
#ifndef TW_PROBE_NOTIFY_H
#define TW_PROBE_NOTIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "probe/after.h"
#include "probe/config.h"
#include "probe/probe.h"

#define TP_NOTIFY_MAX_CHANNELS 64

struct tp_chan_kind;

enum tp_starttls { TP_STARTTLS_ALWAYS, TP_STARTTLS_TRY };

/* One entry of `notify:`. Secrets (url, token, password) are never printed:
 * not in errors, logs, /status or /metrics. */
struct tp_chan {
    char *name;
    const struct tp_chan_kind *kind;
    char *url;                /* secret: a webhook's URL carries its token;
                                 email: smtp:// or smtps://; alertmanager:
                                 its base URL */
    char *token;              /* telegram: the bot token (secret) */
    char *chat_id;            /* telegram */
    char *api_url;            /* telegram: the Bot API's base URL */
    char *from;               /* email */
    char **to;                /* email */
    size_t nto;
    char *username;           /* email: SMTP AUTH */
    char *password;           /* email (secret) */
    enum tp_starttls starttls; /* email: CURLUSESSL_ALL or _TRY */
    struct tp_kv *headers;    /* webhook: extra request headers */
    size_t nheaders;
    struct tp_kv *labels;     /* alertmanager: added to every alert */
    size_t nlabels;
    uint64_t min_interval_ms; /* flap suppression, per target */
    uint64_t timeout_ms;      /* one attempt */
    unsigned retries;         /* attempts after the first */
    uint64_t backoff_ms, backoff_max_ms;
    unsigned jitter_pct;      /* each wait is +- this % at random */
    uint64_t repeat_ms;       /* alertmanager: firing alerts posted again
                                 this often (min(5m, resolve_timeout/2)) */
    bool tls_verify;
    char *ca_file;
    char *proxy_url;          /* NULL: no proxy (the environment's proxy
                                 variables are not used) */
    unsigned long line, col;
};

/* The prober's own health alerts (`health:`). */
struct tp_health_cfg {
    unsigned local_errors;    /* local errors in window that raise
                                 TwkitProbeLocalErrors (0: never) */
    uint64_t window_ms;
    unsigned *chans;          /* channels told; NULL: every channel */
    size_t nchans;
};

/* The `notify:` and `health:` sections of one config, immutable once
 * loaded and shared by reference: the config holds one, and every
 * generation of the after thread (after.h) that was built from it. */
struct tp_notify_cfg {
    atomic_uint refs;
    struct tp_chan *chans;
    size_t nchans;
    struct tp_health_cfg health;
};

const struct tp_notify_cfg *tp_notify_cfg_ref(const struct tp_notify_cfg *n);
void tp_notify_cfg_unref(const struct tp_notify_cfg *n);
/* The channel called name, or NULL. */
const struct tp_chan *tp_notify_chan(const struct tp_notify_cfg *n, const char *name);

/* ---- loading (notify_cfg.c), for config.c ---- */

/* `notify:` (v; NULL: absent) and `health:` (h; NULL) into *out (NULL when
 * both are absent). Problems are reported through c. */
void tp_notify_load(struct tp_cfgctx *c, const struct tp_val *v, const struct tp_val *h,
                    struct tp_notify_cfg **out);
/* Every probe's (and defaults') `notify: [...]` names resolved to channel
 * indexes; unknown names are reported where they were written (those a
 * probe inherited from defaults, once, at defaults). */
void tp_notify_resolve(struct tp_cfgctx *c, const struct tp_notify_cfg *n,
                       struct tp_def *defaults, struct tp_def *defs, size_t ndefs);
/* The probe key `notify` (config_keys.c's row). */
bool tp_notify_key_apply(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
bool tp_notify_sel_inherit(struct tp_cfgctx *c, struct tp_def *def, const struct tp_def *d);
void tp_notify_sel_free(struct tp_def *def);

/* ---- what is said (notify_fmt.c) ---- */

enum tp_note_type { TP_NOTE_STATE, TP_NOTE_ALERT, TP_NOTE_TEST };

/* One notification, whatever the channel. */
struct tp_note {
    enum tp_note_type type;
    const char *probe, *kind, *target; /* STATE */
    const struct tp_kv *labels;
    size_t nlabels;
    const char *state, *previous;     /* STATE: down, up (previous may be
                                         unknown); ALERT: firing, resolved */
    const char *reason, *error, *detail; /* each may be NULL */
    const char *alert, *about;        /* ALERT: alertname, its subject */
    int64_t time_ns;                  /* when it happened, CLOCK_REALTIME */
    int64_t since_ns;                 /* up / resolved: when the outage or
                                         the alert began (0: unknown) */
    uint64_t seq;
    unsigned consecutive;
    char key[96];                     /* the idempotency key */
};

/* What one attempt sends. */
struct tp_msgspec {
    char *url;                /* malloc'd */
    char *body;               /* malloc'd */
    size_t len;
    const char *ctype;        /* Content-Type (HTTP) */
    char **headers;           /* malloc'd "Name: value" lines, NULL-ended */
    bool smtp;                /* url is smtp:// or smtps://: body is the
                                 RFC 5322 message */
};
void tp_msgspec_free(struct tp_msgspec *m);

/* Which kinds take a key (notify_cfg.c): bits of tp_chan_kind.keys. */
enum {
    TP_CK_URL = 1,      /* url, url_file, url_env (required) */
    TP_CK_HEADERS = 2,  /* webhook: headers */
    TP_CK_AM = 4,       /* alertmanager: labels, resolve_timeout */
    TP_CK_TG = 8,       /* telegram: token*, chat_id (required), api_url */
    TP_CK_MAIL = 16,    /* email: from, to (required), username,
                           password*, starttls */
};

/* A channel kind: one row of tp_chan_kinds. keys: the TP_CK_* bits of the
 * keys it takes besides those of every kind. build: the message of note
 * for channel ch (0 or -ENOMEM). */
struct tp_chan_kind {
    const char *name;
    unsigned keys;
    bool alertmanager;        /* resolved alerts, and firing ones re-posted */
    int (*build)(const struct tp_chan *ch, const struct tp_note *n, struct tp_msgspec *m);
};
extern const struct tp_chan_kind *const tp_chan_kinds[];
extern const size_t tp_nchan_kinds;
const struct tp_chan_kind *tp_chan_kind_find(const char *name);

/* The idempotency key of a state change or alert: stable for the same
 * (target or alert, state, time), whatever channel or attempt. */
void tp_note_key(struct tp_note *n, uint64_t hash);
/* Alertmanager: the alert object of n (labels, annotations, startsAt, and
 * endsAt when resolved), as JSON text (malloc'd), and a body of several. */
char *tp_am_alert(const struct tp_chan *ch, const struct tp_note *n);
int tp_am_body(const struct tp_chan *ch, char *const *alerts, size_t n, struct tp_msgspec *m);

/* ---- sending (notify_send.c) ---- */

struct tp_send {
    void *easy;               /* CURL * */
    void *hdrs, *rcpt;        /* struct curl_slist * */
    const char *body;
    size_t len, off;          /* SMTP upload position */
    char errbuf[256];         /* CURLOPT_ERRORBUFFER: CURL_ERROR_SIZE */
    char answer[128];         /* the answer's first bytes */
};
/* A curl handle for one attempt of m on ch (ch's timeout, TLS and proxy).
 * 0 or -ENOMEM. */
int tp_send_prepare(struct tp_send *s, const struct tp_chan *ch, const struct tp_msgspec *m);
void tp_send_release(struct tp_send *s);
/* How an attempt ended: 0 delivered; 1 failed, worth another try (no
 * connection, a timeout, HTTP 408, 425, 429 or 5xx); 2 failed for good
 * (any other status, a refused message). why: for people, with ch's
 * secrets blanked out; *err the errno behind it, or 0. */
int tp_send_verdict(struct tp_send *s, const struct tp_chan *ch, int curl_code, char *why,
                    size_t len, int *err);
/* Replace every secret of ch in text by xxxxx. */
void tp_chan_scrub(const struct tp_chan *ch, char *text);
/* --test-notify: one test message on cfg's channel name, waited for; what
 * happened on out. 0 delivered, 1 not, 2 no such channel. */
int tp_notify_test(const struct tp_config *cfg, const char *name, FILE *out);

/* ---- the notifier (notify.c) ---- */

/* A sink for the after thread, that owns what it allocates (freed in its
 * fini). 0 or -ENOMEM. */
int tp_notify_sink(struct tp_after *a, struct tp_after_sink *out);

#endif
