/* twkit probe: run the probes of a YAML config on one loop, serve /metrics
 * on twkit's own HTTP server, log state changes as JSON lines. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/probe_run.h"
#include "probe/after.h"
#include "probe/bbhttp.h"
#include "probe/blackbox.h"
#include "probe/fleet.h"
#include "probe/gzip.h"
#include "probe/notify.h"
#include "probe/probe.h"
#include "probe/report_http.h"
#include "probe/shard.h"
#include "probe/statuspage.h"
#include "probe/store.h"
#include "probe/tz.h"
#include "twkit/error.h"
#include "twkit/server.h"
#include "twkit/time.h"
#include "util/json.h"
#include "util/prom.h"
#include "util/rlimit.h"

static const char probe_usage[] =
    "usage: twkit probe [options] CONFIG\n"
    "       twkit probe [options] --blackbox-config BLACKBOX.YML [CONFIG]\n"
    "       twkit probe report [--since WHEN] [--json|--html] CONFIG  (SLA report of\n"
    "                          the history CONFIG keeps; twkit probe report --help)\n"
    "\n"
    "Probe every target of CONFIG (YAML, docs/PROBE.md) at its interval: tcp\n"
    "(connect, optional send/expect), http/https (status, body, phase timings),\n"
    "tls (handshake, certificate expiry, verification), dns (a query over UDP,\n"
    "TCP or TLS; rcode and records checked) and icmp (echo request and reply,\n"
    "RTT, reply TTL; a ping socket where net.ipv4.ping_group_range allows one,\n"
    "else a raw socket, which needs CAP_NET_RAW). Every tcp, http, tls and dns\n"
    "probe over TCP opens a fresh connection and ends it with RST, so neither\n"
    "side keeps TIME_WAIT (close: graceful in the config: our FIN, and this side\n"
    "keeps it). Errors of this host (EADDRNOTAVAIL, EMFILE, ENOBUFS, no ICMP\n"
    "socket...) are local errors, never a target down. State changes (after\n"
    "success_threshold / failure_threshold consecutive results) are logged as\n"
    "JSON lines; /metrics serves Prometheus text with blackbox_exporter's names.\n"
    "With --blackbox-config, GET /probe?target=T&module=M runs module M of\n"
    "blackbox_exporter's own config file against T now and answers in\n"
    "blackbox_exporter's metric names (a drop-in for it; docs/PROBE.md).\n"
    "State changes go to CONFIG's notify channels (webhook, Slack, Discord,\n"
    "Teams, Telegram, email, Alertmanager), sent by a thread of their own that\n"
    "never delays a probe, retried with backoff, each with an idempotency key.\n"
    "The same thread writes CONFIG's history: (SQLite) for twkit probe report,\n"
    "GET /report and the status page's 90-day bars.\n"
    "SIGTERM/SIGINT: stop. SIGHUP or POST /-/reload: reload CONFIG and\n"
    "BLACKBOX.YML (each kept as it was if it has errors).\n"
    "\n"
    "options:\n"
    "  --check               validate CONFIG, print every error as FILE:LINE:COL,\n"
    "                        exit 1 if there is one\n"
    "  --once                probe every target once, print one JSON line per\n"
    "                        result, exit 0 if all succeeded, 1 otherwise\n"
    "  --max-inflight N      --once: probes at a time (default 1000)\n"
    "  --listen ADDR:PORT    serve the status page (/), /metrics, /health, /status,\n"
    "                        /report and /probe here (default 127.0.0.1:9464;\n"
    "                        \"off\": none)\n"
    "  --status-group LABEL  the status page groups targets by LABEL: a label of the\n"
    "                        probes' labels, or kind (default: name, by probe)\n"
    "  --status-refresh DUR  the status page reloads itself every DUR (default 30s;\n"
    "                        0: never)\n"
    "  --status-samples N    durations kept per target for the status page's\n"
    "                        sparklines (default 60, at most 1000; 0: none)\n"
    "  --blackbox-config F   blackbox_exporter's blackbox.yml: its modules for /probe\n"
    "  --max-probes N        /probe: probes at a time (default 1000; 4 times as many\n"
    "                        requests wait, the rest answer as local errors)\n"
    "  --timeout-offset SEC  /probe: taken off the scrape's timeout (default 0.5)\n"
    "  --watch               reload when CONFIG, a targets file or BLACKBOX.YML\n"
    "                        changes (checked every second)\n"
    "  --log FILE            JSON lines to FILE instead of stdout\n"
    "  --log-results         log every result, not only state changes\n"
    "  --duration DUR        stop after DUR (default: run until a signal)\n"
    "  --shard I/N           probe only shard I of N of CONFIG's targets (a stable\n"
    "                        hash of probe name and target: N instances with one\n"
    "                        config split it without talking to each other)\n"
    "  --threads N           probe on N threads, each with its share of the targets\n"
    "                        (default: the CPUs this process may use; also --once)\n"
    "  --summary             at the end print one JSON object to stdout: results,\n"
    "                        skips, late starts, CPU, peak memory, TIME_WAIT,\n"
    "                        the loop's backend\n"
    "  --loop epoll|io_uring the event loops' backend (default epoll, or\n"
    "                        TWKIT_LOOP; epoll where io_uring cannot be had)\n"
    "  --test-notify CHANNEL send one test message on CONFIG's notify channel\n"
    "                        CHANNEL, wait for the answer, print it; exit 0 if it\n"
    "                        was delivered, 1 if not\n"
    "  -h, --help            this text\n"
    "\n"
    "Exit status: 0 ok; 1 config errors, or --once with a failed probe;\n"
    "2 bad usage or a failure to start (address in use...).\n";

struct probe_cli {
    const char *path;          /* NULL: /probe only */
    const char *bb_path;
    struct tp_bbsrv *bb;
    const char *listen;
    tw_loop *loop;
    struct tp_config *cfg;     /* on the heap: the engines point into it */
    struct tp_fleet *fleet;    /* an engine per thread (--threads, fleet.h) */
    unsigned threads;
    struct tp_engine_opts eo;
    struct tp_after *after;    /* the after thread: notifications, history (after.h) */
    char *hist_path, *hist_zone; /* the history written (NULL: none), and its zone */
    char *hist_sig;            /* history: as started, for reloads (which keep it) */
    struct tp_report_srv *reports; /* GET /report; NULL: no history */
    struct tp_store_reader *reader; /* the status page's view of the history */
    double reader_retry;       /* unix seconds: when to try to open it again */
    tw_server *srv;
    tw_io sig_io;
    tw_timer stop_timer;       /* --duration, then the drain check */
    uint64_t drain_deadline;
    bool stopping;
    /* reloads, of CONFIG [0] and BLACKBOX.YML [1] */
    struct reload_state {
        bool ok;               /* the last load of the file succeeded */
        double success_time;   /* unix seconds of the last that did */
    } rs[2];
    bool watch;                /* --watch: reload when a file changes */
    struct tp_shard shard;     /* --shard; count 0: all targets */
    const char *status_group;  /* --status-group; NULL: by probe */
    unsigned status_refresh_s; /* --status-refresh */
    tw_timer watch_timer;
    struct file_sig {
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime;
    } *sigs;                   /* of the files watched, as last seen */
    size_t nsigs;
};

static double unix_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A reload line in the JSON log, and the file's reload state. okfields:
 * what a good load says (",\"targets\":3"). */
static void reload_said(struct probe_cli *p, int which, const char *path, int n,
                        const char *okfields)
{
    FILE *log = p->eo.log;

    p->rs[which].ok = n == 0;
    if (n == 0)
        p->rs[which].success_time = unix_now();
    flockfile(log); /* the after thread writes lines of its own */
    tp_log_begin(log, "reload");
    fputs(",\"config\":", log);
    tu_json_str(log, path);
    if (n == 0)
        fprintf(log, ",\"ok\":true%s}\n", okfields);
    else if (n > 0)
        fprintf(log, ",\"ok\":false,\"errors\":%d}\n", n);
    else
        fprintf(log, ",\"ok\":false,\"error\":\"%s\"}\n", tw_errname(n));
    fflush(log);
    funlockfile(log);
}

/* Probes in flight are cancelled (RST); /metrics connections get the
 * server's graceful end, for at most a few seconds. */
static void on_drain(tw_timer *t)
{
    struct probe_cli *p = t->data;

    if (!p->srv || tw_server_conns(p->srv) == 0 || tw_loop_now(p->loop) >= p->drain_deadline)
        tw_loop_stop(p->loop);
    else
        tw_timer_start(p->loop, t, 20);
}

static void stop_all(struct probe_cli *p)
{
    if (p->stopping)
        return;
    p->stopping = true;
    tw_timer_stop(&p->watch_timer);
    tp_fleet_stop(p->fleet);
    tp_after_shutdown(p->after); /* sends get their grace while we drain */
    tw_io_stop(&p->sig_io);
    if (p->srv)
        tw_server_shutdown(p->srv);
    p->drain_deadline = tw_loop_now(p->loop) + 3000;
    tw_timer_init(&p->stop_timer, on_drain, p);
    tw_timer_start(p->loop, &p->stop_timer, 0);
}

static struct tp_config *config_load(const char *path, const struct tp_shard *shard, int *n)
{
    struct tp_config *cfg = calloc(1, sizeof(*cfg));

    if (!cfg) {
        *n = -ENOMEM;
        return NULL;
    }
    if ((*n = tp_config_load(path, cfg, stderr)) != 0) {
        free(cfg);
        return NULL;
    }
    tp_config_shard(cfg, shard);
    return cfg;
}

static void config_free(struct tp_config *cfg)
{
    if (cfg) {
        tp_config_free(cfg);
        free(cfg);
    }
}

static int reload_blackbox(struct probe_cli *p)
{
    struct tp_bb_config bb;
    char ok[80] = "";
    int n = tp_bb_load(p->bb_path, &bb, stderr);

    if (n == 0 && (n = tp_bbsrv_reload(p->bb, &bb)) < 0)
        tp_bb_free(&bb);
    if (n == 0)
        snprintf(ok, sizeof(ok), ",\"modules\":%zu,\"rejected\":%zu",
                 tp_bbsrv_config(p->bb)->cfg.ndefs, tp_bbsrv_config(p->bb)->nrejected);
    reload_said(p, 1, p->bb_path, n, ok);
    return n;
}

/* history: as one string, to tell whether a reload changed it. */
static char *history_sig(const struct tp_history *h)
{
    char *sig = NULL;

    if (asprintf(&sig, "%s|%s|%llu|%llu|%llu|%llu", h->path ? h->path : "",
                 h->timezone ? h->timezone : "", (unsigned long long)h->retention_s,
                 (unsigned long long)h->minutes_s, (unsigned long long)h->hours_s,
                 (unsigned long long)h->sync_s) < 0)
        return NULL;
    return sig;
}

/* Both files; 0 if both loaded (or were not given). */
static int reload(struct probe_cli *p)
{
    int n, bad = 0;
    struct tp_config *cfg;
    char ok[40] = "";

    if (p->bb)
        bad = reload_blackbox(p) != 0;
    if (!p->path)
        return bad;
    cfg = config_load(p->path, &p->shard, &n);

    /* The new engines' schedules spread from now, like a start: no burst. */
    if (cfg && (n = tp_fleet_load(p->fleet, cfg, &p->eo)) < 0) {
        fprintf(stderr, "twkit probe: reload: %s\n", tw_strerror(n));
        config_free(cfg);
    }
    if (n == 0)
        snprintf(ok, sizeof(ok), ",\"targets\":%zu", cfg->ntargets);
    reload_said(p, 0, p->path, n, ok);
    if (n != 0)
        return 1; /* the running config stays */
    char *sig = history_sig(&cfg->history);
    if (sig && p->hist_sig && strcmp(sig, p->hist_sig) != 0)
        fprintf(stderr, "twkit probe: warning: %s: history: changed; it goes on as it was "
                        "when the prober started, until a restart\n", p->path);
    free(sig);
    config_free(p->cfg);
    p->cfg = cfg;
    return bad;
}

/* ---- --watch ---- */

#define WATCH_MS 1000

/* The files a reload reads: CONFIG, its targets files, BLACKBOX.YML. */
static size_t watched(const struct probe_cli *p, const char **out, size_t max)
{
    size_t n = 0;

    if (p->path && n < max)
        out[n++] = p->path;
    for (size_t d = 0; p->path && d < p->cfg->ndefs; d++)
        if (p->cfg->defs[d].targets_path && n < max)
            out[n++] = p->cfg->defs[d].targets_path;
    if (p->bb_path && n < max)
        out[n++] = p->bb_path;
    return n;
}

static void sig_of(const char *path, struct file_sig *s)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    if (stat(path, &st) == 0) { /* a missing file is a signature too */
        s->dev = st.st_dev;
        s->ino = st.st_ino;
        s->size = st.st_size;
        s->mtime = st.st_mtim;
    }
}

/* Remember every watched file as it is now; true if one differs from what
 * was remembered (or the set changed). */
static bool sigs_update(struct probe_cli *p)
{
    const char *files[1024];
    size_t n = watched(p, files, 1024);
    struct file_sig *now = calloc(n ? n : 1, sizeof(*now));
    bool changed = n != p->nsigs;

    if (!now)
        return false; /* try again next time */
    for (size_t i = 0; i < n; i++) {
        sig_of(files[i], &now[i]);
        changed |= i < p->nsigs && memcmp(&now[i], &p->sigs[i], sizeof(now[i])) != 0;
    }
    free(p->sigs);
    p->sigs = now;
    p->nsigs = n;
    return changed;
}

/* Polled, not inotify: a config replaced by rename (editors, Kubernetes'
 * ConfigMap symlink swap) is a new inode, which a poll sees as it is. */
static void on_watch(tw_timer *t)
{
    struct probe_cli *p = t->data;

    if (!p->stopping && sigs_update(p)) {
        reload(p);
        sigs_update(p); /* the new config's targets files */
    }
    if (!p->stopping)
        tw_timer_start(p->loop, t, WATCH_MS);
}

static void on_signal(tw_io *io, unsigned events)
{
    struct probe_cli *p = io->data;
    struct signalfd_siginfo si;

    while (read(io->fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP && !p->stopping)
            reload(p);
        else
            stop_all(p);
    }
}

static void on_duration(tw_timer *t)
{
    stop_all(t->data);
}

/* The build, and how the last reloads went: twkit's names for each file,
 * and blackbox_exporter's for its own file, so its alerts keep working. */
static void reload_metrics(struct probe_cli *p, FILE *f)
{
    const char *paths[2] = {p->path, p->bb_path};
    struct tu_prom pr;

    tu_prom_init(&pr, f);
    tu_prom_family(&pr, "twkit_build_info", TU_PROM_GAUGE, "twkit's version, always 1");
    tu_prom_sample_label(&pr, "version", TW_VERSION, "1");
    if (p->shard.count) {
        char i[12], n[12];
        snprintf(i, sizeof(i), "%u", p->shard.index);
        snprintf(n, sizeof(n), "%u", p->shard.count);
        tu_prom_family(&pr, "twkit_probe_shard", TU_PROM_GAUGE,
                       "The shard of the config this instance probes (--shard I/N), always 1");
        tu_prom_begin(&pr, NULL);
        tu_prom_label(&pr, "shard", i);
        tu_prom_label(&pr, "shards", n);
        tu_prom_value(&pr, "1");
    }
    tu_prom_family(&pr, "twkit_probe_config_last_reload_successful", TU_PROM_GAUGE,
                   "1 if the last load of the config file succeeded");
    for (int i = 0; i < 2; i++)
        if (paths[i])
            tu_prom_sample_label(&pr, "config", paths[i], "%d", p->rs[i].ok);
    tu_prom_family(&pr, "twkit_probe_config_last_reload_success_timestamp_seconds",
                   TU_PROM_GAUGE, "When the config file last loaded, unix seconds");
    for (int i = 0; i < 2; i++)
        if (paths[i])
            tu_prom_sample_label(&pr, "config", paths[i], "%.3f", p->rs[i].success_time);
    if (!p->bb_path)
        return;
    tu_prom_family(&pr, "blackbox_exporter_config_last_reload_successful", TU_PROM_GAUGE,
                   "Blackbox exporter config loaded successfully.");
    tu_prom_sample(&pr, NULL, "%d", p->rs[1].ok);
    tu_prom_family(&pr, "blackbox_exporter_config_last_reload_success_timestamp_seconds",
                   TU_PROM_GAUGE, "Timestamp of the last successful configuration reload.");
    tu_prom_sample(&pr, NULL, "%.3f", p->rs[1].success_time);
}

/* GET /: the status page (statuspage.c), or with /probe alone the
 * endpoints; gzip-compressed when asked (a page of 20,000 targets is a
 * few MB of repetitive markup). The 90-day bars come from the history when
 * there is one (a reader opened at the first page, tried again at most
 * every 5 s while it cannot be: a new history has no file yet). */
static void status_page(struct probe_cli *p, tw_sconn *c, const struct tw_http_req *req)
{
    struct tp_status_view v = {.group_label = p->status_group,
                               .refresh_s = p->status_refresh_s, .now = unix_now(),
                               .blackbox = p->bb != NULL};
    struct tp_status_history hist;
    struct tp_status_row *rows = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int err = f ? 0 : -ENOMEM;

    if (f && !p->path)
        tp_status_endpoints(p->bb != NULL, f);
    else if (f && (err = tp_status_rows(tp_fleet_pause(p->fleet), p->status_group, &rows,
                                         &v.nrows)) == 0) {
        char why[512];
        if (p->hist_path && !p->reader && v.now >= p->reader_retry) {
            p->reader_retry = v.now + 5;
            tp_store_reader_open(p->hist_path, p->hist_zone, &p->reader, why, sizeof(why));
        }
        if (p->reader) {
            tp_store_reader_history(p->reader, &hist);
            v.history = &hist;
        }
        v.rows = rows;
        err = tp_status_render(&v, f);
    }
    if (f && p->path)
        tp_fleet_resume(p->fleet);
    free(rows);
    if (f && fclose(f) != 0 && !err)
        err = -ENOMEM;
    if (err)
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
    else
        tp_respond_maybe_gzip(c, req, 200, "text/html; charset=utf-8", buf, len);
    free(buf);
}

static void on_http(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    struct probe_cli *p = data;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

#define PATH_IS(s) (req->path_len == sizeof(s) - 1 && memcmp(req->path, s, sizeof(s) - 1) == 0)
    if (PATH_IS("/health")) {
        tw_sconn_respond(c, 200, "text/plain", NULL, "ok\n", 3);
        return;
    }
    if (PATH_IS("/-/reload")) {
        if ((req->method_len == 4 && !memcmp(req->method, "POST", 4)) ||
            (req->method_len == 3 && !memcmp(req->method, "PUT", 3))) {
            if (reload(p) == 0)
                tw_sconn_respond(c, 200, "text/plain", NULL, "OK\n", 3);
            else
                tw_sconn_respond(c, 500, "text/plain", NULL,
                                 "failed to reload config: see the log\n", 37);
        } else {
            tw_sconn_respond(c, 405, "text/plain", "Allow: POST, PUT\r\n",
                             "This endpoint requires a POST request.\n", 39);
        }
        return;
    }
    if (PATH_IS("/probe") && p->bb) {
        tp_bbsrv_handle(p->bb, c, req);
        return;
    }
    if (PATH_IS("/")) {
        status_page(p, c, req);
        return;
    }
    if (PATH_IS("/report")) {
        static const char none[] = "no history: the config has no history: section\n";
        if (p->reports)
            tp_report_srv_handle(p->reports, c, req);
        else
            tw_sconn_respond(c, 404, "text/plain", NULL, none, sizeof(none) - 1);
        return;
    }
    if (!PATH_IS("/metrics") && !PATH_IS("/status")) {
        tw_sconn_respond(c, 404, "text/plain", NULL, "not found\n", 10);
        return;
    }
    if (!(f = open_memstream(&buf, &len))) {
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
        return;
    }
    if (PATH_IS("/status")) {
        tp_view_status(tp_fleet_pause(p->fleet), f);
        tp_fleet_resume(p->fleet);
    } else {
        tp_view_metrics(tp_fleet_pause(p->fleet), f);
        tp_fleet_resume(p->fleet);
        if (p->after)
            tp_after_metrics(p->after, f);
        if (p->bb)
            tp_bbsrv_metrics(p->bb, f);
        reload_metrics(p, f);
    }
    if (fclose(f) != 0)
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
    else if (PATH_IS("/metrics")) /* gzip when asked, as Prometheus does */
        tp_respond_maybe_gzip(c, req, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    else
        tw_sconn_respond(c, 200, "application/json", NULL, buf, len);
    free(buf);
#undef PATH_IS
}

static bool label_name_ok(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static void on_conn_close(tw_sconn *c, void *data)
{
    struct probe_cli *p = data;

    if (p->bb)
        tp_bbsrv_conn_closed(p->bb, c);
    tp_report_srv_conn_closed(p->reports, c);
}

/* history: the store, written by the after thread (store_sink.c). One that
 * cannot be opened is said here and tried again by the thread, which
 * raises TwkitProbeStoreFailing meanwhile: the probes run either way. */
static int history_sink(struct probe_cli *p)
{
    const struct tp_history *h = &p->cfg->history;
    struct tp_store_opts o = {.minutes_s = h->minutes_s, .hours_s = h->hours_s,
                              .retention_s = h->retention_s, .timezone = h->timezone,
                              .sync_s = (double)h->sync_s};
    struct tp_after_sink sink;
    struct tp_store *st = NULL;
    char err[512];
    int n;

    if (!h->path)
        return 0;
    tp_tz_use(h->timezone); /* before any other thread: tz.h */
    if (tp_store_open(h->path, &o, &st, err, sizeof(err)) < 0)
        fprintf(stderr, "twkit probe: history: %s (probing without it; tried again every "
                        "30 s)\n", err);
    if ((n = tp_store_sink(p->after, h->path, &o, st, &sink)) < 0) {
        if (st)
            tp_store_close(st, unix_now(), err, sizeof(err));
        return n;
    }
    if ((n = tp_after_add_sink(p->after, &sink)) < 0) {
        sink.fini(sink.data); /* closes st */
        return n;
    }
    if (!(p->hist_path = strdup(h->path)) || (h->timezone && !(p->hist_zone = strdup(h->timezone))))
        return -ENOMEM;
    return 0;
}

int cmd_probe(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"check", no_argument, NULL, 'c'},       {"once", no_argument, NULL, '1'},
        {"max-inflight", required_argument, NULL, 'm'},
        {"listen", required_argument, NULL, 'l'}, {"log", required_argument, NULL, 'L'},
        {"log-results", no_argument, NULL, 'r'}, {"duration", required_argument, NULL, 'd'},
        {"summary", no_argument, NULL, 's'},     {"help", no_argument, NULL, 'h'},
        {"blackbox-config", required_argument, NULL, 'b'},
        {"max-probes", required_argument, NULL, 'M'},
        {"timeout-offset", required_argument, NULL, 'o'},
        {"watch", no_argument, NULL, 'w'},
        {"shard", required_argument, NULL, 'S'},
        {"status-group", required_argument, NULL, 'g'},
        {"status-refresh", required_argument, NULL, 'R'},
        {"status-samples", required_argument, NULL, 'N'},
        {"test-notify", required_argument, NULL, 'T'},
        {"threads", required_argument, NULL, 'j'},
        {"loop", required_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    struct probe_cli p = {.listen = "127.0.0.1:9464", .status_refresh_s = TP_STATUS_REFRESH_S};
    unsigned long samples = TP_STATUS_SAMPLES;
    struct tp_bbsrv_opts bo = {.max_inflight = 1000, .timeout_offset = 0.5};
    struct tp_bb_config bb = {0};
    char *end;
    bool check = false, summary = false;
    const char *log_path = NULL, *test_notify = NULL;
    uint64_t duration = 0, duration_tmp, t0;
    unsigned long ul;
    sigset_t mask;
    int opt, n, rc = 0, sfd;

    if (argc > 1 && !strcmp(argv[1], "report")) /* a subcommand, not a CONFIG */
        return cmd_probe_report(argc - 1, argv + 1);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': check = true; break;
        case '1': p.eo.once = true; break;
        case 'm':
            if (cli_parse_uint("probe", "--max-inflight", optarg, 1000000, &ul) < 0 || !ul) {
                if (!ul)
                    fprintf(stderr, "probe: --max-inflight: must be at least 1\n");
                return 2;
            }
            p.eo.max_inflight = (unsigned)ul;
            break;
        case 'l': p.listen = optarg; break;
        case 'L': log_path = optarg; break;
        case 'r': p.eo.log_results = true; break;
        case 'd':
            if (cli_parse_dur("probe", "--duration", optarg, &duration) < 0)
                return 2;
            break;
        case 's': summary = true; break;
        case 'E':
            if (cli_set_loop("probe", optarg) < 0)
                return 2;
            break;
        case 'b': p.bb_path = optarg; break;
        case 'w': p.watch = true; break;
        case 'S':
            if (tp_shard_parse(optarg, &p.shard) < 0) {
                fprintf(stderr, "probe: --shard %s: expected I/N, 1 <= I <= N <= 65536 (like "
                                "2/3)\n", optarg);
                return 2;
            }
            break;
        case 'g':
            if (!label_name_ok(optarg)) {
                fprintf(stderr, "probe: --status-group %s: not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"
                                "\n", optarg);
                return 2;
            }
            p.status_group = optarg;
            break;
        case 'R':
            if (cli_parse_dur("probe", "--status-refresh", optarg, &duration_tmp) < 0)
                return 2;
            /* whole seconds, as <meta refresh> takes them; at least 1 */
            p.status_refresh_s = duration_tmp ? (unsigned)((duration_tmp + 999) / 1000) : 0;
            break;
        case 'N':
            if (cli_parse_uint("probe", "--status-samples", optarg, 1000, &samples) < 0)
                return 2;
            break;
        case 'T': test_notify = optarg; break;
        case 'j':
            if (cli_parse_uint("probe", "--threads", optarg, TP_FLEET_MAX_LANES, &ul) < 0 || !ul) {
                if (!ul)
                    fprintf(stderr, "probe: --threads: must be at least 1\n");
                return 2;
            }
            p.threads = (unsigned)ul;
            break;
        case 'M':
            if (cli_parse_uint("probe", "--max-probes", optarg, 1000000, &ul) < 0 || !ul) {
                if (!ul)
                    fprintf(stderr, "probe: --max-probes: must be at least 1\n");
                return 2;
            }
            bo.max_inflight = (unsigned)ul;
            break;
        case 'o':
            bo.timeout_offset = strtod(optarg, &end);
            if (*end || end == optarg || !(bo.timeout_offset >= 0 && bo.timeout_offset < 3600)) {
                fprintf(stderr, "probe: --timeout-offset: expected seconds, like 0.5\n");
                return 2;
            }
            break;
        case 'h': fputs(probe_usage, stdout); return 0;
        default: fputs(probe_usage, stderr); return 2;
        }
    }
    if (optind < argc - 1 || (optind == argc && !p.bb_path)) {
        fprintf(stderr, "twkit probe: %s\n%s",
                optind >= argc ? "CONFIG is missing" : "one CONFIG only", probe_usage);
        return 2;
    }
    if (p.bb_path && p.eo.once) {
        fprintf(stderr, "twkit probe: --once runs CONFIG's targets; blackbox.yml has none (its "
                        "modules run through /probe)\n");
        return 2;
    }
    if (p.bb_path && !strcmp(p.listen, "off") && !check) {
        fprintf(stderr, "twkit probe: --blackbox-config needs a --listen address for /probe\n");
        return 2;
    }
    p.path = optind < argc ? argv[optind] : NULL;
    if (!p.threads)
        p.threads = tp_fleet_cpus();
    if (p.bb_path && (n = tp_bb_load(p.bb_path, &bb, stderr)) != 0) {
        if (n > 0)
            fprintf(stderr, "twkit probe: %s: %d error%s\n", p.bb_path, n, n == 1 ? "" : "s");
        return 1;
    }
    n = 0;
    if (p.path ? !(p.cfg = config_load(p.path, &p.shard, &n))
               : !(p.cfg = calloc(1, sizeof(*p.cfg)))) {
        if (n > 0)
            fprintf(stderr, "twkit probe: %s: %d error%s\n", p.path, n, n == 1 ? "" : "s");
        tp_bb_free(&bb);
        return 1;
    }
    if (test_notify) {
        rc = p.path ? tp_notify_test(p.cfg, test_notify, stdout) : 2;
        if (!p.path)
            fprintf(stderr, "twkit probe: --test-notify needs CONFIG\n");
        config_free(p.cfg);
        tp_bb_free(&bb);
        return rc == 2 ? 1 : rc;
    }
    if (check) {
        if (p.bb_path)
            printf("%s: ok: %zu module%s, %zu not loaded\n", p.bb_path, bb.cfg.ndefs,
                   bb.cfg.ndefs == 1 ? "" : "s", bb.nrejected);
        if (p.path)
            printf("%s: ok: %zu probe%s, %zu target%s%s\n", p.path, p.cfg->ndefs,
                   p.cfg->ndefs == 1 ? "" : "s", p.cfg->ntargets,
                   p.cfg->ntargets == 1 ? "" : "s", p.shard.count ? " in this shard" : "");
        config_free(p.cfg);
        tp_bb_free(&bb);
        return 0;
    }
    p.hist_sig = history_sig(&p.cfg->history);
    p.eo.log = stdout;
    if (log_path && !(p.eo.log = fopen(log_path, "ae"))) {
        fprintf(stderr, "twkit probe: --log %s: %s\n", log_path, strerror(errno));
        config_free(p.cfg);
        tp_bb_free(&bb);
        return 2;
    }
    /* the sparklines' memory, only where a page can show it */
    p.eo.recent = !p.eo.once && strcmp(p.listen, "off") != 0 ? (unsigned)samples : 0;
    /* a /probe request holds its connection and its probe's socket */
    probe_raise_nofile(p.cfg, &p.eo, p.threads, p.bb_path ? bo.max_inflight : 0);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    tw_io_init(&p.sig_io, -1, on_signal, &p);
    if ((n = tw_loop_new(&p.loop)) < 0 ||
        (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "twkit probe: %s\n", tw_strerror(n < 0 ? n : -errno));
        rc = 2;
        goto out;
    }
    tw_io_init(&p.sig_io, sfd, on_signal, &p);
    tw_io_start(p.loop, &p.sig_io, TW_IO_READ);
    cli_loop_backend("twkit probe", p.loop); /* its warnings */
    if (!p.eo.once) { /* a reload may bring channels: the thread is there anyway */
        struct tp_after_opts ao = {.log = p.eo.log, .rings = p.threads};
        struct tp_after_sink sink;
        if ((n = tp_after_new(&ao, &p.after)) < 0 || (n = tp_notify_sink(p.after, &sink)) < 0 ||
            (n = tp_after_add_sink(p.after, &sink)) < 0 || (n = history_sink(&p)) < 0 ||
            (n = tp_after_start(p.after)) < 0) {
            fprintf(stderr, "twkit probe: the after thread: %s\n", tw_strerror(n));
            rc = 2;
            goto out;
        }
        p.eo.after = p.after;
    }
    if ((n = tp_fleet_new(p.loop, p.threads, &p.fleet)) < 0) {
        fprintf(stderr, "twkit probe: --threads %u: %s\n", p.threads, tw_strerror(n));
        rc = 2;
        goto out;
    }
    bo.log = p.eo.log;
    bo.log_results = p.eo.log_results;
    if (p.bb_path && (n = tp_bbsrv_new(p.loop, &bb, &bo, &p.bb)) < 0) {
        fprintf(stderr, "twkit probe: %s\n", tw_strerror(n));
        rc = 2;
        goto out;
    }
    if (!p.eo.once && strcmp(p.listen, "off") != 0) {
        /* Prometheus keeps a connection per /probe target it scrapes. */
        struct tw_server_opts so = {.proto = TW_PROTO_HTTP, .on_http = on_http, .data = &p,
                                    .on_close = on_conn_close,
                                    .max_conns = p.bb ? 64 + bo.max_inflight * 2 : 64,
                                    .idle_timeout_ms = 30000, .max_outbuf = 64u << 20};
        if (tw_addr_parse(&so.listen, p.listen, 9464) < 0) {
            fprintf(stderr, "twkit probe: --listen %s: not ADDR:PORT\n", p.listen);
            rc = 2;
            goto out;
        }
        if ((n = tw_server_start(p.loop, &so, &p.srv)) < 0) {
            fprintf(stderr, "twkit probe: --listen %s: %s (%s)\n", p.listen, tw_strerror(n),
                    tw_errname(n));
            rc = 2;
            goto out;
        }
        if (p.hist_path && (n = tp_report_srv_new(p.loop, p.hist_path, p.hist_zone,
                                                  &p.reports)) < 0) {
            fprintf(stderr, "twkit probe: GET /report: %s\n", tw_strerror(n));
            rc = 2;
            goto out;
        }
    }
    p.rs[0].ok = p.rs[1].ok = true;
    p.rs[0].success_time = p.rs[1].success_time = unix_now();
    tw_timer_init(&p.watch_timer, on_watch, &p);
    if (p.watch && !p.eo.once) {
        sigs_update(&p);
        tw_timer_start(p.loop, &p.watch_timer, WATCH_MS);
    }
    tw_timer_init(&p.stop_timer, on_duration, &p);
    if (duration && !p.eo.once)
        tw_timer_start(p.loop, &p.stop_timer, duration);
    t0 = tw_now_ns();
    if ((n = tp_fleet_load(p.fleet, p.cfg, &p.eo)) < 0) {
        fprintf(stderr, "twkit probe: %s\n", tw_strerror(n));
        rc = 2;
        goto out;
    }
    tw_loop_run(p.loop);
    tp_fleet_wait(p.fleet); /* --once: every lane's targets */
    tp_after_stop(p.after); /* what is queued is sent, within the grace */
    if (summary || p.eo.once) {
        struct tp_summary s;
        tp_view_summary(tp_fleet_pause(p.fleet), &s);
        tp_fleet_resume(p.fleet);
        if (summary)
            probe_print_summary(&s, (double)(tw_now_ns() - t0) / 1e9, tw_loop_backend(p.loop));
        if (p.eo.once)
            rc = s.results[TP_SUCCESS] == s.targets ? 0 : 1;
    }
out:
    if (p.srv)
        tw_server_free(p.srv);
    tp_bbsrv_free(p.bb);
    tp_report_srv_free(p.reports);
    tp_store_reader_close(p.reader);
    tp_bb_free(&bb);
    free(p.sigs);
    free(p.hist_path);
    free(p.hist_zone);
    free(p.hist_sig);
    tp_fleet_free(p.fleet); /* before the after thread: it pushes there */
    tp_after_free(p.after);
    tw_io_close(&p.sig_io);
    if (p.loop)
        tw_loop_free(p.loop);
    if (p.eo.log && p.eo.log != stdout)
        fclose(p.eo.log);
    config_free(p.cfg);
    return rc;
}
