"""esp-at's BLE family, GATT server part (seed 004 §6.2.16-6.2.23): the module's default service, its
listing, notify, indicate, set attribute, and the +WRITE / +READ messages.

AT+BLEGATTSSRVCRE registers v1.2's default service as §9.5.2 lists it: 0xA002 with characteristics
0xC300-0xC306 (reference/esp-at-ble.md §2). NimBLE adds the CCCD of a notifying or indicating
characteristic itself, right after its value, and handles its writes without telling Python: a client's
subscription is therefore not reported as +WRITE. NimBLE has no per-service start/stop either: a stopped
service refuses reads (writes cannot be refused).
"""
import bluetooth
from at.compat import const, ticks_ms, ticks_diff, sleep_ms
from at.parser import AtError, num, E_EXEC, E_INVALID
from cmds import ble

_GATTS_WRITE = const(3)
_GATTS_READ_REQUEST = const(4)
_GATTS_INDICATE_DONE = const(20)
_READ_NOT_PERMITTED = const(2)  # ATT error for a read of a stopped service
_DATA_WAIT_MS = const(20000)
_INDICATE_WAIT_MS = const(5000)
PROMPT = b"\r\n>"
CCCD = const(0x2902)

_R = bluetooth.FLAG_READ
_W = bluetooth.FLAG_WRITE
_DESC_R = const(1)  # NimBLE's descriptor flags
_DESC_W = const(2)
# (uuid, properties, initial value, max length, ((descriptor uuid, flags, value), ...))
_DIGITS = b"0123456789" * 51 + b"01"
_TABLE = (
    (
        0xA002,
        (
            (0xC300, _R, b"0", 20, ((0x2901, _DESC_R | _DESC_W, b"0"),)),
            (0xC301, _R, _DIGITS, 512, ((0x2901, _DESC_R | _DESC_W, b"0"),)),
            (0xC302, _W, b"0", 20, ((0x2901, _DESC_R, b"\x01"),)),
            (0xC303, bluetooth.FLAG_WRITE_NO_RESPONSE, b"0", 20, ((0x2901, _DESC_W, b"0"),)),
            (0xC304, _W, _DIGITS, 512, ()),
            (0xC305, bluetooth.FLAG_NOTIFY, b"", 20, ()),
            (0xC306, bluetooth.FLAG_INDICATE, b"", 20, ()),
        ),
    ),
)

services = []  # [uuid, started, [Char, ...]] in srv_index order (1-based on the wire)
_diverted = {}  # value handle -> fn(conn_index, data): SPP takes its RX characteristic's writes
_indicated = None  # [value handle, status or None] while AT+BLEGATTSIND waits for the confirmation


class Char:
    """One of our characteristics: its props, value handle, max length, descriptors [(uuid, handle, max)]."""

    def __init__(self, uuid, props, handle, size):
        self.uuid = uuid
        self.props = props
        self.handle = handle
        self.size = size
        self.descs = []


def _reset():
    global _indicated
    services.clear()
    _diverted.clear()
    _indicated = None


def divert(handle, fn):
    """Send client writes of ``handle`` to ``fn(conn_index, data)`` instead of +WRITE (None: undo)."""
    if fn is None:
        _diverted.pop(handle, None)
    else:
        _diverted[handle] = fn


def char(srv, index):
    """The Char at 1-based srv_index / char_index, or AtError."""
    if not 1 <= srv <= len(services) or not 1 <= index <= len(services[srv - 1][2]):
        raise AtError(E_INVALID)
    return services[srv - 1][2][index - 1]


def _where(handle):
    """(srv_index, char_index, desc_index or 0) of one of our attribute handles, or None."""
    for s, service in enumerate(services):
        for c, ch in enumerate(service[2]):
            if ch.handle == handle:
                return s + 1, c + 1, 0
            for d, desc in enumerate(ch.descs):
                if desc[1] == handle:
                    return s + 1, c + 1, d + 1
    return None


# ---- IRQ events ---------------------------------------------------------------------------------------------
def _on_write(data):
    index = ble.index_of(data[0])
    handle = data[1]
    where = _where(handle)
    if index < 0 or where is None:
        return None
    value = ble.radio.gatts_read(handle)
    fn = _diverted.get(handle)
    if fn is not None:
        fn(index, value)
        return None
    desc = "%d" % where[2] if where[2] else ""
    head = "+WRITE:%d,%d,%d,%s,%d," % (index, where[0], where[1], desc, len(value))
    ble.urc(head.encode() + value + b"\r\n")
    return None


def _on_read(data):
    index = ble.index_of(data[0])
    where = _where(data[1])
    if where is None:
        return 0
    if not services[where[0] - 1][1]:
        return _READ_NOT_PERMITTED
    if index >= 0:
        ble.urc(('+READ:%d,"%s"\r\n' % (index, ble.mac_text(ble.links[index].addr))).encode())
    return 0


def _on_indicate_done(data):
    if _indicated is not None and _indicated[0] == data[1]:
        _indicated[1] = data[2]
    return None


# ---- services -------------------------------------------------------------------------------------------------
def e_blegattssrvcre(at):
    """Register the default service; before any connection, as the manual says (advertising stops)."""
    ble.require(2, 3)
    if any(ble.links) or services:
        raise AtError(E_EXEC)
    radio = ble.radio
    defs = []
    for s_uuid, chars in _TABLE:
        defs.append((bluetooth.UUID(s_uuid), tuple(
            (bluetooth.UUID(c[0]), c[1], tuple((bluetooth.UUID(d[0]), d[1]) for d in c[4])) for c in chars)))
    radio.gap_advertise(None)
    ble.stop_advertising()
    handles = radio.gatts_register_services(tuple(defs))
    for (s_uuid, chars), hs in zip(_TABLE, handles):
        built = []
        i = 0
        for c_uuid, props, value, size, descs in chars:
            ch = Char(c_uuid, props, hs[i], size)
            i += 1
            if props & (bluetooth.FLAG_NOTIFY | bluetooth.FLAG_INDICATE):
                ch.descs.append((CCCD, ch.handle + 1, 2))  # NimBLE's own CCCD
            for d_uuid, flags, d_value in descs:
                ch.descs.append((d_uuid, hs[i], 20))
                if flags & _DESC_W:
                    radio.gatts_set_buffer(hs[i], 20)
                radio.gatts_write(hs[i], d_value)
                i += 1
            if props & (_W | bluetooth.FLAG_WRITE_NO_RESPONSE):
                radio.gatts_set_buffer(ch.handle, size)
            radio.gatts_write(ch.handle, value)
            built.append(ch)
        services.append([s_uuid, False, built])
    ble.listen(_GATTS_WRITE, _on_write)
    ble.listen(_GATTS_READ_REQUEST, _on_read)
    ble.listen(_GATTS_INDICATE_DONE, _on_indicate_done)
    ble.on_deinit(_reset)
    return None


p_blegattssrvstart = (num(1, 8),)
p_blegattssrvstop = (num(1, 8),)


def _start(srv, on):
    ble.require(2, 3)
    if not services:
        raise AtError(E_EXEC)
    if srv is None:
        for service in services:
            service[1] = on
    elif srv > len(services):
        raise AtError(E_INVALID)
    else:
        services[srv - 1][1] = on
    return None


def e_blegattssrvstart(at):
    return _start(None, True)


def s_blegattssrvstart(at, srv):
    return _start(srv, True)


def e_blegattssrvstop(at):
    return _start(None, False)


def s_blegattssrvstop(at, srv):
    return _start(srv, False)


def q_blegattssrv(at):
    ble.require(2, 3)
    for i, service in enumerate(services):
        at.reply("+BLEGATTSSRV:%d,%d,0x%04X,1" % (i + 1, service[1], service[0]))


def q_blegattschar(at):
    """Current esp-at's form: descriptor lines carry their UUID."""
    ble.require(2, 3)
    for s, service in enumerate(services):
        for c, ch in enumerate(service[2]):
            at.reply('+BLEGATTSCHAR:"char",%d,%d,0x%04X,0x%02X' % (s + 1, c + 1, ch.uuid, ch.props))
            for d, desc in enumerate(ch.descs):
                at.reply('+BLEGATTSCHAR:"desc",%d,%d,%d,0x%04X' % (s + 1, c + 1, d + 1, desc[0]))


# ---- notify, indicate, set --------------------------------------------------------------------------------
p_blegattsntfy = (num(0, ble.MAX_LINKS - 1), num(1, 8), num(1, 32), num(1, 4096))
p_blegattsind = p_blegattsntfy


def s_blegattsntfy(at, index, srv, index_char, length):
    return _send(at, index, srv, index_char, length, False)


def s_blegattsind(at, index, srv, index_char, length):
    return _send(at, index, srv, index_char, length, True)


def _send(at, index, srv, index_char, length, indicate):
    """'>' then <length> bytes, sent in pieces of MTU-3 bytes; OK once sent (an indication: confirmed)."""
    global _indicated
    ble.require(2, 3)
    link = ble.link(index)
    ch = char(srv, index_char)
    if not ch.props & (bluetooth.FLAG_INDICATE if indicate else bluetooth.FLAG_NOTIFY):
        raise AtError(E_EXEC)
    data = yield from at.receive(length, _DATA_WAIT_MS, prompt=PROMPT)
    if data is None:
        return False
    data = bytes(data)
    step = link.mtu - 3
    for i in range(0, len(data), step):
        piece = data[i : i + step]
        try:
            if not indicate:
                ble.radio.gatts_notify(link.handle, ch.handle, piece)  # type: ignore[call-arg]  # the stub drops conn_handle
                continue
            _indicated = [ch.handle, None]
            ble.radio.gatts_indicate(link.handle, ch.handle, piece)  # type: ignore[call-arg]  # the stub drops conn_handle
        except OSError:
            return False
        start = ticks_ms()
        while _indicated[1] is None and ticks_diff(ticks_ms(), start) < _INDICATE_WAIT_MS:
            yield 5
        status = _indicated[1]
        _indicated = None
        if status != 0:
            return False
    return None


def indicate_now(link, handle, data):
    """Indicate and wait (at most _INDICATE_WAIT_MS, the IRQ runs meanwhile) for the confirmation (SPP)."""
    global _indicated
    _indicated = [handle, None]
    ble.radio.gatts_indicate(link.handle, handle, data)  # type: ignore[call-arg]  # the stub drops conn_handle
    start = ticks_ms()
    while _indicated[1] is None and ticks_diff(ticks_ms(), start) < _INDICATE_WAIT_MS:
        sleep_ms(1)
    ok = _indicated[1] == 0
    _indicated = None
    return ok


p_blegattssetattr = (num(1, 8), num(1, 32), num(1, 8, True), num(1, 512))


def s_blegattssetattr(at, srv, index_char, desc, length):
    """Set a value (a descriptor too, as v1.2 allows; not the CCCD). Longer than its maximum: ERROR."""
    ble.require(2, 3)
    ch = char(srv, index_char)
    handle, size = ch.handle, ch.size
    if desc is not None:
        if desc > len(ch.descs) or ch.descs[desc - 1][0] == CCCD:
            raise AtError(E_INVALID)
        handle, size = ch.descs[desc - 1][1], ch.descs[desc - 1][2]
    if length > size:
        raise AtError(E_INVALID)
    data = yield from at.receive(length, _DATA_WAIT_MS, prompt=PROMPT)
    if data is None:
        return False
    ble.radio.gatts_write(handle, bytes(data))
    return None
