"""A loopback double of Tencent's IoT Hub: the MQTT broker of a product, as Tencent runs it, for the Tencent
profile's tests (reached as ``<pid>.iotcloud.tencentdevices.com`` through the emulator's --resolve, trusted
through --ca).

It is a small MQTT 3.1.1 broker of its own rather than amqtt (brokers.py) because Tencent's broker does two
things amqtt will not: it takes publishes to ``$sys/…``/``$ota/…`` topics (amqtt closes the connection) and
it drops a publish the device may not make without a PUBACK (amqtt acknowledges every QoS 1 PUBLISH), which
is how a module comes to report ``+TCMQTTPUB:FAIL,202``.

What it does as the cloud does (../shared/reference/cloud-protocols.md §5):
- CONNECT: client id ``<pid><dev>`` of a known device, user name ``<pid><dev>;<appid>;<connid>;<expiry>``
  (expiry in the future), password ``hex(HMAC-SHA256|SHA1(base64-decoded psk, user name));hmacsha256|1``;
  a device in certificate mode must present a client certificate signed by the test CA (TLS port). Anything
  else gets CONNACK 4. A second connection with the same client id kicks the first.
- Topic permissions: ``<pid>/<dev>/data`` publish and subscribe; ``…/control`` subscribe only; ``…/event``
  publish only; ``$sys/operation/<pid>/<dev>`` publish, ``$sys/operation/result/<pid>/<dev>`` subscribe (and
  the same for ``$ota/report``/``$ota/update``, ``$shadow/operation`` and ``$thing/up|down/service``). A subscribe elsewhere gets SUBACK
  0x80; a publish elsewhere is dropped, a QoS 1 one without PUBACK.
- ``$sys/operation`` answers ``{"type":"get","resource":["time"]}`` with the time on ``…/result/…``.
- ``$ota/report``: a version report gets ``report_version_rsp`` and then the firmware in ``ota_offer``.

The test side: ``cloud.publish(topic, payload, qos)`` sends to the subscribed devices; ``published`` lists
(client id, topic, payload, qos) of what devices published and the cloud accepted, in order (a QoS 1
message is listed before its PUBACK goes out); ``attempts`` lists (client id, user name, CONNACK code).
``kill()`` drops every connection and stops listening (a crash), ``start()`` listens again on the same ports.

``Registration`` is the register endpoint of dynamic registration (HTTPS), which adds the devices it
registers to the broker.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import struct
import threading
import time

from cloud_doubles import cloud_pki
from peers import HttpServer, LOOPBACK, free_port, wait_for

_USER = re.compile(r"^([^;]+);(\d+);([A-Za-z0-9]{5});(\d+)$")
ACCEPTED = 0
BAD_USER_OR_PASSWORD = 4


def host_of(product_id):
    return product_id + ".iotcloud.tencentdevices.com"


def _string(data, i):
    n = struct.unpack_from("!H", data, i)[0]
    return data[i + 2 : i + 2 + n], i + 2 + n


def packet(kind, body):
    n = len(body)
    head = bytearray([kind])
    while True:
        b = n & 0x7F
        n >>= 7
        head.append(b | (0x80 if n else 0))
        if not n:
            return bytes(head) + body


def _matches(filt, topic):
    f, t = filt.split("/"), topic.split("/")
    for i, part in enumerate(f):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(f) == len(t)


class Device:
    """A device the cloud knows: ``psk`` for key auth (TLS modes 0/1), None for certificate auth (mode 2)."""

    def __init__(self, product_id, name, psk=None):
        self.product_id, self.name, self.psk = product_id, name, psk

    @property
    def client_id(self):
        return self.product_id + self.name

    def may_publish(self, topic):
        p, d = self.product_id, self.name
        return topic in ("%s/%s/data" % (p, d), "%s/%s/event" % (p, d), "$sys/operation/%s/%s" % (p, d),
                         "$ota/report/%s/%s" % (p, d), "$shadow/operation/%s/%s" % (p, d),
                         "$thing/up/service/%s/%s" % (p, d))

    def may_subscribe(self, topic):
        p, d = self.product_id, self.name
        return topic in ("%s/%s/data" % (p, d), "%s/%s/control" % (p, d), "$sys/operation/result/%s/%s" % (p, d),
                         "$ota/update/%s/%s" % (p, d), "$shadow/operation/result/%s/%s" % (p, d),
                         "$thing/down/service/%s/%s" % (p, d))


class _Conn:
    def __init__(self, cloud, sock, tls):
        self.cloud, self.sock, self.tls = cloud, sock, tls
        self.device = None
        self.subs = {}  # filter -> qos
        self.lock = threading.Lock()
        self.next_id = 0
        self.closed = False

    def send(self, data):
        with self.lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()

    def deliver(self, topic, payload, qos):
        t = topic.encode()
        body = struct.pack("!H", len(t)) + t
        if qos:
            self.next_id = self.next_id % 65535 + 1
            body += struct.pack("!H", self.next_id)
        self.send(packet(0x30 | qos << 1, body + payload))

    # ---- reading ----------------------------------------------------------------------------------
    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out

    def _next(self):
        kind = self._read(1)[0]
        n, shift = 0, 0
        while True:
            b = self._read(1)[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        return kind, self._read(n)

    def run(self):
        try:
            kind, body = self._next()
            if kind >> 4 != 1 or not self.cloud._connect(self, body):
                return
            while True:
                kind, body = self._next()
                self.cloud._handle(self, kind, body)
        except (OSError, ConnectionError, ValueError, IndexError, struct.error):  # a malformed packet ends it
            pass
        finally:
            self.close()
            self.cloud._gone(self)


class TencentCloud:
    """Tencent's MQTT broker for the products of ``devices`` (``add_device``), plain on ``port`` and TLS (the
    test CA's certificate for each product's host name) on ``tls_port``."""

    def __init__(self, pki):
        self.pki = pki
        self.devices = {}
        self.port, self.tls_port = free_port(), free_port()
        self.published = []
        self.attempts = []
        self.time = None  # the time $sys/operation answers (None: now)
        self.ota_offer = None  # the firmware offered after a version report (see _ota)
        self._conns = []
        self._listeners = []
        self._lock = threading.Lock()
        self._tls = None

    def add_device(self, product_id, name, psk=None):
        dev = Device(product_id, name, psk)
        self.devices[dev.client_id] = dev
        return dev

    def routes(self):
        """{pattern: port} for cloud_doubles.emulator_args: the products' host names on 1883 and 8883."""
        out = {}
        for dev in self.devices.values():
            out[host_of(dev.product_id) + ":1883"] = self.port
            out[host_of(dev.product_id) + ":8883"] = self.tls_port
        return out

    # ---- life -------------------------------------------------------------------------------------
    def start(self):
        names = sorted(set(host_of(d.product_id) for d in self.devices.values())) or ["localhost"]
        self._tls = cloud_pki(self.pki, *names).server_context()
        self._tls.verify_mode = ssl.CERT_OPTIONAL
        self._tls.load_verify_locations(cafile=self.pki.ca.cert_pem_path)
        for port, tls in ((self.port, False), (self.tls_port, True)):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((LOOPBACK, port))
            s.listen(8)
            self._listeners.append(s)
            threading.Thread(target=self._accept, args=(s, tls), daemon=True).start()
        return self

    def kill(self):
        """Stop listening and drop every connection at once, as a crash does."""
        for s in self._listeners:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self._listeners = []
        for c in list(self._conns):
            c.close()

    def close(self):
        self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _accept(self, listener, tls):
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock, tls), daemon=True).start()

    def _serve(self, sock, tls):
        if tls:
            try:
                sock.settimeout(10)
                sock = self._tls.wrap_socket(sock, server_side=True)
                sock.settimeout(None)
            except (OSError, ssl.SSLError):
                sock.close()
                return
        conn = _Conn(self, sock, tls)
        with self._lock:
            self._conns.append(conn)
        conn.run()

    def _gone(self, conn):
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    # ---- the protocol -----------------------------------------------------------------------------
    def _connect(self, conn, body):
        _, i = _string(body, 0)  # "MQTT"
        flags = body[i + 1]
        i += 4  # level, flags, keepalive
        cid, i = _string(body, i)
        if flags & 0x04:  # a will: Tencent takes none, but read past it
            _, i = _string(body, i)
            _, i = _string(body, i)
        user = password = b""
        if flags & 0x80:
            user, i = _string(body, i)
        if flags & 0x40:
            password, i = _string(body, i)
        cid, user, password = cid.decode(), user.decode(), password.decode()
        code = self._check(conn, cid, user, password)
        self.attempts.append((cid, user, code))
        conn.send(packet(0x20, bytes([0, code])))
        if code:
            return False
        conn.device = self.devices[cid]
        for other in list(self._conns):
            if other is not conn and other.device is not None and other.device.client_id == cid:
                other.close()  # the older connection of the same client id is kicked
        return True

    def _check(self, conn, cid, user, password):
        dev = self.devices.get(cid)
        m = _USER.match(user)
        if dev is None or m is None or m.group(1) != cid or int(m.group(4)) <= time.time():
            return BAD_USER_OR_PASSWORD
        if dev.psk is None:  # certificate mode: TLS with a client certificate of the test CA
            return ACCEPTED if conn.tls and conn.sock.getpeercert() else BAD_USER_OR_PASSWORD
        sign, _, method = password.partition(";")
        digest = {"hmacsha256": hashlib.sha256, "hmacsha1": hashlib.sha1}.get(method)
        if digest is None:
            return BAD_USER_OR_PASSWORD
        want = hmac.new(base64.b64decode(dev.psk), user.encode(), digest).hexdigest()
        return ACCEPTED if hmac.compare_digest(want, sign) else BAD_USER_OR_PASSWORD

    def _handle(self, conn, kind, body):
        t = kind >> 4
        if t == 3:
            self._on_publish(conn, kind, body)
        elif t == 8:
            self._on_subscribe(conn, body)
        elif t == 10:
            pid = body[:2]
            i = 2
            while i < len(body):
                topic, i = _string(body, i)
                conn.subs.pop(topic.decode(), None)
            conn.send(packet(0xB0, pid))
        elif t == 12:
            conn.send(b"\xd0\x00")
        elif t == 14:
            conn.close()

    def _on_subscribe(self, conn, body):
        pid = body[:2]
        i = 2
        granted = bytearray()
        while i < len(body):
            topic, i = _string(body, i)
            qos = min(body[i], 1)
            i += 1
            topic = topic.decode()
            if conn.device.may_subscribe(topic):
                conn.subs[topic] = qos
                granted.append(qos)
            else:
                granted.append(0x80)
        conn.send(packet(0x90, pid + bytes(granted)))

    def _on_publish(self, conn, kind, body):
        qos = kind >> 1 & 3
        topic, i = _string(body, 0)
        topic = topic.decode()
        pid = body[i : i + 2] if qos else b""
        payload = body[i + len(pid) :]
        if not conn.device.may_publish(topic):
            return  # dropped: no PUBACK
        self.published.append((conn.device.client_id, topic, payload, qos))
        if qos:
            conn.send(packet(0x40, pid))
        self._route(topic, payload, qos)
        self._respond(conn.device, topic, payload)

    def _route(self, topic, payload, qos):
        for c in list(self._conns):
            for filt, granted in list(c.subs.items()):
                if _matches(filt, topic):
                    c.deliver(topic, payload, min(qos, granted))
                    break

    def _respond(self, dev, topic, payload):
        if topic == "$ota/report/%s/%s" % (dev.product_id, dev.name):
            self._ota(dev, payload)
        if topic == "$sys/operation/%s/%s" % (dev.product_id, dev.name):
            try:
                request = json.loads(payload)
            except ValueError:
                return
            if request.get("type") == "get" and "time" in request.get("resource", ()):
                now = int(self.time if self.time is not None else time.time())
                self.publish("$sys/operation/result/%s/%s" % (dev.product_id, dev.name),
                             json.dumps({"type": "get", "time": now}, separators=(",", ":")).encode())

    def _ota(self, dev, payload):
        """A version report gets report_version_rsp on $ota/update, then the firmware in ``ota_offer``
        (update_firmware's fields: version, url, md5sum, file_size), if the test set one."""
        try:
            report = json.loads(payload)
        except ValueError:
            return
        if report.get("type") != "report_version":
            return
        update = "$ota/update/%s/%s" % (dev.product_id, dev.name)
        self.publish(update, json.dumps({"type": "report_version_rsp", "result_code": 0, "result_msg": "success",
                                         "version": report.get("report", {}).get("version")}).encode(), 1)
        if self.ota_offer is not None:
            offer = dict(self.ota_offer, type="update_firmware")
            self.publish(update, json.dumps(offer).encode(), 1)

    # ---- the test's side --------------------------------------------------------------------------
    def publish(self, topic, payload, qos=0):
        """Send a message to the devices subscribed to ``topic``."""
        self._route(topic, payload if isinstance(payload, bytes) else payload.encode(), qos)

    def wait_published(self, topic, count=1, timeout=10):
        """The first ``count`` messages devices published on ``topic``: [(client id, payload, qos)]."""
        def found():
            return [(c, p, q) for c, t, p, q in list(self.published) if t == topic]
        wait_for(lambda: len(found()) >= count, timeout, lambda: "%d publishes on %s (have %r)" % (
            count, topic, self.published[-5:]))
        return found()[:count]

    def wait_connected(self, client_id, timeout=10):
        wait_for(lambda: self.connected(client_id), timeout, "%s connected" % client_id)

    def connected(self, client_id):
        return any(c.device is not None and c.device.client_id == client_id and not c.closed
                   for c in list(self._conns))

    def subscribed(self, client_id):
        """The filters the connection of ``client_id`` holds."""
        for c in list(self._conns):
            if c.device is not None and c.device.client_id == client_id and not c.closed:
                return dict(c.subs)
        return {}


# ---- dynamic registration ------------------------------------------------------------------------
REGISTER_HOST = "gateway.tencentdevices.com"


class Registration(HttpServer):
    """Tencent's v1 register endpoint, ``POST /register/dev`` (HTTPS with the test CA's certificate for
    gateway.tencentdevices.com when ``tls``), for the products in ``products`` ({product id: secret}).

    It checks the signature (base64 of the hex HMAC-SHA1 of ``deviceName=…&nonce=…&productId=…&timestamp=…``
    with the product secret) and answers ``{"code":0,…,"payload":…}``: a new device key, AES-128-CBC with the
    secret's first 16 characters and an IV of sixteen '0', zero padded, base64; the device joins ``cloud``
    (the MQTT double) with that key. Refusals as Tencent's (§7.3): 1004 no such product, 1010 a bad
    signature, 1021 a device in ``activated``. ``issued`` maps (pid, device) to the key given."""

    def __init__(self, pki, cloud, tls=True):
        super().__init__(tls=cloud_pki(pki, REGISTER_HOST).server_context() if tls else None)
        self.cloud = cloud
        self.products = {}
        self.activated = set()
        self.issued = {}
        self.serve("/register/dev", self._answer, content_type="application/json")

    def _answer(self, request):
        """(status, body) for one registration request."""
        return 200, self._register(request.body)

    def _register(self, body):
        try:
            req = json.loads(body)
            pid, dev, nonce, ts = req["productId"], req["deviceName"], req["nonce"], req["timestamp"]
            signature = req["signature"]
        except (ValueError, KeyError, TypeError):
            return json.dumps({"code": 1006, "message": "invalid param"}).encode()
        secret = self.products.get(pid)
        if secret is None:
            return json.dumps({"code": 1004, "message": "product not exists"}).encode()
        source = "deviceName=%s&nonce=%d&productId=%s&timestamp=%d" % (dev, nonce, pid, ts)
        want = base64.b64encode(hmac.new(secret.encode(), source.encode(), hashlib.sha1).hexdigest().encode())
        if not hmac.compare_digest(want.decode(), signature) or abs(ts - time.time()) > 600:
            return json.dumps({"code": 1010, "message": "check signature failed"}).encode()
        if (pid, dev) in self.activated:
            return json.dumps({"code": 1021, "message": "device has been activated"}).encode()
        psk = base64.b64encode(os.urandom(16)).decode()
        self.issued[(pid, dev)] = psk
        self.cloud.add_device(pid, dev, psk)
        plain = json.dumps({"encryptionType": 2, "psk": psk}, separators=(",", ":")).encode()
        plain += b"\0" * (-len(plain) % 16)
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        enc = Cipher(algorithms.AES(secret[:16].encode()), modes.CBC(b"0" * 16)).encryptor()
        payload = base64.b64encode(enc.update(plain) + enc.finalize()).decode()
        return json.dumps({"code": 0, "message": "", "len": len(plain), "payload": payload}).encode()
