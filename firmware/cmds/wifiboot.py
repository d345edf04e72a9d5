"""Wi-Fi at power-up, without the Wi-Fi family: the saved mode, and the saved AP rejoined when
AT+CWAUTOCONN=1 (seed 004 §4.2.10, here too). cmds/wifi.py (12 KiB of heap) is imported at the first
Wi-Fi command, or by the monitor once boot's join has ended (joined or failed: the family writes
WIFI CONNECTED / WIFI GOT IP and keeps the link from there); at boot only when a SoftAP or addresses
were saved (its monitor watches the SoftAP's stations).

What cmds/wifi.py uses: JAP_KEY, SOFTAP_KEY, RECONN_KEY (its store records), connect() and
handover() (what boot found, taken once at import; from then on the monitor ``watch`` calls ``wifi.watch``).
"""
import network
from at.compat import print_exc
from at.parser import num

JAP_KEY = "wifi_jap"  # ssid, password, bssid (6 bytes or empty)
SOFTAP_KEY = "wifi_softap"  # ssid, password, channel, ecn, max connections, hidden
RECONN_KEY = "wifi_reconn"  # interval, count
ADDRESS_KEYS = ("stamac", "apmac", "sta_ip", "ap_ip")  # cmds/wifiaddr.py's records

sta = network.WLAN(network.WLAN.IF_STA)
_saved = None  # (ssid, password, bssid or None): the AP the store holds
_reconn = (1, 0)  # AT+CWRECONNCFG: interval, count
_joining = False  # boot started joining the saved AP
_handed = False  # cmds.wifi is imported: the monitor is its


def boot(at):
    """Restore the saved mode; join the saved AP when AT+CWAUTOCONN=1 (the family reports it)."""
    global _saved, _reconn, _joining
    store = at.store
    m = store.get_int("cwmode", 1)
    r = store.get_record(JAP_KEY, 3)
    if r:
        _saved = (r[0].decode(), r[1].decode(), r[2] or None)
    r = store.get_record(RECONN_KEY, 2)
    if r:
        _reconn = (int(r[0]), int(r[1]))
    _joining = bool(_saved and m & 1 and store.get_int("autoconn", 1))
    sta.active(bool(m & 1))
    network.WLAN(network.WLAN.IF_AP).active(bool(m & 2))
    sta.config(reconnects=0)  # the family rejoins, per AT+CWRECONNCFG
    addresses = [k for k in ADDRESS_KEYS if store.get_bytes(k)]
    if m & 2 or addresses or store.get_bytes(SOFTAP_KEY):
        at.family("wifi").restore(at, addresses)  # before joining: a saved MAC or static address applies to it
    if _joining:
        connect(*_saved)
    at.monitor(watch)


def connect(ssid, pwd, bssid):
    """Start joining an AP (the station's own reconnects are off); the outcome comes from sta.status()."""
    try:
        if bssid:
            sta.connect(ssid, pwd, bssid=bssid)
        else:
            sta.connect(ssid, pwd)
    except OSError as e:
        print_exc(e)


def watch(at):
    """The Wi-Fi monitor: nothing while no family needs it; imports cmds.wifi once boot's join has ended."""
    if _handed or (_joining and sta.status() not in (network.STAT_CONNECTING, network.STAT_IDLE)):
        at.family("wifi").watch(at)


def handover():
    """For cmds.wifi as it is imported: (the saved AP or None, (reconnect interval, count), whether boot
    started joining it). From then on the monitor is the family's."""
    global _handed
    _handed = True
    return _saved, _reconn, _joining


# ---- AT+CWAUTOCONN -----------------------------------------------------------------------------
p_cwautoconn = (num(0, 1),)


def s_cwautoconn(at, on):
    at.store.put_int("autoconn", on)  # always saved (esp-at)


def q_cwautoconn(at):
    at.reply("+CWAUTOCONN:%d" % at.store.get_int("autoconn", 1))
