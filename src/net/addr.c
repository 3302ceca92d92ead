/* Numeric socket addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twkit/sock.h"

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    unsigned long v;

    if (!*s || *s == '-' || *s == '+')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || v > 65535)
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}

int tw_addr_parse(tw_addr *a, const char *s, uint16_t default_port)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    const char *portstr = NULL, *colon;
    uint16_t port = default_port;
    size_t hlen;

    if (!a || !s)
        return -EINVAL;
    memset(a, 0, sizeof(*a));
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close)
            return -EINVAL;
        hlen = (size_t)(close - s - 1);
        if (close[1] == ':')
            portstr = close + 2;
        else if (close[1])
            return -EINVAL;
        s++;
    } else if ((colon = strchr(s, ':')) && !strchr(colon + 1, ':')) {
        hlen = (size_t)(colon - s); /* one colon: IPv4 with port */
        portstr = colon + 1;
    } else {
        hlen = strlen(s); /* no colon, or a bare IPv6 address */
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return -EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    if (portstr && parse_port(portstr, &port) < 0)
        return -EINVAL;

    if (inet_pton(AF_INET, host, &a->u.in.sin_addr) == 1) {
        a->u.in.sin_family = AF_INET;
        a->u.in.sin_port = htons(port);
        a->len = sizeof(a->u.in);
        return 0;
    }
    char *pct = strchr(host, '%');
    if (pct)
        *pct = '\0';
    if (inet_pton(AF_INET6, host, &a->u.in6.sin6_addr) == 1) {
        if (pct && !(a->u.in6.sin6_scope_id = if_nametoindex(pct + 1)))
            return -EINVAL;
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons(port);
        a->len = sizeof(a->u.in6);
        return 0;
    }
    memset(a, 0, sizeof(*a));
    return -EINVAL;
}

char *tw_addr_format(const tw_addr *a, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    int n = -1;

    if (!buf || !len)
        return buf;
    if (a && a->len && a->u.sa.sa_family == AF_INET &&
        inet_ntop(AF_INET, &a->u.in.sin_addr, host, sizeof(host)))
        n = snprintf(buf, len, "%s:%u", host, ntohs(a->u.in.sin_port));
    else if (a && a->len && a->u.sa.sa_family == AF_INET6 &&
             inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof(host)))
        n = snprintf(buf, len, "[%s]:%u", host, ntohs(a->u.in6.sin6_port));
    if (n < 0 || (size_t)n >= len)
        snprintf(buf, len, "?");
    return buf;
}

char *tw_addr_host(const tw_addr *a, char *buf, size_t len)
{
    const void *p = NULL;

    if (!buf || !len)
        return buf;
    if (a && a->len && a->u.sa.sa_family == AF_INET)
        p = &a->u.in.sin_addr;
    else if (a && a->len && a->u.sa.sa_family == AF_INET6)
        p = &a->u.in6.sin6_addr;
    if (!p || !inet_ntop(a->u.sa.sa_family, p, buf, (socklen_t)len))
        snprintf(buf, len, "?");
    return buf;
}

uint16_t tw_addr_port(const tw_addr *a)
{
    if (!a || !a->len)
        return 0;
    return ntohs(a->u.sa.sa_family == AF_INET6 ? a->u.in6.sin6_port : a->u.in.sin_port);
}

void tw_addr_set_port(tw_addr *a, uint16_t port)
{
    if (!a || !a->len)
        return;
    if (a->u.sa.sa_family == AF_INET6)
        a->u.in6.sin6_port = htons(port);
    else
        a->u.in.sin_port = htons(port);
}

int tw_addr_family(const tw_addr *a)
{
    return a && a->len ? a->u.sa.sa_family : AF_UNSPEC;
}

bool tw_addr_equal(const tw_addr *a, const tw_addr *b)
{
    if (!a || !b || tw_addr_family(a) != tw_addr_family(b))
        return false;
    if (tw_addr_family(a) == AF_INET)
        return a->u.in.sin_port == b->u.in.sin_port &&
               a->u.in.sin_addr.s_addr == b->u.in.sin_addr.s_addr;
    if (tw_addr_family(a) == AF_INET6)
        return a->u.in6.sin6_port == b->u.in6.sin6_port &&
               memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
    return false;
}

static int sockname(int fd, tw_addr *a, int (*fn)(int, struct sockaddr *, socklen_t *))
{
    if (!a || fd < 0)
        return -EINVAL;
    memset(a, 0, sizeof(*a));
    a->len = sizeof(a->u.ss);
    if (fn(fd, &a->u.sa, &a->len) < 0) {
        a->len = 0;
        return -errno;
    }
    return 0;
}

int tw_sock_local(int fd, tw_addr *a) { return sockname(fd, a, getsockname); }
int tw_sock_peer(int fd, tw_addr *a) { return sockname(fd, a, getpeername); }
