"""ESP-AT basic commands: seed 004 §3 and the 2.x forms (AT+CMD, SYSLOG, SYSSTORE, SYSMSG); AT+SYSFLASH and AT+FS
are in cmds/flash.py."""
import sys
import machine
import network
import boardcfg
from at import table
from at.compat import mem_free
from at.engine import DONE
from at.parser import AtError, num, E_INVALID, TEST, QUERY, SET, EXEC

VERSION = "2.4.0.0"
_UART_FLOW = (0, machine.UART.RTS, machine.UART.CTS, machine.UART.RTS | machine.UART.CTS)


def e_at(at):
    return None


def e_e0(at):
    at.echo = False


def e_e1(at):
    at.echo = True


def e_rst(at):
    at.write(b"\r\nOK\r\n")
    at.restart()
    return DONE


def e_gmr(at):
    impl = sys.implementation
    at.reply("AT version:%s(upy-at - ESP32 - %s)" % (VERSION, boardcfg.BUILD))
    at.reply("SDK version:%s v%d.%d.%d" % ((impl.name,) + tuple(impl.version[:3])))
    at.reply("compile time(upy-at):%s" % boardcfg.BUILD)
    at.reply("Bin version:%s(%s)" % (VERSION, boardcfg.MODULE))


def q_cmd(at):
    for i in range(len(table.TABLE)):
        name, forms = table.TABLE[i][0], table.TABLE[i][2]
        at.reply(
            '+CMD:%d,"AT%s",%d,%d,%d,%d'
            % (i, name, forms & TEST > 0, forms & QUERY > 0, forms & SET > 0, forms & EXEC > 0)
        )


p_gslp = (num(0, 0x7FFFFFFF),)


def s_gslp(at, ms):
    at.reply(b"%d" % ms)
    at.write(b"\r\nOK\r\n")
    at.uart.flush()
    machine.deepsleep(ms)
    return DONE


def e_restore(at):
    at.store.factory_reset()
    e_rst(at)
    return DONE


# ---- UART -------------------------------------------------------------------------------------
p_uart_cur = (num(80, 5000000), num(5, 8), num(1, 3), num(0, 2), num(0, 3))
p_uart_def = p_uart = p_uart_cur


def uart_config(cfg):
    """machine.UART keyword arguments for an AT (baud, databits, stopbits, parity, flow) tuple."""
    baud, bits, stop, parity, flow = cfg
    if stop == 2:
        raise AtError(E_INVALID | 2)  # 1.5 stop bits: machine.UART on ESP32 takes only 1 or 2
    return {
        "baudrate": baud,
        "bits": bits,
        "stop": 1 if stop == 1 else 2,
        "parity": (None, 1, 0)[parity],
        "flow": _UART_FLOW[flow],
    }


def _apply_uart(at, cfg):
    kwargs = uart_config(cfg)
    at.write(b"\r\nOK\r\n")  # at the old settings, before they change
    at.uart.flush()
    at.uart.init(**kwargs)
    at.uart_cfg = cfg
    return DONE


def _uart_line(prefix, cfg):
    return "%s:%d,%d,%d,%d,%d" % ((prefix,) + tuple(cfg))


def q_uart_cur(at):
    at.reply(_uart_line("+UART_CUR", at.uart_cfg))


def s_uart_cur(at, baud, databits, stopbits, parity, flow):
    return _apply_uart(at, (baud, databits, stopbits, parity, flow))


def saved_uart(store):
    """The UART settings saved by AT+UART_DEF, or the board's defaults."""
    v = store.get_str("uart_def")
    return tuple(int(x) for x in v.split(",")) if v else boardcfg.UART_DEFAULT


def q_uart_def(at):
    at.reply(_uart_line("+UART_DEF", saved_uart(at.store)))


def s_uart_def(at, baud, databits, stopbits, parity, flow):
    cfg = (baud, databits, stopbits, parity, flow)
    uart_config(cfg)  # validate before saving
    at.store.put_bytes("uart_def", ",".join([str(x) for x in cfg]))
    return _apply_uart(at, cfg)


def q_uart(at):
    q_uart_cur(at)  # the Alibaba manual's AT+UART? answers +UART_CUR


def s_uart(at, baud, databits, stopbits, parity, flow):
    """The Alibaba manual's AT+UART=...: saved, as AT+UART_DEF."""
    return s_uart_def(at, baud, databits, stopbits, parity, flow)


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
