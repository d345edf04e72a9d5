"""Start the firmware on the host board: boards/host and firmware/ go first on the import path.

When machine.WDT bites, the emulator interrupts the firmware (SIGINT: KeyboardInterrupt wherever the loop
is, also inside a blocking call); its stack goes to the console and the module resets, as the chip's
watchdog resets it.

With AT_FIRMWARE set (tools/emulate --mpy), the firmware comes from that folder of .mpy files instead,
and the host board from its host/ subfolder where there is one (tools/build_mpy --host), else from here.
"""
import os
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_compiled = os.getenv("AT_FIRMWARE")
sys.path.insert(0, _compiled or _here + "/../../firmware")
sys.path.insert(0, _here)
if _compiled:
    sys.path.insert(0, _compiled + "/host")
import hoststate  # noqa: E402

try:
    import main  # noqa: E402,F401  (boots and runs the loop)
except KeyboardInterrupt as e:
    if not hoststate.watchdog_bit[0]:
        raise
    if hoststate.MICROPYTHON:
        sys.print_exception(e, sys.stdout)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stdout)
    print(hoststate.WATCHDOG_LINE + "reset")
    sys.exit(hoststate.EXIT_WATCHDOG)
