"""Nothing the broker sends is lost (issue 9, items 9 and 10), under both interpreters, against each real broker:
a burst of 1,000 messages at QoS 0 and at QoS 1 reaches the UART whole and in order while the MCU keeps
publishing; a message longer than esp-at's 1024-byte MQTT buffer (100 KB, plain and retained) arrives as several
+MQTTSUBRECV, as esp-at splits it, without a reconnect."""
import threading

import pytest

from test_mqtt_at import configure, connect

BURST = 1000


@pytest.fixture
def device(emu):
    emu.scheme = 1
    return emu


def subrecv(line, topic):
    """The data of a +MQTTSUBRECV line on ``topic`` (its length checked), or None for another line."""
    head = b'+MQTTSUBRECV:0,"%s",' % topic
    if not line.startswith(head):
        return None
    length, data = line[len(head):].split(b",", 1)
    assert int(length) == len(data), line
    return data


@pytest.mark.parametrize("qos", [0, 1])
def test_a_burst_reaches_the_uart_while_the_mcu_publishes(device, broker, qos):
    emu = device
    configure(emu, client_id="flood-%d" % qos)
    connect(emu, broker)
    assert emu.command('AT+MQTTSUB=0,"dev/flood",%d' % qos) == [b"OK"]
    agent = broker.agent()
    agent.subscribe("dev/out")

    def burst():
        for i in range(BURST):
            agent.client.publish("dev/flood", b"%d" % i, qos)

    sender = threading.Thread(target=burst)
    sender.start()
    received = []
    published = 0
    other = []
    while len(received) < BURST:
        emu.send(b'AT+MQTTPUB=0,"dev/out","%d",%d,0\r\n' % (published, qos))
        while True:
            line = emu.line(timeout=30)
            if line == b"OK":
                published += 1
                break
            data = subrecv(line, b"dev/flood")
            if data is None:
                other.append(line)
                break
            received.append(int(data))
    sender.join(30)
    assert other == [] and received == list(range(BURST))
    assert published > 0
    for i in range(published):
        assert agent.wait_message("dev/out", 30).payload == b"%d" % i
    agent.close()


PAYLOAD = bytes(b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36] for i in range(100 * 1024))


def pieces(emu, topic, total):
    """Read +MQTTSUBRECV lines on ``topic`` until ``total`` bytes came; returns the data of each."""
    got = []
    while sum(len(d) for d in got) < total:
        line = emu.line(timeout=30)
        data = subrecv(line, topic)
        assert data is not None, line
        got.append(data)
    return got


def test_a_message_longer_than_the_buffer_comes_in_pieces(device, broker):
    emu = device
    configure(emu)
    connect(emu, broker)
    assert emu.command('AT+MQTTSUB=0,"dev/big",1') == [b"OK"]
    agent = broker.agent()
    agent.publish("dev/big", PAYLOAD, qos=1)
    got = pieces(emu, b"dev/big", len(PAYLOAD))
    assert b"".join(got) == PAYLOAD
    # esp-at: what exceeds its 1024-byte buffer (headers included) comes as several +MQTTSUBRECV
    assert len(got) > 1 and all(len(d) <= 1024 for d in got)
    agent.publish("dev/big", b"small", qos=1)
    assert emu.line(timeout=10) == b'+MQTTSUBRECV:0,"dev/big",5,small'  # the same connection goes on
    assert emu.command("AT+MQTTCONN?") == [b'+MQTTCONN:0,6,1,"127.0.0.1","%d","",0' % broker.port, b"OK"]
    agent.close()


def test_a_retained_message_longer_than_the_buffer_comes_once(device, broker):
    emu = device
    agent = broker.agent()
    agent.publish("dev/kept", PAYLOAD, qos=1, retain=True)
    configure(emu)
    connect(emu, broker, reconnect=1)
    assert emu.command('AT+MQTTSUB=0,"dev/kept",1') == [b"OK"]
    assert b"".join(pieces(emu, b"dev/kept", len(PAYLOAD))) == PAYLOAD
    agent.publish("dev/kept", b"", qos=1, retain=True)  # clears it, and is delivered as an empty message
    assert emu.line(timeout=10) == b'+MQTTSUBRECV:0,"dev/kept",0,'
    assert emu.drain(1.0) == b""  # no +MQTTDISCONNECTED, no second copy: no reconnect loop
    assert emu.command("AT+MQTTCONN?") == [b'+MQTTCONN:0,6,1,"127.0.0.1","%d","",1' % broker.port, b"OK"]
    agent.close()
