"""Seed 000 §2, the Alibaba module's MQTT commands, under both interpreters against the loopback Aliyun
cloud: amqtt over TLS under the cloud's host name (--resolve, --ca), taking only logins signed with the
device secret (host_tests/aliyun_cloud.py)."""
import os

import pytest

from aliyun_cloud import AliyunCloud, mqtt_host
from brokers import AmqttBroker, connect_raw
from cloud_doubles import cloud_pki, emulator_args
from harness import Emulator, run_transcript
from peers import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPT = os.path.join(HERE, "transcripts", "peers", "aliyun_mqtt.at")
PK, DN, DS = "a1AliTest01", "upy_dev_001", "9daKx7Rf2bWq0yHnLs3Vt8Pz5Ju1Ec6d"
HOST = mqtt_host(PK)
UPDATE = "/%s/%s/user/update" % (PK, DN)
GET = "/%s/%s/user/get" % (PK, DN)


@pytest.fixture
def cloud(test_ca, tmp_path):
    """(AliyunCloud, AmqttBroker, routes): the broker serves the cloud's MQTT host name on its TLS port."""
    double = AliyunCloud({(PK, DN): DS})
    with AmqttBroker(cloud_pki(test_ca, HOST), str(tmp_path)) as broker:
        broker.set_rule(double.mqtt_rule)
        yield double, broker, {HOST + ":1883": broker.tls_port, HOST + ":1884": broker.port}
        assert not broker.rule_errors


def lines(emu, command, timeout=20):
    """A command's answer up to OK, ERROR or +CME ERROR."""
    emu.send(command.encode() + b"\r\n")
    out = []
    while True:
        out.append(emu.line(timeout))
        if out[-1] in (b"OK", b"ERROR") or out[-1].startswith(b"+CME ERROR:"):
            return out


def online(emu):
    assert lines(emu, "ATE0")[-1] == b"OK"
    assert lines(emu, 'AT+CWJAP="upy-at-emu","emulator1"')[-1] == b"OK"
    emu.drain(0.3)


def subscribed(emu):
    """Online, the device's identity set, connected to the cloud double and subscribed to GET at QoS 1."""
    online(emu)
    assert lines(emu, "AT+IMQTTAUTH=%s,%s,%s" % (PK, DN, DS)) == [b"OK"]
    assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
    assert lines(emu, "AT+IMQTTSUB=%s,1" % GET) == [b"+IMQTTSUB:1", b"OK"]
    assert emu.line() == b"+IMQTTSUBACK:1,0"


def test_the_manuals_mqtt_flow(interp, cloud, test_ca):
    double, broker, routes = cloud
    agent = broker.agent()
    agent.subscribe(UPDATE)
    sends = lambda: (agent.publish(GET, b"mytext"), agent.publish(GET, b'{"a":1,"b":"c"}'))
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        run_transcript(emu, TRANSCRIPT, {"cloud_sends": sends})
    wait_for(lambda: len(agent.received(UPDATE)) >= 3, 10, "the device's three publishes")
    assert [m.payload for m in agent.received(UPDATE)] == [b"123", b'{"LightStatus":1,"Note":"a, b"}', b"\xff\n"]
    login = broker.attempts[-1]
    assert login.accepted and login.tls and login.keep_alive == 1200
    assert login.client_id == "%s.%s|securemode=2,signmethod=hmacsha256,timestamp=2524608000000|" % (PK, DN)
    assert login.username == "%s&%s" % (DN, PK)
    agent.close()


def test_a_wrong_secret_is_refused_and_the_host_is_kept_only_after_a_connect(interp, cloud, test_ca):
    double, broker, routes = cloud
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        assert lines(emu, "AT+IMQTTAUTH=%s,%s,wrongsecret" % (PK, DN)) == [b"OK"]
        assert lines(emu, "AT+IMQTTCONN=%s,1883" % HOST) == [b"+CME ERROR:2"]
        assert broker.attempts[-1].code == 4
        assert lines(emu, "AT+IMQTTSTATE?") == [b"+IMQTTSTATE:0", b"OK"]
        # plain TCP: securemode=3 on the broker's plain port
        assert lines(emu, "AT+IMQTTAUTH=%s,%s,%s" % (PK, DN, DS)) == [b"OK"]
        assert lines(emu, "AT+IMQTTPARA=TLS,0") == [b"OK"]
        assert lines(emu, 'AT+IMQTTCONN="%s",1884' % HOST) == [b"+IMQTTSTATE:1", b"OK"]
        assert "securemode=3," in broker.attempts[-1].client_id and not broker.attempts[-1].tls
        assert lines(emu, "AT+IMQTTDISCONN") == [b"OK"]
        assert emu.line() == b"+IMQTTSTATE:0"
        # the bare form now goes to the saved host and port
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
        assert broker.attempts[-1].accepted and not broker.attempts[-1].tls


def test_the_login_of_imqttcred_is_sent_as_given(interp, cloud, test_ca):
    double, broker, routes = cloud
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        assert lines(emu, "AT+IMQTTCRED=democlientid,demousername,demopasswd") == [b"OK"]
        assert lines(emu, "AT+IMQTTCRED?") == [b"+IMQTTCRED:democlientid,demousername,dem***wd", b"OK"]
        assert lines(emu, "AT+IMQTTCONN=%s,1883" % HOST) == [b"+CME ERROR:2"]
        login = broker.attempts[-1]
        assert (login.client_id, login.username, login.password, login.code) == (
            "democlientid", "demousername", "demopasswd", 4)


def test_broker_loss_reports_state_and_reconnects_with_the_subscriptions(interp, cloud, test_ca):
    double, broker, routes = cloud
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        subscribed(emu)
        broker.kill()
        assert emu.line(30) == b"+IMQTTSTATE:0"
        assert lines(emu, "AT+IMQTTSTATE?") == [b"+IMQTTSTATE:0", b"OK"]
        broker.start()
        assert emu.line(60) == b"+IMQTTSTATE:1"
        agent = broker.agent()
        agent.publish(GET, b"back", qos=1)
        assert emu.line(20) == b"+IMQTTRCVPUB:%s,4,back" % GET.encode()
        agent.close()


def test_the_sdk_dialect(interp, cloud, test_ca):
    """AT+IMQTTPARA=SDK,1: the lines iotkit-embedded's ICA driver parses; its quoted commands are taken."""
    double, broker, routes = cloud
    agent = broker.agent()
    agent.subscribe(UPDATE)
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        assert lines(emu, "AT+IMQTTPARA=SDK,1") == [b"OK"]
        assert lines(emu, "AT+IMQTTPARA?") == [
            b"+IMQTTPARA:timeout=5,tls=1,keepalive=1200,auth_mode=0,heart_beat=25,sdk=1", b"OK"]
        assert lines(emu, "AT+IMQTTDISCONN") == [b"OK"]  # the SDK disconnects first
        assert lines(emu, "AT+IMQTTMODE=1") == [b"OK"]  # its TLS switch
        assert lines(emu, 'AT+IMQTTAUTH="%s","%s","%s"' % (PK, DN, DS)) == [b"+IMQTTAUTH:OK", b"OK"]
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
        assert broker.attempts[-1].tls
        assert lines(emu, 'AT+IMQTTSUB="%s",1' % GET) == [b"+IMQTTSUB:1", b"OK"]
        assert emu.line() == b"+IMQTTSUB:1,0"
        assert lines(emu, r'AT+IMQTTPUB="%s",1,"{\"id\":\"1\",\"v\":\"x,y\"}"' % UPDATE) == [b"+IMQTTPUB:2", b"OK"]
        assert emu.line() == b"+IMQTTPUB:2,0"
        agent.publish(GET, b'{"k":"v"}', qos=1)
        assert emu.line(20) == b'+IMQTTRCVPUB:1,"%s",9,"{"k":"v"}"' % GET.encode()
        assert lines(emu, 'AT+IMQTTUNSUB="%s"' % GET) == [b"+IMQTTUNSUB:3", b"OK"]
        assert emu.line() == b"+IMQTTUNSUB:3,0"
    wait_for(lambda: agent.received(UPDATE), 10, "the SDK's publish")
    assert agent.received(UPDATE)[0].payload == b'{"id":"1","v":"x,y"}'
    agent.close()


@pytest.mark.parametrize("method", ["hmacmd5", "hmacsha1", "hmacsha256"])
def test_the_cloud_double_checks_all_three_sign_methods(method, cloud):
    """The double's rule, independent of the firmware: a good sign of each method is accepted, a bad one
    gets CONNACK 4."""
    import hashlib
    import hmac
    double, broker, routes = cloud
    digest = {"hmacmd5": hashlib.md5, "hmacsha1": hashlib.sha1, "hmacsha256": hashlib.sha256}[method]
    cid = "%s.%s" % (PK, DN)
    password = hmac.new(DS.encode(), ("clientId%sdeviceName%sproductKey%stimestamp1" % (cid, DN, PK)).encode(),
                        digest).hexdigest().upper()  # the C SDKs send upper case
    client_id = "%s|securemode=3,signmethod=%s,timestamp=1|" % (cid, method)
    assert connect_raw(broker.port, client_id, "%s&%s" % (DN, PK), password) == (False, 0)
    assert connect_raw(broker.port, client_id, "%s&%s" % (DN, PK), password[:-1] + "Z")[1] == 4
    assert connect_raw(broker.port, client_id.replace("securemode=3", "securemode=2"), "%s&%s" % (DN, PK),
                       password)[1] == 4  # securemode says TLS on the plain port


def test_long_messages_are_joined_up_to_8_kib_and_then_come_piece_by_piece(interp, cloud, test_ca):
    double, broker, routes = cloud
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        subscribed(emu)
        agent = broker.agent()
        joined, split = bytes(range(32, 127)) * 86, b"0123456789" * 2000  # 8170 and 20000 bytes
        agent.publish(GET, joined, qos=1)
        head = b"+IMQTTRCVPUB:%s,%d," % (GET.encode(), len(joined))
        assert emu.read_exact(len(head) + len(joined) + 2, 20) == head + joined + b"\r\n"
        agent.publish(GET, split, qos=1)
        got = b""
        prefix = b"+IMQTTRCVPUB:%s," % GET.encode()
        while len(got) < len(split):
            line = emu.line(20)
            assert line.startswith(prefix)
            size, _, piece = line[len(prefix):].partition(b",")
            assert int(size) == len(piece) <= 1324
            got += piece
        assert got == split
        agent.close()


def test_a_kicked_device_reports_it_and_comes_back(interp, cloud, test_ca):
    """The cloud double logs in with the device's identity: the broker takes the session over."""
    double, broker, routes = cloud
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        assert lines(emu, "AT+IMQTTAUTH=%s,%s,%s" % (PK, DN, DS)) == [b"OK"]
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
        assert double.kick(broker, broker.attempts[-1])[1] == 0  # accepted: the device's session is taken over
        assert emu.line(30) == b"+IMQTTSTATE:0"
        assert emu.line(60) == b"+IMQTTSTATE:1"
        assert lines(emu, "AT+IMQTTSTATE?") == [b"+IMQTTSTATE:1", b"OK"]
