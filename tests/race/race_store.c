/* The history store's counters are written by the thread that owns the
 * store and read by another (the prober's /metrics) while it works. Built
 * with ThreadSanitizer (tests/CMakeLists.txt): a plain write on one side
 * and a read on the other is a data race, and TSan's report fails the
 * test. SQLite itself is called from the owning thread only.
 *
 * This thread feeds results and flushes (new targets, minute rows, state
 * changes, a roll-up and retention on a simulated clock); a second one
 * reads tp_store_stats and tp_store_metrics meanwhile. At the end the
 * counts must add up. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/store.h"

static atomic_int done;

static void *reader(void *arg)
{
    struct tp_store *st = arg;
    FILE *null = fopen("/dev/null", "w");
    unsigned long reads = 0;

    if (!null)
        exit(1);
    while (!atomic_load(&done)) {
        struct tp_store_stats s;
        tp_store_stats(st, &s);
        tp_store_metrics(st, null);
        reads++;
    }
    fclose(null);
    return (void *)reads;
}

int main(void)
{
    char dir[] = "/tmp/twkit-race-store.XXXXXX", path[64], err[512], name[16];
    struct tp_store_opts o = {.now = 1700006400.0 - 600};
    struct tp_store_stats s;
    struct tp_store *st;
    pthread_t th;
    void *reads;
    int rc;

    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/h.db", dir);
    if (tp_store_open(path, &o, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "race_store: %s\n", err);
        return 1;
    }
    if (pthread_create(&th, NULL, reader, st) != 0)
        return 1;
    /* 50 targets at 10 s for 2 simulated hours across midnight */
    for (double t = o.now; t < o.now + 7200; t += 10) {
        for (int i = 0; i < 50; i++) {
            struct tp_store_key k = {.probe = "p", .target = name, .interval_ms = 10000};
            snprintf(name, sizeof(name), "t%d", i);
            tp_store_result(st, &k, t, i == 7 ? TP_FAILURE : TP_SUCCESS,
                            i == 7 ? TP_DOWN : TP_UP, 0.001);
            if (t == o.now)
                tp_store_state(st, &k, t, TP_UNKNOWN, i == 7 ? TP_DOWN : TP_UP, NULL, NULL);
        }
        if ((rc = tp_store_flush(st, t)) < 0) {
            fprintf(stderr, "race_store: %s\n", tp_store_error(st));
            return 1;
        }
    }
    atomic_store(&done, 1);
    pthread_join(th, &reads);
    tp_store_stats(st, &s);
    if (tp_store_close(st, o.now + 7200, err, sizeof(err)) < 0) {
        fprintf(stderr, "race_store: %s\n", err);
        return 1;
    }
    unlink(path);
    rmdir(dir);
    if (s.results != 50 * 720 || s.rows[TP_STORE_T_STATE] != 50 || s.rows[TP_STORE_T_HOUR] == 0 ||
        s.errors != 0 || !reads) {
        fprintf(stderr, "race_store: results %llu, states %llu, hours %llu, errors %llu\n",
                (unsigned long long)s.results, (unsigned long long)s.rows[TP_STORE_T_STATE],
                (unsigned long long)s.rows[TP_STORE_T_HOUR], (unsigned long long)s.errors);
        return 1;
    }
    printf("race_store: ok, %lu reads while %llu transactions\n", (unsigned long)(uintptr_t)reads,
           (unsigned long long)s.transactions);
    return 0;
}
