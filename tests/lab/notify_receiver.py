#!/usr/bin/python3
"""The receiving end of twkit probe's notifications, for the lab tests
(tests/lab/test_probe_notify.c): every request or message it gets is one
JSON line in --log, written when it arrives (before any delay).

    notify_receiver.py --log FILE [--http ADDR:PORT] [--smtp ADDR:PORT]
                       [--slow-for SEC --delay SEC] [--status CODE]

--http: an HTTP server (a thread per request) that answers every POST with
--status (200), after --delay seconds while the process is younger than
--slow-for seconds. Lines: {"t": unix seconds, "path", "headers" (names in
lower case), "body"}. Paths under /tg answer as Telegram's Bot API does.

--smtp: an SMTP server (aiosmtpd, Debian's python3-aiosmtpd). Lines: {"t",
"smtp": true, "from", "to", "data"}.

Run it with /usr/bin/python3 (Debian's, which sees python3-aiosmtpd).
"""
import argparse
import http.server
import json
import signal
import sys
import threading
import time

START = time.time()
LOCK = threading.Lock()
ARGS = None
OUT = None


def log(obj):
    obj["t"] = time.time()
    line = json.dumps(obj) + "\n"
    with LOCK:
        OUT.write(line)
        OUT.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # the head and the body in one segment: unbuffered, they would go as
    # two, and Nagle's wait for the client's delayed ACK costs 40 ms each
    wbufsize = 65536
    disable_nagle_algorithm = True

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        log({"path": self.path,
             "headers": {k.lower(): v for k, v in self.headers.items()},
             "body": body})
        if time.time() - START < ARGS.slow_for:
            time.sleep(ARGS.delay)
        out = b'{"ok":true,"result":{}}' if self.path.startswith("/tg") else b"ok\n"
        try:
            self.send_response(ARGS.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except OSError:
            pass  # the client gave up waiting: it is retrying

    def log_message(self, *a):
        pass


class Mail:
    async def handle_DATA(self, server, session, envelope):
        log({"smtp": True, "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
             "data": envelope.content.decode("utf-8", "replace")})
        return "250 OK"


def hostport(s):
    h, p = s.rsplit(":", 1)
    return h, int(p)


def main():
    global ARGS, OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--http")
    ap.add_argument("--smtp")
    ap.add_argument("--slow-for", type=float, default=0)
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--status", type=int, default=200)
    ARGS = ap.parse_args()
    OUT = open(ARGS.log, "a")
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    ctl = None
    if ARGS.smtp:
        from aiosmtpd.controller import Controller
        h, p = hostport(ARGS.smtp)
        ctl = Controller(Mail(), hostname=h, port=p)
        ctl.start()
    if ARGS.http:
        srv = http.server.ThreadingHTTPServer(hostport(ARGS.http), Handler)
        srv.daemon_threads = True
        srv.serve_forever()
    else:
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
