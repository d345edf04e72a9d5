"""ESP-AT SoftAP commands (seed 004 §4): its configuration, the stations joined to it, its DHCP range.

The SoftAP itself (open, close, saved configuration, station events) belongs to cmds/wifi.py.
"""
from at.parser import AtError, num, text, E_INVALID, E_EXEC
from cmds import wifi


def q_cwsap(at):
    wifi.require(2)
    ap = wifi.ap
    at.reply('+CWSAP:"%s","%s",%d,%d,%d,%d' % (
        ap.config("ssid"), wifi.softap_pwd, ap.config("channel"), ap.config("security"),
        ap.config("max_clients"), 1 if ap.config("hidden") else 0))


p_cwsap = (text(32, 1), text(64), num(1, 13), num(0, 4), num(1, 10, True), num(0, 1, True))


def s_cwsap(at, ssid, pwd, chl, ecn, max_conn, hidden):
    wifi.require(2)
    if ecn == 1:
        raise AtError(E_INVALID | 3)  # WEP: the ESP32 SoftAP has none
    if ecn and not 8 <= len(pwd) <= 64:
        raise AtError(E_INVALID | 1)
    wifi.open_softap(at, ssid, pwd, chl, ecn, 10 if max_conn is None else max_conn, hidden or 0, True)


def e_cwlif(at):
    wifi.require(2)
    for mac, ip in wifi.stations():
        if ip:
            at.reply("+CWLIF:%s,%s" % (ip, wifi.mac_text(mac)))


def q_cwdhcps(at):
    wifi.require(2)
    base = wifi.ap.ifconfig()[0].rsplit(".", 1)[0]
    at.reply('+CWDHCPS:120,"%s.2","%s.101"' % (base, base))


p_cwdhcps = (num(0, 1), num(1, 2880, True), text(15, opt=True), text(15, opt=True))


def s_cwdhcps(at, enable, lease, start, end):
    wifi.require(2)
    if not enable:
        return None  # the default range is what the SoftAP serves
    if lease is None or start is None or end is None:
        raise AtError(E_INVALID | 1)
    subnet = wifi.parse_ip(wifi.ap.ifconfig()[0], 0)[:3]
    first, last = wifi.parse_ip(start, 2), wifi.parse_ip(end, 3)
    if first[:3] != subnet or last[:3] != subnet or first[3] > last[3]:
        raise AtError(E_INVALID | 2)
    raise AtError(E_EXEC)  # MicroPython has no API for the SoftAP's DHCP pool or lease
