"""One-line causes for PowerShell remoting failures, and hints for Exchange's own sign-in refusals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

from auditor.collect.bounds import ResponseTooLarge, RunStopped
from auditor.collect.tls import tls_failure

if TYPE_CHECKING:
    from auditor.collect.psrp import PsrpSettings


def describe_transport_error(exc: BaseException, s: PsrpSettings) -> str:
    """What went wrong reaching the host, in one line naming it (never a secret: the caller redacts)."""
    host = f"{s.server}:{s.port}"
    text = " ".join(str(exc).split())
    if isinstance(exc, AuthenticationError):
        who = "the jump host" if s.connect == "jump-host" else "the Exchange endpoint"
        return f"{who} rejected the credentials for {s.username or '(no user)'} (HTTP 401) at {s.endpoint}"
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_failure(host, exc)
    if isinstance(exc, RunStopped | ResponseTooLarge):
        return f"{s.endpoint}: {text}"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{s.endpoint} did not answer in time ({type(exc).__name__})"
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError):
        if "refused" in text.lower():
            return f"cannot connect to {host}: connection refused"
        if "name or service not known" in text.lower() or "getaddrinfo" in text.lower():
            return f"cannot connect to {host}: the name does not resolve"
        return f"cannot connect to {host}: {text[:200]}"
    if isinstance(exc, WSManFaultError):
        reason = " ".join(str(exc.reason or exc.message or "").split())
        return f"WSMan fault {exc.code} from {host}: {reason}"
    if isinstance(exc, WinRMTransportError):
        body = " ".join((exc.response_text or "").split())[:200]
        return f"HTTP {exc.code} from {s.endpoint}: {body or 'no body'}"
    return f"PowerShell remoting to {host} failed: {type(exc).__name__}: {text[:200]}"


def connect_hint(message: str) -> str:
    """Exchange's own words, plus what the auditor's app is missing when they point at its permissions.

    https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2"""
    text = message.lower()
    if "role assigned to application" in text or "isn't supported in this scenario" in text:
        return message + " (the auditor's app needs Exchange.ManageAsApp and a role such as Global Reader)"
    return message
