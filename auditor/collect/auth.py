"""The auditor's own identity: credentials (never printed) and msal client-credential tokens.

Secrets come from the environment (AUDITOR_CLIENT_SECRET, else AZURE_CLIENT_SECRET) or a certificate file,
never from the command line or the baseline.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msal
import msal.exceptions
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from auditor.collect.tls import tls_failure
from auditor.errors import CollectionError, ConfigError
from auditor.models.baseline import AuthConfig
from auditor.redact import redact, register

SECRET_VARIABLES = ("AUDITOR_CLIENT_SECRET", "AZURE_CLIENT_SECRET")

# AADSTS codes worth a plain-words explanation: https://learn.microsoft.com/entra/identity-platform/reference-error-codes
AADSTS_CAUSES = {
    7000215: "the client secret is wrong",
    7000222: "the client secret has expired",
    700016: "the app id is not registered in this tenant",
    700027: "the certificate does not match the one registered for the app",
    7000112: "the app is disabled",
    90002: "the tenant does not exist",
    70011: "the scope is invalid",
    500011: "the resource is not in the tenant",
}


@dataclass(frozen=True)
class Credentials:
    """Client id plus exactly one of: a secret, or a private key with its certificate."""

    client_id: str
    secret: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    certificate_pem: str | None = field(default=None, repr=False)
    key_passphrase: str | None = field(default=None, repr=False)

    def msal_credential(self) -> Any:
        if self.secret is not None:
            return self.secret
        assert self.private_key_pem and self.certificate_pem
        # The key and its certificate, no thumbprint: msal (1.35.0 and later) then signs PS256 with an x5t#S256
        # header. The {private_key, thumbprint} form is SHA-1 and deprecated in msal (docs/microsoft-facts.md).
        credential = {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}
        if self.key_passphrase:
            credential["passphrase"] = self.key_passphrase
        return credential

    def secrets(self) -> list[str]:
        """Every secret string this object holds, for redaction and leak tests."""
        return [s for s in (self.secret, self.private_key_pem, self.key_passphrase) if s]


def credentials_from_environment(auth: AuthConfig, origin: str, environ: dict[str, str] | None = None) -> Credentials:
    env = os.environ if environ is None else environ
    if not auth.client_id:
        raise ConfigError(f"{origin}: auth.client_id: is required for a live run (the auditor's own app)")
    if auth.certificate:
        path = Path(auth.certificate)
        try:
            pem = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{origin}: auth.certificate: cannot read {path}: {exc.strerror}") from None
        passphrase = env.get(auth.certificate_password_env) if auth.certificate_password_env else None
        key_start = pem.find("-----BEGIN")
        if "PRIVATE KEY-----" not in pem or "CERTIFICATE-----" not in pem or key_start < 0:
            raise ConfigError(f"{origin}: auth.certificate: {path} must hold a PEM private key and its certificate")
        try:
            key = serialization.load_pem_private_key(pem.encode(), passphrase.encode() if passphrase else None)
            x509.load_pem_x509_certificate(pem[pem.index("-----BEGIN CERTIFICATE-----"):].encode())
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{origin}: auth.certificate: {path}: {exc}") from None
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        cert_pem = pem[pem.index("-----BEGIN CERTIFICATE-----"):]
        return Credentials(auth.client_id, private_key_pem=key_pem, certificate_pem=cert_pem)
    for name in SECRET_VARIABLES:
        if env.get(name):
            return Credentials(auth.client_id, secret=env[name])
    raise ConfigError(f"no credential for the auditor's app {auth.client_id}: set AUDITOR_CLIENT_SECRET "
                      f"(or AZURE_CLIENT_SECRET), or auth.certificate in {origin}")


KNOWN_AUTHORITY_HOSTS = frozenset({"login.microsoftonline.com", "login.microsoftonline.us",
                                   "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"})


def is_known_cloud(authority: str) -> bool:
    """msal asks Microsoft's instance discovery about any other host; the emulator must not be asked about."""
    host = authority.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return host in KNOWN_AUTHORITY_HOSTS


class TokenSource:
    """msal ConfidentialClientApplication sharing the run's requests.Session; tokens cached per scope."""

    def __init__(self, credentials: Credentials, authority: str, session: requests.Session,
                 known_cloud: bool = True) -> None:
        self.credentials = credentials
        self._lock = threading.Lock()
        try:
            self.app = msal.ConfidentialClientApplication(
                credentials.client_id, client_credential=credentials.msal_credential(), authority=authority,
                http_client=session, instance_discovery=None if known_cloud else False)
        except ValueError as exc:
            # msal's constructor discovers the authority; an unknown tenant fails here (AADSTS90002).
            raise CollectionError(f"sign-in failed: {authority} is not a tenant the authority knows "
                                  f"({_clean(str(exc), credentials)})") from None
        except requests.exceptions.SSLError as exc:
            raise CollectionError(f"sign-in failed: {tls_failure(authority, exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise CollectionError(f"sign-in failed: cannot reach {authority}: {_clean(str(exc), credentials)}") \
                from None
        except msal.exceptions.MsalError as exc:  # e.g. discovery answered 5xx: MsalServiceError
            raise CollectionError(f"sign-in failed: {authority} refused the discovery request: "
                                  f"{_clean(str(exc), credentials)}") from None
        except (KeyError, TypeError, AttributeError, RecursionError) as exc:  # an answer not in OIDC's shape
            raise CollectionError(f"sign-in failed: the answer of {authority} could not be read "
                                  f"({type(exc).__name__})") from None

    def token(self, scope: str) -> str:
        with self._lock:
            try:
                result = self.app.acquire_token_for_client(scopes=[scope])
            except requests.exceptions.SSLError as exc:
                raise CollectionError(f"sign-in failed: {tls_failure('the token endpoint', exc)}") from None
            except requests.exceptions.RequestException as exc:
                raise CollectionError(f"sign-in failed: cannot reach the token endpoint: "
                                      f"{_clean(str(exc), self.credentials)}") from None
            except msal.exceptions.MsalError as exc:
                raise CollectionError(f"sign-in failed: the token endpoint refused the request: "
                                      f"{_clean(str(exc), self.credentials)}") from None
            except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:
                raise CollectionError(f"sign-in failed: the token endpoint's answer could not be read "
                                      f"({type(exc).__name__})") from None
        if "access_token" in result:
            token = str(result["access_token"])
            register(token)
            return token
        codes = result.get("error_codes") or []
        cause = next((AADSTS_CAUSES[c] for c in codes if c in AADSTS_CAUSES), None)
        code = f"AADSTS{codes[0]}" if codes else str(result.get("error", "unknown error"))
        detail = cause or _clean(str(result.get("error_description", "")).split("\n")[0], self.credentials)
        raise CollectionError(f"sign-in as {self.credentials.client_id} for {scope} failed: {detail} ({code})")


def _clean(text: str, credentials: Credentials) -> str:
    return " ".join(redact(text, credentials.secrets()).split())[:300]
