"""The cellular (Air724UG-class, AirM2M LTE_AT firmware) profile's identity, radio and bearer commands,
answered over Wi-Fi (seed 003, reference cellular-air724.md §1, §2.1).

Nothing here has a modem behind it: each value is derived from what the ESP32 has. The network is
"attached" (AT+CGATT?, registration) while the station holds an IP address; AT+CSQ is the station's RSSI
on the 3GPP scale; the IMEI, IMSI and ICCID are made from the station MAC, so they are stable per device;
the SIM is always READY. A bearer (AT+SAPBR) opens only while Wi-Fi is up and is dropped
(``+SAPBR <cid>: DEACT``) when Wi-Fi goes. Errors are ``+CME ERROR: <n>`` with the module's numbers.
"""
import network
from at import replies
from at.parser import AtError, num, text
from cmds import wifi

# +CME ERROR numbers of the module (reference §1).
CME_NOT_ALLOWED = 3
CME_NOT_SUPPORTED = 4
CME_EXE_FAIL = 50
CME_PARAM = 53
CME_INVALID_INPUT = 765
CME_FAILED = 767
ERRORS = replies.cme_spaced

# The firmware whose command set this profile answers: the seed's MCU code wants V>=409 in it.
VERSION = "AirM2M_Air72xUy_V409_LTE_AT"
TAC = "86299141"  # the Air724UG's type allocation code (the first 8 digits of the seed's IMEI)
HOME_PLMN = "46004"  # China Mobile's IoT network, whose APN the seed names (CMIOT)
ICCID_PREFIX = "898604"  # telecom (89), China (86), China Mobile (04)


def info(at, text):
    """Write an information response as the module frames it (V.25ter): CR LF, the line(s), CR LF. With
    echo on, the answer then starts on a line of its own after the echoed command and its lone CR."""
    at.write("\r\n%s\r\n" % text)


def _mac_number():
    return int(wifi.station_mac().replace(":", ""), 16)


def _luhn(digits):
    """``digits`` with its Luhn check digit appended (as IMEI and ICCID carry one)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def imei():
    return _luhn(TAC + "%06d" % (_mac_number() % 1000000))


def imsi():
    return HOME_PLMN + "%010d" % (_mac_number() % 10000000000)


def iccid():
    return _luhn(ICCID_PREFIX + "%013d" % (_mac_number() % 10000000000000))


def attached():
    """The cellular side's 'attached to the packet network': the station has an IP address."""
    return wifi.station_up()


def _reg_stat():
    """<stat> of +CREG/+CGREG/+CEREG: 1 registered (home), 2 searching (joining), 0 not registered."""
    if attached():
        return 1
    if wifi.sta.active() and wifi.sta.status() == network.STAT_CONNECTING:
        return 2
    return 0


def csq():
    """(<rssi>, <ber>) of AT+CSQ: 0 = -113 dBm or less ... 31 = -51 dBm or more, 99 unknown."""
    if not attached():
        return 99, 99
    try:
        dbm = wifi.sta.status("rssi")
    except OSError:
        return 99, 99
    return max(0, min(31, (dbm + 113) // 2)), 99


# ---- identity ------------------------------------------------------------------------------------
def e_cgmr(at):
    info(at, VERSION)


def e_cgsn(at):
    info(at, imei())


def e_gsn(at):
    info(at, imei())


def e_cimi(at):
    info(at, imsi())


def e_iccid(at):
    info(at, "+ICCID: " + iccid())


def e_ccid(at):
    info(at, iccid())


# ---- SIM and radio -------------------------------------------------------------------------------
def q_cpin(at):
    info(at, "+CPIN: READY")


def e_csq(at):
    info(at, "+CSQ: %d,%d" % csq())


def q_creg(at):
    info(at, "+CREG: 0,%d" % _reg_stat())


def q_cgreg(at):
    info(at, "+CGREG: 0,%d" % _reg_stat())


def q_cereg(at):
    info(at, "+CEREG: 0,%d" % _reg_stat())


def q_cgatt(at):
    info(at, "+CGATT: %d" % attached())


# ---- the bearer (AT+SAPBR) -----------------------------------------------------------------------
OPENED, CLOSED = 1, 3  # <status> of AT+SAPBR=2: 0 connecting, 1 connected, 2 closing, 3 closed
TAGS = ("CONTYPE", "APN", "USER", "PWD", "PHONENUM", "RATE")
_bearers = [CLOSED, CLOSED, CLOSED]  # status by cid 1..3
_params = [{}, {}, {}]  # AT+SAPBR=3 tags by cid

p_sapbr = (num(0, 4), num(1, 3, True), text(16, opt=True), text(50, opt=True))


def s_sapbr(at, cmd_type, cid, tag, value):
    """AT+SAPBR=<cmd_type>,<cid>[,<tag>,<value>]: 0 close, 1 open, 2 query, 3 set a parameter. An empty
    <cid> is 1 (Luat's examples write AT+SAPBR=3,,"APN","")."""
    cid = cid or 1
    i = cid - 1
    if cmd_type == 3:
        if tag is None or tag.upper() not in TAGS:
            raise AtError(CME_PARAM)
        _params[i][tag.upper()] = value or ""
        return None
    if tag is not None or value is not None:
        raise AtError(CME_PARAM)
    if cmd_type == 1:
        if _bearers[i] == OPENED or not attached():
            raise AtError(CME_NOT_ALLOWED)
        _bearers[i] = OPENED
        wifi.subscribe(_on_link)
    elif cmd_type == 0:
        if _bearers[i] != OPENED:
            raise AtError(CME_NOT_ALLOWED)
        _bearers[i] = CLOSED
    elif cmd_type == 2:
        ip = wifi.station_ip() if _bearers[i] == OPENED else "0.0.0.0"
        info(at, "+SAPBR: %d,%d,%s" % (cid, _bearers[i], _padded(ip)))
    else:
        raise AtError(CME_NOT_SUPPORTED)  # 4: read the parameters back (not emulated)
    return None


def _padded(ip):
    """The module's address form: each part zero-padded to three digits (010.169.179.213)."""
    return ".".join(["%03d" % int(p) for p in ip.split(".")])


def _on_link(at, state):
    """Wi-Fi gone: the open bearers are deactivated, as the network would drop the PDP context."""
    if state == wifi.GOT_IP:
        return
    for i in range(3):
        if _bearers[i] == OPENED:
            _bearers[i] = CLOSED
            at.urc(b"\r\n+SAPBR %d: DEACT\r\n" % (i + 1))
