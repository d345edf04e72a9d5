"""machine for the host board, with the ESP32 API: the AT UART is the emulator's pty; reset restarts."""
import io
import os
import select
import sys
import time
import hoststate

_MICROPYTHON = hoststate.MICROPYTHON

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
    _dog[_ASLEEP] = True  # the chip's watchdog does not run in deep sleep
    time.sleep(time_ms / 1000)
    sys.exit(hoststate.EXIT_DEEPSLEEP)


if _MICROPYTHON:
    from time import ticks_ms as _ms  # the watchdog's feed() runs every pass of the loop: no Python call in it
else:

    def _ms():
        return int(time.monotonic() * 1000)


# the watchdog: [when last fed (ms), timeout (ms), asleep]; one per chip, as WDT(0) is
_FED, _TIMEOUT, _ASLEEP = 0, 1, 2
_dog = [0, 0, False]


class WDT:
    """The ESP32's watchdog (``WDT(id=0, timeout=5000)``, ``feed()``): a loop that stops feeding it for
    ``timeout`` ms resets the module. On the host board a thread watches; when it bites it writes
    ``upy-at: watchdog: …`` to the console, the emulator interrupts the firmware (SIGINT), and
    boards/host/run.py writes the firmware's Python stack to the console and resets (machine.WDT_RESET).
    A second WDT() sets a new timeout, as on the chip."""

    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError("WDT(%d) doesn't exist" % id)
        if timeout < 1:
            raise ValueError("WDT timeout too short")
        started = _dog[_TIMEOUT] != 0
        _dog[_TIMEOUT] = timeout
        _dog[_FED] = _ms()
        if not started:
            _start_thread(_watch)

    def feed(self):
        _dog[_FED] = _ms()


def _start_thread(fn):
    if _MICROPYTHON:
        import _thread

        _thread.start_new_thread(fn, ())
    else:
        import threading

        threading.Thread(target=fn, daemon=True).start()


def _watch():
    while True:
        time.sleep(0.05)
        late = _ms() - _dog[_FED]
        if late > _dog[_TIMEOUT] and not _dog[_ASLEEP]:
            hoststate.watchdog_bit[0] = True
            print("%sthe loop was not fed for %d ms (timeout %d ms); its stack follows"
                  % (hoststate.WATCHDOG_LINE, late, _dog[_TIMEOUT]))
            return


def reset_cause():
    return int(os.getenv("AT_RESET_CAUSE") or PWRON_RESET)


def unique_id():
    return b"\x24\x0a\xc4\x00\x00\x01"


def freq(hz=None):
    return 160000000


class RTC:
    """The ESP32's real-time clock: ``datetime()`` reads and ``datetime(t)`` sets
    ``(year, month, day, weekday, hour, minute, second, microsecond)`` (weekday 0 = Monday, ignored when
    set). As on the chip it starts at 2000-01-01 00:00:00 at power-up and keeps running across resets and
    deep sleep (the offset from the laptop's clock is kept in the state folder). Only this clock is set:
    the laptop's ``time.time()`` cannot be, so portable firmware reads the time from ``RTC().datetime()``.
    The arithmetic is boards/host/rtcclock.py, imported at the first datetime(): boot reads no clock, and
    the chip's RTC is C, so the host board keeps it off the heap until then.
    """

    def __init__(self, id=0):
        pass

    def datetime(self, datetimetuple=None):
        import rtcclock

        return rtcclock.datetime(datetimetuple)


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
        if hoststate.MICROPYTHON:
            self.readinto = self._f.readinto  # what readinto() does, without a Python call (the chip's is C)
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
        """What is there, up to len(buf) or nbytes bytes; None when nothing is (the pty is non-blocking)."""
        if nbytes is None:
            return self._f.readinto(buf)
        return self._f.readinto(buf, nbytes) if _MICROPYTHON else self._f.readinto(memoryview(buf)[:nbytes])

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

    if _MICROPYTHON:

        def write(self, buf, off=None, max_len=None):
            """Block until the pty takes the bytes, as the chip blocks on a full TX ring; a pty nobody
            drains for 2 s loses them, as a UART with nobody listening does.

            Like every MicroPython stream (py/stream.c) it also takes ``write(buf, max_len)`` and
            ``write(buf, off, max_len)``, which the firmware's hot paths use to write part of a buffer
            without allocating a memoryview; the ESP32 stubs list only ``buf``. The usual case, the pty
            taking everything at once, is one call into the file (the chip's UART is C)."""
            if off is None:
                n = self._f.write(buf)  # a str goes as UTF-8: n counts bytes, len(buf) characters
                if n == len(buf):
                    return n
                return self._write_tail(buf, 0, len(buf), n)
            if max_len is None:  # write(buf, max_len)
                max_len = off
                off = 0
            n = self._f.write(buf, off, max_len)  # the file takes at most len(buf) - off
            if n == max_len:
                return n
            return self._write_tail(buf, off, max_len, n)

    else:

        def write(self, buf, off=None, max_len=None):
            """As under MicroPython (CPython's file takes a memoryview for a part of a buffer)."""
            if isinstance(buf, str):
                buf = buf.encode()  # len() counts characters, the pty takes bytes
            if max_len is None:
                max_len = len(buf) if off is None else off
                off = 0
            max_len = min(max_len, len(buf) - off)
            n = self._f.write(memoryview(buf)[off : off + max_len])
            if n != max_len:
                self._write_rest(buf, off + (n or 0), max_len - (n or 0))
            return max_len

    def _write_tail(self, buf, off, max_len, n):
        """write() when the pty took less than all (or the bytes were a str): the rest, as _write_rest."""
        if isinstance(buf, str):
            buf = buf.encode()
            max_len = len(buf)
        max_len = min(max_len, len(buf) - off)
        n = n or 0
        if n < max_len:
            self._write_rest(buf, off + n, max_len - n)
        return max_len

    def _write_rest(self, buf, off, n):
        """Wait for room, at most 2 s without progress. A pty can report room (POLLOUT) yet take nothing
        (Linux: room for fewer bytes than its next buffer needs), so the 2 s count whatever poll says."""
        end = off + n
        since = _ms()
        room = bool(self._out.poll(10))  # the pty just took less than all: full, so the first write waits for room
        while off < end:
            done = self._f.write(buf, off, end - off) if _MICROPYTHON else self._f.write(memoryview(buf)[off:end])
            if done:
                off += done
                since = _ms()
                room = False
            elif _ms() - since >= 2000:
                self._dropped += end - off
                return
            elif room:
                # "room" that took nothing: do not spin, but wait no longer than the reader takes to drain a
                # buffer (a 1 ms sleep here bounded the TCP->UART rate at a fifth of a bare copy loop's)
                time.sleep(0.00005)
                room = False
            else:  # the usual wait: the write right after the room comes takes it (no sleep: the reader
                # drains the pty meanwhile, and a pause here empties it)
                room = bool(self._out.poll(10))

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
