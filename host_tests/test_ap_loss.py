"""Losing the AP breaks what it breaks on the chip: when the joined AP vanishes (the control channel's
ap_remove), the station's address goes and the host board's sockets with it, as lwIP aborts the connections
of an address that goes away. Links end with CLOSED, MQTT reports +MQTTDISCONNECTED and publishes fail;
when the AP comes back, the normal rejoin and reconnect paths bring them back. Under both interpreters,
against real peers on loopback."""
import time

SSID, PASSWORD, BSSID = "upy-at-emu", "emulator1", "02:00:00:00:00:01"


def lose_ap(emu):
    assert emu.control(op="ap_remove", ssid=SSID) == {"ok": True}


def restore_ap(emu):
    assert emu.control(op="ap_add", ssid=SSID, password=PASSWORD, bssid=BSSID, channel=6, rssi=-50) == {"ok": True}


def test_losing_the_ap_closes_a_tcp_link_and_the_rejoin_opens_new_ones(emu, tcp_echo):
    emu.online()
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == [b"CONNECT", b"OK"]
    emu.send(b"AT+CIPSEND=4\r\n")
    emu.read_until(b">", 5)
    emu.send(b"ping")
    emu.read_until(b"+IPD,4:ping", 10)
    lose_ap(emu)
    assert emu.line(timeout=10) == b"WIFI DISCONNECT"
    assert emu.line(timeout=10) == b"CLOSED"
    assert emu.command("AT+CIPSTATUS") == [b"STATUS:5", b"OK"]
    assert emu.command("AT+CIPSEND=4") == [b"ERROR"]  # no link to send on
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == [b"ERROR"]  # no network
    restore_ap(emu)  # the station rejoins by itself (it retries every second)
    assert emu.line(timeout=15) == b"WIFI CONNECTED"
    assert emu.line(timeout=10) == b"WIFI GOT IP"
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port) == [b"CONNECT", b"OK"]
    emu.send(b"AT+CIPSEND=4\r\n")
    emu.read_until(b">", 5)
    emu.send(b"pong")
    emu.read_until(b"+IPD,4:pong", 10)
    assert tcp_echo.connections == 2


def test_losing_the_ap_disconnects_mqtt_and_the_rejoin_reconnects(emu, mosquitto_broker):
    broker = mosquitto_broker
    agent = broker.agent()
    agent.subscribe("dev/out")
    emu.online()
    assert emu.command('AT+MQTTUSERCFG=0,1,"dev-ap","","",0,0,""') == [b"OK"]
    assert emu.command('AT+MQTTCONN=0,"127.0.0.1",%d,1' % broker.port, timeout=20) == [
        b'+MQTTCONNECTED:0,1,"127.0.0.1","%d","",1' % broker.port, b"OK"]
    assert emu.command('AT+MQTTSUB=0,"dev/in",1') == [b"OK"]
    assert emu.command('AT+MQTTPUB=0,"dev/out","before",1,0') == [b"OK"]
    assert agent.wait_message("dev/out", 10).payload == b"before"
    lose_ap(emu)
    lines = [emu.line(timeout=10), emu.line(timeout=10)]
    assert sorted(lines) == [b"+MQTTDISCONNECTED:0", b"WIFI DISCONNECT"]
    assert emu.command('AT+MQTTPUB=0,"dev/out","while away",1,0', timeout=20) == [b"ERROR"]
    time.sleep(3)  # the reconnects with backoff meanwhile fail: no network
    assert emu.command('AT+MQTTPUB=0,"dev/out","while away",0,0', timeout=20) == [b"ERROR"]
    restore_ap(emu)
    seen = []
    while b"+MQTTCONNECTED:0,1,\"127.0.0.1\",\"%d\",\"\",1" % broker.port not in seen:
        seen.append(emu.line(timeout=90))  # the backoff may be at 64 s
    assert b"WIFI GOT IP" in seen
    assert emu.command('AT+MQTTPUB=0,"dev/out","after",1,0') == [b"OK"]
    assert agent.wait_message("dev/out", 10).payload == b"after"
    agent.publish("dev/in", b"welcome back", qos=1)  # the subscription was restored
    assert emu.line(timeout=10) == b'+MQTTSUBRECV:0,"dev/in",12,welcome back'
    assert [m.payload for m in agent.received("dev/out")] == [b"before", b"after"]  # nothing while away
    agent.close()
