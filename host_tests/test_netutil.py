"""SNTP, the clock, ping and AT+TRANSINTVL (firmware/cmds/netutil.py, net/sntp.py, net/ping.py).

Unit tests run the protocol code in this process (CPython) against fake sockets and loopback peers; the
emulator tests run the commands under both interpreters against peers.SntpServer on loopback (the host
board asks it on AT_SNTP_PORT) and ping 127.0.0.1 over a raw socket (the tests run as root). Nothing here
leaves the machine: the only names resolved are numeric, ``localhost`` (/etc/hosts) and a name whose
64-byte label the resolver refuses before any query is sent.
"""
import datetime
import os
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

import machine
import peers
from harness import Emulator
from net import ping, sntp
from cmds import netutil

AP = 'AT+CWJAP="upy-at-emu","emulator1"'
UNRESOLVABLE = "x" * 64  # a label over 63 bytes: the resolver refuses it locally, no DNS query goes out
T2016 = 1481481212  # Sun Dec 11 18:33:32 2016 UTC: the manual's "Mon Dec 12 02:33:32 2016" at UTC+8
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(gen):
    """Drive a loop generator to its end, sleeping as it asks; returns its result."""
    while True:
        try:
            ms = next(gen)
        except StopIteration as e:
            return e.value
        time.sleep((10 if ms is None else ms) / 1000)


def expected(t, offset_s=0):
    return datetime.datetime.fromtimestamp(t + offset_s, datetime.timezone.utc).strftime("%a %b %d %H:%M:%S %Y")


# ---- the calendar --------------------------------------------------------------------------------
STAMPS = [0, -1, 59, 86399, 86400, 951782400, 951868799, 946684800, 1481481212, 2147483647, 2147483648,
          4102444800, 4107542400, 253402300799, -86401, -2208988800, 1709164800, 1709251199]


@pytest.mark.parametrize("t", STAMPS)
def test_civil_and_asctime_agree_with_cpython(t):
    d = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=t)
    assert sntp.civil(t) == (d.year, d.month, d.day, d.weekday(), d.hour, d.minute, d.second)
    assert sntp.unix(d.year, d.month, d.day, d.hour, d.minute, d.second) == t
    assert sntp.asctime(t) == d.strftime("%a %b %d %H:%M:%S %Y")


def test_asctime_is_24_characters_with_a_zero_padded_day():
    assert sntp.asctime(0) == "Thu Jan 01 00:00:00 1970"
    assert sntp.asctime(T2016 + 8 * 3600) == "Mon Dec 12 02:33:32 2016"  # the manual's example
    assert all(len(sntp.asctime(t)) == 24 for t in range(0, 400 * 86400, 86400 * 7 + 3601))


def test_calendar_under_micropython():
    """The same arithmetic on the unix port (bool arithmetic, floor division of negatives, long ints)."""
    code = "import sys; sys.path[:0] = [%r, %r]\nfrom net import sntp\nfor t in %r: print(sntp.asctime(t), sntp.unix(*sntp.civil(t)[:3], *sntp.civil(t)[4:]))\n" % (
        os.path.join(ROOT, "firmware"), os.path.join(ROOT, "boards", "host"), STAMPS)
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    out = subprocess.run([mp, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    want = ["%s %d" % (expected(t), t) for t in STAMPS]
    assert out.stdout.splitlines() == want


@pytest.mark.parametrize("tz, seconds", [
    (0, 0), (8, 8 * 3600), (-12, -12 * 3600), (14, 14 * 3600), (-11, -11 * 3600), (13, 13 * 3600),
    (530, 5 * 3600 + 1800), (-530, -(5 * 3600 + 1800)), (1245, 12 * 3600 + 45 * 60), (15, 15 * 60),
    (800, 8 * 3600), (-1259, -(12 * 3600 + 59 * 60)), (1459, 14 * 3600 + 59 * 60), (-13, -13 * 60),
    (60, None), (99, None), (1260, None), (-1260, None), (1500, None), (-1300, None),
])
def test_utc_offset_of_both_timezone_forms(tz, seconds):
    assert netutil.utc_offset(tz) == seconds


# ---- the SNTP packet -----------------------------------------------------------------------------
COOKIE = b"\x01\x02\x03\x04\x05\x06\x07\x08"


def reply(t, cookie=COOKIE, li=0, mode=4, stratum=1):
    head = struct.pack("!BBbbII4s", li << 6 | 4 << 3 | mode, stratum, 0, -20, 0, 0, b"LOCL")
    stamp = peers.ntp_timestamp(t)
    return head + stamp + cookie + stamp + stamp


def test_request_is_a_version_4_client_packet_carrying_the_cookie():
    pkt = sntp.request(COOKIE)
    assert len(pkt) == 48 and pkt[0] == 0x23 and bytes(pkt[40:48]) == COOKIE and not any(pkt[1:40])


def test_parse_a_reply():
    assert sntp.parse(reply(T2016 + 0.25), COOKIE) == (T2016, 250000)
    # NTP era 1 (after 2036-02-07): seconds wrap at 2**32
    assert sntp.parse(reply(2085978496 + 10), COOKIE) == (2085978496 + 10, 0)


@pytest.mark.parametrize("packet", [
    reply(T2016, cookie=b"\x00" * 8),  # an answer to another request
    reply(T2016, li=3),  # the server's clock is not synchronised
    reply(T2016, stratum=0),  # kiss-o'-death
    reply(T2016, stratum=16),
    reply(T2016, mode=3),  # a request, not a reply
    reply(T2016)[:47],
    reply(T2016)[:40] + b"\x00" * 8,  # no time
], ids=["cookie", "leap3", "kod", "stratum16", "mode3", "short", "no-time"])
def test_parse_refuses_what_is_not_a_usable_answer(packet):
    assert sntp.parse(packet, COOKIE) is None


class SilentSocket:
    """A non-blocking socket that sends into the void and never receives anything."""

    def __init__(self):
        self.sent = []

    def sendto(self, data, addr):
        self.sent.append((bytes(data), addr))
        return len(data)

    def recvfrom(self, n):
        raise OSError(11, "EAGAIN")

    def close(self):
        pass


def test_query_resends_then_gives_up_without_blocking():
    sock = SilentSocket()
    gen = sntp.query(("127.0.0.1", 123), timeout_ms=200, tries=3, sock=sock)
    start = time.monotonic()
    yields = 0
    while True:
        try:
            ms = next(gen)
        except StopIteration as e:
            assert e.value is None
            break
        yields += 1
        assert ms is not None and ms <= 50  # the loop gets control back often
        time.sleep(ms / 1000)
    elapsed = time.monotonic() - start
    assert 0.55 < elapsed < 1.5, elapsed
    assert len(sock.sent) == 3 and yields > 10
    cookies = {data[40:48] for data, _ in sock.sent}
    assert len(cookies) == 3  # a fresh transmit timestamp per try


def test_query_against_a_loopback_server(sntp_server):
    sntp_server.time = T2016 + 0.5
    got = run(sntp.query(socket.getaddrinfo("127.0.0.1", sntp_server.port)[0][-1]))
    assert got is not None and got[0] == T2016 and 500000 <= got[1] < 600000
    addr, packet = sntp_server.requests[0]
    assert packet[0] & 7 == 3


def test_query_ignores_a_stale_reply_and_takes_the_right_one(sntp_server):
    """A late answer to an earlier request (another cookie) does not set the clock."""
    addr = socket.getaddrinfo("127.0.0.1", sntp_server.port)[0][-1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    try:
        sntp_server.answer = False
        gen = sntp.query(addr, timeout_ms=300, tries=2, sock=sock)
        next(gen)
        sntp_server.wait_requests(1)
        sntp_server.sendto(reply(T2016, cookie=b"stale!!!"))
        sntp_server.answer = True
        got = run(gen)
        assert got is not None and abs(got[0] - time.time()) < 2
        assert len(sntp_server.requests) == 2  # the stale reply was refused, the resend answered
    finally:
        sock.close()


# ---- ping ----------------------------------------------------------------------------------------
def test_checksum():
    assert ping.checksum(b"\x00\x01\xf2\x03\xf4\xf5\xf6\xf7") == 0x220D  # RFC 1071's example, complemented
    pkt = ping.echo_request(0x1234, 7)
    assert pkt[0] == 8 and ping.checksum(pkt) == 0
    assert ping.checksum(b"\x01") == 0xFEFF  # odd length: padded with a zero byte


def echo_reply(ident, seq, ip_header=True):
    pkt = bytearray(ping.echo_request(ident, seq))
    pkt[0] = 0
    pkt[2:4] = b"\x00\x00"
    struct.pack_into("!H", pkt, 2, ping.checksum(pkt))
    if ip_header:
        pkt = bytes([0x45]) + bytes(19) + bytes(pkt)
    return bytes(pkt)


def test_is_reply_matches_type_identifier_sequence_and_checksum():
    assert ping.is_reply(echo_reply(5, 6), 5, 6)
    assert ping.is_reply(echo_reply(5, 6, ip_header=False), 5, 6)
    assert not ping.is_reply(echo_reply(5, 7), 5, 6)
    assert not ping.is_reply(echo_reply(4, 6), 5, 6)
    assert not ping.is_reply(bytes([0x45]) + bytes(19) + bytes(ping.echo_request(5, 6)), 5, 6)  # our request
    bad = bytearray(echo_reply(5, 6))
    bad[-1] ^= 1
    assert not ping.is_reply(bytes(bad), 5, 6)
    assert not ping.is_reply(b"\x45" + bytes(19) + b"\x00\x00", 5, 6)


def test_ping_times_out_when_nothing_answers():
    sock = SilentSocket()
    start = time.monotonic()
    assert run(ping.ping(("192.0.2.1", 0), timeout_ms=300, sock=sock)) is None
    assert 0.28 < time.monotonic() - start < 1.0
    assert len(sock.sent) == 1 and sock.sent[0][0][0] == 8


class EchoingSocket(SilentSocket):
    """Shows the request itself first (as loopback does on a raw socket), then a stranger's reply, then ours."""

    def __init__(self):
        super().__init__()
        self.queue = []

    def sendto(self, data, addr):
        super().sendto(data, addr)
        ident, seq = struct.unpack_from("!HH", data, 4)
        self.queue = [b"\x45" + bytes(19) + bytes(data), echo_reply(ident ^ 1, seq), echo_reply(ident, seq)]
        return len(data)

    def recvfrom(self, n):
        if not self.queue:
            raise OSError(11, "EAGAIN")
        return self.queue.pop(0), ("127.0.0.1", 0)


def test_ping_skips_other_icmp_and_returns_the_round_trip():
    ms = run(ping.ping(("127.0.0.1", 0), timeout_ms=1000, sock=EchoingSocket()))
    assert ms is not None and 0 <= ms < 100


def test_ping_loopback_over_a_raw_socket():
    ms = run(ping.ping(socket.getaddrinfo("127.0.0.1", 0)[0][-1], 1000))
    assert ms is not None and ms < 100


# ---- the host board's RTC ------------------------------------------------------------------------
def test_host_rtc_has_the_chip_semantics():
    rtc = machine.RTC()
    rtc.datetime((2016, 12, 11, 0, 18, 33, 32, 250000))  # weekday is ignored when set
    got = rtc.datetime()
    assert got[:7] == (2016, 12, 11, 6, 18, 33, 32) and 250000 <= got[7] < 400000
    with pytest.raises(ValueError):
        rtc.datetime((2016, 12, 11, 18, 33, 32))
    netutil.set_clock(T2016, 0)
    assert abs(netutil.clock() - T2016) <= 1


# ---- the commands on the emulator ------------------------------------------------------------------
@pytest.fixture
def ntp(interp, sntp_server, monkeypatch, tmp_path):
    """(emulator, SNTP server): the host board asks the loopback server on AT_SNTP_PORT."""
    monkeypatch.setenv("AT_SNTP_PORT", str(sntp_server.port))
    sntp_server.time = T2016
    with Emulator(interp, state=str(tmp_path)) as emu:
        assert emu.command("ATE0")[-1] == b"OK"
        yield emu, sntp_server


def sntp_time(emu):
    lines = emu.command("AT+CIPSNTPTIME?")
    assert len(lines) == 2 and lines[1] == b"OK", lines
    return lines[0].decode()


def assert_time(emu, t, offset_s):
    line = sntp_time(emu)
    assert line in ["+CIPSNTPTIME:" + expected(t + k, offset_s) for k in range(4)], (line, expected(t, offset_s))


def test_sntp_sets_the_clock_and_reports_it_in_the_time_zone(ntp):
    emu, server = ntp
    assert emu.command("AT+CIPSNTPCFG?") == [
        b'+CIPSNTPCFG:0,0,"cn.ntp.org.cn","ntp.sjtu.edu.cn","us.pool.ntp.org"', b"OK"]
    assert re.fullmatch(r"\+CIPSNTPTIME:Thu Jan 01 00:00:\d\d 1970", sntp_time(emu))
    assert emu.command(AP)[-1] == b"OK"
    assert emu.command('AT+CIPSNTPCFG=1,8,"127.0.0.1"') == [b"OK"]
    assert emu.line(timeout=5) == b"+TIME_UPDATED"
    assert emu.command("AT+CIPSNTPCFG?") == [b'+CIPSNTPCFG:1,8,"127.0.0.1"', b"OK"]
    assert_time(emu, T2016, 8 * 3600)  # Mon Dec 12 02:33:32 2016, as in the manual
    # another zone: the clock stays UTC, the report moves; a fresh sync reports again
    server.time = T2016 + 100
    assert emu.command('AT+CIPSNTPCFG=1,-530,"127.0.0.1"') == [b"OK"]
    assert emu.line(timeout=5) == b"+TIME_UPDATED"
    assert_time(emu, T2016 + 100, -(5 * 3600 + 1800))
    assert emu.command("AT+CIPSNTPCFG=0") == [b"OK"]
    assert_time(emu, T2016 + 100, -(5 * 3600 + 1800))  # disabling keeps the clock
    n = len(server.requests)
    assert emu.drain(1.2) == b"" and len(server.requests) == n
    assert [data[0] & 7 for _, data in server.requests] == [3] * n


def test_sntp_with_no_answer_reports_nothing_and_the_clock_still_answers(ntp):
    emu, server = ntp
    server.answer = False
    assert emu.command(AP)[-1] == b"OK"
    assert emu.command('AT+CIPSNTPCFG=1,8,"127.0.0.1"') == [b"OK"]
    server.wait_requests(3, timeout=6)  # the request and two resends, a second apart
    assert b"+TIME_UPDATED" not in emu.drain(1.3)
    assert len(server.requests) == 3  # then a pause before the next round (15 s)
    assert re.fullmatch(r"\+CIPSNTPTIME:Thu Jan 01 08:00:\d\d 1970", sntp_time(emu))
    assert emu.command("AT+CIPSNTPCFG=0") == [b"OK"]


def test_sntp_resends_and_moves_to_the_next_server(ntp):
    emu, server = ntp
    answered = peers.SntpServer.handle

    def handle(data, addr):  # silent for the first three requests (all the tries on the first server)
        server.answer = len(server.requests) >= 3
        answered(server, data, addr)

    server.handle = handle
    assert emu.command(AP)[-1] == b"OK"
    start = time.monotonic()
    assert emu.command('AT+CIPSNTPCFG=1,0,"%s","127.0.0.1","localhost"' % UNRESOLVABLE) == [b"OK"]
    assert emu.line(timeout=8) == b"+TIME_UPDATED"
    assert time.monotonic() - start > 2.5  # three tries on 127.0.0.1 first
    assert len(server.requests) == 4  # the fourth went to "localhost", and was answered
    assert_time(emu, T2016, 0)
    assert emu.command("AT+CIPSNTPCFG=0") == [b"OK"]


def test_sntp_waits_for_the_station(ntp):
    emu, server = ntp
    assert emu.command('AT+CIPSNTPCFG=1,1,"127.0.0.1"') == [b"OK"]
    time.sleep(0.8)
    assert server.requests == []
    assert emu.command(AP)[-1] == b"OK"
    assert emu.line(timeout=5) == b"+TIME_UPDATED"
    assert_time(emu, T2016, 3600)


def test_the_clock_survives_a_reset_but_not_a_power_cycle(interp, sntp_server, monkeypatch, tmp_path):
    monkeypatch.setenv("AT_SNTP_PORT", str(sntp_server.port))
    sntp_server.time = T2016
    with Emulator(interp, state=str(tmp_path)) as emu:
        assert emu.command("ATE0")[-1] == b"OK"
        assert emu.command(AP)[-1] == b"OK"
        assert emu.command('AT+CIPSNTPCFG=1,8,"127.0.0.1"')[-1] == b"OK"
        assert emu.line(timeout=5) == b"+TIME_UPDATED"
        assert emu.command("AT+RST")[-1] == b"OK"
        emu.read_until(b"ready\r\n", 15)
        assert emu.command("ATE0")[-1] == b"OK"
        assert emu.command("AT+CIPSNTPCFG?")[0].startswith(b"+CIPSNTPCFG:0,0,")  # the settings are not saved
        assert_time(emu, T2016, 0)  # the RTC kept running (UTC now: the zone was not saved)
    with Emulator(interp, state=str(tmp_path)) as emu:  # power-up
        assert emu.command("ATE0")[-1] == b"OK"
        assert re.fullmatch(r"\+CIPSNTPTIME:Thu Jan 01 00:00:0\d 1970", sntp_time(emu))


def test_ping(emu):
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command('AT+PING="127.0.0.1"') == [b"+PING:TIMEOUT", b"ERROR"]  # no network yet
    assert emu.command(AP)[-1] == b"OK"
    for host in ("127.0.0.1", "localhost"):
        lines = emu.command('AT+PING="%s"' % host)
        assert len(lines) == 2 and re.fullmatch(rb"\+PING:\d+", lines[0]) and lines[1] == b"OK", lines
        assert int(lines[0][6:]) < 100
    start = time.monotonic()
    assert emu.command('AT+PING="%s"' % UNRESOLVABLE) == [b"+PING:TIMEOUT", b"ERROR"]
    assert time.monotonic() - start < 1
    assert emu.command("AT+PING=127.0.0.1") == [b"ERROR"]  # a string must be quoted


def test_transintvl_sets_the_passthrough_flush_interval(emu, tcp_echo):
    """Bytes wait for AT+TRANSINTVL ms of UART silence before they go to the link."""
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command(AP)[-1] == b"OK"
    assert emu.command("AT+CIPMODE=1") == [b"OK"]
    assert emu.command('AT+CIPSTART="TCP","127.0.0.1",%d' % tcp_echo.port)[-1] == b"OK"
    delays = {}
    for ms in (0, 600):
        assert emu.command("AT+TRANSINTVL=%d" % ms) == [b"OK"]
        emu.send(b"AT+CIPSEND\r\n")
        assert emu.read_until(b">", 5).endswith(b"\r\nOK\r\n\r\n>")
        start = time.monotonic()
        emu.send(b"tick")
        assert emu.read_exact(4, 5) == b"tick"  # echoed back by the peer
        delays[ms] = time.monotonic() - start
        emu.leave_passthrough()
        assert emu.command("AT") == [b"OK"]
    assert delays[0] < 0.3 and 0.55 < delays[600] < 1.5, delays


# ---- acceptance: the PyPI client adafruit-circuitpython-esp-atcontrol ------------------------------
def test_adafruit_client_sntp_and_ping(interp, sntp_server, monkeypatch, tmp_path):
    """The client's sntp_config(), sntp_time and ping() against the emulator, as an MCU program uses them."""
    import atcontrol_shim

    with atcontrol_shim.installed():
        import busio
        from adafruit_espatcontrol.adafruit_espatcontrol import ESP_ATcontrol

    monkeypatch.setenv("AT_SNTP_PORT", str(sntp_server.port))
    sntp_server.time = T2016
    with Emulator(interp, state=str(tmp_path)) as emu:
        uart = busio.UART(emu.port, emu.port, baudrate=115200, timeout=0.1)
        try:
            esp = ESP_ATcontrol(uart, 115200)
            esp.connect({"ssid": "upy-at-emu", "password": "emulator1"})
            assert esp.sntp_time.startswith(b"Thu Jan 01 00:0")  # "may return 1970 'bad data'" (its docstring)
            esp.sntp_config(True, 8, "127.0.0.1")
            # the sync runs in the background after OK: a program asks again while the clock still says 1970
            deadline = time.monotonic() + 10
            while esp.sntp_time.startswith(b"Thu Jan 01 ") and time.monotonic() < deadline:
                time.sleep(0.2)
            assert esp.sntp_time.decode() in [expected(T2016 + k, 8 * 3600) for k in range(4)]
            ms = esp.ping("127.0.0.1")
            assert isinstance(ms, int) and 0 <= ms < 100
            assert esp.ping(UNRESOLVABLE) is None  # +PING:TIMEOUT
        except BaseException:
            print("UART traffic:\n" + uart.transcript())
            raise
        finally:
            uart.deinit()
