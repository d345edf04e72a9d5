"""Boot: read the board config, open the AT UART, print ready, run the loop."""
import os
import esp32
import machine
import boardcfg
from at.engine import Engine
from at.parser import AtError
from at.store import Store
from cmds.basic import saved_uart, uart_config


def main():
    store = Store(boardcfg.NVS_NAMESPACE)
    cfg = saved_uart(store)
    try:
        kwargs = uart_config(cfg)
    except AtError:
        cfg = boardcfg.UART_DEFAULT
        kwargs = uart_config(cfg)
    kwargs.update(boardcfg.UART_PINS)
    uart = machine.UART(boardcfg.AT_UART, rxbuf=boardcfg.UART_RXBUF, txbuf=boardcfg.UART_TXBUF, **kwargs)
    at = Engine(uart, store)
    at.uart_cfg = cfg
    at.sysmsg = store.get_int("sysmsg", 0)
    try:
        os.mkdir(boardcfg.FS_ROOT)
    except OSError:
        pass  # exists
    at.boot()
    at.write(b"\r\nready\r\n")
    print("upy-at: ready on UART%d" % boardcfg.AT_UART)
    try:  # the image booted (e.g. after AT+CIUPDATE): keep it, or the bootloader rolls back at the next reset
        esp32.Partition.mark_app_valid_cancel_rollback()
    except OSError:
        pass  # not an OTA partition layout
    at.run(machine.WDT(timeout=boardcfg.WDT_MS))


main()
