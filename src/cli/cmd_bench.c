/* twkit bench: connection churn, one strategy, on a target or in the lab
 * (docs/BENCH.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "twkit/error.h"
#include "util/rlimit.h"

#define DEFAULT_CLOSE "abort"

/* --help: usage_head, a line or two per strategy from its row, usage_tail */
static const char usage_head[] =
    "usage: twkit bench [--close STRATEGY] [--lab | --local | --target HOST:PORT] [options]\n"
    "\n"
    "Open and end TCP connections as fast as they go (or at --rate), ended the\n"
    "way STRATEGY says, and measure sessions/s, latency, errors and the\n"
    "TIME_WAIT sockets left on each side, sampled every 100 ms.\n"
    "\n"
    "strategies (--close, default " DEFAULT_CLOSE "):\n";

static const char usage_tail[] =
    "\n"
    "where the server is (default --lab as root, else --local):\n"
    "  --lab                  a built-in server in a lab namespace pair across a\n"
    "                         veth (root); removed after the run\n"
    "  --local                a built-in server on loopback in this process\n"
    "  --target HOST:PORT     any twp server (twkit serve; use --naive-close or\n"
    "                         --max-requests 1 on it for server-close/handshake),\n"
    "                         or with --proto http any HTTP/1.1 server (nginx...)\n"
    "\n"
    "options:\n"
    "  --proto twp|http       protocol (default twp). http: GET / with\n"
    "                         Content-Length responses; client-close and\n"
    "                         server-close send Connection: close, abort and\n"
    "                         pool do not (pool = keep-alive connections)\n"
    "  --duration DUR         how long (default 5s; 5, 5s, 500ms)\n"
    "  --concurrency N        sessions in flight (pool: requests in flight and\n"
    "                         connections) (default 50)\n"
    "  --threads N            client threads, and server threads in the lab (1)\n"
    "  --rate N               start N sessions/s (pool: requests/s) on schedule;\n"
    "                         latency counts from the intended start, so stalls\n"
    "                         are not hidden (default: as fast as possible)\n"
    "  --size BYTES           request payload (default 32); http: the body size\n"
    "                         of the built-in server's response\n"
    "  --port-range LO-HI     lab: the client's ip_local_port_range (and\n"
    "                         IP_LOCAL_PORT_RANGE on each client socket)\n"
    "  --tw-reuse N           lab: the client's tcp_tw_reuse (0, 1, 2)\n"
    "  --ipv6                 lab/local: use IPv6 addresses\n"
    "  --json                 one JSON object (schema twkit-bench/1, docs/BENCH.md)\n"
    "  --csv FILE             the 100 ms time series\n"
    "  --svg FILE             a chart: TIME_WAIT over time, connections/s\n"
    "  --quiet                no progress lines\n"
    "\n"
    "Errors are counted by errno and class: local (this host's ports, descriptors,\n"
    "memory: EADDRNOTAVAIL, EMFILE...) or server (refused, reset, timed out).\n"
    "Exit status: 0, 1 if the run could not start, 2 on bad usage.\n";

static void usage(FILE *f)
{
    fputs(usage_head, f);
    for (unsigned i = 0; i < tb_nstrategies; i++) {
        fprintf(f, "  %-13s ", tb_strategies[i].name);
        for (const char *p = tb_strategies[i].help; *p; p++)
            if (*p == '\n')
                fprintf(f, "\n%16s", "");
            else
                fputc(*p, f);
        fputc('\n', f);
    }
    fputs(usage_tail, f);
}

static bool http_ok(const struct tb_strategy *s) { return s->http; }

static void progress(const struct tb_sample *s, void *arg)
{
    struct tb_sample *prev = arg;
    double dt = (double)(s->t_ms - prev->t_ms) / 1000.0;

    fprintf(stderr, "  %5.1fs %9.0f sessions/s %9.0f req/s  TIME_WAIT client %d server %d  "
                    "errors %llu\n",
            s->t_ms / 1000.0, dt > 0 ? (double)(s->sessions - prev->sessions) / dt : 0,
            dt > 0 ? (double)(s->requests - prev->requests) / dt : 0, s->tw_client, s->tw_server,
            (unsigned long long)s->errors);
    *prev = *s;
}

static long sysctl_long(const char *name)
{
    char path[128];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", name);
    if ((f = fopen(path, "re"))) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* What would spoil a run on this host's own settings. */
static void preflight(const struct tb_opts *o)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
    long lo = 0, hi = -1, reuse = sysctl_long("tcp_tw_reuse");

    if (o->lab)
        return; /* the lab's settings are the ones asked for */
    if (f) {
        if (fscanf(f, "%ld %ld", &lo, &hi) != 2)
            hi = -1;
        fclose(f);
    }
    if (o->strategy->time_wait == TB_HOLDS_CLIENT && hi >= lo)
        fprintf(stderr, "twkit bench: note: %s leaves TIME_WAIT on this client: %ld local "
                        "ports allow about %ld connections/s to one destination once they "
                        "fill (tcp_tw_reuse=%ld%s)\n",
                o->strategy->name, hi - lo + 1, (hi - lo + 1) / 60, reuse,
                reuse == 2 ? ": reuse acts on loopback only" : reuse == 1 ? ": reuse acts" : "");
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        {"close", required_argument, NULL, 'c'},   {"target", required_argument, NULL, 'T'},
        {"lab", no_argument, NULL, 'L'},           {"local", no_argument, NULL, 'l'},
        {"proto", required_argument, NULL, 'p'},   {"duration", required_argument, NULL, 'd'},
        {"concurrency", required_argument, NULL, 'n'}, {"threads", required_argument, NULL, 't'},
        {"rate", required_argument, NULL, 'r'},    {"size", required_argument, NULL, 's'},
        {"port-range", required_argument, NULL, 'P'}, {"tw-reuse", required_argument, NULL, 'R'},
        {"ipv6", no_argument, NULL, '6'},          {"json", no_argument, NULL, 'j'},
        {"csv", required_argument, NULL, 'C'},     {"svg", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *cmd = "twkit bench", *csv = NULL, *svg = NULL, *target = NULL;
    struct tb_opts o = {.strategy = tb_strategy_find(DEFAULT_CLOSE), .duration_ms = 5000,
                        .concurrency = 50, .threads = 1, .request_size = 32, .tw_reuse = -1};
    struct tb_result r;
    struct tb_sample prev = {0};
    char range[32], err[300];
    unsigned long v;
    bool json = false, quiet = false, where_set = false;
    int ch, k;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            if (!(o.strategy = tb_strategy_find(optarg))) {
                fprintf(stderr, "%s: --close %s: unknown strategy (", cmd, optarg);
                tb_strategy_list(stderr, NULL, ", ", ", ");
                fprintf(stderr, ")\n");
                return 2;
            }
            break;
        case 'T': target = optarg; where_set = true; break;
        case 'L': o.lab = true; where_set = true; break;
        case 'l': o.local_server = true; where_set = true; break;
        case 'p':
            if (strcmp(optarg, "twp") != 0 && strcmp(optarg, "http") != 0) {
                fprintf(stderr, "%s: --proto %s: not twp or http\n", cmd, optarg);
                return 2;
            }
            o.http = strcmp(optarg, "http") == 0;
            break;
        case 'd': if (cli_parse_dur(cmd, "--duration", optarg, &o.duration_ms) < 0) return 2; break;
        case 'n':
            if (cli_parse_uint(cmd, "--concurrency", optarg, 100000, &v) < 0) return 2;
            o.concurrency = (unsigned)v;
            break;
        case 't':
            if (cli_parse_uint(cmd, "--threads", optarg, 64, &v) < 0) return 2;
            o.threads = (unsigned)v;
            break;
        case 'r': {
            char *end;
            o.rate = strtod(optarg, &end);
            if (*end || !(o.rate > 0) || o.rate > 1e8) {
                fprintf(stderr, "%s: --rate %s: not a rate from 1 to 100000000 per second\n",
                        cmd, optarg);
                return 2;
            }
            break;
        }
        case 's':
            if (cli_parse_uint(cmd, "--size", optarg, 65536, &v) < 0) return 2;
            o.request_size = (uint32_t)v;
            break;
        case 'P': {
            unsigned lo, hi;
            char extra;
            if (sscanf(optarg, "%u-%u%c", &lo, &hi, &extra) != 2 || lo < 1 || hi > 65535 || lo > hi) {
                fprintf(stderr, "%s: --port-range %s: not LO-HI within 1-65535\n", cmd, optarg);
                return 2;
            }
            snprintf(range, sizeof(range), "%u %u", lo, hi);
            o.port_range = range;
            break;
        }
        case 'R':
            if (cli_parse_uint(cmd, "--tw-reuse", optarg, 2, &v) < 0) return 2;
            o.tw_reuse = (int)v;
            break;
        case '6': o.ipv6 = true; break;
        case 'j': json = true; break;
        case 'C': csv = optarg; break;
        case 'S': svg = optarg; break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, argv[optind]);
        return 2;
    }
    if ((o.lab + o.local_server + (target != NULL)) > 1) {
        fprintf(stderr, "%s: choose one of --lab, --local, --target\n", cmd);
        return 2;
    }
    if (!where_set) {
        o.lab = geteuid() == 0;
        o.local_server = !o.lab;
    }
    if (target && tw_addr_parse(&o.target, target, 0) < 0) {
        fprintf(stderr, "%s: --target %s: not an address with a port (10.0.0.1:7070, "
                        "[::1]:7070)\n", cmd, target);
        return 2;
    }
    if (target && !tw_addr_port(&o.target)) {
        fprintf(stderr, "%s: --target %s: give a port (HOST:PORT)\n", cmd, target);
        return 2;
    }
    if ((o.port_range || o.tw_reuse >= 0) && !o.lab) {
        fprintf(stderr, "%s: --port-range and --tw-reuse change sysctls, so they apply in the "
                        "lab only (--lab)\n", cmd);
        return 2;
    }
    if (!o.duration_ms || !o.concurrency || !o.threads) {
        fprintf(stderr, "%s: --duration, --concurrency and --threads must be more than 0\n", cmd);
        return 2;
    }
    const struct tb_strategy *st = o.strategy;
    if (o.rate > 0 && st->raw) {
        fprintf(stderr, "%s: --rate does not apply to %s (it runs flat out)\n", cmd, st->name);
        return 2;
    }
    if (st->server.echo && (target || o.request_size > TB_RAW_ECHO_MAX)) {
        fprintf(stderr, "%s: %s needs its own echo server (--lab or --local, not "
                        "--target) and a --size of at most %d (one write each way)\n", cmd,
                st->name, TB_RAW_ECHO_MAX);
        return 2;
    }
    if (o.http && !st->http) {
        fprintf(stderr, "%s: --close %s is twp only; with --proto http: ", cmd, st->name);
        tb_strategy_list(stderr, http_ok, ", ", ", ");
        fprintf(stderr, "\n");
        return 2;
    }
    if (o.http && o.rate > 0) {
        fprintf(stderr, "%s: --rate is not available with --proto http in this version\n", cmd);
        return 2;
    }
    if (o.threads > o.concurrency)
        o.threads = o.concurrency;
    if (tu_nofile_check(cmd, o.concurrency) < 0)
        return 1;
    preflight(&o);
    if (!quiet) {
        o.progress = progress;
        o.progress_arg = &prev;
    }
    if (!quiet)
        fprintf(stderr, "%s: %s%s, %s, %.1f s, concurrency %u, %u thread%s\n", cmd,
                o.http ? "http " : "", st->name, o.lab ? "lab" : o.local_server ? "loopback" : target,
                o.duration_ms / 1000.0, o.concurrency, o.threads, o.threads > 1 ? "s" : "");
    if (tb_run(&o, &r, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", cmd, err);
        return 1;
    }
    if (json) {
        tb_print_json(stdout, &r);
        printf("\n");
    } else {
        printf("%s: %s%s against %s (%s), %.1f s\n", cmd, r.http ? "http " : "",
               r.strategy->name, r.server, r.where,
               r.elapsed_ms / 1000.0);
        tb_print_table_head(stdout);
        tb_print_table_row(stdout, &r);
        tb_print_errors(stdout, &r);
        printf("connect us p50 %llu p99 %llu p99.9 %llu max %llu; request us p50 %llu p99 %llu "
               "p99.9 %llu max %llu\n",
               (unsigned long long)tu_hist_quantile(&r.connect_us, 0.5),
               (unsigned long long)tu_hist_quantile(&r.connect_us, 0.99),
               (unsigned long long)tu_hist_quantile(&r.connect_us, 0.999),
               (unsigned long long)r.connect_us.max,
               (unsigned long long)tu_hist_quantile(&r.request_us, 0.5),
               (unsigned long long)tu_hist_quantile(&r.request_us, 0.99),
               (unsigned long long)tu_hist_quantile(&r.request_us, 0.999),
               (unsigned long long)r.request_us.max);
        printf("cpu s: client user %.2f sys %.2f", r.cpu_client_user, r.cpu_client_sys);
        if (r.cpu_server_user >= 0)
            printf("; server user %.2f sys %.2f", r.cpu_server_user, r.cpu_server_sys);
        printf("; new connections %llu\n", (unsigned long long)r.new_conns);
        if (r.exhausted_ms >= 0)
            printf("ports ran out after %.1f s (%u usable); then %.0f sessions/s "
                   "(ports/60 s = %.0f)\n", r.exhausted_ms / 1000.0, r.usable_ports,
                   r.rate_after_exhaustion, r.usable_ports / 60.0);
    }
    if (o.rate > 0) {
        double got = (double)r.sessions * 1000.0 / (double)(r.elapsed_ms ? r.elapsed_ms : 1);
        if (got < o.rate * 0.95)
            fprintf(stderr, "%s: --rate %.0f/s was not reached: %.0f/s (%llu starts were late "
                            "for want of a free slot; raise --concurrency or lower --rate)\n",
                    cmd, o.rate, got, (unsigned long long)r.behind);
    }
    if (csv && (k = tb_write_csv(csv, &r, 1)) < 0)
        fprintf(stderr, "%s: --csv %s: %s\n", cmd, csv, tw_strerror(k));
    if (svg && (k = tb_write_svg(svg, "twkit bench", &r, 1)) < 0)
        fprintf(stderr, "%s: --svg %s: %s\n", cmd, svg, tw_strerror(k));
    tb_result_free(&r);
    return 0;
}
