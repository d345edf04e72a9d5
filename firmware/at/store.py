"""Typed settings that survive a reset, over esp32.NVS.

NVS has no key listing, so the store keeps the names it wrote under ``_keys``: factory reset erases
exactly those. Keys are at most 15 characters. A write of an unchanged value is skipped, as esp-at does.
``put_*`` always writes; ``save_*`` writes only while ``autosave`` (AT+SYSSTORE) is on.

A setting made of several values (an AP's SSID, password and BSSID) is one *record*: its fields packed
into one blob under one key, so that a power cut leaves the old setting or the new one, never a mix (one
``set_blob`` + ``commit`` is atomic on the chip's NVS; the host board's commit replaces its file whole).
"""
import esp32
from at.compat import const

_NOT_FOUND = const(-0x1102)  # ESP_ERR_NVS_NOT_FOUND
_BAD_LENGTH = const(-0x110C)  # ESP_ERR_NVS_INVALID_LENGTH: buffer too small
_INDEX = "_keys"
_MAX_BLOB = const(4096)


def _code(e):
    return e.args[0] if e.args else 0


class Store:
    def __init__(self, namespace):
        self._nvs = esp32.NVS(namespace)
        self._buf = bytearray(64)
        self.autosave = self.get_int("sysstore", 1) == 1

    def get_int(self, key, default=None):
        try:
            return self._nvs.get_i32(key)
        except OSError as e:
            if _code(e) != _NOT_FOUND:
                raise
            return default

    def get_bytes(self, key, default=None):
        while True:
            try:
                n = self._nvs.get_blob(key, self._buf)
                return bytes(self._buf[:n])
            except OSError as e:
                if _code(e) == _NOT_FOUND:
                    return default
                if _code(e) != _BAD_LENGTH or len(self._buf) >= _MAX_BLOB:
                    raise
                self._buf = bytearray(len(self._buf) * 2)

    def get_str(self, key, default=None):
        v = self.get_bytes(key)
        return default if v is None else v.decode()

    def put_int(self, key, value):
        if self.get_int(key) == value:
            return
        self._nvs.set_i32(key, value)
        self._written(key)

    def put_bytes(self, key, value):
        if isinstance(value, str):
            value = value.encode()
        if len(value) > _MAX_BLOB:
            raise ValueError("value too long")  # get_bytes could not read it back
        if self.get_bytes(key) == value:
            return
        self._nvs.set_blob(key, value)
        self._written(key)

    def put_record(self, key, fields):
        """Save ``fields`` (str, bytes or int, each at most 255 bytes as stored) as one blob."""
        out = bytearray()
        for v in fields:
            if isinstance(v, int):
                v = str(v)
            if isinstance(v, str):
                v = v.encode()
            if len(v) > 255:
                raise ValueError("field too long")
            out.append(len(v))
            out.extend(v)
        self.put_bytes(key, bytes(out))

    def get_record(self, key, count):
        """The ``count`` fields (bytes) of a record, or None when there is none (or it does not hold
        exactly ``count`` fields). Integer fields are read back with int()."""
        raw = self.get_bytes(key)
        if raw is None:
            return None
        fields = []
        i = 0
        while i < len(raw):
            n = raw[i]
            fields.append(raw[i + 1:i + 1 + n])
            i += 1 + n
        return fields if i == len(raw) and len(fields) == count else None

    def save_record(self, key, fields):
        if self.autosave:
            self.put_record(key, fields)

    def save_int(self, key, value):
        if self.autosave:
            self.put_int(key, value)

    def save_bytes(self, key, value):
        if self.autosave:
            self.put_bytes(key, value)

    def erase(self, key):
        try:
            self._nvs.erase_key(key)
        except OSError as e:
            if _code(e) != _NOT_FOUND:
                raise
        self._nvs.commit()

    def _written(self, key):
        keys = self.get_bytes(_INDEX, b"")
        if key.encode() not in keys.split(b","):
            self._nvs.set_blob(_INDEX, keys + b"," + key.encode() if keys else key.encode())
        self._nvs.commit()

    def factory_reset(self):
        """Erase every setting this store ever wrote."""
        for key in self.get_bytes(_INDEX, b"").split(b","):
            if key:
                try:
                    self._nvs.erase_key(key.decode())
                except OSError:
                    pass
        self.erase(_INDEX)
