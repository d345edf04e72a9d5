"""The host board's virtual radio (boards/host/network.py) behaves as network.WLAN on an ESP32.

Each scenario is one script run under both interpreters, MicroPython (unix port) and CPython, each
with its own state folder whose radio.json the script rewrites as tools/emulate would. The script
prints ``[label, value]`` JSON lines; both interpreters must print the same lines, and the values
must be the ESP32's (reference micropython-esp32.md §1.2, ports/esp32/network_wlan.c).
The last tests drive tools/emulate's control channel and read the result back through the radio.
"""
import json
import os
import subprocess
import sys

import pytest

from harness import Emulator

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")

PRELUDE = """
import sys
sys.path.insert(0, %r)
import json
import time
import hoststate
import network

sta = network.WLAN(network.WLAN.IF_STA)
ap = network.WLAN(network.WLAN.IF_AP)
JOIN_MS = 200


def ms():
    return time.ticks_ms() if hoststate.MICROPYTHON else int(time.monotonic() * 1000)


def plain(v):
    if isinstance(v, (bytes, bytearray)):
        return "b:" + bytes(v).hex()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def out(label, value):
    print(json.dumps([label, plain(value)]))


def attempt(f, *args, **kwargs):
    try:
        return f(*args, **kwargs)
    except Exception as e:
        return ["raised", type(e).__name__, str(e)]


def AP(ssid, password, n, channel=6, rssi=-50, **more):
    rec = {"ssid": ssid, "password": password, "bssid": "02:00:00:00:00:%%02x" %% n, "channel": channel,
           "rssi": rssi, "security": 3 if password else 0}
    rec.update(more)
    return rec


def world(aps, stations=(), join_ms=JOIN_MS):
    radio = {"aps": list(aps), "stations": list(stations), "join_ms": join_ms}
    hoststate.write_atomic(hoststate.path("radio.json"), json.dumps(radio).encode())


def trace(stop, timeout_ms=3000):
    \"\"\"The distinct statuses seen, polling every 10 ms, until one in ``stop`` (or the timeout).\"\"\"
    seen = []
    start = ms()
    while True:
        s = sta.status()
        if not seen or seen[-1] != s:
            seen.append(s)
        if s in stop or ms() - start > timeout_ms:
            return seen
        time.sleep(0.01)


def hold(ms_):
    \"\"\"The distinct statuses seen over ``ms_`` milliseconds.\"\"\"
    return trace((), ms_)
""" % os.path.join(ROOT, "boards", "host")

HOME = "AP('home', 'secret123', 1, channel=6, rssi=-48)"


def run_both(body, tmp_path):
    """Run PRELUDE + body under both interpreters at once; their (equal) output as {label: value}."""
    procs = {}
    for interp, exe in (("micropython", MICROPYTHON), ("cpython", sys.executable)):
        state = tmp_path / interp
        state.mkdir()
        script = state / "scenario.py"
        script.write_text(PRELUDE + body)
        env = dict(os.environ, AT_STATE=str(state))
        procs[interp] = subprocess.Popen([exe, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = {}
    for interp, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, "%s failed:\n%s" % (interp, err.decode())
        results[interp] = [json.loads(line) for line in out.decode().splitlines()]
    assert results["micropython"] == results["cpython"], "the interpreters differ:\n  mp %s\n  cp %s" % (
        results["micropython"], results["cpython"])
    labels = [label for label, _ in results["cpython"]]
    assert len(labels) == len(set(labels)), labels
    return dict(results["cpython"])


def check(got, want):
    for label in want:
        assert got.get(label) == want[label], "%s: want %r, got %r" % (label, want[label], got.get(label))
    assert sorted(got) == sorted(want)


def raised(kind, text):
    return ["raised", kind, text]


IDLE, CONNECTING, GOT_IP, BEACON_TIMEOUT, NO_AP_FOUND, WRONG_PASSWORD = 1000, 1001, 1010, 200, 201, 202


def test_singletons_and_errors_before_active(tmp_path):
    got = run_both("""
world([%s])
out("sta singleton", network.WLAN(network.WLAN.IF_STA) is sta and network.WLAN(0) is network.WLAN())
out("ap singleton", network.WLAN(network.AP_IF) is ap and ap is not sta)
out("bad interface", attempt(network.WLAN, 2))
out("inactive", [sta.active(), ap.active()])
out("connect", attempt(sta.connect, "home", "secret123"))
out("scan", attempt(sta.scan))
out("disconnect", attempt(sta.disconnect))
out("status", [sta.status(), sta.isconnected(), ap.status(), ap.isconnected()])
out("rssi", attempt(sta.status, "rssi"))
out("stations", attempt(ap.status, "stations"))
ap.active(True)
out("ap only: connect", attempt(sta.connect, "home", "secret123"))
out("ap only: scan", attempt(sta.scan))
out("activate", [sta.active(True), sta.active(), ap.active(False), ap.active()])
""" % HOME, tmp_path)
    check(got, {
        "sta singleton": True,
        "ap singleton": True,
        "bad interface": raised("ValueError", "invalid WLAN interface identifier"),
        "inactive": [False, False],
        "connect": raised("OSError", "Wifi Not Started"),
        "scan": raised("OSError", "STA must be active"),
        "disconnect": raised("OSError", "Wifi Not Started"),
        "status": [IDLE, False, None, False],
        "rssi": raised("OSError", "Wifi Not Connected"),
        "stations": raised("OSError", "Wifi Not Started"),
        "ap only: connect": raised("OSError", "Wifi Invalid Mode"),
        "ap only: scan": raised("OSError", "STA must be active"),
        "activate": [True, True, False, False],
    })


def test_connect_is_asynchronous(tmp_path):
    got = run_both("""
world([%s, AP('cafe', '', 2, channel=11, rssi=-70)])
sta.active(True)
start = ms()
out("returns", sta.connect("home", "secret123"))
out("at once", [sta.status(), sta.isconnected(), sta.ifconfig()])
out("again while joining", attempt(sta.connect, "home", "secret123"))
out("scan while joining", sta.scan())
out("join", trace((1010, 201, 202)))
out("took the join delay", JOIN_MS <= ms() - start < JOIN_MS + 500)
out("connected", [sta.isconnected(), sta.ifconfig(), sta.status("rssi"), sta.config("ssid"), sta.config("channel")])
out("dns", network.ipconfig("dns"))
out("open AP takes any key", [sta.connect("cafe", "whatever"), trace((1010, 201, 202)), sta.ifconfig()[0]])
sta.disconnect()
out("disconnected", [sta.status(), sta.isconnected(), sta.ifconfig()[:3], attempt(sta.status, "rssi")])
sta.connect()
out("reconnect with the stored ssid/key", [trace((1010, 201, 202)), sta.config("ssid")])
sta.active(False)
out("deactivated", [sta.status(), sta.isconnected()])
""" % HOME, tmp_path)
    check(got, {
        "returns": None,
        "at once": [CONNECTING, False, ["0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0"]],
        "again while joining": raised("OSError", "Wifi Internal Error"),
        "scan while joining": [],
        "join": [CONNECTING, GOT_IP],
        "took the join delay": True,
        # the lease: 192.168.<10 + BSSID low 16 bits % 240>.<100 + last MAC byte % 100>
        "connected": [True, ["192.168.11.101", "255.255.255.0", "192.168.11.1", "192.168.11.1"], -48, "home", 6],
        "dns": "192.168.11.1",
        "open AP takes any key": [None, [CONNECTING, GOT_IP], "192.168.12.101"],
        "disconnected": [IDLE, False, ["0.0.0.0", "0.0.0.0", "0.0.0.0"], raised("OSError", "Wifi Not Connected")],
        # after disconnect() the chip says IDLE, not CONNECTING, until the join concludes
        "reconnect with the stored ssid/key": [[IDLE, GOT_IP], "cafe"],
        "deactivated": [IDLE, False],
    })


def test_wrong_password_then_retry_succeeds_when_the_key_matches(tmp_path):
    got = run_both("""
world([%s])
sta.active(True)
sta.config(reconnects=0)
sta.connect("home", "wrong")
out("wrong key, no retries", [trace((1010, 201, 202)), hold(1300), sta.isconnected()])
sta.config(reconnects=-1)
sta.connect("home", "wrong")
out("wrong key, retrying", [trace((1010, 201, 202)), attempt(sta.connect, "home", "wrong")])
world([AP('home', 'wrong', 1)])
out("the AP now takes that key", [trace((1010,)), sta.isconnected()])
""" % HOME, tmp_path)
    check(got, {
        "wrong key, no retries": [[CONNECTING, WRONG_PASSWORD], [WRONG_PASSWORD], False],
        # WRONG_PASSWORD shows while the chip retries; connect() then is refused
        "wrong key, retrying": [[WRONG_PASSWORD], raised("OSError", "Wifi Internal Error")],
        "the AP now takes that key": [[WRONG_PASSWORD, GOT_IP], True],
    })


def test_no_such_ap(tmp_path):
    got = run_both("""
world([%s])
sta.active(True)
sta.config(reconnects=0)
sta.connect("nowhere", "x")
out("fails", trace((1010, 201, 202)))
world([%s, AP('nowhere', 'x', 2)])
out("no retry with reconnects=0", [hold(1300), sta.isconnected()])
sta.connect()
out("connect() again", trace((1010,)))
""" % (HOME, HOME), tmp_path)
    check(got, {
        "fails": [CONNECTING, NO_AP_FOUND],
        "no retry with reconnects=0": [[NO_AP_FOUND], False],
        "connect() again": [NO_AP_FOUND, GOT_IP],  # the old reason shows until the new join concludes
    })


def test_bssid_selects_between_aps_with_one_ssid(tmp_path):
    got = run_both("""
world([AP('twin', 'first-key', 1, channel=11, rssi=-40), AP('twin', 'second-key', 2, channel=3, rssi=-80)])
sta.active(True)
sta.config(reconnects=0)
first = bytes.fromhex("020000000001")
sta.connect("twin", "first-key", bssid=first)
out("by bssid", [trace((1010, 201, 202)), sta.status("rssi"), sta.config("channel"), sta.ifconfig()[0]])
sta.disconnect()
sta.connect("twin", "first-key", bssid=bytes.fromhex("020000000002"))
out("other bssid, its key differs", trace((1010, 201, 202)))
sta.disconnect()
sta.connect("twin", "first-key", bssid=bytes.fromhex("020000000009"))
out("absent bssid", trace((1010, 201, 202)))
sta.disconnect()
sta.connect(b"twin", b"second-key")  # bytes work too
out("no bssid: the first found going up the channels", [trace((1010, 201, 202)), sta.status("rssi")])
out("bssid of 5 bytes", attempt(sta.connect, "twin", "x", bssid=b"12345"))
""", tmp_path)
    check(got, {
        "by bssid": [[CONNECTING, GOT_IP], -40, 11, "192.168.11.101"],
        "other bssid, its key differs": [IDLE, WRONG_PASSWORD],
        "absent bssid": [IDLE, NO_AP_FOUND],
        "no bssid: the first found going up the channels": [[IDLE, GOT_IP], -80],
        "bssid of 5 bytes": raised("ValueError", ""),
    })


def test_ap_vanishes_and_returns_retrying_forever(tmp_path):
    got = run_both("""
world([%s])
sta.active(True)
out("default reconnects", sta.config("reconnects"))
sta.connect("home", "secret123")
out("joined", trace((1010, 201, 202)))
world([])
out("gone", [sta.isconnected(), trace((201,))])
out("scan while retrying", sta.scan())
world([%s])
out("back", [trace((1010,)), sta.isconnected(), sta.ifconfig()[0]])
world([AP('home', 'new-password', 1)])
out("key changed", [sta.isconnected(), trace((202,))])
""" % (HOME, HOME), tmp_path)
    check(got, {
        "default reconnects": -1,
        "joined": [CONNECTING, GOT_IP],
        # beacon timeout while retrying reads CONNECTING; the first retry finds no AP
        "gone": [False, [CONNECTING, NO_AP_FOUND]],
        "scan while retrying": [],
        "back": [[NO_AP_FOUND, GOT_IP], True, "192.168.11.101"],
        "key changed": [False, [CONNECTING, WRONG_PASSWORD]],
    })


def test_ap_vanishes_and_returns_with_reconnects_0(tmp_path):
    got = run_both("""
world([%s])
sta.active(True)
sta.config(reconnects=0)
out("reconnects", sta.config("reconnects"))
sta.connect("home", "secret123")
out("joined", trace((1010, 201, 202)))
world([])
out("gone", [sta.status(), sta.isconnected()])
world([%s])
out("back, no rejoin", [hold(1300), sta.isconnected(), sta.ifconfig()[0]])
sta.connect()
out("rejoined by hand", trace((1010, 201, 202)))
world([AP('home', 'new-password', 1)])
out("key changed", [sta.status(), sta.isconnected()])
sta.config(reconnects=3)
out("reconnects=3", sta.config("reconnects"))
""" % (HOME, HOME), tmp_path)
    check(got, {
        "reconnects": 0,
        "joined": [CONNECTING, GOT_IP],
        "gone": [BEACON_TIMEOUT, False],
        "back, no rejoin": [[BEACON_TIMEOUT], False, "0.0.0.0"],
        "rejoined by hand": [CONNECTING, GOT_IP],
        "key changed": [BEACON_TIMEOUT, False],
        "reconnects=3": 3,
    })


def test_scan(tmp_path):
    got = run_both("""
world([AP('weak', '', 4, channel=1, rssi=-90), %s, AP('ghost', 'hiddenkey', 3, channel=9, rssi=-60, hidden=True)])
sta.active(True)
start = ms()
found = sta.scan()
out("blocks", ms() - start >= 40)
out("tuples", found)
out("types", [[type(x).__name__ for x in entry] for entry in found][0])
out("from the AP interface", ap.scan() == found)
sta.config(reconnects=0)
sta.connect("ghost", "hiddenkey")
out("a hidden AP can be joined", trace((1010, 201, 202)))
""" % HOME, tmp_path)
    check(got, {
        "blocks": True,
        "tuples": [
            ["b:686f6d65", "b:020000000001", 6, -48, 3, False],
            ["b:", "b:020000000003", 9, -60, 3, False],
            ["b:7765616b", "b:020000000004", 1, -90, 0, False],
        ],
        "types": ["bytes", "bytes", "int", "int", "int", "bool"],
        "from the AP interface": True,
        "a hidden AP can be joined": [CONNECTING, GOT_IP],
    })


def test_static_ifconfig_and_ipconfig(tmp_path):
    got = run_both("""
world([%s])
sta.active(True)
sta.config(reconnects=0)
out("dhcp by default", sta.ipconfig("dhcp4"))
sta.ifconfig(("10.0.0.5", 24, "10.0.0.1", "1.1.1.1"))
out("static, prefix length", [sta.ifconfig(), sta.ipconfig("dhcp4"), network.ipconfig("dns")])
sta.connect("home", "secret123")
out("static while connected", [trace((1010, 201, 202)), sta.ifconfig()])
sta.ifconfig("dhcp")
out("back to dhcp", [sta.ipconfig("dhcp4"), sta.ifconfig()])
sta.ipconfig(addr4="172.16.1.9/16", gw4="172.16.0.1")
out("ipconfig set", [sta.ipconfig("addr4"), sta.ipconfig("gw4"), sta.ipconfig("dhcp4"), sta.ifconfig()[3]])
sta.ipconfig(dhcp4=True)
out("ipconfig dhcp4", [sta.ipconfig("dhcp4"), sta.ifconfig()[0]])
network.ipconfig(dns="8.8.8.8")
out("global dns", [network.ipconfig("dns"), sta.ifconfig()[3]])
out("bad address", attempt(sta.ifconfig, ("10.0.0.256", "255.255.255.0", "10.0.0.1", "8.8.8.8")))
out("bad mode", attempt(sta.ifconfig, "static"))
out("ap dhcp", attempt(ap.ifconfig, "dhcp"))
out("ap dhcp4", attempt(ap.ipconfig, "dhcp4"))
out("unexpected key", [attempt(sta.ipconfig, "dns"), attempt(network.ipconfig, "prefer")])
out("one query", [attempt(sta.ipconfig), attempt(network.ipconfig, "dns", dns="1.1.1.1")])
""" % HOME, tmp_path)
    check(got, {
        "dhcp by default": True,
        "static, prefix length": [["10.0.0.5", "255.255.255.0", "10.0.0.1", "1.1.1.1"], False, "1.1.1.1"],
        "static while connected": [[CONNECTING, GOT_IP], ["10.0.0.5", "255.255.255.0", "10.0.0.1", "1.1.1.1"]],
        "back to dhcp": [True, ["192.168.11.101", "255.255.255.0", "192.168.11.1", "192.168.11.1"]],
        "ipconfig set": [["172.16.1.9", "255.255.0.0"], "172.16.0.1", False, "192.168.11.1"],
        "ipconfig dhcp4": [True, "192.168.11.101"],
        "global dns": ["8.8.8.8", "8.8.8.8"],
        "bad address": raised("ValueError", "invalid arguments"),
        "bad mode": raised("ValueError", "invalid arguments"),
        "ap dhcp": raised("ValueError", "invalid arguments"),
        "ap dhcp4": raised("ValueError", "unexpected key"),
        "unexpected key": [raised("ValueError", "unexpected key"), raised("ValueError", "unexpected key")],
        "one query": [raised("TypeError", "must query one param"),
                      raised("TypeError", "can't specify pos and kw args")],
    })


def test_softap_and_its_stations(tmp_path):
    got = run_both("""
STATIONS = [{"mac": "aa:bb:cc:00:00:01", "ip": "192.168.4.2"}, {"mac": "aa:bb:cc:00:00:02", "ip": None},
            {"mac": "aa:bb:cc:00:00:03", "ip": "192.168.4.4"}]
world([], STATIONS)
out("defaults", [ap.config("ssid"), ap.config("security"), ap.config("channel"), ap.config("hidden"),
                 ap.config("max_clients"), ap.ifconfig()])
ap.active(True)
out("active", [ap.status(), ap.isconnected(), ap.status("stations")])
ap.config(max_clients=2)
out("max_clients", [ap.config("max_clients"), ap.status("stations")])
world([], STATIONS[1:2])
out("one left", [ap.isconnected(), ap.status("stations")])
world([], [])
out("none left", [ap.isconnected(), ap.status("stations")])
out("short key", attempt(ap.config, security=network.WLAN.SEC_WPA2))
ap.config(ssid="upy-ap", key="12345678", security=network.WLAN.SEC_WPA2, channel=11, hidden=1)
out("configured", [ap.config("essid"), ap.config("authmode"), ap.config("channel"), ap.config("hidden")])
out("max_clients range", [attempt(ap.config, max_clients=0), attempt(ap.config, max_clients=11)])
ap.ifconfig(("192.168.5.1", "255.255.255.0", "192.168.5.1", "8.8.8.8"))
out("ifconfig", [ap.ifconfig(), ap.ipconfig("addr4")])
out("wrong interface", [attempt(ap.status, "rssi"), attempt(sta.status, "stations"), attempt(ap.status, "x")])
ap.active(False)
sta.active(True)
out("down", [ap.isconnected(), attempt(ap.status, "stations")])
""", tmp_path)
    check(got, {
        "defaults": ["ESP_000002", 0, 1, False, 10, ["192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0"]],
        "active": [None, True, [["b:aabbcc000001", "192.168.4.2"], ["b:aabbcc000002", None],
                                ["b:aabbcc000003", "192.168.4.4"]]],
        "max_clients": [2, [["b:aabbcc000001", "192.168.4.2"], ["b:aabbcc000002", None]]],
        "one left": [True, [["b:aabbcc000002", None]]],
        "none left": [False, []],
        "short key": raised("OSError", "Wifi Invalid Password"),
        "configured": ["upy-ap", 3, 11, True],
        "max_clients range": [raised("RuntimeError", "Wifi Unknown Error 0x0102")] * 2,
        "ifconfig": [["192.168.5.1", "255.255.255.0", "192.168.5.1", "8.8.8.8"], ["192.168.5.1", "255.255.255.0"]],
        "wrong interface": [raised("OSError", "STA required"), raised("OSError", "AP required"),
                            raised("ValueError", "unknown status param")],
        "down": [False, raised("OSError", "Wifi Invalid Mode")],
    })


def test_config_keys_and_errors(tmp_path):
    got = run_both("""
out("macs", [sta.config("mac"), ap.config("mac")])
sta.config(mac=bytes.fromhex("02aabbccddee"))
out("mac set", sta.config("mac"))
out("mac length", attempt(sta.config, mac=b"12345"))
out("multicast mac", attempt(sta.config, mac=bytes.fromhex("01aabbccddee")))
out("txpower", sta.config("txpower"))
ap.config(txpower=13.1)
out("txpower quantised, radio-wide", [sta.config("txpower"), ap.config("txpower")])
out("txpower range", [attempt(sta.config, txpower=1.5), attempt(sta.config, txpower=21.5)])
out("pm", sta.config("pm") == network.WLAN.PM_PERFORMANCE)
sta.config(pm=network.WLAN.PM_NONE)
out("pm set", ap.config("pm"))
out("hostname", [sta.config("hostname"), network.hostname()])
sta.config(dhcp_hostname="dev-1")
out("hostname set", [network.hostname(), sta.config("dhcp_hostname")])
network.hostname("h" * 32)
out("hostname 32", sta.config("hostname") == "h" * 32)
out("hostname 33", [attempt(network.hostname, "h" * 33), attempt(sta.config, hostname="h" * 33)])
out("ap hostname", attempt(ap.config, "hostname"))
out("sta ssid before connect", sta.config("ssid"))
out("unknown", [attempt(sta.config, "nope"), attempt(sta.config, nope=1), attempt(ap.config, "key")])
out("ap-only on sta", [attempt(sta.config, ssid="x"), attempt(sta.config, "hidden"), attempt(sta.config, key="x"),
                       attempt(sta.config, "security"), attempt(sta.config, max_clients=3)])
out("sta-only on ap", [attempt(ap.config, "reconnects"), attempt(ap.config, reconnects=1)])
out("one at a time", [attempt(sta.config, "mac", "pm"), attempt(sta.config), attempt(sta.config, "mac", pm=1)])
out("nothing applied on error", [attempt(ap.config, ssid="changed", nope=1), ap.config("ssid")])
""", tmp_path)
    check(got, {
        "macs": ["b:240ac4000001", "b:240ac4000002"],
        "mac set": "b:02aabbccddee",
        "mac length": raised("ValueError", "invalid buffer length"),
        "multicast mac": raised("OSError", "Wifi Invalid MAC Address"),
        "txpower": 19.5,
        "txpower quantised, radio-wide": [13.0, 13.0],
        "txpower range": [raised("RuntimeError", "Wifi Unknown Error 0x0102")] * 2,
        "pm": True,
        "pm set": 0,
        "hostname": ["mpy-esp32", "mpy-esp32"],
        "hostname set": ["dev-1", "dev-1"],
        "hostname 32": True,
        "hostname 33": [raised("ValueError", ""), raised("ValueError", "")],
        "ap hostname": raised("OSError", "STA required"),
        "sta ssid before connect": "",
        "unknown": [raised("ValueError", "unknown config param")] * 3,
        "ap-only on sta": [raised("OSError", "AP required")] * 5,
        "sta-only on ap": [raised("OSError", "STA required")] * 2,
        "one at a time": [raised("TypeError", "can query only one param")] * 2
        + [raised("TypeError", "either pos or kw args are allowed")],
        "nothing applied on error": [raised("ValueError", "unknown config param"), "ESP_000002"],
    })


# ---- tools/emulate's control channel -------------------------------------------------------------

@pytest.fixture(scope="module")
def emu():
    with Emulator("micropython", args=["--ap", "home,secret123,02:00:00:00:00:01,6,-48"]) as e:
        yield e


def radio(emu):
    with open(os.path.join(emu.state, "radio.json")) as f:
        on_disk = json.load(f)
    assert on_disk == emu.control(op="status")["radio"]
    return on_disk


def test_control_station_join_and_leave(emu):
    assert emu.control(op="station_join", mac="AA:BB:CC:00:00:01") == {"ok": True}
    assert emu.control(op="station_join", mac="aa:bb:cc:00:00:02", ip="192.168.4.9") == {"ok": True}
    assert emu.control(op="station_join", mac="aa:bb:cc:00:00:03") == {"ok": True}
    assert emu.control(op="station_join", mac="aa:bb:cc:00:00:04", ip=None) == {"ok": True}
    assert radio(emu)["stations"] == [
        {"mac": "aa:bb:cc:00:00:01", "ip": "192.168.4.2"},
        {"mac": "aa:bb:cc:00:00:02", "ip": "192.168.4.9"},
        {"mac": "aa:bb:cc:00:00:03", "ip": "192.168.4.3"},
        {"mac": "aa:bb:cc:00:00:04", "ip": None},
    ]
    assert emu.control(op="station_leave", mac="aa:bb:cc:00:00:01") == {"ok": True}
    assert emu.control(op="station_join", mac="aa:bb:cc:00:00:05") == {"ok": True}  # takes the freed .2
    assert emu.control(op="station_leave", mac="aa:bb:cc:00:00:01")["ok"] is False
    assert emu.control(op="station_join", mac="aa:bb")["ok"] is False
    assert [s["ip"] for s in radio(emu)["stations"]] == ["192.168.4.9", "192.168.4.3", None, "192.168.4.2"]
    for mac in ("aa:bb:cc:00:00:02", "aa:bb:cc:00:00:03", "aa:bb:cc:00:00:04", "aa:bb:cc:00:00:05"):
        assert emu.control(op="station_leave", mac=mac) == {"ok": True}


def test_control_ap_add_replaces_and_set_join_ms(emu):
    assert emu.control(op="ap_add", ssid="twin", password="first-key", bssid="02:00:00:00:0A:01") == {"ok": True}
    assert emu.control(op="ap_add", ssid="twin", password="second-key", bssid="02:00:00:00:0a:02") == {"ok": True}
    assert emu.control(op="ap_add", ssid="home", password="new-key", rssi=-70) == {"ok": True}  # keeps its BSSID
    assert emu.control(op="ap_add", ssid="twin", password="third-key", bssid="02:00:00:00:0a:02") == {"ok": True}
    aps = {(a["ssid"], a["bssid"]): (a["password"], a["rssi"]) for a in radio(emu)["aps"]}
    assert aps == {
        ("home", "02:00:00:00:00:01"): ("new-key", -70),
        ("twin", "02:00:00:00:0a:01"): ("first-key", -60),
        ("twin", "02:00:00:00:0a:02"): ("third-key", -60),
    }
    assert emu.control(op="set", join_ms=50) == {"ok": True}
    assert radio(emu)["join_ms"] == 50
    assert emu.control(op="set", join_ms=50, rssi=1)["ok"] is False
    assert emu.control(op="ap_remove", ssid="twin") == {"ok": True}
    assert emu.control(op="ap_add", ssid="home", password="secret123") == {"ok": True}


def test_control_channel_drives_the_radio(emu, tmp_path):
    """Stations joined through the control channel are what WLAN(IF_AP).status('stations') reports."""
    emu.control(op="station_join", mac="aa:bb:cc:00:00:07")
    emu.control(op="station_join", mac="aa:bb:cc:00:00:08", ip=None)
    script = tmp_path / "probe.py"
    script.write_text(PRELUDE + """
ap.active(True)
out("stations", ap.status("stations"))
sta.active(True)
sta.connect("home", "secret123")
out("join", trace((1010, 201, 202)))
""")
    for exe in (MICROPYTHON, sys.executable):
        env = dict(os.environ, AT_STATE=emu.state)
        r = subprocess.run([exe, str(script)], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        got = dict(json.loads(line) for line in r.stdout.splitlines())
        assert got == {"stations": [["b:aabbcc000007", "192.168.4.2"], ["b:aabbcc000008", None]],
                       "join": [CONNECTING, GOT_IP]}, exe
    emu.control(op="station_leave", mac="aa:bb:cc:00:00:07")
    emu.control(op="station_leave", mac="aa:bb:cc:00:00:08")
