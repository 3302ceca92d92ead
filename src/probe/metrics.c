/* twkit probe: /metrics (the Prometheus text of every target and of the
 * prober itself, docs/PROBE.md, "Metrics") and the --summary numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "probe/engine.h"
#include "probe/ipproto.h"
#include "probe/probe.h"
#include "probe/timewait.h"
#include "twkit/error.h"
#include "util/hist.h"
#include "util/prom.h"

const uint64_t tp_late_bounds_us[TP_NLATE] = {500,   1000,   2000,   5000,   10000,
                                             25000, 50000, 100000, 250000, 1000000};

void tp_metrics_late(struct tp_engine *e, uint64_t us)
{
    size_t i = 0;

    tu_hist_add(&e->late, us);
    e->late_sum_us += us;
    while (i < TP_NLATE && us > tp_late_bounds_us[i])
        i++;
    e->late_buckets[i]++;
}

/* name="..",kind="..",target="..", the definition's labels and those of
 * the target's line (which win), escaped by the Prometheus writer:
 * rendered once per target, reused by every sample. */
char *tp_metrics_labels(const struct tp_def *def, const char *target,
                        const struct tp_tlabels *tl)
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
        bool over = false;
        for (size_t j = 0; tl && i >= 3 && j < tl->n && !over; j++)
            over = !strcmp(tl->kv[j].key, k);
        if (over)
            continue;
        if (i)
            fputc(',', f);
        tu_prom_render_label(f, k, v);
    }
    for (size_t j = 0; tl && j < tl->n; j++) {
        fputc(',', f);
        tu_prom_render_label(f, tl->kv[j].key, tl->kv[j].value);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The prober's own counters, summed over the engines of v. */
struct totals {
    struct tu_hist late;
    uint64_t late_buckets[TP_NLATE + 1], late_sum_us, local_errs[TU_NERRNO];
    unsigned inflight;
};

static void totals(const struct tp_view *v, struct totals *to)
{
    memset(to, 0, sizeof(*to));
    for (size_t i = 0; i < v->ne; i++) {
        const struct tp_engine *e = v->e[i];
        tu_hist_merge(&to->late, &e->late);
        for (size_t b = 0; b <= TP_NLATE; b++)
            to->late_buckets[b] += e->late_buckets[b];
        to->late_sum_us += e->late_sum_us;
        for (size_t x = 0; x < TU_NERRNO; x++)
            to->local_errs[x] += e->local_errs[x];
        to->inflight += e->inflight;
    }
}

/* Definition d's counters, over the engines. */
static struct tp_defstat defstat(const struct tp_view *v, size_t d)
{
    struct tp_defstat ds = {0};

    for (size_t i = 0; i < v->ne; i++) {
        for (int o = 0; o < 3; o++)
            ds.results[o] += v->e[i]->defstat[d].results[o];
        ds.skipped += v->e[i]->defstat[d].skipped;
    }
    return ds;
}

void tp_view_summary(const struct tp_view *v, struct tp_summary *s)
{
    struct totals to;

    memset(s, 0, sizeof(*s));
    s->time_wait = s->netns_time_wait = -1;
    if (!v->ne)
        return;
    totals(v, &to);
    s->targets = v->n;
    for (size_t d = 0; d < v->cfg->ndefs; d++) {
        struct tp_defstat ds = defstat(v, d);
        for (int o = 0; o < 3; o++)
            s->results[o] += ds.results[o];
        s->skipped += ds.skipped;
    }
    s->late_n = to.late.n;
    s->late_p50_us = tu_hist_quantile(&to.late, 0.5);
    s->late_p99_us = tu_hist_quantile(&to.late, 0.99);
    s->late_max_us = to.late.max;
    for (size_t i = 0; i < v->ne && i < sizeof(s->thread_targets) / sizeof(s->thread_targets[0]);
         i++)
        s->thread_targets[s->threads++] = (uint32_t)v->e[i]->ntargets;
    s->time_wait = 0;
    for (size_t i = 0; i < v->ne && s->time_wait >= 0; i++) {
        int netns, n = tp_tw_count(v->e[i]->tw, tw_loop_now(v->e[i]->loop), &netns);
        s->time_wait = n < 0 ? -1 : s->time_wait + n;
        s->netns_time_wait = netns; /* one netns: anyone's, counted once */
    }
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

/* Not for a definition that never resolves (blackbox has no lookup then). */
static void m_dns(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && !t->def->no_resolve)
        tu_prom_sample(p, l, "%.6f", t->last.dns);
}

static void m_regex(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->def->has_regex)
        tu_prom_sample(p, l, "%d", t->last.regex_failed);
}

static void m_up(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->state != TP_UNKNOWN)
        tu_prom_sample(p, l, "%d", t->state == TP_UP);
}

/* Why the last real result failed, as the JSON log's reason word: what
 * blackbox_exporter has no series for (its users grep logs). */
static void m_failure(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (!t->have_last || t->last.outcome != TP_FAILURE || !t->last.reason)
        return;
    tu_prom_begin(p, NULL);
    tu_prom_labels(p, l);
    tu_prom_label(p, "reason", t->last.reason);
    tu_prom_value(p, "1");
}

static void m_local(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->seq)
        tu_prom_sample(p, l, "%d", t->last_local);
}

/* /probe answers what blackbox_exporter does: the regex gauge for every
 * probe of a kind that can have one (tcp and http), on success too. */
static void m_regex_always(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%d", t->last.regex_failed);
}

/* The families every kind has, under blackbox_exporter's names and HELP
 * texts; /metrics writes one sample per target, /probe one. probe is
 * /probe's sample where it differs. */
static const struct common_metric {
    const char *name, *help;
    metric_fn sample, probe;
} common[] = {
    {"probe_success", "Displays whether or not the probe was a success", m_success, NULL},
    {"probe_duration_seconds", "Returns how long the probe took to complete in seconds",
     m_duration, NULL},
    {"probe_dns_lookup_time_seconds", "Returns the time taken for probe dns lookup in seconds",
     m_dns, NULL},
    {"probe_failed_due_to_regex", "Indicates if probe failed due to regex", m_regex,
     m_regex_always},
};
#define NCOMMON (sizeof(common) / sizeof(common[0]))
#define KIND_AFTER 2 /* /metrics: the kinds' families after the DNS time */

/* One gauge family, a sample per target that has one; the writer puts the
 * head before the first sample, so a family no target has stays out. */
static void per_target(const struct tp_view *v, struct tu_prom *p, const char *name,
                       const char *help, metric_fn fn)
{
    tu_prom_family(p, name, TU_PROM_GAUGE, help);
    for (size_t k = 0; k < v->n; k++)
        fn(v->t[k], p, v->labels[k]);
}

static const struct tp_metric *row_named(const struct tp_kind *kind, const char *name)
{
    for (size_t i = 0; i < kind->nmetrics; i++)
        if (!strcmp(kind->metrics[i].name, name))
            return &kind->metrics[i];
    return NULL;
}

/* The kinds' own families. Several kinds may have a row of one name (the
 * TLS rows of cert.c): that is one family, declared where the first kind
 * lists it, with the samples of every kind's targets. */
static void kind_families(const struct tp_view *v, struct tu_prom *p)
{
    const struct tp_metric *rows[16]; /* per kind: its row of the family */

    if (tp_nkinds > sizeof(rows) / sizeof(rows[0]))
        return;
    for (size_t k = 0; k < tp_nkinds; k++)
        for (size_t i = 0; i < tp_kinds[k]->nmetrics; i++) {
            const struct tp_metric *m = &tp_kinds[k]->metrics[i];
            bool earlier = false;
            for (size_t j = 0; j < tp_nkinds; j++) {
                rows[j] = row_named(tp_kinds[j], m->name);
                earlier |= j < k && rows[j];
            }
            if (earlier)
                continue;
            tu_prom_family(p, m->name, TU_PROM_GAUGE, m->help);
            for (size_t t = 0; t < v->n; t++) {
                const struct tp_metric *own = rows[tp_kind_index(v->t[t]->def->kind)];
                if (own)
                    own->sample(v->t[t], p, v->labels[t]);
            }
        }
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

void tp_view_metrics(const struct tp_view *v, FILE *f)
{
    struct tp_summary s;
    struct totals to;
    struct tu_prom p;
    uint64_t cum = 0;
    char le[32];

    tu_prom_init(&p, f);
    for (size_t i = 0; i < NCOMMON; i++) {
        per_target(v, &p, common[i].name, common[i].help, common[i].sample);
        if (i != KIND_AFTER)
            continue;
        /* the address's, then the kinds' own, after the DNS time */
        for (size_t j = 0; j < TP_NIP_METRICS; j++)
            per_target(v, &p, tp_ip_metrics[j].name, tp_ip_metrics[j].help,
                       tp_ip_metrics[j].sample);
        kind_families(v, &p);
    }
    per_target(v, &p, "twkit_probe_up",
               "State after the success/failure thresholds: 1 up, 0 down", m_up);
    per_target(v, &p, "twkit_probe_local_error",
               "1 if the last attempt failed for a reason of this host, not the target",
               m_local);
    per_target(v, &p, "twkit_probe_failure_info",
               "Why the last probe failed (reason as in the JSON log); absent after a success",
               m_failure);

    tu_prom_family(&p, "twkit_probes_total", TU_PROM_COUNTER, "Probe results by definition");
    for (size_t d = 0; v->ne && d < v->cfg->ndefs; d++) {
        struct tp_defstat ds = defstat(v, d);
        for (int o = 0; o < 3; o++) {
            tu_prom_begin(&p, NULL);
            def_labels(&p, &v->cfg->defs[d]);
            tu_prom_label(&p, "result", tp_outcome_names[o]);
            tu_prom_value(&p, "%llu", (unsigned long long)ds.results[o]);
        }
    }
    tu_prom_family(&p, "twkit_probes_skipped_total", TU_PROM_COUNTER,
                   "Starts skipped: the previous probe of the target was still running, or the "
                   "prober was late by an interval or by a tenth of the timeout (overload)");
    for (size_t d = 0; v->ne && d < v->cfg->ndefs; d++) {
        tu_prom_begin(&p, NULL);
        def_labels(&p, &v->cfg->defs[d]);
        tu_prom_value(&p, "%llu", (unsigned long long)defstat(v, d).skipped);
    }
    totals(v, &to);
    tu_prom_family(&p, "twkit_probe_late_start_seconds", TU_PROM_HISTOGRAM,
                   "How late probes started against their schedule");
    for (size_t i = 0; i <= TP_NLATE; i++) {
        cum += to.late_buckets[i];
        if (i < TP_NLATE)
            snprintf(le, sizeof(le), "%g", (double)tp_late_bounds_us[i] / 1e6);
        tu_prom_begin(&p, "_bucket");
        tu_prom_label(&p, "le", i < TP_NLATE ? le : "+Inf");
        tu_prom_value(&p, "%llu", (unsigned long long)cum);
    }
    tu_prom_begin(&p, "_sum");
    tu_prom_value(&p, "%.6f", (double)to.late_sum_us / 1e6);
    tu_prom_begin(&p, "_count");
    tu_prom_value(&p, "%llu", (unsigned long long)cum);
    tu_prom_family(&p, "twkit_probe_local_errors_total", TU_PROM_COUNTER,
                   "Probes this host could not make, by errno");
    for (int i = 1; i < TU_NERRNO; i++)
        if (to.local_errs[i])
            tu_prom_sample_label(&p, "errno", tw_errname(i), "%llu",
                                 (unsigned long long)to.local_errs[i]);
    tp_view_summary(v, &s);
    tu_prom_family(&p, "twkit_probe_targets", TU_PROM_GAUGE, "Targets configured");
    tu_prom_sample(&p, NULL, "%zu", v->n);
    tu_prom_family(&p, "twkit_probe_thread_targets", TU_PROM_GAUGE,
                   "Targets each thread probes (--threads)");
    for (unsigned i = 0; i < s.threads; i++) {
        char th[12];
        snprintf(th, sizeof(th), "%u", i);
        tu_prom_sample_label(&p, "thread", th, "%u", s.thread_targets[i]);
    }
    tu_prom_family(&p, "twkit_probe_in_flight", TU_PROM_GAUGE, "Probes running now");
    tu_prom_sample(&p, NULL, "%u", to.inflight);
    if (s.time_wait >= 0) {
        tu_prom_family(&p, "twkit_probe_time_wait_sockets", TU_PROM_GAUGE,
                       "TIME_WAIT sockets the prober's own graceful closes left (close: graceful)");
        tu_prom_sample(&p, NULL, "%d", s.time_wait);
        tu_prom_family(&p, "twkit_probe_netns_time_wait_sockets", TU_PROM_GAUGE,
                       "TIME_WAIT sockets in the prober's network namespace, anyone's");
        tu_prom_sample(&p, NULL, "%d", s.netns_time_wait);
    }
    tu_prom_family(&p, "process_cpu_seconds_total", TU_PROM_COUNTER, "User and system CPU time");
    tu_prom_sample(&p, NULL, "%.3f", cpu_seconds());
    tu_prom_family(&p, "process_resident_memory_bytes", TU_PROM_GAUGE, "Resident memory");
    tu_prom_sample(&p, NULL, "%ld", rss_bytes());
}

/* ---- /probe: one result ---- */

struct one_row {
    const char *name, *help;
    metric_fn sample;
};

static int row_cmp(const void *a, const void *b)
{
    return strcmp(((const struct one_row *)a)->name, ((const struct one_row *)b)->name);
}

void tp_metrics_one(const struct tp_target *t, FILE *f)
{
    const struct tp_kind *kind = t->def->kind;
    struct one_row rows[NCOMMON + 32];
    size_t n = 0;
    struct tu_prom p;

    for (size_t i = 0; i < NCOMMON; i++)
        if (common[i].sample != m_regex || kind->regex_gauge)
            rows[n++] = (struct one_row){common[i].name, common[i].help,
                                         common[i].probe ? common[i].probe : common[i].sample};
    for (size_t i = 0; i < TP_NIP_METRICS; i++)
        rows[n++] = (struct one_row){tp_ip_metrics[i].name, tp_ip_metrics[i].help,
                                     tp_ip_metrics[i].sample};
    for (size_t i = 0; i < kind->nmetrics && n < sizeof(rows) / sizeof(rows[0]); i++)
        rows[n++] = (struct one_row){kind->metrics[i].name, kind->metrics[i].help,
                                     kind->metrics[i].sample};
    qsort(rows, n, sizeof(rows[0]), row_cmp); /* as promhttp orders them */
    tu_prom_init(&p, f);
    for (size_t i = 0; i < n; i++) {
        tu_prom_family(&p, rows[i].name, TU_PROM_GAUGE, rows[i].help);
        rows[i].sample(t, &p, "");
    }
    /* twkit's own: whether this host, not the target, failed the probe,
     * and the failure's reason (blackbox has neither). */
    tu_prom_family(&p, "twkit_probe_local_error", TU_PROM_GAUGE,
                   "1 if the probe failed for a reason of this host, not the target");
    tu_prom_sample(&p, NULL, "%d", t->last.outcome == TP_LOCAL);
    if (t->last.outcome != TP_SUCCESS && t->last.reason) {
        tu_prom_family(&p, "twkit_probe_failure_info", TU_PROM_GAUGE,
                       "Why the probe failed: reason as in the JSON log");
        tu_prom_sample_label(&p, "reason", t->last.reason, "1");
    }
}
