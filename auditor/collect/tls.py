"""TLS, decided once for every client of a run (msal and requests for sign-in and Graph, pypsrp for the jump
host, requests for Exchange's REST endpoint): whom to trust, and how a refused certificate is told to the user.
"""

from __future__ import annotations

import re

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
