"""Responses by profile, boot hooks and fixed test answers, with a made-up family in the table, and a real
family driven in-process (host_tests/inproc.py)."""
import sys
import types

import pytest

from at import table
from at.parser import AtError, num, BOOT as B
from at.replies import cme, cme_spaced, ok_then
from inproc import InProc


def _family(name, errors=None):
    """A family module cmds.<name> whose commands show each reply shape."""
    mod = types.ModuleType("cmds." + name)
    mod.booted = []
    if errors is not None:
        mod.ERRORS = errors

    def boot(at):
        mod.booted.append(at)

    def e_zfail(at):
        raise AtError(12)

    def work(result, steps):
        for _ in range(steps):
            yield 5
        if isinstance(result, AtError):
            raise result
        return result

    def s_zlater(at, code):
        return ok_then(at, "ZLATER", work(None if code == 0 else (AtError(code) if code > 90 else code), 3))

    mod.boot = boot
    mod.e_zfail = e_zfail
    mod.p_zlater = (num(0, 99),)
    mod.s_zlater = s_zlater
    return mod


@pytest.fixture
def fake(monkeypatch):
    """Rows +ZFAIL, +ZLATER, +ZTEST of a family 'zcme' (cme errors) and +ZBOOT of a booting family 'zboot'."""
    zcme = _family("zcme", cme)
    zboot = _family("zboot")
    monkeypatch.setitem(sys.modules, "cmds.zcme", zcme)
    monkeypatch.setitem(sys.modules, "cmds.zboot", zboot)
    rows = table.TABLE.text.split(b"\n")[1:] + [b"+ZBOOT zboot EB", b"+ZFAIL zcme E", b"+ZLATER zcme S",
                                                 b'+ZTEST zcme TQ=+ZTEST:"a","b"']
    monkeypatch.setattr(table, "TABLE", table.Rows(b"".join(b"\n" + row for row in sorted(rows))))
    at = InProc(boot=False)
    sys.modules["cmds.zcme"] = zcme  # InProc forgets cmds.*: put the made-up families back
    sys.modules["cmds.zboot"] = zboot
    at.engine.boot()
    yield at, zcme, zboot
    at.close()


def test_a_family_answers_its_errors_in_its_format(fake):
    at, _, _ = fake
    assert at.cmd("AT+ZFAIL") == ["+CME ERROR:12"]
    assert at.cmd("AT+ZLATER=100") == ["ERROR"]  # out of range: a parser code, plain ERROR
    assert at.cmd("AT+ZFAIL?") == ["ERROR"]  # a form the row lacks
    at.cmd("AT+SYSLOG=1")
    assert at.cmd("AT+ZFAIL") == ["+CME ERROR:12"]  # ERR CODE is esp-at's, not this family's
    assert at.cmd("AT+GMR?") == ["ERR CODE:0x010c0000", "ERROR"]  # esp-at's families answer as before


def test_cme_spaced_has_its_space():
    class Out:
        syslog = False
        data = b""

        def write(self, b):
            self.data += b

    out = Out()
    cme_spaced(out, 3)
    assert out.data == b"\r\n+CME ERROR: 3\r\n"


def test_ok_then_answers_ok_at_once_and_the_result_as_the_final_line(fake):
    at, _, _ = fake
    at.send(b"AT+ZLATER=0\r\n")
    at.step(0)
    assert at.uart.take() == b"\r\nOK\r\n"
    at.send(b"AT\r\n")  # the command is still running
    assert at.read_lines(prefixes=(b"+ZLATER:",)) == ["busy p...", "+ZLATER:OK"]
    assert at.cmd("AT+ZLATER=5", prefixes=(b"+ZLATER:",)) == ["OK", "+ZLATER:FAIL,5"]
    assert at.cmd("AT+ZLATER=97", prefixes=(b"+ZLATER:",)) == ["OK", "+ZLATER:FAIL,97"]  # raised AtError(97)
    assert at.cmd("AT") == ["OK"]


def test_a_row_can_carry_its_test_answer(fake):
    at, _, _ = fake
    assert at.cmd("AT+ZTEST=?") == ['+ZTEST:"a","b"', "OK"]


def test_families_flagged_boot_run_their_boot_hook_and_no_other_family_is_imported():
    at = InProc()
    try:
        booting = {row[1] for row in table.TABLE if row[2] & B}
        assert booting  # Wi-Fi and TCP/IP restore their state at power-up
        loaded = {name[5:] for name in sys.modules if name.startswith("cmds.")}
        assert booting <= loaded
        assert not loaded & {"mqtt", "ota", "system", "tencent"}  # imported at their first command
    finally:
        at.close()


def test_boot_hook_runs_once_per_family(fake):
    at, _, zboot = fake
    assert zboot.booted == [at.engine]


def test_a_real_family_in_process():
    at = InProc()
    try:
        assert at.cmd("AT+CWMODE=3") == ["OK"]
        assert at.cmd("AT+CWMODE?") == ["+CWMODE:3", "OK"]
        assert at.cmd("AT+CIPMUX=2") == ["ERROR"]
    finally:
        at.close()


def test_a_fixed_test_answer_does_not_import_the_family():
    at = InProc()
    try:
        assert at.cmd("AT+TCMQTTCONN=?")[-1] == "OK"
        assert "cmds.tencentmqtt" not in sys.modules
    finally:
        at.close()
