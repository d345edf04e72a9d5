"""firmware/cloud/ against the published and computed vectors of cloud-vectors.json (a copy of
../shared/reference/cloud-vectors.json, cloud-protocols.md §7), in the interpreter the chip runs (the
MicroPython unix port) and under CPython.

Each case is an expression over firmware/cloud/ and the vector's expected value. All cases of an
interpreter are evaluated in one subprocess (cloud_doubles.run_firmware), which prints one JSON result per
line; each case is then its own test.
"""
import hashlib
import hmac as py_hmac
import json
import os

import pytest

from cloud_doubles import run_firmware
from harness import INTERPRETERS

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "cloud-vectors.json")) as _f:
    V = {v["name"]: v for v in json.load(_f)["vectors"]}


def _i(name):
    return V[name]["inputs"]


def _e(name):
    return V[name]["expected"]


def _cases():
    """(case id, expression, expected value) for every vector of a function firmware/cloud/ has."""
    cases = []

    def add(case, expr, expected):
        cases.append((case, expr, expected))

    for name in ("aliyun_direct_linkkit_securemode2", "aliyun_direct_linkkit_securemode3"):
        i, e = _i(name), _e(name)
        add(name, "aliyun.mqtt_credentials(%r, %r, %r, %r, %d, 'hmacsha1', %r, 'ext=1,_ss=1,lan=Python,_v=1.2.13')"
            % (i["productKey"], i["deviceName"], i["deviceSecret"], i["timestamp_seconds"], 2 if i["tls"] else 3,
               i["productKey"] + "&" + i["deviceName"]),
            [e["clientId"], e["username"], e["password"]])
        add(name + "/host", "aliyun.mqtt_host(%r, %r)" % (i["productKey"], i["region"]), e["host"])
    i, e = _i("aliyun_endpoint_instance"), _e("aliyun_endpoint_instance")
    add("aliyun_endpoint_instance", "[aliyun.mqtt_host(%r, %r, %r), aliyun.mqtt_host(%r, %r)]"
        % (i["productKey"], i["region"], i["instance_id"], i["productKey"], i["region"]),
        [e["host"], e["host_without_instance"]])
    i, e = _i("aliyun_password_all_signmethods"), _e("aliyun_password_all_signmethods")
    for method in ("hmacmd5", "hmacsha1", "hmacsha256"):
        add("aliyun_password_all_signmethods/" + method,
            "aliyun.mqtt_credentials(%r, %r, %r, %r, 3, %r, %r)" % (i["productKey"], i["deviceName"],
                                                                      i["deviceSecret"], i["timestamp"], method,
                                                                      i["clientId"]),
            [i["mqttClientId_tcp_template"].format(m=method), e["username"], e["password_" + method]])
    for name in ("aliyun_doc_example_12345", "aliyun_blog_example_a14Xib5kdYd"):
        i, e = _i(name), _e(name)
        add(name, "aliyun.mqtt_credentials(%r, %r, %r, %r, 3, %r, %r)" % (
            i["productKey"], i["deviceName"], i["deviceSecret"], i["timestamp"], i["signmethod"], i["clientId"]),
            [e["mqttClientId"], e["mqttUsername"], e["mqttPassword"]])
    i, e = _i("aliyun_csdk_style_fixed_timestamp"), _e("aliyun_csdk_style_fixed_timestamp")
    add("aliyun_csdk_style_fixed_timestamp", "aliyun.sign('hmacsha256', %r, %r, %r, %r, '2524608000000').upper()"
        % (i["deviceSecret"], i["productKey"] + "." + i["deviceName"], i["deviceName"], i["productKey"]),
        e["password_uppercase_as_sdk_sends"])
    i, e = _i("aliyun_dynreg_https_register_device"), _e("aliyun_dynreg_https_register_device")
    add("aliyun_dynreg_https_register_device", "[aliyun.register_sign(%r, %r, %r, %r), aliyun.register_body(%r, %r, "
        "%r, %r), 'https://' + aliyun.auth_host() + '/auth/register/device']"
        % (i["productSecret"], i["deviceName"], i["productKey"], i["random"], i["productKey"], i["deviceName"],
           i["productSecret"], i["random"]), [e["sign"], e["body"], e["url"]])
    for name in ("aliyun_dynreg_mqtt_register", "aliyun_dynreg_mqtt_regnwl"):
        i, e = _i(name), _e(name)
        add(name, "aliyun.register_mqtt_credentials(%r, %r, %r, %r, %r)" % (
            i["productKey"], i["deviceName"], i["productSecret"], i["random"], i["authType"]),
            [e["clientId"], e["username"], e["password"]])
    i, e = _i("aliyun_regnwl_reply_to_connect"), _e("aliyun_regnwl_reply_to_connect")
    reply = i["reply_payload"]
    add("aliyun_regnwl_reply_to_connect", "aliyun.connwl_credentials(%r, %r, %r, %r, %r)" % (
        reply["clientId"], reply["productKey"], reply["deviceName"], reply["deviceToken"],
        "_ss=1,ext=3,lan=Python,_v=1.2.13"), [e["clientId"], e["username"], e["password"]])
    i, e = _i("aliyun_auth_devicename_hmacmd5"), _e("aliyun_auth_devicename_hmacmd5")
    add("aliyun_auth_devicename_hmacmd5 (seed 003)", "aliyun.sign('hmacmd5', %r, %r, %r, %r)" % (
        i["deviceSecret"], i["clientId"], i["deviceName"], i["productKey"]), "1eb96463ad2345b6c261e2f7cc78a7a0")
    name = "aliyun_auth_devicename_with_timestamp_sha1"
    i, e = _i(name), _e(name)
    add(name, "aliyun.devicename_body(%r, %r, %r, %r, %r, %r)" % (
        i["productKey"], i["deviceName"], i["clientId"], i["deviceSecret"], i["signmethod"], i["timestamp"]),
        e["body"])
    i, e = _i("aliyun_topics"), _e("aliyun_topics")
    pk, dn = i["productKey"], i["deviceName"]
    paths = {"prop_post": "thing/event/property/post", "prop_set": "thing/service/property/set",
             "event_post": "thing/event/Error/post", "service_async_reply": "thing/service/SetTemp_reply",
             "rrpc_sub": "rrpc/request/+", "rrpc_response": "rrpc/response/" + i["rrpcId"],
             "ota_firmware_get_reply": "thing/ota/firmware/get_reply"}
    for key, path in sorted(paths.items()):
        add("aliyun_topics/" + key, "aliyun.thing_topic(%r, %r, %r)" % (pk, dn, path), e[key])
    for kind in ("inform", "upgrade", "progress"):
        add("aliyun_topics/ota_" + kind, "aliyun.ota_topic(%r, %r, %r)" % (kind, pk, dn), e["ota_" + kind])
    add("aliyun_topics/ext_rrpc", "aliyun.ext_rrpc_topic(%r, aliyun.thing_topic(%r, %r, 'thing/service/SetTemp'))"
        % (i["rrpcId"], pk, dn), e["ext_rrpc_request_and_reply_same_topic"])

    for name in ("tencent_mqtt_sign_psk_doc16", "tencent_mqtt_sign_psk_atdoc8"):
        i, e = _i(name), _e(name)
        for method in ("hmacsha256", "hmacsha1"):
            add("%s/%s" % (name, method), "tencent.mqtt_credentials(%r, %r, %r, %r, %d, %r)" % (
                i["productId"], i["deviceName"], i["devicePsk"], i["connid"], i["expiry"], method),
                [e["clientId"], e["username"], e["password_" + method]])
        sdk = e["c_sdk_v3_variant"]
        add(name + "/c_sdk", "tencent.mqtt_credentials(%r, %r, %r, %r, %d, 'hmacsha1', '21010406')" % (
            i["productId"], i["deviceName"], i["devicePsk"], i["connid"], i["expiry"]),
            [e["clientId"], sdk["username"], sdk["password"]])
        add(name + "/host", "tencent.mqtt_host(%r)" % i["productId"], e["host"])
    i, e = _i("tencent_mqtt_python_sdk_style"), _e("tencent_mqtt_python_sdk_style")
    add("tencent_mqtt_python_sdk_style", "tencent.mqtt_credentials(%r, %r, %r, %r, 1700000000000, 'hmacsha1', "
        "%r)[1:]" % (i["productId"], i["deviceName"], i["devicePsk"], i["connid"], i["appid"]),
        [e["username"], e["password"]])
    i, e = _i("tencent_dynreg_v1_register_dev"), _e("tencent_dynreg_v1_register_dev")
    add("tencent_dynreg_v1_register_dev", "tencent.register_body(%r, %r, %r, %d, %d)" % (
        i["productId"], i["deviceName"], i["productSecret"], i["nonce"], i["timestamp"]), e["body"])
    for name in ("tencent_dynreg_v2_crosscheck_tool_example", "tencent_dynreg_v2_device_register"):
        i, e = _i(name), _e(name)
        add(name, "[tencent.register_v2_body(%r, %r), tencent.register_v2_signature(%r, tencent.register_v2_body("
            "%r, %r), %d, %d, %r)]" % (i["productId"], i["deviceName"], i["productSecret"], i["productId"],
                                       i["deviceName"], i["timestamp"], i["nonce"], i["algorithm"]),
            [e["body"], e.get("X-TC-Signature") or e["headers"]["X-TC-Signature"]])
    i, e = _i("tencent_dynreg_payload_aes"), _e("tencent_dynreg_payload_aes")
    add("tencent_dynreg_payload_aes", "[tencent.register_payload(%r, %r), tencent.register_result(%r, %r)]" % (
        i["productSecret"], i["payload_b64"], i["productSecret"], i["payload_b64"]),
        [e["plaintext"], [2, "lDZ6Uqt+I9E0wW7rvDUs7Q=="]])
    e = _e("tencent_bcc_checksum")
    for text in _i("tencent_bcc_checksum")["strings"]:
        add("tencent_bcc_checksum/" + text, "tencent.bcc(%r)" % text, e[text])
    i, e = _i("tencent_topics"), _e("tencent_topics")
    for kind in ("report", "update"):
        add("tencent_topics/ota_" + kind, "tencent.ota_topic(%r, %r, %r)" % (kind, i["productId"], i["deviceName"]),
            e["ota_" + kind])

    add("tencent_topics/report_version", "json.loads(tencent.ota_report_version('1.0.0'))", e["report_version"])
    for state, percent, code, message in (("downloading", 10, 0, ""), ("burning", None, 0, ""),
                                          ("done", None, 0, ""), ("fail", None, -4, "md5 mismatch")):
        add("tencent_topics/report_progress_" + state, "json.loads(tencent.ota_report_progress(%r, '1.0.1', %r, %d, %r))"
            % (state, percent, code, message), e["report_progress_" + state])

    for name in ("crc16_ascii_123456789", "crc16_bytes_00_to_0f"):
        data, e = bytes.fromhex(_i(name)["data_hex"]), _e(name)
        add(name, "['0x%%04X' %% f for f in (crc.ccitt(%r), crc.ccitt(%r, 0xFFFF), crc.modbus(%r))]"
            % (data, data, data), [e["CRC-16/XMODEM"], e["CRC-16/CCITT-FALSE"], e["CRC-16/MODBUS"]])
    add("crc16 piece by piece", "crc.ccitt(b'56789', crc.ccitt(b'1234'))", 0x31C3)

    # the HMAC helpers against CPython's hmac, over keys longer than a block and empty messages
    for hash_name in ("md5", "sha1", "sha256"):
        for key, msg in ((b"k", b""), (b"K" * 65, b"message"), (b"\x00\xff" * 40, b"x" * 200)):
            add("hmac %s key %d msg %d" % (hash_name, len(key), len(msg)),
                "hmac.hexdigest(%r, %r, %r)" % (hash_name, key, msg),
                py_hmac.new(key, msg, getattr(hashlib, hash_name)).hexdigest())
    return cases


CASES = _cases()

_PROGRAM = """
import json
from cloud import aliyun, crc, hmac, tencent
for expr in %r:
    try:
        value = eval(expr)
    except Exception as e:
        value = "raised %%r" %% e
    print(json.dumps(value))
"""


@pytest.fixture(scope="module")
def results():
    """{interp: [result of each case, as JSON]}, each interpreter run once."""
    program = _PROGRAM % [expr for _, expr, _ in CASES]
    return {interp: [json.loads(line) for line in run_firmware(interp, program).splitlines()]
            for interp in INTERPRETERS}


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case for case, _, _ in CASES])
@pytest.mark.parametrize("interp", INTERPRETERS)
def test_vector(results, interp, index):
    case, expr, expected = CASES[index]
    assert len(results[interp]) == len(CASES)
    assert results[interp][index] == expected, expr


def test_every_vector_is_checked():
    checked = {case.split("/")[0].split(" ")[0] for case, _, _ in CASES}
    assert set(V) - checked == set()


_ERRORS = """
from cloud import aliyun, tencent
for expr in %r:
    try:
        eval(expr)
        print("returned")
    except ValueError:
        print("ValueError")
"""


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_bad_input_raises_value_error(interp):
    """What a command family turns into its error code: never another exception."""
    exprs = ["aliyun.sign('hmacsha512', 's', 'c', 'd', 'p')",
             "tencent.mqtt_credentials('P', 'D', 'not base64!', 'ABCDE', 1, 'hmacsha256')",
             "tencent.mqtt_credentials('P', 'D', 'ZHNkIGRzZCA=', 'ABCDE', 1, 'hmacmd5')",
             "tencent.register_v2_signature('secret', '{}', 1, 2, 'hmacmd5')",
             "tencent.register_payload('short', 'AAAA')",
             "tencent.register_payload('hzvf5LF9S0isvBhDSauWMaIk', 'AAAA')",  # 3 bytes, not a block
             "tencent.register_result('hzvf5LF9S0isvBhDSauWMaIk', 's6FB3a1BA/YYbcmSE12XpQ==')"]  # not JSON
    assert run_firmware(interp, _ERRORS % exprs).split() == ["ValueError"] * len(exprs)
