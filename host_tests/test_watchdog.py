"""A stalled firmware is diagnosable: the loop feeds machine.WDT; when a pass hangs, the host board's
watchdog writes the firmware's Python stack to the console log and the module resets (the emulator counts
it in its status). The hang comes from the control channel's ``stall`` (a firmware command cannot hang on
purpose). Under both interpreters; AT_WDT_MS shortens the watchdog so the tests do not wait 30 s."""
import re

import pytest

from harness import Emulator

WDT_MS = 3000


@pytest.fixture
def short_watchdog(monkeypatch):
    monkeypatch.setenv("AT_WDT_MS", str(WDT_MS))


def test_a_hang_writes_the_stack_to_the_console_and_resets_the_module(interp, short_watchdog):
    with Emulator(interp) as emu:
        assert emu.command("ATE0") == [b"ATE0", b"OK"]
        assert emu.control(op="status")["watchdog_resets"] == 0
        assert emu.control(op="stall") == {"ok": True}
        # the next call into the radio hangs: a command that reads it (an idle module whose station has
        # nothing to join calls none)
        emu.send(b"AT+CWSTATE?\r\n")
        emu.read_until(b"ready\r\n", timeout=60)  # the module restarted
        status = emu.control(op="status")
        assert status["watchdog_resets"] == 1 and status["boots"] == 2 and status["crashes"] == 0
        log = emu.console()
        assert re.search(r"upy-at: watchdog: the loop was not fed for \d+ ms \(timeout %d ms\)" % WDT_MS, log)
        stack = log[log.index("upy-at: watchdog: the loop"):]
        # the stack names where the loop hung, down from the engine's loop
        for frame in ("main.py", "engine.py", "network.py", "_hang"):
            assert frame in stack, stack
        assert "upy-at: watchdog: reset" in stack
        # the module works again (echo is back on after the reset), and the stall is over
        assert emu.command("AT") == [b"AT", b"OK"]
        assert emu.command('AT+CWJAP="upy-at-emu","emulator1"')[-1] == b"OK"
        assert emu.control(op="status")["watchdog_resets"] == 1


def test_a_fed_watchdog_never_bites(interp, short_watchdog):
    with Emulator(interp) as emu:
        assert emu.command("ATE0") == [b"ATE0", b"OK"]
        assert emu.command('AT+CWJAP="upy-at-emu","emulator1"')[-1] == b"OK"
        emu.drain(quiet=2 * WDT_MS / 1000)  # idle for two watchdog periods
        assert emu.command("AT") == [b"OK"]
        status = emu.control(op="status")
        assert status["watchdog_resets"] == 0 and status["boots"] == 1


def test_deep_sleep_longer_than_the_watchdog_is_no_hang(interp, short_watchdog):
    with Emulator(interp) as emu:
        assert emu.command("ATE0") == [b"ATE0", b"OK"]
        assert emu.command("AT+GSLP=%d" % (2 * WDT_MS)) == [b"%d" % (2 * WDT_MS), b"OK"]
        emu.read_until(b"ready\r\n", timeout=30)
        status = emu.control(op="status")
        assert status["watchdog_resets"] == 0 and status["boots"] == 2


def test_a_command_answered_by_a_restart_fails_at_once_with_the_console(interp, short_watchdog):
    """The harness turns 'the module restarted under a command' into a failure that shows the console."""
    with Emulator(interp) as emu:
        assert emu.control(op="stall") == {"ok": True}
        # the stall hangs the next call into the radio: a command that reads it
        with pytest.raises(AssertionError, match=r"watchdog resets 1\) while answering b?'AT\+CWSTATE\?'") as e:
            emu.command("AT+CWSTATE?", timeout=60)
        assert "upy-at: watchdog: the loop was not fed" in str(e.value)
