/* twkit probe: which address family a probe uses and from which source
 * address (ipproto.c), as blackbox_exporter's preferred_ip_protocol,
 * ip_protocol_fallback and source_ip_address mean them; the address a
 * result reports (probe_ip_protocol, probe_ip_addr_hash).
 *
 * The resolver (resolve.c) does the choosing for names; this file holds
 * what the engine, the kinds and the config keys share around it.
 */
#ifndef TW_PROBE_IPPROTO_H
#define TW_PROBE_IPPROTO_H

#include <stdbool.h>
#include <stdint.h>

#include "probe/config.h"
#include "probe/probe.h"
#include "twkit/sock.h"

/* def's preferred family: AF_INET or AF_INET6 (ip6 unless it says ip4). */
int tp_def_ip_prefer(const struct tp_def *def);
/* Whether a is IPv4, an IPv4-mapped IPv6 address included (Go's To4(),
 * which blackbox_exporter classes by). */
bool tp_addr_is_ipv4(const tw_addr *a);
/* blackbox_exporter's probe_ip_addr_hash: FNV-1a 32 over the address's 4
 * bytes (IPv4, mapped ones too) or 16 (IPv6). */
uint32_t tp_ip_hash(const tw_addr *a);
/* r reports a as the address probed: addr, ip_protocol, ip_hash. */
void tp_result_addr(struct tp_result *r, const tw_addr *a);

/* A literal target: true if its family will do for t's definition (it
 * always does with the fallback, as a literal needs no lookup); otherwise
 * false with r filled as a failure (reason "dns", as blackbox_exporter's
 * resolving step fails). */
bool tp_literal_fits(const struct tp_target *t, struct tp_result *r);
/* t->addr against source_ip_address: true if there is none or it is of the
 * same family; otherwise false with r filled (EAFNOSUPPORT). */
bool tp_source_fits(const struct tp_target *t, struct tp_result *r);

/* The connect options for def's source address (o filled), or NULL when
 * it has none: for tw_sock_connect and tw_connect_start. */
const struct tw_connect_opts *tp_source_opts(const struct tp_def *def,
                                             struct tw_connect_opts *o);
/* Bind fd, a new socket of family, to def's source address (no port:
 * IP_BIND_ADDRESS_NO_PORT leaves it to connect). 0 with no source address;
 * -EAFNOSUPPORT when the families differ; -errno from bind (EADDRNOTAVAIL:
 * the address is not this host's). For sockets opened by others (curl). */
int tp_bind_source(const struct tp_def *def, int fd, int family);

/* probe_ip_protocol and probe_ip_addr_hash, blackbox_exporter's names and
 * help, written for every result (0 when no address was chosen). */
#define TP_NIP_METRICS 2
extern const struct tp_metric tp_ip_metrics[TP_NIP_METRICS];

/* The common keys' judges and setters (config_keys.c has the rows). */
bool tp_key_check_ip_protocol(struct tp_cfgctx *c, const struct tp_arg *a);
bool tp_key_set_ip_protocol(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
bool tp_key_set_ip_fallback(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);
bool tp_key_check_source_ip(struct tp_cfgctx *c, const struct tp_arg *a);
bool tp_key_set_source_ip(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a);

#endif
