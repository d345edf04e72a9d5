"""The cellular profile's identity and radio answers (reference cellular-air724.md §1), derived from the
ESP32's own: computed here independently from the station MAC and the AP's RSSI, under both interpreters.
The bearer and the seed's lines are in transcripts/cellular_bearer.at."""
import pytest

from cellular_driver import cmd
from harness import Emulator


def luhn_ok(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d // 10 + d % 10
    return total % 10 == 0


def mac_number(emu):
    line = cmd(emu, "AT+CIPSTAMAC?")[0]  # +CIPSTAMAC:"aa:bb:cc:dd:ee:ff"
    return int(line.split(b'"')[1].replace(b":", b""), 16)


def test_identity_comes_from_the_mac(emu):
    assert cmd(emu, "ATE0")[-1] == b"OK"
    mac = mac_number(emu)
    imei = cmd(emu, "AT+CGSN")
    assert imei == cmd(emu, "AT+GSN") and imei[1] == b"OK"
    imei = imei[0].decode()
    assert len(imei) == 15 and luhn_ok(imei)
    assert imei[:8] == "86299141" and int(imei[8:14]) == mac % 10 ** 6
    imsi = cmd(emu, "AT+CIMI")[0].decode()
    assert imsi == "46004%010d" % (mac % 10 ** 10)
    iccid = cmd(emu, "AT+CCID")[0].decode()
    assert cmd(emu, "AT+ICCID") == [b"+ICCID: " + iccid.encode(), b"OK"]
    assert len(iccid) == 20 and luhn_ok(iccid) and iccid[:6] == "898604"
    assert int(iccid[6:19]) == mac % 10 ** 13
    # another MAC, another device
    assert cmd(emu, 'AT+CIPSTAMAC="1a:2b:3c:4d:5e:60"') == [b"OK"]
    other = cmd(emu, "AT+CGSN")[0].decode()
    assert other != imei and luhn_ok(other) and int(other[8:14]) == 0x1A2B3C4D5E60 % 10 ** 6


@pytest.mark.parametrize("rssi,csq", [(-50, 31), (-80, 16), (-113, 0), (-120, 0)])
def test_csq_is_the_station_rssi(interp, rssi, csq):
    with Emulator(interp, args=["--ap", "cell-ap,password1,02:00:00:00:00:07,6,%d" % rssi]) as emu:
        assert cmd(emu, "ATE0")[-1] == b"OK"
        assert cmd(emu, "AT+CSQ") == [b"+CSQ: 99,99", b"OK"]
        assert cmd(emu, 'AT+CWJAP="cell-ap","password1"')[-1] == b"OK"
        assert cmd(emu, "AT+CSQ") == [b"+CSQ: %d,99" % csq, b"OK"]


def test_registration_follows_the_station(emu):
    assert cmd(emu, "ATE0")[-1] == b"OK"
    assert cmd(emu, 'AT+CWJAP="upy-at-emu","wrongpass"')[-1] == b"ERROR"
    assert cmd(emu, "AT+CREG?") == [b"+CREG: 0,0", b"OK"]
    assert cmd(emu, 'AT+CWJAP="upy-at-emu","emulator1"')[-1] == b"OK"
    assert cmd(emu, "AT+CEREG?") == [b"+CEREG: 0,1", b"OK"]
    emu.control(op="ap_remove", ssid="upy-at-emu")
    assert emu.line(10) == b"WIFI DISCONNECT"
    assert cmd(emu, "AT+CGATT?") == [b"+CGATT: 0", b"OK"]
    assert cmd(emu, "AT+CGREG?") in ([b"+CGREG: 0,0", b"OK"], [b"+CGREG: 0,2", b"OK"])  # lost, or rejoining
