/* The history store when things go wrong, on real files and processes:
 * garbage, another program's database, a newer schema, a missing or
 * read-only directory, another writer holding the lock, a full disk (a
 * small tmpfs in a mount namespace of a child's own), a history in use by
 * a live process, a full buffer; and kill -9 in the middle of writing:
 * the file stays intact and only what was not yet committed is lost. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe/store.h"
#include "store_util.h"
#include "tmpcwd.h"

static void setup(void) { ut_cwd_enter("tp_storefail"); }
static void teardown(void) { ut_cwd_leave(); }

TestSuite(store_fail, .init = setup, .fini = teardown, .timeout = 120);

static int try_open(const char *path, const struct tp_store_opts *o, char *err, size_t len)
{
    struct tp_store *st = NULL;
    int rc = tp_store_open(path, o, &st, err, len);

    if (st)
        tp_store_close(st, T0, err, len);
    return rc;
}

static void put(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "w");

    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

static void sql(const char *path, const char *text)
{
    sqlite3 *db;

    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
}

static double wall(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(store_fail, garbage_another_programs_database_and_a_newer_schema_are_refused)
{
    char junk[8192], err[512];

    memset(junk, 'x', sizeof(junk));
    put("junk.db", junk, sizeof(junk));
    cr_assert_eq(try_open("junk.db", NULL, err, sizeof(err)), -EBADMSG);
    cr_assert_str_eq(err, "junk.db: reading: not a database (a corrupt file, or not SQLite) "
                          "(SQLITE_NOTADB: file is not a database)");

    sql("other.db", "CREATE TABLE photos (id INTEGER PRIMARY KEY)");
    cr_assert_eq(try_open("other.db", NULL, err, sizeof(err)), -EBADMSG);
    cr_assert_not_null(strstr(err, "other.db: not a twkit probe history"), "%s", err);

    cr_assert_eq(try_open("new.db", NULL, err, sizeof(err)), 0, "%s", err);
    sql("new.db", "PRAGMA user_version = 99");
    cr_assert_eq(try_open("new.db", NULL, err, sizeof(err)), -EPROTO);
    cr_assert_str_eq(err, "new.db: written by a newer twkit (schema version 99; this one knows 1)");
}

Test(store_fail, a_corrupt_page_fails_the_writes_and_the_results_still_count)
{
    struct tp_store_opts o = {.now = T0};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_stats s;
    char name[16], junk[4096];
    sqlite3 *db;
    sqlite3_stmt *q;
    int fd, pages = 0;

    for (int m = 0; m < 2; m++)
        for (int i = 0; i < 500; i++) {
            struct tp_store_key k = su_key("p", name, 60000);
            snprintf(name, sizeof(name), "t%d", i);
            tp_store_result(st, &k, T0 + m * 60, TP_SUCCESS, TP_UP, 0.001);
        }
    su_close(st, T0 + 90);
    /* every page of the minute table, overwritten */
    memset(junk, 0xab, sizeof(junk));
    cr_assert_eq(sqlite3_open("h.db", &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT pageno FROM dbstat WHERE name = 'minute'", -1,
                                    &q, NULL),
                 SQLITE_OK);
    cr_assert_geq(fd = open("h.db", O_WRONLY), 0);
    while (sqlite3_step(q) == SQLITE_ROW) {
        off_t at = (off_t)(sqlite3_column_int64(q, 0) - 1) * 4096;
        cr_assert_eq(pwrite(fd, junk, sizeof(junk), at), (ssize_t)sizeof(junk));
        pages++;
    }
    close(fd);
    sqlite3_finalize(q);
    sqlite3_close(db);
    cr_assert_gt(pages, 1);

    o.now = T0 + 100;
    st = su_open("h.db", &o);
    for (int i = 0; i < 500; i++) {
        struct tp_store_key k = su_key("p", name, 60000);
        snprintf(name, sizeof(name), "t%d", i);
        tp_store_result(st, &k, T0 + 120, TP_SUCCESS, TP_UP, 0.001);
    }
    cr_assert_eq(tp_store_flush(st, T0 + 190), -EBADMSG);
    cr_assert_not_null(strstr(tp_store_error(st), "h.db: writing: the database is corrupt "
                                                  "(SQLITE_CORRUPT"),
                       "%s", tp_store_error(st));
    tp_store_result(st, &(struct tp_store_key){.probe = "p", .target = "t0"}, T0 + 191,
                    TP_SUCCESS, TP_UP, 0.001);
    tp_store_stats(st, &s);
    cr_assert_eq(s.results, 501);
    cr_assert_eq(s.buffered, 500);
    {
        char err[512] = "";
        cr_assert_lt(tp_store_close(st, T0 + 200, err, sizeof(err)), 0);
        cr_assert_not_null(strstr(err, "rows and 0 state changes lost"), "%s", err);
    }
}

Test(store_fail, a_missing_directory_is_said)
{
    char err[512];

    cr_assert_eq(try_open("nodir/sub/h.db", NULL, err, sizeof(err)), -ENOENT);
    cr_assert_str_eq(err, "nodir/sub/h.db: cannot create it: directory nodir/sub does not exist");
}

/* In a child as nobody when we are root (root writes anywhere): open path,
 * and hand back the result and the message. */
static int open_as_nobody(const char *path, char *err, size_t len)
{
    int fd[2], rc = 0, status;
    pid_t pid;

    cr_assert_eq(pipe(fd), 0);
    if ((pid = fork()) == 0) {
        char e[512] = "";
        close(fd[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        rc = try_open(path, NULL, e, sizeof(e));
        if (write(fd[1], &rc, sizeof(rc)) != sizeof(rc) || write(fd[1], e, sizeof(e)) < 0)
            _exit(4);
        _exit(0);
    }
    close(fd[1]);
    cr_assert_eq(read(fd[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
    cr_assert_gt(read(fd[0], err, len), 0);
    close(fd[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return rc;
}

Test(store_fail, a_read_only_directory_or_file_is_said)
{
    char err[512];

    cr_assert_eq(chmod(ut_dir, 0755), 0);
    cr_assert_eq(mkdir("ro", 0555), 0);
    cr_assert_eq(open_as_nobody("ro/h.db", err, sizeof(err)), -EACCES);
    cr_assert_str_eq(err, "ro/h.db: cannot create it in ro: Permission denied");
    /* a history written by someone else, that we may only read */
    cr_assert_eq(mkdir("theirs", 0755), 0);
    cr_assert_eq(try_open("theirs/h.db", NULL, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(chmod("theirs/h.db", 0444), 0);
    cr_assert_eq(open_as_nobody("theirs/h.db", err, sizeof(err)), -EACCES);
    cr_assert_str_eq(err, "theirs/h.db: read-only: Permission denied");
}

Test(store_fail, a_locked_file_fails_the_flush_and_a_later_one_writes_it_all)
{
    struct tp_store_opts o = {.now = T0, .busy_ms = 50};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_key k = su_key("p", "a", 1000);
    struct tp_store_stats s;
    sqlite3 *other;
    char *buf = NULL;
    size_t len;
    FILE *f;

    su_feed(st, &k, T0, 70, 1, 1000, 1000, 0.001);
    cr_assert_eq(sqlite3_open("h.db", &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (int i = 70; i < 130; i++)
        tp_store_result(st, &k, T0 + i, TP_SUCCESS, TP_UP, 0.001);
    cr_assert_eq(tp_store_flush(st, T0 + 130), -EBUSY);
    cr_assert_str_eq(tp_store_error(st),
                     "h.db: writing: locked by another writer for more than 50 ms "
                     "(SQLITE_BUSY: database is locked)");
    tp_store_stats(st, &s);
    cr_assert_eq(s.errors, 1);
    cr_assert_eq(s.last_error, SQLITE_BUSY);
    cr_assert_eq(s.buffered, 1, "the minute [60, 120) waits");
    /* backing off: not tried again at once */
    cr_assert_eq(tp_store_flush(st, T0 + 130.1), -EAGAIN);
    tp_store_stats(st, &s);
    cr_assert_eq(s.errors, 1);
    f = open_memstream(&buf, &len);
    tp_store_metrics(st, f);
    fclose(f);
    cr_assert_not_null(strstr(buf, "twkit_probe_store_healthy 0\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "twkit_probe_store_errors_total{error=\"SQLITE_BUSY\"} 1\n"));
    free(buf);
    /* released: the next try writes everything */
    cr_assert_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    cr_assert_geq(tp_store_flush(st, T0 + 130.5), 0, "%s", tp_store_error(st));
    cr_assert_str_eq(tp_store_error(st), "");
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM minute"), 120);
    su_close(st, T0 + 131);
    cr_assert_eq(su_q("h.db", "SELECT sum(success) FROM minute"), 130);
}

Test(store_fail, the_buffer_is_bounded_while_the_file_cannot_be_written)
{
    struct tp_store_opts o = {.now = T0, .busy_ms = 10, .max_buffered = 100};
    struct tp_store *st = su_open("h.db", &o);
    struct tp_store_stats s;
    sqlite3 *other;
    char name[16];

    cr_assert_eq(sqlite3_open("h.db", &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    /* 300 targets for 3 minutes: 600 finished rows, room for 100 */
    for (int m = 0; m < 3; m++) {
        for (int i = 0; i < 300; i++) {
            struct tp_store_key k = su_key("p", name, 60000);
            snprintf(name, sizeof(name), "t%d", i);
            tp_store_result(st, &k, T0 + m * 60 + 1, TP_SUCCESS, TP_UP, 0.001);
        }
        tp_store_flush(st, T0 + m * 60 + 2);
    }
    tp_store_flush(st, T0 + 300);
    tp_store_stats(st, &s);
    cr_assert_leq(s.buffered, 100);
    cr_assert_geq(s.dropped, 500);
    cr_assert_gt(s.errors, 0);
    cr_assert_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    su_close(st, T0 + 400);
    /* the newest 100 rows made it, the oldest were dropped: the newest
     * are the minute the last results' covered time ends in (60 s
     * interval: 120 s from T0 + 121) */
    cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute"), 100);
    cr_assert_eq(su_q("h.db", "SELECT min(start) FROM minute"), (int64_t)T0 + 240);
    cr_assert_eq(su_q("h.db", "SELECT max(start) FROM minute"), (int64_t)T0 + 240);
}

Test(store_fail, a_history_in_use_by_a_live_process_is_refused)
{
    struct tp_store_opts o = {.now = wall()};
    char err[512], c;
    struct tp_store *st = su_open("h.db", &o), *again = NULL;
    int fd[2], status;
    pid_t pid;

    /* this process, twice */
    cr_assert_eq(tp_store_open("h.db", &o, &again, err, sizeof(err)), -EBUSY);
    snprintf(err + 400, 100, "h.db: in use: process %d", (int)getpid());
    cr_assert_not_null(strstr(err, err + 400), "%s", err);
    su_close(st, o.now + 1);

    cr_assert_eq(pipe(fd), 0);
    if ((pid = fork()) == 0) {
        struct tp_store *mine = NULL;
        char e[512];
        close(fd[0]);
        if (tp_store_open("h.db", &o, &mine, e, sizeof(e)) != 0 || write(fd[1], "r", 1) != 1)
            _exit(1);
        sleep(60); /* killed long before */
        _exit(2);
    }
    close(fd[1]);
    cr_assert_eq(read(fd[0], &c, 1), 1);
    cr_assert_eq(try_open("h.db", &o, err, sizeof(err)), -EBUSY);
    cr_assert_not_null(strstr(err, "in use"), "%s", err);
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    close(fd[0]);
    /* its process is gone: the history is free */
    cr_assert_eq(try_open("h.db", &o, err, sizeof(err)), 0, "%s", err);
}

/* What a writer killed with -9 had committed, as it said so. */
struct progress {
    uint64_t rows, states; /* committed, per the store's counters */
};

/* A child writing for ever (bounded): 400 targets, a result each per
 * simulated second, a state change every 10 s; after each flush it says
 * what is committed. */
static void writer(int fd, double t0)
{
    struct tp_store_opts o = {.now = wall(), .max_txn_rows = 150};
    struct tp_store *st = NULL;
    char name[16], e[512];

    if (tp_store_open("h.db", &o, &st, e, sizeof(e)) != 0)
        _exit(1);
    for (int sec = 0; sec < 100000; sec++) {
        struct tp_store_stats s;
        struct progress p;
        double t = t0 + sec;
        for (int i = 0; i < 400; i++) {
            struct tp_store_key k = su_key("p", name, 1000);
            snprintf(name, sizeof(name), "t%d", i);
            tp_store_result(st, &k, t, TP_SUCCESS, TP_UP, 0.001);
            if (i == 0 && sec % 10 == 0)
                tp_store_state(st, &k, t, TP_UP, TP_DOWN, "timeout", NULL);
        }
        tp_store_flush(st, t);
        tp_store_stats(st, &s);
        p = (struct progress){s.rows[TP_STORE_T_MINUTE], s.rows[TP_STORE_T_STATE]};
        if (write(fd, &p, sizeof(p)) != sizeof(p))
            _exit(2);
    }
    _exit(3);
}

Test(store_fail, kill_9_while_writing_loses_at_most_the_uncommitted_batch)
{
    uint64_t rows = 0, states = 0;
    unsigned seed = (unsigned)getpid();

    for (int round = 0; round < 4; round++) {
        double t0 = T0 + round * 100000.0;
        struct progress p, last = {0, 0};
        int fd[2], status, n = 0;
        char integrity[64] = "";
        sqlite3 *db;
        sqlite3_stmt *s;
        pid_t pid;

        cr_assert_eq(pipe(fd), 0);
        if ((pid = fork()) == 0) {
            close(fd[0]);
            writer(fd[1], t0);
        }
        close(fd[1]);
        /* some minutes in, at a moment of no particular kind */
        while (read(fd[0], &p, sizeof(p)) == sizeof(p) && (last = p, p.rows < 800))
            n++;
        usleep((useconds_t)(rand_r(&seed) % 20000));
        kill(pid, SIGKILL);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the writer ended first");
        while (read(fd[0], &p, sizeof(p)) == sizeof(p)) /* what it said before it died */
            last = p;
        close(fd[0]);

        cr_assert_eq(sqlite3_open("h.db", &db), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
        cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
        snprintf(integrity, sizeof(integrity), "%s", sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        sqlite3_close(db);
        cr_assert_str_eq(integrity, "ok");
        /* everything it said was committed is there; at most one
         * transaction more (committed, not said yet) */
        rows += last.rows;
        states += last.states;
        {
            uint64_t r = (uint64_t)su_q("h.db", "SELECT count(*) FROM minute"),
                     sc = (uint64_t)su_q("h.db", "SELECT count(*) FROM state_changes");
            cr_assert_geq(r, rows, "round %d: %llu rows, %llu said", round,
                          (unsigned long long)r, (unsigned long long)rows);
            cr_assert_leq(r, rows + 150);
            cr_assert_geq(sc, states);
            cr_assert_leq(sc, states + 150);
            /* not a torn row among them: every minute row is a whole one */
            cr_assert_eq(su_q("h.db", "SELECT count(*) FROM minute WHERE success NOT BETWEEN 1 "
                                      "AND 60 OR up_ms > 60000"),
                         0);
            rows = r;
            states = sc;
        }
    }
    /* and the history goes on after the last kill */
    {
        struct tp_store_opts o = {.now = wall()};
        struct tp_store *st = su_open("h.db", &o);
        struct tp_store_key k = su_key("p", "t0", 1000);
        su_feed(st, &k, T0 + 900000, 120, 1, 1000, 1000, 0.001);
        su_close(st, T0 + 900120);
        cr_assert_eq((uint64_t)su_q("h.db", "SELECT count(*) FROM minute"), rows + 2);
        cr_assert_eq(su_q("h.db", "SELECT count(*) FROM targets"), 400);
        cr_assert_eq(su_q("h.db", "SELECT count(*) FROM runs"), 5);
    }
}

/* ---- a full disk: a child in a mount namespace of its own ---- */

struct full_result {
    int first, second;     /* the failing flush and the one after room was made */
    char err[256];
    int64_t rows;          /* written in the end (two minutes of 3,000) */
    uint64_t results;      /* taken meanwhile */
};

static void full_child(int fd)
{
    struct full_result r = {0};
    struct tp_store_opts o = {.now = T0, .busy_ms = 10};
    struct tp_store *st = NULL;
    char name[16], e[512], block[4096];
    struct tp_store_stats s;
    FILE *filler;

    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mkdir("small", 0700) != 0 || mount("tmpfs", "small", "tmpfs", 0, "size=4m") != 0)
        _exit(10);
    if (tp_store_open("small/h.db", &o, &st, e, sizeof(e)) != 0)
        _exit(11);
    /* the rest of the file system taken */
    memset(block, 'f', sizeof(block));
    if (!(filler = fopen("small/filler", "w")))
        _exit(12);
    setvbuf(filler, NULL, _IONBF, 0);
    while (fwrite(block, 1, sizeof(block), filler) == sizeof(block))
        ;
    fclose(filler);
    for (int i = 0; i < 3000; i++) {
        struct tp_store_key k = su_key("p", name, 60000);
        snprintf(name, sizeof(name), "target-%d", i);
        tp_store_result(st, &k, T0 + 1, TP_SUCCESS, TP_UP, 0.001);
    }
    r.first = tp_store_flush(st, T0 + 70);
    snprintf(r.err, sizeof(r.err), "%s", tp_store_error(st));
    for (int i = 0; i < 3000; i++) { /* probing goes on */
        struct tp_store_key k = su_key("p", name, 60000);
        snprintf(name, sizeof(name), "target-%d", i);
        tp_store_result(st, &k, T0 + 71, TP_SUCCESS, TP_UP, 0.001);
    }
    unlink("small/filler");
    r.second = tp_store_flush(st, T0 + 72);
    while (r.second == 1)
        r.second = tp_store_flush(st, T0 + 72);
    tp_store_stats(st, &s);
    r.results = s.results;
    if (tp_store_close(st, T0 + 100, e, sizeof(e)) != 0)
        _exit(13);
    r.rows = su_q("small/h.db", "SELECT count(*) FROM minute");
    if (write(fd, &r, sizeof(r)) != sizeof(r))
        _exit(14);
    umount2("small", MNT_DETACH);
    _exit(0);
}

Test(store_fail, a_full_disk_fails_the_flush_until_there_is_room)
{
    struct full_result r;
    int fd[2], status;
    pid_t pid;

    if (geteuid() != 0)
        cr_skip_test("needs root (a tmpfs in a mount namespace)");
    cr_assert_eq(pipe(fd), 0);
    if ((pid = fork()) == 0) {
        close(fd[0]);
        full_child(fd[1]);
    }
    close(fd[1]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: %d", WEXITSTATUS(status));
    cr_assert_eq(read(fd[0], &r, sizeof(r)), (ssize_t)sizeof(r));
    close(fd[0]);
    rmdir("small");
    cr_assert_eq(r.first, -ENOSPC, "%d %s", r.first, r.err);
    cr_assert_not_null(strstr(r.err, "small/h.db: writing: the disk is full"), "%s", r.err);
    cr_assert_geq(r.second, 0);
    cr_assert_eq(r.results, 6000);
    cr_assert_eq(r.rows, 6000, "both minutes, nothing lost: %lld", (long long)r.rows);
}
