"""ESP-AT TCP/IP commands (seed 004 §5 and 2.x): links 0-4 over TCP, UDP and SSL, the server,
passthrough, passive receive. The links and what they receive (+IPD, passive mode's hold) are in
cmds/tcplinks.py, the server's commands in cmds/tcpserver.py.

Commands whose parameters start with <link ID> when AT+CIPMUX=1 declare both shapes with muxed() and
take their values through link_and() (see there).
"""
import network
from at.compat import ticks_ms, ticks_diff
from at.engine import DONE
from at.modes import PASS_CHUNK
from at.parser import AtError, num, text, E_INVALID, E_EXEC
from cmds import tcplinks
from cmds.tcplinks import Link, MAX_LINKS, links
from net import transport

SEND_MAX = 8192  # AT+CIPSEND's limit (2048 in v1.2, 8192 in 2.x)
RECV_MAX = 0x7FFFFFFF  # AT+CIPRECVDATA's <len> (esp-at)

cipmode = 0  # AT+CIPMODE
pass_target = None  # type: tuple  # passthrough: (kind, host, addr) to reconnect to when the link drops
_checked = 0


def muxed(spec, optional=False):
    """The parameter spec of a command whose parameters start with <link ID> when AT+CIPMUX=1."""
    return ((num(0, MAX_LINKS - 1, optional),) + spec) if tcplinks.mux else spec


def link_and(values):
    """The values of a command declared with muxed(), as (link ID, the others). Its handler takes one
    value more than the single-link form has, the last defaulting to None: link 0 when AT+CIPMUX=0."""
    if tcplinks.mux:
        return values[0], values[1:]
    return 0, values[:-1]


def _watch(at):
    """Once a second, in passthrough: rejoin a dropped link."""
    global _checked
    now = ticks_ms()
    if ticks_diff(now, _checked) < 1000:
        return
    _checked = now
    if at.in_passthrough and links[0] is None and pass_target is not None and not _rejoining:
        at.spawn(_rejoin(at))


_rejoining = False


def _rejoin(at):
    global _rejoining
    _rejoining = True
    yield from _open_pass_link(at, 5000)
    _rejoining = False


def _open_pass_link(at, timeout_ms, udp_port=0):
    """Generator: open link 0 to pass_target for passthrough (after a drop, or at power-up)."""
    kind, host, addr = pass_target
    if kind == "UDP":
        tcplinks.attach(at, Link(0, kind, transport.open_udp(addr, udp_port), addr[:2], 0))
        return
    conn = yield from transport.open_tcp(addr, timeout_ms, _tls(at, kind), host)
    if conn is not None and links[0] is None:
        tcplinks.attach(at, Link(0, kind, conn, addr[:2], 0))
    elif conn is not None:
        conn.close()


# ---- modes ---------------------------------------------------------------------------------------
def q_cipmux(at):
    at.reply("+CIPMUX:%d" % tcplinks.mux)


p_cipmux = (num(0, 1),)


def s_cipmux(at, mode):
    if mode != tcplinks.mux and (any(links) or tcplinks.server is not None or (mode and cipmode)):
        raise AtError(E_EXEC)  # only with no link and no server, and not in passthrough mode
    tcplinks.mux = mode


p_cipdinfo = (num(0, 1),)


def s_cipdinfo(at, on):
    tcplinks.dinfo = on


def q_cipdinfo(at):
    at.reply("+CIPDINFO:%s" % ("TRUE" if tcplinks.dinfo else "FALSE"))


p_cipmode = (num(0, 1),)


def s_cipmode(at, mode):
    global cipmode
    if mode and tcplinks.mux:
        raise AtError(E_EXEC)  # passthrough is for a single link
    cipmode = mode


def q_cipmode(at):
    at.reply("+CIPMODE:%d" % cipmode)


p_ciprecvtype = (num(0, 1),)
p_ciprecvmode = (num(0, 1),)


def s_ciprecvtype(at, mode):
    if any(links):
        raise AtError(E_EXEC)
    tcplinks.passive = mode


def s_ciprecvmode(at, mode):
    """AT+CIPRECVMODE: AT+CIPRECVTYPE's name before esp-at 3.4."""
    return s_ciprecvtype(at, mode)


def q_ciprecvtype(at):
    at.reply("+CIPRECVTYPE:%d" % tcplinks.passive)


def q_ciprecvmode(at):
    at.reply("+CIPRECVMODE:%d" % tcplinks.passive)


# ---- opening links -------------------------------------------------------------------------------
_START = (text(3, 3), text(128, 1), num(1, 65535), num(0, 65535, True), num(0, 2, True))


def p_cipstart():
    return muxed(_START)


def s_cipstart(at, v0, v1, v2, v3, v4, v5=None):
    """AT+CIPSTART=[<link ID>,]<type>,<host>,<port>[,<keepalive>|<UDP local port>[,<UDP mode>]]"""
    index, (kind, host, port, extra, udp_mode) = link_and((v0, v1, v2, v3, v4, v5))
    if kind not in ("TCP", "UDP", "SSL") or (kind != "UDP" and (udp_mode is not None or (extra or 0) > 7200)):
        raise AtError(E_INVALID)
    if links[index] is not None:
        at.reply("ALREADY CONNECTED")
        raise AtError(E_EXEC)
    wifi = at.family("wifi")  # imported here: a session of links alone never needs the Wi-Fi family's code
    if not wifi.sta.isconnected() and not wifi.ap.active():
        raise AtError(E_EXEC)  # no network
    try:
        addr = transport.resolve(host, port)
    except OSError:
        at.reply("DNS Fail")
        raise AtError(E_EXEC)
    return _open(at, index, kind, host, addr, extra, udp_mode)


def _open(at, index, kind, host, addr, extra, udp_mode):
    global pass_target
    if kind == "UDP":
        try:
            conn = transport.open_udp(addr, extra or 0)
        except OSError:
            raise AtError(E_EXEC)
        tcplinks.attach(at, Link(index, kind, conn, addr[:2], 0, udp_mode or 0))
    else:
        conn = yield from transport.open_tcp(addr, 10000, _tls(at, kind, index), host)
        if conn is None:
            at.write(tcplinks.closed_line(index))
            return False
        if extra:
            conn.keepalive(extra)
        tcplinks.attach(at, Link(index, kind, conn, addr[:2], 0))
    if not tcplinks.mux:
        pass_target = (kind, host, addr)
        at.monitor(_watch)
    at.write(b"%d,CONNECT\r\n" % index if tcplinks.mux else b"CONNECT\r\n")
    return None


def _tls(at, kind, index=0):
    """The SSL context of link ``index`` per AT+CIPSSLCCONF: 0 no authentication, 1 our certificate,
    2 verify the server with the CA, 3 both (certificates from esp-at's client_* partitions)."""
    if kind != "SSL":
        return None
    from net import pki  # imported here: only an SSL link needs it

    auth = _ssl_conf(at)[index]
    ctx = pki.client_context(auth & 2, auth & 1)
    if ctx is None:
        raise AtError(E_EXEC)  # a partition holds no certificate
    return ctx


ssl_conf = None  # type: list  # AT+CIPSSLCCONF auth type per link, once _ssl_conf() read it


def _ssl_conf(at):
    """AT+CIPSSLCCONF's auth type per link, as saved (read on first use: this family is imported by its
    first command, not at power-up)."""
    global ssl_conf
    if ssl_conf is None:
        saved = at.store.get_str("sslconf")
        ssl_conf = [int(x) for x in saved.split(",")] if saved else [0] * MAX_LINKS
    return ssl_conf


def p_cipsslcconf():
    return muxed((num(0, 3), num(0, 0, True), num(0, 0, True)), optional=True)


def s_cipsslcconf(at, v0, v1, v2, v3=None):
    """AT+CIPSSLCCONF=[<link ID>,]<type>[,<cert_key_ID>][,<CA_ID>]: one certificate set (ID 0); with
    AT+CIPMUX=1 and no link ID, every link."""
    index, (auth, _, _) = link_and((v0, v1, v2, v3))
    conf = _ssl_conf(at)
    for i in range(MAX_LINKS) if index is None else (index,):
        conf[i] = auth
    at.store.save_bytes("sslconf", ",".join([str(a) for a in conf]))


# ---- sending -------------------------------------------------------------------------------------
_SEND = (num(1, SEND_MAX), text(128, 1, True), num(1, 65535, True))


def p_cipsend():
    return muxed(_SEND)


def s_cipsend(at, v0, v1, v2, v3=None):
    """AT+CIPSEND=[<link ID>,]<length>[,<remote host>,<remote port>] (the host and port for UDP)"""
    index, (length, host, port) = link_and((v0, v1, v2, v3))
    return _send(at, index, length, host, port, False)


def p_cipsendex():
    return muxed(_SEND)


def s_cipsendex(at, v0, v1, v2, v3=None):
    """AT+CIPSENDEX: AT+CIPSEND whose data also ends at the two bytes \\0."""
    index, (length, host, port) = link_and((v0, v1, v2, v3))
    return _send(at, index, length, host, port, True)


def _send(at, index, length, host, port, cut):
    link = links[index]
    if link is None or link.ended or cipmode:
        raise AtError(E_EXEC)  # no such link; in passthrough mode AT+CIPSEND takes no parameters
    to = None
    if host is not None or port is not None:
        if link.kind != "UDP" or host is None or port is None:
            raise AtError(E_INVALID)
        try:
            to = transport.resolve(host, port)[2]
        except OSError:
            raise AtError(E_EXEC)
    data = yield from at.receive(length, 20000, cut=cut)
    if data is None:
        return False
    at.write(b"\r\nRecv %d bytes\r\n" % len(data))
    ok = yield from link.conn.send_all(data, to, 10000)
    link.last = ticks_ms()
    at.write(b"\r\nSEND OK\r\n" if ok else b"\r\nSEND FAIL\r\n")
    return DONE


def e_cipsend(at):
    """Passthrough (AT+CIPMODE=1, one TCP/SSL link or UDP with a fixed peer): OK, '>', then raw bytes."""
    link = links[0]
    if not cipmode or tcplinks.mux or link is None or link.udp_mode:
        raise AtError(E_EXEC)
    tcplinks.frames()
    at.write(b"\r\nOK\r\n\r\n>")
    at.passthrough(_PassSink(at))
    return DONE


class _PassSink:
    """Where passthrough's bytes go: link 0 (rejoined by the monitor if it drops)."""

    def __init__(self, at):
        self.at = at

    def send(self, buf, off, n):
        """TCP/SSL in one write; OSError when the link is gone (its reader then reports it)."""
        link = links[0]
        if link is None:
            return
        if link.kind == "UDP":
            self._datagrams(link, buf, off, n)
        elif not link.conn.write_all(buf, off, n):
            tcplinks.dropped(self.at, link)

    def _datagrams(self, link, buf, off, n):
        """UDP goes in datagrams of at most PASS_CHUNK (2048) bytes, as v1.2 sends them."""
        data = memoryview(buf)[off : off + n]
        for i in range(0, n, PASS_CHUNK):
            if not link.conn.send_blocking(data[i : i + PASS_CHUNK], transport.WRITE_WAIT_MS):
                tcplinks.dropped(self.at, link)
                return

    def exit(self):
        if self.at.sysmsg & 1:
            self.at.write(b"\r\n+QUITT\r\n")
        if links[0] is None and pass_target is not None:
            self.at.urc(b"CLOSED\r\n")


# ---- closing and state ---------------------------------------------------------------------------
def e_cipclose(at):
    if tcplinks.mux or links[0] is None:
        raise AtError(E_EXEC)
    tcplinks.close(at, links[0], report=False)
    at.reply("CLOSED")


p_cipclose = (num(0, MAX_LINKS),)


def s_cipclose(at, index):
    """AT+CIPCLOSE=<link ID> (AT+CIPMUX=1); 5 closes them all."""
    if not tcplinks.mux:
        raise AtError(E_EXEC)
    closing = [link for link in (links if index == MAX_LINKS else [links[index]]) if link is not None]
    if not closing:
        raise AtError(E_EXEC)
    for link in closing:
        tcplinks.close(at, link, report=False)
        at.reply("%d,CLOSED" % link.index)


def _link_lines(prefix):
    return ['%s:%d,"%s","%s",%d,%d,%d' % (prefix, link.index, link.kind, link.remote[0], link.remote[1],
                                          link.conn.local_port, link.served)
            for link in links if link is not None]


def q_cipstate(at):
    for line in _link_lines("+CIPSTATE"):
        at.reply(line)


def e_cipstatus(at):
    """STATUS:<2 got IP, 3 linked, 4 links closed, 5 no IP>, then +CIPSTATUS per link (v1.2)."""
    if not at.family("wifi").sta.isconnected():
        stat = 5
    elif any(links):
        stat = 3
    else:
        stat = 4 if tcplinks.ever_linked else 2
    at.reply("STATUS:%d" % stat)
    for line in _link_lines("+CIPSTATUS"):
        at.reply(line)


def q_cipsslcconf(at):
    conf = _ssl_conf(at)
    for i in range(MAX_LINKS):
        if conf[i]:
            at.reply("+CIPSSLCCONF:%d,%d,0,0" % (i, conf[i]))


# ---- names ---------------------------------------------------------------------------------------
p_cipdomain = (text(128, 1),)


def s_cipdomain(at, name):
    """+CIPDOMAIN:"<ip>", quoted as esp-at 2.x and later answer (v1.2 had no quotes)."""
    try:
        at.reply('+CIPDOMAIN:"%s"' % transport.resolve(name, 0)[0])
    except OSError:
        raise AtError(E_EXEC)


p_cipdns = (num(0, 1), text(15, opt=True), text(15, opt=True), text(15, opt=True))


def s_cipdns(at, enable, dns0, dns1, dns2):
    servers = [d for d in (dns0, dns1, dns2) if d] if enable else []
    wifi = at.family("wifi")
    for i in range(len(servers)):
        wifi.parse_ip(servers[i], i + 1)
    if len(servers) != len(set(servers)):
        raise AtError(E_INVALID)  # two servers must differ (the manual)
    if enable and not servers:
        servers = ["208.67.222.222"]  # the manual's default
    network.ipconfig(dns=servers[0] if servers else wifi.sta.ifconfig()[2])
    at.store.save_bytes("dns", ",".join(servers))


def q_cipdns(at):
    saved = at.store.get_str("dns", "")
    for d in saved.split(",") if saved else [network.ipconfig("dns")]:
        at.reply("+CIPDNS:%s" % d)


# ---- passive receive (2.x) -----------------------------------------------------------------------
def p_ciprecvdata():
    return muxed((num(1, RECV_MAX),))


def s_ciprecvdata(at, v0, v1=None):
    """AT+CIPRECVDATA=[<link ID>,]<len>: what the link holds, at most <len> (esp-at: up to 2^31-1);
    ERROR when it holds nothing (esp-at)."""
    index, (length,) = link_and((v0, v1))
    link = links[index]
    if not tcplinks.passive or link is None or not link.held():
        raise AtError(E_EXEC)
    tcplinks.read_held(at, link, length)


def q_ciprecvlen(at):
    at.reply("+CIPRECVLEN:" + ",".join([str(link.held()) if link else "-1" for link in links]))


# ---- passthrough at power-up (AT+SAVETRANSLINK: cmds/translink.py) ----------------------------------
def start_saved(at, saved):
    """At power-up: open the link AT+SAVETRANSLINK saved (``saved`` as it stored it) once the station has
    an address, and pass through."""
    kind, port, extra, host = saved.split(",", 3)
    at.spawn(_boot_passthrough(at, kind, host, int(port), int(extra)))


def _boot_passthrough(at, kind, host, port, extra):
    global cipmode, pass_target
    wifi = at.family("wifi")
    while True:
        while not wifi.sta.isconnected():
            yield 200
        try:
            addr = transport.resolve(host, port)
            break
        except OSError:
            yield 1000
    cipmode = 1
    pass_target = (kind, host, addr)
    at.monitor(_watch)
    tcplinks.frames()
    yield from _open_pass_link(at, 10000, extra)  # when it fails, the monitor keeps trying, as in any passthrough
    at.passthrough(_PassSink(at))
