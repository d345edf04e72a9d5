"""How a command answers, by profile: the final lines every family shares and the error formats a family
chooses from (its module's ``ERRORS``). Knows no vendor: the formats are esp-at's and 3GPP's.

A family module sets ``ERRORS = replies.cme`` (or any function ``f(at, code)``) to answer its AtErrors that
way; families without ``ERRORS`` answer as esp-at does. ``code`` is what the handler raised (the family's own
number) or, for a line the parser refused, one of at.parser's esp-at codes (0x01xxxxxx), which a family maps
to its own "bad parameter" number if its manual has one.
"""
from at.compat import const
from at.parser import AtError

DONE = const(1)  # a handler's result: it wrote its own final line

OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
PARSER_CODES = const(0x01000000)  # codes at or above this come from the parser (esp-at's ERR CODE numbers)


def espat(at, code):
    """esp-at: ``ERR CODE:0x<code>`` when AT+SYSLOG=1, then ERROR."""
    if at.syslog:
        at.write(b"ERR CODE:0x%08x\r\n" % code)
    at.write(ERROR)


def cme(at, code):
    """``+CME ERROR:<n>`` (the Alibaba and Tencent modules); a parser code is answered as ERROR."""
    at.write(ERROR if code >= PARSER_CODES else b"\r\n+CME ERROR:%d\r\n" % code)


def cme_spaced(at, code):
    """``+CME ERROR: <n>`` with its space (cellular modules); a parser code is answered as ERROR."""
    at.write(ERROR if code >= PARSER_CODES else b"\r\n+CME ERROR: %d\r\n" % code)


def ok_then(at, name, work):
    """Generator for a handler: ``OK`` at once, then run ``work`` (a generator returning None on success or
    an error number, or raising AtError) and end the command with ``+<name>:OK`` or ``+<name>:FAIL,<err>``.
    The module answers ``busy p...`` meanwhile, so the result never lands in the next command's answer."""
    at.write(OK)
    try:
        err = yield from work
    except AtError as e:
        err = e.code
    if err is None:
        at.write(("+%s:OK\r\n" % name).encode())
    else:
        at.write(("+%s:FAIL,%d\r\n" % (name, err)).encode())
    return DONE
