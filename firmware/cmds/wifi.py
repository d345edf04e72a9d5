"""ESP-AT Wi-Fi commands (seed 004 §4, the IP/MAC commands of §5, 2.x forms) over network.WLAN.

The family keeps the link state itself: the station's own reconnects are off (``reconnects=0``) and a
monitor rejoins the AP per AT+CWRECONNCFG, writing WIFI CONNECTED / WIFI GOT IP / WIFI DISCONNECT and
the SoftAP's station events as URCs. Settings are saved as the v1.2 manual says (subject to AT+SYSSTORE).
"""
import network
from at.compat import ticks_ms, ticks_diff, print_exc
from at.parser import AtError, num, text, E_INVALID, E_EXEC

sta = network.WLAN(network.WLAN.IF_STA)
ap = network.WLAN(network.WLAN.IF_AP)

# Link states, as AT+CWSTATE numbers them.
IDLE, CONNECTED, GOT_IP, CONNECTING, LOST = 0, 1, 2, 3, 4
_FAILED = {network.STAT_WRONG_PASSWORD: 2, network.STAT_NO_AP_FOUND: 3}  # +CWJAP:<code>; others 4

link = IDLE
joined = None  # (ssid, password, bssid or None) the station joins and rejoins
joined_info = None  # (bssid str, channel) of the AP found when joining
_retry_at = None  # ticks when the monitor next tries to rejoin
_retries = 0
_stations = {}  # SoftAP: mac -> ip (None until DHCP gave one)
_last_check = 0
reconn_interval = 1  # AT+CWRECONNCFG: seconds between rejoins (0: never) ...
reconn_count = 0  # ... and how many (0: forever)
listeners = []  # fn(state) called on every link change (the Alibaba/Tencent profiles' URCs)


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


def _require(bits):
    if not mode() & bits:
        raise AtError(E_EXEC)


def _set_link(at, state):
    global link
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
    link = state
    for fn in listeners:
        fn(at, state)


# ---- boot and the monitor ----------------------------------------------------------------------
def boot(at):
    """Restore the saved mode, addresses and SoftAP; rejoin the saved AP when AT+CWAUTOCONN=1."""
    global joined, reconn_interval, reconn_count
    store = at.store
    m = store.get_int("cwmode", 1)
    sta.active(bool(m & 1))
    ap.active(bool(m & 2))
    sta.config(reconnects=0)
    for key, iface in (("stamac", sta), ("apmac", ap)):
        mac = store.get_bytes(key)
        if mac:
            iface.config(mac=mac)
    global dhcp_bits
    dhcp_bits = store.get_int("dhcp", 3)
    for key, iface in (("sta_ip", sta), ("ap_ip", ap)):
        v = store.get_str(key)
        if v:
            iface.ifconfig(tuple(v.split(",")))
    ssid = store.get_str("ap_ssid")
    if ssid is not None:
        _apply_softap(ssid, store.get_str("ap_pwd", ""), store.get_int("ap_chl", 1), store.get_int("ap_ecn", 0),
                      store.get_int("ap_max", 10), store.get_int("ap_hidden", 0))
    reconn_interval = store.get_int("reconn_intv", 1)
    reconn_count = store.get_int("reconn_cnt", 0)
    ssid = store.get_str("jap_ssid")
    if ssid is not None:
        bssid = store.get_bytes("jap_bssid")
        joined = (ssid, store.get_str("jap_pwd", ""), bssid or None)
        if store.get_int("autoconn", 1) and m & 1:
            _connect(*joined)
    at.monitor(watch)


def _connect(ssid, pwd, bssid):
    global link, _retry_at
    try:
        if bssid:
            sta.connect(ssid, pwd, bssid=bssid)
        else:
            sta.connect(ssid, pwd)
    except OSError as e:
        print_exc(e)
    _retry_at = None
    if link == IDLE or link == LOST:
        link = CONNECTING


def watch(at):
    """The monitor: link changes become URCs; a lost link is rejoined per AT+CWRECONNCFG."""
    global _last_check, _retry_at, _retries
    now = ticks_ms()
    if ticks_diff(now, _last_check) < 100 or at.busy:
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
def t_cwmode(at):
    at.reply("+CWMODE:(0-3)")


def q_cwmode(at):
    at.reply("+CWMODE:%d" % mode())


p_cwmode = (num(0, 3), num(0, 1, True))


def s_cwmode(at, m, auto_connect):
    set_mode(at, m)
    if m & 1 and auto_connect and joined and link in (IDLE, LOST):
        _connect(*joined)


def set_mode(at, m):
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


# ---- AT+CWJAP ----------------------------------------------------------------------------------
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
    _require(1)
    b = parse_mac(bssid, 2) if bssid else None
    global reconn_interval
    if reconn is not None:
        reconn_interval = reconn
    return join(at, ssid, pwd, b, timeout or 15)


def e_cwjap(at):
    """2.x: AT+CWJAP alone rejoins the saved AP."""
    _require(1)
    if not joined:
        raise AtError(E_EXEC)
    return join(at, joined[0], joined[1], joined[2], 15)


def join(at, ssid, pwd, bssid, timeout_s, save=True):
    """Generator: join an AP, writing the WIFI messages as esp-at does; +CWJAP:<code> then ERROR on failure."""
    global joined, joined_info, link
    if link in (CONNECTED, GOT_IP):
        at.write(b"WIFI DISCONNECT\r\n")
    if link != IDLE:
        sta.disconnect()  # also cancels a rejoin under way, which would empty the scan
        link = IDLE
    joined = (ssid, pwd, bssid)
    if save:
        store = at.store
        store.save_bytes("jap_ssid", ssid)
        store.save_bytes("jap_pwd", pwd)
        store.save_bytes("jap_bssid", bssid or b"")
    joined_info = _find(ssid, bssid)
    if joined_info is None:
        at.write(b"+CWJAP:3\r\n")
        return False
    _connect(ssid, pwd, parse_mac(joined_info[0], 2))  # the AP reported is the AP joined
    start = ticks_ms()
    while True:
        status = sta.status()
        if sta.isconnected():
            link = GOT_IP
            at.write(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n")
            for fn in listeners:
                fn(at, GOT_IP)
            return None
        if status not in (network.STAT_CONNECTING, network.STAT_IDLE) or ticks_diff(ticks_ms(), start) > timeout_s * 1000:
            code = _FAILED.get(status, 4) if status != network.STAT_CONNECTING else 1
            sta.disconnect()
            link = IDLE
            at.write(b"+CWJAP:%d\r\n" % code)
            return False
        yield 50


def _find(ssid, bssid):
    """(bssid text, channel) of the AP to join, from a scan; None when it is not there."""
    best = None
    for s, b, channel, rssi, _, _ in sta.scan():
        if s == ssid.encode() and (bssid is None or b == bssid):
            if best is None or rssi > best[2]:
                best = (mac_text(b), channel, rssi)
    return best and best[:2]


# ---- AT+CWQAP, AT+CWRECONNCFG, AT+CWSTATE, AT+CWAUTOCONN ---------------------------------------
def e_cwqap(at):
    global link, _retry_at
    _retry_at = None
    was = link
    sta.disconnect()
    link = IDLE
    if was in (CONNECTED, GOT_IP):
        at.urc(b"WIFI DISCONNECT\r\n")
        for fn in listeners:
            fn(at, IDLE)


p_cwreconncfg = (num(0, 7200), num(0, 1000))


def s_cwreconncfg(at, interval, count):
    global reconn_interval, reconn_count
    reconn_interval, reconn_count = interval, count
    at.store.save_int("reconn_intv", interval)
    at.store.save_int("reconn_cnt", count)


def q_cwreconncfg(at):
    at.reply("+CWRECONNCFG:%d,%d" % (reconn_interval, reconn_count))


def q_cwstate(at):
    state = link if sta.active() else IDLE
    at.reply('+CWSTATE:%d,"%s"' % (state, joined[0] if joined and state != IDLE else ""))


p_cwautoconn = (num(0, 1),)


def s_cwautoconn(at, on):
    at.store.put_int("autoconn", on)  # always saved (esp-at)


def q_cwautoconn(at):
    at.reply("+CWAUTOCONN:%d" % at.store.get_int("autoconn", 1))


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
    _require(1)
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


# ---- the SoftAP --------------------------------------------------------------------------------
_ECN_SEC = {0: 0, 2: 2, 3: 3, 4: 4}  # AT <ecn> -> WLAN security (WEP, 1, is refused)


def q_cwsap(at):
    _require(2)
    at.reply('+CWSAP:"%s","%s",%d,%d,%d,%d' % (
        ap.config("ssid"), softap_pwd, ap.config("channel"), ap.config("security"),
        ap.config("max_clients"), 1 if ap.config("hidden") else 0))


softap_pwd = ""
p_cwsap = (text(32, 1), text(64), num(1, 13), num(0, 4), num(1, 10, True), num(0, 1, True))


def s_cwsap(at, ssid, pwd, chl, ecn, max_conn, hidden):
    _require(2)
    if ecn not in _ECN_SEC:
        raise AtError(E_INVALID | 3)
    if ecn and not 8 <= len(pwd) <= 64:
        raise AtError(E_INVALID | 1)
    max_conn = 10 if max_conn is None else max_conn
    hidden = hidden or 0
    _apply_softap(ssid, pwd, chl, ecn, max_conn, hidden)
    store = at.store
    store.save_bytes("ap_ssid", ssid)
    store.save_bytes("ap_pwd", pwd)
    for key, v in (("ap_chl", chl), ("ap_ecn", ecn), ("ap_max", max_conn), ("ap_hidden", hidden)):
        store.save_int(key, v)


def _apply_softap(ssid, pwd, chl, ecn, max_conn, hidden):
    global softap_pwd
    softap_pwd = pwd if ecn else ""
    kwargs = {"ssid": ssid, "channel": chl, "security": _ECN_SEC[ecn], "max_clients": max_conn, "hidden": bool(hidden)}
    if ecn:
        kwargs["key"] = pwd
    ap.config(**kwargs)


def e_cwlif(at):
    _require(2)
    for mac, ip in stations():
        if ip:
            at.reply("+CWLIF:%s,%s" % (ip, mac_text(mac)))


# ---- DHCP and addresses ------------------------------------------------------------------------
dhcp_bits = 3  # bit0 station DHCP, bit1 SoftAP DHCP server


def q_cwdhcp(at):
    at.reply("+CWDHCP:%d" % dhcp_bits)


p_cwdhcp = (num(0, 1), num(1, 3))


def s_cwdhcp(at, enable, bits):
    global dhcp_bits
    if bits & 2 and not enable:
        raise AtError(E_INVALID | 1)  # MicroPython cannot stop the SoftAP's DHCP server
    if bits & 1:
        if enable:
            sta.ipconfig(dhcp4=True)
            at.store.erase("sta_ip")
            dhcp_bits |= 1
        else:
            sta.ifconfig(sta.ifconfig())  # keep the current address, statically
            dhcp_bits &= ~1
    at.store.save_int("dhcp", dhcp_bits)


def q_cwdhcps(at):
    _require(2)
    base = ap.ifconfig()[0].rsplit(".", 1)[0]
    at.reply('+CWDHCPS:120,"%s.2","%s.101"' % (base, base))


p_cwdhcps = (num(0, 1), num(1, 2880, True), text(15, opt=True), text(15, opt=True))


def s_cwdhcps(at, enable, lease, start, end):
    _require(2)
    if not enable:
        return None  # the default range is what the SoftAP serves
    if lease is None or start is None or end is None:
        raise AtError(E_INVALID | 1)
    subnet = parse_ip(ap.ifconfig()[0], 0)[:3]
    first, last = parse_ip(start, 2), parse_ip(end, 3)
    if first[:3] != subnet or last[:3] != subnet or first[3] > last[3]:
        raise AtError(E_INVALID | 2)
    raise AtError(E_EXEC)  # MicroPython has no API for the SoftAP's DHCP pool or lease


def _q_ip(at, prefix, iface):
    ip, mask, gw, _ = iface.ifconfig()
    at.reply('%s:ip:"%s"' % (prefix, ip))
    at.reply('%s:gateway:"%s"' % (prefix, gw))
    at.reply('%s:netmask:"%s"' % (prefix, mask))


p_cipsta = (text(15), text(15, opt=True), text(15, opt=True))
p_cipap = p_cipsta


def q_cipsta(at):
    _q_ip(at, "+CIPSTA", sta)


def s_cipsta(at, ip, gw, mask):
    global dhcp_bits
    _require(1)
    cfg = _static(ip, gw, mask) + (sta.ifconfig()[3],)
    sta.ifconfig(cfg)
    dhcp_bits &= ~1
    at.store.save_bytes("sta_ip", ",".join(cfg))


def q_cipap(at):
    _q_ip(at, "+CIPAP", ap)


def s_cipap(at, ip, gw, mask):
    _require(2)
    cfg = _static(ip, gw, mask) + ("0.0.0.0",)
    if parse_ip(cfg[0], 0)[3] in (0, 255):
        raise AtError(E_INVALID)
    ap.ifconfig(cfg)
    at.store.save_bytes("ap_ip", ",".join(cfg))


def _static(ip, gw, mask):
    """(ip, netmask, gateway) from AT's <ip>[,<gateway>,<netmask>]; the gateway defaults to x.x.x.1."""
    addr = parse_ip(ip, 0)
    if (gw is None) != (mask is None):
        raise AtError(E_INVALID | 1)
    if gw is None:
        gw = "%d.%d.%d.1" % tuple(addr[:3])
        mask = "255.255.255.0"
    parse_ip(gw, 1)
    parse_ip(mask, 2)
    return (ip, mask, gw)


def e_cifsr(at):
    if ap.active():
        at.reply('+CIFSR:APIP,"%s"' % ap.ifconfig()[0])
        at.reply('+CIFSR:APMAC,"%s"' % mac_text(ap.config("mac")))
    if sta.active():
        at.reply('+CIFSR:STAIP,"%s"' % (sta.ifconfig()[0] if link == GOT_IP else "0.0.0.0"))
        at.reply('+CIFSR:STAMAC,"%s"' % mac_text(sta.config("mac")))


# ---- MAC addresses -----------------------------------------------------------------------------
p_cipstamac = (text(17),)
p_cipapmac = p_cipstamac


def _set_mac(at, iface, other, key, textmac):
    mac = parse_mac(textmac, 0)
    if mac[0] & 1 or mac == b"\x00" * 6 or mac == b"\xff" * 6 or mac == other.config("mac"):
        raise AtError(E_INVALID)
    iface.config(mac=mac)
    at.store.save_bytes(key, mac)


def q_cipstamac(at):
    at.reply('+CIPSTAMAC:"%s"' % mac_text(sta.config("mac")))


def s_cipstamac(at, textmac):
    _set_mac(at, sta, ap, "stamac", textmac)


def q_cipapmac(at):
    at.reply('+CIPAPMAC:"%s"' % mac_text(ap.config("mac")))


def s_cipapmac(at, textmac):
    _set_mac(at, ap, sta, "apmac", textmac)


# ---- host name ---------------------------------------------------------------------------------
p_cwhostname = (text(32, 1),)


def s_cwhostname(at, name):
    _require(1)
    network.hostname(name)


def q_cwhostname(at):
    at.reply("+CWHOSTNAME:%s" % (network.hostname() if sta.active() else "<null>"))


# ---- what the chip's MicroPython has no API for ------------------------------------------------
def _unavailable(what):
    print("upy-at: %s: the ESP32 MicroPython firmware has no API for it" % what)
    raise AtError(E_EXEC)


p_cwstartsmart = (num(1, 3),)


def s_cwstartsmart(at, kind):
    _unavailable("SmartConfig")


def e_cwstartsmart(at):
    _unavailable("SmartConfig")


def e_cwstopsmart(at):
    _unavailable("SmartConfig")


p_wps = (num(0, 1),)


def s_wps(at, on):
    _unavailable("WPS")


p_mdns = (num(0, 1), text(32, opt=True), text(32, opt=True), num(1, 65535, True))


def s_mdns(at, on, host, service, port):
    _unavailable("mDNS services")
