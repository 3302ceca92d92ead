# Line servers for the tcp probe's lab tests (tests/lab/test_probe_tcp.c):
# one thread per connection, each listener on 127.0.0.1 in its mode.
#
#   probe_servers.py LOG CERT KEY MODE:PORT[:ARG]...
#
# Each writes to LOG what it received, prefixed by its port, and how the
# client left once the conversation is over, read on the raw socket under
# the TLS: "end RST", "end FIN", and "after N bytes" if anything came first
# (a close_notify would).
import socket
import ssl
import sys
import threading
import time

log = open(sys.argv[1], 'a', buffering=1)
lock = threading.Lock()


def note(port, s):
    with lock:
        log.write('%d %s\n' % (port, s))


def tls(c):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    return ctx.wrap_socket(c, server_side=True)


def line(c):
    """One line, byte by byte: nothing after it is taken from the socket."""
    b = b''
    while not b.endswith(b'\n'):
        d = c.recv(1)
        if not d:
            break
        b += d
    return b


def ending(c, port):
    raw = socket.fromfd(c.fileno(), socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(3)
    n = 0
    try:
        while True:
            d = raw.recv(4096)
            if not d:
                how = 'FIN'
                break
            n += len(d)
    except ConnectionResetError:
        how = 'RST'
    except Exception as e:
        how = type(e).__name__
    raw.close()
    note(port, 'end ' + how + (' after %d bytes' % n if n else ''))


def serve(c, mode, port, arg):
    try:
        if mode == 'smtp':  # offers STARTTLS, and talks on over TLS
            c.sendall(b'220 mx ESMTP ready\r\n')
            note(port, 'got %r' % line(c))
            c.sendall(b'250-mx greets you\r\n250-STARTTLS\r\n250 OK\r\n')
            note(port, 'got %r' % line(c))
            c.sendall(b'220 go ahead\r\n')
            c = tls(c)
            note(port, 'tls got %r' % line(c))
            c.sendall(b'250 hello over TLS\r\n')
        elif mode == 'smtp_plain':  # no STARTTLS, and closes after its 250s
            c.sendall(b'220 mx ESMTP ready\r\n')
            note(port, 'got %r' % line(c))
            c.sendall(b'250-mx greets you\r\n250 OK\r\n')
            return
        elif mode == 'irc':  # PING :ARG; only "PONG ARG" gets OK
            c.sendall(b'NOTICE * :hello\r\nPING :' + arg.encode() + b' extra\r\n')
            got = line(c)
            note(port, 'got %r' % got)
            if got != b'PONG ' + arg.encode() + b'\n':
                c.sendall(b'BAD\r\n')
                return
            c.sendall(b'OK\r\n')
        elif mode == 'echo':  # says what it got back, in brackets
            c.sendall(b'HELLO abc def\r\n')
            got = line(c)
            note(port, 'got %r' % got)
            c.sendall(b'GOT [' + got.rstrip(b'\n') + b']\r\n')
        elif mode == 'long':  # a line of ARG bytes, then END
            c.sendall(b'x' * int(arg) + b'\nEND\r\n')
        elif mode == 'close':
            return
        elif mode == 'silent':
            time.sleep(5)
        elif mode == 'tlsbanner':  # TLS at once, then an IMAP-like greeting
            c = tls(c)
            c.sendall(b'* OK IMAP ready\r\n')
            note(port, 'tls got %r' % line(c))
            c.sendall(b'* BYE\r\n')
        ending(c, port)
    except Exception as e:
        note(port, 'error ' + type(e).__name__ + ' ' + str(e))
    finally:
        c.close()


def listen(mode, port, arg):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, mode, port, arg), daemon=True).start()


for spec in sys.argv[4:]:
    mode, port, arg = (spec.split(':') + [''])[:3]
    threading.Thread(target=listen, args=(mode, int(port), arg), daemon=True).start()
while True:
    time.sleep(60)
