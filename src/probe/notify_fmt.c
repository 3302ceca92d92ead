/* twkit probe: the channel kinds (notify.h), one row of tp_chan_kinds each:
 * what a notification looks like on the wire. JSON through jansson.
 *
 *  webhook       twkit's own JSON (docs/PROBE.md, "The webhook's JSON")
 *  slack         an incoming webhook's simplest form: {"text": ...}
 *  discord       a webhook's simplest form: {"content": ...}
 *  teams         an Adaptive Card in a message attachment, which both
 *                Teams' Workflows webhooks and the older connectors take
 *  telegram      the Bot API's sendMessage: {"chat_id": ..., "text": ...}
 *  email         an RFC 5322 message over SMTP (notify_send.c)
 *  alertmanager  POST /api/v2/alerts: a list of alerts with labels,
 *                annotations, startsAt and, once resolved, endsAt
 *
 * Every HTTP message carries its idempotency key in an Idempotency-Key
 * header (and in the body where the format has room), an email in its
 * Message-ID.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "probe/notify.h"
#include "util/json.h"

/* ---- words ---- */

void tp_note_key(struct tp_note *n, uint64_t hash)
{
    const char *what = n->type == TP_NOTE_TEST ? "test" : n->state;

    snprintf(n->key, sizeof(n->key), "twkit-%016llx-%s-%lld", (unsigned long long)hash, what,
             (long long)(n->time_ns / 1000000));
}

/* One line for people: what happened, to what, why. */
static void say(const struct tp_note *n, const char *channel, char *buf, size_t len)
{
    char t[40];

    tu_rfc3339(t, sizeof(t), n->time_ns);
    if (n->type == TP_NOTE_TEST) {
        snprintf(buf, len, "twkit probe: a test message on channel %s, at %s", channel, t);
    } else if (n->type == TP_NOTE_ALERT) {
        snprintf(buf, len, "%s: %s%s%s: %s, at %s", !strcmp(n->state, "firing") ? "FIRING"
                                                                               : "RESOLVED",
                 n->alert, n->about && n->about[0] ? " " : "", n->about ? n->about : "",
                 n->detail ? n->detail : "", t);
    } else if (!strcmp(n->state, "down")) {
        snprintf(buf, len, "DOWN: %s (%s %s): %s%s%s, at %s", n->probe, n->kind, n->target,
                 n->reason ? n->reason : "failed", n->detail ? " - " : "",
                 n->detail ? n->detail : "", t);
    } else if (n->since_ns) {
        snprintf(buf, len, "UP: %s (%s %s) is up again after %.1f s down, at %s", n->probe,
                 n->kind, n->target, (double)(n->time_ns - n->since_ns) / 1e9, t);
    } else {
        snprintf(buf, len, "UP: %s (%s %s) is up again, at %s", n->probe, n->kind, n->target,
                 t);
    }
}

/* ---- building ---- */

void tp_msgspec_free(struct tp_msgspec *m)
{
    free(m->url);
    free(m->body);
    for (size_t i = 0; m->headers && m->headers[i]; i++)
        free(m->headers[i]);
    free(m->headers);
    memset(m, 0, sizeof(*m));
}

/* The headers every HTTP message has, and ch's own (webhook). */
static int http_headers(const struct tp_chan *ch, const struct tp_note *n, struct tp_msgspec *m)
{
    size_t k = 0;

    if (!(m->headers = calloc(ch->nheaders + 3, sizeof(*m->headers))))
        return -ENOMEM;
    if (asprintf(&m->headers[k++], "Idempotency-Key: %s", n->key) < 0) {
        m->headers[k - 1] = NULL;
        return -ENOMEM;
    }
    for (size_t i = 0; i < ch->nheaders; i++, k++)
        if (asprintf(&m->headers[k], "%s: %s", ch->headers[i].key, ch->headers[i].value) < 0) {
            m->headers[k] = NULL;
            return -ENOMEM;
        }
    return 0;
}

/* body: o serialized (o is released); url: ch->url, or fmt's. */
static int finish_json(const struct tp_chan *ch, const struct tp_note *n, json_t *o,
                       struct tp_msgspec *m)
{
    if (!o)
        return -ENOMEM;
    m->body = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (!m->body)
        return -ENOMEM;
    m->len = strlen(m->body);
    m->ctype = "application/json";
    if (!m->url && !(m->url = strdup(ch->url)))
        return -ENOMEM;
    return http_headers(ch, n, m);
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v)
        json_object_set_new(o, k, json_string(v));
}

static json_t *labels_obj(const struct tp_kv *kv, size_t n)
{
    json_t *o = json_object();

    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

static int build_webhook(const struct tp_chan *ch, const struct tp_note *n, struct tp_msgspec *m)
{
    static const char *const types[] = {"state", "alert", "test"};
    json_t *o = json_object();
    char t[40];

    if (!o)
        return -ENOMEM;
    json_object_set_new(o, "version", json_integer(1));
    set_str(o, "type", types[n->type]);
    set_str(o, "key", n->key);
    set_str(o, "time", tu_rfc3339(t, sizeof(t), n->time_ns));
    set_str(o, "channel", ch->name);
    if (n->type == TP_NOTE_STATE) {
        set_str(o, "probe", n->probe);
        set_str(o, "kind", n->kind);
        set_str(o, "target", n->target);
        json_object_set_new(o, "labels", labels_obj(n->labels, n->nlabels));
        set_str(o, "state", n->state);
        set_str(o, "previous", n->previous);
        json_object_set_new(o, "consecutive", json_integer(n->consecutive));
        json_object_set_new(o, "seq", json_integer((json_int_t)n->seq));
        set_str(o, "reason", n->reason);
        set_str(o, "error", n->error);
        set_str(o, "detail", n->detail);
    } else if (n->type == TP_NOTE_ALERT) {
        set_str(o, "alert", n->alert);
        if (n->about && n->about[0])
            set_str(o, "about", n->about);
        set_str(o, "state", n->state);
        set_str(o, "detail", n->detail);
    }
    if (n->since_ns) {
        set_str(o, n->type == TP_NOTE_STATE ? "down_since" : "since",
                tu_rfc3339(t, sizeof(t), n->since_ns));
        json_object_set_new(o, n->type == TP_NOTE_STATE ? "outage_s" : "duration_s",
                            json_real((double)(n->time_ns - n->since_ns) / 1e9));
    }
    return finish_json(ch, n, o, m);
}

static int build_text(const struct tp_chan *ch, const struct tp_note *n, struct tp_msgspec *m,
                      const char *field)
{
    char text[512];

    say(n, ch->name, text, sizeof(text));
    return finish_json(ch, n, json_pack("{ss}", field, text), m);
}

static int build_slack(const struct tp_chan *ch, const struct tp_note *n, struct tp_msgspec *m)
{
    return build_text(ch, n, m, "text");
}

static int build_discord(const struct tp_chan *ch, const struct tp_note *n,
                         struct tp_msgspec *m)
{
    return build_text(ch, n, m, "content");
}

static int build_teams(const struct tp_chan *ch, const struct tp_note *n, struct tp_msgspec *m)
{
    char text[512];

    say(n, ch->name, text, sizeof(text));
    return finish_json(
        ch, n,
        json_pack("{ss s[{ss s{ss ss ss s[{ss ss sb}]}}]}", "type", "message", "attachments",
                  "contentType", "application/vnd.microsoft.card.adaptive", "content", "$schema",
                  "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
                  "version", "1.2", "body", "type", "TextBlock", "text", text, "wrap", 1),
        m);
}

static int build_telegram(const struct tp_chan *ch, const struct tp_note *n,
                          struct tp_msgspec *m)
{
    char text[512];
    size_t bl = strlen(ch->api_url);

    say(n, ch->name, text, sizeof(text));
    if (asprintf(&m->url, "%.*s/bot%s/sendMessage", (int)(bl && ch->api_url[bl - 1] == '/'
                                                               ? bl - 1 : bl),
                 ch->api_url, ch->token) < 0) {
        m->url = NULL;
        return -ENOMEM;
    }
    return finish_json(ch, n, json_pack("{ss ss}", "chat_id", ch->chat_id, "text", text), m);
}

/* Header text: a line break in a detail must not start a header. */
static void one_line(char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            *s = ' ';
}

static int build_email(const struct tp_chan *ch, const struct tp_note *n, struct tp_msgspec *m)
{
    char text[512], date[64], t[40];
    time_t s = (time_t)(n->time_ns / 1000000000);
    struct tm tm;
    FILE *f;

    say(n, ch->name, text, sizeof(text));
    one_line(text);
    gmtime_r(&s, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm); /* C locale */
    if (!(f = open_memstream(&m->body, &m->len)))
        return -ENOMEM;
    fprintf(f, "Date: %s\r\nFrom: <%s>\r\nTo: ", date, ch->from);
    for (size_t i = 0; i < ch->nto; i++)
        fprintf(f, "%s<%s>", i ? ", " : "", ch->to[i]);
    fprintf(f, "\r\nSubject: [twkit] %s\r\nMessage-ID: <%s@twkit.invalid>\r\n"
               "X-Twkit-Idempotency-Key: %s\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
               "\r\n%s\r\n\r\n",
            text, n->key, n->key, text);
    if (n->type == TP_NOTE_STATE) {
        fprintf(f, "probe: %s\r\nkind: %s\r\ntarget: %s\r\nstate: %s (was %s)\r\n", n->probe,
                n->kind, n->target, n->state, n->previous);
        if (n->reason)
            fprintf(f, "reason: %s\r\n", n->reason);
        if (n->error)
            fprintf(f, "error: %s\r\n", n->error);
        if (n->detail)
            fprintf(f, "detail: %s\r\n", n->detail);
        for (size_t i = 0; i < n->nlabels; i++)
            fprintf(f, "label %s: %s\r\n", n->labels[i].key, n->labels[i].value);
    }
    fprintf(f, "time: %s\r\nkey: %s\r\n", tu_rfc3339(t, sizeof(t), n->time_ns), n->key);
    if (fclose(f) != 0)
        return -ENOMEM;
    m->smtp = true;
    return (m->url = strdup(ch->url)) ? 0 : -ENOMEM;
}

/* ---- Alertmanager ---- */

char *tp_am_alert(const struct tp_chan *ch, const struct tp_note *n)
{
    json_t *o = json_object(), *labels = labels_obj(ch->labels, ch->nlabels), *ann;
    char t[40], text[512], *s;
    bool test = n->type == TP_NOTE_TEST;
    bool resolved = !test && (!strcmp(n->state, "up") || !strcmp(n->state, "resolved"));

    if (!o || !labels || !(ann = json_object())) {
        json_decref(o);
        json_decref(labels);
        return NULL;
    }
    say(n, ch->name, text, sizeof(text));
    if (n->type == TP_NOTE_STATE) {
        for (size_t i = 0; i < n->nlabels; i++)
            json_object_set_new(labels, n->labels[i].key, json_string(n->labels[i].value));
        json_object_set_new(labels, "alertname", json_string("TwkitProbeDown"));
        json_object_set_new(labels, "probe", json_string(n->probe));
        json_object_set_new(labels, "kind", json_string(n->kind));
        json_object_set_new(labels, "target", json_string(n->target));
        set_str(ann, "reason", n->reason);
        set_str(ann, "error", n->error);
    } else if (test) {
        json_object_set_new(labels, "alertname", json_string("TwkitProbeTest"));
        json_object_set_new(labels, "about", json_string(ch->name));
    } else {
        json_object_set_new(labels, "alertname", json_string(n->alert));
        if (n->about && n->about[0])
            json_object_set_new(labels, "about", json_string(n->about));
    }
    set_str(ann, "summary", text);
    set_str(ann, "description", n->detail);
    set_str(ann, "idempotency_key", n->key);
    json_object_set_new(o, "labels", labels);
    json_object_set_new(o, "annotations", ann);
    set_str(o, "startsAt", tu_rfc3339(t, sizeof(t), resolved && n->since_ns ? n->since_ns
                                                                             : n->time_ns));
    if (resolved || test) /* a test alert resolves itself a minute later */
        set_str(o, "endsAt", tu_rfc3339(t, sizeof(t), n->time_ns + (test ? 60000000000 : 0)));
    s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    return s;
}

int tp_am_body(const struct tp_chan *ch, char *const *alerts, size_t n, struct tp_msgspec *m)
{
    size_t ul = strlen(ch->url), len = 2;
    const char *tail = "/api/v2/alerts";
    char *p;

    while (ul && ch->url[ul - 1] == '/')
        ul--;
    if (ul >= strlen(tail) && !strncmp(ch->url + ul - strlen(tail), tail, strlen(tail)))
        tail = ""; /* the whole path was written */
    if (asprintf(&m->url, "%.*s%s", (int)ul, ch->url, tail) < 0) {
        m->url = NULL;
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        len += strlen(alerts[i]) + 1;
    if (!(p = m->body = malloc(len + 1)))
        return -ENOMEM;
    *p++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p = stpcpy(p, alerts[i]);
    }
    *p++ = ']';
    *p = '\0';
    m->len = (size_t)(p - m->body);
    m->ctype = "application/json";
    return 0;
}

static int build_alertmanager(const struct tp_chan *ch, const struct tp_note *n,
                              struct tp_msgspec *m)
{
    char *a = tp_am_alert(ch, n);
    int r;

    if (!a)
        return -ENOMEM;
    r = tp_am_body(ch, &a, 1, m);
    free(a);
    return r < 0 ? r : http_headers(ch, n, m);
}

/* ---- the table ---- */

static const struct tp_chan_kind k_webhook = {"webhook", TP_CK_URL | TP_CK_HEADERS, false,
                                              build_webhook};
static const struct tp_chan_kind k_slack = {"slack", TP_CK_URL, false, build_slack};
static const struct tp_chan_kind k_discord = {"discord", TP_CK_URL, false, build_discord};
static const struct tp_chan_kind k_teams = {"teams", TP_CK_URL, false, build_teams};
static const struct tp_chan_kind k_telegram = {"telegram", TP_CK_TG, false, build_telegram};
static const struct tp_chan_kind k_email = {"email", TP_CK_URL | TP_CK_MAIL, false, build_email};
static const struct tp_chan_kind k_alertmanager = {"alertmanager", TP_CK_URL | TP_CK_AM, true,
                                                   build_alertmanager};

const struct tp_chan_kind *const tp_chan_kinds[] = {
    &k_webhook, &k_slack, &k_discord, &k_teams, &k_telegram, &k_email, &k_alertmanager,
};
const size_t tp_nchan_kinds = sizeof(tp_chan_kinds) / sizeof(tp_chan_kinds[0]);

const struct tp_chan_kind *tp_chan_kind_find(const char *name)
{
    for (size_t i = 0; i < tp_nchan_kinds; i++)
        if (!strcmp(tp_chan_kinds[i]->name, name))
            return tp_chan_kinds[i];
    return NULL;
}
