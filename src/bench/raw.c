/* The raw baselines (internal.h): client and server on plain epoll, no
 * library code, to measure what the library costs. raw: connect, accept,
 * RST. raw-request: one request echoed before the RST. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/internal.h"
#include "twkit/time.h"

/* What a raw client has open, by descriptor: when its connect started (0:
 * nothing open), and for raw-request how far the request and reply are. */
struct rawconn { uint64_t at; uint32_t sent, got; bool connected; };
struct fdset { struct rawconn *c; int cap; };

static struct rawconn *fdset_put(struct fdset *f, int fd, uint64_t at)
{
    if (fd >= f->cap) {
        int cap = fd + 1024;
        struct rawconn *c = realloc(f->c, (size_t)cap * sizeof(*c));
        if (!c)
            return NULL;
        memset(c + f->cap, 0, (size_t)(cap - f->cap) * sizeof(*c));
        f->c = c;
        f->cap = cap;
    }
    f->c[fd] = (struct rawconn){.at = at};
    return &f->c[fd];
}

/* Close (RST) whatever is still open, at the end of a run. */
static void fdset_abort_all(struct fdset *f)
{
    struct linger l = {1, 0};
    for (int fd = 0; fd < f->cap; fd++)
        if (f->c[fd].at) {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            close(fd);
        }
    free(f->c);
}

static int raw_connect(struct run *run, int ep, struct fdset *open)
{
    int fd = socket(run->dst.u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct epoll_event ev = {.events = EPOLLOUT};

    if (fd < 0)
        return -errno;
    if (run->copts.port_hi)
        tw_sock_set_port_range(fd, run->copts.port_lo, run->copts.port_hi);
    if (connect(fd, &run->dst.u.sa, run->dst.len) < 0 && errno != EINPROGRESS) {
        int r = -errno;
        close(fd);
        return r;
    }
    if (!fdset_put(open, fd, tw_now_ns())) {
        close(fd);
        return -ENOMEM;
    }
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* One event of a raw client's connection. 0: keep it open; > 0: it is
 * done; < 0: -errno, it failed. raw ends at the connect; raw-request then
 * writes the payload and ends when as many bytes have come back. */
static int raw_step(struct cthread *t, int ep, int fd, struct rawconn *rc, unsigned events)
{
    uint32_t size = t->run->o->request_size;
    char buf[4096];
    ssize_t n;

    if (events & EPOLLOUT) {
        if (!rc->connected) {
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr)
                return -soerr;
            tu_hist_add(&t->connect_us, (tw_now_ns() - rc->at) / 1000);
            if (!t->run->how->server.echo)
                return 1; /* raw: the connect is the session */
            rc->connected = true;
        }
        if ((n = write(fd, t->run->payload + rc->sent, size - rc->sent)) < 0)
            return errno == EAGAIN ? 0 : -errno;
        if ((rc->sent += (uint32_t)n) == size) {
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
        return 0;
    }
    if ((n = read(fd, buf, sizeof(buf))) < 0)
        return errno == EAGAIN ? 0 : -errno;
    if (n == 0)
        return -ECONNRESET; /* the raw server never closes first */
    if ((rc->got += (uint32_t)n) < size)
        return 0;
    tu_hist_add(&t->request_us, (tw_now_ns() - rc->at) / 1000);
    return 1;
}

static void *raw_client_main(void *arg)
{
    struct cthread *t = arg;
    struct run *run = t->run;
    struct epoll_event evs[256];
    struct fdset open = {0};
    struct linger l = {1, 0};
    int ep = epoll_create1(EPOLL_CLOEXEC), want = (int)t->nslots, n_open = 0;

    tb__enter_ns(run->client_ns);
    pthread_barrier_wait(&run->ready);
    while (!run->stop) {
        for (int r; n_open < want; n_open++)
            if ((r = raw_connect(run, ep, &open)) < 0) {
                tb__count_error(t, -r);
                usleep(RETRY_MS * 1000);
                break;
            }
        int n = epoll_wait(ep, evs, 256, STOP_POLL_MS);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            struct rawconn *rc = &open.c[fd]; /* raw_connect put it there */
            int r = raw_step(t, ep, fd, rc, evs[i].events);

            if (r == 0)
                continue;
            if (r > 0) {
                tb__inc(&t->n.sessions);
                tb__inc(&t->n.requests);
            } else {
                tb__count_error(t, -r);
            }
            tb__inc(&t->n.conns);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            close(fd); /* RST; also leaves the epoll set */
            rc->at = 0;
            n_open--;
        }
    }
    close(ep);
    fdset_abort_all(&open);
    getrusage(RUSAGE_THREAD, &t->ru);
    return NULL;
}

/* Accepts; raw-request: echoes what it reads (a request of at most
 * TB_RAW_ECHO_MAX bytes: one read, one write); closes on the client's RST. */
void *tb__raw_server_main(void *arg)
{
    struct raw_server *s = arg;
    struct run *run = s->run;
    struct epoll_event ev = {.events = EPOLLIN}, evs[256];
    struct fdset open = {0};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    bool echo = run->how->server.echo;
    char buf[TB_RAW_ECHO_MAX];

    ev.data.fd = s->lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, s->lfd, &ev);
    pthread_barrier_wait(&run->ready);
    while (!run->stop) {
        int n = epoll_wait(ep, evs, 256, STOP_POLL_MS);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            ssize_t got;
            if (fd == s->lfd) {
                int c;
                while ((c = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    fdset_put(&open, c, 1);
                }
            } else if ((got = read(fd, buf, sizeof(buf))) > 0) {
                if (echo && write(fd, buf, (size_t)got) < 0)
                    continue; /* the RST that follows closes it */
            } else if (got == 0 || errno != EAGAIN) {
                close(fd); /* the client's RST (or FIN) */
                if (fd < open.cap)
                    open.c[fd].at = 0;
            }
        }
    }
    close(ep);
    fdset_abort_all(&open);
    getrusage(RUSAGE_THREAD, &s->ru);
    return NULL;
}

/* A raw client has no loop: its thread is its own epoll loop. */
static int prepare(struct cthread *t, char *err, size_t errlen) { return 0; }

const struct tb__client tb__client_raw = {.prepare = prepare, .main = raw_client_main};

