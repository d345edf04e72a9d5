"""AT+CIUPDATE (seed 004 §5.2.22) and its HTTP client (firmware/net/http.py).

The client's unit tests run in this process under CPython against loopback servers; the command's tests run
the emulator under both interpreters with its OTA server ($AT_OTA_URL, $AT_OTA_SSL_URL, $AT_OTA_CA) pointed at
a loopback HTTP(S) server (peers.HttpServer), and check the +CIPUPDATE steps, the restart, what the host
board's flash holds (STATE/flash/ota_1.bin, and STATE/flash/otadata, which names the boot partition) and
that every failure leaves the boot partition as it was.
"""
import hashlib
import os
import socket
import threading
import time

import pytest

import peers
from harness import Emulator
from net import http, transport

AP = 'AT+CWJAP="upy-at-emu","emulator1"'
PARTITION = 0x180000  # ota_0 and ota_1 in boards/esp32_generic/partitions.csv
STEPS_ALL = [b"+CIPUPDATE:1", b"+CIPUPDATE:2", b"+CIPUPDATE:3", b"+CIPUPDATE:4", b"OK"]


def image(size, seed=0, magic=0xE9):
    """A test 'app image': the ESP32 image magic, then pseudo-random bytes."""
    return bytes([magic]) + peers.pattern(size - 1, seed)


def publish(server, version, body, base="/fw", digest=None, **serve):
    """Put ``body`` on ``server`` as ``<base>/<version>/firmware.bin`` with its ``.sha256`` file."""
    server.serve("%s/%s/firmware.bin" % (base, version), body, **serve)
    text = (digest or hashlib.sha256(body).hexdigest()) + "  firmware.bin\n"
    server.serve("%s/%s/firmware.bin.sha256" % (base, version), text.encode(), content_type="text/plain")


def flash(emu, name):
    try:
        with open(os.path.join(emu.state, "flash", name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def boot_partition(emu):
    """What the host board's otadata says boots next (ota_0 when it was never set)."""
    return (flash(emu, "otadata") or b"ota_0").decode()


def start(interp, monkeypatch, url="", ssl_url="", ca="", timeout_ms=None, join=True):
    for name, value in (("AT_OTA_URL", url), ("AT_OTA_SSL_URL", ssl_url), ("AT_OTA_CA", ca),
                        ("AT_OTA_TIMEOUT_MS", str(timeout_ms or ""))):
        monkeypatch.setenv(name, value)
    emu = Emulator(interp)
    try:
        assert emu.command("ATE0")[-1] == b"OK"
        if join:
            assert emu.command(AP)[-1] == b"OK"
    except BaseException:
        emu.close()
        raise
    return emu


def rebooted(emu):
    """After an update: the module restarts, rejoins the saved AP; echo is on again after a restart."""
    emu.read_until(b"ready\r\n", 15)
    emu.read_until(b"WIFI GOT IP\r\n", 15)
    assert emu.command("ATE0")[-1] == b"OK"


# ---- the command, under both interpreters --------------------------------------------------------
def test_update_from_the_servers_version_then_a_named_one(interp, http_server, monkeypatch):
    first, second = image(200 * 1024, 1), image(150 * 1024 + 123, 2)
    http_server.serve("/fw/version", b"1.2.3\n", content_type="text/plain")
    publish(http_server, "1.2.3", first)
    publish(http_server, "2.0-rc.1", second, chunked=True, chunk_size=1000)  # chunked, odd pieces
    emu = start(interp, monkeypatch, url=http_server.url("/fw/"))
    with emu:
        assert boot_partition(emu) == "ota_0"
        assert emu.command("AT+CIUPDATE", timeout=60) == STEPS_ALL
        rebooted(emu)
        assert emu.control(op="status")["boots"] == 2
        assert boot_partition(emu) == "ota_1"
        ota_1 = flash(emu, "ota_1.bin")
        assert len(ota_1) == PARTITION and ota_1[: len(first)] == first
        assert [r.path for r in http_server.requests] == [
            "/fw/version", "/fw/1.2.3/firmware.bin.sha256", "/fw/1.2.3/firmware.bin"]
        assert http_server.requests[0].headers["Host"] == "127.0.0.1:%d" % http_server.port
        # now running from ota_1, the next update goes to ota_0; a named version skips steps 2 and 3
        assert emu.command('AT+CIUPDATE=0,"2.0-rc.1"', timeout=60) == [b"+CIPUPDATE:1", b"+CIPUPDATE:4", b"OK"]
        rebooted(emu)
        assert emu.control(op="status")["boots"] == 3
        assert boot_partition(emu) == "ota_0"
        assert flash(emu, "ota_0.bin")[: len(second)] == second
        assert flash(emu, "ota_1.bin")[: len(first)] == first  # the other slot is left alone


def test_failures_answer_error_and_leave_the_boot_partition(interp, http_server, monkeypatch):
    http_server.serve("/fw/version", b"oops", status=500)
    publish(http_server, "badhash", image(20000, 3), digest="00" * 32)
    publish(http_server, "badmagic", image(20000, 4, magic=0x00))
    publish(http_server, "toobig", image(PARTITION + 1, 5))
    publish(http_server, "toobigchunked", image(PARTITION + 4096, 6), chunked=True, chunk_size=65536)
    publish(http_server, "empty", b"")
    http_server.serve("/fw/badsha/firmware.bin.sha256", b"xyz\n")
    http_server.serve("/fw/badsha/firmware.bin", image(5000, 7))
    emu = start(interp, monkeypatch, url=http_server.url("/fw"), join=False)
    with emu:
        assert emu.command("AT+CIUPDATE") == [b"ERROR"]  # no network yet
        assert emu.command(AP)[-1] == b"OK"
        assert emu.command("AT+CIUPDATE=1") == [b"ERROR"]  # no HTTPS server configured
        assert emu.command("AT+CIUPDATE=2") == [b"ERROR"]
        assert emu.command('AT+CIUPDATE=0,"../x"') == [b"ERROR"]
        assert emu.command("AT+CIUPDATE?") == [b"ERROR"]
        assert emu.command("AT+CIUPDATE", timeout=30) == [b"+CIPUPDATE:1", b"+CIPUPDATE:2", b"ERROR"]  # HTTP 500
        http_server.serve("/fw/version", b"../../etc\n")
        assert emu.command("AT+CIUPDATE", timeout=30) == [b"+CIPUPDATE:1", b"+CIPUPDATE:2", b"ERROR"]
        http_server.serve("/fw/version", b"")
        assert emu.command("AT+CIUPDATE", timeout=30) == [b"+CIPUPDATE:1", b"+CIPUPDATE:2", b"ERROR"]
        start_1 = [b"+CIPUPDATE:1", b"ERROR"]
        downloaded = [b"+CIPUPDATE:1", b"+CIPUPDATE:4", b"ERROR"]
        for version, want in (("missing", start_1), ("badsha", start_1), ("toobig", start_1),
                              ("badhash", downloaded), ("badmagic", downloaded),
                              ("toobigchunked", downloaded), ("empty", downloaded)):
            assert emu.command('AT+CIUPDATE=0,"%s"' % version, timeout=60) == want, version
            ota_1 = flash(emu, "ota_1.bin")
            assert ota_1 is None or ota_1[:4096] == b"\xff" * 4096, version  # a partial image cannot boot
        assert emu.command("AT")[-1] == b"OK"
        assert emu.control(op="status")["boots"] == 1
        assert flash(emu, "otadata") is None and boot_partition(emu) == "ota_0"


class RawServer:
    """Answers requests by path with raw bytes (then closes), or with silence (None) until stopped."""

    def __init__(self, routes):
        self.routes = routes
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns = []
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        self.listener.settimeout(0.05)  # look at the stop flag now and then
        while not self.stopped.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock):
        request = b""
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in request:
                data = sock.recv(4096)
                if not data:
                    return
                request += data
            reply = self.routes.get(request.split(b" ")[1].decode())
            if reply is None:
                self.stopped.wait(30)
            else:
                sock.sendall(reply)
        except OSError:
            pass
        finally:
            sock.close()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.stopped.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # stop listening now, even while accept() waits
        except OSError:
            pass
        self.listener.close()


def test_timeouts_truncated_bodies_and_a_vanished_server(interp, monkeypatch):
    body = image(9000, 8)
    sha = hashlib.sha256(body).hexdigest().encode()
    ok_sha = b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n" + sha
    server = RawServer({
        "/fw/version": None,  # never answers
        "/fw/cut/firmware.bin.sha256": ok_sha,
        "/fw/cut/firmware.bin": b"HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n" + body[:5000],
        "/fw/badchunk/firmware.bin.sha256": ok_sha,
        "/fw/badchunk/firmware.bin": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     b"10\r\n" + body[:16] + b"\r\nzz\r\n",
        "/fw/stall/firmware.bin.sha256": ok_sha,
        "/fw/stall/firmware.bin": None,  # the head never comes
        "/fw/junk/firmware.bin.sha256": b"SSH-2.0-OpenSSH\r\n\r\n",
        "/fw/close/firmware.bin.sha256": ok_sha,
        "/fw/close/firmware.bin": b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body,  # ends at close: OK
    })
    emu = start(interp, monkeypatch, url=server.url("/fw"), timeout_ms=1000)
    try:
        with emu:
            t = time.monotonic()
            assert emu.command("AT+CIUPDATE", timeout=10) == [b"+CIPUPDATE:1", b"+CIPUPDATE:2", b"ERROR"]
            assert time.monotonic() - t < 5
            for version, want in (("cut", [b"+CIPUPDATE:1", b"+CIPUPDATE:4", b"ERROR"]),
                                  ("badchunk", [b"+CIPUPDATE:1", b"+CIPUPDATE:4", b"ERROR"]),
                                  ("stall", [b"+CIPUPDATE:1", b"ERROR"]),
                                  ("junk", [b"+CIPUPDATE:1", b"ERROR"])):
                assert emu.command('AT+CIUPDATE=0,"%s"' % version, timeout=10) == want, version
            assert emu.control(op="status")["boots"] == 1 and flash(emu, "otadata") is None
            server.close()  # nobody listens any more: refused
            assert emu.command('AT+CIUPDATE=0,"cut"', timeout=10) == [b"ERROR"]
            assert emu.control(op="status")["boots"] == 1 and flash(emu, "otadata") is None
    finally:
        server.close()


def test_close_delimited_image(interp, monkeypatch):
    body = image(70000, 9)
    server = RawServer({
        "/fw/close/firmware.bin.sha256": b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n"
                                         + hashlib.sha256(body).hexdigest().encode(),
        "/fw/close/firmware.bin": b"HTTP/1.0 200 OK\r\n\r\n" + body,
    })
    try:
        with start(interp, monkeypatch, url=server.url("/fw")) as emu:
            assert emu.command('AT+CIUPDATE=0,"close"', timeout=30) == [b"+CIPUPDATE:1", b"+CIPUPDATE:4", b"OK"]
            emu.read_until(b"ready\r\n", 15)
            assert boot_partition(emu) == "ota_1" and flash(emu, "ota_1.bin")[: len(body)] == body
    finally:
        server.close()


def test_https_update_verified_with_the_configured_ca(interp, https_server, test_ca, monkeypatch):
    body = image(100 * 1024, 10)
    https_server.serve("/fw/version", b"3.1\n")
    publish(https_server, "3.1", body)
    url = https_server.url("/fw").replace("127.0.0.1", "localhost")  # the name the certificate has
    # a server the CA did not sign: ERROR before any step
    with start(interp, monkeypatch, ssl_url=url, ca=test_ca.other_ca.cert_der_path) as emu:
        assert emu.command("AT+CIUPDATE=1", timeout=30) == [b"ERROR"]
        assert emu.command("AT+CIUPDATE=0", timeout=30) == [b"ERROR"]  # no plain HTTP server configured
        assert flash(emu, "otadata") is None
    with start(interp, monkeypatch, ssl_url=url, ca=test_ca.ca.cert_der_path) as emu:
        assert emu.command("AT+CIUPDATE=1", timeout=60) == STEPS_ALL
        emu.read_until(b"ready\r\n", 15)
        assert boot_partition(emu) == "ota_1" and flash(emu, "ota_1.bin")[: len(body)] == body


# ---- the HTTP client, in this process (CPython) --------------------------------------------------
def run(gen):
    """Drive a loop generator to its end as the engine does; its return value."""
    try:
        while True:
            delay = next(gen)
            time.sleep((delay or 0) / 1000)
    except StopIteration as e:
        return e.value


def fetch(url, ctx=None, piece=4096, timeout_ms=2000):
    resp = run(http.get(url, timeout_ms, ctx))
    pieces = []
    try:
        total = run(resp.stream(lambda mv: pieces.append(bytes(mv)), bytearray(piece)))
    finally:
        resp.close()
    assert total == sum(map(len, pieces))
    assert all(len(p) == piece for p in pieces[:-1])
    return resp, b"".join(pieces)


@pytest.mark.parametrize("kind", ["length", "chunked", "close"])
def test_client_bodies(http_server, kind):
    body = peers.pattern(50000, 11)
    http_server.serve("/b", body, chunked=kind == "chunked", chunk_size=777, length=kind != "close",
                      headers={"X-Thing": "a: b"})
    resp, got = fetch(http_server.url("/b?q=1"), piece=3000)
    assert got == body and resp.status == 200 and resp.reason == "OK"
    assert resp.headers["x-thing"] == "a: b" and resp.chunked == (kind == "chunked")
    assert resp.length == (len(body) if kind == "length" else None)
    assert http_server.requests[-1].path == "/b?q=1"


def test_client_status_small_bodies_and_readinto(http_server):
    http_server.serve("/missing", b"nope", status=404)
    http_server.serve("/empty", b"", chunked=True)
    resp = run(http.get(http_server.url("/missing"), 2000))
    assert resp.status == 404 and run(resp.read(10)) == b"nope"
    resp.close()
    resp = run(http.get(http_server.url("/empty"), 2000))
    assert run(resp.read(10)) == b"" and resp.done
    resp.close()
    http_server.serve("/long", b"x" * 11)
    resp = run(http.get(http_server.url("/long"), 2000))
    with pytest.raises(http.HttpError):
        run(resp.read(10))
    resp.close()
    http_server.serve("/c", b"0123456789" * 3, chunked=True, chunk_size=7)
    resp = run(http.get(http_server.url("/c"), 2000))
    buf = bytearray(100)
    n = run(resp.readinto(buf))
    assert 0 < n <= 7 and buf[:n] == b"0123456"[:n]  # never past the chunk at hand
    resp.close()


def test_client_parse_url():
    assert http.parse_url("http://h/p/q") == (False, "h", 80, "/p/q")
    assert http.parse_url("https://h:8443") == (True, "h", 8443, "/")
    for bad in ("ftp://h/", "http://:80/", "http://h:0/", "h/p"):
        with pytest.raises(ValueError):
            http.parse_url(bad)


def test_client_timeouts_and_bad_responses():
    server = RawServer({"/silent": None, "/cut": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345",
                        "/junk": b"hello\r\n\r\n", "/long": b"HTTP/1.1 200 OK\r\nX: " + b"y" * 600 + b"\r\n\r\n"})
    try:
        t = time.monotonic()
        with pytest.raises(OSError):
            run(http.get(server.url("/silent"), 300))
        assert time.monotonic() - t < 2
        resp = run(http.get(server.url("/cut"), 2000))
        with pytest.raises(http.HttpError):
            run(resp.read(100))
        resp.close()
        for path in ("/junk", "/long"):
            with pytest.raises(http.HttpError):
                run(http.get(server.url(path), 2000))
    finally:
        server.close()
    with pytest.raises(OSError):  # refused
        run(http.get(server.url("/silent"), 2000))


def test_client_tls_verifies_with_a_ca(https_server, test_ca):
    https_server.serve("/s", b"secret")
    url = https_server.url("/s")
    for cadata in (test_ca.ca.cert_der, test_ca.ca.cert_pem):
        resp, got = fetch(url, transport.tls_context(cadata))
        assert got == b"secret"
    with pytest.raises(OSError):
        run(http.get(url, 2000, transport.tls_context(test_ca.other_ca.cert_der)))
    assert fetch(url, transport.tls_context())[1] == b"secret"  # no CA: no verification
    with pytest.raises(ValueError):
        run(http.get(url, 2000))  # https without a context
