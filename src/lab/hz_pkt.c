/* Packets for the hazards: capture, pcap, decoding, checksums, sending.
 *
 * The capture is an AF_PACKET socket bound to one lab veth end: it sees
 * both directions (outgoing frames through the kernel's packet taps) and
 * stamps each frame when it passes. Nothing needs a thread: the frames
 * wait in the socket's buffer until the hazard drains them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/hz_pkt.h"

#define CAP_BUF (8 << 20) /* the bulk hazard (abort) queues a few MB at most */

/* An AF_PACKET socket on tw0 of a side, and that tw0's index. */
static int packet_socket(struct tw_lab *lab, enum tw_lab_side side, int *ifindex)
{
    int fd, err = tw_lab_enter(lab, side);

    if (err < 0)
        return err;
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
    if (fd < 0)
        err = -errno;
    else if (!(*ifindex = (int)if_nametoindex("tw0")))
        err = -errno;
    tw_lab_leave(lab);
    if (err < 0 && fd >= 0)
        close(fd);
    return err < 0 ? err : fd;
}

int hz_cap_open(struct tw_lab *lab, enum tw_lab_side side, struct hz_cap *c)
{
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL)};
    int one = 1, size = CAP_BUF, ifindex = 0;

    memset(c, 0, sizeof(*c));
    if ((c->fd = packet_socket(lab, side, &ifindex)) < 0) {
        int err = c->fd;
        c->fd = -1;
        return err;
    }
    sll.sll_ifindex = ifindex;
    /* FORCE: past rmem_max, we are root; the plain one is the fallback */
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0 ||
        bind(c->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        int err = -errno;
        hz_cap_close(c);
        return err;
    }
    return 0;
}

static struct hz_pkt *cap_slot(struct hz_cap *c)
{
    if (c->n == c->room) {
        size_t room = c->room ? 2 * c->room : 256;
        struct hz_pkt *p = realloc(c->p, room * sizeof(*p));
        if (!p)
            return NULL;
        c->p = p;
        c->room = room;
    }
    return &c->p[c->n];
}

/* One frame from the socket into p: 1, 0 when none is waiting, -errno. */
static int cap_one(int fd, struct hz_pkt *p)
{
    char ctl[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = {p->data, HZ_SNAPLEN};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
                       .msg_controllen = sizeof(ctl)};
    ssize_t n = recvmsg(fd, &m, MSG_TRUNC | MSG_DONTWAIT);
    struct timespec now;

    if (n < 0)
        return errno == EAGAIN ? 0 : -errno;
    clock_gettime(CLOCK_REALTIME, &now);
    p->ts_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(h), sizeof(ts));
            p->ts_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
        }
    p->len = (uint32_t)n;
    p->caplen = n > HZ_SNAPLEN ? HZ_SNAPLEN : (uint32_t)n;
    return 1;
}

int hz_cap_drain(struct hz_cap *c)
{
    struct hz_pkt *p;
    int r;

    if (c->fd < 0)
        return -EBADF;
    while ((p = cap_slot(c)) && (r = cap_one(c->fd, p)) == 1)
        c->n++;
    return p ? r : -ENOMEM;
}

void hz_cap_close(struct hz_cap *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->p);
    c->p = NULL;
    c->n = c->room = 0;
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); } /* host order, as pcap wants */
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

int hz_cap_write_pcap(const struct hz_cap *c, const char *path)
{
    uint8_t hdr[24] = {0}, rec[16];
    FILE *f = fopen(path, "we");
    int err = 0;

    if (!f)
        return -errno;
    put32(hdr, 0xa1b2c3d4);   /* microsecond timestamps */
    put16(hdr + 4, 2);        /* version 2.4 */
    put16(hdr + 6, 4);
    put32(hdr + 16, HZ_SNAPLEN);
    put32(hdr + 20, 1);       /* LINKTYPE_ETHERNET */
    if (fwrite(hdr, sizeof(hdr), 1, f) != 1)
        err = -EIO;
    for (size_t i = 0; i < c->n && !err; i++) {
        const struct hz_pkt *p = &c->p[i];
        put32(rec, (uint32_t)(p->ts_ns / 1000000000ull));
        put32(rec + 4, (uint32_t)(p->ts_ns % 1000000000ull / 1000));
        put32(rec + 8, p->caplen);
        put32(rec + 12, p->len);
        if (fwrite(rec, sizeof(rec), 1, f) != 1 || fwrite(p->data, p->caplen, 1, f) != 1)
            err = -EIO;
    }
    if (fclose(f) != 0 && !err)
        err = -errno;
    return err;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The options that matter here: window scale and timestamps. */
static void tcp_options(const uint8_t *o, size_t len, struct hz_tcp *t)
{
    for (size_t i = 0; i < len;) {
        uint8_t kind = o[i];
        if (kind == 0)
            break;
        if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
            break;
        if (kind == 3 && o[i + 1] == 3)
            t->wscale = o[i + 2];
        if (kind == 8 && o[i + 1] == 10) {
            t->has_ts = true;
            t->tsval = get32(o + i + 2);
            t->tsecr = get32(o + i + 6);
        }
        i += o[i + 1];
    }
}

int hz_tcp_parse(const uint8_t *f, size_t len, struct hz_tcp *t)
{
    size_t ihl, doff, tot;

    memset(t, 0, sizeof(*t));
    t->wscale = -1;
    t->ip_off = 14;
    if (len < 14 + 20 || get16(f + 12) != ETH_P_IP || (f[14] >> 4) != 4 ||
        f[14 + 9] != IPPROTO_TCP)
        return -EPROTO;
    ihl = (size_t)(f[14] & 15) * 4;
    tot = get16(f + 16);
    t->tcp_off = 14 + ihl;
    if (ihl < 20 || t->tcp_off + 20 > len)
        return -EPROTO;
    doff = (size_t)(f[t->tcp_off + 12] >> 4) * 4;
    t->data_off = t->tcp_off + doff;
    if (doff < 20 || t->data_off > len || tot < ihl + doff)
        return -EPROTO;
    t->datalen = tot - ihl - doff;
    memcpy(&t->saddr, f + 14 + 12, 4);
    memcpy(&t->daddr, f + 14 + 16, 4);
    t->sport = get16(f + t->tcp_off);
    t->dport = get16(f + t->tcp_off + 2);
    t->seq = get32(f + t->tcp_off + 4);
    t->ack = get32(f + t->tcp_off + 8);
    t->flags = f[t->tcp_off + 13];
    t->win = get16(f + t->tcp_off + 14);
    tcp_options(f + t->tcp_off + 20, doff - 20, t);
    return 0;
}

/* The Internet checksum's running sum over bytes (RFC 1071). */
static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
    for (; n > 1; p += 2, n -= 2)
        s += get16(p);
    if (n)
        s += (uint32_t)p[0] << 8;
    return s;
}

static uint16_t fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

int hz_tcp_fix_csum(uint8_t *f, size_t len)
{
    struct hz_tcp t;
    uint8_t pseudo[12];
    size_t tcplen;
    uint16_t c;

    if (hz_tcp_parse(f, len, &t) < 0 || t.data_off + t.datalen > len)
        return -EPROTO;
    tcplen = t.data_off - t.tcp_off + t.datalen;
    f[14 + 10] = f[14 + 11] = 0;
    c = fold(sum16(0, f + 14, t.tcp_off - 14));
    f[14 + 10] = (uint8_t)(c >> 8);
    f[14 + 11] = (uint8_t)c;
    /* pseudo header: addresses, zero, protocol, TCP length */
    memcpy(pseudo, f + 14 + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = (uint8_t)(tcplen >> 8);
    pseudo[11] = (uint8_t)tcplen;
    f[t.tcp_off + 16] = f[t.tcp_off + 17] = 0;
    c = fold(sum16(sum16(0, pseudo, sizeof(pseudo)), f + t.tcp_off, tcplen));
    f[t.tcp_off + 16] = (uint8_t)(c >> 8);
    f[t.tcp_off + 17] = (uint8_t)c;
    return 0;
}

int hz_pkt_send(struct tw_lab *lab, enum tw_lab_side side, const uint8_t *frame, size_t len)
{
    struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_halen = ETH_ALEN};
    int ifindex = 0, fd = packet_socket(lab, side, &ifindex), err = 0;

    if (fd < 0)
        return fd;
    sll.sll_ifindex = ifindex;
    memcpy(sll.sll_addr, frame, ETH_ALEN);
    if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)len)
        err = errno ? -errno : -EIO;
    close(fd);
    return err;
}

const char *hz_tcp_flags(uint8_t fl, char buf[8])
{
    char *p = buf;

    if (fl & TH_SYN)
        *p++ = 'S';
    if (fl & TH_FIN)
        *p++ = 'F';
    if (fl & TH_RST)
        *p++ = 'R';
    if (fl & TH_PUSH)
        *p++ = 'P';
    if (fl & TH_ACK)
        *p++ = '.';
    *p = '\0';
    return buf;
}

size_t hz_tcp_reply(const uint8_t *frame, const struct hz_tcp *t, uint32_t seq, uint32_t ack,
                    uint8_t flags, uint8_t out[HZ_SNAPLEN])
{
    size_t ihl = t->tcp_off - 14, len = t->tcp_off + 20;
    uint16_t tot = (uint16_t)(ihl + 20);

    memcpy(out, frame, t->tcp_off + 20);
    memcpy(out, frame + 6, 6);                  /* Ethernet: the other way */
    memcpy(out + 6, frame, 6);
    memcpy(out + 14 + 12, frame + 14 + 16, 4);  /* IPv4: addresses swapped */
    memcpy(out + 14 + 16, frame + 14 + 12, 4);
    out[14 + 2] = (uint8_t)(tot >> 8);
    out[14 + 3] = (uint8_t)tot;
    out[14 + 8] = 64;                           /* TTL */
    memcpy(out + t->tcp_off, frame + t->tcp_off + 2, 2); /* ports swapped */
    memcpy(out + t->tcp_off + 2, frame + t->tcp_off, 2);
    for (int i = 0; i < 4; i++) {
        out[t->tcp_off + 4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        out[t->tcp_off + 8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    out[t->tcp_off + 12] = 5 << 4;              /* no options */
    out[t->tcp_off + 13] = flags;
    out[t->tcp_off + 14] = out[t->tcp_off + 15] = 0;
    out[t->tcp_off + 18] = out[t->tcp_off + 19] = 0;
    hz_tcp_fix_csum(out, len);
    return len;
}
