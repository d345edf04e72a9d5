"""The two modes in which UART bytes are data, one implementation for every family; Engine inherits them.

Data-input mode: a command asks for exactly N raw bytes after a '>' prompt (``receive``).
Passthrough mode: UART bytes go to a sink in chunks until a lone '+++' framed by silence (``passthrough``).
The engine's loop feeds them (``_data_feed``, ``_pass_feed``, ``_pass_idle``) according to ``_mode``.
"""
from at.compat import const, ticks_ms, ticks_diff, mem_free, MICROPYTHON

BUF_SIZE = const(4608)  # data input up to this size, passthrough and +IPD framing share one buffer
RX_LINE = const(256)  # one UART read in command mode
RX_SIZE = const(4096)  # one UART read in data input and passthrough (made on first use)
PASS_CHUNK = const(2048)  # passthrough sends what it holds once it holds this much (v1.2: 2048 bytes)
PASS_BURST = const(16)  # passthrough sends in a row, without a poll, while the UART gives whole reads
PASS_READS = const(4)  # whole UART reads in a row that passthrough sends at once (a buffer of 4 x RX_SIZE)
PASS_SPARE = const(32768)  # heap that must stay free beside that buffer, else passthrough reads one at a time
GUARD_MS = const(20)  # silence around '+++'
PROMPT = b"\r\nOK\r\n\r\n>"

MODE_LINE = const(0)
MODE_DATA = const(1)
MODE_PASS = const(2)


class Modes:
    def __init__(self, uart):
        self.uart = uart
        self._rx = bytearray(RX_LINE)  # one UART read; data input and passthrough make it RX_SIZE
        # self.buf: data input, passthrough and +IPD framing (never two at once), made on first use (__getattr__)
        self.transintvl = GUARD_MS  # passthrough flush interval, ms
        self._mode = MODE_LINE
        self._wake = 0  # when the running command is stepped next
        self._last_rx = ticks_ms()  # when the UART last gave bytes
        self._din = None
        self._got = 0
        self._cut = -1
        self._esc = False
        self._sink = None
        self._send = None  # the sink's send, bound once per passthrough
        self._views = ()  # passthrough: _rx after its first RX_SIZE bytes, in RX_SIZE parts (_gather)
        self.pass_buf = None  # passthrough: the UART reads' buffer, which a family may read its link into
        self.in_passthrough = False  # read per socket read: an attribute, not a property
        self._pn = 0  # bytes held for the passthrough sink
        self._plus = 0  # '+' bytes held while a '+++' may be forming

    def __getattr__(self, name):
        """``buf`` (BUF_SIZE bytes) is made the first time something asks for it: a module that never takes
        data, passes through or frames +IPD keeps that RAM. Then it is a plain attribute: no cost per use."""
        if name != "buf":
            raise AttributeError(name)
        self.buf = bytearray(BUF_SIZE)
        return self.buf

    def _big_reads(self):
        """Data input and passthrough read the UART RX_SIZE bytes at a time; until the first of them, reads
        are a line's size."""
        if len(self._rx) < RX_SIZE:
            self._rx = bytearray(RX_SIZE)

    # ---- data-input mode ----------------------------------------------------------------------
    def receive(self, n, timeout_ms, prompt=PROMPT, plus_abort=False, cut=False):
        """Generator for a command: write ``prompt``, then collect exactly ``n`` raw bytes.

        Returns a memoryview of the bytes, or None on timeout or (with ``plus_abort``) a lone '+++'.
        With ``cut`` (AT+CIPSENDEX) the two bytes ``\\0`` end the data early and ``\\\\`` stands
        for one backslash; ``n`` counts the bytes that arrive. Bytes beyond the data arriving while
        the command runs get ``busy p...``.
        """
        buf = self.buf if n <= BUF_SIZE else bytearray(n)
        self._big_reads()
        self._din = memoryview(buf)[:n]
        self._got = 0
        self._plus = 0
        self._cut = 0 if cut else -1  # -1: off; else bytes kept; _esc: the last byte was a backslash
        self._esc = False
        self._mode = MODE_DATA
        self.uart.write(prompt)
        start = ticks_ms()
        while self._got < n:
            if plus_abort and self._got == 3 and self._plus == 3:
                if ticks_diff(ticks_ms(), self._last_rx) >= GUARD_MS:
                    break
            if ticks_diff(ticks_ms(), start) >= timeout_ms:
                break
            yield GUARD_MS if self._got == 3 else None
        mv = self._din
        self._din = None
        self._mode = MODE_LINE
        if self._cut >= 0:
            return mv[: self._cut] if self._got == n else None
        return mv if self._got == n else None

    def _cut_feed(self, mv):
        """CIPSENDEX input: keep bytes, undo escapes, stop at \\0; returns the bytes consumed."""
        din = self._din
        used = 0
        for c in mv:
            used += 1
            self._got += 1
            if self._esc:
                self._esc = False
                if c == 48:  # \0: the end
                    self._got = len(din)
                    break
                if c != 92:
                    din[self._cut] = 92
                    self._cut += 1
            elif c == 92:
                self._esc = True
                if self._got < len(din):
                    continue
            din[self._cut] = c
            self._cut += 1
            if self._got == len(din):
                break
        if self._got == len(din):
            self._mode = MODE_LINE
            self._wake = ticks_ms()
        return used

    def _data_feed(self, mv):
        if self._cut >= 0:
            return self._cut_feed(mv)
        take = min(len(mv), len(self._din) - self._got)
        if self._got == 0 and bytes(mv[:take]) == b"+++" and ticks_diff(ticks_ms(), self._last_rx) >= GUARD_MS:
            self._plus = 3
        else:
            self._plus = 0
        self._din[self._got : self._got + take] = mv[:take]
        self._got += take
        if self._got == len(self._din):
            self._mode = MODE_LINE  # what follows is surplus: busy
            self._wake = ticks_ms()
        return take

    # ---- passthrough mode ---------------------------------------------------------------------
    def passthrough(self, sink):
        """Forward UART bytes to ``sink.send(buf, off, n)`` (buf[off:off + n]) until a lone '+++', then
        call ``sink.exit()``. The sink may end the mode itself with ``leave_passthrough()``; it may raise
        OSError when its link is gone (the loop goes on, and the family hears of it from its socket).

        What arrives is held until PASS_CHUNK bytes are there (then all of it goes, at most BUF_SIZE at a
        time) or ``transintvl`` ms pass in silence.
        """
        self.buf  # made now, while the command runs (a MemoryError answers ERROR), not under the first bytes
        self._pass_reads()
        self._sink = sink
        self._send = sink.send
        self._pn = 0
        self._plus = 0
        self._mode = MODE_PASS
        self.in_passthrough = True

    def _pass_reads(self):
        """Passthrough reads into PASS_READS * RX_SIZE bytes (until it ends), so that whole reads in a row
        go to the sink in one send: a send costs the interpreter more than a read. When the heap cannot
        spare that (PASS_SPARE left beside it), one read at a time."""
        if MICROPYTHON and mem_free() < PASS_READS * RX_SIZE + PASS_SPARE:
            self._big_reads()
            return
        try:
            rx = bytearray(PASS_READS * RX_SIZE)
        except MemoryError:
            self._big_reads()
            return
        self._rx = rx
        self._views = [memoryview(rx)[k * RX_SIZE : (k + 1) * RX_SIZE] for k in range(1, PASS_READS)]
        self.pass_buf = rx

    def _pass_burst(self, rx, n):
        """The bulk of passthrough: rx[:n], a whole read (at least PASS_CHUNK bytes, nothing held, not
        starting with '+': it cannot begin a '+++'), goes to the sink straight from the read buffer, with
        the whole reads that follow it (_gather); while the UART gives whole reads the next follows without
        a poll, up to PASS_BURST sends. Returns the size of a last, shorter read (or one starting with '+'),
        now at the start of rx, which takes the usual way, else 0."""
        readinto = self.uart.readinto
        burst = PASS_BURST
        while True:
            self._last_rx = ticks_ms()
            if n == RX_SIZE and self._views:
                n = self._gather()
                if n < 0:
                    return -n
            self._send(rx, 0, n)
            burst -= 1
            if not burst or not self.in_passthrough:  # the sink may have ended the mode
                return 0
            n = readinto(rx)
            if not n:
                return 0
            if n < PASS_CHUNK or rx[0] == 43:
                return n

    def _gather(self):
        """_rx holds a whole read (RX_SIZE bytes): the reads that follow go behind it while they come whole,
        PASS_READS in all at most; returns the bytes _rx then holds (or, negated, those of a read that takes
        the usual way: _plus_read)."""
        views = self._views
        n = RX_SIZE
        k = 0
        while k < PASS_READS - 1:
            m = self.uart.readinto(views[k])
            if not m:
                return n
            if m < PASS_CHUNK and views[k][0] == 43:
                return self._plus_read(views[k], n, m)
            n += m
            if m < RX_SIZE:
                return n
            k += 1
        return n

    def _plus_read(self, view, n, m):
        """A short read gathered behind n bytes starts with '+': it may begin a '+++'. The n bytes go to the
        sink, the read moves to the start of _rx, and its size comes back negated."""
        self._send(self._rx, 0, n)
        self._rx[:m] = view[:m]
        return -m

    def _pass_feed(self, mv, now):
        """Take passthrough bytes; returns how many were consumed (0 when a held '+++' ends the mode)."""
        quiet = ticks_diff(now, self._last_rx) >= GUARD_MS
        if self._plus and quiet:
            if self._plus == 3:
                self._plus = 0
                self._pass_flush()
                self.leave_passthrough()
                return 0
            self._spill_plus()
        n = len(mv)
        i = 0
        if self._plus or (quiet and mv[0] == 43):
            while i < n and mv[i] == 43 and self._plus < 3:
                self._plus += 1
                i += 1
            if i < n:
                self._spill_plus()
        buf = self.buf
        while i < n:
            take = min(n - i, BUF_SIZE - self._pn)
            buf[self._pn : self._pn + take] = mv[i : i + take]
            self._pn += take
            i += take
            if self._pn >= PASS_CHUNK:
                self._pass_flush()
        return n

    def _spill_plus(self):
        p = self._plus
        self._plus = 0
        for _ in range(p):
            self.buf[self._pn] = 43
            self._pn += 1
            if self._pn >= PASS_CHUNK:
                self._pass_flush()

    def _pass_idle(self):
        quiet = ticks_diff(ticks_ms(), self._last_rx)
        if self._plus == 3 and quiet >= GUARD_MS:
            self._plus = 0
            self._pass_flush()
            self.leave_passthrough()
            return
        if self._plus and self._plus < 3 and quiet >= GUARD_MS:
            self._spill_plus()  # pluses too slow to be '+++': they are data
        if self._pn and quiet >= self.transintvl:
            self._pass_flush()

    def _pass_flush(self):
        n = self._pn
        self._pn = 0
        if n and self._sink is not None:
            self._send(self.buf, 0, n)

    def leave_passthrough(self):
        sink = self._sink
        self._sink = None
        self._send = None
        self._mode = MODE_LINE
        self.in_passthrough = False
        if sink is not None:
            sink.exit()
        if self._views:
            self._usual_reads()

    def _usual_reads(self):
        """After passthrough, UART reads go back to RX_SIZE bytes and the gathering buffer is given back
        (kept where the heap has no block of RX_SIZE left for the swap)."""
        self._views = ()
        self.pass_buf = None
        try:
            self._rx = bytearray(RX_SIZE)
        except MemoryError:
            pass  # reads go on into the bigger buffer
