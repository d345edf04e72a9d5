"""Boot: read the board config, open the AT UART, print ready, run the loop."""
import gc
from at.compat import MICROPYTHON

if MICROPYTHON:  # collect every 4 KiB allocated while booting: what the imports keep then packs into the
    gc.threshold(4096)  # holes their transients leave, instead of spreading over the heap (boots in less)
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
    if MICROPYTHON:
        gc.threshold(-1)  # collect only when the heap is full: no collection cost per command
    at.write(b"\r\nready\r\n")
    print("upy-at: ready on UART%d" % boardcfg.AT_UART)
    try:  # the image booted (e.g. after AT+CIUPDATE): keep it, or the bootloader rolls back at the next reset
        esp32.Partition.mark_app_valid_cancel_rollback()
    except OSError:
        pass  # not an OTA partition layout
    at.run(machine.WDT(timeout=boardcfg.WDT_MS))


main()
