/* twkit probe: resolving the targets' host names (resolve.c), for the
 * engine: c-ares on the loop, answers cached per TTL.
 */
#ifndef TW_PROBE_RESOLVE_H
#define TW_PROBE_RESOLVE_H

#include <stdbool.h>

#include "probe/probe.h"
#include "twkit/loop.h"
#include "twkit/sock.h"

struct tp_resolver;
/* err: 0, or a negative errno (-ENOENT: no such name, -ETIMEDOUT: no
 * answer, -EAGAIN: temporary failure, -ENOMEM...) with why a short text. */
typedef void (*tp_resolve_cb)(void *arg, int err, const tw_addr *addr, const char *why);

int tp_resolver_new(tw_loop *loop, struct tp_resolver **out);
void tp_resolver_free(struct tp_resolver *d);
/* Resolve host (a name, not a literal) for a probe preferring family prefer
 * (AF_INET or AF_INET6), as blackbox_exporter chooses: with fallback, A
 * and AAAA are asked at once and an address of prefer is taken if there is
 * one, else one of the other family; without, only prefer's record is
 * asked, and a name without one fails (-ENOENT, "no IPv6 address"). A
 * fresh cache entry's address is copied to *addr (port 0) and 1 is
 * returned, with no callback. Otherwise 0 is
 * returned and cb runs later (never inside this call), unless the request
 * is cancelled first; *req then holds a handle for tp_resolve_cancel. < 0: a
 * local failure (-ENOMEM). */
int tp_resolve(struct tp_resolver *d, const char *host, int prefer, bool fallback, tw_addr *addr,
               tp_resolve_cb cb, void *arg, struct tp_resolve_req **req);
void tp_resolve_cancel(struct tp_resolve_req *req);

#endif
