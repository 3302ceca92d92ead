/* The advice rules of `twkit stat`. Each is documented in docs/STAT.md
 * under its id, and tested in tests/lab/test_stat.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twkit/stat.h"

/* Every finding is kept: one destination under pressure per destination,
 * however many there are, and a finding that comes late (tw-near-limit)
 * is never crowded out. */
static void add(struct tw_stat *st, const char *id, enum tw_severity sev, const char *reason,
                const char *fmt, ...)
{
    struct tw_advice *a;
    va_list ap;

    if (st->nadvice == st->advice_cap) {
        size_t cap = st->advice_cap ? 2 * st->advice_cap : 16;
        struct tw_advice *n = realloc(st->advice, cap * sizeof(*n));
        if (!n) {
            st->advice_lost = true;
            return;
        }
        st->advice = n;
        st->advice_cap = cap;
    }
    a = &st->advice[st->nadvice++];
    a->id = id;
    a->severity = sev;
    a->reason = reason;
    va_start(ap, fmt);
    vsnprintf(a->evidence, sizeof(a->evidence), fmt, ap);
    va_end(ap);
}

void tw_stat_advise(struct tw_stat *st, const struct tw_stat *prev)
{
    const int64_t *sy = st->sysctl;
    int64_t lo = sy[TW_SY_PORT_LO], hi = sy[TW_SY_PORT_HI];
    char a[TW_ADDRSTRLEN], b[TW_ADDRSTRLEN];

    st->nadvice = 0;
    st->advice_lost = false;

    if (st->have_counter[TW_SC_OVERFLOW] && st->counter[TW_SC_OVERFLOW]) {
        bool growing = prev && st->counter[TW_SC_OVERFLOW] > prev->counter[TW_SC_OVERFLOW];
        add(st, "tw-overflow", growing ? TW_SEV_CRITICAL : TW_SEV_WARNING,
            "The kernel hit tcp_max_tw_buckets and closed connections without TIME_WAIT, so "
            "late segments of old connections can corrupt new ones. Stop making TIME_WAIT "
            "(who closes first?) rather than raising the limit.",
            "TCPTimeWaitOverflow %llu%s (tcp_max_tw_buckets %lld, tw now %lld)",
            (unsigned long long)st->counter[TW_SC_OVERFLOW],
            growing ? ", growing" : " since boot", (long long)sy[TW_SY_MAX_TW_BUCKETS],
            (long long)st->sockstat_tw);
    }

    if (sy[TW_SY_TIMESTAMPS] == 0 && sy[TW_SY_TW_REUSE] > 0)
        add(st, "reuse-without-timestamps", TW_SEV_WARNING,
            "tcp_tw_reuse only reuses a TIME_WAIT port when TCP timestamps prove the new "
            "connection is newer; with tcp_timestamps=0 it can never act. Turn timestamps "
            "back on.",
            "tcp_timestamps=0, tcp_tw_reuse=%lld", (long long)sy[TW_SY_TW_REUSE]);

    if (lo >= 0 && hi >= lo) {
        long long ports = hi - lo + 1 - st->reserved_in_range;
        if ((lo & 1) == (hi & 1))
            add(st, "port-range-parity", TW_SEV_INFO,
                "connect() scans the ports of the low end's parity first and leaves the other "
                "parity to bind(); the kernel documentation asks for ends of different parity "
                "so the two halves are equal.",
                "ip_local_port_range %lld %lld: both %s", (long long)lo, (long long)hi,
                (lo & 1) ? "odd" : "even");
        if (ports < 10000)
            add(st, "port-range-small", TW_SEV_WARNING,
                "Each destination can take only ports/60 s new connections from a client that "
                "closes first; a narrow range makes EADDRNOTAVAIL come early.",
                "%lld usable local ports (ip_local_port_range %lld %lld, %u reserved): "
                "at most %.0f new connections/s per destination",
                ports, (long long)lo, (long long)hi, st->reserved_in_range, ports / 60.0);
    }

    for (size_t i = 0; i < st->ngroups; i++) {
        const struct tw_stat_group *g = &st->groups[i];
        char left[48] = "";
        /* the forecast says when: within 60 s at this rate, or never */
        bool running_out = g->secs_left >= 0;
        if (g->server || !g->usable || (g->total * 2 <= g->usable && !running_out))
            continue;
        if (running_out)
            snprintf(left, sizeof(left), "; out of ports in %.0f s at this rate", g->secs_left);
        add(st, "destination-pressure",
            g->total * 10 >= g->usable * 9 || running_out ? TW_SEV_CRITICAL : TW_SEV_WARNING,
            "Every connection to one destination needs its own local port until its "
            "TIME_WAIT ends; past the usable ports connect() fails with EADDRNOTAVAIL. Pool "
            "connections, end them with BYE/abort, or let the server close first.",
            "%s -> %s: %u of %u usable ports in use (%.0f%%), %u TIME_WAIT; "
            "%.0f new/s observed, %.0f/s sustainable%s",
            tw_addr_host(&g->local, a, sizeof(a)), tw_addr_format(&g->remote, b, sizeof(b)),
            g->total, g->usable, 100.0 * g->total / g->usable, g->n[TW_TCP_TIME_WAIT], g->rate,
            g->max_rate, left);
    }

    if (st->tw_server && st->sock_client)
        add(st, "server-side-time-wait", TW_SEV_WARNING,
            "This host's server side closes first, so the TIME_WAIT of the connections it "
            "accepted is held here. That uses no local port of this host's range (its local "
            "port is the listening port), but it takes memory and the slots of "
            "tcp_max_tw_buckets that this host's outbound connections' TIME_WAIT needs too. A "
            "server should ask the client to close (protocol-level) and close only after the "
            "client's FIN.",
            "%u TIME_WAIT on the server side, %u client-side sockets", st->tw_server,
            st->sock_client);

    if (sy[TW_SY_MAX_TW_BUCKETS] >= 0 && sy[TW_SY_EHASH_ENTRIES] != -1) {
        int64_t def = (sy[TW_SY_EHASH_ENTRIES] < 0 ? -sy[TW_SY_EHASH_ENTRIES]
                                                   : sy[TW_SY_EHASH_ENTRIES]) / 2;
        if (sy[TW_SY_MAX_TW_BUCKETS] < def)
            add(st, "max-tw-buckets-lowered", TW_SEV_WARNING,
                "Lowering tcp_max_tw_buckets does not make fewer TIME_WAIT sockets; past it "
                "the kernel just drops TIME_WAIT protection (TCPTimeWaitOverflow).",
                "tcp_max_tw_buckets %lld, default here %lld (tcp_ehash_entries / 2)",
                (long long)sy[TW_SY_MAX_TW_BUCKETS], (long long)def);
    }

    if (sy[TW_SY_TW_REUSE] == 1 && st->sock_server > st->sock_client)
        add(st, "reuse-on-inbound-host", TW_SEV_INFO,
            "tcp_tw_reuse applies to outgoing connect() only; on a host that mostly accepts "
            "it does nothing for the TIME_WAIT its server side holds.",
            "tcp_tw_reuse=1; %u server-side sockets, %u client-side", st->sock_server,
            st->sock_client);

    if (sy[TW_SY_MAX_TW_BUCKETS] > 0 && st->sockstat_tw * 10 >= sy[TW_SY_MAX_TW_BUCKETS] * 8)
        add(st, "tw-near-limit", TW_SEV_CRITICAL,
            "TIME_WAIT sockets are close to tcp_max_tw_buckets; past it the kernel drops "
            "TIME_WAIT protection.",
            "%lld TIME_WAIT of tcp_max_tw_buckets %lld", (long long)st->sockstat_tw,
            (long long)sy[TW_SY_MAX_TW_BUCKETS]);

    /* most severe first, in the order found within a severity */
    for (size_t i = 1; i < st->nadvice; i++) {
        struct tw_advice x = st->advice[i];
        size_t j = i;
        for (; j > 0 && st->advice[j - 1].severity < x.severity; j--)
            st->advice[j] = st->advice[j - 1];
        st->advice[j] = x;
    }
}
