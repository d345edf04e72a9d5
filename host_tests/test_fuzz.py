"""Bad input on the AT UART (DESIGN.md §6 "Bad input"), under MicroPython and CPython.

Random and adversarial bytes go in; the module must never die, must answer every complete line it
received while idle with exactly one final result (OK or ERROR), must never say ``busy p...`` (no
command here runs in the background), and under MicroPython its heap must stay flat.

How answers are counted (echo is off, so the output holds only responses):
- the engine frames lines at CR LF, a lone CR or a lone LF (a CR LF split across two reads is one
  terminator), except that an LF inside double quotes is data (DESIGN §3; a backslash escapes the byte
  after it); ``frame()`` below is that rule, written independently of the firmware;
- an empty line gets no answer; a line longer than 256 bytes gets ERROR; any other line gets exactly
  one ``OK`` or ``ERROR`` line;
- lines that could restart the module, change the UART, turn echo back on, enter data-input mode
  or start background work (AT+RST, AT+RESTORE, AT+GSLP, AT+UART*, ATE1, AT+FS, AT+CWJAP...) are
  neutered in random input by prefixing an ``x`` (which cannot change the framing): any line starting
  with "AT" that the engine may accept and that is not on an allowlist of harmless commands.
"""
import fcntl
import os
import random
import re
import select
import time

from harness import Emulator, Timeout

LINE_MAX = 256
SEED = 20261121
HEAP = "256K"
HEAP_TOLERANCE = 2048

# Random lines starting with "AT" are neutered unless the engine is sure to reject them or they name
# one of these commands, whose every form is harmless: answered at once, no restart, no UART change,
# no echo, no data-input or passthrough mode, no background work. An allowlist, so that commands added
# to the table later (Wi-Fi joins, sockets, MQTT...) never turn the fuzz into a different test.
SAFE_NAMES = {b"", b"E0", b"+GMR", b"+CMD", b"+SYSRAM", b"+SYSLOG", b"+SYSMSG", b"+SYSSTORE", b"+RFPOWER",
              b"+SLEEP", b"+GCMR", b"+IHELP"}
SAFE_PREFIXES = (b"AT+FS=0,3,", b"AT+SYSFLASH=2,")  # file size, partition read: fixed name and operation
NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+_!%-./: \t\x0b\x0c")
# Command names the generator likes to aim at, so random lines reach the parameter parser.
NAMES = (b"", b"+GMR", b"+CMD", b"+SYSRAM", b"+SYSLOG", b"+SYSMSG", b"+SYSSTORE", b"+SLEEP", b"+RFPOWER",
         b"+GCMR", b"+IHELP", b"E0", b"+", b"++", b"+\xff", b"+SYS\x00RAM", b"+sysmsg", b"+Sysram")
VALID = (b"AT", b"ATE0", b"AT+GMR", b"AT+CMD?", b"AT+SYSRAM?", b"AT+SYSLOG=%(v)s", b"AT+SYSLOG?",
         b"AT+SYSMSG=%(v)s", b"AT+SYSMSG?", b"AT+SYSSTORE=%(v)s", b"AT+SYSSTORE?", b"AT+SLEEP=%(v)s",
         b"AT+SLEEP?", b"AT+RFPOWER=%(v)s", b"AT+RFPOWER=%(v)s,%(n)s", b"AT+RFPOWER?", b"AT+GCMR",
         b"AT+GCMR=?", b"AT+IHELP=?", b'AT+FS=0,3,"%(s)s"', b'AT+SYSFLASH=2,"%(s)s",%(v)s,%(n)s')
SPECIAL = b'\r\n\x00\xff"\\,=?+ -0123456789AT'
TERMINATORS = (b"\r\n", b"\r", b"\n", b"\n\r", b"\r\r\n", b"\r\n\r\n")
# A response line is one of these; anything else in the output is garbage.
RESPONSE = re.compile(
    rb"OK|ERROR|ERR CODE:0x[0-9a-f]{8}|\+[A-Z_]+:.*|\+GCMR|\+IHELP|# AT.*|"
    rb"AT version:.*|SDK version:.*|compile time.*|Bin version:.*"
)


# ---- the framing model ------------------------------------------------------------------------
def frame(stream):
    """Split a byte stream as the engine does: (complete lines, unterminated tail)."""
    lines = []
    start = i = 0
    n = len(stream)
    quoted = escaped = False
    while i < n:
        c = stream[i]
        if c == 13 or (c == 10 and not quoted):
            lines.append(stream[start:i])
            i += 2 if c == 13 and i + 1 < n and stream[i + 1] == 10 else 1
            start = i
            quoted = escaped = False
        else:
            if c == 34 and not escaped:
                quoted = not quoted
            escaped = c == 92 and not escaped
            i += 1
    return lines, stream[start:]


def expected_answers(lines):
    """How many final results these complete lines must produce."""
    return sum(1 for line in lines if line)


def command_name(line):
    """The name the engine looks up for a line starting with "AT" (the esp-at forms: =? ? = exec)."""
    rest = line[2:]
    if rest.endswith(b"=?"):
        name = rest[:-2]
    elif rest.endswith(b"?") and b"=" not in rest:
        name = rest[:-1]
    else:
        name = rest.split(b"=", 1)[0]
    return name.strip().upper()


def dangerous(line):
    if len(line) > LINE_MAX or line[:2].upper() != b"AT":
        return False  # too long, or no prefix (in any case, seed 004 §2): ERROR whatever it says
    if line.upper().startswith(SAFE_PREFIXES):
        return False
    # Whatever the form, the name the engine checks starts with the text up to the first '=' or '?':
    # a byte there that no command name has means ERROR.
    head = re.split(rb"[=?]", line[2:], 1)[0]
    if any(c not in NAME_CHARS for c in head):
        return False
    return command_name(line) not in SAFE_NAMES


def neuter(stream):
    """Prefix every dangerous line with 'x' (keeps every terminator where it was)."""
    out = bytearray()
    start = i = 0
    n = len(stream)
    while i <= n:
        if i == n or stream[i] in (10, 13):
            line = stream[start:i]
            out += b"x" + line if dangerous(line) else line
            if i < n:
                out.append(stream[i])
            start = i + 1
        i += 1
    return bytes(out)


def random_line(rng):
    """One random line body (no terminator), biased towards what the parser has to cope with."""
    kind = rng.random()
    if kind < 0.08:  # a long run without terminator, beyond the 256-byte line buffer
        return bytes(rng.choice(b"AT+=,\"\\x\x00\xff") for _ in range(rng.randint(257, 900)))
    if kind < 0.35:  # raw random bytes, terminators included (they split lines at random places)
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 40)))
    if kind < 0.5:  # well-formed commands with values in and out of range
        v = rng.choice((0, 1, 2, 3, 7, 8, 11, 40, 84, 85, -1))
        return rng.choice(VALID) % {b"v": b"%d" % v, b"s": rng.choice((b"ble_data", b"x", b"", b"\\\"")), b"n": b"%d" % v}
    body = bytearray(b"AT" if rng.random() < 0.9 else rng.choice((b"at", b"aT", b"At", b"A", b"")))
    body += rng.choice(NAMES)
    body += rng.choice((b"", b"=", b"?", b"=?", b"=?", b"?=", b"=="))
    for _ in range(rng.randint(0, 6)):
        r = rng.random()
        if r < 0.3:
            body += b"%d" % rng.choice((0, 1, 3, 7, -1, 255, 2 ** 31, 99999999999999999999, -(2 ** 64)))
        elif r < 0.5:
            body += b'"' + bytes(rng.choice(SPECIAL) for _ in range(rng.randint(0, 8))) + rng.choice((b'"', b"", b"\\"))
        elif r < 0.7:
            body += bytes(rng.choice(SPECIAL[2:]) for _ in range(rng.randint(0, 6)))  # no CR/LF
        else:
            body += bytes(rng.randrange(256) for _ in range(rng.randint(0, 4)))
        body += rng.choice((b",", b",", b",,", b", ", b""))
    return bytes(body)


def random_stream(rng, lines):
    parts = []
    for _ in range(lines):
        parts.append(random_line(rng))
        parts.append(rng.choice(TERMINATORS))
    return neuter(b"".join(parts))


def chunks(rng, data, most=300):
    """Cut data into random-sized writes (1..most bytes)."""
    out = []
    i = 0
    while i < len(data):
        n = rng.randint(1, most)
        out.append(data[i : i + n])
        i += n
    return out


# ---- driving the port -------------------------------------------------------------------------
def finals(out):
    """The final results (OK/ERROR lines) among the complete response lines in ``out``."""
    return [line for line in out.split(b"\r\n")[:-1] if line in (b"OK", b"ERROR")]


def final_count(out):
    return len(finals(out))


def pump(emu, writes, expect, timeout=30, quiet=0.3):
    """Write every chunk while reading the answers (a pty holds only a few KB each way: writing
    without reading would stall the firmware on its own output), then read until ``expect`` final
    results have arrived and the port has gone quiet. Returns the output."""
    fd = emu.fd
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    out = bytearray(emu.buf)
    emu.buf = b""
    deadline = time.monotonic() + timeout
    try:
        for chunk in writes:
            view = memoryview(chunk)
            while view:
                if time.monotonic() > deadline:
                    raise Timeout("stalled writing: %d bytes left of a chunk; got %r" % (len(view), bytes(out[-300:])))
                r, w, _ = select.select([fd], [fd], [], 1)
                if r:
                    out += _read(fd)
                if w:
                    try:
                        view = view[os.write(fd, view) :]
                    except BlockingIOError:
                        pass
        while final_count(out) < expect:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise Timeout(
                    "%d of %d lines answered (OK/ERROR) before the timeout; last output %r"
                    % (final_count(out), expect, bytes(out[-300:]))
                )
            out += _read(fd)
        while select.select([fd], [], [], quiet)[0]:  # anything extra must show up in the count
            out += _read(fd)
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
    return bytes(out)


def _read(fd):
    try:
        return os.read(fd, 65536)
    except BlockingIOError:
        return b""


def check_output(out, expect, where):
    got = final_count(out)
    assert got == expect, "%s: %d complete lines sent, %d final results (OK/ERROR) came back" % (where, expect, got)
    assert b"busy p..." not in out, "%s: 'busy p...' while no command was running" % where
    lines = out.split(b"\r\n")
    assert lines[-1] == b"", "%s: output ends inside a line: %r" % (where, lines[-1][-100:])
    for line in lines:
        assert not line or RESPONSE.fullmatch(line), "%s: garbage in the output: %r" % (where, line[:200])


def start(interp):
    """An emulator; MicroPython runs the firmware as .mpy, as the chip does, in a bounded heap, so a leak or a
    big allocation shows up."""
    return Emulator(interp, args=("--mpy", "--heap", HEAP) if interp == "micropython" else ())


def quiet_echo_off(emu):
    emu.send(b"ATE0\r\n")
    emu.read_until(b"OK\r\n")
    emu.drain(0.2)


def fuzz(emu, rng, lines, where):
    data = random_stream(rng, lines) + b"\r\n"  # whatever is pending gets terminated at the end
    complete, tail = frame(data)
    assert tail == b""
    expect = expected_answers(complete)
    out = pump(emu, chunks(rng, data), expect, timeout=40)
    check_output(out, expect, where)
    return expect


def still_alive(emu):
    """After the fuzz: AT answers OK, nothing crashed, nothing restarted."""
    quiet_echo_off(emu)  # random input may have left a partial line or changed nothing at all
    assert emu.command("AT") == [b"OK"]
    status = emu.control(op="status")
    assert status["crashes"] == 0, "firmware crashed during the fuzz:\n" + emu.console()[-3000:]
    assert status["boots"] == 1, "firmware restarted during the fuzz (boots=%d)" % status["boots"]


def sysram(emu):
    lines = emu.command("AT+SYSRAM?")
    assert lines[-1] == b"OK" and len(lines) == 2, lines
    m = re.fullmatch(rb"\+SYSRAM:(\d+),(\d+)", lines[0])
    assert m, lines
    return int(m.group(1)), int(m.group(2))


# ---- the model itself ---------------------------------------------------------------------------
def test_frame_model():
    assert frame(b"AT\r\nAT\rAT\nAT") == ([b"AT", b"AT", b"AT"], b"AT")
    assert frame(b"\r\n\n\r") == ([b"", b"", b""], b"")  # CRLF, LF, CR: three empty lines
    assert frame(b"A\r\r\nB\n\r") == ([b"A", b"", b"B", b""], b"")
    assert expected_answers([b"", b"x" * 300, b"AT"]) == 2
    assert neuter(b"AT+RST\r\nAT+GMR\nATE1\rat+rst\r\n") == b"xAT+RST\r\nAT+GMR\nxATE1\rxat+rst\r\n"
    assert frame(neuter(b"\rAT+RESTORE\n"))[0] == [b"", b"xAT+RESTORE"]
    assert neuter(b'AT+FS=0,3,"a"\nAT+fs=0,1,"a",0,1\nAT+SYSFLASH=2,"RST",0,1\n') == (
        b'AT+FS=0,3,"a"\nxAT+fs=0,1,"a",0,1\nAT+SYSFLASH=2,"RST",0,1\n'
    )
    assert neuter(b"AT+CWJAP=a,b\nAT+\xffRST\nAT+Sysmsg?\nAT+NEWCMD=?\nAT E1 \nAT+GMR=?=?\n") == (
        b"xAT+CWJAP=a,b\nAT+\xffRST\nAT+Sysmsg?\nxAT+NEWCMD=?\nxAT E1 \nxAT+GMR=?=?\n"  # the last: to be safe
    )
    assert command_name(b"AT +gmr =?") == b"+GMR" and command_name(b"AT+X=1?") == b"+X"


# ---- (a) random bytes ---------------------------------------------------------------------------
def test_random_bytes(interp):
    rng = random.Random(SEED)
    with start(interp) as emu:
        quiet_echo_off(emu)
        sent = 0
        for round_ in range(4):
            sent += fuzz(emu, rng, 400, "%s round %d" % (interp, round_))
        assert sent > 1000
        still_alive(emu)


def test_unterminated_runs_and_byte_by_byte(interp):
    """Long runs with no terminator (the 256-byte buffer must not overflow into the next line), and
    lines dribbled in one byte per write, CR LF split across writes."""
    rng = random.Random(SEED + 1)
    with start(interp) as emu:
        quiet_echo_off(emu)
        run = bytes(rng.choice(b'AT+=,"\\\x00\xff?') for _ in range(5000))
        out = pump(emu, chunks(rng, run + b"\r\nAT\r\n", 700), 2)
        check_output(out, 2, "5000-byte run")
        assert out == b"\r\nERROR\r\n\r\nOK\r\n", out
        data = b"AT\r\nAT+SYSLOG?\r\n\r\nAT+GMR=?\rAT\n" + b"A" * 256 + b"\r\n" + b"AT" + b" " * 254 + b"\r\n"
        out = pump(emu, [bytes([b]) for b in data], 6)
        check_output(out, 6, "byte by byte")
        assert finals(out) == [b"OK", b"OK", b"ERROR", b"OK", b"ERROR", b"OK"], out  # 256 bytes: not too long
        still_alive(emu)


# ---- (b) adversarial lines ----------------------------------------------------------------------
# (line, the final result it must get: b"OK", b"ERROR", or None for "exactly one of them")
ADVERSARIAL = [
    (b"AT+", b"ERROR"),
    (b"AT=", b"ERROR"),
    (b"AT?", b"ERROR"),
    (b"AT+CMD=?", b"ERROR"),  # AT+CMD has only the query form
    (b"AT+GMR=", b"ERROR"),
    (b"AT+GMR?", b"ERROR"),
    (b"AT++GMR", b"ERROR"),
    (b"AT+GMR+", b"ERROR"),
    (b"AT+NOSUCHCMD", b"ERROR"),
    (b"xat", b"ERROR"),  # no AT prefix
    (b"a t", b"ERROR"),
    (b"at", b"OK"),  # seed 004 §2: commands are case-insensitive, the prefix too
    (b"at+gmr", b"OK"),
    (b"aT+GMR", b"OK"),
    (b"At", b"OK"),
    (b"AT+gmr", b"OK"),
    (b"AT+SysRam?", b"OK"),
    (b"AT+SYSMSG=99999999999999999999", b"ERROR"),
    (b"AT+SYSMSG=-99999999999999999999", b"ERROR"),
    (b"AT+SYSMSG=-1", b"ERROR"),
    (b"AT+SYSMSG=8", b"ERROR"),
    (b"AT+SYSMSG=1a", b"ERROR"),
    (b"AT+SYSMSG=0x1", b"ERROR"),
    (b"AT+SYSMSG=+1", b"ERROR"),
    (b'AT+SYSMSG="1"', b"ERROR"),  # an integer must not be quoted
    (b"AT+SYSMSG=", b"ERROR"),  # too few
    (b"AT+SYSMSG=,", b"ERROR"),
    (b"AT+SYSMSG=1,2", b"ERROR"),  # too many
    (b"AT+SYSMSG=1,,,,,,,,", None),  # trailing empty fields
    (b"AT+SYSMSG=1\x00", b"ERROR"),
    (b"AT+SYSMSG=\xff", b"ERROR"),
    (b"AT+SYSRAM=1", b"ERROR"),
    (b"AT+RFPOWER=-5", b"ERROR"),
    (b"AT+RFPOWER=" + b"9" * 200, b"ERROR"),
    (b"AT+SYSFLASH=2", b"ERROR"),  # too few
    (b'AT+SYSFLASH=2,"ble_data",0,4,5', b"ERROR"),  # too many
    (b'AT+SYSFLASH=2,"ble_data', b"ERROR"),  # unterminated quote
    (b'AT+SYSFLASH=2,"ble_data\\', b"ERROR"),  # escape at end of line
    (b'AT+SYSFLASH=2,"ble_data\\"', b"ERROR"),  # escaped quote, still unterminated
    (b'AT+SYSFLASH=2,"ble_data"x,0,4', b"ERROR"),
    (b'AT+SYSFLASH=2,"",0,4', b"ERROR"),
    (b"AT+SYSFLASH=2,,0,4", b"ERROR"),  # an empty required field
    (b"AT+SYSFLASH=2,ble_data,0,4", b"ERROR"),  # strings must be quoted (esp-at commands)
    (b'AT+SYSFLASH=2,"\x00\xff\x80\x01",0,4', b"ERROR"),  # binary in quotes
    (b'AT+SYSFLASH=2,"\xc3\xa9\\,\\\\\\"",0,4', b"ERROR"),  # escapes, no such partition
    (b'AT+SYSFLASH=2,"ble_data",99999999999999999999,4', b"ERROR"),
    (b'AT+SYSFLASH=2,"ble_data",-1,4', b"ERROR"),
    (b'AT+SYSFLASH=2,"ble_data",0,-4', b"ERROR"),
    (b'AT+SYSFLASH=2,"ble_data",0,0', b"ERROR"),
    (b'AT+SYSFLASH=2,"ble_data",12284,8', b"ERROR"),  # past the end of the partition
    (b'AT+SYSFLASH=2,"ble_data",0,4', b"OK"),
    (b"AT+SYSFLASH=0,\"ble_data\",1,1", b"ERROR"),  # erase: not sector aligned
    (b"AT+SYSFLASH=3,\"ble_data\",0,4096", b"ERROR"),
    (b"AT+SLEEP=2", None),
    (b"AT+SYSLOG=1", b"OK"),
    (b"AT+FOO=\"\\", b"ERROR"),  # ERR CODE line first, then ERROR
    (b"AT+SYSLOG=0", b"OK"),
    (b"AT\x00", b"ERROR"),
    (b"\x00AT", b"ERROR"),
    (b"\xff\xfe\xfd", b"ERROR"),
    (b'"\\', b"ERROR"),
    (b" AT", b"ERROR"),
    (b"AT ", b"OK"),
    (b"AT" + b" " * 254, None),  # 256 bytes exactly
    (b"AT+GMR" + b" " * 294, b"ERROR"),  # a 300-byte line
    (b"AT+SYSMSG=" + b"1" * 290, b"ERROR"),
    (b"AT+SYSFLASH=2,\"" + b"\\" * 280 + b"\",0,4", b"ERROR"),
    (b"AT+CMD?", b"OK"),
    (b"AT+IHELP=?", b"OK"),
    (b"AT+GCMR=?", b"OK"),
    (b"ATE0", b"OK"),
]


def test_adversarial_lines(interp):
    with start(interp) as emu:
        quiet_echo_off(emu)
        for line, want in ADVERSARIAL:
            out = pump(emu, [line + b"\r\n"], 1, timeout=10, quiet=0.02)
            check_output(out, 1, repr(line[:60]))
            got = finals(out)[0]
            if want is not None:
                assert got == want, "%r answered %r, expected %r (output %r)" % (line[:60], got, want, out[:300])
        # all of them in one write, then in random pieces: same answers, in order
        data = b"".join(line + b"\r\n" for line, _ in ADVERSARIAL)
        for writes in ([data], chunks(random.Random(SEED), data, 40)):
            out = pump(emu, writes, len(ADVERSARIAL))
            check_output(out, len(ADVERSARIAL), "all adversarial lines in one go")
            for (line, want), got in zip(ADVERSARIAL, finals(out)):
                assert want is None or got == want, "%r answered %r in a batch, expected %r" % (line[:60], got, want)
        # several commands in one write, with their own output
        out = pump(emu, [b"AT\r\nAT+SYSLOG?\r\nAT+GMR\r\nAT+SYSMSG?\r\n"], 4)
        check_output(out, 4, "four commands in one write")
        assert b"\r\nOK\r\n+SYSLOG:0\r\n\r\nOK\r\nAT version:" in out, out
        assert out.endswith(b"+SYSMSG:1\r\n\r\nOK\r\n"), out  # AT+SYSMSG=1,,,, set it
        # empty lines get no answer at all
        emu.send(b"\r\n\r\n\n\r\r\n")
        assert emu.drain(0.3) == b""
        still_alive(emu)


def test_syslog_codes_for_bad_lines(interp):
    """With AT+SYSLOG=1 each bad line gets its ERR CODE (reference §3) right before ERROR."""
    cases = [
        (b"xat", 0x01030000),  # no AT prefix
        (b"AT" + b"+" * 300, 0x01040000),  # too long
        (b"AT+NOSUCHCMD", 0x01090000),  # unsupported
        (b"AT+GMR?", 0x010C0000),  # wrong operation type
        (b"AT+SYSMSG=1,2", 0x01060102),  # count: need 1, given 2
        (b"AT+SYSMSG=8", 0x01070000),  # invalid, index 0
        (b'AT+SYSMSG="1"', 0x01050000),  # type, index 0
    ]
    with start(interp) as emu:
        quiet_echo_off(emu)
        assert emu.command("AT+SYSLOG=1") == [b"OK"]
        for line, code in cases:
            out = pump(emu, [line + b"\r\n"], 1, timeout=10, quiet=0.02)
            check_output(out, 1, repr(line[:60]))
            assert out == b"ERR CODE:0x%08x\r\n\r\nERROR\r\n" % code, (line[:60], out)
        still_alive(emu)


def test_adversarial_lines_raise_no_handler_exceptions(interp):
    """The engine turns an exception escaping a handler into ERROR (so the module lives on), but such
    an exception is still a bug in the family: bad input must be rejected, not crash a handler.
    The console must hold no traceback after every adversarial line and some bad AT+FS arguments."""
    fs_lines = [
        b'AT+FS=0,4,"nosuchdir"',
        b'AT+FS=0,3,"nosuchfile"',
        b'AT+FS=0,2,"nosuchfile",0,4',
        b'AT+FS=0,0,"nosuchfile"',
        b'AT+FS=0,3,"a\x00b"',
        b'AT+FS=0,4,"a\x00b"',
        b'AT+FS=0,3,"\xc3\xa9"',
        b'AT+FS=0,2,"..",0,1',
        b'AT+FS=0,0,"."',
    ]
    with start(interp) as emu:
        quiet_echo_off(emu)
        data = b"".join(line + b"\r\n" for line, _ in ADVERSARIAL) + b"".join(line + b"\r\n" for line in fs_lines)
        out = pump(emu, [data], len(ADVERSARIAL) + len(fs_lines))
        check_output(out, len(ADVERSARIAL) + len(fs_lines), "adversarial + AT+FS lines")
        assert out.endswith(b"\r\nERROR\r\n" * len(fs_lines)), out[-300:]
        time.sleep(0.5)  # the emulator relays the firmware's console to console.log from a thread
        console = emu.console()
        assert "Traceback" not in console, (
            "a handler raised on bad input (the engine answered ERROR, but the family should reject it):\n"
            + console[-4000:]
        )


def test_nul_in_a_file_name_does_not_alias_another_file(interp):
    """A file name is a quoted string and may hold any byte; a NUL must not cut it short. Under
    MicroPython (as on the chip, whose VFS takes C strings) "a\\0b" would otherwise name file "a"."""
    with start(interp) as emu:
        quiet_echo_off(emu)
        emu.send(b'AT+FS=0,1,"a",0,3\r\n')
        emu.read_until(b">")
        emu.send(b"xyz")
        assert emu.read_until(b"OK\r\n") == b"\r\nOK\r\n"
        for line in (b'AT+FS=0,3,"a\x00b"', b'AT+FS=0,2,"a\x00b",0,3', b'AT+FS=0,0,"a\x00b"'):
            out = pump(emu, [line + b"\r\n"], 1, quiet=0.05)
            assert out == b"\r\nERROR\r\n", "%r reached file 'a': %r" % (line, out)
        assert emu.command(b'AT+FS=0,3,"a"') == [b"+FS:3", b"OK"], "file 'a' is gone"


# ---- memory --------------------------------------------------------------------------------------
def test_heap_stays_flat_under_fuzz():
    """MicroPython with a bounded heap: the free heap after 2000 more fuzz lines equals the free heap
    before them (within 2 KB). A warm-up round first imports every family, fills caches and makes the
    buffers made on first use."""
    rng = random.Random(SEED + 2)
    with start("micropython") as emu:
        quiet_echo_off(emu)
        # AT+SYSFLASH=2 streams through the engine's buffer, which is made on first use
        warm = (b"AT+CMD?\r\nAT+IHELP\r\nAT+GCMR\r\nAT+GMR\r\nAT+SYSFLASH?\r\nAT+SYSLOG?\r\n"
                b'AT+SYSFLASH=2,"ble_data",0,4\r\n')
        pump(emu, [warm], 7)
        fuzz(emu, rng, 600, "warm-up")
        before, _ = sysram(emu)
        assert before > 0
        sent = 0
        for round_ in range(4):
            sent += fuzz(emu, rng, 500, "heap round %d" % round_)
        assert sent >= 1900
        quiet_echo_off(emu)
        after, low = sysram(emu)
        assert abs(before - after) <= HEAP_TOLERANCE, "free heap %d before %d fuzz lines, %d after" % (before, sent, after)
        assert low > 0
        still_alive(emu)
