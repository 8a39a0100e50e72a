"""The fault matrix runs `auditor demo --faults SPEC` in-process, as a user would, with the retry waits shrunk.

The waits are the only thing changed: the emulator's clock is pinned (so two runs give byte-identical evidence),
Graph retries back off from 10 ms within a 3 s budget, PSRP pipelines retry after 10, 20 and 40 ms. Counts and
limits are the product's own. The figures (scenarios run, ended correctly) are printed after the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import auditor.demo
from auditor.cli import main
from auditor.collect.http import RetryPolicy
from auditor.collect.psrp import PsrpSettings

FAST_RETRY = RetryPolicy(max_attempts=RetryPolicy().max_attempts, max_total_wait_s=3.0, base_backoff_s=0.01)
FAST_PSRP_BACKOFF = (0.01, 0.02, 0.04)
REPORTS = ("snapshot.json", "findings.json", "findings.csv", "report.html", "junit.xml")
FIGURES: Counter[str] = Counter()
# The realism profile (docs/emulator.md) farthest from the defaults: what the fault matrix and the end-to-end
# tests also run under, so their verdicts are shown not to depend on the undocumented Exchange forms.
REALISTIC = ("scopeIdentityGuid=entra_object_id,mailboxId=mailbox_sid,roleAssigneeTypeFilter=non_terminating_error,"
             "noPolicies=error")
# The emulator's clock for every run of the matrix, a few minutes back: "days left" on a credential is then the
# same whole number in every run (a run in the very second of the clock would see one more day).
CLOCK = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


@dataclasses.dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    folder: Path

    def findings(self) -> list[dict[str, Any]]:
        return json.loads((self.folder / "findings.json").read_text(encoding="utf-8"))["findings"]

    def snapshot(self) -> dict[str, Any]:
        return json.loads((self.folder / "snapshot.json").read_text(encoding="utf-8"))


def run_cli(*args: str) -> tuple[int, str, str]:
    """`auditor ARGS` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    apply_fast_waits(monkeypatch)


def apply_fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the emulator clock and shrink the retry waits of the demo's collection (nothing else changes)."""
    real_running, real_settings = auditor.demo.running_emulator, auditor.demo.emulator_settings
    real_psrp = PsrpSettings.from_baseline.__func__  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def pinned(tenant_file: Path, faults: Any = None, port: int = 0, now: Any = None, **more: Any) -> Iterator[Any]:
        with real_running(tenant_file, faults, port=port, now=now or CLOCK, **more) as server:
            yield server

    def quick_settings(server: Any) -> Any:
        return dataclasses.replace(real_settings(server), retry=FAST_RETRY)

    def quick_psrp(cls: type[PsrpSettings], *args: Any, **kwargs: Any) -> PsrpSettings:
        return dataclasses.replace(real_psrp(cls, *args, **kwargs), backoff_s=FAST_PSRP_BACKOFF)

    monkeypatch.setattr(auditor.demo, "running_emulator", pinned)
    monkeypatch.setattr(auditor.demo, "emulator_settings", quick_settings)
    monkeypatch.setattr(PsrpSettings, "from_baseline", classmethod(quick_psrp))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES["scenarios"]:
        terminalreporter.write_line(
            f"fault matrix: {FIGURES['scenarios']} scenarios run, {FIGURES['correct']} ended correctly "
            f"(heavy faults recovered in {FIGURES['heavy_recovered']}; "
            f"{FIGURES['verdicts_on_partial_evidence']} verdicts reached on partial evidence, all confirmed by "
            f"the clean run; slowest {FIGURES['slowest_ms'] / 1000:.1f} s)")
    if FIGURES["hostile_cases"]:
        terminalreporter.write_line(
            f"hostile peers and signals: {FIGURES['hostile_cases']} cases tried, {FIGURES['hostile_held']} held "
            "(each ended by itself within its bound, as an ERROR or the documented exit code)")
