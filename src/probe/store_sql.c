/* The history's schema, its opening and SQLite's errors in words
 * (store_int.h; the schema is documented in docs/PROBE.md, "History").
 *
 * Every row table is keyed by (start, target_id), time first: a minute's
 * rows of every target are written together, so one transaction touches a
 * few adjacent pages instead of one page per target, and a roll-up or a
 * retention delete reads or drops a contiguous run of them. WITHOUT ROWID:
 * the key is the row's place, no second b-tree. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/store_int.h"

const char *const ts_tables[3] = {"minute", "hour", "day"};

#define ROW_COLUMNS                                                                            \
    "  start INTEGER NOT NULL,\n"                                                              \
    "  target_id INTEGER NOT NULL,\n"                                                          \
    "  span INTEGER NOT NULL,\n"                                                               \
    "  success INTEGER NOT NULL,\n"                                                            \
    "  failure INTEGER NOT NULL,\n"                                                            \
    "  local_error INTEGER NOT NULL,\n"                                                        \
    "  up_ms INTEGER NOT NULL,\n"                                                              \
    "  down_ms INTEGER NOT NULL,\n"                                                            \
    "  local_ms INTEGER NOT NULL,\n"                                                           \
    "  lat_sum_us INTEGER NOT NULL,\n"                                                         \
    "  lat_min_us INTEGER,\n"                                                                  \
    "  lat_max_us INTEGER,\n"                                                                  \
    "  hist BLOB,\n"                                                                           \
    "  PRIMARY KEY (start, target_id)\n"                                                       \
    ") WITHOUT ROWID;\n"

/* Version 1. A later version adds a step to migrations[] and keeps this. */
static const char schema_v1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;\n"
    "CREATE TABLE targets (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  probe TEXT NOT NULL,\n"
    "  target TEXT NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  labels TEXT NOT NULL,\n"
    "  interval_ms INTEGER NOT NULL,\n"
    "  first_seen REAL NOT NULL,\n"
    "  UNIQUE (probe, target)\n"
    ");\n"
    "CREATE TABLE minute (\n" ROW_COLUMNS
    "CREATE TABLE hour (\n" ROW_COLUMNS
    "CREATE TABLE day (\n" ROW_COLUMNS
    "CREATE TABLE state_changes (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  target_id INTEGER NOT NULL,\n"
    "  time REAL NOT NULL,\n"
    "  from_state TEXT NOT NULL,\n"
    "  to_state TEXT NOT NULL,\n"
    "  reason TEXT,\n"
    "  detail TEXT,\n"
    "  run_id INTEGER NOT NULL\n"
    ");\n"
    "CREATE INDEX state_changes_target ON state_changes (target_id, time);\n"
    "CREATE INDEX state_changes_time ON state_changes (time);\n"
    "CREATE TABLE runs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  started REAL NOT NULL,\n"
    "  last_seen REAL NOT NULL,\n"
    "  stopped REAL,\n"
    "  pid INTEGER NOT NULL,\n"
    "  host TEXT NOT NULL,\n"
    "  version TEXT NOT NULL\n"
    ");\n";

/* migrations[v - 1] takes a database from version v to v + 1. */
static const char *const migrations[] = {NULL};

const char *ts_code_name(int rc)
{
    static const char *const names[] = {
        "SQLITE_OK",       "SQLITE_ERROR",    "SQLITE_INTERNAL", "SQLITE_PERM",
        "SQLITE_ABORT",    "SQLITE_BUSY",     "SQLITE_LOCKED",   "SQLITE_NOMEM",
        "SQLITE_READONLY", "SQLITE_INTERRUPT", "SQLITE_IOERR",   "SQLITE_CORRUPT",
        "SQLITE_NOTFOUND", "SQLITE_FULL",     "SQLITE_CANTOPEN", "SQLITE_PROTOCOL",
        "SQLITE_EMPTY",    "SQLITE_SCHEMA",   "SQLITE_TOOBIG",   "SQLITE_CONSTRAINT",
        "SQLITE_MISMATCH", "SQLITE_MISUSE",   "SQLITE_NOLFS",    "SQLITE_AUTH",
        "SQLITE_FORMAT",   "SQLITE_RANGE",    "SQLITE_NOTADB",
    };
    unsigned p = (unsigned)rc & 0xff;

    return p < sizeof(names) / sizeof(names[0]) ? names[p] : "SQLITE_?";
}

int ts_explain(sqlite3 *db, const char *path, const char *what, int rc, unsigned busy_ms,
               char *buf, size_t len)
{
    int sys = db ? sqlite3_system_errno(db) : 0, neg = -EIO;
    char why[128];

    switch (rc & 0xff) {
    case SQLITE_FULL:
        snprintf(why, sizeof(why), "the disk is full");
        neg = -ENOSPC;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        snprintf(why, sizeof(why), "locked by another writer for more than %u ms", busy_ms);
        neg = -EBUSY;
        break;
    case SQLITE_NOTADB:
        snprintf(why, sizeof(why), "not a database (a corrupt file, or not SQLite)");
        neg = -EBADMSG;
        break;
    case SQLITE_CORRUPT:
        snprintf(why, sizeof(why), "the database is corrupt");
        neg = -EBADMSG;
        break;
    case SQLITE_READONLY:
        snprintf(why, sizeof(why), "read-only%s%s", sys ? ": " : "", sys ? strerror(sys) : "");
        neg = sys == EROFS ? -EROFS : -EACCES;
        break;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        snprintf(why, sizeof(why), "permission denied");
        neg = -EACCES;
        break;
    case SQLITE_NOMEM:
        snprintf(why, sizeof(why), "out of memory");
        neg = -ENOMEM;
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
        if (sys == ENOSPC || sys == EDQUOT) {
            snprintf(why, sizeof(why), "the disk is full: %s", strerror(sys));
            neg = -ENOSPC;
            break;
        }
        snprintf(why, sizeof(why), "%s%s%s", (rc & 0xff) == SQLITE_IOERR ? "I/O error" : "cannot open",
                 sys ? ": " : "", sys ? strerror(sys) : "");
        neg = sys ? -sys : -EIO;
        break;
    default:
        snprintf(why, sizeof(why), "failed");
        break;
    }
    snprintf(buf, len, "%s: %s: %s (%s: %s)", path, what, why, ts_code_name(rc),
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    return neg;
}

/* Before SQLite tries: the cases it would only call "unable to open". */
static int precheck(const char *path, bool create, char *err, size_t errlen)
{
    char *copy = strdup(path), *dir;
    struct stat st;
    int rc = 0;

    if (!copy)
        return -ENOMEM;
    dir = dirname(copy);
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "%s: not a regular file", path);
            rc = -EISDIR;
        } else if (create && access(path, R_OK | W_OK) != 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: read-only: %s", path, strerror(errno));
        }
    } else if (errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    } else if (!create) {
        snprintf(err, errlen, "%s: no history there (the prober has not written one)", path);
        rc = -ENOENT;
    } else if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: cannot create it: directory %s does not exist", path, dir);
        rc = -ENOENT;
    } else if (access(dir, W_OK | X_OK) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot create it in %s: %s", path, dir, strerror(errno));
    }
    free(copy);
    return rc;
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int pragma_int(sqlite3 *db, const char *sql, int64_t *v)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

    if (rc != SQLITE_OK)
        return rc;
    *v = 0;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        *v = sqlite3_column_int64(s, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(s);
    return rc;
}

/* Whether db is a twkit history (or empty), and its version. */
static int identify(sqlite3 *db, const char *path, int64_t *version, char *err, size_t errlen)
{
    int64_t app, tables;
    int rc;

    /* The first read of the file: a garbage header fails here (NOTADB). */
    if ((rc = pragma_int(db, "PRAGMA application_id", &app)) != SQLITE_OK ||
        (rc = pragma_int(db, "PRAGMA user_version", version)) != SQLITE_OK ||
        (rc = pragma_int(db, "SELECT count(*) FROM sqlite_schema", &tables)) != SQLITE_OK)
        return ts_explain(db, path, "reading", rc, 0, err, errlen);
    if ((app != 0 && app != TP_APP_ID) || (app == 0 && tables > 0)) {
        snprintf(err, errlen, "%s: not a twkit probe history (a SQLite database of something "
                 "else: application_id %lld, %lld tables)", path, (long long)app,
                 (long long)tables);
        return -EBADMSG;
    }
    if (*version > TP_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: written by a newer twkit (schema version %lld; this one "
                 "knows %d)", path, (long long)*version, TP_SCHEMA_VERSION);
        return -EPROTO;
    }
    return 0;
}

static int schema(sqlite3 *db, const char *path, unsigned busy_ms, char *err, size_t errlen)
{
    char sql[96];
    int64_t v;
    int rc, neg;

    /* IMMEDIATE: two openers of a new file must not both create it. */
    if ((rc = exec(db, "BEGIN IMMEDIATE")) != SQLITE_OK)
        return ts_explain(db, path, "opening", rc, busy_ms, err, errlen);
    if ((neg = identify(db, path, &v, err, errlen)) < 0) {
        exec(db, "ROLLBACK");
        return neg;
    }
    if (v == 0) {
        rc = exec(db, schema_v1);
        v = 1;
        if (rc == SQLITE_OK) {
            snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", TP_APP_ID);
            rc = exec(db, sql);
        }
    } else
        rc = SQLITE_OK;
    for (; rc == SQLITE_OK && v < TP_SCHEMA_VERSION; v++)
        rc = exec(db, migrations[v - 1]);
    if (rc == SQLITE_OK) {
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)v);
        rc = exec(db, sql);
    }
    if (rc == SQLITE_OK)
        rc = exec(db, "COMMIT");
    if (rc != SQLITE_OK) {
        neg = ts_explain(db, path, "creating the schema", rc, busy_ms, err, errlen);
        exec(db, "ROLLBACK");
        return neg;
    }
    return 0;
}

int ts_open_db(const char *path, bool create, unsigned busy_ms, sqlite3 **out, char *err,
               size_t errlen)
{
    sqlite3 *db = NULL;
    int rc, neg;
    sqlite3_stmt *s;
    bool wal = false;

    *out = NULL;
    if ((neg = precheck(path, create, err, errlen)) < 0)
        return neg;
    /* NOMUTEX: one thread uses this connection (the store's). */
    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                             SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        neg = ts_explain(db, path, "opening", rc, busy_ms, err, errlen);
        sqlite3_close(db);
        return neg;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, (int)busy_ms);
    if (sqlite3_db_readonly(db, "main") == 1) { /* SQLite fell back to reading */
        snprintf(err, errlen, "%s: read-only (cannot write the history)", path);
        sqlite3_close(db);
        return -EACCES;
    }
    if ((neg = identify(db, path, &(int64_t){0}, err, errlen)) < 0)
        goto fail;
    /* WAL: readers (a report) never block the writer, and a commit is one
     * append; synchronous=NORMAL: a commit is not synced, so a crash of
     * the process loses nothing committed, a power cut at most the last
     * commits, never the file's consistency. */
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            wal = !strcmp((const char *)sqlite3_column_text(s, 0), "wal");
            rc = SQLITE_OK;
        }
        sqlite3_finalize(s);
    }
    if (rc != SQLITE_OK) {
        neg = ts_explain(db, path, "turning WAL on", rc, busy_ms, err, errlen);
        goto fail;
    }
    if (!wal) {
        snprintf(err, errlen, "%s: cannot turn WAL on (a file system without shared memory?)",
                 path);
        neg = -EINVAL;
        goto fail;
    }
    /* secure_delete off: Debian's SQLite zeroes deleted rows, which would
     * double the writes of every retention delete for nothing secret. */
    rc = exec(db, "PRAGMA synchronous = NORMAL; PRAGMA secure_delete = OFF;"
                  "PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -16384;"
                  "PRAGMA temp_store = MEMORY");
    if (rc != SQLITE_OK) {
        neg = ts_explain(db, path, "setting it up", rc, busy_ms, err, errlen);
        goto fail;
    }
    if ((neg = schema(db, path, busy_ms, err, errlen)) < 0)
        goto fail;
    if ((rc = tp_lh_sql_register(db)) != SQLITE_OK) {
        neg = ts_explain(db, path, "setting it up", rc, busy_ms, err, errlen);
        goto fail;
    }
    *out = db;
    return 0;
fail:
    sqlite3_close(db);
    return neg;
}

int ts_open_ro(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int64_t v = 0;
    int rc, neg;

    *out = NULL;
    if ((neg = precheck(path, false, err, errlen)) < 0)
        return neg;
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        neg = ts_explain(db, path, "opening", rc, 0, err, errlen);
        sqlite3_close(db);
        return neg;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 5000);
    if ((neg = identify(db, path, &v, err, errlen)) < 0) {
        sqlite3_close(db);
        return neg;
    }
    if (v < 1) {
        snprintf(err, errlen, "%s: an empty database, no history yet", path);
        sqlite3_close(db);
        return -ENOENT;
    }
    *out = db;
    return 0;
}
