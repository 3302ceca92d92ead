#!/usr/bin/python3
"""The load of bench/soak.sh: well-behaved clients or hostile peers of one
`twkit serve` (twp or HTTP), for a bounded time, in one asyncio process.

    soak_peers.py --role good|hostile --proto twp|http --addr 127.0.0.1:7070
                  --seconds N --status FILE [server settings, see --help]

Every socket is a plain non-blocking one driven with loop.sock_* (no
buffering of ours between the socket and the test), so "never reads",
"trickles", "resets now" mean exactly that on the wire.

The status file (rewritten every second, atomically) has one "key value"
line per counter; soak.sh reads it for its progress lines and its table:
  good.requests, good.bytes ...   the good clients (verified replies)
  fail.REASON                     a good client's failure, by reason
  conns.KIND, hostile.conns       connections made by each hostile kind
  out.KIND.VARIANT.OUTCOME        how each hostile connection ended
  wrong.KIND.VARIANT              the server answered a hostile peer with
                                  bytes the protocol forbids (a failure)
  done 1                          the last write, after everything stopped
Failures and wrong answers are also described on stderr, one line each
(the first MAX_LOG), with what was sent and received, to reproduce them.

Good clients never give the server's reaper a reason to pick them: the
reaper (a full table) takes an OPEN connection with nothing buffered,
nothing unacknowledged and a request answered, from the 64 least recently
active. Between requests a good client keeps the first byte of its next
request in the server's input buffer (twp: the 0x00 that starts every
frame header; HTTP: the first byte of the next request line), so it is
never idle in that sense; within one write it was just read, so it sits at
the far end of the reaper's scan. The idle timer skips it for the same
reason. Hostile idlers are the reaper's intended victims.
"""

import argparse
import asyncio
import errno
import hashlib
import os
import random
import re
import socket
import struct
import sys
import time
from collections import Counter, deque

ST = Counter()
LOG_LEFT = [0]
A = None          # the parsed arguments
LOOP = None
T0 = 0.0
DEADLINE = 0.0    # no new session or attack starts after this (monotonic)
ADDR = None


def stopping():
    return time.monotonic() >= DEADLINE


def log(msg):
    if LOG_LEFT[0] > 0:
        LOG_LEFT[0] -= 1
        print("%7.1fs %s %s: %s" % (time.monotonic() - T0, A.role, A.proto, msg),
              file=sys.stderr, flush=True)


def write_status(final=False):
    tmp = A.status + ".tmp"
    with open(tmp, "w") as f:
        for k in sorted(ST):
            f.write("%s %d\n" % (k, ST[k]))
        f.write("elapsed %d\n" % int(time.monotonic() - T0))
        if final:
            f.write("done 1\n")
    os.replace(tmp, A.status)


async def status_writer():
    while True:
        write_status()
        await asyncio.sleep(1.0)


# ---- errors ----

class Bad(Exception):
    """The server sent something the protocol does not allow here."""
    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Eof(Exception):
    def __init__(self, have, want):
        super().__init__("EOF after %d of %d bytes" % (have, want))


def classify(e):
    if isinstance(e, Bad):
        return e.reason
    if isinstance(e, Eof):
        return "eof"
    if isinstance(e, TimeoutError):
        return "timeout"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(e, OSError):
        return "oserror-" + errno.errorcode.get(e.errno or 0, str(e.errno))
    return "exception-" + type(e).__name__


def show(b, n=48):
    b = bytes(b)
    return repr(b[:n]) + ("...(%d bytes)" % len(b) if len(b) > n else "")


# ---- sockets ----

class Conn:
    __slots__ = ("s", "buf", "port", "gone", "is_shut")

    def __init__(self, s):
        self.s = s
        self.buf = bytearray()
        self.gone = self.is_shut = False
        try:
            self.port = s.getsockname()[1]
        except OSError:
            self.port = 0

    @staticmethod
    async def open(timeout):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            async with asyncio.timeout(timeout):
                await LOOP.sock_connect(s, ADDR)
        except BaseException:
            s.close()
            raise
        return Conn(s)

    async def send(self, data):
        await LOOP.sock_sendall(self.s, data)

    async def fill(self):
        d = await LOOP.sock_recv(self.s, 262144)
        if not d:
            return False
        self.buf += d
        return True

    async def exact(self, n):
        while len(self.buf) < n:
            if not await self.fill():
                raise Eof(len(self.buf), n)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def until(self, sep, limit):
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                i += len(sep)
                out = bytes(self.buf[:i])
                del self.buf[:i]
                return out
            if len(self.buf) > limit:
                raise Bad("protocol", "no end of head in %d bytes: %s" % (len(self.buf), show(self.buf)))
            start = max(0, len(self.buf) - len(sep) + 1)
            if not await self.fill():
                raise Eof(len(self.buf), len(self.buf) + 1)

    async def expect_eof(self, what):
        """Nothing more, then a clean EOF (not a reset)."""
        if self.buf:
            raise Bad("extra-bytes", "%s: %s before EOF" % (what, show(self.buf)))
        d = await LOOP.sock_recv(self.s, 65536)
        if d:
            raise Bad("extra-bytes", "%s: %s before EOF" % (what, show(d)))

    def poll_state(self):
        """Without reading: 'alive', 'eof' (the server's FIN) or 'reset'
        (TCP_INFO's state: ESTABLISHED, CLOSE_WAIT, CLOSE)."""
        try:
            st = self.s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
        except OSError:
            return "error"
        return {1: "alive", 8: "eof", 7: "reset"}.get(st, "state%d" % st)

    def shut(self):
        if not self.is_shut:
            self.is_shut = True
            self.s.shutdown(socket.SHUT_WR)

    def abort(self):
        if self.gone:
            return
        self.gone = True
        try:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.s.close()

    def close(self):
        if not self.gone:
            self.gone = True
            self.s.close()


async def sleep_or_stop(seconds):
    """Sleep, but not past the deadline. False if the deadline came."""
    left = DEADLINE - time.monotonic()
    if left <= 0:
        return False
    await asyncio.sleep(min(seconds, left))
    return not stopping()


# ---- twp ----

HELLO, DATA, PING, PONG, ERROR, DONE, BYE, GOODBYE = range(1, 9)
NAMES = {1: "HELLO", 2: "DATA", 3: "PING", 4: "PONG", 5: "ERROR", 6: "DONE", 7: "BYE", 8: "GOODBYE"}


def frame(t, p=b""):
    return struct.pack(">IB", len(p), t) + p


HELLO_F = frame(HELLO, b"twp\x01")
BYE_F = frame(BYE)


def fname(t):
    return NAMES.get(t, "type%d" % t)


async def read_frame(c, limit=None):
    h = await c.exact(5)
    n, t = struct.unpack(">IB", h)
    if n > (limit if limit is not None else A.max_frame + 300):
        raise Bad("protocol", "frame header %s: length %d" % (show(h), n))
    return t, await c.exact(n)


def frame_desc(t, p):
    if t == ERROR and len(p) >= 2:
        return "ERROR %d %r" % (p[0] << 8 | p[1], p[2:].decode("utf-8", "replace"))
    return "%s(%d)" % (fname(t), len(p))


def mismatch(want, got):
    i = 0
    n = min(len(want), len(got))
    while i < n and want[i] == got[i]:
        i += 1
    return "sent %d bytes (sha256 %s), echo %d bytes (sha256 %s), first difference at %d" % (
        len(want), hashlib.sha256(want).hexdigest()[:16], len(got),
        hashlib.sha256(got).hexdigest()[:16], i)


# ---- HTTP ----

def body_pattern(n):
    # cmd_serve.c: body[i] = i + 1 == n ? '\n' : "hello, twkit"[i % 12]
    unit = b"hello, twkit"
    b = (unit * (n // 12 + 1))[:n]
    return b[:-1] + b"\n" if n else b""


class Req:
    __slots__ = ("name", "data", "split", "status", "body", "head", "close", "expect100", "marker")

    def __init__(self, name, data, status, body, head=False, close=False, split=None,
                 expect100=False, marker=None):
        self.marker = marker      # body None, not HEAD: the body must contain this
        self.name = name
        self.data = data          # the whole request
        self.split = split        # Expect: 100-continue: the head's length
        self.status = status
        self.body = body          # the expected response body (None: HEAD)
        self.head = head
        self.close = close        # the request asks the server to close
        self.expect100 = expect100


def http_request(rnd, kind, close=False, v10=False, ka10=False):
    host = b"Host: soak.test\r\n"
    conn = b"Connection: close\r\n" if close else (b"Connection: keep-alive\r\n" if ka10 else b"")
    ver = b"HTTP/1.0" if v10 else b"HTTP/1.1"
    end = conn + b"\r\n"
    if kind == "get":
        return Req(kind, b"GET / " + ver + b"\r\n" + host + end, 200, BODY, close=close)
    if kind == "getq":
        q = b"%x" % rnd.getrandbits(40)
        return Req(kind, b"GET /?q=" + q + b" " + ver + b"\r\n" + host + b"Accept: */*\r\n" + end,
                   200, BODY, close=close)
    if kind == "abs":
        return Req(kind, b"GET http://soak.test/ " + ver + b"\r\n" + host + end, 200, BODY, close=close)
    if kind == "head":
        return Req(kind, b"HEAD / " + ver + b"\r\n" + host + end, 200, None, head=True, close=close)
    if kind == "health":
        return Req(kind, b"GET /health " + ver + b"\r\n" + host + end, 200, b"ok\n", close=close)
    if kind == "metrics":   # changes with every request: its families are checked
        return Req(kind, b"GET /metrics " + ver + b"\r\n" + host + end, 200, None, close=close,
                   marker=b"\ntwkit_server_connections_ended_total{how=\"closed_by_peer\"} ")
    if kind == "404":
        p = b"/nope/%x" % rnd.getrandbits(32)
        return Req(kind, b"GET " + p + b" " + ver + b"\r\n" + host + end, 404, b"not found\n", close=close)
    if kind in ("post", "expect") or (kind == "chunked" and v10):
        # Expect: a body of at least a byte (for none there is no 100 to wait for)
        body = rnd.randbytes(rnd.choice((0 if kind == "post" else 1, rnd.randint(1, 600),
                                         rnd.randint(601, 70000))))
        h = (b"POST / " + ver + b"\r\n" + host + b"Content-Type: application/octet-stream\r\n"
             b"Content-Length: %d\r\n" % len(body))
        if kind == "expect" and not v10:
            h += b"Expect: 100-continue\r\n" + end
            return Req(kind, h + body, 405, b"method not allowed\n", close=close, split=len(h),
                       expect100=True)
        return Req(kind, h + end + body, 405, b"method not allowed\n", close=close)
    if kind == "chunked":
        body = rnd.randbytes(rnd.randint(0, 40000))
        out = [b"POST / " + ver + b"\r\n" + host + b"Transfer-Encoding: chunked\r\n" + end]
        i = 0
        while i < len(body):
            n = rnd.randint(1, 9000)
            ext = b";x=%d" % n if rnd.random() < 0.2 else b""
            out.append(b"%x%s\r\n" % (len(body[i:i + n]), ext) + body[i:i + n] + b"\r\n")
            i += n
        out.append(b"0\r\n" + (b"X-Trailer: t\r\n" if rnd.random() < 0.2 else b"") + b"\r\n")
        return Req(kind, b"".join(out), 405, b"method not allowed\n", close=close)
    raise ValueError(kind)


# "expect" last: the half-closers take KA_KINDS[:-1]
KA_KINDS = ["get", "get", "get", "getq", "abs", "head", "health", "404", "post", "chunked",
            "metrics", "expect"]
STATUS_RE = re.compile(rb"HTTP/1\.([01]) (\d{3}) [^\r\n]*\Z")


async def read_response(c, req, want_close):
    """One response to req (an interim 100 first when asked for: returned
    as 100, the caller then sends the body). Verifies status, body, and the
    Connection header; returns the status."""
    head = await c.until(b"\r\n\r\n", 65536)
    lines = head[:-4].split(b"\r\n")
    m = STATUS_RE.match(lines[0])
    if not m:
        raise Bad("protocol", "%s: status line %s" % (req.name, show(lines[0])))
    status = int(m.group(2))
    hdr = {}
    for ln in lines[1:]:
        k, sep, v = ln.partition(b":")
        if not sep:
            raise Bad("protocol", "%s: header line %s" % (req.name, show(ln)))
        hdr[k.strip().lower()] = v.strip()
    if status == 100:
        if not req.expect100:
            raise Bad("protocol", "%s: 100 Continue nobody asked for" % req.name)
        return 100
    if status != req.status:
        raise Bad("bad-status", "%s: status %d, expected %d" % (req.name, status, req.status))
    try:
        cl = int(hdr[b"content-length"])
    except (KeyError, ValueError):
        raise Bad("protocol", "%s: no Content-Length: %s" % (req.name, show(head, 200)))
    closes = b"close" in hdr.get(b"connection", b"").lower()
    if closes != want_close:
        raise Bad("protocol", "%s: Connection: %s, expected %s" % (
            req.name, hdr.get(b"connection", b"(none)").decode(), "close" if want_close else "no close"))
    if req.head:
        if cl != len(BODY):
            raise Bad("mismatch", "HEAD: Content-Length %d, expected %d" % (cl, len(BODY)))
        return status
    if req.marker is not None:
        body = await c.exact(cl)
        if req.marker not in body:
            raise Bad("mismatch", "%s: %r not in the body %s" % (req.name, req.marker, show(body, 80)))
        ST["good.bytes"] += cl
        return status
    if cl != len(req.body):
        raise Bad("mismatch", "%s: Content-Length %d, expected %d" % (req.name, cl, len(req.body)))
    body = await c.exact(cl)
    if body != req.body:
        raise Bad("mismatch", "%s: body %s" % (req.name, mismatch(req.body, body)))
    ST["good.bytes"] += cl
    return status


# ---- good clients ----

class Good:
    def __init__(self, wid):
        self.wid = wid
        self.rnd = random.Random(A.seed * 1000 + wid)
        self.retry = deque()   # twp payloads / HTTP requests a server did not process

    def fail(self, what, e, c=None, extra=""):
        reason = classify(e)
        ST["fail." + reason] += 1
        ST["good.failures"] += 1
        detail = e.detail if isinstance(e, Bad) else (str(e) or type(e).__name__)
        log("FAIL %s [%s] client %d, local port %s: %s%s" % (
            what, reason, self.wid, c.port if c else "-", detail, extra))

    async def connect(self, what):
        try:
            c = await Conn.open(A.good_timeout)
        except Exception as e:
            self.fail(what + " connect", e)
            return None
        ST["good.conns"] += 1
        return c

    async def think(self):
        if A.think_ms:
            await asyncio.sleep(self.rnd.uniform(0, A.think_ms) / 1000.0)

    async def run(self):
        while not stopping():
            try:
                await (self.twp_session() if A.proto == "twp" else self.http_session())
            except Exception as e:  # a bug of ours: count it, say it
                self.fail("client", e, extra=" (uncaught %r)" % e)
                await asyncio.sleep(0.1)
            await self.think()

    # twp: HELLO, DATA echoes (and PINGs), then BYE/GOODBYE + abort, our
    # FIN, or the server's DONE (--max-requests), in random mixes.
    def payload(self):
        r = self.rnd.random()
        mf = A.max_frame
        if r < 0.04:
            n = 0
        elif r < 0.6:
            n = self.rnd.randint(1, 512)
        elif r < 0.9:
            n = self.rnd.randint(513, min(16384, mf))
        elif r < 0.97:
            n = self.rnd.randint(1, mf)
        else:
            n = mf
        return self.rnd.randbytes(n)

    async def twp_session(self):
        rnd = self.rnd
        mode = rnd.choices(("bye", "fin", "done", "oneshot"), (4, 2, 2, 2))[0]
        ending = "bye" if mode in ("bye", "oneshot") else "fin"   # "done": unless DONE came
        planned = {"bye": rnd.randint(1, 60), "fin": rnd.randint(1, 60), "done": 1 << 30,
                   "oneshot": rnd.randint(1, 4)}[mode]
        what = "twp " + mode
        c = await self.connect(what)
        if not c:
            await asyncio.sleep(0.5)
            return
        ST["good.sessions"] += 1
        ndata = 0
        hello_sent = partial = hello_seen = bye_sent = False
        expect = deque()
        send = None
        try:
            while True:
                k = planned if mode == "oneshot" else rnd.randint(1, 4)
                frames = []
                for _ in range(k):
                    if mode != "oneshot" and rnd.random() < 0.05:
                        p = rnd.randbytes(rnd.randint(0, 64))
                        frames.append(frame(PING, p))
                        expect.append((PONG, p))
                    else:
                        p = self.retry.popleft() if self.retry else self.payload()
                        frames.append(frame(DATA, p))
                        expect.append((DATA, p))
                        ndata += 1
                final = stopping() or ndata >= planned or (mode == "done" and ndata > 4 * A.max_requests)
                stream = b"".join(frames)
                if not hello_sent:
                    stream = HELLO_F + stream
                    hello_sent = True
                keep = True
                if final and ending == "bye":
                    stream += BYE_F
                    bye_sent = True
                    keep = False
                data = stream[1:] if partial else stream
                if keep:
                    data += b"\x00"   # the next frame's first byte: never idle
                partial = keep
                send = asyncio.ensure_future(c.send(data))
                shut_early = final and ending == "fin" and rnd.random() < 0.5
                async with asyncio.timeout(A.good_timeout):
                    if shut_early:
                        await send
                        c.shut()
                    if not hello_seen:
                        t, p = await read_frame(c)
                        if t != HELLO or p != b"twp\x01":
                            raise Bad("protocol", "first frame %s, not HELLO" % frame_desc(t, p))
                        hello_seen = True
                    while expect:
                        t, p = await read_frame(c)
                        if t == DONE:
                            return await self.twp_done(c, send, expect, bye_sent, what)
                        wt, want = expect.popleft()
                        if t != wt:
                            raise Bad("protocol", "%s where %s(%d) was due, after %d DATA" % (
                                frame_desc(t, p), fname(wt), len(want), ndata))
                        if p != want:
                            raise Bad("mismatch", "%s echo: %s" % (fname(t), mismatch(want, p)))
                        if t == DATA:
                            ST["good.requests"] += 1
                            ST["good.bytes"] += len(p)
                        else:
                            ST["good.pings"] += 1
                    await send
                if final:
                    break
                await self.think()
            async with asyncio.timeout(A.good_timeout):
                if ending == "fin":
                    c.shut()
                    # a DONE may follow the last reply (the limit reached)
                    if not c.buf:
                        c.buf += await LOOP.sock_recv(c.s, 65536)
                    if c.buf:
                        t, p = await read_frame(c)
                        if t != DONE:
                            raise Bad("protocol", "%s after our FIN" % frame_desc(t, p))
                        await c.expect_eof("after DONE")
                    ST["good.end.fin"] += 1
                    c.close()
                    return
                while True:  # BYE sent: GOODBYE (a DONE may cross it)
                    t, p = await read_frame(c)
                    if t == GOODBYE:
                        break
                    if t != DONE:
                        raise Bad("protocol", "%s where GOODBYE was due" % frame_desc(t, p))
                ST["good.end.bye"] += 1
                c.abort()   # the protocol's ending: no TIME_WAIT anywhere
        except Exception as e:
            if send and not send.done():
                send.cancel()
            self.fail(what, e, c, " (after %d DATA on the connection)" % ndata)
            c.abort()
        finally:
            if send and not send.done():
                send.cancel()
            c.close()

    async def twp_done(self, c, send, expect, bye_sent, what):
        """DONE: what was not answered was not processed; send it again
        elsewhere. Then our FIN and the server's (or, BYE crossed, GOODBYE)."""
        left = [p for t, p in expect if t == DATA]
        self.retry.extendleft(reversed(left))
        ST["good.retried"] += len(left)
        expect.clear()
        await send
        if bye_sent:
            t, p = await read_frame(c)
            if t != GOODBYE:
                raise Bad("protocol", "%s after DONE, where GOODBYE was due" % frame_desc(t, p))
            ST["good.end.done-bye"] += 1
            c.abort()
            return
        c.shut()
        await c.expect_eof("after DONE")
        ST["good.end.done"] += 1
        c.close()

    # HTTP: keep-alive sessions (pipelined, ended by Connection: close, our
    # FIN, or the server's --max-requests), one request and Connection:
    # close, HTTP/1.0, half-closed requests.
    async def http_session(self):
        mode = self.rnd.choices(("ka", "close", "http10", "halfclose"), (5, 2, 1, 2))[0]
        what = "http " + mode
        c = await self.connect(what)
        if not c:
            await asyncio.sleep(0.5)
            return
        ST["good.sessions"] += 1
        st = {"n": 0}
        try:
            async with asyncio.timeout(A.good_timeout * 20):
                if mode == "ka":
                    await self.http_ka(c, st)
                elif mode == "close":
                    r = http_request(self.rnd, self.rnd.choice(KA_KINDS), close=True)
                    await self.http_one(c, r, True, st)
                    c.shut()
                    await c.expect_eof("after a Connection: close response")
                elif mode == "http10":
                    ka = self.rnd.random() < 0.3
                    r = http_request(self.rnd, self.rnd.choice(("get", "head", "health", "404", "post")),
                                     v10=True, ka10=ka)
                    await self.http_one(c, r, not ka, st)
                    if ka:   # then close it ourselves
                        c.shut()
                    await c.expect_eof("after an HTTP/1.0 response")
                else:
                    rs = [http_request(self.rnd, self.rnd.choice(KA_KINDS[:-1]))
                          for _ in range(self.rnd.randint(1, 3))]
                    async with asyncio.timeout(A.good_timeout):
                        await c.send(b"".join(r.data for r in rs))
                        c.shut()
                    for r in rs:
                        st["n"] += 1
                        async with asyncio.timeout(A.good_timeout):
                            await read_response(c, r, st["n"] == A.max_requests)
                        ST["good.requests"] += 1
                    async with asyncio.timeout(A.good_timeout):
                        await c.expect_eof("after half-closed requests")
                ST["good.end." + mode] += 1
                c.close()
        except Exception as e:
            self.fail(what, e, c, " (request %d on the connection)" % st["n"])
            c.abort()
        finally:
            c.close()

    async def http_one(self, c, r, want_close, st):
        st["n"] += 1
        async with asyncio.timeout(A.good_timeout):
            if r.expect100 and r.split:
                await c.send(r.data[:r.split])
                if await read_response(c, r, want_close) != 100:
                    raise Bad("protocol", "no 100 Continue")
                await c.send(r.data[r.split:])
            else:
                await c.send(r.data)
            s = await read_response(c, r, want_close)
            if s == 100:
                raise Bad("protocol", "100 Continue for a request sent whole")
        ST["good.requests"] += 1

    async def http_ka(self, c, st):
        rnd = self.rnd
        ending = rnd.choices(("close-header", "fin", "limit"), (2, 2, 1))[0]
        planned = rnd.randint(1, max(1, A.max_requests - 1)) if ending != "limit" else 1 << 30
        nxt = None         # the request whose first byte the server has
        inflight = deque()
        while True:
            batch = []
            for _ in range(rnd.randint(1, 3)):
                if nxt is not None:
                    r, nxt = nxt, None
                elif self.retry:
                    r = self.retry.popleft()
                else:
                    r = http_request(rnd, rnd.choice(KA_KINDS))
                batch.append(r)
                if r.expect100:
                    break  # its body waits for the 100
            final = stopping() or st["n"] + len(batch) >= planned
            if final and ending == "close-header":
                # the same method, so the same first byte (it may be sent)
                last = batch[-1]
                batch[-1] = http_request(rnd, "post" if last.expect100 else last.name, close=True)
            closes = final and ending == "close-header"
            stream = b"".join(r.data if not r.expect100 else r.data[:r.split] for r in batch)
            if st.get("partial"):
                stream = stream[1:]
            if not closes and not batch[-1].expect100:
                nxt = http_request(rnd, rnd.choice(KA_KINDS))
                stream += nxt.data[:1]
                st["partial"] = True
            else:
                st["partial"] = False
            async with asyncio.timeout(A.good_timeout):
                send = asyncio.ensure_future(c.send(stream))
                try:
                    for i, r in enumerate(batch):
                        st["n"] += 1
                        want_close = r.close or st["n"] == A.max_requests
                        s = await read_response(c, r, want_close)
                        if s == 100:
                            await send
                            rest = r.data[r.split:]
                            if i + 1 == len(batch) and not closes:
                                nxt = http_request(rnd, rnd.choice(KA_KINDS))
                                rest += nxt.data[:1]
                                st["partial"] = True
                            send = asyncio.ensure_future(c.send(rest))
                            s = await read_response(c, r, want_close)
                        ST["good.requests"] += 1
                        if want_close:
                            # the rest was not processed: again, elsewhere
                            left = batch[i + 1:] + ([nxt] if nxt is not None else [])
                            self.retry.extendleft(reversed(left))
                            ST["good.retried"] += len(left)
                            await send
                            c.shut()
                            await c.expect_eof("after a Connection: close response")
                            return
                    await send
                finally:
                    if not send.done():
                        send.cancel()
            if final:
                break
            await self.think()
        async with asyncio.timeout(A.good_timeout):
            c.shut()   # ending "fin": a request's first byte is left over
            await c.expect_eof("after our FIN")


# ---- hostile peers ----

class Wrong(Exception):
    """The server's answer to a hostile peer breaks the protocol."""


class H:
    """One hostile connection, counted by kind; aborted at the end unless
    the attack ended it otherwise."""
    def __init__(self, kind):
        self.kind = kind
        self.c = None

    async def __aenter__(self):
        self.c = await Conn.open(15.0)
        ST["conns." + self.kind] += 1
        ST["hostile.conns"] += 1
        return self.c

    async def __aexit__(self, *exc):
        if self.c:
            self.c.abort()
        return False


async def read_frames(c, seconds, limit=64):
    """Frames until the connection ends: (frames, 'eof'|'reset'|'timeout')."""
    got = []
    try:
        async with asyncio.timeout(seconds):
            while len(got) < limit:
                t, p = await read_frame(c, limit=1 << 24)
                got.append((t, p))
            return got, "more"
    except Eof:
        return got, "eof"
    except (ConnectionResetError, BrokenPipeError):
        return got, "reset"
    except TimeoutError:
        return got, "timeout"


def expect_error(sent, got, end, code, before=()):
    """got must be the frames in before, then ERROR code, then the end."""
    types = [t for t, _ in got]
    want = list(before)
    if types[:len(want)] != want or len(types) != len(want) + 1 or types[-1] != ERROR:
        if end in ("reset", "eof", "timeout") and types == want:
            return "no-error-" + end   # reported, not judged: see the table
        raise Wrong("sent %s: got %s (%s), expected %s ERROR %d" % (
            show(sent, 64), [frame_desc(t, p) for t, p in got], end,
            "+".join(fname(t) for t in want) or "nothing before", code))
    p = got[-1][1]
    c = p[0] << 8 | p[1] if len(p) >= 2 else -1
    if c != code:
        raise Wrong("sent %s: ERROR %d (%r), expected code %d" % (
            show(sent, 64), c, p[2:], code))
    return "error%d-%s" % (code, end)


async def hold_send(c, data, seconds):
    """Send without ever reading, at most `seconds`: 'reset' if the server
    gave up on us, 'held' if we did."""
    try:
        async with asyncio.timeout(seconds):
            await c.send(data)
            while True:
                await asyncio.sleep(0.5)
                if c.poll_state() == "reset":
                    return "reset"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except TimeoutError:
        return "held"


async def trickle(c, data, gap, seconds):
    """data one piece at a time; 'sent' or how it ended."""
    try:
        async with asyncio.timeout(seconds):
            for i in range(len(data)):
                await c.send(data[i:i + 1])
                await asyncio.sleep(gap)
        return "sent"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except TimeoutError:
        return "held"


class TwpHostile:
    def __init__(self, rnd):
        self.rnd = rnd

    def data(self, n):
        return frame(DATA, self.rnd.randbytes(n))

    # pipelining non-readers: frames until the buffers are full, never a read
    async def nonreader(self, v):
        async with H("nonreader") as c:
            big = self.data(A.max_frame)
            if v == "data":
                blob = HELLO_F + big * max(1, (24 << 20) // len(big))
            elif v == "pings":
                blob = HELLO_F + frame(PING, b"p" * 64) * 200000
            else:
                blob = HELLO_F + b"".join(self.data(self.rnd.randint(0, 200)) for _ in range(50000))
            return await hold_send(c, blob, A.stall_timeout + 12)

    # trickling frames: below the progress rule (the server gives up), and
    # fast enough (served)
    async def trickle(self, v):
        async with H("trickle") as c:
            if v == "slow-frame":
                await c.send(HELLO_F)
                return await trickle(c, self.data(2000), 0.25, A.stall_timeout + 10)
            if v == "slow-hello":
                return await trickle(c, HELLO_F, A.request_timeout / 4, A.request_timeout + 10)
            # ok: several frames, each split into small pieces, fast enough
            fs = [self.data(self.rnd.randint(0, 3000)) for _ in range(self.rnd.randint(1, 4))]
            blob = HELLO_F + b"".join(fs) + BYE_F
            reader = asyncio.ensure_future(read_frames(c, 30.0))
            try:
                i = 0
                while i < len(blob):
                    n = self.rnd.randint(1, 120)
                    await c.send(blob[i:i + n])
                    i += n
                    await asyncio.sleep(self.rnd.uniform(0, 0.03))
            except (ConnectionResetError, BrokenPipeError):
                pass
            got, end = await reader
            want = [(HELLO, b"twp\x01")] + [(DATA, f[5:]) for f in fs] + [(GOODBYE, b"")]
            if got != want:
                if got == want[:len(got)] and end in ("reset", "timeout"):
                    return "cut-" + end
                raise Wrong("trickled %d frames: got %s (%s)" % (
                    len(fs), [frame_desc(t, p) for t, p in got], end))
            return "served"

    # RST (SO_LINGER 0) at every stage of a connection
    async def rst(self, v):
        async with H("rst") as c:
            if v == "connect":
                pass
            elif v == "hello-part":
                await c.send(HELLO_F[:self.rnd.randint(1, 8)])
            elif v == "after-hello":
                await c.send(HELLO_F)
                async with asyncio.timeout(10):
                    await c.exact(9)
            elif v == "mid-header":
                await c.send(HELLO_F + self.data(100)[:self.rnd.randint(1, 4)])
            elif v == "mid-payload":
                f = self.data(self.rnd.randint(2, A.max_frame))
                await c.send(HELLO_F + f[:self.rnd.randint(6, len(f) - 1)])
            elif v == "after-request":
                await c.send(HELLO_F + self.data(self.rnd.randint(0, A.max_frame)))
            elif v == "mid-reply":
                await c.send(HELLO_F + self.data(A.max_frame) * 8)
                async with asyncio.timeout(10):
                    await c.exact(self.rnd.randint(9, 9 + 3 * A.max_frame))
            elif v == "after-bye":
                await c.send(HELLO_F + self.data(50) + BYE_F)
            elif v == "after-done":
                await c.send(HELLO_F + self.data(10) * A.max_requests)
                async with asyncio.timeout(15):
                    while True:
                        t, p = await read_frame(c)
                        if t == DONE:
                            break
            await asyncio.sleep(self.rnd.uniform(0, 0.01))
            c.abort()
            return "rst"

    # half-closers: requests, SHUT_WR, then read: every reply, then EOF
    async def halfclose(self, v):
        async with H("halfclose") as c:
            if v == "before-hello":
                c.shut()
                got, end = await read_frames(c, 15.0)
                if got:
                    raise Wrong("SHUT_WR before HELLO: got %s" % [frame_desc(t, p) for t, p in got])
                return end
            fs = [self.data(self.rnd.randint(0, 5000)) for _ in range(self.rnd.randint(1, 6))]
            tail = self.data(300)[:self.rnd.randint(1, 30)] if v == "partial" else b""
            await c.send(HELLO_F + b"".join(fs) + tail)
            c.shut()
            got, end = await read_frames(c, 20.0)
            want = [(HELLO, b"twp\x01")] + [(DATA, f[5:]) for f in fs]
            if got == want and end == "eof":
                return "served-eof"
            if got == want[:len(got)] and end == "reset":
                return "cut-reset"   # e.g. reaped: idle between its frames and its FIN
            raise Wrong("%d frames then SHUT_WR: got %s (%s)" % (
                len(fs), [frame_desc(t, p) for t, p in got], end))

    # frames over --max-frame, wrong control sizes, unknown types, wrong
    # states: ERROR with the code PROTOCOL.md gives, then RST
    OVERSIZE = {
        # variant: (before HELLO?, bytes, expected code, frames before the ERROR)
        "too-big": (False, lambda: struct.pack(">IB", A.max_frame + 1, DATA), 2, (HELLO,)),
        "too-big-first": (True, lambda: struct.pack(">IB", A.max_frame + 1, DATA), 2, ()),
        "huge": (False, lambda: struct.pack(">IB", 0xFFFFFFFF, DATA), 2, (HELLO,)),
        "hello-size": (True, lambda: frame(HELLO, b"twp\x01x"), 1, ()),
        "ping-size": (False, lambda: frame(PING, b"x" * 65), 1, (HELLO,)),
        "done-size": (False, lambda: frame(DONE, b"x"), 1, (HELLO,)),
        "type0": (False, lambda: frame(0, b"abc"), 1, (HELLO,)),
        "type200": (True, lambda: frame(200, b""), 1, ()),
        "data-first": (True, lambda: frame(DATA, b"hi"), 3, ()),
        "version": (True, lambda: frame(HELLO, b"twp\x02"), 3, ()),
        "hello-again": (False, lambda: HELLO_F, 4, (HELLO,)),
        "client-done": (False, lambda: frame(DONE), 4, (HELLO,)),
        "client-goodbye": (False, lambda: frame(GOODBYE), 4, (HELLO,)),
        "after-bye": (False, lambda: BYE_F + frame(DATA, b"late"), 4, (HELLO, GOODBYE)),
        "http-to-twp": (True, lambda: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, ()),
    }

    async def oversize(self, v):
        first, make, code, before = self.OVERSIZE[v]
        async with H("oversize") as c:
            sent = make() if first else HELLO_F + make()
            await c.send(sent)
            got, end = await read_frames(c, 15.0)
            return expect_error(sent, got, end, code, before)

    async def misc(self, v):
        async with H("misc") as c:
            if v == "client-error":   # the client gives up: RST, no ERROR back
                sent = HELLO_F + frame(ERROR, b"\x00\x01bye")
                await c.send(sent)
                got, end = await read_frames(c, 15.0)
                if [t for t, _ in got] not in ([], [HELLO]):
                    raise Wrong("sent %s: got %s" % (show(sent), [frame_desc(t, p) for t, p in got]))
                return end
            if v == "pong":          # an unasked-for PONG is ignored
                p = self.rnd.randbytes(100)
                await c.send(HELLO_F + frame(PONG, b"x") + frame(DATA, p) + BYE_F)
                got, end = await read_frames(c, 15.0)
                if got != [(HELLO, b"twp\x01"), (DATA, p), (GOODBYE, b"")]:
                    raise Wrong("PONG, DATA, BYE: got %s (%s)" % ([frame_desc(t, q) for t, q in got], end))
                return "served"
            # quiet after HELLO (requests 0: not reapable): the idle timeout
            await c.send(HELLO_F)
            async with asyncio.timeout(10):
                await c.exact(9)
            return "quiet-" + await quiet_end(c, 2 * A.idle_timeout + 10)

    async def garbage(self, v):
        async with H("garbage") as c:
            junk = self.rnd.randbytes(self.rnd.randint(1, 3000))
            sent = junk if v == "raw" else HELLO_F + junk
            await c.send(sent)
            got, end = await read_frames(c, A.stall_timeout + 8, limit=100000)
            types = {t for t, _ in got}
            if ERROR in types:
                return "error-" + end
            return "noerror-" + end

    KINDS = {
        "nonreader": ("data", "pings", "small"),
        "trickle": ("slow-frame", "slow-hello", "ok", "ok"),
        "rst": ("connect", "hello-part", "after-hello", "mid-header", "mid-payload",
                "after-request", "mid-reply", "after-bye", "after-done"),
        "halfclose": ("full", "full", "partial", "before-hello"),
        "oversize": tuple(OVERSIZE),
        "misc": ("client-error", "pong", "pong", "idle-hello"),
        "garbage": ("raw", "after-hello"),
    }

    async def flood_one(self, i, release, phase):
        async with H("flood") as c:
            if phase == "reap":
                await c.send(HELLO_F + self.data(16))
                async with asyncio.timeout(A.request_timeout + 10):
                    await c.exact(9 + 21)
            elif i % 3 == 1:
                await c.send(HELLO_F[:2])
            elif i % 3 == 2 and phase == "idle":
                await c.send(HELLO_F)
            await release.wait()
            state = c.poll_state()
            if i % 2:
                c.close()
            return state


class HttpHostile:
    def __init__(self, rnd):
        self.rnd = rnd

    def get(self, path=b"/"):
        return b"GET " + path + b" HTTP/1.1\r\nHost: h\r\n\r\n"

    async def nonreader(self, v):
        async with H("nonreader") as c:
            if v == "get":
                blob = self.get() * 100000
            elif v == "head":
                blob = b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n" * 200000
            else:
                body = self.rnd.randbytes(16000)
                blob = (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 16000\r\n\r\n" + body) * 600
            return await hold_send(c, blob, A.stall_timeout + 12)

    async def slowloris(self, v):
        async with H("slowloris") as c:
            if v == "head":
                head = b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X-Slow: aaaaaaaa\r\n" * 20 + b"\r\n"
                return await trickle(c, head, 0.5, A.request_timeout + 10)
            if v == "body":
                await c.send(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 50000\r\n\r\n")
                return await trickle(c, b"b" * 2000, 0.25, A.stall_timeout + 10)
            if v == "stuck":
                await c.send(b"GE")
                got = await read_frames_http(c, A.request_timeout + 10)
                return got
            # fast enough: a whole request in small pieces, answered
            req = b"GET /health HTTP/1.1\r\nHost: h\r\nX-Pad: " + b"p" * 300 + b"\r\n\r\n"
            i = 0
            while i < len(req):
                n = self.rnd.randint(1, 40)
                await c.send(req[i:i + n])
                i += n
                await asyncio.sleep(self.rnd.uniform(0, 0.03))
            async with asyncio.timeout(20):
                head = await c.until(b"\r\n\r\n", 65536)
                if not head.startswith(b"HTTP/1.1 200 "):
                    raise Wrong("trickled GET /health: %s" % show(head, 80))
                n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                if await c.exact(n) != b"ok\n":
                    raise Wrong("trickled GET /health: body is not ok")
            return "served"

    async def rst(self, v):
        async with H("rst") as c:
            body = self.rnd.randbytes(5000)
            post = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n"
            if v == "connect":
                pass
            elif v == "mid-line":
                await c.send(b"GET /heal"[:self.rnd.randint(1, 9)])
            elif v == "mid-header":
                await c.send(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: b"[:self.rnd.randint(17, 31)])
            elif v == "before-body":
                await c.send(post)
            elif v == "mid-body":
                await c.send(post + body[:self.rnd.randint(1, 4999)])
            elif v == "mid-chunk":
                await c.send(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             b"1000\r\n" + body[:self.rnd.randint(0, 3000)])
            elif v == "after-request":
                await c.send(self.get())
            elif v == "mid-response":
                await c.send(self.get() * 4)
                async with asyncio.timeout(10):
                    await c.exact(self.rnd.randint(1, 2 * len(BODY)))
            elif v == "after-response":
                await c.send(self.get(b"/health"))
                async with asyncio.timeout(10):
                    await c.until(b"ok\n", 65536)
            elif v == "mid-pipeline":
                await c.send(self.get() * 10 + post + body)
                async with asyncio.timeout(10):
                    await c.exact(self.rnd.randint(1, 5 * len(BODY)))
            await asyncio.sleep(self.rnd.uniform(0, 0.01))
            c.abort()
            return "rst"

    async def halfclose(self, v):
        async with H("halfclose") as c:
            if v == "before":
                c.shut()
                async with asyncio.timeout(15):
                    await c.expect_eof("SHUT_WR at once")
                return "eof"
            if v in ("close-no-fin", "http10-no-fin"):
                # asked to close and does not: the server's FIN comes (after
                # --close-wait; HTTP/1.0 at once), a clean EOF
                req = (b"GET /health HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                       if v == "close-no-fin" else b"GET /health HTTP/1.0\r\n\r\n")
                await c.send(req)
                async with asyncio.timeout(20):
                    await c.until(b"ok\n", 65536)
                    await c.expect_eof(v)
                return "eof"
            n = self.rnd.randint(1, 5)
            await c.send(b"GET /health HTTP/1.1\r\nHost: h\r\n\r\n" * n +
                         (b"GET / HT" if v == "partial" else b""))
            c.shut()
            try:
                async with asyncio.timeout(20):
                    for _ in range(n):
                        await c.until(b"ok\n", 65536)
                    await c.expect_eof("half-closed")
            except (ConnectionResetError, BrokenPipeError):
                return "cut-reset"
            except Bad as e:
                raise Wrong("%d requests then SHUT_WR: %s" % (n, e.detail))
            except Eof:
                raise Wrong("%d requests then SHUT_WR: EOF before %d responses" % (n, n))
            return "served-eof"

    OVERSIZE = {
        "head": (lambda: b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"x" * (A.max_header + 10) + b"\r\n\r\n", 431),
        "headers": (lambda: b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X-N: 1\r\n" * 70 + b"\r\n", 431),
        "line": (lambda: b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
        "body": (lambda: b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % (A.max_body + 1), 413),
        "chunk": (lambda: b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (A.max_body * 3), 413),
        "cl-te": (lambda: b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        "dup-cl": (lambda: b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        "bare-lf": (lambda: b"GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
        "obs-fold": (lambda: b"GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n", 400),
        "colon-space": (lambda: b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        "no-host": (lambda: b"GET / HTTP/1.1\r\n\r\n", 400),
        "version": (lambda: b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        "gzip": (lambda: b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        "bad-chunk": (lambda: b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        # (the parser reads to the first LF before it judges a line)
        "twp-to-http": (lambda: HELLO_F + frame(DATA, b"hi") + b"\r\n\r\n", 400),
    }

    async def oversize(self, v):
        make, code = self.OVERSIZE[v]
        async with H("oversize") as c:
            sent = make()
            send = asyncio.ensure_future(c.send(sent))
            try:
                async with asyncio.timeout(15):
                    head = await c.until(b"\r\n\r\n", 65536)
            except (ConnectionResetError, BrokenPipeError):
                return "reset"
            except Eof:
                raise Wrong("sent %s: EOF, no response" % show(sent))
            finally:
                if not send.done():
                    send.cancel()
            m = STATUS_RE.match(head.split(b"\r\n")[0])
            if not m or int(m.group(2)) != code or b"onnection: close" not in head:
                raise Wrong("sent %s: %s, expected %d with Connection: close" % (
                    show(sent), show(head, 120), code))
            if self.rnd.random() < 0.5:
                c.shut()      # FIN: the server closes second
                try:
                    async with asyncio.timeout(10):
                        while await c.fill():
                            pass
                except (ConnectionResetError, BrokenPipeError):
                    return "%d-reset" % code
                return "%d-eof" % code
            return "%d" % code

    async def garbage(self, v):
        async with H("garbage") as c:
            junk = self.rnd.randbytes(self.rnd.randint(1, 3000))
            if v == "after-request":
                junk = self.get(b"/health") + junk
            send = asyncio.ensure_future(c.send(junk))
            try:
                async with asyncio.timeout(A.request_timeout + 8):
                    data = b""
                    while True:
                        d = await LOOP.sock_recv(c.s, 65536)
                        if not d:
                            break
                        data += d
                    end = "eof"
            except (ConnectionResetError, BrokenPipeError):
                end = "reset"
            except TimeoutError:
                end = "timeout"
            finally:
                if not send.done():
                    send.cancel()
            if v == "after-request" and not data.startswith(b"HTTP/1.1 200 "):
                if data:
                    raise Wrong("GET /health then junk: %s" % show(data, 80))
            statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
            if any(s[:1] in (b"2", b"3") for s in statuses[1 if v == "after-request" else 0:]):
                raise Wrong("junk %s answered %s" % (show(junk), show(data, 80)))
            last = statuses[-1].decode() if statuses else "none"
            return "%s-%s" % (last, end)

    async def idle(self, v):
        """Answered once, then quiet: the idle timeout (or the reaper);
        silent from the start: the request timeout."""
        async with H("idle") as c:
            if v == "after-request":
                await c.send(self.get(b"/health"))
                async with asyncio.timeout(10):
                    await c.until(b"ok\n", 65536)
                return "quiet-" + await quiet_end(c, 2 * A.idle_timeout + 10)
            return "silent-" + await read_frames_http(c, A.request_timeout + 10)

    KINDS = {
        "nonreader": ("get", "head", "post"),
        "idle": ("after-request", "silent"),
        "slowloris": ("head", "body", "stuck", "ok", "ok"),
        "rst": ("connect", "mid-line", "mid-header", "before-body", "mid-body", "mid-chunk",
                "after-request", "mid-response", "after-response", "mid-pipeline"),
        "halfclose": ("before", "close-no-fin", "http10-no-fin", "full", "full", "partial"),
        "oversize": tuple(OVERSIZE),
        "garbage": ("raw", "after-request"),
    }

    async def flood_one(self, i, release, phase):
        async with H("flood") as c:
            if phase == "reap":
                await c.send(self.get(b"/health"))
                async with asyncio.timeout(A.request_timeout + 10):
                    await c.until(b"ok\n", 65536)
            elif i % 3 == 1:
                await c.send(b"GET / HT")
            await release.wait()
            state = c.poll_state()
            if i % 2:
                c.close()
            return state


async def quiet_end(c, seconds):
    """Read nothing more until the server ends the connection; how it
    ended and after how long, in idle timeouts: "reset-1.5x". The server
    measures idleness from its own look at the kernel's counters, so its
    abort comes between one and two idle timeouts after the last byte."""
    t0 = time.monotonic()
    end = await read_frames_http(c, seconds)
    if end == "held":
        return end
    return "%s-%.1fx" % (end, round((time.monotonic() - t0) / A.idle_timeout * 2) / 2)


async def read_frames_http(c, seconds):
    try:
        async with asyncio.timeout(seconds):
            while await c.fill():
                pass
        return "eof"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except TimeoutError:
        return "held"


async def attack_worker(peer, kind, variants, rnd):
    await asyncio.sleep(rnd.uniform(0, 2))
    while not stopping():
        v = rnd.choice(variants)
        try:
            async with asyncio.timeout(A.attack_max):
                out = await getattr(peer, kind)(v)
        except Wrong as e:
            out = "WRONG"
            ST["wrong.%s.%s" % (kind, v)] += 1
            ST["hostile.wrong"] += 1
            log("WRONG %s %s: %s" % (kind, v, e))
        except Exception as e:
            out = classify(e)
        ST["out.%s.%s.%s" % (kind, v, out)] += 1
        await asyncio.sleep(rnd.uniform(0.02, 0.3))


async def flood_worker(peer, rnd):
    """Every --flood-every seconds, more connections than --max-conns:
    reap (each answered once, then idle: the reaper's victims), pause
    (silent or a partial head: nothing to reap, so accept pauses), and for
    twp idle (after HELLO, no request: not reapable either)."""
    phases = ["reap", "pause"] + (["idle"] if A.proto == "twp" else [])
    k = 0
    if not await sleep_or_stop(A.flood_every / 2):
        return
    while not stopping():
        phase = phases[k % len(phases)]
        k += 1
        release = asyncio.Event()
        n = A.max_conns + A.flood_extra
        tasks = []

        async def one(i):
            try:
                return await peer.flood_one(i, release, phase)
            except Exception as e:
                return classify(e)
        for i in range(n):
            tasks.append(asyncio.ensure_future(one(i)))
            if i % 10 == 9:
                await asyncio.sleep(10.0 / A.flood_rate)
        hold = A.flood_hold if phase == "reap" else A.flood_hold / 2
        await sleep_or_stop(hold)
        release.set()
        for r in await asyncio.gather(*tasks):
            ST["out.flood.%s.%s" % (phase, r)] += 1
        if not await sleep_or_stop(A.flood_every):
            break


async def main_async():
    global LOOP, T0, DEADLINE, ADDR
    LOOP = asyncio.get_running_loop()
    T0 = time.monotonic()
    DEADLINE = T0 + A.seconds
    host, port = A.addr.rsplit(":", 1)
    ADDR = (host, int(port))
    writer = asyncio.ensure_future(status_writer())
    rnd = random.Random(A.seed)
    tasks = []
    if A.role == "good":
        for i in range(A.clients):
            tasks.append(asyncio.ensure_future(Good(i).run()))
    else:
        peer = (TwpHostile if A.proto == "twp" else HttpHostile)(rnd)
        for kind, variants in peer.KINDS.items():
            for j in range(max(1, round(A.scale * (2 if kind != "rst" else 4)))):
                r = random.Random(rnd.getrandbits(64))
                tasks.append(asyncio.ensure_future(attack_worker(peer, kind, variants, r)))
        tasks.append(asyncio.ensure_future(flood_worker(peer, random.Random(A.seed + 1))))
    await asyncio.gather(*tasks)
    writer.cancel()
    write_status(final=True)


def main():
    global A, BODY
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", choices=("good", "hostile"), required=True)
    ap.add_argument("--proto", choices=("twp", "http"), required=True)
    ap.add_argument("--addr", required=True, help="the server, HOST:PORT")
    ap.add_argument("--seconds", type=float, required=True, help="start nothing new after this")
    ap.add_argument("--status", required=True, help="the status file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clients", type=int, default=10, help="good: concurrent clients")
    ap.add_argument("--think-ms", type=float, default=5, help="good: pause between requests, 0..N ms")
    ap.add_argument("--good-timeout", type=float, default=30, help="good: each step's deadline, s")
    ap.add_argument("--scale", type=float, default=1, help="hostile: workers per kind (x2; rst x4)")
    ap.add_argument("--attack-max", type=float, default=60, help="hostile: one attack at most, s")
    ap.add_argument("--flood-every", type=float, default=20)
    ap.add_argument("--flood-extra", type=int, default=40)
    ap.add_argument("--flood-rate", type=float, default=400, help="connections/s")
    ap.add_argument("--flood-hold", type=float, default=8)
    # the server's settings (twkit serve's flags), which the peers play against
    ap.add_argument("--max-conns", type=int, default=200)
    ap.add_argument("--max-frame", type=int, default=65536)
    ap.add_argument("--max-requests", type=int, default=100)
    ap.add_argument("--body-size", type=int, default=65536)
    ap.add_argument("--max-header", type=int, default=16384)
    ap.add_argument("--max-body", type=int, default=1 << 20)
    ap.add_argument("--idle-timeout", type=float, default=20)
    ap.add_argument("--request-timeout", type=float, default=10)
    ap.add_argument("--stall-timeout", type=float, default=10)
    ap.add_argument("--max-log", type=int, default=200, help="failure lines on stderr")
    A = ap.parse_args()
    LOG_LEFT[0] = A.max_log
    BODY = body_pattern(A.body_size)
    try:
        asyncio.run(main_async())
    except KeyboardInterrupt:
        pass


BODY = b""
if __name__ == "__main__":
    main()
