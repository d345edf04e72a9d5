"""Seed 000 §5.11, AT+HTTPC, under both interpreters: GET and POST over HTTP and HTTPS (a server under a
cloud host name, verified against --ca), the reply as +HTTPC:<len>,<body>, bounded."""
from cloud_doubles import emulator_args, https_double
from harness import Emulator
from peers import HttpServer
from test_aliyun_mqtt import lines, online

LISTING = (b'<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 3.2 Final//EN"><html> <title>Directory listing for /</title> '
           b'<body> <h2>Directory listing for /</h2> <hr> <ul> <li><a href=".DS_Store">.DS_Store</a> </ul> '
           b'<hr> </body> </html>')
API_HOST = "api.example-iot.cn"


def test_get_and_post_over_http_and_https(interp, test_ca):
    with HttpServer() as plain, https_double(test_ca, API_HOST) as secure:
        plain.serve("/", LISTING, content_type="text/html")
        plain.serve("/big", b"x" * 4097)
        plain.serve("/chunked", b"y" * 4096, chunked=True, chunk_size=1000)
        secure.serve("/echo", lambda request: (200, b"got " + request.body))
        routes = {API_HOST: secure.port}
        with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
            online(emu)
            # the manual's example: host:port, a GET that passes 0 as its data
            assert lines(emu, "AT+HTTPC=0,0,127.0.0.1:%d,0" % plain.port) == [
                b"+HTTPC:%d," % len(LISTING) + LISTING, b"OK"]
            assert plain.requests[-1].method == "GET" and plain.requests[-1].path == "/"
            assert lines(emu, 'AT+HTTPC=1,1,https://%s/echo,{"a":1,"b":"x, y"}' % API_HOST) == [
                b'+HTTPC:22,got {"a":1,"b":"x, y"}', b"OK"]
            request = secure.requests[-1]
            assert request.method == "POST" and request.headers["Content-Type"] == "application/json"
            assert lines(emu, "AT+HTTPC=0,0,http://127.0.0.1:%d/chunked" % plain.port) == [
                b"+HTTPC:4096," + b"y" * 4096, b"OK"]
            assert lines(emu, "AT+HTTPC=0,0,127.0.0.1:%d/big" % plain.port) == [b"+CME ERROR:8"]
            assert lines(emu, "AT+HTTPC=0,0,127.0.0.1:1/") == [b"+CME ERROR:2"]
            assert lines(emu, "AT+HTTPC=0,0,https://127.0.0.1:%d/echo" % secure.port) == [b"+CME ERROR:2"]
            assert lines(emu, "AT+HTTPC=2,0,127.0.0.1:%d/" % plain.port) == [b"ERROR"]
            assert lines(emu, "AT+CWQAP") == [b"OK"]
            assert lines(emu, "AT+HTTPC=0,0,127.0.0.1:%d/" % plain.port)[-1] == b"+CME ERROR:1"
