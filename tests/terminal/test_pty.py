"""The real `auditor demo` on a pseudo-terminal: the progress display's own colours and cursor moves reach the
terminal as escape sequences (not as the literal text `\\x1b[32m`), while a tenant value holding escape
sequences still arrives escaped. Piped output never showed the first bug: only a terminal makes rich draw."""

from __future__ import annotations

import copy
import json
import os
import pty
import re
import select
import sys
import time
from pathlib import Path

import pytest

from auditor.demo import DEMO_TENANT

HOSTILE_NAME = "\x1b]0;pwned\x07\x1b[31mMail Reporting\x1b[0m"
MAIL_REPORTING = "ffffffff-0000-4000-8000-000000000012"
# What rich may draw: SGR colours, erase line, cursor up, cursor show/hide.
OWN_SEQUENCES = re.compile(rb"\x1b\[(?:[0-9;]*m|2K|1A|\?25[lh])")


def run_on_pty(args: list[str], timeout: float = 90.0) -> tuple[int, bytes]:
    """`python -m auditor.cli ARGS`-equivalent on a pseudo-terminal: (exit code, every byte the terminal got)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal
        os.environ.update({"COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"})
        os.environ.pop("NO_COLOR", None)
        os.execv(sys.executable, [sys.executable, "-c", "from auditor.cli import main; main()", *args])
    screen, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), screen


def tenant_file(folder: Path, with_mail_read: bool) -> Path:
    doc = copy.deepcopy(json.loads(DEMO_TENANT.read_text(encoding="utf-8")))
    graph = doc["graph"]
    sp = next(s for s in graph["servicePrincipals"] if s["appId"] == MAIL_REPORTING)
    sp["displayName"] = HOSTILE_NAME
    if not with_mail_read:
        graph["appRoleAssignments"] = [a for a in graph["appRoleAssignments"] if a["principalId"] != sp["id"]]
    path = folder / f"tenant-{with_mail_read}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_progress_draws_and_tenant_values_stay_escaped(tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite"
    runs = []
    for with_mail_read in (False, True):
        args = ["demo", "--tenant", str(tenant_file(tmp_path, with_mail_read)), "--out", str(tmp_path / "out"),
                "--history", str(history)]
        runs.append(run_on_pty(args))
    (first_code, first), (code, screen) = runs
    assert first_code == 1 and code == 1, screen.decode("utf-8", "replace")[-2000:]
    escaped_name = "\\x1b]0;pwned\\x07\\x1b[31mMail Reporting\\x1b[0m"
    for shown in (first, screen):
        text = shown.decode("utf-8").replace(escaped_name, "")
        # rich drew on the terminal: its spinner and the green tick arrived as real escape sequences
        assert b"\x1b[32m\xe2\x9c\x93\x1b[0m Microsoft Graph:" in shown
        assert OWN_SEQUENCES.search(shown)
        # and none of our own sequences arrived as literal text
        assert "\\x1b" not in text and "\\x0d" not in text and "\\\\x1b" not in text
    # The second run lists the new finding (TEN-001 for the app now holding Mail.Read) with its hostile name as
    # text: the terminal got no OSC title sequence, no red, only the escaped form.
    text = screen.decode("utf-8")
    new = [line for line in text.splitlines() if " NEW " in line and "TEN-001" in line]
    assert len(new) == 1, text[-3000:]
    assert escaped_name in new[0]
    assert b"\x1b]0;" not in screen and b"\x07" not in screen and b"\x1b[31m" not in screen
    # every escape sequence the terminal received is one rich draws
    assert OWN_SEQUENCES.sub(b"", screen).count(b"\x1b") == 0


@pytest.mark.parametrize("quiet", [True])
def test_quiet_on_a_terminal_draws_nothing(tmp_path: Path, quiet: bool) -> None:
    code, screen = run_on_pty(["demo", "--out", str(tmp_path / "out"), "--no-history", "--quiet"])
    assert code == 1 and b"\x1b" not in screen and b"findings (" in screen
