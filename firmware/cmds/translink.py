"""AT+SAVETRANSLINK (esp-at 2.x, TCP-IP_AT_Commands): the passthrough link opened at power-up.

Apart from cmds/tcpip.py so that a module with no such link saved boots without importing the TCP/IP
family: its boot hook is the only one a power-up needs from it, and only when a link is saved.
"""
from at.parser import AtError, num, text, E_INVALID


def p_savetranslink():
    """AT+SAVETRANSLINK=<mode>,<host>,<port>[,"TCP"|"SSL",<keepalive>] or [,"UDP",<UDP local port>]"""
    return (num(0, 1), text(128, 1, True), num(1, 65535, True), text(3, 3, True), num(0, 65535, True))


def s_savetranslink(at, mode, host, port, kind, extra):
    """Always saved. Mode 1: at power-up, once the station has an address, open the link and pass through."""
    if mode == 0:
        at.store.erase("translink")
        return None
    kind = kind or "TCP"
    if host is None or port is None or kind not in ("TCP", "UDP", "SSL") or (kind != "UDP" and (extra or 0) > 7200):
        raise AtError(E_INVALID)
    at.store.put_bytes("translink", "%s,%d,%d,%s" % (kind, port, extra or 0, host))


def boot(at):
    saved = at.store.get_str("translink")
    if saved:
        from cmds import tcpip  # imported here: it opens the saved link

        tcpip.start_saved(at, saved)
