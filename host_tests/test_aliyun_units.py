"""Fast checks of the Alibaba families in-process (host_tests/inproc.py) and of cloud/aliyun_thing.py under
both interpreters: parameters, errors and answers that need no cloud."""
import json

import pytest

from cloud_doubles import run_firmware
from inproc import InProc


@pytest.fixture
def at():
    a = InProc("aliyun_units")
    a.engine.store.factory_reset()
    yield a
    a.close()


def test_para_takes_only_the_manuals_tags_and_ranges(at):
    assert at.cmd("AT+IMQTTPARA=timeout,9") == ["OK"]  # tag names in any case
    assert at.cmd("AT+IMQTTPARA?") == ["+IMQTTPARA:timeout=9,tls=1,keepalive=1200,auth_mode=0,heart_beat=25", "OK"]
    for bad in ("FOO,1", "TIMEOUT,0", "TIMEOUT,61", "TLS,2", "KEEPALIVE,29", "KEEPALIVE,1201", "AUTHMODE,3",
                "SDK,2", "TIMEOUT", "TIMEOUT,x"):
        assert at.cmd("AT+IMQTTPARA=" + bad) == ["ERROR"], bad
    assert at.cmd("AT+IDMPARA?") == ["+IDMPARA:timeout=5,tls=1,keepalive=1200,auth_mode=0,heart_beat=25", "OK"]


def test_auth_needs_a_secret_and_masks_it(at):
    assert at.cmd("AT+IMQTTAUTH?") == ["OK"]  # nothing saved yet
    assert at.cmd("AT+IMQTTAUTH=pk,dn") == ["ERROR"]
    assert at.cmd("AT+IMQTTAUTH=pk,dn,,") == ["ERROR"]
    assert at.cmd('AT+IMQTTAUTH="pk","dn","abcdef"') == ["OK"]
    assert at.cmd("AT+IMQTTAUTH?") == ["+IMQTTAUTH=pk, dn, abc***ef, ", "OK"]
    assert at.cmd("AT+IMQTTAUTH=pk,dn,abcde") == ["OK"]
    assert at.cmd("AT+IMQTTAUTH?") == ["+IMQTTAUTH=pk, dn, ***, ", "OK"]  # too short to show any of it
    assert at.cmd("AT+IMQTTCRED=c,u,p") == ["OK"]
    assert at.cmd("AT+IMQTTCRED?") == ["+IMQTTCRED:c,u,***", "OK"]
    assert at.cmd("AT+IMQTTCRED=,,") == ["OK"]
    assert at.cmd("AT+IMQTTCRED?") == ["OK"]


def test_commands_that_need_a_connection_or_network(at):
    assert at.cmd("AT+IMQTTCONN=host,1883") == ["+CME ERROR:1"]  # the station has no IP
    assert at.cmd("AT+IMQTTPUB=/t,0,x") == ["+CME ERROR:4"]
    assert at.cmd("AT+IMQTTSUB=/t,0") == ["+CME ERROR:4"]
    assert at.cmd("AT+IMQTTUNSUB=/t") == ["+CME ERROR:4"]
    assert at.cmd("AT+IMQTTPUBHEX=/t,0,1,FF") == ["+CME ERROR:4"]
    assert at.cmd("AT+IMQTTPUBHEX=/t,0,1,F") == ["ERROR"]
    assert at.cmd("AT+IMQTTPUB=/t,2,x") == ["ERROR"]  # QoS 0-1
    assert at.cmd("AT+IMQTTDISCONN") == ["OK"]
    assert at.cmd("AT+IMQTTSTATE") == ["+IMQTTSTATE:0", "OK"]
    assert at.cmd("AT+IDMPP={}") == ["+CME ERROR:4"]
    assert at.cmd("AT+IDMASR=1,S,200,{}") == ["+CME ERROR:4"]
    assert at.cmd("AT+IOTAVER=1.0") == ["+CME ERROR:4"]
    assert at.cmd("AT+IOTAQUERY") == ["+CME ERROR:4"]
    assert at.cmd("AT+IOTASTART=1") == ["+CME ERROR:9"]
    assert at.cmd("AT+IOTASTX=0") == ["+CME ERROR:9"]
    assert at.cmd("AT+IOTAPARA=BLOCKSIZE,2049") == ["ERROR"]
    assert at.cmd("AT+IOTAPARA=FRAMES,256") == ["ERROR"]
    assert at.cmd("AT+HTTPC=0,0,127.0.0.1:1") == ["+CME ERROR:1"]


def test_the_manuals_test_forms(at):
    assert at.cmd("AT+IMQTTSTATE=?") == ["+IMQTTSTATE:0", "OK"]  # as Alibaba's MCU SDK reads it
    assert at.cmd("AT+IDMSTATE=?") == ["+IDMSTATE:0", "OK"]
    assert at.cmd("AT+IMQTTSUB=?") == ["+IMQTTSUB:<topic>,<qos>", "OK"]
    assert at.cmd("AT+IDMASR=?") == ["+IDMASR=<msg_id>,<service_id>,<code>,<reply_message>", "OK"]
    assert at.cmd("AT+IOTASTX=?") == ["+IOTASTX:<frame>", "OK"]
    assert at.cmd("AT+IOTASTART=?") == ["+IOTASTART:<enable>", "OK"]


FIELDS = r'''
from cloud import aliyun_thing as a
doc = b' { "code" : 200 , "data":{"x":[1,{"y":"a,}\\"b"}]},"id":"3","message":"say \\"hi\\"","n":-1.5e3,"t":true}'
print(a.field(doc, "data"), a.field(doc, "code"), a.text(doc, "id"), a.text(doc, "message"), a.field(doc, "n"),
      a.field(doc, "t"), a.field(doc, "zz"), a.text(doc, "zz"))
for bad in (b"[1]", b"", b'{"a":"x', b'{"a" 1}', b'{"a":{"b":1}'):
    try:
        a.field(bad, "b")
        print("no error", bad)
    except ValueError:
        print("ValueError")
print(a.post(7, "thing.event.property.post", b'{"a":1}'))
print(a.reply("9", 200, a.check('{"r": "x, y"}')))
try:
    a.check("{x}")
except ValueError:
    print("not JSON")
'''


@pytest.mark.parametrize("interp", ["micropython", "cpython"])
def test_alink_fields_pass_through_byte_for_byte(interp):
    out = run_firmware(interp, FIELDS).splitlines()
    assert out[0] == "b'{\"x\":[1,{\"y\":\"a,}\\\\\"b\"}]}' b'200' 3 say \"hi\" b'-1.5e3' b'true' None None"
    assert out[1:6] == ["ValueError"] * 5
    assert json.loads(out[6][2:-1]) == {"id": "7", "version": "1.0", "params": {"a": 1},
                                        "method": "thing.event.property.post"}
    assert out[7] == "b'{\"id\":\"9\",\"code\":200,\"data\":{\"r\": \"x, y\"}}'"
    assert out[8] == "not JSON"
