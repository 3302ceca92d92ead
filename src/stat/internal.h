/* stat's parsers of what the kernel writes, on buffers: callable on bytes
 * from anywhere (the fuzz harness, tests/fuzz/fuzz_diag.c). */
#ifndef TW_STAT_INTERNAL_H
#define TW_STAT_INTERNAL_H

#include <stdint.h>

#include "twkit/sock.h"

/* /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999\n"): 0 with
 * 0 <= lo <= hi <= 65535, or -EINVAL. */
int tw__stat_port_range(const char *text, int64_t *lo, int64_t *hi);
/* How many ports of lo..hi ip_local_reserved_ports lists
 * ("8080,9000-9010\n"), each counted once. */
uint32_t tw__stat_reserved(const char *text, int64_t lo, int64_t hi);
/* The "TCP: inuse N orphan N tw N" line of /proc/net/sockstat: 0,
 * -ENOENT (no such line) or -EPROTO (not those numbers). */
int tw__stat_sockstat(const char *text, int64_t *inuse, int64_t *tw);

/* A field of a tracepoint's record, as its tracefs format file says. */
struct tw__field {
    const char *name;
    int off, size;
};
/* The fields of sock:inet_sock_set_state that --who reads, in this order. */
enum {
    TW__WHO_OLD, TW__WHO_NEW, TW__WHO_DPORT, TW__WHO_FAMILY, TW__WHO_DADDR, TW__WHO_DADDR6,
    TW__WHO_NFIELDS
};
/* The offsets and sizes of the nf fields named in f (off -1 on entry)
 * from a tracefs format file's text, each read from its own "field:" line
 * and only when it fits in a record (off + size <= 65535): 0, or -ENOENT
 * when one is missing. */
int tw__who_parse_format(const char *fmt, struct tw__field *f, int nf);
/* A raw inet_sock_set_state record (rawlen bytes, anywhere in memory),
 * read with the fields f (TW__WHO_NFIELDS of them): 1 with *dst the
 * destination when it is an active close (ESTABLISHED -> FIN_WAIT1) of
 * AF_INET or AF_INET6, 0 when not, or when a field does not fit in the
 * record or has a size it cannot be read with. */
int tw__who_close_dst(const struct tw__field *f, const uint8_t *raw, uint32_t rawlen,
                      tw_addr *dst);

/* The cgroup v2 path in the text of /proc/PID/cgroup (its "0::/path" line,
 * wherever it is among v1 ones), cut to cap - 1 bytes; "-" without one. */
void tw__who_cgroup_of(const char *text, char *out, size_t cap);

#endif
