/* Packets for the hazards: an AF_PACKET capture of a lab veth end, a
 * classic pcap writer, a TCP/IPv4 frame decoder, checksums, and sending a
 * frame of our own making onto the veth (internal to src/lab). */
#ifndef TW_LAB_HZ_PKT_H
#define TW_LAB_HZ_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lab/lab.h"

#define HZ_SNAPLEN 256 /* headers and the small payloads the hazards send */

struct hz_pkt {
    uint64_t ts_ns;   /* CLOCK_REALTIME, when the veth end saw it */
    uint32_t len;     /* on the wire */
    uint32_t caplen;  /* kept, at most HZ_SNAPLEN */
    uint8_t data[HZ_SNAPLEN];
};

struct hz_cap {
    int fd;           /* AF_PACKET, bound to tw0 of one side; -1: none */
    size_t n, room;
    struct hz_pkt *p;
};

/* Open the capture on a side's tw0. Packets queue in the socket (a large
 * buffer) until hz_cap_drain moves them into c->p. Returns 0 or -errno. */
int hz_cap_open(struct tw_lab *lab, enum tw_lab_side side, struct hz_cap *c);
int hz_cap_drain(struct hz_cap *c);
void hz_cap_close(struct hz_cap *c);

/* Write the packets as a classic pcap file (LINKTYPE_ETHERNET, µs). */
int hz_cap_write_pcap(const struct hz_cap *c, const char *path);

/* An IPv4 TCP segment in an Ethernet frame. */
struct hz_tcp {
    uint32_t saddr, daddr;          /* network order */
    uint16_t sport, dport;          /* host order */
    uint32_t seq, ack;
    uint8_t flags;                  /* TH_FIN ... as in netinet/tcp.h */
    uint16_t win;                   /* as sent, unscaled */
    int wscale;                     /* the SYN's window scale, -1: none */
    bool has_ts;
    uint32_t tsval, tsecr;
    size_t ip_off, tcp_off, data_off, datalen; /* offsets in the frame */
};

/* Decode; -EPROTO for anything but IPv4 TCP that fits in the snap. */
int hz_tcp_parse(const uint8_t *frame, size_t len, struct hz_tcp *t);

/* Put right the IPv4 header checksum and the TCP checksum of an IPv4 TCP
 * frame (captured outgoing frames carry a partial one: the veth never
 * computed it). */
int hz_tcp_fix_csum(uint8_t *frame, size_t len);

/* A segment without options or data going the other way from a captured
 * one (Ethernet, IPv4 and ports swapped), with these seq, ack and flags,
 * checksums computed. Returns its length. */
size_t hz_tcp_reply(const uint8_t *frame, const struct hz_tcp *t, uint32_t seq, uint32_t ack,
                    uint8_t flags, uint8_t out[HZ_SNAPLEN]);

/* Send a frame as it is from a side's tw0. Returns 0 or -errno. */
int hz_pkt_send(struct tw_lab *lab, enum tw_lab_side side, const uint8_t *frame, size_t len);

/* Flags as tcpdump writes them: "S", "S.", "F.", "R", "P." */
const char *hz_tcp_flags(uint8_t flags, char buf[8]);

#endif
