#!/usr/bin/python3
"""Helpers of tests/lab/test_probe_ip.c, each run in a lab namespace.

  probe_ip_lab.py servers LOG     (server side) a DNS server on 10.201.0.2:53
      and TCP servers on [::]:7001 (says "from PEER\\n" on connect), 7002
      (HTTP: / answers "from PEER", /redir6 and /redir4 redirect to v6.test
      and v4.test) and 7003 (accepts and closes); every DNS question
      ("dns NAME TYPE") and connection ("PORT PEER") is a line of LOG
  probe_ip_lab.py relay PORT UPSTREAM LOG   (client side) relays 127.0.0.1:PORT
      to 127.0.0.1:UPSTREAM, writing each request's Accept-Encoding
      ("ae VALUE") and each response's Content-Encoding ("ce VALUE") to LOG
  probe_ip_lab.py churn HOST PORT N         (client side) N HTTP requests,
      each on a connection this side closes first: N TIME_WAIT sockets here

Names: dual.test has A 10.201.0.2 and AAAA fd00:201::2, v4.test the A
alone, v6.test the AAAA alone; any other name is NXDOMAIN.
"""
import socket
import struct
import sys
import threading

RECORDS = {
    "dual.test": {1: socket.inet_pton(socket.AF_INET, "10.201.0.2"),
                  28: socket.inet_pton(socket.AF_INET6, "fd00:201::2")},
    "v4.test": {1: socket.inet_pton(socket.AF_INET, "10.201.0.2")},
    "v6.test": {28: socket.inet_pton(socket.AF_INET6, "fd00:201::2")},
}
TYPES = {1: "A", 28: "AAAA"}
lock = threading.Lock()
logf = None


def log(line):
    with lock:
        logf.write(line + "\n")
        logf.flush()


def peer_of(addr):
    host = addr[0]
    return host[7:] if host.startswith("::ffff:") else host


def dns_answer(q):
    qid, flags, qd = struct.unpack(">HHH", q[:6])
    pos, labels = 12, []
    while q[pos]:
        labels.append(q[pos + 1:pos + 1 + q[pos]].decode("ascii", "replace"))
        pos += 1 + q[pos]
    pos += 1
    qtype, _ = struct.unpack(">HH", q[pos:pos + 4])
    question = q[12:pos + 4]
    name = ".".join(labels).lower()
    log("dns %s %s" % (name, TYPES.get(qtype, str(qtype))))
    recs = RECORDS.get(name)
    rcode = 0 if recs is not None else 3
    answers = b""
    if recs and qtype in recs:
        rdata = recs[qtype]
        answers = struct.pack(">HHHIH", 0xC00C, qtype, 1, 300, len(rdata)) + rdata
    head = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1,
                       1 if answers else 0, 0, 0)
    return head + question + answers


def dns_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.201.0.2", 53))
    while True:
        q, peer = s.recvfrom(4096)
        try:
            s.sendto(dns_answer(q), peer)
        except Exception:  # a malformed question: no answer
            pass


def drain(c):
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass


def on_7001(c, peer):
    try:
        c.sendall(b"from " + peer.encode() + b"\n")
    except OSError:
        pass
    drain(c)


def on_7002(c, peer):
    head = b""
    try:
        while b"\r\n\r\n" not in head:
            got = c.recv(4096)
            if not got:
                return
            head += got
        path = head.split(b" ")[1].decode()
        log("7002 %s %s" % (peer, path))
        if path in ("/redir6", "/redir4"):
            where = "v6.test" if path == "/redir6" else "v4.test"
            resp = ("HTTP/1.1 302 Found\r\nLocation: http://%s:7002/\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n" % where)
        else:
            body = "from %s\n" % peer
            resp = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                    "Connection: close\r\n\r\n%s" % (len(body), body))
        c.sendall(resp.encode())
        drain(c)  # the client closes first
    except OSError:
        pass


def handle(handler, c, peer):
    handler(c, peer)
    c.close()


def serve(port, handler):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(128)
    while True:
        c, addr = s.accept()
        peer = peer_of(addr)
        if port != 7002:
            log("%d %s" % (port, peer))
        threading.Thread(target=handle, args=(handler, c, peer), daemon=True).start()


def servers(path):
    global logf
    logf = open(path, "a")
    threads = [threading.Thread(target=dns_server, daemon=True)]
    threads += [threading.Thread(target=serve, args=(p, h), daemon=True)
                for p, h in ((7001, on_7001), (7002, on_7002), (7003, lambda c, p: None))]
    for t in threads:
        t.start()
    log("ready")
    threading.Event().wait()


def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip().decode()
    return "-"


def pipe(src, dst, what):
    """Copy src to dst, logging the header `what` of each message head that
    starts a read (good enough for one request or response per read)."""
    try:
        while True:
            got = src.recv(65536)
            if not got:
                break
            if got.startswith(b"GET ") or got.startswith(b"HTTP/"):
                log("%s %s" % ("ae" if what == b"accept-encoding" else "ce",
                               header(got.split(b"\r\n\r\n")[0], what)))
            dst.sendall(got)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay(port, upstream, path):
    global logf
    logf = open(path, "a")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    log("ready")
    while True:
        c, _ = s.accept()
        u = socket.create_connection(("127.0.0.1", upstream))
        threading.Thread(target=pipe, args=(c, u, b"accept-encoding"), daemon=True).start()
        threading.Thread(target=pipe, args=(u, c, b"content-encoding"), daemon=True).start()


def churn(host, port, n):
    for _ in range(n):
        c = socket.create_connection((host, port))
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            more = c.recv(4096)
            if not more:
                break
            got += more
        head, _, body = got.partition(b"\r\n\r\n")
        want = int(header(head, b"content-length").replace("-", "0"))
        while len(body) < want:  # all of it: unread bytes would make close() an RST
            more = c.recv(4096)
            if not more:
                break
            body += more
        c.close()  # first, the server waiting for it: TIME_WAIT on this side


if __name__ == "__main__":
    if sys.argv[1] == "servers":
        servers(sys.argv[2])
    elif sys.argv[1] == "relay":
        relay(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "churn":
        churn(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
