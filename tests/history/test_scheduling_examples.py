"""The scheduling examples in docs/ are real: the workflow parses (PyYAML, a test dependency), the systemd units
pass `systemd-analyze verify` (skipped where it is not installed), the crontab line is valid, and every auditor
command line they hold parses with the real CLI."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main

from auditor.cli import app
from auditor.portfolio import load_portfolio

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"
INSTALLED_AT = "/opt/mailbox-auditor/bin/auditor"


def parses_as_auditor(command: str) -> list[str]:
    """The arguments after `auditor`, checked by the real command's parser (options, types, choices)."""
    words = shlex.split(command)
    start = next(i for i, w in enumerate(words) if w == "auditor" or w.endswith("/auditor"))
    args = words[start + 1:]
    click_app = typer.main.get_command(app)
    sub = click_app.commands[args[0]]  # type: ignore[attr-defined]
    sub.make_context(args[0], args[1:])  # raises on an unknown option or a bad value
    return args


def cron_fields_valid(fields: list[str]) -> bool:
    ranges = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]
    for field, (low, high) in zip(fields, ranges, strict=True):
        for part in field.split(","):
            base, _, step = part.partition("/")
            if step and not step.isdigit():
                return False
            if base == "*":
                continue
            bounds = base.split("-")
            if not all(b.isdigit() and low <= int(b) <= high for b in bounds) or len(bounds) > 2:
                return False
    return True


def test_the_github_workflow_is_scheduled_uploads_the_report_and_fails_on_new_criticals():
    yaml = pytest.importorskip("yaml", reason="PyYAML is a test dependency")
    workflow = yaml.safe_load((EXAMPLES / "audit.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    (schedule,) = triggers["schedule"]
    assert cron_fields_valid(schedule["cron"].split())
    steps = workflow["jobs"]["audit"]["steps"]
    audit = next(s for s in steps if s.get("name") == "Audit")
    args = parses_as_auditor(audit["run"])
    assert args[:1] == ["audit"] and "--fail-on-new" in args
    assert args[args.index("--fail-on") + 1] == "critical"
    assert "secrets.AUDITOR_CLIENT_SECRET" in audit["env"]["AUDITOR_CLIENT_SECRET"]
    out = args[args.index("--out") + 1]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"].rstrip("/") == out
    history = args[args.index("--history") + 1]
    saved = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save@"))
    restored = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore@"))
    assert saved["if"] == "always()" and saved["with"]["path"] == restored["with"]["path"] == history
    assert steps.index(restored) < steps.index(audit) < steps.index(saved)


def _verify(*units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart's program exists: point the unit at a stand-in, nothing else changes.
    stand_in = tmp_path / "auditor"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    service = (EXAMPLES / "mailbox-audit.service").read_text()
    assert service.count(INSTALLED_AT) == 1
    (tmp_path / "mailbox-audit.service").write_text(service.replace(INSTALLED_AT, str(stand_in)))
    shutil.copy(EXAMPLES / "mailbox-audit.timer", tmp_path / "mailbox-audit.timer")
    result = _verify(tmp_path / "mailbox-audit.service", tmp_path / "mailbox-audit.timer")
    ours = [line for line in result.stderr.splitlines() if "mailbox-audit" in line]
    assert result.returncode == 0 and not ours, result.stderr
    # The check is real: a unit with a broken command line is refused.
    (tmp_path / "broken.service").write_text(service.replace(INSTALLED_AT, f'"{stand_in}'))
    assert _verify(tmp_path / "broken.service").returncode != 0

    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    args = parses_as_auditor(exec_start.removeprefix("ExecStart="))
    assert args[0] == "audit" and "--fail-on-new" in args


def test_the_crontab_line_is_valid_and_its_command_parses():
    lines = [line for line in (EXAMPLES / "crontab").read_text().splitlines() if line and not line.startswith("#")]
    (entry,) = lines
    fields = entry.split(None, 5)
    assert cron_fields_valid(fields[:5]), fields[:5]
    command = fields[5]
    assert "%" not in command  # cron turns an unescaped % into a newline
    assert subprocess.run(["sh", "-n", "-c", command], capture_output=True, timeout=10).returncode == 0
    args = parses_as_auditor(command)
    assert args[0] == "audit" and "--fail-on-new" in args


def test_the_portfolio_example_loads():
    portfolio = load_portfolio(EXAMPLES / "portfolio.toml")
    assert [t.folder for t in portfolio.tenants] == ["contoso", "fabrikam", "northwind-traders"]
    assert portfolio.concurrency == 4 and portfolio.tenants[0].secret_env == "CONTOSO_AUDITOR_SECRET"


def test_every_auditor_command_in_the_scheduling_guide_parses():
    text = (DOCS / "scheduling.md").read_text()
    blocks = re.findall(r"```(?:sh|console|bash)\n(.*?)```", text, re.S)
    commands = [line.strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()
                if re.match(r"\s*(\$ )?auditor ", line)]
    assert len(commands) >= 5
    for command in commands:
        parses_as_auditor(command.removeprefix("$ "))
