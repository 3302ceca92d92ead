/* twkit probe: the icmp kind's shared sockets (icmp_sock.c): echo requests
 * out, replies and ICMP errors back to the probe that sent each, on the
 * engine's loop.
 *
 * A set holds a socket per address family, source address and
 * don't-fragment setting in use (normally one per family), made on first
 * use: a ping socket where net.ipv4.ping_group_range lets this process
 * have one, a raw socket (CAP_NET_RAW) where not. Each request waits in its
 * socket's table of 65,536 sequence numbers until its answer comes or its
 * probe forgets it.
 */
#ifndef TW_PROBE_ICMP_SOCK_H
#define TW_PROBE_ICMP_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twkit/loop.h"
#include "twkit/sock.h"

/* blackbox_exporter's payload, and its size when payload_size is 0 */
#define TP_ICMP_TEXT "Prometheus Blackbox Exporter"
#define TP_ICMP_TEXT_LEN (sizeof(TP_ICMP_TEXT) - 1)
/* the largest payload an IPv4 datagram carries (65535 - 20 - 8) */
#define TP_ICMP_MAX_PAYLOAD 65507
/* room for a reason (a result's detail) */
#define TP_ICMP_WHY 160

struct tp_icmp_set;
struct tp_icmp_sock;

/* What came back for a request. */
struct tp_icmp_answer {
    bool reply;          /* its echo reply; false: an ICMP error about it */
    int hop_limit;       /* reply: its TTL (IPv4) or hop limit (IPv6); -1:
                            the kernel did not say */
    uint8_t type, code;  /* error: the ICMP message (of its family) */
    int err;             /* error: the errno it means, as the kernel maps
                            it (EHOSTUNREACH, ENETUNREACH, EMSGSIZE...) */
    tw_addr from;        /* error: who sent it, a router or this host
                            (len 0: the kernel did not say) */
    uint64_t at_ns;      /* when it was read (tw_now_ns) */
};

struct tp_icmp_echo;
typedef void (*tp_icmp_cb)(struct tp_icmp_echo *e, const struct tp_icmp_answer *a);

/* One request in flight, in its probe's memory: cb is set by the caller,
 * the rest by tp_icmp_send. */
struct tp_icmp_echo {
    tp_icmp_cb cb;
    struct tp_icmp_sock *sock; /* NULL: not in flight */
    tw_addr dst;               /* where it went (IPv4-mapped made IPv4) */
    uint64_t cookie;           /* in its payload's last 8 bytes */
    uint32_t len;              /* payload bytes */
    uint16_t seq;
};

int tp_icmp_set_new(tw_loop *loop, struct tp_icmp_set **out);
/* Close every socket; nothing may be in flight. */
void tp_icmp_set_free(struct tp_icmp_set *s);

/* The socket for family (AF_INET or AF_INET6), source (NULL or len 0:
 * any) and df (IPv4: IP_PMTUDISC_DO), made now if there is none. 0 and
 * *out; or -errno with why (TP_ICMP_WHY bytes) saying what was refused:
 * -EPERM when neither a ping socket nor a raw socket is allowed, naming
 * net.ipv4.ping_group_range and CAP_NET_RAW (said on stderr too, once per
 * socket that could not be made). A socket that could not be made is not tried again for a
 * second: the probes of that second get the same answer. */
int tp_icmp_sock_get(struct tp_icmp_set *s, int family, const tw_addr *source, bool df,
                     struct tp_icmp_sock **out, char *why);
/* Whether k is a raw socket (else a ping socket). */
bool tp_icmp_sock_raw(const struct tp_icmp_sock *k);

/* Send an echo request with len bytes of payload (blackbox's text, zeros,
 * and the last 8 bytes e's new cookie) to dst with ttl (0: the socket's
 * default) and wait for it: e->cb runs once, from the loop, with its reply
 * or an ICMP error, unless tp_icmp_forget comes first. Returns 0, or
 * -errno from sendmsg (or -ENOBUFS with why filled when all 65,536
 * sequence numbers are in flight); nothing is then in flight. */
int tp_icmp_send(struct tp_icmp_sock *k, struct tp_icmp_echo *e, const tw_addr *dst,
                 uint32_t len, unsigned ttl, char *why);
/* Stop waiting (a timeout): its sequence number is free again, and an
 * answer that comes later is dropped. No-op when not in flight. */
void tp_icmp_forget(struct tp_icmp_echo *e);

#endif
