"""The MQTT publish baseline (MicroPython): the least a publisher can do on a plain socket to the broker.

tools/bench starts it as tools/emulate starts the firmware (the pty master inherited as the fd in
AT_UART_FD, non-blocking) with the broker's port and a client id: ``micropython bench_mqtt.py PORT ID``.
It connects a blocking socket, sends a hand-built MQTT 3.1.1 CONNECT (clean session, keepalive 120 s,
esp-at's default), waits for the CONNACK and writes ``ready``. Then, for each line
``<qos> <topic> <first> <count> <size>`` it reads on the pty, it publishes ``count`` messages to
``topic`` with the payloads tools/bench gives the firmware (message i: ``m`` and i in 7 digits, then
``-abc...`` up to ``size`` bytes), each PUBLISH written with one write: QoS 0 back to back, QoS 1
one at a time, each after the previous one's PUBACK (as AT+MQTTPUB answers OK only then); then it
writes ``OK`` on the pty, or ``ERROR <why>``. Compare the firmware's AT+MQTTPUB rates with this one's.
"""
import os
import select
import socket
import sys

PAD = b"-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" * 4


def payload(i, size):
    return (b"m%07d" % i + PAD)[:size]


def mqtt_string(s):
    return bytes((len(s) >> 8, len(s) & 255)) + s


def remaining_length(n):
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.read(n - len(buf))
        if not chunk:
            raise OSError("the broker closed the connection")
        buf += chunk
    return buf


def connect(port, client_id):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    body = mqtt_string(b"MQTT") + bytes((4, 0x02, 0, 120)) + mqtt_string(client_id)
    sock.write(b"\x10" + remaining_length(len(body)) + body)
    ack = read_exact(sock, 4)
    if ack != b"\x20\x02\x00\x00":
        raise OSError("CONNACK %r" % ack)
    return sock


def publish(sock, qos, topic, first, count, size, pid):
    """Publish messages first..first+count-1; the last packet id used."""
    var = 2 if qos else 0  # the packet id's two bytes
    head = bytes((0x30 | (qos << 1),)) + remaining_length(2 + len(topic) + var + size) + mqtt_string(topic)
    packet = bytearray(head + bytes(var) + payload(0, size))
    at_pid = len(head)  # where the packet id goes
    at_index = at_pid + var + 1  # where the 7 digits of the message's number go
    ack = bytearray(4)
    for i in range(first, first + count):
        packet[at_index:at_index + 7] = b"%07d" % i
        if qos:
            pid = pid % 65535 + 1
            packet[at_pid] = pid >> 8
            packet[at_pid + 1] = pid & 255
        sock.write(packet)
        if qos:
            got = sock.readinto(ack)
            while got < 4:  # a PUBACK split across reads: rare
                n = sock.readinto(memoryview(ack)[got:]) if got else sock.readinto(ack)
                if not n:
                    raise OSError("the broker closed the connection")
                got += n
            if ack[0] != 0x40 or ack[1] != 2 or ack[2] != pid >> 8 or ack[3] != pid & 255:
                raise OSError("expected PUBACK %d, got %r" % (pid, bytes(ack)))
    return pid


def main():
    port = open(int(os.getenv("AT_UART_FD")), "r+b")
    sock = connect(int(sys.argv[1]), sys.argv[2].encode())
    poller = select.poll()
    poller.register(port, select.POLLIN)
    line = b""
    pid = 0
    port.write(b"\r\nready\r\n")
    while True:
        poller.poll(100)
        try:
            chunk = port.read(256)
        except OSError:  # EAGAIN: nothing to read after all
            chunk = None
        if not chunk:
            continue
        line += chunk
        while b"\n" in line:
            cmd, line = line.split(b"\n", 1)
            qos, topic, first, count, size = cmd.split()
            try:
                pid = publish(sock, int(qos), topic, int(first), int(count), int(size), pid)
                port.write(b"\r\nOK\r\n")
            except OSError as e:
                port.write(b"\r\nERROR %s\r\n" % str(e).encode())


main()
