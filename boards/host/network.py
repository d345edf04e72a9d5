"""network for the host board: a virtual Wi-Fi radio with the ESP32 API and the ESP32's semantics.

The radio's world is ``radio.json`` in the state folder, which tools/emulate replaces atomically:
``{"aps": [{"ssid", "password", "bssid": "aa:bb:..", "channel", "rssi", "security", "hidden"?}],
"stations": [{"mac": "aa:bb:..", "ip": "192.168.4.2" or null}], "join_ms"?}``. Every API call first
re-reads it if it changed, then plays the radio's events that fell due since the last call.

The station follows ports/esp32/network_wlan.c: ``connect()`` returns at once and the join concludes
``join_ms`` later (default 300); ``status()`` is derived, as there, from four facts: has an IP, a link
was requested, the last disconnect reason, and the reconnect count. So the chip's quirks hold here too:
NO_AP_FOUND and WRONG_PASSWORD stay visible until the next success or ``disconnect()`` (also while
retrying), and after ``disconnect()`` the status is IDLE even during a new join. A lost link is retried every second,
``config(reconnects=N)`` times (-1: forever, 0: never). The station's sockets are the laptop's own.
"""
import json
import os
import socket
import time
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
STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY = 210
STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD = 211
STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD = 212

AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4
AUTH_WPA2_ENTERPRISE = 5
AUTH_WPA3_PSK = 6
AUTH_WPA2_WPA3_PSK = 7
AUTH_WAPI_PSK = 8
AUTH_OWE = 9
AUTH_WPA3_ENT_192 = 10
AUTH_WPA3_EXT_PSK = 11
AUTH_WPA3_EXT_PSK_MIXED_MODE = 12
AUTH_MAX = 17

_JOIN_MS = 300  # connect() to GOT_IP or failure; radio.json "join_ms" overrides it
_RETRY_MS = 1000  # a lost or failed link is tried again after this long
_SCAN_MS = 50  # scan() blocks this long
_ASSOC_LEAVE = 8  # the IDF's disconnect reason after disconnect() or active(False)
_ZERO = "0.0.0.0"
_AP_KEYS = ("hidden", "security", "authmode", "key", "password", "max_clients")

_hostname = "mpy-esp32"
_dns = _ZERO  # lwIP's one DNS server: DHCP, a static ifconfig() or ipconfig(dns=) set it
_world = {"stamp": None, "aps": [], "stations": [], "join_ms": _JOIN_MS}


def hostname(name=None):
    """The DHCP/mDNS name (at most 32 characters), shared by both interfaces."""
    global _hostname
    if name is None:
        return _hostname
    if len(name) > 32:
        raise ValueError()
    _hostname = name


def ipconfig(*args, **kwargs):
    """Global IP settings: only ``dns`` on the ESP32."""
    global _dns
    if not kwargs:
        if len(args) != 1:
            raise TypeError("must query one param")
        if args[0] != "dns":
            raise ValueError("unexpected key")
        return _dns
    if args:
        raise TypeError("can't specify pos and kw args")
    for key in kwargs:
        if key != "dns":
            raise ValueError("unexpected key")
    _dns = _ip(kwargs["dns"])


def _ms():
    """Milliseconds on a clock that only goes forward (unix ticks wrap after 2**62 ms: never)."""
    return time.ticks_ms() if hoststate.MICROPYTHON else int(time.monotonic() * 1000)


def _mac(text):
    return bytes.fromhex(text.replace(":", ""))


def _str(value):
    """SSIDs and keys may be given as str or bytes, as the C code takes either."""
    return value.decode() if isinstance(value, (bytes, bytearray)) else value


def _ip(text):
    """A dotted quad, checked as lwIP parses it."""
    parts = text.split(".") if isinstance(text, str) else ()
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise ValueError("invalid arguments")
    return text


def _mask(prefix):
    bits = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF
    return "%d.%d.%d.%d" % (bits >> 24, (bits >> 16) & 255, (bits >> 8) & 255, bits & 255)


def _refresh():
    """Re-read radio.json if it was replaced (new inode) or changed size or mtime since the last read."""
    path = hoststate.path("radio.json")
    try:
        st = os.stat(path)
        stamp = (st[1], st[6], st[8])
    except OSError:
        stamp = None
    if stamp == _world["stamp"]:
        return
    try:
        data = json.loads(hoststate.read(path, b"{}"))
    except ValueError:  # a hand edit in progress: keep the old world and look again next call
        return
    _world["stamp"] = stamp
    if data.get("stall"):
        _hang()
    _world["aps"] = data.get("aps") or []
    _world["stations"] = data.get("stations") or []
    _world["join_ms"] = data.get("join_ms", _JOIN_MS)


def _hang():
    """The control channel's ``stall``: the firmware hangs here in a busy loop, as a bug would, until
    machine.WDT resets the module (the emulator then clears the stall)."""
    spins = 0
    while True:
        spins += 1


def _tick():
    """Bring the radio up to now: the world as radio.json has it, then the station's due events."""
    _refresh()
    _IFACES[STA_IF]._play()


def _started():
    return _IFACES[STA_IF]._active or _IFACES[AP_IF]._active


def _radio_channel():
    """One radio, one channel: the joined AP's, else the SoftAP's, else the last one the STA set."""
    sta, ap = _IFACES
    joined = sta._joined()
    if joined:
        return joined["channel"]
    return ap._cfg["channel"] if ap._active else sta._cfg["channel"]


class WLAN:
    """WLAN(IF_STA) and WLAN(IF_AP): two singletons sharing one radio, as on the chip."""

    IF_STA = 0
    IF_AP = 1
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2
    PROTOCOL_DEFAULT = 7
    PROTOCOL_LR = 8
    BANDWIDTH_20 = 1
    BANDWIDTH_40 = 2
    BANDWIDTH_80 = 3
    BANDWIDTH_160 = 4
    BANDWIDTH_80_80 = 5
    SEC_OPEN = 0
    SEC_WEP = 1
    SEC_WPA = 2
    SEC_WPA2 = 3
    SEC_WPA_WPA2 = 4
    SEC_WPA2_ENT = 5
    SEC_WPA3 = 6
    SEC_WPA2_WPA3 = 7
    SEC_WAPI = 8
    SEC_OWE = 9
    SEC_WPA3_ENT_192 = 10
    SEC_WPA3_EXT_PSK = 11
    SEC_WPA3_EXT_PSK_MIXED_MODE = 12
    SEC_DPP = 13
    SEC_WPA3_ENT = 14
    SEC_WPA2_WPA3_ENT = 15
    SEC_WPA_ENT = 16

    # radio-wide settings, whichever interface sets them
    _pm = PM_PERFORMANCE
    _txpower = 78  # quarter-dBm: 19.5 dBm

    def __new__(cls, interface_id=0):
        if interface_id not in (0, 1):
            raise ValueError("invalid WLAN interface identifier")
        return _IFACES[interface_id]

    def __init__(self, interface_id=0):
        pass

    def _setup(self, if_id):
        self._if = if_id
        self._active = False
        self._mac = b"\x24\x0a\xc4\x00\x00" + bytes((1 + if_id,))
        self._protocol = WLAN.PROTOCOL_DEFAULT
        if if_id == STA_IF:
            self._cfg = {"ssid": "", "key": "", "bssid": None, "channel": 1}
            self._static = None  # (ip, mask, gw) once DHCP is off
            self._connected = False  # wifi_sta_connected: has an IP
            self._requested = False  # wifi_sta_connect_requested
            self._reason = 0  # wifi_sta_disconn_reason; 0 = none
            self._conf_reconnects = 0  # 0 = forever, else reconnects + 1 (as the C code keeps it)
            self._reconnects = 0  # retries since connect()
            self._due = None  # when the join under way concludes (ms), None if none is
            self._bssid = None  # the joined AP
        else:
            self._cfg = {"ssid": None, "key": "", "channel": 1, "hidden": False, "security": AUTH_OPEN,
                         "max_clients": 10}
            self._ip4 = ("192.168.4.1", "255.255.255.0", "192.168.4.1", _ZERO)

    def _require(self, if_id):
        if self._if != if_id:
            raise OSError("STA required" if if_id == STA_IF else "AP required")

    # ---- the station's link ---------------------------------------------------------------------

    def _find(self, ssid, bssid):
        """The AP a join picks: the one with that BSSID, else the first the chip's fast scan meets
        going up the channels (not the strongest)."""
        found = [ap for ap in _world["aps"] if ap["ssid"] == ssid and (bssid is None or _mac(ap["bssid"]) == bssid)]
        return min(found, key=lambda ap: ap["channel"]) if found else None

    def _joined(self):
        """The AP this station is associated with, as radio.json has it now; None when not connected."""
        return self._find(self._cfg["ssid"], self._bssid) if self._connected else None

    def _admits(self, ap):
        return ap["security"] == AUTH_OPEN or ap["password"] == self._cfg["key"]

    def _play(self):
        """Apply what happened since the last call: the joined AP leaving, joins and retries concluding."""
        if self._connected:
            ap = self._joined()
            if ap is None or not self._admits(ap):
                self._lost(STAT_BEACON_TIMEOUT, _ms())
                socket.station_lost()  # the station's address is gone, and its connections with it
        while self._due is not None and _ms() >= self._due:
            at, self._due = self._due, None
            ap = self._find(self._cfg["ssid"], self._cfg["bssid"])
            if ap is None:
                self._lost(STAT_NO_AP_FOUND, at)
            elif not self._admits(ap):
                self._lost(STAT_WRONG_PASSWORD, at)
            else:
                self._got_ip(ap)

    def _got_ip(self, ap):
        global _dns
        self._connected = True
        socket.station_back()
        self._bssid = _mac(ap["bssid"])
        self._reason = 0
        if self._static is None:
            _dns = self._lease(ap)[2]

    def _lost(self, reason, at):
        """The IDF's STA_DISCONNECTED event and MicroPython's handler of it: retry unless told not to."""
        self._connected = False
        self._reason = reason
        if self._requested and self._active:
            if self._conf_reconnects:
                self._reconnects += 1
                if self._reconnects >= self._conf_reconnects:
                    return
            self._due = at + _RETRY_MS

    def _lease(self, ap):
        """The virtual DHCP answer of ``ap``: 192.168.<n>.<100+k>/24, n from its BSSID, k from our MAC."""
        b = _mac(ap["bssid"])
        net = "192.168.%d." % (10 + (b[4] * 256 + b[5]) % 240)
        return (net + str(100 + self._mac[5] % 100), "255.255.255.0", net + "1")

    # ---- the API ----------------------------------------------------------------------------------

    def active(self, is_active=None):
        """Whether the interface is up; ``active(False)`` on the STA drops its link."""
        _tick()
        if is_active is not None:
            is_active = bool(is_active)
            if self._if == STA_IF and is_active != self._active:
                if is_active:
                    self._reconnects = 0  # STA_START
                elif self._connected or self._due is not None:
                    self._connected, self._due, self._reason = False, None, _ASSOC_LEAVE
            self._active = is_active
        return self._active

    def connect(self, ssid=None, password=None, *, bssid=None):
        """Start joining (the STA, whichever interface is asked); poll status() for the outcome."""
        _tick()
        sta = _IFACES[STA_IF]
        if not _started():
            raise OSError("Wifi Not Started")
        if not sta._active:
            raise OSError("Wifi Invalid Mode")
        if ssid is not None or password is not None:
            if bssid is not None and len(bssid) != 6:
                raise ValueError()
            sta._cfg["ssid"] = _str(ssid or "")[:32]
            sta._cfg["key"] = _str(password or "")[:64]
            sta._cfg["bssid"] = bytes(bssid) if bssid is not None else None
        if sta._due is not None:  # the IDF: "sta is connecting, return error"
            raise OSError("Wifi Internal Error")
        sta._connected = False
        sta._reconnects = 0
        sta._requested = True
        sta._due = _ms() + _world["join_ms"]

    def disconnect(self):
        """Drop the STA's link or join, and stop retrying."""
        _tick()
        if not _started():
            raise OSError("Wifi Not Started")
        sta = _IFACES[STA_IF]
        sta._requested = False
        sta._connected, sta._due, sta._reason = False, None, _ASSOC_LEAVE

    def status(self, param=None):
        """STA: the link state (STAT_*); AP: None. 'rssi' (STA, connected) or 'stations' (AP, up)."""
        _tick()
        if param is None:
            return self._link_status() if self._if == STA_IF else None
        if param == "stations":
            self._require(AP_IF)
            if not self._active:
                raise OSError("Wifi Invalid Mode" if _started() else "Wifi Not Started")
            return [(_mac(s["mac"]), s.get("ip")) for s in self._stations()]
        if param == "rssi":
            self._require(STA_IF)
            ap = self._joined()
            if ap is None:
                raise OSError("Wifi Not Connected")
            return ap["rssi"]
        raise ValueError("unknown status param")

    def _link_status(self):
        """network_wlan_status() of the C code, branch for branch (of the reasons it singles out, only
        these two arise here: no RSSI/authmode thresholds, and a wrong key is always AUTH_FAIL)."""
        reason = self._reason
        if self._connected:
            return STAT_GOT_IP
        if reason in (STAT_NO_AP_FOUND, STAT_WRONG_PASSWORD):
            return reason
        if reason == _ASSOC_LEAVE:
            return STAT_IDLE
        if self._requested and (self._conf_reconnects == 0 or self._reconnects < self._conf_reconnects):
            return STAT_CONNECTING
        return reason or STAT_IDLE

    def _stations(self):
        """The stations associated with this SoftAP: none while it is down, at most max_clients."""
        return _world["stations"][: self._cfg["max_clients"]] if self._active else []

    def scan(self):
        """Every AP in range, strongest first; blocks like the chip; empty while a join is under way."""
        _tick()
        sta = _IFACES[STA_IF]
        if not sta._active:
            raise OSError("STA must be active")
        time.sleep(_SCAN_MS / 1000)
        if sta._due is not None:  # the IDF refuses to scan while connecting (ESP_ERR_WIFI_STATE)
            return []
        found = []
        for i, ap in enumerate(_world["aps"]):
            ssid = b"" if ap.get("hidden") else ap["ssid"].encode()
            found.append((-ap["rssi"], i, (ssid, _mac(ap["bssid"]), ap["channel"], ap["rssi"], ap["security"], False)))
        found.sort()
        return [entry[2] for entry in found]

    def isconnected(self):
        """STA: has an IP address; AP: a station is associated."""
        _tick()
        if self._if == STA_IF:
            return self._connected
        return len(self._stations()) > 0

    def ifconfig(self, ip_mask_gateway_dns=None):
        """(ip, netmask, gateway, dns); set a static 4-tuple (netmask may be a prefix length) or 'dhcp' (STA)."""
        global _dns
        _tick()
        cfg = ip_mask_gateway_dns
        if cfg is None:
            if self._if == AP_IF:
                return self._ip4
            return self._addr4() + (_dns,)
        if isinstance(cfg, str):
            if self._if != STA_IF or cfg != "dhcp":
                raise ValueError("invalid arguments")
            self._dhcp(True)
            return
        ip, mask, gw, dns = cfg
        mask = _mask(mask) if isinstance(mask, int) else _ip(mask)
        addr = (_ip(ip), mask, _ip(gw))
        if self._if == AP_IF:
            self._ip4 = addr + (_ip(dns),)
        else:
            self._static = addr
            _dns = _ip(dns)

    def _addr4(self):
        """The STA's (ip, mask, gw): the static ones, else the lease while connected, else zeros."""
        if self._static is not None:
            return self._static
        ap = self._joined()
        return self._lease(ap) if ap else (_ZERO, _ZERO, _ZERO)

    def _dhcp(self, on):
        global _dns
        if on and self._static is not None:
            self._static = None
            ap = self._joined()
            if ap:
                _dns = self._lease(ap)[2]
        elif not on and self._static is None:
            self._static = (_ZERO, _ZERO, _ZERO)  # stopping the DHCP client clears the address

    def ipconfig(self, *args, **kwargs):
        """The newer form of ifconfig(): 'dhcp4' (STA), 'addr4' ('ip/prefix' or (ip, mask)), 'gw4'."""
        _tick()
        if not kwargs:
            if len(args) != 1:
                raise TypeError("must query one param")
            addr = self._ip4 if self._if == AP_IF else self._addr4()
            if args[0] == "dhcp4" and self._if == STA_IF:
                return self._static is None
            if args[0] == "addr4":
                return addr[0], addr[1]
            if args[0] == "gw4":
                return addr[2]
            raise ValueError("unexpected key")
        if args:
            raise TypeError("can't specify pos and kw args")
        for key in kwargs:
            if key not in ("addr4", "gw4") and (key != "dhcp4" or self._if != STA_IF):
                raise ValueError("unexpected key")
        if "dhcp4" in kwargs:
            self._dhcp(bool(kwargs["dhcp4"]))
        if "addr4" not in kwargs and "gw4" not in kwargs:
            return
        ip, mask, gw = self._ip4[:3] if self._if == AP_IF else self._addr4()
        value = kwargs.get("addr4")
        if isinstance(value, str):
            ip, slash, prefix = value.partition("/")
            if slash:
                mask = _mask(int(prefix))
        elif value is not None:
            ip, mask = value
        gw = kwargs.get("gw4", gw)
        addr = (_ip(ip), _ip(mask), _ip(gw))
        if self._if == AP_IF:
            self._ip4 = addr + (self._ip4[3],)
        else:
            self._static = addr

    def config(self, *args, **kwargs):
        """Get one parameter (``config('key')``) or set any number (``config(key=value, ...)``)."""
        if args and kwargs:
            raise TypeError("either pos or kw args are allowed")
        if kwargs:
            self._set(kwargs)
            return None
        if len(args) != 1:
            raise TypeError("can query only one param")
        return self._get(args[0])

    def _get(self, key):
        if key == "mac":
            return self._mac
        if key in ("ssid", "essid"):
            ssid = self._cfg["ssid"]
            return ssid if ssid is not None else "ESP_%02X%02X%02X" % (self._mac[3], self._mac[4], self._mac[5])
        if key == "channel":
            return _radio_channel()
        if key in ("hostname", "dhcp_hostname"):
            self._require(STA_IF)
            return hostname()
        if key == "reconnects":
            self._require(STA_IF)
            return self._conf_reconnects - 1
        if key == "txpower":
            return WLAN._txpower * 0.25
        if key == "pm":
            return WLAN._pm
        if key == "protocol":
            return self._protocol
        if key in ("hidden", "security", "authmode", "max_clients"):
            self._require(AP_IF)
            return self._cfg["security" if key == "authmode" else key]
        raise ValueError("unknown config param")

    def _set(self, kwargs):
        """Check every key and value first, then apply them all (the chip applies some before it finds a bad one)."""
        cfg = dict(self._cfg)
        for key in kwargs:
            value = kwargs[key]
            if key in _AP_KEYS or key in ("ssid", "essid"):
                self._require(AP_IF)
            elif key == "reconnects":
                self._require(STA_IF)
            elif key == "mac" and len(value) != 6:
                raise ValueError("invalid buffer length")
            elif key == "mac" and value[0] & 1:
                raise OSError("Wifi Invalid MAC Address")
            elif key == "txpower" and not 8 <= int(value * 4) <= 84:
                raise RuntimeError("Wifi Unknown Error 0x0102")
            elif key in ("hostname", "dhcp_hostname") and len(value) > 32:
                raise ValueError()
            elif key not in ("mac", "channel", "txpower", "pm", "protocol", "hostname", "dhcp_hostname"):
                raise ValueError("unknown config param")
            if key in ("ssid", "essid"):
                cfg["ssid"] = _str(value)[:32]
            elif key in ("key", "password"):
                cfg["key"] = _str(value)[:63]
            elif key in ("security", "authmode"):
                cfg["security"] = value
            elif key in ("hidden", "max_clients", "channel"):
                cfg[key] = value
        if self._if == AP_IF:
            if cfg["security"] != AUTH_OPEN and len(cfg["key"]) < 8:
                raise OSError("Wifi Invalid Password")
            if not 1 <= cfg["max_clients"] <= 10:
                raise RuntimeError("Wifi Unknown Error 0x0102")
            cfg["hidden"] = bool(cfg["hidden"])
        self._cfg = cfg
        for key in kwargs:
            value = kwargs[key]
            if key == "mac":
                self._mac = bytes(value)
            elif key == "txpower":
                WLAN._txpower = int(value * 4)  # the C code's int8 cast: quarter-dBm, truncated
            elif key == "pm":
                WLAN._pm = value
            elif key == "protocol":
                self._protocol = value
            elif key == "reconnects":
                self._conf_reconnects = 0 if value == -1 else value + 1
            elif key in ("hostname", "dhcp_hostname"):
                hostname(value)


def _interface(if_id):
    wlan = object.__new__(WLAN)
    wlan._setup(if_id)
    return wlan


_IFACES = (_interface(STA_IF), _interface(AP_IF))
