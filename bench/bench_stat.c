/* make bench: `twkit stat --json` over 200,000 TIME_WAIT sockets in a lab
 * namespace, against `ss -tan state time-wait | wc -l` in the same run:
 * wall time and peak memory (max RSS) of each. Needs root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twkit/error.h"
#include "twkit/lab.h"
#include "twkit/time.h"

#define WANT 200000

/* Run sh -c cmd; wall ms and the child's max RSS in KiB. */
static int timed(const char *cmd, uint64_t *ms, long *rss_kb)
{
    struct rusage ru;
    int status;
    uint64_t t0 = tw_now_ms();
    pid_t pid = fork();

    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
        return -1;
    *ms = tw_now_ms() - t0;
    *rss_kb = ru.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
    struct tw_lab lab;
    struct tw_lab_churn c = {.how = TW_LAB_CLIENT_FIRST, .ndest = 8, .max_conns = WANT,
                             .max_ms = 120000};
    struct tw_tcp_states st;
    char cmd[512];
    uint64_t ms;
    long rss;
    const char *twkit = argc > 1 ? argv[1] : "build/twkit";

    if (geteuid() != 0) {
        printf("stat        skipped: needs root (network namespaces)\n");
        return 0;
    }
    if (tw_lab_create(&lab) < 0) {
        fprintf(stderr, "bench_stat: lab: %s\n", lab.err);
        return 1;
    }
    tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.tcp_max_tw_buckets", "400000");
    tw_lab_sysctl_set(&lab, TW_LAB_CLIENT, "net.ipv4.ip_local_port_range", "1024 60999");
    tw_lab_churn(&lab, &c);
    tw_lab_count(&lab, TW_LAB_CLIENT, &st);
    printf("stat        %u TIME_WAIT sockets made in %.1f s\n", st.n[6], c.elapsed_ms / 1e3);

    snprintf(cmd, sizeof(cmd), "%s stat --json --netns %s > /dev/null", twkit,
             lab.ns[TW_LAB_CLIENT]);
    timed(cmd, &ms, &rss);
    printf("stat        twkit stat --json:                    %5lu ms, max RSS %6.1f MB\n",
           (unsigned long)ms, rss / 1024.0);
    snprintf(cmd, sizeof(cmd), "ip netns exec %s ss -tan state time-wait | wc -l > /dev/null",
             lab.ns[TW_LAB_CLIENT]);
    timed(cmd, &ms, &rss);
    printf("stat        ss -tan state time-wait | wc -l:      %5lu ms, max RSS %6.1f MB\n",
           (unsigned long)ms, rss / 1024.0);
    tw_lab_destroy(&lab);
    return 0;
}
