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
#include <unistd.h>

#include "cli/cli.h"
#include "probe/gzip.h"
#include "probe/probe.h"
#include "twkit/error.h"
#include "twkit/server.h"
#include "twkit/time.h"
#include "util/json.h"
#include "util/rlimit.h"

static const char probe_usage[] =
    "usage: twkit probe [options] CONFIG\n"
    "\n"
    "Probe every target of CONFIG (YAML, docs/PROBE.md) at its interval: tcp\n"
    "(connect, optional send/expect), http/https (status, body, phase timings)\n"
    "and tls (handshake, certificate expiry, verification). Every probe opens a\n"
    "fresh connection and ends it with RST, so neither side keeps TIME_WAIT\n"
    "(close: graceful in the config: our FIN, and this side keeps it). Errors of\n"
    "this host (EADDRNOTAVAIL, EMFILE, ENOBUFS...) are local errors, never a\n"
    "target down. State changes (after success_threshold / failure_threshold\n"
    "consecutive results) are logged as JSON lines; /metrics serves\n"
    "Prometheus text with blackbox_exporter's names.\n"
    "SIGTERM/SIGINT: stop. SIGHUP: reload CONFIG (kept as it was if it has errors).\n"
    "\n"
    "options:\n"
    "  --check               validate CONFIG, print every error as FILE:LINE:COL,\n"
    "                        exit 1 if there is one\n"
    "  --once                probe every target once, print one JSON line per\n"
    "                        result, exit 0 if all succeeded, 1 otherwise\n"
    "  --max-inflight N      --once: probes at a time (default 1000)\n"
    "  --listen ADDR:PORT    serve /metrics, /health and /status here (default\n"
    "                        127.0.0.1:9464; \"off\": no server)\n"
    "  --log FILE            JSON lines to FILE instead of stdout\n"
    "  --log-results         log every result, not only state changes\n"
    "  --duration DUR        stop after DUR (default: run until a signal)\n"
    "  --summary             at the end print one JSON object to stdout: results,\n"
    "                        skips, late starts, CPU, peak memory, TIME_WAIT\n"
    "  -h, --help            this text\n"
    "\n"
    "Exit status: 0 ok; 1 config errors, or --once with a failed probe;\n"
    "2 bad usage or a failure to start (address in use...).\n";

struct probe_cli {
    const char *path;
    const char *listen;
    tw_loop *loop;
    struct tp_config *cfg;     /* on the heap: the engine points into it */
    struct tp_engine *engine;
    struct tp_engine_opts eo;
    tw_server *srv;
    tw_io sig_io;
    tw_timer stop_timer;       /* --duration, then the drain check */
    uint64_t drain_deadline;
    bool stopping;
};

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
    tp_engine_stop(p->engine);
    tw_io_stop(&p->sig_io);
    if (p->srv)
        tw_server_shutdown(p->srv);
    p->drain_deadline = tw_loop_now(p->loop) + 3000;
    tw_timer_init(&p->stop_timer, on_drain, p);
    tw_timer_start(p->loop, &p->stop_timer, 0);
}

static struct tp_config *config_load(const char *path, int *n)
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
    return cfg;
}

static void config_free(struct tp_config *cfg)
{
    if (cfg) {
        tp_config_free(cfg);
        free(cfg);
    }
}

static void reload(struct probe_cli *p)
{
    struct tp_engine *e = NULL;
    FILE *log = p->eo.log;
    int n;
    struct tp_config *cfg = config_load(p->path, &n);

    if (cfg && (n = tp_engine_new(p->loop, cfg, &p->eo, &e)) < 0) {
        fprintf(stderr, "twkit probe: reload: %s\n", tw_strerror(n));
        config_free(cfg);
    }
    tp_log_begin(log, "reload");
    fputs(",\"config\":", log);
    tu_json_str(log, p->path);
    if (n == 0)
        fprintf(log, ",\"ok\":true,\"targets\":%zu}\n", cfg->ntargets);
    else if (n > 0)
        fprintf(log, ",\"ok\":false,\"errors\":%d}\n", n);
    else
        fprintf(log, ",\"ok\":false,\"error\":\"%s\"}\n", tw_errname(n));
    fflush(log);
    if (n != 0)
        return; /* the running config stays */
    tp_engine_adopt(e, p->engine);
    tp_engine_free(p->engine);
    config_free(p->cfg);
    p->cfg = cfg;
    p->engine = e;
    /* The new schedule spreads from now, like a start: no burst. */
    tp_engine_start(e);
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
    if (!PATH_IS("/metrics") && !PATH_IS("/status") && !PATH_IS("/")) {
        tw_sconn_respond(c, 404, "text/plain", NULL, "not found\n", 10);
        return;
    }
    if (!(f = open_memstream(&buf, &len))) {
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
        return;
    }
    if (PATH_IS("/status"))
        tp_engine_status(p->engine, f);
    else if (PATH_IS("/metrics"))
        tp_engine_metrics(p->engine, f);
    else
        fputs("twkit probe: /metrics (Prometheus), /status (JSON), /health\n", f);
    if (fclose(f) != 0)
        tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
    else if (PATH_IS("/metrics")) /* gzip when asked, as Prometheus does */
        tp_respond_maybe_gzip(c, req, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    else
        tw_sconn_respond(c, 200, PATH_IS("/status") ? "application/json" : "text/plain", NULL,
                         buf, len);
    free(buf);
#undef PATH_IS
}

/* Every target may have a probe in flight, and a graceful one a closing
 * socket besides: ask for that many descriptors, say so if we cannot. */
static void raise_nofile(size_t targets)
{
    unsigned long long need = (unsigned long long)targets * 2 + 256;
    unsigned long long have = tu_raise_nofile(need);

    if (have < need)
        fprintf(stderr,
                "twkit probe: warning: RLIMIT_NOFILE is %llu, %zu targets may need %llu; "
                "probes beyond it fail with EMFILE (counted as local errors). Raise it "
                "with ulimit -n.\n",
                have, targets, need);
}

static void print_summary(struct tp_engine *e, double wall)
{
    struct tp_summary s;
    struct rusage ru;

    tp_engine_summary(e, &s);
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"event\":\"summary\",\"targets\":%llu,\"success\":%llu,\"failure\":%llu,"
           "\"local_error\":%llu,\"skipped\":%llu,\"late_start_us\":{\"n\":%llu,"
           "\"p50\":%llu,\"p99\":%llu,\"max\":%llu},\"cpu_user_s\":%.3f,\"cpu_system_s\":%.3f,"
           "\"max_rss_kib\":%ld,\"time_wait\":%d,\"wall_s\":%.3f}\n",
           (unsigned long long)s.targets, (unsigned long long)s.results[TP_SUCCESS],
           (unsigned long long)s.results[TP_FAILURE], (unsigned long long)s.results[TP_LOCAL],
           (unsigned long long)s.skipped, (unsigned long long)s.late_n,
           (unsigned long long)s.late_p50_us, (unsigned long long)s.late_p99_us,
           (unsigned long long)s.late_max_us,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
           s.time_wait, wall);
    fflush(stdout);
}

int cmd_probe(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"check", no_argument, NULL, 'c'},       {"once", no_argument, NULL, '1'},
        {"max-inflight", required_argument, NULL, 'm'},
        {"listen", required_argument, NULL, 'l'}, {"log", required_argument, NULL, 'L'},
        {"log-results", no_argument, NULL, 'r'}, {"duration", required_argument, NULL, 'd'},
        {"summary", no_argument, NULL, 's'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct probe_cli p = {.listen = "127.0.0.1:9464"};
    bool check = false, summary = false;
    const char *log_path = NULL;
    uint64_t duration = 0, t0;
    unsigned long ul;
    sigset_t mask;
    int opt, n, rc = 0, sfd;

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
        case 'h': fputs(probe_usage, stdout); return 0;
        default: fputs(probe_usage, stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "twkit probe: %s\n%s",
                optind >= argc ? "CONFIG is missing" : "one CONFIG only", probe_usage);
        return 2;
    }
    p.path = argv[optind];
    if (!(p.cfg = config_load(p.path, &n))) {
        if (n > 0)
            fprintf(stderr, "twkit probe: %s: %d error%s\n", p.path, n, n == 1 ? "" : "s");
        return 1;
    }
    if (check) {
        printf("%s: ok: %zu probe%s, %zu target%s\n", p.path, p.cfg->ndefs,
               p.cfg->ndefs == 1 ? "" : "s", p.cfg->ntargets, p.cfg->ntargets == 1 ? "" : "s");
        config_free(p.cfg);
        return 0;
    }
    p.eo.log = stdout;
    if (log_path && !(p.eo.log = fopen(log_path, "ae"))) {
        fprintf(stderr, "twkit probe: --log %s: %s\n", log_path, strerror(errno));
        config_free(p.cfg);
        return 2;
    }
    raise_nofile(p.cfg->ntargets);
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
    if ((n = tp_engine_new(p.loop, p.cfg, &p.eo, &p.engine)) < 0) {
        fprintf(stderr, "twkit probe: %s\n", tw_strerror(n));
        rc = 2;
        goto out;
    }
    if (!p.eo.once && strcmp(p.listen, "off") != 0) {
        struct tw_server_opts so = {.proto = TW_PROTO_HTTP, .on_http = on_http, .data = &p,
                                    .max_conns = 64, .idle_timeout_ms = 30000,
                                    .max_outbuf = 64u << 20};
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
    }
    tw_timer_init(&p.stop_timer, on_duration, &p);
    if (duration && !p.eo.once)
        tw_timer_start(p.loop, &p.stop_timer, duration);
    t0 = tw_now_ns();
    tp_engine_start(p.engine);
    tw_loop_run(p.loop);
    if (summary && p.engine)
        print_summary(p.engine, (double)(tw_now_ns() - t0) / 1e9);
    if (p.eo.once && p.engine) {
        struct tp_summary s;
        tp_engine_summary(p.engine, &s);
        rc = s.results[TP_SUCCESS] == s.targets ? 0 : 1;
    }
out:
    if (p.srv)
        tw_server_free(p.srv);
    tp_engine_free(p.engine);
    tw_io_close(&p.sig_io);
    if (p.loop)
        tw_loop_free(p.loop);
    if (p.eo.log && p.eo.log != stdout)
        fclose(p.eo.log);
    config_free(p.cfg);
    return rc;
}
