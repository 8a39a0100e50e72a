"""Secrets never reach a log line, a message or a file: every secret the run holds is registered here, and
every log record and error message passes through `redact`. The one place secrets are removed: collectors that
hold a secret of their own (a jump host password, a bearer token) pass it to `redact` as well.

Leak tests search the raw, base64 and XML-escaped forms, so those are redacted too. Every registered secret is
redacted whatever its length: a short password is still a password, and a message that loses a few ordinary
characters to it is a smaller harm than one that shows it.

The HTTP and PowerShell client libraries log whole requests at DEBUG (pypsrp even the base64 fragments carrying
`-AccessToken`): `quiet_client_loggers` keeps them at WARNING whatever -v says.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterable
from html import escape

REDACTED = "[redacted]"
CLIENT_LOGGERS = ("msal", "urllib3", "requests", "requests_credssp", "pypsrp", "psrpcore", "spnego")
_lock = threading.Lock()
_secrets: set[str] = set()


def register(*secrets: str | None) -> None:
    with _lock:
        _secrets.update(form for secret in secrets if secret for form in _forms(secret))


def redact(text: str, also: Iterable[str | None] = ()) -> str:
    """`text` without any registered secret, nor any of `also` (secrets a caller holds but did not register)."""
    with _lock:
        secrets = set(_secrets)
    secrets.update(form for secret in also if secret for form in _forms(secret))
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _forms(secret: str) -> tuple[str, ...]:
    return secret, base64.b64encode(secret.encode()).decode(), escape(secret)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def quiet_client_loggers() -> None:
    """Raise the client libraries' loggers to WARNING (never lower one a caller set higher)."""
    for name in CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
