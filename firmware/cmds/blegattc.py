"""esp-at's BLE family, GATT client part (seed 004 §6.2.24-6.2.28): discover a peer's services,
characteristics and descriptors, read and write them, and report its notifications and indications.

Indices are the client's own numbering, in the peer's handle order: srv_index from AT+BLEGATTCPRIMSRV,
char_index and desc_index from AT+BLEGATTCCHAR. +BLEGATTCRD prints the value raw (current esp-at; v1.2
printed hex). MicroPython has no included-service discovery: AT+BLEGATTCINCLSRV answers ERROR.
"""
import bluetooth
from at.compat import const, ticks_ms, ticks_diff
from at.parser import AtError, num, E_EXEC, E_INVALID
from cmds import ble

_SERVICE_RESULT = const(9)
_SERVICE_DONE = const(10)
_CHAR_RESULT = const(11)
_CHAR_DONE = const(12)
_DESC_RESULT = const(13)
_DESC_DONE = const(14)
_READ_RESULT = const(15)
_READ_DONE = const(16)
_WRITE_DONE = const(17)
_NOTIFY = const(18)
_INDICATE = const(19)
_WAIT_MS = const(10000)
_DATA_WAIT_MS = const(20000)
_DECLARATIONS = (0x2800, 0x2801, 0x2802, 0x2803)
PROMPT = b"\r\n>"

peers = [None] * ble.MAX_LINKS  # type: list  # per conn_index: [[start, end, uuid text, [Char, ...] or None], ...]
_op = None  # the procedure a command waits for: [results list, status or None]
_diverted = {}  # (conn_index, value handle) -> fn(conn_index, data): SPP takes its RX notifications


class Char:
    """A peer's characteristic: value handle, last handle, props, uuid text, descriptors [(handle, uuid text)]."""

    def __init__(self, handle, end, props, uuid):
        self.handle = handle
        self.end = end
        self.props = props
        self.uuid = uuid
        self.descs = []


def _reset():
    global _op
    for i in range(ble.MAX_LINKS):
        peers[i] = None
    _diverted.clear()
    _op = None


def divert(index, handle, fn):
    """Send the peer's notifications/indications of ``handle`` to ``fn(conn_index, data)`` (None: undo)."""
    _listen()
    if fn is None:
        _diverted.pop((index, handle), None)
    else:
        _diverted[(index, handle)] = fn


def char(index, srv, index_char):
    """The peer's Char at srv_index / char_index (discovered), or AtError."""
    services = peers[index] if 0 <= index < ble.MAX_LINKS else None
    if not services or not 1 <= srv <= len(services):
        raise AtError(E_INVALID)
    chars = services[srv - 1][3]
    if not chars or not 1 <= index_char <= len(chars):
        raise AtError(E_INVALID)
    return chars[index_char - 1]


def _listen():
    for event in (_SERVICE_RESULT, _CHAR_RESULT, _DESC_RESULT, _READ_RESULT):
        ble.listen(event, _on_result)
    for event in (_SERVICE_DONE, _CHAR_DONE, _DESC_DONE):
        ble.listen(event, _on_done)
    ble.listen(_READ_DONE, _on_value_done)
    ble.listen(_WRITE_DONE, _on_value_done)
    ble.listen(_NOTIFY, _on_notify)
    ble.listen(_INDICATE, _on_indicate)
    ble.on_deinit(_reset)


# ---- IRQ events -------------------------------------------------------------------------------------------
def _on_result(data):
    if _op is not None:
        _op[0].append(tuple(ble.uuid_text(x) if isinstance(x, bluetooth.UUID) else
                            bytes(x) if isinstance(x, memoryview) else x for x in data))


def _on_done(data):
    if _op is not None:
        _op[1] = data[1]


def _on_value_done(data):
    if _op is not None:
        _op[1] = data[2]


def _on_notify(data):
    _value(data, b"+NOTIFY")


def _on_indicate(data):
    _value(data, b"+INDICATE")


def _value(data, kind):
    index = ble.index_of(data[0])
    if index < 0:
        return
    value = bytes(data[2])
    fn = _diverted.get((index, data[1]))
    if fn is not None:
        fn(index, value)
        return
    for s, service in enumerate(peers[index] or ()):
        for c, ch in enumerate(service[3] or ()):
            if ch.handle == data[1]:
                ble.urc(kind + (":%d,%d,%d,%d," % (index, s + 1, c + 1, len(value))).encode() + value + b"\r\n")
                return


def _wait():
    """Generator: until the procedure is done; returns (results, status), status None on a timeout."""
    global _op
    start = ticks_ms()
    while _op[1] is None and ticks_diff(ticks_ms(), start) < _WAIT_MS:
        yield 5
    op = _op
    _op = None
    return op[0], op[1]


def _begin():
    global _op
    if _op is not None:
        raise AtError(E_EXEC)
    _listen()
    _op = [[], None]


# ---- discovery --------------------------------------------------------------------------------------------
p_blegattcprimsrv = (num(0, ble.MAX_LINKS - 1),)


def s_blegattcprimsrv(at, index):
    ble.require(1, 2, 3)
    handle = ble.link(index).handle
    _begin()
    try:
        ble.radio.gattc_discover_services(handle)
    except OSError:
        _reset_op()
        raise AtError(E_EXEC)
    results, status = yield from _wait()
    if status != 0:
        return False
    results = sorted(results, key=lambda r: r[1])
    peers[index] = [[r[1], r[2], r[3], None] for r in results]
    for i, r in enumerate(results):
        at.reply("+BLEGATTCPRIMSRV:%d,%d,%s,1" % (index, i + 1, r[3]))
    return None


def _reset_op():
    global _op
    _op = None


p_blegattcinclsrv = (num(0, ble.MAX_LINKS - 1), num(1, 32))


def s_blegattcinclsrv(at, index, srv):
    """MicroPython has no included-service discovery: ERROR."""
    raise AtError(E_EXEC)


p_blegattcchar = (num(0, ble.MAX_LINKS - 1), num(1, 32))


def s_blegattcchar(at, index, srv):
    ble.require(1, 2, 3)
    handle = ble.link(index).handle
    services = peers[index]
    if not services or not 1 <= srv <= len(services):
        raise AtError(E_INVALID)
    service = services[srv - 1]
    _begin()
    ble.radio.gattc_discover_characteristics(handle, service[0], service[1])
    results, status = yield from _wait()
    if status != 0:
        return False
    chars = [Char(r[2], min(r[1], service[1]), r[3], r[4]) for r in sorted(results, key=lambda r: r[2])]
    for ch in chars:
        if ch.end > ch.handle:
            _begin()
            ble.radio.gattc_discover_descriptors(handle, ch.handle + 1, ch.end)
            found, status = yield from _wait()
            if status != 0:
                return False
            ch.descs = [(d[1], d[2]) for d in sorted(found, key=lambda d: d[1]) if int(d[2][2:], 16) not in _DECLARATIONS]
    service[3] = chars
    for c, ch in enumerate(chars):
        at.reply('+BLEGATTCCHAR:"char",%d,%d,%d,%s,0x%02X' % (index, srv, c + 1, ch.uuid, ch.props))
        for d, desc in enumerate(ch.descs):
            at.reply('+BLEGATTCCHAR:"desc",%d,%d,%d,%d,%s' % (index, srv, c + 1, d + 1, desc[1]))
    return None


# ---- read, write ------------------------------------------------------------------------------------------
def _target(index, srv, index_char, desc):
    ch = char(index, srv, index_char)
    if desc is None:
        return ch, ch.handle
    if not 1 <= desc <= len(ch.descs):
        raise AtError(E_INVALID)
    return ch, ch.descs[desc - 1][0]


p_blegattcrd = (num(0, ble.MAX_LINKS - 1), num(1, 32), num(1, 32), num(1, 8, True))


def s_blegattcrd(at, index, srv, index_char, desc):
    ble.require(1, 2, 3)
    link = ble.link(index)
    ch, handle = _target(index, srv, index_char, desc)
    if desc is None and not ch.props & bluetooth.FLAG_READ:
        raise AtError(E_EXEC)
    _begin()
    ble.radio.gattc_read(link.handle, handle)
    results, status = yield from _wait()
    if status != 0 or not results:
        return False
    value = results[-1][2]
    at.write(b"+BLEGATTCRD:%d,%d," % (index, len(value)) + value + b"\r\n")
    return None


p_blegattcwr = (num(0, ble.MAX_LINKS - 1), num(1, 32), num(1, 32), num(1, 8, True), num(1, 512))


def s_blegattcwr(at, index, srv, index_char, desc, length):
    """'>' then <length> bytes; with response when the characteristic (or a descriptor) takes one."""
    ble.require(1, 2, 3)
    link = ble.link(index)
    ch, handle = _target(index, srv, index_char, desc)
    mode = 1
    if desc is None:
        if not ch.props & (bluetooth.FLAG_WRITE | bluetooth.FLAG_WRITE_NO_RESPONSE):
            raise AtError(E_EXEC)
        mode = 1 if ch.props & bluetooth.FLAG_WRITE else 0
    data = yield from at.receive(length, _DATA_WAIT_MS, prompt=PROMPT)
    if data is None:
        return False
    data = bytes(data)
    if mode == 0:
        ble.radio.gattc_write(link.handle, handle, data, 0)
        return None
    _begin()
    ble.radio.gattc_write(link.handle, handle, data, 1)
    results, status = yield from _wait()
    return None if status == 0 else False
