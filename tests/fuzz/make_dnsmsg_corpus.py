#!/usr/bin/python3
"""The seed corpus of tests/fuzz/fuzz_dnsmsg.c, written to corpus/dnsmsg/,
and the check of its rendering against the real blackbox_exporter.

    tests/fuzz/make_dnsmsg_corpus.py            hand-made messages: one
        record of every type miekg/dns knows (with the bytes that its text
        escapes), names, pointers, OPT options; then broken ones
    tests/fuzz/make_dnsmsg_corpus.py --capture  also real replies of
        dnsmasq (/usr/sbin/dnsmasq on a loopback port of its own), the
        dnsmasq_* files
    tests/fuzz/make_dnsmsg_corpus.py --blackbox build/tests/fuzz_dnsmsg
        serves every corpus message that parses from a loopback server of
        its own (UDP, TCP over 512 bytes) to prometheus-blackbox-exporter,
        one module each, and compares the records its debug log shows
        ("Validating RR") and its question section with what fuzz_dnsmsg
        renders (FUZZ_DNSMSG_VERBOSE=1); prints one line per message and
        exits 1 on a difference. Writes nothing into the corpus.

regress-* files are minimized inputs that once crashed or failed a check;
this script leaves them alone.
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dnsmsg")
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
DNSMASQ = "/usr/sbin/dnsmasq"


def name(s):
    """'www.example.' (escapes \\. and \\DDD) or a list of byte labels."""
    if isinstance(s, list):
        labels = s
    elif s == ".":
        labels = []
    else:
        labels, cur, i = [], b"", 0
        while i < len(s):
            c = s[i]
            if c == "\\" and s[i + 1:i + 4].isdigit():
                cur += bytes([int(s[i + 1:i + 4])])
                i += 4
                continue
            if c == "\\":
                cur += s[i + 1].encode()
                i += 2
                continue
            if c == ".":
                labels.append(cur)
                cur = b""
            else:
                cur += c.encode()
            i += 1
        if cur:
            labels.append(cur)
    return b"".join(bytes([len(l)]) + l for l in labels) + b"\0"


PTR_Q = b"\xc0\x0c"  # the question's name, at offset 12


def rr(owner, rtype, rdata, ttl=300, cls=1):
    return owner + struct.pack(">HHIH", rtype, cls, ttl, len(rdata)) + rdata


def msg(qd=(), an=(), ns=(), ar=(), mid=0x1234, flags=0x8580):
    out = struct.pack(">HHHHHH", mid, flags, len(qd), len(an), len(ns), len(ar))
    for q in qd:
        out += q
    for sect in (an, ns, ar):
        for r in sect:
            out += r
    return out


def q(n="t.example.", qtype=1, cls=1):
    return name(n) + struct.pack(">HH", qtype, cls)


def one(rtype, rdata, qname="t.example.", **kw):
    """A reply with one answer of owner the question's name (a pointer)."""
    return msg([q(qname)], [rr(PTR_Q, rtype, rdata, **kw)])


def s(b):
    """A character-string."""
    return bytes([len(b)]) + b


def ip6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def ip4(text):
    return socket.inet_aton(text)


ODD = b'a.b c@d"e\\f;g(h)i\'j\x00k\x7fl\xffm'  # every byte a name escapes
TXTODD = b'q"u\\o\tt\x00e\xc3\xa9\xff'


def opt(options=b"", udp=1232, ext=0, version=0, do=False):
    ttl = ext << 24 | version << 16 | (0x8000 if do else 0)
    return rr(b"\0", 41, options, ttl=ttl, cls=udp)


def option(code, data):
    return struct.pack(">HH", code, len(data)) + data


def bitmap(types):
    win = {}
    for t in types:
        win.setdefault(t >> 8, set()).add(t & 255)
    out = b""
    for w in sorted(win):
        n = max(win[w]) // 8 + 1
        bits = bytearray(n)
        for t in win[w]:
            bits[t // 8] |= 0x80 >> (t % 8)
        out += bytes([w, n]) + bytes(bits)
    return out


def svcb_param(key, val):
    return struct.pack(">HH", key, len(val)) + val


def good():
    """(file name, message) of the hand-made messages that parse."""
    c = {}
    c["a"] = one(1, ip4("192.0.2.1"))
    for i, a in enumerate(["2001:db8::1", "::ffff:192.0.2.1", "::192.0.2.1",
                           "2001:db8:0:0:1:0:0:1", "2001:db8:0:1:1:1:1:1", "::",
                           "1::", "::1", "fe80::1:0:0:0:2", "0:1:0:1:0:1:0:1"]):
        c["aaaa_%d" % i] = one(28, ip6(a))
    c["ns"] = one(2, name("ns1.example."))
    c["cname_escapes"] = one(5, name([ODD, b"example"]))
    c["ptr"] = one(12, name("host.example."), qname="1.2.0.192.in-addr.arpa.")
    c["dname"] = one(39, name("other.example."))
    c["mx"] = one(15, struct.pack(">H", 10) + name("mail.example."))
    c["mx_ptr"] = one(15, struct.pack(">H", 0) + PTR_Q)
    c["soa"] = one(6, name("ns.example.") + name("host\\.master.example.") +
                   struct.pack(">IIIII", 2024010101, 7200, 3600, 1209600, 4294967295))
    c["srv"] = one(33, struct.pack(">HHH", 1, 2, 5060) + name("sip.example."),
                   qname="_sip._udp.example.")
    c["txt"] = one(16, s(b"v=spf1 -all") + s(b"") + s(TXTODD))
    c["txt_none"] = one(16, b"")
    c["spf"] = one(99, s(b"v=spf1 include:x -all"))
    c["caa"] = msg([q()], [rr(PTR_Q, 257, b"\x00" + s(b"issue") + b"letsencrypt.org"),
                           rr(PTR_Q, 257, b"\x80" + s(b"iodef") + b"mailto:a@b"),
                           rr(PTR_Q, 257, b"\x00" + s(b"tb\"x") + b'v\\065\\.x"\\q\x01\\')])
    c["naptr"] = one(35, struct.pack(">HH", 100, 10) + s(b"u") + s(b"E2U+sip") +
                     s(b"!^.*$!sip:info@example.com!") + name("."))
    c["hinfo"] = one(13, s(b"PDP-11") + s(b"UNIX \"v7\""))
    c["ds"] = one(43, struct.pack(">HBB", 60485, 5, 1) + bytes.fromhex("2bb183af5f22588179a53b0a98631fad1a292118"))
    c["dnskey"] = one(48, struct.pack(">HBB", 257, 3, 8) + bytes(range(70)))
    c["rrsig"] = one(46, struct.pack(">HBBIIIH", 1, 8, 2, 3600, 1767225600, 1704067200, 12345) +
                     name("example.") + bytes(range(1, 65)))
    c["nsec"] = one(47, name("next.example.") + bitmap([1, 2, 6, 15, 16, 28, 46, 47, 48, 1234, 65280]))
    c["nsec3"] = one(50, struct.pack(">BBH", 1, 1, 10) + s(bytes.fromhex("aabbccdd")) +
                     s(bytes(range(20))) + bitmap([1, 2, 6, 46, 51]))
    c["nsec3param"] = one(51, struct.pack(">BBH", 1, 0, 0) + s(b""))
    c["tlsa"] = one(52, b"\x03\x01\x01" + bytes(range(32)), qname="_443._tcp.example.")
    c["smimea"] = one(53, b"\x03\x00\x00" + bytes(i & 255 for i in range(600)))
    c["smimea_512"] = one(53, b"\x03\x00\x00" + bytes(i & 255 for i in range(512)))
    c["sshfp"] = one(44, b"\x04\x02" + bytes(range(32)))
    c["loc"] = one(29, bytes([0, 0x12, 0x16, 0x13]) +
                   struct.pack(">III", 0x80000000 + 188423000, 0x80000000 - 17612000, 10000000 + 1234))
    c["loc_south"] = one(29, bytes([0, 0x90, 0x00, 0x25]) +
                         struct.pack(">III", 0x80000000 - 1000, 0x80000000, 10000000 - 5))
    c["svcb"] = one(64, struct.pack(">H", 1) + name("svc.example.") +
                    svcb_param(0, struct.pack(">HH", 1, 3)) +
                    svcb_param(1, s(b"h2") + s(b"h3,x\\y")) +
                    svcb_param(2, b"") + svcb_param(3, struct.pack(">H", 8443)) +
                    svcb_param(4, ip4("192.0.2.1") + ip4("192.0.2.2")) +
                    svcb_param(5, b"\x01\x02\x03") +
                    svcb_param(6, ip6("2001:db8::1") + ip6("2001:db8::2")) +
                    svcb_param(7, b"/dns-query{?dns}") +
                    svcb_param(65000, b'a"b c;\\\x01'))
    c["https_alias"] = one(65, struct.pack(">H", 0) + name("pool.example."))
    c["cert"] = one(37, struct.pack(">HHB", 1, 12345, 8) + bytes(range(40)))
    c["cert_num"] = one(37, struct.pack(">HHB", 99, 1, 99) + b"\xff")
    c["kx_afsdb_rt"] = msg([q()], [rr(PTR_Q, 36, struct.pack(">H", 10) + name("kx.example.")),
                                   rr(PTR_Q, 18, struct.pack(">H", 1) + name("afs.example.")),
                                   rr(PTR_Q, 21, struct.pack(">H", 2) + name("rt.example."))])
    c["rp_minfo_talink"] = msg([q()], [rr(PTR_Q, 17, name("admin.example.") + name(".")),
                                       rr(PTR_Q, 14, name("r.example.") + name("e.example.")),
                                       rr(PTR_Q, 58, name("a.example.") + name("b.example."))])
    c["old_names"] = msg([q()], [rr(PTR_Q, t, name("x%d.example." % t)) for t in (3, 4, 7, 8, 9, 23)])
    c["px"] = one(26, struct.pack(">H", 10) + name("a.example.") + name("b.example."))
    c["x25_gpos"] = msg([q()], [rr(PTR_Q, 19, s(b"311061700956")),
                                rr(PTR_Q, 27, s(b"-32.6882") + s(b"116.8652") + s(b"10.0"))])
    c["eui"] = msg([q()], [rr(PTR_Q, 108, bytes.fromhex("00005e0053ff")),
                           rr(PTR_Q, 109, bytes.fromhex("00005efffe0053ff"))])
    c["ilnp"] = msg([q()], [rr(PTR_Q, 104, struct.pack(">H", 10) + bytes.fromhex("0014f4fffeabcdef")),
                            rr(PTR_Q, 105, struct.pack(">H", 10) + ip4("10.1.2.3")),
                            rr(PTR_Q, 106, struct.pack(">H", 10) + bytes.fromhex("2001000dabcdef01")),
                            rr(PTR_Q, 107, struct.pack(">H", 10) + name("l64.example."))])
    c["uri"] = one(256, struct.pack(">HH", 10, 1) + b"ftp://ftp1.example.com/public")
    c["apl"] = one(42, struct.pack(">HBB", 1, 24, 3) + bytes([192, 0, 2]) +
                   struct.pack(">HBB", 2, 32, 0x84) + bytes.fromhex("20010db8") +
                   struct.pack(">HBB", 2, 96, 12) + ip6("::ffff:0:0")[:12] +
                   struct.pack(">HBB", 1, 0, 0))
    c["hip"] = one(55, struct.pack(">BBH", 16, 2, 8) + bytes(range(16)) + bytes(range(8)) +
                   name("rvs1.example.") + name("rvs2.example."))
    c["csync"] = one(62, struct.pack(">IH", 66, 3) + bitmap([1, 2, 28]))
    c["zonemd"] = one(63, struct.pack(">IBB", 2018031500, 1, 1) + bytes(range(48)))
    c["b64_only"] = msg([q()], [rr(PTR_Q, 49, bytes(range(35))), rr(PTR_Q, 61, b"\xfb\xff"),
                                rr(PTR_Q, 61, b"")])
    c["hex_only"] = msg([q()], [rr(PTR_Q, 31, b"\x12\xab"), rr(PTR_Q, 32, b"\x00\xfe")])
    c["keys"] = msg([q()], [rr(PTR_Q, t, struct.pack(">HBB", 256, 3, a) + b"\x01\x02\x03\x04")
                            for t, a in ((25, 13), (57, 15), (60, 253), (48, 200))])
    c["ds_like"] = msg([q()], [rr(PTR_Q, t, struct.pack(">HBB", 2371, 13, 2) + bytes(range(8)))
                               for t in (59, 32768, 32769)] +
                       [rr(PTR_Q, 43, struct.pack(">HBB", 1, 1, 1))])
    c["sig"] = one(24, struct.pack(">HBBIIIH", 0, 8, 0, 0, 4294967295, 0, 1) + name(".") + b"\x00")
    c["uid_gid_uinfo"] = msg([q()], [rr(PTR_Q, 100, s(b"Joe \"x\"")), rr(PTR_Q, 101, struct.pack(">I", 1000)),
                                     rr(PTR_Q, 102, struct.pack(">I", 4294967295))])
    c["avc_ninfo"] = msg([q()], [rr(PTR_Q, 258, s(b"app-name:WOLFGANG|app-class:OAM")),
                                 rr(PTR_Q, 56, s(b"a") + s(b"b c"))])
    c["null"] = one(10, b"hello\x00 \x01\xff")
    c["any_empty"] = one(255, b"")
    c["unknown"] = msg([q()], [rr(PTR_Q, 65280, b"\x0a\x00\x00\x01"), rr(PTR_Q, 65281, b""),
                               rr(PTR_Q, 0, b"\xab"), rr(PTR_Q, 252, b"x"),
                               rr(PTR_Q, 65535, b"\x00", cls=3)])
    c["classes"] = msg([q(cls=3)], [rr(PTR_Q, 16, s(b"chaos"), cls=3),
                                    rr(PTR_Q, 16, s(b"any"), cls=255),
                                    rr(PTR_Q, 16, s(b"none"), cls=254),
                                    rr(PTR_Q, 16, s(b"hs"), cls=4),
                                    rr(PTR_Q, 16, s(b"cs"), cls=2),
                                    rr(PTR_Q, 16, s(b"c1234"), cls=1234)])
    c["tkey"] = one(249, name("hmac-sha256.") + struct.pack(">IIHHH", 1704067200, 1704070800, 3, 0, 4) +
                    b"\xde\xad\xbe\xef" + struct.pack(">H", 2) + b"\x0a\x0b")
    c["tsig"] = msg([q()], [], [], [rr(name("key."), 250, name("hmac-sha256.") + b"\x00\x00\x65\x92\x00\x80" +
                                       struct.pack(">HH", 300, 4) + b"\xca\xfe\xba\xbe" +
                                       struct.pack(">HHH", 0x1234, 0, 0), cls=255, ttl=0)])
    c["opt"] = msg([q()], [rr(PTR_Q, 1, ip4("192.0.2.1"))], [], [opt(
        option(3, b"ns1\xe9\x00") + option(10, bytes(range(8))) +
        option(8, struct.pack(">HBB", 1, 24, 0) + bytes([192, 0, 2])) +
        option(8, struct.pack(">HBB", 2, 56, 48) + ip6("2001:db8:1::")[:7]) +
        option(8, struct.pack(">HBB", 2, 128, 0) + ip6("::ffff:1.2.3.4")) +
        option(8, struct.pack(">HBB", 0, 0, 0)) +
        option(11, struct.pack(">H", 700)) + option(11, b"") + option(11, struct.pack(">H", 1000)) +
        option(12, b"\x00\xab") + option(15, struct.pack(">H", 18) + b"no\x00way") +
        option(15, struct.pack(">H", 99) + b"") + option(9, struct.pack(">I", 600)) + option(9, b"") +
        option(2, struct.pack(">I", 3600)) + option(2, struct.pack(">II", 3600, 60)) +
        option(1, struct.pack(">HHHQI", 1, 2, 0, 2 ** 64 - 1, 7200)) +
        option(5, bytes([8, 13, 99])) + option(6, bytes([1, 2, 9])) + option(7, bytes([1])) +
        option(4, b"sip:x@y") + option(65001, b"\x01\x02"), do=True)])
    c["opt_badsig"] = msg([q()], [], [], [opt(ext=1, version=1)], flags=0x8180)
    c["opt_empty"] = msg([q()], [], [], [opt(udp=512)])
    c["root_owner"] = msg([q(".", 2)], [rr(b"\0", 2, name("a.root-servers.net."))])
    c["question_only"] = msg([q("Mixed.Case.example.", 28)], flags=0x8183)
    c["questions"] = msg([q("a.example.", 1), q("b.example.", 255, 255), b"\xc0\x0c" + struct.pack(">HH", 65280, 1234)])
    c["header_only"] = msg(flags=0x8105)
    # compression: to the question, into a label of it, to a name in RDATA,
    # to a pointer (a name ending in one), to the root byte
    m = msg([q("www.example.")], [rr(PTR_Q, 5, name([b"cdn"]) [:-1] + b"\xc0\x10"),
                                  rr(b"\xc0\x1d", 1, ip4("192.0.2.7"))])
    c["pointers"] = m
    c["pointer_to_pointer"] = msg([q("a.example.")], [rr(b"\x01b\xc0\x0c", 1, ip4("1.2.3.4")),
                                                      rr(b"\xc0\x1b", 1, ip4("5.6.7.8"))])
    c["pointer_to_root"] = msg([q("a.")], [rr(b"\xc0\x0e", 2, b"\xc0\x0c")])
    c["long_name"] = one(5, name([b"x" * 63] * 3 + [b"y" * 61]))
    c["labels_127"] = one(5, name([b"z"] * 127))
    # more of what the text escapes or rounds
    c["caa_octets"] = msg([q()], [rr(PTR_Q, 257, b"\x00" + s(b"issue") + v) for v in (
        b"a\\1b", b"\\12c", b"\\999d", b"e\\", b"\\\\.f", b"\xff\tg", b"", b"\\")])
    c["uri_quotes"] = one(256, struct.pack(">HH", 1, 2) + b'say "hi" \\.')
    c["txt_many"] = one(16, b"".join(s(bytes([65 + i]) * i) for i in range(20)) + s(b"z" * 255))
    c["loc_sizes"] = msg([q()], [rr(PTR_Q, 29, bytes([0, sz, hp, vp]) + struct.pack(">III", lat, lon, alt))
                                 for sz, hp, vp, lat, lon, alt in (
                                     (0x00, 0x01, 0x99, 0x80000000, 0x80000000, 0),
                                     (0x15, 0x2f, 0xf0, 0x80000001, 0x7fffffff, 9999900),
                                     (0x13, 0x13, 0x13, 0xffffffff, 0, 4294967295))])
    c["svcb_odd"] = one(64, struct.pack(">H", 16) + name(".") +
                        svcb_param(0, struct.pack(">HHH", 1, 8, 65535)) +
                        svcb_param(1, s(b"h2") + s(b"") + s(b"a b;\"")) + svcb_param(8, b"") +
                        svcb_param(65534, b"\xff"))
    c["names_odd"] = msg([q("UPPER.Case.")], [rr(PTR_Q, 5, name(".")),
                                              rr(name([b"sp ace", b"x"]), 2, name([b"\x01", b"\x20"])),
                                              rr(b"\xc0\x0c", 1, ip4("0.0.0.0"), ttl=0),
                                              rr(b"\xc0\x0c", 1, ip4("255.255.255.255"), ttl=4294967295)])
    c["nsec_no_types"] = msg([q()], [rr(PTR_Q, 47, name("n.example.")),
                                     rr(PTR_Q, 50, struct.pack(">BBH", 1, 0, 0) + s(b"") + s(b"")),
                                     rr(PTR_Q, 55, struct.pack(">BBH", 0, 0, 0)),
                                     rr(PTR_Q, 42, b""), rr(PTR_Q, 10, b""),
                                     rr(PTR_Q, 13, s(b"") + s(b"")), rr(PTR_Q, 27, s(b"") + s(b"") + s(b""))])
    c["smimea_1024"] = one(53, b"\x03\x00\x00" + bytes(i & 255 for i in range(1024)))
    c["opt_in_answer"] = msg([q()], [rr(b"\0", 41, option(3, b""), ttl=0x00018000, cls=4096)])
    c["opt_odd"] = msg([q()], [], [], [opt(
        option(8, struct.pack(">HBB", 1, 32, 32) + ip4("10.1.2.3") + b"\xff\xff") +
        option(8, struct.pack(">HBB", 2, 16, 0) + b"\x20\x01") + option(3, b"") +
        option(12, b"") + option(1, bytes(19)) + option(5, b"") + option(15, b"\x00\x00"),
        version=2, ext=1)], flags=0x8000)
    return c


def broken(c):
    """Messages that must not parse, made from good ones."""
    b = {}
    a = c["a"]
    b["bad_trailing_byte"] = a + b"\0"
    b["bad_truncated"] = a[:-1]
    b["bad_short_header"] = a[:11]
    b["bad_forward_pointer"] = msg([b"\xc0\x11\x00\x01\x00\x01", name("x.")])
    b["bad_self_pointer"] = msg([b"\xc0\x0c\x00\x01\x00\x01"])
    b["bad_loop"] = msg([name("a.")[:-1] + b"\xc0\x0c" + b"\x00\x01\x00\x01"])
    b["bad_into_header"] = msg([b"\xc0\x02\x00\x01\x00\x01"])
    b["bad_past_end"] = msg([q()], [rr(b"\xc0\xff", 1, ip4("1.1.1.1"))])
    b["bad_mid_label"] = msg([q("abc.example.")], [rr(b"\xc0\x0d", 1, ip4("1.1.1.1"))])
    b["bad_label_64"] = one(5, b"\x40" + b"x" * 64 + b"\0")
    b["bad_name_256"] = one(5, name([b"x" * 63] * 3 + [b"y" * 62]))
    b["bad_ext_label"] = one(5, b"\x41\x01\x00")
    b["bad_a_len"] = one(1, b"\x01\x02\x03")
    b["bad_a_empty"] = one(1, b"")
    b["bad_aaaa_len"] = one(28, bytes(15))
    b["bad_cname_past_rdata"] = msg([q()], [rr(PTR_Q, 5, b"\x03abc"), rr(PTR_Q, 1, b"\x00\x00\x00\x00")])
    b["bad_mx_short"] = one(15, b"\x00\x0a")
    b["bad_txt_overflow"] = one(16, b"\x05abc")
    b["bad_soa_extra"] = one(6, name("a.") + name("b.") + bytes(21))
    b["bad_nsec_order"] = one(47, name("n.") + b"\x01\x01\x80\x00\x01\x80")
    b["bad_nsec_empty_window"] = one(47, name("n.") + b"\x00\x00")
    b["bad_two_opt"] = msg([q()], [], [], [opt(), opt()])
    b["bad_opt_option_cut"] = msg([q()], [], [], [opt(b"\x00\x0a\x00\x05abc")])
    b["bad_opt_subnet_family"] = msg([q()], [], [], [opt(option(8, b"\x00\x03\x00\x00"))])
    b["bad_opt_keepalive_len"] = msg([q()], [], [], [opt(option(11, b"\x00"))])
    b["bad_svcb_order"] = one(64, b"\x00\x01\x00" + svcb_param(3, b"\x00\x01") + svcb_param(1, s(b"h2")))
    b["bad_svcb_v4_in_v6hint"] = one(64, b"\x00\x01\x00" + svcb_param(6, ip6("::ffff:1.2.3.4")))
    b["bad_apl_trailing_zero"] = one(42, struct.pack(">HBB", 1, 24, 3) + bytes([192, 0, 0]))
    b["bad_rdlen_past_end"] = a[:-4] + b"\x00\x05" + a[-4:]
    b["bad_question_cut"] = msg([name("a.") + b"\x00\x01"])
    b["bad_count_lies"] = a[:7] + b"\x02" + a[8:]
    return b


def write_corpus(files):
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if not f.startswith(("regress-", "dnsmasq_")):
            os.unlink(os.path.join(OUT, f))
    for n, data in files.items():
        with open(os.path.join(OUT, n), "wb") as fh:
            fh.write(data)


def free_port(kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def query(qname, qtype, edns=0, mid=0x4242, port=53, tcp=False):
    body = msg([q(qname, qtype)], [], [], [opt(udp=edns)] if edns else [], mid=mid, flags=0x0100)
    if tcp:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as so:
            so.sendall(struct.pack(">H", len(body)) + body)
            n = struct.unpack(">H", recv_all(so, 2))[0]
            return recv_all(so, n)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as so:
        so.settimeout(3)
        so.sendto(body, ("127.0.0.1", port))
        return so.recv(65535)


def recv_all(so, n):
    out = b""
    while len(out) < n:
        chunk = so.recv(n - len(out))
        if not chunk:
            raise EOFError("short TCP reply")
        out += chunk
    return out


def dnsmasq(port, tmp, extra):
    args = [DNSMASQ, "--no-daemon", "--no-resolv", "--no-hosts", "--port=%d" % port,
            "--listen-address=127.0.0.1", "--bind-interfaces",
            "--pid-file=%s/pid%d" % (tmp, port), "--local-ttl=300", "--auth-ttl=300"] + extra
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        try:
            query("probe.invalid.", 1, port=port)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("dnsmasq did not answer on port %d" % port)


def capture():
    """Real replies of dnsmasq (two of them: local records, and an
    authoritative zone for SOA and NS), on loopback ports of their own."""
    local = ["--host-record=www.zone.test,192.0.2.10,2001:db8::10",
             "--host-record=mapped.test,::ffff:192.0.2.11",
             "--cname=alias.zone.test,www.zone.test",
             "--mx-host=zone.test,mail.zone.test,10", "--mx-host=mx2.test,mx.mx2.test,20",
             "--txt-record=txt.test,\"v=spf1 -all\",second \\\"quoted\\\" string",
             "--srv-host=_sip._tcp.zone.test,sip.zone.test,5060,1,2",
             "--ptr-record=10.2.0.192.in-addr.arpa,www.zone.test",
             "--caa-record=zone.test,0,issue,letsencrypt.org",
             "--naptr-record=naptr.test,100,10,U,E2U+sip,!^.*$!sip:info@example.com!",
             "--dns-rr=sshfp.test,44,0401" + "ab" * 20,
             "--dns-rr=tlsa.test,52,030101" + "cd" * 32,
             "--dns-rr=unknown.test,65280,0a000001",
             "--dns-rr=hinfo.test,13," + (s(b"PDP-11") + s(b"UNIX")).hex(),
             "--dns-rr=https.test,65,0001000001000302683200030002" + "20fb",
             "--dns-rr=loc.test,29,00121613" + "8b3b7a68" + "7ef33110" + "00989a68",
             "--dns-rr=ds.test,43,ec4508012bb183af5f22588179a53b0a98631fad1a292118"]
    auth = ["--auth-server=ns.zone.test,127.0.0.1", "--auth-zone=zone.test",
            "--auth-soa=2024061501,hostmaster.zone.test,1200,180,1209600",
            "--host-record=www.zone.test,192.0.2.10"]
    asks = {"local": [("www.zone.test.", 1, 0), ("www.zone.test.", 28, 1232),
                      ("mapped.test.", 28, 0), ("alias.zone.test.", 1, 0), ("zone.test.", 15, 0),
                      ("mx2.test.", 15, 0), ("txt.test.", 16, 0), ("_sip._tcp.zone.test.", 33, 0),
                      ("10.2.0.192.in-addr.arpa.", 12, 0), ("zone.test.", 257, 0),
                      ("naptr.test.", 35, 0), ("sshfp.test.", 44, 0), ("tlsa.test.", 52, 0),
                      ("unknown.test.", 65280, 0), ("hinfo.test.", 13, 0), ("https.test.", 65, 0),
                      ("loc.test.", 29, 0), ("ds.test.", 43, 0), ("WwW.ZoNe.TeSt.", 1, 0),
                      ("nothere.test.", 1, 0)],
            "auth": [("zone.test.", 6, 0), ("zone.test.", 2, 1232), ("nothere.zone.test.", 1, 0),
                     ("www.zone.test.", 255, 0)]}
    tmp = tempfile.mkdtemp(prefix="dnsmsg-dnsmasq-")
    got, procs = {}, []
    try:
        for kind, extra in (("local", local), ("auth", auth)):
            port = free_port()
            procs.append(dnsmasq(port, tmp, extra))
            for i, (qname, qtype, edns) in enumerate(asks[kind]):
                reply = query(qname, qtype, edns, mid=0x1000 + i, port=port)
                tag = re.sub(r"[^a-z0-9]+", "_", qname.lower()).strip("_")
                if qname != qname.lower():
                    tag += "_mixed_case"
                got["dnsmasq_%s_%s_%d%s" % (kind, tag, qtype, "_edns" if edns else "")] = reply
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=5)
        shutil.rmtree(tmp, ignore_errors=True)
    return got


# ---- the comparison with blackbox_exporter ----

class Server:
    """Answers a query for fN.test. with message N (its ID the query's),
    over UDP and TCP on one loopback port."""

    def __init__(self, replies):
        self.replies = replies
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.stop = False
        for f in (self.serve_udp, self.serve_tcp):
            threading.Thread(target=f, daemon=True).start()

    def answer(self, query):
        labels, i = [], 12
        while i < len(query) and query[i]:
            labels.append(query[i + 1:i + 1 + query[i]].decode("latin-1"))
            i += 1 + query[i]
        reply = self.replies.get(".".join(labels).lower())
        return query[:2] + reply[2:] if reply else None

    def serve_udp(self):
        while not self.stop:
            data, peer = self.udp.recvfrom(65535)
            r = self.answer(data)
            if r:
                self.udp.sendto(r, peer)

    def serve_tcp(self):
        while not self.stop:
            conn, _ = self.tcp.accept()
            with conn:
                try:
                    n = struct.unpack(">H", recv_all(conn, 2))[0]
                    r = self.answer(recv_all(conn, n))
                    if r:
                        conn.sendall(struct.pack(">H", len(r)) + r)
                except (OSError, EOFError):
                    pass


def ours(fuzz_bin, path):
    """fuzz_dnsmsg's renderings: [("RCODE", rcode), (section, text)...], or []
    when it does not parse."""
    out = subprocess.run([fuzz_bin, path], env=dict(os.environ, FUZZ_DNSMSG_VERBOSE="1"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    rows = []
    for line in out.decode("latin-1").splitlines():
        m = re.match(r"^(RCODE|QD|AN|NS|AR)\t(.*)$", line)
        if m:
            raw = re.sub(r"\\(x[0-9a-f]{2}|t|n|\\)", lambda g: {"t": "\t", "n": "\n", "\\": "\\"}.get(
                g.group(1)) or chr(int(g.group(1)[1:], 16)), m.group(2))
            rows.append((m.group(1), raw.encode("latin-1").decode("utf-8", "replace")))
    return rows


def logfmt_value(line, key):
    m = re.search(r'\b%s=("(?:[^"\\]|\\.)*"|\S*)' % key, line)
    if not m:
        return None
    v = m.group(1)
    return json.loads(v) if v.startswith('"') else v


def blackbox_check(fuzz_bin):
    files = sorted(f for f in os.listdir(OUT))
    parsed, rcodes = {}, {}
    for f in files:
        rows = ours(fuzz_bin, os.path.join(OUT, f))
        if rows:
            rcodes[f] = int(rows[0][1])
            parsed[f] = rows[1:]
    replies, mods = {}, ["modules:"]
    for i, f in enumerate(parsed):
        with open(os.path.join(OUT, f), "rb") as fh:
            replies["f%d.test" % i] = fh.read()
        big = len(replies["f%d.test" % i]) > 512
        rcode = rcodes[f]
        mods += ["  m%d:" % i, "    prober: dns", "    timeout: 3s", "    dns:",
                 "      query_name: f%d.test" % i, "      query_type: A",
                 "      transport_protocol: %s" % ("tcp" if big else "udp"),
                 "      preferred_ip_protocol: ip4",
                 "      valid_rcodes: [%s]" % RCODES.get(rcode, "NOERROR")]
    srv = Server(replies)
    tmp = tempfile.mkdtemp(prefix="dnsmsg-bb-")
    web = free_port(socket.SOCK_STREAM)
    with open(os.path.join(tmp, "bb.yml"), "w") as fh:
        fh.write("\n".join(mods) + "\n")
    bb = subprocess.Popen([BLACKBOX, "--config.file=" + os.path.join(tmp, "bb.yml"),
                           "--web.listen-address=127.0.0.1:%d" % web, "--log.level=debug"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fails = 0
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/" % web, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        for i, f in enumerate(parsed):
            url = "http://127.0.0.1:%d/probe?module=m%d&target=127.0.0.1:%d&debug=true" % (web, i, srv.port)
            text = urllib.request.urlopen(url, timeout=10).read().decode("utf-8", "replace")
            theirs = [logfmt_value(l, "rr") for l in text.splitlines() if 'msg="Validating RR"' in l]
            resp = next((logfmt_value(l, "response") for l in text.splitlines()
                         if 'msg="Got response"' in l), None)
            qs = []
            if resp and "\n;; QUESTION SECTION:\n" in resp:
                qs = resp.split("\n;; QUESTION SECTION:\n", 1)[1].split("\n\n", 1)[0].split("\n")
                qs = [x for x in qs if x]
            # twkit shows a NUL that miekg copies into text as \000 (dnsmsg.h)
            nul = any("\0" in t for t in theirs)
            theirs = [t.replace("\0", "\\000") for t in theirs]
            mine = [t for s, t in parsed[f] if s != "QD"]
            myqs = [t for s, t in parsed[f] if s == "QD"]
            if resp is None:
                err = [logfmt_value(l, "err") for l in text.splitlines() if "err=" in l]
                print("%-40s blackbox got no response: %s" % (f, err[:1]))
                fails += 1
            elif theirs != mine or (qs and qs != myqs):
                fails += 1
                print("%-40s DIFFERS" % f)
                for a, b in zip(theirs + [None] * len(mine), mine + [None] * len(theirs)):
                    if a != b:
                        print("    blackbox: %r\n    twkit:    %r" % (a, b))
                if qs != myqs:
                    print("    blackbox questions: %r\n    twkit questions:    %r" % (qs, myqs))
            else:
                print("%-40s same (%d records, %d questions)%s" % (
                    f, len(mine), len(qs), ", but NUL as \\000" if nul else ""))
    finally:
        bb.terminate()
        bb.wait(timeout=5)
        srv.stop = True
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d of %d messages differ" % (fails, len(parsed)))
    return 1 if fails else 0


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          16: "BADSIG"}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--blackbox":
        sys.exit(blackbox_check(sys.argv[2]))
    files = good()
    files.update(broken(files))
    if "--capture" in sys.argv[1:]:
        os.makedirs(OUT, exist_ok=True)
        for n, data in capture().items():
            with open(os.path.join(OUT, n), "wb") as fh:
                fh.write(data)
    write_corpus(files)
    print("%d files in %s" % (len(os.listdir(OUT)), OUT))


if __name__ == "__main__":
    main()
