"""machine for the host board, with the ESP32 API: the AT UART is the emulator's pty; reset restarts."""
import io
import os
import select
import sys
import time
import hoststate

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset():
    sys.exit(hoststate.EXIT_RESET)


def soft_reset():
    sys.exit(hoststate.EXIT_RESET)


def deepsleep(time_ms=0):
    """Sleep, then boot again as a chip does when its RTC timer wakes it (UART input meanwhile is lost)."""
    time.sleep(time_ms / 1000)
    sys.exit(hoststate.EXIT_DEEPSLEEP)


def reset_cause():
    return int(os.getenv("AT_RESET_CAUSE") or PWRON_RESET)


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def freq(hz=None):
    return 160000000


class UART(io.IOBase):
    """UART over a pty file descriptor (AT_UART_FD, non-blocking) with ESP32 argument checks.

    Its settings are recorded in the state folder (``uart.cfg``) so the emulator can report them.
    """

    RTS = 1
    CTS = 2
    INV_RX = 4
    INV_TX = 32
    INV_RTS = 64
    INV_CTS = 8
    IRQ_RX = 1
    IRQ_BREAK = 2
    IRQ_RXIDLE = 4096

    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, *, tx=None, rx=None, rts=None,
                 cts=None, txbuf=None, rxbuf=None, timeout=None, timeout_char=None, invert=None, flow=None):
        fd = int(os.getenv("AT_UART_FD"))
        if hoststate.MICROPYTHON:
            self._f = open(fd, "r+b")
        else:
            self._f = open(fd, "r+b", buffering=0, closefd=False)
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)
        self._out = select.poll()
        self._out.register(self._f, select.POLLOUT)
        self._id = id
        self._dropped = 0  # bytes written while nobody drained the pty
        self.init(baudrate, bits, parity, stop, flow=flow or 0)

    def init(self, baudrate=115200, bits=8, parity=None, stop=1, *, tx=None, rx=None, rts=None, cts=None,
             txbuf=None, rxbuf=None, timeout=None, timeout_char=None, invert=None, flow=None):
        if bits not in (5, 6, 7, 8):
            raise ValueError("invalid data bits")
        if stop not in (1, 2):
            raise ValueError("invalid stop bits")
        if parity not in (None, 0, 1):
            raise ValueError("invalid parity")
        flow = flow or 0
        self._cfg = (baudrate, bits, parity, stop, flow)
        hoststate.write_atomic(
            hoststate.path("uart.cfg"),
            b"baudrate=%d bits=%d parity=%s stop=%d flow=%d\n" % (baudrate, bits, str(parity).encode(), stop, flow),
        )
        while self._poll.poll(0):  # the chip's driver install flushes pending input
            if not self._f.read(256):
                break

    def deinit(self):
        pass

    def any(self):
        return 1 if self._poll.poll(0) else 0

    def readinto(self, buf, nbytes=None):
        if nbytes is not None:
            buf = memoryview(buf)[:nbytes]
        try:
            return self._f.readinto(buf)
        except OSError:
            return None

    def read(self, nbytes=None):
        buf = bytearray(nbytes or 256)
        n = self.readinto(buf)
        return bytes(buf[:n]) if n else None

    def readline(self):
        line = b""
        while self._poll.poll(0) and not line.endswith(b"\n"):
            c = self.read(1)
            if not c:
                break
            line += c
        return line or None

    def write(self, buf):
        """Block until the pty takes the bytes, as the chip blocks on a full TX ring; a pty nobody
        drains for 2 s loses them, as a UART with nobody listening does."""
        mv = memoryview(buf.encode() if isinstance(buf, str) else buf)
        done = 0
        while done < len(mv):
            try:
                n = self._f.write(mv[done:])
            except OSError:
                n = None
            if n:
                done += n
            elif not self._out.poll(2000):
                self._dropped += len(mv) - done
                break
        return len(mv)

    def flush(self):
        pass

    def txdone(self):
        return True

    def fileno(self):
        return self._f.fileno()

    def ioctl(self, req, arg):
        """MicroPython's stream protocol, so select.poll takes this object: 3 = poll, 10 = file number."""
        if req == 3:
            p = select.poll()
            p.register(self._f, arg)
            ready = p.poll(0)
            return ready[0][1] if ready else 0
        if req == 10:
            return self._f.fileno()
        return -1
