"""socket for the host board: the laptop's own sockets, which stop carrying data when the virtual station
loses its AP, as the chip's do (lwIP aborts the TCP connections of an address that goes away).

This file shadows the interpreter's socket module (boards/host is first on the import path) and hands on
every name of it. ``socket(...)`` gives the interpreter's own socket, its TCP connections remembered, so
that ``abort_links()`` (network.py calls it when the joined AP goes) can end them all: the firmware's next
read sees the connection reset or ended, its next send fails. A socket made while the module has no network
(no station address, no SoftAP) is closed at once: whatever it tries fails (EBADF), as the chip's stack
finds no route (so a server started then answers ERROR too).

Under MicroPython ``socket`` is a function returning the built-in object, because its TLS cannot wrap a
subclass; it remembers every TCP socket and ends only those that are connected or connecting (a listener
answers a zero-byte send with EPIPE), so the connections a server accepted survive (they are the one
thing this cannot reach). Under CPython ``socket`` is a subclass (ssl.SSLSocket builds on it), which
remembers what it connects and accepts.
"""
import os
import sys


def _holds(folder, module):
    for ext in (".py", ".mpy"):
        try:
            os.stat((folder or ".") + "/" + module + ext)
            return True
        except OSError:
            pass
    return False


def _shadows(folder):
    """Whether ``folder`` holds a socket module of ours (boards/host, or its .mpy build for emulate --mpy):
    one beside the host board's hoststate, which tells it from the interpreter's own library folder."""
    return _holds(folder, "socket") and _holds(folder, "hoststate")


_path = sys.path
_mine = sys.modules.pop("socket", None)
sys.path = [p for p in _path if not _shadows(p)]
try:
    import socket as _real  # the interpreter's own
finally:
    sys.path = _path
    if _mine is not None:
        sys.modules["socket"] = _mine

for _name in dir(_real):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_real, _name)

_MICROPYTHON = sys.implementation.name == "micropython"
_EPIPE = 32
_UNSPEC = b"\x00\x00" + bytes(14)  # a sockaddr of family AF_UNSPEC: connect() to it ends a TCP connection
_links = []  # the TCP sockets the firmware holds


def _remember(sock):
    _links[:] = [s for s in _links if s.fileno() >= 0]
    _links.append(sock)


def _online():
    import network

    return network.WLAN(0).isconnected() or network.WLAN(1).active()


def abort_links():
    """End every TCP connection the firmware holds, as the chip's stack does when its address goes."""
    for sock in _links:
        if sock.fileno() >= 0:
            try:
                _abort(sock)
            except OSError:
                pass  # already ended
    _links.clear()


if _MICROPYTHON:

    def socket(af=_real.AF_INET, type=_real.SOCK_STREAM, proto=0):
        sock = _real.socket(af, type, proto)
        if not _online():
            sock.close()  # no network: nothing it tries can work
        elif type == _real.SOCK_STREAM:
            _remember(sock)
        return sock

    def _abort(sock):
        try:
            sock.send(b"")  # EPIPE: a listener, or not connected: nothing to end
        except OSError as e:
            if e.args[0] == _EPIPE:
                return
        sock.connect(_UNSPEC)  # sends RST; the next send: ECONNRESET; reads: ENOTCONN

else:

    class socket(_real.socket):
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            super().__init__(family, type, proto, fileno)
            if fileno is not None:  # an accepted connection wrapped in TLS (ssl.SSLSocket), or the like
                if self.type == _real.SOCK_STREAM:
                    _remember(self)
            elif not _online():
                self.close()  # no network: nothing it tries can work

        def connect(self, address):
            try:
                super().connect(address)
            finally:
                if self.type == _real.SOCK_STREAM:
                    _remember(self)

        def accept(self):
            conn = super().accept()
            _remember(conn[0])
            return conn

    def _abort(sock):
        sock.shutdown(_real.SHUT_RDWR)  # the next read: end of stream; a send: EPIPE
