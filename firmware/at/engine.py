"""The engine: frames UART input into lines, dispatches them through the table, and runs the modes.

Command mode: lines end with CR LF (a lone CR or LF too) and are at most 256 bytes.
Data-input mode (``receive``) and passthrough mode (``passthrough``): at/modes.py, which Engine inherits.

A handler returns None (OK), False (ERROR), DONE (it wrote its own result), raises AtError, or is a
generator: the engine steps it between polls (it yields how many ms to sleep, None for "soon"),
meanwhile input gets ``busy p...`` and URCs wait until the command has finished.
"""
import gc
import select
import machine
from at import parser, replies, table
from at.compat import const, ticks_ms, ticks_diff, ticks_add, Poller, print_exc, generator_result, mem_free
from at.compat import MICROPYTHON
from at.parser import AtError, TEST, QUERY, SET, EXEC, LOOSE, BOOT
from at.replies import DONE, OK
from at.modes import Modes, PASS_CHUNK, MODE_LINE, MODE_DATA, MODE_PASS

LINE_MAX = const(256)
URC_MAX = const(16)
CR_WAIT_MS = const(5)  # how long a CR that ends a read waits for its LF
IDLE_MS = const(100)
MONITOR_MS = const(10)  # monitors run at most this often (and at least every IDLE_MS)

BUSY = b"\r\nbusy p...\r\n"
_FORCE_RST = b"AT+RST"
_PREFIX = {TEST: "t_", QUERY: "q_", SET: "s_", EXEC: "e_"}
_GENERATOR = type((lambda: (yield))())
DISPATCH_MAX = const(8)  # command lines whose handler the engine remembers (Engine._dispatch)


def _until(when, t, least=0):
    """``t`` ms, or fewer if ``when`` (ticks) comes sooner, but not fewer than ``least``."""
    return min(t, max(least, ticks_diff(when, ticks_ms())))


class Engine(Modes):
    def __init__(self, uart, store):
        Modes.__init__(self, uart)
        self.store = store
        self.uart_cfg = None  # (baud, databits, stopbits, parity, flow) as AT numbers them
        self.echo = True
        self.syslog = False
        self.sysmsg = 0
        self.min_free = mem_free()
        self.urc_dropped = 0
        self._line = bytearray(LINE_MAX)
        self._n = 0
        self._overflow = False
        self._quote = 0  # the line's quote state (_scan)
        self._cr_wait = False  # a line ended by CR waits briefly for the LF of a CR LF
        self._cmd = None
        self._errors = replies.espat  # how the running command's family writes its errors
        # the last set line's key (b"\r" matches no line: none holds a CR) and how it ran: a publish after a
        # publish takes no slice or lookup
        self._set_key = b"\r"
        self._set_how = None
        self._dispatch = {}  # a line's key (Engine._how) -> how it runs: no parsing, lookup or str per line
        self._urcs = []
        self._families = {}
        self._monitors = []
        self._chores_at = ticks_ms()  # when the monitors run next
        self._poll_uart = Poller()  # while a command runs: only the UART
        self._poll_uart.register(uart, select.POLLIN)
        self._poll_all = Poller(slots=16)  # when idle: the UART and the families' sockets (5 links, server, MQTT)
        self._poll_all.register(uart, select.POLLIN)
        self._watched = {}
        self._tasks = []  # [generator, ticks when it runs next]

    # ---- output -------------------------------------------------------------------------------
    def write(self, data):
        self.uart.write(data)

    def write_slice(self, buf, off, n):
        """Write buf[off:off + n] without allocating a memoryview: every MicroPython stream, the chip's
        UART included, takes ``write(buf, off, max_len)`` (py/stream.c). For the +IPD and passthrough
        hot paths, where an allocation per read costs more than the copy."""
        self.uart.write(buf, off, n)

    def write_buf(self, n):
        """Write the first n bytes of ``buf`` (as write_slice)."""
        self.uart.write(self.buf, 0, n)

    def reply(self, line):
        """Write one response line (str or bytes) with its CR LF, in one write: a client reading line by line
        with a short timeout never sees half a line."""
        self.uart.write((line.encode() if type(line) is str else line) + b"\r\n")

    def error(self, code=parser.E_EXEC):
        """Write the error lines for ``code`` as the running command's family does (esp-at's by default)."""
        self._errors(self, code)

    def restart(self):
        """Reset the module once the UART has sent everything written so far."""
        self.uart.flush()
        machine.reset()

    def urc(self, data, done=None, arg=None):
        """Queue an unsolicited message; it is written between responses. When the queue is full the oldest
        URC without ``done`` is dropped (and counted).

        A source that carries data (a received message) passes ``done``: ``done(arg)`` is called once the
        line has been written on the UART (then it may acknowledge it to its peer), and such a URC is never
        dropped. Such a source takes from its peer only while urc_room() says there is room, and otherwise
        leaves the bytes to TCP's flow control."""
        if len(self._urcs) >= URC_MAX:
            for i in range(len(self._urcs)):
                if type(self._urcs[i]) is not tuple:
                    self._urcs.pop(i)
                    self.urc_dropped += 1
                    break
        self._urcs.append(data if done is None else (data, done, arg))

    def urc_room(self):
        """How many URCs the queue takes before it is full."""
        return URC_MAX - len(self._urcs)

    def write_urcs(self):
        """Write the queued URCs now. The loop does it between commands; a command may call it while it
        waits with nothing of its response written yet (esp-at prints +MQTTSUBRECV while AT+MQTTPUB waits
        for its PUBACK), so a peer's burst flows on while the command waits behind it."""
        while self._urcs:
            item = self._urcs.pop(0)
            if type(item) is tuple:
                self.uart.write(item[0])
                item[1](item[2])
            else:
                self.uart.write(item)

    # ---- the loop -----------------------------------------------------------------------------
    def run(self, wdt):
        """The loop, forever. It feeds ``wdt`` (machine.WDT) when the monitors run (MONITOR_MS to IDLE_MS):
        a pass that hangs resets the module."""
        self._loop(wdt, 0)

    def step(self, timeout_ms):
        """One pass of the loop: wait at most ``timeout_ms`` for input, take it, then run what is due."""
        self._loop(None, timeout_ms)

    def _loop(self, wdt, t):
        """The passes of the loop: forever with ``wdt``, else one pass waiting at most ``t`` ms.

        A pass is inline here, entered once: a Python call costs as much as the rest of a pass, which for
        an ``AT`` is a poll, a read, the handler (found by the line, Engine._dispatch) and one write. What
        stays the same object is read once into locals, and the state a pass ends with (``cmd``, ``mode``,
        the line being typed) is where the next one starts, read again only after what may change it: a
        global or an attribute is a dict lookup, and a store to an attribute more (py/objtype.c looks for
        a property first). The functions a pass calls keep their frames within MicroPython's 11 words on
        the C stack (tools/frame_sizes): a bigger frame is a heap allocation per call."""
        uart = self.uart
        readinto = uart.readinto  # bound once: a method lookup per call is a dict lookup or two
        write = uart.write
        rx = self._rx
        rx_view = memoryview(rx)  # a slice of it is one small object; of rx, a copy
        find = rx.find
        urcs = self._urcs
        tasks = self._tasks
        monitors = self._monitors
        how_of = self._dispatch.get
        poll_all = self._poll_all
        poll_uart = self._poll_uart
        ok = OK
        ok_len = len(OK)  # written as write(buf, off, n): the host board's Python UART then needs no len()
        to_bytes = bytes
        line_mode, data_mode, pass_mode = MODE_LINE, MODE_DATA, MODE_PASS
        ms = ticks_ms
        diff = ticks_diff
        ready = poll_all.ready  # the sockets a poll reported (only poll_all has sockets)
        cap = len(ready)
        chores_at = self._chores_at
        cmd = self._cmd
        mode = self._mode
        cr_wait = self._cr_wait
        partial = cr_wait or self._n or self._overflow  # a line is being typed
        now = ms()
        # when the last line read in command mode came, not yet in _last_rx (None: it is there); only data
        # input, passthrough and a CR's wait for its LF read _last_rx, so it is stored before what may start them
        rx_at = None
        # the usual state: command mode, nothing running, nothing half-typed (True: so it is)
        settled = cmd is None and mode == line_mode and not partial
        forever = wdt is not None
        if forever:
            wdt.feed()
        while True:
            plain = settled and not urcs
            if forever:  # how long the pass may wait for input
                if plain and not tasks:
                    t = IDLE_MS
                elif urcs and cmd is None and mode == line_mode:
                    t = 0
                else:
                    t = CR_WAIT_MS if cr_wait else IDLE_MS
                    if cmd is not None:
                        t = _until(self._wake, t)
                    if tasks:
                        t = self._tasks_due(t)
                    if mode == pass_mode and (self._pn or self._plus):
                        t = _until(ticks_add(self._last_rx, self.transintvl), t, 1)
            try:
                # sockets are read only when nothing is running, nothing is being typed in and no URC waits
                if plain or (cmd is None and mode != data_mode and (not urcs or mode == pass_mode)):
                    poller = poll_all
                else:
                    poller = poll_uart
                # what is ready is taken before any of it is handled (handlers may register and unregister):
                # the UART first, then the sockets
                uart_ready = False
                n = 0
                for entry in poller.ipoll(t):  # MicroPython's yields one tuple, reused
                    if entry[0] is uart:
                        uart_ready = True
                    elif n < cap:
                        ready[n] = entry[0]
                        ready[n + 1] = entry[1]
                        n += 2
                now = ms()
                if not uart_ready:
                    pass
                elif mode != line_mode:
                    # data input or passthrough: they read into the engine's own buffer, which they make
                    # RX_SIZE (the loop's rx stays the line-sized one); rx_at is None here: what may start
                    # them runs after it is stored
                    self._read_uart()
                    settled = False
                    cmd = self._cmd
                    mode = self._mode
                    if mode == line_mode:  # data input or '+++' ended, and what followed may be a line
                        cr_wait = self._cr_wait
                        partial = cr_wait or self._n or self._overflow
                else:
                    k = readinto(rx)
                    if not k:
                        pass
                    elif (k > 2 and rx[k - 1] == 10 and plain and k <= LINE_MAX + 2 and find(b"\r", 0, k) == k - 2
                          and find(b"\n", 0, k - 2) < 0):
                        # one whole line in one read, the common case: what _feed does, without its calls
                        if self.echo:
                            write(rx, 0, k)
                        line = to_bytes(rx_view[: k - 2])
                        how = how_of(line)
                        if how is None or how[1] is None or line[-1] == 61:  # new, a fixed answer, a set
                            self.execute(line)
                        else:  # AT+X, AT+X? or AT+X=? that ran before: what execute does
                            if self._errors is not how[0]:
                                self._errors = how[0]
                            try:
                                result = how[1](self)
                            except Exception as e:  # AtError; or a bug in a family
                                self._failed(e)
                                result = DONE
                            if result is None:
                                write(ok, 0, ok_len)
                            else:
                                self._outcome(result)
                        cmd = self._cmd
                        mode = self._mode
                        if cmd is None and mode == line_mode:
                            rx_at = now  # for _last_rx: its store costs as much as the rest of the line
                        else:
                            self._last_rx = now
                            rx_at = None
                            settled = False
                    else:
                        if rx_at is not None:  # the last line's time, now that _feed may read it
                            self._last_rx = rx_at
                            rx_at = None
                        self._feed(rx, k)
                        settled = False
                        cmd = self._cmd
                        mode = self._mode
                        cr_wait = self._cr_wait
                        partial = cr_wait or self._n or self._overflow
                while n:  # the sockets: only while idle and not in data input
                    n -= 2
                    obj = ready[n]
                    ready[n] = None
                    if cmd is None and mode != data_mode:
                        fn = self._watched.get(obj)
                        if fn is not None:
                            if rx_at is not None:  # the last line's time, now that what follows may read it
                                self._last_rx = rx_at
                                rx_at = None
                            fn(obj, ready[n + 1])
                            settled = False
                            cmd = self._cmd
                            mode = self._mode
                # what is due: monitors, tasks, a CR whose LF did not come, the running command, passthrough's
                # idle flush, the URCs (each read again after what may change it)
                if diff(now, chores_at) >= 0:
                    chores_at = ticks_add(now, MONITOR_MS)
                    self._chores_at = chores_at  # for the next step()
                    if forever:
                        wdt.feed()
                    if rx_at is not None:  # the last line's time, now that what follows may read it
                        self._last_rx = rx_at
                        rx_at = None
                    for fn in monitors:
                        try:
                            fn(self)
                        except Exception as e:
                            print_exc(e)
                    settled = False
                    cmd = self._cmd
                    mode = self._mode
                if tasks:
                    if rx_at is not None:  # the last line's time, now that what follows may read it
                        self._last_rx = rx_at
                        rx_at = None
                    self._run_tasks()
                    settled = False
                    cmd = self._cmd
                    mode = self._mode
                if not settled:
                    if cr_wait and diff(ms(), self._last_rx) >= CR_WAIT_MS:
                        self._cr_wait = False
                        self._end_line()
                        cmd = self._cmd
                        mode = self._mode
                        cr_wait = partial = False
                    if cmd is not None and diff(ms(), self._wake) >= 0:
                        self._resume()
                        cmd = self._cmd
                        mode = self._mode
                    if mode == pass_mode and (self._pn or self._plus):
                        self._pass_idle()
                        mode = self._mode
                    settled = cmd is None and mode == line_mode and not partial
                if urcs and cmd is None and mode == line_mode:
                    self.write_urcs()
            except Exception as e:  # whatever a pass ran into (a link dying under a write) ends only it
                if not forever:
                    raise
                print_exc(e)
                cmd = self._cmd
                mode = self._mode
                cr_wait = self._cr_wait
                partial = cr_wait or self._n or self._overflow
                settled = cmd is None and mode == line_mode and not partial
                now = ms()
            if not forever:
                if rx_at is not None:
                    self._last_rx = rx_at
                return

    def boot(self):
        """Run ``boot(at)`` of each family whose table rows carry the BOOT flag (e.g. rejoin the saved AP),
        in table order; the other families stay unimported until their first command."""
        booted = []
        for entry in table.TABLE:
            if entry[2] & BOOT and entry[1] not in booted:
                booted.append(entry[1])
                try:
                    self.family(entry[1]).boot(self)
                except Exception as e:  # a family that cannot boot must not stop the module
                    print_exc(e)

    def monitor(self, fn):
        """Call ``fn(at)`` from the loop, every 10 to 100 ms: link state, keep-alives, timeouts."""
        if fn not in self._monitors:
            self._monitors.append(fn)

    def watch(self, obj, fn):
        """Call ``fn(obj, events)`` when ``obj`` (a socket) is readable, but only while the module is idle:
        no command running, no URC waiting, not in data input. Meanwhile the peer is held by TCP's own
        flow control, so what ``fn`` reports (``+IPD``) never lands inside a response."""
        self._watched[obj] = fn
        self._poll_all.register(obj, select.POLLIN)

    def unwatch(self, obj):
        if self._watched.pop(obj, None) is not None:
            self._poll_all.unregister(obj)

    def spawn(self, gen):
        """Run a generator beside the commands (it yields ms to sleep, None for soon), e.g. a reconnect."""
        self._tasks.append([gen, ticks_ms()])

    def _run_tasks(self):
        now = ticks_ms()
        for task in list(self._tasks):
            if ticks_diff(now, task[1]) < 0:
                continue
            try:
                delay = next(task[0])
                task[1] = ticks_add(now, 10 if delay is None else delay)
            except StopIteration:
                self._tasks.remove(task)
            except Exception as e:
                print_exc(e)
                self._tasks.remove(task)

    def _tasks_due(self, t):
        for task in self._tasks:
            t = _until(task[1], t)
        return t

    def _read_uart(self):
        rx = self._rx
        n = self.uart.readinto(rx)
        if n and self._mode == MODE_PASS and not (self._pn or n < PASS_CHUNK or self._plus or rx[0] == 43):
            n = self._pass_burst(rx, n)  # the bulk of passthrough (at/modes.py); what is left takes the usual way
        if n:
            self._feed(rx, n)

    def feed(self, data):
        """Handle bytes that arrived on the UART."""
        self._feed(bytes(data), len(data))

    def _feed(self, buf, n):
        """Handle buf[:n] (bytes or a bytearray), which arrived on the UART."""
        now = ticks_ms()
        i = 0
        if self._cr_wait:
            self._cr_wait = False
            if buf[0] == 10:
                if self.echo:
                    self.uart.write(b"\n")
                i = 1
            self._end_line()
        while i < n:
            if self._mode == MODE_LINE and self._cmd is None:
                i = self._line_feed(buf, i, n)
            else:
                i = self._data_or_busy(buf, i, n, now)
        self._last_rx = now

    def _data_or_busy(self, buf, i, n, now):
        """Passthrough or data-input bytes, or input while a command runs; returns where they end."""
        if self._mode == MODE_PASS:
            return i + self._pass_feed(memoryview(buf)[i:n], now)
        if self._mode == MODE_DATA:
            return i + self._data_feed(memoryview(buf)[i:n])
        self._busy(memoryview(buf)[i:n])
        return n

    # ---- command mode -------------------------------------------------------------------------
    def _line_feed(self, buf, i, n):
        """Take command-mode bytes from buf[i:n]; returns where they end (after a line's terminator)."""
        j = buf.find(b"\r", i, n)
        if j < 0 or buf.find(b"\n", i, j) >= 0:  # no CR, or an LF before it: mind the quotes
            j = self._scan(buf, i, n)
        if j == n:  # the line goes on in the next read
            self._keep(buf, i, n)
            if self.echo:
                self._echo(buf, i, n)
            return n
        end = j + 1
        if buf[j] == 13:
            if end == n:
                self._cr_wait = True
            elif buf[end] == 10:
                end += 1
        if self.echo:
            self._echo(buf, i, end)
        if self._cr_wait or self._n or self._overflow or j - i > LINE_MAX:
            self._keep(buf, i, j)
            if not self._cr_wait:
                self._end_line()
        else:  # the whole line came in this read
            self._quote = 0
            if j > i:
                self.execute(buf[i:j])
        return end

    def _echo(self, buf, i, j):
        self.uart.write(buf, i, j - i)

    def _keep(self, buf, i, j):
        """Add buf[i:j] to the line being typed (or note that it is too long)."""
        if self._overflow or self._n + j - i > LINE_MAX:
            self._overflow = True
        elif j > i:
            self._line[self._n : self._n + j - i] = buf[i:j]
            self._n += j - i

    def _scan(self, buf, j, n):
        """Where the line in buf[j:n] ends: at a CR, or at an LF outside double quotes (a lone LF inside a
        quoted parameter is data, DESIGN §3); the quote state carries over between reads."""
        q = self._quote  # bit 0: inside quotes, bit 1: the last byte was a backslash
        while j < n:
            c = buf[j]
            if c == 13 or (c == 10 and not q & 1):
                break
            if c == 34 and not q & 2:
                q ^= 1
            q = q & 1 | 2 if c == 92 and not q & 2 else q & 1
            j += 1
        self._quote = q
        return j

    def _end_line(self):
        n = self._n
        self._n = 0
        self._quote = 0
        if self._overflow:
            self._overflow = False
            replies.espat(self, parser.E_LENGTH)  # no command was dispatched: esp-at's answer
        elif n:
            self.execute(self._line[:n])

    def _busy(self, mv):
        data = bytes(mv)
        if not data.strip(b"\r\n"):
            return  # an empty line is ignored, busy or not (a CR LF sent after data input)
        if _FORCE_RST + b"\r" in data or _FORCE_RST + b"\n" in data:
            self.write(b"\r\nWill force to restart!!!\r\n")
            self.restart()
        if self.syslog:
            self.uart.write(b"ERR CODE:0x%08x\r\n" % parser.E_BUSY)
        self.uart.write(BUSY)

    def family(self, name):
        """The family module ``cmds.<name>``, imported on first use. While it loads, MicroPython collects
        every 4 KiB allocated (gc.threshold): what the import keeps then fills the holes its transients
        leave instead of scattering over a heap that boot left fragmented, so a smaller heap suffices."""
        mod = self._families.get(name)
        if mod is None:
            was = gc.threshold() if MICROPYTHON else None  # boot collects often already
            if MICROPYTHON:
                gc.threshold(4096)
            try:
                mod = __import__("cmds." + name, None, None, ("_",))
            finally:
                if MICROPYTHON:
                    gc.threshold(was)
            self._families[name] = mod
        return mod

    def execute(self, line):
        """Run one complete command line (bytes or a bytearray, without its terminator). A line whose key
        (``AT+X``, ``AT+X?``, ``AT+X=?``, or ``AT+X=`` for every set line) ran before runs without being
        parsed again: the key finds how (Engine._how). A set line's arguments are parsed where they are in
        the line, and the handler is called here: a Python call costs as much as parsing a field."""
        line = bytes(line)
        try:
            eq = line.find(b"=")
            if eq >= 0 and (line[-1] != 63 or line[-2] != 61):  # "=", and not AT+X=?: a set line
                if line.startswith(self._set_key):  # the same command as the last set line
                    how = self._set_how
                else:
                    how = self._dispatch.get(line[: eq + 1])
                    if how is None:
                        how = self._how(line, line[: eq + 1])
                    self._set_key = line[: eq + 1]
                    self._set_how = how
                if self._errors is not how[0]:
                    self._errors = how[0]
                spec = how[2]
                if spec is None:  # a spec that depends on the family's state (e.g. AT+CIPMUX)
                    spec = how[4]()
                result = how[1](self, *parser.parse_args(line, spec, how[3], eq + 1))
            else:
                how = self._dispatch.get(line)
                if how is None:
                    how = self._how(line, line)
                self._errors = how[0]
                if how[1] is not None:
                    result = how[1](self)
                else:  # the row's fixed answer to AT+X=? ("": OK alone)
                    if how[2]:
                        self.reply(how[2])
                    result = None
        except Exception as e:  # AtError; or a bug in a family, which must not kill the module
            self._failed(e)
            return
        if result is None:
            self.uart.write(OK)
        else:
            self._outcome(result)

    def _outcome(self, result):
        """What a handler's result other than None (OK) asks for: a generator runs, False is ERROR, DONE
        is nothing more."""
        if type(result) is _GENERATOR:
            self._cmd = result
            self._wake = ticks_ms()
            self._resume()
        elif result is False:
            self.error(parser.E_EXEC)

    def _failed(self, e):
        if isinstance(e, AtError):
            self.error(e.code)
        else:
            print_exc(e)
            self.error(parser.E_EXEC)

    def _how(self, line, key):
        """Parse the line, find its row and handler, remember them under ``key``: (the family's error
        writer, the handler or None for a fixed test answer, the set spec (None when it is a function of the
        family's state) or that answer, LOOSE, that function)."""
        self._errors = replies.espat
        name, form, _ = parser.split_line(line)
        entry = table.find(name)
        if entry is None:
            raise AtError(parser.E_UNKNOWN)
        if form == TEST and len(entry) > 3 and entry[2] & TEST:  # the row's answer: its family stays unimported
            how = (replies.espat, None, entry[3], 0, None)
        else:
            mod = self.family(entry[1])
            errors = getattr(mod, "ERRORS", replies.espat)
            self._errors = errors
            if not entry[2] & form:
                raise AtError(parser.E_FORM)
            fname = table.handler_name(name)
            fn = getattr(mod, _PREFIX[form] + fname)
            spec = getattr(mod, "p_" + fname) if form == SET else None
            if callable(spec):
                how = (errors, fn, None, entry[2] & LOOSE, spec)
            else:
                how = (errors, fn, spec, entry[2] & LOOSE, None)
        if len(self._dispatch) >= DISPATCH_MAX:
            self._dispatch.clear()
        self._dispatch[key] = how
        return how

    def _finish(self, result):
        if result is None:
            self.uart.write(OK)
        elif result is False:
            self.error(parser.E_EXEC)

    def _resume(self):
        try:
            delay = next(self._cmd)
        except StopIteration as e:
            self._cmd = None
            self._finish(generator_result(e))
            return
        except AtError as e:
            self._abort()
            self.error(e.code)
            return
        except Exception as e:
            print_exc(e)
            self._abort()
            self.error(parser.E_EXEC)
            return
        self._wake = ticks_add(ticks_ms(), 10 if delay is None else delay)

    def _abort(self):
        self._cmd = None
        self._din = None
        if self._mode == MODE_DATA:
            self._mode = MODE_LINE

    def busy(self):
        """A command is running. A method, not a property: a class with a property makes every store to an
        attribute of its instances look the name up through the classes first (py/objtype.c), which costs
        a store on the engine several times more."""
        return self._cmd is not None
