"""Alibaba Cloud IoT module (seed 000 §5.11): AT+HTTPC, one HTTP(S) request whose reply body comes back as
``+HTTPC:<len>,<body>`` (the body raw, on one line) before OK.

    AT+HTTPC=<opt>,<content-type>,<url>[,<data>]
    <opt> 0 GET, 1 POST (<data> is the body; a GET ignores it, as the manual's example passes 0)
    <content-type> 0 application/x-www-form-urlencoded, 1 application/json, 2 multipart/form-data,
                   3 text/xml (esp-at's AT+HTTPCLIENT numbering), sent with a POST
    <url> http://…, https://… (verified against the clouds' CA, net/pki.cloud_context), or host[:port][/path]
          for plain HTTP as the manual writes it

Whatever the status, the body is what the server sent; a body longer than BODY_MAX is not printed:
+CME ERROR:8. No network: 1; no connection (DNS, TCP, TLS): 2; not an HTTP answer or a timeout: 7.
"""
from at import replies
from at.parser import AtError, num, tail, text
from cmds import aliyun, wifi
from net import http, pki

ERRORS = replies.cme
E_HTTP = 7
E_TOO_LARGE = 8
BODY_MAX = 4096
TIMEOUT_MS = 10000
CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/json", "multipart/form-data", "text/xml")

p_httpc = (num(0, 1), num(0, 3), text(512, 1), tail(BODY_MAX, opt=True))


def s_httpc(at, opt, ctype, url, data):
    if "://" not in url:
        url = "http://" + url
    try:
        tls = http.parse_url(url)[0]
    except ValueError:
        raise AtError(aliyun.E_CONNECT)
    if not wifi.station_up():
        raise AtError(aliyun.E_NETWORK)
    return _request(at, url, tls, opt, ctype, data)


def _request(at, url, tls, opt, ctype, data):
    """Generator: the request, then +HTTPC:<len>,<body> (OK follows)."""
    ctx = pki.cloud_context() if tls else None
    if tls and ctx is None:
        raise AtError(aliyun.E_CONNECT)
    try:
        conn = yield from http.connect(url, TIMEOUT_MS, ctx)
    except (OSError, ValueError):
        raise AtError(aliyun.E_CONNECT)
    try:
        if opt == 1:
            resp = yield from conn.request("POST", http.parse_url(url)[3], (("Content-Type", CONTENT_TYPES[ctype]),),
                                           (data or "").encode())
        else:
            resp = yield from conn.get(http.parse_url(url)[3])
        if resp.length is not None and resp.length > BODY_MAX:
            raise AtError(E_TOO_LARGE)
        buf = bytearray(BODY_MAX + 1)
        mv = memoryview(buf)
        got = 0
        while got <= BODY_MAX:
            n = yield from resp.readinto(mv[got:])
            if not n:
                break
            got += n
        if got > BODY_MAX:
            raise AtError(E_TOO_LARGE)
    except (http.HttpError, OSError):
        raise AtError(E_HTTP)
    finally:
        conn.close()
    at.write(b"+HTTPC:%d," % got + buf[:got] + b"\r\n")  # one write: the line whole
