/* twkit facts: measure, in the lab, the TCP facts twkit is built on (the
 * table is src/lab/facts.c, shared with the tests). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lab/facts.h"
#include "twkit/error.h"
#include "lab/lab.h"
#include "twkit/time.h"
#include "util/json.h"

static const char facts_usage[] =
    "usage: twkit facts [--json] [--only IDS]\n"
    "\n"
    "Measure, on this kernel, the TCP facts twkit is built on. Each fact runs in\n"
    "a fresh lab: two network namespaces joined by a veth pair, with their own\n"
    "sysctls, removed afterwards. Needs root.\n"
    "\n"
    "  a  the side that closes first holds the TIME_WAIT; the other holds none\n"
    "  b  abort (SO_LINGER {1,0}): no TIME_WAIT on either side, peer ECONNRESET\n"
    "  c  passive close (after the peer's FIN): no TIME_WAIT on the passive side\n"
    "  d  1,000 ports, tcp_tw_reuse=0: client-close gets EADDRNOTAVAIL after\n"
    "     about 1,000 connections; abort and server-close run 10,000 cleanly\n"
    "  e  tcp_tw_reuse=1 with timestamps reuses ports after tcp_tw_reuse_delay\n"
    "     (TWRecycled grows); with tcp_timestamps=0 it never does\n"
    "  f  1,000 ports hold far more than 1,000 TIME_WAIT to several destinations\n"
    "\n"
    "options:\n"
    "  --json        one JSON object: {\"facts\":[{id, claim, pass, measured,\n"
    "                values:{...}}], \"passed\": N, \"failed\": N}\n"
    "  --only IDS    run only these facts, e.g. --only ad\n"
    "  -h, --help    this text\n"
    "\n"
    "exit status: 0 if every fact held, 1 if one did not, 2 on bad usage or\n"
    "when the lab cannot be made (not root, iproute2 missing).\n";

int cmd_facts(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"only", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *only = NULL;
    bool json = false;
    int passed = 0, failed = 0, unmeasured = 0, ch;
    struct tw_fact_result *res;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "jo:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'o': only = optarg; break;
        case 'h': fputs(facts_usage, stdout); return 0;
        default: fputs(facts_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "twkit facts: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "twkit facts: the lab needs root (it creates network namespaces "
                        "and a veth pair); run it as root\n");
        return 2;
    }
    if (!(res = calloc(tw_nfacts, sizeof(*res)))) {
        fprintf(stderr, "twkit facts: out of memory\n");
        return 2;
    }
    if (!json)
        printf("%-2s  %-60s  %s\n", "", "fact (measured on this kernel)", "result");
    for (size_t i = 0; i < tw_nfacts; i++) {
        struct tw_fact_result *r = &res[i];
        uint64_t t0 = tw_now_ms();

        memset(r, 0, sizeof(*r));
        if (only && !strchr(only, tw_facts[i].id[0]))
            continue;
        tw_facts[i].run(r);
        if (r->err[0])
            unmeasured++;
        else if (r->pass)
            passed++;
        else
            failed++;
        if (!json) {
            printf("%-2s  %-60s  %s (%.1f s)\n", tw_facts[i].id, tw_facts[i].claim,
                   r->err[0] ? "NOT MEASURED" : r->pass ? "PASS" : "FAIL",
                   (double)(tw_now_ms() - t0) / 1000.0);
            printf("    %s\n", r->err[0] ? r->err : r->text);
            fflush(stdout);
        }
    }
    if (json) {
        bool first = true;
        printf("{\"facts\":[");
        for (size_t i = 0; i < tw_nfacts; i++) {
            struct tw_fact_result *r = &res[i];
            if (only && !strchr(only, tw_facts[i].id[0]))
                continue;
            printf("%s{\"id\":\"%s\",\"claim\":", first ? "" : ",", tw_facts[i].id);
            tu_json_str(stdout, tw_facts[i].claim);
            printf(",\"pass\":%s,\"measured\":", !r->err[0] && r->pass ? "true" : "false");
            tu_json_str(stdout, r->err[0] ? r->err : r->text);
            printf(",\"values\":{");
            for (int k = 0; k < r->nvals; k++)
                printf("%s\"%s\":%.6g", k ? "," : "", r->vals[k].key, r->vals[k].v);
            printf("}}");
            first = false;
        }
        printf("],\"passed\":%d,\"failed\":%d}\n", passed, failed + unmeasured);
    } else {
        printf("\n%d of %d facts held on this kernel.\n", passed, passed + failed + unmeasured);
    }
    free(res);
    return unmeasured ? 2 : failed ? 1 : 0;
}
