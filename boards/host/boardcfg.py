"""The laptop as a board: the AT port is the emulator's pty, flash and files live in the state folder."""
import os

STATE = os.getenv("AT_STATE") or ".atstate"
AT_UART = 2
UART_PINS = {}
UART_RXBUF = 2048
UART_TXBUF = 8192
UART_DEFAULT = (115200, 8, 1, 0, 0)
NVS_NAMESPACE = "upyat"
FS_ROOT = STATE + "/fs"
MODULE = "host"
BUILD = "Nov 21 2026"
# AT+CIUPDATE's server, from the environment so tests can point it at a loopback server (README).
OTA_URL = os.getenv("AT_OTA_URL") or ""
OTA_SSL_URL = os.getenv("AT_OTA_SSL_URL") or ""
OTA_CA = os.getenv("AT_OTA_CA") or ""
OTA_TIMEOUT_MS = int(os.getenv("AT_OTA_TIMEOUT_MS") or 10000)
# SNTP's server port (AT+CIPSNTPCFG names hosts only): tests point it at a loopback server with AT_SNTP_PORT.
SNTP_PORT = int(os.getenv("AT_SNTP_PORT") or 123)
# The CA the clouds' TLS endpoints must chain to (net/pki.cloud_context): the emulator's --ca file (README).
CLOUD_CA = os.getenv("AT_CLOUD_CA") or ""
# machine.WDT's timeout (README "Watchdog"); tests shorten it with AT_WDT_MS.
WDT_MS = int(os.getenv("AT_WDT_MS") or 30000)
