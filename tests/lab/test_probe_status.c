/* The status page (GET / of twkit probe --listen) in the lab, looked at
 * with Debian's headless Chromium as a person would.
 *
 * A real prober in the client namespace probes targets in the server
 * namespace: `twkit serve` (http and twp: up), a port nobody listens on
 * (refused: down), a conversation whose answer does not match (down), a
 * failing target with a failure_threshold it will not reach in the test
 * (unknown). Two of them carry markup: a target URL and an expect regex
 * (the failure's detail) with <script> in them. Chromium, in the client
 * namespace too, loads http://127.0.0.1:9464/ at 1280 and 390 px:
 * screenshots (PNG of that width), its DOM (--dump-dom: every row with its
 * data-state) and, through tests/lab/chromium_layout.py (the DevTools
 * protocol on a pipe: a phone's viewport, which --window-size cannot
 * make, and the document's own measure of itself), that nothing is wider
 * than the screen and no script came to life.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "probe_lab.h"
#include "twkit/time.h"

TestSuite(probe_status, .init = pl_setup, .fini = pl_teardown, .timeout = 180);

#define HOSTILE_URL "http://10.201.0.2:7072/?q=\"><script>alert(2)</script>"

static const struct {
    const char *probe, *target, *state;
    const char *json_target; /* as JSON.stringify writes it */
} want[] = {
    {"web", "http://10.201.0.2:8080/", "up", NULL},
    {"twp", "10.201.0.2:7070", "up", NULL},
    {"shop", "http://10.201.0.2:7072/", "down", NULL},
    {"shop", HOSTILE_URL, "down", "http://10.201.0.2:7072/?q=\\\"><script>alert(2)</script>"},
    {"banner", "10.201.0.2:8080", "down", NULL},
    {"flaky", "10.201.0.2:7073", "unknown", NULL},
};
#define NWANT (sizeof(want) / sizeof(want[0]))

static void start_prober(const char *extra)
{
    char cfg[256], log[256];

    spawn(TW_LAB_SERVER, "%s serve --proto http --listen 0.0.0.0:8080 >/dev/null 2>&1",
          TWKIT_BIN);
    wait_listening(TW_LAB_SERVER, 8080, "twkit serve --proto http");
    start_twp_server(7070);
    write_file("shop.txt", "http://10.201.0.2:7072/\n%s\n", HOSTILE_URL);
    write_file("st.yaml",
               "defaults: {interval: 500ms, timeout: 400ms}\n"
               "probes:\n"
               "  - {name: web, kind: http, target: 'http://10.201.0.2:8080/',\n"
               "     labels: {team: frontend}}\n"
               "  - {name: twp, kind: tcp, target: '10.201.0.2:7070', labels: {team: backend}}\n"
               "  - {name: shop, kind: http, targets_file: shop.txt, labels: {team: frontend}}\n"
               "  - name: banner\n"
               "    kind: tcp\n"
               "    target: '10.201.0.2:8080'\n"
               "    send: 'GET / HTTP/1.0\\r\\n\\r\\n'\n"
               "    expect: '<script>alert(1)</script>'\n"
               "    labels: {team: backend}\n"
               "  - {name: flaky, kind: tcp, target: '10.201.0.2:7073', failure_threshold: 1000}\n");
    spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 %s --log %s %s 2>&1", TWKIT_BIN,
          extra, tpath(log, sizeof(log), "st.log"), tpath(cfg, sizeof(cfg), "st.yaml"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
}

/* GET / until every target has its state (10 s at most); the page. */
static char *settled_page(void)
{
    uint64_t end = tw_now_ms() + 10000;
    char *page;

    for (;;) {
        page = fetch("http://127.0.0.1:9464/", "page.html");
        if ((count_of(page, "data-state=\"up\" data-probe") == 2 &&
             count_of(page, "data-state=\"down\" data-probe") == 3 &&
             count_of(page, "data-state=\"unknown\" data-probe") == 1) ||
            tw_now_ms() >= end)
            return page;
        usleep(100000);
    }
}

/* The width and height of a PNG file (asserts it is one). */
static void png_size(const char *name, unsigned *w, unsigned *h)
{
    char p[256];
    unsigned char b[24];
    FILE *f = fopen(tpath(p, sizeof(p), name), "rb");
    long size;

    cr_assert_not_null(f, "%s: %s", name, strerror(errno));
    cr_assert_eq(fread(b, 1, sizeof(b), f), sizeof(b), "%s: too short", name);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    cr_assert_eq(memcmp(b, "\x89PNG\r\n\x1a\n", 8), 0, "%s is not a PNG", name);
    cr_assert_eq(memcmp(b + 12, "IHDR", 4), 0);
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    /* a blank page is a few kB; this one has text, bars and badges */
    cr_assert_gt(size, 20000, "%s: %ld bytes, a blank page?", name, size);
}

/* Chromium in the client namespace, as root (no sandbox), a fresh
 * profile, bounded. */
static void chromium(const char *what, unsigned width, const char *out)
{
    char prof[256], o[256], err[256], name[64], errname[80];
    int rc;

    snprintf(name, sizeof(name), "prof-%s-%u", what, width);
    snprintf(errname, sizeof(errname), "%s.err", out);
    tpath(err, sizeof(err), errname);
    if (!strcmp(what, "shot"))
        rc = run(TW_LAB_CLIENT, 90000,
                 "chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                 "--user-data-dir=%s --window-size=%u,2000 --screenshot=%s "
                 "http://127.0.0.1:9464/ >%s 2>&1",
                 tpath(prof, sizeof(prof), name), width, tpath(o, sizeof(o), out), err);
    else
        rc = run(TW_LAB_CLIENT, 90000,
                 "chromium --headless --no-sandbox --disable-gpu --user-data-dir=%s "
                 "--window-size=%u,2000 --dump-dom http://127.0.0.1:9464/ >%s 2>%s",
                 tpath(prof, sizeof(prof), name), width, tpath(o, sizeof(o), out), err);
    cr_assert_eq(rc, 0, "chromium %s at %u px: exit %d: %s", what, width, rc, slurp(errname));
}

/* The page laid out in a viewport width px wide (a phone's below 500 px):
 * the document's widths and its rows, as chromium_layout.py prints them. */
static char *layout(unsigned width)
{
    char prof[256], o[256], err[256], name[64], out[64];
    int rc;

    snprintf(name, sizeof(name), "prof-layout-%u", width);
    snprintf(out, sizeof(out), "layout-%u.json", width);
    rc = run(TW_LAB_CLIENT, 90000, "/usr/bin/python3 %s http://127.0.0.1:9464/ %u 844 %s >%s 2>%s",
             CHROMIUM_LAYOUT_PY, width, tpath(prof, sizeof(prof), name),
             tpath(o, sizeof(o), out), tpath(err, sizeof(err), "layout.err"));
    cr_assert_eq(rc, 0, "chromium_layout.py at %u px: exit %d: %s", width, rc,
                 slurp("layout.err"));
    return slurp(out);
}

static void check_layout(const char *lay, unsigned width)
{
    double sw, cw, iw, scripts;
    int rows = 0;

    cr_assert(jnum(lay, "scrollWidth", &sw) && jnum(lay, "clientWidth", &cw) &&
              jnum(lay, "innerWidth", &iw) && jnum(lay, "scripts", &scripts), "%s", lay);
    /* the viewport; less a desktop's vertical scroll bar (a phone's
     * overlays the page) */
    cr_expect_eq(iw, width, "the viewport is %u px: %s", width, lay);
    cr_expect(cw <= width && cw > width - 20, "%u px: clientWidth %.0f: %s", width, cw, lay);
    if (width < 500)
        cr_expect_eq(cw, width, "a phone's scroll bar takes no room: %s", lay);
    cr_expect_leq(sw, cw, "%u px: the page scrolls sideways (scrollWidth %.0f > %.0f): %s",
                  width, sw, cw, lay);
    cr_expect_eq(scripts, 0, "a script element came to life: %s", lay);
    for (const char *p = lay; (p = strstr(p, "\"right\":")); p += 8) {
        double right = strtod(p + 8, NULL);
        cr_expect_leq(right, cw, "%u px: a row ends at %.0f px", width, right);
        rows++;
    }
    cr_expect_eq(rows, (int)NWANT, "%s", lay);
    for (size_t i = 0; i < NWANT; i++) {
        char row[512];
        snprintf(row, sizeof(row), "{\"probe\":\"%s\",\"target\":\"%s\",\"state\":\"%s\"",
                 want[i].probe, want[i].json_target ? want[i].json_target : want[i].target,
                 want[i].state);
        cr_expect_not_null(strstr(lay, row), "%u px: no %s in %s", width, row, lay);
    }
}

Test(probe_status, chromium_shows_every_probe_with_its_state_at_1280_and_390_px)
{
    char hdr[256], valid[256], opts[300];
    const char *page, *dom, *h;
    unsigned w, ht;
    int rc;

    NEED_ROOT();
    cr_assert_eq(access("/usr/bin/chromium", X_OK), 0,
                 "chromium is not installed (scripts/deps.sh installs it)");
    start_prober("--status-group team --status-refresh 7s");
    page = settled_page();
    cr_assert_eq(count_of(page, "data-probe="), (int)NWANT, "%s", page);
    cr_assert_eq(count_of(page, "data-state=\"up\" data-probe"), 2, "%s", slurp("st.log"));
    cr_assert_eq(count_of(page, "data-state=\"down\" data-probe"), 3, "%s", slurp("st.log"));
    cr_assert_eq(count_of(page, "data-state=\"unknown\" data-probe"), 1);

    /* as served: HTML, gzip for a browser, nothing to fetch, no script */
    snprintf(opts, sizeof(opts), "--compressed -D %s", tpath(hdr, sizeof(hdr), "hdr.txt"));
    fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9464/", opts, "gz.html");
    h = slurp("hdr.txt");
    cr_expect_not_null(strstr(h, "Content-Type: text/html; charset=utf-8\r\n"), "%s", h);
    cr_expect_not_null(strstr(h, "Content-Encoding: gzip\r\n"), "%s", h);
    cr_expect_not_null(strstr(page, "<meta http-equiv=\"refresh\" content=\"7\">"));
    cr_expect_not_null(
        strstr(page, "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"));
    cr_expect_eq(count_of(page, "<script"), 0, "markup from a target came through: %s", page);
    cr_expect_eq(count_of(page, " src="), 0);
    cr_expect_eq(count_of(page, "<link"), 0);
    cr_expect_not_null(strstr(page, "data-target=\"http://10.201.0.2:7072/?q=&quot;&gt;&lt;"
                                    "script&gt;alert(2)&lt;/script&gt;\""));
    cr_expect_not_null(strstr(page, "do not match /&lt;script&gt;alert(1)&lt;/script&gt;/"),
                       "banner's detail: %s", page);
    cr_expect_not_null(strstr(page, "<span>team: backend</span>"));
    cr_expect_not_null(strstr(page, "<span>team: <i>none</i></span>"), "flaky has no team");
    cr_expect_not_null(strstr(page, "id=\"no-history\""));
    /* HTML5 as its parsing algorithm reads it: html5lib, strict, stops at
     * the first parse error */
    rc = run(PL_HERE, 30000,
             "/usr/bin/python3 -c 'import html5lib,sys; html5lib.HTMLParser(strict=True)"
             ".parse(open(sys.argv[1],\"rb\"), transport_encoding=\"utf-8\")' %s >%s 2>&1",
             tpath(hdr, sizeof(hdr), "page.html"), tpath(valid, sizeof(valid), "valid.txt"));
    cr_expect_eq(rc, 0, "not HTML5 (html5lib, strict): %s", slurp("valid.txt"));

    /* Chromium: screenshots at both widths */
    chromium("shot", 1280, "shot-1280.png");
    png_size("shot-1280.png", &w, &ht);
    cr_expect_eq(w, 1280);
    cr_expect_eq(ht, 2000);
    chromium("shot", 390, "shot-390.png");
    png_size("shot-390.png", &w, &ht);
    cr_expect_eq(w, 390);
    cr_expect_eq(ht, 2000);

    /* its DOM: every row, with its state */
    chromium("dom", 1280, "dom.html");
    dom = slurp("dom.html");
    cr_assert_not_null(strstr(dom, "</html>"), "%s", dom);
    cr_expect_eq(count_of(dom, "data-probe="), (int)NWANT, "%s", dom);
    for (size_t i = 0; i < NWANT; i++) {
        char row[512];
        if (want[i].json_target) /* markup: checked through the layout's JSON */
            continue;
        snprintf(row, sizeof(row), "data-state=\"%s\" data-probe=\"%s\" data-target=\"%s\"",
                 want[i].state, want[i].probe, want[i].target);
        cr_expect_not_null(strstr(dom, row), "no %s in the DOM", row);
    }

    /* laid out: nothing wider than the screen, on a phone and a desktop;
     * each row's state and target as the DOM holds them (unescaped) */
    check_layout(layout(390), 390);
    check_layout(layout(1280), 1280);

    if (getenv("TW_STATUS_SHOTS")) { /* to look at them: where they were */
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "cp %s/shot-1280.png %s/shot-390.png '%s'", tmpdir, tmpdir,
                 getenv("TW_STATUS_SHOTS"));
        cr_expect_eq(system(cmd), 0);
    }
}

/* A reload keeps when each unchanged target's state began (the page's
 * "since"), and a new target is unknown since the reload. */
Test(probe_status, a_reload_keeps_since_when_a_state_holds)
{
    char cfg[256], log[256], before[128], after[128];
    const char *page, *p;
    pid_t prober;

    NEED_ROOT();
    start_twp_server(7070);
    write_file("rl.yaml", "probes:\n"
                          "  - {name: twp, kind: tcp, target: '10.201.0.2:7070', interval: 200ms,"
                          " timeout: 200ms}\n");
    prober = spawn(TW_LAB_CLIENT, "%s probe --listen 127.0.0.1:9464 --log %s %s 2>&1", TWKIT_BIN,
                   tpath(log, sizeof(log), "rl.log"), tpath(cfg, sizeof(cfg), "rl.yaml"));
    wait_listening(TW_LAB_CLIENT, 9464, "twkit probe --listen");
    cr_assert_eq(wait_for("rl.log", "\"state\":\"up\"", 1, 5000), 1, "%s", slurp("rl.log"));
    page = fetch("http://127.0.0.1:9464/", "rl1.html");
    p = strstr(page, "title=\"up since ");
    cr_assert_not_null(p, "%s", page);
    snprintf(before, sizeof(before), "%.40s", p);
    sleep(1); /* a second later: a new start would show */
    write_file("rl.yaml", "probes:\n"
                          "  - {name: twp, kind: tcp, target: '10.201.0.2:7070', interval: 200ms,"
                          " timeout: 200ms}\n"
                          "  - {name: new, kind: tcp, target: '10.201.0.2:7074',"
                          " failure_threshold: 1000}\n");
    kill(prober, SIGHUP);
    cr_assert_eq(wait_for("rl.log", "\"event\":\"reload\"", 1, 5000), 1);
    page = fetch("http://127.0.0.1:9464/", "rl2.html");
    p = strstr(page, "title=\"up since ");
    cr_assert_not_null(p, "%s", page);
    snprintf(after, sizeof(after), "%.40s", p);
    cr_expect_str_eq(after, before, "the reload reset when twp went up");
    cr_expect_not_null(strstr(page, "data-state=\"unknown\" data-probe=\"new\""), "%s", page);
    cr_expect_not_null(strstr(page, "title=\"unknown since "), "%s", page);
}

/* /probe alone (no CONFIG): / lists the endpoints. */
Test(probe_status, blackbox_alone_lists_the_endpoints)
{
    char bb[256], err[256];
    const char *page, *h;

    NEED_ROOT();
    write_file("bb.yml", "modules:\n  tcp_connect:\n    prober: tcp\n");
    spawn(TW_LAB_CLIENT, "%s probe --blackbox-config %s --listen 127.0.0.1:9116 >%s 2>&1",
          TWKIT_BIN, tpath(bb, sizeof(bb), "bb.yml"), tpath(err, sizeof(err), "bb.err"));
    wait_listening(TW_LAB_CLIENT, 9116, "twkit probe --blackbox-config");
    char opts[300], hdr[256];
    snprintf(opts, sizeof(opts), "-D %s", tpath(hdr, sizeof(hdr), "bbhdr.txt"));
    page = fetch_from(TW_LAB_CLIENT, "http://127.0.0.1:9116/", opts, "bb.html");
    h = slurp("bbhdr.txt");
    cr_expect_not_null(strstr(h, "HTTP/1.1 200"), "%s", h);
    cr_expect_not_null(strstr(h, "Content-Type: text/html; charset=utf-8\r\n"), "%s", h);
    cr_expect_eq(strncmp(page, "<!DOCTYPE html>", 15), 0, "%s", page);
    cr_expect_not_null(strstr(page, "/probe?target=T&amp;module=M"), "%s", page);
    cr_expect_not_null(strstr(page, "<a href=\"/metrics\">/metrics</a>"), "%s", page);
    cr_expect_eq(count_of(page, "data-probe="), 0);
}
