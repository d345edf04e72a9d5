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
import secrets
import socket
import ssl
import struct
import threading
import urllib.parse

from brokers import connect_raw, remaining_length
from peers import LOOPBACK

BAD_CREDENTIALS = 4
DIGESTS = {"hmacmd5": hashlib.md5, "hmacsha1": hashlib.sha1, "hmacsha256": hashlib.sha256}
REGION = "cn-shanghai"


def mqtt_host(product_key):
    return "%s.iot-as-mqtt.%s.aliyuncs.com" % (product_key, REGION)


def sign(method, secret, fields):
    content = "".join(k + fields[k] for k in ("clientId", "deviceName", "productKey", "timestamp") if k in fields)
    return hmac.new(secret.encode(), content.encode(), DIGESTS[method]).hexdigest()


def register_sign(product_secret, pk, dn, random):
    return hmac.new(product_secret.encode(), ("deviceName%sproductKey%srandom%s" % (dn, pk, random)).encode(),
                    hashlib.sha256).hexdigest()


def client_params(client_id):
    """(cid, {param: value}) of an Aliyun clientId ``<cid>|k=v,k=v|``; None if it is not one."""
    parts = client_id.split("|")
    if len(parts) != 3 or parts[2]:
        return None
    params = dict(p.split("=", 1) for p in parts[1].split(",") if "=" in p)
    return parts[0], params


class AliyunCloud:
    """``devices``: {(productKey, deviceName): DeviceSecret}; ``products``: {productKey: ProductSecret} for
    dynamic registration. ``logins`` lists (clientId, accepted); ``tokens`` {(pk, dn): (clientId,
    deviceToken)} what regnwl issued (``RegnwlFront``), which the broker then takes with ``authType=connwl``.
    ``register_device`` answers ``POST /auth/register/device`` (mount it on an HTTPS double)."""

    def __init__(self, devices, products=None):
        self.devices = dict(devices)
        self.products = dict(products or {})
        self.logins = []
        self.tokens = {}
        self.registrations = []  # (pk, dn, accepted) of register/device and regnwl

    def register_device(self, request):
        """AUTHMODE 1: the device secret of a pre-registered device for a request signed with the product
        secret (HMAC-SHA256 over deviceName<dn>productKey<pk>random<r>); code 6250 otherwise."""
        fields = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode()).items()}
        pk, dn = fields.get("productKey", ""), fields.get("deviceName", "")
        ok = (request.method == "POST" and fields.get("signMethod", "").lower() == "hmacsha256"
              and pk in self.products and (pk, dn) in self.devices and "random" in fields
              and hmac.compare_digest(fields.get("sign", "").lower(), register_sign(self.products[pk], pk, dn,
                                                                                    fields["random"])))
        self.registrations.append((pk, dn, ok))
        if not ok:
            return 200, b'{"code":6250,"message":"sign check failed"}'
        return 200, json.dumps({"code": 200, "data": {"productKey": pk, "deviceName": dn,
                                                      "deviceSecret": self.devices[(pk, dn)]},
                                "message": "success"}).encode()

    @staticmethod
    def kick(broker, login):
        """Log in again with a device's accepted ``login`` (a ``brokers.ConnectAttempt``) and leave at once:
        the broker takes the session over and the device sees its connection end, as when the cloud kicks a
        device whose identity logs in elsewhere."""
        ctx = None
        if login.tls:
            ctx = broker.client_tls_context()
            ctx.check_hostname = False  # the broker serves the cloud's name; the chain is still checked
        return connect_raw(broker.tls_port if login.tls else broker.port, login.client_id, login.username,
                           login.password, clean_session=False, tls=ctx)  # amqtt takes over a kept session only

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
        if params.get("authType") == "connwl":
            issued = self.tokens.get((pk, dn))
            return (issued is not None and issued == (cid, password) and params.get("securemode") == "-2"
                    and (attempt is None or attempt.tls))
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


# ---- regnwl (cloud-protocols.md §2b) ---------------------------------------------------------------


def _read_packet(sock):
    """(first byte, body) of one MQTT packet from a blocking socket."""
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data
    first = exact(1)[0]
    length, shift = 0, 0
    while True:
        digit = exact(1)[0]
        length |= (digit & 0x7F) << shift
        shift += 7
        if not digit & 0x80:
            break
    return first, exact(length)


def _connect_fields(body):
    """(client_id, username, password) of a CONNECT packet's body."""
    def string(i):
        n = struct.unpack("!H", body[i:i + 2])[0]
        return body[i + 2:i + 2 + n].decode(), i + 2 + n
    _, i = string(0)
    flags = body[i + 1]
    client_id, i = string(i + 4)
    if flags & 0x04:  # a will: topic and message
        _, i = string(i)
        _, i = string(i)
    username = password = None
    if flags & 0x80:
        username, i = string(i)
    if flags & 0x40:
        password, i = string(i)
    return client_id, username, password


class RegnwlFront:
    """The MQTT endpoint as the device meets it for AUTHMODE 2, on 127.0.0.1 over TLS (``pki``'s server
    certificate): a CONNECT with ``authType=regnwl`` signed with the product secret gets CONNACK 0, then
    ``/ext/regnwl`` with a fresh clientId and deviceToken (recorded in ``cloud.tokens``), and the connection
    is closed, as the platform does; a bad sign gets CONNACK 4. Every other connection is passed on to
    ``broker``'s TLS port, CONNECT included, so the broker's rule decides it."""

    def __init__(self, cloud, broker, pki):
        self.cloud, self.broker = cloud, broker
        self.server_ctx = pki.server_context()
        self.client_ctx = broker.client_tls_context()
        self.client_ctx.check_hostname = False  # the broker serves the cloud's name; the chain is still checked
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._threads = []
        self._open = []

    def __enter__(self):
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()
        for s in self._open:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            conn = self.server_ctx.wrap_socket(raw, server_side=True)
            self._open.append(conn)
            first, body = _read_packet(conn)
            client_id, username, password = _connect_fields(body)
            if "authType=regnwl" in client_id:
                self._regnwl(conn, client_id, username, password)
                conn.close()
                return
            upstream = self.client_ctx.wrap_socket(socket.create_connection((LOOPBACK, self.broker.tls_port)),
                                                   server_hostname="localhost")
            self._open.append(upstream)
            upstream.sendall(bytes([first]) + remaining_length(len(body)) + body)
            threading.Thread(target=self._pipe, args=(upstream, conn), daemon=True).start()
            self._pipe(conn, upstream)
        except (OSError, ConnectionError, ssl.SSLError, ValueError):
            pass

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(4096)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def _regnwl(self, conn, client_id, username, password):
        parsed = client_params(client_id)
        dn, pk = (username or "&").split("&", 1)
        params = parsed[1] if parsed else {}
        ok = (parsed is not None and parsed[0] == "%s.%s" % (dn, pk) and pk in self.cloud.products
              and params.get("signmethod") == "hmacsha256" and params.get("securemode") == "2"
              and "random" in params and password is not None
              and hmac.compare_digest(password.lower(), register_sign(self.cloud.products[pk], pk, dn,
                                                                      params["random"])))
        self.cloud.registrations.append((pk, dn, ok))
        if not ok:
            conn.sendall(b"\x20\x02\x00\x04")
            return
        issued = ("%s.%s" % (pk, secrets.token_hex(6)), secrets.token_hex(16))
        self.cloud.tokens[(pk, dn)] = issued
        conn.sendall(b"\x20\x02\x00\x00")
        topic = b"/ext/regnwl"
        payload = json.dumps({"clientId": issued[0], "productKey": pk, "deviceName": dn,
                              "deviceToken": issued[1]}).encode()
        body = struct.pack("!H", len(topic)) + topic + payload
        conn.sendall(b"\x30" + remaining_length(len(body)) + body)
