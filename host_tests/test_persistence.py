"""What survives a reset (DESIGN.md §4, reference esp-at-behaviour.md §1.7-1.8), under both interpreters.

Each test is a transcript across power cycles: an emulator runs on a state folder, is closed (power
off), and another one starts on the same folder (power on). ``AT+RST``/``AT+RESTORE``/``AT+IDEFAULT``
restart the firmware inside one emulator, on the same pty, which prints ``ready`` again.

- AT+UART_DEF (and the v1.2 AT+UART) is always saved; AT+UART_CUR never is.
- AT+SYSSTORE is saved; it decides whether AT+SYSMSG is saved.
- AT+RESTORE and AT+IDEFAULT answer OK, restart, and erase all of that.
- Flash partitions (AT+SYSFLASH) and files (AT+FS) are not touched by a restart.
"""
import time

import pytest

from harness import Emulator

DEFAULT_UART = "baudrate=115200 bits=8 parity=None stop=1 flow=0"


# ---- transcript helpers -------------------------------------------------------------------------
def power_on(interp, state):
    """Boot on ``state``: the harness has seen ``ready``; echo is on after every boot, turn it off."""
    emu = Emulator(interp, state=state)
    expect(emu, "ATE0", "ATE0", "OK")  # the echo shows that this is a fresh boot
    return emu


def expect(emu, line, *want):
    """Send ``line``; its response lines must be exactly ``want``."""
    got = emu.command(line)
    assert got == [w.encode() for w in want], "sent %r\n  want %r\n  got  %r" % (line, list(want), got)


def expect_raw(emu, line, want):
    """Send ``line``; the next bytes must be exactly ``want`` (for answers holding raw data)."""
    emu.send(line + b"\r\n")
    got = emu.read_exact(len(want))
    assert got == want, "sent %r\n  want %r\n  got  %r" % (line, want, got)


def restarted(emu, boots):
    """After OK to a restarting command: 'ready' again on the same pty, echo back on."""
    assert emu.read_until(b"ready\r\n", 15).endswith(b"\r\nready\r\n")
    expect(emu, "ATE0", "ATE0", "OK")
    status = emu.control(op="status")
    assert (status["boots"], status["crashes"]) == (boots, 0), status


def uart_is(emu, recorded, timeout=5):
    """The host board's UART settings as the emulator reports them (uart.cfg) become ``recorded``.
    The firmware writes OK at the old settings and only then reconfigures (which also flushes the RX
    FIFO, as the chip's driver does): wait for that before sending the next command."""
    deadline = time.monotonic() + timeout
    while True:
        got = emu.control(op="status")["uart"]
        if got == recorded or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert got == recorded
    time.sleep(0.1)


# ---- UART ---------------------------------------------------------------------------------------
def test_uart_def_survives_a_restart_uart_cur_does_not(interp, tmp_path):
    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+UART_DEF?", "+UART_DEF:115200,8,1,0,0", "OK")
        expect(emu, "AT+UART_CUR?", "+UART_CUR:115200,8,1,0,0", "OK")
        uart_is(emu, DEFAULT_UART)
        # 57600 baud, 7 data bits, 2 stop bits (3), even parity (2), RTS+CTS (3)
        expect(emu, "AT+UART_DEF=57600,7,3,2,3", "OK")
        uart_is(emu, "baudrate=57600 bits=7 parity=0 stop=2 flow=3")
        expect(emu, "AT+UART_DEF?", "+UART_DEF:57600,7,3,2,3", "OK")
        expect(emu, "AT+UART_CUR?", "+UART_CUR:57600,7,3,2,3", "OK")
        # only for now: 9600, odd parity (1), no flow control
        expect(emu, "AT+UART_CUR=9600,8,1,1,0", "OK")
        uart_is(emu, "baudrate=9600 bits=8 parity=1 stop=1 flow=0")
        expect(emu, "AT+UART_CUR?", "+UART_CUR:9600,8,1,1,0", "OK")
        expect(emu, "AT+UART_DEF?", "+UART_DEF:57600,7,3,2,3", "OK")
    finally:
        emu.close()

    emu = power_on(interp, tmp_path)
    try:
        uart_is(emu, "baudrate=57600 bits=7 parity=0 stop=2 flow=3")
        expect(emu, "AT+UART_DEF?", "+UART_DEF:57600,7,3,2,3", "OK")
        expect(emu, "AT+UART_CUR?", "+UART_CUR:57600,7,3,2,3", "OK")
        # AT+RST is a restart too: UART_CUR is lost, UART_DEF kept
        expect(emu, "AT+UART_CUR=230400,8,1,0,0", "OK")
        uart_is(emu, "baudrate=230400 bits=8 parity=None stop=1 flow=0")
        expect(emu, "AT+RST", "OK")
        restarted(emu, boots=2)
        uart_is(emu, "baudrate=57600 bits=7 parity=0 stop=2 flow=3")
        expect(emu, "AT+UART_CUR?", "+UART_CUR:57600,7,3,2,3", "OK")
        # the v1.2 AT+UART is saved as AT+UART_DEF is
        expect(emu, "AT+UART=921600,8,1,0,0", "OK")
        uart_is(emu, "baudrate=921600 bits=8 parity=None stop=1 flow=0")
    finally:
        emu.close()

    emu = power_on(interp, tmp_path)
    try:
        uart_is(emu, "baudrate=921600 bits=8 parity=None stop=1 flow=0")
        expect(emu, "AT+UART_DEF?", "+UART_DEF:921600,8,1,0,0", "OK")
    finally:
        emu.close()


def test_bad_uart_settings_are_not_saved(interp, tmp_path):
    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+UART_DEF=115200,8,2,0,0", "ERROR")  # 1.5 stop bits: ESP32 machine.UART has none
        expect(emu, "AT+UART_DEF=50,8,1,0,0", "ERROR")  # below the range
        expect(emu, "AT+UART_DEF=115200,9,1,0,0", "ERROR")
        expect(emu, "AT+UART_DEF?", "+UART_DEF:115200,8,1,0,0", "OK")
    finally:
        emu.close()
    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+UART_DEF?", "+UART_DEF:115200,8,1,0,0", "OK")
        uart_is(emu, DEFAULT_UART)
    finally:
        emu.close()


# ---- AT+SYSSTORE ----------------------------------------------------------------------------------
def test_sysstore_decides_what_survives(interp, tmp_path):
    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+SYSSTORE?", "+SYSSTORE:1", "OK")
        expect(emu, "AT+SYSMSG?", "+SYSMSG:0", "OK")
        expect(emu, "AT+SYSSTORE=0", "OK")
        expect(emu, "AT+SYSMSG=1", "OK")
        expect(emu, "AT+SYSMSG?", "+SYSMSG:1", "OK")  # queries show the RAM value
        expect(emu, "AT+UART_DEF=460800,8,1,0,0", "OK")  # always saved, whatever SYSSTORE says
        uart_is(emu, "baudrate=460800 bits=8 parity=None stop=1 flow=0")
    finally:
        emu.close()

    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+SYSSTORE?", "+SYSSTORE:0", "OK")  # SYSSTORE itself survives
        expect(emu, "AT+SYSMSG?", "+SYSMSG:0", "OK")  # not saved while SYSSTORE=0
        expect(emu, "AT+UART_DEF?", "+UART_DEF:460800,8,1,0,0", "OK")
        expect(emu, "AT+SYSSTORE=1", "OK")
        expect(emu, "AT+SYSMSG=3", "OK")
    finally:
        emu.close()

    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+SYSSTORE?", "+SYSSTORE:1", "OK")
        expect(emu, "AT+SYSMSG?", "+SYSMSG:3", "OK")
        # SYSSTORE=0 again: a new value lives in RAM only, the saved 3 comes back
        expect(emu, "AT+SYSSTORE=0", "OK")
        expect(emu, "AT+SYSMSG=5", "OK")
        expect(emu, "AT+RST", "OK")
        restarted(emu, boots=2)
        expect(emu, "AT+SYSMSG?", "+SYSMSG:3", "OK")
        expect(emu, "AT+SYSSTORE?", "+SYSSTORE:0", "OK")
    finally:
        emu.close()


# ---- factory reset --------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["AT+RESTORE", "AT+IDEFAULT"])
def test_factory_reset_restarts_and_clears_settings(interp, tmp_path, command):
    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+SYSMSG=3", "OK")
        expect(emu, "AT+SYSSTORE=0", "OK")
        expect(emu, "AT+UART_DEF=57600,8,3,1,1", "OK")
        uart_is(emu, "baudrate=57600 bits=8 parity=1 stop=2 flow=1")
        expect(emu, "AT+RST", "OK")
        restarted(emu, boots=2)
        expect(emu, "AT+SYSMSG?", "+SYSMSG:3", "OK")  # all of it was saved
        expect(emu, "AT+SYSSTORE?", "+SYSSTORE:0", "OK")
        expect(emu, "AT+UART_DEF?", "+UART_DEF:57600,8,3,1,1", "OK")

        expect(emu, command, "OK")
        restarted(emu, boots=3)
        uart_is(emu, DEFAULT_UART)
        expect(emu, "AT+UART_DEF?", "+UART_DEF:115200,8,1,0,0", "OK")
        expect(emu, "AT+UART_CUR?", "+UART_CUR:115200,8,1,0,0", "OK")
        expect(emu, "AT+SYSMSG?", "+SYSMSG:0", "OK")
        expect(emu, "AT+SYSSTORE?", "+SYSSTORE:1", "OK")
    finally:
        emu.close()

    emu = power_on(interp, tmp_path)  # and the erasure itself was saved
    try:
        uart_is(emu, DEFAULT_UART)
        expect(emu, "AT+UART_DEF?", "+UART_DEF:115200,8,1,0,0", "OK")
        expect(emu, "AT+SYSMSG?", "+SYSMSG:0", "OK")
        expect(emu, "AT+SYSSTORE?", "+SYSSTORE:1", "OK")
        # settings saved after the reset work as before
        expect(emu, "AT+SYSMSG=6", "OK")
    finally:
        emu.close()
    emu = power_on(interp, tmp_path)
    try:
        expect(emu, "AT+SYSMSG?", "+SYSMSG:6", "OK")
    finally:
        emu.close()


# ---- AT+RST ---------------------------------------------------------------------------------------
def test_rst_answers_ok_then_ready(interp, tmp_path):
    emu = power_on(interp, tmp_path)
    try:
        status = emu.control(op="status")
        assert (status["boots"], status["crashes"]) == (1, 0), status
        emu.send(b"AT+RST\r\n")
        out = emu.read_until(b"ready\r\n", 15)
        # the echo (echo is off here), OK at once, then the boot message on the same port
        assert out == b"\r\nOK\r\n\r\nready\r\n", out
        status = emu.control(op="status")
        assert (status["boots"], status["crashes"]) == (2, 0), status
        assert emu.command("AT") == [b"AT", b"OK"]  # echo is on again after the restart
    finally:
        emu.close()


# ---- flash and files ------------------------------------------------------------------------------
def test_flash_and_files_survive_a_restart(interp, tmp_path):
    data = bytes(range(256)) * 2 + b"\r\nOK\r\n+++"  # raw bytes, CR LF and '+' included
    emu = power_on(interp, tmp_path)
    try:
        emu.send(b'AT+SYSFLASH=0,"server_ca",0,4096\r\n')
        assert emu.read_until(b"OK\r\n").endswith(b"\r\nOK\r\n")
        emu.send(b'AT+SYSFLASH=1,"server_ca",100,%d\r\n' % len(data))
        assert emu.read_until(b">").endswith(b"\r\n>")
        emu.send(data)
        assert emu.read_until(b"OK\r\n") == b"\r\nOK\r\n"

        emu.send(b'AT+FS=0,1,"notes.txt",0,11\r\n')
        assert emu.read_until(b">").endswith(b"\r\n>")
        emu.send(b"hello\x00world")
        assert emu.read_until(b"OK\r\n") == b"\r\nOK\r\n"
        expect(emu, 'AT+FS=0,3,"notes.txt"', "+FS:11", "OK")
    finally:
        emu.close()

    emu = power_on(interp, tmp_path)
    try:
        expect_raw(emu, b'AT+SYSFLASH=2,"server_ca",100,%d' % len(data),
                   b"+SYSFLASH:%d,%s\r\n\r\nOK\r\n" % (len(data), data))
        # around it, still erased
        expect_raw(emu, b'AT+SYSFLASH=2,"server_ca",96,4', b"+SYSFLASH:4,\xff\xff\xff\xff\r\n\r\nOK\r\n")
        expect_raw(emu, b'AT+SYSFLASH=2,"server_ca",%d,4' % (100 + len(data)),
                   b"+SYSFLASH:4,\xff\xff\xff\xff\r\n\r\nOK\r\n")
        expect(emu, 'AT+FS=0,4,"."', "+FS:notes.txt", "OK")
        expect(emu, 'AT+FS=0,3,"notes.txt"', "+FS:11", "OK")
        expect_raw(emu, b'AT+FS=0,2,"notes.txt",0,11', b"+FS:11,hello\x00world\r\n\r\nOK\r\n")
        # AT+RST does not touch them either
        expect(emu, "AT+RST", "OK")
        restarted(emu, boots=2)
        expect(emu, 'AT+FS=0,3,"notes.txt"', "+FS:11", "OK")
        expect_raw(emu, b'AT+SYSFLASH=2,"server_ca",100,4', b"+SYSFLASH:4,%s\r\n\r\nOK\r\n" % data[:4])
        # a deleted file stays deleted
        expect(emu, 'AT+FS=0,0,"notes.txt"', "OK")
    finally:
        emu.close()

    emu = power_on(interp, tmp_path)
    try:
        expect(emu, 'AT+FS=0,3,"notes.txt"', "ERROR")
        expect(emu, 'AT+FS=0,4,"."', "OK")
    finally:
        emu.close()


def test_a_static_station_address_and_dhcp_survive_a_restart_together(interp, tmp_path):
    """AT+CIPSTA turns station DHCP off and AT+CWDHCP=1,1 back on; each is saved with the other as one setting."""
    emu = power_on(interp, str(tmp_path))
    expect(emu, 'AT+CIPSTA="192.168.7.20"', "OK")
    expect(emu, "AT+CWDHCP?", "+CWDHCP:2", "OK")
    emu.close()
    emu = power_on(interp, str(tmp_path))
    expect(emu, "AT+CWDHCP?", "+CWDHCP:2", "OK")
    assert emu.command("AT+CIPSTA?")[0] == b'+CIPSTA:ip:"192.168.7.20"'
    expect(emu, "AT+CWDHCP=1,1", "OK")
    emu.close()
    emu = power_on(interp, str(tmp_path))
    expect(emu, "AT+CWDHCP?", "+CWDHCP:3", "OK")
    assert emu.command("AT+CIPSTA?")[0] != b'+CIPSTA:ip:"192.168.7.20"'
    emu.close()
