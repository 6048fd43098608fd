"""A room hub's own TLS certificate (docs/deploy.md, "A hub for one room"; docs/protocol.md,
"The room's network").

A hall has no certificate authority and often no name for the laptop: the room hub makes a
self-signed certificate on its first start and keeps it in its data folder (the key readable by
the hub's user only), so that its fingerprint stays the same from one meeting to the next.
Tablets do not check it against an authority: they pin its SHA-256 fingerprint, which reaches
them in the enrollment QR (`pin=`). A sniffer on the room's Wi-Fi then sees only TLS; a
man-in-the-middle with any other certificate is refused by every tablet.
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .settings import private_dir

TLS_DIR = "tls"
CERT_FILE = "room-cert.pem"
KEY_FILE = "room-key.pem"
VALID_DAYS = 10 * 366       # the laptop's certificate outlives it: the pin never has to change


@dataclass(frozen=True)
class RoomCertificate:
    cert: Path
    key: Path
    pin: str                # the SHA-256 of the certificate (DER), 64 lowercase hex digits


def certificate_pin(cert_pem: str | bytes) -> str:
    """The SHA-256 fingerprint of a PEM certificate, as the QR's `pin` carries it (lowercase
    hex, what urllib3's assert_fingerprint checks)."""
    text = cert_pem.decode() if isinstance(cert_pem, bytes) else cert_pem
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(text)).hexdigest()


def typed_pin(pin: str) -> str:
    """The fingerprint as people read and type it: 16 groups of 4 hex digits."""
    return " ".join(pin[i:i + 4].upper() for i in range(0, len(pin), 4))


def room_certificate(data_dir: Path, hosts: Iterable[str] = ()) -> RoomCertificate:
    """The room hub's certificate and key in `data_dir`/tls, made on the first call (an EC
    P-256 key, 0600, and a self-signed certificate naming `hosts`); later calls return the
    same ones, whatever the room's address is that day (tablets pin the certificate, not the
    address)."""
    folder = private_dir(Path(data_dir) / TLS_DIR)
    cert, key = folder / CERT_FILE, folder / KEY_FILE
    if not (cert.is_file() and key.is_file()):
        _make(cert, key, list(hosts))
    return RoomCertificate(cert, key, certificate_pin(cert.read_text(encoding="ascii")))


def _make(cert: Path, key: Path, hosts: list[str]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in dict.fromkeys([*hosts, "127.0.0.1"]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if host and host not in ("0.0.0.0", "::", "localhost"):
                names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Piazzetta room hub")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(private, hashes.SHA256()))
    key_bytes = private.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    # The key first, readable by the hub's user only (never wider, even for a moment), then
    # the certificate: a start cut in between makes both again.
    for path, data, mode in ((key, key_bytes, 0o600),
                             (cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644)):
        partial = path.with_suffix(".part")
        partial.unlink(missing_ok=True)
        fd = os.open(str(partial), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, path)
