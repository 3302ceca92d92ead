/* What every client and server thread of a run does alike (internal):
 * enter the lab's namespace, count an error. Apart from run.c, which
 * starts the threads, so that nothing the threads run calls back into it. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/internal.h"
#include "twkit/error.h"
#include "twkit/time.h"

void tb__enter_ns(int fd)
{
    if (fd >= 0)
        (void)setns(fd, CLONE_NEWNET);
}

void tb__count_error(struct cthread *t, int err)
{
    struct run *run = t->run;

    err = tu_errcount_add(t->err, err);
    tb__inc(&t->n.errors);
    if (err == EADDRNOTAVAIL && __atomic_load_n(&run->exhausted_ms, __ATOMIC_RELAXED) < 0) {
        int64_t expect = -1, now = (int64_t)(tw_now_ms() - run->t0_ms);
        uint64_t done = 0;
        for (unsigned i = 0; i < run->nct; i++)
            done += tb__ld(&run->ct[i].n.sessions);
        if (__atomic_compare_exchange_n(&run->exhausted_ms, &expect, now, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            __atomic_store_n(&run->sessions_at_exhaustion, done, __ATOMIC_RELAXED);
    }
}

void *tb__thread_loop(struct cthread *t, size_t slot_size, char *err, size_t errlen)
{
    void *slots;
    int r;

    if ((r = tw_loop_new(&t->loop)) < 0) {
        snprintf(err, errlen, "cannot make a loop: %s", tw_strerror(r));
        return NULL;
    }
    if (!(slots = calloc(t->nslots, slot_size)))
        snprintf(err, errlen, "out of memory");
    return slots;
}
