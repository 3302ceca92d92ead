/* Asynchronous DNS for the prober: c-ares driven by the twkit loop, with a
 * cache per name and family asked that keeps each answer for its TTL.
 *
 * c-ares owns its sockets and tells us through the socket state callback
 * which to watch; one tw_io per socket and one tw_timer (from ares_timeout,
 * re-armed after every call into c-ares) are all the loop needs. No thread,
 * no blocking call besides c-ares reading /etc/hosts for names it finds
 * there.
 *
 * Every name has one cache entry per kind of query: A and AAAA together
 * (a probe that may fall back to the other family, blackbox_exporter's
 * default), A alone or AAAA alone (ip_protocol_fallback: false, the
 * preferred family only). An entry keeps the first IPv4 and the first IPv6
 * address of the answer, in c-ares's RFC 6724 order, and each request picks
 * the one its probe prefers. While a query is in flight, later lookups of
 * the same name and kind wait on it instead of sending their own, so 5,000
 * targets on one host make one query per TTL. Answers are handed
 * to the waiters from a tw_defer, never from inside c-ares: c-ares answers
 * some names (those in /etc/hosts, malformed ones) synchronously inside
 * ares_getaddrinfo, and calling back from there would call back from
 * inside tp_resolve.
 *
 * Memory: one entry per name looked up (expired entries are swept before
 * the table grows) and one request per waiting lookup.
 */
#include <ares.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/list.h"
#include "probe/ipproto.h"
#include "probe/probe.h"
#include "probe/resolve.h"
#include "twkit/time.h"

#define TTL_MIN_MS 1000u
#define TTL_MAX_MS 3600000u
#define NEGATIVE_TTL_MS 5000u
#define MIN_BUCKETS 64u

struct dns_entry {
    struct dns_entry *next;     /* in its bucket */
    struct tp_resolver *d;
    uint32_t hash;
    bool querying;              /* a query is in flight (pins the entry) */
    bool answered;              /* err, why, a4, a6 and expire are set */
    int family;                 /* of the query: AF_UNSPEC (A and AAAA),
                                   AF_INET or AF_INET6 */
    uint64_t expire;            /* loop ms */
    int err;
    const char *why;
    tw_addr a4, a6;             /* the first of each family; len 0: none */
    struct tw_list waiters;     /* tp_resolve_req waiting for the query */
    char host[];
};

struct tp_resolve_req {
    struct tw_list link;        /* on an entry's waiters, or on ready */
    tp_resolve_cb cb;
    void *arg;
    int prefer;                 /* AF_INET or AF_INET6 */
    int err;
    const char *why;
    tw_addr addr;
};

struct dns_sock {
    struct dns_sock *next;
    struct tp_resolver *d;
    tw_io io;
};

struct tp_resolver {
    tw_loop *loop;
    ares_channel ch;
    struct dns_entry **buckets;
    size_t nbuckets, nentries;  /* nbuckets: a power of two */
    struct dns_sock *socks;
    tw_timer timer;
    tw_defer defer;
    struct tw_list ready;       /* answered requests, for the defer */
    bool destroying;
};

/* ---- c-ares status to errno ---- */

static int map_status(int status, const char **why)
{
    switch (status) {
    case ARES_SUCCESS:
        *why = NULL;
        return 0;
    case ARES_ENOTFOUND:
        *why = "no such host";
        return -ENOENT;
    case ARES_ENODATA:
        *why = "no address";
        return -ENOENT;
    case ARES_EBADNAME:
        *why = "not a valid host name";
        return -ENOENT;
    case ARES_ETIMEOUT:
        *why = "resolver timed out";
        return -ETIMEDOUT;
    case ARES_ENOMEM:
        *why = "out of memory";
        return -ENOMEM;
    case ARES_ECONNREFUSED:
    case ARES_ESERVFAIL:
    case ARES_EREFUSED:
        *why = "resolver failed";
        return -EAGAIN;
    default:
        *why = ares_strerror(status); /* static text */
        return -EAGAIN;
    }
}

/* ---- the cache table ---- */

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a: names differ mostly at the ends */

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        h ^= c >= 'A' && c <= 'Z' ? c + 32u : c; /* DNS names ignore case */
        h *= 16777619u;
    }
    return h;
}

/* The name's hash, told apart by the kind of query. */
static uint32_t entry_hash(const char *host, int family)
{
    return (name_hash(host) ^ (uint32_t)family) * 16777619u;
}

static struct dns_entry *entry_find(struct tp_resolver *d, const char *host, int family,
                                    uint32_t h)
{
    struct dns_entry *en = d->buckets[h & (d->nbuckets - 1)];

    for (; en; en = en->next)
        if (en->hash == h && en->family == family && strcasecmp(en->host, host) == 0)
            return en;
    return NULL;
}

/* The address a request preferring prefer gets from an answered entry: of
 * that family, else (an A and AAAA query: the probe may fall back) of the
 * other. Returns 0 or the entry's error. */
static int pick(const struct dns_entry *en, int prefer, tw_addr *addr, const char **why)
{
    const tw_addr *want = prefer == AF_INET ? &en->a4 : &en->a6;
    const tw_addr *other = prefer == AF_INET ? &en->a6 : &en->a4;

    *why = en->why;
    if (en->err)
        return en->err;
    if (want->len)
        *addr = *want;
    else if (en->family == AF_UNSPEC && other->len)
        *addr = *other;
    else {
        *why = prefer == AF_INET ? "no IPv4 address" : "no IPv6 address";
        return -ENOENT;
    }
    return 0;
}

static bool entry_fresh(const struct dns_entry *en, uint64_t now)
{
    return en->answered && tw_ms_diff(en->expire, now) > 0;
}

/* Drop entries nobody needs now: expired and no query in flight. */
static void sweep(struct tp_resolver *d, uint64_t now)
{
    for (size_t b = 0; b < d->nbuckets; b++) {
        struct dns_entry **pp = &d->buckets[b];
        while (*pp) {
            struct dns_entry *en = *pp;
            if (!en->querying && !entry_fresh(en, now)) {
                *pp = en->next;
                free(en);
                d->nentries--;
            } else {
                pp = &en->next;
            }
        }
    }
}

static void grow(struct tp_resolver *d)
{
    size_t n = d->nbuckets * 2;
    struct dns_entry **nb = calloc(n, sizeof(*nb));

    if (!nb)
        return; /* longer chains, still correct */
    for (size_t b = 0; b < d->nbuckets; b++) {
        struct dns_entry *en = d->buckets[b], *next;
        for (; en; en = next) {
            next = en->next;
            en->next = nb[en->hash & (n - 1)];
            nb[en->hash & (n - 1)] = en;
        }
    }
    free(d->buckets);
    d->buckets = nb;
    d->nbuckets = n;
}

static struct dns_entry *entry_add(struct tp_resolver *d, const char *host, int family,
                                   uint32_t h, uint64_t now)
{
    size_t len = strlen(host);
    struct dns_entry *en;

    if (d->nentries >= d->nbuckets) {
        /* Grow only if sweeping did not make real room, so a table that
         * hovers at its size is not swept for every new name. */
        sweep(d, now);
        if (d->nentries >= d->nbuckets / 4 * 3)
            grow(d);
    }
    if (!(en = calloc(1, sizeof(*en) + len + 1)))
        return NULL;
    en->d = d;
    en->hash = h;
    en->family = family;
    tw__list_init(&en->waiters);
    memcpy(en->host, host, len + 1);
    en->next = d->buckets[h & (d->nbuckets - 1)];
    d->buckets[h & (d->nbuckets - 1)] = en;
    d->nentries++;
    return en;
}

/* ---- driving c-ares from the loop ---- */

static void rearm(struct tp_resolver *d)
{
    struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);

    if (!tvp) {
        tw_timer_stop(&d->timer);
        return;
    }
    /* Round up: a timer that fires early only wakes c-ares for nothing. */
    tw_timer_start(d->loop, &d->timer,
                   (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000);
}

static void on_timer(tw_timer *t)
{
    struct tp_resolver *d = t->data;

    ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm(d);
}

static void on_sock(tw_io *io, unsigned events)
{
    struct dns_sock *s = io->data;
    struct tp_resolver *d = s->d; /* s may be freed inside ares_process_fd */
    int fd = io->fd;

    ares_process_fd(d->ch, events & (TW_IO_READ | TW_IO_ERROR) ? fd : ARES_SOCKET_BAD,
                    events & TW_IO_WRITE ? fd : ARES_SOCKET_BAD);
    rearm(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct tp_resolver *d = data;
    struct dns_sock **pp = &d->socks, *s;

    while (*pp && (*pp)->io.fd != fd)
        pp = &(*pp)->next;
    s = *pp;
    if (!readable && !writable) {
        if (s) {
            tw_io_forget(&s->io); /* c-ares closes fd right after this */
            *pp = s->next;
            free(s);
        }
        return;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))))
            return; /* unwatched: the query ends by c-ares's timeout */
        s->d = d;
        tw_io_init(&s->io, fd, on_sock, s);
        s->next = d->socks;
        d->socks = s;
    }
    /* Always read: an answer or an ICMP error can come at any time. A
     * failed start leaves the query to c-ares's timeout as above. */
    tw_io_start(d->loop, &s->io, TW_IO_READ | (writable ? TW_IO_WRITE : 0));
}

/* ---- answers ---- */

static void deliver(struct tp_resolver *d, struct tp_resolve_req *req, const struct dns_entry *en)
{
    req->err = pick(en, req->prefer, &req->addr, &req->why);
    tw__list_add_tail(&d->ready, &req->link);
    tw_defer_post(d->loop, &d->defer);
}

static void on_ready(tw_defer *df)
{
    struct tp_resolver *d = df->data;
    struct tw_list batch;

    /* Requests made by these callbacks that are answered at once (cached
     * negatives) join d->ready and wait for the next round, so a callback
     * that looks up again cannot keep this loop going. */
    tw__list_move_all(&batch, &d->ready);
    while (!tw__list_empty(&batch)) {
        struct tp_resolve_req *req = tw__container_of(batch.next, struct tp_resolve_req, link);
        tw__list_del(&req->link);
        req->cb(req->arg, req->err, req->err ? NULL : &req->addr, req->why);
        free(req);
    }
}

static uint64_t ttl_ms(const struct ares_addrinfo *res)
{
    long min = -1;
    uint64_t ms;

    /* The answer is as old as its shortest-lived record, CNAMEs included. */
    for (const struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next)
        if (min < 0 || n->ai_ttl < min)
            min = n->ai_ttl;
    for (const struct ares_addrinfo_cname *c = res->cnames; c; c = c->next)
        if (min < 0 || c->ttl < min)
            min = c->ttl;
    ms = min > 0 ? (uint64_t)min * 1000 : 0;
    return ms < TTL_MIN_MS ? TTL_MIN_MS : ms > TTL_MAX_MS ? TTL_MAX_MS : ms;
}

/* The first address of each family in the answer (IPv4-mapped IPv6 ones
 * count as IPv4, as blackbox_exporter's Go classes them). */
static void keep_first(struct dns_entry *en, const struct ares_addrinfo *res)
{
    memset(&en->a4, 0, sizeof(en->a4));
    memset(&en->a6, 0, sizeof(en->a6));
    for (const struct ares_addrinfo_node *n = res ? res->nodes : NULL; n; n = n->ai_next) {
        tw_addr a = {0};
        tw_addr *slot;

        if (!n->ai_addr || n->ai_addrlen > sizeof(a.u) ||
            (n->ai_family != AF_INET && n->ai_family != AF_INET6))
            continue;
        memcpy(&a.u, n->ai_addr, n->ai_addrlen);
        a.len = n->ai_addrlen;
        tw_addr_set_port(&a, 0);
        slot = tp_addr_is_ipv4(&a) ? &en->a4 : &en->a6;
        if (!slot->len)
            *slot = a;
    }
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct dns_entry *en = arg;
    struct tp_resolver *d = en->d;
    uint64_t now = tw_loop_now(d->loop);

    if (d->destroying) { /* ARES_EDESTRUCTION from tp_resolver_free: no callbacks */
        ares_freeaddrinfo(res);
        return;
    }
    en->querying = false;
    en->answered = true;
    en->err = map_status(status, &en->why);
    if (status == ARES_ENODATA && en->family != AF_UNSPEC) /* the name, not this record */
        en->why = en->family == AF_INET ? "no IPv4 address" : "no IPv6 address";
    /* c-ares sorted the addresses by RFC 6724: the first of a family is
     * the one of it this host can reach best */
    keep_first(en, en->err ? NULL : res);
    if (en->family == AF_INET) /* asked both (localhost): keep the one wanted */
        memset(&en->a6, 0, sizeof(en->a6));
    else if (en->family == AF_INET6)
        memset(&en->a4, 0, sizeof(en->a4));
    if (!en->err && !en->a4.len && !en->a6.len) {
        en->err = -ENOENT;
        en->why = en->family == AF_INET    ? "no IPv4 address"
                  : en->family == AF_INET6 ? "no IPv6 address"
                                           : "no address";
    }
    if (!en->err) {
        en->expire = now + ttl_ms(res);
    } else if (en->err == -ENOENT || status == ARES_ESERVFAIL || status == ARES_EREFUSED ||
               status == ARES_ECONNREFUSED) {
        /* A negative answer, or a server failure, kept like one: RFC 2308
         * 7.1 lets a SERVFAIL be cached up to five minutes, and a resolver
         * in trouble is not asked again by every probe. c-ares reports
         * every server answering SERVFAIL or REFUSED, and none reachable,
         * alike: ECONNREFUSED. */
        en->expire = now + NEGATIVE_TTL_MS;
    } else {
        en->expire = now; /* no answer in time: ask again next time */
    }
    ares_freeaddrinfo(res);
    while (!tw__list_empty(&en->waiters)) {
        struct tp_resolve_req *req =
            tw__container_of(en->waiters.next, struct tp_resolve_req, link);
        tw__list_del(&req->link);
        deliver(d, req, en);
    }
}

/* ---- the API ---- */

/* The family to ask c-ares for. localhost is asked for both: c-ares 1.18
 * answers a one-family question that /etc/hosts cannot with its own
 * loopback address (::1 where the file lists only 127.0.0.1, which Go's
 * resolver, and so blackbox_exporter, does not), and leaks the name doing
 * so. */
static int query_family(const struct dns_entry *en)
{
    size_t n = strlen(en->host);

    if (n && en->host[n - 1] == '.')
        n--;
    return n == 9 && !strncasecmp(en->host, "localhost", 9) ? AF_UNSPEC : en->family;
}

int tp_resolver_new(tw_loop *loop, struct tp_resolver **out)
{
    struct ares_options opts;
    struct tp_resolver *d;
    const char *why;
    int rc;

    if (!loop || !out)
        return -EINVAL;
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
        return -ENOMEM;
    d = calloc(1, sizeof(*d));
    if (!d || !(d->buckets = calloc(MIN_BUCKETS, sizeof(*d->buckets)))) {
        free(d);
        ares_library_cleanup();
        return -ENOMEM;
    }
    d->loop = loop;
    d->nbuckets = MIN_BUCKETS;
    tw__list_init(&d->ready);
    tw_timer_init(&d->timer, on_timer, d);
    tw_defer_init(&d->defer, on_ready, d);
    memset(&opts, 0, sizeof(opts));
    opts.sock_state_cb = sock_state;
    opts.sock_state_cb_data = d;
    /* Everything else (servers, search, timeouts, /etc/hosts) the way
     * c-ares reads the system's configuration. */
    rc = ares_init_options(&d->ch, &opts, ARES_OPT_SOCK_STATE_CB);
    if (rc != ARES_SUCCESS) {
        rc = map_status(rc, &why);
        free(d->buckets);
        free(d);
        ares_library_cleanup();
        return rc == -ENOMEM ? rc : -EINVAL;
    }
    *out = d;
    return 0;
}

int tp_resolve(struct tp_resolver *d, const char *host, int prefer, bool fallback, tw_addr *addr,
               tp_resolve_cb cb, void *arg, struct tp_resolve_req **reqp)
{
    uint64_t now = tw_loop_now(d->loop);
    int family = fallback ? AF_UNSPEC : prefer;
    uint32_t h = entry_hash(host, family);
    struct dns_entry *en = entry_find(d, host, family, h);
    struct tp_resolve_req *req;
    const char *why;

    if (prefer != AF_INET && prefer != AF_INET6)
        return -EINVAL;
    if (en && entry_fresh(en, now) && pick(en, prefer, addr, &why) == 0)
        return 1;
    if (!(req = calloc(1, sizeof(*req))))
        return -ENOMEM;
    if (!en && !(en = entry_add(d, host, family, h, now))) {
        free(req);
        return -ENOMEM;
    }
    req->cb = cb;
    req->arg = arg;
    req->prefer = prefer;
    *reqp = req;
    if (entry_fresh(en, now)) { /* a cached "no such host" (or no address of prefer) */
        deliver(d, req, en);
        return 0;
    }
    tw__list_add_tail(&en->waiters, &req->link);
    if (!en->querying) {
        /* AF_UNSPEC asks A and AAAA at once, as Go's LookupIPAddr does for
         * blackbox_exporter; one family asks that record alone, as its
         * LookupIP("ip4"/"ip6") */
        struct ares_addrinfo_hints hints = {.ai_family = query_family(en),
                                            .ai_socktype = SOCK_STREAM};
        en->querying = true;
        /* May answer before returning (/etc/hosts): on_answer only queues. */
        ares_getaddrinfo(d->ch, en->host, NULL, &hints, on_answer, en);
        rearm(d);
    }
    return 0;
}

void tp_resolve_cancel(struct tp_resolve_req *req)
{
    if (!req)
        return;
    /* Waiting or answered and queued: either way off its list. The query
     * goes on and its answer still fills the cache. */
    tw__list_del(&req->link);
    free(req);
}

static void free_reqs(struct tw_list *list)
{
    while (!tw__list_empty(list)) {
        struct tp_resolve_req *req = tw__container_of(list->next, struct tp_resolve_req, link);
        tw__list_del(&req->link);
        free(req);
    }
}

void tp_resolver_free(struct tp_resolver *d)
{
    if (!d)
        return;
    d->destroying = true;
    ares_destroy(d->ch); /* closes its sockets through sock_state */
    while (d->socks) {   /* should c-ares not have said so */
        struct dns_sock *s = d->socks;
        d->socks = s->next;
        tw_io_forget(&s->io);
        free(s);
    }
    tw_timer_stop(&d->timer);
    tw_defer_cancel(&d->defer);
    free_reqs(&d->ready);
    for (size_t b = 0; b < d->nbuckets; b++) {
        struct dns_entry *en = d->buckets[b], *next;
        for (; en; en = next) {
            next = en->next;
            free_reqs(&en->waiters);
            free(en);
        }
    }
    free(d->buckets);
    free(d);
    ares_library_cleanup();
}
