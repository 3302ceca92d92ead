/* twkit demo: every way to end a connection, one after another in a fresh
 * lab each, with a narrowed client port range and tcp_tw_reuse=0; one table,
 * one line per strategy on what it shows, and a chart. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "twkit/error.h"
#include "util/rlimit.h"

static const char demo_usage[] =
    "usage: twkit demo [--json] [--svg FILE] [--seconds DUR] [--ports N]\n"
    "\n"
    "Runs client-close, server-close, handshake, bye, abort and pool in turn, each\n"
    "in a fresh lab (two network namespaces and a veth) with the client's port range\n"
    "narrowed to N ports and tcp_tw_reuse=0, and prints one table: connections/s,\n"
    "TIME_WAIT on each side at the end, EADDRNOTAVAIL, p99 connect latency, then a\n"
    "line per strategy on what it shows. Takes about 6 x (DUR + 1 s).\n"
    "Without root it runs on loopback, where it cannot narrow the port range.\n"
    "\n"
    "  --json          one JSON object: {\"schema\":\"twkit-demo/1\",\"runs\":[twkit-bench/1...]}\n"
    "  --svg FILE      the chart (default twkit-demo.svg; \"\" for none)\n"
    "  --seconds DUR   per strategy (default 4s)\n"
    "  --ports N       client ports in the lab (default 2000)\n"
    "  --concurrency N sessions in flight (default 50)\n"
    "  --quiet         no progress\n";

static const enum tb_close order[] = {TB_CLIENT_CLOSE, TB_SERVER_CLOSE, TB_HANDSHAKE,
                                      TB_BYE, TB_ABORT, TB_POOL};
#define NRUNS (sizeof(order) / sizeof(order[0]))

/* What a run shows, from its own numbers. */
static void explain(const struct tb_result *r, const struct tb_result *runs, bool lab)
{
    uint64_t eaddr = r->err[EADDRNOTAVAIL];
    double best = 0;

    for (size_t i = 0; i < NRUNS; i++)
        if (runs[i].how != TB_POOL && runs[i].sessions * 1000.0 / (runs[i].elapsed_ms + 1) > best)
            best = runs[i].sessions * 1000.0 / (runs[i].elapsed_ms + 1);
    printf("%-13s ", tb_close_names[r->how]);
    switch (r->how) {
    case TB_CLIENT_CLOSE:
        if (eaddr)
            printf("the client closed first and holds %d TIME_WAIT: its %u ports ran out after "
                   "%.1f s (%llu EADDRNOTAVAIL, a local error), then %.0f/s (the ceiling: "
                   "ports/60 s = %.0f/s).\n", r->tw_client_end, r->usable_ports,
                   r->exhausted_ms / 1000.0, (unsigned long long)eaddr,
                   r->rate_after_exhaustion, r->usable_ports / 60.0);
        else
            printf("the client closed first and holds %d TIME_WAIT%s.\n", r->tw_client_end,
                   lab ? "" : " (on loopback tcp_tw_reuse=2 reuses them, so ports do not run out)");
        printf("%-13s rule: the side that closes first holds TIME_WAIT for 60 s; one "
               "destination gets at most ports/60 s new connections.\n", "");
        break;
    case TB_SERVER_CLOSE:
        printf("the server closed first: %d TIME_WAIT on the server%s, %d on the client, %llu "
               "EADDRNOTAVAIL.\n", r->tw_server_end,
               lab ? " (one per client port, at most: a new SYN from a port retires the "
                     "TIME_WAIT it left)" : "",
               r->tw_client_end, (unsigned long long)eaddr);
        printf("%-13s rule: a server (that also connects out) must never close first, unless "
               "the protocol requires it (HTTP/1.0 without keep-alive), and then only after "
               "giving the client the chance.\n", "");
        break;
    case TB_HANDSHAKE:
        printf("the server asked with DONE and the client closed: server %d TIME_WAIT, client "
               "%d%s.\n", r->tw_server_end, r->tw_client_end,
               eaddr ? "; the client still ran out of ports (EADDRNOTAVAIL)" : "");
        printf("%-13s rule: the client pays, as intended; a client that churns needs bye "
               "or pool.\n", "");
        break;
    case TB_BYE:
        printf("BYE/GOODBYE, then the client reset: %d TIME_WAIT on the client, %d on the "
               "server, %llu errors%s.\n", r->tw_client_end, r->tw_server_end,
               (unsigned long long)r->errors, r->errors ? "" : "; every reply arrived");
        printf("%-13s rule: a short-lived client says I'm done, waits for goodbye, then "
               "aborts: no TIME_WAIT, nothing lost.\n", "");
        break;
    case TB_ABORT:
        printf("the client reset after the reply: %d TIME_WAIT on the client, %d on the "
               "server; each ended with an RST to the server.\n", r->tw_client_end, r->tw_server_end);
        printf("%-13s rule: SO_LINGER 0, the prober's way: no TIME_WAIT, at the price of "
               "an RST.\n", "");
        break;
    case TB_POOL:
        printf("%llu connections carried %llu requests (%.0f/s, %.1fx the best per-connection "
               "rate); TIME_WAIT %d/%d.\n", (unsigned long long)r->new_conns,
               (unsigned long long)r->requests, r->requests * 1000.0 / (r->elapsed_ms + 1),
               best > 0 ? r->requests * 1000.0 / (r->elapsed_ms + 1) / best : 0,
               r->tw_client_end, r->tw_server_end);
        printf("%-13s rule: persistent, pooled connections avoid the problem "
               "altogether.\n", "");
        break;
    default:
        printf("\n");
    }
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},          {"svg", required_argument, NULL, 'S'},
        {"seconds", required_argument, NULL, 'd'}, {"ports", required_argument, NULL, 'p'},
        {"concurrency", required_argument, NULL, 'n'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},          {0},
    };
    const char *cmd = "twkit demo", *svg = "twkit-demo.svg";
    struct tb_opts o = {.duration_ms = 4000, .concurrency = 50, .threads = 1,
                        .request_size = 32, .tw_reuse = 0};
    struct tb_result runs[NRUNS];
    unsigned long ports = 2000, v;
    char range[32], err[300];
    bool json = false, quiet = false;
    size_t done = 0;
    int ch, rc = 0, k;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'S': svg = optarg; break;
        case 'd': if (cli_parse_dur(cmd, "--seconds", optarg, &o.duration_ms) < 0) return 2; break;
        case 'p':
            if (cli_parse_uint(cmd, "--ports", optarg, 28000, &ports) < 0) return 2;
            break;
        case 'n':
            if (cli_parse_uint(cmd, "--concurrency", optarg, 10000, &v) < 0) return 2;
            o.concurrency = (unsigned)v;
            break;
        case 'q': quiet = true; break;
        case 'h': fputs(demo_usage, stdout); return 0;
        default: fputs(demo_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", cmd, argv[optind]);
        return 2;
    }
    if (!o.duration_ms || ports < 100 || !o.concurrency) {
        fprintf(stderr, "%s: --seconds and --concurrency must be more than 0, --ports at "
                        "least 100\n", cmd);
        return 2;
    }
    if (tu_nofile_check(cmd, o.concurrency) < 0)
        return 1;
    o.lab = geteuid() == 0;
    o.local_server = !o.lab;
    if (o.lab) {
        snprintf(range, sizeof(range), "%lu %lu", 20000ul, 20000 + ports - 1);
        o.port_range = range;
    } else {
        o.tw_reuse = -1;
        fprintf(stderr, "%s: not root, so no lab: running on loopback with this host's port "
                        "range and tcp_tw_reuse. It cannot narrow the range, and with "
                        "tcp_tw_reuse=2 (the default) loopback connects reuse TIME_WAIT "
                        "ports, so client-close will not run out of ports here. Run as root "
                        "for the full demo.\n", cmd);
    }
    if (!quiet && !json)
        fprintf(stderr, "%s: %zu strategies, %.1f s each, %s\n", cmd, NRUNS,
                o.duration_ms / 1000.0,
                o.lab ? "each in a fresh lab" : "on loopback");
    for (size_t i = 0; i < NRUNS; i++) {
        o.how = order[i];
        if (!quiet)
            fprintf(stderr, "  %-13s ...\n", tb_close_names[o.how]);
        if (tb_run(&o, &runs[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s: %s\n", cmd, tb_close_names[o.how], err);
            rc = 1;
            break;
        }
        done++;
    }
    if (json) {
        printf("{\"schema\":\"twkit-demo/1\",\"where\":\"%s\",\"ports\":%lu,\"runs\":[",
               o.lab ? "lab" : "loopback", o.lab ? ports : 0);
        for (size_t i = 0; i < done; i++) {
            if (i)
                printf(",");
            tb_print_json(stdout, &runs[i]);
        }
        printf("]}\n");
    } else if (done) {
        printf("\ntwkit demo: %s, client port range %s, tcp_tw_reuse %s, %.1f s per "
               "strategy, concurrency %u\n\n",
               o.lab ? "lab (two namespaces, veth)" : "loopback",
               o.lab ? range : "(the host's)", o.lab ? "0" : "(the host's)",
               o.duration_ms / 1000.0, o.concurrency);
        tb_print_table_head(stdout);
        for (size_t i = 0; i < done; i++)
            tb_print_table_row(stdout, &runs[i]);
        printf("\n");
        for (size_t i = 0; i < done; i++)
            explain(&runs[i], runs, o.lab);
        for (size_t i = 0; i < done; i++)
            tb_print_errors(stdout, &runs[i]);
    }
    if (done && svg && *svg) {
        if ((k = tb_write_svg(svg, "twkit demo: every way to end a TCP connection", runs, done)) < 0)
            fprintf(stderr, "%s: --svg %s: %s\n", cmd, svg, tw_strerror(k));
        else if (!json)
            printf("\nchart: %s\n", svg);
    }
    for (size_t i = 0; i < done; i++)
        tb_result_free(&runs[i]);
    return rc;
}
