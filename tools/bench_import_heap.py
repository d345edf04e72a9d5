"""Where the heap goes at import (MicroPython): the bytes each module keeps once imported.

``AT_STATE=TMPDIR micropython bench_import_heap.py DIR`` with DIR a folder from ``tools/build_mpy --host DIR`` (the
firmware as .mpy, the host board in DIR/host) imports the host board's modules, then the firmware's
in the order a boot and the first commands of each family import them, and prints one line per module:
``<module> <bytes>``, the drop of gc.mem_free() (after gc.collect()) across its import, then the line
micropython.qstr_info() prints (the qstr pools' total bytes so far). A module's figure is its bytecode,
constants, globals, whatever it allocates at import and the qstr pool growth its new names caused (pools
grow in doubling steps, so that part is lumpy), less anything an earlier line already imported. tools/bench prints the table under ``--only imports``.
"""
import gc
import micropython
import os
import sys

HOST = ("hoststate", "machine", "esp32", "network", "bluetooth", "netmap", "boardcfg")
FIRMWARE = ("at.compat", "at.parser", "at.replies", "at.table", "at.store", "at.engine", "cmds.basic",
            "cmds.wifiboot", "cmds.wifi", "cmds.wifiaddr", "cmds.translink", "cmds.flash", "cmds.softap", "net.transport",
            "cmds.tcplinks", "cmds.tcpip", "net.pki", "net.mqtt_codec", "net.mqtt", "net.session", "cmds.mqtt",
            "net.http", "cmds.ota", "net.sntp", "net.ping", "cmds.netutil", "cmds.system", "cmds.tencent")


def known(name):
    """Firmware modules that exist in DIR (families come and go)."""
    path = sys.argv[1] + "/" + name.replace(".", "/") + ".mpy"
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def measure(name):
    gc.collect()
    before = gc.mem_free()
    __import__(name)
    gc.collect()
    print(name, before - gc.mem_free())
    micropython.qstr_info()  # "qstr pool: ... n_total_bytes=N": the interned names, in the heap unless frozen


def main():
    root = sys.argv[1]
    sys.path.insert(0, root)
    sys.path.insert(0, root + "/host")
    gc.collect()
    print("heap_total", gc.mem_free() + gc.mem_alloc())
    for name in HOST:
        measure(name)
    for name in FIRMWARE:
        if known(name):
            measure(name)
    extra = []
    for sub in ("at", "cmds", "net", "cloud"):
        for entry in sorted(os.listdir(root + "/" + sub)):
            name = sub + "." + entry[:-4]
            if entry.endswith(".mpy") and name not in FIRMWARE and entry != "__init__.mpy":
                extra.append(name)
    for name in extra:  # modules this list does not know yet: measured last
        measure(name)


main()
