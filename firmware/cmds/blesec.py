"""esp-at's BLE security (seed 004 §6.2.31-6.2.37) as far as MicroPython's pairing API reaches.

AT+BLESECPARAM maps to config(bond=, mitm=, le_secure=, io=) (current esp-at's auth_req bits: 1 bond,
4 MITM, 8 secure connections); NimBLE's key size (16) and key distribution (encryption and identity keys,
3) are fixed, so other values answer ERROR. AT+BLEENC starts pairing (gap_pair), +BLEAUTHCMPL reports the
outcome. A passkey to show comes as +BLESECNTFYKEY; a passkey to type in as +BLESECKEYREQ (its name is
not in esp-at's docs) answered with AT+BLEKEYREPLY; a number to compare as +BLESECNTFYCONFIRM (likewise)
answered with AT+BLECONFREPLY. NimBLE accepts pairing requests by itself: AT+BLEENCRSP answers ERROR.
Bonds are the secrets NimBLE hands Python (_IRQ_SET_SECRET), kept in NVS across restarts.
"""
import os
from at.compat import const
from at.parser import AtError, num, E_EXEC, E_INVALID
from cmds import ble

_ENCRYPTION_UPDATE = const(28)
_GET_SECRET = const(29)
_SET_SECRET = const(30)
_PASSKEY_ACTION = const(31)
_INPUT = const(2)
_DISPLAY = const(3)
_NUMCMP = const(4)
_PEER_SEC = const(2)  # NimBLE's store type of a peer's keys: one per bonded device
MAX_SECRETS = const(30)  # 15 bonds, each our keys and the peer's
_KEY = "blesec%d"
_AUTH = (0, 1, 4, 5, 8, 9, 12, 13)

secparam = [0, 3, 16, 3, 3]  # auth_req, iocap, key size, initiator keys, responder keys
_secrets = None  # [[sec_type, key, value], ...] oldest first, as kept in NVS
_at = None


def attach(at):
    """Listen for the security events (the GAP part calls this on the first one)."""
    global _at
    _at = at
    ble.listen(_ENCRYPTION_UPDATE, _on_encryption)
    ble.listen(_GET_SECRET, _on_get_secret)
    ble.listen(_SET_SECRET, _on_set_secret)
    ble.listen(_PASSKEY_ACTION, _on_passkey)


# ---- the bond store -------------------------------------------------------------------------------------
def _load():
    global _secrets
    if _secrets is None:
        _secrets = []
        for i in range(MAX_SECRETS):
            raw = _at.store.get_bytes(_KEY % i)
            if raw:
                n = raw[1]
                _secrets.append([raw[0], bytes(raw[2 : 2 + n]), bytes(raw[2 + n :])])
    return _secrets


def _save():
    secrets = _load()
    for i in range(MAX_SECRETS):
        if i < len(secrets):
            t, key, value = secrets[i]
            _at.store.put_bytes(_KEY % i, bytes((t, len(key))) + key + value)
        else:
            _at.store.erase(_KEY % i)


def _on_get_secret(data):
    sec_type, index, key = data[0], data[1], data[2]
    found = [s for s in _load() if s[0] == sec_type]
    if key is None:
        return found[index][2] if index < len(found) else None
    key = bytes(key)
    for s in found:
        if s[1] == key:
            return s[2]
    return None


def _on_set_secret(data):
    sec_type, key, value = data[0], bytes(data[1]), data[2]
    secrets = _load()
    secrets[:] = [s for s in secrets if not (s[0] == sec_type and s[1] == key)]
    if value is not None:
        if len(secrets) >= MAX_SECRETS:
            secrets.pop(0)  # the oldest bond goes, as esp-at overwrites it
        secrets.append([sec_type, key, bytes(value)])
    _save()
    return True


def _bonds():
    """The bonded peers' addresses, oldest first (a NimBLE key: address type, then the address LSB first)."""
    return [bytes(reversed(s[1][1:7])) for s in _load() if s[0] == _PEER_SEC and len(s[1]) == 7]


# ---- events -------------------------------------------------------------------------------------------------
def _on_encryption(data):
    index = ble.index_of(data[0])
    if index >= 0:
        ble.urc(b"+BLEAUTHCMPL:%d,%d\r\n" % (index, 0 if data[1] else 1))


def _on_passkey(data):
    index = ble.index_of(data[0])
    if index < 0:
        return
    action = data[1]
    if action == _DISPLAY:
        key = int.from_bytes(os.urandom(4), "little") % 1000000
        ble.radio.gap_passkey(data[0], _DISPLAY, key)
        ble.urc(b"+BLESECNTFYKEY:%d,%06d\r\n" % (index, key))
    elif action == _INPUT:
        ble.urc(b"+BLESECKEYREQ:%d\r\n" % index)
    elif action == _NUMCMP:
        ble.urc(b"+BLESECNTFYCONFIRM:%d,%06d\r\n" % (index, data[2]))


# ---- commands ---------------------------------------------------------------------------------------------
def q_blesecparam(at):
    ble.require(1, 2, 3)
    at.reply("+BLESECPARAM:%d,%d,%d,%d,%d" % tuple(secparam))


p_blesecparam = (num(0, 15), num(0, 4), num(7, 16), num(0, 15), num(0, 15), num(0, 1, True))


def s_blesecparam(at, auth, iocap, key_size, init_key, rsp_key, auth_option):
    """Before a connection. Key size 16 and keys 3 only (NimBLE's); auth_option (current) 0 only."""
    ble.require(1, 2, 3)
    if any(ble.links):
        raise AtError(E_EXEC)
    if auth not in _AUTH or key_size != 16 or init_key != 3 or rsp_key != 3 or auth_option:
        raise AtError(E_INVALID)
    attach(at)
    ble.radio.config(bond=bool(auth & 1), mitm=bool(auth & 4), le_secure=bool(auth & 8), io=iocap)
    secparam[:] = [auth, iocap, key_size, init_key, rsp_key]
    return None


p_bleenc = (num(0, ble.MAX_LINKS - 1), num(0, 3))


def s_bleenc(at, index, sec_act):
    """OK at once; +BLEAUTHCMPL when pairing (or encryption with a bond) is done."""
    ble.require(1, 2, 3)
    link = ble.link(index)
    attach(at)
    if sec_act == 0:
        raise AtError(E_INVALID)  # "no security" is not something to start
    try:
        ble.radio.gap_pair(link.handle)
    except OSError:
        raise AtError(E_EXEC)
    return None


p_bleencrsp = (num(0, ble.MAX_LINKS - 1), num(0, 1))


def s_bleencrsp(at, index, accept):
    """NimBLE answers a pairing request itself; MicroPython has no hook to accept or reject: ERROR."""
    raise AtError(E_EXEC)


p_blekeyreply = (num(0, ble.MAX_LINKS - 1), num(0, 999999))


def s_blekeyreply(at, index, key):
    return _passkey(index, _INPUT, key)


p_bleconfreply = (num(0, ble.MAX_LINKS - 1), num(0, 1))


def s_bleconfreply(at, index, confirm):
    return _passkey(index, _NUMCMP, confirm)


def _passkey(index, action, value):
    """Answer the pairing of link ``index``: a passkey typed in, or a numeric comparison confirmed."""
    ble.require(1, 2, 3)
    try:
        ble.radio.gap_passkey(ble.link(index).handle, action, value)
    except OSError:
        raise AtError(E_EXEC)
    return None


def q_bleencdev(at):
    ble.require(1, 2, 3)
    attach(at)
    for i, addr in enumerate(_bonds()):
        at.reply('+BLEENCDEV:%d,"%s"' % (i, ble.mac_text(addr)))


p_bleencclear = (num(0, 14),)


def s_bleencclear(at, index):
    ble.require(1, 2, 3)
    attach(at)
    bonds = _bonds()
    if index >= len(bonds):
        raise AtError(E_INVALID)
    addr = bonds[index]
    secrets = _load()
    secrets[:] = [s for s in secrets if bytes(reversed(s[1][1:7])) != addr]
    _save()
    return None


def e_bleencclear(at):
    ble.require(1, 2, 3)
    attach(at)
    _load().clear()
    _save()
    return None
