/* blackbox_exporter's blackbox.yml (src/probe/blackbox.c): modules become
 * definitions through the same key tables as twkit's YAML; mistakes are
 * errors at FILE:LINE:COL, modules twkit cannot run are not loaded, each
 * with its reason, and the rest run. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "probe/blackbox.h"
#include "probe/kinds.h"
#include "probe/probe.h"
#include "probe/regex.h"

/* Load text as "bb.yml"; *msgs gets everything printed (caller frees). */
static int load(const char *text, struct tp_bb_config *bb, char **msgs)
{
    size_t len;
    FILE *f = open_memstream(msgs, &len);
    int rc;

    cr_assert_not_null(f);
    rc = tp_bb_load_mem("bb.yml", text, strlen(text), bb, f);
    fclose(f);
    return rc;
}

static void load_says(const char *text, int want_rc, const char *want_msgs,
                      struct tp_bb_config *bb)
{
    char *msgs;
    int rc = load(text, bb, &msgs);

    cr_expect_str_eq(msgs, want_msgs, "got:\n%s\nwant:\n%s", msgs, want_msgs);
    free(msgs);
    cr_assert_eq(rc, want_rc, "rc %d, want %d", rc, want_rc);
}

Test(blackbox, modules_become_definitions_with_blackbox_defaults)
{
    struct tp_bb_config bb;
    const struct tp_def *d;
    const char *why;

    load_says("modules:\n"
              "  tcp_connect:\n"
              "    prober: tcp\n"
              "  slow:\n"
              "    prober: http\n"
              "    timeout: 1m30s\n",
              0, "", &bb);
    cr_assert_eq(bb.cfg.ndefs, 2);
    cr_assert_eq(bb.nrejected, 0);
    d = tp_bb_module(&bb, "tcp_connect", &why);
    cr_assert_not_null(d);
    cr_assert_str_eq(d->kind->name, "tcp");
    cr_assert_eq(d->timeout_ms, 0, "no timeout: the scrape's");
    cr_assert_eq(d->ntargets, 0);
    cr_assert(d->tls_verify);
    d = tp_bb_module(&bb, "slow", &why);
    cr_assert_str_eq(d->kind->name, "http");
    cr_assert_eq(d->timeout_ms, 90000);
    cr_assert_null(tp_bb_module(&bb, "nope", &why));
    cr_assert_null(why);
    tp_bb_free(&bb);
}

Test(blackbox, a_module_twkit_cannot_run_is_not_loaded_alone_with_its_reason)
{
    struct tp_bb_config bb;
    const char *why;

    load_says("modules:\n"
              "  rpc: {prober: grpc}\n"
              "  web:\n"
              "    prober: http\n"
              "    http:\n"
              "      oauth2: {client_id: x, token_url: 'http://t/'}\n"
              "  tcp_connect: {prober: tcp}\n",
              0,
              "bb.yml:2:17: module \"rpc\" not loaded: the grpc prober is not supported by "
              "twkit\n"
              "bb.yml:6:7: module \"web\" not loaded: http option oauth2 is not supported by "
              "twkit\n",
              &bb);
    cr_assert_eq(bb.cfg.ndefs, 1);
    cr_assert_eq(bb.nrejected, 2);
    cr_assert_null(tp_bb_module(&bb, "web", &why));
    cr_assert_str_eq(why, "http option oauth2 is not supported by twkit (bb.yml:6:7)");
    cr_assert_not_null(tp_bb_module(&bb, "tcp_connect", &why));
    tp_bb_free(&bb);
}

/* blackbox's icmp options, its defaults (ttl 64) and its limits. */
Test(blackbox, icmp_modules_take_blackbox_options_and_defaults)
{
    struct tp_bb_config bb;
    const struct tp_icmp_opts *o;
    const struct tp_def *d;
    const char *why;

    load_says("modules:\n"
              "  icmp: {prober: icmp}\n"
              "  icmp_ttl5:\n"
              "    prober: icmp\n"
              "    timeout: 5s\n"
              "    icmp:\n"
              "      ttl: 5\n"
              "      payload_size: 1400\n"
              "      dont_fragment: true\n"
              "      preferred_ip_protocol: ip4\n"
              "      ip_protocol_fallback: false\n"
              "      source_ip_address: 127.0.0.1\n",
              0, "", &bb);
    cr_assert_eq(bb.cfg.ndefs, 2);
    d = tp_bb_module(&bb, "icmp", &why);
    cr_assert_not_null(d);
    cr_assert_str_eq(d->kind->name, "icmp");
    o = d->opts;
    cr_assert_eq(o->ttl, 64, "blackbox's DefaultICMPTTL");
    cr_assert_eq(o->payload_size, 0);
    cr_assert(!o->df);
    d = tp_bb_module(&bb, "icmp_ttl5", &why);
    o = d->opts;
    cr_assert_eq(o->ttl, 5);
    cr_assert_eq(o->payload_size, 1400);
    cr_assert(o->df);
    cr_assert_eq(d->timeout_ms, 5000);
    cr_assert_eq(d->ip_prefer, AF_INET);
    cr_assert(d->ip_no_fallback);
    cr_assert_eq(d->source.len, sizeof(struct sockaddr_in));
    tp_bb_free(&bb);

    load_says("modules:\n"
              "  a: {prober: icmp, icmp: {ttl: 256}}\n"
              "  b: {prober: icmp, icmp: {payload_size: 65508}}\n"
              "  c: {prober: icmp, icmp: {tll: 5}}\n"
              "  d: {prober: icmp, icmp: {query_response: []}}\n",
              4,
              "bb.yml:2:33: bad ttl \"256\": expected an integer from 0 to 255\n"
              "bb.yml:3:42: bad payload_size \"65508\": expected an integer from 0 to 65507\n"
              "bb.yml:4:28: unknown key \"tll\" in the icmp section of a blackbox module (did "
              "you mean ttl?)\n"
              "bb.yml:5:28: unknown key \"query_response\" in the icmp section of a blackbox "
              "module\n",
              &bb);
}

Test(blackbox, mistakes_are_errors_at_their_line_and_column_and_nothing_is_kept)
{
    static const struct tp_bb_config zero;
    struct tp_bb_config bb;

    load_says("modules:\n"
              "  a:\n"
              "    prober: htp\n"
              "  b:\n"
              "    prober: http\n"
              "    timeout: 5x\n"
              "    http:\n"
              "      metod: GET\n"
              "  c:\n"
              "    prober: tcp\n"
              "    http: {}\n"
              "  c:\n"
              "    prober: tcp\n"
              "  d:\n"
              "    timeout: 1s\n"
              "  e:\n"
              "    prober: tcp\n"
              "    tcp: [1]\n"
              "    retries: 3\n"
              "extra: 1\n",
              9,
              "bb.yml:3:13: unknown prober \"htp\" (expected http, tcp, dns, icmp or grpc)\n"
              "bb.yml:6:14: bad timeout \"5x\": expected a duration like 5s or 500ms\n"
              "bb.yml:8:7: unknown key \"metod\" in the http section of a blackbox module (did "
              "you mean method?)\n"
              "bb.yml:11:11: module \"c\" has a http: section, but its prober is tcp\n"
              "bb.yml:12:3: duplicate module \"c\" (first at line 9)\n"
              "bb.yml:15:5: module \"d\" has no prober (expected http, tcp, dns, icmp or grpc)\n"
              "bb.yml:18:10: tcp must be a mapping, not a sequence\n"
              "bb.yml:19:5: unknown key \"retries\" in a blackbox module\n"
              "bb.yml:20:1: unknown top-level key \"extra\" (expected modules)\n",
              &bb);
    cr_assert(!memcmp(&bb, &zero, sizeof(bb)), "modules kept after errors");
}

Test(blackbox, the_top_level_must_be_modules)
{
    struct tp_bb_config bb;

    load_says("", 1, "bb.yml:1:1: the file is empty: expected a mapping with a modules key\n",
              &bb);
    load_says("- a\n", 1,
              "bb.yml:1:1: the top level must be a mapping with a modules key, not a sequence\n",
              &bb);
    load_says("modules: []\n", 1,
              "bb.yml:1:10: modules must be a mapping of module names to modules, not a "
              "sequence\n",
              &bb);
    load_says("modules:\n", 1,
              "bb.yml:1:9: modules must be a mapping of module names to modules, not empty\n",
              &bb);
}

/* The two files Debian ships: every module is run or not loaded, with a
 * reason (docs/PROBE.md lists them). */
Test(blackbox, debians_own_files_load_every_module_or_say_why_not)
{
    static const char *const files[] = {
        "/etc/prometheus/blackbox.yml",
        "/usr/share/doc/prometheus-blackbox-exporter/examples/example.yml",
    };

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct tp_bb_config bb;
        char *msgs;
        size_t len;
        FILE *f = open_memstream(&msgs, &len);
        int rc = tp_bb_load(files[i], &bb, f);

        fclose(f);
        if (rc == -ENOENT) {
            free(msgs);
            cr_skip_test("%s: not installed (prometheus-blackbox-exporter)", files[i]);
        }
        cr_assert_eq(rc, 0, "%s: %d errors:\n%s", files[i], rc, msgs);
        for (size_t r = 0; r < bb.nrejected; r++)
            cr_assert(strstr(msgs, bb.rejected[r].name), "%s: %s not said", files[i],
                      bb.rejected[r].name);
        cr_assert_gt(bb.cfg.ndefs, 0, "%s: nothing loaded:\n%s", files[i], msgs);
        free(msgs);
        tp_bb_free(&bb);
    }
}

/* Regexes as Go's RE2 writes them, through PCRE2 (regex.h). */
Test(blackbox, regexes_mean_what_go_means)
{
    static const struct {
        const char *re, *text;
        bool match;
    } cases[] = {
        {"^+OK", "OK ready", true}, /* Go repeats an anchor: Debian's pop3s_banner */
        {"^+OK", "+OK ready", false},
        {"x$*", "x", true},
        {"\\d{3} ", "HTTP/1.1 200 OK", true},
        {"(?i)^ssh-2\\.0-", "SSH-2.0-OpenSSH", true},
        {"[]^]x", "]x", true},
        {"[^]]x", "]x", false},
        {"[[:alpha:]]+[0-9]", "ab1", true},
        {"a.*?b", "aXbYb", true},
        {"\\^+", "^^", true},
    };
    char why[200];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tp_regex re;
        int rc = tp_regex_compile(&re, cases[i].re, strlen(cases[i].re), why, sizeof(why));
        cr_assert_eq(rc, 0, "%s: %s", cases[i].re, why);
        cr_assert_eq(tp_regex_match(&re, cases[i].text, strlen(cases[i].text)), cases[i].match,
                     "%s on %s", cases[i].re, cases[i].text);
        cr_assert_str_eq(re.text, cases[i].re, "the text as written is kept");
        tp_regex_free(&re);
    }
}

/* Prometheus' proxy options, which blackbox's http prober inherits, are
 * the same key rows as in twkit's YAML: taken, and judged alike. */
Test(blackbox, the_proxy_options_are_taken)
{
    struct tp_bb_config bb;
    const struct tp_def *d;
    const struct tp_http_opts *h;
    const char *why;

    load_says("modules:\n"
              "  via_proxy:\n"
              "    prober: http\n"
              "    http:\n"
              "      proxy_url: http://proxy:3128\n"
              "      no_proxy: internal.example\n"
              "      proxy_connect_header: {X-Token: [t]}\n"
              "      skip_resolve_phase_with_proxy: true\n"
              "  from_env: {prober: http, http: {proxy_from_environment: true}}\n",
              0, "", &bb);
    d = tp_bb_module(&bb, "via_proxy", &why);
    cr_assert_not_null(d, "%s", why);
    h = d->opts;
    cr_assert_str_eq(h->no_proxy, "internal.example");
    cr_assert_eq(h->nproxy_hdrs, 1);
    cr_assert(d->no_resolve);
    d = tp_bb_module(&bb, "from_env", &why);
    cr_assert_not_null(d, "%s", why);
    cr_assert(((const struct tp_http_opts *)d->opts)->proxy_env);
    tp_bb_free(&bb);
    load_says("modules:\n"
              "  m: {prober: http, http: {no_proxy: x, proxy_connect_header: {X-A: [b]}}}\n",
              1,
              "bb.yml:2:38: no_proxy needs proxy_url: it names the hosts that do not take "
              "proxy_url\n",
              &bb);
}
