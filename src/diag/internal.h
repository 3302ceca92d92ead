/* diag's parsers, on buffers: what the dump and tw_proc_counter read from
 * the kernel, callable on bytes from anywhere (the fuzz harness,
 * tests/fuzz/fuzz_diag.c). */
#ifndef TW_DIAG_INTERNAL_H
#define TW_DIAG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "twkit/diag.h"

/* One recv of NETLINK_SOCK_DIAG replies (len bytes at buf, any length,
 * any content): each socket to cb, its addresses of the family its message
 * claims; messages of another family than AF_INET and AF_INET6, or with a
 * state outside 1 to TW_TCP_NSTATES - 1, are skipped. seq and portid: what
 * every message must carry (0: anything). Returns 1 when the dump goes on
 * (no NLMSG_DONE yet), 0 when it is done, or -errno: the kernel's (from
 * NLMSG_ERROR or NLMSG_DONE), -EBADMSG for a message that does not fit
 * the buffer, -EPROTO, -ESRCH or -EINTR (another seq or portid, an
 * interrupted dump), or cb's error, after which nothing more is read. */
int tw__diag_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid, tw_diag_cb cb,
                   void *arg);

/* tw_proc_counter on the text of /proc/net/netstat or snmp (len bytes, no
 * NUL needed): lines are split at \n, fields at spaces, and the value is
 * the field at name's place in the line after the first "SECTION:" header
 * line that has name, when that line is "SECTION:" too. Returns 0 with
 * *val, -ENOENT, or -EPROTO (-ERANGE) when the value is not a decimal
 * number (does not fit 64 bits). */
int tw__proc_counter_parse(const char *text, size_t len, const char *section, const char *name,
                           uint64_t *val);

#endif
