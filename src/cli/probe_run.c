/* twkit probe: the descriptors its probes may need, and --summary. */
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>

#include "cli/probe_run.h"
#include "util/rlimit.h"

/* The descriptors probes may hold at once, at worst: a target's probe
 * holds one for at most its timeout of every interval (every probe timing
 * out), and with close: graceful its closing socket another timeout; with
 * --once, max_inflight probes at a time. Every /probe request holds its
 * connection and its probe's socket; each thread a few of its own (epoll,
 * its mailbox, the resolver's). Ask for that many, say so if we cannot. */
void probe_raise_nofile(const struct tp_config *cfg, const struct tp_engine_opts *eo,
                        unsigned threads, size_t adhoc)
{
    double flight = 0;
    bool graceful = false;

    for (size_t d = 0; d < cfg->ndefs; d++) {
        const struct tp_def *def = &cfg->defs[d];
        double share = def->interval_ms ? (double)def->timeout_ms / (double)def->interval_ms : 1;
        flight += (double)def->ntargets * (share < 1 ? share : 1) * (def->graceful ? 2 : 1);
        graceful |= def->graceful && def->ntargets;
    }
    if (eo->once) {
        unsigned max = eo->max_inflight ? eo->max_inflight : 1000;
        flight = (double)(cfg->ntargets < max ? cfg->ntargets : max) * (graceful ? 2 : 1);
    }
    unsigned long long probes = (unsigned long long)(flight + 0.999);
    unsigned long long need = probes + (unsigned long long)adhoc * 2 + 16ull * threads + 256;
    unsigned long long have = tu_raise_nofile(need);

    if (have < need)
        fprintf(stderr,
                "twkit probe: warning: RLIMIT_NOFILE is %llu; %llu probes may be in flight at "
                "once (each target's for up to its timeout of every interval%s) and %zu /probe "
                "requests, needing %llu descriptors; probes beyond the limit fail with EMFILE "
                "(counted as local errors). Raise it with ulimit -n, or lower the timeouts.\n",
                have, probes, eo->once ? "; --once: --max-inflight" : "", adhoc, need);
}

void probe_print_summary(const struct tp_summary *sp, double wall, const char *loop)
{
    const struct tp_summary s = *sp;
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    printf("{\"event\":\"summary\",\"targets\":%llu,\"success\":%llu,\"failure\":%llu,"
           "\"local_error\":%llu,\"skipped\":%llu,\"late_start_us\":{\"n\":%llu,"
           "\"p50\":%llu,\"p99\":%llu,\"max\":%llu},\"cpu_user_s\":%.3f,\"cpu_system_s\":%.3f,"
           "\"max_rss_kib\":%ld,\"time_wait\":%d,\"wall_s\":%.3f,\"loop\":\"%s\","
           "\"thread_targets\":[",
           (unsigned long long)s.targets, (unsigned long long)s.results[TP_SUCCESS],
           (unsigned long long)s.results[TP_FAILURE], (unsigned long long)s.results[TP_LOCAL],
           (unsigned long long)s.skipped, (unsigned long long)s.late_n,
           (unsigned long long)s.late_p50_us, (unsigned long long)s.late_p99_us,
           (unsigned long long)s.late_max_us,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
           s.time_wait, wall, loop);
    for (unsigned i = 0; i < s.threads; i++)
        printf("%s%u", i ? "," : "", s.thread_targets[i]);
    printf("]}\n");
    fflush(stdout);
}
