"""The emulator's ``--resolve PATTERN=ADDR`` (tools/emulate passes them in AT_RESOLVE, separated by spaces):
net/transport.resolve asks ``remap`` first, so the clouds' real host names reach loopback doubles. The chip
has no such module and resolves by DNS.

PATTERN is ``host`` or ``host:port``, ``*`` standing for any run of characters (host names compare without
regard to case); ADDR is ``ip`` or ``ip:port``. The first rule that matches wins; a lookup without a port
(port 0: AT+CIPDOMAIN, AT+PING) matches on the host alone.
"""
import os


def _glob(pattern, text):
    """True when ``text`` matches ``pattern``, where ``*`` matches any run of characters (none too)."""
    p = t = 0
    star = mark = -1
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, mark = p, t
            p += 1
        elif p < len(pattern) and pattern[p] == text[t]:
            p += 1
            t += 1
        elif star >= 0:  # let the last * take one more character
            mark += 1
            p, t = star + 1, mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def _port(text, what):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError("%s: the port must be 1..65535, not %r" % (what, text))
    return int(text)


def parse(rule):
    """``PATTERN=ADDR`` -> (host pattern, port pattern or None, ip, port or None); ValueError when malformed."""
    pattern, sep, addr = rule.partition("=")
    if not sep or not pattern or not addr:
        raise ValueError("--resolve takes PATTERN=ADDR, not %r" % rule)
    host, sep, port = pattern.partition(":")
    if not host or (sep and not port) or not all(c.isalpha() or c.isdigit() or c in "*.-_" for c in host):
        raise ValueError("%s: PATTERN is host or host:port, * a wildcard" % rule)
    if port and port.strip("*") and not port.replace("*", "").isdigit():
        raise ValueError("%s: the port pattern is digits and *" % rule)
    ip, sep, to_port = addr.partition(":")
    parts = ip.split(".")
    if len(parts) != 4 or not all(n.isdigit() and int(n) < 256 for n in parts):
        raise ValueError("%s: ADDR is ip or ip:port, with a dotted IPv4 address" % rule)
    return host.lower(), port or None, ip, _port(to_port, rule) if sep else None


def remap(host, port):
    """(host, port) the firmware should look up and connect to instead of (host, port)."""
    name = host.lower()
    for pattern, port_pattern, ip, to_port in RULES:
        if _glob(pattern, name) and (port_pattern is None or port == 0 or _glob(port_pattern, str(port))):
            return ip, to_port or port
    return host, port


RULES = [parse(rule) for rule in (os.getenv("AT_RESOLVE") or "").split()]
