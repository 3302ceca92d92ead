/* twkit probe: blackbox_exporter's /probe endpoint (bbhttp.h,
 * docs/PROBE.md, "Migrating from blackbox_exporter").
 *
 * GET /probe?target=T&module=M runs module M of blackbox.yml against T
 * now, on an engine of its own whose definitions are the modules, and
 * answers with that one result in blackbox's metric names: the HTTP
 * response is deferred (tw_sconn_defer) until the probe reports. The
 * timeout is blackbox's: the module's, capped by the scrape's
 * (X-Prometheus-Scrape-Timeout-Seconds) less the offset.
 *
 * Probes at a time are bounded: past the bound a request waits in a queue
 * (its wait counts against its timeout); past the queue's bound, or when
 * its time ran out waiting, it is answered at once as a local error
 * (EAGAIN), probe_success 0 and twkit_probe_local_error 1, as Prometheus
 * needs a value and the alert must be able to tell this host from the
 * target.
 *
 * A reload makes a new generation (config and engine); probes under way
 * finish on the old one, which is freed when its last probe has answered.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/list.h"
#include "probe/bbhttp.h"
#include "probe/blackbox.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "util/prom.h"

#define QUEUE_FACTOR 4 /* requests waiting, per probe allowed at a time */

struct gen {
    struct tp_bb_config bb;
    struct tp_engine *e;
    unsigned refs;       /* requests on it, and 1 while it is current */
    tw_defer free_later; /* freed outside the engine's own callbacks */
    struct tp_bbsrv *s;
    struct tw_list link; /* in s->gens */
};

struct preq {
    struct tp_bbsrv *s;
    tw_sconn *c;
    struct gen *g;
    const struct tp_def *def;
    struct tp_adhoc *a;
    char *target, *module;
    uint64_t timeout_ms, arrived_ms;
    uint64_t begun_ns;
    bool debug, queued;
    struct tw_list link; /* in the queue */
};

struct tp_bbsrv {
    tw_loop *loop;
    struct tp_bbsrv_opts o;
    struct gen *cur;
    struct tw_list gens; /* the current one and retired ones not yet freed */
    unsigned inflight, nqueued;
    struct tw_list queue;
    uint64_t served[3], rejected_busy;
};

/* ---- generations ---- */

static void gen_free_now(tw_defer *d)
{
    struct gen *g = d->data;

    tw_defer_cancel(&g->free_later);
    tw__list_del(&g->link);
    tp_engine_free(g->e);
    tp_bb_free(&g->bb);
    free(g);
}

static void gen_put(struct gen *g)
{
    if (--g->refs == 0)
        tw_defer_post(g->s->loop, &g->free_later);
}

static struct gen *gen_new(struct tp_bbsrv *s, struct tp_bb_config *bb, int *err)
{
    struct gen *g = calloc(1, sizeof(*g));
    struct tp_engine_opts eo = {.log = s->o.log, .log_results = s->o.log_results};

    if (!g) {
        *err = -ENOMEM;
        return NULL;
    }
    g->bb = *bb;
    g->s = s;
    g->refs = 1;
    tw_defer_init(&g->free_later, gen_free_now, g);
    if ((*err = tp_engine_new(s->loop, &g->bb.cfg, &eo, &g->e)) < 0) {
        free(g);
        return NULL;
    }
    memset(bb, 0, sizeof(*bb)); /* ours now */
    tw__list_add_tail(&s->gens, &g->link);
    return g;
}

int tp_bbsrv_new(tw_loop *loop, struct tp_bb_config *bb, const struct tp_bbsrv_opts *o,
                 struct tp_bbsrv **out)
{
    struct tp_bbsrv *s = calloc(1, sizeof(*s));
    int err;

    if (!s)
        return -ENOMEM;
    s->loop = loop;
    s->o = *o;
    if (!s->o.max_inflight)
        s->o.max_inflight = 1000;
    tw__list_init(&s->queue);
    tw__list_init(&s->gens);
    if (!(s->cur = gen_new(s, bb, &err))) {
        free(s);
        return err;
    }
    *out = s;
    return 0;
}

int tp_bbsrv_reload(struct tp_bbsrv *s, struct tp_bb_config *bb)
{
    int err;
    struct gen *g = gen_new(s, bb, &err);

    if (!g)
        return err;
    gen_put(s->cur);
    s->cur = g;
    return 0;
}

/* ---- answering ---- */

static void log_ts(FILE *f)
{
    struct timespec ts;
    struct tm tm;
    char b[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "ts=%s.%06ldZ", b, ts.tv_nsec / 1000);
}

/* debug=true: blackbox's three parts, with twkit's log of the probe. */
static void debug_page(FILE *f, const struct preq *q, const struct tp_target *t,
                       const struct tp_result *r)
{
    fputs("Logs for the probe:\n", f);
    log_ts(f);
    fprintf(f, " module=%s target=%s level=info msg=\"Beginning probe\" probe=%s "
               "timeout_seconds=%.3f\n",
            q->module, t->shown, q->def->kind->name, (double)q->timeout_ms / 1000);
    log_ts(f);
    if (r->outcome == TP_SUCCESS)
        fprintf(f, " module=%s target=%s level=info msg=\"Probe succeeded\" "
                   "duration_seconds=%.6f\n",
                q->module, t->shown, r->duration);
    else
        fprintf(f, " module=%s target=%s level=error msg=\"Probe failed\" result=%s reason=%s "
                   "error=%s detail=\"%s\" duration_seconds=%.6f\n",
                q->module, t->shown, tp_outcome_names[r->outcome],
                r->reason ? r->reason : "none", r->err ? tw_errname(r->err) : "none", r->detail,
                r->duration);
    fputs("\n\n\nMetrics that would have been returned:\n", f);
    tp_metrics_one(t, f);
    fprintf(f, "\n\n\nModule configuration:\nprober: %s\ntimeout: %.3fs\n", q->def->kind->name,
            (double)q->timeout_ms / 1000);
}

static void answer(struct preq *q, const struct tp_target *t, const struct tp_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (f) {
        if (q->debug)
            debug_page(f, q, t, r);
        else
            tp_metrics_one(t, f);
    }
    if (!f || fclose(f) != 0)
        tw_sconn_respond(q->c, 503, "text/plain", NULL, "out of memory\n", 14);
    else
        tw_sconn_respond(q->c, 200,
                         q->debug ? "text/plain; charset=utf-8"
                                  : "text/plain; version=0.0.4; charset=utf-8",
                         NULL, buf, len);
    free(buf);
    q->s->served[r->outcome]++;
    if (r->outcome == TP_LOCAL || q->s->o.log_results)
        tp_log_probe(q->s->o.log, q->module, t, r);
}

static void preq_free(struct preq *q)
{
    if (q->c)
        tw_sconn_set_data(q->c, NULL);
    if (q->queued) {
        tw__list_del(&q->link);
        q->s->nqueued--;
    }
    if (q->g)
        gen_put(q->g);
    free(q->target);
    free(q->module);
    free(q);
}

/* Answered without probing: this host could not (busy, no memory). */
static void answer_local(struct preq *q, int err, const char *why)
{
    struct tp_target t = {.def = q->def, .target = q->target, .shown = q->target,
                          .have_last = true, .seq = 1};

    tp_result_errno(&t.last, err);
    snprintf(t.last.detail, sizeof(t.last.detail), "%s", why);
    t.last.duration = (double)(tw_loop_now(q->s->loop) - q->arrived_ms) / 1000; /* waited */
    t.last.verify = -1;
    t.last_local = true;
    t.last_local_err = err;
    answer(q, &t, &t.last);
    preq_free(q);
}

static void pump(struct tp_bbsrv *s);

static void on_done(void *arg, const struct tp_target *t, const struct tp_result *r)
{
    struct preq *q = arg;
    struct tp_bbsrv *s = q->s;

    q->a = NULL;
    s->inflight--;
    answer(q, t, r);
    preq_free(q);
    pump(s);
}

static void run(struct preq *q)
{
    struct tp_bbsrv *s = q->s;
    uint64_t waited = tw_loop_now(s->loop) - q->arrived_ms;
    const char *why;
    int err;

    if (waited >= q->timeout_ms) {
        answer_local(q, EAGAIN, "waited for a free slot for the whole timeout (--max-probes)");
        return;
    }
    s->inflight++;
    err = tp_adhoc_start(q->g->e, q->def, q->target, q->timeout_ms - waited, on_done, q, &q->a,
                         &why);
    if (err < 0) { /* the target was checked before: only memory is left */
        s->inflight--;
        answer_local(q, -err, why ? why : "cannot start the probe");
    }
}

static void pump(struct tp_bbsrv *s)
{
    while (s->inflight < s->o.max_inflight && !tw__list_empty(&s->queue)) {
        struct preq *q = tw__container_of(s->queue.next, struct preq, link);
        tw__list_del(&q->link);
        q->queued = false;
        s->nqueued--;
        run(q);
    }
}

/* ---- the request ---- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The value of query parameter name (URL-decoded, malloc'd), or NULL
 * (*bad set when it is there but badly encoded). */
static char *query_param(const char *q, size_t n, const char *name, bool *bad)
{
    size_t nl = strlen(name);

    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        if (j - i >= nl + 1 && !memcmp(q + i, name, nl) && q[i + nl] == '=') {
            char *out = malloc(j - i), *o = out;
            if (!out)
                return NULL;
            for (size_t k = i + nl + 1; k < j; k++) {
                if (q[k] == '+') {
                    *o++ = ' ';
                } else if (q[k] == '%') {
                    int hi = k + 2 < j ? hexval(q[k + 1]) : -1, lo = hi >= 0 ? hexval(q[k + 2]) : -1;
                    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                        *bad = true;
                        free(out);
                        return NULL;
                    }
                    *o++ = (char)(hi * 16 + lo);
                    k += 2;
                } else {
                    *o++ = q[k];
                }
            }
            *o = '\0';
            return out;
        }
        i = j + 1;
    }
    return NULL;
}

static void bad_request(tw_sconn *c, const char *fmt, const char *arg)
{
    char msg[400];
    int n = snprintf(msg, sizeof(msg), fmt, arg);

    tw_sconn_respond(c, 400, "text/plain; charset=utf-8", NULL, msg,
                     n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

/* blackbox's getTimeout: the scrape's timeout less the offset (120 s when
 * the header is missing), or the module's where that is shorter. */
static int timeout_of(const struct tp_bbsrv *s, const struct tw_http_req *req,
                      const struct tp_def *def, uint64_t *ms)
{
    const struct tw_http_header *h = tw_http_header_get(req, "X-Prometheus-Scrape-Timeout-Seconds");
    double scrape = 120, max, mod = (double)def->timeout_ms / 1000;

    if (h && h->value_len) {
        char b[40], *end;
        if (h->value_len >= sizeof(b))
            return -EINVAL;
        memcpy(b, h->value, h->value_len);
        b[h->value_len] = '\0';
        scrape = strtod(b, &end);
        if (*end || !isfinite(scrape) || scrape < 0)
            return -EINVAL;
        if (scrape == 0)
            scrape = 120;
    }
    max = scrape - s->o.timeout_offset;
    double t = (mod > 0 && mod < max) || max < 0 ? mod : max;
    if (t <= 0) /* a module without timeout and a header below the offset */
        t = scrape > 0 ? scrape : 1;
    *ms = (uint64_t)ceil(t * 1000);
    return 0;
}

/* An http target may leave out its scheme (blackbox adds http://). */
static char *target_for(const struct tp_def *def, const char *t)
{
    char *out;

    if (strcmp(def->kind->name, "http") != 0 || strstr(t, "://"))
        return strdup(t);
    if (asprintf(&out, "http://%s", t) < 0)
        return NULL;
    return out;
}

void tp_bbsrv_handle(struct tp_bbsrv *s, tw_sconn *c, const struct tw_http_req *req)
{
    const char *qs = memchr(req->target, '?', req->target_len);
    size_t qn = qs ? req->target_len - (size_t)(qs + 1 - req->target) : 0;
    bool bad = false;
    char *target = NULL, *module = NULL, *debug = NULL;
    const struct tp_def *def;
    struct tp_endpoint ep;
    const char *why;
    struct preq *q;

    if (qs)
        qs++;
    target = query_param(qs ? qs : "", qn, "target", &bad);
    module = query_param(qs ? qs : "", qn, "module", &bad);
    debug = query_param(qs ? qs : "", qn, "debug", &bad);
    if (bad) {
        bad_request(c, "%s\n", "a query parameter is badly percent-encoded");
        goto out;
    }
    if (!target || !*target) {
        bad_request(c, "%s\n", "Target parameter is missing");
        goto out;
    }
    if (!module && !(module = strdup("http_2xx"))) {
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
        goto out;
    }
    if (!(def = tp_bb_module(&s->cur->bb, module, &why))) {
        if (why)
            bad_request(c, "Module not loaded: %s\n", why);
        else
            bad_request(c, "Unknown module \"%s\"\n", module);
        goto out;
    }
    if (!(q = calloc(1, sizeof(*q))) || !(q->target = target_for(def, target))) {
        free(q);
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
        goto out;
    }
    if (tp_target_parse(def->kind, q->target, &ep, &why) < 0) {
        char msg[300];
        snprintf(msg, sizeof(msg), "bad %s target \"%.200s\": %s", def->kind->name, target, why);
        bad_request(c, "%s\n", msg);
        free(q->target);
        free(q);
        goto out;
    }
    if (timeout_of(s, req, def, &q->timeout_ms) < 0) {
        bad_request(c, "%s\n", "Failed to parse timeout from Prometheus header");
        free(q->target);
        free(q);
        goto out;
    }
    q->s = s;
    q->c = c;
    q->def = def;
    q->g = s->cur;
    q->g->refs++;
    q->module = module;
    module = NULL;
    q->debug = debug && !strcasecmp(debug, "true");
    q->arrived_ms = tw_loop_now(s->loop);
    tw_sconn_defer(c);
    tw_sconn_set_data(c, q);
    if (s->inflight < s->o.max_inflight) {
        run(q);
    } else if (s->nqueued < s->o.max_inflight * QUEUE_FACTOR) {
        tw__list_add_tail(&s->queue, &q->link);
        q->queued = true;
        s->nqueued++;
    } else {
        s->rejected_busy++;
        answer_local(q, EAGAIN, "too many /probe requests at once (--max-probes)");
    }
out:
    free(target);
    free(module);
    free(debug);
}

void tp_bbsrv_conn_closed(struct tp_bbsrv *s, tw_sconn *c)
{
    struct preq *q = tw_sconn_data(c);

    if (!q)
        return;
    q->c = NULL; /* gone: nobody to answer */
    if (q->a) {
        tp_adhoc_cancel(q->a);
        s->inflight--;
    }
    preq_free(q);
    pump(s);
}

void tp_bbsrv_metrics(struct tp_bbsrv *s, FILE *f)
{
    struct tu_prom p;

    tu_prom_init(&p, f);
    tu_prom_family(&p, "twkit_probe_adhoc_total", TU_PROM_COUNTER,
                   "/probe requests answered, by result");
    for (int o = 0; o < 3; o++)
        tu_prom_sample_label(&p, "result", tp_outcome_names[o], "%llu",
                             (unsigned long long)s->served[o]);
    tu_prom_family(&p, "twkit_probe_adhoc_in_flight", TU_PROM_GAUGE, "/probe probes running now");
    tu_prom_sample(&p, NULL, "%u", s->inflight);
    tu_prom_family(&p, "twkit_probe_adhoc_queued", TU_PROM_GAUGE,
                   "/probe requests waiting for a free slot");
    tu_prom_sample(&p, NULL, "%u", s->nqueued);
}

const struct tp_bb_config *tp_bbsrv_config(const struct tp_bbsrv *s) { return &s->cur->bb; }

void tp_bbsrv_free(struct tp_bbsrv *s)
{
    if (!s)
        return;
    /* The server is freed first, so every request is gone: what is left
     * is the current generation and retired ones whose free is pending. */
    while (!tw__list_empty(&s->gens))
        gen_free_now(&tw__container_of(s->gens.next, struct gen, link)->free_later);
    free(s);
}
