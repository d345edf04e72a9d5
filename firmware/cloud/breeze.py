"""Alibaba's BLE provisioning: the "breeze" protocol of AliOS Things (bluetooth/breeze) with its Wi-Fi
extension ("combo" awss, EN_COMBO_NET), as the phone app speaks it. No AT and no radio here.

GATT: service 0xFEB3 with 0xFED4 read, 0xFED5 write, 0xFED6 indicate, 0xFED7 write without response and
0xFED8 notify. The app writes its frames to FED5 or FED7; the module answers by indication on FED6 (ERR by
notification on FED8).

Advert: flags, the 16-bit service 0xFEB3 and manufacturer data: company 0x01A8 (little-endian), protocol
version 5, a feature mask (BLE 4.2, authentication on, a secret per product), the product id (u32 LE) and
the BLE MAC; the name "AZ" in the scan response.

Frame: a 4-byte header (bits 7-5 version 0, bit 4 encrypted, bits 3-0 message id; the command; the last
frame's number << 4 | this frame's number; the payload length) and the payload. An encrypted payload is
AES-128-CBC with the session key and the IV "0123456789ABCDEF", each frame on its own, zero-padded to 16
bytes; the length counts the bytes before the padding.

Authentication (a secret per product): the module indicates AUTH_RAND (0x11) with 16 random bytes in clear;
the session key is SHA-256("<secret>,<random>")[:16], the hotspot protocol's key (cloud/aliyun_awss.py); the
app writes AUTH_REQ (0x12) "Hi,Server", the module answers AUTH_RSP (0x13) "Hi,Client", the app confirms
with AUTH_CFM (0x14) "OK". Then EXT_DOWN (0x0D) carries TLVs that one EXT_UP (0x0E), with the request's
message id, answers TLV by TLV: 1 firmware info, 2 product key, 3 device name, 6 the Wi-Fi (inner TLVs 1
SSID, 2 password, 3 BSSID, 4 the app's bind token, 5-7 region and random, 8 token type, 0xF1 protocol
version), answered 01 01 01 03 01 <token type>. Anything malformed, unknown or before authentication gets
ERR (0x0F) with no payload.
"""
from cloud import aes
from cloud import aliyun_awss as awss

SERVICE = 0xFEB3
CHARS = (0xFED4, 0xFED5, 0xFED6, 0xFED7, 0xFED8)  # read, write, indicate, write without response, notify
COMPANY = 0x01A8
VERSION = 5
FEATURES = 0x09  # bit 0: BLE 4.2; bit 3: authentication; bit 4 (a secret per device) clear
NAME = b"AZ"
IV = b"0123456789ABCDEF"
RX_MAX = 256  # the longest request joined from its frames

EXT_DOWN = 0x0D
EXT_UP = 0x0E
ERR = 0x0F
AUTH_RAND = 0x11
AUTH_REQ = 0x12
AUTH_RSP = 0x13
AUTH_CFM = 0x14
INFO_FIRMWARE = 1
INFO_PRODUCT_KEY = 2
INFO_DEVICE_NAME = 3
WIFI = 6
HI_SERVER = b"Hi,Server"
HI_CLIENT = b"Hi,Client"
FIRMWARE = b"NON-AOS"  # what breeze reports when it is not built into AliOS Things

_RAND, _CFM, _DONE = 0, 1, 2  # authentication states


def advert(product_id, mac):
    """(advertising data, scan response) for ``product_id`` and the 6-byte BLE ``mac`` (as printed)."""
    vendor = bytes((COMPANY & 255, COMPANY >> 8, VERSION, FEATURES, product_id & 255, product_id >> 8 & 255,
                    product_id >> 16 & 255, product_id >> 24 & 255)) + bytes(mac)
    adv = b"\x02\x01\x06\x03\x03" + bytes((SERVICE & 255, SERVICE >> 8, len(vendor) + 1, 0xFF)) + vendor
    return adv, bytes((len(NAME) + 1, 0x09)) + NAME


def session_key(secret, random):
    return awss.key_iv(secret, random)[0]


def frames(cmd, payload, msg_id, key, size):
    """The packets, each at most ``size`` bytes (ATT MTU - 3), that carry ``payload``; encrypted with ``key``
    unless it is None."""
    step = size - 4
    if key is not None:
        step &= ~15
    count = max(1, (len(payload) + step - 1) // step)
    out = []
    for seq in range(count):
        part = payload[seq * step:(seq + 1) * step]
        head = bytes(((0x10 if key is not None else 0) | msg_id & 15, cmd, (count - 1) << 4 | seq, len(part)))
        if key is not None and part:
            part = aes.cbc_encrypt(key, IV, part + bytes(-len(part) % 16))
        out.append(head + part)
    return out


class Inbox:
    """Joins a request's frames: ``take`` returns (message id, command, payload) once the last has come."""

    def __init__(self):
        self.cmd = None
        self.msg_id = self.total = self.seq = 0
        self.data = b""

    def take(self, packet, key):
        """ValueError (and the request is dropped) when ``packet`` does not fit the request or is malformed."""
        try:
            return self._take(packet, key)
        except ValueError:
            self.cmd = None
            raise

    def _take(self, packet, key):
        if len(packet) < 4:
            raise ValueError("short frame")
        msg_id, cmd, total, seq, n = packet[0] & 15, packet[1], packet[2] >> 4, packet[2] & 15, packet[3]
        if self.cmd is None:
            if seq:
                raise ValueError("not a first frame")
            self.msg_id, self.cmd, self.total, self.data = msg_id, cmd, total, b""
        elif (msg_id, cmd, total, seq) != (self.msg_id, self.cmd, self.total, (self.seq + 1) & 15):
            raise ValueError("out of sequence")
        self.seq = seq
        body = packet[4:]
        if packet[0] & 0x10:
            if key is None or len(body) % 16 or len(body) < n:
                raise ValueError("bad encrypted frame")
            body = aes.cbc_decrypt(key, IV, body)
        elif len(body) != n:
            raise ValueError("bad length")
        self.data += body[:n]
        if len(self.data) > RX_MAX:
            raise ValueError("too long")
        if seq != self.total:
            return None
        self.cmd = None
        return self.msg_id, cmd, self.data


class Session:
    """One app connection. ``hello`` makes the AUTH_RAND packets; ``take`` a packet the app wrote and returns
    the packets to answer with. ``apinfo`` becomes (ssid, password, bssid or None, token bytes or None) when
    the app has sent the Wi-Fi; ``failed`` when the app failed authentication (drop the link).
    ``info`` maps the TLV types 1-3 to their answers (empty: not supported)."""

    def __init__(self, secret, random, info):
        self.random = random
        self.key = session_key(secret, random)
        self.info = info
        self.state = _RAND
        self.inbox = Inbox()
        self.apinfo = None
        self.failed = False

    def hello(self, size):
        return frames(AUTH_RAND, self.random, 0, None, size)

    def authenticating(self):
        """The app has not yet answered AUTH_RAND."""
        return self.state == _RAND

    def authenticated(self):
        return self.state == _DONE

    def take(self, packet, size):
        try:
            got = self.inbox.take(packet, self.key)
        except ValueError:
            return frames(ERR, b"", 0, None, size)
        if got is None:
            return []
        msg_id, cmd, data = got
        if (cmd & 0xF0) == 0x10:
            return self._auth(cmd, data, size)
        if cmd != EXT_DOWN:
            return []  # breeze's other requests (control, query, OTA): not this module's
        try:
            if self.state != _DONE:
                raise ValueError("not authenticated")
            return frames(EXT_UP, self._ext(data), msg_id, self.key, size)
        except (ValueError, UnicodeError):
            return frames(ERR, b"", 0, None, size)

    def _auth(self, cmd, data, size):
        if cmd == AUTH_REQ and self.state != _DONE and _starts(HI_SERVER, data):
            self.state = _CFM  # again after a repeated AUTH_RAND: the same answer
            return frames(AUTH_RSP, HI_CLIENT, 0, self.key, size)
        if cmd == AUTH_CFM and self.state == _CFM and _starts(b"OK", data):
            self.state = _DONE
            return []
        if self.state == _DONE:
            return frames(ERR, b"", 0, None, size)
        self.failed = True
        return []

    def _ext(self, data):
        out = b""
        seen = 0
        i = 0
        while i < len(data):
            kind, value, i = _tlv(data, i)
            if kind > 15 or seen & 1 << kind:
                raise ValueError("repeated TLV")
            seen |= 1 << kind
            if kind == WIFI:
                answer = self._wifi(value)
            elif kind in self.info and not value and self.info[kind]:
                answer = self.info[kind]
            else:
                raise ValueError("unsupported TLV")
            out += bytes((kind, len(answer))) + answer
        return out

    def _wifi(self, data):
        if len(data) < 2:
            raise ValueError("no Wi-Fi")
        ssid = bssid = token = None
        pwd = b""
        token_type = 0
        i = 0
        while i < len(data):
            kind, value, i = _tlv(data, i)
            n = len(value)
            if kind == 1 and 1 <= n <= 32:
                ssid = value
            elif kind == 2 and n <= 64:
                pwd = value
            elif kind == 3 and n == 6:
                bssid = value
            elif kind == 4 and n <= 32:
                token = value
            elif kind == 8 and n == 1:
                token_type = value[0]
            elif kind in (1, 2, 3, 4, 8) or (kind == 5 and n != 1) or (kind == 6 and n >= 128) or (kind == 7 and n != 3):
                raise ValueError("bad Wi-Fi TLV")
        if ssid is None:
            raise ValueError("no SSID")
        self.apinfo = (ssid.decode(), pwd.decode(), bssid, token)
        return bytes((1, 1, 1, 3, 1, token_type))


def _starts(text, data):
    """breeze compares the first min(len(data), len(text)) bytes."""
    return bool(data) and text[:len(data)] == bytes(data[:len(text)])


def _tlv(data, i):
    """(type, value, next index) of the TLV at ``i``; ValueError when it overruns ``data``."""
    if i + 2 > len(data) or i + 2 + data[i + 1] > len(data):
        raise ValueError("TLV overruns")
    end = i + 2 + data[i + 1]
    return data[i], data[i + 2:end], end
