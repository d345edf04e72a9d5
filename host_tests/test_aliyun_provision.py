"""Seed 000 §4.3: provisioning over the device hotspot, under both interpreters. The test plays the phone
app as iotkit-embedded's dev-AP protocol has it (cloud/aliyun_awss.py): a CoAP POST of
/sys/awss/device/softap/switchap to UDP 5683 with the password AES-128-CBC encrypted
(key from SHA-256 of "<secret>,<random>", IV the random); the module answers, joins the AP (+INETSTAT:4) and
reports the bind token to the cloud once the MCU connects. The firmware listens on the chip's port, 5683, which
the emulator's --resolve moves to a free loopback port for the test."""
import json
import os
import socket
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from cloud_doubles import emulator_args
from harness import Emulator
from peers import free_port
from test_aliyun_mqtt import DN, DS, PK, cloud, lines  # noqa: F401 (cloud is a fixture)

PS = "5Q5KQexampleA1P"
RANDOM = bytes(range(16))
TOKEN = bytes(range(100, 116))
PATH = ("sys", "awss", "device", "softap", "switchap")


def encrypt(password, secret):
    key = __import__("hashlib").sha256(secret.encode() + b"," + RANDOM).digest()[:16]
    data = password.encode()
    data += b"\0" * (-len(data) % 16)
    enc = Cipher(algorithms.AES(key), modes.CBC(RANDOM)).encryptor()
    return (enc.update(data) + enc.finalize()).hex()


def coap_post(path, payload, message_id=0x1234, token=b"\x0a\x0b\x0c\x0d"):
    """A confirmable CoAP POST (RFC 7252) with Uri-Path options."""
    out = bytes([0x40 | len(token), 0x02]) + struct.pack("!H", message_id) + token
    last = 0
    for part in path:
        seg = part.encode()
        delta = 11 - last
        out += bytes([delta << 4 | len(seg)]) + seg
        last = 11
    return out + b"\xff" + payload


def switchap(port, secret, ssid="upy-at-emu", password="emulator1"):
    """The app's request; the module's CoAP answer as (type, code, message id, token, JSON)."""
    body = json.dumps({"id": "42", "version": "1.0", "method": "awss.device.softap.switchap",
                       "params": {"ssid": ssid, "passwd": encrypt(password, secret), "random": RANDOM.hex(),
                                  "token": TOKEN.hex(), "bssid": ""}}).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(20)
        s.sendto(coap_post(PATH, body), ("127.0.0.1", port))
        data = s.recv(2048)
    tkl = data[0] & 15
    payload = data[data.index(b"\xff", 4 + tkl) + 1:]
    return data[0] >> 4 & 3, data[1], struct.unpack("!H", data[2:4])[0], data[4:4 + tkl], json.loads(payload)


@pytest.fixture
def awss_port():
    """Where the app reaches the module's UDP 5683: a free loopback port the emulator's --resolve moves it
    to, so a second emulator on the machine cannot take the app's datagrams."""
    return free_port()


def test_the_app_provisions_with_the_product_secret_and_the_token_reaches_the_cloud(interp, cloud, test_ca,
                                                                                     awss_port):
    double, broker, routes = cloud
    agent = broker.agent()
    match = "/sys/%s/%s/thing/awss/enrollee/match" % (PK, DN)
    agent.subscribe(match)
    with Emulator(interp, args=emulator_args(test_ca, dict(routes, **{"0.0.0.0:5683": awss_port}))) as emu:
        assert lines(emu, "ATE0")[-1] == b"OK"
        assert lines(emu, "AT+IMQTTAUTH=%s,%s,%s,%s" % (PK, DN, DS, PS)) == [b"OK"]
        assert lines(emu, "AT+IAPCONFIGSTART=1") == [b"OK"]
        kind, code, mid, token, answer = switchap(awss_port, PS)
        assert (kind, code, mid, token) == (2, 0x45, 0x1234, b"\x0a\x0b\x0c\x0d")  # piggybacked 2.05
        assert answer["id"] == "42" and answer["code"] == 200
        assert answer["data"]["token"] == TOKEN.hex().upper() and answer["data"]["productKey"] == PK
        while not emu.line(30).startswith(b"+INETSTAT:4,"):
            pass
        assert lines(emu, "AT+CWMODE?") == [b"+CWMODE:1", b"OK"]  # the hotspot is closed
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
        report = json.loads(agent.wait_message(match, 10).payload)
        assert report["method"] == "thing.awss.enrollee.match"
        assert report["params"]["token"] == TOKEN.hex().upper()
        assert lines(emu, "AT+IMQTTDISCONN") == [b"OK"]
        assert emu.line() == b"+IMQTTSTATE:0"
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
    assert len(agent.received(match)) == 1  # reported once
    agent.close()


def test_the_aes_key_of_iapconfigstart_and_a_wrong_one(interp, awss_port):
    with Emulator(interp, args=("--resolve", "0.0.0.0:5683=127.0.0.1:%d" % awss_port)) as emu:
        assert lines(emu, "ATE0")[-1] == b"OK"
        assert lines(emu, "AT+IAPCONFIGSTART=1,demo_ap_ssid,passwd12,1234567890abcdef") == [b"OK"]
        kind, code, mid, token, answer = switchap(awss_port, "not the key")
        assert answer["code"] == -3
        assert lines(emu, "AT+CWMODE?") == [b"+CWMODE:3", b"OK"]  # still provisioning
        kind, code, mid, token, answer = switchap(awss_port, "1234567890abcdef")
        assert answer["code"] == 200
        while not emu.line(30).startswith(b"+INETSTAT:4,"):
            pass
        assert lines(emu, "AT+INETSTAT")[0].startswith(b"+INETSTAT:4,")
