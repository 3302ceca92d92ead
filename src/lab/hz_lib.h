/* What every hazard run shares (internal to src/lab): a fresh lab with the
 * run's sysctls, a capture of the client's veth end, the TcpExt counters
 * of both namespaces before and after, nft rules, and small blocking TCP
 * helpers with timeouts. */
#ifndef TW_LAB_HZ_LIB_H
#define TW_LAB_HZ_LIB_H

#include <stdarg.h>
#include <stdint.h>

#include "lab/hazards.h"
#include "lab/hz_pkt.h"
#include "lab/lab.h"

#define HZ_SERVER_PORT 5001
#define HZ_CLIENT_PORT 40001 /* the 4-tuple the hazards reuse */
#define HZ_NCOUNTERS 40

/* A sysctl for a run: side 'c' (client), 's' (server) or 'b' (both). */
struct hz_sysctl {
    char side;
    const char *name, *value;
};

struct hz {
    struct tw_lab lab;
    struct hz_cap cap;            /* the client's tw0 */
    uint64_t before[2][HZ_NCOUNTERS];
    bool have[2][HZ_NCOUNTERS];
    struct tw_hazard_run *run;
    struct tw_hazard_result *res;
    const struct tw_hazard_opts *o;
    const char *name;             /* for the pcap file */
    int which;                    /* TW_HZ_KEPT, TW_HZ_REMOVED or TW_HZ_MIDDLE */
    bool marked;                  /* the counters are recorded */
};

/* Make the run's lab, set the sysctls (a NULL-name terminated list),
 * start the capture and read the counters. On failure r->err says why and
 * nothing is left. Returns 0 or -errno. */
int hz_begin(struct hz *h, struct tw_hazard_result *r, int which, const char *name,
             const char *label, const struct hz_sysctl *sysctls,
             const struct tw_hazard_opts *o);

/* Record the counters that moved so far: the experiment is over, and
 * closing its sockets must not count. */
void hz_mark(struct hz *h);

/* Drain the capture, record the counters that moved and the pcap file,
 * remove the lab. */
void hz_end(struct hz *h);

/* The run's words: the measured text (appended), the brief, a value. */
void hz_say(struct hz *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hz_brief(struct hz *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hz_put(struct hz *h, const char *key, double v);
/* The run could not be measured: r->err (first reason wins). */
void hz_fail(struct hz *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What this kernel was expected to do did not happen: say what did. */
void hz_expect(struct hz *h, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* How far a counter moved on a side since hz_begin (0 if absent). */
uint64_t hz_delta(struct hz *h, enum tw_lab_side side, const char *name);

/* nft commands (";"-separated) inside a side's namespace; the rules go
 * with the namespace. Returns 0 or -errno (-ENOENT: no nft). */
int hz_nft(struct hz *h, enum tw_lab_side side, const char *cmds);

/* Sockets in a side's state (kernel state number), settled. */
int hz_count_state(struct hz *h, enum tw_lab_side side, int state);

/* TCP sockets in a side's namespace. hz_listen: on the server address,
 * port, with SO_RCVBUF rcvbuf if > 0. hz_connect: from the client address
 * (source port sport, chosen by connect() from a one-port range; 0: any), blocking up to timeout_ms;
 * *ms is how long it took. Both return an fd or -errno. */
int hz_listen(struct hz *h, uint16_t port, int rcvbuf);
int hz_connect(struct hz *h, uint16_t sport, uint16_t dport, int timeout_ms, uint64_t *ms);
/* accept, waiting up to timeout_ms. */
int hz_accept(int lfd, int timeout_ms);
/* Read up to len bytes until len, EOF, an error or timeout_ms of silence.
 * Returns bytes read; *err gets the error (0, or -ECONNRESET...). */
size_t hz_read(int fd, void *buf, size_t len, int timeout_ms, int *err);
/* Wait until fd is readable (or in error): 1, 0 on timeout. */
int hz_wait_in(int fd, int timeout_ms);
void hz_sleep_ms(unsigned ms);
uint64_t hz_now_us(void);

/* The captured TCP segments of the run so far (drained), one at a time:
 * start with *i = 0; returns false at the end. */
bool hz_next_tcp(struct hz *h, size_t *i, struct hz_tcp *t, const uint8_t **frame);

/* Counted in the capture: segments from the client (from_client) or the
 * server with all the flags in `with` and none in `without`. */
unsigned hz_count_segs(struct hz *h, bool from_client, uint8_t with, uint8_t without);

/* The hazards (hz_*.c), rows of the table in hazards.c. */
void hz_run_lost_ack(struct tw_hazard_result *r, const struct tw_hazard_opts *o);
void hz_run_duplicate(struct tw_hazard_result *r, const struct tw_hazard_opts *o);
void hz_run_assassination(struct tw_hazard_result *r, const struct tw_hazard_opts *o);
void hz_run_overflow(struct tw_hazard_result *r, const struct tw_hazard_opts *o);
void hz_run_abort(struct tw_hazard_result *r, const struct tw_hazard_opts *o);
void hz_run_lost_rst(struct tw_hazard_result *r, const struct tw_hazard_opts *o);

#endif
