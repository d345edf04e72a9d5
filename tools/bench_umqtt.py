"""The MQTT baseline a MicroPython user would write (MicroPython): AT+MQTTPUB lines published with umqtt.simple.

tools/bench starts it as tools/emulate starts the firmware (the pty master inherited as the fd in
AT_UART_FD, non-blocking): ``micropython bench_umqtt.py PORT ID LIBDIR``, LIBDIR holding umqtt.simple
as `make setup` installs it from PyPI (.venv/mpy-lib, pinned in requirements-mpy.txt). It connects an
MQTTClient to the broker at 127.0.0.1:PORT (clean session, keepalive 120 s, esp-at's default) and writes
``ready``. Then every line it reads on the pty, ``AT+MQTTPUB=0,"<topic>","<data>",<qos>,<retain>`` as
tools/bench sends the firmware, is published with ``MQTTClient.publish`` (which waits for the PUBACK at
QoS 1) and answered ``OK``; a line it cannot parse, or a failed publish, is answered ``ERROR``. The
payloads carry no quote or comma, so a split on '"' parses them.
"""
import os
import select
import sys

sys.path.insert(0, sys.argv[3])
from umqtt.simple import MQTTClient  # noqa: E402

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


def publish(client, line):
    """One AT+MQTTPUB line -> client.publish(); the answer to write."""
    parts = line.split(b'"')  # AT+MQTTPUB=0, topic , data ,qos,retain
    if len(parts) != 5 or not parts[0].startswith(b"AT+MQTTPUB="):
        return ERROR
    qos, retain = parts[4].strip(b",\r").split(b",")
    client.publish(parts[1], parts[3], bool(int(retain)), int(qos))
    return OK


def main():
    port = open(int(os.getenv("AT_UART_FD")), "r+b")
    client = MQTTClient(sys.argv[2], "127.0.0.1", int(sys.argv[1]), keepalive=120)
    client.connect()
    poller = select.poll()
    poller.register(port, select.POLLIN)
    pending = b""
    port.write(b"\r\nready\r\n")
    while True:
        poller.poll(100)
        try:
            chunk = port.read(512)
        except OSError:  # EAGAIN: nothing to read after all
            chunk = None
        if not chunk:
            continue
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            try:
                port.write(publish(client, line))
            except (OSError, ValueError, AssertionError):  # umqtt asserts on protocol errors
                port.write(ERROR)


main()
