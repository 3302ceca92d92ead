/* twkit-bench-store: what the uptime history costs (make bench-store, and
 * the end of make bench-probe).
 *
 *   twkit-bench-store [--targets N] [--rate R] [--seconds S] [--size-days D] [--sync S]
 *                     [--dir DIR]
 *
 * Load: N targets (20,000), R results a second (20,000: each target once a
 * second), S seconds of simulated time (300: five minute boundaries, each
 * closing N minute rows at once; 0.1 % failures in blocks, latencies
 * around 5 ms), flushed 4 times a simulated second, as the prober's after
 * thread would. The clock is simulated, the file real (in DIR, default a
 * fresh one under $TMPDIR or /tmp, removed after): the run goes as fast as
 * the store allows, so the CPU it takes per simulated second is its cost
 * at that rate. Printed: CPU seconds per second of results (all of it, and
 * the flushes' share; the load generator's own CPU, measured in a run
 * without the store, is taken off), transactions and rows per simulated
 * second, and the file's size. --sync S: the store's sync_s (the open
 * minutes written every S seconds too).
 *
 * Then the disk per 1,000 targets (--size-days D, default 2; 0: skip):
 * 1,000 targets at a 1 s interval for D simulated days, so that minute,
 * hour and day rows are all written, then each table's bytes per row
 * (dbstat) times the rows 1,000 targets keep with the default periods:
 * minutes 3 days, hours 30 days, days 90 days.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "probe/store.h"

static double cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double thread_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p);
}

struct load {
    size_t targets;
    double rate, seconds;
    char **names;
    uint64_t *down_until; /* a target fails until this result number */
    unsigned seed;
    bool dry;             /* the load alone, no store: its own cost */
    double max_flush;     /* the longest flush, wall seconds */
};

/* About 5 ms, log-normal-ish, from a cheap generator. */
static double latency(unsigned *seed)
{
    double u = ((double)rand_r(seed) + 1) / ((double)RAND_MAX + 2);
    return 0.005 * exp(0.5 * sqrt(-2 * log(u)) * cos(2 * M_PI * (double)rand_r(seed) / RAND_MAX));
}

/* The load from t0 for l->seconds; CPU of the flushes into *flush_cpu. */
static int run(struct tp_store *st, struct load *l, double t0, double *flush_cpu)
{
    uint64_t interval_ms = (uint64_t)llround((double)l->targets / l->rate * 1000);
    double step = 1.0 / l->rate, next_flush = t0;
    uint64_t n = (uint64_t)llround(l->rate * l->seconds);
    enum tp_state *state = calloc(l->targets, sizeof(*state));

    if (!state)
        return -ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        size_t ti = i % l->targets;
        double t = t0 + (double)i * step;
        struct tp_store_key k = {.probe = "bench", .target = l->names[ti], .kind = "tcp",
                                 .interval_ms = interval_ms};
        uint64_t round = i / l->targets;
        bool fail;

        /* one target in 1,000 goes down for 30 results now and then */
        if (rand_r(&l->seed) % 30000 == 0)
            l->down_until[ti] = round + 30;
        fail = round < l->down_until[ti];
        if ((fail ? TP_DOWN : TP_UP) != state[ti]) {
            if (!l->dry)
                tp_store_state(st, &k, t, state[ti], fail ? TP_DOWN : TP_UP,
                               fail ? "timeout" : NULL, NULL);
            state[ti] = fail ? TP_DOWN : TP_UP;
        }
        if (l->dry) {
            volatile double d = fail ? 1.0 : latency(&l->seed);
            (void)d;
            (void)k;
            continue;
        }
        tp_store_result(st, &k, t, fail ? TP_FAILURE : TP_SUCCESS, state[ti],
                        fail ? 1.0 : latency(&l->seed));
        if (t >= next_flush) {
            double c = thread_cpu(), w = mono();
            int rc = tp_store_flush(st, t);
            *flush_cpu += thread_cpu() - c;
            if (mono() - w > l->max_flush)
                l->max_flush = mono() - w;
            if (rc < 0 && rc != -EAGAIN)
                fprintf(stderr, "store-bench: flush: %s\n", tp_store_error(st));
            next_flush = t + 0.25;
        }
    }
    free(state);
    return 0;
}

static int make_names(struct load *l)
{
    if (!(l->names = calloc(l->targets, sizeof(*l->names))) ||
        !(l->down_until = calloc(l->targets, sizeof(*l->down_until))))
        return -ENOMEM;
    for (size_t i = 0; i < l->targets; i++)
        if (asprintf(&l->names[i], "10.%zu.%zu.%zu:443", i / 65536, i / 256 % 256, i % 256) < 0)
            return -ENOMEM;
    return 0;
}

static void free_names(struct load *l)
{
    for (size_t i = 0; l->names && i < l->targets; i++)
        free(l->names[i]);
    free(l->names);
    free(l->down_until);
}

/* Bytes per row of each table, from dbstat (pages of the table's b-tree,
 * interior ones included); -1 for a table without rows. */
static void bytes_per_row(const char *path, double out[4])
{
    static const char *const tables[4] = {"minute", "hour", "day", "state_changes"};
    sqlite3 *db;

    for (int i = 0; i < 4; i++)
        out[i] = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return;
    for (int i = 0; i < 4; i++) {
        char sql[200];
        sqlite3_stmt *s;
        snprintf(sql, sizeof(sql),
                 "SELECT (SELECT sum(pgsize) FROM dbstat WHERE name = '%s' OR name LIKE "
                 "'sqlite_autoindex_%s%%' OR name LIKE '%s\\_%%' ESCAPE '\\'),"
                 " (SELECT count(*) FROM %s)",
                 tables[i], tables[i], tables[i], tables[i]);
        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 1) > 0)
            out[i] = (double)sqlite3_column_int64(s, 0) / (double)sqlite3_column_int64(s, 1);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}

static int usage(void)
{
    fputs("usage: twkit-bench-store [--targets N] [--rate R] [--seconds S] [--size-days D] "
          "[--sync S] [--dir DIR]\n",
          stderr);
    return 2;
}

int main(int argc, char **argv)
{
    struct load l = {.targets = 20000, .rate = 20000, .seconds = 300, .seed = 42};
    double size_days = 2, cpu0, wall0, cpu, wall, gen, flush_cpu = 0, t0 = 1700006400.0 - 30;
    char dir[256] = "", path[300], err[600];
    const char *tmp = getenv("TMPDIR"), *userdir = NULL;
    struct tp_store_opts o = {0};
    struct tp_store_stats s;
    struct tp_store *st;
    double bpr[4];

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return usage();
        if (!strcmp(argv[i], "--targets"))
            l.targets = strtoul(v, NULL, 10);
        else if (!strcmp(argv[i], "--rate"))
            l.rate = strtod(v, NULL);
        else if (!strcmp(argv[i], "--seconds"))
            l.seconds = strtod(v, NULL);
        else if (!strcmp(argv[i], "--size-days"))
            size_days = strtod(v, NULL);
        else if (!strcmp(argv[i], "--dir"))
            userdir = v;
        else if (!strcmp(argv[i], "--sync"))
            o.sync_s = strtod(v, NULL);
        else
            return usage();
        i++;
    }
    if (!l.targets || !(l.rate > 0) || !(l.seconds > 0))
        return usage();
    if (userdir)
        snprintf(dir, sizeof(dir), "%s", userdir);
    else {
        snprintf(dir, sizeof(dir), "%s/twkit-store-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror("store-bench: mkdtemp");
            return 1;
        }
    }
    snprintf(path, sizeof(path), "%s/probe.db", dir);
    if (make_names(&l) < 0)
        return 1;

    /* ---- the cost at the rate ---- */
    o.now = t0;
    if (tp_store_open(path, &o, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "store-bench: %s\n", err);
        return 1;
    }
    /* the load generator's own cost, taken off below */
    l.dry = true;
    cpu0 = cpu_now();
    run(NULL, &l, t0, &flush_cpu);
    gen = cpu_now() - cpu0;
    l.dry = false;
    l.seed = 42;
    memset(l.down_until, 0, l.targets * sizeof(*l.down_until));
    cpu0 = cpu_now();
    wall0 = mono();
    run(st, &l, t0, &flush_cpu);
    cpu = cpu_now() - cpu0 - gen;
    wall = mono() - wall0;
    tp_store_stats(st, &s);
    printf("store-bench: %zu targets, %.0f results/s, %.0f s simulated (%llu results), file %s\n",
           l.targets, l.rate, l.seconds, (unsigned long long)s.results, path);
    printf("  CPU          %.4f s per second of results (%.1f %% of a core), %.0f ns a result;"
           " flushes %.4f s/s (the load generator's own %.4f s/s taken off)\n",
           cpu / l.seconds, 100 * cpu / l.seconds, cpu / (double)s.results * 1e9,
           flush_cpu / l.seconds, gen / l.seconds);
    printf("  wall         %.2f s for the run (%.0f simulated seconds per second), the longest "
           "flush %.1f ms\n",
           wall, l.seconds / wall, l.max_flush * 1e3);
    printf("  writes       %.2f transactions/s, %.1f rows/s (minute %llu, hour %llu, day %llu, "
           "state %llu, target %llu), %.4f s/s in transactions\n",
           (double)s.transactions / l.seconds,
           (double)(s.rows[0] + s.rows[1] + s.rows[2] + s.rows[3] + s.rows[4]) / l.seconds,
           (unsigned long long)s.rows[0], (unsigned long long)s.rows[1],
           (unsigned long long)s.rows[2], (unsigned long long)s.rows[3],
           (unsigned long long)s.rows[4], s.write_seconds / l.seconds);
    printf("  file         %.1f MB (database and WAL), errors %llu, dropped %llu\n",
           (double)s.bytes / 1e6, (unsigned long long)s.errors, (unsigned long long)s.dropped);
    tp_store_close(st, t0 + l.seconds, err, sizeof(err));

    /* ---- the disk per 1,000 targets ---- */
    if (size_days > 0) {
        struct load z = {.targets = 1000, .rate = 1000, .seconds = size_days * 86400, .seed = 7};
        double f = 0, mb;
        snprintf(path, sizeof(path), "%s/size.db", dir);
        o.now = t0;
        if (make_names(&z) < 0 || tp_store_open(path, &o, &st, err, sizeof(err)) < 0) {
            fprintf(stderr, "store-bench: %s\n", err);
            return 1;
        }
        wall0 = mono();
        run(st, &z, t0, &f);
        tp_store_close(st, t0 + z.seconds, err, sizeof(err));
        bytes_per_row(path, bpr);
        printf("disk: 1,000 targets at 1 s for %.1f simulated days (%.0f s): bytes per row: "
               "minute %.1f, hour %.1f, day %.1f, state change %.1f\n",
               size_days, mono() - wall0, bpr[0], bpr[1], bpr[2], bpr[3]);
        /* minutes 3 d, hours 30 d, days 90 d (the defaults) */
        mb = (1000.0 * 1440 * 3 * bpr[0] + 1000.0 * 24 * 30 * bpr[1] + 1000.0 * 90 * bpr[2]) / 1e6;
        printf("  per 1,000 targets with the default periods: minutes %.0f MB + hours %.0f MB + "
               "days %.1f MB = %.0f MB (and the WAL, up to 64 MB)\n",
               1000.0 * 1440 * 3 * bpr[0] / 1e6, 1000.0 * 24 * 30 * bpr[1] / 1e6,
               1000.0 * 90 * bpr[2] / 1e6, mb);
        free_names(&z);
    }
    free_names(&l);
    if (!userdir)
        nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
