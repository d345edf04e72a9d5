"""ESP-AT Wi-Fi station commands (seed 004 §4, 2.x forms) over network.WLAN, and the Wi-Fi API of the
other families.

The family keeps the link state itself: the station's own reconnects are off (``reconnects=0``) and a
monitor rejoins the AP per AT+CWRECONNCFG, writing WIFI CONNECTED / WIFI GOT IP / WIFI DISCONNECT and
the SoftAP's station events as URCs. Settings are saved as the v1.2 manual says (subject to AT+SYSSTORE),
each as one store record. The SoftAP's commands are in cmds/softap.py, the addresses' in cmds/wifiaddr.py.
Boot does not import this module: cmds/wifiboot.py restores the mode and starts joining the saved AP,
then this module takes over (at its import, from wifiboot.handover()) at the first Wi-Fi command or once
that join has ended.

What other families use (nothing else):
  station_up(), station_ip(), station_mac(), was_up()    the station's link and address
  subscribe(fn)                                           fn(at, state) on every link change
  join(at, ...) (generator), start_join(at, ...), leave(at), forget_saved_ap(at)
  open_softap(at, ...), close_softap(at), softap_up(), mode(), set_mode(at, m)
  sta, ap (the network.WLAN objects), mac_text, parse_mac, parse_ip
"""
import network
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError, num, text, E_INVALID, E_EXEC
from cmds import wifiboot
from cmds.wifiboot import JAP_KEY, SOFTAP_KEY, RECONN_KEY

sta = network.WLAN(network.WLAN.IF_STA)
ap = network.WLAN(network.WLAN.IF_AP)

# Link states, as AT+CWSTATE numbers them.
IDLE, CONNECTED, GOT_IP, CONNECTING, LOST = 0, 1, 2, 3, 4
_FAILED = {network.STAT_WRONG_PASSWORD: 2, network.STAT_NO_AP_FOUND: 3}  # +CWJAP:<code>; others 4

# joined: (ssid, password, bssid or None) the station joins and rejoins (boot read the saved one);
# AT+CWRECONNCFG: seconds between rejoins (0: never) and how many (0: forever); boot's join is under way.
joined, (reconn_interval, reconn_count), _boot_join = wifiboot.handover()
link = CONNECTING if _boot_join else IDLE
_was_up = False  # the station has had an IP since boot
joined_info = None  # (bssid str, channel) of the AP found when joining
_retry_at = None  # ticks when the monitor next tries to rejoin
_retries = 0
_stations = {}  # SoftAP: mac -> ip (None until DHCP gave one)
_last_check = 0
_listeners = []  # fn(at, state) called on every link change
softap_pwd = ""  # the SoftAP's password (WLAN.config cannot read the key back)
_ECN_SEC = {0: 0, 2: 2, 3: 3, 4: 4}  # AT <ecn> -> WLAN security (WEP, 1, is refused)


# ---- helpers -----------------------------------------------------------------------------------
def mac_text(b):
    return ":".join(["%02x" % x for x in b])


def parse_mac(textmac, index):
    parts = textmac.split(":")
    try:
        b = bytes([int(p, 16) for p in parts])
    except ValueError:
        raise AtError(E_INVALID | index)
    if len(parts) != 6 or any(len(p) != 2 for p in parts):
        raise AtError(E_INVALID | index)
    return b


def parse_ip(textip, index):
    parts = textip.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise AtError(E_INVALID | index)
    return [int(p) for p in parts]


def mode():
    return (1 if sta.active() else 0) | (2 if ap.active() else 0)


def require(bits):
    """AtError unless the Wi-Fi mode has one of ``bits`` (1 station, 2 SoftAP)."""
    if not mode() & bits:
        raise AtError(E_EXEC)


# ---- the link, its state and its events --------------------------------------------------------
def station_up():
    """The station has joined an AP and has an IP address."""
    return link == GOT_IP and sta.isconnected()


def station_ip():
    """The station's IP address as text; "0.0.0.0" while it has none."""
    return sta.ifconfig()[0] if station_up() else "0.0.0.0"


def station_mac():
    return mac_text(sta.config("mac"))


def was_up():
    """The station has had an IP address since boot (it may have lost it since)."""
    return _was_up


def subscribe(fn):
    """Call ``fn(at, state)`` each time the station gets an IP (GOT_IP) or loses it (LOST, IDLE), however
    that came (AT+CWJAP, start_join, auto-connect at boot, a rejoin, the AP vanishing, leave). A family
    that subscribes after a change reads the present state with station_up() and was_up()."""
    if fn not in _listeners:
        _listeners.append(fn)


def _changed(at, state):
    global link, _was_up
    link = state
    if state == GOT_IP:
        _was_up = True
    for fn in _listeners:
        fn(at, state)


def _set_link(at, state):
    if state == link:
        return
    if state == GOT_IP and link != CONNECTED:
        at.urc(b"WIFI CONNECTED\r\n")
    if state == GOT_IP:
        at.urc(b"WIFI GOT IP\r\n")
    elif state == CONNECTED:
        at.urc(b"WIFI CONNECTED\r\n")
    elif link in (CONNECTED, GOT_IP):
        at.urc(b"WIFI DISCONNECT\r\n")
    _changed(at, state)


# ---- boot and the monitor ----------------------------------------------------------------------
def restore(at, addresses):
    """The saved SoftAP, and the saved addresses when ``addresses`` (cmds/wifiboot.py calls it at boot when
    there are some)."""
    store = at.store
    if addresses:
        from cmds import wifiaddr  # imported here (it imports this module), and only when it saved something

        wifiaddr.restore(at)
    r = store.get_record(SOFTAP_KEY, 6)
    if r:
        _apply_softap(r[0].decode(), r[1].decode(), int(r[2]), int(r[3]), int(r[4]), int(r[5]))


def _connect(ssid, pwd, bssid):
    global link, _retry_at
    wifiboot.connect(ssid, pwd, bssid)
    _retry_at = None
    if link == IDLE or link == LOST:
        link = CONNECTING


def watch(at):
    """The monitor (cmds.wifiboot's calls it): link changes become URCs; a lost link is rejoined per
    AT+CWRECONNCFG."""
    global _last_check, _retry_at, _retries
    now = ticks_ms()
    if ticks_diff(now, _last_check) < 100 or at.busy():
        return
    _last_check = now
    if sta.active() and link != IDLE:
        up = sta.isconnected()
        if up and link != GOT_IP:
            _retries = 0
            _set_link(at, GOT_IP)
        elif not up and link == GOT_IP:
            _set_link(at, LOST)
            _retry_at = ticks_ms()
        elif not up and link == CONNECTING and sta.status() not in (network.STAT_CONNECTING, network.STAT_IDLE):
            _set_link(at, LOST)  # a rejoin attempt failed
            _retry_at = ticks_ms()
        if link == LOST and joined and reconn_interval and _retry_at is not None:
            if ticks_diff(now, _retry_at) >= reconn_interval * 1000:
                if reconn_count and _retries >= reconn_count:
                    _retry_at = None
                else:
                    _retries += 1
                    _connect(*joined)
    if ap.active():
        _watch_stations(at)


def stations():
    """[(mac bytes, ip or None)] joined to the SoftAP (the stub types status(param) as int; on the chip
    status('stations') is this list)."""
    return ap.status("stations")  # type: ignore[return-value]


def _watch_stations(at):
    now = {}
    for mac, ip in stations():
        now[mac_text(mac)] = ip
    for mac in now:
        if mac not in _stations:
            at.urc('+STA_CONNECTED:"%s"\r\n' % mac)
        if now[mac] and _stations.get(mac) != now[mac]:
            at.urc('+DIST_STA_IP:"%s","%s"\r\n' % (mac, now[mac]))
    for mac in _stations:
        if mac not in now:
            at.urc('+STA_DISCONNECTED:"%s"\r\n' % mac)
    _stations.clear()
    _stations.update(now)


# ---- AT+CWMODE ---------------------------------------------------------------------------------
def q_cwmode(at):
    at.reply("+CWMODE:%d" % mode())


p_cwmode = (num(0, 3), num(0, 1, True))


def s_cwmode(at, m, auto_connect):
    set_mode(at, m)
    if m & 1 and auto_connect and joined and link in (IDLE, LOST):
        _connect(*joined)


def set_mode(at, m):
    """Turn the station (bit 0) and the SoftAP (bit 1) on or off; saved as AT+CWMODE is."""
    global link
    if not m & 1 and link in (CONNECTED, GOT_IP):
        _set_link(at, IDLE)
    sta.active(bool(m & 1))
    ap.active(bool(m & 2))
    if not m & 1:
        link = IDLE
    else:
        sta.config(reconnects=0)
    at.store.save_int("cwmode", m)


# ---- joining and leaving -----------------------------------------------------------------------
def q_cwjap(at):
    global joined_info
    if link != GOT_IP or not joined:
        at.reply("No AP")
        return None
    if joined_info is None:
        joined_info = _find(joined[0], joined[2]) or ("", 0)
    bssid, channel = joined_info
    at.reply('+CWJAP:"%s","%s",%d,%d' % (joined[0], bssid, channel, sta.status("rssi")))


# v1.2: ssid, pwd[, bssid]; 2.x adds pci_en, reconn_interval, listen_interval, scan_mode, jap_timeout.
p_cwjap = (text(32), text(64), text(17, opt=True), num(0, 0, True), num(0, 7200, True), num(1, 100, True),
           num(0, 1, True), num(3, 600, True))


def s_cwjap(at, ssid, pwd, bssid, pci_en, reconn, listen, scan_mode, timeout):
    require(1)
    b = parse_mac(bssid, 2) if bssid else None
    global reconn_interval
    if reconn is not None:
        reconn_interval = reconn
    return join(at, ssid, pwd, b, timeout or 15)


def e_cwjap(at):
    """2.x: AT+CWJAP alone rejoins the saved AP."""
    require(1)
    if not joined:
        raise AtError(E_EXEC)
    return join(at, joined[0], joined[1], joined[2], 15)


def _remember(at, ssid, pwd, bssid, always):
    """The AP the station joins and rejoins, saved as one record (always, or as AT+SYSSTORE says)."""
    global joined, joined_info
    joined = (ssid, pwd, bssid)
    joined_info = None
    record = (ssid, pwd, bssid or b"")
    if always:
        at.store.put_record(JAP_KEY, record)
    else:
        at.store.save_record(JAP_KEY, record)


def join(at, ssid, pwd, bssid, timeout_s):
    """Generator: join an AP (saved as AT+SYSSTORE says), writing the WIFI messages as esp-at does; on
    failure +CWJAP:<code> (1 timeout, 2 wrong password, 3 no such AP, 4 other) and False (ERROR)."""
    global joined_info, link
    if link in (CONNECTED, GOT_IP):
        at.write(b"WIFI DISCONNECT\r\n")
    if link != IDLE:
        sta.disconnect()  # also cancels a rejoin under way, which would empty the scan
        _changed(at, IDLE)
    _remember(at, ssid, pwd, bssid, False)
    joined_info = _find(ssid, bssid)
    if joined_info is None:
        at.write(b"+CWJAP:3\r\n")
        return False
    _connect(ssid, pwd, parse_mac(joined_info[0], 2))  # the AP reported is the AP joined
    start = ticks_ms()
    while True:
        status = sta.status()
        if sta.isconnected():
            at.write(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n")
            _changed(at, GOT_IP)
            return None
        if status not in (network.STAT_CONNECTING, network.STAT_IDLE) or ticks_diff(ticks_ms(), start) > timeout_s * 1000:
            code = _FAILED.get(status, 4) if status != network.STAT_CONNECTING else 1
            sta.disconnect()
            link = IDLE
            at.write(b"+CWJAP:%d\r\n" % code)
            return False
        yield 50


def start_join(at, ssid, pwd, keep):
    """Start joining an AP and return at once (the station is turned on if it is off); the monitor
    reports the outcome (WIFI CONNECTED, WIFI GOT IP, and to the subscribers). ``keep``: save it
    whatever AT+SYSSTORE says; otherwise it is not saved."""
    if not mode() & 1:
        set_mode(at, mode() | 1)
    global joined, joined_info
    if keep:
        _remember(at, ssid, pwd, None, True)
    else:
        joined, joined_info = (ssid, pwd, None), None
    _connect(ssid, pwd, None)


def forget_saved_ap(at):
    """Erase the saved AP (the station stays as it is until the next boot)."""
    at.store.erase(JAP_KEY)


def _find(ssid, bssid):
    """(bssid text, channel) of the AP to join, from a scan; None when it is not there."""
    best = None
    for s, b, channel, rssi, _, _ in sta.scan():
        if s == ssid.encode() and (bssid is None or b == bssid):
            if best is None or rssi > best[2]:
                best = (mac_text(b), channel, rssi)
    return best and best[:2]


def leave(at):
    """Leave the AP (no rejoin); WIFI DISCONNECT if the station was joined."""
    global _retry_at, link
    _retry_at = None
    sta.disconnect()
    if link in (CONNECTED, GOT_IP):
        at.urc(b"WIFI DISCONNECT\r\n")
        _changed(at, IDLE)
    link = IDLE


# ---- AT+CWQAP, AT+CWRECONNCFG, AT+CWSTATE (AT+CWAUTOCONN: cmds/wifiboot.py) ---------------------
def e_cwqap(at):
    leave(at)


p_cwreconncfg = (num(0, 7200), num(0, 1000))


def s_cwreconncfg(at, interval, count):
    global reconn_interval, reconn_count
    reconn_interval, reconn_count = interval, count
    at.store.save_record(RECONN_KEY, (interval, count))


def q_cwreconncfg(at):
    at.reply("+CWRECONNCFG:%d,%d" % (reconn_interval, reconn_count))


def q_cwstate(at):
    state = link if sta.active() else IDLE
    at.reply('+CWSTATE:%d,"%s"' % (state, joined[0] if joined and state != IDLE else ""))


# ---- scanning ----------------------------------------------------------------------------------
lapopt_sort = 0
lapopt_mask = 0x7FF
p_cwlapopt = (num(0, 1), num(0, 0x7FF))


def s_cwlapopt(at, sort, mask):
    global lapopt_sort, lapopt_mask
    lapopt_sort, lapopt_mask = sort, mask


def e_cwlap(at):
    return _list_aps(at, None, None, None)


p_cwlap = (text(32, opt=True), text(17, opt=True), num(1, 14, True))


def s_cwlap(at, ssid, mac, channel):
    return _list_aps(at, ssid, parse_mac(mac, 1) if mac else None, channel)


def _list_aps(at, ssid, mac, channel):
    require(1)
    found = []
    for s, b, ch, rssi, auth, _ in sta.scan():
        if (ssid is None or s == ssid.encode()) and (mac is None or b == mac) and (channel is None or ch == channel):
            found.append((auth, s, rssi, b, ch))
    if lapopt_sort:
        found.sort(key=lambda ap_: -ap_[2])
    for auth, s, rssi, b, ch in found:
        fields = []
        if lapopt_mask & 1:
            fields.append(b"%d" % auth)
        if lapopt_mask & 2:
            fields.append(b'"' + s + b'"')
        if lapopt_mask & 4:
            fields.append(b"%d" % rssi)
        if lapopt_mask & 8:
            fields.append(b'"' + mac_text(b).encode() + b'"')
        if lapopt_mask & 16:
            fields.append(b"%d" % ch)
        at.reply(b"+CWLAP:(" + b",".join(fields) + b")")


# ---- the SoftAP (its commands: cmds/softap.py) -------------------------------------------------
def softap_up():
    return ap.active()


def open_softap(at, ssid, pwd, channel, ecn, max_conn, hidden, save):
    """Turn the SoftAP on (keeping the station as it is) with this configuration; ``ecn`` as AT+CWSAP
    numbers it (0 open, 2 WPA, 3 WPA2, 4 WPA/WPA2; the caller checks the values). ``save``: saved as
    AT+CWSAP saves it (as AT+SYSSTORE says)."""
    if not mode() & 2:
        set_mode(at, mode() | 2)
    _apply_softap(ssid, pwd, channel, ecn, max_conn, hidden)
    if save:
        at.store.save_record(SOFTAP_KEY, (ssid, pwd, channel, ecn, max_conn, hidden))


def close_softap(at):
    set_mode(at, mode() & 1)


def _apply_softap(ssid, pwd, chl, ecn, max_conn, hidden):
    global softap_pwd
    softap_pwd = pwd if ecn else ""
    kwargs = {"ssid": ssid, "channel": chl, "security": _ECN_SEC[ecn], "max_clients": max_conn, "hidden": bool(hidden)}
    if ecn:
        kwargs["key"] = pwd
    ap.config(**kwargs)


# ---- what the chip's MicroPython has no API for ------------------------------------------------
def unavailable(what):
    """ERROR for a command the ESP32 MicroPython firmware has no API for (said on the console)."""
    print("upy-at: %s: the ESP32 MicroPython firmware has no API for it" % what)
    raise AtError(E_EXEC)


p_cwstartsmart = (num(1, 3),)


def s_cwstartsmart(at, kind):
    unavailable("SmartConfig")


def e_cwstartsmart(at):
    unavailable("SmartConfig")


def e_cwstopsmart(at):
    unavailable("SmartConfig")


p_wps = (num(0, 1),)


def s_wps(at, on):
    unavailable("WPS")
