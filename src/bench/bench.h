/* twkit bench and twkit demo: connection churn, ended each way there is,
 * measured side by side (docs/BENCH.md).
 *
 * A run has client threads (one tw_loop each) that keep `concurrency`
 * sessions going (or start them at a fixed `rate`), and, with --lab or a
 * local server, server threads in the same process. The main thread
 * samples TIME_WAIT on both sides every 100 ms and ends the run on time.
 */
#ifndef TW_BENCH_H
#define TW_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/strategy.h"
#include "lab/lab.h"
#include "twkit/sock.h"
#include "util/errcount.h"
#include "util/hist.h"


/* One 100 ms sample of the time series. */
struct tb_sample {
    uint32_t t_ms;
    uint64_t sessions, requests, errors; /* cumulative */
    int32_t tw_client, tw_server;        /* -1: not known */
};

struct tb_opts {
    const struct tb_strategy *strategy;
    bool http;               /* HTTP/1.1 instead of twp (strategies that
                                have .http) */
    bool lab;                /* server in a lab namespace pair across a veth */
    bool local_server;       /* server in this process on 127.0.0.1 (no root) */
    tw_addr target;          /* without lab/local_server: the server to test */
    bool ipv6;               /* lab: use the IPv6 addresses */
    uint64_t duration_ms;
    unsigned concurrency;    /* sessions in flight (pool: requests in flight) */
    unsigned threads;        /* client threads (and server threads in the lab) */
    double rate;             /* sessions/s (pool: requests/s); 0: as fast as it goes */
    uint32_t request_size;   /* DATA payload bytes; http: the body of the
                                built-in server's response */
    const char *port_range;  /* lab only: client ip_local_port_range "LO HI" */
    int tw_reuse;            /* lab only: client tcp_tw_reuse; -1: leave */
    /* called on the main thread about every second */
    void (*progress)(const struct tb_sample *s, void *arg);
    void *progress_arg;
};

struct tb_result {
    const struct tb_strategy *strategy;
    bool http;
    uint64_t elapsed_ms;
    uint64_t sessions;          /* connections that did their exchange */
    uint64_t requests;          /* replies received */
    uint64_t new_conns;         /* connections opened (connect attempts) */
    uint64_t errors, errors_local, errors_server;
    uint64_t err[TU_NERRNO];    /* per errno (util/errcount.h); local or the
                                   server's as tw_errclass says */
    struct tu_hist connect_us, request_us; /* microseconds */
    double cpu_client_user, cpu_client_sys; /* seconds */
    double cpu_server_user, cpu_server_sys; /* -1: not measured */
    int32_t tw_client_end, tw_server_end;   /* at the end of the run; -1 unknown */
    int32_t tw_client_max, tw_server_max;
    uint32_t usable_ports;      /* client's port range, when known */
    int64_t exhausted_ms;       /* first EADDRNOTAVAIL; -1: never */
    double rate_after_exhaustion; /* sessions/s from then to the end */
    double rate_asked;          /* opts.rate */
    uint64_t behind;            /* rate mode: sessions started late (no free slot) */
    struct tb_sample *series;
    size_t nseries;
    char server[TW_ADDRSTRLEN]; /* where it went */
    char where[16];             /* "lab", "loopback", "target" */
};

/* Run one benchmark. Returns 0 (errors are counted in r), or -errno when it
 * could not start (lab, listen); err then says why. */
int tb_run(const struct tb_opts *o, struct tb_result *r, char *err, size_t errlen);
void tb_result_free(struct tb_result *r);

/* ---- output (report.c) ---- */
void tb_print_table_head(FILE *f);
void tb_print_table_row(FILE *f, const struct tb_result *r);
void tb_print_errors(FILE *f, const struct tb_result *r);
void tb_print_json(FILE *f, const struct tb_result *r); /* one object */
int tb_write_csv(const char *path, const struct tb_result *rs, size_t n);
int tb_write_svg(const char *path, const char *title, const struct tb_result *rs, size_t n);

#endif
