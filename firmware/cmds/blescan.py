"""esp-at's BLE scanning (seed 004 §6.2.4-6.2.5): scan parameters, and AT+BLESCAN's +BLESCAN lines, an
advert merged with its scan response in an active scan (MicroPython reports them as two events)."""
from at.compat import const
from at.parser import AtError, num, text, E_EXEC, E_INVALID
from cmds import ble

_SCAN_RESULT = const(5)
_SCAN_DONE = const(6)
_SCAN_RSP = const(4)

scan_param = [0, 0, 0, 0x50, 0x50]  # type, own_addr_type, filter_policy, interval, window
_scan = None  # while AT+BLESCAN runs: [timed, filter_type, filter_value, {addr: pending advert}]


# ---- commands ----------------------------------------------------------------------------------------------
def q_blescanparam(at):
    ble.require(1, 3)
    at.reply("+BLESCANPARAM:%d,%d,%d,%d,%d" % tuple(scan_param))


p_blescanparam = (num(0, 1), num(0, 3), num(0, 3), num(4, 0x4000), num(4, 0x4000))


def s_blescanparam(at, scan_type, own, policy, interval, window):
    """own_addr_type and filter_policy other than 0: no MicroPython API (ERROR)."""
    ble.require(1, 3)
    if window > interval or own or policy:
        raise AtError(E_INVALID)
    scan_param[:] = [scan_type, own, policy, interval, window]
    return None


p_blescan = (num(0, 1), num(0, 0xFFFF, True), num(1, 4, True), text(64, opt=True))


def s_blescan(at, enable, duration, filter_type, filter_value):
    """Current esp-at: OK, then a +BLESCAN line per advert (merged with its scan response in an active
    scan), +BLESCANDONE when a timed scan ends. Filters: 1 MAC, 2 name, 4 RSSI (3, UUID: ERROR)."""
    global _scan
    ble.require(1, 3)
    if not enable:
        _scan = None
        ble.radio.gap_scan(None)
        return None
    if (filter_type is None) != (filter_value is None) or filter_type == 3:
        raise AtError(E_INVALID)
    value = filter_value
    if filter_type == 1:
        value = ble.mac_bytes(filter_value)
    elif filter_type == 2:
        value = filter_value.encode()
    elif filter_type == 4:
        try:
            value = int(filter_value)
        except ValueError:
            raise AtError(E_INVALID)
    ble.listen(_SCAN_RESULT, _on_result)
    ble.listen(_SCAN_DONE, _on_done)
    ble.on_deinit(_reset)
    _scan = [bool(duration), filter_type, value, {}]
    interval, window = scan_param[3] * 625, scan_param[4] * 625
    try:
        ble.radio.gap_scan((duration or 0) * 1000, interval, window, scan_param[0] == 1)
    except OSError:
        _scan = None
        raise AtError(E_EXEC)
    return None


def _reset():
    global _scan
    _scan = None


def _on_result(data):
    _scanned(data[0], bytes(data[1]), data[2], data[3], bytes(data[4]))


def _scanned(addr_type, addr, adv_type, rssi, data):
    scan = _scan
    if scan is None:
        return
    pending = scan[3]
    if adv_type == _SCAN_RSP:
        held = pending.pop(addr, None)
        if held is not None:
            _report(scan, addr, held[0], held[1], data, held[2])
    elif scan_param[0] == 1 and adv_type in (0, 2):
        pending[addr] = (rssi, data, addr_type)  # its scan response follows
    else:
        _report(scan, addr, rssi, data, b"", addr_type)


def _report(scan, addr, rssi, adv, rsp, addr_type):
    kind, value = scan[1], scan[2]
    if kind == 1 and addr != value or kind == 4 and rssi < value:
        return
    if kind == 2 and _name_of(adv) != value and _name_of(rsp) != value:
        return
    ble.urc(('+BLESCAN:"%s",%d,%s,%s,%d\r\n' % (ble.mac_text(addr), rssi, adv.hex(), rsp.hex(), addr_type)).encode())


def _name_of(data):
    """The complete or shortened local name in advertising data (AD types 9, 8), or None."""
    i = 0
    while i + 1 < len(data):
        n = data[i]
        if n and data[i + 1] in (8, 9):
            return bytes(data[i + 2 : i + 1 + n])
        i += 1 + n
    return None


def _on_done(data):
    global _scan
    scan = _scan
    _scan = None
    if scan is None:
        return
    for addr, held in scan[3].items():
        _report(scan, addr, held[0], held[1], b"", held[2])
    if scan[0]:
        ble.urc(b"+BLESCANDONE\r\n")
