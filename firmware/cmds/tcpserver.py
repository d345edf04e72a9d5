"""ESP-AT TCP/IP server commands (seed 004 §5): AT+CIPSERVER, AT+CIPSERVERMAXCONN, AT+CIPSTO. The clients it
accepts become links of cmds/tcplinks.py like any other (``<id>,CONNECT``, +IPD, AT+CIPSEND, CLOSED)."""
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError, num, text, E_INVALID, E_EXEC
from cmds import tcplinks
from cmds.tcplinks import MAX_LINKS, links
from net import transport

server_timeout = 180  # AT+CIPSTO, seconds
_checked = 0


def _drop_idle(at):
    """Once a second: close server clients idle past AT+CIPSTO."""
    global _checked
    now = ticks_ms()
    if ticks_diff(now, _checked) < 1000:
        return
    _checked = now
    for link in links:
        if link is not None and link.served and server_timeout and ticks_diff(now, link.last) > server_timeout * 1000:
            tcplinks.close(at, link)


# ---- the server ----------------------------------------------------------------------------------
p_cipserver = (num(0, 1), num(1, 65535, True), text(3, opt=True), num(0, 1, True))


def s_cipserver(at, mode, port, kind, ca):
    """AT+CIPSERVER=<mode>[,<port>][,"SSL",<CA enable>]: one server (default port 333), needs AT+CIPMUX=1."""
    if not tcplinks.mux:
        raise AtError(E_EXEC)
    if mode == 0:
        if tcplinks.server is None:
            raise AtError(E_EXEC)
        tcplinks.stop_server(at)
        return None
    if tcplinks.server is not None:
        raise AtError(E_EXEC)
    tls = None
    if kind is not None:
        if kind != "SSL":
            raise AtError(E_INVALID | 2)
        from net import pki  # only an SSL server reads the server_* partitions

        cert = (pki.read("server_cert"), pki.read("server_key"))
        ca_cert = pki.read("server_ca") if ca else None
        if None in cert or (ca and ca_cert is None):
            raise AtError(E_EXEC)  # the server_* partitions hold no certificate
        tls = transport.tls_context(ca_cert, cert, server=True)
    try:
        tcplinks.start_server(at, transport.Server(port or 333, kind or "TCP", ca or 0, tls))
    except OSError:
        raise AtError(E_EXEC)
    at.monitor(_drop_idle)


def q_cipserver(at):
    srv = tcplinks.server
    at.reply('+CIPSERVER:1,%d,"%s",%d' % (srv.port, srv.kind, srv.ca) if srv else "+CIPSERVER:0")


p_cipservermaxconn = (num(1, MAX_LINKS),)


def s_cipservermaxconn(at, n):
    if tcplinks.server is not None:
        raise AtError(E_EXEC)  # the manual: set it before the server starts
    tcplinks.server_maxconn = n


def q_cipservermaxconn(at):
    at.reply("+CIPSERVERMAXCONN:%d" % tcplinks.server_maxconn)


p_cipsto = (num(0, 7200),)


def s_cipsto(at, seconds):
    global server_timeout
    server_timeout = seconds


def q_cipsto(at):
    at.reply("+CIPSTO:%d" % server_timeout)
