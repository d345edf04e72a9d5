"""ICMP echo (ping) for the loop over a raw socket, the same on the chip (lwIP), the MicroPython unix port
and CPython (both need the right to open raw sockets: root or CAP_NET_RAW on a laptop).

A raw IPv4 socket delivers whole IP packets (header first) and, on a laptop, every ICMP packet the host
sees, our own requests on loopback included: a reply is ours only when its type, identifier and
sequence number match.
"""
import os
import socket
import struct
from at.compat import const, ticks_ms, ticks_diff

IPPROTO_ICMP = const(1)  # not among the chip's socket constants
_ECHO_REPLY = const(0)
_ECHO_REQUEST = const(8)
PAYLOAD = b"upy-at ping 0123456789abcdefghij"  # 32 bytes, lwIP's default ping size

_seq = 0


def checksum(data):
    """The Internet checksum (RFC 1071) of ``data``."""
    total = 0
    n = len(data)
    for i in range(0, n - 1, 2):
        total += data[i] << 8 | data[i + 1]
    if n & 1:
        total += data[n - 1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(ident, seq, payload=PAYLOAD):
    """An ICMP echo request with its checksum."""
    pkt = bytearray(struct.pack("!BBHHH", _ECHO_REQUEST, 0, 0, ident, seq) + payload)
    struct.pack_into("!H", pkt, 2, checksum(pkt))
    return pkt


def is_reply(data, ident, seq):
    """Whether ``data`` (an ICMP message, with or without its IPv4 header) is the echo reply to
    (``ident``, ``seq``) with a correct checksum."""
    if len(data) >= 20 and data[0] >> 4 == 4:
        data = memoryview(data)[(data[0] & 15) * 4 :]
    if len(data) < 8 or data[0] != _ECHO_REPLY or data[1] != 0:
        return False
    if checksum(data) != 0:
        return False
    return struct.unpack_from("!HH", data, 4) == (ident, seq)


def open_socket():
    """A non-blocking raw ICMP socket; OSError when the system refuses one (EPERM without privileges)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_ICMP)
    sock.setblocking(False)
    return sock


def ping(sockaddr, timeout_ms=1000, sock=None):
    """Generator: send one echo request to ``sockaddr`` (from getaddrinfo) and wait for its reply without
    blocking the loop; returns the round trip in ms, or None after ``timeout_ms``. ``sock`` is for tests;
    by default a raw socket is opened and closed here (OSError when it cannot be)."""
    global _seq
    own = sock is None
    if own:
        sock = open_socket()
    try:
        ident = struct.unpack("!H", os.urandom(2))[0]
        _seq = (_seq + 1) & 0xFFFF
        seq = _seq
        start = ticks_ms()
        try:
            sock.sendto(echo_request(ident, seq), sockaddr)
        except OSError:
            return None  # unreachable: as good as no answer
        while True:
            try:
                data = sock.recvfrom(256)[0]
            except OSError:  # EAGAIN: nothing yet
                data = None
            if data is not None and is_reply(data, ident, seq):
                return ticks_diff(ticks_ms(), start)
            if ticks_diff(ticks_ms(), start) >= timeout_ms:
                return None
            if data is None:
                yield 5
            # else someone else's ICMP, or our own request seen on loopback: read on at once
    finally:
        if own:
            sock.close()
