"""Aliyun IoT (Alibaba Cloud Link Platform): MQTT credentials, dynamic registration, the HTTPS device auth
and topic names (../shared/reference/cloud-protocols.md §1-§4).

Sign methods are named as the clientId carries them: "hmacmd5", "hmacsha1", "hmacsha256". Passwords and signs
are lowercase hex; the cloud compares them without case (the C SDKs send uppercase).
"""
from cloud import hmac

REGION = "cn-shanghai"
METHODS = ("hmacmd5", "hmacsha1", "hmacsha256")


def mqtt_host(product_key, region=REGION, instance_id=None):
    """The MQTT endpoint: ``<iid>.mqtt.iothub.aliyuncs.com`` for a new or Enterprise instance, else the
    legacy public ``<pk>.iot-as-mqtt.<region>.aliyuncs.com``."""
    if instance_id:
        return instance_id + ".mqtt.iothub.aliyuncs.com"
    return "%s.iot-as-mqtt.%s.aliyuncs.com" % (product_key, region)


def auth_host(region=REGION):
    """The HTTPS host of ``/auth/register/device`` and ``/auth/devicename``."""
    return "iot-auth.%s.aliyuncs.com" % region


def sign(method, secret, client_id, device_name, product_key, timestamp=None):
    """hex HMAC_<method>(secret, "clientId<cid>deviceName<dn>productKey<pk>[timestamp<ts>]"): the MQTT
    password and the /auth/devicename sign. ``client_id`` is the part of the MQTT clientId before ``|``;
    ``timestamp`` (text) is signed only when the clientId carries it. ValueError for an unknown method."""
    content = "clientId%sdeviceName%sproductKey%s" % (client_id, device_name, product_key)
    if timestamp is not None:
        content += "timestamp" + timestamp
    return hmac.hexdigest(_hash(method), secret, content)


def _hash(method):
    if method not in METHODS:
        raise ValueError("unknown sign method")
    return method[4:]


def mqtt_credentials(product_key, device_name, device_secret, timestamp=None, securemode=3,
                     method="hmacsha256", client_id=None, extra=""):
    """(clientId, username, password) for a direct connect with the device secret. ``securemode`` 2 is TLS,
    3 plain TCP (the port does not say which); ``client_id`` defaults to ``<pk>.<dn>``; ``timestamp`` (text,
    ms) goes into the clientId and the sign when given; ``extra`` (``"k=v,k=v"``) goes into the clientId
    before the timestamp, unsigned (``ext=``, ``_v=``, ``_ss=``, ``instanceId=`` …)."""
    cid = client_id or "%s.%s" % (product_key, device_name)
    params = "securemode=%d,signmethod=%s" % (securemode, method)
    if extra:
        params += "," + extra
    if timestamp is not None:
        params += ",timestamp=" + timestamp
    password = sign(method, device_secret, cid, device_name, product_key, timestamp)
    return "%s|%s|" % (cid, params), username(product_key, device_name), password


def username(product_key, device_name):
    return "%s&%s" % (device_name, product_key)


def register_sign(product_secret, device_name, product_key, random):
    """hex HMAC-SHA256(productSecret, "deviceName<dn>productKey<pk>random<r>"): the sign of dynamic
    registration, over HTTPS (register/device) and over MQTT (register, regnwl)."""
    return hmac.hexdigest("sha256", product_secret, "deviceName%sproductKey%srandom%s" % (device_name, product_key,
                                                                                         random))


def register_body(product_key, device_name, product_secret, random):
    """The form body of ``POST https://<auth_host>/auth/register/device`` (AUTHMODE 1)."""
    return "productKey=%s&deviceName=%s&random=%s&sign=%s&signMethod=hmacsha256" % (
        product_key, device_name, random, register_sign(product_secret, device_name, product_key, random))


def register_mqtt_credentials(product_key, device_name, product_secret, random, auth_type="regnwl",
                              instance_id=None):
    """(clientId, username, password) for dynamic registration over MQTT (always TLS): ``auth_type``
    "register" (pre-registered: the secret comes on /ext/register) or "regnwl" (the clientId and token
    come on /ext/regnwl)."""
    params = "random=%s,authType=%s,securemode=2,signmethod=hmacsha256" % (random, auth_type)
    if instance_id:
        params += ",instanceId=" + instance_id
    password = register_sign(product_secret, device_name, product_key, random)
    return "%s.%s|%s|" % (device_name, product_key, params), username(product_key, device_name), password


def connwl_credentials(client_id, product_key, device_name, device_token, extra="_ss=1,ext=3"):
    """(clientId, username, password) of the connect after regnwl, from the clientId and deviceToken its
    reply gave; ``extra`` as the SDKs append it (linkkit adds ``lan=Python,_v=…``)."""
    return ("%s|authType=connwl,securemode=-2,%s|" % (client_id, extra), username(product_key, device_name),
            device_token)


def devicename_body(product_key, device_name, client_id, device_secret, method="hmacmd5", timestamp=None):
    """The form body of ``POST https://<auth_host>/auth/devicename`` (iotkit's guider layout), whose
    reply carries the iotId and iotToken the MQTT connect then uses."""
    body = "productKey=%s&deviceName=%s&signmethod=%s&sign=%s&version=default&clientId=%s" % (
        product_key, device_name, method, sign(method, device_secret, client_id, device_name, product_key,
                                               timestamp), client_id)
    if timestamp is not None:
        body += "&timestamp=" + timestamp
    return body + "&resources=mqtt"


# ---- topics (§3, §4) -----------------------------------------------------------------------------------


def thing_topic(product_key, device_name, path):
    """``/sys/<pk>/<dn>/<path>``, e.g. path "thing/event/property/post" or "rrpc/request/+"."""
    return "/sys/%s/%s/%s" % (product_key, device_name, path)


def ota_topic(kind, product_key, device_name):
    """``/ota/device/<kind>/<pk>/<dn>``: kind "inform", "upgrade" or "progress"."""
    return "/ota/device/%s/%s/%s" % (kind, product_key, device_name)


def ext_rrpc_topic(message_id, topic):
    """``/ext/rrpc/<id><topic>``: an extended RRPC request and its reply (clientId with ext=1)."""
    return "/ext/rrpc/%s%s" % (message_id, topic)
