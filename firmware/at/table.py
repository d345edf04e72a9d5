"""The one command table: (name, family module, forms, help), sorted by name for binary search.

Names are what follows ``AT`` in upper case. A family module ``cmds.<family>`` implements each form
as ``t_<name>`` (=?), ``q_<name>`` (?), ``s_<name>`` (=...) with its parameter spec ``p_<name>``,
and ``e_<name>`` (execute), where <name> is the command name in lower case without '+'.
"""
from at.parser import TEST as T, QUERY as Q, SET as S, EXEC as E, LOOSE as L

TABLE = (
    ("", "basic", E, "test AT startup"),
    ("+CMD", "basic", Q, "list all commands and their forms"),
    ("+FS", "basic", S, "filesystem: delete, write, read, size, list"),
    ("+GCMR", "system", T | E | L, "software, hardware version and build time"),
    ("+GMR", "basic", E, "version information"),
    ("+GSLP", "basic", S, "deep-sleep for <time> ms"),
    ("+IDEFAULT", "system", T | E | L, "factory reset and restart"),
    ("+IHELP", "system", T | E | L, "list the supported commands"),
    ("+IREBOOT", "system", T | E | L, "restart the module"),
    ("+RESTORE", "basic", E, "factory reset and restart"),
    ("+RFPOWER", "basic", Q | S, "Wi-Fi TX power"),
    ("+RST", "basic", E, "restart the module"),
    ("+SLEEP", "basic", Q | S, "sleep mode"),
    ("+SYSFLASH", "basic", Q | S, "erase, write, read user partitions"),
    ("+SYSLOG", "basic", Q | S, "print ERR CODE before ERROR"),
    ("+SYSMSG", "basic", Q | S, "system message format"),
    ("+SYSRAM", "basic", Q, "free heap and minimum free heap"),
    ("+SYSSTORE", "basic", Q | S, "save configuration to flash or not"),
    ("+UART", "basic", Q | S, "UART configuration, saved to flash"),
    ("+UART_CUR", "basic", Q | S, "UART configuration, not saved"),
    ("+UART_DEF", "basic", Q | S, "UART configuration, saved to flash"),
    ("E0", "basic", E, "echo off"),
    ("E1", "basic", E, "echo on"),
)


def find(name):
    """The table entry for ``name``, or None."""
    lo, hi = 0, len(TABLE)
    while lo < hi:
        mid = (lo + hi) >> 1
        key = TABLE[mid][0]
        if key == name:
            return TABLE[mid]
        if key < name:
            lo = mid + 1
        else:
            hi = mid
    return None


def handler_name(name):
    """'+UART_CUR' -> 'uart_cur'; the bare 'AT' -> 'at'."""
    return name.replace("+", "").lower() or "at"
