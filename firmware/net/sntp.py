"""SNTP (RFC 4330) for the loop, and the calendar arithmetic a clock needs, the same on the chip, the
MicroPython unix port and CPython.

Times here are Unix seconds (since 1970-01-01 UTC) whatever the port's own epoch is (2000 on the chip,
1970 on the unix port): the calendar is computed here, never with time.gmtime/mktime, whose epoch and
time zone differ between ports. NTP counts from 1900; era 0 ends in 2036 (RFC 4330 §3).
"""
import os
import socket
import struct
import boardcfg
from at.compat import const, ticks_ms, ticks_diff

PORT = boardcfg.SNTP_PORT  # 123 on the chip; the host board's tests point it at a loopback server
NTP_DELTA = 2208988800  # seconds from 1900-01-01 to 1970-01-01
CHIP_EPOCH = const(946684800)  # 2000-01-01 in Unix seconds: where the chip's RTC starts after power-up
_SIZE = const(48)
_MODE_CLIENT = const(3)
_MODE_SERVER = const(4)

_WDAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ---- the protocol ---------------------------------------------------------------------------------
def request(cookie):
    """A client request (version 4, mode 3) carrying the 8-byte ``cookie`` as its transmit timestamp,
    which the server echoes as the originate timestamp of its reply."""
    pkt = bytearray(_SIZE)
    pkt[0] = 4 << 3 | _MODE_CLIENT
    pkt[40:48] = cookie
    return pkt


def parse(data, cookie):
    """(Unix seconds, microseconds) of the server's transmit timestamp, or None when ``data`` is not a
    usable answer to the request that carried ``cookie``: too short, not a server reply, a kiss-o'-death
    (stratum 0), an unsynchronized server (leap indicator 3), another request's reply, no time."""
    if data is None or len(data) < _SIZE:
        return None
    if data[0] & 7 != _MODE_SERVER or data[0] >> 6 == 3 or not 0 < data[1] < 16:
        return None
    if bytes(data[24:32]) != bytes(cookie):
        return None
    secs, frac = struct.unpack_from("!II", data, 40)
    if secs == 0 and frac == 0:
        return None
    if secs < 0x80000000:
        secs += 0x100000000  # era 1: 2036-02-07 onwards
    return secs - NTP_DELTA, (frac * 1000000) >> 32


def query(sockaddr, timeout_ms=1000, tries=3, sock=None):
    """Generator: ask the server at ``sockaddr`` for the time, resending up to ``tries`` times, each
    waiting ``timeout_ms``; returns (Unix seconds, microseconds) corrected by half the round trip, or
    None. ``sock`` (a non-blocking UDP socket) is for tests; by default one is opened and closed here."""
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
    try:
        for _ in range(tries):
            cookie = os.urandom(8)
            start = ticks_ms()
            try:
                sock.sendto(request(cookie), sockaddr)
            except OSError:
                return None  # no route: another try will not help
            while ticks_diff(ticks_ms(), start) < timeout_ms:
                try:
                    data = sock.recvfrom(64)[0]
                except OSError:  # EAGAIN: nothing yet
                    data = None
                if data is None:
                    yield 10
                    continue
                got = parse(data, cookie)
                if got is not None:
                    usec = got[1] + ticks_diff(ticks_ms(), start) * 500
                    return got[0] + usec // 1000000, usec % 1000000
        return None
    finally:
        if own:
            sock.close()


# ---- the calendar ---------------------------------------------------------------------------------
def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, integers only)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil(t):
    """(year, month, day, weekday 0=Monday, hour, minute, second) of Unix seconds ``t``."""
    days, rem = divmod(t, 86400)
    z = days + 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d, (days + 3) % 7, rem // 3600, rem // 60 % 60, rem % 60


def unix(y, m, d, hh=0, mm=0, ss=0):
    """Unix seconds of a UTC date and time."""
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss


def asctime(t):
    """``Mon Dec 12 02:33:32 2016``: C's asctime with the day zero-padded to two digits, as esp-at
    prints it (always 24 characters for years 1000-9999; clients read it at fixed offsets)."""
    y, m, d, wd, hh, mm, ss = civil(t)
    return "%s %s %02d %02d:%02d:%02d %d" % (_WDAY[wd], _MONTH[m - 1], d, hh, mm, ss, y)
