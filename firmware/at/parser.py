"""One parser for every profile: an AT line into (name, form, arguments), and arguments by a declared spec.

Rules (esp-at, seed 004 §2): commands are case-insensitive, the ``AT`` prefix too (quoted values keep
their case); strings are double-quoted
with ``\\`` escapes (any escaped byte stands for itself, so ``\\,`` ``\\"`` ``\\\\`` work); an empty field
means "omitted"; a trailing comma is allowed. Spaces after commas are skipped. *Loose* commands
(Alibaba, cellular) also take unquoted strings.
"""
from at.compat import const

# Forms of a command: bits of the table's form mask.
TEST = const(1)  # AT+X=?
QUERY = const(2)  # AT+X?
SET = const(4)  # AT+X=...
EXEC = const(8)  # AT+X
LOOSE = const(16)  # table flag: unquoted strings allowed
BOOT = const(32)  # table flag: the family's boot(at) runs at start-up, before "ready"

# Parameter kinds.
INT = const(0)
STR = const(1)
HEX = const(2)
TAIL = const(3)
UTF8 = const(4)

# esp-at error sub-codes (category 0x01, reference §3): ERR CODE = 0x01SSEEEE.
E_NO_PREFIX = const(0x01030000)
E_LENGTH = const(0x01040000)
E_TYPE = const(0x01050000)
E_COUNT = const(0x01060000)
E_INVALID = const(0x01070000)
E_PARSE = const(0x01080000)
E_UNKNOWN = const(0x01090000)
E_EXEC = const(0x010A0000)
E_BUSY = const(0x010B0000)
E_FORM = const(0x010C0000)


class AtError(Exception):
    """A command failed; ``code`` is the esp-at ERR CODE shown when AT+SYSLOG=1."""

    def __init__(self, code=E_EXEC):
        super().__init__(code)
        self.code = code


def num(lo, hi, opt=False):
    """An integer parameter in [lo, hi]."""
    return (INT, lo, hi, opt)


def text(maxlen, minlen=0, opt=False):
    """A string parameter of minlen..maxlen bytes (UTF-8)."""
    return (STR, minlen, maxlen, opt)


def utf8(maxlen, minlen=0, opt=False):
    """A string parameter as ``text``, delivered as its UTF-8 bytes: no str is made (on MicroPython each new
    str is looked up among the interned strings, which costs more than the rest of a short command)."""
    return (UTF8, minlen, maxlen, opt)


def hexstr(maxbytes, opt=False):
    """A string of hex digits, delivered as bytes."""
    return (HEX, 0, maxbytes, opt)


def tail(maxlen, minlen=0, opt=False):
    """The last parameter: a string from its first double quote to the last one of the line, so quotes
    and commas inside it are data (Tencent's payloads); escapes work as in any string. On a loose command a
    tail that does not start with a quote is the rest of the line as written (seed 000 writes JSON unquoted:
    ``AT+IDMPP={"LightStatus":1}``)."""
    return (TAIL, minlen, maxlen, opt)


_PREFIXES = (b"AT", b"at", b"At", b"aT")  # seed 004 §2: AT commands are case-insensitive


def split_line(line):
    """Return (name, form, argument bytes) of a complete line without its terminator.

    ``name`` is upper case without the ``AT`` prefix (``"+GMR"``, ``"E0"``, ``""`` for a bare AT).
    """
    if line[:2] not in _PREFIXES:
        raise AtError(E_NO_PREFIX)
    rest = line[2:]
    args = b""
    if rest.endswith(b"=?"):
        form, name = TEST, rest[:-2]
    elif rest.endswith(b"?") and b"=" not in rest:
        form, name = QUERY, rest[:-1]
    else:
        eq = rest.find(b"=")
        if eq < 0:
            form, name = EXEC, rest
        else:
            form, name, args = SET, rest[:eq], rest[eq + 1 :]
    name = bytes(name).replace(b" ", b"").upper()  # seed 000 writes "AT+ IWIFICONNECT = ..."
    for c in name:
        # A name is '+' then letters, digits and _ ! % - . / : (esp-at naming rules).
        if not (65 <= c <= 90 or 48 <= c <= 57 or c in b"+_!%-./:"):
            raise AtError(E_PARSE)
    return name.decode(), form, args


def _unescape(raw):
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 92 and i + 1 < len(raw):
            i += 1
        out.append(raw[i])
        i += 1
    return bytes(out)


def _tail(s, i):
    """The TAIL field starting at ``s[i]``: (True, its unescaped bytes) when it starts with a quote, else
    (False, the rest of the line as written: loose commands only, see parse_args; empty when omitted)."""
    if i >= len(s) or s[i] != 34:
        return False, bytes(s[i:]).strip()
    j = s.rfind(b"\"")
    if j <= i or s[j + 1 :].strip(b" "):
        raise AtError(E_PARSE)
    return True, _unescape(s[i + 1 : j])


def _quoted(s, i):
    """The quoted string whose first byte is s[i], its escapes undone, and where it ends: (bytes, index)."""
    val = bytearray()
    n = len(s)
    while True:
        if i >= n:
            raise AtError(E_PARSE)
        c = s[i]
        if c == 92:  # backslash: the next byte stands for itself
            i += 1
            if i >= n:
                raise AtError(E_PARSE)
            c = s[i]
        elif c == 34:
            return bytes(val), i + 1
        val.append(c)
        i += 1


def _fields(s, tail_at=-1):
    """Split argument bytes into fields: (quoted: bool, raw bytes), honouring quotes and escapes. Field
    number ``tail_at`` takes the rest of the line (a TAIL)."""
    out = []
    i = 0
    n = len(s)
    while True:
        while i < n and s[i] == 32:
            i += 1
        if len(out) == tail_at:
            out.append(_tail(s, i))
            return out
        if i < n and s[i] == 34:  # quoted string
            j = s.find(b"\"", i + 1)
            if j > i and s.find(b"\\", i + 1, j) < 0:  # no escapes: the bytes up to the next quote
                val = s[i + 1 : j]
                i = j + 1
            else:
                val, i = _quoted(s, i + 1)
            while i < n and s[i] == 32:
                i += 1
            if i < n and s[i] != 44:
                raise AtError(E_PARSE)
            out.append((True, val))
        else:
            j = s.find(b",", i)
            if j < 0:
                j = n
            out.append((False, s[i:j].strip()))  # s is bytes: its slices are
            i = j
        if i >= n:
            return out
        i += 1  # the comma


def _decode(raw, index):
    try:
        return raw.decode()
    except (UnicodeError, ValueError):
        raise AtError(E_TYPE | index)


def _integer(raw, index):
    digits = raw[1:] if raw[0] == 45 else raw  # raw is not empty
    if not digits or not digits.isdigit():
        raise AtError(E_TYPE | index)
    return int(raw)


_ASCII_MAX = const(256)  # the longest line parse_args checks for bytes over 127 with _HIGH_BITS (LINE_MAX)
# 0x80 in every byte of 64, 128, 192, 256 bytes: a line is ANDed with the shortest that covers it (the AND
# makes a number as long as the longer one)
_HIGH_BITS = tuple(int.from_bytes(b"\x80" * (64 * k), "little") for k in range(1, _ASCII_MAX // 64 + 1))


def parse_args(s, spec, loose=False, start=0):
    """Parse the argument bytes ``s[start:]`` (``s`` bytes, not a bytearray) by ``spec`` (a tuple of
    num/text/utf8/hexstr/tail); omitted fields become None.

    The usual shape takes one pass here, without a call or a copy but the values: quoted strings without
    escapes, integers of digits, omitted fields, trailing commas, an ASCII line. Anything else (escapes,
    spaces, tails, hex, unquoted strings, non-ASCII bytes) and every error goes to _parse, which follows
    the rules alone, so both give the same values and the same error codes."""
    n = len(s)
    need = len(spec)
    if (n > _ASCII_MAX or need and spec[-1][0] == TAIL or s.find(b"\\", start) >= 0
            or int.from_bytes(s, "little") & _HIGH_BITS[(n - 1) >> 6]):  # a byte over 127: an AND, not a loop
        return _parse(s[start:], spec, loose)
    values = [None] * need  # type: list
    i = start  # where the field starts; past the end: omitted
    k = 0
    for kind, lo, hi, opt in spec:
        c = s[i] if i < n else 44
        if c == 34:  # a quoted string, up to the next quote (no escapes), then a comma or the end
            j = s.find(b'"', i + 1)
            if j < 0 or not kind & 5 or j - i <= lo or j - i > hi + 1 or j + 1 < n and s[j + 1] != 44:
                break  # kind & 5: STR or UTF8 (INT and HEX are 0 and 2; TAIL never comes here)
            values[k] = s[i + 1 : j] if kind == UTF8 else s[i + 1 : j].decode()
            i = j + 2
        elif c == 44:  # omitted
            if not opt:
                break
            i += 1
        elif kind == INT and 48 <= c <= 57:
            if i + 1 < n and s[i + 1] != 44:  # more than one digit
                j = s.find(b",", i)
                if j < 0:
                    j = n
                if not s[i:j].isdigit():
                    break
                v = int(s[i:j])
            else:
                j = i + 1
                v = c - 48
            if v < lo or v > hi:
                break
            values[k] = v
            i = j + 1
        else:
            break
        k += 1
    else:
        if i >= n:
            return values
    return _parse(s[start:], spec, loose)


def _parse(s, spec, loose):
    """parse_args by the rules alone: every shape, and every error with its code."""
    need = len(spec)
    fields = _fields(s, need - 1 if need and spec[-1][0] == TAIL else -1)
    while len(fields) > need and fields[-1] == (False, b""):
        fields.pop()  # trailing commas
    if len(fields) > need:
        raise AtError(E_COUNT | need << 8 | len(fields))
    values = []
    for index in range(need):
        kind, lo, hi, opt = spec[index]
        quoted, raw = fields[index] if index < len(fields) else (False, b"")
        if not quoted and not raw:
            if not opt:
                raise AtError(E_COUNT | need << 8 | len(fields))
            values.append(None)
            continue
        if kind == INT:
            if quoted:
                raise AtError(E_TYPE | index)
            v = _integer(raw, index)
            if v < lo or v > hi:
                raise AtError(E_INVALID | index)
        else:
            if not quoted and not loose:
                raise AtError(E_TYPE | index)
            if kind == HEX:
                if len(raw) % 2:
                    raise AtError(E_TYPE | index)
                try:
                    v = bytes.fromhex(_decode(raw, index))
                except ValueError:
                    raise AtError(E_TYPE | index)
                size = len(v)
            elif kind == UTF8:
                v = raw
                size = len(raw)
                if size and max(raw) > 127:  # not ASCII: it must be UTF-8
                    _decode(raw, index)
            else:
                v = _decode(raw, index)
                size = len(raw)
            if size < lo or size > hi:
                raise AtError(E_LENGTH | index)
        values.append(v)
    return values
