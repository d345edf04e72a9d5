"""The engine under CPython with an in-memory UART: framing, busy, URCs, data input and passthrough."""
import os
import time

import pytest

import boardcfg
from at import parser
from at.commands import BUSY
from at.engine import Engine
from at.modes import BUF_SIZE
from at.replies import OK, ERROR
from at.store import Store
from inproc import MemoryUart


@pytest.fixture
def at():
    try:
        os.mkdir(boardcfg.FS_ROOT)
    except FileExistsError:
        pass
    e = Engine(MemoryUart(), Store("unittest"))
    e.uart_cfg = (115200, 8, 1, 0, 0)
    return e


def feed(at, data):
    at.feed(memoryview(data))
    return at.uart.take()


def wait_for_command(at, limit=2.0):
    """Step the loop until the running command has finished."""
    deadline = time.monotonic() + limit
    while at.busy() and time.monotonic() < deadline:
        at.step(5)
    assert not at.busy()


def sleeping(ms):
    """A command that takes ``ms`` to finish."""
    yield ms


# ---- framing ------------------------------------------------------------------------------------
def test_echo_then_ok(at):
    assert feed(at, b"AT\r\n") == b"AT\r\n" + OK


def test_echo_off(at):
    feed(at, b"ATE0\r\n")
    assert feed(at, b"AT\r\n") == OK


def test_lone_cr_lone_lf_and_a_crlf_split_across_reads_answer_once(at):
    feed(at, b"ATE0\r\n")
    assert feed(at, b"AT\r") == b""  # waits a moment for the LF of a CR LF
    assert feed(at, b"\n") == OK
    feed(at, b"AT\r")
    settle(at, 10)
    assert at.uart.take() == OK  # a lone CR ends the line too
    assert feed(at, b"AT\n") == OK
    assert feed(at, b"\r\n\r\n") == b""  # empty lines get no answer


def test_byte_by_byte(at):
    out = b"".join(feed(at, bytes([c])) for c in b"AT+GMR\r\n")
    assert out.startswith(b"AT+GMR\r\nAT version:") and out.endswith(OK)


@pytest.mark.parametrize("line", [b"at+gmr", b"At+Gmr", b"aT+gMr"])
def test_commands_are_case_insensitive_the_prefix_too(at, line):
    """Seed 004 §2: any case of the whole line answers as the upper-case command does."""
    feed(at, b"ATE0\r\n")
    want = feed(at, b"AT+GMR\r\n")
    assert want.startswith(b"AT version:")
    assert feed(at, line + b"\r\n") == want


def test_lower_case_commands_set_and_query_as_upper_case_ones(at):
    feed(at, b"ate0\r\n")
    assert feed(at, b"at\r\n") == OK  # echo went off
    assert feed(at, b"at+syslog=1\r\n") == OK
    assert feed(at, b"at+syslog?\r\n") == b"+SYSLOG:1\r\n" + OK


def test_256_bytes_pass_257_answer_error_and_the_rest_is_discarded(at):
    feed(at, b"ATE0\r\n")
    assert feed(at, b"AT" + b" " * 254 + b"\r\n") == OK
    assert feed(at, b"AT" + b" " * 255 + b"\r\n") == ERROR
    assert feed(at, b"AT" + b"x" * 298) == b""
    assert feed(at, b"more\r\nAT\r\n") == ERROR + OK


def test_several_commands_in_one_read(at):
    feed(at, b"ATE0\r\n")
    assert feed(at, b"AT\r\nAT+FAKE\r\nAT\r\n") == OK + ERROR + OK


@pytest.mark.parametrize("line, err", [
    (b"AT+FAKE", parser.E_UNKNOWN),
    (b"AT+GMR?", parser.E_FORM),
    (b"xat", parser.E_NO_PREFIX),
    (b"AT+SYSLOG=2", parser.E_INVALID),
    (b"AT+UART_CUR=115200", parser.E_COUNT | 5 << 8 | 1),
])
def test_syslog_prints_the_error_code_before_error(at, line, err):
    feed(at, b"ATE0\r\nAT+SYSLOG=1\r\n")
    assert feed(at, line + b"\r\n") == b"ERR CODE:0x%08x\r\n" % err + ERROR
    feed(at, b"AT+SYSLOG=0\r\n")
    assert feed(at, line + b"\r\n") == ERROR


# ---- busy ---------------------------------------------------------------------------------------
def test_input_while_a_command_runs_gets_busy_and_the_command_still_completes(at):
    feed(at, b"ATE0\r\n")
    at._cmd, at._wake = sleeping(100), 0
    at.step(0)
    assert feed(at, b"AT\r\n") == BUSY
    assert feed(at, b"AT+GMR\r\n") == BUSY
    wait_for_command(at)
    assert at.uart.take() == OK
    assert feed(at, b"AT\r\n") == OK


def test_busy_with_syslog(at):
    feed(at, b"ATE0\r\nAT+SYSLOG=1\r\n")
    at._cmd, at._wake = sleeping(100), 0
    at.step(0)
    assert feed(at, b" ") == b"ERR CODE:0x010b0000\r\n" + BUSY


def test_upper_case_at_rst_forces_a_restart_while_busy(at):
    at._cmd, at._wake = sleeping(1000), 0
    at.step(0)
    with pytest.raises(SystemExit) as e:
        feed(at, b"AT+RST\r\n")
    assert e.value.code == 3
    assert b"Will force to restart!!!" in at.uart.take()


def test_lower_case_at_rst_while_busy_is_busy_not_a_restart(at):
    """Only the upper-case AT+RST forces a restart while busy (esp-at's rule, kept as it is)."""
    feed(at, b"ATE0\r\n")
    at._cmd, at._wake = sleeping(100), 0
    at.step(0)
    assert feed(at, b"at+rst\r\n") == BUSY
    wait_for_command(at)
    assert at.uart.take() == OK


# ---- URCs ---------------------------------------------------------------------------------------
def test_urcs_wait_until_the_running_command_has_answered(at):
    at._cmd, at._wake = sleeping(50), 0
    at.step(0)
    at.urc(b"+EVENT:1\r\n")
    at.step(0)
    assert at.uart.take() == b""
    wait_for_command(at)
    at.step(0)
    assert at.uart.take() == OK + b"+EVENT:1\r\n"


def test_the_urc_queue_is_bounded_and_counts_what_it_drops(at):
    at._cmd, at._wake = sleeping(50), 0
    at.step(0)
    for i in range(20):
        at.urc(b"+E:%d\r\n" % i)
    assert at.urc_dropped == 4
    wait_for_command(at)
    at.step(0)
    out = at.uart.take()
    assert out == OK + b"".join(b"+E:%d\r\n" % i for i in range(4, 20))


# ---- data input ---------------------------------------------------------------------------------
def run(gen):
    try:
        while True:
            next(gen)
    except StopIteration as e:
        return e.value


def test_receive_collects_exactly_n_bytes_and_surplus_is_busy(at):
    feed(at, b"ATE0\r\n")
    at._cmd = gen = at.receive(5, 1000)
    at._wake = 0
    at.step(0)
    assert at.uart.take() == b"\r\nOK\r\n\r\n>"
    assert feed(at, b"he") == b""  # no echo in data mode
    assert feed(at, b"llo\r\nAT\r\n") == BUSY  # the rest arrived while the command still ran
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert bytes(stop.value.value) == b"hello"


def test_receive_takes_any_bytes_raw(at):
    data = bytes(range(256)) * 4
    gen = at.receive(len(data), 1000, b">")
    next(gen)
    feed(at, data)
    assert bytes(run(gen)) == data


def test_receive_times_out(at):
    gen = at.receive(5, 50)
    next(gen)
    feed(at, b"abc")
    time.sleep(0.08)
    assert run(gen) is None


def test_receive_aborts_on_a_lone_plus_plus_plus_when_allowed(at):
    gen = at.receive(10, 2000, plus_abort=True)
    next(gen)
    time.sleep(0.03)
    feed(at, b"+++")
    time.sleep(0.03)
    assert run(gen) is None


def test_receive_file_write_through_the_fs_command(at):
    feed(at, b"ATE0\r\n")
    assert feed(at, b'AT+FS=0,1,"unit.txt",0,5\r\n') == b"\r\n>"
    feed(at, b"12345")
    wait_for_command(at)
    assert at.uart.take() == OK
    assert feed(at, b'AT+FS=0,2,"unit.txt",0,5\r\n') == b"+FS:5,12345\r\n" + OK


# ---- passthrough --------------------------------------------------------------------------------
class Sink:
    def __init__(self):
        self.chunks = []
        self.exited = False

    def send(self, buf, off, n):
        self.chunks.append(bytes(buf[off:off + n]))

    def exit(self):
        self.exited = True


def settle(at, ms=40):
    """Let ``ms`` of silence pass with the loop running."""
    deadline = time.monotonic() + ms / 1000
    while time.monotonic() < deadline:
        at.step(2)


@pytest.fixture
def sink(at):
    s = Sink()
    feed(at, b"ATE0\r\n")
    settle(at)
    at.passthrough(s)
    return s


def test_passthrough_flushes_after_the_idle_gap(at, sink):
    feed(at, b"hello")
    assert sink.chunks == []
    settle(at)
    assert sink.chunks == [b"hello"]
    assert at.uart.take() == b""


def test_passthrough_sends_what_it_holds_once_2048_bytes_are_there(at, sink):
    data = bytes(i & 0xFF for i in range(2048 + BUF_SIZE + 1000))
    feed(at, data[:2047])
    assert sink.chunks == []
    feed(at, data[2047:2048])
    assert sink.chunks == [data[:2048]]
    end = 2048 + BUF_SIZE
    feed(at, data[2048:])  # more than the buffer at once: it goes a buffer at a time
    assert sink.chunks == [data[:2048], data[2048:end]]
    settle(at)  # the last 1000 bytes wait for the idle gap
    assert sink.chunks == [data[:2048], data[2048:end], data[end:]]


def test_a_lone_plus_plus_plus_framed_by_silence_ends_passthrough(at, sink):
    feed(at, b"data")
    settle(at)
    feed(at, b"+++")
    settle(at)
    assert sink.exited and not at.in_passthrough
    assert sink.chunks == [b"data"]
    assert feed(at, b"AT\r\n") == OK


def test_plus_plus_plus_inside_data_is_data(at, sink):
    feed(at, b"ab+++cd")
    settle(at)
    feed(at, b"+++x")
    settle(at)
    feed(at, b"x")
    feed(at, b"+++")  # no silence before these pluses
    settle(at)
    assert not sink.exited
    assert b"".join(sink.chunks) == b"ab+++cd+++xx+++"


def test_pluses_too_slow_are_data(at, sink):
    for _ in range(3):
        feed(at, b"+")
        settle(at, 30)
    assert not sink.exited
    assert b"".join(sink.chunks) == b"+++"


def test_more_after_plus_plus_plus_without_silence_is_data(at, sink):
    feed(at, b"+++")
    feed(at, b"more")
    settle(at)
    assert not sink.exited
    assert b"".join(sink.chunks) == b"+++more"


def test_bytes_after_a_completed_plus_plus_plus_are_commands(at, sink):
    feed(at, b"+++")
    time.sleep(0.03)
    assert feed(at, b"AT\r\n") == OK  # the silence had passed before the loop noticed
    assert sink.exited and sink.chunks == []


def test_a_response_line_goes_out_in_one_write(at):
    """Clients read line by line with short timeouts: a line and its CR LF leave in one write."""
    writes = []
    write = at.uart.write
    at.uart.write = lambda data, *rest: writes.append(bytes(data)) or write(data, *rest)
    feed(at, b"ATE0\r\n")
    writes.clear()
    feed(at, b"AT+SYSLOG?\r\n")
    assert writes[0] == b"+SYSLOG:0\r\n"
