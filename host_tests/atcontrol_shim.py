"""CircuitPython's ``busio`` and ``digitalio`` for a laptop, so that the real PyPI client
``adafruit-circuitpython-esp-atcontrol`` can drive the emulator over its pty.

Only these two hardware modules are stood in for; the client, ``adafruit_requests``,
``adafruit_connection_manager`` and ``micropython.const`` (Adafruit-Blinka) are the PyPI packages.

* ``busio.UART`` is a pyserial port on the emulator's pty. The pty is the wire to the module, so it is
  passed where a board passes its TX and RX pins: ``busio.UART(emu.port, emu.port, baudrate=115200)``.
  It keeps the bytes that crossed it (``uart.transcript()``, ``uart.received()``) for checks and failure messages.
* ``digitalio.DigitalInOut`` is a pin that records every value the client drives and does nothing else:
  pulling a stand-in reset pin low resets nothing (no modem behaviour is faked here).

``installed()`` puts the two modules into ``sys.modules`` for the test process only, while the client
is imported; the client keeps its references afterwards.
"""
import contextlib
import sys
import time
import types

import serial


class UART:
    """The subset of CircuitPython's ``busio.UART`` that a driver uses, over a pyserial port."""

    def __init__(
        self,
        tx,
        rx,
        *,
        baudrate=9600,
        bits=8,
        parity=None,
        stop=1,
        timeout=1,
        receiver_buffer_size=64,
        rts=None,
        cts=None,
    ):
        if tx != rx:
            raise ValueError("on the laptop TX and RX are one pty path, got %r and %r" % (tx, rx))
        self._serial = serial.Serial(
            tx,
            baudrate=baudrate,
            bytesize=bits,
            parity=serial.PARITY_NONE if parity is None else parity,
            stopbits=stop,
            timeout=timeout,
        )
        self._log = []  # [(direction, bytes)], direction "->" (to the module) or "<-" (from it)

    # ---- properties ----------------------------------------------------------------------------
    @property
    def baudrate(self):
        return self._serial.baudrate

    @baudrate.setter
    def baudrate(self, value):
        self._serial.baudrate = value

    @property
    def timeout(self):
        return self._serial.timeout

    @timeout.setter
    def timeout(self, value):
        self._serial.timeout = value

    @property
    def in_waiting(self):
        return self._serial.in_waiting

    # ---- data ----------------------------------------------------------------------------------
    def read(self, nbytes=None):
        """At most ``nbytes`` (all that arrives before the timeout when None); None if nothing came."""
        if nbytes is None:
            data = self._read_all()
        else:
            data = self._serial.read(nbytes)
        self._record("<-", data)
        return data or None

    def readinto(self, buf):
        data = self.read(len(buf))
        if data is None:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        """Up to and including a newline; what came if the timeout passes first; None if nothing came."""
        data = self._serial.read_until(b"\n")
        self._record("<-", data)
        return data or None

    def write(self, buf):
        data = bytes(buf)
        self._record("->", data)
        return self._serial.write(data)

    def reset_input_buffer(self):
        self._serial.reset_input_buffer()

    def deinit(self):
        self._serial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()

    # ---- for tests -----------------------------------------------------------------------------
    def received(self):
        """Every byte read from the module so far."""
        return b"".join(data for direction, data in self._log if direction == "<-")

    def transcript(self, limit=6000):
        """The traffic so far, one chunk per line, newest last, at most ``limit`` characters."""
        lines = []
        for direction, data in self._log:
            if lines and lines[-1][0] == direction:
                lines[-1] = (direction, lines[-1][1] + data)
            else:
                lines.append((direction, data))
        text = "\n".join("%s %r" % (d, b) for d, b in lines)
        return text[-limit:]

    def _read_all(self):
        data = b""
        deadline = time.monotonic() + (self._serial.timeout or 0)
        while True:
            chunk = self._serial.read(max(1, self._serial.in_waiting))
            data += chunk
            if not chunk or time.monotonic() >= deadline:
                return data

    def _record(self, direction, data):
        if data:
            self._log.append((direction, bytes(data)))


class Direction:
    INPUT = "INPUT"
    OUTPUT = "OUTPUT"


class Pull:
    UP = "UP"
    DOWN = "DOWN"


class DriveMode:
    PUSH_PULL = "PUSH_PULL"
    OPEN_DRAIN = "OPEN_DRAIN"


class DigitalInOut:
    """A pin that is wired to nothing: it records the values driven onto it (``history``)."""

    def __init__(self, pin=None):
        self.pin = pin
        self.direction = Direction.INPUT
        self.pull = None
        self.drive_mode = DriveMode.PUSH_PULL
        self._value = False
        self.history = []

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value):
        self._value = bool(value)
        self.history.append(self._value)

    def switch_to_output(self, value=False, drive_mode=DriveMode.PUSH_PULL):
        self.direction = Direction.OUTPUT
        self.drive_mode = drive_mode
        self.value = value

    def switch_to_input(self, pull=None):
        self.direction = Direction.INPUT
        self.pull = pull

    def deinit(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()


def _module(name, **members):
    module = types.ModuleType(name, "laptop stand-in from host_tests/atcontrol_shim.py")
    module.__dict__.update(members)
    return module


busio = _module("busio", UART=UART)
digitalio = _module("digitalio", DigitalInOut=DigitalInOut, Direction=Direction, Pull=Pull, DriveMode=DriveMode)


@contextlib.contextmanager
def installed():
    """``busio`` and ``digitalio`` are the stand-ins inside the block; what was there before comes back after."""
    saved = {name: sys.modules.get(name) for name in ("busio", "digitalio")}
    sys.modules["busio"] = busio
    sys.modules["digitalio"] = digitalio
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
