/* make bench: micro-benchmarks of the event loop.
 *   timers:    1,000,000 timers started, then stopped (ns per operation)
 *   ping-pong: one byte back and forth over a socketpair, both ends on one
 *              loop (round trips per second) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "twkit/loop.h"
#include "twkit/time.h"

#define NTIMERS 1000000
#define PINGPONG_MS 2000

static void never(tw_timer *t) { abort(); }

static void bench_timers(tw_loop *loop)
{
    tw_timer *t = calloc(NTIMERS, sizeof(*t));
    uint64_t t0, t1, t2;

    if (!t) {
        perror("calloc");
        exit(1);
    }
    for (size_t i = 0; i < NTIMERS; i++)
        tw_timer_init(&t[i], never, NULL);
    t0 = tw_now_ns();
    /* delays spread over every wheel level: 1 ms .. ~17 min */
    for (size_t i = 0; i < NTIMERS; i++)
        tw_timer_start(loop, &t[i], 1 + (i * 2654435761u) % 1000000);
    t1 = tw_now_ns();
    for (size_t i = 0; i < NTIMERS; i++)
        tw_timer_stop(&t[i]);
    t2 = tw_now_ns();
    printf("timers      %d started   %6.1f ns/op\n", NTIMERS, (double)(t1 - t0) / NTIMERS);
    printf("timers      %d stopped   %6.1f ns/op\n", NTIMERS, (double)(t2 - t1) / NTIMERS);
    free(t);
}

struct end {
    tw_io io;
    uint64_t *rounds;
    bool ping;
    uint64_t deadline;
};

static void on_readable(tw_io *io, unsigned ev)
{
    struct end *e = io->data;
    char c;

    if (read(io->fd, &c, 1) != 1)
        return;
    if (e->ping) {
        ++*e->rounds;
        if (tw_loop_now(io->loop) >= e->deadline) {
            tw_loop_stop(io->loop);
            return;
        }
    }
    if (write(io->fd, &c, 1) != 1)
        tw_loop_stop(io->loop);
}

static void bench_pingpong(tw_loop *loop)
{
    int sv[2];
    uint64_t rounds = 0, t0, t1;
    struct end a = {.rounds = &rounds, .ping = true}, b = {.rounds = &rounds};

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        exit(1);
    }
    tw_io_init(&a.io, sv[0], on_readable, &a);
    tw_io_init(&b.io, sv[1], on_readable, &b);
    tw_io_start(loop, &a.io, TW_IO_READ);
    tw_io_start(loop, &b.io, TW_IO_READ);
    tw_loop_update_time(loop);
    a.deadline = tw_loop_now(loop) + PINGPONG_MS;
    t0 = tw_now_ns();
    if (write(sv[0], "x", 1) != 1)
        exit(1);
    tw_loop_run(loop);
    t1 = tw_now_ns();
    printf("ping-pong   socketpair, one loop  %9.0f round trips/s\n",
           (double)rounds * 1e9 / (double)(t1 - t0));
    tw_io_close(&a.io);
    tw_io_close(&b.io);
}

int main(void)
{
    tw_loop *loop;

    if (tw_loop_new(&loop) < 0) {
        fprintf(stderr, "cannot create a loop\n");
        return 1;
    }
    printf("twkit loop benchmarks\n");
    bench_timers(loop);
    bench_pingpong(loop);
    tw_loop_free(loop);
    return 0;
}
