"""tools/emulate for a newcomer: after the ``AT port:`` line it prints a command that opens the port."""
import os
import select
import shlex
import subprocess
import sys

from harness import EMULATE, ROOT


def test_emulate_prints_a_terminal_command_that_talks_to_the_port(tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.Popen([sys.executable, EMULATE, "--state", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        assert select.select([proc.stdout], [], [], 60)[0]
        first = proc.stdout.readline().decode()
        assert first.startswith("AT port: ")
        port = first.split(": ", 1)[1].strip()
        second = proc.stdout.readline().decode()
        prefix = "open it with: "
        assert second.startswith(prefix)
        argv = shlex.split(second[len(prefix):])
        assert argv[1:] == ["-m", "serial.tools.miniterm", "--eol", "CRLF", port, "115200"]
        # the interpreter it names holds miniterm, and that pyserial talks to the port as miniterm would
        probe = ("import serial, serial.tools.miniterm; s = serial.Serial(%r, 115200, timeout=10); "
                 "s.write(b'AT\\r\\n'); got = b''\n"
                 "while b'OK' not in got:\n"
                 "    c = s.read(1)\n"
                 "    assert c, got\n"
                 "    got += c\n"
                 "print(got)" % port)
        out = subprocess.run([argv[0], "-c", probe], cwd=ROOT, capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert b"OK" in out.stdout
    finally:
        proc.terminate()
        proc.wait(30)
