/* Connection churn across the lab's veth: the experiment behind the lab
 * tests and `twkit facts`.
 *
 * One thread plays both ends, sequentially: the listeners are made inside
 * the server namespace, then the thread moves to the client namespace and
 * connects; accepted sockets belong to the server namespace whatever the
 * thread's namespace is. Every wait is bounded (IO_WAIT_MS), so a missing
 * packet shows up as a counted error, never as a hang.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"
#include "twkit/time.h"

#define IO_WAIT_MS 2000
#define MAX_DEST 64
#define DEFAULT_PORT 5001

static int wait_fd(int fd, short ev)
{
    struct pollfd p = {.fd = fd, .events = ev};
    int r = poll(&p, 1, IO_WAIT_MS);

    return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

/* Read one byte (1), EOF (0) or -errno, waiting at most IO_WAIT_MS. */
static int read_byte(int fd)
{
    char c;
    ssize_t n;
    int r;

    while ((n = read(fd, &c, 1)) < 0 && errno == EAGAIN)
        if ((r = wait_fd(fd, POLLIN)) < 0)
            return r;
    return n < 0 ? -errno : (int)n;
}

static int connect_wait(const tw_addr *dst, int *fd)
{
    int r = tw_sock_connect(dst, NULL, fd);

    if (r == -EINPROGRESS) {
        if ((r = wait_fd(*fd, POLLOUT)) == 0)
            r = tw_sock_connect_result(*fd);
        if (r < 0)
            tw_sock_abort(*fd);
    }
    return r;
}

static int accept_wait(int lfd)
{
    int fd;

    while ((fd = tw_sock_accept(lfd, NULL)) == -EAGAIN)
        if ((fd = wait_fd(lfd, POLLIN)) < 0)
            return fd;
    return fd;
}

/* One request byte, one reply byte, then the close under test. Returns 0
 * or -errno; both sockets are closed in every case. */
static int one_session(struct tw_lab_churn *c, int cfd, int sfd)
{
    int r;

    if (write(cfd, "q", 1) != 1 || read_byte(sfd) != 1 || write(sfd, "r", 1) != 1 ||
        read_byte(cfd) != 1) {
        r = -EIO;
        goto abort_both;
    }
    switch (c->how) {
    case TW_LAB_CLIENT_FIRST:
        close(cfd); /* nothing unread: a FIN, and the client holds TIME_WAIT */
        cfd = -1;
        if ((r = read_byte(sfd)) != 0)
            goto abort_both;
        if (tw_sock_close_passive(sfd) < 0) {
            c->passive_refused++;
            goto abort_both;
        }
        return 0;
    case TW_LAB_SERVER_FIRST:
        close(sfd);
        sfd = -1;
        if ((r = read_byte(cfd)) != 0)
            goto abort_both;
        if (tw_sock_close_passive(cfd) < 0) {
            c->passive_refused++;
            goto abort_both;
        }
        return 0;
    case TW_LAB_CLIENT_ABORT:
        tw_sock_abort(cfd);
        cfd = -1;
        r = read_byte(sfd);
        if (r == -ECONNRESET)
            c->peer_resets++;
        close(sfd);
        return 0;
    }
    r = -EINVAL;
abort_both:
    if (r >= 0)
        r = -EPROTO;
    if (cfd >= 0)
        tw_sock_abort(cfd);
    if (sfd >= 0)
        tw_sock_abort(sfd);
    return r;
}

static int make_listeners(const tw_addr *dst, unsigned n, int *fds)
{
    for (unsigned i = 0; i < n; i++)
        if ((fds[i] = tw_sock_listen(&dst[i], NULL)) < 0)
            return fds[i];
    return 0;
}

static void record_error(struct tw_lab_churn *c, int err, uint64_t elapsed)
{
    if (err == -EADDRNOTAVAIL)
        c->eaddrnotavail++;
    else
        c->other_errors++;
    if (!c->first_err) {
        c->first_err = err;
        c->ok_before_err = c->ok;
        c->ms_before_err = elapsed;
    }
}

int tw_lab_churn(struct tw_lab *lab, struct tw_lab_churn *c)
{
    int lfd[MAX_DEST];
    unsigned ndest;
    tw_addr dst[MAX_DEST];
    uint64_t start, attempts = 0;
    int err;

    if (!lab || !c || (!c->max_conns && !c->max_ms) || c->ndest > MAX_DEST)
        return -EINVAL;
    ndest = c->ndest ? c->ndest : 1;
    if ((c->port ? c->port : DEFAULT_PORT) + ndest - 1 > 65535)
        return -EINVAL;
    c->ok = c->eaddrnotavail = c->other_errors = c->ok_before_err = 0;
    c->ms_before_err = c->peer_resets = c->passive_refused = c->elapsed_ms = 0;
    c->first_err = 0;
    for (unsigned i = 0; i < ndest; i++) {
        lfd[i] = -1;
        dst[i] = c->ipv6 ? lab->addr6[TW_LAB_SERVER] : lab->addr4[TW_LAB_SERVER];
        tw_addr_set_port(&dst[i], (uint16_t)((c->port ? c->port : DEFAULT_PORT) + i));
    }
    if ((err = tw_lab_enter(lab, TW_LAB_SERVER)) < 0)
        return err;
    err = make_listeners(dst, ndest, lfd);
    tw_lab_leave(lab);
    if (err < 0 || (err = tw_lab_enter(lab, TW_LAB_CLIENT)) < 0)
        goto out;

    start = tw_now_ms();
    for (;;) {
        uint64_t elapsed = tw_now_ms() - start;
        unsigned d = (unsigned)(attempts % ndest);
        int cfd, sfd, r;

        if ((c->max_conns && attempts >= c->max_conns) || (c->max_ms && elapsed >= c->max_ms))
            break;
        attempts++;
        if ((r = connect_wait(&dst[d], &cfd)) == 0) {
            if ((sfd = accept_wait(lfd[d])) < 0) {
                tw_sock_abort(cfd);
                r = sfd;
            } else {
                r = one_session(c, cfd, sfd);
            }
        }
        if (r == 0) {
            c->ok++;
            continue;
        }
        record_error(c, r, elapsed);
        if (c->stop_on_error)
            break;
    }
    c->elapsed_ms = tw_now_ms() - start;
    tw_lab_leave(lab);
out:
    for (unsigned i = 0; i < ndest; i++)
        if (lfd[i] >= 0)
            close(lfd[i]);
    return err;
}
