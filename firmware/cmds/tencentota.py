"""Tencent OTA of the MCU's firmware (seed 001 §4, §5.5; ../shared/reference/cloud-protocols.md §5.3).

AT+TCOTASET=1,"<version>" subscribes to ``$ota/update/<pid>/<dev>`` and reports the version on
``$ota/report/<pid>/<dev>``. When the cloud offers a firmware (``update_firmware`` with url, md5sum,
file_size, version), the module downloads it in the background over HTTP(S), block by block into the free
OTA partition (an image larger than RAM streams to flash), checks its MD5, reports its progress to the
cloud (``report_progress``: downloading, done or fail) and to the MCU (``+TCOTASTATUS:ENTERUPDATE``, then
``UPDATESUCCESS`` or ``UPDATEFAIL,<code>``: -1 download failed or timed out, -2 file not found, -4 MD5
mismatch, -5 too large or the flash failed). The image's version, size and MD5 are saved (one record), so
AT+TCFWINFO? and AT+TCREADFWDATA read it back after a restart, until AT+TCRESTORE or the next download.

The cached image shares the free OTA partition with AT+CIUPDATE (the 4 MB layout has no other room for it).
"""
import binascii
import hashlib
import json
import esp32
from at import replies
from at.parser import AtError, num, text
from at.replies import DONE, OK
from cmds import tencent, tencentmqtt

ERRORS = replies.cme

BLOCK = 4096
READ_MAX = 4096  # AT+TCREADFWDATA's largest read
TIMEOUT_MS = 10000  # connecting, and each read of the download
PROGRESS_STEP = 20  # report the progress every this many percent
E_DOWNLOAD = -1
E_NOT_FOUND = -2
E_MD5 = -4
E_UPGRADE = -5

enabled = 0
version = ""  # the MCU's running version (AT+TCOTASET)
_downloading = False
_offset = 0  # AT+TCREADFWDATA's next byte
_round = 0  # which AT+TCOTASET the offers belong to; a disable ends the download


def active():
    """A download is under way."""
    return _downloading


def _topic(kind):
    from cloud import tencent as cloud  # imported already once MQTT connected (cmds/tencentmqtt.py)

    info = tencentmqtt.device()
    return cloud.ota_topic(kind, info[1], info[2])


def _partition():
    return esp32.Partition(esp32.Partition.RUNNING).get_next_update()  # type: ignore[arg-type]


def cached(at):
    """(version, size, md5 hex) of the saved image, or None."""
    rec = at.store.get_record(tencent.FW_RECORD, 3)
    return None if rec is None else (rec[0].decode(), int(rec[1]), rec[2].decode())


def max_size(at):
    """The largest image: the free OTA partition, and at most AT+TCMODINFOSET's <fw_max_size>."""
    return min(_partition().info()[3], tencent.module(at)[5])


# ---- AT+TCOTASET ---------------------------------------------------------------------------------
def q_tcotaset(at):
    at.reply('+TCOTASET:%d,"%s"' % (enabled, version))


p_tcotaset = (num(0, 1), text(32, 1))


def s_tcotaset(at, ctl, ver):
    global enabled, version, _round
    if _downloading:
        raise AtError(tencent.E_STATE)
    _round += 1
    if not ctl:
        enabled = 0
        if tencentmqtt.device() is not None:
            tencentmqtt.consume(_topic("update").encode(), None)
        return tencent.done(at, "TCOTASET")
    if not tencentmqtt.connected():
        raise AtError(tencent.E_STATE)
    enabled, version = 1, ver
    return replies.ok_then(at, "TCOTASET", _enable(at, _round))


def _enable(at, round_):
    """Generator: take the offers, subscribe, report the version."""
    from cloud import tencent as cloud

    tencentmqtt.consume(_topic("update").encode(), lambda data: _offer(at, round_, data))
    err = yield from tencentmqtt.subscribe(_topic("update"), 1)
    if err is None:
        err = yield from tencentmqtt.publish(_topic("report"), cloud.ota_report_version(version).encode(), 1)
    return err


def _offer(at, round_, data):
    """A message on $ota/update: an ``update_firmware`` offer starts the download."""
    global _downloading
    try:
        msg = json.loads(data)
        if msg.get("type") != "update_firmware" or _downloading or round_ != _round:
            return
        offer = (msg["url"], msg["md5sum"].lower(), int(msg["file_size"]), str(msg["version"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return
    _downloading = True
    at.urc(b"+TCOTASTATUS:ENTERUPDATE\r\n")
    at.spawn(_download(at, round_, offer))


# ---- the download --------------------------------------------------------------------------------
def _report(state, new_version, percent=None, code=0, message=""):
    from cloud import tencent as cloud

    if tencentmqtt.connected():
        try:
            tencentmqtt.link.publish(_topic("report"), cloud.ota_report_progress(state, new_version, percent, code,
                                                                              message).encode(), 0)
        except Exception as e:  # the report is best effort: the download goes on
            print("upy-at: Tencent OTA report: %r" % e)


def _download(at, round_, offer):
    """Task: fetch the offered image into the partition, check it, save its record, tell the MCU and cloud."""
    global _downloading
    url, md5sum, size, new_version = offer
    at.store.erase(tencent.FW_RECORD)  # the old image is overwritten from now on
    try:
        err = yield from _fetch(at, round_, url, md5sum, size, new_version)
    except Exception as e:  # whatever went wrong, the MCU hears of it
        print("upy-at: Tencent OTA: %r" % e)
        err = E_DOWNLOAD
    _downloading = False
    if err is None:
        at.store.put_record(tencent.FW_RECORD, (new_version, size, md5sum))
        _report("done", new_version, None, 0, "success")
        at.urc(b"+TCOTASTATUS:UPDATESUCCESS\r\n")
    else:
        _report("fail", new_version, None, err, "download failed")
        at.urc(b"+TCOTASTATUS:UPDATEFAIL,%d\r\n" % err)


def _fetch(at, round_, url, md5sum, size, new_version):
    """Generator: None, or the failure's code."""
    from net import http, pki  # imported here: only a download needs them

    part = _partition()
    if size <= 0 or size > max_size(at):
        return E_UPGRADE
    ctx = pki.cloud_context() if url.startswith("https://") else None
    try:
        resp = yield from http.get(url, TIMEOUT_MS, ctx)
    except (OSError, ValueError, http.HttpError):
        return E_DOWNLOAD
    try:
        if resp.status == 404:
            return E_NOT_FOUND
        if resp.status != 200:
            return E_DOWNLOAD
        sink = _Sink(part, size, new_version)
        got = yield from resp.stream(sink, sink.buf)
    except (OSError, http.HttpError):
        return E_DOWNLOAD
    except ValueError:
        return E_UPGRADE
    finally:
        resp.close()
    if round_ != _round or got != size:
        return E_DOWNLOAD
    if binascii.hexlify(sink.md5.digest()).decode() != md5sum:
        return E_MD5
    return None


class _Sink:
    """Takes the body in 4 KiB pieces: each goes to one block of the partition and into the MD5."""

    def __init__(self, part, size, new_version):
        self.part = part
        self.size = size
        self.version = new_version
        self.buf = bytearray(BLOCK)
        self.md5 = hashlib.md5()
        self.block = 0
        self.step = 0

    def __call__(self, mv):
        n = len(mv)
        if self.block * BLOCK + n > self.size:
            raise ValueError("longer than announced")
        self.md5.update(mv)
        if n < BLOCK:
            self.buf[n:] = b"\xff" * (BLOCK - n)
        self.part.writeblocks(self.block, self.buf)  # erases the block, then writes it
        self.block += 1
        percent = min(100, self.block * BLOCK * 100 // self.size)
        if percent >= self.step:
            _report("downloading", self.version, percent)
            self.step = percent - percent % PROGRESS_STEP + PROGRESS_STEP


# ---- reading the image back ----------------------------------------------------------------------
def q_tcfwinfo(at):
    """§4.2: OK, then +TCFWINFO:"<version>",<size>,"<md5>",<largest image> (as Tencent's module: OK
    first); the read offset starts again at 0."""
    global _offset
    info = _image(at)
    _offset = 0
    at.write(OK)
    at.reply('+TCFWINFO:"%s",%d,"%s",%d' % (info + (max_size(at),)))
    return DONE


def _image(at):
    if _downloading:
        raise AtError(tencent.E_STATE)
    info = cached(at)
    if info is None:
        raise AtError(tencent.E_NO_FIRMWARE)
    return info


p_tcreadfwdata = (num(1, READ_MAX),)


def s_tcreadfwdata(at, n):
    """§4.3: OK, then +TCREADFWDATA:<n>,<n raw bytes> from the offset, which moves on; fewer than asked at
    the end of the image, an error once it was reached (AT+TCFWINFO? starts again)."""
    global _offset
    size = _image(at)[1]
    if _offset >= size:
        raise AtError(tencent.E_EXEC)
    n = min(n, size - _offset)
    head = b"+TCREADFWDATA:%d," % n
    h = len(head)
    buf = at.buf  # the engine's data-input buffer is free while this command runs: one write, no allocation
    buf[:h] = head
    _partition().readblocks(_offset // BLOCK, memoryview(buf)[h : h + n], _offset % BLOCK)
    buf[h + n : h + n + 2] = b"\r\n"
    _offset += n
    at.write(OK)
    at.write_buf(h + n + 2)
    return DONE
