"""The ESP32 NimBLE port's numbers (MicroPython extmod/modbluetooth.h) and the wire format's helpers."""
from bumble import core

SYNC_REPLY_S = 2  # how long a read request or a secret waits for the module's answer
NO_CONN = 0xFFFF

# The ESP32 NimBLE port's IRQ event numbers (MicroPython extmod/modbluetooth.h).
CENTRAL_CONNECT, CENTRAL_DISCONNECT, GATTS_WRITE, GATTS_READ_REQUEST = 1, 2, 3, 4
SCAN_RESULT, SCAN_DONE, PERIPHERAL_CONNECT, PERIPHERAL_DISCONNECT = 5, 6, 7, 8
SERVICE_RESULT, SERVICE_DONE, CHAR_RESULT, CHAR_DONE, DESC_RESULT, DESC_DONE = 9, 10, 11, 12, 13, 14
READ_RESULT, READ_DONE, WRITE_DONE, NOTIFY, INDICATE, INDICATE_DONE, MTU_EXCHANGED = 15, 16, 17, 18, 19, 20, 21
ENCRYPTION_UPDATE, GET_SECRET, SET_SECRET, PASSKEY_ACTION = 28, 29, 30, 31
PEER_SEC = 2  # NimBLE's store type for a peer's keys
FLAG_READ, FLAG_WRITE_NO_RESPONSE, FLAG_WRITE, FLAG_NOTIFY, FLAG_INDICATE = 0x02, 0x04, 0x08, 0x10, 0x20
EINVAL, ENOTCONN, EALREADY = 22, 107, 114
PASSKEY_INPUT, PASSKEY_DISPLAY, PASSKEY_NUMCMP = 2, 3, 4


def uuid_in(value):
    """A UUID as the module sends it (an int, or 32 hex digits) -> bumble UUID."""
    if isinstance(value, int):
        return core.UUID.from_16_bits(value)
    h = value.lower()
    return core.UUID("%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:]))


def uuid_out(uuid):
    """bumble UUID -> an int for 16-bit ones, else 32 hex digits (big-endian, as written)."""
    raw = bytes(uuid.to_bytes(force_128=False))
    if len(raw) == 2:
        return int.from_bytes(raw, "little")
    return bytes(uuid.to_bytes(force_128=True))[::-1].hex()


def addr_out(address):
    return bytes(address.address_bytes)[::-1].hex()  # bumble keeps addresses little-endian
