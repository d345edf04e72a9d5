"""Pytest fixtures for the MQTT brokers and the cloud agent of brokers.py (imported by conftest.py). Each
broker fixture starts a fresh broker process for the test (a fraction of a second) and stops it after, so a
test may kill, stop and restart it at will."""
import pytest

import brokers

__all__ = ["amqtt_broker", "mosquitto_broker", "broker", "cloud_agent"]


def _run(broker):
    try:
        yield broker.start()
    finally:
        broker.close()
    errors = getattr(broker, "rule_errors", None)
    if errors:
        pytest.fail("the auth rule raised:\n" + errors[0], pytrace=False)


@pytest.fixture
def amqtt_broker(test_ca, tmp_path):
    """``brokers.AmqttBroker``: amqtt with the cloud simulator's auth hook; set ``amqtt_broker.rule`` to
    ``rule(client_id, username, password) -> bool or CONNACK code`` (default: accept all)."""
    yield from _run(brokers.AmqttBroker(test_ca, str(tmp_path)))


@pytest.fixture
def mosquitto_broker(test_ca, tmp_path):
    """``brokers.MosquittoBroker``; the test is skipped when mosquitto is not installed."""
    if brokers.MosquittoBroker.find() is None:
        pytest.skip("mosquitto is not installed")
    yield from _run(brokers.MosquittoBroker(test_ca, str(tmp_path)))


@pytest.fixture(params=sorted(brokers.BROKERS))
def broker(request):
    """Each broker in turn: ``amqtt_broker``, then ``mosquitto_broker`` (skipped when not installed)."""
    return request.getfixturevalue(request.param + "_broker")


@pytest.fixture
def cloud_agent(amqtt_broker):
    """A started ``brokers.CloudAgent`` on ``amqtt_broker``'s plain port, logged in past the auth rule."""
    agent = amqtt_broker.agent()
    yield agent
    agent.close()
