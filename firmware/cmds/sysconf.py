"""ESP-AT system settings and power (seed 004 §3 and the 2.x forms): AT+CMD?, AT+SYSRAM?, AT+SYSLOG,
AT+SYSSTORE, AT+SYSMSG, AT+GSLP, AT+SLEEP, AT+RFPOWER. Apart from cmds/basic.py, which boot imports:
most sessions never use these."""
import machine
import network
from at import table
from at.compat import mem_free
from at.engine import DONE
from at.parser import AtError, num, E_INVALID, TEST, QUERY, SET, EXEC


def q_cmd(at):
    for i, row in enumerate(table.TABLE):  # in order: each row is read once
        forms = row[2]
        at.reply(
            '+CMD:%d,"AT%s",%d,%d,%d,%d'
            % (i, row[0], forms & TEST > 0, forms & QUERY > 0, forms & SET > 0, forms & EXEC > 0)
        )


p_gslp = (num(0, 0x7FFFFFFF),)


def s_gslp(at, ms):
    at.reply(b"%d" % ms)
    at.write(b"\r\nOK\r\n")
    at.uart.flush()
    machine.deepsleep(ms)
    return DONE


# ---- power ------------------------------------------------------------------------------------
_SLEEP_PM = (network.WLAN.PM_NONE, network.WLAN.PM_PERFORMANCE, None, network.WLAN.PM_POWERSAVE)
p_sleep = (num(0, 3),)


def s_sleep(at, mode):
    if _SLEEP_PM[mode] is None:
        raise AtError(E_INVALID)  # automatic light-sleep has no MicroPython API
    network.WLAN(network.WLAN.IF_STA).config(pm=_SLEEP_PM[mode])


def q_sleep(at):
    at.reply("+SLEEP:%d" % _SLEEP_PM.index(network.WLAN(network.WLAN.IF_STA).config("pm")))


# v1.2 levels 0..11 (dBm), or the 2.x unit of 0.25 dBm in 40..84. Level 11 (-1 dBm) is below what the
# ESP-IDF can set (2 dBm); as the manual warns, the power set is approximate.
_LEVEL_DBM = (19.5, 19, 18.5, 17, 15, 13, 11, 8.5, 7, 5, 2, 2)
p_rfpower = (num(0, 84), num(0, 7, True), num(0, 7, True), num(0, 7, True))


def s_rfpower(at, wifi, adv, scan, conn):
    if adv is not None or scan is not None or conn is not None:
        raise AtError(E_INVALID | 1)  # MicroPython's bluetooth has no TX power setting
    if wifi <= 11:
        dbm = _LEVEL_DBM[wifi]
    elif wifi >= 40:
        dbm = wifi / 4
    else:
        raise AtError(E_INVALID)
    network.WLAN(network.WLAN.IF_STA).config(txpower=dbm)


def q_rfpower(at):
    at.reply("+RFPOWER:%d" % int(network.WLAN(network.WLAN.IF_STA).config("txpower") * 4))


def q_sysram(at):
    free = mem_free()
    at.min_free = min(at.min_free, free)
    at.reply("+SYSRAM:%d,%d" % (free, at.min_free))


# ---- system switches --------------------------------------------------------------------------
p_syslog = (num(0, 1),)


def s_syslog(at, on):
    at.syslog = bool(on)


def q_syslog(at):
    at.reply("+SYSLOG:%d" % at.syslog)


p_sysstore = (num(0, 1),)


def s_sysstore(at, on):
    at.store.put_int("sysstore", on)
    at.store.autosave = bool(on)


def q_sysstore(at):
    at.reply("+SYSSTORE:%d" % at.store.autosave)


p_sysmsg = (num(0, 7),)


def s_sysmsg(at, bits):
    at.sysmsg = bits
    at.store.save_int("sysmsg", bits)


def q_sysmsg(at):
    at.reply("+SYSMSG:%d" % at.sysmsg)
