/* The lab: two network namespaces joined by a veth pair, where real TCP
 * runs with per-namespace sysctls, so the facts twkit is built on can be
 * measured on the running kernel instead of mocked.
 *
 *   client namespace  tw0 10.201.0.1/24 fd00:201::1/64
 *         |  veth
 *   server namespace  tw0 10.201.0.2/24 fd00:201::2/64
 *
 * Namespace names carry the creator's pid and a counter, so runs never
 * collide; every namespace is removed by tw_lab_destroy, at exit, on
 * SIGINT/SIGTERM/SIGHUP, and (for creators that died without cleaning up)
 * by the next tw_lab_create. Needs root and iproute2's `ip`.
 */
#ifndef TWKIT_LAB_H
#define TWKIT_LAB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "twkit/diag.h"
#include "twkit/sock.h"

enum tw_lab_side { TW_LAB_CLIENT = 0, TW_LAB_SERVER = 1 };

struct tw_lab {
    char ns[2][48];      /* namespace names (ip netns) */
    int nsfd[2];         /* open namespace handles */
    int saved_ns;        /* the thread's namespace before tw_lab_enter */
    tw_addr addr4[2];    /* 10.201.0.1 / .2, port 0 */
    tw_addr addr6[2];    /* fd00:201::1 / ::2, port 0 */
    char err[256];       /* why the last call failed, for people */
};

/* Make the lab. Returns 0, or -errno with lab->err saying why: -EPERM (not
 * root), -ENOENT (iproute2 missing), or the failing step; nothing is left
 * behind on failure. */
int tw_lab_create(struct tw_lab *lab);

/* Remove both namespaces (and with them the veth and every socket left in
 * them). Safe to call twice. */
void tw_lab_destroy(struct tw_lab *lab);

/* Move the calling thread into a side's namespace; sockets it creates from
 * then on live there (and stay there after tw_lab_leave). Nesting is not
 * supported: leave before entering again. Returns 0 or -errno. */
int tw_lab_enter(struct tw_lab *lab, enum tw_lab_side side);
int tw_lab_leave(struct tw_lab *lab);

/* Per-namespace sysctls, by dotted name ("net.ipv4.tcp_tw_reuse").
 * -ENOENT when this kernel does not have it. */
int tw_lab_sysctl_set(struct tw_lab *lab, enum tw_lab_side side, const char *name,
                      const char *value);
int tw_lab_sysctl_get(struct tw_lab *lab, enum tw_lab_side side, const char *name,
                      char *buf, size_t len);

/* TCP sockets per state on a side (sock_diag, IPv4 + IPv6). */
int tw_lab_count(struct tw_lab *lab, enum tw_lab_side side, struct tw_tcp_states *out);

/* tw_lab_count once the last packets have landed: two equal reads 20 ms
 * apart, at most one second. */
int tw_lab_count_settled(struct tw_lab *lab, enum tw_lab_side side, struct tw_tcp_states *out);

/* A /proc/net counter on a side (tw_proc_counter). */
int tw_lab_counter(struct tw_lab *lab, enum tw_lab_side side, const char *section,
                   const char *name, uint64_t *val);

/* Run argv (PATH lookup) inside a side's namespace. Returns the pid or
 * -errno; wait for it with waitpid. */
pid_t tw_lab_spawn(struct tw_lab *lab, enum tw_lab_side side, char *const argv[]);

/* Remove lab namespaces whose creator process is gone. Returns how many. */
int tw_lab_reap_stale(void);

/* ---- experiments: sequential connection churn across the veth ---- */

enum tw_lab_close {
    TW_LAB_CLIENT_FIRST, /* client closes first; server closes after its FIN */
    TW_LAB_SERVER_FIRST, /* server closes first; client closes after its FIN */
    TW_LAB_CLIENT_ABORT, /* client aborts (RST) after the reply */
};

struct tw_lab_churn {
    /* in */
    enum tw_lab_close how;
    unsigned ndest;          /* destinations (server ports port, port+1...), round
                                robin; 0: 1 */
    uint16_t port;           /* first server port; 0: 5001 */
    bool ipv6;
    bool stop_on_error;      /* stop at the first failed connect */
    uint64_t max_conns;      /* 0: no limit (then max_ms must be set) */
    uint64_t max_ms;         /* 0: no limit */
    /* out */
    uint64_t ok;             /* connections that completed the exchange */
    uint64_t eaddrnotavail;  /* connects that found no free 4-tuple */
    uint64_t other_errors;
    int first_err;           /* -errno of the first failure, 0 if none */
    uint64_t ok_before_err;  /* ok at the first failure */
    uint64_t ms_before_err;  /* elapsed ms at the first failure */
    uint64_t peer_resets;    /* server reads that failed ECONNRESET */
    uint64_t passive_refused;/* tw_sock_close_passive refusals (must be 0) */
    uint64_t elapsed_ms;
};

/* Run a churn: sequential connect, one byte each way, close as `how`.
 * Returns 0 (failures are counted in c) or -errno if the lab side could not
 * be set up (listeners, namespaces). */
int tw_lab_churn(struct tw_lab *lab, struct tw_lab_churn *c);

#endif
