"""The emulator's certificate authority and loopback server certificate: throwaway (made at each start, in a
private temporary directory) or kept in a state directory across restarts."""

from __future__ import annotations

import ipaddress
import os
import pathlib
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class CertPaths:
    """Files written by :func:`generate_certificates` (all PEM)."""

    directory: pathlib.Path
    ca_path: pathlib.Path
    cert_path: pathlib.Path
    key_path: pathlib.Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Auditor tenant emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def generate_certificates(
    directory: pathlib.Path | None = None, *, validity: timedelta = timedelta(days=30)
) -> CertPaths:
    """Create a CA and a server certificate for 127.0.0.1 and localhost signed by it.

    EC P-256 keeps generation in the milliseconds. The server's private key never leaves
    ``directory`` (a fresh private temp dir by default); the CA's key is not kept at all.
    """
    if directory is None:
        folder = pathlib.Path(tempfile.mkdtemp(prefix="auditor-emulator-"))
    else:
        folder = pathlib.Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
    start = datetime.now(UTC) - timedelta(minutes=5)
    ca_key, ca_cert = _new_ca(start, validity)
    paths = CertPaths(folder, folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    paths.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _issue_server(paths, ca_key, ca_cert, start, validity)
    return paths


STATE_CA_VALIDITY = timedelta(days=3650)
STATE_SERVER_VALIDITY = timedelta(days=365)


def kept_certificates(directory: pathlib.Path) -> CertPaths:
    """The CA and server certificate kept in a state directory (`auditor emulator --state-dir`), made on first
    use: a baseline's ca_bundle stays valid across restarts. The CA key is kept (0600) so a server certificate
    close to expiry is re-issued by the same CA."""
    ca_key_path = directory / "ca-key.pem"
    paths = CertPaths(directory, directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    start = datetime.now(UTC) - timedelta(minutes=5)
    if paths.ca_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(paths.ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    else:
        ca_key, ca_cert = _new_ca(start, STATE_CA_VALIDITY)
        write_private_key(ca_key_path, ca_key)
        paths.ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        paths.cert_path.unlink(missing_ok=True)
    if not _still_valid(paths, ca_cert):
        _issue_server(paths, ca_key, ca_cert, start, STATE_SERVER_VALIDITY)
    return paths


def _still_valid(paths: CertPaths, ca_cert: x509.Certificate) -> bool:
    if not paths.cert_path.exists() or not paths.key_path.exists():
        return False
    cert = x509.load_pem_x509_certificate(paths.cert_path.read_bytes())
    return cert.issuer == ca_cert.subject and cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1)


def write_private_key(path: pathlib.Path, key: ec.EllipticCurvePrivateKey) -> None:
    """Created 0600 (never readable by others, not even for a moment), replacing any older file."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))


def _new_ca(start: datetime, validity: timedelta) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Auditor emulator CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca_cert


def _issue_server(paths: CertPaths, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate,
                  start: datetime, validity: timedelta) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + validity, ca_cert.not_valid_after_utc))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private_key(paths.key_path, key)
    paths.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
