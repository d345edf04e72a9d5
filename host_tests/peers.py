"""Real network peers for the TCP/IP tests, all on loopback and run by the test process itself.

Every peer binds 127.0.0.1 on a free port chosen by the kernel and holds it, runs in daemon threads, and is a context
manager (``with TcpPeer() as peer:``); host_tests/conftest_peers.py wraps them as pytest fixtures. Every loop
polls a stop flag, and every connection has an idle timeout, so nothing outlives its test for long.

- ``TcpPeer``: TCP (or TLS, given an ``ssl`` server context) server in mode ``echo``, ``sink`` (count and
  hash only) or ``source`` (send ``pattern(size, seed)`` on connect, then close); each accepted connection is
  a ``Connection`` that the test can ``send`` on, ``close`` or ``reset``.
- ``UdpEcho``: echoes datagrams and records ``(addr, data)``.
- ``SntpServer``: answers NTP client requests with a configurable time.
- ``HttpServer``: serves registered bodies (Content-Length, chunked or close-delimited), HTTP or HTTPS.
- ``Pki``: a test CA, server/client certificates and a second, untrusted CA, in PEM and DER.
- ``connect_client``: a TCP (or TLS) client for the module's own AT+CIPSERVER.
"""
import datetime
import hashlib
import http.server
import ipaddress
import os
import random
import select
import socket
import ssl
import struct
import sys
import threading
import time

LOOPBACK = "127.0.0.1"
POLL = 0.05  # seconds between looks at a stop flag
NTP_DELTA = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01


def _ports_below_ephemeral():
    """The ports from 10000 up to the kernel's ephemeral range: the kernel never gives these to a socket
    that connects or binds port 0, so one chosen here stays free while nothing of ours takes it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10000, max(low, 12000)


_PORTS_GIVEN = set()  # every port free_port handed out in this process; none is handed out twice


def free_port():
    """A port on 127.0.0.1 that nothing holds now (TCP or UDP) and that no caller in this process got before.

    A test often picks a port, lets a server bind it later, and may stop and restart that server on it. A port
    the kernel picked (bind to port 0) can meanwhile be taken by any outgoing connection's local end; these
    ports lie below the ephemeral range, so only another free_port caller could take them, and none will."""
    first, end = _ports_below_ephemeral()
    span = end - first
    start = (os.getpid() * 7919 + len(_PORTS_GIVEN) * 131) % span
    for i in range(span):
        port = first + (start + i) % span
        if port in _PORTS_GIVEN or not _bindable(port):
            continue
        _PORTS_GIVEN.add(port)
        return port
    raise OSError("no free port below the ephemeral range")


def _bindable(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


def pattern(size, seed=0):
    """``size`` deterministic pseudo-random bytes: the same for the same (size, seed) in every run."""
    return random.Random(seed).randbytes(size)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def wait_for(predicate, timeout=10, what="condition"):
    """Poll ``predicate`` until it is true; AssertionError after ``timeout`` seconds. ``what`` (a string, or a
    function giving one) describes the wait in that error."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("waited %ss for %s" % (timeout, what() if callable(what) else what))
        time.sleep(0.01)


def _reset(sock):
    """Close with SO_LINGER 0, so the kernel sends RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


# ---- TCP / TLS -----------------------------------------------------------------------------------


class Connection:
    """One connection accepted by a ``TcpPeer``.

    ``received`` holds its bytes (left empty in sink mode); ``count`` and ``sha256`` cover all bytes received;
    ``sent`` and ``sent_sha256`` all bytes the server wrote. ``closed`` is set when the server's side is gone,
    and ``closed_by`` says why: "peer" (EOF from the client), "close"/"reset" (asked by the test), "source"
    (source mode done: the client closed, or over TLS the server closed after sending), "timeout" (idle),
    "stop" (server stopped) or "error: ...". ``peer_cert`` is the DER of a TLS client certificate, ``cipher``
    the TLS ``(name, version, bits)``, both None over plain TCP. ``addr`` is the client's (host, port).
    """

    def __init__(self, index, sock, addr):
        self.index, self.sock, self.addr = index, sock, addr
        self.received = bytearray()
        self.count = 0
        self.sent = 0
        self.closed = threading.Event()
        self.closed_by = None
        self.peer_cert = None
        self.cipher = None
        self._rx_hash = hashlib.sha256()
        self._tx_hash = hashlib.sha256()
        self._action = None
        self._lock = threading.Lock()

    @property
    def sha256(self):
        return self._rx_hash.hexdigest()

    @property
    def sent_sha256(self):
        return self._tx_hash.hexdigest()

    def send(self, data):
        """Write ``data`` to the client now (from the test's thread), e.g. to cause ``+IPD``."""
        with self._lock:
            self.sock.sendall(data)
            self.sent += len(data)
            self._tx_hash.update(data)

    def close(self, timeout=5):
        """Close the server's side gracefully (FIN; TLS close_notify first) and wait until it is done."""
        self._action = "close"
        self.closed.wait(timeout)

    def reset(self, timeout=5):
        """Abort the connection with a TCP RST and wait until it is done."""
        self._action = "reset"
        self.closed.wait(timeout)

    def wait_received(self, nbytes, timeout=10):
        """Wait until at least ``nbytes`` have arrived on this connection."""
        wait_for(lambda: self.count >= nbytes, timeout,
                 lambda: "%d bytes on connection %d (have %d)" % (nbytes, self.index, self.count))

    def wait_closed(self, timeout=10):
        if not self.closed.wait(timeout):
            raise AssertionError("connection %d still open after %ss" % (self.index, timeout))


class TcpPeer:
    """A TCP server on 127.0.0.1: echo, sink or source; TLS when given an ``ssl.SSLContext`` (server side).

    ``mode``: "echo" writes back what it reads; "sink" only counts and hashes (``received`` stays empty, for
    10 MB runs); "source" sends ``pattern(size, seed)`` on connect (its digest is ``source_sha256``), then
    closes its sending side and waits for the client to close (over TLS: sends close_notify and closes).
    ``set_mode`` changes the mode of connections accepted afterwards. Attributes: ``host``, ``port``,
    ``conns`` (list of ``Connection`` in accept order; over TLS, once the handshake is done), ``connections``
    (their count), ``received`` (bytes per connection), ``tls_errors`` (reprs of failed handshakes).
    """

    def __init__(self, mode="echo", size=0, seed=0, tls=None, idle_timeout=60, handshake_timeout=10):
        self.tls = tls
        self.idle_timeout, self.handshake_timeout = idle_timeout, handshake_timeout
        self.conns = []
        self._conns_lock = threading.Lock()
        self.tls_errors = []
        self.set_mode(mode, size, seed)
        self._stop = threading.Event()
        self._threads = []
        self._live = set()  # sockets of connections being served
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(16)
        self.host, self.port = self._listener.getsockname()

    def set_mode(self, mode, size=0, seed=0):
        if mode not in ("echo", "sink", "source"):
            raise ValueError("mode must be echo, sink or source: %r" % mode)
        self.mode = mode
        self.source_data = pattern(size, seed) if mode == "source" else b""
        self.source_sha256 = sha256(self.source_data)

    # ---- life ----
    def start(self):
        self._spawn(self._accept_loop)
        return self

    def stop(self):
        """Stop accepting and end every connection: at once if idle, else by shutting its socket down."""
        self._stop.set()
        deadline = time.monotonic() + 1
        for thread in self._threads:
            thread.join(max(0, deadline - time.monotonic()))
        for sock in list(self._live):  # threads still blocked in a handshake, recv or sendall
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, even on an SSLSocket
            except OSError:
                pass
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    # ---- what tests read ----
    @property
    def connections(self):
        return len(self.conns)

    @property
    def received(self):
        return [bytes(c.received) for c in self.conns]

    def wait_connections(self, n=1, timeout=10):
        """Wait until ``n`` connections have been accepted (and their TLS handshakes done); return them."""
        wait_for(lambda: len(self.conns) >= n, timeout,
                 lambda: "%d connections (have %d; TLS errors %s)" % (n, len(self.conns), self.tls_errors))
        return self.conns[:n]

    # ---- threads ----
    def _accept_loop(self):
        while not self._stop.is_set():
            if not select.select([self._listener], [], [], POLL)[0]:
                continue
            try:
                sock, addr = self._listener.accept()
            except OSError:  # e.g. the client gave up between select and accept
                continue
            self._spawn(self._serve, sock, addr)

    def _serve(self, sock, addr):
        if self.tls is not None:
            sock.settimeout(self.handshake_timeout)
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            self._live.add(sock)
            try:
                sock.do_handshake()
            except (OSError, ssl.SSLError) as e:
                self.tls_errors.append(repr(e))
                self._live.discard(sock)
                sock.close()
                return
        self._live.add(sock)
        sock.settimeout(self.idle_timeout)
        conn = Connection(None, sock, addr)
        if self.tls is not None:
            conn.peer_cert, conn.cipher = sock.getpeercert(binary_form=True), sock.cipher()
        with self._conns_lock:
            conn.index = len(self.conns)
            self.conns.append(conn)
        try:
            conn.closed_by = self._run(conn, self.mode, self.source_data)
        except (OSError, ssl.SSLError) as e:
            conn.closed_by = "error: %r" % e
        if conn.closed_by == "reset":
            _reset(sock)
        else:
            if conn.closed_by in ("close", "source") and self.tls is not None:
                try:
                    sock.settimeout(0.5)
                    sock = sock.unwrap()  # sends close_notify
                except (OSError, ssl.SSLError, ValueError):
                    pass
            sock.close()
        self._live.discard(conn.sock)
        conn.closed.set()

    def _run(self, conn, mode, source):
        """Serve one connection until it ends; return why it ended."""
        sock = conn.sock
        if mode == "source":
            view = memoryview(source)
            while view:
                if self._stop.is_set() or conn._action:
                    return "stop" if self._stop.is_set() else conn._action
                conn.send(view[:65536])
                view = view[65536:]
            if self.tls is not None:
                return "source"  # _serve sends close_notify, then closes
            sock.shutdown(socket.SHUT_WR)  # FIN after the last byte; read on until the client closes too
        idle_since = time.monotonic()
        while not self._stop.is_set():
            if conn._action:
                return conn._action
            pending = self.tls is not None and sock.pending()
            if not pending and not select.select([sock], [], [], POLL)[0]:
                if time.monotonic() - idle_since > self.idle_timeout:
                    return "timeout"
                continue
            with conn._lock:  # an SSL object must not read and write in two threads at once
                data = sock.recv(65536)
            if not data:
                return "source" if mode == "source" else "peer"
            idle_since = time.monotonic()
            conn.count += len(data)
            conn._rx_hash.update(data)
            if mode != "sink":
                conn.received += data
            if mode == "echo":
                conn.send(data)
        return "stop"


# ---- UDP and SNTP --------------------------------------------------------------------------------


class _UdpPeer:
    """A UDP socket on 127.0.0.1 served by one thread; subclasses answer in ``handle(data, addr)``."""

    def __init__(self):
        self.datagrams = []  # (addr, data) in arrival order
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((LOOPBACK, 0))
        self.host, self.port = self._sock.getsockname()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _loop(self):
        while not self._stop.is_set():
            if select.select([self._sock], [], [], POLL)[0]:
                try:
                    data, addr = self._sock.recvfrom(65535)
                    self.datagrams.append((addr, data))
                    self.handle(data, addr)
                except OSError:  # e.g. ECONNREFUSED from an earlier reply to a closed port
                    pass

    def handle(self, data, addr):
        pass

    def sendto(self, data, addr=None):
        """Send a datagram to ``addr``, by default to whoever sent the last one."""
        self._sock.sendto(data, addr or self.datagrams[-1][0])

    def wait_datagrams(self, n=1, timeout=10):
        """Wait until ``n`` datagrams have arrived; return them as (addr, data)."""
        wait_for(lambda: len(self.datagrams) >= n, timeout,
                 lambda: "%d datagrams (have %d)" % (n, len(self.datagrams)))
        return self.datagrams[:n]


class UdpEcho(_UdpPeer):
    """Sends every datagram back to its sender (unless ``echo`` is False); ``datagrams`` lists (addr, data)."""

    def __init__(self, echo=True):
        super().__init__()
        self.echo = echo

    def handle(self, data, addr):
        if self.echo:
            self._sock.sendto(data, addr)


def ntp_timestamp(unix_time):
    """8-byte NTP timestamp (seconds since 1900, 32.32 fixed point) for a Unix time."""
    value = int(round((unix_time + NTP_DELTA) * 2**32))
    return struct.pack("!Q", value & 0xFFFFFFFFFFFFFFFF)


def ntp_to_unix(stamp):
    """Unix time (float) of an 8-byte NTP timestamp."""
    return struct.unpack("!Q", stamp)[0] / 2**32 - NTP_DELTA


class SntpServer(_UdpPeer):
    """Answers NTP client requests (mode 3, at least 48 bytes) with a server reply (mode 4, same version).

    ``time`` is the Unix time to report (None: the clock now); ``answer`` False makes it silent (to test
    timeouts); ``stratum`` goes into the reply. ``requests`` lists (addr, packet) of the client requests;
    other datagrams are recorded in ``datagrams`` only and not answered.
    """

    def __init__(self, time=None, stratum=1):
        super().__init__()
        self.time, self.stratum, self.answer = time, stratum, True
        self.requests = []

    def now(self):
        return time.time() if self.time is None else self.time

    def handle(self, data, addr):
        if len(data) < 48 or data[0] & 7 != 3:
            return
        self.requests.append((addr, data))
        if not self.answer:
            return
        stamp = ntp_timestamp(self.now())
        version = (data[0] >> 3) & 7
        header = struct.pack("!BBbbII4s", version << 3 | 4, self.stratum, data[2], -20, 0, 0, b"LOCL")
        # reference, originate (the client's transmit time, echoed), receive, transmit
        self._sock.sendto(header + stamp + data[40:48] + stamp + stamp, addr)

    def wait_requests(self, n=1, timeout=10):
        wait_for(lambda: len(self.requests) >= n, timeout, "%d NTP requests" % n)
        return self.requests[:n]


# ---- TLS material --------------------------------------------------------------------------------


class CertKey:
    """A certificate and its private key, as bytes and files: ``cert_pem``, ``cert_der``, ``key_pem``,
    ``key_der`` (PKCS#8) and ``cert_pem_path``, ``cert_der_path``, ``key_pem_path``, ``key_der_path``.
    ``cert`` and ``key`` are the ``cryptography`` objects."""

    def __init__(self, directory, name, cert, key):
        from cryptography.hazmat.primitives import serialization as ser

        self.name, self.cert, self.key = name, cert, key
        self.cert_pem = cert.public_bytes(ser.Encoding.PEM)
        self.cert_der = cert.public_bytes(ser.Encoding.DER)
        self.key_pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        self.key_der = key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        for attr, suffix in (("cert_pem", ".pem"), ("cert_der", ".der"), ("key_pem", ".key.pem"),
                             ("key_der", ".key.der")):
            path = os.path.join(directory, name + suffix)
            with open(path, "wb") as f:
                f.write(getattr(self, attr))
            setattr(self, attr + "_path", path)


class Pki:
    """Test certificates written to ``directory``, all ECDSA P-256 / SHA-256, valid 2000 to 2049:

    ``ca`` (the test CA), ``server`` (signed by ``ca``; CN and SAN DNS "localhost", SAN IP 127.0.0.1),
    ``client`` (signed by ``ca``; CN "upy-at-client", for mutual TLS), ``other_ca`` (a CA nobody trusts) and
    ``other_server`` (the same names as ``server`` but signed by ``other_ca``). Each is a ``CertKey``.
    """

    def __init__(self, directory):
        self.dir = directory
        self.ca = self._issue("ca", "upy-at Test CA", None)
        self.server = self._issue("server", "localhost", self.ca, server=True)
        self.client = self._issue("client", "upy-at-client", self.ca, client=True)
        self.other_ca = self._issue("other-ca", "upy-at Other CA", None)
        self.other_server = self._issue("other-server", "localhost", self.other_ca, server=True)

    def _issue(self, name, common_name, issuer, server=False, client=False):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "upy-at tests"),
                             x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        is_ca = issuer is None
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(subject if is_ca else issuer.cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))
                   .not_valid_after(datetime.datetime(2049, 12, 31, tzinfo=datetime.timezone.utc))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        if is_ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False), critical=True)
        else:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        if server or client:
            usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        cert = builder.sign(key if is_ca else issuer.key, hashes.SHA256())
        return CertKey(self.dir, name, cert, key)

    def server_context(self, require_client_cert=False, untrusted=False):
        """An ``ssl`` server context presenting ``server`` (``other_server`` if ``untrusted``); with
        ``require_client_cert`` the client must present a certificate signed by ``ca``."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        leaf = self.other_server if untrusted else self.server
        ctx.load_cert_chain(leaf.cert_pem_path, leaf.key_pem_path)
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cafile=self.ca.cert_pem_path)
        return ctx

    def client_context(self, client_cert=False):
        """A CPython client context trusting only ``ca`` (checks host names), optionally presenting ``client``."""
        ctx = ssl.create_default_context(cafile=self.ca.cert_pem_path)
        if client_cert:
            ctx.load_cert_chain(self.client.cert_pem_path, self.client.key_pem_path)
        return ctx


# ---- HTTP(S) -------------------------------------------------------------------------------------


class Request:
    """One request an ``HttpServer`` saw: ``method``, ``path`` (with any query), ``headers``
    (case-insensitive ``email.message.Message``) and ``body`` (bytes, per Content-Length)."""

    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def __repr__(self):
        return "Request(%r, %r)" % (self.method, self.path)


class HttpServer:
    """HTTP/1.1 server on 127.0.0.1 (HTTPS when given an ``ssl`` server context) serving registered bodies.

    ``serve(path, body, ...)`` registers a response for any method on ``path`` (the query string is ignored
    when matching); other paths get 404. ``requests`` lists every ``Request``; ``errors`` the exceptions of
    failed connections (e.g. a refused TLS handshake). ``url(path)`` gives http(s)://127.0.0.1:port/path.
    """

    def __init__(self, tls=None, idle_timeout=30):
        self.tls = tls
        self.routes = {}
        self.requests = []
        self.errors = []
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = idle_timeout

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except (OSError, ssl.SSLError) as e:
                    peer.errors.append(repr(e))
                    self.close_connection = True

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, self.headers, body)
                peer.requests.append(request)
                peer._respond(self, request)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def get_request(self):
                sock, addr = super().get_request()
                if peer.tls is not None:  # handshake on first read, in the connection's thread
                    sock = peer.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, addr

            def handle_error(self, request, client_address):
                peer.errors.append(repr(sys.exc_info()[1]))

        self._httpd = Server((LOOPBACK, 0), Handler)
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": POLL},
                                        daemon=True)

    def serve(self, path, body, status=200, content_type="application/octet-stream", chunked=False,
              chunk_size=4096, length=True, headers=None):
        """Answer requests for ``path`` with ``body``: with Content-Length (default), ``chunked`` transfer
        encoding in ``chunk_size`` pieces, or neither (``length=False``: the body ends when the server closes).
        ``headers``: extra response headers (dict). ``body`` may be a function of the ``Request`` giving
        (status, body): a server that answers what it was sent (a cloud double)."""
        self.routes[path] = dict(body=body, status=status, content_type=content_type, chunked=chunked,
                                 chunk_size=chunk_size, length=length, headers=headers or {})

    def url(self, path="/"):
        return "%s://%s:%d%s" % ("https" if self.tls else "http", LOOPBACK, self.port, path)

    def _respond(self, h, request):
        route = self.routes.get(h.path.split("?", 1)[0])
        if route is None:
            route = dict(body=b"not found\n", status=404, content_type="text/plain", chunked=False,
                         chunk_size=0, length=True, headers={})
        body, status = route["body"], route["status"]
        if callable(body):
            status, body = body(request)
        h.send_response(status)
        h.send_header("Content-Type", route["content_type"])
        for name, value in route["headers"].items():
            h.send_header(name, value)
        if route["chunked"]:
            h.send_header("Transfer-Encoding", "chunked")
        elif route["length"]:
            h.send_header("Content-Length", str(len(body)))
        else:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        if h.command == "HEAD":
            return
        if route["chunked"]:
            step = route["chunk_size"]
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            h.wfile.write(b"0\r\n\r\n")
        else:
            h.wfile.write(body)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ---- a client for the module's AT+CIPSERVER ------------------------------------------------------


class Client:
    """A connected TCP (or TLS) client socket with bounded reads. ``sock`` is the socket itself.
    Over TLS, do not send in one thread while reading in another (an SSL object is not thread-safe)."""

    def __init__(self, sock):
        self.sock = sock

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n, timeout=10):
        """Exactly ``n`` bytes; AssertionError if the connection ends or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        out = bytearray()
        while len(out) < n:
            chunk = self._recv(n - len(out), deadline)
            if not chunk:
                raise AssertionError("connection closed after %d of %d bytes" % (len(out), n))
            out += chunk
        return bytes(out)

    def recv_all(self, timeout=10):
        """Everything until the other side closes; AssertionError if it does not within ``timeout``."""
        deadline = time.monotonic() + timeout
        out = bytearray()
        while True:
            chunk = self._recv(65536, deadline)
            if not chunk:
                return bytes(out)
            out += chunk

    def _recv(self, n, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out reading")
        self.sock.settimeout(left)
        try:
            return self.sock.recv(n)
        except socket.timeout:
            raise AssertionError("timed out reading") from None

    def close(self):
        self.sock.close()

    def reset(self):
        """Abort with a TCP RST."""
        _reset(self.sock)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect_client(port, data=b"", host=LOOPBACK, timeout=10, retry_for=0, tls=None, server_hostname=None):
    """Connect to ``host:port`` (the module's AT+CIPSERVER), send ``data`` if any, return a ``Client``.

    ``retry_for``: seconds to keep retrying while the connection is refused (the server may not be up yet).
    ``tls``: an ``ssl.SSLContext`` to wrap the socket with (``server_hostname`` for SNI and its check).
    """
    deadline = time.monotonic() + retry_for
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            break
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=server_hostname)
    client = Client(sock)
    if data:
        client.send(data)
    return client
