"""The MQTT brokers and the cloud simulator of brokers.py / conftest_brokers.py, each checked with real MQTT
clients (paho-mqtt, and a bare CONNECT for the exact CONNACK bytes) so that a failing MQTT test points at the
firmware, not at its broker."""
import hashlib
import hmac
import ssl

import psutil
import pytest

from brokers import CloudAgent, Refused, connect_raw
from peers import wait_for


def test_pub_sub_plain_and_tls(broker):
    plain = broker.agent("plain-client")
    secure = broker.agent("tls-client", tls=True)  # verified against the test CA, host name checked
    assert plain.subscribe("dev/down/#", qos=1) == 1
    assert secure.subscribe("dev/up/+", qos=1) == 1
    plain.publish("dev/up/1", b"\x00up\xff", qos=1)
    secure.publish("dev/down/a/b", "down", qos=0)
    up = secure.wait_message("dev/up/#", timeout=5)
    down = plain.wait_message("dev/down/#", timeout=5)
    assert (up.topic, up.payload, up.qos) == ("dev/up/1", b"\x00up\xff", 1)
    assert (down.topic, down.text, down.qos) == ("dev/down/a/b", "down", 0)
    with pytest.raises(AssertionError, match="no message"):
        plain.wait_message("dev/down/#", timeout=0.2)  # each message is returned once


def test_delivery_qos_is_the_lesser_of_published_and_granted(broker):
    """[MQTT-3.8.4-6]; amqtt alone would deliver at the granted QoS (amqtt_runner patches that)."""
    high, low = broker.agent("sub-qos1"), broker.agent("sub-qos0")
    assert high.subscribe("q/#", qos=1) == 1
    assert low.subscribe("q/#", qos=0) == 0
    publisher = broker.agent("publisher")
    publisher.publish("q/zero", "0", qos=0)
    publisher.publish("q/one", "1", qos=1)
    assert [(m.topic, m.qos) for m in (high.wait_message("q/zero", 5), high.wait_message("q/one", 5))] \
        == [("q/zero", 0), ("q/one", 1)]
    assert [(m.topic, m.qos) for m in (low.wait_message("q/zero", 5), low.wait_message("q/one", 5))] \
        == [("q/zero", 0), ("q/one", 0)]


def test_bare_connect_on_both_listeners(broker, test_ca):
    assert connect_raw(broker.port, "raw-plain") == (False, 0)
    assert connect_raw(broker.tls_port, "raw-tls", tls=broker.client_tls_context()) == (False, 0)
    # a client certificate from the test CA is accepted as well (Tencent tlsmode 2 presents one)
    assert connect_raw(broker.tls_port, "raw-cert", tls=broker.client_tls_context(client_cert=True)) == (False, 0)


def test_tls_listener_fails_a_client_trusting_another_ca(broker, test_ca):
    other = ssl.create_default_context(cafile=test_ca.other_ca.cert_pem_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        connect_raw(broker.tls_port, "untrusting", tls=other)


def test_listens_on_loopback_only(broker):
    listening = {(c.laddr.ip, c.laddr.port) for c in psutil.Process(broker.process.pid).net_connections("inet")
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {("127.0.0.1", broker.port), ("127.0.0.1", broker.tls_port)}


def test_kill_and_restart_on_the_same_port(broker):
    agent = broker.agent("survivor")
    agent.subscribe("dev/+/event")
    port, tls_port = broker.port, broker.tls_port
    broker.kill()
    assert not broker.running and broker.process.returncode == -9
    wait_for(lambda: not agent.connected.is_set(), 5, "the agent to see the connection drop")
    with pytest.raises(ConnectionRefusedError):
        connect_raw(port, "while-down")

    broker.start()
    assert (broker.port, broker.tls_port, broker.starts) == (port, tls_port, 2)
    assert connect_raw(port, "after-restart") == (False, 0)
    assert connect_raw(tls_port, "after-restart-tls", tls=broker.client_tls_context()) == (False, 0)
    agent.wait_connected(timeout=10, connects=2)  # reconnected by itself and subscribed again
    with broker.agent("device") as device:
        device.publish("dev/1/event", "back", qos=1)
    assert agent.wait_message("dev/+/event", timeout=5).text == "back"

    broker.restart()  # a clean stop this time
    assert broker.starts == 3
    agent.wait_connected(timeout=10, connects=3)


def test_stop_is_clean_and_bounded(broker):
    process = broker.process
    broker.stop()
    assert process.returncode == 0, broker.log_tail()
    broker.stop()  # again: nothing to do


# ---- the cloud simulator (amqtt's auth hook and the cloud agent) ---------------------------------


def test_auth_rule_refusals_give_connack_4_or_5(amqtt_broker):
    seen = []

    def rule(client_id, username, password):
        seen.append((client_id, username, password))
        if username != "dev&pk":
            return False  # -> CONNACK 5, not authorized
        return password == "right" or 4  # -> CONNACK 4, bad user name or password

    amqtt_broker.rule = rule
    assert connect_raw(amqtt_broker.port, "d1", "someone", "x") == (False, 5)
    assert connect_raw(amqtt_broker.port, "d1", "dev&pk", "wrong") == (False, 4)
    assert connect_raw(amqtt_broker.tls_port, "d1", "dev&pk", "wrong", tls=amqtt_broker.client_tls_context()) \
        == (False, 4)
    assert connect_raw(amqtt_broker.port, "d1", "dev&pk", "right") == (False, 0)
    # the same with paho, a real client
    with pytest.raises(Refused) as refused:
        amqtt_broker.agent("d2", username="someone", password="x")
    assert refused.value.code == 5
    with pytest.raises(Refused) as refused:
        amqtt_broker.agent("d2", username="dev&pk", password="wrong", tls=True)
    assert refused.value.code == 4
    assert amqtt_broker.agent("d2", username="dev&pk", password="right", tls=True).connected.is_set()

    attempts = amqtt_broker.wait_attempts(7)
    assert [(a.client_id, a.code, a.tls) for a in attempts] == [
        ("d1", 5, False), ("d1", 4, False), ("d1", 4, True), ("d1", 0, False),
        ("d2", 5, False), ("d2", 4, True), ("d2", 0, True)]
    assert seen[0] == ("d1", "someone", "x")
    assert attempts[3].accepted and attempts[3].keep_alive == 60 and attempts[3].clean_session
    assert len(attempts) == 7  # a refused paho client does not retry on its own; agents are not counted


def test_auth_rule_may_see_the_attempt(amqtt_broker):
    def rule(client_id, username, password, attempt):
        return attempt.tls and attempt.client_cert_cn == "upy-at-client"

    amqtt_broker.set_rule(rule)
    assert connect_raw(amqtt_broker.port, "c", "u", "p") == (False, 5)
    assert connect_raw(amqtt_broker.tls_port, "c", "u", "p", tls=amqtt_broker.client_tls_context()) == (False, 5)
    assert connect_raw(amqtt_broker.tls_port, "c", "u", "p",
                       tls=amqtt_broker.client_tls_context(client_cert=True)) == (False, 0)
    assert [a.client_cert_cn for a in amqtt_broker.wait_attempts(3)] == [None, None, "upy-at-client"]


def test_auth_rule_that_raises_refuses_and_is_reported(amqtt_broker):
    amqtt_broker.rule = lambda client_id, username, password: 1 / 0
    assert connect_raw(amqtt_broker.port, "boom") == (False, 5)
    assert "ZeroDivisionError" in amqtt_broker.rule_errors[0]
    amqtt_broker.rule_errors.clear()  # else the fixture fails the test at teardown


def test_auth_rule_survives_a_restart(amqtt_broker):
    amqtt_broker.rule = lambda client_id, username, password: password == "s3cret"
    amqtt_broker.kill()
    amqtt_broker.start()
    assert connect_raw(amqtt_broker.port, "d", "u", "nope") == (False, 5)
    assert connect_raw(amqtt_broker.port, "d", "u", "s3cret") == (False, 0)


def test_mosquitto_has_no_auth_rule(mosquitto_broker):
    assert not mosquitto_broker.supports_auth_rule
    with pytest.raises(NotImplementedError):
        mosquitto_broker.set_rule(lambda client_id, username, password: False)


def test_cloud_agent_answers_a_device_request(amqtt_broker, cloud_agent):
    secret = b"device-secret"

    def signed(client_id, username, password):  # a stand-in for a vendor's rule
        expected = hmac.new(secret, client_id.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(password or "", expected)

    amqtt_broker.rule = signed
    cloud_agent.on("/sys/pk/dev1/thing/+/request",
                   lambda topic, payload: [(topic.replace("request", "response"), {"id": 7, "code": 200})])
    password = hmac.new(secret, b"pk.dev1", hashlib.sha256).hexdigest()
    with CloudAgent(amqtt_broker.host, amqtt_broker.tls_port, client_id="pk.dev1", username="dev1&pk",
                    password=password, tls=amqtt_broker.client_tls_context()) as device:
        device.subscribe("/sys/pk/dev1/thing/+/response")
        device.publish("/sys/pk/dev1/thing/ota/request", '{"id":7}', qos=1)
        request = cloud_agent.wait_message("/sys/pk/dev1/#", timeout=5)
        reply = device.wait_message("/sys/pk/dev1/thing/ota/response", timeout=5)
    assert (request.topic, request.json()) == ("/sys/pk/dev1/thing/ota/request", {"id": 7})
    assert reply.json() == {"id": 7, "code": 200}
    assert [(a.client_id, a.accepted) for a in amqtt_broker.attempts] == [("pk.dev1", True)]
    # the agent can also push unprompted, e.g. a property set
    with CloudAgent(amqtt_broker.host, amqtt_broker.port, client_id="pk.dev1", username="dev1&pk",
                    password=password) as device:
        device.subscribe("/sys/pk/dev1/thing/service/property/set")
        cloud_agent.publish("/sys/pk/dev1/thing/service/property/set", {"params": {"Power": 1}}, qos=1)
        assert device.wait_message(timeout=5).json() == {"params": {"Power": 1}}


def test_cloud_agent_handler_errors_surface_at_close(amqtt_broker):
    agent = amqtt_broker.agent("fragile")
    agent.on("req", lambda topic, payload: [("resp", payload.decode() + 1)])
    amqtt_broker.agent("device").publish("req", b"x", qos=1)
    agent.wait_message("req", timeout=5)
    with pytest.raises(AssertionError, match="TypeError"):
        agent.close()
