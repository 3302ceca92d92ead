/* The lab's port exhaustion (stat_churn.h). */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "stat_churn.h"
#include "twkit/error.h"
#include "twkit/time.h"

int sc_listen(struct tw_lab *lab, enum tw_lab_side side, uint16_t port)
{
    tw_addr a = lab->addr4[side];
    int fd;

    tw_addr_set_port(&a, port);
    cr_assert_eq(tw_lab_enter(lab, side), 0);
    fd = tw_sock_listen(&a, &(struct tw_listen_opts){.backlog = 128});
    tw_lab_leave(lab);
    cr_assert_geq(fd, 0, "listen: %s", tw_errname(fd));
    return fd;
}

static void *accept_loop(void *arg)
{
    struct sc_acceptor *a = arg;
    char c;

    while (!a->stop) {
        struct pollfd p = {.fd = a->lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept4(a->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        struct pollfd q = {.fd = fd, .events = POLLIN};
        if (poll(&q, 1, 1000) > 0)
            (void)!read(fd, &c, 1);
        close(fd);
    }
    return NULL;
}

int sc_acceptor_start(struct sc_acceptor *a, int lfd)
{
    a->lfd = lfd;
    a->stop = 0;
    return pthread_create(&a->th, NULL, accept_loop, a);
}

void sc_acceptor_stop(struct sc_acceptor *a)
{
    a->stop = 1;
    pthread_join(a->th, NULL);
    close(a->lfd);
}

static void churn(struct tw_lab *lab, int fd, uint16_t port, double rate1, double step_s,
                  double rate2)
{
    tw_addr dst = lab->addr4[TW_LAB_SERVER];
    uint64_t t0, at;
    double next = 0;

    tw_addr_set_port(&dst, port);
    if (tw_lab_enter(lab, TW_LAB_CLIENT) != 0)
        _exit(2);
    t0 = tw_now_ms();
    (void)!write(fd, &t0, sizeof(t0));
    for (;;) {
        double t = (double)(tw_now_ms() - t0) / 1000.0;
        if (t > 60)
            _exit(3);
        if (t < next) {
            usleep((useconds_t)((next - t) * 1e6));
            continue;
        }
        next += 1.0 / (next < step_s ? rate1 : rate2);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s, &dst.u.sa, dst.len) < 0) {
            int e = errno;
            close(s);
            if (e == EADDRNOTAVAIL) {
                at = tw_now_ms();
                (void)!write(fd, &at, sizeof(at));
                _exit(0);
            }
            continue;
        }
        close(s);
    }
}

pid_t sc_churn_start(struct tw_lab *lab, uint16_t port, double rate1, double step_s,
                     double rate2, int *rfd)
{
    int p[2];
    pid_t pid;

    if (pipe(p) < 0)
        return -errno;
    if ((pid = fork()) == 0) {
        close(p[0]);
        churn(lab, p[1], port, rate1, step_s, rate2);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -errno;
    }
    *rfd = p[0];
    return pid;
}
