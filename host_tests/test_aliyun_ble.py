"""Seed 000 §4.1-4.2: provisioning over BLE, under both interpreters. A Bumble peer plays Alibaba's app as
AliOS Things' breeze protocol has it (cloud/breeze.py): it finds the advert (service 0xFEB3, Alibaba's
manufacturer data with the MAC), connects, subscribes to 0xFED6 and 0xFED8, takes the module's random,
authenticates with the key SHA-256("<secret>,<random>")[:16] (AES-128-CBC, IV "0123456789ABCDEF", each frame
zero-padded), and sends the Wi-Fi and its bind token; the module answers, joins the AP (+INETSTAT:4) and
reports the token to the cloud once the MCU connects. The app's side is written here with the
``cryptography`` package, apart from the firmware's code."""
import binascii
import hashlib
import json
import queue
import time

from bumble.core import UUID
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ble_peer import BlePeer
from cloud_doubles import emulator_args, run_firmware
from harness import Emulator
from test_aliyun_mqtt import DN, DS, PK, cloud, lines  # noqa: F401 (cloud is a fixture)

PS = "5Q5KQexampleA1P"
MAC = "24:0a:c4:11:22:33"
IV = b"0123456789ABCDEF"
TOKEN = bytes(range(100, 116))
RANDOM = bytes(range(16))
EXT_DOWN, EXT_UP, ERR = 0x0D, 0x0E, 0x0F
AUTH_RAND, AUTH_REQ, AUTH_RSP, AUTH_CFM = 0x11, 0x12, 0x13, 0x14


def key_of(secret, random):
    return hashlib.sha256(secret.encode() + b"," + random).digest()[:16]


def aes(key, data, encrypt):
    c = Cipher(algorithms.AES(key), modes.CBC(IV))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


def app_frames(cmd, payload, key, msg_id=0, size=20):
    """What the app writes: frames of at most ``size`` bytes, each payload encrypted on its own."""
    step = (size - 4) & ~15
    parts = [payload[i:i + step] for i in range(0, len(payload), step)] or [b""]
    out = []
    for seq, part in enumerate(parts):
        head = bytes([0x10 | msg_id, cmd, (len(parts) - 1) << 4 | seq, len(part)])
        out.append(head + (aes(key, part + bytes(-len(part) % 16), True) if part else b""))
    return out


def parse(packet, key):
    """(encrypted, message id, command, last frame << 4 | frame, payload) of a module's packet."""
    enc, body = bool(packet[0] & 0x10), packet[4:]
    if enc:
        body = aes(key, body, False)[:packet[3]]
    else:
        assert len(body) == packet[3]
    return enc, packet[0] & 15, packet[1], packet[2], body


def joined(packets, key):
    """(message id, command, payload) of a module's answer in one or more frames."""
    parts = [parse(p, key) for p in packets]
    assert [p[3] for p in parts] == [(len(parts) - 1) << 4 | i for i in range(len(parts))]
    assert all(p[0] for p in parts) and len({p[1:3] for p in parts}) == 1
    return parts[0][1], parts[0][2], b"".join(p[4] for p in parts)


def tlv(kind, value):
    return bytes([kind, len(value)]) + value


def wifi(ssid, pwd, token=TOKEN, bssid=b"\x02\x00\x00\x00\x00\x01"):
    return tlv(6, tlv(1, ssid.encode()) + tlv(2, pwd.encode()) + tlv(3, bssid) + tlv(4, token))


# ---- cloud/breeze.py alone, under both interpreters ---------------------------------------------------------
SESSION = """
import binascii
from cloud import breeze
adv, rsp = breeze.advert(0x12345678, bytes([0x24, 0x0a, 0xc4, 0x11, 0x22, 0x33]))
print(binascii.hexlify(adv).decode(), binascii.hexlify(rsp).decode())
s = breeze.Session(%r, bytes(range(16)), {1: b"NON-AOS", 2: b"%s", 3: b""})
print(" ".join(binascii.hexlify(p).decode() for p in s.hello(20)))
for packet in %r:
    out = s.take(binascii.unhexlify(packet), 20)
    print(" ".join(binascii.hexlify(p).decode() for p in out) or "-", s.authenticated(), s.failed, s.apinfo)
"""


def run_session(interp, secret, packets):
    src = SESSION % (PS, PK, [binascii.hexlify(p).decode() for p in packets])
    return run_firmware(interp, src).splitlines()


def test_breeze_session_answers_as_the_app_expects(interp):
    key = key_of(PS, RANDOM)
    packets = [app_frames(EXT_DOWN, tlv(2, b""), key, 1)[0],  # before authentication: ERR
               app_frames(AUTH_REQ, b"Hi,Server", key)[0],
               app_frames(AUTH_CFM, b"OK", key)[0],
               app_frames(EXT_DOWN, tlv(1, b"") + tlv(2, b""), key, 5)[0],
               app_frames(EXT_DOWN, tlv(3, b""), key, 6)[0]]  # no device name: ERR
    long = app_frames(EXT_DOWN, wifi("upy-at-emu", "emulator1"), key, 7)
    assert len(long) == 4
    two = app_frames(EXT_DOWN, tlv(1, b"") + bytes(20), key, 8)
    stray = bytes([0x10 | 9]) + two[1][1:]  # the second frame of another message
    out = run_session(interp, PS, packets + long + [b"\x00", two[1], two[0], stray])
    adv, rsp = out[0].split()
    assert adv == "020106" "0303b3fe" "0fff" "a801" "05" "09" "78563412" "240ac4112233"
    assert rsp == "0309415a"  # "AZ"
    assert out[1] == "00110010" + RANDOM.hex()  # AUTH_RAND in clear
    assert out[2] == "000f0000 False False None"
    enc, msg_id, cmd, frame, body = parse(bytes.fromhex(out[3].split()[0]), key)
    assert (enc, msg_id, cmd, frame, body) == (True, 0, AUTH_RSP, 0, b"Hi,Client")
    assert out[4] == "- True False None"
    answer = [bytes.fromhex(h) for h in out[5].split()[:2]]
    assert joined(answer, key) == (5, EXT_UP, tlv(1, b"NON-AOS") + tlv(2, PK.encode()))
    assert out[6].split()[0] == "000f0000"
    assert [line.split()[0] for line in out[7:10]] == ["-"] * 3  # the first three frames of four
    enc, msg_id, cmd, frame, body = parse(bytes.fromhex(out[10].split()[0]), key)
    assert (enc, msg_id, cmd, body) == (True, 7, EXT_UP, tlv(6, bytes([1, 1, 1, 3, 1, 0])))
    assert out[10].endswith("('upy-at-emu', 'emulator1', b'\\x02\\x00\\x00\\x00\\x00\\x01', %r)" % TOKEN)
    assert out[11].split()[0] == "000f0000"  # a frame too short
    assert out[12].split()[0] == "000f0000"  # a second frame first
    assert out[13].split()[0] == "-"  # a first frame: the request goes on
    assert out[14].split()[0] == "000f0000"  # then another message's frame: dropped


def test_breeze_session_with_a_wrong_key_fails(interp):
    out = run_session(interp, PS, [app_frames(AUTH_REQ, b"Hi,Server", key_of("not the key", RANDOM))[0]])
    assert out[2] == "- False True None"


# ---- the commands, with a Bumble peer as the app --------------------------------------------------------------
def advert(peer, active=False, tries=3):
    """The module's advert (and scan response when ``active``), scanning again as an app keeps scanning."""
    for _ in range(tries):
        found = peer.scan(2.0, active).get(MAC)
        if found is not None and (found["rsp"] if active else found["adv"]):
            return found
    raise AssertionError("the module does not advertise")


class App:
    """The phone app on a Bumble peer: linked to the module, subscribed to its indications and notifications."""

    def __init__(self, peer, mac):
        self.peer = peer
        self.got = queue.Queue()
        self.conn = peer.connect(mac)
        client = self.conn.gatt_client

        async def discover():
            await client.discover_services()
            service = client.get_services_by_uuid(UUID.from_16_bits(0xFEB3))[0]
            await service.discover_characteristics()
            chars = {c.uuid.to_hex_str(): c for c in service.characteristics}
            await chars["FED6"].subscribe(self.got.put, prefer_notify=False)
            await chars["FED8"].subscribe(self.got.put)
            return chars

        self.chars = peer.run(discover())

    def next(self, timeout=15):
        return bytes(self.got.get(timeout=timeout))

    def write(self, packets, char="FED5"):
        for p in packets:
            self.peer.run(self.chars[char].write_value(p, with_response=char == "FED5"))

    def authenticate(self, secret):
        """The module's random, then Hi,Server / Hi,Client / OK; the session key."""
        rand = self.next()
        assert rand[:4] == bytes([0, AUTH_RAND, 0, 16])
        key = key_of(secret, rand[4:])
        self.write(app_frames(AUTH_REQ, b"Hi,Server", key))
        while True:  # the random may come again until the module has read Hi,Server
            answer = self.next()
            if answer[1] != AUTH_RAND:
                break
        assert parse(answer, key) == (True, 0, AUTH_RSP, 0, b"Hi,Client")
        self.write(app_frames(AUTH_CFM, b"OK", key))
        return key


def test_the_app_provisions_over_ble_and_the_token_reaches_the_cloud(interp, air, cloud, test_ca):
    double, broker, routes = cloud
    agent = broker.agent()
    match = "/sys/%s/%s/thing/awss/enrollee/match" % (PK, DN)
    agent.subscribe(match)
    with Emulator(interp, args=emulator_args(test_ca, routes) + ["--ble-air", air, "--mac", MAC]) as emu:
        assert lines(emu, "ATE0")[-1] == b"OK"
        assert lines(emu, "AT+IBLECONFIGSTART=?") == [b"+IBLECONFIGSTART=<mode>,[aes_key]", b"OK"]
        assert lines(emu, "AT+IMQTTAUTH=%s,%s,%s,%s" % (PK, DN, DS, PS)) == [b"OK"]
        assert lines(emu, "AT+IBLECONFIGSTART=1") == [b"OK"]
        with BlePeer(air) as peer:
            found = advert(peer)
            assert found["adv"] == bytes.fromhex("0201060303b3fe0fffa801050900000000") + bytes.fromhex(
                MAC.replace(":", ""))
            assert found["connectable"]
            assert advert(peer, True)["rsp"] == b"\x03\x09AZ"
            app = App(peer, MAC)
            key = app.authenticate(PS)
            app.write(app_frames(EXT_DOWN, tlv(2, b"") + tlv(3, b""), key, 3))
            answer = [app.next(), app.next()]  # 26 bytes: two frames at MTU 23
            assert joined(answer, key) == (3, EXT_UP, tlv(2, PK.encode()) + tlv(3, DN.encode()))
            app.write(app_frames(EXT_DOWN, wifi("upy-at-emu", "emulator1"), key, 4), "FED7")
            assert parse(app.next(), key) == (True, 4, EXT_UP, 0, tlv(6, bytes([1, 1, 1, 3, 1, 0])))
            while not emu.line(30).startswith(b"+INETSTAT:4,"):
                pass
        assert lines(emu, "AT+BLEINIT?") == [b"+BLEINIT:0", b"OK"]  # BLE is off again
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
        report = json.loads(agent.wait_message(match, 10).payload)
        assert report["method"] == "thing.awss.enrollee.match"
        assert report["params"]["token"] == TOKEN.hex().upper()
        assert lines(emu, "AT+IBLECONFIGSTOP") == [b"OK"]  # none runs: nothing to stop
    agent.close()


def test_the_aes_key_a_wrong_key_stop_and_refusals(interp, air):
    with Emulator(interp, args=["--ble-air", air, "--mac", MAC]) as emu:
        assert lines(emu, "ATE0")[-1] == b"OK"
        assert lines(emu, "AT+IBLECONFIGSTART=1") == [b"+CME ERROR:6"]  # no [aes_key], no product secret
        assert lines(emu, "AT+IBLECONFIGSTART=2") == [b"ERROR"]  # plain text: the manual says not supported
        assert lines(emu, "AT+BLEINIT=2") == [b"OK"]
        assert lines(emu, "AT+IBLECONFIGSTART=1,1234567890abcdef") == [b"+CME ERROR:11"]  # BLE is the MCU's
        assert lines(emu, "AT+BLEINIT=0") == [b"OK"]
        assert lines(emu, "AT+IBLECONFIGSTART=1,1234567890abcdef") == [b"OK"]
        assert lines(emu, "AT+BLEINIT?") == [b"+BLEINIT:2", b"OK"]
        with BlePeer(air) as peer:
            app = App(peer, MAC)
            rand = app.next()
            app.write(app_frames(AUTH_REQ, b"Hi,Server", key_of("not the key", rand[4:])))
            deadline = time.monotonic() + 15
            while app.conn.handle in peer.device.connections and time.monotonic() < deadline:
                time.sleep(0.05)
            assert app.conn.handle not in peer.device.connections  # the module dropped the link
            assert advert(peer)["connectable"]  # and advertises again
            app = App(peer, MAC)
            key = app.authenticate("1234567890abcdef")  # the key given to the command
            app.write(app_frames(EXT_DOWN, tlv(1, b""), key, 2))
            assert joined([app.next()], key) == (2, EXT_UP, tlv(1, b"NON-AOS"))
            app.write(app_frames(EXT_DOWN, tlv(2, b""), key, 3))  # no identity, so no product key
            assert app.next() == bytes([0, ERR, 0, 0])  # notified on FED8
        assert emu.drain(0.5) == b""  # no esp-at +BLECONN / +BLEDISCONN for an Alibaba MCU
        assert lines(emu, "AT+IBLECONFIGSTOP") == [b"OK"]
        assert lines(emu, "AT+BLEINIT?") == [b"+BLEINIT:0", b"OK"]
        assert lines(emu, "AT+IBLECONFIGSTOP=?") == [b"+IBLECONFIGSTOP", b"OK"]
