"""SSL links with AT+CIPSSLCCONF (certificates in esp-at's user partitions, written with AT+SYSFLASH as an
MCU does), the SSL server, and AT+SAVETRANSLINK, against real peers on loopback, under both interpreters.
The partitions hold DER or PEM (the README's promise): certificates, PKCS#8 keys, and EC keys in OpenSSL's
traditional PEM (``BEGIN EC PRIVATE KEY``, what ``openssl ecparam -genkey`` writes)."""
import socket
import ssl
import tempfile
import time

import pytest
from cryptography.hazmat.primitives import serialization as ser

from harness import Emulator
from peers import free_port, wait_for

FORMS = ("der", "pem", "pem-traditional-key")


def cert_of(ck, form):
    return ck.cert_der if form == "der" else ck.cert_pem


def key_of(ck, form):
    if form == "der":
        return ck.key_der
    if form == "pem":
        return ck.key_pem
    key = ser.load_pem_private_key(ck.key_pem, None)
    return key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())


def flash(emu, label, data):
    """Erase a user partition and write ``data`` at its start (AT+SYSFLASH)."""
    assert emu.command('AT+SYSFLASH=0,"%s"' % label) == [b"OK"]
    emu.send(b'AT+SYSFLASH=1,"%s",0,%d\r\n' % (label.encode(), len(data)))
    emu.read_until(b">", 5)
    emu.send(data)
    assert emu.line() == b"OK"


@pytest.mark.parametrize("form", FORMS[:2])
def test_verify_the_server_with_the_ca(emu, form, test_ca, tls_echo, tls_echo_untrusted):
    emu.online()
    flash(emu, "client_ca", cert_of(test_ca.ca, form))
    assert emu.command("AT+CIPSSLCCONF=2,0,0") == [b"OK"]
    assert emu.command("AT+CIPSSLCCONF?") == [b"+CIPSSLCCONF:0,2,0,0", b"OK"]
    assert emu.command('AT+CIPSTART="SSL","localhost",%d' % tls_echo.port, timeout=20) == [b"CONNECT", b"OK"]
    assert emu.echo_over(b"secret") == b"secret"
    assert emu.command("AT+CIPCLOSE") == [b"CLOSED", b"OK"]
    # a server whose certificate another CA signed fails verification
    assert emu.command('AT+CIPSTART="SSL","localhost",%d' % tls_echo_untrusted.port, timeout=20) == [b"CLOSED", b"ERROR"]


@pytest.mark.parametrize("form", FORMS)
def test_mutual_authentication(emu, form, test_ca, tls_echo_mutual):
    emu.online()
    flash(emu, "client_ca", cert_of(test_ca.ca, form))
    flash(emu, "client_cert", cert_of(test_ca.client, form))
    flash(emu, "client_key", key_of(test_ca.client, form))
    assert emu.command("AT+CIPSSLCCONF=2") == [b"OK"]  # no certificate of ours: the server refuses us,
    out = emu.command('AT+CIPSTART="SSL","localhost",%d' % tls_echo_mutual.port, timeout=20)
    if out[-1] == b"OK":  # in TLS 1.3 (CPython) only after the handshake: the link then closes
        assert out == [b"CONNECT", b"OK"] and emu.line(timeout=10) == b"CLOSED"
    else:  # in TLS 1.2 (MicroPython's mbedTLS) during it
        assert out == [b"CLOSED", b"ERROR"]
    assert emu.command("AT+CIPSSLCCONF=3,0,0") == [b"OK"]
    assert emu.command('AT+CIPSTART="SSL","localhost",%d' % tls_echo_mutual.port, timeout=20) == [b"CONNECT", b"OK"]
    assert emu.echo_over(b"secret") == b"secret"
    wait_for(lambda: tls_echo_mutual.conns and tls_echo_mutual.conns[-1].peer_cert == test_ca.client.cert_der)


def test_sslcconf_errors(emu, tls_echo):
    emu.online()
    assert emu.command("AT+CIPSSLCCONF=4") == [b"ERROR"]
    assert emu.command("AT+CIPSSLCCONF=2,1,0") == [b"ERROR"]  # one certificate set: ID 0
    assert emu.command("AT+CIPSSLCCONF=2") == [b"OK"]
    assert emu.command('AT+SYSFLASH=0,"client_ca"') == [b"OK"]
    assert emu.command('AT+CIPSTART="SSL","localhost",%d' % tls_echo.port) == [b"ERROR"]  # no CA in flash
    assert emu.command("AT+CIPMUX=1") == [b"OK"]
    assert emu.command("AT+CIPSSLCCONF=1,0,0,0") == [b"OK"]
    assert emu.command("AT+CIPSSLCCONF?") == [b"+CIPSSLCCONF:0,2,0,0", b"OK"]  # link 1 set back to 0


@pytest.mark.parametrize("form", FORMS)
def test_ssl_server(emu, form, test_ca):
    emu.online("AT+CIPMUX=1")
    assert emu.command('AT+CIPSERVER=1,%d,"SSL",0' % 4433) == [b"ERROR"]  # no certificate in flash yet
    flash(emu, "server_cert", cert_of(test_ca.server, form))
    flash(emu, "server_key", key_of(test_ca.server, form))
    flash(emu, "server_ca", cert_of(test_ca.ca, form))
    port = free_port()
    assert emu.command('AT+CIPSERVER=1,%d,"SSL",1' % port) == [b"OK"]
    assert emu.command("AT+CIPSERVER?") == [b'+CIPSERVER:1,%d,"SSL",1' % port, b"OK"]
    ctx = ssl.create_default_context(cadata=test_ca.ca.cert_pem.decode())
    ctx.load_cert_chain(test_ca.client.cert_pem_path, test_ca.client.key_pem_path)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert emu.line(timeout=10) == b"0,CONNECT"
            tls.sendall(b"hello server")
            emu.read_until(b"+IPD,0,12:", 10)
            assert emu.read_exact(12) == b"hello server"
            emu.send(b"AT+CIPSEND=0,5\r\n")
            emu.read_until(b">", 5)
            emu.send(b"reply")
            emu.read_until(b"SEND OK\r\n", 10)
            tls.settimeout(10)
            assert tls.recv(5) == b"reply"


def test_savetranslink_boots_into_passthrough(interp, tcp_echo, udp_echo):
    with tempfile.TemporaryDirectory() as state:
        with Emulator(interp, state=state) as emu:
            emu.online()
            assert emu.command('AT+SAVETRANSLINK=1,"127.0.0.1",%d,"TCP"' % tcp_echo.port) == [b"OK"]
            assert emu.command('AT+SAVETRANSLINK=1,"127.0.0.1",%d,"TCQ"' % tcp_echo.port) == [b"ERROR"]
            assert emu.command("AT+SAVETRANSLINK=1") == [b"ERROR"]
        with Emulator(interp, state=state) as emu:
            wait_for(lambda: tcp_echo.connections == 1, timeout=15, what="the saved link")
            time.sleep(0.3)
            emu.drain(0.3)  # WIFI CONNECTED, WIFI GOT IP came before passthrough began
            emu.send(b"straight through")
            assert emu.read_exact(16, 10) == b"straight through"
            emu.leave_passthrough()
            assert emu.command("AT") == [b"AT", b"OK"]
            assert emu.command('AT+SAVETRANSLINK=1,"127.0.0.1",%d,"UDP",40555' % udp_echo.port) == [b"AT+SAVETRANSLINK=1,\"127.0.0.1\",%d,\"UDP\",40555" % udp_echo.port, b"OK"]
        with Emulator(interp, state=state) as emu:
            time.sleep(1.5)
            emu.drain(0.3)
            emu.send(b"datagram")
            assert emu.read_exact(8, 10) == b"datagram"
            emu.leave_passthrough()
            assert emu.command("ATE0")[-1] == b"OK"
            assert emu.command("AT+SAVETRANSLINK=0") == [b"OK"]
        with Emulator(interp, state=state) as emu:
            assert emu.command("ATE0")[-1] == b"OK"
            assert emu.command("AT") == [b"OK"]  # command mode
