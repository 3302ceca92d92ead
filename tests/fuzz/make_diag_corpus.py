#!/usr/bin/python3
"""The seed corpus of tests/fuzz/fuzz_diag.c, written to corpus/diag/.

    sudo tests/fuzz/make_diag_corpus.py [TRACEFS_FORMAT_DIR]

Real inputs first, captured in a fresh network namespace (loopback only,
so nothing of the host's own sockets or counters ends up in the corpus):
the NETLINK_SOCK_DIAG replies of IPv4 and IPv6 dumps over a listener,
established connections and TIME_WAIT sockets (with and without
INET_DIAG_INFO attributes), a failed dump (protocol 255), and that namespace's
/proc/net/netstat, snmp and sockstat and sysctls. Then broken ones made
from them: truncated replies, lying lengths, short structs, unknown
families and states, error and done messages the kernel would not send.
The tracepoint seeds use the format files of sock:inet_sock_set_state and
sched:sched_process_exit (copies from Linux 6.18 below; pass a tracefs
events directory to use this kernel's instead).

Each file is one fuzz input: its first byte picks the parser (fuzz_diag.c).
Needs root (unshare); run it again only to refresh the real captures.
"""
import ctypes
import os
import socket
import struct
import subprocess
import sys
import time

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "diag")
CLONE_NEWNET = 0x40000000
SOCK_DIAG_BY_FAMILY = 20
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLM_F_REQUEST, NLM_F_DUMP, NLM_F_DUMP_INTR = 1, 0x300, 0x10
INET_DIAG_INFO, INET_DIAG_CONG = 2, 4
SEQ, PID = 0x5eed, 4242

SOCK_FORMAT = """name: inet_sock_set_state
ID: 2287
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;
\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;

print fmt: "family=%s protocol=%s sport=%hu dport=%hu saddr=%pI4 daddr=%pI4 saddrv6=%pI6c daddrv6=%pI6c oldstate=%s newstate=%s", __print_symbolic(REC->family, { 2, "AF_INET" }, { 10, "AF_INET6" })
"""

EXIT_FORMAT = """name: sched_process_exit
ID: 369
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;
\tfield:bool group_dead;\toffset:32;\tsize:1;\tsigned:0;

print fmt: "comm=%s pid=%d prio=%d group_dead=%s", REC->comm, REC->pid, REC->prio, REC->group_dead ? "true" : "false"
"""


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


# ---- sock_diag -------------------------------------------------------------

def nlmsg(typ, payload, flags=0, seq=SEQ, pid=PID, length=None):
    n = 16 + len(payload)
    hdr = struct.pack("=IHHII", n if length is None else length, typ, flags, seq, pid)
    return hdr + payload + b"\0" * ((4 - n % 4) % 4)


def diag_msg(family, state, sport, dport, src, dst, expires=0, uid=0, inode=0, timer=0):
    """struct inet_diag_msg, 72 bytes; ports in network order."""
    sid = struct.pack("!HH", sport, dport) + src.ljust(16, b"\0") + dst.ljust(16, b"\0")
    sid += struct.pack("=III", 0, 0xffffffff, 0xffffffff)  # if, cookie
    return (struct.pack("=BBBB", family, state, timer, 0) + sid +
            struct.pack("=IIIII", expires, 0, 0, uid, inode))


def dump(family, ext=0, protocol=socket.IPPROTO_TCP):
    """The datagrams of one dump, as the kernel sent them."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG
    nl.bind((0, 0))
    req = struct.pack("=BBBBI", family, protocol, ext, 0, 0xffffffff) + b"\0" * 48
    nl.send(nlmsg(SOCK_DIAG_BY_FAMILY, req, NLM_F_REQUEST | NLM_F_DUMP, SEQ, 0))
    out = []
    while True:
        d = nl.recv(65536)
        out.append(d)
        types = []
        at = 0
        while at + 16 <= len(d):
            n, t = struct.unpack_from("=IH", d, at)
            types.append(t)
            at += (n + 3) & ~3
        if NLMSG_DONE in types or NLMSG_ERROR in types:
            break
    nl.close()
    return out


def messages(d):
    at, out = 0, []
    while at + 16 <= len(d):
        n = struct.unpack_from("=I", d, at)[0]
        out.append(d[at:at + n])
        at += (n + 3) & ~3
    return out


def sockets():
    """A listener, two connections and a TIME_WAIT, per family."""
    keep = []
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((host, 8080))
        ls.listen(16)
        keep.append(ls)
        for i in range(3):
            c = socket.socket(fam, socket.SOCK_STREAM)
            c.connect((host, 8080))
            s, _ = ls.accept()
            keep += [c, s]
        # the last pair: the client closes first and holds TIME_WAIT
        keep[-2].close()
        time.sleep(0.05)
        keep[-1].close()
    time.sleep(0.1)
    return keep


def netlink_seeds():
    keep = sockets()
    v4 = dump(socket.AF_INET)
    v6 = dump(socket.AF_INET6)
    v4info = dump(socket.AF_INET, (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_CONG - 1)))
    err = dump(socket.AF_INET, protocol=255)
    for i, d in enumerate(v4):
        write("nl_v4_dump_%d" % i, b"\x00" + d)
    for i, d in enumerate(v6):
        write("nl_v6_dump_%d" % i, b"\x00" + d)
    write("nl_v4_dump_seq", b"\x10" + v4[0])
    write("nl_v4_info_attrs", b"\x00" + v4info[0])
    # a dump the kernel cannot do ends with NLMSG_DONE carrying -ENOENT
    write("nl_done_enoent_real", b"\x00" + err[0])
    del keep

    all4 = b"".join(v4)
    msgs = [m for m in messages(all4) if struct.unpack_from("=H", m, 4)[0] == SOCK_DIAG_BY_FAMILY]
    m0 = msgs[0]
    # cut: in the middle of the second message; and 3 bytes of a header
    write("nl_truncated_mid_message", b"\x00" + all4[:len(m0) + 40])
    write("nl_trailing_partial_header", b"\x00" + m0 + b"\x14\x00\x00")
    # nlmsg_len lies: past the buffer, below a header, unaligned
    write("nl_len_past_end", b"\x00" + struct.pack("=I", 0xffff) + m0[4:])
    write("nl_len_below_header", b"\x00" + struct.pack("=I", 10) + m0[4:])
    write("nl_len_unaligned", b"\x00" + struct.pack("=I", len(m0) - 1) + m0[4:] + msgs[1])
    # short struct inet_diag_msg: 20 bytes of it, then 1 byte
    write("nl_short_diag_msg", b"\x00" + nlmsg(SOCK_DIAG_BY_FAMILY, m0[16:36]) +
          nlmsg(SOCK_DIAG_BY_FAMILY, m0[16:17]) + nlmsg(NLMSG_DONE, struct.pack("=i", 0)))
    # an attribute running past the end of its message
    body = diag_msg(2, 1, 8080, 40000, b"\x7f\0\0\1", b"\x7f\0\0\1")
    write("nl_attr_past_end", b"\x00" + nlmsg(SOCK_DIAG_BY_FAMILY, body + struct.pack("=HH", 200, 1) + b"\1\2\3\4"))
    # families and states the parser must not take as they come
    write("nl_unknown_family", b"\x00" + nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(1, 1, 1, 2, b"\1" * 16, b"\2" * 16)) +
          nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(2, 6, 3, 4, b"\x7f\0\0\1", b"\x7f\0\0\2", expires=59000)))
    write("nl_family_v6_in_v4_dump", b"\x00" + nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(10, 1, 5, 6, b"\0" * 15 + b"\1", b"\xfe\x80" + b"\0" * 13 + b"\1")))
    write("nl_state_out_of_range", b"\x00" + nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(2, 0, 1, 2, b"\1\1\1\1", b"\2\2\2\2")) +
          nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(2, 13, 1, 2, b"\1\1\1\1", b"\2\2\2\2")) +
          nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(2, 255, 1, 2, b"\1\1\1\1", b"\2\2\2\2")))
    # control messages: noop and another type between sockets, errors, done
    write("nl_noop_and_other_type", b"\x00" + nlmsg(NLMSG_NOOP, b"") + m0 + nlmsg(21, b"\1\2\3\4") + msgs[1] +
          nlmsg(NLMSG_DONE, struct.pack("=i", 0)))
    write("nl_error_int_min", b"\x00" + nlmsg(NLMSG_ERROR, struct.pack("=i", -2**31) + m0[:16]))
    write("nl_error_positive", b"\x00" + nlmsg(NLMSG_ERROR, struct.pack("=i", 2**31 - 1) + m0[:16]))
    write("nl_error_short", b"\x00" + nlmsg(NLMSG_ERROR, b"\xea\xff"))
    write("nl_ack", b"\x00" + nlmsg(NLMSG_ERROR, struct.pack("=i", 0) + m0[:16]))
    write("nl_done_with_error", b"\x00" + m0 + nlmsg(NLMSG_DONE, struct.pack("=i", -90)))
    write("nl_dump_interrupted", b"\x00" + m0 + nlmsg(SOCK_DIAG_BY_FAMILY, m0[16:], NLM_F_DUMP_INTR))
    write("nl_seq_mismatch", b"\x10" + m0 + nlmsg(SOCK_DIAG_BY_FAMILY, m0[16:], seq=SEQ + 1))
    write("nl_callback_stops", b"\x40" + all4)


# ---- /proc text ------------------------------------------------------------

def read(path):
    with open(path, "rb") as f:
        return f.read()


def proc_seeds():
    netstat = read("/proc/thread-self/net/netstat")
    snmp = read("/proc/thread-self/net/snmp")
    sockstat = read("/proc/thread-self/net/sockstat")
    rng = read("/proc/sys/net/ipv4/ip_local_port_range")
    write("counter_netstat_tw", b"\x01TcpExt TW\n" + netstat)
    write("counter_netstat_ipext", b"\x01IpExt InOctets\n" + netstat)
    write("counter_snmp_maxconn", b"\x01Tcp MaxConn\n" + snmp)
    write("counter_value_line_short", b"\x01TcpExt TW\nTcpExt: SyncookiesSent TW\nx\n")
    write("counter_header_last", b"\x01TcpExt TW\nIpExt: A\nIpExt: 1\nTcpExt: TW")
    write("counter_not_a_number", b"\x01TcpExt TW\nTcpExt: TW TWKilled\nTcpExt: 12x 3\n")
    write("counter_overflow", b"\x01TcpExt TW\nTcpExt: TW\nTcpExt: 99999999999999999999999\n")
    write("counter_second_pair", b"\x01TcpExt PAWSActive\nTcpExt: TW\nTcpExt: 1\nTcpExt: PAWSActive\nTcpExt: 7\n")
    write("stat_real", b"\x02" + rng + b"\0" + b"\n\0" + sockstat)
    write("stat_reserved", b"\x02" + rng + b"\0" + b"8080,32768-32800,40000,60990-61010\n\0" + sockstat)
    write("stat_reserved_overlap", b"\x02" + b"1 65535\n\0" + b"1-65535,1-65535,80\n\0" + sockstat)
    write("stat_range_upside_down", b"\x02" + b"60999 32768\n\0\0")
    write("stat_range_huge", b"\x02" + b"-70000 9999999999\n\0" + b"0-99999999999\n\0")
    write("stat_sockstat_negative", b"\x02" + rng + b"\0\0" + b"TCP: inuse -1 orphan 0 tw -5 alloc 9\n")
    write("stat_sockstat_mptcp", b"\x02\0\0" + b"MPTCP: inuse 3 orphan 0 tw 1\nTCP: inuse 1 orphan 0 tw 2\n")


# ---- tracepoint ------------------------------------------------------------

def record(family, old, new, dport, daddr4=b"\0" * 4, daddr6=b"\0" * 16, size=72):
    r = struct.pack("=HBBi", 2287, 0, 0, 1234) + b"\0" * 8
    r += struct.pack("=iiHHHH", old, new, 40000, dport, family, 6)
    r += b"\x7f\0\0\1" + daddr4 + b"\0" * 15 + b"\1" + daddr6
    return r[:size]


def framed(*records):
    return b"".join(struct.pack("<H", len(r)) + r for r in records)


def tracepoint_seeds(sock_fmt, exit_fmt):
    s, e = sock_fmt.encode(), exit_fmt.encode()
    closes = framed(record(2, 1, 4, 8080, b"\x7f\0\0\2"),
                    record(10, 1, 4, 443, daddr6=b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\7"),
                    record(2, 1, 7, 80), record(2, 1, 4, 80, size=40))
    write("trace_sock_records", b"\x03" + s + b"\0" + closes)
    write("trace_exit_format", b"\x03" + e + b"\0")
    fields = "".join(l + "\n" for l in sock_fmt.splitlines() if "field:" in l)
    write("trace_fields_only", b"\x03" + fields.encode() + b"\0" + closes)
    write("trace_negative_offset", b"\x03" + fields.replace("offset:56;", "offset:-16;").encode() + b"\0" + closes)
    write("trace_offset_past_record", b"\x03" + fields.replace("offset:16;", "offset:100000;").encode() + b"\0" + closes)
    write("trace_missing_field", b"\x03" + fields.replace("dport", "dprt").encode() + b"\0" + closes)
    write("trace_no_semicolon", b"\x03" + b"\tfield:int oldstate\toffset:16\n\tfield:int newstate;\toffset:20;\tsize:4;\n\0")
    write("trace_exit_negative_comm", b"\x03" + e.replace(b"offset:8;", b"offset:-8;") + b"\0")


def main():
    os.makedirs(OUT, exist_ok=True)
    sock_fmt, exit_fmt = SOCK_FORMAT, EXIT_FORMAT
    if len(sys.argv) > 1:
        sock_fmt = read(os.path.join(sys.argv[1], "sock/inet_sock_set_state/format")).decode()
        exit_fmt = read(os.path.join(sys.argv[1], "sched/sched_process_exit/format")).decode()
    tracepoint_seeds(sock_fmt, exit_fmt)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        sys.exit("unshare(CLONE_NEWNET): %s (run as root)" % os.strerror(ctypes.get_errno()))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    netlink_seeds()
    proc_seeds()


if __name__ == "__main__":
    main()
