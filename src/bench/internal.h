/* The bench engine's insides, shared by its files (internal):
 *   run.c           tb_run: setup (lab, ports, servers), the threads, the
 *                   end of the run, the result
 *   client_twp.c    twp clients: a tw_client per session, or a tw_pool
 *   client_http.c   HTTP/1.1 clients (--proto http)
 *   raw.c           the raw baselines' client and server: plain epoll
 *   sampler.c       the 100 ms samples: counters, TIME_WAIT on each side
 *   thread.c        what every thread does alike: its namespace, its errors
 *   (the built-in server runs as a tw_server_group: twkit/server.h)
 * A client thread is one struct cthread; which file drives it is the
 * strategy's and protocol's choice of struct tb__client. */
#ifndef TB_INTERNAL_H
#define TB_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <sys/resource.h>

#include "bench/bench.h"
#include "twkit/loop.h"
#include "twkit/pool.h"

#define MAX_THREADS 64
#define SAMPLE_MS 100
#define RETRY_MS 10         /* a failed session's slot waits this long */
#define STOP_POLL_MS 10     /* how often client threads look at run->stop */
#define MAX_REQUEST (64 * 1024)

struct run;
struct sess;                /* client_twp.c */
struct hconn;               /* client_http.c */

/* Counters a client thread writes and the sampler reads (relaxed atomics). */
struct counts {
    uint64_t sessions, requests, errors, conns;
};

struct cthread {
    struct run *run;
    pthread_t tid;
    tw_loop *loop;
    struct sess *slots;     /* twp sessions */
    struct hconn *hslots;   /* --proto http */
    unsigned nslots, inflight;
    tw_pool *pool;
    tw_timer tick;
    bool stopping;
    double rate;            /* per thread, /s; 0: closed loop */
    uint64_t start_ns, started, behind;
    struct counts n;
    uint64_t err[TU_NERRNO];
    struct tu_hist connect_us, request_us;
    struct rusage ru;
};

/* A raw server thread (the built-in server is a tw_server_group). */
struct raw_server {
    struct run *run;
    pthread_t tid;
    int lfd;
    struct rusage ru;
};

struct run {
    const struct tb_opts *o;
    const struct tb_strategy *how; /* o->strategy */
    struct tb_result *r;
    tw_addr dst;
    struct tw_lab lab;
    bool have_lab;
    bool server_local;         /* its TIME_WAIT can be counted here */
    int client_ns, server_ns;  /* -1: stay */
    volatile int stop;
    uint64_t t0_ms;
    int64_t exhausted_ms;      /* first EADDRNOTAVAIL, -1 */
    uint64_t sessions_at_exhaustion;
    /* --port-range on each client socket too (IP_LOCAL_PORT_RANGE): with
     * only the sysctl, connect() keeps to the ports of one parity while one
     * of them is free and a server-close run would reuse half the range */
    struct tw_connect_opts copts;
    uint8_t payload[MAX_REQUEST];
    char http_req[2][256];     /* http: keep-alive, Connection: close */
    uint32_t http_req_len[2];
    size_t series_cap;         /* r->series has room for this many */
    struct cthread ct[MAX_THREADS];
    tw_server_group *group;    /* the built-in server, */
    struct raw_server rs[MAX_THREADS]; /* or the raw one */
    unsigned nct, nst;
    pthread_barrier_t ready;   /* every thread and the sampler: go */
};

static inline uint64_t tb__ld(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
/* Only the thread that owns *p writes it. */
static inline void tb__inc(uint64_t *p) { __atomic_store_n(p, *p + 1, __ATOMIC_RELAXED); }

/* run.c */
void tb__enter_ns(int fd);                        /* -1: stay */
/* A client thread's loop and nslots zeroed slots of slot_size: the slots,
 * or NULL with err saying why (the caller frees nothing: the run does). */
void *tb__thread_loop(struct cthread *t, size_t slot_size, char *err, size_t errlen);
void tb__count_error(struct cthread *t, int err); /* err > 0; the first
                                                     EADDRNOTAVAIL marks the
                                                     exhaustion */

/* How a client thread drives its sessions. */
struct tb__client {
    /* Before the threads start: the thread's loop and slots. 0, or -errno
     * with err set. */
    int (*prepare)(struct cthread *t, char *err, size_t errlen);
    /* The thread: at the start line with the others, then sessions until
     * run->stop; ends with its CPU time in t->ru. */
    void *(*main)(void *cthread);
};
extern const struct tb__client tb__client_twp;  /* client_twp.c */
extern const struct tb__client tb__client_http; /* client_http.c */
extern const struct tb__client tb__client_raw;  /* raw.c */

/* raw.c: a raw server thread (arg: its struct raw_server) */
void *tb__raw_server_main(void *arg);

/* sampler.c: from the start line to the end of the duration, a sample
 * every SAMPLE_MS into r->series, the TIME_WAIT maxima, and the progress
 * callback about every second. */
void tb__sample_until_end(struct run *run);

#endif
