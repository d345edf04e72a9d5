"""Tencent Cloud IoT AT commands (seed 001, V3.1.2; the certificate commands of V3.2.x): device, product and
module information, the MQTT server, certificate files.

Every setting is saved as one store record (a power cut keeps the old or the new one). The secrets are never
printed: queries answer their BCC (§1.2). A set command answers ``OK`` then ``+TC<name>:OK`` or
``+TC<name>:FAIL,<err>``; a refusal is ``+CME ERROR:<err>`` with §7.2's numbers. The MQTT commands live in
cmds/tencentmqtt.py, which reads the device information through ``device(at)``, ``server(at)`` and
``cert_pair(name)``. cloud/tencent.py comes with the queries that print its checksum or host name: the
settings need none of it.
"""
import binascii
import os
import sys
import boardcfg
from at import replies
from at.compat import ticks_ms, ticks_diff
from at.parser import AtError, num, text
from at.replies import DONE, OK

ERRORS = replies.cme

# §7.2
E_TIMEOUT = 202
E_CHECK = 203
E_PARAM = 204
E_NO_FIRMWARE = 205
E_FLASH = 207
E_STATE = 208
E_EXEC = 209

VERSION = "3.1.2"  # the AT manual this profile follows
CERT_MAX = 4096  # AT+TCCERTADD's largest file (V3.2.x: CERT_SIZE (1-4096))
SANE_TIME = 1600000000  # a clock below this (2020-09) was never set
CERT_PREFIX = "tc_"  # certificate files live in the filesystem as tc_<name>
_DEV = "tc_dev"  # [tls, product id, device name, secret or certificate name]
_PRD = "tc_prd"  # [tls, product id, product secret, device name]
_MOD = "tc_mod"  # AT+TCMODINFOSET's seven values
_SRV = "tc_srv"  # AT+TCMQTTSRV's address
FW_RECORD = "tc_fw"  # the OTA image cached in the OTA partition (cmds/tencentota.py)
MODULE_DEFAULT = ("ESP32-" + boardcfg.MODULE, 4, 2, 0x111000, 0x112000, 0x100000, 1)


def _loaded(name):
    mod = sys.modules.get("cmds." + name)
    return mod is not None and mod.active()


def mqtt_connected():
    """The Tencent MQTT connection is up (or being repaired)."""
    return _loaded("tencentmqtt")


def ota_running():
    """An OTA download is under way."""
    return _loaded("tencentota")


def settle(at):
    """Refuse a setting while MQTT is connected or OTA runs (§2.1: +CME ERROR)."""
    if mqtt_connected() or ota_running():
        raise AtError(E_STATE)


def done(at, name, err=None):
    """``OK``, then ``+<name>:OK`` or ``+<name>:FAIL,<err>``, for a setting made at once."""
    at.write(OK)
    at.reply("+%s:OK" % name if err is None else "+%s:FAIL,%d" % (name, err))
    return DONE


def now(budget_ms):
    """Generator: Unix seconds now. When the clock was never set, the NTP servers the module knows
    (AT+CIPSNTPCFG's, by default cn.ntp.org.cn, ntp.sjtu.edu.cn, us.pool.ntp.org) are asked, for at most
    ``budget_ms``, and the clock is set; None when none answered. Signatures carry the time."""
    from cmds import netutil  # imported here (with net.sntp, net.transport): only a connection or a
    from net import sntp, transport  # registration needs them

    t = netutil.clock()
    if t >= SANE_TIME:
        return t
    start = ticks_ms()
    for host in netutil.servers:
        left = budget_ms - ticks_diff(ticks_ms(), start)
        if left < 200:
            break
        try:
            addr = transport.resolve(host, sntp.PORT)[2]
        except OSError:
            continue
        got = yield from sntp.query(addr, min(1000, left), 1)
        if got is not None and got[0] >= SANE_TIME:
            netutil.set_clock(got[0], got[1])
            return got[0]
    return None


def _text(fields, i):
    return fields[i].decode()


# ---- device information (§2.1) ------------------------------------------------------------------
def device(at):
    """(tls mode, product id, device name, secret or certificate name), or None when never set."""
    rec = at.store.get_record(_DEV, 4)
    if rec is None:
        return None
    return int(rec[0]), _text(rec, 1), _text(rec, 2), _text(rec, 3)


def set_device(at, tls, pid, dev, secret):
    """Save the device information (AT+TCDEVINFOSET, or a successful AT+TCDEVREG)."""
    at.store.put_record(_DEV, (tls, pid, dev, secret))


def q_tcdevinfoset(at):
    from cloud import tencent

    info = device(at)
    if info is None:
        raise AtError(E_STATE)
    tls, pid, dev, secret = info
    if tls == 2:
        at.reply('+TCDEVINFOSET:2,"%s","%s","%s"' % (pid, dev, secret))
    else:
        at.reply('+TCDEVINFOSET:%d,"%s","%s",%d' % (tls, pid, dev, tencent.bcc(secret)))


p_tcdevinfoset = (num(0, 2), text(10, 1), text(48, 1), text(64, 1))


def s_tcdevinfoset(at, tls, pid, dev, secret):
    """Mode 0/1: the base64 device secret (at most 44 characters); mode 2: the certificate file's name (its
    key is the file of the same name ending .key)."""
    settle(at)
    if tls == 2:
        if _cert_path(secret) is None:
            raise AtError(E_PARAM)
    elif len(secret) > 44 or not _base64(secret):
        raise AtError(E_PARAM)
    set_device(at, tls, pid, dev, secret)
    return done(at, "TCDEVINFOSET")


def _base64(s):
    try:
        return len(binascii.a2b_base64(s)) > 0
    except ValueError:
        return False


# ---- product information (§2.2) -----------------------------------------------------------------
def product(at):
    """(tls mode, product id, product secret, device name), or None when never set."""
    rec = at.store.get_record(_PRD, 4)
    if rec is None:
        return None
    return int(rec[0]), _text(rec, 1), _text(rec, 2), _text(rec, 3)


def q_tcprdinfoset(at):
    from cloud import tencent

    info = product(at)
    if info is None:
        raise AtError(E_STATE)
    tls, pid, secret, dev = info
    at.reply('+TCPRDINFOSET:%d,"%s",%d,"%s"' % (tls, pid, tencent.bcc(secret), dev))


p_tcprdinfoset = (num(0, 2), text(10, 1), text(32, 1), text(48, 1))


def s_tcprdinfoset(at, tls, pid, secret, dev):
    settle(at)
    at.store.put_record(_PRD, (tls, pid, secret, dev))
    return done(at, "TCPRDINFOSET")


# ---- module information (§2.4, §6.5, §6.7) ------------------------------------------------------
def module(at):
    """AT+TCMODINFOSET's values: (name, flash MB, LED GPIO, firmware info address, firmware base address,
    largest firmware, fixed connid)."""
    rec = at.store.get_record(_MOD, 7)
    if rec is None:
        return MODULE_DEFAULT
    return (_text(rec, 0),) + tuple([int(v) for v in rec[1:]])


def e_tcmodule(at):
    name, flash = module(at)[:2]
    at.reply("Module HW name: %s" % name)
    at.reply("Module FW version: QCloud_AT_v%s_upy-at_ESP32" % VERSION)
    at.reply("Module Mac addr: %s" % at.family("wifi").station_mac())
    at.reply("Module FW compiled time: %s" % boardcfg.BUILD)
    at.reply("Module Flash size: %dMB" % flash)


def q_tcmodinfoset(at):
    at.reply('+TCMODINFOSET:"%s",%d,%d,%d,%d,%d,%d' % module(at))


p_tcmodinfoset = (text(30, 1), num(1, 16), num(0, 39), num(0, 0x7FFFFFFF), num(0, 0x7FFFFFFF),
                  num(131072, 0x7FFFFFFF), num(0, 1))


def s_tcmodinfoset(at, name, flash, led, info_addr, base_addr, max_size, connid):
    """Saved; AT+TCMODULE shows the name and flash size, AT+TCFWINFO? the largest firmware. The image
    itself goes to the OTA partition, so the two addresses are only kept and shown (README)."""
    settle(at)
    if info_addr % 0x1000 or base_addr % 0x1000 or info_addr < 0x111000 or base_addr < 0x111000:
        raise AtError(E_PARAM)
    at.store.put_record(_MOD, (name, flash, led, info_addr, base_addr, max_size, connid))
    return done(at, "TCMODINFOSET")


def e_tcver(at):
    at.reply("Tencent Cloud IoT SDK version: upy-at cloud/tencent (C SDK 3.x protocol)")
    at.reply("Tencent Cloud IoT AT version: AT_v%s_ESP32_upy-at" % VERSION)
    at.reply("Firmware compile time: %s" % boardcfg.BUILD)
    at.reply("Tencent Technology Co. Ltd.")


# ---- MQTT server (§6.6) -------------------------------------------------------------------------
def server(at):
    """AT+TCMQTTSRV's address, or None: the product's host name."""
    return at.store.get_str(_SRV)


def q_tcmqttsrv(at):
    from cloud import tencent

    srv = server(at)
    if srv is None:
        info = device(at)
        if info is None:
            raise AtError(E_STATE)
        srv = tencent.mqtt_host(info[1])
    at.reply("+TCMQTTSRV:%s" % srv)


p_tcmqttsrv = (text(15, 7),)


def s_tcmqttsrv(at, ip):
    if mqtt_connected():
        raise AtError(E_STATE)
    try:
        at.family("wifi").parse_ip(ip, 0)
    except AtError:
        raise AtError(E_PARAM)
    at.store.put_bytes(_SRV, ip)
    return done(at, "TCMQTTSRV")


# ---- restore (§2.5) -----------------------------------------------------------------------------
def e_tcrestore(at):
    """Erase the device, product and server records and the cached OTA image's record, then restart."""
    settle(at)
    for key in (_DEV, _PRD, _SRV, FW_RECORD):
        at.store.erase(key)
    at.write(OK)
    at.restart()
    return DONE


# ---- certificate files (V3.2.x) -----------------------------------------------------------------
def _cert_path(name):
    """The file of certificate ``name`` when it exists, else None."""
    path = _cert_file(name)
    try:
        os.stat(path)
        return path
    except OSError:
        return None


def _cert_file(name):
    if "/" in name or name in (".", ".."):
        raise AtError(E_PARAM)
    return boardcfg.FS_ROOT + "/" + CERT_PREFIX + name


def key_name(cert):
    """The key file that goes with certificate ``cert``: the same name ending .key."""
    dot = cert.rfind(".")
    return (cert[:dot] if dot > 0 else cert) + ".key"


def cert_pair(cert):
    """(certificate, key) bytes for TLS mode 2, or None when either file is missing."""
    out = []
    for name in (cert, key_name(cert)):
        path = _cert_path(name)
        if path is None:
            return None
        with open(path, "rb") as f:
            out.append(f.read())
    return out[0], out[1]


def q_tccertadd(at):
    try:
        names = sorted(os.listdir(boardcfg.FS_ROOT))
    except OSError:
        names = ()
    for name in names:
        if name.startswith(CERT_PREFIX):
            at.reply('+TCCERTADD:"%s",%d' % (name[len(CERT_PREFIX):], os.stat(boardcfg.FS_ROOT + "/" + name)[6]))


p_tccertadd = (text(64, 1), num(1, CERT_MAX))


def s_tccertadd(at, name, size):
    """OK and '>', then <size> bytes (20 s), saved as file <name>: +TCCERTADD:OK or FAIL."""
    settle(at)
    return _certadd(at, _cert_file(name), size)


def _certadd(at, path, size):
    data = yield from at.receive(size, 20000)
    if data is None:
        at.reply("+TCCERTADD:FAIL,%d" % E_TIMEOUT)
        return DONE
    try:
        _write(path, data)
    except OSError:
        at.reply("+TCCERTADD:FAIL,%d" % E_FLASH)
        return DONE
    at.reply("+TCCERTADD:OK")
    return DONE


def save_cert(name, data):
    """Write certificate or key file ``name`` (AT+TCDEVREG's answer in certificate mode); OSError."""
    _write(_cert_file(name), data)


def _write(path, data):
    try:
        os.mkdir(boardcfg.FS_ROOT)
    except OSError:
        pass
    with open(path, "wb") as f:
        f.write(data)


p_tccertcheck = (text(64, 1),)


def s_tccertcheck(at, name):
    """+TCCERTCHECK:OK when the file holds one certificate or key, PEM or DER, that decodes whole."""
    path = _cert_path(name)
    if path is None:
        return done(at, "TCCERTCHECK", E_CHECK)
    with open(path, "rb") as f:
        data = f.read().strip()
    if data.startswith(b"-----BEGIN") and b"-----END" not in data:
        return done(at, "TCCERTCHECK", E_CHECK)
    from net import transport  # imported here: the family's other commands need none of it

    try:
        ok = _der_whole(transport.der(data))
    except (ValueError, IndexError):
        ok = False
    return done(at, "TCCERTCHECK", None if ok else E_CHECK)


def _der_whole(d):
    """``d`` is one DER SEQUENCE whose header gives exactly its length."""
    if len(d) < 2 or d[0] != 0x30:
        return False
    n = d[1]
    if n < 0x80:
        return 2 + n == len(d)
    k = n & 0x7F
    return 2 + k + int.from_bytes(d[2 : 2 + k], "big") == len(d)


p_tccertdel = (text(64, 1),)


def s_tccertdel(at, name):
    settle(at)
    path = _cert_path(name)
    if path is None:
        return done(at, "TCCERTDEL", E_CHECK)
    os.remove(path)
    return done(at, "TCCERTDEL")


# ---- SmartConfig provisioning (§6.1-6.2) --------------------------------------------------------
def e_tcstartsmart(at):
    at.family("wifi").unavailable("SmartConfig")


def e_tcstopsmart(at):
    at.family("wifi").unavailable("SmartConfig")
