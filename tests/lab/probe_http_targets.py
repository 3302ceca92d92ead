#!/usr/bin/python3
"""Targets for the http probe's lab tests (tests/lab/test_probe_http.c).

    probe_http_targets.py DIR

Serves on loopback, each on a port of its own chosen by the kernel:
  http   plain HTTP/1.1
  https  the same over TLS (DIR/server.pem, DIR/server.key)
  mtls   the same, demanding a client certificate signed by DIR/ca.pem
  proxy  an HTTP proxy (absolute-URI requests and CONNECT) that marks what
         it forwarded with "X-Proxied: yes" and "X-Proxy-Got: name" or
         "address" (what the request named), resolves probe.test and
         other.test (names only it knows) to 127.0.0.1, answers 407 to a
         CONNECT whose X-Proxy-Token is not "let-me-in", and writes a line
         per request to DIR/proxy.log: "METHOD TARGET name|address" (the
         request line's target: HOST:PORT or a URL), then each header as
         received, tab-separated
  tls12  https again, TLS 1.2 at most
and writes "http=P https=P mtls=P proxy=P tls12=P" to DIR/ports once all
listen.
Runs until killed. Every path answers from a table below, so each check of
the prober has a target that passes it and one that fails it.
"""
import base64
import gzip
import http.client
import json
import os
import select
import socket
import socketserver
import ssl
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
TEXT = b"hello world\n"
# brotli of b"brotli body " * 32 (no brotli module in Debian's python3)
BROTLI = bytes.fromhex("1b7f0100c46d6c5df7168f2008d229088c4517ae1783d503")
JSON = {"status": "ok", "checks": {"db": "up", "n": 3},
        "items": [{"name": "a"}, {"name": "b"}], "ready": True}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body_in(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self.route(self.body_in())

    do_POST = do_PUT = do_HEAD = do_DELETE = do_GET

    def base(self):
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        return "%s://%s" % (scheme, self.headers.get("Host"))

    def route(self, body):
        p = self.path.split("?")[0]
        parts = p.strip("/").split("/")
        head, arg = parts[0], parts[1] if len(parts) > 1 else ""
        ae = self.headers.get("Accept-Encoding", "-")
        if p in ("/", "/ok"):
            self.reply(200, TEXT)
        elif head == "status":
            self.reply(int(arg), b"status " + arg.encode())
        elif head == "redirect":  # /redirect/N: N hops (relative), then 200
            n = int(arg)
            if n > 0:
                self.reply(302, b"", [("Location", "/redirect/%d" % (n - 1))])
            else:
                self.reply(200, b"landed\n")
        elif head == "redirect-abs":
            self.reply(301, b"", [("Location", self.base() + "/ok")])
        elif head == "to":  # /to/PORT: to /ok of that port on loopback
            scheme = "https" if arg in (HTTPS, MTLS) else "http"
            self.reply(302, b"", [("Location", "%s://127.0.0.1:%s/ok" % (scheme, arg))])
        elif head == "toname":  # /toname/PORT[/NAME]: to /ok there, by a name only
            # the proxy resolves (probe.test by default)
            scheme = "https" if parts[1] in (HTTPS, MTLS) else "http"
            name = parts[2] if len(parts) > 2 else "probe.test"
            self.reply(302, b"", [("Location", "%s://%s:%s/ok" % (scheme, name, parts[1]))])
        elif head == "noproxyhdr":  # 400 if a header meant for a proxy came here
            bad = [k for k in self.headers.keys() if k.lower() in ("x-proxy-token", "x-probe")]
            self.reply(400 if bad else 200, b"saw %s\n" % ",".join(bad).encode())
        elif head == "r302":  # a redirect that makes a POST a GET
            self.reply(302, b"", [("Location", "/echo")])
        elif head == "r307":  # a redirect that repeats the request
            self.reply(307, b"", [("Location", "/echo")])
        elif head == "echo":  # what was asked: method and body
            self.reply(200, self.command.encode() + b" " + body)
        elif head == "headers":
            self.send_response(200)
            self.send_header("X-Multi", "alpha")
            self.send_header("X-Multi", "beta")
            self.send_header("X-Single", "one")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif head == "gzip":
            z = gzip.compress(TEXT * 20)
            self.reply(200, z, [("Content-Encoding", "gzip"), ("X-Accept-Encoding", ae)])
        elif head == "deflate":  # raw DEFLATE, as blackbox's reader takes it
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            z = c.compress(TEXT * 20) + c.flush()
            self.reply(200, z, [("Content-Encoding", "deflate"), ("X-Accept-Encoding", ae)])
        elif head == "br":
            self.reply(200, BROTLI, [("Content-Encoding", "br"), ("X-Accept-Encoding", ae)])
        elif head == "big":
            self.reply(200, b"x" * int(arg))
        elif head == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"chunk one ", b"chunk two\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif head == "basic":
            want = "Basic " + base64.b64encode(b"probe:s3cret pass").decode()
            ok = self.headers.get("Authorization") == want
            self.reply(200 if ok else 401, b"basic\n")
        elif head == "bearer":
            ok = self.headers.get("Authorization") == "Bearer tok-123"
            self.reply(200 if ok else 401, b"bearer\n")
        elif head == "json":
            self.reply(200, json.dumps(JSON).encode(), [("Content-Type", "application/json")])
        elif head == "notjson":
            self.reply(200, b"{not json", [("Content-Type", "application/json")])
        elif head == "lastmod":
            self.reply(200, TEXT, [("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")])
        elif head == "http10":
            self.protocol_version = "HTTP/1.0"
            self.close_connection = True
            self.reply(200, TEXT)
        elif head == "host":
            self.reply(200, ("host=%s\n" % self.headers.get("Host")).encode())
        elif head == "setcookie":  # a redirect that sets a cookie
            self.reply(302, b"", [("Location", "/needcookie"), ("Set-Cookie", "k=v; Path=/")])
        elif head == "needcookie":
            self.reply(200 if "k=v" in (self.headers.get("Cookie") or "") else 400, b"cookie\n")
        else:
            self.reply(404, b"no such path\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # a burst of probes must not wait for SYN retries


class TLSServer(Server):
    """TLS per connection in its own thread: a client that never finishes
    its handshake holds up no one else."""

    def __init__(self, addr, handler, ctx):
        self.ctx = ctx
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        request.settimeout(5)
        try:
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(conn, client_address, self)


PROXY_HOSTS = {"probe.test": "127.0.0.1", "other.test": "127.0.0.1"}
proxy_log = threading.Lock()


def is_address(host):
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(fam, host)
            return True
        except OSError:
            pass
    return False


class Proxy(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode("latin-1").split()
        if len(line) < 3:
            return
        hdrs, raw = {}, []
        while True:
            h = self.rfile.readline().decode("latin-1")
            if h in ("\r\n", "\n", ""):
                break
            raw.append(h.rstrip("\r\n"))
            k, _, v = h.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        method, target = line[0], line[1]
        hostport = target if method == "CONNECT" else target.split("://", 1)[1].split("/")[0]
        host, _, port = hostport.rpartition(":")
        host = host.strip("[]")
        got = "address" if is_address(host) else "name"
        with proxy_log:
            with open(os.path.join(DIR, "proxy.log"), "a") as f:
                f.write("\t".join(["%s %s %s" % (method, target, got)] + raw) + "\n")
        host = PROXY_HOSTS.get(host, host)
        if method == "CONNECT":
            if hdrs.get("x-proxy-token", "let-me-in") != "let-me-in":
                self.wfile.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                                 b"Content-Length: 0\r\n\r\n")
                return
            up = socket.create_connection((host, int(port)), timeout=5)
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            pipe(self.connection, up)
            return
        # http://host:port/path
        path = target.split("://", 1)[1].partition("/")[2]
        n = int(hdrs.get("content-length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection(host, int(port or 80), timeout=5)
        fwd = {k: v for k, v in hdrs.items() if k not in ("proxy-connection", "connection")}
        c.request(method, "/" + path, body=body, headers=fwd)
        r = c.getresponse()
        data = r.read()
        out = ["HTTP/1.1 %d %s" % (r.status, r.reason)]
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                out.append("%s: %s" % (k, v))
        out += ["X-Proxied: yes", "X-Proxy-Got: " + got, "Content-Length: %d" % len(data), "Connection: close"]
        self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + data)


def pipe(a, b):
    socks = [a, b]
    while True:
        r, _, _ = select.select(socks, [], [], 10)
        if not r:
            return
        for s in r:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


class ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def tls_ctx(client_ca=None, tls12=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(DIR, "server.pem"), os.path.join(DIR, "server.key"))
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(DIR, client_ca))
    return ctx


plain = Server(("127.0.0.1", 0), Handler)
tls = TLSServer(("127.0.0.1", 0), Handler, tls_ctx())
mtls = TLSServer(("127.0.0.1", 0), Handler, tls_ctx("ca.pem"))
proxy = ProxyServer(("127.0.0.1", 0), Proxy)
tls12 = TLSServer(("127.0.0.1", 0), Handler, tls_ctx(tls12=True))
HTTPS, MTLS = str(tls.server_address[1]), str(mtls.server_address[1])
for s in (plain, tls, mtls, proxy, tls12):
    threading.Thread(target=s.serve_forever, daemon=True).start()
with open(os.path.join(DIR, "ports.tmp"), "w") as f:
    f.write("http=%d https=%d mtls=%d proxy=%d tls12=%d\n"
            % tuple(x.server_address[1] for x in (plain, tls, mtls, proxy, tls12)))
os.rename(os.path.join(DIR, "ports.tmp"), os.path.join(DIR, "ports"))
threading.Event().wait()
