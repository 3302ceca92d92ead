/* What every hazard run shares: its lab, capture, counters, nft rules and
 * blocking TCP helpers. Each run gets a lab of its own, so no run meets
 * another's sockets, rules or sysctls, and tw_lab_destroy takes all of
 * them away (the lab's signal handler does so on SIGINT too). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lab/hz_lib.h"
#include "twkit/error.h"

/* The counters a hazard can move; those absent on this kernel are
 * skipped. Section "TcpExt" unless prefixed "Tcp:". */
static const char *const counter_names[] = {
    "TWKilled", "TWRecycled", "TCPTimeWaitOverflow", "PAWSEstab", "PAWSActive",
    "PAWSOldAck", "TCPChallengeACK", "TCPSYNChallenge", "TCPAbortOnData",
    "TCPAbortOnClose", "TCPAbortOnLinger", "TCPAbortOnTimeout", "TCPACKSkippedTimeWait",
    "TCPACKSkippedSynRecv", "TCPACKSkippedChallenge", "TCPACKSkippedSeq",
    "TCPACKSkippedPAWS", "TCPACKSkippedFinWait2", "TCPDSACKOldSent", "TCPDSACKRecv",
    "TCPTimeouts", "TCPLossProbes", "TCPZeroWindowDrop", "TCPToZeroWindowAdv",
    "TCPWantZeroWindowAdv", "TCPRcvQDrop", "TCPOFOQueue", "TCPSynRetrans",
    "TCPRcvCoalesce", "Tcp:EstabResets", "Tcp:OutRsts", "Tcp:RetransSegs",
    "Tcp:AttemptFails", "Tcp:InErrs",
};
#define NCOUNTERS (sizeof(counter_names) / sizeof(counter_names[0]))
_Static_assert(NCOUNTERS <= HZ_NCOUNTERS, "HZ_NCOUNTERS is too small");

static int counter(struct hz *h, int side, size_t i, uint64_t *v)
{
    const char *n = counter_names[i];

    if (!strncmp(n, "Tcp:", 4))
        return tw_lab_counter(&h->lab, (enum tw_lab_side)side, "Tcp", n + 4, v);
    return tw_lab_counter(&h->lab, (enum tw_lab_side)side, "TcpExt", n, v);
}

static void counters_read(struct hz *h)
{
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < NCOUNTERS; i++)
            h->have[s][i] = counter(h, s, i, &h->before[s][i]) == 0;
}

uint64_t hz_delta(struct hz *h, enum tw_lab_side side, const char *name)
{
    uint64_t now;

    for (size_t i = 0; i < NCOUNTERS; i++) {
        const char *n = counter_names[i];
        if (!strcmp(n, name) || (!strncmp(n, "Tcp:", 4) && !strcmp(n + 4, name)))
            return h->have[side][i] && counter(h, side, i, &now) == 0 ? now - h->before[side][i]
                                                                       : 0;
    }
    return 0;
}

/* "client TWKilled +1, OutRsts +2; server PAWSEstab +1" */
static void counters_say(struct hz *h)
{
    char *out = h->run->counters;
    size_t len = sizeof(h->run->counters), n = 0;

    for (int s = 0; s < 2; s++) {
        bool first = true;
        for (size_t i = 0; i < NCOUNTERS && n < len; i++) {
            uint64_t now;
            const char *name = counter_names[i];
            if (!h->have[s][i] || counter(h, s, i, &now) < 0 || now == h->before[s][i])
                continue;
            if (!strncmp(name, "Tcp:", 4))
                name += 4;
            n += (size_t)snprintf(out + n, len - n, "%s%s %s +%llu", first && n ? "; " : first ? "" : ", ",
                                  first ? (s ? "server" : "client") : "", name,
                                  (unsigned long long)(now - h->before[s][i]));
            first = false;
        }
    }
    if (!n)
        snprintf(out, len, "none");
}

static void vsay(char *buf, size_t len, const char *fmt, va_list ap)
{
    size_t n = strlen(buf);

    if (n < len)
        vsnprintf(buf + n, len - n, fmt, ap);
}

void hz_say(struct hz *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(h->run->text, sizeof(h->run->text), fmt, ap);
    va_end(ap);
}

void hz_brief(struct hz *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->run->brief, sizeof(h->run->brief), fmt, ap);
    va_end(ap);
}

void hz_put(struct hz *h, const char *key, double v)
{
    struct tw_hazard_run *r = h->run;
    if (r->nvals < TW_HZ_NVALS)
        r->vals[r->nvals++] = (typeof(r->vals[0])){key, v};
}

void hz_fail(struct hz *h, const char *fmt, ...)
{
    va_list ap;

    if (h->res->err[0])
        return;
    va_start(ap, fmt);
    vsnprintf(h->res->err, sizeof(h->res->err), fmt, ap);
    va_end(ap);
}

void hz_expect(struct hz *h, bool ok, const char *fmt, ...)
{
    va_list ap;

    if (ok)
        return;
    h->run->as_expected = false;
    hz_say(h, " UNEXPECTED on this kernel: ");
    va_start(ap, fmt);
    vsay(h->run->text, sizeof(h->run->text), fmt, ap);
    va_end(ap);
    hz_say(h, ".");
}

static int set_sysctls(struct hz *h, const struct hz_sysctl *s)
{
    for (; s && s->name; s++)
        for (int side = 0; side < 2; side++) {
            int err;
            if ((s->side == 'c' && side) || (s->side == 's' && !side))
                continue;
            if ((err = tw_lab_sysctl_set(&h->lab, side, s->name, s->value)) < 0) {
                hz_fail(h, "cannot set %s=%s in the lab: %s", s->name, s->value,
                        tw_errname(err));
                return err;
            }
        }
    return 0;
}

int hz_begin(struct hz *h, struct tw_hazard_result *r, int which, const char *name,
             const char *label, const struct hz_sysctl *sysctls,
             const struct tw_hazard_opts *o)
{
    int err;

    memset(h, 0, sizeof(*h));
    h->cap.fd = -1;
    h->res = r;
    h->run = &r->run[which];
    h->which = which;
    h->name = name;
    h->o = o;
    memset(h->run, 0, sizeof(*h->run));
    h->run->label = label;
    h->run->as_expected = true;
    if ((err = tw_lab_create(&h->lab)) < 0) {
        hz_fail(h, "%s", h->lab.err);
        return err;
    }
    if ((err = set_sysctls(h, sysctls)) < 0)
        goto undo;
    if ((err = hz_cap_open(&h->lab, TW_LAB_CLIENT, &h->cap)) < 0) {
        hz_fail(h, "cannot capture on the lab's veth (AF_PACKET): %s", tw_errname(err));
        goto undo;
    }
    counters_read(h);
    h->run->ran = true;
    return 0;
undo:
    tw_lab_destroy(&h->lab);
    return err;
}

static void write_pcap(struct hz *h)
{
    char path[sizeof(h->run->pcap)];
    int err;

    snprintf(path, sizeof(path), "%s/%s-%s.pcap", h->o->pcap_dir, h->name,
             tw_hazard_run_name(h->which));
    if ((err = hz_cap_write_pcap(&h->cap, path)) < 0)
        hz_fail(h, "--pcap %s: %s", path, tw_strerror(err));
    else
        snprintf(h->run->pcap, sizeof(h->run->pcap), "%s", path);
}

void hz_mark(struct hz *h)
{
    if (!h->marked && h->cap.fd >= 0)
        counters_say(h);
    h->marked = true;
}

void hz_end(struct hz *h)
{
    if (h->cap.fd >= 0) {
        hz_cap_drain(&h->cap);
        hz_mark(h);
        if (h->o && h->o->pcap_dir)
            write_pcap(h);
    }
    hz_cap_close(&h->cap);
    tw_lab_destroy(&h->lab);
}

int hz_nft(struct hz *h, enum tw_lab_side side, const char *cmds)
{
    char *argv[] = {"nft", (char *)cmds, NULL};
    int status;
    pid_t pid = tw_lab_spawn(&h->lab, side, argv);

    if (pid < 0)
        return pid;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return -ENOENT;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int hz_count_state(struct hz *h, enum tw_lab_side side, int state)
{
    struct tw_tcp_states st;
    int err = tw_lab_count_settled(&h->lab, side, &st);

    return err < 0 ? err : (int)st.n[state];
}

static int tcp_socket(struct hz *h, enum tw_lab_side side)
{
    int fd, err = tw_lab_enter(&h->lab, side), one = 1;

    if (err < 0)
        return err;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    err = fd < 0 ? -errno : 0;
    tw_lab_leave(&h->lab);
    /* the listener's: a new one binds while old connections linger */
    if (fd >= 0 && side == TW_LAB_SERVER)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    return fd < 0 ? err : fd;
}

int hz_listen(struct hz *h, uint16_t port, int rcvbuf)
{
    tw_addr a = h->lab.addr4[TW_LAB_SERVER];
    int fd = tcp_socket(h, TW_LAB_SERVER);

    if (fd < 0)
        return fd;
    tw_addr_set_port(&a, port);
    /* set before listen: accepted sockets inherit it, and the window they
     * offer follows from it */
    if ((rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0) ||
        bind(fd, &a.u.sa, a.len) < 0 || listen(fd, 16) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

uint64_t hz_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void hz_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int hz_wait_in(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    int n;

    while ((n = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    return n > 0;
}

#ifndef IP_LOCAL_PORT_RANGE
#define IP_LOCAL_PORT_RANGE 51 /* Linux 6.3, linux/in.h */
#endif

/* The source port as connect() picks one when the range is a single
 * port: the path of every client that runs short of ports, where
 * TIME_WAIT and tcp_tw_reuse decide. (An explicit bind() to the port
 * would take another: the kernel lets a bound socket reuse a TIME_WAIT
 * 4-tuple whenever that connection had timestamps, tcp_tw_reuse or not.) */
static int one_port(int fd, uint16_t port)
{
    uint32_t range = (uint32_t)port << 16 | port;
    int one = 1;

    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0 ||
        setsockopt(fd, IPPROTO_IP, IP_LOCAL_PORT_RANGE, &range, sizeof(range)) < 0)
        return -errno;
    return 0;
}

int hz_connect(struct hz *h, uint16_t sport, uint16_t dport, int timeout_ms, uint64_t *ms)
{
    tw_addr src = h->lab.addr4[TW_LAB_CLIENT], dst = h->lab.addr4[TW_LAB_SERVER];
    struct pollfd p = {.events = POLLOUT};
    uint64_t t0 = hz_now_us();
    int fd = tcp_socket(h, TW_LAB_CLIENT), err = 0;
    socklen_t l = sizeof(err);

    if (fd < 0)
        return fd;
    tw_addr_set_port(&dst, dport);
    p.fd = fd;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (sport && (err = one_port(fd, sport)) < 0) {
        hz_fail(h, "IP_LOCAL_PORT_RANGE (Linux 6.3+): %s", tw_errname(err));
    } else if (bind(fd, &src.u.sa, src.len) < 0 ||
               (connect(fd, &dst.u.sa, dst.len) < 0 && errno != EINPROGRESS)) {
        err = -errno;
    } else if (poll(&p, 1, timeout_ms) <= 0) {
        err = -ETIMEDOUT;
    } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
        err = err ? -err : -errno;
    }
    if (ms)
        *ms = (hz_now_us() - t0) / 1000;
    if (err) {
        close(fd);
        return err;
    }
    fcntl(fd, F_SETFL, 0);
    return fd;
}

int hz_accept(int lfd, int timeout_ms)
{
    int fd;

    if (!hz_wait_in(lfd, timeout_ms))
        return -ETIMEDOUT;
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

size_t hz_read(int fd, void *buf, size_t len, int timeout_ms, int *err)
{
    size_t got = 0;

    *err = 0;
    while (got < len && hz_wait_in(fd, timeout_ms)) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n <= 0) {
            *err = n < 0 ? -errno : 0;
            break;
        }
        got += (size_t)n;
    }
    return got;
}

bool hz_next_tcp(struct hz *h, size_t *i, struct hz_tcp *t, const uint8_t **frame)
{
    if (*i == 0)
        hz_cap_drain(&h->cap);
    for (; *i < h->cap.n; (*i)++) {
        struct hz_pkt *p = &h->cap.p[*i];
        if (hz_tcp_parse(p->data, p->caplen, t) == 0) {
            if (frame)
                *frame = p->data;
            (*i)++;
            return true;
        }
    }
    return false;
}

unsigned hz_count_segs(struct hz *h, bool from_client, uint8_t with, uint8_t without)
{
    uint32_t client = h->lab.addr4[TW_LAB_CLIENT].u.in.sin_addr.s_addr;
    struct hz_tcp t;
    size_t i = 0;
    unsigned n = 0;

    while (hz_next_tcp(h, &i, &t, NULL))
        if ((t.saddr == client) == from_client && (t.flags & with) == with &&
            !(t.flags & without))
            n++;
    return n;
}
