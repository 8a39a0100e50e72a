"""What the CLI prints is text: control characters are shown as escapes on every stream it writes to, and a
crash leaves its traceback in a private, redacted, uniquely named file."""

from __future__ import annotations

import io
import json
import os
import stat
import tempfile
from pathlib import Path

import pytest

import auditor.catalog_doc
from auditor.redact import register
from auditor.terminal import SafeStream, guarded_streams, printable

from .conftest import FIGURES, run_cli


@pytest.mark.parametrize(("raw", "shown"), [
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
    ("a\rb", "a\\x0db"),
    ("\x9b31m", "\\x9b31m"),
    ("\x7f\x00", "\\x7f\\x00"),
    ("\u202eexe.txt", "\\u202eexe.txt"),
    ("\u2066isolate\u2069", "\\u2066isolate\\u2069"),
    ("lone \ud800", "lone \\ud800"),
])
def test_control_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_ordinary_text_is_left_alone() -> None:
    text = "Zoë's mailbox\tsupport@contoso.com\n😀 日本語 Ω ‘quoted’ — done\n"
    assert printable(text) == text


def test_the_guarded_streams_escape_and_keep_terminal_facts() -> None:
    inner = io.StringIO()
    stream = SafeStream(inner)
    stream.write("x\x1b[2Jy\n")
    assert inner.getvalue() == "x\\x1b[2Jy\n"
    assert stream.rich_proxied_file is inner and stream.isatty() is False
    with pytest.raises(TypeError):  # click probes for a binary stream this way
        stream.write(b"")  # type: ignore[arg-type]
    with guarded_streams():
        import sys

        assert isinstance(sys.stdout, SafeStream) and isinstance(sys.stderr, SafeStream)
    assert not isinstance(sys.stdout, SafeStream)


@pytest.fixture
def crashing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """`auditor checks` raising an unexpected exception whose message carries a registered secret."""
    secret = "crash-secret-7f3a9b2c"
    register(secret)

    def boom(fmt: str) -> str:
        raise RuntimeError(f"unexpected: token {secret} \x1b[31m")

    monkeypatch.setattr(auditor.catalog_doc, "render_catalog", boom)
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_crash_is_one_line_and_a_private_redacted_log(crashing: Path) -> None:
    (crashing / "auditor-crash.log").symlink_to(crashing / "victim")  # the old fixed name, planted
    codes, logs = [], []
    for _ in range(2):
        code, _, err = run_cli("checks")
        codes.append(code)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("auditor: internal error (RuntimeError); traceback in ")
        logs.append(Path(lines[0].split("traceback in ", 1)[1].split(";", 1)[0]))
    assert codes == [4, 4] and logs[0] != logs[1] and not (crashing / "victim").exists()
    for log in logs:
        assert log.parent == crashing and stat.S_IMODE(os.stat(log).st_mode) == 0o600
        text = log.read_text(encoding="utf-8")
        assert "RuntimeError: unexpected: token [redacted]" in text and "crash-secret-7f3a9b2c" not in text


LINE_BREAKERS = ["\n", "\r\n", "\u2028", "\u2029", "\u0085", "\x0b", "\x0c"]


@pytest.mark.parametrize("breaker", LINE_BREAKERS, ids=["LF", "CRLF", "LS", "PS", "NEL", "VT", "FF"])
def test_a_tenant_value_cannot_forge_a_line_in_diff_output(breaker: str, tmp_path: Path) -> None:
    """A resource or message holding a line break stays on its entry's line in `auditor diff`: no forged
    "RESOLVED" entry appears, and each entry is exactly one line."""
    from auditor.models.findings import Finding, Severity, Status
    from tests.history.support import document

    forged = f"support@contoso.com{breaker}RESOLVED FAIL -> absent  critical SCOPE-001    Contact Center: x: fixed"

    def write(name: str, *findings: Finding) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(document(*findings).to_dict()), encoding="utf-8")
        return path

    new = Finding(check_id="SCOPE-004", title="t", severity=Severity.HIGH, status=Status.FAIL,
                  integration=f"Contact{breaker}Center", resource=forged, message=f"reachable{breaker}RESOLVED x")
    code, out, err = run_cli("diff", str(write("old.json")), str(write("new.json", new)), "--out",
                             str(tmp_path / "diff.json"))
    assert code == 0, err
    lines = out.splitlines()
    assert [line.split()[0] for line in lines[2:-1]] == ["NEW"], out
    assert not any(line.startswith("RESOLVED") for line in lines) and "1 new, 0 resolved" in out
    assert all(sep not in out for sep in ("\u2028", "\u2029", "\u0085", "\x0b", "\x0c", "\r"))
    FIGURES["injection_values"] += 1
    FIGURES["injection_outputs"] += 1


@pytest.mark.parametrize("breaker", LINE_BREAKERS, ids=["LF", "CRLF", "LS", "PS", "NEL", "VT", "FF"])
def test_a_tenant_name_cannot_forge_a_row_in_the_history_listing(breaker: str, tmp_path: Path) -> None:
    import sqlite3

    from auditor.history.store import HistoryStore
    from tests.history.support import document

    path = tmp_path / "h.sqlite"
    doc = document()
    forged = f"Contoso{breaker}99   2030-01-01T00:00:00Z  Fabrikam  b.toml  0  0  0  0  0  0  0  0  0  0"
    HistoryStore(path).record(doc)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE runs SET tenant_name = ?", (forged,))
    code, out, err = run_cli("history", "--history", str(path))
    assert code == 0, err
    assert len(out.splitlines()) == 2 and not any(line.startswith("99") for line in out.splitlines()), out
    FIGURES["injection_values"] += 1
    FIGURES["injection_outputs"] += 1
