"""esp32 for the host board: NVS and Partition backed by files in the state folder, with ESP32 errors."""
import json
import hoststate

_NOT_FOUND = (-0x1102, "ESP_ERR_NVS_NOT_FOUND")
_KEY_TOO_LONG = (-0x1109, "ESP_ERR_NVS_KEY_TOO_LONG")
_BAD_LENGTH = (-0x110C, "ESP_ERR_NVS_INVALID_LENGTH")
_BAD_NAME = (-0x1108, "ESP_ERR_NVS_INVALID_NAME")
_PIECE = 256  # Partition reads and writes its file this much at a time
_ERASED = b"\xff" * _PIECE


class NVS:
    """One namespace = one JSON file; ``commit`` applies this handle's changes to what the file holds now
    and replaces it atomically (old or new, never torn), so several handles share one namespace."""

    def __init__(self, namespace):
        if not namespace or len(namespace) > 15:
            raise OSError(*_BAD_NAME)
        self._path = hoststate.path("nvs", namespace + ".json")
        self._changes = {}  # key -> [kind, value], or None when erased, until commit

    def _stored(self):
        return json.loads(hoststate.read(self._path, b"{}"))

    def _get(self, key, kind):
        v = self._changes[key] if key in self._changes else self._stored().get(key)
        if v is None or v[0] != kind:
            raise OSError(*_NOT_FOUND)
        return v[1]

    def _set(self, key, kind, value):
        if len(key) > 15:
            raise OSError(*_KEY_TOO_LONG)
        self._changes[key] = [kind, value]

    def set_i32(self, key, value):
        if not -0x80000000 <= value <= 0x7FFFFFFF:
            raise OverflowError("overflow converting long int to machine word")
        self._set(key, "i", value)

    def get_i32(self, key):
        return self._get(key, "i")

    def set_blob(self, key, value):
        if isinstance(value, str):
            value = value.encode()
        self._set(key, "b", bytes(value).hex())

    def get_blob(self, key, buffer):
        v = bytes.fromhex(self._get(key, "b"))
        if len(buffer) < len(v):
            raise OSError(*_BAD_LENGTH)
        buffer[: len(v)] = v
        return len(v)

    def erase_key(self, key):
        if (self._changes[key] if key in self._changes else self._stored().get(key)) is None:
            raise OSError(*_NOT_FOUND)
        self._changes[key] = None

    def commit(self):
        data = self._stored()
        for key in self._changes:
            if self._changes[key] is None:
                data.pop(key, None)
            else:
                data[key] = self._changes[key]
        hoststate.write_atomic(self._path, json.dumps(data).encode())
        self._changes = {}


def _partition_table():
    """Partitions of boards/esp32_generic/partitions.csv: (label, type, subtype, offset, size)."""
    rows = []
    with open(hoststate.BOARD_DIR + "/../esp32_generic/partitions.csv") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            label, ptype, subtype, offset, size = [x.strip() for x in line.split(",")[:5]]
            rows.append((label, _number(ptype, _TYPES), _number(subtype, _SUBTYPES), int(offset, 0), _size(size)))
    return rows


_TYPES = {"app": 0, "data": 1}
_SUBTYPES = {"factory": 0, "ota_0": 0x10, "ota_1": 0x11, "ota": 0, "phy": 1, "nvs": 2, "fat": 0x81, "spiffs": 0x82}


def _number(text, names):
    return names[text] if text in names else int(text, 0)


def _size(text):
    if text[-1] in "KM":
        return int(text[:-1], 0) * (1024 if text[-1] == "K" else 1024 * 1024)
    return int(text, 0)


class Partition:
    """A flash partition as a file: erased bytes read 0xFF; a write without erase can only clear bits."""

    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1

    def __init__(self, id, block_size=4096):
        if id == Partition.BOOT or id == Partition.RUNNING:
            id = _boot_label() if id == Partition.BOOT else _running_label()
        for row in _partition_table():
            if row[0] == id:
                self._row = row
                break
        else:
            raise ValueError("partition not found")
        self._bs = block_size
        self._file = hoststate.path("flash", id + ".bin")

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None):
        return [
            Partition(row[0])
            for row in _partition_table()
            if row[1] == type and (subtype == 0xFF or row[2] == subtype) and (label is None or row[0] == label)
        ]

    def info(self):
        label, ptype, subtype, offset, size = self._row
        return (ptype, subtype, offset, size, label, False)

    def _check(self, pos, n):
        if pos < 0 or pos + n > self._row[4]:
            raise OSError(-0x102, "ESP_ERR_INVALID_ARG")

    def _open(self):
        """The partition's file for reading and writing, made erased (0xFF) in full on first use."""
        if not hoststate.exists(self._file):
            hoststate.makedirs(hoststate.path("flash"))
            with open(self._file, "wb") as f:  # a piece at a time: a partition can be larger than the heap
                for at in range(0, self._row[4], _PIECE):
                    f.write(_ERASED[: self._row[4] - at])
        return open(self._file, "r+b")

    def readblocks(self, block_num, buf, offset=0):
        """Into ``buf`` with no copy of it (the chip's flash reads cost no heap either)."""
        pos = block_num * self._bs + offset
        self._check(pos, len(buf))
        mv = memoryview(buf)
        got = 0
        try:
            with open(self._file, "rb") as f:
                f.seek(pos)
                got = f.readinto(mv) or 0
        except OSError:
            pass  # never written: erased
        for at in range(got, len(mv), _PIECE):
            k = min(_PIECE, len(mv) - at)
            mv[at : at + k] = _ERASED[:k]

    def writeblocks(self, block_num, buf, offset=None):
        """Without ``offset`` the blocks are erased first; a write can only clear bits, as on NOR flash.
        A piece at a time, so a write needs no heap the size of ``buf``."""
        pos = block_num * self._bs + (offset or 0)
        mv = memoryview(buf)
        self._check(pos, len(mv))
        if offset is None:
            for b in range((len(mv) + self._bs - 1) // self._bs):
                self.ioctl(6, block_num + b)
        old = bytearray(_PIECE)
        with self._open() as f:
            for at in range(0, len(mv), _PIECE):
                k = min(_PIECE, len(mv) - at)
                f.seek(pos + at)
                f.readinto(memoryview(old)[:k])
                if old[:k] != _ERASED[:k]:
                    for i in range(k):
                        old[i] &= mv[at + i]
                    piece = memoryview(old)[:k]
                else:
                    piece = mv[at : at + k]
                f.seek(pos + at)
                f.write(piece)

    def ioctl(self, op, arg=None):
        if op == 4:
            return self._row[4] // self._bs
        if op == 5:
            return self._bs
        if op == 6:
            self._check(arg * self._bs, self._bs)
            with self._open() as f:
                f.seek(arg * self._bs)
                for at in range(0, self._bs, _PIECE):
                    f.write(_ERASED[: self._bs - at])
        return 0

    def set_boot(self):
        if self._row[1] != Partition.TYPE_APP:
            raise OSError(-0x102, "ESP_ERR_INVALID_ARG")
        hoststate.write_atomic(hoststate.path("flash", "otadata"), self._row[0].encode())

    def get_next_update(self):
        running = _running_label()
        apps = [row[0] for row in _partition_table() if row[1] == Partition.TYPE_APP and row[0].startswith("ota_")]
        if len(apps) < 2:
            raise OSError(2)  # ENOENT
        return Partition(apps[(apps.index(running) + 1) % len(apps)] if running in apps else apps[0])

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        pass


def _boot_label():
    v = hoststate.read(hoststate.path("flash", "otadata"))
    return v.decode() if v else "ota_0"


def _running_label():
    """The partition this firmware process runs from: the boot partition when it started, as the bootloader
    chose it (a reset restarts the process). set_boot() changes only what the next boot runs."""
    return _RUNNING


_RUNNING = _boot_label()  # this module is imported at boot (the store's NVS)
