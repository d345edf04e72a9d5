"""Runs one amqtt broker for host_tests/brokers.py (``AmqttBroker``) in a process of its own.

Usage: ``python host_tests/amqtt_runner.py SETTINGS.json``, where the JSON (written by ``AmqttBroker``) holds
``plain_port``, ``tls_port``, ``certfile``, ``keyfile``, ``cafile``, ``auth_port`` and ``plugins`` (extra amqtt
plugins, dotted path -> config). The broker listens on 127.0.0.1 only: a plain listener and a TLS listener
(client certificates optional, verified against ``cafile`` when presented). SIGTERM or SIGINT shuts it down
cleanly; SIGKILL is how tests simulate a crash.

``RuleAuthPlugin`` is the cloud simulator's auth hook: amqtt loads it from the ``plugins`` section of its config
(``amqtt.plugins.manager.PluginManager._load_str_plugins``: a dotted path to a ``BaseAuthPlugin`` subclass, its
settings checked against the inner ``Config`` dataclass) and awaits ``authenticate(session=...)`` for every
CONNECT. The plugin sends the CONNECT's fields as one JSON line to the test process (``auth_port`` on
127.0.0.1), which applies the rule the test set and answers ``{"code": n}``: 0 accepts, 1..5 is the CONNACK
return code of the refusal. amqtt itself always refuses with 5 (NOT_AUTHORIZED); the small patch below lets the
rule choose 4 (bad user name or password) or any other code. A second patch makes amqtt deliver each message
at min(published QoS, granted QoS), as MQTT 3.1.1 requires (see ``_Broadcast``).
"""
import asyncio
import contextvars
import json
import logging
import signal
import sys
from dataclasses import dataclass

from amqtt.broker import Broker
from amqtt.mqtt.connack import ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin

LOOPBACK = "127.0.0.1"
CODE_ATTRIBUTE = "upy_at_connack_code"
SHUTDOWN_TIMEOUT = 1.0  # seconds for amqtt's own shutdown before the process just exits
REFUSED = 5  # CONNACK "not authorized": the answer when the test process cannot be asked

logger = logging.getLogger("amqtt_runner")


class RuleAuthPlugin(BaseAuthPlugin):
    """Asks the test process (``auth_port``) whether to accept each CONNECT; see the module's docstring."""

    @dataclass
    class Config:
        auth_port: int = 0
        timeout: float = 10.0

    async def authenticate(self, *, session):
        request = {
            "client_id": session.client_id,
            "username": session.username,
            "password": session.password,
            "keep_alive": session.keep_alive,
            "clean_session": session.clean_session,
            "tls": session.ssl_object is not None,
            "client_cert_cn": _peer_common_name(session.ssl_object),
            "remote_port": session.remote_port,
        }
        code = REFUSED
        try:
            code = await asyncio.wait_for(self._ask(request), self.config.timeout)
        except (OSError, asyncio.TimeoutError, ValueError, KeyError, TypeError) as e:
            logger.error("auth hook: no answer from the test process (%r); refusing %s", e, session.client_id)
        session.attributes[CODE_ATTRIBUTE] = code
        logger.info("auth hook: %s -> CONNACK %d", session.client_id, code)
        return code == 0

    async def _ask(self, request):
        reader, writer = await asyncio.open_connection(LOOPBACK, self.config.auth_port)
        try:
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            code = int(json.loads(await reader.readline())["code"])
        finally:
            writer.close()
        if not 0 <= code <= 5:
            raise ValueError("CONNACK code out of range: %r" % code)
        return code


def _peer_common_name(ssl_object):
    """The CN of a verified client certificate, or None (plain TCP, or no certificate presented)."""
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert() or {}
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


_connack_authorize = BrokerProtocolHandler.mqtt_connack_authorize


async def _connack_with_code(self, authorize):
    """amqtt's CONNACK, but a refusal carries the code the rule chose (amqtt alone always sends 5)."""
    code = self.session.attributes.get(CODE_ATTRIBUTE) if self.session is not None else None
    if authorize or not code:
        return await _connack_authorize(self, authorize)
    return await self._send_packet(ConnackPacket.build(self.session.parent, code))


BrokerProtocolHandler.mqtt_connack_authorize = _connack_with_code


# amqtt 0.12.1 delivers every message at the subscription's QoS, so a QoS 0 PUBLISH reaches a QoS 1 subscriber
# as QoS 1; MQTT 3.1.1 [MQTT-3.8.4-6] says the minimum of the two, as mosquitto and the clouds do. The published
# QoS is noted while amqtt handles the PUBLISH and carried by the broadcast to where it picks the QoS.
_published_qos = contextvars.ContextVar("published_qos", default=None)
_handle_message_delivery = Broker._handle_message_delivery


class _Broadcast(dict):
    """amqtt's broadcast record, whose ``get("qos", granted)`` is min(published QoS, granted QoS)."""

    published_qos = None

    def get(self, key, default=None):
        if key == "qos" and key not in self and self.published_qos is not None and default is not None:
            return min(self.published_qos, default)
        return super().get(key, default)


async def _handle_message_delivery_noting_qos(self, client_session, handler, wait_deliver):
    token = _published_qos.set(getattr(wait_deliver.result(), "qos", None))
    try:
        return await _handle_message_delivery(self, client_session, handler, wait_deliver)
    finally:
        _published_qos.reset(token)


async def _broadcast_message_min_qos(self, session, topic, data, force_qos=None):
    broadcast = _Broadcast(session=session, topic=topic, data=data)
    broadcast.published_qos = _published_qos.get()
    if force_qos is not None:
        broadcast["qos"] = force_qos
    await self._broadcast_queue.put(broadcast)


Broker._handle_message_delivery = _handle_message_delivery_noting_qos
Broker._broadcast_message = _broadcast_message_min_qos


def broker_config(settings):
    # __name__: "__main__" when run as a script, so amqtt finds this very module and does not import it again
    plugins = {__name__ + ".RuleAuthPlugin": {"auth_port": settings["auth_port"]}}
    plugins.update(settings.get("plugins") or {})
    return {
        "listeners": {
            "default": {"type": "tcp", "bind": "%s:%d" % (LOOPBACK, settings["plain_port"])},
            "tls": {"type": "tcp", "bind": "%s:%d" % (LOOPBACK, settings["tls_port"]), "ssl": True,
                    "certfile": settings["certfile"], "keyfile": settings["keyfile"],
                    "cafile": settings["cafile"]},
        },
        "plugins": plugins,
    }


def main(path):
    with open(path) as f:
        settings = json.load(f)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(name)s %(levelname)s %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    broker = Broker(broker_config(settings), loop=loop)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    async def run():
        await broker.start()
        print("amqtt_runner: listening on %d and %d (TLS)" % (settings["plain_port"], settings["tls_port"]),
              flush=True)
        await stopping.wait()
        try:
            await asyncio.wait_for(broker.shutdown(), SHUTDOWN_TIMEOUT)
        except asyncio.TimeoutError:
            # amqtt 0.12.1 now and then never finishes stopping a session's handler (its reader task misses
            # the cancellation); exiting closes the remaining connections all the same
            logger.warning("amqtt shutdown stalled for %ss; exiting anyway", SHUTDOWN_TIMEOUT)

    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


if __name__ == "__main__":
    main(sys.argv[1])
