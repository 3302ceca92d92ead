/* make bench: `twkit stat --json` over 200,000 TIME_WAIT sockets in a lab
 * namespace, against `ss -tan state time-wait | wc -l` in the same run:
 * wall time and peak memory (max RSS) of each; then the exporter's cost
 * per scrape of /metrics over the same sockets (target: under 0.5 s of
 * CPU). Needs root. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "twkit/error.h"
#include "lab/lab.h"
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

/* utime + stime of pid, seconds */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut, st;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return -1;
    p = fgets(buf, sizeof(buf), f);
    fclose(f);
    if (!p || !(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define SCRAPES 7

/* `twkit stat --listen --netns` scraped SCRAPES times in turn: the
 * process's CPU per scrape (all of it: read, exposition, HTTP) and the
 * read's own figure from twkit_stat_scrape_cpu_seconds. */
static void exporter(const char *twkit, const char *ns)
{
    double cpu[SCRAPES], own[SCRAPES];
    char cmd[512], line[512];
    long bytes = 0;
    int n = 0;
    pid_t pid;

    fflush(stdout);
    pid = fork();

    if (pid == 0) {
        execl(twkit, twkit, "stat", "--listen", "127.0.0.1:19467", "--netns", ns,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && system("curl -sf -o /dev/null http://127.0.0.1:19467/health");
         i++)
        usleep(50000);
    for (int i = 0; i < SCRAPES; i++) {
        double c0 = proc_cpu_s(pid);
        FILE *p = popen("curl -sf http://127.0.0.1:19467/metrics", "r");
        own[n] = -1;
        bytes = 0;
        while (p && fgets(line, sizeof(line), p)) {
            bytes += (long)strlen(line);
            if (!strncmp(line, "twkit_stat_scrape_cpu_seconds ", 30))
                own[n] = atof(line + 30);
        }
        if (!p || pclose(p) != 0 || own[n] < 0)
            break;
        cpu[n++] = proc_cpu_s(pid) - c0;
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (n < SCRAPES) {
        printf("stat        exporter: a scrape failed after %d\n", n);
        return;
    }
    qsort(cpu, SCRAPES, sizeof(double), cmp_double);
    qsort(own, SCRAPES, sizeof(double), cmp_double);
    snprintf(cmd, sizeof(cmd), "%.3f s", cpu[SCRAPES / 2]);
    printf("stat        exporter /metrics: CPU per scrape %s median of %d (%.3f..%.3f; the read "
           "alone %.3f s), %ld bytes  [target < 0.5 s: %s]\n",
           cmd, SCRAPES, cpu[0], cpu[SCRAPES - 1], own[SCRAPES / 2], bytes,
           cpu[SCRAPES / 2] < 0.5 ? "met" : "MISSED");
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
    exporter(twkit, lab.ns[TW_LAB_CLIENT]);
    tw_lab_destroy(&lab);
    return 0;
}
