"""bluetooth for the host board, with the ESP32 API (MicroPython's NimBLE port).

The stack is a Bumble host in the BLE air (tools/ble_air), reached over the Unix socket named by
AT_BLE_AIR; the air is started when it is not there. Calls are requests answered by the air; IRQ events
arrive with the tuple shapes, memoryviews and numbers the ESP32 delivers. As on the chip (where they run
on the NimBLE task), they may interrupt the main program between two bytecodes: under MicroPython a
reader thread waits for the socket and schedules them (micropython.schedule), under CPython the reader
thread runs them itself. An interpreter with a built-in ``ubluetooth`` uses that instead (end of file).
"""
import json
import os
import select
import sys
import time

import hoststate

FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020

_MICROPYTHON = sys.implementation.name == "micropython"
# The interpreter's own sockets: boards/host/socket.py is the virtual network's, for the firmware's links.
if _MICROPYTHON:
    import _thread
    import micropython
    import usocket as _socket
else:
    import _socket
    import threading

_DEFAULT_MAC = "240ac4000003"
_START_WAIT_S = 20  # how long active(True) waits for an air it has just started
_REQUEST_WAIT_S = 10
_READ = 2048  # bytes per read from the air (NimBLE on the chip never allocates a large block either)
_EINVAL = 22
_ETIMEDOUT = 110
_EAGAIN = 11
# Which fields of an event's tuple are addresses or data (bytes: memoryviews on the chip) or UUIDs.
_BYTES = {1: (2,), 2: (2,), 5: (1, 4), 7: (2,), 8: (2,), 15: (2,), 18: (2,), 19: (2,), 29: (2,), 30: (1, 2)}
_UUIDS = {9: 3, 11: 4, 13: 2}
_CONFIG = ("gap_name", "mtu", "addr_mode", "bond", "mitm", "io", "le_secure")


class UUID:
    def __init__(self, value):
        if isinstance(value, int):
            if not 0 <= value <= 0xFFFF:
                raise ValueError("invalid UUID")
            self._v = value
            return
        if isinstance(value, str):
            h = value.replace("-", "").lower()
        else:  # bytes as NimBLE gives them (little-endian)
            raw = bytes(value)
            if len(raw) == 2:
                self._v = raw[0] | raw[1] << 8
                return
            h = bytes(reversed(raw)).hex()
        if len(h) != 32:
            raise ValueError("invalid UUID")
        int(h, 16)
        self._v = h

    def __eq__(self, other):
        return isinstance(other, UUID) and self._v == other._v

    def __hash__(self):
        return hash(self._v)

    def __repr__(self):
        if isinstance(self._v, int):
            return "UUID(0x%04x)" % self._v
        h = self._v
        return "UUID('%s-%s-%s-%s-%s')" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])

    def __str__(self):
        return self.__repr__()


def _wire_uuid(uuid):
    return uuid._v


def _hex(data):
    return None if data is None else bytes(data).hex()


class _Link:
    """The socket to the air: requests from the main program, events for the IRQ handler."""

    def __init__(self, ble, path):
        self.ble = ble
        self.path = path
        self.sock = self._open(path)
        self.sock.setblocking(False)
        self.buf = bytearray(_READ)  # each read lands here: the air's lines are a stream, so a read may end
        self.inbox = bytearray()  # inside a line, whose start waits here for the rest
        self.events = []
        self.answers = {}  # request id -> the air's answer, until the request takes it
        self.dispatching = False
        self.reading = False  # MicroPython: the main program is reading the socket (a scheduled pump waits)
        self.next_id = 1
        self.poll = select.poll()
        self.poll.register(self.sock, select.POLLIN)
        if _MICROPYTHON:
            self.gate = _thread.allocate_lock()
            _thread.start_new_thread(self._watch, ())
        else:
            self.lock = threading.RLock()
            threading.Thread(target=self._watch, daemon=True).start()

    @staticmethod
    def _connect(path):
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            if _MICROPYTHON:
                import struct

                s.connect(struct.pack("H", _socket.AF_UNIX) + path.encode() + b"\0")
            else:
                s.connect(path)
            return s
        except OSError:
            s.close()
            return None

    def _open(self, path):
        s = self._connect(path)
        if s is not None:
            return s
        tool = os.getenv("AT_BLE_AIR_TOOL") or hoststate.BOARD_DIR + "/../../tools/ble_air"
        python = os.getenv("AT_BLE_PYTHON") or "python3"
        os.system('"%s" "%s" "%s" </dev/null >>"%s" 2>&1 &' % (python, tool, path, path + ".log"))
        deadline = time.time() + _START_WAIT_S
        while time.time() < deadline:
            time.sleep(0.05)
            s = self._connect(path)
            if s is not None:
                return s
        raise OSError(_ETIMEDOUT)

    # ---- the IRQ line ----
    def _watch(self):
        poll = select.poll()
        poll.register(self.sock, select.POLLIN)
        while True:
            poll.poll(-1)
            if _MICROPYTHON:
                self.gate.acquire()  # released by the pump: one pump at a time
                while True:
                    try:
                        micropython.schedule(self._scheduled, None)
                        break
                    except RuntimeError:  # the schedule queue is full
                        time.sleep_ms(1)
            else:
                with self.lock:
                    self._pump()
                    self._dispatch()

    def _scheduled(self, _):
        if self.reading:  # it ran between two bytecodes of a request, which takes the events itself
            self.gate.release()
            return
        self.reading = True
        try:
            self._pump()
        finally:
            self.reading = False
            self.gate.release()
        self._dispatch()

    # ---- reading ----
    def _read(self):
        try:
            n = self.sock.readinto(self.buf) if _MICROPYTHON else self.sock.recv_into(self.buf)
        except OSError as e:
            if e.args[0] == _EAGAIN:
                return False
            raise
        if n is None:  # MicroPython: nothing to read yet
            return False
        if not n:
            raise OSError(_ETIMEDOUT)  # the air is gone
        self.inbox += memoryview(self.buf)[:n]
        return True

    def _messages(self):
        """The air's complete lines (one JSON object each) read so far; a partial one stays in inbox."""
        while True:
            i = self.inbox.find(b"\n")
            if i < 0:
                return
            line = bytes(self.inbox[:i])
            self.inbox[: i + 1] = b""
            yield json.loads(line)

    def _pump(self):
        """Take what the air sent: queue its events, keep its answers."""
        while self._read():
            pass
        for msg in self._messages():
            if "ev" in msg:
                self.events.append(msg)
            else:
                self.answers[msg.get("id")] = msg

    def _dispatch(self):
        if self.dispatching:
            return
        self.dispatching = True
        try:
            while self.events:
                self.ble._event(self.events.pop(0))
        finally:
            self.dispatching = False

    # ---- requests ----
    def send(self, obj):
        data = json.dumps(obj).encode() + b"\n"
        while data:
            try:
                n = self.sock.send(data)
            except OSError as e:
                if e.args[0] != _EAGAIN:
                    raise
                n = 0
            data = data[n:]
            if data:
                p = select.poll()
                p.register(self.sock, select.POLLOUT)
                p.poll(100)

    def request(self, op, **args):
        if _MICROPYTHON:
            return self._request(op, args)
        with self.lock:
            return self._request(op, args)

    def _request(self, op, args):
        rid = self.next_id
        self.next_id += 1
        args["op"] = op
        args["id"] = rid
        reading = self.reading
        self.reading = True
        try:
            self.send(args)
            answer = self._answer(rid)
        finally:
            self.reading = reading
        self._dispatch()
        if "e" in answer:
            raise OSError(answer["e"])
        return answer.get("r")

    def _answer(self, rid):
        deadline = time.time() + _REQUEST_WAIT_S
        while True:
            self._pump()
            answer = self.answers.pop(rid, None)
            if answer is not None:
                return answer
            if time.time() > deadline:
                raise OSError(_ETIMEDOUT)
            self.poll.poll(100)


class BLE:
    _instance = None

    def __new__(cls):
        if BLE._instance is None:
            obj = object.__new__(cls)
            obj._active = False
            obj._link = None
            obj._handler = None
            obj._mac = bytes.fromhex((os.getenv("AT_BLE_MAC") or _DEFAULT_MAC).replace(":", ""))
            obj._cfg = {"gap_name": b"MPY ESP32", "mtu": 23, "addr_mode": 0, "bond": False, "mitm": False,
                        "io": 3, "le_secure": False}
            obj._values = {}
            obj._adv = b""
            obj._rsp = b""
            BLE._instance = obj
        return BLE._instance

    def __init__(self):
        pass

    def _air(self):
        if self._link is None:
            path = os.getenv("AT_BLE_AIR") or hoststate.path("ble-air.sock")
            link = _Link(self, path)
            link.request("hello", mac=self._mac.hex(), name=self._cfg["gap_name"].decode())
            self._link = link
        return self._link

    def _call(self, op, **args):
        if not self._active:
            raise OSError(_EINVAL)
        return self._link.request(op, **args)

    # ---- events ----
    def _event(self, msg):
        event = msg["ev"]
        data = msg["d"]
        for i in _BYTES.get(event, ()):
            if data[i] is not None:
                data[i] = memoryview(bytes.fromhex(data[i]))
        if event in _UUIDS:
            i = _UUIDS[event]
            data[i] = UUID(data[i] if isinstance(data[i], int) else data[i])
        if "v" in msg:  # a client wrote one of our attributes: its new value
            self._values[data[1]] = bytes.fromhex(msg["v"])
        result = None
        handler = self._handler
        if handler is not None:
            try:
                result = handler(event, tuple(data))
            except Exception as e:  # as the NimBLE port does: report it and drop the handler
                print("Unhandled exception in IRQ callback handler")
                if _MICROPYTHON:
                    sys.print_exception(e)
                self._handler = None
        if "q" in msg:
            if isinstance(result, (bytes, bytearray, memoryview)):
                result = bytes(result).hex()
            self._link.send({"op": "reply", "q": msg["q"], "v": result})

    # ---- the API ----
    def active(self, active=None):
        if active is not None:
            active = bool(active)
            if active != self._active:
                self._air().request("active", on=active)
                self._active = active
                if not active:
                    self._values = {}
        return self._active

    def config(self, *args, **kwargs):
        if args:
            key = args[0]
            if key == "mac":
                if not self._active:
                    raise OSError(_EINVAL)
                return (self._cfg["addr_mode"] & 1, self._mac)
            if key in ("gap_name", "mtu", "addr_mode"):
                return self._cfg[key]
            raise ValueError("unknown config param")
        for key, value in kwargs.items():
            if key not in _CONFIG:
                raise ValueError("unknown config param")
            if key == "gap_name":
                value = value.encode() if isinstance(value, str) else bytes(value)
            elif key == "mtu" and not 23 <= value <= 517:
                raise ValueError("invalid mtu")
            self._cfg[key] = value
            if self._active and key != "addr_mode":
                self._link.request("config", key=key, value=value.decode() if key == "gap_name" else value)

    def irq(self, handler):
        self._handler = handler

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        if adv_data is not None:
            self._adv = bytes(adv_data)
        if resp_data is not None:
            self._rsp = bytes(resp_data)
        if interval_us is not None and (len(self._adv) > 31 or len(self._rsp) > 31):
            raise OSError(_EINVAL)
        self._call("adv", interval_us=interval_us, adv=self._adv.hex(), rsp=self._rsp.hex(),
                   connectable=bool(connectable))

    def gap_scan(self, duration_ms, interval_us=1280000, window_us=11250, active=False):
        self._call("scan", duration_ms=duration_ms, interval_us=interval_us, window_us=window_us,
                   active=bool(active))

    def gap_connect(self, addr_type, addr=None, scan_duration_ms=2000, min_conn_interval_us=None,
                    max_conn_interval_us=None):
        if addr_type is None:
            self._call("connect", addr_type=0, addr=None, scan_ms=0)
            return
        self._call("connect", addr_type=addr_type, addr=bytes(addr).hex(), scan_ms=scan_duration_ms)

    def gap_disconnect(self, conn_handle):
        return self._call("disconnect", conn=conn_handle)

    def gatts_register_services(self, services_definition):
        defs = []
        for uuid, chars in services_definition:
            cs = []
            for c in chars:
                descs = [[_wire_uuid(d[0]), d[1]] for d in (c[2] if len(c) > 2 else ())]
                cs.append([_wire_uuid(c[0]), c[1], descs])
            defs.append([_wire_uuid(uuid), cs])
        handles = self._call("register", services=defs)
        self._values = {}
        for service in handles:
            for h in service:
                self._values[h] = b""
        return tuple(tuple(s) for s in handles)

    def gatts_read(self, value_handle):
        if value_handle not in self._values:
            raise OSError(_EINVAL)
        return self._values[value_handle]

    def gatts_write(self, value_handle, data, send_update=False):
        data = bytes(data)
        self._call("gwrite", handle=value_handle, value=data.hex(), update=bool(send_update))
        self._values[value_handle] = data

    def gatts_notify(self, *args):
        # (conn_handle, value_handle[, data]): the ESP32 stub names these parameters wrongly
        data = args[2] if len(args) > 2 else None
        self._call("notify", conn=args[0], handle=args[1], value=_hex(data))

    def gatts_indicate(self, *args):
        # (conn_handle, value_handle[, data]), as gatts_notify; GATTS_INDICATE_DONE follows
        data = args[2] if len(args) > 2 else None
        self._call("indicate", conn=args[0], handle=args[1], value=_hex(data))

    def gatts_set_buffer(self, conn_handle, len, append=False):
        # conn_handle is the value handle (the stub's name for it)
        self._call("gbuf", handle=conn_handle, size=len, append=bool(append))

    def gattc_discover_services(self, conn_handle, uuid=None):
        self._call("disc_svc", conn=conn_handle, uuid=None if uuid is None else _wire_uuid(uuid))

    def gattc_discover_characteristics(self, conn_handle, start_handle, end_handle, uuid=None):
        self._call("disc_chr", conn=conn_handle, start=start_handle, end=end_handle,
                   uuid=None if uuid is None else _wire_uuid(uuid))

    def gattc_discover_descriptors(self, conn_handle, start_handle, end_handle):
        self._call("disc_dsc", conn=conn_handle, start=start_handle, end=end_handle)

    def gattc_read(self, conn_handle, value_handle):
        self._call("read", conn=conn_handle, handle=value_handle)

    def gattc_write(self, conn_handle, value_handle, data, mode=0):
        self._call("write", conn=conn_handle, handle=value_handle, value=bytes(data).hex(), mode=mode)

    def gattc_exchange_mtu(self, conn_handle):
        self._call("mtu", conn=conn_handle)

    def gap_pair(self, conn_handle):
        self._call("pair", conn=conn_handle)

    def gap_passkey(self, conn_handle, action, passkey):
        self._call("passkey", conn=conn_handle, action=action, passkey=passkey)


# A MicroPython built with Bluetooth (e.g. the unix port with NimBLE and a controller) has the real stack:
# the firmware then runs on it, and the air above is not used.
try:
    from ubluetooth import BLE, UUID  # noqa: F811
except ImportError:
    pass
