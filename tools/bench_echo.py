"""The benchmark baseline (MicroPython): the least an AT loop can do on the emulator's pty.

tools/bench starts it as tools/emulate starts the firmware (the pty master inherited as the fd in
AT_UART_FD, non-blocking), and it answers every line it receives with OK, as fast as the interpreter
lets it: poll, read, count the LF bytes, write. Compare the firmware's figures with this one's.
"""
import os
import select

OK = b"\r\nOK\r\n"

port = open(int(os.getenv("AT_UART_FD")), "r+b")
poller = select.poll()
poller.register(port, select.POLLIN)
buf = bytearray(256)
port.write(b"\r\nready\r\n")
while True:
    poller.poll(100)  # the firmware's idle poll interval
    try:
        n = port.readinto(buf)
    except OSError:  # EAGAIN: nothing to read after all
        n = None
    if n:
        for i in range(n):
            if buf[i] == 10:
                port.write(OK)
