"""The air's side of one emulated module: a Bumble device on the shared link, the module's requests
(one JSON object per line) and the NimBLE IRQ events it hears back (tools/ble_air)."""
import asyncio
import json
import logging

from bumble import att, gatt, hci
from bumble.device import Device, DeviceConfiguration
from bumble.host import Host
from bumble.keys import KeyStore, PairingKeys
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport.common import AsyncPipeSink

from bleair.events import (
    CENTRAL_CONNECT, CENTRAL_DISCONNECT, EALREADY, EINVAL, ENCRYPTION_UPDATE, ENOTCONN, GET_SECRET,
    INDICATE, MTU_EXCHANGED, NOTIFY, NO_CONN, PASSKEY_ACTION, PASSKEY_DISPLAY, PASSKEY_INPUT,
    PASSKEY_NUMCMP, PEER_SEC, PERIPHERAL_CONNECT, PERIPHERAL_DISCONNECT, SCAN_DONE, SCAN_RESULT, SET_SECRET,
    SYNC_REPLY_S, addr_out,
)
from bleair.gaps import AirController
from bleair.gattops import GattClient, GattServer

log = logging.getLogger("ble_air")
DISCONNECT_WAIT_S = 3


async def _drop(connection):
    """Disconnect, and do not wait for ever for a peer that has gone."""
    try:
        await asyncio.wait_for(connection.disconnect(), DISCONNECT_WAIT_S)
    except Exception:
        pass


class AirDevice(Device):
    radio = None

    def on_advertising_report(self, report):
        if self.radio is not None:
            self.radio.on_report(report)


class Delegate(PairingDelegate):
    """SMP questions become the NimBLE passkey events; the module answers with gap_passkey()."""

    def __init__(self, radio, connection, io):
        super().__init__(io_capability=io)
        self.radio = radio
        self.connection = connection

    async def compare_numbers(self, number, digits):
        return bool(await self.radio.passkey(self.connection, PASSKEY_NUMCMP, number))

    async def get_number(self):
        return int(await self.radio.passkey(self.connection, PASSKEY_INPUT, 0) or 0)

    async def generate_passkey(self):
        # NimBLE lets the application choose the passkey it displays (gap_passkey(conn, 3, key))
        key = await self.radio.passkey(self.connection, PASSKEY_DISPLAY, 0)
        return int(key or 0)

    async def display_number(self, number, digits):
        pass  # the module showed the passkey it chose

    async def confirm(self, auto=False):
        return True


class AirKeyStore(KeyStore):
    """Bonds live where NimBLE keeps them: with the application, through _IRQ_GET_SECRET/_IRQ_SET_SECRET
    (type 2, a peer's keys; key: address type then the address LSB first). The value is opaque to it."""

    def __init__(self, radio):
        self.radio = radio

    @staticmethod
    def _key(name):
        text, _, kind = name.partition("/")
        return (bytes((0 if kind == "P" else 1,)) + bytes.fromhex(text.replace(":", ""))[::-1]).hex()

    async def get(self, name):
        value = await self.radio.ask(GET_SECRET, [PEER_SEC, None, self._key(name)])
        return PairingKeys.from_dict(json.loads(bytes.fromhex(value))["keys"]) if value else None

    async def update(self, name, keys):
        value = json.dumps({"name": name, "keys": keys.to_dict()}).encode().hex()
        await self.radio.ask(SET_SECRET, [PEER_SEC, self._key(name), value])

    async def delete(self, name):
        await self.radio.ask(SET_SECRET, [PEER_SEC, self._key(name), None])

    async def get_all(self):
        found = []
        for index in range(64):
            value = await self.radio.ask(GET_SECRET, [PEER_SEC, index, None])
            if not value:
                break
            entry = json.loads(bytes.fromhex(value))
            found.append((entry["name"], PairingKeys.from_dict(entry["keys"])))
        return found

    async def delete_all(self):
        for name, _ in await self.get_all():
            await self.delete(name)


class Radio(GattServer, GattClient):
    """The air's side of one module: its Bumble device, and its requests and IRQ events."""

    def __init__(self, air, writer):
        self.air = air
        self.writer = writer
        self.device = None
        self.active = False
        self.conns = {}
        self.values = {}  # our attribute handle -> bytes
        self.limits = {}  # our attribute handle -> how much a client may write (gatts_set_buffer)
        self.base_attributes = 0
        self.waiting = {}  # reply id -> future
        self.next_q = 1
        self.mtu = 23
        self.security = {"bond": False, "mitm": False, "le_secure": False, "io": 3}
        self.scan_task = None
        self.connect_task = None

    # ---- output ----
    def send(self, obj):
        self.writer.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def emit(self, event, data, **extra):
        if self.active:
            self.send(dict({"ev": event, "d": data}, **extra))

    async def ask(self, event, data):
        """An event whose handler's return value the stack needs (a read request, a secret)."""
        if not self.active:
            return None
        q = self.next_q
        self.next_q += 1
        fut = asyncio.get_running_loop().create_future()
        self.waiting[q] = fut
        self.emit(event, data, q=q)
        try:
            return await asyncio.wait_for(fut, SYNC_REPLY_S)
        except asyncio.TimeoutError:
            return None
        finally:
            self.waiting.pop(q, None)

    async def passkey(self, connection, action, number):
        q = ("pk", connection.handle)
        fut = asyncio.get_running_loop().create_future()
        self.waiting[q] = fut
        self.emit(PASSKEY_ACTION, [connection.handle, action, number])
        try:
            return await asyncio.wait_for(fut, 30)
        except asyncio.TimeoutError:
            return None
        finally:
            self.waiting.pop(q, None)

    # ---- the loop ----
    async def serve(self, reader):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                op = msg.pop("op")
                if op == "reply":
                    fut = self.waiting.get(msg["q"])
                    if fut is not None and not fut.done():
                        fut.set_result(msg.get("v"))
                    continue
                rid = msg.pop("id", None)
                try:
                    result = await getattr(self, "op_" + op)(**msg)
                    reply = {"id": rid, "r": result}
                except OSError as e:
                    reply = {"id": rid, "e": e.errno or EINVAL}
                except Exception as e:  # a bad request fails alone
                    log.exception("op %s failed", op)
                    reply = {"id": rid, "e": EINVAL, "why": str(e)}
                if rid is not None:
                    self.send(reply)
        finally:
            await self.shutdown()

    async def shutdown(self):
        """The module is gone (reset, killed): its controller leaves the air, its peers' links time out."""
        self.active = False
        if self.device is not None:
            self.ctrl.le_legacy_advertiser.stop()
            self.air.link.remove_controller(self.ctrl)

    # ---- requests ----
    async def op_hello(self, mac, name):
        address = hci.Address(":".join(mac[i:i + 2] for i in range(0, 12, 2)), hci.Address.PUBLIC_DEVICE_ADDRESS)
        ctrl = self.ctrl = AirController("module-" + mac, link=self.air.link, public_address=address)
        config = DeviceConfiguration(name=name, address=address)
        self.device = AirDevice(config=config, host=Host(ctrl, AsyncPipeSink(ctrl)))
        self.device.radio = self
        self.device.on("connection", self.on_connection)
        self.device.pairing_config_factory = self.pairing_config
        self.device.keystore = AirKeyStore(self)
        await self.device.power_on()
        ctrl.random_address = address  # the air's connections all use the public address
        self.base_attributes = len(self.device.gatt_server.attributes)
        return True

    async def op_active(self, on):
        if on == self.active:
            return on
        if not on:
            for connection in list(self.conns.values()):
                await _drop(connection)
            await self._adv_off()
            if self.device.is_scanning:
                await self.device.stop_scanning()
            self._reset_services()
        self.active = on
        return on

    async def op_config(self, key, value):
        if key == "gap_name":
            self.device.name = value
            for attr in self.device.gatt_server.attributes:
                if getattr(attr, "uuid", None) == gatt.GATT_DEVICE_NAME_CHARACTERISTIC:
                    attr.value = value.encode()
        elif key == "mtu":
            self.mtu = value
            self.device.gatt_server.max_mtu = value
        elif key in self.security:
            self.security[key] = value
        return None

    async def _adv_off(self):
        await self.device.send_command(hci.HCI_LE_Set_Advertising_Enable_Command(advertising_enable=0))

    async def op_adv(self, interval_us, adv, rsp, connectable):
        await self._adv_off()
        if interval_us is None:
            return None
        adv_type = 0 if connectable else (2 if rsp else 3)
        # the HCI advertising commands, as NimBLE sends them for a legacy advert with our public address
        units = max(0x20, min(0x4000, interval_us // 625))
        await self.device.send_command(hci.HCI_LE_Set_Advertising_Parameters_Command(
            advertising_interval_min=units, advertising_interval_max=units, advertising_type=adv_type,
            own_address_type=0, peer_address_type=0, peer_address=hci.Address.ANY,
            advertising_channel_map=7, advertising_filter_policy=0), check_result=True)
        await self.device.send_command(hci.HCI_LE_Set_Advertising_Data_Command(
            advertising_data=bytes.fromhex(adv)), check_result=True)
        await self.device.send_command(hci.HCI_LE_Set_Scan_Response_Data_Command(
            scan_response_data=bytes.fromhex(rsp)), check_result=True)
        await self.device.send_command(hci.HCI_LE_Set_Advertising_Enable_Command(
            advertising_enable=1), check_result=True)
        return None

    async def op_scan(self, duration_ms, interval_us, window_us, active):
        if self.scan_task is not None:
            self.scan_task.cancel()
            self.scan_task = None
        if self.device.is_scanning:
            await self.device.stop_scanning(legacy=True)
            if duration_ms is None:
                self.emit(SCAN_DONE, [])
        if duration_ms is None:
            return None
        interval = max(2.5, min(10240, interval_us / 1000))
        window = max(2.5, min(interval, window_us / 1000))
        await self.device.start_scanning(legacy=True, active=bool(active), scan_interval=interval,
                                         scan_window=window, own_address_type=hci.OwnAddressType.PUBLIC)
        if duration_ms:
            self.scan_task = asyncio.create_task(self._scan_until(duration_ms))
        return None

    async def _scan_until(self, duration_ms):
        await asyncio.sleep(duration_ms / 1000)
        self.scan_task = None
        if self.device.is_scanning:
            await self.device.stop_scanning(legacy=True)
        self.emit(SCAN_DONE, [])

    def on_report(self, report):
        addr = report.address
        self.emit(SCAN_RESULT, [addr.address_type & 1, addr_out(addr), int(report.event_type), report.rssi,
                                bytes(report.data).hex()])

    async def op_connect(self, addr_type, addr, scan_ms):
        if addr is None:
            if self.connect_task is None:
                raise OSError(EALREADY)
            self.connect_task.cancel()
            return None
        if self.connect_task is not None:
            raise OSError(EALREADY)
        peer = hci.Address(":".join(addr[i:i + 2] for i in range(0, 12, 2)), addr_type)
        self.connect_task = asyncio.create_task(self._connect(peer, scan_ms))
        return None

    async def _connect(self, peer, scan_ms):
        try:
            await self.device.connect(peer, own_address_type=hci.OwnAddressType.PUBLIC,
                                      timeout=(scan_ms or 2000) / 1000)
        except (asyncio.CancelledError, Exception):
            self.emit(PERIPHERAL_DISCONNECT, [NO_CONN, 0xFF, addr_out(peer)])
        finally:
            self.connect_task = None

    def on_connection(self, connection):
        handle = connection.handle
        self.conns[handle] = connection
        central = connection.role == hci.Role.CENTRAL
        peer = connection.peer_address
        self.emit(PERIPHERAL_CONNECT if central else CENTRAL_CONNECT, [handle, peer.address_type & 1, addr_out(peer)])
        connection.on("disconnection", lambda reason: self.on_disconnection(connection, central))
        connection.on("connection_att_mtu_update", lambda: self.emit(MTU_EXCHANGED, [handle, connection.att_mtu]))
        connection.on("connection_encryption_change", lambda: self.on_encryption(connection))
        connection.on("pairing_failure", lambda reason: self.emit(ENCRYPTION_UPDATE, [handle, 0, 0, 0, 0]))
        client = connection.gatt_client
        client.on_att_handle_value_notification = lambda pdu: self.emit(
            NOTIFY, [handle, pdu.attribute_handle, bytes(pdu.attribute_value).hex()])

        def indication(pdu):
            self.emit(INDICATE, [handle, pdu.attribute_handle, bytes(pdu.attribute_value).hex()])
            client.send_confirmation(att.ATT_Handle_Value_Confirmation())

        client.on_att_handle_value_indication = indication

    def on_disconnection(self, connection, central):
        self.conns.pop(connection.handle, None)
        peer = connection.peer_address
        event = PERIPHERAL_DISCONNECT if central else CENTRAL_DISCONNECT
        self.emit(event, [connection.handle, peer.address_type & 1, addr_out(peer)])

    def on_encryption(self, connection):
        keys = getattr(connection, "encryption_key_size", 16)
        self.emit(ENCRYPTION_UPDATE, [connection.handle, int(bool(connection.is_encrypted)),
                                      int(bool(connection.authenticated)),
                                      int(bool(self.security["bond"])), keys])

    def _conn(self, conn):
        connection = self.conns.get(conn)
        if connection is None:
            raise OSError(ENOTCONN)
        return connection

    async def op_disconnect(self, conn):
        connection = self.conns.get(conn)
        if connection is None:
            return False
        await _drop(connection)
        return True

    # ---- security ----
    def pairing_config(self, connection):
        s = self.security
        return PairingConfig(sc=bool(s["le_secure"]), mitm=bool(s["mitm"]), bonding=bool(s["bond"]),
                             delegate=Delegate(self, connection, s["io"]))

    async def op_pair(self, conn):
        connection = self._conn(conn)

        async def run():
            try:
                await connection.pair()
            except Exception:
                self.emit(ENCRYPTION_UPDATE, [conn, 0, 0, 0, 0])

        asyncio.create_task(run())

    async def op_passkey(self, conn, action, passkey):
        fut = self.waiting.get(("pk", conn))
        if fut is None or fut.done():
            raise OSError(EINVAL)
        fut.set_result(passkey)
