"""esp-at's BLE family, GAP part (seed 004 §6.2.1-6.2.15): init and roles, address, name, advertising,
connections and MTU (scanning: blescan), over MicroPython's ``bluetooth`` (NimBLE on the ESP32).

The family has one IRQ handler, here. It keeps the link table (conn_index 0-2 -> NimBLE connection) and
hands the other events to the BLE family module that ``listen``-ed for them (GATT server, client, SPP,
security). On the chip the handler runs on the NimBLE task: it copies what it keeps (memoryviews die
with the call) and only queues URCs.
"""
import sys
import bluetooth
from at import engine  # the type of _at, for mypy
from at.compat import const, ticks_ms, ticks_diff
from at.parser import AtError, num, text, hexstr, E_EXEC, E_INVALID

MAX_LINKS = const(3)  # conn_index 0..2, as current esp-at on the ESP32
NO_CONN = const(0xFFFF)
_CENTRAL_CONNECT = const(1)
_CENTRAL_DISCONNECT = const(2)
_PERIPHERAL_CONNECT = const(7)
_PERIPHERAL_DISCONNECT = const(8)
_MTU_EXCHANGED = const(21)
_SECURITY = (28, 29, 30, 31)  # encryption, secrets, passkeys: the security module, loaded on the first
_CONNECT_GRACE_MS = const(2000)  # beyond the scan time: how long AT+BLECONN waits for the link
DEFAULT_NAME = "ESP-AT"


class Link:
    """One connection: NimBLE's handle, the peer, whether we connected out (central), the ATT MTU."""

    def __init__(self, handle, addr_type, addr, central):
        self.handle = handle
        self.addr_type = addr_type
        self.addr = addr
        self.central = central
        self.mtu = 23


role = 0  # AT+BLEINIT: 0 off, 1 client, 2 server, 3 both
radio = None  # type: bluetooth.BLE  # while BLE is initialised
links = [None] * MAX_LINKS  # type: list
_at = None  # type: engine.Engine
_listeners = {}  # IRQ event -> fn(data) of another BLE family module
_resets = []  # fn() of each BLE family module, called when BLE is deinitialised
_name = None
_connecting = None  # [conn_index, addr, state, quiet]: state None waiting, True linked, False failed
adv_param = [0x20, 0x40, 0, 0, 7, 0, 0, "00:00:00:00:00:00"]  # type: list
adv_data = b""
rsp_data = b""
advertising = False
quiet = False  # True while another profile (Alibaba's BLE provisioning) owns BLE: no +BLECONN/+BLEDISCONN


# ---- what the other BLE family modules use ---------------------------------------------------------------
def listen(event, fn):
    """Have ``fn(data)`` called for IRQ ``event`` (from the IRQ handler: copy, queue, return)."""
    _listeners[event] = fn


def on_deinit(fn):
    """Have ``fn()`` called when BLE is deinitialised (AT+BLEINIT=0): the module forgets its state."""
    if fn not in _resets:
        _resets.append(fn)


def urc(line):
    """Queue a message line (bytes with its CR LF) for the MCU. It is never dropped from a full queue: a BLE
    peer has no flow control the module could use to hold it back, so its writes, notifications and the
    link events are kept until written (the engine drops only URCs that carry no ``done``)."""
    _at.urc(line, _written, None)


def _written(arg):
    """Nothing to acknowledge once a BLE message is on the UART."""


def require(*roles):
    """AtError unless BLE is initialised in one of ``roles``."""
    if role not in roles:
        raise AtError(E_EXEC)


def link(index):
    """The Link at conn_index ``index``, or AtError."""
    if radio is None or not 0 <= index < MAX_LINKS or links[index] is None:
        raise AtError(E_EXEC)
    return links[index]


def index_of(handle):
    """conn_index of NimBLE connection ``handle``, or -1."""
    for i in range(MAX_LINKS):
        if links[i] is not None and links[i].handle == handle:
            return i
    return -1


def mac_text(addr):
    return ":".join("%02x" % b for b in addr)


def mac_bytes(textmac):
    """'aa:bb:cc:dd:ee:ff' -> 6 bytes, or AtError."""
    parts = textmac.split(":")
    try:
        raw = bytes(int(p, 16) for p in parts)
    except ValueError:
        raise AtError(E_INVALID)
    if len(parts) != 6 or any(len(p) != 2 for p in parts):
        raise AtError(E_INVALID)
    return raw


def uuid_text(uuid):
    """A bluetooth.UUID as esp-at prints it: 0xA002, or 0x and 32 hex digits."""
    s = str(uuid)  # UUID(0xa002) / UUID('6e400001-b5a3-f393-e0a9-e50e24dcca9e')
    if s[5] == "'":
        return "0x" + s[6:-2].replace("-", "").upper()
    return "0x%04X" % int(s[5:-1], 16)


# ---- the IRQ handler -------------------------------------------------------------------------------------
def _irq(event, data):
    try:
        if event == _CENTRAL_CONNECT or event == _PERIPHERAL_CONNECT:
            _connected(data[0], data[1], bytes(data[2]), event == _PERIPHERAL_CONNECT)
        elif event == _CENTRAL_DISCONNECT or event == _PERIPHERAL_DISCONNECT:
            _disconnected(data[0], bytes(data[2]))
        elif event == _MTU_EXCHANGED:
            i = index_of(data[0])
            if i >= 0:
                links[i].mtu = data[1]
        fn = _listeners.get(event)
        if fn is None and event in _SECURITY:
            _at.family("blesec").attach(_at)
            fn = _listeners.get(event)
        if fn is not None:
            return fn(data)
    except Exception as e:  # an exception would make the chip drop the handler for good
        from at.compat import print_exc

        print_exc(e)
    return None


def _connected(handle, addr_type, addr, central):
    global _connecting
    if central and _connecting is not None and _connecting[1] == addr:
        index = _connecting[0]
        _connecting[2] = True
        report = False  # AT+BLECONN answers it; a redial is silent
        if _connecting[3]:
            _connecting = None
    else:
        index = -1
        for i in range(MAX_LINKS):
            if links[i] is None:
                index = i
                break
        report = True
    if index < 0 or links[index] is not None:
        radio.gap_disconnect(handle)  # no conn_index free
        return
    links[index] = Link(handle, addr_type, addr, central)
    if not central:
        stop_advertising()  # the controller has stopped it
    if report and not quiet:
        urc(('+BLECONN:%d,"%s"\r\n' % (index, mac_text(addr))).encode())


def _disconnected(handle, addr):
    global _connecting
    if handle == NO_CONN:
        if _connecting is not None:
            _connecting[2] = False
            if _connecting[3]:
                _connecting = None
        return
    i = index_of(handle)
    if i >= 0:
        links[i] = None
        if not quiet:
            urc(('+BLEDISCONN:%d,"%s"\r\n' % (i, mac_text(addr))).encode())


# ---- init, address, name -----------------------------------------------------------------------------------
def q_bleinit(at):
    at.reply("+BLEINIT:%d" % role)


p_bleinit = (num(0, 3),)


def s_bleinit(at, init):
    global role, radio, _at
    if init == role:
        return None
    if init and role:
        raise AtError(E_EXEC)  # the role changes only through AT+BLEINIT=0 or a restart
    if init and _passthrough_mode():
        raise AtError(E_EXEC)  # BLE and Wi-Fi passthrough cannot coexist (seed 004 §6.1)
    _at = at
    if init == 0:
        _deinit()
        return None
    radio = bluetooth.BLE()
    radio.irq(_irq)
    radio.active(True)
    radio.config(gap_name=name(at))
    role = init
    return None


def _passthrough_mode():
    """AT+CIPMODE is 1. It lives in cmds.tcpip, 0 until that family is imported: not imported for this."""
    tcpip = sys.modules.get("cmds.tcpip")
    return tcpip is not None and tcpip.cipmode


def _deinit():
    global role, radio, _connecting, advertising
    for fn in _resets:
        fn()
    radio.active(False)
    for i in range(MAX_LINKS):
        links[i] = None
    role = 0
    radio = None
    _connecting = None
    advertising = False


def q_bleaddr(at):
    require(1, 2, 3)
    at.reply('+BLEADDR:"%s"' % mac_text(radio.config("mac")[1]))


p_bleaddr = (num(0, 1), text(17, opt=True))


def s_bleaddr(at, addr_type, addr):
    """Public address only: MicroPython cannot set a chosen static random address (ERROR)."""
    require(1, 2, 3)
    if addr_type != 0 or addr is not None:
        raise AtError(E_EXEC)
    return None


def name(at):
    global _name
    if _name is None:
        _name = at.store.get_str("blename", DEFAULT_NAME)
    return _name


def q_blename(at):
    at.reply("+BLENAME:%s" % name(at))


p_blename = (text(32, 1),)


def s_blename(at, value):
    global _name
    require(1, 2, 3)
    radio.config(gap_name=value)
    _name = value
    at.store.save_bytes("blename", value)
    return None


# ---- advertising -------------------------------------------------------------------------------------------
p_blescanrspdata = (hexstr(31),)


def s_blescanrspdata(at, data):
    global rsp_data
    require(2, 3)
    rsp_data = data
    return _readvertise()


def q_bleadvparam(at):
    require(2, 3)
    at.reply('+BLEADVPARAM:%d,%d,%d,%d,%d,%d,%d,"%s"' % tuple(adv_param))


p_bleadvparam = (num(0x20, 0x4000), num(0x20, 0x4000), num(0, 4), num(0, 3), num(1, 7), num(0, 3, True),
                 num(0, 1, True), text(17, opt=True))


def s_bleadvparam(at, lo, hi, adv_type, own, channels, policy, peer_type, peer):
    """NimBLE through MicroPython advertises undirected, on all channels, from the public address, with no
    filter: other values answer ERROR. ADV_IND (0) is connectable; 2 and 3 are not (2 when a scan
    response is set)."""
    require(2, 3)
    if lo > hi or adv_type not in (0, 2, 3) or own or channels != 7 or policy or peer_type:
        raise AtError(E_INVALID)
    if peer is not None:
        mac_bytes(peer)
    adv_param[:] = [lo, hi, adv_type, own, channels, policy or 0, peer_type or 0, peer or "00:00:00:00:00:00"]
    return None


p_bleadvdata = (hexstr(31),)


def s_bleadvdata(at, data):
    global adv_data
    require(2, 3)
    adv_data = data
    return _readvertise()


def _readvertise():
    if advertising:
        _advertise()
    return None


def _advertise():
    radio.gap_advertise(adv_param[0] * 625, adv_data, resp_data=rsp_data, connectable=adv_param[2] == 0)


def e_bleadvstart(at):
    require(2, 3)
    advertise()
    return None


def advertise():
    """Advertise with the parameters and data set (AT+BLEADVSTART; SPP after a drop)."""
    global advertising
    _advertise()
    advertising = True


def redial(index, addr, addr_type):
    """Connect conn_index to ``addr`` again, silently (SPP after a drop); the link shows in ``links``."""
    global _connecting
    if _connecting is not None:
        return
    _connecting = [index, addr, None, True]
    try:
        radio.gap_connect(addr_type, addr, 2000)
    except OSError:
        _connecting = None


def e_bleadvstop(at):
    global advertising
    require(2, 3)
    radio.gap_advertise(None)
    advertising = False
    return None


def stop_advertising():
    """Advertising ends when a peer connects (the controller stops it), and when the GATT server is made."""
    global advertising
    advertising = False


# ---- connections ------------------------------------------------------------------------------------------
def q_bleconn(at):
    require(1, 2, 3)
    for i in range(MAX_LINKS):
        if links[i] is not None:
            at.reply('+BLECONN:%d,"%s"' % (i, mac_text(links[i].addr)))


p_bleconn = (num(0, MAX_LINKS - 1), text(17), num(0, 3, True), num(3, 30, True))


def s_bleconn(at, index, peer, addr_type, timeout):
    """Current esp-at: +BLECONN:<i>,"<addr>" then OK, or +BLECONN:<i>,-1 then ERROR."""
    global _connecting
    require(1, 3)
    addr = mac_bytes(peer)
    if links[index] is not None or _connecting is not None or (addr_type or 0) > 1:
        raise AtError(E_EXEC)
    wait_ms = (timeout or 3) * 1000
    _connecting = [index, addr, None, False]
    try:
        radio.gap_connect(addr_type or 0, addr, wait_ms)
    except OSError:
        _connecting = None
        raise AtError(E_EXEC)
    return _await_link(at, index, wait_ms + _CONNECT_GRACE_MS)


def _await_link(at, index, wait_ms):
    global _connecting
    start = ticks_ms()
    while _connecting[2] is None and ticks_diff(ticks_ms(), start) < wait_ms:
        yield 20
    state = _connecting[2]
    addr = _connecting[1]
    _connecting = None
    if state:
        at.reply('+BLECONN:%d,"%s"' % (index, mac_text(addr)))
        return None
    if state is None:
        try:
            radio.gap_connect(None)  # type: ignore[call-arg]  # the chip's way to cancel
        except OSError:
            pass
    at.reply("+BLECONN:%d,-1" % index)
    return False


p_bledisconn = (num(0, MAX_LINKS - 1),)


def s_bledisconn(at, index):
    """OK, then +BLEDISCONN when the link is down (current esp-at's order)."""
    require(1, 2, 3)
    if not radio.gap_disconnect(link(index).handle):
        raise AtError(E_EXEC)
    return None


def q_bleconnparam(at):
    """No MicroPython API reports a link's interval until it changes: ERROR."""
    raise AtError(E_EXEC)


p_bleconnparam = (num(0, MAX_LINKS - 1), num(6, 0xC80), num(6, 0xC80), num(0, 0x1F3), num(0xA, 0xC80))


def s_bleconnparam(at, index, lo, hi, latency, timeout):
    """No MicroPython API requests a connection-parameter update: ERROR."""
    raise AtError(E_EXEC)


p_bledatalen = (num(0, MAX_LINKS - 1), num(0x1B, 0xFB))


def s_bledatalen(at, index, length):
    """No MicroPython API sets the data length: ERROR."""
    raise AtError(E_EXEC)


def q_blecfgmtu(at):
    require(1, 2, 3)
    for i in range(MAX_LINKS):
        if links[i] is not None:
            at.reply("+BLECFGMTU:%d,%d" % (i, links[i].mtu))


p_blecfgmtu = (num(0, MAX_LINKS - 1), num(23, 517))


def s_blecfgmtu(at, index, mtu):
    """OK once the exchange has started; AT+BLECFGMTU? shows the result."""
    require(1, 2, 3)
    handle = link(index).handle
    radio.config(mtu=mtu)
    try:
        radio.gattc_exchange_mtu(handle)
    except OSError:
        raise AtError(E_EXEC)
    return None
