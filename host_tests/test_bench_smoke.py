"""tools/bench --quick runs and prints every figure with a number: a test of the program, not of speed."""
import os
import re
import subprocess
import sys

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
    "passive_receive_bytes_per_s": r"\d+ ipd \d+ ratio %s" % NUM,
    "mqtt_pub_qos0_msgs_per_s": MQTT,
    "mqtt_pub_qos1_msgs_per_s": MQTT,
    "min_heap_kib": r"skipped  \(--quick\)",
    "mpy_total_bytes": r"\d+",
}


def test_bench_quick_prints_every_figure():
    res = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bench"), "--quick"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
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
