/* twkit demo: every way to end a connection, one after another in a fresh
 * lab each, with a narrowed client port range and tcp_tw_reuse=0; one table,
 * one line per strategy on what it shows, and a chart. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "cli/cli.h"
#include "twkit/error.h"
#include "util/rlimit.h"

/* The demo runs the strategies that have its words. */
static bool in_demo(const struct tb_strategy *s) { return s->demo.shows != NULL; }

/* n: how many the demo runs */
static void usage(FILE *f, unsigned n)
{
    fputs("usage: twkit demo [--json] [--svg FILE] [--seconds DUR] [--ports N] [--all]\n"
          "\n"
          "Runs ", f);
    tb_strategy_list(f, in_demo, ", ", " and ");
    fprintf(f,
        " in turn, each\n"
        "in a fresh lab (two network namespaces and a veth) with the client's port range\n"
        "narrowed to N ports and tcp_tw_reuse=0, and prints one table: connections/s,\n"
        "TIME_WAIT on each side at the end, EADDRNOTAVAIL, p99 connect latency, then a\n"
        "line per strategy on what it shows. Takes about %u x (DUR + 1 s).\n"
        "Without root it runs on loopback, where it cannot narrow the port range.\n"
        "\n"
        "  --json          one JSON object: {\"schema\":\"twkit-demo/1\",\"runs\":[twkit-bench/1...]}\n"
        "  --svg FILE      the chart (default twkit-demo.svg; \"\" for none)\n"
        "  --seconds DUR   per strategy (default 4s)\n"
        "  --ports N       client ports in the lab (default 2000)\n"
        "  --concurrency N sessions in flight (default 50)\n"
        "  --quiet         no progress\n"
        "  --all           then twkit hazards: what TIME_WAIT protects against, with and\n"
        "                  without it (root); with --json one object {\"demo\":...,\"hazards\":...}\n",
        n);
}

/* What a run shows, from its own numbers, and the rule it illustrates. */
static void explain(const struct tb_result *r, const struct tb_say *ctx)
{
    const struct tb_strategy *st = r->strategy;

    printf("%-13s ", st->name);
    tb_strategy_say(stdout, st->demo.shows, ctx);
    printf("\n%-13s rule: %s\n", "", st->demo.rule);
}

/* --all: the other half, what TIME_WAIT protects against. Returns the
 * worse of the two exit statuses. */
static int also_hazards(bool json, bool lab, int rc)
{
    char *hv[] = {"hazards", json ? "--json" : NULL, NULL};
    int hrc = 0;

    fflush(stdout);
    if (json)
        printf(",\"hazards\":");
    if (lab) {
        if (!json)
            printf("\n");
        hrc = cmd_hazards(json ? 2 : 1, hv);
    } else {
        fprintf(stderr, "twkit demo: --all: twkit hazards needs root; not run\n");
        if (json)
            printf("null");
    }
    if (json)
        printf("}\n");
    return rc > hrc ? rc : hrc;
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},          {"svg", required_argument, NULL, 'S'},
        {"seconds", required_argument, NULL, 'd'}, {"ports", required_argument, NULL, 'p'},
        {"concurrency", required_argument, NULL, 'n'}, {"quiet", no_argument, NULL, 'q'},
        {"all", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},          {0},
    };
    const char *cmd = "twkit demo", *svg = "twkit-demo.svg";
    struct tb_opts o = {.duration_ms = 4000, .concurrency = 50, .threads = 1,
                        .request_size = 32, .tw_reuse = 0};
    struct tb_result *runs;
    struct tb_say say = {0};
    unsigned long ports = 2000, v;
    char range[32], err[300];
    bool json = false, quiet = false, all = false;
    size_t done = 0, nruns = 0;
    int ch, rc = 0, k;

    for (unsigned i = 0; i < tb_nstrategies; i++)
        nruns += in_demo(&tb_strategies[i]);

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
        case 'a': all = true; break;
        case 'h': usage(stdout, (unsigned)nruns); return 0;
        default: usage(stderr, (unsigned)nruns); return 2;
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
    if (!(runs = calloc(nruns, sizeof(*runs)))) {
        fprintf(stderr, "%s: out of memory\n", cmd);
        return 1;
    }
    if (!quiet && !json)
        fprintf(stderr, "%s: %zu strategies, %.1f s each, %s\n", cmd, nruns,
                o.duration_ms / 1000.0,
                o.lab ? "each in a fresh lab" : "on loopback");
    for (unsigned i = 0; i < tb_nstrategies; i++) {
        if (!in_demo(&tb_strategies[i]))
            continue;
        o.strategy = &tb_strategies[i];
        if (!quiet)
            fprintf(stderr, "  %-13s ...\n", o.strategy->name);
        if (tb_run(&o, &runs[done], err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s: %s\n", cmd, o.strategy->name, err);
            rc = 1;
            break;
        }
        done++;
    }
    if (json) {
        if (all)
            printf("{\"demo\":");
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
        say.lab = o.lab;
        for (size_t i = 0; i < done; i++) /* the best rate, for pool's ratio */
            if (!tb_strategy_pooled(runs[i].strategy) &&
                runs[i].sessions * 1000.0 / (runs[i].elapsed_ms + 1) > say.best)
                say.best = runs[i].sessions * 1000.0 / (runs[i].elapsed_ms + 1);
        for (size_t i = 0; i < done; i++) {
            say.r = &runs[i];
            explain(&runs[i], &say);
        }
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
    free(runs);
    if (all)
        rc = also_hazards(json, o.lab, rc);
    return rc;
}
