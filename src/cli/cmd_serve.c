/* twkit serve: the twp echo server on libtwkit, one loop per thread. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cli/cli.h"
#include "twkit/error.h"
#include "twkit/server.h"
#include "twkit/time.h"

#define MAX_THREADS 64

static const char serve_usage[] =
    "usage: twkit serve [options]\n"
    "\n"
    "Serve twp (docs/PROTOCOL.md): every DATA frame is echoed back. The server\n"
    "never closes first: to end a connection it sends DONE and closes after the\n"
    "client's FIN, or aborts (RST) on timeouts and bad input, so it holds no\n"
    "TIME_WAIT. SIGTERM or SIGINT: stop accepting, DONE to every connection,\n"
    "wait for them (abort stragglers after the grace period), print counters.\n"
    "\n"
    "options:\n"
    "  --proto twp            protocol (twp; http comes with the HTTP issue)\n"
    "  --listen ADDR:PORT     address to listen on (default 127.0.0.1:7070;\n"
    "                         IPv6 as [::1]:7070)\n"
    "  --threads N            loops, one per thread, SO_REUSEPORT (default 1)\n"
    "  --idle-timeout DUR     abort a connection silent this long (default 60s)\n"
    "  --grace DUR            wait this long for the client's FIN after DONE or\n"
    "                         GOODBYE, then abort (default 2s)\n"
    "  --max-conns N          connections per thread; accept pauses (10000)\n"
    "  --max-requests N       DONE after N requests on a connection (0: never)\n"
    "  --max-frame BYTES      largest frame accepted (default 1048576)\n"
    "  --naive-close          WRONG ON PURPOSE: close first after every reply,\n"
    "                         so TIME_WAIT piles up here (benchmarks, demo)\n"
    "  --json                 print the exit counters as JSON\n"
    "  -h, --help             this text\n"
    "\n"
    "Durations: plain seconds or with a unit: 2, 2s, 500ms, 1m.\n"
    "Exit counters: accepted; how connections ended: closed_after_done (client\n"
    "closed after our DONE), closed_by_peer (client closed on its own),\n"
    "bye_goodbye, aborted_idle, aborted_grace, aborted_invalid, peer_reset,\n"
    "naive_closed; first_fin_refused (invariant checks, always 0);\n"
    "accept_paused (EMFILE/ENFILE/max-conns pauses); frames_in, frames_out.\n";

struct worker {
    pthread_t tid;
    tw_loop *loop;
    tw_server *srv;
    tw_io stop_io;
    int stop_fd;
    int err;
};

static void on_stop(tw_io *io, unsigned ev)
{
    struct worker *w = io->data;
    uint64_t v;

    if (read(io->fd, &v, sizeof(v)) < 0)
        return;
    tw_io_close(io);
    tw_server_shutdown(w->srv);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->err = tw_loop_run(w->loop);
    return NULL;
}

static void print_stats(const struct tw_server_stats *st, bool json)
{
#define STATS(X) X(accepted) X(closed_after_done) X(closed_by_peer) X(bye_goodbye)          \
    X(aborted_idle) X(aborted_grace) X(aborted_invalid) X(peer_reset) X(naive_closed)   \
    X(first_fin_refused) X(accept_paused) X(frames_in) X(frames_out) X(conn_buf_peak)
    if (json) {
        const char *sep = "";
        printf("{");
#define J(f) printf("%s\"%s\":%llu", sep, #f, (unsigned long long)st->f), sep = ",";
        STATS(J)
        printf("}\n");
    } else {
#define T(f) printf("  %-18s %llu\n", #f, (unsigned long long)st->f);
        STATS(T)
    }
    fflush(stdout);
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
        {"naive-close", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct tw_server_opts so = {0};
    struct worker w[MAX_THREADS];
    struct tw_server_stats total = {0};
    const char *listen = "127.0.0.1:7070";
    unsigned long threads = 1, v;
    bool json = false;
    sigset_t sigs;
    int ch, sig, err;
    char buf[TW_ADDRSTRLEN];

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (strcmp(optarg, "twp") != 0) {
                fprintf(stderr, "twkit serve: --proto %s: only twp is available in this "
                                "version\n", optarg);
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
        case 'n': so.naive_close = true; break;
        case 'j': json = true; break;
        case 'h': fputs(serve_usage, stdout); return 0;
        default: fputs(serve_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "twkit serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (tw_addr_parse(&so.listen, listen, 7070) < 0) {
        fprintf(stderr, "twkit serve: --listen %s: not an address (10.0.0.1:7070, [::1]:7070)\n",
                listen);
        return 2;
    }
    so.reuseport = threads > 1;

    /* Signals go to this thread only, through sigwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    for (unsigned long i = 0; i < threads; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        if ((err = tw_loop_new(&w[i].loop)) < 0 ||
            (err = tw_server_start(w[i].loop, &so, &w[i].srv)) < 0) {
            fprintf(stderr, "twkit serve: cannot listen on %s: %s (%s)\n",
                    tw_addr_format(&so.listen, buf, sizeof(buf)), tw_errname(err),
                    tw_strerror(err));
            return 1;
        }
        w[i].stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        tw_io_init(&w[i].stop_io, w[i].stop_fd, on_stop, &w[i]);
        tw_io_start(w[i].loop, &w[i].stop_io, TW_IO_READ);
    }
    fprintf(stderr, "twkit serve: twp on %s, %lu thread%s%s\n",
            tw_addr_format(&so.listen, buf, sizeof(buf)), threads, threads > 1 ? "s" : "",
            so.naive_close ? ", NAIVE CLOSE (the server closes first)" : "");
    for (unsigned long i = 0; i < threads; i++)
        pthread_create(&w[i].tid, NULL, worker_main, &w[i]);

    sigwait(&sigs, &sig);
    fprintf(stderr, "twkit serve: %s: shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    for (unsigned long i = 0; i < threads; i++) {
        uint64_t one = 1;
        if (write(w[i].stop_fd, &one, sizeof(one)) < 0)
            perror("eventfd");
    }
    for (unsigned long i = 0; i < threads; i++) {
        const struct tw_server_stats *st;
        pthread_join(w[i].tid, NULL);
        st = tw_server_stats(w[i].srv);
#define ADD(f) total.f += st->f;
        STATS(ADD)
        tw_server_free(w[i].srv);
        tw_loop_free(w[i].loop);
    }
    if (!json)
        printf("twkit serve: connections and how they ended\n");
    print_stats(&total, json);
    return 0;
}
