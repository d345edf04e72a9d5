"""The engine inside the test process: the host board's hardware modules and an in-memory UART, so a family's
unit tests run in milliseconds under CPython. The pty transcripts (harness.py) stay the conformance tests.

    at = InProc()                         # fresh families (cmds.* re-imported), booted as at power-up
    assert at.cmd("AT+CWMODE?") == ["+CWMODE:1", "OK"]
    at.send(b"AT+CIPSEND=4\\r\\n"); at.settle(); at.send(b"ping")
"""
import os
import socket
import sys
import time

import boardcfg
from at.engine import Engine
from at.store import Store

FINAL = (b"OK", b"ERROR", b"SEND OK", b"SEND FAIL")
FINAL_PREFIXES = (b"+CME ERROR:",)  # final lines with a number (either spacing)


class MemoryUart:
    """What the engine writes is collected; what a test sends is read back by readinto(). The socket pair
    only gives select.poll something to watch."""

    def __init__(self):
        self._a, self._b = socket.socketpair()
        self._a.setblocking(False)
        self.out = bytearray()

    def fileno(self):
        return self._a.fileno()

    def write(self, data, off=0, n=None):
        data = data.encode() if isinstance(data, str) else memoryview(data)
        end = len(data) if n is None else off + n
        self.out += data[off:end]
        return end - off

    def flush(self):
        pass

    def readinto(self, buf):
        try:
            return self._a.recv_into(buf) or None
        except BlockingIOError:
            return None

    def take(self):
        out = bytes(self.out)
        self.out.clear()
        return out

    def close(self):
        self._a.close()
        self._b.close()


class InProc:
    """An Engine over a MemoryUart with its own NVS namespace; ``boot`` runs the families' boot hooks."""

    def __init__(self, namespace="inproc", boot=True, echo=False):
        for name in [m for m in sys.modules if m == "cmds" or m.startswith("cmds.")]:
            del sys.modules[name]  # module-level family state starts afresh
        try:
            os.mkdir(boardcfg.FS_ROOT)
        except FileExistsError:
            pass
        self.uart = MemoryUart()
        self.engine = Engine(self.uart, Store(namespace))
        self.engine.uart_cfg = boardcfg.UART_DEFAULT
        self.engine.echo = echo
        if boot:
            self.engine.boot()

    def send(self, data):
        """Bytes the MCU writes: they are read by the engine's next steps."""
        self.uart._b.sendall(data)

    def step(self, ms=5):
        self.engine.step(ms)

    def settle(self, ms=50):
        """Run the loop for ``ms``."""
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            self.engine.step(5)

    def read_lines(self, timeout=5.0, final=FINAL, prefixes=FINAL_PREFIXES):
        """Step the loop until the engine is idle after a final line (one of ``final``, or one starting with
        one of ``prefixes``); the lines written, without empty ones."""
        deadline = time.monotonic() + timeout
        out = b""
        while time.monotonic() < deadline:
            self.engine.step(5)
            out += self.uart.take()
            lines = [line for line in out.split(b"\r\n") if line]
            last = lines[-1] if lines else b""
            done = last in final or last.startswith(prefixes)
            if out.endswith(b"\r\n") and done and not self.engine.busy():
                return [line.decode() for line in lines]
        raise AssertionError("no final line within %ss; got %r" % (timeout, out))

    def cmd(self, line, timeout=5.0, prefixes=FINAL_PREFIXES):
        """Send one command line; the lines of its answer up to its final line."""
        self.send(line.encode() + b"\r\n")
        return self.read_lines(timeout, FINAL, prefixes)

    def close(self):
        self.uart.close()
