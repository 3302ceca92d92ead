/* The status page (src/probe/statuspage.c): the HTML it writes for rows
 * made here, read back as text: escaping of user data, grouping, state
 * counts, the folding of big probes and the page's budget of full rows,
 * bars from a fake history source (and without one), sparklines, the size
 * of a page of 20,000 targets; and the rows the engine gives it.
 *
 * With TW_STATUS_SAMPLE=FILE, the sample test also writes its page there
 * (scripts/status_screenshots.sh makes docs/status-page*.png of it).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "probe/engine.h"
#include "probe/probe.h"
#include "probe/statuspage.h"
#include "tmpcwd.h"

TestSuite(statuspage, .timeout = 60);

/* 2026-01-01 12:00:00 UTC: the bar's first day is 2025-10-04 */
#define NOW 1767268800.0
#define TODAY0 1767225600L

static char *render(const struct tp_status_view *v, size_t *lenp)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    cr_assert_not_null(f);
    cr_assert_eq(tp_status_render(v, f), 0);
    cr_assert_eq(fclose(f), 0);
    if (lenp)
        *lenp = len;
    return buf;
}

static char *esc(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    tp_html_esc(f, s);
    fclose(f);
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* hay from the first needle on; asserts there is one. */
static const char *at(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);

    cr_assert_not_null(p, "no %s in the page", needle);
    return p;
}

/* A copy of the text from the first start to the next end after it. */
static char *part(const char *hay, const char *start, const char *end)
{
    const char *a = at(hay, start), *b = strstr(a + strlen(start), end);

    cr_assert_not_null(b, "no %s after %s", end, start);
    return strndup(a, (size_t)(b - a) + strlen(end));
}

static struct tp_status_row mkrow(const char *probe, const char *target, enum tp_state st)
{
    struct tp_status_row r = {.probe = probe, .kind = "tcp", .target = target, .state = st,
                              .since = NOW - 3725, .have_last = true,
                              .outcome = st == TP_DOWN ? TP_FAILURE : TP_SUCCESS,
                              .duration = 0.0042};
    if (st == TP_DOWN) {
        r.reason = "refused";
        r.detail = "ECONNREFUSED: Connection refused";
    }
    if (st == TP_UNKNOWN)
        r.have_last = false;
    return r;
}

/* ---- escaping ---- */

Test(statuspage, escaper_makes_user_data_inert_and_keeps_good_utf8)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"plain-name_1.2:3", "plain-name_1.2:3"},
        {"<script>alert(\"x\")</script>", "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"},
        {"a&b 'c'", "a&amp;b &#39;c&#39;"},
        {"tab\tnl\ncr\rbell\a", "tab\tnl\ncr\xef\xbf\xbd" "bell\xef\xbf\xbd"},
        {"del\x7f", "del\xef\xbf\xbd"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"bad\xff", "bad\xef\xbf\xbd"},                /* not UTF-8 */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},      /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
        {"\xc2\x85", "\xef\xbf\xbd\xef\xbf\xbd"},      /* C1 control U+0085 */
        {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"}, /* sequence cut short */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"", ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = esc(cases[i].in);
        cr_expect_str_eq(got, cases[i].out, "case %zu", i);
        free(got);
    }
    char *got = esc(NULL);
    cr_expect_str_eq(got, "");
    free(got);
}

Test(statuspage, script_in_a_probe_name_target_detail_and_label_stays_text)
{
    struct tp_status_row rows[2] = {mkrow("<script>alert(1)</script>", "\"><script>x</script>",
                                          TP_DOWN),
                                    mkrow("ok", "10.0.0.1:80", TP_UP)};
    struct tp_status_view v = {.rows = rows, .nrows = 2, .group_label = "team", .now = NOW,
                               .refresh_s = 30};
    char *page;

    rows[0].kind = "<b>k</b>";
    rows[0].detail = "<script>d()</script> & more";
    rows[0].reason = "<i>why</i>";
    rows[0].group = "<script>g</script>";
    rows[1].group = "a\"b";
    page = render(&v, NULL);
    /* the page has no script of its own: any "<script" came from user data */
    cr_expect_eq(count(page, "<script"), 0, "%s", page);
    cr_expect_eq(count(page, "<b>k"), 0);
    cr_expect_eq(count(page, "<i>why"), 0);
    at(page, "data-probe=\"&lt;script&gt;alert(1)&lt;/script&gt;\"");
    at(page, "data-target=\"&quot;&gt;&lt;script&gt;x&lt;/script&gt;\"");
    at(page, "<span class=\"tg\">&quot;&gt;&lt;script&gt;x&lt;/script&gt;</span>");
    at(page, "&lt;script&gt;d()&lt;/script&gt; &amp; more");
    at(page, "data-reason=\"&lt;i&gt;why&lt;/i&gt;\"");
    at(page, "data-group=\"&lt;script&gt;g&lt;/script&gt;\"");
    at(page, "data-group=\"a&quot;b\"");
    at(page, "<span class=\"kd\">&lt;b&gt;k&lt;/b&gt;</span>");
    free(page);
}

Test(statuspage, page_is_self_contained_refreshes_and_fits_a_phone)
{
    struct tp_status_row rows[1] = {mkrow("web", "http://10.0.0.1/", TP_UP)};
    struct tp_status_view v = {.rows = rows, .nrows = 1, .now = NOW, .refresh_s = 17};
    char *page = render(&v, NULL);

    cr_expect_eq(strncmp(page, "<!DOCTYPE html>\n<html lang=\"en\">", 31), 0);
    at(page, "<meta charset=\"utf-8\">");
    at(page, "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">");
    at(page, "<meta http-equiv=\"refresh\" content=\"17\">");
    /* nothing fetched: no src=, no <link>, no absolute URL but the
     * target's own text, no script */
    cr_expect_eq(count(page, "src="), 0);
    cr_expect_eq(count(page, "<link"), 0);
    cr_expect_eq(count(page, "<script"), 0);
    cr_expect_eq(count(page, "url("), 0);
    cr_expect_eq(count(page, "http://"), 2, "only the target, twice: %s", page);
    /* bars and sparklines scale to the width */
    at(page, "svg{display:block;width:100%;height:22px}");
    at(page, "<svg viewBox=\"0 0 270 20\" preserveAspectRatio=\"none\"");
    cr_expect(strstr(page, "</html>\n") && page[strlen(page) - 1] == '\n');
    free(page);

    v.refresh_s = 0;
    page = render(&v, NULL);
    cr_expect_eq(count(page, "http-equiv"), 0);
    free(page);
}

/* ---- grouping and counts ---- */

Test(statuspage, grouped_by_label_with_counts_and_probes_in_each_group)
{
    struct tp_status_row rows[6] = {
        mkrow("web", "w1:80", TP_UP),   mkrow("web", "w2:80", TP_DOWN),
        mkrow("web", "w3:80", TP_UP),   mkrow("db", "d1:5432", TP_UNKNOWN),
        mkrow("misc", "m1:1", TP_DOWN), mkrow("db", "d2:5432", TP_UP),
    };
    struct tp_status_view v = {.rows = rows, .nrows = 6, .group_label = "team", .now = NOW};
    const char *g;
    char *page, *sec;

    rows[0].group = "frontend";
    rows[1].group = "backend"; /* a targets file's line said team=backend */
    rows[2].group = "frontend";
    rows[3].group = "backend";
    rows[4].group = NULL;      /* no team */
    rows[5].group = "backend";
    page = render(&v, NULL);
    cr_expect_eq(count(page, "<section class=\"group\""), 3);
    /* by name, the targets without the label last */
    g = at(page, "data-group=\"backend\"");
    g = at(g, "data-group=\"frontend\"");
    at(g, "data-group=\"\"><h2><span>team: <i>none</i></span>");
    sec = part(page, "data-group=\"backend\"", "</section>\n</section>");
    at(sec, "<h2><span>team: backend</span><span class=\"cnt\" data-down=\"1\" data-up=\"1\" "
            "data-unknown=\"1\">");
    /* web's backend target and db's two, in the probes' order */
    g = at(sec, "data-name=\"web\"");
    at(g, "data-target=\"w2:80\"");
    g = at(g, "data-name=\"db\"");
    /* db's unknown target before its up one: down, unknown, up */
    g = at(g, "data-target=\"d1:5432\"");
    at(g, "data-target=\"d2:5432\"");
    cr_expect_eq(count(sec, "data-target="), 3);
    free(sec);
    sec = part(page, "data-group=\"frontend\"", "</section>\n</section>");
    at(sec, "data-down=\"0\" data-up=\"2\" data-unknown=\"0\"><span class=\"b up\">2 up</span>");
    cr_expect_eq(count(sec, "data-target="), 2);
    free(sec);
    /* the whole page's */
    at(page, "<title>twkit probe: 2 down, 3 up, 1 unknown</title>");
    at(page, "<p class=\"sum\"><span class=\"cnt\" data-down=\"2\" data-up=\"3\" "
             "data-unknown=\"1\"><span class=\"b down\">2 down</span><span class=\"b up\">3 up"
             "</span><span class=\"b unknown\">1 unknown</span></span><span>6 targets, 4 "
             "probes</span>");
    free(page);
}

Test(statuspage, by_probe_in_config_order_down_targets_first)
{
    struct tp_status_row rows[5] = {
        mkrow("zeta", "z1:1", TP_UP),  mkrow("zeta", "z2:1", TP_UNKNOWN),
        mkrow("zeta", "z3:1", TP_DOWN), mkrow("alpha", "a1:1", TP_UP),
        mkrow("alpha", "a2:1", TP_UP),
    };
    struct tp_status_view v = {.rows = rows, .nrows = 5, .now = NOW};
    const char *p;
    char *page = render(&v, NULL), *sec;

    cr_expect_eq(count(page, "class=\"group\""), 0);
    cr_expect_eq(count(page, "<section class=\"probe\""), 2);
    p = at(page, "data-name=\"zeta\"");
    at(p, "data-name=\"alpha\"");
    sec = part(page, "data-name=\"zeta\"", "</section>");
    at(sec, "data-down=\"1\" data-up=\"1\" data-unknown=\"1\"");
    p = at(sec, "data-target=\"z3:1\"");
    p = at(p, "data-target=\"z2:1\"");
    at(p, "data-target=\"z1:1\"");
    free(sec);
    /* --status-group name is the default */
    v.group_label = "name";
    char *again = render(&v, NULL);
    cr_expect_eq(count(again, "class=\"group\""), 0);
    free(again);
    free(page);
}

Test(statuspage, a_row_says_state_since_and_last_error)
{
    struct tp_status_row rows[3] = {mkrow("db", "10.0.0.1:5432", TP_DOWN),
                                    mkrow("db", "10.0.0.2:5432", TP_UP),
                                    mkrow("db", "10.0.0.3:5432", TP_UP)};
    struct tp_status_view v = {.rows = rows, .nrows = 3, .now = NOW};
    char *page, *row;

    rows[2].local_err = EMFILE;
    page = render(&v, NULL);
    row = part(page, "data-target=\"10.0.0.1:5432\"", "</li>");
    /* 3725 s: 1h 2m */
    at(row, "<span class=\"since\" title=\"down since 2026-01-01 10:57:55 UTC\">down for 1h 2m"
            "</span>");
    at(row, "last took 4.2 ms");
    at(row, "<span class=\"err\" data-reason=\"refused\">ECONNREFUSED: Connection refused"
            "</span>");
    free(row);
    row = part(page, "data-target=\"10.0.0.2:5432\"", "</li>");
    cr_expect_eq(count(row, "class=\"err\""), 0);
    free(row);
    row = part(page, "data-target=\"10.0.0.3:5432\"", "</li>");
    at(row, "local error EMFILE (this host, not the target)");
    free(row);
    free(page);
}

/* ---- many targets ---- */

static struct tp_status_row *many(const char *probe, size_t n, char (*names)[32])
{
    struct tp_status_row *rows = calloc(n, sizeof(*rows));

    cr_assert_not_null(rows);
    for (size_t i = 0; i < n; i++) {
        snprintf(names[i], 32, "10.1.%zu.%zu:443", i / 250, i % 250);
        rows[i] = mkrow(probe, names[i], TP_UP);
    }
    return rows;
}

Test(statuspage, a_big_probe_shows_its_down_targets_and_folds_the_rest)
{
    static char names[120][32];
    struct tp_status_row *rows = many("edge", 120, names);
    struct tp_status_view v = {.rows = rows, .nrows = 120, .now = NOW};
    char *page, *folded, *before;

    rows[10].state = rows[50].state = rows[100].state = TP_DOWN;
    for (int i = 0; i < 7; i++)
        rows[20 + i].state = TP_UNKNOWN;
    page = render(&v, NULL);
    cr_expect_eq(count(page, "data-target="), 120);
    cr_expect_eq(count(page, "<li class=\"row\""), 3, "only the down ones in full");
    before = strndup(page, (size_t)(at(page, "<details") - page));
    cr_expect_eq(count(before, "<li class=\"row\" data-state=\"down\""), 3);
    at(before, "data-target=\"10.1.0.10:443\"");
    at(before, "data-target=\"10.1.0.100:443\"");
    folded = part(page, "<details", "</details>");
    at(folded, "<details data-folded=\"117\"><summary>117 more: <span class=\"cnt\" "
               "data-down=\"0\" data-up=\"110\" data-unknown=\"7\">");
    cr_expect_eq(count(folded, "<li data-state=\"up\""), 110);
    cr_expect_eq(count(folded, "<li data-state=\"unknown\""), 7);
    cr_expect_eq(count(folded, "data-state=\"down\""), 0);
    /* unknown before up, folded too */
    cr_expect_lt(strstr(folded, "data-state=\"unknown\"") - folded,
                 strstr(folded, "<li data-state=\"up\"") - folded);
    free(before);
    free(folded);
    free(page);

    /* 60 of 70 down: 50 in full, 10 compact but not folded, the up ones folded */
    static char names2[70][32];
    free(rows);
    rows = many("edge", 70, names2);
    for (int i = 0; i < 60; i++)
        rows[i].state = TP_DOWN;
    v.rows = rows;
    v.nrows = 70;
    page = render(&v, NULL);
    cr_expect_eq(count(page, "<li class=\"row\""), 50);
    before = strndup(page, (size_t)(at(page, "<details") - page));
    cr_expect_eq(count(before, "<li data-state=\"down\""), 10);
    folded = part(page, "<details", "</details>");
    at(folded, "<details data-folded=\"10\">");
    cr_expect_eq(count(folded, "<li data-state=\"up\""), 10);
    free(before);
    free(folded);
    free(page);
    free(rows);
}

Test(statuspage, no_page_draws_more_than_its_budget_of_full_rows)
{
    static char names[450][32], probes[10][8];
    struct tp_status_row *rows = many("x", 450, names);
    struct tp_status_view v = {.rows = rows, .nrows = 450, .now = NOW};
    char *page;

    for (int i = 0; i < 450; i++) { /* 10 probes of 45: none is big */
        snprintf(probes[i / 45], 8, "p%d", i / 45);
        rows[i].probe = probes[i / 45];
    }
    page = render(&v, NULL);
    cr_expect_eq(count(page, "<li class=\"row\""), TP_STATUS_FULL_MAX);
    /* the probes past the budget's last full one have compact rows */
    cr_expect_eq(count(page, "<ul class=\"compact\">"), 10 - TP_STATUS_FULL_MAX / 45);
    cr_expect_eq(count(page, "<details"), 0, "nothing folded: the probes are small");
    cr_expect_eq(count(page, "data-target="), 450);
    free(page);
    free(rows);
}

/* How big 20,000 targets make the page: one probe of 20,000 (1 % down), and
 * 400 probes of 50, each drawn in full as far as the budget goes, with 90
 * days of history each. The figures are in docs/PROBE.md. */
static int hist_full(void *arg, const char *probe, const char *target, time_t day0, int ndays,
                     float *out)
{
    for (int i = 0; i < ndays; i++)
        out[i] = i % 7 ? 1.0f : 0.9993f;
    return 0;
}

/* What it is on the wire to a browser (zlib's fastest level, as gzip.c). */
static size_t gzipped(const char *page, size_t len)
{
    uLongf n = compressBound(len);
    Bytef *z = malloc(n);

    cr_assert_not_null(z);
    cr_assert_eq(compress2(z, &n, (const Bytef *)page, len, 1), Z_OK);
    free(z);
    return n;
}

Test(statuspage, twenty_thousand_targets_make_a_few_megabytes)
{
    static char names[20000][32], probes[400][8];
    static float lat[20000][TP_STATUS_SAMPLES];
    static struct tp_recent rec[20000];
    struct tp_status_row *rows = many("edge", 20000, names);
    struct tp_status_history h = {.daily_uptime = hist_full};
    struct tp_status_view v = {.rows = rows, .nrows = 20000, .now = NOW, .refresh_s = 30};
    size_t one, spread, gz[2];
    char *page;

    for (int i = 0; i < 20000; i++) {
        rec[i] = (struct tp_recent){.lat = lat[i], .cap = TP_STATUS_SAMPLES,
                                    .n = TP_STATUS_SAMPLES, .day = (int32_t)(TODAY0 / 86400),
                                    .day_ok = 700};
        for (int k = 0; k < TP_STATUS_SAMPLES; k++)
            lat[i][k] = 0.001f + 0.0001f * (float)((i + k) % 13);
        rows[i].recent = &rec[i];
        if (i % 100 == 0)
            rows[i] = mkrow("edge", names[i], TP_DOWN), rows[i].recent = &rec[i];
    }
    page = render(&v, &one);
    cr_expect_eq(count(page, "data-target="), 20000);
    gz[0] = gzipped(page, one);
    free(page);
    v.history = &h;
    for (int i = 0; i < 20000; i++) {
        snprintf(probes[i / 50], 8, "p%d", i / 50);
        rows[i].probe = probes[i / 50];
    }
    page = render(&v, &spread);
    cr_expect_eq(count(page, "<li class=\"row\""), TP_STATUS_FULL_MAX);
    cr_expect_eq(count(page, "data-target="), 20000);
    gz[1] = gzipped(page, spread);
    free(page);
    cr_log_info("20,000 targets: one probe %zu bytes (gzip %zu), 400 probes of 50 with "
                "history %zu bytes (gzip %zu)", one, gz[0], spread, gz[1]);
    cr_expect_lt(one, 4u << 20);
    cr_expect_lt(spread, 6u << 20);
    free(rows);
}

/* ---- the bar ---- */

/* A fake store: every day's uptime from a pattern of six, by the day's
 * number, so a day's colour can be predicted; records what it was asked. */
static const float pattern[6] = {-1, 1.0f, 0.995f, 0.97f, 0.5f, 0.9995f};
static const int pattern_class[6] = {0, 1, 2, 3, 4, 1};
static const char *const pattern_pct[6] = {NULL, "100 %", "99.50 %", "97.00 %", "50.00 %",
                                           "99.95 %"};
struct fake {
    int calls, err;
    char probe[64], target[64];
    time_t day0;
    int ndays;
};

static int fake_daily(void *arg, const char *probe, const char *target, time_t day0, int ndays,
                      float *out)
{
    struct fake *fk = arg;

    fk->calls++;
    snprintf(fk->probe, sizeof(fk->probe), "%s", probe);
    snprintf(fk->target, sizeof(fk->target), "%s", target);
    fk->day0 = day0;
    fk->ndays = ndays;
    if (fk->err)
        return fk->err;
    for (int i = 0; i < ndays; i++)
        out[i] = pattern[(day0 / 86400 + i) % 6];
    return 0;
}

Test(statuspage, fake_history_colours_each_of_90_days_with_its_date_and_percent)
{
    struct fake fk = {0};
    struct tp_status_history h = {.arg = &fk, .daily_uptime = fake_daily};
    struct tp_status_row rows[1] = {mkrow("web", "https://xxxxx@10.0.0.1/", TP_UP)};
    struct tp_status_view v = {.rows = rows, .nrows = 1, .now = NOW, .history = &h};
    char *page, *bar;
    int known = 0;
    double sum = 0;

    page = render(&v, NULL);
    cr_expect_eq(fk.calls, 1);
    cr_expect_str_eq(fk.probe, "web");
    cr_expect_str_eq(fk.target, "https://xxxxx@10.0.0.1/", "the store keeps it as shown");
    cr_expect_eq(fk.day0, TODAY0 - 89 * 86400);
    cr_expect_eq(fk.ndays, 90);
    cr_expect_eq(count(page, "id=\"no-history\""), 0);
    bar = part(page, "<div class=\"bar\">", "</svg>");
    for (int i = 0; i < 90; i++) {
        long day = (TODAY0 - 89 * 86400) / 86400 + i;
        int p = (int)(day % 6);
        char want[128], date[16];
        time_t t = (time_t)(day * 86400);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d", &tm);
        if (!pattern_pct[p]) {
            snprintf(want, sizeof(want), "x=\"%d\"", i * 3);
            cr_expect_null(strstr(bar, want), "day %d has no data but a rect", i);
            continue;
        }
        char cls[16] = ""; /* u1, the usual, is the rects' own colour */
        if (pattern_class[p] != 1)
            snprintf(cls, sizeof(cls), " class=\"u%d\"", pattern_class[p]);
        snprintf(want, sizeof(want),
                 "<rect%s x=\"%d\" width=\"2.4\" height=\"20\"><title>%s: %s</title></rect>",
                 cls, i * 3, date, pattern_pct[p]);
        cr_expect_not_null(strstr(bar, want), "day %d: no %s in %s", i, want, bar);
        known++;
        sum += pattern[p];
    }
    at(bar, "<title>2025-10-04: ");
    cr_expect_eq(count(bar, "<rect"), known + 1, "a rect per known day, one grey");
    /* the caption: the mean of the known days */
    char cap[64], pct[16];
    snprintf(pct, sizeof(pct), "%.2f %%", floor(sum / known * 10000) / 100);
    snprintf(cap, sizeof(cap), "<span>%s over %d days</span>", pct, known);
    at(page, cap);
    free(bar);
    free(page);
}

Test(statuspage, without_history_the_bar_has_today_from_the_engine)
{
    struct tp_recent rc = {.day = (int32_t)(TODAY0 / 86400), .day_ok = 3, .day_fail = 1};
    struct tp_status_row rows[1] = {mkrow("web", "10.0.0.1:80", TP_UP)};
    struct tp_status_view v = {.rows = rows, .nrows = 1, .now = NOW};
    struct fake fk = {.err = -EIO};
    struct tp_status_history h = {.arg = &fk, .daily_uptime = fake_daily};
    char *page, *bar;

    rows[0].recent = &rc;
    page = render(&v, NULL);
    at(page, "<p class=\"note\" id=\"no-history\">History is not configured");
    bar = part(page, "<div class=\"bar\">", "</div></div>");
    cr_expect_eq(count(bar, "<rect class=\"u"), 2, "%s", bar);
    at(bar, "<rect class=\"u4\" x=\"267\" width=\"2.4\" height=\"20\"><title>2026-01-01: 75.00 % "
            "(since the prober started)</title></rect>");
    at(bar, "<span>today 75.00 %</span>");
    free(bar);
    free(page);

    /* counts of another day are not today's */
    rc.day--;
    page = render(&v, NULL);
    bar = part(page, "<div class=\"bar\">", "</div></div>");
    cr_expect_eq(count(bar, "<rect class=\"u"), 1);
    at(bar, "<span>no data yet</span>");
    free(bar);
    free(page);

    /* a history that fails: said once, the engine's today shown */
    rc.day++;
    v.history = &h;
    page = render(&v, NULL);
    cr_expect_eq(fk.calls, 1);
    cr_expect_eq(count(page, "id=\"no-history\""), 0);
    at(page, "id=\"history-error\">The history could not be read (EIO)");
    at(page, "<title>2026-01-01: 75.00 % (since the prober started)</title>");
    free(page);
}

/* ---- the sparkline ---- */

Test(statuspage, sparkline_draws_the_ring_oldest_first_and_marks_failures)
{
    /* a ring of 8 that wrapped: head 3, so the oldest is lat[3] */
    float lat[8] = {0.006f, -1, 0.009f, 0.001f, 0.002f, -1, 0.003f, 0.005f};
    struct tp_recent rc = {.lat = lat, .cap = 8, .n = 8, .head = 3};
    struct tp_status_row rows[1] = {mkrow("web", "10.0.0.1:80", TP_UP)};
    struct tp_status_view v = {.rows = rows, .nrows = 1, .now = NOW};
    char *page, *sp;

    rows[0].recent = &rc;
    page = render(&v, NULL);
    sp = part(page, "<div class=\"sp\">", "</div></div>");
    at(sp, "viewBox=\"0 0 7 20\"");
    at(sp, "<title>latency of the last 8 results, failures in red</title>");
    /* order 0.001 0.002 F 0.003 0.005 0.006 F 0.009, max 0.009: y = 19 - 18 v/max */
    at(sp, "<polyline vector-effect=\"non-scaling-stroke\" points=\"0,17.0 1,15.0\"/>");
    at(sp, "<polyline vector-effect=\"non-scaling-stroke\" points=\"3,13.0 4,9.0 5,7.0\"/>");
    at(sp, "<polyline vector-effect=\"non-scaling-stroke\" points=\"7,1.0\"/>");
    at(sp, "<rect class=\"f\" x=\"1.6\" width=\"0.8\" height=\"20\"/>");
    at(sp, "<rect class=\"f\" x=\"5.6\" width=\"0.8\" height=\"20\"/>");
    cr_expect_eq(count(sp, "class=\"f\""), 2);
    at(sp, "<span>last 9.0 ms</span><span>max 9.0 ms</span>");
    free(sp);
    free(page);

    /* a ring not yet full sits at the right: lat[6], lat[7] */
    rc.n = 2;
    rc.head = 0;
    page = render(&v, NULL);
    sp = part(page, "<div class=\"sp\">", "</div></div>");
    at(sp, "points=\"6,8.2 7,1.0\"");
    free(sp);
    free(page);

    /* no ring: no sparkline */
    rows[0].recent = NULL;
    page = render(&v, NULL);
    cr_expect_eq(count(page, "class=\"sp\""), 0);
    free(page);
}

static int fake_series(void *arg, const char *probe, const char *target, time_t from, time_t to,
                       int npoints, float *out)
{
    cr_expect_eq(to - from, 86400);
    cr_expect_eq(npoints, TP_STATUS_SERIES);
    for (int i = 0; i < npoints; i++)
        out[i] = i >= 40 && i < 50 ? -1 : 0.010f;
    return 0;
}

Test(statuspage, a_history_series_makes_the_last_24_hours)
{
    struct tp_status_history h = {.latency_series = fake_series};
    struct tp_status_row rows[1] = {mkrow("web", "10.0.0.1:80", TP_UP)};
    struct tp_status_view v = {.rows = rows, .nrows = 1, .now = NOW, .history = &h};
    char *page = render(&v, NULL), *sp;

    sp = part(page, "<div class=\"sp\">", "</div></div>");
    at(sp, "viewBox=\"0 0 95 20\"");
    at(sp, "<title>mean latency, last 24 h</title>");
    cr_expect_eq(count(sp, "<polyline"), 2, "split at the gap: %s", sp);
    cr_expect_eq(count(sp, "class=\"f\""), 0);
    at(sp, "<span>24 h, 10 ms</span>");
    free(sp);
    free(page);
}

/* ---- the rows the engine gives ---- */

Test(statuspage, engine_rows_carry_names_labels_state_and_memory)
{
    static const char yaml[] =
        "probes:\n"
        "  - name: db\n"
        "    kind: tcp\n"
        "    labels: {team: storage, env: prod}\n"
        "    targets_file: db.txt\n"
        "  - name: web\n"
        "    kind: http\n"
        "    labels: {team: frontend}\n"
        "    target: 'http://user:pw@127.0.0.1:8080/'\n";
    struct tp_engine_opts eo = {.recent = 5};
    struct tp_status_row *rows;
    struct tp_config cfg;
    struct tp_engine *e[2];
    struct tp_view v;
    tw_loop *loop;
    size_t n;
    FILE *tf;

    ut_cwd_enter("statuspage");
    tf = fopen("db.txt", "w");
    cr_assert_not_null(tf);
    fputs("127.0.0.1:5432 team=dba\n127.0.0.2:5432\n", tf);
    fclose(tf);
    cr_assert_eq(tp_config_load_mem("x.yaml", yaml, sizeof(yaml) - 1, &cfg, stderr), 0);
    cr_assert_eq(tw_loop_new(&loop), 0);
    /* two lanes (--threads 2): the rows come in the config's order
     * whichever engine has a target */
    eo.lanes = 2;
    cr_assert_eq(tp_engine_new(loop, &cfg, &eo, &e[0]), 0);
    eo.lane = 1;
    cr_assert_eq(tp_engine_new(loop, &cfg, &eo, &e[1]), 0);
    cr_assert_eq(e[0]->ntargets + e[1]->ntargets, 3);
    cr_assert_eq(tp_view_make(e, 2, &v), 0);
    v.t[1]->state = TP_DOWN;
    v.t[1]->since = 12345;

    cr_assert_eq(tp_status_rows(&v, "team", &rows, &n), 0);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(rows[0].probe, "db");
    cr_expect_str_eq(rows[0].kind, "tcp");
    cr_expect_str_eq(rows[0].group, "dba", "the line's label over the probe's");
    cr_expect_str_eq(rows[1].group, "storage");
    cr_expect_eq(rows[1].state, TP_DOWN);
    cr_expect_eq(rows[1].since, 12345);
    cr_expect_gt(rows[0].since, NOW - 5 * 365 * 86400.0, "unknown since the engine was made");
    cr_expect_str_eq(rows[2].target, "http://user:xxxxx@127.0.0.1:8080/");
    cr_expect_eq(rows[2].recent, &v.t[2]->recent);
    cr_expect_eq(rows[2].recent->cap, 5);
    free(rows);
    cr_assert_eq(tp_status_rows(&v, "kind", &rows, &n), 0);
    cr_expect_str_eq(rows[2].group, "http");
    free(rows);
    cr_assert_eq(tp_status_rows(&v, "env", &rows, &n), 0);
    cr_expect_str_eq(rows[0].group, "prod");
    cr_expect_null(rows[2].group);
    free(rows);
    cr_assert_eq(tp_status_rows(&v, NULL, &rows, &n), 0);
    cr_expect_str_eq(rows[2].group, "web");
    free(rows);

    tp_view_free(&v);
    tp_engine_free(e[0]);
    tp_engine_free(e[1]);
    tp_config_free(&cfg);
    tw_loop_free(loop);
    ut_cwd_leave();
}

/* ---- the sample page (docs/status-page*.png) ---- */

/* A made-up store for the sample: 90 days of mostly good uptime, a bad
 * day here and there, a target that is new (30 days known). */
static int sample_daily(void *arg, const char *probe, const char *target, time_t day0,
                        int ndays, float *out)
{
    unsigned h = 2166136261u;

    for (const char *p = target; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (int i = 0; i < ndays; i++) {
        unsigned x = (h ^ (unsigned)(i * 2654435761u)) % 1000;
        out[i] = x < 930 ? 1.0f : x < 965 ? 0.9992f : x < 985 ? 0.995f : x < 995 ? 0.97f : 0.6f;
        if (strstr(target, "new") && i < ndays - 30)
            out[i] = -1;
    }
    if (strstr(target, "10.20.0.7") || strstr(target, "shop-new"))
        out[ndays - 1] = 0.82f; /* the down ones: today was bad */
    for (int i = ndays - 4; i < ndays && strstr(target, "edge18."); i++)
        out[i] = 0; /* its certificate expired 3 days ago */
    return 0;
}

Test(statuspage, sample_page_for_the_docs)
{
    static const char *const web[] = {"https://shop.example.net/health",
                                      "https://shop-new.example.net/health",
                                      "https://api.example.net/v2/status?verbose=1"};
    static char edge[80][32];
    static float lat[90][TP_STATUS_SAMPLES];
    static struct tp_recent rec[90];
    struct tp_status_row rows[90];
    struct tp_status_history h = {.daily_uptime = sample_daily};
    struct tp_status_view v = {.rows = rows, .nrows = 0, .group_label = "team", .now = NOW,
                               .refresh_s = 30, .history = &h};
    const char *out = getenv("TW_STATUS_SAMPLE");
    size_t n = 0, len;
    char *page;

    for (int i = 0; i < 3; i++) {
        rows[n] = mkrow("shop", web[i], TP_UP);
        rows[n].kind = "http";
        rows[n].group = "frontend";
        n++;
    }
    rows[1].state = TP_DOWN;
    rows[1].outcome = TP_FAILURE;
    rows[1].reason = "status";
    rows[1].detail = "status 503 not in 200-299";
    rows[1].since = NOW - 184;
    rows[n] = mkrow("db", "10.20.0.7:5432", TP_DOWN);
    rows[n].reason = "timeout";
    rows[n].detail = "no answer within 2000 ms";
    rows[n].duration = 2.0;
    rows[n].since = NOW - 1260;
    rows[n++].group = "storage";
    rows[n] = mkrow("db", "10.20.0.8:5432", TP_UP);
    rows[n].since = NOW - 86400 * 12 - 3600 * 5;
    rows[n++].group = "storage";
    rows[n] = mkrow("dns", "10.20.0.53", TP_UNKNOWN);
    rows[n].kind = "dns";
    rows[n].since = NOW - 4;
    rows[n++].group = "storage";
    for (int i = 0; i < 80; i++) {
        snprintf(edge[i], sizeof(edge[i]), "edge%02d.example.net:443", i + 1);
        rows[n] = mkrow("edge", edge[i], i == 17 ? TP_DOWN : TP_UP);
        rows[n].kind = "tls";
        rows[n].since = NOW - 86400 * 3 - i * 600;
        rows[n].duration = 0.011 + 0.0003 * i;
        if (i == 17) {
            rows[n].reason = "verify";
            rows[n].detail = "certificate has expired";
        }
        rows[n++].group = "edge";
    }
    for (size_t i = 0; i < n; i++) {
        rec[i] = (struct tp_recent){.lat = lat[i], .cap = TP_STATUS_SAMPLES,
                                    .n = TP_STATUS_SAMPLES};
        for (int k = 0; k < TP_STATUS_SAMPLES; k++) {
            double base = rows[i].kind[0] == 'h' ? 0.030 : rows[i].kind[0] == 't' ? 0.012 : 0.0009;
            lat[i][k] = (float)(base * (1 + 0.25 * sin((double)(k + (int)i) / 4.0) +
                                        0.15 * ((k * 7 + (int)i) % 5) / 4.0));
            if (rows[i].state == TP_DOWN && k >= TP_STATUS_SAMPLES - 4)
                lat[i][k] = -1;
        }
        if (rows[i].state == TP_UNKNOWN)
            rec[i].n = 0;
        rows[i].recent = &rec[i];
    }
    v.nrows = n;
    page = render(&v, &len);
    cr_expect_eq(count(page, "data-target="), (int)n);
    cr_expect_eq(count(page, "<li class=\"row\""), 3 + 3 + 1, "edge: its down one in full");
    at(page, "<details data-folded=\"79\">");
    if (out) {
        FILE *f = fopen(out, "w");
        cr_assert_not_null(f, "%s: %s", out, strerror(errno));
        fwrite(page, 1, len, f);
        cr_assert_eq(fclose(f), 0);
    }
    free(page);
}
