"""Start the firmware on the host board: boards/host and firmware/ go first on the import path.

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
import main  # noqa: E402,F401  (boots and runs the loop)
