"""Seed 003's whole flow as its conformance test (transcripts/peers/cellular_seed003.at), under both
interpreters, with the seed's own triple: the MCU's lines go unchanged through our firmware to the Aliyun
doubles (HTTPS device auth, then amqtt over TLS, which accepts only the iotId/iotToken the auth double
issued)."""
import os

from brokers import AmqttBroker
from cellular_driver import SEED_DN, SEED_IOT_ID, SEED_IOT_TOKEN, SEED_PK, cmd, seed_double
from cloud_doubles import cloud_pki, emulator_args
from harness import Emulator, run_transcript
from peers import wait_for
import aliyun_auth_double

HERE = os.path.dirname(os.path.abspath(__file__))
TRANSCRIPT = os.path.join(HERE, "transcripts", "peers", "cellular_seed003.at")
MQTT_HOST = SEED_PK + ".iot-as-mqtt.cn-shanghai.aliyuncs.com"
UPDATE = "/%s/%s/update" % (SEED_PK, SEED_DN)
GET = "/%s/%s/get" % (SEED_PK, SEED_DN)


def join_wifi(emu):
    """The station on the network first, as a SIM registers by itself before the MCU talks to the module."""
    emu.send(b'AT+CWJAP="upy-at-emu","emulator1"\r')
    emu.read_until(b"\r\nOK\r\n", 20)


def test_seed_003_line_for_line(interp, test_ca, tmp_path):
    with seed_double(tls=cloud_pki(test_ca, aliyun_auth_double.HOST).server_context()) as double, \
            AmqttBroker(cloud_pki(test_ca, MQTT_HOST), str(tmp_path)) as broker:
        broker.set_rule(double.mqtt_rule)
        agent = broker.agent()
        agent.subscribe(UPDATE)
        routes = {aliyun_auth_double.HOST: double.server.port, MQTT_HOST + ":1883": broker.tls_port}
        with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
            join_wifi(emu)
            run_transcript(emu, TRANSCRIPT, {"cloud_publishes": lambda: agent.publish(GET, b"server send")})
            assert emu.drain(0.3) == b""
        wait_for(lambda: len(agent.received(UPDATE)) >= 2, 10, "the device's two publishes")
        assert [m.payload for m in agent.received(UPDATE)] == [b"test0", b"test1"]
        agent.close()
        login = broker.attempts[-1]
        assert (login.client_id, login.username, login.code) == (SEED_DN, SEED_IOT_ID, 0)
        assert login.tls and login.keep_alive == 300 and login.clean_session


def test_broker_takes_only_the_login_the_double_issued(interp, test_ca, tmp_path):
    """The seed's iotId/iotToken without the auth exchange that issues them: the broker refuses (CLOSED)."""
    with seed_double() as double, AmqttBroker(cloud_pki(test_ca, MQTT_HOST), str(tmp_path)) as broker:
        broker.set_rule(double.mqtt_rule)
        with Emulator(interp, args=emulator_args(test_ca, {MQTT_HOST + ":1883": broker.tls_port})) as emu:
            join_wifi(emu)
            assert cmd(emu, "ATE0")[-1] == b"OK"
            assert cmd(emu, 'AT+MCONFIG="%s","%s","%s"' % (SEED_DN, SEED_IOT_ID, SEED_IOT_TOKEN)) == [b"OK"]
            assert cmd(emu, 'AT+SSLMIPSTART="%s",1883' % MQTT_HOST) == [b"OK"]
            assert emu.line(20) == b"CONNECT OK"
            assert cmd(emu, "AT+MCONNECT=1,300") == [b"OK"]
            assert emu.line(20) == b"CLOSED"
        assert broker.attempts[-1].code == 4
