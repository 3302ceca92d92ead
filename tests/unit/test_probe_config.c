/* The twkit probe configuration loader: real YAML files in a fresh
 * directory, the structures they load into, and the exact error lines for
 * every kind of mistake; plus tp_target_parse over good and bad targets of
 * each kind. Each test runs in its own temporary directory (its working
 * directory while it runs), so messages name files as "x.yaml:L:C". */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tmpcwd.h"
#include "probe/engine.h"
#include "probe/kind_dns.h"
#include "probe/kind_http.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "probe/shard.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define under_valgrind() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef under_valgrind
#define under_valgrind() false
#endif

static void setup(void) { ut_cwd_enter("tp_config"); }
static void teardown(void) { ut_cwd_leave(); }

TestSuite(probe_config, .init = setup, .fini = teardown, .timeout = 60);

/* Load name; *errs gets everything printed (caller frees). */
static int load(const char *name, struct tp_config *cfg, char **errs)
{
    size_t len;
    FILE *f = open_memstream(errs, &len);
    int rc;

    cr_assert_not_null(f);
    memset(cfg, 0xa5, sizeof(*cfg)); /* the loader must not rely on a zeroed struct */
    rc = tp_config_load(name, cfg, f);
    fclose(f);
    return rc;
}

/* Loads without any error and returns the config. */
static void load_ok(const char *name, struct tp_config *cfg)
{
    char *errs;
    int rc = load(name, cfg, &errs);

    cr_expect_str_eq(errs, "", "errors:\n%s", errs);
    free(errs);
    cr_assert_eq(rc, 0, "rc %d", rc);
}

static bool is_zero(const struct tp_config *cfg)
{
    static const struct tp_config zero;
    return !memcmp(cfg, &zero, sizeof(zero));
}

/* Expects exactly the lines in want (each ending in \n) and as many
 * errors as lines; the config must be left empty. */
static void load_fails(const char *name, const char *want)
{
    struct tp_config cfg;
    char *errs;
    int rc = load(name, &cfg, &errs);
    int lines = 0;

    for (const char *p = want; *p; p++)
        lines += *p == '\n';
    cr_expect_str_eq(errs, want, "got:\n%s\nwant:\n%s", errs, want);
    free(errs);
    cr_assert_eq(rc, lines, "rc %d for %d lines", rc, lines);
    cr_assert(is_zero(&cfg), "config not left empty");
}

/* A config of one probe: the head lines and then body, indented as the
 * keys of the probe (lines 2.. of the file: "probes:" is line 1). */
static void put_probe(const char *name, const char *keys)
{
    char *text;

    cr_assert_geq(asprintf(&text, "probes:\n  - %s", keys), 0);
    ut_put(name, text);
    free(text);
}

/* The options of d's kind, or all zero when d is of another kind. */
static const struct tp_tcp_opts *tcp(const struct tp_def *d)
{
    static const struct tp_tcp_opts none;

    return d->kind == tp_kind_find("tcp") ? d->opts : &none;
}

static const struct tp_http_opts *http(const struct tp_def *d)
{
    static const struct tp_http_opts none;

    return d->kind == tp_kind_find("http") ? d->opts : &none;
}

static const struct tp_tls_opts *tls(const struct tp_def *d)
{
    static const struct tp_tls_opts none;

    return d->kind == tp_kind_find("tls") ? d->opts : &none;
}

static const struct tp_def *def_named(const struct tp_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ndefs; i++)
        if (cfg->defs[i].name && !strcmp(cfg->defs[i].name, name))
            return &cfg->defs[i];
    cr_assert_fail("no probe %s", name);
    return NULL;
}

static const char *label(const struct tp_def *d, const char *key)
{
    for (size_t i = 0; i < d->nlabels; i++)
        if (!strcmp(d->labels[i].key, key))
            return d->labels[i].value;
    return NULL;
}

static const char *const example =
    "defaults:\n"
    "  interval: 5s\n"
    "  timeout: 2s\n"
    "probes:\n"
    "  - name: api\n"
    "    kind: http\n"
    "    target: https://127.0.0.1:8443/health\n"
    "    expect_status: [200-299]\n"
    "  - name: db\n"
    "    kind: tcp\n"
    "    target: 127.0.0.1:5432\n"
    "  - name: edge\n"
    "    kind: tcp\n"
    "    targets_file: edge-targets.txt\n";

Test(probe_config, example_loads)
{
    struct tp_config cfg;
    const struct tp_def *d;

    ut_put("x.yaml", example);
    ut_put("edge-targets.txt", "# edge nodes\n"
                            "edge1.example.net:443\n"
                            "\n"
                            "   10.0.0.7:8080   \n"
                            "\t# commented out: 10.0.0.8:8080\n"
                            "[2001:db8::7]:443\r\n");
    load_ok("x.yaml", &cfg);
    cr_assert_str_eq(cfg.path, "x.yaml");
    cr_assert_eq(cfg.ndefs, 3);
    cr_assert_eq(cfg.ntargets, 5);

    d = &cfg.defs[0];
    cr_assert_str_eq(d->name, "api");
    cr_assert_eq(d->kind, tp_kind_find("http"));
    cr_assert_eq(d->ntargets, 1);
    cr_assert_str_eq(d->targets[0], "https://127.0.0.1:8443/health");
    cr_assert_eq(d->interval_ms, 5000);
    cr_assert_eq(d->timeout_ms, 2000);
    cr_assert_eq(d->success_threshold, 1);
    cr_assert_eq(d->failure_threshold, 1);
    cr_assert_eq(d->nlabels, 0);
    cr_assert_not(d->graceful);
    cr_assert_str_eq(http(d)->method, "GET");
    cr_assert_eq(http(d)->nstatus, 1);
    cr_assert_eq(http(d)->status[0].lo, 200);
    cr_assert_eq(http(d)->status[0].hi, 299);
    cr_assert_eq(http(d)->nheaders, 0);
    cr_assert_null(http(d)->body);
    cr_assert_null(http(d)->expect_body.text);
    cr_assert_eq(http(d)->max_redirects, 10, "blackbox's default: follow up to 10");
    cr_assert(http(d)->follow);
    cr_assert(http(d)->http2);
    cr_assert(d->tls_verify);
    cr_assert_null(d->ca_file);
    cr_assert_null(tls(d)->server_name);
    cr_assert_eq(d->line, 5);
    cr_assert_eq(d->col, 5);

    d = &cfg.defs[1];
    cr_assert_str_eq(d->name, "db");
    cr_assert_eq(d->kind, tp_kind_find("tcp"));
    cr_assert_eq(d->ntargets, 1);
    cr_assert_str_eq(d->targets[0], "127.0.0.1:5432");
    cr_assert_null(tcp(d)->send);
    cr_assert_eq(tcp(d)->send_len, 0);
    cr_assert_null(tcp(d)->expect.text);
    cr_assert_null(http(d)->method);
    cr_assert_eq(http(d)->nstatus, 0);
    cr_assert_eq(d->line, 9);
    cr_assert_eq(d->col, 5);

    d = &cfg.defs[2];
    cr_assert_str_eq(d->name, "edge");
    cr_assert_eq(d->kind, tp_kind_find("tcp"));
    cr_assert_eq(d->ntargets, 3);
    cr_assert_str_eq(d->targets[0], "edge1.example.net:443");
    cr_assert_str_eq(d->targets[1], "10.0.0.7:8080");
    cr_assert_str_eq(d->targets[2], "[2001:db8::7]:443");
    cr_assert_eq(d->interval_ms, 5000);
    cr_assert_eq(d->line, 12);

    tp_config_free(&cfg);
    cr_assert(is_zero(&cfg));
    tp_config_free(&cfg); /* twice is harmless */
}

Test(probe_config, builtin_defaults_without_defaults_section)
{
    struct tp_config cfg;

    put_probe("x.yaml", "name: a\n"
                        "    kind: tls\n"
                        "    target: example.com\n");
    load_ok("x.yaml", &cfg);
    cr_assert_eq(cfg.defs[0].interval_ms, 5000);
    cr_assert_eq(cfg.defs[0].timeout_ms, 2000);
    cr_assert_eq(cfg.defs[0].success_threshold, 1);
    cr_assert_eq(cfg.defs[0].failure_threshold, 1);
    cr_assert(cfg.defs[0].tls_verify);
    cr_assert_not(cfg.defs[0].graceful);
    cr_assert_null(http(&cfg.defs[0])->method);
    tp_config_free(&cfg);
}

/* tls_resumption is one setting of the kinds that resume sessions (tls,
 * http, tcp, dns): in a probe or in defaults, off and 60 s by default,
 * refused on the kind that makes no TLS handshake (icmp) */
Test(probe_config, tls_resumption_from_defaults_and_per_probe)
{
    struct tp_config cfg;

    ut_put("x.yaml", "defaults: {tls_resumption: true, tls_full_handshake_every: 5s}\n"
                     "probes:\n"
                     "  - {name: a, kind: tls, target: h}\n"
                     "  - {name: b, kind: http, target: 'https://h/', tls_resumption: false}\n"
                     "  - {name: c, kind: icmp, target: h}\n"
                     "  - {name: d, kind: http, target: 'https://h/', tls_full_handshake_every: 2m}\n"
                     "  - {name: e, kind: tcp, target: 'h:1', tls: true}\n"
                     "  - {name: f, kind: dns, target: h, query_name: x, transport_protocol: tcp,\n"
                     "     dns_over_tls: true, tls_full_handshake_every: 3s}\n");
    load_ok("x.yaml", &cfg);
    cr_assert(cfg.defs[4].tls_resumption, "tcp's tls: true resumes too");
    cr_assert(cfg.defs[5].tls_resumption, "so does DNS over TLS");
    cr_assert_eq(cfg.defs[5].tls_full_every_ms, 3000);
    cr_assert(cfg.defs[0].tls_resumption);
    cr_assert_eq(cfg.defs[0].tls_full_every_ms, 5000);
    cr_assert_not(cfg.defs[1].tls_resumption, "the probe's own key wins");
    cr_assert(cfg.defs[3].tls_resumption);
    cr_assert_eq(cfg.defs[3].tls_full_every_ms, 120000);
    tp_config_free(&cfg);
    put_probe("x.yaml", "name: a\n"
                        "    kind: http\n"
                        "    target: https://h/\n");
    load_ok("x.yaml", &cfg);
    cr_assert_not(cfg.defs[0].tls_resumption);
    cr_assert_eq(cfg.defs[0].tls_full_every_ms, 60000);
    tp_config_free(&cfg);
    ut_put("x.yaml", "probes:\n"
                     "  - {name: a, kind: icmp, target: 'h', tls_resumption: true}\n"
                     "  - {name: b, kind: tls, target: h, tls_full_handshake_every: 0s}\n");
    load_fails("x.yaml", "x.yaml:2:40: tls_resumption applies to tcp, http, tls and dns probes only\n"
                         "x.yaml:3:63: bad tls_full_handshake_every \"0s\": must be more than 0\n");
}

/* A kind's table declared with a count (tp_http_keys[TP_HTTP_NKEYS]) pads
 * with empty rows when a key is taken out and the count is not. */
Test(probe_config, every_key_of_every_kind_has_a_name)
{
    for (size_t i = 0; i < TP_NCOMMON; i++)
        cr_assert(tp_common_keys[i].name, "common key %zu has no name", i);
    for (size_t j = 0; j < tp_nkinds; j++)
        for (size_t i = 0; i < tp_kinds[j]->nkeys; i++)
            cr_assert(tp_kinds[j]->keys[i].name, "%s key %zu of %zu has no name",
                      tp_kinds[j]->name, i, tp_kinds[j]->nkeys);
}

Test(probe_config, free_is_safe_on_zero)
{
    struct tp_config cfg = {0};

    tp_config_free(&cfg);
    tp_config_free(&cfg);
    tp_config_free(NULL);
    cr_assert(is_zero(&cfg));
}

Test(probe_config, missing_config_file)
{
    struct tp_config cfg;
    char *errs;

    cr_assert_eq(load("nope.yaml", &cfg, &errs), -ENOENT);
    cr_assert_str_eq(errs, "nope.yaml: No such file or directory\n");
    cr_assert(is_zero(&cfg));
    free(errs);
    mkdir("adir", 0700);
    cr_assert_eq(load("adir", &cfg, &errs), -EISDIR);
    cr_assert_str_eq(errs, "adir: Is a directory\n");
    free(errs);
}

Test(probe_config, durations)
{
    struct tp_config cfg;

    ut_put("x.yaml", "probes:\n"
                  "  - {name: a, kind: tcp, target: 'h:1', interval: 500ms, timeout: 250ms}\n"
                  "  - {name: b, kind: tcp, target: 'h:1', interval: 2, timeout: 1.5}\n"
                  "  - {name: c, kind: tcp, target: 'h:1', interval: 1m, timeout: 1m}\n"
                  "  - {name: d, kind: tcp, target: 'h:1', interval: 10ms, timeout: 1us}\n"
                  "  - {name: e, kind: tcp, target: 'h:1', interval: 1h}\n"
                  "  - {name: f, kind: tcp, target: 'h:1', interval: 1s}\n"
                  "  - {name: g, kind: tcp, target: 'h:1', interval: 300ms}\n");
    load_ok("x.yaml", &cfg);
    cr_assert_eq(cfg.defs[0].interval_ms, 500);
    cr_assert_eq(cfg.defs[0].timeout_ms, 250);
    cr_assert_eq(cfg.defs[1].interval_ms, 2000);
    cr_assert_eq(cfg.defs[1].timeout_ms, 1500);
    cr_assert_eq(cfg.defs[2].interval_ms, 60000);
    cr_assert_eq(cfg.defs[2].timeout_ms, 60000); /* equal is allowed */
    cr_assert_eq(cfg.defs[3].interval_ms, 10);
    cr_assert_eq(cfg.defs[3].timeout_ms, 1);
    cr_assert_eq(cfg.defs[4].interval_ms, 3600000);
    cr_assert_eq(cfg.defs[4].timeout_ms, 2000);
    /* no timeout anywhere: 2 s, or the interval if shorter */
    cr_assert_eq(cfg.defs[5].timeout_ms, 1000);
    cr_assert_eq(cfg.defs[6].timeout_ms, 300);
    tp_config_free(&cfg);
}

Test(probe_config, bad_durations)
{
    ut_put("x.yaml", "defaults:\n"
                  "  interval: 5x\n"
                  "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    interval: 9ms\n"
                  "    timeout: 0\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    interval: -1s\n"
                  "    timeout: 100000h\n"
                  "  - name: c\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    interval: [1s]\n"
                  "    timeout:\n");
    load_fails("x.yaml",
               "x.yaml:2:13: bad interval \"5x\": expected a duration like 5s or 500ms\n"
               "x.yaml:7:15: bad interval \"9ms\": must be at least 10ms\n"
               "x.yaml:8:14: bad timeout \"0\": must be more than 0\n"
               "x.yaml:12:15: bad interval \"-1s\": expected a duration like 5s or 500ms\n"
               "x.yaml:13:14: bad timeout \"100000h\": too long\n"
               "x.yaml:17:15: interval must be a duration like 5s or 500ms, not a sequence\n"
               "x.yaml:18:13: timeout has no value (expected a duration like 5s or 500ms)\n");
}

Test(probe_config, thresholds)
{
    struct tp_config cfg;

    ut_put("x.yaml", "defaults:\n"
                  "  success_threshold: 2\n"
                  "  failure_threshold: 3\n"
                  "probes:\n"
                  "  - {name: a, kind: tcp, target: 'h:1'}\n"
                  "  - {name: b, kind: tcp, target: 'h:1', success_threshold: 1000,"
                  " failure_threshold: '1'}\n");
    load_ok("x.yaml", &cfg);
    cr_assert_eq(cfg.defs[0].success_threshold, 2);
    cr_assert_eq(cfg.defs[0].failure_threshold, 3);
    cr_assert_eq(cfg.defs[1].success_threshold, 1000);
    cr_assert_eq(cfg.defs[1].failure_threshold, 1);
    tp_config_free(&cfg);

    ut_put("y.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    success_threshold: 0\n"
                  "    failure_threshold: 1001\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    success_threshold: 2.5\n"
                  "    failure_threshold: -1\n"
                  "  - name: c\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    max_redirects: 21\n");
    load_fails("y.yaml",
               "y.yaml:5:24: bad success_threshold \"0\": expected an integer from 1 to 1000\n"
               "y.yaml:6:24: bad failure_threshold \"1001\": expected an integer from 1 to 1000\n"
               "y.yaml:10:24: bad success_threshold \"2.5\": expected an integer from 1 to 1000\n"
               "y.yaml:11:24: bad failure_threshold \"-1\": expected an integer from 1 to 1000\n"
               "y.yaml:15:20: bad max_redirects \"21\": expected an integer from 0 to 20\n");
}

Test(probe_config, labels_merge)
{
    struct tp_config cfg;
    const struct tp_def *a, *b;

    ut_put("x.yaml", "defaults:\n"
                  "  labels: {env: prod, team: core}\n"
                  "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    labels:\n"
                  "      team: edge\n"
                  "      tier: web\n"
                  "      _x: \"\"\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    target: h:1\n");
    load_ok("x.yaml", &cfg);
    a = def_named(&cfg, "a");
    b = def_named(&cfg, "b");
    cr_assert_eq(a->nlabels, 4);
    cr_assert_str_eq(a->labels[0].key, "env");
    cr_assert_str_eq(label(a, "env"), "prod");
    cr_assert_str_eq(label(a, "team"), "edge");
    cr_assert_str_eq(label(a, "tier"), "web");
    cr_assert_str_eq(label(a, "_x"), "");
    cr_assert_eq(b->nlabels, 2);
    cr_assert_str_eq(label(b, "env"), "prod");
    cr_assert_str_eq(label(b, "team"), "core");
    tp_config_free(&cfg);
}

Test(probe_config, bad_labels)
{
    ut_put("x.yaml", "defaults:\n"
                  "  labels: {target: x}\n"
                  "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    labels:\n"
                  "      name: x\n"
                  "      kind: x\n"
                  "      phase: x\n"
                  "      errno: x\n"
                  "      __meta: x\n"
                  "      9lives: x\n"
                  "      a-b: x\n"
                  "      ok: x\n"
                  "      ok: y\n"
                  "      empty:\n"
                  "      deep: {a: b}\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    labels: [a]\n");
    load_fails("x.yaml",
               "x.yaml:2:12: bad label name \"target\": reserved (twkit sets name, kind, target, "
               "phase and errno itself)\n"
               "x.yaml:8:7: bad label name \"name\": reserved (twkit sets name, kind, target, "
               "phase and errno itself)\n"
               "x.yaml:9:7: bad label name \"kind\": reserved (twkit sets name, kind, target, "
               "phase and errno itself)\n"
               "x.yaml:10:7: bad label name \"phase\": reserved (twkit sets name, kind, target, "
               "phase and errno itself)\n"
               "x.yaml:11:7: bad label name \"errno\": reserved (twkit sets name, kind, target, "
               "phase and errno itself)\n"
               "x.yaml:12:7: bad label name \"__meta\": names starting with __ are reserved\n"
               "x.yaml:13:7: bad label name \"9lives\": expected letters, digits and _, not "
               "starting with a digit\n"
               "x.yaml:14:7: bad label name \"a-b\": expected letters, digits and _, not "
               "starting with a digit\n"
               "x.yaml:16:7: duplicate label name \"ok\" (first at line 15)\n"
               "x.yaml:17:13: label \"empty\" has no value\n"
               "x.yaml:18:13: label \"deep\" must be a string, not a mapping\n"
               "x.yaml:22:13: labels must be a mapping of names to values, not a sequence\n");
}

Test(probe_config, expect_status_forms)
{
    struct tp_config cfg;
    const struct tp_def *d;

    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    expect_status: [200, \"300-399\", 400-404, '418']\n"
                  "  - name: b\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    expect_status: 204\n"
                  "  - name: c\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    expect_status:\n"
                  "      - 100-599\n"
                  "  - name: d\n"
                  "    kind: http\n"
                  "    target: http://h/\n");
    load_ok("x.yaml", &cfg);
    d = def_named(&cfg, "a");
    cr_assert_eq(http(d)->nstatus, 4);
    cr_assert_eq(http(d)->status[0].lo, 200);
    cr_assert_eq(http(d)->status[0].hi, 200);
    cr_assert_eq(http(d)->status[1].lo, 300);
    cr_assert_eq(http(d)->status[1].hi, 399);
    cr_assert_eq(http(d)->status[2].lo, 400);
    cr_assert_eq(http(d)->status[2].hi, 404);
    cr_assert_eq(http(d)->status[3].lo, 418);
    cr_assert_eq(http(d)->status[3].hi, 418);
    d = def_named(&cfg, "b");
    cr_assert_eq(http(d)->nstatus, 1);
    cr_assert_eq(http(d)->status[0].lo, 204);
    cr_assert_eq(http(d)->status[0].hi, 204);
    d = def_named(&cfg, "c");
    cr_assert_eq(http(d)->nstatus, 1);
    cr_assert_eq(http(d)->status[0].lo, 100);
    cr_assert_eq(http(d)->status[0].hi, 599);
    d = def_named(&cfg, "d");
    cr_assert_eq(http(d)->nstatus, 1);
    cr_assert_eq(http(d)->status[0].lo, 200);
    cr_assert_eq(http(d)->status[0].hi, 299);
    tp_config_free(&cfg);

    ut_put("y.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    expect_status: [99, 600, 300-200, abc, 200-, 2xx, 200-600, {a: 1}]\n"
                  "  - name: b\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    expect_status: []\n");
    load_fails("y.yaml",
               "y.yaml:5:21: bad expect_status \"99\": status codes are 100 to 599\n"
               "y.yaml:5:25: bad expect_status \"600\": status codes are 100 to 599\n"
               "y.yaml:5:30: bad expect_status \"300-200\": the range is backwards\n"
               "y.yaml:5:39: bad expect_status \"abc\": expected a status like 200 or a range "
               "like 200-299\n"
               "y.yaml:5:44: bad expect_status \"200-\": expected a status like 200 or a range "
               "like 200-299\n"
               "y.yaml:5:50: bad expect_status \"2xx\": expected a status like 200 or a range "
               "like 200-299\n"
               "y.yaml:5:55: bad expect_status \"200-600\": status codes are 100 to 599\n"
               "y.yaml:5:64: expect_status must be a status like 200 or a range like 200-299, "
               "not a mapping\n"
               "y.yaml:9:20: expect_status is empty\n");
}

Test(probe_config, tcp_options)
{
    struct tp_config cfg;
    const struct tp_def *d;

    ut_put("x.yaml", "defaults:\n"
                  "  close: graceful\n"
                  "  ca_file: ca.pem\n"
                  "  tls_verify: no\n"
                  "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    send: 'PING\\r\\n'\n"
                  "    expect: ^\\+PONG\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    send: 'a\\0b\\x41\\x7e\\t\\\\'\n"
                  "    close: reset\n"
                  "  - name: c\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    send: \"Y\\0Z\\r\\n\"\n");
    ut_put("ca.pem", "not really a certificate\n");
    load_ok("x.yaml", &cfg);
    d = def_named(&cfg, "a");
    cr_assert(d->graceful);
    /* tcp takes the TLS settings (tls: true, starttls) */
    cr_assert_str_eq(d->ca_file, "ca.pem");
    cr_assert_not(d->tls_verify);
    cr_assert_eq(tcp(d)->send_len, 6);
    cr_assert_eq(memcmp(tcp(d)->send, "PING\r\n", 6), 0);
    cr_assert_str_eq(tcp(d)->expect.text, "^\\+PONG");
    cr_assert(tp_regex_match(&tcp(d)->expect, "+PONG\r\n", 7));
    cr_assert_not(tp_regex_match(&tcp(d)->expect, "-ERR\r\n", 6));
    d = def_named(&cfg, "b");
    cr_assert_not(d->graceful);
    cr_assert_eq(tcp(d)->send_len, 7);
    cr_assert_eq(memcmp(tcp(d)->send, "a\0bA~\t\\", 7), 0);
    cr_assert_null(tcp(d)->expect.text);
    d = def_named(&cfg, "c"); /* YAML's own escapes, NUL included */
    cr_assert_eq(tcp(d)->send_len, 5);
    cr_assert_eq(memcmp(tcp(d)->send, "Y\0Z\r\n", 5), 0);
    tp_config_free(&cfg);

    ut_put("y.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    send: 'a\\qb'\n"
                  "    expect: 'a('\n"
                  "    close: soft\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    send: 'a\\x4'\n"
                  "    expect: ''\n"
                  "  - name: c\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    send: 'tail\\'\n"
                  "    expect: '[z-a]'\n");
    {
        static const char want[] =
            "y.yaml:5:11: bad escape \"\\q\" in send (use \\r \\n \\t \\\\ \\0 or \\xHH)\n"
            "y.yaml:6:13: bad expect regex \"a(\": missing closing parenthesis at offset 2\n"
            "y.yaml:7:12: bad close \"soft\": expected reset or graceful\n"
            "y.yaml:11:11: bad escape in send: \\x needs two hex digits\n"
            "y.yaml:12:13: expect is empty\n"
            "y.yaml:16:11: send ends with a lone backslash\n"
            "y.yaml:17:13: bad expect regex \"[z-a]\": range out of order in character class "
            "at offset 3\n";
        load_fails("y.yaml", want);
    }
}

/* blackbox_exporter's tcp keys: query_response steps as written (send
 * without twkit's escapes, expect compiled, starttls) and tls. */
Test(probe_config, tcp_query_response)
{
    struct tp_config cfg;
    const struct tp_def *d;
    const struct tp_tcp_opts *o;

    ut_put("x.yaml", "probes:\n"
                  "  - name: smtp\n"
                  "    kind: tcp\n"
                  "    target: h:25\n"
                  "    query_response:\n"
                  "      - expect: '^220 '\n"
                  "      - send: 'EHLO x\\r'\n"
                  "      - {expect: '^250 ', send: STARTTLS}\n"
                  "      - {expect: '', starttls: yes}\n"
                  "      - {}\n"
                  "  - name: tls\n"
                  "    kind: tcp\n"
                  "    target: h:993\n"
                  "    tls: true\n"
                  "    tls_verify: false\n"
                  "    query_response: [{send: \"a\\0b\"}]\n"
                  "  - name: none\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    query_response: []\n");
    load_ok("x.yaml", &cfg);
    d = def_named(&cfg, "smtp");
    o = tcp(d);
    cr_assert(o->query_response);
    cr_assert_not(o->tls);
    cr_assert(d->has_regex);
    cr_assert_eq(o->nsteps, 5);
    cr_assert_str_eq(o->steps[0].expect.text, "^220 ");
    cr_assert_null(o->steps[0].send);
    cr_assert_null(o->steps[1].expect.code);
    cr_assert_eq(o->steps[1].send_len, 8, "send is taken as written, no escapes decoded");
    cr_assert_eq(memcmp(o->steps[1].send, "EHLO x\\r", 8), 0);
    cr_assert_str_eq(o->steps[2].send, "STARTTLS");
    cr_assert(tp_regex_match(&o->steps[2].expect, "250 OK", 6));
    cr_assert_not_null(o->steps[3].expect.code, "an empty expect is one: any line");
    cr_assert(o->steps[3].starttls);
    cr_assert_eq(o->steps[3].starttls_line, 9);
    cr_assert_not(o->steps[4].starttls);
    cr_assert_null(o->steps[4].expect.code);
    cr_assert_null(o->send);
    d = def_named(&cfg, "tls");
    o = tcp(d);
    cr_assert(o->tls);
    cr_assert_not(d->tls_verify);
    cr_assert_not(d->has_regex);
    cr_assert_eq(o->nsteps, 1);
    cr_assert_eq(o->steps[0].send_len, 3);
    cr_assert_eq(memcmp(o->steps[0].send, "a\0b", 3), 0);
    d = def_named(&cfg, "none");
    cr_assert(tcp(d)->query_response);
    cr_assert_eq(tcp(d)->nsteps, 0);
    tp_config_free(&cfg);
}

Test(probe_config, tcp_query_response_errors)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    query_response:\n"
                  "      - exepct: x\n"
                  "        send: y\n"
                  "        sendd: z\n"
                  "        starttls: maybe\n"
                  "      - expect: 'a('\n"
                  "      - {send: [x], expect: {a: b}}\n"
                  "      - {send: , expect: ~}\n"
                  "      - plain\n"
                  "      - {send: a, send: b, bogus: 1}\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    send: x\n"
                  "    query_response: [{expect: x}]\n"
                  "  - name: c\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    query_response: [{expect: x}]\n"
                  "    expect: x\n"
                  "  - name: d\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    query_response: {expect: x}\n"
                  "  - name: e\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    tls: true\n"
                  "    query_response: [{starttls: true}]\n"
                  "  - name: f\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    query_response: [{starttls: true}, {starttls: true}]\n"
                  "  - name: g\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    query_response: [{starttls: true}]\n"
                  "    tls: yes\n");
    load_fails("x.yaml",
               "x.yaml:6:9: unknown key \"exepct\" in query_response step (did you mean "
               "expect?)\n"
               "x.yaml:8:9: unknown key \"sendd\" in query_response step (did you mean send?)\n"
               "x.yaml:9:19: bad starttls \"maybe\": expected true or false\n"
               "x.yaml:10:17: bad expect regex \"a(\": missing closing parenthesis at offset 2\n"
               "x.yaml:11:16: send must be a string, not a sequence\n"
               "x.yaml:11:29: expect must be a regular expression, not a mapping\n"
               "x.yaml:12:16: send has no value (expected a string)\n"
               "x.yaml:12:26: expect has no value (expected a regular expression)\n"
               "x.yaml:13:9: a query_response step must be a mapping of expect, send and "
               "starttls, not a single value\n"
               "x.yaml:14:19: duplicate key \"send\" in query_response step (first at line 14)\n"
               "x.yaml:14:28: unknown key \"bogus\" in query_response step (expected expect, send or starttls)\n"
               "x.yaml:19:21: query_response and send cannot both be set (line 18 has send; "
               "send and expect are a short form of query_response)\n"
               "x.yaml:24:13: expect and query_response cannot both be set (line 23 has "
               "query_response; send and expect are a short form of query_response)\n"
               "x.yaml:28:21: query_response must be a list of steps (mappings of expect, send "
               "and starttls), not a mapping\n"
               "x.yaml:33:33: starttls with tls: true: the connection is TLS already\n"
               "x.yaml:37:51: a second starttls (the first is at line 37): the connection is "
               "TLS already\n"
               "x.yaml:42:10: tls: true, but query_response has starttls (line 41): the "
               "connection would be TLS already\n");
}

Test(probe_config, http_and_tls_options)
{
    struct tp_config cfg;
    const struct tp_def *d;

    mkdir("certs", 0700);
    ut_put("certs/ca.pem", "pem\n");
    ut_put("x.yaml", "defaults:\n"
                  "  tls_verify: false\n"
                  "  ca_file: certs/ca.pem\n"
                  "probes:\n"
                  "  - name: web\n"
                  "    kind: http\n"
                  "    target: http://example.com/healthz?full=1\n"
                  "    method: HEAD\n"
                  "    headers:\n"
                  "      Host: internal.example.com\n"
                  "      X-Probe: \"twkit\"\n"
                  "      X-Empty: \"\"\n"
                  "    body: '{\"ping\": 1}'\n"
                  "    expect_body: '\"status\": *\"ok\"'\n"
                  "    max_redirects: 3\n"
                  "    tls_verify: yes\n"
                  "  - name: tls.front:1\n"
                  "    kind: tls\n"
                  "    target: '[::1]:8443'\n"
                  "    server_name: front.example.com\n"
                  "    ca_file: /dev/null\n");
    load_ok("x.yaml", &cfg);
    d = def_named(&cfg, "web");
    cr_assert_str_eq(http(d)->method, "HEAD");
    cr_assert_eq(http(d)->nheaders, 3);
    cr_assert_str_eq(http(d)->headers[0].key, "Host");
    cr_assert_str_eq(http(d)->headers[0].value, "internal.example.com");
    cr_assert_str_eq(http(d)->headers[1].key, "X-Probe");
    cr_assert_str_eq(http(d)->headers[1].value, "twkit");
    cr_assert_str_eq(http(d)->headers[2].value, "");
    cr_assert_str_eq(http(d)->body, "{\"ping\": 1}");
    cr_assert_str_eq(http(d)->expect_body.text, "\"status\": *\"ok\"");
    cr_assert(tp_regex_match(&http(d)->expect_body, "{\"status\":  \"ok\"}", 17));
    cr_assert_eq(http(d)->max_redirects, 3);
    cr_assert(d->tls_verify);
    cr_assert_str_eq(d->ca_file, "certs/ca.pem");
    cr_assert_null(tls(d)->server_name);
    d = def_named(&cfg, "tls.front:1");
    cr_assert_eq(d->kind, tp_kind_find("tls"));
    cr_assert_not(d->tls_verify, "tls_verify from defaults");
    cr_assert_str_eq(d->ca_file, "/dev/null");
    cr_assert_str_eq(tls(d)->server_name, "front.example.com");
    cr_assert_null(http(d)->method);
    tp_config_free(&cfg);

    ut_put("y.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    method: 'G T'\n"
                  "    headers:\n"
                  "      Host: a\n"
                  "      host: b\n"
                  "      'Bad Name': x\n"
                  "      X-Split: \"a\\r\\nEvil: 1\"\n"
                  "      X-None:\n"
                  "    tls_verify: maybe\n"
                  "    ca_file: missing.pem\n"
                  "    body:\n"
                  "  - name: b\n"
                  "    kind: tls\n"
                  "    target: h\n"
                  "    server_name: 10.0.0.1\n"
                  "    ca_file: certs\n");
    load_fails("y.yaml",
               "y.yaml:5:13: bad method \"G T\": expected an HTTP token like GET or HEAD\n"
               "y.yaml:8:7: duplicate header name \"host\" (first at line 7)\n"
               "y.yaml:9:7: bad header name \"Bad Name\": expected an HTTP token (letters, "
               "digits, !#$%&'*+-.^_`|~)\n"
               "y.yaml:10:16: header \"X-Split\" value contains a line break\n"
               "y.yaml:11:14: header \"X-None\" has no value (write \"\" for an empty one)\n"
               "y.yaml:12:17: bad tls_verify \"maybe\": expected true or false\n"
               "y.yaml:13:14: cannot read ca_file \"missing.pem\": No such file or directory\n"
               "y.yaml:14:10: body has no value (write \"\" for an empty one)\n"
               "y.yaml:18:18: bad server_name \"10.0.0.1\": expected a DNS name\n"
               "y.yaml:19:14: cannot read ca_file \"certs\": Is a directory\n");
}

Test(probe_config, booleans)
{
    static const struct { const char *text; bool v; } forms[] = {
        {"true", true}, {"True", true}, {"yes", true}, {"YES", true},
        {"false", false}, {"FALSE", false}, {"no", false}, {"No", false},
    };

    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct tp_config cfg;
        char *text;
        cr_assert_geq(asprintf(&text, "probes:\n  - {name: a, kind: tls, target: h, "
                                      "tls_verify: %s}\n", forms[i].text), 0);
        ut_put("x.yaml", text);
        free(text);
        load_ok("x.yaml", &cfg);
        cr_assert_eq(cfg.defs[0].tls_verify, forms[i].v, "%s", forms[i].text);
        tp_config_free(&cfg);
    }
}

Test(probe_config, error_unknown_kind)
{
    put_probe("x.yaml", "name: a\n"
                        "    kind: udp\n"
                        "    target: h:1\n");
    load_fails("x.yaml", "x.yaml:3:11: unknown kind \"udp\" (expected tcp, http, tls, dns or icmp)\n");
}

Test(probe_config, error_bad_interval)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    interval: 5x\n"
                  "    target: h:1\n");
    load_fails("x.yaml",
               "x.yaml:4:15: bad interval \"5x\": expected a duration like 5s or 500ms\n");
}

Test(probe_config, error_duplicate_name)
{
    ut_put("x.yaml", "probes:\n"
                  "  - kind: tcp\n"
                  "    target: h:1\n"
                  "    name: db\n"
                  "  - name: other\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "  - kind: tcp\n"
                  "    name: db\n"
                  "    target: h:1\n");
    load_fails("x.yaml", "x.yaml:9:11: duplicate probe name \"db\" (first defined at line 4)\n");
}

Test(probe_config, error_bad_probe_name)
{
    ut_put("x.yaml", "probes:\n"
                  "  - {name: 'a b', kind: tcp, target: 'h:1'}\n"
                  "  - {name: 'é', kind: tcp, target: 'h:1'}\n"
                  "  - {name: '', kind: tcp, target: 'h:1'}\n"
                  "  - {name: a.B_9:x-y, kind: tcp, target: 'h:1'}\n");
    load_fails("x.yaml",
               "x.yaml:2:12: bad probe name \"a b\": use letters, digits and _ . : -\n"
               "x.yaml:3:12: bad probe name \"\xc3\xa9\": use letters, digits and _ . : -\n"
               "x.yaml:4:12: bad probe name \"\": use letters, digits and _ . : -\n");
}

Test(probe_config, error_unreadable_targets_file)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    targets_file: edge.txt\n"
                  "  - name: b\n"
                  "    kind: tcp\n"
                  "    targets_file: sub\n"
                  "  - name: c\n"
                  "    kind: tcp\n"
                  "    targets_file: empty.txt\n");
    mkdir("sub", 0700);
    ut_put("empty.txt", "# nothing yet\n\n");
    load_fails("x.yaml",
               "x.yaml:4:19: cannot read targets file \"edge.txt\": No such file or directory\n"
               "x.yaml:7:19: cannot read targets file \"sub\": Is a directory\n");
}

/* An emptied service-discovery file is zero targets, not an error; a
 * comment may follow a target after a blank, and a URL keeps its '#'. */
Test(probe_config, targets_file_empty_is_zero_targets_and_comments_follow_targets)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: none\n"
                  "    kind: tcp\n"
                  "    targets_file: empty.txt\n"
                  "  - name: web\n"
                  "    kind: http\n"
                  "    targets_file: web.txt\n");
    ut_put("empty.txt", "# nothing yet\n\n");
    ut_put("web.txt", "http://a.example/#top   # the front page\n"
                   "http://b.example/\t#b\n");
    struct tp_config c;
    load_ok("x.yaml", &c);
    cr_assert_eq(c.defs[0].ntargets, 0);
    cr_assert_eq(c.defs[1].ntargets, 2);
    cr_assert_str_eq(c.defs[1].targets[0], "http://a.example/#top");
    cr_assert_str_eq(c.defs[1].targets[1], "http://b.example/");
    cr_assert_eq(c.ntargets, 2);
    tp_config_free(&c);
}

Test(probe_config, targets_file_lines_may_carry_labels_of_their_own)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: db\n"
                  "    kind: tcp\n"
                  "    labels: {team: core, env: prod}\n"
                  "    targets_file: db.txt\n");
    ut_put("db.txt", "10.0.0.1:5432  env=staging shard=a   # moved\n"
                  "10.0.0.2:5432\n"
                  "10.0.0.3:5432\tshard=\n");
    struct tp_config c;
    load_ok("x.yaml", &c);
    const struct tp_def *d = &c.defs[0];
    cr_assert_eq(d->ntargets, 3);
    cr_assert_str_eq(d->targets[0], "10.0.0.1:5432");
    cr_assert_eq(d->tlabels[0].n, 2);
    cr_assert_str_eq(d->tlabels[0].kv[0].key, "env");
    cr_assert_str_eq(d->tlabels[0].kv[0].value, "staging");
    cr_assert_str_eq(d->tlabels[0].kv[1].key, "shard");
    cr_assert_str_eq(d->tlabels[0].kv[1].value, "a");
    cr_assert_eq(d->tlabels[1].n, 0);
    cr_assert_str_eq(d->tlabels[2].kv[0].value, "");
    /* the line's labels over the probe's, rendered once for /metrics */
    char *l = tp_metrics_labels(d, d->targets[0], &d->tlabels[0]);
    cr_assert_str_eq(l, "name=\"db\",kind=\"tcp\",target=\"10.0.0.1:5432\",team=\"core\","
                        "env=\"staging\",shard=\"a\"");
    free(l);
    tp_config_free(&c);
    ut_put("db.txt", "h:1 env\n"
                  "h:2 9x=1\n"
                  "h:3 target=x\n"
                  "h:4 a=1 a=2\n");
    load_fails("x.yaml",
               "db.txt:1:5: \"env\" after the target is not a label (expected name=value)\n"
               "db.txt:2:5: bad label name \"9x\": expected letters, digits and _, not starting "
               "with a digit\n"
               "db.txt:3:5: bad label name \"target\": reserved (twkit sets name, kind, target, "
               "phase and errno itself)\n"
               "db.txt:4:9: label \"a\" given twice on one line\n");
}

Test(probe_config, error_bad_lines_in_targets_file)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    targets_file: edge.txt\n"
                  "  - name: b\n"
                  "    kind: http\n"
                  "    targets_file: urls.txt\n");
    ut_put("edge.txt", "h1:80\n"
                    "  h2\n"
                    "# fine\n"
                    "\th3:99999\n"
                    "h1:80\n"
                    "::1:80\n");
    ut_put("urls.txt", "https://a.example/\n"
                    "a.example\n");
    load_fails("x.yaml",
               "edge.txt:2:3: bad tcp target \"h2\": missing port (expected host:port)\n"
               "edge.txt:4:2: bad tcp target \"h3:99999\": bad port (expected 1 to 65535)\n"
               "edge.txt:5:1: duplicate target \"h1:80\" (first at line 1)\n"
               "edge.txt:6:1: bad tcp target \"::1:80\": an IPv6 address must be in brackets, "
               "e.g. [::1]:443\n"
               "urls.txt:2:1: bad http target \"a.example\": not an http:// or https:// URL\n");
}

Test(probe_config, targets_file_relative_to_config)
{
    struct tp_config cfg;
    char *errs, *abs;

    mkdir("conf", 0700);
    ut_put("conf/x.yaml", "probes:\n"
                       "  - name: a\n"
                       "    kind: tls\n"
                       "    targets_file: t.txt\n");
    ut_put("conf/t.txt", "a.example\nbad\x01host\n");
    cr_assert_eq(load("conf/x.yaml", &cfg, &errs), 1);
    cr_assert_str_eq(errs, "conf/t.txt:2:1: bad tls target \"bad\\x01host\": contains spaces or "
                           "control characters\n");
    free(errs);
    ut_put("conf/t.txt", "a.example\n[::1]\n");
    load_ok("conf/x.yaml", &cfg);
    cr_assert_eq(cfg.ntargets, 2);
    tp_config_free(&cfg);
    cr_assert_geq(asprintf(&abs, "%s/conf/x.yaml", ut_dir), 0);
    load_ok(abs, &cfg);
    cr_assert_eq(cfg.ntargets, 2);
    tp_config_free(&cfg);
    free(abs);
}

Test(probe_config, error_unknown_keys)
{
    ut_put("x.yaml", "defaults:\n"
                  "  intervall: 5s\n"
                  "  method: GET\n"
                  "  bogus: 1\n"
                  "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    tagret: h:1\n"
                  "    frobnicate: yes\n"
                  "    target: h:1\n"
                  "prob: []\n"
                  "extra: 1\n");
    load_fails("x.yaml",
               "x.yaml:2:3: unknown key \"intervall\" in defaults (did you mean interval?)\n"
               "x.yaml:3:3: method cannot be set in defaults (only interval, timeout, "
               "success_threshold, failure_threshold, labels, close, tls_verify, ca_file, "
               "preferred_ip_protocol, ip_protocol_fallback, source_ip_address, tls_config, notify, "
               "tls_resumption, tls_full_handshake_every)\n"
               "x.yaml:4:3: unknown key \"bogus\" in defaults\n"
               "x.yaml:8:5: unknown key \"tagret\" in probe (did you mean target?)\n"
               "x.yaml:9:5: unknown key \"frobnicate\" in probe\n"
               "x.yaml:11:1: unknown top-level key \"prob\" (did you mean probes?)\n"
               "x.yaml:12:1: unknown top-level key \"extra\" (expected defaults, probes, notify, health or history)\n");
}

Test(probe_config, error_key_not_for_kind)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    expect_status: [200]\n"
                  "    body: x\n"
                  "    server_name: x\n"
                  "  - name: b\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    send: x\n"
                  "    expect: x\n"
                  "    tls: true\n"
                  "  - name: c\n"
                  "    target: h\n"
                  "    method: GET\n"
                  "    headers: {a: b}\n"
                  "    body: x\n"
                  "    expect_body: x\n"
                  "    max_redirects: 1\n"
                  "    ca_file: /dev/null\n"
                  "    kind: tls\n"
                  "  - name: d\n"
                  "    kind: icmp\n"
                  "    target: h\n"
                  "    close: graceful\n"
                  "    tls_verify: false\n"
                  "    send: x\n"
                  "    ttl: 5\n"
                  "  - name: e\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    ttl: 5\n"
                  "    dont_fragment: true\n");
    load_fails("x.yaml",
               "x.yaml:5:5: expect_status applies to http probes only\n"
               "x.yaml:6:5: body applies to http probes only\n"
               "x.yaml:7:5: server_name applies to tls probes only\n"
               "x.yaml:11:5: send applies to tcp probes only\n"
               "x.yaml:12:5: expect applies to tcp probes only\n"
               "x.yaml:13:5: tls applies to tcp probes only\n"
               "x.yaml:16:5: method applies to http probes only\n"
               "x.yaml:17:5: headers applies to http probes only\n"
               "x.yaml:18:5: body applies to http probes only\n"
               "x.yaml:19:5: expect_body applies to http probes only\n"
               "x.yaml:20:5: max_redirects applies to http probes only\n"
               "x.yaml:26:5: close applies to tcp, http, tls and dns probes only\n"
               "x.yaml:27:5: tls_verify applies to tcp, http, tls and dns probes only\n"
               "x.yaml:28:5: send applies to tcp probes only\n"
               "x.yaml:33:5: ttl applies to icmp probes only\n"
               "x.yaml:34:5: dont_fragment applies to icmp probes only\n");
}

Test(probe_config, error_timeout_over_interval)
{
    ut_put("x.yaml", "defaults:\n"
                  "  timeout: 3s\n"
                  "probes:\n"
                  "  - name: own\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    interval: 10s\n"
                  "    timeout: 11s\n"
                  "  - name: interval_only\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    interval: 2s\n"
                  "  - name: fine\n"
                  "    kind: tcp\n"
                  "    target: h:1\n");
    load_fails("x.yaml",
               "x.yaml:8:14: timeout 11s exceeds interval 10s\n"
               "x.yaml:12:15: timeout 3s (from defaults) exceeds interval 2s\n");

    /* Both in defaults: said once, at defaults. */
    ut_put("y.yaml", "defaults:\n"
                  "  interval: 1s\n"
                  "  timeout: 1500ms\n"
                  "probes:\n"
                  "  - {name: a, kind: tcp, target: 'h:1'}\n"
                  "  - {name: b, kind: tcp, target: 'h:1'}\n"
                  "  - {name: c, kind: tcp, target: 'h:1', timeout: 1s}\n");
    load_fails("y.yaml", "y.yaml:3:12: timeout 1500ms exceeds interval 1s\n");

    /* One from defaults, one built in: at the probe. */
    ut_put("z.yaml", "defaults:\n"
                  "  timeout: 6s\n"
                  "probes:\n"
                  "  - name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n");
    load_fails("z.yaml",
               "z.yaml:4:5: timeout 6s (from defaults) exceeds interval 5s (the default)\n");
}

Test(probe_config, error_missing_and_conflicting_keys)
{
    ut_put("x.yaml", "probes:\n"
                  "  - kind: tcp\n"
                  "    target: h:1\n"
                  "  - name: b\n"
                  "    target: h:1\n"
                  "  - name: c\n"
                  "    kind: tcp\n"
                  "  - name: d\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    targets_file: t.txt\n"
                  "  - name: e\n"
                  "    kind: tcp\n"
                  "    target: h:1\n"
                  "    kind: http\n"
                  "  - just a string\n"
                  "  -\n"
                  "  - target: h:1\n");
    load_fails("x.yaml",
               "x.yaml:2:5: probe has no name\n"
               "x.yaml:4:5: probe \"b\" has no kind (expected tcp, http, tls, dns or icmp)\n"
               "x.yaml:6:5: probe \"c\" has no target or targets_file\n"
               "x.yaml:11:5: target and targets_file cannot both be set (line 10 has target)\n"
               "x.yaml:15:5: duplicate key \"kind\" (first at line 13)\n"
               "x.yaml:16:5: a probe must be a mapping of keys, not a single value\n"
               "x.yaml:17:4: a probe must be a mapping of keys, not empty\n"
               "x.yaml:18:5: probe has no name\n"
               "x.yaml:18:5: probe has no kind (expected tcp, http, tls, dns or icmp)\n");
}

Test(probe_config, error_bad_targets)
{
    ut_put("x.yaml", "probes:\n"
                  "  - {name: a, kind: tcp, target: '127.0.0.1'}\n"
                  "  - {name: b, kind: tls, target: '::1'}\n"
                  "  - {name: c, kind: http, target: 'https://h:0/'}\n"
                  "  - {name: d, kind: tcp, target: [h]}\n"
                  "  - {name: e, kind: tcp, target: }\n");
    load_fails("x.yaml",
               "x.yaml:2:34: bad tcp target \"127.0.0.1\": missing port (expected host:port)\n"
               "x.yaml:3:34: bad tls target \"::1\": an IPv6 address must be in brackets, "
               "e.g. [::1]:443\n"
               "x.yaml:4:35: bad http target \"https://h:0/\": bad port (expected 1 to 65535)\n"
               "x.yaml:5:34: target must be a string, not a sequence\n"
               "x.yaml:6:34: target has no value (expected a string)\n");
}

Test(probe_config, error_top_level_shapes)
{
    ut_put("a.yaml", "");
    load_fails("a.yaml", "a.yaml:1:1: the config is empty: expected a mapping with a probes key\n");
    ut_put("b.yaml", "- name: a\n");
    load_fails("b.yaml",
               "b.yaml:1:1: the top level must be a mapping with a probes key, not a sequence\n");
    ut_put("c.yaml", "defaults: {interval: 1s}\n");
    load_fails("c.yaml", "c.yaml:1:1: missing key \"probes\": there is nothing to probe\n");
    ut_put("d.yaml", "probes: []\n");
    load_fails("d.yaml", "d.yaml:1:9: probes is empty: define at least one probe\n");
    ut_put("e.yaml", "probes: {a: 1}\ndefaults: [1]\n");
    load_fails("e.yaml", "e.yaml:1:9: probes must be a list of probes, not a mapping\n"
                         "e.yaml:2:11: defaults must be a mapping, not a sequence\n");
    ut_put("f.yaml", "probes:\n"
                  "  - {name: a, kind: tcp, target: 'h:1'}\n"
                  "---\n"
                  "probes: []\n");
    load_fails("f.yaml", "f.yaml:4:1: a second YAML document: a config is one document\n");
    ut_put("g.yaml", "probes:\n"
                  "  - {name: a, kind: tcp, target: 'h:1'}\n"
                  "probes:\n"
                  "  - {name: b, kind: tcp, target: 'h:1'}\n");
    load_fails("g.yaml", "g.yaml:3:1: duplicate key \"probes\" (first at line 1)\n");
}

Test(probe_config, error_yaml_syntax)
{
    ut_put("a.yaml", "probes:\n"
                  "  - name: a\n"
                  "   kind: tcp\n");
    load_fails("a.yaml", "a.yaml:3:4: did not find expected '-' indicator (while parsing a "
                         "block collection at line 2, column 3)\n");
    ut_put("b.yaml", "probes:\n"
                  "  - name: \"a\n");
    load_fails("b.yaml", "b.yaml:3:1: found unexpected end of stream (while scanning a quoted "
                         "scalar at line 2, column 11)\n");
    ut_put("c.yaml", "probes:\n"
                  "\t- name: a\n");
    load_fails("c.yaml", "c.yaml:2:1: found character that cannot start any token (while "
                         "scanning for the next token at line 2, column 1)\n");
    ut_put("d.yaml", "probes:\n"
                  "  - name: \xff\n");
    load_fails("d.yaml", "d.yaml:2:11: invalid leading UTF-8 octet (byte 0xff)\n");
    ut_put("e.yaml", "probes:\n"
                  "  - *nowhere\n");
    load_fails("e.yaml", "e.yaml:2:5: found undefined alias\n");
}

/* One run lists every mistake, in file order, across the config and its
 * targets files. */
Test(probe_config, several_errors_in_one_run)
{
    ut_put("x.yaml", "probes:\n"
                  "  - name: db\n"
                  "    kind: tcp\n"
                  "    target: db:5432\n"
                  "    interval: 1s\n"
                  "    timeout: 2s\n"
                  "  - name: edge\n"
                  "    kind: tcp\n"
                  "    targets_file: edge.txt\n"
                  "    labels: {__x: y}\n"
                  "  - name: db\n"
                  "    kind: udp\n"
                  "    target: x\n"
                  "defaults:\n"
                  "  interval: soon\n");
    ut_put("edge.txt", "e1:1\ne2\n");
    load_fails("x.yaml",
               "x.yaml:6:14: timeout 2s exceeds interval 1s\n"
               "edge.txt:2:1: bad tcp target \"e2\": missing port (expected host:port)\n"
               "x.yaml:10:14: bad label name \"__x\": names starting with __ are reserved\n"
               "x.yaml:11:11: duplicate probe name \"db\" (first defined at line 2)\n"
               "x.yaml:12:11: unknown kind \"udp\" (expected tcp, http, tls, dns or icmp)\n"
               "x.yaml:15:13: bad interval \"soon\": expected a duration like 5s or 500ms\n");
}

Test(probe_config, big_targets_file)
{
    enum { N = 20000 };
    struct tp_config cfg;
    struct timespec t0, t1;
    FILE *f;

    ut_put("x.yaml", "probes:\n"
                  "  - name: many\n"
                  "    kind: tcp\n"
                  "    targets_file: many.txt\n"
                  "  - name: urls\n"
                  "    kind: http\n"
                  "    targets_file: urls.txt\n");
    cr_assert_not_null(f = fopen("many.txt", "w"));
    fputs("# generated\n", f);
    for (int i = 0; i < N; i++)
        if (i % 2)
            fprintf(f, "  node-%d.pool%d.example.net:%d\n", i, i % 7, 1 + i % 65535);
        else
            fprintf(f, "10.%d.%d.%d:%d\n", i >> 16, (i >> 8) & 255, i & 255, 1 + i % 65535);
    fclose(f);
    cr_assert_not_null(f = fopen("urls.txt", "w"));
    for (int i = 0; i < N; i++)
        fprintf(f, "https://h%d.example.com:%d/health?i=%d\n", i % 100, 1 + i % 1000, i);
    fclose(f);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    load_ok("x.yaml", &cfg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_eq(cfg.ntargets, 2 * N);
    cr_expect_eq(cfg.defs[0].ntargets, N);
    cr_expect_str_eq(cfg.defs[0].targets[0], "10.0.0.0:1");
    cr_expect_str_eq(cfg.defs[0].targets[N - 1], "node-19999.pool0.example.net:20000");
    cr_expect_str_eq(cfg.defs[1].targets[N - 1], "https://h99.example.com:1000/health?i=19999");
    tp_config_free(&cfg);
    /* Under valgrind everything is some 50 times slower: only the result
     * is checked there. */
    if (!under_valgrind())
        cr_assert_lt(secs, 1.0, "loading %d + %d targets took %.3f s", N, N, secs);

    /* A duplicate far down is found, with both lines. */
    cr_assert_not_null(f = fopen("many.txt", "a"));
    fputs("10.0.0.4:5\n", f);
    fclose(f);
    {
        char want[128];
        snprintf(want, sizeof(want),
                 "many.txt:%d:1: duplicate target \"10.0.0.4:5\" (first at line 6)\n", N + 2);
        load_fails("x.yaml", want);
    }
}

/* ---- tp_target_parse ---- */

Test(probe_config, target_parse_good)
{
    static const struct {
        const char *kind;
        const char *in, *host;
        uint16_t port;
        bool https;
    } ok[] = {
        {"tcp", "127.0.0.1:5432", "127.0.0.1", 5432, false},
        {"tcp", "db.example.com:5432", "db.example.com", 5432, false},
        {"tcp", "localhost:65535", "localhost", 65535, false},
        {"tcp", "a_b-c.d9:1", "a_b-c.d9", 1, false},
        {"tcp", "fqdn.example.:80", "fqdn.example.", 80, false},
        {"tcp", "[::1]:22", "::1", 22, false},
        {"tcp", "[2001:db8::1]:443", "2001:db8::1", 443, false},
        {"tcp", "[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80, false},
        {"tls", "example.com", "example.com", 443, false},
        {"tls", "example.com:8443", "example.com", 8443, false},
        {"tls", "10.1.2.3", "10.1.2.3", 443, false},
        {"tls", "[::1]", "::1", 443, false},
        {"tls", "[fd00::5]:993", "fd00::5", 993, false},
        {"http", "https://127.0.0.1:8443/health", "127.0.0.1", 8443, true},
        {"http", "http://example.com", "example.com", 80, false},
        {"http", "https://example.com/a?b=c#d", "example.com", 443, true},
        {"http", "http://[::1]:8080/x", "::1", 8080, false},
        {"http", "https://[2001:db8::2]/", "2001:db8::2", 443, true},
        {"http", "HTTPS://Example.COM:444/", "Example.COM", 444, true},
        {"http", "http://user:pw@h.example/", "h.example", 80, false},
        {"dns", "10.0.0.53", "10.0.0.53", 53, false},
        {"dns", "ns1.example.com:5353", "ns1.example.com", 5353, false},
        {"dns", "[2001:db8::53]", "2001:db8::53", 53, false},
        {"dns", "2001:db8::53", "2001:db8::53", 53, false}, /* bare, as blackbox takes it */
        {"dns", "[2001:db8::53]:5353", "2001:db8::53", 5353, false},
        {"icmp", "10.1.2.3", "10.1.2.3", 0, false},
        {"icmp", "example.com", "example.com", 0, false},
        {"icmp", "::1", "::1", 0, false},
        {"icmp", "2001:db8::1", "2001:db8::1", 0, false},
        {"icmp", "::ffff:10.0.0.1", "::ffff:10.0.0.1", 0, false},
    };
    struct tp_endpoint ep;
    const char *why;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        why = "unset";
        int rc = tp_target_parse(tp_kind_find(ok[i].kind), ok[i].in, &ep, &why);
        cr_assert_eq(rc, 0, "%s %s: %s", ok[i].kind, ok[i].in, why);
        cr_assert_str_eq(ep.host, ok[i].host, "%s", ok[i].in);
        cr_assert_eq(ep.port, ok[i].port, "%s: port %u", ok[i].in, ep.port);
        cr_assert_eq(ep.https, ok[i].https, "%s", ok[i].in);
    }
    /* whether the port was written: a dns probe's default is 853 over TLS */
    cr_assert_eq(tp_target_parse(tp_kind_find("dns"), "10.0.0.53", &ep, &why), 0);
    cr_assert(ep.port_default);
    cr_assert_eq(tp_target_parse(tp_kind_find("dns"), "10.0.0.53:53", &ep, &why), 0);
    cr_assert(!ep.port_default);
    /* why may be NULL */
    cr_assert_eq(tp_target_parse(tp_kind_find("tcp"), "h:1", &ep, NULL), 0);
    cr_assert_eq(tp_target_parse(tp_kind_find("tcp"), "h", &ep, NULL), -EINVAL);
}

Test(probe_config, target_parse_bad)
{
    static const struct {
        const char *kind;
        const char *in, *why; /* why: NULL to accept any explanation */
    } bad[] = {
        {"tcp", "", "empty target"},
        {"tcp", "127.0.0.1", "missing port (expected host:port)"},
        {"tcp", "host", "missing port (expected host:port)"},
        {"tcp", "host:", "missing port after ':'"},
        {"tcp", ":80", "missing host"},
        {"tcp", "host:0", "bad port (expected 1 to 65535)"},
        {"tcp", "host:65536", "bad port (expected 1 to 65535)"},
        {"tcp", "host:8a", "bad port (expected 1 to 65535)"},
        {"tcp", "host:+80", "bad port (expected 1 to 65535)"},
        {"tcp", "host:000080", "bad port (expected 1 to 65535)"},
        {"tcp", "::1:80", "an IPv6 address must be in brackets, e.g. [::1]:443"},
        {"tcp", "[::1]", "missing port (expected host:port)"},
        {"tcp", "[::1", "missing ] after the IPv6 address"},
        {"tcp", "[::1]80", "unexpected text after ]"},
        {"tcp", "[1.2.3.4]:80", "bad IPv6 address in brackets"},
        {"tcp", "[]:80", "missing host"},
        {"tcp", "[::g]:80", "bad IPv6 address in brackets"},
        {"tcp", "bad host:80", "contains spaces or control characters"},
        {"tcp", "-bad.example:80", "bad host name"},
        {"tcp", "bad-.example:80", "bad host name"},
        {"tcp", "a..b:80", "bad host name"},
        {"tcp", ".a:80", "bad host name"},
        {"tcp", "ex!ample.com:80", "bad host name"},
        {"tcp", "1.2.3:80", "bad host name"},
        {"tcp", "300.1.1.1:80", "bad host name"},
        {"tcp", "http://h:80", NULL},
        {"tls", "::1", "an IPv6 address must be in brackets, e.g. [::1]:443"},
        {"tls", "host:abc", "bad port (expected 1 to 65535)"},
        {"tls", "[::1]x", "unexpected text after ]"},
        {"tls", "https://h/", NULL},
        {"http", "ftp://example.com/", "not an http:// or https:// URL"},
        {"http", "example.com", "not an http:// or https:// URL"},
        {"http", "http:/example.com", "not an http:// or https:// URL"},
        {"http", "http://", "missing host"},
        {"http", "http:///path", "missing host"},
        {"http", "https://h:0/", "bad port (expected 1 to 65535)"},
        {"http", "https://h:99999/", "bad port (expected 1 to 65535)"},
        {"http", "http://h:8a/", "bad port (expected 1 to 65535)"},
        {"http", "http://bad!host/", NULL},
        {"http", "http://-bad.example/", "bad host name"},
        {"http", "http://[::1/", NULL},
        {"http", "http://[::g]/", NULL},
        {"http", "http://exa mple.com/", "contains spaces or control characters"},
        {"http", "http://1.2.3.4.5/", "bad host name"},
        {"icmp", "10.0.0.1:80", "an icmp target has no port: write the host alone"},
        {"icmp", "example.com:443", "an icmp target has no port: write the host alone"},
        {"icmp", "[::1]", "an icmp target is a host or an address alone: an IPv6 address "
                          "without brackets, no port"},
        {"icmp", "[::1]:80", NULL},
        {"icmp", "::g", "bad IPv6 address"},
        {"icmp", "1::2::3", "bad IPv6 address"},
        {"icmp", "300.1.1.1", "bad host name"},
        {"icmp", "http://h/", NULL},
    };
    struct tp_endpoint ep;
    const char *why;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        memset(&ep, 0x5a, sizeof(ep));
        int rc = tp_target_parse(tp_kind_find(bad[i].kind), bad[i].in, &ep, &why);
        cr_assert_eq(rc, -EINVAL, "%s '%s' accepted (host %s)", bad[i].kind,
                     bad[i].in, ep.host);
        cr_assert_not_null(why, "%s: no why", bad[i].in);
        if (bad[i].why)
            cr_assert_str_eq(why, bad[i].why, "%s", bad[i].in);
        cr_assert_eq(ep.host[0], '\0', "%s: endpoint not cleared", bad[i].in);
        cr_assert_eq(ep.port, 0);
    }
    /* A name of 253 characters is the longest allowed. */
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    for (int i = 63; i < 253; i += 64)
        longname[i] = '.';
    strcpy(longname + 253, ":80");
    cr_assert_eq(tp_target_parse(tp_kind_find("tcp"), longname, &ep, &why), 0, "%s", why);
    memset(longname, 'a', sizeof(longname));
    for (int i = 63; i < 254; i += 64)
        longname[i] = '.';
    strcpy(longname + 254, ":80");
    cr_assert_eq(tp_target_parse(tp_kind_find("tcp"), longname, &ep, &why), -EINVAL);
    memset(longname, 'a', 64);
    strcpy(longname + 64, ".com:80"); /* a 64-character label */
    cr_assert_eq(tp_target_parse(tp_kind_find("tcp"), longname, &ep, &why), -EINVAL);
    cr_assert_eq(tp_target_parse(NULL, "h:1", &ep, &why), -EINVAL);
}

Test(probe_config, a_password_in_a_target_url_is_shown_as_xxxxx)
{
    static const struct { const char *in, *out; } v[] = {
        {"http://u:secret@h.example/x", "http://u:xxxxx@h.example/x"},
        {"https://u:p%40ss@h:8443/?q=a@b", "https://u:xxxxx@h:8443/?q=a@b"},
        {"http://a@b:c@h/", "http://a@b:xxxxx@h/"},
        {"http://u:@h/", "http://u:xxxxx@h/"},
        {"http://user@h/", NULL},   /* no password */
        {"http://h/p:q@r", NULL},   /* '@' in the path, not the authority */
        {"h.example:5432", NULL},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        bool had;
        char *r = tp_target_redact(v[i].in, &had);
        cr_assert_eq(had, v[i].out != NULL, "%s", v[i].in);
        if (v[i].out)
            cr_assert_str_eq(r, v[i].out);
        else
            cr_assert_null(r);
        free(r);
    }
}

/* YAML merge keys: a probe's own keys win, then the merged mappings in
 * order; a merge of something else is an error at its place. */
Test(probe_config, yaml_merge_keys_bring_in_an_anchored_mapping)
{
    ut_put("x.yaml", "base: &base {kind: tcp, interval: 2s, timeout: 1s}\n"
                  "fast: &fast {interval: 500ms, timeout: 200ms}\n"
                  "probes:\n"
                  "  - <<: *base\n"
                  "    name: a\n"
                  "    target: h:1\n"
                  "  - <<: [*fast, *base]\n"
                  "    name: b\n"
                  "    target: h:2\n"
                  "  - <<: *base\n"
                  "    name: c\n"
                  "    interval: 3s\n"
                  "    target: h:3\n");
    struct tp_config c;
    char *errs;
    int rc = load("x.yaml", &c, &errs);
    /* top-level keys other than probes/defaults are refused: say so */
    cr_assert_neq(rc, 0);
    cr_assert_not_null(strstr(errs, "x.yaml:1:1:"), "%s", errs);
    free(errs);

    ut_put("x.yaml", "probes:\n"
                  "  - &base\n"
                  "    name: a\n"
                  "    kind: tcp\n"
                  "    interval: 2s\n"
                  "    timeout: 1s\n"
                  "    target: h:1\n"
                  "  - <<: *base\n"
                  "    name: b\n"
                  "    target: h:2\n"
                  "  - <<: [{interval: 500ms, timeout: 200ms}, *base]\n"
                  "    name: c\n"
                  "    target: h:3\n");
    load_ok("x.yaml", &c);
    cr_assert_eq(c.ndefs, 3);
    cr_assert_str_eq(c.defs[1].name, "b");
    cr_assert_eq(c.defs[1].interval_ms, 2000);
    cr_assert_str_eq(c.defs[1].targets[0], "h:2");
    cr_assert_eq(c.defs[2].interval_ms, 500);
    cr_assert_eq(c.defs[2].timeout_ms, 200);
    cr_assert_eq(c.defs[2].kind, c.defs[0].kind);
    tp_config_free(&c);

    ut_put("x.yaml", "probes:\n"
                  "  - <<: 5\n"
                  "    name: a\n"
                  "    kind: tcp\n"
                  "    target: h:1\n");
    load_fails("x.yaml", "x.yaml:2:9: << (a merge) takes a mapping or a list of mappings, not a "
                         "single value\n");
}

/* ---- blackbox_exporter's http prober options ---- */

Test(probe_config, blackbox_http_options_load)
{
    struct tp_config cfg;
    const struct tp_def *d;
    const struct tp_http_opts *h;

    mkdir("certs", 0755);
    ut_put("certs/ca.pem", "x\n");
    ut_put("certs/c.pem", "x\n");
    ut_put("certs/c.key", "x\n");
    ut_put("pw", "secret\n");
    ut_put("x.yaml", "defaults:\n"
                  "  tls_config: {min_version: TLS12}\n"
                  "probes:\n"
                  "  - name: a\n"
                  "    kind: http\n"
                  "    target: https://h/\n"
                  "    valid_status_codes: [200, 204]\n"
                  "    no_follow_redirects: true\n"
                  "    fail_if_not_ssl: true\n"
                  "    fail_if_body_matches_regexp: [error, '(?i)down']\n"
                  "    fail_if_body_not_matches_regexp: ok\n"
                  "    fail_if_header_matches: [{header: X-A, regexp: bad, allow_missing: true}]\n"
                  "    fail_if_header_not_matches:\n"
                  "      - {header: Content-Type, regexp: json}\n"
                  "    fail_if_body_json_not_matches: [{path: a.0.b, equals: 3}, {path: s, regexp: "
                  "'^o'}]\n"
                  "    valid_http_versions: [HTTP/1.1, HTTP/2.0]\n"
                  "    compression: GZIP\n"
                  "    headers: {Accept-Encoding: 'br;q=1.0, gzip;q=0.9'}\n"
                  "    body_size_limit: 1.5MB\n"
                  "    proxy_url: http://user:pw@proxy:3128\n"
                  "    basic_auth: {username: u, password_file: pw}\n"
                  "    tls_config: {ca_file: certs/ca.pem, cert_file: certs/c.pem, key_file: "
                  "certs/c.key,\n"
                  "                 server_name: front.example, insecure_skip_verify: false}\n"
                  "  - name: b\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    follow_redirects: true\n"
                  "    max_redirects: 3\n"
                  "    bearer_token: t0k\n"
                  "    enable_http2: false\n"
                  "  - {name: c, kind: tls, target: h, tls_config: {server_name: n.example}}\n");
    load_ok("x.yaml", &cfg);
    d = def_named(&cfg, "a");
    h = http(d);
    cr_assert_eq(h->nstatus, 2);
    cr_assert_eq(h->status[1].lo, 204);
    cr_assert_eq(h->status[1].hi, 204);
    cr_assert_not(h->follow);
    cr_assert(h->fail_if_not_ssl);
    cr_assert_not(h->fail_if_ssl);
    cr_assert_eq(h->nbody_bad, 2);
    cr_assert(tp_regex_match(&h->body_bad[1], "DOWN", 4));
    cr_assert_eq(h->nbody_good, 1);
    cr_assert_eq(h->nhdr_bad, 1);
    cr_assert_str_eq(h->hdr_bad[0].header, "X-A");
    cr_assert(h->hdr_bad[0].allow_missing);
    cr_assert_eq(h->nhdr_good, 1);
    cr_assert_not(h->hdr_good[0].allow_missing);
    cr_assert_eq(h->njson, 2);
    cr_assert_eq(h->json[0].nseg, 3);
    cr_assert_str_eq(h->json[0].seg[1], "0");
    cr_assert_str_eq(h->json[0].equals, "3");
    cr_assert_str_eq(h->json[1].re.text, "^o");
    cr_assert_eq(h->versions, TP_HTTP_V11 | TP_HTTP_V20);
    cr_assert_eq(h->compression, TP_COMP_GZIP);
    cr_assert_eq(h->body_size_limit, 1572864);
    cr_assert_str_eq(h->proxy_url, "http://user:pw@proxy:3128");
    cr_assert(h->basic_auth);
    cr_assert_str_eq(h->user, "u");
    cr_assert_null(h->password);
    cr_assert_str_eq(h->password_file, "pw");
    cr_assert(d->tls_verify);
    cr_assert_str_eq(d->ca_file, "certs/ca.pem");
    cr_assert_str_eq(d->cert_file, "certs/c.pem");
    cr_assert_str_eq(d->key_file, "certs/c.key");
    cr_assert_str_eq(d->tls_server_name, "front.example");
    cr_assert_eq(d->tls_min_version, 0x0303, "min_version from defaults");
    cr_assert(d->has_regex);
    d = def_named(&cfg, "b");
    cr_assert(http(d)->follow);
    cr_assert_eq(http(d)->max_redirects, 3);
    cr_assert_str_eq(http(d)->bearer, "Bearer t0k");
    cr_assert_not(http(d)->http2);
    cr_assert_eq(http(d)->nstatus, 1, "the 2xx default");
    d = def_named(&cfg, "c");
    cr_assert_str_eq(d->tls_server_name, "n.example");
    tp_config_free(&cfg);
}

Test(probe_config, blackbox_http_option_errors)
{
    ut_put("pw", "x\n");
    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    valid_status_codes: [200, 2xx]\n"
                  "    expect_status: 200\n"
                  "    no_follow_redirects: true\n"
                  "    follow_redirects: true\n"
                  "    max_redirects: 2\n"
                  "    compression: zstd\n"
                  "    body_size_limit: 10kB\n"
                  "    valid_http_versions: [HTTP/1.2]\n"
                  "    proxy_url: ftp://p/\n"
                  "  - name: b\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    fail_if_header_matches: [{header: X-A, regex: x}, {regexp: y}, z]\n"
                  "    fail_if_body_json_not_matches: [{path: 'a..b', equals: 1},\n"
                  "                                    {path: a, equals: 1, regexp: x}]\n"
                  "    basic_auth: {user: u, password: p, password_file: pw}\n"
                  "    bearer_token: t\n"
                  "  - name: c\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    compression: gzip\n"
                  "    headers: {Accept-Encoding: 'br, identity'}\n"
                  "    basic_auth: {password: p, password_file: pw}\n"
                  "    fail_if_body_matches_regexp: ['a(']\n"
                  "    bearer_token_file: pw\n"
                  "    tls_config: {insecure_skip_verify: true, ca_flie: x, min_version: TLS14}\n"
                  "    tls_verify: false\n"
                  "  - name: d\n"
                  "    kind: tls\n"
                  "    target: h\n"
                  "    server_name: a.example\n"
                  "    tls_config: {server_name: b.example, cert_file: pw}\n"
                  "  - {name: e, kind: tcp, target: 'h:1', tls_config: {}}\n"
                  "  - {name: f, kind: http, target: 'http://h/', tls_config: [a],\n"
                  "     fail_if_header_not_matches: {header: a}}\n");
    load_fails("x.yaml",
               "x.yaml:5:31: bad valid_status_codes \"2xx\": expected a status like 200\n"
               "x.yaml:6:20: valid_status_codes and expect_status set the same thing: write "
               "one of them\n"
               "x.yaml:8:23: no_follow_redirects and follow_redirects set the same thing: "
               "write one of them\n"
               "x.yaml:10:18: bad compression \"zstd\": expected gzip, br, deflate or identity\n"
               "x.yaml:11:22: bad body_size_limit \"10kB\": expected a size like 512B, 64KB "
               "or 10MiB (KB and KiB are both 1024 bytes), or 0 for none\n"
               "x.yaml:12:27: bad valid_http_versions \"HTTP/1.2\": expected HTTP/1.0, "
               "HTTP/1.1, HTTP/2.0 or HTTP/3.0\n"
               "x.yaml:13:16: bad proxy_url: expected a URL like http://proxy:3128 (http, "
               "https, socks5 or socks5h)\n"
               "x.yaml:17:44: unknown key \"regex\" in fail_if_header_matches item (did you "
               "mean regexp?)\n"
               "x.yaml:17:55: fail_if_header_matches item has no header\n"
               "x.yaml:17:68: fail_if_header_matches item must be a mapping, not a single "
               "value\n"
               "x.yaml:18:44: bad fail_if_body_json_not_matches path \"a..b\": expected keys "
               "and indexes joined by dots, like checks.db or items.0.name\n"
               "x.yaml:19:37: fail_if_body_json_not_matches item needs one of equals and "
               "regexp\n"
               "x.yaml:20:18: unknown key \"user\" in basic_auth (expected username, password "
               "or password_file)\n"
               "x.yaml:21:19: basic_auth and bearer_token cannot both be set: at most one of "
               "basic_auth, authorization, bearer_token and bearer_token_file\n"
               "x.yaml:26:32: compression gzip and the Accept-Encoding header \"br, "
               "identity\" disagree: the header must accept gzip\n"
               "x.yaml:27:17: basic_auth has both password and password_file: write one\n"
               "x.yaml:28:35: bad fail_if_body_matches_regexp regex \"a(\": missing closing "
               "parenthesis at offset 2\n"
               "x.yaml:29:24: basic_auth and bearer_token_file cannot both be set: at most "
               "one of basic_auth, authorization, bearer_token and bearer_token_file\n"
               "x.yaml:30:46: unknown key \"ca_flie\" in tls_config (did you mean ca_file?)\n"
               "x.yaml:30:71: bad tls_config.min_version \"TLS14\": expected TLS10, TLS11, "
               "TLS12 or TLS13\n"
               "x.yaml:31:17: tls_verify and tls_config.insecure_skip_verify set the same "
               "thing: write one of them\n"
               "x.yaml:36:18: server_name and tls_config.server_name set the same thing: "
               "write one of them\n"
               "x.yaml:38:60: tls_config must be a mapping, not a sequence\n"
               "x.yaml:39:34: fail_if_header_not_matches must be a list of {header, regexp, "
               "allow_missing}\n");
}

Test(probe_config, body_size_limit_units_and_http2_only)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } sizes[] = {{"0", 0}, {"512B", 512}, {"2KiB", 2048}, {"1MB512KB", 1572864},
                 {"1.5KB", 1536}, {"1GB", 1073741824}};
    struct tp_config cfg;
    char text[256];

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        snprintf(text, sizeof(text), "probes:\n  - {name: a, kind: http, target: 'http://h/',"
                                     " body_size_limit: %s}\n", sizes[i].text);
        ut_put("x.yaml", text);
        load_ok("x.yaml", &cfg);
        cr_expect_eq(http(&cfg.defs[0])->body_size_limit, sizes[i].bytes, "%s", sizes[i].text);
        tp_config_free(&cfg);
    }
    ut_put("x.yaml", "probes:\n"
                  "  - {name: a, kind: http, target: 'http://h/', body_size_limit: 10,\n"
                  "     enable_http2: false, valid_http_versions: [HTTP/2.0]}\n");
    load_fails("x.yaml",
               "x.yaml:2:65: bad body_size_limit \"10\": expected a size like 512B, 64KB or "
               "10MiB (KB and KiB are both 1024 bytes), or 0 for none\n"
               "x.yaml:3:49: valid_http_versions accepts HTTP/2.0 only, but enable_http2 is "
               "false\n");
}

/* ---- proxies ---- */

Test(probe_config, proxy_options)
{
    struct tp_config cfg;
    const struct tp_http_opts *h;

    ut_put("x.yaml", "probes:\n"
                  "  - name: a\n"
                  "    kind: http\n"
                  "    target: https://h/\n"
                  "    skip_resolve_phase_with_proxy: true\n"
                  "    no_proxy: 'example.com, 10.0.0.0/8'\n"
                  "    proxy_connect_header:\n"
                  "      X-Token: [t1, '']\n"
                  "      x-one: alone\n"
                  "      X-None: []\n"
                  "      Host: [ignored]\n"
                  "    proxy_url: http://proxy:3128\n"
                  "  - {name: b, kind: http, target: 'http://h/', proxy_from_environment: true,\n"
                  "     proxy_connect_header: {X-A: [b]}, skip_resolve_phase_with_proxy: true}\n"
                  "  - {name: c, kind: http, target: 'http://h/', skip_resolve_phase_with_proxy: "
                  "yes,\n"
                  "     no_proxy: ''}\n"
                  "  - {name: d, kind: http, target: 'http://h/', proxy_url: 'socks5://p:1',\n"
                  "     skip_resolve_phase_with_proxy: false, proxy_from_environment: false}\n");
    load_ok("x.yaml", &cfg);
    h = http(def_named(&cfg, "a"));
    cr_assert_str_eq(h->proxy_url, "http://proxy:3128");
    cr_assert_str_eq(h->no_proxy, "example.com, 10.0.0.0/8");
    cr_assert_not(h->proxy_env);
    /* Host is Go's to write; an empty value is curl's "Name;" */
    cr_assert_eq(h->nproxy_hdrs, 3);
    cr_assert_str_eq(h->proxy_hdrs[0], "X-Token: t1");
    cr_assert_str_eq(h->proxy_hdrs[1], "X-Token;");
    cr_assert_str_eq(h->proxy_hdrs[2], "x-one: alone");
    cr_assert(h->skip_resolve);
    cr_assert(def_named(&cfg, "a")->no_resolve, "skip with a proxy_url written after it");
    h = http(def_named(&cfg, "b"));
    cr_assert(h->proxy_env);
    cr_assert_eq(h->nproxy_hdrs, 1);
    /* blackbox resolves when the proxy is the environment's */
    cr_assert_not(def_named(&cfg, "b")->no_resolve);
    cr_assert(http(def_named(&cfg, "c"))->skip_resolve);
    cr_assert_not(def_named(&cfg, "c")->no_resolve, "no proxy: skip does nothing");
    cr_assert_not(def_named(&cfg, "d")->no_resolve);
    tp_config_free(&cfg);
}

Test(probe_config, proxy_option_errors)
{
    ut_put("x.yaml", "probes:\n"
                  "  - {name: a, kind: http, target: 'http://h/', no_proxy: example.com}\n"
                  "  - {name: b, kind: http, target: 'http://h/', proxy_url: 'http://p:1',\n"
                  "     proxy_from_environment: true}\n"
                  "  - {name: c, kind: http, target: 'http://h/', proxy_from_environment: true,\n"
                  "     proxy_url: 'http://p:1'}\n"
                  "  - {name: d, kind: http, target: 'http://h/', proxy_from_environment: true,\n"
                  "     no_proxy: h}\n"
                  "  - {name: e, kind: http, target: 'http://h/', proxy_connect_header: {X-A: []}}\n"
                  "  - name: f\n"
                  "    kind: http\n"
                  "    target: http://h/\n"
                  "    proxy_url: http://p:1\n"
                  "    proxy_connect_header:\n"
                  "      'bad name': [x]\n"
                  "      X-Break: [\"a\\nb\"]\n"
                  "      X-Map: {a: b}\n"
                  "      X-Null: [~]\n"
                  "      x-dup: [1]\n"
                  "      X-Dup: [2]\n"
                  "  - {name: g, kind: http, target: 'http://h/', proxy_connect_header: [a]}\n"
                  "  - {name: h, kind: http, target: 'http://h/', no_proxy: [a, b]}\n"
                  "  - {name: i, kind: tcp, target: 'h:1', skip_resolve_phase_with_proxy: true}\n");
    load_fails("x.yaml",
               "x.yaml:2:58: no_proxy needs proxy_url: it names the hosts that do not take "
               "proxy_url\n"
               "x.yaml:4:30: proxy_from_environment and proxy_url cannot both be set\n"
               "x.yaml:6:17: proxy_from_environment and proxy_url cannot both be set\n"
               "x.yaml:8:16: proxy_from_environment and no_proxy cannot both be set: no_proxy "
               "is for proxy_url (the environment's NO_PROXY goes with its proxies)\n"
               "x.yaml:9:71: proxy_connect_header needs proxy_url or proxy_from_environment\n"
               "x.yaml:15:7: bad proxy_connect_header name \"bad name\": expected an HTTP token "
               "(letters, digits, !#$%&'*+-.^_`|~)\n"
               "x.yaml:16:17: proxy_connect_header \"X-Break\" value contains a line break\n"
               "x.yaml:17:14: proxy_connect_header \"X-Map\" value must be a string, not a "
               "mapping\n"
               "x.yaml:18:16: proxy_connect_header \"X-Null\" value has no value (expected a "
               "string)\n"
               "x.yaml:20:7: duplicate header name \"X-Dup\" (first at line 19)\n"
               "x.yaml:21:70: proxy_connect_header must be a mapping of names to values, not "
               "a sequence\n"
               "x.yaml:22:58: no_proxy must be a string of hosts separated by commas, not a "
               "sequence\n"
               "x.yaml:23:41: skip_resolve_phase_with_proxy applies to http probes only\n");
}

/* Go's no_proxy rules (golang.org/x/net/http/httpproxy), which blackbox's
 * client follows: true where the request takes the proxy. */
Test(probe_config, no_proxy_rules)
{
    static const struct {
        const char *no_proxy, *host, *port;
        bool proxied;
    } cases[] = {
        {NULL, "example.com", "80", true},
        {"", "example.com", "80", true},
        {NULL, "localhost", "80", false},  /* never proxied, whatever no_proxy says */
        {NULL, "127.0.0.53", "80", false},
        {NULL, "::1", "443", false},
        {NULL, "::ffff:127.0.0.1", "443", false},
        {NULL, "LOCALHOST", "80", true},   /* Go compares it as is */
        {"*", "example.com", "80", false},
        {"a.test, *", "example.com", "80", false},
        {"example.com", "example.com", "80", false},
        {"example.com", "www.example.com", "80", false},
        {"example.com", "notexample.com", "80", true},
        {".example.com", "example.com", "80", true},
        {".example.com", "www.example.com", "80", false},
        {"*.example.com", "example.com", "80", true},
        {"*.example.com", "a.b.example.com", "443", false},
        {" Example.COM ", "www.EXAMPLE.com", "80", false},
        {"example.com:443", "example.com", "443", false},
        {"example.com:443", "example.com", "80", true},
        {"10.0.0.0/8", "10.1.2.3", "80", false},
        {"10.0.0.0/8", "11.1.2.3", "80", true},
        {"10.0.0.0/8", "::ffff:10.1.2.3", "80", false},
        {"fd00::/8", "fd12::1", "80", false},
        {"fd00::/8", "fe80::1", "80", true},
        {"::ffff:10.0.0.0/104", "10.1.2.3", "80", true}, /* an IPv6 net: no IPv4 in it */
        {"10.1.2.3", "10.1.2.3", "8080", false},
        {"10.1.2.3:8080", "10.1.2.3", "8080", false},
        {"10.1.2.3:8080", "10.1.2.3", "80", true},
        {"[fd00::1]:443", "fd00::1", "443", false},
        {"fd00::1", "fd00::1", "443", false},
        {":80", "example.com", "80", true}, /* no host: ignored */
        {"0.1", "10.0.0.1", "80", false},   /* a name to Go, and a suffix */
        {"a.test,,b.test", "b.test", "80", false},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_eq(tp_http_use_proxy(cases[i].no_proxy, cases[i].host, cases[i].port),
                     cases[i].proxied, "no_proxy %s, %s:%s: want %s",
                     cases[i].no_proxy ? cases[i].no_proxy : "(none)", cases[i].host,
                     cases[i].port, cases[i].proxied ? "proxied" : "direct");
}

/* The dns kind's keys: blackbox's defaults, what is written, and every
 * mistake where it was written. */
Test(probe_config, dns_keys_take_blackboxs_defaults_and_name_each_mistake)
{
    struct tp_config cfg;
    const struct tp_dns_opts *o;

    ut_put("x.yaml", "probes:\n"
                  "  - {name: d, kind: dns, target: 10.0.0.53, query_name: www.example.com}\n"
                  "  - name: e\n"
                  "    kind: dns\n"
                  "    target: 'fd00::53'\n"
                  "    query_name: example.com.\n"
                  "    query_type: SOA\n"
                  "    query_class: CH\n"
                  "    recursion_desired: false\n"
                  "    transport_protocol: tcp\n"
                  "    dns_over_tls: true\n"
                  "    valid_rcodes: [NXDOMAIN, SERVFAIL]\n"
                  "    edns0_buffer_size: 1232\n"
                  "    tcp_fallback: false\n"
                  "    validate_answer_rrs:\n"
                  "      fail_if_matches_regexp: a\n"
                  "      fail_if_not_matches_regexp: [b, c]\n"
                  "    validate_additional_rrs: {fail_if_none_matches_regexp: [d]}\n");
    load_ok("x.yaml", &cfg);
    cr_assert_eq(cfg.ndefs, 2);
    o = cfg.defs[0].opts;
    cr_assert_str_eq(o->qname, "www.example.com");
    cr_assert_eq(o->qtype, 255); /* ANY */
    cr_assert_eq(o->qclass, 1);
    cr_assert(o->rd && !o->tcp && !o->dot && o->tcp_fallback);
    cr_assert_eq(o->nrcodes, 1);
    cr_assert_eq(o->rcodes[0], 0);
    cr_assert_eq(o->edns, 0);
    o = cfg.defs[1].opts;
    cr_assert_eq(o->qtype, 6);
    cr_assert_eq(o->qclass, 3);
    cr_assert(!o->rd && o->tcp && o->dot && !o->tcp_fallback);
    cr_assert_eq(o->nrcodes, 2);
    cr_assert(o->rcodes[0] == 3 && o->rcodes[1] == 2);
    cr_assert_eq(o->edns, 1232);
    cr_assert_eq(o->check[0].n[TP_RR_MATCHES], 1);
    cr_assert_eq(o->check[0].n[TP_RR_NOT_MATCHES], 2);
    cr_assert_eq(o->check[2].n[TP_RR_NONE_MATCHES], 1);
    cr_assert_eq(o->check[1].n[TP_RR_MATCHES], 0);
    tp_config_free(&cfg);

    ut_put("x.yaml",
        "probes:\n"
        "  - {name: a, kind: dns, target: 10.0.0.1}\n"
        "  - {name: b, kind: dns, target: 10.0.0.1, query_name: x, query_type: AA, query_class: a}\n"
        "  - {name: c, kind: dns, target: 10.0.0.1, query_name: 'a..b', valid_rcodes: [NOPE]}\n"
        "  - {name: d, kind: dns, target: 10.0.0.1, query_name: x, dns_over_tls: true}\n"
        "  - {name: e, kind: dns, target: 'fd00::zz', query_name: x, edns0_buffer_size: 5}\n"
        "  - {name: f, kind: dns, target: 10.0.0.1, query_name: x,\n"
        "     validate_answer_rrs: {fail_if_matches: [x], fail_if_none_matches_regexp: ['(']}}\n"
        "  - {name: g, kind: dns, target: 10.0.0.1, query_name: x, validate_answer_rrs: [x]}\n"
        "  - {name: h, kind: dns, target: '10.0.0.1:0', query_name: x, transport_protocol: "
        "sctp}\n");
    load_fails("x.yaml",
               "x.yaml:2:5: a dns probe needs query_name (the name to ask the server about)\n"
               "x.yaml:3:71: unknown query_type \"AA\" (expected a record type in capitals: A, "
               "AAAA, MX, TXT, SOA, ANY...)\n"
               "x.yaml:3:88: unknown query_class \"a\" (expected IN, CH, HS, CS, NONE or ANY)\n"
               "x.yaml:4:56: bad query_name \"a..b\": expected a DNS name (labels of 1 to 63 "
               "bytes, 255 in all)\n"
               "x.yaml:4:79: unknown rcode \"NOPE\" in valid_rcodes (expected NOERROR, NXDOMAIN, "
               "SERVFAIL, REFUSED...)\n"
               "x.yaml:5:5: dns_over_tls needs transport_protocol: tcp\n"
               "x.yaml:6:34: bad dns target \"fd00::zz\": bad IPv6 address\n"
               "x.yaml:6:80: edns0_buffer_size must be 0 (no EDNS) or 512 to 65535, not 5\n"
               "x.yaml:8:28: unknown key \"fail_if_matches\" in validate_answer_rrs (expected "
               "fail_if_matches_regexp, fail_if_all_match_regexp, fail_if_not_matches_regexp "
               "or fail_if_none_matches_regexp)\n"
               "x.yaml:8:80: bad validate_answer_rrs.fail_if_none_matches_regexp regex \"(\": "
               "missing closing parenthesis at offset 1\n"
               "x.yaml:9:80: validate_answer_rrs must be a mapping, not a sequence\n"
               "x.yaml:10:34: bad dns target \"10.0.0.1:0\": bad port (expected 1 to 65535)\n"
               "x.yaml:10:83: bad transport_protocol \"sctp\" (expected udp or tcp)\n");
}

/* --shard I/N: the hash is pinned (the same on every host, every build:
 * docs/PROBE.md gives it in Python), and N shards of one config are
 * disjoint, whole and about even. */
Test(probe_config, shards_split_the_targets_disjointly_evenly_and_stably)
{
    struct tp_shard sh;
    struct tp_config c[3];
    FILE *f;
    size_t total = 0;

    cr_assert_eq(tp_shard_hash("web", "http://10.0.0.1/"), 0xc0e6fb7bb1524da2ull);
    cr_assert_eq(tp_shard_of("web", "http://10.0.0.1/", 2), 2);
    cr_assert_eq(tp_shard_of("db", "10.0.0.5:5432", 3), 3);
    cr_assert_eq(tp_shard_parse("2/3", &sh), 0);
    cr_assert(sh.index == 2 && sh.count == 3);
    static const char *const bad[] = {"", "1", "0/2", "3/2", "1/0", "1/x", "x/2", "-1/2",
                                      "1/2/3", "1/65537", " 1/2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(tp_shard_parse(bad[i], &sh), -EINVAL, "%s accepted", bad[i]);

    cr_assert_not_null(f = fopen("t.txt", "w"));
    for (int i = 0; i < 10000; i++)
        fprintf(f, "10.%d.%d.%d:80 n=%d\n", i / 62500, i / 250 % 250, i % 250 + 1, i);
    cr_assert_eq(fclose(f), 0);
    ut_put("x.yaml", "probes:\n  - {name: a, kind: tcp, targets_file: t.txt}\n"
                  "  - {name: b, kind: tcp, target: '10.0.0.1:80'}\n");
    for (unsigned k = 0; k < 3; k++) {
        load_ok("x.yaml", &c[k]);
        tp_config_shard(&c[k], &(struct tp_shard){k + 1, 3});
        total += c[k].ntargets;
        cr_assert(c[k].ntargets > 3100 && c[k].ntargets < 3570, "shard %u: %zu targets", k + 1,
                  c[k].ntargets);
        for (size_t i = 0; i < c[k].defs[0].ntargets; i++) { /* labels stay with their line */
            const char *t = c[k].defs[0].targets[i];
            char want[32];
            int n = atoi(c[k].defs[0].tlabels[i].kv[0].value);
            snprintf(want, sizeof(want), "10.%d.%d.%d:80", n / 62500, n / 250 % 250, n % 250 + 1);
            cr_assert_str_eq(t, want);
            cr_assert_eq(tp_shard_of("a", t, 3), k + 1);
        }
    }
    cr_assert_eq(total, 10001, "the shards hold %zu of 10,001 targets", total);
    for (unsigned k = 0; k < 3; k++)
        tp_config_free(&c[k]);
}

