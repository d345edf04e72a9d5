"""A loopback double of Aliyun's HTTPS device authentication, ``POST /auth/devicename`` on
iot-auth.<region>.aliyuncs.com (reference cloud-protocols.md §2c, cellular-air724.md §2.3), and the MQTT
login rule that goes with it.

The device sends a form body ``productKey=…&deviceName=…&clientId=…&sign=…[&timestamp=…][&signmethod=…]``;
the double checks ``sign`` as the cloud does, computed here independently of the firmware: lower-case hex
HMAC (md5 unless ``signmethod`` names sha1 or sha256) keyed with the DeviceSecret over
``clientId<v>deviceName<v>productKey<v>[timestamp<v>]``. A good request gets
``{"code":200,"data":{"iotId":…,"iotToken":…},"message":"success"}`` (HTTP 200); the broker then accepts an
MQTT CONNECT only with username = that iotId, password = that iotToken and the clientId the request named
(``mqtt_rule``, for ``AmqttBroker.set_rule``). Failures are HTTP 200 with a JSON error code, as the cloud
answers them (the codes are this double's choice; the references do not pin them down):
``460`` a missing field or unknown signmethod, ``404`` an unknown device, ``401`` a wrong sign.

    double = AliyunAuth(devices={("b0FMK1Ga5cp", "862991419835241"): "y7MTCG6G…"}, tls=ssl_server_context)
    with double:
        url = double.server.url("/auth/devicename")
"""
import hashlib
import hmac
import json
import secrets
import threading
import urllib.parse

from peers import HttpServer

HOST = "iot-auth.cn-shanghai.aliyuncs.com"
PATH = "/auth/devicename"
SIGN_FIELDS = ("clientId", "deviceName", "productKey", "timestamp")
DIGESTS = {"hmacmd5": hashlib.md5, "hmacsha1": hashlib.sha1, "hmacsha256": hashlib.sha256}
BAD_REQUEST, AUTH_FAILED, NO_DEVICE = 460, 401, 404


def sign(secret, fields, method="hmacmd5"):
    """The cloud's sign of a /auth/devicename request's ``fields`` (dict)."""
    content = "".join(k + fields[k] for k in sorted(SIGN_FIELDS) if k in fields)
    return hmac.new(secret.encode(), content.encode(), DIGESTS[method]).hexdigest()


class AliyunAuth:
    """The /auth/devicename server (``server``: a ``peers.HttpServer``; HTTPS when ``tls`` is given).

    ``devices``: {(productKey, deviceName): DeviceSecret}. ``tokens``: {(productKey, deviceName): (iotId,
    iotToken)} to hand out fixed credentials (e.g. the seed's); otherwise fresh random ones per request.
    ``issued`` maps iotId -> (iotToken, clientId) for every login handed out; ``answers`` lists each
    response's JSON."""

    def __init__(self, devices, tls=None, tokens=None):
        self.devices = dict(devices)
        self.tokens = dict(tokens or {})
        self.issued = {}
        self.answers = []
        self._lock = threading.Lock()
        self.server = HttpServer(tls=tls)
        self.server.serve(PATH, self._answer, content_type="application/json")

    def _answer(self, request):
        fields = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode("utf-8", "replace"),
                                                            keep_blank_values=True).items()}
        method = fields.get("signmethod", "hmacmd5").lower()
        if request.method != "POST" or method not in DIGESTS or not all(
                fields.get(k) for k in ("productKey", "deviceName", "clientId", "sign")):
            reply = {"code": BAD_REQUEST, "message": "request parameter error"}
        elif (fields["productKey"], fields["deviceName"]) not in self.devices:
            reply = {"code": NO_DEVICE, "message": "device not found"}
        elif not hmac.compare_digest(fields["sign"].lower(), sign(
                self.devices[(fields["productKey"], fields["deviceName"])], fields, method)):
            reply = {"code": AUTH_FAILED, "message": "request auth error"}
        else:
            key = (fields["productKey"], fields["deviceName"])
            iot_id, token = self.tokens.get(key) or (secrets.token_hex(15), secrets.token_hex(16))
            with self._lock:
                self.issued[iot_id] = (token, fields["clientId"])
            reply = {"code": 200, "data": {"iotId": iot_id, "iotToken": token}, "message": "success"}
        with self._lock:
            self.answers.append(reply)
        return 200, json.dumps(reply, separators=(",", ":")).encode()

    def mqtt_rule(self, client_id, username, password):
        """The broker's login rule: the iotId/iotToken this double issued, with the clientId it was issued
        to (Aliyun's client id may carry ``|securemode=…|`` parameters after it); else CONNACK 4."""
        with self._lock:
            issued = self.issued.get(username or "")
        if issued is None or issued[0] != password or client_id.split("|", 1)[0] != issued[1]:
            return 4
        return True

    @property
    def requests(self):
        return self.server.requests

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()
