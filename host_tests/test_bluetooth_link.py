"""The host board's bluetooth reads the air (a stream of JSON lines) 2 KiB at a time: a line longer than
a read, cut anywhere, and several lines in one read all arrive whole and in order. A stand-in air (a Unix
socket served here) answers the requests; the script runs under both interpreters."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")

SCRIPT = """
import sys
sys.path.insert(0, %r)
import bluetooth
ble = bluetooth.BLE()
got = []
ble.irq(lambda event, data: got.append(event))
link = bluetooth._Link(ble, %r)
r = link.request("long")
print(len(r), r[:2], r[-2:])
print(link.request("two"), got)
"""
LONG = "ab" + "x" * 5000 + "yz"  # more than two reads of 2048 bytes


def serve(server):
    """The stand-in air: the long answer in pieces of 700 bytes, then an event and an answer in one send."""
    conn, _ = server.accept()
    with conn:
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg["op"] == "long":
                    out = json.dumps({"id": msg["id"], "r": LONG}).encode() + b"\n"
                    for i in range(0, len(out), 700):
                        conn.sendall(out[i : i + 700])
                        time.sleep(0.02)
                else:
                    conn.sendall(b'{"ev": 999, "d": []}\n' + json.dumps({"id": msg["id"], "r": "ok"}).encode() + b"\n")


def run(interp):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "air.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        threading.Thread(target=serve, args=(server,), daemon=True).start()
        script = os.path.join(tmp, "script.py")
        with open(script, "w") as f:
            f.write(SCRIPT % (os.path.join(ROOT, "boards", "host"), path))
        python = MICROPYTHON if interp == "micropython" else sys.executable
        env = dict(os.environ, AT_STATE=tmp)
        try:
            return subprocess.run([python, script], capture_output=True, text=True, timeout=60, env=env).stdout
        finally:
            server.close()


def test_lines_longer_than_a_read_and_lines_sharing_one(interp):
    # the answers come whole, and the event that shared a read with one reached the IRQ handler
    assert run(interp).splitlines() == ["%d ab yz" % len(LONG), "ok [999]"]
