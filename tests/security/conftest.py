"""Helpers for the security suite: the CLI in-process, live audits against an in-process emulator, every place a
secret could land, and the encodings it could land in. The figures are printed after the run."""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from auditor.cli import main
from auditor.collect.auth import TokenSource
from auditor.demo import DEMO_BASELINE, DEMO_TENANT, baseline_toml, running_emulator
from auditor.emulator.server import EmulatorServer

FIGURES: Counter[str] = Counter()
LIBRARY_LOGGERS = ("pypsrp", "psrpcore", "urllib3", "requests", "msal", "spnego", "requests_credssp")
DEMO = json.loads(DEMO_TENANT.read_text(encoding="utf-8"))
CLIENT_SECRET = DEMO["emulator"]["clients"][0]["secret"]
JUMP_PASSWORD = DEMO["emulator"]["jumpHost"]["password"]


def run_cli(*args: str) -> tuple[int, str, str]:
    """`auditor ARGS` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def issued_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bearer token msal hands the auditor during the test (Graph and Exchange alike)."""
    tokens: list[str] = []
    real = TokenSource.token

    def recording(self: TokenSource, scope: str) -> str:
        token = real(self, scope)
        tokens.append(token)
        return token

    monkeypatch.setattr(TokenSource, "token", recording)
    return tokens


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every log record at DEBUG, the client libraries' included (the product keeps those at WARNING
    whatever -v says; whatever they do emit is searched)."""
    caplog.set_level(logging.DEBUG)
    for name in LIBRARY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@contextlib.contextmanager
def live_baseline(tmp_path: Path, tenant: Path = DEMO_TENANT,
                  edit: Callable[[str, EmulatorServer], str] | None = None) -> Iterator[tuple[Path, EmulatorServer]]:
    """An in-process emulator and a baseline for `auditor audit` aimed at it (the demo baseline's intent)."""
    with running_emulator(tenant) as server:
        text = baseline_toml(server) + "\n[policy]" + DEMO_BASELINE.read_text(encoding="utf-8").split("[policy]", 1)[1]
        path = tmp_path / "live.toml"
        path.write_text(edit(text, server) if edit else text, encoding="utf-8")
        yield path, server


def leak_forms(secret: str) -> set[str]:
    """The ways a secret can sit in text: raw, JSON-, XML/HTML- and URL-escaped, and base64 (standard and URL-safe,
    of its UTF-8 and UTF-16 bytes, at each of the three alignments it can take inside a longer base64 stream:
    PSRP fragments carry `-AccessToken` that way). A JWT's signature is searched on its own, since a truncated
    token still leaks it."""
    forms = {secret, json.dumps(secret)[1:-1], html.escape(secret), html.escape(secret, quote=False),
             secret.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;"),
             quote(secret, safe=""), quote_plus(secret)}
    if secret.count(".") == 2 and len(secret) > 100:
        forms.add(secret.rsplit(".", 1)[1])
    for encoding in ("utf-8", "utf-16-le"):
        raw = secret.encode(encoding)
        for shift in range(3):
            data = b"\0" * shift + raw
            whole = base64.b64encode(data[: len(data) // 3 * 3]).decode()
            inner = whole[4:] if shift else whole  # the first group mixes in bytes before the secret
            if len(inner) >= 16:
                forms |= {inner, inner.replace("+", "-").replace("/", "_")}
    return {form for form in forms if len(form) >= 8}


def texts_of(folder: Path) -> dict[str, str]:
    """Every file under `folder`, as text; SQLite files (the history) as their rows."""
    found: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found[str(path)] = data.decode("utf-8", errors="replace") + data.decode("utf-16-le", errors="replace")
        if data.startswith(b"SQLite format 3"):
            with contextlib.closing(sqlite3.connect(path)) as db:
                tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                rows = [repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
            found[f"{path} (rows)"] = "\n".join(rows)
    return found


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Each record's final message and its exception text, if any."""
    lines = []
    for record in caplog.records:
        lines.append(f"{record.name} {record.levelname} {record.getMessage()}")
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(lines)


def assert_no_leak(secrets: dict[str, str], texts: dict[str, str], *, tally: bool = True) -> None:
    """No form of any secret in any text; every search counts towards the figures (unless `tally` is off)."""
    assert secrets and texts
    leaks = []
    searches = 0
    for label, secret in secrets.items():
        for form in leak_forms(secret):
            for where, text in texts.items():
                searches += 1
                if form in text:
                    leaks.append((label, where))
    if tally:
        FIGURES["searches"] += searches
        FIGURES["leaks"] += len(leaks)
    assert not leaks, leaks


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES["searches"]:
        terminalreporter.write_line(f"secret-leak searches: {FIGURES['searches']} run over {FIGURES['texts']} texts "
                                    f"({FIGURES['secrets']} secrets), {FIGURES['leaks']} leaks found")
    if FIGURES["injection_values"]:
        terminalreporter.write_line(f"injection: {FIGURES['injection_values']} hostile values through "
                                    f"{FIGURES['injection_outputs']} outputs, shown as text in all")
