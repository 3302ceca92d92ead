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

#define TW_WHO_CGROUP_LEN 128

struct tw_who_row {
    int pid;                /* process (thread group) id */
    char comm[16];          /* its name when first seen ("?" if it had gone) */
    char cgroup[TW_WHO_CGROUP_LEN]; /* its cgroup v2 path ("0::/path" of
                               /proc/PID/cgroup), "?" if it had gone, "-"
                               if it has no v2 entry */
    tw_addr dst;            /* remote address:port of the closed connection */
    uint64_t active_closes;
};

/* A process's totals over its rows. */
struct tw_who_pid {
    int pid;
    char comm[16];
    char cgroup[TW_WHO_CGROUP_LEN];
    uint64_t active_closes;
    uint32_t destinations;  /* rows of this pid */
};

struct tw_who {
    struct tw_who_row *rows; /* sorted: most active closes first */
    size_t nrows, cap;
    struct tw_who_pid *procs; /* per process, most active closes first */
    size_t nprocs;
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

/* ---- live: the tracepoint open for a long life (an exporter) ---- */

#define TW_WHO_LIVE_MAX 1024

struct tw_who_live; /* opaque */

struct tw_who_proc {
    char comm[16];
    char cgroup[TW_WHO_CGROUP_LEN];
    uint64_t active_closes;
};

/* Open and enable the tracepoint on every CPU (tracefs as for
 * tw_who_record). 0 with *out set, or -errno with err saying why. */
int tw_who_live_start(struct tw_who_live **out, const char *tracefs, char *err, size_t errlen);
/* Read the rings now, without waiting: 0 or -errno. Call it often enough
 * that the rings do not overflow (every 250 ms is ample: each CPU's ring
 * holds about 5,000 closes); what they drop is counted in lost. */
int tw_who_live_drain(struct tw_who_live *l);
/* Active closes since start, by (comm, cgroup), in the order first seen:
 * at most TW_WHO_LIVE_MAX rows, the last of them comm "other" cgroup
 * "other" for the closes of every pair that did not fit. Valid until the
 * next drain or stop. */
const struct tw_who_proc *tw_who_live_procs(const struct tw_who_live *l, size_t *n);
uint64_t tw_who_live_events(const struct tw_who_live *l); /* active closes seen */
uint64_t tw_who_live_lost(const struct tw_who_live *l);   /* dropped by the rings */
/* Close everything; unmount tracefs if start mounted it and it still is. */
void tw_who_live_stop(struct tw_who_live *l);

#endif
