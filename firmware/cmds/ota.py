"""AT+CIUPDATE (seed 004 §5.2.22): update the module's own firmware over Wi-Fi.

The server is the board's (boardcfg.OTA_URL for <ota_mode> 0, plain HTTP; boardcfg.OTA_SSL_URL for 1,
HTTPS, verified with boardcfg.OTA_CA when one is set; the host board reads them from $AT_OTA_URL,
$AT_OTA_SSL_URL, $AT_OTA_CA). It is a folder of static files under that base URL, so any web server works:

    <base>/version                        the version AT+CIUPDATE installs: one line of text
    <base>/<version>/firmware.bin         the application image (ESP-IDF's app binary: micropython.bin)
    <base>/<version>/firmware.bin.sha256  its SHA-256: 64 hex digits first (`sha256sum`'s output will do)

A version is 1-32 letters, digits and ``._+-``. The steps the module reports:

    +CIPUPDATE:1   the server answered (connected)
    +CIPUPDATE:2   asking for the version        } not when AT+CIUPDATE=<ota_mode>,<version>
    +CIPUPDATE:3   the version is known          } names the version
    +CIPUPDATE:4   the image is downloading into the next OTA partition

The image streams into that partition in 4 KiB blocks (it is larger than RAM). It must fit the partition
and start with the ESP32 image magic 0xE9; then the SHA-256 of what the flash holds must match. Only then
does the partition become the boot partition: OK, and the module restarts into the new firmware. Any failure
(no network or server, HTTP error, timeout, too big, bad magic, bad hash) answers ERROR and leaves the boot
partition as it was; a partly written image has its first block erased, so nothing can boot it.
"""
import binascii
import esp32
import hashlib
import boardcfg
from at.engine import DONE
from at.parser import AtError, num, text, E_EXEC, E_INVALID
from cmds import wifi
from net import http, transport

BLOCK = 4096
MAGIC = 0xE9  # the first byte of an ESP32 app image
VERSION_MAX = 32
_VERSION_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-"


def valid_version(v):
    return 0 < len(v) <= VERSION_MAX and all(c in _VERSION_CHARS for c in v)


def e_ciupdate(at):
    return s_ciupdate(at, 0, None)


p_ciupdate = (num(0, 1), text(VERSION_MAX, 1, True))


def s_ciupdate(at, mode, version):
    """AT+CIUPDATE=<ota_mode>[,<version>]: 0 over HTTP, 1 over HTTPS."""
    if version is not None and not valid_version(version):
        raise AtError(E_INVALID)
    base = boardcfg.OTA_SSL_URL if mode else boardcfg.OTA_URL
    if not base or base.startswith("https://") != bool(mode) or not wifi.sta.isconnected():
        raise AtError(E_EXEC)  # no server for this mode, or no network
    return _update(at, base.rstrip("/"), mode, version)


def _update(at, base, mode, version):
    written = None
    try:
        timeout = boardcfg.OTA_TIMEOUT_MS
        ctx = _tls() if mode else None
        path = http.parse_url(base)[3].rstrip("/")
        running = esp32.Partition(esp32.Partition.RUNNING)  # type: ignore[arg-type]  # the stubs say str only
        target = running.get_next_update()
        conn = yield from http.connect(base, timeout, ctx)
        at.reply("+CIPUPDATE:1")
        if version is None:
            at.reply("+CIPUPDATE:2")
            text = yield from _text(conn, path + "/version")
            version = text.split()[0] if text.split() else ""
            if not valid_version(version):
                raise ValueError("bad version %r" % version)
            at.reply("+CIPUPDATE:3")
            conn = yield from http.connect(base, timeout, ctx)
        image = "%s/%s/firmware.bin" % (path, version)
        text = yield from _text(conn, image + ".sha256")
        digest = binascii.unhexlify(text.split()[0] if text.split() else "")
        if len(digest) != 32:
            raise ValueError("bad SHA-256")
        conn = yield from http.connect(base, timeout, ctx)
        resp = yield from _get(conn, image)
        try:
            writer = _Writer(target)
            if resp.length is not None and resp.length > writer.size:
                raise ValueError("image larger than the partition")
            at.reply("+CIPUPDATE:4")
            written = target
            size = yield from resp.stream(writer, writer.buf)
        finally:
            resp.close()
        if not size:
            raise ValueError("empty image")
        yield from _verify(target, size, digest)
        target.set_boot()
    except Exception as e:  # OSError, ValueError, HttpError, MemoryError ...: whatever it was, clean up
        print("upy-at: AT+CIUPDATE failed: %r" % (e,))
        if written is not None:
            try:
                written.ioctl(6, 0)  # erase the first block: a partial image must not look bootable
            except OSError:
                pass
        return False
    print("upy-at: AT+CIUPDATE: %d bytes of version %s in %s; restarting" % (size, version, target.info()[4]))
    at.write(b"\r\nOK\r\n")
    at.restart()
    return DONE


def _tls():
    """The HTTPS context: verifies the server when boardcfg.OTA_CA names a CA certificate file."""
    cadata = None
    if boardcfg.OTA_CA:
        with open(boardcfg.OTA_CA, "rb") as f:
            cadata = f.read()
    return transport.tls_context(cadata)


def _get(conn, path):
    """Generator: GET ``path`` on a fresh connection; the Response, which must be 200 OK."""
    try:
        resp = yield from conn.get(path)
    except Exception:
        conn.close()
        raise
    if resp.status != 200:
        resp.close()
        raise http.HttpError("%s: HTTP %d" % (path, resp.status))
    return resp


def _text(conn, path):
    """Generator: the small text body of ``path`` (the version, the SHA-256) as str."""
    resp = yield from _get(conn, path)
    try:
        body = yield from resp.read(256)
    finally:
        resp.close()
    return body.decode()


class _Writer:
    """Receives the image in 4 KiB pieces (the last one shorter) and writes each into a block of ``part``."""

    def __init__(self, part):
        self.part = part
        self.size = part.info()[3]
        self.buf = bytearray(BLOCK)
        self.block = 0

    def __call__(self, mv):
        n = len(mv)
        if self.block == 0 and mv[0] != MAGIC:
            raise ValueError("not an ESP32 image")
        if self.block * BLOCK + n > self.size:
            raise ValueError("image larger than the partition")
        if n < BLOCK:
            self.buf[n:] = b"\xff" * (BLOCK - n)  # as erased flash reads; the block is written whole
        self.part.writeblocks(self.block, self.buf)  # erases, then writes
        self.block += 1


def _verify(part, size, digest):
    """Generator: read the image back from flash; ValueError unless its SHA-256 is ``digest``."""
    h = hashlib.sha256()
    buf = bytearray(BLOCK)
    mv = memoryview(buf)
    block = 0
    while block * BLOCK < size:
        n = min(BLOCK, size - block * BLOCK)
        part.readblocks(block, mv[:n])
        h.update(mv[:n])
        block += 1
        yield 0
    if h.digest() != digest:
        raise ValueError("SHA-256 mismatch")
