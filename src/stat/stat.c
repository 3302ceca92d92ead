/* twkit stat: collect the namespace's TCP picture and give advice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stat/internal.h"
#include "stat/stat.h"
#include "twkit/time.h"

#define TW_LEN_MS 60000u   /* TCP_TIMEWAIT_LEN: fixed */
#define RECENT_MS 10000u   /* "born recently": expires within 10 s of 60 s */
#define RATE_S 3           /* the observed rate: TIME_WAIT born in the last 3 s */
#define TCP_LISTEN 10

const char *const tw_stat_counter_names[TW_SC_NCOUNTERS] = {
    "TW", "TWKilled", "TWRecycled", "TCPTimeWaitOverflow", "TCPAbortOnData",
    "TCPAbortOnClose", "TCPAbortOnTimeout", "TCPAbortOnLinger", "TCPAbortOnMemory",
    "PAWSActive", "PAWSEstab", "TCPACKSkippedTimeWait",
};

const char *const tw_stat_sysctl_names[TW_SY_NSYSCTLS] = {
    "ip_local_port_range[lo]", "ip_local_port_range[hi]", "tcp_tw_reuse",
    "tcp_tw_reuse_delay", "tcp_timestamps", "tcp_max_tw_buckets", "tcp_ehash_entries",
    "tcp_fin_timeout", "tcp_rfc1337", "ip_autobind_reuse",
};

const char *tw_severity_name(enum tw_severity s)
{
    return s == TW_SEV_CRITICAL ? "critical" : s == TW_SEV_WARNING ? "warning" : "info";
}

static void problem(struct tw_stat *st, const char *fmt, const char *what)
{
    size_t n = strlen(st->problems);
    snprintf(st->problems + n, sizeof(st->problems) - n, fmt, what);
}

/* ---- sysctls and /proc ------------------------------------------------- */

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -errno;
    n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
    return 0;
}

/* A decimal number at *p (after blanks), moved past; false if none or
 * out of a long's range. */
static bool number(const char **p, long *v)
{
    char *end;

    errno = 0;
    *v = strtol(*p, &end, 10);
    if (end == *p || errno)
        return false;
    *p = end;
    return true;
}

int tw__stat_port_range(const char *text, int64_t *lo, int64_t *hi)
{
    long a, b;

    if (!number(&text, &a) || !number(&text, &b) || a < 0 || a > b || b > 65535)
        return -EINVAL;
    *lo = a;
    *hi = b;
    return 0;
}

uint32_t tw__stat_reserved(const char *text, int64_t lo, int64_t hi)
{
    uint8_t seen[65536 / 8] = {0}; /* the kernel's list is a bitmap too */
    uint32_t n = 0;

    if (lo < 0)
        lo = 0;
    if (hi > 65535)
        hi = 65535;
    for (const char *p = text; *p;) {
        long a, b;
        if (!number(&p, &a)) {
            p++; /* a separator, or something that is not a port */
            continue;
        }
        b = a;
        if (*p == '-') {
            p++;
            if (!number(&p, &b))
                continue;
        }
        if (a < 0 || b > 65535 || a > b)
            continue;
        for (long port = a < lo ? lo : a; port <= b && port <= hi; port++)
            if (!(seen[port / 8] & (1u << (port % 8)))) {
                seen[port / 8] |= (uint8_t)(1u << (port % 8));
                n++;
            }
    }
    return n;
}

int tw__stat_sockstat(const char *text, int64_t *inuse, int64_t *tw)
{
    static const char *const keys[] = {"inuse", "orphan", "tw"};
    const char *p = text;
    long v[3];

    while (strncmp(p, "TCP: ", 5) != 0) { /* a line of its own, not MPTCP's */
        if (!(p = strchr(p, '\n')))
            return -ENOENT;
        p++;
    }
    p += 5;
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(keys[i]);
        p += strspn(p, " ");
        if (strncmp(p, keys[i], k) != 0 || p[k] != ' ')
            return -EPROTO;
        p += k;
        if (!number(&p, &v[i]) || v[i] < 0)
            return -EPROTO;
    }
    *inuse = v[0];
    *tw = v[2];
    return 0;
}

static void read_sysctls(struct tw_stat *st)
{
    static const char *const files[TW_SY_NSYSCTLS] = {
        "ip_local_port_range", NULL, "tcp_tw_reuse", "tcp_tw_reuse_delay",
        "tcp_timestamps", "tcp_max_tw_buckets", "tcp_ehash_entries", "tcp_fin_timeout",
        "tcp_rfc1337", "ip_autobind_reuse",
    };
    char path[128], buf[4096];

    for (int i = 0; i < TW_SY_NSYSCTLS; i++) {
        if (!files[i])
            continue;
        snprintf(path, sizeof(path), "/proc/sys/net/ipv4/%s", files[i]);
        st->sysctl[i] = -1;
        if (read_file(path, buf, sizeof(buf)) < 0) {
            if (i != TW_SY_TW_REUSE_DELAY && i != TW_SY_EHASH_ENTRIES) /* newer kernels */
                problem(st, "sysctl %s not readable; ", files[i]);
            continue;
        }
        if (i == TW_SY_PORT_LO)
            tw__stat_port_range(buf, &st->sysctl[TW_SY_PORT_LO], &st->sysctl[TW_SY_PORT_HI]);
        else
            st->sysctl[i] = strtoll(buf, NULL, 10);
    }
    if (st->sysctl[TW_SY_PORT_LO] < 0) {
        st->sysctl[TW_SY_PORT_HI] = -1;
        return;
    }
    /* reserved ports inside the range: "8080,9000-9010" */
    if (read_file("/proc/sys/net/ipv4/ip_local_reserved_ports", buf, sizeof(buf)) == 0)
        st->reserved_in_range = tw__stat_reserved(buf, st->sysctl[TW_SY_PORT_LO],
                                                  st->sysctl[TW_SY_PORT_HI]);
}

static void read_counters(struct tw_stat *st)
{
    char buf[2048];
    int r;

    for (int i = 0; i < TW_SC_NCOUNTERS; i++) {
        r = tw_proc_counter("TcpExt", tw_stat_counter_names[i], &st->counter[i]);
        st->have_counter[i] = r == 0;
        if (r < 0)
            problem(st, "TcpExt %s missing; ", tw_stat_counter_names[i]);
    }
    st->sockstat_tw = st->sockstat_inuse = -1;
    if (read_file("/proc/thread-self/net/sockstat", buf, sizeof(buf)) < 0 ||
        (r = tw__stat_sockstat(buf, &st->sockstat_inuse, &st->sockstat_tw)) == -ENOENT)
        problem(st, "%s not readable; ", "/proc/net/sockstat");
    else if (r < 0)
        problem(st, "%s: unexpected TCP line; ", "/proc/net/sockstat");
}

/* ---- sockets: two dumps, listeners first -------------------------------- */

struct key {
    uint8_t server, family;
    uint16_t port;          /* client: remote port; server: local port */
    uint8_t local[16], remote[16];
};

struct collect {
    struct tw_stat *st;
    uint8_t listening[65536 / 8];
    struct key *keys;        /* open addressing */
    uint32_t *slot;          /* index + 1 into st->groups, 0 empty */
    size_t cap, cap_groups;
    int err;
};

static void addr_bytes(const tw_addr *a, uint8_t out[16])
{
    memset(out, 0, 16);
    if (a->u.sa.sa_family == AF_INET)
        memcpy(out, &a->u.in.sin_addr, 4);
    else if (a->u.sa.sa_family == AF_INET6)
        memcpy(out, &a->u.in6.sin6_addr, 16);
}

static uint64_t hash_key(const struct key *k)
{
    const uint8_t *p = (const uint8_t *)k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(*k); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int on_listener(const struct tw_diag_sock *s, void *arg)
{
    struct collect *c = arg;
    uint16_t port = tw_addr_port(&s->local);

    c->listening[port / 8] |= (uint8_t)(1u << (port % 8));
    c->st->states.n[TCP_LISTEN]++;
    return 0;
}

static int grow(struct collect *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    uint32_t *slot = calloc(ncap, sizeof(*slot));
    struct key *keys = calloc(ncap, sizeof(*keys));

    if (!slot || !keys) {
        free(slot);
        free(keys);
        return -ENOMEM;
    }
    for (size_t i = 0; i < c->cap; i++) {
        if (!c->slot[i])
            continue;
        size_t j = hash_key(&c->keys[i]) & (ncap - 1);
        while (slot[j])
            j = (j + 1) & (ncap - 1);
        slot[j] = c->slot[i];
        keys[j] = c->keys[i];
    }
    free(c->slot);
    free(c->keys);
    c->slot = slot;
    c->keys = keys;
    c->cap = ncap;
    return 0;
}

static struct tw_stat_group *group_for(struct collect *c, const struct key *k,
                                       const struct tw_diag_sock *s)
{
    struct tw_stat *st = c->st;
    size_t j;

    if ((st->ngroups + 1) * 2 > c->cap && grow(c) < 0)
        return NULL;
    for (j = hash_key(k) & (c->cap - 1); c->slot[j]; j = (j + 1) & (c->cap - 1))
        if (memcmp(&c->keys[j], k, sizeof(*k)) == 0)
            return &st->groups[c->slot[j] - 1];
    if (st->ngroups == c->cap_groups) {
        size_t n = c->cap_groups ? c->cap_groups * 2 : 64;
        struct tw_stat_group *g = realloc(st->groups, n * sizeof(*g));
        if (!g)
            return NULL;
        st->groups = g;
        c->cap_groups = n;
    }
    struct tw_stat_group *g = &st->groups[st->ngroups++];
    memset(g, 0, sizeof(*g));
    g->server = k->server;
    g->local = s->local;
    if (k->server) {
        g->remote.u.sa.sa_family = 0;
    } else {
        tw_addr_set_port(&g->local, 0);
        g->remote = s->remote;
    }
    g->exp_min = UINT32_MAX;
    c->keys[j] = *k;
    c->slot[j] = (uint32_t)st->ngroups;
    return g;
}

static bool v4_mapped(const tw_addr *a)
{
    return a->u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr);
}

/* ::ffff:a.b.c.d as a.b.c.d, same port. */
static void unmap(tw_addr *a)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = a->u.in6.sin6_port};

    memcpy(&in.sin_addr, &a->u.in6.sin6_addr.s6_addr[12], 4);
    memset(a, 0, sizeof(*a));
    a->u.in = in;
    a->len = sizeof(in);
}

static int on_sock(const struct tw_diag_sock *s, void *arg)
{
    struct collect *c = arg;
    struct tw_stat *st = c->st;
    struct tw_diag_sock s4;
    struct key k = {0};
    struct tw_stat_group *g;
    uint16_t lport;

    /* An IPv4 connection of a dual-stack socket comes as ::ffff:a.b.c.d: it
     * takes its local port from the same pool as plain IPv4 ones to the same
     * destination, so it is grouped with them. */
    if (v4_mapped(&s->local) && v4_mapped(&s->remote)) {
        s4 = *s;
        unmap(&s4.local);
        unmap(&s4.remote);
        s = &s4;
    }
    lport = tw_addr_port(&s->local);

    /* Server side: a listening port, or a port below ip_local_port_range,
     * which connect() would not have picked: the TIME_WAIT of a listener
     * closed since is still the server's, not 50 client destinations.
     * (Above the range is left alone: narrowing the range from the top
     * leaves clients' sockets there.) */
    k.server = ((c->listening[lport / 8] >> (lport % 8)) & 1) ||
               lport < st->sysctl[TW_SY_PORT_LO];
    k.family = (uint8_t)s->local.u.sa.sa_family;
    addr_bytes(&s->local, k.local);
    if (k.server) {
        k.port = lport;
    } else {
        k.port = tw_addr_port(&s->remote);
        addr_bytes(&s->remote, k.remote);
    }
    if (!(g = group_for(c, &k, s)))
        return -ENOMEM;
    if (s->state < TW_TCP_NSTATES)
        g->n[s->state]++;
    g->total++;
    if (k.server)
        st->sock_server++;
    else
        st->sock_client++;
    if (s->state == TW_TCP_TIME_WAIT) {
        if (k.server)
            st->tw_server++;
        else
            st->tw_client++;
        if (s->expires_ms < g->exp_min)
            g->exp_min = s->expires_ms;
        if (s->expires_ms > g->exp_max)
            g->exp_max = s->expires_ms;
        if (s->expires_ms + RECENT_MS >= TW_LEN_MS)
            g->tw_recent++;
        g->tw_by_sec[s->expires_ms >= TW_LEN_MS ? 59 : s->expires_ms / 1000]++;
    }
    return 0;
}

static int by_total(const void *a, const void *b)
{
    const struct tw_stat_group *x = a, *y = b;
    if (x->n[TW_TCP_TIME_WAIT] != y->n[TW_TCP_TIME_WAIT])
        return x->n[TW_TCP_TIME_WAIT] > y->n[TW_TCP_TIME_WAIT] ? -1 : 1;
    return x->total > y->total ? -1 : x->total < y->total;
}

static bool is_loopback(const tw_addr *a)
{
    static const uint8_t v6lo[16] = {[15] = 1};
    if (a->u.sa.sa_family == AF_INET)
        return (ntohl(a->u.in.sin_addr.s_addr) >> 24) == 127;
    if (a->u.sa.sa_family == AF_INET6)
        return memcmp(&a->u.in6.sin6_addr, v6lo, 16) == 0;
    return false;
}

/* TIME_WAIT born in the last W seconds over W: W is RATE_S, short enough
 * to follow a step in the rate within it, or the age of the oldest
 * TIME_WAIT of the group when that is younger (a churn that began 2 s ago
 * is 2 s of sockets, not 3). */
static double observed_rate(const struct tw_stat_group *g)
{
    double w = RATE_S, oldest;
    uint32_t n = 0;

    if (!g->n[TW_TCP_TIME_WAIT])
        return 0;
    oldest = (TW_LEN_MS - (double)g->exp_min) / 1000.0; /* its age, s */
    if (oldest < w)
        w = oldest < 1 ? 1 : oldest;
    for (int b = 59; b >= 0 && b >= 60 - (int)w; b--)
        n += g->tw_by_sec[b];
    return (double)n / w;
}

double tw_stat_forecast(const struct tw_stat_group *g, double rate, double reuse_delay_s)
{
    double held = g->total, free0, freed = 0;

    if (!g->usable)
        return -1;
    if (reuse_delay_s > 0) { /* only the TIME_WAIT younger than the delay holds a port */
        uint32_t young = 0;
        for (int b = 59; b >= 0 && b >= 60 - (int)(reuse_delay_s + 0.5); b--)
            young += g->tw_by_sec[b];
        held = (double)g->total - g->n[TW_TCP_TIME_WAIT] + young;
        if (held >= g->usable)
            return 0;
        /* steady: the last reuse_delay_s of connections hold theirs */
        if (rate * reuse_delay_s + (held - young) < g->usable)
            return -1;
        return ((double)g->usable - held) / rate;
    }
    if (held >= g->usable)
        return 0;
    if (!(rate > 0))
        return -1;
    free0 = (double)g->usable - held;
    /* second k: the bucket of k s left frees its ports along it */
    for (int k = 0; k < 60; k++) {
        double slope = rate - g->tw_by_sec[k]; /* ports taken a second, net */
        double at_k = free0 - rate * k + freed;
        if (slope > 0 && at_k - slope <= 0)
            return k + at_k / slope;
        freed += g->tw_by_sec[k];
    }
    return -1; /* after 60 s what is made is given back as fast */
}

/* Ports, rates and time left for each client-side destination. */
static void pressure(struct tw_stat *st)
{
    int64_t lo = st->sysctl[TW_SY_PORT_LO], hi = st->sysctl[TW_SY_PORT_HI];
    int64_t reuse = st->sysctl[TW_SY_TW_REUSE], delay = st->sysctl[TW_SY_TW_REUSE_DELAY];
    int64_t range = lo >= 0 && hi >= lo ? hi - lo + 1 : 0;
    int64_t left = range - st->reserved_in_range - st->listening_in_range;
    uint32_t usable = left > 0 ? (uint32_t)left : 0;

    for (size_t i = 0; i < st->ngroups; i++) {
        struct tw_stat_group *g = &st->groups[i];
        if (g->server)
            continue;
        g->usable = usable;
        /* reuse: outbound only, needs timestamps; 2 = loopback only */
        g->reuse = st->sysctl[TW_SY_TIMESTAMPS] > 0 &&
                   (reuse == 1 || (reuse == 2 && is_loopback(&g->remote)));
        double hold_s = g->reuse ? (delay > 0 ? (double)delay : 1000.0) / 1000.0
                                 : TW_LEN_MS / 1000.0;
        g->max_rate = (double)usable / hold_s;
        g->rate = observed_rate(g);
        g->secs_left = tw_stat_forecast(g, g->rate, g->reuse ? hold_s : 0);
    }
}

int tw_stat_collect(struct tw_stat *st, const struct tw_stat *prev, const char *netns)
{
    struct collect *c;
    int err;

    memset(st, 0, sizeof(*st));
    st->at_ms = tw_now_ms();
    read_sysctls(st);
    read_counters(st);
    if (!(c = calloc(1, sizeof(*c))))
        return -ENOMEM;
    c->st = st;
    err = tw_diag_dump(1u << TCP_LISTEN, on_listener, c);
    for (int64_t p = st->sysctl[TW_SY_PORT_LO]; p >= 0 && p <= st->sysctl[TW_SY_PORT_HI]; p++)
        st->listening_in_range += (c->listening[p / 8] >> (p % 8)) & 1;
    if (err == 0)
        err = tw_diag_dump(~(1u << TCP_LISTEN), on_sock, c);
    free(c->slot);
    free(c->keys);
    free(c);
    if (err < 0)
        problem(st, "socket dump failed: %s; ", strerror(-err));
    for (size_t i = 0; i < st->ngroups; i++)
        for (int s = 0; s < TW_TCP_NSTATES; s++)
            st->states.n[s] += st->groups[i].n[s];
    for (int s = 0; s < TW_TCP_NSTATES; s++)
        st->states.total += st->states.n[s];
    if (st->ngroups) /* groups is NULL on a host with no connections */
        qsort(st->groups, st->ngroups, sizeof(*st->groups), by_total);
    pressure(st);
    if (prev && st->at_ms > prev->at_ms) {
        double secs = (double)(st->at_ms - prev->at_ms) / 1000.0;
        st->have_rates = true;
        for (int i = 0; i < TW_SC_NCOUNTERS; i++)
            st->counter_rate[i] = st->have_counter[i] && prev->have_counter[i]
                                      ? (double)(st->counter[i] - prev->counter[i]) / secs
                                      : 0;
    }
    tw_stat_advise(st, prev, netns);
    return err;
}

void tw_stat_free(struct tw_stat *st)
{
    free(st->groups);
    st->groups = NULL;
    st->ngroups = 0;
    free(st->advice);
    st->advice = NULL;
    st->nadvice = st->advice_cap = 0;
}

int tw_stat_worst(const struct tw_stat *st)
{
    int w = st->advice_lost ? TW_SEV_CRITICAL : -1;
    for (size_t i = 0; i < st->nadvice; i++)
        if ((int)st->advice[i].severity > w)
            w = (int)st->advice[i].severity;
    return w;
}
