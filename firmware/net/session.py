"""One MQTT connection as a command family uses it: the client, its subscriptions, the acks awaited, the
reconnect policy and the flow control of received messages. No AT here: a family turns the events into its
manual's lines, and a session needs the engine only through its public methods (watch, unwatch, monitor,
spawn, busy, urc_room, write_urcs).

    cfg = session.Config("broker.example", 1883, "dev-1", user="u", password="p", keepalive=120)
    s = session.Session(at, cfg, on_event)          # one per link, kept and reused; several may live at once
    present = yield from s.connect()                 # in a command; raises mqtt.ConnectError
    pid = s.publish("t", b"data", 1)                 # at once (0 for QoS 0); raises mqtt.MqttError, ValueError
    err = yield from s.wait(pid)                     # None: acknowledged; else mqtt.TIMEOUT/DISCONNECTED/REFUSED
    sid = s.subscribe("a/#", 1); err = yield from s.wait(sid)    # kept in s.subs once granted
    uid = s.unsubscribe("a/#"); err = yield from s.wait(uid)     # dropped from s.subs once acknowledged
    s.disconnect()                                   # DISCONNECT, close, no more reconnects, no event

A Session allocates its buffers once: a family keeps one per link and connect()s it again after a
disconnect() (replacing ``s.config`` when the MCU configured anew). Config (attributes, all may change between
attempts): host, port, client_id, user, password (str/bytes or
None), keepalive (s, 0: none), clean (clean session), will ((topic, message, qos, retain) or None), tls (an
ssl.SSLContext or None: plain TCP), sni (TLS server name and name check; None: the host), timeout_ms (each
ack, the CONNACK, each send).

Session(at, config, on_event, reconnect=True, max_packet=1024, window=4, max_inflight=16)
    ``credentials``: attribute, None or ``fn(config)`` called before every connect attempt, the first and each
        reconnect, to refresh what expires (Tencent and Aliyun sign a timestamp into the password). An
        exception from it fails that attempt: mqtt.ConnectError(CREDENTIALS, 0) from connect(), the next
        backoff step for a reconnect.
    ``reconnect``: after a loss, reconnect forever with backoff (FIRST_MS doubling up to MAX_MS, each delay
        spread by +-25 % at random so that devices never retry in lockstep or in exact steps), subscribe again
        to everything in ``subs`` (one SUBSCRIBE), then report "reconnected". May be changed at any time.
    ``max_packet``: the receive buffer (what we publish is not bounded by it). A message whose packet (headers included) is longer arrives in pieces
        of at most this size, as esp-at splits what exceeds its 1024-byte MQTT buffer into several
        +MQTTSUBRECV: nothing is dropped and no size makes the connection fail.
    ``window``: at most this many message events out to the family and not yet delivered().
    ``max_inflight``: requests (publish QoS 1/2, subscribe, unsubscribe) awaiting acks at once.
Properties: connected (bool), reconnecting (a loss is being repaired), subs (list of [topic, qos] in the order
granted), last_error (args of the last mqtt.ConnectError, or None), session_present.

Events: ``on_event(event)`` gets one tuple at a time, from the loop (a watch, a monitor, a task) or from
inside a command's connect()/wait(). It must not write to the UART directly: it queues with ``at.urc``.
    ("connected", session_present)    connect() succeeded (the command reports it itself if its manual says so)
    ("lost", reason)                  an established connection ended without disconnect(): mqtt.CLOSED,
                                      PROTOCOL, PING_TIMEOUT or SEND_FAILED; after the "failed" of its requests
    ("reconnecting", attempt)         an automatic attempt (1, 2, ...) starts now
    ("reconnected", session_present)  an automatic attempt connected and the subscriptions were requested
                                      again and acknowledged (or their SUBACK failed: see last_error/subs)
    ("message", topic, data, qos, retain, dup, pid, offset, total)
                                      a received message (topic and data bytes), or a piece of one: ``data``
                                      starts at ``offset`` of a payload of ``total`` bytes (offset 0 and
                                      total == len(data) for a whole message); pid is 0 for QoS 0
    ("acked", pid)                    a publish (PUBACK, QoS 2 PUBCOMP), subscribe (SUBACK, granted) or
                                      unsubscribe (UNSUBACK) of ours was acknowledged
    ("failed", pid, reason)           it was not: mqtt.TIMEOUT, mqtt.DISCONNECTED, or mqtt.REFUSED (SUBACK 0x80)

Flow control (nothing received is ever dropped): every "message" event must be marked delivered() exactly
once, also after the connection it came on has ended (a family that discards it still calls it), once it
has left the module (its URC written on the UART) or been stored by the family. The family queues the line
with ``at.urc(line, s.delivered, event)``: the engine calls ``s.delivered(event)`` once the line is written.
Only then is a QoS 1 message PUBACKed (QoS 2: PUBRECed), after the last piece. While ``window`` events are
out or the engine's URC queue is full, the session reads nothing more from the socket, so TCP holds the
broker back. A family that consumes a message itself (a reply topic) calls s.delivered(event) at once.

Waiting: ``wait(pid)`` is a generator for the command: it reads the socket itself (the engine calls watches
only between commands) and, unless ``urcs=False``, lets the engine write the queued URCs meanwhile, so that a
burst ahead of the ack in the stream reaches the UART instead of blocking it. Use urcs=False once the
command has written part of a multi-line answer.
"""
import random
import select
from at.compat import ticks_ms, ticks_diff, ticks_add
from net import mqtt

FIRST_MS = 1000  # first reconnect delay
MAX_MS = 64000  # longest reconnect delay
CREDENTIALS = "credentials"  # ConnectError reason: the credentials hook raised
_WAITING = "waiting"
_live = []  # the sessions connected or reconnecting, ticked by one monitor per engine
_engines = []  # the engines whose monitor is registered


class Config:
    """What a session connects with (see the module doc)."""

    def __init__(self, host, port, client_id, user=None, password=None, keepalive=60, clean=True, will=None,
                 tls=None, sni=None, timeout_ms=10000):
        self.host = host
        self.port = port
        self.client_id = client_id
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.clean = clean
        self.will = will
        self.tls = tls
        self.sni = sni
        self.timeout_ms = timeout_ms


def jittered(ms):
    """``ms`` spread by +-25 % at random."""
    return ms * (192 + random.getrandbits(7)) // 256


def _tick_all(at):
    i = len(_live)
    while i > 0:  # from the end: a session may leave the list as it ticks
        i -= 1
        if i < len(_live) and _live[i].at is at:
            _live[i].tick()


class Session:
    def __init__(self, at, config, on_event, reconnect=True, max_packet=1024, window=4, max_inflight=16):
        self.at = at
        self.config = config
        self.on_event = on_event
        self.reconnect = reconnect
        self.credentials = None
        self.window = window
        self.subs = []
        self.last_error = None
        self.client = mqtt.Client(config.client_id, max_packet=max_packet, max_inflight=max_inflight, flow=True)
        self.client.on_close = self._closing
        self._out = 0  # message events not yet delivered()
        self._sock = None  # the socket watched
        self._stalled = False  # a drain task runs instead of the watch
        self._waits = {}  # pid -> _WAITING or its result, for the commands in wait()
        self._requests = {}  # pid -> [topic, qos] to subscribe, [topic] to unsubscribe, None: the resubscribe
        self._backoff = mqtt.Backoff(FIRST_MS, MAX_MS)
        self._retry_at = None  # ticks of the next reconnect attempt while reconnecting
        self._attempt = 0
        self._opening = False  # a connect attempt is under way
        self._gen = 0  # counts disconnect()s: an attempt that outlived one closes what it opened

    # ---- state --------------------------------------------------------------------------------
    @property
    def connected(self):
        return self.client.connected

    @property
    def reconnecting(self):
        return self._retry_at is not None or self._attempt > 0

    @property
    def session_present(self):
        return self.client.session_present

    # ---- connecting ---------------------------------------------------------------------------
    def connect(self):
        """Generator for a command: connect with ``config`` (after ``credentials``); returns the session-present
        flag, raises mqtt.ConnectError. A live connection (or reconnect) is ended first, without events."""
        self._stop()
        while self._opening:  # a reconnect attempt under way ends first (it sees _stop and closes)
            yield 20
        gen = self._gen
        present = yield from self._open()
        if gen != self._gen:  # disconnect() came meanwhile
            self.client.disconnect()
            raise mqtt.ConnectError(mqtt.USER, 0)
        self._register()
        self._emit(("connected", present))
        return present

    def _open(self):
        """Generator: one attempt with the credentials hook; returns the session-present flag."""
        self._opening = True
        try:
            present = yield from self._attempt_open()
        finally:
            self._opening = False
        return present

    def _attempt_open(self):
        cfg = self.config
        c = self.client
        try:
            if self.credentials is not None:
                self.credentials(cfg)
        except Exception as e:  # a signature that cannot be made now (no clock yet)
            self.last_error = (CREDENTIALS, 0)
            print("upy-at: mqtt credentials: %r" % e)
            raise mqtt.ConnectError(CREDENTIALS, 0)
        c.client_id = cfg.client_id
        c.user = cfg.user
        c.password = cfg.password
        c.keepalive = cfg.keepalive
        c.clean = cfg.clean
        c.will = cfg.will
        c.timeout_ms = cfg.timeout_ms
        try:
            present = yield from c.connect(cfg.host, cfg.port, cfg.tls, cfg.sni or cfg.host, cfg.timeout_ms)
        except mqtt.ConnectError as e:
            self.last_error = e.args
            raise
        self.last_error = None
        self._requests = {}
        return present

    def _register(self):
        if self not in _live:
            _live.append(self)
        if self.at not in _engines:
            _engines.append(self.at)
            self.at.monitor(_tick_all)
        self._watch()

    def _watch(self):
        sock = self.client.sock
        if sock is not self._sock:
            self._unwatch()
            if sock is not None:
                self.at.watch(sock, self._readable)
                self._sock = sock

    def _closing(self, sock):
        if sock is self._sock:
            self._unwatch()

    def _unwatch(self):
        if self._sock is not None:
            self.at.unwatch(self._sock)
            self._sock = None

    def disconnect(self):
        """Send DISCONNECT (best effort), close, stop reconnecting. No events: the family reports it."""
        self._stop()

    def _stop(self):
        self._gen += 1
        self._unwatch()
        self._retry_at = None
        self._attempt = 0
        if self in _live:
            _live.remove(self)
        for ev in self.client.disconnect():
            if ev[0] == "failed":
                self._result(ev[2], mqtt.DISCONNECTED, False)

    # ---- requests -----------------------------------------------------------------------------
    def publish(self, topic, payload, qos=0, retain=False):
        """Send a PUBLISH now; returns its packet id (0 for QoS 0): "acked"/"failed" with it follow."""
        return self.client.publish(topic, payload, qos, retain)

    def subscribe(self, topic, qos=0):
        """SUBSCRIBE to one filter; returns the packet id. Once granted it is in ``subs`` (and restored after
        each reconnect)."""
        pid = self.client.subscribe(topic, qos)
        self._requests[pid] = [topic, qos]
        return pid

    def unsubscribe(self, topic):
        """UNSUBSCRIBE from one filter; returns the packet id. Once acknowledged it leaves ``subs``."""
        pid = self.client.unsubscribe(topic)
        self._requests[pid] = [topic]
        return pid

    def wait(self, pid, urcs=True):
        """Generator for a command: until request ``pid`` is acknowledged (returns None) or not (returns
        mqtt.TIMEOUT, DISCONNECTED or REFUSED); at most the config's timeout_ms and a second. With ``urcs`` the
        engine writes queued URCs meanwhile (see the module doc)."""
        self._waits[pid] = _WAITING
        start = ticks_ms()
        limit = self.config.timeout_ms + 1000
        poll = None
        try:
            while self._waits[pid] is _WAITING:
                if urcs:
                    self.at.write_urcs()
                self._pump()
                self.tick()
                if self._waits[pid] is not _WAITING:
                    break
                if ticks_diff(ticks_ms(), start) > limit:
                    return mqtt.TIMEOUT
                sock = self.client.sock
                if sock is not None and self._room() > 0 and not self.client.held:
                    if poll is None:
                        poll = select.poll()
                        poll.register(sock, select.POLLIN)
                    poll.poll(5)  # an ack is read as soon as it comes
                yield 0
            return self._waits[pid]
        finally:
            self._waits.pop(pid, None)

    # ---- flow control -------------------------------------------------------------------------
    def delivered(self, event):
        """A "message" event has left the module (or been stored): acknowledge it after its last piece, and
        take more from the broker."""
        self._out -= 1
        if event[3] and event[7] + len(event[2]) == event[8]:
            self.client.ack(event[6], event[3])

    def _room(self):
        return max(0, min(self.window - self._out, self.at.urc_room()))

    def _readable(self, sock, events):
        self._pump()

    def _pump(self):
        """Take from the socket what the room allows; when the room or what is held stops it, a task goes on
        instead of the watch (poll cannot see bytes already read)."""
        c = self.client
        room = self._room()
        if room > 0 and c.connected:
            self._handle(c.read(room))
        self._hold()

    def _hold(self):
        """When the client holds what it read (or the room is gone), a drain task takes over from the watch."""
        c = self.client
        if c.connected and not self._stalled and (c.held or self._room() <= 0):
            self._stalled = True
            self._unwatch()
            self.at.spawn(self._drain())

    def _drain(self):
        c = self.client
        while c.connected:
            room = self._room()
            if room > 0 and not self.at.busy():
                self._handle(c.read(room))
            if not c.held and self._room() > 0:
                break
            # the URCs queued now are written in this very pass, unless a command runs or the family holds them
            yield 0 if room > 0 and not self.at.busy() else 20
        self._stalled = False
        if c.connected:
            self._watch()

    # ---- the loop's side ----------------------------------------------------------------------
    def tick(self):
        """Keepalive, ack timeouts and reconnects (the monitor calls it every 10 to 100 ms)."""
        c = self.client
        self._handle(c.tick(self._room()))  # also what a failed send (publish, ack) left behind
        if c.connected:
            self._hold()  # tick read what TLS had decrypted and may hold some: poll will not say so
            return
        if self._retry_at is not None and not self.at.busy() and ticks_diff(ticks_ms(), self._retry_at) >= 0:
            self._retry_at = None
            self.at.spawn(self._reconnect())

    def _reconnect(self):
        gen = self._gen
        self._attempt += 1
        self._emit(("reconnecting", self._attempt))
        try:
            present = yield from self._open()
        except mqtt.ConnectError:
            if self.reconnect and gen == self._gen:
                self._retry_at = ticks_add(ticks_ms(), jittered(self._backoff.next_ms()))
            return
        if gen != self._gen:  # disconnect() or connect() came meanwhile
            self.client.disconnect()
            return
        self._register()
        self._attempt = 0
        self._backoff.reset()
        if self.subs:
            try:
                pid = self.client.subscribe([(t, q) for t, q in self.subs])
                self._requests[pid] = None
                yield from self.wait(pid, False)
            except (mqtt.MqttError, ValueError):
                pass
        if self.client.connected:
            self._emit(("reconnected", present))

    def _handle(self, events):
        for ev in events:
            kind = ev[0]
            if kind == "message":
                self._out += 1
                self._emit(ev)
            elif kind == "puback" or kind == "unsuback":
                self._done(ev[1], None)
            elif kind == "suback":
                self._done(ev[1], mqtt.REFUSED if 0x80 in ev[2] else None)
            elif kind == "failed":
                self._done(ev[2], ev[3])
            elif kind == "disconnected":
                self._lost(ev[1])

    def _done(self, pid, err):
        req = self._requests.pop(pid, 0)
        if req is None:  # the resubscribe: its result goes to wait() only
            self._result(pid, err, False)
            return
        if req and err is None:
            self._apply(req)
        self._result(pid, err, True)

    def _apply(self, req):
        for sub in self.subs:
            if sub[0] == req[0]:
                self.subs.remove(sub)
                break
        if len(req) == 2:
            self.subs.append(req)

    def _result(self, pid, err, emit):
        if self._waits.get(pid) is _WAITING:
            self._waits[pid] = err
        if emit:
            self._emit(("acked", pid) if err is None else ("failed", pid, err))

    def _lost(self, reason):
        self._unwatch()
        if reason == mqtt.USER:
            return
        self._emit(("lost", reason))
        if self.reconnect and self in _live:
            self._retry_at = ticks_add(ticks_ms(), jittered(self._backoff.next_ms()))
        elif self in _live:
            _live.remove(self)

    def _emit(self, event):
        self.on_event(event)
