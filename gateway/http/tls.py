"""HTTPS: `python -m gateway make-cert` makes a self-signed certificate and key (the cryptography
package), and a gateway that listens beyond loopback without a certificate of its own makes one
and serves HTTPS with it (CAMSTREAM_TLS=auto): a password never crosses a network in clear, and
the session cookie is Secure. Browsers warn about such a certificate once; a reverse proxy with a
real certificate is the better setup (docs/security.md), and CAMSTREAM_TLS=off serves plain HTTP
behind it."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.auth.hosts import LOOPBACK_NAMES
from shared.settings import Settings


def _alternative_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_certificate(folder: Path, hosts: list[str], days: int = 825) -> tuple[Path, Path]:
    """Write cert.pem and key.pem (mode 0600) into `folder` for these names and the loopback ones."""
    names = list(dict.fromkeys([*hosts, socket.gethostname(), *LOOPBACK_NAMES[:3]]))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "camstream (self-signed)")])  # fmt: skip
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_alternative_name(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_files(settings: Settings, host: str, make: bool = True) -> tuple[Path, Path] | None:
    """The certificate and key the gateway serves HTTPS with on `host`, or None for plain HTTP:
    CAMSTREAM_TLS_CERT/_KEY when set; else, unless CAMSTREAM_TLS=off or `host` is loopback, the data
    folder's generated pair (made now if missing and `make`)."""
    if settings.tls_cert is not None and settings.tls_key is not None:
        return settings.tls_cert, settings.tls_key
    if settings.tls == "off" or is_loopback(host):
        return None
    folder = settings.data_dir / "tls"
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not (cert.exists() and key.exists()):
        if not make:
            return None
        make_certificate(folder, [])
    return cert, key


def fingerprint(cert_path: Path) -> str:
    """The certificate's SHA-256 fingerprint, as browsers show it (AB:CD:...)."""
    certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return ":".join(f"{b:02X}" for b in certificate.fingerprint(hashes.SHA256()))
