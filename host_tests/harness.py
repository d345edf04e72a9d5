"""Drive the emulator as an MCU does: start tools/emulate, open its pty, send lines, read answers."""
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
import termios
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EMULATE = os.path.join(ROOT, "tools", "emulate")
INTERPRETERS = ("micropython", "cpython")
FINAL = (b"OK", b"ERROR", b"SEND OK", b"SEND FAIL")


class Timeout(AssertionError):
    pass


class Emulator:
    """One emulator process and an open port to it. ``state`` survives restarts when given."""

    def __init__(self, interp="micropython", state=None, args=(), boot_timeout=30):
        self.interp = interp
        self._tmp = None
        if state is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="upy-at-test-")
            state = self._tmp.name
        self.state = state
        self.control_path = os.path.join(state, "control.sock")
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        cmd = [sys.executable, EMULATE, "--interp", interp, "--state", state] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], boot_timeout)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("AT port: "):
            self.proc.kill()
            raise RuntimeError("emulator did not start: %r %s" % (line, self.console()))
        self.port = line.split(": ", 1)[1].strip()
        self.fd = os.open(self.port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)  # TCSAFLUSH would drop the pending "ready"
        self.buf = b""
        try:
            self.read_until(b"ready\r\n")
        except Timeout:
            self.close()
            raise

    # ---- raw bytes ------------------------------------------------------------------------------
    def send(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if select.select([self.fd], [], [], left)[0]:
            self.buf += os.read(self.fd, 65536)
            return True
        return False

    def read_until(self, marker, timeout=10):
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if not self._fill(deadline):
                raise Timeout("waited %ss for %r; got %r" % (timeout, marker, self.buf[-300:]))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Timeout("waited %ss for %d bytes; got %r" % (timeout, n, self.buf[-300:]))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def drain(self, quiet=0.2):
        """Everything that arrives until ``quiet`` seconds pass with nothing new."""
        while self._fill(time.monotonic() + quiet):
            pass
        out, self.buf = self.buf, b""
        return out

    def echo_over(self, text):
        """Send ``text`` on the single link (AT+CIPSEND) to an echo peer; the bytes its +IPD brings back."""
        self.send(b"AT+CIPSEND=%d\r\n" % len(text))
        self.read_until(b">", 5)
        self.send(text)
        self.read_until(b"SEND OK\r\n", 10)
        self.read_until(b"+IPD,%d:" % len(text), 10)
        return self.read_exact(len(text))

    # ---- lines ----------------------------------------------------------------------------------
    def line(self, timeout=10):
        """The next non-empty line, without CR LF."""
        while True:
            raw = self.read_until(b"\n", timeout)
            text = raw.rstrip(b"\r\n")
            if text:
                return text

    def command(self, line, timeout=10):
        """Send a command line; return the response lines up to and including the final result."""
        self.send(line.encode() + b"\r\n" if isinstance(line, str) else line + b"\r\n")
        lines = []
        while True:
            text = self.line(timeout)
            if text == b"ready":
                self.check_no_crash(line)
            lines.append(text)
            if text in FINAL:
                return lines

    def check_no_crash(self, what):
        """Fail at once, with the console log, when the firmware crashed or its watchdog reset it (a module
        restarting forever would otherwise answer only 'ready' until the test's timeout)."""
        status = self.control(op="status")
        if status["crashes"] or status.get("watchdog_resets"):
            raise AssertionError("the firmware restarted (crashes %d, watchdog resets %d) while answering %r:\n%s"
                                 % (status["crashes"], status.get("watchdog_resets", 0), what, self.console()[-4000:]))

    # ---- control channel ------------------------------------------------------------------------
    def control(self, **request):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(self.control_path)
            s.sendall(json.dumps(request).encode() + b"\n")
            f = s.makefile("rb")
            return json.loads(f.readline())

    def online(self, *setup):
        """Echo off, join the default virtual AP, then run ``setup`` commands, each answering OK."""
        assert self.command("ATE0")[-1] == b"OK"
        assert self.command('AT+CWJAP="upy-at-emu","emulator1"')[-1] == b"OK"
        for line in setup:
            assert self.command(line) == [b"OK"], line

    def leave_passthrough(self):
        """A lone '+++' with silence before and after it; then wait the second esp-at asks for."""
        time.sleep(0.1)
        self.send(b"+++")
        time.sleep(1.1)

    def console(self):
        try:
            with open(os.path.join(self.state, "console.log"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- transcripts ----------------------------------------------------------------------------------
def unescape(text):
    return text.encode().decode("unicode_escape").encode("latin-1")


def run_transcript(emu, path, actions=None):
    """Play a transcript file against an emulator. Its lines:

    ``> LINE``       send LINE then CR LF
    ``>> BYTES``     send raw bytes (Python escapes: \\r \\n \\x00), nothing appended
    ``< TEXT``       the next non-empty line is exactly TEXT
    ``<~ REGEX``     the next non-empty line matches REGEX (whole line)
    ``<< BYTES``     the next bytes are exactly BYTES (escapes as above)
    ``<* TEXT``      skip lines until one is exactly TEXT
    ``<*~ REGEX``    skip lines until one matches REGEX
    ``<none``        nothing more arrives for 0.3 s
    ``wait SECONDS`` pause
    ``reboot``       the module restarts: wait for ``ready``
    ``do NAME``      call ``actions[NAME]()``: what a peer does at that point (a cloud publishes ...)
    ``#`` starts a comment; blank lines are ignored.
    """
    with open(path) as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            where = "%s:%d: %s" % (os.path.basename(path), number, line)
            try:
                if line.startswith("do "):
                    actions[line[3:].strip()]()
                    continue
                _step(emu, line, where)
            except Timeout as e:
                raise Timeout("%s\n  %s" % (where, e))


def _step(emu, line, where):
    op, _, arg = line.partition(" ")
    if op == ">":
        emu.send(arg.encode() + b"\r\n")
    elif op == ">>":
        emu.send(unescape(arg))
    elif op == "<":
        got = emu.line()
        assert got == arg.encode(), "%s\n  got: %r" % (where, got)
    elif op == "<~":
        got = emu.line()
        assert re.fullmatch(arg.encode(), got), "%s\n  got: %r" % (where, got)
    elif op == "<*":
        while emu.line() != arg.encode():
            pass
    elif op == "<*~":
        while not re.fullmatch(arg.encode(), emu.line()):
            pass
    elif op == "<<":
        want = unescape(arg)
        got = emu.read_exact(len(want))
        assert got == want, "%s\n  got: %r" % (where, got)
    elif op == "<none":
        got = emu.drain(0.3)
        assert not got, "%s\n  got: %r" % (where, got)
    elif op == "wait":
        time.sleep(float(arg))
    elif op == "reboot":
        emu.read_until(b"ready\r\n", 15)
    else:
        raise ValueError("%s: unknown transcript operation" % where)
