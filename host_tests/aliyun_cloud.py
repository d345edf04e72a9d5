"""The loopback Aliyun IoT cloud for seed 000's tests: the MQTT login rule of the Link platform (§1 of
../shared/reference/cloud-protocols.md) for ``brokers.AmqttBroker.set_rule``, computed here independently of
the firmware, and the platform's side of the thing model (``attach``: _reply messages, property sets, RRPC and
asynchronous service calls) on a ``brokers.CloudAgent``.

Login rule: clientId ``<cid>|securemode=<m>,signmethod=hmacmd5|hmacsha1|hmacsha256[,timestamp=<t>][,…]|``,
username ``<dn>&<pk>``, password = hex HMAC (any case) keyed with the DeviceSecret over
``clientId<cid>deviceName<dn>productKey<pk>[timestamp<t>]`` (the signed fields in that sorted order). Anything
else: CONNACK 4 (bad user name or password), as the cloud answers. ``securemode`` must say TLS (2) exactly
when the device came in on the TLS port.

    cloud = AliyunCloud({("a1pk", "dev1"): "secret"})
    broker.set_rule(cloud.mqtt_rule)
"""
import hashlib
import hmac
import json

BAD_CREDENTIALS = 4
DIGESTS = {"hmacmd5": hashlib.md5, "hmacsha1": hashlib.sha1, "hmacsha256": hashlib.sha256}
REGION = "cn-shanghai"


def mqtt_host(product_key):
    return "%s.iot-as-mqtt.%s.aliyuncs.com" % (product_key, REGION)


def sign(method, secret, fields):
    content = "".join(k + fields[k] for k in ("clientId", "deviceName", "productKey", "timestamp") if k in fields)
    return hmac.new(secret.encode(), content.encode(), DIGESTS[method]).hexdigest()


def client_params(client_id):
    """(cid, {param: value}) of an Aliyun clientId ``<cid>|k=v,k=v|``; None if it is not one."""
    parts = client_id.split("|")
    if len(parts) != 3 or parts[2]:
        return None
    params = dict(p.split("=", 1) for p in parts[1].split(",") if "=" in p)
    return parts[0], params


class AliyunCloud:
    """``devices``: {(productKey, deviceName): DeviceSecret}. ``logins`` lists (clientId, accepted)."""

    def __init__(self, devices):
        self.devices = dict(devices)
        self.logins = []

    def mqtt_rule(self, client_id, username, password, attempt=None):
        ok = self._check(client_id, username, password, attempt)
        self.logins.append((client_id, ok))
        return True if ok else BAD_CREDENTIALS

    def _check(self, client_id, username, password, attempt):
        parsed = client_params(client_id or "")
        if parsed is None or not username or "&" not in username or password is None:
            return False
        cid, params = parsed
        dn, pk = username.split("&", 1)
        secret = self.devices.get((pk, dn))
        method = params.get("signmethod")
        if secret is None or method not in DIGESTS:
            return False
        if attempt is not None and params.get("securemode") != ("2" if attempt.tls else "3"):
            return False
        fields = {"clientId": cid, "deviceName": dn, "productKey": pk}
        if "timestamp" in params:
            fields["timestamp"] = params["timestamp"]
        return hmac.compare_digest(password.lower(), sign(method, secret, fields))


# ---- the thing model's platform side ---------------------------------------------------------------


def thing(pk, dn, path):
    return "/sys/%s/%s/%s" % (pk, dn, path)


class ThingPlatform:
    """The platform's thing-model side for one device, on a started ``CloudAgent``: answers every
    ``thing/event/<x>/post`` with its ``_reply`` (``codes`` maps an event id to a (code, message) answer
    instead of 200/success), and ``set_properties`` / ``call_service`` / ``rrpc`` send the downlinks.
    ``replies`` collects what the device answered on ``…/property/set_reply``, ``…/service/<x>_reply`` and
    ``/rrpc/response/<id>`` as (topic, parsed JSON)."""

    def __init__(self, agent, pk, dn):
        self.agent, self.pk, self.dn = agent, pk, dn
        self.codes = {}
        self.posts = []  # (topic, parsed JSON) of every post the device made
        agent.on(thing(pk, dn, "thing/event/+/post"), self._post)
        agent.subscribe(thing(pk, dn, "thing/service/property/set_reply"))
        agent.subscribe(thing(pk, dn, "thing/service/+"))
        agent.subscribe(thing(pk, dn, "rrpc/response/+"))

    def _post(self, topic, payload):
        msg = json.loads(payload)
        self.posts.append((topic, msg))
        event = topic.split("/")[-2]
        code, message = self.codes.get(event, (200, "success"))
        return [(topic + "_reply", json.dumps({"code": code, "data": {}, "id": msg["id"], "message": message,
                                               "method": msg.get("method"), "version": "1.0"},
                                              separators=(",", ":")))]

    def set_properties(self, msg_id, params):
        self.agent.publish(thing(self.pk, self.dn, "thing/service/property/set"), json.dumps(
            {"method": "thing.service.property.set", "id": str(msg_id), "params": params, "version": "1.0.0"},
            separators=(",", ":")).encode())

    def call_service(self, msg_id, service, params):
        self.agent.publish(thing(self.pk, self.dn, "thing/service/" + service), json.dumps(
            {"method": "thing.service." + service, "id": str(msg_id), "params": params, "version": "1.0.0"},
            separators=(",", ":")).encode())

    def rrpc(self, rrpc_id, msg_id, service, params):
        self.agent.publish(thing(self.pk, self.dn, "rrpc/request/%s" % rrpc_id), json.dumps(
            {"method": "thing.service." + service, "id": str(msg_id), "params": params, "version": "1.0.0"},
            separators=(",", ":")).encode())

    def answered(self, suffix):
        """The device's answers (topic, parsed JSON) on topics ending with ``suffix``."""
        return [(m.topic, json.loads(m.payload)) for m in self.agent.messages if m.topic.endswith(suffix)]


# ---- OTA (cloud-protocols.md §4) -------------------------------------------------------------------


class OtaPlatform:
    """The platform's OTA side for one device, on a started ``CloudAgent``: records the versions the device
    informs (``versions``) and its progress steps (``steps``, str), answers ``thing/ota/firmware/get`` with
    the job offered (``data:{}`` when none), and ``offer(version, image, url, method)`` pushes a job whose
    image the test serves at ``url``."""

    def __init__(self, agent, pk, dn):
        self.agent, self.pk, self.dn = agent, pk, dn
        self.versions = []
        self.steps = []
        self.job = None
        agent.on("/ota/device/inform/%s/%s" % (pk, dn), self._inform)
        agent.on("/ota/device/progress/%s/%s" % (pk, dn), self._progress)
        agent.on(thing(pk, dn, "thing/ota/firmware/get"), self._get)

    def _inform(self, topic, payload):
        msg = json.loads(payload)
        assert msg["params"]["module"] == "MCU"
        self.versions.append(msg["params"]["version"])

    def _progress(self, topic, payload):
        self.steps.append(json.loads(payload)["params"]["step"])

    def _get(self, topic, payload):
        msg = json.loads(payload)
        return [(topic + "_reply", {"id": msg["id"], "code": 200, "data": self.job or {},
                                    "message": "success"})]

    def set_job(self, version, image, url, method="MD5", digest=None):
        """The job the next query or push carries; ``digest`` overrides the image's (a corrupt download)."""
        if method == "MD5":
            self.job = {"size": len(image), "version": version, "url": url, "md5": digest or hashlib.md5(
                image).hexdigest(), "sign": hashlib.md5(image).hexdigest(), "signMethod": "Md5", "module": "MCU"}
        else:
            self.job = {"size": len(image), "version": version, "url": url, "sign": digest or hashlib.sha256(
                image).hexdigest(), "signMethod": "SHA256", "module": "MCU"}

    def offer(self, *job, **kw):
        """Push a job now on /ota/device/upgrade (``set_job``'s arguments)."""
        self.set_job(*job, **kw)
        self.agent.publish("/ota/device/upgrade/%s/%s" % (self.pk, self.dn), json.dumps(
            {"code": "1000", "data": self.job, "id": 1507707025, "message": "success"}).encode())
