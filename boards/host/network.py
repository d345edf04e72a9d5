"""network for the host board, with the ESP32 API and constants.

The radio itself (virtual access points from the emulator's --ap and control channel) is read from
``radio.json`` in the state folder.
"""
import hoststate

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4

_hostname = "mpy-esp32"


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    if len(name) > 32:
        raise ValueError("hostname too long")
    _hostname = name


class WLAN:
    IF_STA = 0
    IF_AP = 1
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2
    SEC_OPEN = 0
    SEC_WEP = 1
    SEC_WPA = 2
    SEC_WPA2 = 3
    SEC_WPA_WPA2 = 4

    _ifaces = {}

    def __new__(cls, interface_id=0):
        # singletons per interface, as on the chip
        obj = WLAN._ifaces.get(interface_id)
        if obj is None:
            obj = object.__new__(cls)
            obj._if = interface_id
            obj._active = False
            mac = bytearray(b"\x24\x0a\xc4\x00\x00\x01")
            mac[5] += interface_id
            obj._config = {"mac": bytes(mac), "txpower": 19.5, "pm": WLAN.PM_PERFORMANCE, "reconnects": -1}
            obj._ifconfig = ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")
            WLAN._ifaces[interface_id] = obj
        return obj

    def __init__(self, interface_id=0):
        pass

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)
        return self._active

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("can query only one param")
        if args:
            if args[0] not in self._config:
                raise ValueError("unknown config param")
            return self._config[args[0]]
        for key in kwargs:
            if key not in self._config:
                raise ValueError("unknown config param")
        for key in kwargs:
            self._config[key] = kwargs[key]

    def isconnected(self):
        return False

    def status(self, param=None):
        if self._if == WLAN.IF_AP:
            return None
        return STAT_IDLE

    def ifconfig(self, ip_mask_gateway_dns=None):
        if ip_mask_gateway_dns is None:
            return self._ifconfig
        self._ifconfig = tuple(ip_mask_gateway_dns)
