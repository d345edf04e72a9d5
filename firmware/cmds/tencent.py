"""Tencent Cloud IoT AT commands (seed 001). So far: the SoftAP of softAP provisioning (§6.3-6.4)."""
from at.parser import AtError, text, E_INVALID
from cmds import wifi


def t_tcsap(at):
    at.reply("+TCSAP=<ssid>,<pwd>")


def q_tcsap(at):
    return None


p_tcsap = (text(32, 1), text(32))


def s_tcsap(at, ssid, pwd):
    """Open the provisioning hotspot: OK, then +TCSAP:OK once it is up. (The app's binding exchange
    over it belongs to the Tencent cloud profile.)"""
    if pwd and len(pwd) < 8:
        raise AtError(E_INVALID | 1)
    wifi.open_softap(at, ssid, pwd, 1, 3 if pwd else 0, 4, 0, False)
    at.urc(b"+TCSAP:OK\r\n")


def t_tcstopsap(at):
    at.reply("AT+TCSTOPSAP: CMD TO STOP SOFTAP")


def e_tcstopsap(at):
    wifi.close_softap(at)
