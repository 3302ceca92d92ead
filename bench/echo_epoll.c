/* make bench: the floor under the pooled twp echo (bench_twp.c). One
 * thread, plain level-triggered epoll, no library code: per wakeup one
 * read(), the twp frames it completed answered as twkit's server answers
 * them (HELLO with HELLO, DATA echoed, PING with PONG, BYE with GOODBYE),
 * and one write() of all the replies. With one request in flight per
 * connection that is one read plus one write per request: what the kernel
 * asks of any server, and nothing else. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_epoll.h"
#include "twkit/twp.h"

#define IN_CAP 65536  /* one read's scratch, shared, as twkit's server has */
#define OUT_CAP (IN_CAP + 4096)
#define PART_CAP 4096 /* a frame split across reads waits here */

struct econn {
    int fd;
    uint32_t part_len;
    uint8_t part[PART_CAP];
};

static uint8_t in[PART_CAP + IN_CAP], out[OUT_CAP];
static uint32_t out_len;

int tw_bench_echo_start(struct tw_bench_echo *e, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    int one = 1;

    e->stop = 0;
    if ((e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(e->lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* inherited */
    if (bind(e->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(e->lfd, 4096) < 0 ||
        (e->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->lfd, &ev) < 0) {
        int err = -errno;
        close(e->lfd);
        return err;
    }
    return 0;
}

static void conn_close(struct tw_bench_echo *e, struct econn *c)
{
    close(c->fd); /* leaves the epoll set with it */
    free(c);
}

static void on_accept(struct tw_bench_echo *e)
{
    for (;;) {
        int fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct econn *c;
        struct epoll_event ev = {.events = EPOLLIN};

        if (fd < 0)
            return;
        if (!(c = malloc(sizeof(*c)))) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->part_len = 0;
        ev.data.ptr = c;
        if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            conn_close(e, c);
    }
}

static void put(uint8_t type, const void *p, uint32_t len)
{
    out_len += (uint32_t)tw_twp_put(out + out_len, type, p, len);
}

/* One read, every whole frame answered, one write. */
static void on_read(struct tw_bench_echo *e, struct econn *c)
{
    ssize_t n = read(c->fd, in + c->part_len, IN_CAP);
    uint32_t off = 0, len;

    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        conn_close(e, c); /* EOF, or the pool's RST after GOODBYE */
        return;
    }
    memcpy(in, c->part, c->part_len);
    len = c->part_len + (uint32_t)n;
    out_len = 0;
    while (len - off >= TW_TWP_HDR) {
        const uint8_t *h = in + off;
        uint32_t plen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
        if (plen > PART_CAP - TW_TWP_HDR || out_len + TW_TWP_HDR + plen > OUT_CAP) {
            conn_close(e, c); /* not this bench's traffic */
            return;
        }
        if (len - off < TW_TWP_HDR + plen)
            break;
        switch (h[4]) {
        case TW_TWP_HELLO: put(TW_TWP_HELLO, tw_twp_hello, 4); break;
        case TW_TWP_DATA: put(TW_TWP_DATA, h + TW_TWP_HDR, plen); break;
        case TW_TWP_PING: put(TW_TWP_PONG, h + TW_TWP_HDR, plen); break;
        case TW_TWP_BYE: put(TW_TWP_GOODBYE, NULL, 0); break;
        default: break;
        }
        off += TW_TWP_HDR + plen;
    }
    if (len - off > PART_CAP) {
        conn_close(e, c);
        return;
    }
    memcpy(c->part, in + off, len - off);
    c->part_len = len - off;
    if (out_len) {
        /* one request in flight and a few bytes: the socket takes it all
         * (a bench loop: a short write ends the connection) */
        ssize_t w = write(c->fd, out, out_len);
        if (w != (ssize_t)out_len)
            conn_close(e, c);
    }
}

void *tw_bench_echo_main(void *arg)
{
    struct tw_bench_echo *e = arg;
    struct epoll_event evs[64];

    while (!e->stop) {
        int n = epoll_wait(e->epfd, evs, 64, 50);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                on_accept(e);
            else
                on_read(e, evs[i].data.ptr);
        }
    }
    return NULL;
}

void tw_bench_echo_stop(struct tw_bench_echo *e)
{
    close(e->epfd);
    close(e->lfd);
}
