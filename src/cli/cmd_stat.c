/* twkit stat: the TIME_WAIT doctor (docs/STAT.md). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/stat_export.h"
#include "twkit/error.h"
#include "stat/stat.h"
#include "twkit/time.h"
#include "stat/who.h"
#include "util/json.h"

static const char stat_usage[] =
    "usage: twkit stat [--json | --brief] [--all] [--top N] [--watch SECONDS [--count N]]\n"
    "                  [--netns NAME] [--who SECONDS] [--fail-on warning|critical]\n"
    "       twkit stat --listen ADDR[:PORT] [--netns NAME | --all-netns] [--top N] [--who]\n"
    "\n"
    "Who holds TIME_WAIT, towards which destination, how close each destination is\n"
    "to running out of local ports, which sysctls are wrong and why.\n"
    "\n"
    "  --json            one JSON object (schema twkit-stat/2, docs/STAT.md); with\n"
    "                    --watch, one object per line\n"
    "  --brief           one line for scripts: the worst severity, the findings,\n"
    "                    TIME_WAIT per side (\"twkit stat: ok: no findings | TIME_WAIT\n"
    "                    client 0 server 0\"); with --watch, one line per report\n"
    "  --all             the text report shows every counter (default: those not 0)\n"
    "  --fail-on SEV     exit 1 when a finding is at least SEV: warning or critical\n"
    "                    (default critical)\n"
    "  --top N           show the N busiest groups of each side (default 10; 0: all)\n"
    "  --watch SECONDS   refresh every SECONDS (2, 2s, 500ms) and show counter rates\n"
    "  --count N         with --watch: stop after N reports\n"
    "  --netns NAME      look inside a named network namespace (/run/netns/NAME)\n"
    "  --who SECONDS     first record active closes for SECONDS (tracepoint\n"
    "                    sock:inet_sock_set_state, root), then report which\n"
    "                    processes (pid, name, cgroup) sent the first FIN, in\n"
    "                    all and towards which destination: each such close\n"
    "                    leaves a TIME_WAIT on this host. The\n"
    "                    tracepoint sees every namespace. TWKIT_TRACEFS=DIR: use\n"
    "                    that tracefs instead of finding or mounting one\n"
    "\n"
    "Exporter (Prometheus):\n"
    "  --listen ADDR[:PORT]  serve GET /metrics until SIGTERM (:PORT: every\n"
    "                    address; default port 9467). Every scrape reads the\n"
    "                    sockets afresh (docs/STAT.md lists the metrics;\n"
    "                    contrib/prometheus has alert rules and a dashboard)\n"
    "  --all-netns       also every namespace in /run/netns, with a netns label\n"
    "  --netns NAME      only that namespace, with a netns label\n"
    "  --top N           destinations and listeners with series of their own\n"
    "                    (default 20; the rest are summed as \"other\"; 0: all)\n"
    "  --who             keep the tracepoint open while serving and export active\n"
    "                    closes per process name and cgroup as counters\n"
    "\n"
    "The report, field by field:\n"
    "  client side       sockets whose local port is not a listening port: this host\n"
    "                    connected out. Grouped by source address and destination\n"
    "                    address:port, which share one range of local ports.\n"
    "  server side       sockets on a listening port: this host accepted them.\n"
    "  TW                TIME_WAIT sockets; EST established; ALL every state\n"
    "  PORTS             local ports in use towards the destination / usable ports\n"
    "                    (ip_local_port_range minus ip_local_reserved_ports)\n"
    "  NEW/S             new connections/s, from TIME_WAIT born in the last 3 s\n"
    "  MAX/S             the rate this destination sustains: usable ports / 60 s,\n"
    "                    or / tcp_tw_reuse_delay when tcp_tw_reuse can act for it\n"
    "  LEFT              time until the ports run out at NEW/S, counting the ports\n"
    "                    each TIME_WAIT gives back when it ends: within 60 s, or\n"
    "                    \"-\": never\n"
    "  EXPIRES           min..max seconds left on the group's TIME_WAIT timers\n"
    "  counters          TcpExt counters of the namespace from /proc/net/netstat\n"
    "                    (per second with --watch; not 0 unless --all) and tw from\n"
    "                    /proc/net/sockstat\n"
    "  advice            findings with an id, a severity, the numbers, the reason\n"
    "                    and the fix (the commands, or the change to the application)\n"
    "\n"
    "Exit status: 0; 1 a finding at or above --fail-on; 2 bad usage; 3 --who could\n"
    "not record (no permission, no tracepoint), when no finding made it 1.\n";

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int enter_netns(const char *name)
{
    char path[256];
    int fd;

    if (strchr(name, '/'))
        snprintf(path, sizeof(path), "%s", name);
    else
        snprintf(path, sizeof(path), "/run/netns/%s", name);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        int err = -errno;
        fprintf(stderr, "twkit stat: --netns %s: %s (%s)\n", name,
                err == -ENOENT ? "no such network namespace" : tw_strerror(err), path);
        return -1;
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        fprintf(stderr, "twkit stat: --netns %s: cannot enter: %s%s\n", name, strerror(errno),
                errno == EPERM ? " (needs root)" : "");
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* A --who recording: rows, or why there are none. */
struct who_run {
    bool asked;
    struct tw_who w;
    char err[400];
};

/* ---- JSON ---- */

static void jstates(const uint32_t *n)
{
    const char *sep = "";
    printf("{");
    for (int s = 1; s < TW_TCP_NSTATES; s++)
        if (n[s]) {
            printf("%s\"%s\":%u", sep, tw_tcp_state_name(s), n[s]);
            sep = ",";
        }
    printf("}");
}

static void jgroup(const struct tw_stat_group *g)
{
    char a[TW_ADDRSTRLEN], b[TW_ADDRSTRLEN];

    printf("{\"local\":");
    tu_json_str(stdout, g->server ? tw_addr_format(&g->local, a, sizeof(a))
                                  : tw_addr_host(&g->local, a, sizeof(a)));
    if (!g->server) {
        printf(",\"remote\":");
        tu_json_str(stdout, tw_addr_format(&g->remote, b, sizeof(b)));
    }
    printf(",\"states\":");
    jstates(g->n);
    printf(",\"total\":%u,\"time_wait\":%u", g->total, g->n[TW_TCP_TIME_WAIT]);
    if (g->n[TW_TCP_TIME_WAIT])
        printf(",\"tw_expires_ms\":{\"min\":%u,\"max\":%u}", g->exp_min, g->exp_max);
    printf(",\"tw_recent\":%u", g->tw_recent);
    if (!g->server) {
        printf(",\"usable_ports\":%u,\"reuse\":%s,\"rate\":%.1f,\"max_rate\":%.1f,"
               "\"seconds_left\":",
               g->usable, g->reuse ? "true" : "false", g->rate, g->max_rate);
        tu_json_num_or_null(stdout, g->secs_left, 1, g->secs_left >= 0);
    }
    printf("}");
}

static void json_who(const struct who_run *wr, size_t top)
{
    char a[TW_ADDRSTRLEN];

    printf(",\"who\":{");
    if (wr->err[0]) {
        printf("\"error\":");
        tu_json_str(stdout, wr->err);
        printf("}");
        return;
    }
    printf("\"ms\":%llu,\"cpus\":%d,\"active_closes\":%llu,\"lost\":%llu,\"rows\":[",
           (unsigned long long)wr->w.ms, wr->w.ncpus, (unsigned long long)wr->w.events,
           (unsigned long long)wr->w.lost);
    for (size_t i = 0; i < wr->w.nrows && (!top || i < top); i++) {
        const struct tw_who_row *r = &wr->w.rows[i];
        printf("%s{\"pid\":%d,\"comm\":", i ? "," : "", r->pid);
        tu_json_str(stdout, r->comm);
        printf(",\"cgroup\":");
        tu_json_str(stdout, r->cgroup);
        printf(",\"remote\":");
        tu_json_str(stdout, tw_addr_format(&r->dst, a, sizeof(a)));
        printf(",\"active_closes\":%llu}", (unsigned long long)r->active_closes);
    }
    printf("],\"processes\":[");
    for (size_t i = 0; i < wr->w.nprocs && (!top || i < top); i++) {
        const struct tw_who_pid *p = &wr->w.procs[i];
        printf("%s{\"pid\":%d,\"comm\":", i ? "," : "", p->pid);
        tu_json_str(stdout, p->comm);
        printf(",\"cgroup\":");
        tu_json_str(stdout, p->cgroup);
        printf(",\"active_closes\":%llu,\"destinations\":%u}",
               (unsigned long long)p->active_closes, p->destinations);
    }
    printf("]}");
}

static void print_json(const struct tw_stat *st, const char *ns, size_t top,
                       const struct who_run *wr)
{
    int64_t now = tu_wall_ns();
    const char *sep;
    char when[40];

    printf("{\"schema\":\"twkit-stat/2\",\"time\":\"%s\",\"time_unix\":%.3f,\"netns\":",
           tu_rfc3339(when, sizeof(when), now), (double)(now / 1000000) / 1e3);
    tu_json_str(stdout, ns ? ns : "");
    printf(",\"states\":");
    jstates(st->states.n);
    printf(",\"total\":%u,\"time_wait\":{\"client\":%u,\"server\":%u,\"sockstat\":%lld}",
           st->states.total, st->tw_client, st->tw_server, (long long)st->sockstat_tw);
    for (int side = 0; side < 2; side++) {
        size_t shown = 0;
        printf(side ? ",\"servers\":[" : ",\"destinations\":[");
        sep = "";
        for (size_t i = 0; i < st->ngroups && (!top || shown < top); i++) {
            if (st->groups[i].server != side)
                continue;
            printf("%s", sep);
            jgroup(&st->groups[i]);
            sep = ",";
            shown++;
        }
        printf("]");
    }
    printf(",\"counters\":{");
    sep = "";
    for (int i = 0; i < TW_SC_NCOUNTERS; i++)
        if (st->have_counter[i]) {
            printf("%s\"%s\":%llu", sep, tw_stat_counter_names[i],
                   (unsigned long long)st->counter[i]);
            sep = ",";
        }
    printf("}");
    if (st->have_rates) {
        printf(",\"rates\":{");
        sep = "";
        for (int i = 0; i < TW_SC_NCOUNTERS; i++)
            if (st->have_counter[i]) {
                printf("%s\"%s\":%.1f", sep, tw_stat_counter_names[i], st->counter_rate[i]);
                sep = ",";
            }
        printf("}");
    }
    printf(",\"sysctls\":{\"ip_local_port_range\":[%lld,%lld],\"reserved_in_range\":%u,"
           "\"listening_in_range\":%u",
           (long long)st->sysctl[TW_SY_PORT_LO], (long long)st->sysctl[TW_SY_PORT_HI],
           st->reserved_in_range, st->listening_in_range);
    for (int i = TW_SY_TW_REUSE; i < TW_SY_NSYSCTLS; i++)
        if (st->sysctl[i] != -1 || i != TW_SY_EHASH_ENTRIES)
            printf(",\"%s\":%lld", tw_stat_sysctl_names[i], (long long)st->sysctl[i]);
    printf("},\"advice\":[");
    for (size_t i = 0; i < st->nadvice; i++) {
        const struct tw_advice *a = &st->advice[i];
        printf("%s{\"id\":\"%s\",\"severity\":\"%s\",\"evidence\":", i ? "," : "", a->id,
               tw_severity_name(a->severity));
        tu_json_str(stdout, a->evidence);
        printf(",\"reason\":");
        tu_json_str(stdout, a->reason);
        printf(",\"fix\":");
        tu_json_str(stdout, a->fix);
        printf("}");
    }
    printf("]");
    if (wr->asked)
        json_who(wr, top);
    printf(",\"problems\":");
    tu_json_str(stdout, st->problems);
    printf("}\n");
}

/* ---- one line ---- */

/* For scripts and logs: the worst severity, every finding by id (and its
 * few words), TIME_WAIT per side; the exit status is the same as ever. */
static void print_brief(const struct tw_stat *st, const struct who_run *wr)
{
    int worst = tw_stat_worst(st);

    printf("twkit stat: %s: ", worst < 0 ? "ok" : tw_severity_name(worst));
    if (!st->nadvice && !st->advice_lost)
        printf("no findings");
    else
        printf("%zu finding%s (", st->nadvice, st->nadvice == 1 ? "" : "s");
    for (size_t i = 0; i < st->nadvice; i++) {
        const struct tw_advice *a = &st->advice[i];
        printf("%s%s%s%s", i ? "; " : "", a->id, a->brief[0] ? " " : "", a->brief);
    }
    if (st->advice_lost)
        printf("%sand more not kept (out of memory)", st->nadvice ? "; " : "");
    if (st->nadvice || st->advice_lost)
        printf(")");
    printf(" | TIME_WAIT client %u server %u", st->tw_client, st->tw_server);
    if (wr->asked && wr->err[0])
        printf(" | who: not recorded");
    else if (wr->asked && wr->w.nprocs)
        printf(" | closes first: %s[%d] %llu", wr->w.procs[0].comm, wr->w.procs[0].pid,
               (unsigned long long)wr->w.procs[0].active_closes);
    else if (wr->asked)
        printf(" | closes first: nobody");
    printf("\n");
}

/* ---- text ---- */

static void fmt_left(double s, char *buf, size_t cap)
{
    if (s < 0)
        snprintf(buf, cap, "-");
    else if (s < 120)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 7200)
        snprintf(buf, cap, "%.0fm", s / 60);
    else
        snprintf(buf, cap, "%.0fh", s / 3600);
}

/* The EXPIRES column (seconds left on the group's TIME_WAIT), then newline. */
static void end_row(const struct tw_stat_group *g)
{
    if (g->n[TW_TCP_TIME_WAIT])
        printf(" %4u..%-3u", g->exp_min / 1000, g->exp_max / 1000);
    printf("\n");
}

static void text_who(const struct who_run *wr, size_t top)
{
    char a[TW_ADDRSTRLEN];

    if (wr->err[0]) {
        printf("\nwho closed first: not recorded: %s\n", wr->err);
        return;
    }
    printf("\nwho closed first (%.1f s on %d CPUs: %llu active closes, each a TIME_WAIT "
           "here%s)\n", wr->w.ms / 1000.0, wr->w.ncpus, (unsigned long long)wr->w.events,
           wr->w.lost ? "; some events lost" : "");
    if (!wr->w.nrows) {
        printf("  (none)\n");
        return;
    }
    /* the process to fix first, then where its closes went */
    printf("  by process\n  %8s %-16s %-30s %8s %12s\n", "PID", "COMMAND", "CGROUP", "CLOSES",
           "DESTINATIONS");
    for (size_t i = 0; i < wr->w.nprocs && (!top || i < top); i++) {
        const struct tw_who_pid *p = &wr->w.procs[i];
        printf("  %8d %-16s %-30s %8llu %12u\n", p->pid, p->comm, p->cgroup,
               (unsigned long long)p->active_closes, p->destinations);
    }
    printf("  by process and destination\n  %8s %-16s %-30s %-44s %8s\n", "PID", "COMMAND",
           "CGROUP", "DESTINATION", "CLOSES");
    for (size_t i = 0; i < wr->w.nrows && (!top || i < top); i++) {
        const struct tw_who_row *r = &wr->w.rows[i];
        printf("  %8d %-16s %-30s %-44s %8llu\n", r->pid, r->comm, r->cgroup,
               tw_addr_format(&r->dst, a, sizeof(a)), (unsigned long long)r->active_closes);
    }
}

/* The fix under the reason, its lines lined up after "fix: ". */
static void text_fix(const char *fix)
{
    const char *p = fix;

    if (!*p)
        return;
    printf("      fix: ");
    for (;;) {
        size_t n = strcspn(p, "\n");
        printf("%.*s\n", (int)n, p);
        p += n;
        if (!*p++ || !*p)
            break;
        printf("           ");
    }
}

static void print_text(const struct tw_stat *st, const char *ns, size_t top,
                       const struct who_run *wr, bool all)
{
    char a[TW_ADDRSTRLEN], b[TW_ADDRSTRLEN], dest[2 * TW_ADDRSTRLEN + 8], left[16], ports[32];
    size_t shown;
    int zero = 0;

    printf("twkit stat: %s%s\n", ns ? "network namespace " : "this host's network namespace",
           ns ? ns : "");
    printf("TCP sockets %u:", st->states.total);
    for (int s = 1; s < TW_TCP_NSTATES; s++)
        if (st->states.n[s])
            printf(" %s %u", tw_tcp_state_name(s), st->states.n[s]);
    printf("\nTIME_WAIT: client side %u, server side %u (sockstat tw %lld, "
           "tcp_max_tw_buckets %lld)\n",
           st->tw_client, st->tw_server, (long long)st->sockstat_tw,
           (long long)st->sysctl[TW_SY_MAX_TW_BUCKETS]);

    /* the findings first, most severe first (advice.c sorts them) */
    printf("\nadvice\n");
    if (!st->nadvice)
        printf("  nothing to fix\n");
    for (size_t i = 0; i < st->nadvice; i++) {
        const struct tw_advice *ad = &st->advice[i];
        printf("  [%s] %s: %s\n      %s\n", tw_severity_name(ad->severity), ad->id,
               ad->evidence, ad->reason);
        text_fix(ad->fix);
    }

    printf("\nclient side, by destination\n");
    printf("  %-44s %7s %6s %6s %13s %7s %7s %5s %9s\n", "SOURCE -> DESTINATION", "TW", "EST",
           "ALL", "PORTS", "NEW/S", "MAX/S", "LEFT", "EXPIRES");
    shown = 0;
    for (size_t i = 0; i < st->ngroups && (!top || shown < top); i++) {
        const struct tw_stat_group *g = &st->groups[i];
        if (g->server)
            continue;
        snprintf(dest, sizeof(dest), "%s -> %s", tw_addr_host(&g->local, a, sizeof(a)),
                 tw_addr_format(&g->remote, b, sizeof(b)));
        snprintf(ports, sizeof(ports), "%u/%u", g->total, g->usable);
        fmt_left(g->secs_left, left, sizeof(left));
        printf("  %-44s %7u %6u %6u %13s %7.0f %7.0f %5s", dest, g->n[TW_TCP_TIME_WAIT],
               g->n[1], g->total, ports, g->rate, g->max_rate, left);
        end_row(g);
        shown++;
    }
    if (!shown)
        printf("  (none)\n");

    printf("\nserver side, by listening address\n");
    printf("  %-44s %7s %6s %6s %9s\n", "LOCAL", "TW", "EST", "ALL", "EXPIRES");
    shown = 0;
    for (size_t i = 0; i < st->ngroups && (!top || shown < top); i++) {
        const struct tw_stat_group *g = &st->groups[i];
        if (!g->server)
            continue;
        printf("  %-44s %7u %6u %6u", tw_addr_format(&g->local, a, sizeof(a)),
               g->n[TW_TCP_TIME_WAIT], g->n[1], g->total);
        end_row(g);
        shown++;
    }
    if (!shown)
        printf("  (none)\n");

    /* TcpExt is per network namespace: since it was made (boot, for the
     * host's) */
    printf("\ncounters (TcpExt of this namespace%s)\n",
           st->have_rates ? ", per second" : ", since it was made");
    for (int i = 0; i < TW_SC_NCOUNTERS; i++) {
        if (!st->have_counter[i])
            continue;
        if (!all && !st->counter[i]) {
            zero++;
            continue;
        }
        if (st->have_rates)
            printf("  %-22s %14llu %10.1f/s\n", tw_stat_counter_names[i],
                   (unsigned long long)st->counter[i], st->counter_rate[i]);
        else
            printf("  %-22s %14llu\n", tw_stat_counter_names[i],
                   (unsigned long long)st->counter[i]);
    }

    if (zero)
        printf("  (%d more at 0: --all shows them)\n", zero);

    printf("\nsysctls\n  ip_local_port_range    %lld %lld (%u reserved inside, %u listening "
           "inside)\n", (long long)st->sysctl[TW_SY_PORT_LO], (long long)st->sysctl[TW_SY_PORT_HI],
           st->reserved_in_range, st->listening_in_range);
    for (int i = TW_SY_TW_REUSE; i < TW_SY_NSYSCTLS; i++) {
        if (st->sysctl[i] == -1)
            printf("  %-22s (not available)\n", tw_stat_sysctl_names[i]);
        else
            printf("  %-22s %lld\n", tw_stat_sysctl_names[i], (long long)st->sysctl[i]);
    }

    if (wr->asked)
        text_who(wr, top);
    if (st->problems[0])
        printf("\nnot read: %s\n", st->problems);
    fflush(stdout);
}

int cmd_stat(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"brief", no_argument, NULL, 'b'},
        {"all", no_argument, NULL, 'a'},
        {"fail-on", required_argument, NULL, 'F'},
        {"top", required_argument, NULL, 't'},
        {"watch", required_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'c'},
        {"netns", required_argument, NULL, 'n'},
        {"who", required_argument, NULL, 'W'},
        {"listen", required_argument, NULL, 'L'},
        {"all-netns", no_argument, NULL, 'A'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct option xopts[sizeof(opts) / sizeof(opts[0])];
    struct stat_export_opts xo = {.top = 20};
    const char *ns = NULL;
    unsigned long top = 10, count = 0;
    uint64_t watch_ms = 0, who_ms = 0;
    struct who_run wr = {0};
    bool json = false, brief = false, top_set = false, all = false;
    struct tw_stat cur, prev;
    bool have_prev = false;
    int ch, worst = -1, fail_on = TW_SEV_CRITICAL, who_err = 0;

    /* the exporter's --who records for its whole life: no duration */
    memcpy(xopts, opts, sizeof(opts));
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--listen") || !strncmp(argv[i], "--listen=", 9))
            for (size_t k = 0; xopts[k].name; k++)
                if (xopts[k].val == 'W')
                    xopts[k].has_arg = no_argument;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", xopts, NULL)) != -1) {
        switch (ch) {
        case 'j': json = true; break;
        case 'b': brief = true; break;
        case 'a': all = true; break;
        case 'F':
            if (!strcmp(optarg, "warning"))
                fail_on = TW_SEV_WARNING;
            else if (!strcmp(optarg, "critical"))
                fail_on = TW_SEV_CRITICAL;
            else {
                fprintf(stderr, "twkit stat: --fail-on %s: expected warning or critical\n",
                        optarg);
                return 2;
            }
            break;
        case 't':
            if (cli_parse_uint("twkit stat", "--top", optarg, 1000000, &top) < 0)
                return 2;
            top_set = true;
            break;
        case 'w':
            if (cli_parse_dur("twkit stat", "--watch", optarg, &watch_ms) < 0)
                return 2;
            if (!watch_ms) {
                fprintf(stderr, "twkit stat: --watch must be more than 0\n");
                return 2;
            }
            break;
        case 'c':
            if (cli_parse_uint("twkit stat", "--count", optarg, 1000000000, &count) < 0)
                return 2;
            break;
        case 'n': ns = optarg; break;
        case 'L': xo.listen = optarg; break;
        case 'A': xo.all_netns = true; break;
        case 'W':
            if (!optarg) { /* with --listen */
                xo.who = true;
                break;
            }
            if (cli_parse_dur("twkit stat", "--who", optarg, &who_ms) < 0)
                return 2;
            if (!who_ms) {
                fprintf(stderr, "twkit stat: --who must be more than 0\n");
                return 2;
            }
            wr.asked = true;
            break;
        case 'h': fputs(stat_usage, stdout); return 0;
        default: fputs(stat_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "twkit stat: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (xo.listen || xo.all_netns) {
        if (!xo.listen) {
            fprintf(stderr, "twkit stat: --all-netns is for the exporter: add --listen\n");
            return 2;
        }
        if (json || brief || watch_ms || count || all || fail_on != TW_SEV_CRITICAL) {
            fprintf(stderr, "twkit stat: --listen serves /metrics: --json, --brief, --watch, "
                            "--count, --all and --fail-on are for the report\n");
            return 2;
        }
        if (ns && xo.all_netns) {
            fprintf(stderr, "twkit stat: --netns and --all-netns cannot be combined\n");
            return 2;
        }
        xo.netns = ns;
        if (top_set)
            xo.top = top;
        xo.tracefs = getenv("TWKIT_TRACEFS");
        return stat_export_run(&xo);
    }
    if (json && brief) {
        fprintf(stderr, "twkit stat: --json and --brief cannot be combined\n");
        return 2;
    }
    if (wr.asked && watch_ms) {
        fprintf(stderr, "twkit stat: --who and --watch cannot be combined\n");
        return 2;
    }
    if (json && !top_set)
        top = 0; /* machines get everything unless they ask */
    if (ns && enter_netns(ns) < 0)
        return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (wr.asked) {
        fprintf(stderr, "twkit stat: recording active closes for %.1f s (Ctrl-C to stop early)\n",
                who_ms / 1000.0);
        if ((who_err = tw_who_record(&wr.w, who_ms, getenv("TWKIT_TRACEFS"), &stop, wr.err,
                                     sizeof(wr.err))) < 0)
            fprintf(stderr, "twkit stat: --who: %s\n", wr.err);
        stop = 0; /* Ctrl-C ended the recording, not the report */
    }

    for (unsigned long n = 1;; n++) {
        int err = tw_stat_collect(&cur, have_prev ? &prev : NULL, ns);
        if (err < 0)
            fprintf(stderr, "twkit stat: reading sockets: %s (%s)\n", tw_errname(err),
                    tw_strerror(err));
        if (watch_ms && !json && !brief && isatty(STDOUT_FILENO))
            printf("\033[H\033[2J");
        if (brief)
            print_brief(&cur, &wr);
        else if (json)
            print_json(&cur, ns, top, &wr);
        else
            print_text(&cur, ns, top, &wr, all);
        fflush(stdout); /* --watch into a pipe: each report as it is made */
        if (tw_stat_worst(&cur) > worst)
            worst = tw_stat_worst(&cur);
        if (have_prev)
            tw_stat_free(&prev);
        prev = cur;
        have_prev = true;
        if (!watch_ms || stop || (count && n >= count))
            break;
        uint64_t end = tw_now_ms() + watch_ms;
        while (!stop && tw_now_ms() < end)
            usleep(20000);
        if (stop)
            break;
    }
    if (have_prev)
        tw_stat_free(&prev);
    tw_who_free(&wr.w);
    return worst >= fail_on ? 1 : who_err < 0 ? 3 : 0;
}
