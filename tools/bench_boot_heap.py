"""What a booted module keeps on the heap, and how much of it is the host board (MicroPython).

``AT_STATE=TMPDIR AT_UART_FD=FD micropython bench_boot_heap.py DIR [HOSTMODULE ...]`` with DIR a folder from
``tools/build_mpy --host DIR`` boots the firmware as run.py does (main.py, the .mpy firmware, the host board
in DIR/host), but the loop returns at once, then prints ``boot_heap <bytes>`` (gc.mem_alloc() after a
collection, less what the interpreter held before: everything boot left live, the qstr pools included),
``host_board_heap <bytes>`` (what the host modules named on the command line, imported first, hold: their
bytecode, globals and interned names; on the chip these modules are C in flash) and ``module <name>`` for each
module boot imported. Run it once without host modules to learn which ones boot imports.
"""
import gc
import sys

root = sys.argv[1]
sys.path.insert(0, root)
sys.path.insert(0, root + "/host")
gc.collect()
start = gc.mem_alloc()
for name in sys.argv[2:]:
    __import__(name)
gc.collect()
print("host_board_heap", gc.mem_alloc() - start)
before = set(sys.modules)
from at import engine  # noqa: E402


def _no_loop(self, wdt):
    """Engine.run returns: boot is over once 'ready' is written."""


engine.Engine.run = _no_loop
import main  # noqa: E402,F401  (boots)

main = None
gc.collect()
print("boot_heap", gc.mem_alloc() - start)
for name in sorted(set(sys.modules) - before):
    print("module", name)
for name in sorted(before):
    print("module", name)
