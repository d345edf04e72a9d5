"""Receiving loses nothing (issue 9), under both interpreters against loopback peers: passive mode
(AT+CIPRECVTYPE=1) read the way an ESP-AT 2.x client reads, and active mode's +IPD before CLOSED.

The client model (as the Arduino ESP-AT 2.x libraries do it): ``+IPD,[<id>,]<len>`` tells the total the
link holds; the MCU reads with ``AT+CIPRECVDATA=[<id>,]<its buffer size>``, counts down (a read may bring
more than announced: bytes that came meanwhile), and waits for the next +IPD when it believes the link is
empty. A missing notice stalls it; CLOSED before the last byte
would make it drop the link."""
import re
import time

import pytest

from peers import TcpPeer, pattern

IPD = re.compile(rb"\+IPD,(?:(\d),)?(\d+)")
CLOSED = re.compile(rb"(?:(\d),)?CLOSED")


class PassiveClient:
    """An MCU reading links in passive mode; ``mux``: whether commands and URCs carry a link ID."""

    def __init__(self, emu, mux):
        self.emu, self.mux = emu, mux
        self.available = {}
        self.closed = []  # link IDs in the order their CLOSED came
        self.got = {}

    def urc(self, line):
        m = IPD.fullmatch(line)
        if m:
            self.available[int(m.group(1) or 0)] = int(m.group(2))
            return
        m = CLOSED.fullmatch(line)
        assert m, "unexpected line %r" % line
        link = int(m.group(1) or 0)
        assert not self.available.get(link), "link %d: CLOSED while %d bytes were announced" % (link, self.available[link])
        self.closed.append(link)

    def wait_urc(self, timeout=20):
        self.urc(self.emu.line(timeout=timeout))

    def read(self, link, size):
        """AT+CIPRECVDATA; the URCs written before its response are taken first."""
        self.emu.send(b"AT+CIPRECVDATA=%s%d\r\n" % (b"%d," % link if self.mux else b"", size))
        before = self.emu.read_until(b"+CIPRECVDATA:", 20)[:-len(b"+CIPRECVDATA:")]
        for line in before.split(b"\r\n"):
            if line:
                self.urc(line)
        n = int(self.emu.read_until(b",")[:-1])
        assert 0 < n <= size
        data = self.emu.read_exact(n)
        assert self.emu.read_exact(2) == b"\r\n"
        assert self.emu.line() == b"OK"
        self.available[link] = max(0, self.available.get(link, 0) - n)  # more than announced may have come
        self.got.setdefault(link, bytearray()).extend(data)
        return data

    def read_all(self, link, size, total):
        while len(self.got.get(link, b"")) < total:
            if self.available.get(link):
                self.read(link, size)
            else:
                self.wait_urc()
        return bytes(self.got[link])


def open_link(emu, mux, link, port):
    if mux:
        assert emu.command('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, port)) == [b"%d,CONNECT" % link, b"OK"]
    else:
        assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % port) == [b"CONNECT", b"OK"]


def passive(emu, mux):
    emu.online(*(("AT+CIPMUX=1",) if mux else ()), "AT+CIPRECVTYPE=1")


# ---- the peer sends, then closes at once ---------------------------------------------------------
@pytest.mark.parametrize("mux", [0, 1], ids=["single", "mux"])
@pytest.mark.parametrize("size", [1000, 8192])
def test_peer_sends_then_closes_nothing_lost(emu, tcp_echo, mux, size):
    """5000 bytes, then FIN at once: every byte is readable, CLOSED only after the last one is read."""
    passive(emu, mux)
    tcp_echo.set_mode("sink")
    link = 3 if mux else 0
    open_link(emu, mux, link, tcp_echo.port)
    data = pattern(5000, size)
    conn = tcp_echo.wait_connections(1)[0]
    conn.send(data)
    conn.close()
    client = PassiveClient(emu, mux)
    assert client.read_all(link, size, len(data)) == data
    assert client.closed == []
    client.wait_urc()
    assert client.closed == [link]
    assert emu.command("AT+CIPRECVLEN?")[-1] == b"OK"
    assert emu.command("AT+CIPRECVDATA=%s10" % ("%d," % link if mux else "")) == [b"ERROR"]  # the link is gone


def wait_held(client, want):
    """Ask AT+CIPRECVLEN? until it answers ``want``; URCs before its answers go to the client."""
    for _ in range(200):
        lines = client.emu.command("AT+CIPRECVLEN?")
        for line in lines[:-2]:
            client.urc(line)
        if lines[-2] == want:
            return
        time.sleep(0.05)
    raise AssertionError("AT+CIPRECVLEN? never answered %r (last %r)" % (want, lines))


def test_rst_while_bytes_are_held(emu, tcp_echo):
    """The peer resets the link while it holds 3000 bytes: they stay readable, CLOSED after them."""
    passive(emu, 1)
    tcp_echo.set_mode("sink")
    open_link(emu, 1, 1, tcp_echo.port)
    data = pattern(3000, 11)
    conn = tcp_echo.wait_connections(1)[0]
    conn.send(data)
    client = PassiveClient(emu, 1)
    wait_held(client, b"+CIPRECVLEN:-1,3000,-1,-1,-1")
    conn.reset()
    time.sleep(0.5)  # the module takes the RST while idle
    wait_held(client, b"+CIPRECVLEN:-1,3000,-1,-1,-1")  # still held, and no CLOSED came
    assert client.closed == []
    assert client.read_all(1, 1000, len(data)) == data
    client.wait_urc()
    assert client.closed == [1]


def test_two_bursts_give_one_ipd_with_the_total(emu, tcp_echo):
    """esp-at: +IPD carries the total the link holds; after one, the next comes only after a read."""
    passive(emu, 1)
    tcp_echo.set_mode("sink")
    open_link(emu, 1, 0, tcp_echo.port)
    conn = tcp_echo.wait_connections(1)[0]
    # two bursts arrive while the module is busy (data input of AT+CIPSEND): one +IPD, 2000
    emu.send(b"AT+CIPSEND=0,4\r\n")
    emu.read_until(b">")
    conn.send(pattern(1000, 1))
    conn.send(pattern(1000, 2))
    time.sleep(0.2)  # both are on the module's socket
    emu.send(b"ping")
    assert emu.line() == b"Recv 4 bytes" and emu.line() == b"SEND OK"
    assert emu.line() == b"+IPD,0,2000"
    client = PassiveClient(emu, 1)
    client.available[0] = 2000
    client.read(0, 500)
    # more arrives after a read: +IPD with the total held
    conn.send(pattern(1000, 3))
    client.wait_urc()
    assert client.available[0] == 2500
    # more arrives while that +IPD has not been followed by a read: no +IPD until the read, then the total
    conn.send(pattern(300, 4))
    for _ in range(100):
        lines = emu.command("AT+CIPRECVLEN?")
        assert lines[0].startswith(b"+CIPRECVLEN:"), lines  # no +IPD before the answer
        if lines[0] == b"+CIPRECVLEN:2800,-1,-1,-1,-1":
            break
        time.sleep(0.05)
    assert lines[0] == b"+CIPRECVLEN:2800,-1,-1,-1,-1"
    client.read(0, 100)
    client.wait_urc()
    assert client.available[0] == 2700
    assert emu.command("AT+CIPRECVDATA=0,2147483648") == [b"ERROR"]  # esp-at's <len>: at most 2^31-1
    assert emu.command("AT+CIPRECVDATA=0,0") == [b"ERROR"]
    whole = pattern(1000, 1) + pattern(1000, 2) + pattern(1000, 3) + pattern(300, 4)
    assert client.read(0, 2147483647) == whole[100 + 500:]
    assert emu.command("AT+CIPRECVDATA=0,100") == [b"ERROR"]  # esp-at: nothing held


@pytest.mark.parametrize("mux,size", [(0, 1000), (1, 8192)], ids=["single-1000", "mux-8192"])
def test_ssl_peer_sends_then_closes(emu, tls_echo, mux, size):
    """20000 bytes over TLS, then close_notify and FIN at once: all readable, CLOSED after the last."""
    passive(emu, mux)
    data_size = 20000
    tls_echo.set_mode("source", data_size, 9)
    link = 2 if mux else 0
    lines = emu.command('AT+CIPSTART=%s"SSL","127.0.0.1",%d' % ("%d," % link if mux else "", tls_echo.port), timeout=20)
    assert lines == [b"%d,CONNECT" % link if mux else b"CONNECT", b"OK"]
    client = PassiveClient(emu, mux)
    assert client.read_all(link, size, data_size) == pattern(data_size, 9)
    client.wait_urc()
    assert client.closed == [link]


def test_five_links_one_mib_each_byte_exact(emu):
    """Five links at once, each 1 MiB from a peer that then closes, read with AT+CIPRECVDATA=<id>,8192."""
    size = 1024 * 1024
    passive(emu, 1)
    with TcpPeer("source", size, 21, idle_timeout=300) as peer:
        client = PassiveClient(emu, 1)
        for link in range(5):  # the first links' +IPD may come before the next link's CONNECT
            lines = emu.command('AT+CIPSTART=%d,"TCP","127.0.0.1",%d' % (link, peer.port))
            assert lines[-2:] == [b"%d,CONNECT" % link, b"OK"]
            for line in lines[:-2]:
                client.urc(line)
        while len(client.closed) < 5:
            ready = [link for link in range(5) if client.available.get(link)]
            if ready:
                for link in ready:
                    client.read(link, 8192)
            else:
                client.wait_urc(timeout=30)
        want = pattern(size, 21)
        for link in range(5):
            assert bytes(client.got[link]) == want, "link %d: %d of %d bytes" % (link, len(client.got[link]), size)


# ---- active mode ---------------------------------------------------------------------------------
def next_event(emu, timeout=20):
    """The next +IPD frame as (link, data) or the next line as bytes."""
    deadline = time.monotonic() + timeout
    while True:
        emu.buf = emu.buf.lstrip(b"\r\n")
        if emu.buf.startswith(b"+IPD,") and b":" in emu.buf:
            head = emu.read_until(b":")[len(b"+IPD,"):-1].split(b",")
            link, n = (int(head[0]), int(head[1])) if len(head) > 1 else (0, int(head[0]))
            return link, emu.read_exact(n, timeout)
        if b"\r\n" in emu.buf and not b"+IPD,".startswith(emu.buf[:5]):
            return emu.read_until(b"\r\n")[:-2]
        assert emu._fill(deadline), "nothing more after %r" % emu.buf[-200:]


@pytest.mark.parametrize("links", [1, 3])
def test_active_every_ipd_comes_before_closed(emu, tcp_echo, links):
    """Peers that send 30000 bytes and close at once: each link's +IPD frames carry all of it before its CLOSED."""
    size = 30000
    emu.online(*(("AT+CIPMUX=1",) if links > 1 else ()))
    tcp_echo.set_mode("sink")
    for link in range(links):
        open_link(emu, links > 1, link, tcp_echo.port)
    for conn in tcp_echo.wait_connections(links):
        conn.send(pattern(size, conn.index))
    for conn in tcp_echo.conns:
        conn.close()
    got = {link: bytearray() for link in range(links)}
    closed = []
    while len(closed) < links:
        event = next_event(emu)
        if isinstance(event, tuple):
            assert event[0] not in closed, "link %d: +IPD after CLOSED" % event[0]
            got[event[0]] += event[1]
        else:
            m = CLOSED.fullmatch(event)
            assert m, "unexpected line %r" % event
            link = int(m.group(1) or 0)
            closed.append(link)
    # link i is the i-th connection the peer accepted (the links opened one after the other)
    for link in range(links):
        assert bytes(got[link]) == pattern(size, link), "link %d: CLOSED after %d of %d bytes" % (link, len(got[link]), size)


def test_mcu_closes_a_link_that_still_holds_bytes(emu, tcp_echo):
    """The peer sent and closed; the MCU reads part, then closes the link itself: its CLOSED, nothing after."""
    passive(emu, 1)
    tcp_echo.set_mode("sink")
    open_link(emu, 1, 0, tcp_echo.port)
    conn = tcp_echo.wait_connections(1)[0]
    conn.send(pattern(3000, 8))
    conn.close()
    client = PassiveClient(emu, 1)
    client.wait_urc()
    assert client.read(0, 1000) == pattern(3000, 8)[:1000]
    wait_held(client, b"+CIPRECVLEN:2000,-1,-1,-1,-1")
    assert emu.command("AT+CIPCLOSE=0") == [b"0,CLOSED", b"OK"]
    assert emu.command("AT+CIPRECVLEN?") == [b"+CIPRECVLEN:-1,-1,-1,-1,-1", b"OK"]
    assert client.closed == []


def test_cipdinfo_adds_the_remote_to_ciprecvdata(emu, tcp_echo):
    emu.online("AT+CIPRECVTYPE=1", "AT+CIPDINFO=1")
    tcp_echo.set_mode("sink")
    open_link(emu, 0, 0, tcp_echo.port)
    tcp_echo.wait_connections(1)[0].send(b"abc")
    assert emu.line() == b"+IPD,3"  # passive +IPD has no address: AT+CIPRECVDATA carries it
    emu.send(b"AT+CIPRECVDATA=10\r\n")
    assert emu.read_until(b"\r\nOK\r\n") == b'+CIPRECVDATA:3,"127.0.0.1",%d,abc\r\n\r\nOK\r\n' % tcp_echo.port
