"""esp-at's BLE SPP (seed 004 §6.2.29-6.2.30): UART bytes to a characteristic and back, on the engine's one
passthrough, until a lone '+++'.

As a server (AT+BLEINIT=2) TX is one of our notify/indicate characteristics and RX one we let clients
write; as a client TX is the peer's writable characteristic and RX the one it notifies or indicates
(indices from AT+BLEGATTCPRIMSRV/AT+BLEGATTCCHAR). Data goes in pieces of MTU-3 bytes. When the link drops,
a client dials the peer again and a server advertises again, silently, until '+++' (as the manual says).
NimBLE does not tell Python whether the peer subscribed to TX, so that check of current esp-at is not made.
"""
import bluetooth
from at.compat import const, ticks_ms, ticks_diff, ticks_add
from at.parser import AtError, num, E_EXEC, E_INVALID
from at.replies import DONE
from cmds import ble

_REDIAL_MS = const(1000)

cfg = None  # [tx_srv, tx_char, rx_srv, rx_char, auto_conn] or None
_auto = 1
_session = None  # the running SPP: _Session


def q_blesppcfg(at):
    ble.require(1, 2, 3)
    c = cfg or [0, 0, 0, 0, _auto]
    at.reply("+BLESPPCFG:%d,%d,%d,%d,%d" % tuple(c))


p_blesppcfg = (num(0, 1), num(1, 32, True), num(1, 32, True), num(1, 32, True), num(1, 32, True), num(0, 1, True))


def s_blesppcfg(at, enable, tx_srv, tx_char, rx_srv, rx_char, auto_conn):
    global cfg
    ble.require(1, 2, 3)
    ble.on_deinit(_reset)
    if not enable:
        cfg = None
        return None
    if None in (tx_srv, tx_char, rx_srv, rx_char):
        raise AtError(E_INVALID)
    cfg = [tx_srv, tx_char, rx_srv, rx_char, 1 if auto_conn is None else auto_conn]
    return None


def _reset():
    global cfg, _session
    cfg = None
    _session = None


class _Session:
    """Where passthrough bytes go (``send``) and where the peer's bytes come from (``_arrived``)."""

    def __init__(self, at, index, server, tx, rx):
        self.at = at
        self.index = index
        self.server = server
        self.tx = tx  # server: our Char; client: the peer's Char
        self.rx = rx
        link = ble.links[index]
        self.addr = link.addr
        self.addr_type = link.addr_type
        self.redial_at = ticks_ms()
        self.down = False  # the link dropped and has not come back yet

    def send(self, buf, off, n):
        link = ble.links[self.index]
        if link is None:
            return  # the link is down: bytes typed meanwhile are lost, as on the module
        step = link.mtu - 3
        end = off + n
        while off < end:
            piece = bytes(buf[off : min(end, off + step)])
            off += len(piece)
            try:
                self._send(link, piece)
            except OSError:
                return

    def _send(self, link, piece):
        if not self.server:
            ble.radio.gattc_write(link.handle, self.tx.handle, piece, 0)
        elif self.tx.props & bluetooth.FLAG_NOTIFY:
            ble.radio.gatts_notify(link.handle, self.tx.handle, piece)  # type: ignore[call-arg]  # the stub drops conn_handle
        else:
            self.at.family("blegatts").indicate_now(link, self.tx.handle, piece)

    def exit(self):
        global _session
        _session = None
        if self.server:
            self.at.family("blegatts").divert(self.rx.handle, None)
        else:
            self.at.family("blegattc").divert(self.index, self.rx.handle, None)


def _arrived(index, data):
    """From the IRQ handler: the peer's bytes go out of the UART at once (in passthrough nothing else writes
    to it). A full UART holds the handler, and with it the stack: the peer is slowed, nothing is lost."""
    session = _session
    if session is not None:
        session.at.write(data)


def _monitor(at):
    """After a drop, dial or advertise again; a client back on its link listens to RX again."""
    session = _session
    if session is None:
        return
    link = ble.links[session.index]
    if link is not None:
        if session.down and not session.server:
            _subscribe(link, session.rx)
        session.down = False
    elif cfg[4] and ticks_diff(ticks_ms(), session.redial_at) >= 0:
        session.down = True
        session.redial_at = ticks_add(ticks_ms(), _REDIAL_MS)
        if session.server:
            if not ble.advertising:
                ble.advertise()
        else:
            ble.redial(session.index, session.addr, session.addr_type)


def _subscribe(link, rx):
    """A client in SPP listens to RX by itself (§9.5.2.2: only another client must subscribe first)."""
    for handle, uuid in rx.descs:
        if uuid == "0x2902":
            on = b"\x01\x00" if rx.props & bluetooth.FLAG_NOTIFY else b"\x02\x00"
            try:
                ble.radio.gattc_write(link.handle, handle, on, 1)
            except OSError:
                pass
            return


def e_blespp(at):
    """OK and '>' then passthrough. ERROR without a valid configuration, without exactly one link, or
    (a server) while advertising connectably."""
    global _session
    ble.require(1, 2, 3)
    index = -1
    count = 0
    for i in range(ble.MAX_LINKS):
        if ble.links[i] is not None:
            index = i
            count += 1
    if cfg is None or count != 1:
        raise AtError(E_EXEC)
    link = ble.links[index]
    server = ble.role == 2 or (ble.role == 3 and not link.central)
    if server:
        if ble.advertising and ble.adv_param[2] == 0:
            raise AtError(E_EXEC)
        gatts = at.family("blegatts")
        tx = gatts.char(cfg[0], cfg[1])
        rx = gatts.char(cfg[2], cfg[3])
        if not tx.props & (bluetooth.FLAG_NOTIFY | bluetooth.FLAG_INDICATE):
            raise AtError(E_EXEC)
        if not rx.props & (bluetooth.FLAG_WRITE | bluetooth.FLAG_WRITE_NO_RESPONSE):
            raise AtError(E_EXEC)
        gatts.divert(rx.handle, _arrived)
    else:
        gattc = at.family("blegattc")
        tx = gattc.char(index, cfg[0], cfg[1])
        rx = gattc.char(index, cfg[2], cfg[3])
        if not tx.props & (bluetooth.FLAG_WRITE | bluetooth.FLAG_WRITE_NO_RESPONSE):
            raise AtError(E_EXEC)
        if not rx.props & (bluetooth.FLAG_NOTIFY | bluetooth.FLAG_INDICATE):
            raise AtError(E_EXEC)
        gattc.divert(index, rx.handle, _arrived)
        _subscribe(link, rx)
    _session = _Session(at, index, server, tx, rx)
    at.monitor(_monitor)
    at.write(b"\r\nOK\r\n\r\n>")
    at.passthrough(_session)
    return DONE
