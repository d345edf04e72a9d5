"""net/session.py in-process (the engine of host_tests/inproc.py, CPython) against amqtt on loopback: the
credentials hook signs every attempt afresh, a loss gives "lost", "reconnecting" and, once the broker is back,
"reconnected" with the subscriptions restored; acks and failures reach both wait() and the events; several
sessions live side by side. The AT families' behaviour over it is tested through the pty (test_mqtt_at.py,
test_mqtt_flow.py) under both interpreters."""
import time

import pytest

from inproc import InProc
from net import mqtt, session


def run(at, gen, timeout=20):
    """Step a session generator as the engine steps a command; returns its value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            delay = next(gen)
        except StopIteration as e:
            return e.value
        at.engine.step(delay or 1)
    raise AssertionError("generator still running after %ss" % timeout)


def loop_until(at, check, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        at.engine.step(5)
        if check():
            return
    raise AssertionError("not within %ss" % timeout)


class Family:
    """What a family does with a session: events recorded, messages queued as URCs that mark them delivered."""

    def __init__(self, at, port, client_id):
        self.at = at
        self.events = []
        self.s = session.Session(at.engine, session.Config("127.0.0.1", port, client_id, user="dev"), self.event)

    def event(self, ev):
        self.events.append(ev)
        if ev[0] == "message":
            self.at.engine.urc(b"+MSG:%s,%s\r\n" % (ev[1], ev[2]), self.s.delivered, ev)

    def kinds(self):
        return [ev[0] for ev in self.events]


@pytest.fixture
def at():
    ip = InProc(boot=False)
    yield ip
    ip.close()


def test_credentials_every_attempt_reconnect_and_resubscribe(at, amqtt_broker):
    fam = Family(at, amqtt_broker.port, "sess-1")
    signed = []

    def credentials(cfg):
        signed.append("pw-%d" % (len(signed) + 1))
        cfg.password = signed[-1]

    fam.s.credentials = credentials
    assert run(at, fam.s.connect()) == 0
    assert fam.events == [("connected", 0)] and fam.s.connected
    sid = fam.s.subscribe("s/#", 1)
    assert run(at, fam.s.wait(sid)) is None
    assert fam.s.subs == [["s/#", 1]]
    pid = fam.s.publish("s/x", b"hello", 1)
    assert pid and run(at, fam.s.wait(pid)) is None
    loop_until(at, lambda: b"+MSG:s/x,hello\r\n" in at.uart.out)
    assert fam.kinds() == ["connected", "acked", "acked", "message"]

    amqtt_broker.kill()
    loop_until(at, lambda: "reconnecting" in fam.kinds())
    lost = fam.events.index(("lost", mqtt.CLOSED))
    assert fam.events[lost + 1] == ("reconnecting", 1)
    assert fam.s.reconnecting and not fam.s.connected
    with pytest.raises(mqtt.MqttError):
        fam.s.publish("s/x", b"not now", 1)
    amqtt_broker.start()
    loop_until(at, lambda: "reconnected" in fam.kinds(), 90)
    assert fam.events[-1] == ("reconnected", 0) and fam.s.connected and not fam.s.reconnecting
    attempts = [e for e in fam.events[lost + 1:] if e[0] == "reconnecting"]
    assert [e[1] for e in attempts] == list(range(1, len(attempts) + 1))
    # the hook signed the first connect and every attempt; the broker saw the first and the one that worked
    assert len(signed) == 1 + len(attempts)
    assert [a.password for a in amqtt_broker.attempts] == ["pw-1", signed[-1]]
    assert fam.s.subs == [["s/#", 1]]
    agent = amqtt_broker.agent()
    agent.publish("s/y", b"back", qos=1)  # the subscription was restored
    loop_until(at, lambda: b"+MSG:s/y,back\r\n" in at.uart.out)
    agent.close()
    fam.s.disconnect()
    assert not fam.s.connected and not fam.s.reconnecting


def test_failures_reach_wait_and_events_and_two_sessions_live_apart(at, amqtt_broker):
    one = Family(at, amqtt_broker.port, "sess-one")
    two = Family(at, amqtt_broker.port, "sess-two")
    run(at, one.s.connect())
    run(at, two.s.connect())
    sid = one.s.subscribe("a/b", 1)
    assert run(at, one.s.wait(sid)) is None
    bad = one.s.subscribe("a/#/b", 1)  # amqtt refuses an invalid filter with 0x80
    assert run(at, one.s.wait(bad)) == mqtt.REFUSED
    assert ("failed", bad, mqtt.REFUSED) in one.events and one.s.subs == [["a/b", 1]]
    pid = two.s.publish("a/b", b"from two", 1)
    assert run(at, two.s.wait(pid)) is None
    loop_until(at, lambda: b"+MSG:a/b,from two\r\n" in at.uart.out)
    assert [e[0] for e in two.events] == ["connected", "acked"]  # two is not subscribed
    uid = one.s.unsubscribe("a/b")
    assert run(at, one.s.wait(uid)) is None and one.s.subs == []
    two.s.disconnect()
    assert one.s.connected and not two.s.connected
    amqtt_broker.kill()
    loop_until(at, lambda: ("lost", mqtt.CLOSED) in one.events)
    assert ("lost", mqtt.CLOSED) not in two.events  # it had disconnected: no event
    one.s.disconnect()


def test_reconnect_delays_are_spread():
    delays = [session.jittered(2000) for _ in range(300)]
    assert all(1500 <= d <= 2500 for d in delays)
    assert len(set(delays)) > 10  # never the same exact step each time
