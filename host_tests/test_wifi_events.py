"""Wi-Fi as the radio changes under the module: an AP vanishing and returning, stations joining the
SoftAP, and what a restart with the same --state keeps. Under both interpreters."""
import tempfile

from harness import Emulator

AP = ("upy-at-emu", "emulator1")


def join(emu):
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command('AT+CWJAP="%s","%s"' % AP) == [b"WIFI CONNECTED", b"WIFI GOT IP", b"OK"]


def test_the_ap_vanishes_and_returns(emu):
    join(emu)
    assert emu.control(op="ap_remove", ssid=AP[0])["ok"]
    assert emu.line(timeout=5) == b"WIFI DISCONNECT"
    assert emu.command("AT+CWSTATE?") == [b'+CWSTATE:4,"upy-at-emu"', b"OK"]
    assert emu.command("AT") == [b"OK"]  # the module answers while it tries to rejoin
    assert emu.control(op="ap_add", ssid=AP[0], password=AP[1], bssid="02:00:00:00:00:01", channel=6, rssi=-50)["ok"]
    assert emu.line(timeout=10) == b"WIFI CONNECTED"
    assert emu.line(timeout=5) == b"WIFI GOT IP"
    assert emu.command("AT+CWSTATE?") == [b'+CWSTATE:2,"upy-at-emu"', b"OK"]


def test_no_rejoin_when_reconnecting_is_off(emu):
    join(emu)
    assert emu.command("AT+CWRECONNCFG=0,0") == [b"OK"]
    emu.control(op="ap_remove", ssid=AP[0])
    assert emu.line(timeout=5) == b"WIFI DISCONNECT"
    emu.control(op="ap_add", ssid=AP[0], password=AP[1], bssid="02:00:00:00:00:01", channel=6, rssi=-50)
    assert emu.drain(2.5) == b""
    assert emu.command("AT+CWJAP?") == [b"No AP", b"OK"]


def test_a_password_change_drops_the_link_and_a_rejoin_fails_quietly(emu):
    join(emu)
    emu.control(op="ap_add", ssid=AP[0], password="changed99", bssid="02:00:00:00:00:01", channel=6, rssi=-50)
    assert emu.line(timeout=5) == b"WIFI DISCONNECT"
    assert emu.drain(2.5) == b""
    assert emu.command('AT+CWJAP="%s","changed99"' % AP[0]) == [b"WIFI CONNECTED", b"WIFI GOT IP", b"OK"]


def test_stations_join_and_leave_the_softap(emu):
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command("AT+CWMODE=2") == [b"OK"]
    assert emu.command('AT+CWSAP="upy-ap","12345678",5,3') == [b"OK"]
    assert emu.control(op="station_join", mac="aa:bb:cc:dd:ee:01")["ok"]
    assert emu.line(timeout=5) == b'+STA_CONNECTED:"aa:bb:cc:dd:ee:01"'
    assert emu.line(timeout=5) == b'+DIST_STA_IP:"aa:bb:cc:dd:ee:01","192.168.4.2"'
    assert emu.command("AT+CWLIF") == [b"+CWLIF:192.168.4.2,aa:bb:cc:dd:ee:01", b"OK"]
    assert emu.control(op="station_leave", mac="aa:bb:cc:dd:ee:01")["ok"]
    assert emu.line(timeout=5) == b'+STA_DISCONNECTED:"aa:bb:cc:dd:ee:01"'
    assert emu.command("AT+CWLIF") == [b"OK"]


def test_events_wait_until_the_running_command_has_answered(emu):
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command("AT+CWMODE=3") == [b"OK"]
    emu.send(b'AT+CWJAP="%s","%s"\r\n' % (AP[0].encode(), AP[1].encode()))
    emu.control(op="station_join", mac="aa:bb:cc:dd:ee:02")
    lines = [emu.line(timeout=5) for _ in range(5)]
    assert lines[:3] == [b"WIFI CONNECTED", b"WIFI GOT IP", b"OK"]
    assert lines[3:] == [b'+STA_CONNECTED:"aa:bb:cc:dd:ee:02"', b'+DIST_STA_IP:"aa:bb:cc:dd:ee:02","192.168.4.2"']


def boot(interp, state):
    emu = Emulator(interp, state=state)
    assert emu.command("ATE0")[-1] == b"OK"
    return emu


def test_settings_survive_a_restart_and_factory_reset_clears_them(interp):
    with tempfile.TemporaryDirectory() as state:
        with boot(interp, state) as emu:
            for line in ("AT+CWMODE=3", 'AT+CWSAP="kept-ap","12345678",7,3,3,1', 'AT+CIPSTAMAC="18:fe:35:98:d3:7b"',
                         'AT+CIPAP="192.168.5.1"', "AT+CWRECONNCFG=2,10"):
                assert emu.command(line) == [b"OK"], line
            join(emu)
        with Emulator(interp, state=state) as emu:
            # autoconnect: the saved AP is joined after boot, as URCs
            assert emu.line(timeout=10) == b"WIFI CONNECTED"
            assert emu.line(timeout=5) == b"WIFI GOT IP"
            assert emu.command("ATE0")[-1] == b"OK"
            assert emu.command("AT+CWMODE?") == [b"+CWMODE:3", b"OK"]
            # one radio: joined on channel 6, the SoftAP follows the station there, as on the chip
            assert emu.command("AT+CWSAP?") == [b'+CWSAP:"kept-ap","12345678",6,3,3,1', b"OK"]
            assert emu.command("AT+CIPSTAMAC?") == [b'+CIPSTAMAC:"18:fe:35:98:d3:7b"', b"OK"]
            assert emu.command("AT+CIPAP?")[0] == b'+CIPAP:ip:"192.168.5.1"'
            assert emu.command("AT+CWRECONNCFG?") == [b"+CWRECONNCFG:2,10", b"OK"]
            assert emu.command("AT+CWJAP?") == [b'+CWJAP:"upy-at-emu","02:00:00:00:00:01",6,-50', b"OK"]
            assert emu.command("AT+CWAUTOCONN=0") == [b"OK"]
        with boot(interp, state) as emu:
            assert emu.drain(1.0) == b""  # no autoconnect
            assert emu.command("AT+CWJAP") == [b"WIFI CONNECTED", b"WIFI GOT IP", b"OK"]  # still saved
            emu.send(b"AT+RESTORE\r\n")
            emu.read_until(b"ready\r\n", 15)
            assert emu.command("ATE0")[-1] == b"OK"
            assert emu.drain(1.0) == b""
            assert emu.command("AT+CWMODE?") == [b"+CWMODE:1", b"OK"]
            assert emu.command("AT+CIPSTAMAC?") == [b'+CIPSTAMAC:"24:0a:c4:00:00:01"', b"OK"]
            assert emu.command("AT+CWJAP") == [b"ERROR"]
            assert emu.command("AT+CWAUTOCONN?") == [b"+CWAUTOCONN:1", b"OK"]


def test_sysstore_0_keeps_wifi_settings_in_ram_only(interp):
    with tempfile.TemporaryDirectory() as state:
        with boot(interp, state) as emu:
            assert emu.command("AT+SYSSTORE=0") == [b"OK"]
            assert emu.command("AT+CWMODE=3") == [b"OK"]
            join(emu)
        with boot(interp, state) as emu:
            assert emu.drain(1.0) == b""
            assert emu.command("AT+CWMODE?") == [b"+CWMODE:1", b"OK"]
            assert emu.command("AT+CWJAP") == [b"ERROR"]


def test_escaped_ssid_and_password(emu):
    """Seed 004 §4.2.2: SSID ab\\,c and password 0123456789"\\ are sent as "ab\\\\,c","0123456789\\"\\\\"."""
    assert emu.control(op="ap_add", ssid='ab,c"d\\e', password='0123456789"\\', bssid="02:00:00:00:00:07",
                       channel=3, rssi=-40)["ok"]
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command(b'AT+CWJAP="ab\\,c\\"d\\\\e","0123456789\\"\\\\"') == [b"WIFI CONNECTED", b"WIFI GOT IP", b"OK"]
    assert emu.command("AT+CWJAP?") == [b'+CWJAP:"ab,c"d\\e","02:00:00:00:00:07",3,-40', b"OK"]


def test_a_join_that_takes_too_long_answers_cwjap_1(emu):
    assert emu.control(op="set", join_ms=20000)["ok"]
    assert emu.command("ATE0")[-1] == b"OK"
    # 2.x <jap_timeout> is the 8th parameter
    assert emu.command('AT+CWJAP="%s","%s",,,,,,3' % AP, timeout=10) == [b"+CWJAP:1", b"ERROR"]
    assert emu.command("AT+CWSTATE?") == [b'+CWSTATE:0,""', b"OK"]


# ---- AT+INETSTAT (seed 000 §5.7) follows the station however it joined ---------------------------
INET_UP = b"+INETSTAT:4,192.168.11.101,24:0A:C4:00:00:01"
INET_DOWN = b"+INETSTAT:5,0.0.0.0,24:0A:C4:00:00:01"
INET_NEVER = b"+INETSTAT:1,0.0.0.0,24:0A:C4:00:00:01"


def test_inetstat_after_cwjap_then_a_loss(emu):
    """The Alibaba family is first used after an esp-at AT+CWJAP: it still sees the join, and the loss."""
    join(emu)
    assert emu.command("AT+INETSTAT") == [INET_UP, b"OK"]
    assert emu.control(op="ap_remove", ssid=AP[0])["ok"]
    assert emu.line(timeout=5) == b"WIFI DISCONNECT"
    assert emu.line(timeout=5) == INET_DOWN
    assert emu.command("AT+INETSTAT") == [INET_DOWN, b"OK"]


def test_inetstat_before_any_join_then_iwificonnect_then_a_loss(emu):
    assert emu.command("ATE0")[-1] == b"OK"
    assert emu.command("AT+INETSTAT") == [INET_NEVER, b"OK"]
    assert emu.command("AT+IWIFICONNECT=%s,%s" % AP) == [b"OK"]
    assert [emu.line(timeout=10) for _ in range(3)] == [b"WIFI CONNECTED", b"WIFI GOT IP", INET_UP]
    assert emu.command("AT+INETSTAT") == [INET_UP, b"OK"]
    assert emu.control(op="ap_remove", ssid=AP[0])["ok"]
    assert [emu.line(timeout=5) for _ in range(2)] == [b"WIFI DISCONNECT", INET_DOWN]
    assert emu.command("AT+INETSTAT") == [INET_DOWN, b"OK"]
    # the AP comes back: the monitor rejoins it, and the Alibaba MCU hears of it
    emu.control(op="ap_add", ssid=AP[0], password=AP[1], bssid="02:00:00:00:00:01", channel=6, rssi=-50)
    assert [emu.line(timeout=10) for _ in range(3)] == [b"WIFI CONNECTED", b"WIFI GOT IP", INET_UP]


def test_inetstat_after_autoconnect_at_boot(interp):
    with tempfile.TemporaryDirectory() as state:
        with boot(interp, state) as emu:
            join(emu)
        with Emulator(interp, state=state) as emu:
            assert emu.line(timeout=10) == b"WIFI CONNECTED"
            assert emu.line(timeout=5) == b"WIFI GOT IP"
            assert emu.command("ATE0")[-1] == b"OK"
            assert emu.command("AT+INETSTAT") == [INET_UP, b"OK"]
            assert emu.command("AT+CWQAP") == [b"OK"]
            assert [emu.line(timeout=5) for _ in range(2)] == [b"WIFI DISCONNECT", INET_DOWN]
