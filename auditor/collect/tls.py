"""TLS, decided once for every client of a run (msal and requests for sign-in and Graph, pypsrp for the jump
host, requests for Exchange's REST endpoint): whom to trust, and how a refused certificate is told to the user.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography import x509

from auditor.errors import ConfigError

HINT = "(set [auth] ca_bundle if a proxy inspects TLS)"
_VERIFY_FAILED = re.compile(r"certificate verify failed: (.{1,200}?)\.?\s*(?:\(_ssl|'\)|$)")


def verification(ca_bundle: str, verify_tls: bool = True) -> str | bool:
    """What requests (`verify`) and pypsrp (`cert_validation`) are given: the PEM bundle of [auth] ca_bundle, else
    True (the system's CAs). Off only when the user passed --insecure-skip-tls-verify (`verify_tls` False)."""
    if not verify_tls:
        return verify_tls
    return ca_bundle or True


def tls_failure(where: str, exc: BaseException) -> str:
    """One line for a certificate the client refused: "TLS verification of HOST failed: certificate verify
    failed: REASON (hint)". The SSLError is wrapped several times by urllib3 and requests; only the reason
    counts."""
    text = " ".join(str(exc).split())
    match = _VERIFY_FAILED.search(text)
    reason = f"certificate verify failed: {match.group(1).strip()}" if match else text[:200]
    return f"TLS verification of {where} failed: {reason} {HINT}"


# A bundle that is set but holds no certificate would otherwise surface as "TLS verification failed ... set
# [auth] ca_bundle", although it is set: it is checked when the run is configured, before any request.
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
