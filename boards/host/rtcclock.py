"""The host board's RTC arithmetic (machine.RTC imports it at its first use): the chip's clock runs from
2000-01-01 00:00:00 at power-up and keeps running across resets and deep sleep, so the offset from the
laptop's clock is kept in the state folder."""
import hoststate
import machine

_RTC_FILE = "rtc"
_rtc = None  # microseconds to add to the laptop's clock (since 1970) to get the RTC's (since 2000)


def datetime(datetimetuple):
    """machine.RTC().datetime(): read it (None) or set it from an 8-tuple (weekday ignored)."""
    if datetimetuple is None:
        us = _rtc_offset() + hoststate.host_us()
        days, rem = divmod(us // 1000000, 86400)
        y, m, d = _civil(days)
        return (y, m, d, (days + 5) % 7, rem // 3600, rem // 60 % 60, rem % 60, us % 1000000)
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
    """Days since 2000-01-01 (the chip's epoch) of a Gregorian date."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doe = yoe * 365 + yoe // 4 - yoe // 100 + (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + doe - 730425


def _civil(days):
    z = days + 730425
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, doy - (153 * mp + 2) // 5 + 1
