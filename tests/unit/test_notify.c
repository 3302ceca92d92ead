/* Notifications without a network (docs/PROBE.md, "Notifications"): the
 * `notify:` and `health:` sections as they load and the exact message for
 * each kind of mistake; the after thread's ring (order, the CONFIG first,
 * a full ring dropping and counting, never blocking); secrets blanked out
 * of text; what the formats write. The lab suite (tests/lab/
 * test_probe_notify.c) sends to real receivers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/after.h"
#include "probe/notify.h"
#include "probe/probe.h"
#include "tmpcwd.h"

static void setup(void) { ut_cwd_enter("tp_notify"); }
static void teardown(void) { ut_cwd_leave(); }

TestSuite(notify_unit, .init = setup, .fini = teardown, .timeout = 60);

static int load(const char *text, struct tp_config *cfg, char **errs)
{
    size_t len;
    FILE *f = open_memstream(errs, &len);
    int rc;

    cr_assert_not_null(f);
    ut_put("x.yaml", text);
    rc = tp_config_load("x.yaml", cfg, f);
    fclose(f);
    return rc;
}

static void load_ok(const char *text, struct tp_config *cfg)
{
    char *errs;
    int rc = load(text, cfg, &errs);

    cr_expect_str_eq(errs, "", "errors:\n%s", errs);
    free(errs);
    cr_assert_eq(rc, 0, "rc %d", rc);
}

static void load_fails(const char *text, const char *want)
{
    struct tp_config cfg;
    char *errs;
    int rc = load(text, &cfg, &errs), lines = 0;

    for (const char *p = want; *p; p++)
        lines += *p == '\n';
    cr_expect_str_eq(errs, want, "got:\n%s\nwant:\n%s", errs, want);
    free(errs);
    cr_assert_eq(rc, lines, "rc %d for %d lines", rc, lines);
    cr_assert_null(cfg.notify);
}

/* ---- loading ---- */

Test(notify_unit, channels_load_with_their_defaults_secrets_and_selections)
{
    struct tp_config cfg;
    const struct tp_chan *ch;

    ut_put("hook.url", "https://hooks.example.com/services/T0/B0/xyz\n\n");
    setenv("TWT_UNIT_TOKEN", "123:abc", 1);
    load_ok("defaults:\n"
            "  notify: [ops, am]\n"
            "notify:\n"
            "  - {name: ops, kind: webhook, url: 'http://127.0.0.1:9000/h', headers: {X-A: b}}\n"
            "  - {name: sl, kind: slack, url_file: hook.url, min_interval: 1m, jitter: 0.5}\n"
            "  - {name: tg, kind: telegram, token_env: TWT_UNIT_TOKEN, chat_id: '-100',\n"
            "     retries: 0, jitter: 5%}\n"
            "  - {name: mail, kind: email, url: 'smtps://smtp.example.com', from: a@example.com,\n"
            "     to: b@example.com, username: u, password: p, starttls: try}\n"
            "  - {name: am, kind: alertmanager, url: 'http://am:9093', resolve_timeout: 2m,\n"
            "     labels: {severity: page}, backoff: 100ms, backoff_max: 2s, timeout: 3s}\n"
            "health: {local_errors: 10, window: 30s, notify: [ops]}\n"
            "probes:\n"
            "  - {name: a, kind: tcp, target: 'h:1'}\n"
            "  - {name: b, kind: tcp, target: 'h:2', notify: [tg, sl]}\n"
            "  - {name: c, kind: tcp, target: 'h:3', notify: []}\n"
            "  - {name: d, kind: tcp, target: 'h:4', notify: mail}\n",
            &cfg);
    cr_assert_not_null(cfg.notify);
    cr_assert_eq(cfg.notify->nchans, 5);
    ch = tp_notify_chan(cfg.notify, "ops");
    cr_assert_str_eq(ch->kind->name, "webhook");
    cr_assert_eq(ch->retries, 8);
    cr_assert_eq(ch->backoff_ms, 1000);
    cr_assert_eq(ch->backoff_max_ms, 60000);
    cr_assert_eq(ch->jitter_pct, 20);
    cr_assert_eq(ch->timeout_ms, 10000);
    cr_assert_eq(ch->min_interval_ms, 0);
    cr_assert(ch->tls_verify);
    cr_assert_eq(ch->nheaders, 1);
    cr_assert_str_eq(ch->headers[0].key, "X-A");
    ch = tp_notify_chan(cfg.notify, "sl");
    cr_assert_str_eq(ch->url, "https://hooks.example.com/services/T0/B0/xyz", "the file, trimmed");
    cr_assert_eq(ch->min_interval_ms, 60000);
    cr_assert_eq(ch->jitter_pct, 50);
    ch = tp_notify_chan(cfg.notify, "tg");
    cr_assert_str_eq(ch->token, "123:abc");
    cr_assert_str_eq(ch->chat_id, "-100");
    cr_assert_str_eq(ch->api_url, "https://api.telegram.org");
    cr_assert_eq(ch->retries, 0);
    cr_assert_eq(ch->jitter_pct, 5);
    ch = tp_notify_chan(cfg.notify, "mail");
    cr_assert_eq(ch->starttls, TP_STARTTLS_TRY);
    cr_assert_eq(ch->nto, 1);
    cr_assert_str_eq(ch->password, "p");
    ch = tp_notify_chan(cfg.notify, "am");
    cr_assert_eq(ch->repeat_ms, 60000, "min(5m, resolve_timeout / 2)");
    cr_assert_eq(ch->nlabels, 1);
    cr_assert_eq(cfg.notify->health.local_errors, 10);
    cr_assert_eq(cfg.notify->health.window_ms, 30000);
    cr_assert_eq(cfg.notify->health.nchans, 1);
    cr_assert_eq(cfg.notify->health.chans[0], 0);
    /* a: from defaults; b: its own; c: none; d: one name alone */
    cr_assert_eq(cfg.defs[0].nnotify, 2);
    cr_assert_eq(cfg.defs[0].notify[0].idx, 0);
    cr_assert_eq(cfg.defs[0].notify[1].idx, 4);
    cr_assert_eq(cfg.defs[1].nnotify, 2);
    cr_assert_eq(cfg.defs[1].notify[0].idx, 2);
    cr_assert_eq(cfg.defs[1].notify[1].idx, 1);
    cr_assert_eq(cfg.defs[2].nnotify, 0);
    cr_assert_eq(cfg.defs[3].nnotify, 1);
    cr_assert_eq(cfg.defs[3].notify[0].idx, 3);
    tp_config_free(&cfg);
    unsetenv("TWT_UNIT_TOKEN");
}

Test(notify_unit, the_shape_of_the_issue_loads_as_written)
{
    struct tp_config cfg;

    load_ok("defaults:\n"
            "  interval: 5s\n"
            "notify:\n"
            "  - name: ops\n"
            "    kind: webhook            # also slack, discord, teams, telegram, email, "
            "alertmanager\n"
            "    url: http://127.0.0.1:9000/hook\n"
            "probes:\n"
            "  - name: db\n"
            "    kind: tcp\n"
            "    target: 127.0.0.1:5432\n"
            "    notify: [ops]\n",
            &cfg);
    cr_assert_eq(cfg.defs[0].nnotify, 1);
    cr_assert_eq(cfg.defs[0].notify[0].idx, 0);
    tp_config_free(&cfg);
}

Test(notify_unit, unknown_channels_are_errors_where_they_are_named)
{
    load_fails("defaults:\n"
               "  notify: [opz]\n"
               "notify:\n"
               "  - {name: ops, kind: webhook, url: 'http://h/'}\n"
               "health: {notify: [nope]}\n"
               "probes:\n"
               "  - {name: a, kind: tcp, target: 'h:1'}\n"
               "  - {name: b, kind: tcp, target: 'h:1', notify: [ops, xyz]}\n"
               "  - {name: c, kind: tcp, target: 'h:1', notify: [ops, ops]}\n",
               "x.yaml:2:12: unknown notify channel \"opz\" (did you mean ops?)\n"
               "x.yaml:5:19: unknown notify channel \"nope\"\n"
               "x.yaml:8:55: unknown notify channel \"xyz\"\n"
               "x.yaml:9:55: channel \"ops\" is in notify twice\n");
    load_fails("probes:\n"
               "  - {name: a, kind: tcp, target: 'h:1', notify: ops}\n",
               "x.yaml:2:49: unknown notify channel \"ops\" (no channels: see the notify section)\n");
}

Test(notify_unit, every_mistake_in_a_channel_has_its_line)
{
    setenv("TWT_UNIT_EMPTY", "", 1);
    unsetenv("TWT_UNIT_UNSET");
    ut_put("empty.url", "\n");
    load_fails("notify:\n"
               "  - {name: a, kind: webhook}\n"
               "  - {name: b, kind: sms, url: 'http://h/'}\n"
               "  - {name: c, kind: slack, url: 'http://h/', token: x}\n"
               "  - {name: d, kind: discord, url: 'http://h/', url_file: empty.url}\n"
               "  - {name: e, kind: teams, url_env: TWT_UNIT_UNSET}\n"
               "  - {name: f, kind: teams, url_env: TWT_UNIT_EMPTY}\n"
               "  - {name: g, kind: teams, url_file: empty.url}\n"
               "  - {name: h, kind: webhook, url: 'ftp://secret@h/'}\n"
               "  - {name: a, kind: telegram}\n"
               "  - {name: j, kind: email, url: 'smtp://h'}\n"
               "  - {kind: webhook, url: 'http://h/', jitter: 2}\n"
               "  - {name: 'k k', kind: webhook, url: 'http://h/', retires: 1}\n"
               "  - {name: l, kind: alertmanager, url: 'http://h/', labels: {alertname: x, "
               "1a: b}}\n"
               "  - {name: m, kind: webhook, url: 'http://h/', backoff: 2s, backoff_max: 1s}\n"
               "probes:\n"
               "  - {name: p, kind: tcp, target: 'h:1'}\n",
               "x.yaml:2:5: channel \"a\" has no url (or url_file, url_env)\n"
               "x.yaml:3:21: unknown channel kind \"sms\" (expected webhook, slack, discord, "
               "teams, telegram, email or alertmanager)\n"
               "x.yaml:4:46: token applies to telegram channels only\n"
               "x.yaml:5:48: url, url_file and url_env set the same thing: write one of them\n"
               "x.yaml:6:28: url_env: the environment variable \"TWT_UNIT_UNSET\" is not set\n"
               "x.yaml:7:28: url_env: the environment variable \"TWT_UNIT_EMPTY\" is empty\n"
               "x.yaml:8:28: url_file: the file is empty\n"
               "x.yaml:9:30: url is not a http:// or https:// URL (not shown: it may hold a "
               "secret)\n"
               "x.yaml:10:5: channel \"a\" has no token (or token_file, token_env)\n"
               "x.yaml:10:5: channel \"a\" has no chat_id\n"
               "x.yaml:10:12: duplicate channel name \"a\" (first at line 2)\n"
               "x.yaml:11:5: channel \"j\" has no from\n"
               "x.yaml:11:5: channel \"j\" has no to\n"
               "x.yaml:12:5: a notify channel has no name\n"
               "x.yaml:12:47: bad jitter \"2\": expected a fraction from 0 to 1 (0.2) or a "
               "percentage (20%)\n"
               "x.yaml:13:12: bad channel name \"k k\": use letters, digits and _ . : -\n"
               "x.yaml:13:52: unknown key \"retires\" in notify channel (did you mean retries?)\n"
               "x.yaml:14:62: label \"alertname\" is set by twkit (alertname, probe, kind, "
               "target and about are)\n"
               "x.yaml:14:76: bad label name \"1a\": expected letters, digits and _, not "
               "starting with a digit\n"
               "x.yaml:15:61: backoff_max is less than backoff\n");
    unsetenv("TWT_UNIT_EMPTY");
}

/* ---- the ring ---- */

struct seen {
    atomic_int configs, results, states, bad_order;
    uint64_t last_seq, gen;
    char detail[64];
};

static void s_config(void *data, const struct tp_after_gen *gen)
{
    struct seen *s = data;

    atomic_fetch_add(&s->configs, 1);
    s->gen = gen->no;
    if (gen->nids != 1 || strcmp(gen->ids[0].name, "a") || strcmp(gen->ids[0].target, "h:1") ||
        tp_after_gen_find(gen, "a", "tcp", "h:1") != 0 ||
        tp_after_gen_find(gen, "a", "tcp", "h:2") != -1 ||
        gen->ids[0].hash != tp_after_id_hash("a", "tcp", "h:1"))
        atomic_fetch_add(&s->bad_order, 1);
}

static void s_event(void *data, const struct tp_after_gen *gen, const struct tp_after_ev *ev)
{
    struct seen *s = data;

    if (!atomic_load(&s->configs) || ev->gen != s->gen)
        atomic_fetch_add(&s->bad_order, 1);
    if (ev->type == TP_AEV_STATE) {
        atomic_fetch_add(&s->states, 1);
        snprintf(s->detail, sizeof(s->detail), "%s", ev->detail ? ev->detail : "");
        return;
    }
    if (ev->seq <= s->last_seq)
        atomic_fetch_add(&s->bad_order, 1);
    s->last_seq = ev->seq;
    atomic_fetch_add(&s->results, 1);
}

static void ring_with(struct tp_after **a, struct seen *s, struct tp_config *cfg,
                      struct tp_target *t)
{
    struct tp_after_sink sink = {.name = "test", .data = s, .config = s_config,
                                 .event = s_event};

    memset(s, 0, sizeof(*s));
    load_ok("probes:\n  - {name: a, kind: tcp, target: 'h:1'}\n", cfg);
    memset(t, 0, sizeof(*t));
    t->def = &cfg->defs[0];
    t->target = t->shown = cfg->defs[0].targets[0];
    cr_assert_eq(tp_after_new(NULL, a), 0);
    cr_assert_eq(tp_after_add_sink(*a, &sink), 0);
}

Test(notify_unit, the_ring_hands_over_every_event_in_order_config_first)
{
    struct tp_after *a;
    struct tp_config cfg;
    struct tp_target t;
    struct tp_result r = {.outcome = TP_FAILURE, .reason = "refused"};
    struct seen s;
    uint64_t gen;

    ring_with(&a, &s, &cfg, &t);
    cr_assert_eq(tp_after_start(a), 0);
    tp_after_config(a, &cfg, &t, 1, &gen);
    snprintf(r.detail, sizeof(r.detail), "ECONNREFUSED: Connection refused");
    for (int i = 1; i <= 300000; i++) {
        enum tp_state from = t.state;
        t.seq = (uint64_t)i;
        t.state = i == 150000 ? TP_DOWN : t.state; /* one state change */
        tp_after_result(a, 0, gen, 0, &t, &r, from);
        if (i % 20000 == 0)
            usleep(30000); /* the thread drains every 25 ms: no drop expected */
    }
    tp_after_stop(a);
    cr_assert_eq(atomic_load(&s.configs), 1);
    cr_assert_eq(atomic_load(&s.results), 300000);
    cr_assert_eq(atomic_load(&s.states), 1);
    cr_assert_str_eq(s.detail, "ECONNREFUSED: Connection refused");
    cr_assert_eq(atomic_load(&s.bad_order), 0);
    tp_after_free(a);
    tp_config_free(&cfg);
}

Test(notify_unit, a_full_ring_drops_and_counts_but_never_blocks_and_keeps_the_config)
{
    struct tp_after *a;
    struct tp_config cfg;
    struct tp_target t;
    struct tp_result r = {.outcome = TP_SUCCESS};
    struct seen s;
    uint64_t gen;
    char *text = NULL;
    size_t len;
    FILE *f;

    ring_with(&a, &s, &cfg, &t);
    /* the thread is not running yet: nothing drains */
    tp_after_config(a, &cfg, &t, 1, &gen);
    for (int i = 1; i <= 70000; i++) {
        t.seq = (uint64_t)i;
        tp_after_result(a, 0, gen, 0, &t, &r, t.state);
    }
    f = open_memstream(&text, &len);
    tp_after_metrics(a, f);
    fclose(f);
    /* results fill 65,536 slots less the 16 kept for CONFIG events, and
     * the CONFIG took one of those */
    cr_assert_not_null(strstr(text, "\ntwkit_probe_after_ring_dropped_total 4481\n"), "%s", text);
    cr_assert_not_null(strstr(text, "\ntwkit_probe_after_ring_pending 65520\n"), "%s", text);
    free(text);
    cr_assert_eq(tp_after_start(a), 0);
    tp_after_stop(a);
    cr_assert_eq(atomic_load(&s.configs), 1);
    cr_assert_eq(atomic_load(&s.results), 65519, "the first ones, in order");
    cr_assert_eq(s.last_seq, 65519);
    cr_assert_eq(atomic_load(&s.bad_order), 0);
    tp_after_free(a);
    tp_config_free(&cfg);
}

Test(notify_unit, identities_hash_their_three_parts_apart)
{
    cr_assert_neq(tp_after_id_hash("a", "tcp", "h:1"), tp_after_id_hash("a", "tcp", "h:2"));
    cr_assert_neq(tp_after_id_hash("ab", "tcp", "c"), tp_after_id_hash("a", "btcp", "c"));
}

/* ---- secrets and formats ---- */

Test(notify_unit, secrets_are_blanked_out_of_any_text)
{
    struct tp_chan ch = {.name = "x",
                         .url = "https://u:pass1234@hooks.example.com/services/T0/SECRETPATH?t=QTOKEN",
                         .token = "123456:ABCDEF", .password = "hunter22"};
    char text[400];

    snprintf(text, sizeof(text), "POST %s failed; path /services/T0/SECRETPATH; t=QTOKEN; "
             "pass1234; bot123456:ABCDEF; hunter22 ok", ch.url);
    tp_chan_scrub(&ch, text);
    cr_assert_null(strstr(text, "SECRETPATH"), "%s", text);
    cr_assert_null(strstr(text, "QTOKEN"), "%s", text);
    cr_assert_null(strstr(text, "pass1234"), "%s", text);
    cr_assert_null(strstr(text, "ABCDEF"), "%s", text);
    cr_assert_null(strstr(text, "hunter22"), "%s", text);
    cr_assert_not_null(strstr(text, "failed"), "%s", text);
    cr_assert_not_null(strstr(text, " ok"), "%s", text);
}

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);

    cr_assert_not_null(j, "%s: %s", e.text, s);
    return j;
}

Test(notify_unit, webhook_and_alertmanager_say_what_happened_with_one_key)
{
    static const struct tp_kv labels[] = {{"team", "dba"}};
    static const struct tp_kv amlabels[] = {{"severity", "page"}};
    struct tp_chan wh = {.name = "ops", .kind = tp_chan_kind_find("webhook"),
                         .url = "http://h/hook"};
    struct tp_chan am = {.name = "am", .kind = tp_chan_kind_find("alertmanager"),
                         .url = "http://am:9093/", .labels = (struct tp_kv *)amlabels,
                         .nlabels = 1};
    struct tp_note n = {.type = TP_NOTE_STATE, .probe = "db", .kind = "tcp",
                        .target = "10.0.0.1:5432", .labels = labels, .nlabels = 1,
                        .state = "down", .previous = "up", .reason = "refused",
                        .error = "ECONNREFUSED", .detail = "ECONNREFUSED: Connection refused",
                        .time_ns = 1796195923284000000, .seq = 41, .consecutive = 3};
    struct tp_msgspec m = {0};
    char key1[96];
    json_t *j, *a;

    tp_note_key(&n, tp_after_id_hash("db", "tcp", "10.0.0.1:5432"));
    snprintf(key1, sizeof(key1), "%s", n.key);
    tp_note_key(&n, tp_after_id_hash("db", "tcp", "10.0.0.1:5432"));
    cr_assert_str_eq(n.key, key1, "the same change, the same key");
    cr_assert_not_null(strstr(n.key, "-down-1796195923284"), "%s", n.key);
    cr_assert_eq(wh.kind->build(&wh, &n, &m), 0);
    cr_assert_str_eq(m.url, "http://h/hook");
    cr_assert_str_eq(m.ctype, "application/json");
    cr_assert_not_null(m.headers[0]);
    cr_assert(!strncmp(m.headers[0], "Idempotency-Key: ", 17) && !strcmp(m.headers[0] + 17, n.key),
              "%s", m.headers[0]);
    j = parse(m.body);
    cr_assert_str_eq(json_string_value(json_object_get(j, "time")), "2026-12-02T07:18:43.284Z");
    cr_assert_str_eq(json_string_value(json_object_get(j, "key")), n.key);
    cr_assert_str_eq(json_string_value(json_object_get(j, "reason")), "refused");
    cr_assert_eq(json_integer_value(json_object_get(j, "seq")), 41);
    cr_assert_eq(json_integer_value(json_object_get(j, "version")), 1);
    cr_assert_null(json_object_get(j, "outage_s"), "only an up has an outage");
    json_decref(j);
    tp_msgspec_free(&m);

    cr_assert_eq(am.kind->build(&am, &n, &m), 0);
    cr_assert_str_eq(m.url, "http://am:9093/api/v2/alerts");
    j = parse(m.body);
    cr_assert(json_is_array(j) && json_array_size(j) == 1, "%s", m.body);
    a = json_array_get(j, 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "alertname")),
                     "TwkitProbeDown");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "probe")), "db");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "team")), "dba");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "labels"), "severity")),
                     "page");
    cr_assert_str_eq(json_string_value(json_object_get(a, "startsAt")), "2026-12-02T07:18:43.284Z");
    cr_assert_null(json_object_get(a, "endsAt"), "firing: no end");
    json_decref(j);
    tp_msgspec_free(&m);

    /* the up: the same labels, ended now, started when it went down */
    n.state = "up";
    n.previous = "down";
    n.since_ns = n.time_ns;
    n.time_ns += 2500000000;
    cr_assert_eq(am.kind->build(&am, &n, &m), 0);
    j = parse(m.body);
    a = json_array_get(j, 0);
    cr_assert_str_eq(json_string_value(json_object_get(a, "startsAt")), "2026-12-02T07:18:43.284Z");
    cr_assert_str_eq(json_string_value(json_object_get(a, "endsAt")), "2026-12-02T07:18:45.784Z");
    json_decref(j);
    tp_msgspec_free(&m);
    cr_assert_eq(wh.kind->build(&wh, &n, &m), 0);
    j = parse(m.body);
    cr_assert_str_eq(json_string_value(json_object_get(j, "down_since")),
                     "2026-12-02T07:18:43.284Z");
    cr_assert_float_eq(json_real_value(json_object_get(j, "outage_s")), 2.5, 1e-9);
    json_decref(j);
    tp_msgspec_free(&m);
}
