"""A Bumble device on an emulator's BLE air, for tests (and people) to use as the module's peer.

    air = "/tmp/x/air.sock"                       # what the emulators got as --ble-air
    with BlePeer(air) as peer:                    # a Bumble host on its own controller on that air
        ads = peer.scan(1.0)                      # {address text: {"adv": bytes, "rsp": bytes, "type": int}}
        conn = peer.connect("24:0a:c4:03:f4:d6")  # a Bumble Connection (peer.run() awaits its coroutines)
        peer.run(peer.device.gatt_server ...)

The peer's controller lives in the air process (tools/ble_air, reached at PATH.hci); its host runs here, in an
event loop on a thread of its own, so synchronous test code calls ``peer.run(coroutine)``. ``ensure_air``
starts the air when no emulator has yet.
"""
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time

from bumble import hci
from bumble.device import Device
from bumble.transport import open_transport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BLE_AIR = os.path.join(ROOT, "tools", "ble_air")


def ensure_air(path, timeout=20):
    """Start tools/ble_air at ``path`` unless it runs already; wait until it answers."""
    deadline = time.monotonic() + timeout
    started = False
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path + ".hci")
            return
        except OSError:
            pass
        finally:
            s.close()
        if not started:
            subprocess.Popen([sys.executable, BLE_AIR, path], stdin=subprocess.DEVNULL, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            started = True
        if time.monotonic() > deadline:
            raise RuntimeError("no BLE air at %s" % path)
        time.sleep(0.05)


def public(text):
    """'24:0a:c4:03:f4:d6' -> the public Bumble address."""
    return hci.Address(text.upper(), hci.Address.PUBLIC_DEVICE_ADDRESS)


class BlePeer:
    def __init__(self, air, name="bumble-peer", address="C0:FF:EE:00:00:01"):
        ensure_air(air)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.transport = None
        self.device = self.run(self._open(air, name, address))

    def run(self, coro, timeout=15):
        """Run a coroutine on the peer's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args):
        """Call a plain function on the peer's loop (Bumble objects are not thread-safe)."""

        async def wrapper():
            return fn(*args)

        return self.run(wrapper())

    async def _open(self, air, name, address):
        self.transport = await open_transport("unix:" + air + ".hci")
        device = Device.with_hci(name, hci.Address(address), self.transport.source, self.transport.sink)
        await device.power_on()
        return device

    def scan(self, seconds, active=False):
        """Every advertiser heard for ``seconds``: address text -> its last advert and scan response."""
        found = {}

        def on_advertisement(ad):
            entry = found.setdefault(str(ad.address).split("/")[0].lower(), {"adv": b"", "rsp": b"", "type": None})
            if ad.is_scan_response:
                entry["rsp"] = bytes(ad.data_bytes)
            else:
                entry["adv"] = bytes(ad.data_bytes)
                entry["connectable"] = ad.is_connectable

        async def go():
            self.device.on("advertisement", on_advertisement)
            await self.device.start_scanning(legacy=True, active=active, filter_duplicates=False)
            await asyncio.sleep(seconds)
            await self.device.stop_scanning(legacy=True)
            self.device.remove_listener("advertisement", on_advertisement)
            return found

        return self.run(go(), timeout=seconds + 10)

    def connect(self, address):
        return self.run(self.device.connect(public(address), own_address_type=hci.OwnAddressType.RANDOM, timeout=10))

    def close(self):
        async def cancel_others():
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        async def shutdown():
            await cancel_others()
            await self.transport.close()
            await asyncio.sleep(0.05)  # what the link's end set off (an advert restarting) ends too
            await cancel_others()

        try:
            self.run(shutdown(), timeout=5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
