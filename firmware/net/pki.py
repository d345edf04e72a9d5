"""Certificates and keys in esp-at's user partitions (client_cert, client_key, client_ca, server_*),
written there with AT+SYSFLASH: one each, DER or PEM."""
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
