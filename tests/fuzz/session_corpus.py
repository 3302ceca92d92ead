#!/usr/bin/python3
"""Write the seed corpora of fuzz_session_twp and fuzz_session_http
(tests/fuzz/fuzz_session.c reads an input as 4 option bytes, then
operations). Run from anywhere: tests/fuzz/session_corpus.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEND, FLOOD, READ, FIN, RST, NEW, SWITCH, ANSWER = 0, 3, 4, 5, 6, 7, 8, 9


def send(b):
    out = b''
    while b:
        out += bytes([SEND, len(b[:256]) - 1]) + b[:256]
        b = b[256:]
    return out


def frame(t, p=b''):
    return struct.pack('>IB', len(p), t) + p


HELLO = frame(1, b'twp\x01')
# options: max_outbuf 1 KiB << (b0 & 7); max_frame 1 + b1 * 64;
# max_conns 1 + (b2 & 3), max_requests (b2 >> 2) & 3; b3: after_fin RST, small limits
OPTS = bytes([3, 16, 3, 0])

twp = {
    'echo_bye': HELLO + frame(2, b'abc') + frame(7),
    'echo_close': HELLO + frame(2, b'hello'),
    'finish': HELLO + frame(2, b'F-done'),
    'later_answer': HELLO + frame(2, b'L'),
    'multi': HELLO + frame(2, b'M123'),
    'ping': HELLO + frame(3, b'12345678') + frame(2, b'x'),
    'too_big': HELLO + frame(2, b'y' * 2000),
    'bad_type': HELLO + frame(9),
    'no_hello': frame(2, b'abc'),
    'bad_version': frame(1, b'twp\x02'),
    'app_abort': HELLO + frame(2, b'X'),
}
for name, stream in twp.items():
    data = OPTS + send(stream) + bytes([READ])
    if name == 'later_answer':
        data += bytes([ANSWER])
    with open(os.path.join(HERE, 'corpus/session_twp', name), 'wb') as f:
        f.write(data)
# split frames, a flood, a half-close, two connections
with open(os.path.join(HERE, 'corpus/session_twp', 'trickle'), 'wb') as f:
    f.write(OPTS + b''.join(bytes([SEND, 0, c]) for c in HELLO + frame(2, b'slow')))
with open(os.path.join(HERE, 'corpus/session_twp', 'flood_no_read'), 'wb') as f:
    f.write(OPTS + send(HELLO) + bytes([READ]) + send(frame(2, b'z' * 100)) + bytes([FLOOD, 63]))
with open(os.path.join(HERE, 'corpus/session_twp', 'halfclose'), 'wb') as f:
    f.write(OPTS + send(HELLO + frame(2, b'q')) + bytes([FIN]))
with open(os.path.join(HERE, 'corpus/session_twp', 'two_conns_reset'), 'wb') as f:
    f.write(OPTS + send(HELLO) + bytes([NEW]) + send(HELLO + frame(2, b'a')) +
            bytes([SWITCH, 0, RST]))

GET = b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
http = {
    'get': GET,
    'get_close': b'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    'get_10': b'GET / HTTP/1.0\r\n\r\n',
    'keepalive_10': b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    'pipelined': GET + b'GET /b5000 HTTP/1.1\r\nHost: x\r\n\r\n' + GET,
    'chunked_resp': b'GET /c HTTP/1.1\r\nHost: x\r\n\r\n',
    'deferred': b'GET /d HTTP/1.1\r\nHost: x\r\n\r\n' + GET,
    'finish': b'GET /f HTTP/1.1\r\nHost: x\r\n\r\n',
    'post': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
    'post_chunked': b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
                    b'5\r\nhello\r\n0\r\n\r\n',
    'expect': b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc',
    'head': b'HEAD /b100 HTTP/1.1\r\nHost: x\r\n\r\n',
    'bad': b'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'garbage': b'\x00\x01\x02 \r\n\r\n',
    'long_header': b'GET / HTTP/1.1\r\nHost: x\r\nX: ' + b'a' * 600 + b'\r\n\r\n',
}
for name, stream in http.items():
    data = OPTS + send(stream) + bytes([READ])
    if name == 'deferred':
        data += bytes([ANSWER])
    with open(os.path.join(HERE, 'corpus/session_http', name), 'wb') as f:
        f.write(data)
with open(os.path.join(HERE, 'corpus/session_http', 'flood_no_read'), 'wb') as f:
    f.write(OPTS + bytes([READ]) + send(b'GET /b2000 HTTP/1.1\r\nHost: x\r\n\r\n') +
            bytes([FLOOD, 63, FLOOD, 63]))
with open(os.path.join(HERE, 'corpus/session_http', 'halfclose_after_request'), 'wb') as f:
    f.write(OPTS + send(GET) + bytes([FIN, READ]))
with open(os.path.join(HERE, 'corpus/session_http', 'slowloris'), 'wb') as f:
    f.write(OPTS + b''.join(bytes([SEND, 0, c]) for c in GET[:20]))
with open(os.path.join(HERE, 'corpus/session_http', 'rst_after_fin'), 'wb') as f:
    f.write(bytes([3, 16, 3, 1]) + send(GET) + bytes([READ, FIN]))
with open(os.path.join(HERE, 'corpus/session_http', 'table_full'), 'wb') as f:
    f.write(bytes([3, 16, 0, 0]) + send(GET) + bytes([NEW]) + send(GET) + bytes([READ]))
