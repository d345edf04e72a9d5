"""TCP, UDP and TLS connections for the loop: non-blocking, with timeouts, the same on the chip, the
MicroPython unix port and CPython.

The differences it hides: getaddrinfo's sockaddr is a tuple on the chip and raw bytes on the unix port;
MicroPython sockets read with readinto() (None when nothing is there), CPython's with recv_into()
(BlockingIOError); MicroPython has no getsockname(), so a client binds its own local port.
"""
import binascii
import errno
import os
import select
import socket
from at.compat import ticks_ms, ticks_diff, MICROPYTHON, load_cert_chain, generator_result

try:
    import netmap  # type: ignore[import-not-found]  # the host board's --resolve; the chip has none
except ImportError:
    netmap = None

_next_port = 49152 + (os.urandom(1)[0] << 6)  # where this boot's client ports start
WRITE_WAIT_MS = 10000  # how long write_all waits for a full socket
_SO_KEEPALIVE = getattr(socket, "SO_KEEPALIVE", 0x0008)  # lwIP's value: the ESP32 port does not name it


def addr_of(sockaddr):
    """(ip, port) of a sockaddr, whichever form the port gives."""
    if isinstance(sockaddr, tuple):
        return sockaddr[0], sockaddr[1]
    b = bytes(sockaddr)
    return "%d.%d.%d.%d" % (b[4], b[5], b[6], b[7]), b[2] << 8 | b[3]


def resolve(host, port):
    """(ip, port, sockaddr) for a host name or dotted address; OSError when it cannot be resolved. Every
    lookup of a peer goes through here: the host board may send it elsewhere (the emulator's --resolve)."""
    if netmap is not None:
        host, port = netmap.remap(host, port)
    return _lookup(host, port)


def _lookup(host, port):
    info = socket.getaddrinfo(host, port, socket.AF_INET)
    if not info:
        raise OSError(errno.ENOENT)
    sockaddr = info[0][-1]
    ip, _ = addr_of(sockaddr)
    return ip, port, sockaddr


def _local_port():
    global _next_port
    _next_port = 49152 if _next_port >= 65535 else _next_port + 1
    return _next_port


def local_sockaddr(port):
    """The sockaddr of ``port`` on all interfaces, where the module listens or sends from. Resolved as a
    peer is, so the host board can move a fixed port (--resolve 0.0.0.0:8266=...) off one a second
    emulator on the same machine holds; the firmware still calls it ``port``."""
    return resolve("0.0.0.0", port)[2]


def _bind_local(sock, port):
    """Bind to ``port`` (0: pick one) on all interfaces; returns the port."""
    for _ in range(20):
        p = port or _local_port()
        try:
            sock.bind(local_sockaddr(p))
            return p
        except OSError as e:
            if port or e.args[0] != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE)


def _read_failed(e):
    """What a read that raised gives: None when it would have blocked, 0 when the link is gone."""
    return None if _would_block(e) or type(e).__name__ in ("SSLWantReadError", "SSLWantWriteError") else 0


def _would_block(e):
    return bool(e.args) and e.args[0] == errno.EAGAIN  # EWOULDBLOCK is EAGAIN (and absent on the ESP32)


class Connection:
    def __init__(self, sock, local_port, peer=None):
        self.sock = sock  # plain or TLS: what is polled, read and written
        self.local_port = local_port
        self.peer = peer  # UDP: the sockaddr sendto() uses

    if MICROPYTHON:

        def recv_into(self, buf):
            """Bytes read into ``buf``: n > 0, 0 when the peer has closed or the link is gone, None when
            nothing is there (MicroPython's non-blocking read gives None, raises only for a dead link)."""
            try:
                return self.sock.readinto(buf)
            except OSError:
                return 0

        def write_all(self, buf, off, n):
            """Write buf[off:off + n], waiting while the socket is full (up to WRITE_WAIT_MS); False when
            that fails. The usual case, where the socket takes it all at once, allocates nothing
            (``write(buf, off, n)``, py/stream.c). OSError when the link is gone."""
            sent = self.sock.write(buf, off, n) or 0
            return sent == n or self.send_blocking(memoryview(buf)[off + sent : off + n], WRITE_WAIT_MS)

    else:

        def recv_into(self, buf):
            try:
                return self.sock.recv_into(buf)
            except OSError as e:
                return _read_failed(e)

        def write_all(self, buf, off, n):
            return self.send_blocking(memoryview(buf)[off : off + n], WRITE_WAIT_MS)

    def pending(self):
        """Decrypted bytes already buffered (TLS), which poll() cannot see."""
        return self.sock.pending() if hasattr(self.sock, "pending") else 0

    def recvfrom(self, n):
        """UDP: (data, (ip, port)) or (None, None)."""
        try:
            data, sockaddr = self.sock.recvfrom(n)
        except OSError:
            return None, None
        return data, addr_of(sockaddr)

    def _send_some(self, mv, to):
        try:
            if to is not None:
                return self.sock.sendto(mv, to)
            if self.peer is not None:
                return self.sock.sendto(mv, self.peer)
            n = self.sock.write(mv) if MICROPYTHON else self.sock.send(mv)
            return n or 0
        except OSError as e:
            if _would_block(e) or type(e).__name__ == "SSLWantWriteError":
                return 0
            raise

    def send_all(self, data, to, timeout_ms):
        """Generator: send everything, yielding while the socket is full; True when all was sent."""
        mv = memoryview(data)
        start = ticks_ms()
        try:
            while mv:
                n = self._send_some(mv, to)
                mv = mv[n:]
                if mv:
                    if ticks_diff(ticks_ms(), start) > timeout_ms:
                        return False
                    yield 5
        except OSError:
            return False
        return True

    def send_blocking(self, data, timeout_ms):
        """send_all, waiting on poll while the socket is full instead of yielding (MQTT, passthrough)."""
        try:
            sent = self._send_some(data, None)
        except OSError:
            return False
        return sent == len(data) or self._send_rest(memoryview(data)[sent:], timeout_ms)

    def _send_rest(self, data, timeout_ms):
        p = select.poll()
        p.register(self.sock, select.POLLOUT)
        sending = self.send_all(data, None, timeout_ms)
        try:
            while True:
                next(sending)
                p.poll(100)  # until the socket takes more
        except StopIteration as done:
            return generator_result(done)

    def keepalive(self, seconds):
        """TCP keep-alive on (MicroPython offers no probe interval: the stack's default applies)."""
        self.sock.setsockopt(socket.SOL_SOCKET, _SO_KEEPALIVE, 1)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def open_udp(addr, local_port):
    """A UDP link to addr = (ip, port, sockaddr), bound to ``local_port`` (0: any)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port = _bind_local(sock, local_port)
    sock.setblocking(False)
    return Connection(sock, port, addr[2])


def open_tcp(addr, timeout_ms, tls=None, server_hostname=None):
    """Generator: connect to addr = (ip, port, sockaddr) without blocking the loop; then the TLS
    handshake when ``tls`` (an ssl.SSLContext) is given. Returns a Connection, or None."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        port = _bind_local(sock, 0)
        sock.setblocking(False)
        try:
            sock.connect(addr[2])
        except OSError as e:
            if e.args[0] not in (errno.EINPROGRESS, errno.EALREADY) and not _would_block(e):
                raise
        p = select.poll()
        p.register(sock, select.POLLOUT)
        start = ticks_ms()
        while True:
            ready = p.poll(0)
            if ready:
                if ready[0][1] & (select.POLLERR | select.POLLHUP):
                    raise OSError(errno.ECONNREFUSED)
                break
            if ticks_diff(ticks_ms(), start) > timeout_ms:
                raise OSError(errno.ETIMEDOUT)
            yield 5
        if tls is not None:
            sock = wrap_tls(sock, tls, server_hostname, timeout_ms)
        return Connection(sock, port)
    except (OSError, ValueError) as e:  # ValueError: TLS verification failed
        sock.close()
        print("upy-at: connect to %s:%d failed: %r" % (addr[0], addr[1], e))
        return None


def wrap_tls(sock, tls, server_hostname, timeout_ms):
    """The TLS handshake on a connected socket; returns the TLS socket, non-blocking, which is what is polled
    from then on (CPython detaches the plain one). The handshake blocks, with a timeout: MicroPython's TLS
    has no non-blocking handshake. OSError, or ValueError when verification fails."""
    sock.settimeout(timeout_ms / 1000)
    sock = tls.wrap_socket(sock, server_hostname=server_hostname)
    sock.setblocking(False)
    return sock


class Server:
    """A listening TCP socket on all interfaces; its clients speak TLS when given a server context."""

    def __init__(self, port, kind, ca, tls=None):
        self.port = port
        self.kind = kind
        self.ca = ca
        self.tls = tls
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(local_sockaddr(port))
        self.sock.listen(5)
        self.sock.setblocking(False)

    def accept(self):
        """(Connection, (ip, port)), or (None, None) when nobody is waiting."""
        try:
            sock, sockaddr = self.sock.accept()
        except OSError:
            return None, None
        if self.tls is not None:
            try:  # the handshake blocks, with a timeout, as a client's does
                sock.settimeout(5)
                sock = self.tls.wrap_socket(sock, server_side=True)
            except (OSError, ValueError):
                sock.close()
                return None, None
        sock.setblocking(False)
        return Connection(sock, self.port), addr_of(sockaddr)

    def close(self):
        self.sock.close()



def tls_context(cadata=None, cert=None, server=False):
    """An ssl context. ``cadata`` (a CA certificate, DER or PEM bytes): the peer's certificate must chain
    to it (a client also checks the server_hostname open_tcp passes); without it nothing is verified.
    ``cert``: (certificate, key) this side presents. On the chip, verification needs the RTC set."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    if cert is not None:
        load_cert_chain(ctx, der(cert[0]), der(cert[1]))
    if cadata is None:
        if hasattr(ctx, "check_hostname"):
            ctx.check_hostname = False  # CPython checks names by default
        ctx.verify_mode = ssl.CERT_NONE  # type: ignore[attr-defined]  # the frozen ssl.SSLContext has it
        return ctx
    ctx.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]
    ctx.load_verify_locations(cadata=der(cadata))
    return ctx


def der(data):
    """A certificate or key as DER: PEM (its first block) is decoded, DER is returned as it is. Every TLS
    stack here takes DER (the unix port's mbedTLS takes no PEM), so both forms work everywhere."""
    data = bytes(data)
    if not data.startswith(b"-----BEGIN"):
        return data
    body = []
    for line in data.split(b"\n")[1:]:
        line = line.strip()
        if line.startswith(b"-----END"):
            break
        if line and b":" not in line:  # RFC 1421 headers (Proc-Type: …) carry no base64
            body.append(line)
    return binascii.a2b_base64(b"".join(body))
