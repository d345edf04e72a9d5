# Frozen manifest: a stock ESP32_GENERIC image with the AT firmware built in (see `make firmware`):
#   make -C $MPY_DIR/ports/esp32 BOARD=ESP32_GENERIC BOARD_VARIANT=OTA FROZEN_MANIFEST=$PWD/boards/esp32_generic/manifest.py
# Relative paths are resolved from this file's folder. Frozen modules run from flash, so they cost no RAM
# for their bytecode. A frozen main.py runs at boot in preference to a /main.py on the filesystem.
import os

include("$(PORT_DIR)/boards/manifest.py")  # what a stock image freezes (asyncio, requests, umqtt, ...)

FIRMWARE = "../../firmware"
for name in sorted(os.listdir(FIRMWARE)):
    if os.path.isfile(os.path.join(FIRMWARE, name, "__init__.py")):
        package(name, base_path=FIRMWARE)  # at/, cmds/, ... as packages
    elif name.endswith(".py"):
        module(name, base_path=FIRMWARE)  # main.py
module("boardcfg.py")  # this board's pins and defaults, imported as `boardcfg`
