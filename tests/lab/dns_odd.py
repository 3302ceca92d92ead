#!/usr/bin/python3
"""The dns lab's odd server: answers no real DNS server gives on purpose.

Usage: dns_odd.py ADDRESS PORT [CERT KEY]

Over UDP and TCP on ADDRESS:PORT (and, with CERT and KEY, DNS over TLS on
PORT + 1), by the question's name:
  servfail.odd.  SERVFAIL
  wrongid.odd.   first an answer with another ID, then the right one
                 (A 10.9.9.9)
  garbage.odd.   the query's ID followed by bytes that are no DNS message
  silent.odd.    nothing at all
  tsig.odd.      A 10.9.9.9, signed with a TSIG record nobody can verify
  anything else  A 10.9.9.9, TTL 60
"""
import socket
import ssl
import struct
import sys
import threading


def question(q):
    """(name in lower case, offset past the question) of query q."""
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    return ".".join(labels).lower() + ".", i + 5


def answers(q):
    """The datagrams (or TCP messages) to send back for query q."""
    qid = q[:2]
    name, end = question(q)
    qsec = q[12:end]
    if name == "silent.odd.":
        return []
    if name == "garbage.odd.":
        return [qid + b"\x81\x80\xff\xff not a dns message"]
    if name == "servfail.odd.":
        return [qid + struct.pack(">HHHHH", 0x8182, 1, 0, 0, 0) + qsec]
    a = struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0) + qsec + \
        b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([10, 9, 9, 9])
    if name == "tsig.odd.":
        alg = b"\x0bhmac-sha256\x00"
        mac = bytes(32)
        rdata = alg + b"\x00\x00\x65\x4f\x00\x00" + struct.pack(">HH", 300, len(mac)) + mac + \
            qid + struct.pack(">HH", 0, 0)
        tsig = b"\x00" + struct.pack(">HHIH", 250, 255, 0, len(rdata)) + rdata
        return [qid + a[:8] + b"\x00\x01" + a[10:] + tsig]
    if name == "wrongid.odd.":
        other = struct.pack(">H", (struct.unpack(">H", qid)[0] + 1) & 0xffff)
        return [other + a, qid + a]
    return [qid + a]


def udp(addr, port):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        q, peer = s.recvfrom(4096)
        try:
            for a in answers(q):
                s.sendto(a, peer)
        except (IndexError, struct.error):
            pass


def serve_tcp(c):
    try:
        while True:
            head = c.recv(2)
            if len(head) < 2:
                return
            n = struct.unpack(">H", head)[0]
            q = b""
            while len(q) < n:
                more = c.recv(n - len(q))
                if not more:
                    return
                q += more
            for a in answers(q):
                c.sendall(struct.pack(">H", len(a)) + a)
    except (OSError, IndexError, struct.error):
        pass
    finally:
        c.close()


def tcp(addr, port, ctx=None):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        if ctx:
            try:
                c.settimeout(5)
                c = ctx.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError):
                c.close()
                continue
        threading.Thread(target=serve_tcp, args=(c,), daemon=True).start()


def main():
    addr, port = sys.argv[1], int(sys.argv[2])
    threading.Thread(target=udp, args=(addr, port), daemon=True).start()
    if len(sys.argv) > 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        threading.Thread(target=tcp, args=(addr, port + 1, ctx), daemon=True).start()
    tcp(addr, port)


if __name__ == "__main__":
    main()
