/* A group of servers, a loop and a thread each (tw_server_group in
 * twkit/server.h): twkit serve --threads and twkit bench use it. The
 * threads inherit the caller's signal mask; tw_server_group_run runs the
 * first server on the caller's own thread. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "twkit/server.h"
#include "twkit/loop.h"

struct member {
    tw_server_group *g;
    pthread_t tid;
    bool started;
    tw_loop *loop;
    tw_server *srv;
    tw_io stop_io;      /* an eventfd: a write asks for the shutdown */
    struct rusage ru;
};

struct tw_server_group {
    unsigned n;
    int stopping;       /* shutdown was asked (atomic: a signal handler may ask) */
    void (*on_start)(void *arg);
    void *arg;
    struct member m[TW_SERVER_GROUP_MAX];
};

/* On the member's own thread, as tw_server_shutdown must be. */
static void on_stop(tw_io *io, unsigned ev)
{
    struct member *m = io->data;
    uint64_t v;

    if (read(io->fd, &v, sizeof(v)) < 0)
        return;
    tw_io_close(io);
    tw_server_shutdown(m->srv);
}

static void *member_main(void *arg)
{
    struct member *m = arg;

    if (m->g->on_start)
        m->g->on_start(m->g->arg);
    tw_loop_run(m->loop);
    getrusage(RUSAGE_THREAD, &m->ru);
    return NULL;
}

int tw_server_group_new(const struct tw_server_group_opts *o, tw_server_group **out)
{
    struct tw_server_opts so = o->server;
    tw_server_group *g;
    int r = 0;

    *out = NULL;
    if (!o->threads || o->threads > TW_SERVER_GROUP_MAX)
        return -EINVAL;
    if (!(g = calloc(1, sizeof(*g))))
        return -ENOMEM;
    g->on_start = o->on_start;
    g->arg = o->arg;
    so.reuseport = so.reuseport || o->threads > 1;
    for (g->n = 0; g->n < o->threads; g->n++) {
        struct member *m = &g->m[g->n];
        int fd;
        m->g = g;
        m->stop_io.fd = -1;
        if ((r = tw_loop_new(&m->loop)) < 0)
            break;
        if ((r = tw_server_start(m->loop, &so, &m->srv)) < 0)
            break;
        if ((fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
            r = -errno;
            break;
        }
        tw_io_init(&m->stop_io, fd, on_stop, m);
        tw_io_start(m->loop, &m->stop_io, TW_IO_READ);
    }
    if (r < 0) {
        g->n++; /* the member that failed holds what it made */
        tw_server_group_free(g);
        return r;
    }
    *out = g;
    return 0;
}

int tw_server_group_start(tw_server_group *g)
{
    int r = 0;

    for (unsigned i = 0; i < g->n; i++) {
        int e = pthread_create(&g->m[i].tid, NULL, member_main, &g->m[i]);
        if (e)
            r = -e;
        g->m[i].started = e == 0;
    }
    return r;
}

/* Async-signal-safe: an atomic exchange and write()s, errno kept. Only
 * the first call writes: on_stop closes each eventfd once it is read. */
int tw_server_group_shutdown(tw_server_group *g)
{
    int r = 0, saved = errno;

    if (__atomic_exchange_n(&g->stopping, 1, __ATOMIC_ACQ_REL))
        return 0;
    for (unsigned i = 0; i < g->n; i++) {
        uint64_t one = 1;
        /* an eventfd write fails only on counter overflow */
        if (g->m[i].started && write(g->m[i].stop_io.fd, &one, sizeof(one)) < 0)
            r = -errno;
    }
    errno = saved;
    return r;
}

int tw_server_group_run(tw_server_group *g)
{
    int r = 0;

    for (unsigned i = 1; i < g->n; i++) {
        int e = pthread_create(&g->m[i].tid, NULL, member_main, &g->m[i]);
        if (e)
            r = -e;
        g->m[i].started = e == 0;
    }
    g->m[0].started = true; /* before on_start: shutdown may come from then on */
    member_main(&g->m[0]);
    g->m[0].started = false;
    for (unsigned i = 1; i < g->n; i++)
        if (g->m[i].started) {
            pthread_join(g->m[i].tid, NULL);
            g->m[i].started = false;
        }
    return r;
}

void tw_server_group_join(tw_server_group *g)
{
    for (unsigned i = 0; i < g->n; i++)
        if (g->m[i].started) {
            pthread_join(g->m[i].tid, NULL);
            g->m[i].started = false;
        }
}

static double secs(const struct timeval *tv) { return (double)tv->tv_sec + (double)tv->tv_usec / 1e6; }

void tw_server_group_cpu(const tw_server_group *g, double *user, double *sys)
{
    *user = *sys = 0;
    for (unsigned i = 0; i < g->n; i++) {
        *user += secs(&g->m[i].ru.ru_utime);
        *sys += secs(&g->m[i].ru.ru_stime);
    }
}

unsigned tw_server_group_size(const tw_server_group *g) { return g->n; }

tw_server *tw_server_group_server(const tw_server_group *g, unsigned i)
{
    return i < g->n ? g->m[i].srv : NULL;
}

void tw_server_group_free(tw_server_group *g)
{
    if (!g)
        return;
    for (unsigned i = 0; i < g->n; i++) {
        struct member *m = &g->m[i];
        if (m->srv)
            tw_server_free(m->srv);
        /* on_stop closed it (tw_io_close) when the stop came: by then its
         * number may be another socket's */
        if (m->stop_io.fd >= 0)
            close(m->stop_io.fd);
        if (m->loop)
            tw_loop_free(m->loop);
    }
    free(g);
}
