"""Where the host board keeps what a chip keeps in flash: the emulator's state folder."""
import os
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"
STATE = os.getenv("AT_STATE") or ".atstate"
BOARD_DIR = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
EXIT_RESET = 3  # the emulator restarts the firmware on these exit codes
EXIT_DEEPSLEEP = 4
EXIT_WATCHDOG = 5  # the watchdog reset the module
WATCHDOG_LINE = "upy-at: watchdog: "  # machine.WDT's console lines; the emulator acts on them
watchdog_bit = [False]  # machine.WDT has bitten: run.py reports the stack and resets


def host_us():
    """The laptop's clock, in microseconds since 1970."""
    return int(time.time() * 1000000)


POWER_UP_US = host_us()  # the laptop's clock when the module powered up (run.py imports this first)


def path(*parts):
    return "/".join((STATE,) + parts)


def makedirs(p):
    cur = ""
    for part in p.split("/"):
        cur += part + "/"
        if part:
            try:
                os.mkdir(cur)
            except OSError:
                pass


def exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def write_atomic(p, data):
    """Replace a file so that a kill at any instant leaves the old or the new content, never a mix."""
    makedirs(p.rsplit("/", 1)[0])
    tmp = p + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, p)


def read(p, default=None):
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError:
        return default
