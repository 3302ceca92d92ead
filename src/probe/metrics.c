/* twkit probe: /metrics (the Prometheus text of every target and of the
 * prober itself, docs/PROBE.md, "Metrics") and the --summary numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "probe/engine.h"
#include "probe/probe.h"
#include "twkit/diag.h"
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

/* name="..",kind="..",target=".." and the definition's labels, escaped by
 * the Prometheus writer: rendered once per target, reused by every sample. */
char *tp_metrics_labels(const struct tp_def *def, const char *target)
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

/* A kind's row named name, or NULL. */
static const struct tp_metric *kind_row(const struct tp_kind *kind, const char *name)
{
    for (size_t i = 0; i < kind->nmetrics; i++)
        if (!strcmp(kind->metrics[i].name, name))
            return &kind->metrics[i];
    return NULL;
}

/* A kinds' family: a sample per target whose kind has the row. Several
 * kinds may have a family of one name (probe_ssl_earliest_cert_expiry:
 * http and tls): it is written once, at the first kind's row, with the
 * samples of every kind's targets (a family must be one block). */
static void kind_family(struct tp_engine *e, struct tu_prom *p, size_t kind,
                        const struct tp_metric *m)
{
    for (size_t k = 0; k < kind; k++)
        if (kind_row(tp_kinds[k], m->name))
            return; /* written with that kind's */
    tu_prom_family(p, m->name, TU_PROM_GAUGE, m->help);
    for (size_t k = 0; k < e->ntargets; k++) {
        const struct tp_metric *row = e->targets[k].def->kind == tp_kinds[kind]
                                          ? m
                                          : kind_row(e->targets[k].def->kind, m->name);
        if (row)
            row->sample(&e->targets[k], p, e->labels[k]);
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
            kind_family(e, &p, k, &tp_kinds[k]->metrics[i]);
    per_target(e, &p, "probe_failed_due_to_regex",
               "1 if the last probe failed because expect or expect_body did not match",
               m_regex);
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
    for (size_t i = 0; i <= TP_NLATE; i++) {
        cum += e->late_buckets[i];
        if (i < TP_NLATE)
            snprintf(le, sizeof(le), "%g", (double)tp_late_bounds_us[i] / 1e6);
        tu_prom_begin(&p, "_bucket");
        tu_prom_label(&p, "le", i < TP_NLATE ? le : "+Inf");
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
