"""Alibaba Cloud IoT module (seed 000 §4.1-4.2): provisioning over BLE, the "breeze" protocol of Alibaba's app
(cloud/breeze.py), over the esp-at BLE family's radio (cmds/ble.py); AT+IBLECONFIGSTART=1 (cmds/aliyunble.py)
starts it.

``start`` turns BLE on as a server (it must be off: the esp-at BLE commands and this share NimBLE's one GATT
table), registers the service 0xFEB3 and advertises as breeze does. When the app connects the module
indicates its random (again every second until the app answers: MicroPython is not told when the app
subscribes), authenticates the app with AT+IBLECONFIGSTART's [aes_key] or else the product secret, takes
the Wi-Fi, answers, turns BLE off and joins the AP as the hotspot path does (cmds/aliyun_prov.py): +INETSTAT:4,
then the bind token on the next connect to the cloud. ``stop`` (AT+IBLECONFIGSTOP) stops and turns BLE off.

On the chip the IRQ handler runs on the NimBLE task: it only queues; the monitor does the work.
"""
import os
import bluetooth
from at.compat import const, ticks_ms, ticks_diff, ticks_add
from at.parser import AtError
from cloud import breeze
from cmds import aliyun_prov, ble

E_BLE_BUSY = 11  # BLE is on for the esp-at BLE commands

_GATTS_WRITE = const(3)
_CENTRAL_CONNECT = const(1)  # a central (the app) linked to us
_CENTRAL_DISCONNECT = const(2)
_GATTS_INDICATE_DONE = const(20)
_RAND_FIRST_MS = const(300)  # after the link is up: time for the app to find the service and subscribe
_RAND_EVERY_MS = const(1000)
_AUTH_MS = const(10000)  # breeze's authentication timeout: then the link is dropped
_ADV_INTERVAL_US = const(100000)
_INBOX_MAX = const(32)  # frames written and not yet handled
_BUFFER = const(256)  # the longest frame a write may carry (ATT MTU 259)
_PRODUCT_ID = 0  # the Link platform's number for the product: no command of seed 000 sets it

_R = bluetooth.FLAG_READ
_SERVICE = (
    (
        bluetooth.UUID(breeze.SERVICE),
        (
            (bluetooth.UUID(breeze.CHARS[0]), _R),
            (bluetooth.UUID(breeze.CHARS[1]), _R | bluetooth.FLAG_WRITE),
            (bluetooth.UUID(breeze.CHARS[2]), _R | bluetooth.FLAG_INDICATE),
            (bluetooth.UUID(breeze.CHARS[3]), _R | bluetooth.FLAG_WRITE_NO_RESPONSE),
            (bluetooth.UUID(breeze.CHARS[4]), _R | bluetooth.FLAG_NOTIFY),
        ),
    ),
)


class _Run:
    """A provisioning: the key's secret, the value handles (in breeze.CHARS order), the app's link."""

    def __init__(self, secret, handles):
        self.secret = secret
        self.handles = handles
        self.conn = None  # NimBLE's handle of the app's link
        self.session = None  # breeze.Session, made in the monitor once the app is linked
        self.inbox = []  # frames the app wrote (from the IRQ handler)
        self.outbox = []  # packets to send, one indication at a time
        self.waiting = False  # an indication awaits its confirmation
        self.advertising = False
        self.next_rand = 0
        self.deadline = 0


_run = None  # type: _Run


def start(at, aes_key):
    """Start BLE provisioning (again, if it runs); the key decrypts the app's Wi-Fi (else the product secret)."""
    global _run
    secret = aliyun_prov.secret(at, aes_key)
    if secret is None:
        from cmds import aliyun

        raise AtError(aliyun.E_IDENTITY)
    stop(at)
    if ble.role != 0:
        raise AtError(E_BLE_BUSY)
    ble.s_bleinit(at, 2)
    ble.quiet = True
    radio = ble.radio
    handles = radio.gatts_register_services(_SERVICE)[0]
    radio.gatts_set_buffer(handles[1], _BUFFER)
    radio.gatts_set_buffer(handles[3], _BUFFER)
    ble.listen(_CENTRAL_CONNECT, _on_connect)
    ble.listen(_CENTRAL_DISCONNECT, _on_disconnect)
    ble.listen(_GATTS_WRITE, _on_write)
    ble.listen(_GATTS_INDICATE_DONE, _on_indicate_done)
    ble.on_deinit(_reset)
    at.family("system")  # its +INETSTAT reports will tell the MCU of the join
    _run = _Run(secret, handles)
    at.monitor(_monitor)


def stop(at):
    """Stop provisioning and turn BLE off (nothing to do when none runs)."""
    if _run is not None:
        ble.s_bleinit(at, 0)  # _reset follows


def _reset():
    global _run
    _run = None
    ble.quiet = False


# ---- IRQ events (copy, queue, return) -----------------------------------------------------------------------
def _on_connect(data):
    run = _run
    if run is not None and run.conn is None:
        _forget(run)
        run.conn = data[0]
        run.advertising = False  # the controller stopped it


def _on_disconnect(data):
    run = _run
    if run is not None and data[0] == run.conn:
        run.conn = None
        _forget(run)


def _forget(run):
    """A link begins or ends: what a monitor pass made meanwhile for the old one goes too."""
    run.session = None
    run.inbox = []
    run.outbox = []
    run.waiting = False


def _on_write(data):
    run = _run
    if run is not None and data[0] == run.conn and data[1] in (run.handles[1], run.handles[3]):
        if len(run.inbox) < _INBOX_MAX:
            run.inbox.append(bytes(ble.radio.gatts_read(data[1])))


def _on_indicate_done(data):
    run = _run
    if run is not None and data[1] == run.handles[2]:
        run.waiting = False


# ---- the work -------------------------------------------------------------------------------------------------
def _monitor(at):
    run = _run
    if run is None:
        return
    conn = run.conn  # once: the IRQ handler may change it meanwhile
    if conn is None:
        if not run.advertising:
            adv, rsp = breeze.advert(_PRODUCT_ID, ble.radio.config("mac")[1])
            run.advertising = True  # before: the app may link (and _on_connect clear it) during the call
            try:
                ble.radio.gap_advertise(_ADV_INTERVAL_US, adv, resp_data=rsp, connectable=True)
            except OSError:
                run.advertising = False
        return
    now = ticks_ms()
    i = ble.index_of(conn)
    size = (ble.links[i].mtu if i >= 0 else 23) - 3
    session = run.session
    if session is None:
        session = run.session = breeze.Session(run.secret, os.urandom(16), _info(at))
        run.next_rand = ticks_add(now, _RAND_FIRST_MS)
        run.deadline = ticks_add(now, _AUTH_MS)
    while run.inbox:
        run.outbox.extend(session.take(run.inbox.pop(0), size))
    if session.failed or (not session.authenticated() and ticks_diff(now, run.deadline) >= 0):
        ble.radio.gap_disconnect(conn)
        return
    if session.authenticating() and not run.outbox and ticks_diff(now, run.next_rand) >= 0:
        run.outbox.extend(session.hello(size))
        run.next_rand = ticks_add(now, _RAND_EVERY_MS)
    if run.waiting:
        return
    if run.outbox:
        _send(run, conn, run.outbox.pop(0))
    elif session.apinfo is not None:
        ssid, pwd, token = session.apinfo[0], session.apinfo[1], session.apinfo[3]
        stop(at)
        aliyun_prov.provisioned(at, ssid, pwd, token if token is not None and len(token) == 16 else None)


def _send(run, conn, packet):
    """ERR goes by notification, the rest by indication (confirmed before the next)."""
    try:
        if packet[1] == breeze.ERR:
            ble.radio.gatts_notify(conn, run.handles[4], packet)  # type: ignore[call-arg]  # the stub drops conn_handle
        else:
            run.waiting = True
            ble.radio.gatts_indicate(conn, run.handles[2], packet)  # type: ignore[call-arg]  # the stub drops conn_handle
    except OSError:
        run.waiting = False


def _info(at):
    """breeze's TLVs 1-3: firmware info, product key, device name (empty when no identity is set)."""
    auth = aliyun_prov.identity(at) or ["", ""]
    return {breeze.INFO_FIRMWARE: breeze.FIRMWARE, breeze.INFO_PRODUCT_KEY: auth[0].encode(),
            breeze.INFO_DEVICE_NAME: auth[1].encode()}
