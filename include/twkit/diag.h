/* Kernel socket state of the calling thread's network namespace:
 * NETLINK_SOCK_DIAG dumps (IPv4 and IPv6) and /proc/net counters. */
#ifndef TWKIT_DIAG_H
#define TWKIT_DIAG_H

#include <stdint.h>

#include "twkit/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Kernel TCP states are 1..12 (TCP_ESTABLISHED .. TCP_NEW_SYN_RECV). */
#define TW_TCP_NSTATES 13
#define TW_TCP_ESTABLISHED 1
#define TW_TCP_TIME_WAIT 6
#define TW_TCP_LISTEN 10

struct tw_tcp_states {
    uint32_t n[TW_TCP_NSTATES]; /* indexed by kernel state */
    uint32_t total;
};

/* "ESTABLISHED", "TIME_WAIT", ... ("?" when out of range). */
const char *tw_tcp_state_name(int state);

/* One socket of a dump. */
struct tw_diag_sock {
    uint8_t state;        /* kernel TCP state */
    uint8_t timer;        /* idiag_timer: 3 = TIME_WAIT timer */
    uint32_t expires_ms;  /* time left on that timer */
    uint32_t uid, inode;  /* 0 for TIME_WAIT sockets: no owner survives */
    tw_addr local, remote;
};

/* Called for each socket; return 0 to go on, < 0 to stop with that error. */
typedef int (*tw_diag_cb)(const struct tw_diag_sock *s, void *arg);

/* Dump the TCP sockets whose state bit is set in state_mask (bit N = state
 * N; ~0u for all), IPv4 then IPv6, in the calling thread's namespace.
 * Returns 0 or -errno. */
int tw_diag_dump(uint32_t state_mask, tw_diag_cb cb, void *arg);

/* Count TCP sockets per state (IPv4 + IPv6). Returns 0 or -errno. */
int tw_diag_count(struct tw_tcp_states *out);

/* A counter from /proc/thread-self/net/netstat or .../snmp by section and
 * header name ("TcpExt", "TWRecycled"); names are matched by the header
 * line, never by position. Returns 0, -ENOENT if the field is not there,
 * -EPROTO if its value is not a number, or -errno if the file cannot be
 * read. */
int tw_proc_counter(const char *section, const char *name, uint64_t *val);

#ifdef __cplusplus
}
#endif

#endif
