"""One parser for every profile: an AT line into (name, form, arguments), and arguments by a declared spec.

Rules (esp-at, seed 004 §2): commands are case-insensitive, the ``AT`` prefix too (quoted values keep
their case); strings are double-quoted
with ``\\`` escapes (any escaped byte stands for itself, so ``\\,`` ``\\"`` ``\\\\`` work); an empty field
means "omitted"; a trailing comma is allowed. Spaces after commas are skipped. *Loose* commands
(Alibaba, cellular) also take unquoted strings. A ``rest`` parameter, always the last, takes the rest of
the line: a quoted string that ends the line, else (loose commands) the bytes as written, commas and
quotes included (seed 000 writes ``AT+IDMPP={"LightStatus":1}``).
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
REST = const(3)

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


def rest(maxlen, minlen=0, opt=False):
    """The last parameter: the rest of the line as a string (see the module doc)."""
    return (REST, minlen, maxlen, opt)


def hexstr(maxbytes, opt=False):
    """A string of hex digits, delivered as bytes."""
    return (HEX, 0, maxbytes, opt)


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


def _fields(s, limit=0):
    """Split argument bytes into fields: (quoted: bool, raw bytes), honouring quotes and escapes. With
    ``limit``, field number ``limit`` is the rest of the line (a ``rest`` parameter)."""
    out = []
    i = 0
    n = len(s)
    while True:
        while i < n and s[i] == 32:
            i += 1
        if len(out) == limit - 1:
            out.append(_rest(s, i))
            return out
        if i < n and s[i] == 34:  # quoted string
            i += 1
            val = bytearray()
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
                    i += 1
                    break
                val.append(c)
                i += 1
            while i < n and s[i] == 32:
                i += 1
            if i < n and s[i] != 44:
                raise AtError(E_PARSE)
            out.append((True, bytes(val)))
        else:
            j = s.find(b",", i)
            if j < 0:
                j = n
            out.append((False, bytes(s[i:j]).strip()))
            i = j
        if i >= n:
            return out
        i += 1  # the comma


def _rest(s, i):
    """The rest of the line from ``i``: (True, value) when it is one quoted string, else (False, raw)."""
    raw = bytes(s[i:]).strip()
    if raw[:1] == b'"':
        try:
            fields = _fields(raw)
            if len(fields) == 1:
                return fields[0]
        except AtError:
            pass
        if len(raw) > 1 and raw[-1:] == b'"':  # quotes inside left unescaped: what is between the outer two
            return True, raw[1:-1]
    return False, raw


def _decode(raw, index):
    try:
        return raw.decode()
    except (UnicodeError, ValueError):
        raise AtError(E_TYPE | index)


def _integer(raw, index):
    digits = raw[1:] if raw[:1] == b"-" else raw
    if not digits or not digits.isdigit():
        raise AtError(E_TYPE | index)
    return int(raw)


def parse_args(s, spec, loose=False):
    """Parse argument bytes by ``spec`` (a tuple of num/text/hexstr); omitted fields become None."""
    need = len(spec)
    fields = _fields(s, need if need and spec[-1][0] == REST else 0)
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
            else:
                v = _decode(raw, index)
                size = len(raw)
            if size < lo or size > hi:
                raise AtError(E_LENGTH | index)
        values.append(v)
    return values
