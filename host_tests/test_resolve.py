"""The emulator's --resolve and --ca (README "Emulator options"): made-up and real cloud host names reach
loopback servers, TLS still checks the name the firmware was given, and the clouds' TLS context trusts the
--ca file. Under both interpreters."""
import re
import subprocess
import sys

import pytest

from brokers import AmqttBroker
from cloud_doubles import cloud_pki, emulator_args, https_double, run_firmware
from harness import EMULATE, Emulator
from peers import TcpPeer

ALIYUN_MQTT = "iot-as-mqtt.cn-shanghai.aliyuncs.com"


def flash_client_ca(emu, der):
    """The CA esp-at's SSL links verify with (AT+SYSFLASH into client_ca), then AT+CIPSSLCCONF=2."""
    assert emu.command('AT+SYSFLASH=0,"client_ca"') == [b"OK"]
    emu.send(b'AT+SYSFLASH=1,"client_ca",0,%d\r\n' % len(der))
    emu.read_until(b">", 5)
    emu.send(der)
    assert emu.line() == b"OK"
    assert emu.command("AT+CIPSSLCCONF=2,0,0") == [b"OK"]


def test_rules(interp):
    """Patterns as tools/emulate documents them, evaluated by the host board's hook in each interpreter."""
    out = run_firmware(interp, """
import netmap
print(netmap.remap("a1B2.iot-as-mqtt.cn-shanghai.aliyuncs.com", 8883))
print(netmap.remap("A1B2.IOT-as-mqtt.cn-shanghai.aliyuncs.com", 1883))
print(netmap.remap("iot-auth.cn-shanghai.aliyuncs.com", 443))
print(netmap.remap("iot-auth.cn-shanghai.aliyuncs.com", 0))
print(netmap.remap("example.com", 80))
for bad in ("x", "h=1.2.3", "h:=1.2.3.4", "h=1.2.3.4:0", "h:a=1.2.3.4"):
    try:
        netmap.parse(bad)
        print("accepted", bad)
    except ValueError:
        print("refused")
""", routes={"*.iot-as-mqtt.*:8883": "127.0.0.1:18883", "*.aliyuncs.com": "127.0.0.2",
             "iot-auth.*:443": "127.0.0.3:8443"})
    assert out.split("\n") == [
        "('127.0.0.1', 18883)",  # host and port match: both replaced
        "('127.0.0.2', 1883)",  # the second rule (any port; names compare without case): the port stays
        "('127.0.0.2', 443)",  # the first rule that matches wins
        "('127.0.0.2', 0)",
        "('example.com', 80)",  # no rule: resolved as before
    ] + ["refused"] * 5 + [""]


def test_cipstart_and_cipdomain_of_a_made_up_name(interp, tcp_echo):
    args = ["--resolve", "device.example.invalid=127.0.0.1:%d" % tcp_echo.port,
            "--resolve", "*.aliyuncs.com=127.0.0.7"]
    with Emulator(interp, args=args) as emu:
        emu.online()
        assert emu.command('AT+CIPSTART="TCP","device.example.invalid",80', timeout=20) == [b"CONNECT", b"OK"]
        assert emu.echo_over(b"hello") == b"hello"
        assert emu.command("AT+CIPCLOSE") == [b"CLOSED", b"OK"]
        assert emu.command('AT+CIPDOMAIN="device.example.invalid"') == [b'+CIPDOMAIN:"127.0.0.1"', b"OK"]
        assert emu.command('AT+CIPDOMAIN="%s"' % ALIYUN_MQTT) == [b'+CIPDOMAIN:"127.0.0.7"', b"OK"]
        assert emu.command('AT+CIPDOMAIN="localhost"') == [b'+CIPDOMAIN:"127.0.0.1"', b"OK"]  # no rule: as before
        assert emu.command('AT+CIPDOMAIN="other.example.invalid"', timeout=20) == [b"ERROR"]


def test_sntp_asks_a_mapped_time_server(interp, sntp_server):
    """Tencent's module takes the time from NTP servers it knows: those names reach a loopback server."""
    sntp_server.time = 1700000000
    args = ["--resolve", "time*.cloud.tencent.com:123=127.0.0.1:%d" % sntp_server.port]
    with Emulator(interp, args=args) as emu:
        emu.online()
        assert emu.command('AT+CIPSNTPCFG=1,0,"time1.cloud.tencent.com"') == [b"OK"]
        assert emu.line(timeout=10) == b"+TIME_UPDATED"
        reply = emu.command("AT+CIPSNTPTIME?")
        assert reply[1] == b"OK" and re.fullmatch(rb"\+CIPSNTPTIME:Tue Nov 14 22:13:\d\d 2023", reply[0])


def test_ssl_link_checks_the_name_it_was_given(interp, test_ca):
    """The link goes to loopback, but SNI and the certificate's name stay the cloud's host name."""
    with TcpPeer(tls=cloud_pki(test_ca, ALIYUN_MQTT).server_context()) as server:
        args = ["--resolve", "%s=127.0.0.1:%d" % (ALIYUN_MQTT, server.port),
                "--resolve", "wrong.example.invalid=127.0.0.1:%d" % server.port]
        with Emulator(interp, args=args) as emu:
            emu.online()
            flash_client_ca(emu, test_ca.ca.cert_der)
            assert emu.command('AT+CIPSTART="SSL","%s",8883' % ALIYUN_MQTT, timeout=20) == [b"CONNECT", b"OK"]
            assert emu.echo_over(b"hello") == b"hello"
            assert emu.command("AT+CIPCLOSE") == [b"CLOSED", b"OK"]
            # the same server under a name its certificate does not carry: refused
            out = emu.command('AT+CIPSTART="SSL","wrong.example.invalid",8883', timeout=20)
            assert out == [b"CLOSED", b"ERROR"]


def test_esp_at_mqtt_to_a_mapped_cloud_host(interp, test_ca, tmp_path):
    with AmqttBroker(cloud_pki(test_ca, ALIYUN_MQTT), str(tmp_path)) as broker:
        args = ["--resolve", "%s:8883=127.0.0.1:%d" % (ALIYUN_MQTT, broker.tls_port)]
        with Emulator(interp, args=args) as emu:
            emu.online()
            flash_client_ca(emu, test_ca.ca.cert_der)
            assert emu.command('AT+MQTTUSERCFG=0,3,"dev-cloud","","",0,0,""') == [b"OK"]
            assert emu.command('AT+MQTTCONN=0,"%s",8883,0' % ALIYUN_MQTT, timeout=20) == [
                b'+MQTTCONNECTED:0,3,"%s","8883","",0' % ALIYUN_MQTT.encode(), b"OK"]
        assert [a.client_id for a in broker.attempts if a.tls and a.accepted] == ["dev-cloud"]


# An MQTT session and an HTTPS request in the firmware's own process, with the TLS context the cloud
# families use (net/pki.cloud_context) and the emulator's environment for --resolve and --ca.
_DRIVE = """
import time
from at.compat import generator_result
from net import http, mqtt, pki


def run(gen):
    try:
        while True:
            ms = next(gen)
            time.sleep((ms or 1) / 1000)
    except StopIteration as done:
        return generator_result(done)
"""

_MQTT = _DRIVE + """
client = mqtt.Client("dev-ca", keepalive=30)
ctx = pki.cloud_context()
print("context", ctx is not None)
try:
    run(client.connect("%s", 8883, ctx))
    print("connected", client.connected)
    client.disconnect()
except mqtt.ConnectError as e:
    print("refused", e.args[0])
"""


def test_mqtt_session_verified_against_the_ca(interp, test_ca, tmp_path):
    with AmqttBroker(cloud_pki(test_ca, ALIYUN_MQTT), str(tmp_path)) as broker:
        routes = {ALIYUN_MQTT + ":8883": "127.0.0.1:%d" % broker.tls_port}
        out = run_firmware(interp, _MQTT % ALIYUN_MQTT, routes, ca=test_ca.ca.cert_pem_path)
        assert out.split("\n")[:2] == ["context True", "connected True"]
        assert [a.client_id for a in broker.attempts if a.tls and a.accepted] == ["dev-ca"]
        # a CA that did not sign the broker's certificate: the TLS handshake fails, nothing is accepted
        out = run_firmware(interp, _MQTT % ALIYUN_MQTT, routes, ca=test_ca.other_ca.cert_pem_path)
        lines = out.split("\n")
        assert lines[0] == "context True" and "refused tcp" in lines and "connected True" not in lines
        assert len([a for a in broker.attempts if a.accepted]) == 1


_HTTPS = _DRIVE + """
ctx = pki.cloud_context()
resp = run(http.get("https://iot-auth.cn-shanghai.aliyuncs.com/auth/devicename", 10000, ctx))
print(resp.status, run(resp.read(64)).decode())
"""


def test_https_to_a_mapped_cloud_host(interp, test_ca, tmp_path):
    """Through a CA bundle, as the chip's file of vendors' roots is: every certificate in it is trusted."""
    with https_double(test_ca, "iot-auth.cn-shanghai.aliyuncs.com") as server:
        server.serve("/auth/devicename", b'{"code":200}', content_type="application/json")
        routes = {"iot-auth.cn-shanghai.aliyuncs.com": "127.0.0.1:%d" % server.port}
        for roots in ((test_ca.other_ca, test_ca.ca), (test_ca.ca, test_ca.other_ca)):
            bundle = tmp_path / "roots.pem"
            bundle.write_bytes(b"# roots\n" + b"".join(root.cert_pem for root in roots))
            out = run_firmware(interp, _HTTPS, routes, ca=str(bundle))
            assert out == '200 {"code":200}\n'


def test_emulate_refuses_malformed_options(tmp_path):
    (tmp_path / "text.pem").write_text("not a certificate\n")
    for args, message in ((["--resolve", "host=1.2.3"], "ADDR is ip or ip:port"),
                          (["--resolve", "nothing"], "PATTERN=ADDR"),
                          (["--ca", str(tmp_path / "missing.pem")], "No such file"),
                          (["--ca", str(tmp_path / "text.pem")], "is not a PEM")):
        r = subprocess.run([sys.executable, EMULATE, "--state", str(tmp_path)] + args, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr)


def test_emulator_args_helper(test_ca):
    assert emulator_args(test_ca, {"a.example:8883": 1234, "*.b.example": 99}) == [
        "--resolve", "a.example:8883=127.0.0.1:1234", "--resolve", "*.b.example=127.0.0.1:99",
        "--ca", test_ca.ca.cert_pem_path]


_MUTUAL = _DRIVE + """
from net import transport
with open(%r, "rb") as f:
    cert = f.read()
with open(%r, "rb") as f:
    key = f.read()
conn = run(transport.open_tcp(transport.resolve("%s", 8883), 10000, pki.cloud_context((cert, key)), "%s"))
print("connected", conn is not None)
"""


def test_cloud_context_presents_a_client_certificate(interp, test_ca):
    """Tencent's TLS mode 2: the device presents its certificate (AT+TCCERTADD) as well."""
    host = "CTQS08Y5LG.iotcloud.tencentdevices.com"
    with TcpPeer(tls=cloud_pki(test_ca, host).server_context(require_client_cert=True)) as server:
        program = _MUTUAL % (test_ca.client.cert_pem_path, test_ca.client.key_pem_path, host, host)
        out = run_firmware(interp, program, {host: "127.0.0.1:%d" % server.port}, ca=test_ca.ca.cert_pem_path)
        assert "connected True" in out.split("\n")
        server.wait_connections(1)
        assert server.conns[0].peer_cert == test_ca.client.cert_der
