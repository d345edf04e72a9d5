"""HMAC (RFC 2104) over hashlib, which the ESP32 build has with md5, sha1 and sha256 (ports/esp32/
mpconfigport.h enables all three) but MicroPython has no ``hmac`` module. Digests come as bytes or as
lowercase hex text; keys and messages as str (UTF-8) or bytes."""
import binascii
import hashlib

_BLOCK = 64  # the block size of MD5, SHA-1 and SHA-256


def _bytes(data):
    return data.encode() if isinstance(data, str) else data


def digest(name, key, msg):
    """HMAC of ``msg`` with ``key`` over hashlib's ``name`` ("md5", "sha1" or "sha256"), as bytes."""
    h = getattr(hashlib, name)
    key = _bytes(key)
    if len(key) > _BLOCK:
        key = h(key).digest()
    key = key + bytes(_BLOCK - len(key))
    inner = h(bytes([b ^ 0x36 for b in key]))
    inner.update(_bytes(msg))
    outer = h(bytes([b ^ 0x5C for b in key]))
    outer.update(inner.digest())
    return outer.digest()


def hexdigest(name, key, msg):
    """``digest`` as lowercase hex text."""
    return binascii.hexlify(digest(name, key, msg)).decode()


def hash_hex(name, data):
    """hashlib's ``name`` digest of ``data`` as lowercase hex text (MicroPython's hashlib has no hexdigest)."""
    return binascii.hexlify(getattr(hashlib, name)(_bytes(data)).digest()).decode()
