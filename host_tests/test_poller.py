"""at.compat.Poller under both interpreters: it reports the registered objects, and under MicroPython's unix
port it survives the pattern that segfaults a bare select.poll (extmod/modselect.c: when the descriptor array
grows and moves, the NULL pointer of a TLS socket, which has no descriptor, is "rebased" into garbage)."""
import os
import subprocess
import sys

import pytest

from harness import INTERPRETERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")

# a plain socket, then a TLS socket (no descriptor), then 40 more sockets with garbage between them so the
# descriptor array cannot grow in place; every poll's objects must be registered ones
SCRIPT = """
import sys
sys.path.insert(0, %r)
import socket, ssl, select
from at.compat import Poller
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
for slots in (4, 16):
    p = Poller(slots=slots)
    first = socket.socket()
    p.register(first, select.POLLIN)
    tls = ctx.wrap_socket(socket.socket(), do_handshake_on_connect=False)
    p.register(tls, select.POLLIN)
    keep = [first, tls]
    for i in range(40):
        s = socket.socket()
        keep.append(s)
        p.register(s, select.POLLIN)
        keep.append([bytearray(64) for _ in range(40)])
    for _ in range(3):
        n = p.poll(0)
        for i in range(n):
            assert any(p.ready[2 * i] is o for o in keep), "not a registered object"
    for s in keep[2::2]:
        p.unregister(s)
        s.close()
    p.poll(0)
    print("polled", slots)
print("end")
"""


def _command(interp):
    if interp == "micropython":
        if not os.path.exists(MICROPYTHON):
            pytest.skip("no MicroPython unix port in .venv")
        return [MICROPYTHON, "-c"]
    return [sys.executable, "-c"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_poller_survives_a_tls_socket_among_many_sockets(interp):
    res = subprocess.run(_command(interp) + [SCRIPT % os.path.join(ROOT, "firmware")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, "exit %d\n%s%s" % (res.returncode, res.stdout, res.stderr)
    assert res.stdout.split() == ["polled", "4", "polled", "16", "end"], res.stdout + res.stderr
