"""ESP-AT's flash and file commands (seed 004 §3, 2.x): AT+SYSFLASH on esp-at's user partitions, AT+FS in
the file system's ``boardcfg.FS_ROOT``. Apart from cmds/basic.py, which every boot imports: these come with
their first use."""
import os
import esp32
import boardcfg
from at.parser import AtError, num, text, E_INVALID, E_EXEC

_USER_PARTITION = 0x40  # esp-at's at_customize partitions have this custom type
_SECTOR = 4096
_MAX_INPUT = 8192


# ---- flash: user partitions -------------------------------------------------------------------
def q_sysflash(at):
    for part in esp32.Partition.find(_USER_PARTITION):
        ptype, subtype, addr, size, label, _ = part.info()
        at.reply('+SYSFLASH:"%s",%d,%d,0x%x,0x%x' % (label, ptype, subtype, addr, size))


p_sysflash = (num(0, 2), text(16, 1), num(0, 0x7FFFFFFF, True), num(1, 0x7FFFFFFF, True))


def s_sysflash(at, op, label, offset, length):
    found = esp32.Partition.find(_USER_PARTITION, label=label)
    if not found:
        raise AtError(E_INVALID | 1)
    part = found[0]
    size = part.info()[3]
    if op == 0:
        if offset is None and length is None:
            offset, length = 0, size
        if offset is None or length is None or offset % _SECTOR or length % _SECTOR:
            raise AtError(E_INVALID | 2)
        _check_range(offset, length, size)
        for block in range(offset // _SECTOR, (offset + length) // _SECTOR):
            part.ioctl(6, block)
        return None
    if offset is None or length is None:
        raise AtError(E_INVALID | 3)
    _check_range(offset, length, size)
    if op == 2:
        at.write(b"+SYSFLASH:%d," % length)
        _stream(at, length, lambda buf, pos: part.readblocks(pos // _SECTOR, buf, pos % _SECTOR), offset)
        at.write(b"\r\n")
        return None
    return _flash_write(at, part, offset, length)


def _check_range(offset, length, size):
    if offset + length > size:
        raise AtError(E_INVALID | 3)


def _stream(at, length, read_into, pos):
    """Write ``length`` bytes from ``read_into(buf, position)`` to the UART, a buffer at a time."""
    buf = at.buf
    while length:
        n = min(length, len(buf))
        chunk = memoryview(buf)[:n]
        read_into(chunk, pos)
        at.write(chunk)
        pos += n
        length -= n


def _flash_write(at, part, offset, length):
    if length > _MAX_INPUT:
        raise AtError(E_INVALID | 3)
    data = yield from at.receive(length, 10000, b"\r\n>")
    if data is None:
        return False
    try:
        part.writeblocks(offset // _SECTOR, data, offset % _SECTOR)
    except OSError:
        return False
    return None


# ---- files ------------------------------------------------------------------------------------
p_fs = (num(0, 0), num(0, 4), text(64, 1), num(0, 0x7FFFFFFF, True), num(1, 0x7FFFFFFF, True))


def _path(name):
    if "/" in name or "\x00" in name or name == "..":
        raise AtError(E_INVALID | 2)
    return boardcfg.FS_ROOT if name == "." else boardcfg.FS_ROOT + "/" + name


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        raise AtError(E_EXEC)


def s_fs(at, fstype, op, name, offset, length):
    try:
        return _fs(at, op, name, _path(name), offset, length)
    except OSError:
        raise AtError(E_EXEC)


def _fs(at, op, name, path, offset, length):
    if (op == 4) != (name == "."):
        raise AtError(E_INVALID | 2)  # only the root directory can be listed, and only listed
    if op == 4:
        for entry in sorted(os.listdir(path)):
            at.reply("+FS:" + entry)
        return None
    if op == 0:
        _size(path)
        os.remove(path)
        return None
    if op == 3:
        at.reply("+FS:%d" % _size(path))
        return None
    if offset is None or length is None:
        raise AtError(E_INVALID | 3)
    if op == 2:
        length = max(0, min(length, _size(path) - offset))
        with open(path, "rb") as f:
            f.seek(offset)
            at.write(b"+FS:%d," % length)
            _stream(at, length, lambda buf, pos: f.readinto(buf), offset)
        at.write(b"\r\n")
        return None
    return _file_write(at, path, offset, length)


def _file_write(at, path, offset, length):
    try:
        size = os.stat(path)[6]
    except OSError:
        size = 0
    if offset > size or length > _MAX_INPUT:
        raise AtError(E_INVALID | 3)
    data = yield from at.receive(length, 10000, b"\r\n>")
    if data is None:
        return False
    try:
        with open(path, "r+b" if size else "wb") as f:
            f.seek(offset)
            f.write(data)
    except OSError:
        return False
    return None
