/* Nonblocking connect on the loop, with one path for every outcome. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "twkit/sock.h"
#include "twkit/time.h"

static void connect_done(tw_connect *req, int result)
{
    int fd = req->io.fd;

    tw_timer_stop(&req->timer);
    tw_defer_cancel(&req->defer);
    if (result < 0) {
        tw_io_forget(&req->io);
        if (fd >= 0)
            tw_sock_abort(fd);
    } else {
        tw_io_hand_over(&req->io); /* the caller's watcher starts next */
    }
    req->io.fd = -1;
    req->connect_ns = tw_now_ns() - req->started_ns;
    req->cb(req, result < 0 ? result : fd);
}

static void on_writable(tw_io *io, unsigned events)
{
    tw_connect *req = io->data;

    /* Writable without an error: connected, no need to ask SO_ERROR. */
    connect_done(req, events & TW_IO_ERROR ? tw_sock_connect_result(io->fd) : 0);
}

static void on_timeout(tw_timer *t)
{
    connect_done(t->data, -ETIMEDOUT);
}

/* Failures connect() reported at once, and the rare immediate success,
 * arrive here one loop iteration later, so the caller has one path. */
static void on_deferred(tw_defer *d)
{
    tw_connect *req = d->data;
    connect_done(req, req->err);
}

int tw_connect_start(tw_loop *loop, tw_connect *req, const tw_addr *dst,
                     const struct tw_connect_opts *opts, uint64_t timeout_ms,
                     tw_connect_cb cb, void *data)
{
    int fd = -1, r;

    if (!loop || !req || !dst || !cb)
        return -EINVAL;
    memset(req, 0, sizeof(*req));
    req->cb = cb;
    req->data = data;
    req->started_ns = tw_now_ns();
    tw_timer_init(&req->timer, on_timeout, req);
    tw_defer_init(&req->defer, on_deferred, req);
    r = tw_sock_connect(dst, opts, &fd);
    if (r == -EINVAL)
        return r;
    tw_io_init(&req->io, r == 0 || r == -EINPROGRESS ? fd : -1, on_writable, req);
    if (r == -EINPROGRESS && (r = tw_io_start(loop, &req->io, TW_IO_WRITE)) == 0) {
        if (timeout_ms)
            tw_timer_start(loop, &req->timer, timeout_ms);
        return 0;
    }
    req->err = r; /* 0: connected already; < 0: failed at once */
    tw_defer_post(loop, &req->defer);
    return 0;
}

void tw_connect_cancel(tw_connect *req)
{
    if (!req)
        return;
    tw_timer_stop(&req->timer);
    tw_defer_cancel(&req->defer);
    if (req->io.fd >= 0) {
        tw_io_forget(&req->io);
        tw_sock_abort(req->io.fd);
        req->io.fd = -1;
    }
}
