"""The engine: the loop that reads the UART and the families' sockets, runs what is due (monitors, tasks,
the running command), and writes responses and URCs.

Command mode (framing lines, running them, writing responses): at/commands.py; data-input mode
(``receive``) and passthrough mode (``passthrough``): at/modes.py. Engine inherits Commands, which
inherits Modes.
"""
import select
from at import table
from at.compat import const, ticks_ms, ticks_diff, ticks_add, Poller, print_exc, mem_free
from at.parser import BOOT
from at.replies import DONE, OK
from at.commands import Commands, LINE_MAX
from at.modes import PASS_CHUNK, MODE_LINE, MODE_DATA, MODE_PASS

URC_MAX = const(16)
CR_WAIT_MS = const(5)  # how long a CR that ends a read waits for its LF
IDLE_MS = const(100)
MONITOR_MS = const(10)  # monitors run at most this often (and at least every IDLE_MS)


def _until(when, t, least=0):
    """``t`` ms, or fewer if ``when`` (ticks) comes sooner, but not fewer than ``least``."""
    return min(t, max(least, ticks_diff(when, ticks_ms())))


class Engine(Commands):
    def __init__(self, uart, store):
        Commands.__init__(self, uart)
        self.store = store
        self.uart_cfg = None  # (baud, databits, stopbits, parity, flow) as AT numbers them
        self.sysmsg = 0
        self.min_free = mem_free()
        self.urc_dropped = 0
        self._urcs = []
        self._monitors = []
        self._chores_at = ticks_ms()  # when the monitors run next
        self._poll_uart = Poller()  # while a command runs: only the UART
        self._poll_uart.register(uart, select.POLLIN)
        self._poll_all = Poller(slots=16)  # when idle: the UART and the families' sockets (5 links, server, MQTT)
        self._poll_all.register(uart, select.POLLIN)
        self._watched = {}
        self._tasks = []  # [generator, ticks when it runs next]

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

    def busy(self):
        """A command is running. A method, not a property: a class with a property makes every store to an
        attribute of its instances look the name up through the classes first (py/objtype.c), which costs
        a store on the engine several times more."""
        return self._cmd is not None
