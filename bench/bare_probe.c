/* The floor for twkit probe's tcp kind (make bench-probe): the same work
 * per probe with nothing else — a nonblocking socket, connect, epoll until
 * it is writable or fails, SO_ERROR, SO_LINGER 0 and close (RST) — on a
 * fixed-rate schedule like the prober's (every target once per interval,
 * first starts spread over it). No config, no results kept, no log, no
 * metrics, no timers but the schedule.
 *
 *   twkit-bench-bare-probe TARGETS_FILE INTERVAL_MS DURATION_S
 *
 * TARGETS_FILE: one IPv4 ADDR:PORT per line. Prints one JSON line:
 * probes, ok (connected), failed, cpu_s (user + system), wall_s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void rst_close(int fd)
{
    struct linger l = {1, 0};

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd);
}

int main(int argc, char **argv)
{
    struct sockaddr_in *addr = NULL;
    size_t n = 0, cap = 0;
    char line[128];
    FILE *f;

    if (argc != 4 || !(f = fopen(argv[1], "r"))) {
        fprintf(stderr, "usage: twkit-bench-bare-probe TARGETS_FILE INTERVAL_MS DURATION_S\n");
        return 2;
    }
    while (fgets(line, sizeof(line), f)) {
        char *colon = strrchr(line, ':');
        if (!colon)
            continue;
        *colon = 0;
        if (n == cap && !(addr = realloc(addr, (cap = cap ? cap * 2 : 1024) * sizeof(*addr))))
            return 1;
        memset(&addr[n], 0, sizeof(addr[n]));
        addr[n].sin_family = AF_INET;
        addr[n].sin_port = htons((uint16_t)atoi(colon + 1));
        if (inet_pton(AF_INET, line, &addr[n].sin_addr) == 1)
            n++;
    }
    fclose(f);
    uint64_t interval = strtoull(argv[2], NULL, 10) * 1000, dur = strtoull(argv[3], NULL, 10) * 1000000;
    if (!n || !interval || !dur) {
        fprintf(stderr, "twkit-bench-bare-probe: no targets, interval or duration\n");
        return 2;
    }
    uint64_t *due = malloc(n * sizeof(*due)), t0 = now_us(), end = t0 + dur;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event evs[256];
    unsigned long long probes = 0, ok = 0, failed = 0;
    size_t next = 0; /* targets are due in index order, round after round */

    if (!due || ep < 0)
        return 1;
    for (size_t k = 0; k < n; k++)
        due[k] = t0 + k * interval / n;
    for (;;) {
        uint64_t now = now_us();
        if (now >= end)
            break;
        /* every start that is due, as one batch */
        while (due[next] <= now) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            probes++;
            if (fd >= 0) {
                if (connect(fd, (struct sockaddr *)&addr[next], sizeof(addr[next])) == 0 ||
                    errno == EINPROGRESS) {
                    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
                        failed++;
                        rst_close(fd);
                    }
                } else {
                    failed++;
                    rst_close(fd);
                }
            } else {
                failed++;
            }
            due[next] += interval;
            next = (next + 1) % n;
        }
        /* sleep until the next start is due, rounded up to epoll's
         * millisecond (rounded down, a start 0.9 ms away would be a wait of
         * 0: a busy loop); the starts of that millisecond go as one batch,
         * as the prober's 1 ms timer wheel has them */
        int64_t d = (int64_t)(due[next] - now_us());
        int64_t wait = d <= 0 ? 0 : (d + 999) / 1000;
        int k = epoll_wait(ep, evs, 256, wait > 100 ? 100 : (int)wait);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd, err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err)
                failed++;
            else
                ok++;
            rst_close(fd); /* close removes it from the epoll set */
        }
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"probes\":%llu,\"ok\":%llu,\"failed\":%llu,\"cpu_s\":%.3f,\"wall_s\":%.3f}\n", probes,
           ok, failed,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
           (double)(now_us() - t0) / 1e6);
    return 0;
}
