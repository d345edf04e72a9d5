"""ESP-AT address commands (seed 004 §4-5): DHCP, static IP addresses, MAC addresses, host name, and
restoring the saved ones at boot (cmds/wifi.py's boot calls ``restore``)."""
import network
from at.parser import AtError, num, text, E_INVALID
from cmds import wifi

STA_IP_KEY = "sta_ip"  # the station's DHCP bits and static address, one record
dhcp_bits = 3  # bit0 station DHCP, bit1 SoftAP DHCP server


def restore(at):
    """The saved MAC and IP addresses, before the station joins."""
    global dhcp_bits
    store = at.store
    for key, iface in (("stamac", wifi.sta), ("apmac", wifi.ap)):
        mac = store.get_bytes(key)
        if mac:
            iface.config(mac=mac)
    r = store.get_record(STA_IP_KEY, 5)
    if r:
        dhcp_bits = int(r[0])
        if r[1]:
            wifi.sta.ifconfig(tuple([field.decode() for field in r[1:]]))
    v = store.get_str("ap_ip")
    if v:
        wifi.ap.ifconfig(tuple(v.split(",")))


# ---- DHCP and IP addresses ---------------------------------------------------------------------
def q_cwdhcp(at):
    at.reply("+CWDHCP:%d" % dhcp_bits)


p_cwdhcp = (num(0, 1), num(1, 3))


def s_cwdhcp(at, enable, bits):
    global dhcp_bits
    if bits & 2 and not enable:
        raise AtError(E_INVALID | 1)  # MicroPython cannot stop the SoftAP's DHCP server
    sta = wifi.sta
    static = None
    if bits & 1:
        if enable:
            sta.ipconfig(dhcp4=True)
            dhcp_bits |= 1
        else:
            static = sta.ifconfig()
            sta.ifconfig(static)  # keep the current address, statically
            dhcp_bits &= ~1
    _save_sta_ip(at, static)


def _save_sta_ip(at, static):
    """The station's DHCP bits and its static address (ip, netmask, gateway, DNS; None with DHCP) as one
    record, so that a power cut leaves the old setting or the new one, never DHCP with a stale address."""
    at.store.save_record(STA_IP_KEY, (dhcp_bits,) + (tuple(static) if static is not None else ("", "", "", "")))


def _q_ip(at, prefix, iface):
    ip, mask, gw, _ = iface.ifconfig()
    at.reply('%s:ip:"%s"' % (prefix, ip))
    at.reply('%s:gateway:"%s"' % (prefix, gw))
    at.reply('%s:netmask:"%s"' % (prefix, mask))


p_cipsta = (text(15), text(15, opt=True), text(15, opt=True))
p_cipap = (text(15), text(15, opt=True), text(15, opt=True))


def q_cipsta(at):
    _q_ip(at, "+CIPSTA", wifi.sta)


def s_cipsta(at, ip, gw, mask):
    """ip, netmask, gateway and DNS are saved with the DHCP bits as one record (one key)."""
    global dhcp_bits
    wifi.require(1)
    cfg = _static(ip, gw, mask) + (wifi.sta.ifconfig()[3],)
    wifi.sta.ifconfig(cfg)
    dhcp_bits &= ~1
    _save_sta_ip(at, cfg)


def q_cipap(at):
    _q_ip(at, "+CIPAP", wifi.ap)


def s_cipap(at, ip, gw, mask):
    wifi.require(2)
    cfg = _static(ip, gw, mask) + ("0.0.0.0",)
    if wifi.parse_ip(cfg[0], 0)[3] in (0, 255):
        raise AtError(E_INVALID)
    wifi.ap.ifconfig(cfg)
    at.store.save_bytes("ap_ip", ",".join(cfg))


def _static(ip, gw, mask):
    """(ip, netmask, gateway) from AT's <ip>[,<gateway>,<netmask>]; the gateway defaults to x.x.x.1."""
    addr = wifi.parse_ip(ip, 0)
    if (gw is None) != (mask is None):
        raise AtError(E_INVALID | 1)
    if gw is None:
        gw = "%d.%d.%d.1" % tuple(addr[:3])
        mask = "255.255.255.0"
    wifi.parse_ip(gw, 1)
    wifi.parse_ip(mask, 2)
    return (ip, mask, gw)


def e_cifsr(at):
    if wifi.ap.active():
        at.reply('+CIFSR:APIP,"%s"' % wifi.ap.ifconfig()[0])
        at.reply('+CIFSR:APMAC,"%s"' % wifi.mac_text(wifi.ap.config("mac")))
    if wifi.sta.active():
        at.reply('+CIFSR:STAIP,"%s"' % wifi.station_ip())
        at.reply('+CIFSR:STAMAC,"%s"' % wifi.station_mac())


# ---- MAC addresses -----------------------------------------------------------------------------
p_cipstamac = (text(17),)
p_cipapmac = (text(17),)


def _set_mac(at, iface, other, key, textmac):
    mac = wifi.parse_mac(textmac, 0)
    if mac[0] & 1 or mac == b"\x00" * 6 or mac == b"\xff" * 6 or mac == other.config("mac"):
        raise AtError(E_INVALID)
    iface.config(mac=mac)
    at.store.save_bytes(key, mac)


def q_cipstamac(at):
    at.reply('+CIPSTAMAC:"%s"' % wifi.station_mac())


def s_cipstamac(at, textmac):
    _set_mac(at, wifi.sta, wifi.ap, "stamac", textmac)


def q_cipapmac(at):
    at.reply('+CIPAPMAC:"%s"' % wifi.mac_text(wifi.ap.config("mac")))


def s_cipapmac(at, textmac):
    _set_mac(at, wifi.ap, wifi.sta, "apmac", textmac)


# ---- host name ---------------------------------------------------------------------------------
p_cwhostname = (text(32, 1),)


def s_cwhostname(at, name):
    wifi.require(1)
    network.hostname(name)


def q_cwhostname(at):
    at.reply("+CWHOSTNAME:%s" % (network.hostname() if wifi.sta.active() else "<null>"))


p_mdns = (num(0, 1), text(32, opt=True), text(32, opt=True), num(1, 65535, True))


def s_mdns(at, on, host, service, port):
    wifi.unavailable("mDNS services")
