"""One redaction for the whole run: every registered secret, whatever its length, with one marker; and the
client libraries' loggers (which log whole requests) held at WARNING by one list."""

from __future__ import annotations

import base64
import logging

import pytest

from auditor.console import Console
from auditor.redact import CLIENT_LOGGERS, REDACTED, redact, register


def test_a_short_secret_is_redacted_in_messages_and_log_lines(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "q7#Z"  # a four-character jump host password is still a password
    register(secret)
    assert redact(f"Connect as svc-audit with {secret} refused") == f"Connect as svc-audit with {REDACTED} refused"
    encoded = base64.b64encode(secret.encode()).decode()
    assert secret not in redact(f"<creds>{encoded}</creds>") and encoded not in redact(f"<creds>{encoded}</creds>")
    with Console(quiet=True, verbose=1):
        logging.getLogger("auditor.collect").info("jump host password %s", secret)
    err = capsys.readouterr().err
    assert "jump host password [redacted]" in err and secret not in err


def test_a_secret_only_the_caller_holds_is_redacted_with_the_same_marker() -> None:
    token = "eyJ0eXAiOiJKV1QiLCJub25jZSI6InNob3J0In0"
    assert redact(f"Authorization: Bearer {token}", also=[token, None, ""]) == f"Authorization: Bearer {REDACTED}"
    assert redact("nothing to hide", also=[""]) == "nothing to hide"


def test_the_client_loggers_stay_at_warning_whatever_verbose_says() -> None:
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    with Console(quiet=True, verbose=2):
        assert all(logging.getLogger(name).level == logging.WARNING for name in CLIENT_LOGGERS)
