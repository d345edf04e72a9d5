"""Firmware code run outside the emulator (drivers, snippets) joins a virtual AP first, as the chip must before
any socket can reach a peer (the host board's sockets fail without a network, as lwIP's do). Runs under the
MicroPython unix port and CPython, with boards/host on the import path and AT_STATE naming a state folder.

    import station; station.online()
"""
import json
import time

import hoststate
import network

SSID = "upy-at-test"
PASSWORD = "test-pass-1"


def online(timeout_s=10):
    """One AP in the radio's world (radio.json, as tools/emulate writes it), the station joined to it."""
    ap = {"ssid": SSID, "password": PASSWORD, "bssid": "02:00:00:00:00:01", "channel": 6, "rssi": -50,
          "security": 3}
    with open(hoststate.path("radio.json"), "w") as f:
        f.write(json.dumps({"aps": [ap], "stations": [], "join_ms": 0}))
    sta = network.WLAN(network.WLAN.IF_STA)
    sta.active(True)
    sta.connect(SSID, PASSWORD)
    end = time.time() + timeout_s
    while not sta.isconnected():
        if time.time() > end:
            raise OSError("the station did not join the virtual AP")
        time.sleep(0.01)
    return sta
