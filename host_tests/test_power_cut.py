"""Settings survive a power cut whole (DESIGN.md §4, issue 9 item 8), under both interpreters.

The firmware runs on the host board as tools/emulate runs it (boards/host/run.py on a pty, a state
folder), but the test is the power switch: it sends commands that each save several values (AT+CWJAP:
SSID, password, BSSID; AT+CWSAP: six values; AT+CWRECONNCFG: two), alternating between two settings A
and B that differ in every value, and kills the firmware with SIGKILL at a random instant of a command's
run (scaled to how long a save takes on this machine now). After every
cut the saved settings must each be A or B (or not saved yet), never a mix: read from the NVS file with
the firmware's own store, and read back by the next boot (AT+CWSAP?, AT+CWRECONNCFG?). The emulator's
supervisor is not used because it waits a second before restarting a crashed firmware.
"""
import os
import pty
import random
import select
import signal
import subprocess
import sys
import time
import tty

import pytest

from harness import ROOT

RUN = os.path.join(ROOT, "boards", "host", "run.py")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
SEED = 9
CUTS = 150  # per interpreter
MOST_CUTS = 450  # more cuts, until 3 landed inside a commit (on a busy machine fewer land there)

JAP = {  # AT+CWJAP: no such AP is on the air, so each command saves, scans and answers +CWJAP:3 at once
    "A": ('AT+CWJAP="ap-one","password-one","02:00:00:00:00:0a"', [b"ap-one", b"password-one", b"\x02\0\0\0\0\x0a"]),
    "B": ('AT+CWJAP="ap-two-longer","pw-two-2222"', [b"ap-two-longer", b"pw-two-2222", b""]),
}
SOFTAP = {
    "A": ('AT+CWSAP="sap-one","sap-pass-1",3,3,2,0', [b"sap-one", b"sap-pass-1", b"3", b"3", b"2", b"0"]),
    "B": ('AT+CWSAP="sap-two-xyz","other-pass-22",11,4,7,1', [b"sap-two-xyz", b"other-pass-22", b"11", b"4", b"7", b"1"]),
}
RECONN = {
    "A": ("AT+CWRECONNCFG=5,100", [b"5", b"100"]),
    "B": ("AT+CWRECONNCFG=7200,0", [b"7200", b"0"]),
}
COMMANDS = [JAP["A"][0], SOFTAP["A"][0], RECONN["A"][0], JAP["B"][0], SOFTAP["B"][0], RECONN["B"][0]]
FINAL = (b"OK", b"ERROR")


def interpreter(interp):
    if interp == "cpython":
        return [sys.executable, "-u", RUN]
    if not os.path.exists(MICROPYTHON):
        pytest.skip("no MicroPython unix port in the venv")
    return [MICROPYTHON, RUN]


class Board:
    """The firmware on a pty of ours, on ``state``; ``cut()`` is a power cut."""

    def __init__(self, cmd, state):
        self.cmd = cmd
        self.state = state
        self.master, self.port = pty.openpty()
        tty.setraw(self.port)
        os.set_blocking(self.master, False)
        self.proc = None
        self.buf = b""
        self.console = open(os.path.join(state, "console.log"), "ab")

    def power_on(self):
        env = dict(os.environ, AT_UART_FD=str(self.master), AT_STATE=self.state, AT_RESET_CAUSE="1")
        self.proc = subprocess.Popen(self.cmd, env=env, pass_fds=[self.master], cwd=ROOT, stdin=subprocess.DEVNULL,
                                     stdout=self.console, stderr=subprocess.STDOUT)
        self.buf = b""
        self.read_until(b"ready\r\n", 30)
        self.buf = b""

    def cut(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        while select.select([self.port], [], [], 0)[0]:  # what the UART sent before the cut
            os.read(self.port, 65536)

    def read_until(self, marker, timeout):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0 and select.select([self.port], [], [], left)[0], "no %r; got %r" % (marker, self.buf[-200:])
            self.buf += os.read(self.port, 65536)
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def lines(self, line, timeout=30):
        """Send a command; its lines (echo included) up to the final one."""
        os.write(self.port, line.encode() + b"\r\n")
        out = []
        while not out or out[-1] not in FINAL:
            text = self.read_until(b"\r\n", timeout).rstrip(b"\r\n")
            if text:
                out.append(text)
        return out

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.port)
        self.console.close()


def which(record, settings):
    """'A', 'B' or None (nothing saved yet) for a record as the store reads it; AssertionError for a mix."""
    if record is None:
        return None
    for name, (_, fields) in settings.items():
        if record == fields:
            return name
    raise AssertionError("a torn setting: %r is neither %r" % (record, [f for _, f in settings.values()]))


def answered(board, query, prefix, settings, default):
    """'A', 'B' or None (the default: nothing saved yet) for what ``query`` answers; AssertionError for a mix."""
    line = [x for x in board.lines(query) if x.startswith(prefix)][0]
    if line == default:
        return None
    for name, (_, fields) in settings.items():
        if prefix == b"+CWSAP:":
            want = b'+CWSAP:"%s","%s",' % (fields[0], fields[1]) + b",".join(fields[2:])
        else:
            want = prefix + b",".join(fields)
        if line == want:
            return name
    raise AssertionError("a torn setting: %r" % line)


def test_settings_survive_power_cuts_whole(interp, tmp_path, monkeypatch):
    cmd = interpreter(interp)
    state = str(tmp_path / "state")
    os.makedirs(state)
    import hoststate  # the firmware's own store reads the NVS file after each cut (CPython, host board)

    monkeypatch.setattr(hoststate, "STATE", state)
    from at.store import Store

    rng = random.Random(SEED)
    board = Board(cmd, state)
    nvs_file = os.path.join(state, "nvs", "upyat.json")
    seen = {"jap": set(), "softap": set(), "reconn": set()}
    changes = in_commit = in_flight = 0
    last = None
    next_cmd = 0
    k = 0
    try:
        board.power_on()
        assert board.lines("AT+CWMODE=3")[-1] == b"OK"
        default_softap = [x for x in board.lines("AT+CWSAP?") if x.startswith(b"+CWSAP:")][0]
        durations = []  # how long a save takes here and now (the machine may be busy)
        while k < CUTS or (in_commit < 3 and k < MOST_CUTS):
            # a few saves in full, then one more cut at a random instant of its run
            for _ in range(rng.randrange(3)):
                start = time.monotonic()
                board.lines(COMMANDS[next_cmd % len(COMMANDS)])
                durations.append(time.monotonic() - start)
                next_cmd += 1
            os.write(board.port, COMMANDS[next_cmd % len(COMMANDS)].encode() + b"\r\n")
            next_cmd += 1
            typical = sorted(durations)[len(durations) // 2] if durations else 0.01
            time.sleep(rng.uniform(0, 1.2 * typical))
            sent = True
            while select.select([board.port], [], [], 0)[0]:
                board.buf += os.read(board.port, 65536)
                sent = not any(line in FINAL for line in board.buf.split(b"\r\n"))
            board.buf = b""
            in_flight += sent
            board.cut()
            k += 1
            if os.path.exists(nvs_file + ".tmp"):
                in_commit += 1  # the cut landed inside a commit (the next one replaces the .tmp)
            store = Store("upyat")
            now = (which(store.get_record("wifi_jap", 3), JAP), which(store.get_record("wifi_softap", 6), SOFTAP),
                   which(store.get_record("wifi_reconn", 2), RECONN))
            for key, name in zip(("jap", "softap", "reconn"), now):
                seen[key].add(name)
            changes += now != last
            last = now
            # the next boot reads the same settings, whole
            board.power_on()
            answers = (answered(board, "AT+CWSAP?", b"+CWSAP:", SOFTAP, default_softap),
                       answered(board, "AT+CWRECONNCFG?", b"+CWRECONNCFG:", RECONN, b"+CWRECONNCFG:1,0"))
            assert answers == now[1:], "cut %d: saved %r, the next boot answers %r" % (k, now[1:], answers)
    finally:
        board.close()
    print("%s: %d cuts, %d with a save under way (typical save %.1f ms), %d inside an NVS commit, %d changed the"
          " saved settings" % (interp, k, in_flight, 1000 * typical, in_commit, changes))
    # the cuts really landed among the saves: each setting was found as A and as B
    for key in seen:
        assert {"A", "B"} <= seen[key], (key, seen[key])
    assert changes > k // 4, "the saved settings changed between only %d of %d cuts" % (changes, k)
    assert in_commit >= 3, "only %d of %d cuts landed inside an NVS commit" % (in_commit, k)  # ~10% do
