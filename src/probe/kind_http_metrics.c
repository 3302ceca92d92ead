/* The http kind's metric families: blackbox_exporter 0.23's http prober
 * families under its names and help texts, each written exactly when
 * blackbox writes it (checked side by side with the real exporter): the
 * TLS ones only when the last response came over TLS, the Last-Modified
 * one only when the response had a date there; and its JSON log fields.
 */
#include <stdio.h>
#include <string.h>

#include "probe/kind_http.h"
#include "util/prom.h"

/* ---- output: blackbox_exporter's http families, its names and help ---- */

static void gauge(const struct tp_target *t, struct tu_prom *p, const char *l, int slot)
{
    if (t->have_last)
        tu_prom_sample(p, l, "%ld", t->last.kind_val[slot]);
}

static void m_status(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, HTTP_STATUS);
}

static void m_redirects(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, HTTP_REDIRECTS);
}

static void m_clen(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, HTTP_CLEN);
}

static void m_body_len(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, HTTP_BODY_LEN);
}

static void m_ssl(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    gauge(t, p, l, HTTP_SSL);
}

static void m_version(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last) /* 1.1, 2 and 1, as Go prints 1.1, 2.0 and 1.0 */
        tu_prom_sample(p, l, "%g", (double)t->last.kind_val[HTTP_VERSION] / 10);
}

static void m_last_mod(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && t->last.kind_val[HTTP_HAS_LAST_MOD])
        tu_prom_sample(p, l, "%ld", t->last.kind_val[HTTP_LAST_MOD]);
}

/* Whether blackbox has a resolve phase: its lookup's time, or with
 * no_resolve, the DNS of the hops after the first (a redirect followed). */
static bool has_resolve(const struct tp_target *t)
{
    const struct tp_http_opts *o = t->def->opts;

    return !t->def->no_resolve ||
           (o->follow && o->max_redirects && t->last.kind_val[HTTP_REDIRECTS] > 0);
}

static void m_phases(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    /* a name that did not resolve never made a request: blackbox has the
     * resolve phase alone then, the time spent resolving (curl failing to
     * resolve a redirect's name is later: an address was chosen) */
    bool unresolved = t->last.reason && !strcmp(t->last.reason, "dns") &&
                      !t->def->no_resolve && !t->last.ip_protocol;

    if (!t->have_last)
        return;
    if (unresolved) {
        tu_prom_begin(p, NULL);
        tu_prom_labels(p, l);
        tu_prom_label(p, "phase", tp_phase_names[TP_PH_RESOLVE]);
        tu_prom_value(p, "%.6f", t->last.dns);
        return;
    }
    for (int i = 0; i < TP_NPHASE; i++) {
        if (i == TP_PH_RESOLVE && !has_resolve(t))
            continue;
        tu_prom_begin(p, NULL);
        tu_prom_labels(p, l);
        tu_prom_label(p, "phase", tp_phase_names[i]);
        tu_prom_value(p, "%.6f", t->last.phase[i]);
    }
}

const struct tp_metric tp_http_metrics[TP_HTTP_NMETRICS] = {
    {"probe_http_content_length", "Length of http content response", m_clen},
    {"probe_http_duration_seconds", "Duration of http request by phase, summed over all redirects",
     m_phases},
    {"probe_http_last_modified_timestamp_seconds",
     "Returns the Last-Modified HTTP response header in unixtime", m_last_mod},
    {"probe_http_redirects", "The number of redirects", m_redirects},
    {"probe_http_ssl", "Indicates if SSL was used for the final redirect", m_ssl},
    {"probe_http_status_code", "Response HTTP status code", m_status},
    {"probe_http_uncompressed_body_length", "Length of uncompressed response body", m_body_len},
    {"probe_http_version", "Returns the version of HTTP of the probe response", m_version},
    /* https: when the last response came over TLS (cert.c) */
    TP_METRIC_SSL_EARLIEST,
    TP_METRIC_SSL_LAST_CHAIN_EXPIRY,
    TP_METRIC_SSL_LAST_CHAIN_INFO,
    TP_METRIC_TLS_VERSION,
    TP_METRIC_TLS_HANDSHAKE,
};

void tp_http_json(FILE *f, const struct tp_result *r)
{
    if (r->kind_val[HTTP_STATUS])
        fprintf(f, ",\"status\":%ld", r->kind_val[HTTP_STATUS]);
    if (r->kind_val[HTTP_REDIRECTS])
        fprintf(f, ",\"redirects\":%ld", r->kind_val[HTTP_REDIRECTS]);
}
