"""The TCP/IP commands against real peers on loopback (host_tests/peers.py), under both interpreters:
links, +IPD in every form, UDP, the server, passive receive, passthrough, and the error paths."""
import re
import socket
import time

import pytest

from peers import free_port, pattern, wait_for

def send(emu, command, data):
    """AT+CIPSEND-style: the command, '>', the data; returns the lines after the data up to SEND OK/FAIL."""
    emu.send(command.encode() + b"\r\n")
    assert emu.read_until(b">", 5).endswith(b"\r\nOK\r\n\r\n>")
    emu.send(data)
    lines = []
    while not lines or lines[-1] not in (b"SEND OK", b"SEND FAIL", b"ERROR"):
        lines.append(emu.line())
    return lines


def read_ipd(emu, timeout=10):
    """The fields of the next +IPD header: [<len>] or [<id>, <len>], then "ip", port with AT+CIPDINFO=1."""
    emu.read_until(b"+IPD,", timeout)
    head = emu.read_until(b":", timeout)[:-1].decode().split(",")
    return head


# ---- single link -----------------------------------------------------------------------------------
def test_tcp_link_send_receive_close(emu, tcp_echo):
    emu.online()
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == [b"CONNECT", b"OK"]
    assert emu.command("AT+CIPSTATUS")[0] == b"STATUS:3"
    assert send(emu, "AT+CIPSEND=5", b"hello") == [b"Recv 5 bytes", b"SEND OK"]
    head = read_ipd(emu)
    assert head == ["5"] and emu.read_exact(5) == b"hello"
    # what the peer sends by itself arrives as +IPD too, in pieces of at most 1460 bytes
    wait_for(lambda: tcp_echo.connections == 1)
    big = pattern(4000, 7)
    tcp_echo.conns[0].send(big)
    got = b""
    while len(got) < len(big):
        n = int(read_ipd(emu)[0])
        assert n <= 1460
        got += emu.read_exact(n)
    assert got == big
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == [b"ALREADY CONNECTED", b"ERROR"]
    assert emu.command("AT+CIPCLOSE") == [b"CLOSED", b"OK"]
    assert emu.command("AT+CIPSTATUS") == [b"STATUS:4", b"OK"]
    assert emu.command("AT+CIPCLOSE") == [b"ERROR"]


def test_the_peer_closing_gives_closed(emu, tcp_echo):
    emu.online()
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    wait_for(lambda: tcp_echo.connections == 1)
    tcp_echo.conns[0].close()
    assert emu.line(timeout=5) == b"CLOSED"
    assert emu.command("AT+CIPSTATE?") == [b"OK"]


def test_send_ok_comes_before_the_reply(emu, tcp_echo):
    emu.online("AT+CIPMUX=1")
    assert emu.command('AT+CIPSTART=0,"TCP","127.0.0.1",%d' % tcp_echo.port) == [b"0,CONNECT", b"OK"]
    for _ in range(20):
        emu.send(b"AT+CIPSEND=0,4\r\n")
        emu.read_until(b">")
        emu.send(b"ping")
        out = emu.read_until(b"ping", 5)  # the echo's +IPD
        assert out.index(b"SEND OK") < out.index(b"+IPD,0,4:")


def test_refused_and_unresolvable(emu):
    emu.online()
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % free_port()) == [b"CLOSED", b"ERROR"]
    assert emu.command('AT+CIPSTART="TCP","no-such-host.invalid",80') == [b"DNS Fail", b"ERROR"]
    assert emu.command('AT+CIPSTART="TCQ","127.0.0.1",80') == [b"ERROR"]
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",0') == [b"ERROR"]
    assert emu.command('AT+CIPSTART=0,"TCP","127.0.0.1",80') == [b"ERROR"]  # a <link ID> needs AT+CIPMUX=1


def test_no_network_no_link(emu, tcp_echo):
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == [b"ERROR"]
    assert emu.command("AT+CIPSTATUS") == [b"STATUS:5", b"OK"]


def test_cipsend_errors(emu, tcp_echo):
    emu.online()
    assert emu.command("AT+CIPSEND=5") == [b"ERROR"]  # no link
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    assert emu.command("AT+CIPSEND=0") == [b"ERROR"]
    assert emu.command("AT+CIPSEND=8193") == [b"ERROR"]
    assert emu.command('AT+CIPSEND=5,"127.0.0.1",9') == [b"ERROR"]  # a remote only for UDP
    assert emu.command("AT+CIPSEND") == [b"ERROR"]  # passthrough needs AT+CIPMODE=1


def test_surplus_bytes_after_the_data_are_busy(emu, tcp_echo):
    emu.online()
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    emu.send(b"AT+CIPSEND=4\r\n")
    emu.read_until(b">")
    emu.send(b"abcdEXTRA")
    out = emu.read_until(b"SEND OK\r\n", 5) + emu.drain(0.5)
    assert b"busy p..." in out
    wait_for(lambda: tcp_echo.received and tcp_echo.received[0] == b"abcd")


def test_cipsendex_ends_at_backslash_zero(emu, tcp_echo):
    emu.online()
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    assert send(emu, "AT+CIPSENDEX=100", b"ab\\\\0c\\0")[-1] == b"SEND OK"
    wait_for(lambda: tcp_echo.received and bytes(tcp_echo.received[0]) == b"ab\\0c")


# ---- several links -------------------------------------------------------------------------------
def test_mux_rules(emu, tcp_echo):
    emu.online()
    assert emu.command("AT+CIPMUX?") == [b"+CIPMUX:0", b"OK"]
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    assert emu.command("AT+CIPMUX=1") == [b"ERROR"]  # not while a link is open
    assert emu.command("AT+CIPCLOSE") == [b"CLOSED", b"OK"]
    assert emu.command("AT+CIPMUX=1") == [b"OK"]
    assert emu.command("AT+CIPMODE=1") == [b"ERROR"]  # passthrough is single-link
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == [b"ERROR"]  # needs <link ID>
    for i in (4, 0):
        assert emu.command('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (i, tcp_echo.port)) == [b"%d,CONNECT" % i, b"OK"]
    state = emu.command("AT+CIPSTATE?")
    assert [line[:14] for line in state[:-1]] == [b'+CIPSTATE:0,"T', b'+CIPSTATE:4,"T']
    assert re.fullmatch(rb'\+CIPSTATE:0,"TCP","127.0.0.1",%d,\d+,0' % tcp_echo.port, state[0])
    assert emu.command("AT+CIPCLOSE=3") == [b"ERROR"]
    assert emu.command("AT+CIPCLOSE=5") == [b"0,CLOSED", b"4,CLOSED", b"OK"]


def test_five_links_256_kb_each_byte_exact(emu, tcp_echo):
    """Five links at once, each sending 256 KB through AT+CIPSEND and getting it back as +IPD."""
    emu.online("AT+CIPMUX=1")
    size, piece = 256 * 1024, 8192
    data = [pattern(size, seed) for seed in range(5)]
    for i in range(5):
        assert emu.command('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (i, tcp_echo.port))[-1] == b"OK"
    got = [bytearray() for _ in range(5)]
    for offset in range(0, size, piece):
        for i in range(5):
            emu.send(b"AT+CIPSEND=%d,%d\r\n" % (i, piece))
            _collect(emu, got, b">")
            emu.send(data[i][offset:offset + piece])
            _collect(emu, got, b"SEND OK\r\n")
    deadline = time.monotonic() + 60
    while any(len(g) < size for g in got) and time.monotonic() < deadline:
        _collect(emu, got, None)
    for i in range(5):
        assert bytes(got[i]) == data[i], "link %d: %d of %d bytes" % (i, len(got[i]), size)


def _collect(emu, got, until):
    """Read until ``until`` (or one +IPD when None), taking every +IPD on the way into ``got``."""
    while True:
        if until is not None and until in emu.buf and (b"+IPD," not in emu.buf or emu.buf.index(until) < emu.buf.index(b"+IPD,")):
            emu.read_until(until)
            return
        if b"+IPD," in emu.buf and b":" in emu.buf[emu.buf.index(b"+IPD,"):]:
            emu.read_until(b"+IPD,")
            link, n = emu.read_until(b":")[:-1].split(b",")[:2]
            got[int(link)] += emu.read_exact(int(n))
            if until is None:
                return
            continue
        if not emu._fill(time.monotonic() + 10):
            raise AssertionError("stalled waiting for %r: %r" % (until, emu.buf[-200:]))


# ---- +IPD forms ----------------------------------------------------------------------------------
def test_cipdinfo_adds_the_remote_address(emu, tcp_echo):
    emu.online("AT+CIPDINFO=1")
    assert emu.command("AT+CIPDINFO?") == [b"+CIPDINFO:TRUE", b"OK"]
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    send(emu, "AT+CIPSEND=3", b"abc")
    assert read_ipd(emu) == ["3", '"127.0.0.1"', str(tcp_echo.port)]
    assert emu.read_exact(3) == b"abc"


def test_udp_link_fixed_and_changing_remote(emu, udp_echo):
    emu.online()
    first, second = free_port(), free_port()  # local ports the MCU chooses: free ones, not fixed numbers
    assert emu.command('AT+CIPSTART="UDP","127.0.0.1",%d,%d,0' % (udp_echo.port, first)) == [b"CONNECT", b"OK"]
    assert re.search(rb'\+CIPSTATE:0,"UDP","127.0.0.1",%d,%d,0' % (udp_echo.port, first), b"\n".join(emu.command("AT+CIPSTATE?")))
    send(emu, "AT+CIPSEND=4", b"dgr1")
    assert read_ipd(emu) == ["4"] and emu.read_exact(4) == b"dgr1"
    assert emu.command('AT+CIPSTART="UDP","127.0.0.1",%d,%d,1' % (udp_echo.port, first)) == [b"ALREADY CONNECTED", b"ERROR"]
    assert emu.command("AT+CIPCLOSE") == [b"CLOSED", b"OK"]
    # mode 2: the remote follows whoever sent last; AT+CIPSEND may name a remote
    assert emu.command('AT+CIPSTART="UDP","127.0.0.1",%d,%d,2' % (udp_echo.port, second))[-1] == b"OK"
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.sendto(b"from-other", ("127.0.0.1", second))
    assert read_ipd(emu) == ["10"] and emu.read_exact(10) == b"from-other"
    send(emu, "AT+CIPSEND=5", b"reply")
    other.settimeout(5)
    assert other.recvfrom(100)[0] == b"reply"
    send(emu, 'AT+CIPSEND=3,"127.0.0.1",%d' % udp_echo.port, b"xyz")
    assert read_ipd(emu) == ["3"] and emu.read_exact(3) == b"xyz"
    other.close()


# ---- passive receive (2.x) -----------------------------------------------------------------------
def test_passive_receive(emu, tcp_echo):
    emu.online("AT+CIPMUX=1", "AT+CIPRECVTYPE=1")
    assert emu.command("AT+CIPRECVMODE?") == [b"+CIPRECVMODE:1", b"OK"]
    assert emu.command('AT+CIPSTART=1,"TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    send(emu, "AT+CIPSEND=1,6", b"abcdef")
    assert emu.line(timeout=5) == b"+IPD,1,6"
    assert emu.command("AT+CIPRECVLEN?") == [b"+CIPRECVLEN:-1,6,-1,-1,-1", b"OK"]
    emu.send(b"AT+CIPRECVDATA=1,4\r\n")
    assert emu.read_until(b"OK\r\n", 5).startswith(b"+CIPRECVDATA:4,abcd\r\n")
    emu.send(b"AT+CIPRECVDATA=1,100\r\n")
    assert emu.read_until(b"OK\r\n", 5).startswith(b"+CIPRECVDATA:2,ef\r\n")
    assert emu.command("AT+CIPRECVTYPE=0") == [b"ERROR"]  # not while a link is open
    assert emu.command("AT+CIPRECVDATA=0,10") == [b"ERROR"]


def test_passive_receive_holds_the_peer_when_full(emu, tcp_echo):
    emu.online("AT+CIPRECVMODE=1")
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    wait_for(lambda: tcp_echo.connections == 1)
    big = pattern(20000, 3)
    tcp_echo.conns[0].send(big)
    time.sleep(1)
    got = b""
    while len(got) < len(big):
        emu.drain(0.1)
        emu.send(b"AT+CIPRECVDATA=2920\r\n")
        out = emu.read_until(b"\r\nOK\r\n", 5)
        m = re.search(rb"\+CIPRECVDATA:(\d+),", out)
        n = int(m.group(1))
        got += out[m.end():m.end() + n]
    assert got == big


# ---- the server ----------------------------------------------------------------------------------
def test_server_accepts_clients(emu, connect_client):
    emu.online()
    port = free_port()
    assert emu.command("AT+CIPSERVER=1,%d" % port) == [b"ERROR"]  # needs AT+CIPMUX=1
    assert emu.command("AT+CIPMUX=1") == [b"OK"]
    assert emu.command("AT+CIPSERVER=1,%d" % port) == [b"OK"]
    assert emu.command("AT+CIPSERVER=1,%d" % port) == [b"ERROR"]  # one server
    assert emu.command("AT+CIPSERVER?") == [b'+CIPSERVER:1,%d,"TCP",0' % port, b"OK"]
    client = connect_client(port, retry_for=5)
    assert emu.line(timeout=5) == b"0,CONNECT"
    client.send(b"from client")
    assert read_ipd(emu) == ["0", "11"] and emu.read_exact(11) == b"from client"
    send(emu, "AT+CIPSEND=0,6", b"to you")
    assert client.recv_exact(6) == b"to you"
    client.close()
    assert emu.line(timeout=5) == b"0,CLOSED"
    assert emu.command("AT+CIPMUX=0") == [b"ERROR"]  # not while the server runs
    assert emu.command("AT+CIPSERVER=0") == [b"OK"]
    assert emu.command("AT+CIPSERVER=0") == [b"ERROR"]


def test_server_max_clients_and_idle_timeout(emu, connect_client):
    emu.online("AT+CIPMUX=1", "AT+CIPSERVERMAXCONN=1", "AT+CIPSTO=2")
    assert emu.command("AT+CIPSERVERMAXCONN?") == [b"+CIPSERVERMAXCONN:1", b"OK"]
    assert emu.command("AT+CIPSTO?") == [b"+CIPSTO:2", b"OK"]
    port = free_port()
    assert emu.command("AT+CIPSERVER=1,%d" % port) == [b"OK"]
    assert emu.command("AT+CIPSERVERMAXCONN=2") == [b"ERROR"]  # set it before the server starts
    first = connect_client(port, retry_for=5)
    assert emu.line(timeout=5) == b"0,CONNECT"
    second = connect_client(port)
    assert second.recv_all(timeout=5) == b""  # turned away
    assert emu.line(timeout=6) == b"0,CLOSED"  # idle for longer than AT+CIPSTO
    assert first.recv_all(timeout=5) == b""
    assert emu.command("AT+CIPSTO=7201") == [b"ERROR"]


# ---- passthrough ---------------------------------------------------------------------------------
def test_passthrough_echo_and_plus_plus_plus(emu, tcp_echo):
    emu.online("AT+CIPMODE=1")
    assert emu.command("AT+CIPMODE?") == [b"+CIPMODE:1", b"OK"]
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    emu.send(b"AT+CIPSEND\r\n")
    assert emu.read_until(b">", 5).endswith(b"\r\nOK\r\n\r\n>")
    emu.send(b"raw bytes, no +IPD\r\n")
    assert emu.read_exact(20, 5) == b"raw bytes, no +IPD\r\n"
    emu.leave_passthrough()
    assert emu.command("AT") == [b"OK"]
    assert emu.command("AT+CIPSEND=3") == [b"ERROR"]  # AT+CIPMODE=1: AT+CIPSEND takes no length
    emu.send(b"AT+CIPSEND\r\n")
    emu.read_until(b">", 5)
    emu.send(b"again")
    assert emu.read_exact(5, 5) == b"again"
    emu.leave_passthrough()
    assert emu.command("AT+CIPMODE=0") == [b"OK"]


def test_passthrough_needs_a_link(emu):
    emu.online("AT+CIPMODE=1")
    assert emu.command("AT+CIPSEND") == [b"ERROR"]


def test_passthrough_rejoins_a_dropped_link(emu, tcp_echo):
    emu.online("AT+CIPMODE=1")
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    emu.send(b"AT+CIPSEND\r\n")
    emu.read_until(b">", 5)
    wait_for(lambda: tcp_echo.connections == 1)
    tcp_echo.conns[0].close()
    wait_for(lambda: tcp_echo.connections == 2, timeout=10, what="the module rejoining")
    emu.send(b"after the drop")
    assert emu.read_exact(14, 5) == b"after the drop"
    emu.leave_passthrough()
    assert emu.command("AT") == [b"OK"]


def test_ten_megabytes_through_passthrough_byte_exact(interp, tcp_echo):
    """10 MB from the UART to a TCP sink through passthrough, under MicroPython; no byte lost."""
    if interp != "micropython":
        pytest.skip("the 10 MB run is for MicroPython, the chip's interpreter")
    from harness import Emulator
    tcp_echo.set_mode("sink")
    with Emulator(interp) as emu:
        emu.online("AT+CIPMODE=1")
        assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
        emu.send(b"AT+CIPSEND\r\n")
        emu.read_until(b">", 5)
        total, chunk = 10 * 1024 * 1024, 65536
        import hashlib
        digest = hashlib.sha256()
        for offset in range(0, total, chunk):
            block = pattern(chunk, offset // chunk)
            digest.update(block)
            emu.send(block)
        conn = tcp_echo.conns[0]
        conn.wait_received(total, timeout=120)
        assert conn.count == total and conn.sha256 == digest.hexdigest()
        emu.leave_passthrough()
        assert emu.command("AT") == [b"OK"]


# ---- names ---------------------------------------------------------------------------------------
def test_cipdomain(emu):
    emu.online()
    assert emu.command('AT+CIPDOMAIN="localhost"') == [b'+CIPDOMAIN:"127.0.0.1"', b"OK"]
    assert emu.command('AT+CIPDOMAIN="127.0.0.1"') == [b'+CIPDOMAIN:"127.0.0.1"', b"OK"]
    assert emu.command('AT+CIPDOMAIN="no-such-host.invalid"') == [b"ERROR"]


def test_tls_link_without_verification(emu, tls_echo):
    emu.online()
    assert emu.command('AT+CIPSTART="SSL","127.0.0.1",%d' % tls_echo.port, timeout=20) == [b"CONNECT", b"OK"]
    send(emu, "AT+CIPSEND=9", b"over tls!")
    assert read_ipd(emu) == ["9"] and emu.read_exact(9) == b"over tls!"
    assert emu.command("AT+CIPCLOSE") == [b"CLOSED", b"OK"]
