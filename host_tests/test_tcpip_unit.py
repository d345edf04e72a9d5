"""The TCP/IP family in-process (host_tests/inproc.py): parameter shapes that follow AT+CIPMUX (muxed() and
link_and() in cmds/tcpip.py) and buffers made on first use, not at import."""
import socket
import sys
import time

import pytest

from inproc import InProc


@pytest.fixture
def at():
    engine = InProc()
    yield engine
    engine.close()


def test_cipsslcconf_takes_a_link_id_only_with_cipmux(at):
    assert at.cmd("AT+CIPSSLCCONF=2") == ["OK"]  # single link: <type> only
    assert at.cmd("AT+CIPSSLCCONF?") == ["+CIPSSLCCONF:0,2,0,0", "OK"]
    assert at.cmd("AT+CIPSSLCCONF=3,1") == ["ERROR"]  # single link: <cert_key_ID> is 0
    assert at.cmd("AT+CIPMUX=1") == ["OK"]
    assert at.cmd("AT+CIPSSLCCONF=3,1") == ["OK"]  # <link ID>,<type>
    assert at.cmd("AT+CIPSSLCCONF?") == ["+CIPSSLCCONF:0,2,0,0", "+CIPSSLCCONF:3,1,0,0", "OK"]
    assert at.cmd("AT+CIPSSLCCONF=,3") == ["OK"]  # no link ID: every link
    assert at.cmd("AT+CIPSSLCCONF?") == ["+CIPSSLCCONF:%d,3,0,0" % i for i in range(5)] + ["OK"]
    assert at.cmd("AT+CIPSSLCCONF=5,1") == ["ERROR"]


def test_link_id_first_with_cipmux(at):
    assert at.cmd("AT+CIPRECVTYPE=1") == ["OK"]
    assert at.cmd("AT+CIPSEND=0,5") == ["ERROR"]  # single link: 0 is not a length
    assert at.cmd("AT+CIPRECVDATA=2147483647") == ["ERROR"]  # in range, but no link
    assert at.cmd("AT+CIPRECVDATA=0,10") == ["ERROR"]  # too many values
    assert at.cmd("AT+CIPMUX=1") == ["OK"]
    assert at.cmd("AT+CIPRECVDATA=10") == ["ERROR"]  # <link ID> missing
    assert at.cmd("AT+CIPRECVDATA=5,10") == ["ERROR"]  # links 0-4
    assert at.cmd("AT+CIPSTART=\"TCP\",\"127.0.0.1\",80") == ["ERROR"]


def test_buffers_are_made_on_first_use(at, tcp_echo):
    """Passive mode: a link's 5760-byte hold comes with its first bytes; the active read buffer never."""
    assert "cmds.tcpip" not in sys.modules  # no link saved (AT+SAVETRANSLINK): the family waits for its first command
    assert at.cmd("AT+CWMODE=2") == ["OK"]  # a network (the SoftAP) without joining an AP
    assert at.cmd("AT+CIPRECVTYPE=1") == ["OK"]
    tcplinks = sys.modules["cmds.tcplinks"]
    assert tcplinks._rx is None
    assert at.cmd('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == ["CONNECT", "OK"]
    link = tcplinks.links[0]
    assert link.hold is None
    at.send(b"AT+CIPSEND=3\r\n")
    at.settle()
    assert at.uart.take() == b"\r\nOK\r\n\r\n>"
    at.send(b"abc")
    assert at.read_lines() == ["Recv 3 bytes", "SEND OK"]
    assert at.read_lines(final=(b"+IPD,3",)) == ["+IPD,3"]
    assert len(link.hold) == tcplinks._HEAD + tcplinks.WINDOW + 2 and tcplinks._rx is None
    assert at.cmd("AT+CIPRECVDATA=3") == ["+CIPRECVDATA:3,abc", "OK"]


def test_a_read_in_the_same_pass_as_new_bytes_leaves_no_stale_ipd(at):
    """Bytes arrive and are announced (+IPD queued), and the MCU's AT+CIPRECVDATA runs before the queue is
    written (one loop pass took both): the read takes them, so the queued +IPD must not go out after it."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    assert at.cmd("AT+CWMODE=2") == ["OK"]
    assert at.cmd("AT+CIPRECVTYPE=1") == ["OK"]
    assert at.cmd('AT+CIPSTART="TCP","127.0.0.1",%d' % srv.getsockname()[1]) == ["CONNECT", "OK"]
    peer, _ = srv.accept()
    try:
        tcplinks = sys.modules["cmds.tcplinks"]
        peer.sendall(b"abc")
        assert at.read_lines(final=(b"+IPD,3",)) == ["+IPD,3"]
        assert at.cmd("AT+CIPRECVDATA=3") == ["+CIPRECVDATA:3,abc", "OK"]
        peer.sendall(b"defg")
        time.sleep(0.2)
        tcplinks._receive(at.engine, tcplinks.links[0])  # the socket's turn in the pass: +IPD,4 queued
        at.engine.execute(b"AT+CIPRECVDATA=10")  # the UART's turn in the same pass
        assert at.read_lines() == ["+CIPRECVDATA:4,defg", "OK"]
        at.settle(100)
        assert at.uart.take() == b""  # no +IPD,4 for bytes already read
    finally:
        peer.close()
        srv.close()
