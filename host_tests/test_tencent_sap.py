"""SoftAP provisioning (seed 001 §6.3, §7.4) with a double of Tencent's phone app on the module's UDP port
8266: the app's request, the module's answer with product and device, the join, the app_bind_token message
to the loopback cloud, and the failures, under both interpreters. The emulator's --resolve moves the module's
8266 to a free loopback port (``app_port``), so a second emulator on the machine cannot take the app's
datagrams."""
import json
import socket
import time

import pytest

from cloud_doubles import emulator_args
from harness import Emulator
from peers import free_port
from test_tencent_mqtt import CID, DEV, PID, PSK, cloud, tc  # noqa: F401  (cloud is a fixture)

TOKEN = "6ab82618a9d529a2ee777bf6e528a0fd"


@pytest.fixture
def app_port():
    """Where the app reaches the module's UDP 8266."""
    return free_port()


@pytest.fixture
def device(interp, cloud, sntp_server, test_ca, app_port):  # noqa: F811
    routes = dict(cloud.routes())
    routes["*:123"] = sntp_server.port
    routes["0.0.0.0:8266"] = app_port
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        assert emu.command("ATE0")[-1] == b"OK"
        assert tc(emu, 'AT+TCDEVINFOSET=1,"%s","%s","%s"' % (PID, DEV, PSK)) == [b"OK", b"+TCDEVINFOSET:OK"]
        yield emu


def app_exchange(port, ssid, password, token=TOKEN, tries=5):
    """What the app does: send the AP and the token every 2 s until the module answers (at most 5 times)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        request = json.dumps({"cmdType": 1, "ssid": ssid, "password": password, "token": token}).encode()
        for _ in range(tries):
            s.sendto(request, ("127.0.0.1", port))
            try:
                return json.loads(s.recvfrom(512)[0]), s.dup()
            except socket.timeout:
                continue
    raise AssertionError("the module never answered the app")


def test_the_app_provisions_and_binds(device, cloud, app_port):  # noqa: F811
    emu = device
    assert tc(emu, 'AT+TCSAP="ESP32-SAP","12345678"') == [b"OK", b"+TCSAP:OK"]
    reply, sock = app_exchange(app_port, "upy-at-emu", "emulator1")
    sock.close()
    assert reply == {"cmdType": 2, "productId": PID, "deviceName": DEV, "protoVersion": "2.0"}
    line = emu.line(30)
    while line in (b"WIFI CONNECTED", b"WIFI GOT IP", b"WIFI DISCONNECT"):
        line = emu.line(30)
    assert line == b"+TCSAP:WIFI_CONNECT_SUCCESS"
    (cid, payload, qos), = cloud.wait_published("$thing/up/service/%s/%s" % (PID, DEV))
    bind = json.loads(payload)
    assert (cid, qos, bind["method"], bind["params"]) == (CID, 1, "app_bind_token", {"token": TOKEN})
    assert bind["clientToken"]
    assert emu.command("AT+CWMODE?") == [b"+CWMODE:1", b"OK"]  # the hotspot is closed
    assert emu.command("AT+TCMQTTSTATE?") == [b"+TCMQTTSTATE:0", b"OK"]
    assert emu.command('AT+CWJAP?')[0].startswith(b'+CWJAP:"upy-at-emu"')
    assert tc(emu, "AT+TCMQTTCONN=1,5000,240,1,1") == [b"OK", b"+TCMQTTCONN:OK"]
    assert tc(emu, 'AT+TCSAP="ESP32-SAP","12345678"') == [b"+CME ERROR:208"]  # not while connected
    assert tc(emu, "AT+TCSTOPSAP") == [b"+CME ERROR:208"]


def test_a_wrong_password_is_reported_to_the_mcu_and_the_app(device, cloud, app_port):  # noqa: F811
    emu = device
    assert tc(emu, 'AT+TCSAP="ESP32-SAP","12345678"') == [b"OK", b"+TCSAP:OK"]
    reply, sock = app_exchange(app_port, "upy-at-emu", "not the password")
    try:
        assert reply["productId"] == PID
        line = emu.line(40)
        while line.startswith(b"WIFI"):
            line = emu.line(40)
        assert line == b"+TCSAP:WIFI_CONNECT_FAILED,10,1"
        sock.settimeout(5)
        log = None
        while log is None or "deviceReply" not in log:
            log = json.loads(sock.recvfrom(512)[0])
        assert log["deviceReply"] == "Current_Error"
    finally:
        sock.close()
    assert not [p for p in cloud.published if p[1].startswith("$thing")]
    assert emu.command("AT+CWMODE?") == [b"+CWMODE:1", b"OK"]


def test_stop_ends_the_service(device, app_port):
    emu = device
    assert tc(emu, 'AT+TCSAP="ESP32-SAP",""') == [b"OK", b"+TCSAP:OK"]
    assert emu.command("AT+TCSTOPSAP") == [b"OK"]
    time.sleep(0.3)
    with pytest.raises(AssertionError):
        app_exchange(app_port, "upy-at-emu", "emulator1", tries=2)
    assert emu.drain(0.5) == b""
