"""The esp-at BLE family against a real BLE stack: two emulated modules on one virtual air (seed 004 §9.5.2,
server and client), and a Bumble peer (host_tests/ble_peer.py) as scanner, GATT client and GATT server;
both interpreters. Replies are current esp-at's forms where v1.2 differs (quoted addresses, 0x properties,
+BLEGATTCRD's value raw, descriptor UUIDs in +BLEGATTSCHAR), as reference/esp-at-ble.md records."""
import asyncio
import os
import re
import subprocess
import sys
import time

from bumble import gatt
from bumble.core import UUID
from bumble.pairing import PairingConfig, PairingDelegate

from ble_peer import BlePeer
from harness import Emulator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_MAC = "24:0a:c4:03:f4:d6"  # the manual's server address
CLIENT_MAC = "24:0a:c4:09:34:23"
IBEACON = "0201061aff4c000215fda50693a4e24fb1afcfc6eb0764782527b7f206c5"  # §9.5.1 table 9-2 (and §9.5.1.2)
ADV = "0201060B09457370726573736966030302A0"  # §9.5.2.1

SERVER_CHARS = [
    b'+BLEGATTSCHAR:"char",1,1,0xC300,0x02',
    b'+BLEGATTSCHAR:"desc",1,1,1,0x2901',
    b'+BLEGATTSCHAR:"char",1,2,0xC301,0x02',
    b'+BLEGATTSCHAR:"desc",1,2,1,0x2901',
    b'+BLEGATTSCHAR:"char",1,3,0xC302,0x08',
    b'+BLEGATTSCHAR:"desc",1,3,1,0x2901',
    b'+BLEGATTSCHAR:"char",1,4,0xC303,0x04',
    b'+BLEGATTSCHAR:"desc",1,4,1,0x2901',
    b'+BLEGATTSCHAR:"char",1,5,0xC304,0x08',
    b'+BLEGATTSCHAR:"char",1,6,0xC305,0x10',
    b'+BLEGATTSCHAR:"desc",1,6,1,0x2902',
    b'+BLEGATTSCHAR:"char",1,7,0xC306,0x20',
    b'+BLEGATTSCHAR:"desc",1,7,1,0x2902',
    b"OK",
]
# §9.5.2.2's client listing, word for word
CLIENT_CHARS = [
    b'+BLEGATTCCHAR:"char",0,3,1,0xC300,0x02',
    b'+BLEGATTCCHAR:"desc",0,3,1,1,0x2901',
    b'+BLEGATTCCHAR:"char",0,3,2,0xC301,0x02',
    b'+BLEGATTCCHAR:"desc",0,3,2,1,0x2901',
    b'+BLEGATTCCHAR:"char",0,3,3,0xC302,0x08',
    b'+BLEGATTCCHAR:"desc",0,3,3,1,0x2901',
    b'+BLEGATTCCHAR:"char",0,3,4,0xC303,0x04',
    b'+BLEGATTCCHAR:"desc",0,3,4,1,0x2901',
    b'+BLEGATTCCHAR:"char",0,3,5,0xC304,0x08',
    b'+BLEGATTCCHAR:"char",0,3,6,0xC305,0x10',
    b'+BLEGATTCCHAR:"desc",0,3,6,1,0x2902',
    b'+BLEGATTCCHAR:"char",0,3,7,0xC306,0x20',
    b'+BLEGATTCCHAR:"desc",0,3,7,1,0x2902',
    b"OK",
]


def settled(emu, line, want, timeout=10):
    """Ask again until the answer is ``want`` (an MCU polls a query after an exchange it started)."""
    deadline = time.monotonic() + timeout
    while True:
        got = emu.command(line)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def module(interp, air, mac):
    emu = Emulator(interp, args=["--ble-air", air, "--mac", mac])
    assert emu.command("ATE0")[-1] == b"OK"
    return emu


def ok(emu, line, timeout=10):
    got = emu.command(line, timeout)
    assert got[-1] == b"OK", (line, got)
    return got[:-1]


def data_in(emu, line, data):
    """A command that prompts '>' and takes ``data``; returns its final line."""
    emu.send(line.encode() + b"\r\n")
    emu.read_until(b">")
    emu.send(data)
    return emu.line()


def server_ready(emu):
    for line in ("AT+BLEINIT=2", "AT+BLEGATTSSRVCRE", "AT+BLEGATTSSRVSTART"):
        ok(emu, line)


def test_9_5_2_two_modules(interp, air):
    """§9.5.2.1 then §9.5.2.2 between two emulated modules: scan, connect, MTU, discovery, read, write,
    notify, indicate, SPP both ways with '+++', disconnect seen on both sides."""
    server = module(interp, air, SERVER_MAC)
    client = module(interp, air, CLIENT_MAC)
    try:
        server_ready(server)
        ok(client, "AT+BLEINIT=1")
        assert ok(server, "AT+BLEADDR?") == [b'+BLEADDR:"%s"' % SERVER_MAC.encode()]
        ok(server, "AT+BLEADVPARAM=32,64,0,0,7")
        ok(server, 'AT+BLEADVDATA="%s"' % ADV)
        ok(server, 'AT+BLESCANRSPDATA="%s"' % ADV)
        ok(server, "AT+BLEADVSTART")
        ok(client, "AT+BLESCANPARAM=1,0,0,100,50")
        ok(client, "AT+BLESCAN=1,3")
        seen = client.read_until(b"+BLESCANDONE\r\n", 15).split(b"\r\n")
        # active scan: the advert and its scan response on one line, as esp-at prints them
        want = b'+BLESCAN:"%s",-50,%s,%s,0' % (SERVER_MAC.encode(), ADV.lower().encode(), ADV.lower().encode())
        assert want in seen, seen
        assert ok(client, 'AT+BLECONN=0,"%s"' % SERVER_MAC) == [b'+BLECONN:0,"%s"' % SERVER_MAC.encode()]
        assert server.line() == b'+BLECONN:0,"%s"' % CLIENT_MAC.encode()
        ok(client, "AT+BLECFGMTU=0,200")
        assert settled(client, "AT+BLECFGMTU?", [b"+BLECFGMTU:0,200", b"OK"]) == [b"+BLECFGMTU:0,200", b"OK"]
        assert settled(server, "AT+BLECFGMTU?", [b"+BLECFGMTU:0,200", b"OK"]) == [b"+BLECFGMTU:0,200", b"OK"]

        assert ok(server, "AT+BLEGATTSSRV?") == [b"+BLEGATTSSRV:1,1,0xA002,1"]
        assert server.command("AT+BLEGATTSCHAR?") == SERVER_CHARS
        assert ok(client, "AT+BLEGATTCPRIMSRV=0") == [
            b"+BLEGATTCPRIMSRV:0,1,0x1800,1", b"+BLEGATTCPRIMSRV:0,2,0x1801,1", b"+BLEGATTCPRIMSRV:0,3,0xA002,1"]
        assert client.command("AT+BLEGATTCCHAR=0,3") == CLIENT_CHARS

        assert ok(client, "AT+BLEGATTCRD=0,3,1") == [b"+BLEGATTCRD:0,1,0"]
        assert server.line() == b'+READ:0,"%s"' % CLIENT_MAC.encode()
        assert data_in(client, "AT+BLEGATTCWR=0,3,3,,2", b"12") == b"OK"
        assert server.line() == b"+WRITE:0,1,3,,2,12"
        assert ok(client, "AT+BLEGATTCRD=0,3,3,1") == [b"+BLEGATTCRD:0,1,\x01"]  # C302's 0x2901 holds 01

        assert data_in(client, "AT+BLEGATTCWR=0,3,6,1,2", b"\x01\x00") == b"OK"  # notifications on
        assert data_in(server, "AT+BLEGATTSNTFY=0,1,6,3", b"abc") == b"OK"
        assert client.line() == b"+NOTIFY:0,3,6,3,abc"
        assert data_in(client, "AT+BLEGATTCWR=0,3,7,1,2", b"\x02\x00") == b"OK"  # indications on
        assert data_in(server, "AT+BLEGATTSIND=0,1,7,3", b"xyz") == b"OK"
        assert client.line() == b"+INDICATE:0,3,7,3,xyz"
        assert data_in(server, "AT+BLEGATTSSETATTR=1,1,,4", b"1234") == b"OK"
        assert ok(client, "AT+BLEGATTCRD=0,3,1") == [b"+BLEGATTCRD:0,4,1234"]
        assert server.line() == b'+READ:0,"%s"' % CLIENT_MAC.encode()

        # §9.5.2.2: SPP, client first, then server
        ok(client, "AT+BLESPPCFG=1,3,5,3,7")
        client.send(b"AT+BLESPP\r\n")
        assert client.read_until(b">") == b"\r\nOK\r\n\r\n>"
        ok(server, "AT+BLESPPCFG=1,1,7,1,5")
        server.send(b"AT+BLESPP\r\n")
        assert server.read_until(b">") == b"\r\nOK\r\n\r\n>"
        up = bytes(range(256)) * 8 + b"+++ in the middle\r\n"
        client.send(up)
        assert server.read_exact(len(up), 30) == up
        down = os.urandom(1500)
        server.send(down)
        assert client.read_exact(len(down), 30) == down
        client.leave_passthrough()
        server.leave_passthrough()
        assert client.command("AT") == [b"OK"] and server.command("AT") == [b"OK"]
        assert client.drain(0.3) == b"" and server.drain(0.3) == b""

        ok(client, "AT+BLEDISCONN=0")
        assert client.line() == b'+BLEDISCONN:0,"%s"' % SERVER_MAC.encode()
        assert server.line() == b'+BLEDISCONN:0,"%s"' % CLIENT_MAC.encode()
        assert ok(client, "AT+BLECONN?") == [] and ok(server, "AT+BLECONN?") == []
    finally:
        server.close()
        client.close()


def test_9_5_1_ibeacon_seen_by_bumble(interp, air):
    """§9.5.1.1: the module advertises an iBeacon; a Bumble scanner gets exactly those bytes. The manual's
    own command line lost a digit ('fd50693a…', odd length): that one is refused."""
    emu = module(interp, air, SERVER_MAC)
    try:
        ok(emu, "AT+BLEINIT=2")
        assert emu.command('AT+BLEADVDATA="0201061aff4c000215fd50693a4e24fb1afcfc6eb0764782527b7f206c5"') == [b"ERROR"]
        ok(emu, 'AT+BLEADVDATA="%s"' % IBEACON)
        ok(emu, "AT+BLEADVSTART")
        with BlePeer(air) as peer:
            found = peer.scan(1.5)
        assert found[SERVER_MAC]["adv"] == bytes.fromhex(IBEACON), found
        # §9.5.1.2: a module as client scans for 3 s and sees the packet (a passive scan: no scan response)
        scanner = module(interp, air, CLIENT_MAC)
        try:
            ok(scanner, "AT+BLEINIT=1")
            ok(scanner, "AT+BLESCAN=1,3")
            seen = scanner.read_until(b"+BLESCANDONE\r\n", 15).split(b"\r\n")
            assert b'+BLESCAN:"%s",-50,%s,,0' % (SERVER_MAC.encode(), IBEACON.encode()) in seen, seen
        finally:
            scanner.close()
        ok(emu, "AT+BLEADVSTOP")
    finally:
        emu.close()


def test_server_against_bumble_client(interp, air):
    """Our default service read, written and subscribed to by Bumble's GATT client."""
    emu = module(interp, air, SERVER_MAC)
    try:
        server_ready(emu)
        ok(emu, "AT+BLEADVSTART")
        with BlePeer(air) as peer:
            conn = peer.connect(SERVER_MAC)
            assert emu.line() == b'+BLECONN:0,"c0:ff:ee:00:00:01"'
            client = conn.gatt_client

            async def discover():
                await client.discover_services()
                service = client.get_services_by_uuid(UUID.from_16_bits(0xA002))[0]
                await service.discover_characteristics()
                return {c.uuid.to_hex_str(): c for c in service.characteristics}

            chars = peer.run(discover())
            assert sorted(chars) == ["C300", "C301", "C302", "C303", "C304", "C305", "C306"]
            assert peer.run(chars["C300"].read_value()) == b"0"
            assert emu.line() == b'+READ:0,"c0:ff:ee:00:00:01"'
            peer.run(chars["C304"].write_value(b"hello, module", with_response=True))
            assert emu.line() == b"+WRITE:0,1,5,,13,hello, module"
            got = []
            peer.run(chars["C305"].subscribe(got.append))
            assert data_in(emu, "AT+BLEGATTSNTFY=0,1,6,5", b"12345") == b"OK"
            indicated = []
            peer.run(chars["C306"].subscribe(indicated.append, prefer_notify=False))
            assert data_in(emu, "AT+BLEGATTSIND=0,1,7,2", b"ok") == b"OK"
            deadline = time.monotonic() + 5
            while (not got or not indicated) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert got == [b"12345"] and indicated == [b"ok"]
            # a long read at MTU 23 (a read and 23 blob reads): 512 bytes, and one +READ per request, none
            # lost though they come faster than the loop writes them
            assert peer.run(chars["C301"].read_value()) == (b"0123456789" * 52)[:512]
            reads = [line for line in emu.drain(1.0).split(b"\r\n") if line]
            assert reads == [b'+READ:0,"c0:ff:ee:00:00:01"'] * 24
            peer.run(conn.disconnect())
            assert emu.line() == b'+BLEDISCONN:0,"c0:ff:ee:00:00:01"'
    finally:
        emu.close()


def test_client_against_bumble_server(interp, air):
    """Our GATT client against a Bumble GATT server: discovery, read, write, notifications."""
    emu = module(interp, air, CLIENT_MAC)
    written = []
    try:
        ok(emu, "AT+BLEINIT=1")
        with BlePeer(air) as peer:
            value = gatt.CharacteristicValue(read=lambda conn: b"bumble", write=lambda conn, v: written.append(v))
            char = gatt.Characteristic(UUID.from_16_bits(0xFFE1), gatt.Characteristic.Properties.READ
                                       | gatt.Characteristic.Properties.WRITE | gatt.Characteristic.Properties.NOTIFY,
                                       gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE, value)
            peer.call(peer.device.add_service, gatt.Service(UUID.from_16_bits(0xFFE0), [char]))
            peer.run(peer.device.start_advertising(advertising_data=bytes.fromhex("020106")))
            assert ok(emu, 'AT+BLECONN=0,"c0:ff:ee:00:00:01",1') == [b'+BLECONN:0,"c0:ff:ee:00:00:01"']
            assert ok(emu, "AT+BLEGATTCPRIMSRV=0")[-1] == b"+BLEGATTCPRIMSRV:0,3,0xFFE0,1"
            assert ok(emu, "AT+BLEGATTCCHAR=0,3") == [
                b'+BLEGATTCCHAR:"char",0,3,1,0xFFE1,0x1A', b'+BLEGATTCCHAR:"desc",0,3,1,1,0x2902']
            assert ok(emu, "AT+BLEGATTCRD=0,3,1") == [b"+BLEGATTCRD:0,6,bumble"]
            assert data_in(emu, "AT+BLEGATTCWR=0,3,1,,5", b"hello") == b"OK"
            assert written == [b"hello"]
            assert data_in(emu, "AT+BLEGATTCWR=0,3,1,1,2", b"\x01\x00") == b"OK"
            connection = peer.call(lambda: next(iter(peer.device.connections.values())))
            peer.run(peer.device.notify_subscriber(connection, char, b"news"))
            assert emu.line() == b"+NOTIFY:0,3,1,4,news"
            ok(emu, "AT+BLEDISCONN=0")
            assert emu.line() == b'+BLEDISCONN:0,"c0:ff:ee:00:00:01"'
    finally:
        emu.close()


def test_commands_without_micropython_api(interp, air):
    """What MicroPython's bluetooth cannot do answers ERROR, never a fake OK (README's BLE table)."""
    emu = module(interp, air, SERVER_MAC)
    try:
        assert emu.command("AT+BLEADVSTART") == [b"ERROR"]  # BLE not initialised
        ok(emu, "AT+CIPMODE=1")
        assert emu.command("AT+BLEINIT=2") == [b"ERROR"]  # not beside Wi-Fi passthrough (§6.1)
        ok(emu, "AT+CIPMODE=0")
        assert ok(emu, "AT+BLEINIT?") == [b"+BLEINIT:0"]
        ok(emu, "AT+BLEINIT=2")
        assert ok(emu, "AT+BLEINIT?") == [b"+BLEINIT:2"]
        assert emu.command("AT+BLEINIT=1") == [b"ERROR"]  # a role changes only through AT+BLEINIT=0
        for line in ('AT+BLEADDR=1,"f8:7f:24:87:1c:f7"', "AT+BLEDATALEN=0,30", "AT+BLECONNPARAM=0,30,30,0,600",
                     "AT+BLECONNPARAM?", "AT+BLEGATTCINCLSRV=0,1", 'AT+BLEADVPARAM=50,50,0,0,4,0,0,"12:34:45:78:66:88"',
                     "AT+BLESPP"):
            assert emu.command(line) == [b"ERROR"], line
        ok(emu, 'AT+BLENAME="esp_demo"')
        assert ok(emu, "AT+BLENAME?") == [b"+BLENAME:esp_demo"]
        ok(emu, "AT+BLEINIT=0")
        assert ok(emu, "AT+BLEINIT?") == [b"+BLEINIT:0"]
        ok(emu, "AT+BLEINIT=1")
        assert ok(emu, "AT+BLESCANPARAM?") == [b"+BLESCANPARAM:0,0,0,80,80"]
    finally:
        emu.close()


class _Keyboard(PairingDelegate):
    """A Bumble peer that types in the passkey the module shows (read from the module's UART)."""

    def __init__(self, emu, io):
        super().__init__(io_capability=io)
        self.emu = emu
        self.shown = []

    async def get_number(self):
        line = await asyncio.get_running_loop().run_in_executor(None, self.emu.line)
        self.shown.append(line)
        return int(line.rsplit(b",", 1)[1])

    async def compare_numbers(self, number, digits):
        self.shown.append(number)
        return True


def test_pairing_passkey_and_bond_across_restart(interp, air):
    """The module shows a passkey (+BLESECNTFYKEY), the Bumble peer types it in; both bond. After AT+RST the
    bond is still listed and the peer's reconnection encrypts with it (+BLEAUTHCMPL:0,0)."""
    emu = module(interp, air, SERVER_MAC)
    try:
        ok(emu, "AT+BLEINIT=2")
        ok(emu, "AT+BLESECPARAM=13,0,16,3,3")  # SC + MITM + bond, display only
        assert ok(emu, "AT+BLESECPARAM?") == [b"+BLESECPARAM:13,0,16,3,3"]
        assert emu.command("AT+BLESECPARAM=1,4,8,3,3") == [b"ERROR"]  # NimBLE's key size is 16
        for line in ("AT+BLEGATTSSRVCRE", "AT+BLEGATTSSRVSTART", "AT+BLEADVSTART"):
            ok(emu, line)
        with BlePeer(air) as peer:
            keyboard = _Keyboard(emu, PairingDelegate.KEYBOARD_INPUT_ONLY)
            peer.device.pairing_config_factory = lambda conn: PairingConfig(
                sc=True, mitm=True, bonding=True, delegate=keyboard,
                identity_address_type=PairingConfig.AddressType.RANDOM)
            conn = peer.connect(SERVER_MAC)
            assert emu.line() == b'+BLECONN:0,"c0:ff:ee:00:00:01"'
            peer.run(conn.pair(), timeout=30)
            assert len(keyboard.shown) == 1 and re.fullmatch(rb"\+BLESECNTFYKEY:0,\d{6}", keyboard.shown[0])
            assert emu.line() == b"+BLEAUTHCMPL:0,0"
            bonds = [b'+BLEENCDEV:0,"c0:ff:ee:00:00:01"']  # the identity the peer sent: its static address
            assert ok(emu, "AT+BLEENCDEV?") == bonds

            emu.send(b"AT+RST\r\n")
            emu.read_until(b"ready\r\n", 30)
            ok(emu, "ATE0")
            for line in ("AT+BLEINIT=2", "AT+BLEGATTSSRVCRE", "AT+BLEGATTSSRVSTART", "AT+BLEADVSTART"):
                ok(emu, line)
            assert ok(emu, "AT+BLEENCDEV?") == bonds
            deadline = time.monotonic() + 10
            while peer.call(lambda: len(peer.device.connections)) and time.monotonic() < deadline:
                time.sleep(0.05)  # the old link went with the old firmware
            conn = peer.connect(SERVER_MAC)
            assert emu.line() == b'+BLECONN:0,"c0:ff:ee:00:00:01"'
            peer.run(conn.encrypt(), timeout=30)
            assert emu.line() == b"+BLEAUTHCMPL:0,0"
            assert keyboard.shown[1:] == []  # no new pairing: the bond's key
        assert emu.line() == b'+BLEDISCONN:0,"c0:ff:ee:00:00:01"'  # the peer left the air: its link timed out
        ok(emu, "AT+BLEENCCLEAR")
        assert ok(emu, "AT+BLEENCDEV?") == []
    finally:
        emu.close()


def test_pairing_numeric_comparison(interp, air):
    """Both sides display and confirm: the module reports the number (+BLESECNTFYCONFIRM), the MCU confirms
    with AT+BLECONFREPLY, and it is the number the peer compared."""
    emu = module(interp, air, SERVER_MAC)
    try:
        ok(emu, "AT+BLEINIT=2")
        ok(emu, "AT+BLESECPARAM=12,1,16,3,3")  # SC + MITM, display yes/no
        for line in ("AT+BLEGATTSSRVCRE", "AT+BLEGATTSSRVSTART", "AT+BLEADVSTART"):
            ok(emu, line)
        with BlePeer(air) as peer:
            peer_side = _Keyboard(emu, PairingDelegate.DISPLAY_OUTPUT_AND_YES_NO_INPUT)
            peer.device.pairing_config_factory = lambda conn: PairingConfig(
                sc=True, mitm=True, bonding=False, delegate=peer_side)
            conn = peer.connect(SERVER_MAC)
            assert emu.line() == b'+BLECONN:0,"c0:ff:ee:00:00:01"'
            pairing = asyncio.run_coroutine_threadsafe(conn.pair(), peer.loop)
            asked = emu.line()
            assert re.fullmatch(rb"\+BLESECNTFYCONFIRM:0,\d{6}", asked), asked
            ok(emu, "AT+BLECONFREPLY=0,1")
            pairing.result(30)
            assert peer_side.shown == [int(asked.rsplit(b",", 1)[1])]
            assert emu.line() == b"+BLEAUTHCMPL:0,0"
            assert emu.command("AT+BLEENCRSP=0,1") == [b"ERROR"]  # NimBLE accepts by itself
    finally:
        emu.close()


def test_spp_server_survives_a_peer_that_leaves(interp, air):
    """SPP as a server with a Bumble client: its writes come out of the UART raw, our bytes reach it as
    indications; it disconnects mid-SPP, the module advertises again by itself, the peer comes back and the
    data flows on, all without leaving passthrough. The link messages wait until '+++'."""
    emu = module(interp, air, SERVER_MAC)
    try:
        server_ready(emu)
        ok(emu, "AT+BLEADVSTART")
        with BlePeer(air) as peer:

            def session():
                conn = peer.connect(SERVER_MAC)

                async def chars():
                    await conn.gatt_client.discover_services()
                    service = conn.gatt_client.get_services_by_uuid(UUID.from_16_bits(0xA002))[0]
                    await service.discover_characteristics()
                    return {c.uuid.to_hex_str(): c for c in service.characteristics}

                return conn, peer.run(chars())

            conn, chars = session()
            assert emu.line() == b'+BLECONN:0,"c0:ff:ee:00:00:01"'
            got = []
            peer.run(chars["C306"].subscribe(got.append, prefer_notify=False))
            ok(emu, "AT+BLESPPCFG=1,1,7,1,5")
            emu.send(b"AT+BLESPP\r\n")
            assert emu.read_until(b">") == b"\r\nOK\r\n\r\n>"
            peer.run(chars["C304"].write_value(b"first\r\n", with_response=True))
            assert emu.read_exact(7) == b"first\r\n"
            emu.send(b"to the peer")
            deadline = time.monotonic() + 5
            while b"".join(got) != b"to the peer" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert b"".join(got) == b"to the peer"

            peer.run(conn.disconnect())
            deadline = time.monotonic() + 10
            while True:  # the module advertises again within a second or so
                try:
                    conn, chars = session()
                    break
                except Exception:
                    assert time.monotonic() < deadline, "the module did not advertise again"
            peer.run(chars["C304"].write_value(b"second", with_response=True))
            assert emu.read_exact(6) == b"second"
            emu.leave_passthrough()
            assert emu.command("AT") == [
                b'+BLEDISCONN:0,"c0:ff:ee:00:00:01"', b'+BLECONN:0,"c0:ff:ee:00:00:01"', b"OK"]
    finally:
        emu.close()


def test_bench_ble_runs():
    """tools/bench_ble --quick: the program runs and prints its three figures (speed is not judged)."""
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench_ble"), "--quick"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("BLE notifications/s", "BLE SPP UART->BLE", "BLE SPP BLE->UART"):
        assert re.search(r"^%s +\d+ \S+ +bare +\d+  ratio \d+\.\d\d$" % re.escape(name), r.stdout, re.M), r.stdout


def test_spp_client_against_bumble_server(interp, air):
    """SPP as a client of a Bumble GATT server that notifies only subscribers: the module subscribes to RX
    by itself, its bytes arrive as writes; the server drops the link mid-SPP, the module dials it again
    (silently, still in passthrough), subscribes again, and the bytes flow on."""
    emu = module(interp, air, CLIENT_MAC)
    written = []
    try:
        ok(emu, "AT+BLEINIT=1")
        with BlePeer(air) as peer:
            props = gatt.Characteristic.Properties
            rx = gatt.Characteristic(UUID.from_16_bits(0xFFE1), props.WRITE | props.WRITE_WITHOUT_RESPONSE,
                                     gatt.Characteristic.WRITEABLE,
                                     gatt.CharacteristicValue(write=lambda conn, v: written.append(bytes(v))))
            tx = gatt.Characteristic(UUID.from_16_bits(0xFFE2), props.NOTIFY, gatt.Characteristic.READABLE, b"")
            peer.call(peer.device.add_service, gatt.Service(UUID.from_16_bits(0xFFE0), [rx, tx]))
            peer.run(peer.device.start_advertising(advertising_data=bytes.fromhex("020106"), auto_restart=True))
            assert ok(emu, 'AT+BLECONN=0,"c0:ff:ee:00:00:01",1') == [b'+BLECONN:0,"c0:ff:ee:00:00:01"']
            assert ok(emu, "AT+BLEGATTCPRIMSRV=0")[-1] == b"+BLEGATTCPRIMSRV:0,3,0xFFE0,1"
            ok(emu, "AT+BLEGATTCCHAR=0,3")
            ok(emu, "AT+BLESPPCFG=1,3,1,3,2")
            emu.send(b"AT+BLESPP\r\n")
            assert emu.read_until(b">") == b"\r\nOK\r\n\r\n>"

            def exchange(up, down):
                emu.send(up)
                deadline = time.monotonic() + 10
                while b"".join(written) != up and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert b"".join(written) == up
                written.clear()
                while not peer.call(subscribed) and time.monotonic() < deadline:
                    time.sleep(0.05)  # the module's CCCD write follows the link (or the link again)
                peer.run(peer.device.notify_subscribers(tx, down))
                assert emu.read_exact(len(down)) == down

            def subscribed():
                return any(cccd.get(tx.handle, b"\0")[0] & 1 for cccd in peer.device.gatt_server.subscribers.values())

            exchange(b"from the module", b"from the server")
            connection = peer.call(lambda: next(iter(peer.device.connections.values())))
            peer.run(connection.disconnect())
            deadline = time.monotonic() + 15
            while not peer.call(lambda: len(peer.device.connections)) and time.monotonic() < deadline:
                time.sleep(0.05)  # the module dials again
            exchange(b"after the drop", b"welcome back")
            emu.leave_passthrough()
            assert emu.command("AT") == [
                b'+BLEDISCONN:0,"c0:ff:ee:00:00:01"', b"OK"]  # the redial itself is silent
    finally:
        emu.close()
