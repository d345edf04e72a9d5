"""bluetooth for the host board, with the ESP32 API: a radio that can be switched on and report itself."""

FLAG_READ = 0x0002
FLAG_WRITE_NO_RESPONSE = 0x0004
FLAG_WRITE = 0x0008
FLAG_NOTIFY = 0x0010
FLAG_INDICATE = 0x0020


class UUID:
    def __init__(self, value):
        self._v = value

    def __eq__(self, other):
        return isinstance(other, UUID) and self._v == other._v


class BLE:
    _instance = None

    def __new__(cls):
        if BLE._instance is None:
            obj = object.__new__(cls)
            obj._active = False
            obj._name = b"MPY ESP32"
            obj._handler = None
            BLE._instance = obj
        return BLE._instance

    def __init__(self):
        pass

    def active(self, active=None):
        if active is not None:
            self._active = bool(active)
        return self._active

    def config(self, *args, **kwargs):
        if args:
            if args[0] == "mac":
                if not self._active:
                    raise OSError(22)  # EINVAL: only while active
                return (0, b"\x24\x0a\xc4\x00\x00\x03")
            if args[0] == "gap_name":
                return self._name
            raise ValueError("unknown config param")
        if "gap_name" in kwargs:
            name = kwargs["gap_name"]
            self._name = name.encode() if isinstance(name, str) else bytes(name)

    def irq(self, handler):
        self._handler = handler
