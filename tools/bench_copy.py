"""The throughput baseline (MicroPython): the least a pty<->socket bridge can do on the emulator's pty.

tools/bench starts it as tools/emulate starts the firmware (the pty master inherited as the fd in
AT_UART_FD, non-blocking) with the port of a loopback TCP peer: ``micropython bench_copy.py PORT [BUF]``.
It connects, writes ``ready``, then copies bytes both ways as fast as the interpreter lets it: one
select.poll over both ends, each direction reading into its own preallocated buffer of BUF bytes
(default 4096), writing what it read to the other end; while a write is partial, it stops reading
that direction and waits for POLLOUT. It ends when the peer closes or the pty hangs up. Compare the
firmware's passthrough and +IPD rates with this one's.

``micropython bench_copy.py PORT BUF ipd``: the least an +IPD framer can do instead (socket to pty only):
each socket read of at most IPD_READS frames' payload is laid out as ``\r\n+IPD,<len>:`` frames of at most
IPD_MAX bytes in one buffer and written in one write (the rest after POLLOUT when the pty takes less). Its
rate against the copy loop's is what framing alone (header bytes, and the pty reader walking the frames)
leaves of the copy loop's rate: the reference for the firmware's +IPD ratio.
"""
import os
import select
import socket
import sys

IN = select.POLLIN
OUT = select.POLLOUT
GONE = select.POLLHUP | select.POLLERR


def arm(poller, uart, sock, u1, d1):
    """Read a direction only while its buffer is empty; wait for POLLOUT while it is not."""
    poller.modify(uart, (0 if u1 else IN) | (OUT if d1 else 0))
    poller.modify(sock, (0 if d1 else IN) | (OUT if u1 else 0))


def copy(uart, sock, size):
    up = memoryview(bytearray(size))  # pty -> socket
    down = memoryview(bytearray(size))  # socket -> pty
    u0 = u1 = 0  # up[u0:u1] read from the pty, not yet written to the socket
    d0 = d1 = 0  # down[d0:d1] read from the socket, not yet written to the pty
    poller = select.poll()
    poller.register(uart, IN)
    poller.register(sock, IN)
    uart.write(b"\r\nready\r\n")
    while True:
        for obj, ev in poller.ipoll(-1):
            if obj is uart:
                if ev & OUT and d1:  # the pty takes more of what the socket gave
                    n = uart.write(down[d0:d1])
                    if n:
                        d0 += n
                        if d0 == d1:
                            d0 = d1 = 0
                            arm(poller, uart, sock, u1, d1)
                if ev & IN and not u1:
                    try:
                        n = uart.readinto(up)
                    except OSError:  # EAGAIN
                        n = None
                    if n:
                        m = sock.write(up[:n]) or 0
                        if m < n:
                            u0, u1 = m, n
                            arm(poller, uart, sock, u1, d1)
                if ev & GONE and not ev & IN:
                    return  # the pty hung up
            else:
                if ev & OUT and u1:  # the socket takes more of what the pty gave
                    m = sock.write(up[u0:u1])
                    if m:
                        u0 += m
                        if u0 == u1:
                            u0 = u1 = 0
                            arm(poller, uart, sock, u1, d1)
                if ev & IN and not d1:
                    n = sock.readinto(down)
                    if n == 0:
                        return  # the peer closed
                    if n:
                        m = uart.write(down[:n]) or 0
                        if m < n:
                            d0, d1 = m, n
                            arm(poller, uart, sock, u1, d1)
                if ev & GONE and not ev & IN:
                    return


IPD_MAX = 1460
IPD_READS = 3


def frame_ipd(uart, sock):
    payload = memoryview(bytearray(IPD_READS * IPD_MAX))
    out = memoryview(bytearray(IPD_READS * (IPD_MAX + 12)))
    poller = select.poll()
    poller.register(sock, IN)
    room = select.poll()
    room.register(uart, OUT)
    uart.write(b"\r\nready\r\n")
    while True:
        for obj, ev in poller.ipoll(-1):
            n = sock.readinto(payload)
            if n == 0:
                return  # the peer closed
            if not n:
                continue
            k = o = 0
            while k < n:
                m = min(IPD_MAX, n - k)
                head = b"\r\n+IPD,%d:" % m
                out[o : o + len(head)] = head
                o += len(head)
                out[o : o + m] = payload[k : k + m]
                o += m
                k += m
            d = 0
            while d < o:
                d += uart.write(out[d:o]) or 0
                if d < o:
                    room.poll(-1)


port = open(int(os.getenv("AT_UART_FD")), "r+b")
link = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
link.connect(socket.getaddrinfo("127.0.0.1", int(sys.argv[1]))[0][-1])
link.setblocking(False)
if sys.argv[3:] == ["ipd"]:
    frame_ipd(port, link)
else:
    copy(port, link, int(sys.argv[2]) if len(sys.argv) > 2 else 4096)
link.close()
