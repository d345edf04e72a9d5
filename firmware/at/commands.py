"""Command mode: the bytes of command lines framed, and a complete line run through the table.

A line ends with CR LF (a lone CR or LF too; an LF inside double quotes is data) and is at most LINE_MAX
bytes. A line runs through its table row: the family is imported on first use, the handler found and
remembered under the line's key, the arguments parsed, the result answered. A handler returns None (OK),
False (ERROR), DONE (it wrote its own result), raises AtError, or is a generator: the engine steps it between
polls (it yields how many ms to sleep, None for "soon"), meanwhile input gets ``busy p...`` and URCs wait
until the command has finished.

Commands inherits Modes (data input, passthrough); Engine (at/engine.py) inherits Commands.
"""
import gc
import machine
from at import parser, replies, table
from at.compat import const, ticks_ms, ticks_add, print_exc, generator_result, MICROPYTHON
from at.parser import AtError, TEST, QUERY, SET, EXEC, LOOSE
from at.replies import OK
from at.modes import Modes, MODE_LINE, MODE_DATA

LINE_MAX = const(256)
BUSY = b"\r\nbusy p...\r\n"
_FORCE_RST = b"AT+RST"
_PREFIX = {TEST: "t_", QUERY: "q_", SET: "s_", EXEC: "e_"}
_GENERATOR = type((lambda: (yield))())
DISPATCH_MAX = const(8)  # command lines whose handler the engine remembers (Engine._dispatch)


class Commands(Modes):
    def __init__(self, uart):
        Modes.__init__(self, uart)
        self.echo = True
        self.syslog = False
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
        self._dispatch = {}  # a line's key (_how) -> how it runs: no parsing, lookup or str per line
        self._families = {}

    # ---- responses -------------------------------------------------------------------------------
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

    # ---- command lines ----------------------------------------------------------------------
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
        parsed again: the key finds how (_how). A set line's arguments are parsed where they are in
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
