/* The SLA report's three forms (report_int.h): text for a terminal, JSON
 * (the schema is in docs/PROBE.md, "Report"), and one self-contained HTML
 * page (inline style, no script, no external asset) with a bar of days per
 * target. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "probe/report_int.h"
#include "probe/tz.h"
#include "util/json.h"

static const char *const unit_names[RP_NUNITS] = {"days", "weeks", "months"};

void rp_time_str(const struct rp *r, double t, char *buf, size_t len)
{
    struct tm tm;
    long off;
    size_t n;

    tp_tz_local(r->zone, (int64_t)floor(t), &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    off = r->zone ? tm.tm_gmtoff : 0;
    if (!off)
        snprintf(buf + n, len - n, "Z");
    else
        snprintf(buf + n, len - n, "%c%02ld:%02ld", off < 0 ? '-' : '+', labs(off) / 3600,
                 labs(off) % 3600 / 60);
}

void rp_period_name(const struct rp *r, int unit, int64_t start, char *buf, size_t len)
{
    static const char *const fmt[RP_NUNITS] = {"%Y-%m-%d", "%G-W%V", "%Y-%m"};
    struct tm tm;

    /* a start floored to the hour may sit before its midnight (tz.h) */
    tp_tz_local(r->zone, start + 3599, &tm);
    strftime(buf, len, fmt[unit], &tm);
}

static double pct(const struct rp_acc *a)
{
    return a->up + a->down > 0 ? 100.0 * a->up / (a->up + a->down) : NAN;
}

static double unknown(const struct rp_acc *a)
{
    double u = a->span - a->up - a->down;
    return u > 0 ? u : 0;
}

static double quant(const struct rp_item *it, double q)
{
    return tp_lh_quantile(it->hist, q, it->lat_min_us, it->lat_max_us) / 1e6;
}

static double mttr(const struct rp_item *it)
{
    return it->recovered ? it->recovered_sum / (double)it->recovered : NAN;
}

/* "0s", "850ms", "42s", "5m03s", "2h05m", "3d04h". */
static const char *dur(char *b, size_t len, double s)
{
    long v;

    if (isnan(s))
        snprintf(b, len, "-");
    else if (s < 0.0005) /* nothing, give or take the float */
        snprintf(b, len, "0s");
    else if (s < 1)
        snprintf(b, len, "%.0fms", s * 1000);
    else if ((v = lround(s)) < 60)
        snprintf(b, len, "%lds", v);
    else if (v < 3600)
        snprintf(b, len, "%ldm%02lds", v / 60, v % 60);
    else if (v < 86400)
        snprintf(b, len, "%ldh%02ldm", v / 3600, v % 3600 / 60);
    else
        snprintf(b, len, "%ldd%02ldh", v / 86400, v % 86400 / 3600);
    return b;
}

static const char *pct_str(char *b, size_t len, double p)
{
    if (isnan(p))
        snprintf(b, len, "-");
    else
        snprintf(b, len, "%.3f%%", p);
    return b;
}

/* ---- JSON ---- */

static void jnum(FILE *f, const char *name, double v, int decimals)
{
    fprintf(f, ",\"%s\":", name);
    tu_json_num_or_null(f, v, decimals, !isnan(v));
}

static void jtime(FILE *f, const struct rp *r, const char *name, double t)
{
    char b[40];

    fprintf(f, ",\"%s\":", name);
    if (t > 0) {
        rp_time_str(r, t, b, sizeof(b));
        tu_json_str(f, b);
    } else
        fputs("null", f);
}

static void json_acc(FILE *f, const struct rp_acc *a)
{
    fputs("\"uptime_pct\":", f);
    tu_json_num_or_null(f, pct(a), 6, !isnan(pct(a)));
    jnum(f, "up_s", a->up, 3);
    jnum(f, "downtime_s", a->down, 3);
    jnum(f, "unknown_s", unknown(a), 3);
    jnum(f, "local_error_s", a->local, 3);
}

static void json_summary(FILE *f, const struct rp_item *it)
{
    fputs(",\"summary\":{", f);
    json_acc(f, &it->all);
    fprintf(f, ",\"results\":{\"success\":%llu,\"failure\":%llu,\"local_error\":%llu}",
            (unsigned long long)it->ok, (unsigned long long)it->fail,
            (unsigned long long)it->local);
    fprintf(f, ",\"incidents\":%zu,\"recovered\":%zu", it->incidents, it->recovered);
    jnum(f, "longest_outage_s", it->longest, 3);
    jnum(f, "mttr_s", mttr(it), 3);
    fputs(",\"latency_s\":", f);
    if (!it->ok)
        fputs("null", f);
    else {
        fprintf(f, "{\"p50\":%.6f,\"p90\":%.6f,\"p99\":%.6f,\"mean\":%.6f,\"min\":%.6f,"
                   "\"max\":%.6f}",
                quant(it, 0.5), quant(it, 0.9), quant(it, 0.99),
                (double)it->lat_sum_us / (double)it->ok / 1e6, (double)it->lat_min_us / 1e6,
                (double)it->lat_max_us / 1e6);
    }
    fputc('}', f);
}

static void json_periods(FILE *f, const struct rp *r, const struct rp_item *it)
{
    char name[24];

    for (int u = 0; u < RP_NUNITS; u++) {
        fprintf(f, ",\"%s\":[", unit_names[u]);
        for (size_t p = 0; p < r->nper[u]; p++) {
            rp_period_name(r, u, r->per[u][p].start, name, sizeof(name));
            fprintf(f, "%s{\"period\":\"%s\"", p ? "," : "", name);
            jtime(f, r, "start", (double)r->per[u][p].start);
            jtime(f, r, "end", (double)r->per[u][p].end);
            fputc(',', f);
            json_acc(f, &it->per[u][p]);
            fputc('}', f);
        }
        fputc(']', f);
    }
}

/* The labels as stored (our own JSON), checked: a file edited by hand
 * must not break the document. */
static void json_labels(FILE *f, const char *labels)
{
    json_t *j = labels ? json_loads(labels, 0, NULL) : NULL;

    fputs(",\"labels\":", f);
    if (j && json_is_object(j))
        fputs(labels, f);
    else
        fputs("{}", f);
    json_decref(j);
}

static void json_outages(FILE *f, const struct rp *r, const struct rp_item *it)
{
    fputs(",\"outages\":[", f);
    for (size_t i = 0; i < it->ninc; i++) {
        const struct rp_incident *in = &it->inc[i];
        fputs(i ? ",{" : "{", f);
        fputs("\"start\":", f);
        {
            char b[40];
            rp_time_str(r, in->start, b, sizeof(b));
            tu_json_str(f, b);
        }
        jtime(f, r, "end", in->ongoing ? 0 : in->end);
        jnum(f, "duration_s", in->end - in->start, 3);
        fprintf(f, ",\"recovered\":%s,\"ongoing\":%s,\"ended_with_run\":%s,\"reason\":",
                in->recovered ? "true" : "false", in->ongoing ? "true" : "false",
                in->by_run ? "true" : "false");
        tu_json_str(f, in->reason ? in->reason : "");
        fputs(",\"detail\":", f);
        tu_json_str(f, in->detail ? in->detail : "");
        fputc('}', f);
    }
    fputc(']', f);
}

void rp_write_json(const struct rp *r, FILE *f)
{
    fputs("{\"report\":{\"history\":", f);
    tu_json_str(f, r->o->path);
    fputs(",\"timezone\":", f);
    tu_json_str(f, r->zone ? r->zone : "UTC");
    jtime(f, r, "since", r->since);
    jtime(f, r, "until", r->until);
    fprintf(f, ",\"since_unix\":%.3f,\"until_unix\":%.3f", r->since, r->until);
    jtime(f, r, "generated", r->now);
    fputs(",\"note\":", f);
    if (r->note[0])
        tu_json_str(f, r->note);
    else
        fputs("null", f);
    fputs("},\"probes\":[", f);
    for (size_t i = 0; i < r->nprobes; i++) {
        const struct rp_probe *pr = &r->probes[i];
        fputs(i ? ",{\"probe\":" : "{\"probe\":", f);
        tu_json_str(f, pr->sum.probe);
        fputs(",\"kind\":", f);
        tu_json_str(f, pr->sum.kind);
        fprintf(f, ",\"targets_count\":%zu", pr->n);
        json_summary(f, &pr->sum);
        json_periods(f, r, &pr->sum);
        fputs(",\"targets\":[", f);
        for (size_t j = 0; j < pr->n; j++) {
            const struct rp_item *it = &r->items[pr->first + j];
            fputs(j ? ",{\"target\":" : "{\"target\":", f);
            tu_json_str(f, it->target);
            fputs(",\"kind\":", f);
            tu_json_str(f, it->kind);
            json_labels(f, it->labels);
            jtime(f, r, "first_seen", it->first_seen);
            jtime(f, r, "last_data", it->last_data);
            json_summary(f, it);
            json_periods(f, r, it);
            json_outages(f, r, it);
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputs("]}\n", f);
}

/* ---- text ---- */

static void text_row(FILE *f, const char *name, const struct rp_item *it)
{
    char u[32], d[32], l[32], m[32], p50[32], p90[32], p99[32], un[32];

    fprintf(f, "%-36s %9s %8s %9zu %8s %8s %7s %7s %7s %8s\n", name,
            pct_str(u, sizeof(u), pct(&it->all)), dur(d, sizeof(d), it->all.down), it->incidents,
            dur(l, sizeof(l), it->incidents ? it->longest : NAN), dur(m, sizeof(m), mttr(it)),
            dur(p50, sizeof(p50), it->ok ? quant(it, 0.5) : NAN),
            dur(p90, sizeof(p90), it->ok ? quant(it, 0.9) : NAN),
            dur(p99, sizeof(p99), it->ok ? quant(it, 0.99) : NAN),
            dur(un, sizeof(un), unknown(&it->all)));
}

void rp_write_text(const struct rp *r, FILE *f)
{
    char a[40], b[40], name[300], pn[24], pc[32];

    rp_time_str(r, r->since, a, sizeof(a));
    rp_time_str(r, r->until, b, sizeof(b));
    fprintf(f, "twkit probe report: %s to %s (%s), history %s\n", a, b, r->zone ? r->zone : "UTC",
            r->o->path);
    if (r->note[0])
        fprintf(f, "note: %s\n", r->note);
    if (!r->nprobes) {
        fputs("no targets in the history for this range\n", f);
        return;
    }
    fprintf(f, "\n%-36s %9s %8s %9s %8s %8s %7s %7s %7s %8s\n", "PROBE / TARGET", "UPTIME",
            "DOWN", "INCIDENTS", "LONGEST", "MTTR", "P50", "P90", "P99", "UNKNOWN");
    for (size_t i = 0; i < r->nprobes; i++) {
        const struct rp_probe *pr = &r->probes[i];
        snprintf(name, sizeof(name), "%s (%s, %zu target%s)", pr->sum.probe, pr->sum.kind, pr->n,
                 pr->n == 1 ? "" : "s");
        text_row(f, name, &pr->sum);
        for (size_t j = 0; j < pr->n; j++) {
            snprintf(name, sizeof(name), "  %s", r->items[pr->first + j].target);
            text_row(f, name, &r->items[pr->first + j]);
        }
    }
    for (int u = RP_MONTH; u >= RP_WEEK; u--) {
        fprintf(f, "\nuptime by %s:\n", u == RP_MONTH ? "month" : "ISO week");
        for (size_t i = 0; i < r->nprobes; i++) {
            fprintf(f, "  %-20s", r->probes[i].sum.probe);
            for (size_t p = 0; p < r->nper[u]; p++) {
                rp_period_name(r, u, r->per[u][p].start, pn, sizeof(pn));
                fprintf(f, " %s %s", pn, pct_str(pc, sizeof(pc), pct(&r->probes[i].sum.per[u][p])));
            }
            fputc('\n', f);
        }
    }
}

/* ---- HTML ---- */

static void h(FILE *f, const char *s)
{
    for (; s && *s; s++)
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
}

/* The colour of an uptime: the thresholds status pages use. */
static const char *shade(double p)
{
    return isnan(p) ? "n" : p >= 99.9 ? "g" : p >= 99 ? "y" : p >= 95 ? "o" : "r";
}

static void html_bar(FILE *f, const struct rp *r, const struct rp_item *it)
{
    char name[24], pc[32], d[32], un[32];

    fputs("<div class=bar>", f);
    for (size_t p = 0; p < r->nper[RP_DAY]; p++) {
        const struct rp_acc *a = &it->per[RP_DAY][p];
        rp_period_name(r, RP_DAY, r->per[RP_DAY][p].start, name, sizeof(name));
        fprintf(f, "<i class=%s title=\"%s: %s, down %s, unknown %s\"></i>", shade(pct(a)), name,
                pct_str(pc, sizeof(pc), pct(a)), dur(d, sizeof(d), a->down),
                dur(un, sizeof(un), unknown(a)));
    }
    fputs("</div>", f);
}

static void html_row(FILE *f, const struct rp *r, const struct rp_item *it, bool sum)
{
    char u[32], d[32], l[32], m[32], q[3][32], un[32];

    fprintf(f, "<tr%s><td>", sum ? " class=sum" : "");
    if (sum)
        fprintf(f, "all %zu targets", it->ntargets);
    else
        h(f, it->target);
    fprintf(f, "</td><td class=%s>%s</td><td>", shade(pct(&it->all)),
            pct_str(u, sizeof(u), pct(&it->all)));
    html_bar(f, r, it);
    fprintf(f, "</td><td>%s</td><td>%zu</td><td>%s</td><td>%s</td><td>%s / %s / %s</td><td>%s",
            dur(d, sizeof(d), it->all.down), it->incidents,
            dur(l, sizeof(l), it->incidents ? it->longest : NAN), dur(m, sizeof(m), mttr(it)),
            dur(q[0], 32, it->ok ? quant(it, 0.5) : NAN), dur(q[1], 32, it->ok ? quant(it, 0.9) : NAN),
            dur(q[2], 32, it->ok ? quant(it, 0.99) : NAN), dur(un, sizeof(un), unknown(&it->all)));
    if (it->all.local > 0)
        fprintf(f, " (local errors %s)", dur(d, sizeof(d), it->all.local));
    fputs("</td></tr>\n", f);
}

static void html_units(FILE *f, const struct rp *r, const struct rp_probe *pr)
{
    char name[24], pc[32];

    for (int u = RP_WEEK; u <= RP_MONTH; u++) {
        fprintf(f, "<table class=per><tr><th>%s</th>", u == RP_WEEK ? "ISO week" : "month");
        for (size_t p = 0; p < r->nper[u]; p++) {
            rp_period_name(r, u, r->per[u][p].start, name, sizeof(name));
            fprintf(f, "<th>%s</th>", name);
        }
        fputs("</tr><tr><td>uptime</td>", f);
        for (size_t p = 0; p < r->nper[u]; p++)
            fprintf(f, "<td class=%s>%s</td>", shade(pct(&pr->sum.per[u][p])),
                    pct_str(pc, sizeof(pc), pct(&pr->sum.per[u][p])));
        fputs("</tr></table>\n", f);
    }
}

static void html_outages(FILE *f, const struct rp *r, const struct rp_probe *pr)
{
    char a[40], b[40], d[32];
    bool any = false;

    fputs("<h3>Outages</h3>\n", f);

    for (size_t j = 0; j < pr->n; j++) {
        const struct rp_item *it = &r->items[pr->first + j];
        for (size_t i = 0; i < it->ninc; i++) {
            const struct rp_incident *in = &it->inc[i];
            if (!any)
                fputs("<table><tr><th>target</th><th>down from</th><th>to</th><th>for</th>"
                      "<th>reason</th><th>detail</th></tr>\n", f);
            any = true;
            rp_time_str(r, in->start, a, sizeof(a));
            rp_time_str(r, in->end, b, sizeof(b));
            fputs("<tr><td>", f);
            h(f, it->target);
            fprintf(f, "</td><td>%s</td><td>%s%s</td><td>%s</td><td>", a,
                    in->ongoing ? "ongoing at " : "", b, dur(d, sizeof(d), in->end - in->start));
            h(f, in->reason);
            fputs(in->by_run ? " (the prober stopped)" : "", f);
            fputs("</td><td>", f);
            h(f, in->detail);
            fputs("</td></tr>\n", f);
        }
    }
    if (any)
        fputs("</table>\n", f);
    else
        fputs("<p>No outages.</p>\n", f);
}

void rp_write_html(const struct rp *r, FILE *f)
{
    char a[40], b[40];

    rp_time_str(r, r->since, a, sizeof(a));
    rp_time_str(r, r->until, b, sizeof(b));
    fputs("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
          "<title>twkit probe report</title><style>\n"
          "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\n"
          "table{border-collapse:collapse;margin:.5em 0 1.5em}\n"
          "td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left;"
          "white-space:nowrap}\n"
          "tr.sum td{font-weight:bold}\n"
          ".bar{display:flex;gap:1px}.bar i{display:block;width:6px;height:18px}\n"
          ".g{background:#3c3}.y{background:#cc3}.o{background:#e93}.r{background:#d33}"
          ".n{background:#ccc}\n"
          "td.g,td.y,td.o,td.r,td.n{background:none}\n"
          "td.g{color:#181}td.y{color:#880}td.o{color:#a50}td.r{color:#b11}\n"
          "</style></head><body>\n<h1>Uptime report</h1>\n<p>",
          f);
    fprintf(f, "%s to %s (%s), from ", a, b, r->zone ? r->zone : "UTC");
    h(f, r->o->path);
    fputs(". Uptime is up / (up + down) time; each result covers the time to the next, at "
          "most twice the probe's interval; local errors and time with no result are unknown."
          "</p>\n",
          f);
    if (r->note[0]) {
        fputs("<p><b>Note:</b> ", f);
        h(f, r->note);
        fputs("</p>\n", f);
    }
    if (!r->nprobes)
        fputs("<p>No targets in the history for this range.</p>\n", f);
    for (size_t i = 0; i < r->nprobes; i++) {
        const struct rp_probe *pr = &r->probes[i];
        fputs("<h2>", f);
        h(f, pr->sum.probe);
        fputs(" <small>(", f);
        h(f, pr->sum.kind);
        fputs(")</small></h2>\n<table><tr><th>target</th><th>uptime</th><th>days</th>"
              "<th>down</th><th>incidents</th><th>longest</th><th>MTTR</th>"
              "<th>p50 / p90 / p99</th><th>unknown</th></tr>\n",
              f);
        html_row(f, r, &pr->sum, true);
        for (size_t j = 0; j < pr->n; j++)
            html_row(f, r, &r->items[pr->first + j], false);
        fputs("</table>\n", f);
        html_units(f, r, pr);
        html_outages(f, r, pr);
    }
    fputs("</body></html>\n", f);
}
