/* twkit probe: the address family keys (preferred_ip_protocol,
 * ip_protocol_fallback, source_ip_address) as the loader takes and refuses
 * them, blackbox_exporter's probe_ip_addr_hash, and which Accept-Encoding
 * headers get /metrics gzip-compressed. Each test runs in a temporary
 * directory of its own (its working directory while it runs). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpcwd.h"
#include "probe/gzip.h"
#include "probe/ipproto.h"
#include "probe/probe.h"

static void setup(void) { ut_cwd_enter("tp_ip"); }
static void teardown(void) { ut_cwd_leave(); }

TestSuite(probe_ipproto, .init = setup, .fini = teardown, .timeout = 30);

static void put(const char *text)
{
    FILE *f = fopen("x.yaml", "w");

    cr_assert_not_null(f, "x.yaml: %s", strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* Load x.yaml; *errs gets what was printed (caller frees). */
static int load(struct tp_config *cfg, char **errs)
{
    size_t len;
    FILE *f = open_memstream(errs, &len);
    int rc;

    cr_assert_not_null(f);
    rc = tp_config_load("x.yaml", cfg, f);
    fclose(f);
    return rc;
}

static void load_ok(struct tp_config *cfg)
{
    char *errs;
    int rc = load(cfg, &errs);

    cr_expect_str_eq(errs, "", "errors:\n%s", errs);
    free(errs);
    cr_assert_eq(rc, 0, "rc %d", rc);
}

static void load_fails(const char *want)
{
    struct tp_config cfg;
    char *errs;
    int rc = load(&cfg, &errs), lines = 0;

    for (const char *p = want; *p; p++)
        lines += *p == '\n';
    cr_expect_str_eq(errs, want, "got:\n%s\nwant:\n%s", errs, want);
    free(errs);
    cr_assert_eq(rc, lines, "rc %d for %d lines", rc, lines);
}

static const struct tp_def *def_named(const struct tp_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ndefs; i++)
        if (!strcmp(cfg->defs[i].name, name))
            return &cfg->defs[i];
    cr_assert_fail("no probe %s", name);
    return NULL;
}

static const char *host_of(const tw_addr *a, char *buf, size_t len)
{
    return a->len ? tw_addr_host(a, buf, len) : "";
}

Test(probe_ipproto, defaults_are_blackbox_exporters_and_keys_override_them)
{
    struct tp_config cfg;
    const struct tp_def *d;
    char b[TW_ADDRSTRLEN];

    put("probes:\n"
        "  - {name: plain, kind: tcp, target: 'h:1'}\n"
        "  - {name: v4, kind: http, target: 'http://h/', preferred_ip_protocol: ip4,\n"
        "     ip_protocol_fallback: false, source_ip_address: 10.0.0.7}\n"
        "  - {name: v6, kind: tls, target: 'h', preferred_ip_protocol: ip6,\n"
        "     ip_protocol_fallback: yes, source_ip_address: '2001:db8::1'}\n");
    load_ok(&cfg);
    d = def_named(&cfg, "plain");
    cr_assert_eq(tp_def_ip_prefer(d), AF_INET6, "blackbox_exporter prefers ip6");
    cr_assert_not(d->ip_no_fallback, "and falls back by default");
    cr_assert_eq(d->source.len, 0);
    d = def_named(&cfg, "v4");
    cr_assert_eq(tp_def_ip_prefer(d), AF_INET);
    cr_assert(d->ip_no_fallback);
    cr_assert_str_eq(host_of(&d->source, b, sizeof(b)), "10.0.0.7");
    cr_assert_eq(tw_addr_port(&d->source), 0);
    d = def_named(&cfg, "v6");
    cr_assert_eq(tp_def_ip_prefer(d), AF_INET6);
    cr_assert_not(d->ip_no_fallback);
    cr_assert_str_eq(host_of(&d->source, b, sizeof(b)), "2001:db8::1");
    tp_config_free(&cfg);
}

Test(probe_ipproto, defaults_set_them_and_a_probe_replaces_them)
{
    struct tp_config cfg;
    const struct tp_def *d;
    char b[TW_ADDRSTRLEN];

    put("defaults:\n"
        "  preferred_ip_protocol: ip4\n"
        "  ip_protocol_fallback: false\n"
        "  source_ip_address: 127.0.0.2\n"
        "probes:\n"
        "  - {name: inherits, kind: tcp, target: 'h:1'}\n"
        "  - {name: own, kind: tcp, target: 'h:1', preferred_ip_protocol: ip6,\n"
        "     ip_protocol_fallback: true, source_ip_address: '::1'}\n");
    load_ok(&cfg);
    d = def_named(&cfg, "inherits");
    cr_assert_eq(tp_def_ip_prefer(d), AF_INET);
    cr_assert(d->ip_no_fallback);
    cr_assert_str_eq(host_of(&d->source, b, sizeof(b)), "127.0.0.2");
    d = def_named(&cfg, "own");
    cr_assert_eq(tp_def_ip_prefer(d), AF_INET6);
    cr_assert_not(d->ip_no_fallback);
    cr_assert_str_eq(host_of(&d->source, b, sizeof(b)), "::1");
    tp_config_free(&cfg);
}

Test(probe_ipproto, bad_values_are_errors_where_they_are_written)
{
    put("probes:\n"
        "  - {name: a, kind: tcp, target: 'h:1', preferred_ip_protocol: IP6}\n"
        "  - {name: b, kind: tcp, target: 'h:1', preferred_ip_protocol: ''}\n"
        "  - {name: c, kind: tcp, target: 'h:1', ip_protocol_fallback: maybe}\n"
        "  - {name: d, kind: tcp, target: 'h:1', source_ip_address: '10.0.0.1:80'}\n"
        "  - {name: e, kind: tcp, target: 'h:1', source_ip_address: '[::1]'}\n"
        "  - {name: f, kind: tcp, target: 'h:1', source_ip_address: 'localhost'}\n"
        "  - {name: g, kind: tcp, target: 'h:1', source_ip_address: 'fe80::1%lo'}\n"
        "  - {name: h, kind: tcp, target: 'h:1', source_ip_address: [10.0.0.1]}\n");
    load_fails("x.yaml:2:64: bad preferred_ip_protocol \"IP6\": expected ip4 or ip6\n"
               "x.yaml:3:64: bad preferred_ip_protocol \"\": expected ip4 or ip6\n"
               "x.yaml:4:63: bad ip_protocol_fallback \"maybe\": expected true or false\n"
               "x.yaml:5:60: bad source_ip_address \"10.0.0.1:80\": expected an IPv4 or IPv6 "
               "address (no port)\n"
               "x.yaml:6:60: bad source_ip_address \"[::1]\": expected an IPv4 or IPv6 address "
               "(no port)\n"
               "x.yaml:7:60: bad source_ip_address \"localhost\": expected an IPv4 or IPv6 "
               "address (no port)\n"
               "x.yaml:8:60: bad source_ip_address \"fe80::1%lo\": expected an IPv4 or IPv6 "
               "address (no port)\n"
               "x.yaml:9:60: source_ip_address must be an IPv4 or IPv6 address, not a "
               "sequence\n");
}

static tw_addr addr(const char *s)
{
    tw_addr a;

    cr_assert_eq(tw_addr_parse(&a, s, 0), 0, "%s", s);
    return a;
}

Test(probe_ipproto, the_address_hash_is_blackbox_exporters)
{
    /* the values blackbox_exporter 0.23 reports for these targets */
    tw_addr a = addr("127.0.0.1"), b = addr("::1"), c = addr("::ffff:127.0.0.1");
    struct tp_result r;

    cr_assert_eq(tp_ip_hash(&a), 3668918509u);
    cr_assert_eq(tp_ip_hash(&b), 1751717746u);
    cr_assert_eq(tp_ip_hash(&c), 3668918509u, "an IPv4-mapped address hashes as IPv4");
    cr_assert(tp_addr_is_ipv4(&a));
    cr_assert_not(tp_addr_is_ipv4(&b));
    cr_assert(tp_addr_is_ipv4(&c));
    memset(&r, 0, sizeof(r));
    tp_result_addr(&r, &c);
    cr_assert_eq(r.ip_protocol, 4);
    tp_result_addr(&r, &b);
    cr_assert_eq(r.ip_protocol, 6);
    cr_assert_eq(r.ip_hash, 1751717746u);
}

/* A request with Accept-Encoding headers vals (NULL-terminated). */
static bool accepts(const char *const *vals)
{
    static struct tw_http_req req;

    memset(&req, 0, sizeof(req));
    for (; *vals; vals++) {
        struct tw_http_header *h = &req.headers[req.nheaders++];
        h->name = req.nheaders % 2 ? "Accept-Encoding" : "accept-encoding";
        h->name_len = 15;
        h->value = *vals;
        h->value_len = (uint32_t)strlen(*vals);
    }
    req.headers[req.nheaders].name = "Accept";
    req.headers[req.nheaders].name_len = 6;
    req.headers[req.nheaders].value = "gzip";
    req.headers[req.nheaders++].value_len = 4;
    return tp_accepts_gzip(&req);
}

#define YES(...) cr_assert(accepts((const char *const[]){__VA_ARGS__, NULL}), #__VA_ARGS__)
#define NO(...) cr_assert_not(accepts((const char *const[]){__VA_ARGS__, NULL}), #__VA_ARGS__)

Test(probe_ipproto, gzip_goes_to_those_that_accept_it)
{
    cr_assert_not(accepts((const char *const[]){NULL}), "no Accept-Encoding: identity");
    YES("gzip");
    YES("GZip");
    YES("x-gzip");
    YES("deflate, gzip");
    YES("gzip;q=0.5");
    YES("gzip ; q=1.000");
    YES("identity;q=1, *;q=0.1");
    YES("br", "gzip"); /* two headers are one list */
    YES("gzip, deflate, br"); /* curl --compressed */
    YES("gzip;q=0.001");
    NO("");
    NO("br, deflate");
    NO("gzip;q=0");
    NO("gzip; q=0.000");
    NO("gzip;Q=0, *");
    NO("*;q=0");
    NO("identity");
    NO("gzipx, xgzip");
}
