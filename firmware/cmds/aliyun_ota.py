"""Alibaba Cloud IoT module (seed 000 §6): the MCU's firmware update through the module, over the first
connected cmds.aliyun Link (AT+IMQTTCONN's or AT+IDMCONN's), reference cloud-protocols.md §4 and §6.

  AT+IOTAPARA=BLOCKSIZE,<64-2048>  the frame size (default 256), saved.
  AT+IOTAVER=<version>   reports the MCU's version on /ota/device/inform/<pk>/<dn> (module "MCU"), after
                         subscribing to the upgrade pushes; without it no upgrade is offered.
  AT+IOTAQUERY           asks the platform (thing/ota/firmware/get); no job: +IOTASTATE:6,<version>,0.
  an upgrade offered     +IOTASTATE:0,<version>,<size>: the MCU answers AT+IOTASTART=1 (or 0: refused, the
                         platform hears step -1).
  AT+IOTASTART=1         OK; the image streams over HTTP(S) into a file on the module's flash (it may be larger
                         than RAM) with +IOTASTATE:1 (downloading; the platform hears the percentage), 2 (its
                         size and MD5/SHA-256 are checked), then 5 (the MCU may fetch it) or 4 (failed: the
                         platform hears step -2 download failed or -3 verify failed).
  AT+IOTASHO             +IOTASHO:<total_frame>,<frame_size>,<version>,<image_size>,<digest_method 0 md5, 1
                         sha256>,"<digest>"
  AT+IOTASTX=<frame>     +IOTASTX:<frame>,<data_size>,<crc16>,<data>: data in hex (upper case), crc16 the
                         CRC-16/XMODEM of the frame's bytes, in decimal. Once every frame has been served:
                         +IOTAEOT, and the platform hears step 100.
"""
import binascii
import hashlib
import boardcfg
from at import replies
from at.parser import AtError, E_INVALID, num, text
from cloud import aliyun as signing
from cloud import aliyun_thing as alink
from cloud import crc
from cmds import aliyun, wifi
from net import http, mqtt, pki

ERRORS = replies.cme
E_NO_JOB = 9  # no image offered, downloaded or ready
IMAGE = boardcfg.FS_ROOT + "/mcu_ota.bin"
BLOCK = 4096  # download pieces
TIMEOUT_MS = 15000
# +IOTASTATE's states (3, "updated", is not printed: +IOTAEOT ends the transfer and the MCU's next AT+IOTAVER
# tells the platform)
OFFERED, DOWNLOADING, VERIFYING, FAILED, READY, NO_JOB = 0, 1, 2, 4, 5, 6

_job = None  # [version, size, url, digest method (0 md5, 1 sha256), digest hex] of the offered image
_state = NO_JOB
_served = None  # bytearray: one flag per frame served (READY)
_left = 0  # frames not served yet: +IOTAEOT when none is left
_frame = 0  # the frame size the image is served in
_version = ""  # what AT+IOTAVER reported
_ids = 0


def _link():
    for link in aliyun.LINKS:
        if link.connected:
            return link
    raise AtError(aliyun.E_NOT_CONNECTED)


def _topic(kind, link):
    a = link.auth(link.at)
    if kind == "get":
        return signing.thing_topic(a[0], a[1], "thing/ota/firmware/get")
    return signing.ota_topic(kind, a[0], a[1])


def _next_id():
    global _ids
    _ids += 1
    return _ids


def _listen(link):
    """Generator: the upgrade pushes and query replies come to this family (subscribed once per link)."""
    s = link.s
    for topic in (_topic("upgrade", link), _topic("get", link) + "_reply"):
        link.tap(topic.encode(), _offer)
        if [topic, 0] in s.subs:
            continue
        try:
            err = yield from s.wait(s.subscribe(topic, 0))
        except (mqtt.MqttError, ValueError, OSError):
            err = mqtt.NOT_CONNECTED
        if err is not None:
            raise AtError(aliyun.E_SEND)


def _progress(step, desc=""):
    """Tell the platform how the upgrade goes (best effort: a lost connection loses the report)."""
    try:
        link = _link()
        link.publish(_topic("progress", link), b'{"id":"%d","params":{"step":"%d","desc":"' % (_next_id(), step)
                     + desc.encode() + b'","module":"MCU"}}', 0)
    except AtError:
        pass


def _report(at, state):
    global _state
    _state = state
    version, size = (_job[0], _job[1]) if _job is not None else (_version, 0)
    at.urc(("+IOTASTATE:%d,%s,%d\r\n" % (state, version, size)).encode())


def _offer(link, ev, topic, data):
    """An upgrade push or a query's reply: +IOTASTATE:0 for an image, 6 for none."""
    global _job
    try:
        job = alink.field(data, "data") or b"{}"
        url = alink.text(job, "url")
        if url:
            method = 1 if (alink.text(job, "signMethod") or "").lower() == "sha256" else 0
            digest = alink.text(job, "sign") if method else (alink.text(job, "md5") or alink.text(job, "sign"))
            _job = [alink.text(job, "version") or "", int(alink.text(job, "size")), url, method,
                    (digest or "").lower()]
            _report(link.at, OFFERED)
        else:
            _job = None
            _report(link.at, NO_JOB)
    except (ValueError, TypeError) as e:
        print("upy-at: OTA offer: %r" % e)
    link.s.delivered(ev)


# ---- §6.1 - §6.3, §6.6 ----------------------------------------------------------------------------
p_iotapara = (text(16, 1), num(0, 65535))


def s_iotapara(at, tag, value):
    if tag.upper() != "BLOCKSIZE" or not 64 <= value <= 2048:
        raise AtError(E_INVALID)
    at.store.put_int("ota_block", value)


p_iotaver = (text(32, 1),)


def s_iotaver(at, version):
    global _version
    link = _link()
    yield from _listen(link)
    _version = version
    link.publish(_topic("inform", link), b'{"id":"%d","params":{"version":"' % _next_id() + version.encode()
                 + b'","module":"MCU"}}', 0)


def e_iotaquery(at):
    link = _link()
    yield from _listen(link)
    link.publish(_topic("get", link), b'{"id":"%d","version":"1.0","params":{"module":"MCU"},'
                 b'"method":"thing.ota.firmware.get"}' % _next_id(), 0)


p_iotastart = (num(0, 1),)


def s_iotastart(at, enable):
    global _job
    if _job is None or _state in (DOWNLOADING, VERIFYING):
        raise AtError(E_NO_JOB)
    if not enable:
        _progress(-1, "refused by the MCU")
        _job = None
        return None
    if not wifi.station_up():
        raise AtError(aliyun.E_NETWORK)
    _report(at, DOWNLOADING)
    at.spawn(_download(at, _job))
    return None


# ---- the download ---------------------------------------------------------------------------------
class _Sink:
    """Each piece of the body: into the file and the digest; the platform hears every tenth percent."""

    def __init__(self, f, h, size):
        self.f, self.h, self.size = f, h, size
        self.got = 0
        self.step = 0

    def __call__(self, mv):
        self.got += len(mv)
        if self.got > self.size:
            raise ValueError("image larger than announced")
        self.f.write(mv)
        self.h.update(mv)
        pct = self.got * 100 // self.size
        if pct // 10 > self.step // 10 and pct < 100:
            self.step = pct
            _progress(pct)


def _download(at, job):
    """Task: the image into IMAGE, checked; +IOTASTATE 2 then 5, or 4."""
    step, why = -2, "download failed"
    try:
        ctx = pki.cloud_context() if http.parse_url(job[2])[0] else None
        conn = yield from http.connect(job[2], TIMEOUT_MS, ctx)
        try:
            resp = yield from conn.get(http.parse_url(job[2])[3])
            if resp.status != 200:
                raise ValueError("HTTP %d" % resp.status)
            h = hashlib.sha256() if job[3] else hashlib.md5()
            with open(IMAGE, "wb") as f:
                sink = _Sink(f, h, job[1])
                total = yield from resp.stream(sink, bytearray(BLOCK))
        finally:
            conn.close()
        if total != job[1]:
            raise ValueError("image of %d bytes, %d announced" % (total, job[1]))
        if job is not _job:
            return  # a new offer came meanwhile
        _report(at, VERIFYING)
        step, why = -3, "verify failed"
        if binascii.hexlify(h.digest()).decode() != job[4]:
            raise ValueError("digest mismatch")
    except (OSError, ValueError, http.HttpError) as e:
        print("upy-at: MCU OTA: %r" % e)
        if job is _job:
            _progress(step, why)
            _report(at, FAILED)
        return
    _serve(at)


def _serve(at):
    global _served, _left, _frame
    _frame = at.store.get_int("ota_block", 256)
    _left = (_job[1] + _frame - 1) // _frame
    _served = bytearray(_left)
    _report(at, READY)


# ---- §6.4 / §6.5: the MCU fetches the image ---------------------------------------------------------
def _ready():
    if _state != READY or _job is None:
        raise AtError(E_NO_JOB)


def e_iotasho(at):
    _ready()
    at.reply('+IOTASHO:%d,%d,%s,%d,%d,"%s"' % (len(_served), _frame, _job[0], _job[1], _job[3], _job[4]))


def q_iotasho(at):
    e_iotasho(at)


p_iotastx = (num(0, 0xFFFF),)


def s_iotastx(at, frame):
    global _left
    _ready()
    if frame >= len(_served):
        raise AtError(E_INVALID)
    n = min(_frame, _job[1] - frame * _frame)
    with open(IMAGE, "rb") as f:
        f.seek(frame * _frame)
        data = f.read(n)
    if len(data) != n:
        raise AtError(E_NO_JOB)
    at.write(b"+IOTASTX:%d,%d,%d," % (frame, n, crc.ccitt(data)) + binascii.hexlify(data).upper() + b"\r\n")
    if not _served[frame]:
        _served[frame] = 1
        _left -= 1
        if _left == 0:
            at.urc(b"+IOTAEOT\r\n")
            _progress(100)
