#!/usr/bin/python3
"""An echo responder for the icmp probe tests (tests/lab/test_probe_icmp.c).

    icmp_responder.py ADDR=MODE [ADDR=MODE ...]

Answers the IPv4 echo requests to each ADDR (an address of this
namespace) itself, from that address, the way MODE says, so that the
prober's matching of replies to probes can be watched:

    late:MS      the right reply, MS milliseconds late
    corrupt:MS   at once a reply whose payload's last byte is changed, then
                 the right one MS milliseconds later
    dup          the right reply, twice

Run it with net.ipv4.icmp_echo_ignore_all=1 in its namespace, so that the
kernel does not answer as well. It prints "ready" once its sockets are
bound, and runs until killed.
"""
import heapq
import select
import socket
import struct
import sys
import time


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def reply(ident, seq, payload):
    head = struct.pack("!BBHHH", 0, 0, 0, ident, seq)
    c = checksum(head + payload)
    return struct.pack("!BBHHH", 0, 0, c, ident, seq) + payload


def main():
    socks = {}
    for arg in sys.argv[1:]:
        addr, mode = arg.split("=", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.bind((addr, 0))  # replies leave from addr, and only its requests come in
        socks[s.fileno()] = (s, mode)
    print("ready", flush=True)
    due = []  # (when, n, socket, packet, destination)
    n = 0
    while True:
        wait = max(0.0, due[0][0] - time.monotonic()) if due else None
        ready, _, _ = select.select([v[0] for v in socks.values()], [], [], wait)
        now = time.monotonic()
        for s in ready:
            data, (src, _) = s.recvfrom(65535)
            ihl = (data[0] & 15) * 4
            icmp = data[ihl:]
            if len(icmp) < 8 or icmp[0] != 8:
                continue
            _, _, _, ident, seq = struct.unpack("!BBHHH", icmp[:8])
            payload = icmp[8:]
            mode = socks[s.fileno()][1]
            good = reply(ident, seq, payload)
            if mode.startswith("late:"):
                heapq.heappush(due, (now + int(mode[5:]) / 1000, n, s, good, src))
            elif mode.startswith("corrupt:"):
                bad = payload[:-1] + bytes([payload[-1] ^ 0xFF]) if payload else b"x"
                s.sendto(reply(ident, seq, bad), (src, 0))
                heapq.heappush(due, (now + int(mode[8:]) / 1000, n, s, good, src))
            elif mode == "dup":
                s.sendto(good, (src, 0))
                s.sendto(good, (src, 0))
            n += 1
        while due and due[0][0] <= time.monotonic():
            _, _, s, pkt, dst = heapq.heappop(due)
            s.sendto(pkt, (dst, 0))


if __name__ == "__main__":
    main()
