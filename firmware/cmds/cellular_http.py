"""The cellular profile's HTTP client (AT+HTTPINIT ... AT+HTTPTERM, reference cellular-air724.md §2.2) on
net/http, over Wi-Fi.

AT+HTTPACTION answers OK at once; the request runs beside the commands and ends with the URC
``+HTTPACTION: <method>,<status>,<length>``, where <status> is the server's, or one of the module's codes
when there is no HTTP answer: 601 network error (no Wi-Fi, refused, timed out), 602 no memory (a body
larger than BODY_MAX), 603 DNS error, 605 SSL setup failed (the server's certificate did not verify),
600 not an HTTP response. The body is kept for AT+HTTPREAD until the next action or AT+HTTPTERM.
HTTPS servers must chain to the clouds' CA (net/pki.cloud_context: the emulator's --ca).
"""
from at import replies
from at.compat import print_exc
from at.parser import AtError, num, text
from cmds import cellular
from cmds.cellular import CME_NOT_ALLOWED, CME_NOT_SUPPORTED, CME_PARAM, CME_EXE_FAIL
from net import http, pki

DATA_MAX = 3356  # AT+HTTPDATA's largest body (the module's AT build)
BODY_MAX = 8192  # the largest response body kept for AT+HTTPREAD
REDIRECTS_MAX = 5
NETWORK_ERROR, NO_MEMORY, DNS_ERROR, SSL_FAILED, NOT_HTTP = 601, 602, 603, 605, 600
DOWNLOAD = b"\r\nDOWNLOAD\r\n"
ERRORS = replies.cme_spaced


class Session:
    """What AT+HTTPINIT starts: the AT+HTTPPARA values, the AT+HTTPDATA body, the last response."""

    def __init__(self):
        self.cid = 1
        self.url = ""
        self.ua = "AM_MODULE"
        self.redir = 0
        self.brk = 0
        self.brkend = 0
        self.timeout = 120  # s
        self.content = ""
        self.headers = []  # USER_DEFINED: "Name: value" lines, in order
        self.userdata = ""
        self.data = None  # AT+HTTPDATA's bytes
        self.body = None  # the last response's body (bytes)
        self.running = False


session = None


def _session(idle=True):
    if session is None or (idle and session.running):
        raise AtError(CME_NOT_ALLOWED)
    return session


def e_httpinit(at):
    global session
    if session is not None:
        raise AtError(CME_NOT_ALLOWED)
    session = Session()


def e_httpterm(at):
    """Ends the HTTP service; an action under way is abandoned (its URC never comes)."""
    global session
    _session(False)
    session = None


# ---- parameters ------------------------------------------------------------------------------------
p_httppara = (text(16, 1), text(500, opt=True))


def _int(value, lo, hi):
    if not value or not value.isdigit() or not lo <= int(value) <= hi:
        raise AtError(CME_PARAM)
    return int(value)


def s_httppara(at, tag, value):
    """AT+HTTPPARA=<tag>,<value>: the tags of the module's manual."""
    s = _session()
    tag = tag.upper()
    value = "" if value is None else value
    if tag == "URL":
        if "://" not in value:
            value = "http://" + value  # the module takes a bare host/path as http
        try:
            http.parse_url(value)
        except ValueError:
            raise AtError(CME_PARAM)
        s.url = value
    elif tag == "CID":
        s.cid = _int(value, 1, 3)
    elif tag == "UA":
        s.ua = value
    elif tag == "REDIR":
        s.redir = _int(value, 0, 1)
    elif tag == "BREAK":
        s.brk = _int(value, 0, 0x7FFFFFFF)
    elif tag == "BREAKEND":
        s.brkend = _int(value, 0, 0x7FFFFFFF)
    elif tag == "TIMEOUT":
        s.timeout = _int(value, 1, 1000)
    elif tag == "CONTENT":
        s.content = value
    elif tag == "USER_DEFINED":
        if not value:
            s.headers = []  # an empty value clears the headers added so far
        elif ":" not in value:
            raise AtError(CME_PARAM)
        else:
            s.headers.append(value)
    elif tag == "USERDATA":
        s.userdata = value
    elif tag in ("PROIP", "PROPORT"):
        if value not in ("0.0.0.0", "0", ""):
            raise AtError(CME_NOT_SUPPORTED)  # no HTTP proxy in net/http
    else:
        raise AtError(CME_PARAM)


def q_httppara(at):
    s = _session(False)
    cellular.info(at, "\r\n".join(("+HTTPPARA: ", "CID: %d" % s.cid, "URL: " + s.url, "UA: " + s.ua,
                                    "PROIP: 0.0.0.0", "PROPORT: 0", "REDIR: %d" % s.redir, "BREAK: %d" % s.brk,
                                    "BREAKEND: %d" % s.brkend, "TIMEOUT: %d" % s.timeout,
                                    "CONTENT:" + s.content, "USERDATA: " + s.userdata)))


# ---- the body to send ------------------------------------------------------------------------------
p_httpdata = (num(0, DATA_MAX), num(1000, 120000))


def s_httpdata(at, size, time_ms):
    """AT+HTTPDATA=<size>,<time>: DOWNLOAD, then exactly <size> bytes within <time> ms, then OK."""
    s = _session()
    return _download(at, s, size, time_ms)


def _download(at, s, size, time_ms):
    data = yield from at.receive(size, time_ms, DOWNLOAD)
    if data is None:
        raise AtError(CME_EXE_FAIL)
    s.data = bytes(data)
    return None


# ---- the request -----------------------------------------------------------------------------------
p_httpaction = (num(0, 2),)


def s_httpaction(at, method):
    """AT+HTTPACTION=<0 GET, 1 POST, 2 HEAD>: OK now, +HTTPACTION: <method>,<status>,<length> later."""
    s = _session()
    if not s.url:
        raise AtError(CME_NOT_ALLOWED)
    s.running = True
    s.body = None
    at.spawn(_action(at, s, method))


def _action(at, s, method):
    try:
        status, body = yield from _exchange(s, method)
    except Exception as e:  # whatever went wrong, the service must not stay busy and the URC must come
        print_exc(e)
        status, body = NETWORK_ERROR, b""
    s.running = False
    if s is not session:
        return  # AT+HTTPTERM came meanwhile
    s.body = body
    at.urc(b"\r\n+HTTPACTION: %d,%d,%d\r\n" % (method, status, len(body)))


def _headers(s, method):
    headers = []
    for line in s.headers + [h for h in s.userdata.split("\\r\\n") if h]:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    if s.content:
        headers.append(("Content-Type", s.content))
    if method == 0 and (s.brk or s.brkend):
        headers.append(("Range", "bytes=%d-%s" % (s.brk, s.brkend or "")))
    return headers


def _exchange(s, method):
    """Generator: (status, body bytes) of the request; the module's 6xx codes when there is no answer."""
    if not cellular.attached():
        return NETWORK_ERROR, b""
    url = s.url
    for _ in range(REDIRECTS_MAX + 1):
        try:
            tls = http.parse_url(url)[0]
            ctx = pki.cloud_context() if tls else None
            if tls and ctx is None:
                return SSL_FAILED, b""
            conn = yield from http.connect(url, s.timeout * 1000, ctx)
        except http.DnsError:
            return DNS_ERROR, b""
        except http.TlsError:
            return SSL_FAILED, b""
        except (OSError, ValueError):
            return NETWORK_ERROR, b""
        try:
            resp = yield from conn.request(("GET", "POST", "HEAD")[method], http.parse_url(url)[3],
                                           _headers(s, method), s.data if method == 1 else None, s.ua)
            location = resp.headers.get("location")
            if s.redir and resp.status in (301, 302, 303, 307, 308) and location:
                url = location if "://" in location else "/".join(url.split("/", 3)[:3]) + location
                continue
            body = yield from _read_body(resp)
            return resp.status, body
        except http.HttpError:
            return NOT_HTTP, b""
        except MemoryError:
            return NO_MEMORY, b""
        except OSError:
            return NETWORK_ERROR, b""
        finally:
            conn.close()
    return NOT_HTTP, b""


def _read_body(resp):
    """Generator: the whole body as bytes; MemoryError when it is larger than BODY_MAX."""
    if resp.length is not None and resp.length > BODY_MAX:
        raise MemoryError
    buf = bytearray(BODY_MAX if resp.length is None else resp.length)
    mv = memoryview(buf)
    got = 0
    while True:
        if got == len(buf):
            extra = yield from resp.readinto(bytearray(1))
            if extra:
                raise MemoryError
            return bytes(buf)
        n = yield from resp.readinto(mv[got:])
        if not n:
            return bytes(buf[:got])
        got += n


# ---- reading the response --------------------------------------------------------------------------
def e_httpread(at):
    s = _session()
    if s.body is None:
        raise AtError(CME_NOT_ALLOWED)
    return _read(at, s.body, 0, len(s.body))


p_httpread = (num(0, BODY_MAX), num(1, BODY_MAX))


def s_httpread(at, start, size):
    """AT+HTTPREAD=<start>,<size>: up to <size> bytes of the body from <start>."""
    s = _session()
    if s.body is None or start > len(s.body):
        raise AtError(CME_NOT_ALLOWED)
    return _read(at, s.body, start, min(size, len(s.body) - start))


def _read(at, body, start, n):
    """+HTTPREAD: <n>, the bytes, then OK."""
    at.write(b"\r\n+HTTPREAD: %d\r\n" % n)
    at.write(body[start : start + n])
    return None
