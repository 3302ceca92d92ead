/* The probe lab tests' shared part (probe_lab.h): the lab, processes,
 * files, JSON lines, Prometheus text and certificates. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#include "twkit/diag.h"
#include "twkit/time.h"

struct tw_lab lab;
char tmpdir[64];

#define MAX_PROCS 8
static pid_t procs[MAX_PROCS];

/* Buffers that must not outlive the test, even one an assertion ends. */
#define MAX_GC 1024
static void *gc[MAX_GC];
char *scratch; /* the latest read of a polled file */

void *keep(void *p)
{
    for (int i = 0; i < MAX_GC; i++)
        if (!gc[i]) {
            gc[i] = p;
            return p;
        }
    cr_assert_fail("more than %d buffers kept in one test", MAX_GC);
    return p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static bool lab_up; /* pl_setup created the lab */

/* The temporary directory alone: for suites whose processes run in the
 * test's own namespace (PL_HERE), root or not. */
void pl_setup_here(void)
{
    strcpy(tmpdir, "/tmp/twkit-probe-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

void pl_setup(void)
{
    if (geteuid() != 0)
        return;
    cr_assert_eq(tw_lab_create(&lab), 0, "lab: %s", lab.err);
    lab_up = true;
    pl_setup_here();
}

void pl_teardown(void)
{
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i] > 0) {
            kill(procs[i], SIGKILL);
            waitpid(procs[i], NULL, 0);
            procs[i] = 0;
        }
    if (tmpdir[0])
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = '\0';
    if (lab_up)
        tw_lab_destroy(&lab);
    lab_up = false;
    for (int i = 0; i < MAX_GC; i++) {
        free(gc[i]);
        gc[i] = NULL;
    }
    free(scratch);
    scratch = NULL;
}

/* ---- files ---- */

/* tmpdir/name, in a buffer of the caller's. */
char *tpath(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
    return buf;
}

__attribute__((format(printf, 2, 3))) void write_file(const char *name, const char *fmt,
                                                             ...)
{
    char p[256];
    FILE *f = fopen(tpath(p, sizeof(p), name), "w");
    va_list ap;

    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    cr_assert_eq(fclose(f), 0);
}

/* The whole file, malloc'd; "" if it cannot be read. */
char *read_all(const char *name)
{
    char p[256], *buf = NULL;
    size_t len = 0;
    FILE *f = fopen(tpath(p, sizeof(p), name), "r"), *m = open_memstream(&buf, &len);
    char chunk[65536];
    size_t n;

    cr_assert_not_null(m);
    while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, m);
    if (f)
        fclose(f);
    fclose(m);
    return buf;
}

/* The whole file, kept until teardown. */
char *slurp(const char *name) { return keep(read_all(name)); }

int count_of(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Poll a growing file (every 20 ms, ms at most) until needle occurs in it
 * min times. Returns how often it occurs at the end. */
int wait_for(const char *name, const char *needle, int min, uint64_t ms)
{
    uint64_t end = tw_now_ms() + ms;
    int n;

    for (;;) {
        char *text = read_all(name);
        n = count_of(text, needle);
        free(text);
        if (n >= min || tw_now_ms() >= end)
            return n;
        usleep(20000);
    }
}

/* ---- processes ---- */

/* Run a shell command line in a side's namespace (PL_HERE: the test's
 * own). The line is exec'd (no shell left in between) under a
 * parent-death signal. Registered for teardown. */
__attribute__((format(printf, 2, 3))) pid_t spawn(enum tw_lab_side side, const char *fmt,
                                                         ...)
{
    char cmd[4096];
    va_list ap;
    pid_t pid;
    int n = snprintf(cmd, sizeof(cmd), "exec setpriv --pdeathsig KILL ");

    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    if (side == PL_HERE) {
        pid = fork();
        cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
    } else {
        pid = tw_lab_spawn(&lab, side, (char *[]){"/bin/sh", "-c", cmd, NULL});
        cr_assert_gt(pid, 0, "spawn %s: %s", cmd, strerror((int)-pid));
    }
    for (int i = 0; i < MAX_PROCS; i++)
        if (!procs[i]) {
            procs[i] = pid;
            return pid;
        }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    cr_assert_fail("more than %d processes in one test", MAX_PROCS);
    return -1;
}

void forget(pid_t pid)
{
    for (int i = 0; i < MAX_PROCS; i++)
        if (procs[i] == pid)
            procs[i] = 0;
}

/* Wait at most ms for pid to exit; true (with *status) if it did. */
bool wait_exit(pid_t pid, uint64_t ms, int *status)
{
    uint64_t end = tw_now_ms() + ms;

    do {
        if (waitpid(pid, status, WNOHANG) == pid) {
            forget(pid);
            return true;
        }
        usleep(5000);
    } while (tw_now_ms() < end);
    return false;
}

/* Send sig, give it ms to exit, then SIGKILL. Returns the wait status. */
int stop(pid_t pid, int sig, uint64_t ms)
{
    int status = -1;

    kill(pid, sig);
    if (!wait_exit(pid, ms, &status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        forget(pid);
    }
    return status;
}

/* Run a command line to its end (ms at most); returns its exit status. */
__attribute__((format(printf, 3, 4))) int run(enum tw_lab_side side, uint64_t ms,
                                                     const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    pid_t pid;
    int status;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    pid = spawn(side, "%s", cmd);
    if (!wait_exit(pid, ms, &status)) {
        stop(pid, SIGKILL, 0);
        cr_assert_fail("`%s` did not finish within %llu ms", cmd, (unsigned long long)ms);
    }
    cr_assert(WIFEXITED(status), "`%s` died: status %d", cmd, status);
    return WEXITSTATUS(status);
}

/* The server namespace drops every packet to port: connects time out. */
void drop_proto_port(const char *proto, unsigned port)
{
    cr_assert_eq(run(TW_LAB_SERVER, 5000, "nft add table inet twt"), 0);
    cr_assert_eq(run(TW_LAB_SERVER, 5000,
                     "nft add chain inet twt in '{ type filter hook input priority 0; }'"), 0);
    cr_assert_eq(run(TW_LAB_SERVER, 5000, "nft add rule inet twt in %s dport %u drop", proto,
                     port), 0);
}

void drop_port(unsigned port) { drop_proto_port("tcp", port); }

/* ---- sockets ---- */

struct listen_q {
    uint16_t port;
    bool found;
};

static int on_listener(const struct tw_diag_sock *s, void *arg)
{
    struct listen_q *q = arg;

    q->found |= tw_addr_port(&s->local) == q->port;
    return 0;
}

/* Wait (5 s at most) until something listens on port in a side. */
void wait_listening(enum tw_lab_side side, uint16_t port, const char *what)
{
    struct listen_q q = {.port = port};

    for (int i = 0; i < 500 && !q.found; i++) {
        cr_assert_eq(tw_lab_enter(&lab, side), 0);
        int r = tw_diag_dump(1u << 10 /* TCP_LISTEN */, on_listener, &q);
        tw_lab_leave(&lab);
        cr_assert_eq(r, 0, "sock_diag: %d", r);
        if (!q.found)
            usleep(10000);
    }
    cr_assert(q.found, "%s is not listening on port %u after 5 s", what, port);
}

uint32_t time_wait(enum tw_lab_side side)
{
    struct tw_tcp_states st;

    cr_assert_eq(tw_lab_count_settled(&lab, side, &st), 0);
    return st.n[TW_TCP_TIME_WAIT];
}

static int count_not_loopback(const struct tw_diag_sock *s, void *arg)
{
    char a[64];

    tw_addr_format(&s->remote, a, sizeof(a));
    if (strncmp(a, "127.", 4) != 0 && strncmp(a, "[::1]", 5) != 0)
        ++*(int *)arg;
    return 0;
}

int time_wait_off_loopback(enum tw_lab_side side)
{
    int n = 0, r;

    cr_assert_eq(tw_lab_enter(&lab, side), 0);
    r = tw_diag_dump(1u << 6 /* TCP_TIME_WAIT */, count_not_loopback, &n);
    tw_lab_leave(&lab);
    cr_assert_eq(r, 0, "sock_diag: %d", r);
    return n;
}

/* twkit serve (twp) on 0.0.0.0:port in the server namespace. */
pid_t start_twp_server(uint16_t port)
{
    pid_t pid = spawn(TW_LAB_SERVER, "%s serve --listen 0.0.0.0:%u >/dev/null 2>&1", TWKIT_BIN,
                      port);
    wait_listening(TW_LAB_SERVER, port, "twkit serve");
    return pid;
}

/* curl url from a side's namespace into tmpdir/out, with more curl
 * options (opts, may be ""); the body. Asserts curl succeeded. */
char *fetch_from(enum tw_lab_side side, const char *url, const char *opts, const char *out)
{
    char p[256];
    int rc = run(side, 5000, "curl -s %s -o %s '%s'", opts, tpath(p, sizeof(p), out), url);

    cr_assert_eq(rc, 0, "curl %s: exit %d", url, rc);
    return slurp(out);
}

/* curl url from the client namespace into tmpdir/out; the body. */
char *fetch(const char *url, const char *out) { return fetch_from(TW_LAB_CLIENT, url, "", out); }

/* ---- JSON lines (no JSON library: the prober's own fixed layout) ---- */

/* The lines of text, split in place. */
char **split_lines(char *text, size_t *n)
{
    size_t cap = (size_t)count_of(text, "\n") + 1, k = 0;
    char **v = keep(calloc(cap, sizeof(*v)));

    for (char *p = text, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        v[k++] = p;
        if (!nl)
            break;
        *nl = '\0';
    }
    *n = k;
    return v;
}

/* Where key's value starts in an object: "key": right after '{' or ','
 * (never a key-looking piece of an escaped string value). NULL if absent. */
const char *jfind(const char *line, const char *key)
{
    char pat[64];
    size_t n = (size_t)snprintf(pat, sizeof(pat), "\"%s\":", key);

    for (const char *p = line; (p = strstr(p, pat)); p++)
        if (p > line && (p[-1] == '{' || p[-1] == ','))
            return p + n;
    return NULL;
}

/* A string value, escapes left as they are; "" (and false) if absent. */
bool jstr(const char *line, const char *key, char *out, size_t len)
{
    const char *v = jfind(line, key);
    size_t k = 0;

    out[0] = '\0';
    if (!v || *v != '"')
        return false;
    for (v++; *v && *v != '"' && k + 1 < len; v++) {
        if (*v == '\\' && v[1])
            out[k++] = *v++;
        out[k++] = *v;
    }
    out[k] = '\0';
    return true;
}

bool jnum(const char *line, const char *key, double *out)
{
    const char *v = jfind(line, key);
    char *end;

    if (!v)
        return false;
    *out = strtod(v, &end);
    return end != v;
}

/* A phase's seconds from "phases":{...}; 0 when the phase is not listed. */
double jphase(const char *line, const char *phase)
{
    const char *ph = jfind(line, "phases"), *close;
    char obj[256];
    double v = 0;

    if (!ph || !(close = strchr(ph, '}')))
        return -1;
    snprintf(obj, sizeof(obj), "%.*s", (int)(close - ph + 1), ph);
    return jnum(obj, phase, &v) ? v : 0;
}

/* The one line about probe `name`; asserts there is exactly one. */
const char *line_of(char **lines, size_t n, const char *name)
{
    const char *hit = NULL;
    char v[128];
    int seen = 0;

    for (size_t i = 0; i < n; i++)
        if (jstr(lines[i], "name", v, sizeof(v)) && strcmp(v, name) == 0) {
            hit = lines[i];
            seen++;
        }
    cr_assert_eq(seen, 1, "expected one result line for probe %s, got %d", name, seen);
    return hit;
}

void expect_str(const char *line, const char *key, const char *want)
{
    char v[256];

    jstr(line, key, v, sizeof(v));
    cr_assert_str_eq(v, want, "expected %s \"%s\", got \"%s\" in %s", key, want, v, line);
}

double expect_num(const char *line, const char *key)
{
    double v = 0;

    cr_assert(jnum(line, key, &v), "no %s in %s", key, line);
    return v;
}

/* ---- Prometheus text ---- */

/* The value of one sample, written exactly (name{labels}); asserts it is
 * there. */
double sample(const char *text, const char *series)
{
    char pat[512];
    const char *p;
    double v;

    snprintf(pat, sizeof(pat), "\n%s ", series);
    p = strstr(text, pat);
    cr_assert_not_null(p, "no sample %s in /metrics:\n%s", series, text);
    cr_assert_eq(sscanf(p + strlen(pat), "%lf", &v), 1, "unreadable sample %s", series);
    return v;
}

/* Assert lo <= sample <= hi, saying what came. */
void expect_sample(const char *text, const char *series, double lo, double hi)
{
    double v = sample(text, series);

    if (lo == hi)
        cr_assert_eq(v, lo, "%s: expected %.15g, got %.15g", series, lo, v);
    else
        cr_assert(v >= lo && v <= hi, "%s: expected %.15g to %.15g, got %.15g", series, lo, hi,
                  v);
}

/* ---- certificates ---- */

/* A self-signed ECDSA P-256 certificate for the subjectAltName san, valid
 * from now+from_s to now+to_s (both may be in the past), subject CN=cn
 * (with org: C=DE, O=org, CN=cn, emailAddress=ops@example.org), and its
 * key. */
void make_cert_named(const char *cert, const char *key, long from_s, long to_s, const char *cn,
                     const char *org, const char *san)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_EXTENSION *ext;
    X509V3_CTX v3;
    X509_NAME *nm;
    char p[256];
    FILE *f;

    cr_assert(pk && x, "OpenSSL: no key or certificate");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL) ^ from_s ^ to_s);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, pk);
    nm = X509_get_subject_name(x);
    if (org) {
        X509_NAME_add_entry_by_txt(nm, "C", MBSTRING_ASC, (const unsigned char *)"DE", -1, -1,
                                   0);
        X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1,
                                   0);
    }
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    if (org)
        X509_NAME_add_entry_by_txt(nm, "emailAddress", MBSTRING_ASC,
                                   (const unsigned char *)"ops@example.org", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
    cr_assert_not_null(ext);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    cr_assert_gt(X509_sign(x, pk, EVP_sha256()), 0, "X509_sign failed");
    cr_assert_not_null(f = fopen(tpath(p, sizeof(p), cert), "w"));
    PEM_write_X509(f, x);
    fclose(f);
    cr_assert_not_null(f = fopen(tpath(p, sizeof(p), key), "w"));
    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

/* make_cert_named for IP:10.201.0.2, CN=twkit lab. */
void make_cert(const char *cert, const char *key, long from_s, long to_s)
{
    make_cert_named(cert, key, from_s, to_s, "twkit lab", NULL, "IP:10.201.0.2");
}

pid_t start_tls_server(uint16_t port, const char *cert, const char *key)
{
    char c[256], k[256];
    pid_t pid = spawn(TW_LAB_SERVER,
                      "openssl s_server -quiet -www -accept %u -cert %s -key %s "
                      ">/dev/null 2>&1",
                      port, tpath(c, sizeof(c), cert), tpath(k, sizeof(k), key));
    wait_listening(TW_LAB_SERVER, port, "openssl s_server");
    return pid;
}


/* ---- Prometheus' query API ---- */

/* The value of the first result of a /api/v1/query answer whose metric
 * has label="value" ("" when there is none). */
void prom_value(const char *json, const char *label, const char *value, char *out, size_t len)
{
    char pat[128];
    const char *p;

    out[0] = '\0';
    snprintf(pat, sizeof(pat), "\"%s\":\"%s\"", label, value);
    if (!(p = strstr(json, pat)) || !(p = strstr(p, "\"value\":[")) || !(p = strchr(p, ',')) ||
        p[1] != '"')
        return;
    snprintf(out, len, "%.*s", (int)strcspn(p + 2, "\""), p + 2);
}

/* ---- /probe answers, side by side with blackbox_exporter ---- */

/* Durations agree within a factor of 2 or 5 ms, whichever is larger; in a
 * sanitizer build (make test SAN=1) twkit runs several times slower, and
 * the bound is 5 times or 25 ms. */
#if defined(__SANITIZE_ADDRESS__)
#define SLACK_FACTOR 5.0
#define SLACK_S 0.025
#else
#define SLACK_FACTOR 2.0
#define SLACK_S 0.005
#endif

void pl_parse(const char *text, struct pl_answer *a)
{
    const char *p = text;

    a->n = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && *p != '#' && a->n < 64) {
            struct pl_series *s = &a->s[a->n];
            const char *sp = memchr(p, ' ', len), *br = memchr(p, '{', len);
            if (sp) {
                const char *close = br && br < sp ? memchr(br, '}', len - (size_t)(br - p)) : NULL;
                const char *endname = close ? close + 1 : sp;
                if (close && close[1] != ' ')
                    endname = sp;
                snprintf(s->name, sizeof(s->name), "%.*s", (int)(endname - p), p);
                snprintf(s->fam, sizeof(s->fam), "%.*s",
                         (int)((br && br < endname ? br : endname) - p), p);
                s->v = strtod(endname + 1, NULL);
                a->n++;
            }
        }
        p += len + (nl ? 1 : 0);
    }
}

const struct pl_series *pl_find(const struct pl_answer *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->s[i].name, name))
            return &a->s[i];
    return NULL;
}

static bool is_duration(const char *fam)
{
    size_t n = strlen(fam);

    return n > 8 && !strcmp(fam + n - 8, "_seconds") && !strstr(fam, "timestamp") &&
           !strstr(fam, "expiry");
}

/* /probe of module and target from the exporter on port, scrape timeout 2 s. */
char *pl_probe(unsigned port, const char *module, const char *target, const char *out)
{
    char p[256];
    int rc = run(TW_LAB_CLIENT, 10000,
                 "curl -s -o %s -H 'X-Prometheus-Scrape-Timeout-Seconds: 2' "
                 "'http://127.0.0.1:%u/probe?module=%s&target=%s'",
                 tpath(p, sizeof(p), out), port, module, target);

    cr_assert_eq(rc, 0, "curl /probe on %u: exit %d", port, rc);
    return slurp(out);
}

/* Both exporters' answers for module and target: same series, same
 * success, values that mean the same. Returns probe_success. */
/* Whether every duration of both answers agrees. */
static bool durations_agree(const struct pl_answer *bb, const struct pl_answer *tw)
{
    for (size_t i = 0; i < bb->n; i++) {
        const struct pl_series *b = &bb->s[i], *t = pl_find(tw, b->name);
        if (t && is_duration(b->fam)) {
            double lo = fmin(b->v, t->v), hi = fmax(b->v, t->v);
            if (!(hi - lo <= SLACK_S || hi <= SLACK_FACTOR * lo))
                return false;
        }
    }
    return true;
}

/* A duration is one probe's, and either exporter may be held up for a few
 * ms by a busy machine: when only durations disagree, both probe again
 * (three times at most); every other value must agree at once. */
int pl_compare(unsigned bb_port, unsigned tw_port, const char *module, const char *target,
               bool timed)
{
    struct pl_answer *bb = keep(calloc(1, sizeof(*bb))), *tw = keep(calloc(1, sizeof(*tw)));
    char *tb, *tt;
    const struct pl_series *ok;

    for (int round = 0; round < 3; round++) {
        tb = pl_probe(bb_port, module, target, "bb.txt");
        tt = pl_probe(tw_port, module, target, "tw.txt");
        pl_parse(tb, bb);
        pl_parse(tt, tw);
        if (!timed || durations_agree(bb, tw))
            break;
    }
    cr_assert_not_null(ok = pl_find(bb, "probe_success"), "%s %s: blackbox said:\n%s", module,
                       target, tb);
    for (size_t i = 0; i < bb->n; i++) {
        const struct pl_series *b = &bb->s[i], *t = pl_find(tw, b->name);
        cr_assert_not_null(t, "%s %s: twkit lacks %s\nblackbox:\n%s\ntwkit:\n%s", module, target,
                           b->name, tb, tt);
        if (is_duration(b->fam) && !timed) {
            continue;
        } else if (is_duration(b->fam)) {
            double lo = fmin(b->v, t->v), hi = fmax(b->v, t->v);
            cr_assert(hi - lo <= SLACK_S || hi <= SLACK_FACTOR * lo,
                      "%s %s: %s: blackbox %g, twkit %g (3 tries)\nblackbox:\n%s\ntwkit:\n%s",
                      module, target, b->name, b->v, t->v, tb, tt);
        } else {
            cr_assert_eq(b->v, t->v, "%s %s: %s: blackbox %g, twkit %g\nblackbox:\n%s\ntwkit:\n%s",
                         module, target, b->name, b->v, t->v, tb, tt);
        }
    }
    for (size_t i = 0; i < tw->n; i++)
        cr_assert(!strncmp(tw->s[i].name, "twkit_", 6) || pl_find(bb, tw->s[i].name),
                  "%s %s: twkit has %s, blackbox does not\nblackbox:\n%s\ntwkit:\n%s", module,
                  target, tw->s[i].name, tb, tt);
    return (int)ok->v;
}
