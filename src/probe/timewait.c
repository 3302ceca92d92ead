/* twkit probe: the TIME_WAIT sockets of the prober's own, told from the
 * rest of its network namespace by their 4-tuples (timewait.h).
 *
 * The tuples are a ring in the order they were noted, so forgetting is
 * popping the front. It is bounded: never more than the namespace's
 * tcp_max_tw_buckets (the kernel holds no more TIME_WAIT sockets than that
 * anyway; past it, it closes them at once), grown as needed, about 48 bytes
 * a tuple. Counting is rare (a scrape, the summary): it indexes the live
 * tuples in a hash table made for the occasion and walks one sock_diag dump
 * of the TIME_WAIT sockets through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/timewait.h"
#include "twkit/diag.h"
#include "twkit/sock.h"

/* A TIME_WAIT lasts 60 s on Linux (TCP_TIMEWAIT_LEN, not tunable); it
 * starts once the close finished, at most close_ms after the note. */
#define TIME_WAIT_MS 60000u
#define MARGIN_MS 5000u
#define CAP_DEFAULT 262144u
#define CAP_MIN 1024u
#define CAP_MAX (1u << 21)

struct tuple {
    uint64_t expire_ms;   /* loop ms after which it cannot be in TIME_WAIT */
    uint16_t lport, rport;
    uint8_t family;       /* AF_INET, AF_INET6 */
    uint8_t laddr[16], raddr[16];
};

struct tp_twset {
    struct tuple *ring;
    size_t cap, max, head, n; /* ring[head .. head+n) modulo cap */
    uint64_t dropped;         /* forgotten early: the set was full */
};

static size_t max_from_kernel(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_max_tw_buckets", "r");
    unsigned long v = CAP_DEFAULT;

    if (f) {
        if (fscanf(f, "%lu", &v) != 1)
            v = CAP_DEFAULT;
        fclose(f);
    }
    return v < CAP_MIN ? CAP_MIN : v > CAP_MAX ? CAP_MAX : (size_t)v;
}

int tp_tw_new(struct tp_twset **out)
{
    struct tp_twset *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    s->max = max_from_kernel();
    *out = s;
    return 0;
}

void tp_tw_free(struct tp_twset *s)
{
    if (!s)
        return;
    free(s->ring);
    free(s);
}

/* Family, addresses and ports of a pair of socket addresses; false for
 * anything but IPv4 and IPv6. */
static bool key_of(const tw_addr *l, const tw_addr *r, struct tuple *k)
{
    int fam = l->u.sa.sa_family;

    memset(k, 0, sizeof(*k));
    if (fam != r->u.sa.sa_family || (fam != AF_INET && fam != AF_INET6))
        return false;
    k->family = (uint8_t)fam;
    k->lport = tw_addr_port(l);
    k->rport = tw_addr_port(r);
    if (fam == AF_INET) {
        memcpy(k->laddr, &l->u.in.sin_addr, 4);
        memcpy(k->raddr, &r->u.in.sin_addr, 4);
    } else {
        memcpy(k->laddr, &l->u.in6.sin6_addr, 16);
        memcpy(k->raddr, &r->u.in6.sin6_addr, 16);
    }
    return true;
}

static bool same(const struct tuple *a, const struct tuple *b)
{
    return a->family == b->family && a->lport == b->lport && a->rport == b->rport &&
           !memcmp(a->laddr, b->laddr, 16) && !memcmp(a->raddr, b->raddr, 16);
}

static void prune(struct tp_twset *s, uint64_t now_ms)
{
    while (s->n && s->ring[s->head].expire_ms <= now_ms) {
        s->head = (s->head + 1) % s->cap;
        s->n--;
    }
}

/* Room for one more: grow (unwrapping the ring) up to max, else forget
 * the oldest. */
static bool make_room(struct tp_twset *s)
{
    if (s->n < s->cap)
        return true;
    if (s->cap < s->max) {
        size_t ncap = s->cap ? s->cap * 2 : 256;
        struct tuple *nr;

        if (ncap > s->max)
            ncap = s->max;
        if ((nr = malloc(ncap * sizeof(*nr)))) {
            for (size_t i = 0; i < s->n; i++)
                nr[i] = s->ring[(s->head + i) % s->cap];
            free(s->ring);
            s->ring = nr;
            s->cap = ncap;
            s->head = 0;
            return true;
        }
        if (!s->cap)
            return false;
    }
    s->head = (s->head + 1) % s->cap;
    s->n--;
    s->dropped++;
    return true;
}

static void push(struct tp_twset *s, const struct tuple *k)
{
    if (!make_room(s))
        return; /* no memory: this one goes uncounted */
    s->ring[(s->head + s->n) % s->cap] = *k;
    s->n++;
}

void tp_tw_note(struct tp_twset *s, int fd, uint64_t now_ms, uint64_t close_ms)
{
    tw_addr l, r;
    struct tuple k;

    if (!s || tw_sock_local(fd, &l) < 0 || tw_sock_peer(fd, &r) < 0 || !key_of(&l, &r, &k))
        return; /* never connected: it leaves no TIME_WAIT */
    prune(s, now_ms);
    k.expire_ms = now_ms + close_ms + TIME_WAIT_MS + MARGIN_MS;
    push(s, &k);
}

void tp_tw_adopt(struct tp_twset *s, const struct tp_twset *from)
{
    if (!s || !from)
        return;
    for (size_t i = 0; i < from->n; i++)
        push(s, &from->ring[(from->head + i) % from->cap]);
}

/* ---- counting ---- */

struct index {
    const struct tp_twset *s;
    uint32_t *slot;       /* ring positions + 1; 0: empty */
    size_t mask;
    uint64_t now_ms;
    int ours, all;
};

static uint32_t hash_tuple(const struct tuple *k)
{
    const uint8_t *parts[2] = {k->laddr, k->raddr};
    uint32_t h = 2166136261u; /* FNV-1a */

    for (int p = 0; p < 2; p++)
        for (int i = 0; i < 16; i++)
            h = (h ^ parts[p][i]) * 16777619u;
    h = (h ^ k->lport) * 16777619u;
    h = (h ^ k->rport) * 16777619u;
    return (h ^ k->family) * 16777619u;
}

static int on_tw(const struct tw_diag_sock *d, void *arg)
{
    struct index *x = arg;
    struct tuple k;

    x->all++;
    if (!x->slot || !key_of(&d->local, &d->remote, &k))
        return 0;
    for (size_t j = hash_tuple(&k) & x->mask; x->slot[j]; j = (j + 1) & x->mask)
        if (same(&x->s->ring[x->slot[j] - 1], &k)) {
            x->ours++;
            break;
        }
    return 0;
}

int tp_tw_count(struct tp_twset *s, uint64_t now_ms, int *netns)
{
    struct index x = {.s = s, .now_ms = now_ms};
    size_t size = 1;
    int err;

    if (s) {
        prune(s, now_ms);
        while (size < s->n * 2)
            size *= 2;
    }
    if (s && s->n) {
        if (!(x.slot = calloc(size, sizeof(*x.slot)))) {
            *netns = -1;
            return -ENOMEM;
        }
        x.mask = size - 1;
        for (size_t i = 0; i < s->n; i++) {
            size_t pos = (s->head + i) % s->cap;
            size_t j = hash_tuple(&s->ring[pos]) & x.mask;

            /* an expired tuple behind a live one (noted with a shorter
             * close time) is left out */
            if (s->ring[pos].expire_ms <= now_ms)
                continue;
            while (x.slot[j])
                j = (j + 1) & x.mask;
            x.slot[j] = (uint32_t)pos + 1;
        }
    }
    err = tw_diag_dump(1u << TW_TCP_TIME_WAIT, on_tw, &x);
    free(x.slot);
    if (err < 0) {
        *netns = -1;
        return err;
    }
    *netns = x.all;
    return x.ours;
}
