"""AT+TCDEVREG (seed 001 §2.3, §7.3): dynamic registration against the loopback register endpoint over HTTPS
(gateway.tencentdevices.com through --resolve, the test CA through --ca), the key saved and used to connect,
under both interpreters."""
import pytest

from cloud import tencent as cloud_sign
from cloud_doubles import emulator_args
from harness import Emulator
from tencent_cloud import REGISTER_HOST, Registration
from test_tencent_mqtt import PID, cloud, tc  # noqa: F401  (cloud is a fixture)

SECRET = "hzvf5LF9S0isvBhDSauWMaIk"  # the docs' product secret (cloud-vectors.json)


@pytest.fixture
def registration(test_ca, cloud):  # noqa: F811
    reg = Registration(test_ca, cloud)
    reg.products[PID] = SECRET
    with reg:
        yield reg


@pytest.fixture
def device(interp, cloud, registration, sntp_server, test_ca):  # noqa: F811
    routes = dict(cloud.routes())
    routes[REGISTER_HOST + ":443"] = registration.port
    routes["*:123"] = sntp_server.port
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        emu.online()
        yield emu


def test_register_then_connect_with_the_key_given(device, cloud, registration):  # noqa: F811
    emu = device
    assert emu.command("AT+TCDEVREG=?") == [b"OK"]
    assert tc(emu, "AT+TCDEVREG") == [b"+CME ERROR:208"]  # no product information yet
    assert tc(emu, 'AT+TCPRDINFOSET=1,"%s","%s","newdev"' % (PID, SECRET)) == [b"OK", b"+TCPRDINFOSET:OK"]
    assert tc(emu, "AT+TCDEVREG") == [b"OK", b"+TCDEVREG:OK"]
    psk = registration.issued[(PID, "newdev")]
    request = registration.requests[-1]
    assert request.method == "POST" and request.path == "/register/dev"
    assert emu.command("AT+TCDEVINFOSET?") == [
        b'+TCDEVINFOSET:1,"%s","newdev",%d' % (PID.encode(), cloud_sign.bcc(psk)), b"OK"]
    assert tc(emu, "AT+TCMQTTCONN=1,5000,240,1,1") == [b"OK", b"+TCMQTTCONN:OK"]
    cloud.wait_connected(PID + "newdev")
    assert tc(emu, "AT+TCDEVREG") == [b"+CME ERROR:208"]  # refused while connected
    assert emu.command("AT+TCMQTTDISCONN") == [b"+TCMQTTDISCON,2", b"OK"]


def test_refusals_carry_the_clouds_codes(device, registration):
    emu = device
    assert tc(emu, 'AT+TCPRDINFOSET=1,"%s","%s","dev2"' % (PID, "x" * 16 + "wrongsec")) == [
        b"OK", b"+TCPRDINFOSET:OK"]
    assert tc(emu, "AT+TCDEVREG") == [b"OK", b"+TCDEVREG:FAIL,1010"]  # the signature does not check
    registration.activated.add((PID, "dev2"))
    assert tc(emu, 'AT+TCPRDINFOSET=1,"%s","%s","dev2"' % (PID, SECRET)) == [b"OK", b"+TCPRDINFOSET:OK"]
    assert tc(emu, "AT+TCDEVREG") == [b"OK", b"+TCDEVREG:FAIL,1021"]  # activated already
    assert tc(emu, 'AT+TCPRDINFOSET=1,"NOSUCHPROD","%s","dev2"' % SECRET) == [b"OK", b"+TCPRDINFOSET:OK"]
    assert tc(emu, "AT+TCDEVREG") == [b"OK", b"+TCDEVREG:FAIL,1004"]
    assert tc(emu, "AT+TCDEVINFOSET?") == [b"+CME ERROR:208"]  # nothing was saved
    assert tc(emu, 'AT+TCPRDINFOSET=1,"%s","short","dev2"' % PID) == [b"OK", b"+TCPRDINFOSET:OK"]
    assert tc(emu, "AT+TCDEVREG") == [b"+CME ERROR:204"]  # a secret under 16 characters cannot decrypt
