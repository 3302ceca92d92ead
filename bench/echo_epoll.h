/* make bench: a minimal epoll twp echo loop, the baseline of the pooled
 * twp echo (echo_epoll.c). */
#ifndef TWKIT_BENCH_ECHO_EPOLL_H
#define TWKIT_BENCH_ECHO_EPOLL_H

#include <stdint.h>

struct tw_bench_echo {
    int lfd, epfd;
    volatile int stop; /* tw_bench_echo_main returns within 50 ms of it */
};

/* Listen on 127.0.0.1:port. Returns 0 or a negative errno. */
int tw_bench_echo_start(struct tw_bench_echo *e, uint16_t port);
/* The loop, for pthread_create: until e->stop. */
void *tw_bench_echo_main(void *arg);
/* Close the listener and the epoll set (after the loop returned). */
void tw_bench_echo_stop(struct tw_bench_echo *e);

#endif
