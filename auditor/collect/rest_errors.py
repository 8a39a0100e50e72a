"""Reading the InvokeCommand endpoint's error bodies (undocumented; the shape below is what the module gets).

    {"error": {"code": "NotFound", "message": "Error executing cmdlet",
               "details": [{"code": "Client", "target": "", "message": "Ex6F9304|Microsoft.Exchange.Configuration.
                            Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because
                            object 'x' couldn't be found on '...'."}],
               "innererror": {"message": "...", "type": "...", "internalexception": {"message": "...", "type": "..."}},
               "@adminapi.warnings": []}}

`error.message` is generic; the cmdlet's own message is the last `|` segment of each `details[].message`, and the
segments before it (error id, exception type) play the part of PSRP's FullyQualifiedErrorId. Without details the
inner exception's message is the best one (CIPP's parser reads them in that order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from auditor.collect.shell import one_line


@dataclass(frozen=True)
class RestError:
    """One cmdlet error read from an error body: its message and its `ExNNNN|<exception type>` prefix."""

    message: str
    fq_error: str

    @property
    def not_found(self) -> bool:
        return "ManagementObjectNotFound" in self.fq_error or "couldn't be found" in self.message


def _get(mapping: Any, key: str) -> Any:
    """A key of a JSON object, case-insensitively (`internalException` and `internalexception` are both seen)."""
    if not isinstance(mapping, dict):
        return None
    return next((v for k, v in mapping.items() if str(k).lower() == key.lower()), None)


def cmdlet_errors(body: Any) -> list[RestError]:
    """The cmdlet errors an error body carries; empty when it carries none (a gateway's 503 page, say)."""
    error = _get(body, "error")
    found: list[RestError] = []
    for detail in _get(error, "details") or ():
        message = _get(detail, "message")
        if isinstance(message, str) and message.strip():
            parts = message.split("|", 2)
            found.append(RestError(one_line(parts[-1]), "|".join(parts[:-1]) if len(parts) > 1 else ""))
    if found:
        return found
    inner = _get(_get(_get(error, "innererror"), "internalexception"), "message")
    if isinstance(inner, str) and inner.strip():
        return [RestError(one_line(inner), str(_get(_get(_get(error, "innererror"), "internalexception"), "type")
                                               or ""))]
    return []


def error_message(body: Any) -> str:
    """The most specific message of an error body, or ''."""
    errors = cmdlet_errors(body)
    if errors:
        return errors[0].message
    message = _get(_get(body, "error"), "message")
    return one_line(message) if isinstance(message, str) else ""


def describe_refusal(status: int, body: Any, url: str) -> str:
    """401/403: the token was not accepted (wrong audience, other tenant, no Exchange.ManageAsApp ...)."""
    code = _get(_get(body, "error"), "code")
    message = error_message(body)
    hint = ("the auditor's app needs the Office 365 Exchange Online application permission Exchange.ManageAsApp "
            "(admin-consented) and an Exchange role such as Global Reader" if status == 403 else
            "the token must be for [auth] exchange_resource (https://outlook.office365.com) in this tenant")
    return (f"the Exchange REST endpoint {url} refused the access token (HTTP {status}"
            + (f" {code}" if isinstance(code, str) and code else "") + ")"
            + (f": {message}" if message else "") + f" ({hint})")


def connection_detail(exc: BaseException) -> str:
    """Why a connection failed, in a few words."""
    text = " ".join(str(exc).split())
    if isinstance(exc, requests.exceptions.Timeout):
        return f"no answer in time ({type(exc).__name__})"
    if "refused" in text.lower():
        return "connection refused"
    return text[:200]
