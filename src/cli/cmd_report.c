/* twkit probe report: the SLA report of the history a config keeps
 * (docs/PROBE.md, "Report"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "probe/probe.h"
#include "probe/store.h"
#include "probe/tz.h"

static const char report_usage[] =
    "usage: twkit probe report [options] CONFIG\n"
    "       twkit probe report [options] --history FILE\n"
    "\n"
    "The SLA report of the uptime history CONFIG keeps (its history: section):\n"
    "per probe and per target, uptime per day, ISO week and month, downtime,\n"
    "unknown time (local errors, no result), incidents, longest outage, MTTR,\n"
    "latency p50/p90/p99. Uptime is up / (up + down): each result covers the\n"
    "time to the next, at most twice the probe's interval.\n"
    "\n"
    "options:\n"
    "  --since WHEN     start of the range (default 30d): a period back from now\n"
    "                   (30d, 36h, 1w), a date (2026-12-01, its midnight), a time\n"
    "                   (2026-12-01T10:00[:00], Z or +01:00 for an offset), @UNIX\n"
    "  --until WHEN     end of the range (default now)\n"
    "  --json           JSON (schema: docs/PROBE.md)\n"
    "  --html           one self-contained HTML page\n"
    "  --probe NAME     only this probe\n"
    "  --timezone TZ    days, weeks and months in TZ (default: the history's\n"
    "                   timezone, or UTC)\n"
    "  --history FILE   read this history file instead of CONFIG's\n"
    "  -h, --help       this text\n"
    "\n"
    "Exit status: 0 ok; 1 config errors, or no history to read; 2 bad usage.\n";

int cmd_probe_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"since", required_argument, NULL, 's'},   {"until", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},          {"html", no_argument, NULL, 'H'},
        {"probe", required_argument, NULL, 'p'},   {"timezone", required_argument, NULL, 'z'},
        {"history", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct tp_report_opts o = {.format = TP_REPORT_TEXT};
    const char *since = "30d", *until = NULL, *why, *zone = NULL, *history = NULL;
    struct tp_config cfg = {0};
    char err[600];
    struct timespec ts;
    int opt, n, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': since = optarg; break;
        case 'u': until = optarg; break;
        case 'j': o.format = TP_REPORT_JSON; break;
        case 'H': o.format = TP_REPORT_HTML; break;
        case 'p': o.probe = optarg; break;
        case 'z': zone = optarg; break;
        case 'f': history = optarg; break;
        case 'h': fputs(report_usage, stdout); return 0;
        default: fputs(report_usage, stderr); return 2;
        }
    }
    if (optind < argc - 1 || (optind == argc && !history)) {
        fprintf(stderr, "twkit probe report: %s\n%s",
                optind >= argc ? "CONFIG is missing" : "one CONFIG only", report_usage);
        return 2;
    }
    if (zone && !tp_tz_known(zone)) {
        fprintf(stderr, "twkit probe report: --timezone: unknown zone \"%s\" (a name under "
                        "/usr/share/zoneinfo, like Europe/Paris, or UTC)\n", zone);
        return 2;
    }
    if (optind < argc) {
        if ((n = tp_config_load(argv[optind], &cfg, stderr)) != 0) {
            if (n > 0)
                fprintf(stderr, "twkit probe report: %s: %d error%s\n", argv[optind], n,
                        n == 1 ? "" : "s");
            return 1;
        }
        if (!history && !cfg.history.path) {
            fprintf(stderr, "twkit probe report: %s has no history: section (no history is "
                            "kept, so there is nothing to report)\n", argv[optind]);
            tp_config_free(&cfg);
            return 1;
        }
    }
    o.path = history ? history : cfg.history.path;
    o.timezone = zone ? zone : cfg.history.timezone;
    /* local days are the C library's, through TZ: set it while alone */
    tp_tz_use(o.timezone);
    clock_gettime(CLOCK_REALTIME, &ts);
    o.now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    for (int i = 0; i < 2; i++) {
        const char *v = i ? until : since;
        if (v && tp_report_parse_time(v, o.now, o.timezone, i ? &o.until : &o.since, &why) < 0) {
            fprintf(stderr, "twkit probe report: --%s %s: %s\n", i ? "until" : "since", v, why);
            tp_config_free(&cfg);
            return 2;
        }
    }
    rc = tp_report_write(&o, stdout, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "twkit probe report: %s\n", err);
    tp_config_free(&cfg);
    return rc < 0 ? 1 : 0;
}
