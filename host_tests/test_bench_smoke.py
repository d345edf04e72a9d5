"""tools/bench --quick runs and prints every figure with a number: a test of the program, not of speed.
Also what the heap and install tooling promise: tools/emulate --mpy, the README's heap example, package.json."""
import json
import os
import re
import subprocess
import sys

import pytest

from harness import Emulator, run_transcript

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUM = r"\d+(\.\d+)?"
RATIO = r"%s  baseline %s  ratio %s" % (NUM, NUM, NUM)
MQTT = r"(%s|skipped  \(no mosquitto\))" % RATIO  # the MQTT figures need mosquitto
EXPECTED = {
    "date": r"\d{4}-\d\d-\d\dT\S+",
    "machine_nproc": r"\d+",
    "machine_loadavg_1min": NUM,
    "python_version": r"\d+\.\d+\.\d+",
    "micropython_version": r"\d+\.\d+\.\d+",
    "at_round_trip_median_us": RATIO,
    "at_round_trip_p90_us": RATIO,
    "dispatch_cmds_per_s": RATIO,
    "passthrough_uart_to_tcp_bytes_per_s": RATIO,
    "passthrough_tcp_to_uart_bytes_per_s": RATIO,
    "ipd_receive_payload_bytes_per_s": RATIO,
    "ipd_bare_framer_payload_bytes_per_s": RATIO,
    "passive_receive_bytes_per_s": r"\d+ ipd \d+ ratio %s" % NUM,
    "mqtt_pub_qos0_msgs_per_s": MQTT,
    "mqtt_pub_qos1_msgs_per_s": MQTT,
    "min_heap_kib_mpy_boot": r"skipped  \(--quick\)",
    "min_heap_kib_mpy": r"skipped  \(--quick\)",
    "min_heap_kib_mpy_espat": r"skipped  \(--quick\)",
    "min_heap_kib_mpy_tencent": r"skipped  \(--quick\)",
    "min_heap_kib_mpy_aliyun": r"skipped  \(--quick\)",
    "min_heap_kib_mpy_cellular": r"skipped  \(--quick\)",
    "min_heap_kib_mpy_ble": r"skipped  \(--quick\)",
    "mpy_total_bytes": r"\d+",
    "import_heap_kib_firmware": r"\d+  \(.+\)",
    "boot_heap_kib": r"\d+  \(.+\)",
    "host_board_heap_kib": r"\d+  \(.+\)",
    "instructions_per_at_round_trip": r"(%s|skipped  \(no valgrind\))" % RATIO,
    "instructions_per_passthrough_kib": r"(%s|skipped  \(no valgrind\))" % RATIO,
    "instructions_per_mqtt_pub_qos0": r"(%s|skipped  \(no (valgrind|mosquitto)\))" % RATIO,
    "mqtt_pub_qos0_vs_umqtt": MQTT,
    "mqtt_pub_qos1_vs_umqtt": MQTT,
    # a number, or "failed (after: <step>; why)" when the firmware died: test_busy_espat_completes says which
    "peak_heap_kib_busy_espat": r"(\d+  \(.+\)|skipped  \(no mosquitto.*\)|failed  \(after: .+\))",
}


@pytest.fixture(scope="module")
def quick():
    """tools/bench --quick, run once for the tests below: (the run, {figure: value})."""
    res = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench"), "--quick"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    figures = {}
    for line in res.stdout.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            figures.setdefault(name, value)
    return res, figures


def test_bench_quick_prints_every_figure(quick):
    res, _ = quick
    assert res.returncode == 0, res.stdout + res.stderr
    figures = {}
    for line in res.stdout.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            assert name not in figures, "figure printed twice: %r" % line
            figures[name] = value
    assert sorted(figures) == sorted(EXPECTED), res.stdout
    for name, pattern in EXPECTED.items():
        assert re.fullmatch(pattern, figures[name]), "%s: %r does not match %r" % (name, figures[name], pattern)
    assert int(figures["mpy_total_bytes"]) > 0


def test_busy_espat_completes(quick):
    _, figures = quick
    assert re.fullmatch(r"(\d+  \(.+\)|skipped  \(no mosquitto.*\))", figures["peak_heap_kib_busy_espat"]), \
        figures["peak_heap_kib_busy_espat"]


# ---- the .mpy firmware on the emulator ------------------------------------------------------------
def readme_heap_example():
    """The heap the README's emulator table gives as its --mpy example."""
    with open(os.path.join(ROOT, "README.md")) as f:
        m = re.search(r"\| `--heap SIZE` \| MicroPython heap, e\.g\. `--mpy --heap (\d+K)`", f.read())
    assert m, "the README's --heap row lost its example"
    return m.group(1)


def test_emulate_mpy_runs_the_compiled_firmware_at_the_readme_heap():
    """--mpy builds the .mpy files (firmware and host board) into STATE/mpy and runs them; at the README's
    heap a transcript passes with no traceback on the console."""
    heap = readme_heap_example()
    with Emulator("micropython", args=("--mpy", "--heap", heap)) as emu:
        built = os.path.join(emu.state, "mpy")
        assert os.path.exists(os.path.join(built, "at", "engine.mpy"))
        assert os.path.exists(os.path.join(built, "host", "machine.mpy"))
        assert not os.path.exists(os.path.join(built, "at", "engine.py"))
        run_transcript(emu, os.path.join(ROOT, "host_tests", "transcripts", "basic.at"))
        assert "Traceback" not in emu.console(), emu.console()


def test_emulate_mpy_refuses_cpython():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "emulate"), "--interp", "cpython", "--mpy"],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "--mpy runs under --interp micropython only" in res.stderr


# ---- package.json for mip ------------------------------------------------------------------------
def chip_files():
    """Every file that goes on the chip (as tools/build_mpy picks them): board path -> repository path."""
    out = {"boardcfg.py": "boards/esp32_generic/boardcfg.py"}
    firmware = os.path.join(ROOT, "firmware")
    for base, _, files in os.walk(firmware):
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(base, name), firmware)
                out[rel] = "firmware/" + rel
    return out


def test_package_json_lists_every_firmware_file_and_nothing_missing():
    with open(os.path.join(ROOT, "package.json")) as f:
        pkg = json.load(f)
    assert set(pkg) == {"urls", "deps", "version"}
    assert pkg["deps"] == [] and re.fullmatch(r"\d+\.\d+\.\d+", pkg["version"])
    listed = dict(pkg["urls"])
    assert len(listed) == len(pkg["urls"]), "a board path is listed twice"
    for dest, src in pkg["urls"]:
        assert os.path.isfile(os.path.join(ROOT, src)), "package.json lists %s, which does not exist" % src
    assert listed == chip_files(), "run tools/package_json: package.json and firmware/ differ"
    assert listed["main.py"] == "firmware/main.py"  # mip install --target=/ puts it where the board runs it
