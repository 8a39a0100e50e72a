"""Secrets never reach a log line, a message or a file: every secret the run holds is registered here, and
every log record and error message passes through `redact`.

Leak tests search the raw, base64 and XML-escaped forms, so those are redacted too.
"""

from __future__ import annotations

import base64
import logging
import threading
from html import escape

REDACTED = "[redacted]"
_lock = threading.Lock()
_secrets: set[str] = set()
MIN_LENGTH = 6  # shorter strings would redact ordinary words


def register(*secrets: str | None) -> None:
    with _lock:
        for secret in secrets:
            if secret and len(secret) >= MIN_LENGTH:
                _secrets.update({secret, base64.b64encode(secret.encode()).decode(), escape(secret)})


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
