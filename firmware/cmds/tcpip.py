"""ESP-AT TCP/IP commands (seed 004 §5 and 2.x): links 0-4 over TCP, UDP and SSL, +IPD, the server,
passthrough, passive receive.

A link's socket is read only while the module is idle (engine.watch): what arrives goes out at once as
+IPD (or waits for AT+CIPRECVDATA in passive mode), never inside a response; while the module is busy,
TCP's own flow control holds the peer. Commands whose parameters start with <link ID> when
AT+CIPMUX=1 declare both shapes (the ``p_`` function picks one).
"""
import network
from at.compat import ticks_ms, ticks_diff
from at.engine import DONE, PASS_CHUNK
from at.parser import AtError, num, text, E_INVALID, E_EXEC
from cmds import wifi
from net import pki, transport

MAX_LINKS = 5
IPD_MAX = 1460  # an +IPD carries at most this much
SEND_MAX = 8192  # AT+CIPSEND's limit (2048 in v1.2, 8192 in 2.x)
PASSIVE_MAX = 2920  # what a link keeps for AT+CIPRECVDATA before it stops reading

links = [None] * MAX_LINKS  # type: list
mux = 0  # AT+CIPMUX
dinfo = 0  # AT+CIPDINFO
passive = 0  # AT+CIPRECVTYPE (AT+CIPRECVMODE before esp-at 3.4)
cipmode = 0  # AT+CIPMODE
server = None  # type: transport.Server
server_maxconn = MAX_LINKS  # AT+CIPSERVERMAXCONN
server_timeout = 180  # AT+CIPSTO, seconds
ever_linked = False  # AT+CIPSTATUS tells "links closed" (4) from "got IP" (2)
pass_target = None  # type: tuple  # passthrough: (kind, host, addr) to reconnect to when the link drops
IPD_FRAMES = 6  # +IPD frames one socket read may fill
WRITE_FRAMES = 3  # full +IPD frames built and written at a time
_HEAD = 48  # room before a read in _rx for its +IPD header: "\r\n+IPD,<id>,<len>,"<ip>",<port>:"
_rx = bytearray(_HEAD + IPD_FRAMES * IPD_MAX)  # a socket read goes to _rx[_HEAD:]
_body = memoryview(_rx)[_HEAD:]
_chunks = [memoryview(_rx)[_HEAD + k * IPD_MAX : _HEAD + (k + 1) * IPD_MAX] for k in range(IPD_FRAMES)]
# Full +IPD frames are built in the engine's buffer (at.buf: +IPD goes out only while no data input or
# passthrough uses it), WRITE_FRAMES at a time: a header, a slot, a header, a slot... _heads and _slots
# are views of them in at.buf, laid out for headers of the length in _frame.
_heads = [_body] * WRITE_FRAMES
_slots = [_body] * WRITE_FRAMES
_frame = [0, 0]  # the header length the views are laid out for, and a full frame's length
BURST = 4  # reads of a link in one pass while they come back full
_at = None
_checked = 0


class Link:
    """One of links 0-4: a connection and what the AT commands report about it."""

    def __init__(self, index, kind, conn, remote, served, udp_mode=0):
        self.index = index
        self.kind = kind  # "TCP", "UDP", "SSL"
        self.conn = conn  # net.transport.Connection
        self.remote = remote  # (ip, port)
        self.served = served  # 1: accepted by the module's server
        self.udp_mode = udp_mode  # 0 fixed peer, 1 follow the first sender, 2 follow every sender
        self.pending = bytearray()  # passive mode: received, not read yet
        self.head = None  # the +IPD header of a full frame, and the AT+CIPDINFO it was made for
        self.head_dinfo = -1
        self.watched = True
        self.last = ticks_ms()


def _attach(at, link):
    global ever_linked
    links[link.index] = link
    ever_linked = True
    at.watch(link.conn.sock, _on_readable)


def close(at, link, report=True):
    links[link.index] = None
    at.unwatch(link.conn.sock)
    link.conn.close()
    if report:
        at.urc("%d,CLOSED\r\n" % link.index if mux else "CLOSED\r\n")


# ---- receiving -----------------------------------------------------------------------------------
def _on_readable(sock, events):
    if server is not None and server.sock is sock:
        _accept(_at)
        return
    for link in links:
        if link is not None and link.conn.sock is sock:
            _receive(_at, link)
            return


def _receive(at, link):
    if link.kind == "UDP":
        _receive_datagram(at, link)
        return
    for _ in range(BURST):  # a read that came back full (or TLS holding decrypted bytes) is followed
        if _read(at, link) < len(_body) and not (link.kind == "SSL" and link.conn.pending()):
            return


def _receive_datagram(at, link):
    data, sender = link.conn.recvfrom(IPD_MAX)
    if data is None:
        return
    if link.udp_mode == 2 or link.udp_mode == 1:
        link.remote = sender
        link.conn.peer = transport.resolve(sender[0], sender[1])[2]
        link.udp_mode = 2 if link.udp_mode == 2 else 0
    _deliver(at, link, memoryview(data), sender)


def _read(at, link):
    """One read of a TCP/SSL link into _rx[_HEAD:], passed on; how many bytes it brought (0: none)."""
    room = PASSIVE_MAX - len(link.pending) if passive else len(_body)
    if room <= 0:
        at.unwatch(link.conn.sock)  # AT+CIPRECVDATA re-arms it
        link.watched = False
        return 0
    n = link.conn.recv_into(_body if room >= len(_body) else _body[:room])
    if not n:
        if n == 0:
            _dropped(at, link)
        return 0
    link.last = ticks_ms()
    if at.in_passthrough:
        at.write_slice(_rx, _HEAD, n)
    elif passive:
        _deliver(at, link, _body[:n], link.remote)
    else:
        _ipd_read(at, link, n)
    return n


def _ipd_head(link, length, sender):
    head = "\r\n+IPD,%d,%d" % (link.index, length) if mux else "\r\n+IPD,%d" % length
    if dinfo:
        head += ',"%s",%d' % sender
    return (head + ":").encode()


def _ipd_read(at, link, n):
    """The n bytes read into _rx[_HEAD:] as +IPD frames of at most IPD_MAX bytes: the full ones are copied
    behind their headers into at.buf and written WRITE_FRAMES at a time, the last one gets its header in
    front of it in _rx. Nothing is allocated while reads come in whole frames."""
    full = n // IPD_MAX
    if full and (link.head_dinfo != dinfo or _frame[0] != len(link.head)):
        _lay_out_frames(at.buf, link)
    i = 0
    while i < full:
        at.write_buf(_fill_frames(link.head, i, full))
        i += WRITE_FRAMES
    if n % IPD_MAX:
        _ipd_last(at, link, _HEAD + full * IPD_MAX, n % IPD_MAX)


def _fill_frames(head, i, full):
    """Chunks i.. of _rx (up to WRITE_FRAMES, not past ``full``) into at.buf's slots behind ``head``;
    the bytes of at.buf used."""
    j = 0
    while j < WRITE_FRAMES and i + j < full:
        _heads[j][:] = head
        _slots[j][:] = _chunks[i + j]
        j += 1
    return j * _frame[1]


def _lay_out_frames(buf, link):
    """The link's full-frame header (made again when AT+CIPDINFO changed) and the views of buf for the
    headers and slots of WRITE_FRAMES frames."""
    if link.head_dinfo != dinfo:
        link.head = _ipd_head(link, IPD_MAX, link.remote)
        link.head_dinfo = dinfo
    h = len(link.head)
    for j in range(WRITE_FRAMES):
        _heads[j] = memoryview(buf)[j * (h + IPD_MAX) : j * (h + IPD_MAX) + h]
        _slots[j] = memoryview(buf)[j * (h + IPD_MAX) + h : (j + 1) * (h + IPD_MAX)]
    _frame[0] = h
    _frame[1] = h + IPD_MAX


def _ipd_last(at, link, start, rest):
    """The last (short) frame of a read, at _rx[start:]: its header goes in front of it, over bytes already
    copied (or into the room left before the first)."""
    head = _ipd_head(link, rest, link.remote)
    start -= len(head)
    _rx[start : start + len(head)] = head
    at.write_slice(_rx, start, len(head) + rest)


def _deliver(at, link, data, sender):
    """Pass received bytes on: raw in passthrough, kept in passive mode, else as +IPD."""
    link.last = ticks_ms()
    if at.in_passthrough:
        at.write(data)
    elif passive:
        link.pending += data
        at.urc("+IPD,%d,%d\r\n" % (link.index, len(data)) if mux else "+IPD,%d\r\n" % len(data))
    else:
        at.write(_ipd_head(link, len(data), sender))
        at.write(data)


def _dropped(at, link):
    """The peer closed the link: CLOSED, or in passthrough a rejoin attempt soon (until '+++')."""
    close(at, link, report=not at.in_passthrough)


def _accept(at):
    conn, remote = server.accept()
    if conn is None:
        return
    index = None
    for i in range(MAX_LINKS):
        if links[i] is None:
            index = i
            break
    served = len([link for link in links if link is not None and link.served])
    if index is None or served >= server_maxconn:
        conn.close()
        return
    _attach(at, Link(index, server.kind, conn, remote, 1))
    at.urc("%d,CONNECT\r\n" % index)


def _watch(at):
    """Once a second: drop server clients idle past AT+CIPSTO; in passthrough, rejoin a dropped link."""
    global _checked
    now = ticks_ms()
    if ticks_diff(now, _checked) < 1000:
        return
    _checked = now
    for link in links:
        if link is not None and link.served and server_timeout and ticks_diff(now, link.last) > server_timeout * 1000:
            close(at, link)
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
        _attach(at, Link(0, kind, transport.open_udp(addr, udp_port), addr[:2], 0))
        return
    conn = yield from transport.open_tcp(addr, timeout_ms, _tls(kind), host)
    if conn is not None and links[0] is None:
        _attach(at, Link(0, kind, conn, addr[:2], 0))
    elif conn is not None:
        conn.close()


# ---- modes ---------------------------------------------------------------------------------------
def q_cipmux(at):
    at.reply("+CIPMUX:%d" % mux)


p_cipmux = (num(0, 1),)


def s_cipmux(at, mode):
    global mux
    if mode != mux and (any(links) or server is not None or (mode and cipmode)):
        raise AtError(E_EXEC)  # only with no link and no server, and not in passthrough mode
    mux = mode


p_cipdinfo = (num(0, 1),)


def s_cipdinfo(at, on):
    global dinfo
    dinfo = on


def q_cipdinfo(at):
    at.reply("+CIPDINFO:%s" % ("TRUE" if dinfo else "FALSE"))


p_cipmode = (num(0, 1),)


def s_cipmode(at, mode):
    global cipmode
    if mode and mux:
        raise AtError(E_EXEC)  # passthrough is for a single link
    cipmode = mode


def q_cipmode(at):
    at.reply("+CIPMODE:%d" % cipmode)


p_ciprecvtype = (num(0, 1),)
p_ciprecvmode = p_ciprecvtype


def s_ciprecvtype(at, mode):
    global passive
    if any(links):
        raise AtError(E_EXEC)
    passive = mode


s_ciprecvmode = s_ciprecvtype


def q_ciprecvtype(at):
    at.reply("+CIPRECVTYPE:%d" % passive)


def q_ciprecvmode(at):
    at.reply("+CIPRECVMODE:%d" % passive)


# ---- opening links -------------------------------------------------------------------------------
_START = (text(3, 3), text(128, 1), num(1, 65535), num(0, 65535, True), num(0, 2, True))


def p_cipstart():
    """AT+CIPSTART=[<link ID>,]<type>,<host>,<port>[,<keepalive>|<UDP local port>[,<UDP mode>]]"""
    return ((num(0, MAX_LINKS - 1),) + _START) if mux else _START


def s_cipstart(at, *args):
    index, (kind, host, port, extra, udp_mode) = (args[0], args[1:]) if mux else (0, args)
    if kind not in ("TCP", "UDP", "SSL") or (kind != "UDP" and (udp_mode is not None or (extra or 0) > 7200)):
        raise AtError(E_INVALID)
    if links[index] is not None:
        at.reply("ALREADY CONNECTED")
        raise AtError(E_EXEC)
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
        _attach(at, Link(index, kind, conn, addr[:2], 0, udp_mode or 0))
    else:
        conn = yield from transport.open_tcp(addr, 10000, _tls(kind, index), host)
        if conn is None:
            at.write(b"%d,CLOSED\r\n" % index if mux else b"CLOSED\r\n")
            return False
        if extra:
            conn.keepalive(extra)
        _attach(at, Link(index, kind, conn, addr[:2], 0))
    if not mux:
        pass_target = (kind, host, addr)
    at.write(b"%d,CONNECT\r\n" % index if mux else b"CONNECT\r\n")
    return None


def _tls(kind, index=0):
    """The SSL context of link ``index`` per AT+CIPSSLCCONF: 0 no authentication, 1 our certificate,
    2 verify the server with the CA, 3 both (certificates from esp-at's client_* partitions)."""
    if kind != "SSL":
        return None
    ctx = pki.client_context(ssl_conf[index] & 2, ssl_conf[index] & 1)
    if ctx is None:
        raise AtError(E_EXEC)  # a partition holds no certificate
    return ctx


ssl_conf = [0] * MAX_LINKS  # AT+CIPSSLCCONF auth type per link


def p_cipsslcconf():
    """AT+CIPSSLCCONF=[<link ID>,]<type>[,<cert_key_ID>][,<CA_ID>]: one certificate set (ID 0)."""
    tail = (num(0, 3), num(0, 0, True), num(0, 0, True))
    return ((num(0, MAX_LINKS - 1, True),) + tail) if mux else tail


def s_cipsslcconf(at, *args):
    index, auth = (args[0], args[1]) if mux else (0, args[0])
    for i in range(MAX_LINKS) if mux and index is None else (index,):
        ssl_conf[i] = auth
    at.store.save_bytes("sslconf", ",".join([str(a) for a in ssl_conf]))


# ---- sending -------------------------------------------------------------------------------------
_SEND = (num(1, SEND_MAX), text(128, 1, True), num(1, 65535, True))


def p_cipsend():
    """AT+CIPSEND=[<link ID>,]<length>[,<remote host>,<remote port>] (the host and port for UDP)"""
    return ((num(0, MAX_LINKS - 1),) + _SEND) if mux else _SEND


p_cipsendex = p_cipsend


def s_cipsend(at, *args):
    return _send(at, args, False)


def s_cipsendex(at, *args):
    return _send(at, args, True)


def _send(at, args, cut):
    index, (length, host, port) = (args[0], args[1:]) if mux else (0, args)
    link = links[index]
    if link is None or cipmode:
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
    if not cipmode or mux or link is None or link.udp_mode:
        raise AtError(E_EXEC)
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
            _dropped(self.at, link)

    def _datagrams(self, link, buf, off, n):
        """UDP goes in datagrams of at most PASS_CHUNK (2048) bytes, as v1.2 sends them."""
        data = memoryview(buf)[off : off + n]
        for i in range(0, n, PASS_CHUNK):
            if not link.conn.send_blocking(data[i : i + PASS_CHUNK], transport.WRITE_WAIT_MS):
                _dropped(self.at, link)
                return

    def exit(self):
        if self.at.sysmsg & 1:
            self.at.write(b"\r\n+QUITT\r\n")
        if links[0] is None and pass_target is not None:
            self.at.urc(b"CLOSED\r\n")


# ---- closing and state ---------------------------------------------------------------------------
def e_cipclose(at):
    if mux or links[0] is None:
        raise AtError(E_EXEC)
    close(at, links[0], report=False)
    at.reply("CLOSED")


p_cipclose = (num(0, MAX_LINKS),)


def s_cipclose(at, index):
    """AT+CIPCLOSE=<link ID> (AT+CIPMUX=1); 5 closes them all."""
    if not mux:
        raise AtError(E_EXEC)
    closing = [link for link in (links if index == MAX_LINKS else [links[index]]) if link is not None]
    if not closing:
        raise AtError(E_EXEC)
    for link in closing:
        close(at, link, report=False)
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
    if not wifi.sta.isconnected():
        stat = 5
    elif any(links):
        stat = 3
    else:
        stat = 4 if ever_linked else 2
    at.reply("STATUS:%d" % stat)
    for line in _link_lines("+CIPSTATUS"):
        at.reply(line)


def q_cipsslcconf(at):
    for i in range(MAX_LINKS):
        if ssl_conf[i]:
            at.reply("+CIPSSLCCONF:%d,%d,0,0" % (i, ssl_conf[i]))


# ---- names ---------------------------------------------------------------------------------------
p_cipdomain = (text(128, 1),)


def s_cipdomain(at, name):
    try:
        at.reply("+CIPDOMAIN:%s" % transport.resolve(name, 0)[0])
    except OSError:
        raise AtError(E_EXEC)


p_cipdns = (num(0, 1), text(15, opt=True), text(15, opt=True), text(15, opt=True))


def s_cipdns(at, enable, dns0, dns1, dns2):
    servers = [d for d in (dns0, dns1, dns2) if d] if enable else []
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


# ---- the server ----------------------------------------------------------------------------------
p_cipserver = (num(0, 1), num(1, 65535, True), text(3, opt=True), num(0, 1, True))


def s_cipserver(at, mode, port, kind, ca):
    """AT+CIPSERVER=<mode>[,<port>][,"SSL",<CA enable>]: one server (default port 333), needs AT+CIPMUX=1."""
    global server
    if not mux:
        raise AtError(E_EXEC)
    if mode == 0:
        if server is None:
            raise AtError(E_EXEC)
        at.unwatch(server.sock)
        server.close()
        server = None
        return None
    if server is not None:
        raise AtError(E_EXEC)
    tls = None
    if kind is not None:
        if kind != "SSL":
            raise AtError(E_INVALID | 2)
        cert = (pki.read("server_cert"), pki.read("server_key"))
        ca_cert = pki.read("server_ca") if ca else None
        if None in cert or (ca and ca_cert is None):
            raise AtError(E_EXEC)  # the server_* partitions hold no certificate
        tls = transport.tls_context(ca_cert, cert, server=True)
    try:
        server = transport.Server(port or 333, kind or "TCP", ca or 0, tls)
    except OSError:
        raise AtError(E_EXEC)
    at.watch(server.sock, _on_readable)


def q_cipserver(at):
    at.reply('+CIPSERVER:1,%d,"%s",%d' % (server.port, server.kind, server.ca) if server else "+CIPSERVER:0")


p_cipservermaxconn = (num(1, MAX_LINKS),)


def s_cipservermaxconn(at, n):
    global server_maxconn
    if server is not None:
        raise AtError(E_EXEC)  # the manual: set it before the server starts
    server_maxconn = n


def q_cipservermaxconn(at):
    at.reply("+CIPSERVERMAXCONN:%d" % server_maxconn)


p_cipsto = (num(0, 7200),)


def s_cipsto(at, seconds):
    global server_timeout
    server_timeout = seconds


def q_cipsto(at):
    at.reply("+CIPSTO:%d" % server_timeout)


# ---- passive receive (2.x) -----------------------------------------------------------------------
def p_ciprecvdata():
    """AT+CIPRECVDATA=[<link ID>,]<len>"""
    return (num(0, MAX_LINKS - 1), num(1, PASSIVE_MAX)) if mux else (num(1, PASSIVE_MAX),)


def s_ciprecvdata(at, *args):
    index, length = args if mux else (0, args[0])
    link = links[index]
    if not passive or link is None:
        raise AtError(E_EXEC)
    n = min(length, len(link.pending))
    data = bytes(link.pending[:n])
    link.pending = link.pending[n:]
    head = "+CIPRECVDATA:%d" % n
    if dinfo:
        head += ',"%s",%d' % link.remote
    at.write(head.encode() + b"," + data + b"\r\n")
    if not link.watched:
        link.watched = True
        at.watch(link.conn.sock, _on_readable)


def q_ciprecvlen(at):
    at.reply("+CIPRECVLEN:" + ",".join([str(len(link.pending)) if link else "-1" for link in links]))


# ---- passthrough at power-up ---------------------------------------------------------------------
def p_savetranslink():
    """AT+SAVETRANSLINK=<mode>,<host>,<port>[,"TCP"|"SSL",<keepalive>] or [,"UDP",<UDP local port>]"""
    return (num(0, 1), text(128, 1, True), num(1, 65535, True), text(3, 3, True), num(0, 65535, True))


def s_savetranslink(at, mode, host, port, kind, extra):
    """Always saved. Mode 1: at power-up, once the station has an address, open the link and pass through."""
    if mode == 0:
        at.store.erase("translink")
        return None
    kind = kind or "TCP"
    if host is None or port is None or kind not in ("TCP", "UDP", "SSL") or (kind != "UDP" and (extra or 0) > 7200):
        raise AtError(E_INVALID)
    at.store.put_bytes("translink", "%s,%d,%d,%s" % (kind, port, extra or 0, host))


def boot(at):
    global _at
    _at = at
    at.monitor(_watch)
    saved = at.store.get_str("sslconf")
    if saved:
        ssl_conf[:] = [int(x) for x in saved.split(",")]
    saved = at.store.get_str("translink")
    if saved:
        kind, port, extra, host = saved.split(",", 3)
        at.spawn(_boot_passthrough(at, kind, host, int(port), int(extra)))


def _boot_passthrough(at, kind, host, port, extra):
    global cipmode, pass_target
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
    yield from _open_pass_link(at, 10000, extra)  # when it fails, the monitor keeps trying, as in any passthrough
    at.passthrough(_PassSink(at))
