"""Driving the emulator as MCU code written for the Air724UG does: commands end with a lone CR, and a
command's answer ends with OK, ERROR or ``+CME ERROR: <n>``. Shared by the test_cellular*.py files."""
import aliyun_auth_double

SEED_PK = "b0FMK1Ga5cp"  # seed 003's triple
SEED_DN = "862991419835241"
SEED_SECRET = "y7MTCG6Gk33Ux26bbWSpANl4OaI0bg5Q"
SEED_SIGN = "1eb96463ad2345b6c261e2f7cc78a7a0"
SEED_IOT_ID = "jlvFGfQ11FlGOEJ4RoZU001013ba00"  # what the seed's cloud answered
SEED_IOT_TOKEN = "613d9cb0946741df98db1c50255a9dd0"
SEED_BODY = "productKey=%s&sign=%s&clientId=%s&deviceName=%s" % (SEED_PK, SEED_SIGN, SEED_DN, SEED_DN)


def seed_double(tls=None):
    """The auth double knowing the seed's device, answering with the seed's iotId and iotToken."""
    key = (SEED_PK, SEED_DN)
    return aliyun_auth_double.AliyunAuth({key: SEED_SECRET}, tls=tls, tokens={key: (SEED_IOT_ID, SEED_IOT_TOKEN)})


def is_final(line):
    return line in (b"OK", b"ERROR") or line.startswith(b"+CME ERROR: ")


def cmd(emu, line, timeout=10):
    """Send ``line`` ended by CR alone; the answer's non-empty lines up to its final one."""
    emu.send(line.encode() + b"\r")
    lines = []
    while True:
        lines.append(emu.line(timeout))
        if is_final(lines[-1]):
            return lines


def online(emu):
    """Echo off and Wi-Fi up (the 'network' the cellular commands run over)."""
    assert cmd(emu, "ATE0")[-1] == b"OK"
    assert cmd(emu, 'AT+CWJAP="upy-at-emu","emulator1"')[-1] == b"OK"


def post(emu, url, body, headers=("Content-Type: application/x-www-form-urlencoded",)):
    """AT+HTTPINIT, URL, headers, AT+HTTPDATA with ``body``, AT+HTTPACTION=1: the +HTTPACTION line."""
    assert cmd(emu, "AT+HTTPINIT") == [b"OK"]
    assert cmd(emu, 'AT+HTTPPARA="URL","%s"' % url) == [b"OK"]
    for header in headers:
        assert cmd(emu, 'AT+HTTPPARA="USER_DEFINED","%s"' % header) == [b"OK"]
    emu.send(b"AT+HTTPDATA=%d,20000\r" % len(body))
    assert emu.line() == b"DOWNLOAD"
    emu.send(body.encode() if isinstance(body, str) else body)
    assert emu.line() == b"OK"
    assert cmd(emu, "AT+HTTPACTION=1") == [b"OK"]
    return emu.line(30)
