"""AES-CBC: ``cryptolib`` on the chip and the MicroPython unix port, the ``cryptography`` package under CPython
(the emulator and tests)."""
from at.compat import MICROPYTHON

_CBC = 2  # cryptolib's mode number for CBC


def cbc_decrypt(key, iv, data):
    """``data`` (a multiple of 16 bytes) decrypted with ``key`` (16, 24 or 32 bytes) and ``iv``; padding,
    which each protocol chooses, is left for the caller to strip."""
    if MICROPYTHON:
        import cryptolib

        return cryptolib.aes(key, _CBC, iv).decrypt(data)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # type: ignore[import-not-found]

    dec = Cipher(algorithms.AES(bytes(key)), modes.CBC(bytes(iv))).decryptor()
    return dec.update(bytes(data)) + dec.finalize()


def cbc_encrypt(key, iv, data):
    """``data`` (a multiple of 16 bytes, padded by the caller) encrypted with ``key`` and ``iv``."""
    if MICROPYTHON:
        import cryptolib

        return cryptolib.aes(key, _CBC, iv).encrypt(data)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # type: ignore[import-not-found]

    enc = Cipher(algorithms.AES(bytes(key)), modes.CBC(bytes(iv))).encryptor()
    return enc.update(bytes(data)) + enc.finalize()
