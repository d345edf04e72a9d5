"""The one parser: lines into (name, form, args) and arguments by declared specs (esp-at rules)."""
import os
import random
import subprocess
import sys

import pytest

from at import parser, table
from at.help import HELP
from at.parser import AtError, num, text, hexstr, parse_args, split_line, TEST, QUERY, SET, EXEC

FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def code(fn, *args):
    with pytest.raises(AtError) as e:
        fn(*args)
    return e.value.code


@pytest.mark.parametrize("line, want", [
    (b"AT", ("", EXEC, b"")),
    (b"AT+GMR", ("+GMR", EXEC, b"")),
    (b"AT+gmr", ("+GMR", EXEC, b"")),
    (b"AT+UART_CUR?", ("+UART_CUR", QUERY, b"")),
    (b"AT+GCMR=?", ("+GCMR", TEST, b"")),
    (b"AT+CWJAP=\"a=b?\",\"p\"", ("+CWJAP", SET, b"\"a=b?\",\"p\"")),
    (b"ATE0", ("E0", EXEC, b"")),
    (b"at+gmr", ("+GMR", EXEC, b"")),  # seed 004 §2: case-insensitive, the prefix too
    (b"At+Gmr", ("+GMR", EXEC, b"")),
    (b"aT", ("", EXEC, b"")),
    (b"ate0", ("E0", EXEC, b"")),
    (b'at+cwjap="MyAP","PassWord"', ("+CWJAP", SET, b'"MyAP","PassWord"')),  # values keep their case
    (b"AT+ IWIFICONNECT = x", ("+IWIFICONNECT", SET, b" x")),
])
def test_split_line(line, want):
    assert split_line(line) == want


@pytest.mark.parametrize("line", [b"XAT", b"", b"+GMR", b"A", b"TA+GMR"])
def test_a_line_without_the_at_prefix_is_an_error(line):
    assert code(split_line, line) == parser.E_NO_PREFIX


def test_a_name_with_foreign_bytes_is_a_parse_error():
    assert code(split_line, b"AT+G\xffMR") == parser.E_PARSE


SPEC = (num(0, 10), text(8), num(1, 3, True), text(4, opt=True))


def test_integers_strings_and_omitted_fields():
    assert parse_args(b'5,"abc"', SPEC) == [5, "abc", None, None]
    assert parse_args(b'5,"abc",,"x"', SPEC) == [5, "abc", None, "x"]
    assert parse_args(b'0, "abc", 3', SPEC) == [0, "abc", 3, None]  # spaces after commas
    assert parse_args(b'5,"abc",2,', SPEC) == [5, "abc", 2, None]  # trailing comma
    assert parse_args(b'5,""', SPEC) == [5, "", None, None]  # "" is present, not omitted


def test_escapes_in_quoted_strings():
    spec = (text(32),)
    assert parse_args(b'"comma\\,backslash\\\\ssid"', spec) == ["comma,backslash\\ssid"]
    assert parse_args(b'"say \\"hi\\""', spec) == ['say "hi"']
    assert parse_args(b'"\\a\\b"', spec) == ["ab"]  # any escaped byte stands for itself


def test_count_errors_carry_need_and_given():
    assert code(parse_args, b'1,"a",2,"b",5', SPEC) == parser.E_COUNT | 4 << 8 | 5
    assert code(parse_args, b"", SPEC) == parser.E_COUNT | 4 << 8 | 1
    assert code(parse_args, b',"a"', SPEC) == parser.E_COUNT | 4 << 8 | 2  # mandatory omitted


def test_type_range_and_length_errors_carry_the_index():
    assert code(parse_args, b'"5","a"', SPEC) == parser.E_TYPE | 0
    assert code(parse_args, b"5,abc", SPEC) == parser.E_TYPE | 1  # unquoted string, strict command
    assert code(parse_args, b'11,"a"', SPEC) == parser.E_INVALID | 0
    assert code(parse_args, b'-1,"a"', SPEC) == parser.E_INVALID | 0
    assert code(parse_args, b'1x,"a"', SPEC) == parser.E_TYPE | 0
    assert code(parse_args, b'1,"123456789"', SPEC) == parser.E_LENGTH | 1
    assert code(parse_args, b'99999999999999999999999,"a"', SPEC) == parser.E_INVALID | 0


def test_malformed_quotes_are_parse_errors():
    assert code(parse_args, b'1,"abc', SPEC) == parser.E_PARSE
    assert code(parse_args, b'1,"abc\\', SPEC) == parser.E_PARSE
    assert code(parse_args, b'1,"ab"c', SPEC) == parser.E_PARSE


def test_loose_commands_take_unquoted_values_and_spaces():
    spec = (text(32), text(32), num(0, 1, True))
    assert parse_args(b" demo_ssid,demo_passwd, 0", spec, loose=True) == ["demo_ssid", "demo_passwd", 0]
    assert parse_args(b'"quoted",bare', spec, loose=True) == ["quoted", "bare", None]


def test_hex_strings():
    spec = (hexstr(4),)
    assert parse_args(b'"0aFF"', spec) == [b"\x0a\xff"]
    assert code(parse_args, b'"0aF"', spec) == parser.E_TYPE | 0
    assert code(parse_args, b'"zz"', spec) == parser.E_TYPE | 0
    assert code(parse_args, b'"0102030405"', spec) == parser.E_LENGTH | 0


def test_invalid_utf8_in_a_string_is_a_type_error():
    assert code(parse_args, b'1,"\xff\xfe"', SPEC) == parser.E_TYPE | 1


# ---- the table ----------------------------------------------------------------------------------
def test_table_is_sorted_and_unique():
    names = [row[0] for row in table.TABLE]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    assert list(HELP) == names  # one AT+IHELP line per command


@pytest.mark.parametrize("row", list(table.TABLE), ids=[r[0] or "AT" for r in table.TABLE])
def test_every_form_in_the_table_has_its_handler_and_spec(row):
    name, family, forms = row[:3]
    mod = __import__("cmds." + family, None, None, ("_",))
    fname = table.handler_name(name)
    fixed_test = len(row) > 3  # the row answers AT+X=? itself: no t_ handler
    assert not fixed_test or forms & TEST
    for bit, prefix in ((TEST, "t_"), (QUERY, "q_"), (SET, "s_"), (EXEC, "e_")):
        wanted = bool(forms & bit) and not (bit == TEST and fixed_test)
        assert callable(getattr(mod, prefix + fname, None)) == wanted, prefix + fname
    assert hasattr(mod, "p_" + fname) == bool(forms & SET)
    if forms & SET:
        spec = getattr(mod, "p_" + fname)
        for shape in (spec(),) if callable(spec) else (spec,):
            assert isinstance(shape, tuple) and all(len(p) == 4 for p in shape), fname
    assert HELP[name]  # its AT+IHELP line


def test_every_handler_is_in_the_table():
    for family in {row[1] for row in table.TABLE}:
        mod = __import__("cmds." + family, None, None, ("_",))
        for attr in dir(mod):
            if attr[:2] in ("t_", "q_", "s_", "e_") and callable(getattr(mod, attr)):
                entries = [r for r in table.TABLE if table.handler_name(r[0]) == attr[2:]]
                assert entries and entries[0][1] == family, attr


MISSING = ("+NOPE", "+", "E", "E2", "+CIPSENDE", "+CIPSEN", "ZZ", " ", "+A", "+ZZZ", "+gmr")


def test_find():
    assert table.find("+GMR") == ("+GMR", "basic", EXEC)
    assert table.find("") == ("", "basic", EXEC)
    assert table.find("+CWMODE")[3] == "+CWMODE:(0-3)"
    assert table.find("+IDMDISCONN")[3] == ""  # a fixed answer that is OK alone
    for row in table.TABLE:
        assert table.find(row[0]) == row
    for name in MISSING:
        assert table.find(name) is None, name


def test_the_table_reads_the_same_under_micropython():
    """Rows and the binary search on the unix port (bytes indexing, slicing, comparison)."""
    code = ("import sys; sys.path[:0] = [%r]\nfrom at import table\nt = table.TABLE\n"
            "print(len(list(t)) == t.text.count(b'\\n'))\nprint([table.find(r[0]) for r in t] == list(t))\n"
            "print([table.find(n) for n in %r])\nfor r in t: print(repr(r))\n" % (FIRMWARE, MISSING))
    out = subprocess.run([MICROPYTHON, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:3] == ["True", "True", repr([None] * len(MISSING))]
    assert lines[3:] == [repr(r) for r in table.TABLE]


def test_a_tail_on_a_loose_command_may_be_unquoted():
    """Seed 000 writes JSON unquoted (AT+IDMPP={"LightStatus":1}); Alibaba's SDK quotes it with \\" escapes."""
    spec = (text(16), num(0, 1), parser.tail(64))
    assert parse_args(b'/t,1,{"a":1,"b":"x,y"}', spec, True) == ["/t", 1, '{"a":1,"b":"x,y"}']
    assert parse_args(b'"/t", 0, "{\\"a\\":1,\\"b\\":2}"', spec, True) == ["/t", 0, '{"a":1,"b":2}']
    assert parse_args(b'/t,0,"{"a":1}"', spec, True) == ["/t", 0, '{"a":1}']  # inner quotes not escaped
    assert parse_args(b'/t,0,""', spec, True) == ["/t", 0, ""]
    assert parse_args(b'/t,0,123', spec, True) == ["/t", 0, "123"]
    assert parse_args(b'{"LightStatus":1}', (parser.tail(64),), True) == ['{"LightStatus":1}']
    assert code(parse_args, b'/t,1', spec, True) & 0xFFFF0000 == parser.E_COUNT
    assert code(parse_args, b'/t,1,', spec, True) & 0xFFFF0000 == parser.E_COUNT
    assert code(parse_args, b'"/t",1,{"a":1}', spec) & 0xFFFF0000 == parser.E_TYPE  # unquoted: loose only
    assert code(parse_args, b'/t,1,' + b"x" * 65, spec, True) & 0xFFFF0000 == parser.E_LENGTH


def test_utf8_strings_come_as_bytes_and_must_be_utf8():
    spec = (parser.utf8(8, 1), parser.utf8(8))
    assert parse_args(b'"t/1","caf\xc3\xa9"', spec) == [b"t/1", b"caf\xc3\xa9"]
    assert parse_args(b'"a\\"b",""', spec) == [b'a"b', b""]
    assert code(parse_args, b'"t","\xff"', spec) == parser.E_TYPE | 1
    assert code(parse_args, b'"","x"', spec) == parser.E_LENGTH
    assert code(parse_args, b't,"x"', spec) == parser.E_TYPE


# ---- parse_args's one-pass shape against the rules alone (parser._parse) ---------------------------
DIFF_SPECS = (
    (num(0, 0), parser.utf8(128, 1), parser.utf8(256), num(0, 2), num(0, 1)),  # AT+MQTTPUB
    (num(0, 10), text(8), num(1, 3, True), text(4, opt=True)),
    (num(-5, 300, True), text(3, 1, True), hexstr(2, True)),
    (text(6, 1), num(0, 99)),
    (),
)
DIFF_BITS = (b"0", b"1", b"3", b"12", b"007", b"-1", b"300", b"99999999999", b"x", b",", b",", b",", b" ", b'"',
             b'"', b'"ab"', b'""', b'"a,b"', b'"caf\xc3\xa9"', b"\xff", b"\\", b'\\"', b'"abcdefghij"', b"0a")
DIFF_SCRIPT = """
import sys
sys.path[:0] = [%r]
from at import parser
from at.parser import num, text, hexstr, utf8
specs = %r
lines = %r
def run(fn, *a):
    try:
        return fn(*a)
    except parser.AtError as e:
        return e.code
for line in lines:
    for spec in specs:
        for loose in (False, True):
            want = run(parser._parse, line, spec, loose)
            for start, s in ((0, line), (4, b"AT+X" + line)):
                got = run(parser.parse_args, s, spec, loose, start)
                if got != want:
                    print("DIFF", repr(s), spec, loose, repr(got), repr(want))
print("done", len(lines))
"""


def _diff_lines(n=3000):
    rng = random.Random(20261130)
    return [b"".join(rng.choice(DIFF_BITS) for _ in range(rng.randrange(0, 9))) for _ in range(n)]


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_the_one_pass_shape_agrees_with_the_rules_alone(interp):
    """parse_args takes the usual shape in one pass and hands everything else to _parse: on thousands of
    random argument lines (and at an offset in a longer line) both give the same values or error code."""
    script = DIFF_SCRIPT % (FIRMWARE, DIFF_SPECS, _diff_lines())
    python = MICROPYTHON if interp == "micropython" else sys.executable
    out = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["done 3000"], out.stdout[:2000]
