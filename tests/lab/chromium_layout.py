#!/usr/bin/python3
"""Lay a page out in Debian's headless Chromium at a phone's width and say
how wide it really is: chromium_layout.py URL WIDTH HEIGHT USER_DATA_DIR.

`chromium --headless --window-size=390,...` cannot tell: its window is
never narrower than 500 px, so a script in the page sees 500 (only
--screenshot scales the picture down to the size asked). Here Chromium is
driven over the DevTools protocol on a pipe (--remote-debugging-pipe: fds 3
and 4, messages ended by NUL, no port opened): the page is loaded with the
device metrics of a phone (Emulation.setDeviceMetricsOverride, mobile: the
page's <meta name=viewport> is obeyed as a phone obeys it), then its
layout is read from the document itself. The page needs no script of its
own; the measuring one runs from outside (Runtime.evaluate).

Prints one JSON object: scrollWidth, clientWidth, innerWidth of the
document, and the rows (data-probe elements) with their data-state, each
row's right edge (getBoundingClientRect().right). Exits 1 on any failure,
after at most 40 s (SIGALRM); Chromium is killed whatever happens.
"""
import ctypes
import json
import os
import signal
import subprocess
import sys


def main():
    url, width, height, udd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()

    def child_fds():
        # Chromium dies with this script, however it ends (PR_SET_PDEATHSIG)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
        # through fresh numbers first: the pipes may be 3 and 4 already,
        # and dup2 onto itself would leave them close-on-exec
        r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
        os.dup2(r, 3)
        os.dup2(w, 4)

    proc = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
         "--user-data-dir=" + udd, "--window-size=%d,%d" % (max(width, 500), height),
         "--no-first-run", "--no-default-browser-check", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=child_fds, close_fds=False)
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("40 s")))
    signal.alarm(40)
    buf = b""
    ids = [0]
    events = []

    def read_msg():
        nonlocal buf
        while b"\0" not in buf:
            chunk = os.read(from_chrome_r, 65536)
            if not chunk:
                raise EOFError("chromium closed the pipe")
            buf += chunk
        msg, buf = buf.split(b"\0", 1)
        return json.loads(msg)

    def call(method, params=None, session=None):
        ids[0] += 1
        m = {"id": ids[0], "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        os.write(to_chrome_w, json.dumps(m).encode() + b"\0")
        while True:
            r = read_msg()
            if r.get("id") == ids[0]:
                if "error" in r:
                    raise RuntimeError("%s: %s" % (method, r["error"]))
                return r["result"]
            events.append(r)

    def wait_event(name, session):
        while True:
            for i, ev in enumerate(events):
                if ev.get("method") == name and ev.get("sessionId") == session:
                    del events[i]
                    return ev
            events.append(read_msg())

    try:
        tid = call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = call("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        call("Emulation.setDeviceMetricsOverride",
             {"width": width, "height": height, "deviceScaleFactor": 1,
              "mobile": width < 500}, sid)
        call("Page.enable", {}, sid)
        call("Page.navigate", {"url": url}, sid)
        wait_event("Page.loadEventFired", sid)
        expr = ("JSON.stringify({scrollWidth: document.documentElement.scrollWidth,"
                " clientWidth: document.documentElement.clientWidth, innerWidth: innerWidth,"
                " scripts: document.scripts.length,"
                " rows: Array.from(document.querySelectorAll('[data-probe]')).map(e => ({"
                "probe: e.dataset.probe, target: e.dataset.target, state: e.dataset.state,"
                " right: Math.ceil(e.getBoundingClientRect().right)}))})")
        r = call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, sid)
        print(r["result"]["value"])
        try:
            call("Browser.close")
        except (EOFError, RuntimeError):
            pass
        return 0
    except (EOFError, RuntimeError, TimeoutError, KeyError, ValueError) as e:
        print("chromium_layout: %s" % e, file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        if proc.poll() is None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.exit(main())
