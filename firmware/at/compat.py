"""What MicroPython and CPython really do differently: ticks, poll results, exception printing."""
import gc
import sys
import select

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(x):
        return x


try:
    from time import ticks_ms, ticks_diff, ticks_add, sleep_ms
except ImportError:  # CPython (host tests)
    import time as _time

    def ticks_ms():
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, delta):
        return a + delta

    def sleep_ms(ms):
        _time.sleep(ms / 1000)


MICROPYTHON = sys.implementation.name == "micropython"


def mem_free():
    """Free Python heap in bytes after a collection; CPython has no fixed heap and reports 0."""
    if not MICROPYTHON:
        return 0
    gc.collect()
    return gc.mem_free()


def print_exc(e):
    """Print a traceback to the console (UART0 on the chip, stderr on a laptop)."""
    if MICROPYTHON:
        sys.print_exception(e)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def generator_result(stop):
    """The value a finished generator returned (StopIteration.value on both interpreters)."""
    return stop.args[0] if stop.args else None


FRESH_POLL_SLOTS = const(4)  # descriptors a new select.poll takes without moving its array (see Poller)


def _poll_with_room(slots):
    """A select.poll whose descriptor array already holds ``slots`` entries (the unix port; see Poller)."""
    p = select.poll()
    if not MICROPYTHON or slots <= FRESH_POLL_SLOTS:
        return p
    try:
        for fd in range(slots):
            p.register(fd, 0)  # a plain number is a descriptor to the unix port's poll
    except OSError:  # a port that polls objects only (the ESP32) has no array to move
        return select.poll()  # a fresh one: the failed register left a half-made entry behind
    for fd in range(slots):
        p.unregister(fd)  # frees the slot for reuse; the array never shrinks
    return p


class Poller:
    """select.poll that reports objects, not file descriptors (CPython reports those), and allocates
    nothing per call on MicroPython: ``poll`` fills the preallocated ``ready`` list and returns the count.

    It also steps around a crash of MicroPython's unix port (extmod/modselect.c, POSIX optimisation; the
    ESP32 port is built without it): a poll keeps the descriptors of registered objects in an array that
    grows by 4; when growing moves the array, poll_set_add_fd rebases every object's pointer into it,
    also the NULL of an object without a descriptor (a TLS socket), and the next poll reads garbage and
    segfaults. A fresh array never moves anything, so a Poller is built with an array of ``slots``
    entries up front (register and unregister that many descriptor numbers: unregister frees a slot and
    never shrinks the array), and one about to hold more objects than ``slots`` is rebuilt twice as big.
    Polling costs the same as before: the kernel skips the free slots."""

    def __init__(self, size=8, slots=FRESH_POLL_SLOTS):
        self._slots = slots
        self._use(_poll_with_room(slots))
        self._objs = {}  # MicroPython: object -> mask (to rebuild); CPython: descriptor -> object
        self.ready = [None] * (2 * size)  # type: list  # object, events, object, events, ...

    def _use(self, p):
        self._p = p
        if MICROPYTHON:
            # ipoll(timeout_ms): the poll's own, no Python call; it yields one reused (object, events) tuple
            self.ipoll = p.ipoll

    def register(self, obj, mask):
        if MICROPYTHON:
            if obj not in self._objs and len(self._objs) >= self._slots:
                self._rebuild(2 * self._slots)
            self._objs[obj] = mask
            self._p.register(obj, mask)
        else:
            fd = obj.fileno()
            self._objs[fd] = obj
            self._p.register(fd, mask)

    def unregister(self, obj):
        if MICROPYTHON:
            self._objs.pop(obj, None)
            self._p.unregister(obj)
        else:
            fd = obj.fileno()
            self._objs.pop(fd, None)
            self._p.unregister(fd)

    def _rebuild(self, slots):
        p = _poll_with_room(slots)
        for obj, mask in self._objs.items():
            p.register(obj, mask)
        self._use(p)
        self._slots = slots

    if MICROPYTHON:

        def poll(self, timeout_ms):
            it = self._p.ipoll(timeout_ms)  # it reuses one tuple: nothing is allocated
            n = 0
            entry = next(it, None)  # not a for loop: its iterator would push the frame onto the heap
            while entry is not None and n < len(self.ready):
                self.ready[n] = entry[0]
                self.ready[n + 1] = entry[1]
                n += 2
                entry = next(it, None)
            return n >> 1

    else:

        def ipoll(self, timeout_ms):
            """Iterate over (object, events) of what is ready within ``timeout_ms``."""
            return iter([(self._objs[fd], events) for fd, events in self._p.poll(timeout_ms)])

        def poll(self, timeout_ms):
            n = 0
            for fd, events in self._p.poll(timeout_ms)[: len(self.ready) >> 1]:
                self.ready[n] = self._objs[fd]
                self.ready[n + 1] = events
                n += 2
            return n >> 1


def load_cert_chain(ctx, cert, key):
    """Give an ssl context our certificate and key as DER bytes. MicroPython takes the bytes; CPython
    takes only PEM files, so it gets temporary ones: the DER wrapped as PEM, the key labelled PKCS#8,
    PKCS#1 (RSA) or SEC1 (EC), whichever OpenSSL reads."""
    if MICROPYTHON:
        ctx.load_cert_chain(cert, key)
        return
    import ssl

    labels = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
    for label in labels:
        try:
            _load_pem_files(ctx, _pem(cert, "CERTIFICATE"), _pem(key, label))
            return
        except ssl.SSLError:
            if label == labels[-1]:
                raise


def _pem(data, label):
    import base64

    body = base64.encodebytes(bytes(data)).decode()
    return ("-----BEGIN %s-----\n%s-----END %s-----\n" % (label, body, label)).encode()


def _load_pem_files(ctx, cert, key):
    import os
    import tempfile

    paths = []
    for data in (cert, key):
        fd, path = tempfile.mkstemp(suffix=".pem")
        os.write(fd, data)
        os.close(fd)
        paths.append(path)
    try:
        ctx.load_cert_chain(paths[0], paths[1])
    finally:
        for path in paths:
            os.remove(path)
