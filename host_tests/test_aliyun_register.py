"""Seed 000 §2.1-2.2, dynamic registration ("one type one secret"), under both interpreters: AUTHMODE 1 over
HTTPS register/device and AUTHMODE 2 over MQTT regnwl, against the loopback Aliyun cloud; what is obtained is
saved and used."""
import pytest

from aliyun_cloud import AliyunCloud, RegnwlFront, mqtt_host
from brokers import AmqttBroker
from cloud_doubles import cloud_pki, emulator_args, https_double
from harness import Emulator
from test_aliyun_mqtt import DN, DS, PK, lines, online

PS = "5Q5KQexampleA1P"
AUTH_HOST = "iot-auth.cn-shanghai.aliyuncs.com"
HOST = mqtt_host(PK)


@pytest.fixture
def parts(test_ca, tmp_path):
    cloud = AliyunCloud({(PK, DN): DS}, {PK: PS})
    with AmqttBroker(cloud_pki(test_ca, HOST), str(tmp_path)) as broker, \
            https_double(test_ca, AUTH_HOST) as auth:
        broker.set_rule(cloud.mqtt_rule)
        auth.serve("/auth/register/device", cloud.register_device, content_type="application/json")
        yield cloud, broker, auth
        assert not broker.rule_errors


def test_authmode_1_registers_over_https_and_keeps_the_secret(interp, parts, test_ca):
    cloud, broker, auth = parts
    routes = {AUTH_HOST: auth.port, HOST + ":1883": broker.tls_port}
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        online(emu)
        # the manual: the device secret left empty, AUTHMODE 1
        assert lines(emu, "AT+IMQTTAUTH=%s,%s, ,%s" % (PK, DN, PS)) == [b"OK"]
        assert lines(emu, "AT+IMQTTAUTH?") == [b"+IMQTTAUTH=%s, %s, , 5Q5***1P" % (PK.encode(), DN.encode()), b"OK"]
        assert lines(emu, "AT+IMQTTCONN") == [b"+CME ERROR:6"]  # AUTHMODE 0 needs the device secret
        assert lines(emu, "AT+IMQTTPARA=AUTHMODE,1") == [b"OK"]
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
        assert cloud.registrations == [(PK, DN, True)]
        request = auth.requests[-1]
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert broker.attempts[-1].accepted
        assert lines(emu, "AT+IMQTTAUTH?") == [b"+IMQTTAUTH=%s, %s, 9da***6d, 5Q5***1P" % (PK.encode(), DN.encode()),
                                               b"OK"]
        assert lines(emu, "AT+IMQTTDISCONN") == [b"OK"]
        assert emu.line() == b"+IMQTTSTATE:0"
        assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
        assert len(cloud.registrations) == 1  # the saved secret is used


def test_authmode_1_with_a_wrong_product_secret(interp, parts, test_ca):
    cloud, broker, auth = parts
    with Emulator(interp, args=emulator_args(test_ca, {AUTH_HOST: auth.port})) as emu:
        online(emu)
        assert lines(emu, "AT+IMQTTAUTH=%s,%s,,wrong" % (PK, DN)) == [b"OK"]
        assert lines(emu, "AT+IMQTTPARA=AUTHMODE,1") == [b"OK"]
        assert lines(emu, "AT+IMQTTCONN") == [b"+CME ERROR:10"]
        assert cloud.registrations == [(PK, DN, False)]


def test_authmode_2_registers_over_mqtt_regnwl_and_logs_in_with_the_token(interp, parts, test_ca):
    cloud, broker, auth = parts
    with RegnwlFront(cloud, broker, cloud_pki(test_ca, HOST)) as front:
        with Emulator(interp, args=emulator_args(test_ca, {HOST + ":1883": front.port})) as emu:
            online(emu)
            assert lines(emu, "AT+IMQTTAUTH=%s,%s,,%s" % (PK, DN, PS)) == [b"OK"]
            assert lines(emu, "AT+IMQTTPARA=AUTHMODE,2") == [b"OK"]
            assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
            assert cloud.registrations == [(PK, DN, True)]
            cid, token = cloud.tokens[(PK, DN)]
            login = broker.attempts[-1]
            assert login.accepted and login.password == token
            assert login.client_id == "%s|authType=connwl,securemode=-2,_ss=1,ext=3|" % cid
            assert lines(emu, "AT+IMQTTDISCONN") == [b"OK"]
            assert emu.line() == b"+IMQTTSTATE:0"
            assert lines(emu, "AT+IMQTTCONN") == [b"+IMQTTSTATE:1", b"OK"]
            assert len(cloud.registrations) == 1 and broker.attempts[-1].accepted
