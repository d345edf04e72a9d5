"""The Tencent MQTT commands (seed 001 §3, §5, §8) against the loopback Tencent cloud (tencent_cloud.py), reached
under the product's real host name through --resolve, with the time from a loopback NTP server, under both
interpreters; and the parsing rules of AT+TCMQTTPUB in-process."""
import base64
import hashlib
import hmac
import re
import time

import pytest

from cloud_doubles import emulator_args
from harness import Emulator
import tencent_cloud
from tencent_cloud import TencentCloud

PID = "CTQS08Y5LG"
DEV = "Dev01"
PSK = base64.b64encode(b"sixteen byte key").decode()
CID = PID + DEV
DATA = "%s/%s/data" % (PID, DEV)
RESULT = re.compile(rb"\+TC[A-Z]+:(OK|FAIL,-?\d+)$")


def tc(emu, line, timeout=12):
    """Send a Tencent command; its lines up to ``+TCxxx:OK``/``FAIL,<err>``, ``+CME ERROR:<n>`` or ERROR.
    Every command of the profile gives its final line within 10 s."""
    emu.send(line.encode() + b"\r\n")
    lines = []
    while True:
        got = emu.line(timeout)
        lines.append(got)
        if RESULT.match(got) or got.startswith(b"+CME ERROR:") or got == b"ERROR":
            return lines


@pytest.fixture
def cloud(test_ca):
    c = TencentCloud(test_ca)
    c.add_device(PID, DEV, PSK)
    with c:
        yield c


@pytest.fixture
def device(interp, cloud, sntp_server, test_ca):
    routes = dict(cloud.routes())
    routes["*:123"] = sntp_server.port
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        emu.online()
        assert tc(emu, 'AT+TCDEVINFOSET=1,"%s","%s","%s"' % (PID, DEV, PSK)) == [b"OK", b"+TCDEVINFOSET:OK"]
        yield emu


def connect(emu, tls=1, reconnect=1):
    assert tc(emu, "AT+TCMQTTCONN=%d,5000,240,1,%d" % (tls, reconnect)) == [b"OK", b"+TCMQTTCONN:OK"]


def test_connect_signs_with_the_time_from_ntp_and_round_trips(device, cloud, sntp_server):
    emu = device
    assert emu.command("AT+TCMQTTSTATE?") == [b"+TCMQTTSTATE:0", b"OK"]
    assert emu.command("AT+TCMQTTCONN?") == [b"+TCMQTTCONN:1,5000,240,1,1", b"OK"]
    connect(emu)  # §8.1
    assert sntp_server.requests, "the module asked for the time before it signed"
    cid, user, code = cloud.attempts[-1]
    assert (cid, code) == (CID, 0)
    expiry = int(user.split(";")[3])
    assert time.time() + 3000 < expiry < time.time() + 3700
    assert emu.command("AT+TCMQTTSTATE?") == [b"+TCMQTTSTATE:1", b"OK"]
    assert emu.command("AT+TCMQTTCONN?") == [b"+TCMQTTCONN:1,5000,240,1,1", b"OK"]
    # §3.5, §3.3 and the escapes of §1.3: \" and \, stand for " and ,
    assert tc(emu, 'AT+TCMQTTSUB="%s",0' % DATA) == [b"OK", b"+TCMQTTSUB:OK"]
    assert emu.command("AT+TCMQTTSUB?") == [b'+TCMQTTSUB:"%s",0' % DATA.encode(), b"OK"]
    assert tc(emu, r'AT+TCMQTTPUB="%s",0,"{\"action\":\"Hello_From_ESP32\"\,\"n\":1}"' % DATA) == [
        b"OK", b"+TCMQTTPUB:OK"]
    assert emu.line() == b'+TCMQTTRCVPUB:"%s",35,"{"action":"Hello_From_ESP32","n":1}"' % DATA.encode()
    assert cloud.wait_published(DATA)[0] == (CID, b'{"action":"Hello_From_ESP32","n":1}', 0)
    # the message runs to the last quote of the line: raw quotes and commas survive; a raw LF inside is data
    emu.send(b'AT+TCMQTTPUB="%s",1,"a "quoted", b\n  c"\r\n' % DATA.encode())
    lines = [emu.line(), emu.line(), emu.line()]
    assert b"OK" in lines and b"+TCMQTTPUB:OK" in lines
    assert b'+TCMQTTRCVPUB:"%s",17,"a "quoted", b' % DATA.encode() in lines
    assert emu.line() == b'  c"'
    assert cloud.wait_published(DATA, 2)[1] == (CID, b'a "quoted", b\n  c', 1)
    # §3.4: '>' then the bytes (not echoed); a CR LF after them is ignored
    emu.send(b'AT+TCMQTTPUBL="%s",1,11\r\n' % DATA.encode())
    emu.read_until(b"OK\r\n\r\n>", 5)
    emu.send(b"Hello,world\r\n")
    lines = [emu.line(), emu.line()]
    assert sorted(lines) == sorted([b'+TCMQTTRCVPUB:"%s",11,"Hello,world"' % DATA.encode(), b"+TCMQTTPUBL:OK"])
    assert emu.command("AT") == [b"OK"]
    # the cloud's own message and the $sys/operation time service
    cloud.publish(DATA, b"from the cloud", 1)
    assert emu.line() == b'+TCMQTTRCVPUB:"%s",14,"from the cloud"' % DATA.encode()
    result = "$sys/operation/result/%s/%s" % (PID, DEV)
    assert tc(emu, 'AT+TCMQTTSUB="%s",0' % result) == [b"OK", b"+TCMQTTSUB:OK"]
    cloud.time = 1598000978
    assert tc(emu, r'AT+TCMQTTPUB="$sys/operation/%s/%s",0,"{\"type\": \"get\"\, \"resource\": [\"time\"]}"'
              % (PID, DEV)) == [b"OK", b"+TCMQTTPUB:OK"]
    assert emu.line() == b'+TCMQTTRCVPUB:"%s",32,"{"type":"get","time":1598000978}"' % result.encode()
    # §3.6, §3.2: the explicit disconnect reports +TCMQTTDISCON,2 before its OK
    assert tc(emu, 'AT+TCMQTTUNSUB="%s"' % result) == [b"OK", b"+TCMQTTUNSUB:OK"]
    assert tc(emu, 'AT+TCMQTTUNSUB="%s"' % result) == [b"OK", b"+TCMQTTUNSUB:FAIL,-121"]
    assert emu.command("AT+TCMQTTSUB?") == [b'+TCMQTTSUB:"%s",0' % DATA.encode(), b"OK"]
    assert emu.command("AT+TCMQTTDISCONN") == [b"+TCMQTTDISCON,2", b"OK"]
    assert emu.command("AT+TCMQTTSTATE?") == [b"+TCMQTTSTATE:0", b"OK"]
    assert tc(emu, "AT+TCMQTTDISCONN") == [b"+CME ERROR:208"]


def test_topic_permissions(device, cloud):
    """The Tencent test tool's permission test: …/event may not be subscribed, …/control not published to
    (QoS 0 is dropped silently, QoS 1 gets no PUBACK: FAIL,202 by the command timeout)."""
    emu = device
    connect(emu)
    assert tc(emu, 'AT+TCMQTTSUB="%s/%s/event",0' % (PID, DEV)) == [b"OK", b"+TCMQTTSUB:FAIL,-108"]
    assert emu.command("AT+TCMQTTSUB?") == [b"OK"]
    assert tc(emu, 'AT+TCMQTTPUB="%s/%s/control",0,"hello"' % (PID, DEV)) == [b"OK", b"+TCMQTTPUB:OK"]
    assert tc(emu, 'AT+TCMQTTPUB="%s/%s/control",1,"hello"' % (PID, DEV)) == [b"OK", b"+TCMQTTPUB:FAIL,202"]
    assert not [p for p in cloud.published if p[1].endswith("/control")]
    assert emu.command("AT+TCMQTTSTATE?") == [b"+TCMQTTSTATE:1", b"OK"]


def test_a_wrong_key_is_refused_and_errors_before_ok(device, cloud):
    emu = device
    assert tc(emu, 'AT+TCMQTTPUB="%s",0,"x"' % DATA) == [b"+CME ERROR:208"]  # not connected
    assert tc(emu, 'AT+TCMQTTSUB="%s",0' % DATA) == [b"+CME ERROR:208"]
    assert tc(emu, "AT+TCMQTTCONN=2,5000,240,1,1") == [b"+CME ERROR:204"]  # not the device's TLS mode
    assert tc(emu, "AT+TCMQTTCONN=1,500,240,1,1") == [b"ERROR"]  # cmdtimeout 1000-10000
    wrong = base64.b64encode(b"another key 1234").decode()
    assert tc(emu, 'AT+TCDEVINFOSET=1,"%s","%s","%s"' % (PID, DEV, wrong)) == [b"OK", b"+TCDEVINFOSET:OK"]
    assert tc(emu, "AT+TCMQTTCONN=1,5000,240,1,1") == [b"OK", b"+TCMQTTCONN:FAIL,-116"]  # CONNACK 4
    assert cloud.attempts[-1][2] == 4
    assert emu.command("AT+TCMQTTSTATE?") == [b"+TCMQTTSTATE:0", b"OK"]


def test_plain_mode_0_and_settings_refused_while_connected(device, cloud):
    emu = device
    connect(emu, tls=0)  # mode 1 steps down to 0: port 1883
    assert tc(emu, "AT+TCMQTTCONN=1,5000,240,1,1") == [b"+CME ERROR:208"]
    assert tc(emu, 'AT+TCDEVINFOSET=1,"%s","%s","%s"' % (PID, DEV, PSK)) == [b"+CME ERROR:208"]
    assert tc(emu, 'AT+TCMQTTSRV="127.0.0.1"') == [b"+CME ERROR:208"]
    assert tc(emu, 'AT+TCSAP="tc-sap","12345678"') == [b"+CME ERROR:208"]
    assert emu.command("AT+TCMQTTDISCONN") == [b"+TCMQTTDISCON,2", b"OK"]


def add_file(emu, name, data):
    """AT+TCCERTADD: '>' then the bytes."""
    emu.send(b'AT+TCCERTADD="%s",%d\r\n' % (name.encode(), len(data)))
    emu.read_until(b"OK\r\n\r\n>", 5)
    emu.send(data)
    assert emu.line() == b"+TCCERTADD:OK"


def test_tls_mode_2_presents_the_certificate_files(device, cloud, test_ca):
    """V3.2.x: the certificate and key written with AT+TCCERTADD, checked, named by AT+TCDEVINFOSET mode 2."""
    emu = device
    cloud.add_device(PID, "Dev02")  # certificate auth: no key
    add_file(emu, "Dev02.crt", test_ca.client.cert_pem)
    add_file(emu, "Dev02.key", test_ca.client.key_pem)
    assert emu.command("AT+TCCERTADD?") == [b'+TCCERTADD:"Dev02.crt",%d' % len(test_ca.client.cert_pem),
                                             b'+TCCERTADD:"Dev02.key",%d' % len(test_ca.client.key_pem), b"OK"]
    assert tc(emu, 'AT+TCCERTCHECK="Dev02.crt"') == [b"OK", b"+TCCERTCHECK:OK"]
    assert tc(emu, 'AT+TCCERTCHECK="Dev02.key"') == [b"OK", b"+TCCERTCHECK:OK"]
    assert tc(emu, 'AT+TCDEVINFOSET=2,"%s","Dev02","Dev02.crt"' % PID) == [b"OK", b"+TCDEVINFOSET:OK"]
    assert emu.command("AT+TCDEVINFOSET?") == [b'+TCDEVINFOSET:2,"%s","Dev02","Dev02.crt"' % PID.encode(), b"OK"]
    assert tc(emu, "AT+TCMQTTCONN=1,5000,240,1,1") == [b"+CME ERROR:204"]  # mode 2 cannot step down
    assert tc(emu, "AT+TCMQTTCONN=2,5000,240,1,1") == [b"OK", b"+TCMQTTCONN:OK"]
    assert cloud.attempts[-1][0::2] == (PID + "Dev02", 0)
    topic = "%s/Dev02/data" % PID
    assert tc(emu, 'AT+TCMQTTPUB="%s",1,"by certificate"' % topic) == [b"OK", b"+TCMQTTPUB:OK"]
    assert cloud.wait_published(topic)[0][1] == b"by certificate"
    assert emu.command("AT+TCMQTTDISCONN") == [b"+TCMQTTDISCON,2", b"OK"]
    assert tc(emu, 'AT+TCCERTDEL="Dev02.key"') == [b"OK", b"+TCCERTDEL:OK"]
    assert tc(emu, "AT+TCMQTTCONN=2,5000,240,1,1") == [b"OK", b"+TCMQTTCONN:FAIL,-701"]  # no key


def test_no_qos1_message_reported_ok_is_lost_when_the_broker_dies(device, cloud):
    emu = device
    connect(emu)
    ok, seen = [], []
    for i in range(12):
        if i == 5:
            cloud.kill()
        if i == 8:
            cloud.start()
            while b"+TCMQTTRECONNECTED" not in seen:
                seen.append(emu.line(30))
        lines = tc(emu, 'AT+TCMQTTPUB="%s",1,"m%d"' % (DATA, i), 15)
        seen += lines
        if lines[-1] == b"+TCMQTTPUB:OK":
            ok.append(b"m%d" % i)
        else:
            assert lines[-1] in (b"+CME ERROR:208", b"+TCMQTTPUB:FAIL,-103", b"+TCMQTTPUB:FAIL,202"), lines
    got = [p for c, t, p, q in cloud.published if t == DATA]
    assert ok and all(m in got for m in ok), (ok, got)
    assert b"m11" in ok


def _kick(cloud):
    """Connect a second client with the device's own credentials: the cloud kicks the device."""
    import socket
    import struct
    user = "%s;12010126;abcde;%d" % (CID, int(time.time()) + 600)
    password = hmac.new(base64.b64decode(PSK), user.encode(), hashlib.sha256).hexdigest() + ";hmacsha256"

    def s(v):
        return struct.pack("!H", len(v)) + v.encode()
    body = s("MQTT") + bytes([4, 0xC2, 0, 60]) + s(CID) + s(user) + s(password)
    sock = socket.create_connection(("127.0.0.1", cloud.port))
    sock.sendall(tencent_cloud.packet(0x10, body))
    assert sock.recv(4) == b"\x20\x02\x00\x00"
    return sock


def test_reconnect_after_a_crash_and_a_kick_with_fresh_signatures(device, cloud):
    emu = device
    connect(emu)
    assert tc(emu, 'AT+TCMQTTSUB="%s",1' % DATA) == [b"OK", b"+TCMQTTSUB:OK"]
    cloud.kill()
    assert emu.line(15) == b"+TCMQTTDISCON,-103"
    assert emu.line(15) == b"+TCMQTTRECONNECTING"
    assert emu.command("AT+TCMQTTSTATE?")[-2:] == [b"+TCMQTTSTATE:0", b"OK"]
    cloud.start()
    line = emu.line(30)
    while line == b"+TCMQTTRECONNECTING":
        line = emu.line(30)
    assert line == b"+TCMQTTRECONNECTED"
    assert cloud.subscribed(CID) == {DATA: 1}
    users = [a[1] for a in cloud.attempts if a[2] == 0]
    assert len(users) >= 2 and users[-1] != users[0]  # a new connid (and expiry) for each attempt
    lines = tc(emu, 'AT+TCMQTTPUB="%s",1,"after"' % DATA)
    if len(lines) == 2:  # the message's URC came after the command's final line
        lines.append(emu.line())
    assert sorted(lines) == sorted([b"OK", b"+TCMQTTPUB:OK", b'+TCMQTTRCVPUB:"%s",5,"after"' % DATA.encode()])
    assert cloud.wait_published(DATA)[0][1] == b"after"
    # a second client with the same client id kicks the module, which reconnects in turn
    other = _kick(cloud)
    try:
        seen = [emu.line(15)]
        while seen[-1] != b"+TCMQTTRECONNECTED":
            seen.append(emu.line(30))
        assert b"+TCMQTTDISCON,-103" in seen
    finally:
        other.close()


def test_without_reconnect_a_loss_is_reported_once(device, cloud):
    emu = device
    connect(emu, reconnect=0)
    cloud.kill()
    assert emu.line(15) == b"+TCMQTTDISCON,-103"
    assert emu.drain(1.5) == b""
    assert emu.command("AT+TCMQTTSTATE?") == [b"+TCMQTTSTATE:0", b"OK"]
    assert tc(emu, "AT+TCMQTTDISCONN") == [b"+CME ERROR:208"]


# ---- the parsing rules of AT+TCMQTTPUB, in-process -------------------------------------------------
def test_the_last_parameter_runs_to_the_last_quote_of_the_line():
    from at import parser
    from at.parser import num, tail, text

    spec = (text(128, 1), num(0, 1), tail(256))
    assert parser.parse_args(b'"t",1,"hello world"', spec) == ["t", 1, "hello world"]
    assert parser.parse_args(br'"t",0,"{\"a\":1\,\"b\":\"x\"}"', spec) == ["t", 0, '{"a":1,"b":"x"}']
    assert parser.parse_args(b'"t",0,"raw "quotes", and, commas"', spec) == ["t", 0, 'raw "quotes", and, commas']
    assert parser.parse_args(b'"t",0,"line\none"  ', spec) == ["t", 0, "line\none"]
    assert parser.parse_args(b'"t",0,""', spec) == ["t", 0, ""]
    for bad in (b'"t",0,"unterminated', b'"t",0,"x",11', b'"t",0,unquoted', b'"t",0', b'"t",0,"'):
        with pytest.raises(parser.AtError):
            parser.parse_args(bad, spec)


def test_a_lone_lf_inside_quotes_is_data_elsewhere_it_ends_the_line():
    from inproc import InProc

    at = InProc("tcframe")
    try:
        at.send(b'AT+TCDEVINFOSET=1,"P","D\nX"\r\n')  # the LF is inside quotes: one line, one answer
        assert at.read_lines(prefixes=(b"+CME ERROR:",)) == ["ERROR"]  # "D\nX" has no key: too few fields
        at.send(b"AT\nAT\n")
        assert at.read_lines() == ["OK", "OK"]
        at.send(b'AT+TCMQTTSRV="1.2.3\\"\n.4"\r\n')  # an escaped quote does not close the string: one line
        assert at.read_lines(prefixes=(b"+CME ERROR:",)) == ["+CME ERROR:204"]  # which is no IP address
    finally:
        at.close()


def test_a_message_longer_than_the_buffer_comes_whole_in_one_urc(device, cloud):
    emu = device
    connect(emu)
    assert tc(emu, 'AT+TCMQTTSUB="%s",1' % DATA) == [b"OK", b"+TCMQTTSUB:OK"]
    big = bytes(range(32, 127)) * 64  # 6080 bytes, more than the 2304-byte receive buffer
    cloud.publish(DATA, big, 1)
    head = b'+TCMQTTRCVPUB:"%s",%d,"' % (DATA.encode(), len(big))
    assert emu.read_until(head, 10).lstrip(b"\r\n") == head
    assert emu.read_exact(len(big) + 3, 10) == big + b'"\r\n'
    assert emu.command("AT") == [b"OK"]
