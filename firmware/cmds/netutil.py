"""ESP-AT network utilities (seed 004 §5.2.20, 5.2.21, 5.2.25 and 2.x): SNTP and the clock, ping, and the
passthrough send interval.

AT+CIPSNTPCFG=1 answers OK at once; a background task asks the servers in turn (net.sntp), sets the RTC
and reports +TIME_UPDATED, then syncs again every hour (esp-at's default AT+CIPSNTPINTV), or after 15 s
when no server answered. The RTC keeps UTC; AT+CIPSNTPTIME? adds the time zone. Until the clock is set
the chip's RTC counts from 2000-01-01 at power-up; AT+CIPSNTPTIME? then counts from 1970-01-01 as
esp-at's clock does, so clients that wait for a year other than 1970 still work.
"""
import machine
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError, num, text, E_INVALID, E_EXEC
from cmds import wifi
from net import ping, sntp, transport

DEFAULT_SERVERS = ("cn.ntp.org.cn", "ntp.sjtu.edu.cn", "us.pool.ntp.org")
SYNC_MS = 3600000  # esp-at's default sync interval (AT+CIPSNTPINTV)
RETRY_MS = 15000  # after a round where no server answered (lwIP's SNTP_RETRY_TIMEOUT)
PING_TIMEOUT_MS = 1000
UPDATED = b"+TIME_UPDATED\r\n"

enabled = 0
timezone = 0  # as the MCU wrote it: whole hours, or [+|-]hhmm
servers = DEFAULT_SERVERS
_round = 0  # which AT+CIPSNTPCFG the running sync task belongs to; an older task stops


def utc_offset(tz):
    """Seconds to add to UTC for an esp-at <timezone>: whole hours -12..14, or [+|-]hhmm with hh -12..14
    and mm 0..59 (530 is UTC+05:30, 1245 UTC+12:45, 015 UTC+00:15); None when invalid."""
    if -12 <= tz <= 14:
        return tz * 3600
    if tz < -1259 or tz > 1459:
        return None
    hh, mm = divmod(-tz if tz < 0 else tz, 100)
    if mm >= 60:
        return None
    return (-1 if tz < 0 else 1) * (hh * 3600 + mm * 60)


def clock():
    """Unix seconds by the RTC (UTC); an RTC never set since power-up reads as seconds since 1970."""
    dt = machine.RTC().datetime()
    t = sntp.unix(dt[0], dt[1], dt[2], dt[4], dt[5], dt[6])
    return t - sntp.CHIP_EPOCH if dt[0] < 2001 else t


def set_clock(t, usec=0):
    """Set the RTC to Unix seconds ``t`` (UTC)."""
    y, m, d, wd, hh, mm, ss = sntp.civil(t)
    machine.RTC().datetime((y, m, d, wd, hh, mm, ss, usec))


def _online():
    return wifi.sta.isconnected() or wifi.ap.active()


# ---- SNTP ----------------------------------------------------------------------------------------
p_cipsntpcfg = (num(0, 1), num(-1259, 1459, True), text(64, opt=True), text(64, opt=True), text(64, opt=True))


def s_cipsntpcfg(at, enable, tz, s0, s1, s2):
    """AT+CIPSNTPCFG=<enable>[,<timezone>][,<server0>,<server1>,<server2>]; the time zone is required
    when enabling; no server given means the three defaults."""
    global enabled, timezone, servers, _round
    if tz is None:
        if enable:
            raise AtError(E_INVALID | 1)
    elif utc_offset(tz) is None:
        raise AtError(E_INVALID | 1)
    else:
        timezone = tz
    named = tuple([s for s in (s0, s1, s2) if s])
    servers = named or DEFAULT_SERVERS
    enabled = enable
    _round += 1
    if enable:
        at.spawn(_sync(at, _round))


def q_cipsntpcfg(at):
    at.reply("+CIPSNTPCFG:%d,%d," % (enabled, timezone) + ",".join(['"%s"' % s for s in servers]))


def q_cipsntptime(at):
    at.reply("+CIPSNTPTIME:" + sntp.asctime(clock() + utc_offset(timezone)))


def _sync(at, mine):
    """Background task: ask the servers in turn; set the clock and report +TIME_UPDATED; again later."""
    while mine == _round:
        if not wifi.sta.isconnected():
            yield 500  # SNTP needs the station's network
            continue
        got = None
        for host in servers:
            try:
                addr = transport.resolve(host, sntp.PORT)
            except (OSError, ValueError):  # unresolvable (CPython: also a name IDNA cannot encode)
                continue
            got = yield from sntp.query(addr[2])
            if mine != _round:
                return  # reconfigured meanwhile
            if got is not None:
                break
        if got is not None:
            set_clock(got[0], got[1])
            at.urc(UPDATED)
        wait = SYNC_MS if got is not None else RETRY_MS
        start = ticks_ms()
        while mine == _round and ticks_diff(ticks_ms(), start) < wait:
            yield 1000


# ---- ping ----------------------------------------------------------------------------------------
p_ping = (text(128, 1),)


def s_ping(at, host):
    """AT+PING=<host>: +PING:<ms> then OK; +PING:TIMEOUT then ERROR when the name does not resolve or
    no reply comes in time."""
    return _ping(at, host)


def _ping(at, host):
    ms = None
    if _online():
        try:
            addr = transport.resolve(host, 0)
        except (OSError, ValueError):
            addr = None
        if addr is not None:
            try:
                ms = yield from ping.ping(addr[2], PING_TIMEOUT_MS)
            except OSError as e:  # no raw socket (on a laptop: not root, no CAP_NET_RAW)
                print("upy-at: ping: no raw socket: %r" % (e,))
                raise AtError(E_EXEC)
    if ms is None:
        at.reply("+PING:TIMEOUT")
        return False
    at.reply("+PING:%d" % ms)
    return None


# ---- passthrough ---------------------------------------------------------------------------------
p_transintvl = (num(0, 1000),)


def s_transintvl(at, ms):
    """AT+TRANSINTVL=<ms>: in passthrough, bytes go out after this much UART silence (default 20)."""
    at.transintvl = ms


def q_transintvl(at):
    at.reply("+TRANSINTVL:%d" % at.transintvl)
