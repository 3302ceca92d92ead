/* libFuzzer target for the twkit probe config loader (src/probe/config.c,
 * config_keys.c, config_report.c, target.c and the kinds' keys).
 *
 * The input is a config, loaded with tp_config_load_mem as if it were the
 * file "fuzz/probe.yml". The files it names are served by this harness:
 * the binary is linked with -Wl,--wrap=fopen, and while a load runs every
 * fopen comes here. A few fixed files under fuzz/ (targets files good and
 * bad, a CA file) are read from memory, "fuzz/sub" is a directory, and
 * every other path does not exist: no host file is ever read, and the
 * result depends on the input alone. Outside a load (libFuzzer writing its
 * corpus) fopen is the real one.
 *
 * Checks, abort() on any failure:
 *   - the result is 0 (a config) or the number of errors, never -errno;
 *   - with errors: exactly that many lines, each "FILE:LINE:COL: message",
 *     FILE the config or one of the served files, LINE and COL inside that
 *     file (for the config: as libyaml counts them, within the input), a
 *     message after them; and the config left all zero;
 *   - with a config: every definition has a valid name (unique), a kind,
 *     at least one target, each of which its kind accepts again; interval
 *     at least 10 ms, 0 < timeout <= interval, thresholds 1 to 1000, the
 *     target count adds up;
 *   - no leak (LSan, once the config is freed).
 *
 * Built with -DFUZZ_BLACKBOX (fuzz_blackbox) the input is a blackbox.yml,
 * loaded with tp_bb_load_mem: then a module not loaded is a message line
 * that is not an error (so an error result has at least that many lines,
 * a good one exactly one per module not loaded), and every module loaded
 * has a name of its own, a known kind and no targets.
 *
 * FUZZ_CONFIG_VERBOSE=1 in the environment prints each result and its
 * messages (to replay one input: fuzz_config FILE).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/blackbox.h"
#include "probe/config.h"
#include "probe/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);

#define CONFIG "fuzz/probe.yml"

/* What a config can name (relative to its directory, fuzz/). */
#define VFILE(p, t) {p, t, sizeof(t) - 1}
static const struct vfile {
    const char *path, *text;
    size_t len;
} files[] = {
    VFILE("fuzz/targets.txt", "# edge nodes, one target per line\n"
                              "edge1.example.net:443\n"
                              "  10.0.0.7:8080  \r\n"
                              "\n"
                              "[2001:db8::7]:443\n"),
    VFILE("fuzz/urls.txt", "https://127.0.0.1:8443/health\n"
                           "http://[::1]:8080/\n"
                           "http://h.example.com/x?i=1\n"),
    VFILE("fuzz/bad.txt", "edge7\n"
                          "edge1.example.net:443\n"
                          "\tedge1.example.net:443\n"
                          "[::1:80\n"
                          "a\0b:1\n"
                          "http://x/\n"
                          "::1:80"),
    VFILE("fuzz/comments.txt", "# nothing here\n\n   \n# really\n"),
    VFILE("fuzz/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
};
#define NFILES (sizeof(files) / sizeof(files[0]))

static bool loading, verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    verbose = getenv("FUZZ_CONFIG_VERBOSE") != NULL;
    return 0;
}

FILE *__wrap_fopen(const char *path, const char *mode)
{
    if (!loading)
        return __real_fopen(path, mode);
    if (strcmp(mode, "r") != 0) {
        errno = EACCES;
        return NULL;
    }
    for (size_t i = 0; i < NFILES; i++)
        if (!strcmp(path, files[i].path))
            return fmemopen((void *)files[i].text, files[i].len, "r");
    if (!strcmp(path, "fuzz/sub"))
        return __real_fopen("/", "r"); /* a directory: opens, then EISDIR */
    errno = ENOENT;
    return NULL;
}

static void fail(const char *what, const char *line)
{
    fprintf(stderr, "fuzz_config: %s%s%s\n", what, line ? ": " : "", line ? line : "");
    abort();
}

/* How far lines and columns can go in text: exactly when its only line
 * breaks are \n, otherwise (\r, NEL, LS, PS, UTF-16) within generous
 * bounds. */
struct extent {
    const char *text;
    size_t len;
    bool exact;
    unsigned long max_line, max_col;
};

static void measure(struct extent *e, const char *text, size_t len)
{
    const uint8_t *u = (const uint8_t *)text;
    unsigned long breaks = 0, run = 0, longest = 0;
    bool exact = true;

    /* lines: every byte that may end one counts; columns: the longest
     * run between \n, which no other break can lengthen */
    for (size_t i = 0; i < len; i++) {
        bool other = u[i] == '\r' || u[i] == 0x85 || u[i] == 0xa8 || u[i] == 0xa9;
        if (other)
            exact = false; /* \r, or a byte of NEL, LS or PS */
        breaks += other || u[i] == '\n';
        if (u[i] == '\n')
            run = 0;
        else if (++run > longest)
            longest = run;
    }
    e->text = text;
    e->len = len;
    e->exact = exact;
    e->max_line = breaks + 1;
    e->max_col = longest + 1;
    if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
        e->exact = false; /* UTF-16, by its BOM: any byte may be part of a break */
        e->max_line = e->max_col = len + 1;
    }
}

/* Whether line:col lies in the text: col may be one past a line's end,
 * and the end of a text without a final line break is the column 1 of the
 * line after it (libyaml ends the stream with a line break of its own). */
static bool within(const struct extent *e, unsigned long line, unsigned long col)
{
    const char *p = e->text, *end = e->text + e->len;

    if (line == e->max_line + 1 && col == 1)
        return true;
    if (line < 1 || col < 1 || line > e->max_line || col > e->max_col)
        return false;
    if (!e->exact || e->len == 0)
        return e->len || (line == 1 && col == 1);
    for (unsigned long l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return false;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return col <= (unsigned long)((nl ? nl : end) - p) + 1;
}

static void check_line(const char *line, const struct extent *config)
{
    const char *colon = strchr(line, ':');
    struct extent e;
    unsigned long l, c;
    char *end;

    if (!colon)
        fail("an error without FILE:", line);
    size_t flen = (size_t)(colon - line);
    if (flen == strlen(CONFIG) && !strncmp(line, CONFIG, flen)) {
        e = *config;
    } else {
        size_t i;
        for (i = 0; i < NFILES; i++)
            if (strlen(files[i].path) == flen && !strncmp(line, files[i].path, flen))
                break;
        if (i == NFILES)
            fail("an error naming a file that was never read", line);
        measure(&e, files[i].text, files[i].len);
    }
    if (colon[1] < '1' || colon[1] > '9')
        fail("no LINE after FILE:", line);
    l = strtoul(colon + 1, &end, 10);
    if (*end != ':' || end[1] < '1' || end[1] > '9')
        fail("no COL after FILE:LINE:", line);
    c = strtoul(end + 1, &end, 10);
    if (end[0] != ':' || end[1] != ' ' || !end[2])
        fail("no \": message\" after FILE:LINE:COL", line);
    if (!within(&e, l, c))
        fail("LINE:COL outside the file", line);
}

/* Message lines: rc errors, and (blackbox.yml) notes besides. */
static void check_errors(char *errs, size_t len, int rc, size_t notes,
                         const struct extent *config)
{
    int n = 0;

    if (len && errs[len - 1] != '\n')
        fail("the errors do not end with a newline", errs);
    for (char *p = errs, *nl; p < errs + len; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(errs + len - p));
        *nl = '\0';
        check_line(p, config);
        n++;
    }
#ifdef FUZZ_BLACKBOX
    if (rc > 0 ? n < rc : (size_t)n != notes) {
#else
    (void)notes;
    if (n != rc) {
#endif
        fprintf(stderr, "fuzz_config: %d error lines, result %d\n", n, rc);
        abort();
    }
}

static bool name_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!tp_is_alnum(*s) && !strchr("_.:-", *s))
            return false;
    return true;
}

static void check_config(const struct tp_config *cfg)
{
    size_t total = 0;

    if (!cfg->path || strcmp(cfg->path, CONFIG) != 0)
        fail("the config's path is not the name it was loaded as", NULL);
    if (cfg->ndefs == 0 || !cfg->defs)
        fail("a config without probes", NULL);
    for (size_t i = 0; i < cfg->ndefs; i++) {
        const struct tp_def *d = &cfg->defs[i];
        bool known = false;

        if (!name_ok(d->name))
            fail("a probe with a bad name", d->name);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cfg->defs[j].name, d->name))
                fail("two probes of one name", d->name);
        for (size_t k = 0; k < tp_nkinds; k++)
            known |= d->kind == tp_kinds[k];
        if (!known)
            fail("a probe without a known kind", d->name);
        if (d->ntargets == 0 || !d->targets)
            fail("a probe without targets", d->name);
        for (size_t t = 0; t < d->ntargets; t++) {
            struct tp_endpoint ep;
            const char *why;
            if (!d->targets[t] || tp_target_parse(d->kind, d->targets[t], &ep, &why) != 0)
                fail("a target its kind refuses", d->targets[t]);
        }
        if (d->interval_ms < 10 || d->timeout_ms == 0 || d->timeout_ms > d->interval_ms)
            fail("interval or timeout out of range", d->name);
        if (d->success_threshold < 1 || d->success_threshold > 1000 ||
            d->failure_threshold < 1 || d->failure_threshold > 1000)
            fail("a threshold out of range", d->name);
        if (d->line < 1)
            fail("a probe without a position", d->name);
        total += d->ntargets;
    }
    if (total != cfg->ntargets)
        fail("ntargets does not add up", NULL);
}

/* Run one loader on the input with the harness's fopen, its messages in
 * *errs: the result, never -errno. */
static int run_load(int (*load)(const char *buf, size_t len, void *out, FILE *errs),
                    const uint8_t *data, size_t size, void *out, char **errs, size_t *elen,
                    struct extent *config)
{
    FILE *f = open_memstream(errs, elen);
    int rc;

    if (!f)
        abort();
    loading = true;
    rc = load((const char *)data, size, out, f);
    loading = false;
    if (fclose(f) != 0)
        abort();
    measure(config, (const char *)data, size);
    if (verbose)
        fprintf(stderr, "fuzz_config: result %d\n%.*s", rc, (int)*elen, *errs);
    if (rc < 0) {
        fprintf(stderr, "fuzz_config: result %d\n", rc);
        abort();
    }
    return rc;
}

#ifdef FUZZ_BLACKBOX
static void check_modules(const struct tp_bb_config *bb)
{
    if (!bb->cfg.path || strcmp(bb->cfg.path, CONFIG) != 0)
        fail("the config's path is not the name it was loaded as", NULL);
    for (size_t i = 0; i < bb->cfg.ndefs; i++) {
        const struct tp_def *d = &bb->cfg.defs[i];
        bool known = false;
        const char *why;
        if (!d->name)
            fail("a module without a name", NULL);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(bb->cfg.defs[j].name, d->name))
                fail("two modules of one name", d->name);
        for (size_t k = 0; k < tp_nkinds; k++)
            known |= d->kind == tp_kinds[k];
        if (!known || d->ntargets || tp_bb_module(bb, d->name, &why) != d)
            fail("a module without a known kind, with targets, or not found", d->name);
    }
    for (size_t i = 0; i < bb->nrejected; i++)
        if (!bb->rejected[i].name || !bb->rejected[i].why || !*bb->rejected[i].why)
            fail("a module not loaded without a reason", bb->rejected[i].name);
}

static int load_bb(const char *buf, size_t len, void *out, FILE *errs)
{
    return tp_bb_load_mem(CONFIG, buf, len, out, errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tp_bb_config zero;
    struct tp_bb_config bb;
    struct extent config;
    char *errs = NULL;
    size_t elen = 0;
    int rc;

    memset(&bb, 0xa5, sizeof(bb)); /* the loader must not rely on a zeroed struct */
    rc = run_load(load_bb, data, size, &bb, &errs, &elen, &config);
    check_errors(errs, elen, rc, rc ? 0 : bb.nrejected, &config);
    if (rc > 0 && memcmp(&bb, &zero, sizeof(bb)) != 0)
        fail("errors, and the modules not left empty", NULL);
    if (rc == 0)
        check_modules(&bb);
    free(errs);
    tp_bb_free(&bb);
    return 0;
}
#else
static int load_config(const char *buf, size_t len, void *out, FILE *errs)
{
    return tp_config_load_mem(CONFIG, buf, len, out, errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tp_config zero;
    struct tp_config cfg;
    struct extent config;
    char *errs = NULL;
    size_t elen = 0;
    int rc;

    memset(&cfg, 0xa5, sizeof(cfg)); /* the loader must not rely on a zeroed struct */
    rc = run_load(load_config, data, size, &cfg, &errs, &elen, &config);
    if (rc > 0) {
        check_errors(errs, elen, rc, 0, &config);
        if (memcmp(&cfg, &zero, sizeof(cfg)) != 0)
            fail("errors, and the config not left empty", NULL);
    } else {
        if (elen)
            fail("a config, and errors", errs);
        check_config(&cfg);
    }
    free(errs);
    tp_config_free(&cfg);
    return 0;
}
#endif
