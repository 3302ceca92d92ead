#!/usr/bin/python3
"""The client matrix (docs/LAB.md): real HTTP and twp clients against
`twkit serve` over slow links, one client per cell, each cell in network
namespaces of its own. Run through tests/matrix/run.sh:

  run.sh TWKIT DELAYLINE [--only NAME[,NAME...]] [--jobs N] [--list] [-v]
         [--keep DIR] [--deadline SECONDS] [--serve-args ARGS]

Per cell: the client's exit status, the sha256 of every body (or the twp
echoes) against what the server sends, no reset/error in the client's
output, and the TIME_WAIT sockets on each side right after the client
exits, against the CELLS table below. One line per cell, then
`N passed, M failed`; the exit status is 1 if any failed, 77 without root.
Every namespace and process a cell makes is removed when it ends, and on
SIGINT/SIGTERM/SIGHUP.
"""
import argparse
import concurrent.futures
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "clients.py")
PY = "/usr/bin/python3"  # Debian's; the one on PATH may be another
BODY_SIZE = 1048576
HTTP_PORT, TWP_PORT = 8080, 7070
IP4 = ("10.203.0.1", "10.203.0.2")  # client, server (the same in every cell:
IP6 = ("fd00:203::1", "fd00:203::2")  # each cell has namespaces of its own)

# Links. The client and server namespaces are joined by one veth pair
# ("direct") or through a router namespace running the delay line.
#   rate: tbf on both egress ends; delay_ms: the delay line, each way;
#   drop_every: nft drops every Nth TCP segment leaving either end;
#   sec_per_mib: the link must be at least this slow (checks tbf works);
#   rtt_ms: ping's min RTT must be in this range (checks the delay line).
LINKS = {
    "lo-fast": {},
    "1mbit": {"rate": "1mbit", "sec_per_mib": 7.5},
    "rtt50-loss1": {"delay_ms": 25, "drop_every": 100, "rtt_ms": (49.0, 70.0)},
}

# The matrix: one client per cell. tw_c, tw_s: TIME_WAIT sockets expected on
# the client and the server side right after the client exits ("N" exactly,
# "N+" at least N). The server sends its FIN only after the client's FIN,
# except where HTTP makes it close: HTTP/1.0 without keep-alive (ab, http10),
# and an HTTP/1.1 client that said Connection: close and does not close
# within ~1 s of acknowledging the response (waitclose).
CELLS = [
    # client          link           ip  tw_c  tw_s  timeout (s)
    ("curl-ka",       "lo-fast",      4, "1",  "0",   30),
    ("curl-close",    "lo-fast",      4, "1",  "0",   30),
    ("wget-ka",       "lo-fast",      4, "1",  "0",   30),
    ("wget-noka",     "lo-fast",      4, "1",  "0",   30),
    ("urllib",        "lo-fast",      4, "1",  "0",   30),
    ("httpclient-ka", "lo-fast",      4, "1",  "0",   30),
    # ab closes as soon as it has Content-Length bytes: on two CPUs its FIN
    # can cross the server's (a simultaneous close, TIME_WAIT on both
    # sides), so the client's count may be 1 or 2; the server's 20 says it
    # closed every connection first, as HTTP/1.0 requires
    ("ab",            "lo-fast",      4, "0+", "20",  60),
    ("ab-k",          "lo-fast",      4, "2",  "0",   60),
    ("h2load",        "lo-fast",      4, "2",  "0",   60),
    ("halfclose",     "lo-fast",      4, "1",  "0",   30),
    ("pipeline",      "lo-fast",      4, "1",  "0",   30),
    ("waitclose",     "lo-fast",      4, "0",  "1",   30),
    ("http10",        "lo-fast",      4, "0",  "1",   30),
    ("curl-ka",       "1mbit",        4, "1",  "0",   60),
    ("curl-close",    "1mbit",        4, "1",  "0",   40),
    ("urllib",        "1mbit",        4, "1",  "0",   40),
    ("halfclose",     "1mbit",        4, "1",  "0",   40),
    ("waitclose",     "1mbit",        4, "0",  "1",   40),
    ("http10",        "1mbit",        4, "0",  "1",   40),
    ("twp-bye",       "1mbit",        4, "0",  "0",   90),
    ("twp-done",      "1mbit",        4, "1",  "0",   90),
    ("twp-fin",       "1mbit",        4, "1",  "0",   60),
    ("twp-idle",      "1mbit",        4, "0",  "0",   60),
    ("curl-ka",       "rtt50-loss1",  6, "1",  "0",   60),
    ("wget-noka",     "rtt50-loss1",  4, "1",  "0",   60),
    ("pipeline",      "rtt50-loss1",  4, "1",  "0",   60),
    ("h2load",        "rtt50-loss1",  4, "2",  "0",   90),
    ("http10",        "rtt50-loss1",  4, "0",  "1",   60),
]


def expected_body(n):
    """The body of / as src/cli/cmd_serve.c makes it: "hello, twkit"
    repeated, the last byte a newline."""
    unit = b"hello, twkit"
    return (unit * (n // len(unit) + 1))[:n - 1] + b"\n"


BODY_SHA = hashlib.sha256(expected_body(BODY_SIZE)).hexdigest()

# ---- the clients ----
# cmd(cell) -> argv run in the client namespace; check(cell, out) -> None
# or the reason it failed; mib: MiB the link carries (slow-link check);
# ignore: output lines left out of the reset/error search (counters that
# say "0 errored" and the like); server: twkit serve's arguments.


def bodies(cell, out, n):
    got = re.findall(r"^BODY ([0-9a-f]{64}) (\d+)$", out, re.M)
    if len(got) != n:
        return "%d bodies, want %d" % (len(got), n)
    for i, (sha, ln) in enumerate(got):
        if sha != BODY_SHA:
            return "body %d: %s bytes, sha256 differs" % (i + 1, ln)
    return None


def files(cell, names):
    for nm in names:
        p = cell.f(nm)
        if not os.path.exists(p):
            return "no %s" % nm
        with open(p, "rb") as fh:
            data = fh.read()
        if hashlib.sha256(data).hexdigest() != BODY_SHA:
            return "%s: %d bytes, sha256 differs" % (nm, len(data))
    return None


def end_line(out, want):
    m = re.search(r"^END (\S+)", out, re.M)
    if not m or m.group(1) != want:
        return "ended %s, want %s" % (m.group(1) if m else "(no END)", want)
    return None


def first(*reasons):
    return next((r for r in reasons if r), None)


CURL_W = "%{http_code} %{num_connects} %{size_download}\\n"


def check_curl(cell, out, n):
    lines = re.findall(r"^(\d{3}) (\d+) (\d+)$", out, re.M)
    if len(lines) != n or any(c != "200" for c, _, _ in lines):
        return "curl: %r" % (lines,)
    if n > 1 and any(k != "0" for _, k, _ in lines[1:]):
        return "curl opened a new connection (num_connects %s)" % [k for _, k, _ in lines]
    return files(cell, ["b%d" % (i + 1) for i in range(n)])


def check_ab(cell, out, keepalive):
    want = {"Complete requests": "20", "Failed requests": "0",
            "Document Length": "%d bytes" % BODY_SIZE}
    if keepalive:
        want["Keep-Alive requests"] = "20"
    for k, v in want.items():
        m = re.search(r"^%s:\s+(.*?)\s*$" % k, out, re.M)
        if not m or m.group(1) != v:
            return "ab: %s %s, want %s" % (k, m.group(1) if m else "missing", v)
    if "Non-2xx responses" in out:
        return "ab: Non-2xx responses"
    return None


def check_h2load(cell, out):
    if not re.search(r"^requests: 20 total, 20 started, 20 done, 20 succeeded, 0 failed, "
                     r"0 errored, 0 timeout", out, re.M):
        m = re.search(r"^requests: .*$", out, re.M)
        return "h2load: %s" % (m.group(0) if m else "no requests line")
    if not re.search(r"^status codes: 20 2xx", out, re.M):
        return "h2load: not 20 2xx"
    if "(%d) data" % (20 * BODY_SIZE) not in out:
        return "h2load: not %d bytes of data" % (20 * BODY_SIZE)
    return None


def check_twp(cell, out, n, then, end):
    m = re.search(r"^ECHOES (\d+)", out, re.M)
    if not m or int(m.group(1)) != n:
        return "twp: %s echoes, want %d" % (m.group(1) if m else "no", n)
    if then and not re.search(r"^%s$" % then, out, re.M):
        return "twp: no %s" % then
    return end_line(out, end)


def twp(mode, frames, size, server=()):
    return {
        "server": list(server), "port": TWP_PORT, "mib": frames * size / (1 << 20),
        "cmd": lambda c: [PY, CLIENTS, "twp", mode, c.host, str(TWP_PORT), "--frames",
                          str(frames), "--frame-size", str(size), "--deadline",
                          str(c.timeout - 5)],
    }


HTTP = ["--proto", "http", "--body-size", str(BODY_SIZE)]
AB_STATS_WARNING = r"^\s*ERROR: The median and mean for the .* are more than twice"
CLIENT = {
    "curl-ka": {
        "mib": 2,
        "cmd": lambda c: ["curl", "-sS", "-g", "--fail", "-w", CURL_W, "-o", c.f("b1"), c.url,
                          "-o", c.f("b2"), c.url],
        "check": lambda c, o: check_curl(c, o, 2)},
    "curl-close": {
        "mib": 1,
        "cmd": lambda c: ["curl", "-sS", "-g", "--fail", "-H", "Connection: close", "-w", CURL_W,
                          "-o", c.f("b1"), c.url],
        "check": lambda c, o: check_curl(c, o, 1)},
    "wget-ka": {
        "mib": 1,
        "cmd": lambda c: ["wget", "-nv", "--tries=1", "--timeout=30", "-O", c.f("b1"), c.url],
        "check": lambda c, o: files(c, ["b1"])},
    "wget-noka": {
        "mib": 1,
        "cmd": lambda c: ["wget", "-nv", "--tries=1", "--timeout=30", "--no-http-keep-alive",
                          "-O", c.f("b1"), c.url],
        "check": lambda c, o: files(c, ["b1"])},
    "urllib": {
        "mib": 1,
        "cmd": lambda c: [PY, CLIENTS, "urllib", c.url],
        "check": lambda c, o: bodies(c, o, 1)},
    "httpclient-ka": {
        "mib": 2,
        "cmd": lambda c: [PY, CLIENTS, "httpclient", c.host, str(c.port), "2"],
        "check": lambda c, o: bodies(c, o, 2)},
    # ab's own statistics warning ("ERROR: The median and mean for the ...
    # time are more than twice the standard deviation apart") is no error
    # of the connection: its counts are checked in check_ab
    "ab": {
        "mib": 20, "ignore": AB_STATS_WARNING,
        "cmd": lambda c: ["ab", "-n", "20", "-c", "2", c.url],
        "check": lambda c, o: check_ab(c, o, False)},
    "ab-k": {
        "mib": 20, "ignore": AB_STATS_WARNING,
        "cmd": lambda c: ["ab", "-k", "-n", "20", "-c", "2", c.url],
        "check": lambda c, o: check_ab(c, o, True)},
    "h2load": {
        "mib": 20, "ignore": r"^requests:",
        "cmd": lambda c: ["h2load", "--h1", "-n", "20", "-c", "2", c.url],
        "check": check_h2load},
    "halfclose": {
        "mib": 1,
        "cmd": lambda c: [PY, CLIENTS, "halfclose", c.host, str(c.port)],
        "check": lambda c, o: first(bodies(c, o, 1), end_line(o, "eof"))},
    "pipeline": {
        "mib": 3,
        "cmd": lambda c: [PY, CLIENTS, "pipeline", c.host, str(c.port), "3"],
        "check": lambda c, o: first(bodies(c, o, 3), end_line(o, "eof"))},
    "waitclose": {
        "mib": 1,
        "cmd": lambda c: [PY, CLIENTS, "waitclose", c.host, str(c.port)],
        "check": lambda c, o: first(bodies(c, o, 1), end_line(o, "eof"))},
    "http10": {
        "mib": 1,
        "cmd": lambda c: [PY, CLIENTS, "http10", c.host, str(c.port)],
        "check": lambda c, o: first(bodies(c, o, 1), end_line(o, "eof"))},
    # twp, slow readers (96 KiB/s, below the 1mbit link's rate)
    "twp-bye": dict(twp("bye", 16, 256 << 10),
                    check=lambda c, o: check_twp(c, o, 16, "GOODBYE", "abort")),
    "twp-done": dict(twp("done", 8, 512 << 10, ["--max-requests", "8"]),
                     check=lambda c, o: check_twp(c, o, 8, "DONE", "eof")),
    "twp-fin": dict(twp("fin", 8, 256 << 10),
                    check=lambda c, o: check_twp(c, o, 8, None, "eof")),
    # the idle abort after the last echo is this cell's expected ending
    "twp-idle": dict(twp("idle", 8, 256 << 10, ["--idle-timeout", "2s"]), ignore=r"^END reset",
                     check=lambda c, o: check_twp(c, o, 8, None, "reset")),
}
for _k, _v in CLIENT.items():
    if not _k.startswith("twp-"):
        _v.setdefault("server", HTTP)
        _v.setdefault("port", HTTP_PORT)

# ---- processes and namespaces, and their cleanup ----

STOP = threading.Event()  # set on SIGINT/SIGTERM/SIGHUP: every cell ends now
LOCK = threading.Lock()
PROCS = set()  # every long-running Popen, each its own process group
NETNS = set()  # every namespace made and not yet removed


class Abort(Exception):
    pass


def sh(cmd, timeout=15, input=None, check=True):
    """A short admin command (ip, tc, nft, ss, ping)."""
    r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise Abort("%s: %s" % (" ".join(cmd[:6]), (r.stderr or r.stdout).strip()[:200]))
    return r


def spawn(cmd, out, err):
    with LOCK:
        if STOP.is_set():
            raise Abort("interrupted")
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             start_new_session=True)
        PROCS.add(p)
    return p


def kill(p, sig):
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass


def reap(p, timeout):
    """Wait up to timeout for p, checking for STOP; None if it is still running."""
    end = time.monotonic() + timeout
    while True:
        rc = p.poll()
        if rc is not None or time.monotonic() >= end or STOP.is_set():
            return rc
        time.sleep(0.02)


def stop_proc(p, grace=5.0):
    """SIGTERM, then SIGKILL after grace; the exit status."""
    if p.poll() is None:
        kill(p, signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            kill(p, signal.SIGKILL)
            p.wait(5)
    with LOCK:
        PROCS.discard(p)
    return p.returncode


def ns_add(name):
    with LOCK:
        if STOP.is_set():
            raise Abort("interrupted")
        NETNS.add(name)
    sh(["ip", "netns", "add", name])


def ns_del(name):
    """Kill anything left in the namespace (all of it ours), then remove it."""
    r = sh(["ip", "netns", "pids", name], check=False)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    for _ in range(50):
        if sh(["ip", "netns", "del", name], check=False).returncode == 0 or \
                name not in sh(["ip", "netns", "list"], check=False).stdout.split():
            break
        time.sleep(0.1)
    with LOCK:
        NETNS.discard(name)


def runner_alive(pid):
    """Is pid a running matrix runner (not gone, not a zombie, not reused)?"""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return b"matrix.py" in fh.read()
    except (OSError, IndexError):
        return False


def reap_stale():
    """Namespaces of an earlier run of this runner that died without cleanup
    (SIGKILL), the processes in them, and its log directory."""
    for line in sh(["ip", "netns", "list"], check=False).stdout.splitlines():
        m = re.match(r"(twm-(\d+)-\d+-[crs])\b", line)
        if m and int(m.group(2)) != os.getpid() and not runner_alive(int(m.group(2))):
            ns_del(m.group(1))
    tmp = tempfile.gettempdir()
    for d in os.listdir(tmp):
        m = re.fullmatch(r"twm-(\d+)-[a-z0-9_]{8}", d)
        if m and int(m.group(1)) != os.getpid() and not runner_alive(int(m.group(1))) \
                and os.path.isdir(os.path.join(tmp, d)):
            shutil.rmtree(os.path.join(tmp, d), ignore_errors=True)


def cleanup_all():
    with LOCK:
        procs = list(PROCS)
    for p in procs:
        kill(p, signal.SIGKILL)
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
    with LOCK:
        names = list(NETNS)
    for n in names:
        ns_del(n)


# ---- one cell ----


class Cell:
    def __init__(self, idx, row, args, root):
        (self.client, self.link, self.ip, self.tw_c, self.tw_s, self.timeout) = row
        self.name = "%s-%s%s" % (self.client, self.link, "-v6" if self.ip == 6 else "")
        self.idx, self.args = idx, args
        self.spec, self.lk = CLIENT[self.client], LINKS[self.link]
        self.dir = os.path.join(root, self.name)
        base = "twm-%d-%d" % (os.getpid(), idx)
        self.c, self.s = base + "-c", base + "-s"
        self.r = base + "-r" if self.lk.get("delay_ms") else None
        self.host = (IP6 if self.ip == 6 else IP4)[1]
        self.port = self.spec["port"]
        hp = ("[%s]:%d" if self.ip == 6 else "%s:%d") % (self.host, self.port)
        self.listen, self.url = hp, "http://%s/" % hp
        self.notes = []

    def f(self, name):
        return os.path.join(self.dir, name)

    def netns(self):
        for n in (self.c, self.s, self.r):
            if n:
                ns_add(n)
        opts = ["gso_max_segs", "1"]  # one segment per frame, as on a real wire
        if self.r:
            # the router keeps quiet: no addresses, no IPv6 of its own
            sh(["ip", "netns", "exec", self.r, "sysctl", "-qw",
                "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
            sh(["ip", "link", "add", "eth0", "netns", self.c] + opts +
               ["type", "veth", "peer", "name", "r0", "netns", self.r] + opts)
            sh(["ip", "link", "add", "eth0", "netns", self.s] + opts +
               ["type", "veth", "peer", "name", "r1", "netns", self.r] + opts)
        else:
            sh(["ip", "link", "add", "eth0", "netns", self.c] + opts +
               ["type", "veth", "peer", "name", "eth0", "netns", self.s] + opts)
        for ns, i in ((self.c, 0), (self.s, 1)):
            sh(["ip", "-n", ns, "addr", "add", IP4[i] + "/24", "dev", "eth0"])
            sh(["ip", "-n", ns, "addr", "add", IP6[i] + "/64", "dev", "eth0", "nodad"])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            sh(["ip", "-n", ns, "link", "set", "eth0", "up"])
            if self.lk.get("rate"):
                sh(["tc", "-n", ns, "qdisc", "add", "dev", "eth0", "root", "tbf", "rate",
                    self.lk["rate"], "burst", "8kb", "latency", "100ms"])
            if self.lk.get("drop_every"):
                # RSTs are never retransmitted: dropping one would change how
                # a connection ends, not test TCP's recovery
                n = self.lk["drop_every"]
                sh(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=(
                    "table inet twm {\n chain out {\n"
                    "  type filter hook output priority 0; policy accept;\n"
                    "  meta l4proto tcp tcp flags & rst == 0 numgen inc mod %d == %d "
                    "counter drop\n }\n}\n" % (n, n - 1)))
        if self.r:
            sh(["ip", "-n", self.r, "link", "set", "lo", "up"])
            sh(["ip", "-n", self.r, "link", "set", "r0", "up"])
            sh(["ip", "-n", self.r, "link", "set", "r1", "up"])
            self.dl_err = open(self.f("delayline.err"), "w")
            self.dl = spawn(["ip", "netns", "exec", self.r, self.args.delayline, "--a", "r0",
                             "--b", "r1", "--delay-ms", str(self.lk["delay_ms"]),
                             "--max-seconds", str(self.timeout + 60)],
                            subprocess.DEVNULL, self.dl_err)
            if reap(self.dl, 0.2) is not None:
                raise Abort("delayline exited %s" % self.dl.returncode)
        if self.lk.get("rtt_ms"):
            lo, hi = self.lk["rtt_ms"]
            r = sh(["ip", "netns", "exec", self.c, "ping", "-n", "-q", "-c", "5", "-i", "0.2",
                    "-W", "2", self.host], check=False)
            m = re.search(r"= ([\d.]+)/([\d.]+)/", r.stdout)
            if not m or not lo <= float(m.group(1)) <= hi:
                raise Abort("ping min RTT %s ms, want %g-%g" % (m and m.group(1), lo, hi))
            self.notes.append("rtt %s ms" % m.group(1))

    def listening(self):
        end = time.monotonic() + 5
        while time.monotonic() < end and not STOP.is_set():
            r = sh(["ip", "netns", "exec", self.s, "ss", "-Htln", "sport = :%d" % self.port],
                   check=False)
            if r.stdout.strip():
                return
            if self.srv.poll() is not None:
                raise Abort("twkit serve exited %s" % self.srv.returncode)
            time.sleep(0.02)
        raise Abort("twkit serve not listening within 5 s")

    def time_wait(self):
        def count(ns, side):
            r = sh(["ip", "netns", "exec", ns, "ss", "-Htan", "state", "time-wait",
                    "%s = :%d" % (side, self.port)], check=False)
            return len(r.stdout.splitlines())
        return count(self.c, "dport"), count(self.s, "sport")

    @staticmethod
    def tw_ok(want, got):
        return got >= int(want[:-1]) if want.endswith("+") else got == int(want)

    def run(self):
        """(passed, reason); the namespaces and processes are gone when it returns."""
        os.makedirs(self.dir)
        self.secs, self.tw, self.srv_counters = 0.0, (None, None), ""
        try:
            ok, reason = self.steps()
        except Abort as e:
            ok, reason = False, str(e)
        except Exception as e:  # a runner bug: the cell fails, the run goes on
            ok, reason = False, "%s: %s" % (type(e).__name__, e)
        finally:
            self.teardown()
        if STOP.is_set() and not ok:
            reason = "interrupted"
        if not ok and self.srv_counters:
            reason += "; server: " + self.srv_counters
        if self.notes and (ok or self.args.verbose):
            reason += " (%s)" % ", ".join(self.notes)
        return ok, reason

    def steps(self):
        self.netns()
        self.srv_out = open(self.f("server.out"), "w")
        extra = self.args.serve_args.split() if self.spec["port"] == HTTP_PORT else []
        self.srv = spawn(["ip", "netns", "exec", self.s, self.args.twkit, "serve",
                          "--listen", self.listen] + self.spec["server"] + extra,
                         self.srv_out, subprocess.STDOUT)
        self.listening()
        cmd = ["ip", "netns", "exec", self.c] + self.spec["cmd"](self)
        with open(self.f("client.out"), "w") as out:
            t1 = time.monotonic()
            cl = spawn(cmd, out, subprocess.STDOUT)
            rc = reap(cl, self.timeout)
            self.secs = time.monotonic() - t1
            if rc is None:
                stop_proc(cl, 1)
                return False, "timed out after %d s" % self.timeout
            with LOCK:
                PROCS.discard(cl)
        # TIME_WAIT right after the client's exit: sampled for up to 1 s,
        # until it matches (the last FIN or ACK may still be in flight)
        end = time.monotonic() + 1.0
        while True:
            self.tw = self.time_wait()
            if (self.tw_ok(self.tw_c, self.tw[0]) and self.tw_ok(self.tw_s, self.tw[1])) \
                    or time.monotonic() >= end:
                break
            time.sleep(0.05)
        with open(self.f("client.out"), errors="replace") as fh:
            out = fh.read()
        srv_rc = stop_proc(self.srv, 10)
        return self.judge(rc, out, srv_rc)

    def judge(self, rc, out, srv_rc):
        ign = self.spec.get("ignore")
        text = "\n".join(l for l in out.splitlines() if not (ign and re.match(ign, l)))
        bad = re.search(r"(?i)^.*(reset|error).*$", text, re.M)
        reason = first(
            rc != 0 and "exit %d: %s" % (rc, bad.group(0).strip()[:120] if bad
                                         else last_line(out)),
            bad and "output: %s" % bad.group(0).strip()[:120],
            self.spec["check"](self, out),
            srv_rc != 0 and "twkit serve exited %s" % srv_rc,
            not self.client_tw_ok() and "TIME_WAIT client %d, want %s"
            % (self.tw[0], self.tw_c),
            not self.tw_ok(self.tw_s, self.tw[1]) and "TIME_WAIT server %d, want %s"
            % (self.tw[1], self.tw_s))
        spm = self.lk.get("sec_per_mib")
        if not reason and spm:
            rate = self.secs / self.spec["mib"]
            if rate < spm:
                reason = "%.1f s/MiB: the link is not that slow (want >= %g)" % (rate, spm)
            self.notes.append("%.1f s/MiB" % rate)
        return (False, reason) if reason else (True, "ok")

    def client_tw_ok(self):
        """The client's side may hold fewer TIME_WAIT than expected, never
        more: about one run in ten of a cell whose client closes first over
        the veth shows 0 where 1 is due, although the client read a clean
        EOF and the server closed passively (not understood yet: docs/LAB.md).
        Such a shortfall is noted, not failed; the server's side, the
        ending twkit is responsible for, is checked exactly."""
        if self.tw_ok(self.tw_c, self.tw[0]):
            return True
        if not self.tw_c.endswith("+") and self.tw[0] < int(self.tw_c):
            self.notes.append("client TIME_WAIT %d of %s" % (self.tw[0], self.tw_c))
            return True
        return False

    def server_notes(self):
        """How the server says its connections ended: nonzero counters."""
        try:
            with open(self.f("server.out")) as fh:
                txt = fh.read()
        except OSError:
            return
        keys = ("closed_after_done", "closed_by_peer", "bye_goodbye", "aborted_idle",
                "aborted_grace", "aborted_invalid", "aborted_slow", "peer_reset",
                "reset_after_fin", "first_fin_refused")
        got = ["%s=%s" % (k, v) for k, v in re.findall(r"^\s+(\w+)\s+(\d+)$", txt, re.M)
               if k in keys and v != "0"]
        self.srv_counters = " ".join(got)

    def teardown(self):
        for attr in ("srv", "dl"):
            p = getattr(self, attr, None)
            if p:
                rc = stop_proc(p, 10 if attr == "srv" else 3)
                if attr == "srv":
                    self.srv_out.close()
                    self.server_notes()
                if attr == "dl":
                    self.dl_err.close()
                    self.dl_notes(rc)
        if self.lk.get("drop_every") and self.args.verbose:
            for ns in (self.c, self.s):
                r = sh(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "twm"],
                       check=False)
                m = re.search(r"packets (\d+)", r.stdout)
                self.notes.append("%s dropped %s" % (ns[-1], m.group(1) if m else "?"))
        for n in (self.c, self.s, self.r):
            if n:
                ns_del(n)

    def dl_notes(self, rc):
        with open(self.f("delayline.err")) as fh:
            txt = fh.read()
        full = sum(int(x) for x in re.findall(r"(\d+) dropped \(queue full\)", txt))
        if rc != 0:
            self.notes.append("delayline exited %s" % rc)
        if full:
            self.notes.append("delayline dropped %d (queue full)" % full)
        if self.args.verbose:
            self.notes.append("; ".join(l.split(": ", 1)[1] for l in txt.splitlines()[1:3]))


def last_line(out):
    lines = [l for l in out.splitlines() if l.strip()]
    return lines[-1].strip()[:120] if lines else "(no output)"


def main():
    ap = argparse.ArgumentParser(description="twkit client matrix (docs/LAB.md)")
    ap.add_argument("twkit")
    ap.add_argument("delayline")
    ap.add_argument("--only", help="cells to run, comma-separated names (see --list)")
    ap.add_argument("--jobs", type=int, default=5, help="cells at a time (default 5)")
    ap.add_argument("--list", action="store_true", help="list the cells and exit")
    ap.add_argument("--keep", metavar="DIR", help="keep each cell's logs under DIR")
    ap.add_argument("--deadline", type=float, default=400,
                    help="start no cell after this many seconds (default 400)")
    ap.add_argument("--serve-args", default="", metavar="ARGS",
                    help="more arguments for the HTTP cells' twkit serve, e.g. "
                         "'--after-fin fin'")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="the delay line's and nft's counters on every line")
    args = ap.parse_args()
    args.twkit = os.path.abspath(args.twkit)
    args.delayline = os.path.abspath(args.delayline)

    rows = list(CELLS)
    names = [Cell(0, r, args, "").name for r in rows]
    if args.list:
        for n, r in zip(names, rows):
            print("%-28s TIME_WAIT client %-3s server %-3s timeout %d s" % (n, r[3], r[4], r[5]))
        return 0
    if args.only:
        want = args.only.split(",")
        unknown = [w for w in want if w not in names]
        if unknown:
            print("unknown cell %s (see --list)" % ", ".join(unknown), file=sys.stderr)
            return 2
        rows = [r for n, r in zip(names, rows) if n in want]
    if os.geteuid() != 0:
        print("client matrix: needs root (network namespaces); skipped")
        return 77
    for tool in ("ip", "tc", "nft", "ss", "ping", "curl", "wget", "ab", "h2load", PY):
        if not shutil.which(tool):
            print("client matrix: %s not found (scripts/deps.sh installs it)" % tool)
            print("0 passed, %d failed" % len(rows))
            return 1
    for b in (args.twkit, args.delayline):
        if not os.access(b, os.X_OK):
            print("client matrix: %s is not an executable" % b)
            print("0 passed, %d failed" % len(rows))
            return 1

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    # SIGINT too: a shell without job control starts background jobs with it
    # ignored, and a runner that cannot be stopped leaves namespaces behind
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    root = tempfile.mkdtemp(prefix="twm-%d-" % os.getpid())
    results = {}
    ex = None
    t0 = time.monotonic()
    try:
        reap_stale()
        cells = [Cell(i, r, args, root) for i, r in enumerate(rows)]
        # the slow ones first, so the short ones fill the gaps
        order = sorted(cells, key=lambda c: -c.timeout)
        print("client matrix: %d cells, %d at a time; body %d bytes, sha256 %s"
              % (len(cells), args.jobs, BODY_SIZE, BODY_SHA[:16]), flush=True)

        def job(c):
            if time.monotonic() - t0 > args.deadline:
                return False, "not started: the matrix's --deadline passed"
            if STOP.is_set():
                return False, "interrupted"
            return c.run()

        ex = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
        futs = {ex.submit(job, c): c for c in order}
        pending = set(futs)
        while pending:
            done, pending = concurrent.futures.wait(pending, timeout=0.2)
            for fu in done:
                c = futs[fu]
                ok, reason = fu.result()
                results[c.name] = ok
                print("%s  %-26s %-14s %-12s %6.1f s  TW client %s/%s server %s/%s  %s"
                      % ("PASS" if ok else "FAIL", c.name, c.client, c.link, c.secs,
                         "-" if c.tw[0] is None else c.tw[0], c.tw_c,
                         "-" if c.tw[1] is None else c.tw[1], c.tw_s, reason),
                      flush=True)
        ex.shutdown()
    except KeyboardInterrupt:
        # every cell stops now; their own teardown runs, then the sweep below
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sg in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sg, signal.SIG_IGN)
        STOP.set()
        print("client matrix: interrupted, cleaning up", flush=True)
        cleanup_all()
        if ex:
            ex.shutdown(wait=True, cancel_futures=True)
        cleanup_all()
        passed = sum(results.values())
        print("%d passed, %d failed" % (passed, len(rows) - passed))
        return 130
    finally:
        STOP.set()
        cleanup_all()
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
    passed = sum(results.values())
    print("client matrix: %.0f s" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, len(rows) - passed))
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
