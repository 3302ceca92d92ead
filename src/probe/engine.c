/* The probe engine: schedules every target on the timer wheel, resolves,
 * starts the probe kind, enforces the timeout, and keeps the results,
 * states and counters that /metrics and the JSON log report.
 *
 * Scheduling is fixed-rate, start to start: a target's next start is its
 * previous due time plus its interval, whatever the probe took. First starts
 * are spread evenly over the interval across all targets, so 20,000 targets
 * at 1 s start 20 per millisecond instead of all at once. A target whose
 * probe still runs when the next is due skips that slot (counted); it is
 * never probed twice at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/list.h"
#include "probe/probe.h"
#include "twkit/diag.h"
#include "twkit/error.h"
#include "twkit/time.h"
#include "util/errcount.h"
#include "util/hist.h"
#include "util/json.h"
#include "util/prom.h"

const char *const tp_outcome_names[3] = {"success", "failure", "local_error"};
const char *const tp_phase_names[TP_NPHASE] = {"resolve", "connect", "tls", "processing",
                                               "transfer"};

/* Late-start buckets for the Prometheus histogram, in microseconds. */
static const uint64_t late_bounds_us[] = {500,   1000,   2000,   5000,   10000,
                                          25000, 50000, 100000, 250000, 1000000};
#define NLATE (sizeof(late_bounds_us) / sizeof(late_bounds_us[0]))

/* The socket of a `close: graceful` probe, finishing in the background. */
struct tp_graceful {
    tw_closer closer;
    struct tw_list link;
    struct tp_engine *e;
};

struct tp_defstat {
    uint64_t results[3], skipped;
};

struct tp_engine {
    tw_loop *loop;
    const struct tp_config *cfg;
    struct tp_engine_opts opts;
    struct tp_target *targets;
    char **labels;             /* per target: the label set, pre-rendered */
    size_t ntargets;
    struct tp_defstat *defstat; /* per definition */
    void **kind_data;          /* per kind, as tp_kinds */
    bool *kind_ready;
    struct tp_dns *dns;
    unsigned inflight;
    size_t once_next, once_left;
    struct tw_list graceful;
    /* the prober's own health */
    struct tu_hist late;
    uint64_t late_buckets[NLATE + 1];
    uint64_t late_sum_us;
    uint64_t local_errs[TU_NERRNO];
};

static void finish(struct tp_engine *e, struct tp_target *t, struct tp_result *r);

tw_loop *tp_engine_loop(struct tp_engine *e) { return e->loop; }
void **tp_engine_kind_data(struct tp_engine *e, const struct tp_kind *k)
{
    return &e->kind_data[tp_kind_index(k)];
}
const struct tp_config *tp_engine_config(struct tp_engine *e) { return e->cfg; }

/* ---- results ---- */

void tp_result_errno(struct tp_result *r, int err)
{
    static const char *const reasons[TW_ECLASS_COUNT] = {
        [TW_ECLASS_NONE] = "error",     [TW_ECLASS_LOCAL] = "local",
        [TW_ECLASS_REFUSED] = "refused", [TW_ECLASS_RESET] = "reset",
        [TW_ECLASS_TIMEOUT] = "timeout", [TW_ECLASS_UNREACH] = "unreachable",
        [TW_ECLASS_OTHER] = "error",
    };
    enum tw_errclass c;

    err = err < 0 ? -err : err;
    c = tw_errclass(err);
    r->outcome = c == TW_ECLASS_LOCAL ? TP_LOCAL : TP_FAILURE;
    r->err = err;
    r->reason = reasons[c];
    snprintf(r->detail, sizeof(r->detail), "%s: %s", tw_errname(err), tw_strerror(err));
}

/* ---- closing ---- */

static void graceful_done(tw_closer *c, int result)
{
    struct tp_graceful *g = c->data;

    tw__list_del(&g->link);
    free(g);
}

void tp_close(struct tp_engine *e, const struct tp_def *def, int fd)
{
    struct tp_graceful *g;

    if (fd < 0)
        return;
    if (!def->graceful || !(g = calloc(1, sizeof(*g)))) {
        tw_sock_abort(fd);
        return;
    }
    g->e = e;
    tw__list_add_tail(&e->graceful, &g->link);
    /* Our FIN first, so this side holds the TIME_WAIT the target would
     * otherwise log an RST for; bounded by the probe's timeout. */
    if (tw_close_active(e->loop, &g->closer, fd, def->timeout_ms, graceful_done, g) < 0) {
        tw__list_del(&g->link);
        free(g);
        tw_sock_abort(fd);
    }
}

static void graceful_abort_all(struct tp_engine *e)
{
    while (!tw__list_empty(&e->graceful)) {
        struct tp_graceful *g = tw__container_of(e->graceful.next, struct tp_graceful, link);
        tw_timer_stop(&g->closer.timer);
        tw_io_forget(&g->closer.io);
        if (g->closer.io.fd >= 0)
            tw_sock_abort(g->closer.io.fd);
        tw__list_del(&g->link);
        free(g);
    }
}

/* ---- the JSON log ---- */

static void log_time(FILE *f)
{
    struct timespec ts;
    struct tm tm;
    char buf[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "{\"time\":\"%s.%03ldZ\"", buf, ts.tv_nsec / 1000000);
}

static const char *const state_names[] = {"unknown", "up", "down"};

/* The fields of a result, comma-separated, no braces. */
static void json_result(FILE *f, const struct tp_kind *kind, const struct tp_result *r)
{
    fprintf(f, "\"result\":\"%s\"", tp_outcome_names[r->outcome]);
    if (r->reason)
        fprintf(f, ",\"reason\":\"%s\"", r->reason);
    if (r->err)
        fprintf(f, ",\"error\":\"%s\"", tw_errname(r->err));
    if (r->detail[0]) {
        fputs(",\"detail\":", f);
        tu_json_str(f, r->detail);
    }
    fprintf(f, ",\"duration_s\":%.6f,\"dns_s\":%.6f,\"phases\":{", r->duration, r->dns);
    for (int i = 0, n = 0; i < TP_NPHASE; i++)
        if (r->phase[i] > 0)
            fprintf(f, "%s\"%s\":%.6f", n++ ? "," : "", tp_phase_names[i], r->phase[i]);
    fputc('}', f);
    if (kind->json)
        kind->json(f, r);
    if (r->regex_failed)
        fputs(",\"regex_failed\":true", f);
    if (r->tls)
        fprintf(f, ",\"cert_expiry\":%.0f,\"leaf_expiry\":%.0f,\"verify\":%ld",
                r->cert_expiry, r->leaf_expiry, r->verify);
}

static void json_target(FILE *f, const struct tp_target *t)
{
    fputs("\"name\":", f);
    tu_json_str(f, t->def->name);
    fprintf(f, ",\"kind\":\"%s\",\"target\":", t->def->kind->name);
    tu_json_str(f, t->target);
}

static void log_line(struct tp_engine *e, const struct tp_target *t, const struct tp_result *r,
                     enum tp_state from)
{
    FILE *f = e->opts.log;
    bool state = from != t->state && !e->opts.once; /* --once: results only */

    log_time(f);
    fprintf(f, ",\"event\":\"%s\",", state ? "state" : "result");
    json_target(f, t);
    if (state)
        fprintf(f, ",\"state\":\"%s\",\"previous\":\"%s\",\"consecutive\":%u",
                state_names[t->state], state_names[from],
                t->state == TP_UP ? t->consec_ok : t->consec_fail);
    fprintf(f, ",\"seq\":%llu,", (unsigned long long)t->seq);
    json_result(f, t->def->kind, r);
    fputs("}\n", f);
    fflush(f);
}

void tp_engine_status(struct tp_engine *e, FILE *f)
{
    fprintf(f, "{\"targets\":[");
    for (size_t k = 0; k < e->ntargets; k++) {
        const struct tp_target *t = &e->targets[k];
        fputs(k ? ",\n{" : "\n{", f);
        json_target(f, t);
        fprintf(f, ",\"state\":\"%s\",\"seq\":%llu,\"running\":%s,\"consecutive_ok\":%u,"
                   "\"consecutive_fail\":%u",
                state_names[t->state], (unsigned long long)t->seq, t->running ? "true" : "false",
                t->consec_ok, t->consec_fail);
        if (t->last_local)
            fprintf(f, ",\"local_error\":\"%s\"", tw_errname(t->last_local_err));
        if (t->have_last) {
            fputs(",\"last\":{", f);
            json_result(f, t->def->kind, &t->last);
            fputc('}', f);
        }
        fputc('}', f);
    }
    fputs("\n]}\n", f);
}

/* ---- running one probe ---- */

static void launch(struct tp_engine *e, struct tp_target *t)
{
    int err = t->def->kind->start(e, t);

    if (err < 0) {
        struct tp_result r = {.verify = -1};
        tp_result_errno(&r, err);
        finish(e, t, &r);
    }
}

static void on_dns(void *arg, int err, const tw_addr *addr, const char *why)
{
    struct tp_target *t = arg;
    struct tp_engine *e = t->engine;

    t->dns_req = NULL;
    t->dns_s = (double)(tw_now_ns() - t->started_ns) / 1e9;
    if (err < 0) {
        struct tp_result r = {.verify = -1};
        if (err == -ENOMEM) {
            tp_result_errno(&r, err);
        } else {
            r.outcome = TP_FAILURE;
            r.reason = "dns";
            r.err = -err;
            snprintf(r.detail, sizeof(r.detail), "%.100s: %s", t->ep.host, why ? why : "failed");
        }
        finish(e, t, &r);
        return;
    }
    t->addr = *addr;
    tw_addr_set_port(&t->addr, t->ep.port);
    launch(e, t);
}

static void start_probe(struct tp_engine *e, struct tp_target *t)
{
    int r;

    t->running = true;
    t->started_ns = tw_now_ns();
    t->dns_s = 0;
    e->inflight++;
    tw_timer_start(e->loop, &t->deadline, t->def->timeout_ms);
    if (t->literal) {
        launch(e, t);
        return;
    }
    r = tp_dns_lookup(e->dns, t->ep.host, &t->addr, on_dns, t, &t->dns_req);
    if (r == 1) {
        tw_addr_set_port(&t->addr, t->ep.port);
        launch(e, t);
    } else if (r < 0) {
        struct tp_result res = {.verify = -1};
        t->dns_req = NULL;
        tp_result_errno(&res, r);
        finish(e, t, &res);
    }
}

static void on_deadline(tw_timer *tm)
{
    struct tp_target *t = tm->data;
    struct tp_engine *e = t->engine;
    struct tp_result r = {.verify = -1};

    if (t->dns_req) {
        tp_dns_cancel(t->dns_req);
        t->dns_req = NULL;
        snprintf(r.detail, sizeof(r.detail), "resolving %.100s took longer than %llu ms",
                 t->ep.host, (unsigned long long)t->def->timeout_ms);
    } else {
        t->def->kind->cancel(e, t, &r);
        t->run = NULL;
        if (!r.detail[0]) /* the kind may say what it was waiting for */
            snprintf(r.detail, sizeof(r.detail), "no answer within %llu ms",
                     (unsigned long long)t->def->timeout_ms);
    }
    r.outcome = TP_FAILURE;
    r.reason = "timeout";
    r.err = ETIMEDOUT;
    finish(e, t, &r);
}

static void once_pump(struct tp_engine *e)
{
    unsigned max = e->opts.max_inflight ? e->opts.max_inflight : 1000;

    while (e->once_next < e->ntargets && e->inflight < max)
        start_probe(e, &e->targets[e->once_next++]);
}

void tp_probe_done(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    finish(e, t, r);
}

static void finish(struct tp_engine *e, struct tp_target *t, struct tp_result *r)
{
    const struct tp_def *def = t->def;
    enum tp_state from = t->state;

    tw_timer_stop(&t->deadline);
    r->dns = t->dns_s;
    r->duration = (double)(tw_now_ns() - t->started_ns) / 1e9;
    t->running = false;
    t->run = NULL;
    e->inflight--;
    t->seq++;
    e->defstat[def - e->cfg->defs].results[r->outcome]++;
    if (r->outcome == TP_LOCAL) {
        /* This host could not probe: the target's state and its run of
         * consecutive results stay as they were. */
        t->last_local = true;
        t->last_local_err = r->err;
        tu_errcount_add(e->local_errs, r->err);
    } else {
        t->last = *r;
        t->have_last = true;
        t->last_local = false;
        if (r->outcome == TP_SUCCESS) {
            t->consec_fail = 0;
            if (++t->consec_ok >= def->success_threshold)
                t->state = TP_UP;
        } else {
            t->consec_ok = 0;
            if (++t->consec_fail >= def->failure_threshold)
                t->state = TP_DOWN;
        }
    }
    if (e->opts.log && (t->state != from || e->opts.log_results || e->opts.once))
        log_line(e, t, r, from);
    if (e->opts.once) {
        if (--e->once_left == 0)
            tw_loop_stop(e->loop);
        else
            once_pump(e);
    }
}

/* ---- scheduling ---- */

static void record_late(struct tp_engine *e, uint64_t us)
{
    size_t i = 0;

    tu_hist_add(&e->late, us);
    e->late_sum_us += us;
    while (i < NLATE && us > late_bounds_us[i])
        i++;
    e->late_buckets[i]++;
}

static void on_sched(tw_timer *tm)
{
    struct tp_target *t = tm->data;
    struct tp_engine *e = t->engine;
    uint64_t interval = t->def->interval_ms, now_us = tw_now_ns() / 1000, now_ms;

    uint64_t late_us = now_us > t->due_ms * 1000 ? now_us - t->due_ms * 1000 : 0;

    record_late(e, late_us);
    /* A start this late means the prober is short of CPU: a probe begun
     * now would share it with the backlog and most likely time out, and
     * starting it anyway makes every probe late, so useful work collapses.
     * Skipping sheds the load until starts are on time again. */
    if (t->running || late_us > t->def->timeout_ms * 100)
        e->defstat[t->def - e->cfg->defs].skipped++;
    else
        start_probe(e, t);
    /* Fixed rate: the next slot follows the one just due, not now; slots
     * that passed while the loop was held up are skipped, not bunched. */
    now_ms = tw_loop_now(e->loop);
    t->due_ms += interval;
    if (tw_ms_diff(t->due_ms, now_ms) <= 0) {
        uint64_t missed = (now_ms - t->due_ms) / interval + 1;
        e->defstat[t->def - e->cfg->defs].skipped += missed;
        t->due_ms += missed * interval;
    }
    tw_timer_start(e->loop, &t->sched, t->due_ms - now_ms);
}

int tp_engine_start(struct tp_engine *e)
{
    uint64_t now;

    /* Setting up may have taken a while (loading a CA store): deadlines
     * and first starts count from now, not from the loop's last look. */
    tw_loop_update_time(e->loop);
    now = tw_loop_now(e->loop);

    if (e->opts.once) {
        e->once_left = e->ntargets;
        if (!e->ntargets)
            tw_loop_stop(e->loop);
        once_pump(e);
        return 0;
    }
    /* Spread over all targets: target k of n starts k/n of its interval in. */
    for (size_t k = 0; k < e->ntargets; k++) {
        struct tp_target *t = &e->targets[k];
        uint64_t off = (uint64_t)((double)k * (double)t->def->interval_ms / (double)e->ntargets);
        t->due_ms = now + off;
        tw_timer_start(e->loop, &t->sched, off);
    }
    return 0;
}

void tp_engine_stop(struct tp_engine *e)
{
    for (size_t k = 0; k < e->ntargets; k++) {
        struct tp_target *t = &e->targets[k];
        tw_timer_stop(&t->sched);
        if (!t->running)
            continue;
        tw_timer_stop(&t->deadline);
        if (t->dns_req)
            tp_dns_cancel(t->dns_req);
        else {
            struct tp_result r = {0};
            t->def->kind->cancel(e, t, &r);
        }
        t->dns_req = NULL;
        t->run = NULL;
        t->running = false;
        e->inflight--;
    }
    graceful_abort_all(e);
}

/* ---- setup ---- */

/* name="..",kind="..",target=".." and the definition's labels, escaped by
 * the Prometheus writer: rendered once per target, reused by every sample. */
static char *render_labels(const struct tp_def *def, const char *target)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const char *keys[3] = {"name", "kind", "target"};
    const char *vals[3] = {def->name, def->kind->name, target};

    if (!f)
        return NULL;
    for (size_t i = 0; i < 3 + def->nlabels; i++) {
        const char *k = i < 3 ? keys[i] : def->labels[i - 3].key;
        const char *v = i < 3 ? vals[i] : def->labels[i - 3].value;
        if (i)
            fputc(',', f);
        tu_prom_render_label(f, k, v);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int tp_engine_new(tw_loop *loop, const struct tp_config *cfg, const struct tp_engine_opts *opts,
                  struct tp_engine **out)
{
    struct tp_engine *e = calloc(1, sizeof(*e));
    size_t k = 0;
    int err = -ENOMEM;
    bool need_dns = false;

    if (!e)
        return -ENOMEM;
    e->loop = loop;
    e->cfg = cfg;
    if (opts)
        e->opts = *opts;
    tw__list_init(&e->graceful);
    e->ntargets = cfg->ntargets;
    e->targets = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof(*e->targets));
    e->labels = calloc(cfg->ntargets ? cfg->ntargets : 1, sizeof(*e->labels));
    e->defstat = calloc(cfg->ndefs ? cfg->ndefs : 1, sizeof(*e->defstat));
    e->kind_data = calloc(tp_nkinds, sizeof(*e->kind_data));
    e->kind_ready = calloc(tp_nkinds, sizeof(*e->kind_ready));
    if (!e->targets || !e->labels || !e->defstat || !e->kind_data || !e->kind_ready)
        goto fail;
    for (size_t d = 0; d < cfg->ndefs; d++) {
        const struct tp_def *def = &cfg->defs[d];
        for (size_t i = 0; i < def->ntargets; i++, k++) {
            struct tp_target *t = &e->targets[k];
            const char *why;
            t->def = def;
            t->target = def->targets[i];
            t->engine = e;
            t->last.verify = -1;
            if (tp_target_parse(def->kind, t->target, &t->ep, &why) < 0) {
                err = -EINVAL;
                goto fail;
            }
            t->literal = tw_addr_parse(&t->addr, t->ep.host, t->ep.port) == 0;
            need_dns |= !t->literal;
            tw_timer_init(&t->sched, on_sched, t);
            tw_timer_init(&t->deadline, on_deadline, t);
            if (!(e->labels[k] = render_labels(def, t->target)))
                goto fail;
        }
    }
    if (need_dns && (err = tp_dns_new(loop, &e->dns)) < 0)
        goto fail;
    for (size_t kd = 0; kd < tp_nkinds; kd++) {
        bool used = false;
        for (size_t d = 0; d < cfg->ndefs && !used; d++)
            used = cfg->defs[d].kind == tp_kinds[kd] && cfg->defs[d].ntargets > 0;
        if (!used)
            continue;
        if (tp_kinds[kd]->init && (err = tp_kinds[kd]->init(e)) < 0)
            goto fail;
        e->kind_ready[kd] = true;
    }
    *out = e;
    return 0;
fail:
    tp_engine_free(e);
    return err;
}

void tp_engine_free(struct tp_engine *e)
{
    if (!e)
        return;
    if (e->targets)
        tp_engine_stop(e);
    for (size_t k = 0; e->kind_ready && k < tp_nkinds; k++)
        if (e->kind_ready[k] && tp_kinds[k]->fini)
            tp_kinds[k]->fini(e);
    if (e->dns)
        tp_dns_free(e->dns);
    for (size_t k = 0; e->labels && k < e->ntargets; k++)
        free(e->labels[k]);
    free(e->labels);
    free(e->targets);
    free(e->defstat);
    free(e->kind_data);
    free(e->kind_ready);
    free(e);
}

/* ---- reload: carry state over ---- */

static int target_cmp(const struct tp_target *a, const struct tp_target *b)
{
    int c = strcmp(a->def->name, b->def->name);
    if (!c)
        c = (int)tp_kind_index(a->def->kind) - (int)tp_kind_index(b->def->kind);
    return c ? c : strcmp(a->target, b->target);
}

static int target_pcmp(const void *a, const void *b)
{
    return target_cmp(*(const struct tp_target *const *)a, *(const struct tp_target *const *)b);
}

void tp_engine_adopt(struct tp_engine *e, const struct tp_engine *old)
{
    const struct tp_target **idx = malloc((old->ntargets ? old->ntargets : 1) * sizeof(*idx));

    if (!idx)
        return; /* states start afresh: nothing is wrong, only forgotten */
    for (size_t k = 0; k < old->ntargets; k++)
        idx[k] = &old->targets[k];
    qsort(idx, old->ntargets, sizeof(*idx), target_pcmp);
    for (size_t k = 0; k < e->ntargets; k++) {
        struct tp_target *t = &e->targets[k];
        const struct tp_target *key = t, **hit;
        hit = bsearch(&key, idx, old->ntargets, sizeof(*idx), target_pcmp);
        if (!hit)
            continue;
        t->last = (*hit)->last;
        t->have_last = (*hit)->have_last;
        t->last_local = (*hit)->last_local;
        t->last_local_err = (*hit)->last_local_err;
        t->state = (*hit)->state;
        t->consec_ok = (*hit)->consec_ok;
        t->consec_fail = (*hit)->consec_fail;
        t->seq = (*hit)->seq;
    }
    free(idx);
    for (size_t d = 0; d < e->cfg->ndefs; d++)
        for (size_t o = 0; o < old->cfg->ndefs; o++)
            if (strcmp(e->cfg->defs[d].name, old->cfg->defs[o].name) == 0 &&
                e->cfg->defs[d].kind == old->cfg->defs[o].kind)
                e->defstat[d] = old->defstat[o];
    memcpy(e->late_buckets, old->late_buckets, sizeof(e->late_buckets));
    e->late = old->late;
    e->late_sum_us = old->late_sum_us;
    memcpy(e->local_errs, old->local_errs, sizeof(e->local_errs));
}

/* ---- reports ---- */

void tp_engine_summary(struct tp_engine *e, struct tp_summary *s)
{
    struct tw_tcp_states st;

    memset(s, 0, sizeof(*s));
    s->targets = e->ntargets;
    for (size_t d = 0; d < e->cfg->ndefs; d++) {
        for (int o = 0; o < 3; o++)
            s->results[o] += e->defstat[d].results[o];
        s->skipped += e->defstat[d].skipped;
    }
    s->late_n = e->late.n;
    s->late_p50_us = tu_hist_quantile(&e->late, 0.5);
    s->late_p99_us = tu_hist_quantile(&e->late, 0.99);
    s->late_max_us = e->late.max;
    s->time_wait = tw_diag_count(&st) == 0 ? (int)st.n[TW_TCP_TIME_WAIT] : -1;
}

typedef void (*metric_fn)(const struct tp_target *t, struct tu_prom *p, const char *labels);

static void m_success(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%d", t->last.outcome == TP_SUCCESS);
}

static void m_duration(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%.6f", t->last.duration);
}

static void m_dns(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%.6f", t->last.dns);
}

static void m_regex(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->def->has_regex)
        tu_prom_sample(p, l, "%d", t->last.regex_failed);
}

static void m_expiry(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->last.tls)
        tu_prom_sample(p, l, "%.0f", t->last.cert_expiry);
}

static void m_up(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->state != TP_UNKNOWN)
        tu_prom_sample(p, l, "%d", t->state == TP_UP);
}

static void m_local(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->seq)
        tu_prom_sample(p, l, "%d", t->last_local);
}

/* One gauge family, a sample per target that has one; the writer puts the
 * head before the first sample, so a family no target has stays out. */
static void per_target(struct tp_engine *e, struct tu_prom *p, const char *name,
                       const char *help, metric_fn fn)
{
    tu_prom_family(p, name, TU_PROM_GAUGE, help);
    for (size_t k = 0; k < e->ntargets; k++)
        fn(&e->targets[k], p, e->labels[k]);
}

/* A kind's own family: a sample per target of that kind that has one. */
static void kind_family(struct tp_engine *e, struct tu_prom *p, const struct tp_kind *kind,
                        const struct tp_metric *m)
{
    tu_prom_family(p, m->name, TU_PROM_GAUGE, m->help);
    for (size_t k = 0; k < e->ntargets; k++)
        if (e->targets[k].def->kind == kind)
            m->sample(&e->targets[k], p, e->labels[k]);
}

static double cpu_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_bytes(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

/* A definition's name and kind labels. */
static void def_labels(struct tu_prom *p, const struct tp_def *def)
{
    tu_prom_label(p, "name", def->name);
    tu_prom_label(p, "kind", def->kind->name);
}

void tp_engine_metrics(struct tp_engine *e, FILE *f)
{
    struct tp_summary s;
    struct tu_prom p;
    uint64_t cum = 0;
    char le[32];

    tu_prom_init(&p, f);
    per_target(e, &p, "probe_success", "1 if the last probe succeeded (local errors excluded)",
               m_success);
    per_target(e, &p, "probe_duration_seconds", "How long the last probe took", m_duration);
    per_target(e, &p, "probe_dns_lookup_time_seconds",
               "Time the last probe spent resolving (0: literal or cached)", m_dns);
    for (size_t k = 0; k < tp_nkinds; k++)
        for (size_t i = 0; i < tp_kinds[k]->nmetrics; i++)
            kind_family(e, &p, tp_kinds[k], &tp_kinds[k]->metrics[i]);
    per_target(e, &p, "probe_failed_due_to_regex",
               "1 if the last probe failed because expect or expect_body did not match",
               m_regex);
    per_target(e, &p, "probe_ssl_earliest_cert_expiry",
               "Earliest notAfter in the certificate chain, unix seconds", m_expiry);
    per_target(e, &p, "twkit_probe_up",
               "State after the success/failure thresholds: 1 up, 0 down", m_up);
    per_target(e, &p, "twkit_probe_local_error",
               "1 if the last attempt failed for a reason of this host, not the target",
               m_local);

    tu_prom_family(&p, "twkit_probes_total", TU_PROM_COUNTER, "Probe results by definition");
    for (size_t d = 0; d < e->cfg->ndefs; d++)
        for (int o = 0; o < 3; o++) {
            tu_prom_begin(&p, NULL);
            def_labels(&p, &e->cfg->defs[d]);
            tu_prom_label(&p, "result", tp_outcome_names[o]);
            tu_prom_value(&p, "%llu", (unsigned long long)e->defstat[d].results[o]);
        }
    tu_prom_family(&p, "twkit_probes_skipped_total", TU_PROM_COUNTER,
                   "Starts skipped: the previous probe of the target was still running, or the "
                   "prober was late by an interval or by a tenth of the timeout (overload)");
    for (size_t d = 0; d < e->cfg->ndefs; d++) {
        tu_prom_begin(&p, NULL);
        def_labels(&p, &e->cfg->defs[d]);
        tu_prom_value(&p, "%llu", (unsigned long long)e->defstat[d].skipped);
    }
    tu_prom_family(&p, "twkit_probe_late_start_seconds", TU_PROM_HISTOGRAM,
                   "How late probes started against their schedule");
    for (size_t i = 0; i <= NLATE; i++) {
        cum += e->late_buckets[i];
        if (i < NLATE)
            snprintf(le, sizeof(le), "%g", (double)late_bounds_us[i] / 1e6);
        tu_prom_begin(&p, "_bucket");
        tu_prom_label(&p, "le", i < NLATE ? le : "+Inf");
        tu_prom_value(&p, "%llu", (unsigned long long)cum);
    }
    tu_prom_begin(&p, "_sum");
    tu_prom_value(&p, "%.6f", (double)e->late_sum_us / 1e6);
    tu_prom_begin(&p, "_count");
    tu_prom_value(&p, "%llu", (unsigned long long)cum);
    tu_prom_family(&p, "twkit_probe_local_errors_total", TU_PROM_COUNTER,
                   "Probes this host could not make, by errno");
    for (int i = 1; i < TU_NERRNO; i++)
        if (e->local_errs[i])
            tu_prom_sample_label(&p, "errno", tw_errname(i), "%llu",
                                 (unsigned long long)e->local_errs[i]);
    tp_engine_summary(e, &s);
    tu_prom_family(&p, "twkit_probe_targets", TU_PROM_GAUGE, "Targets configured");
    tu_prom_sample(&p, NULL, "%zu", e->ntargets);
    tu_prom_family(&p, "twkit_probe_in_flight", TU_PROM_GAUGE, "Probes running now");
    tu_prom_sample(&p, NULL, "%u", e->inflight);
    if (s.time_wait >= 0) {
        tu_prom_family(&p, "twkit_probe_time_wait_sockets", TU_PROM_GAUGE,
                       "TIME_WAIT sockets in the prober's network namespace");
        tu_prom_sample(&p, NULL, "%d", s.time_wait);
    }
    tu_prom_family(&p, "process_cpu_seconds_total", TU_PROM_COUNTER, "User and system CPU time");
    tu_prom_sample(&p, NULL, "%.3f", cpu_seconds());
    tu_prom_family(&p, "process_resident_memory_bytes", TU_PROM_GAUGE, "Resident memory");
    tu_prom_sample(&p, NULL, "%ld", rss_bytes());
}
