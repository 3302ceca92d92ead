/* The TIME_WAIT doctor's numbers and advice, for the calling thread's
 * network namespace (`twkit stat`, docs/STAT.md).
 *
 * Sockets are split into the server side (the local port is a listening
 * port) and the client side (any other local port: an ephemeral one), and
 * grouped: client side by (local address, remote address:port), the unit
 * that shares one port range; server side by local address:port.
 */
#ifndef TWKIT_STAT_H
#define TWKIT_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twkit/diag.h"
#include "twkit/sock.h"

struct tw_stat_group {
    bool server;
    tw_addr local, remote;      /* server: remote unset (family 0) */
    uint32_t n[TW_TCP_NSTATES]; /* sockets per state */
    uint32_t total;             /* all states */
    uint32_t tw_recent;         /* TIME_WAIT born in the last 10 s */
    uint32_t exp_min, exp_max;  /* TIME_WAIT ms left (valid when n[TW]) */
    uint32_t tw_by_sec[60];     /* TIME_WAIT by whole seconds left: [i] has
                                   i to i+1 s left (when each frees its port) */
    /* client side only: pressure on the port range */
    uint32_t usable;            /* ports usable towards this destination */
    bool reuse;                 /* tcp_tw_reuse can act for it */
    double max_rate;            /* new connections/s sustainable */
    double rate;                /* observed: TIME_WAIT born in the last W s / W,
                                   W = 3 s, or the age of the oldest when younger */
    double secs_left;           /* until exhaustion at rate (tw_stat_forecast);
                                   < 0: never */
};

/* When the ports towards g run out if new connections keep coming at rate
 * a second (each holding its port, then 60 s of TIME_WAIT): the ports
 * not in use now, less those new ones, plus those the TIME_WAIT already
 * held gives back as it ends (tw_by_sec). Nothing held now outlives 60 s
 * and what is made from now on is given back at the rate it is made after
 * 60 s, so the ports run out within 60 s or never. With reuse (tcp_tw_reuse
 * acting: a TIME_WAIT older than reuse_delay_s gives its port to a new
 * connect()), only the sockets younger than that hold one. Seconds, 0 when
 * none is left now, or -1: never at this rate. */
double tw_stat_forecast(const struct tw_stat_group *g, double rate, double reuse_delay_s);

/* TcpExt counters, by name, in this order. */
enum {
    TW_SC_TW, TW_SC_TWKILLED, TW_SC_TWRECYCLED, TW_SC_OVERFLOW, TW_SC_ABORT_DATA,
    TW_SC_ABORT_CLOSE, TW_SC_ABORT_TIMEOUT, TW_SC_ABORT_LINGER, TW_SC_ABORT_MEMORY,
    TW_SC_PAWS_ACTIVE, TW_SC_PAWS_ESTAB, TW_SC_ACK_SKIPPED_TW, TW_SC_NCOUNTERS
};
extern const char *const tw_stat_counter_names[TW_SC_NCOUNTERS];

/* Sysctls, -1 when absent from this kernel. */
enum {
    TW_SY_PORT_LO, TW_SY_PORT_HI, TW_SY_TW_REUSE, TW_SY_TW_REUSE_DELAY, TW_SY_TIMESTAMPS,
    TW_SY_MAX_TW_BUCKETS, TW_SY_EHASH_ENTRIES, TW_SY_FIN_TIMEOUT, TW_SY_RFC1337,
    TW_SY_AUTOBIND_REUSE, TW_SY_NSYSCTLS
};
extern const char *const tw_stat_sysctl_names[TW_SY_NSYSCTLS];

enum tw_severity { TW_SEV_INFO, TW_SEV_WARNING, TW_SEV_CRITICAL };
const char *tw_severity_name(enum tw_severity s);

struct tw_advice {
    const char *id;
    enum tw_severity severity;
    char evidence[256];
    const char *reason;
    char fix[512];              /* what to do: the exact commands or config
                                   lines, or the application change; lines
                                   separated by '\n' */
    char brief[96];             /* a few words for one-line output
                                   (--brief): "10.0.0.2:80: out of ports in
                                   12 s", or empty: the id says it */
};

struct tw_stat {
    uint64_t at_ms;
    struct tw_tcp_states states;
    uint32_t tw_client, tw_server;       /* TIME_WAIT per side */
    uint32_t sock_client, sock_server;   /* all non-listening sockets per side */
    struct tw_stat_group *groups;        /* sorted: most sockets first */
    size_t ngroups;
    int64_t sysctl[TW_SY_NSYSCTLS];
    uint32_t reserved_in_range;          /* ip_local_reserved_ports inside the range */
    uint32_t listening_in_range;         /* listening ports inside the range:
                                            connect() never picks a bound port */
    uint64_t counter[TW_SC_NCOUNTERS];
    bool have_counter[TW_SC_NCOUNTERS];
    double counter_rate[TW_SC_NCOUNTERS]; /* per second, with a previous run */
    bool have_rates;
    int64_t sockstat_tw, sockstat_inuse;  /* -1: not found */
    struct tw_advice *advice;             /* every finding, most severe first
                                             (no cap: tw_stat_free frees it) */
    size_t nadvice, advice_cap;
    bool advice_lost;                     /* out of memory for a finding: it
                                             counts as critical (tw_stat_worst) */
    char problems[512];                   /* what could not be read */
    const char *netns;                    /* the named namespace read (the
                                             fixes run there), or NULL */
};

/* Read everything and give advice; prev (optional, same namespace, earlier)
 * turns counters into rates; netns (optional) names the namespace read, for
 * the fixes (run in it: ip netns exec NAME ...). Returns 0, or -errno when
 * the socket dump itself failed (the rest is still filled in, problems
 * says what). */
int tw_stat_collect(struct tw_stat *st, const struct tw_stat *prev, const char *netns);
void tw_stat_free(struct tw_stat *st);

/* The advice rules (docs/STAT.md), run by tw_stat_collect. */
void tw_stat_advise(struct tw_stat *st, const struct tw_stat *prev, const char *netns);

/* The worst severity present, or -1 with no advice (critical when a
 * finding could not be kept). */
int tw_stat_worst(const struct tw_stat *st);

#endif
