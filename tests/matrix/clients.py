#!/usr/bin/python3
"""The client matrix's scripted clients (docs/LAB.md), run by run.sh inside a
cell's client namespace with Debian's /usr/bin/python3.

Each prints one line per body it received, `BODY <sha256> <length>`, and how
the connection ended, `END eof|reset|abort|...`; trouble goes to stderr as
`ERROR ...` with exit status 1. The runner compares the digests with the body
`twkit serve` makes, and the exit status, and counts TIME_WAIT.

  clients.py urllib URL
  clients.py httpclient HOST PORT N        N requests on one keep-alive connection
  clients.py halfclose HOST PORT           GET, shutdown(SHUT_WR) at once, read to EOF
  clients.py pipeline HOST PORT N          N pipelined GETs, SHUT_WR, read to EOF
  clients.py waitclose HOST PORT           HTTP/1.1 Connection: close, read until
                                           the server closes (never closes first)
  clients.py http10 HOST PORT              HTTP/1.0, no keep-alive, read until the
                                           server closes
  clients.py twp MODE HOST PORT [options]  twp (docs/PROTOCOL.md), a slow reader:
      MODE bye   DATA then BYE, read every echo and GOODBYE, abort (SO_LINGER 0)
      MODE done  DATA up to the server's --max-requests, read every echo and
                 DONE, then close (FIN), read to EOF
      MODE fin   DATA, read every echo, then close on its own (FIN), read to EOF
      MODE idle  DATA once, read every echo slowly, then wait for the server's
                 idle abort
"""
import argparse
import hashlib
import http.client
import select
import socket
import struct
import sys
import time
import urllib.request

TIMEOUT = 120.0  # no single read or connection may take longer


def err(msg):
    print("ERROR " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def body_line(body):
    print("BODY %s %d" % (hashlib.sha256(body).hexdigest(), len(body)), flush=True)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def connect(host, port):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect((host, port))
    return s


def hostport(host, port):
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def read_to_eof(s):
    """Everything until EOF: ('eof' or 'reset', data, seconds from the last
    byte to the end)."""
    chunks, t_last = [], time.monotonic()
    while True:
        try:
            b = s.recv(1 << 16)
        except ConnectionResetError:
            return "reset", b"".join(chunks), time.monotonic() - t_last
        if not b:
            return "eof", b"".join(chunks), time.monotonic() - t_last
        chunks.append(b)
        t_last = time.monotonic()


def parse_responses(data, want):
    """Split a byte stream into `want` HTTP responses with Content-Length."""
    bodies, pos = [], 0
    for i in range(want):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            err("response %d: no complete head (%d bytes after the previous one)"
                % (i + 1, len(data) - pos))
        head = data[pos:end].decode("latin-1").split("\r\n")
        if not head[0].startswith("HTTP/1.1 200 "):
            err("response %d: status line %r" % (i + 1, head[0]))
        clen = None
        for h in head[1:]:
            k, _, v = h.partition(":")
            if k.strip().lower() == "content-length":
                clen = int(v.strip())
        if clen is None:
            err("response %d: no Content-Length" % (i + 1))
        body = data[end + 4:end + 4 + clen]
        if len(body) != clen:
            err("response %d: body cut at %d of %d bytes" % (i + 1, len(body), clen))
        bodies.append(body)
        pos = end + 4 + clen
    if pos != len(data):
        err("%d bytes after the last response" % (len(data) - pos))
    return bodies


def get(host, port, extra="", version="1.1"):
    return ("GET / HTTP/%s\r\nHost: %s\r\n%s\r\n" % (version, hostport(host, port), extra)).encode()


def c_urllib(a):
    with urllib.request.urlopen(a.url, timeout=TIMEOUT) as r:
        if r.status != 200:
            err("status %d" % r.status)
        body_line(r.read())
    print("END closed", flush=True)


def c_httpclient(a):
    conn = http.client.HTTPConnection(a.host, a.port, timeout=TIMEOUT)
    first = None
    for i in range(a.n):
        conn.request("GET", "/")
        r = conn.getresponse()
        if r.status != 200:
            err("request %d: status %d" % (i + 1, r.status))
        body = r.read()
        if r.will_close:
            err("request %d: the server said Connection: close" % (i + 1))
        if first is None:
            first = conn.sock
        elif conn.sock is not first:
            err("request %d: not on the first connection" % (i + 1))
        body_line(body)
    conn.close()
    print("END closed", flush=True)


def scripted(a, reqs, want, half_close):
    s = connect(a.host, a.port)
    s.sendall(reqs)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    how, data, after = read_to_eof(s)
    took = time.monotonic() - t0
    if how == "reset":
        err("connection reset after %d bytes (%.2f s; %.2f s after the last byte), not EOF"
            % (len(data), took, after))
    for b in parse_responses(data, want):
        body_line(b)
    s.close()
    print("END eof %.2f s after the last byte (%.2f s in all)" % (after, took), flush=True)


def c_halfclose(a):
    scripted(a, get(a.host, a.port), 1, True)


def c_pipeline(a):
    scripted(a, get(a.host, a.port) * a.n, a.n, True)


def c_waitclose(a):
    scripted(a, get(a.host, a.port, "Connection: close\r\n"), 1, False)


def c_http10(a):
    scripted(a, get(a.host, a.port, version="1.0"), 1, False)


# ---- twp ----

HELLO, DATA, PING, PONG, ERROR, DONE, BYE, GOODBYE = range(1, 9)
NAMES = {1: "HELLO", 2: "DATA", 3: "PING", 4: "PONG", 5: "ERROR", 6: "DONE", 7: "BYE",
         8: "GOODBYE"}


def frame(t, payload=b""):
    return struct.pack(">IB", len(payload), t) + payload


def payload(i, size):
    """Frame i's bytes: distinct per frame, so a reordered or mixed echo shows."""
    seed = hashlib.sha256(b"twp-%d" % i).digest()
    return (seed * (size // len(seed) + 1))[:size]


class SlowReader:
    """Reads at most `rate` bytes/s, in chunks, while sending what is queued."""

    def __init__(self, s, rate, deadline):
        self.s, self.rate, self.deadline = s, rate, deadline
        self.buf = bytearray()
        self.out = bytearray()
        self.t0 = time.monotonic()
        self.got = 0
        self.eof = False

    def step(self):
        now = time.monotonic()
        if now > self.deadline:
            err("twp: deadline passed with %d bytes read" % self.got)
        allowed = self.rate * (now - self.t0) - self.got
        want_r = allowed >= 4096 and not self.eof
        r, w, _ = select.select([self.s] if want_r else [], [self.s] if self.out else [], [],
                                0.02)
        if w:
            n = self.s.send(self.out[:1 << 16])
            del self.out[:n]
        if r:
            b = self.s.recv(min(int(allowed), 1 << 14))  # ConnectionResetError: caller
            if not b:
                self.eof = True
            self.got += len(b)
            self.buf += b

    def frame(self):
        """The next whole frame (type, payload), or None for now."""
        if len(self.buf) < 5:
            return None
        n, t = struct.unpack(">IB", self.buf[:5])
        if len(self.buf) < 5 + n:
            return None
        p = bytes(self.buf[5:5 + n])
        del self.buf[:5 + n]
        return t, p

    def next(self):
        while True:
            f = self.frame()
            if f:
                return f
            if self.eof:
                return None
            self.step()

    def flush(self):
        while self.out:
            self.step()


def c_twp(a):
    deadline = time.monotonic() + a.deadline
    s = connect(a.host, a.port)
    s.setblocking(False)
    rd = SlowReader(s, a.read_rate, deadline)
    rd.out += frame(HELLO, b"twp\x01")
    sizes = [a.frame_size] * a.frames
    for i, n in enumerate(sizes):
        rd.out += frame(DATA, payload(i, n))
    if a.mode == "bye":
        rd.out += frame(BYE)
    echoed = 0
    t_last = None
    try:
        f = rd.next()
        if not f or f[0] != HELLO or f[1] != b"twp\x01":
            err("twp: first frame %r, not HELLO v1" % (f and NAMES.get(f[0], f[0])))
        while echoed < len(sizes):
            f = rd.next()
            if f is None:
                err("twp: EOF after %d of %d echoes" % (echoed, len(sizes)))
            if f[0] != DATA:
                err("twp: %s after %d of %d echoes" % (NAMES.get(f[0], f[0]), echoed, len(sizes)))
            if f[1] != payload(echoed, sizes[echoed]):
                err("twp: echo %d is not what was sent (%d bytes)" % (echoed + 1, len(f[1])))
            echoed += 1
        t_last = time.monotonic()
        print("ECHOES %d %d bytes %.2f s" % (echoed, sum(sizes), t_last - rd.t0), flush=True)
        rd.flush()
        if a.mode in ("bye", "done"):
            want = GOODBYE if a.mode == "bye" else DONE
            f = rd.next()
            if f is None or f[0] != want:
                err("twp: %s, not %s, after the echoes"
                    % ("EOF" if f is None else NAMES.get(f[0], f[0]), NAMES[want]))
            print(NAMES[want], flush=True)
        if a.mode == "bye":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
            print("END abort", flush=True)
            return
        if a.mode in ("done", "fin"):
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError as e:  # ENOTCONN: an RST came in behind the data
                err("twp: every echo read, but the connection was reset before our FIN (%s)"
                    % e.strerror)
            rd.rate = 1 << 30
            f = rd.next()
            if f is not None:
                err("twp: %s after our FIN, not EOF" % NAMES.get(f[0], f[0]))
            s.close()
            print("END eof", flush=True)
            return
        # idle: every byte is in; the server aborts the silent connection
        rd.rate = 1 << 30
        f = rd.next()
        err("twp: %s instead of the idle abort" % ("EOF" if f is None else NAMES.get(f[0], f[0])))
    except (ConnectionResetError, BrokenPipeError):
        if a.mode == "idle" and t_last is not None:
            s.close()
            print("END reset %.2f s after the last echo" % (time.monotonic() - t_last), flush=True)
            return
        err("twp: connection reset after %d of %d echoes (%d bytes read)"
            % (echoed, len(sizes), rd.got))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="client", required=True)
    q = sub.add_parser("urllib")
    q.add_argument("url")
    for name in ("httpclient", "halfclose", "pipeline", "waitclose", "http10"):
        q = sub.add_parser(name)
        q.add_argument("host")
        q.add_argument("port", type=int)
        if name in ("httpclient", "pipeline"):
            q.add_argument("n", type=int)
    q = sub.add_parser("twp")
    q.add_argument("mode", choices=("bye", "done", "fin", "idle"))
    q.add_argument("host")
    q.add_argument("port", type=int)
    q.add_argument("--frames", type=int, default=16)
    q.add_argument("--frame-size", type=int, default=256 << 10)
    q.add_argument("--read-rate", type=int, default=96 << 10, help="bytes/s")
    q.add_argument("--deadline", type=float, default=100.0, help="seconds")
    a = p.parse_args()
    globals()["c_" + a.client](a)


if __name__ == "__main__":
    main()
