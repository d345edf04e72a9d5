"""The host board's NVS is never torn (DESIGN.md §4), and the settings store (firmware/at/store.py).

1. A child process (CPython, then MicroPython) commits an NVS namespace in a tight loop: a blob of
   N bytes that alternates between two fillers and starts with a counter, and an i32 holding the
   same counter. It is killed with SIGKILL at random moments. After every kill the namespace file
   must parse and hold exactly one complete, consistent value (blob and counter from the same
   commit), never older than the last one seen; the next child must read it through esp32.NVS.
2. Unit tests of at.store.Store under CPython with the host board, its state folder in tmp_path.
"""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BOARD = os.path.join(ROOT, "boards", "host")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
SEED = 4242
N = 20000  # blob bytes: the file is ~40 KB of hex, so a kill often lands inside a write

# Runs under both interpreters: only what MicroPython's unix port has.
CHILD = r"""
import sys
sys.path.insert(0, %(board)r)
import esp32

N = %(n)d


def expected(i):
    return b"%%08d" %% i + (b"A" if i %% 2 else b"B") * N


nvs = esp32.NVS("t")
buf = bytearray(N + 8)
try:
    i = nvs.get_i32("n")
except OSError:
    i = -1
if i >= 0:
    n = nvs.get_blob("k", buf)
    if bytes(buf[:n]) != expected(i):
        sys.stdout.write("torn %%d %%r\n" %% (i, bytes(buf[:40])))
        sys.exit(2)
sys.stdout.write("go %%d\n" %% i)
sys.stdout.flush()
i += 1
while True:
    nvs.set_blob("k", expected(i))
    nvs.set_i32("n", i)
    nvs.commit()
    i += 1
"""


def namespace_file(state):
    return os.path.join(state, "nvs", "t.json")


def check_namespace(state):
    """The file parses; blob and counter are from one commit; returns the counter."""
    with open(namespace_file(state), "rb") as f:
        raw = f.read()
    try:
        data = json.loads(raw)
    except ValueError:
        raise AssertionError("torn NVS file (%d bytes): %r ... %r" % (len(raw), raw[:80], raw[-80:]))
    assert set(data) == {"k", "n"}, sorted(data)
    kind, value = data["n"]
    assert kind == "i", data["n"]
    kind, blob = data["k"]
    assert kind == "b"
    blob = bytes.fromhex(blob)
    want = b"%08d" % value + (b"A" if value % 2 else b"B") * N
    assert blob == want, "blob of %d bytes %r... does not belong to counter %d" % (len(blob), blob[:40], value)
    return value


def start_child(cmd, state, script):
    env = dict(os.environ, AT_STATE=state)
    proc = subprocess.Popen(cmd + [script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = proc.stdout.readline()
    if not line.startswith(b"go "):
        proc.kill()
        proc.wait()
        raise AssertionError("child could not start or read the namespace: %r %r" % (line, proc.stdout.read()))
    return proc, int(line.split()[1])


def kill_loop(cmd, tmp_path, kills, torn_wanted=0, most=450):
    """At least ``kills`` kills, more (up to ``most``) until ``torn_wanted`` of them interrupted a write."""
    rng = random.Random(SEED)
    state = str(tmp_path / "state")
    script = str(tmp_path / "child.py")
    with open(script, "w") as f:
        f.write(CHILD % {"board": BOARD, "n": N})
    last = -1
    torn_tmp = 0  # kills that left a half-written replacement behind: the case that matters
    k = 0
    while k < kills or (torn_tmp < torn_wanted and k < most):
        proc, seen = start_child(cmd, state, script)
        assert seen == last, "kill %d: the child read counter %d, the file said %d" % (k, seen, last)
        try:
            deadline = time.monotonic() + 10
            while k == 0 and not os.path.exists(namespace_file(state)):  # let the first commit land
                assert time.monotonic() < deadline and proc.poll() is None, "no first commit"
                time.sleep(0.001)
            time.sleep(rng.uniform(0.002, 0.06))
            assert proc.poll() is None, "child died by itself: %r" % proc.stdout.read()
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdout.close()
        value = check_namespace(state)
        assert value >= last, "kill %d: counter went back from %d to %d" % (k, last, value)
        # a .tmp left behind by a child that also committed (so any older .tmp was renamed away):
        # this kill interrupted a replacement, and the old value above is still whole
        if value > last and os.path.exists(namespace_file(state) + ".tmp"):
            torn_tmp += 1
        last = value
        k += 1
    proc, seen = start_child(cmd, state, script)  # a last boot reads the final value
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert seen == last
    return last, torn_tmp


def test_nvs_survives_sigkill_cpython(tmp_path):
    commits, torn = kill_loop([sys.executable], tmp_path, 30, torn_wanted=3)
    assert commits > 30  # the child really was committing between the kills
    assert torn >= 3, "too few kills landed inside a write (%d): the test proved little" % torn


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port in the venv")
def test_nvs_survives_sigkill_micropython(tmp_path):
    commits, torn = kill_loop([MICROPYTHON], tmp_path, 8, torn_wanted=1, most=40)
    assert commits > 8


# ---- at.store.Store ------------------------------------------------------------------------------
@pytest.fixture
def board(tmp_path, monkeypatch):
    """The host board with its state folder in tmp_path. hoststate reads AT_STATE once, at import:
    set the environment for anything imported later and point the imported module at tmp_path."""
    state = str(tmp_path / "state")
    monkeypatch.setenv("AT_STATE", state)
    import hoststate

    monkeypatch.setattr(hoststate, "STATE", state)
    import esp32

    return esp32


@pytest.fixture
def Store(board):
    from at.store import Store

    return Store


class Spy:
    """Counts the writes a store makes to its NVS handle."""

    def __init__(self, store):
        self.sets = []
        self.commits = 0
        nvs = store._nvs
        for name in ("set_i32", "set_blob"):
            real = getattr(nvs, name)

            def spy(key, value, real=real):
                self.sets.append(key)
                return real(key, value)

            setattr(nvs, name, spy)
        real_commit = nvs.commit

        def commit():
            self.commits += 1
            return real_commit()

        nvs.commit = commit


def test_defaults_on_a_blank_chip(Store):
    s = Store("upyat")
    assert s.autosave is True  # AT+SYSSTORE defaults to 1
    assert s.get_int("nothing") is None
    assert s.get_int("nothing", 7) == 7
    assert s.get_bytes("nothing") is None
    assert s.get_bytes("nothing", b"x") == b"x"
    assert s.get_str("nothing", "d") == "d"


def test_put_and_get(Store):
    s = Store("upyat")
    s.put_int("i", -123456)
    s.put_int("big", 0x7FFFFFFF)
    s.put_bytes("b", b"\x00\xff,\r\n")
    s.put_bytes("s", "héllo")  # str is stored as UTF-8
    s.put_bytes("empty", b"")
    for t in (s, Store("upyat")):  # the same store, and one opened after a reboot
        assert t.get_int("i") == -123456
        assert t.get_int("big") == 0x7FFFFFFF
        assert t.get_bytes("b") == b"\x00\xff,\r\n"
        assert t.get_str("s") == "héllo"
        assert t.get_bytes("s") == "héllo".encode()
        assert t.get_bytes("empty") == b""
    s.put_int("i", 5)
    s.put_bytes("b", b"new")
    t = Store("upyat")
    assert (t.get_int("i"), t.get_bytes("b")) == (5, b"new")


def test_namespaces_are_separate(Store):
    Store("one").put_int("k", 1)
    Store("two").put_int("k", 2)
    assert (Store("one").get_int("k"), Store("two").get_int("k")) == (1, 2)


def test_unchanged_writes_are_skipped(Store):
    s = Store("upyat")
    spy = Spy(s)
    s.put_int("i", 1)
    s.put_bytes("b", b"abc")
    assert spy.sets == ["i", "_keys", "b", "_keys"]
    assert spy.commits == 2
    spy.sets.clear()
    spy.commits = 0
    s.put_int("i", 1)
    s.put_bytes("b", b"abc")
    s.put_bytes("b", "abc")  # the same bytes as a str
    s.save_int("i", 1)
    assert spy.sets == [] and spy.commits == 0
    s.put_int("i", 2)  # a change is written; the key index already has "i"
    assert spy.sets == ["i"] and spy.commits == 1


def test_factory_reset_erases_exactly_the_keys_written(board, Store):
    other = board.NVS("upyat")  # someone else's key in the same namespace, written before
    other.set_i32("foreign", 99)
    other.commit()
    s = Store("upyat")
    s.put_int("a", 1)
    s.put_bytes("b", b"2")
    s.put_int("sysstore", 0)
    s.put_int("a", 3)
    assert s.get_bytes("_keys") == b"a,b,sysstore"  # each key once
    s.factory_reset()
    for t in (s, Store("upyat")):
        assert t.get_int("a") is None
        assert t.get_bytes("b") is None
        assert t.get_int("sysstore") is None
        assert t.get_bytes("_keys") is None
        assert t.get_int("foreign") == 99
    assert Store("upyat").autosave is True  # SYSSTORE back to its default
    with open(os.path.join(os.environ["AT_STATE"], "nvs", "upyat.json")) as f:
        assert json.load(f) == {"foreign": ["i", 99]}
    s.factory_reset()  # on an empty index: nothing to do, no error


def test_erase_one_key(Store):
    s = Store("upyat")
    s.put_int("a", 1)
    s.put_int("b", 2)
    s.erase("a")
    s.erase("never")  # not there: no error
    t = Store("upyat")
    assert (t.get_int("a"), t.get_int("b")) == (None, 2)


def test_autosave_off_makes_save_a_no_op(Store):
    s = Store("upyat")
    s.put_int("sysstore", 0)  # what AT+SYSSTORE=0 writes
    s = Store("upyat")
    assert s.autosave is False
    spy = Spy(s)
    s.save_int("sysmsg", 3)
    s.save_bytes("name", b"x")
    assert spy.sets == [] and spy.commits == 0
    assert s.get_int("sysmsg") is None and s.get_bytes("name") is None
    s.put_int("always", 1)  # put_* writes whatever autosave says (AT+UART_DEF)
    s.autosave = True
    s.save_int("sysmsg", 3)
    s.save_bytes("name", "y")
    t = Store("upyat")
    assert (t.get_int("sysmsg"), t.get_str("name"), t.get_int("always")) == (3, "y", 1)


@pytest.mark.parametrize("size", [65, 200, 1000, 4096])
def test_blobs_longer_than_the_first_buffer_round_trip(Store, size):
    """The store reads into a 64-byte buffer and grows it on ESP_ERR_NVS_INVALID_LENGTH."""
    value = bytes((i * 7 + 3) & 255 for i in range(size))
    s = Store("upyat")
    s.put_bytes("blob", value)
    assert s.get_bytes("blob") == value
    t = Store("upyat")
    assert t.get_bytes("blob") == value
    s.put_bytes("blob", value)  # unchanged: compared through the grown buffer, skipped
    t.put_bytes("short", b"s")
    assert t.get_bytes("short") == b"s"  # a grown buffer still returns only what was read


def test_what_the_store_writes_it_can_read_back(Store):
    """put_bytes must refuse a value get_bytes cannot return (it stops growing its buffer at 4096
    bytes), instead of writing it and then failing every later read and put of that key."""
    s = Store("upyat")
    value = b"z" * 5000
    try:
        s.put_bytes("huge", value)
    except (OSError, ValueError):
        return  # refused up front: fine
    try:
        got = Store("upyat").get_bytes("huge")
    except OSError as e:
        raise AssertionError("put_bytes wrote a %d-byte value that get_bytes cannot read back: %r" % (len(value), e))
    assert got == value


def test_host_nvs_raises_esp32_errors(board):
    nvs = board.NVS("upyat")
    with pytest.raises(OSError) as e:
        nvs.get_i32("missing")
    assert e.value.args[0] == -0x1102  # ESP_ERR_NVS_NOT_FOUND
    nvs.set_blob("k", b"x" * 65)
    with pytest.raises(OSError) as e:
        nvs.get_blob("k", bytearray(64))
    assert e.value.args[0] == -0x110C  # ESP_ERR_NVS_INVALID_LENGTH
    with pytest.raises(OSError):
        nvs.set_i32("sixteen_chars_xx", 1)  # keys are at most 15 characters
    with pytest.raises(OSError):
        board.NVS("a_namespace_of_16")


def test_two_handles_on_one_namespace_keep_each_others_keys(board):
    """On an ESP32 every esp32.NVS object on a namespace opens the same storage: a commit through
    one handle cannot erase what another handle committed. The host board's NVS caches the whole
    namespace per object and writes its cache back on commit."""
    a = board.NVS("upyat")
    b = board.NVS("upyat")
    a.set_i32("from_a", 1)
    a.commit()
    b.set_i32("from_b", 2)
    b.commit()
    fresh = board.NVS("upyat")
    assert fresh.get_i32("from_b") == 2
    try:
        got = fresh.get_i32("from_a")
    except OSError:
        got = None
    assert got == 1, "a commit through a second esp32.NVS('upyat') handle erased a key the first one had committed"


def test_a_record_holds_several_values_under_one_key(Store):
    """A setting of several values (AT+CWJAP's SSID, password, BSSID) is one blob: one write, one key."""
    s = Store("upyat")
    spy = Spy(s)
    ssid = 'ab,c"d\\e'  # separators and quotes are data
    s.put_record("rec", (ssid, b"\x00pw\xff", b"", 7200))
    assert spy.sets == ["rec", "_keys"] and spy.commits == 1
    for t in (s, Store("upyat")):
        assert t.get_record("rec", 4) == [ssid.encode(), b"\x00pw\xff", b"", b"7200"]
        assert t.get_record("rec", 3) is None  # not the shape asked for
        assert t.get_record("missing", 4) is None
    s.put_bytes("torn", b"\x05abc")  # a length past the end
    assert s.get_record("torn", 1) is None
    with pytest.raises(ValueError):
        s.put_record("rec", (b"x" * 256,))
    assert Store("upyat").get_record("rec", 4)[3] == b"7200"  # a refused record leaves the old one
    s.put_int("sysstore", 0)
    s = Store("upyat")
    s.save_record("rec", ("new", "", "", 1))  # AT+SYSSTORE=0: not saved
    assert Store("upyat").get_record("rec", 4)[0] == ssid.encode()
