"""Tencent OTA (seed 001 §4, §5.5) against the loopback cloud: the version reported, the offer taken from
$ota/update, a 1 MiB image downloaded over HTTPS (a COS host name through --resolve) into flash, checked by
MD5, progress reported, then read back byte-exact through AT+TCREADFWDATA, under both interpreters."""
import hashlib
import json
import random

import pytest

from cloud_doubles import emulator_args, https_double
from harness import Emulator
from peers import wait_for
from test_tencent_mqtt import CID, DEV, PID, PSK, cloud, tc  # noqa: F401  (cloud is a fixture)

COS = "ota-1255858890.cos.ap-guangzhou.myqcloud.com"
SIZE = 1 << 20
REPORT = "$ota/report/%s/%s" % (PID, DEV)


@pytest.fixture
def image_server(test_ca):
    with https_double(test_ca, COS) as server:
        yield server


@pytest.fixture
def device(interp, cloud, image_server, sntp_server, test_ca):  # noqa: F811
    routes = dict(cloud.routes())
    routes[COS + ":443"] = image_server.port
    routes["*:123"] = sntp_server.port
    with Emulator(interp, args=emulator_args(test_ca, routes)) as emu:
        emu.online()
        assert tc(emu, 'AT+TCDEVINFOSET=1,"%s","%s","%s"' % (PID, DEV, PSK)) == [b"OK", b"+TCDEVINFOSET:OK"]
        assert tc(emu, "AT+TCMQTTCONN=1,5000,240,1,1") == [b"OK", b"+TCMQTTCONN:OK"]
        yield emu


def offer(cloud, server, image, md5=None, version="1.0.1", path="/fw/1.0.1.bin"):  # noqa: F811
    server.serve(path, image)
    cloud.ota_offer = {"version": version, "url": "https://%s%s" % (COS, path),
                       "md5sum": md5 or hashlib.md5(image).hexdigest(), "file_size": len(image)}


def reports(cloud):  # noqa: F811
    return [json.loads(p) for c, t, p, q in list(cloud.published) if t == REPORT]


def last_state(cloud):  # noqa: F811
    """The state of the last progress report (None before the first)."""
    return reports(cloud)[-1]["report"].get("progress", {}).get("state")


def test_a_1_mib_image_downloaded_checked_and_read_back(device, cloud, image_server):  # noqa: F811
    emu = device
    image = random.Random(15).randbytes(SIZE)
    assert emu.command("AT+TCOTASET=?") == [b'+TCOTASET:1(ENABLE)/0(DISABLE),"FW_version"', b"OK"]
    assert tc(emu, "AT+TCFWINFO?") == [b"+CME ERROR:205"]  # no firmware yet
    offer(cloud, image_server, image)
    assert tc(emu, 'AT+TCOTASET=1,"1.0.0"') == [b"OK", b"+TCOTASET:OK"]
    assert reports(cloud)[0] == {"type": "report_version", "report": {"version": "1.0.0"}}
    assert emu.line(30) == b"+TCOTASTATUS:ENTERUPDATE"
    line = emu.line(120)
    while line != b"+TCOTASTATUS:UPDATESUCCESS":
        assert not line.startswith(b"+TCOTASTATUS"), line
        line = emu.line(120)
    wait_for(lambda: last_state(cloud) == "done", 10, "the done report")
    progress = [r["report"]["progress"] for r in reports(cloud)[1:]]
    assert [p["state"] for p in progress] == ["downloading"] * (len(progress) - 1) + ["done"]
    assert [p["percent"] for p in progress[:-1]] == ["0", "20", "40", "60", "80", "100"][-len(progress) + 1:]
    assert emu.command("AT+TCOTASET?") == [b'+TCOTASET:1,"1.0.0"', b"OK"]
    emu.send(b"AT+TCFWINFO?\r\n")
    assert [emu.line(), emu.line()] == [
        b"OK", b'+TCFWINFO:"1.0.1",%d,"%s",%d' % (SIZE, hashlib.md5(image).hexdigest().encode(), SIZE)]
    got = bytearray()
    while len(got) < SIZE:
        emu.send(b"AT+TCREADFWDATA=4096\r\n")
        assert emu.line() == b"OK"
        head = emu.read_until(b",", 5)
        n = int(head.split(b":")[1][:-1])
        got += emu.read_exact(n)
        assert emu.read_exact(2) == b"\r\n"
    assert bytes(got) == image
    assert tc(emu, "AT+TCREADFWDATA=16") == [b"+CME ERROR:209"]  # at the end
    emu.send(b"AT+TCFWINFO?\r\n")  # starts again at 0
    assert emu.line() == b"OK" and emu.line().startswith(b'+TCFWINFO:"1.0.1"')
    emu.send(b"AT+TCREADFWDATA=10\r\n")
    assert emu.line() == b"OK"
    assert emu.read_exact(len(b"+TCREADFWDATA:10,") + 12) == b"+TCREADFWDATA:10," + image[:10] + b"\r\n"
    # saved: it survives a restart; AT+TCRESTORE forgets it
    emu.send(b"AT+RST\r\n")
    emu.read_until(b"ready\r\n", 15)
    assert emu.command("ATE0")[-1] == b"OK"
    emu.send(b"AT+TCFWINFO?\r\n")
    assert emu.line() == b"OK" and emu.line().startswith(b'+TCFWINFO:"1.0.1",%d' % SIZE)
    emu.send(b"AT+TCRESTORE\r\n")
    emu.read_until(b"ready\r\n", 15)
    assert emu.command("ATE0")[-1] == b"OK"
    assert tc(emu, "AT+TCFWINFO?") == [b"+CME ERROR:205"]


def test_a_wrong_md5_and_a_missing_file_fail(device, cloud, image_server):  # noqa: F811
    emu = device
    offer(cloud, image_server, b"x" * 5000, md5="0" * 32)
    assert tc(emu, 'AT+TCOTASET=1,"1.0.0"') == [b"OK", b"+TCOTASET:OK"]
    assert emu.line(30) == b"+TCOTASTATUS:ENTERUPDATE"
    assert emu.line(60) == b"+TCOTASTATUS:UPDATEFAIL,-4"
    wait_for(lambda: last_state(cloud) == "fail", 10, "the fail report")
    assert reports(cloud)[-1]["report"]["progress"]["result_code"] == "-4"
    assert tc(emu, "AT+TCFWINFO?") == [b"+CME ERROR:205"]
    cloud.ota_offer = dict(cloud.ota_offer, url="https://%s/fw/absent.bin" % COS)
    assert tc(emu, 'AT+TCOTASET=1,"1.0.0"') == [b"OK", b"+TCOTASET:OK"]
    assert emu.line(30) == b"+TCOTASTATUS:ENTERUPDATE"
    assert emu.line(60) == b"+TCOTASTATUS:UPDATEFAIL,-2"
    assert tc(emu, 'AT+TCOTASET=0,"1.0.0"') == [b"OK", b"+TCOTASET:OK"]
    assert emu.command("AT+TCOTASET?") == [b'+TCOTASET:0,"1.0.0"', b"OK"]


def test_otaset_needs_the_connection(device):
    emu = device
    assert emu.command("AT+TCMQTTDISCONN") == [b"+TCMQTTDISCON,2", b"OK"]
    assert tc(emu, 'AT+TCOTASET=1,"1.0.0"') == [b"+CME ERROR:208"]
    assert tc(emu, 'AT+TCOTASET=1,""') == [b"ERROR"]
