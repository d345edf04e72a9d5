"""ESP32-WROOM-32: the AT port is UART2 on esp-at's pins (TX17 RX16 CTS15 RTS14)."""
AT_UART = 2
UART_PINS = {"tx": 17, "rx": 16, "cts": 15, "rts": 14}
UART_RXBUF = 2048
UART_TXBUF = 8192
UART_DEFAULT = (115200, 8, 1, 0, 0)  # baud, databits, stopbits, parity, flow control as AT numbers them
NVS_NAMESPACE = "upyat"
FS_ROOT = "/fs"
MODULE = "WROOM-32"
BUILD = "Nov 21 2026"
