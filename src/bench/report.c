/* Bench output: the table, JSON (twkit-bench/1, docs/BENCH.md), CSV time
 * series, and an SVG chart written by hand. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "twkit/error.h"
#include "util/json.h"

static double per_s(uint64_t n, uint64_t ms) { return ms ? (double)n * 1000.0 / (double)ms : 0; }

/* A pooled strategy counts requests as sessions; its connections are the
 * new ones. */
static double conn_rate(const struct tb_result *r)
{
    return per_s(tb_strategy_pooled(r->strategy) ? r->new_conns : r->sessions, r->elapsed_ms);
}

static void tw_cell(FILE *f, int32_t v)
{
    if (v < 0)
        fprintf(f, " %9s", "-");
    else
        fprintf(f, " %9d", v);
}

static void us_cell(FILE *f, const struct tu_hist *h, double q)
{
    char b[16];
    uint64_t v = tu_hist_quantile(h, q);

    if (!h->n)
        snprintf(b, sizeof(b), "-");
    else if (v < 10000)
        snprintf(b, sizeof(b), "%lluus", (unsigned long long)v);
    else
        snprintf(b, sizeof(b), "%.1fms", (double)v / 1000.0);
    fprintf(f, " %9s", b);
}

void tb_print_table_head(FILE *f)
{
    fprintf(f, "%-13s %9s %9s %9s %9s %9s %9s %9s %9s %9s\n", "STRATEGY", "CONN/S", "REQ/S",
            "TW-CLIENT", "TW-SERVER", "ADDRNOTAV", "OTHER-ERR", "CONN-P99", "REQ-P99",
            "REQ-MAX");
}

void tb_print_table_row(FILE *f, const struct tb_result *r)
{
    fprintf(f, "%-13s %9.0f %9.0f", r->strategy->name, conn_rate(r),
            per_s(r->requests, r->elapsed_ms));
    tw_cell(f, r->tw_client_end);
    tw_cell(f, r->tw_server_end);
    fprintf(f, " %9llu %9llu", (unsigned long long)r->err[EADDRNOTAVAIL],
            (unsigned long long)(r->errors - r->err[EADDRNOTAVAIL]));
    us_cell(f, &r->connect_us, 0.99);
    us_cell(f, &r->request_us, 0.99);
    us_cell(f, &r->request_us, 1.0);
    fprintf(f, "\n");
}

void tb_print_errors(FILE *f, const struct tb_result *r)
{
    const char *sep = "";

    if (!r->errors)
        return;
    fprintf(f, "  %s errors: ", r->strategy->name);
    for (int e = 1; e < TU_NERRNO; e++)
        if (r->err[e]) {
            fprintf(f, "%s%s %llu (%s)", sep, tw_errname(-e), (unsigned long long)r->err[e],
                    tw_errclass(e) == TW_ECLASS_LOCAL ? "local" : "server");
            sep = ", ";
        }
    fprintf(f, "\n");
}

static void json_hist(FILE *f, const char *name, const struct tu_hist *h)
{
    fprintf(f, "\"%s\":{\"n\":%llu,\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}", name,
            (unsigned long long)h->n, (unsigned long long)tu_hist_quantile(h, 0.5),
            (unsigned long long)tu_hist_quantile(h, 0.99),
            (unsigned long long)tu_hist_quantile(h, 0.999), (unsigned long long)h->max);
}

void tb_print_json(FILE *f, const struct tb_result *r)
{
    const char *sep = "";

    fprintf(f, "{\"schema\":\"twkit-bench/1\",\"proto\":\"%s\",\"strategy\":\"%s\",\"where\":\"%s\","
               "\"server\":\"%s\",\"elapsed_ms\":%llu,\"sessions\":%llu,"
               "\"sessions_per_s\":%.1f,\"requests\":%llu,\"requests_per_s\":%.1f,"
               "\"new_connections\":%llu,\"connections_per_s\":%.1f,",
            r->http ? "http" : "twp", r->strategy->name, r->where, r->server,
            (unsigned long long)r->elapsed_ms,
            (unsigned long long)r->sessions, per_s(r->sessions, r->elapsed_ms),
            (unsigned long long)r->requests, per_s(r->requests, r->elapsed_ms),
            (unsigned long long)r->new_conns, conn_rate(r));
    fprintf(f, "\"errors\":{\"total\":%llu,\"local\":%llu,\"server\":%llu,\"by_errno\":{",
            (unsigned long long)r->errors, (unsigned long long)r->errors_local,
            (unsigned long long)r->errors_server);
    for (int e = 1; e < TU_NERRNO; e++)
        if (r->err[e]) {
            fprintf(f, "%s\"%s\":%llu", sep, tw_errname(-e), (unsigned long long)r->err[e]);
            sep = ",";
        }
    fprintf(f, "}},");
    json_hist(f, "connect_us", &r->connect_us);
    fprintf(f, ",");
    json_hist(f, "request_us", &r->request_us);
    fprintf(f, ",\"time_wait\":{\"client_end\":%d,\"server_end\":%d,\"client_max\":%d,"
               "\"server_max\":%d},\"usable_ports\":%u,\"exhausted_ms\":",
            r->tw_client_end, r->tw_server_end, r->tw_client_max, r->tw_server_max,
            r->usable_ports);
    if (r->exhausted_ms < 0)
        fprintf(f, "null,\"rate_after_exhaustion\":null");
    else
        fprintf(f, "%lld,\"rate_after_exhaustion\":%.1f", (long long)r->exhausted_ms,
                r->rate_after_exhaustion);
    fprintf(f, ",\"cpu_s\":{\"client_user\":%.3f,\"client_sys\":%.3f,\"server_user\":",
            r->cpu_client_user, r->cpu_client_sys);
    tu_json_num_or_null(f, r->cpu_server_user, 3, r->cpu_server_user >= 0);
    fprintf(f, ",\"server_sys\":");
    tu_json_num_or_null(f, r->cpu_server_sys, 3, r->cpu_server_sys >= 0);
    fprintf(f, "},\"rate\":{\"asked\":%.1f,\"behind\":%llu},\"series\":[", r->rate_asked,
            (unsigned long long)r->behind);
    for (size_t i = 0; i < r->nseries; i++) {
        const struct tb_sample *s = &r->series[i];
        fprintf(f, "%s[%u,%llu,%llu,%llu,%d,%d]", i ? "," : "", s->t_ms,
                (unsigned long long)s->sessions, (unsigned long long)s->requests,
                (unsigned long long)s->errors, s->tw_client, s->tw_server);
    }
    fprintf(f, "]}");
}

int tb_write_csv(const char *path, const struct tb_result *rs, size_t n)
{
    FILE *f = fopen(path, "we");

    if (!f)
        return -errno;
    fprintf(f, "strategy,t_ms,sessions,requests,errors,sessions_per_s,tw_client,tw_server\n");
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < rs[k].nseries; i++) {
            const struct tb_sample *s = &rs[k].series[i], *p = i ? s - 1 : NULL;
            uint64_t dt = p ? s->t_ms - p->t_ms : s->t_ms;
            fprintf(f, "%s,%u,%llu,%llu,%llu,%.1f,%d,%d\n", rs[k].strategy->name, s->t_ms,
                    (unsigned long long)s->sessions, (unsigned long long)s->requests,
                    (unsigned long long)s->errors,
                    per_s(s->sessions - (p ? p->sessions : 0), dt), s->tw_client, s->tw_server);
        }
    return fclose(f) == 0 ? 0 : -errno;
}

/* ---- SVG ---- */

/* A round axis maximum at or above v: 1, 2 or 5 times a power of ten. */
static double nice_max(double v)
{
    double p = 1;
    if (v <= 0)
        return 1;
    while (p * 10 <= v)
        p *= 10;
    return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

static void svg_axes(FILE *f, double x0, double y0, double w, double h, double ymax,
                     const char *ylabel, const char *xlabel)
{
    for (int i = 0; i <= 5; i++) {
        double y = y0 + h - h * i / 5;
        fprintf(f, "<line x1='%.0f' y1='%.1f' x2='%.0f' y2='%.1f' stroke='#ddd'/>\n", x0, y,
                x0 + w, y);
        fprintf(f, "<text x='%.0f' y='%.1f' text-anchor='end' font-size='11'>%.0f</text>\n",
                x0 - 4, y + 4, ymax * i / 5);
    }
    fprintf(f, "<text x='%.0f' y='%.0f' font-size='12' font-weight='bold'>%s</text>\n", x0,
            y0 - 8, ylabel);
    if (xlabel)
        fprintf(f, "<text x='%.0f' y='%.0f' text-anchor='middle' font-size='11'>%s</text>\n",
                x0 + w / 2, y0 + h + 30, xlabel);
}

int tb_write_svg(const char *path, const char *title, const struct tb_result *rs, size_t n)
{
    const double W = 960, H = 460, px = 70, py = 70, pw = 520, ph = 300;
    const double bx = 740, bw = 150;
    double tmax = 1, ymax = 1, rmax = 1;
    FILE *f = fopen(path, "we");

    if (!f)
        return -errno;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < rs[k].nseries; i++) {
            const struct tb_sample *s = &rs[k].series[i];
            if (s->t_ms > tmax)
                tmax = s->t_ms;
            if (s->tw_client > ymax)
                ymax = s->tw_client;
            if (s->tw_server > ymax)
                ymax = s->tw_server;
        }
        if (conn_rate(&rs[k]) > rmax)
            rmax = conn_rate(&rs[k]);
    }
    ymax = nice_max(ymax);
    rmax = nice_max(rmax);
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%.0f' height='%.0f' "
               "font-family='sans-serif'>\n<rect width='100%%' height='100%%' fill='white'/>\n",
            W, H);
    fprintf(f, "<text x='%.0f' y='24' font-size='16' font-weight='bold'>", px);
    for (const char *c = title; *c; c++)
        fputs(*c == '<' ? "&lt;" : *c == '&' ? "&amp;" : (char[2]){*c, 0}, f);
    fprintf(f, "</text>\n");

    /* left: TIME_WAIT over time; client solid, server dashed */
    svg_axes(f, px, py, pw, ph, ymax, "TIME_WAIT sockets (solid: client, dashed: server)",
             "seconds into each run");
    for (int i = 0; i <= 4; i++)
        fprintf(f, "<text x='%.1f' y='%.0f' text-anchor='middle' font-size='11'>%.1f</text>\n",
                px + pw * i / 4, py + ph + 15, tmax / 1000.0 * i / 4);
    for (size_t k = 0; k < n; k++) {
        const char *col = rs[k].strategy->color;
        for (int side = 0; side < 2; side++) {
            fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", col,
                    side ? " stroke-dasharray='6 4'" : "");
            for (size_t i = 0; i < rs[k].nseries; i++) {
                const struct tb_sample *s = &rs[k].series[i];
                int32_t v = side ? s->tw_server : s->tw_client;
                if (v >= 0)
                    fprintf(f, "%.1f,%.1f ", px + pw * s->t_ms / tmax, py + ph - ph * v / ymax);
            }
            fprintf(f, "'/>\n");
        }
    }
    /* right: connections/s per strategy (pooled: requests/s in a lighter bar) */
    fprintf(f, "<text x='%.0f' y='%.0f' font-size='12' font-weight='bold'>"
               "connections/s (pool: requests/s, light)</text>\n", bx - 110, py - 8);
    double bh = n ? ph / (double)n : ph;
    for (size_t k = 0; k < n; k++) {
        const char *col = rs[k].strategy->color;
        bool pooled = tb_strategy_pooled(rs[k].strategy);
        double y = py + bh * (double)k, cr = conn_rate(&rs[k]);
        double rr = per_s(rs[k].requests, rs[k].elapsed_ms);
        double v = pooled ? rr : cr;
        double len = bw * (v > rmax ? 1 : v / rmax);
        fprintf(f, "<text x='%.0f' y='%.1f' text-anchor='end' font-size='12'>%s</text>\n",
                bx - 6, y + bh / 2 + 4, rs[k].strategy->name);
        fprintf(f, "<rect x='%.0f' y='%.1f' width='%.1f' height='%.1f' fill='%s'%s/>\n", bx,
                y + bh * 0.15, len, bh * 0.7, col, pooled ? " opacity='0.45'" : "");
        fprintf(f, "<text x='%.1f' y='%.1f' font-size='11'>%.0f</text>\n", bx + len + 4,
                y + bh / 2 + 4, v);
    }
    /* legend */
    for (size_t k = 0; k < n; k++)
        fprintf(f, "<rect x='%.0f' y='%.0f' width='12' height='12' fill='%s'/>"
                   "<text x='%.0f' y='%.0f' font-size='12'>%s</text>\n",
                px + 110.0 * (double)(k % 5), H - 40 + 18.0 * (double)(k / 5),
                rs[k].strategy->color, px + 110.0 * (double)(k % 5) + 16,
                H - 30 + 18.0 * (double)(k / 5), rs[k].strategy->name);
    fprintf(f, "</svg>\n");
    return fclose(f) == 0 ? 0 : -errno;
}
