"""`[auth] ca_bundle`, checked when the run is configured: a file that holds no PEM certificate would otherwise
surface as "TLS verification failed ... set [auth] ca_bundle", although it is set."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from auditor.errors import ConfigError

MAX_BUNDLE_BYTES = 16 * 1024 * 1024
"""A CA bundle is a few hundred kilobytes (the Mozilla store is about 200 KB); more is not a bundle."""


def check_ca_bundle(value: str) -> None:
    """Refuse, naming the file, a ca_bundle that is missing, unreadable, or holds no PEM certificate."""
    if not value:
        return  # the operating system's store
    path = Path(value)
    where = f"[auth] ca_bundle: {value}"
    if not path.exists():
        raise ConfigError(f"{where}: no such file (a PEM file of the CAs to trust)")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_BUNDLE_BYTES // 2**20} MB, not a CA bundle")
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise ConfigError(f"{where}: holds no certificate (a PEM file of the CAs to trust, "
                          "with -----BEGIN CERTIFICATE----- blocks)")
