/* The dns kind's parts (kind_dns.c runs the query, dns_keys.c reads the
 * config): what they share.
 */
#ifndef TW_PROBE_KIND_DNS_H
#define TW_PROBE_KIND_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/config.h"
#include "probe/probe.h"
#include "probe/regex.h"

extern const struct tp_kind tp_kind_dns;

/* blackbox_exporter's DNSRRValidator: four lists of regexes matched
 * against each record of a section in its text form (dnsmsg.h). */
enum { TP_RR_MATCHES, TP_RR_ALL_MATCH, TP_RR_NOT_MATCHES, TP_RR_NONE_MATCHES, TP_RR_NCHECK };
struct tp_dns_rrcheck {
    struct tp_regex *re[TP_RR_NCHECK];
    size_t n[TP_RR_NCHECK];
};
extern const char *const tp_dns_check_names[TP_RR_NCHECK]; /* fail_if_matches_regexp... */

struct tp_dns_opts {
    char *qname;              /* query_name, as written */
    uint16_t qtype, qclass;   /* default ANY and IN, as blackbox's */
    bool rd;                  /* recursion_desired (default true) */
    bool tcp;                 /* transport_protocol: tcp */
    bool transport_written;
    bool dot;                 /* dns_over_tls (needs tcp; port 853 when the
                                 target names none) */
    uint16_t *rcodes;         /* valid_rcodes; none written: NOERROR */
    size_t nrcodes;
    struct tp_dns_rrcheck check[3]; /* validate_answer_rrs, _authority_,
                                       _additional_ */
    uint16_t edns;            /* edns0_buffer_size; 0: no OPT record */
    bool tcp_fallback;        /* a truncated UDP answer is asked again over
                                 TCP (default true) */
};

#define TP_DNS_NKEYS 12
extern const struct tp_key tp_dns_keys[TP_DNS_NKEYS];

/* The query of def into buf (id 0: the kind sets one per probe), or
 * -EINVAL / -ENOSPC (dnsmsg.h, tp_dns_query). */
int tp_dns_build_query(const struct tp_dns_opts *o, uint8_t *buf, size_t len);

#endif
