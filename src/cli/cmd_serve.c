/* twkit serve: the twp echo server or an HTTP/1.1 server on libtwkit, one
 * loop per thread. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "twkit/diag.h"
#include "twkit/error.h"
#include "twkit/server.h"
#include "twkit/time.h"
#include "util/prom.h"

#define MAX_THREADS TW_SERVER_GROUP_MAX
#define MAX_BODY (1u << 20)

static const char serve_usage[] =
    "usage: twkit serve [options]\n"
    "\n"
    "Serve twp (docs/PROTOCOL.md): every DATA frame is echoed back; or HTTP/1.1\n"
    "(--proto http): GET / answers a fixed body, /health \"ok\" (503 while\n"
    "shutting down), /metrics the server's counters in Prometheus text format.\n"
    "\n"
    "Endings: the server never sends the first FIN unless the protocol requires\n"
    "it to close, and then only after giving the client the chance to close\n"
    "first. twp never requires it: the server sends DONE and closes after the\n"
    "client's FIN. HTTP requires it after a response that says Connection: close\n"
    "(RFC 9112 9.6): to an HTTP/1.0 client without keep-alive (ab, which waits\n"
    "for the close) the server's FIN goes at once, and that TIME_WAIT is the\n"
    "server's; an HTTP/1.1 client has --close-wait after it acknowledged the\n"
    "response to close first (curl, wget and browsers do; then the TIME_WAIT is\n"
    "theirs). Every other ending is a passive close after the client's FIN, or\n"
    "an abort (RST) on idle, stalled or bad input, which leaves no TIME_WAIT.\n"
    "Timers measure progress: a client that keeps reading, however slowly, is\n"
    "never cut off. SIGTERM or SIGINT: stop accepting, ask every connection to\n"
    "end, wait for them (abort what is left at --shutdown-timeout), print\n"
    "counters.\n"
    "\n"
    "options:\n"
    "  --proto twp|http       protocol (default twp)\n"
    "  --listen ADDR:PORT     address to listen on (default 127.0.0.1:7070,\n"
    "                         http 127.0.0.1:8080; IPv6 as [::1]:7070)\n"
    "  --threads N            loops, one per thread, SO_REUSEPORT (default 1)\n"
    "  --idle-timeout DUR     abort a connection when no byte moved either way\n"
    "                         for this long (default 60s)\n"
    "  --stall-timeout DUR    with a reply unsent or unacknowledged, or a request\n"
    "  --min-progress BYTES   partly in: abort when fewer than BYTES moved in\n"
    "                         DUR (defaults 10s, 1024: a 56 kbit/s client is\n"
    "                         served, a stalled one holds nothing for long)\n"
    "  --grace DUR            after DONE or GOODBYE (http: after the server's\n"
    "                         FIN), the client has this long from acknowledging\n"
    "                         everything to close, then abort (default 2s)\n"
    "  --close-wait DUR       http: after a Connection: close response is\n"
    "                         acknowledged, wait this long for the client's FIN\n"
    "                         before sending ours (default 1s)\n"
    "  --shutdown-timeout DUR after SIGTERM, abort what is still open (30s)\n"
    "  --max-conns N          connections per thread; when full, the connection\n"
    "                         idle longest makes room, else accept pauses (10000)\n"
    "  --max-requests N       DONE after N requests on a connection (0: never)\n"
    "  --max-frame BYTES      largest DATA frame accepted (default 1048576)\n"
    "  --body-size BYTES      http: size of the body of / (default 13)\n"
    "  --request-timeout DUR  http: a request head must be whole this long after\n"
    "                         its first byte (the first: after the accept);\n"
    "                         twp: the HELLO after the accept (default 10s)\n"
    "  --max-header BYTES     http: request line + headers (default 16384)\n"
    "  --max-body BYTES       http: request body (default 1048576)\n"
    "  --after-fin fin|rst    how to answer the client's FIN (default fin, a\n"
    "                         passive close: the client holds TIME_WAIT). http\n"
    "                         only: rst, when the client had all we sent and\n"
    "                         acknowledged it, so nobody holds TIME_WAIT; a\n"
    "                         client that half-closes and reads to EOF may then\n"
    "                         see ECONNRESET after the whole response\n"
    "  --loop epoll|io_uring  the event loop's backend (default epoll, or\n"
    "                         TWKIT_LOOP); io_uring: multishot accepts and\n"
    "                         receives, epoll where io_uring cannot be had\n"
    "  --naive-close          WRONG ON PURPOSE: close first after every reply\n"
    "                         (http: every response says Connection: close),\n"
    "                         so TIME_WAIT piles up here (benchmarks, demo)\n"
    "  --json                 print the exit counters as JSON\n"
    "  -h, --help             this text\n"
    "\n"
    "Durations: plain seconds or with a unit: 2, 2s, 500ms, 1m.\n"
    "Exit counters (the same in /metrics; the ones marked 'ending' count each\n"
    "connection once, by how it ended):\n";

static void print_usage(FILE *f)
{
    fputs(serve_usage, f);
#define HELP_LINE(name, kind, prom, help)                                                  \
    if (*help)                                                                             \
        fprintf(f, "  %-22s %s%s\n", #name, strcmp(#kind, "END") ? "" : "ending: ", help);
    TW_SERVER_STATS(HELP_LINE)
#undef HELP_LINE
    fprintf(f, "  %-22s %s\n", "responses_1xx..5xx", "HTTP responses by status class.");
}

static void print_stats(const struct tw_server_stats *st, bool json)
{
    const char *sep = "";

    if (json)
        printf("{");
#define P(name, kind, prom, help)                                                          \
    if (json) {                                                                            \
        printf("%s\"%s\":%llu", sep, #name, (unsigned long long)st->name);                 \
        sep = ",";                                                                         \
    } else {                                                                               \
        printf("  %-22s %llu\n", #name, (unsigned long long)st->name);                     \
    }
    TW_SERVER_STATS(P)
#undef P
    if (json)
        printf("}\n");
    fflush(stdout);
}

/* ---- HTTP: /, /health, /metrics ---- */

struct serve {
    tw_server_group *group;
    unsigned long nthreads;
    uint16_t port;
    char *body;   /* the body of / */
    size_t body_len;
    /* /metrics: the TIME_WAIT count is a sock_diag dump of the whole table,
     * so it is taken at most once a second, whichever thread asks */
    pthread_mutex_t tw_mu;
    uint64_t tw_at;  /* monotonic ms of the last dump, 0: none */
    long tw_n;       /* its count, -1 unknown */
};

/* TIME_WAIT sockets on the listening port, in this namespace; -1 unknown. */
struct twport { uint16_t port; long n; };
static int count_tw(const struct tw_diag_sock *s, void *arg)
{
    struct twport *t = arg;
    t->n += tw_addr_port(&s->local) == t->port;
    return 0;
}

/* A family with one sample and no labels. */
static void metric(struct tu_prom *p, const char *name, enum tu_prom_type type, const char *help,
                   unsigned long long v)
{
    tu_prom_family(p, name, type, help);
    tu_prom_sample(p, NULL, "%llu", v);
}

/* Every thread's counters, read without stopping them, in
 * the order and with the names of TW_SERVER_STATS. */
static void metrics(struct serve *sv, FILE *f)
{
    struct tw_server_stats t = {0};
    struct twport tp = {.port = sv->port};
    struct tu_prom p;

    for (unsigned long i = 0; i < sv->nthreads; i++) {
        struct tw_server_stats st;
        tw_server_stats_load(tw_server_group_server(sv->group, (unsigned)i), &st);
#define SUM(name, kind, prom, help) t.name += st.name;
        TW_SERVER_STATS(SUM)
#undef SUM
    }
    tu_prom_init(&p, f);
#define EXPORT_END(name, prom, help)                                                       \
    tu_prom_family(&p, "twkit_server_connections_ended_total", TU_PROM_COUNTER,           \
                   "Connections ended, by how (docs/PROTOCOL.md).");                        \
    tu_prom_sample_label(&p, "how", #name, "%llu", (unsigned long long)t.name);
#define EXPORT_RESP(name, prom, help)                                                      \
    tu_prom_family(&p, "twkit_server_responses_total", TU_PROM_COUNTER,                   \
                   "HTTP responses by status class.");                                      \
    tu_prom_sample_label(&p, "code", #name + 10, "%llu", (unsigned long long)t.name);
#define EXPORT_EVENT(name, prom, help)                                                     \
    metric(&p, "twkit_server_" prom, TU_PROM_COUNTER, help, t.name);
#define EXPORT_GAUGE(name, prom, help)                                                     \
    metric(&p, "twkit_server_" prom, TU_PROM_GAUGE, help, t.name);
#define EXPORT(name, kind, prom, help) EXPORT_##kind(name, prom, help)
    TW_SERVER_STATS(EXPORT)
#undef EXPORT
    pthread_mutex_lock(&sv->tw_mu);
    if (!sv->tw_at || tw_now_ms() - sv->tw_at >= 1000) {
        sv->tw_n = tw_diag_dump(1u << TW_TCP_TIME_WAIT, count_tw, &tp) == 0 ? tp.n : -1;
        sv->tw_at = tw_now_ms();
    }
    tp.n = sv->tw_n;
    pthread_mutex_unlock(&sv->tw_mu);
    if (tp.n >= 0)
        metric(&p, "twkit_server_time_wait_sockets", TU_PROM_GAUGE,
               "TIME_WAIT sockets on the listening port, at most 1 s old (the server "
               "holds them only for clients the protocol required it to close).",
               (unsigned long long)tp.n);
    metric(&p, "twkit_server_threads", TU_PROM_GAUGE, "Server threads.", sv->nthreads);
}

/* One thread (--threads 1): the server runs on the main thread, so the
 * process has no other and libc's system call wrappers take their
 * single-threaded path. SIGINT and SIGTERM, blocked until its loop runs,
 * then come to this handler, which says so (write: async-signal-safe) and
 * asks for the shutdown (tw_server_group_shutdown is too). */
static tw_server_group *signal_group;
static volatile sig_atomic_t signal_got;

static void on_signal(int sig)
{
    static const char term[] = "twkit serve: SIGTERM: shutting down\n",
                      intr[] = "twkit serve: SIGINT: shutting down\n";
    int saved = errno;

    if (!signal_got) {
        signal_got = sig;
        if (write(STDERR_FILENO, sig == SIGTERM ? term : intr,
                  sig == SIGTERM ? sizeof(term) - 1 : sizeof(intr) - 1) < 0) {
            /* nothing to do about it here */
        }
        tw_server_group_shutdown(signal_group);
    }
    errno = saved;
}

/* on_start of the one server: on the main thread, as its loop begins */
static void unblock_signals(void *arg)
{
    pthread_sigmask(SIG_UNBLOCK, arg, NULL);
}

static void on_http(tw_sconn *c, const struct tw_http_req *req, void *data)
{
    static const char allow[] = "Allow: GET, HEAD\r\n", bad_method[] = "method not allowed\n",
                      not_found[] = "not found\n";
    struct serve *sv = data;
    bool get = (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0) ||
               (req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0);
#define PATH_IS(lit) (req->path_len == sizeof(lit) - 1 && memcmp(req->path, lit, sizeof(lit) - 1) == 0)

    if (PATH_IS("/") || PATH_IS("/health") || PATH_IS("/metrics")) {
        if (!get) {
            tw_sconn_respond(c, 405, "text/plain", allow, bad_method, sizeof(bad_method) - 1);
            return;
        }
    } else {
        tw_sconn_respond(c, 404, "text/plain", NULL, not_found, sizeof(not_found) - 1);
        return;
    }
    if (PATH_IS("/")) {
        tw_sconn_respond(c, 200, "text/plain", NULL, sv->body, sv->body_len);
    } else if (PATH_IS("/health")) {
        bool down = tw_server_shutting_down(tw_sconn_server(c));
        tw_sconn_respond(c, down ? 503 : 200, "text/plain", NULL, down ? "shutting down\n" : "ok\n",
                         down ? 14 : 3);
    } else {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (f)
            metrics(sv, f);
        if (!f || fclose(f) != 0)
            tw_sconn_respond(c, 503, "text/plain", NULL, "out of memory\n", 14);
        else
            tw_sconn_respond(c, 200, "text/plain; version=0.0.4", "Cache-Control: no-store\r\n",
                             buf, len);
        free(buf);
    }
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"proto", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"grace", required_argument, NULL, 'g'},
        {"max-conns", required_argument, NULL, 'c'},
        {"max-requests", required_argument, NULL, 'r'},
        {"max-frame", required_argument, NULL, 'f'},
        {"body-size", required_argument, NULL, 'b'},
        {"request-timeout", required_argument, NULL, 'q'},
        {"max-header", required_argument, NULL, 'H'},
        {"max-body", required_argument, NULL, 'B'},
        {"naive-close", no_argument, NULL, 'n'},
        {"after-fin", required_argument, NULL, 'R'},
        {"stall-timeout", required_argument, NULL, 'S'},
        {"min-progress", required_argument, NULL, 'P'},
        {"close-wait", required_argument, NULL, 'W'},
        {"shutdown-timeout", required_argument, NULL, 'T'},
        {"loop", required_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct tw_server_opts so = {0};
    struct tw_server_stats total = {0};
    static struct serve sv;
    const char *listen = NULL, *backend;
    unsigned long threads = 1, v, body_size = 13;
    bool json = false;
    sigset_t sigs;
    int ch, sig, err;
    char buf[TW_ADDRSTRLEN];

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (strcmp(optarg, "twp") == 0) {
                so.proto = TW_PROTO_TWP;
            } else if (strcmp(optarg, "http") == 0) {
                so.proto = TW_PROTO_HTTP;
            } else {
                fprintf(stderr, "twkit serve: --proto %s: not twp or http\n", optarg);
                return 2;
            }
            break;
        case 'l': listen = optarg; break;
        case 't':
            if (cli_parse_uint("twkit serve", "--threads", optarg, MAX_THREADS, &threads) < 0 || threads == 0) {
                fprintf(stderr, "twkit serve: --threads must be 1 to %d\n", MAX_THREADS);
                return 2;
            }
            break;
        case 'i': if (cli_parse_dur("twkit serve", "--idle-timeout", optarg, &so.idle_timeout_ms) < 0) return 2; break;
        case 'g': if (cli_parse_dur("twkit serve", "--grace", optarg, &so.grace_ms) < 0) return 2; break;
        case 'c': if (cli_parse_uint("twkit serve", "--max-conns", optarg, 10000000, &v) < 0) return 2; so.max_conns = (unsigned)v; break;
        case 'r': if (cli_parse_uint("twkit serve", "--max-requests", optarg, 4294967295ul, &v) < 0) return 2; so.max_requests = (uint32_t)v; break;
        case 'f': if (cli_parse_uint("twkit serve", "--max-frame", optarg, 1u << 30, &v) < 0) return 2; so.max_frame = (uint32_t)v; break;
        case 'b': if (cli_parse_uint("twkit serve", "--body-size", optarg, MAX_BODY, &body_size) < 0) return 2; break;
        case 'q': if (cli_parse_dur("twkit serve", "--request-timeout", optarg, &so.request_timeout_ms) < 0) return 2; break;
        case 'H': if (cli_parse_uint("twkit serve", "--max-header", optarg, 1u << 20, &v) < 0) return 2; so.http_limits.max_head = (uint32_t)v; break;
        case 'B': if (cli_parse_uint("twkit serve", "--max-body", optarg, 1u << 30, &v) < 0) return 2; so.http_limits.max_body = (uint32_t)v; break;
        case 'S': if (cli_parse_dur("twkit serve", "--stall-timeout", optarg, &so.stall_timeout_ms) < 0) return 2; break;
        case 'P': if (cli_parse_uint("twkit serve", "--min-progress", optarg, 1u << 30, &v) < 0) return 2; so.min_progress = (uint32_t)v; break;
        case 'W': if (cli_parse_dur("twkit serve", "--close-wait", optarg, &so.close_wait_ms) < 0) return 2; break;
        case 'T': if (cli_parse_dur("twkit serve", "--shutdown-timeout", optarg, &so.shutdown_timeout_ms) < 0) return 2; break;
        case 'n': so.naive_close = true; break;
        case 'R':
            if (strcmp(optarg, "fin") == 0) {
                so.after_fin = TW_AFTER_FIN_FIN;
            } else if (strcmp(optarg, "rst") == 0) {
                so.after_fin = TW_AFTER_FIN_RST;
            } else {
                fprintf(stderr, "twkit serve: --after-fin %s: not fin or rst\n", optarg);
                return 2;
            }
            break;
        case 'L': if (cli_set_loop("twkit serve", optarg) < 0) return 2; break;
        case 'j': json = true; break;
        case 'h': print_usage(stdout); return 0;
        default: print_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "twkit serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (so.proto == TW_PROTO_TWP && so.after_fin == TW_AFTER_FIN_RST) {
        fprintf(stderr, "twkit serve: --after-fin rst is for http; twp answers a FIN with FIN "
                        "(twp clients that want no TIME_WAIT say BYE)\n");
        return 2;
    }
    if (!listen)
        listen = so.proto == TW_PROTO_HTTP ? "127.0.0.1:8080" : "127.0.0.1:7070";
    if (tw_addr_parse(&so.listen, listen, so.proto == TW_PROTO_HTTP ? 8080 : 7070) < 0) {
        fprintf(stderr, "twkit serve: --listen %s: not an address (10.0.0.1:7070, [::1]:7070)\n",
                listen);
        return 2;
    }
    if (so.proto == TW_PROTO_HTTP) {
        static const char hello[] = "hello, twkit\n";
        if (!(sv.body = malloc(body_size + 1))) {
            fprintf(stderr, "twkit serve: out of memory\n");
            return 1;
        }
        for (size_t i = 0; i < body_size; i++)
            sv.body[i] = i + 1 == body_size ? '\n' : hello[i % (sizeof(hello) - 2)];
        sv.body_len = body_size;
        sv.nthreads = threads;
        sv.port = tw_addr_port(&so.listen);
        pthread_mutex_init(&sv.tw_mu, NULL);
        so.on_http = on_http;
        so.data = &sv;
    }

    /* Signals go to this thread only: through sigwait with server threads,
     * else to on_signal once the loop runs here. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!(backend = cli_loop_backend("twkit serve", NULL))) {
        fprintf(stderr, "twkit serve: cannot make an event loop\n");
        return 1;
    }
    struct tw_server_group_opts go = {.threads = (unsigned)threads, .server = so};
    if (threads == 1)
        go.on_start = unblock_signals, go.arg = &sigs;
    if ((err = tw_server_group_new(&go, &sv.group)) < 0) {
        fprintf(stderr, "twkit serve: cannot listen on %s: %s (%s)\n",
                tw_addr_format(&so.listen, buf, sizeof(buf)), tw_errname(err), tw_strerror(err));
        return 1;
    }
    fprintf(stderr, "twkit serve: %s on %s, %lu thread%s%s, loop %s\n",
            so.proto == TW_PROTO_HTTP ? "http" : "twp",
            tw_addr_format(&so.listen, buf, sizeof(buf)), threads, threads > 1 ? "s" : "",
            so.naive_close ? ", NAIVE CLOSE (the server closes first)"
            : so.after_fin == TW_AFTER_FIN_RST ? ", RST after the client's FIN"
                                               : ", FIN after the client's FIN",
            backend);
    if (threads == 1) {
        struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
        sigemptyset(&sa.sa_mask);
        sigaddset(&sa.sa_mask, SIGINT);
        sigaddset(&sa.sa_mask, SIGTERM);
        signal_group = sv.group;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        tw_server_group_run(sv.group); /* until on_signal */
    } else {
        if ((err = tw_server_group_start(sv.group)) < 0)
            fprintf(stderr, "twkit serve: a thread did not start: %s\n", tw_strerror(err));
        sigwait(&sigs, &sig);
        fprintf(stderr, "twkit serve: %s: shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        if ((err = tw_server_group_shutdown(sv.group)) < 0)
            fprintf(stderr, "twkit serve: shutdown: %s\n", tw_strerror(err));
        tw_server_group_join(sv.group); /* all of them: /metrics reads every server */
    }
    for (unsigned i = 0; i < tw_server_group_size(sv.group); i++) {
        const struct tw_server_stats *st = tw_server_stats(tw_server_group_server(sv.group, i));
#define ADD(name, kind, prom, help) total.name += st->name;
        TW_SERVER_STATS(ADD)
#undef ADD
    }
    tw_server_group_free(sv.group);
    if (!json)
        printf("twkit serve: connections and how they ended\n");
    print_stats(&total, json);
    free(sv.body);
    return 0;
}
