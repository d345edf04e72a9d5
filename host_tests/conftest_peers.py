"""Pytest fixtures for the loopback peers in peers.py (imported by conftest.py). Each fixture starts its peer
before the test and stops it after; ``test_ca`` is made once per session."""
import os
import tempfile

import pytest

import peers

__all__ = ["pki_fixture", "tcp_echo", "udp_echo", "tls_echo", "tls_echo_mutual", "tls_echo_untrusted",
           "http_server", "https_server", "sntp_server", "connect_client_fixture", "air"]


@pytest.fixture(scope="session", name="test_ca")
def pki_fixture(tmp_path_factory):
    """``peers.Pki``: test CA, server/client certificates and an untrusted CA, PEM and DER, in a temp dir."""
    return peers.Pki(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def tcp_echo():
    """``peers.TcpPeer`` in echo mode (``set_mode("sink")`` / ``set_mode("source", size, seed)`` to change)."""
    with peers.TcpPeer() as peer:
        yield peer


@pytest.fixture
def udp_echo():
    """``peers.UdpEcho``: echoes datagrams, records ``(addr, data)`` in ``datagrams``."""
    with peers.UdpEcho() as peer:
        yield peer


@pytest.fixture
def tls_echo(test_ca):
    """``peers.TcpPeer`` over TLS, certificate ``test_ca.server``; no client certificate asked."""
    with peers.TcpPeer(tls=test_ca.server_context()) as peer:
        yield peer


@pytest.fixture
def tls_echo_mutual(test_ca):
    """Like ``tls_echo`` but the client must present a certificate signed by the test CA."""
    with peers.TcpPeer(tls=test_ca.server_context(require_client_cert=True)) as peer:
        yield peer


@pytest.fixture
def tls_echo_untrusted(test_ca):
    """Like ``tls_echo`` but its certificate (``test_ca.other_server``) is signed by ``test_ca.other_ca``."""
    with peers.TcpPeer(tls=test_ca.server_context(untrusted=True)) as peer:
        yield peer


@pytest.fixture
def http_server():
    """``peers.HttpServer`` over plain HTTP; register bodies with ``serve(path, body, ...)``."""
    with peers.HttpServer() as server:
        yield server


@pytest.fixture
def https_server(test_ca):
    """``peers.HttpServer`` over TLS with ``test_ca.server``."""
    with peers.HttpServer(tls=test_ca.server_context()) as server:
        yield server


@pytest.fixture
def sntp_server():
    """``peers.SntpServer`` answering with the clock now; set ``.time`` to a Unix time for a fixed answer."""
    with peers.SntpServer() as server:
        yield server


@pytest.fixture(name="connect_client")
def connect_client_fixture():
    """``peers.connect_client`` whose clients are closed after the test."""
    clients = []

    def connect(port, data=b"", **kwargs):
        client = peers.connect_client(port, data, **kwargs)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture
def air():
    """The path of a BLE air of the test's own (tools/ble_air), running before the modules need it (they
    would start it themselves)."""
    from ble_peer import ensure_air  # imports Bumble: only for the tests that take an air

    with tempfile.TemporaryDirectory(prefix="upy-at-air-") as d:
        path = os.path.join(d, "air.sock")
        ensure_air(path)
        yield path
