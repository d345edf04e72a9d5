"""Certificates and keys in esp-at's user partitions (client_cert, client_key, client_ca, server_*),
written there with AT+SYSFLASH: one each, DER or PEM; and the CA of the clouds' endpoints (boardcfg.CLOUD_CA)."""
import boardcfg
import esp32
from net import transport

USER_PARTITION = 0x40  # esp-at's at_customize partition type


def read(label):
    """The certificate or key in user partition ``label`` (written with AT+SYSFLASH): DER, whose length
    its header gives, or PEM up to its END line; None when the partition is erased or absent."""
    found = esp32.Partition.find(USER_PARTITION, label=label)
    if not found:
        return None
    buf = bytearray(min(found[0].info()[3], 4096))
    found[0].readblocks(0, buf)
    if buf[0] == 0x30:  # a DER SEQUENCE
        n = buf[1]
        size = 2 + n if n < 0x80 else 2 + (n & 0x7F) + int.from_bytes(bytes(buf[2 : 2 + (n & 0x7F)]), "big")
        return bytes(buf[:size]) if size <= len(buf) else None
    end = buf.find(b"-----END")
    if end < 0:
        return None
    return bytes(buf[: buf.find(b"-----", end + 8) + 5])


def client_context(verify, present):
    """A TLS client context from the client_* partitions: ``verify`` the server with client_ca,
    ``present`` client_cert and client_key. None when a partition it needs holds nothing."""
    ca = read("client_ca") if verify else None
    cert = (read("client_cert"), read("client_key")) if present else None
    if (verify and ca is None) or (cert is not None and None in cert):
        return None
    return transport.tls_context(ca, cert)


def cloud_context(cert=None):
    """A TLS client context for the clouds' endpoints (Aliyun, Tencent): the server must chain to a
    certificate in the file boardcfg.CLOUD_CA names (the vendors' roots on the chip, the emulator's --ca on
    the host; PEM with one or more, or one DER) and carry the host name open_tcp checks. ``cert``:
    (certificate, key) to present. Nothing is verified when CLOUD_CA is empty; None when its file cannot be
    read or holds no valid certificate. Verification on the chip needs the RTC set."""
    if not boardcfg.CLOUD_CA:
        return transport.tls_context(None, cert)
    try:
        with open(boardcfg.CLOUD_CA, "rb") as f:
            certs = _certificates(f.read())
        if not certs:
            return None
        ctx = transport.tls_context(certs[0], cert)
        for more in certs[1:]:
            ctx.load_verify_locations(cadata=transport.der(more))  # each call adds to the trusted chain
        return ctx
    except (OSError, ValueError) as e:
        print("upy-at: cloud CA %s: %r" % (boardcfg.CLOUD_CA, e))
        return None


def _certificates(data):
    """The certificates of a file: each PEM block (text between them, comments, is left out), or the
    file itself when it is DER."""
    if data[:1] == b"\x30":
        return [data]
    certs = []
    end = 0
    while True:
        begin = data.find(b"-----BEGIN CERTIFICATE-----", end)
        end = data.find(b"-----END CERTIFICATE-----", begin + 1)
        if begin < 0 or end < 0:
            return certs
        certs.append(data[begin:end])  # transport.der reads a block up to its END line
