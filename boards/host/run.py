"""Start the firmware on the host board: boards/host and firmware/ go first on the import path."""
import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../../firmware")
sys.path.insert(0, _here)
import main  # noqa: E402,F401  (boots and runs the loop)
