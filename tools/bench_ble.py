"""The bare MicroPython baseline for tools/bench_ble: the host board's bluetooth and nothing else.

    micropython tools/bench_ble.py notify   # peripheral; on "go N SIZE" from stdin, N gatts_notify of SIZE bytes
    micropython tools/bench_ble.py sink     # peripheral; every write to RX goes to stdout as it is

One service like the module's (TX 0xC305 notify, RX 0xC304 write), advertised; prints "ready" once a
central has connected. AT_BLE_AIR / AT_BLE_MAC as the emulator sets them.
"""
import sys

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/boards/host")
import bluetooth  # noqa: E402
import time  # noqa: E402

_CENTRAL_CONNECT = 1
_GATTS_WRITE = 3

ble = bluetooth.BLE()
conns = []
out = sys.stdout.buffer


def irq(event, data):
    if event == _CENTRAL_CONNECT:
        conns.append(data[0])
    elif event == _GATTS_WRITE:
        out.write(ble.gatts_read(data[1]))
        out.flush()


ble.irq(irq)
ble.active(True)
service = (bluetooth.UUID(0xA002), ((bluetooth.UUID(0xC305), bluetooth.FLAG_NOTIFY),
                                   (bluetooth.UUID(0xC304), bluetooth.FLAG_WRITE | bluetooth.FLAG_WRITE_NO_RESPONSE)))
((tx, rx),) = ble.gatts_register_services((service,))
ble.gatts_set_buffer(rx, 512)
ble.gap_advertise(100000, b"\x02\x01\x06")
while not conns:
    time.sleep_ms(5)
print("ready")
if sys.argv[1] == "notify":
    words = sys.stdin.readline().split()
    n, size = int(words[1]), int(words[2])
    payload = b"n" * size
    for _ in range(n):
        ble.gatts_notify(conns[0], tx, payload)
    print("done")
    sys.stdin.readline()  # stay connected until told
else:
    while True:
        time.sleep_ms(100)
