"""The cellular profile's HTTP commands (reference cellular-air724.md §2.2) against real servers on loopback,
under both interpreters: the seed's device-auth POST to the Aliyun double, GET/HEAD, ranged reads, redirects,
chunked bodies, and the module's 6xx codes when there is no HTTP answer."""
import pytest

import aliyun_auth_double
import peers
from cellular_driver import SEED_BODY, cmd, online, post, seed_double
from cloud_doubles import cloud_pki, emulator_args
from harness import Emulator

AUTH_HOST = aliyun_auth_double.HOST
AUTH_URL = "https://%s%s" % (AUTH_HOST, aliyun_auth_double.PATH)


@pytest.fixture
def double():
    with seed_double() as d:
        yield d


def test_seed_auth_exchange_over_https(interp, test_ca):
    """Seed 003 step 3 under the cloud's real host name (--resolve), its certificate checked against the
    test CA (--ca); byte for byte from AT+HTTPREAD. The double checks the HMAC-MD5 sign."""
    with seed_double(tls=cloud_pki(test_ca, AUTH_HOST).server_context()) as double, \
            Emulator(interp, args=emulator_args(test_ca, {AUTH_HOST: double.server.port})) as emu:
        online(emu)
        assert post(emu, AUTH_URL, SEED_BODY) == b"+HTTPACTION: 1,200,128"
        emu.send(b"AT+HTTPREAD\r")
        assert emu.read_until(b"OK\r\n") == (
            b'\r\n+HTTPREAD: 128\r\n{"code":200,"data":{"iotId":"jlvFGfQ11FlGOEJ4RoZU001013ba00","iotToken":"613d9'
            b'cb0946741df98db1c50255a9dd0"},"message":"success"}\r\nOK\r\n')
        assert cmd(emu, "AT+HTTPTERM") == [b"OK"]
        request = double.requests[-1]
        assert request.method == "POST" and request.body == SEED_BODY.encode()
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert request.headers["User-Agent"] == "AM_MODULE"
        assert request.headers["Host"] == AUTH_HOST


def test_https_server_outside_the_ca_is_refused(interp, test_ca):
    """A server whose certificate the --ca does not sign: 605 (SSL setup failed), and no request is sent."""
    with seed_double(tls=test_ca.server_context(untrusted=True)) as double, \
            Emulator(interp, args=emulator_args(test_ca, {AUTH_HOST: double.server.port})) as emu:
        online(emu)
        assert post(emu, AUTH_URL, SEED_BODY) == b"+HTTPACTION: 1,605,0"
        assert double.requests == []


def test_unknown_host_is_a_dns_error(emu):
    online(emu)
    assert cmd(emu, "AT+HTTPINIT") == [b"OK"]
    assert cmd(emu, 'AT+HTTPPARA="URL","http://no-such-host.invalid/"') == [b"OK"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"OK"]
    assert emu.line(30) == b"+HTTPACTION: 0,603,0"


def test_wrong_sign_gets_the_doubles_error(emu, double):
    online(emu)
    body = SEED_BODY.replace("sign=1eb9", "sign=1eb8")
    assert post(emu, double.server.url(aliyun_auth_double.PATH), body) == b"+HTTPACTION: 1,200,43"
    assert cmd(emu, "AT+HTTPREAD") == [b"+HTTPREAD: 43", b'{"code":401,"message":"request auth error"}', b"OK"]
    assert double.issued == {}


def test_no_wifi_is_a_network_error(emu, double):
    assert cmd(emu, "ATE0")[-1] == b"OK"
    assert cmd(emu, "AT+CGATT?") == [b"+CGATT: 0", b"OK"]
    assert post(emu, double.server.url(aliyun_auth_double.PATH), SEED_BODY) == b"+HTTPACTION: 1,601,0"
    assert double.requests == []


def test_refused_connection_is_a_network_error(emu):
    online(emu)
    assert cmd(emu, "AT+HTTPINIT") == [b"OK"]
    assert cmd(emu, 'AT+HTTPPARA="URL","http://127.0.0.1:%d/"' % peers.free_port()) == [b"OK"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"OK"]
    assert emu.line(30) == b"+HTTPACTION: 0,601,0"


def test_get_head_ranges_redirects_and_chunks(emu, http_server):
    body = peers.pattern(3000, 7).hex().encode()[:3000]
    http_server.serve("/data", body, chunked=True, chunk_size=700)
    http_server.serve("/moved", b"", status=302, headers={"Location": "/data"})
    http_server.serve("/big", b"x" * 9000)
    online(emu)
    assert cmd(emu, "AT+HTTPREAD") == [b"+CME ERROR: 3"]  # no HTTPINIT
    assert cmd(emu, "AT+HTTPINIT") == [b"OK"]
    assert cmd(emu, "AT+HTTPINIT") == [b"+CME ERROR: 3"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"+CME ERROR: 3"]  # no URL
    assert cmd(emu, "AT+HTTPREAD") == [b"+CME ERROR: 3"]  # no response yet
    assert cmd(emu, 'AT+HTTPPARA="NOSUCH","x"') == [b"+CME ERROR: 53"]
    assert cmd(emu, 'AT+HTTPPARA="URL","ftp://x/"') == [b"+CME ERROR: 53"]
    # unquoted values, as Luat's guides write them; a bare host/path is http
    assert cmd(emu, "AT+HTTPPARA=URL,127.0.0.1:%d/data" % http_server.port) == [b"OK"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"OK"]
    assert emu.line(30) == b"+HTTPACTION: 0,200,3000"
    emu.send(b"AT+HTTPREAD\r")
    assert emu.read_until(b"\r\nOK\r\n", 10) == b"\r\n+HTTPREAD: 3000\r\n" + body + b"\r\nOK\r\n"
    emu.send(b"AT+HTTPREAD=2990,100\r")
    assert emu.read_until(b"\r\nOK\r\n", 10) == b"\r\n+HTTPREAD: 10\r\n" + body[2990:] + b"\r\nOK\r\n"
    assert cmd(emu, "AT+HTTPREAD=3001,1") == [b"+CME ERROR: 3"]
    assert cmd(emu, "AT+HTTPACTION=2") == [b"OK"]
    assert emu.line(30) == b"+HTTPACTION: 2,200,0"
    # a range: BREAK/BREAKEND become a Range header
    assert cmd(emu, 'AT+HTTPPARA="BREAK",100') == [b"OK"]
    assert cmd(emu, 'AT+HTTPPARA="BREAKEND",199') == [b"OK"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"OK"]
    emu.line(30)
    assert http_server.requests[-1].headers["Range"] == "bytes=100-199"
    assert cmd(emu, 'AT+HTTPPARA="BREAK",0') == [b"OK"]
    assert cmd(emu, 'AT+HTTPPARA="BREAKEND",0') == [b"OK"]
    # redirects: reported as they are, followed with REDIR=1
    assert cmd(emu, 'AT+HTTPPARA="URL","%s"' % http_server.url("/moved")) == [b"OK"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"OK"]
    assert emu.line(30) == b"+HTTPACTION: 0,302,0"
    assert cmd(emu, 'AT+HTTPPARA="REDIR",1') == [b"OK"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"OK"]
    assert emu.line(30) == b"+HTTPACTION: 0,200,3000"
    # a body larger than the module keeps: 602 no memory
    assert cmd(emu, 'AT+HTTPPARA="URL","%s"' % http_server.url("/big")) == [b"OK"]
    assert cmd(emu, "AT+HTTPACTION=0") == [b"OK"]
    assert emu.line(30) == b"+HTTPACTION: 0,602,0"
    assert cmd(emu, "AT+HTTPTERM") == [b"OK"]
    assert cmd(emu, "AT+HTTPTERM") == [b"+CME ERROR: 3"]


def test_httpdata_times_out(emu):
    online(emu)
    assert cmd(emu, "AT+HTTPINIT") == [b"OK"]
    emu.send(b"AT+HTTPDATA=10,1000\r")
    assert emu.line() == b"DOWNLOAD"
    emu.send(b"short")
    assert emu.line(10) == b"+CME ERROR: 50"
    assert cmd(emu, "AT+HTTPDATA=3357,1000") == [b"ERROR"]  # out of range: the parser refuses it
