"""The cellular profile's MQTT commands (reference cellular-air724.md §3) against real brokers on loopback,
under both interpreters: the whole command set, received messages printed or cached, and the failure paths
(no Wi-Fi, a refused login, the broker lost, a QoS 1 publish never acknowledged)."""
import pytest

from cellular_driver import cmd, online
from peers import TcpPeer, free_port, wait_for

CONNACK = b"\x20\x02\x00\x00"


def start(emu, port, host="127.0.0.1"):
    assert cmd(emu, 'AT+MIPSTART="%s","%d"' % (host, port)) == [b"OK"]
    return emu.line(20)


def connect(emu, port, client_id="cell-1", user="", password=""):
    assert cmd(emu, 'AT+MCONFIG="%s","%s","%s"' % (client_id, user, password)) == [b"OK"]
    assert start(emu, port) == b"CONNECT OK"
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :2", b"OK"]
    assert cmd(emu, "AT+MCONNECT=1,60") == [b"OK"]
    return emu.line(20)


def test_command_set(emu, broker):
    agent = broker.agent()
    agent.subscribe("cell/out")
    online(emu)
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :0", b"OK"]
    assert cmd(emu, 'AT+MPUB="cell/out",0,0,"x"') == [b"+CME ERROR: 767"]  # not connected
    assert cmd(emu, 'AT+MCONFIG=""') == [b"+CME ERROR: 765"]
    assert cmd(emu, "AT+MCONNECT=1,60") == [b"+CME ERROR: 767"]  # no MIPSTART yet
    assert connect(emu, broker.port) == b"CONNACK OK"
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :1", b"OK"]
    assert start(emu, broker.port) == b"ALREADY CONNECT"
    assert cmd(emu, "AT+MSUB=cell/in,1") == [b"OK"]  # unquoted, as Luat allows
    assert emu.line(10) == b"SUBACK"
    assert cmd(emu, "AT+MQTTMSGSET?") == [b"+MQTTMSGSET: 0", b"OK"]
    agent.publish("cell/in", b"hello, module", qos=1)
    assert emu.line(10) == b'+MSUB: "cell/in",13 byte,hello, module'
    # cached: announced by slot, read with AT+MQTTMSGGET
    assert cmd(emu, "AT+MQTTMSGSET=1") == [b"OK"]
    for i in range(5):
        agent.publish("cell/in", b"m%d" % i, qos=1)
        assert emu.line(10) == b"+MSUB: %d" % (i % 4)
    assert cmd(emu, "AT+MQTTMSGGET?") == [b"+MQTTMSGGET: %d,VALID" % i for i in range(4)] + [b"OK"]
    assert cmd(emu, "AT+MQTTMSGGET") == [b"+MSUB: cell/in,2 byte,m%d" % i for i in (1, 2, 3, 4)] + [b"OK"]
    assert cmd(emu, "AT+MQTTMSGGET?") == [b"+MQTTMSGGET: %d,INVALID" % i for i in range(4)] + [b"OK"]
    assert cmd(emu, "AT+MQTTMSGSET=0") == [b"OK"]
    # publishing at each QoS
    assert cmd(emu, 'AT+MPUB="cell/out",0,0,"zero"') == [b"OK"]
    assert cmd(emu, 'AT+MPUB="cell/out",1,0,"one"') == [b"OK"]
    assert emu.line(10) == b"PUBACK"
    assert cmd(emu, 'AT+MPUB="cell/out",2,1,"two"') == [b"OK"]
    assert emu.line(10) == b"PUBREC"
    assert emu.line(10) == b"PUBCOMP"
    wait_for(lambda: len(agent.received("cell/out")) >= 3, 10, "three publishes")
    assert [m.payload for m in agent.received("cell/out")] == [b"zero", b"one", b"two"]
    late = broker.agent("late-agent")
    late.subscribe("cell/out")
    retained = late.wait_message("cell/out", 10)  # the retained one, for a subscriber that comes later
    assert (retained.payload, retained.retain) == (b"two", True)
    late.close()
    assert cmd(emu, "AT+MUNSUB=cell/in") == [b"OK"]
    assert emu.line(10) == b"UNSUBACK"
    assert cmd(emu, "AT+MDISCONNECT") == [b"OK"]
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :2", b"OK"]
    assert cmd(emu, "AT+MDISCONNECT") == [b"+CME ERROR: 767"]
    assert cmd(emu, "AT+MIPCLOSE") == [b"OK"]
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :0", b"OK"]
    assert cmd(emu, "AT+MIPCLOSE") == [b"+CME ERROR: 767"]
    agent.close()


def test_no_wifi_and_no_broker(emu):
    assert cmd(emu, "ATE0")[-1] == b"OK"
    assert cmd(emu, 'AT+MCONFIG="cell-1"') == [b"OK"]
    assert start(emu, 1883) == b"CONNECT FAIL"  # no Wi-Fi
    online(emu)
    assert start(emu, free_port()) == b"CONNECT FAIL"  # nobody listens
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :0", b"OK"]


def test_refused_login_closes(emu, amqtt_broker):
    amqtt_broker.set_rule(lambda client_id, username, password: 4)
    online(emu)
    assert connect(emu, amqtt_broker.port, user="u", password="wrong") == b"CLOSED"
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :0", b"OK"]


def test_broker_loss(emu, amqtt_broker):
    online(emu)
    assert connect(emu, amqtt_broker.port) == b"CONNACK OK"
    amqtt_broker.kill()
    assert emu.line(30) == b"CLOSED"
    assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :0", b"OK"]
    assert cmd(emu, 'AT+MPUB="t",1,0,"x"') == [b"+CME ERROR: 767"]
    # the MCU reconnects, as the Luat guide says
    amqtt_broker.start()
    assert start(emu, amqtt_broker.port) == b"CONNECT OK"
    assert cmd(emu, "AT+MCONNECT=1,60") == [b"OK"]
    assert emu.line(20) == b"CONNACK OK"


def test_qos1_without_ack_prints_no_puback(emu):
    """A broker that accepts the login but never acknowledges: OK for the publish, and no PUBACK ever."""
    with TcpPeer(mode="sink") as peer:
        online(emu)
        assert cmd(emu, 'AT+MCONFIG="cell-1"') == [b"OK"]
        assert start(emu, peer.port) == b"CONNECT OK"
        assert cmd(emu, "AT+MCONNECT=1,300") == [b"OK"]
        conn = peer.wait_connections(2)[1]  # AT+MIPSTART's, then the session's
        conn.send(CONNACK)
        assert emu.line(20) == b"CONNACK OK"
        assert cmd(emu, 'AT+MPUB="t",1,0,"unacked"') == [b"OK"]
        conn.wait_received(20 + 14)  # CONNECT of "cell-1", then PUBLISH "t" "unacked" QoS 1
        assert emu.drain(12) == b""  # beyond the 10 s the session waits for the ack
        assert cmd(emu, "AT+MQTTSTATU") == [b"+MQTTSTATU :1", b"OK"]
