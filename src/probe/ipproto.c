/* twkit probe: the address family a probe uses and its source address, as
 * blackbox_exporter 0.23 means preferred_ip_protocol (ip6 unless ip4),
 * ip_protocol_fallback (default true) and source_ip_address; and what a
 * result says of the address it probed (docs/PROBE.md, "Address family").
 *
 * blackbox_exporter classes an address by Go's To4(): an IPv4-mapped IPv6
 * address counts as IPv4, and its hash is over the 4 bytes. So here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "probe/config.h"
#include "probe/ipproto.h"
#include "probe/probe.h"
#include "util/prom.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

int tp_def_ip_prefer(const struct tp_def *def)
{
    return def->ip_prefer == AF_INET ? AF_INET : AF_INET6;
}

bool tp_addr_is_ipv4(const tw_addr *a)
{
    if (a->len && a->u.sa.sa_family == AF_INET)
        return true;
    return a->len && a->u.sa.sa_family == AF_INET6 &&
           IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr);
}

uint32_t tp_ip_hash(const tw_addr *a)
{
    const unsigned char *b;
    size_t n;
    uint32_t h = 2166136261u;

    if (!a->len)
        return 0;
    if (a->u.sa.sa_family == AF_INET) {
        b = (const unsigned char *)&a->u.in.sin_addr;
        n = 4;
    } else if (tp_addr_is_ipv4(a)) {
        b = (const unsigned char *)&a->u.in6.sin6_addr + 12;
        n = 4;
    } else {
        b = (const unsigned char *)&a->u.in6.sin6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 16777619u;
    }
    return h;
}

void tp_result_addr(struct tp_result *r, const tw_addr *a)
{
    r->addr = *a;
    r->ip_protocol = tp_addr_is_ipv4(a) ? 4 : 6;
    r->ip_hash = tp_ip_hash(a);
}

static const char *family_word(int family) { return family == AF_INET ? "IPv4" : "IPv6"; }

bool tp_literal_fits(const struct tp_target *t, struct tp_result *r)
{
    int prefer = tp_def_ip_prefer(t->def);

    if (!t->def->ip_no_fallback || tp_addr_is_ipv4(&t->addr) == (prefer == AF_INET))
        return true;
    /* blackbox_exporter looks a literal up for the one family too, and Go
     * answers "no suitable address" */
    r->outcome = TP_FAILURE;
    r->reason = "dns";
    r->err = ENOENT;
    snprintf(r->detail, sizeof(r->detail),
             "%.80s is not an %s address, and ip_protocol_fallback is false", t->ep.host,
             family_word(prefer));
    return false;
}

bool tp_source_fits(const struct tp_target *t, struct tp_result *r)
{
    const tw_addr *src = &t->def->source;
    char sb[TW_ADDRSTRLEN], db[TW_ADDRSTRLEN];

    if (!src->len || src->u.sa.sa_family == t->addr.u.sa.sa_family)
        return true;
    r->outcome = TP_FAILURE;
    r->reason = "error";
    r->err = EAFNOSUPPORT;
    snprintf(r->detail, sizeof(r->detail), "source_ip_address %s is %s, the target's address %s "
             "is not", tw_addr_host(src, sb, sizeof(sb)), family_word(src->u.sa.sa_family),
             tw_addr_host(&t->addr, db, sizeof(db)));
    return false;
}

const struct tw_connect_opts *tp_source_opts(const struct tp_def *def,
                                             struct tw_connect_opts *o)
{
    if (!def->source.len)
        return NULL;
    memset(o, 0, sizeof(*o));
    o->source = &def->source;
    return o;
}

int tp_bind_source(const struct tp_def *def, int fd, int family)
{
    int one = 1;

    if (!def->source.len)
        return 0;
    if (def->source.u.sa.sa_family != family)
        return -EAFNOSUPPORT;
    /* Without it bind() would pick the port now, from the ports no socket
     * on this address holds, instead of connect() sharing them across
     * destinations: a prober making thousands of probes from one address
     * would run out. Kernels before 4.2 lack it: then bind() picks. */
    (void)setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    if (bind(fd, &def->source.u.sa, def->source.len) < 0)
        return -errno;
    return 0;
}

/* ---- metrics ---- */

/* Both, as blackbox has them, once an address was looked for: never for a
 * definition that does not resolve (a proxy is given the name). */
static void m_ip_protocol(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && !t->def->no_resolve)
        tu_prom_sample(p, l, "%d", t->last.ip_protocol);
}

static void m_ip_hash(const struct tp_target *t, struct tu_prom *p, const char *l)
{
    if (t->have_last && !t->def->no_resolve)
        tu_prom_sample(p, l, "%lu", (unsigned long)t->last.ip_hash);
}

const struct tp_metric tp_ip_metrics[TP_NIP_METRICS] = {
    {"probe_ip_protocol", "Specifies whether probe ip protocol is IP4 or IP6", m_ip_protocol},
    {"probe_ip_addr_hash",
     "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
     m_ip_hash},
};

/* ---- config keys ---- */

bool tp_key_check_ip_protocol(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;

    /* blackbox_exporter takes anything but "ip6" (and "") for ip4: a typo
     * like "IP6" would quietly probe over IPv4, so it is refused here */
    if (strcmp(a->s, "ip4") && strcmp(a->s, "ip6")) {
        tp_cfg_err(c, &a->v->at, "bad preferred_ip_protocol %s: expected ip4 or ip6",
                   tp_qs(&q, a->s));
        return false;
    }
    return true;
}

bool tp_key_set_ip_protocol(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->ip_prefer = strcmp(a->s, "ip4") ? AF_INET6 : AF_INET;
    return true;
}

bool tp_key_set_ip_fallback(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    def->ip_no_fallback = !a->b;
    return true;
}

/* An address, as Go's net.ParseIP takes one: no port, no brackets, no
 * zone. */
static bool parse_source(const char *s, tw_addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, &a->u.in.sin_addr) == 1) {
        a->u.in.sin_family = AF_INET;
        a->len = sizeof(a->u.in);
        return true;
    }
    if (inet_pton(AF_INET6, s, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->len = sizeof(a->u.in6);
        return true;
    }
    return false;
}

bool tp_key_check_source_ip(struct tp_cfgctx *c, const struct tp_arg *a)
{
    struct tp_quoted q;
    tw_addr x;

    if (!parse_source(a->s, &x)) {
        tp_cfg_err(c, &a->v->at, "bad source_ip_address %s: expected an IPv4 or IPv6 address "
                   "(no port)", tp_qs(&q, a->s));
        return false;
    }
    return true;
}

bool tp_key_set_source_ip(struct tp_cfgctx *c, struct tp_def *def, const struct tp_arg *a)
{
    return parse_source(a->s, &def->source);
}
