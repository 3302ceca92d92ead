/* twkit probe's http kind as blackbox_exporter's http prober, against real
 * servers on loopback: tests/lab/probe_http_targets.py (plain HTTP, HTTPS
 * with a test CA, HTTPS demanding a client certificate, TLS 1.2 only, and
 * an HTTP proxy), nghttpd for HTTP/2, and for the side-by-side check the
 * real prometheus-blackbox-exporter. Every option has a probe that passes
 * it and one that fails it; each test runs the prober once over a config
 * of many probes and reads back its JSON lines and /metrics.
 *
 * Every process is started with a parent-death signal and killed in the
 * fixture's fini; everything lives in one temporary directory.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <criterion/criterion.h>

#include "probe_lab.h"
#include "twkit/time.h"

/* the targets' ports (probe_http_targets.py) */
static unsigned p_http, p_https, p_mtls, p_proxy, p_tls12;
#define BLACKBOX "/usr/bin/prometheus-blackbox-exporter"

/* "env NAME=VALUE... " before the prober's command, or NULL */
static const char *prober_env;

/* ---- files ---- */

/* tmpdir/name, kept until teardown. */
static char *path_of(const char *name)
{
    char p[256];

    return keep(strdup(tpath(p, sizeof(p), name)));
}

/* ---- processes ---- */

/* A loopback port nobody listens on right now. */
static unsigned free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Wait until something accepts on 127.0.0.1:port. */
static void wait_port(unsigned port, const char *what)
{
    uint64_t end = tw_now_ms() + 10000;

    for (;;) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
        close(fd);
        if (rc == 0)
            return;
        cr_assert_lt(tw_now_ms(), end, "%s never listened on port %u", what, port);
        usleep(20000);
    }
}

/* ---- certificates ---- */

static EVP_PKEY *ca_key, *other_key;
static X509 *ca_cert, *other_cert;

static void save(const char *cert_name, X509 *x, const char *key_name, EVP_PKEY *k)
{
    FILE *f = fopen(path_of(cert_name), "w");

    cr_assert_not_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    cr_assert_not_null(f = fopen(path_of(key_name), "w"));
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
}

/* An ECDSA P-256 certificate named cn, signed by issuer (NULL: itself, a
 * CA), with subjectAltName san (NULL: none). */
static X509 *issue_cert(const char *cn, const char *san, X509 *issuer, EVP_PKEY *issuer_key,
                       EVP_PKEY **key_out)
{
    static long serial = 1;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_NAME *nm;

    cr_assert(pk && x, "OpenSSL: no key or certificate");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++ + (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), issuer ? 10L * 86400 : 30L * 86400);
    X509_set_pubkey(x, pk);
    nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : nm);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    if (!issuer) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                                                "critical,CA:TRUE");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    if (san) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        cr_assert_not_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    cr_assert_gt(X509_sign(x, issuer ? issuer_key : pk, EVP_sha256()), 0);
    *key_out = pk;
    return x;
}

/* ca.pem (the lab CA), server.pem for 127.0.0.1 and probe.test (not
 * localhost), client.pem for the mTLS server, and other-ca.pem, a CA that
 * signed nothing here. */
static void make_certs(void)
{
    EVP_PKEY *k;
    X509 *x;

    ca_cert = issue_cert("twkit lab CA", NULL, NULL, NULL, &ca_key);
    save("ca.pem", ca_cert, "ca.key", ca_key);
    other_cert = issue_cert("another CA", NULL, NULL, NULL, &other_key);
    save("other-ca.pem", other_cert, "other-ca.key", other_key);
    x = issue_cert("probe.test", "IP:127.0.0.1,DNS:probe.test", ca_cert, ca_key, &k);
    save("server.pem", x, "server.key", k);
    X509_free(x);
    EVP_PKEY_free(k);
    x = issue_cert("lab client", NULL, ca_cert, ca_key, &k);
    save("client.pem", x, "client.key", k);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* ---- the fixture ---- */

/* Everything runs in the test's own namespace, on its loopback. */
static void setup(void)
{
    uint64_t end;
    char *ports = NULL;

    pl_setup_here();
    make_certs();
    spawn(PL_HERE, "/usr/bin/python3 %s %s >%s/targets.log 2>&1", PROBE_HTTP_TARGETS, tmpdir,
          tmpdir);
    for (end = tw_now_ms() + 10000; tw_now_ms() < end; usleep(20000)) {
        free(ports);
        ports = read_all("ports");
        if (ports && sscanf(ports, "http=%u https=%u mtls=%u proxy=%u tls12=%u", &p_http,
                            &p_https, &p_mtls, &p_proxy, &p_tls12) == 5)
            break;
    }
    free(ports);
    cr_assert(p_tls12, "the targets did not start: %s", slurp("targets.log"));
}

static void teardown(void)
{
    pl_teardown();
    X509_free(ca_cert);
    X509_free(other_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    ca_cert = other_cert = NULL;
    ca_key = other_key = NULL;
    p_http = p_https = p_mtls = p_proxy = p_tls12 = 0;
    prober_env = NULL;
}

TestSuite(probe_http, .init = setup, .fini = teardown, .timeout = 60);

/* ---- the prober ---- */

struct outcome {
    char *log;     /* JSON lines */
    char *metrics; /* /metrics */
    char *status;  /* /status */
    char **lines;
    size_t nlines;
};

/* Probe every target of cfg (written to probes.yaml), with /metrics and
 * /status read once each has a result: nprobes results are awaited. The
 * first starts are spread over the interval, so it is short; a target
 * probed again gives the same answer. */
static FILE *cfgf;
static char *cfgbuf;
static size_t cfglen;
static int nprobes;
static const char *names[64];

/* Whether every probe of names has a result in log. */
static bool all_results(const char *log, int n)
{
    char pat[160];

    for (int i = 0; i < n; i++) {
        snprintf(pat, sizeof(pat), "\"event\":\"result\",\"name\":\"%s\",", names[i]);
        if (!strstr(log, pat))
            return false;
    }
    return true;
}

static void probe_all(const char *cfg, int want, struct outcome *o)
{
    unsigned port = free_port();
    char url[64];
    uint64_t end;
    pid_t pid;
    int status;

    write_file("probes.yaml", "defaults: {interval: 1s, timeout: 900ms}\n%s", cfg);
    remove(path_of("probe.log"));
    pid = spawn(PL_HERE, "%s%s probe --listen 127.0.0.1:%u --log-results --log %s %s 2>%s",
                prober_env ? prober_env : "", TWKIT_BIN, port,
                path_of("probe.log"), path_of("probes.yaml"), path_of("probe.err"));
    wait_port(port, "twkit probe");
    for (end = tw_now_ms() + 10000;; usleep(50000)) {
        char *log = read_all("probe.log");
        int n = count_of(log, "\"event\":\"result\"");
        bool all = all_results(log, want);
        free(log);
        if (all)
            break;
        cr_assert_lt(tw_now_ms(), end, "only %d results for %d probes:\n%s\n%s", n, want,
                     slurp("probe.log"), slurp("probe.err"));
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
    cr_assert_eq(run(PL_HERE, 5000, "curl -s -o %s %s/metrics", path_of("metrics.txt"), url), 0);
    cr_assert_eq(run(PL_HERE, 5000, "curl -s -o %s %s/status", path_of("status.json"), url), 0);
    status = stop(pid, SIGTERM, 5000);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "twkit probe: status %d: %s",
              status, slurp("probe.err"));
    o->log = slurp("probe.log");
    o->metrics = slurp("metrics.txt");
    o->status = slurp("status.json");
    o->lines = split_lines(keep(strdup(o->log)), &o->nlines);
}

/* The first result line of probe name. */
static const char *result_of(const struct outcome *o, const char *name)
{
    char v[128];

    for (size_t i = 0; i < o->nlines; i++)
        if (strstr(o->lines[i], "\"event\":\"result\"") &&
            (jstr(o->lines[i], "name", v, sizeof(v)), !strcmp(v, name)))
            return o->lines[i];
    cr_assert_fail("no result for probe %s in:\n%s", name, o->log);
    return NULL;
}

/* Probe name succeeded (reason NULL) or failed with reason. */
static void expect(const struct outcome *o, const char *name, const char *reason)
{
    const char *l = result_of(o, name);
    char v[64];

    jstr(l, "result", v, sizeof(v));
    if (!reason) {
        cr_expect_str_eq(v, "success", "%s should pass: %s", name, l);
        return;
    }
    cr_expect_str_eq(v, "failure", "%s should fail: %s", name, l);
    jstr(l, "reason", v, sizeof(v));
    cr_expect_str_eq(v, reason, "%s: reason: %s", name, l);
}

/* The value of metric{name="probe",kind="http",target="...",REST}: the
 * series of probe name, whatever its target; NaN-free. rest: more labels
 * (",phase=\"tls\"") or "". Asserts it is there. */
static double metric(const struct outcome *o, const char *family, const char *probe,
                     const char *rest)
{
    char pat[256];
    const char *p, *close;
    double v;

    snprintf(pat, sizeof(pat), "\n%s{name=\"%s\",kind=\"http\",", family, probe);
    for (p = o->metrics; (p = strstr(p, pat)); p++) {
        close = strchr(p, '}');
        if (!close)
            break;
        if (rest[0] && (size_t)(close - p) < strlen(rest))
            continue;
        if (rest[0] && strncmp(close - strlen(rest), rest, strlen(rest)))
            continue;
        cr_assert_eq(sscanf(close + 1, " %lf", &v), 1);
        return v;
    }
    cr_assert_fail("no %s of %s%s in /metrics:\n%s", family, probe, rest, o->metrics);
    return 0;
}

static bool has_metric(const struct outcome *o, const char *family, const char *probe)
{
    char pat[256];

    snprintf(pat, sizeof(pat), "\n%s{name=\"%s\",kind=\"http\",", family, probe);
    return strstr(o->metrics, pat) != NULL;
}

/* ---- configs ---- */


static void vprobe(const char *kind, const char *name, const char *fmt, va_list ap);

/* One probe line of the config being written: "- {name: NAME, kind:
 * http, REST}". */
__attribute__((format(printf, 2, 3))) static void probe(const char *name, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprobe("http", name, fmt, ap);
    va_end(ap);
}

/* The same for a probe of another kind (tls_config is the tls kind's too). */
__attribute__((format(printf, 3, 4))) static void probe_kind(const char *kind, const char *name,
                                                             const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprobe(kind, name, fmt, ap);
    va_end(ap);
}

static void vprobe(const char *kind, const char *name, const char *fmt, va_list ap)
{
    if (!cfgf) {
        cfgf = open_memstream(&cfgbuf, &cfglen);
        cr_assert_not_null(cfgf);
        fputs("probes:\n", cfgf);
        nprobes = 0;
    }
    cr_assert_lt(nprobes, 64);
    names[nprobes] = name;
    fprintf(cfgf, "  - {name: %s, kind: %s, ", name, kind);
    vfprintf(cfgf, fmt, ap);
    fputs("}\n", cfgf);
    nprobes++;
}

/* Run the probes written so far. */
static void probe_them(struct outcome *o)
{
    fclose(cfgf);
    cfgf = NULL;
    keep(cfgbuf);
    probe_all(cfgbuf, nprobes, o);
}

/* scheme://127.0.0.1:port/path, kept */
static const char *at(const char *scheme, unsigned port, const char *path)
{
    char *u;

    cr_assert_geq(asprintf(&u, "%s://127.0.0.1:%u%s", scheme, port, path), 0);
    return keep(u);
}

__attribute__((format(printf, 1, 2))) static const char *keep_fmt(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    cr_assert_geq(vasprintf(&s, fmt, ap), 0);
    va_end(ap);
    return keep(s);
}

#define H(path) at("http", p_http, path)
#define S(path) at("https", p_https, path)
#define CA "tls_config: {ca_file: ca.pem}"

/* ---- statuses, redirects, methods, versions ---- */

Test(probe_http, statuses_redirects_methods_and_versions)
{
    struct outcome o;
    unsigned h2 = free_port();
    const char *h2url = at("https", h2, "/");

    cr_assert_eq(mkdir(path_of("www"), 0755), 0);
    write_file("www/index.html", "h2\n");
    spawn(PL_HERE, "nghttpd --address=127.0.0.1 -d %s %u %s %s >/dev/null 2>&1", path_of("www"), h2,
          path_of("server.key"), path_of("server.pem"));
    wait_port(h2, "nghttpd");
    probe("ok", "target: '%s'", H("/ok"));
    probe("s404", "target: '%s'", H("/status/404"));
    probe("s404_valid", "target: '%s', valid_status_codes: [404, 410]", H("/status/404"));
    probe("s200_invalid", "target: '%s', valid_status_codes: [204]", H("/ok"));
    probe("r3", "target: '%s'", H("/redirect/3"));
    probe("r10", "target: '%s'", H("/redirect/10"));
    probe("r11", "target: '%s'", H("/redirect/11"));
    probe("r3_max2", "target: '%s', max_redirects: 2", H("/redirect/3"));
    probe("nofollow", "target: '%s', no_follow_redirects: true", H("/redirect/2"));
    probe("nofollow_302", "target: '%s', follow_redirects: false, valid_status_codes: [302]",
          H("/redirect/2"));
    probe("cookie", "target: '%s'", H("/setcookie"));
    probe("cookie_nofollow", "target: '%s', no_follow_redirects: true", H("/setcookie"));
    probe("post_302", "target: '%s', method: POST, body: abc,"
                      " fail_if_body_not_matches_regexp: ['^GET $']", H("/r302"));
    probe("post_307", "target: '%s', method: POST, body: abc,"
                      " fail_if_body_not_matches_regexp: ['^POST abc$']", H("/r307"));
    probe("post_307_bad", "target: '%s', method: POST, body: abc,"
                          " fail_if_body_not_matches_regexp: ['^GET']", H("/r307"));
    probe("head", "target: '%s', method: HEAD", H("/ok"));
    probe("v11", "target: '%s', valid_http_versions: [HTTP/1.1]", H("/ok"));
    probe("v10_bad", "target: '%s', valid_http_versions: [HTTP/1.1]", H("/http10"));
    probe("v10", "target: '%s', valid_http_versions: [HTTP/1.0, HTTP/1.1]", H("/http10"));
    probe("h2", "target: '%s', valid_http_versions: [HTTP/2.0], " CA, h2url);
    probe("h2_bad", "target: '%s', valid_http_versions: [HTTP/1.1], " CA, h2url);
    probe("h1_only", "target: '%s', enable_http2: false, " CA, h2url);
    probe("refused", "target: '%s'", at("http", free_port(), "/"));
    probe_them(&o);

    expect(&o, "ok", NULL);
    expect(&o, "s404", "status");
    expect(&o, "s404_valid", NULL);
    expect(&o, "s200_invalid", "status");
    /* blackbox follows 10 redirects; the 11th is judged as the answer */
    expect(&o, "r3", NULL);
    cr_expect_eq(metric(&o, "probe_http_redirects", "r3", ""), 3);
    expect(&o, "r10", NULL);
    cr_expect_eq(metric(&o, "probe_http_redirects", "r10", ""), 10);
    expect(&o, "r11", "status");
    cr_expect_eq(metric(&o, "probe_http_redirects", "r11", ""), 11);
    cr_expect_eq(metric(&o, "probe_http_status_code", "r11", ""), 302);
    expect(&o, "r3_max2", "status");
    cr_expect_eq(metric(&o, "probe_http_redirects", "r3_max2", ""), 3);
    /* not following still counts the redirect, as blackbox does */
    expect(&o, "nofollow", "status");
    cr_expect_eq(metric(&o, "probe_http_redirects", "nofollow", ""), 1);
    cr_expect_eq(metric(&o, "probe_http_status_code", "nofollow", ""), 302);
    expect(&o, "nofollow_302", NULL);
    /* the cookie a redirect sets goes with the next hop */
    expect(&o, "cookie", NULL);
    expect(&o, "cookie_nofollow", "status");
    /* 302 turns a POST into a GET without its body; 307 repeats it */
    expect(&o, "post_302", NULL);
    expect(&o, "post_307", NULL);
    expect(&o, "post_307_bad", "body_not_matches");
    expect(&o, "head", NULL);
    cr_expect_eq(metric(&o, "probe_http_content_length", "head", ""), 12);
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "head", ""), 0);
    expect(&o, "v11", NULL);
    cr_expect_eq(metric(&o, "probe_http_version", "v11", ""), 1.1);
    expect(&o, "v10_bad", "http_version");
    expect(&o, "v10", NULL);
    cr_expect_eq(metric(&o, "probe_http_version", "v10", ""), 1);
    expect(&o, "h2", NULL);
    cr_expect_eq(metric(&o, "probe_http_version", "h2", ""), 2);
    expect(&o, "h2_bad", "http_version");
    expect(&o, "h1_only", "eof"); /* nghttpd speaks HTTP/2 only */
    expect(&o, "refused", "refused");
    cr_expect_eq(metric(&o, "probe_http_status_code", "refused", ""), 0);
    cr_expect_eq(metric(&o, "probe_http_version", "refused", ""), 0);
    /* all five phases, always, summed over the hops */
    for (const char *const *ph = (const char *const[]){"resolve", "connect", "tls",
                                                       "processing", "transfer", NULL};
         *ph; ph++) {
        char rest[64];
        snprintf(rest, sizeof(rest), ",phase=\"%s\"", *ph);
        metric(&o, "probe_http_duration_seconds", "refused", rest);
        metric(&o, "probe_http_duration_seconds", "r10", rest);
    }
    cr_expect_gt(metric(&o, "probe_http_duration_seconds", "r10", ",phase=\"processing\""),
                 metric(&o, "probe_http_duration_seconds", "ok", ",phase=\"processing\""),
                 "eleven requests take longer than one");
}

/* ---- what the answer must look like ---- */

Test(probe_http, body_header_and_json_checks)
{
    struct outcome o;

    probe("body_bad_pass", "target: '%s', fail_if_body_matches_regexp: ['^bye', 'x{3}']",
          H("/ok"));
    probe("body_bad_fail", "target: '%s', fail_if_body_matches_regexp: ['^bye', 'wor']",
          H("/ok"));
    probe("body_good_pass", "target: '%s', fail_if_body_not_matches_regexp: ['^hello', '(?i)WORLD']",
          H("/ok"));
    probe("body_good_fail", "target: '%s', fail_if_body_not_matches_regexp: ['^hello', 'moon']",
          H("/ok"));
    probe("expect_body_too", "target: '%s', expect_body: 'hello',"
                             " fail_if_body_not_matches_regexp: ['world']", H("/ok"));
    /* X-Multi: alpha and X-Multi: beta, two header lines */
    probe("hdr_bad_pass", "target: '%s', fail_if_header_matches:"
                          " [{header: x-multi, regexp: '^gamma$'}]", H("/headers"));
    probe("hdr_bad_fail", "target: '%s', fail_if_header_matches:"
                          " [{header: X-Multi, regexp: '^beta$'}]", H("/headers"));
    probe("hdr_good_pass", "target: '%s', fail_if_header_not_matches:"
                           " [{header: X-Multi, regexp: '^beta$'}, {header: X-Single, regexp: one}]",
          H("/headers"));
    probe("hdr_good_fail", "target: '%s', fail_if_header_not_matches:"
                           " [{header: X-Multi, regexp: '^gamma$'}]", H("/headers"));
    probe("hdr_missing", "target: '%s', fail_if_header_not_matches:"
                         " [{header: X-None, regexp: x}]", H("/headers"));
    probe("hdr_missing_ok", "target: '%s', fail_if_header_not_matches:"
                            " [{header: X-None, regexp: x, allow_missing: true}]", H("/headers"));
    probe("hdr_missing_bad", "target: '%s', fail_if_header_matches:"
                             " [{header: X-None, regexp: x}]", H("/headers"));
    probe("hdr_missing_bad_ok", "target: '%s', fail_if_header_matches:"
                                " [{header: X-None, regexp: x, allow_missing: true}]",
          H("/headers"));
    probe("lastmod", "target: '%s'", H("/lastmod"));
    probe("chunked", "target: '%s'", H("/chunked"));
    /* {"status": "ok", "checks": {"db": "up", "n": 3}, "items": [{"name":
     * "a"}, {"name": "b"}], "ready": true} */
    probe("json_pass", "target: '%s', fail_if_body_json_not_matches: [{path: status, equals: ok},"
                       " {path: checks.n, equals: 3}, {path: ready, equals: 'true'},"
                       " {path: items.1.name, regexp: '^b$'}]", H("/json"));
    probe("json_value", "target: '%s', fail_if_body_json_not_matches:"
                        " [{path: checks.db, equals: down}]", H("/json"));
    probe("json_missing", "target: '%s', fail_if_body_json_not_matches:"
                          " [{path: items.5.name, equals: a}]", H("/json"));
    probe("json_regexp", "target: '%s', fail_if_body_json_not_matches:"
                         " [{path: checks.n, regexp: '^[4-9]$'}]", H("/json"));
    probe("json_invalid", "target: '%s', fail_if_body_json_not_matches:"
                          " [{path: status, equals: ok}]", H("/notjson"));
    probe_them(&o);

    expect(&o, "body_bad_pass", NULL);
    expect(&o, "body_bad_fail", "body_matches");
    expect(&o, "body_good_pass", NULL);
    expect(&o, "body_good_fail", "body_not_matches");
    expect(&o, "expect_body_too", NULL);
    cr_expect_eq(metric(&o, "probe_failed_due_to_regex", "body_bad_fail", ""), 1);
    cr_expect_eq(metric(&o, "probe_failed_due_to_regex", "body_good_pass", ""), 0);
    expect(&o, "hdr_bad_pass", NULL);
    expect(&o, "hdr_bad_fail", "header_matches");
    expect(&o, "hdr_good_pass", NULL);
    expect(&o, "hdr_good_fail", "header_not_matches");
    expect(&o, "hdr_missing", "header_missing");
    expect(&o, "hdr_missing_ok", NULL);
    expect(&o, "hdr_missing_bad", "header_missing");
    expect(&o, "hdr_missing_bad_ok", NULL);
    cr_expect_eq(metric(&o, "probe_failed_due_to_regex", "hdr_bad_fail", ""), 1);
    cr_expect_eq(metric(&o, "probe_failed_due_to_regex", "hdr_missing", ""), 1);
    /* Last-Modified only when the answer has one */
    cr_expect_eq(metric(&o, "probe_http_last_modified_timestamp_seconds", "lastmod", ""),
                 1445412480);
    cr_expect_not(has_metric(&o, "probe_http_last_modified_timestamp_seconds", "chunked"));
    cr_expect_eq(metric(&o, "probe_http_content_length", "chunked", ""), -1);
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "chunked", ""), 20);
    expect(&o, "json_pass", NULL);
    expect(&o, "json_value", "json");
    expect(&o, "json_missing", "json");
    expect(&o, "json_regexp", "json");
    expect(&o, "json_invalid", "json");
    cr_expect(strstr(result_of(&o, "json_value"), "checks.db is up, not down"), "%s",
              result_of(&o, "json_value"));
}

/* ---- compression and body_size_limit ---- */

Test(probe_http, compression_and_body_size_limit)
{
    struct outcome o;

    /* /gzip: 240 bytes as 35 of gzip; /deflate: raw DEFLATE; /br: 384 as 24 */
    probe("gzip", "target: '%s', compression: gzip, fail_if_body_not_matches_regexp: ['^hello']",
          H("/gzip"));
    probe("gzip_raw", "target: '%s'", H("/gzip"));
    probe("gzip_not", "target: '%s', compression: gzip", H("/ok"));
    probe("gzip_as_deflate", "target: '%s', compression: deflate", H("/gzip"));
    probe("deflate", "target: '%s', compression: deflate", H("/deflate"));
    probe("br", "target: '%s', compression: br, fail_if_body_not_matches_regexp: ['^brotli body']",
          H("/br"));
    probe("br_not", "target: '%s', compression: br", H("/ok"));
    probe("identity", "target: '%s', compression: identity", H("/ok"));
    /* blackbox sends no Accept-Encoding of its own; a header given is sent */
    probe("no_accept", "target: '%s', compression: gzip, fail_if_header_not_matches:"
                       " [{header: X-Accept-Encoding, regexp: '^-$'}]", H("/gzip"));
    probe("accept", "target: '%s', compression: gzip, headers: {Accept-Encoding: 'br, gzip'},"
                    " fail_if_header_not_matches: [{header: X-Accept-Encoding, regexp: '^br, gzip$'}]",
          H("/gzip"));
    probe("limit_ok", "target: '%s', body_size_limit: 100B", H("/big/100"));
    probe("limit_over", "target: '%s', body_size_limit: 100B", H("/big/101"));
    probe("limit_kb", "target: '%s', body_size_limit: 1KB", H("/big/1024"));
    probe("limit_kib_over", "target: '%s', body_size_limit: 1KiB", H("/big/1025"));
    probe("limit_regex", "target: '%s', body_size_limit: 100B,"
                         " fail_if_body_not_matches_regexp: [x]", H("/big/101"));
    /* the limit counts decoded bytes */
    probe("limit_gzip_ok", "target: '%s', compression: gzip, body_size_limit: 240B", H("/gzip"));
    probe("limit_gzip_over", "target: '%s', compression: gzip, body_size_limit: 200B", H("/gzip"));
    probe_them(&o);

    expect(&o, "gzip", NULL);
    cr_expect_eq(metric(&o, "probe_http_content_length", "gzip", ""), 35);
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "gzip", ""), 240);
    expect(&o, "gzip_raw", NULL);
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "gzip_raw", ""), 35);
    expect(&o, "gzip_not", "compression");
    expect(&o, "gzip_as_deflate", "compression");
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "gzip_as_deflate", ""), 0);
    expect(&o, "deflate", NULL);
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "deflate", ""), 240);
    expect(&o, "br", NULL);
    cr_expect_eq(metric(&o, "probe_http_content_length", "br", ""), 24);
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "br", ""), 384);
    expect(&o, "br_not", "compression");
    expect(&o, "identity", NULL);
    expect(&o, "no_accept", NULL);
    expect(&o, "accept", NULL);
    expect(&o, "limit_ok", NULL);
    expect(&o, "limit_over", "body_too_large");
    cr_expect_eq(metric(&o, "probe_http_uncompressed_body_length", "limit_over", ""), 100);
    cr_expect_eq(metric(&o, "probe_http_content_length", "limit_over", ""), 101);
    expect(&o, "limit_kb", NULL);
    expect(&o, "limit_kib_over", "body_too_large");
    /* blackbox's regexes read the body: past the limit they fail too */
    expect(&o, "limit_regex", "body_too_large");
    cr_expect_eq(metric(&o, "probe_failed_due_to_regex", "limit_regex", ""), 1);
    expect(&o, "limit_gzip_ok", NULL);
    expect(&o, "limit_gzip_over", "body_too_large");
}

/* ---- credentials and proxies ---- */

Test(probe_http, credentials_and_proxy)
{
    struct outcome o;
    unsigned closed = free_port();

    write_file("password", "s3cret pass\n");
    write_file("wrong", "nope\n");
    write_file("token", "  tok-123\n");
    write_file("badtoken", "tok-999\n");
    probe("basic_file", "target: '%s', basic_auth: {username: probe, password_file: password}",
          H("/basic"));
    probe("basic_inline", "target: '%s', basic_auth: {username: probe, password: 's3cret pass'}",
          H("/basic"));
    probe("basic_wrong", "target: '%s', basic_auth: {username: probe, password_file: wrong}",
          H("/basic"));
    probe("basic_none", "target: '%s'", H("/basic"));
    probe("bearer_file", "target: '%s', bearer_token_file: token", H("/bearer"));
    probe("bearer_inline", "target: '%s', bearer_token: tok-123", H("/bearer"));
    probe("bearer_wrong", "target: '%s', bearer_token_file: badtoken", H("/bearer"));
    probe("authz", "target: '%s', authorization: {type: Bearer, credentials_file: token}",
          H("/bearer"));
    probe("proxied", "target: '%s', proxy_url: 'http://127.0.0.1:%u',"
                     " fail_if_header_not_matches: [{header: X-Proxied, regexp: '^yes$'}]",
          H("/ok"), p_proxy);
    probe("not_proxied", "target: '%s',"
                         " fail_if_header_not_matches: [{header: X-Proxied, regexp: '^yes$'}]",
          H("/ok"));
    probe("proxied_tls", "target: '%s', proxy_url: 'http://127.0.0.1:%u', " CA, S("/ok"),
          p_proxy);
    probe("proxy_down", "target: '%s', proxy_url: 'http://127.0.0.1:%u'", H("/ok"), closed);
    probe_them(&o);

    expect(&o, "basic_file", NULL);
    expect(&o, "basic_inline", NULL);
    expect(&o, "basic_wrong", "status");
    expect(&o, "basic_none", "status");
    expect(&o, "bearer_file", NULL);
    expect(&o, "bearer_inline", NULL);
    expect(&o, "bearer_wrong", "status");
    expect(&o, "authz", NULL);
    expect(&o, "proxied", NULL);
    expect(&o, "not_proxied", "header_missing");
    expect(&o, "proxied_tls", NULL);
    cr_expect_eq(metric(&o, "probe_http_ssl", "proxied_tls", ""), 1);
    expect(&o, "proxy_down", "refused");
    /* secrets stay out of everything the prober shows */
    for (const char *const *s = (const char *const[]){"s3cret", "tok-123", NULL}; *s; s++) {
        cr_expect_null(strstr(o.log, *s), "%s in the log", *s);
        cr_expect_null(strstr(o.status, *s), "%s in /status", *s);
        cr_expect_null(strstr(o.metrics, *s), "%s in /metrics", *s);
    }
}

/* ---- proxy options ---- */

/* The line of the proxy's log (probe_http_targets.py) that has a and b,
 * or NULL. */
static const char *proxy_line(const char *log, const char *a, const char *b)
{
    for (const char *l = log; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *nl = strchr(l, '\n');
        char *line = keep(nl ? strndup(l, (size_t)(nl - l)) : strdup(l));
        if (strstr(line, a) && (!b || strstr(line, b)))
            return line;
    }
    return NULL;
}

/* Whether /metrics has family's series of probe with rest among its
 * labels ("" for any). */
static bool has_series(const struct outcome *o, const char *family, const char *probe,
                       const char *rest)
{
    char pat[256];

    snprintf(pat, sizeof(pat), "\n%s{name=\"%s\",kind=\"http\",", family, probe);
    for (const char *p = o->metrics; (p = strstr(p, pat)); p++) {
        const char *close = strchr(p, '}');
        if (close && (!rest[0] || memmem(p, (size_t)(close - p), rest, strlen(rest))))
            return true;
    }
    return false;
}

/* probe.test and other.test resolve at the proxy only: a probe that
 * reaches them went through it. */
#define PROXY keep_fmt("proxy_url: 'http://127.0.0.1:%u'", p_proxy)
#define TONAME(name) keep_fmt("/toname/%u/%s", p_http, name)
#define NAMED(scheme, port) keep_fmt("%s://probe.test:%u/ok", scheme, port)

Test(probe_http, proxy_options)
{
    struct outcome o;
    const char *log, *l;

    /* the environment of blackbox's proxy_from_environment; the other
     * probes must not see it (curl's own reading of it) */
    prober_env = keep_fmt("env HTTP_PROXY=127.0.0.1:%u HTTPS_PROXY=http://127.0.0.1:%u "
                          "NO_PROXY=other.test ", p_proxy, p_proxy);
    /* no_proxy: Go's rules; the first hop, to 127.0.0.1, is never proxied
     * then (loopback), the redirect to a name is unless no_proxy names it */
    probe("np_pass", "target: '%s', %s, no_proxy: 'x.test, 10.0.0.0/8'", H(TONAME("probe.test")),
          PROXY);
    probe("np_fail", "target: '%s', %s, no_proxy: '.x.test, Probe.Test'",
          H(TONAME("probe.test")), PROXY);
    /* proxy_url alone proxies everything, whatever NO_PROXY says */
    probe("url_not_env", "target: '%s', %s", H(TONAME("other.test")), PROXY);
    /* proxy_from_environment */
    probe("env_pass", "target: '%s', proxy_from_environment: true", H(TONAME("probe.test")));
    probe("env_tls", "target: '%s', proxy_from_environment: true, " CA,
          S(keep_fmt("/toname/%u", p_https)));
    probe("env_noproxy", "target: '%s', proxy_from_environment: true", H(TONAME("other.test")));
    probe("env_off", "target: '%s'", H(TONAME("probe.test")));
    /* proxy_connect_header: a CONNECT's, never the target's */
    probe("pch_pass", "target: '%s', %s, " CA ", proxy_connect_header: {X-Proxy-Token: "
                      "[let-me-in], X-Probe: [pch_pass, again]}", S("/noproxyhdr"), PROXY);
    probe("pch_fail", "target: '%s', %s, " CA ", proxy_connect_header: {X-Proxy-Token: [nope], "
                      "X-Probe: [pch_fail]}", S("/ok"), PROXY);
    probe("pch_plain", "target: '%s', %s, proxy_connect_header: {X-Proxy-Token: [nope], "
                       "X-Probe: [pch_plain]}", H("/noproxyhdr?plain"), PROXY);
    /* skip_resolve_phase_with_proxy: the proxy gets the name */
    probe("skip_pass", "target: '%s', %s, skip_resolve_phase_with_proxy: true, " CA
                       ", proxy_connect_header: {X-Probe: [skip_pass]}",
          NAMED("https", p_https), PROXY);
    probe("skip_fail", "target: '%s', %s, " CA, NAMED("https", p_https), PROXY);
    probe("skip_http", "target: '%s', %s, skip_resolve_phase_with_proxy: true",
          NAMED("http", p_http), PROXY);
    probe("skip_redirect", "target: '%s', %s, skip_resolve_phase_with_proxy: true",
          keep_fmt("http://probe.test:%u/redirect/1", p_http), PROXY);
    /* a server_name: the URL names it, the CONNECT the target's host */
    probe("skip_sni", "target: 'https://localhost:%u/ok', %s, skip_resolve_phase_with_proxy: "
                      "true, tls_config: {ca_file: ca.pem, server_name: probe.test}, "
                      "proxy_connect_header: {X-Probe: [skip_sni]}", p_https, PROXY);
    /* without skip, a CONNECT names the address resolved, as blackbox's */
    probe("connect_addr", "target: 'https://localhost:%u/ok', %s, tls_config: {ca_file: "
                          "ca.pem, server_name: probe.test}, proxy_connect_header: {X-Probe: "
                          "[connect_addr]}", p_https, PROXY);
    probe_them(&o);
    log = slurp("proxy.log");

    expect(&o, "np_pass", NULL);
    cr_expect_null(proxy_line(log, keep_fmt("GET %s ", H(TONAME("probe.test"))), NULL),
                   "no_proxy set: loopback is not proxied:\n%s", log);
    cr_expect_not_null(proxy_line(log, keep_fmt("GET http://probe.test:%u/ok name", p_http),
                                  NULL), "%s", log);
    expect(&o, "np_fail", "dns");
    expect(&o, "url_not_env", NULL);
    expect(&o, "env_pass", NULL);
    expect(&o, "env_tls", NULL);
    cr_expect_not_null(proxy_line(log, keep_fmt("CONNECT probe.test:%u name", p_https), NULL),
                       "%s", log);
    expect(&o, "env_noproxy", "dns");
    expect(&o, "env_off", "dns");

    expect(&o, "pch_pass", NULL);
    l = proxy_line(log, "CONNECT ", "X-Probe: pch_pass");
    cr_expect_not_null(l, "%s", log);
    cr_expect(l && strstr(l, "\tX-Probe: again") && strstr(l, "\tX-Proxy-Token: let-me-in"),
              "%s", l ? l : log);
    expect(&o, "pch_fail", "proxy");
    cr_expect_eq(metric(&o, "probe_http_status_code", "pch_fail", ""), 0);
    expect(&o, "pch_plain", NULL);
    l = proxy_line(log, "GET ", "/noproxyhdr?plain");
    cr_expect(l && !strstr(l, "X-Probe") && !strstr(l, "X-Proxy-Token"),
              "a plain request through the proxy has no CONNECT headers: %s", l ? l : log);

    expect(&o, "skip_pass", NULL);
    cr_expect_not_null(proxy_line(log, keep_fmt("CONNECT probe.test:%u name", p_https),
                                  "X-Probe: skip_pass"), "%s", log);
    expect(&o, "skip_fail", "dns");
    expect(&o, "skip_http", NULL);
    expect(&o, "skip_redirect", NULL);
    expect(&o, "skip_sni", NULL);
    cr_expect_not_null(proxy_line(log, keep_fmt("CONNECT localhost:%u name", p_https),
                                  "X-Probe: skip_sni"), "%s", log);
    expect(&o, "connect_addr", NULL);
    cr_expect_not_null(proxy_line(log, keep_fmt("CONNECT 127.0.0.1:%u address", p_https),
                                  "X-Probe: connect_addr"), "%s", log);
    /* not resolved: no lookup, no address, no resolve phase (but that of
     * a redirect's hop), as blackbox */
    for (const char *const *n = (const char *const[]){"skip_pass", "skip_http", "skip_sni", NULL};
         *n; n++) {
        cr_expect_not(has_series(&o, "probe_dns_lookup_time_seconds", *n, ""), "%s", *n);
        cr_expect_not(has_series(&o, "probe_ip_protocol", *n, ""), "%s", *n);
        cr_expect_not(has_series(&o, "probe_ip_addr_hash", *n, ""), "%s", *n);
        cr_expect_not(has_series(&o, "probe_http_duration_seconds", *n, "phase=\"resolve\""),
                      "%s", *n);
        cr_expect(has_series(&o, "probe_http_duration_seconds", *n, "phase=\"connect\""), "%s",
                  *n);
    }
    cr_expect(has_series(&o, "probe_http_duration_seconds", "skip_redirect", "phase=\"resolve\""));
    cr_expect(has_series(&o, "probe_ip_protocol", "connect_addr", ""));
    cr_expect(has_series(&o, "probe_dns_lookup_time_seconds", "skip_fail", ""));
}

/* What blackbox_exporter reports of the same, through the same proxy:
 * the families twkit leaves out without resolving are the ones it does,
 * and proxy_connect_header (which Debian's build has) fails alike. */
Test(probe_http, proxy_series_match_blackbox_exporter)
{
    static const char *const bbonly[] = {"probe_dns_lookup_time_seconds", "probe_ip_protocol",
                                         "probe_ip_addr_hash"};
    struct {
        const char *name, *target, *opts;
    } cases[] = {
        {"skip", NAMED("https", p_https), "skip_resolve_phase_with_proxy: true"},
        {"noskip", S("/ok"), ""},
        {"skip_redirect", keep_fmt("http://probe.test:%u/redirect/1", p_http),
         "skip_resolve_phase_with_proxy: true"},
        {"pch_bad", S("/ok"), "proxy_connect_header: {X-Proxy-Token: [nope]}"},
    };
    unsigned bbport = free_port();
    struct outcome o;
    FILE *bbcfg;
    pid_t bbpid;

    if (access(BLACKBOX, X_OK) != 0)
        cr_skip_test("no %s", BLACKBOX);
    cr_assert_not_null(bbcfg = fopen(path_of("bb.yml"), "w"));
    fputs("modules:\n", bbcfg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *opts = keep_fmt("%s, tls_config: {ca_file: %s}%s%s", PROXY, path_of("ca.pem"),
                                    cases[i].opts[0] ? ", " : "", cases[i].opts);
        fprintf(bbcfg, "  m_%s: {prober: http, timeout: 5s, http: {%s}}\n", cases[i].name, opts);
        probe(cases[i].name, "target: '%s', %s", cases[i].target, opts);
    }
    fclose(bbcfg);
    bbpid = spawn(PL_HERE, "%s --config.file=%s --web.listen-address=127.0.0.1:%u >%s 2>&1",
                  BLACKBOX, path_of("bb.yml"), bbport, path_of("bb.log"));
    wait_port(bbport, "blackbox_exporter");
    probe_them(&o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *text;
        double ok;

        cr_assert_eq(run(PL_HERE, 10000,
                         "curl -s -o %s 'http://127.0.0.1:%u/probe?module=m_%s&target=%s'",
                         path_of("bb.txt"), bbport, cases[i].name, cases[i].target), 0);
        text = slurp("bb.txt");
        cr_assert(strstr(text, "\nprobe_success "), "blackbox on %s: %s\n%s", cases[i].name,
                  text, slurp("bb.log"));
        ok = strtod(strstr(text, "\nprobe_success ") + 15, NULL);
        cr_expect_eq(metric(&o, "probe_success", cases[i].name, ""), ok, "%s", cases[i].name);
        for (size_t k = 0; k < sizeof(bbonly) / sizeof(bbonly[0]); k++)
            cr_expect_eq(has_series(&o, bbonly[k], cases[i].name, ""),
                         strstr(text, keep_fmt("\n%s ", bbonly[k])) != NULL,
                         "%s: %s: blackbox:\n%s", cases[i].name, bbonly[k], text);
        cr_expect_eq(has_series(&o, "probe_http_duration_seconds", cases[i].name,
                                "phase=\"resolve\""),
                     strstr(text, "phase=\"resolve\"") != NULL, "%s: resolve phase: blackbox:\n%s",
                     cases[i].name, text);
    }
    stop(bbpid, SIGTERM, 5000);
}

/* ---- TLS ---- */

Test(probe_http, tls_config_and_ssl_checks)
{
    struct outcome o;

    probe("ca", "target: '%s', tls_config: {ca_file: ca.pem}", S("/ok"));
    probe("ca_twkit", "target: '%s', ca_file: ca.pem", S("/ok"));
    probe("ca_other", "target: '%s', tls_config: {ca_file: other-ca.pem}", S("/ok"));
    probe("insecure", "target: '%s', tls_config: {insecure_skip_verify: true}", S("/ok"));
    /* the certificate names 127.0.0.1 and probe.test, not localhost */
    probe("server_name", "target: 'https://localhost:%u/host', tls_config: {ca_file: ca.pem,"
                         " server_name: probe.test},"
                         " fail_if_body_not_matches_regexp: ['^host=localhost:%u$']",
          p_https, p_https);
    probe("localhost", "target: 'https://localhost:%u/ok', " CA, p_https);
    probe("host_header", "target: 'https://localhost:%u/host', headers: {Host: probe.test}, " CA,
          p_https);
    probe("mtls", "target: '%s', tls_config: {ca_file: ca.pem, cert_file: client.pem,"
                  " key_file: client.key}", at("https", p_mtls, "/ok"));
    probe("mtls_nocert", "target: '%s', " CA, at("https", p_mtls, "/ok"));
    probe("min13", "target: '%s', tls_config: {ca_file: ca.pem, min_version: TLS13}", S("/ok"));
    probe("min13_on_12", "target: '%s', tls_config: {ca_file: ca.pem, min_version: TLS13}",
          at("https", p_tls12, "/ok"));
    probe("min12_on_12", "target: '%s', tls_config: {ca_file: ca.pem, min_version: TLS12}",
          at("https", p_tls12, "/ok"));
    probe("fail_if_ssl_https", "target: '%s', fail_if_ssl: true, " CA, S("/ok"));
    probe("fail_if_ssl_http", "target: '%s', fail_if_ssl: true", H("/ok"));
    probe("fail_if_not_ssl_http", "target: '%s', fail_if_not_ssl: true", H("/ok"));
    probe("fail_if_not_ssl_https", "target: '%s', fail_if_not_ssl: true, " CA, S("/ok"));
    /* what counts is the last response: http that redirects to https */
    probe("to_https", "target: '%s', fail_if_not_ssl: true, " CA,
          at("http", p_http, keep_fmt("/to/%u", p_https)));
    probe_kind("tls", "tls_kind_min13", "target: '127.0.0.1:%u',"
                                        " tls_config: {ca_file: ca.pem, min_version: TLS13}", p_tls12);
    probe_kind("tls", "tls_kind_min12", "target: '127.0.0.1:%u',"
                                        " tls_config: {ca_file: ca.pem, min_version: TLS12}", p_tls12);
    probe_kind("tls", "tls_kind_name", "target: 'localhost:%u',"
                                       " tls_config: {ca_file: ca.pem, server_name: probe.test}",
               p_https);
    probe_kind("tls", "tls_kind_noname", "target: 'localhost:%u', tls_config: {ca_file: ca.pem}",
               p_https);
    probe_them(&o);

    expect(&o, "ca", NULL);
    expect(&o, "ca_twkit", NULL);
    expect(&o, "ca_other", "verify");
    expect(&o, "insecure", NULL);
    expect(&o, "server_name", NULL);
    expect(&o, "localhost", "verify");
    expect(&o, "host_header", NULL); /* blackbox: a Host header names the TLS server */
    expect(&o, "mtls", NULL);
    {
        /* the server's alert, or its RST when that comes first */
        const char *l = result_of(&o, "mtls_nocert");
        char v[32];
        jstr(l, "reason", v, sizeof(v));
        cr_expect(!strcmp(v, "tls") || !strcmp(v, "reset"), "mtls_nocert: %s", l);
    }
    expect(&o, "min13", NULL);
    expect(&o, "min13_on_12", "tls");
    expect(&o, "min12_on_12", NULL);
    expect(&o, "fail_if_ssl_https", "ssl");
    expect(&o, "fail_if_ssl_http", NULL);
    expect(&o, "fail_if_not_ssl_http", "not_ssl");
    expect(&o, "fail_if_not_ssl_https", NULL);
    expect(&o, "to_https", NULL);
    expect(&o, "tls_kind_min13", "tls");
    expect(&o, "tls_kind_min12", NULL);
    expect(&o, "tls_kind_name", NULL);
    expect(&o, "tls_kind_noname", "verify");
    /* the TLS families: only when the last response came over TLS */
    cr_expect_eq(metric(&o, "probe_http_ssl", "ca", ""), 1);
    cr_expect_eq(metric(&o, "probe_http_ssl", "fail_if_ssl_http", ""), 0);
    cr_expect_eq(metric(&o, "probe_http_ssl", "to_https", ""), 1);
    cr_expect_eq(metric(&o, "probe_http_ssl", "ca_other", ""), 0);
    {
        double exp = metric(&o, "probe_ssl_earliest_cert_expiry", "ca", "");
        double now = (double)time(NULL);
        /* the server's certificate ends in 10 days, the CA's in 30 */
        cr_expect(exp > now + 10 * 86400 - 7200 && exp < now + 10 * 86400 + 60, "%f", exp - now);
    }
    metric(&o, "probe_ssl_last_chain_expiry_timestamp_seconds", "ca", "");
    cr_expect(strstr(o.metrics, "\nprobe_tls_version_info{name=\"ca\",kind=\"http\""),
              "no probe_tls_version_info for ca:\n%s", o.metrics);
    cr_expect_not(has_metric(&o, "probe_ssl_earliest_cert_expiry", "fail_if_ssl_http"));
    cr_expect_not(has_metric(&o, "probe_ssl_earliest_cert_expiry", "ca_other"));
    cr_expect_not(has_metric(&o, "probe_tls_version_info", "fail_if_ssl_http"));
    cr_expect_not(has_metric(&o, "probe_ssl_last_chain_expiry_timestamp_seconds", "ca_other"));
}

/* ---- side by side with blackbox_exporter ---- */

/* The families and values of one probe in Prometheus text: from twkit's
 * /metrics (the series of probe name) or from blackbox's /probe (all). */
struct fam {
    char name[96];
    double v;
};

static size_t families(const char *text, const char *probe, struct fam *out, size_t cap)
{
    char pat[160];
    size_t n = 0;

    snprintf(pat, sizeof(pat), "{name=\"%s\",kind=\"http\",", probe ? probe : "");
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *sp, *brace = NULL;
        size_t len;

        if (*l == '#' || *l == '\n')
            continue;
        sp = strpbrk(l, " {");
        if (!sp)
            break;
        len = (size_t)(sp - l);
        if (*sp == '{') {
            brace = sp;
            if (probe && strncmp(brace, pat, strlen(pat)))
                continue;
            sp = strchr(brace, '}');
            if (!sp)
                break;
            sp++;
        } else if (probe) {
            continue;
        }
        if (n == cap || len >= sizeof(out->name))
            continue;
        /* one entry per family: the phases and a version label are one */
        if (n && !strncmp(out[n - 1].name, l, len) && !out[n - 1].name[len])
            continue;
        memcpy(out[n].name, l, len);
        out[n].name[len] = '\0';
        out[n].v = strtod(sp, NULL);
        n++;
    }
    return n;
}

static const struct fam *fam_find(const struct fam *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            return &f[i];
    return NULL;
}

/* The families both must have (or lack) alike, and those whose values
 * must agree too. */
static bool compared(const char *name)
{
    return !strncmp(name, "probe_http_", 11) || !strcmp(name, "probe_success") ||
           !strncmp(name, "probe_ssl_earliest", 18) || !strncmp(name, "probe_ssl_last_chain_exp", 24) ||
           !strcmp(name, "probe_tls_version_info");
}

static bool same_value(const char *name)
{
    static const char *const exact[] = {
        "probe_success", "probe_http_status_code", "probe_http_redirects",
        "probe_http_content_length", "probe_http_uncompressed_body_length", "probe_http_ssl",
        "probe_http_version", "probe_http_last_modified_timestamp_seconds",
        "probe_ssl_earliest_cert_expiry"};

    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (!strcmp(name, exact[i]))
            return true;
    return false;
}

Test(probe_http, families_and_values_match_blackbox_exporter)
{
    static const struct {
        const char *name, *scheme, *path, *opts;
        int port; /* 0 http, 1 https, 2 mtls, 3 refused */
    } cases[] = {
        {"ok", "http", "/ok", "", 0},
        {"s404", "http", "/status/404", "", 0},
        {"r3", "http", "/redirect/3", "", 0},
        {"r11", "http", "/redirect/11", "", 0},
        {"nofollow", "http", "/redirect/2", "no_follow_redirects: true", 0},
        {"codes302", "http", "/redirect/2", "follow_redirects: false, valid_status_codes: [302]", 0},
        {"gzip", "http", "/gzip", "compression: gzip", 0},
        {"gzip_not", "http", "/ok", "compression: gzip", 0},
        {"br", "http", "/br", "compression: br", 0},
        {"deflate_gzip", "http", "/gzip", "compression: deflate", 0},
        {"limit", "http", "/big/101", "body_size_limit: 100B", 0},
        {"limit_re", "http", "/big/101", "body_size_limit: 100B, "
                                         "fail_if_body_not_matches_regexp: [x]", 0},
        {"hdr", "http", "/headers", "fail_if_header_matches: [{header: X-Multi, regexp: beta}]", 0},
        {"hdr_missing", "http", "/headers",
         "fail_if_header_not_matches: [{header: X-No, regexp: x, allow_missing: true}]", 0},
        {"body", "http", "/ok", "fail_if_body_matches_regexp: [hello]", 0},
        {"chunked", "http", "/chunked", "", 0},
        {"lastmod", "http", "/lastmod", "", 0},
        {"http10", "http", "/http10", "valid_http_versions: [HTTP/1.1]", 0},
        {"head", "http", "/ok", "method: HEAD", 0},
        {"ssl_ca", "https", "/lastmod", "tls_config: {ca_file: %s}", 1},
        {"ssl_insecure", "https", "/ok", "tls_config: {insecure_skip_verify: true}", 1},
        {"ssl_other", "https", "/ok", "tls_config: {ca_file: %s}", 1},
        {"ssl_fail_if", "https", "/ok", "fail_if_ssl: true, tls_config: {ca_file: %s}", 1},
        {"mtls", "https", "/ok", "tls_config: {ca_file: %s, cert_file: %s, key_file: %s}", 2},
        {"not_ssl", "http", "/ok", "fail_if_not_ssl: true", 0},
        {"refused", "http", "/", "", 3},
    };
    unsigned bbport = free_port(), closed = free_port(), ports[4];
    struct fam tw[64], bb[64];
    struct outcome o;
    FILE *bbcfg;
    pid_t bbpid;

    if (access(BLACKBOX, X_OK) != 0)
        cr_skip_test("no %s", BLACKBOX);
    ports[0] = p_http, ports[1] = p_https, ports[2] = p_mtls, ports[3] = closed;
    cr_assert_not_null(bbcfg = fopen(path_of("bb.yml"), "w"));
    fputs("modules:\n", bbcfg);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *ca = !strcmp(cases[i].name, "ssl_other") ? "other-ca.pem" : "ca.pem";
        const char *opts = keep_fmt(cases[i].opts, path_of(ca), path_of("client.pem"),
                                    path_of("client.key"));
        const char *url = at(cases[i].scheme, ports[cases[i].port], cases[i].path);

        fprintf(bbcfg, "  m_%s: {prober: http, timeout: 5s, http: {%s}}\n", cases[i].name, opts);
        probe(cases[i].name, "target: '%s'%s%s", url, opts[0] ? ", " : "", opts);
    }
    fclose(bbcfg);
    bbpid = spawn(PL_HERE, "%s --config.file=%s --web.listen-address=127.0.0.1:%u >%s 2>&1",
                  BLACKBOX, path_of("bb.yml"), bbport, path_of("bb.log"));
    wait_port(bbport, "blackbox_exporter");
    probe_them(&o);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *url = at(cases[i].scheme, ports[cases[i].port], cases[i].path);
        char *text;
        size_t ntw, nbb;

        cr_assert_eq(run(PL_HERE, 10000,
                         "curl -s -o %s 'http://127.0.0.1:%u/probe?module=m_%s&target=%s'",
                         path_of("bb.txt"), bbport, cases[i].name, url), 0);
        text = slurp("bb.txt");
        cr_assert(strstr(text, "probe_success"), "blackbox on %s: %s\n%s", cases[i].name, text,
                  slurp("bb.log"));
        nbb = families(text, NULL, bb, 64);
        ntw = families(o.metrics, cases[i].name, tw, 64);
        /* at least success, the 5 phases' family and the seven gauges */
        cr_assert_geq(nbb, 9, "%s: blackbox said:\n%s", cases[i].name, text);
        cr_assert_geq(ntw, 9, "%s: twkit said:\n%s", cases[i].name, o.metrics);
        if (getenv("PROBE_HTTP_SHOW"))
            for (size_t k = 0; k < ntw; k++)
                fprintf(stderr, "%s: %s %g\n", cases[i].name, tw[k].name, tw[k].v);
        for (size_t k = 0; k < nbb; k++) {
            const struct fam *t = fam_find(tw, ntw, bb[k].name);
            if (!compared(bb[k].name))
                continue;
            cr_expect_not_null(t, "%s: blackbox has %s, twkit not", cases[i].name, bb[k].name);
            if (t && same_value(bb[k].name))
                cr_expect_eq(t->v, bb[k].v, "%s: %s: twkit %g, blackbox %g", cases[i].name,
                             bb[k].name, t->v, bb[k].v);
        }
        for (size_t k = 0; k < ntw; k++)
            if (compared(tw[k].name))
                cr_expect_not_null(fam_find(bb, nbb, tw[k].name), "%s: twkit has %s, blackbox not",
                                   cases[i].name, tw[k].name);
    }
    stop(bbpid, SIGTERM, 5000);
}
