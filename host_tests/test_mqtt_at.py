"""The esp-at MQTT commands against real brokers on loopback (amqtt and mosquitto, host_tests/brokers.py),
under both interpreters: configure, connect, publish, subscribe, TLS, reconnect, and 1,000 QoS 1 messages."""
import time

import pytest


def configure(emu, client_id="dev-1", user="", password="", scheme=1):
    emu.online()
    assert emu.command('AT+MQTTUSERCFG=0,%d,"%s","%s","%s",0,0,""' % (scheme, client_id, user, password)) == [b"OK"]


def connect(emu, broker, reconnect=0, host="127.0.0.1", port=None):
    port = port or broker.port
    assert emu.command('AT+MQTTCONN=0,"%s",%d,%d' % (host, port, reconnect), timeout=20) == [
        b'+MQTTCONNECTED:0,%d,"%s","%d","",%d' % (int(emu.scheme), host.encode(), port, reconnect), b"OK"]


@pytest.fixture
def device(emu):
    emu.scheme = 1
    return emu


def test_publish_subscribe_round_trip(device, broker):
    emu = device
    agent = broker.agent()
    agent.subscribe("dev/out")
    configure(emu)
    assert emu.command("AT+MQTTCONN?") == [b'+MQTTCONN:0,1,1,"","","",0', b"OK"]
    connect(emu, broker)
    assert emu.command("AT+MQTTCONN?") == [b'+MQTTCONN:0,5,1,"127.0.0.1","%d","",0' % broker.port, b"OK"]
    assert emu.command('AT+MQTTSUB=0,"dev/in",1') == [b"OK"]
    assert emu.command('AT+MQTTSUB=0,"dev/in",1') == [b"ALREADY SUBSCRIBE", b"OK"]
    assert emu.command("AT+MQTTSUB?") == [b'+MQTTSUB:0,6,"dev/in",1', b"OK"]
    agent.publish("dev/in", b"hello, device", qos=1)
    assert emu.line(timeout=10) == b'+MQTTSUBRECV:0,"dev/in",13,hello, device'
    assert emu.command('AT+MQTTPUB=0,"dev/out","a string",1,0') == [b"OK"]
    assert agent.wait_message("dev/out", 10).payload == b"a string"
    emu.send(b'AT+MQTTPUBRAW=0,"dev/out",6,0,0\r\n')
    emu.read_until(b">", 5)
    emu.send(b"\x00\r\n\xff,\"")
    assert emu.line(timeout=10) == b"+MQTTPUB:OK"
    assert agent.wait_message("dev/out", 10).payload == b"\x00\r\n\xff,\""
    assert emu.command('AT+MQTTUNSUB=0,"dev/in"') == [b"OK"]
    assert emu.command('AT+MQTTUNSUB=0,"dev/in"') == [b"NO UNSUBSCRIBE", b"OK"]
    assert emu.command("AT+MQTTCLEAN=0") == [b"OK"]
    assert emu.command("AT+MQTTCONN?") == [b'+MQTTCONN:0,0,0,"","","",0', b"OK"]
    agent.close()


def test_errors(device, broker):
    emu = device
    emu.online()
    assert emu.command('AT+MQTTCONN=0,"127.0.0.1",%d,0' % broker.port) == [b"ERROR"]  # no AT+MQTTUSERCFG
    assert emu.command('AT+MQTTUSERCFG=0,6,"dev","","",0,0,""') == [b"ERROR"]  # WebSocket
    assert emu.command('AT+MQTTUSERCFG=1,1,"dev","","",0,0,""') == [b"ERROR"]  # link 0 only
    assert emu.command('AT+MQTTUSERCFG=0,1,"dev","","",0,0,""') == [b"OK"]
    assert emu.command('AT+MQTTPUB=0,"t","x",0,0') == [b"ERROR"]  # not connected
    assert emu.command('AT+MQTTSUB=0,"t",0') == [b"ERROR"]
    assert emu.command('AT+MQTTCONN=0,"127.0.0.1",1,0', timeout=20) == [b"ERROR"]  # nobody listens
    assert emu.command("AT+MQTTSYSLOG=1") == [b"ERROR"]
    assert emu.command("AT+SYSLOG=1") == [b"OK"]
    assert emu.command('AT+MQTTPUB=0,"t","x",0,0') == [b"ERR CODE:0x010a6051", b"ERROR"]
    emu.scheme = 1
    connect(emu, broker)
    assert emu.command('AT+MQTTCONN=0,"127.0.0.1",%d,0' % broker.port) == [b"ERR CODE:0x010a6004", b"ERROR"]
    assert emu.command('AT+MQTTPUB=0,"t","x",3,0') == [b"ERR CODE:0x01070003", b"ERROR"]
    assert emu.command('AT+MQTTSUB=0,"bad/#/filter",0', timeout=15)[-1] == b"ERROR"


def test_long_client_id_and_password_and_the_auth_rule(device, amqtt_broker):
    emu = device
    amqtt_broker.rule = lambda client_id, username, password: password == "s3cret" * 20
    configure(emu, user="user")
    assert emu.command('AT+MQTTCONN=0,"127.0.0.1",%d,0' % amqtt_broker.port, timeout=20) == [b"ERROR"]
    long_id = "d" * 256
    emu.send(b"AT+MQTTLONGCLIENTID=0,256\r\n")
    emu.read_until(b">", 5)
    emu.send(long_id.encode())
    assert emu.line() == b"OK"
    emu.send(b"AT+MQTTLONGPASSWORD=0,120\r\n")
    emu.read_until(b">", 5)
    emu.send(b"s3cret" * 20)
    assert emu.line() == b"OK"
    connect(emu, amqtt_broker)
    attempt = amqtt_broker.wait_attempts(2)[-1]
    assert attempt.client_id == long_id and attempt.accepted


def test_tls_schemes(device, broker, test_ca):
    emu = device
    configure(emu, scheme=2)  # TLS, no verification
    emu.scheme = 2
    connect(emu, broker, host="localhost", port=broker.tls_port)
    assert emu.command("AT+MQTTCLEAN=0") == [b"OK"]
    # scheme 3 verifies the broker with the CA in client_ca
    assert emu.command('AT+SYSFLASH=0,"client_ca"') == [b"OK"]
    emu.send(b'AT+SYSFLASH=1,"client_ca",0,%d\r\n' % len(test_ca.ca.cert_der))
    emu.read_until(b">", 5)
    emu.send(test_ca.ca.cert_der)
    assert emu.line() == b"OK"
    assert emu.command('AT+MQTTUSERCFG=0,3,"dev-tls","","",0,0,""') == [b"OK"]
    emu.scheme = 3
    connect(emu, broker, host="localhost", port=broker.tls_port)
    assert emu.command('AT+MQTTPUB=0,"secure","yes",1,0') == [b"OK"]


def test_the_broker_dies_and_returns(device, broker):
    emu = device
    configure(emu)
    connect(emu, broker, reconnect=1)
    assert emu.command('AT+MQTTSUB=0,"dev/again",1') == [b"OK"]
    broker.kill()
    assert emu.line(timeout=10) == b"+MQTTDISCONNECTED:0"
    assert emu.command("AT") == [b"OK"]  # the UART answers all along
    assert emu.command('AT+MQTTPUB=0,"dev/out","lost?",1,0') == [b"ERROR"]  # reported, not silently lost
    broker.restart()
    assert emu.line(timeout=30) == b'+MQTTCONNECTED:0,1,"127.0.0.1","%d","",1' % broker.port
    agent = broker.agent()
    time.sleep(0.5)  # the subscription is restored just after the reconnect
    agent.publish("dev/again", b"back", qos=1)
    assert emu.line(timeout=10) == b'+MQTTSUBRECV:0,"dev/again",4,back'
    agent.close()


def test_thousand_qos1_messages_round_trip_in_order(device, mosquitto_broker):
    emu = device
    configure(emu)
    connect(emu, mosquitto_broker)
    assert emu.command('AT+MQTTSUB=0,"dev/loop",1') == [b"OK"]
    received = []
    oks = 0
    for i in range(1000):
        emu.send(b'AT+MQTTPUB=0,"dev/loop","%d",1,0\r\n' % i)
        while True:
            line = emu.line(timeout=15)
            if line == b"OK":
                oks += 1
                break
            assert line.startswith(b'+MQTTSUBRECV:0,"dev/loop",'), line
            received.append(int(line.rsplit(b",", 1)[1]))
    while len(received) < 1000:
        line = emu.line(timeout=15)
        received.append(int(line.rsplit(b",", 1)[1]))
    assert oks == 1000 and received == list(range(1000))
