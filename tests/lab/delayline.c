/* delayline: a userspace delay line between two network interfaces.
 *
 * Run inside a "router" namespace that has two interfaces and no addresses:
 * every frame that arrives on one (ARP, ND, anything) is sent out of the
 * other after a fixed one-way delay, in order. AF_PACKET sockets, one per
 * interface, promiscuous, PACKET_IGNORE_OUTGOING (and a check of the packet
 * type) so the relay never picks up its own sends. PACKET_VNET_HDR carries a
 * frame's checksum and segmentation offload state across unchanged, so a
 * frame whose checksum the sender left to "hardware", or a GSO super-frame,
 * goes out as it came in.
 *
 * Each direction has a bounded FIFO (frames and bytes); a frame that does not
 * fit is dropped and counted. SIGTERM/SIGINT/SIGHUP: print the counters and
 * exit 0. --max-seconds bounds the lifetime even if nobody stops it.
 *
 *   delayline --a IF --b IF --delay-ms N [--queue FRAMES] [--queue-bytes N]
 *             [--max-seconds N]
 *
 * No netfilter sees these frames: drops and shaping go in the end namespaces
 * (docs/LAB.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll */
#endif
#include <errno.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define MAX_FRAME (65536 + 256) /* a GSO super-frame and its vnet header */
#define BATCH 256              /* frames read per wakeup and direction */

struct frame {
    uint64_t due_ns;
    uint32_t len;
    unsigned char data[];
};

/* One direction: frames read from `from`, sent on `to` when due. */
struct dir {
    const char *name;
    int from, to;
    struct frame **q;
    size_t head, n, bytes;
    unsigned long long in, out, dropped_full, dropped_trunc, send_err;
};

static volatile sig_atomic_t stop;
static size_t qcap = 4096, qbytes = 32u << 20;

static void on_signal(int sig) { stop = sig; }

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int open_if(const char *ifname)
{
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
    struct packet_mreq mr = {.mr_type = PACKET_MR_PROMISC};
    int one = 1, fd;

    /* protocol 0: nothing is queued before bind() picks the interface */
    if ((fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
        perror("delayline: socket(AF_PACKET)");
        return -1;
    }
    if (!(sll.sll_ifindex = (int)if_nametoindex(ifname))) {
        fprintf(stderr, "delayline: %s: no such interface\n", ifname);
        goto fail;
    }
    mr.mr_ifindex = sll.sll_ifindex;
    if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
        bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        fprintf(stderr, "delayline: %s: %s\n", ifname, strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

/* Read what is there (at most BATCH frames) into the direction's queue. */
static void pull(struct dir *d, uint64_t delay_ns, unsigned char *buf)
{
    for (int i = 0; i < BATCH; i++) {
        struct sockaddr_ll from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(d->from, buf, MAX_FRAME, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        struct frame *f;

        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                perror("delayline: recv");
            return;
        }
        if (from.sll_pkttype == PACKET_OUTGOING) /* our own send: never relayed */
            continue;
        d->in++;
        if ((size_t)n > MAX_FRAME) {
            d->dropped_trunc++;
            continue;
        }
        if (d->n == qcap || d->bytes + (size_t)n > qbytes ||
            !(f = malloc(sizeof(*f) + (size_t)n))) {
            d->dropped_full++;
            continue;
        }
        f->due_ns = now_ns() + delay_ns;
        f->len = (uint32_t)n;
        memcpy(f->data, buf, (size_t)n);
        d->q[(d->head + d->n++) % qcap] = f;
        d->bytes += (size_t)n;
    }
}

/* Send every frame that is due; return ns until the next one, or -1. */
static int64_t push(struct dir *d, uint64_t now)
{
    while (d->n) {
        struct frame *f = d->q[d->head];

        if (f->due_ns > now)
            return (int64_t)(f->due_ns - now);
        if (send(d->to, f->data, f->len, MSG_DONTWAIT) < 0)
            d->send_err++;
        else
            d->out++;
        d->head = (d->head + 1) % qcap;
        d->n--;
        d->bytes -= f->len;
        free(f);
    }
    return -1;
}

static void report(const struct dir *d)
{
    fprintf(stderr,
            "delayline: %s: %llu frames in, %llu out, %llu dropped (queue full), "
            "%llu truncated, %llu send errors, %zu queued\n",
            d->name, d->in, d->out, d->dropped_full, d->dropped_trunc, d->send_err, d->n);
}

static unsigned long num(const char *opt, const char *s, unsigned long max)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max) {
        fprintf(stderr, "delayline: %s %s: not a number up to %lu\n", opt, s, max);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"a", required_argument, NULL, 'a'},
        {"b", required_argument, NULL, 'b'},
        {"delay-ms", required_argument, NULL, 'd'},
        {"queue", required_argument, NULL, 'q'},
        {"queue-bytes", required_argument, NULL, 'Q'},
        {"max-seconds", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    static const char usage[] =
        "usage: delayline --a IF --b IF --delay-ms N [--queue FRAMES] [--queue-bytes N]\n"
        "                 [--max-seconds N (default 600)]\n";
    const char *ifa = NULL, *ifb = NULL;
    unsigned long delay_ms = 0, max_s = 600;
    struct dir d[2] = {{.name = "a->b"}, {.name = "b->a"}};
    struct sigaction sa = {.sa_handler = on_signal};
    sigset_t block, orig;
    unsigned char *buf;
    uint64_t delay_ns, end_ns;
    int ch, fa, fb;

    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': ifa = optarg; break;
        case 'b': ifb = optarg; break;
        case 'd': delay_ms = num("--delay-ms", optarg, 10000); break;
        case 'q': qcap = num("--queue", optarg, 1u << 20); break;
        case 'Q': qbytes = num("--queue-bytes", optarg, 1ul << 30); break;
        case 't': max_s = num("--max-seconds", optarg, 86400); break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!ifa || !ifb || optind < argc || qcap == 0) {
        fputs(usage, stderr);
        return 2;
    }

    /* Signals are taken only inside ppoll(): no race between the check and
     * the wait. */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &orig);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    if ((fa = open_if(ifa)) < 0 || (fb = open_if(ifb)) < 0)
        return 1;
    d[0].from = d[1].to = fa;
    d[0].to = d[1].from = fb;
    buf = malloc(MAX_FRAME);
    d[0].q = calloc(qcap, sizeof(*d[0].q));
    d[1].q = calloc(qcap, sizeof(*d[1].q));
    if (!buf || !d[0].q || !d[1].q) {
        fputs("delayline: out of memory\n", stderr);
        return 1;
    }
    delay_ns = (uint64_t)delay_ms * 1000000u;
    end_ns = now_ns() + (uint64_t)max_s * 1000000000u;
    fprintf(stderr, "delayline: %s <-> %s, %lu ms each way, queue %zu frames / %zu bytes\n",
            ifa, ifb, delay_ms, qcap, qbytes);

    while (!stop) {
        struct pollfd pfd[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
        uint64_t now = now_ns();
        int64_t wait = (int64_t)(end_ns - now), w;
        struct timespec ts;

        if (now >= end_ns) {
            fputs("delayline: --max-seconds reached\n", stderr);
            break;
        }
        for (int i = 0; i < 2; i++)
            if ((w = push(&d[i], now)) >= 0 && w < wait)
                wait = w;
        ts.tv_sec = wait / 1000000000;
        ts.tv_nsec = wait % 1000000000;
        if (ppoll(pfd, 2, &ts, &orig) < 0) {
            if (errno == EINTR)
                continue;
            perror("delayline: ppoll");
            return 1;
        }
        for (int i = 0; i < 2; i++) {
            if (pfd[i].revents & (POLLERR | POLLNVAL)) {
                fprintf(stderr, "delayline: %s: interface gone\n", i ? ifb : ifa);
                stop = 1;
            } else if (pfd[i].revents & POLLIN) {
                pull(&d[i], delay_ns, buf);
            }
        }
    }
    report(&d[0]);
    report(&d[1]);
    for (int i = 0; i < 2; i++) {
        for (; d[i].n; d[i].n--, d[i].head = (d[i].head + 1) % qcap)
            free(d[i].q[d[i].head]);
        free(d[i].q);
    }
    free(buf);
    close(fa);
    close(fb);
    return 0;
}
