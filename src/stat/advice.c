/* The advice rules of `twkit stat`. Each is documented in docs/STAT.md
 * under its id, with its fix, and tested in tests/unit/test_stat_advice.c
 * (on made-up numbers) or tests/lab/test_stat.c (on the kernel's). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stat/stat.h"

/* Every finding is kept: one destination under pressure per destination,
 * however many there are, and a finding that comes late (tw-near-limit)
 * is never crowded out. Returns the finding for its fix (valid until the
 * next add), or NULL when it could not be kept. */
static struct tw_advice *add(struct tw_stat *st, const char *id, enum tw_severity sev,
                             const char *reason, const char *fmt, ...)
{
    struct tw_advice *a;
    va_list ap;

    if (st->nadvice == st->advice_cap) {
        size_t cap = st->advice_cap ? 2 * st->advice_cap : 16;
        struct tw_advice *n = realloc(st->advice, cap * sizeof(*n));
        if (!n) {
            st->advice_lost = true;
            return NULL;
        }
        st->advice = n;
        st->advice_cap = cap;
    }
    a = &st->advice[st->nadvice++];
    a->id = id;
    a->severity = sev;
    a->reason = reason;
    a->fix[0] = a->brief[0] = 0;
    va_start(ap, fmt);
    vsnprintf(a->evidence, sizeof(a->evidence), fmt, ap);
    va_end(ap);
    return a;
}

/* One more line of the fix (a may be NULL: the finding was not kept). */
static void fix(struct tw_advice *a, const char *fmt, ...)
{
    size_t n;
    va_list ap;

    if (!a)
        return;
    n = strlen(a->fix);
    if (n && n + 1 < sizeof(a->fix))
        a->fix[n++] = '\n';
    va_start(ap, fmt);
    vsnprintf(a->fix + n, sizeof(a->fix) - n, fmt, ap);
    va_end(ap);
}

/* A sysctl's fix: set now, and kept at boot (sysctl.d is read by
 * systemd-sysctl and procps alike). Values with a blank are quoted for the
 * shell. In a named namespace (--netns) the command runs there, and
 * sysctl.d, read for the host's namespace at boot, keeps nothing: the
 * setting belongs wherever the namespace is made. */
static void fix_sysctl(const struct tw_stat *st, struct tw_advice *a, const char *name,
                       const char *value)
{
    const char *q = strchr(value, ' ') ? "\"" : "";

    if (st->netns) {
        fix(a, "ip netns exec %s sysctl -w net.ipv4.%s=%s%s%s", st->netns, name, q, value, q);
        fix(a, "and to keep it, in what creates the namespace %s (/etc/sysctl.d is the "
               "host's namespace's only): the same command", st->netns);
        return;
    }
    fix(a, "sysctl -w net.ipv4.%s=%s%s%s", name, q, value, q);
    fix(a, "and to keep it at boot, in /etc/sysctl.d/90-twkit.conf: net.ipv4.%s = %s", name,
        value);
}

/* What ends an application's TIME_WAIT, for the rules whose cause is who
 * closes first rather than a setting. */
static const char find_who[] = "find the process that closes first: twkit stat --who 10";
static const char stop_closing[] =
    "then make it stop closing first: pool connections (keep-alive), end them with twkit's "
    "BYE/GOODBYE (the client aborts after GOODBYE), or for a prober SO_LINGER {1, 0} "
    "before close() (an RST, no TIME_WAIT)";

static void overflow(struct tw_stat *st, const struct tw_stat *prev)
{
    const int64_t *sy = st->sysctl;
    struct tw_advice *a;

    if (!st->have_counter[TW_SC_OVERFLOW] || !st->counter[TW_SC_OVERFLOW])
        return;
    bool growing = prev && st->counter[TW_SC_OVERFLOW] > prev->counter[TW_SC_OVERFLOW];
    a = add(st, "tw-overflow", growing ? TW_SEV_CRITICAL : TW_SEV_WARNING,
            "The kernel hit tcp_max_tw_buckets and closed connections without TIME_WAIT, so "
            "late segments of old connections can corrupt new ones. Stop making TIME_WAIT "
            "(who closes first?) rather than raising the limit.",
            "TCPTimeWaitOverflow %llu%s (tcp_max_tw_buckets %lld, tw now %lld)",
            (unsigned long long)st->counter[TW_SC_OVERFLOW],
            growing ? ", growing" : " since boot", (long long)sy[TW_SY_MAX_TW_BUCKETS],
            (long long)st->sockstat_tw);
    fix(a, find_who);
    fix(a, stop_closing);
}

/* Ends of a different parity, keeping the range as wide: the high end one
 * up, or at 65535 the low end one up. */
static void port_range(struct tw_stat *st)
{
    int64_t lo = st->sysctl[TW_SY_PORT_LO], hi = st->sysctl[TW_SY_PORT_HI];
    struct tw_advice *a;
    char v[48];

    if (lo < 0 || hi < lo)
        return;
    long long ports = hi - lo + 1 - st->reserved_in_range;
    if ((lo & 1) == (hi & 1)) {
        a = add(st, "port-range-parity", TW_SEV_INFO,
                "connect() scans the ports of the low end's parity first and leaves the other "
                "parity to bind(); the kernel documentation asks for ends of different parity "
                "so the two halves are equal.",
                "ip_local_port_range %lld %lld: both %s", (long long)lo, (long long)hi,
                (lo & 1) ? "odd" : "even");
        snprintf(v, sizeof(v), "%lld %lld", (long long)(hi < 65535 ? lo : lo + 1),
                 (long long)(hi < 65535 ? hi + 1 : hi));
        fix_sysctl(st, a, "ip_local_port_range", v);
    }
    if (ports < 10000) {
        a = add(st, "port-range-small", TW_SEV_WARNING,
                "Each destination can take only ports/60 s new connections from a client that "
                "closes first; a narrow range makes EADDRNOTAVAIL come early.",
                "%lld usable local ports (ip_local_port_range %lld %lld, %u reserved): "
                "at most %.0f new connections/s per destination",
                ports, (long long)lo, (long long)hi, st->reserved_in_range, ports / 60.0);
        /* 65535 is odd: an even low end */
        int64_t nlo = lo < 1024 ? lo : 1024;
        snprintf(v, sizeof(v), "%lld 65535", (long long)(nlo + (nlo & 1)));
        fix_sysctl(st, a, "ip_local_port_range", v);
        fix(a, "and reserve the ports this host's own services listen on inside it: "
               "net.ipv4.ip_local_reserved_ports (e.g. 8080,9000-9010), the same two ways");
    }
}

/* Critical when the ports run out within 5 minutes at this rate or 90 %
 * are held; the forecast says within 60 s or never without reuse, and with
 * reuse acting it can say later, which leaves time to act. */
static void pressure(struct tw_stat *st, const struct tw_stat_group *g)
{
    char a[TW_ADDRSTRLEN], b[TW_ADDRSTRLEN], left[48] = "";
    bool running_out = g->secs_left >= 0, soon = running_out && g->secs_left < 300;
    struct tw_advice *ad;

    if (g->server || !g->usable || (g->total * 2 <= g->usable && !running_out))
        return;
    if (running_out)
        snprintf(left, sizeof(left), "; out of ports in %.0f s at this rate", g->secs_left);
    ad = add(st, "destination-pressure",
             g->total * 10 >= g->usable * 9 || soon ? TW_SEV_CRITICAL : TW_SEV_WARNING,
             "Every connection to one destination needs its own local port until its "
             "TIME_WAIT ends; past the usable ports connect() fails with EADDRNOTAVAIL. Pool "
             "connections, end them with BYE/abort, or let the server close first.",
             "%s -> %s: %u of %u usable ports in use (%.0f%%), %u TIME_WAIT; "
             "%.0f new/s observed, %.0f/s sustainable%s",
             tw_addr_host(&g->local, a, sizeof(a)), tw_addr_format(&g->remote, b, sizeof(b)),
             g->total, g->usable, 100.0 * g->total / g->usable, g->n[TW_TCP_TIME_WAIT],
             g->rate, g->max_rate, left);
    if (!ad)
        return;
    if (running_out)
        snprintf(ad->brief, sizeof(ad->brief), "%s: out of ports in %.0f s", b, g->secs_left);
    else
        snprintf(ad->brief, sizeof(ad->brief), "%s: %.0f%% of ports in use", b,
                 100.0 * g->total / g->usable);
    fix(ad, "pool the connections to %s (keep-alive: many requests, one port)", b);
    fix(ad, "or end each with twkit's BYE/GOODBYE (the client aborts after GOODBYE: no "
            "TIME_WAIT); a prober: SO_LINGER {1, 0} before close()");
    fix(ad, "or more source addresses: set IP_BIND_ADDRESS_NO_PORT, bind() to one of them, "
            "then connect() (each address has its own ports)");
    fix(ad, "or let the server close first (its TIME_WAIT holds no port of this range)");
}

/* A client that churns towards a busy destination with tcp_tw_reuse not
 * acting for it (0, or the default 2 and not loopback), while it could:
 * timestamps are on. One finding: it is one setting; the evidence names
 * the busiest such destination (groups are sorted by TIME_WAIT). */
static void reuse_off(struct tw_stat *st)
{
    const int64_t *sy = st->sysctl;
    const struct tw_stat_group *first = NULL;
    char a[TW_ADDRSTRLEN], b[TW_ADDRSTRLEN], more[48] = "";
    struct tw_advice *ad;
    size_t busy = 0;

    if ((sy[TW_SY_TW_REUSE] != 0 && sy[TW_SY_TW_REUSE] != 2) || sy[TW_SY_TIMESTAMPS] <= 0)
        return;
    for (size_t i = 0; i < st->ngroups; i++) {
        const struct tw_stat_group *g = &st->groups[i];
        if (g->server || g->reuse || !g->usable ||
            !(g->rate * 2 > g->max_rate || g->total * 2 > g->usable))
            continue;
        first = first ? first : g;
        busy++;
    }
    if (!first)
        return;
    if (busy > 1)
        snprintf(more, sizeof(more), "; %zu more destination%s", busy - 1,
                 busy == 2 ? "" : "s");
    ad = add(st, "tw-reuse-off-busy-client", TW_SEV_WARNING,
             "With tcp_tw_reuse=1, connect() may take the port of a TIME_WAIT towards the same "
             "destination once it is older than tcp_tw_reuse_delay (1 s): the ports last, "
             "instead of running out within 60 s. It is safe for outgoing connections when "
             "both sides use TCP timestamps: PAWS then drops the old connection's late "
             "segments. It only helps connect() (not accepted connections), and 2, the "
             "default, does it for loopback only. It is not tcp_tw_recycle, which broke "
             "clients behind NAT and was removed in Linux 4.12.",
             "tcp_tw_reuse=%lld, tcp_timestamps=%lld; %s -> %s: %.0f new/s observed of "
             "%.0f/s sustainable, %u of %u ports in use%s",
             (long long)sy[TW_SY_TW_REUSE], (long long)sy[TW_SY_TIMESTAMPS],
             tw_addr_host(&first->local, a, sizeof(a)),
             tw_addr_format(&first->remote, b, sizeof(b)), first->rate, first->max_rate,
             first->total, first->usable, more);
    if (ad)
        snprintf(ad->brief, sizeof(ad->brief), "%s", b);
    fix_sysctl(st, ad, "tcp_tw_reuse", "1");
}

static void server_side(struct tw_stat *st)
{
    struct tw_advice *a;

    if (!st->tw_server || !st->sock_client)
        return;
    a = add(st, "server-side-time-wait", TW_SEV_WARNING,
            "This host's server side closes first, so the TIME_WAIT of the connections it "
            "accepted is held here. That uses no local port of this host's range (its local "
            "port is the listening port), but it takes memory and the slots of "
            "tcp_max_tw_buckets that this host's outbound connections' TIME_WAIT needs too. A "
            "server should ask the client to close (protocol-level) and close only after the "
            "client's FIN.",
            "%u TIME_WAIT on the server side, %u client-side sockets", st->tw_server,
            st->sock_client);
    fix(a, "let the client close first: ask it to (twp DONE, HTTP Connection: close), read "
           "until its FIN (read() returns 0), then close");
    fix(a, "twkit serve does this by default; find the server that does not: twkit stat "
           "--who 10");
}

/* The kernel's default limit is tcp_ehash_entries / 2 (negative: a
 * namespace's own table, its size the absolute value). */
static void limits(struct tw_stat *st)
{
    const int64_t *sy = st->sysctl;
    struct tw_advice *a;
    char v[24];

    if (sy[TW_SY_MAX_TW_BUCKETS] < 0 || sy[TW_SY_EHASH_ENTRIES] == -1)
        return;
    int64_t def = (sy[TW_SY_EHASH_ENTRIES] < 0 ? -sy[TW_SY_EHASH_ENTRIES]
                                               : sy[TW_SY_EHASH_ENTRIES]) / 2;
    if (sy[TW_SY_MAX_TW_BUCKETS] >= def)
        return;
    a = add(st, "max-tw-buckets-lowered", TW_SEV_WARNING,
            "Lowering tcp_max_tw_buckets does not make fewer TIME_WAIT sockets; past it "
            "the kernel just drops TIME_WAIT protection (TCPTimeWaitOverflow).",
            "tcp_max_tw_buckets %lld, default here %lld (tcp_ehash_entries / 2)",
            (long long)sy[TW_SY_MAX_TW_BUCKETS], (long long)def);
    snprintf(v, sizeof(v), "%lld", (long long)def);
    fix_sysctl(st, a, "tcp_max_tw_buckets", v);
}

static void settings(struct tw_stat *st)
{
    const int64_t *sy = st->sysctl;
    struct tw_advice *a;

    if (sy[TW_SY_TIMESTAMPS] == 0 && sy[TW_SY_TW_REUSE] > 0) {
        a = add(st, "reuse-without-timestamps", TW_SEV_WARNING,
                "tcp_tw_reuse only reuses a TIME_WAIT port when TCP timestamps prove the new "
                "connection is newer; with tcp_timestamps=0 it can never act. Turn timestamps "
                "back on.",
                "tcp_timestamps=0, tcp_tw_reuse=%lld", (long long)sy[TW_SY_TW_REUSE]);
        fix_sysctl(st, a, "tcp_timestamps", "1");
    }
    if (sy[TW_SY_TW_REUSE] == 1 && st->sock_server > st->sock_client) {
        a = add(st, "reuse-on-inbound-host", TW_SEV_INFO,
                "tcp_tw_reuse applies to outgoing connect() only; on a host that mostly "
                "accepts it does nothing for the TIME_WAIT its server side holds.",
                "tcp_tw_reuse=1; %u server-side sockets, %u client-side", st->sock_server,
                st->sock_client);
        fix(a, "nothing to set: tcp_tw_reuse=1 does no harm here");
        fix(a, "the server side's TIME_WAIT ends when the server lets the client close "
               "first (read until its FIN, then close)");
    }
    if (sy[TW_SY_FIN_TIMEOUT] >= 0 && sy[TW_SY_FIN_TIMEOUT] < 60) {
        a = add(st, "fin-timeout-lowered", TW_SEV_INFO,
                "tcp_fin_timeout is how long an orphaned socket (closed by its process) waits "
                "in FIN_WAIT2 for the peer's FIN. It does not shorten TIME_WAIT, which is "
                "fixed at 60 s in Linux (TCP_TIMEWAIT_LEN); lowered, it only cuts off peers "
                "that are slow to close.",
                "tcp_fin_timeout=%lld (default 60)", (long long)sy[TW_SY_FIN_TIMEOUT]);
        fix_sysctl(st, a, "tcp_fin_timeout", "60");
        fix(a, "for the TIME_WAIT itself, change who closes first: twkit stat --who 10");
    }
}

static void near_limit(struct tw_stat *st)
{
    const int64_t *sy = st->sysctl;
    struct tw_advice *a;

    if (sy[TW_SY_MAX_TW_BUCKETS] <= 0 || st->sockstat_tw * 10 < sy[TW_SY_MAX_TW_BUCKETS] * 8)
        return;
    a = add(st, "tw-near-limit", TW_SEV_CRITICAL,
            "TIME_WAIT sockets are close to tcp_max_tw_buckets; past it the kernel drops "
            "TIME_WAIT protection.",
            "%lld TIME_WAIT of tcp_max_tw_buckets %lld", (long long)st->sockstat_tw,
            (long long)sy[TW_SY_MAX_TW_BUCKETS]);
    fix(a, find_who);
    fix(a, stop_closing);
    fix(a, "or let the server close first; raising the limit only postpones it");
}

/* most severe first, in the order found within a severity */
static void sort(struct tw_stat *st)
{
    for (size_t i = 1; i < st->nadvice; i++) {
        struct tw_advice x = st->advice[i];
        size_t j = i;
        for (; j > 0 && st->advice[j - 1].severity < x.severity; j--)
            st->advice[j] = st->advice[j - 1];
        st->advice[j] = x;
    }
}

void tw_stat_advise(struct tw_stat *st, const struct tw_stat *prev, const char *netns)
{
    st->netns = netns;
    st->nadvice = 0;
    st->advice_lost = false;
    overflow(st, prev);
    settings(st);
    port_range(st);
    for (size_t i = 0; i < st->ngroups; i++)
        pressure(st, &st->groups[i]);
    reuse_off(st);
    server_side(st);
    limits(st);
    near_limit(st);
    sort(st);
}
