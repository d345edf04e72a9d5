"""The GATT server and client requests of a module (mixed into bleair.radio.Radio): NimBLE's layout and
semantics over Bumble's GATT."""
import asyncio
import logging

from bumble import att, core, gatt, gatt_client

from bleair.events import (
    CHAR_DONE, CHAR_RESULT, DESC_DONE, DESC_RESULT, EINVAL, FLAG_INDICATE, FLAG_NOTIFY, FLAG_READ,
    FLAG_WRITE, FLAG_WRITE_NO_RESPONSE, GATTS_READ_REQUEST, GATTS_WRITE, INDICATE_DONE, READ_DONE,
    READ_RESULT, SERVICE_DONE, SERVICE_RESULT, WRITE_DONE, uuid_in, uuid_out,
)

log = logging.getLogger("ble_air")


class GattServer:
    def _reset_services(self):
        server = self.device.gatt_server
        keep = server.attributes[:self.base_attributes]
        server.attributes = keep
        server.attributes_by_handle = {a.handle: a for a in keep}
        server.services = [s for s in server.services if s in keep]
        self.values.clear()
        self.limits.clear()

    def _value(self, handle, readable):
        async def read(connection):
            if readable:
                answer = await self.ask(GATTS_READ_REQUEST, [connection.handle, handle])
                if answer:
                    raise att.ATT_Error(error_code=answer, att_handle=handle)
            return self.values.get(handle, b"")

        def write(connection, value):
            value = bytes(value)[: self.limits.get(handle, 20)]
            self.values[handle] = value
            self.emit(GATTS_WRITE, [connection.handle, handle], v=value.hex())

        return att.AttributeValue(read=read, write=write)

    @staticmethod
    def _permissions(flags):
        perm = 0
        if flags & FLAG_READ:
            perm |= att.Attribute.READABLE
        if flags & (FLAG_WRITE | FLAG_WRITE_NO_RESPONSE):
            perm |= att.Attribute.WRITEABLE
        return perm

    async def op_register(self, services):
        """gatts_register_services: NimBLE lays out declaration, value, the CCCD (if it notifies or
        indicates), then the other descriptors; it returns the value handles of characteristics and
        descriptors, without the CCCDs, one tuple per service."""
        await self._adv_off()
        self._reset_services()
        server = self.device.gatt_server
        out = []
        for s_uuid, chars in services:
            handle = server.next_handle()  # the service declaration
            built = []
            handles = []
            for c_uuid, flags, descs in chars:
                handle += 1  # declaration
                value_handle = handle = handle + 1
                props = gatt.Characteristic.Properties(flags & 0xFF)
                char = gatt.Characteristic(uuid_in(c_uuid), props, self._permissions(flags),
                                           self._value(value_handle, flags & FLAG_READ))
                descriptors = []
                if flags & (FLAG_NOTIFY | FLAG_INDICATE):
                    handle += 1
                    descriptors.append(gatt.Descriptor(gatt.GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
                                                       att.Attribute.READABLE | att.Attribute.WRITEABLE,
                                                       server.make_descriptor_value(char)))
                handles.append(value_handle)
                for d_uuid, d_flags in descs:  # NimBLE's descriptor flags: 1 read, 2 write
                    handle += 1
                    perm = (att.Attribute.READABLE if d_flags & 1 else 0) | (att.Attribute.WRITEABLE if d_flags & 2 else 0)
                    descriptors.append(gatt.Descriptor(uuid_in(d_uuid), perm, self._value(handle, d_flags & 1)))
                    handles.append(handle)
                char.descriptors = descriptors
                built.append(char)
            server.add_service(gatt.Service(uuid_in(s_uuid), built))
            for h in handles:
                self.values[h] = b""
            out.append(handles)
        return out

    async def op_gwrite(self, handle, value, update):
        if handle not in self.values:
            raise OSError(EINVAL)
        self.values[handle] = bytes.fromhex(value)
        if update:
            attr = self.device.gatt_server.get_attribute(handle)
            await self.device.gatt_server.notify_subscribers(attr, self.values[handle])
        return None

    async def op_gbuf(self, handle, size, append):
        if handle not in self.values:
            raise OSError(EINVAL)
        self.limits[handle] = size
        return None

    async def op_notify(self, conn, handle, value):
        connection = self._conn(conn)
        attr = self.device.gatt_server.get_attribute(handle)
        if attr is None or handle not in self.values:
            raise OSError(EINVAL)
        data = self.values[handle] if value is None else bytes.fromhex(value)
        await self.device.gatt_server.notify_subscriber(connection, attr, data, force=True)
        return None

    async def op_indicate(self, conn, handle, value):
        connection = self._conn(conn)
        attr = self.device.gatt_server.get_attribute(handle)
        if attr is None or handle not in self.values:
            raise OSError(EINVAL)
        data = self.values[handle] if value is None else bytes.fromhex(value)
        asyncio.create_task(self._indicate(connection, attr, data))
        return None

    async def _indicate(self, connection, attr, data):
        status = 0
        try:
            await self.device.gatt_server.indicate_subscriber(connection, attr, data, force=True)
        except Exception:
            status = 1
        self.emit(INDICATE_DONE, [connection.handle, attr.handle, status])


class GattClient:
    def _spawn(self, work, conn, done_event, done_data):
        connection = self._conn(conn)

        async def run():
            status = 0
            try:
                await work(connection)
            except att.ATT_Error as e:
                status = e.error_code
            except Exception:
                log.exception("GATT client")
                status = 0x0E  # unlikely error
            if done_event:
                self.emit(done_event, done_data + [status])

        asyncio.create_task(run())

    async def op_disc_svc(self, conn, uuid):
        async def work(connection):
            client = connection.gatt_client
            found = await (client.discover_service(uuid_in(uuid)) if uuid is not None else client.discover_services())
            for s in found:
                self.emit(SERVICE_RESULT, [conn, s.handle, s.end_group_handle, uuid_out(s.uuid)])

        self._spawn(work, conn, SERVICE_DONE, [conn])

    async def op_disc_chr(self, conn, start, end, uuid):
        async def work(connection):
            client = connection.gatt_client
            service = gatt_client.ServiceProxy(client, start, end, core.UUID.from_16_bits(0))
            uuids = [uuid_in(uuid)] if uuid is not None else []
            chars = await client.discover_characteristics(uuids, service)
            chars = sorted(chars, key=lambda c: c.handle)
            for i, c in enumerate(chars):
                last = chars[i + 1].handle - 2 if i + 1 < len(chars) else end
                self.emit(CHAR_RESULT, [conn, last, c.handle, int(c.properties), uuid_out(c.uuid)])

        self._spawn(work, conn, CHAR_DONE, [conn])

    async def op_disc_dsc(self, conn, start, end):
        async def work(connection):
            for d in await connection.gatt_client.discover_descriptors(start_handle=start, end_handle=end):
                self.emit(DESC_RESULT, [conn, d.handle, uuid_out(d.type)])

        self._spawn(work, conn, DESC_DONE, [conn])

    async def op_read(self, conn, handle):
        async def work(connection):
            value = await connection.gatt_client.read_value(handle, no_long_read=True)
            self.emit(READ_RESULT, [conn, handle, bytes(value).hex()])

        self._spawn(work, conn, READ_DONE, [conn, handle])

    async def op_write(self, conn, handle, value, mode):
        async def work(connection):
            await connection.gatt_client.write_value(handle, bytes.fromhex(value), with_response=bool(mode))

        self._spawn(work, conn, WRITE_DONE if mode else None, [conn, handle])

    async def op_mtu(self, conn):
        async def work(connection):
            await connection.gatt_client.request_mtu(self.mtu)

        self._spawn(work, conn, None, [])
