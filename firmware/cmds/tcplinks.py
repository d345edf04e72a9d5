"""Links 0-4 of the TCP/IP family (cmds/tcpip.py) and how what they receive reaches the MCU: as +IPD
frames (active mode), raw (passthrough), or held for AT+CIPRECVDATA (passive mode, AT+CIPRECVTYPE=1).

A link's socket is read only while the module is idle (engine.watch): what arrives goes out at once as
+IPD, never inside a response; while the module is busy, TCP's own flow control holds the peer.

Passive mode follows esp-at (TCP-IP_AT_Commands, AT+CIPRECVTYPE / AT+CIPRECVDATA): a link holds up to
WINDOW bytes (esp-at's socket receive window, 5760), then the module stops reading its socket and TCP
holds the peer back. ``+IPD,[<id>,]<len>`` carries the total the link holds; after one, the next comes
only once the MCU has read (AT+CIPRECVDATA): right after that read if bytes arrived meanwhile, else when
more arrive (bytes left by a read shorter than the total need none: the MCU knows of them). When the
peer closes (FIN or RST) while the link holds bytes, they stay readable and ``[<id>,]CLOSED`` comes
after the MCU has read them all, or when it closes the link itself.
"""
from at.compat import const, ticks_ms
from at.modes import PASS_BURST  # link reads in a row in passthrough: as many as the UART side's
from net import transport

MAX_LINKS = 5
IPD_MAX = const(1460)  # an active +IPD carries at most this much
WINDOW = 5760  # passive mode: what a link holds before TCP holds the peer back (esp-at's TCP_WND)

links = [None] * MAX_LINKS  # type: list
mux = 0  # AT+CIPMUX
dinfo = 0  # AT+CIPDINFO
passive = 0  # AT+CIPRECVTYPE (AT+CIPRECVMODE before esp-at 3.4)
server = None  # type: transport.Server
server_maxconn = MAX_LINKS  # AT+CIPSERVERMAXCONN
ever_linked = False  # AT+CIPSTATUS tells "links closed" (4) from "got IP" (2)
IPD_FRAMES = const(6)  # +IPD frames one socket read may fill
WRITE_FRAMES = const(3)  # full +IPD frames built and written at a time
_HEAD = const(48)  # room before received bytes for a header: "\r\n+IPD,<id>,<len>,"<ip>",<port>:" or +CIPRECVDATA's
# The read buffer of active mode and passthrough, made when the first link opens outside passive mode
# (frames()): a socket read goes to _rx[_HEAD:]
_READ = const(IPD_FRAMES * IPD_MAX)
_rx = None  # type: bytearray
_body = None  # type: memoryview
_chunks = []  # type: list  # _body in IPD_MAX pieces
# Full +IPD frames are built in the engine's buffer (at.buf: +IPD goes out only while no data input or
# passthrough uses it), WRITE_FRAMES at a time: a header, a slot, a header, a slot... _heads and _slots
# are views of them in at.buf, laid out for headers of the length in _frame.
_heads = [None] * WRITE_FRAMES  # type: list
_slots = [None] * WRITE_FRAMES  # type: list
_frame = [0, 0]  # the header length the views are laid out for, and a full frame's length
BURST = const(4)  # reads of a link in one pass while they come back full
_at = None


class Link:
    """One of links 0-4: a connection and what the AT commands report about it."""

    def __init__(self, index, kind, conn, remote, served, udp_mode=0):
        self.index = index
        self.kind = kind  # "TCP", "UDP", "SSL"
        self.conn = conn  # net.transport.Connection
        self.remote = remote  # (ip, port)
        self.served = served  # 1: accepted by the module's server
        self.udp_mode = udp_mode  # 0 fixed peer, 1 follow the first sender, 2 follow every sender
        self.head = None  # the +IPD header of a full frame, and the AT+CIPDINFO it was made for
        self.head_dinfo = -1
        self.head_pre = None  # the parts of an +IPD header before and after its length (_new_head)
        self.head_post = None
        self.watched = True
        self.ended = False  # passive mode: the peer closed while the link held bytes
        self.hold = None  # passive mode: bytearray(_HEAD + WINDOW + 2), made on first use
        self.start = _HEAD  # held bytes are hold[start:end]
        self.end = _HEAD
        self.told = False  # passive mode: an +IPD went out that no AT+CIPRECVDATA has followed
        self.known = 0  # passive mode: of the bytes held, how many the MCU was told of (+IPD) and has not read
        self.notice = None  # passive mode: [the queued +IPD line, known before it] until it is written
        self.last = ticks_ms()

    def held(self):
        return self.end - self.start


def frames():
    """Make the read buffer of active mode and passthrough (passive mode needs none)."""
    global _rx, _body, _chunks
    if _rx is None:
        _rx = bytearray(_HEAD + _READ)
        _body = memoryview(_rx)[_HEAD:]
        _chunks = [memoryview(_rx)[_HEAD + k * IPD_MAX : _HEAD + (k + 1) * IPD_MAX] for k in range(IPD_FRAMES)]


def attach(at, link):
    global ever_linked, _at
    _at = at  # the engine the sockets' readiness callbacks work with
    if not passive:
        frames()
        at.buf  # where +IPD frames are built: made now, while the link opens, not under its first bytes
    links[link.index] = link
    ever_linked = True
    at.watch(link.conn.sock, _on_readable)


def _close_socket(at, link):
    _unwatch(at, link)
    link.conn.close()


def _unwatch(at, link):
    if link.watched:
        at.unwatch(link.conn.sock)
        link.watched = False


def close(at, link, report=True):
    """Forget the link and close its connection; ``[<id>,]CLOSED`` queued when ``report``."""
    links[link.index] = None
    _close_socket(at, link)
    if report:
        at.urc(closed_line(link.index), _written, None)


def _written(arg):
    """The ``done`` of the URCs that tell of a link's bytes or state (CONNECT, passive +IPD, CLOSED): with
    one, the engine never drops them from a full queue (an MCU that missed one would lose the link's data)."""


def closed_line(index):
    return b"%d,CLOSED\r\n" % index if mux else b"CLOSED\r\n"


def rearm(at, link):
    """Read the link's socket again (after AT+CIPRECVDATA made room); TLS may hold decrypted bytes
    that poll cannot see, so they are taken at once."""
    if link.ended or link.watched:
        return
    link.watched = True
    at.watch(link.conn.sock, _on_readable)
    if link.kind == "SSL" and link.conn.pending():
        _receive(at, link)


# ---- receiving -----------------------------------------------------------------------------------
def _on_readable(sock, events):
    if server is not None and server.sock is sock:
        accept(_at)
        return
    for link in links:
        if link is not None and link.conn.sock is sock:
            _receive(_at, link)
            return


def _receive(at, link):
    if link.kind == "UDP":
        _receive_datagram(at, link)
        return
    if at.in_passthrough:
        _pass_receive(at, link)
        return
    for _ in range(BURST):  # a read that came back full (or TLS holding decrypted bytes) is followed
        if _read(at, link) < _READ and not (link.kind == "SSL" and link.conn.pending()):
            return


def _pass_receive(at, link):
    """Passthrough: reads of the link go raw to the UART, PASS_BURST of them while they come back full.
    They go through the engine's passthrough buffer (at.pass_buf: idle while a socket is read, the UART
    reads being over), which is bigger than ours, when it has one."""
    buf = at.pass_buf
    if buf is None:
        buf = _body
    recv_into = link.conn.recv_into
    write = at.uart.write  # the engine's UART: write(buf, off, n) allocates nothing (as at.write_slice)
    burst = PASS_BURST
    while burst:
        n = recv_into(buf)
        if not n:
            if n == 0:
                dropped(at, link)
            break
        write(buf, 0, n)
        burst -= 1
        if n < len(buf) and not (link.kind == "SSL" and link.conn.pending()):
            break
    if burst < PASS_BURST:
        link.last = ticks_ms()


def _receive_datagram(at, link):
    data, sender = link.conn.recvfrom(IPD_MAX)
    if data is None:
        return
    if link.udp_mode == 2 or link.udp_mode == 1:
        link.remote = sender
        link.conn.peer = transport.resolve(sender[0], sender[1])[2]
        link.udp_mode = 2 if link.udp_mode == 2 else 0
    link.last = ticks_ms()
    if at.in_passthrough:
        at.write(data)
    elif passive:
        _keep(at, link, data)  # esp-at: a datagram that does not fit is lost
    else:
        at.write(_ipd_head(link, len(data), sender) + data)  # a datagram: its +IPD in one write


def _read(at, link):
    """One read of a TCP/SSL link outside passthrough, passed on; how many bytes it brought (0: none)."""
    if passive:
        return _read_held(at, link)
    n = link.conn.recv_into(_body)
    if not n:
        if n == 0:
            dropped(at, link)
        return 0
    link.last = ticks_ms()
    _ipd_read(at, link, n)
    return n


def _ipd_head(link, length, sender):
    pre, post = _head_parts(link, sender)
    return pre + b"%d" % length + post


def _head_parts(link, sender):
    """The parts of an +IPD header before and after its length, for bytes from ``sender`` (as AT+CIPMUX and
    AT+CIPDINFO say)."""
    pre = b"\r\n+IPD,%d," % link.index if mux else b"\r\n+IPD,"
    post = (',"%s",%d:' % sender).encode() if dinfo else b":"
    return pre, post


def _ipd_read(at, link, n):
    """The n bytes read into _rx[_HEAD:] as +IPD frames of at most IPD_MAX bytes: the full ones are copied
    behind their headers into at.buf and written WRITE_FRAMES at a time, the last one gets its header in
    front of it in _rx. Nothing is allocated while reads come in whole frames."""
    if link.head_dinfo != dinfo:
        _new_head(link)
    full = n // IPD_MAX
    if full and _frame[0] != len(link.head):
        _lay_out_frames(at.buf, link)
    i = 0
    while i < full:
        _write_frames(at, link.head, i, full)
        i += WRITE_FRAMES
    if n % IPD_MAX:
        _ipd_last(at.uart.write, link, _HEAD + full * IPD_MAX, n % IPD_MAX)


def _write_frames(at, head, i, full):
    """Chunks i.. of _rx (up to WRITE_FRAMES, not past ``full``) into at.buf's slots behind ``head``, then
    written at once (the engine's UART, as at.write_buf does)."""
    j = 0
    while j < WRITE_FRAMES and i + j < full:
        _heads[j][:] = head
        _slots[j][:] = _chunks[i + j]
        j += 1
    n = j * _frame[1]
    at.uart.write(at.buf, 0, n)


def _new_head(link):
    """The link's +IPD header for a full frame and the parts around the length of any other, made again
    when AT+CIPDINFO changed."""
    link.head_pre, link.head_post = _head_parts(link, link.remote)
    link.head = link.head_pre + b"%d" % IPD_MAX + link.head_post
    link.head_dinfo = dinfo


def _lay_out_frames(buf, link):
    """The views of buf for the headers and slots of WRITE_FRAMES frames with the link's header."""
    h = len(link.head)
    for j in range(WRITE_FRAMES):
        _heads[j] = memoryview(buf)[j * (h + IPD_MAX) : j * (h + IPD_MAX) + h]
        _slots[j] = memoryview(buf)[j * (h + IPD_MAX) + h : (j + 1) * (h + IPD_MAX)]
    _frame[0] = h
    _frame[1] = h + IPD_MAX


def _ipd_last(write, link, start, rest):
    """The last (short) frame of a read, at _rx[start:]: its header goes in front of it, over bytes already
    copied (or into the room left before the first), built from its end without allocating; then
    ``write(_rx, off, n)`` (the engine's UART) writes the frame."""
    end = start + rest
    start = _put_back(link.head_post, start)
    while True:  # the length's digits, the last first
        start -= 1
        _rx[start] = 48 + rest % 10
        rest //= 10
        if not rest:
            break
    start = _put_back(link.head_pre, start)
    write(_rx, start, end - start)


def _put_back(part, end):
    """``part`` into _rx just before ``end``; where it starts."""
    _rx[end - len(part) : end] = part
    return end - len(part)


def dropped(at, link):
    """The peer closed the link (FIN or RST): CLOSED, or in passthrough a rejoin attempt soon (until
    '+++'). In passive mode bytes the link still holds stay readable, and CLOSED waits for them."""
    if link.held():
        _close_socket(at, link)
        link.ended = True
        return
    close(at, link, report=not at.in_passthrough)


# ---- passive mode: what a link holds -------------------------------------------------------------
def _room(link):
    """Where the next bytes go in the link's hold, made on first use (None when it is full). Bytes
    already read out leave room at the front: the rest moves there when the copy cannot overlap."""
    if link.hold is None:
        link.hold = bytearray(_HEAD + WINDOW + 2)
    if link.start == link.end:
        link.start = link.end = _HEAD
    elif link.end == _HEAD + WINDOW and link.end - link.start <= link.start - _HEAD:
        n = link.end - link.start
        link.hold[_HEAD : _HEAD + n] = memoryview(link.hold)[link.start : link.end]
        link.start, link.end = _HEAD, _HEAD + n
    if link.end == _HEAD + WINDOW:
        return None
    return memoryview(link.hold)[link.end : _HEAD + WINDOW]


def _read_held(at, link):
    room = _room(link)
    if room is None:
        _unwatch(at, link)  # AT+CIPRECVDATA re-arms it
        return 0
    n = link.conn.recv_into(room)
    if not n:
        if n == 0:
            dropped(at, link)
        return 0
    link.end += n
    link.last = ticks_ms()
    notify(at, link)
    return n


def _keep(at, link, data):
    room = _room(link)
    if room is not None and len(data) <= len(room):
        room[: len(data)] = data
        link.end += len(data)
        notify(at, link)


def notify(at, link):
    """+IPD,[<id>,]<total held> when the link holds bytes the MCU was not told of, unless an +IPD went
    out that the MCU has not followed with a read (then it comes right after that read)."""
    n = link.held()
    if n > link.known and not link.told:
        link.told = True
        link.notice = [bytearray(b"+IPD,%d,%d\r\n" % (link.index, n) if mux else b"+IPD,%d\r\n" % n), link.known]
        link.known = n
        at.urc(link.notice[0], _notice_written, link)


def _notice_written(link):
    link.notice = None


def read_held(at, link, length):
    """AT+CIPRECVDATA: ``+CIPRECVDATA:<n>[,"<ip>",<port>],<data>`` with n = what the link holds, at most
    ``length``, in one write; then +IPD if bytes arrived since the last one, or CLOSED if the peer has
    gone and nothing is left."""
    n = min(length, link.held())
    first = _put_head(link, _recvdata_head(link, n))
    _write_held(at, link, n, first)
    _taken(at, link, n)


def _taken(at, link, n):
    """The MCU has read n held bytes. An +IPD still queued (the read came in the same pass as the bytes it
    tells of) would tell of bytes already read: it is emptied, and the notice after this read tells the rest."""
    if link.notice is not None:
        link.notice[0][:] = b""
        link.known = link.notice[1]
        link.notice = None
    link.start += n
    link.told = False
    link.known = max(0, link.known - n)
    if link.ended and not link.held():
        close(at, link)
        return
    notify(at, link)
    rearm(at, link)


def _recvdata_head(link, n):
    if dinfo:
        return ('+CIPRECVDATA:%d,"%s",%d,' % (n, link.remote[0], link.remote[1])).encode()
    return b"+CIPRECVDATA:%d," % n


def _write_held(at, link, n, first):
    """hold[first:] up to the first n held bytes, then CR LF, in one write: CR LF goes over the two bytes
    after them, put back afterwards."""
    saved = _crlf_at(link.hold, link.start + n)
    at.write_slice(link.hold, first, link.start + n + 2 - first)
    link.hold[link.start + n : link.start + n + 2] = saved


def _put_head(link, head):
    """``head`` into the room before the held bytes; where it starts."""
    link.hold[link.start - len(head) : link.start] = head
    return link.start - len(head)


def _crlf_at(hold, i):
    """Put CR LF at hold[i:i + 2]; the two bytes it covers."""
    saved = bytes(hold[i : i + 2])
    hold[i : i + 2] = b"\r\n"
    return saved


def start_server(at, srv):
    global server, _at
    server = srv
    _at = at
    at.watch(srv.sock, _on_readable)


def stop_server(at):
    global server
    at.unwatch(server.sock)
    server.close()
    server = None


def accept(at):
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
    attach(at, Link(index, server.kind, conn, remote, 1))
    at.urc("%d,CONNECT\r\n" % index, _written, None)
