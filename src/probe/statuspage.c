/* twkit probe: the status page (statuspage.h; docs/PROBE.md, "Status
 * page"). One pass over the rows, sorted once: groups, the probes in each,
 * each probe's targets down first; every user string through tp_html_esc.
 *
 * Size is what bounds the design: a row drawn in full (a 90-day bar of up
 * to 90 rects with a tooltip each, a sparkline) is a few KB, a compact row
 * about 150 bytes. So a probe with more than TP_STATUS_BIG targets draws
 * only its down targets in full and folds the rest into a <details> of
 * compact rows, and no page draws more than TP_STATUS_FULL_MAX rows in
 * full: 20,000 targets stay a few MB.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/statuspage.h"
#include "util/utf8.h"
#include "twkit/error.h"

static const char *const state_word[3] = {"unknown", "up", "down"};

/* ---- escaping and formatting ---- */

/* The length of the UTF-8 sequence at s, 0 when it is not one, and 0 as
 * well for the C1 controls (U+0080 to U+009F), which HTML does not allow. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = tu_utf8_len(s);

    return n == 2 && s[0] == 0xc2 && s[1] < 0xa0 ? 0 : n;
}

void tp_html_esc(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    while (*p) {
        size_t n;
        switch (*p) {
        case '&': fputs("&amp;", f); p++; continue;
        case '<': fputs("&lt;", f); p++; continue;
        case '>': fputs("&gt;", f); p++; continue;
        case '"': fputs("&quot;", f); p++; continue;
        case '\'': fputs("&#39;", f); p++; continue;
        default: break;
        }
        if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f || !(n = utf8_len(p))) {
            fputs("\xef\xbf\xbd", f); /* U+FFFD, one per bad byte */
            p++;
            continue;
        }
        fwrite(p, 1, n, f);
        p += n;
    }
}

/* A duration for people: 420 µs, 3.2 ms, 12 ms, 1.50 s. */
static const char *fmt_dur(char *buf, size_t len, double s)
{
    if (s < 0.001)
        snprintf(buf, len, "%.0f µs", s * 1e6);
    else if (s < 1)
        snprintf(buf, len, "%.*f ms", s * 1e3 < 9.95 ? 1 : 0, s * 1e3);
    else
        snprintf(buf, len, "%.2f s", s);
    return buf;
}

/* How long ago: 40s, 12m 5s, 3h 20m, 4d 2h. */
static const char *fmt_age(char *buf, size_t len, double s)
{
    long v = s > 0 ? (long)s : 0;

    if (v < 60)
        snprintf(buf, len, "%lds", v);
    else if (v < 3600)
        snprintf(buf, len, "%ldm %lds", v / 60, v % 60);
    else if (v < 86400)
        snprintf(buf, len, "%ldh %ldm", v / 3600, v % 3600 / 60);
    else
        snprintf(buf, len, "%ldd %ldh", v / 86400, v % 86400 / 3600);
    return buf;
}

/* Unix seconds as UTC text: with the time, or the date alone. */
static const char *fmt_utc(char *buf, size_t len, double t, bool with_time)
{
    time_t s = (time_t)t;
    struct tm tm;

    gmtime_r(&s, &tm);
    strftime(buf, len, with_time ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d", &tm);
    return buf;
}

/* An uptime as a percentage, rounded down (99.996 % is not 100 %). */
static const char *fmt_pct(char *buf, size_t len, double u)
{
    if (u >= 1)
        snprintf(buf, len, "100 %%");
    else if (u <= 0)
        snprintf(buf, len, "0 %%");
    else
        snprintf(buf, len, "%.2f %%", floor(u * 10000 + 1e-3) / 100); /* float's 0.9995 */
    return buf;
}

/* The colour class of a day: u0 no data, u1 >= 99.9 %, u2 >= 99 %,
 * u3 >= 95 %, u4 below. */
static int uptime_class(float u)
{
    if (u < 0)
        return 0;
    if (u >= 0.999f)
        return 1;
    if (u >= 0.99f)
        return 2;
    if (u >= 0.95f)
        return 3;
    return 4;
}

/* ---- the page's frame ---- */

static const char css[] =
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',"
    "sans-serif;background:#f3f4f6;color:#1f2328}"
    "header,main,footer{max-width:1200px;margin:0 auto;padding:0 12px}"
    "h1{font-size:1.3em;margin:14px 0 4px}"
    "a{color:#0969da}"
    ".sum{margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center}"
    ".note{margin:8px 0;padding:6px 10px;background:#fff8c5;border:1px solid #d4a72c;"
    "border-radius:6px;font-size:.9em}"
    "h2{font-size:1.1em;margin:20px 0 6px;display:flex;flex-wrap:wrap;gap:4px 10px;"
    "align-items:center;overflow-wrap:anywhere}"
    ".probe{background:#fff;border:1px solid #d0d7de;border-radius:8px;margin:10px 0;"
    "padding:4px 12px 8px}"
    "h3{font-size:1em;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 10px;"
    "align-items:center;overflow-wrap:anywhere;min-width:0}"
    ".kd{font-weight:normal;color:#57606a;font-size:.85em}"
    ".cnt{display:inline-flex;flex-wrap:wrap;gap:4px}"
    ".b{display:inline-block;padding:0 7px;border-radius:10px;font-size:.8em;font-weight:600;"
    "color:#fff;white-space:nowrap}"
    ".b.up{background:#1a7f37}.b.down{background:#cf222e}.b.unknown{background:#6e7781}"
    "ul{list-style:none;margin:0;padding:0}"
    ".row{border-top:1px solid #eaeef2;padding:8px 0;display:grid;"
    "grid-template-columns:minmax(0,1fr);gap:6px}"
    ".id{display:flex;gap:8px;align-items:baseline;min-width:0}"
    ".tg{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.9em;"
    "overflow-wrap:anywhere;min-width:0}"
    ".since,.m{color:#57606a;font-size:.85em}"
    ".err{color:#a40e26;font-size:.85em;overflow-wrap:anywhere}"
    ".viz{display:grid;grid-template-columns:minmax(0,1fr);gap:6px 12px}"
    "svg{display:block;width:100%;height:22px}"
    ".cap{display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 6px;"
    "color:#57606a;font-size:.75em}"
    /* most days are u1: its rects carry no class */
    ".bar rect{fill:#2da44e}.bar .u0{fill:#d0d7de}.bar .u2{fill:#a2c83a}.bar .u3{fill:#e3a008}"
    ".bar .u4{fill:#cf222e}"
    ".sp polyline{fill:none;stroke:#0969da;stroke-width:1.5}"
    ".sp .f{fill:#cf222e}"
    ".compact li{display:flex;flex-wrap:wrap;gap:2px 8px;align-items:baseline;padding:3px 0;"
    "border-top:1px solid #eaeef2;min-width:0}"
    ".compact b{display:inline-block;padding:0 7px;border-radius:10px;font-size:.8em;"
    "color:#fff;background:#1a7f37}"
    ".compact b.down{background:#cf222e}.compact b.unknown{background:#6e7781}"
    ".compact code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.9em;"
    "overflow-wrap:anywhere;min-width:0}"
    ".compact small{color:#57606a}.compact .err{color:#a40e26}"
    "summary{cursor:pointer;padding:6px 0;color:#0969da}"
    "footer{color:#57606a;font-size:.85em;padding:16px 12px 24px}"
    "@media (min-width:560px){.viz{grid-template-columns:minmax(0,3fr) minmax(0,1fr)}}"
    "@media (min-width:900px){.row{grid-template-columns:minmax(0,4fr) minmax(0,6fr);"
    "align-items:center}}";

static void head(FILE *f, const char *title, unsigned refresh_s)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n",
          f);
    if (refresh_s)
        fprintf(f, "<meta http-equiv=\"refresh\" content=\"%u\">\n", refresh_s);
    fputs("<title>", f);
    tp_html_esc(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
}

static void endpoints(FILE *f, bool blackbox)
{
    fputs("<a href=\"/metrics\">/metrics</a> (Prometheus) · <a href=\"/status\">/status</a> "
          "(JSON) · <a href=\"/health\">/health</a>",
          f);
    if (blackbox)
        fputs(" · /probe?target=T&amp;module=M (blackbox_exporter's)", f);
}

void tp_status_endpoints(bool blackbox, FILE *f)
{
    head(f, "twkit probe", 0);
    fputs("<header><h1>twkit probe</h1></header>\n<main>\n<p>No CONFIG: this prober runs "
          "blackbox_exporter's modules on request, and has no targets of its own to show."
          "</p>\n<p>",
          f);
    endpoints(f, blackbox);
    fputs("</p>\n</main>\n</body>\n</html>\n", f);
}

/* ---- counts ---- */

struct counts {
    size_t n[3]; /* by enum tp_state */
};

static void count_add(struct counts *c, const struct tp_status_row *r)
{
    c->n[r->state]++;
}

/* The counts as badges, down first, and as data- attributes (tests). */
static void counts_html(FILE *f, const struct counts *c)
{
    static const enum tp_state order[3] = {TP_DOWN, TP_UP, TP_UNKNOWN};

    fprintf(f, "<span class=\"cnt\" data-down=\"%zu\" data-up=\"%zu\" data-unknown=\"%zu\">",
            c->n[TP_DOWN], c->n[TP_UP], c->n[TP_UNKNOWN]);
    for (int i = 0; i < 3; i++)
        if (c->n[order[i]])
            fprintf(f, "<span class=\"b %s\">%zu %s</span>", state_word[order[i]],
                    c->n[order[i]], state_word[order[i]]);
    if (!c->n[0] && !c->n[1] && !c->n[2])
        fputs("no targets", f);
    fputs("</span>", f);
}

/* ---- a row's pictures ---- */

struct page {
    const struct tp_status_view *v;
    FILE *f;
    time_t day0;        /* 00:00 UTC of the bar's first day */
    int32_t today;      /* unix days */
    size_t full_left;   /* rows that may still be drawn in full */
    int hist_err;       /* the first error a history call returned */
    float days[TP_STATUS_DAYS];
    float *series;      /* a sparkline's points: the longest ring's or
                           TP_STATUS_SERIES, whichever is more */
};

/* The 90-day bar: a rect per day the history or the engine knows of
 * (colour by uptime, a <title> with the date and %), over one grey rect
 * that stands for the days nobody knows. 3 units a day, scaled to the
 * width (viewBox + width:100%). */
static void bar(struct page *pg, const struct tp_status_row *r)
{
    const struct tp_status_history *h = pg->v->history;
    const struct tp_recent *rc = r->recent;
    float *d = pg->days;
    bool engine_today = false;
    double sum = 0;
    int known = 0, err;
    char date[16], pct[16], cap[64];
    FILE *f = pg->f;

    for (int i = 0; i < TP_STATUS_DAYS; i++)
        d[i] = -1;
    if (h && h->daily_uptime &&
        (err = h->daily_uptime(h->arg, r->probe, r->target, pg->day0,
                               TP_STATUS_DAYS, d)) < 0) {
        if (!pg->hist_err)
            pg->hist_err = err;
        for (int i = 0; i < TP_STATUS_DAYS; i++)
            d[i] = -1;
    }
    if (d[TP_STATUS_DAYS - 1] < 0 && rc && rc->day == pg->today && rc->day_ok + rc->day_fail) {
        d[TP_STATUS_DAYS - 1] = (float)rc->day_ok / (float)(rc->day_ok + rc->day_fail);
        engine_today = true;
    }
    fprintf(f, "<div class=\"bar\"><svg viewBox=\"0 0 %d 20\" preserveAspectRatio=\"none\" "
               "role=\"img\" aria-label=\"uptime by day, %d days\">"
               "<rect class=\"u0\" width=\"%d\" height=\"20\"><title>no data</title></rect>",
            TP_STATUS_DAYS * 3, TP_STATUS_DAYS, TP_STATUS_DAYS * 3);
    for (int i = 0; i < TP_STATUS_DAYS; i++) {
        if (d[i] < 0)
            continue;
        if (d[i] > 1)
            d[i] = 1;
        sum += d[i];
        known++;
        fmt_utc(date, sizeof(date), (double)pg->day0 + i * 86400.0, false);
        int cls = uptime_class(d[i]);
        char cattr[16] = "";
        if (cls != 1)
            snprintf(cattr, sizeof(cattr), " class=\"u%d\"", cls);
        fprintf(f, "<rect%s x=\"%d\" width=\"2.4\" height=\"20\"><title>%s: %s%s</title></rect>",
                cattr, i * 3, date, fmt_pct(pct, sizeof(pct), d[i]),
                i == TP_STATUS_DAYS - 1 && engine_today ? " (since the prober started)" : "");
    }
    if (!known)
        snprintf(cap, sizeof(cap), "no data yet");
    else if (known == 1 && engine_today)
        snprintf(cap, sizeof(cap), "today %s", fmt_pct(pct, sizeof(pct), sum));
    else
        snprintf(cap, sizeof(cap), "%s over %d day%s", fmt_pct(pct, sizeof(pct), sum / known),
                 known, known == 1 ? "" : "s");
    fprintf(f, "</svg><div class=\"cap\"><span>%d days ago</span><span>%s</span><span>today"
               "</span></div></div>",
            TP_STATUS_DAYS, cap);
}

/* Points of a series (x = index, -1 = a gap) as polylines, one per run
 * without a gap, y scaled to max: 1 at the top, 19 at the bottom. */
static void polylines(FILE *f, const float *v, int n, int x0, float max)
{
    bool open = false;

    for (int i = 0; i < n; i++) {
        if (v[i] < 0) {
            if (open)
                fputs("\"/>", f);
            open = false;
            continue;
        }
        fputs(open ? " " : "<polyline vector-effect=\"non-scaling-stroke\" points=\"", f);
        open = true;
        fprintf(f, "%d,%.1f", x0 + i, 19.0 - 18.0 * (max > 0 ? v[i] / max : 0));
    }
    if (open)
        fputs("\"/>", f);
}

/* The sparkline: the history's last 24 h when it has a series, else the
 * engine's latest results (a failure as a red mark). */
static void spark(struct page *pg, const struct tp_status_row *r)
{
    const struct tp_status_history *h = pg->v->history;
    const struct tp_recent *rc = r->recent;
    float *v = pg->series, max = 0, last = -1;
    int n = 0, width, fails = 0, err;
    bool hist = false;
    char a[32], b[32];
    FILE *f = pg->f;

    if (h && h->latency_series) {
        time_t to = (time_t)pg->v->now;
        if ((err = h->latency_series(h->arg, r->probe, r->target, to - 86400,
                                     to, TP_STATUS_SERIES, v)) < 0) {
            if (!pg->hist_err)
                pg->hist_err = err;
        } else {
            hist = true;
            n = width = TP_STATUS_SERIES;
        }
    }
    if (!hist) {
        if (!rc || !rc->cap)
            return; /* nothing kept: no sparkline */
        width = rc->cap;
        n = rc->n;
        for (int i = 0; i < n; i++) /* oldest first */
            v[i] = rc->lat[(rc->head + rc->cap - n + i) % rc->cap];
    }
    for (int i = 0; i < n; i++) {
        if (v[i] > max)
            max = v[i];
        if (v[i] >= 0)
            last = v[i];
        fails += !hist && v[i] < 0;
    }
    fprintf(f, "<div class=\"sp\"><svg viewBox=\"0 0 %d 20\" preserveAspectRatio=\"none\" "
               "role=\"img\" aria-label=\"latency\"><title>",
            width > 1 ? width - 1 : 1);
    if (hist)
        fputs("mean latency, last 24 h", f);
    else
        fprintf(f, "latency of the last %d result%s%s", n, n == 1 ? "" : "s",
                fails ? ", failures in red" : "");
    fputs("</title>", f);
    polylines(f, v, n, width - n, max);
    for (int i = 0; i < n && !hist; i++)
        if (v[i] < 0)
            fprintf(f, "<rect class=\"f\" x=\"%.1f\" width=\"0.8\" height=\"20\"/>",
                    width - n + i - 0.4);
    fputs("</svg><div class=\"cap\">", f);
    if (last >= 0)
        fprintf(f, "<span>%s %s</span><span>max %s</span>", hist ? "24 h," : "last",
                fmt_dur(a, sizeof(a), last), fmt_dur(b, sizeof(b), max));
    else
        fputs("<span>no latency yet</span>", f);
    fputs("</div></div>", f);
}

/* ---- rows ---- */

static void row_attrs(FILE *f, const struct tp_status_row *r)
{
    fprintf(f, " data-state=\"%s\" data-probe=\"", state_word[r->state]);
    tp_html_esc(f, r->probe);
    fputs("\" data-target=\"", f);
    tp_html_esc(f, r->target);
    fputc('"', f);
}

/* What went wrong last, if it did (brief: its reason word alone); a local
 * error is this host's. */
static void last_error(FILE *f, const struct tp_status_row *r, bool brief)
{
    if (r->local_err) {
        fprintf(f, "<span class=\"err\">local error %s (this host, not the target)</span>",
                tw_errname(r->local_err));
        return;
    }
    if (!r->have_last || r->outcome != TP_FAILURE)
        return;
    /* the detail says it in words ("status 503 not in 200-299"); the
     * reason is the log's word for it */
    fputs("<span class=\"err\" data-reason=\"", f);
    tp_html_esc(f, r->reason ? r->reason : "failure");
    fputs("\">", f);
    tp_html_esc(f, !brief && r->detail && r->detail[0] ? r->detail
                                                      : r->reason ? r->reason : "failure");
    fputs("</span>", f);
}

static void since_html(FILE *f, const struct tp_status_row *r, double now, const char *cls)
{
    char age[32], when[40];

    if (r->since <= 0)
        return;
    fprintf(f, "<span class=\"%s\" title=\"%s since %s\">%s for %s</span>", cls,
            state_word[r->state], fmt_utc(when, sizeof(when), r->since, true),
            state_word[r->state], fmt_age(age, sizeof(age), now - r->since));
}

static void full_row(struct page *pg, const struct tp_status_row *r)
{
    FILE *f = pg->f;
    char d[32];

    fputs("<li class=\"row\"", f);
    row_attrs(f, r);
    fprintf(f, "><div class=\"info\"><div class=\"id\"><span class=\"b %s\">%s</span>"
               "<span class=\"tg\">",
            state_word[r->state], state_word[r->state]);
    tp_html_esc(f, r->target);
    fputs("</span></div><div>", f);
    since_html(f, r, pg->v->now, "since");
    if (r->have_last)
        fprintf(f, " <span class=\"m\">· last took %s</span>",
                fmt_dur(d, sizeof(d), r->duration));
    fputs("</div><div>", f);
    last_error(f, r, false);
    fputs("</div></div><div class=\"viz\">", f);
    bar(pg, r);
    spark(pg, r);
    fputs("</div></li>\n", f);
}

/* One line, as short as it can be (about 130 bytes): a page may have
 * 20,000 of them. */
static void compact_row(struct page *pg, const struct tp_status_row *r)
{
    FILE *f = pg->f;
    char d[32], age[32];

    fputs("<li", f);
    row_attrs(f, r);
    fprintf(f, "><b class=\"%s\">%s</b><code>", state_word[r->state], state_word[r->state]);
    tp_html_esc(f, r->target);
    fputs("</code><small>", f);
    if (r->since > 0)
        fprintf(f, "for %s", fmt_age(age, sizeof(age), pg->v->now - r->since));
    if (r->have_last)
        fprintf(f, "%s%s", r->since > 0 ? " · " : "", fmt_dur(d, sizeof(d), r->duration));
    fputs("</small>", f);
    last_error(f, r, true);
    fputs("</li>\n", f);
}

/* ---- order ---- */

struct order {
    const struct tp_status_row *rows;
    const size_t *pord; /* per row: its probe's place (rows of a probe together) */
    bool by_group;
};

static int state_rank(enum tp_state s)
{
    return s == TP_DOWN ? 0 : s == TP_UNKNOWN ? 1 : 2;
}

/* Groups by name (targets without the label last), then the probes in
 * their order, then each probe's targets down, unknown, up, each in order. */
static int cmp_rows(const void *a, const void *b, void *arg)
{
    const struct order *o = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const struct tp_status_row *x = &o->rows[i], *y = &o->rows[j];
    int c;

    if (o->by_group) {
        if (!x->group != !y->group)
            return x->group ? -1 : 1;
        if (x->group && (c = strcmp(x->group, y->group)))
            return c;
    }
    if (o->pord[i] != o->pord[j])
        return o->pord[i] < o->pord[j] ? -1 : 1;
    if ((c = state_rank(x->state) - state_rank(y->state)))
        return c;
    return i < j ? -1 : i > j;
}

static bool same_group(const struct tp_status_row *a, const struct tp_status_row *b)
{
    if (!a->group || !b->group)
        return !a->group && !b->group;
    return strcmp(a->group, b->group) == 0;
}

/* ---- sections ---- */

/* A probe's rows, idx[0..n) sorted down first: in full while it has at
 * most TP_STATUS_BIG targets (or, past that, for its down ones) and the
 * page's budget lasts; the others compact, the up and unknown ones of a big
 * probe folded away. */
static int probe_section(struct page *pg, const size_t *idx, size_t n, size_t id)
{
    const struct tp_status_row *rows = pg->v->rows, *r0 = &rows[idx[0]];
    bool big = n > TP_STATUS_BIG;
    struct counts c = {{0}};
    size_t nfull = 0, nfold = 0;
    FILE *f = pg->f;
    /* 0 full, 1 compact, 2 folded */
    unsigned char *how = malloc(n);

    if (!how)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        count_add(&c, &rows[idx[i]]);
    fprintf(f, "<section class=\"probe\" id=\"p%zu\" data-name=\"", id);
    tp_html_esc(f, r0->probe);
    fputs("\"><h3><span class=\"pn\">", f);
    tp_html_esc(f, r0->probe);
    fputs("</span><span class=\"kd\">", f);
    tp_html_esc(f, r0->kind);
    fputs("</span>", f);
    counts_html(f, &c);
    fputs("</h3>\n", f);
    for (size_t i = 0; i < n; i++) {
        const struct tp_status_row *r = &rows[idx[i]];
        bool want_full = !big || (r->state == TP_DOWN && nfull < TP_STATUS_BIG);
        unsigned char h = want_full && pg->full_left ? 0 : big && r->state != TP_DOWN ? 2 : 1;
        how[i] = h;
        if (h == 0) {
            nfull++;
            pg->full_left--;
        }
        nfold += h == 2;
    }
    for (int pass = 0; pass < 3; pass++) {
        bool any = false;
        if (pass == 2 && nfold) {
            struct counts fc = {{0}};
            for (size_t i = 0; i < n; i++)
                if (how[i] == 2)
                    count_add(&fc, &rows[idx[i]]);
            fprintf(f, "<details data-folded=\"%zu\"><summary>%zu more: ", nfold, nfold);
            counts_html(f, &fc);
            fputs("</summary>\n", f);
        }
        for (size_t i = 0; i < n; i++) {
            if (how[i] != pass)
                continue;
            if (!any)
                fputs(pass == 0 ? "<ul class=\"rows\">\n" : "<ul class=\"compact\">\n", f);
            any = true;
            if (pass == 0)
                full_row(pg, &rows[idx[i]]);
            else
                compact_row(pg, &rows[idx[i]]);
        }
        if (any)
            fputs("</ul>\n", f);
        if (pass == 2 && nfold)
            fputs("</details>\n", f);
    }
    fputs("</section>\n", f);
    free(how);
    return 0;
}

static void title_of(char *buf, size_t len, const struct counts *c)
{
    snprintf(buf, len, "twkit probe: %zu down, %zu up, %zu unknown", c->n[TP_DOWN], c->n[TP_UP],
             c->n[TP_UNKNOWN]);
}

int tp_status_render(const struct tp_status_view *v, FILE *f)
{
    struct page *pg = calloc(1, sizeof(*pg));
    size_t *idx = malloc((v->nrows ? v->nrows : 1) * sizeof(*idx));
    size_t *pord = malloc((v->nrows ? v->nrows : 1) * sizeof(*pord));
    bool by_group = v->group_label && strcmp(v->group_label, "name") != 0;
    struct order o = {v->rows, pord, by_group};
    struct counts all = {{0}};
    size_t nprobes = 0, sect = 0;
    char title[96], when[40];
    unsigned maxcap = TP_STATUS_SERIES;
    int err = 0;

    for (size_t i = 0; i < v->nrows; i++)
        if (v->rows[i].recent && v->rows[i].recent->cap > maxcap)
            maxcap = v->rows[i].recent->cap;
    if (pg)
        pg->series = malloc(maxcap * sizeof(*pg->series));
    if (!pg || !idx || !pord || !pg->series) {
        if (pg)
            free(pg->series);
        free(pg);
        free(idx);
        free(pord);
        return -ENOMEM;
    }
    pg->v = v;
    pg->f = f;
    pg->today = (int32_t)floor(v->now / 86400);
    pg->day0 = (time_t)(pg->today - (TP_STATUS_DAYS - 1)) * 86400;
    pg->full_left = TP_STATUS_FULL_MAX;
    for (size_t i = 0; i < v->nrows; i++) {
        idx[i] = i;
        if (i == 0 || strcmp(v->rows[i].probe, v->rows[i - 1].probe) != 0)
            nprobes++;
        pord[i] = nprobes;
        count_add(&all, &v->rows[i]);
    }
    qsort_r(idx, v->nrows, sizeof(*idx), cmp_rows, &o);

    title_of(title, sizeof(title), &all);
    head(f, title, v->refresh_s);
    fputs("<header><h1>twkit probe</h1>\n<p class=\"sum\">", f);
    counts_html(f, &all);
    fprintf(f, "<span>%zu target%s, %zu probe%s</span><span>updated %s</span>", v->nrows,
            v->nrows == 1 ? "" : "s", nprobes, nprobes == 1 ? "" : "s",
            fmt_utc(when, sizeof(when), v->now, true));
    if (v->refresh_s)
        fprintf(f, "<span>refreshes every %u s</span>", v->refresh_s);
    fputs("</p>\n", f);
    if (!v->history)
        fputs("<p class=\"note\" id=\"no-history\">History is not configured: each 90-day bar "
              "shows today alone (since the prober started), the days before it have no "
              "data.</p>\n",
              f);
    fputs("</header>\n<main>\n", f);

    for (size_t g0 = 0, g1; g0 < v->nrows && !err; g0 = g1) {
        const struct tp_status_row *first = &v->rows[idx[g0]];
        g1 = g0 + 1;
        if (by_group) {
            struct counts gc = {{0}};
            while (g1 < v->nrows && same_group(first, &v->rows[idx[g1]]))
                g1++;
            for (size_t i = g0; i < g1; i++)
                count_add(&gc, &v->rows[idx[i]]);
            fputs("<section class=\"group\" data-group=\"", f);
            tp_html_esc(f, first->group ? first->group : "");
            fputs("\"><h2><span>", f);
            tp_html_esc(f, v->group_label);
            fputs(": ", f);
            if (first->group)
                tp_html_esc(f, first->group);
            else
                fputs("<i>none</i>", f);
            fputs("</span>", f);
            counts_html(f, &gc);
            fputs("</h2>\n", f);
        } else {
            g1 = v->nrows;
        }
        for (size_t p0 = g0, p1; p0 < g1 && !err; p0 = p1) {
            for (p1 = p0 + 1; p1 < g1 && pord[idx[p1]] == pord[idx[p0]]; p1++)
                ;
            err = probe_section(pg, idx + p0, p1 - p0, ++sect);
        }
        if (by_group)
            fputs("</section>\n", f);
    }
    if (!v->nrows)
        fputs("<p>No targets.</p>\n", f);
    fputs("</main>\n<footer>", f);
    if (pg->hist_err)
        fprintf(f, "<p class=\"note\" id=\"history-error\">The history could not be read "
                   "(%s): the bars and sparklines show what the prober knows.</p>",
                tw_errname(pg->hist_err));
    fputs("<p>", f);
    endpoints(f, v->blackbox);
    fputs("</p></footer>\n</body>\n</html>\n", f);
    free(idx);
    free(pord);
    free(pg->series);
    free(pg);
    return err;
}
