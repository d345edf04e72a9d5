"""CRC-16 variants for the MCU OTA frames (../shared/reference/cloud-protocols.md §6): no public Aliyun source
names one, so XMODEM (what AliOS Things' ota_crc16 computes) is the default and the others are at hand."""

_table = None  # CRC-16 (0x1021) of each byte value, built on first use (1 KB)


def ccitt(data, crc=0):
    """CRC-16 with polynomial 0x1021, MSB first, from ``crc``: 0 gives CRC-16/XMODEM, 0xFFFF
    CRC-16/CCITT-FALSE. Feed a long image piece by piece by passing the previous result."""
    global _table
    if _table is None:
        _table = [_bitwise(n << 8) for n in range(256)]
    t = _table
    for b in data:
        crc = (crc << 8 & 0xFF00) ^ t[crc >> 8 ^ b]
    return crc


def _bitwise(crc):
    for _ in range(8):
        crc = (crc << 1 ^ 0x1021) & 0xFFFF if crc & 0x8000 else crc << 1 & 0xFFFF
    return crc


def modbus(data, crc=0xFFFF):
    """CRC-16/MODBUS: polynomial 0xA001 reflected, from 0xFFFF."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = crc >> 1 ^ 0xA001 if crc & 1 else crc >> 1
    return crc
