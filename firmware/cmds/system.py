"""Alibaba Cloud IoT module system commands (seed 000 §5) and its device-hotspot provisioning switch (§4.3-4.4).

Importing this family (on the first Alibaba command) turns on the +INETSTAT reports of network changes;
AT+INETSTAT and the reports follow the station's state however it joined, before or after that import.
"""
import boardcfg
from at import table
from at.parser import AtError, num, text, E_INVALID
from cmds import basic, wifi


def e_gcmr(at):
    at.reply("+GCMR:FW:%s, HW:%s" % (basic.VERSION, boardcfg.MODULE))
    at.reply("+GCMR:Time:%s" % boardcfg.BUILD)


def e_ihelp(at):
    from at.help import HELP  # imported for this command only

    for entry in table.TABLE:
        at.reply("# AT%s -- %s" % (entry[0], HELP[entry[0]]))


def e_ireboot(at):
    return basic.e_rst(at)


def e_idefault(at):
    return basic.e_restore(at)


# ---- Wi-Fi (seed 000 §5.7-5.9) and device-hotspot provisioning (§4.3-4.4) -----------------------
# +INETSTAT states: 1 not connected yet, 4 connected, 5 disconnected.
def _inet():
    return 4 if wifi.station_up() else (5 if wifi.was_up() else 1)


_reported = _inet()  # the state the MCU last heard of (a join before this import is no news)


def _inetstat_line(state):
    return "+INETSTAT:%d,%s,%s" % (state, wifi.station_ip(), wifi.station_mac().upper())


def _on_link(at, state):
    """Every network change is reported to an Alibaba MCU (once it has used one of its commands)."""
    global _reported
    now = _inet()
    if now != _reported:
        _reported = now
        at.urc(_inetstat_line(now) + "\r\n")


wifi.subscribe(_on_link)


def e_inetstat(at):
    at.reply(_inetstat_line(_inet()))


def e_ireadmac(at):
    at.reply("+IREADMAC:" + wifi.station_mac().upper())


p_iwificonnect = (text(32, 1), text(64), num(0, 1, True))


def s_iwificonnect(at, ssid, pwd, save):
    """OK at once; +INETSTAT follows when the module has joined (the monitor reports it)."""
    wifi.start_join(at, ssid, pwd, bool(save))


_AP_PREFIX = "BL60X_uAP"  # the manual's default hotspot name prefix


p_iapconfigstart = (num(0, 2), text(24, opt=True), text(64, opt=True), text(32, opt=True))


def s_iapconfigstart(at, mode, prefix, pwd, aes_key):
    """Mode 0 forgets the provisioned AP; mode 1 opens the device hotspot and listens for the phone app
    (cmds/aliyun_prov.py); mode 2, plain-text provisioning, the manual marks unsupported."""
    if mode == 0:
        wifi.forget_saved_ap(at)
        return None
    if mode == 2 or (pwd and not 8 <= len(pwd) <= 64):
        raise AtError(E_INVALID)
    ssid = "%s_%s" % (prefix or _AP_PREFIX, "".join(["%02X" % b for b in wifi.ap.config("mac")[3:]]))
    wifi.open_softap(at, ssid, pwd or "", 1, 3 if pwd else 0, 4, 0, False)
    if aes_key:
        at.store.put_bytes("iap_aes", aes_key)
    else:
        at.store.erase("iap_aes")  # the product secret decrypts (cmds/aliyun_prov.py)
    from cmds import aliyun_prov
    aliyun_prov.start(at)


def e_iapconfigstop(at):
    from cmds import aliyun_prov
    aliyun_prov.stop(at)
    wifi.close_softap(at)
