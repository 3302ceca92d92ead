/* A client that closes first at a set rate until connect() fails with
 * EADDRNOTAVAIL, and the server it closes towards: the lab's port
 * exhaustion, for the forecast (test_stat.c) and the exporter's alert
 * (test_stat_export.c). */
#ifndef TW_TEST_STAT_CHURN_H
#define TW_TEST_STAT_CHURN_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "lab/lab.h"

/* A listener on side's lab address:port (asserts on failure). */
int sc_listen(struct tw_lab *lab, enum tw_lab_side side, uint16_t port);

/* Accepts on lfd, waits for each client's FIN, then closes: the client
 * keeps the TIME_WAIT. */
struct sc_acceptor {
    int lfd;
    volatile int stop;
    pthread_t th;
};
int sc_acceptor_start(struct sc_acceptor *a, int lfd);
void sc_acceptor_stop(struct sc_acceptor *a); /* and closes lfd */

/* A child in lab's client namespace connecting to the server side's
 * address:port and closing first, at rate1 a second for step_s, then at
 * rate2, until connect() fails with EADDRNOTAVAIL (or 60 s pass). It
 * writes its start and then the first EADDRNOTAVAIL (tw_now_ms, uint64_t)
 * to the pipe whose read end is *rfd. Returns the child's pid. */
pid_t sc_churn_start(struct tw_lab *lab, uint16_t port, double rate1, double step_s,
                     double rate2, int *rfd);

#endif
