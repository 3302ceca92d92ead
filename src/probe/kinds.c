/* twkit probe: the probe kinds. Each is one kind_*.c, with its keys, its
 * targets, its run, its metrics and its JSON fields in its struct tp_kind;
 * this table is the only list of them (docs/DESIGN.md, "Adding a probe
 * kind"). Messages that name the kinds ("tcp, http or tls") are made from
 * it.
 */
#include <stdio.h>
#include <string.h>

#include "probe/probe.h"

extern const struct tp_kind tp_kind_tcp;  /* kind_tcp.c */
extern const struct tp_kind tp_kind_http; /* kind_http.c */
extern const struct tp_kind tp_kind_tls;  /* kind_tls.c */
extern const struct tp_kind tp_kind_dns;  /* kind_dns.c */
extern const struct tp_kind tp_kind_icmp; /* kind_icmp.c */

/* The order is the one messages and the docs name the kinds in. */
const struct tp_kind *const tp_kinds[] = {
    &tp_kind_tcp,
    &tp_kind_http,
    &tp_kind_tls,
    &tp_kind_dns,
    &tp_kind_icmp,
};
const size_t tp_nkinds = sizeof(tp_kinds) / sizeof(tp_kinds[0]);

const struct tp_kind *tp_kind_find(const char *name)
{
    for (size_t i = 0; i < tp_nkinds; i++)
        if (!strcmp(tp_kinds[i]->name, name))
            return tp_kinds[i];
    return NULL;
}

size_t tp_kind_index(const struct tp_kind *k)
{
    size_t i = 0;

    while (i < tp_nkinds && tp_kinds[i] != k)
        i++;
    return i;
}

const char *tp_kinds_words(char *buf, size_t len, bool (*pick)(const struct tp_kind *k,
                                                               const void *arg),
                           const void *arg, const char *conj)
{
    size_t total = 0, n = 0, used = 0;

    for (size_t i = 0; i < tp_nkinds; i++)
        total += !pick || pick(tp_kinds[i], arg);
    buf[0] = '\0';
    for (size_t i = 0; i < tp_nkinds; i++) {
        if (pick && !pick(tp_kinds[i], arg))
            continue;
        if (n > 0 && n + 1 < total && used < len)
            used += (size_t)snprintf(buf + used, len - used, ", ");
        else if (n > 0 && used < len)
            used += (size_t)snprintf(buf + used, len - used, " %s ", conj);
        if (used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s", tp_kinds[i]->name);
        n++;
    }
    return buf;
}
