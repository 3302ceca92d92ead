/* twkit probe: one attempt of one message (notify.h): its curl handle for
 * HTTP (a POST) or SMTP (MAIL FROM, RCPT TO, the message uploaded, STARTTLS
 * as the channel says), how the answer is judged, and --test-notify, which
 * sends one test message with a blocking curl_easy_perform.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "probe/notify.h"
#include "twkit/error.h"
#include "twkit/time.h"

/* ---- secrets ---- */

static void blank(char *text, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    char *p;

    if (n < 4) /* a secret this short would blank ordinary words */
        return;
    while ((p = strstr(text, secret))) {
        memcpy(p, "xxxxx", n < 5 ? n : 5);
        if (n > 5)
            memmove(p + 5, p + n, strlen(p + n) + 1);
    }
}

/* A URL is a secret as a whole, but an error names only a part of it: the
 * parts a token hides in (path, query, password) are blanked too. */
static void blank_url(char *text, const char *url)
{
    static const CURLUPart parts[] = {CURLUPART_PATH, CURLUPART_QUERY, CURLUPART_PASSWORD};
    CURLU *u = url ? curl_url() : NULL;

    blank(text, url);
    for (size_t i = 0; u && i < sizeof(parts) / sizeof(parts[0]); i++) {
        char *p = NULL;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, parts[i], &p, 0) == CURLUE_OK && p && strcmp(p, "/"))
            blank(text, p);
        curl_free(p);
    }
    curl_url_cleanup(u);
}

void tp_chan_scrub(const struct tp_chan *ch, char *text)
{
    blank_url(text, ch->url);
    blank(text, ch->token);
    blank(text, ch->password);
    blank_url(text, ch->proxy_url);
}

/* ---- a handle ---- */

/* The answer's first bytes, for a message about a refusal. */
static size_t on_write(char *p, size_t size, size_t n, void *arg)
{
    struct tp_send *s = arg;
    size_t have = strlen(s->answer), room = sizeof(s->answer) - 1 - have;
    size_t take = size * n < room ? size * n : room;

    memcpy(s->answer + have, p, take);
    s->answer[have + take] = '\0';
    return size * n;
}

static size_t on_read(char *p, size_t size, size_t n, void *arg)
{
    struct tp_send *s = arg;
    size_t take = s->len - s->off < size * n ? s->len - s->off : size * n;

    memcpy(p, s->body + s->off, take);
    s->off += take;
    return take;
}

int tp_send_prepare(struct tp_send *s, const struct tp_chan *ch, const struct tp_msgspec *m)
{
    struct curl_slist *l;
    CURL *e;
    char buf[400];

    memset(s, 0, sizeof(*s));
    if (!(e = s->easy = curl_easy_init()))
        return -ENOMEM;
    s->body = m->body;
    s->len = m->len;
    curl_easy_setopt(e, CURLOPT_URL, m->url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ch->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "twkit-probe/" TW_VERSION);
    /* the environment's proxy variables are not the config */
    curl_easy_setopt(e, CURLOPT_PROXY, ch->proxy_url ? ch->proxy_url : "");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, ch->tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, ch->tls_verify ? 2L : 0L);
    if (ch->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, ch->ca_file);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    if (m->smtp) {
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        snprintf(buf, sizeof(buf), "<%s>", ch->from);
        curl_easy_setopt(e, CURLOPT_MAIL_FROM, buf);
        for (size_t i = 0; i < ch->nto; i++) {
            snprintf(buf, sizeof(buf), "<%s>", ch->to[i]);
            if (!(l = curl_slist_append(s->rcpt, buf)))
                return -ENOMEM;
            s->rcpt = l;
        }
        curl_easy_setopt(e, CURLOPT_MAIL_RCPT, (struct curl_slist *)s->rcpt);
        curl_easy_setopt(e, CURLOPT_USE_SSL, ch->starttls == TP_STARTTLS_TRY
                                                 ? (long)CURLUSESSL_TRY
                                                 : (long)CURLUSESSL_ALL);
        if (ch->username)
            curl_easy_setopt(e, CURLOPT_USERNAME, ch->username);
        if (ch->password)
            curl_easy_setopt(e, CURLOPT_PASSWORD, ch->password);
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, s);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)m->len);
        return 0;
    }
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, m->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)m->len);
    snprintf(buf, sizeof(buf), "Content-Type: %s", m->ctype);
    if (!(l = curl_slist_append(NULL, buf)) || !(s->hdrs = l, l = curl_slist_append(l, "Expect:")))
        return -ENOMEM;
    s->hdrs = l;
    for (size_t i = 0; m->headers && m->headers[i]; i++) {
        if (!(l = curl_slist_append(s->hdrs, m->headers[i])))
            return -ENOMEM;
        s->hdrs = l;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)s->hdrs);
    return 0;
}

void tp_send_release(struct tp_send *s)
{
    if (s->easy)
        curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->hdrs);
    curl_slist_free_all(s->rcpt);
    memset(s, 0, sizeof(*s));
}

/* curl's failures that another try will not mend. */
static bool for_good(int code)
{
    switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_LOGIN_DENIED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_REMOTE_ACCESS_DENIED:
        return true;
    default:
        return false;
    }
}

int tp_send_verdict(struct tp_send *s, const struct tp_chan *ch, int code, char *why, size_t len,
                    int *err)
{
    long status = 0, oserr = 0;
    const char *answer = s->answer;
    int v;

    *err = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK) {
        curl_easy_getinfo(s->easy, CURLINFO_OS_ERRNO, &oserr);
        *err = code == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT : (int)oserr;
        snprintf(why, len, "%s%s%s", *err ? tw_errname(*err) : "", *err ? ": " : "",
                 s->errbuf[0] ? s->errbuf : curl_easy_strerror((CURLcode)code));
        v = for_good(code) ? 2 : 1;
    } else if (s->rcpt) { /* SMTP: curl fails every refusal itself */
        snprintf(why, len, "SMTP %ld", status);
        v = 0;
    } else if (status >= 200 && status < 300) {
        snprintf(why, len, "HTTP %ld", status);
        v = 0;
    } else {
        char a[80];
        size_t k = 0;
        for (const char *p = answer; *p && k + 1 < sizeof(a); p++) /* one line of it */
            a[k++] = (*p == '\r' || *p == '\n' || *p == '\t') ? ' ' : *p;
        a[k] = '\0';
        snprintf(why, len, "HTTP %ld%s%s", status, k ? ": " : "", a);
        v = status == 408 || status == 425 || status == 429 || status >= 500 ? 1 : 2;
    }
    tp_chan_scrub(ch, why);
    return v;
}

/* ---- --test-notify ---- */

int tp_notify_test(const struct tp_config *cfg, const char *name, FILE *out)
{
    const struct tp_chan *ch = tp_notify_chan(cfg->notify, name);
    struct tp_note n = {.type = TP_NOTE_TEST};
    struct tp_msgspec m = {0};
    struct tp_send s;
    struct timespec ts;
    uint64_t t0;
    char why[300];
    int code, v, err;

    if (!ch) {
        fprintf(out, "twkit probe: --test-notify: no channel %s in %s\n", name, cfg->path);
        return 2;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    n.time_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    n.about = ch->name;
    tp_note_key(&n, tp_after_id_hash(ch->name, "test", ""));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || ch->kind->build(ch, &n, &m) < 0 ||
        tp_send_prepare(&s, ch, &m) < 0) {
        fprintf(out, "%s: not sent: %s\n", ch->name, tw_strerror(-ENOMEM));
        tp_msgspec_free(&m);
        return 1;
    }
    t0 = tw_now_ms();
    code = (int)curl_easy_perform(s.easy);
    v = tp_send_verdict(&s, ch, code, why, sizeof(why), &err);
    fprintf(out, "%s (%s): %s in %llu ms: %s; key %s\n", ch->name, ch->kind->name,
            v == 0 ? "delivered" : "not delivered", (unsigned long long)(tw_now_ms() - t0), why,
            n.key);
    tp_send_release(&s);
    tp_msgspec_free(&m);
    return v == 0 ? 0 : 1;
}
