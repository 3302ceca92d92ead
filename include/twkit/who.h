/* Who makes TIME_WAIT: record the kernel tracepoint sock:inet_sock_set_state
 * for a while and attribute every active close (ESTABLISHED -> FIN_WAIT1,
 * the first FIN, whose sender will hold the TIME_WAIT) to the process that
 * made it and the destination it closed towards (`twkit stat --who`).
 *
 * One perf_event_open per CPU, filtered in the kernel to that one
 * transition, read from mmap'd ring buffers. The tracepoint is global: it
 * sees every network namespace. Needs root (or CAP_PERFMON and a readable
 * tracefs); tracefs is mounted for the recording if it is not, and
 * unmounted after.
 */
#ifndef TWKIT_WHO_H
#define TWKIT_WHO_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "twkit/sock.h"

struct tw_who_row {
    int pid;                /* process (thread group) id */
    char comm[16];          /* its name when first seen ("?" if it had gone) */
    tw_addr dst;            /* remote address:port of the closed connection */
    uint64_t active_closes;
};

struct tw_who {
    struct tw_who_row *rows; /* sorted: most active closes first */
    size_t nrows, cap;
    uint64_t events;         /* active closes recorded */
    uint64_t lost;           /* events the ring buffers dropped */
    uint64_t ms;             /* how long it recorded */
    int ncpus;               /* CPUs recorded */
};

/* Record for ms milliseconds (or until *stop becomes non-zero; stop may be
 * NULL). tracefs: a tracefs directory to use as it is, or NULL to look in
 * /sys/kernel/tracing and /sys/kernel/debug/tracing and mount tracefs when
 * neither has it. Returns 0, or -errno with err saying what is missing. */
int tw_who_record(struct tw_who *w, uint64_t ms, const char *tracefs,
                  volatile sig_atomic_t *stop, char *err, size_t errlen);
void tw_who_free(struct tw_who *w);

#endif
