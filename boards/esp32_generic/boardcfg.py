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
# AT+CIUPDATE's server (README "Firmware update over Wi-Fi"): base URLs of a folder holding `version`,
# `<version>/firmware.bin` and `<version>/firmware.bin.sha256`. Mode 0 uses OTA_URL (http://), mode 1
# OTA_SSL_URL (https://); an empty one makes that mode answer ERROR. OTA_CA: a CA certificate file (DER or
# PEM) that the HTTPS server must be signed by; empty: the server is not verified. Needs the RTC set.
OTA_URL = ""  # e.g. "http://192.168.1.10:8000/upy-at"
OTA_SSL_URL = ""  # e.g. "https://ota.example.com/upy-at"
OTA_CA = ""  # e.g. "/ota_ca.der"
OTA_TIMEOUT_MS = 10000  # connect, TLS handshake, and each read
SNTP_PORT = 123  # AT+CIPSNTPCFG's servers are asked on this port
# The vendors' root certificates for the clouds' TLS endpoints (net/pki.cloud_context): one PEM file holding
# each root (or one DER certificate), put on the board's filesystem with the firmware. Empty: not verified.
CLOUD_CA = "/certs/cloud_ca.pem"
WDT_MS = 30000  # machine.WDT: a loop pass that takes longer resets the module (README "Watchdog")
