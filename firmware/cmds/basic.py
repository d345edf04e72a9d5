"""ESP-AT basic commands (seed 004 §3) that every session uses, and the UART's, whose settings boot reads
(``saved_uart``, ``uart_config``); the system settings and power commands are in cmds/sysconf.py, AT+SYSFLASH
and AT+FS in cmds/flash.py."""
import sys
import machine
import boardcfg
from at.engine import DONE
from at.parser import AtError, num, E_INVALID

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
