/* The twkit socket layer: nonblocking, close-on-exec TCP sockets, IPv4 and
 * IPv6, and the three ways to end a connection, each a named policy.
 *
 * Where TIME_WAIT lands (Linux holds it 60 s, on the side that sent the
 * first FIN):
 *
 *   policy                         this side        the peer
 *   tw_sock_abort                  none (RST)       none; its next read or
 *                                                   write fails ECONNRESET
 *   tw_sock_close_passive /        none             TIME_WAIT (it closed first)
 *   tw_close_passive
 *   tw_close_active                TIME_WAIT        none
 *
 * All functions return a descriptor or 0 on success and a negative errno on
 * failure; they check their arguments (-EINVAL, -EBADF) and never abort.
 */
#ifndef TWKIT_SOCK_H
#define TWKIT_SOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "twkit/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- addresses ---- */

typedef struct tw_addr {
    socklen_t len; /* 0: unset */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_storage ss;
    } u;
} tw_addr;

#define TW_ADDRSTRLEN 64 /* "[ffff:...:ffff%ifname]:65535" */

/* Parse a numeric address with optional port: "10.0.0.1", "10.0.0.1:80",
 * "::1", "[::1]:80", "[fe80::1%eth0]:80". Without a port, default_port is
 * used. Returns 0 or -EINVAL. (Host names are resolved elsewhere.) */
int tw_addr_parse(tw_addr *a, const char *s, uint16_t default_port);

/* Format as "10.0.0.1:80" or "[::1]:80" into buf; returns buf ("?" when a
 * is unset or buf is too small). */
char *tw_addr_format(const tw_addr *a, char *buf, size_t len);
/* The address alone: "10.0.0.1", "::1". */
char *tw_addr_host(const tw_addr *a, char *buf, size_t len);

uint16_t tw_addr_port(const tw_addr *a);
void tw_addr_set_port(tw_addr *a, uint16_t port);
int tw_addr_family(const tw_addr *a);
bool tw_addr_equal(const tw_addr *a, const tw_addr *b);

/* The local / remote address of a socket. */
int tw_sock_local(int fd, tw_addr *a);
int tw_sock_peer(int fd, tw_addr *a);

/* ---- listening and accepting ---- */

struct tw_listen_opts {
    int backlog;    /* 0: 4096 (the kernel caps it at somaxconn) */
    bool reuseport; /* SO_REUSEPORT: one listener per thread */
    bool v6only;    /* IPV6_V6ONLY for "::" listeners */
    uint64_t reserved_[2]; /* room to grow (docs/DESIGN.md, "ABI"): leave zero */
};

/* A nonblocking listening socket with SO_REUSEADDR (so a restarted server
 * can rebind while its old connections sit in TIME_WAIT). opts may be NULL.
 * Returns the fd or -errno. */
int tw_sock_listen(const tw_addr *addr, const struct tw_listen_opts *opts);

/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC; peer may be NULL. Returns the
 * fd, -EAGAIN when the queue is empty, or -errno (-EMFILE, -ENFILE, ...). */
int tw_sock_accept(int lfd, tw_addr *peer);

/* ---- connecting ---- */

struct tw_connect_opts {
    const tw_addr *source;    /* bind this source address first, with
                                 IP_BIND_ADDRESS_NO_PORT so the port is
                                 still chosen at connect() with 4-tuple
                                 sharing; NULL: any */
    uint16_t port_lo, port_hi;/* IP_LOCAL_PORT_RANGE for this socket (Linux
                                 6.3+); silently not used where the kernel
                                 answers ENOPROTOOPT; 0,0: the sysctl */
    bool nodelay;             /* TCP_NODELAY */
    bool speaks_first;        /* the caller writes as soon as it is
                                 connected: TCP_DEFER_ACCEPT on the
                                 connecting socket holds the handshake's
                                 last ACK (at most 200 ms) so it rides on
                                 the first data, one packet fewer */
    bool keepalive;           /* SO_KEEPALIVE with tw_sock_set_keepalive's
                                 defaults */
    unsigned user_timeout_ms; /* TCP_USER_TIMEOUT; 0: kernel default */
    uint64_t reserved_[4]; /* room to grow (docs/DESIGN.md, "ABI"): leave zero */
};

/* Start a nonblocking connect. On success *fd is set and the result is 0
 * (connected already, rare) or -EINPROGRESS (wait for writability, then
 * tw_sock_connect_result). On failure no fd is left open and the result is
 * -errno: -EADDRNOTAVAIL when no local port gives a unique 4-tuple towards
 * dst (a local resource, not the server's fault), -ECONNREFUSED, ...
 * opts may be NULL. */
int tw_sock_connect(const tw_addr *dst, const struct tw_connect_opts *opts, int *fd);

/* The outcome of a nonblocking connect (SO_ERROR): 0 or -errno. */
int tw_sock_connect_result(int fd);

typedef struct tw_connect tw_connect;
/* fd_or_err: the connected fd (now the callee's) or -errno. */
typedef void (*tw_connect_cb)(tw_connect *req, int fd_or_err);

struct tw_connect {
    tw_io io;
    tw_timer timer;
    tw_defer defer;
    int err;
    uint64_t started_ns;  /* when tw_connect_start ran */
    uint64_t connect_ns;  /* how long it took, set before the callback */
    tw_connect_cb cb;
    void *data;
};

/* Connect on the loop. The callback runs exactly once, never from inside
 * tw_connect_start: failures that connect() reports at once (EADDRNOTAVAIL,
 * ENETUNREACH, EMFILE...) arrive through it like later ones (ECONNREFUSED,
 * ETIMEDOUT after timeout_ms; 0 = no timeout). Returns 0, or -EINVAL for bad
 * arguments (then no callback). */
int tw_connect_start(tw_loop *loop, tw_connect *req, const tw_addr *dst,
                     const struct tw_connect_opts *opts, uint64_t timeout_ms,
                     tw_connect_cb cb, void *data);

/* Cancel a pending connect: aborts the socket; the callback is not run. */
void tw_connect_cancel(tw_connect *req);

/* ---- options ---- */

struct tw_keepalive {
    unsigned idle_s;   /* 0: 60 s of silence before the first probe */
    unsigned intvl_s;  /* 0: 10 s between probes */
    unsigned count;    /* 0: 6 unanswered probes and the peer is dead */
};

/* SO_KEEPALIVE with TCP_KEEPIDLE/KEEPINTVL/KEEPCNT; ka may be NULL for the
 * defaults above (a dead peer is found in about two minutes, not two hours). */
int tw_sock_set_keepalive(int fd, const struct tw_keepalive *ka);
int tw_sock_set_user_timeout(int fd, unsigned ms);
int tw_sock_set_nodelay(int fd, bool on);

/* Per-socket ephemeral port range (IP_LOCAL_PORT_RANGE, Linux 6.3+).
 * Returns 1 if applied, 0 if this kernel does not know the option, or
 * -errno (-EINVAL for lo > hi). */
int tw_sock_set_port_range(int fd, uint16_t lo, uint16_t hi);

/* Bytes sent that the peer has not acknowledged yet (SIOCOUTQ: unsent plus
 * unacknowledged). Aborting when this is 0 loses nothing the peer's TCP
 * received. Returns the count or -errno. */
int tw_sock_unacked(int fd);

/* Bytes that moved on the connection so far, both ways: sent and
 * acknowledged by the peer, plus received from it (tcp_info's
 * tcpi_bytes_acked + tcpi_bytes_received). Timers that must measure
 * progress rather than age compare two readings. quiet_ms (or NULL): how
 * long ago the peer last sent data or acknowledged ours, so a movement
 * seen late is dated when it happened. Returns 0, -ECONNRESET
 * when the connection is over (TCP_CLOSE: the peer's RST came, which a
 * socket that is not being read learns of only here; *moved is still
 * set), or -errno. */
int tw_sock_progress(int fd, uint64_t *moved, uint32_t *quiet_ms);

/* The kernel's TCP state of the socket (TCP_ESTABLISHED, TCP_CLOSE_WAIT...,
 * from <netinet/tcp.h>), or -errno. */
int tw_sock_tcp_state(int fd);

/* ---- close policies ---- */

/* Abort: SO_LINGER {1, 0} then close(). Sends RST; no TIME_WAIT on either
 * side; data not yet acknowledged by the peer is discarded (check
 * tw_sock_unacked first if that matters). The peer's next read or write
 * fails with ECONNRESET. Always closes fd; returns 0 or -errno. */
int tw_sock_abort(int fd);

/* Passive close: close() after the peer's FIN has been read (read returned
 * 0). This side sends its FIN second, so the peer holds the TIME_WAIT and
 * this side never does. Checked: if the peer's FIN has not arrived (the
 * socket is not in CLOSE_WAIT or CLOSE) the fd is left open and -EAGAIN is
 * returned, because closing now would make this side the active closer. */
int tw_sock_close_passive(int fd);

typedef struct tw_closer tw_closer;
/* result: 0 = ended as the policy intends; -ETIMEDOUT = the deadline passed
 * and the connection was aborted (RST); -ECONNRESET = the peer reset. The fd
 * is closed in every case before the callback runs. */
typedef void (*tw_close_cb)(tw_closer *c, int result);

struct tw_closer {
    tw_io io;
    tw_timer timer;
    bool active;        /* which policy */
    uint64_t drained;   /* bytes read and discarded while waiting */
    tw_close_cb cb;     /* may be NULL */
    void *data;
};

/* Active close: shutdown(SHUT_WR) (our FIN goes first), then read and
 * discard until the peer's FIN, then close(). THIS SIDE HOLDS TIME_WAIT.
 * If the FIN does not come within deadline_ms, abort. Takes ownership of fd.
 * Returns 0 (callback will run), or -EINVAL or the loop's error (then fd
 * was aborted and closed, and no callback runs). */
int tw_close_active(tw_loop *loop, tw_closer *c, int fd, uint64_t deadline_ms,
                    tw_close_cb cb, void *data);

/* Passive close on the loop: send nothing, read and discard until the peer's
 * FIN, then close() (no TIME_WAIT here); abort if it does not come within
 * grace_ms. Takes ownership of fd. Returns 0 (callback will run), or
 * -EINVAL or the loop's error (then fd was aborted and closed, and no
 * callback runs). */
int tw_close_passive(tw_loop *loop, tw_closer *c, int fd, uint64_t grace_ms,
                     tw_close_cb cb, void *data);

#ifdef __cplusplus
}
#endif

#endif
