"""Real MQTT brokers for the MQTT and cloud tests, on loopback, started and stopped by the tests themselves.

Each broker is a separate process bound to 127.0.0.1 on two free ports chosen when the object is made: ``port``
(plain MQTT) and ``tls_port`` (TLS with the test CA's ``server`` certificate, "localhost"/127.0.0.1; client
certificates optional, verified against the test CA when presented). ``start()`` waits until both ports accept;
``stop()`` ends the process cleanly (SIGTERM, then SIGKILL after a bounded wait), ``kill()`` ends it at once
(SIGKILL, a crash as the device sees it), and ``start()`` again brings it back on the SAME ports, so a test can
take the broker away mid-session and give it back. host_tests/conftest_brokers.py wraps them as fixtures.

- ``AmqttBroker``: amqtt from PyPI, run by host_tests/amqtt_runner.py. It is the cloud simulator's broker: an
  auth plugin asks this process about every CONNECT, and the test's ``rule(client_id, username, password)``
  decides (default: accept all). True accepts; False refuses with CONNACK 5 (not authorized); an int 1..5
  refuses with that CONNACK code (4: bad user name or password). Each vendor's signature rule lands with its issue.
- ``MosquittoBroker``: /usr/sbin/mosquitto (or mosquitto on PATH) with a generated config; anonymous, no rule.
- ``CloudAgent``: an MQTT client (paho-mqtt) in the test process that subscribes, records what arrives, answers
  requests through handlers (``agent.on(topic_filter, handler)``) and waits with bounded timeouts.
- ``connect_raw``: one CONNECT over a bare socket, returning the CONNACK (session present, return code).
"""
import inspect
import json
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

import paho.mqtt.client as paho
from paho.mqtt.client import topic_matches_sub

from peers import LOOPBACK, POLL, free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
AMQTT_RUNNER = os.path.join(HERE, "amqtt_runner.py")
START_TIMEOUT = 15  # seconds for a broker process to accept on both ports
STOP_TIMEOUT = 5  # seconds for a clean exit before SIGKILL

# CONNACK return codes of MQTT 3.1.1 (§3.2.2.3)
ACCEPTED, BAD_PROTOCOL, ID_REJECTED, SERVER_UNAVAILABLE, BAD_CREDENTIALS, NOT_AUTHORIZED = range(6)
# paho 2 reports a 3.1.1 CONNACK code as an MQTT 5 ReasonCode; these are the names it gives each code
_CONNACK_NAMES = {"Success": 0, "Unsupported protocol version": 1, "Client identifier not valid": 2,
                  "Server unavailable": 3, "Bad user name or password": 4, "Not authorized": 5}


def accept_all(client_id, username, password):
    """The default auth rule: every CONNECT is accepted."""
    return True


# ---- bare CONNECT --------------------------------------------------------------------------------


def _mqtt_string(value):
    data = value.encode() if isinstance(value, str) else bytes(value)
    return struct.pack("!H", len(data)) + data


def remaining_length(n):
    """MQTT's variable-length encoding of a remaining length."""
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_raw(port, client_id, username=None, password=None, keep_alive=60, clean_session=True, tls=None,
                host=LOOPBACK, timeout=5):
    """Send one MQTT 3.1.1 CONNECT over a fresh socket (TLS if given an ``ssl`` client context) and return the
    CONNACK as ``(session_present, return_code)``; None if the broker closed without one. Closes the socket."""
    flags = (0x02 if clean_session else 0) | (0x80 if username is not None else 0) \
        | (0x40 if password is not None else 0)
    body = _mqtt_string("MQTT") + bytes([4, flags]) + struct.pack("!H", keep_alive) + _mqtt_string(client_id)
    if username is not None:
        body += _mqtt_string(username)
    if password is not None:
        body += _mqtt_string(password)
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
        sock.sendall(b"\x10" + remaining_length(len(body)) + body)
        reply = b""
        while len(reply) < 4:
            chunk = sock.recv(4 - len(reply))
            if not chunk:
                return None
            reply += chunk
    finally:
        sock.close()
    if reply[:2] != b"\x20\x02":
        raise AssertionError("not a CONNACK: %r" % reply)
    return bool(reply[2] & 1), reply[3]


# ---- brokers -------------------------------------------------------------------------------------


class BrokerError(RuntimeError):
    pass


class BrokerProcess:
    """What both brokers share; see the module's docstring. Attributes: ``kind`` ("amqtt"/"mosquitto"),
    ``host`` (127.0.0.1), ``port``, ``tls_port``, ``ca_file`` (the test CA in PEM, to verify ``tls_port``),
    ``pki`` (the ``peers.Pki``), ``log_path`` (the process's output, appended over restarts), ``starts`` (how
    many times it was started), ``process`` (the current ``subprocess.Popen`` or None)."""

    kind = None
    supports_auth_rule = False

    def __init__(self, pki, directory):
        self.pki, self.dir = pki, directory
        self.host = LOOPBACK
        self.port, self.tls_port = free_port(), free_port()
        self.ca_file = pki.ca.cert_pem_path
        self.log_path = os.path.join(directory, "%s.log" % self.kind)
        self.process = None
        self.starts = 0
        self._agents = []

    # ---- to override ----
    def _command(self):
        raise NotImplementedError

    # ---- life ----
    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def start(self, timeout=START_TIMEOUT):
        """Start the broker process on ``port``/``tls_port`` and wait until both accept; returns self."""
        if self.running:
            raise BrokerError("%s broker already running (pid %d)" % (self.kind, self.process.pid))
        with open(self.log_path, "ab") as log:
            log.write(b"---- start %d ----\n" % (self.starts + 1))
            log.flush()
            self.process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
        self.starts += 1
        deadline = time.monotonic() + timeout
        pending = [self.port, self.tls_port]
        while pending:
            if self.process.poll() is not None:
                raise BrokerError("%s broker exited with %s while starting:\n%s"
                                  % (self.kind, self.process.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise BrokerError("%s broker not accepting on %s after %ss:\n%s"
                                  % (self.kind, pending, timeout, self.log_tail()))
            try:
                socket.create_connection((self.host, pending[0]), timeout=1).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.02)
        self._wait_serving(deadline)
        return self

    def _wait_serving(self, deadline):
        """Wait until the broker's main loop runs (a listening port alone does not say so)."""

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop cleanly: SIGTERM, then SIGKILL if it has not exited after ``timeout`` seconds."""
        self._end(signal.SIGTERM, timeout)

    def kill(self, timeout=STOP_TIMEOUT):
        """SIGKILL at once, as a crash or a power cut: clients see their connections drop without DISCONNECT."""
        self._end(signal.SIGKILL, timeout)

    def restart(self, kill=False):
        """``kill()`` (or ``stop()``) then ``start()`` on the same ports."""
        (self.kill if kill else self.stop)()
        return self.start()

    def _end(self, signum, timeout):
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            process.send_signal(signum)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def close(self):
        """Close every agent made by ``agent()`` and stop the broker (what the fixtures do at teardown)."""
        for agent in self._agents:
            agent.close(check=False)
        self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- helpers for tests ----
    def client_tls_context(self, client_cert=False):
        """A CPython client context trusting only the test CA (host names checked), optionally presenting the
        test CA's ``client`` certificate (CN "upy-at-client")."""
        return self.pki.client_context(client_cert=client_cert)

    def agent(self, client_id="cloud-agent", tls=False, start=True, **kwargs):
        """A ``CloudAgent`` on this broker (``tls_port`` if ``tls``), started unless ``start=False``; it is
        closed by ``close()``. On amqtt it logs in with credentials its auth hook always accepts."""
        kwargs.setdefault("username", self.agent_username)
        kwargs.setdefault("password", self.agent_password)
        agent = CloudAgent(self.host, self.tls_port if tls else self.port, client_id=client_id,
                           tls=self.client_tls_context() if tls else None, **kwargs)
        self._agents.append(agent)
        return agent.start() if start else agent

    agent_username = agent_password = None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log().splitlines()[-lines:])

    def __repr__(self):
        return "<%s %s:%d tls:%d %s>" % (type(self).__name__, self.host, self.port, self.tls_port,
                                         "running" if self.running else "stopped")


class ConnectAttempt:
    """One CONNECT the amqtt auth hook saw: ``client_id``, ``username``, ``password`` (str or None),
    ``keep_alive``, ``clean_session``, ``tls`` (came in on ``tls_port``), ``client_cert_cn`` (CN of a verified
    client certificate, else None), ``code`` (the CONNACK return code sent: 0 accepted) and ``accepted``."""

    def __init__(self, request):
        self.client_id = request.get("client_id")
        self.username = request.get("username")
        self.password = request.get("password")
        self.keep_alive = request.get("keep_alive")
        self.clean_session = request.get("clean_session")
        self.tls = bool(request.get("tls"))
        self.client_cert_cn = request.get("client_cert_cn")
        self.code = None

    @property
    def accepted(self):
        return self.code == ACCEPTED

    def __repr__(self):
        return "ConnectAttempt(%r, %r, tls=%s, code=%s)" % (self.client_id, self.username, self.tls, self.code)


class AmqttBroker(BrokerProcess):
    """amqtt in its own process (host_tests/amqtt_runner.py) with the cloud simulator's auth hook.

    ``rule`` (settable attribute, or ``set_rule(rule)``, which returns the previous one): called as
    ``rule(client_id, username, password)`` for every CONNECT except the agents' (``agent_username`` /
    ``agent_password``, always accepted); a rule that has a parameter named ``attempt`` also gets the
    ``ConnectAttempt`` (TLS or not, client certificate CN, keep-alive). It returns True (accept), False (refuse,
    CONNACK 5) or an int (0 accepts, 1..5 refuses with that code). It runs in a thread of the test process, so
    it may look at test state; if it raises, the CONNECT is refused with 5 and the fixture fails the test at
    teardown with the traceback (``rule_errors``). ``attempts`` lists every ``ConnectAttempt`` in order.
    ``plugins``: extra amqtt plugins, {dotted path: config}, importable from host_tests/ in the broker process.
    """

    kind = "amqtt"
    supports_auth_rule = True

    def __init__(self, pki, directory, plugins=None):
        super().__init__(pki, directory)
        self.rule = accept_all
        self.attempts = []
        self.rule_errors = []
        self.agent_username = "cloud-agent"
        self.agent_password = secrets.token_hex(12)
        self.plugins = dict(plugins or {})
        self._auth = _AuthServer(self._decide)
        self.settings_path = os.path.join(directory, "amqtt-settings.json")

    def set_rule(self, rule):
        previous, self.rule = self.rule, rule
        return previous

    def _command(self):
        settings = {"plain_port": self.port, "tls_port": self.tls_port, "auth_port": self._auth.port,
                    "certfile": self.pki.server.cert_pem_path, "keyfile": self.pki.server.key_pem_path,
                    "cafile": self.ca_file, "plugins": self.plugins}
        with open(self.settings_path, "w") as f:
            json.dump(settings, f, indent=1)
        return [sys.executable, AMQTT_RUNNER, self.settings_path]

    def start(self, timeout=START_TIMEOUT):
        self._auth.start()
        return super().start(timeout)

    def close(self):
        super().close()
        self._auth.stop()

    def wait_attempts(self, count, timeout=10):
        """Wait until the hook has seen at least ``count`` CONNECTs (agents' not counted); returns ``attempts``."""
        wait_for(lambda: len(self.attempts) >= count and all(a.code is not None for a in self.attempts),
                 timeout, lambda: "%d CONNECTs at the auth hook (have %r)" % (count, self.attempts))
        return self.attempts

    def _decide(self, request):
        if request.get("username") == self.agent_username and request.get("password") == self.agent_password:
            return ACCEPTED
        attempt = ConnectAttempt(request)
        self.attempts.append(attempt)
        rule = self.rule
        try:
            if "attempt" in _parameters(rule):
                result = rule(attempt.client_id, attempt.username, attempt.password, attempt=attempt)
            else:
                result = rule(attempt.client_id, attempt.username, attempt.password)
            attempt.code = _connack_code(result)
        except Exception:
            self.rule_errors.append(traceback.format_exc())
            attempt.code = NOT_AUTHORIZED
        return attempt.code


def _parameters(function):
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


def _connack_code(result):
    if isinstance(result, bool) or result is None:
        return ACCEPTED if result else NOT_AUTHORIZED
    if isinstance(result, int) and 0 <= result <= 5:
        return result
    raise TypeError("an auth rule returns True, False or a CONNACK code 0..5, not %r" % (result,))


class _AuthServer:
    """Answers the amqtt auth hook (one JSON line in, ``{"code": n}`` out) on 127.0.0.1, in daemon threads."""

    def __init__(self, decide):
        self.decide = decide
        self._stop = threading.Event()
        self._thread = None
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(16)
        self._listener.settimeout(POLL)
        self.port = self._listener.getsockname()[1]

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._accept_loop, daemon=True)
            self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._listener.close()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except (socket.timeout, OSError):
                continue
            threading.Thread(target=self._answer, args=(sock,), daemon=True).start()

    def _answer(self, sock):
        with sock:
            sock.settimeout(10)
            data = b""
            try:
                while not data.endswith(b"\n"):
                    chunk = sock.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                code = self.decide(json.loads(data))
                sock.sendall(json.dumps({"code": code}).encode() + b"\n")
            except (OSError, ValueError):
                pass


class MosquittoBroker(BrokerProcess):
    """mosquitto (``binary``) with a generated config: anonymous access, no persistence, the plain and the TLS
    listener on 127.0.0.1 only. No auth rule: ``set_rule`` raises (the cloud simulator is ``AmqttBroker``)."""

    kind = "mosquitto"
    CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")

    def __init__(self, pki, directory):
        super().__init__(pki, directory)
        self.binary = self.find()
        if self.binary is None:
            raise BrokerError("mosquitto is not installed")
        self.config_path = os.path.join(directory, "mosquitto.conf")

    @classmethod
    def find(cls):
        """The mosquitto binary's path, or None when it is not installed."""
        found = shutil.which("mosquitto")
        if found:
            return found
        return next((path for path in cls.CANDIDATES if os.access(path, os.X_OK)), None)

    def set_rule(self, rule):
        raise NotImplementedError("mosquitto has no auth hook here; the cloud simulator is AmqttBroker")

    def _wait_serving(self, deadline):
        """mosquitto listens before it installs its SIGTERM handler: a stop() that comes in between kills it
        (-15, not a clean exit). Its main loop, which answers CONNECT, starts after the handler is in."""
        while True:
            try:
                if connect_raw(self.port, "probe-%s" % secrets.token_hex(4), timeout=1) == (False, ACCEPTED):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise BrokerError("mosquitto accepts but answers no CONNECT:\n%s" % self.log_tail())
            time.sleep(0.02)

    def _command(self):
        lines = ["per_listener_settings false", "allow_anonymous true", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning", "log_type notice",
                 "log_type information", "connection_messages true"]
        if os.geteuid() == 0:  # as root, mosquitto would switch to user "mosquitto", who cannot read the keys
            import pwd
            lines.append("user %s" % pwd.getpwuid(0).pw_name)
        lines += ["listener %d %s" % (self.port, self.host),
                  "listener %d %s" % (self.tls_port, self.host),
                  "cafile %s" % self.ca_file,
                  "certfile %s" % self.pki.server.cert_pem_path,
                  "keyfile %s" % self.pki.server.key_pem_path,
                  "require_certificate false"]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return [self.binary, "-c", self.config_path]


BROKERS = {"amqtt": AmqttBroker, "mosquitto": MosquittoBroker}


# ---- the cloud agent -----------------------------------------------------------------------------


class Refused(ConnectionError):
    """The broker refused a ``CloudAgent``'s CONNECT; ``code`` is the CONNACK return code (4, 5, ...)."""

    def __init__(self, code):
        super().__init__("CONNACK return code %s" % code)
        self.code = code


class Message:
    """One PUBLISH a ``CloudAgent`` received: ``topic`` (str), ``payload`` (bytes), ``qos``, ``retain``,
    ``time`` (time.monotonic() at arrival). ``text`` and ``json()`` decode the payload."""

    def __init__(self, topic, payload, qos, retain):
        self.topic, self.payload, self.qos, self.retain = topic, bytes(payload), qos, retain
        self.time = time.monotonic()

    @property
    def text(self):
        return self.payload.decode()

    def json(self):
        return json.loads(self.payload)

    def __repr__(self):
        return "Message(%r, %r, qos=%d)" % (self.topic, self.payload, self.qos)


class CloudAgent:
    """The cloud's side of a device conversation: an MQTT 3.1.1 client (paho-mqtt) in the test process.

    ``start()`` connects and waits for the CONNACK (``Refused`` with its code if refused). ``subscribe(filter)``
    waits for the SUBACK. ``on(filter, handler)`` subscribes and calls ``handler(topic, payload)`` (str, bytes)
    for each matching PUBLISH, in paho's network thread; the handler returns None or a list of
    ``(topic, payload)`` or ``(topic, payload, qos)`` that the agent publishes at once (payload: bytes, str, or a
    dict/list sent as JSON). ``messages`` lists every ``Message`` received, in order; ``wait_message(filter,
    timeout)`` returns the first matching one that no earlier ``wait_message`` returned. Handler exceptions are
    kept in ``errors`` and raised by ``close()``. After the broker goes away the agent reconnects by itself and
    subscribes again (``connects`` counts CONNACKs, ``connected`` is an Event)."""

    def __init__(self, host, port, client_id="cloud-agent", username=None, password=None, tls=None,
                 keep_alive=30, clean_session=True):
        self.host, self.port, self.client_id = host, port, client_id
        self.keep_alive = keep_alive
        self.messages = []
        self.errors = []
        self.connects = 0
        self.connected = threading.Event()
        self._taken = set()  # indexes in messages returned by wait_message
        self._cond = threading.Condition()
        self._filters = {}  # filter -> qos, subscribed again on each reconnect
        self._handlers = []  # (filter, handler)
        self._subacks = {}  # mid -> granted codes (list), filled by on_subscribe
        self._connack = None
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=clean_session, protocol=paho.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.reconnect_delay_set(min_delay=0.2, max_delay=1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._started = False

    # ---- life ----
    def start(self, timeout=10):
        self.client.connect(self.host, self.port, self.keep_alive)
        self.client.loop_start()
        self._started = True
        with self._cond:
            if not self._cond.wait_for(lambda: self._connack is not None, timeout):
                raise AssertionError("no CONNACK for %s in %ss" % (self.client_id, timeout))
        if self._connack != ACCEPTED:
            self.close(check=False)
            raise Refused(self._connack)
        return self

    def close(self, check=True):
        """Disconnect and stop the network thread; with ``check``, raise the first handler error if any."""
        if self._started:
            self._started = False
            self.client.disconnect()
            self.client.loop_stop()
        if check and self.errors:
            raise AssertionError("CloudAgent handler failed:\n" + self.errors[0])

    def __enter__(self):
        return self if self._started else self.start()

    def __exit__(self, *exc):
        self.close(check=exc[0] is None)

    def wait_connected(self, timeout=10, connects=None):
        """Wait until connected (and, given ``connects``, until that many CONNACKs were accepted in all)."""
        wait_for(lambda: self.connected.is_set() and (connects is None or self.connects >= connects), timeout,
                 lambda: "%s connected (connects=%d)" % (self.client_id, self.connects))

    # ---- MQTT ----
    def subscribe(self, topic_filter, qos=1, timeout=10):
        """Subscribe and wait for the SUBACK; returns the granted QoS (AssertionError if refused)."""
        self._filters[topic_filter] = qos
        result, mid = self.client.subscribe(topic_filter, qos)
        if result != paho.MQTT_ERR_SUCCESS:
            raise AssertionError("subscribe %r: %s" % (topic_filter, paho.error_string(result)))
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._subacks, timeout):
                raise AssertionError("no SUBACK for %r in %ss" % (topic_filter, timeout))
            granted = self._subacks.pop(mid)[0]
        if granted >= 0x80:
            raise AssertionError("subscription to %r refused" % topic_filter)
        return granted

    def on(self, topic_filter, handler, qos=1):
        """Answer PUBLISHes matching ``topic_filter`` with ``handler(topic, payload)`` (see the class)."""
        self._handlers.append((topic_filter, handler))
        self.subscribe(topic_filter, qos)
        return handler

    def publish(self, topic, payload=b"", qos=0, retain=False, timeout=10):
        """Publish and, for QoS 1/2, wait until the broker acknowledged it."""
        info = self.client.publish(topic, _encode(payload), qos, retain)
        if qos:
            info.wait_for_publish(timeout)
            if not info.is_published():
                raise AssertionError("PUBLISH to %r not acknowledged in %ss" % (topic, timeout))
        return info

    # ---- what tests read ----
    def wait_message(self, topic_filter="#", timeout=10):
        """The first received ``Message`` on a topic matching ``topic_filter`` that no earlier call returned."""
        def find():
            for i, message in enumerate(self.messages):
                if i not in self._taken and topic_matches_sub(topic_filter, message.topic):
                    return i
            return None

        with self._cond:
            if not self._cond.wait_for(lambda: find() is not None, timeout):
                raise AssertionError("no message on %r in %ss; received: %r"
                                     % (topic_filter, timeout, self.messages))
            index = find()
            self._taken.add(index)
            return self.messages[index]

    def received(self, topic_filter="#"):
        """Every received ``Message`` whose topic matches ``topic_filter``."""
        with self._cond:
            return [m for m in self.messages if topic_matches_sub(topic_filter, m.topic)]

    # ---- paho callbacks (network thread) ----
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        code = _CONNACK_NAMES.get(getattr(reason_code, "getName", lambda: str(reason_code))(), -1)
        if code == ACCEPTED:
            self.connects += 1
            for topic_filter, qos in self._filters.items():
                client.subscribe(topic_filter, qos)
            self.connected.set()
        else:
            client.disconnect()  # no automatic retries of a refused CONNECT
        with self._cond:
            self._connack = code
            self._cond.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.connected.clear()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            self._subacks[mid] = [getattr(rc, "value", rc) for rc in reason_codes]
            self._cond.notify_all()

    def _on_message(self, client, userdata, msg):
        message = Message(msg.topic, msg.payload, msg.qos, msg.retain)
        for topic_filter, handler in list(self._handlers):
            if not topic_matches_sub(topic_filter, message.topic):
                continue
            try:
                for reply in handler(message.topic, message.payload) or ():
                    topic, payload = reply[0], reply[1]
                    qos = reply[2] if len(reply) > 2 else 0
                    client.publish(topic, _encode(payload), qos)
            except Exception:
                self.errors.append(traceback.format_exc())
        with self._cond:  # recorded once answered, so a test that saw it can count on the reply being sent
            self.messages.append(message)
            self._cond.notify_all()


def _encode(payload):
    if isinstance(payload, (dict, list)):
        return json.dumps(payload, separators=(",", ":")).encode()
    if isinstance(payload, str):
        return payload.encode()
    return bytes(payload)
