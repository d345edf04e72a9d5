"""The loopback peers of peers.py / conftest_peers.py, each tested with a plain client (CPython, and the
MicroPython unix port for TLS) so that a failing TCP/IP test points at the firmware, not at its peer."""
import http.client
import os
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.request

import pytest

from peers import NTP_DELTA, connect_client, free_port, ntp_timestamp, ntp_to_unix, pattern, sha256, wait_for

KB = 1024
MB = 1024 * KB
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def echo_through(port, data, tls=None, step=16 * KB):
    """Send ``data`` ``step`` bytes at a time, reading each piece's echo before the next; return the echo."""
    with connect_client(port, tls=tls, server_hostname="localhost" if tls else None) as client:
        echo = bytearray()
        for i in range(0, len(data), step):
            client.send(data[i:i + step])
            echo += client.recv_exact(len(data[i:i + step]))
    return bytes(echo)


# ---- TCP ------------------------------------------------------------------------------------------


def test_free_port_is_never_handed_out_twice_nor_one_the_kernel_gives_out():
    """A server stopped and restarted on its port must find it free: a port from free_port is not one an
    outgoing connection's local end can take, and no later free_port call returns it again."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        ephemeral = int(f.read().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == 200
    assert all(1024 < p < ephemeral for p in ports)
    held = socket.socket()
    held.bind(("127.0.0.1", 0))  # the kernel's own pick, held: free_port never offers what is bound
    with held:
        assert held.getsockname()[1] >= ephemeral


def test_tcp_echo_256k_byte_exact(tcp_echo):
    data = pattern(256 * KB, seed=1)
    assert echo_through(tcp_echo.port, data) == data
    conn = tcp_echo.conns[0]
    conn.wait_closed()
    assert (tcp_echo.connections, conn.closed_by) == (1, "peer")
    assert tcp_echo.received == [data]
    assert conn.count == conn.sent == len(data) and conn.sha256 == conn.sent_sha256 == sha256(data)


def test_tcp_echo_five_links_concurrently(tcp_echo):
    datas = [pattern(256 * KB, seed=i) for i in range(5)]
    results = [None] * 5

    def run(i):
        results[i] = echo_through(tcp_echo.port, datas[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == datas
    assert sorted(tcp_echo.received) == sorted(datas)


def test_tcp_sink_counts_and_hashes_10mb(tcp_echo):
    tcp_echo.set_mode("sink")
    data = pattern(10 * MB, seed=2)
    with connect_client(tcp_echo.port, data):
        conn = tcp_echo.wait_connections(1)[0]
        conn.wait_received(len(data), timeout=30)
    conn.wait_closed()
    assert (conn.count, conn.sha256, conn.received, conn.sent) == (len(data), sha256(data), bytearray(), 0)


def test_tcp_source_sends_10mb_pattern_then_closes(tcp_echo):
    tcp_echo.set_mode("source", size=10 * MB, seed=3)
    assert tcp_echo.source_sha256 == sha256(pattern(10 * MB, seed=3))
    with connect_client(tcp_echo.port) as client:
        got = client.recv_all(timeout=30)
    assert sha256(got) == tcp_echo.source_sha256
    conn = tcp_echo.conns[0]
    conn.wait_closed()
    assert (conn.closed_by, conn.sent, conn.sent_sha256) == ("source", 10 * MB, tcp_echo.source_sha256)


def test_tcp_server_sends_closes_and_resets_on_demand(tcp_echo):
    first = connect_client(tcp_echo.port)
    conn = tcp_echo.wait_connections(1)[0]
    conn.send(b"unsolicited")
    assert first.recv_exact(11) == b"unsolicited"
    conn.close()
    assert conn.closed_by == "close"
    assert first.recv_all(timeout=5) == b""  # a FIN: orderly end of stream
    second = connect_client(tcp_echo.port)
    conn = tcp_echo.wait_connections(2)[1]
    conn.reset()
    assert conn.closed_by == "reset"
    with pytest.raises(ConnectionResetError):
        second.recv_all(timeout=5)
    first.close()
    second.close()


def test_connect_client_retries_until_the_server_listens():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused for now
    port = sock.getsockname()[1]
    timer = threading.Timer(0.3, sock.listen)
    timer.start()
    try:
        with connect_client(port, b"hi", retry_for=5):
            conn, _ = sock.accept()
            conn.settimeout(5)
            assert conn.recv(2) == b"hi"
            conn.close()
    finally:
        timer.join()
        sock.close()


def test_connect_client_fixture_closes_its_clients(connect_client, tcp_echo):
    client = connect_client(tcp_echo.port, b"ping")
    assert client.recv_exact(4) == b"ping"


# ---- UDP ------------------------------------------------------------------------------------------


def test_udp_echo(udp_echo):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.bind(("127.0.0.1", 0))
        for payload in (b"one", b"two", bytes(range(256)) * 5):
            sock.sendto(payload, ("127.0.0.1", udp_echo.port))
            assert sock.recvfrom(4096) == (payload, ("127.0.0.1", udp_echo.port))
        assert udp_echo.wait_datagrams(3) == [(sock.getsockname(), b"one"), (sock.getsockname(), b"two"),
                                              (sock.getsockname(), bytes(range(256)) * 5)]
        udp_echo.sendto(b"unsolicited")
        assert sock.recvfrom(100)[0] == b"unsolicited"


# ---- TLS ------------------------------------------------------------------------------------------


def test_certificates_in_pem_and_der(test_ca):
    from cryptography import x509

    for item in (test_ca.ca, test_ca.server, test_ca.client, test_ca.other_ca, test_ca.other_server):
        for attr in ("cert_pem", "cert_der", "key_pem", "key_der"):
            with open(getattr(item, attr + "_path"), "rb") as f:
                assert f.read() == getattr(item, attr)
        assert x509.load_der_x509_certificate(item.cert_der) == x509.load_pem_x509_certificate(item.cert_pem)
    assert test_ca.server.cert.issuer == test_ca.ca.cert.subject
    assert test_ca.other_server.cert.issuer == test_ca.other_ca.cert.subject
    assert test_ca.ca.cert.subject != test_ca.other_ca.cert.subject


def test_tls_echo_verified_against_the_test_ca(tls_echo, test_ca):
    data = pattern(256 * KB, seed=4)
    assert echo_through(tls_echo.port, data, tls=test_ca.client_context()) == data
    tls_echo.conns[0].wait_closed()
    assert tls_echo.received == [data] and tls_echo.tls_errors == []
    # The certificate names the address too.
    with connect_client(tls_echo.port, b"ip", tls=test_ca.client_context(), server_hostname="127.0.0.1") as c:
        assert c.recv_exact(2) == b"ip"


def test_tls_verification_fails_against_another_ca(tls_echo_untrusted, test_ca):
    with pytest.raises(ssl.SSLCertVerificationError):
        connect_client(tls_echo_untrusted.port, tls=test_ca.client_context(), server_hostname="localhost")
    # ... and the other CA's server passes when the client trusts that CA instead.
    ctx = ssl.create_default_context(cafile=test_ca.other_ca.cert_pem_path)
    with connect_client(tls_echo_untrusted.port, b"x", tls=ctx, server_hostname="localhost") as c:
        assert c.recv_exact(1) == b"x"


def test_tls_server_records_a_client_that_refuses_it(tls_echo_untrusted):
    ctx = ssl.create_default_context()  # the system CAs: the test's other CA is not among them
    with pytest.raises(ssl.SSLCertVerificationError):
        connect_client(tls_echo_untrusted.port, tls=ctx, server_hostname="localhost")
    wait_for(lambda: tls_echo_untrusted.tls_errors, what="the server to record the refused handshake")
    time.sleep(0.1)
    assert tls_echo_untrusted.connections == 0 and len(tls_echo_untrusted.tls_errors) == 1


def test_mutual_tls(tls_echo_mutual, test_ca):
    with connect_client(tls_echo_mutual.port, b"mutual", tls=test_ca.client_context(client_cert=True),
                        server_hostname="localhost") as c:
        assert c.recv_exact(6) == b"mutual"
    assert tls_echo_mutual.conns[0].peer_cert == test_ca.client.cert_der
    # Without a client certificate the server refuses (under TLS 1.3 the client learns it on its first read).
    with pytest.raises((ssl.SSLError, ConnectionResetError, AssertionError)):
        with connect_client(tls_echo_mutual.port, b"anon", tls=test_ca.client_context(),
                            server_hostname="localhost") as c:
            c.recv_exact(4, timeout=5)
    wait_for(lambda: tls_echo_mutual.tls_errors, what="the server to record the refused handshake")
    assert tls_echo_mutual.connections == 1 and len(tls_echo_mutual.tls_errors) == 1


def test_tls_server_close_sends_close_notify(tls_echo, test_ca):
    client = connect_client(tls_echo.port, tls=test_ca.client_context(), server_hostname="localhost")
    conn = tls_echo.wait_connections(1)[0]
    conn.close()
    assert client.recv_all(timeout=5) == b""
    client.close()


def test_tls_source(tls_echo, test_ca):
    tls_echo.set_mode("source", size=MB, seed=5)
    with connect_client(tls_echo.port, tls=test_ca.client_context(), server_hostname="localhost") as c:
        assert sha256(c.recv_all(timeout=30)) == tls_echo.source_sha256


MP_TLS_CLIENT = """
import socket, ssl, sys
port, ca, host = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.load_verify_locations(cadata=ca)
if len(sys.argv) > 4:
    ctx.load_cert_chain(open(sys.argv[4], "rb").read(), open(sys.argv[5], "rb").read())
s = socket.socket()
s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
try:
    t = ctx.wrap_socket(s, server_hostname=host)
    t.write(b"hello from micropython")
    print("ECHO", t.read(22), t.cipher())
    t.close()
except ValueError as e:
    print("VERIFY FAILED", str(e).strip())
"""


def micropython_tls(tmp_path, port, ca_der_path, host="localhost", *client):
    script = tmp_path / "mp_tls_client.py"
    script.write_text(MP_TLS_CLIENT)
    result = subprocess.run([MICROPYTHON, str(script), str(port), ca_der_path, host] + list(client),
                            capture_output=True, text=True, timeout=30)
    return result.stdout.strip() + result.stderr.strip()


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port in .venv")
def test_micropython_verified_tls_with_der_ca(tls_echo, tls_echo_untrusted, tls_echo_mutual, test_ca, tmp_path):
    """The unix port verifies tls_echo with the DER CA (it rejects PEM: ValueError invalid cert/key), by
    name and by address; it refuses the other CA's server and a wrong name; it does mutual TLS with DER."""
    ca = test_ca.ca.cert_der_path
    for host in ("localhost", "127.0.0.1"):
        out = micropython_tls(tmp_path, tls_echo.port, ca, host)
        assert out.startswith("ECHO b'hello from micropython'"), out
    assert "TLSv1.2" in out
    out = micropython_tls(tmp_path, tls_echo_untrusted.port, ca)
    assert out == "VERIFY FAILED The certificate is not correctly signed by the trusted CA", out
    out = micropython_tls(tmp_path, tls_echo.port, ca, "example.com")
    assert out.startswith("VERIFY FAILED The certificate Common Name (CN) does not match"), out
    out = micropython_tls(tmp_path, tls_echo_mutual.port, ca, "localhost",
                          test_ca.client.cert_der_path, test_ca.client.key_der_path)
    assert out.startswith("ECHO b'hello from micropython'"), out
    assert tls_echo_mutual.conns[0].peer_cert == test_ca.client.cert_der
    out = micropython_tls(tmp_path, tls_echo.port, test_ca.ca.cert_pem_path)
    assert "ValueError: invalid cert" in out, out


# ---- HTTP(S) --------------------------------------------------------------------------------------


def http_get(server, path, method="GET", body=None, headers=None, context=None):
    if context is None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    else:
        conn = http.client.HTTPSConnection("localhost", server.port, timeout=10, context=context)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    out = response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    conn.close()
    return out


def test_http_content_length_chunked_and_close(http_server):
    image = pattern(300 * KB, seed=6)
    http_server.serve("/fw.bin", image)
    http_server.serve("/chunked.bin", image, chunked=True, chunk_size=1000)
    http_server.serve("/close.bin", image, length=False)
    status, headers, body = http_get(http_server, "/fw.bin?v=1", headers={"X-Test": "1"})
    assert (status, headers["content-length"], body) == (200, str(len(image)), image)
    status, headers, body = http_get(http_server, "/chunked.bin")
    assert (status, headers["transfer-encoding"], body) == (200, "chunked", image)
    assert "content-length" not in headers
    status, headers, body = http_get(http_server, "/close.bin")
    assert (status, body) == (200, image) and "content-length" not in headers
    assert http_get(http_server, "/missing")[0] == 404
    assert http_get(http_server, "/fw.bin", method="HEAD")[2] == b""
    http_get(http_server, "/fw.bin", method="POST", body=b"posted")
    seen = [(r.method, r.path) for r in http_server.requests]
    assert seen == [("GET", "/fw.bin?v=1"), ("GET", "/chunked.bin"), ("GET", "/close.bin"), ("GET", "/missing"),
                    ("HEAD", "/fw.bin"), ("POST", "/fw.bin")]
    assert http_server.requests[0].headers["x-test"] == "1"
    assert http_server.requests[-1].body == b"posted"


def test_http_chunked_framing_on_the_wire(http_server):
    http_server.serve("/c", b"abcdefghij", chunked=True, chunk_size=4)
    with connect_client(http_server.port, b"GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") as c:
        raw = c.recv_all()
    assert raw.split(b"\r\n\r\n", 1)[1] == b"4\r\nabcd\r\n4\r\nefgh\r\n2\r\nij\r\n0\r\n\r\n"


def test_https_get_verified(https_server, test_ca):
    image = pattern(100 * KB, seed=7)
    https_server.serve("/ota/fw.bin", image)
    assert https_server.url("/ota/fw.bin").startswith("https://127.0.0.1:")
    with urllib.request.urlopen(https_server.url("/ota/fw.bin"), context=test_ca.client_context(), timeout=10) as r:
        assert r.read() == image
    assert http_get(https_server, "/ota/fw.bin", context=test_ca.client_context())[2] == image
    assert [r.path for r in https_server.requests] == ["/ota/fw.bin", "/ota/fw.bin"]


def test_https_refused_by_a_client_trusting_another_ca(https_server, test_ca):
    https_server.serve("/x", b"x")
    ctx = ssl.create_default_context(cafile=test_ca.other_ca.cert_pem_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        http_get(https_server, "/x", context=ctx)
    wait_for(lambda: https_server.errors, what="the server to record the refused handshake")
    time.sleep(0.1)
    assert https_server.requests == [] and len(https_server.errors) == 1


# ---- SNTP -----------------------------------------------------------------------------------------


def sntp_query(server, version=4, timeout=5):
    request = bytes([version << 3 | 3]) + bytes(39) + ntp_timestamp(1234567890.5)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(request, ("127.0.0.1", server.port))
        reply = sock.recv(100)
    return request, reply


def test_sntp_fixed_time(sntp_server):
    sntp_server.time = 1700000000.25
    sent = []
    for version in (3, 4):
        request, reply = sntp_query(sntp_server, version)
        sent.append(request)
        assert len(reply) == 48
        assert (reply[0] & 7, (reply[0] >> 3) & 7, reply[1]) == (4, version, 1)
        assert reply[24:32] == request[40:48]  # originate = the client's transmit time
        assert abs(ntp_to_unix(reply[40:48]) - 1700000000.25) < 1e-6
        assert struct.unpack("!I", reply[40:44])[0] == 1700000000 + NTP_DELTA
    assert [data for _, data in sntp_server.wait_requests(2)] == sent


def test_sntp_now_and_silence(sntp_server):
    _, reply = sntp_query(sntp_server)
    assert abs(ntp_to_unix(reply[40:48]) - time.time()) < 5
    sntp_server.answer = False
    with pytest.raises(socket.timeout):
        sntp_query(sntp_server, timeout=0.5)
    assert len(sntp_server.requests) == 2
