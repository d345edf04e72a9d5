"""A small streaming HTTP/1.1 client for the loop: generators that yield ms to sleep, like transport.open_tcp.

    conn = yield from http.connect("https://host:port/base", 10000, transport.tls_context(ca))
    resp = yield from conn.get("/base/version")           # status line and headers are read
    n = yield from resp.readinto(buf)                     # the body, piece by piece: 0 at its end
    text = yield from resp.read(64)                       # or a small body whole
    conn.close()

One request per connection (``Connection: close``). Bodies come with Content-Length, chunked transfer
encoding or until the server closes; they are never held whole (an OTA image is larger than RAM): the caller
reads them into its own buffer. Every wait has a timeout: connecting and the TLS handshake (transport), sending,
and each read (``timeout_ms`` without a byte -> OSError(ETIMEDOUT)). A malformed or truncated response raises
HttpError; a connection that cannot be made raises OSError. TLS is the transport's: pass an ssl context, which
verifies the server when it was made with a CA. No AT here.
"""
import errno
from at.compat import ticks_ms, ticks_diff
from net import transport

LINE_MAX = 512  # status and header lines, chunk-size lines
HEADERS_MAX = 32
_POLL_MS = 2  # how long a read with nothing to read sleeps before it looks again


class HttpError(Exception):
    """The server's response is malformed, or ends early."""


class DnsError(OSError):
    """connect: the host name cannot be resolved."""


class TlsError(OSError):
    """connect: the TLS handshake failed (the server's certificate did not verify, or the peer broke off)."""


def parse_url(url):
    """(tls, host, port, path) of an http:// or https:// URL; ValueError for anything else."""
    if url.startswith("http://"):
        tls, rest, port = False, url[7:], 80
    elif url.startswith("https://"):
        tls, rest, port = True, url[8:], 443
    else:
        raise ValueError("not an http(s) URL")
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    host = hostport
    if ":" in hostport:
        host, p = hostport.rsplit(":", 1)
        port = int(p)
        if not 0 < port < 65536:
            raise ValueError("bad port")
    if not host:
        raise ValueError("no host")
    return tls, host, port, path


def connect(url, timeout_ms, tls_ctx=None):
    """Generator: resolve the URL's host and open a connection to it (TLS with ``tls_ctx`` for https://,
    which needs one). Returns an HttpConnection; raises OSError (DnsError, refused, timeout, TlsError) or
    ValueError."""
    tls, host, port, path = parse_url(url)
    if tls and tls_ctx is None:
        raise ValueError("https needs a TLS context")
    try:
        addr = transport.resolve(host, port)
    except OSError as e:
        raise DnsError(e.args[0] if e.args else errno.ENOENT)
    conn = yield from transport.open_tcp(addr, timeout_ms, None, host)
    if conn is None:
        raise OSError(errno.ECONNREFUSED)
    if tls:
        try:
            conn.sock = transport.wrap_tls(conn.sock, tls_ctx, host, timeout_ms)
        except (OSError, ValueError) as e:
            conn.close()
            print("upy-at: TLS with %s failed: %r" % (host, e))
            raise TlsError(errno.ECONNABORTED)
    return HttpConnection(conn, host if port == (443 if tls else 80) else "%s:%d" % (host, port), timeout_ms)


def get(url, timeout_ms, tls_ctx=None, headers=()):
    """Generator: connect and GET the URL; returns the Response (close it when done)."""
    path = parse_url(url)[3]
    conn = yield from connect(url, timeout_ms, tls_ctx)
    try:
        resp = yield from conn.request("GET", path, headers)
    except Exception:
        conn.close()
        raise
    return resp


class HttpConnection:
    def __init__(self, conn, host, timeout_ms):
        self.conn = conn  # net.transport.Connection
        self.host = host  # what the Host header says
        self.timeout_ms = timeout_ms

    def request(self, method, path, headers=(), body=None, agent="upy-at"):
        """Generator: send a request (with ``body``, bytes, and its Content-Length when given) and read the
        response's head; returns the Response. ``agent``: the User-Agent."""
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n" % (
            method, path, self.host, agent)
        for name, value in headers:
            head += "%s: %s\r\n" % (name, value)
        if body is not None:
            head += "Content-Length: %d\r\n" % len(body)
        ok = yield from self.conn.send_all((head + "\r\n").encode(), None, self.timeout_ms)
        if ok and body:
            ok = yield from self.conn.send_all(body, None, self.timeout_ms)
        if not ok:
            raise OSError(errno.ETIMEDOUT)
        resp = Response(self.conn, self.timeout_ms)
        yield from resp._read_head(method == "HEAD")
        return resp

    def get(self, path, headers=()):
        return self.request("GET", path, headers)

    def close(self):
        self.conn.close()


class Response:
    """A response whose head has been read: ``status`` (int), ``reason`` (str), ``headers`` (dict, names in
    lower case, the last of repeated headers wins), ``length`` (Content-Length, or None when chunked or
    close-delimited), ``chunked``. The body is read with ``readinto``, ``read`` or ``stream``."""

    def __init__(self, conn, timeout_ms):
        self.conn = conn
        self.timeout_ms = timeout_ms
        self.status = 0
        self.reason = ""
        self.headers = {}
        self.length = None
        self.chunked = False
        self._buf = bytearray(LINE_MAX)  # what was read past the head: lines, then the start of the body
        self._start = 0
        self._end = 0
        self._left = None  # body bytes left: in this chunk when chunked, in the body with Content-Length
        self._first_chunk = True
        self._done = False

    # ---- raw input ----------------------------------------------------------------------------
    def _recv(self, mv):
        """Generator: bytes read from the connection into ``mv``, 0 when it is closed; times out."""
        start = ticks_ms()
        while True:
            n = self.conn.recv_into(mv)
            if n is not None:
                return n
            if ticks_diff(ticks_ms(), start) >= self.timeout_ms:
                raise OSError(errno.ETIMEDOUT)
            yield _POLL_MS

    def _readline(self):
        """Generator: the next line without its CR LF (bytes); HttpError when too long or cut off."""
        buf = self._buf
        while True:
            i = buf.find(b"\n", self._start, self._end)
            if i >= 0:
                line = bytes(buf[self._start : i])
                self._start = i + 1
                return line[:-1] if line.endswith(b"\r") else line
            if self._start:
                n = self._end - self._start
                buf[:n] = buf[self._start : self._end]
                self._start, self._end = 0, n
            if self._end == len(buf):
                raise HttpError("line too long")
            n = yield from self._recv(memoryview(buf)[self._end :])
            if not n:
                raise HttpError("connection closed")
            self._end += n

    def _read_raw(self, mv):
        """Generator: body bytes into ``mv``, from what is buffered first; 0 when the connection is closed."""
        held = self._end - self._start
        if held:
            n = min(held, len(mv))
            mv[:n] = self._buf[self._start : self._start + n]
            self._start += n
            return n
        n = yield from self._recv(mv)
        return n

    # ---- the head -----------------------------------------------------------------------------
    def _read_head(self, no_body):
        line = yield from self._readline()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or len(parts[1]) != 3:
            raise HttpError("bad status line")
        try:
            self.status = int(parts[1])
        except ValueError:
            raise HttpError("bad status line")
        self.reason = parts[2].decode() if len(parts) > 2 else ""
        if 100 <= self.status < 200:  # 100 Continue and friends: a final response follows
            while (yield from self._readline()):
                pass
            yield from self._read_head(no_body)
            return
        count = 0
        while True:
            line = yield from self._readline()
            if not line:
                break
            count += 1
            if count > HEADERS_MAX:
                raise HttpError("too many headers")
            name, colon, value = line.partition(b":")
            if not colon:
                raise HttpError("bad header")
            self.headers[name.strip().lower().decode()] = value.strip().decode()
        if no_body or self.status in (204, 304):
            self._done = True
        elif "chunked" in self.headers.get("transfer-encoding", "").lower():
            self.chunked = True
            self._left = 0
        elif "content-length" in self.headers:
            try:
                self.length = int(self.headers["content-length"])
            except ValueError:
                raise HttpError("bad Content-Length")
            if self.length < 0:
                raise HttpError("bad Content-Length")
            self._left = self.length
            self._done = self.length == 0

    # ---- the body -----------------------------------------------------------------------------
    def _next_chunk(self):
        if not self._first_chunk:
            end = yield from self._readline()
            if end:
                raise HttpError("bad chunk end")
        self._first_chunk = False
        line = yield from self._readline()
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HttpError("bad chunk size")
        if size < 0:
            raise HttpError("bad chunk size")
        if size == 0:
            while (yield from self._readline()):  # trailers
                pass
            self._done = True
        self._left = size

    def readinto(self, mv):
        """Generator: the next body bytes into ``mv`` (memoryview or bytearray); returns how many, 0 at the
        end of the body. HttpError when the connection closes before the body is complete."""
        if self._done or not len(mv):
            return 0
        if self.chunked and self._left == 0:
            yield from self._next_chunk()
            if self._done:
                return 0
        if not isinstance(mv, memoryview):
            mv = memoryview(mv)
        if self._left is not None and self._left < len(mv):
            mv = mv[: self._left]
        n = yield from self._read_raw(mv)
        if not n:
            if self._left is not None:
                raise HttpError("body cut off")
            self._done = True  # close-delimited: this is its end
            return 0
        if self._left is not None:
            self._left -= n
            if self._left == 0 and not self.chunked:
                self._done = True
        return n

    def read(self, limit):
        """Generator: the whole body as bytes; HttpError when it is longer than ``limit``."""
        buf = bytearray(limit + 1)
        mv = memoryview(buf)
        got = 0
        while True:
            n = yield from self.readinto(mv[got:])
            if not n:
                return bytes(buf[:got])
            got += n
            if got > limit:
                raise HttpError("body too long")

    def stream(self, sink, buf):
        """Generator: call ``sink(memoryview)`` for each piece of the body (read into ``buf``); returns the
        body's length. A piece is as full as ``buf`` unless the body ends. ``sink`` may raise to stop."""
        mv = memoryview(buf)
        size = len(mv)
        total = 0
        while True:
            got = 0
            while got < size:
                n = yield from self.readinto(mv[got:])
                if not n:
                    break
                got += n
            if got:
                sink(mv[:got])
                total += got
            if got < size:
                return total
            yield 0  # let the loop look at the UART between pieces

    @property
    def done(self):
        return self._done

    def close(self):
        self.conn.close()
