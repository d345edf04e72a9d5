"""The host board's RTC arithmetic (machine.RTC imports it at its first use): the chip's clock runs from
2000-01-01 00:00:00 at power-up and keeps running across resets and deep sleep, so the offset from the
laptop's clock is kept in the state folder."""
import time
import hoststate
import machine

_RTC_FILE = "rtc"
_Y2K = 946684800  # seconds from 1970-01-01 to 2000-01-01, the chip's epoch
_rtc = None  # microseconds to add to the laptop's clock (since 1970) to get the RTC's (since 2000)


def datetime(datetimetuple):
    """machine.RTC().datetime(): read it (None) or set it from an 8-tuple (weekday ignored)."""
    if datetimetuple is None:
        us = _rtc_offset() + hoststate.host_us()
        t = time.gmtime(us // 1000000 + _Y2K)  # the laptop's calendar, from 1970: weekday 0 is Monday, as here
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], us % 1000000)
    t = tuple(datetimetuple)
    if len(t) != 8:
        raise ValueError("requested length 8 but object has length %d" % len(t))
    secs = _days(t[0], t[1], t[2]) * 86400 + t[4] * 3600 + t[5] * 60 + t[6]
    _rtc_save(secs * 1000000 + t[7] - hoststate.host_us())
    return None


def _rtc_offset():
    global _rtc
    if _rtc is None:
        saved = None if machine.reset_cause() == machine.PWRON_RESET else hoststate.read(hoststate.path(_RTC_FILE))
        _rtc = int(saved) if saved else -hoststate.POWER_UP_US  # power-up: 2000-01-01 00:00:00
    return _rtc


def _rtc_save(offset):
    global _rtc
    _rtc = offset
    hoststate.write_atomic(hoststate.path(_RTC_FILE), b"%d" % offset)


def _days(y, m, d):
    """Days since 2000-01-01 (the chip's epoch) of a Gregorian date (the unix port's mktime reads local
    time, so the inverse of gmtime is done here)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doe = yoe * 365 + yoe // 4 - yoe // 100 + (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + doe - 730425

